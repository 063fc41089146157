"""The store: a real SQLite file in WAL mode, versioned schema, append-only submissions."""

from __future__ import annotations

import sqlite3
import threading
from datetime import datetime

import pytest

from bot.periods import LONDON
from bot.store import MIGRATIONS, SchemaTooNew, Store, StoredSubmission

NOW = datetime(2026, 11, 2, 9, tzinfo=LONDON)


def submission(ref: str, measure: str = "OD-01", period: str = "2026-10", value=48.0):
    return StoredSubmission(measure, period, value, "", "", "owner@agency.example", "cli", ref, NOW)


@pytest.fixture
def store(tmp_path, loaded) -> Store:
    return loaded.store


def test_init_creates_a_wal_database_at_the_current_schema_version(tmp_path):
    store = Store(tmp_path / "pmbot.db")  # the folder must exist: it is never created
    assert store.migrate() == len(MIGRATIONS)
    assert store.schema_version() == len(MIGRATIONS)
    assert store.db.execute("PRAGMA journal_mode").fetchone()[0] == "wal"
    assert store.migrate() == 0, "running init again must change nothing"
    store.close()


def test_a_new_migration_is_applied_at_start_and_keeps_existing_rows(store, monkeypatch):
    store.add_submission(submission("a"))
    later = "ALTER TABLE people ADD COLUMN team TEXT NOT NULL DEFAULT '';"
    monkeypatch.setattr("bot.store.MIGRATIONS", (*MIGRATIONS, later))
    assert store.migrate() == 1
    assert store.schema_version() == len(MIGRATIONS) + 1
    assert "team" in store.db["people"].columns_dict
    assert store.submission_count() == 1


def test_slack_ids_kept_in_the_people_table_survive_the_move_to_chat_ids(tmp_path, monkeypatch):
    store = Store(tmp_path / "old.db")
    monkeypatch.setattr("bot.store.MIGRATIONS", MIGRATIONS[:5])
    store.migrate()
    store.db.execute(
        "INSERT INTO people (email, slack_user_id) VALUES ('a@x.example', 'U1'), "
        "('b@x.example', ''), ('c@x.example', NULL)"
    )
    monkeypatch.setattr("bot.store.MIGRATIONS", MIGRATIONS)
    store.migrate()
    assert store.chat_id("slack", "A@x.example") == "U1"
    assert store.chat_id("slack", "b@x.example") == "", "known not to be in Slack"
    assert store.chat_id("slack", "c@x.example") is None, "never asked"
    assert store.email_for_chat_id("slack", "U1") == "a@x.example"
    assert "slack_user_id" not in store.db["people"].columns_dict
    store.close()


def test_judging_reads_a_measures_figures_from_the_index_alone_after_upgrade(tmp_path, monkeypatch):
    # Migration 13: a reply's judging reads each measure's (period, value) pairs; from the
    # index alone it costs half as much (the by-measure index carries the value).
    store = Store(tmp_path / "old.db")
    monkeypatch.setattr("bot.store.MIGRATIONS", MIGRATIONS[:12])
    store.migrate()
    store.db.execute("PRAGMA foreign_keys=OFF")  # no register needed to read figures back
    store.add_submissions([submission("a", value=40.0), submission("b", value=41.0),
                           submission("c", period="2026-09", value=39.0)])  # fmt: skip
    before = store.figures_of(["OD-01"])["OD-01"]
    monkeypatch.setattr("bot.store.MIGRATIONS", MIGRATIONS)
    assert store.migrate() == len(MIGRATIONS) - 12
    after = store.figures_of(["OD-01"])["OD-01"]
    assert after.values == before.values == [("2026-09", 39.0), ("2026-10", 41.0)]
    assert after.revisions == before.revisions == {"2026-09": 1, "2026-10": 2}
    plan = store.db.execute(
        "EXPLAIN QUERY PLAN SELECT period, value FROM submissions WHERE measure_id = ? "
        "ORDER BY period, id", ["OD-01"]
    ).fetchall()
    assert "COVERING INDEX submissions_by_measure" in plan[0][3]
    store.close()


def test_one_person_has_an_id_per_chat_transport(store):
    store.save_chat_id("slack", "a@x.example", "U1")
    store.save_chat_id("teams", "a@x.example", "29:abc")
    assert store.chat_id("slack", "a@x.example") == "U1"
    assert store.email_for_chat_id("teams", "29:abc") == "a@x.example"
    assert store.email_for_chat_id("teams", "U1") is None


def test_a_database_from_a_newer_pmbot_is_refused_clearly(store):
    store.db.execute(f"PRAGMA user_version = {len(MIGRATIONS) + 1}")
    with pytest.raises(SchemaTooNew, match="newer version of pmbot"):
        store.migrate()


