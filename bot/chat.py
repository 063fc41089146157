"""The chat contract: what pmbot needs from a chat transport (Slack today, Teams next).

A transport is an adapter (``bot/<name>/``) plus its handlers (``handlers/<name>*.py``). It
implements `ChatTransport` below and the factory registers it in ``Bot.chats``; nothing outside
the adapter and its handlers knows its name. Everything else — who is prompted where, what
happens after a figure arrives, the alert lifecycle, the digest ledger — is transport-neutral
(``bot.outreach`` and ``bot.service``), so a second transport adds no rules, only wire formats.

Outbound, pmbot calls the transport (all methods may raise `ChatError`; pmbot then falls back
to email or tries again on the next tick):

    transport.find_person(email)            # their id in this chat, or None: email them instead
    transport.send_prompt(prompt, reminder) # DM the prompt with a way to submit; ref or None
    transport.tell(email, notice)           # a short message to one person; ref or None
    transport.alerts                        # a bot.alerts.Sender for the leaders, or None
    transport.post_digest(digest, pack)     # the digest to the leaders; ref or None

Inbound, the transport's handlers turn a payload into `bot.events.Submission`s and call the one
inbound use case (``Service.receive``), then render its `Receipt` in their own wire format.

Every sentence a person reads comes from ``templates/<name>/`` through the one template
environment the factory builds; a `Notice` names the template macro and its parameters, never
the words.

Chat ids are kept by the store, keyed by transport name (``Store.chat_id(name, email)``), so a
person can be in Slack and Teams at once; pmbot reaches each person on ONE chat only: the first
registered transport that finds them.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Protocol, runtime_checkable

from bot.alerts import DeliveryError

if TYPE_CHECKING:
    from bot.alerts import Sender
    from bot.digest_model import Digest
    from bot.events import Prompt, SignoffRequest

NOT_FOUND = ""  # the chat id cached for a person the transport does not know


class ChatError(DeliveryError):
    """A chat transport refused or could not be reached; `code` is its own error string."""

    def __init__(self, message: str, *, code: str = "", transient: bool = False) -> None:
        super().__init__(message, transient=transient)
        self.code = code


@dataclass(frozen=True)
class Notice:
    """A short message to one person: a template macro (``templates/<transport>/``) and its
    parameters. Transports render it; the words live in the template, never in Python."""

    code: str  # e.g. "not_in_chat", "chased"
    params: Mapping[str, Any] = field(default_factory=dict)


@runtime_checkable
class ChatTransport(Protocol):
    """One chat transport. Implementations: ``bot.slack.transport.SlackTransport``."""

    name: str  # "slack", "teams": the key of its chat ids and of its ledger entries

    def find_person(self, email: str) -> str | None:
        """The person's id in this chat (looked up once, then cached through the store), or
        None when they are not there."""
        ...

    def send_prompt(self, prompt: Prompt, *, reminder: int = 0) -> str | None:
        """Send the owner their prompt (a chase when `reminder` > 0) with a way to submit.
        Returns the message's reference, or None when the owner is not in this chat."""
        ...

    def tell(self, email: str, notice: Notice) -> str | None:
        """Send one person a short message; None when they are not in this chat."""
        ...

    def ask_signoff(self, request: SignoffRequest) -> str | None:
        """Put an area's figures to its approver with a way to approve them or query one
        (bot.signoff); the decision comes back through `bot.reach.Reach.decide`. None when the
        approver is not in this chat (then the request goes by email)."""
        ...

    @property
    def alerts(self) -> Sender | None:
        """Posts, updates and follows up the leaders' exception summary (bot.alerts.Sender);
        None when this transport has no leaders' channel configured."""
        ...

    def post_digest(self, digest: Digest, pack: str, pack_url: str | None = None) -> str | None:
        """Post the digest (and the full HTML pack) where the leaders read it, linking to the
        pack at `pack_url` when pmbot serves it (bot.packs); returns its reference, or None
        when no leaders' channel is configured."""
        ...


__all__ = ["NOT_FOUND", "ChatError", "ChatTransport", "Notice"]
