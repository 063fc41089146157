"""The IMAP + SMTP backend against a real Dovecot and a real SMTP server (aiosmtpd) on 127.0.0.1.

The scenario is the shared one (tests/mail_scenario.py): prompts go out by SMTP, replies are
APPENDed to the bot's Dovecot inbox as a mail server would deliver them, and the bot polls.
"""

from __future__ import annotations

import logging
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager
from dataclasses import replace
from pathlib import Path

import pytest

from bot.app import create_app, make_mail_backend
from bot.mail.base import MailRefused, MailUnavailable
from bot.mail.imap import ImapBackend, ImapConfig
from bot.settings import ConfigError, Settings
from tests import mail_scenario as scenario
from tests.conftest import reply
from tests.mail_scenario import OCTOBER, OWNER, figures_reply
from tests.servers.dovecot import INSTALL_HINT, Dovecot, ImapAccount, find_dovecot
from tests.servers.smtp import SmtpSink, TestCertificate

BOT = "pmbot@agency.example"
SMTP_USER, SMTP_PASSWORD = "pmbot-smtp", "smtp-Secret-42"


@pytest.fixture(scope="session")
def certificate(tmp_path_factory) -> TestCertificate:
    return TestCertificate.create(tmp_path_factory.mktemp("tls"))


@pytest.fixture(scope="session")
def dovecot(tmp_path_factory, certificate) -> Iterator[Dovecot]:
    """One Dovecot for the session; each test gets its own account, so its own mailbox."""
    if find_dovecot() is None:  # the only reason to skip: every test here needs a real server
        pytest.skip(INSTALL_HINT)
    server = Dovecot(tmp_path_factory.mktemp("dovecot"), tls=certificate).start()
    yield server
    server.stop()


@contextmanager
def own_dovecot(folder: Path, **options) -> Iterator[Dovecot]:
    """A Dovecot for one test: one that is stopped, restarted, or plays an older server."""
    if find_dovecot() is None:
        pytest.skip(INSTALL_HINT)
    server = Dovecot(folder, **options).start()
    try:
        yield server
    finally:
        server.stop()


@pytest.fixture
def account(dovecot) -> ImapAccount:
    return dovecot.add_user()


@pytest.fixture
def mailbox(dovecot, account):
    """The bot's mailbox as another mail client sees it."""
    with dovecot.client(account) as client:
        yield client


@pytest.fixture
def smtp(certificate) -> Iterator[SmtpSink]:
    """A submission server as most are: STARTTLS required, then AUTH."""
    with SmtpSink(tls=certificate, user=SMTP_USER, password=SMTP_PASSWORD) as sink:
        yield sink


def config_for(server: Dovecot, account: ImapAccount, smtp: SmtpSink, certificate, **changes):
    """STARTTLS both ways, as a typical deployment; the test certificate is trusted."""
    config = ImapConfig(
        host=server.host, port=server.port, security="starttls" if server.tls else "none",
        user=account.user, password=account.password, smtp_host=smtp.host,
        smtp_port=smtp.port, smtp_user=SMTP_USER, smtp_password=SMTP_PASSWORD, mail_from=BOT,
        ssl_context=certificate.client_context(), timeout=5,
    )  # fmt: skip
    return replace(config, **changes)


@pytest.fixture
def backend(dovecot, account, smtp, certificate) -> Iterator[ImapBackend]:
    backend = ImapBackend(config_for(dovecot, account, smtp, certificate))
    yield backend
    backend.close()


@pytest.fixture
def imap_bot(settings, clock, register_file, backend):
    bot = create_app(settings, clock=clock, mail=backend)
    with scenario.running(bot, register_file, clock):
        yield bot


@pytest.fixture
def prompted(imap_bot, smtp):
    """Prompts for October 2026 sent; returns (bot, the owner's prompt as received)."""
    return imap_bot, scenario.prompt_the_owner(imap_bot, lambda: smtp.messages)


def confirmations(smtp: SmtpSink):
    return scenario.confirmations(smtp.messages)


# ------------------------------------------------------------------------ the email cycle


