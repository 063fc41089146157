"""The annual report: a year's figures per area, direction of travel, editable assurance."""

from __future__ import annotations

import re
from datetime import UTC, datetime

import pandas as pd
import pytest

from bot.annual import (
    BadAssurance,
    assurance_text,
    build_annual,
    direction,
    for_public,
    read_assurance,
)
from bot.measures import Measure
from bot.render.annual import drafted, render_annual
from bot.spans import parse_span

AS_OF = datetime(2026, 5, 1, tzinfo=UTC)


def measure(measure_id, unit="count", area="Ops", **fields) -> Measure:
    return Measure(measure_id, f"Measure {measure_id}", area, unit, fields.pop("better", "up"),
                   fields.pop("target", 10), "owner@agency.example", **fields)


def months(first: str, count: int) -> list[str]:
    start = pd.Period(first, "M")
    return [str(start + i) for i in range(count)]


def history(measure_id: str, values: list[float | None], first: str = "2024-04",
            commentary: dict[str, tuple[str, int]] | None = None) -> pd.DataFrame:
    periods = months(first, len(values))
    notes = commentary or {}
    return pd.DataFrame({
        "measure_id": measure_id, "period": periods, "value": values,
        "commentary": [notes.get(p, ("", 0))[0] for p in periods],
        "public": [notes.get(p, ("", 0))[1] for p in periods],
    })


def test_the_financial_year_runs_april_to_march_and_sums_by_hand():
    calls = measure("A", target=10)
    # 2024/25: twelve months of 10; 2025/26: April to March of 12 (and a stray April 2026).
    frame = history("A", [10.0] * 12 + [12.0] * 12 + [99.0])
    report = build_annual(parse_span("2025/26"), [calls], frame, AS_OF)
    [view] = report.measures
    assert (view.value, view.last_year, view.target) == (144, 120, 120)
    assert (view.status, view.direction) == ("green", "improved")
    assert view.rag_mix == {"green": 12, "amber": 0, "red": 0, "gap": 0, "monitored": 0}
    assert report.label == "2025/26, April 2025 to March 2026" and report.previous == "2024/25"


def test_a_missing_month_leaves_the_year_a_gap_and_names_the_month():
    calls = measure("A")
    values = [10.0] * 12 + [10.0] * 5 + [None] + [10.0] * 6
    report = build_annual(parse_span("2025/26"), [calls], history("A", values), AS_OF)
    [view] = report.measures
    assert view.value is None and view.status == "gap" and view.missing == ("2025-09",)
    assert view.direction == "none" and view.rag_mix["gap"] == 1


@pytest.mark.parametrize(
    ("now", "before", "better", "unit", "expected"),
    [
        (95.0, 90.0, "up", "%", "improved"),
        (90.9, 90.0, "up", "%", "sustained"),  # under a point
        (88.0, 90.0, "up", "%", "deteriorated"),
        (101.0, 100.0, "down", "count", "sustained"),  # 1% of last year
        (97.0, 100.0, "down", "count", "improved"),
        (52.0, 60.0, "neutral", "count", "improved"),  # closer to the target of 50
        (None, 60.0, "up", "count", "none"),
    ],
)
def test_direction_of_travel_follows_the_documented_rule(now, before, better, unit, expected):
    assert direction(now, before, better, unit, 50) == expected


def test_a_quarterly_measure_makes_its_year_from_four_quarters():
    risks = measure("R", better="down", target=3, frequency="quarterly", aggregate="last")
    frame = pd.DataFrame({"measure_id": "R", "commentary": "", "public": 0,
                          "period": ["2025-Q2", "2025-Q3", "2025-Q4", "2026-Q1", "2026-Q2"],
                          "value": [5.0, 4.0, 3.0, 2.0, 9.0]})
    [view] = build_annual(parse_span("2025/26"), [risks], frame, AS_OF).measures
    assert (view.value, view.status) == (2.0, "green")
    assert view.rag_mix == {"green": 2, "amber": 0, "red": 2, "gap": 0, "monitored": 0}


def test_each_area_gets_an_assurance_paragraph_drafted_from_its_figures():
    report = drafted(build_annual(parse_span("2025/26"), [measure("A", target=10)],
                                  history("A", [10.0] * 12 + [12.0] * 12), AS_OF))
    [area] = report.areas
    assert area.assurance.startswith("In 2025/26, Ops reported on 1 measure.")
    assert "Compared with 2024/25, 1 improved" in area.assurance


def test_an_edited_assurance_file_replaces_the_draft_and_a_stray_heading_is_refused():
    report = drafted(build_annual(parse_span("2025/26"), [measure("A", target=10)],
                                  history("A", [10.0] * 24), AS_OF))
    text = assurance_text(report).replace(report.areas[0].assurance, "Our own words.")
    assert read_assurance(text, report) == {"Ops": "Our own words."}
    html = render_annual(drafted(report))
    assert "In 2025/26, Ops reported on 1 measure." in html
    with pytest.raises(BadAssurance, match="'## Opps' is not an outcome area"):
        read_assurance("## Opps\nwords\n", report)


def test_the_public_annual_report_keeps_only_public_measures_and_public_commentary():
    notes = {"2025-05": ("public: new team in post", 1), "2025-06": ("staff off sick", 0)}
    hidden = measure("B", area="Risk", public=False)
    report = build_annual(parse_span("2025/26"), [measure("A"), hidden],
                          pd.concat([history("A", [10.0] * 24, commentary=notes),
                                     history("B", [1.0] * 24)]), AS_OF)
    public = drafted(for_public(report))
    html = render_annual(public)
    assert "new team in post" in html and "staff off sick" not in html
    assert "Measure B" not in html and not re.search(r"[\w.+-]+@[\w-]+\.\w", html)
    assert "Open Government Licence" in html
