"""What the clock asks for at a given moment: prompts, reminders, escalations, summary, digest.

Pure: it is given the cycle's dates, who is still outstanding and what the ledger says was
already done, and returns the actions still to do. Because it looks only at the state and not
at what happened in the previous tick, a restart simply asks again and gets what was missed.

>>> from datetime import date
>>> from bot.periods import WorkingCalendar, parse_period
>>> dates = WorkingCalendar().cycle_dates(parse_period("2026-10"))
>>> [a.kind for a in due_actions(date(2026, 11, 2), dates, {"a@x": ["OD-01"]}, set())]
['prompt']
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import date

from bot.periods import CycleDates

KINDS = ("prompt", "reminder", "escalation", "summary", "digest")


@dataclass(frozen=True)
class Action:
    kind: str  # one of KINDS
    key: str  # the ledger key that makes it happen once
    cycle: str
    owner_email: str = ""  # for prompt, reminder and escalation; the approver for sign-off
    measure_ids: tuple[str, ...] = field(default=())
    reminder: int = 0  # which reminder (1 = the first)
    area: str = ""  # for a sign-off request or reminder


def due_actions(
    today: date,
    dates: CycleDates,
    outstanding: Mapping[str, Sequence[str]],
    done: set[tuple[str, str]],
    *,
    prompted_today: set[str] = frozenset(),  # type: ignore[assignment]
) -> list[Action]:
    """The actions due on `today` (a working day, in working hours) that the ledger lacks.

    `outstanding` maps each owner to their measures with no figure yet; `done` holds the
    ledger's (kind, key) pairs for the cycle; `prompted_today` the owners prompted today, who
    are not reminded on the same day.
    """
    cycle = str(dates.period)
    actions: list[Action] = []
    if today < dates.prompt:
        return actions

    def add(kind: str, key: str, **fields) -> None:
        if (kind, key) not in done:
            actions.append(Action(kind, key, cycle, **fields))

    for owner, ids in sorted(outstanding.items()):
        add("prompt", f"{owner}:{cycle}", owner_email=owner, measure_ids=tuple(ids))

    # Only the latest reminder whose day has come is sent: an earlier one that was missed
    # (the bot was down) is superseded, and escalation supersedes them all.
    passed = [n for n, day in enumerate(dates.reminders, start=1) if day <= today]
    if passed and today < dates.escalation:
        number = passed[-1]
        for owner, ids in sorted(outstanding.items()):
            just_prompted = owner in prompted_today or ("prompt", f"{owner}:{cycle}") not in done
            if not just_prompted:
                add("reminder", f"{owner}:{cycle}:{number}", owner_email=owner,
                    measure_ids=tuple(ids), reminder=number)  # fmt: skip

    if today >= dates.escalation:
        for owner, ids in sorted(outstanding.items()):
            add("escalation", f"{owner}:{cycle}", owner_email=owner, measure_ids=tuple(ids))

    if today > dates.due or not outstanding:
        add("summary", cycle)
    if today >= dates.digest:
        add("digest", cycle)
    return actions
