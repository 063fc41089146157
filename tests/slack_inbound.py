"""Slack's side of the conversation with the bot's endpoint, for the Slack tests: the people
and channel of the test workspace, signed requests (`Inbound`), and ways to read what was sent.
"""

from __future__ import annotations

import hashlib
import hmac
import itertools
import json
import time
import urllib.error
import urllib.parse
import urllib.request
from typing import Any

from tests.fake_slack import BOT_USER, TEAM, FakeSlack

SECRET = "8f742231b10e8888abcd99yyyzzz85a5"
LEADERS = "C0LEAD"
OWNER, DEPUTY, COORD, STRANGER = "U0OWNER", "U0DEPUTY", "U0COORD", "U0STRANGER"
PEOPLE = {
    OWNER: ("owner@agency.example", "Olive Owner"),
    DEPUTY: ("deputy@agency.example", "Dev Deputy"),
    COORD: ("coord@agency.example", "Cora Coordinator"),
    STRANGER: ("stranger@agency.example", "Sam Stranger"),
}  # risk@agency.example (RSK-01's owner) has no Slack account


def signature(secret: str, timestamp: str, body: str) -> str:
    base = f"v0:{timestamp}:{body}".encode()
    return "v0=" + hmac.new(secret.encode(), base, hashlib.sha256).hexdigest()


