"""App Home and typed direct messages: the same rules as the modal, in other places."""

from __future__ import annotations

import json

import pytest

from tests.slack_inbound import COORD, DEPUTY, OWNER, STRANGER, texts

pytest_plugins = ("tests.slack_fixtures",)


def home_opened(inbound, user_id: str, tab: str = "home"):
    return inbound.event(
        {"type": "app_home_opened", "user": user_id, "channel": "D" + user_id[1:], "tab": tab}
    )


def reply_to(fake, user_id: str) -> str:
    return texts(fake.posted(fake.dm_channel(user_id))[-1])


def test_home_shows_the_owners_measures_and_a_submit_button(inbound, fake):
    assert home_opened(inbound, OWNER)[0] == 200
    view = fake.home[OWNER]
    shown = texts(view)
    assert (
        "Your figures for *October 2026* are due by *Friday 6 November 2026*. 2 still to send"
        in (shown)
    )
    assert "*OD-01* Average processing time, days (2026-10)" in shown and "OD-02" in shown
    (buttons,) = [b for b in view["blocks"] if b["type"] == "actions"]
    assert [e["action_id"] for e in buttons["elements"]] == ["open_submit"]
    assert json.loads(buttons["elements"][0]["value"]) == {"cycle": "2026-10", "all": False}


def test_home_for_a_deputy_shows_only_what_they_deputise(inbound, fake):
    home_opened(inbound, DEPUTY)
    shown = texts(fake.home[DEPUTY])
    assert "*OD-01*" in shown and "_as deputy_" in shown and "OD-02" not in shown


def test_home_for_someone_without_measures_says_so(inbound, fake):
    home_opened(inbound, STRANGER)
    assert "You have no measures to report" in texts(fake.home[STRANGER])


def test_home_for_a_coordinator_lists_their_commands(inbound, fake):
    home_opened(inbound, COORD)
    assert "`/pm chase`" in texts(fake.home[COORD])


def test_the_messages_tab_does_not_publish_home(inbound, fake):
    home_opened(inbound, OWNER, tab="messages")
    assert fake.home == {}


def test_a_typed_dm_is_stored_confirmed_and_refreshes_home(inbound, fake, slack_bot):
    inbound.dm(OWNER, "Here you go:\nOD-01: 48 backlog down\n- OD-02 = 91%")
    current = slack_bot.store.current_submissions(["2026-10"])
    assert current[("OD-01", "2026-10")]["commentary"] == "backlog down"
    assert current[("OD-02", "2026-10")]["value"] == 91
    reply = reply_to(fake, OWNER)
    assert "*OD-01* 2026-10: 48 days (green)" in reply and "*OD-02* 2026-10: 91% (green)" in reply
    assert "All of them are in" in texts(fake.home[OWNER])
    (record,) = slack_bot.store.inbound()
    assert (record["channel"], record["outcome"]) == ("slack", "stored")


def test_a_typed_dm_takes_the_good_lines_and_explains_the_rest(inbound, fake, slack_bot):
    inbound.dm(OWNER, "OD-01: 48\nOD-02: 80%\nOD-09: 5")
    reply = reply_to(fake, OWNER)
    assert "48 days (green)" in reply
    assert (
        "OD-02: 80% (target 90%) will be shown to leaders as an exception (red against target), "
        "so it needs a word from you" in reply
    )
    assert "OD-09 is not a measure in the register" in reply
    assert list(slack_bot.store.current_submissions(["2026-10"])) == [("OD-01", "2026-10")]


def test_a_dm_without_figures_gets_the_how_to(inbound, fake, slack_bot):
    inbound.dm(OWNER, "hello, what do you need?")
    assert "I did not find any figures" in reply_to(fake, OWNER)
    # Recorded as an email without figures is: answered with the how-to, nothing taken.
    assert slack_bot.store.inbound()[0]["outcome"] == "rejected"


def test_a_dm_from_someone_outside_the_register_is_refused(inbound, fake, slack_bot):
    inbound.dm(STRANGER, "OD-01: 12")
    assert "I only take figures from the owners and deputies" in reply_to(fake, STRANGER)
    assert slack_bot.store.current_submissions(["2026-10"]) == {}
    assert slack_bot.store.inbound()[0]["outcome"] == "rejected"
    assert slack_bot.store.person("stranger@agency.example") is None  # not made "known"


@pytest.mark.parametrize(
    "event",
    [
        {"subtype": "message_changed"},
        {"bot_id": "B0OTHER"},
        {"channel_type": "channel"},
    ],
)
def test_edits_bots_and_channel_messages_are_left_alone(inbound, fake, slack_bot, event):
    message = {
        "type": "message",
        "channel": "D0OWNER",
        "channel_type": "im",
        "user": OWNER,
        "text": "OD-01: 48",
        "ts": "1793000000.000200",
    } | event
    assert inbound.event(message)[0] == 200
    assert slack_bot.store.submission_count() == 0 and fake.posted() == []


def test_the_bots_own_messages_are_ignored(inbound, fake, slack_bot):
    inbound.event(
        {
            "type": "message",
            "channel": "D0OWNER",
            "channel_type": "im",
            "user": "U0BOT",
            "text": "OD-01: 48",
            "ts": "1.2",
        }
    )
    assert slack_bot.store.submission_count() == 0
