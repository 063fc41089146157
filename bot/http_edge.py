"""The HTTP edge `pmbot serve` listens on: a bounded pool of workers, read timeouts, clean
answers to malformed requests, and a guard against replayed signed requests.

`http.server`'s ThreadingHTTPServer starts a thread per connection and waits forever for a
slow client: 1,000 idle connections hold 1,000 threads. Here at most WORKERS requests are
served at once, each socket read gives up after READ_TIMEOUT seconds, and a connection beyond
the pool is answered 503 at once.
"""

from __future__ import annotations

import contextlib
import logging
import threading
import time
from collections import OrderedDict
from concurrent.futures import ThreadPoolExecutor
from http.server import HTTPServer

log = logging.getLogger("pmbot.http")
WORKERS = 16
READ_TIMEOUT = 10.0  # seconds a client may take to send each part of its request
REPLAY_WINDOW = 330.0  # Slack's 5-minute timestamp window, and half a minute of clock skew


class BoundedHTTPServer(HTTPServer):
    daemon_threads = True
    request_queue_size = 128  # the listen backlog: connections beyond the pool get their 503

    def __init__(self, address, handler, workers: int | None = None) -> None:
        super().__init__(address, handler)
        workers = workers or WORKERS
        self.pool = ThreadPoolExecutor(max_workers=workers, thread_name_prefix="http")
        self.slots = threading.BoundedSemaphore(workers)

    def process_request(self, request, client_address) -> None:
        if not self.slots.acquire(blocking=False):
            busy(request)
            self.shutdown_request(request)
            return
        self.pool.submit(self._serve, request, client_address)

    def _serve(self, request, client_address) -> None:
        try:
            self.finish_request(request, client_address)
        except Exception:
            self.handle_error(request, client_address)
        finally:
            self.shutdown_request(request)
            self.slots.release()

    def handle_error(self, request, client_address) -> None:
        # One line, not a traceback per hostile request: the log is for people.
        log.warning("request from %s failed and was dropped", client_address[0])

    def server_close(self) -> None:
        super().server_close()
        self.pool.shutdown(wait=False, cancel_futures=True)


def busy(request) -> None:
    with contextlib.suppress(OSError):  # the client has gone already: nothing to tell it
        request.sendall(
            b"HTTP/1.1 503 Service Unavailable\r\nContent-Length: 0\r\nRetry-After: 1\r\n"
            b"Connection: close\r\n\r\n"
        )


def content_length(value: str | None) -> int | None:
    """The request's Content-Length as a number of bytes; None when it is not one."""
    text = (value or "0").strip()
    return int(text) if text.isascii() and text.isdigit() else None


class ReplayGuard:
    """Remembers signed requests for the window in which their signature is valid, so that a
    replay of the same request (same timestamp, same signature) is acted on once."""

    def __init__(self, window: float = REPLAY_WINDOW, limit: int = 100_000) -> None:
        self.window, self.limit = window, limit
        self.seen: OrderedDict[str, float] = OrderedDict()
        self.lock = threading.Lock()

    def first_time(self, key: str, now: float | None = None) -> bool:
        now = time.monotonic() if now is None else now
        with self.lock:
            while self.seen and (
                len(self.seen) > self.limit or next(iter(self.seen.values())) < now - self.window
            ):
                self.seen.popitem(last=False)
            if key in self.seen:
                return False
            self.seen[key] = now
            return True

    def forget(self, key: str) -> None:
        """For a request that was refused (a bad signature): its key proves nothing."""
        with self.lock:
            self.seen.pop(key, None)