def test_prompts_go_out_by_smtp_with_a_message_id_to_thread_replies_on(prompted, smtp):
    bot, prompt = prompted
    assert smtp.envelopes == [(BOT, ["owner@agency.example"])]
    assert prompt["Message-ID"].endswith("@agency.example>")
    assert prompt["X-PMBot"] == "prompt" and prompt["Auto-Submitted"] == "auto-generated"
    assert "[PM-2026-10-" in prompt["Subject"]
    assert "OD-01: \n" in prompt.get_body(("plain",)).get_content()
    assert bot.send_prompts(OCTOBER) == [], "a prompt goes once per owner and cycle"


def test_send_returns_the_message_id_it_sent_and_gives_one_if_missing(backend, smtp):
    message = reply(None, BOT, "hello")
    assert backend.send(message) == message["Message-ID"]
    del message["Message-ID"]
    reference = backend.send(message)
    assert reference.endswith("@agency.example>") and reference != smtp.messages[0]["Message-ID"]
    assert [m["Message-ID"] for m in smtp.messages][1] == reference


def test_a_reply_with_one_bad_line_stores_the_good_one_and_is_confirmed_in_thread(
    prompted, mailbox, smtp
):
    bot, prompt = prompted
    message = scenario.bad_line_reply(prompt)
    mailbox.append(message)
    assert scenario.outcomes(bot) == ["stored"]
    [confirmation] = confirmations(smtp)
    scenario.check_bad_line_reply(bot, prompt, message, confirmation)
    assert smtp.envelopes[-1] == (BOT, ["owner@agency.example"])


def test_an_out_of_office_is_ignored_and_not_answered(prompted, mailbox, smtp):
    bot, prompt = prompted
    mailbox.append(scenario.out_of_office(prompt))
    scenario.check_out_of_office_ignored(bot, lambda: smtp.messages)
    assert len(mailbox.messages("pmbot.processed")) == 1, "ignored mail is moved out too"


def test_the_same_message_delivered_twice_is_stored_once_and_a_second_poll_finds_nothing(
    prompted, mailbox, smtp
):
    bot, prompt = prompted
    message = figures_reply(prompt)
    mailbox.append(message)
    mailbox.append(message)
    scenario.check_stored_once(bot, lambda: smtp.messages)
    assert len(mailbox.messages("pmbot.processed")) == 2, "both copies kept"


def test_processed_mail_is_moved_to_pmbot_processed_marked_read_and_kept(prompted, mailbox):
    bot, prompt = prompted
    mailbox.append(figures_reply(prompt))
    bot.poll_mail()
    assert "pmbot.processed" in mailbox.folders(), "Dovecot's Maildir++ separator is '.'"
    flags, kept = scenario.check_moved_out_of_the_inbox(
        mailbox.search("ALL"), mailbox.messages("pmbot.processed")
    )
    assert flags == {"\\Seen"} and scenario.FIGURES in kept.get_content()


def test_nothing_is_marked_read_until_it_has_been_processed(prompted, mailbox):
    bot, prompt = prompted
    mailbox.append(figures_reply(prompt))
    mailbox.append(figures_reply(prompt, "OD-02: 91"))
    fetched = list(bot.mail.fetch())
    assert len(fetched) == 2
    assert [flags for flags, _ in mailbox.messages()] == [set(), set()]
    bot.mail.mark_done(fetched[0])
    assert mailbox.search("UNSEEN") == [int(fetched[1].key.split(":")[1])]


def test_mail_is_fetched_oldest_first_keyed_by_uidvalidity_and_uid(backend, mailbox):
    for n in range(3):
        mailbox.append(reply(None, OWNER, f"message {n}"))
    validity = mailbox.select()
    fetched = list(backend.fetch())
    assert [m.key for m in fetched] == [f"{validity}:{uid}" for uid in (1, 2, 3)]
    assert [m.message.get_payload().strip() for m in fetched] == [f"message {n}" for n in range(3)]


def test_mail_already_read_by_someone_in_the_inbox_is_not_fetched(backend, mailbox):
    mailbox.append(reply(None, OWNER, "read"), flags="\\Seen")
    mailbox.append(reply(None, OWNER, "unread"))
    assert [m.message.get_payload().strip() for m in backend.fetch()] == ["unread"]


