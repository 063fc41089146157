"""bot.mail.replies: telling auto-replies from people, and reading only what the person wrote.

Each reply sample in tests/emails/ answers the bot's prompt, whose quoted original holds lines
like "OD-01: " and "OD-02: 12 (last value)". If a quoted line survived, the bot would store last
month's value as a new submission, so every sample is checked both ways: every answer line the
owner typed survives, and nothing of the quoted original does.
"""

from email import message_from_binary_file, message_from_bytes, message_from_string, policy
from email.message import EmailMessage
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from bot.mail.replies import (
    auto_reply_reason,
    html_to_text,
    reply_text,
    sender_address,
    strip_quoted,
)

EMAILS = Path(__file__).parent / "emails"
BOT = "pmbot@example.org"


def load(name: str) -> EmailMessage:
    with open(EMAILS / name, "rb") as file:
        return message_from_binary_file(file, policy=policy.default)


def message(headers: str, body: str = "") -> EmailMessage:
    """A message from header lines ("Name: value" per line) and a plain-text body."""
    return message_from_string(headers.strip() + "\n\n" + body, policy=policy.default)


# --------------------------------------------------------------------------- reply samples

# Every line the owner typed, in order (blank lines left out).
REPLIES = {
    "reply_outlook_desktop.eml": [
        "Hi,",
        "OD-01: 48 backlog down after recruitment",
        "OD-02: 9",
        "Thanks",
        "Jane",
    ],
    "reply_original_message.eml": ["OD-01: 47", "OD-02: 11 one complaint reopened"],
    "reply_outlook_mac.eml": ["OD-01: 50", "OD-02: 12 unchanged"],
    "reply_gmail_wrapped.eml": ["OD-01: 46", "OD-02: 10"],
    "reply_apple_mail.eml": ["OD-01: 49", "OD-02: 8", "Jane"],
    "reply_outlook_german.eml": ["OD-01: 48 Rückstand abgebaut", "OD-02: 9", "Viele Grüße", "Jana"],
    "reply_iphone.eml": ["OD-01: 51 two staff off sick", "OD-02: 12"],
    "reply_outlook_ios.eml": ["OD-01: 47", "OD-02: 10"],
    "reply_hyphen_list.eml": ["Figures below:", "- OD-01: 40 new triage process", "- OD-02: 7"],
    "reply_html_outlook_web.eml": ["OD-01: 44 agency staff helped", "OD-02: 9"],
    "reply_html_outlook_desktop.eml": [
        "OD-01: 48 backlog down after recruitment",
        "OD-02: 9",
        "Jane",
    ],
    "reply_html_gmail.eml": ["OD-01: 45", "OD-02: 11 one late complaint", "Jane"],
    "reply_html_apple.eml": ["OD-01: 43", "OD-02: 10"],
    "reply_multipart_alternative.eml": ["OD-01: 42 steady", "OD-02: 10"],
    "reply_windows_1252.eml": ["OD-01: 48 – agency spend £12k lower", "OD-02: 9 we’re on track"],
    "reply_latin1_8bit.eml": ["OD-01: 46 – overtime cost £3,400", "OD-02: 10 it’s steady"],
    "reply_bogus_charset.eml": ["OD-01: 45 saved £2k", "OD-02: 11"],
    "reply_from_my_side.eml": ["From: my side, October went well.", "OD-01: 42", "OD-02: 8"],
    "reply_thunderbird_flowed.eml": [
        "OD-01: 48 backlog down after recruitment of three caseworkers in September and October",
        "OD-02: 9",
    ],
    "reply_bottom_posted.eml": ["OD-01: 39 fewer new cases", "OD-02: 12 no change", "Jane"],
    "reply_hotmail_stopspelling.eml": ["OD-01: 41 after the new rota", "OD-02: 9", "Jane"],
    "reply_mailru_blockquote.eml": ["OD-01: 44", "OD-02: 10 stable"],
    "reply_yandex_blockquote.eml": ["OD-01: 43", "OD-02: 11"],
    "reply_windows_mail.eml": ["OD-01: 45", "OD-02: 8 fewer complaints"],
    "reply_zoho.eml": ["OD-01: 47", "OD-02: 9", "Regards,", "Jane"],
    "reply_gmail_wrapped_4_lines.eml": ["OD-01: 46", "OD-02: 10"],
    "reply_bold_original_message.eml": ["OD-01: 48", "OD-02: 9"],
    "reply_indented_quote.eml": ["OD-01: 52", "OD-02: 10"],
    "reply_lotus_notes.eml": [
        "OD-01: 49",
        "OD-02: 11 one reopened",
        "Jane Smith",
        "Operations support",
    ],
    "reply_wrote_without_date.eml": ["OD-01: 50", "OD-02: 12 unchanged"],
    "human_auto_submitted_no.eml": ["OD-01: 48", "OD-02: 9"],
    "human_auto_response_suppress.eml": ["OD-01: 48", "OD-02: 9"],
}

