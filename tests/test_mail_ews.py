"""The email cycle on Exchange: exchangelib, unchanged, talks real HTTP to tests/fake_ews.py.

The same scenario as every mail backend (tests/mail_scenario.py: prompt out, replies in,
confirmations back), plus what only a server has: throttling, refused credentials, folders,
`check()`.
"""

from __future__ import annotations

import socket
from dataclasses import replace
from email.message import EmailMessage
from email.utils import make_msgid

import pytest
from exchangelib import (
    IMPERSONATION,
    OAUTH2,
    Build,
    FileAttachment,
    HTMLBody,
    Mailbox,
    OAuth2Credentials,
)
from exchangelib import Message as ExchangeMessage

from bot.app import create_app
from bot.mail.base import MailUnavailable
from bot.mail.ews import EwsBackend
from bot.settings import ConfigError
from tests import mail_scenario as scenario
from tests.conftest import reply
from tests.fake_ews import FakeExchange
from tests.mail_scenario import OCTOBER, figures_reply

USER = "AGENCY\\svc-pmbot"
PASSWORD = "correct-horse-battery"
MAILBOX = "pmbot@agency.example"
PROCESSED = "msgfolderroot/pmbot/processed"


@pytest.fixture
def exchange():
    with FakeExchange(users={USER: PASSWORD}, mailboxes=(MAILBOX,)) as fake:
        yield fake


def ews_env(url: str, **overrides: str) -> dict[str, str]:
    env = {
        "PMBOT_EWS_URL": url,
        "PMBOT_EWS_AUTH": "basic",  # the fake speaks Basic; NTLM is the production default
        "PMBOT_EWS_USER": USER,
        "PMBOT_EWS_PASSWORD": PASSWORD,
        "PMBOT_EWS_MAILBOX": MAILBOX,
        "PMBOT_EWS_MAX_WAIT": "1",
    }
    return {**env, **overrides}


@pytest.fixture
def ews_settings(settings, exchange):
    return replace(settings, mail_backend="ews", extra=ews_env(exchange.url))


@pytest.fixture
def ews_bot(ews_settings, clock, register_file):
    bot = create_app(ews_settings, clock=clock)  # through make_mail_backend, as `pmbot serve`
    with scenario.running(bot, register_file, clock):
        yield bot


def sent_mail(exchange: FakeExchange):
    """What Exchange was asked to send, as MIME."""
    return lambda: [s.message for s in exchange.sent]


@pytest.fixture
def prompted(ews_bot, exchange):
    """Prompts for October 2026 sent; returns (bot, the owner's prompt as Exchange got it)."""
    prompt = scenario.prompt_the_owner(ews_bot, sent_mail(exchange))
    assert exchange.sent[0].recipients == ["owner@agency.example"]
    return ews_bot, prompt


def confirmations(exchange):
    return scenario.confirmations(sent_mail(exchange)())


@pytest.fixture
def backend(ews_settings):
    """Build a backend with some variables changed; each is closed after the test."""
    made: list[EwsBackend] = []

    def make(**overrides: str) -> EwsBackend:
        extra = {**ews_settings.extra, **overrides}
        made.append(EwsBackend.from_settings(replace(ews_settings, extra=extra)))
        return made[-1]

    yield make
    for each in made:
        # exchangelib caches a connection per endpoint: a later test's fake may reuse the port.
        each.close()


def closed_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


# --- the round trip ------------------------------------------------------------------------


def test_creating_the_backend_sends_nothing(ews_bot, exchange):
    assert exchange.operations == [], "no autodiscover, no version or auth probe"


def test_a_prompt_goes_out_as_one_create_item_carrying_its_own_mime(prompted, exchange):
    bot, prompt = prompted
    assert exchange.op_names() == ["CreateItem"]
    [sent] = exchange.sent
    assert sent.disposition == "SendOnly"
    assert sent.recipients == ["owner@agency.example"]
    assert "2026-10" in prompt["Subject"] and "[PM-2026-10-" in prompt["Subject"]
    [queued] = bot.store.outgoing("prompt")
    assert prompt["Message-ID"] == queued["message_id"], "replies will quote this id"
    assert prompt["Auto-Submitted"] == "auto-generated" and prompt["X-PMBot"] == "prompt"
    assert prompt["X-Auto-Response-Suppress"] == "All"
    assert [p.get_content_type() for p in prompt.walk()][1:] == ["text/plain", "text/html"]


