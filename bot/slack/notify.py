"""Everything pmbot sends to Slack on its own initiative: prompts and chases to owners (bulk
sends paced per API method; bot.reach fans them out), the digest to the leadership channel,
the alert summary.

Every method raises `SlackError` (from bot.slack.client) on failure, never a slack_sdk error.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterable
from datetime import datetime
from typing import Any

from slack_sdk import WebClient

from bot.alerts import Plan, Summary
from bot.events import Prompt
from bot.slack.client import SlackError, translated
from bot.slack.people import People
from bot.slack.views import Views
from bot.store import Store

log = logging.getLogger("pmbot.slack")


def ref_of(answer: Any) -> str:
    """The reference pmbot keeps for a posted message: its channel id and ts."""
    return f"{answer['channel']}:{answer['ts']}"


def split_ref(ref: str) -> tuple[str, str]:
    channel, _, ts = ref.partition(":")
    return channel, ts


class SlackNotifier:
    def __init__(
        self,
        *,
        client: WebClient,
        bulk: WebClient,
        people: People,
        views: Views,
        store: Store,
        coordinators: Callable[[], Iterable[str]],
        clock: Callable[[], datetime],
    ) -> None:
        self.client = client  # answers to people who are waiting: not paced
        self.bulk = bulk  # fan-out: paced per method
        self.people = people
        self.views = views
        self.store = store
        self.coordinators = coordinators
        self.clock = clock

    # -- to one person ----------------------------------------------------------------------

    def dm(self, user_id: str, content: dict[str, Any], *, client: WebClient | None = None) -> str:
        """Post `content` ({"text", "blocks"}) in the bot's DM with a user; returns its ref."""
        client = client or self.client
        with translated(f"DM to {user_id}"):
            channel = client.conversations_open(users=user_id)["channel"]["id"]
            return ref_of(client.chat_postMessage(channel=channel, **content))

    def send_prompt(self, prompt: Prompt, *, reminder: int = 0) -> str | None:
        """DM the owner their prompt (a chase when `reminder` > 0) with the Submit button.

        Returns the message's reference, or None when the owner has no Slack account: the
        caller emails them instead.
        """
        user_id = self.people.slack_id(prompt.owner_email)
        if user_id is None:
            return None
        return self.dm(user_id, self.views.prompt(prompt, chase=reminder > 0), client=self.bulk)

    def tell_coordinators_not_in_slack(self, email: str) -> None:
        """Once per person (the ledger remembers), tell each coordinator on Slack."""
        if not self.store.ledger_add("slack-not-found", email, self.clock()):
            return
        for coordinator in self.coordinators():
            user_id = self.people.slack_id(coordinator)
            if user_id is None:
                continue
            try:
                self.dm(user_id, self.views.say("not_in_slack", email))
            except SlackError as exc:
                log.warning(
                    "could not tell %s that %s is not in Slack: %s", coordinator, email, exc
                )

    # -- to channels ------------------------------------------------------------------------

    def post(
        self, channel: str, content: dict[str, Any], *, thread: str = "", broadcast: bool = False
    ) -> str:
        """Post in a channel (or a thread of it; `broadcast` shows the reply in the channel too)."""
        extra: dict[str, Any] = {"thread_ts": thread} if thread else {}
        if thread and broadcast:
            extra["reply_broadcast"] = True
        with translated(f"post to {channel}"):
            return ref_of(self.client.chat_postMessage(channel=channel, **content, **extra))

    def update(self, ref: str, content: dict[str, Any]) -> None:
        channel, ts = split_ref(ref)
        with translated(f"update {ref}"):
            self.client.chat_update(channel=channel, ts=ts, **content)

    def post_digest(
        self, channel: str, content: dict[str, Any], pack: str, filename: str, title: str
    ) -> str:
        """The digest message, then the full pack as an HTML file in its thread."""
        ref = self.post(channel, content)
        channel_id, ts = split_ref(ref)
        with translated(f"upload {filename}"):
            self.client.files_upload_v2(
                channel=channel_id, thread_ts=ts, filename=filename, title=title, content=pack
            )
        return ref

    def ephemeral(self, channel: str, user_id: str, content: dict[str, Any]) -> None:
        with translated(f"ephemeral to {user_id} in {channel}"):
            self.client.chat_postEphemeral(channel=channel, user=user_id, **content)


class SlackAlertSender:
    """The alert pipeline's Sender for one Slack channel: one message per window, kept current."""

    def __init__(self, notifier: SlackNotifier, views: Views, channel: str) -> None:
        self.notifier = notifier
        self.views = views
        self.channel = channel

    def post(self, summary: Summary) -> str:
        return self.notifier.post(self.channel, self.views.alert_summary(summary))

    def update(self, ref: str, summary: Summary) -> None:
        self.notifier.update(ref, self.views.alert_summary(summary, updated=True))

    def follow_up(self, ref: str, summary: Summary, plan: Plan) -> str:
        channel, ts = split_ref(ref)
        # In the summary's thread, and in the channel too: an edited message notifies nobody.
        return self.notifier.post(channel, self.views.follow_up(plan), thread=ts, broadcast=True)
