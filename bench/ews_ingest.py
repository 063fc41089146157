"""Benchmark: 1,000 email replies in an Exchange inbox (tests/fake_ews.py), then time one
`bot.poll_mail()` over them through the EWS backend and exchangelib, over real HTTP.

Run by hand:

    .venv/bin/python bench/ews_ingest.py [--replies 1000] [--same-process]

The replies are the ones bench/ingest.py builds (every measure answered, one line in ten
refused, one reply in twenty an out-of-office), delivered straight into the fake's inbox. The
fake runs in a child process so that its CPU time is not counted as pmbot's; `--same-process`
runs it as a thread instead. A real Exchange server adds its own latency to every request, so
the requests per reply printed at the end matter as much as the rate.
"""

from __future__ import annotations

import argparse
import mailbox
import multiprocessing
import sys
import tempfile
import time
from collections import Counter
from dataclasses import replace
from datetime import datetime
from multiprocessing.connection import Connection
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path[:0] = [str(ROOT), str(ROOT / "bench")]

from ingest import build_inbox  # noqa: E402

from bot.app import create_app  # noqa: E402
from bot.periods import LONDON  # noqa: E402
from bot.settings import Settings  # noqa: E402
from tests.fake_ews import FakeExchange  # noqa: E402

USER, PASSWORD, MAILBOX = "AGENCY\\svc-pmbot", "bench-password", "pmbot@agency.example"
POLL_TIME = datetime(2026, 11, 4, 11, 0, tzinfo=LONDON)


def serve(exchange: FakeExchange, conn: Connection) -> None:
    """In the child: serve until told to stop, then report what the server saw."""
    with exchange:
        conn.send(exchange.url)
        conn.recv()
        conn.send(summary(exchange))


def summary(exchange: FakeExchange) -> dict[str, object]:
    return {
        "operations": Counter(o.name for o in exchange.operations if o.status == "ok"),
        "left in inbox": len(exchange.items(MAILBOX)),
        "processed": len(exchange.items(MAILBOX, "msgfolderroot/pmbot/processed")),
        "sent": len(exchange.sent),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--replies", type=int, default=1000)
    parser.add_argument("--same-process", action="store_true", help="run the fake as a thread")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        workdir = Path(tmp)
        env = build_inbox(
            workdir, args.replies
        )  # prompts recorded in the database, replies in a Maildir
        exchange = FakeExchange(users={USER: PASSWORD}, mailboxes=(MAILBOX,))
        inbox = mailbox.Maildir(workdir / "mail" / "inbox", factory=None)
        for key in inbox.iterkeys():
            exchange.deliver(MAILBOX, inbox.get_bytes(key))
        print(f"delivered {args.replies} replies to the fake Exchange inbox")

        if args.same_process:
            exchange.start()
            url, conn = exchange.url, None
        else:
            # Forked before any thread exists, with the inbox already filled.
            conn, child_conn = multiprocessing.Pipe()
            context = multiprocessing.get_context("fork")
            server = context.Process(target=serve, args=(exchange, child_conn), daemon=True)
            server.start()
            url = conn.recv()

        extra = {
            "PMBOT_MAIL_BACKEND": "ews", "PMBOT_EWS_URL": url, "PMBOT_EWS_AUTH": "basic",
            "PMBOT_EWS_USER": USER, "PMBOT_EWS_PASSWORD": PASSWORD, "PMBOT_EWS_MAILBOX": MAILBOX,
        }  # fmt: skip
        settings = replace(Settings.from_env({**env, **extra}), db_path=Path(env["PMBOT_DB"]))
        bot = create_app(settings, clock=lambda: POLL_TIME)
        started = time.perf_counter()
        results = bot.poll_mail().results
        elapsed = time.perf_counter() - started
        bot.close()

        if conn is None:
            seen = summary(exchange)
            exchange.stop()
        else:
            conn.send("stop")
            seen = conn.recv()
            server.join()
        outcomes = Counter(r.outcome for r in results)
        requests = sum(seen["operations"].values())
        print(f"outcomes: {dict(outcomes)}; server: {seen['processed']} processed, "
              f"{seen['left in inbox']} left in the inbox, {seen['sent']} sent")  # fmt: skip
        print(
            f"requests: {requests / max(len(results), 1):.2f} per reply: "
            + ", ".join(f"{n} {op}" for op, n in seen["operations"].most_common())
        )
        where = "a thread" if args.same_process else "its own process"
        print(f"bot.poll_mail() over EWS (fake in {where}): {len(results)} replies in "
              f"{elapsed:.1f}s = {len(results) / elapsed:.0f} replies/s")  # fmt: skip


if __name__ == "__main__":
    main()
