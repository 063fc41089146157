"""Fixtures for the Slack tests: the fake Web API, the bot wired to it, its real HTTP endpoint
and an `Inbound` that talks to that endpoint as Slack does.

Test modules load them with ``pytest_plugins = ("tests.slack_fixtures",)``.
"""

from __future__ import annotations

from dataclasses import replace

import pytest

from bot.app import create_app
from bot.slack.app import SlackRuntime
from bot.slack.server import EVENTS_PATH, SlackRoute
from bot.web import WebServer
from handlers.slack import create_slack
from tests.fake_slack import BOT_TOKEN, FakeSlack
from tests.slack_inbound import LEADERS, PEOPLE, SECRET, Inbound


@pytest.fixture
def fake():
    with FakeSlack() as fake:
        for user_id, (email, name) in PEOPLE.items():
            fake.add_user(email, name, user_id)
        fake.add_channel(LEADERS)
        yield fake


@pytest.fixture
def slack_settings(settings, fake):
    return replace(
        settings,
        slack_bot_token=BOT_TOKEN,
        slack_signing_secret=SECRET,
        slack_api_url=fake.base_url,
        leadership_channel=LEADERS,
        extra={"PMBOT_SLACK_RATE": "0"},  # no pacing: the tests send a handful of messages
    )


@pytest.fixture
def slack_bot(slack_settings, clock, register_file):
    bot = create_app(slack_settings, clock=clock)
    bot.service.import_register(register_file, clock())
    yield bot
    bot.close()


@pytest.fixture
def slack(slack_bot) -> SlackRuntime:
    """Deterministic: Bolt answers once the listener has finished. test_slack_e2e runs the
    production mode, where Bolt answers at the ack and the listener carries on after."""
    return create_slack(slack_bot, process_before_response=True)


@pytest.fixture
def server(slack):
    server = WebServer(
        {EVENTS_PATH: SlackRoute(slack.app)}, lambda: {"status": "ok"}, host="127.0.0.1", port=0
    )
    server.start()
    yield server
    server.stop()


@pytest.fixture
def inbound(server, fake):
    return Inbound(f"http://127.0.0.1:{server.port}/slack/events", fake)
