"""The events every transport produces and the results the service hands back.

A Slack modal, a typed DM, an email line and `pmbot submit` all become one `Submission`, so
validation and authorisation exist in one place (the service).
"""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any


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
    """What happened to one submission: a `code` and its `params`. The sentence the sender
    reads is the template's (templates/outcomes.txt, the `outcome` filter), never Python's.

    Codes: stored, already_stored; refusals: unknown_measure, not_owner, invalid_value,
    invalid_period, wrong_frequency, not_ended, needs_commentary, queried (held back as
    implausible: "did you mean...?").
    """

    measure_id: str
    stored: bool
    code: str
    params: dict[str, Any] = field(default_factory=dict, compare=False)
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
    deputy_for: str = ""  # sent to a deputy: the owner's name
    owner_away: bool = False  # ... because the owner's automatic reply says they are away
    query: str = ""  # sent because an approver queried the figure: the question
    queried_by: str = ""

    @property
    def ledger_key(self) -> str:
        return f"{self.owner_email}:{self.cycle}"


@dataclass(frozen=True)
class SignoffRequest:
    """An area's figures put to its approver: approve them, or query one (bot.signoff)."""

    area: str
    cycle: str
    cycle_label: str
    approver_email: str
    approver_name: str
    rows: tuple[dict[str, Any], ...]  # the area's status rows (id, name, display_value, ...)
    complete: bool  # every figure is in; else the window has closed without some
    signoff_day: str  # "Tuesday 10 November": decide by then
    digest_day: str
    reminder: bool = False


@dataclass(frozen=True)
class Inbound:
    """One message that arrived on any transport, already translated by its handler.

    `Service.receive` is the one inbound use case: it records the message (once: a redelivery
    with the same `message_id` is recognised), checks the sender is in the register, submits
    each figure and says what to confirm.
    """

    message_id: str  # unique per message: Message-ID, "slack:dm:C1:ts", "slack:view:..."
    channel: str  # email, slack, cli (the transport's name for chats)
    sender: str  # email address the transport identified; "" when it could not
    received_at: datetime
    submissions: tuple[Submission, ...] = ()
    subject: str = ""
    ignore: str = ""  # why the message must not be answered (an auto-reply): recorded only
    # What tells two messages with one id apart (email: sender and body; gateways reuse
    # Message-IDs). A message is a redelivery when both match, or the first had none.
    fingerprint: str = ""


@dataclass(frozen=True)
class Receipt:
    """What `Service.receive` did with an `Inbound`, for the handler to confirm.

    `code` names what the sender is told (a template macro): "confirmation", "stranger",
    "no_figures", or "" for nothing (ignored, or already handled on an earlier delivery).
    """

    outcome: str  # stored, rejected, ignored, seen
    reason: str  # for the inbound record and the log (not shown to the sender)
    code: str = ""
    outcomes: tuple[Outcome, ...] = ()

    @property
    def stored(self) -> bool:
        return any(o.stored and not o.duplicate for o in self.outcomes)


@dataclass(frozen=True)
class StatusReport:
    cycle: str
    as_of: str
    measures: list[dict[str, Any]]

    @property
    def outstanding(self) -> dict[str, list[str]]:
        """Owner email -> ids of their measures with no figure yet."""
        owners: dict[str, list[str]] = defaultdict(list)
        for row in self.measures:
            if row["status"] in ("outstanding", "missing"):
                owners[row["owner_email"]].append(row["id"])
        return dict(owners)

    @property
    def submitted(self) -> int:
        return sum(row["revisions"] > 0 for row in self.measures)

    def as_json(self) -> dict[str, Any]:
        return {
            "cycle": self.cycle,
            "as_of": self.as_of,
            "due": len(self.measures),
            "submitted": self.submitted,
            "outstanding": self.outstanding,
            "measures": self.measures,
        }
