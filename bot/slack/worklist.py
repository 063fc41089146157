"""What one person may report in a cycle: the measures they own or deputise, with their state.

The submit modal, the App Home tab and the chase messages are built from these items. Read-only:
everything comes from the service's status report and last values.

>>> plain_number(1234.5), plain_number(1200000.0), plain_number(48.0)
('1234.5', '1200000', '48')
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal
from typing import Any

from bot.periods import Period, london_date, parse_period, reporting_period
from bot.service import Service, period_label
from bot.values import format_value

WAITING = ("outstanding", "missing")  # no figure yet this period


@dataclass(frozen=True)
class Item:
    measure_id: str
    name: str
    period: str
    unit: str
    better: str
    target: str  # as shown: "50 days"
    status: str  # green, amber, red, not_available, outstanding, missing
    shown: str  # the current figure as shown, "" when none
    entry: str  # the current figure as it can be typed back ("48", "n/a - outage"), "" when none
    commentary: str
    submitted_by: str
    revisions: int
    last_value: str  # the latest earlier figure, for the hint
    last_period: str
    owner_email: str
    deputy: bool  # the person is this measure's deputy, not its owner

    @property
    def waiting(self) -> bool:
        return self.status in WAITING


@dataclass(frozen=True)
class Worklist:
    cycle: str
    cycle_label: str
    due: str  # "Friday 6 November 2026"
    items: tuple[Item, ...]

    @property
    def waiting(self) -> tuple[Item, ...]:
        return tuple(i for i in self.items if i.waiting)

    def to_submit(self, everything: bool = False) -> tuple[Item, ...]:
        """The modal's measures: those still waiting, or all of them to correct a figure."""
        return self.items if everything or not self.waiting else self.waiting


def current_cycle(now: datetime) -> Period:
    return reporting_period(london_date(now))


def cycle_from(text: str | None, now: datetime) -> Period:
    return parse_period(text) if text else current_cycle(now)


def worklist(service: Service, email: str, cycle: Period, now: datetime) -> Worklist:
    email = email.lower()
    rows = [
        row
        for row in service.status(cycle, now).measures
        if email in (row["owner_email"], row["deputy_email"])
    ]
    last = service.last_values(r["id"] for r in rows if r["status"] in WAITING)
    due = service.calendar.cycle_dates(cycle).due
    items = tuple(item_from(row, email, last.get(row["id"], ("", ""))) for row in rows)
    return Worklist(str(cycle), period_label(cycle), f"{due:%A} {due.day} {due:%B %Y}", items)


def item_from(row: dict[str, Any], email: str, last: tuple[str, str]) -> Item:
    return Item(
        measure_id=row["id"],
        name=row["name"],
        period=row["period"],
        unit=row["unit"],
        better=row["better"],
        target=format_value(row["target"], row["unit"]),
        status=row["status"],
        shown=row["display_value"],
        entry=entry_text(row),
        commentary=row["commentary"] or "",
        submitted_by=row["submitted_by"] or "",
        revisions=row["revisions"],
        last_value=last[1],
        last_period=last[0],
        owner_email=row["owner_email"],
        deputy=row["owner_email"] != email,
    )


def entry_text(row: dict[str, Any]) -> str:
    """The stored figure as the owner would type it, to prefill a correction."""
    if not row["revisions"]:
        return ""
    if row["value"] is None:
        return f"n/a - {row['reason']}" if row["reason"] else "n/a"
    number = plain_number(row["value"])
    return f"{number}%" if row["unit"] == "%" else number


def plain_number(value: float) -> str:
    """Every digit of a stored float and no exponent (format_value rounds to 2 places)."""
    text = format(Decimal(repr(float(value))).normalize(), "f")
    return text