# Text that only the quoted original (prompt, header block, attribution, mobile tag) contains.
QUOTED = [
    "Hello Jane",
    "Your figures for October",
    "Reply to this email",
    "A short comment",
    "(last value)",
    "Average processing time",
    "Complaints upheld",
    "Thank you",
    "PM Bot",
    "pmbot@example.org",
    "wrote:",
    "Sent:",
    "Gesendet:",
    "Subject:",
    "Original Message",
    "____",
    "Sent from my",
    "Get Outlook",
    "Head of Operations",
]


def answer_lines(text: str) -> list[str]:
    return [line for line in text.split("\n") if line.strip()]


def test_every_sample_file_is_tested():
    samples = {path.name for path in EMAILS.glob("*.eml")}
    assert {name for name in samples if not name.startswith("auto_")} == set(REPLIES)
    assert {name for name in samples if name.startswith("auto_")} == set(AUTOMATIC)


@pytest.mark.parametrize("name, expected", REPLIES.items())
def test_reply_text_keeps_every_line_the_owner_typed(name, expected):
    assert answer_lines(reply_text(load(name))) == expected


@pytest.mark.parametrize("name", REPLIES)
def test_no_line_of_the_quoted_original_survives(name):
    text = reply_text(load(name))
    for line in answer_lines(text):
        assert line.strip() not in ("OD-01:", "OD-02: 12 (last value)")
        assert not line.lstrip().startswith(">")
    assert [marker for marker in QUOTED if marker in text] == []


def test_plain_text_is_preferred_to_html():
    msg = EmailMessage()
    msg["From"] = "jane.smith@example.org"
    msg.set_content("OD-01: 41 from the text part\n")
    msg.add_alternative("<p>OD-01: 99 from the html part</p>", subtype="html")
    assert reply_text(msg) == "OD-01: 41 from the text part"


def test_an_empty_text_part_falls_back_to_the_html_part():
    msg = EmailMessage()
    msg.set_content("\n\n")
    msg.add_alternative("<div>OD-01: 41</div><div class=gmail_quote>OD-01:</div>", subtype="html")
    assert reply_text(msg) == "OD-01: 41"


def test_a_reply_that_is_all_quote_gives_empty_text():
    msg = message("From: jane@example.org", "> OD-01:\n> OD-02: 12 (last value)\n")
    assert reply_text(msg) == ""


def test_a_message_without_body_gives_empty_text():
    assert reply_text(message("From: jane@example.org")) == ""


# ---------------------------------------------------------------------------- auto-replies

AUTOMATIC = {
    "auto_vacation_auto_replied.eml": "auto-reply (Auto-Submitted: auto-replied)",
    "auto_ticket_auto_generated.eml": "auto-reply (Auto-Submitted: auto-generated)",
    "auto_x_autoreply.eml": "auto-reply (X-Autoreply: yes)",
    "auto_precedence_bulk.eml": "bulk mail (Precedence: bulk)",
    "auto_exchange_oof.eml": "auto-reply (Auto-Submitted: auto-generated)",
    "auto_abwesenheitsnotiz.eml": (
        "out-of-office (Subject: Abwesenheitsnotiz: Performance figures for October 2026)"
    ),
    "auto_bounce.eml": "bounce (multipart/report)",
    "auto_mailing_list.eml": (
        "mailing list (List-Id: Performance leads <performance.lists.example.org>)"
    ),
    "auto_own_message.eml": "sent by pmbot itself (pmbot@example.org)",
}


