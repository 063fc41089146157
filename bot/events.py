"""The events every transport produces and the results the service hands back.

A Slack modal, a typed DM, an email line and `pmbot submit` all become one `Submission`, so
validation and authorisation exist in one place (the service).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime


@dataclass(frozen=True)
class Submission:
    measure_id: str
    raw_value: str  # what followed "OD-01:", value and any commentary: "48 backlog down"
    sender: str  # email address of whoever sent it
    channel: str  # slack, email, cli
    source_ref: str  # unique per submission: Message-ID#OD-01, Slack trigger id...
    received_at: datetime
    commentary: str = ""  # commentary given separately (Slack modal field, --comment)
    period: str | None = None  # an explicit period ("2026-10", "2026-Q3")
    cycle: str | None = None  # the monthly cycle the reply answers, when no explicit period
    confirm: bool = False  # the sender says an unusual figure is right (CLI --confirm)


@dataclass(frozen=True)
class Outcome:
    """What happened to one submission; `message` is the sentence the sender reads."""

    measure_id: str
    stored: bool
    message: str
    period: str = ""
    value: float | None = None
    display_value: str = ""
    status: str = ""  # green, amber, red, not_available
    revised: bool = False  # a correction of an earlier figure for the same period
    duplicate: bool = False  # the same message delivered again: nothing new stored
    field: str = "value"  # which input was at fault (Slack shows the error there)
    # Every reason leaders will see this figure as an exception for (bot.digest_model).
    reasons: tuple[str, ...] = ()
    queried: bool = False  # held back as implausible: confirm or correct it

    @property
    def exception(self) -> bool:
        return self.stored and bool(self.reasons or self.status == "red")


@dataclass(frozen=True)
class PromptLine:
    measure_id: str
    name: str
    period: str
    unit: str
    target: str
    last_value: str
    last_period: str
    current: str = ""  # the value already given this period, when correcting


@dataclass(frozen=True)
class Prompt:
    """One owner's request for figures in one cycle."""

    owner_email: str
    owner_name: str
    cycle: str
    cycle_label: str  # "October 2026"
    due: str  # "Friday 6 November 2026"
    reference: str  # short reference carried in the subject, e.g. PM-2026-10-3F9A
    lines: list[PromptLine] = field(default_factory=list)

    @property
    def ledger_key(self) -> str:
        return f"{self.owner_email}:{self.cycle}"
