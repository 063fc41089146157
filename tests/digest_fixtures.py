"""Digest objects built by hand, for the renderer tests and the render benchmark.

``small_digest()`` is a realistic month of a benefits agency: a red measure whose owner wrote
hostile commentary, a missing figure, a figure not available with its reason, a revised
figure, an improvement, a consistently failing measure heading for a breach, a quarterly
measure and a £ measure with a gap in its history. ``large_digest()`` is synthetic: thousands
of measures, hundreds of exceptions, for limits and speed.

>>> digest = small_digest()
>>> [m.id for m in digest.exceptions]
['CX-02', 'OD-01', 'OD-04']
"""

from __future__ import annotations

import math
from collections import Counter
from datetime import UTC, date, datetime

import numpy as np
import pandas as pd

from bot.digest_model import (
    EXCEPTION_REASONS,
    AreaSummary,
    Digest,
    MeasureView,
    Projection,
    YearOnYear,
)
from bot.spc import xmr
from bot.tolerance import parse_tolerance, rag
from bot.values import format_value

EVIL = "<script>alert(1)</script> <!channel> @here <https://evil|click>"
CYCLE = "2026-10"
STATUSES = ("green", "amber", "red", "missing", "not_available", "outstanding")
NAN = math.nan


def monthly_periods(last: str, count: int) -> list[str]:
    """``count`` months ending at ``last``: ``monthly_periods("2026-02", 3)`` is Dec to Feb."""
    year, month = map(int, last.split("-"))
    index = year * 12 + month - 1
    return [f"{i // 12}-{i % 12 + 1:02d}" for i in range(index - count + 1, index + 1)]


def quarterly_periods(last: str, count: int) -> list[str]:
    year, quarter = int(last[:4]), int(last[-1])
    index = year * 4 + quarter - 1
    return [f"{i // 4}-Q{i % 4 + 1}" for i in range(index - count + 1, index + 1)]


def build_series(values: list[float], periods: list[str], better: str, target: float):
    """The chart frame a MeasureView carries, computed by the real XmR code."""
    chart = xmr([NAN if v is None else v for v in values], better=better, target=target)
    chart.insert(0, "period", periods)
    columns = ["period", "value", "mean", "lpl", "upl", "special_cause"]
    return chart[columns], chart.attrs["variation"], chart.attrs["assurance"]


def year_on_year(values: list[float], periods: list[str], per_year: int) -> tuple:
    current = values[-1]
    rows = []
    for years in (1, 2, 3):
        back = len(values) - 1 - years * per_year
        then = values[back] if back >= 0 and not math.isnan(values[back]) else None
        period = periods[back] if back >= 0 else f"{int(periods[-1][:4]) - years}{periods[-1][4:]}"
        change = current - then if then is not None and not math.isnan(current) else None
        pct = 100 * change / then if change is not None and then else None
        rows.append(YearOnYear(years, period, then, change, pct))
    return tuple(rows)


def measure(
    id: str,
    name: str,
    area: str,
    values: list[float],
    *,
    unit: str = "%",
    better: str = "up",
    target: float = 90.0,
    amber: str = "2",
    red: str = "5",
    frequency: str = "monthly",
    submitted: bool = True,
    reason: str = "",
    commentary: str = "",
    revisions: int = 1,
    projection: Projection | None = None,
    owner: tuple[str, str] = ("Olive Owner", "olive.owner@agency.example"),
) -> MeasureView:
    """A MeasureView whose status, change, SPC and YoY follow from ``values`` (NaN: a gap).

    The last value is this cycle's; NaN there with ``submitted=False`` is a missing figure,
    with a ``reason`` a figure not available.
    """
    per_year = 12 if frequency == "monthly" else 4
    make = monthly_periods if frequency == "monthly" else quarterly_periods
    periods = make(CYCLE if frequency == "monthly" else "2026-Q3", len(values))
    series, variation, assurance = build_series(values, periods, better, target)
    value = None if math.isnan(values[-1]) else values[-1]
    if value is not None:
        status = rag(value, better, target, parse_tolerance(amber), parse_tolerance(red))
    else:
        status = "not_available" if reason else "missing"
        submitted = bool(reason)
    previous = values[-2] if len(values) > 1 and not math.isnan(values[-2]) else None
    cause = series["special_cause"].iloc[-1]
    cause = cause if isinstance(cause, str) else None
    reasons = []
    if status == "red":
        reasons.append("red")
    if status == "missing":
        reasons.append("missing")
    if cause == "concern":
        reasons.append("special_cause_concern")
    if assurance == "consistent_fail":
        reasons.append("consistently_failing")
    return MeasureView(
        id=id,
        name=name,
        area=area,
        unit=unit,
        better=better,
        frequency=frequency,
        target=target,
        amber_tolerance=amber,
        red_tolerance=red,
        owner_email=owner[1],
        owner_name=owner[0],
        deputy_email="deputy@agency.example",
        description=f"{name}: every case completed in the period, all channels.",
        limitations="Excludes cases transferred from other agencies; figures for the latest "
        "month may be revised.",
        source="Case management system, monthly extract",
        period=periods[-1],
        value=value,
        display_value=format_value(value, unit) if value is not None else "n/a" * bool(reason),
        target_display=format_value(target, unit),
        status=status,
        commentary=commentary,
        reason=reason,
        revisions=revisions if submitted else 0,
        submitted_by=owner[1] if submitted else None,
        submitted_at="2026-11-04T10:12:00+00:00" if submitted else None,
        channel="email" if submitted else None,
        previous_value=previous,
        change=value - previous if value is not None and previous is not None else None,
        variation=variation,
        assurance=assurance,
        special_cause=cause,
        year_on_year=year_on_year(values, periods, per_year),
        projection=projection,
        exception_reasons=tuple(r for r in EXCEPTION_REASONS if r in reasons),
        series=series,
    )


