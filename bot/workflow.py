"""How the cycle is run, as use cases: silences, sign-off, deputies, the process, the audit.

`Workflow` is part of the service (`Service` inherits it), like `Outreach`: the same store and
calendar, kept in its own module because running the cycle is a separate concern from taking
and judging figures. The rules themselves are pure (bot.silences, bot.signoff, bot.process).
"""

from __future__ import annotations

import re
from collections import defaultdict
from collections.abc import Iterable
from dataclasses import dataclass, field, replace
from datetime import date, datetime
from typing import TYPE_CHECKING, Any

from bot.events import Prompt, SignoffRequest
from bot.measures import Area
from bot.outreach import period_label
from bot.periods import Period, WorkingCalendar, london_date, parse_period, period_for
from bot.process import Expected, ProcessReport, process_report
from bot.signoff import (
    AWAITING,
    QUERIED,
    REMINDER,
    REQUEST,
    AreaProgress,
    Decision,
    InvalidDecision,
    area_state,
    parse_decisions,
    publishable,
    signoff_actions,
)
from bot.silences import InvalidSilence, Silence, active_silences, parse_mute
from bot.store import Store
from bot.timetable import Action

if TYPE_CHECKING:
    from bot.events import StatusReport

DEPUTY_PROMPT, QUERY_PROMPT = "deputy-prompt", "query"  # ledger kinds
SIGNOFF_REFERENCE = re.compile(r"\[SO-(\d{4}-\d{2})\]", re.IGNORECASE)


@dataclass(frozen=True)
class DecisionResult:
    """What a sign-off reply or command did: a `code` and its `params`; the sentence the
    approver reads is the `decision` macro of templates/signoff.txt."""

    ok: bool
    code: str
    params: dict[str, Any] = field(default_factory=dict)
    decisions: tuple[Decision, ...] = ()
    queries: tuple[Prompt, ...] = ()  # the prompts that take each query to its owner


