"""How pmbot reaches people, whatever the transport: prompts and chases, leaders' alerts, the
digest. Transport-neutral: chat transports are `bot.chat.ChatTransport`s, email is the outbox.

One prompt path: the tick, `pmbot prompts send`, `pmbot chase` and `/pm chase` all send through
`Reach.send`, which chooses each person's transport the same way: the first chat that finds
them, email otherwise (and email too when their chat fails: an outage must not stop a cycle).
A person is reached on one chat only.
"""

from __future__ import annotations

import hashlib
import logging
import threading
from collections.abc import Callable, Iterable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from datetime import datetime
from typing import TYPE_CHECKING, Any

from bot.alerts import AlertPipeline, AlertReport, DeliveryError, Plan, Summary
from bot.chat import ChatTransport
from bot.events import Inbound, Prompt, Receipt, SignoffRequest
from bot.mail.compose import Composer, outgoing
from bot.outreach import period_label
from bot.packs import Packs
from bot.periods import Period, london_date, reporting_period
from bot.store import Outgoing
from bot.timetable import Action
from bot.workflow import DEPUTY_PROMPT, QUERY_PROMPT, DecisionResult

if TYPE_CHECKING:
    from bot.digest_model import Digest
    from bot.events import StatusReport
    from bot.service import Service

log = logging.getLogger("pmbot")
FANOUT_WORKERS = 32  # enough to keep each chat method at its pace while some calls wait out a 429
EMAIL = "email"  # the ledger prefix of the email alert lifecycle


@dataclass
class PromptRun:
    """What one send did: chat references by owner, who was emailed, who could not be reached."""

    by_chat: dict[str, str] = field(default_factory=dict)  # owner email -> chat reference
    by_email: list[Prompt] = field(default_factory=list)
    failed: dict[str, str] = field(default_factory=dict)  # owner email -> why (try again later)
    prompts: list[Prompt] = field(default_factory=list)  # every prompt that went, either way


@dataclass(frozen=True)
class ChaseResult:
    total: int  # owners chased
    measures: int
    by_chat: int
    by_email: int
    failed: tuple[str, ...] = ()


