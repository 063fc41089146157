"""Getting Slack's requests to the Bolt app: HTTP mode or Socket Mode.

HTTP mode: one HTTP server on $PORT (bot.http_edge: bounded workers, read timeouts).

    POST /slack/events   events, interactivity and slash commands (one Request URL for all);
                         Bolt checks the signature and the 5-minute timestamp window
    GET  /healthz        the dict `health()` returns, as JSON

Each request is handed to Bolt as `App.dispatch(BoltRequest(...))` on the server's request
thread; Bolt answers as soon as the listener acks and runs the rest on its own pool.

Socket Mode (SLACK_APP_TOKEN set): the app opens a WebSocket to Slack instead, so nothing
inbound reaches the HTTP server except /healthz.
"""

from __future__ import annotations

import json
import logging
import threading
from collections.abc import Callable, Mapping
from http.server import BaseHTTPRequestHandler
from typing import TYPE_CHECKING, Any

from slack_bolt import App, BoltRequest, BoltResponse

from bot.http_edge import READ_TIMEOUT, BoundedHTTPServer, ReplayGuard, content_length
from bot.slack.client import SlackConfigError, SlackError, translated

if TYPE_CHECKING:
    from bot.slack.app import SlackRuntime

log = logging.getLogger("pmbot.slack.http")
EVENTS_PATH = "/slack/events"
HEALTH_PATH = "/healthz"
MAX_BODY = 1_000_000  # Slack's payloads are a few kB; a modal's state stays far below this

Health = Callable[[], Mapping[str, Any]]


class SlackHttpServer:
    """The HTTP endpoint. `app=None` serves /healthz only (Socket Mode)."""

    def __init__(
        self, app: App | None, health: Health, *, host: str = "0.0.0.0", port: int = 3000
    ) -> None:
        self.app = app
        self.health = health
        self.httpd = BoundedHTTPServer((host, port), make_handler(app, health))
        self.thread: threading.Thread | None = None

    @property
    def port(self) -> int:
        return self.httpd.server_address[1]

    def start(self) -> SlackHttpServer:
        # A short poll interval: stop() waits for it, and a deploy should not.
        self.thread = threading.Thread(
            target=self.httpd.serve_forever, args=(0.1,), name="slack-http", daemon=True
        )
        self.thread.start()
        log.info(
            "listening on port %s: %s%s",
            self.port,
            HEALTH_PATH,
            f" and {EVENTS_PATH}" if self.app else "",
        )
        return self

    def stop(self) -> None:
        self.httpd.shutdown()
        self.httpd.server_close()


def make_handler(app: App | None, health: Health) -> type[BaseHTTPRequestHandler]:
    replays = ReplayGuard()

    class Handler(BaseHTTPRequestHandler):
        server_version = "pmbot"
        timeout = READ_TIMEOUT

        def do_GET(self) -> None:  # noqa: N802 (http.server's naming)
            if self.path.partition("?")[0] != HEALTH_PATH:
                self.reply(404, {"error": "not found"})
                return
            self.reply(200, dict(health()))

        def do_POST(self) -> None:  # noqa: N802
            path, _, query = self.path.partition("?")
            if app is None or path != EVENTS_PATH:
                self.reply(404, {"error": "not found"})
                return
            length = content_length(self.headers.get("Content-Length"))
            if length is None:
                self.reply(400, {"error": "bad Content-Length"})
                return
            if length > MAX_BODY:
                self.reply(413, {"error": "request too large"})
                return
            body = self.rfile.read(length).decode("utf-8", errors="replace")
            # A signed request replayed within its 5-minute window (the same timestamp and
            # signature) is acknowledged and not acted on again: `/pm digest` posts once.
            key = f"{self.headers.get('X-Slack-Request-Timestamp')}:" + (
                self.headers.get("X-Slack-Signature") or ""
            )
            if self.headers.get("X-Slack-Signature") and not replays.first_time(key):
                log.warning("a replayed Slack request from %s was ignored", self.client_address[0])
                self.send_bolt(BoltResponse(status=200, body=""))
                return
            request = BoltRequest(body=body, query=query, headers=dict(self.headers.items()))
            response = app.dispatch(request)
            if response.status == 401:
                replays.forget(key)
            self.send_bolt(response)

        def send_bolt(self, response: BoltResponse) -> None:
            payload = (response.body or "").encode("utf-8")
            self.send_response(response.status)
            for name, value in response.first_headers_without_set_cookie().items():
                if name.lower() != "content-length":
                    self.send_header(name, value)
            self.send_header("Content-Length", str(len(payload)))
            self.end_headers()
            self.wfile.write(payload)

        def reply(self, status: int, data: Mapping[str, Any]) -> None:
            payload = json.dumps(data, default=str).encode("utf-8")
            self.send_response(status)
            self.send_header("Content-Type", "application/json; charset=utf-8")
            self.send_header("Content-Length", str(len(payload)))
            self.end_headers()
            self.wfile.write(payload)

        def log_message(self, format: str, *args: Any) -> None:  # noqa: A002
            log.debug("%s " + format, self.address_string(), *args)

        def log_error(self, format: str, *args: Any) -> None:  # noqa: A002
            # Malformed request lines and timeouts: the client's problem, answered 400/408.
            log.debug("%s " + format, self.address_string(), *args)

    return Handler


def start_socket_mode(app: App, app_token: str) -> Any:
    """Connect to Slack over Socket Mode; returns the handler (call `.close()` to stop).

    Raises SlackConfigError when Slack refuses the app-level token.
    """
    from slack_bolt.adapter.socket_mode import SocketModeHandler  # only Socket Mode needs it

    if not app_token.startswith("xapp-"):
        raise SlackConfigError("SLACK_APP_TOKEN must be an app-level token starting with xapp-")
    handler = SocketModeHandler(app, app_token)
    try:
        with translated("apps.connections.open"):
            handler.connect()
    except SlackError as exc:
        handler.close()
        if not exc.code:
            raise SlackConfigError(f"cannot open a Socket Mode connection: {exc}") from exc
        raise SlackConfigError(
            f"SLACK_APP_TOKEN was refused by Slack ({exc.code}); create an "
            "app-level token with connections:write under Basic Information, "
            "App-Level Tokens"
        ) from exc
    return handler


def start_slack(
    runtime: SlackRuntime, health: Health, *, host: str = "0.0.0.0", port: int | None = None
) -> tuple[SlackHttpServer, Any]:
    """Serve Slack as the settings say: (the HTTP server, the Socket Mode handler or None).

    The HTTP server always runs, for /healthz on $PORT; it takes Slack's requests only in HTTP
    mode.
    """
    settings = runtime.bot.settings
    port = settings.port if port is None else port
    if runtime.socket_mode:
        socket = start_socket_mode(runtime.app, settings.slack_app_token)
        return SlackHttpServer(None, health, host=host, port=port).start(), socket
    return SlackHttpServer(runtime.app, health, host=host, port=port).start(), None
