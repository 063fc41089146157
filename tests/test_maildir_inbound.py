"""Reading an inbound message: parsed exactly as the stdlib's message_from_bytes parses it."""

from __future__ import annotations

from email import message_from_bytes
from pathlib import Path

from hypothesis import given, settings
from hypothesis import strategies as st

from bot.mail.base import InboundMail

EMAILS = Path(__file__).parent / "emails"
# Pieces of mail around the places a parser reading in parts could split differently: line
# ends of every kind, boundaries, 8-bit bytes, a header block without its blank line.
PIECES = st.sampled_from([
    b"From: a@x\n", b"Subject: s\r\n", b"Content-Type: multipart/alternative; boundary=b\n",
    b"Content-Type: text/plain; charset=utf-8\n", b"\n", b"\r\n", b"\r", b"--b\n", b"--b--\n",
    b"OD-01: 48\n", b"caf\xc3\xa9 \xe9\n", b" folded\n", b"x" * 9000, b"no colon\n",
])


def leaves(message) -> list:
    """Each part's headers, and its body where it is not a container of parts."""
    return [(p.items(), None if p.is_multipart() else p.get_payload()) for p in message.walk()]


def test_every_sample_reply_is_parsed_as_message_from_bytes_parses_it():
    for path in sorted(EMAILS.iterdir()):
        raw = path.read_bytes()
        ours, theirs = InboundMail(path.name, raw).message, message_from_bytes(raw)
        assert ours.as_bytes() == theirs.as_bytes(), path.name
        assert leaves(ours) == leaves(theirs)


@settings(max_examples=500, deadline=None)
@given(st.lists(PIECES, max_size=20).map(b"".join))
def test_any_message_is_parsed_as_message_from_bytes_parses_it(raw):
    ours, theirs = InboundMail("k", raw).message, message_from_bytes(raw)
    assert ours.items() == theirs.items()
    assert [type(d) for p in ours.walk() for d in p.defects] == [
        type(d) for p in theirs.walk() for d in p.defects
    ]
    assert leaves(ours) == leaves(theirs)
    assert [(p.preamble, p.epilogue) for p in ours.walk()] == [
        (p.preamble, p.epilogue) for p in theirs.walk()
    ]


def test_a_fetched_message_is_every_byte_of_its_file(tmp_path):
    from bot.mail.maildir import MaildirBackend

    backend = MaildirBackend(tmp_path / "mail")
    big = b"From: a@x\nSubject: s\n\n" + bytes(range(256)) * 12_000  # ~3 MB, several reads
    sent = [big, b"From: b@x\n\nOD-01: 48\n", b""]
    for raw in sent:
        backend.deliver_to_inbox(raw)
    assert sorted(mail.raw for mail in backend.fetch()) == sorted(sent)
