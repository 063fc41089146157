"""Statistical process control: XmR charts read the NHS England "Making Data Count" way.

The rules and defaults are those of the R package NHSRplotthedots (``ptd_spc``), the reference
implementation of Making Data Count.

Lines, per group of points (a whole series, or each part of a rebased series):

- mean of the values; moving range ``|x[i] - x[i-1]|``, never taken across a gap or a rebase;
- outlier screening (``screen_outliers=True``, the default): moving ranges at or above
  3.267 x their mean (the moving-range chart's upper range limit) are left out, and the mean
  moving range is taken again from the rest;
- process limits ``lpl``/``upl`` = mean -/+ 2.66 x mean moving range; one sigma is 2.66 / 3 x
  mean moving range, giving the ``sigma_1_*`` and ``sigma_2_*`` lines;
- ``fix_after_n_points=N`` (N >= 12, as in the reference; default None): only each group's
  first N positions, gaps included, set its mean and limits; later points are judged by them;
- ``rebase_at``: positions where a new group, with its own mean and limits, starts.

Special-cause rules, within a group, highest precedence first (a point gets one rule):

1. ``outside_limits``: a point strictly above ``upl`` or below ``lpl``;
2. ``trend``: every point of a run of 7 rising (6 consecutive strict rises) or 7 falling; an
   equal neighbour breaks the run;
3. ``two_in_three``: of 3 consecutive points all strictly on the same side of the mean, at
   least 2 lie beyond two sigma but within the limits; those (not the third) are flagged. A
   point outside the limits does not count here (rule 1 has it), as in the reference. With
   ``rules="mdc2023"`` (Making Data Count's later reading, as its Power BI SPC tool does it) a
   point outside the limits does count towards the two, though it stays flagged by rule 1;
   the setting ``PMBOT_SPC_RULES`` chooses, ``ptd`` by default;
4. ``shift``: every point of a run of 7 or more strictly on one side of the mean; a point
   exactly on the mean breaks the run.

A special-cause point is high (above the mean, or in a rising trend) or low, and so an
``improvement`` or a ``concern`` by the measure's ``better`` (``up``, the reference's default
"increase", or ``down``), or ``neutral`` for a ``neutral`` measure. Its ``variation`` is one of
``common_cause``, ``improvement_high``, ``improvement_low``, ``concern_high``, ``concern_low``,
``neutral_high``, ``neutral_low``; the chart's variation is that of its latest point.

Assurance compares a target with the latest group's limits: target beyond the limits on the bad
side means the process will ``consistent_fail``, on the good side ``consistent_pass``, and
between them (or on a limit, or with no limits) ``inconsistent``; None without a target or for
a ``neutral`` measure.

Where we differ from the reference, on purpose:

- Gaps. The reference expects none (a missing value there produces stray special causes,
  NHSRplotthedots issue #156). Here a gap keeps its row with the group's lines and no special
  cause; the moving range does not bridge it; the rules read the points either side of it as
  neighbours; the chart's variation is that of the latest non-missing point.
- A flat series. When every moving range is zero the reference screens them all out and its
  limits become NaN; here nothing is screened and the limits sit on the mean.
- A trend's direction. A point in two trends (a turning point) takes the later trend's
  direction, as in the reference; but the reference judges it by the very next step even when
  that step belongs to no trend (say a repeated value between a rise and a fall), which can
  call the last point of a rise "falling". Here a point takes the direction of a trend it is in.
- Trial limits. The reference warns when a group has fewer than 13 points; here a group of
  fewer than ``MIN_FIXED_POINTS`` (12) values has *trial* limits, which ``analyse`` reports
  (``trial_limits`` in its summary) for every output to say so.

``xmr`` charts one series and is the plain statement of these rules; ``analyse`` charts every
measure of a history at once with numpy group operations (``bot.spc_engine``) and is tested to
give the same results as ``xmr`` measure by measure.

Below, the jump to 25 is screened out of the moving ranges, so it does not widen the limits
it falls outside; lower is better, so it is a concern, and the target of 20 lies above the
upper limit, so the process meets it consistently.

    >>> chart = xmr([12, 11, 13, 12, 14, 12, 13, 11, 12, 25], better="down", target=20)
    >>> chart.loc[9, ["rule", "special_cause", "variation"]].tolist()
    ['outside_limits', 'concern', 'concern_high']
    >>> round(float(chart.loc[0, "mean"]), 2), round(float(chart.loc[0, "upl"]), 2)
    (13.5, 17.49)
    >>> chart.attrs["variation"], chart.attrs["assurance"]
    ('concern_high', 'consistent_pass')
"""

