"""The digest model: what leaders see for one cycle, as plain data for the renderers.

`bot/digest.py` builds it (pure, from DataFrames the service reads from the store); the renderers
in `bot/render/` turn it into a Slack message, an email, the full HTML pack and CSV/XLSX files.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import date, datetime

import pandas as pd

from bot.process import ProcessReport

# Where a measure stands in the pack; each measure has exactly one (see `verdict_of`).
VERDICTS = ("exception", "learning", "rest")


def verdict_of(exception_reasons: tuple[str, ...], special_cause: str | None) -> str:
    """The one place a measure appears: the precedence every renderer and channel follows.

    An exception (any reason) comes first, whatever else is true of it; its improvement signal
    is shown inside its line instead. Otherwise a special-cause improvement is worth learning
    from; everything else is the rest.

    >>> verdict_of(("red",), "improvement"), verdict_of((), "improvement"), verdict_of((), None)
    ('exception', 'learning', 'rest')
    """
    if exception_reasons:
        return "exception"
    if special_cause == "improvement":
        return "learning"
    return "rest"


# Why a measure is an exception, in the order leaders read them.
EXCEPTION_REASONS = ("red", "missing", "special_cause_concern", "consistently_failing")


@dataclass(frozen=True)
class YearOnYear:
    years_ago: int  # 1, 2 or 3
    period: str  # the same period that many years before, e.g. "2025-10"
    value: float | None  # None: no figure then (a gap, or before the history starts)
    change: float | None  # current value minus that value
    pct_change: float | None  # change as a percentage of that value (None when it was 0)


@dataclass(frozen=True)
class Projection:
    """A straight-line projection of the next periods from the recent points (not a forecast)."""

    periods: tuple[str, ...]  # the next three periods
    values: tuple[float, ...]
    breach_period: str | None  # first projected period beyond the red tolerance, if any
    method: str  # how it was made, in words, for the pack


@dataclass(frozen=True)
class YearToDate:
    """A ``sum`` measure from the start of the financial year to this month, and a year before."""

    label: str  # "April to October 2026"
    months: int
    value: float | None  # None: a month is missing (never a partial sum)
    target: float | None  # the targets in force for its months added up; None: no target
    status: str  # green, amber, red; "gap" without a value; "monitored" without a target
    missing: tuple[str, ...]  # the months with no figure
    last_year: float | None  # the same months a year before
    last_year_label: str  # "April to October 2025"


@dataclass(frozen=True)
class MeasureView:
    """One measure in the cycle, with everything any renderer needs."""

    id: str
    name: str
    area: str
    unit: str
    better: str  # up, down, neutral
    frequency: str
    target: float | None  # in force for `period`; None: monitored, no target
    amber_tolerance: str
    red_tolerance: str
    owner_email: str
    owner_name: str
    deputy_email: str
    description: str
    limitations: str
    source: str
    period: str  # the period reported in this cycle ("2026-10" or "2026-Q3")
    value: float | None
    display_value: str  # "87.5%", "£1.2m", "n/a", or "" when nothing was submitted
    target_display: str
    status: str  # green, amber, red, missing, not_available, outstanding
    commentary: str
    reason: str  # why the figure is not available
    revisions: int  # submissions this period; more than 1 means the figure was revised
    submitted_by: str | None
    submitted_at: str | None
    channel: str | None
    previous_value: float | None  # the period before
    change: float | None  # value minus previous_value
    variation: str | None  # SPC state of the latest point (common_cause, concern_high, ...)
    assurance: str | None  # consistent_pass, consistent_fail, inconsistent, or None
    special_cause: str | None  # improvement, concern, neutral or None, for this period's point
    year_on_year: tuple[YearOnYear, ...]
    projection: Projection | None
    exception_reasons: tuple[str, ...]  # from EXCEPTION_REASONS, empty when not an exception
    # The commentary the owner marked fit to publish ("" when none); the public pack shows only it.
    public_commentary: str = ""
    # A sum measure's year to date, in a month's digest (None otherwise).
    year_to_date: YearToDate | None = None
    # How a monthly measure was rolled up into a quarter or a year ("" for a month's figure).
    aggregate: str = ""
    # A rolled-up figure's months with no figure (a quarter or a year needs every month).
    missing_months: tuple[str, ...] = ()
    # The chart's data: one row per period, oldest first, columns period, value (NaN for a gap),
    # mean, lpl, upl, special_cause. The pack shows the last 13 values from it.
    series: pd.DataFrame = field(repr=False, compare=False, default_factory=pd.DataFrame)
    # The latest group of the chart: fewer than 12 values give trial limits; a rebase restarts it.
    trial_limits: bool = False
    rebased_from: str | None = None  # the period of the rebase that starts the latest group
    rebase_reason: str = ""
    mean: float | None = None
    lower_limit: float | None = None
    upper_limit: float | None = None
    # Every target the measure has had and every rebase, for the glossary: (from, text) pairs.
    target_history: tuple[tuple[str, str], ...] = ()
    # Why each row of `series` is flagged: "{rule}_high" or "{rule}_low" (see bot.spc), or None.
    signals: tuple[str | None, ...] = ()

    @property
    def signal(self) -> str | None:
        """Why this period's point is flagged, if it is."""
        return self.signals[-1] if self.signals else None
    rebase_history: tuple[tuple[str, str], ...] = ()

    @property
    def verdict(self) -> str:
        return verdict_of(self.exception_reasons, self.special_cause)

    @property
    def why(self) -> tuple[str, ...]:
        """The exception's reasons, then "improving" when it shows special-cause improvement too."""
        if self.is_exception and self.is_improvement:
            return (*self.exception_reasons, "improving")
        return self.exception_reasons
    silence: str = ""  # why a coordinator silenced it (not chased, no alert); "" when not
    silenced_until: str | None = None

    @property
    def is_exception(self) -> bool:
        return bool(self.exception_reasons)

    @property
    def revised(self) -> bool:
        return self.revisions > 1

    @property
    def is_improvement(self) -> bool:
        return self.special_cause == "improvement"


