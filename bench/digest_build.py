"""Benchmark: build the digest for 2,000 measures with 60 months of history each.

Target: well under 2 seconds. Run by hand:

    .venv/bin/python bench/digest_build.py [--measures 2000] [--months 60] [--repeat 5]

The history is synthetic: noisy levels, drifts and steps, a few gaps, one measure in twenty
quarterly; one current figure in fifty is missing and one in fifty not available. Only
``build_digest`` is timed (the store is not involved), and the best of the runs is reported
with the breakdown of its main stages.
"""

from __future__ import annotations

import argparse
import sys
import time
from datetime import date, datetime
from pathlib import Path

import numpy as np
import pandas as pd

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from bot import digest, spc, trends  # noqa: E402
from bot.measures import Measure  # noqa: E402
from bot.periods import LONDON, Period  # noqa: E402
from bot.tolerance import parse_tolerance, status  # noqa: E402
from bot.values import format_value  # noqa: E402

CYCLE = Period(2026, month=9)


def synthetic(n_measures: int, months: int, seed: int = 0):
    """Measures, their history up to and including the cycle, and the cycle's status rows."""
    rng = np.random.default_rng(seed)
    measures, frames, rows = [], [], []
    for number in range(n_measures):
        quarterly = number % 20 == 19
        steps = months // 3 if quarterly else months
        last = Period(CYCLE.year, quarter=3) if quarterly else CYCLE
        periods = [str(last.shift(k - steps + 1)) for k in range(steps)]
        level = rng.uniform(20, 80)
        values = level + rng.normal(0, 3, steps)
        if number % 3 == 1:
            values += np.linspace(0, rng.normal(0, 10), steps)  # a drift
        if number % 3 == 2:
            values += np.where(np.arange(steps) > steps * 0.8, rng.normal(0, 8), 0)  # a step
        values = np.clip(values, 0, 100).round(1)
        values[rng.random(steps) < 0.03] = np.nan
        better = ("up", "down", "neutral")[number % 3]
        measure = Measure(
            id=f"M{number // 10000}-{number % 10000:04d}",
            name=f"Measure {number}",
            area=f"Area {number % 7}",
            unit="%",
            better=better,
            target=round(level, 0),
            owner_email=f"owner{number % 150}@agency.example",
            amber_tolerance="2",
            red_tolerance="5",
            frequency="quarterly" if quarterly else "monthly",
        )
        measures.append(measure)
        fate = number % 50
        value = None if fate in (0, 1) or np.isnan(values[-1]) else float(values[-1])
        if fate in (0, 1):
            values[-1] = np.nan
        frames.append(pd.DataFrame({"measure_id": measure.id, "period": periods, "value": values}))
        colour = status(
            value=value,
            submitted=fate != 0,
            not_available=fate != 0 and value is None,
            overdue=True,
            better=better,
            target=measure.target,
            amber=parse_tolerance(measure.amber_tolerance),
            red=parse_tolerance(measure.red_tolerance),
        )
        rows.append(
            {
                "id": measure.id,
                "period": periods[-1],
                "value": value,
                "display_value": format_value(value, "%") if fate != 0 else "",
                "status": colour,
                "reason": "system outage" if colour == "not_available" else "",
                "revisions": 0 if fate == 0 else 1 + (number % 10 == 0),
                "submitted_by": None if fate == 0 else measure.owner_email,
                "submitted_at": None if fate == 0 else "2026-10-05T09:00:00+01:00",
                "channel": None if fate == 0 else "email",
                "commentary": "explained" if colour == "red" else "",
            }
        )
    history = pd.concat(frames, ignore_index=True)
    return measures, history, rows


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--measures", type=int, default=2000)
    parser.add_argument("--months", type=int, default=60)
    parser.add_argument("--repeat", type=int, default=5)
    args = parser.parse_args()

    measures, history, rows = synthetic(args.measures, args.months)
    ids = {m.id for m in measures}
    assert len(ids) == len(measures), "measure ids must be unique"
    print(f"{len(measures):,} measures, {len(history):,} history rows")

    def build() -> digest.Digest:
        return digest.build_digest(
            cycle=CYCLE,
            measures=measures,
            status_rows=rows,
            history=history,
            owner_names={},
            as_of=datetime(2026, 10, 12, 9, tzinfo=LONDON),
            due=date(2026, 10, 7),
            cycle_label="September 2026",
        )

    timings = []
    for _ in range(args.repeat):
        start = time.perf_counter()
        result = build()
        timings.append(time.perf_counter() - start)
    print(f"build_digest: best {min(timings):.3f} s, worst {max(timings):.3f} s")
    print(
        f"  {len(result.exceptions):,} exceptions, {len(result.improvements):,} improvements, "
        f"{len(result.projected_breaches):,} projected breaches, {len(result.gaps):,} gaps"
    )

    register = {m.id: m for m in measures}
    periods = {row["id"]: row["period"] for row in rows}
    frame = digest.cycle_history(history, rows, register)
    for name, stage in (
        ("  cycle history", lambda: digest.cycle_history(history, rows, register)),
        ("  spc.analyse", lambda: spc.analyse(frame)),
        ("  series split", lambda: digest._series(spc.analyse(frame))),
        ("  year_on_year", lambda: trends.year_on_year(frame, periods)),
        ("  project", lambda: trends.project(frame, register, periods)),
    ):
        start = time.perf_counter()
        stage()
        print(f"{name}: {time.perf_counter() - start:.3f} s")


if __name__ == "__main__":
    main()
