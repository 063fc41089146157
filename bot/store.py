"""All of pmbot's SQL: the schema, its migrations, append-only writes and the queries.

One SQLite file in WAL mode. Each thread gets its own connection (SQLite connections must not be
shared between threads); writes that belong together run in one `BEGIN IMMEDIATE` transaction
through `atomic()`, so concurrent writers queue on the lock instead of failing half-way.

>>> store = Store(":memory:")
>>> store.migrate()
>>> store.schema_version() == len(MIGRATIONS)
True
"""

from __future__ import annotations

import contextlib
import json
import sqlite3
import threading
from collections import Counter
from collections.abc import Iterable, Iterator
from dataclasses import asdict, dataclass
from datetime import datetime
from operator import itemgetter
from pathlib import Path
from typing import Any, NoReturn

import pandas as pd
from sqlite_utils import Database
from sqlite_utils.db import quote_identifier

from bot.measures import Area, Measure, Person
from bot.schema import MIGRATIONS
from bot.targets import parse_rebase, parse_targets
from bot.workflow_store import WorkflowTables


@dataclass(frozen=True)
class Outgoing:
    """A message to send, in bytes, with the key that makes it unique (e.g. prompt:a@x:2026-10)."""

    kind: str
    key: str
    recipients: str
    message_id: str
    message: bytes


@dataclass(frozen=True)
class StoredSubmission:
    measure_id: str
    period: str
    value: float | None
    reason: str
    commentary: str
    submitted_by: str
    channel: str
    source_ref: str
    received_at: datetime
    public: bool = False  # the owner marked the commentary fit to publish

    @property
    def status(self) -> str:
        return "not_available" if self.value is None else "value"


@dataclass
class Figures:
    """One measure's figures as judging reads them (``Store.figures_of``)."""

    values: list[tuple[str, float | None]]  # (period, current value), oldest first
    revisions: dict[str, int]  # period -> how many submissions it has


class SchemaTooNew(RuntimeError):
    """The database was written by a newer pmbot; running old code on it could damage it."""


class StoreError(RuntimeError):
    """The database file cannot be used; the message names the file and what to do."""


CHECKED: set[str] = set()  # database files this process found intact
SQLITE_HEADER = b"SQLite format 3\x00"


def explain(exc: BaseException, path: str) -> NoReturn:
    """Raise one line for a person, naming the file and what to do, for an SQLite or disk
    error (StoreError, chained to `exc`)."""
    text = str(exc).lower()
    if "readonly" in text or "read-only" in text or isinstance(exc, PermissionError):
        raise StoreError(f"{path} is read-only; check the permissions of the file and of its "
                         "folder (SQLite writes a -wal file beside it)") from exc  # fmt: skip
    if "full" in text or getattr(exc, "errno", None) == 28:
        raise StoreError(f"the disk holding {path} is full; free some space and run the "
                         "command again (nothing was half-written)") from exc  # fmt: skip
    if "malformed" in text or "not a database" in text or "corrupt" in text:
        raise StoreError(
            f"{path} is damaged ({exc}); restore from backup with `pmbot restore FILE`"
        ) from exc
    if "disk i/o error" in text or getattr(exc, "errno", None) == 27:
        raise StoreError(f"could not write {path} ({exc}): the disk may be full or failing; "
                         "free some space or check the disk, then run the command again "
                         "(nothing was half-written)") from exc  # fmt: skip
    if "locked" in text or "busy" in text:
        raise StoreError(
            f"{path} is busy: another pmbot is writing to it; try again in a minute"
        ) from exc
    if "unable to open" in text:
        raise StoreError(
            f"cannot open {path}; check that its folder exists and that you may write there"
        ) from exc
    raise StoreError(f"{path}: {exc}") from exc