@dataclass(frozen=True)
class AreaSummary:
    area: str
    measures: int
    submitted: int
    rag: dict[str, int]  # status -> count, every status present (zero when none)
    spc: dict[str, int]  # improvement, concern, neutral, common_cause -> count
    exceptions: int


@dataclass(frozen=True)
class Digest:
    cycle: str  # "2026-10"
    cycle_label: str  # "October 2026"
    as_of: datetime
    due: date
    measures: tuple[MeasureView, ...]  # every measure in the cycle, by area then id
    areas: tuple[AreaSummary, ...]
    outstanding: dict[str, list[str]]  # owner email -> measure ids with no figure
    organisation: str = ""  # who the pack is for, from PMBOT_ORGANISATION; shown in mastheads
    public: bool = False  # the pack fit to publish (bot.reports.for_public)
    area: str = ""  # one outcome area's scorecard (bot.reports.for_area); "" for the whole pack
    span: str = ""  # what the digest covers when not one month: "2026/27-Q2"
    # Area -> signed_off, awaiting or queried; "" for an area not under sign-off; empty when
    # no area has an approver.
    signoff: Mapping[str, str] = field(default_factory=dict)
    process: ProcessReport | None = None  # how the reporting went (the pack's process page)

    @property
    def due_count(self) -> int:
        return len(self.measures)

    @property
    def submitted(self) -> int:
        return sum(m.revisions > 0 for m in self.measures)

    @property
    def exceptions(self) -> list[MeasureView]:
        """Red first, then missing, then SPC concerns and consistent failure; by area and id."""
        ranked = [m for m in self.measures if m.is_exception]
        return sorted(ranked, key=lambda m: (EXCEPTION_REASONS.index(m.exception_reasons[0]),
                                             m.area, m.id))  # fmt: skip

    @property
    def improvements(self) -> list[MeasureView]:
        """Worth learning from: special-cause improvement in a measure that is no exception."""
        return [m for m in self.measures if m.verdict == "learning"]

    @property
    def gaps(self) -> list[MeasureView]:
        return [m for m in self.measures if m.status in ("not_available", "missing")]

    @property
    def projected_breaches(self) -> list[MeasureView]:
        """Measures not red now that the projection takes past their red tolerance."""
        return [
            m
            for m in self.measures
            if m.status != "red" and m.projection and m.projection.breach_period
        ]
