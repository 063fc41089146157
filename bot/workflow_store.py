"""The store's SQL for how the cycle is run: silences, sign-off decisions, and the reads behind
the process page and a figure's audit history.

Part of `Store` (it inherits this), kept apart because it is a separate concern from taking
figures. Silences and decisions are append-only, like submissions.
"""

from __future__ import annotations

from collections.abc import Iterable
from datetime import date, datetime
from typing import TYPE_CHECKING, Any

from bot.signoff import Decision
from bot.silences import Silence

if TYPE_CHECKING:
    from sqlite_utils import Database


def _iso(moment: datetime) -> str:
    return moment.isoformat(timespec="seconds")


class WorkflowTables:
    db: Database

    def workflow_version(self) -> tuple[int, int, int]:
        """The latest silence, sign-off decision and chase (reminder or escalation): all
        append-only, so these change whenever what they feed (status, digest, process page)
        may. Other ledger rows (the digest's own, alerts) change nothing the digest shows."""
        row = self.db.execute(
            "SELECT (SELECT max(id) FROM silences), (SELECT max(id) FROM signoffs), "
            "(SELECT max(id) FROM ledger WHERE kind IN ('reminder', 'escalation'))"
        ).fetchone()
        return tuple(value or 0 for value in row)  # type: ignore[return-value]

    # -- silences ---------------------------------------------------------------------------

    def add_silence(
        self, measure_id: str, starts: date, ends: date, reason: str, created_by: str,
        channel: str, now: datetime,
    ) -> None:  # fmt: skip
        self.db.execute(
            "INSERT INTO silences (measure_id, starts, ends, reason, created_by, channel, "
            "created_at) VALUES (?, ?, ?, ?, ?, ?, ?)",
            [measure_id, starts.isoformat(), ends.isoformat(), reason, created_by, channel,
             _iso(now)],
        )  # fmt: skip

    def silences(self, measure_id: str | None = None) -> list[Silence]:
        """Every silence, oldest first (optionally of one measure)."""
        where, params = ("WHERE measure_id = ?", [measure_id]) if measure_id else ("", [])
        rows = self.db.query(f"SELECT * FROM silences {where} ORDER BY id", params)
        return [
            Silence(
                measure_id=r["measure_id"],
                starts=date.fromisoformat(r["starts"]),
                ends=date.fromisoformat(r["ends"]),
                reason=r["reason"],
                created_by=r["created_by"],
                channel=r["channel"],
                created_at=r["created_at"],
            )
            for r in rows
        ]

    # -- sign-off decisions -----------------------------------------------------------------

    def add_decision(self, decision: Decision, source_ref: str) -> bool:
        """Record a decision; False when this source reference was recorded before."""
        cursor = self.db.execute(
            "INSERT OR IGNORE INTO signoffs (area, cycle, decision, measure_id, note, decided_by, "
            "channel, source_ref, decided_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)",
            [decision.area, decision.cycle, decision.decision, decision.measure_id,
             decision.note, decision.decided_by, decision.channel, source_ref,
             _iso(decision.decided_at)],
        )  # fmt: skip
        return cursor.rowcount == 1

    def decisions(self, cycle: str, area: str | None = None) -> list[Decision]:
        """A cycle's sign-off decisions, oldest first (optionally of one area)."""
        sql = "SELECT * FROM signoffs WHERE cycle = ?"
        params = [cycle]
        if area is not None:
            sql += " AND area = ?"
            params.append(area)
        return [
            Decision(
                area=r["area"],
                cycle=r["cycle"],
                decision=r["decision"],
                measure_id=r["measure_id"],
                note=r["note"],
                decided_by=r["decided_by"],
                channel=r["channel"],
                decided_at=datetime.fromisoformat(r["decided_at"]),
            )
            for r in self.db.query(sql + " ORDER BY id", params)
        ]

    def decisions_about(self, measure_id: str, area: str) -> list[dict[str, Any]]:
        """Decisions that name the measure, and every decision about its area."""
        return list(
            self.db.query(
                "SELECT * FROM signoffs WHERE measure_id = ? OR (area = ? AND measure_id = '') "
                "ORDER BY id",
                [measure_id, area],
            )
        )

    # -- the process and the audit trail ----------------------------------------------------

    def submission_times(self, periods: Iterable[str]) -> list[dict[str, Any]]:
        """Per measure and period: the first figure's time and channel, how many submissions,
        and whether the latest is a gap."""
        periods = list(periods)
        if not periods:
            return []
        slots = ", ".join("?" for _ in periods)
        # The first and latest rows by id, joined back once: a correlated subquery per group
        # costs twice as much on a year of 8,000 measures.
        cursor = self.db.execute(
            f"""
            SELECT g.measure_id, g.period, g.submissions, f.received_at, f.channel, l.status
            FROM (
                SELECT measure_id, period, count(*) AS submissions, min(id) AS first_id,
                       max(id) AS last_id
                FROM submissions WHERE period IN ({slots}) GROUP BY measure_id, period
            ) g
            JOIN submissions f ON f.id = g.first_id
            JOIN submissions l ON l.id = g.last_id
            """,
            periods,
        )
        names = ("measure_id", "period", "submissions", "first_at", "first_channel",
                 "latest_status")  # fmt: skip
        return [dict(zip(names, row, strict=True)) for row in cursor]

    def chases(self, cycles: Iterable[str]) -> list[dict[str, Any]]:
        """Reminders and escalations sent in these cycles, with who and when."""
        cycles = list(cycles)
        if not cycles:
            return []
        slots = ", ".join("?" for _ in cycles)
        return list(
            self.db.query(
                f"SELECT kind, key, at, cycle FROM ledger WHERE kind IN ('reminder', 'escalation') "
                f"AND cycle IN ({slots}) ORDER BY id",
                cycles,
            )
        )

    def cycles_with_prompts(self) -> list[str]:
        """Every cycle in which pmbot prompted anyone, oldest first."""
        rows = self.db.execute(
            "SELECT DISTINCT cycle FROM ledger WHERE kind = 'prompt' AND cycle != '' ORDER BY cycle"
        )
        return [r[0] for r in rows]

    def submissions_of(self, measure_id: str, period: str | None = None) -> list[dict[str, Any]]:
        """Every submission of a measure (in one period, or all), oldest first."""
        return list(
            self.db.query(
                "SELECT * FROM submissions WHERE measure_id = ? AND (? IS NULL OR period = ?) "
                "ORDER BY period, id",
                [measure_id, period, period],
            )
        )

    def inbound_about(self, measure_id: str, message_ids: Iterable[str]) -> list[dict[str, Any]]:
        """Inbound messages that brought one of these submissions or whose outcome names the
        measure (a refused figure, a query)."""
        ids = list(message_ids)
        slots = ", ".join("?" for _ in ids) or "NULL"
        return list(
            self.db.query(
                f"SELECT * FROM inbound WHERE message_id IN ({slots}) "
                "OR instr(upper(reason), ?) > 0 ORDER BY id",
                [*ids, measure_id.upper()],
            )
        )
