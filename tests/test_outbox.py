"""The outbox: a message that cannot be sent now is kept and sent later, once."""

from __future__ import annotations

import pytest

from bot.app import create_app
from bot.mail.base import MailRefused, MailUnavailable
from bot.mail.maildir import MaildirBackend
from bot.periods import parse_period

OCTOBER = parse_period("2026-10")


class FlakyBackend(MaildirBackend):
    """A Maildir whose sending fails on demand, as a real server would."""

    def __init__(self, root):
        super().__init__(root)
        self.failure: Exception | None = None

    def send(self, message):
        if self.failure is not None:
            raise self.failure
        return super().send(message)


@pytest.fixture
def flaky(settings, clock, register_file):
    backend = FlakyBackend(settings.maildir)
    bot = create_app(settings, clock=clock, mail=backend)
    bot.service.import_register(register_file, clock())
    yield bot, backend
    bot.close()


def test_a_prompt_that_cannot_be_sent_is_kept_and_sent_when_the_server_returns(flaky):
    bot, backend = flaky
    backend.failure = MailUnavailable("smtp.example.org:587 refused the connection")
    with pytest.raises(MailUnavailable):
        bot.send_prompts(OCTOBER)
    assert backend.outbox_messages() == []
    [queued] = bot.store.outgoing("prompt")
    assert queued["sent_at"] is None and "refused the connection" in queued["last_error"]
    with pytest.raises(MailUnavailable):
        bot.poll_mail()  # still down: still queued, nothing decided twice
    assert len(bot.store.outgoing("prompt")) == 1
    backend.failure = None
    bot.poll_mail()
    [sent] = backend.outbox_messages()
    assert sent["Message-ID"] == queued["message_id"]
    assert bot.deliver_mail() == 0, "a message that went is never sent again"


def test_a_refused_message_is_set_aside_with_its_reason_and_the_rest_go(flaky):
    bot, backend = flaky
    backend.failure = MailRefused("recipient rejected: 550 no such user")
    bot.send_prompts(OCTOBER)
    [row] = bot.store.outgoing("prompt")
    assert row["failed"] == 1 and "550 no such user" in row["last_error"]
    backend.failure = None
    assert bot.deliver_mail() == 0, "a refused message is not retried for ever"


def test_sending_the_same_message_twice_leaves_one_copy_in_the_maildir_outbox(flaky):
    bot, backend = flaky
    bot.send_prompts(OCTOBER)
    [message] = backend.outbox_messages()
    backend.send(message)  # as if a crash came between sending and recording it
    assert len(backend.outbox_messages()) == 1


def test_a_queued_message_is_sent_as_the_exact_bytes_that_were_queued():
    from email import policy

    from bot.mail.base import queued_message

    raw = b"From: a@x\nTo: b@x\nMessage-ID: <1@x>\nSubject: s\n\nOD-01: 48\nline two\n"
    message = queued_message(raw)
    assert message.as_bytes() == raw and message["To"] == "b@x"
    assert message.as_bytes(policy=policy.SMTP).count(b"\r\n") == raw.count(b"\n")
    message["X-Extra"] = "1"  # a change means serialising it afresh, with the change
    assert b"X-Extra: 1" in message.as_bytes()


def test_bodies_of_mail_sent_long_ago_are_dropped_but_the_record_stays(flaky, clock):
    bot, _ = flaky
    bot.send_prompts(OCTOBER)

    def october_prompt():
        [row] = [r for r in bot.store.outgoing("prompt") if r["key"].endswith(":2026-10")]
        return row

    clock.advance(days=89)
    bot.tick()
    assert october_prompt()["message"], "kept for 90 days"
    clock.advance(days=2)
    bot.tick()
    row = october_prompt()
    assert row["message"] == b"" and row["sent_at"] and row["recipients"]
