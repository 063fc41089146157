"""The Submit figures button opens a modal; submitting it stores each figure.

Every field becomes a Submission for the service, which validates and authorises it. A refused
figure comes back inside the modal on the field at fault (a red value without commentary on
its commentary box); when all are taken the modal closes and a DM confirms each figure.
"""

from __future__ import annotations

from typing import Any

from slack_bolt import Ack
from slack_sdk import WebClient

from bot.events import Inbound, Receipt
from bot.slack.app import SlackRuntime
from bot.slack.payloads import (
    CALLBACK_ID,
    modal_measure_ids,
    modal_submissions,
    read_button,
    submission_key,
)

__all__ = ["CALLBACK_ID", "on_open", "on_submit"]


def on_open(
    ack: Ack, body: dict[str, Any], action: dict[str, Any], client: WebClient, pmbot: SlackRuntime
) -> None:
    ack()
    cycle, everything = read_button(action.get("value"))
    _, work = pmbot.worklist_for(body["user"]["id"], cycle)
    # The trigger id lasts about 3 s and works once: open the modal straight away.
    client.views_open(
        trigger_id=body["trigger_id"], view=pmbot.views.submit_modal(work, everything)
    )


def on_submit(ack: Ack, body: dict[str, Any], view: dict[str, Any], pmbot: SlackRuntime) -> None:
    user_id = body["user"]["id"]
    sender = pmbot.people.email_for(user_id) or ""
    now = pmbot.bot.clock()
    submissions = modal_submissions(view, sender, now)
    if not submissions:
        ids, correcting = modal_measure_ids(view)
        if ids:
            ack(response_action="errors", errors=pmbot.views.nothing_to_submit(ids, correcting))
        else:
            ack()  # a modal with no fields: nothing to take
        return
    inbound = Inbound(
        message_id=f"slack:view:{submission_key(view)}",
        channel=pmbot.name,
        sender=sender,
        received_at=now,
        submissions=tuple(submissions),
    )

    def confirm(receipt: Receipt) -> None:
        if receipt.code == "stranger":  # (no figures to refuse: said on the first field)
            ids, _ = modal_measure_ids(view)
            ack(response_action="errors", errors=pmbot.views.stranger_errors(ids))
            return
        ack()  # the modal closes now; the confirmation and the alert check follow
        pmbot.notifier.dm(user_id, pmbot.views.receipt(receipt))
        pmbot.publish_home(user_id)

    # A refused figure is shown in the modal, on the field at fault, and nothing is recorded:
    # the person corrects it there and submits again. The figures that were fine are stored;
    # sent again unchanged they are recognised (same view, same text) and not stored twice.
    receipt = pmbot.bot.reach.receive(inbound, confirm=confirm, keep_trying=True)
    if receipt.outcome == "seen":
        ack()
    elif errors := pmbot.views.modal_errors(list(receipt.outcomes)):
        ack(response_action="errors", errors=errors)