def test_a_rebuilt_folder_is_read_again_and_old_keys_touch_nothing(
    dovecot, account, smtp, certificate, mailbox, settings, clock, register_file
):
    mailbox.create("Replies")
    first = reply(None, OWNER, "OD-01: 48")
    mailbox.append(first, folder="Replies")
    backend = ImapBackend(config_for(dovecot, account, smtp, certificate, folder="Replies"))
    bot = create_app(settings, clock=clock, mail=backend)
    bot.service.import_register(register_file, clock())
    [stale] = list(backend.fetch())
    assert [r.outcome for r in bot.poll_mail().results] == ["stored"]
    old_validity = mailbox.select("Replies")
    # While the bot is disconnected the folder is rebuilt (restored from a backup, migrated):
    # a new UIDVALIDITY, and UID 1 is now another message.
    backend.close()
    mailbox.delete("Replies")
    mailbox.create("Replies")
    mailbox.append(reply(None, OWNER, "OD-02: 91"), folder="Replies")
    mailbox.append(first, folder="Replies")
    assert mailbox.select("Replies") != old_validity
    backend.mark_done(stale)  # a key from before: it must not move the new UID 1
    assert len(mailbox.search("UNSEEN", "Replies")) == 2
    assert [r.outcome for r in bot.poll_mail().results] == ["stored", "seen"]
    assert bot.store.submission_count() == 2 and mailbox.search("ALL", "Replies") == []
    bot.close()


# --------------------------------------------------------------------- servers that fail


def test_a_stopped_imap_server_makes_the_poll_raise_mail_unavailable(
    tmp_path, smtp, certificate, settings, clock, caplog
):
    with own_dovecot(tmp_path / "dovecot") as server:
        account = server.add_user()
        backend = ImapBackend(config_for(server, account, smtp, certificate))
        bot = create_app(settings, clock=clock, mail=backend)
        assert bot.poll_mail().results == []
    with caplog.at_level(logging.DEBUG), pytest.raises(MailUnavailable) as raised:
        bot.poll_mail()
    message = str(raised.value)
    assert f"IMAP server 127.0.0.1:{server.port} (none)" in message
    assert "connection refused; check PMBOT_IMAP_HOST, PMBOT_IMAP_PORT" in message
    assert account.password not in message + caplog.text
    bot.close()


def test_a_restarted_imap_server_is_reconnected_to(tmp_path, smtp, certificate, settings, clock):
    with own_dovecot(tmp_path / "dovecot") as server:
        account = server.add_user()
        backend = ImapBackend(config_for(server, account, smtp, certificate))
        bot = create_app(settings, clock=clock, mail=backend)
        assert bot.poll_mail().results == []
        server.stop()
        server.start()  # same port, same mailbox; the bot's connection is gone
        with server.client(account) as client:
            client.append(reply(None, "stranger@elsewhere.example", "hello"))
        [result] = bot.poll_mail().results
        assert result.outcome == "rejected"
        bot.close()


@pytest.mark.parametrize(
    ("advertised", "prefix", "processed"),
    [
        ("IMAP4rev1 LITERAL+ NAMESPACE UIDPLUS", "INBOX/", "INBOX/pmbot/processed"),
        ("IMAP4rev1 LITERAL+", "", "pmbot/processed"),
    ],
    ids=["no MOVE, folders under INBOX/", "no MOVE, UIDPLUS or NAMESPACE"],
)
def test_a_server_without_move_never_expunges_other_mail(
    advertised, prefix, processed, tmp_path, smtp, certificate
):
    """Older servers (Courier, some appliances): '/' separator, maybe an INBOX/ prefix."""
    with own_dovecot(tmp_path / "dc", capabilities=advertised, separator="/", prefix=prefix) as (
        server
    ):
        account = server.add_user()
        backend = ImapBackend(config_for(server, account, smtp, certificate))
        with server.client(account) as client:
            client.append(reply(None, OWNER, "someone else's, flagged deleted"), flags="\\Deleted")
            client.append(reply(None, OWNER, "OD-01: 48"))
            [mail] = list(backend.fetch())
            backend.mark_done(mail)
            assert processed in client.folders()
            [(flags, moved)] = client.messages(processed)
            assert "OD-01: 48" in moved.get_content() and flags == {"\\Seen"}
            left = [m.get_content().strip() for _, m in client.messages()]
            if "UIDPLUS" in advertised:  # COPY, then UID EXPUNGE of that message alone
                assert left == ["someone else's, flagged deleted"]
            else:  # nothing safe to expunge with: left in the inbox, read, and not fetched again
                assert left == ["someone else's, flagged deleted", "OD-01: 48"]
                assert list(backend.fetch()) == []
        backend.close()


