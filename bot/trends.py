"""Trends in a measure's own history: the same period in earlier years, and a short projection.

Pure: plain DataFrames in, the digest model's ``YearOnYear`` and ``Projection`` out. A history
has one row per measure and period with columns ``measure_id``, ``period`` (``2026-10`` or
``2026-Q3``) and ``value`` (NaN or None for a gap). A gap always stays None here, never 0.

Every measure is handled at once with array operations, so 2,000 measures with five years of
history take milliseconds; only the result objects are built one measure at a time.

>>> history = pd.DataFrame({"measure_id": ["OD-01"] * 2, "period": ["2025-10", "2026-10"],
...                         "value": [40.0, 50.0]})
>>> year_on_year(history, {"OD-01": "2026-10"})["OD-01"][0]
YearOnYear(years_ago=1, period='2025-10', value=40.0, change=10.0, pct_change=25.0)
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from functools import lru_cache
from typing import Any

import numpy as np
import pandas as pd

from bot.digest_model import Projection, YearOnYear
from bot.measures import Measure
from bot.periods import Period, parse_period
from bot.tolerance import parse_tolerance, rag

YEARS_BACK = (1, 2, 3)
WINDOW = 12  # the recent figures a projection is drawn through
MIN_POINTS = 6  # fewer than this and a line says more about noise than about direction
HORIZON = 3  # periods projected ahead

# The range a figure can take in each unit; a projection never leaves it.
UNIT_RANGE = {"%": (0.0, 100.0), "count": (0.0, math.inf), "days": (0.0, math.inf)}

METHOD = (
    "Straight line through the last {n} figures (Theil–Sen median slope); "
    "a projection, not a forecast: it assumes recent change continues."
)

# Rounding to 10 places removes float noise (48.3 - 45.1 = 3.1999999999999957) without
# touching any figure a person reports.
_DECIMALS = 10


def year_on_year(
    history: pd.DataFrame, periods: Mapping[str, str], years: tuple[int, ...] = YEARS_BACK
) -> dict[str, tuple[YearOnYear, ...]]:
    """For each measure, its figure in the same period 1, 2 and 3 years before ``periods[id]``.

    ``change`` is the current figure minus the earlier one; ``pct_change`` is that change as a
    percentage of the size of the earlier figure (so a fall is negative even from a negative
    figure). Each is None when either figure is missing, and ``pct_change`` also when the
    earlier figure was 0.

    >>> history = pd.DataFrame({"measure_id": ["RSK-01"] * 3,
    ...                         "period": ["2024-Q3", "2025-Q3", "2026-Q3"],
    ...                         "value": [4.0, None, 3.0]})
    >>> [(y.period, y.value, y.change) for y in year_on_year(history, {"RSK-01": "2026-Q3"})
    ...  ["RSK-01"]]
    [('2025-Q3', None, None), ('2024-Q3', 4.0, -1.0), ('2023-Q3', None, None)]
    """
    earlier = {
        (measure_id, years_back): str(_parse(period).years_ago(years_back))
        for measure_id, period in periods.items()
        for years_back in years
    }
    wanted = [*periods.items(), *((key[0], period) for key, period in earlier.items())]
    found = values_at(history, wanted)

    result = {}
    for measure_id, period in periods.items():
        now = found[measure_id, period]
        comparisons = []
        for years_back in years:
            then_period = earlier[measure_id, years_back]
            then = found[measure_id, then_period]
            change = _round(now - then) if now is not None and then is not None else None
            pct = _round(change / abs(then) * 100) if change is not None and then else None
            comparisons.append(YearOnYear(years_back, then_period, then, change, pct))
        result[measure_id] = tuple(comparisons)
    return result


def values_at(
    history: pd.DataFrame, wanted: list[tuple[str, str]]
) -> dict[tuple[str, str], float | None]:
    """The figure of each (measure id, period) asked for; None for a gap or no row at all.

    >>> history = pd.DataFrame({"measure_id": ["A", "A"], "period": ["2026-09", "2026-10"],
    ...                         "value": [None, 7]})
    >>> values_at(history, [("A", "2026-09"), ("A", "2026-10"), ("B", "2026-10")])
    {('A', '2026-09'): None, ('A', '2026-10'): 7.0, ('B', '2026-10'): None}
    """
    # Narrow to the few periods asked for before building the lookup: a handful of periods
    # out of sixty keeps this cheap on a large history.
    periods = {period for _, period in wanted}
    rows = history.loc[history["period"].isin(periods), ["measure_id", "period", "value"]]
    values = pd.to_numeric(rows["value"]).to_numpy(dtype=float, na_value=np.nan)
    known = {
        key: float(value)
        for key, value in zip(
            zip(rows["measure_id"], rows["period"], strict=True), values, strict=True
        )
        if not math.isnan(value)
    }
    return {key: known.get(key) for key in wanted}


def project(
    history: pd.DataFrame,
    measures: Mapping[str, Measure],
    periods: Mapping[str, str] | None = None,
    *,
    window: int = WINDOW,
    min_points: int = MIN_POINTS,
    horizon: int = HORIZON,
) -> dict[str, Projection | None]:
    """Project each measure ``horizon`` periods past its current period; None with too few points.

    The line is drawn through the last ``window`` figures up to the current period
    (``periods[id]``, or the measure's latest period in ``history``), placed by their real
    periods so that a gap does not squeeze time. Its slope is the Theil–Sen slope, the median
    of the slopes between every pair of points, so one odd month cannot tip it; the line passes
    through the median of what is left after the slope. Figures of the other frequency (a
    ``2026-Q3`` row for a monthly measure) are ignored. Projected values stay inside the range
    the unit allows (0 to 100 for %, at least 0 for counts and days). ``breach_period`` is the
    first projected period whose value would be red against the measure's target.

    >>> measure = Measure("OD-02", "Within 10 days", "Operational delivery", "%", "up", 90,
    ...                   "a@agency.example", red_tolerance="3")
    >>> history = pd.DataFrame({"measure_id": "OD-02",
    ...                         "period": [f"2026-{m:02}" for m in range(1, 10)],
    ...                         "value": [97, 96, 95, 94, 93, 92, 91, 90, 89]})
    >>> p = project(history, {"OD-02": measure})["OD-02"]
    >>> p.periods, p.values, p.breach_period
    (('2026-10', '2026-11', '2026-12'), (88.0, 87.0, 86.0), '2026-12')
    """
    result: dict[str, Projection | None] = dict.fromkeys(measures)
    points = _recent_points(history, measures, periods, window)
    if points is None:
        return result
    ids, current, x, y = points

    count = np.sum(~np.isnan(y), axis=1)
    enough = count >= min_points
    x, y, ids, current, count = x[enough], y[enough], ids[enough], current[enough], count[enough]
    if not len(ids):
        return result

    first, second = np.triu_indices(window, k=1)
    slopes = (y[:, second] - y[:, first]) / (x[:, second] - x[:, first])  # NaN beside a gap
    slope = np.nanmedian(slopes, axis=1)
    # x counts periods from the current one, so the intercept is the line's current level.
    level = np.nanmedian(y - slope[:, None] * x, axis=1)
    ahead = np.arange(1, horizon + 1)
    projected = level[:, None] + slope[:, None] * ahead

    units = [measures[measure_id].unit for measure_id in ids]
    low = np.array([UNIT_RANGE.get(unit, (-math.inf, math.inf))[0] for unit in units])
    high = np.array([UNIT_RANGE.get(unit, (-math.inf, math.inf))[1] for unit in units])
    projected = np.clip(projected, low[:, None], high[:, None])

    futures: dict[str, tuple[str, ...]] = {}  # the same few current periods, named once
    for measure_id, period, values, n in zip(ids, current, projected, count, strict=True):
        measure = measures[measure_id]
        if period not in futures:
            futures[period] = tuple(str(_parse(period).shift(k)) for k in ahead)
        future = futures[period]
        values = tuple(_round(float(v)) + 0.0 for v in values)  # + 0.0 turns -0.0 into 0.0
        result[measure_id] = Projection(
            periods=future,
            values=values,
            breach_period=_first_red(measure, future, values),
            method=METHOD.format(n=int(n)),
        )
    return result


def _recent_points(
    history: pd.DataFrame,
    measures: Mapping[str, Measure],
    periods: Mapping[str, str] | None,
    window: int,
) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray] | None:
    """Each measure's last ``window`` figures as rows of two arrays, gaps padded with NaN.

    Returns measure ids, their current periods, x (periods from the current one, 0 or less)
    and y, each array with one row per measure that has a figure; None when none has.
    """
    rows = history.loc[history["measure_id"].isin(measures), ["measure_id", "period", "value"]]
    rows = rows.assign(value=pd.to_numeric(rows["value"])).dropna(subset=["value"])
    # A fresh index: a history glued together from parts may repeat labels, and idxmax
    # below must point at one row.
    rows = rows[in_own_frequency(rows, measures)].reset_index(drop=True)
    if rows.empty:
        return None

    ordinal = _ordinals(rows["period"])
    if periods is None:
        latest = pd.Series(ordinal, index=rows.index).groupby(rows["measure_id"]).idxmax()
        current_period = rows.loc[latest.to_numpy(), ["measure_id", "period"]]
        periods = dict(zip(current_period["measure_id"], current_period["period"], strict=True))
    now = spread(rows["measure_id"], {k: _ordinal(_parse(p)) for k, p in periods.items()}, np.nan)
    x = ordinal - now.astype(float)
    rows = rows.assign(x=x)[x <= 0].sort_values(["measure_id", "x"])
    from_end = rows.groupby("measure_id", sort=False).cumcount(ascending=False).to_numpy()
    rows = rows[from_end < window]
    from_end = from_end[from_end < window]
    if rows.empty:
        return None

    codes, ids = pd.factorize(rows["measure_id"])
    column = window - 1 - from_end  # the latest figure in the last column
    x_grid = np.full((len(ids), window), np.nan)
    y_grid = np.full((len(ids), window), np.nan)
    x_grid[codes, column] = rows["x"].to_numpy()
    y_grid[codes, column] = rows["value"].to_numpy(dtype=float)
    current = np.array([periods[measure_id] for measure_id in ids], dtype=object)
    return np.asarray(ids, dtype=object), current, x_grid, y_grid


def in_own_frequency(history: pd.DataFrame, measures: Mapping[str, Measure]) -> pd.Series:
    """True on each row whose period has its measure's frequency (a quarter for a quarterly one).

    Months and quarters do not sort together (``"2026-Q3" > "2026-12"``), so a stray row of the
    other kind must not reach a chart or a line.

    >>> measure = Measure("RSK-01", "Risks", "Risk", "count", "down", 2, "r@agency.example",
    ...                   frequency="quarterly")
    >>> rows = pd.DataFrame({"measure_id": ["RSK-01", "RSK-01"], "period": ["2026-09", "2026-Q3"]})
    >>> in_own_frequency(rows, {"RSK-01": measure}).tolist()
    [False, True]
    """
    quarterly = {k: m.frequency == "quarterly" for k, m in measures.items()}
    wanted = spread(history["measure_id"], quarterly, False).astype(bool)
    # astype: an empty history read from a blank file has a float period column.
    return history["period"].astype("str").str.contains("Q", regex=False) == wanted


def spread(ids: pd.Series, per_measure: Mapping[str, Any], missing: Any = None) -> np.ndarray:
    """Each row's entry in a per-measure mapping, as an object array (``missing`` if absent).

    Looked up once per distinct measure and spread to its rows, which is many times quicker
    than ``Series.map`` on a long history.

    >>> spread(pd.Series(["A", "B", "A", "C"]), {"A": "up", "B": "down"}).tolist()
    ['up', 'down', 'up', None]
    """
    codes, uniques = pd.factorize(ids)
    looked_up = [per_measure.get(measure_id, missing) for measure_id in uniques]
    # A missing id has code -1, which picks the ``missing`` appended at the end.
    return np.array([*looked_up, missing], dtype=object)[codes]


def _first_red(measure: Measure, periods: tuple[str, ...], values: tuple[float, ...]) -> str | None:
    amber = parse_tolerance(measure.amber_tolerance)
    red = parse_tolerance(measure.red_tolerance)
    for period, value in zip(periods, values, strict=True):
        target = measure.target_for(period)
        if target is not None and rag(value, measure.better, target, amber, red) == "red":
            return period
    return None


def _ordinals(periods: pd.Series) -> np.ndarray:
    """Each period as months (or quarters) since year 0; each distinct text is parsed once."""
    codes, uniques = pd.factorize(periods)
    return np.array([_ordinal(_parse(text)) for text in uniques], dtype=float)[codes]


def _ordinal(period: Period) -> int:
    if period.month is not None:
        return period.year * 12 + period.month - 1
    return period.year * 4 + period.quarter - 1


@lru_cache(maxsize=4096)
def _parse(text: str) -> Period:
    # A digest asks about the same few periods thousands of times.
    return parse_period(text)


def _round(value: float) -> float:
    return round(value, _DECIMALS)
