import doctest
import functools
import math
import operator

import numpy as np
import pandas as pd
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from bot import spc, spc_engine
from bot.spc import COLUMNS, RULES, VARIATIONS, analyse, xmr

# rnorm(20) after set.seed(123) in R: the data behind NHSRplotthedots' own snapshot tests.
R_RNORM_20 = [
    -0.56047565, -0.23017749, 1.55870831, 0.07050839, 0.12928774,
    1.71506499, 0.46091621, -1.26506123, -0.68685285, -0.44566197,
    1.22408180, 0.35981383, 0.40077145, 0.11068272, -0.55584113,
    1.78691314, 0.49785048, -1.96661716, 0.70135590, -0.47279141,
]  # fmt: skip

# One series per rule, each ending on a flagged point: (values, flagged positions, rule, high).
CASES = {
    "outside_high": ([8, 12] * 6 + [30], [12], "outside_limits", True),
    "outside_low": ([8, 12] * 6 + [-10], [12], "outside_limits", False),
    "shift_high": ([12, 8] * 5 + [11] * 7, range(10, 17), "shift", True),
    "shift_low": ([8, 12] * 5 + [9] * 7, range(10, 17), "shift", False),
    "trend_rising": ([5, 21] * 3 + list(range(10, 17)), range(6, 13), "trend", True),
    "trend_falling": ([21, 5] * 3 + list(range(16, 9, -1)), range(6, 13), "trend", False),
    "two_in_three_high": ([1, -1] * 7 + [6, 1, 6], [14, 16], "two_in_three", True),
    "two_in_three_low": ([1, -1] * 7 + [-6, -1, -6], [14, 16], "two_in_three", False),
}


def line(chart: pd.DataFrame, name: str) -> float:
    """A line's value, the same on every row of a one-group chart."""
    assert chart[name].nunique(dropna=False) == 1
    return float(chart[name].iloc[0])


# --- lines: mean, moving range, screening, limits ----------------------------------------------


def test_limits_match_the_reference_snapshot():
    chart = xmr(R_RNORM_20)

    assert line(chart, "mean") == pytest.approx(0.1416238, abs=1e-7)
    assert line(chart, "lpl") == pytest.approx(-3.01138, abs=1e-5)
    assert line(chart, "upl") == pytest.approx(3.294627, abs=1e-6)
    assert chart["special_cause"].isna().all()


def test_outlier_screening_matches_the_reference_snapshot_on_and_off():
    values = list(R_RNORM_20)
    values[14] = 10

    screened = xmr(values)
    unscreened = xmr(values, screen_outliers=False)

    assert line(screened, "mean") == pytest.approx(0.6694159, abs=1e-7)
    assert (line(screened, "lpl"), line(screened, "upl")) == pytest.approx(
        (-2.383666, 3.722497), abs=1e-6
    )
    assert (line(unscreened, "lpl"), line(unscreened, "upl")) == pytest.approx(
        (-4.596625, 5.935457), abs=1e-6
    )


def test_limits_are_the_mean_plus_or_minus_2_66_mean_moving_ranges():
    chart = xmr([8, 12, 9, 14, 10])

    assert chart["mr"].tolist()[1:] == [4, 3, 5, 4]
    assert line(chart, "mean") == pytest.approx(10.6)
    assert line(chart, "mr_mean") == pytest.approx(4)
    assert line(chart, "lpl") == pytest.approx(10.6 - 2.66 * 4)
    assert line(chart, "upl") == pytest.approx(10.6 + 2.66 * 4)
    sigma = 2.66 / 3 * 4
    assert line(chart, "sigma_1_lower") == pytest.approx(10.6 - sigma)
    assert line(chart, "sigma_1_upper") == pytest.approx(10.6 + sigma)
    assert line(chart, "sigma_2_lower") == pytest.approx(10.6 - 2 * sigma)
    assert line(chart, "sigma_2_upper") == pytest.approx(10.6 + 2 * sigma)


def test_a_moving_range_at_3_267_times_the_mean_is_screened_out_by_default():
    values = [8, 12] * 6 + [30]  # eleven ranges of 4, then one of 18

    assert line(xmr(values), "mr_mean") == pytest.approx(4)
    assert line(xmr(values, screen_outliers=False), "mr_mean") == pytest.approx(62 / 12)
    # The screened point still counts towards the mean.
    assert line(xmr(values), "mean") == pytest.approx(150 / 13)


