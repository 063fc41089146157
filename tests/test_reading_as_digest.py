"""A figure's confirmation says what the pack will: `reading` judges one measure's own figures
the way the digest judges the whole history (`cycle_history` then `spc.analyse`)."""

from __future__ import annotations

import random

import pandas as pd
import pytest

from bot import spc
from bot.digest import cycle_history, exception_reasons
from bot.judgement import latest_group, reading
from bot.measures import Measure
from bot.targets import parse_rebase, parse_targets


def digest_reasons(measure: Measure, period: str, value: float, figures, rules: str):
    """The reasons as the digest gives them, over a history frame of this measure."""
    history = pd.DataFrame(
        [{"measure_id": measure.id, "period": p, "value": v} for p, v in figures],
        columns=["measure_id", "period", "value"],
    )
    row = {"id": measure.id, "period": period, "value": value}
    charts = spc.analyse(cycle_history(history, [row], {measure.id: measure}), rules=rules)
    summary = charts.attrs["summary"].loc[measure.id]
    cause = charts["special_cause"].iloc[-1]
    target = measure.target_for(period)
    status = reading(measure, period, value, figures, rules).status
    return exception_reasons(
        status,
        cause if isinstance(cause, str) else None,
        summary["variation"] if isinstance(summary["variation"], str) else None,
        summary["assurance"] if isinstance(summary["assurance"], str) else None,
        trial_limits=bool(summary["trial_limits"]),
    ), target


def months(first_year: int, count: int) -> list[str]:
    return [f"{first_year + (m // 12)}-{m % 12 + 1:02}" for m in range(count)]


@pytest.mark.parametrize("seed", range(40))
def test_the_confirmation_names_the_reasons_the_digest_will_give(seed):
    chance = random.Random(seed)
    better = chance.choice(["up", "down", "neutral"])
    rebase = parse_rebase("2025-06: new team") if chance.random() < 0.4 else ()
    targets = (
        parse_targets("2024-01: 50; 2025-04: 45")
        if chance.random() < 0.5
        else parse_targets("2024-01: 50")
        if chance.random() < 0.7
        else ()
    )
    measure = Measure(
        "OD-01", "Days", "Ops", "days", better, targets[-1].value if targets else None,
        "o@agency.example", amber_tolerance="5%", red_tolerance="10%", targets=targets,
        rebase=rebase,
    )  # fmt: skip
    level = chance.uniform(35, 60)
    periods = months(2024, chance.randint(0, 30))
    figures = [
        (p, None if chance.random() < 0.1 else round(level + chance.gauss(0, 3) + i * 0.2, 1))
        for i, p in enumerate(periods)
    ]
    figures.append(("2025-Q2", 7.0))  # a stray quarter row: not on a monthly chart
    figures.sort()
    period = "2026-07"
    value = round(level + chance.choice([0, 0, 12, -12]), 1)
    for rules in spc.RULE_SETS:
        judged = reading(measure, period, value, figures, rules)
        expected, target = digest_reasons(measure, period, value, figures, rules)
        assert (judged.reasons, judged.target) == (expected, target)


def test_the_plausibility_history_starts_at_the_latest_rebase():
    measure = Measure(
        "OD-01", "Days", "Ops", "days", "down", 50, "o@agency.example",
        rebase=parse_rebase("2025-03: new team"),
    )  # fmt: skip
    figures = [("2025-01", 10.0), ("2025-02", None), ("2025-03", 30.0), ("2025-04", 31.0)]
    assert latest_group(measure, "2025-04", figures) == [30.0]
