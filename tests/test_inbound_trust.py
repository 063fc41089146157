"""Inbound mail an attacker or an unlucky user sends: poison, forgery, loops and replays.

Every test runs a real poll over a real Maildir and SQLite file, and checks what a person would
notice: what was stored, who was answered, and what `pmbot mail inbound` says happened.
"""

from __future__ import annotations

from datetime import timedelta
from email.utils import format_datetime, make_msgid
from pathlib import Path

import pytest

from bot.measures import Person
from tests import mail_scenario as scenario
from tests.conftest import reply
from tests.mail_scenario import OCTOBER, OWNER, figures_reply

STRANGER = "Mallory <mallory@elsewhere.example>"


@pytest.fixture
def prompted(loaded):
    return loaded, scenario.prompt_the_owner(loaded, loaded.mail.outbox_messages)


def confirmations(bot):
    return scenario.confirmations(bot.mail.outbox_messages())


def stored(bot) -> dict[str, float]:
    return {
        row["id"]: row["value"]
        for row in bot.service.status(OCTOBER, bot.clock()).measures
        if row["revisions"]
    }


def inbound(bot) -> list[tuple[str, str, str]]:
    return [(r["outcome"], r["sender"], r["reason"]) for r in bot.service.inbound()]


def deep_mime(depth: int) -> bytes:
    head = (
        b"From: owner@agency.example\nSubject: deep\nContent-Type: multipart/mixed; boundary=b0\n\n"
    )
    parts = b"".join(
        b"--b%d\nContent-Type: multipart/mixed; boundary=b%d\n\n" % (i, i + 1) for i in range(depth)
    )
    return head + parts + b"--b%d\nContent-Type: text/plain\n\nOD-01: 1\n" % depth


POISON = {
    "unknown charset in the subject": (
        b"From: owner@agency.example\nSubject: =?x-unknown?q?hi?=\nMessage-ID: <p1@x>\n\nhello\n"
    ),
    "MIME nested 1,500 deep": deep_mime(1500),
    "binary garbage": bytes(range(256)) * 40,
    "empty file": b"",
    "headers only": b"From: owner@agency.example\nSubject: nothing else",
    "bad encoded From": b"From: =?utf-8?b?////?= <owner@agency.example>\nMessage-ID: <p2@x>\n\nx\n",
    "10,000 lines": b"From: owner@agency.example\nMessage-ID: <p3@x>\n\n"
    + b"".join(b"OD-02: %d\n" % (n % 100) for n in range(10_000)),
}


def test_a_poisoned_inbox_followed_by_good_replies_stores_every_good_reply_in_one_poll(
    prompted, settings
):
    bot, prompt = prompted
    for raw in POISON.values():
        bot.mail.deliver_to_inbox(raw)
    bot.mail.deliver_to_inbox(figures_reply(prompt, "OD-01: 48"))
    bot.mail.deliver_to_inbox(
        reply(prompt, "Dee Deputy <deputy@agency.example>", "OD-01: 47 - deputy's correction")
    )
    results = bot.poll_mail().results
    assert len(results) == len(POISON) + 2
    assert [r.outcome for r in results[-2:]] == ["stored", "stored"]
    assert stored(bot)["OD-01"] == 47
    assert bot.store.submissions_for("OD-02", "2026-10") == [], "10,000 lines stored nothing"
    # Every message is recorded with what happened to it, and the inbox is empty.
    assert len(bot.service.inbound()) == len(POISON) + 2
    assert [p for sub in ("new", "cur") for p in (settings.maildir / "inbox" / sub).iterdir()] == []
    quarantined = list((settings.maildir / "quarantine" / "cur").iterdir())
    assert len(quarantined) == bot.service.quarantined_mail() >= 1
    assert b"boundary=b1499" in b"".join(p.read_bytes() for p in quarantined)


def test_unreadable_mail_is_recorded_as_quarantined_with_the_reason(prompted):
    bot, _ = prompted
    bot.mail.deliver_to_inbox(deep_mime(1500))
    [result] = bot.poll_mail().results
    assert result.outcome == "quarantined"
    [(outcome, sender, reason)] = inbound(bot)
    assert (outcome, sender) == ("quarantined", "owner@agency.example")
    assert reason == "unreadable: more than 200 MIME parts"


def test_an_unknown_charset_in_the_subject_is_answered_like_any_other_reply(prompted):
    bot, _ = prompted
    bot.mail.deliver_to_inbox(POISON["unknown charset in the subject"])
    [result] = bot.poll_mail().results
    assert (result.outcome, result.reason) == (
        "rejected",
        "no lines of the form 'OD-01: value' found",
    )
    [answer] = confirmations(bot)
    assert answer["Subject"].startswith("Re: ")