def test_the_result_has_one_row_per_value_and_the_documented_columns():
    chart = xmr([1, 2, None, 4])

    assert list(chart.columns) == list(COLUMNS)
    assert len(chart) == 4
    assert chart["group"].tolist() == [0, 0, 0, 0]


# --- the special-cause rules ------------------------------------------------------------------


@pytest.mark.parametrize("case", CASES)
def test_each_rule_flags_its_points_and_nothing_else(case):
    values, flagged, rule, _ = CASES[case]

    rules = xmr(values)["rule"].tolist()

    assert rules == [rule if i in flagged else None for i in range(len(values))]


@pytest.mark.parametrize("case", CASES)
@pytest.mark.parametrize(
    ("better", "if_high", "if_low"),
    [
        ("up", "improvement", "concern"),
        ("down", "concern", "improvement"),
        ("neutral", "neutral", "neutral"),
    ],
)
def test_a_special_cause_is_improvement_or_concern_by_the_better_direction(
    case, better, if_high, if_low
):
    values, flagged, _, high = CASES[case]
    expected = if_high if high else if_low

    chart = xmr(values, better=better)

    assert set(chart["special_cause"].iloc[list(flagged)]) == {expected}
    variation = f"{expected}_{'high' if high else 'low'}"
    assert set(chart["variation"].iloc[list(flagged)]) == {variation}
    assert chart.attrs["variation"] == variation  # every case ends on a flagged point


@pytest.mark.parametrize("case", CASES)
def test_a_target_does_not_change_the_special_causes(case):
    values = CASES[case][0]

    with_target = xmr(values, target=10)
    without = xmr(values)

    pd.testing.assert_frame_equal(with_target, without, check_flags=False)


def test_six_points_rising_are_not_a_trend():
    assert xmr([5, 21] * 3 + list(range(10, 16)))["rule"].isna().all()


def test_six_points_on_one_side_are_not_a_shift():
    assert xmr([12, 8] * 5 + [11] * 6)["rule"].isna().all()


def test_a_repeated_value_breaks_a_trend():
    assert xmr([5, 21] * 3 + [10, 11, 12, 12, 13, 14, 15, 16])["rule"].isna().all()


def test_a_point_on_the_mean_breaks_a_shift():
    on_the_mean = [11, 13, 11, 10, 13, 11, 13, 9, 7, 9, 10, 7, 9, 7]  # mean exactly 10
    nudged = [11, 13, 11, 11, 13, 11, 13, 9, 7, 9, 10, 7, 9, 7]  # mean 10.07

    assert line(xmr(on_the_mean), "mean") == 10
    assert xmr(on_the_mean)["rule"].isna().all()
    assert xmr(nudged)["rule"].tolist() == ["shift"] * 14


def test_two_in_three_needs_all_three_points_on_the_same_side_of_the_mean():
    # The reference's own test: two points beyond two sigma but either side of the mean.
    values = [1, -1] * 7 + [5.5, -5.5]

    assert xmr(values)["variation"].tolist() == ["common_cause"] * 16


def test_two_points_beyond_two_sigma_four_apart_are_not_two_in_three():
    assert xmr([1, -1] * 7 + [6, 1, 1, 6])["rule"].isna().all()


def test_two_in_three_flags_only_the_points_beyond_two_sigma():
    chart = xmr([1, -1] * 7 + [6, 1, 6])

    assert line(chart, "sigma_2_upper") < 6 < line(chart, "upl")
    assert chart["rule"].tolist()[14:] == ["two_in_three", None, "two_in_three"]


def test_outside_limits_outranks_a_trend():
    assert xmr([1, 2, 3, 4, 5, 6, 7])["rule"].tolist() == (
        ["outside_limits"] + ["trend"] * 5 + ["outside_limits"]
    )


def test_a_trend_outranks_a_shift():
    # Points 5 to 12 are all above the mean; 6 to 12 also rise.
    chart = xmr([1, 17] * 3 + list(range(15, 22)))

    assert chart["rule"].tolist() == [None] * 5 + ["shift"] + ["trend"] * 7


def test_two_in_three_outranks_a_shift():
    chart = xmr([1, -1] * 7 + [1, 6, 1, 6, 1, 1, 1])

    assert chart["rule"].tolist()[14:] == [
        "shift", "two_in_three", "shift", "two_in_three", "shift", "shift", "shift"
    ]  # fmt: skip


