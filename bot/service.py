"""Use cases: the only place where the store meets the core (values, periods, tolerance).

Handlers, the CLI and the scheduler call these methods; they never write SQL and never decide
whether a value is acceptable. Every method that depends on the time takes `now` (tz-aware).
"""

from __future__ import annotations

import bisect
import functools
from collections.abc import Sequence
from dataclasses import replace
from datetime import date, datetime
from pathlib import Path
from typing import Any

import jinja2

from bot.annual import AnnualReport, build_annual
from bot.annual import for_area as annual_for_area
from bot.annual import for_public as annual_for_public
from bot.digest import build_digest
from bot.digest_model import Digest, MeasureView
from bot.events import Outcome, StatusReport, Submission
from bot.history import load_history
from bot.judgement import (
    Query,
    confirmed_by_word,
    latest_group,
    needs_commentary,
    plausibility,
    reading,
)
from bot.measures import Measure, Person, load_register
from bot.outreach import Outreach, period_label
from bot.periods import (
    InvalidPeriod,
    Period,
    WorkingCalendar,
    london_date,
    parse_period,
    period_for,
    reporting_period,
)
from bot.reports import (
    UnknownArea,
    as_rolled_up,
    for_area,
    for_public,
    quarter_inputs,
    with_year_to_date,
)
from bot.rollup import year_to_date
from bot.silences import Silence
from bot.spans import YEAR_START, Span, parse_reporting_period
from bot.store import Store, StoredSubmission
from bot.tolerance import parse_tolerance, rag, status
from bot.values import Entry, InvalidValue, format_value, parse_entry
from bot.workflow import Workflow


class Refused(Exception):
    """A submission that cannot be taken: an outcome code and the parameters its sentence
    (templates/outcomes.txt) needs to tell the sender why and what to do."""

    def __init__(self, code: str, field: str = "value", **params: Any) -> None:
        super().__init__(code)
        self.code = code
        self.field = field
        self.params = params


