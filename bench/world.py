"""The database the benchmarks run on, and what they share to run and report.

`world(measures)` returns a SQLite file holding a register of `measures` measures with one
owner per five measures (one measure in ten quarterly, half of them with a deputy), eight
outcome areas, three years of figures, and a year of what the bot did around them: for each
of the last twelve cycles the prompts, reminders, escalations, confirmations, summary and
digest in the ledger and the outbox (bodies of mail older than 90 days already dropped, as the
bot does), and every owner's reply in `inbound`. `world(measures, year=False)` is the same
register and figures without that year of ledger, outbox and inbound: the pair shows what a
year of history costs.

Each world is built once and cached in the temp directory under a name that changes when this
file or the schema changes; a benchmark copies it before touching it.

Every benchmark measures one path in a child process of its own (`measure_in_child`), so that
CPU seconds and peak memory (`resource.getrusage`) are that path's alone, and prints a table
with the growth exponent (log-log slope from the smallest size to the largest). Each child
works in a folder of its own, kept until the whole run ends (`run_folder`).
"""

from __future__ import annotations

import atexit
import functools
import hashlib
import json
import math
import os
import resource
import shutil
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, replace
from datetime import datetime, timedelta
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from bot.measures import Measure, Person  # noqa: E402
from bot.periods import LONDON, Period, WorkingCalendar, monthly  # noqa: E402
from bot.schema import MIGRATIONS  # noqa: E402
from bot.settings import Settings  # noqa: E402
from bot.store import Outgoing, Store, StoredSubmission  # noqa: E402

SIZES = (500, 2000, 8000)
AREAS = ("Operational delivery", "Benefit take-up", "Resource", "IT service management",
         "Change delivery", "Reputation", "Compliance", "Risk")  # fmt: skip
CYCLE = monthly(2026, 10)  # the cycle the benchmarks play: prompted on 2 November 2026
HISTORY_MONTHS = 36
YEAR = 12
COORDINATOR, LEADER = "coord@agency.example", "lead@agency.example"
BODY = b"x" * 3000  # a prompt or confirmation email is about 3 kB
CACHE = Path(tempfile.gettempdir()) / "pmbot-bench"


def owner_of(n: int) -> str:
    return f"owner{n // 5}@agency.example"


def register(measures: int) -> list[Measure]:
    """Measure n belongs to owner n // 5; every tenth is quarterly; half have a deputy."""
    return [
        Measure(id=f"M{n // 1000 + 1}-{n % 1000:03d}", name=f"Measure {n}", area=AREAS[n % 8],
                unit="count", better=("up", "down", "neutral")[n % 3],
                target=100 + n % 50, amber_tolerance="5%", red_tolerance="10%",
                owner_email=owner_of(n),
                deputy_email=f"deputy{n // 10}@agency.example" if n % 2 else "",
                frequency="quarterly" if n % 10 == 0 else "monthly",
                description=f"What measure {n} covers", source="Finance system")  # fmt: skip
        for n in range(measures)
    ]


def people(measures: int) -> list[Person]:
    owners = [Person(owner_of(n), f"Owner {n // 5}", ("owner",)) for n in range(0, measures, 5)]
    return [Person(COORDINATOR, "Coordinator", ("coordinator",)),
            Person(LEADER, "Leader", ("leadership",)), *owners]  # fmt: skip


def value(n: int, k: int) -> float:
    """Figure k of measure n: a level near the target, a seasonal swing, a step for some."""
    level = 100 + n % 50
    swing = level * 0.06 * math.sin(k * 0.5 + n)
    step = level * 0.15 if n % 7 == 0 and k > HISTORY_MONTHS - 6 else 0
    return round(level + swing + step + (k * 7 + n * 13) % 11 - 5, 1)


def figures(measures: list[Measure], last: Period, months: int) -> Iterator[StoredSubmission]:
    """Each measure's figures for `months` months up to `last` (quarters for quarterly ones)."""
    for n, measure in enumerate(measures):
        for k in range(months):
            period = last.shift(k - months + 1)
            if measure.frequency == "quarterly":
                if period.month % 3:
                    continue
                shown = f"{period.year}-Q{period.month // 3}"
            else:
                shown = str(period)
            at = datetime(period.end.year, period.end.month, period.end.day, 12,
                          tzinfo=LONDON) + timedelta(days=3)  # fmt: skip
            gap = (n + k) % 97 == 0
            yield StoredSubmission(
                measure.id, shown, None if gap else value(n, k),
                "system outage" if gap else "", "steady" if k % 4 else "",
                measure.owner_email, "email", f"bench:{measure.id}:{shown}", at,
            )  # fmt: skip


