"""Sign-off: an outcome area's approver approves or queries its figures before publication.

Optional, per area: only areas with an `approver_email` take part; without approvers nothing
changes. The approver is asked once the area's figures are all in, or when the window closes
(the day after the due day), and reminded on the sign-off day if still undecided. A query names
one measure; it goes to the owner and re-opens that measure: once the owner sends a figure
again, the approver is asked again.

An area is, for a cycle:
- ``signed_off``: approved, and no figure of the area has arrived since;
- ``queried``: the latest decision is a query the owner has not yet answered;
- ``awaiting``: not decided yet, or figures have changed since the last decision.

Pure: decisions, submission times and the day are passed in.

>>> parse_decisions("Approve, thanks")
[ParsedDecision(decision='approved', measure_id='', note='thanks')]
>>> parse_decisions("QUERY od-01 why did this jump?")
[ParsedDecision(decision='queried', measure_id='OD-01', note='why did this jump?')]
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import date, datetime

from bot.periods import CycleDates
from bot.timetable import Action
from bot.values import MEASURE_ID_PATTERN

SIGNED_OFF, AWAITING, QUERIED = "signed_off", "awaiting", "queried"
STATES = (SIGNED_OFF, AWAITING, QUERIED)
REQUEST, REMINDER = "signoff-request", "signoff-reminder"  # ledger kinds

_APPROVE = re.compile(r"\s*[*_]*approved?[*_]*\b[\s,.:;!-]*(?P<note>.*)", re.IGNORECASE)
_QUERY = re.compile(
    r"\s*[*_]*query[*_]*\s+(?P<id>" + MEASURE_ID_PATTERN.pattern + r")\b[\s,.:;-]*(?P<note>.*)",
    re.IGNORECASE,
)


class InvalidDecision(ValueError):
    """A reply or command that is not a decision; the message says what to write."""


@dataclass(frozen=True)
class ParsedDecision:
    decision: str  # approved or queried
    measure_id: str  # for a query
    note: str


@dataclass(frozen=True)
class Decision:
    area: str
    cycle: str
    decision: str
    measure_id: str
    note: str
    decided_by: str
    channel: str
    decided_at: datetime


@dataclass(frozen=True)
class AreaProgress:
    """What sign-off needs to know about one area in one cycle."""

    area: str
    approver: str
    measure_ids: tuple[str, ...]
    complete: bool  # every figure is in (a value or "not available")
    state: str
    round: int  # decisions so far: figures changed after one mean the approver is asked again


def parse_decisions(text: str) -> list[ParsedDecision]:
    """The decisions in a reply or command: one APPROVE, or one or more QUERY lines.

    Raises InvalidDecision when there is none, or both kinds (which would be ambiguous).
    """
    found: list[ParsedDecision] = []
    for line in text.splitlines():
        if match := _QUERY.match(line):
            found.append(ParsedDecision(QUERIED, match["id"].upper(), match["note"].strip()))
        elif match := _APPROVE.fullmatch(line):
            found.append(ParsedDecision("approved", "", match["note"].strip()))
    kinds = {d.decision for d in found}
    if not found:
        raise InvalidDecision("no decision found: write APPROVE, or QUERY OD-01 and a question")
    if len(kinds) > 1:
        raise InvalidDecision("both an approval and a query: send one or the other")
    if kinds == {"approved"}:
        return found[:1]
    empty = [d.measure_id for d in found if not d.note]
    if empty:
        raise InvalidDecision(f"QUERY {empty[0]} needs a question for the owner after the id")
    return found


def split_area(text: str) -> tuple[str | None, str]:
    """(area, decision) from `[AREA] APPROVE|QUERY …` as typed after `/pm signoff`; the area is
    None when not given, the decision "" when there is none (then the states are shown).

    >>> split_area("Operational delivery approve")
    ('Operational delivery', 'approve')
    >>> split_area("QUERY OD-01 why?")
    (None, 'QUERY OD-01 why?')
    """
    words = text.split()
    for n, word in enumerate(words):
        if word.lower().strip("*_") in ("approve", "approved", "query"):
            return (" ".join(words[:n]) or None), " ".join(words[n:])
    return (" ".join(words) or None), ""


def area_state(
    decisions: Sequence[Decision], submitted_at: Mapping[str, datetime]
) -> tuple[str, int]:
    """(state, round) of an area from its decisions (oldest first) and, per measure, when its
    latest figure arrived."""
    if not decisions:
        return AWAITING, 0
    last = decisions[-1]
    if last.decision == QUERIED:
        # Every query sent with the latest one must be answered by a newer figure.
        latest = [d for d in decisions if d.decision == QUERIED and d.decided_at == last.decided_at]
        answered = all(
            d.measure_id in submitted_at and submitted_at[d.measure_id] > d.decided_at
            for d in latest
        )
        return (AWAITING if answered else QUERIED), len(decisions)
    changed = any(at > last.decided_at for at in submitted_at.values())
    return (AWAITING if changed else SIGNED_OFF), len(decisions)


def signoff_actions(
    today: date, dates: CycleDates, areas: Iterable[AreaProgress], done: set[tuple[str, str]]
) -> list[Action]:
    """Requests to approvers whose area is ready (all in, or the window has closed) and awaiting,
    and one reminder on the sign-off day to those still undecided."""
    cycle = str(dates.period)
    actions = []
    for area in sorted(areas, key=lambda a: a.area):
        if area.state != AWAITING or not area.approver:
            continue
        if not (area.complete or today > dates.due):
            continue
        key = f"{area.area}:{cycle}:{area.round}"
        fields = {"owner_email": area.approver, "measure_ids": area.measure_ids, "area": area.area}
        if (REQUEST, key) not in done:
            actions.append(Action(REQUEST, key, cycle, **fields))
        elif today >= dates.signoff and (REMINDER, key) not in done:
            actions.append(Action(REMINDER, key, cycle, **fields))
    return actions


def publishable(states: Mapping[str, str]) -> set[str]:
    """The areas whose figures may be published: signed off, or not under sign-off at all
    (an area without an approver has no state)."""
    return {area for area, state in states.items() if state in (SIGNED_OFF, "")}
