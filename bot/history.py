"""Validate a history file (CSV: measure_id, period, value, reason, commentary) against the
register.

Like the register, a history file is checked whole before anything is stored: every problem is
listed with its row and field, and a file with any problem imports nothing.
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import date
from pathlib import Path

import jinja2

from bot.measures import ImportRejected, Measure, Problem, read_csv_rows, read_text
from bot.periods import InvalidPeriod
from bot.spans import YEAR_START, parse_reporting_period
from bot.templating import value_refusal
from bot.values import InvalidValue, parse_entry

COLUMNS = ("measure_id", "period", "value", "reason", "commentary")


@dataclass(frozen=True)
class HistoryRow:
    measure_id: str
    period: str
    value: float | None
    reason: str
    commentary: str

    @property
    def source_ref(self) -> str:
        """The same row imported twice is one submission; a changed row is a revision."""
        content = f"{self.value!r}|{self.reason}|{self.commentary}".encode()
        return f"import:{self.measure_id}:{self.period}:{hashlib.sha1(content).hexdigest()[:12]}"


def load_history(
    path: Path,
    measures: Mapping[str, Measure],
    today: date,
    words: jinja2.Environment,
    year_start: int = YEAR_START,
) -> list[HistoryRow]:
    """The rows of a history CSV; raises ImportRejected listing every problem. `words` is the
    bot's template environment, which words a refused value (templates/values.txt)."""
    text = read_text(path)
    rows = read_csv_rows(text, path.name)
    if rows and (missing := [c for c in ("measure_id", "period", "value") if c not in rows[0]]):
        problem = Problem(0, missing[0], f"column missing; the columns are {', '.join(COLUMNS)}")
        raise ImportRejected([problem], path.name)
    return validate_history(rows, measures, today, words, source=path.name,
                            year_start=year_start)  # fmt: skip


def validate_history(
    rows: Iterable[Mapping[str, str | None]],
    measures: Mapping[str, Measure],
    today: date,
    words: jinja2.Environment,
    source: str = "history",
    year_start: int = YEAR_START,
) -> list[HistoryRow]:
    problems: list[Problem] = []
    accepted: list[HistoryRow] = []
    seen: dict[tuple[str, str], int] = {}
    # CSV rows are numbered as a spreadsheet shows them: the header is row 1.
    for number, row in enumerate(rows, start=2):
        result = validate_row(number, row, measures, today, problems, words, year_start)
        if result is None:
            continue
        key = (result.measure_id, result.period)
        if key in seen:
            message = f"{result.measure_id} {result.period} appears twice (also row {seen[key]})"
            problems.append(Problem(number, "period", message))
            continue
        seen[key] = number
        accepted.append(result)
    if not accepted and not problems:
        problems.append(Problem(0, "", "the file has no rows"))
    if problems:
        raise ImportRejected(problems, source)
    return accepted


def validate_row(
    number: int,
    row: Mapping[str, str | None],
    measures: Mapping[str, Measure],
    today: date,
    problems: list[Problem],
    words: jinja2.Environment,
    year_start: int = YEAR_START,
) -> HistoryRow | None:
    def text(name: str) -> str:
        return (row.get(name) or "").strip()

    measure_id = text("measure_id").upper()
    measure = measures.get(measure_id)
    if measure is None:
        what = f"{measure_id!r} is not in the register" if measure_id else "missing"
        problems.append(Problem(number, "measure_id", what))
        return None
    try:
        period = parse_reporting_period(text("period"), year_start)
    except InvalidPeriod as exc:
        problems.append(Problem(number, "period", str(exc)))
        return None
    if period.frequency != measure.frequency:
        example = "2026-Q3" if measure.frequency == "quarterly" else "2026-10"
        message = (
            f"{measure_id} is reported {measure.frequency} but {period} is a "
            f"{period.frequency} period; use a period like {example}"
        )
        problems.append(Problem(number, "period", message))
        return None
    if period.end >= today:
        problems.append(Problem(number, "period", f"{period} has not ended yet"))
        return None
    raw_value, reason = text("value"), text("reason")
    if not raw_value:
        if not reason:
            message = "blank value needs a reason saying why the figure is missing"
            problems.append(Problem(number, "reason", message))
            return None
        return HistoryRow(measure_id, str(period), None, reason, text("commentary"))
    try:
        entry = parse_entry(raw_value, measure.unit, measure_id)
    except InvalidValue as exc:
        problems.append(Problem(number, "value", value_refusal(words, exc.code, exc.params)))
        return None
    commentary = " ".join(filter(None, (entry.commentary, text("commentary"))))
    return HistoryRow(measure_id, str(period), entry.value, entry.reason or reason, commentary)