def add_year(store: Store, measures: list[Measure]) -> None:
    """A year of the bot's own records: ledger, outbox (sent) and inbound, cycle by cycle."""
    owners = sorted({m.owner_email for m in measures})
    calendar = WorkingCalendar()
    with store.atomic():
        for back in range(YEAR, 0, -1):
            cycle = CYCLE.shift(-back)
            dates = calendar.cycle_dates(cycle)
            day = datetime(dates.prompt.year, dates.prompt.month, dates.prompt.day, 9,
                           tzinfo=LONDON)  # fmt: skip
            old = back > 3  # bodies of mail sent more than 90 days ago are dropped
            body = b"" if old else BODY

            def action(kind: str, key: str, at: datetime, to: str, cycle=cycle, body=body) -> None:
                message_id = f"<{kind}.{hashlib.sha1(key.encode()).hexdigest()[:16]}@bench>"
                store.ledger_add(kind, key, at, message_id, str(cycle))
                store.queue_outgoing(Outgoing(kind, f"{kind}:{key}", to, message_id, body), at)

            for i, owner in enumerate(owners):
                action("prompt", f"{owner}:{cycle}", day, owner)
                if i % 3:
                    action("reminder", f"{owner}:{cycle}:1", day + timedelta(days=2), owner)
                if i % 3 == 2:
                    action("escalation", f"{owner}:{cycle}", day + timedelta(days=8), COORDINATOR)
                reply_at = day + timedelta(days=1 + i % 3 * 3)
                reply_id = f"<reply.{i}.{cycle}@client.example>"
                store.record_inbound(message_id=reply_id, channel="email", sender=owner,
                                     subject=f"RE: figures {cycle}", received_at=reply_at,
                                     outcome="stored", reason="5 stored")  # fmt: skip
                confirmation = Outgoing("confirmation", f"confirmation:{reply_id}", owner,
                                        f"<conf.{i}.{cycle}@bench>", body)  # fmt: skip
                store.queue_outgoing(confirmation, reply_at)
            action("summary", str(cycle), day + timedelta(days=6), LEADER)
            action("digest", str(cycle), day + timedelta(days=8), LEADER)
        store.db.execute(
            "UPDATE outgoing SET sent_at = created_at, attempts = 1, transport_ref = message_id"
        )


def version() -> str:
    text = Path(__file__).read_bytes() + "".join(MIGRATIONS).encode()
    return hashlib.sha1(text).hexdigest()[:10]


def world(measures: int, *, year: bool = True) -> Path:
    """The cached database for `measures` measures (built on first use)."""
    CACHE.mkdir(exist_ok=True)
    path = CACHE / f"world-{measures}-{'year' if year else 'bare'}-{version()}.db"
    if path.exists():
        return path
    building = path.with_suffix(".building")
    for leftover in CACHE.glob(building.name + "*"):
        leftover.unlink()
    if year:
        shutil.copy(world(measures, year=False), building)
    store = Store(building)
    store.migrate()
    chosen = register(measures)
    now = datetime(2026, 11, 1, 8, tzinfo=LONDON)
    if year:
        add_year(store, chosen)
    else:
        store.save_register(chosen, people(measures), now)
        store.add_submissions(figures(chosen, CYCLE.shift(-1), HISTORY_MONTHS))
    store.close()
    building.rename(path)
    return path


def settings(workdir: Path, **changes) -> Settings:
    base = replace(Settings.from_env({}), db_path=workdir / "bench.db", maildir=workdir / "mail",
                   mail_from="pmbot@agency.example", coordinators=(COORDINATOR,),
                   leadership_emails=(LEADER,))  # fmt: skip
    return replace(base, **changes)


def copy_world(measures: int, workdir: Path, *, year: bool = True) -> Path:
    target = workdir / "bench.db"
    shutil.copy(world(measures, year=year), target)
    return target


def at(text: str) -> datetime:
    return datetime.fromisoformat(text).replace(tzinfo=LONDON)


# -- measuring ------------------------------------------------------------------------------


@dataclass
class Figure:
    path: str
    measures: int
    cpu: float  # CPU seconds of the measured path
    peak_mb: float  # the child process's peak resident memory
    extra: dict

    def as_json(self) -> str:
        return json.dumps(self.__dict__)


