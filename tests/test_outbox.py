"""The outbox: a message that cannot be sent now is kept and sent later, once."""

from __future__ import annotations

import pytest

from bot.app import create_app
from bot.mail.base import MailRefused, MailUnavailable
from bot.mail.compose import outgoing
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


class BrokenAfter(FlakyBackend):
    """Sends `good` messages, then fails every send with `failure`."""

    def __init__(self, root, good: int, failure: Exception, idempotent: bool):
        super().__init__(root)
        self.good, self.broken_by, self.idempotent_send = good, failure, idempotent

    def send(self, message):
        if self.good == 0:
            raise self.broken_by
        self.good -= 1
        return super().send(message)


def queue_notes(bot, clock, count: int) -> list[str]:
    """`count` messages in the outbox; their Message-IDs."""
    ids = []
    for n in range(count):
        message = bot.composer.new_message("note", f"owner{n}@agency.example", f"Note {n}",
                                           clock(), f"note {n}", f"<p>note {n}</p>")  # fmt: skip
        bot.store.queue_outgoing(outgoing("note", f"note:{n}", message), clock())
        ids.append(message["Message-ID"])
    return ids


def sent_ids(bot) -> list[str]:
    return [r["message_id"] for r in bot.store.outgoing("note") if r["sent_at"]]


@pytest.mark.parametrize("idempotent", [True, False])
def test_a_server_lost_mid_delivery_records_what_went_and_keeps_the_rest(
    settings, clock, idempotent
):
    down = MailUnavailable("smtp.example.org:587 closed the connection")
    backend = BrokenAfter(settings.maildir, 3, down, idempotent)
    bot = create_app(settings, clock=clock, mail=backend)
    ids = queue_notes(bot, clock, 5)
    with pytest.raises(MailUnavailable):
        bot.deliver_mail()
    assert sent_ids(bot) == ids[:3], "the three that went are recorded"
    backend.good = 10
    assert bot.deliver_mail() == 2, "only the two still queued go"
    assert sorted(m["Message-ID"] for m in backend.outbox_messages()) == sorted(ids)
    bot.close()


def test_a_crash_mid_delivery_to_a_maildir_sends_each_message_once_in_the_end(settings, clock):
    # Sends are recorded a group at a time here: a crash undoes the group's records, and the
    # next delivery writes those files again under the same names.
    backend = BrokenAfter(settings.maildir, 3, OSError(28, "No space left on device"), True)
    bot = create_app(settings, clock=clock, mail=backend)
    ids = queue_notes(bot, clock, 5)
    with pytest.raises(OSError):
        bot.deliver_mail()
    backend.good = 10
    bot.deliver_mail()
    assert sorted(sent_ids(bot)) == sorted(ids)
    assert sorted(m["Message-ID"] for m in backend.outbox_messages()) == sorted(ids)
    bot.close()


@pytest.mark.parametrize("idempotent", [True, False])
def test_sending_never_holds_the_database_so_others_can_write_meanwhile(
    settings, clock, idempotent
):
    import sqlite3

    class WritesWhileSending(FlakyBackend):
        idempotent_send = idempotent
        writers_blocked = 0

        def send(self, message):
            # What a Slack handler does while a slow mail server keeps pmbot waiting.
            other = sqlite3.connect(settings.db_path, timeout=0)
            try:
                other.execute("BEGIN IMMEDIATE")
                other.execute("ROLLBACK")
            except sqlite3.OperationalError:
                self.writers_blocked += 1
            finally:
                other.close()
            return super().send(message)

    backend = WritesWhileSending(settings.maildir)
    bot = create_app(settings, clock=clock, mail=backend)
    queue_notes(bot, clock, 3)
    assert bot.deliver_mail() == 3
    assert backend.writers_blocked == 0
    bot.close()