class Workflow:
    """Mixed into the service before `Outreach`, whose abstract `silenced` and `signoff_due`
    it implements; it uses the service's `status`, `person_name`, `prompts_for` and
    `registered`."""

    store: Store
    calendar: WorkingCalendar

    # -- silences ---------------------------------------------------------------------------

    def mute(self, text: str, who: str, channel: str, now: datetime) -> Silence:
        """Silence a measure (raises InvalidSilence with a one-line reason)."""
        today = london_date(now)
        request = parse_mute(text, today, self.calendar)
        if self.store.measure(request.measure_id) is None:
            raise InvalidSilence(f"{request.measure_id} is not a measure in the register")
        self.store.add_silence(request.measure_id, today, request.ends, request.reason,
                               who.lower(), channel, now)  # fmt: skip
        return self.silenced(now)[request.measure_id]

    def silenced(self, now: datetime) -> dict[str, Silence]:
        """Measure id -> the silence in force now."""
        return active_silences(self.store.silences(), london_date(now))

    # -- sign-off ---------------------------------------------------------------------------

    def areas(self) -> list[Area]:
        return self.store.areas()

    def approver_of(self, area: str) -> str:
        return next((a.approver_email for a in self.store.areas() if a.name == area), "")

    def signoff_progress(self, cycle: Period, report: StatusReport) -> list[AreaProgress]:
        """Each area under sign-off (it has an approver) with its state in this cycle."""
        approvers = {a.name: a.approver_email for a in self.store.areas() if a.approver_email}
        rows_by_area: dict[str, list[dict[str, Any]]] = defaultdict(list)
        for row in report.measures:
            rows_by_area[row["area"]].append(row)
        decisions = defaultdict(list)
        for decision in self.store.decisions(str(cycle)):
            decisions[decision.area].append(decision)
        progress = []
        for area, rows in sorted(rows_by_area.items()):
            if area not in approvers:
                continue
            arrived = {
                r["id"]: datetime.fromisoformat(r["submitted_at"])
                for r in rows
                if r["submitted_at"]
            }
            state, round_ = area_state(decisions[area], arrived)
            complete = all(r["revisions"] or r.get("silence") for r in rows)
            ids = tuple(r["id"] for r in rows)
            progress.append(AreaProgress(area, approvers[area], ids, complete, state, round_))
        return progress

    def signoff_states(self, cycle: Period, now: datetime, report=None) -> dict[str, str]:
        """Every area of the cycle -> signed_off, awaiting or queried; "" for an area that is
        not under sign-off (no approver)."""
        report = report or self.status(cycle, now)
        states = {row["area"]: "" for row in report.measures}
        states.update({p.area: p.state for p in self.signoff_progress(cycle, report)})
        return states

    def publishable_areas(self, cycle: Period, now: datetime, report=None) -> set[str]:
        """The areas a public pack may show: signed off, or not under sign-off at all."""
        return publishable(self.signoff_states(cycle, now, report))

    def signoff_request(self, action: Action, report: StatusReport) -> SignoffRequest:
        """What the approver is asked: the area's figures and the dates."""
        cycle = parse_period(action.cycle)
        dates = self.calendar.cycle_dates(cycle)
        rows = tuple(r for r in report.measures if r["area"] == action.area)
        return SignoffRequest(
            area=action.area,
            cycle=action.cycle,
            cycle_label=period_label(cycle),
            approver_email=action.owner_email,
            approver_name=self.person_name(action.owner_email),
            rows=rows,
            complete=all(r["revisions"] or r["silence"] for r in rows),
            signoff_day=f"{dates.signoff:%A} {dates.signoff.day} {dates.signoff:%B}",
            digest_day=f"{dates.digest:%A} {dates.digest.day} {dates.digest:%B}",
            reminder=action.kind == REMINDER,
        )

    def signoff_for_reply(
        self, message_refs: list[str], subject: str
    ) -> tuple[str | None, str] | None:
        """(area, cycle) of the sign-off request a reply answers, or None when it answers none.

        From the request it replies to; else from the [SO-cycle] reference in the subject, for
        the approver's area (decide() refuses an approver of several areas without threading).
        """
        for kind in (REQUEST, REMINDER):
            entry = self.store.ledger_by_ref(kind, message_refs)
            if entry is not None:
                area, cycle, _round = entry["key"].rsplit(":", 2)
                return area, cycle
        match = SIGNOFF_REFERENCE.search(subject or "")
        return (None, match.group(1)) if match else None

    def held_back_areas(self, cycle: Period, now: datetime, report=None) -> set[str]:
        """The areas a public pack leaves out: under sign-off and not signed off, in a cycle
        pmbot ran (it prompted someone). Figures from before pmbot, imported as history, were
        never put to an approver, so sign-off does not hold them back."""
        if str(cycle) not in self.store.cycles_with_prompts():
            return set()
        states = self.signoff_states(cycle, now, report)
        return {area for area, state in states.items() if state in (AWAITING, QUERIED)}

    def signoff_due(
        self, today: date, cycle: Period, report: StatusReport, done: set[tuple[str, str]]
    ) -> list[Action]:
        dates = self.calendar.cycle_dates(cycle)
        return signoff_actions(today, dates, self.signoff_progress(cycle, report), done)

    def decide(
        self,
        *,
        text: str,
        who: str,
        channel: str,
        source_ref: str,
        now: datetime,
        cycle: Period,
        area: str | None = None,
    ) -> DecisionResult:
        """Record an approver's decision (APPROVE, or QUERY ID question) on an area's figures.

        Only the area's approver may decide. `area` may be left out when the approver signs
        off exactly one area. A query becomes a prompt to the measure's owner (same form, same
        reply grammar); the caller sends the prompts in `queries`.
        """
        who = who.lower()
        mine = sorted(a.name for a in self.store.areas() if a.approver_email == who)
        if area is None:
            if len(mine) != 1:
                return DecisionResult(False, "name_area", {"who": who, "areas": mine})
            area = mine[0]
        known = {a.name: a for a in self.store.areas()}
        said = {"area": area, "cycle": str(cycle), "who": who}
        if area not in known or not known[area].approver_email:
            return DecisionResult(False, "not_under_signoff", said)
        if area not in mine:
            approver = known[area].approver_email
            return DecisionResult(False, "not_approver", said | {"approver": approver})
        try:
            parsed = parse_decisions(text)
        except InvalidDecision as exc:
            return DecisionResult(False, "not_a_decision", said | {"detail": str(exc)})
        report = self.status(cycle, now)
        rows = {r["id"]: r for r in report.measures if r["area"] == area}
        strangers = [d.measure_id for d in parsed if d.measure_id and d.measure_id not in rows]
        if strangers:
            said |= {"measure": strangers[0], "choices": sorted(rows)}
            return DecisionResult(False, "not_in_area", said)
        decisions = tuple(
            Decision(area, str(cycle), d.decision, d.measure_id, d.note, who, channel, now)
            for d in parsed
        )
        with self.store.atomic():
            new = [
                self.store.add_decision(d, f"{source_ref}#{n}")
                for n, d in enumerate(decisions, start=1)
            ]
        if not any(new):
            return DecisionResult(True, "recorded_before", said)
        queries = tuple(self.query_prompt(cycle, report, rows[d.measure_id], d) for d in decisions
                        if d.decision == QUERIED)  # fmt: skip
        if queries:
            said |= {"ids": [d.measure_id for d in decisions]}
            return DecisionResult(True, "queried", said, decisions, queries)
        return DecisionResult(True, "approved", said, decisions)

    def query_prompt(
        self, cycle: Period, report: StatusReport, row: dict[str, Any], decision: Decision
    ) -> Prompt:
        """The owner's prompt for a queried measure: the usual form, with the question."""
        prompt = self.prompts_for(cycle, report, [row["owner_email"]], ids={row["id"]})
        asker = self.person_name(decision.decided_by)
        return replace(prompt[row["owner_email"]], query=decision.note, queried_by=asker)

    # -- deputies ---------------------------------------------------------------------------

    def deputy_prompts(
        self, owner: str, cycle: Period, report: StatusReport, *, away: bool
    ) -> list[Prompt]:
        """A prompt for each deputy of the owner's outstanding measures (silenced ones left
        out), in the owner's form; `away`: the owner's automatic reply says they are away."""
        rows = [
            r for r in report.measures
            if r["owner_email"] == owner and r["deputy_email"] and not r["revisions"]
            and not r.get("silence")
        ]  # fmt: skip
        by_deputy: dict[str, set[str]] = defaultdict(set)
        for row in rows:
            by_deputy[row["deputy_email"]].add(row["id"])
        prompts = []
        for deputy, ids in sorted(by_deputy.items()):
            base = self.prompts_for(cycle, report, [owner], ids=ids)[owner]
            prompts.append(replace(
                base, owner_email=deputy, owner_name=self.person_name(deputy),
                deputy_for=self.person_name(owner), owner_away=away,
            ))  # fmt: skip
        return prompts

    # -- the process ------------------------------------------------------------------------

    def expected_figures(self, cycles: Iterable[Period]) -> list[Expected]:
        """Every figure that was due in these cycles and not silenced on its due day, with
        when it came and how much chasing it took. Figures that only came by history import
        are left out: they say nothing about the process."""
        cycles = list(cycles)
        measures = self.registered()[0]  # the service's, read again only when it moves
        # Each cycle's period per frequency, named and dated once: there are few of them.
        slots = {}
        for cycle in cycles:
            for frequency in ("monthly", "quarterly"):
                period = period_for(frequency, cycle)
                if period is not None:
                    slots[cycle, frequency] = (str(period), self.calendar.cycle_dates(period).due)
        rows = self.store.submission_times({name for name, _ in slots.values()})
        times = {(r["measure_id"], r["period"]): r for r in rows}
        chases: dict[tuple[str, str], list[datetime]] = defaultdict(list)
        for row in self.store.chases(str(c) for c in cycles):
            owner = row["key"].split(":")[0]
            chases[owner, row["cycle"]].append(datetime.fromisoformat(row["at"]))
        silences = self.store.silences()
        silenced = {due: set(active_silences(silences, due)) for _, due in slots.values()}
        figures = []
        for cycle in cycles:
            cycle_name = str(cycle)
            for measure in measures:
                slot = slots.get((cycle, measure.frequency))
                if slot is None or measure.id in silenced[slot[1]]:
                    continue
                period_name, due = slot
                got = times.get((measure.id, period_name))
                if got and got["first_channel"] == "import":
                    continue
                first = datetime.fromisoformat(got["first_at"]) if got else None
                chased = chases.get((measure.owner_email, cycle_name), ())
                late = None if first is None else max(0, (london_date(first) - due).days)
                figures.append(Expected(
                    cycle=cycle_name, measure_id=measure.id, period=period_name,
                    owner=measure.owner_email, area=measure.area, due=due, days_late=late,
                    submissions=got["submissions"] if got else 0,
                    not_available=bool(got and got["latest_status"] == "not_available"),
                    chases=sum(1 for at in chased if first is None or at < first),
                ))  # fmt: skip
        return figures

    @staticmethod
    def cycles_of(period: Period | int) -> list[Period]:
        """The monthly collection cycles a period covers: a month is one, a quarter three
        (its figures are collected in its months' cycles), a year (an int) twelve."""
        if isinstance(period, int):
            return [Period(period, month=m) for m in range(1, 13)]
        if period.frequency == "quarterly":
            last = period.reporting_month
            return [last.shift(-2), last.shift(-1), last]
        return [period]

    def process(self, title: str, cycles: list[Period]) -> ProcessReport:
        """The process for those of these cycles that pmbot ran (it sent prompts); the
        over-time view covers every cycle it ran up to the last of them."""
        last = str(cycles[-1]) if cycles else ""
        ran = self.store.cycles_with_prompts()
        history = [parse_period(c) for c in ran if c <= last]
        wanted = {str(c) for c in cycles} & set(ran)
        every = self.expected_figures(sorted(set(history) | set(cycles)))
        names = {p.email: p.name for p in self.store.people() if p.name}
        return process_report(title, [f for f in every if f.cycle in wanted], every, names)

    # -- the audit trail --------------------------------------------------------------------

    def audit(self, measure_id: str, period: str | None = None) -> dict[str, Any]:
        """A figure's history: every submission, the inbound messages about it, sign-off
        decisions on it or its area, and its silences."""
        measure = self.store.measure(measure_id)
        if measure is None:
            raise KeyError(measure_id)
        submissions = self.store.submissions_of(measure.id, period)
        message_ids = {s["source_ref"].partition("#")[0] for s in submissions}
        decisions = self.store.decisions_about(measure.id, measure.area)
        if period is not None:
            cycle = str(parse_period(period).reporting_month)
            decisions = [d for d in decisions if d["cycle"] == cycle]
        return {
            "measure": measure.id,
            "name": measure.name,
            "period": period,
            "submissions": submissions,
            "inbound": self.store.inbound_about(measure.id, message_ids),
            "decisions": decisions,
            "silences": [s.__dict__ for s in self.store.silences(measure.id)],
        }
