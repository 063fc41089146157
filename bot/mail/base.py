"""The contract every mail backend keeps, and pmbot's own mail errors.

A backend moves whole RFC 5322 messages; parsing, loop protection and deduplication happen
above it on stdlib `EmailMessage` objects, so every backend behaves the same.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from email.message import EmailMessage
from typing import Protocol


class MailError(Exception):
    """Base of pmbot's mail errors; backends translate their library's errors into these."""


class MailUnavailable(MailError):
    """The mail server cannot be reached or refused us; try again later."""


class MailRefused(MailError):
    """The server refused one message (bad recipient, too large); retrying will not help."""


@dataclass(frozen=True)
class InboundMail:
    key: str  # the backend's handle for mark_done (file name, UID, item id)
    message: EmailMessage


class MailBackend(Protocol):
    def fetch(self) -> Iterator[InboundMail]:
        """Messages waiting in the inbox, oldest first."""

    def send(self, message: EmailMessage) -> str:
        """Send a message; returns its transport reference (the Message-ID if nothing better)."""

    def mark_done(self, mail: InboundMail) -> None:
        """Move a processed message out of the inbox (kept, never deleted)."""

    def close(self) -> None: ...
