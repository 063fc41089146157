"""The vectorised XmR engine behind ``bot.spc.analyse``: many charts in one pass.

Use ``bot.spc`` rather than this module: it documents the rules, and its ``xmr`` is the plain,
one-series statement of them that this engine is tested against. Here every chart (a measure,
or one rebased group of a measure) is a run of consecutive rows sharing a group id, and each
step is a numpy operation over all rows at once, never a Python loop over charts or points.

    >>> import numpy as np
    >>> lines = compute_lines(np.array([1.0, 3, 2, 4]), np.array([0, 0, 0, 0]))
    >>> float(lines["mean"][0]), float(lines["mr_mean"][0])
    (2.5, 1.6666666666666667)
"""

from __future__ import annotations

import numpy as np

# 3 sigma for an individuals chart: 3 / d2, with d2 = 1.128 for moving ranges of two points.
LIMIT_FACTOR = 2.66
# One sigma as the reference computes it (2.66 / 3), so the 2-sigma lines match it exactly.
SIGMA_FACTOR = LIMIT_FACTOR / 3
# Upper range limit of the moving-range chart (D4 = 3.267 for ranges of two points); a moving
# range at or above it is a one-off jump, left out so it does not widen the limits.
MR_OUTLIER_FACTOR = 3.267
# Points in a shift or a trend.
RUN_LENGTH = 7

RULES = ("outside_limits", "trend", "two_in_three", "shift")  # in order of precedence
RULE_SETS = ("ptd", "mdc2023")
SPECIAL_CAUSES = ("improvement", "concern", "neutral")
VARIATIONS = (
    "common_cause",
    "improvement_high",
    "improvement_low",
    "concern_high",
    "concern_low",
    "neutral_high",
    "neutral_low",
)

# Lookup tables from integer codes to labels. Code 0 is "no special cause" for rules and
# causes; variations end with None for a gap, as common cause is a variation of its own.
_RULE_LABELS = np.array([None, *RULES], dtype=object)
_CAUSE_LABELS = np.array([None, *SPECIAL_CAUSES], dtype=object)
_VARIATION_LABELS = np.array([*VARIATIONS, None], dtype=object)
_GAP_VARIATION = len(VARIATIONS)


def group_mean(x: np.ndarray, group: np.ndarray, n_groups: int) -> np.ndarray:
    """Mean of the non-missing ``x`` of each group (NaN for a group with none).

    Sums run in row order, then a second pass adds the mean residual (as R's ``mean`` does), so
    a flat series of 0.1s has a mean of exactly 0.1 and no point reads as above or below it.
    """
    ok = ~np.isnan(x)
    count = np.bincount(group[ok], minlength=n_groups)
    with np.errstate(invalid="ignore", divide="ignore"):
        mean = np.bincount(group[ok], weights=x[ok], minlength=n_groups) / count
        residual = x[ok] - mean[group[ok]]
        return mean + np.bincount(group[ok], weights=residual, minlength=n_groups) / count


def _starts(group: np.ndarray) -> np.ndarray:
    """True on the first row of each group."""
    first = np.ones(len(group), dtype=bool)
    first[1:] = group[1:] != group[:-1]
    return first


def moving_range(x: np.ndarray, group: np.ndarray) -> np.ndarray:
    """|x[i] - x[i-1]| within a group; NaN on a group's first row and beside a gap."""
    mr = np.full(len(x), np.nan)
    mr[1:] = np.abs(np.diff(x))
    mr[_starts(group)] = np.nan
    return mr


def compute_lines(
    y: np.ndarray,
    group: np.ndarray,
    *,
    fix_after_n_points: int | None = None,
    screen_outliers: bool = True,
) -> dict[str, np.ndarray]:
    """Mean, moving ranges and limits of every group, one value per row.

    ``group`` is a non-decreasing integer per row starting at 0; ``y`` has NaN for a gap.
    """
    n_groups = int(group[-1]) + 1 if len(group) else 0
    first_row = np.flatnonzero(_starts(group))
    position = np.arange(len(y)) - first_row[group]
    # A fixed baseline: only each group's first N rows (gaps included) set its limits.
    base = y if fix_after_n_points is None else np.where(position < fix_after_n_points, y, np.nan)

    mean = group_mean(base, group, n_groups)
    base_mr = moving_range(base, group)
    mr_mean = group_mean(base_mr, group, n_groups)
    if screen_outliers:
        limit = MR_OUTLIER_FACTOR * mr_mean[group]
        # All-zero ranges screen nothing: the reference would drop them all and lose the limits.
        kept = (base_mr < limit) | (limit == 0)
        mr_mean = group_mean(np.where(kept, base_mr, np.nan), group, n_groups)

    sigma = SIGMA_FACTOR * mr_mean
    per_group = {
        "mean": mean,
        "mr_mean": mr_mean,
        "lpl": mean - LIMIT_FACTOR * mr_mean,
        "upl": mean + LIMIT_FACTOR * mr_mean,
        "sigma_1_lower": mean - sigma,
        "sigma_1_upper": mean + sigma,
        "sigma_2_lower": mean - 2 * SIGMA_FACTOR * mr_mean,
        "sigma_2_upper": mean + 2 * SIGMA_FACTOR * mr_mean,
    }
    lines = {name: values[group] for name, values in per_group.items()}
    lines["mr"] = moving_range(y, group)
    return lines


