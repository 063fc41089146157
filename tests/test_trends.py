"""Year-on-year comparisons and projections, as a leader reads them in the pack."""

from __future__ import annotations

import math

import numpy as np
import pandas as pd
import pytest

from bot.measures import Measure
from bot.trends import in_own_frequency, project, values_at, year_on_year


def history(measure_id: str, periods: list[str], values: list[float | None]) -> pd.DataFrame:
    return pd.DataFrame({"measure_id": measure_id, "period": periods, "value": values})


def months(first: str, count: int) -> list[str]:
    """``count`` consecutive months from ``first``: ``months("2026-11", 3)`` is Nov to Jan."""
    year, month = map(int, first.split("-"))
    start = year * 12 + month - 1
    return [f"{i // 12}-{i % 12 + 1:02d}" for i in range(start, start + count)]


def measure(
    measure_id: str = "OD-02",
    *,
    unit: str = "%",
    better: str = "up",
    target: float = 90,
    amber: str = "",
    red: str = "5",
    frequency: str = "monthly",
) -> Measure:
    return Measure(
        id=measure_id,
        name="Applications processed within 10 days",
        area="Operational delivery",
        unit=unit,
        better=better,
        target=target,
        owner_email="owner@agency.example",
        amber_tolerance=amber,
        red_tolerance=red,
        frequency=frequency,
    )


# --- year on year ------------------------------------------------------------------------------


def test_year_on_year_compares_the_same_month_one_two_and_three_years_back():
    rows = history("OD-01", ["2023-10", "2024-10", "2025-10", "2026-09", "2026-10"],
                   [80.0, 64.0, 40.0, 49.0, 50.0])  # fmt: skip

    comparisons = year_on_year(rows, {"OD-01": "2026-10"})["OD-01"]

    assert [(c.years_ago, c.period, c.value) for c in comparisons] == [
        (1, "2025-10", 40.0),
        (2, "2024-10", 64.0),
        (3, "2023-10", 80.0),
    ]
    assert [c.change for c in comparisons] == [10.0, -14.0, -30.0]
    assert [c.pct_change for c in comparisons] == [25.0, -21.875, -37.5]


def test_year_on_year_works_on_quarters():
    rows = history("RSK-01", ["2024-Q3", "2025-Q2", "2025-Q3", "2026-Q3"], [5.0, 9.0, 4.0, 3.0])

    comparisons = year_on_year(rows, {"RSK-01": "2026-Q3"})["RSK-01"]

    assert [(c.period, c.value, c.change) for c in comparisons] == [
        ("2025-Q3", 4.0, -1.0),
        ("2024-Q3", 5.0, -2.0),
        ("2023-Q3", None, None),
    ]


def test_a_gap_a_year_ago_stays_none_and_is_never_read_as_zero():
    rows = history("OD-01", ["2024-10", "2025-10", "2026-10"], [20.0, None, 30.0])

    one, two, three = year_on_year(rows, {"OD-01": "2026-10"})["OD-01"]

    assert (one.value, one.change, one.pct_change) == (None, None, None)
    assert (two.value, two.change, two.pct_change) == (20.0, 10.0, 50.0)
    assert (three.value, three.change, three.pct_change) == (None, None, None)


def test_a_missing_current_figure_keeps_the_earlier_figures_but_no_change():
    rows = history("OD-01", ["2025-10", "2026-10"], [40.0, None])

    one = year_on_year(rows, {"OD-01": "2026-10"})["OD-01"][0]

    assert (one.value, one.change, one.pct_change) == (40.0, None, None)


def test_percentage_change_from_zero_is_not_given_but_the_change_is():
    rows = history("RSK-02", ["2025-10", "2026-10"], [0.0, 3.0])

    one = year_on_year(rows, {"RSK-02": "2026-10"})["RSK-02"][0]

    assert (one.change, one.pct_change) == (3.0, None)


def test_a_change_carries_no_float_noise():
    rows = history("OD-01", ["2025-10", "2026-10"], [45.1, 48.3])

    one = year_on_year(rows, {"OD-01": "2026-10"})["OD-01"][0]

    assert one.change == 3.2


def test_a_measure_with_no_history_gets_three_empty_comparisons():
    comparisons = year_on_year(history("OD-01", [], []), {"CX-01": "2026-10"})["CX-01"]

    assert [c.value for c in comparisons] == [None, None, None]
    assert [c.period for c in comparisons] == ["2025-10", "2024-10", "2023-10"]


def test_values_at_reads_figures_and_gives_none_for_gaps_and_absent_rows():
    rows = history("OD-01", ["2026-09", "2026-10"], [None, 12.0])

    found = values_at(rows, [("OD-01", "2026-09"), ("OD-01", "2026-10"), ("OD-01", "2026-11")])

    assert found == {("OD-01", "2026-09"): None, ("OD-01", "2026-10"): 12.0,
                     ("OD-01", "2026-11"): None}  # fmt: skip


