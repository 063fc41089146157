"""Benchmark: Teams prompts to 1,000 owners through the fake Bot Connector, rate-limited and
flaky, with the real Teams SDK in the path.

The fake allows `--rate` connector calls a second over all conversations (a token bucket,
answering 429 with Retry-After beyond it) and answers `--flaky` of all calls 429 at random.
Each owner costs one call: their 1:1 chat is known from the app's installation (seeded here,
as if every owner had the app), so the card goes straight to it. The floor the limit implies
is owners / rate seconds. pmbot paces its fan-out at `--pace` calls a second (default: the
limit) and waits out each 429 as Retry-After says.

Targets: total time within 10% of the floor; no prompt lost, none sent twice (also after a
second run, as after a restart). Run by hand:

    .venv/bin/python bench/teams_fanout.py [--owners 1000] [--rate 50] [--flaky 0.05]
"""

from __future__ import annotations

import argparse
import sys
import tempfile
import time
from dataclasses import replace
from datetime import datetime
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from bench.slack_fanout import register  # noqa: E402
from bot.app import create_app  # noqa: E402
from bot.periods import LONDON, parse_period  # noqa: E402
from bot.settings import Settings  # noqa: E402
from bot.teams.connector import Connector, TeamsConfig  # noqa: E402
from handlers import teams  # noqa: E402
from tests.fake_teams import FakeTeams  # noqa: E402
from tests.teams_inbound import teams_env  # noqa: E402


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--owners", type=int, default=1000)
    parser.add_argument("--rate", type=float, default=50.0, help="connector calls/second")
    parser.add_argument("--pace", type=float, default=None, help="pmbot's pace (default: rate)")
    parser.add_argument("--flaky", type=float, default=0.05, help="fraction answered 429")
    args = parser.parse_args()

    now = datetime(2026, 11, 2, 9, 0, tzinfo=LONDON)
    with tempfile.TemporaryDirectory() as tmp, FakeTeams() as fake:
        workdir = Path(tmp)
        settings = replace(
            Settings.from_env(teams_env(fake)), db_path=workdir / "bench.db",
            maildir=workdir / "mail",
        )  # fmt: skip
        bot = create_app(settings, clock=lambda: now)
        bot.service.import_register(register(workdir / "measures.yaml", args.owners), now)
        for n in range(args.owners):
            member = fake.add_member(f"owner{n:04d}@agency.example", f"Owner {n}")
            bot.store.save_chat_id("teams", member.email, member.conversation_id)
        config = TeamsConfig.from_settings(settings)
        connector = Connector(config, rate=args.pace or args.rate)
        app = teams.create(bot, connector=connector)
        cycle = parse_period("2026-10")

        fake.limit(args.rate)
        fake.flaky(args.flaky, seed=2026)
        started = time.monotonic()
        run = bot.reach.send_prompts(cycle, now)
        elapsed = time.monotonic() - started
        again = bot.reach.send_prompts(cycle, now)  # as after a restart: nothing is due

        per_owner = [len(fake.sent(m.conversation_id)) for m in fake.members.values()]
        delivered = sum(1 for n in per_owner if n)
        duplicates = sum(n - 1 for n in per_owner if n > 1)
        limited = sum(1 for c in fake.calls if c.status == 429)
        recorded = len(bot.store.ledger("prompt"))
        floor = args.owners / args.rate
        app.close()
        bot.close()

    print(f"owners                {args.owners}")
    print(f"limit                 {args.rate:g} calls/s, {args.flaky:.0%} flaky 429s; "
          f"pmbot paced at {args.pace or args.rate:g}/s")  # fmt: skip
    print(f"total time            {elapsed:.1f} s")
    print(f"floor (owners/rate)   {floor:.1f} s")
    print(f"over the floor        {(elapsed / floor - 1):+.1%}  (target within 10%)")
    print(f"connector calls       {len(fake.calls)}, {limited} answered 429; "
          f"{fake.token_requests} token request(s)")  # fmt: skip
    print(f"prompts delivered     {delivered}  (lost {args.owners - delivered})")
    print(f"duplicates            {duplicates}")
    print(f"recorded in ledger    {recorded}; by chat {len(run.by_chat)}, by email "
          f"{len(run.by_email)}, failed {len(run.failed)}; second run sent "
          f"{len(again.prompts)}")  # fmt: skip
    ok = delivered == args.owners and duplicates == 0 and elapsed <= floor * 1.10
    return 0 if ok else 1


if __name__ == "__main__":
    raise SystemExit(main())