def test_a_refused_recipient_raises_mail_refused(dovecot, account, certificate):
    with SmtpSink(refuse=("gone@agency.example",)) as sink:
        config = config_for(dovecot, account, sink, certificate, smtp_security="none",
                            smtp_user="", smtp_password="")  # fmt: skip
        backend = ImapBackend(config)
        with pytest.raises(MailRefused, match="gone@agency.example: 550 5.1.1 No such user"):
            backend.send(_to("gone"))
        assert backend.send(_to("owner")), "the connection is still good for the next one"
        backend.close()


def _to(local: str):
    message = reply(None, BOT, "hello")
    del message["To"]
    message["To"] = f"{local}@agency.example"
    return message


def test_a_stopped_smtp_server_raises_mail_unavailable(backend, smtp):
    smtp.stop()
    with pytest.raises(MailUnavailable, match="connection refused; check PMBOT_SMTP_HOST"):
        backend.send(_to("owner"))


def test_an_smtp_connection_the_server_dropped_is_reopened(dovecot, account, certificate, smtp):
    backend = ImapBackend(config_for(dovecot, account, smtp, certificate, smtp_idle_probe=0))
    backend.send(_to("owner"))
    smtp.stop()  # the server goes away and comes back: the kept connection is dead
    with SmtpSink(port=smtp.port, tls=certificate, user=SMTP_USER, password=SMTP_PASSWORD) as new:
        backend.send(_to("deputy"))
        assert [m["To"] for m in new.messages] == ["deputy@agency.example"]
    backend.close()


def test_the_poller_and_the_scheduler_can_share_one_backend(backend, smtp, mailbox):
    """`pmbot serve` polls in one thread and sends in another, through the same backend."""
    for n in range(20):
        mailbox.append(reply(None, OWNER, f"reply {n}"))

    def poll() -> int:
        fetched = list(backend.fetch())
        for mail in fetched:
            backend.mark_done(mail)
        return len(fetched)

    with ThreadPoolExecutor(max_workers=3) as pool:
        sends = [pool.submit(backend.send, _to(f"owner{n}")) for n in range(20)]
        polled = pool.submit(poll)
        assert len({f.result() for f in sends}) == 20 and polled.result() == 20
    assert len(smtp.messages) == 20 and mailbox.search("ALL") == []


@pytest.mark.parametrize("security", ["none", "starttls", "ssl"])
def test_each_security_setting_reads_and_sends(security, dovecot, account, certificate, mailbox):
    tls = {"none": None, "starttls": certificate, "ssl": certificate}[security]
    with SmtpSink(tls=tls, implicit_tls=security == "ssl", user="u", password="p") as sink:
        port = dovecot.tls_port if security == "ssl" else dovecot.port
        config = config_for(dovecot, account, sink, certificate, security=security, port=port,
                            smtp_security=security, smtp_user="u", smtp_password="p")  # fmt: skip
        backend = ImapBackend(config)
        mailbox.append(reply(None, OWNER, "OD-01: 48"))
        assert len(list(backend.fetch())) == 1
        backend.send(_to("owner"))
        assert len(sink.messages) == 1
        backend.close()


def test_an_untrusted_certificate_is_refused_plainly(dovecot, account, smtp, certificate):
    config = config_for(dovecot, account, smtp, certificate, ssl_context=None)
    with pytest.raises(MailUnavailable, match="its TLS certificate is not trusted"):
        list(ImapBackend(config).fetch())


def test_ssl_against_a_plain_port_says_to_check_the_security_setting(
    dovecot, account, smtp, certificate
):
    backend = ImapBackend(config_for(dovecot, account, smtp, certificate, security="ssl"))
    with pytest.raises(MailUnavailable, match="TLS failed .*check PMBOT_IMAP_SECURITY"):
        list(backend.fetch())


# -------------------------------------------------------------------------------- check()


