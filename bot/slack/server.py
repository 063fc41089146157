"""Getting Slack's requests to the Bolt app: HTTP mode or Socket Mode.

HTTP mode: a route, POST /slack/events, on pmbot's one HTTP edge (bot.web), beside /healthz
and any other chat's routes. Each request is handed to Bolt as `App.dispatch(BoltRequest(...))`
on the edge's request thread; Bolt answers as soon as the listener acks and runs the rest on
its own pool.

Socket Mode (SLACK_APP_TOKEN set): the app opens a WebSocket to Slack instead.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

from slack_bolt import App, BoltRequest

from bot.http_edge import ReplayGuard
from bot.slack.client import SlackConfigError, SlackError, translated
from bot.web import Answer, Endpoint

if TYPE_CHECKING:
    from bot.slack.app import SlackRuntime

log = logging.getLogger("pmbot.slack.http")
EVENTS_PATH = "/slack/events"


class SlackRoute:
    """POST /slack/events on pmbot's HTTP edge (bot.web): events, interactivity and slash
    commands (one Request URL for all), handed to Bolt, which checks the signature and the
    5-minute timestamp window."""

    def __init__(self, app: App) -> None:
        self.app = app
        self.replays = ReplayGuard()

    def __call__(self, body: bytes, headers: Mapping[str, str]) -> Answer:
        signature = header(headers, "X-Slack-Signature")
        # A signed request replayed within its 5-minute window (the same timestamp and
        # signature) is acknowledged and not acted on again: `/pm digest` posts once.
        key = f"{header(headers, 'X-Slack-Request-Timestamp')}:{signature}"
        if signature and not self.replays.first_time(key):
            log.warning("a replayed Slack request was ignored")
            return Answer(200, "")
        request = BoltRequest(body=body.decode("utf-8", errors="replace"), headers=dict(headers))
        response = self.app.dispatch(request)
        if response.status == 401:
            self.replays.forget(key)
        return Answer(response.status, response.body or "",
                      response.first_headers_without_set_cookie())  # fmt: skip


def header(headers: Mapping[str, str], name: str) -> str:
    return next((v for k, v in headers.items() if k.lower() == name.lower()), "")


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


def endpoint(runtime: SlackRuntime) -> Endpoint:
    """Slack's part of `pmbot serve`: its route on the HTTP edge, or a Socket Mode connection
    (then nothing of Slack's comes in over HTTP)."""
    if runtime.socket_mode:
        socket = start_socket_mode(runtime.app, runtime.bot.settings.slack_app_token)
        return Endpoint({}, "Socket Mode", [socket])
    return Endpoint({EVENTS_PATH: SlackRoute(runtime.app)}, f"HTTP on {EVENTS_PATH}")
