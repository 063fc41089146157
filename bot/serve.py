"""`pmbot serve`: the long-running process. For now it runs the mail poller.

It stops cleanly on SIGTERM or SIGINT: the poll under way finishes, no new one starts.
"""

from __future__ import annotations

import logging
import signal
import threading

from bot.app import Clock, create_app, system_clock
from bot.mail.base import MailUnavailable
from bot.settings import Settings

log = logging.getLogger("pmbot.serve")


def serve(settings: Settings, *, clock: Clock = system_clock, once: bool = False) -> int:
    bot = create_app(settings, clock=clock)
    stopping = threading.Event()

    def stop(signum, frame) -> None:
        log.info("signal %s: stopping after the current poll", signum)
        stopping.set()

    signal.signal(signal.SIGTERM, stop)
    signal.signal(signal.SIGINT, stop)
    log.info("pmbot serving: mail backend %s, polling every %ss", settings.mail_backend,
             settings.poll_seconds)  # fmt: skip
    was_down = False
    try:
        while not stopping.is_set():
            try:
                summary = bot.poll_mail()
                if was_down:
                    log.warning("mail server is back")
                was_down = False
                if summary.results:
                    log.info("polled %d messages", len(summary.results))
            except MailUnavailable as exc:
                # Said once per outage, not on every poll.
                if not was_down:
                    log.error("mail unavailable: %s", exc)
                was_down = True
            if once:
                break
            stopping.wait(settings.poll_seconds)
    finally:
        bot.close()
    return 0