def test_a_turning_point_shared_by_two_trends_takes_the_later_direction():
    rise_then_fall = [0, 20] * 2 + list(range(4, 11)) + list(range(9, 3, -1))

    chart = xmr(rise_then_fall)

    assert chart["rule"].tolist()[4:] == ["trend"] * 13
    assert chart["variation"].tolist()[9:12] == ["improvement_high", "concern_low", "concern_low"]


def test_the_last_point_of_a_rise_stays_rising_when_a_repeat_starts_the_fall():
    # Deliberately unlike the reference, which reads the 10 at position 10 as falling.
    rise_repeat_fall = [0, 20] * 2 + list(range(4, 11)) + list(range(10, 3, -1))

    chart = xmr(rise_repeat_fall)

    assert chart["rule"].tolist()[4:] == ["trend"] * 14
    assert chart["variation"].tolist()[10:12] == ["improvement_high", "concern_low"]


def test_fewer_points_than_a_run_give_common_cause():
    assert xmr([1, 2, 3, 4, 5, 6])["variation"].tolist() == ["common_cause"] * 6


# --- variation of the latest point ------------------------------------------------------------


def test_a_stable_series_ends_in_common_cause():
    assert xmr([8, 12] * 6).attrs["variation"] == "common_cause"


def test_the_variation_is_that_of_the_latest_non_missing_point():
    values = CASES["outside_high"][0] + [None]

    chart = xmr(values, better="down")

    assert chart["variation"].iloc[-1] is None
    assert chart.attrs["variation"] == "concern_high"


def test_the_variation_states_are_the_seven_making_data_count_icons():
    assert set(VARIATIONS) == {
        "common_cause",
        "improvement_high",
        "improvement_low",
        "concern_high",
        "concern_low",
        "neutral_high",
        "neutral_low",
    }


# --- assurance --------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("better", "target", "expected"),
    [
        ("up", 25, "consistent_fail"),  # limits -0.64 to 20.64: the target is out of reach
        ("up", -5, "consistent_pass"),
        ("up", 10, "inconsistent"),
        ("down", 25, "consistent_pass"),
        ("down", -5, "consistent_fail"),
        ("down", 10, "inconsistent"),
        ("up", 10 + 2.66 * 4, "inconsistent"),  # on the limit is not beyond it
        ("up", None, None),
        ("up", math.nan, None),
        ("neutral", 25, None),
    ],
)
def test_assurance_compares_the_target_with_the_limits(better, target, expected):
    chart = xmr([8, 12] * 6, better=better, target=target)

    assert chart.attrs["assurance"] == expected


def test_assurance_uses_the_latest_group_after_a_rebase():
    values = [8, 12] * 6 + [28, 32] * 6

    # One group: limits 9.36 to 30.64; the latest group alone: 19.36 to 40.64.
    assert xmr(values, target=15).attrs["assurance"] == "inconsistent"
    assert xmr(values, target=15, rebase_at=[12]).attrs["assurance"] == "consistent_pass"


# --- edge cases -------------------------------------------------------------------------------


def test_no_values_give_an_empty_chart():
    chart = xmr([], target=5)

    assert list(chart.columns) == list(COLUMNS)
    assert chart.empty
    assert chart.attrs == {"variation": None, "assurance": None}


def test_a_single_point_has_no_limits_and_cannot_assure_a_target():
    chart = xmr([7], target=5)

    assert line(chart, "mean") == 7
    assert math.isnan(line(chart, "upl"))
    assert chart.attrs == {"variation": "common_cause", "assurance": "inconsistent"}


@pytest.mark.parametrize("screen_outliers", [True, False])
def test_a_flat_series_has_its_limits_on_the_mean(screen_outliers):
    chart = xmr([5] * 10, target=6, screen_outliers=screen_outliers)

    assert line(chart, "mr_mean") == 0
    assert line(chart, "lpl") == line(chart, "upl") == 5
    assert chart["variation"].tolist() == ["common_cause"] * 10
    assert chart.attrs["assurance"] == "consistent_fail"


def test_a_flat_series_of_inexact_decimals_is_not_read_as_a_shift():
    chart = xmr([0.1] * 30)

    assert line(chart, "mean") == 0.1
    assert chart["rule"].isna().all()


