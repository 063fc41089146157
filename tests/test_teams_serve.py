"""`pmbot serve` with Teams configured, as a process: it answers POST /api/messages on $PORT,
refuses requests without a valid Bot Connector token, and talks back through the fake
connector; a wrong secret stops it at start with one line saying what to fix; Slack over HTTP
shares the port."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time

import pytest

from tests.conftest import REGISTER
from tests.fake_slack import BOT_TOKEN, FakeSlack
from tests.fake_teams import FakeTeams
from tests.slack_inbound import COORD, SECRET, Inbound
from tests.slack_inbound import PEOPLE as SLACK_PEOPLE
from tests.teams_inbound import LEADERS, PEOPLE, TeamsSide, teams_env
from tests.test_serve import free_port, wait_for_health


@pytest.fixture
def fake():
    with FakeTeams() as fake:
        fake.add_channel(LEADERS)
        yield fake


def environment(tmp_path, fake, port: int, **changes: str) -> dict[str, str]:
    return {**os.environ, **teams_env(fake), "PORT": str(port), "PMBOT_DB": str(tmp_path / "p.db"),
            "PMBOT_MAILDIR": str(tmp_path / "mail"), "PMBOT_POLL_SECONDS": "1",
            "PMBOT_COORDINATORS": "coord@agency.example", **changes}  # fmt: skip


def pmbot(env, tmp_path, *args: str, **options) -> subprocess.Popen:
    return subprocess.Popen([sys.executable, "-m", "bot.cli", *args], env=env, cwd=tmp_path,
                            stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                            **options)  # fmt: skip


def serving(env, tmp_path) -> subprocess.Popen:
    """`pmbot serve` on the test register, imported first."""
    (tmp_path / "measures.yaml").write_text(REGISTER)
    assert pmbot(env, tmp_path, "measures", "import", "measures.yaml").wait(timeout=60) == 0
    return pmbot(env, tmp_path, "serve")


def test_serve_answers_teams_on_api_messages(tmp_path, fake):
    port = free_port()
    owner = fake.add_member(*PEOPLE["owner"])
    server = serving(environment(tmp_path, fake, port), tmp_path)
    try:
        health = wait_for_health(port, time.monotonic() + 60)
        assert health["parts"]["teams"]["state"] == "ok"
        side = TeamsSide(f"http://127.0.0.1:{port}/api/messages", fake)
        message = side.activity(owner, "message", text="help")
        assert side.post(message, token=fake.forged_token())[0] == 401
        assert side.post(message, token=None)[0] == 401
        assert fake.sent(owner.conversation_id) == []
        assert side.install(owner)[0] == 200
        assert side.say(owner, "help")[0] == 200
        answer = fake.wait_for(lambda: fake.sent(owner.conversation_id), timeout=20)
        assert answer[0]["text"].startswith("The typed commands are for")
        server.send_signal(signal.SIGTERM)
        assert server.wait(timeout=30) == 0
    finally:
        if server.poll() is None:
            server.kill()
    output = server.stdout.read().decode()
    assert fake.activity_token() not in output and next(iter(fake.tokens)) not in output


def test_a_wrong_secret_stops_serve_at_start_with_one_line(tmp_path, fake):
    env = environment(tmp_path, fake, free_port(), PMBOT_TEAMS_APP_SECRET="not-the-secret")
    server = pmbot(env, tmp_path, "serve")
    assert server.wait(timeout=60) != 0
    lines = [line for line in server.stdout.read().decode().splitlines() if "Traceback" in line
             or "PMBOT_TEAMS_APP_SECRET" in line]  # fmt: skip
    assert len(lines) == 1 and "not-the-secret" not in lines[0]


def test_slack_over_http_and_teams_share_one_port(tmp_path, fake):
    """Both chats on `pmbot serve`'s one HTTP edge: a signed Slack command to /slack/events and
    a Bot Connector activity with its JWT to /api/messages, on the same $PORT, each answered by
    its own adapter, each refusing what its own check does not pass."""
    port = free_port()
    with FakeSlack() as slack_fake:
        for user_id, (email, name) in SLACK_PEOPLE.items():
            slack_fake.add_user(email, name, user_id)
        env = environment(tmp_path, fake, port, SLACK_BOT_TOKEN=BOT_TOKEN,
                          SLACK_SIGNING_SECRET=SECRET, SLACK_API_URL=slack_fake.base_url,
                          PMBOT_SLACK_RATE="0")  # fmt: skip
        owner = fake.add_member(*PEOPLE["owner"])
        server = serving(env, tmp_path)
        try:
            health = wait_for_health(port, time.monotonic() + 60)
            assert health["parts"]["slack"] == {**health["parts"]["slack"], "state": "ok",
                                                "detail": "HTTP on /slack/events"}  # fmt: skip
            assert health["parts"]["teams"]["state"] == "ok"
            slack = Inbound(f"http://127.0.0.1:{port}/slack/events", slack_fake)
            assert slack.command("help", user_id=COORD)[0] == 200
            answer = slack_fake.wait_for(lambda: slack_fake.responses, timeout=20)
            assert answer[0][0] == "/respond/command-1"
            assert slack.command("help", user_id=COORD, secret="not-the-secret")[0] == 401
            teams = TeamsSide(f"http://127.0.0.1:{port}/api/messages", fake)
            assert teams.install(owner)[0] == 200
            assert teams.say(owner, "help")[0] == 200
            said = fake.wait_for(lambda: fake.sent(owner.conversation_id), timeout=20)
            assert said[0]["text"].startswith("The typed commands are for")
            # A Slack-signed body sent to Teams' route is refused there: no JWT.
            teams_url = TeamsSide(f"http://127.0.0.1:{port}/api/messages", fake)
            assert (
                teams_url.post(teams.activity(owner, "message", text="help"), token=None)[0] == 401
            )
            assert len(slack_fake.responses) == 1
            server.send_signal(signal.SIGTERM)
            assert server.wait(timeout=30) == 0
        finally:
            if server.poll() is None:
                server.kill()