from __future__ import annotations

import itertools
import math
import operator
from collections.abc import Iterable, Sequence

import numpy as np
import pandas as pd

from bot import spc_engine as engine
from bot.spc_engine import (
    LIMIT_FACTOR,
    MR_OUTLIER_FACTOR,
    RULE_SETS,
    RULES,
    RUN_LENGTH,
    SIGMA_FACTOR,
    SPECIAL_CAUSES,
    VARIATIONS,
)

__all__ = [
    "ASSURANCES",
    "COLUMNS",
    "LIMIT_FACTOR",
    "MIN_FIXED_POINTS",
    "MR_OUTLIER_FACTOR",
    "RULES",
    "RULE_SETS",
    "RUN_LENGTH",
    "SPECIAL_CAUSES",
    "VARIATIONS",
    "analyse",
    "latest_point",
    "process_limits",
    "xmr",
    "xmr_columns",
]

BETTER_DIRECTION = {"up": 1, "down": -1, "neutral": 0}
ASSURANCES = ("consistent_pass", "consistent_fail", "inconsistent")
# The reference refuses a fixed baseline of fewer points: limits from fewer are not trusted.
MIN_FIXED_POINTS = 12

COLUMNS = (
    "value",
    "group",
    "mean",
    "mr",
    "mr_mean",
    "lpl",
    "upl",
    "sigma_1_lower",
    "sigma_1_upper",
    "sigma_2_lower",
    "sigma_2_upper",
    "rule",
    "special_cause",
    "variation",
)
_LABEL_COLUMNS = ("rule", "special_cause", "variation")
_HISTORY_COLUMNS = ("measure_id", "period", "value", "better")


def xmr(
    values: Iterable[float | None],
    better: str = "up",
    target: float | None = None,
    fix_after_n_points: int | None = None,
    rebase_at: Iterable[int] = (),
    screen_outliers: bool = True,
    rules: str = "ptd",
) -> pd.DataFrame:
    """Chart one series: one row per value (a gap is None or NaN), columns ``COLUMNS``.

    ``better`` is ``up``, ``down`` or ``neutral``; ``target`` is optional; ``rebase_at`` lists
    the positions (from 0) where a new group starts; ``fix_after_n_points`` and
    ``screen_outliers`` are as in the module docstring. A pandas Series keeps its index.

    ``rule`` names the rule behind a special cause, ``special_cause`` is ``improvement``,
    ``concern`` or ``neutral``, ``variation`` the point's state (``common_cause`` or the cause
    and ``_high``/``_low``); all three are None on a gap, and the first two on common cause.
    ``df.attrs["variation"]`` is the latest point's variation (None with no values);
    ``df.attrs["assurance"]`` is the assurance against ``target`` (None without one).

    >>> chart = xmr([5, 6, 5, 6, 5, 8, 9, 8, 9, 8], rebase_at=[5])
    >>> chart["mean"].tolist()
    [5.4, 5.4, 5.4, 5.4, 5.4, 8.4, 8.4, 8.4, 8.4, 8.4]
    >>> chart["mr"].tolist()[4:7]
    [1.0, nan, 1.0]
    >>> chart.attrs["variation"], chart.attrs["assurance"]
    ('common_cause', None)
    """
    index = values.index if isinstance(values, pd.Series) else None
    columns, variation, assurance = xmr_columns(
        values, better, target, fix_after_n_points, rebase_at, screen_outliers, rules
    )
    chart = pd.DataFrame({name: _column(name, columns[name], index) for name in COLUMNS})
    chart.attrs["variation"] = variation
    chart.attrs["assurance"] = assurance
    return chart