class Inbound:
    """Slack's side of the HTTP conversation with the bot."""

    def __init__(self, url: str, fake: FakeSlack, secret: str = SECRET) -> None:
        self.url, self.fake, self.secret = url, fake, secret
        self.numbers = itertools.count(1)
        self.commands = itertools.count(1)  # command-1, command-2...: their response_url names

    def post(
        self,
        body: str,
        content_type: str,
        *,
        timestamp: int | None = None,
        secret: str | None = None,
        headers: dict[str, str] | None = None,
        signed: bool = True,
    ) -> tuple[int, str]:
        # The signature uses the real time: it is the one thing Bolt checks against the clock.
        ts = str(int(time.time()) if timestamp is None else timestamp)
        sent = {"Content-Type": content_type, **(headers or {})}
        if signed:
            sent["X-Slack-Request-Timestamp"] = ts
            sent["X-Slack-Signature"] = signature(secret or self.secret, ts, body)
        request = urllib.request.Request(self.url, body.encode(), sent, method="POST")
        try:
            with urllib.request.urlopen(request, timeout=10) as response:
                return response.status, response.read().decode()
        except urllib.error.HTTPError as exc:
            return exc.code, exc.read().decode()

    def form(self, fields: dict[str, str], **options: Any) -> tuple[int, str]:
        return self.post(
            urllib.parse.urlencode(fields), "application/x-www-form-urlencoded", **options
        )

    def interactive(self, payload: dict[str, Any], **options: Any) -> tuple[int, str]:
        body = "payload=" + urllib.parse.quote(json.dumps(payload))
        return self.post(body, "application/x-www-form-urlencoded", **options)

    def command(
        self, text: str, user_id: str = COORD, channel_id: str = LEADERS, **options: Any
    ) -> tuple[int, str]:
        n = next(self.commands)
        return self.form(
            {
                "token": "legacy",
                "team_id": TEAM,
                "team_domain": "agency",
                "channel_id": channel_id,
                "channel_name": "leadership",
                "user_id": user_id,
                "user_name": user_id.lower(),
                "command": "/pm",
                "text": text,
                "api_app_id": "A0PMBOT",
                "is_enterprise_install": "false",
                "response_url": self.fake.response_url(f"command-{n}"),
                "trigger_id": f"cmd.{n}",
            },
            **options,
        )

    def click(
        self,
        user_id: str,
        value: str,
        *,
        action_id: str = "open_submit",
        message: dict[str, Any] | None = None,
    ) -> tuple[int, str]:
        """A button press: on a message (the prompt DM) or, without one, on App Home."""
        n = next(self.numbers)
        payload: dict[str, Any] = {
            "type": "block_actions",
            "api_app_id": "A0PMBOT",
            "token": "legacy",
            "user": {"id": user_id, "username": user_id.lower(), "team_id": TEAM},
            "team": {"id": TEAM, "domain": "agency"},
            "trigger_id": f"trigger.{n}",
            "actions": [
                {
                    "type": "button",
                    "action_id": action_id,
                    "block_id": "b",
                    "value": value,
                    "text": {"type": "plain_text", "text": "Submit"},
                    "action_ts": f"{time.time():.6f}",
                }
            ],
        }
        if message is not None:
            payload |= {
                "container": {
                    "type": "message",
                    "message_ts": message["ts"],
                    "channel_id": message["channel"],
                    "is_ephemeral": False,
                },
                "channel": {"id": message["channel"], "name": "directmessage"},
                "message": {
                    "ts": message["ts"],
                    "text": message["text"],
                    "blocks": message["blocks"],
                },
                "response_url": self.fake.response_url(f"action-{n}"),
            }
        else:
            payload["container"] = {"type": "view", "view_id": "VHOME"}
            payload["view"] = {"id": "VHOME", "type": "home", "blocks": []}
        return self.interactive(payload)

    def submit(
        self,
        view: dict[str, Any],
        user_id: str,
        values: dict[str, tuple[str | None, str | None]],
        **options: Any,
    ) -> tuple[int, str]:
        """Press Submit on an opened modal with these (value, commentary) per measure; None
        leaves a field as it was prefilled."""
        state: dict[str, Any] = {}
        for block in view["blocks"]:
            if block["type"] != "input":
                continue
            kind, _, measure_id = block["block_id"].partition(":")
            given = values.get(measure_id, (None, None))[0 if kind == "value" else 1]
            typed = block["element"].get("initial_value") if given is None else given
            action_id = block["element"]["action_id"]
            state[block["block_id"]] = {
                action_id: {"type": "plain_text_input", "value": typed or None}
            }
        payload = {
            "type": "view_submission",
            "api_app_id": "A0PMBOT",
            "token": "legacy",
            "user": {"id": user_id, "username": user_id.lower(), "team_id": TEAM},
            "team": {"id": TEAM, "domain": "agency"},
            "trigger_id": f"submit.{next(self.numbers)}",  # Slack's is new for each submission
            "view": {**view, "state": {"values": state}},
            "response_urls": [],
            "is_enterprise_install": False,
        }
        return self.interactive(payload, **options)

    def event(
        self, event: dict[str, Any], *, event_id: str | None = None, **options: Any
    ) -> tuple[int, str]:
        envelope = {
            "token": "legacy",
            "team_id": TEAM,
            "api_app_id": "A0PMBOT",
            "type": "event_callback",
            "event_id": event_id or f"Ev{next(self.numbers):08d}",
            "event_time": int(time.time()),
            "event": event,
            "authorizations": [{"team_id": TEAM, "user_id": BOT_USER, "is_bot": True}],
        }
        return self.post(json.dumps(envelope), "application/json", **options)

    def dm(self, user_id: str, text: str, ts: str | None = None, **options: Any):
        ts = ts or f"{time.time():.6f}"
        channel = self.fake.dm_channel(user_id)
        self.fake.add_channel(channel)  # they wrote in it, so it exists
        event = {
            "type": "message",
            "channel": channel,
            "channel_type": "im",
            "user": user_id,
            "text": text,
            "ts": ts,
            "event_ts": ts,
        }
        return self.event(event, **options)


def opened_view(fake: FakeSlack) -> dict[str, Any]:
    """The modal the bot opened last, as Slack holds it (with its id and hash)."""
    return [v for v in fake.views.values() if v["type"] == "modal"][-1]


def texts(message: dict[str, Any]) -> str:
    """Every piece of text in a message or view, joined: what a person would read."""
    found: list[str] = []

    def walk(node: Any) -> None:
        if isinstance(node, dict):
            for key, value in node.items():
                if key == "text" and isinstance(value, str):
                    found.append(value)
                else:
                    walk(value)
        elif isinstance(node, list):
            for item in node:
                walk(item)

    walk(message)
    return "\n".join(found)
