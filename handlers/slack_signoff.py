"""An approver's Approve and Query buttons on a sign-off request, and the Query modal.

Approve records the decision at once; Query opens a modal with a question box per figure of
the area, and each question typed goes to that measure's owner (bot.reach.Reach.decide, the
same use case as an emailed APPROVE or QUERY and `/pm signoff`).
"""

from __future__ import annotations

import hashlib
from typing import Any

from slack_bolt import Ack, Respond
from slack_sdk import WebClient

from bot.periods import parse_period
from bot.slack.app import SlackRuntime
from bot.slack.payloads import SIGNOFF_QUERY, query_text, read_signoff

__all__ = ["SIGNOFF_QUERY", "on_approve", "on_query_open", "on_query_submit"]


def decide(pmbot: SlackRuntime, user_id: str, about: tuple[str, str], text: str, ref: str):
    bot, now = pmbot.bot, pmbot.bot.clock()
    area, cycle = about
    result = bot.reach.decide(text=text, who=pmbot.people.email_for(user_id) or "",
                              channel=pmbot.name, source_ref=f"slack:{ref}", now=now,
                              cycle=parse_period(cycle), area=area)  # fmt: skip
    bot.reach.deliver_quietly()
    said = bot.templates.get_template("signoff.txt").module.decision(result)
    return pmbot.views.say("signoff_result", result.ok, " ".join(str(said).split()))


def on_approve(
    ack: Ack, body: dict[str, Any], action: dict[str, Any], respond: Respond, pmbot: SlackRuntime
) -> None:
    ack()
    about = read_signoff(action.get("value"))
    if about is None:
        return
    user_id = body["user"]["id"]
    respond(replace_original=False, **decide(pmbot, user_id, about, "APPROVE", body["trigger_id"]))


def on_query_open(
    ack: Ack, body: dict[str, Any], action: dict[str, Any], client: WebClient, pmbot: SlackRuntime
) -> None:
    ack()
    about = read_signoff(action.get("value"))
    if about is None:
        return
    area, cycle = about
    report = pmbot.bot.service.status(parse_period(cycle), pmbot.bot.clock())
    rows = [r for r in report.measures if r["area"] == area]
    # The trigger id lasts about 3 s and works once: open the modal straight away.
    client.views_open(
        trigger_id=body["trigger_id"], view=pmbot.views.signoff_query_modal(area, cycle, rows)
    )


def on_query_submit(
    ack: Ack, body: dict[str, Any], view: dict[str, Any], pmbot: SlackRuntime
) -> None:
    about = read_signoff(view.get("private_metadata"))
    text = query_text(view)
    if about is None or not text:
        first = next(iter(view.get("state", {}).get("values", {})), "")
        ack(response_action="errors", errors={first: pmbot.views.text.plain("query_empty")})
        return
    ack()
    user_id = body["user"]["id"]
    typed = hashlib.sha1(text.encode()).hexdigest()[:12]  # the same submission twice: once
    answer = decide(pmbot, user_id, about, text, f"view:{view.get('id', '')}:{typed}")
    pmbot.notifier.dm(user_id, answer)
