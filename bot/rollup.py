"""Roll-ups: how a measure's monthly figures make a quarter or a year. Pure, no I/O.

Each measure says how in the register (``aggregate``); without it the unit decides:

==========  =========  ==================================================================
unit        default    why
==========  =========  ==================================================================
``count``   ``sum``    counts of events (applications, complaints) add up over months
``£``       ``sum``    money spent or recovered in a month adds up over months
``%``       ``mean``   a rate has no total; the mean of the months is the plain reading
``days``    ``mean``   an average time has no total either
``score``   ``mean``   a satisfaction score likewise
==========  =========  ==================================================================

A snapshot (a backlog at month end, staff in post, a rolling 12-month figure) should say
``aggregate: last``: the quarter's figure is its final month's. ``min`` and ``max`` take the
lowest and highest month.

A rolled-up figure needs every month it covers (``last`` needs only the final month): one
missing month makes the whole quarter or year a gap, and the months missing are named. A
partial sum is never shown as if it were whole.

The target rolls up the same way: a ``sum`` measure's target is the sum of its monthly targets
(so an absolute tolerance grows with it); for the other rules the monthly target stands.

>>> history = pd.DataFrame({"measure_id": ["A"] * 3, "period": ["2026-07", "2026-08", "2026-09"],
...                         "value": [10.0, 20.0, 30.0]})
>>> a = Measure("A", "Calls", "Ops", "count", "up", 20, "a@agency.example")
>>> roll_up(history, {"A": a}, quarter_of)[["measure_id", "period", "value"]].values.tolist()
[['A', '2026-Q3', 60.0]]
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable, Iterable, Mapping

import numpy as np
import pandas as pd

from bot.digest_model import YearToDate
from bot.measures import AGGREGATES, Measure
from bot.periods import Period, parse_period
from bot.spans import Span, as_span, months_label
from bot.targets import TargetStep
from bot.tolerance import parse_tolerance, rag
from bot.trends import spread

DEFAULT_AGGREGATE = {"count": "sum", "£": "sum", "%": "mean", "days": "mean", "score": "mean"}
ROLLED_COLUMNS = ["measure_id", "period", "value", "present"]


def aggregate_of(measure: Measure) -> str:
    """The measure's rule: its own ``aggregate``, else its unit's default."""
    return measure.aggregate or DEFAULT_AGGREGATE[measure.unit]


def quarter_of(month: Period) -> tuple[str, int]:
    """The calendar quarter a month is in, and the month's place in it (0 to 2)."""
    return f"{month.year}-Q{(month.month - 1) // 3 + 1}", (month.month - 1) % 3


