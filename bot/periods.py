"""Reporting periods and the working-day calendar that times each collection cycle.

A measure reports on a *period*: a calendar month (``2026-10``) or a quarter (``2026-Q3``).
Figures for a period are collected in the month after it ends, on dates counted in working days
(weekends and Scottish bank holidays skipped, all times Europe/London)::

    >>> cal = WorkingCalendar()
    >>> dates = cal.cycle_dates(parse_period("2026-10"))
    >>> dates.prompt, dates.due
    (datetime.date(2026, 11, 2), datetime.date(2026, 11, 6))

Everything here is pure: the current time is always passed in, never read from the clock.
"""

from __future__ import annotations

import calendar
import operator
import re
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import date, datetime, time, timedelta
from zoneinfo import ZoneInfo

import holidays

LONDON = ZoneInfo("Europe/London")

MONTHLY = "monthly"
QUARTERLY = "quarterly"
FREQUENCIES = (MONTHLY, QUARTERLY)

ACCEPTED_FORMS = 'a month as YYYY-MM ("2026-10") or a quarter as YYYY-Qn ("2026-Q3")'

_MONTH_RE = re.compile(r"(\d{4})-(\d{1,2})")
_QUARTER_RE = re.compile(r"(\d{4})-?[Qq](\d)")


class InvalidPeriod(ValueError):
    """A period that cannot exist or text that does not name one."""


@dataclass(frozen=True, order=True)
class Period:
    """A calendar month (``month`` set) or quarter (``quarter`` set) of a year.

    Periods of one frequency sort chronologically; comparing a month with a quarter of the
    same year has no meaning and raises ``TypeError``.

    >>> p = Period(2026, quarter=3)
    >>> str(p), p.start, p.end, str(p.reporting_month)
    ('2026-Q3', datetime.date(2026, 7, 1), datetime.date(2026, 9, 30), '2026-09')
    """

    year: int
    month: int | None = None
    quarter: int | None = None

    def __post_init__(self) -> None:
        if (self.month is None) == (self.quarter is None):
            raise InvalidPeriod(f"a period has either a month or a quarter; write {ACCEPTED_FORMS}")
        # Normalise int-like values (numpy integers from pandas) so equality and hashing are plain.
        object.__setattr__(self, "year", _integer(self.year, "year"))
        if not 1 <= self.year <= 9999:
            raise InvalidPeriod(f"year {self.year} is out of range (1 to 9999)")
        if self.month is not None:
            object.__setattr__(self, "month", _integer(self.month, "month"))
            if not 1 <= self.month <= 12:
                raise InvalidPeriod(f"month {self.month} is not 1 to 12; write {ACCEPTED_FORMS}")
        else:
            object.__setattr__(self, "quarter", _integer(self.quarter, "quarter"))
            if not 1 <= self.quarter <= 4:
                raise InvalidPeriod(f"quarter {self.quarter} is not 1 to 4; write {ACCEPTED_FORMS}")

    @property
    def frequency(self) -> str:
        """``"monthly"`` or ``"quarterly"``."""
        return MONTHLY if self.month is not None else QUARTERLY

    @property
    def _first_month(self) -> int:
        return self.month if self.month is not None else (self.quarter - 1) * 3 + 1

    @property
    def _last_month(self) -> int:
        return self.month if self.month is not None else self.quarter * 3

    @property
    def start(self) -> date:
        """The first day of the period: ``Period(2026, 10).start == date(2026, 10, 1)``."""
        return date(self.year, self._first_month, 1)

    @property
    def end(self) -> date:
        """The last day of the period: ``Period(2026, quarter=4).end == date(2026, 12, 31)``."""
        last = self._last_month
        return date(self.year, last, calendar.monthrange(self.year, last)[1])

    def __str__(self) -> str:
        if self.month is not None:
            return f"{self.year:04d}-{self.month:02d}"
        return f"{self.year:04d}-Q{self.quarter}"

    def shift(self, n: int) -> Period:
        """The period ``n`` steps later (earlier when negative), in the same frequency.

        >>> str(Period(2026, 11).shift(3)), str(Period(2026, quarter=1).shift(-1))
        ('2027-02', '2025-Q4')
        """
        if self.month is not None:
            year, month0 = divmod(self.year * 12 + self.month - 1 + n, 12)
            return Period(year, month=month0 + 1)
        year, quarter0 = divmod(self.year * 4 + self.quarter - 1 + n, 4)
        return Period(year, quarter=quarter0 + 1)

    def years_ago(self, n: int) -> Period:
        """The same month or quarter ``n`` years earlier: ``2026-Q3`` -> ``2023-Q3`` for 3."""
        return Period(self.year - n, self.month, self.quarter)

    @property
    def reporting_month(self) -> Period:
        """The monthly period in whose collection cycle this period is reported.

        A month reports in its own cycle; a quarter in the cycle of its last month, so
        ``2026-Q3`` is collected alongside ``2026-09`` (in October).
        """
        return Period(self.year, month=self._last_month)


