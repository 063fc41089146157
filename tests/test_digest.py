"""The digest as a leader reads it: exceptions first, improvements, gaps, counts that add up."""

from __future__ import annotations

import math
from datetime import date, datetime

import pandas as pd
import pytest

from bot.digest import SERIES_COLUMNS, SERIES_POINTS, build_digest, exception_reasons
from bot.digest_model import EXCEPTION_REASONS, Digest
from bot.measures import Measure
from bot.periods import LONDON, parse_period
from bot.service import period_label
from bot.settings import PROJECT_ROOT

CYCLE = parse_period("2026-10")
AS_OF = datetime(2026, 11, 10, 9, 0, tzinfo=LONDON)
DUE = date(2026, 11, 6)
# Small ups and downs with no pattern: a process in common-cause variation (limits about ±4).
NOISE = [0, 2, -1, 1, 0, 2, -2, 1, 0, -1, 1, 0]


def measure(
    measure_id: str,
    *,
    area: str = "Operational delivery",
    unit: str = "%",
    better: str = "up",
    target: float = 90,
    amber: str = "",
    red: str = "5",
    frequency: str = "monthly",
    owner: str = "olive@agency.example",
) -> Measure:
    return Measure(
        id=measure_id,
        name=f"Measure {measure_id}",
        area=area,
        unit=unit,
        better=better,
        target=target,
        owner_email=owner,
        description="What it covers",
        amber_tolerance=amber,
        red_tolerance=red,
        frequency=frequency,
    )


def months_before(period: str, count: int) -> list[str]:
    """The ``count`` periods (months or quarters) just before ``period``, oldest first."""
    start = parse_period(period)
    return [str(start.shift(-k)) for k in range(count, 0, -1)]


def steady(m: Measure, level: float, *, before: str = "2026-10", count: int = 24) -> pd.DataFrame:
    """A history of common-cause variation around ``level`` up to just before ``before``."""
    periods = months_before(before, count)
    values = [float(level + NOISE[i % len(NOISE)]) for i in range(count)]
    return pd.DataFrame({"measure_id": m.id, "period": periods, "value": values})


def row(
    m: Measure,
    value: float | None,
    status: str,
    *,
    period: str = "2026-10",
    revisions: int | None = None,
    commentary: str = "",
    reason: str = "",
) -> dict:
    """A status row as ``Service.status(cycle, now).measures`` gives it."""
    submitted = status not in ("missing", "outstanding")
    return {
        "id": m.id,
        "name": m.name,
        "area": m.area,
        "period": period,
        "unit": m.unit,
        "better": m.better,
        "target": m.target,
        "owner_email": m.owner_email,
        "deputy_email": m.deputy_email,
        "value": value,
        "display_value": ("n/a" if value is None else f"{value:g}") if submitted else "",
        "status": status,
        "reason": reason,
        "revisions": (1 if submitted else 0) if revisions is None else revisions,
        "submitted_by": m.owner_email if submitted else None,
        "submitted_at": "2026-11-04T10:15:00+00:00" if submitted else None,
        "channel": "email" if submitted else None,
        "commentary": commentary,
        "due": DUE.isoformat(),
    }


def digest_of(
    measures: list[Measure],
    rows: list[dict],
    histories: list[pd.DataFrame],
    *,
    cycle: str = "2026-10",
    owner_names: dict[str, str] | None = None,
) -> Digest:
    """The digest, with each row's current figure in the history too, as the store has it."""
    submitted = [r for r in rows if r["revisions"]]
    current = pd.DataFrame(
        {
            "measure_id": [r["id"] for r in submitted],
            "period": [r["period"] for r in submitted],
            "value": [r["value"] for r in submitted],
        }
    )
    history = pd.concat([*histories, current], ignore_index=True)
    return build_digest(
        cycle=parse_period(cycle),
        measures=measures,
        status_rows=rows,
        history=history,
        owner_names=owner_names or {},
        as_of=AS_OF,
        due=DUE,
        cycle_label=period_label(parse_period(cycle)),
    )


def view(digest: Digest, measure_id: str):
    return next(m for m in digest.measures if m.id == measure_id)


# --- exceptions --------------------------------------------------------------------------------