@pytest.mark.parametrize("gap", [None, math.nan, np.nan, pd.NA])
def test_a_gap_keeps_its_row_with_the_lines_and_no_special_cause(gap):
    chart = xmr([8, 12, gap, 8, 12])

    assert math.isnan(chart["value"].iloc[2])
    assert chart.loc[2, "mean"] == 10
    assert chart.loc[2, ["rule", "special_cause", "variation"]].tolist() == [None, None, None]


def test_the_moving_range_never_bridges_a_gap():
    chart = xmr([8, 12, None, 30, 34])

    mr = chart["mr"].tolist()
    assert mr[1] == mr[4] == 4
    assert all(math.isnan(mr[i]) for i in (0, 2, 3))
    assert line(chart, "mr_mean") == 4  # not (4 + 18 + 4) / 3


def test_the_rules_read_the_points_either_side_of_a_gap_as_neighbours():
    shift = xmr([12, 8] * 5 + [11, 11, 11, None, 11, 11, 11, 11])
    two_in_three = xmr([1, -1] * 7 + [6, None, 1, 6])

    assert shift["rule"].tolist()[10:] == ["shift"] * 3 + [None] + ["shift"] * 4
    assert two_in_three["rule"].tolist()[14:] == ["two_in_three", None, None, "two_in_three"]


def test_an_unknown_better_is_refused():
    with pytest.raises(ValueError, match="up, down or neutral"):
        xmr([1, 2, 3], better="higher")


# --- rebasing and a fixed baseline ------------------------------------------------------------


def test_rebasing_starts_a_new_group_with_its_own_lines():
    values = [8, 12] * 6 + [28, 32] * 6

    chart = xmr(values, rebase_at=[12])

    assert chart["group"].tolist() == [0] * 12 + [1] * 12
    assert chart["mean"].tolist() == [10] * 12 + [30] * 12
    assert math.isnan(chart.loc[12, "mr"])  # no moving range across the rebase
    assert chart.attrs["variation"] == "common_cause"
    # Without the rebase, the new level is a shift.
    assert xmr(values).attrs["variation"] == "improvement_high"


def test_each_rebased_group_is_charted_as_if_on_its_own():
    first, second = CASES["trend_rising"][0], CASES["outside_low"][0]

    chart = xmr(first + second, rebase_at=[len(first)], better="down")

    pd.testing.assert_frame_equal(
        chart.iloc[len(first) :].drop(columns="group").reset_index(drop=True),
        xmr(second, better="down").drop(columns="group"),
        check_flags=False,
    )


def test_rebasing_at_the_start_changes_nothing():
    values = CASES["shift_low"][0]

    pd.testing.assert_frame_equal(xmr(values, rebase_at=[0]), xmr(values))


@pytest.mark.parametrize("position", [-1, 5])
def test_a_rebase_position_outside_the_series_is_refused(position):
    with pytest.raises(ValueError, match="outside"):
        xmr([1, 2, 3, 4, 5], rebase_at=[position])


def test_a_fixed_baseline_sets_the_limits_from_the_first_n_points():
    baseline = [8, 12] * 6
    chart = xmr(baseline + [30, 31, 29], fix_after_n_points=12)

    for name in ("mean", "mr_mean", "lpl", "upl"):
        assert line(chart, name) == line(xmr(baseline), name)
    assert chart["rule"].tolist()[12:] == ["outside_limits"] * 3


def test_points_after_a_fixed_baseline_do_not_move_the_limits():
    baseline = [8, 12] * 6

    calm = xmr(baseline + [10, 11], fix_after_n_points=12)
    wild = xmr(baseline + [100, -50], fix_after_n_points=12)

    assert line(calm, "upl") == line(wild, "upl")


def test_a_fixed_baseline_counts_positions_including_gaps():
    values = [8, 12, None, 12] + [8, 12] * 4 + [50, 50]

    fixed = xmr(values, fix_after_n_points=12)

    assert line(fixed, "mean") == line(xmr(values[:12]), "mean")


def test_a_fixed_baseline_applies_within_each_rebased_group():
    group = [8, 12] * 6 + [30]

    chart = xmr(group + group, rebase_at=[13], fix_after_n_points=12)

    assert chart["mean"].tolist() == [10] * 26


def test_a_baseline_shorter_than_12_points_is_refused_as_in_the_reference():
    with pytest.raises(ValueError, match="at least 12"):
        xmr([8, 12] * 6, fix_after_n_points=11)


