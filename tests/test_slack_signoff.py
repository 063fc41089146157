"""Sign-off in Slack: the approver gets the area's figures with Approve and Query buttons; Query
opens a modal whose questions reach the owners; each decision is recorded with who and when."""

from __future__ import annotations

import json

from bot.events import Submission
from bot.measures import Area
from bot.periods import parse_period
from tests.slack_inbound import COORD, OWNER, opened_view, texts

pytest_plugins = ("tests.slack_fixtures",)
AREA = "Operational delivery"


def last_action_response(fake) -> dict:
    """What pmbot answered the latest button press with (through its response_url)."""
    return [body for path, body in fake.responses if "/action-" in path][-1]


def ready_for_signoff(slack_bot, clock):
    """Both Operational delivery figures in; the approver (Cora, in Slack) is asked."""
    store = slack_bot.store
    store.save_register(store.measures(), [], clock(),
                        [Area(AREA, "coord@agency.example", "coord@agency.example")])  # fmt: skip
    clock.set("2026-11-03T10:00")
    for ref, (measure_id, raw) in enumerate((("OD-01", "48"), ("OD-02", "91%"))):
        outcome = slack_bot.service.submit(
            Submission(measure_id, raw, "owner@agency.example", "cli", f"s{ref}", clock())
        )
        assert outcome.stored
    slack_bot.tick()


def test_the_approver_approves_with_a_button_and_it_is_recorded(inbound, fake, slack_bot, clock):
    ready_for_signoff(slack_bot, clock)
    (request,) = fake.posted(fake.dm_channel(COORD))
    assert f"the *{AREA}* figures for *October 2026* are ready for your sign-off" in texts(request)
    assert "*OD-01* Average processing time, days (2026-10): 48 days" in texts(request)
    buttons = request["blocks"][-2]["elements"]
    assert [b["action_id"] for b in buttons] == ["signoff_approve", "signoff_query"]
    assert not [r for r in slack_bot.store.outgoing() if r["kind"] == "signoff-request"]

    inbound.click(COORD, buttons[0]["value"], action_id="signoff_approve", message=request)
    answer = last_action_response(fake)
    assert f"{AREA} 2026-10: signed off by coord@agency.example" in texts(answer)
    [decision] = slack_bot.store.decisions("2026-10")
    assert (decision.decision, decision.decided_by, decision.channel) == (
        "approved", "coord@agency.example", "slack",
    )  # fmt: skip
    now = clock()
    assert slack_bot.service.signoff_states(parse_period("2026-10"), now)[AREA] == "signed_off"


def test_a_query_from_the_modal_goes_to_the_owner_and_someone_else_cannot_approve(
    inbound, fake, slack_bot, clock
):
    ready_for_signoff(slack_bot, clock)
    (request,) = fake.posted(fake.dm_channel(COORD))
    value = request["blocks"][-2]["elements"][1]["value"]
    assert json.loads(value) == {"area": AREA, "cycle": "2026-10"}
    inbound.click(COORD, value, action_id="signoff_query", message=request)
    modal = opened_view(fake)
    assert modal["callback_id"] == "signoff_query" and len(modal["blocks"]) == 3
    inbound.submit(modal, COORD, {"OD-02": (None, "91% seems high for October?")})
    told = texts(fake.posted(fake.dm_channel(COORD))[-1])
    assert "queried OD-02; the owner has been asked" in told
    asked = texts(fake.posted(fake.dm_channel(OWNER))[-1])
    assert "has a question" in asked and "91% seems high for October?" in asked
    assert slack_bot.service.signoff_states(parse_period("2026-10"), clock())[AREA] == "queried"

    inbound.click(OWNER, value, action_id="signoff_approve", message=request)
    answer = last_action_response(fake)
    assert "only its approver (coord@agency.example) can sign it off" in texts(answer)
