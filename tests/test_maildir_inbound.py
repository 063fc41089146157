"""Reading the inbox: a fetched message is every byte of its file."""

from __future__ import annotations


def test_a_fetched_message_is_every_byte_of_its_file(tmp_path):
    from bot.mail.maildir import MaildirBackend

    backend = MaildirBackend(tmp_path / "mail")
    big = b"From: a@x\nSubject: s\n\n" + bytes(range(256)) * 12_000  # ~3 MB, several reads
    sent = [big, b"From: b@x\n\nOD-01: 48\n", b""]
    for raw in sent:
        backend.deliver_to_inbox(raw)
    assert sorted(mail.raw for mail in backend.fetch()) == sorted(sent)