def _integer(value: object, name: str) -> int:
    if isinstance(value, bool):
        raise InvalidPeriod(f"{name} must be a whole number, not {value!r}")
    try:
        return operator.index(value)
    except TypeError:
        raise InvalidPeriod(f"{name} must be a whole number, not {value!r}") from None


def monthly(year: int, month: int) -> Period:
    """The monthly period: ``str(monthly(2026, 3)) == "2026-03"``."""
    return Period(year, month=month)


def quarterly(year: int, q: int) -> Period:
    """The quarterly period: ``str(quarterly(2026, 3)) == "2026-Q3"``."""
    return Period(year, quarter=q)


def parse_period(text: str) -> Period:
    """Read a period as people write it.

    Accepted: ``YYYY-MM`` (a one-digit month is fine: ``2026-3``) and ``YYYY-Qn`` (``q`` in
    either case, hyphen optional: ``2026q3``). Surrounding whitespace is ignored. Anything else,
    or a month or quarter out of range, raises ``InvalidPeriod`` naming the accepted forms.

    >>> parse_period(" 2026-3 "), parse_period("2026q3")
    (Period(year=2026, month=3, quarter=None), Period(year=2026, month=None, quarter=3))
    """
    if not isinstance(text, str):
        raise InvalidPeriod(f"expected period text, got {text!r}; write {ACCEPTED_FORMS}")
    cleaned = text.strip()
    if match := _MONTH_RE.fullmatch(cleaned):
        fields = {"month": int(match[2])}
    elif match := _QUARTER_RE.fullmatch(cleaned):
        fields = {"quarter": int(match[2])}
    else:
        raise InvalidPeriod(f"{text!r} is not a period; write {ACCEPTED_FORMS}")
    try:
        return Period(int(match[1]), **fields)
    except InvalidPeriod as exc:  # out of range: say which text was wrong
        raise InvalidPeriod(f"{text!r}: {exc}") from None


def reporting_period(today: date) -> Period:
    """The monthly period being collected on ``today``: the previous calendar month.

    >>> str(reporting_period(date(2027, 1, 6)))
    '2026-12'
    """
    return Period(today.year, month=today.month).shift(-1)