def looks_damaged(path: Path) -> str | None:
    """Why the file's SQLite header or size looks wrong (cheap: 100 bytes and a stat), else
    None. A file that looks damaged gets a full integrity check before anything is written;
    one that is not SQLite at all is refused at once."""
    try:
        size = path.stat().st_size
        with path.open("rb") as file:
            header = file.read(100)
    except FileNotFoundError:
        return None
    if size == 0:
        return None  # a new, empty file: SQLite makes a database of it
    if not header.startswith(SQLITE_HEADER):
        raise StoreError(f"{path} is not a pmbot database (not SQLite); check --db or PMBOT_DB")
    page_size = int.from_bytes(header[16:18], "big")
    page_size = 65536 if page_size == 1 else page_size
    if page_size < 512 or size % page_size:
        return f"{path}: {size:,} bytes, not {page_size:,}-byte-pages"
    pages = int.from_bytes(header[28:32], "big")
    counters_agree = header[24:28] == header[92:96]
    wal = Path(f"{path}-wal")
    if counters_agree and not wal.exists() and pages * page_size != size:
        return f"{path}: header {pages:,} pages, file {size // page_size:,}"
    return None


class Store(WorkflowTables):
    def __init__(self, path: str | Path) -> None:
        self.path = str(path)
        self._local = threading.local()
        # An in-memory database exists per connection, so every thread must share the one.
        self._shared: Database | None = None
        if self.path == ":memory:":
            self._shared = Database(sqlite3.connect(":memory:", check_same_thread=False))

    @property
    def db(self) -> Database:
        if self._shared is not None:
            return self._shared
        db = getattr(self._local, "db", None)
        if db is None:
            db = self._local.db = Database(self.connect())
        return db

    def connect(self) -> sqlite3.Connection:
        """A connection to the file, which must be in an existing folder (never created: a
        mistyped --db should fail, not scatter databases) and, if it looks damaged, intact."""
        path = Path(self.path)
        if not path.parent.is_dir():
            raise StoreError(
                f"the folder {path.parent} does not exist; create it or give --db a file in an "
                "existing folder"
            )
        suspicion = looks_damaged(path)
        try:
            conn = sqlite3.connect(self.path, timeout=30)
            # Damage in the middle of the file leaves its size and header alone, and a write
            # may not touch the damaged pages: quick_check (a few ms for a year of history)
            # finds it before pmbot says "stored" into a broken file.
            quick = self.path not in CHECKED and path.exists() and path.stat().st_size > 0
            quick = quick and not suspicion
            if (suspicion or quick) and (problem := integrity_problem(conn, quick=quick)):
                conn.close()
                found = f"{suspicion}; " if suspicion else f"{path} is damaged: "
                raise StoreError(f"{found}the integrity check says: {problem}; restore from "
                                 "backup with `pmbot restore FILE`")  # fmt: skip
            CHECKED.add(self.path)  # once a process: each thread's connection sees one file
            conn.execute("PRAGMA journal_mode=WAL")
            conn.execute("PRAGMA synchronous=NORMAL")
            # Statement journals (what a savepoint rolls back to) in memory, not in a temp file:
            # a poll of 2,000 replies wrote its per-message savepoints to one with 83,000 pwrites.
            conn.execute("PRAGMA temp_store=MEMORY")
            conn.execute("PRAGMA foreign_keys=ON")
        except sqlite3.Error as exc:
            explain(exc, self.path)
        return conn

    def backup_to(self, target: Path) -> None:
        """A consistent copy of the live database (SQLite's online backup API: one snapshot,
        whatever other connections write meanwhile), written to `target`'s temporary name."""
        destination = sqlite3.connect(target)
        try:
            self.db.conn.backup(destination)
            if problem := integrity_problem(destination):
                raise StoreError(f"the copy failed its integrity check ({problem}); restore "
                                 "from backup with `pmbot restore FILE`")  # fmt: skip
            destination.execute("PRAGMA journal_mode=DELETE")  # one self-contained file
        finally:
            destination.close()

    def close(self) -> None:
        db = getattr(self._local, "db", None) or self._shared
        if db is not None:
            db.close()
        self._local.db = None

    @contextlib.contextmanager
    def atomic(self) -> Iterator[Database]:
        """One write transaction; nested calls join the outer one."""
        conn = self.db.conn
        if conn.in_transaction:
            # A savepoint of one fixed name (they nest): sqlite-utils names each one afresh,
            # so SQLite compiles two new statements for every nested block.
            conn.execute('SAVEPOINT "pmbot_nested"')
            try:
                yield self.db
            except BaseException:
                # An error that destroyed the whole transaction took the savepoint with it.
                if conn.in_transaction:
                    conn.execute('ROLLBACK TO "pmbot_nested"')
                    conn.execute('RELEASE "pmbot_nested"')
                raise
            conn.execute('RELEASE "pmbot_nested"')
            return
        # IMMEDIATE takes the write lock up front: a deferred transaction that reads and then
        # writes can fail with "database is locked" when another writer got in between.
        conn.execute("BEGIN IMMEDIATE")
        try:
            yield self.db
        except BaseException:
            if conn.in_transaction:
                conn.execute("ROLLBACK")
            raise
        conn.execute("COMMIT")

    # -- schema -----------------------------------------------------------------------------

    def schema_version(self) -> int:
        return self.db.execute("PRAGMA user_version").fetchone()[0]

    def migrate(self) -> int:
        """Apply the migrations this file has not seen yet; returns how many ran."""
        with self.atomic() as db:
            current = self.schema_version()
            if current > len(MIGRATIONS):
                raise SchemaTooNew(
                    f"{self.path} has schema version {current}, written by a newer version of "
                    f"pmbot (this one knows {len(MIGRATIONS)}); upgrade pmbot to use it"
                )
            for version, script in enumerate(MIGRATIONS[current:], start=current + 1):
                for statement in split_statements(script):
                    db.conn.execute(statement)
                db.conn.execute(f"PRAGMA user_version = {version:d}")
        return len(MIGRATIONS) - current

    # -- measures and people ----------------------------------------------------------------

    def save_register(
        self,
        measures: list[Measure],
        people: Iterable[Person],
        now: datetime,
        areas: Iterable[Area] = (),
    ) -> dict[str, list[str]]:
        """Make the database register match the file: add, update, and deactivate the rest.

        The areas are replaced by the file's list (a file without one leaves no areas).
        """
        changes: dict[str, list[str]] = {"added": [], "updated": [], "deactivated": []}
        with self.atomic() as db:
            existing = {row["id"]: row for row in db.query("SELECT * FROM measures")}
            for measure in measures:
                row = measure_row(measure, now)
                old = existing.get(measure.id)
                if old is None:
                    changes["added"].append(measure.id)
                elif {k: old[k] for k in row if k != "updated_at"} != {
                    k: v for k, v in row.items() if k != "updated_at"
                }:
                    changes["updated"].append(measure.id)
                db["measures"].upsert(row, pk="id")
            listed = {m.id for m in measures}
            for measure_id, old in existing.items():
                if measure_id not in listed and old["active"]:
                    db.execute(
                        "UPDATE measures SET active = 0, updated_at = ? WHERE id = ?",
                        [iso(now), measure_id],
                    )
                    changes["deactivated"].append(measure_id)
            for person in people:
                self.save_person(person)
            db.execute("DELETE FROM areas")
            for area in areas:
                db["areas"].insert({**asdict(area), "updated_at": iso(now)})
        return changes

    def areas(self) -> list[Area]:
        """The register's outcome areas, by name."""
        rows = self.db.query("SELECT * FROM areas ORDER BY name")
        return [Area(**{k: v for k, v in row.items() if k != "updated_at"}) for row in rows]

    def measures(self, *, active_only: bool = True) -> list[Measure]:
        where = "WHERE active = 1" if active_only else ""
        rows = self.db.query(f"SELECT * FROM measures {where} ORDER BY id")
        return [measure_from_row(row) for row in rows]

    def measure(self, measure_id: str) -> Measure | None:
        rows = list(self.db.query("SELECT * FROM measures WHERE id = ?", [measure_id.upper()]))
        return measure_from_row(rows[0]) if rows else None

    def save_person(self, person: Person) -> None:
        """Add a person or merge their roles and name into the existing row."""
        with self.atomic() as db:
            rows = list(db.query("SELECT * FROM people WHERE email = ?", [person.email]))
            roles = set(person.roles)
            name = person.name
            if rows:
                roles |= set(filter(None, rows[0]["roles"].split(",")))
                name = name or rows[0]["name"]
            db["people"].upsert(
                {"email": person.email, "name": name, "roles": ",".join(sorted(roles))}, pk="email"
            )

    def people(self) -> list[Person]:
        return [person_from_row(r) for r in self.db.query("SELECT * FROM people ORDER BY email")]

    def person(self, email: str) -> Person | None:
        rows = list(self.db.query("SELECT * FROM people WHERE email = ?", [email.lower()]))
        return person_from_row(rows[0]) if rows else None

    def chat_id(self, transport: str, email: str) -> str | None:
        """Who this person is in a chat transport: their id, '' when the transport does not
        know them, None when nobody has asked yet."""
        row = self.db.execute(
            "SELECT chat_id FROM chat_ids WHERE transport = ? AND email = ?",
            [transport, email.lower()],
        ).fetchone()
        return row[0] if row else None

    def save_chat_id(self, transport: str, email: str, chat_id: str) -> None:
        """Cache who this person is in a chat ('' records that they are not there)."""
        with self.atomic() as db:
            self.save_person(Person(email.lower()))
            db["chat_ids"].upsert(
                {"transport": transport, "email": email.lower(), "chat_id": chat_id},
                pk=("transport", "email"),
            )

    def email_for_chat_id(self, transport: str, chat_id: str) -> str | None:
        row = self.db.execute(
            "SELECT email FROM chat_ids WHERE transport = ? AND chat_id = ? AND chat_id != ''",
            [transport, chat_id],
        ).fetchone()
        return row[0] if row else None

    # -- submissions (append-only) ----------------------------------------------------------

    def add_submission(self, submission: StoredSubmission) -> bool:
        """Store one submission; False when its source reference was stored before."""
        cursor = self.db.execute(
            f"INSERT OR IGNORE INTO submissions ({SUBMISSION_COLUMNS}) VALUES ({SUBMISSION_SLOTS})",
            submission_values(submission),
        )
        return cursor.rowcount == 1

    def add_submissions(self, submissions: Iterable[StoredSubmission]) -> int:
        """Store many in one transaction; returns how many were new."""
        with self.atomic() as db:
            cursor = db.conn.executemany(
                f"INSERT OR IGNORE INTO submissions ({SUBMISSION_COLUMNS}) "
                f"VALUES ({SUBMISSION_SLOTS})",
                [submission_values(s) for s in submissions],
            )
        return cursor.rowcount

    def latest_submission_id(self) -> int:
        """Grows with every submission (they are append-only): a version of the figures."""
        return self.db.execute("SELECT coalesce(max(id), 0) FROM submissions").fetchone()[0]

    def register_version(self) -> int:
        """Moves whenever a measure or a person is added or changed (triggers keep it)."""
        return self.db.conn.execute("SELECT version FROM register_version").fetchone()[0]

    def select(self, sql: str, params: Iterable[Any] = ()) -> list[dict[str, Any]]:
        """Rows of a SELECT as dicts, for the per-message look-ups: sqlite-utils' `query`
        wraps each in a savepoint of its own (three statements for one)."""
        cursor = self.db.conn.execute(sql, list(params))
        names = [column[0] for column in cursor.description]
        return [dict(zip(names, row, strict=True)) for row in cursor]

    def submission_count(self) -> int:
        return self.db.execute("SELECT count(*) FROM submissions").fetchone()[0]

    def current_submissions(
        self, periods: Iterable[str], measure_ids: Iterable[str] | None = None
    ) -> dict[tuple[str, str], dict[str, Any]]:
        """Latest submission per (measure, period) in the given periods, with its revision
        count; with `measure_ids`, of those measures only."""
        periods = list(periods)
        ids = None if measure_ids is None else list(measure_ids)
        if not periods or ids == []:
            return {}
        slots = ", ".join("?" for _ in periods)
        only = "" if ids is None else f"AND measure_id IN ({', '.join('?' for _ in ids)})"
        rows = self.db.query(
            f"""
            SELECT s.*, counts.revisions FROM submissions s
            JOIN (
                SELECT measure_id, period, max(id) AS latest, count(*) AS revisions
                FROM submissions WHERE period IN ({slots}) {only} GROUP BY measure_id, period
            ) counts ON s.id = counts.latest
            """,
            [*periods, *(ids or [])],
        )
        return {(row["measure_id"], row["period"]): row for row in rows}

    def revision_count(self, measure_id: str, period: str) -> int:
        sql = "SELECT count(*) FROM submissions WHERE measure_id = ? AND period = ?"
        return self.db.execute(sql, [measure_id, period]).fetchone()[0]

    def submissions_for(self, measure_id: str, period: str) -> list[dict[str, Any]]:
        return list(
            self.db.query(
                "SELECT * FROM submissions WHERE measure_id = ? AND period = ? ORDER BY id",
                [measure_id, period],
            )
        )

    def history_frame(self, measure_ids: Iterable[str] | None = None) -> pd.DataFrame:
        """Current value of every measure and period: columns measure_id, period, value, status,
        reason, commentary, public, submitted_by, channel, received_at, revisions."""
        where, params = "", []
        if measure_ids is not None:
            ids = list(measure_ids)
            where = f"WHERE measure_id IN ({', '.join('?' for _ in ids)})"
            params = ids
        sql = f"""
            SELECT s.measure_id, s.period, s.value, s.status, s.reason, s.commentary, s.public,
                   s.submitted_by, s.channel, s.received_at, counts.revisions
            FROM submissions s JOIN (
                SELECT max(id) AS latest, count(*) AS revisions FROM submissions {where}
                GROUP BY measure_id, period
            ) counts ON s.id = counts.latest
            ORDER BY s.measure_id, s.period
        """
        return pd.read_sql_query(sql, self.db.conn, params=params)

    def current_figures(self) -> pd.DataFrame:
        """``history_frame`` narrowed to what the digest model reads (measure_id, period, value):
        reading the other eight columns doubled the cost of the digest's history."""
        sql = """
            SELECT s.measure_id, s.period, s.value
            FROM submissions s JOIN (
                SELECT max(id) AS latest FROM submissions GROUP BY measure_id, period
            ) counts ON s.id = counts.latest
            ORDER BY s.measure_id, s.period
        """
        return pd.read_sql_query(sql, self.db.conn)

    def figures_of(self, measure_ids: Iterable[str]) -> dict[str, Figures]:
        """Each measure's current value of each period, (period, value) oldest first, with
        how many submissions each period has (a new one is a revision when it has any).

        What judging a message's figures needs (this runs for every message a poll takes).
        """
        found: dict[str, Figures] = {}
        for measure_id in dict.fromkeys(measure_ids):
            # Every submission in the by-measure index's order, so the current value of a
            # period is its last row: faster than GROUP BY with max(), which SQLite does row by
            # row anyway. One measure a query: no measure id to hand back on every row.
            rows = self.db.conn.execute(
                "SELECT period, value FROM submissions WHERE measure_id = ? ORDER BY period, id",
                (measure_id,),
            ).fetchall()
            current = dict(rows)  # a period's last row wins; periods stay in their order
            revisions = (
                dict.fromkeys(current, 1)
                if len(current) == len(rows)
                else dict(Counter(map(itemgetter(0), rows)))
            )
            found[measure_id] = Figures(list(current.items()), revisions)
        return found

    def stored_refs(self, source_refs: Iterable[str]) -> set[str]:
        """Which of these source references were stored before (a redelivered message)."""
        refs = list(source_refs)
        if not refs:
            return set()
        slots = ", ".join("?" for _ in refs)
        sql = f"SELECT source_ref FROM submissions WHERE source_ref IN ({slots})"
        return {row[0] for row in self.db.conn.execute(sql, refs)}

    def latest_figures(self, measure_ids: Iterable[str]) -> dict[str, tuple[str, float | None]]:
        """Measure id -> (period, current value) of its latest period with a figure."""
        ids = list(measure_ids)
        if not ids:
            return {}
        rows = self.db.conn.execute(
            "SELECT measure_id, period, value, max(id) FROM submissions "
            f"WHERE measure_id IN ({', '.join('?' for _ in ids)}) "
            "GROUP BY measure_id, period ORDER BY measure_id, period",
            ids,
        )
        return {measure_id: (period, value) for measure_id, period, value, _ in rows}

    # -- figures held back as implausible ----------------------------------------------------

    def add_query(self, submission: StoredSubmission, raw: str, why: str) -> None:
        self.db.execute(
            "INSERT INTO queried (measure_id, period, value, raw, why, submitted_by, channel, "
            "received_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
            [submission.measure_id, submission.period, submission.value, raw[:500], why,
             submission.submitted_by, submission.channel, iso(submission.received_at)],
        )  # fmt: skip

    def was_queried(self, measure_id: str, period: str, sender: str, value: float) -> bool:
        """Whether this very figure from this person was held back as implausible before."""
        sql = (
            "SELECT 1 FROM queried WHERE measure_id = ? AND period = ? AND submitted_by = ? "
            "AND value = ?"
        )
        return self.db.execute(sql, [measure_id, period, sender, value]).fetchone() is not None

    def held_back(self, periods: Iterable[str]) -> list[dict[str, Any]]:
        """Held-back figures for these periods with nothing stored for them since, oldest first."""
        wanted = list(periods)
        slots = ", ".join("?" for _ in wanted)
        sql = f"""
            SELECT q.* FROM queried q WHERE q.period IN ({slots}) AND NOT EXISTS (
                SELECT 1 FROM submissions s WHERE s.measure_id = q.measure_id
                AND s.period = q.period AND s.received_at >= q.received_at)
            ORDER BY q.id
        """
        return list(self.db.query(sql, wanted))

    # -- ledger and inbound -----------------------------------------------------------------

    def ledger_add(
        self, kind: str, key: str, now: datetime, transport_ref: str = "", cycle: str = ""
    ) -> bool:
        """Record that something was done; False if it had been done already."""
        cursor = self.db.execute(
            "INSERT OR IGNORE INTO ledger (kind, key, at, transport_ref, cycle) "
            "VALUES (?, ?, ?, ?, ?)",
            [kind, key, iso(now), transport_ref, cycle],
        )
        return cursor.rowcount == 1

    def ledger_for_cycle(self, cycle: str) -> list[dict[str, Any]]:
        return list(self.db.query("SELECT * FROM ledger WHERE cycle = ? ORDER BY id", [cycle]))

    def ledger_entry(self, kind: str, key: str) -> dict[str, Any] | None:
        rows = list(self.db.query("SELECT * FROM ledger WHERE kind = ? AND key = ?", [kind, key]))
        return rows[0] if rows else None

    def ledger_by_ref(self, kind: str, transport_refs: Iterable[str]) -> dict[str, Any] | None:
        refs = [r for r in transport_refs if r]
        if not refs:
            return None
        slots = ", ".join("?" for _ in refs)
        rows = self.select(
            f"SELECT * FROM ledger WHERE kind = ? AND transport_ref IN ({slots}) "
            "ORDER BY id DESC LIMIT 1",
            [kind, *refs],
        )
        return rows[0] if rows else None

    def ledger(self, kind: str | None = None) -> list[dict[str, Any]]:
        if kind is None:
            return list(self.db.query("SELECT * FROM ledger ORDER BY id"))
        return list(self.db.query("SELECT * FROM ledger WHERE kind = ? ORDER BY id", [kind]))

    def inbound_seen(self, message_id: str, fingerprint: str = "") -> bool:
        """Whether this message was recorded before: the same id with the same fingerprint (or
        one recorded before fingerprints were kept)."""
        row = self.db.execute(
            "SELECT 1 FROM inbound WHERE message_id = ? AND fingerprint IN (?, '')",
            [message_id, fingerprint],
        ).fetchone()
        return row is not None

    def inbound_id_taken(self, message_id: str) -> bool:
        row = self.db.execute("SELECT 1 FROM inbound WHERE message_id = ?", [message_id]).fetchone()
        return row is not None

    def quarantined_count(self) -> int:
        sql = "SELECT count(*) FROM inbound WHERE outcome = 'quarantined'"
        return self.db.execute(sql).fetchone()[0]

    def answers_since(self, kind: str, recipient: str, since: datetime) -> int:
        """How many messages of this kind were queued for one recipient since a moment."""
        sql = "SELECT count(*) FROM outgoing WHERE recipients = ? AND kind = ? AND created_at >= ?"
        return self.db.execute(sql, [recipient, kind, iso(since)]).fetchone()[0]

    def sent_messages(self, message_ids: Iterable[str]) -> list[dict[str, Any]]:
        """Messages pmbot sent with these Message-IDs, newest first."""
        ids = [i for i in message_ids if i]
        if not ids:
            return []
        slots = ", ".join("?" for _ in ids)
        sql = f"SELECT * FROM outgoing WHERE message_id IN ({slots}) ORDER BY id DESC"
        return self.select(sql, ids)

    def record_inbound(
        self,
        *,
        message_id: str,
        channel: str,
        sender: str,
        subject: str,
        received_at: datetime,
        outcome: str,
        reason: str = "",
        fingerprint: str = "",
    ) -> bool:
        cursor = self.db.execute(
            "INSERT OR IGNORE INTO inbound "
            "(message_id, fingerprint, channel, sender, subject, received_at, outcome, reason) "
            "VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
            [message_id, fingerprint, channel, sender, subject[:500], iso(received_at), outcome,
             reason],
        )  # fmt: skip
        return cursor.rowcount == 1

    def queue_outgoing(self, outgoing: Outgoing, now: datetime) -> bool:
        """Queue a message; False when one with the same key was queued before."""
        cursor = self.db.execute(
            "INSERT OR IGNORE INTO outgoing "
            "(kind, key, recipients, message_id, message, created_at) VALUES (?, ?, ?, ?, ?, ?)",
            [outgoing.kind, outgoing.key, outgoing.recipients, outgoing.message_id,
             outgoing.message, iso(now)],
        )  # fmt: skip
        return cursor.rowcount == 1

    def pending_outgoing(self, limit: int = 500) -> list[dict[str, Any]]:
        sql = "SELECT * FROM outgoing WHERE sent_at IS NULL AND failed = 0 ORDER BY id LIMIT ?"
        return list(self.db.query(sql, [limit]))

    def mark_sent(self, outgoing_id: int, transport_ref: str, now: datetime) -> None:
        self.db.execute(
            "UPDATE outgoing SET sent_at = ?, transport_ref = ?, attempts = attempts + 1 "
            "WHERE id = ?",
            [iso(now), transport_ref, outgoing_id],
        )

    def mark_send_failed(self, outgoing_id: int, error: str, *, permanent: bool) -> None:
        self.db.execute(
            "UPDATE outgoing SET attempts = attempts + 1, last_error = ?, failed = ? WHERE id = ?",
            [error[:1000], int(permanent), outgoing_id],
        )

    def forget_sent_bodies(self, sent_before: datetime) -> int:
        """Drop the bodies of messages sent before a date, keeping who, what and when: a
        monthly digest with its pack attached is megabytes, and the ledger needs only the row."""
        cursor = self.db.execute(
            "UPDATE outgoing SET message = x'' WHERE sent_at < ? AND length(message) > 0",
            [iso(sent_before)],
        )
        return cursor.rowcount

    def outgoing(self, kind: str | None = None) -> list[dict[str, Any]]:
        if kind is None:
            return list(self.db.query("SELECT * FROM outgoing ORDER BY id"))
        return list(self.db.query("SELECT * FROM outgoing WHERE kind = ? ORDER BY id", [kind]))

    def inbound(self, limit: int | None = None) -> list[dict[str, Any]]:
        if limit is None:
            return list(self.db.query("SELECT * FROM inbound ORDER BY id"))
        rows = self.db.query("SELECT * FROM inbound ORDER BY id DESC LIMIT ?", [limit])
        return list(reversed(list(rows)))

    def count(self, table: str) -> int:
        return self.db.execute(f"SELECT count(*) FROM {quote_identifier(table)}").fetchone()[0]


