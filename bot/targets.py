"""A measure's life in the register: its targets over time and the points its process changed.

Pure: plain data in, plain data out.

A target is always read for a figure's *own* period, so changing next year's target never
re-colours the past. ``targets`` is a list of steps ``{from: PERIOD, value: N}``, each in force
from its period until the next step; before the first step a measure has no target. A step with
``trajectory: true`` is phased: the target moves in equal steps, period by period, from that
step's value to the next step's value, which it reaches in the next step's own period (so a
trajectory needs a later step to head for).

    >>> steps = (TargetStep("2025-04", 60.0, trajectory=True), TargetStep("2025-07", 54.0))
    >>> [target_for(steps, p) for p in ("2025-03", "2025-04", "2025-05", "2025-06", "2025-07")]
    [None, 60.0, 58.0, 56.0, 54.0]

``rebase`` lists the periods where the process changed, with the reason: the XmR limits
restart there.

In a CSV register the same lists are written in one cell each, entries separated by ``;``:
``targets`` as ``2023-10: 55; 2026-04: 50 trajectory; 2027-04: 45`` and ``rebase`` as
``2026-02: recruitment of 40 case managers finished`` (so a reason cannot hold a ``;``).

    >>> parse_targets("2023-10: 55; 2026-04: 50")
    (TargetStep(start='2023-10', value=55.0, trajectory=False), \
TargetStep(start='2026-04', value=50.0, trajectory=False))
"""

from __future__ import annotations

import functools
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from bot.periods import InvalidPeriod, Period, parse_period


class InvalidHistory(ValueError):
    """A `targets` or `rebase` entry the register cannot hold; the message says how to fix it."""


@dataclass(frozen=True)
class TargetStep:
    start: str  # the period it is in force from, "" for always (a plain `target:`)
    value: float
    trajectory: bool = False


@dataclass(frozen=True)
class Rebase:
    period: str
    reason: str


def _month_index(period: Period) -> int:
    """Months since year 0 of the period's first month, so months and quarters compare."""
    return period.start.year * 12 + period.start.month - 1


@functools.lru_cache(maxsize=4096)  # a digest asks for the same few periods many times
def _index(text: str) -> int:
    return _month_index(parse_period(text)) if text else -(10**9)


def target_for(steps: Sequence[TargetStep], period: str) -> float | None:
    """The target in force for ``period`` (None before the first step, or with no steps).

    >>> target_for((TargetStep("", 55.0),), "2020-01"), target_for((), "2026-01")
    (55.0, None)
    """
    if not steps:
        return None
    at = _index(period)
    current = None
    for number, step in enumerate(steps):
        if _index(step.start) <= at:
            current = number
    if current is None:
        return None
    step = steps[current]
    if not step.trajectory or current + 1 >= len(steps):
        return step.value
    following = steps[current + 1]
    start, stop = _index(step.start), _index(following.start)
    return step.value + (following.value - step.value) * (at - start) / (stop - start)


def rebase_for(rebases: Sequence[Rebase], period: str) -> Rebase | None:
    """The latest rebase at or before ``period``: the start of the group its point belongs to."""
    at = _index(period)
    earlier = [r for r in rebases if _index(r.period) <= at]
    return earlier[-1] if earlier else None


def parse_targets(raw: Any) -> tuple[TargetStep, ...]:
    """Read ``targets`` from YAML (a list of mappings) or a CSV cell; raises InvalidHistory."""
    entries = _entries(raw, "targets")
    steps = []
    for entry in entries:
        if isinstance(entry, str):
            period, _, rest = entry.partition(":")
            words = rest.split()
            entry = {"from": period.strip(), "value": words[0] if words else ""}
            if words[1:] == ["trajectory"]:
                entry["trajectory"] = True
            elif words[1:]:
                raise InvalidHistory(
                    f"{rest.strip()!r}: after the value only the word 'trajectory' may follow"
                )
        if not isinstance(entry, dict) or set(map(str, entry)) - {"from", "value", "trajectory"}:
            raise InvalidHistory(
                "each entry needs from: PERIOD and value: NUMBER (and optionally trajectory: true)"
            )
        # No `from` (only sensible on the first entry): in force from the start of the history.
        start = _period(entry.get("from"), "targets") if entry.get("from") else ""
        steps.append(TargetStep(start, _number(entry.get("value")), _flag(entry.get("trajectory"))))
    _check_order([s.start for s in steps], "targets")
    if steps and steps[-1].trajectory:
        raise InvalidHistory(
            f"the last entry ({steps[-1].start}) is a trajectory with no later entry to head for; "
            "add the entry it reaches, or drop trajectory"
        )
    return tuple(steps)


def parse_rebase(raw: Any) -> tuple[Rebase, ...]:
    """Read ``rebase`` from YAML (a list of mappings) or a CSV cell; raises InvalidHistory."""
    rebases = []
    for entry in _entries(raw, "rebase"):
        if isinstance(entry, str):
            period, _, reason = entry.partition(":")
            entry = {"period": period.strip(), "reason": reason.strip()}
        if not isinstance(entry, dict) or set(map(str, entry)) - {"period", "reason"}:
            raise InvalidHistory("each entry needs period: PERIOD and reason: TEXT")
        reason = str(entry.get("reason") or "").strip()
        if not reason:
            raise InvalidHistory("every rebase needs a reason: leaders see it beside the limits")
        rebases.append(Rebase(_period(entry.get("period"), "rebase"), reason))
    _check_order([r.period for r in rebases], "rebase")
    return tuple(rebases)


def to_plain(items: Sequence[TargetStep] | Sequence[Rebase]) -> list[dict[str, Any]]:
    """The YAML form, for JSON output and the store."""
    plain = []
    for item in items:
        if isinstance(item, TargetStep):
            entry: dict[str, Any] = {"from": item.start or None, "value": item.value}
            if item.trajectory:
                entry["trajectory"] = True
        else:
            entry = {"period": item.period, "reason": item.reason}
        plain.append(entry)
    return plain


def _entries(raw: Any, name: str) -> list[Any]:
    if raw is None or (isinstance(raw, str) and not raw.strip()):
        return []
    if isinstance(raw, str):
        return [part.strip() for part in raw.split(";") if part.strip()]
    if isinstance(raw, list):
        return raw
    raise InvalidHistory(f"{name} must be a list of entries")


def _period(raw: Any, name: str) -> str:
    try:
        return str(parse_period(str(raw or "").strip()))
    except InvalidPeriod as exc:
        raise InvalidHistory(f"{raw!r} is not a period ({exc})") from None


def _number(raw: Any) -> float:
    try:
        value = float(str(raw).replace(",", "").rstrip("%").lstrip("£"))
    except ValueError:
        raise InvalidHistory(f"value {raw!r} is not a number") from None
    if value != value or value in (float("inf"), float("-inf")):
        raise InvalidHistory(f"value {raw!r} is not a finite number")
    return value


def _flag(raw: Any) -> bool:
    return str(raw).strip().lower() in {"true", "yes", "1"} if raw is not None else False


def _check_order(periods: list[str], name: str) -> None:
    indexes = [_index(p) for p in periods]
    if any(b <= a for a, b in zip(indexes, indexes[1:], strict=False)):
        raise InvalidHistory(f"{name} entries must be in time order, each period once")