def xmr_columns(
    values: Iterable[float | None],
    better: str = "up",
    target: float | None = None,
    fix_after_n_points: int | None = None,
    rebase_at: Iterable[int] = (),
    screen_outliers: bool = True,
    rules: str = "ptd",
) -> tuple[dict[str, list], str | None, str | None]:
    """``xmr`` as plain lists: (its columns by name, its variation, its assurance).

    For one short series judged on its own (a figure as it arrives), where building the
    DataFrame would cost more than the chart.
    """
    direction = _direction(better)
    _check_baseline(fix_after_n_points)
    _check_rules(rules)
    y = [math.nan if pd.isna(v) else float(v) for v in values]
    starts = _group_starts(len(y), rebase_at)

    columns: dict[str, list] = {name: [] for name in COLUMNS}
    for number, (start, stop) in enumerate(itertools.pairwise([*starts, len(y)])):
        group = _chart_group(
            y[start:stop], direction, fix_after_n_points, screen_outliers, rules
        )
        group["group"] = [number] * (stop - start)
        for name in COLUMNS:
            columns[name].extend(group[name])

    latest = [v for v in columns["variation"] if v is not None]
    assurance = (
        _assurance(target, columns["lpl"][-1], columns["upl"][-1], direction) if len(y) else None
    )
    return columns, (latest[-1] if latest else None), assurance


def latest_point(
    values: Iterable[float | None],
    better: str = "up",
    target: float | None = None,
    rebase_at: Iterable[int] = (),
    rules: str = "ptd",
) -> tuple[str | None, str | None, str | None, int]:
    """What ``xmr_columns`` says of the last value: (its special cause, the latest variation,
    the assurance, how many values its group has).

    For judging one figure as it arrives, which needs nothing else of the chart: the limits
    come from the last group, and a rule reaches back at most ``RUN_LENGTH`` points, so only
    those are tested. A missing last value is left to ``xmr_columns``.
    """
    direction = _direction(better)
    _check_rules(rules)
    # None is a gap (Store.figures); pd.isna per value would cost more than the rules.
    y = [math.nan if v is None else float(v) for v in values]
    starts = _group_starts(len(y), rebase_at)
    group = y[starts[-1] :] if y else []
    if not group or math.isnan(group[-1]):
        columns, variation, assurance = xmr_columns(
            y, better, target, rebase_at=starts, rules=rules
        )
        points = sum(1 for v in group if not math.isnan(v))
        return columns["special_cause"][-1] if y else None, variation, assurance, points
    lines = _lines(*_mean_and_mr(group, screen_outliers=True))
    present = [v for v in group if v == v]  # NaN is the one float unequal to itself
    cause = _last_cause(present, lines, rules)
    special, variation = None, "common_cause"
    if cause is not None:
        rule, high = cause
        special = "neutral" if direction == 0 else _improvement_or_concern(high, direction)
        variation = f"{special}_{'high' if high else 'low'}"
    assurance = _assurance(target, lines["lpl"], lines["upl"], direction)
    return special, variation, assurance, len(present)


def _lines(mean: float, mr_mean: float) -> dict[str, float]:
    """A group's centre line, process limits and sigma lines."""
    return {
        "mean": mean,
        "mr_mean": mr_mean,
        "lpl": mean - LIMIT_FACTOR * mr_mean,
        "upl": mean + LIMIT_FACTOR * mr_mean,
        "sigma_1_lower": mean - SIGMA_FACTOR * mr_mean,
        "sigma_1_upper": mean + SIGMA_FACTOR * mr_mean,
        "sigma_2_lower": mean - 2 * SIGMA_FACTOR * mr_mean,
        "sigma_2_upper": mean + 2 * SIGMA_FACTOR * mr_mean,
    }


def process_limits(values: Sequence[float]) -> tuple[float, float, float]:
    """(mean, lpl, upl) of one group of values with no gaps: ``xmr``'s lines, without the rules.

    >>> [round(v, 2) for v in process_limits([12, 11, 13, 12, 14, 12, 13, 11, 12, 25])]
    [13.5, 9.51, 17.49]
    """
    mean, mr_mean = _mean_and_mr([float(v) for v in values], screen_outliers=True)
    return mean, mean - LIMIT_FACTOR * mr_mean, mean + LIMIT_FACTOR * mr_mean


