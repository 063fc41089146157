"""Importing past figures: validated against the register, all or nothing."""

from __future__ import annotations

import pytest

from bot.measures import ImportRejected
from bot.settings import PROJECT_ROOT


def write(tmp_path, text: str):
    path = tmp_path / "history.csv"
    path.write_text("measure_id,period,value,reason,commentary\n" + text, encoding="utf-8")
    return path


def test_good_history_is_stored_and_a_second_import_adds_nothing(tmp_path, loaded, clock):
    path = write(tmp_path, "OD-01,2026-08,52,,\nOD-01,2026-09,,Outage,\nRSK-01,2026-Q3,3,,\n")
    assert loaded.service.import_history(path, clock()) == (3, 3)
    assert loaded.service.import_history(path, clock()) == (3, 0)
    frame = loaded.store.history_frame()
    gap = frame[(frame.measure_id == "OD-01") & (frame.period == "2026-09")].iloc[0]
    assert gap.status == "not_available" and gap.reason == "Outage"


def test_a_bad_history_file_imports_nothing_and_names_each_row(tmp_path, loaded, clock):
    path = write(
        tmp_path,
        "OD-01,2026-08,52,,\n"
        "RSK-01,2026-09,3,,\n"  # quarterly measure with a monthly period
        "OD-02,2026-08,140,,\n"  # impossible percentage
        "XX-01,2026-08,1,,\n"  # not in the register
        "OD-01,2026-13,1,,\n"  # no such month
        "OD-01,2026-08,53,,\n"  # twice
        "OD-02,2026-07,,,\n"  # a gap without a reason
        "OD-02,2027-01,50,,\n",  # the future
    )
    with pytest.raises(ImportRejected) as caught:
        loaded.service.import_history(path, clock())
    problems = {p.row: str(p) for p in caught.value.problems}
    assert "quarterly" in problems[3] and "2026-Q3" in problems[3]
    assert "above 100%" in problems[4]
    assert "'XX-01' is not in the register" in problems[5]
    assert problems[6].startswith("row 6, period:")
    assert "appears twice (also row 2)" in problems[7]
    assert "needs a reason" in problems[8]
    assert "has not ended yet" in problems[9]
    assert loaded.store.submission_count() == 0


def test_the_sample_history_imports_whole(bot, clock):
    bot.service.import_register(PROJECT_ROOT / "data" / "measures.yaml", clock())
    rows, new = bot.service.import_history(PROJECT_ROOT / "data" / "history.csv", clock())
    assert rows == new > 1000
    frame = bot.store.history_frame()
    assert frame.groupby("measure_id").size().min() >= 12
    assert frame["value"].isna().sum() > 0, "the sample has gaps to show as placeholders"


def test_a_row_with_an_unquoted_comma_is_refused_naming_the_row(tmp_path, loaded, clock):
    path = write(tmp_path, 'OD-01,2026-08,52,,\nOD-01,2026-09,1,5,,\nOD-01,2026-07,"1,5",,\n')
    with pytest.raises(ImportRejected) as caught:
        loaded.service.import_history(path, clock())
    [problem] = caught.value.problems
    assert str(problem).startswith("row 3: 6 fields but the header has 5; put quotes round")
    assert loaded.store.submission_count() == 0


def test_a_row_with_too_few_fields_is_refused(tmp_path, loaded, clock):
    path = write(tmp_path, "OD-01,2026-08\n")
    with pytest.raises(ImportRejected, match="nothing imported") as caught:
        loaded.service.import_history(path, clock())
    assert "2 fields but the header has 5" in str(caught.value.problems[0])


def test_a_huge_field_is_refused_with_its_row(tmp_path, loaded, clock):
    path = write(tmp_path, "OD-01,2026-08,52,," + "x" * 200_000 + "\n")
    with pytest.raises(ImportRejected) as caught:
        loaded.service.import_history(path, clock())
    assert str(caught.value.problems[0]).startswith("row 2: field larger than field limit")


def test_a_folder_is_refused_as_a_folder(tmp_path, loaded, clock):
    with pytest.raises(ImportRejected) as caught:
        loaded.service.import_history(tmp_path, clock())
    assert "is a folder; give the file inside it" in str(caught.value.problems[0])
def test_a_quarterly_figure_may_be_given_by_financial_year_quarter(tmp_path, loaded, clock):
    path = write(tmp_path, "RSK-01,2026/27-Q1,3,,\nRSK-01,2025/26-Q4,4,,\n")
    assert loaded.service.import_history(path, clock()) == (2, 2)
    frame = loaded.store.history_frame()
    assert sorted(frame["period"]) == ["2026-Q1", "2026-Q2"], "Q4 2025/26 is January to March"


def test_a_year_is_not_a_period_a_figure_is_for(tmp_path, loaded, clock):
    with pytest.raises(ImportRejected) as caught:
        loaded.service.import_history(write(tmp_path, "OD-01,2025/26,52,,\n"), clock())
    assert "'2025/26' is a year; a figure is for a month" in str(caught.value.problems[0])
