"""A whole month in Slack, end to end, in production mode: Bolt answers each request at its
ack and the rest of the work lands afterwards, so the test waits for it at the fake.

Prompt DM → /pm status and chase → button → modal → refused figures → stored figures →
confirmation DM → alert in the leadership channel → corrections update it in place → the
exception clears → /pm digest (preview, then posted with the pack) → /pm measure.
"""

from __future__ import annotations

import json

import pytest

from bot.periods import parse_period
from bot.slack.server import EVENTS_PATH, SlackRoute
from bot.web import WebServer
from handlers.slack import create_slack
from tests.slack_inbound import COORD, LEADERS, OWNER, Inbound, opened_view, texts

pytest_plugins = ("tests.slack_fixtures",)
OCTOBER = parse_period("2026-10")
CORRECT = json.dumps({"cycle": "2026-10", "all": True})  # App Home's "Correct a figure"


@pytest.fixture
def live(slack_bot, fake):
    """The bot as `pmbot serve` runs it: process_before_response=False."""
    runtime = create_slack(slack_bot)
    server = WebServer(
        {EVENTS_PATH: SlackRoute(runtime.app)}, lambda: {"status": "ok"}, host="127.0.0.1", port=0
    )
    server.start()
    yield runtime, Inbound(f"http://127.0.0.1:{server.port}/slack/events", fake)
    server.stop()


def answers(fake, name: str) -> list[dict]:
    """What the bot posted to a command's or button's response_url."""
    return [body for path, body in fake.responses if path.endswith(f"/{name}")]


def answered(fake, name: str, count: int = 1) -> str:
    fake.wait_for(lambda: len(answers(fake, name)) >= count)
    return texts(answers(fake, name)[count - 1])


def dms_to(fake, user_id: str) -> list[dict]:
    return fake.posted(fake.dm_channel(user_id))


def current(bot, measure_id: str) -> dict:
    return bot.store.current_submissions(["2026-10"])[(measure_id, "2026-10")]


