"""Use cases: the only place where the store meets the core (values, periods, tolerance).

Handlers, the CLI and the scheduler call these methods; they never write SQL and never decide
whether a value is acceptable. Every method that depends on the time takes `now` (tz-aware).
"""

from __future__ import annotations

import hashlib
import re
from collections import defaultdict
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

from bot.digest import build_digest
from bot.digest_model import Digest
from bot.events import Outcome, Prompt, PromptLine, Submission
from bot.history import load_history
from bot.measures import Measure, Person, load_register
from bot.periods import (
    InvalidPeriod,
    Period,
    WorkingCalendar,
    london_date,
    parse_period,
    period_for,
    reporting_period,
)
from bot.store import Outgoing, Store, StoredSubmission
from bot.timetable import Action, due_actions
from bot.tolerance import parse_tolerance, rag, status
from bot.values import InvalidValue, format_value, parse_entry

KEEP_SENT_MAIL = timedelta(days=90)  # sent messages' bodies; their records stay for good
REFERENCE = re.compile(r"\[PM-(\d{4}-(?:\d{2}|Q[1-4]))-[0-9A-F]{4}\]", re.IGNORECASE)


class Refused(Exception):
    """A submission that cannot be taken; the message tells the sender why and what to do."""

    def __init__(self, message: str, field: str = "value") -> None:
        super().__init__(message)
        self.field = field


@dataclass(frozen=True)
class StatusReport:
    cycle: str
    as_of: str
    measures: list[dict[str, Any]]

    @property
    def outstanding(self) -> dict[str, list[str]]:
        """Owner email -> ids of their measures with no figure yet."""
        owners: dict[str, list[str]] = defaultdict(list)
        for row in self.measures:
            if row["status"] in ("outstanding", "missing"):
                owners[row["owner_email"]].append(row["id"])
        return dict(owners)

    @property
    def submitted(self) -> int:
        return sum(row["revisions"] > 0 for row in self.measures)

    def as_json(self) -> dict[str, Any]:
        return {
            "cycle": self.cycle,
            "as_of": self.as_of,
            "due": len(self.measures),
            "submitted": self.submitted,
            "outstanding": self.outstanding,
            "measures": self.measures,
        }