def test_a_red_figure_is_an_exception_shown_with_its_commentary():
    within_ten_days = measure("OD-02", target=90, red="5")
    digest = digest_of(
        [within_ten_days],
        [row(within_ten_days, 80.0, "red", commentary="IT outage on 14 October")],
        [steady(within_ten_days, 88)],
    )

    [exception] = digest.exceptions
    assert exception.id == "OD-02"
    assert exception.exception_reasons[0] == "red"
    assert exception.commentary == "IT outage on 14 October"
    assert exception.value == 80.0
    assert exception.target_display == "90%"


def test_a_missing_figure_is_the_only_reason_given_even_when_the_chart_shows_concern():
    # Lower is better, the last months ran high (a concern), and the target sits below the
    # whole process (consistently failing). None of that is repeated: the figure is missing.
    backlog = measure("OD-03", unit="count", better="down", target=300, red="10%")
    history = steady(backlog, 500)
    history.loc[history.index[-7:], "value"] = [540.0, 545, 550, 548, 552, 560, 600]

    digest = digest_of([backlog], [row(backlog, None, "missing")], [history])

    missing = view(digest, "OD-03")
    assert missing.variation.startswith("concern")
    assert missing.assurance == "consistent_fail"
    assert missing.exception_reasons == ("missing",)
    assert missing.special_cause is None  # no point this period


def test_a_process_that_cannot_meet_its_target_is_consistently_failing():
    # Amber every month, never red, but the target lies beyond what the process can deliver.
    satisfaction = measure("CX-01", area="Client experience", target=90, red="30")
    digest = digest_of(
        [satisfaction], [row(satisfaction, 70.0, "amber")], [steady(satisfaction, 70)]
    )

    failing = view(digest, "CX-01")
    assert failing.assurance == "consistent_fail"
    assert failing.exception_reasons == ("consistently_failing",)
    assert digest.exceptions == [failing]


def test_a_green_figure_can_still_be_a_special_cause_concern():
    # Lower is better; 30 is well inside the target of 40 but far above the usual 20.
    complaints = measure("CX-02", area="Client experience", unit="count", better="down",
                         target=40, red="50%")  # fmt: skip
    digest = digest_of([complaints], [row(complaints, 30.0, "green")], [steady(complaints, 20)])

    concern = view(digest, "CX-02")
    assert concern.special_cause == "concern"
    assert concern.exception_reasons == ("special_cause_concern",)


def test_exceptions_come_red_then_missing_then_concern_then_failing():
    # Ids and areas in the opposite order, so only the reasons can put them in this order.
    failing = measure("AA-01", area="A area", target=90, red="30")
    concern = measure("AB-01", area="B area", unit="count", better="down", target=40,
                      red="50%")  # fmt: skip
    missing = measure("AC-01", area="C area")
    red = measure("AD-01", area="D area", target=90, red="5")
    fine = measure("AE-01", area="E area", target=50)
    digest = digest_of(
        [failing, concern, missing, red, fine],
        [
            row(failing, 70.0, "amber"),
            row(concern, 30.0, "green"),
            row(missing, None, "missing"),
            row(red, 80.0, "red", commentary="explained"),
            row(fine, 60.0, "green"),
        ],
        [
            steady(failing, 70),
            steady(concern, 20),
            steady(missing, 88),
            steady(red, 88),
            steady(fine, 60),
        ],  # fmt: skip
    )

    assert [m.id for m in digest.exceptions] == ["AD-01", "AC-01", "AB-01", "AA-01"]
    assert [m.exception_reasons[0] for m in digest.exceptions] == list(EXCEPTION_REASONS)


def test_exception_reasons_follow_the_house_order_and_missing_mutes_the_rest():
    assert exception_reasons("red", "concern", "concern_low", "consistent_fail") == (
        "red",
        "special_cause_concern",
        "consistently_failing",
    )
    assert exception_reasons("missing", None, "concern_low", "consistent_fail") == ("missing",)
    assert exception_reasons("green", "improvement", "improvement_high", "consistent_pass") == ()
    assert exception_reasons("amber", None, "concern_high", None) == ("special_cause_concern",)


# --- improvements, gaps, revisions -------------------------------------------------------------


def test_a_special_cause_improvement_is_listed_as_worth_learning_from():
    within_ten_days = measure("OD-02", target=40)
    digest = digest_of(
        [within_ten_days], [row(within_ten_days, 80.0, "green")], [steady(within_ten_days, 50)]
    )

    assert [m.id for m in digest.improvements] == ["OD-02"]
    assert digest.exceptions == []
    assert digest.areas[0].spc["improvement"] == 1


