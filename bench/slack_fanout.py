"""Benchmark: Slack prompts to 1,000 owners through the fake Web API, rate-limited and flaky.

The fake enforces a per-method limit (`--rate` calls a second, the way Slack limits each API
method) and answers 5% of all calls 429 with Retry-After: 1 at random. Each owner costs three
calls (users.lookupByEmail, conversations.open, chat.postMessage), each method limited on its
own, so the floor the limit implies is owners / rate seconds.

Targets: total time within 10% of that floor; no prompt lost, none sent twice (also after a
second run, as after a restart). Run by hand:

    .venv/bin/python bench/slack_fanout.py [--owners 1000] [--rate 50] [--flaky 0.05]
"""

from __future__ import annotations

import argparse
import sys
import tempfile
import time
from collections import Counter
from dataclasses import replace
from datetime import datetime
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from bot.app import create_app  # noqa: E402
from bot.periods import LONDON, parse_period  # noqa: E402
from bot.settings import Settings  # noqa: E402
from handlers.slack import create_slack  # noqa: E402
from tests.fake_slack import BOT_TOKEN, FakeSlack  # noqa: E402

METHODS = ("users.lookupByEmail", "conversations.open", "chat.postMessage")


def register(path: Path, owners: int) -> Path:
    lines = ["measures:"]
    for n in range(owners):
        lines += [
            f"  - {{id: M-{n:04d}, name: Measure {n}, area: Area {n % 7}, unit: count,",
            f"     better: down, target: 10, owner_email: owner{n:04d}@agency.example}}",
        ]
    path.write_text("\n".join(lines) + "\n")
    return path


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--owners", type=int, default=1000)
    parser.add_argument("--rate", type=float, default=50.0, help="calls/second per method")
    parser.add_argument("--flaky", type=float, default=0.05, help="fraction answered 429")
    args = parser.parse_args()

    now = datetime(2026, 11, 2, 9, 0, tzinfo=LONDON)
    with tempfile.TemporaryDirectory() as tmp, FakeSlack() as fake:
        workdir = Path(tmp)
        for n in range(args.owners):
            fake.add_user(f"owner{n:04d}@agency.example", f"Owner {n}", f"U{n:06d}")
        settings = replace(
            Settings.from_env({}),
            db_path=workdir / "bench.db",
            maildir=workdir / "mail",
            slack_bot_token=BOT_TOKEN,
            slack_signing_secret="bench",
            slack_api_url=fake.base_url,
            extra={"PMBOT_SLACK_RATE": str(args.rate)},
        )
        bot = create_app(settings, clock=lambda: now)
        bot.service.import_register(register(workdir / "measures.yaml", args.owners), now)
        create_slack(bot)  # registers Slack with the bot: prompts go by DM
        cycle = parse_period("2026-10")

        fake.limit(args.rate)
        fake.flaky(args.flaky, seed=2026)
        started = time.monotonic()
        run = bot.reach.send_prompts(cycle, bot.clock())
        elapsed = time.monotonic() - started
        again = bot.reach.send_prompts(cycle, bot.clock())  # after a restart: nothing is due

        per_channel = Counter(m["channel"] for m in fake.posted())
        delivered = len(per_channel)
        duplicates = sum(n - 1 for n in per_channel.values())
        recorded = len(bot.store.ledger("prompt"))
        floor = args.owners / args.rate
        limited = Counter(c.method for c in fake.calls if c.status == 429)
        calls = Counter(c.method for c in fake.calls)
        bot.close()

    print(f"owners                {args.owners}")
    print(f"limit                 {args.rate:g} calls/s per method, {args.flaky:.0%} flaky 429s")
    print(f"total time            {elapsed:.1f} s")
    print(f"floor (owners/rate)   {floor:.1f} s")
    print(f"over the floor        {(elapsed / floor - 1):+.1%}  (target within 10%)")
    for method in METHODS:
        print(f"  {method:<20} {calls[method]:>5} calls, {limited[method]:>3} answered 429")
    print(f"prompts delivered     {delivered}  (lost {args.owners - delivered})")
    print(f"duplicates            {duplicates}")
    print(
        f"recorded in ledger    {recorded}; by email instead {len(run.by_email)}; second run "
        f"sent {len(again.prompts)}"
    )
    ok = delivered == args.owners and duplicates == 0 and elapsed <= floor * 1.10
    return 0 if ok else 1


if __name__ == "__main__":
    raise SystemExit(main())
