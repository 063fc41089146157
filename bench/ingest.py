"""Benchmark: owners' email replies in a Maildir inbox, taken by `Bot.poll_mail` (`mail poll`).

For each size (500, 2,000 and 8,000 measures; owners = measures / 5) a child process copies the
cached world (bench/world.py, a year of ledger, outbox and inbound behind it), records this
cycle's prompts, lets the bot take a first poll of 20 replies (`first_poll`), drops `--replies`
replies into the inbox and times one poll over them:

- ingest: on the world with a year of history;
- ingest-bare: on the same register and figures without the year of ledger, outbox and inbound.

Each reply answers the owner's prompt (In-Reply-To its Message-ID) with every measure (one line
in ten refused: a negative count), quotes the original below an Outlook header block; one in
twenty is an out-of-office. The floor is what no poll can avoid: read and parse every message
as the bot parses it (compat32, headers left as text until asked), decode its plain-text body
and insert one row per reply, in one transaction, into a SQLite file in WAL mode. Prints CPU
seconds (and the kernel's share, "sys"), replies per CPU-second, peak memory, the ratio to the
floor and the growth exponent; "new_files": the CPU seconds this disk takes to create as many
empty files as the poll sent confirmations (the part of "sys" no code of ours can change);
"first_poll": the CPU seconds of the first poll; "cold": replies per CPU-second of both polls.

Give TMPDIR a folder where nothing was deleted in the last minutes: see `new_files`.

    .venv/bin/python bench/ingest.py [--sizes 500 2000 8000] [--replies 2000]

`build_inbox` and `owner_reply` serve the IMAP, EWS and Graph benchmarks.
"""

from __future__ import annotations

