"""The Bot Connector's side of the conversation with the bot's endpoint, for the Teams tests:
the people and channel of the test tenant, signed activities (`TeamsSide`), and ways to read
the cards that were sent.
"""

from __future__ import annotations

import itertools
import json
import urllib.error
import urllib.request
from typing import Any

from tests.fake_teams import APP_ID, APP_SECRET, BOT_ID, TENANT, FakeTeams, Member

LEADERS = "19:leaders@thread.tacv2"
PEOPLE = {
    "owner": ("owner@agency.example", "Olive Owner"),
    "deputy": ("deputy@agency.example", "Dev Deputy"),
    "coord": ("coord@agency.example", "Cora Coordinator"),
    "stranger": ("stranger@agency.example", "Sam Stranger"),
}  # risk@agency.example (RSK-01's owner) has not got the app: email


def teams_env(fake: FakeTeams) -> dict[str, str]:
    return {
        "PMBOT_TEAMS_APP_ID": APP_ID,
        "PMBOT_TEAMS_APP_SECRET": APP_SECRET,
        "PMBOT_TEAMS_TENANT_ID": TENANT,
        "PMBOT_TEAMS_LEADERSHIP_CHANNEL": LEADERS,
        "PMBOT_TEAMS_SERVICE_URL": fake.service_url,
        "PMBOT_TEAMS_TOKEN_URL": fake.token_url,
        "PMBOT_TEAMS_OPENID_URL": fake.openid_url,
    }


class TeamsSide:
    """The Bot Connector's side of the HTTP conversation with the bot."""

    def __init__(self, url: str, fake: FakeTeams) -> None:
        self.url, self.fake = url, fake
        self.ids = itertools.count(1)

    def post(self, activity: dict[str, Any], token: str | None = "valid") -> tuple[int, Any]:
        headers = {"Content-Type": "application/json"}
        if token == "valid":
            token = self.fake.activity_token()
        if token:
            headers["Authorization"] = f"Bearer {token}"
        request = urllib.request.Request(self.url, json.dumps(activity).encode(), headers)
        try:
            with urllib.request.urlopen(request, timeout=10) as answer:
                raw = answer.read()
                return answer.status, json.loads(raw) if raw else None
        except urllib.error.HTTPError as error:
            return error.code, json.loads(error.read() or b"null")

    def activity(self, member: Member, kind: str, **fields: Any) -> dict[str, Any]:
        return {
            "type": kind,
            "id": f"act-{next(self.ids)}",
            "channelId": "msteams",
            "serviceUrl": self.fake.service_url,
            "from": {"id": member.user_id, "aadObjectId": member.aad_object_id,
                     "name": member.name},
            "recipient": {"id": BOT_ID, "name": "pmbot"},
            "conversation": {"id": member.conversation_id, "conversationType": "personal",
                             "tenantId": TENANT},
            "channelData": {"tenant": {"id": TENANT}},
            **fields,
        }  # fmt: skip

    def install(self, member: Member) -> tuple[int, Any]:
        """What Teams sends when the app is installed for someone (personal scope)."""
        added = [{"id": BOT_ID}, {"id": member.user_id}]
        return self.post(self.activity(member, "conversationUpdate", membersAdded=added))

    def uninstall(self, member: Member) -> tuple[int, Any]:
        """What Teams sends when someone removes the app."""
        return self.post(self.activity(member, "installationUpdate", action="remove"))

    def say(self, member: Member, text: str) -> tuple[int, Any]:
        return self.post(self.activity(member, "message", text=text, textFormat="plain"))

    def press(self, member: Member, card: dict[str, Any], inputs: dict[str, str]):
        """Press the card's Action.Execute button with these inputs typed (Teams merges the
        inputs into the action's data)."""
        content = card["attachments"][0]["content"]
        action = content["actions"][0]
        value = {"action": {"type": "Action.Execute", "verb": action["verb"],
                            "data": {**action["data"], **inputs}}, "trigger": "manual"}
        activity = self.activity(member, "invoke", name="adaptiveCard/action", value=value,
                                 replyToId=card["id"])  # fmt: skip
        return self.post(activity)


def card_text(card: dict[str, Any]) -> str:
    """Every TextBlock's text in a card (or a message carrying one), in order."""
    if "attachments" in card:
        card = card["attachments"][0]["content"]
    texts: list[str] = []

    def walk(items: list[dict[str, Any]]) -> None:
        for item in items:
            if item.get("type") == "TextBlock":
                texts.append(item["text"])
            walk(item.get("items", []))

    walk(card.get("body", []))
    return "\n".join(texts)


def inputs_of(card: dict[str, Any]) -> dict[str, dict[str, Any]]:
    if "attachments" in card:
        card = card["attachments"][0]["content"]
    found: dict[str, dict[str, Any]] = {}

    def walk(items: list[dict[str, Any]]) -> None:
        for item in items:
            if item.get("type", "").startswith("Input."):
                found[item["id"]] = item
            walk(item.get("items", []))

    walk(card.get("body", []))
    return found