def test_a_message_with_too_many_lines_is_refused_with_a_clear_answer(prompted):
    bot, _ = prompted
    bot.mail.deliver_to_inbox(POISON["10,000 lines"])
    [result] = bot.poll_mail().results
    assert result.outcome == "rejected" and bot.store.submission_count() == 0
    [answer] = confirmations(bot)
    assert "Your message has 10,000 lines of new text; pmbot reads up to 200" in body(answer)


def test_a_message_over_the_size_limit_is_refused_with_a_clear_answer(prompted, monkeypatch):
    bot, prompt = prompted
    monkeypatch.setattr("bot.mail.base.MAX_MESSAGE_BYTES", 2_000)
    monkeypatch.setattr("handlers.email_reply.MAX_MESSAGE_BYTES", 2_000)
    bot.mail.deliver_to_inbox(figures_reply(prompt, "OD-01: 48\n" + "x" * 3_000))
    [result] = bot.poll_mail().results
    assert (result.outcome, result.reason) == ("rejected", "too large")
    assert "pmbot reads messages of up to 0 MB" in body(confirmations(bot)[0])


def body(message) -> str:
    return message.get_body(("plain",)).get_content()


# ------------------------------------------------------------------------------- identity


def test_reply_to_never_decides_identity(prompted):
    bot, prompt = prompted
    # A stranger naming the owner in Reply-To is a stranger: nothing stored, nobody answered.
    bot.mail.deliver_to_inbox(reply(prompt, STRANGER, "OD-01: 1", headers={"Reply-To": OWNER}))
    # The owner whose mail carries a team Reply-To is the owner: stored and answered to them.
    bot.mail.deliver_to_inbox(
        reply(prompt, OWNER, "OD-01: 48", headers={"Reply-To": "team@agency.example"})
    )
    assert [r.outcome for r in bot.poll_mail().results] == ["rejected", "stored"]
    assert stored(bot) == {"OD-01": 48}
    [answer] = confirmations(bot)
    assert answer["To"] == "owner@agency.example"


def test_an_owner_cannot_submit_for_another_owners_measure_even_via_reply_to(prompted):
    bot, prompt = prompted
    bot.mail.deliver_to_inbox(
        reply(prompt, "risk@agency.example", "OD-01: 1", headers={"Reply-To": OWNER})
    )
    bot.store.save_person(Person("risk@agency.example"))
    [result] = bot.poll_mail().results
    assert result.outcome == "rejected" and "not the owner or deputy" in result.reason
    assert bot.store.submission_count() == 0


def test_a_deputy_sending_from_a_shared_mailbox_is_known_by_sender(prompted):
    bot, prompt = prompted
    message = reply(prompt, "Ops Team <ops-team@agency.example>", "OD-01: 46",
                    headers={"Sender": "deputy@agency.example"})  # fmt: skip
    bot.mail.deliver_to_inbox(message)
    [result] = bot.poll_mail().results
    assert (result.outcome, result.sender) == ("stored", "deputy@agency.example")


AUTH = "mx.agency.example"


@pytest.fixture
def authenticated(settings, clock, register_file):
    from dataclasses import replace

    from bot.app import create_app

    settings = replace(settings, extra={"PMBOT_MAIL_AUTHSERV_ID": AUTH})
    bot = create_app(settings, clock=clock)
    bot.service.import_register(register_file, clock())
    yield bot, scenario.prompt_the_owner(bot, bot.mail.outbox_messages)
    bot.close()


@pytest.mark.parametrize(
    "results",
    [
        "dkim=none; spf=pass smtp.mailfrom=agency.example; dmarc=fail header.from=agency.example",
        "dkim=fail (bad signature) header.d=agency.example; spf=pass; dmarc=pass",
        "spf=fail smtp.mailfrom=agency.example",
    ],
)
def test_mail_that_failed_authentication_at_our_server_is_not_taken(authenticated, results):
    bot, prompt = authenticated
    message = figures_reply(prompt, "OD-01: 1")
    message["Reply-To"] = "mallory@elsewhere.example"
    message["Authentication-Results"] = f"{AUTH}; {results}"
    bot.mail.deliver_to_inbox(message)
    [result] = bot.poll_mail().results
    assert result.outcome == "rejected" and result.reason.startswith("not taken: ")
    assert f"failed (Authentication-Results from {AUTH})" in result.reason
    assert bot.store.submission_count() == 0
    [answer] = confirmations(bot)  # answered, to the registered address only
    assert answer["To"] == "owner@agency.example"
    assert "could not be verified as coming from you" in body(answer)


