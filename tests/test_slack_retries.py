"""Slack delivers again, rate-limits, fails and refuses: pmbot stores once, answers once,
waits as told, and says clearly what to fix when its settings cannot work."""

from __future__ import annotations

import json
from dataclasses import replace

import pytest
from slack_sdk.http_retry import HttpRequest, HttpResponse, RetryState

from bot.app import create_app
from bot.periods import parse_period
from bot.slack.client import Pacer, RetryAfterHandler, SlackConfigError
from handlers.slack import create_slack
from tests.slack_inbound import COORD, OWNER, opened_view, texts

pytest_plugins = ("tests.slack_fixtures",)
OCTOBER = parse_period("2026-10")
RETRY = {"X-Slack-Retry-Num": "1", "X-Slack-Retry-Reason": "http_timeout"}


def revisions(bot, measure_id: str) -> int:
    return bot.store.revision_count(measure_id, "2026-10")


# -- redelivery -----------------------------------------------------------------------------------


def test_a_redelivered_view_submission_stores_and_confirms_once(inbound, fake, slack_bot):
    inbound.click(OWNER, json.dumps({"cycle": "2026-10"}))
    view = opened_view(fake)
    figures = {"OD-01": ("48", "backlog down"), "OD-02": ("91%", "")}
    assert inbound.submit(view, OWNER, figures) == (200, "")
    assert inbound.submit(view, OWNER, figures, headers=RETRY) == (200, "")
    assert revisions(slack_bot, "OD-01") == 1 and revisions(slack_bot, "OD-02") == 1
    confirmations = [m for m in fake.posted(fake.dm_channel(OWNER)) if "Stored" in texts(m)]
    assert len(confirmations) == 1
    assert len(slack_bot.store.inbound()) == 1


def test_a_redelivered_dm_event_stores_and_replies_once(inbound, fake, slack_bot):
    first = inbound.dm(
        OWNER, "OD-01: 48 backlog down\nOD-02: 92%", ts="1793000000.000100", event_id="Ev0001"
    )
    again = inbound.dm(
        OWNER,
        "OD-01: 48 backlog down\nOD-02: 92%",
        ts="1793000000.000100",
        event_id="Ev0001",
        headers=RETRY,
    )
    assert first[0] == again[0] == 200
    assert revisions(slack_bot, "OD-01") == 1 and revisions(slack_bot, "OD-02") == 1
    replies = fake.posted(fake.dm_channel(OWNER))
    assert len(replies) == 1 and "Stored" in texts(replies[0])


def test_the_same_figure_pressed_again_after_an_error_is_not_a_correction(inbound, fake, slack_bot):
    inbound.click(OWNER, json.dumps({"cycle": "2026-10"}))
    view = opened_view(fake)
    status, body = inbound.submit(view, OWNER, {"OD-01": ("48", ""), "OD-02": ("80%", "")})
    assert "commentary:OD-02" in json.loads(body)["errors"]  # OD-01 was fine and is stored
    inbound.submit(view, OWNER, {"OD-01": ("48", ""), "OD-02": ("80%", "sickness")})
    assert revisions(slack_bot, "OD-01") == 1 and revisions(slack_bot, "OD-02") == 1


# -- rate limits and failures at the Web API ----------------------------------------------------


def test_a_429_is_retried_after_the_retry_after_it_names(slack, fake):
    fake.fail_next("chat.postMessage", 429, retry_after="1")
    (prompt,) = slack.bot.service.due_prompts(OCTOBER, slack.bot.clock())
    ref = slack.notifier.send_prompt(prompt)
    limited, sent = fake.calls_to("chat.postMessage", ok_only=False)
    assert (limited.status, sent.status) == (429, 200)
    assert sent.at - limited.at >= 1.0  # Retry-After: 1, plus slack_sdk's jitter
    assert ref == f"{sent.params['channel']}:{fake.posted()[0]['ts']}"


def test_a_server_error_sends_the_prompt_by_email_once_instead(slack, fake, slack_bot):
    fake.fail_next("chat.postMessage", 500)
    run = slack_bot.reach.send_prompts(OCTOBER, slack_bot.clock())
    assert [p.owner_email for p in run.by_email] == ["owner@agency.example"] and not run.by_chat
    assert [row["kind"] for row in slack_bot.store.outgoing()] == ["prompt"]
    again = slack_bot.reach.send_prompts(OCTOBER, slack_bot.clock())  # the next tick
    assert again.prompts == [], "reached once: never by Slack as well"
    assert fake.posted() == []


