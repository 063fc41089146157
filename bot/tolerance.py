"""RAG status of a value against its target and tolerances.

Both tolerances are distances from the target on the *bad* side: an absolute amount in the
measure's unit (``5``) or a percentage of the target (``"10%"`` of 90 is 9). How far a value
falls on the bad side is its *shortfall* ``d``:

- ``better: up``      d = target - value   (below target is bad)
- ``better: down``    d = value - target   (above target is bad)
- ``better: neutral`` d = |value - target| (a band either side of the target)

With ``a`` the amber distance and ``r`` the red distance:

- green when ``d <= a`` (with no amber tolerance ``a = 0``: green means at or better than target)
- amber when ``a < d <= r``
- red when ``d > r``

With no red tolerance, red starts straight after the amber band (``r = a``); with neither,
anything short of target is red. A red tolerance narrower than the amber one leaves no amber
band. A value exactly on a threshold gets the better colour, and float noise at a threshold
(``90 - 10% of 90`` computed in floats) is not allowed to tip it over.

Worked example, ``better: up``, target 90, amber ``5%`` (4.5), red ``10%`` (9):

    >>> amber, red = parse_tolerance("5%"), parse_tolerance("10%")
    >>> [rag(v, "up", 90, amber, red) for v in (95, 90, 85.5, 85, 81, 80.9)]
    ['green', 'green', 'green', 'amber', 'amber', 'red']

The same tolerances on a ``down`` measure mirror this: 94.5 is green, 99 amber, 99.1 red.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from functools import lru_cache
from numbers import Real

BETTER = ("up", "down", "neutral")

# The colours ranked from best to worst; other modules compare colours with this.
COLOURS = ("green", "amber", "red")

# Relative to the scale of the target and tolerances; far below any real difference in a
# reported figure, far above float rounding error.
_EPSILON = 1e-9

_ACCEPTED = 'write an absolute distance like 5 or a percentage of the target like "10%"'


class InvalidTolerance(ValueError):
    """A tolerance that is not a non-negative number or percentage."""


@dataclass(frozen=True)
class Tolerance:
    """A distance from the target: ``amount`` itself, or ``amount`` percent of the target.

    >>> Tolerance(10, percent=True).distance(-50), Tolerance(5, percent=False).distance(90)
    (5.0, 5)
    """

    amount: float
    percent: bool

    def __post_init__(self) -> None:
        if not math.isfinite(self.amount) or self.amount < 0:
            raise InvalidTolerance(f"a tolerance must be a number 0 or above, not {self.amount!r}")

    def distance(self, target: float) -> float:
        """The tolerance as an absolute distance; a percentage is of ``|target|``."""
        if self.percent:
            return self.amount * abs(target) / 100
        return self.amount

    def __str__(self) -> str:
        return f"{self.amount:g}%" if self.percent else f"{self.amount:g}"


def parse_tolerance(raw: str | float | int | None) -> Tolerance | None:
    """Read a tolerance from the register: ``5``, ``"5"``, ``"10%"``, ``" 10 % "``.

    ``None``, blank text and a float NaN (a blank cell read by pandas) mean no tolerance.
    A negative or non-numeric tolerance raises ``InvalidTolerance`` saying what is accepted.

    >>> parse_tolerance(" 10 % "), parse_tolerance(5), parse_tolerance("")
    (Tolerance(amount=10.0, percent=True), Tolerance(amount=5.0, percent=False), None)
    """
    if raw is None:
        return None
    if isinstance(raw, bool):
        raise InvalidTolerance(f"tolerance {raw!r} is not a number; {_ACCEPTED}")
    if isinstance(raw, Real):
        if math.isnan(raw):
            return None
        return _tolerance(float(raw), percent=False, raw=raw)
    if not isinstance(raw, str):
        raise InvalidTolerance(f"tolerance {raw!r} is not a number; {_ACCEPTED}")
    return _parse_text(raw)


@lru_cache(maxsize=256)  # a register has a handful of tolerances, read for every figure
def _parse_text(raw: str) -> Tolerance | None:
    text = raw.strip()
    if not text:
        return None
    percent = text.endswith("%")
    number = text.removesuffix("%").strip()
    try:
        amount = float(number)
    except ValueError:
        raise InvalidTolerance(f"tolerance {raw!r} is not a number; {_ACCEPTED}") from None
    return _tolerance(amount, percent=percent, raw=raw)


def _tolerance(amount: float, *, percent: bool, raw: object) -> Tolerance:
    if not math.isfinite(amount):
        raise InvalidTolerance(f"tolerance {raw!r} is not a number; {_ACCEPTED}")
    if amount < 0:
        raise InvalidTolerance(
            f"tolerance {raw!r} is negative; it is a distance from the target on the bad side, "
            f"so {_ACCEPTED}"
        )
    return Tolerance(amount, percent)


def shortfall(value: float, better: str, target: float) -> float:
    """How far ``value`` is on the bad side of ``target``; 0 or less means at or better.

    For ``neutral`` there is no good side: it is the distance either way.

    >>> shortfall(85, "up", 90), shortfall(85, "down", 90), shortfall(95, "neutral", 90)
    (5, -5, 5)
    """
    if better == "up":
        return target - value
    if better == "down":
        return value - target
    if better == "neutral":
        return abs(value - target)
    raise ValueError(f"better must be one of {', '.join(BETTER)}, not {better!r}")


def rag(
    value: float,
    better: str,
    target: float,
    amber: Tolerance | None,
    red: Tolerance | None,
) -> str:
    """``"green"``, ``"amber"`` or ``"red"`` for ``value`` (see the module docstring for the rules).

    >>> rag(93, "neutral", 90, Tolerance(2, False), Tolerance(5, False))
    'amber'
    """
    if not (math.isfinite(value) and math.isfinite(target)):
        raise ValueError(f"value and target must be finite numbers, got {value!r} and {target!r}")
    d = shortfall(value, better, target)
    amber_distance = amber.distance(target) if amber else 0.0
    red_distance = red.distance(target) if red else amber_distance
    # The allowance depends only on target and tolerances, never on the value, so a better
    # value can never get a worse colour.
    noise = _EPSILON * (abs(target) + max(amber_distance, red_distance))
    if d <= amber_distance + noise:
        return "green"
    if d <= red_distance + noise:
        return "amber"
    return "red"


def status(
    *,
    value: float | None,
    submitted: bool,
    not_available: bool,
    overdue: bool,
    better: str,
    target: float | None,
    amber: Tolerance | None,
    red: Tolerance | None,
) -> str:
    """The status of one measure for one period, as shown in the pack and ``status --json``.

    - a submitted value: its colour, ``"green"``, ``"amber"`` or ``"red"`` (late or not);
      ``"monitored"`` when no target is in force for the period (no colour at all)
    - a submitted gap with a reason: ``"not_available"``
    - nothing submitted: ``"missing"`` once overdue, ``"outstanding"`` before

    A submission is either a value or a gap, so contradictory arguments (a value that was not
    submitted, a gap with a value, a submission with neither) raise ``ValueError``.

    >>> status(value=None, submitted=False, not_available=False, overdue=True,
    ...        better="up", target=90, amber=None, red=None)
    'missing'
    """
    if not submitted:
        if value is not None or not_available:
            raise ValueError("a value or a gap means something was submitted")
        return "missing" if overdue else "outstanding"
    if not_available:
        if value is not None:
            raise ValueError("a gap reported as not available has no value")
        return "not_available"
    if value is None:
        raise ValueError("a submission has a value or is marked not available")
    if target is None:
        return "monitored"
    return rag(value, better, target, amber, red)