def _chart_group(
    y: list[float],
    direction: int,
    fix_after_n_points: int | None,
    screen_outliers: bool,
    rules: str = "ptd",
) -> dict[str, list]:
    """Every column but ``group`` for one group of points (gaps included)."""
    lines = _lines(*_mean_and_mr(y[:fix_after_n_points], screen_outliers))
    columns: dict[str, list] = {name: [value] * len(y) for name, value in lines.items()}
    columns["value"] = y
    columns["mr"] = [math.nan] + [abs(b - a) for a, b in itertools.pairwise(y)]

    present = [i for i, value in enumerate(y) if not math.isnan(value)]
    causes = _special_causes([y[i] for i in present], lines, rules)
    for name in _LABEL_COLUMNS:
        columns[name] = [None] * len(y)
    for i, cause in zip(present, causes, strict=True):
        columns["variation"][i] = "common_cause"
        if cause is not None:
            rule, high = cause
            kind = "neutral" if direction == 0 else _improvement_or_concern(high, direction)
            columns["rule"][i] = rule
            columns["special_cause"][i] = kind
            columns["variation"][i] = f"{kind}_{'high' if high else 'low'}"
    return columns


def _mean_and_mr(base: list[float], screen_outliers: bool) -> tuple[float, float]:
    """Mean and mean moving range of a group's baseline points."""
    # A range beside a gap is NaN, and NaN is the one float unequal to itself.
    ranges = [r for r in map(abs, map(operator.sub, base[1:], base)) if r == r]
    mr_mean = _mean_of(ranges)
    # With every range zero there is nothing unusual to screen (see the module docstring).
    # Most groups have no range to screen out, and the same ranges give the same mean.
    limit = MR_OUTLIER_FACTOR * mr_mean
    if screen_outliers and mr_mean > 0 and max(ranges) >= limit:
        mr_mean = _mean_of([r for r in ranges if r < limit])
    return _mean(base), mr_mean


def _mean(values: Iterable[float]) -> float:
    """Mean of the non-missing values, NaN if none (``_mean_of`` them)."""
    return _mean_of([v for v in values if v == v])  # NaN is the one float unequal to itself


def _mean_of(present: Sequence[float]) -> float:
    """Mean of values with no gaps, NaN if none.

    Summed in order, then corrected by the mean residual as R's ``mean`` does, so a flat series
    of 0.1s has a mean of exactly 0.1 and no point reads as above or below it.
    """
    if not present:
        return math.nan
    total = 0.0
    for v in present:
        total += v
    mean = total / len(present)
    residual = 0.0
    for v in present:
        residual += v - mean
    return mean + residual / len(present)


def _special_causes(
    points: Sequence[float], lines: dict[str, float], rules: str = "ptd"
) -> list[tuple[str, bool] | None]:
    """(rule, is_high) for each point of one group, None for common cause; no gaps in points."""
    n = len(points)
    mean, lower_2, upper_2 = lines["mean"], lines["sigma_2_lower"], lines["sigma_2_upper"]
    side = [_sign(x - mean) for x in points]
    outside = [x > lines["upl"] or x < lines["lpl"] for x in points]
    near = [
        not out and (x < lower_2 or x > upper_2) for x, out in zip(points, outside, strict=True)
    ]
    steps = [_sign(b - a) for a, b in itertools.pairwise(points)]  # steps[i]: point i to i + 1

    shift = [False] * n
    for end in range(RUN_LENGTH - 1, n):
        run = side[end - RUN_LENGTH + 1 : end + 1]
        if run[0] != 0 and run.count(run[0]) == RUN_LENGTH:
            shift[end - RUN_LENGTH + 1 : end + 1] = [True] * RUN_LENGTH

    # +1 rising, -1 falling. A later trend overwrites an earlier one: a turning point in both
    # takes the later direction.
    trend = [0] * n
    for end in range(RUN_LENGTH - 1, n):
        run = steps[end - RUN_LENGTH + 1 : end]
        if run[0] != 0 and run.count(run[0]) == RUN_LENGTH - 1:
            trend[end - RUN_LENGTH + 1 : end + 1] = [run[0]] * RUN_LENGTH

    # Under mdc2023 a point outside the limits counts towards the two as well.
    beyond_two = [a or (rules == "mdc2023" and b) for a, b in zip(near, outside, strict=True)]
    two_in_three = [False] * n
    for start in range(n - 2):
        window = range(start, start + 3)
        if sum(beyond_two[i] for i in window) >= 2 and abs(sum(side[i] for i in window)) == 3:
            for i in window:
                two_in_three[i] = two_in_three[i] or near[i]

    causes: list[tuple[str, bool] | None] = []
    for i in range(n):
        if outside[i]:
            causes.append(("outside_limits", side[i] > 0))
        elif trend[i]:
            causes.append(("trend", trend[i] > 0))
        elif two_in_three[i]:
            causes.append(("two_in_three", side[i] > 0))
        elif shift[i]:
            causes.append(("shift", side[i] > 0))
        else:
            causes.append(None)
    return causes


