"""What pmbot sends and receives: prompts, the scheduler's actions, the ledger that makes each
happen once, the outbox, and the record of inbound messages.

`Outreach` is part of the service (`Service` inherits it): the same store and calendar, the
same rules, kept in their own module because they are a separate concern from taking and
judging figures. What it needs of the figures side is declared below as abstract methods, so
this module depends on the core only, never on bot.service.
"""

from __future__ import annotations

import hashlib
import re
from abc import ABC, abstractmethod
from collections import defaultdict
from collections.abc import Iterable
from datetime import date, datetime, timedelta
from typing import Any

from bot.events import Prompt, PromptLine, StatusReport
from bot.periods import Period, WorkingCalendar, london_date, reporting_period
from bot.silences import Silence, without_silenced
from bot.store import Outgoing, Store
from bot.timetable import Action, due_actions
from bot.values import format_value

KEEP_SENT_MAIL = timedelta(days=90)  # sent messages' bodies; their records stay for good
ANSWER_AT_MOST_EVERY = timedelta(hours=1)  # to one sender, for messages without figures
REFERENCE = re.compile(r"\[PM-(\d{4}-(?:\d{2}|Q[1-4]))-[0-9A-F]{4}\]", re.IGNORECASE)


class Outreach(ABC):
    store: Store
    calendar: WorkingCalendar
    coordinators: set[str]
    leaders: set[str]

    # -- what outreach needs of the figures side (bot.service.Service) ----------------------

    @abstractmethod
    def status(
        self, cycle: Period, now: datetime, *, owner: str | None = None
    ) -> StatusReport: ...

    @abstractmethod
    def exceptions(
        self, cycle: Period, now: datetime, report: StatusReport | None = None
    ) -> list[dict[str, Any]]: ...

    @abstractmethod
    def person_name(self, email: str) -> str: ...

    # -- and of running the cycle (bot.workflow.Workflow) -----------------------------------

    @abstractmethod
    def silenced(self, now: datetime) -> dict[str, Silence]: ...

    @abstractmethod
    def signoff_due(
        self, today: date, cycle: Period, report: StatusReport, done: set[tuple[str, str]]
    ) -> list[Action]: ...

    def due_prompts(self, cycle: Period, now: datetime) -> list[Prompt]:
        """One prompt per owner with outstanding measures in this cycle and no prompt sent yet."""
        report = self.status(cycle, now)
        # One indexed look-up per owner: the prompt ledger grows every cycle.
        owners = [o for o in report.outstanding if not self.done("prompt", f"{o}:{cycle}")]
        return list(self.prompts_for(cycle, report, owners).values())

    def prompts_for(
        self,
        cycle: Period,
        report: StatusReport,
        owners: Iterable[str],
        ids: set[str] | None = None,
    ) -> dict[str, Prompt]:
        """Owner -> the prompt listing their outstanding measures, with last value and target.

        Silenced measures are left out. With `ids`, exactly those measures, sent or not (a
        query asks the owner about a figure already sent).
        """
        wanted = set(owners)
        outstanding = [
            r
            for r in report.measures
            if r["owner_email"] in wanted
            and (r["id"] in ids if ids is not None else not r["revisions"] and not r["silence"])
        ]
        last_values = self.last_values(r["id"] for r in outstanding)
        by_owner: dict[str, list[PromptLine]] = defaultdict(list)
        for row in outstanding:
            last_period, last_value = last_values.get(row["id"], ("", ""))
            by_owner[row["owner_email"]].append(
                PromptLine(
                    measure_id=row["id"],
                    name=row["name"],
                    period=row["period"],
                    unit=row["unit"],
                    target=format_value(row["target"], row["unit"]),
                    last_value=last_value,
                    last_period=last_period,
                    current=row["display_value"] if row["revisions"] else "",
                )
            )
        due = self.calendar.cycle_dates(cycle).due
        return {
            owner: Prompt(
                owner_email=owner,
                owner_name=self.person_name(owner),
                cycle=str(cycle),
                cycle_label=period_label(cycle),
                due=f"{due:%A} {due.day} {due:%B %Y}",
                reference=reference(owner, cycle),
                lines=lines,
            )
            for owner, lines in sorted(by_owner.items())
        }

    def due_actions(self, now: datetime) -> tuple[list[Action], StatusReport | None]:
        """What the clock asks for now (nothing in quiet hours), with the status it saw."""
        if self.calendar.is_quiet(now):
            return [], None
        today = london_date(now)
        cycle = reporting_period(today)
        dates = self.calendar.cycle_dates(cycle)
        if today < dates.prompt:
            return [], None
        report = self.status(cycle, now)
        ledger = self.store.ledger_for_cycle(str(cycle))
        done = {(row["kind"], row["key"]) for row in ledger}
        prompted_today = {
            row["key"].rpartition(":")[0]
            for row in ledger
            if row["kind"] == "prompt" and london_date(datetime.fromisoformat(row["at"])) == today
        }
        chase = without_silenced(report.outstanding, self.silenced(now))
        actions = due_actions(today, dates, chase, done, prompted_today=prompted_today)
        return actions + self.signoff_due(today, cycle, report, done), report

    def summary_context(self, cycle: Period, now: datetime) -> dict[str, Any]:
        report = self.status(cycle, now)
        # A silenced measure is not alerted on: leaders see it in the pack, with its reason.
        exceptions = [e for e in self.exceptions(cycle, now, report) if not e["silence"]]
        digest_day = self.calendar.cycle_dates(cycle).digest
        return {
            "cycle_label": period_label(cycle),
            "submitted": report.submitted,
            "due_count": len(report.measures),
            "exceptions": exceptions,
            "digest_day": f"{digest_day:%A} {digest_day.day} {digest_day:%B}",
        }

    def deputies_of(self, measure_ids: Iterable[str]) -> list[str]:
        by_id = self.registered()[1]
        return sorted({by_id[i].deputy_email for i in measure_ids if i in by_id} - {""})

    def people_with_role(self, role: str) -> list[str]:
        configured = {"coordinator": self.coordinators, "leadership": self.leaders}[role]
        listed = {p.email for p in self.registered()[2].values() if role in p.roles}
        return sorted(configured | listed)

    def record_action(
        self,
        kind: str,
        key: str,
        now: datetime,
        *,
        outgoing: Outgoing | None = None,
        transport_ref: str = "",
        cycle: str = "",
    ) -> bool:
        """Record that an action was taken, queueing its email in the same transaction.

        False (and nothing queued) when the ledger shows it was taken before: this is what
        makes every prompt, reminder, escalation, summary and digest happen once.
        """
        reference = transport_ref or (outgoing.message_id if outgoing else "")
        with self.store.atomic():
            if not self.store.ledger_add(kind, key, now, reference, cycle):
                return False
            if outgoing is not None:
                self.store.queue_outgoing(outgoing, now)
        return True

    def done(self, kind: str, key: str) -> bool:
        return self.store.ledger_entry(kind, key) is not None

    def record_prompt(self, prompt: Prompt, now: datetime, transport_ref: str) -> bool:
        return self.record_action(
            "prompt", prompt.ledger_key, now, transport_ref=transport_ref, cycle=prompt.cycle
        )

    def forget_old_mail(self, now: datetime) -> int:
        return self.store.forget_sent_bodies(now - KEEP_SENT_MAIL)

    def pending_mail(self) -> list[dict[str, Any]]:
        return self.store.pending_outgoing()

    def mail_sent(self, outgoing_id: int, transport_ref: str, now: datetime) -> None:
        self.store.mark_sent(outgoing_id, transport_ref, now)

    def mail_failed(self, outgoing_id: int, error: str, *, permanent: bool) -> None:
        self.store.mark_send_failed(outgoing_id, error, permanent=permanent)

    def last_values(self, measure_ids) -> dict[str, tuple[str, str]]:
        """Measure id -> (period, display value) of its most recent figure."""
        latest = self.store.latest_figures(measure_ids)
        measures = self.registered()[1]  # by id: not a dict of the whole register a call
        return {
            measure_id: (period, format_value(nan_to_none(value), measures[measure_id].unit))
            for measure_id, (period, value) in latest.items()
        }

    def cycle_for_reply(self, message_refs: list[str], subject: str) -> str | None:
        """The cycle a reply answers: from the prompt it replies to, else from the subject."""
        entry = self.store.ledger_by_ref("prompt", message_refs)
        if entry is not None:
            return entry["key"].rpartition(":")[2]
        match = REFERENCE.search(subject or "")
        return match.group(1).upper() if match else None

    # -- inbound messages -------------------------------------------------------------------

    def inbound(self, limit: int = 50) -> list[dict[str, Any]]:
        """The latest messages received, oldest of them first."""
        return self.store.inbound(limit)

    def inbound_seen(self, message_id: str, fingerprint: str = "") -> bool:
        return self.store.inbound_seen(message_id, fingerprint)

    def inbound_id_taken(self, message_id: str) -> bool:
        """Whether any message with this Message-ID was recorded (gateways reuse them)."""
        return self.store.inbound_id_taken(message_id)

    def quarantined_mail(self) -> int:
        return self.store.quarantined_count()

    def answered_lately(self, kind: str, recipient: str, now: datetime) -> bool:
        """Whether `recipient` got an answer of this kind in the past hour (loop protection)."""
        return self.store.answers_since(kind, recipient, now - ANSWER_AT_MOST_EVERY) > 0

    def sent_message(self, message_ids: list[str]) -> dict[str, Any] | None:
        """The newest message pmbot sent among these Message-IDs (what a reply answers)."""
        rows = self.store.sent_messages(message_ids)
        return rows[0] if rows else None

    def record_inbound(self, *, reply: Outgoing | None = None, **fields: Any) -> bool:
        """Record an inbound message and queue its answer together: a crash between the two
        would otherwise leave a message marked as handled whose confirmation never goes."""
        with self.store.atomic():
            if not self.store.record_inbound(**fields):
                return False
            if reply is not None:
                self.store.queue_outgoing(reply, fields["received_at"])
        return True


def period_label(period: Period) -> str:
    if period.frequency == "quarterly":
        return f"Q{period.quarter} {period.year} ({period.start:%B} to {period.end:%B})"
    return f"{period.start:%B %Y}"


def reference(owner_email: str, cycle: Period) -> str:
    digest = hashlib.sha1(f"{owner_email}:{cycle}".encode()).hexdigest()[:4].upper()
    return f"PM-{cycle}-{digest}"


def nan_to_none(value: Any) -> float | None:
    return None if value is None or value != value else float(value)
