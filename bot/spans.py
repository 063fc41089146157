"""What a report covers: a month, a quarter, a year, a financial year or a quarter of one.

People write them as ``2026-10``, ``2026-Q3``, ``2026``, ``2026/27`` and ``2026/27-Q2``, and say
them as "October 2026" or "Q2 2026/27, July to September 2026". The financial year starts in
``PMBOT_YEAR_START`` (default 4, April). A figure is always for a month or a calendar quarter
(``bot.periods.Period``); a span is a stretch of months that a report rolls figures up over.
Pure: no clock.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from bot.periods import MONTHLY, InvalidPeriod, Period, parse_period, periods_between

YEAR_START = 4  # April: UK public bodies' financial year
# A financial year must start at a calendar quarter, so every quarterly measure's quarter sits
# inside one financial-year quarter and is neither split nor double-counted.
YEAR_STARTS = (1, 4, 7, 10)
MONTH = "month"
QUARTER = "quarter"
YEAR = "year"
FINANCIAL_YEAR = "financial_year"
FINANCIAL_QUARTER = "financial_quarter"
YEAR_TO_DATE = "year_to_date"

_YEAR_RE = re.compile(r"(\d{4})")
_MONTH_OR_QUARTER_RE = re.compile(r"\d{4}(-\d{1,2}|-?[Qq]\d)")  # parse_period says what is wrong
_FY_RE = re.compile(r"(\d{4})\s*/\s*(\d{2}|\d{4})(?:\s*-?\s*[Qq](\d))?")


@dataclass(frozen=True)
class Span:
    """What a report covers: a month, a quarter, a year, a financial year or a quarter of one.

    ``first`` and ``last`` are its first and last months. Spans are written as people write them
    (``str``) and labelled as people say them (``label``):

    >>> span = parse_span("2026/27-Q2")
    >>> str(span), span.label, [str(m) for m in span.months]
    ('2026/27-Q2', 'Q2 2026/27, July to September 2026', ['2026-07', '2026-08', '2026-09'])
    """

    kind: str
    first: Period
    last: Period
    text: str

    def __str__(self) -> str:
        return self.text

    @property
    def months(self) -> list[Period]:
        return periods_between(self.first, self.last)

    @property
    def quarters(self) -> list[Period]:
        """The calendar quarters that lie inside the span (none for a month)."""
        return [
            Period(m.year, quarter=m.month // 3) for m in self.months if m.month % 3 == 0
        ] if self.kind != MONTH else []

    @property
    def is_year(self) -> bool:
        return self.kind in (YEAR, FINANCIAL_YEAR)

    @property
    def slug(self) -> str:
        """The span in a file name: ``2026/27-Q2`` -> ``2026-27-Q2``."""
        return self.text.replace("/", "-")

    @property
    def label(self) -> str:
        months = months_label(self.first, self.last)
        if self.kind == MONTH:
            return months
        if self.kind == QUARTER:
            return f"Q{self.first.month // 3 + 1} {self.first.year}, {months}"
        if self.kind == FINANCIAL_QUARTER:
            name, quarter = self.text.split("-Q")
            return f"Q{quarter} {name}, {months}"
        return f"{self.text}, {months}"

    def contains(self, period: Period) -> bool:
        """True when a month or quarter lies wholly inside the span."""
        return self.first.start <= period.start and period.end <= self.last.end

    def year_to_date(self, year_start: int = YEAR_START) -> Span:
        """From the start of the financial year holding the span's last month to that month."""
        start = financial_year_of(self.last, year_start).first
        return Span(YEAR_TO_DATE, start, self.last, f"{start}..{self.last}")

    def shift_years(self, n: int) -> Span:
        """The same span ``n`` years later (earlier when negative): 2026/27 -> 2025/26 for -1."""
        first, last = self.first.shift(12 * n), self.last.shift(12 * n)
        if self.kind == YEAR:
            return calendar_year(first.year)
        if self.kind == FINANCIAL_YEAR:
            return financial_year(int(self.text[:4]) + n, first.month)
        if self.kind == FINANCIAL_QUARTER:
            quarter = int(self.text[-1])
            return financial_quarter(
                int(self.text[:4]) + n, quarter, first.shift(-3 * (quarter - 1)).month
            )
        if self.kind == YEAR_TO_DATE:
            return Span(YEAR_TO_DATE, first, last, f"{first}..{last}")
        return as_span(Period(first.year, quarter=first.month // 3 + 1) if self.kind == QUARTER
                       else first)  # fmt: skip


def months_label(first: Period, last: Period) -> str:
    """``April to October 2026``, ``November 2026 to January 2027``: months as people say them."""
    if first == last:
        return f"{first.start:%B %Y}"
    if first.year == last.year:
        return f"{first.start:%B} to {last.start:%B %Y}"
    return f"{first.start:%B %Y} to {last.start:%B %Y}"


def as_span(period: Period) -> Span:
    """The span of one month or calendar quarter."""
    if period.frequency == MONTHLY:
        return Span(MONTH, period, period, str(period))
    return Span(QUARTER, period.reporting_month.shift(-2), period.reporting_month, str(period))


def check_year_start(year_start: int) -> int:
    if year_start not in YEAR_STARTS:
        raise InvalidPeriod(
            f"the financial year must start in month 1, 4, 7 or 10 (a calendar quarter), "
            f"not {year_start!r}"
        )
    return year_start


def financial_year(start_year: int, year_start: int = YEAR_START) -> Span:
    """The financial year starting in ``year_start`` of ``start_year``: 2026 -> ``2026/27``."""
    check_year_start(year_start)
    first = Period(start_year, month=year_start)
    text = f"{start_year}/{(start_year + 1) % 100:02d}"
    return Span(FINANCIAL_YEAR, first, first.shift(11), text)


def financial_year_of(month: Period, year_start: int = YEAR_START) -> Span:
    """The financial year a month falls in: March 2027 is in 2026/27, April 2027 in 2027/28.

    >>> str(financial_year_of(Period(2027, 3))), str(financial_year_of(Period(2027, 4)))
    ('2026/27', '2027/28')
    """
    return financial_year(month.year if month.month >= year_start else month.year - 1, year_start)


def financial_quarter(start_year: int, quarter: int, year_start: int = YEAR_START) -> Span:
    """Quarter ``quarter`` (1 to 4) of the financial year starting in ``start_year``."""
    if not 1 <= quarter <= 4:
        raise InvalidPeriod(f"quarter {quarter} is not 1 to 4")
    year = financial_year(start_year, year_start)
    first = year.first.shift(3 * (quarter - 1))
    return Span(FINANCIAL_QUARTER, first, first.shift(2), f"{year.text}-Q{quarter}")


def calendar_year(year: int) -> Span:
    return Span(YEAR, Period(year, month=1), Period(year, month=12), f"{year:04d}")


def parse_span(text: str, year_start: int = YEAR_START) -> Span:
    """Read what a report covers, in any of the forms people write.

    >>> [parse_span(t).label for t in ("2026-10", "2026-Q3", "2026")]
    ['October 2026', 'Q3 2026, July to September 2026', '2026, January to December 2026']
    >>> parse_span("2026/27-Q4").label
    'Q4 2026/27, January to March 2027'
    """
    if not isinstance(text, str):
        raise InvalidPeriod(f"expected period text, got {text!r}")
    cleaned = text.strip()
    if match := _YEAR_RE.fullmatch(cleaned):
        year = int(match[1])
        if not 1 <= year <= 9998:
            raise InvalidPeriod(f"{text!r}: year {year} is out of range")
        return calendar_year(year)
    if match := _FY_RE.fullmatch(cleaned):
        start, end = int(match[1]), int(match[2])
        expected = start + 1 if len(match[2]) == 4 else (start + 1) % 100
        if end != expected:
            raise InvalidPeriod(
                f"{text!r}: a financial year runs into the next year; write "
                f"{start}/{(start + 1) % 100:02d}"
            )
        if not 1 <= start <= 9998:
            raise InvalidPeriod(f"{text!r}: year {start} is out of range")
        if match[3] is None:
            return financial_year(start, year_start)
        try:
            return financial_quarter(start, int(match[3]), year_start)
        except InvalidPeriod as exc:
            raise InvalidPeriod(f"{text!r}: {exc}") from None
    if _MONTH_OR_QUARTER_RE.fullmatch(cleaned):
        return as_span(parse_period(cleaned))
    raise InvalidPeriod(
        f"{text!r} is not a period; write a month (\"2026-10\"), a quarter (\"2026-Q3\"), a year "
        f"(\"2026\"), a financial year (\"2026/27\") or a financial-year quarter (\"2026/27-Q2\")"
    )


def parse_reporting_period(text: str, year_start: int = YEAR_START) -> Period:
    """A figure's own period: a month, a calendar quarter, or a financial-year quarter (read as
    the calendar quarter it is). A year is not a period a figure is reported for.

    >>> str(parse_reporting_period("2026/27-Q4")), str(parse_reporting_period("2026-10"))
    ('2027-Q1', '2026-10')
    """
    span = parse_span(text, year_start)
    if span.kind == MONTH:
        return span.first
    if span.kind in (QUARTER, FINANCIAL_QUARTER):
        return span.quarters[0]
    raise InvalidPeriod(
        f"{text.strip()!r} is a year; a figure is for a month (2026-10) or a quarter (2026-Q3 "
        f"or 2026/27-Q2)"
    )
