"""The HTTP edge of `pmbot serve`: replays, malformed requests, idle clients, the bind address."""

from __future__ import annotations

import logging
import socket
import time
import urllib.parse

import pytest

from bot.http_edge import ReplayGuard
from bot.settings import Settings
from bot.slack.server import EVENTS_PATH, SlackRoute
from bot.web import WebServer
from tests.slack_inbound import COORD, LEADERS, OWNER, TEAM

pytest_plugins = ("tests.slack_fixtures",)


def command_body(fake, text: str) -> str:
    return urllib.parse.urlencode({
        "token": "legacy", "team_id": TEAM, "channel_id": LEADERS, "user_id": COORD,
        "command": "/pm", "text": text, "api_app_id": "A0PMBOT",
        "response_url": fake.response_url("replayed"), "trigger_id": "cmd.replayed",
    })  # fmt: skip


def test_a_replayed_pm_digest_posts_once(inbound, fake):
    body, now = command_body(fake, "digest 2026-10"), int(time.time())
    for _ in range(5):  # an attacker replaying a captured request within the 5-minute window
        status, _ = inbound.post(body, "application/x-www-form-urlencoded", timestamp=now)
        assert status == 200
    assert len(fake.posted(LEADERS)) == 1


def test_a_replayed_pm_chase_dms_each_owner_once(inbound, fake):
    body, now = command_body(fake, "chase 2026-09"), int(time.time())
    for _ in range(3):
        inbound.post(body, "application/x-www-form-urlencoded", timestamp=now)
    assert len(fake.posted(fake.dm_channel(OWNER))) == 1


def test_the_same_command_sent_again_by_a_person_is_acted_on_again(inbound, fake):
    body = command_body(fake, "digest preview")
    inbound.post(body, "application/x-www-form-urlencoded", timestamp=int(time.time()))
    inbound.post(body, "application/x-www-form-urlencoded", timestamp=int(time.time()) + 1)
    assert len(fake.ephemeral) == 2


def test_a_badly_signed_request_does_not_block_the_real_one(inbound, fake):
    body, now = command_body(fake, "digest 2026-10"), int(time.time())
    status, _ = inbound.post(body, "application/x-www-form-urlencoded", timestamp=now,
                             secret="wrong")  # fmt: skip
    assert status == 401
    inbound.post(body, "application/x-www-form-urlencoded", timestamp=now)
    assert len(fake.posted(LEADERS)) == 1


def test_the_replay_guard_forgets_after_the_window():
    guard = ReplayGuard(window=300)
    assert guard.first_time("k", now=0) and not guard.first_time("k", now=299)
    assert guard.first_time("k", now=600)


def raw_request(port: int, data: bytes) -> bytes:
    with socket.create_connection(("127.0.0.1", port), timeout=5) as conn:
        conn.sendall(data)
        chunks = []
        while chunk := conn.recv(65536):
            chunks.append(chunk)
    return b"".join(chunks)


@pytest.mark.parametrize("length", ["abc", "-5", "1e3", "９"])
def test_a_malformed_content_length_is_a_clean_400_without_a_traceback(server, length, caplog):
    caplog.set_level(logging.DEBUG)
    answer = raw_request(
        server.port,
        f"POST /slack/events HTTP/1.1\r\nHost: x\r\nContent-Length: {length}\r\n"
        "Connection: close\r\n\r\n".encode(),
    )
    assert answer.startswith(b"HTTP/1.0 400") and b"bad Content-Length" in answer
    assert "Traceback" not in caplog.text


def test_a_garbage_request_line_is_answered_400_without_a_traceback(server, caplog):
    caplog.set_level(logging.DEBUG)
    assert b"400 - Bad request syntax" in raw_request(server.port, b"\x16\x03\x01 nonsense\r\n\r\n")
    assert "Traceback" not in caplog.text


def test_idle_connections_cannot_take_every_worker(slack, monkeypatch):
    monkeypatch.setattr("bot.web.READ_TIMEOUT", 0.5)
    monkeypatch.setattr("bot.http_edge.WORKERS", 4)
    server = WebServer(
        {EVENTS_PATH: SlackRoute(slack.app)}, lambda: {"status": "ok"}, host="127.0.0.1", port=0
    )
    server.start()
    idle = [socket.create_connection(("127.0.0.1", server.port)) for _ in range(20)]
    try:
        # Beyond the pool, a connection is turned away at once, not queued behind idlers...
        answer = raw_request(server.port, b"GET /healthz HTTP/1.1\r\nHost: x\r\n\r\n")
        assert answer.startswith(b"HTTP/1.1 503")
        # ...and an idle client is dropped after the read timeout, freeing its worker.
        for conn in idle:
            conn.settimeout(5)
            dropped = conn.recv(100)  # b"" once the server closes an idle connection
            assert dropped == b"" or dropped.startswith(b"HTTP/1.1 503")
        answer = raw_request(server.port, b"GET /healthz HTTP/1.1\r\nHost: x\r\n\r\n")
        assert answer.startswith(b"HTTP/1.0 200")
    finally:
        for conn in idle:
            conn.close()
        server.stop()


def test_serve_binds_pmbot_host():
    assert Settings.from_env({}).host == "0.0.0.0"
    assert Settings.from_env({"PMBOT_HOST": "127.0.0.1"}).host == "127.0.0.1"