def test_an_owner_without_slack_is_emailed_and_the_coordinators_told_once(slack, fake, slack_bot):
    (prompt,) = slack.bot.service.due_prompts(parse_period("2026-09"), slack_bot.clock())[-1:]
    assert prompt.owner_email == "risk@agency.example"
    assert slack.notifier.send_prompt(prompt) is None
    assert slack.notifier.send_prompt(prompt) is None
    assert slack_bot.store.chat_id("slack", "risk@agency.example") == ""  # cached: asked once
    assert fake.count("users.lookupByEmail") == 2  # risk@ once, and the coordinator
    (notice,) = fake.posted(fake.dm_channel(COORD))
    assert "Slack has no account for *risk@agency.example*" in texts(notice)


@pytest.mark.parametrize(("retry_after", "waits"), [("2", (2.0, 2.2)), ("soon", (1.0, 1.1))])
def test_the_429_handler_waits_what_retry_after_says_with_a_little_jitter(retry_after, waits):
    slept: list[float] = []
    handler = RetryAfterHandler(sleep=slept.append)
    request = HttpRequest(method="POST", url="https://slack.test/api/chat.postMessage", headers={})
    limited = HttpResponse(status_code=429, headers={"Retry-After": retry_after})
    state = RetryState()
    assert handler.can_retry(state=state, request=request, response=limited)
    handler.prepare_for_next_attempt(state=state, request=request, response=limited)
    assert waits[0] <= slept[0] <= waits[1] and state.next_attempt_requested


def test_bulk_sending_is_paced_per_method():
    slept: list[float] = []
    pacer = Pacer(rate=10, clock=lambda: 100.0, sleep=slept.append)
    for _ in range(3):
        pacer.wait("chat.postMessage")
    pacer.wait("conversations.open")  # another method has its own allowance
    assert slept == pytest.approx([0.1, 0.2])


# -- settings that cannot work stop the start with one clear line --------------------------------


def build(settings, clock, **changes):
    bot = create_app(replace(settings, **changes), clock=clock)
    try:
        return create_slack(bot)
    finally:
        bot.close()


def test_a_wrong_bot_token_stops_the_start_with_a_clear_message(slack_settings, clock):
    with pytest.raises(
        SlackConfigError, match=r"SLACK_BOT_TOKEN was refused by Slack \(invalid_auth\)"
    ):
        build(slack_settings, clock, slack_bot_token="xoxb-revoked")


def test_a_user_token_is_refused_before_any_call(slack_settings, clock, fake):
    with pytest.raises(SlackConfigError, match="must be a bot token starting with xoxb-"):
        build(slack_settings, clock, slack_bot_token="xoxp-123")
    assert fake.calls == []


def test_an_unreachable_api_url_is_named(slack_settings, clock):
    with pytest.raises(
        SlackConfigError, match="cannot check SLACK_BOT_TOKEN at http://127.0.0.1:9/"
    ):
        build(slack_settings, clock, slack_api_url="http://127.0.0.1:9/api/")


def test_http_mode_needs_the_signing_secret(slack_settings, clock):
    with pytest.raises(SlackConfigError, match="SLACK_SIGNING_SECRET is not set"):
        build(slack_settings, clock, slack_signing_secret="")


def test_a_modal_sent_empty_or_unchanged_asks_for_a_figure(inbound, fake, slack_bot):
    inbound.click(OWNER, json.dumps({"cycle": "2026-10"}))
    errors = json.loads(inbound.submit(opened_view(fake), OWNER, {})[1])["errors"]
    assert errors == {
        "value:OD-01": "Enter at least one figure, or press Cancel to send them later."
    }
    inbound.dm(OWNER, "OD-01: 48\nOD-02: 95%")
    inbound.click(OWNER, json.dumps({"cycle": "2026-10", "all": True}), action_id="open_submit_all")
    errors = json.loads(inbound.submit(opened_view(fake), OWNER, {})[1])["errors"]
    assert "Nothing has changed" in errors["value:OD-01"]
    assert slack_bot.store.submission_count() == 2