@pytest.mark.parametrize("name, reason", AUTOMATIC.items())
def test_automatic_mail_is_ignored_with_a_reason(name, reason):
    assert auto_reply_reason(load(name), BOT) == reason


@pytest.mark.parametrize("name", REPLIES)
def test_replies_from_people_are_not_ignored(name):
    assert auto_reply_reason(load(name), BOT) is None


def test_x_auto_response_suppress_alone_does_not_ignore_a_person():
    # Outlook sets it on some mail people write; it asks us not to auto-answer, nothing more.
    msg = load("human_auto_response_suppress.eml")
    assert msg["X-Auto-Response-Suppress"] == "All"
    assert auto_reply_reason(msg, BOT) is None


def test_exchange_out_of_office_is_caught_by_its_subject_alone():
    msg = load("auto_exchange_oof.eml")
    del msg["Auto-Submitted"]
    assert auto_reply_reason(msg, BOT) == (
        "out-of-office (Subject: Automatic reply: Performance figures for October 2026)"
    )


@pytest.mark.parametrize(
    "subject",
    [
        "Automatic reply: Performance figures",
        "Auto-Reply: away",
        "AutoReply",
        "Auto Response: Performance figures",
        "Out of Office: Performance figures",
        "Out of the office until Monday",
        "Automatische Antwort: Performance figures",
        "Abwesenheitsnotiz: Performance figures",
        "Réponse automatique : Performance figures",
        "Respuesta automática: Performance figures",
    ],
)
def test_out_of_office_subjects(subject):
    reason = auto_reply_reason(message(f"From: jane@example.org\nSubject: {subject}"), BOT)
    assert reason == f"out-of-office (Subject: {subject})"


@pytest.mark.parametrize(
    "subject",
    [
        "Undeliverable: Performance figures",
        "Undelivered Mail Returned to Sender",
        "Delivery Status Notification (Failure)",
        "Mail delivery failed: returning message to sender",
        "Unzustellbar: Performance figures",
    ],
)
def test_bounce_subjects(subject):
    reason = auto_reply_reason(message(f"From: jane@example.org\nSubject: {subject}"), BOT)
    assert reason == f"bounce (Subject: {subject})"


@pytest.mark.parametrize(
    "subject",
    [
        "RE: Performance figures for October 2026",
        "AW: Performance figures for October 2026",
        "RE: Automatic reply: Performance figures",  # a person answering an OOF
        "Re: Out of office cover for OD-01",
        "",
    ],
)
def test_subjects_people_write_are_not_ignored(subject):
    assert auto_reply_reason(message(f"From: jane@example.org\nSubject: {subject}"), BOT) is None


@pytest.mark.parametrize(
    "headers, reason",
    [
        ("From: jane@example.org\nReturn-Path: <>", "bounce (Return-Path: <>)"),
        ("From: postmaster@example.org", "bounce (from postmaster@example.org)"),
        ("From: jane@example.org\nPrecedence: junk", "bulk mail (Precedence: junk)"),
        ("From: jane@example.org\nPrecedence: auto_reply", "auto-reply (Precedence: auto_reply)"),
        ("From: jane@example.org\nX-Autorespond: yes", "auto-reply (X-Autorespond: yes)"),
        (
            "From: jane@example.org\nList-Unsubscribe: <mailto:leave@example.org>",
            "mailing list (List-Unsubscribe: <mailto:leave@example.org>)",
        ),
        ("From: jane@example.org\nX-PMBot: confirmation", "sent by pmbot itself (X-PMBot)"),
        (
            "From: jane@example.org\nAuto-Submitted: auto-notified; owner-email=x@example.org",
            "auto-reply (Auto-Submitted: auto-notified)",
        ),
    ],
)
def test_each_header_rule(headers, reason):
    assert auto_reply_reason(message(headers), BOT) == reason


