"""Only Slack gets in, only owners and deputies submit, and nothing anyone types can ping a
channel or smuggle a link into what pmbot posts."""

from __future__ import annotations

import json
import time

import pytest

from bot.periods import parse_period
from tests.slack_inbound import COORD, DEPUTY, LEADERS, OWNER, STRANGER, opened_view, texts

pytest_plugins = ("tests.slack_fixtures",)
OCTOBER = parse_period("2026-10")
NASTY = "<!channel> @here <https://evil.example|click me> & <@U0COORD>"


def stored(bot) -> dict:
    return bot.store.current_submissions(["2026-10"])


# -- requests must come from Slack ---------------------------------------------------------------


def test_a_request_signed_with_another_secret_is_refused_401(inbound, slack_bot, fake):
    status, body = inbound.command("status", secret="not-the-signing-secret")
    assert status == 401 and json.loads(body) == {"error": "invalid request"}
    assert fake.responses == []


def test_a_request_older_than_five_minutes_is_refused_even_with_a_good_signature(inbound, fake):
    assert inbound.command("status", timestamp=int(time.time()) - 301)[0] == 401
    assert inbound.command("status", timestamp=int(time.time()) + 301)[0] == 401
    assert inbound.command("status", timestamp=int(time.time()) - 290)[0] == 200
    assert len(fake.responses) == 1


def test_an_unsigned_request_is_refused(inbound, slack_bot):
    status, _ = inbound.dm(OWNER, "OD-01: 48", signed=False)
    assert status == 401 and stored(slack_bot) == {}


def test_url_verification_is_answered_only_when_signed(inbound):
    challenge = json.dumps({"type": "url_verification", "challenge": "c-123", "token": "x"})
    assert inbound.post(challenge, "application/json", signed=False)[0] == 401
    status, body = inbound.post(challenge, "application/json")
    assert status == 200 and json.loads(body) == {"challenge": "c-123"}


# -- only owners and deputies, only for their own measures ---------------------------------------


def test_a_stranger_gets_a_modal_with_nothing_to_submit(inbound, fake):
    inbound.click(STRANGER, json.dumps({"cycle": "2026-10"}))
    view = opened_view(fake)
    assert "submit" not in view and "no measures to report" in texts(view)


def test_a_forged_submission_from_a_stranger_is_refused_on_each_field(inbound, fake, slack_bot):
    inbound.click(OWNER, json.dumps({"cycle": "2026-10"}))  # the owner's modal...
    status, body = inbound.submit(opened_view(fake), STRANGER, {"OD-01": ("48", "")})  # ...sent
    errors = json.loads(body)["errors"]
    assert "not the owner or deputy" in errors["value:OD-01"]
    assert stored(slack_bot) == {}


def test_a_deputy_submits_for_the_measure_they_deputise_and_nothing_else(inbound, fake, slack_bot):
    inbound.click(DEPUTY, json.dumps({"cycle": "2026-10"}))
    view = opened_view(fake)
    assert [b["block_id"] for b in view["blocks"] if b["type"] == "input"] == [
        "value:OD-01",
        "commentary:OD-01",
    ]
    assert inbound.submit(view, DEPUTY, {"OD-01": ("47", "covering for Olive")}) == (200, "")
    assert stored(slack_bot)[("OD-01", "2026-10")]["submitted_by"] == "deputy@agency.example"
    inbound.dm(DEPUTY, "OD-02: 95%")
    reply = texts(fake.posted(fake.dm_channel(DEPUTY))[-1])
    assert "not the owner or deputy of this measure" in reply
    assert ("OD-02", "2026-10") not in stored(slack_bot)


def test_coordinator_commands_are_politely_refused_to_owners(inbound, fake):
    for n, command in enumerate(("digest", "status", "chase"), start=1):
        inbound.command(command, user_id=OWNER)
        (answer,) = [b for p, b in fake.responses if p.endswith(f"/command-{n}")]
        assert f"Sorry, `/pm {command}` is for the performance team's coordinators" in texts(answer)
    assert fake.posted(LEADERS) == [] and fake.count("chat.postMessage") == 0


def test_someone_outside_the_register_cannot_look_measures_up(inbound, fake):
    inbound.command("measure OD-01", user_id=STRANGER)
    assert "could not match your Slack account" in texts(fake.responses[0][1])


# -- what people type is shown as typed, never as a mention or a link ----------------------------


@pytest.fixture
def nasty_month(slack, inbound, fake, slack_bot):
    """A month where the owner's commentary tries to ping everyone and hide a link."""
    slack_bot.reach.send_prompts(OCTOBER, slack_bot.clock())
    inbound.click(OWNER, json.dumps({"cycle": "2026-10"}))
    inbound.submit(opened_view(fake), OWNER, {"OD-01": ("48", NASTY), "OD-02": ("80%", NASTY)})
    inbound.dm(OWNER, f"OD-02: 81% {NASTY}")
    inbound.dm(OWNER, "OD-01: <!here> plus some")
    inbound.event({"type": "app_home_opened", "user": OWNER, "channel": "D0OWNER", "tab": "home"})
    inbound.command("measure OD-02", user_id=OWNER)
    inbound.command("digest preview", user_id=COORD)
    inbound.command("digest", user_id=COORD)
    return slack


def shown_to_people(fake) -> list[str]:
    """Every text pmbot put in front of people, except inputs (which show what was typed)."""
    shown = [texts(m) for m in fake.posted()]
    shown += [texts(m) for m in fake.ephemeral]
    shown += [texts(v) for v in fake.home.values()]
    shown += [texts(body) for _, body in fake.responses]
    shown += [texts(c.params) for c in fake.calls_to("chat.update")]
    return shown


def test_commentary_is_escaped_everywhere_it_is_echoed(nasty_month, fake, slack_bot):
    assert stored(slack_bot)[("OD-02", "2026-10")]["commentary"] == NASTY  # stored as typed
    shown = shown_to_people(fake)
    echoed = [text for text in shown if "evil.example" in text]
    # The confirmation, the alert and its update, App Home, /pm measure and the digest.
    assert len(echoed) >= 6
    for text in shown:
        assert "<!channel>" not in text and "<!here>" not in text and "<@U0COORD>" not in text
        assert "<https://evil" not in text and "@here" not in text
    for text in echoed:
        assert "&lt;!channel&gt;" in text and "&lt;https://evil.example|click me&gt;" in text
    assert all(
        m.get("parse") is None and m.get("link_names") is None
        for m in (c.params for c in fake.calls_to("chat.postMessage"))
    )


def test_user_text_sits_in_verbatim_mrkdwn(nasty_month, fake):
    alert = fake.posted(LEADERS)[0]
    mrkdwn = [b["text"] for b in alert["blocks"] if b["type"] == "section"]
    assert mrkdwn and all(t["type"] == "mrkdwn" and t["verbatim"] for t in mrkdwn)
