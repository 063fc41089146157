"""Benchmark: the scheduler's tick on each kind of day, with a year of history behind it.

For each size (500, 2,000 and 8,000 measures; owners = measures / 5) and each path, a child
process copies the cached world (bench/world.py), sets the current cycle (October 2026) to the
state that day finds, and times one `Bot.tick()`:

- idle: prompts sent, a third of owners answered, nothing due (the floor of this table);
- idle-bare: the same on a database without the year of ledger, outbox and inbound;
- idle-chat: the same with Slack configured (the repo's fake Slack, in its own process on
  127.0.0.1, so its CPU is not counted) and a leadership channel;
- prompt: the first working day: every owner prompted by email;
- reminder: a third answered, the others reminded;
- escalation: two thirds answered, the rest escalated to the coordinator and their deputies;
- digest: the digest day: the digest emailed to leaders with the pack attached.

An idle tick is measured after one tick has run (a scheduler ticks every minute), as the median
of the next IDLE_TICKS, a minute apart: one idle tick is a few milliseconds, so a single one
is mostly noise. Prints CPU seconds, peak memory, the ratio to the idle tick and the growth
exponent of each path.

    .venv/bin/python bench/tick.py [--sizes 500 2000 8000] [--paths idle escalation]
"""

from __future__ import annotations

import argparse
import multiprocessing
import sys
from datetime import date
from multiprocessing.connection import Connection
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from world import (  # noqa: E402
    CYCLE,
    Figure,
    at,
    copy_world,
    measure_in_child,
    owner_of,
    peak_mb,
    print_table,
    settings,
    sizes_argument,
    timed,
)

from bot.app import create_app  # noqa: E402
from bot.store import StoredSubmission  # noqa: E402

IDLE_TICKS = 15
PATHS = ("idle", "idle-bare", "idle-chat", "prompt", "reminder", "escalation", "digest")


def serve_fake_slack(conn: Connection) -> None:
    """The fake Slack Web API in a process of its own, until the parent says stop."""
    from tests.fake_slack import FakeSlack
    from tests.slack_inbound import LEADERS

    with FakeSlack() as fake:
        fake.add_channel(LEADERS)
        conn.send(fake.base_url)
        conn.recv()


def answer(bot, share: int, now) -> None:
    """Owners whose number mod 3 is below `share` send every figure of the cycle."""
    report = bot.service.status(CYCLE, now)
    bot.store.add_submissions(
        StoredSubmission(row["id"], row["period"], float(row["target"]), "", "", row["owner_email"],
                         "email", f"now:{row['id']}:{row['period']}", now)  # fmt: skip
        for row in report.measures
        if int(row["owner_email"][5:].split("@")[0]) % 3 < share
    )


def record(bot, kind: str, keys, day: date, hour: int = 9) -> None:
    now = at(f"{day}T{hour:02}:00")
    with bot.store.atomic():
        for key in keys:
            bot.service.record_action(kind, key, now, cycle=str(CYCLE))


def child(path: str, measures: int, workdir: Path) -> Figure:
    copy_world(measures, workdir, year=path != "idle-bare")
    clock: dict = {}
    changes = {}
    stop = None
    if path == "idle-chat":
        from tests.fake_slack import BOT_TOKEN
        from tests.slack_inbound import LEADERS, SECRET

        stop, theirs = multiprocessing.Pipe()
        multiprocessing.Process(target=serve_fake_slack, args=(theirs,), daemon=True).start()
        changes = {"slack_bot_token": BOT_TOKEN, "slack_signing_secret": SECRET,
                   "slack_api_url": stop.recv(), "leadership_channel": LEADERS,
                   "extra": {"PMBOT_SLACK_RATE": "0"}}  # fmt: skip
    bot = create_app(settings(workdir, **changes), clock=lambda: clock["now"])
    # Each day as the bot's own calendar sets it (working days of the cycle's timetable).
    dates = bot.service.calendar.cycle_dates(CYCLE)
    clock["now"] = at(f"{dates.prompt}T09:00")
    if path == "idle-chat":
        from handlers.slack import create_slack

        create_slack(bot)  # registers Slack with the bot: alerts and the digest go there
    owners = sorted({owner_of(n) for n in range(measures)})
    cycle = str(CYCLE)
    if path != "prompt":
        record(bot, "prompt", [f"{o}:{cycle}" for o in owners], dates.prompt)
    if path.startswith("idle") or path == "reminder":
        answer(bot, 1, at(f"{dates.prompt}T10:00"))
    if path in ("escalation", "digest"):
        answer(bot, 2, at(f"{dates.reminders[0]}T10:00"))
        reminders = [f"{o}:{cycle}:{n}" for o in owners for n in (1, 2)]
        record(bot, "reminder", reminders, dates.reminders[0])
        record(bot, "summary", [cycle], dates.due, hour=17)
    if path == "digest":  # the owners still out were escalated on escalation day
        record(bot, "escalation", [f"{o}:{cycle}" for o in owners], dates.escalation)
    day = {"reminder": dates.reminders[0], "escalation": dates.escalation, "digest": dates.digest}
    hour = "11" if path.startswith("idle") else "09"
    clock["now"] = at(f"{day.get(path, dates.prompt)}T{hour}:00")
    out: dict = {}
    if path.startswith("idle"):
        bot.tick()  # the first tick of the day; those measured are the next
        actions, out = idle_ticks(bot, clock)
    else:
        with timed(out):
            actions = bot.tick()
    kinds = sorted({a.kind for a in actions})
    if path.startswith("idle") and actions:
        sys.exit(f"the idle tick did something: {kinds}")
    if not path.startswith("idle") and kinds != [path]:
        sys.exit(f"the {path} tick did {kinds}")
    extra = {"actions": len(actions), "wall": out["wall"], "ledger": bot.store.count("ledger")}
    bot.close()
    if stop is not None:
        stop.send("stop")
    return Figure(path, measures, out["cpu"], peak_mb(), extra)


def idle_ticks(bot, clock: dict) -> tuple[list, dict]:
    """The actions of IDLE_TICKS ticks a minute apart, and the median tick's timings."""
    actions, timings = [], []
    start = clock["now"]
    for minute in range(1, IDLE_TICKS + 1):
        clock["now"] = start.replace(minute=minute)
        out: dict = {}
        with timed(out):
            actions += bot.tick()
        timings.append(out)
    return actions, sorted(timings, key=lambda t: t["cpu"])[IDLE_TICKS // 2]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    sizes_argument(parser)
    parser.add_argument("--paths", nargs="+", default=list(PATHS), choices=PATHS)
    args = parser.parse_args()
    if args.child:
        print(child(args.child, args.measures, args.workdir).as_json())
        return
    figures = []
    for path in args.paths:
        for size in args.sizes:
            figures += measure_in_child(Path(__file__), path, size)
            print(f"  {path} at {size}: {figures[-1].cpu:.3f} s CPU", file=sys.stderr, flush=True)
    floors = {f.measures: f.cpu for f in figures if f.path == "idle"}
    print_table(figures, lambda f: floors.get(f.measures), "idle tick", ("actions", "wall"))


if __name__ == "__main__":
    main()
