"""pmbot's one HTTP edge: one server on $PORT for /healthz and every chat transport's routes.

    GET  /healthz          the dict `health()` returns, as JSON
    GET  <prefix>...       a page: the full pack at /packs/<cycle>/<token> (bot.packs)
    POST <path>            the route a chat adapter registered for it: Slack's /slack/events,
                           Teams' /api/messages

Every route gets the same hardening (bot.http_edge): a bounded pool of workers, read timeouts,
a cap on the body and clean 400/404/413 answers before the route sees anything. A route takes the
raw body and the headers and returns an `Answer`; it checks the request itself (Slack: the
signature and the replay guard; Teams: the JWT) before it acts on anything.
"""

from __future__ import annotations

import json
import logging
import threading
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler
from typing import Any

from bot.http_edge import READ_TIMEOUT, BoundedHTTPServer, content_length

log = logging.getLogger("pmbot.http")
HEALTH_PATH = "/healthz"
MAX_BODY = 1_000_000  # chat payloads are a few kB; a card with every field stays far below this

Health = Callable[[], Mapping[str, Any]]


@dataclass(frozen=True)
class Answer:
    """A route's answer: `body` is sent as JSON, or as it is when it is already text/bytes
    (Bolt's answers), with `headers` (Content-Length is the edge's)."""

    status: int
    body: Any = None
    headers: Mapping[str, str] = field(default_factory=dict)


Route = Callable[[bytes, Mapping[str, str]], Answer]
# GET routes are keyed by a path prefix ending in "/" and get the whole path.
Page = Callable[[str, Mapping[str, str]], Answer]


@dataclass
class Endpoint:
    """What one chat adapter adds to `pmbot serve`: its routes on the edge, what to close at
    the end, and a line for /healthz."""

    routes: dict[str, Route]
    detail: str
    closing: list[Any] = field(default_factory=list)


class WebServer:
    def __init__(
        self,
        routes: Mapping[str, Route],
        health: Health,
        *,
        host: str = "0.0.0.0",
        port: int = 3000,
        pages: Mapping[str, Page] | None = None,
    ) -> None:
        self.routes = dict(routes)
        self.pages = dict(pages or {})
        handler = make_handler(self.routes, health, self.pages)
        self.httpd = BoundedHTTPServer((host, port), handler)
        self.thread: threading.Thread | None = None

    @property
    def port(self) -> int:
        return self.httpd.server_address[1]

    def start(self) -> WebServer:
        # A short poll interval: stop() waits for it, and a deploy should not.
        self.thread = threading.Thread(
            target=self.httpd.serve_forever, args=(0.1,), name="http", daemon=True
        )
        self.thread.start()
        paths = [HEALTH_PATH, *self.routes, *self.pages]
        log.info("listening on port %s: %s", self.port, ", ".join(paths))
        return self

    def stop(self) -> None:
        self.httpd.shutdown()
        self.httpd.server_close()


def make_handler(
    routes: Mapping[str, Route], health: Health, pages: Mapping[str, Page] | None = None
) -> type[BaseHTTPRequestHandler]:
    pages = dict(pages or {})

    class Handler(BaseHTTPRequestHandler):
        server_version = "pmbot"
        timeout = READ_TIMEOUT

        def do_GET(self) -> None:  # noqa: N802 (http.server's naming)
            path = self.path.partition("?")[0]
            if path == HEALTH_PATH:
                self.reply(Answer(200, dict(health())))
                return
            page = next((p for prefix, p in pages.items() if path.startswith(prefix)), None)
            if page is None:
                self.reply(Answer(404, {"error": "not found"}))
                return
            self.reply(page(path, dict(self.headers.items())))

        def do_POST(self) -> None:  # noqa: N802
            route = routes.get(self.path.partition("?")[0])
            if route is None:
                self.reply(Answer(404, {"error": "not found"}))
                return
            length = content_length(self.headers.get("Content-Length"))
            if length is None:
                self.reply(Answer(400, {"error": "bad Content-Length"}))
                return
            if length > MAX_BODY:
                self.reply(Answer(413, {"error": "request too large"}))
                return
            self.reply(route(self.rfile.read(length), dict(self.headers.items())))

        def reply(self, answer: Answer) -> None:
            data, headers = answer.body, dict(answer.headers)
            if data is None:
                payload = b""
            elif isinstance(data, bytes | str):
                payload = data.encode("utf-8") if isinstance(data, str) else data
            else:
                payload = json.dumps(data, default=str).encode("utf-8")
                headers["Content-Type"] = "application/json; charset=utf-8"
            self.send_response(answer.status)
            for name, value in headers.items():
                if name.lower() != "content-length":
                    self.send_header(name, value)
            self.send_header("Content-Length", str(len(payload)))
            self.end_headers()
            self.wfile.write(payload)

        def log_message(self, format: str, *args: Any) -> None:  # noqa: A002
            log.debug("%s " + format, self.address_string(), *args)

        def log_error(self, format: str, *args: Any) -> None:  # noqa: A002
            # Malformed request lines and timeouts: the client's mistake, answered 400/408.
            log.debug("%s " + format, self.address_string(), *args)

    return Handler
