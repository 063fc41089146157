"""Benchmark: 10,000 email replies in a Maildir inbox, then time `pmbot mail poll` over them.

Target: at least 500 replies per second on a 2-core machine. Run by hand:

    .venv/bin/python bench/ingest.py [--replies 10000]

Each reply answers the owner's prompt with every measure (one line in ten is refused: an
impossible percentage), quotes the original below an Outlook header block, and one in twenty
is an out-of-office. The poll runs as a separate `pmbot` process, so its peak memory is measured
alone.
"""

from __future__ import annotations

import argparse
import os
import resource
import subprocess
import sys
import tempfile
import time
from dataclasses import replace
from datetime import datetime
from email.message import EmailMessage
from email.utils import make_msgid
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from bot.app import create_app  # noqa: E402
from bot.periods import LONDON, parse_period  # noqa: E402
from bot.settings import Settings  # noqa: E402


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
    message = EmailMessage()
    message["From"] = prompt.owner_email
    message["To"] = bot_address
    message["Message-ID"] = make_msgid(idstring=str(n), domain="client.example")
    message["In-Reply-To"] = original["Message-ID"]
    message["References"] = original["Message-ID"]
    if n % 20 == 19:
        message["Subject"] = f"Automatic reply: {original['Subject']}"
        message["Auto-Submitted"] = "auto-replied"
        message.set_content("I am out of the office until Monday.")
        return message
    message["Subject"] = f"RE: {original['Subject']}"
    lines = []
    for i, line in enumerate(prompt.lines):
        value = "140%" if (n + i) % 10 == 0 else line.last_value.replace("n/a", "1")
        lines.append(f"{line.measure_id}: {value} commentary for reply {n}")
    quoted = original.get_body(("plain",)).get_content()
    message.set_content(
        "\n".join(lines) + "\n\nThanks\n\n________________________________\n"
        f"From: pmbot <{bot_address}>\nSent: {original['Date']}\n"
        f"To: {prompt.owner_email}\nSubject: {original['Subject']}\n\n{quoted}"
    )
    return message


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--replies", type=int, default=10_000)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        workdir = Path(tmp)
        started = time.perf_counter()
        env = build_inbox(workdir, args.replies)
        print(f"built {args.replies} replies in {time.perf_counter() - started:.1f}s")
        pmbot = Path(sys.executable).parent / "pmbot"
        started = time.perf_counter()
        result = subprocess.run(
            [str(pmbot), "--now", "2026-11-04T11:00", "mail", "poll"],
            env={**os.environ, **env}, capture_output=True, text=True, check=True,
        )  # fmt: skip
        elapsed = time.perf_counter() - started
        peak_mb = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss / 1024
        print(result.stdout.strip().splitlines()[-1])
        print(f"pmbot mail poll: {args.replies} replies in {elapsed:.1f}s = "
              f"{args.replies / elapsed:.0f} replies/s (target >= 500); "
              f"peak memory {peak_mb:.0f} MB")  # fmt: skip


if __name__ == "__main__":
    main()
