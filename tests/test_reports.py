"""Reports on the sample data: quarters, financial-year quarters, scorecards, the public pack."""

from __future__ import annotations

import re

import pandas as pd
import pytest
import yaml

from bot.cli import main
from bot.settings import PROJECT_ROOT

NOW = "2026-11-20T10:00"


@pytest.fixture(scope="module")
def sample_db(tmp_path_factory):
    db = str(tmp_path_factory.mktemp("sample") / "pmbot.db")
    for args in (
        ["measures", "import", str(PROJECT_ROOT / "data" / "measures.yaml")],
        ["history", "import", str(PROJECT_ROOT / "data" / "history.csv")],
    ):
        assert main(["--db", db, "--now", NOW, *args]) == 0
    return db


def digest(db, out, *args) -> int:
    return main(["--db", db, "--now", NOW, "digest", *args, "--out", str(out)])


def table(out, stem: str) -> pd.DataFrame:
    return pd.read_csv(out / f"performance-{stem}-measures.csv", encoding="utf-8-sig")


@pytest.mark.parametrize(("period", "stem"), [("2026-Q3", "2026-Q3"), ("2026/27-Q2", "2026-27-Q2")])
def test_a_quarters_digest_covers_every_sample_measure_monthly_ones_rolled_up(
    sample_db, tmp_path, capsys, period, stem
):
    assert digest(sample_db, tmp_path, period) == 0
    assert "July to September 2026" in capsys.readouterr().out
    rows = table(tmp_path, stem).set_index("measure_id")
    assert len(rows) == 32
    assert (rows.loc[rows["frequency"] == "monthly", "aggregate"].notna()).all()
    # REP-02 counts complaints: the quarter is the sum of July, August and September.
    assert rows.loc["REP-02", "aggregate"] == "sum" and rows.loc["REP-02", "target"] == 3 * 650
    # BT-03 has no target: it is rolled up and monitored.
    assert rows.loc["BT-03", "aggregate"] == "sum" and rows.loc["BT-03", "status"] == "monitored"
    # OD-02 is a month-end backlog: the quarter takes September's figure.
    assert rows.loc["OD-02", "aggregate"] == "last"
    html = (tmp_path / f"performance-pack-{stem}.html").read_text()
    assert "July to September 2026" in html


def test_an_area_scorecard_holds_only_that_areas_measures(sample_db, tmp_path):
    assert digest(sample_db, tmp_path, "2026-09", "--area", "Risk") == 0
    rows = table(tmp_path, "2026-09-risk")
    assert set(rows["area"]) == {"Risk"} and len(rows) >= 1
    eml = (tmp_path / "digest-2026-09-risk.eml").read_text()
    assert "To: eilidh.grant@agency.example" in eml


def test_an_unknown_area_is_one_line_naming_the_areas(sample_db, tmp_path, capsys):
    assert digest(sample_db, tmp_path, "2026-09", "--area", "Riskk") == 1
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "'Riskk' is not an outcome area; the areas are" in err


@pytest.mark.parametrize("period", ["2026-10", "2026-09", "2026-Q3"])
def test_the_public_pack_has_no_address_and_only_commentary_marked_public(
    sample_db, tmp_path, period
):
    assert digest(sample_db, tmp_path, period, "--public") == 0
    written = sorted(tmp_path.iterdir())
    assert written and not any(p.suffix == ".eml" or p.name.endswith("slack.json") for p in written)
    history = pd.read_csv(PROJECT_ROOT / "data" / "history.csv", dtype=str, keep_default_na=False)
    people = yaml.safe_load((PROJECT_ROOT / "data" / "measures.yaml").read_text())["people"]
    names = [p["name"] for p in people]
    internal = [c for c in history["commentary"] if c and not c.startswith("public:")]
    for path in written:
        text = path.read_text(encoding="utf-8-sig", errors="ignore")
        if path.suffix == ".xlsx":
            continue
        assert not re.search(r"[\w.+-]+@[\w-]+\.[\w.]+", text), path.name
        assert not [c for c in internal if c in text], path.name
        assert not [n for n in names if n in text], path.name
        assert "RSK-01" not in text, "a measure marked public: false is left out"
    html = next(p for p in written if p.suffix == ".html").read_text()
    assert "Open Government Licence" in html and "Accessibility" in html


