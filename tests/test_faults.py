"""Database and disk faults, and backups: one line saying what is wrong and what to do, never a
traceback, never "stored" into a damaged file, never a half-written output file."""

from __future__ import annotations

import os
import resource
import signal
import sqlite3
import subprocess
import sys
import threading
from datetime import datetime
from pathlib import Path

import pytest

from bot.backup import backup_database, check_backup, restore_database
from bot.cli import main
from bot.periods import LONDON
from bot.store import Store, StoreError, explain
from tests.conftest import DATA

NOW = datetime(2026, 11, 20, 10, 0, tzinfo=LONDON)


def pmbot(*args: str, cwd: Path, limit_file_size: int = 0) -> subprocess.CompletedProcess:
    def limit() -> None:  # a full disk, as far as this process can tell
        signal.signal(signal.SIGXFSZ, signal.SIG_IGN)
        resource.setrlimit(resource.RLIMIT_FSIZE, (limit_file_size, limit_file_size))

    return subprocess.run(
        [sys.executable, "-m", "bot.cli", "--now", "2026-11-20T10:00", *args],
        cwd=cwd, capture_output=True, text=True, preexec_fn=limit if limit_file_size else None,
        env={**os.environ, "PMBOT_MAILDIR": str(cwd / "mail")},
    )  # fmt: skip


@pytest.fixture
def database(tmp_path) -> Path:
    path = tmp_path / "pmbot.db"
    assert main(["--db", str(path), "measures", "import", str(DATA / "measures.yaml")]) == 0
    assert main(["--db", str(path), "history", "import", str(DATA / "history.csv")]) == 0
    return path


def one_line(result: subprocess.CompletedProcess) -> str:
    assert result.returncode == 1 and "Traceback" not in result.stderr, result.stderr
    [line] = result.stderr.strip().splitlines()
    return line


def test_db_in_a_missing_folder_is_refused_and_not_created(tmp_path, capsys):
    assert main(["--db", str(tmp_path / "typo" / "pmbot.db"), "init"]) == 1
    assert "the folder" in capsys.readouterr().err and not (tmp_path / "typo").exists()


def test_db_that_is_not_a_database_is_one_line(tmp_path):
    (tmp_path / "notes.txt").write_text("shopping list\n" * 100)
    line = one_line(pmbot("--db", "notes.txt", "status", cwd=tmp_path))
    assert line == "pmbot: notes.txt is not a pmbot database (not SQLite); check --db or PMBOT_DB"


def test_a_truncated_database_says_restore_and_stores_nothing(database, tmp_path):
    os.truncate(database, database.stat().st_size - 1000)
    line = one_line(pmbot("--db", str(database), "submit", "OD-01", "2026-10", "48",
                          cwd=tmp_path))  # fmt: skip
    assert "not 4,096-byte-pages" in line
    assert line.endswith("restore from backup with `pmbot restore FILE`")


