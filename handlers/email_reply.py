"""An email reply to a prompt: each `ID: value [commentary]` line becomes a Submission.

Loop protection comes first (auto-replies are recorded and never answered), then every line is
handed to the service on its own, and the sender gets one confirmation listing what was stored
and what was refused, threaded under their message.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from datetime import datetime

from bot.events import Outcome, Submission
from bot.mail.base import InboundMail
from bot.mail.compose import Composer, header_text, outgoing
from bot.mail.replies import auto_reply_reason, reply_text, sender_address
from bot.service import Service
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
    service: Service,
    composer: Composer,
    bot_address: str,
    now: datetime,
) -> ReplyResult:
    message = mail.message
    message_id = message_id_of(mail)
    sender = sender_address(message)
    subject = header_text(message.get("Subject"))
    if service.inbound_seen(message_id):
        return ReplyResult(message_id, sender, "seen", "processed on an earlier poll")

    def record(
        outcome: str, reason: str, outcomes: tuple[Outcome, ...] = (), answer: bool = False
    ) -> ReplyResult:
        reply = None
        if answer:
            confirmation = composer.confirmation(message, sender, list(outcomes), now)
            reply = outgoing("confirmation", f"confirmation:{message_id}", confirmation)
        service.record_inbound(
            message_id=message_id, channel="email", sender=sender, subject=subject,
            received_at=now, outcome=outcome, reason=reason, reply=reply,
        )  # fmt: skip
        return ReplyResult(message_id, sender, outcome, reason, outcomes)

    if reason := auto_reply_reason(message, bot_address):
        return record("ignored", reason)
    if not service.is_known(sender):
        # No answer to strangers: a reply would be backscatter to forged or mistyped senders.
        return record("rejected", f"{sender or 'unknown sender'} is not in the register")

    refs = [
        header_text(message.get("In-Reply-To")),
        *header_text(message.get("References")).split(),
    ]
    cycle = service.cycle_for_reply([r for r in refs if r], subject)
    outcomes = tuple(
        service.submit(
            Submission(
                measure_id=measure_id,
                raw_value=raw_value,
                sender=sender,
                channel="email",
                source_ref=f"{message_id}#{number}",
                received_at=now,
                cycle=cycle,
            )
        )
        for number, (measure_id, raw_value) in answered_lines(reply_text(message))
    )
    stored = sum(o.stored for o in outcomes)
    refusals = "; ".join(o.message for o in outcomes if not o.stored)
    if stored:
        reason = f"{stored} stored" + (f"; refused: {refusals}" if refusals else "")
        return record("stored", reason[:1000], outcomes, answer=True)
    if outcomes:
        return record("rejected", refusals[:1000], outcomes, answer=True)
    return record("rejected", "no lines of the form 'OD-01: value' found", answer=True)


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