def _last_cause(
    points: Sequence[float], lines: dict[str, float], rules: str = "ptd"
) -> tuple[str, bool] | None:
    """``_special_causes(points, lines, rules)[-1]``, judging the last point alone.

    A figure as it arrives needs only its own reading, and every rule that can flag the last
    point looks only at the window that ends with it: the last ``RUN_LENGTH`` points for a
    shift or a trend, the last three for two in three.
    """
    n = len(points)
    mean = lines["mean"]
    last = points[-1]
    side = _sign(last - mean)
    if last > lines["upl"] or last < lines["lpl"]:
        return ("outside_limits", side > 0)
    if n >= RUN_LENGTH:
        run = points[-RUN_LENGTH:]
        steps = [_sign(b - a) for a, b in itertools.pairwise(run)]
        if steps[0] != 0 and steps.count(steps[0]) == RUN_LENGTH - 1:
            return ("trend", steps[0] > 0)
    if n >= 3 and _near(last, lines):
        window = points[-3:]
        sides = [_sign(x - mean) for x in window]
        outside = [x > lines["upl"] or x < lines["lpl"] for x in window]
        beyond_two = [
            _near(x, lines) or (rules == "mdc2023" and out)
            for x, out in zip(window, outside, strict=True)
        ]
        if sum(beyond_two) >= 2 and abs(sum(sides)) == 3:
            return ("two_in_three", side > 0)
    shift = n >= RUN_LENGTH and all(_sign(x - mean) == side for x in points[-RUN_LENGTH:])
    if side != 0 and shift:
        return ("shift", side > 0)
    return None


def _near(x: float, lines: dict[str, float]) -> bool:
    """Beyond two sigma but within the limits (``_special_causes``' ``near``)."""
    outside = x > lines["upl"] or x < lines["lpl"]
    return not outside and (x < lines["sigma_2_lower"] or x > lines["sigma_2_upper"])


def _sign(x: float) -> int:
    """-1, 0 or 1; 0 for NaN (no mean, so no side)."""
    return (x > 0) - (x < 0)


def _improvement_or_concern(high: bool, direction: int) -> str:
    return "improvement" if (1 if high else -1) * direction > 0 else "concern"


def _assurance(target: float | None, lpl: float, upl: float, direction: int) -> str | None:
    if target is None or pd.isna(target) or direction == 0:
        return None
    if target > upl:  # the whole process runs below the target
        return "consistent_fail" if direction > 0 else "consistent_pass"
    if target < lpl:  # the whole process runs above the target
        return "consistent_pass" if direction > 0 else "consistent_fail"
    return "inconsistent"