def summarise(measures: list[MeasureView]) -> tuple[AreaSummary, ...]:
    areas = []
    for area in sorted({m.area for m in measures}):
        mine = [m for m in measures if m.area == area]
        rag_counts = Counter(m.status for m in mine)
        spc = Counter(m.special_cause or "common_cause" for m in mine if m.value is not None)
        areas.append(
            AreaSummary(
                area=area,
                measures=len(mine),
                submitted=sum(m.revisions > 0 for m in mine),
                rag={s: rag_counts.get(s, 0) for s in STATUSES},
                spc={
                    k: spc.get(k, 0) for k in ("improvement", "concern", "neutral", "common_cause")
                },
                exceptions=sum(m.is_exception for m in mine),
            )
        )
    return tuple(areas)


def digest_of(measures: list[MeasureView]) -> Digest:
    measures = sorted(measures, key=lambda m: (m.area, m.id))
    outstanding: dict[str, list[str]] = {}
    for m in measures:
        if m.status in ("missing", "outstanding"):
            outstanding.setdefault(m.owner_email, []).append(m.id)
    return Digest(
        cycle=CYCLE,
        cycle_label="October 2026",
        as_of=datetime(2026, 11, 10, 9, 0, tzinfo=UTC),
        due=date(2026, 11, 7),
        measures=tuple(measures),
        areas=summarise(measures),
        outstanding=outstanding,
    )


