"""Roll-ups: monthly figures made into quarters and years by each measure's rule."""

from __future__ import annotations

import pandas as pd
import pytest

from bot.measures import Measure
from bot.periods import parse_period
from bot.reports import quarter_inputs
from bot.rollup import aggregate_of, quarter_of, roll_up, rolled_measure, year_to_date
from bot.spans import parse_span
from bot.targets import TargetStep


def measure(measure_id: str, unit: str = "count", aggregate: str = "", **fields) -> Measure:
    return Measure(measure_id, f"Measure {measure_id}", "Ops", unit, fields.pop("better", "up"),
                   fields.pop("target", 100), "o@agency.example", aggregate=aggregate, **fields)


def history(*rows: tuple[str, str, float | None], commentary: str = "") -> pd.DataFrame:
    return pd.DataFrame({
        "measure_id": [r[0] for r in rows], "period": [r[1] for r in rows],
        "value": [r[2] for r in rows], "status": "value", "reason": "",
        "commentary": commentary, "public": 0,
    })


Q3 = ("2026-07", "2026-08", "2026-09")


def quarter(measure_id: str, *values: float | None) -> list[tuple[str, str, float | None]]:
    return [(measure_id, p, v) for p, v in zip(Q3, values, strict=True)]


@pytest.mark.parametrize(
    ("rule", "expected"),
    [("sum", 12 + 7 + 20), ("mean", (12 + 7 + 20) / 3), ("last", 20), ("min", 7), ("max", 20)],
)
def test_each_rule_rolls_three_months_into_the_quarter_by_hand(rule, expected):
    m = measure("A", aggregate=rule)
    rolled = roll_up(history(*quarter("A", 12, 7, 20)), {"A": m}, quarter_of)
    assert rolled["period"].tolist() == ["2026-Q3"]
    assert rolled["value"].tolist() == [pytest.approx(expected)]


def test_each_unit_has_a_documented_default_rule():
    assert [aggregate_of(measure("A", unit)) for unit in ("count", "£", "%", "days", "score")] == [
        "sum", "sum", "mean", "mean", "mean"]
    assert aggregate_of(measure("A", "count", "last")) == "last"


def test_a_missing_month_makes_the_quarter_a_gap_never_a_partial_sum():
    m = measure("A")
    rolled = roll_up(history(*quarter("A", 12, None, 20)), {"A": m}, quarter_of)
    assert rolled["value"].isna().all() and rolled["present"].tolist() == [2]
    no_row = roll_up(history(("A", "2026-07", 12.0), ("A", "2026-09", 20.0)), {"A": m}, quarter_of)
    assert no_row["value"].isna().all()


def test_a_snapshot_needs_only_the_quarters_final_month():
    m = measure("A", aggregate="last")
    rolled = roll_up(history(*quarter("A", None, None, 20)), {"A": m}, quarter_of)
    assert rolled["value"].tolist() == [20]
    rolled = roll_up(history(*quarter("A", 5, 6, None)), {"A": m}, quarter_of)
    assert rolled["value"].isna().all()


MONTHS = [parse_period(p) for p in Q3]


def test_a_sum_measures_target_and_absolute_tolerance_grow_with_the_months():
    m = measure("A", target=20, amber_tolerance="2", red_tolerance="10%")
    judged = rolled_measure(m, MONTHS)
    assert (judged.target, judged.amber_tolerance, judged.red_tolerance) == (60, "6", "10%")
    rate = rolled_measure(measure("B", "%", target=90, red_tolerance="5"), MONTHS)
    assert (rate.target, rate.red_tolerance) == (90, "5")


def test_a_rolled_up_target_is_the_target_in_force_for_each_month():
    steps = (TargetStep("2026-04", 10.0), TargetStep("2026-08", 20.0))
    counts = measure("A", target=None, targets=steps)
    assert rolled_measure(counts, MONTHS).target == 10 + 20 + 20
    rate = measure("B", "%", target=None, targets=steps)
    assert rolled_measure(rate, MONTHS).target == 20, "the target in force at the quarter's end"
    monitored = measure("C", target=None)
    assert rolled_measure(monitored, MONTHS).target is None


def test_a_quarters_digest_names_the_missing_month_and_judges_the_rest_on_rolled_up_figures():
    counts, rate = measure("A", target=20, red_tolerance="10%"), measure("B", "%", target=90)
    span = parse_span("2026/27-Q2")
    judged, rows, frame = quarter_inputs(
        span, [counts, rate], history(*quarter("A", 25, 18, 22), *quarter("B", 91, None, 95)))
    by_id = {r["id"]: r for r in rows}
    assert by_id["A"]["value"] == 65 and by_id["A"]["status"] == "green"  # 65 against 60
    assert by_id["B"]["value"] is None and by_id["B"]["status"] == "not_available"
    assert by_id["B"]["missing_months"] == ("2026-08",)
    assert judged[0].target == 60


def test_a_quarterly_measure_reports_its_own_figure_inside_a_financial_year_quarter():
    risks = measure("R", target=3, better="down", frequency="quarterly")
    frame = history(("R", "2026-Q2", 4.0), ("R", "2026-Q3", 2.0), ("R", "2027-Q1", 9.0))
    _, rows, _ = quarter_inputs(parse_span("2026/27-Q2"), [risks], frame)
    assert (rows[0]["period"], rows[0]["value"], rows[0]["status"]) == ("2026-Q3", 2.0, "green")
    _, rows, _ = quarter_inputs(parse_span("2026/27-Q4"), [risks], frame)
    assert (rows[0]["period"], rows[0]["value"]) == ("2027-Q1", 9.0)


def test_a_quarters_commentary_keeps_each_months_words_and_which_were_marked_public():
    m = measure("A")
    frame = history(*quarter("A", 1, 2, 3), commentary="staff off sick")
    frame.loc[2, ["commentary", "public"]] = ["new team in post", 1]
    _, [row], _ = quarter_inputs(parse_span("2026-Q3"), [m], frame)
    assert row["commentary"] == (
        "July 2026: staff off sick; August 2026: staff off sick; September 2026: new team in post")
    assert row["public_commentary"] == "September 2026: new team in post"


def test_year_to_date_restarts_in_april_and_sits_beside_last_years():
    calls = measure("A", target=10)
    frame = history(*[("A", f"{y}-{m:02d}", float(m)) for y in (2025, 2026) for m in range(1, 13)],
                    ("A", "2027-01", 1.0), ("A", "2027-02", 2.0), ("A", "2027-03", 3.0),
                    ("A", "2027-04", 4.0))
    march = year_to_date(frame, [calls], parse_period("2027-03"), 4)["A"]
    assert (march.label, march.months, march.target) == ("April 2026 to March 2027", 12, 120)
    assert march.value == sum(range(4, 13)) + 1 + 2 + 3
    assert march.last_year == sum(range(4, 13)) + 1 + 2 + 3
    april = year_to_date(frame, [calls], parse_period("2027-04"), 4)["A"]
    assert (april.label, april.value, april.target, april.last_year) == ("April 2027", 4, 10, 4)


def test_year_to_date_with_a_missing_month_is_a_gap_naming_it_and_only_sum_measures_have_one():
    calls, rate = measure("A", target=10), measure("B", "%")
    frame = history(("A", "2026-04", 5.0), ("A", "2026-06", 5.0), ("B", "2026-04", 50.0))
    ytd = year_to_date(frame, [calls, rate], parse_period("2026-06"), 4)
    assert list(ytd) == ["A"]
    assert (ytd["A"].value, ytd["A"].status, ytd["A"].missing) == (None, "gap", ("2026-05",))
