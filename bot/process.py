"""The reporting process measured: who reports on time, how late, how often figures are
corrected or not available, and how much chasing it took.

One `Expected` per figure that was due (a measure in a cycle, not silenced); the service builds
them from the submissions and the ledger. Everything here is pure arithmetic over them:

- on time: the first figure arrived on or before the due day (London date);
- days late: calendar days from the due day to the first figure, for late figures only
  (a figure never sent is counted as missing, not as late);
- corrections: submissions after the first;
- "not available" rate: figures whose latest submission is a gap, of the figures sent;
- chases: reminders and escalations sent to the owner in that cycle before the figure came.

pmbot's own process is a measure over time: the on-time rate per cycle, read as an XmR chart so
that its SPC says whether chasing is improving.

>>> from datetime import date
>>> rows = [Expected("2026-10", "OD-01", "2026-10", "a@x", "Ops", date(2026, 11, 6), 3, 2,
...                  False, 1)]
>>> r = summarise(rows, "owner")[0]
>>> r.on_time_rate, r.median_days_late, r.corrections, r.chases
(0.0, 3.0, 1, 1)
"""

from __future__ import annotations

import statistics
from collections import defaultdict
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import date

from bot.spc import xmr


@dataclass(frozen=True)
class Expected:
    cycle: str
    measure_id: str
    period: str
    owner: str
    area: str
    due: date
    days_late: int | None  # from the due day to the first figure (London dates); None: never came
    submissions: int
    not_available: bool  # the latest submission is a gap with a reason
    chases: int


@dataclass(frozen=True)
class ProcessRow:
    name: str  # an owner's email, an area, or a cycle
    expected: int
    on_time: int
    late: int
    missing: int
    median_days_late: float | None
    corrections: int
    not_available: int
    chases: int

    @property
    def sent(self) -> int:
        return self.on_time + self.late

    @property
    def on_time_rate(self) -> float | None:
        return self.on_time / self.expected if self.expected else None

    @property
    def not_available_rate(self) -> float | None:
        return self.not_available / self.sent if self.sent else None


@dataclass(frozen=True)
class ProcessReport:
    title: str  # what it covers, e.g. "2026-Q4"
    overall: ProcessRow
    owners: tuple[ProcessRow, ...]
    areas: tuple[ProcessRow, ...]
    cycles: tuple[ProcessRow, ...]  # pmbot's own process, cycle by cycle, oldest first
    variation: str | None  # the SPC reading of the on-time rate over the cycles
    names: Mapping[str, str] = field(default_factory=dict)  # owner email -> name, for people


def row_of(name: str, figures: Sequence[Expected]) -> ProcessRow:
    late = [f.days_late for f in figures if f.days_late]
    return ProcessRow(
        name=name,
        expected=len(figures),
        on_time=sum(f.days_late == 0 for f in figures),
        late=len(late),
        missing=sum(f.days_late is None for f in figures),
        median_days_late=float(statistics.median(late)) if late else None,
        corrections=sum(max(0, f.submissions - 1) for f in figures),
        not_available=sum(f.not_available for f in figures if f.days_late is not None),
        chases=sum(f.chases for f in figures),
    )


def summarise(figures: Iterable[Expected], by: str) -> list[ProcessRow]:
    """One row per owner, area or cycle (`by`), in name order."""
    groups: dict[str, list[Expected]] = defaultdict(list)
    for figure in figures:
        groups[getattr(figure, by)].append(figure)
    return [row_of(name, rows) for name, rows in sorted(groups.items())]


def process_report(
    title: str,
    figures: Sequence[Expected],
    history: Sequence[Expected] = (),
    names: Mapping[str, str] | None = None,
) -> ProcessReport:
    """The report for `figures`; the over-time view uses `history` (every cycle so far, which
    includes them) so that the chart has enough points to read."""
    cycles = summarise(history or figures, "cycle")
    rates = [row.on_time_rate for row in cycles]
    chart = xmr([None if r is None else 100 * r for r in rates], better="up") if rates else None
    return ProcessReport(
        title=title,
        overall=row_of("all", figures),
        owners=tuple(summarise(figures, "owner")),
        areas=tuple(summarise(figures, "area")),
        cycles=tuple(cycles),
        variation=chart.attrs["variation"] if chart is not None else None,
        names=dict(names or {}),
    )