def _in_long_run(codes: np.ndarray, first: np.ndarray, min_length: int) -> np.ndarray:
    """True where a non-zero code belongs to a run of at least ``min_length`` equal codes.

    Runs never continue across a group start (``first``).
    """
    same = np.zeros(len(codes), dtype=bool)
    same[1:] = codes[1:] == codes[:-1]
    same &= ~first
    run = np.cumsum(~same)
    return (np.bincount(run)[run] >= min_length) & (codes != 0)


def special_causes(
    y: np.ndarray,
    group: np.ndarray,
    direction: np.ndarray,
    lines: dict[str, np.ndarray],
    rules: str = "ptd",
) -> dict[str, np.ndarray]:
    """Rule, special cause and variation labels per row (None for a gap).

    ``direction`` per row is +1 (higher is better), -1 (lower is better) or 0 (neutral).
    The rules see only the non-missing points, in order: a gap neither breaks nor joins a run.
    ``rules`` is ``ptd`` or ``mdc2023`` (a point outside the limits also counts towards two in
    three; see ``bot.spc``).
    """
    rows = np.flatnonzero(~np.isnan(y))
    v, g = y[rows], group[rows]
    first = _starts(g)
    # NaN comparisons are False, so a group without limits has no outside or near points.
    outside = (v > lines["upl"][rows]) | (v < lines["lpl"][rows])
    near = ~outside & ((v < lines["sigma_2_lower"][rows]) | (v > lines["sigma_2_upper"][rows]))
    side = np.nan_to_num(np.sign(v - lines["mean"][rows])).astype(np.int8)

    in_shift = _in_long_run(side, first, RUN_LENGTH)

    # step[i] joins point i-1 to point i; six equal steps make a trend of seven points.
    step = np.zeros(len(v), dtype=np.int8)
    step[1:] = np.sign(np.diff(v))
    step[first] = 0
    step_in_trend = _in_long_run(step, first, RUN_LENGTH - 1)
    next_in_trend = np.append(step_in_trend[1:], False)
    in_trend = step_in_trend | next_in_trend
    # A turning point shared by two trends takes the later one's direction.
    trend_direction = np.where(next_in_trend, np.append(step[1:], 0), step)

    in_two_of_three = np.zeros(len(v), dtype=bool)
    if len(v) >= 3:
        k = len(v) - 2
        beyond_two = near | outside if rules == "mdc2023" else near
        near_count = beyond_two[:k].astype(np.int8) + beyond_two[1 : k + 1] + beyond_two[2:]
        side_sum = side[:k] + side[1 : k + 1] + side[2:]
        window = (g[:k] == g[2:]) & (near_count >= 2) & (np.abs(side_sum) == 3)
        covered = np.zeros(len(v), dtype=bool)
        covered[:k] |= window
        covered[1 : k + 1] |= window
        covered[2:] |= window
        # Only the points beyond two sigma are flagged, not the third point of the window.
        in_two_of_three = near & covered

    rule = np.select([outside, in_trend, in_two_of_three, in_shift], [1, 2, 3, 4], 0)
    high = np.where(rule == 2, trend_direction > 0, side > 0)
    better = direction[rows]
    cause = np.where(better == 0, 3, np.where(np.where(high, 1, -1) * better > 0, 1, 2))
    cause[rule == 0] = 0
    variation = np.where(cause == 0, 0, 2 * cause - 1 + ~high)

    labels = {}
    for name, codes, table, gap in (
        ("rule", rule, _RULE_LABELS, 0),
        ("special_cause", cause, _CAUSE_LABELS, 0),
        ("variation", variation, _VARIATION_LABELS, _GAP_VARIATION),
    ):
        full = np.full(len(y), gap)
        full[rows] = codes
        labels[name] = table[full]
    return labels


def assurance(
    target: np.ndarray, lpl: np.ndarray, upl: np.ndarray, direction: np.ndarray
) -> np.ndarray:
    """Assurance labels for arrays of targets and latest limits (None: no target or neutral)."""
    above = target > upl  # the whole process runs below the target
    below = target < lpl  # the whole process runs above the target
    label = np.where(
        above,
        np.where(direction > 0, "consistent_fail", "consistent_pass"),
        np.where(
            below,
            np.where(direction > 0, "consistent_pass", "consistent_fail"),
            "inconsistent",
        ),
    ).astype(object)
    label[np.isnan(target) | (direction == 0)] = None
    return label