def period_for(frequency: str, cycle: Period) -> Period | None:
    """Which period a measure of ``frequency`` reports in the cycle of monthly period ``cycle``.

    Quarterly measures report only in the cycle of a quarter's last month:

    >>> str(period_for("quarterly", monthly(2026, 9))), period_for("quarterly", monthly(2026, 10))
    ('2026-Q3', None)
    """
    if cycle.frequency != MONTHLY:
        raise InvalidPeriod(f"a collection cycle is a month, not {cycle}")
    if frequency == MONTHLY:
        return cycle
    if frequency == QUARTERLY:
        return Period(cycle.year, quarter=cycle.month // 3) if cycle.month % 3 == 0 else None
    raise ValueError(f"frequency must be one of {', '.join(FREQUENCIES)}, not {frequency!r}")


def periods_between(first: Period, last: Period) -> list[Period]:
    """Every period from ``first`` to ``last`` inclusive; empty when ``last`` is before ``first``.

    >>> [str(p) for p in periods_between(monthly(2026, 11), monthly(2027, 1))]
    ['2026-11', '2026-12', '2027-01']
    """
    if first.frequency != last.frequency:
        raise InvalidPeriod(f"{first} and {last} are not the same frequency")
    periods = []
    current = first
    while current <= last:
        periods.append(current)
        current = current.shift(1)
    return periods


def london_date(now: datetime) -> date:
    """The calendar date in London at the instant ``now`` (which must be timezone-aware)."""
    return _to_london(now).date()


def _to_london(now: datetime) -> datetime:
    # A naive datetime would silently be read as the machine's local time; refuse it.
    if now.tzinfo is None or now.utcoffset() is None:
        raise ValueError(f"now must be timezone-aware, got naive {now!r}")
    return now.astimezone(LONDON)


ESCALATION_LEAD = 2  # working days between escalation and the digest, at least


@dataclass(frozen=True)
class CalendarSettings:
    """When things happen in a cycle, in working days of the month after the period.

    Reminders are working days before the due day (0 = on the due day); escalation is working
    days after it. Nothing is sent in quiet hours (``quiet_start`` to ``quiet_end``, London time)
    or on a day that is not a working day.

    Escalation must leave the deputy time to answer before the digest, so it comes at least
    ``ESCALATION_LEAD`` working days before it; approvers who have not decided by the sign-off
    day are reminded, and it comes after the due day and before the digest.
    """

    prompt_day: int = 1
    due_day: int = 5
    reminder_days_before_due: tuple[int, ...] = (2, 0)
    escalation_days_after_due: int = 1
    signoff_day: int = 7
    digest_day: int = 8
    quiet_start: time = time(18, 0)
    quiet_end: time = time(8, 0)

    def __post_init__(self) -> None:
        # Keep the dataclass hashable when a list comes from configuration.
        object.__setattr__(self, "reminder_days_before_due", tuple(self.reminder_days_before_due))
        for name in ("prompt_day", "due_day", "signoff_day", "digest_day"):
            if getattr(self, name) < 1:
                raise ValueError(f"{name} must be 1 or more (the nth working day)")
        if self.escalation_days_after_due < 0 or any(k < 0 for k in self.reminder_days_before_due):
            raise ValueError("reminder and escalation offsets cannot be negative")
        if self.due_day < self.prompt_day:
            raise ValueError(
                f"the due day (working day {self.due_day}) comes before the prompt "
                f"(working day {self.prompt_day}); make it later"
            )
        # All are counted in working days of the same month, so the check is arithmetic.
        escalation = self.due_day + self.escalation_days_after_due
        if escalation + ESCALATION_LEAD > self.digest_day:
            raise ValueError(
                f"escalation on working day {escalation} leaves less than {ESCALATION_LEAD} "
                f"working days before the digest (working day {self.digest_day}); escalate "
                f"sooner or move the digest to working day {escalation + ESCALATION_LEAD} or later"
            )
        if not self.due_day < self.signoff_day < self.digest_day:
            raise ValueError(
                f"the sign-off day (working day {self.signoff_day}) must come after the due day "
                f"(working day {self.due_day}) and before the digest (working day "
                f"{self.digest_day})"
            )


@dataclass(frozen=True)
class CycleDates:
    """The dates of one period's collection cycle."""

    period: Period
    prompt: date
    due: date
    reminders: tuple[date, ...]
    escalation: date
    signoff: date
    digest: date


class WorkingCalendar:
    """Working days (Mon-Fri, not a Scottish bank holiday) and the cycle timetable built on them.

    >>> cal = WorkingCalendar()
    >>> cal.is_working_day(date(2026, 11, 30))  # St Andrew's Day
    False
    >>> cal.add_working_days(date(2026, 12, 24), 1)  # over Christmas and Boxing Day (observed)
    datetime.date(2026, 12, 29)
    """

    def __init__(
        self, settings: CalendarSettings | None = None, extra_holidays: Iterable[date] = ()
    ) -> None:
        self.settings = settings or CalendarSettings()
        self.extra_holidays = frozenset(extra_holidays)
        self._holidays_by_year: dict[int, frozenset[date]] = {}
        self._cycles: dict[Period, CycleDates] = {}

    def _holidays(self, year: int) -> frozenset[date]:
        # Loaded one year at a time, on first use: the package computes each year on demand.
        if year not in self._holidays_by_year:
            bank = holidays.country_holidays("GB", subdiv="SCT", years=year)
            self._holidays_by_year[year] = frozenset(d for d in bank if d.year == year)
        return self._holidays_by_year[year]

    def is_working_day(self, d: date) -> bool:
        """True on a weekday that is neither a Scottish bank holiday nor an extra holiday."""
        if isinstance(d, datetime):
            # A datetime never equals a date, so holidays would be missed: make callers choose.
            raise TypeError("pass a date; for an instant use london_date(now)")
        return d.weekday() < 5 and d not in self._holidays(d.year) and d not in self.extra_holidays

    def add_working_days(self, d: date, n: int) -> date:
        """The date ``n`` working days after ``d`` (before it when negative).

        ``d`` itself is not counted. With ``n == 0`` the result is ``d`` if it is a working day,
        else the next working day.
        """
        step = timedelta(days=1 if n >= 0 else -1)
        if n == 0:
            while not self.is_working_day(d):
                d += step
            return d
        remaining = abs(n)
        while remaining:
            d += step
            if self.is_working_day(d):
                remaining -= 1
        return d

    def nth_working_day(self, year: int, month: int, n: int) -> date:
        """The ``n``th working day (from 1) of a month; ``ValueError`` if the month is too short."""
        if n < 1:
            raise ValueError(f"n counts working days from 1, not {n}")
        found = self.add_working_days(self.add_working_days(date(year, month, 1), 0), n - 1)
        if (found.year, found.month) != (year, month):
            raise ValueError(f"{year}-{month:02d} has fewer than {n} working days")
        return found

    def cycle_dates(self, period: Period) -> CycleDates:
        """Prompt, due, reminder, escalation, sign-off and digest dates for ``period``.

        All are counted in working days of the month after the period ends, so a quarter has
        the same timetable as its last month.
        """
        # Asked for once per measure on every tick: worth remembering.
        if period not in self._cycles:
            self._cycles[period] = self._cycle_dates(period)
        return self._cycles[period]

    def _cycle_dates(self, period: Period) -> CycleDates:
        cycle = period.reporting_month.shift(1)
        s = self.settings
        due = self.nth_working_day(cycle.year, cycle.month, s.due_day)
        reminders = sorted({self.add_working_days(due, -k) for k in s.reminder_days_before_due})
        return CycleDates(
            period=period,
            prompt=self.nth_working_day(cycle.year, cycle.month, s.prompt_day),
            due=due,
            reminders=tuple(reminders),
            escalation=self.add_working_days(due, s.escalation_days_after_due),
            signoff=self.nth_working_day(cycle.year, cycle.month, s.signoff_day),
            digest=self.nth_working_day(cycle.year, cycle.month, s.digest_day),
        )

    def is_overdue(self, period: Period, now: datetime) -> bool:
        """True once the London date is after the period's due date (the due day itself is not)."""
        return london_date(now) > self.cycle_dates(period).due

    def is_quiet(self, now: datetime) -> bool:
        """True in quiet hours (London time) or on a day that is not a working day."""
        local = _to_london(now)
        if not self.is_working_day(local.date()):
            return True
        start, end, t = self.settings.quiet_start, self.settings.quiet_end, local.time()
        if start == end:  # no quiet hours configured
            return False
        if start > end:  # the usual case: the quiet window spans midnight
            return t >= start or t < end
        return start <= t < end

    def next_sending_time(self, now: datetime) -> datetime:
        """``now`` (in London time) if sending is allowed, else the next moment it is.

        >>> friday_evening = datetime(2026, 10, 23, 18, 30, tzinfo=LONDON)
        >>> WorkingCalendar().next_sending_time(friday_evening).isoformat()
        '2026-10-26T08:00:00+00:00'
        """
        local = _to_london(now)
        if not self.is_quiet(local):
            return local
        # Sending can only resume at midnight or when quiet hours end, on a working day.
        day = local.date()
        while True:
            for opening in sorted({time(0, 0), self.settings.quiet_end}):
                candidate = datetime.combine(day, opening, tzinfo=LONDON)
                if candidate > local and not self.is_quiet(candidate):
                    return candidate
            day = self.add_working_days(day, 1)
