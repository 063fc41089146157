"""An email reply to a prompt: each `ID: value [commentary]` line becomes a Submission.

Loop protection comes first (auto-replies are recorded and never answered); the lines become
Submissions for the one inbound use case (bot.reach.Reach.receive), and the sender gets one
confirmation listing what was stored and what was refused, threaded under their message.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from datetime import datetime

from bot.events import Inbound, Outcome, Receipt, Submission
from bot.mail.base import InboundMail
from bot.mail.compose import Composer, header_text, outgoing
from bot.mail.replies import auto_reply_reason, reply_text, sender_address
from bot.reach import Reach
from bot.store import Outgoing
from bot.values import split_line


@dataclass(frozen=True)
class ReplyResult:
    message_id: str
    sender: str
    outcome: str  # stored, rejected, ignored, seen (processed on an earlier poll)
    reason: str
    outcomes: tuple[Outcome, ...] = ()


def handle_reply(
    mail: InboundMail,
    *,
    reach: Reach,
    composer: Composer,
    bot_address: str,
    now: datetime,
) -> ReplyResult:
    message = mail.message
    message_id = message_id_of(mail)
    sender = sender_address(message)
    subject = header_text(message.get("Subject"))
    ignore = auto_reply_reason(message, bot_address) or ""
    submissions: tuple[Submission, ...] = ()
    if not ignore:
        refs = [
            header_text(message.get("In-Reply-To")),
            *header_text(message.get("References")).split(),
        ]
        cycle = reach.service.cycle_for_reply([r for r in refs if r], subject)
        submissions = tuple(
            Submission(
                measure_id=measure_id,
                raw_value=raw_value,
                sender=sender,
                channel="email",
                source_ref=f"{message_id}#{number}",
                received_at=now,
                cycle=cycle,
            )
            for number, (measure_id, raw_value) in answered_lines(reply_text(message))
        )
    inbound = Inbound(message_id, "email", sender, now, submissions, subject, ignore)

    def reply(receipt: Receipt) -> Outgoing | None:
        # No answer to strangers: a reply would be backscatter to forged or mistyped senders.
        if receipt.code == "stranger":
            return None
        confirmation = composer.confirmation(message, sender, list(receipt.outcomes), now)
        return outgoing("confirmation", f"confirmation:{message_id}", confirmation)

    receipt = reach.receive(inbound, reply=reply)
    return ReplyResult(message_id, sender, receipt.outcome, receipt.reason, receipt.outcomes)


def answered_lines(text: str) -> list[tuple[int, tuple[str, str]]]:
    """Numbered (id, value) pairs; a template line left blank ('OD-02: ') is not an answer."""
    lines = ((n, split_line(line)) for n, line in enumerate(text.splitlines(), start=1))
    return [(n, pair) for n, pair in lines if pair is not None and pair[1].strip()]


def message_id_of(mail: InboundMail) -> str:
    message_id = header_text(mail.message.get("Message-ID"))
    if message_id:
        return message_id
    # Without a Message-ID the content itself identifies the message across polls.
    return "sha1:" + hashlib.sha1(mail.raw).hexdigest()
