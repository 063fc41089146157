"""A typed direct message to the bot: each `OD-01: 48 ...` line is a Submission.

The same rules as the modal and email apply (the service decides); the reply lists what was
stored and what was not. Slack redelivers events it thinks were not received: the message's
channel and ts make its submissions and its `inbound` record unique, so a redelivery stores
nothing and sends no second reply.
"""

from __future__ import annotations

from typing import Any

from bot.events import Inbound
from bot.slack.app import SlackRuntime
from bot.slack.payloads import dm_key, dm_submissions, is_typed_dm


def on_message(event: dict[str, Any], pmbot: SlackRuntime) -> None:
    if not is_typed_dm(event):
        return  # edits, joins, channel messages: acknowledged and left alone
    sender = pmbot.people.email_for(event["user"]) or ""
    now = pmbot.bot.clock()
    inbound = Inbound(
        message_id=dm_key(event),
        channel=pmbot.name,
        sender=sender,
        received_at=now,
        submissions=tuple(dm_submissions(event, sender, now)),
    )

    def confirm(receipt) -> None:
        pmbot.notifier.post(event["channel"], pmbot.views.receipt(receipt))
        if receipt.stored:
            pmbot.publish_home(event["user"])

    pmbot.bot.reach.receive(inbound, confirm=confirm)