# --- projection --------------------------------------------------------------------------------


def test_a_clean_line_is_continued_exactly():
    rows = history("OD-01", months("2025-10", 12), [float(20 + 2 * i) for i in range(12)])
    days = measure("OD-01", unit="days", better="down", target=100, red="10")

    projection = project(rows, {"OD-01": days})["OD-01"]

    assert projection.periods == ("2026-10", "2026-11", "2026-12")
    assert projection.values == (44.0, 46.0, 48.0)
    assert projection.breach_period is None
    assert "last 12 figures" in projection.method
    assert "Theil–Sen" in projection.method
    assert "not a forecast" in projection.method


def test_one_wild_month_does_not_bend_the_line():
    values = [float(20 + 2 * i) for i in range(12)]
    values[6] = 500.0  # a data-entry slip, or a one-off event
    rows = history("OD-01", months("2025-10", 12), values)
    days = measure("OD-01", unit="days", better="down", target=100, red="10")

    projection = project(rows, {"OD-01": days})["OD-01"]

    assert projection.values == (44.0, 46.0, 48.0)


def test_only_the_last_twelve_figures_are_used():
    # A steep fall long ago, then a steady rise of 1 a month for the last year.
    values = [float(200 - 10 * i) for i in range(12)] + [float(50 + i) for i in range(12)]
    rows = history("OD-01", months("2024-10", 24), values)
    days = measure("OD-01", unit="days", better="down", target=100, red="10")

    projection = project(rows, {"OD-01": days})["OD-01"]

    assert projection.values == (62.0, 63.0, 64.0)


def test_time_between_figures_counts_even_across_a_gap():
    # Rising 1 a month; the gap months have no row at all, and one has a blank value.
    periods = ["2026-01", "2026-02", "2026-03", "2026-06", "2026-07", "2026-08", "2026-09"]
    values = [1.0, 2.0, 3.0, 6.0, None, 8.0, 9.0]
    counts = measure("OD-05", unit="count", better="down", target=100, red="10")

    projection = project(history("OD-05", periods, values), {"OD-05": counts})["OD-05"]

    assert projection.values == (10.0, 11.0, 12.0)
    assert "last 6 figures" in projection.method


def test_a_percentage_is_never_projected_above_100():
    rows = history("OD-02", months("2026-01", 9), [80.0 + 2 * i for i in range(9)])  # to 96

    projection = project(rows, {"OD-02": measure("OD-02")})["OD-02"]

    assert projection.values == (98.0, 100.0, 100.0)


def test_a_count_is_never_projected_below_zero():
    rows = history("RSK-02", months("2026-01", 9), [16.0, 14, 12, 10, 8, 6, 4, 2, 1])
    counts = measure("RSK-02", unit="count", better="down", target=5, red="2")

    projection = project(rows, {"RSK-02": counts})["RSK-02"]

    assert projection.values == (0.0, 0.0, 0.0)
    assert all(math.copysign(1, v) == 1 for v in projection.values)  # no -0.0 in the pack


def test_a_pound_figure_may_be_projected_below_zero():
    rows = history("FIN-01", months("2026-01", 9), [800.0 - 100 * i for i in range(9)])
    pounds = measure("FIN-01", unit="£", better="up", target=0, red="1000")

    projection = project(rows, {"FIN-01": pounds})["FIN-01"]

    assert projection.values == (-100.0, -200.0, -300.0)


def test_a_decline_heading_past_the_red_tolerance_names_the_period_of_breach():
    # Amber now: 87 against a target of 90 (red beyond 5 short), falling 1.5 a month.
    rows = history("OD-02", months("2026-01", 9), [99 - 1.5 * i for i in range(9)])
    within_ten_days = measure("OD-02", target=90, amber="2", red="5")

    projection = project(rows, {"OD-02": within_ten_days})["OD-02"]

    assert projection.periods == ("2026-10", "2026-11", "2026-12")
    assert projection.values == (85.5, 84.0, 82.5)
    assert projection.breach_period == "2026-11"  # 85.5 is still amber, 84 is red


def test_the_breach_is_the_first_projected_period_that_would_be_red():
    rows = history("OD-02", months("2026-01", 9), [98.0 - 2 * i for i in range(9)])  # to 82
    within_ten_days = measure("OD-02", target=80, amber="2", red="5")

    projection = project(rows, {"OD-02": within_ten_days})["OD-02"]

    # 80, 78, 76: amber up to 75, so nothing red yet.
    assert projection.values == (80.0, 78.0, 76.0)
    assert projection.breach_period is None

    stricter = measure("OD-02", target=80, amber="2", red="3")
    projection = project(rows, {"OD-02": stricter})["OD-02"]
    assert projection.breach_period == "2026-12"  # 78 is 2 short: green; 76 is 4: red