def test_a_reply_with_one_bad_line_stores_the_good_one_and_the_answer_is_threaded(
    prompted, exchange
):
    bot, prompt = prompted
    message = scenario.bad_line_reply(prompt)
    exchange.deliver(MAILBOX, message)
    assert scenario.outcomes(bot) == ["stored"]
    [confirmation] = confirmations(exchange)
    scenario.check_bad_line_reply(bot, prompt, message, confirmation)
    assert exchange.sent[-1].disposition == "SendOnly"


def test_an_out_of_office_is_ignored_never_answered_and_still_moved(prompted, exchange):
    bot, prompt = prompted
    exchange.deliver(MAILBOX, scenario.out_of_office(prompt))
    scenario.check_out_of_office_ignored(bot, sent_mail(exchange))
    assert exchange.items(MAILBOX) == [] and len(exchange.items(MAILBOX, PROCESSED)) == 1


def test_the_same_message_delivered_twice_is_stored_once(prompted, exchange):
    bot, prompt = prompted
    message = figures_reply(prompt)
    exchange.deliver(MAILBOX, message)
    exchange.deliver(MAILBOX, message)  # Exchange delivered it twice
    scenario.check_stored_once(bot, sent_mail(exchange))


def test_handled_mail_is_marked_read_and_moved_not_deleted(prompted, exchange):
    bot, prompt = prompted
    message = figures_reply(prompt)
    exchange.deliver(MAILBOX, message)
    bot.poll_mail()
    kept = scenario.check_moved_out_of_the_inbox(
        exchange.items(MAILBOX), exchange.items(MAILBOX, PROCESSED)
    )
    assert kept.is_read and kept.header("Message-ID") == message["Message-ID"]
    assert scenario.FIGURES.encode() in kept.mime
    assert "DeleteItem" not in exchange.op_names()
    updates = [o for o in exchange.operations if o.name == "UpdateItem"]
    assert [o.detail["fields"] for o in updates] == [["message:IsRead"]]


def test_the_processed_folder_is_found_by_a_shallow_search_and_created_once(
    prompted, exchange, backend
):
    bot, prompt = prompted
    for _ in range(2):
        exchange.deliver(MAILBOX, figures_reply(prompt))
        bot.poll_mail()
    searches = [o for o in exchange.operations if o.name == "FindFolder"]
    assert [(o.detail["traversal"], o.detail["restriction"]) for o in searches] == [
        ("Shallow", "folder:DisplayName=pmbot"),
        ("Shallow", "folder:DisplayName=processed"),
    ], "looked up once, then cached; never a Deep walk of the folder tree"
    assert exchange.op_names().count("CreateFolder") == 2
    # A new process finds the folders and creates nothing.
    exchange.deliver(MAILBOX, figures_reply(prompt, "OD-02: 91"))
    again = backend()
    [mail] = list(again.fetch())
    again.mark_done(mail)
    again.mark_done(mail)  # already moved: nothing to do, no error
    assert exchange.op_names().count("CreateFolder") == 2
    assert len(exchange.items(MAILBOX, PROCESSED)) == 3


def test_every_unread_message_is_read_when_the_inbox_spans_several_pages(ews_bot, exchange):
    for n in range(25):
        exchange.deliver(MAILBOX, reply(None, "stranger@elsewhere.example", f"OD-01: {n}"))
    ews_bot.mail.find_page_size = 10
    results = ews_bot.poll_mail().results
    assert [r.outcome for r in results] == ["rejected"] * 25
    assert exchange.items(MAILBOX) == []
    assert [o.detail["offset"] for o in exchange.operations if o.name == "FindItem"] == [0, 10, 20]
    assert [o.detail["count"] for o in exchange.operations if o.name == "GetItem"] == [20, 5]


def test_inline_images_and_threading_headers_survive_sending(backend, exchange):
    message = EmailMessage()
    message["From"], message["To"] = MAILBOX, "lead@agency.example"
    message["Subject"] = "Performance pack — October"
    message["Message-ID"] = make_msgid(domain="agency.example")
    message["In-Reply-To"] = "<reply-1@client.example>"
    message["References"] = "<prompt-1@agency.example> <reply-1@client.example>"
    message["X-PMBot"] = "digest"
    cid = make_msgid(domain="agency.example")
    message.set_content("Trend attached.")
    message.add_alternative(f'<p>Trend</p><img src="cid:{cid[1:-1]}">', subtype="html")
    message.get_payload()[1].add_related(
        b"\x89PNG fake", maintype="image", subtype="png", cid=cid, disposition="inline"
    )
    assert backend().send(message) == message["Message-ID"]
    sent = exchange.sent[0].message
    assert sent["In-Reply-To"] == "<reply-1@client.example>" and sent["X-PMBot"] == "digest"
    assert sent["References"] == message["References"]
    [image] = [p for p in sent.walk() if p.get_content_type() == "image/png"]
    assert image["Content-ID"] == cid and image.get_payload(decode=True) == b"\x89PNG fake"
    assert exchange.sent[0].recipients == ["lead@agency.example"]


