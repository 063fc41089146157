"""Importing the measure register: every row checked first, all or nothing."""

from __future__ import annotations

from pathlib import Path

import pytest

from bot.measures import ImportRejected, load_register
from bot.settings import PROJECT_ROOT

SAMPLE = PROJECT_ROOT / "data" / "measures.yaml"

CSV_HEADER = (
    "id,name,area,unit,better,target,amber_tolerance,red_tolerance,frequency,"
    "owner_email,deputy_email\n"
)


def write(tmp_path: Path, name: str, text: str) -> Path:
    path = tmp_path / name
    path.write_text(text, encoding="utf-8")
    return path


def test_the_sample_register_is_valid_and_realistic():
    register = load_register(SAMPLE)
    measures = register.measures
    assert 28 <= len(measures) <= 36
    assert len({m.area for m in measures}) == 8
    assert any(m.frequency == "quarterly" for m in measures)
    assert 8 <= len({m.owner_email for m in measures}) <= 12
    roles = [r for p in register.people for r in p.roles]
    assert roles.count("coordinator") == 2 and roles.count("leadership") >= 2
    assert all(m.description and m.limitations and m.source for m in measures)


def test_a_csv_register_imports_like_yaml(tmp_path, bot, clock):
    path = write(
        tmp_path,
        "register.csv",
        CSV_HEADER
        + "OD-01,Backlog,Operational delivery,count,down,500,0,10%,monthly,a@agency.example,\n"
        + "RSK-01,Risks,Risk,count,down,2,,1,quarterly,b@agency.example,c@agency.example\n",
    )
    changes = bot.service.import_register(path, clock())
    assert changes["added"] == ["OD-01", "RSK-01"]
    assert bot.service.measure("RSK-01").deputy_email == "c@agency.example"


def test_a_file_with_bad_rows_imports_nothing_and_lists_every_problem(tmp_path, bot, clock):
    path = write(
        tmp_path,
        "register.csv",
        CSV_HEADER
        + "OD-01,Backlog,Operational delivery,count,down,500,0,10%,monthly,a@agency.example,\n"
        + "OD-01,Backlog again,Operational delivery,count,down,500,0,,monthly,a@agency.example,\n"
        + "OD-02,Speed,Operational delivery,percent,up,90,0,5,monthly,a@agency.example,\n"
        + "OD-03,Accuracy,Operational delivery,%,up,,0,5,monthly,a@agency.example,\n"
        + "OD-04,Volume,Operational delivery,count,up,5,0,5,monthly,not-an-email,\n"
        + "OD-05,Volume,Operational delivery,count,sideways,5,0,5,yearly,a@agency.example,\n",
    )
    with pytest.raises(ImportRejected) as caught:
        bot.service.import_register(path, clock())
    problems = [str(p) for p in caught.value.problems]
    assert "row 2, id: duplicate id OD-01 (also row 1)" in problems
    assert any(p.startswith("row 3, unit: 'percent' is not a known unit") for p in problems)
    assert not any(p.startswith("row 4") for p in problems), "a measure may have no target"
    assert any(p.startswith("row 5, owner_email: 'not-an-email'") for p in problems)
    assert any(p.startswith("row 6, better:") for p in problems)
    assert any(p.startswith("row 6, frequency:") for p in problems)
    assert bot.service.measures() == [], "nothing may be imported from a bad file"


def test_a_yaml_file_without_a_measures_list_is_refused_clearly(tmp_path):
    with pytest.raises(ImportRejected) as caught:
        load_register(write(tmp_path, "r.yaml", "- id: OD-01\n"))
    assert "top-level 'measures:' list" in str(caught.value.problems[0])


def test_reimporting_updates_changed_measures_and_deactivates_dropped_ones(
    tmp_path, loaded, register_file, clock
):
    text = register_file.read_text().replace("target: 50", "target: 45")
    text = text.split("  - id: RSK-01")[0] + "people: []\n"
    changes = loaded.service.import_register(write(tmp_path, "v2.yaml", text), clock())
    assert changes == {"added": [], "updated": ["OD-01"], "deactivated": ["RSK-01"]}
    assert [m.id for m in loaded.service.measures()] == ["OD-01", "OD-02"]
    assert loaded.service.measure("OD-01").target == 45


BILLION_LAUGHS = "a: &a [lol, lol, lol, lol, lol, lol, lol, lol, lol]\n" + "".join(
    f"{b}: &{b} [{', '.join(['*' + a] * 9)}]\n" for a, b in zip("abcdefgh", "bcdefghi", strict=True)
) + "measures: [*i]\n"


def test_a_billion_laughs_register_is_refused_before_it_expands(tmp_path):
    path = tmp_path / "laughs.yaml"
    path.write_text(BILLION_LAUGHS)
    with pytest.raises(ImportRejected) as caught:
        load_register(path)  # before the limit this never finished (1 GB after 60 s)
    assert "aliases (*name) expand to more than 1,000,000 values" in str(
        caught.value.problems[0]
    )