def test_check_with_good_settings_passes_every_step_and_sends_nothing(backend, smtp):
    results = backend.check()
    assert [r.what for r in results] == [
        f"reach IMAP server 127.0.0.1:{backend.config.port} (starttls)",
        f"IMAP login as {backend.config.user}",
        "IMAP folder 'INBOX' exists",
        "the processed folder exists or can be created",
        f"reach SMTP server 127.0.0.1:{smtp.port} (starttls)",
        f"SMTP login as {SMTP_USER}",
        f"SMTP accepts mail from {BOT} (tried, then reset)",
    ]
    assert all(r.ok for r in results), results
    assert results[3].detail == "created pmbot.processed"
    assert backend.check()[3].detail == "pmbot.processed exists"
    assert smtp.messages == []


def test_check_with_wrong_passwords_says_which_login_failed_and_never_the_password(
    dovecot, account, smtp, certificate, caplog
):
    config = config_for(dovecot, account, smtp, certificate, password="wrong-Imap-9",
                        smtp_password="wrong-Smtp-9")  # fmt: skip
    with caplog.at_level(logging.DEBUG):
        results = ImapBackend(config).check()
    failed = [r for r in results if not r.ok]
    assert [r.what for r in failed] == [
        f"IMAP login as {account.user}",
        f"SMTP login as {SMTP_USER}",
    ]
    assert "check PMBOT_IMAP_USER and PMBOT_IMAP_PASSWORD" in failed[0].detail
    assert "AUTHENTICATIONFAILED" in failed[0].detail
    assert "check PMBOT_SMTP_USER and PMBOT_SMTP_PASSWORD" in failed[1].detail
    everything = " ".join(f"{r.what} {r.detail}" for r in results) + caplog.text
    assert "wrong-Imap-9" not in everything and "wrong-Smtp-9" not in everything


def test_check_names_a_missing_folder_and_a_server_that_is_down(
    dovecot, account, smtp, certificate
):
    config = config_for(dovecot, account, smtp, certificate, folder="Nope", smtp_port=1)
    results = ImapBackend(config).check()
    assert [(r.what, r.ok) for r in results][2:] == [
        ("IMAP folder 'Nope' exists", False),
        ("reach SMTP server 127.0.0.1:1 (starttls)", False),
    ]
    assert "check PMBOT_IMAP_FOLDER" in results[2].detail
    assert "connection refused" in results[3].detail


# ---------------------------------------------------------------------------- settings


ENV = {
    "PMBOT_MAIL_BACKEND": "imap",
    "PMBOT_MAIL_FROM": BOT,
    "PMBOT_IMAP_HOST": "imap.agency.example",
    "PMBOT_IMAP_USER": BOT,
    "PMBOT_IMAP_PASSWORD": " secret with spaces ",
    "PMBOT_SMTP_HOST": "smtp.agency.example",
}


def test_settings_default_to_ssl_imap_and_starttls_submission():
    backend = make_mail_backend(Settings.from_env(ENV))
    assert isinstance(backend, ImapBackend)
    c = backend.config
    assert (c.host, c.port, c.security, c.folder) == ("imap.agency.example", 993, "ssl", "INBOX")
    assert (c.smtp_host, c.smtp_port, c.smtp_security) == ("smtp.agency.example", 587, "starttls")
    assert (c.smtp_user, c.password, c.mail_from) == ("", " secret with spaces ", BOT)
    assert "secret" not in repr(c)


@pytest.mark.parametrize(
    ("change", "complaint"),
    [
        ({"PMBOT_IMAP_HOST": ""}, "PMBOT_IMAP_HOST is not set"),
        ({"PMBOT_IMAP_PASSWORD": ""}, "PMBOT_IMAP_PASSWORD is not set"),
        ({"PMBOT_SMTP_HOST": " "}, "PMBOT_SMTP_HOST is not set"),
        ({"PMBOT_IMAP_SECURITY": "tls"}, "PMBOT_IMAP_SECURITY='tls': use one of ssl, starttls"),
        ({"PMBOT_SMTP_PORT": "smtp"}, "PMBOT_SMTP_PORT='smtp' is not a port number"),
        ({"PMBOT_SMTP_USER": "bot"}, "PMBOT_SMTP_PASSWORD is not set but PMBOT_SMTP_USER is"),
        ({"PMBOT_IMAP_FOLDER": "Réponses"}, "only ASCII folder names"),
    ],
)
def test_settings_that_cannot_work_name_the_variable(change, complaint):
    with pytest.raises(ConfigError, match=complaint.replace("(", r"\(")):
        make_mail_backend(Settings.from_env({**ENV, **change}))