class Reach:
    def __init__(
        self,
        service: Service,
        composer: Composer,
        clock: Callable[[], datetime],
        deliver_mail: Callable[[], Any],
    ) -> None:
        self.service = service
        self.composer = composer
        self.clock = clock
        self.deliver_mail = deliver_mail
        self.chats: list[ChatTransport] = []
        self.packs: Packs | None = None  # with PMBOT_PUBLIC_URL: the digest links its pack
        self.pipelines: dict[str, AlertPipeline] = {}
        self.email_alerts = AlertPipeline(
            service.store, EmailAlerts(self), ledger=f"{EMAIL}-", follow_up_changes=True
        )
        self.alerts_checked: tuple | None = None  # what the last complete alert check saw
        self.rendered: tuple[Digest, str] | None = None  # the last digest's pack (`pack`)

    def add_chat(self, chat: ChatTransport) -> None:
        """Register a chat transport (replacing one of the same name); earlier ones win when a
        person is in two chats."""
        self.chats = [c for c in self.chats if c.name != chat.name] + [chat]
        self.pipelines.pop(chat.name, None)

    # -- prompts: one path for the tick, `prompts send`, `pmbot chase` and `/pm chase` -------

    def send(
        self,
        kind: str,
        prompts: Iterable[tuple[Prompt, str]],
        now: datetime,
        *,
        reminder: int = 0,
        workers: int = FANOUT_WORKERS,
    ) -> PromptRun:
        """Send each (prompt, ledger key) by chat where the owner is found, by email otherwise,
        recording each in the ledger as soon as it went (so nothing goes twice)."""
        run = PromptRun()
        recording = threading.Lock()  # one writer at a time: the ledger is one SQLite file
        pending = list(prompts)

        def by_chat(item: tuple[Prompt, str]) -> None:
            prompt, key = item
            ref = self.chat_prompt(prompt, reminder)
            if not ref:
                return
            with recording:
                if self.service.record_action(
                    kind, key, now, transport_ref=ref, cycle=prompt.cycle
                ):  # fmt: skip
                    run.by_chat[prompt.owner_email] = ref
                    run.prompts.append(prompt)

        if self.chats:
            with ThreadPoolExecutor(max(1, workers), thread_name_prefix="chat-send") as pool:
                list(pool.map(by_chat, pending))
        for prompt, key in pending:
            if prompt.owner_email in run.by_chat:
                continue
            message = self.composer.prompt(prompt, now, reminder)
            mail = outgoing(kind, f"{kind}:{key}", message)
            if self.service.record_action(kind, key, now, outgoing=mail, cycle=prompt.cycle):
                run.by_email.append(prompt)
                run.prompts.append(prompt)
        return run

    def chat_prompt(self, prompt: Prompt, reminder: int) -> str | None:
        """The first chat that finds the owner sends it; None: email them (a failing chat is
        logged and the prompt goes by email rather than not at all)."""
        for chat in self.chats:
            try:
                ref = chat.send_prompt(prompt, reminder=reminder)
            except Exception:  # noqa: BLE001 - any chat failure means: by email instead
                log.exception("%s could not take the prompt to %s; it goes by email",
                              chat.name, prompt.owner_email)  # fmt: skip
                return None
            if ref:
                return ref
        return None

    def send_prompts(self, cycle: Period, now: datetime) -> PromptRun:
        """Each owner with outstanding measures and no prompt yet for this cycle."""
        prompts = self.service.due_prompts(cycle, now)
        return self.send("prompt", [(p, p.ledger_key) for p in prompts], now)

    def chase(self, cycle: Period, stamp: str, now: datetime) -> ChaseResult:
        """Remind every owner still to send, now (a coordinator asked): `stamp` makes this
        chase's ledger keys its own."""
        report = self.service.status(cycle, now)
        prompts = self.service.prompts_for(cycle, report, report.outstanding)
        keyed = [(p, f"{p.owner_email}:{cycle}:{stamp}") for p in prompts.values()]
        run = self.send("chase", keyed, now, reminder=1)
        self.deliver_quietly()
        return ChaseResult(
            total=len(prompts),
            measures=sum(len(p.lines) for p in prompts.values()),
            by_chat=len(run.by_chat),
            by_email=len(run.by_email),
            failed=tuple(sorted(run.failed)),
        )

    # -- running the cycle: deputies and sign-off ---------------------------------------------

    def prompt_deputies(self, owner: str, cycle: Period, now: datetime, *, away: bool) -> list[str]:
        """Send the deputies of an owner's outstanding measures the prompt itself (the owner's
        form, the same reply grammar), once per deputy, owner and cycle; returns who went."""
        report = self.service.status(cycle, now, owner=owner)
        keyed = [
            (p, key)
            for p in self.service.deputy_prompts(owner, cycle, report, away=away)
            if not self.service.done(DEPUTY_PROMPT, key := f"{p.owner_email}:{owner}:{cycle}")
        ]
        return [p.owner_email for p in self.send(DEPUTY_PROMPT, keyed, now).prompts]

    def ask_signoff(self, action: Action, request: SignoffRequest, now: datetime) -> None:
        """The approver's request, by the first chat that finds them, else by email; recorded
        in the ledger as it goes (the reply to either is matched on its reference)."""
        for chat in self.chats:
            try:
                ref = chat.ask_signoff(request)
            except Exception:  # noqa: BLE001 - any chat failure means: by email instead
                log.exception("%s could not ask %s to sign off; it goes by email",
                              chat.name, request.approver_email)  # fmt: skip
                break
            if ref:
                self.service.record_action(action.kind, action.key, now, transport_ref=ref,
                                           cycle=action.cycle)  # fmt: skip
                return
        message = self.composer.signoff(request.approver_email, now, **vars(request))
        mail = outgoing(action.kind, f"{action.kind}:{action.key}", message)
        self.service.record_action(action.kind, action.key, now, outgoing=mail,
                                   cycle=action.cycle)  # fmt: skip

    def decide(
        self, *, text: str, who: str, channel: str, source_ref: str, now: datetime,
        cycle: Period, area: str | None,
    ) -> DecisionResult:  # fmt: skip
        """Record an approver's decision (bot.workflow); each query goes to its owner as their
        prompt, with the question, by chat or email like any prompt."""
        result = self.service.decide(text=text, who=who, channel=channel, source_ref=source_ref,
                                     now=now, cycle=cycle, area=area)  # fmt: skip
        keyed = [(p, f"{who}:{source_ref}:{p.lines[0].measure_id}") for p in result.queries]
        self.send(QUERY_PROMPT, keyed, now)
        return result

    def deliver_quietly(self) -> None:
        try:
            self.deliver_mail()
        except DeliveryError as exc:  # queued in the outbox: the poller sends it later
            log.warning("mail queued, not yet sent: %s", exc)
        except Exception as exc:  # noqa: BLE001 - a mail backend's own error: same as above
            log.warning("mail queued, not yet sent: %s", exc)

    # -- the one way in: every transport's inbound message ------------------------------------

    def receive(
        self,
        inbound: Inbound,
        *,
        reply: Callable[[Receipt], Outgoing | None] | None = None,
        confirm: Callable[[Receipt], None] | None = None,
        keep_trying: bool = False,
    ) -> Receipt:
        """Receive a message: check the sender is in the register, submit each figure (the
        service authorises each), record the message once, then confirm.

        `reply` builds an email answer, queued in the same transaction as the record (a crash
        between the two would leave a message handled whose answer never goes); `confirm`
        answers in chat after the record. With `keep_trying` (a form the sender corrects in
        place) a refusal is neither recorded nor confirmed: the sender fixes it and sends again.
        A redelivered message is recognised and answered nothing (outcome "seen").
        """
        service = self.service
        if service.inbound_seen(inbound.message_id, inbound.fingerprint):
            return Receipt("seen", self.reason("seen"))
        receipt = self.judge(inbound)
        if keep_trying and any(not o.stored for o in receipt.outcomes):
            return receipt
        first_time = service.record_inbound(
            message_id=inbound.message_id, fingerprint=inbound.fingerprint,
            channel=inbound.channel, sender=inbound.sender,
            subject=inbound.subject, received_at=inbound.received_at, outcome=receipt.outcome,
            reason=receipt.reason[:1000], reply=reply(receipt) if reply and receipt.code else None,
        )  # fmt: skip
        if not first_time:
            return Receipt("seen", self.reason("seen"))
        if confirm is not None and receipt.code:
            confirm(receipt)
        if receipt.stored and inbound.channel != "email" and self.chats:
            # Chat leaders see a figure's effect at once; email keeps to the tick (quiet hours).
            now = self.clock()
            self.check_alerts(reporting_period(london_date(now)), now, email=False)
        return receipt

    def judge(self, inbound: Inbound) -> Receipt:
        """Identify, authorise and submit: what the message comes to, before it is recorded."""
        service = self.service
        if inbound.ignore:
            return Receipt("ignored", inbound.ignore)
        if not inbound.sender or not service.is_known(inbound.sender):
            # Each figure is refused on its own too (the service authorises every one), so a
            # form can show the refusal on each field; whether to answer is the handler's call.
            refused = tuple(service.submit_many(inbound.submissions))
            reason = self.reason("stranger", sender=inbound.sender)
            return Receipt("rejected", reason, "stranger", refused)
        if not inbound.submissions:
            return Receipt("rejected", self.reason("no_figures"), "no_figures")
        outcomes = tuple(service.submit_many(inbound.submissions))
        stored = sum(o.stored for o in outcomes)
        said = self.composer.templates.filters["outcome"]  # the sender's words, for the record
        refusals = "; ".join(said(o) for o in outcomes if not o.stored)
        if stored:
            reason = self.reason("stored", stored=stored, refused=refusals)
            return Receipt("stored", reason, "confirmation", outcomes)
        reason = self.reason("refused", refused=refusals)
        return Receipt("rejected", reason, "confirmation", outcomes)

    def reason(self, code: str, **params: Any) -> str:
        """Why a message came to what it did, for its record (templates/outcomes.txt)."""
        outcomes = self.composer.templates.get_template("outcomes.txt").module
        macro = outcomes.reason  # type: ignore[attr-defined]
        return " ".join(str(macro(code, params)).split())

    # -- leaders: the alert lifecycle (every transport) and the digest ---------------------

    def pipeline(self, chat: ChatTransport) -> AlertPipeline | None:
        sender = chat.alerts
        if sender is None:
            return None
        if chat.name not in self.pipelines:
            self.pipelines[chat.name] = AlertPipeline(
                self.service.store, sender, ledger=f"{chat.name}-"
            )
        return self.pipelines[chat.name]

    def alert_rows(self, cycle: Period, now: datetime, report: StatusReport | None = None):
        service = self.service
        report = report or service.status(cycle, now)
        exceptions = service.exceptions(cycle, now, report)
        reasons = {row["id"]: row["exception_reasons"] for row in exceptions}
        names = {p.email: p.name for p in service.registered()[2].values() if p.name}
        rows = [
            row
            | {
                "exception_reasons": reasons.get(row["id"], []),
                "owner_name": names.get(row["owner_email"], row["owner_email"]),
            }
            for row in report.measures
        ]
        # The window is ready when it has closed, or as soon as every figure is in.
        ready = service.calendar.is_overdue(cycle, now) or all(r["revisions"] for r in rows)
        return rows, ready

    def check_alerts(
        self,
        cycle: Period,
        now: datetime,
        *,
        email: bool = True,
        report: StatusReport | None = None,
    ) -> dict[str, AlertReport]:
        """Bring every leaders' alert up to date: each chat's summary message, and the email
        lifecycle (a follow-up per batch of changes, threaded under the summary email).

        `email=False` leaves email for the tick, which keeps quiet hours.
        """
        pipelines = [(c.name, p) for c in self.chats if (p := self.pipeline(c)) is not None]
        summary = self.service.store.ledger_entry("summary", str(cycle)) if email else None
        if summary is not None and summary["transport_ref"] and self.email_leaders():
            pipelines.append((EMAIL, self.email_alerts))
        else:
            summary = None
        if not pipelines:
            return {}
        # Every tick asks; the answer changes only with what the alerts are made from. A run
        # that failed is not remembered, so the next tick tries it again.
        key = (self.service.state_key(cycle, now), tuple(name for name, _ in pipelines))
        if key == self.alerts_checked:
            return {name: AlertReport() for name, _ in pipelines}
        rows, ready = self.alert_rows(cycle, now, report)
        label = period_label(cycle)
        if summary is not None:
            # The summary email opens the email window: what it showed, leaders were told.
            self.email_alerts.adopt(summary["transport_ref"], str(cycle), rows, now)
        reports: dict[str, AlertReport] = {}
        for name, pipeline in pipelines:
            try:
                reports[name] = pipeline.run(str(cycle), label, rows, ready=ready, now=now)
            except DeliveryError as exc:  # the figures are in; the next tick tries again
                log.warning("%s alert summary not updated: %s", name, exc)
        if len(reports) == len(pipelines):
            self.alerts_checked = key
        return reports

    def email_leaders(self) -> list[str]:
        """Leaders who read no chat's alerts: they get the alert lifecycle by email."""
        in_chat = [c for c in self.chats if c.alerts is not None]
        leaders = self.service.people_with_role("leadership")
        return [e for e in leaders if not any(self.found(c, e) for c in in_chat)]

    @staticmethod
    def found(chat: ChatTransport, email: str) -> bool:
        try:
            return bool(chat.find_person(email))
        except Exception:  # noqa: BLE001 - not knowing means: email them too
            log.exception("%s could not look up %s", chat.name, email)
            return False

    def post_digest(
        self,
        cycle: Period,
        now: datetime,
        *,
        once: bool = False,
        only: ChatTransport | None = None,
    ) -> list[str]:
        """Post the digest to every chat's leaders (or `only` one chat's); with `once`, only
        where the ledger shows it has not gone for this cycle. Returns the references posted."""
        posted = []
        digest = pack = url = None
        for chat in [only] if only is not None else self.chats:
            kind, key = f"{chat.name}-digest", str(cycle)
            if once and self.service.done(kind, key):
                continue
            if digest is None:
                digest = self.service.digest(cycle, now)
                pack = self.pack(digest)
                url = self.packs.publish(digest.cycle, pack) if self.packs else None
            ref = chat.post_digest(digest, pack or "", url)
            if ref:
                self.service.store.ledger_add(kind, key, now, ref, key)
                posted.append(ref)
        return posted

    def pack(self, digest: Digest) -> str:
        """The pack of `digest`, rendered once for every output that carries it: on digest day
        the leaders' email and each chat's post get the same model (`Service.digest`), and
        rendering its pack is a second of CPU at 2,000 measures."""
        rendered = self.rendered
        if rendered is None or rendered[0] is not digest:
            from bot.render.pack import render_pack  # the pack renderer is heavy: load on use

            rendered = self.rendered = (digest, render_pack(digest, self.composer.templates))
        return rendered[1]

    def update_leaders(
        self, cycle: Period, now: datetime, report: StatusReport | None = None
    ) -> None:
        """On each tick: alerts everywhere; the digest in chat once its day came."""
        try:
            self.check_alerts(cycle, now, report=report)
            if self.service.done("digest", str(cycle)):
                self.post_digest(cycle, now, once=True)
        except Exception:  # noqa: BLE001 - reported; email and the next tick carry on
            log.exception("alerts or digest for %s failed; will try on the next tick", cycle)