def test_a_database_with_damaged_pages_never_says_stored(database, tmp_path):
    with database.open("r+b") as file:
        file.seek(database.stat().st_size // 2)
        file.write(b"\xff" * 8192)
    result = pmbot("--db", str(database), "submit", "OD-01", "2026-10", "48", cwd=tmp_path)
    assert "stored" not in result.stdout
    assert one_line(result).endswith("restore from backup with `pmbot restore FILE`")


def test_a_full_disk_is_one_line_and_leaves_no_half_written_pack(database, tmp_path):
    result = pmbot("--db", str(database), "digest", "2026-10", "--out", "out", cwd=tmp_path,
                   limit_file_size=200_000)  # fmt: skip
    line = one_line(result)
    assert "File too large" in line and "free disk space" in line
    written = {p.name for p in (tmp_path / "out").iterdir()}
    assert "performance-pack-2026-10.html" not in written
    assert not [name for name in written if "partial" in name], "temporary files are removed"


def test_a_full_disk_during_an_import_is_one_line_and_imports_nothing(tmp_path):
    path = tmp_path / "pmbot.db"
    assert main(["--db", str(path), "measures", "import", str(DATA / "measures.yaml")]) == 0
    before = Store(path).count("submissions")
    line = one_line(pmbot("--db", str(path), "history", "import", str(DATA / "history.csv"),
                          cwd=tmp_path, limit_file_size=path.stat().st_size))  # fmt: skip
    assert "the disk may be full" in line and "nothing was half-written" in line
    assert Store(path).count("submissions") == before


def test_a_read_only_database_is_explained(database):
    conn = sqlite3.connect(f"file:{database}?mode=ro", uri=True)
    with pytest.raises(sqlite3.OperationalError) as caught:
        conn.execute("DELETE FROM people")
    with pytest.raises(StoreError) as explained:
        explain(caught.value, str(database))
    message = str(explained.value)
    assert message.startswith(f"{database} is read-only; check the permissions")


def test_a_closed_pipe_ends_quietly(database, tmp_path):
    process = subprocess.Popen(
        [sys.executable, "-m", "bot.cli", "--db", str(database), "status", "--json", "2026-10"],
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, cwd=tmp_path,
    )  # fmt: skip
    process.stdout.close()  # `| head -0`: the reader is gone before pmbot writes
    assert process.wait(timeout=60) == 0
    assert process.stderr.read() == b""


def test_measures_import_of_a_folder_is_one_line(tmp_path):
    result = pmbot("--db", "p.db", "measures", "import", str(tmp_path), cwd=tmp_path)
    assert result.returncode == 1 and "is a folder; give the file inside it" in result.stderr
    assert "Traceback" not in result.stderr


# ------------------------------------------------------------------------ backup, restore


def count(path: Path) -> int:
    with sqlite3.connect(path) as conn:
        return conn.execute("SELECT count(*) FROM submissions").fetchone()[0]


def test_a_backup_taken_under_live_writes_is_consistent(database, tmp_path):
    stop = threading.Event()

    def write() -> None:
        conn = sqlite3.connect(database, timeout=30)
        n = 0
        while not stop.is_set():
            n += 1
            conn.execute(
                "INSERT INTO submissions (measure_id, period, value, status, submitted_by, "
                "channel, source_ref, received_at) VALUES ('OD-01', '2026-10', ?, 'value', "
                "'w', 'cli', ?, '2026-11-20')",
                [n, f"live:{n}"],
            )
            conn.commit()
        conn.close()

    writer = threading.Thread(target=write)
    before = count(database)
    writer.start()
    try:
        copies = [backup_database(database, tmp_path / f"copy{n}.db") for n in range(5)]
    finally:
        stop.set()
        writer.join()
    after = count(database)
    for copy in copies:
        assert check_backup(copy) == Store(database).schema_version()
        n = count(copy)
        assert before <= n <= after
        with sqlite3.connect(copy) as conn:  # every live row up to the snapshot, no gaps
            refs = [r[0] for r in conn.execute(
                "SELECT source_ref FROM submissions WHERE source_ref LIKE 'live:%' ORDER BY id")]
        assert refs == [f"live:{i}" for i in range(1, len(refs) + 1)]  # fmt: skip


def test_restore_checks_the_backup_and_keeps_the_old_file(database, tmp_path, capsys):
    backup = tmp_path / "backup.db"
    assert main(["--db", str(database), "backup", str(backup)]) == 0
    assert main(["--db", str(database), "submit", "OD-01", "2026-10", "48", "--confirm",
                 "--as", "fiona.macleod@agency.example"]) == 0  # fmt: skip
    assert main(["--db", str(database), "--now", "2026-11-20T10:00", "restore", str(backup)]) == 0
    out = capsys.readouterr().out
    kept = database.with_name("pmbot.db.before-restore-20261120T100000")
    assert f"kept as {kept}" in out and count(kept) == count(database) + 1


@pytest.mark.parametrize("problem", ["not sqlite", "damaged", "newer schema", "not pmbot"])
def test_restore_refuses_a_bad_backup_and_changes_nothing(database, tmp_path, problem):
    backup = tmp_path / "backup.db"
    backup_database(database, backup)
    if problem == "not sqlite":
        backup.write_text("not a database")
    elif problem == "damaged":
        with backup.open("r+b") as file:
            file.seek(backup.stat().st_size // 2)
            file.write(b"\xff" * 8192)
    elif problem == "newer schema":
        with sqlite3.connect(backup) as conn:
            conn.execute("PRAGMA user_version = 99")
    else:
        backup.unlink()
        with sqlite3.connect(backup) as conn:
            conn.execute("CREATE TABLE notes (x)")
    before = database.read_bytes()
    with pytest.raises(StoreError, match="nothing restored|not a pmbot database"):
        restore_database(database, backup, NOW)
    assert database.read_bytes() == before
    assert list(tmp_path.glob("*before-restore*")) == []


def test_a_maildir_setting_that_names_a_file_is_one_line(database, tmp_path, capsys, monkeypatch):
    (tmp_path / "mail").write_text("not a folder")
    monkeypatch.setenv("PMBOT_MAILDIR", str(tmp_path / "mail"))
    assert main(["--db", str(database), "mail", "poll"]) == 1
    err = capsys.readouterr().err.strip()
    assert len(err.splitlines()) == 1
    assert "is a file, not a folder" in err and "PMBOT_MAILDIR" in err