def test_a_rising_backlog_breaches_a_lower_is_better_target():
    rows = history("OD-03", months("2026-01", 9), [400.0 + 10 * i for i in range(9)])  # to 480
    backlog = measure("OD-03", unit="count", better="down", target=450, amber="5%", red="10%")

    projection = project(rows, {"OD-03": backlog})["OD-03"]

    assert projection.values == (490.0, 500.0, 510.0)
    assert projection.breach_period == "2026-11"  # 490 is 40 over: amber; 500 is 50: red


def test_too_few_figures_give_no_projection():
    rows = history("OD-01", months("2026-01", 6), [1.0, 2.0, None, 4.0, 5.0, 6.0])
    days = measure("OD-01", unit="days", better="down", target=10)

    assert project(rows, {"OD-01": days}) == {"OD-01": None}


def test_six_figures_are_enough():
    rows = history("OD-01", months("2026-04", 6), [1.0, 2.0, 3.0, 4.0, 5.0, 6.0])
    days = measure("OD-01", unit="days", better="down", target=10)

    assert project(rows, {"OD-01": days})["OD-01"].values == (7.0, 8.0, 9.0)


def test_a_measure_with_no_history_gets_no_projection():
    days = measure("OD-01", unit="days", better="down", target=10)

    assert project(history("OD-09", [], []), {"OD-01": days}) == {"OD-01": None}


def test_figures_after_the_current_period_are_not_used():
    # A digest for an earlier cycle must not see the months that came after it.
    values = [float(i) for i in range(1, 10)] + [100.0, 200.0]
    rows = history("OD-01", months("2026-01", 11), values)
    days = measure("OD-01", unit="days", better="down", target=50)

    projection = project(rows, {"OD-01": days}, {"OD-01": "2026-09"})["OD-01"]

    assert projection.periods == ("2026-10", "2026-11", "2026-12")
    assert projection.values == (10.0, 11.0, 12.0)


def test_the_projection_starts_after_the_current_period_even_when_its_figure_is_missing():
    rows = history("OD-01", months("2026-01", 8), [float(i) for i in range(1, 9)])
    days = measure("OD-01", unit="days", better="down", target=50)

    projection = project(rows, {"OD-01": days}, {"OD-01": "2026-09"})["OD-01"]

    assert projection.periods == ("2026-10", "2026-11", "2026-12")
    assert projection.values == (10.0, 11.0, 12.0)


def test_a_quarterly_measure_is_projected_by_quarter_from_its_own_figures():
    quarters = ["2024-Q4", "2025-Q1", "2025-Q2", "2025-Q3", "2025-Q4", "2026-Q1", "2026-Q2"]
    rows = pd.concat(
        [
            history("RSK-01", quarters, [10.0, 9, 8, 7, 6, 5, 4]),
            history("RSK-01", ["2026-09"], [99.0]),  # a stray monthly row is ignored
        ]
    )
    risks = measure("RSK-01", unit="count", better="down", target=2, red="1",
                    frequency="quarterly")  # fmt: skip

    projection = project(rows, {"RSK-01": risks})["RSK-01"]

    assert projection.periods == ("2026-Q3", "2026-Q4", "2027-Q1")
    assert projection.values == (3.0, 2.0, 1.0)
    assert projection.breach_period is None


def test_many_measures_are_projected_each_on_its_own_line():
    rng = np.random.default_rng(1)
    slopes = rng.normal(0, 2, 300).round(1)
    frames = [
        history(f"M-{n:03d}", months("2025-10", 12), [500 + s * i for i in range(12)])
        for n, s in enumerate(slopes)
    ]
    register = {
        f"M-{n:03d}": measure(f"M-{n:03d}", unit="score", better="up", target=0, red="1")
        for n in range(len(slopes))
    }

    projections = project(pd.concat(frames), register)

    for n, slope in enumerate(slopes):
        expected = [500 + slope * i for i in (12, 13, 14)]
        assert projections[f"M-{n:03d}"].values == pytest.approx(expected)


def test_rows_of_the_other_frequency_are_recognised():
    quarterly = measure("RSK-01", frequency="quarterly")
    monthly = measure("OD-01")
    rows = pd.DataFrame(
        {
            "measure_id": ["RSK-01", "RSK-01", "OD-01", "OD-01", "XX-01"],
            "period": ["2026-Q3", "2026-09", "2026-09", "2026-Q3", "2026-09"],
        }
    )

    kept = in_own_frequency(rows, {"RSK-01": quarterly, "OD-01": monthly})

    assert kept.tolist() == [True, False, True, False, True]