def test_gaps_are_listed_and_stay_gaps_in_the_chart():
    reported_gap = measure("FIN-01", area="Finance", unit="£", target=1_000_000)
    not_sent = measure("FIN-02", area="Finance", unit="count", better="down", target=10)
    digest = digest_of(
        [reported_gap, not_sent],
        [
            row(reported_gap, None, "not_available", reason="ledger closed late"),
            row(not_sent, None, "missing"),
        ],
        [steady(reported_gap, 900_000), steady(not_sent, 8)],
    )

    assert [m.id for m in digest.gaps] == ["FIN-01", "FIN-02"]
    gap = view(digest, "FIN-01")
    assert (gap.value, gap.display_value, gap.reason) == (None, "n/a", "ledger closed late")
    assert gap.change is None
    assert gap.series["period"].iloc[-1] == "2026-10"
    assert math.isnan(gap.series["value"].iloc[-1])  # a placeholder, never 0
    assert gap.year_on_year[0].value is not None and gap.year_on_year[0].change is None
    assert view(digest, "FIN-02").display_value == ""


def test_a_corrected_figure_is_flagged_as_revised():
    corrected = measure("OD-01")
    once = measure("OD-02")
    digest = digest_of(
        [corrected, once],
        [row(corrected, 91.0, "green", revisions=2), row(once, 92.0, "green", revisions=1)],
        [steady(corrected, 91), steady(once, 92)],
    )

    assert view(digest, "OD-01").revised
    assert not view(digest, "OD-02").revised


def test_previous_value_change_and_year_on_year_are_filled_in():
    backlog = measure("OD-03", unit="count", better="down", target=600, red="10%")
    history = steady(backlog, 500)  # 2024-10 to 2026-09
    history.loc[history["period"] == "2026-09", "value"] = 520.0
    history.loc[history["period"] == "2025-10", "value"] = 400.0

    digest = digest_of([backlog], [row(backlog, 550.0, "green")], [history])

    backlog_view = view(digest, "OD-03")
    assert (backlog_view.previous_value, backlog_view.change) == (520.0, 30.0)
    one, two, three = backlog_view.year_on_year
    assert (one.period, one.value, one.change, one.pct_change) == ("2025-10", 400.0, 150.0, 37.5)
    assert (two.period, two.value) == ("2024-10", 500.0)
    assert (three.period, three.value, three.change) == ("2023-10", None, None)


def test_a_measure_heading_for_red_is_a_projected_breach():
    # A score falling 2 a month against a target of 90: amber from 2 short, red beyond 5.
    falling = measure("QA-01", unit="score", target=90, amber="2", red="5")

    def falling_to(current: float) -> Digest:
        history = pd.DataFrame(
            {
                "measure_id": "QA-01",
                "period": months_before("2026-10", 6),
                "value": [current + 2 * k for k in range(6, 0, -1)],
            }  # fmt: skip
        )
        return digest_of([falling], [row(falling, current, "green")], [history])

    projection = view(falling_to(91.0), "QA-01").projection
    assert projection.periods == ("2026-11", "2026-12", "2027-01")
    assert projection.values == (89.0, 87.0, 85.0)
    assert projection.breach_period is None  # 85 is exactly 5 short: still amber
    assert falling_to(91.0).projected_breaches == []

    heading_for_red = falling_to(90.0)
    assert view(heading_for_red, "QA-01").projection.breach_period == "2027-01"  # 84 is red
    assert [m.id for m in heading_for_red.projected_breaches] == ["QA-01"]


# --- counts, order and who is outstanding ------------------------------------------------------


