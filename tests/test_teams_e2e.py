"""A month in Microsoft Teams, end to end, over real HTTP: the bot's /api/messages endpoint on
one side, the fake Bot Connector (token, OpenID metadata, keys, conversations) on the other,
the Teams SDK unpatched in between.

Installed app → prompt card → coordinator's status and chase → a bad value shown back in the
card → good values stored, the card replaced by a confirmation → the alert in the leaders'
channel → a typed correction updates it in place, with a reply as it clears → a deputy types a
figure → a non-coordinator is refused politely → forged and missing tokens get 401.
"""

from __future__ import annotations

from dataclasses import replace

import pytest

from bot.periods import parse_period
from tests.teams_inbound import LEADERS, card_text, inputs_of

pytest_plugins = ("tests.teams_fixtures",)
OCTOBER = parse_period("2026-10")


def current(bot, measure_id: str) -> dict:
    return bot.store.current_submissions(["2026-10"])[(measure_id, "2026-10")]


def installed(side, connector, bot, members, *keys: str) -> None:
    for key in keys:
        assert side.install(members[key])[0] == 200
    connector.wait_for(lambda: all(bot.store.chat_id("teams", members[k].email) for k in keys))


def texts_in(connector, member) -> list[str]:
    return [a.get("text") or card_text(a) for a in connector.sent(member.conversation_id)]


def test_a_month_in_teams(side, connector, teams_bot, members, waits):
    bot = teams_bot
    owner, coord, deputy = members["owner"], members["coord"], members["deputy"]
    installed(side, connector, bot, members, "owner", "coord", "deputy")

    # The prompt: a 1:1 card, one value and one commentary input per measure, with the last
    # value and the target; a 429 on the way is waited out as Retry-After says.
    connector.fail_next(429, retry_after="3")
    sent = bot.send_prompts(OCTOBER)
    assert waits == [3.0]
    assert [p.owner_email for p in sent] == ["owner@agency.example"]
    prompt = connector.sent(owner.conversation_id)[0]
    assert "target 50 days" in card_text(prompt).lower()
    assert set(inputs_of(prompt)) == {"value:OD-01", "commentary:OD-01", "value:OD-02",
                                      "commentary:OD-02"}  # fmt: skip
    ledger = bot.store.ledger_entry("prompt", "owner@agency.example:2026-10")
    assert ledger["transport_ref"] == f"{owner.conversation_id}|{prompt['id']}"

    # A coordinator asks for the status and chases: the owner gets a reminder card.
    side.say(coord, "status")
    connector.wait_for(lambda: any("0 of 2 figures in" in t for t in texts_in(connector, coord)))
    assert any("Olive Owner (OD-01, OD-02)" in t for t in texts_in(connector, coord))
    side.say(coord, "chase")
    connector.wait_for(
        lambda: any(t.startswith("Chased 1 owner") for t in texts_in(connector, coord))
    )
    assert "a reminder" in card_text(connector.sent(owner.conversation_id)[-1])

    # A value that is not a number comes back in the card, under its field, nothing stored.
    status, answer = side.press(owner, prompt, {"value:OD-01": "about fifty",
                                                "value:OD-02": "", "commentary:OD-02": ""})
    assert status == 200 and answer["type"] == "application/vnd.microsoft.card.adaptive"
    form = answer["value"]
    assert inputs_of(form)["value:OD-01"]["value"] == "about fifty"  # kept as typed
    assert "⚠" in card_text(form) and "OD-01" in card_text(form)
    assert bot.store.current_submissions(["2026-10"]) == {}

    # Good values: stored, and the form is replaced by the confirmation.
    status, answer = side.press(owner, prompt, {
        "value:OD-01": "48", "commentary:OD-01": "backlog down",
        "value:OD-02": "80", "commentary:OD-02": "two staff off sick",
    })  # fmt: skip
    confirmation = card_text(answer["value"])
    assert "Thank you: 2 figures stored" in confirmation
    assert "value:OD-01" not in inputs_of(answer["value"])
    assert current(bot, "OD-01")["value"] == 48 and current(bot, "OD-01")["channel"] == "teams"
    assert current(bot, "OD-02")["commentary"] == "two staff off sick"

    # Every figure is in, so the leaders' channel has the alert: OD-02 is red.
    alert = connector.wait_for(lambda: connector.sent(LEADERS))[0]
    assert "OD-02" in card_text(alert) and "Exceptions in the October 2026 figures: 1" in (
        card_text(alert)
    )

    # A typed correction: stored, confirmed in the chat, the alert updated in place, and a
    # reply in its thread because the exception has cleared.
    side.say(owner, "OD-02: 91 recovered after the staff returned")
    replies = connector.wait_for(
        lambda: [a for a in connector.sent(LEADERS) if a.get("replyToId") == alert["id"]]
    )
    assert "No longer an exception: OD-02" in replies[0]["text"]
    assert current(bot, "OD-02")["value"] == 91
    assert any("OD-02 2026-10: 91.00%" in t or "OD-02 2026-10: 91%" in t
               for t in texts_in(connector, owner))  # fmt: skip
    updated = connector.sent(LEADERS)[0]
    assert updated["id"] == alert["id"] and "No exceptions now" in card_text(updated)
    assert len(connector.updates) == 1

    # A deputy types a figure for the measure they deputise.
    side.say(deputy, "OD-01: 47 recount")
    connector.wait_for(lambda: current(bot, "OD-01")["value"] == 47)
    assert current(bot, "OD-01")["submitted_by"] == "deputy@agency.example"

    # The coordinator previews the digest, then posts it to the leaders' channel, and looks a
    # measure up.
    side.say(coord, "digest preview")
    preview = connector.wait_for(lambda: [a for a in connector.sent(coord.conversation_id)
                                     if "Performance digest" in card_text(a)])  # fmt: skip
    assert "2 of 2 figures in" in card_text(preview[0])
    side.say(coord, "digest")
    connector.wait_for(lambda: any("digest is in the leadership channel" in t
                              for t in texts_in(connector, coord)))  # fmt: skip
    assert any("Performance digest: October 2026" in card_text(a) for a in connector.sent(LEADERS))
    assert bot.store.ledger_entry("teams-digest", "2026-10") is not None
    side.say(coord, "measure od-01")
    connector.wait_for(lambda: any(t.startswith("OD-01 Average processing time")
                              for t in texts_in(connector, coord)))  # fmt: skip

    # An owner may not run the coordinators' commands; their help says what they can do.
    side.say(owner, "chase")
    connector.wait_for(lambda: any("for the performance team's coordinators" in t
                              for t in texts_in(connector, owner)))  # fmt: skip
    side.say(owner, "help")
    said = connector.wait_for(lambda: [t for t in texts_in(connector, owner)
                                  if t.startswith("The typed commands are for")])  # fmt: skip
    assert "OD-01: 48 backlog down" in said[0] and "Submit figures card" in said[0]
    assert not any(t.startswith("pmbot collects") for t in texts_in(connector, owner))