class Service(Workflow, Outreach):
    def __init__(
        self,
        store: Store,
        calendar: WorkingCalendar,
        coordinators: tuple[str, ...] = (),
        leaders: tuple[str, ...] = (),
        *,
        spc_rules: str = "ptd",
        commentary_required: str = "exception",
        organisation: str = "",
        year_start: int = YEAR_START,
        templates: jinja2.Environment,
    ) -> None:
        self.templates = templates  # the bot's one environment (bot.app builds it)
        self.spc_rules = spc_rules
        self.commentary_required = commentary_required
        self.year_start = year_start  # the financial year's first month, for year to date
        self.store = store
        self.organisation = organisation
        self.calendar = calendar
        self.coordinators = {c.lower() for c in coordinators}
        self.leaders = {c.lower() for c in leaders}
        # The register and people as last read, with the register version they were read at:
        # a tick, a reply or an escalation asks for them many times, and they rarely change.
        self._register: tuple[int, list[Measure], dict[str, Measure], dict[str, Person]] = (
            -1, [], {}, {},
        )  # fmt: skip
        # Active measures by owner, with the list they index (see `owned_by`).
        self._owners: tuple[list[Measure], dict[str, list[Measure]]] = ([], {})
        # The last digest model built, under what it was built from (see `digest`).
        self._digest: tuple[tuple, Digest] | None = None

    # -- register and history ---------------------------------------------------------------

    def import_register(self, path: Path, now: datetime) -> dict[str, list[str]]:
        register = load_register(path)
        people = list(register.people) + self.implied_people(register.measures)
        # Approvers write to pmbot (APPROVE, QUERY), so they are people it knows.
        people += [Person(a.approver_email, roles=("approver",))
                   for a in register.areas if a.approver_email]  # fmt: skip
        return self.store.save_register(register.measures, people, now, register.areas)

    @staticmethod
    def implied_people(measures: list[Measure]) -> list[Person]:
        people = [Person(m.owner_email, roles=("owner",)) for m in measures]
        people += [Person(m.deputy_email, roles=("deputy",)) for m in measures if m.deputy_email]
        return people

    def import_history(self, path: Path, now: datetime) -> tuple[int, int]:
        """Returns (rows in the file, rows new to the database)."""
        measures = {m.id: m for m in self.store.measures(active_only=False)}
        rows = load_history(path, measures, today=london_date(now), words=self.templates,
                            year_start=self.year_start)  # fmt: skip
        new = self.store.add_submissions(
            StoredSubmission(
                measure_id=row.measure_id,
                period=row.period,
                value=row.value,
                reason=row.reason,
                commentary=public_mark(row.commentary)[1],
                public=public_mark(row.commentary)[0],
                submitted_by="import",
                channel="import",
                source_ref=row.source_ref,
                received_at=now,
            )
            for row in rows
        )
        return len(rows), new

    def registered(self) -> tuple[list[Measure], dict[str, Measure], dict[str, Person]]:
        """(active measures, the same by id, people by email), read again only when the
        register version has moved since they were last read."""
        version = self.store.register_version()
        cached = self._register
        if cached[0] != version:
            measures = self.store.measures()
            people = {p.email: p for p in self.store.people()}
            cached = self._register = (version, measures, {m.id: m for m in measures}, people)
        return cached[1], cached[2], cached[3]

    def measures(self) -> list[Measure]:
        return list(self.registered()[0])

    def measure(self, measure_id: str) -> Measure | None:
        return self.store.measure(measure_id)

    def person(self, email: str) -> Person | None:
        return self.registered()[2].get(email.lower())

    def person_name(self, email: str) -> str:
        person = self.person(email)
        return person.name if person and person.name else email

    def is_known(self, email: str) -> bool:
        email = email.lower()
        return email in self.coordinators or self.person(email) is not None

    def is_coordinator(self, email: str) -> bool:
        email = email.lower()
        person = self.person(email)
        return email in self.coordinators or bool(person and "coordinator" in person.roles)

    # -- submitting values ------------------------------------------------------------------

    def submit(self, submission: Submission) -> Outcome:
        """Validate, authorise and store one submission (`submit_many` of one)."""
        return self.submit_many([submission])[0]

    def submit_many(self, submissions: Sequence[Submission]) -> list[Outcome]:
        """Validate, authorise and store a message's submissions, in order, in one
        transaction; an outcome for each, never raising for a user's mistake.

        A figure implausible against its own history is held back (recorded, not stored) and
        the owner asked to confirm or correct it; the confirm word after the figure, the
        sender's `confirm` flag, or the very same figure sent again by the same person
        confirms it. A figure leaders will see as an exception needs commentary (all reasons,
        or only red, by `commentary_required`).

        The figures of every measure the message names are read once, and each figure is
        judged as if the ones before it in the message were already stored.
        """
        measures = self.registered()[1]
        checked = [self.checked(s, measures) for s in submissions]
        outcomes: list[Outcome] = []
        with self.store.atomic():
            ids = {c[0].id for c in checked if not isinstance(c, Outcome)}
            history = self.store.figures_of(ids)
            refs = [s.source_ref for s, c in zip(submissions, checked, strict=True)
                    if not isinstance(c, Outcome)]  # fmt: skip
            taken = self.store.stored_refs(refs)
            stored: list[StoredSubmission] = []
            for submission, check in zip(submissions, checked, strict=True):
                if isinstance(check, Outcome):
                    outcomes.append(check)
                    continue
                measure, period, entry = check
                figures = history[measure.id]
                outcome = self.weighed(submission, measure, period, entry, figures.values)
                if isinstance(outcome, Outcome):
                    outcomes.append(outcome)
                    continue
                row, colour, reasons = outcome
                is_new = row.source_ref not in taken
                earlier = figures.revisions.get(row.period, 0)
                if is_new:
                    taken.add(row.source_ref)
                    stored.append(row)
                    figures.revisions[row.period] = earlier + 1
                    figures.values = with_figure(figures.values, row.period, row.value)
                outcomes.append(Outcome(
                    measure_id=measure.id,
                    stored=True,
                    code="stored" if is_new else "already_stored",
                    period=row.period,
                    value=row.value,
                    display_value=format_value(row.value, measure.unit),
                    status=colour,
                    revised=is_new and earlier > 0,
                    duplicate=not is_new,
                    reasons=reasons,
                ))  # fmt: skip
            if stored:
                self.store.add_submissions(stored)
        return outcomes

    def checked(
        self, submission: Submission, measures: dict[str, Measure]
    ) -> Outcome | tuple[Measure, Period, Entry]:
        """The submission's measure (authorised), period and entry, or why it is refused."""
        measure_id = submission.measure_id.strip().upper()
        try:
            measure = self.authorised_measure(measure_id, submission, measures)
            period = self.resolve_period(measure, submission)
            entry = parse_entry(submission.raw_value, measure.unit, measure.id)
        except Refused as exc:
            return Outcome(measure_id, False, exc.code, exc.params, field=exc.field)
        except InvalidValue as exc:  # worded by templates/values.txt, through outcomes.txt
            return Outcome(measure_id, False, "invalid_value", {"code": exc.code, **exc.params})
        return measure, period, entry

    def weighed(
        self, submission: Submission, measure: Measure, period: Period, entry: Entry,
        figures: list[tuple[str, float | None]],
    ) -> Outcome | tuple[StoredSubmission, str, tuple[str, ...]]:  # fmt: skip
        """The row to store with its colour and reasons, or the outcome that holds it back
        (implausible) or refuses it (commentary needed); `figures` is the measure's history."""
        shown = str(period)
        confirmed, typed_commentary = confirmed_by_word(entry.commentary)
        commentary = " ".join(filter(None, (typed_commentary, submission.commentary.strip())))
        public, commentary = public_mark(commentary)
        sender = submission.sender.lower()
        colour, reasons = "not_available", ()
        if entry.value is not None:
            value = entry.value
            query = None if confirmed or submission.confirm else plausibility(
                value, measure.unit, latest_group(measure, shown, figures)
            )
            # Sent again as it was held back: that confirms it (asked only when it would be
            # held back, which is rare).
            if query is not None and self.store.was_queried(
                measure.id, shown, sender, value
            ):
                query = None
            if query is not None:
                return self.hold_back(measure, period, submission, value, query)
            judged = reading(measure, shown, value, figures, self.spc_rules)
            colour, reasons = judged.status, judged.reasons
            if needs_commentary(reasons, self.commentary_required) and not commentary:
                target = judged.target
                params = {
                    "value": format_value(value, measure.unit),
                    "target": format_value(target, measure.unit) if target is not None else "",
                    "typed": submission.raw_value.strip(),
                }
                return Outcome(
                    measure.id, False, "needs_commentary", params, period=shown,
                    field="commentary", reasons=reasons,
                )  # fmt: skip
        stored = StoredSubmission(
            measure_id=measure.id,
            period=shown,
            value=entry.value,
            reason=entry.reason or "",
            commentary=commentary,
            submitted_by=sender,
            channel=submission.channel,
            source_ref=submission.source_ref,
            received_at=submission.received_at,
            public=public,
        )
        return stored, colour, reasons

    def hold_back(
        self, measure: Measure, period: Period, submission: Submission, value: float, query: Query
    ) -> Outcome:
        """Record an implausible figure (nothing is lost) and ask the owner about it."""
        unit = measure.unit
        suggestion = format_value(query.suggestion, unit) if query.suggestion is not None else ""
        why = f"{query.kind}: did you mean {suggestion}?" if suggestion else query.kind
        self.store.add_query(
            StoredSubmission(
                measure_id=measure.id,
                period=str(period),
                value=value,
                reason="",
                commentary="",
                submitted_by=submission.sender.lower(),
                channel=submission.channel,
                source_ref=submission.source_ref,
                received_at=submission.received_at,
            ),
            submission.raw_value.strip(),
            why,
        )
        params = {
            "shown": format_value(value, unit),
            "query": query,
            "suggestion": suggestion,
            "lower": format_value(query.lower_limit, unit),
            "upper": format_value(query.upper_limit, unit),
            "typed": submission.raw_value.strip().split()[0],
        }
        return Outcome(
            measure.id, False, "queried", params, period=str(period), value=value, queried=True
        )

    def held_back(self, cycle: Period) -> list[str]:
        """Figures held back as implausible in this cycle and never confirmed or corrected."""
        periods = {str(p) for _, p in self.measures_in(cycle)}
        units = {m.id: m.unit for m in self.store.measures()}
        rows = self.store.held_back(periods)
        shown = [format_value(row["value"], units.get(row["measure_id"], "")) for row in rows]
        words = self.templates.get_template("judgement.txt").module
        return [str(words.held_back(row, text)) for row, text in zip(rows, shown, strict=True)]

    def authorised_measure(
        self, measure_id: str, submission: Submission, measures: dict[str, Measure]
    ) -> Measure:
        measure = measures.get(measure_id)  # active measures only
        if measure is None:
            raise Refused("unknown_measure")
        sender = submission.sender.lower()
        on_behalf = submission.channel == "cli" and self.is_coordinator(sender)
        if not (measure.may_submit(sender) or on_behalf):
            raise Refused("not_owner", sender=sender, owner=measure.owner_email)
        return measure

    def resolve_period(self, measure: Measure, submission: Submission) -> Period:
        return figure_period(
            measure.frequency,
            submission.period,
            submission.cycle,
            london_date(submission.received_at),
            self.year_start,
        )

    # -- status and exceptions --------------------------------------------------------------

    def measures_in(self, cycle: Period, owner: str | None = None) -> list[tuple[Measure, Period]]:
        measures = self.registered()[0] if owner is None else self.owned_by(owner)
        if cycle.frequency == "quarterly":
            return [(m, cycle) for m in measures if m.frequency == "quarterly"]
        return [(m, p) for m in measures if (p := period_for(m.frequency, cycle))]

    def owned_by(self, owner: str) -> list[Measure]:
        """The active measures `owner` owns, in register order, from an index kept with the
        register (an out-of-office reply asks for one owner's; the register has thousands)."""
        measures = self.registered()[0]
        if self._owners[0] is not measures:
            index: dict[str, list[Measure]] = {}
            for measure in measures:
                index.setdefault(measure.owner_email, []).append(measure)
            self._owners = (measures, index)
        return self._owners[1].get(owner, [])

    def status(self, cycle: Period, now: datetime, *, owner: str | None = None) -> StatusReport:
        """Every measure of the cycle with its status; with `owner`, only that owner's (an
        out-of-office reply needs one owner's rows, not the whole register's)."""
        pairs = self.measures_in(cycle, owner)
        ids = None if owner is None else {m.id for m, _ in pairs}
        current = self.store.current_submissions({str(p) for _, p in pairs}, ids)
        silenced = self.silenced(now)
        rows = [
            self.status_row(m, p, current.get((m.id, str(p))), now) | silence_fields(silenced, m.id)
            for m, p in pairs
        ]
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
            target=measure.target_for(str(period)),
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
            "target": measure.target_for(str(period)),
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
            "commentary_public": bool(latest and latest["public"]),
            "due": self.calendar.cycle_dates(period).due.isoformat(),
        }

    def digest(
        self, cycle: Period, now: datetime, report: StatusReport | None = None
    ) -> Digest:
        """The digest model of a cycle: every measure with its status, SPC reading, trends.

        Pass the cycle's `report` when the caller already has it, so it is not read twice.
        The model is kept and handed out again while nothing it is built from has changed
        (`state_key`), so the alert check of every tick, the digest email and its Slack post
        share one build.
        """
        key = self.state_key(cycle, now)
        cached = self._digest
        if cached is not None and cached[0] == key:
            return cached[1]
        measures, _, people = self.registered()
        report = report or self.status(cycle, now)
        history = self.store.current_figures()
        digest = build_digest(
            cycle=cycle,
            measures=measures,
            status_rows=report.measures,
            history=history,
            owner_names={p.email: p.name for p in people.values() if p.name},
            as_of=now,
            due=self.calendar.cycle_dates(cycle).due,
            cycle_label=period_label(cycle),
            spc_rules=self.spc_rules,
            organisation=self.organisation,
        )
        signoff = self.signoff_states(cycle, now, report)
        digest = replace(
            digest,
            signoff=signoff if any(signoff.values()) else {},
            process=self.process(str(cycle), self.cycles_of(cycle)),
        )
        if cycle.frequency == "monthly":
            digest = with_year_to_date(
                digest, year_to_date(history, measures, cycle, self.year_start)
            )
        self._digest = (key, digest)
        return digest

    def report(
        self, span: Span, now: datetime, *, area: str = "", public: bool = False
    ) -> Digest:
        """The digest of any span: a month as ``digest``; a quarter from rolled-up figures.

        ``area`` narrows it to one outcome area's scorecard; ``public`` makes it fit to publish.
        """
        if span.kind == "month":
            digest = self.digest(span.first, now)
        elif span.is_year:
            raise InvalidPeriod(f"{span} is a year: its report is the annual report")
        else:
            measures, _, people = self.registered()
            judged, rows, history = quarter_inputs(span, measures, self.store.history_frame())
            [quarter] = span.quarters
            digest = build_digest(
                cycle=quarter,
                measures=judged,
                status_rows=rows,
                history=history,
                owner_names={p.email: p.name for p in people.values() if p.name},
                as_of=now,
                due=self.calendar.cycle_dates(quarter).due,
                cycle_label=span.label,
            )
            digest = as_rolled_up(digest, measures, span)
        if area:
            self.check_area(area)
            digest = for_area(digest, area)
        if public:
            # Only signed-off areas (and areas not under sign-off) are published.
            cycle = span.first if span.kind == "month" else span.quarters[0].reporting_month
            held = self.held_back_areas(cycle, now)
            shown = {m.id for m in self.registered()[0] if m.public and m.area not in held}
            digest = for_public(digest, shown)
        return digest

    def annual(
        self, span: Span, now: datetime, *, area: str = "", public: bool = False
    ) -> AnnualReport:
        """The annual report of a calendar or financial year, for one area or fit to publish."""
        report = build_annual(span, self.registered()[0], self.store.history_frame(), now)
        if area:
            self.check_area(area)
            report = annual_for_area(report, area)
        return annual_for_public(report) if public else report

    def is_area(self, area: str) -> bool:
        """True when a measure or the register's `areas:` list names this outcome area."""
        known = {m.area for m in self.store.measures()} | {a.name for a in self.store.areas()}
        return area in known

    def check_area(self, area: str) -> None:
        """Refuse an area no measure and no `areas:` entry names, listing the areas."""
        if not self.is_area(area):
            known = {m.area for m in self.store.measures()} | {a.name for a in self.store.areas()}
            raise UnknownArea(
                f"{area!r} is not an outcome area; the areas are {', '.join(sorted(known))}"
            )

    def judged(
        self, cycle: Period, now: datetime, report: StatusReport | None = None
    ) -> StatusReport:
        """The status report with each row's SPC judgement (`judgement_fields`) added."""
        report = report or self.status(cycle, now)
        views = {m.id: m for m in self.digest(cycle, now, report).measures}
        rows = [row | judgement_fields(views[row["id"]]) for row in report.measures]
        return StatusReport(report.cycle, report.as_of, rows)

    def state_key(self, cycle: Period, now: datetime) -> tuple:
        """What a cycle's status, digest and alerts are made from: equal keys, equal results.

        The cycle, the London date (a figure turns from outstanding to missing at a day's
        change), the figures (the latest submission: they are append-only), the register and
        people (their version), and the silences, sign-off decisions and chases (their latest
        rows: the digest shows sign-off, silences and the process page).
        """
        return (
            str(cycle),
            london_date(now),
            self.store.latest_submission_id(),
            self.store.register_version(),
            self.store.workflow_version(),  # silences, sign-off decisions, chases (bot.workflow)
        )

    def exceptions(
        self, cycle: Period, now: datetime, report: StatusReport | None = None
    ) -> list[dict[str, Any]]:
        """The digest's exceptions, worst first, as status rows plus why each is one.

        Red, missing after the due date, special-cause concern, consistently failing; a missing
        figure mutes the other reasons for its measure.
        """
        report = report or self.status(cycle, now)
        digest = self.digest(cycle, now, report)
        rows = {r["id"]: r for r in report.measures}
        return [
            rows[m.id] | judgement_fields(m) | {
                "exception_reasons": list(m.exception_reasons),
                "target_display": m.target_display,
            }
            for m in digest.exceptions
        ]

    # -- prompts ----------------------------------------------------------------------------

        signoff = self.signoff_states(cycle, now, report)
        digest = replace(
            digest,
            signoff=signoff if any(signoff.values()) else {},
            process=self.process(str(cycle), self.cycles_of(cycle)),
        )