def test_authentication_results_from_other_servers_are_not_believed(authenticated):
    bot, prompt = authenticated
    message = figures_reply(prompt, "OD-01: 48")
    message["Authentication-Results"] = "mx.elsewhere.example; dmarc=fail; spf=fail"
    message["Authentication-Results"] = f"{AUTH}; dkim=fail; dkim=pass header.d=agency.example"
    bot.mail.deliver_to_inbox(message)
    assert [r.outcome for r in bot.poll_mail().results] == ["stored"]


# ------------------------------------------------------------------------------- replays


def test_a_reused_message_id_with_other_content_is_processed_and_recorded(prompted):
    bot, prompt = prompted
    first = figures_reply(prompt, "OD-01: 48")
    second = figures_reply(prompt, "OD-02: 95")
    second.replace_header("Message-ID", first["Message-ID"])  # a gateway reusing ids
    bot.mail.deliver_to_inbox(first)
    bot.mail.deliver_to_inbox(second)
    assert [r.outcome for r in bot.poll_mail().results] == ["stored", "stored"]
    assert stored(bot) == {"OD-01": 48, "OD-02": 95}
    assert len(bot.service.inbound()) == 2 and len(confirmations(bot)) == 2
    first_row, second_row = bot.service.inbound()
    assert first_row["message_id"] == second_row["message_id"] == first["Message-ID"]
    assert first_row["fingerprint"] != second_row["fingerprint"]


def test_a_reused_message_id_from_another_sender_is_processed(prompted):
    bot, prompt = prompted
    first = figures_reply(prompt, "OD-01: 48")
    other = reply(prompt, "deputy@agency.example", "OD-01: 48")
    other.replace_header("Message-ID", first["Message-ID"])
    bot.mail.deliver_to_inbox(first)
    bot.mail.deliver_to_inbox(other)
    assert [r.outcome for r in bot.poll_mail().results] == ["stored", "stored"]
    assert [r["sender"] for r in bot.service.inbound()] == [
        "owner@agency.example",
        "deputy@agency.example",
    ]


def test_the_same_message_redelivered_with_new_transport_headers_is_seen(prompted):
    bot, prompt = prompted
    message = figures_reply(prompt, "OD-01: 48")
    bot.mail.deliver_to_inbox(message)
    bot.poll_mail()
    message["Received"] = "from relay.example by mx.agency.example"
    bot.mail.deliver_to_inbox(message)
    assert [r.outcome for r in bot.poll_mail().results] == ["seen"]


# ------------------------------------------------------------------------------- loops


def test_a_20_round_auto_responder_loop_gets_at_most_one_answer(prompted, clock):
    """A responder without Auto-Submitted, answering every message it gets, each a minute on."""
    bot, prompt = prompted
    last = prompt
    for _ in range(20):
        bot.mail.deliver_to_inbox(reply(last, OWNER, "Received, thank you."))
        bot.poll_mail()
        last = (confirmations(bot) or [prompt])[-1]
        clock.advance(minutes=1)
    assert len(confirmations(bot)) == 1
    assert len(bot.service.inbound()) == 20


def test_after_an_hour_a_sender_without_figures_is_answered_again(prompted, clock):
    bot, prompt = prompted
    for _ in range(2):
        bot.mail.deliver_to_inbox(figures_reply(prompt, "Will send these tomorrow."))
        bot.poll_mail()
        clock.advance(minutes=61)
    assert len(confirmations(bot)) == 2


def test_figures_are_always_confirmed_even_after_an_answer_without_figures(prompted):
    bot, prompt = prompted
    bot.mail.deliver_to_inbox(figures_reply(prompt, "Will send these tomorrow."))
    bot.mail.deliver_to_inbox(figures_reply(prompt, "OD-01: 48"))
    bot.poll_mail()
    assert len(confirmations(bot)) == 2


@pytest.mark.parametrize(
    "text",
    [
        "Thank you for your email. I will get back to you as soon as possible.",
        "I am currently out of the office with no access to email.",
        "This is an automated response: your message has been received.",
        "Ich bin derzeit nicht im Büro.",
    ],
)
def test_auto_reply_bodies_without_figures_are_ignored_and_not_answered(prompted, text):
    bot, prompt = prompted
    bot.mail.deliver_to_inbox(figures_reply(prompt, text))
    [result] = bot.poll_mail().results
    assert result.outcome == "ignored" and result.reason.startswith("auto-reply body: ")
    assert confirmations(bot) == []


