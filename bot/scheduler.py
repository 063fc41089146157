"""The clock: `schedule` runs a tick every minute; the tick asks the service what is due.

The timetable looks at state (who is outstanding, what the ledger holds), never at what the
last tick did, so the first tick after a crash or a deploy catches up on what was missed and
repeats nothing.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable

import schedule

from bot.app import Bot
from bot.mail.base import MailUnavailable

log = logging.getLogger("pmbot.scheduler")


def run_scheduler(
    bot: Bot, stopping: threading.Event, report: Callable[[str, str], None] = lambda s, d: None
) -> None:
    """Tick now and then every minute until `stopping` is set; `report(state, detail)` feeds
    the health check."""
    clock = schedule.Scheduler()

    def tick() -> None:
        if stopping.is_set():
            return
        try:
            done = bot.tick()
        except MailUnavailable as exc:
            # The actions are recorded and their mail queued: it goes when the server is back.
            report("degraded", f"mail unavailable: {exc}")
            return
        except Exception:  # the one error boundary of the scheduler: log, keep ticking
            log.exception("tick failed")
            report("error", "the last tick failed; see the log")
            return
        report("ok", f"{len(done)} actions in the last tick" if done else "idle")

    clock.every(1).minutes.do(tick)
    tick()
    while not stopping.is_set():
        clock.run_pending()
        stopping.wait(max(1.0, clock.idle_seconds or 1.0))
