"""Handing a queued message to the Maildir backend: the Message-ID read without the parser is
the parser's, and the file written is the very bytes that were queued."""

from __future__ import annotations

import hashlib
import pickle
from email.parser import BytesHeaderParser

from hypothesis import given, settings
from hypothesis import strategies as st

from bot.mail.base import queued_message
from bot.mail.maildir import MaildirBackend

NAMES = ["Message-ID", "message-id", "To", "Subject", "X-PMBot", "Missing", "Message-ID ", "é"]
# Header lines as pmbot writes them, and the awkward ones (folds, blank values, CR, tabs,
# non-ASCII, a name with a space, a line with no colon, "From ") that must not fool the scan.
LINES = st.lists(
    st.sampled_from([
        "Message-ID: <1.confirmation@agency.example>", "MESSAGE-ID:   <2@x>  ",
        "Message-ID:", "Message-ID:\t", " <3@x>", "\t<4@x>", " ", "To: a@x, b@x",
        "Subject: Re: Figures [PM-1]", "Subject: caf\u00e9", "X-PMBot: confirmation",
        "Message-ID : <5@x>", "no colon here", "From a@x Mon Nov  2 09:00:00 2026",
        "Subject: a\rb", ":empty name", "X-Odd: \x0c\x00", "References: <a@x>\r",
    ]),
    max_size=8,
)


@settings(max_examples=1500, deadline=None)
@given(LINES, st.sampled_from(["\n\nbody\n", "\n\n", "\n", "", "\r\n\r\nbody\n"]), st.data())
def test_a_queued_header_is_read_as_the_parser_reads_it(lines, end, data):
    raw = ("\n".join(lines) + end).encode("utf-8")
    name = data.draw(st.sampled_from(NAMES))
    parsed = BytesHeaderParser().parsebytes(raw)
    queued = queued_message(raw)
    assert queued.get(name, "none") == parsed.get(name, "none")
    assert queued[name] == parsed[name]
    assert queued.as_bytes() == raw
    assert queued.items() == parsed.items(), "once parsed, every header is the parser's"
    assert queued.get(name, "none") == parsed.get(name, "none")
    assert queued.as_bytes() == raw


def test_a_queued_message_survives_a_copy_before_it_is_parsed():
    raw = b"To: b@x\nMessage-ID: <1@x>\n\nOD-01: 48\n"
    copied = pickle.loads(pickle.dumps(queued_message(raw)))
    assert copied.as_bytes() == raw and copied["To"] == "b@x"
    assert copied.get_payload() == "OD-01: 48\n"


def test_a_sent_message_is_the_queued_bytes_in_a_file_named_after_its_message_id(tmp_path):
    backend = MaildirBackend(tmp_path / "mail")
    raw = b"To: b@x\nMessage-ID:\n <1.confirmation@agency.example>\nSubject: s\n\nOD-01: 48\n"
    assert backend.send(queued_message(raw)) == "\n <1.confirmation@agency.example>"
    digest = hashlib.sha1(b"<1.confirmation@agency.example>").hexdigest()[:20]
    sent = tmp_path / "mail" / "outbox" / "new" / f"{digest}.pmbot"
    assert sent.read_bytes() == raw
    backend.send(queued_message(raw))  # again, as after a crash: the same file, once
    assert [p.name for p in sent.parent.iterdir()] == [sent.name]
    assert not list((tmp_path / "mail" / "outbox" / "tmp").iterdir())
