"""pmbot's HTTP edge for chat transports that call in: one ThreadingHTTPServer on $PORT.

    GET  /healthz          the dict `health()` returns, as JSON
    POST <path>            the route registered for it, e.g. Teams' /api/messages

A route takes the raw body and the headers and returns (status, JSON-able body or None); it
checks the request itself (Teams: the JWT) before it reads anything else.
"""

from __future__ import annotations

import json
import logging
import threading
from collections.abc import Callable, Mapping
from http.server import BaseHTTPRequestHandler
from typing import Any, Protocol

from bot.http_edge import READ_TIMEOUT, BoundedHTTPServer, content_length

log = logging.getLogger("pmbot.http")
HEALTH_PATH = "/healthz"
MAX_BODY = 1_000_000  # chat payloads are a few kB; a card with every field stays far below this

Health = Callable[[], Mapping[str, Any]]


class Answer(Protocol):
    status: int
    body: Any


Route = Callable[[bytes, Mapping[str, str]], Answer]


class WebServer:
    def __init__(
        self,
        routes: Mapping[str, Route],
        health: Health,
        *,
        host: str = "0.0.0.0",
        port: int = 3000,
    ) -> None:
        self.routes = dict(routes)
        self.httpd = BoundedHTTPServer((host, port), make_handler(self.routes, health))
        self.thread: threading.Thread | None = None

    @property
    def port(self) -> int:
        return self.httpd.server_address[1]

    def start(self) -> WebServer:
        self.thread = threading.Thread(
            target=self.httpd.serve_forever, args=(0.1,), name="http", daemon=True
        )
        self.thread.start()
        log.info("listening on port %s: %s", self.port, ", ".join([HEALTH_PATH, *self.routes]))
        return self

    def stop(self) -> None:
        self.httpd.shutdown()
        self.httpd.server_close()


def make_handler(routes: Mapping[str, Route], health: Health) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        server_version = "pmbot"
        timeout = READ_TIMEOUT

        def do_GET(self) -> None:  # noqa: N802 (http.server's naming)
            if self.path.partition("?")[0] != HEALTH_PATH:
                self.reply(404, {"error": "not found"})
                return
            self.reply(200, dict(health()))

        def do_POST(self) -> None:  # noqa: N802
            route = routes.get(self.path.partition("?")[0])
            if route is None:
                self.reply(404, {"error": "not found"})
                return
            length = content_length(self.headers.get("Content-Length"))
            if length is None:
                self.reply(400, {"error": "bad Content-Length"})
                return
            if length > MAX_BODY:
                self.reply(413, {"error": "request too large"})
                return
            answer = route(self.rfile.read(length), dict(self.headers.items()))
            self.reply(answer.status, answer.body)

        def reply(self, status: int, data: Any) -> None:
            payload = b"" if data is None else json.dumps(data, default=str).encode("utf-8")
            self.send_response(status)
            if payload:
                self.send_header("Content-Type", "application/json; charset=utf-8")
            self.send_header("Content-Length", str(len(payload)))
            self.end_headers()
            self.wfile.write(payload)

        def log_message(self, format: str, *args: Any) -> None:  # noqa: A002
            log.debug("%s " + format, self.address_string(), *args)

        def log_error(self, format: str, *args: Any) -> None:  # noqa: A002
            log.debug("%s " + format, self.address_string(), *args)  # the client's mistake

    return Handler
