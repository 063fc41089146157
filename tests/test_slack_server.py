"""Slack's route on the HTTP edge, and Socket Mode's start-up."""

from __future__ import annotations

import json
import urllib.error
import urllib.request
from dataclasses import replace

import pytest

from bot.app import create_app
from bot.slack.client import SlackConfigError
from bot.slack.server import EVENTS_PATH, SlackRoute, start_socket_mode
from bot.web import WebServer
from handlers.slack import create_slack, serve
from tests.fake_slack import APP_TOKEN

pytest_plugins = ("tests.slack_fixtures",)


def fetch(url: str, data: bytes | None = None) -> tuple[int, bytes]:
    try:
        with urllib.request.urlopen(urllib.request.Request(url, data), timeout=5) as response:
            return response.status, response.read()
    except urllib.error.HTTPError as exc:
        return exc.code, exc.read()


def test_healthz_reports_the_dict_it_is_given(slack):
    health = {"status": "degraded", "parts": {"mail": {"state": "down"}}}
    server = WebServer(
        {EVENTS_PATH: SlackRoute(slack.app)}, lambda: health, host="127.0.0.1", port=0
    ).start()
    try:
        status, body = fetch(f"http://127.0.0.1:{server.port}/healthz")
        assert status == 200 and json.loads(body) == health
        assert fetch(f"http://127.0.0.1:{server.port}/")[0] == 404
        assert fetch(f"http://127.0.0.1:{server.port}/slack/other", b"x=1")[0] == 404
    finally:
        server.stop()


def test_an_oversized_body_is_refused_before_it_is_read(server):
    request = urllib.request.Request(
        f"http://127.0.0.1:{server.port}/slack/events", b"x", headers={"Content-Length": "2000000"}
    )
    try:
        urllib.request.urlopen(request, timeout=5)
    except urllib.error.HTTPError as exc:
        assert exc.code == 413
    else:
        pytest.fail("an oversized request was accepted")


def test_ssl_check_is_answered(inbound):
    assert inbound.form({"ssl_check": "1", "token": "legacy"}, signed=False)[0] == 200


@pytest.fixture
def socket_bot(slack_settings, clock):
    bot = create_app(
        replace(slack_settings, slack_signing_secret="", slack_app_token=APP_TOKEN), clock=clock
    )
    yield bot
    bot.close()


def test_socket_mode_needs_no_signing_secret_and_serves_no_events_over_http(
    socket_bot, fake, monkeypatch
):
    connected = []
    monkeypatch.setattr(
        "bot.slack.server.start_socket_mode",
        lambda app, token: connected.append(token) or "handler",
    )
    endpoint = serve(socket_bot)
    server = WebServer(endpoint.routes, lambda: {"status": "ok"}, host="127.0.0.1", port=0).start()
    try:
        assert (endpoint.closing, connected) == (["handler"], [APP_TOKEN])
        assert endpoint.detail == "Socket Mode"
        assert fetch(f"http://127.0.0.1:{server.port}/slack/events", b"{}")[0] == 404
        assert fetch(f"http://127.0.0.1:{server.port}/healthz")[0] == 200
    finally:
        server.stop()


def test_a_refused_app_token_stops_socket_mode_with_a_clear_message(socket_bot, fake):
    slack = create_slack(socket_bot)
    with pytest.raises(
        SlackConfigError, match=r"SLACK_APP_TOKEN was refused by Slack \(invalid_auth\)"
    ):
        start_socket_mode(slack.app, "xapp-wrong")
    with pytest.raises(SlackConfigError, match="app-level token starting with xapp-"):
        start_socket_mode(slack.app, "xoxb-not-an-app-token")
