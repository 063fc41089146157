"""Benchmark: 1,000 email replies waiting in a fake Microsoft Graph mailbox, then time one poll.

    .venv/bin/python bench/graph_ingest.py [--replies 1000] [--page-size 100]

The bot is built by the real factory with PMBOT_MAIL_BACKEND=graph, pointed at the fake in
tests/fake_graph.py on 127.0.0.1, and `bot.poll_mail()` is timed: for each reply it reads the
MIME ($value), stores the figures, sends a confirmation (sendMail), marks the reply read and
moves it (PATCH, move): four HTTP requests a reply, plus the paged listing.

Replies are shaped like bench/ingest.py's: every measure answered, one line in ten refused (an
impossible percentage), the original quoted below an Outlook header block, one reply in twenty
an out-of-office. The fake runs in the same process, so its work (and the GIL it shares with
the bot) is part of the time: real Graph answers slower, but not on this machine's CPU.
"""

from __future__ import annotations

import argparse
import sys
import tempfile
import time
from datetime import datetime
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from ingest import owner_reply  # noqa: E402

from bot.app import Bot, create_app  # noqa: E402
from bot.periods import LONDON, parse_period  # noqa: E402
from bot.settings import Settings  # noqa: E402
from tests.fake_graph import FakeGraph  # noqa: E402

PROMPT_TIME = datetime(2026, 11, 2, 9, tzinfo=LONDON)
POLL_TIME = datetime(2026, 11, 4, 11, tzinfo=LONDON)


def build_bot(workdir: Path, graph: FakeGraph, page_size: int) -> tuple[Bot, list[datetime]]:
    env = {
        "PMBOT_DB": str(workdir / "bench.db"),
        "PMBOT_MAIL_FROM": graph.mailbox,
        "PMBOT_MAIL_BACKEND": "graph",
        "PMBOT_GRAPH_TENANT_ID": graph.tenant,
        "PMBOT_GRAPH_CLIENT_ID": graph.client_id,
        "PMBOT_GRAPH_CLIENT_SECRET": graph.client_secret,
        "PMBOT_GRAPH_MAILBOX": graph.mailbox,
        "PMBOT_GRAPH_API_URL": graph.api_url,
        "PMBOT_GRAPH_AUTHORITY_URL": graph.url,
    }
    now = [PROMPT_TIME]
    bot = create_app(Settings.from_env(env), clock=lambda: now[0])
    bot.mail.page_size = page_size
    return bot, now


def deliver_replies(bot: Bot, graph: FakeGraph, replies: int) -> None:
    bot.service.import_register(ROOT / "data" / "measures.yaml", PROMPT_TIME)
    bot.service.import_history(ROOT / "data" / "history.csv", PROMPT_TIME)
    prompts = bot.send_prompts(parse_period("2026-10"))
    sent = {m["To"].addresses[0].addr_spec: m for m in graph.sent_messages()}
    for n in range(replies):
        prompt = prompts[n % len(prompts)]
        graph.deliver(owner_reply(n, prompt, sent[prompt.owner_email]))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--replies", type=int, default=1_000)
    parser.add_argument("--page-size", type=int, default=100)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp, FakeGraph(mailbox="pmbot@agency.example") as graph:
        bot, now = build_bot(Path(tmp), graph, args.page_size)
        started = time.perf_counter()
        deliver_replies(bot, graph, args.replies)
        print(f"built {args.replies} replies in {time.perf_counter() - started:.1f}s")
        now[0] = POLL_TIME
        before, prompts = len(graph.requests), len(graph.sent)
        started = time.perf_counter()
        summary = bot.poll_mail()
        elapsed = time.perf_counter() - started
        answered = len(graph.sent) - prompts
        requests = len(graph.requests) - before
        bot.close()
    replies = len(summary.results)
    outcomes = {o: summary.count(o) for o in ("stored", "rejected", "ignored", "seen")}
    print(f"outcomes: {outcomes}")
    print(
        f"bot.poll_mail() over Graph: {replies} replies in {elapsed:.2f}s = "
        f"{replies / elapsed:.0f} replies/s ({answered} confirmations sent); "
        f"{requests} HTTP requests, {elapsed / requests * 1000:.2f} ms each (fake included)"
    )


if __name__ == "__main__":
    main()
