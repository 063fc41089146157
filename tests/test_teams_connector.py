"""The Teams connector against the fake Bot Connector: the real Teams SDK in the path, its
token from the fake token endpoint, inbound JWTs checked against the fake's published key."""

from __future__ import annotations

import logging
from dataclasses import replace

import pytest

from bot.settings import Settings
from bot.teams.cards import plain_message
from bot.teams.config import TeamsConfig, TeamsConfigError, TeamsError
from bot.teams.connector import Connector
from tests.fake_teams import APP_ID, APP_SECRET, TENANT, FakeTeams


@pytest.fixture
def fake():
    with FakeTeams() as fake:
        yield fake


def config_for(fake: FakeTeams, **changes) -> TeamsConfig:
    env = {
        "PMBOT_TEAMS_APP_ID": APP_ID,
        "PMBOT_TEAMS_APP_SECRET": APP_SECRET,
        "PMBOT_TEAMS_TENANT_ID": TENANT,
        "PMBOT_TEAMS_SERVICE_URL": fake.service_url,
        "PMBOT_TEAMS_TOKEN_URL": fake.token_url,
        "PMBOT_TEAMS_OPENID_URL": fake.openid_url,
    }
    config = TeamsConfig.from_settings(Settings.from_env(env))
    assert config is not None
    return replace(config, **changes)


@pytest.fixture
def waits():
    return []


@pytest.fixture
def connector(fake, waits):
    connector = Connector(config_for(fake), rate=0, sleep=waits.append)
    yield connector
    connector.close()


def test_a_message_goes_with_one_token_fetched_once(fake, connector):
    member = fake.add_member("olive@agency.example", "Olive Owner")
    for n in range(3):
        connector.send(member.conversation_id, plain_message(f"hello {n}"))
    assert [a["text"] for a in fake.sent(member.conversation_id)] == [
        "hello 0", "hello 1", "hello 2",
    ]  # fmt: skip
    assert fake.token_requests == 1


def test_429_is_retried_after_what_retry_after_says(fake, connector, waits):
    member = fake.add_member("olive@agency.example", "Olive Owner")
    fake.fail_next(429, retry_after="7")
    fake.fail_next(503, retry_after=None)
    connector.send(member.conversation_id, plain_message("hello"))
    assert waits == [7.0, 2.0]  # Retry-After, then the backoff for a 5xx that gave none
    assert len(fake.sent(member.conversation_id)) == 1


def test_a_lasting_outage_ends_in_a_transient_teams_error(fake, connector, waits):
    member = fake.add_member("olive@agency.example", "Olive Owner")
    fake.fail_next(503, retry_after="1", times=10)
    with pytest.raises(TeamsError) as raised:
        connector.send(member.conversation_id, plain_message("hello"))
    assert raised.value.transient and raised.value.code == "503"
    assert len(waits) == 5


def test_a_refusal_is_not_retried(fake, connector, waits):
    with pytest.raises(TeamsError) as raised:
        connector.send("a:nobody", plain_message("hello"))
    assert raised.value.code == "404" and not raised.value.transient and waits == []


def test_a_wrong_secret_says_which_settings_to_check_and_never_shows_the_secret(fake, caplog):
    connector = Connector(config_for(fake, app_secret="wrong-secret"), rate=0, sleep=[].append)
    member = fake.add_member("olive@agency.example", "Olive Owner")
    try:
        with caplog.at_level(logging.DEBUG), pytest.raises(TeamsError) as raised:
            connector.send(member.conversation_id, plain_message("hello"))
    finally:
        connector.close()
    assert "PMBOT_TEAMS_APP_SECRET" in str(raised.value)
    assert "wrong-secret" not in str(raised.value) + caplog.text
    assert "wrong-secret" not in repr(config_for(fake, app_secret="wrong-secret"))


def test_tokens_never_reach_the_log(fake, connector, caplog):
    member = fake.add_member("olive@agency.example", "Olive Owner")
    with caplog.at_level(logging.DEBUG):
        connector.send(member.conversation_id, plain_message("hello"))
        inbound = fake.activity_token()
        connector.check_token(f"Bearer {fake.forged_token()}", fake.service_url)
        connector.check_token(f"Bearer {inbound}", fake.service_url)
    issued = next(iter(fake.tokens))
    assert issued not in caplog.text and inbound not in caplog.text


def test_inbound_tokens_are_checked_for_signature_audience_and_service_url(fake, connector):
    def accepted(token: str, service_url: str = fake.service_url) -> bool:
        return connector.check_token(f"Bearer {token}", service_url)

    assert accepted(fake.activity_token())
    assert not accepted(fake.forged_token())
    assert not accepted(fake.activity_token(audience="another-app"))
    assert not accepted(fake.activity_token(), "https://elsewhere.example/teams/")
    assert not connector.check_token("", fake.service_url)
    assert not connector.check_token(f"Basic {fake.activity_token()}", fake.service_url)


def test_member_email_comes_from_the_conversation_roster(fake, connector):
    member = fake.add_member("Olive@Agency.example", "Olive Owner")
    assert connector.member_email(member.conversation_id, member.user_id) == (
        "olive@agency.example"
    )


@pytest.mark.parametrize(
    ("env", "named"),
    [
        ({"PMBOT_TEAMS_APP_ID": "x"}, "PMBOT_TEAMS_APP_SECRET"),
        ({"PMBOT_TEAMS_APP_ID": "x", "PMBOT_TEAMS_APP_SECRET": "s"}, "PMBOT_TEAMS_TENANT_ID"),
        ({"PMBOT_TEAMS_APP_ID": "x", "PMBOT_TEAMS_APP_SECRET": "s", "PMBOT_TEAMS_TENANT_ID": "t",
          "PMBOT_TEAMS_OPENID_URL": "https://x.example/keys"}, "PMBOT_TEAMS_OPENID_URL"),
    ],
)  # fmt: skip
def test_incomplete_teams_settings_name_what_to_set(env, named):
    with pytest.raises(TeamsConfigError) as raised:
        TeamsConfig.from_settings(Settings.from_env(env))
    assert named in str(raised.value) and "\n" not in str(raised.value)


def test_no_app_id_means_no_teams():
    assert TeamsConfig.from_settings(Settings.from_env({})) is None


def test_a_fan_out_is_paced_and_a_retry_does_not_queue_again(fake, waits):
    connector = Connector(config_for(fake), rate=2, sleep=waits.append, clock=lambda: 0.0)
    member = fake.add_member("olive@agency.example", "Olive Owner")
    try:
        connector.send(member.conversation_id, plain_message("one"), paced=True)
        fake.fail_next(429, retry_after="3")
        connector.send(member.conversation_id, plain_message("two"), paced=True)
        connector.send(member.conversation_id, plain_message("three"), paced=True)
    finally:
        connector.close()
    assert waits == [0.5, 3.0, 1.0]  # its turn, Retry-After, the next one's turn
    assert [a["text"] for a in fake.sent(member.conversation_id)] == ["one", "two", "three"]