def analyse(
    history: pd.DataFrame,
    *,
    fix_after_n_points: int | None = None,
    screen_outliers: bool = True,
    rules: str = "ptd",
) -> pd.DataFrame:
    """Chart every measure of a history at once, with the same results as ``xmr`` on each.

    ``history`` has columns ``measure_id``, ``period`` (anything that sorts in time order:
    ``2026-10``, ``2026-Q3``, dates), ``value`` (NaN or None for a gap) and ``better``; and
    optionally ``target`` (NaN for none) and ``rebase`` (True on a row that starts a new group).
    ``better`` and ``target`` belong to the measure: the value on its latest row is used. Rows
    may come in any order; a measure with two rows for one period is refused.

    Returns the history sorted by measure_id and period, with a fresh index and the ``COLUMNS``
    of ``xmr`` added (``value`` as a float; ``group`` counted within each measure).
    ``df.attrs["summary"]`` is a DataFrame indexed by measure_id with ``variation`` and
    ``assurance`` (as ``xmr``'s attrs), ``latest_period`` and ``latest_value`` (the latest
    non-missing point), and the latest group's ``mean``, ``lpl`` and ``upl``, ``points`` (its
    number of values), ``trial_limits`` (fewer than ``MIN_FIXED_POINTS`` of them) and
    ``group_start`` (the period of its first row).

    >>> history = pd.DataFrame({
    ...     "measure_id": ["A"] * 8 + ["B"] * 6,
    ...     "period": [f"2026-{m:02}" for m in range(1, 9)] + [f"2026-{m:02}" for m in range(1, 7)],
    ...     "value": [20, 21, 19, 20, 22, 21, 20, 31, 90, 92, None, 91, 89, 93],
    ...     "better": ["down"] * 8 + ["up"] * 6,
    ...     "target": [None] * 8 + [80] * 6,
    ... })
    >>> charts = analyse(history)
    >>> charts.loc[7, ["measure_id", "period", "rule", "special_cause"]].tolist()
    ['A', '2026-08', 'outside_limits', 'concern']
    >>> charts.attrs["summary"][["variation", "assurance"]].to_dict("index")
    {'A': {'variation': 'concern_high', 'assurance': None}, \
'B': {'variation': 'common_cause', 'assurance': 'consistent_pass'}}
    """
    absent = [name for name in _HISTORY_COLUMNS if name not in history.columns]
    if absent:
        raise ValueError(f"history lacks the column(s) {', '.join(absent)}")
    _check_baseline(fix_after_n_points)
    _check_rules(rules)
    rows = history.sort_values(["measure_id", "period"], ignore_index=True)
    measure = rows["measure_id"].to_numpy()
    period = rows["period"].to_numpy()
    n = len(rows)

    starts_measure = np.ones(n, dtype=bool)
    starts_measure[1:] = measure[1:] != measure[:-1]
    repeated = np.flatnonzero(~starts_measure[1:] & (period[1:] == period[:-1]))
    if len(repeated):
        at = repeated[0] + 1
        raise ValueError(f"measure {measure[at]} has more than one value for {period[at]}")
    measure_number = np.cumsum(starts_measure) - 1
    last_row = np.flatnonzero(_last_of_each(measure_number))

    direction = _directions(rows, measure)[last_row][measure_number]
    target = (
        pd.to_numeric(rows["target"]).to_numpy(dtype=float, na_value=np.nan)[last_row]
        if "target" in rows.columns
        else np.full(len(last_row), np.nan)
    )
    rebase = (
        rows["rebase"].to_numpy(dtype=bool, na_value=False)
        if "rebase" in rows.columns
        else np.zeros(n, dtype=bool)
    )
    group = np.cumsum(starts_measure | rebase) - 1
    y = pd.to_numeric(rows["value"]).to_numpy(dtype=float, na_value=np.nan)

    lines = engine.compute_lines(
        y, group, fix_after_n_points=fix_after_n_points, screen_outliers=screen_outliers
    )
    labels = engine.special_causes(y, group, direction, lines, rules)
    first_group = group[np.flatnonzero(starts_measure)]
    computed = {"value": y, "group": group - first_group[measure_number], **lines, **labels}
    charts = rows.assign(**{name: _column(name, computed[name], rows.index) for name in COLUMNS})

    charts.attrs["summary"] = _summary(
        measure[last_row],
        rows["period"],
        y,
        measure_number,
        labels["variation"],
        engine.assurance(
            target, lines["lpl"][last_row], lines["upl"][last_row], direction[last_row]
        ),
        {name: lines[name][last_row] for name in ("mean", "lpl", "upl")},
    )
    charts.attrs["summary"] = charts.attrs["summary"].join(
        _latest_groups(rows["period"], y, group, last_row, measure[last_row])
    )
    return charts