def test_a_message_exchange_refuses_is_set_aside_with_the_reason(ews_bot, exchange):
    exchange.refused_recipients.add("owner@agency.example")
    ews_bot.send_prompts(OCTOBER)
    [row] = ews_bot.store.outgoing("prompt")
    assert row["failed"] == 1 and "ErrorInvalidRecipients" in row["last_error"]


def test_the_fake_also_answers_exchangelibs_field_by_field_sends(backend, exchange):
    """Other ways of sending (Sent Items copy, draft then send, inline attachment) work on
    the fake too, so a later change to send() can be tested against it."""
    account = backend().account
    message = ExchangeMessage(
        account=account,
        subject="Digest",
        body=HTMLBody('<img src="cid:chart1">'),
        to_recipients=[Mailbox(email_address="lead@agency.example")],
        in_reply_to="<prompt-1@agency.example>",
    )
    message.attach(FileAttachment(name="chart.png", content=b"PNG", is_inline=True,
                                  content_id="chart1"))  # fmt: skip
    message.send_and_save()
    draft = ExchangeMessage(account=account, folder=account.drafts, subject="Draft", body="x",
                            to_recipients=["deputy@agency.example"])  # fmt: skip
    draft.save()
    draft.send(save_copy=False)
    assert exchange.op_names()[-4:] == ["CreateItem", "GetFolder", "CreateItem", "SendItem"]
    digest, sent_draft = exchange.sent
    assert (digest.disposition, digest.recipients) == ("SendAndSaveCopy", ["lead@agency.example"])
    assert digest.fields["in_reply_to"] == "<prompt-1@agency.example>"
    [chart] = digest.fields["attachments"]
    assert (chart["content_id"], chart["is_inline"], chart["content"]) == ("chart1", True, b"PNG")
    assert [i.fields["subject"] for i in exchange.items(MAILBOX, "sentitems")] == ["Digest"]
    assert sent_draft.recipients == ["deputy@agency.example"]
    assert exchange.items(MAILBOX, "drafts") == []


# --- a server under load, and one that refuses us --------------------------------------------


def test_a_busy_server_is_waited_for_and_the_poll_still_succeeds(prompted, exchange):
    bot, prompt = prompted
    exchange.deliver(MAILBOX, figures_reply(prompt))
    start = len(exchange.operations)
    exchange.busy(requests=2, back_off_ms=5)
    assert [r.outcome for r in bot.poll_mail().results] == ["stored"]
    seen = [(o.name, o.status) for o in exchange.operations[start : start + 3]]
    assert seen == [("GetFolder", "busy"), ("GetFolder", "busy"), ("GetFolder", "ok")]


def test_a_server_busy_for_longer_than_max_wait_is_unavailable_at_once(ews_bot, exchange):
    exchange.busy(requests=1, back_off_ms=300_000)  # five minutes; PMBOT_EWS_MAX_WAIT is 1 s
    with pytest.raises(
        MailUnavailable, match=r"is busy, asking for 300 s \(PMBOT_EWS_MAX_WAIT=1\)"
    ):
        ews_bot.poll_mail()
    assert exchange.op_names(status=None) == ["GetFolder"], "gave up without waiting"


def test_refused_credentials_give_a_clear_message_without_the_password(settings, exchange, clock):
    wrong = replace(settings, mail_backend="ews",
                    extra=ews_env(exchange.url, PMBOT_EWS_PASSWORD="guess-1234"))  # fmt: skip
    bot = create_app(wrong, clock=clock)
    with pytest.raises(MailUnavailable) as caught:
        bot.poll_mail()
    bot.close()
    assert str(caught.value) == (
        f"EWS refused the credentials for {USER} at {exchange.url}; check PMBOT_EWS_USER/PASSWORD"
    )
    assert "guess-1234" not in str(caught.value) and PASSWORD not in str(caught.value)
    assert exchange.op_names(status=None) == ["GetFolder"], "one 401, no retry loop"


# --- check() --------------------------------------------------------------------------------


