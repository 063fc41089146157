"""With PMBOT_PUBLIC_URL set, the Teams digest card opens the full pack, served by pmbot's own
HTTP edge behind a signed link that expires; without it, no link and no route."""

from __future__ import annotations

import urllib.error
import urllib.request
from dataclasses import replace

import pytest

from bot.app import create_app
from bot.packs import PREFIX
from bot.periods import reporting_period
from bot.teams.config import TeamsConfig
from bot.teams.connector import Connector
from bot.web import WebServer
from handlers import teams as teams_handlers
from tests.teams_inbound import LEADERS

pytest_plugins = ("tests.teams_fixtures",)
PUBLIC = "https://pmbot.example.org/perf"


def posted_digest(settings, clock, register_file):
    """The bot (Teams configured) after posting October's digest to the leaders' channel."""
    bot = create_app(settings, clock=clock)
    bot.service.import_register(register_file, clock())
    app = teams_handlers.create(bot, connector=Connector(TeamsConfig.from_settings(settings),
                                                         rate=0, sleep=lambda s: None))  # fmt: skip
    cycle = reporting_period(clock().date())
    assert bot.reach.post_digest(cycle, clock())
    return bot, app


@pytest.fixture
def linked(teams_settings, clock, register_file):
    settings = replace(teams_settings, public_url=PUBLIC)
    bot, app = posted_digest(settings, clock, register_file)
    server = WebServer({}, lambda: {"status": "ok"}, host="127.0.0.1", port=0,
                       pages={PREFIX: bot.reach.packs.answer}).start()  # fmt: skip
    yield bot, f"http://127.0.0.1:{server.port}"
    server.stop()
    app.close()
    bot.close()


def get(url: str) -> tuple[int, dict[str, str], bytes]:
    try:
        with urllib.request.urlopen(url, timeout=10) as response:
            return response.status, dict(response.headers.items()), response.read()
    except urllib.error.HTTPError as error:
        return error.code, dict(error.headers.items()), error.read()


def pack_link(connector) -> str:
    card = connector.sent(LEADERS)[-1]["attachments"][0]["content"]
    [action] = card["actions"]
    assert action["type"] == "Action.OpenUrl" and action["title"] == "Open the full pack"
    return action["url"]


def test_the_teams_digest_card_opens_the_full_pack_served_by_pmbot(linked, connector):
    bot, local = linked
    url = pack_link(connector)
    assert url.startswith(f"{PUBLIC}/packs/2026-10/")
    status, headers, body = get(url.replace(PUBLIC, local))
    assert status == 200
    assert headers["Content-Type"] == "text/html; charset=utf-8"
    assert headers["Cache-Control"] == "private, no-store"
    assert headers["X-Content-Type-Options"] == "nosniff"
    assert headers["Referrer-Policy"] == "no-referrer"
    assert b"<html" in body.lower() and b"October 2026" in body


def test_forged_expired_and_traversing_pack_links_get_a_bare_404(linked, connector, clock):
    bot, local = linked
    path = pack_link(connector).removeprefix(PUBLIC)
    cycle_path, _, token = path.rpartition("/")
    forged = token[:-1] + ("0" if token[-1] != "0" else "1")
    later = token.replace(token[:8], "20991231")  # a later expiry without re-signing it
    for bad in (f"{cycle_path}/{forged}", f"{cycle_path}/{later}", "/packs/../pmbot.db",
                f"/packs/..%2F..%2Fpmbot.db/{token}", f"/packs/2026-09/{token}", "/packs/"):
        status, _, body = get(local + bad)
        assert (status, body) == (404, b"not found"), bad
    assert get(local + path)[0] == 200
    clock.advance(days=90)
    assert get(local + path)[0] == 200  # the last day it works
    clock.advance(days=1)
    assert get(local + path)[0] == 404


def test_without_a_public_url_the_card_has_no_link_and_pmbot_no_pack_route(
    teams_settings, clock, register_file, connector
):
    bot, app = posted_digest(teams_settings, clock, register_file)
    try:
        card = connector.sent(LEADERS)[-1]["attachments"][0]["content"]
        assert "actions" not in card
        assert bot.reach.packs is None
        assert not (teams_settings.db_path.parent / "packs").exists()
    finally:
        app.close()
        bot.close()


def test_a_public_url_without_a_secret_to_sign_with_is_refused_in_one_line(settings, clock):
    from bot.settings import ConfigError

    with pytest.raises(ConfigError, match="PMBOT_TEAMS_APP_SECRET or SLACK_SIGNING_SECRET"):
        create_app(replace(settings, public_url=PUBLIC), clock=clock)


def test_a_public_url_that_is_not_a_web_address_is_refused_in_one_line():
    from bot.settings import ConfigError, Settings

    assert Settings.from_env({"PMBOT_PUBLIC_URL": "https://pmbot.example.org/"}).public_url == (
        "https://pmbot.example.org")
    with pytest.raises(ConfigError, match="PMBOT_PUBLIC_URL='pmbot.example.org' must be"):
        Settings.from_env({"PMBOT_PUBLIC_URL": "pmbot.example.org"})