def _latest_groups(
    period: pd.Series, y: np.ndarray, group: np.ndarray, last_row: np.ndarray, ids: np.ndarray
) -> pd.DataFrame:
    """Each measure's latest group: its first period, its number of values, trial or not."""
    latest_group = group[last_row]
    points = np.bincount(group[~np.isnan(y)], minlength=int(group[-1]) + 1 if len(group) else 0)
    first_row = np.searchsorted(group, latest_group)
    counts = points[latest_group] if len(points) else np.zeros(len(ids), dtype=int)
    return pd.DataFrame(
        {
            "points": counts,
            "trial_limits": counts < MIN_FIXED_POINTS,
            "group_start": period.to_numpy()[first_row],
        },
        index=pd.Index(ids, name="measure_id"),
    )


def _summary(
    measures: np.ndarray,
    period: pd.Series,
    y: np.ndarray,
    measure_number: np.ndarray,
    variation: np.ndarray,
    assurance: np.ndarray,
    latest_lines: dict[str, np.ndarray],
) -> pd.DataFrame:
    """One row per measure, from the per-row results and the per-measure assurance and lines."""
    index = pd.Index(measures, name="measure_id")
    present = np.flatnonzero(~np.isnan(y))
    latest = present[_last_of_each(measure_number[present])]  # only measures with a value
    latest_variation = np.full(len(measures), None, dtype=object)
    latest_variation[measure_number[latest]] = variation[latest]
    # Measures with no value at all have no latest point: NaN there, after the reindex.
    latest_point = pd.DataFrame(
        {"latest_period": period.to_numpy()[latest], "latest_value": y[latest]},
        index=measures[measure_number[latest]],
    ).reindex(index)
    return pd.DataFrame(
        {
            "variation": pd.Series(latest_variation, index=index, dtype=object),
            "assurance": pd.Series(assurance, index=index, dtype=object),
            "latest_period": latest_point["latest_period"],
            "latest_value": latest_point["latest_value"],
            **latest_lines,
        },
        index=index,
    )


def _last_of_each(numbers: np.ndarray) -> np.ndarray:
    """True on the last of each run of equal numbers."""
    last = np.ones(len(numbers), dtype=bool)
    last[:-1] = numbers[1:] != numbers[:-1]
    return last


def _directions(rows: pd.DataFrame, measure: np.ndarray) -> np.ndarray:
    """+1, -1 or 0 per row from ``better``; refuses anything but up, down and neutral."""
    codes, kinds = pd.factorize(rows["better"])
    # A missing better has code -1, which picks the False appended at the end.
    allowed = np.array([kind in BETTER_DIRECTION for kind in kinds] + [False])
    bad = np.flatnonzero(~allowed[codes])
    if len(bad):
        at = bad[0]
        raise ValueError(
            f"measure {measure[at]}: better must be up, down or neutral, not {rows['better'][at]!r}"
        )
    return np.array([BETTER_DIRECTION[kind] for kind in kinds], dtype=np.int8)[codes]


def _direction(better: str) -> int:
    if better not in BETTER_DIRECTION:
        raise ValueError(f"better must be up, down or neutral, not {better!r}")
    return BETTER_DIRECTION[better]


def _check_rules(rules: str) -> None:
    if rules not in RULE_SETS:
        raise ValueError(f"rules must be one of {', '.join(RULE_SETS)}, not {rules!r}")


def _check_baseline(fix_after_n_points: int | None) -> None:
    if fix_after_n_points is not None and fix_after_n_points < MIN_FIXED_POINTS:
        raise ValueError(
            f"fix_after_n_points must be at least {MIN_FIXED_POINTS}, not {fix_after_n_points}"
        )


def _group_starts(n: int, rebase_at: Iterable[int]) -> list[int]:
    """Sorted first positions of the groups: 0 and each rebase position."""
    starts = {0} if n else set()
    for position in rebase_at:
        position = operator.index(position)
        if not 0 <= position < n:
            raise ValueError(f"rebase position {position} is outside the {n} values")
        starts.add(position)
    return sorted(starts)


def _column(name: str, values: Sequence | np.ndarray, index: pd.Index | None) -> pd.Series:
    """A result column; labels stay objects, as pandas' string dtype would turn None into NaN."""
    if name in _LABEL_COLUMNS:
        return pd.Series(values, index=index, dtype=object)
    return pd.Series(values, index=index, dtype="int64" if name == "group" else float)