PUBLIC_MARK = "public:"


def public_mark(commentary: str) -> tuple[bool, str]:
    """Whether the owner marked a commentary fit to publish, and the commentary without the mark.

    The same on every channel (email line, Slack message or modal, CLI, history file): start
    the commentary with ``public:``. Without it a commentary stays internal.

    >>> public_mark("Public: backlog down after recruitment"), public_mark("staff off sick")
    ((True, 'backlog down after recruitment'), (False, 'staff off sick'))
    """
    text = commentary.strip()
    if text[: len(PUBLIC_MARK)].lower() == PUBLIC_MARK:
        return True, text[len(PUBLIC_MARK):].strip()
    return False, text


def with_figure(
    figures: list[tuple[str, float | None]], period: str, value: float | None
) -> list[tuple[str, float | None]]:
    """`figures` (oldest first) once `value` is stored for `period`: it becomes the period's
    current value, as `Store.figures_of` would read it back."""
    at = bisect.bisect_left(figures, period, key=lambda figure: figure[0])
    stays = figures[at + 1 :] if at < len(figures) and figures[at][0] == period else figures[at:]
    return [*figures[:at], (period, value), *stays]


def silence_fields(silenced: dict[str, Silence], measure_id: str) -> dict[str, Any]:
    """`silence`: the reason a measure is silenced now (empty when it is not), and until when."""
    found = silenced.get(measure_id)
    if found is None:
        return {"silence": "", "silenced_until": None}
    return {"silence": found.reason, "silenced_until": found.ends.isoformat()}


