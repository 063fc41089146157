"""What pmbot makes of one figure as it arrives: what leaders will hear; is it plausible?

Pure: the measure, the figure and the measure's own history come in; plain data comes out. The
same rules as the digest decide the reasons (``bot.digest.exception_reasons`` over the same chart),
so the owner's confirmation names exactly what the pack will say.

A figure is *implausible* when, against the latest group of its own history (at least
``MIN_HISTORY`` values since the last rebase), it lies outside the process limits and either

- a likely slip explains it: the figure x10, /10, x1000 or /1000, or (for a percentage) x100
  for a fraction typed for a percentage, would sit near the mean (within twice the limits'
  half-width), or
- it lies far outside: more than twice the limits' half-width from the mean.

Such a figure is not stored silently: the owner is asked to confirm or correct it, once.

    >>> history = [53.0, 52.0, 54.0, 53.5, 52.5, 53.0, 54.0, 52.0]
    >>> query = plausibility(4.9, "days", history)
    >>> query.kind, round(query.suggestion, 1)
    ('slip', 49.0)
    >>> plausibility(55.0, "days", history) is None
    True
    >>> plausibility(0.9, "%", [91.0, 90.0, 92.0, 91.5, 90.5, 91.0]).kind
    'fraction'
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from bot import spc
from bot.digest import exception_reasons
from bot.measures import Measure
from bot.tolerance import parse_tolerance, rag

MIN_HISTORY = 5  # fewer values say too little about what is plausible
# What a slip does to a figure, as the factor that undoes it, most likely first.
SLIPS = (10.0, 0.1, 1000.0, 0.001)
# The word an owner adds after a figure to say "yes, I meant it": 'OD-01: 4.9 confirm'.
CONFIRM_WORD = "confirm"


@dataclass(frozen=True)
class Query:
    """Why a figure was held back for the owner to confirm or correct."""

    kind: str  # slip, fraction or far
    suggestion: float | None  # the figure the owner probably meant (slip, fraction)
    mean: float
    lower_limit: float
    upper_limit: float


@dataclass(frozen=True)
class Reading:
    """What leaders will hear about a figure: its colour and every exception reason."""

    status: str  # green, amber, red, monitored
    reasons: tuple[str, ...]
    target: float | None


def plausibility(value: float, unit: str, history: Sequence[float]) -> Query | None:
    """A Query when ``value`` is implausible against ``history`` (the latest group's values)."""
    earlier = [v for v in history if v is not None and v == v]  # NaN is unequal to itself
    if len(earlier) < MIN_HISTORY:
        return None
    mean, lower, upper = spc.process_limits(earlier)
    # A flat history has limits on the mean; 5% of the mean keeps a small change plausible.
    half = max(upper - mean, 0.05 * abs(mean), 1e-9)
    lower, upper = min(lower, mean - half), max(upper, mean + half)
    if lower <= value <= upper:
        return None

    def near(candidate: float) -> bool:
        return abs(candidate - mean) <= 2 * half

    if unit == "%" and 0 < abs(value) <= 1 and near(value * 100):
        return Query("fraction", value * 100, mean, lower, upper)
    for factor in SLIPS:
        if value and near(value * factor):
            return Query("slip", value * factor, mean, lower, upper)
    if abs(value - mean) > 2 * half:
        return Query("far", None, mean, lower, upper)
    return None


# One measure's current figures, (period, value) oldest first: ``Store.figures``.
Figures = Sequence[tuple[str, float | None]]


def latest_group(measure: Measure, period: str, figures: Figures) -> list[float]:
    """The values before ``period`` since the measure's latest rebase, oldest first."""
    start = measure.rebase_for(period) if measure.rebase else None
    first = start.period if start is not None else ""
    # NaN is the one value unequal to itself.
    return [float(v) for p, v in figures if first <= p < period and v is not None and v == v]


def reading(
    measure: Measure, period: str, value: float, figures: Figures, rules: str = "ptd"
) -> Reading:
    """The figure's colour and exception reasons, as the digest will judge them.

    ``figures`` is the measure's own history (``Store.figures``). The chart is the one the
    digest draws for the measure (``cycle_history`` then ``spc.analyse``): its figures of its
    own frequency before ``period``, then this one, in groups split where the rebase in force
    changes, judged against the target in force for ``period``.
    """
    target = measure.target_for(period)
    status = "monitored"
    if target is not None:
        amber = parse_tolerance(measure.amber_tolerance)
        status = rag(value, measure.better, target, amber, parse_tolerance(measure.red_tolerance))
    quarterly = measure.frequency == "quarterly"
    values = [v for p, v in figures if p < period and ("Q" in p) == quarterly]
    values.append(value)
    rebase_at = []
    if measure.rebase:
        periods = [p for p, _ in figures if p < period and ("Q" in p) == quarterly]
        periods.append(period)
        groups = [_group_of(measure, p) for p in periods]
        rebase_at = [i for i in range(1, len(periods)) if groups[i] != groups[i - 1]]
    cause, variation, assurance, points = spc.latest_point(
        values, measure.better, target, rebase_at=rebase_at, rules=rules
    )
    reasons = exception_reasons(
        status, cause, variation, assurance, trial_limits=points < spc.MIN_FIXED_POINTS
    )
    return Reading(status, reasons, target)


def _group_of(measure: Measure, period: str) -> str:
    """The period that starts the rebase group ``period`` belongs to ("" before any)."""
    start = measure.rebase_for(period) if measure.rebase else None
    return start.period if start else ""


def needs_commentary(reasons: Sequence[str], required: str = "exception") -> tuple[str, ...]:
    """The reasons that need a word from the owner: all of them, or only red with ``red``.

    >>> needs_commentary(("red", "special_cause_concern"))
    ('red', 'special_cause_concern')
    >>> needs_commentary(("consistently_failing",), "red")
    ()
    """
    if required == "red":
        return tuple(r for r in reasons if r == "red")
    return tuple(reasons)


def confirmed_by_word(commentary: str) -> tuple[bool, str]:
    """Whether the commentary starts with the confirm word, and the commentary without it.

    >>> confirmed_by_word("confirm - a one-off bulk clearance"), confirmed_by_word("confirmed")
    ((True, 'a one-off bulk clearance'), (False, 'confirmed'))
    """
    first, _, rest = commentary.strip().partition(" ")
    if first.lower().rstrip(".,;:!") != CONFIRM_WORD:
        return False, commentary
    return True, rest.strip().lstrip("-\u2013\u2014,;:").strip()