class EmailAlerts:
    """The alert pipeline's Sender for leaders who read email: the summary email (sent by the
    timetable) is the window's message; each batch of changes is one follow-up in its thread.
    An email cannot be edited, so `update` does nothing and changed values get a follow-up."""

    def __init__(self, reach: Reach) -> None:
        self.reach = reach

    def post(self, summary: Summary) -> str:
        raise DeliveryError("the summary email opens the window", transient=False)

    def update(self, ref: str, summary: Summary) -> None:
        return None

    def follow_up(self, ref: str, summary: Summary, plan: Plan) -> str:
        reach = self.reach
        leaders = reach.email_leaders()
        if not leaders:
            return ref
        now = summary.as_of
        message = reach.composer.alert_follow_up(leaders, now, ref, summary=summary, plan=plan)
        told = "|".join(sorted(f"{k}:{a.fingerprint}" for k, a in changes(plan)))
        key = f"alert-follow-up:{summary.cycle}:{hashlib.sha1(told.encode()).hexdigest()[:12]}"
        mail = outgoing("alert-follow-up", key, message)
        reach.service.store.queue_outgoing(mail, now)
        return mail.message_id


def changes(plan: Plan) -> list[tuple[str, Any]]:
    return [(f"{kind}:{a.measure_id}:{a.period}", a) for kind, alerts in
            (("new", plan.new), ("changed", plan.changed), ("cleared", plan.cleared))
            for a in alerts]  # fmt: skip


__all__ = ["ChaseResult", "EmailAlerts", "PromptRun", "Reach"]