def test_a_pandas_series_keeps_its_index():
    periods = pd.period_range("2026-01", periods=4, freq="M")

    chart = xmr(pd.Series([8, 12, 8, 12], index=periods))

    assert chart.index.equals(periods)


# --- analyse: many measures at once -----------------------------------------------------------


def random_history(seed: int, n_measures: int) -> pd.DataFrame:
    """Series of many shapes (noise, ties, drifts, steps, outliers) with gaps and rebases."""
    rng = np.random.default_rng(seed)
    frames = []
    for number in range(n_measures):
        n = int(rng.integers(0, 40))
        kind = number % 5
        if kind == 0:
            values = rng.normal(50, 5, n).round(1)
        elif kind == 1:
            values = rng.integers(0, 4, n).astype(float)  # ties, flat runs, points on the mean
        elif kind == 2:
            values = np.cumsum(rng.normal(0.4, 1, n))  # drifting: trends and shifts
        elif kind == 3:
            values = rng.normal(0, 1, n) + np.where(np.arange(n) > n // 2, 3, 0)  # a step
        else:
            values = rng.normal(10, 1, n) + np.where(rng.random(n) < 0.1, 8, 0)  # outliers
        values[rng.random(n) < 0.15] = np.nan
        centre = np.nanmean(values) if np.isfinite(values).any() else 0.0
        frames.append(
            pd.DataFrame(
                {
                    "measure_id": f"M{number:03}",
                    "period": [f"2020-{i:03}" for i in range(n)],
                    "value": values,
                    "better": rng.choice(["up", "down", "neutral"]),
                    "target": rng.normal(centre, 3) if rng.random() < 0.7 else np.nan,
                    "rebase": rng.random(n) < 0.05,
                }
            )
        )
    return pd.concat(frames, ignore_index=True)


def xmr_of(measure: pd.DataFrame, **options) -> pd.DataFrame:
    """The measure's rows of a history charted one at a time with ``xmr``."""
    return xmr(
        measure["value"].tolist(),
        better=measure["better"].iloc[-1],
        target=measure["target"].iloc[-1],
        rebase_at=np.flatnonzero(measure["rebase"].to_numpy()).tolist(),
        **options,
    )


def assert_analyse_matches_xmr(history: pd.DataFrame, **options) -> pd.DataFrame:
    charts = analyse(history.sample(frac=1, random_state=0), **options)
    ordered = history.sort_values(["measure_id", "period"], ignore_index=True)
    expected = {
        measure_id: xmr_of(rows, **options)
        for measure_id, rows in ordered.groupby("measure_id", sort=False)
    }
    if not expected:
        assert charts.empty
        return charts

    pd.testing.assert_frame_equal(
        charts[list(COLUMNS)],
        pd.concat(expected.values(), ignore_index=True),
        check_exact=True,
        check_flags=False,
    )
    summary = charts.attrs["summary"]
    assert summary.index.tolist() == list(expected)
    for name in ("variation", "assurance"):
        assert summary[name].tolist() == [chart.attrs[name] for chart in expected.values()]
    return charts


@pytest.mark.parametrize("fix_after_n_points", [None, 12])
@pytest.mark.parametrize("screen_outliers", [True, False])
def test_analyse_gives_the_same_charts_as_xmr_on_many_random_series(
    fix_after_n_points, screen_outliers
):
    history = random_history(seed=7, n_measures=400)

    charts = assert_analyse_matches_xmr(
        history, fix_after_n_points=fix_after_n_points, screen_outliers=screen_outliers
    )

    # The comparison only means something if every rule and every variation came up.
    assert set(charts["rule"].dropna()) == set(RULES)
    assert set(charts["variation"].dropna()) == set(VARIATIONS)
    assert charts["value"].isna().any() and (charts["group"] > 0).any()


@settings(max_examples=60, deadline=None)
@given(
    st.lists(
        st.tuples(
            st.lists(st.one_of(st.none(), st.integers(-3, 3)), max_size=25),
            st.sampled_from(["up", "down", "neutral"]),
            st.one_of(st.none(), st.integers(-4, 4)),
            st.sets(st.integers(0, 24), max_size=2),
        ),
        min_size=1,
        max_size=6,
    ),
    st.booleans(),
)
def test_analyse_agrees_with_xmr_on_small_integer_series(measures, screen_outliers):
    frames = []
    for number, (values, better, target, rebases) in enumerate(measures):
        frames.append(
            pd.DataFrame(
                {
                    "measure_id": f"M{number}",
                    "period": range(len(values)),
                    "value": pd.Series(values, dtype=object),
                    "better": better,
                    "target": np.nan if target is None else float(target),
                    "rebase": [i in rebases for i in range(len(values))],
                }
            )
        )
    history = pd.concat(frames, ignore_index=True)
    history["value"] = pd.to_numeric(history["value"])

    assert_analyse_matches_xmr(history, screen_outliers=screen_outliers)


def test_analyse_matches_the_reference_snapshot_for_two_facets():
    history = pd.DataFrame(
        {
            "measure_id": ["a"] * 10 + ["b"] * 10,
            "period": list(range(10)) * 2,
            "value": R_RNORM_20,
            "better": "up",
        }
    )

    summary = analyse(history).attrs["summary"]

    assert summary["mean"].tolist() == pytest.approx([0.0746, 0.209], abs=1e-3)
    assert summary["lpl"].tolist() == pytest.approx([-2.60, -3.28], abs=1e-2)
    assert summary["upl"].tolist() == pytest.approx([2.75, 3.70], abs=1e-2)
    assert summary["variation"].tolist() == ["common_cause", "common_cause"]


def test_analyse_sorts_by_measure_and_period_and_keeps_other_columns():
    history = pd.DataFrame(
        {
            "measure_id": ["B", "A", "B", "A"],
            "period": ["2026-02", "2026-02", "2026-01", "2026-01"],
            "value": [4, 2, 3, 1],
            "better": "up",
            "commentary": ["b2", "a2", "b1", "a1"],
        }
    )

    charts = analyse(history)

    assert charts["commentary"].tolist() == ["a1", "a2", "b1", "b2"]
    assert charts["value"].tolist() == [1, 2, 3, 4]
    assert list(charts.index) == [0, 1, 2, 3]
    assert list(charts.columns[-len(COLUMNS) + 1 :]) == list(COLUMNS[1:])


def test_analyse_summarises_each_measure():
    history = pd.DataFrame(
        {
            "measure_id": ["A"] * 13 + ["B"] * 3,
            "period": list(range(13)) + [0, 1, 2],
            "value": CASES["outside_high"][0] + [5, None, None],
            "better": ["down"] * 13 + ["up"] * 3,
            "target": [25.0] * 13 + [np.nan] * 3,
        }
    )

    summary = analyse(history).attrs["summary"]

    assert summary.index.name == "measure_id"
    assert summary.loc["A"].to_dict() == {
        "variation": "concern_high",
        "assurance": "consistent_pass",  # lower is better and the limits stay below 25
        "latest_period": 12,
        "latest_value": 30.0,
        "mean": pytest.approx(150 / 13),
        "lpl": pytest.approx(150 / 13 - 2.66 * 4),
        "upl": pytest.approx(150 / 13 + 2.66 * 4),
        "points": 13,
        "trial_limits": False,
        "group_start": 0,
    }
    assert summary.loc["B", "variation"] == "common_cause"
    assert summary.loc["B", "latest_period"] == 0
    assert summary.loc["B", "assurance"] is None


def test_analyse_reports_no_variation_for_a_measure_with_no_values():
    history = pd.DataFrame(
        {"measure_id": ["A", "A"], "period": [1, 2], "value": [None, None], "better": "up"}
    )

    charts = analyse(history)

    assert charts.attrs["summary"].loc["A", "variation"] is None
    assert charts["variation"].tolist() == [None, None]


def test_analyse_takes_better_and_target_from_the_measures_latest_row():
    history = pd.DataFrame(
        {
            "measure_id": ["A"] * 13,
            "period": range(13),
            "value": CASES["outside_high"][0],
            "better": ["up"] * 12 + ["down"],
            "target": [np.nan] * 12 + [-5],
        }
    )

    charts = analyse(history)

    assert charts["special_cause"].iloc[-1] == "concern"
    assert charts.attrs["summary"].loc["A", "assurance"] == "consistent_fail"


def test_analyse_of_an_empty_history_is_empty():
    history = pd.DataFrame(columns=["measure_id", "period", "value", "better", "target"])

    charts = analyse(history)

    assert charts.empty and charts.attrs["summary"].empty


def test_analyse_refuses_two_values_for_one_period():
    history = pd.DataFrame(
        {"measure_id": ["A", "A"], "period": ["2026-01"] * 2, "value": [1, 2], "better": "up"}
    )

    with pytest.raises(ValueError, match="measure A has more than one value for 2026-01"):
        analyse(history)


def test_analyse_refuses_a_history_without_the_needed_columns():
    with pytest.raises(ValueError, match="better"):
        analyse(pd.DataFrame({"measure_id": ["A"], "period": [1], "value": [1.0]}))


@pytest.mark.parametrize("better", ["higher", None])
def test_analyse_refuses_an_unknown_better_and_names_the_measure(better):
    history = pd.DataFrame(
        {"measure_id": ["A", "B"], "period": [1, 1], "value": [1, 2], "better": ["up", better]}
    )

    with pytest.raises(ValueError, match="measure B: better must be up, down or neutral"):
        analyse(history)


def test_analyse_refuses_a_baseline_shorter_than_12_points():
    history = pd.DataFrame({"measure_id": ["A"], "period": [1], "value": [1], "better": "up"})

    with pytest.raises(ValueError, match="at least 12"):
        analyse(history, fix_after_n_points=3)


# --- documentation ----------------------------------------------------------------------------


@pytest.mark.parametrize("module", [spc, spc_engine])
def test_the_docstring_examples_run(module):
    result = doctest.testmod(module)

    assert result.attempted > 0
    assert result.failed == 0


# --- rule sets: ptd (the default) and mdc2023 -----------------------------------------------
# A fixed baseline of 9, 11, 9, 11, ... has mean 10 and every moving range 2, so by hand:
# limits 10 -/+ 2.66 x 2 = 4.68 and 15.32; two sigma 10 -/+ 2 x (2.66 / 3) x 2 = 6.453 and
# 13.547. The points after it are judged against those lines.
MDC_BASELINE = [9.0, 11.0] * 6


@pytest.mark.parametrize(
    ("tail", "ptd", "mdc2023"),
    [
        # 14 is beyond two sigma, 16 beyond the limits, 11 above the mean: three on one side
        # with two beyond two sigma once the point outside the limits counts.
        ([14, 16, 11], [None, "outside_limits", None], ["two_in_three", "outside_limits", None]),
        # The same below the mean.
        ([6, 4, 9.5], [None, "outside_limits", None], ["two_in_three", "outside_limits", None]),
        # The point outside is on the other side of the mean: no window of three on one side.
        ([14, 4, 11], [None, "outside_limits", None], [None, "outside_limits", None]),
        # Two beyond two sigma within the limits: both rule sets flag them alike.
        ([14, 14.5, 11], ["two_in_three", "two_in_three", None], ["two_in_three"] * 2 + [None]),
    ],
)
def test_mdc2023_counts_a_point_beyond_the_limits_towards_two_in_three(tail, ptd, mdc2023):
    for rules, expected in (("ptd", ptd), ("mdc2023", mdc2023)):
        chart = xmr(MDC_BASELINE + tail, better="up", fix_after_n_points=12, rules=rules)
        assert chart["upl"].iloc[0] == pytest.approx(15.32)
        assert chart["sigma_2_upper"].iloc[0] == pytest.approx(10 + 2 * 2.66 / 3 * 2)
        assert chart["rule"].tolist()[12:] == expected, rules
        assert chart["rule"].tolist()[:12] == [None] * 12


def test_analyse_and_xmr_agree_under_mdc2023():
    values = MDC_BASELINE + [14, 16, 11, 6, 4, 9.5]
    history = pd.DataFrame(
        {"measure_id": "A", "period": range(len(values)), "value": values, "better": "down"}
    )
    charts = analyse(history, rules="mdc2023")
    one = xmr(values, better="down", rules="mdc2023")
    assert charts["rule"].tolist() == one["rule"].tolist()
    assert charts["variation"].tolist() == one["variation"].tolist()


def test_an_unknown_rule_set_is_refused_by_name():
    with pytest.raises(ValueError, match="ptd, mdc2023"):
        xmr([1, 2, 3], rules="nhs")


def test_a_group_of_fewer_than_12_values_has_trial_limits_from_its_rebase():
    history = pd.DataFrame(
        {
            "measure_id": ["A"] * 20,
            "period": [f"2025-{m:02}" for m in range(1, 13)]
            + [f"2026-{m:02}" for m in range(1, 9)],
            "value": [70.0 + (m % 3) for m in range(12)] + [50.0 + (m % 2) for m in range(8)],
            "better": "down",
            "rebase": [False] * 12 + [True] + [False] * 7,
        }
    )
    summary = analyse(history).attrs["summary"].loc["A"]
    assert summary["points"] == 8
    assert bool(summary["trial_limits"])
    assert summary["group_start"] == "2026-01"
    assert summary["mean"] == pytest.approx(50.5)


# Runs up, down and on one side, gaps and jumps, so that every rule fires at the last point.
STRETCH = st.one_of(
    st.lists(st.sampled_from([90.0, 95.0, 99.5, 100.0, 100.5, 105.0, 140.0]), max_size=4),
    st.builds(lambda n, step: [100.0 + step * k for k in range(n)],
              st.integers(2, 9), st.sampled_from([-3.0, -0.5, 0.5, 3.0])),  # fmt: skip
    st.builds(lambda n, v: [v] * n, st.integers(2, 9), st.sampled_from([96.0, 104.0])),
    st.just([None]),
)
SERIES = st.lists(STRETCH, max_size=8).map(lambda parts: [v for part in parts for v in part])


@settings(max_examples=300, deadline=None)
@given(
    SERIES,
    st.sampled_from(["up", "down", "neutral"]),
    st.one_of(st.none(), st.sampled_from([95.0, 100.0, 130.0])),
    st.lists(st.integers(min_value=0, max_value=39), max_size=3),
    st.sampled_from(spc.RULE_SETS),
)
def test_the_latest_point_reads_as_the_whole_chart_does(values, better, target, rebase, rules):
    rebase_at = sorted({r for r in rebase if r < len(values)})
    columns, variation, assurance = spc.xmr_columns(
        values, better, target, rebase_at=rebase_at, rules=rules
    )
    start = rebase_at[-1] if rebase_at else 0
    points = sum(1 for v in columns["value"][start:] if not math.isnan(v))
    cause = columns["special_cause"][-1] if values else None
    latest = spc.latest_point(values, better, target, rebase_at=rebase_at, rules=rules)
    assert latest == (cause, variation, assurance, points)


# Points around lines at 100 +- 10 (two sigma at 100 +- 6.67): on the mean, between the sigma
# lines, beyond two sigma, on and beyond the limits, in runs and repeats.
NEAR_LINES = st.lists(
    st.sampled_from([88.0, 90.0, 92.0, 95.0, 97.0, 99.0, 100.0, 101.0, 103.0, 105.0,
                     108.0, 110.0, 112.0]),  # fmt: skip
    min_size=1,
    max_size=12,
)


@settings(max_examples=500, deadline=None)
@given(NEAR_LINES, st.sampled_from(spc.RULE_SETS), st.booleans())
def test_the_last_point_alone_gets_the_cause_the_whole_chart_gives_it(points, rules, runs):
    if runs:  # a rise, a fall or a run on one side ending at the last point
        points = points[:-1] + [points[-1] + step for step in (0.5, 1.0, 1.5, 2.0, 2.5, 3.0)]
    lines = spc._lines(100.0, 10.0 / spc.LIMIT_FACTOR)
    assert spc._last_cause(points, lines, rules) == spc._special_causes(points, lines, rules)[-1]


def r_mean(values: list[float]) -> float:
    """The mean as the chart took it before: R's, summed in order with its residual."""
    present = [v for v in values if not math.isnan(v)]
    if not present:
        return math.nan
    mean = functools.reduce(operator.add, present, 0.0) / len(present)
    residual = functools.reduce(operator.add, (v - mean for v in present), 0.0)
    return mean + residual / len(present)


@settings(max_examples=300, deadline=None)
@given(st.lists(st.one_of(st.floats(-1e6, 1e6), st.just(math.nan), st.sampled_from([0.1, 0.7]))))
def test_the_limits_come_from_the_same_mean_and_moving_range_to_the_last_bit(values):
    ranges = [abs(b - a) for a, b in zip(values, values[1:], strict=False)]
    mr_mean = r_mean(ranges)
    if mr_mean > 0:
        mr_mean = r_mean([r for r in ranges if r < spc.MR_OUTLIER_FACTOR * mr_mean])
    mean = r_mean(values)
    got = spc._mean_and_mr(values, screen_outliers=True)
    assert [repr(v) for v in got] == [repr(mean), repr(mr_mean)]
