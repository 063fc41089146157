"""Benchmark: the whole digest of a cycle, each output, the pack in a browser, the email's size.

For each size (500, 2,000 and 8,000 measures; owners = measures / 5, three years of figures and
a year of history: bench/world.py) a child process copies the world, and on the digest day of
October 2026 times, once each:

- spc: `spc.analyse` over every measure's chart (its floor: a plain numpy XmR of the same rows);
- model: `Service.digest` (status, history, SPC, trends: the digest model), nine figures in
  ten in and one in eight of those well off target;
- pack, email (with the pack, as leaders get it), slack-json, tables (CSV and XLSX): each
  output from that one model;
- whole: model plus every output (the floor of the table is `model`).

Then headless Chromium opens the pack from disk and reports DOMContentLoaded (Navigation
Timing, read by a line of script added to a copy of the pack; with --opens N, the median of N
opens, each listed), and the sizes of the pack and the email. Prints CPU seconds, peak memory,
ratio to the floor and growth exponents. DOMContentLoaded is wall time: note the load average.

    .venv/bin/python bench/digest.py [--sizes 500 2000 8000] [--no-browser] [--opens 3]
"""

from __future__ import annotations

import argparse
import json
import re
import shutil
import statistics
import subprocess
import sys
import time
from datetime import datetime
from pathlib import Path

import numpy as np
import pandas as pd

sys.path.insert(0, str(Path(__file__).resolve().parent))

from world import (  # noqa: E402
    CYCLE,
    LEADER,
    Figure,
    copy_world,
    measure_in_child,
    peak_mb,
    print_table,
    settings,
    sizes_argument,
    timed,
)

from bot import digest as digest_core  # noqa: E402
from bot import spc  # noqa: E402
from bot.app import create_app  # noqa: E402
from bot.periods import LONDON  # noqa: E402
from bot.render.email import digest_message  # noqa: E402
from bot.render.pack import render_pack  # noqa: E402
from bot.render.slack import slack_blocks  # noqa: E402
from bot.render.tables import write_tables  # noqa: E402
from bot.store import StoredSubmission  # noqa: E402

CHROMIUM = Path("/usr/bin/chromium")
FLAGS = ("--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
         "--disable-component-update", "--disable-sync", "--no-first-run")  # fmt: skip
# Added to a copy of the pack only: writes DOMContentLoaded (ms since navigation) on <html>.
PROBE = ("<script>addEventListener('load', () => document.documentElement.setAttribute("
         "'data-dcl', performance.getEntriesByType('navigation')[0].domContentLoadedEventEnd))"
         "</script>")  # fmt: skip
NOW = datetime(2026, 11, 10, 10, tzinfo=LONDON)


def numpy_xmr(frame: pd.DataFrame) -> float:
    """CPU seconds of the floor: mean, moving range and limits of every measure, in numpy."""
    out: dict = {}
    with timed(out):
        ordered = frame.sort_values(["measure_id", "period"])
        ids = ordered["measure_id"].to_numpy()
        values = ordered["value"].to_numpy(dtype=float)
        starts = np.flatnonzero(np.r_[True, ids[1:] != ids[:-1]])
        same = np.r_[False, ids[1:] == ids[:-1]]
        moving = np.where(same, np.abs(np.diff(values, prepend=np.nan)), np.nan)
        group = np.cumsum(np.r_[True, ids[1:] != ids[:-1]]) - 1
        ok = ~np.isnan(values)
        mean = np.bincount(group[ok], values[ok]) / np.maximum(np.bincount(group[ok]), 1)
        fine = ~np.isnan(moving)
        mr = np.bincount(group[fine], moving[fine], minlength=len(starts))
        mr /= np.maximum(np.bincount(group[fine], minlength=len(starts)), 1)
        upper, lower = mean + 2.66 * mr, mean - 2.66 * mr
        _ = (values > upper[group]) | (values < lower[group])
    return out["cpu"]


def dom_content_loaded(pack: Path, workdir: Path) -> tuple[float | None, int]:
    """(DOMContentLoaded in ms, elements in the DOM) of `pack` opened from disk in Chromium."""
    if not CHROMIUM.exists():
        return None, 0
    probe = workdir / "probe.html"
    html = pack.read_text(encoding="utf-8")
    probe.write_text(html.replace("</body>", PROBE + "</body>"), encoding="utf-8")
    profile = workdir / "chromium-profile"
    shutil.rmtree(profile, ignore_errors=True)
    result = subprocess.run(
        [str(CHROMIUM), *FLAGS, f"--user-data-dir={profile}", "--dump-dom", probe.as_uri()],
        capture_output=True, text=True, timeout=600, check=False,
    )  # fmt: skip
    found = re.search(r'data-dcl="([\d.]+)"', result.stdout)
    elements = len(re.findall(r"<[a-zA-Z]", result.stdout))
    return (float(found.group(1)) if found else None), elements