def test_submissions_cannot_be_updated_or_deleted(store):
    store.add_submission(submission("a"))
    with pytest.raises(sqlite3.DatabaseError, match="append-only"):
        store.db.conn.execute("UPDATE submissions SET value = 1")
    with pytest.raises(sqlite3.DatabaseError, match="append-only"):
        store.db.conn.execute("DELETE FROM submissions")
    assert store.submission_count() == 1


def test_the_same_source_reference_is_stored_once(store):
    assert store.add_submission(submission("msg-1#1")) is True
    assert store.add_submission(submission("msg-1#1", value=99.0)) is False
    assert store.submission_count() == 1


def test_a_correction_is_a_new_row_and_the_latest_row_is_current(store):
    store.add_submission(submission("first", value=48.0))
    store.add_submission(submission("second", value=51.0))
    current = store.current_submissions(["2026-10"])[("OD-01", "2026-10")]
    assert current["value"] == 51.0 and current["revisions"] == 2
    assert [r["value"] for r in store.submissions_for("OD-01", "2026-10")] == [48.0, 51.0]


def test_judging_reads_each_period_current_figure_oldest_first_with_its_count(store):
    sent = [("OD-01", "2026-09", 47.0), ("OD-01", "2026-07", 45.0), ("OD-02", "2026-08", 3.0),
            ("OD-01", "2026-09", None), ("OD-01", "2026-08", 46.0), ("OD-01", "2026-09", 49.5),
            ("OD-01", "2026-07", 44.0)]  # fmt: skip
    store.add_submissions(
        submission(f"ref-{n}", measure, period, value)
        for n, (measure, period, value) in enumerate(sent)
    )
    figures = store.figures_of(["OD-01", "OD-03", "OD-01"])
    assert list(figures) == ["OD-01", "OD-03"]
    assert figures["OD-01"].values == [("2026-07", 44.0), ("2026-08", 46.0), ("2026-09", 49.5)]
    assert figures["OD-01"].revisions == {"2026-07": 2, "2026-08": 1, "2026-09": 3}
    assert (figures["OD-03"].values, figures["OD-03"].revisions) == ([], {})


def test_a_failed_transaction_writes_nothing(store):
    with pytest.raises(sqlite3.IntegrityError), store.atomic():
        store.add_submission(submission("ok"))
        store.ledger_add("prompt", "k", NOW)
        store.db.conn.execute("INSERT INTO ledger (kind, key, at) VALUES ('prompt', 'k', 'x')")
    assert store.submission_count() == 0
    assert store.ledger() == []


def test_a_failed_inner_block_is_undone_and_the_outer_one_keeps_its_writes(store):
    with store.atomic():
        store.add_submission(submission("outer"))
        with pytest.raises(sqlite3.IntegrityError), store.atomic():
            store.add_submission(submission("inner"))
            with store.atomic():  # nested twice: the same savepoint name, stacked
                store.ledger_add("prompt", "k", NOW)
            store.db.conn.execute("INSERT INTO ledger (kind, key, at) VALUES ('prompt', 'k', 'x')")
        with store.atomic():
            store.ledger_add("prompt", "after", NOW)
    assert [r["source_ref"] for r in store.submissions_for("OD-01", "2026-10")] == ["outer"]
    assert [r["key"] for r in store.ledger()] == ["after"]


def test_writers_in_many_threads_lose_nothing(store):
    threads, per_thread = 8, 150
    errors: list[BaseException] = []

    def write(worker: int) -> None:
        try:
            for n in range(per_thread):
                with store.atomic():
                    store.add_submission(submission(f"w{worker}-{n}", value=float(n)))
                    store.ledger_add("test", f"w{worker}-{n}", NOW)
        except BaseException as exc:  # reported below, on the test's thread
            errors.append(exc)
        finally:
            store.close()

    workers = [threading.Thread(target=write, args=(w,)) for w in range(threads)]
    for t in workers:
        t.start()
    for t in workers:
        t.join()
    assert errors == []
    assert store.submission_count() == threads * per_thread
    assert len(store.ledger("test")) == threads * per_thread


def test_ledger_records_each_action_once(store):
    assert store.ledger_add("prompt", "owner@x:2026-10", NOW, "<id@x>") is True
    assert store.ledger_add("prompt", "owner@x:2026-10", NOW, "<other@x>") is False
    assert store.ledger_entry("prompt", "owner@x:2026-10")["transport_ref"] == "<id@x>"
    assert store.ledger_by_ref("prompt", ["<nope@x>", "<id@x>"])["key"] == "owner@x:2026-10"
