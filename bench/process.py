"""Benchmark: the process page and the cycle's workflow reads, on a year of cycles run by pmbot.

For 500, 2,000 and 8,000 measures (owners = measures / 5, a sixth of the areas under sign-off),
builds a database with twelve monthly cycles: every figure submitted (some late, some
corrected, some not available), prompts, reminders and escalations in the ledger, a silence
per 50 measures and a decision per area. Then times, on a warm database:

- `pmbot process 2026` (the year: twelve cycles), in process, target under 5 s at 8,000;
- the process page of one cycle as the digest computes it;
- one cycle's status with silences and sign-off states (what each tick reads).

Run by hand:

    .venv/bin/python bench/process.py [--sizes 500 2000 8000]
"""

from __future__ import annotations

import argparse
import random
import sys
import tempfile
import time
from datetime import datetime, timedelta
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from bot.measures import Area, Measure, Person  # noqa: E402
from bot.periods import LONDON, WorkingCalendar, monthly  # noqa: E402
from bot.service import Service  # noqa: E402
from bot.signoff import Decision  # noqa: E402
from bot.store import Store, StoredSubmission  # noqa: E402

AREAS = [f"Area {n}" for n in range(12)]


def build(path: Path, size: int) -> Service:
    rng = random.Random(size)
    store = Store(path)
    store.migrate()
    calendar = WorkingCalendar()
    now = datetime(2026, 1, 1, 9, tzinfo=LONDON)
    measures = [
        Measure(f"M-{n:04d}", f"Measure {n}", AREAS[n % len(AREAS)], "count", "down", 100,
                f"owner{n % (size // 5)}@agency.example")
        for n in range(size)
    ]  # fmt: skip
    areas = [Area(a, "lead@agency.example", "boss@agency.example" if n % 6 == 0 else "")
             for n, a in enumerate(AREAS)]  # fmt: skip
    store.save_register(measures, [Person("boss@agency.example")], now, areas)
    rows, ledger = [], []
    for month in range(1, 13):
        cycle = monthly(2026, month)
        dates = calendar.cycle_dates(cycle)
        prompt_at = datetime.combine(dates.prompt, datetime.min.time(), LONDON) + timedelta(hours=9)
        for owner in range(size // 5):
            ledger.append(("prompt", f"owner{owner}@agency.example:{cycle}", prompt_at, str(cycle)))
            if owner % 4 == 0:
                for n, day in enumerate(dates.reminders, start=1):
                    at = datetime.combine(day, datetime.min.time(), LONDON) + timedelta(hours=9)
                    ledger.append(("reminder", f"owner{owner}@agency.example:{cycle}:{n}", at,
                                   str(cycle)))  # fmt: skip
        for m in measures:
            late = rng.random() < 0.2
            at = prompt_at + timedelta(days=rng.randint(6, 12) if late else rng.randint(0, 3))
            na = rng.random() < 0.05
            for revision in range(2 if rng.random() < 0.1 else 1):
                rows.append(StoredSubmission(
                    m.id, str(cycle), None if na else float(rng.randint(50, 150)),
                    "system down" if na else "", "", m.owner_email, "email",
                    f"<{m.id}-{cycle}-{revision}@bench>", at + timedelta(hours=revision),
                ))  # fmt: skip
    store.add_submissions(rows)
    with store.atomic():
        for kind, key, at, cycle in ledger:
            store.ledger_add(kind, key, at, "", cycle)
        for m in measures[::50]:
            store.add_silence(m.id, now.date(), now.date() + timedelta(days=90), "known issue",
                              "coord@agency.example", "cli", now)  # fmt: skip
        for month in range(1, 13):
            for area in areas:
                if area.approver_email:
                    store.add_decision(Decision(area.name, str(monthly(2026, month)), "approved",
                                                "", "", area.approver_email, "email", now),
                                       f"bench:{area.name}:{month}")  # fmt: skip
    return Service(store, calendar)


def timed(label: str, run):
    start = time.perf_counter()
    result = run()
    print(f"  {label:<44} {time.perf_counter() - start:6.2f} s")
    return result


def bench(size: int) -> None:
    with tempfile.TemporaryDirectory() as tmp:
        start = time.perf_counter()
        service = build(Path(tmp) / "bench.db", size)
        print(f"{size} measures, {size // 5} owners: built in {time.perf_counter() - start:.1f} s")
        when = datetime(2027, 1, 20, 10, tzinfo=LONDON)
        december = monthly(2026, 12)
        report = timed("process, the year (12 cycles)",
                       lambda: service.process("2026", service.cycles_of(2026)))  # fmt: skip
        timed("process page of 2026-12 (as the digest)",
              lambda: service.process("2026-12", [december]))  # fmt: skip
        timed("status 2026-12 with silences and sign-off",
              lambda: service.signoff_states(december, when))  # fmt: skip
        o = report.overall
        print(f"  {o.expected} figures, {o.on_time} on time, {o.late} late, "
              f"{o.corrections} corrections, {o.chases} chases; SPC: {report.variation}")


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--sizes", type=int, nargs="+", default=[500, 2000, 8000])
    for size in parser.parse_args().sizes:
        bench(size)


if __name__ == "__main__":
    main()