def child(measures: int, opens: int, workdir: Path) -> list[Figure]:
    copy_world(measures, workdir)
    bot = create_app(settings(workdir), clock=lambda: NOW)
    report = bot.service.status(CYCLE, NOW)
    # Nine figures in ten are in; one in eight of those is 12% off target, with a reason.
    bot.store.add_submissions(
        StoredSubmission(row["id"], row["period"], float(row["target"]) * (1 if n % 8 else 1.12),
                         "", "explained", row["owner_email"], "email",
                         f"now:{row['id']}:{row['period']}", NOW)  # fmt: skip
        for n, row in enumerate(report.measures)
        if n % 10
    )
    stages: dict[str, float] = {}
    out: dict = {}
    with timed(out):
        digest = bot.service.digest(CYCLE, NOW)
    stages["model"] = out["cpu"]
    with timed(out):
        pack = render_pack(digest)
    stages["pack"] = out["cpu"]
    with timed(out):
        email = digest_message(digest, "pmbot@agency.example", [LEADER], NOW, "agency.example",
                               pack=pack).as_bytes()  # fmt: skip
    stages["email"] = out["cpu"]
    with timed(out):
        json.dumps(slack_blocks(digest), indent=2, ensure_ascii=False)
    stages["slack-json"] = out["cpu"]
    with timed(out):
        write_tables(digest, workdir / "tables")
    stages["tables"] = out["cpu"]
    stages["whole"] = sum(stages.values())

    register = {m.id: m for m in bot.service.measures()}
    rows = bot.service.status(CYCLE, NOW).measures
    frame = digest_core.cycle_history(bot.store.history_frame(), rows, register)
    with timed(out):
        spc.analyse(frame)
    stages["spc"] = out["cpu"]
    floor = {"spc": numpy_xmr(frame), **{k: stages["model"] for k in stages if k != "spc"}}

    path = workdir / "pack.html"
    path.write_text(pack, encoding="utf-8")
    started = time.perf_counter()
    opened = [dom_content_loaded(path, workdir) for _ in range(opens)]
    browser_wall = (time.perf_counter() - started) / max(opens, 1)
    runs = [dcl for dcl, _ in opened if dcl is not None]
    dcl = statistics.median(runs) if runs else None
    elements = opened[0][1] if opened else 0
    extra = {"pack_mb": len(pack.encode()) / 1e6, "email_mb": len(email) / 1e6,
             "dcl_ms": dcl, "dcl_runs": runs, "elements": elements, "browser_wall": browser_wall,
             "exceptions": len(digest.exceptions)}  # fmt: skip
    bot.close()
    memory = peak_mb()
    return [Figure(name, measures, cpu, memory, {**extra, "floor": floor[name]})
            for name, cpu in stages.items()]  # fmt: skip


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    sizes_argument(parser)
    parser.add_argument("--no-browser", action="store_true", help="skip Chromium")
    parser.add_argument("--opens", type=int, default=1, help="open the pack N times (median)")
    args = parser.parse_args()
    opens = 0 if args.no_browser else args.opens
    if args.child:
        print(json.dumps([f.__dict__ for f in child(args.measures, opens, args.workdir)]))
        return
    figures = []
    for size in args.sizes:
        figures += measure_in_child(Path(__file__), "digest", size, "--opens", str(opens))
        print(f"  digest at {size}: {figures[-2].cpu:.2f} s CPU", file=sys.stderr, flush=True)
    order = list(dict.fromkeys(f.path for f in figures))
    figures.sort(key=lambda f: order.index(f.path))
    print_table(figures, lambda f: f.extra["floor"], "floor")
    print(f"{'measures':>9}{'pack MB':>10}{'elements':>10}{'DCL ms':>10}{'email MB':>10}"
          f"{'browser s':>11}{'exceptions':>12}")  # fmt: skip
    for f in figures:
        if f.path == "whole":
            e = f.extra
            dcl = f"{e['dcl_ms']:.0f}" if e["dcl_ms"] is not None else "-"
            runs = " ".join(f"{run:.0f}" for run in e["dcl_runs"]) if len(e["dcl_runs"]) > 1 else ""
            print(f"{f.measures:>9}{e['pack_mb']:>10.1f}{e['elements']:>10}{dcl:>10}"
                  f"{e['email_mb']:>10.1f}{e['browser_wall']:>11.1f}{e['exceptions']:>12}"
                  f"  {runs}")


if __name__ == "__main__":
    main()