def test_a_deeply_nested_register_is_refused(tmp_path):
    path = tmp_path / "deep.yaml"
    path.write_text("measures: " + "[" * 5000 + "]" * 5000)
    with pytest.raises(ImportRejected) as caught:
        load_register(path)
    assert "nested more than 20 levels deep" in str(caught.value.problems[0])


def test_a_few_aliases_for_shared_defaults_still_work(tmp_path):
    path = tmp_path / "anchors.yaml"
    path.write_text(
        "defaults: &owner {owner_email: a@agency.example, area: Ops, unit: count, better: down}\n"
        "measures:\n"
        "  - {<<: *owner, id: OD-01, name: Backlog, target: 5}\n"
        "  - {<<: *owner, id: OD-02, name: Complaints, target: 3}\n"
    )
    assert [m.id for m in load_register(path).measures] == ["OD-01", "OD-02"]


def test_a_csv_register_row_with_extra_fields_is_refused(tmp_path):
    path = tmp_path / "measures.csv"
    path.write_text("id,name,area,unit,better,target,owner_email\n"
                    "OD-01,Backlog,Ops,count,down,1,5,a@agency.example\n")  # fmt: skip
    with pytest.raises(ImportRejected) as caught:
        load_register(path)
    assert "8 fields but the header has 7" in str(caught.value.problems[0])


def test_a_folder_given_as_the_register_is_refused(tmp_path):
    with pytest.raises(ImportRejected, match="nothing imported") as caught:
        load_register(tmp_path)
    assert "is a folder" in str(caught.value.problems[0])
AREA_REGISTER = """
measures:
  - {id: OD-01, name: Backlog, area: Operational delivery, unit: count, better: down,
     target: 500, owner_email: a@agency.example}
areas:
"""


def test_the_sample_register_names_a_lead_for_every_outcome_area():
    register = load_register(SAMPLE)
    assert {a.name for a in register.areas} == {m.area for m in register.measures}
    assert all(a.lead_email.endswith("@agency.example") for a in register.areas)


def test_areas_are_stored_with_the_register_and_replaced_by_the_next_import(tmp_path, bot, clock):
    path = write(tmp_path, "r.yaml", AREA_REGISTER + (
        "  - {name: Operational delivery, lead_email: Lead@Agency.example,"
        " approver_email: ok@agency.example, description: Deciding  applications}\n"))
    bot.service.import_register(path, clock())
    [area] = bot.store.areas()
    assert (area.name, area.lead_email, area.approver_email, area.description) == (
        "Operational delivery", "lead@agency.example", "ok@agency.example", "Deciding applications")
    bot.service.import_register(write(tmp_path, "r.yaml", AREA_REGISTER), clock())
    assert bot.store.areas() == []


def test_a_bad_area_list_imports_nothing_and_names_every_problem(tmp_path, bot, clock):
    path = write(tmp_path, "r.yaml", AREA_REGISTER + (
        "  - {name: Operational delivery, lead_email: lead@agency.example}\n"
        "  - {name: Operational delivery, lead_email: other@agency.example}\n"
        "  - {name: Operational Delivry, lead_email: lead@agency.example}\n"
        "  - {name: Operational delivery, approver_email: not-an-email, colour: blue}\n"
        "  - just a string\n"))
    with pytest.raises(ImportRejected) as caught:
        bot.service.import_register(path, clock())
    problems = [str(p) for p in caught.value.problems]
    assert "row 2, areas.name: duplicate area 'Operational delivery' (also row 1)" in problems
    assert any(p.startswith("row 3, areas.name: no measure has area") for p in problems)
    assert any(p.startswith("row 4, areas.colour: unknown field") for p in problems)
    assert any(p.startswith("row 4, areas.lead_email: missing") for p in problems)
    assert "row 4, areas.approver_email: 'not-an-email' is not an email address" in problems
    assert "row 5, areas: each entry of 'areas:' must be a mapping of field: value" in problems
    assert bot.service.measures() == [] and bot.store.areas() == []


def test_an_areas_entry_that_is_not_a_list_is_refused(tmp_path):
    with pytest.raises(ImportRejected) as caught:
        load_register(write(tmp_path, "r.yaml", AREA_REGISTER + "  name: Risk\n"))
    assert str(caught.value.problems[0]) == "file, areas: 'areas:' must be a list"


def test_aggregate_and_public_are_read_and_a_wrong_word_is_named(tmp_path):
    rows = ("  - {id: OD-01, name: A, area: Ops, unit: count, better: up, target: 5,"
            " owner_email: a@agency.example, aggregate: LAST, public: false}\n")
    [measure] = load_register(write(tmp_path, "r.yaml", "measures:\n" + rows)).measures
    assert (measure.aggregate, measure.public) == ("last", False)
    bad = rows.replace("LAST", "median").replace("false", "maybe")
    with pytest.raises(ImportRejected) as caught:
        load_register(write(tmp_path, "r.yaml", "measures:\n" + bad))
    assert [str(p) for p in caught.value.problems] == [
        "row 1, aggregate: 'median' is not allowed; use sum, mean, last, min, max",
        "row 1, public: 'maybe' is not allowed; use true, false, yes, no",
    ]