def test_a_month_in_slack(live, fake, slack_bot):
    slack, inbound = live
    bot = slack_bot

    # The prompt: a DM with the owner's measures, last value and target, and the button.
    run = bot.reach.send_prompts(OCTOBER, bot.clock())
    assert list(run.by_chat) == ["owner@agency.example"] and not run.by_email
    prompt = dms_to(fake, OWNER)[0]
    assert "OD-01" in texts(prompt) and "target 50 days" in texts(prompt)
    button = prompt["blocks"][-2]["elements"][0]
    assert button["action_id"] == "open_submit"
    assert json.loads(button["value"])["cycle"] == "2026-10"
    assert bot.store.ledger_entry("prompt", "owner@agency.example:2026-10")["transport_ref"] == (
        f"{prompt['channel']}:{prompt['ts']}"
    )

    # A coordinator sees who is outstanding, and chases them: a DM, and how many were chased.
    assert inbound.command("status")[0] == 200
    assert "0 of 2 figures in" in answered(fake, "command-1")
    assert "Olive Owner (OD-01, OD-02)" in answered(fake, "command-1")
    assert inbound.command("chase")[0] == 200
    assert "Chased 1 owner" in answered(fake, "command-2", count=2)
    assert "1 by Slack DM, 0 by email" in answered(fake, "command-2", count=2)
    assert "a reminder" in texts(dms_to(fake, OWNER)[-1])

    # The button opens the modal: one value and one commentary input per outstanding measure.
    assert inbound.click(OWNER, button["value"], message=prompt)[0] == 200
    fake.wait_for(lambda: fake.count("views.open") == 1)
    view = opened_view(fake)
    inputs = [b["block_id"] for b in view["blocks"] if b["type"] == "input"]
    assert inputs == ["value:OD-01", "commentary:OD-01", "value:OD-02", "commentary:OD-02"]
    assert "Target 90%, higher is better" in texts(view)

    # Refused inside the modal, on the field at fault; nothing refused is stored.
    status, body = inbound.submit(view, OWNER, {"OD-01": ("lots", ""), "OD-02": ("80%", "")})
    errors = json.loads(body)
    assert status == 200 and errors["response_action"] == "errors"
    assert "'lots' is not a number" in errors["errors"]["value:OD-01"]
    assert "exception (red against target)" in errors["errors"]["commentary:OD-02"]
    assert bot.store.current_submissions(["2026-10"]) == {}

    # Taken: the modal closes, the store has both, a DM confirms each with its RAG status.
    status, body = inbound.submit(
        view, OWNER, {"OD-01": ("48", "backlog down"), "OD-02": ("80%", "two staff off sick")}
    )
    assert (status, body) == (200, "")
    assert current(bot, "OD-01")["value"] == 48 and current(bot, "OD-02")["value"] == 80
    assert current(bot, "OD-02")["channel"] == "slack"
    confirmation = fake.wait_for(lambda: [m for m in dms_to(fake, OWNER) if "Stored" in texts(m)])
    assert "48 days (green)" in texts(confirmation[0])
    assert "80% (red) · shown to leaders as an exception" in texts(confirmation[0])

    # Every figure is in, so the window is ready: one alert summary in the leadership channel.
    alert = fake.wait_for(lambda: fake.posted(LEADERS))[0]
    assert "*80%* against target 90%" in texts(alert) and "two staff off sick" in texts(alert)

    # A correction from App Home: the modal is prefilled, and the alert is edited in place.
    assert inbound.click(OWNER, CORRECT, action_id="open_submit_all")[0] == 200
    fake.wait_for(lambda: fake.count("views.open") == 2)
    correction = opened_view(fake)
    prefilled = {
        b["block_id"]: b["element"].get("initial_value")
        for b in correction["blocks"]
        if b["type"] == "input"
    }
    assert prefilled["value:OD-02"] == "80%" and prefilled["commentary:OD-01"] == "backlog down"
    assert inbound.submit(correction, OWNER, {"OD-02": ("82%", None)})[0] == 200
    fake.wait_for(lambda: fake.count("chat.update") == 1)
    assert "*82%* against target 90%" in texts(fake.posted(LEADERS)[0])
    assert len(fake.posted(LEADERS)) == 1  # updated, not posted again
    assert current(bot, "OD-01")["revisions"] == 1  # unchanged fields are not resubmitted
    assert current(bot, "OD-02")["revisions"] == 2

    # Corrected back within tolerance: the summary says so and a follow-up tells the channel.
    assert inbound.click(OWNER, CORRECT, action_id="open_submit_all")[0] == 200
    fake.wait_for(lambda: fake.count("views.open") == 3)
    assert inbound.submit(opened_view(fake), OWNER, {"OD-02": ("91%", None)})[0] == 200
    fake.wait_for(lambda: fake.count("chat.update") == 2)
    follow_up = fake.wait_for(lambda: [m for m in fake.posted(LEADERS) if m["thread_ts"]])[0]
    assert "No longer an exception: *OD-02* now 91%" in texts(follow_up)
    assert follow_up["reply_broadcast"] and follow_up["thread_ts"] == alert["ts"]

    # The digest: a preview only the coordinator sees, then the post with the pack attached.
    assert inbound.command("digest preview")[0] == 200
    preview = fake.wait_for(lambda: fake.ephemeral)[0]
    assert preview["user"] == COORD and "October 2026" in texts(preview)
    assert inbound.command("digest")[0] == 200
    assert "Posted the October 2026 digest" in answered(fake, "command-4", count=2)
    digest = [m for m in fake.posted(LEADERS) if "Performance digest" in texts(m)]
    assert len(digest) == 1
    (pack,) = fake.uploads.values()
    assert pack["data"].startswith(b"<!DOCTYPE html>") and pack["channel"] == LEADERS
    assert pack["thread_ts"] == digest[0]["ts"]

    # Anyone in the register can look a measure up.
    assert inbound.command("measure OD-01", user_id=OWNER)[0] == 200
    card = answered(fake, "command-5")
    assert "*OD-01 Average processing time, days*" in card and "*48 days* (green)" in card