def judgement_fields(view: MeasureView) -> dict[str, Any]:
    """What `status --json` and `exceptions --json` say of a measure's chart and target."""
    return {
        "target": view.target,
        "trial_limits": view.trial_limits,
        "rebased_from": view.rebased_from,
        "mean": view.mean,
        "lower_limit": view.lower_limit,
        "upper_limit": view.upper_limit,
        "variation": view.variation,
        "assurance": view.assurance if view.target is not None else None,
        "verdict": view.verdict,
    }


def rag_of(measure: Measure, value: float, period: str) -> str:
    """The colour of a figure against the target in force for its own period."""
    target = measure.target_for(period)
    if target is None:
        return "monitored"
    return rag(
        value,
        measure.better,
        target,
        parse_tolerance(measure.amber_tolerance),
        parse_tolerance(measure.red_tolerance),
    )


@functools.lru_cache(maxsize=256)  # a message's figures share one; a day's messages a few
def figure_period(
    frequency: str, named: str | None, cycle: str | None, today: date, year_start: int
) -> Period:
    """The period a figure of a `frequency` measure sent `today` is for: the `named` one, else
    the latest the `cycle` (or today's reporting month) asks for; Refused when not taken."""
    if named:
        try:
            period = parse_reporting_period(named, year_start)
        except InvalidPeriod as exc:
            raise Refused("invalid_period", "period", detail=str(exc)) from exc
        if period.frequency != frequency:
            example = "2026-Q3" if frequency == "quarterly" else "2026-10"
            raise Refused("wrong_frequency", "period", frequency=frequency, example=example)
    else:
        period = latest_period(frequency, parse_period(cycle) if cycle else reporting_period(today))
    if period.end >= today:
        raise Refused("not_ended", "period", period=str(period))
    return period


def latest_period(frequency: str, cycle: Period) -> Period:
    """The period a figure sent in `cycle` is for: a quarterly measure reports its last quarter."""
    if frequency == "monthly" or cycle.frequency == "quarterly":
        return cycle
    quarter = period_for("quarterly", cycle)
    if quarter is not None:
        return quarter
    return period_for("quarterly", cycle.shift(-((cycle.month or 0) % 3)))  # type: ignore[return-value]