def cpu_seconds() -> float:
    usage = resource.getrusage(resource.RUSAGE_SELF)
    return usage.ru_utime + usage.ru_stime


def system_seconds() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_stime


def peak_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


@contextmanager
def timed(out: dict) -> Iterator[None]:
    """CPU seconds of the block (every thread of this process) into out["cpu"], the kernel's
    share of them into out["sys"], wall time into out["wall"]."""
    cpu, kernel, wall = cpu_seconds(), system_seconds(), time.perf_counter()
    yield
    out["cpu"] = cpu_seconds() - cpu
    out["sys"] = system_seconds() - kernel
    out["wall"] = time.perf_counter() - wall


@functools.cache
def run_folder() -> Path:
    """The folder every child of this run works in (a copy of the world, mail files), removed
    when the run ends, not as each child ends.

    Removing a child's files at once would put thousands of just-deleted inodes beside the next
    child's: on an ext4 disk without a journal (the one these figures were first taken on)
    the kernel steps over every recently deleted inode for each file it creates, and creating
    the next poll's 2,000 confirmation files cost 0.5 s instead of 0.04 s.
    """
    folder = Path(tempfile.mkdtemp(prefix="pmbot-bench-run-"))
    atexit.register(shutil.rmtree, folder, ignore_errors=True)
    return folder


def measure_in_child(script: Path, path: str, measures: int, *args: str) -> list[Figure]:
    """Run `script --child PATH --measures N --workdir FOLDER` and read the Figures it prints
    on its last line (one JSON object, or a list of them)."""
    workdir = run_folder() / f"{script.stem}-{path}-{measures}"
    command = [sys.executable, str(script), "--child", path, "--measures", str(measures),
               "--workdir", str(workdir), *args]  # fmt: skip
    result = subprocess.run(command, capture_output=True, text=True, env={**os.environ},
                            check=False)  # fmt: skip
    if result.returncode != 0:
        sys.exit(f"{path} at {measures} failed:\n{result.stderr[-3000:]}")
    found = json.loads(result.stdout.strip().splitlines()[-1])
    return [Figure(**f) for f in (found if isinstance(found, list) else [found])]


def slope(figures: list[Figure]) -> float | None:
    """Growth exponent: the log-log slope of CPU from the smallest size to the largest."""
    ends = sorted(figures, key=lambda f: f.measures)
    first, last = ends[0], ends[-1]
    if first.measures == last.measures or first.cpu <= 0 or last.cpu <= 0:
        return None
    return math.log(last.cpu / first.cpu) / math.log(last.measures / first.measures)


def print_table(figures: list[Figure], floor: Callable[[Figure], float | None],
                floor_name: str, extras: tuple[str, ...] = ()) -> None:  # fmt: skip
    """One line per path and size: CPU, peak memory, ratio to the floor; then the exponent."""
    print(f"{'path':<22}{'measures':>9}{'CPU s':>10}{'peak MB':>9}{'x ' + floor_name:>16}"
          + "".join(f"{e:>19}" for e in extras))  # fmt: skip
    paths = list(dict.fromkeys(f.path for f in figures))
    for path in paths:
        rows = [f for f in figures if f.path == path]
        for f in rows:
            base = floor(f)
            ratio = f"{f.cpu / base:.1f}" if base else "-"
            shown = "".join(f"{_show(f.extra.get(e)):>19}" for e in extras)
            print(f"{path:<22}{f.measures:>9}{f.cpu:>10.3f}{f.peak_mb:>9.0f}{ratio:>16}{shown}")
        exponent = slope(rows)
        if exponent is not None:
            print(f"{path:<22}{'growth':>9}{exponent:>10.2f}")
    sys.stdout.flush()


def _show(value) -> str:
    if value is None:
        return "-"
    if isinstance(value, float):
        return f"{value:,.3f}" if value < 100 else f"{value:,.0f}"
    return str(value)


def sizes_argument(parser) -> None:
    parser.add_argument("--sizes", type=int, nargs="+", default=list(SIZES),
                        help="register sizes to run (owners = measures / 5)")  # fmt: skip
    parser.add_argument("--child", help=argparse_hidden())
    parser.add_argument("--measures", type=int, default=0, help=argparse_hidden())
    parser.add_argument("--workdir", type=child_folder, help=argparse_hidden())


def child_folder(text: str) -> Path:
    """A child's own new folder (`measure_in_child` names it)."""
    folder = Path(text)
    folder.mkdir(parents=True)
    return folder


def argparse_hidden() -> str:
    import argparse

    return argparse.SUPPRESS