def test_the_public_pack_shows_commentary_the_owner_marked_public(sample_db, tmp_path):
    assert digest(sample_db, tmp_path, "2026-09", "--public") == 0
    html = (tmp_path / "performance-pack-2026-09-public.html").read_text()
    assert "Sixth month running below target since the new case managers started" in html


def test_a_period_that_cannot_be_read_names_every_form(sample_db, tmp_path, capsys):
    assert digest(sample_db, tmp_path, "2026/28") == 1
    assert "write 2026/27" in capsys.readouterr().err


SCORECARD_REGISTER = """
measures:
  - {id: OD-01, name: Processing time, area: Operational delivery, unit: days, better: down,
     target: 50, red_tolerance: 5, owner_email: owner@agency.example}
  - {id: RSK-01, name: Risks outside appetite, area: Risk, unit: count, better: down,
     target: 2, red_tolerance: 1, owner_email: risk@agency.example}
areas:
  - {name: Operational delivery, lead_email: ops.lead@agency.example}
  - {name: Risk, lead_email: risk.lead@agency.example}
people:
  - {email: boss@agency.example, name: Bea Boss, roles: [leadership]}
"""


def outbox(bot) -> list:
    from email import message_from_bytes

    folder = bot.settings.maildir / "outbox" / "new"
    return [message_from_bytes(p.read_bytes()) for p in sorted(folder.iterdir())]


def scorecards_on_digest_day(bot, clock, tmp_path, ticks: int = 1) -> dict:
    """The digest day's digest and scorecard emails, by recipient, after `ticks` ticks."""
    from bot.periods import parse_period

    register = tmp_path / "register.yaml"
    register.write_text(SCORECARD_REGISTER)
    bot.service.import_register(register, clock())
    digest_day = bot.service.calendar.cycle_dates(parse_period("2026-10")).digest
    clock.now = clock.now.replace(year=digest_day.year, month=digest_day.month,
                                  day=digest_day.day, hour=10)  # fmt: skip
    for _ in range(ticks):
        bot.tick()
    return {m["To"]: m for m in outbox(bot) if m["X-PMBot"] in ("digest", "scorecard")}


def test_an_area_leads_scorecard_is_worded_by_the_configured_templates(settings, clock, tmp_path):
    from dataclasses import replace

    from bot.app import create_app
    from tests.conftest import templates_with

    custom = templates_with(
        tmp_path, {"digest/pack.html": ("<html", "<!-- Leaders' brief --><html")}
    )
    configured = replace(settings, area_scorecards=True, templates_dir=custom)
    bot = create_app(configured, clock=clock)
    try:
        scorecard = scorecards_on_digest_day(bot, clock, tmp_path)["risk.lead@agency.example"]
        packs = [part.get_payload(decode=True).decode() for part in scorecard.walk()
                 if part.get_filename() and part.get_filename().endswith(".html")]  # fmt: skip
        assert packs and all("<!-- Leaders' brief -->" in pack for pack in packs)
    finally:
        bot.close()


@pytest.mark.parametrize("turned_on", [True, False])
def test_on_digest_day_each_area_lead_gets_their_own_scorecard_when_turned_on(
    settings, clock, tmp_path, turned_on
):
    from dataclasses import replace

    from bot.app import create_app

    bot = create_app(replace(settings, area_scorecards=turned_on), clock=clock)
    # Two ticks: once per area and cycle, however often the clock ticks.
    sent = scorecards_on_digest_day(bot, clock, tmp_path, ticks=2)
    if not turned_on:
        assert set(sent) == {"boss@agency.example"}
        return
    assert set(sent) == {
        "boss@agency.example",
        "ops.lead@agency.example",
        "risk.lead@agency.example",
    }
    assert len(outbox(bot)) == len({m["Message-ID"] for m in outbox(bot)})
    scorecard = sent["ops.lead@agency.example"]
    text = "".join(
        part.get_payload(decode=True).decode()
        for part in scorecard.walk()
        if part.get_content_type() == "text/plain"
    )
    assert "OD-01" in text and "RSK-01" not in text
    assert scorecard["Subject"].startswith("Operational delivery scorecard")
    bot.close()