def test_a_reply_dated_seconds_after_pmbots_message_is_automatic(prompted, clock):
    bot, _ = prompted
    bot.mail.deliver_to_inbox(figures_reply(None, "Will send these tomorrow."))
    bot.poll_mail()  # a person, answered
    [answer] = confirmations(bot)
    instant = reply(answer, OWNER, "OK")
    instant["Date"] = format_datetime(clock() + timedelta(seconds=2))
    bot.mail.deliver_to_inbox(instant)
    [result] = bot.poll_mail().results
    assert (result.outcome, result.reason) == (
        "ignored",
        "auto-reply after 2 s",
    )


def test_a_person_answering_minutes_later_is_not_taken_for_a_machine(prompted, clock):
    bot, prompt = prompted
    message = figures_reply(prompt, "OD-01: 48")
    message["Date"] = format_datetime(clock() + timedelta(minutes=3))
    bot.mail.deliver_to_inbox(message)
    assert [r.outcome for r in bot.poll_mail().results] == ["stored"]


# ------------------------------------------------------------------------- one figure each


def test_one_message_gives_one_figure_per_measure_the_topmost(prompted):
    bot, prompt = prompted
    bot.mail.deliver_to_inbox(
        figures_reply(prompt, "OD-01: 48\n\nsee the thread:\nOD-01: 12 last month")
    )
    [result] = bot.poll_mail().results
    assert result.outcome == "stored"
    assert [r["value"] for r in bot.store.submissions_for("OD-01", "2026-10")] == [48]
    text = body(confirmations(bot)[0])
    assert "OD-01 2026-10: 48 days" in text
    assert "OD-01: '12 last month' further down was not taken" in text
    assert "the first ('48')" in text


# ----------------------------------------------------------------------------- see below


def test_answers_typed_into_the_quoted_prompt_are_taken_and_unchanged_lines_ignored(prompted):
    bot, prompt = prompted
    quoted = body(prompt).replace("OD-01: \n", "OD-01: 47 agency staff\n")
    text = (
        "See below.\n\nJane\n\n"
        "From: pmbot <pmbot@agency.example>\nSent: 02 November 2026 09:00\n"
        f"To: Olive Owner\nSubject: {prompt['Subject']}\n\n" + quoted
    )
    bot.mail.deliver_to_inbox(figures_reply(prompt, text))
    [result] = bot.poll_mail().results
    assert result.outcome == "stored"
    assert stored(bot) == {"OD-01": 47}
    assert bot.store.submissions_for("OD-01", "2026-10")[0]["commentary"] == "agency staff"


def test_figures_in_an_older_quoted_message_are_not_taken_for_see_below(prompted):
    bot, prompt = prompted
    text = "See below.\n\n> On 1 Oct 2026, Olive wrote:\n> OD-01: 40\n"
    bot.mail.deliver_to_inbox(figures_reply(prompt, text))
    [result] = bot.poll_mail().results
    assert result.outcome == "rejected" and bot.store.submission_count() == 0


def test_a_message_without_a_message_id_is_keyed_on_its_content(prompted):
    bot, prompt = prompted
    message = figures_reply(prompt, "OD-01: 48")
    del message["Message-ID"]
    bot.mail.deliver_to_inbox(message)
    bot.mail.deliver_to_inbox(message)
    assert [r.outcome for r in bot.poll_mail().results] == ["stored", "seen"]
    assert make_msgid  # (imported for other tests' ids)


def test_quarantined_mail_is_kept_for_a_person_to_read(prompted, settings):
    bot, _ = prompted
    bot.mail.deliver_to_inbox(deep_mime(1500))
    bot.poll_mail()
    [kept] = Path(settings.maildir / "quarantine" / "cur").iterdir()
    assert kept.read_bytes().startswith(b"From: owner@agency.example")


def test_health_reports_quarantined_mail_and_a_working_poller(prompted):
    import threading

    from bot.serve import run_poller

    bot, prompt = prompted
    bot.mail.deliver_to_inbox(deep_mime(1500))
    bot.mail.deliver_to_inbox(figures_reply(prompt, "OD-01: 48"))
    stopping, reports = threading.Event(), []

    def report(state: str, detail: str = "") -> None:
        reports.append((state, detail))
        stopping.set()  # one poll is enough

    run_poller(bot, stopping, report, interval=0)
    assert reports == [("ok", "last poll: 2 messages; 1 quarantined")]
    assert stored(bot) == {"OD-01": 48}
