"""Reports beyond the month: a quarter's digest built from rolled-up figures, an area's
scorecard, and the pack fit to publish. Pure: plain data and DataFrames in and out.

A quarter's digest (``2026-Q3`` or ``2026/27-Q2``) covers every active measure. A quarterly
measure reports its own figure for the quarter; a monthly one is rolled up by its rule
(``bot.rollup``) and judged against its rolled-up target, with its chart drawn over rolled-up
quarters. A month with no figure leaves a gap that names the months missing.
"""

from __future__ import annotations

import dataclasses
import re
from collections.abc import Mapping
from typing import Any

import numpy as np
import pandas as pd

from bot.digest import _areas
from bot.digest_model import Digest, MeasureView, YearToDate
from bot.measures import Measure
from bot.rollup import (
    aggregate_of,
    missing_months,
    needs,
    quarter_of,
    roll_up,
    rolled_measure,
    span_commentary,
)
from bot.spans import Span
from bot.tolerance import parse_tolerance, status
from bot.values import format_value

HISTORY_COLUMNS = ["measure_id", "period", "value"]


class UnknownArea(ValueError):
    """An outcome area that no measure and no `areas:` entry names."""


def quarter_inputs(
    span: Span, measures: list[Measure], history: pd.DataFrame
) -> tuple[list[Measure], list[dict[str, Any]], pd.DataFrame]:
    """What ``bot.digest.build_digest`` needs to build a quarter's digest.

    Returns the measures as judged over the quarter (monthly ones rolled up), one status row per
    active measure for the quarter, and a quarterly history: rolled-up quarters for the monthly
    measures, the figures of the quarterly ones.
    """
    [quarter] = span.quarters
    period = str(quarter)
    by_id = {m.id: m for m in measures}
    rolled = roll_up(history, by_id, quarter_of, size=3)
    own = history.loc[history["period"].astype(str).str.contains("Q", regex=False)
                      & history["measure_id"].isin(
                          [m.id for m in measures if m.frequency == "quarterly"])]  # fmt: skip
    frame = pd.concat([rolled[HISTORY_COLUMNS], own[HISTORY_COLUMNS]], ignore_index=True)
    values = {(i, p): v for i, p, v in zip(frame["measure_id"], frame["period"],
                                           pd.to_numeric(frame["value"]), strict=True)}  # fmt: skip
    current = history[history["period"].isin([period, *map(str, span.months)])]
    gaps = missing_months(current, [m.id for m in measures if m.frequency == "monthly"],
                          span.months)  # fmt: skip
    notes = span_commentary(current, span)
    own_rows = {(r.measure_id, r.period): r for r in current.loc[current["period"] == period]
                .itertuples(index=False)}  # fmt: skip
    months = span.months  # a list worked out on each use: once here
    judged, rows = [], []
    for measure in measures:
        if measure.frequency == "monthly":
            as_quarter = rolled_measure(measure, months)
        else:  # its own quarter's target
            as_quarter = rolled_measure(dataclasses.replace(measure, aggregate="last"), [quarter])
        judged.append(as_quarter)
        value = values.get((measure.id, period))
        value = None if value is None or np.isnan(value) else float(value)
        if measure.frequency == "monthly":
            needed = {str(m) for m in needs(measure, months)}
            missing = tuple(m for m in gaps[measure.id] if m in needed)
            commentary, public = notes.get(measure.id, ("", ""))
            present = len(months) - len(gaps[measure.id])
            reason = ""
        else:
            row = own_rows.get((measure.id, period))
            missing = () if row is not None else (period,)
            commentary = str(row.commentary or "") if row is not None else ""
            public = commentary if row is not None and bool(row.public) else ""
            present = int(row is not None)
            reason = str(row.reason or "") if row is not None else ""
        rows.append({
            "id": measure.id,
            "period": period,
            "value": value,
            "display_value": format_value(value, measure.unit) if value is not None else "",
            "status": _status(as_quarter, value, present),
            "target": as_quarter.target,
            "reason": reason,
            "missing_months": missing,
            "revisions": present,
            "commentary": commentary,
            "public_commentary": public,
        })  # fmt: skip
    return judged, rows, frame


def as_rolled_up(digest: Digest, measures: list[Measure], span: Span) -> Digest:
    """The quarter's digest as readers should see it: named by the span, each measure with its
    own frequency and, for a monthly one, the rule that rolled it up."""
    rules = {m.id: (m.frequency, aggregate_of(m) if m.frequency == "monthly" else "")
             for m in measures}  # fmt: skip
    views = tuple(
        dataclasses.replace(v, frequency=rules[v.id][0], aggregate=rules[v.id][1])
        for v in digest.measures
    )
    return dataclasses.replace(digest, measures=views, cycle=span.slug, span=str(span))


def _status(measure: Measure, value: float | None, present: int) -> str:
    return status(
        value=value,
        submitted=present > 0,
        not_available=value is None and present > 0,
        overdue=True,
        better=measure.better,
        target=measure.target,
        amber=parse_tolerance(measure.amber_tolerance),
        red=parse_tolerance(measure.red_tolerance),
    )


def with_year_to_date(digest: Digest, ytd: Mapping[str, YearToDate]) -> Digest:
    """A month's digest with each ``sum`` measure's year to date."""
    views = tuple(dataclasses.replace(m, year_to_date=ytd.get(m.id)) for m in digest.measures)
    return dataclasses.replace(digest, measures=views)


def for_area(digest: Digest, area: str) -> Digest:
    """One outcome area's scorecard: the digest narrowed to the area's measures."""
    measures = tuple(m for m in digest.measures if m.area == area)
    return dataclasses.replace(_narrowed(digest, measures), area=area)


def for_public(digest: Digest, public_ids: set[str]) -> Digest:
    """The pack fit to publish: measures marked ``public: false`` left out, owners shown by the
    area they serve (never a name or an address), only commentary the owner marked public."""
    views = []
    for m in digest.measures:
        if m.id not in public_ids:
            continue
        views.append(dataclasses.replace(
            m,
            owner_email="",
            owner_name=m.area,
            deputy_email="",
            submitted_by=None,
            commentary=m.public_commentary,
            reason="",
        ))  # fmt: skip
    return dataclasses.replace(_narrowed(digest, tuple(views), outstanding={}), public=True)


def _narrowed(
    digest: Digest, measures: tuple[MeasureView, ...], outstanding: dict | None = None
) -> Digest:
    ids = {m.id for m in measures}
    if outstanding is None:
        outstanding = {k: [i for i in v if i in ids] for k, v in digest.outstanding.items()}
        outstanding = {k: v for k, v in outstanding.items() if v}
    return dataclasses.replace(
        digest, measures=measures, areas=_areas(list(measures)), outstanding=outstanding
    )


def slug(text: str) -> str:
    """An area's name in a file name: ``slug("Resource: people") == "resource-people"``."""
    return re.sub(r"[^a-z0-9]+", "-", text.lower()).strip("-")