def test_check_passes_every_step_and_leaves_no_draft_behind(backend, exchange):
    results = backend().check()
    assert [r.ok for r in results] == [True] * 5, results
    assert [r.what.split()[0] for r in results] == ["reach", "log", "open", "find", "create"]
    assert exchange.items(MAILBOX, "drafts") == []
    [draft] = [o for o in exchange.operations if o.name == "CreateItem"]
    [delete] = [o for o in exchange.operations if o.name == "DeleteItem"]
    assert draft.detail["disposition"] == "SaveOnly" and delete.detail["type"] == "HardDelete"


def test_check_with_a_wrong_password_reaches_the_server_but_cannot_log_in(backend, exchange):
    reach, login = backend(PMBOT_EWS_PASSWORD="guess-1234").check()
    assert reach.ok and not login.ok
    assert "check PMBOT_EWS_USER/PASSWORD" in login.detail and "guess" not in login.detail


def test_check_with_no_server_says_it_cannot_reach_it(backend):
    url = f"http://127.0.0.1:{closed_port()}/EWS/Exchange.asmx"
    [reach] = backend(PMBOT_EWS_URL=url).check()
    assert not reach.ok and reach.detail.startswith(f"cannot reach EWS at {url}")


def test_check_with_a_missing_folder_names_the_variable(backend, exchange):
    results = backend(PMBOT_EWS_FOLDER="Inbox/Figures").check()
    assert [r.ok for r in results] == [True, True, False]
    assert "no folder 'Inbox/Figures'" in results[-1].detail
    assert "check PMBOT_EWS_FOLDER" in results[-1].detail


# --- settings -------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "auth, missing",
    [
        ("basic", "PMBOT_EWS_URL"),
        ("basic", "PMBOT_EWS_USER"),
        ("ntlm", "PMBOT_EWS_PASSWORD"),
        ("oauth2", "PMBOT_EWS_TENANT_ID"),
        ("oauth2", "PMBOT_EWS_CLIENT_ID"),
        ("oauth2", "PMBOT_EWS_CLIENT_SECRET"),
        ("oauth2", "PMBOT_EWS_MAILBOX"),
    ],
)
def test_a_missing_variable_is_named(settings, auth, missing):
    oauth = {"PMBOT_EWS_TENANT_ID": "t", "PMBOT_EWS_CLIENT_ID": "c", "PMBOT_EWS_CLIENT_SECRET": "s"}
    env = ews_env("https://mail.agency.example/EWS/Exchange.asmx", PMBOT_EWS_AUTH=auth, **oauth)
    del env[missing]
    with pytest.raises(ConfigError, match=missing):
        EwsBackend.from_settings(replace(settings, extra=env))


@pytest.mark.parametrize(
    "name, value",
    [("PMBOT_EWS_AUTH", "kerberos"), ("PMBOT_EWS_VERSION", "fifteen"),
     ("PMBOT_EWS_VERSION", "99.0"), ("PMBOT_EWS_URL", "mail.agency.example")],
)  # fmt: skip
def test_a_wrong_value_is_named(settings, name, value):
    env = ews_env("https://mail.agency.example/EWS/Exchange.asmx", **{name: value})
    with pytest.raises(ConfigError, match=name):
        EwsBackend.from_settings(replace(settings, extra=env))


def test_the_version_is_pinned_and_ntlm_is_the_default(settings):
    env = ews_env("https://mail.agency.example/EWS/Exchange.asmx", PMBOT_EWS_AUTH="")
    account = EwsBackend.from_settings(replace(settings, extra=env)).account
    assert account.version.build == Build(15, 1, 2507, 6)
    assert account.version.api_version == "Exchange2016"
    assert account.protocol.config.auth_type == "NTLM"
    assert account.access_type == "delegate"


def test_oauth2_uses_client_credentials_and_impersonation(settings):
    env = {
        "PMBOT_EWS_URL": "https://mail.agency.example/EWS/Exchange.asmx",
        "PMBOT_EWS_AUTH": "oauth2",
        "PMBOT_EWS_TENANT_ID": "tenant-1",
        "PMBOT_EWS_CLIENT_ID": "client-1",
        "PMBOT_EWS_CLIENT_SECRET": "very-secret",
        "PMBOT_EWS_MAILBOX": MAILBOX,
    }
    account = EwsBackend.from_settings(replace(settings, extra=env)).account
    credentials = account.protocol.config.credentials
    assert isinstance(credentials, OAuth2Credentials) and credentials.tenant_id == "tenant-1"
    assert credentials.identity.primary_smtp_address == MAILBOX
    assert account.access_type == IMPERSONATION
    assert account.protocol.config.auth_type == OAUTH2