def test_requests_without_a_valid_token_are_refused_with_401(side, connector, teams_bot, members):
    owner = members["owner"]
    activity = side.activity(owner, "message", text="OD-01: 48")
    assert side.post(activity, token=connector.forged_token())[0] == 401
    assert side.post(activity, token=None)[0] == 401
    assert side.post(activity, token=connector.activity_token(audience="another-app"))[0] == 401
    elsewhere = activity | {"serviceUrl": "https://elsewhere.example/teams/"}
    assert side.post(elsewhere)[0] == 401
    assert teams_bot.store.current_submissions(["2026-10"]) == {}
    assert connector.sent(owner.conversation_id) == []


def test_someone_not_in_the_register_is_told_so_once(side, connector, teams_bot, members):
    stranger = members["stranger"]
    side.say(stranger, "OD-01: 48")
    connector.wait_for(lambda: connector.sent(stranger.conversation_id))
    said = connector.sent(stranger.conversation_id)[0]["text"]
    assert "could not match your Teams account" in said
    assert teams_bot.store.chat_id("teams", stranger.email) is None
    assert teams_bot.store.current_submissions(["2026-10"]) == {}


@pytest.mark.parametrize("typed", ["  ", "hello there"])
def test_a_message_without_figures_gets_the_how_to(side, connector, teams_bot, members, typed):
    owner = members["owner"]
    side.say(owner, typed)
    connector.wait_for(lambda: connector.sent(owner.conversation_id))
    assert "I did not find any figures" in connector.sent(owner.conversation_id)[0]["text"]


def test_someone_in_slack_and_teams_is_prompted_on_one_chat_only(teams_bot, members, connector):
    """With both chats connected, a person is reached on the first that finds them (Slack is
    registered first), never on both."""
    from handlers.slack import create_slack
    from handlers.teams import create as create_teams
    from tests.fake_slack import BOT_TOKEN, FakeSlack
    from tests.slack_inbound import OWNER, PEOPLE, SECRET

    with FakeSlack() as slack_fake:
        for user_id, (email, name) in PEOPLE.items():
            slack_fake.add_user(email, name, user_id)
        teams_bot.settings = replace(
            teams_bot.settings, slack_bot_token=BOT_TOKEN, slack_signing_secret=SECRET,
            slack_api_url=slack_fake.base_url,
            extra={**teams_bot.settings.extra, "PMBOT_SLACK_RATE": "0"},
        )  # fmt: skip
        create_slack(teams_bot)
        teams = create_teams(teams_bot)
        try:
            teams_bot.store.save_chat_id("teams", members["owner"].email,
                                         members["owner"].conversation_id)  # fmt: skip
            sent = teams_bot.send_prompts(OCTOBER)
        finally:
            teams.close()
        assert [p.owner_email for p in sent] == ["owner@agency.example"]
        assert len(slack_fake.posted(slack_fake.dm_channel(OWNER))) == 1
    assert connector.sent(members["owner"].conversation_id) == []


def test_someone_who_removes_the_app_is_emailed_from_then_on(side, connector, teams_bot, members):
    owner = members["owner"]
    installed(side, connector, teams_bot, members, "owner")
    assert side.uninstall(owner)[0] == 200
    connector.wait_for(lambda: teams_bot.store.chat_id("teams", owner.email) == "")
    teams_bot.send_prompts(OCTOBER)
    assert connector.sent(owner.conversation_id) == []
    prompt = teams_bot.store.ledger_entry("prompt", "owner@agency.example:2026-10")
    assert prompt["transport_ref"].startswith("<")  # an email's Message-ID
