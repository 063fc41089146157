"""`pmbot backup FILE` and `pmbot restore FILE`.

A plain `cp` of the live database can miss the rows still in its -wal file (it missed up to 64
in a test under load). A backup uses SQLite's online backup API instead: one consistent
snapshot, taken while pmbot keeps working. A restore checks the copy first (integrity, and a
schema this pmbot knows) and keeps the file it replaces.
"""

from __future__ import annotations

import contextlib
import os
import sqlite3
from datetime import datetime
from pathlib import Path

from bot.files import replacing
from bot.schema import MIGRATIONS
from bot.store import Store, StoreError, explain, integrity_problem, schema_of

TABLES = {"measures", "people", "submissions", "ledger", "inbound"}


def backup_database(db_path: Path, target: Path) -> Path:
    """Copy the database at `db_path` to `target` (replaced whole, never half-written)."""
    if not db_path.exists():
        raise StoreError(f"{db_path} does not exist; check --db or PMBOT_DB")
    if target.is_dir():
        target = target / f"pmbot-{datetime.now():%Y-%m-%dT%H%M%S}.db"
    if not target.parent.is_dir():
        raise StoreError(f"the folder {target.parent} does not exist; create it first")
    if target.resolve() == db_path.resolve():
        raise StoreError(f"{target} is the database itself; back it up to another file")
    store = Store(db_path)
    try:
        with replacing(target) as partial:
            store.backup_to(partial)
    except sqlite3.Error as exc:
        explain(exc, str(db_path))
    except OSError as exc:
        explain(exc, str(target))
    finally:
        store.close()
    return target


def check_backup(source: Path) -> int:
    """The schema version of a backup that may be restored; StoreError says why not."""
    if not source.is_file():
        raise StoreError(f"{source} is not a file; give the backup to restore")
    try:
        conn = sqlite3.connect(f"file:{source}?mode=ro", uri=True)
    except sqlite3.Error as exc:
        raise StoreError(f"cannot open {source}: {exc}") from exc
    try:
        if problem := integrity_problem(conn):
            raise StoreError(f"{source} fails its integrity check ({problem}); nothing restored")
        version, tables = schema_of(conn)
    except sqlite3.DatabaseError as exc:
        raise StoreError(f"{source} is not a pmbot database ({exc}); nothing restored") from exc
    finally:
        conn.close()
    if missing := TABLES - tables:
        raise StoreError(
            f"{source} is not a pmbot database (no {', '.join(sorted(missing))} table); "
            "nothing restored"
        )
    if not 1 <= version <= len(MIGRATIONS):
        raise StoreError(
            f"{source} has schema version {version}, which this pmbot (version "
            f"{len(MIGRATIONS)}) does not know; nothing restored"
        )
    return version


def restore_database(db_path: Path, source: Path, now: datetime) -> Path | None:
    """Put the backup `source` in place of `db_path`; returns where the old file was kept.

    Stop `pmbot serve` first: a running pmbot keeps writing to the file it opened.
    """
    check_backup(source)
    if not db_path.parent.is_dir():
        raise StoreError(f"the folder {db_path.parent} does not exist; create it first")
    kept = None
    try:
        with replacing(db_path) as partial:
            source_conn = sqlite3.connect(f"file:{source}?mode=ro", uri=True)
            target = sqlite3.connect(partial)
            try:
                source_conn.backup(target)
            finally:
                source_conn.close()
                target.close()
            if db_path.exists():
                kept = db_path.with_name(f"{db_path.name}.before-restore-{now:%Y%m%dT%H%M%S}")
                os.replace(db_path, kept)
            for extra in ("-wal", "-shm"):  # the old file's journal is not the backup's
                old = Path(f"{db_path}{extra}")
                if old.exists() and kept is not None:
                    os.replace(old, Path(f"{kept}{extra}"))
                with contextlib.suppress(FileNotFoundError):
                    old.unlink()
    except sqlite3.Error as exc:
        explain(exc, str(db_path))
    except OSError as exc:
        explain(exc, str(db_path))
    return kept


__all__ = ["backup_database", "check_backup", "restore_database"]
