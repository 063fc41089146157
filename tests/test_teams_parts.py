"""The Teams pieces a person or an admin meets outside a conversation: the app package, the
schema change that lets a Teams figure be stored, and what the cards do with people's text."""

from __future__ import annotations

import doctest
import importlib
import json
import sqlite3
from dataclasses import replace
from datetime import datetime

import pytest
from PIL import Image

from bot.alerts import Alert, Summary
from bot.events import Prompt, PromptLine
from bot.periods import LONDON
from bot.store import MIGRATIONS, Store, StoredSubmission
from bot.teams.cards import Cards, Words, escape_card
from tests.conftest import DATA
from tests.teams_inbound import card_text, inputs_of

NOW = datetime(2026, 11, 2, 9, tzinfo=LONDON)
APP = DATA / "teams-app"


def test_the_app_package_is_a_valid_manifest_with_its_two_icons():
    manifest = json.loads((APP / "manifest.json").read_text())
    assert manifest["manifestVersion"] == "1.17"
    assert manifest["id"] == manifest["bots"][0]["botId"]  # both replaced by the app id
    assert len(manifest["name"]["short"]) <= 30 and len(manifest["description"]["short"]) <= 80
    assert len(manifest["description"]["full"]) <= 4000
    assert set(manifest["bots"][0]["scopes"]) == {"personal", "team"}
    commands = manifest["bots"][0]["commandLists"][0]["commands"]
    assert len(commands) <= 10 and {"help", "status", "chase"} <= {c["title"] for c in commands}
    assert all(url.startswith("https://") for key, url in manifest["developer"].items()
               if key.endswith("Url"))  # fmt: skip
    with Image.open(APP / manifest["icons"]["color"]) as color:
        assert color.size == (192, 192)
    with Image.open(APP / manifest["icons"]["outline"]) as outline:
        assert outline.size == (32, 32) and outline.mode == "RGBA"
        drawn = {outline.getpixel((x, y)) for x in range(32) for y in range(32)}
        assert {p[:3] for p in drawn if p[3]} == {(255, 255, 255)}  # white on transparent
    assert {p.name for p in APP.iterdir()} == {"manifest.json", "color.png", "outline.png"}


def test_figures_stored_before_teams_survive_and_a_teams_one_is_stored(tmp_path, monkeypatch):
    store = Store(tmp_path / "old.db")
    monkeypatch.setattr("bot.store.MIGRATIONS", MIGRATIONS[:6])  # before Teams (migration 7)
    store.migrate()
    store.db.execute("INSERT INTO measures (id, name, area, unit, better, target, owner_email, "
                     "updated_at) VALUES ('OD-01', 'x', 'a', 'days', 'down', 50, 'o@x', '')")
    old = StoredSubmission("OD-01", "2026-10", 48.0, "", "", "o@x", "slack", "ref-1", NOW)
    # Written as the schema of then had it: the store of now writes columns added since.
    store.db.execute(
        "INSERT INTO submissions (measure_id, period, value, status, reason, commentary, "
        "submitted_by, channel, source_ref, received_at) VALUES "
        "('OD-01', '2026-10', 48.0, 'value', '', '', 'o@x', 'slack', 'ref-1', ?)",
        [NOW.isoformat()],
    )
    monkeypatch.setattr("bot.store.MIGRATIONS", MIGRATIONS)
    store.migrate()
    assert store.add_submission(replace(old, value=47.0, channel="teams", source_ref="ref-2"))
    rows = store.db.execute("SELECT value, channel FROM submissions ORDER BY id").fetchall()
    assert rows == [(48.0, "slack"), (47.0, "teams")]
    with pytest.raises(sqlite3.DatabaseError, match="append-only"):
        store.db.execute("UPDATE submissions SET value = 1")
    with pytest.raises(sqlite3.DatabaseError, match="append-only"):
        store.db.execute("DELETE FROM submissions")
    store.close()


@pytest.fixture
def cards(bot) -> Cards:
    return Cards(Words(bot.templates))


def test_peoples_text_cannot_become_markup_in_a_card(cards):
    typed = "**urgent** [click](https://evil.example) {{DATE(2026-01-01T00:00:00Z)}}"
    alert = Alert("OD-02", "2026-10", ("red",), name="- _Applications_", status="red",
                  display_value="80%", target_display="90%", commentary=typed,
                  owner="Olive Owner")  # fmt: skip
    text = card_text(cards.alert_summary(Summary("2026-10", "October 2026", (alert,), (), NOW)))
    assert r"\*\*urgent\*\* \[click\]\(https://evil.example\) \{\{DATE\(" in text
    assert r"\- \_Applications\_" in text
    assert "**urgent**" not in text and "[click](" not in text


def test_the_prompt_card_labels_show_names_as_typed_and_keep_what_was_entered(cards):
    line = PromptLine("OD-01", "Time (days) *net*", "2026-10", "days", "50 days", "52 days",
                      "2026-09")  # fmt: skip
    prompt = Prompt("o@x.example", "Olive", "2026-10", "October 2026", "Friday 6 November 2026",
                    "PM-2026-10-ABCD", [line])  # fmt: skip
    card = cards.prompt(prompt, typed={"value:OD-01": "4*8"}, errors={"value:OD-01": "no [x]"})
    inputs = inputs_of(card)
    assert inputs["value:OD-01"]["label"] == "OD-01 value for 2026-10"  # plain text: unescaped
    assert inputs["value:OD-01"]["value"] == "4*8"
    assert "Target 50 days · last 52 days (2026-09)" in card_text(card)
    assert r"⚠ no \[x\]" in card_text(card)
    assert r"Time \(days\) \*net\*" in card_text(card)


def test_escaping_leaves_plain_words_and_numbers_alone():
    assert escape_card("48.5 days, 87% and £1.2m") == "48.5 days, 87% and £1.2m"


@pytest.mark.parametrize("module", ["bot.teams.cards", "bot.commands"])
def test_the_docstring_examples_run(module):
    result = doctest.testmod(importlib.import_module(module))
    assert result.attempted > 0 and result.failed == 0