def test_human_headers_are_not_ignored():
    msg = message("From: jane@example.org\nReturn-Path: <jane@example.org>\nPrecedence: normal")
    assert auto_reply_reason(msg, BOT) is None


def test_the_bot_address_may_carry_a_display_name_and_any_case():
    msg = message("From: PM Bot <PMBot@Example.ORG>\nSubject: Performance figures")
    assert auto_reply_reason(msg, "PM Bot <pmbot@example.org>") == (
        "sent by pmbot itself (pmbot@example.org)"
    )


# ------------------------------------------------------------------------------ the sender


def test_reply_to_never_decides_who_sent_a_message():
    msg = message("From: Jane <Jane@Example.org>\nReply-To: Ops Team <Ops.Team@Example.org>")
    assert sender_address(msg) == "jane@example.org"


def test_sender_with_an_encoded_display_name():
    msg = message("From: =?utf-8?q?J=C3=BCrgen_M=C3=BCller?= <Juergen.Mueller@Example.de>")
    assert sender_address(msg) == "juergen.mueller@example.de"


@pytest.mark.parametrize("headers", ["Subject: no sender", "From: not an address", "From: <>"])
def test_sender_is_empty_when_missing_or_unparseable(headers):
    assert sender_address(message(headers)) == ""


# ---------------------------------------------------------------------------- strip_quoted


def test_a_line_starting_from_is_not_a_header_block():
    text = "From: my side, all fine.\nTo: be confirmed: OD-03 next month\nOD-01: 42\n"
    assert strip_quoted(text) == text.strip()


def test_a_header_block_after_the_answers_is_cut():
    text = (
        "From: my side, fine.\nOD-01: 42\n\nFrom: Bot\nSent: Monday\nTo: Jane\nSubject: x\nOD-01:"
    )
    assert strip_quoted(text) == "From: my side, fine.\nOD-01: 42"


def test_a_bold_header_block_from_an_html_conversion_is_cut():
    text = "OD-01: 42\n\n*From:* PM Bot\n*Sent:* Monday\n*To:* Jane\n\nOD-01:"
    assert strip_quoted(text) == "OD-01: 42"


def test_hyphen_and_bullet_lists_are_kept():
    text = "- OD-01: 40\n- OD-02: 7 fewer cases\n* OD-03: 1\n\nOn 1 Nov 2026, Bot wrote:\n> x"
    assert strip_quoted(text) == "- OD-01: 40\n- OD-02: 7 fewer cases\n* OD-03: 1"


def test_signature_block_is_cut():
    assert strip_quoted("OD-01: 40\n-- \nJane Smith\n01234 567890") == "OD-01: 40"


@pytest.mark.parametrize(
    "attribution",
    [
        "On Mon, 3 Nov 2026 at 09:12, PM Bot <pmbot@example.org> wrote:",
        "On Mon, 3 Nov 2026 at 09:12, PM Bot <\npmbot@example.org> wrote:",
        "Am Mo., 3. Nov. 2026 um 09:12 Uhr schrieb PM Bot <pmbot@example.org>:",
        "Le lun. 3 nov. 2026 à 09:12, PM Bot <pmbot@example.org> a écrit :",
        "El lun, 3 nov 2026 a las 09:12, PM Bot (<pmbot@example.org>) escribió:",
    ],
)
def test_attributions_in_several_languages(attribution):
    quoted = f"OD-01: 40\n\n{attribution}\n\n> OD-01:\n"
    unmarked = f"OD-01: 40\n\n{attribution}\nOD-01:\n"  # an HTML quote converted to text
    assert strip_quoted(quoted) == "OD-01: 40"
    assert strip_quoted(unmarked) == "OD-01: 40"


@pytest.mark.parametrize(
    "separator",
    [
        "-----Original Message-----",
        "-----Ursprüngliche Nachricht-----",
        "---- Forwarded message ----",
    ],
)
def test_original_message_separators(separator):
    assert strip_quoted(f"OD-01: 40\r\n\r\n{separator}\r\nOD-01:\r\n") == "OD-01: 40"


