"""The App Home tab: the person's measures this cycle, their status and a Submit button."""

from __future__ import annotations

from typing import Any

from slack_sdk import WebClient

from bot.slack.app import SlackRuntime


def on_home_opened(event: dict[str, Any], client: WebClient, pmbot: SlackRuntime) -> None:
    if event.get("tab", "home") == "home":
        pmbot.publish_home(event["user"], client)
