"""Silences: a measure that is not chased and not alerted on, for a stated reason, until a day.

A silence is for a known issue (a system being replaced, a survey not run this quarter): the
owner is not chased and leaders get no alert for it, but the pack still shows the measure with
the silence and its reason. Silences end by themselves on their last day; a newer silence of
the same measure replaces the older one (that is how one is shortened or lifted, since nothing
in the store is ever changed in place).

Pure: the day is passed in.

>>> from bot.periods import WorkingCalendar
>>> request = parse_mute("OD-03 until 2026-12-31 finance system replaced", date(2026, 11, 2),
...                      WorkingCalendar())
>>> request.measure_id, request.ends.isoformat(), request.reason
('OD-03', '2026-12-31', 'finance system replaced')
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import date, timedelta

from bot.periods import InvalidPeriod, WorkingCalendar, parse_period, reporting_period
from bot.values import MEASURE_ID_PATTERN

LONGEST = timedelta(days=366)  # a longer one is a measure to retire, in the register


class InvalidSilence(ValueError):
    """A mute request that cannot be taken; the message says what to write instead."""


@dataclass(frozen=True)
class MuteRequest:
    measure_id: str
    ends: date  # the last day it is silenced
    reason: str


@dataclass(frozen=True)
class Silence:
    measure_id: str
    starts: date
    ends: date
    reason: str
    created_by: str
    channel: str
    created_at: str

    def active_on(self, day: date) -> bool:
        return self.starts <= day <= self.ends

    @property
    def until(self) -> str:
        return f"{self.ends:%a} {self.ends.day} {self.ends:%b %Y}"


def parse_mute(text: str, today: date, calendar: WorkingCalendar) -> MuteRequest:
    """Read `ID [PERIOD | until DATE] reason…`.

    A period silences its collection: until its digest day. No period: the cycle being
    collected now (or the next, once this one's digest has gone).
    """
    words = text.split()
    if not words:
        raise InvalidSilence(
            "nothing to mute; write ID [PERIOD | until YYYY-MM-DD] REASON, "
            "e.g. 'OD-03 2026-Q4 finance system replaced'"
        )
    measure_id, rest = words[0].upper(), words[1:]
    if not MEASURE_ID_PATTERN.fullmatch(measure_id):
        raise InvalidSilence(f"{words[0]!r} is not a measure id; start with one, e.g. OD-03")
    if rest and rest[0].lower() == "until":
        if len(rest) < 2:
            raise InvalidSilence("'until' needs a date, e.g. until 2026-12-31")
        try:
            ends = date.fromisoformat(rest[1])
        except ValueError:
            raise InvalidSilence(f"{rest[1]!r} is not a date like 2026-12-31") from None
        rest = rest[2:]
    else:
        period = None
        if rest:
            try:
                period = parse_period(rest[0])
                rest = rest[1:]
            except InvalidPeriod:
                period = None  # the reason starts straight after the id
        if period is None:
            period = reporting_period(today)
            if calendar.cycle_dates(period).digest < today:
                period = period.shift(1)
        ends = calendar.cycle_dates(period).digest
    reason = " ".join(rest).strip()
    if not reason:
        raise InvalidSilence(f"{measure_id}: say why it is silenced, after the id and period")
    if ends < today:
        raise InvalidSilence(f"{measure_id}: {ends} has passed; a silence must end today or later")
    if ends - today > LONGEST:
        raise InvalidSilence(
            f"{measure_id}: a silence lasts a year at most; to stop collecting a measure, "
            "remove it from the register"
        )
    return MuteRequest(measure_id, ends, reason[:500])


def active_silences(silences: Iterable[Silence], day: date) -> dict[str, Silence]:
    """Measure id -> its silence in force on `day`. The newest silence of a measure decides
    (given oldest first), so a newer one ending earlier shortens or lifts the older."""
    newest: dict[str, Silence] = {}
    for silence in silences:
        newest[silence.measure_id] = silence
    return {k: s for k, s in newest.items() if s.active_on(day)}


def without_silenced(
    outstanding: Mapping[str, Iterable[str]], silenced: Mapping[str, Silence]
) -> dict[str, list[str]]:
    """Who to chase for what, leaving out silenced measures (and owners left with none)."""
    kept = {owner: [i for i in ids if i not in silenced] for owner, ids in outstanding.items()}
    return {owner: ids for owner, ids in kept.items() if ids}
