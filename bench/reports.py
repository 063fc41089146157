"""Benchmark: every report of issue #12 over 2,000 measures with two years of monthly history.

Times each `pmbot digest` run as its own process, as a coordinator runs it, and reports what it
wrote: a month's digest (with year to date), a calendar quarter and a financial-year quarter
(rolled up), the annual report, an area scorecard and the public pack. Half the synthetic
measures sum (counts), half take the mean.

Run by hand:

    .venv/bin/python bench/reports.py [--measures 2000] [--months 24]
"""

from __future__ import annotations

import argparse
import dataclasses
import os
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from bench.digest import AREAS, NOW, load_database, synthetic  # noqa: E402

RUNS = (
    ("month with year to date", ["2026-09"]),
    ("calendar quarter", ["2026-Q3"]),
    ("financial-year quarter", ["2026/27-Q2"]),
    ("annual report", ["2025/26"]),
    ("area scorecard", ["2026-09", "--area", AREAS[0]]),
    ("public pack", ["2026-09", "--public"]),
)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--measures", type=int, default=2000)
    parser.add_argument("--months", type=int, default=24)
    args = parser.parse_args()
    register, history = synthetic(args.measures, args.months)
    register = [dataclasses.replace(m, aggregate="mean") if n % 2 else m
                for n, m in enumerate(register)]  # fmt: skip
    print(f"{args.measures} measures x {args.months} months = {len(history)} rows")
    with tempfile.TemporaryDirectory() as tmp:
        db = Path(tmp) / "bench.db"
        load_database(db, register, history)
        env = {**os.environ, "PMBOT_MAILDIR": str(Path(tmp) / "mail")}
        for name, period in RUNS:
            out = Path(tmp) / name.replace(" ", "-")
            started = time.perf_counter()
            subprocess.run(
                [str(Path(sys.executable).parent / "pmbot"), "--db", str(db), "--now",
                 NOW.isoformat(), "digest", *period, "--out", str(out)],
                check=True, stdout=subprocess.DEVNULL, env=env,
            )  # fmt: skip
            elapsed = time.perf_counter() - started
            files = sorted(out.iterdir())
            sizes = ", ".join(f"{p.suffix.lstrip('.') or p.name} {p.stat().st_size / 1e6:.1f} MB"
                              for p in files)  # fmt: skip
            print(f"{name:<24} {' '.join(period):<32} {elapsed:5.1f}s  {sizes}")
        peak = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss / 1024
        print(f"largest peak memory of any run: {peak:.0f} MB")


if __name__ == "__main__":
    main()
