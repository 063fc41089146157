"""A typed direct message to the bot: each `OD-01: 48 ...` line is a Submission.

The same rules as the modal and email apply (the service decides); the reply lists what was
stored and what was not. Slack redelivers events it thinks were not received: the message's
channel and ts make its submissions and its `inbound` record unique, so a redelivery stores
nothing and sends no second reply.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from bot.slack.payloads import dm_key, dm_submissions, is_typed_dm

if TYPE_CHECKING:
    from bot.slack.app import SlackRuntime


def on_message(event: dict[str, Any], pmbot: SlackRuntime) -> None:
    if not is_typed_dm(event):
        return  # edits, joins, channel messages: acknowledged and left alone
    service = pmbot.bot.service
    sender = pmbot.people.email_for(event["user"])
    if not sender or not service.is_known(sender):
        reply_once(
            pmbot, event, sender or event["user"], "rejected", "not in the register", "dm_stranger"
        )
        return
    submissions = dm_submissions(event, sender, pmbot.bot.clock())
    if not submissions:
        reply_once(pmbot, event, sender, "ignored", "no figure lines", "dm_help")
        return
    outcomes = [service.submit(s) for s in submissions]
    pmbot.after_submission(
        event["user"], outcomes, claim=dm_key(event), sender=sender, channel=event["channel"]
    )


def reply_once(
    pmbot: SlackRuntime, event: dict[str, Any], sender: str, outcome: str, reason: str, macro: str
) -> None:
    if pmbot.bot.service.record_inbound(
        message_id=dm_key(event),
        channel="slack",
        sender=sender,
        subject="",
        received_at=pmbot.bot.clock(),
        outcome=outcome,
        reason=reason,
    ):
        pmbot.notifier.post(event["channel"], pmbot.views.say(macro))