def year_of(span: Span) -> Callable[[Period], tuple[str, int] | None]:
    """A bucket function for years shaped like ``span`` (calendar or financial): each month or
    quarter goes to the year it falls in, named as the span names it (``2025/26``), with its
    place in that year."""

    def bucket(period: Period) -> tuple[str, int]:
        month = period.reporting_month
        offset = (month.year * 12 + month.month - span.first.year * 12 - span.first.month) % 12
        year = span.shift_years((month.year * 12 + month.month - span.first.year * 12
                                 - span.first.month) // 12)  # fmt: skip
        return str(year), offset if period.frequency == "monthly" else offset // 3

    return bucket


def roll_up(
    history: pd.DataFrame,
    measures: Mapping[str, Measure],
    bucket: Callable[[Period], tuple[str, int] | None],
    size: int = 3,
    frequency: str = "monthly",
) -> pd.DataFrame:
    """Measures' figures rolled up into buckets of ``size`` periods (months, or quarters with
    ``frequency="quarterly"``): only measures of that frequency are here.

    ``bucket(period)`` names the bucket a period belongs to and its place in it (0 first), or
    None to leave it out. Returns columns ``measure_id``, ``period`` (the bucket), ``value``
    (NaN for a gap: a period missing, or for ``last`` the final one missing) and ``present``
    (how many periods had a figure).
    """
    monthly = {k for k, m in measures.items() if m.frequency == frequency}
    is_quarter = history["period"].astype(str).str.contains("Q", regex=False)
    rows = history.loc[
        history["measure_id"].isin(monthly)
        & (is_quarter if frequency == "quarterly" else ~is_quarter),
        ["measure_id", "period", "value"],
    ]
    places = {p: bucket(parse_period(p)) for p in rows["period"].unique()}
    named = spread(rows["period"], {p: b[0] for p, b in places.items() if b})
    rows = rows.assign(
        bucket=named,
        place=spread(rows["period"], {p: b[1] for p, b in places.items() if b}, -1),
        value=pd.to_numeric(rows["value"]).astype(float),
    )
    rows = rows[rows["bucket"].notna()]
    if rows.empty:
        return pd.DataFrame(columns=ROLLED_COLUMNS)
    grouped = rows.groupby(["measure_id", "bucket"], sort=True)["value"]
    table = grouped.agg(["sum", "mean", "min", "max", "count"])
    final = rows[rows["place"] == size - 1].set_index(["measure_id", "bucket"])["value"]
    table["last"] = final.reindex(table.index)
    rules = spread(table.index.get_level_values(0).to_series(), {
        k: aggregate_of(measures[k]) for k in monthly})  # fmt: skip
    chosen = np.select(
        [rules == rule for rule in AGGREGATES], [table[rule].to_numpy() for rule in AGGREGATES]
    ).astype(float)
    complete = (table["count"] == size).to_numpy()
    value = np.where(rules == "last", table["last"].to_numpy(), np.where(complete, chosen, np.nan))
    return pd.DataFrame({
        "measure_id": table.index.get_level_values(0),
        "period": table.index.get_level_values(1),
        "value": value,
        "present": table["count"].to_numpy(),
    })  # fmt: skip


def missing_months(
    history: pd.DataFrame, measure_ids: Iterable[str], months: list[Period]
) -> dict[str, list[str]]:
    """Measure id -> the months of ``months`` with no figure (no row, or a gap)."""
    wanted = [str(m) for m in months]
    rows = history.loc[
        history["period"].isin(wanted) & history["measure_id"].isin(list(measure_ids)),
        ["measure_id", "period", "value"],
    ]
    # Plain lists: iterating pandas' string arrays a value at a time is slow.
    known = set(zip(rows["measure_id"].tolist(), rows["period"].tolist(),
                    pd.to_numeric(rows["value"]).notna().tolist(), strict=True))  # fmt: skip
    return {i: [p for p in wanted if (i, p, True) not in known] for i in measure_ids}


def needs(measure: Measure, months: list[Period]) -> list[Period]:
    """The months a rolled-up figure cannot do without."""
    return months[-1:] if aggregate_of(measure) == "last" else months


def rolled_measure(measure: Measure, periods: list[Period]) -> Measure:
    """The measure as judged over ``periods`` (its own months, or quarters): the target in force
    for each period (``Measure.target_for``) added up for a ``sum`` measure, with an absolute
    tolerance growing with the periods; for every other rule, the target in force at the end.
    No target in force: monitored, no target.

    >>> m = Measure("A", "Calls", "Ops", "count", "up", 20.0, "a@x.example", red_tolerance="5")
    >>> months = [parse_period(p) for p in ("2026-07", "2026-08", "2026-09")]
    >>> r = rolled_measure(m, months); (r.target, r.red_tolerance, r.frequency)
    (60.0, '15', 'quarterly')
    """
    in_force = [measure.target_for(str(p)) for p in periods]
    if aggregate_of(measure) != "sum":
        return _with_target(measure, in_force[-1] if in_force else None)
    target = None if None in in_force else float(sum(in_force))  # type: ignore[arg-type]
    return _with_target(
        measure,
        target,
        amber_tolerance=_scaled(measure.amber_tolerance, len(periods)),
        red_tolerance=_scaled(measure.red_tolerance, len(periods)),
    )


def _with_target(measure: Measure, target: float | None, **changes: str) -> Measure:
    # One target from ever: the rolled-up figure has a single period of its own.
    steps = (TargetStep("", target),) if target is not None else ()
    return dataclasses.replace(
        measure, frequency="quarterly", target=target, targets=steps, **changes
    )


def _scaled(raw: str, months: int) -> str:
    tolerance = parse_tolerance(raw)
    if tolerance is None or tolerance.percent:
        return raw
    return f"{tolerance.amount * months:g}"


def span_commentary(history: pd.DataFrame, span: Span) -> dict[str, tuple[str, str]]:
    """Each measure's commentary over a span, month by month (``July 2026: ...; August 2026:
    ...``): all of it, and only what the owner marked public. One pass over the rows."""
    months = {str(m): f"{m.start:%B %Y}" for m in span.months}
    rows = history.loc[history["period"].isin(months), ["measure_id", "period", "commentary",
                                                       "public"]]  # fmt: skip
    rows = rows[rows["commentary"].fillna("").astype(str).str.strip() != ""].sort_values("period")
    notes: dict[str, tuple[list[str], list[str]]] = {}
    for measure_id, period, text, public in rows.itertuples(index=False):
        note = f"{months[period]}: {' '.join(str(text).split())}"
        every, marked = notes.setdefault(measure_id, ([], []))
        every.append(note)
        if public:
            marked.append(note)
    return {k: ("; ".join(every), "; ".join(marked)) for k, (every, marked) in notes.items()}


def year_to_date(
    history: pd.DataFrame, measures: Iterable[Measure], month: Period, year_start: int
) -> dict[str, YearToDate]:
    """Each monthly ``sum`` measure from the start of the financial year to ``month``, against
    its monthly targets added up, with the same months a year before beside it.

    >>> history = pd.DataFrame({"measure_id": "A", "value": [5.0, 6.0, 7.0, 8.0],
    ...     "period": ["2025-04", "2025-05", "2026-04", "2026-05"]})
    >>> a = Measure("A", "Calls", "Ops", "count", "up", 6.0, "a@x.example")
    >>> ytd = year_to_date(history, [a], parse_period("2026-05"), 4)["A"]
    >>> (ytd.label, ytd.value, ytd.target, ytd.status, ytd.last_year)
    ('April to May 2026', 15.0, 12.0, 'green', 11.0)
    """
    span = as_span(month).year_to_date(year_start)
    before = span.shift_years(-1)
    # Months and labels once: a span works its months out anew each time it is asked.
    months, months_before = span.months, before.months
    label = months_label(span.first, span.last)
    label_before = months_label(before.first, before.last)
    sums = [m for m in measures if m.frequency == "monthly" and aggregate_of(m) == "sum"]
    ids = [m.id for m in sums]
    now_missing = missing_months(history, ids, months)
    then_missing = missing_months(history, ids, months_before)
    wanted = {str(p) for p in months + months_before}
    rows = history.loc[history["period"].isin(wanted) & history["measure_id"].isin(ids)]
    totals = (pd.to_numeric(rows["value"]).groupby([rows["measure_id"], rows["period"]
              .isin([str(p) for p in months])]).sum()).to_dict()  # fmt: skip
    result = {}
    for m in sums:
        value = None if now_missing[m.id] else float(totals.get((m.id, True), 0.0))
        last_year = None if then_missing[m.id] else float(totals.get((m.id, False), 0.0))
        judged = rolled_measure(m, months)
        if value is None:
            status = "gap"
        elif judged.target is None:
            status = "monitored"
        else:
            status = rag(value, m.better, judged.target, parse_tolerance(judged.amber_tolerance),
                         parse_tolerance(judged.red_tolerance))  # fmt: skip
        result[m.id] = YearToDate(
            label=label, months=len(months), value=value, target=judged.target,
            status=status, missing=tuple(now_missing[m.id]), last_year=last_year,
            last_year_label=label_before,
        )  # fmt: skip
    return result

