"""Benchmark: the scheduler's tick with 2,000 measures and a year of ledger behind it.

Plays twelve monthly cycles on a simulated clock (two ticks every working day, a third of
owners answering after the prompt, a third after a reminder, a third never), then reports the
ledger's growth per month and the time of one tick on a busy day (target under 200 ms).

    .venv/bin/python bench/tick.py [--measures 2000]
"""

from __future__ import annotations

import argparse
import statistics
import sys
import tempfile
import time
from dataclasses import replace
from datetime import datetime, timedelta
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from bot.app import create_app  # noqa: E402
from bot.events import Submission  # noqa: E402
from bot.measures import Measure, Person  # noqa: E402
from bot.periods import LONDON  # noqa: E402
from bot.settings import Settings  # noqa: E402


def register(measures: int) -> list[Measure]:
    return [
        Measure(id=f"M{n // 1000 + 1}-{n % 1000:03d}", name=f"Measure {n}", area="Area",
                unit="count", better="down", target=100, red_tolerance="10%",
                owner_email=f"owner{n % 400}@agency.example",
                frequency="quarterly" if n % 10 == 0 else "monthly")  # fmt: skip
        for n in range(measures)
    ]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--measures", type=int, default=2000)
    parser.add_argument("--months", type=int, default=12)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        clock = {"now": datetime(2025, 11, 1, 8, tzinfo=LONDON)}
        settings = replace(Settings.from_env({}), db_path=Path(tmp) / "bench.db",
                           maildir=Path(tmp) / "mail", mail_from="pmbot@agency.example")
        bot = create_app(settings, clock=lambda: clock["now"])
        bot.store.save_register(register(args.measures), [
            Person("coord@agency.example", roles=("coordinator",)),
            Person("lead@agency.example", roles=("leadership",)),
        ], clock["now"])  # fmt: skip
        owners = sorted({m.owner_email for m in bot.service.measures()})
        by_owner = {o: [m for m in bot.service.measures() if m.owner_email == o] for o in owners}
        ledger_per_month, tick_times = [], []
        end = clock["now"] + timedelta(days=31 * args.months)
        while clock["now"] < end:
            for hour in (9, 15):
                now = clock["now"] = clock["now"].replace(hour=hour)
                started = time.perf_counter()
                bot.tick()
                tick_times.append(time.perf_counter() - started)
                # Owners answer: a third on the day after their prompt, a third after a reminder.
                for kind, share in (("prompt", 0), ("reminder", 1)):
                    for row in bot.store.ledger(kind):
                        owner = row["key"].split(":")[0]
                        if hash(owner) % 3 != share or row["at"][:10] != now.date().isoformat():
                            continue
                        for measure in by_owner[owner]:
                            bot.service.submit(Submission(measure.id, "95 steady", owner, "cli",
                                                          f"{row['key']}:{measure.id}", now))
            if clock["now"].day == 1:
                ledger_per_month.append(bot.store.count("ledger"))
            clock["now"] += timedelta(days=1)
        growth = [b - a for a, b in zip(ledger_per_month, ledger_per_month[1:], strict=False)]
        busy = sorted(tick_times[-60:])  # the last month's ticks, with the whole year behind
        print(f"{args.measures} measures, {len(owners)} owners, {args.months} months")
        print(f"ledger rows: {bot.store.count('ledger')} in all; per month "
              f"{statistics.mean(growth):.0f} (min {min(growth)}, max {max(growth)})")
        print(f"outbox rows (sent mail): {bot.store.count('outgoing')}; database "
              f"{(Path(tmp) / 'bench.db').stat().st_size / 1e6:.1f} MB")
        print(f"tick with a year of ledger: median {busy[len(busy) // 2] * 1000:.0f} ms, "
              f"slowest {busy[-1] * 1000:.0f} ms (target < 200 ms)")
        bot.close()


if __name__ == "__main__":
    main()
