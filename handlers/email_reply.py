"""An email reply to a prompt: each `ID: value [commentary]` line becomes a Submission.

Loop protection comes first (auto-replies are recorded and never answered; an owner's
out-of-office sends their deputy the prompt); an approver's reply to a sign-off request is a
decision; otherwise the lines become Submissions for the one inbound use case
(bot.reach.Reach.receive), and the sender gets one confirmation listing what was stored and
what was refused, threaded under their message.
What only email has is decided here first: who sent it (From or Sender, never Reply-To),
whether our server vouched for it, limits, instant and automatic replies, and quoted text.

Whatever a message does, it ends with one `inbound` record saying what happened and why; one
that cannot be read is recorded as quarantined, and the poll goes on with the next.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from datetime import datetime, timedelta
from email import message_from_bytes
from email.message import Message
from email.utils import parsedate_to_datetime
from typing import Any

from bot.events import Inbound, Outcome, Receipt, Submission
from bot.mail.base import MAX_MESSAGE_BYTES, InboundMail, UnreadableMail
from bot.mail.compose import Composer, header_text, outgoing
from bot.mail.quoted_prompt import answers_typed_into
from bot.mail.replies import auto_reply_reason, full_text, reply_text, says_away
from bot.mail.trust import authentication_failure, automated_body_reason, fingerprint, identity
from bot.periods import london_date, parse_period, reporting_period
from bot.reach import Reach
from bot.service import Service
from bot.store import Outgoing
from bot.values import split_line

MAX_LINES = 200  # a reply for 30 measures with commentary is well under this
FAST_REPLY = timedelta(seconds=10)  # no person reads a prompt and answers within this
# Answers to messages that stored nothing go at most once an hour to one sender, whatever the
# message was: a responder pmbot does not recognise then gets one answer, not one a poll.
LIMITED_ANSWER = "no-figures"


@dataclass(frozen=True)
class ReplyResult:
    message_id: str
    sender: str
    outcome: str  # stored, rejected, ignored, quarantined, seen (processed on an earlier poll)
    reason: str
    outcomes: tuple[Outcome, ...] = ()


def handle_reply(
    mail: InboundMail,
    *,
    reach: Reach,
    composer: Composer,
    bot_address: str,
    now: datetime,
    authserv_id: str = "",
) -> ReplyResult:
    service = reach.service
    try:
        message = mail.message
    except UnreadableMail as exc:
        return quarantine(mail, service, now, f"unreadable: {exc}")
    message_id = message_id_of(mail)
    author, delegate = identity(message)
    sender = author
    if delegate and not service.is_known(author) and service.is_known(delegate):
        sender = delegate  # a registered deputy sending from a shared mailbox
    print_ = fingerprint(sender, mail.raw)
    if service.inbound_seen(message_id, print_):
        return ReplyResult(message_id, sender, "seen", reach.reason("seen"))
    reused = service.inbound_id_taken(message_id)
    # Submissions and the confirmation are keyed on the id; a reused id gets the fingerprint
    # too, so that this message's figures are not taken for the earlier one's.
    key = f"{message_id}+{print_}" if reused else message_id
    note = "; reused Message-ID" if reused else ""
    subject = header_text(message.get("Subject"))

    def record(
        outcome: str,
        reason: str,
        outcomes: tuple[Outcome, ...] = (),
        answer: bool = False,
        notice: dict[str, object] | None = None,
    ) -> ReplyResult:
        reply = None
        if answer and not service.answered_lately(LIMITED_ANSWER, sender, now):
            confirmation = composer.confirmation(message, sender, list(outcomes), now, notice)
            reply = outgoing(LIMITED_ANSWER, f"confirmation:{key}", confirmation)
        elif answer:
            reason += "; hourly answer limit"
        service.record_inbound(
            message_id=message_id, fingerprint=print_, channel="email", sender=sender,
            subject=subject, received_at=now, outcome=outcome, reason=(reason + note)[:1000],
            reply=reply,
        )  # fmt: skip
        return ReplyResult(message_id, sender, outcome, reason + note, outcomes)

    ignore = auto_reply_reason(message, bot_address) or ""
    refs = [header_text(message.get("In-Reply-To"))]
    refs = [r for r in [*refs, *header_text(message.get("References")).split()] if r]
    answered = service.sent_message(refs) if refs else None
    known = service.is_known(sender)
    if ignore and known and says_away(message):
        # The owner is away: their deputy gets the prompt now, not at escalation.
        cycle = service.cycle_for_reply(refs, subject) or str(reporting_period(london_date(now)))
        if reach.prompt_deputies(sender, parse_period(cycle), now, away=True):
            ignore = reach.reason("deputy_asked", why=ignore)
    if not ignore and known:
        if forged := authentication_failure(message, authserv_id):
            # Answered, but only ever to the registered address: never to Reply-To.
            notice = {"kind": "unverified", "detail": forged}
            return record("rejected", f"not taken: {forged}", answer=True, notice=notice)
        ignore = fast_reply_reason(message, answered) or ""
    if not ignore and known and mail.too_large:
        size = {"size_mb": round(len(mail.raw) / 1e6), "limit_mb": MAX_MESSAGE_BYTES // 10**6}
        return record("rejected", "too large", answer=True, notice={"kind": "too_large", **size})
    signoff = service.signoff_for_reply(refs, subject) if not ignore and known else None
    if signoff is not None:
        # An approver's APPROVE or QUERY, recorded once with its answer threaded under it.
        area, cycle = signoff
        result = reach.decide(text=reply_text(message), who=sender, channel="email",
                              source_ref=key, now=now, cycle=parse_period(cycle),
                              area=area)  # fmt: skip
        said = composer.say("signoff.txt", "decision", result)
        answer = composer.answer("signoff_answer", message, sender, now, result=result)
        outcome = "stored" if result.ok else "rejected"
        service.record_inbound(
            message_id=message_id, fingerprint=print_, channel="email", sender=sender,
            subject=subject, received_at=now, outcome=outcome, reason=(said + note)[:1000],
            reply=outgoing("confirmation", f"confirmation:{key}", answer),
        )  # fmt: skip
        return ReplyResult(message_id, sender, outcome, said + note)
    text = reply_text(message) if not ignore and known else ""
    if (count := len(text.splitlines())) > MAX_LINES:
        notice = {"kind": "too_long", "lines": count, "limit": MAX_LINES}
        return record("rejected", f"{count} lines", answer=True, notice=notice)
    answers = answered_lines(text)
    if text and not answers and answered is not None and answered["kind"] in ("prompt", "reminder"):
        answers = answered_lines("\n".join(typed_into_prompt(message, answered["message"])))
    if known and not ignore and not answers:
        ignore = automated_body_reason(text) or ""
    taken, repeated = topmost_per_measure(answers)
    cycle = service.cycle_for_reply(refs, subject) if taken else None
    submissions = tuple(
        Submission(
            measure_id=measure_id,
            raw_value=raw_value,
            sender=sender,
            channel="email",
            source_ref=f"{key}#{number}",
            received_at=now,
            cycle=cycle,
        )
        for number, (measure_id, raw_value) in taken
    )
    inbound = Inbound(message_id, "email", sender, now, submissions, subject, ignore, print_)

    def reply(receipt: Receipt) -> Outgoing | None:
        # No answer to strangers: a reply would be backscatter to forged or mistyped senders.
        if receipt.code == "stranger":
            return None
        outcomes = [*receipt.outcomes, *repeated]
        if receipt.code == "no_figures":
            if service.answered_lately(LIMITED_ANSWER, sender, now):
                return None  # loop protection: one answer an hour to a sender without figures
            confirmation = composer.confirmation(message, sender, outcomes, now)
            return outgoing(LIMITED_ANSWER, f"confirmation:{key}", confirmation)
        confirmation = composer.confirmation(message, sender, outcomes, now)
        return outgoing("confirmation", f"confirmation:{key}", confirmation)

    receipt = reach.receive(inbound, reply=reply)
    outcomes = (*receipt.outcomes, *repeated)
    return ReplyResult(message_id, sender, receipt.outcome, receipt.reason + note, outcomes)


def answered_lines(text: str) -> list[tuple[int, tuple[str, str]]]:
    """Numbered (id, value) pairs; a template line left blank ('OD-02: ') is not an answer."""
    lines = ((n, split_line(line)) for n, line in enumerate(text.splitlines(), start=1))
    return [(n, pair) for n, pair in lines if pair is not None and pair[1].strip()]


def topmost_per_measure(
    answers: list[tuple[int, tuple[str, str]]],
) -> tuple[list[tuple[int, tuple[str, str]]], list[Outcome]]:
    """The first answer for each measure, and a refusal for every later one.

    A second figure for one measure in one message is most likely quoted text that slipped
    through; taken, it would become a correction and so the current value.
    """
    first: dict[str, tuple[int, str]] = {}
    taken, repeated = [], []
    for number, (measure_id, raw_value) in answers:
        if measure_id not in first:
            first[measure_id] = (number, raw_value)
            taken.append((number, (measure_id, raw_value)))
            continue
        _, value = first[measure_id]
        params = {"value": raw_value[:40], "first": value[:40]}
        repeated.append(Outcome(measure_id, False, "not_first", params))
    return taken, repeated


def typed_into_prompt(message: Message, prompt: bytes) -> list[str]:
    """Answer lines the owner typed into the quoted prompt ('see below')."""
    if not prompt:  # the body of mail sent long ago is dropped
        return []
    return answers_typed_into(full_text(message), full_text(message_from_bytes(prompt)))


def fast_reply_reason(message: Message, answered: dict[str, Any] | None) -> str | None:
    """'automatic reply (...)' when the message is dated within seconds of pmbot's message."""
    if answered is None or not answered["sent_at"]:
        return None
    try:
        dated = parsedate_to_datetime(header_text(message.get("Date")))
        gap = (dated - datetime.fromisoformat(answered["sent_at"])).total_seconds()
    except (TypeError, ValueError, IndexError, OverflowError):
        return None  # no Date, or one without a time zone: nothing to compare
    if abs(gap) >= FAST_REPLY.total_seconds():
        return None
    return f"auto-reply after {gap:.0f} s"


def quarantine(mail: InboundMail, service: Service, now: datetime, reason: str) -> ReplyResult:
    """Record a message that cannot be processed; the caller moves it to quarantine."""
    try:
        headers = mail.headers
        sender = identity(headers)[0]
        subject = header_text(headers.get("Subject"))
        message_id = header_text(headers.get("Message-ID"))
    except Exception:  # noqa: BLE001 (even the header block is beyond reading)
        sender, subject, message_id = "", "", ""
    message_id = message_id or raw_id(mail.raw)
    service.record_inbound(
        message_id=message_id, fingerprint=raw_id(mail.raw), channel="email", sender=sender,
        subject=subject, received_at=now, outcome="quarantined", reason=reason[:1000],
    )  # fmt: skip
    return ReplyResult(message_id, sender, "quarantined", reason)


def message_id_of(mail: InboundMail) -> str:
    message_id = header_text(mail.message.get("Message-ID"))
    return message_id or raw_id(mail.raw)


def raw_id(raw: bytes) -> str:
    # Without a Message-ID the content itself identifies the message across polls.
    return "sha1:" + hashlib.sha1(raw).hexdigest()