def test_area_counts_add_up():
    ops = [
        measure("OD-01", target=90, red="5"),
        measure("OD-02", target=90, red="5"),
        measure("OD-03", target=90, red="5"),
        measure("OD-04", target=90, red="5"),
    ]
    risk = [
        measure("RK-01", area="Risk", unit="count", better="down", target=5, red="2"),
        measure("RK-02", area="Risk", unit="count", better="down", target=5, red="2"),
    ]
    rows = [
        row(ops[0], 91.0, "green"),
        row(ops[1], 80.0, "red", commentary="sickness"),
        row(ops[2], None, "missing"),
        row(ops[3], None, "not_available", reason="system change"),
        row(risk[0], 4.0, "green"),
        row(risk[1], None, "outstanding"),
    ]
    histories = [steady(m, 90) for m in ops] + [steady(m, 4) for m in risk]

    digest = digest_of(ops + risk, rows, histories)

    assert [a.area for a in digest.areas] == ["Operational delivery", "Risk"]
    for area in digest.areas:
        assert set(area.rag) == {"green", "amber", "red", "monitored", "missing",
                                 "not_available", "outstanding"}  # fmt: skip
        assert sum(area.rag.values()) == area.measures
        assert set(area.spc) == {"improvement", "concern", "neutral", "common_cause"}
    operations, risks = digest.areas
    assert operations.rag == {"green": 1, "amber": 0, "red": 1, "monitored": 0, "missing": 1,
                              "not_available": 1, "outstanding": 0}  # fmt: skip
    assert (operations.measures, operations.submitted, operations.exceptions) == (4, 3, 2)
    assert sum(operations.spc.values()) == 2  # only the two with a figure this month
    assert (risks.measures, risks.submitted, risks.exceptions) == (2, 1, 0)
    assert sum(a.measures for a in digest.areas) == digest.due_count == 6
    assert sum(a.submitted for a in digest.areas) == digest.submitted == 4
    assert sum(a.exceptions for a in digest.areas) == len(digest.exceptions)


def test_measures_come_by_area_then_id_and_outstanding_is_by_owner():
    late = measure("RK-02", area="Risk", owner="rita@agency.example")
    on_time = measure("RK-01", area="Risk", owner="rita@agency.example")
    missing = measure("CX-01", area="Client experience", owner="carl@agency.example")
    outstanding = measure("OD-01", owner="olive@agency.example")
    digest = digest_of(
        [late, on_time, missing, outstanding],
        [
            row(late, None, "outstanding"),
            row(outstanding, None, "outstanding"),
            row(missing, None, "missing"),
            row(on_time, 91.0, "green"),
        ],
        [],
        owner_names={"rita@agency.example": "Rita Risk"},
    )

    assert [m.id for m in digest.measures] == ["CX-01", "OD-01", "RK-01", "RK-02"]
    assert digest.outstanding == {
        "carl@agency.example": ["CX-01"],
        "olive@agency.example": ["OD-01"],
        "rita@agency.example": ["RK-02"],
    }
    assert view(digest, "RK-02").owner_name == "Rita Risk"
    assert view(digest, "OD-01").owner_name == "olive@agency.example"  # no name known


def test_a_new_measure_with_no_history_is_shown_without_a_chart_reading():
    new = measure("OD-07")

    digest = digest_of([new], [row(new, None, "outstanding")], [])

    fresh = view(digest, "OD-07")
    assert (fresh.variation, fresh.assurance, fresh.special_cause) == (None, None, None)
    assert (fresh.previous_value, fresh.projection, fresh.exception_reasons) == (None, None, ())
    assert fresh.series["period"].tolist() == ["2026-10"]


def test_a_cycle_with_no_measures_gives_an_empty_digest():
    digest = digest_of([measure("OD-01")], [], [])

    assert (digest.measures, digest.areas, digest.outstanding) == ((), (), {})
    assert digest.exceptions == [] and digest.due_count == 0


def test_a_status_row_for_a_measure_not_in_the_register_is_refused():
    known = measure("OD-01")
    with pytest.raises(ValueError, match="XX-01"):
        digest_of([known], [row(known, 90.0, "green"), row(measure("XX-01"), 1.0, "green")], [])


# --- charts and periods ------------------------------------------------------------------------


def test_the_chart_carries_the_last_two_years_with_its_lines():
    within_ten_days = measure("OD-02")
    history = steady(within_ten_days, 91, count=59)

    digest = digest_of([within_ten_days], [row(within_ten_days, 92.0, "green")], [history])

    series = view(digest, "OD-02").series
    assert series.columns.tolist() == SERIES_COLUMNS
    assert len(series) == SERIES_POINTS
    assert series["period"].iloc[0] == "2024-11"
    assert series["period"].iloc[-1] == "2026-10"
    assert series["value"].iloc[-1] == 92.0
    assert (series["lpl"] < series["mean"]).all() and (series["mean"] < series["upl"]).all()
    assert series["special_cause"].isna().all()