SUBMISSION_FIELDS = (
    "measure_id", "period", "value", "status", "reason", "commentary", "submitted_by", "channel",
    "source_ref", "received_at", "public",
)  # fmt: skip
SUBMISSION_COLUMNS = ", ".join(quote_identifier(f) for f in SUBMISSION_FIELDS)
SUBMISSION_SLOTS = ", ".join("?" for _ in SUBMISSION_FIELDS)


def submission_values(s: StoredSubmission) -> list[Any]:
    return [
        s.measure_id, s.period, s.value, s.status, s.reason, s.commentary, s.submitted_by,
        s.channel, s.source_ref, iso(s.received_at), int(s.public),
    ]  # fmt: skip


def measure_row(measure: Measure, now: datetime) -> dict[str, Any]:
    row = measure.as_dict()
    row["active"] = int(measure.active)
    row["public"] = int(measure.public)
    row["updated_at"] = iso(now)
    row["target"] = 0.0 if measure.target is None else measure.target  # see migration 4
    row["targets"] = json.dumps(row["targets"])
    row["rebase"] = json.dumps(row["rebase"])
    return row


def measure_from_row(row: dict[str, Any]) -> Measure:
    fields = {k: v for k, v in row.items() if k != "updated_at"}
    fields["active"] = bool(fields["active"])
    if fields["targets"]:
        fields["targets"] = parse_targets(json.loads(fields["targets"]) or None)
        fields["target"] = fields["targets"][-1].value if fields["targets"] else None
    else:  # a row from before migration 4: one target, from ever
        fields["targets"] = ()
    fields["rebase"] = parse_rebase(json.loads(fields["rebase"]) or None)
    fields["public"] = bool(fields["public"])
    return Measure(**fields)


