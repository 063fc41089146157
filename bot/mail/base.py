"""The contract every mail backend keeps, and pmbot's own mail errors.

A backend moves whole RFC 5322 messages; parsing, loop protection and deduplication happen
above it on stdlib `EmailMessage` objects, so every backend behaves the same.
"""

from __future__ import annotations

import functools
import re
from collections.abc import Iterator
from dataclasses import dataclass
from email import message_from_bytes
from email.message import Message
from email.parser import BytesHeaderParser
from functools import cached_property
from typing import Protocol


class MailError(Exception):
    """Base of pmbot's mail errors; backends translate their library's errors into these."""


class MailUnavailable(MailError):
    """The mail server cannot be reached or refused us; try again later."""


class MailRefused(MailError):
    """The server refused one message (bad recipient, too large); retrying will not help."""


class UnreadableMail(MailError):
    """One inbound message that cannot be parsed; it is quarantined, the poll goes on."""


MAX_MIME_PARTS = 200  # a reply with a signature logo and a few attachments has under 20
MAX_MESSAGE_BYTES = 10_000_000  # figures are text; beyond this only the headers are read


@dataclass(frozen=True)
class InboundMail:
    key: str  # the backend's handle for mark_done (file name, UID, item id)
    raw: bytes  # the whole RFC 5322 message

    @cached_property
    def message(self) -> Message:
        """The parsed message; raises UnreadableMail for one the parser cannot take (MIME
        nested hundreds deep makes it recurse past Python's limit)."""
        if len(self.raw) > MAX_MESSAGE_BYTES:
            return self.headers
        if self.raw.lower().count(b"boundary=") > MAX_MIME_PARTS:
            raise UnreadableMail(f"more than {MAX_MIME_PARTS} MIME parts")
        try:
            # compat32 leaves headers as text until asked: ten times faster than
            # policy.default on a busy inbox, and bot.mail.replies reads either kind.
            return message_from_bytes(self.raw)
        except (RecursionError, MemoryError, ValueError, LookupError, TypeError) as exc:
            raise UnreadableMail(f"cannot be parsed ({type(exc).__name__})") from exc

    @cached_property
    def headers(self) -> Message:
        """The header block alone: enough to know who sent a message that cannot be read."""
        head = re.split(rb"\r?\n\r?\n", self.raw[:200_000], maxsplit=1)[0]
        return BytesHeaderParser().parsebytes(head + b"\n\n")

    @property
    def too_large(self) -> bool:
        return len(self.raw) > MAX_MESSAGE_BYTES


@dataclass(frozen=True)
class CheckResult:
    """One line of `pmbot mail check`: what was tried, whether it worked, and what to do."""

    what: str  # "connect to imap.example.org:993", "log in as bot@example.org", ...
    ok: bool
    detail: str = ""  # on failure: the plain reason and the fix


CRLF = re.compile(rb"\r?\n")
# A header block written with "\n" line ends, in ASCII, each line a header ("Name: value") or
# its continuation: one the stdlib parser reads without a defect, so a scan can read it too.
PLAIN_HEADER_BLOCK = re.compile(
    rb"[\x21-\x39\x3b-\x7e]+:[^\r\n]*(?:\n[ \t][^\r\n]*)*"
    rb"(?:\n[\x21-\x39\x3b-\x7e]+:[^\r\n]*(?:\n[ \t][^\r\n]*)*)*"
)


class QueuedMessage(Message):
    """A message read back from the outbox: `as_bytes()` gives back exactly the queued bytes,
    so nothing is serialised twice, and the headers are parsed (the body left as it was) only
    when something asks for more than `get`: a Maildir send needs just the bytes and the
    Message-ID, and parsing the headers was most of handing a queued message over."""

    raw = b""
    edited = False

    def __init__(self, raw: bytes) -> None:
        # Message.__init__ is left to the parse (`__getattr__`), on first use.
        self.raw = raw

    def __getattr__(self, name: str):
        # Reached only for an attribute the instance lacks: before the parse, Message's own.
        if name.startswith("__") or "_headers" in vars(self):
            raise AttributeError(name)
        vars(self).update(vars(BytesHeaderParser().parsebytes(self.raw)))
        return getattr(self, name)

    def get(self, name: str, failobj=None):
        """What `Message.get` gives; before the parse, from a scan of a plain header block."""
        if "_headers" not in vars(self) and (head := self.plain_head) is not None:
            value = scanned_header(head, name)
            if value is not None:
                return failobj if value is MISSING else value
        return super().get(name, failobj)

    @cached_property
    def plain_head(self) -> bytes | None:
        """The header block, if it is plain enough to be read without the parser."""
        head, blank, _ = self.raw.partition(b"\n\n")
        return head if blank and head.isascii() and PLAIN_HEADER_BLOCK.fullmatch(head) else None

    def __setitem__(self, name: str, value) -> None:
        self.edited = True  # changed: serialised afresh (the parse comes first, by `policy`)
        super().__setitem__(name, value)

    def as_bytes(self, unixfrom: bool = False, policy=None) -> bytes:
        if self.edited:
            return super().as_bytes(unixfrom, policy)
        if policy is not None and policy.linesep == "\r\n":  # SMTP wants CRLF line ends
            return CRLF.sub(b"\r\n", self.raw)
        return self.raw


MISSING = object()
HEADER_NAME = re.compile(r"[\x21-\x39\x3b-\x7e]+")


def scanned_header(head: bytes, name: str):
    """The first `name` header of a plain header block (`PLAIN_HEADER_BLOCK`) as compat32's
    parser gives it, MISSING if there is none; None for a name no header line can have."""
    if not HEADER_NAME.fullmatch(name):
        return None
    found = _header_pattern(name).search(head)
    return found.group(1).decode("ascii") if found else MISSING


@functools.lru_cache(maxsize=32)
def _header_pattern(name: str) -> re.Pattern[bytes]:
    # compat32 keeps a value as written: the first line's text without the blanks after the
    # colon, then each continuation line, line ends included but for the last.
    return re.compile(
        rb"^" + re.escape(name.encode("ascii")) + rb":[ \t]*([^\n]*(?:\n[ \t][^\n]*)*)",
        re.IGNORECASE | re.MULTILINE,
    )


def queued_message(raw: bytes) -> Message:
    return QueuedMessage(raw)


class MailBackend(Protocol):
    def fetch(self) -> Iterator[InboundMail]:
        """Messages waiting in the inbox, oldest first."""

    def send(self, message: Message) -> str:
        """Send a message; returns its transport reference (the Message-ID if nothing better)."""

    def mark_done(self, mail: InboundMail) -> None:
        """Move a processed message out of the inbox (kept, never deleted)."""

    # Optional: `idempotent_send = True` says that sending a message twice delivers it once
    # (Maildir); the bot then records a batch of sends in one transaction instead of one each.

    # Optional: quarantine(mail) moves a message pmbot could not read out of the inbox, apart
    # from processed mail. A backend without it has such mail moved with the processed mail;
    # either way the inbound record says it was quarantined and why.

    def check(self) -> list[CheckResult]:
        """Try each step (reach the server, log in, open the folder, may send) and report."""

    def close(self) -> None: ...