def test_the_chart_ends_on_the_figure_in_the_status_row():
    # The history was read before the figure arrived; the pack still shows the figure.
    within_ten_days = measure("OD-02", target=40)
    digest = build_digest(
        cycle=CYCLE,
        measures=[within_ten_days],
        status_rows=[row(within_ten_days, 80.0, "green")],
        history=steady(within_ten_days, 50),
        owner_names={},
        as_of=AS_OF,
        due=DUE,
        cycle_label="October 2026",
    )

    improved = view(digest, "OD-02")
    assert improved.series["value"].iloc[-1] == 80.0
    assert improved.special_cause == "improvement"


def test_a_quarterly_measure_keeps_its_quarterly_history():
    risks = measure("RSK-01", area="Risk", unit="count", better="down", target=2, red="1",
                    frequency="quarterly")  # fmt: skip
    monthly = measure("OD-01")
    quarters = months_before("2026-Q3", 12)
    history = pd.DataFrame(
        {"measure_id": "RSK-01", "period": quarters, "value": [3.0, 2, 3, 2] * 3}
    )
    stray = pd.DataFrame({"measure_id": ["RSK-01"], "period": ["2026-08"], "value": [99.0]})

    digest = digest_of(
        [risks, monthly],
        [
            row(monthly, 90.0, "green", period="2026-09"),
            row(risks, 2.0, "green", period="2026-Q3"),
        ],  # fmt: skip
        [history, stray, steady(monthly, 90, before="2026-09")],
        cycle="2026-09",
    )

    quarterly = view(digest, "RSK-01")
    assert quarterly.period == "2026-Q3"
    assert quarterly.series["period"].tolist() == [*quarters, "2026-Q3"]
    assert quarterly.previous_value == 2.0  # 2026-Q2
    assert [y.period for y in quarterly.year_on_year] == ["2025-Q3", "2024-Q3", "2023-Q3"]
    assert quarterly.projection.periods == ("2026-Q4", "2027-Q1", "2027-Q2")
    assert view(digest, "OD-01").series["period"].iloc[-1] == "2026-09"


def test_a_digest_for_an_earlier_cycle_ignores_the_months_after_it():
    within_ten_days = measure("OD-02", target=40)
    history = steady(within_ten_days, 50, before="2026-11")  # up to 2026-10
    history.loc[history["period"] == "2026-10", "value"] = 99.0  # a later improvement

    digest = digest_of(
        [within_ten_days],
        [row(within_ten_days, 51.0, "green", period="2026-09")],
        [history[history["period"] != "2026-09"]],
        cycle="2026-09",
    )

    september = view(digest, "OD-02")
    assert september.series["period"].iloc[-1] == "2026-09"
    assert 99.0 not in september.series["value"].tolist()
    assert september.special_cause is None
    assert september.projection.periods[0] == "2026-10"


def test_the_digest_records_its_cycle_and_timing():
    m = measure("OD-01")
    digest = digest_of([m], [row(m, 91.0, "green")], [steady(m, 90)])

    assert (digest.cycle, digest.cycle_label) == ("2026-10", "October 2026")
    assert (digest.as_of, digest.due) == (AS_OF, DUE)


# --- the sample data ---------------------------------------------------------------------------


def test_the_sample_month_builds_a_digest_with_exceptions_and_improvements(bot, clock):
    bot.service.import_register(PROJECT_ROOT / "data" / "measures.yaml", clock())
    bot.service.import_history(PROJECT_ROOT / "data" / "history.csv", clock())
    cycle = parse_period("2026-09")
    now = clock()

    digest = build_digest(
        cycle=cycle,
        measures=bot.service.measures(),
        status_rows=bot.service.status(cycle, now).measures,
        history=bot.store.history_frame(),
        owner_names={p.email: p.name for p in bot.store.people() if p.name},
        as_of=now,
        due=bot.service.calendar.cycle_dates(cycle).due,
        cycle_label=period_label(cycle),
    )

    assert digest.due_count == len(bot.service.status(cycle, now).measures)
    assert digest.exceptions and digest.improvements
    assert {m.period for m in digest.measures} == {"2026-09", "2026-Q3"}
    assert all(m.series["period"].iloc[-1] == m.period for m in digest.measures)
    assert all(len(m.year_on_year) == 3 for m in digest.measures)
    assert sum(a.measures for a in digest.areas) == digest.due_count
    red = [m for m in digest.measures if m.status == "red"]
    assert red and all(m.is_exception and m.commentary for m in red)