def small_digest() -> Digest:
    """Ten measures in three outcome areas, each exercising something a leader would notice."""
    steady = [91, 92, 90.5, 91.5, 92, 91, 90, 92.5, 91, 92, 91.5, 90.5, 91, 92, 91, 92]
    od = "Operational delivery"
    cx = "Customer experience"
    pf = "People & finance"
    measures = [
        measure(
            "OD-01", "Average processing time, days", od,
            [48, 49, 47, 50, 48, 49, 47, 48, 50, 49, 48, 47, 49, 48, 50, 49, 48, 47, 49, 58],
            unit="days", better="down", target=50, amber="0", red="10%", commentary=EVIL,
        ),
        measure("OD-02", "Applications processed within 10 days, %", od, steady[:-1] + [89.0],
                amber="0", commentary="Corrected after a late batch of cases.", revisions=3,
                projection=Projection(("2026-11", "2026-12", "2027-01"), (87.9, 86.4, 84.8),
                                      "2027-01", "A straight line through the last 6 figures "
                                      "(least squares), extended three periods ahead.")),
        measure("OD-03", "Appeals cleared within 12 weeks, %", od,
                steady[:-1] + [NAN], reason="system outage & data migration <until 14 Nov>"),
        measure("OD-04", "Payment accuracy, %", od, steady[:-1] + [NAN], submitted=False,
                owner=("Priya Patel", "priya.patel@agency.example")),
        measure(
            "CX-01", "Customer satisfaction, %", cx,
            [70, 71, 70, 72, 71, 70, 71, 72, 70, 71, 73, 75, 76, 78, 79, 80, 82],
            target=75, commentary="New phone menu; learning shared with other teams.",
        ),
        measure(
            "CX-02", "Calls answered within 5 minutes, %", cx,
            [62, 60, 61, 59, 60, 58, 59, 57, 58, 56, 57, 55, 56, 54, 55, 53, 52],
            target=80, amber="5", red="10",
            commentary="Winter demand; 40 new starters in training.",
            projection=Projection(("2026-11", "2026-12", "2027-01"), (51.2, 50.1, 49.0),
                                  "2026-11", "A straight line through the last 6 figures "
                                  "(least squares), extended three periods ahead."),
        ),
        measure("CX-03", "Complaints upheld", cx,
                [40, 38, 41, 39, 40, 42, 38, 40, 39, 41, 40, 39, 38], unit="count", better="down",
                target=45, amber="5", red="10"),
        measure("PF-01", "Staff sickness absence, days per FTE", pf,
                [1.2, 1.1, 1.3, 1.2, 1.1, 1.2, 1.3, 1.2, 1.1, 1.2, 1.3, 1.2, 1.1],
                unit="days", better="down", target=1.25, amber="0.1", red="0.2"),
        measure("PF-02", "Administrative spend", pf,
                [4.1e6, 4.0e6, NAN, 4.2e6, 4.1e6, 4.0e6, 3.9e6, 4.0e6, 4.1e6, 4.0e6, 3.95e6,
                 4.05e6, 4.0e6, 4.1e6], unit="£", better="down", target=4.2e6, amber="2%",
                red="5%", commentary="On budget."),
        measure("PF-03", "Strategic risks outside appetite", pf, [3, 2, 3, 2, 2, 3, 2, 3, 2],
                unit="count", better="down", target=2, amber="0", red="1", frequency="quarterly",
                commentary="Two cyber risks remain above appetite."),
    ]  # fmt: skip
    return digest_of(measures)


def large_digest(count: int = 2000, exceptions: int = 300, history: int = 24, seed: int = 1):
    """``count`` synthetic measures in eight areas, ``exceptions`` of them exceptions.

    The lines are computed with numpy rather than the XmR code, which is fine for layout,
    limits and speed; the values are plausible percentages.
    """
    rng = np.random.default_rng(seed)
    areas = [f"Outcome area {i}" for i in range(1, 9)]
    periods = monthly_periods(CYCLE, history)
    measures = []
    for i in range(count):
        values = np.round(rng.normal(85, 3, history), 1)
        is_exception = i < exceptions
        reason = EXCEPTION_REASONS[i % 4] if is_exception else None
        gap = i % 17 == 0
        if gap:
            values[history // 2] = np.nan
        if reason == "red":
            values[-1] = 70.0
        if reason == "missing":
            values[-1] = np.nan
        mean = float(np.nanmean(values[:-1]))
        mr = float(np.nanmean(np.abs(np.diff(values[:-1]))))
        causes = [None] * history
        if reason == "special_cause_concern":
            causes[-1] = "concern"
        elif i % 29 == 5:
            causes[-1] = "improvement"
        series = pd.DataFrame({
            "period": periods, "value": values, "mean": mean, "lpl": mean - 2.66 * mr,
            "upl": mean + 2.66 * mr, "special_cause": causes,
        })  # fmt: skip
        value = None if np.isnan(values[-1]) else float(values[-1])
        status = "missing" if value is None else "red" if reason == "red" else "green"
        area = areas[i % len(areas)]
        measures.append(
            MeasureView(
                id=f"M-{i:04d}", name=f"Synthetic measure {i} <&>", area=area, unit="%",
                better="up", frequency="monthly", target=80.0, amber_tolerance="2",
                red_tolerance="5", owner_email=f"owner{i % 150}@agency.example",
                owner_name=f"Owner {i % 150}", deputy_email="", description="Synthetic.",
                limitations="", source="Generated", period=CYCLE, value=value,
                display_value=format_value(value, "%") if value is not None else "",
                target_display="80%", status=status, commentary=EVIL if is_exception else "",
                reason="", revisions=0 if value is None else 1 + (i % 11 == 0),
                submitted_by=None, submitted_at=None, channel="slack", previous_value=85.0,
                change=None if value is None else value - 85.0, variation=None,
                assurance="consistent_fail" if reason == "consistently_failing" else None,
                special_cause=causes[-1], year_on_year=(YearOnYear(1, "2025-10", 84.0, 1.0, 1.2),),
                projection=None, exception_reasons=(reason,) if reason else (), series=series,
            )
        )  # fmt: skip
    return digest_of(measures)
