"""`pmbot serve`: one process running the mail poller, the scheduler and (when configured)
each chat transport, each in its own thread so that one failing does not stop the others.

SIGTERM or SIGINT sets a stop flag: each part finishes what it is doing and starts nothing new.
`/healthz` on $PORT reports each part's state.
"""

from __future__ import annotations

import logging
import signal
import sys
import threading
from datetime import datetime

from bot import packs
from bot.app import Bot, Clock, chat_adapters, create_app, system_clock
from bot.mail.base import MailUnavailable
from bot.periods import LONDON
from bot.scheduler import run_scheduler
from bot.settings import Settings
from bot.web import WebServer

log = logging.getLogger("pmbot.serve")


class Health:
    """Each part's latest state, for /healthz and the logs."""

    def __init__(self) -> None:
        self.parts: dict[str, dict[str, str]] = {}
        self.lock = threading.Lock()

    def reporter(self, part: str):
        def report(state: str, detail: str = "") -> None:
            with self.lock:
                previous = self.parts.get(part, {}).get("state")
                self.parts[part] = {"state": state, "detail": detail,
                                    "since": datetime.now(LONDON).isoformat(timespec="seconds")}
            if state != previous:
                level = logging.INFO if state in ("ok", "idle", "starting") else logging.ERROR
                log.log(level, "%s: %s %s", part, state, detail)

        return report

    def snapshot(self) -> dict:
        with self.lock:
            parts = {k: dict(v) for k, v in self.parts.items()}
        healthy = all(p["state"] in ("ok", "starting") for p in parts.values())
        return {"status": "ok" if healthy else "degraded", "parts": parts}


def run_poller(bot: Bot, stopping: threading.Event, report, interval: float) -> None:
    while not stopping.is_set():
        try:
            summary = bot.poll_mail()
            # Mail that could not be read is news for a coordinator, not a poller failure.
            quarantined = bot.service.quarantined_mail()
            held = f"; {quarantined} quarantined" if quarantined else ""
            report("ok", f"last poll: {len(summary.results)} messages{held}")
        except MailUnavailable as exc:
            report("down", str(exc))  # logged once: Health logs changes of state only
        except Exception:  # the poller's error boundary: log, keep polling
            log.exception("mail poll failed")
            report("error", "the last poll failed; see the log")
        stopping.wait(interval)


def serve(settings: Settings, *, clock: Clock = system_clock, once: bool = False) -> int:
    if once:
        bot = create_app(settings, clock=clock)
        try:
            bot.tick()
            bot.poll_mail()
        finally:
            bot.close()
        return 0
    stopping = threading.Event()
    health = Health()

    def stop(signum, frame) -> None:
        log.info("signal %s: finishing the current work, then stopping", signum)
        stopping.set()

    signal.signal(signal.SIGTERM, stop)
    signal.signal(signal.SIGINT, stop)
    # Each part gets its own bot: its own mail connection (IMAP and EWS sessions are not
    # shared between threads) and its own database connection; they share the SQLite file.
    poller, scheduler = create_app(settings, clock=clock), create_app(settings, clock=clock)
    bots = [poller, scheduler]
    # One listener bot takes what people send on every chat: its chats are all registered, so a
    # figure sent in one updates the leaders' alerts in each. Each chat adds its routes to the
    # one HTTP edge (Slack's /slack/events, Teams' /api/messages) or its own connection.
    listener = None
    routes: dict = {}
    closing: list = []
    for adapter in chat_adapters(settings):
        # Each checks its credentials first: a wrong one stops here with a clear message.
        listener = listener or create_app(settings, clock=clock)
        endpoint = adapter.serve(listener)
        routes.update(endpoint.routes)
        closing += endpoint.closing
        closing.append(adapter.create(scheduler))  # the tick prompts, alerts and posts there
        health.reporter(adapter.__name__.rpartition(".")[2])("ok", endpoint.detail)
    if listener is not None:
        bots.append(listener)
    # With PMBOT_PUBLIC_URL, the packs the digest links to (bot.packs); the scheduler writes them.
    shelf = scheduler.reach.packs
    pages = {packs.PREFIX: shelf.answer} if shelf is not None else {}
    server = WebServer(routes, health.snapshot, host=settings.host, port=settings.port,
                       pages=pages).start()  # fmt: skip
    parts = [
        threading.Thread(target=run_poller, name="mail", daemon=True,
                         args=(poller, stopping, health.reporter("mail"), settings.poll_seconds)),
        threading.Thread(target=run_scheduler, name="scheduler", daemon=True,
                         args=(scheduler, stopping, health.reporter("scheduler"))),
    ]  # fmt: skip
    for part in parts:  # every part is "starting" before any starts: /healthz never omits one
        health.reporter(part.name)("starting")
    for part in parts:
        part.start()
    log.info("pmbot serving: mail backend %s, health on %s:%s/healthz", settings.mail_backend,
             settings.host, settings.port)  # fmt: skip
    try:
        while any(p.is_alive() for p in parts) and not stopping.is_set():
            stopping.wait(1)
        for part in parts:
            part.join(timeout=60)
    finally:
        server.stop()
        for part in closing:
            if hasattr(part, "close"):  # Slack's runtime holds nothing to close
                part.close()
        for bot in bots:
            bot.close()
    return 0


def serve_stdin_clock(settings: Settings) -> int:
    """Run ticks at the times read from stdin, one ISO time a line, answering 'done TIME'.

    For drills and tests: the process behaves as `serve` does at each of those moments, with no
    waiting, so a whole month can be played in seconds and the process killed at any point.
    """
    now = {"time": datetime.now(LONDON)}
    bot = create_app(settings, clock=lambda: now["time"])
    try:
        for line in sys.stdin:
            if not line.strip():
                continue
            moment = datetime.fromisoformat(line.strip())
            now["time"] = moment if moment.tzinfo else moment.replace(tzinfo=LONDON)
            bot.poll_mail()  # replies that came in count before anyone is reminded
            bot.tick()
            print(f"done {line.strip()}", flush=True)
    finally:
        bot.close()
    return 0