def person_from_row(row: dict[str, Any]) -> Person:
    return Person(row["email"], row["name"], tuple(filter(None, row["roles"].split(","))))


def iso(moment: datetime) -> str:
    return moment.isoformat(timespec="seconds")


def integrity_problem(conn: sqlite3.Connection, *, quick: bool = False) -> str | None:
    """None when SQLite's integrity check passes; else its first complaints, on one line."""
    check = "quick_check" if quick else "integrity_check"
    try:
        rows = conn.execute(f"PRAGMA {check}(3)").fetchall()
    except sqlite3.DatabaseError as exc:
        return str(exc)
    if rows == [("ok",)]:
        return None
    text = " ".join("; ".join(str(r[0]) for r in rows).split())
    return text if len(text) <= 200 else text[:199] + "…"


def schema_of(conn: sqlite3.Connection) -> tuple[int, set[str]]:
    """(PRAGMA user_version, the names of the tables) of a database."""
    version = conn.execute("PRAGMA user_version").fetchone()[0]
    tables = {r[0] for r in conn.execute("SELECT name FROM sqlite_master WHERE type = 'table'")}
    return version, tables


def split_statements(script: str) -> list[str]:
    """Split a migration into statements; sqlite3.complete_statement keeps triggers whole."""
    statements, buffer = [], ""
    for line in script.splitlines(keepends=True):
        buffer += line
        if sqlite3.complete_statement(buffer):
            statements.append(buffer.strip())
            buffer = ""
    if buffer.strip():
        statements.append(buffer.strip())
    return statements
