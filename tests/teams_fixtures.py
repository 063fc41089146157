"""Fixtures for the Teams tests: the fake Teams service (fixture `connector`; the Slack
fixtures call theirs `fake`, and a module's plugins are global), the bot wired to it through the
real SDK, and its real HTTP endpoint with a `TeamsSide` (tests.teams_inbound) talking to it as the
Bot Connector does.

Test modules load them with ``pytest_plugins = ("tests.teams_fixtures",)``.
"""

from __future__ import annotations

from dataclasses import replace

import pytest

from bot.app import create_app
from bot.teams.config import TeamsConfig
from bot.teams.connector import Connector
from bot.web import WebServer
from handlers import teams as teams_handlers
from tests.fake_teams import FakeTeams, Member
from tests.teams_inbound import LEADERS, PEOPLE, TeamsSide, teams_env


@pytest.fixture
def connector():
    with FakeTeams() as connector:
        connector.add_channel(LEADERS)
        yield connector


@pytest.fixture
def members(connector) -> dict[str, Member]:
    return {key: connector.add_member(email, name) for key, (email, name) in PEOPLE.items()}


@pytest.fixture
def teams_settings(settings, connector):
    return replace(settings, extra={**settings.extra, **teams_env(connector)})


@pytest.fixture
def teams_bot(teams_settings, clock, register_file):
    bot = create_app(teams_settings, clock=clock)
    bot.service.import_register(register_file, clock())
    yield bot
    bot.close()


@pytest.fixture
def waits() -> list[float]:
    """What the connector would have slept for (Retry-After and backoff): tests never sleep."""
    return []


@pytest.fixture
def teams(teams_bot, teams_settings, waits):
    config = TeamsConfig.from_settings(teams_settings)
    app = teams_handlers.create(teams_bot, connector=Connector(config, rate=0, sleep=waits.append))
    yield app
    app.close()


@pytest.fixture
def side(teams, connector):
    server = WebServer({"/api/messages": teams.handle}, lambda: {"status": "ok"},
                       host="127.0.0.1", port=0).start()  # fmt: skip
    yield TeamsSide(f"http://127.0.0.1:{server.port}/api/messages", connector)
    server.stop()