class Service:
    def __init__(
        self,
        store: Store,
        calendar: WorkingCalendar,
        coordinators: tuple[str, ...] = (),
        leaders: tuple[str, ...] = (),
    ) -> None:
        self.store = store
        self.calendar = calendar
        self.coordinators = {c.lower() for c in coordinators}
        self.leaders = {c.lower() for c in leaders}

    # -- register and history ---------------------------------------------------------------

    def import_register(self, path: Path, now: datetime) -> dict[str, list[str]]:
        register = load_register(path)
        people = list(register.people) + self.implied_people(register.measures)
        return self.store.save_register(register.measures, people, now)

    @staticmethod
    def implied_people(measures: list[Measure]) -> list[Person]:
        people = [Person(m.owner_email, roles=("owner",)) for m in measures]
        people += [Person(m.deputy_email, roles=("deputy",)) for m in measures if m.deputy_email]
        return people

    def import_history(self, path: Path, now: datetime) -> tuple[int, int]:
        """Returns (rows in the file, rows new to the database)."""
        measures = {m.id: m for m in self.store.measures(active_only=False)}
        rows = load_history(path, measures, today=london_date(now))
        new = self.store.add_submissions(
            StoredSubmission(
                measure_id=row.measure_id,
                period=row.period,
                value=row.value,
                reason=row.reason,
                commentary=row.commentary,
                submitted_by="import",
                channel="import",
                source_ref=row.source_ref,
                received_at=now,
            )
            for row in rows
        )
        return len(rows), new

    def measures(self) -> list[Measure]:
        return self.store.measures()

    def measure(self, measure_id: str) -> Measure | None:
        return self.store.measure(measure_id)

    def person_name(self, email: str) -> str:
        person = self.store.person(email)
        return person.name if person and person.name else email

    def is_known(self, email: str) -> bool:
        email = email.lower()
        return email in self.coordinators or self.store.person(email) is not None

    def is_coordinator(self, email: str) -> bool:
        email = email.lower()
        person = self.store.person(email)
        return email in self.coordinators or bool(person and "coordinator" in person.roles)

    # -- submitting values ------------------------------------------------------------------

    def submit(self, submission: Submission) -> Outcome:
        """Validate, authorise and store one submission; never raises for a user's mistake."""
        measure_id = submission.measure_id.strip().upper()
        try:
            measure = self.authorised_measure(measure_id, submission)
            period = self.resolve_period(measure, submission)
            entry = parse_entry(submission.raw_value, measure.unit, measure.id)
        except (Refused, InvalidValue) as exc:
            return Outcome(measure_id, False, str(exc), field=getattr(exc, "field", "value"))
        commentary = " ".join(filter(None, (entry.commentary, submission.commentary.strip())))
        colour = "not_available"
        if entry.value is not None:
            colour = rag_of(measure, entry.value)
            if colour == "red" and not commentary:
                message = (
                    f"{measure.id}: {format_value(entry.value, measure.unit)} is red against a "
                    f"target of {format_value(measure.target, measure.unit)}; add a short "
                    f"explanation after the value, e.g. '{measure.id}: "
                    f"{submission.raw_value.strip()} because ...'"
                )
                return Outcome(measure.id, False, message, period=str(period), field="commentary")
        stored = StoredSubmission(
            measure_id=measure.id,
            period=str(period),
            value=entry.value,
            reason=entry.reason or "",
            commentary=commentary,
            submitted_by=submission.sender.lower(),
            channel=submission.channel,
            source_ref=submission.source_ref,
            received_at=submission.received_at,
        )
        with self.store.atomic():
            earlier = self.store.revision_count(measure.id, str(period))
            is_new = self.store.add_submission(stored)
        display = format_value(entry.value, measure.unit)
        if not is_new:
            message = f"{measure.id} {period}: {display} was already stored from this message"
        else:
            message = f"{measure.id} {period}: {display} stored"
        return Outcome(
            measure_id=measure.id,
            stored=True,
            message=message,
            period=str(period),
            value=entry.value,
            display_value=display,
            status=colour,
            revised=is_new and earlier > 0,
            duplicate=not is_new,
        )

    def authorised_measure(self, measure_id: str, submission: Submission) -> Measure:
        measure = self.store.measure(measure_id)
        if measure is None or not measure.active:
            raise Refused(f"{measure_id} is not a measure in the register; check the id")
        sender = submission.sender.lower()
        on_behalf = submission.channel == "cli" and self.is_coordinator(sender)
        if not (measure.may_submit(sender) or on_behalf):
            raise Refused(
                f"{measure.id}: {sender or 'this sender'} is not the owner or deputy of this "
                f"measure, so the figure was not taken; the owner is {measure.owner_email}"
            )
        return measure

    def resolve_period(self, measure: Measure, submission: Submission) -> Period:
        today = london_date(submission.received_at)
        if submission.period:
            try:
                period = parse_period(submission.period)
            except InvalidPeriod as exc:
                raise Refused(str(exc), field="period") from exc
            if period.frequency != measure.frequency:
                example = "2026-Q3" if measure.frequency == "quarterly" else "2026-10"
                raise Refused(
                    f"{measure.id} is reported {measure.frequency}; give a period like {example}",
                    field="period",
                )
        else:
            cycle = parse_period(submission.cycle) if submission.cycle else reporting_period(today)
            period = latest_period(measure.frequency, cycle)
        if period.end >= today:
            raise Refused(f"{measure.id}: {period} has not ended yet", field="period")
        return period

    # -- status and exceptions --------------------------------------------------------------

    def measures_in(self, cycle: Period) -> list[tuple[Measure, Period]]:
        if cycle.frequency == "quarterly":
            return [(m, cycle) for m in self.store.measures() if m.frequency == "quarterly"]
        return [(m, p) for m in self.store.measures() if (p := period_for(m.frequency, cycle))]

    def status(self, cycle: Period, now: datetime) -> StatusReport:
        pairs = self.measures_in(cycle)
        current = self.store.current_submissions({str(p) for _, p in pairs})
        rows = [self.status_row(m, p, current.get((m.id, str(p))), now) for m, p in pairs]
        return StatusReport(str(cycle), now.isoformat(timespec="seconds"), rows)

    def status_row(
        self, measure: Measure, period: Period, latest: dict[str, Any] | None, now: datetime
    ) -> dict[str, Any]:
        value = latest["value"] if latest else None
        colour = status(
            value=value,
            submitted=latest is not None,
            not_available=bool(latest and latest["status"] == "not_available"),
            overdue=self.calendar.is_overdue(period, now),
            better=measure.better,
            target=measure.target,
            amber=parse_tolerance(measure.amber_tolerance),
            red=parse_tolerance(measure.red_tolerance),
        )
        return {
            "id": measure.id,
            "name": measure.name,
            "area": measure.area,
            "period": str(period),
            "unit": measure.unit,
            "better": measure.better,
            "target": measure.target,
            "owner_email": measure.owner_email,
            "deputy_email": measure.deputy_email,
            "value": value,
            "display_value": format_value(value, measure.unit) if latest else "",
            "status": colour,
            "reason": latest["reason"] if latest else "",
            "revisions": latest["revisions"] if latest else 0,
            "submitted_by": latest["submitted_by"] if latest else None,
            "submitted_at": latest["received_at"] if latest else None,
            "channel": latest["channel"] if latest else None,
            "commentary": latest["commentary"] if latest else "",
            "due": self.calendar.cycle_dates(period).due.isoformat(),
        }

    def digest(self, cycle: Period, now: datetime) -> Digest:
        """The digest model of a cycle: every measure with its status, SPC reading, trends."""
        report = self.status(cycle, now)
        return build_digest(
            cycle=cycle,
            measures=self.store.measures(),
            status_rows=report.measures,
            history=self.store.history_frame(),
            owner_names={p.email: p.name for p in self.store.people() if p.name},
            as_of=now,
            due=self.calendar.cycle_dates(cycle).due,
            cycle_label=period_label(cycle),
        )

    def exceptions(self, cycle: Period, now: datetime) -> list[dict[str, Any]]:
        """The digest's exceptions, worst first, as status rows plus why each is one.

        Red, missing after the due date, special-cause concern, consistently failing; a missing
        figure mutes the other reasons for its measure.
        """
        digest = self.digest(cycle, now)
        rows = {r["id"]: r for r in self.status(cycle, now).measures}
        return [
            rows[m.id] | {
                "exception_reasons": list(m.exception_reasons),
                "variation": m.variation,
                "assurance": m.assurance,
                "target_display": m.target_display,
            }
            for m in digest.exceptions
        ]

    # -- prompts ----------------------------------------------------------------------------

    def due_prompts(self, cycle: Period, now: datetime) -> list[Prompt]:
        """One prompt per owner with outstanding measures in this cycle and no prompt sent yet."""
        report = self.status(cycle, now)
        done = {row["key"] for row in self.store.ledger("prompt")}
        owners = [o for o in report.outstanding if f"{o}:{cycle}" not in done]
        return list(self.prompts_for(cycle, report, owners).values())

    def prompts_for(
        self, cycle: Period, report: StatusReport, owners: Iterable[str]
    ) -> dict[str, Prompt]:
        """Owner -> the prompt listing their outstanding measures, with last value and target."""
        wanted = set(owners)
        outstanding = [
            r for r in report.measures if r["revisions"] == 0 and r["owner_email"] in wanted
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
        actions = due_actions(today, dates, report.outstanding, done, prompted_today=prompted_today)
        return actions, report

    def summary_context(self, cycle: Period, now: datetime) -> dict[str, Any]:
        report = self.status(cycle, now)
        exceptions = self.exceptions(cycle, now)
        digest_day = self.calendar.cycle_dates(cycle).digest
        return {
            "cycle_label": period_label(cycle),
            "submitted": report.submitted,
            "due_count": len(report.measures),
            "exceptions": exceptions,
            "digest_day": f"{digest_day:%A} {digest_day.day} {digest_day:%B}",
        }

    def deputies_of(self, measure_ids: Iterable[str]) -> list[str]:
        ids = set(measure_ids)
        return sorted({m.deputy_email for m in self.store.measures() if m.id in ids} - {""})

    def people_with_role(self, role: str) -> list[str]:
        configured = {"coordinator": self.coordinators, "leadership": self.leaders}[role]
        listed = {p.email for p in self.store.people() if role in p.roles}
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
        ids = list(measure_ids)
        if not ids:
            return {}
        history = self.store.history_frame(ids)
        units = {m.id: m.unit for m in self.store.measures()}
        latest = history.sort_values(["measure_id", "period"]).groupby("measure_id").tail(1)
        return {
            row.measure_id: (
                row.period,
                format_value(nan_to_none(row.value), units[row.measure_id]),
            )
            for row in latest.itertuples()
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

    def inbound_seen(self, message_id: str) -> bool:
        return self.store.inbound_seen(message_id)

    def record_inbound(self, *, reply: Outgoing | None = None, **fields: Any) -> bool:
        """Record an inbound message and queue its answer together: a crash between the two
        would otherwise leave a message marked as handled whose confirmation never goes."""
        with self.store.atomic():
            if not self.store.record_inbound(**fields):
                return False
            if reply is not None:
                self.store.queue_outgoing(reply, fields["received_at"])
        return True


def rag_of(measure: Measure, value: float) -> str:
    return rag(
        value,
        measure.better,
        measure.target,
        parse_tolerance(measure.amber_tolerance),
        parse_tolerance(measure.red_tolerance),
    )


def latest_period(frequency: str, cycle: Period) -> Period:
    """The period a figure sent in `cycle` is for: a quarterly measure reports its last quarter."""
    if frequency == "monthly" or cycle.frequency == "quarterly":
        return cycle
    quarter = period_for("quarterly", cycle)
    if quarter is not None:
        return quarter
    return period_for("quarterly", cycle.shift(-((cycle.month or 0) % 3)))  # type: ignore[return-value]


def period_label(period: Period) -> str:
    if period.frequency == "quarterly":
        return f"Q{period.quarter} {period.year} ({period.start:%B} to {period.end:%B})"
    return f"{period.start:%B %Y}"


def reference(owner_email: str, cycle: Period) -> str:
    digest = hashlib.sha1(f"{owner_email}:{cycle}".encode()).hexdigest()[:4].upper()
    return f"PM-{cycle}-{digest}"


def nan_to_none(value: Any) -> float | None:
    return None if value is None or value != value else float(value)