def test_answers_typed_between_quoted_lines_are_kept():
    text = "> OD-01:\nOD-01: 40\n> OD-02: 12 (last value)\nOD-02: 12 same"
    assert strip_quoted(text) == "OD-01: 40\nOD-02: 12 same"


def test_old_mac_line_endings():
    assert strip_quoted("OD-01: 40\r\r> OD-01:\r") == "OD-01: 40"


def test_mobile_signatures_in_other_languages():
    text = (
        "OD-01: 40\n\nVon meinem iPhone gesendet\nEnvoyé de mon iPhone\nSent from Mail for Windows"
    )
    assert strip_quoted(text) == "OD-01: 40"


def test_a_long_line_starting_sent_from_is_kept():
    text = "Sent from my team's tracker after the October reconciliation: OD-01: 40 confirmed"
    assert strip_quoted(text) == text


# ---------------------------------------------------------------------------- html_to_text


def test_html_to_text_drops_head_style_and_script():
    html = "<head><title>t</title><style>p{x}</style></head><script>var a;</script><p>OD-01: 4</p>"
    assert html_to_text(html) == "OD-01: 4"


def test_html_to_text_decodes_entities_and_nbsp():
    assert html_to_text("<p>OD-01:&nbsp;4&nbsp;&amp;&#32;&pound;5 &lt;ok&gt;</p>") == (
        "OD-01: 4 & £5 <ok>"
    )


def test_html_to_text_block_elements_become_lines():
    html = "<div>a<br>b</div><p>c</p><ul><li>d</li><li>e</li></ul><blockquote>f</blockquote><hr>g"
    # a blockquote's lines are marked as quoted, as a plain-text reply would mark them
    assert html_to_text(html) == "a\nb\nc\nd\ne\n> f\ng"


def test_html_to_text_joins_table_cells_and_source_line_breaks():
    html = "<table><tr><td>OD-01:</td><td>48</td></tr></table><p>backlog\r\n   down</p>"
    assert html_to_text(html) == "OD-01: 48\nbacklog down"


def test_html_to_text_survives_an_unclosed_head():
    assert html_to_text("<head><title>x<body><p>OD-01: 4") == "OD-01: 4"


def test_html_to_text_keeps_outlook_conditional_sections_and_bad_ones_as_text():
    html = "<p><![if !supportLists]>- <![endif]>OD-01: 4</p><p><![a<b>c</b></p>"
    assert html_to_text(html) == "- OD-01: 4\n<![ac"


# -------------------------------------------------------------------------------- properties

HTML_SOUP = st.lists(
    st.sampled_from(
        ["<", ">", "</", "<!", "<![", "<![if", "<![endif]>", "<![cdata[", "]]>", "<!--", "-->"]
        + ["<?", "<!doctype", "<div", "<p>", "<br/>", "<style>", "</style>", "<head>", "<body>"]
        + ["&", "&#", "&#x", "&#99999999;", "&nbsp;", "=", '"', "'", " ", "\n", "a", "OD-01: "]
    ),
    max_size=40,
).map("".join)


@given(st.text() | HTML_SOUP)
def test_strip_quoted_and_html_to_text_never_raise(text):
    assert isinstance(html_to_text(text), str)
    assert isinstance(strip_quoted(text), str)


@given(st.text(alphabet=st.sampled_from("ab>:-_ \r\nOnFromSentTowrote1")) | st.text())
def test_strip_quoted_never_invents_text(text):
    normalised = text.replace("\r\n", "\n").replace("\r", "\n").replace("\ufeff", "")
    original = {line.rstrip() for line in normalised.split("\n")}
    assert set(strip_quoted(text).split("\n")) <= original | {""}


