"""Benchmark: the digest for 2,000 measures with 60 months of history each.

Reports:
- `spc.analyse` over the whole history (target under 1 s here);
- the whole `pmbot digest` run, full pack included, as its own process (target under 20 s),
  and that process's peak memory;
- the same process limits computed with the PyPI package statprocon in a loop, one measure at
  a time, checked equal to ours and timed against `analyse` (statprocon screens no outliers,
  so ours runs with screening off for the comparison).

Run by hand after `pip install -e '.[bench]'`:

    .venv/bin/python bench/digest.py [--measures 2000] [--months 60]
"""

from __future__ import annotations

import argparse
import os
import resource
import subprocess
import sys
import tempfile
import time
from datetime import datetime
from pathlib import Path

import numpy as np
import pandas as pd

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from bot.measures import Measure  # noqa: E402
from bot.periods import LONDON, monthly  # noqa: E402
from bot.spc import analyse, xmr  # noqa: E402
from bot.store import Store, StoredSubmission  # noqa: E402

AREAS = ("Operational delivery", "Benefit take-up", "Resource", "IT service management",
         "Change delivery", "Reputation", "Compliance", "Risk")  # fmt: skip
NOW = datetime(2026, 11, 10, 10, tzinfo=LONDON)


def synthetic(measures: int, months: int, seed: int = 7) -> tuple[list[Measure], pd.DataFrame]:
    """Register and history: level, trend, seasonality, a step change, noise, a few gaps."""
    rng = np.random.default_rng(seed)
    last = monthly(2026, 10)
    periods = [str(last.shift(-k)) for k in range(months - 1, -1, -1)]
    register, frames = [], []
    for n in range(measures):
        level = rng.uniform(50, 500)
        better = ("up", "down", "neutral")[n % 3]
        register.append(Measure(
            id=f"M{n // 1000 + 1}-{n % 1000:03d}", name=f"Measure {n}", area=AREAS[n % 8],
            unit="count", better=better, target=round(level * rng.uniform(0.9, 1.1)),
            owner_email=f"owner{n % 400}@agency.example", red_tolerance="10%",
        ))  # fmt: skip
        t = np.arange(months)
        values = (level + rng.normal(0, level * 0.05, months) + t * rng.normal(0, level * 0.002)
                  + level * 0.05 * np.sin(2 * np.pi * t / 12))  # fmt: skip
        if n % 5 == 0:
            values[months // 2 :] += level * 0.15
        values = np.round(np.clip(values, 0, None))
        if n % 7 == 0:
            values[rng.integers(0, months)] = np.nan
        frames.append(pd.DataFrame({"measure_id": register[-1].id, "period": periods,
                                    "value": values}))  # fmt: skip
    return register, pd.concat(frames, ignore_index=True)


def load_database(path: Path, register: list[Measure], history: pd.DataFrame) -> None:
    store = Store(path)
    store.migrate()
    store.save_register(register, [], NOW)
    rows = history.to_dict("records")
    store.add_submissions(
        StoredSubmission(r["measure_id"], r["period"], None if np.isnan(r["value"]) else r["value"],
                         "" if r["value"] == r["value"] else "not produced", "", "import",
                         "import", f"bench:{r['measure_id']}:{r['period']}", NOW)  # fmt: skip
        for r in rows
    )
    store.close()


def time_analyse(register: list[Measure], history: pd.DataFrame, **options) -> float:
    meta = pd.DataFrame([{"measure_id": m.id, "better": m.better, "target": m.target}
                         for m in register])  # fmt: skip
    frame = history.merge(meta, on="measure_id")
    best = float("inf")
    for _ in range(3):
        started = time.perf_counter()
        analyse(frame, **options)
        best = min(best, time.perf_counter() - started)
    return best


def compare_with_statprocon(register: list[Measure], history: pd.DataFrame) -> None:
    try:
        from statprocon import XmR
    except ImportError:
        print("statprocon not installed (pip install -e '.[bench]'): comparison skipped")
        return
    complete = history.groupby("measure_id").filter(lambda g: g["value"].notna().all())
    ids = complete["measure_id"].unique()
    series = {i: complete.loc[complete.measure_id == i, "value"].tolist() for i in ids}
    started = time.perf_counter()
    theirs = {}
    for measure_id, values in series.items():
        chart = XmR(values)
        theirs[measure_id] = (float(chart.lower_natural_process_limit()[0]),
                              float(chart.upper_natural_process_limit()[0]))  # fmt: skip
    statprocon_seconds = time.perf_counter() - started
    subset = [m for m in register if m.id in series]
    ours_seconds = time_analyse(subset, complete, screen_outliers=False)
    worst = 0.0
    for measure_id, values in series.items():
        chart = xmr(values, screen_outliers=False)
        # statprocon rounds the mean and the mean moving range to 3 places, then the limits.
        mean, spread = round(chart["mean"].iloc[-1], 3), 2.66 * round(chart["mr_mean"].iloc[-1], 3)
        ours = (round(mean - spread, 3), round(mean + spread, 3))
        worst = max(worst, abs(ours[0] - theirs[measure_id][0]),
                    abs(ours[1] - theirs[measure_id][1]))  # fmt: skip
    verdict = "same limits" if worst <= 0.0011 else "LIMITS DIFFER"  # one unit in the 3rd place
    print(f"statprocon, {len(series)} measures one at a time: {statprocon_seconds:.2f}s; "
          f"pmbot analyse, all at once: {ours_seconds:.3f}s; ratio "
          f"{statprocon_seconds / ours_seconds:.0f}x; {verdict} (largest difference {worst:.4f})")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--measures", type=int, default=2000)
    parser.add_argument("--months", type=int, default=60)
    args = parser.parse_args()
    register, history = synthetic(args.measures, args.months)
    print(f"{args.measures} measures x {args.months} months = {len(history)} rows")
    print(f"spc.analyse: {time_analyse(register, history):.3f}s (target < 1 s)")
    with tempfile.TemporaryDirectory() as tmp:
        db = Path(tmp) / "bench.db"
        load_database(db, register, history)
        started = time.perf_counter()
        subprocess.run(
            [str(Path(sys.executable).parent / "pmbot"), "--db", str(db), "--now",
             NOW.isoformat(), "digest", "2026-10", "--out", str(Path(tmp) / "digest")],
            check=True, stdout=subprocess.DEVNULL,
            env={**os.environ, "PMBOT_MAILDIR": str(Path(tmp) / "mail")},
        )  # fmt: skip
        elapsed = time.perf_counter() - started
        peak = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss / 1024
        pack = next((Path(tmp) / "digest").glob("performance-pack-*.html"))
        print(f"pmbot digest (pack, Slack JSON, email, CSV, XLSX): {elapsed:.1f}s (target < 20 s);"
              f" peak memory {peak:.0f} MB; pack {pack.stat().st_size / 1e6:.1f} MB")
    compare_with_statprocon(register, history)


if __name__ == "__main__":
    main()