import argparse
import os
import sqlite3
import sys
from dataclasses import replace
from datetime import datetime
from email.message import EmailMessage
from email.utils import make_msgid
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from world import (  # noqa: E402
    CYCLE,
    Figure,
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
from bot.mail.base import InboundMail  # noqa: E402
from bot.outreach import reference  # noqa: E402
from bot.periods import LONDON, parse_period  # noqa: E402
from bot.settings import Settings  # noqa: E402

FIRST_POLL = 20  # replies in the process's first poll, before the one measured


def build_inbox(workdir: Path, replies: int) -> dict[str, str]:
    env = {
        "PMBOT_DB": str(workdir / "bench.db"),
        "PMBOT_MAILDIR": str(workdir / "mail"),
        "PMBOT_MAIL_FROM": "pmbot@agency.example",
    }
    prompt_time = datetime(2026, 11, 2, 9, tzinfo=LONDON)
    settings = replace(Settings.from_env(env), db_path=Path(env["PMBOT_DB"]),
                       maildir=Path(env["PMBOT_MAILDIR"]))  # fmt: skip
    bot = create_app(settings, clock=lambda: prompt_time)
    bot.service.import_register(ROOT / "data" / "measures.yaml", prompt_time)
    bot.service.import_history(ROOT / "data" / "history.csv", prompt_time)
    prompts = bot.send_prompts(parse_period("2026-10"))
    sent = {m["To"].addresses[0].addr_spec: m for m in bot.mail.outbox_messages()}
    for n in range(replies):
        prompt = prompts[n % len(prompts)]
        bot.mail.deliver_to_inbox(owner_reply(n, prompt, sent[prompt.owner_email]))
    bot.close()
    return env


def owner_reply(n: int, prompt, original: EmailMessage) -> EmailMessage:
    """Reply number `n` to a prompt: every measure answered (one line in ten refused: 140%),
    the original quoted below an Outlook header block; one in twenty is an out-of-office."""
    bot_address = original["From"].addresses[0].addr_spec
    answers = [
        f"{line.measure_id}: "
        f"{'140%' if (n + i) % 10 == 0 else line.last_value.replace('n/a', '1')} "
        f"commentary for reply {n}"
        for i, line in enumerate(prompt.lines)
    ]
    quoted = original.get_body(("plain",)).get_content()
    return reply(n, prompt.owner_email, bot_address, original["Message-ID"],
                 original["Subject"], answers, original["Date"], quoted)  # fmt: skip


def world_reply(n: int, owner: int, measures: int, prompt_id: str) -> EmailMessage:
    """Reply `n`, from owner number `owner`, to the prompt `prompt_id` (one line in ten
    refused: a negative count)."""
    sender = owner_of(owner * 5)
    answers = [
        f"M{number // 1000 + 1}-{number % 1000:03d}: "
        f"{'-5' if (n + i) % 10 == 0 else 100 + number % 50} steady, reply {n}"
        for i, number in enumerate(range(owner * 5, min(owner * 5 + 5, measures)))
    ]
    subject = f"Figures for October 2026 [{reference(sender, CYCLE)}]"
    quoted = "M1-000: \n" * 5 + "Please reply by Friday.\n"
    return reply(n, sender, "pmbot@agency.example", prompt_id, subject, answers,
                 "Monday 2 November 2026 09:00", quoted)  # fmt: skip


def reply(n: int, sender: str, bot_address: str, original_id: str, subject: str,
          answers: list[str], sent: str, quoted: str) -> EmailMessage:  # fmt: skip
    """An owner's answer above the quoted original (Outlook style); every twentieth is an
    out-of-office instead."""
    message = EmailMessage()
    message["From"] = sender
    message["To"] = bot_address
    message["Message-ID"] = make_msgid(idstring=str(n), domain="client.example")
    message["In-Reply-To"] = original_id
    message["References"] = original_id
    if n % 20 == 19:
        message["Subject"] = f"Automatic reply: {subject}"
        message["Auto-Submitted"] = "auto-replied"
        message.set_content("I am out of the office until Monday.")
        return message
    message["Subject"] = f"RE: {subject}"
    message.set_content(
        "\n".join(answers) + "\n\nThanks\n\n________________________________\n"
        f"From: pmbot <{bot_address}>\nSent: {sent}\nTo: {sender}\nSubject: {subject}\n\n"
        + quoted
    )
    return message


def floor(inbox: Path, workdir: Path) -> float:
    """CPU seconds to parse every message and insert one row each in one WAL transaction."""
    conn = sqlite3.connect(workdir / "floor.db")
    conn.execute("PRAGMA journal_mode=WAL")
    conn.execute("PRAGMA synchronous=NORMAL")
    conn.execute("CREATE TABLE replies (message_id TEXT UNIQUE, sender TEXT, body TEXT)")
    out: dict = {}
    with timed(out):
        conn.execute("BEGIN IMMEDIATE")
        for path in sorted(inbox.iterdir()):
            # The bot's own parser: policy.default (and get_body/get_content) cost ten times
            # as much, and a floor that parses that way is no floor.
            message = InboundMail(path.name, path.read_bytes()).message
            body = next(p for p in message.walk() if p.get_content_type() == "text/plain")
            text = body.get_payload(decode=True).decode(body.get_content_charset() or "utf-8")
            conn.execute("INSERT INTO replies VALUES (?, ?, ?)",
                         [message["Message-ID"], message["From"], text])  # fmt: skip
        conn.execute("COMMIT")
    conn.close()
    return out["cpu"]


def new_files(folder: Path, count: int) -> float:
    """CPU seconds to create `count` empty files in `folder`: what this disk charges for the
    confirmation files a poll writes there (outbox/tmp, then renamed into new/), which the
    floor does not write.

    On the machine these figures were first taken on it was 0.02 ms a file in some folders and
    0.3-0.7 ms in others: ext4 without a journal steps over every recently deleted inode of
    the folder's block group for each file it creates, and the temp folder is where tests and
    benchmarks delete thousands of files.
    """
    out: dict = {}
    with timed(out):
        for n in range(count):
            os.close(os.open(folder / f"bench-{n}", os.O_CREAT | os.O_WRONLY, 0o600))
    return out["cpu"]


def first_poll(bot, replies: int, owners: int, measures: int) -> float:
    """CPU seconds of the bot's first poll, over FIRST_POLL replies.

    The measured poll is a running bot's (`pmbot serve` polls every minute): a process's first
    poll also reads the register, compiles the templates and loads the holiday calendar,
    about 0.2 s at any size, once. That cost is shown on its own ("first_poll") and in "cold":
    replies per CPU-second of a fresh process taking both polls.
    """
    for k in range(FIRST_POLL):
        owner = (k * 13 + 1) % owners
        reply = world_reply(replies + k, owner, measures, f"<prompt.{owner}@bench>")
        bot.mail.deliver_to_inbox(reply)
    out: dict = {}
    with timed(out):
        bot.poll_mail()
    return out["cpu"]


def child(path: str, measures: int, replies: int, workdir: Path) -> Figure:
    copy_world(measures, workdir, year=path == "ingest")
    now = datetime(2026, 11, 3, 11, tzinfo=LONDON)
    bot = create_app(settings(workdir), clock=lambda: now)
    owners = (measures + 4) // 5
    with bot.store.atomic():
        for owner in range(owners):
            key, ref = f"{owner_of(owner * 5)}:{CYCLE}", f"<prompt.{owner}@bench>"
            bot.service.record_action("prompt", key, now, transport_ref=ref, cycle=str(CYCLE))
    first = first_poll(bot, replies, owners, measures)
    for n in range(replies):
        owner = n * 7 % owners
        bot.mail.deliver_to_inbox(world_reply(n, owner, measures, f"<prompt.{owner}@bench>"))
    base = floor(workdir / "mail" / "inbox" / "new", workdir)
    outbox = workdir / "mail" / "outbox" / "new"
    before = len(os.listdir(outbox))
    out: dict = {}
    with timed(out):
        summary = bot.poll_mail()
    stored = summary.count("stored")
    if len(summary.results) != replies or stored < replies * 0.9:
        sys.exit(f"the poll took {len(summary.results)} messages, {stored} stored")
    files = new_files(workdir / "mail" / "outbox" / "tmp", len(os.listdir(outbox)) - before)
    cold = (replies + FIRST_POLL) / (out["cpu"] + first)
    extra = {"floor": base, "replies_per_cpu_s": replies / out["cpu"], "stored": stored,
             "sys": out["sys"], "new_files": files, "first_poll": first, "cold": cold,
             "wall": out["wall"]}  # fmt: skip
    bot.close()
    return Figure(path, measures, out["cpu"], peak_mb(), extra)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    sizes_argument(parser)
    parser.add_argument("--replies", type=int, default=2000)
    parser.add_argument("--paths", nargs="+", default=["ingest", "ingest-bare"])
    args = parser.parse_args()
    if args.child:
        print(child(args.child, args.measures, args.replies, args.workdir).as_json())
        return
    figures = [figure for path in args.paths for size in args.sizes
               for figure in measure_in_child(Path(__file__), path, size, "--replies",
                                              str(args.replies))]  # fmt: skip
    print(f"{args.replies} replies per run")
    columns = ("replies_per_cpu_s", "floor", "sys", "new_files", "first_poll", "cold")
    print_table(figures, lambda f: f.extra["floor"], "floor", columns)


if __name__ == "__main__":
    main()