HEADER_NAMES = ["From", "Reply-To", "Subject", "Auto-Submitted", "Return-Path", "Precedence"]
HEADER_NAMES += ["Content-Type", "Content-Transfer-Encoding", "X-Autoreply", "List-Id"]
HEADER_VALUES = st.text(max_size=60) | st.sampled_from(
    ['"', "<", "<@>", "a <b@c", "=?x?q?a?=", "=?utf-8?b?////?=", 'text/plain; charset="']
    + ["text/plain; charset=base64", "text/plain; charset*=''%ff", "multipart/mixed; boundary="]
    + ["text/plain; format*=utf-8''flowed; delsp*=x''yes", "text/plain; format=flowed"]
)


@settings(suppress_health_check=[HealthCheck.too_slow])
@given(st.lists(st.tuples(st.sampled_from(HEADER_NAMES), HEADER_VALUES), max_size=6), st.binary())
def test_hostile_messages_never_raise(headers, body):
    lines = [f"{name}: {value}".encode("utf-8", "surrogatepass") for name, value in headers]
    raw = b"\r\n".join(lines) + b"\r\n\r\n" + body
    msg = message_from_bytes(raw, policy=policy.default)
    assert isinstance(auto_reply_reason(msg, BOT), str | None)
    assert isinstance(sender_address(msg), str)
    assert isinstance(reply_text(msg), str)


@pytest.mark.parametrize("name", sorted(p.name for p in EMAILS.glob("*.eml")))
def test_the_fast_compat32_parse_reads_every_sample_the_same(name):
    """pmbot parses inbound mail with compat32 for speed; the result must not change."""
    raw = (EMAILS / name).read_bytes()
    modern, fast = message_from_bytes(raw, policy=policy.default), message_from_bytes(raw)
    assert reply_text(fast) == reply_text(modern)
    assert auto_reply_reason(fast, BOT) == auto_reply_reason(modern, BOT)
    assert sender_address(fast) == sender_address(modern)


@pytest.mark.parametrize(
    "line",
    ["Jane wrote:", "Performance Management Bot/Performance/Agency wrote on 03/11/2026 09:12:00:"],
)
def test_attributions_without_on_and_date_cut_the_quote(line):
    assert strip_quoted(f"OD-01: 4\n\n{line}\n\tOD-01: 12\n") == "OD-01: 4"


def test_a_bare_blockquote_is_a_quote_and_answers_above_it_stay():
    html = "<div>OD-01: 4</div><div>x@y.example:</div><blockquote><div>OD-01: 12</div></blockquote>"
    assert strip_quoted(html_to_text(html)) == "OD-01: 4\nx@y.example:"


def test_zoho_and_bold_separators_cut_the_quote():
    zoho = "---- On Mon, 03 Nov 2026 09:12:00 +0000 Bot <b@x.example> wrote ----"
    assert strip_quoted(f"OD-01: 4\n{zoho}\nOD-01: 12") == "OD-01: 4"
    assert strip_quoted("OD-01: 4\n*-----Original Message-----*\nOD-01: 12") == "OD-01: 4"


QUOTE_LINES = st.lists(
    st.sampled_from([
        "-", "--", "---", " ", "*", "_", "wrote", "schrieb", "a écrit", "On", "Jane", "Mon 3",
        "09:12", ":", "<", ">", "bot@x.example", "Original Message", "Forwarded message", "/Ops/",
        "on", "1",
    ]),
    max_size=12,
).map("".join)


@settings(max_examples=2000, suppress_health_check=list(HealthCheck))
@given(QUOTE_LINES | st.text(max_size=80))
def test_a_line_skipped_by_the_cheap_checks_is_never_a_quote_marker(line):
    # strip_quoted tries the attribution patterns only on lines ending in ":" and the
    # separator pattern only on lines starting "--": a line either check skips must be one
    # the pattern would not have matched, or quoted text would be read as new.
    from bot.mail import replies

    text = line.strip()
    if replies._BARE_ATTRIBUTION.fullmatch(text) or replies._ADDRESS_ATTRIBUTION.fullmatch(text):
        assert text.endswith(":")
    separator = line.strip(" \t*_")
    assert replies._is_separator(line) == bool(replies._ORIGINAL_MESSAGE.fullmatch(separator))
