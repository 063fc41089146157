"""Teams as a chat transport (bot.chat.ChatTransport): what pmbot sends on its own initiative.

A person is reached in their 1:1 chat with the bot. Its conversation id is their chat id
(``Store.chat_id("teams", email)``), learnt when the app is installed for them (the
``conversationUpdate`` Teams sends then) or when they first write to the bot: the Bot
Connector cannot start a chat with someone who has not got the app, so nobody else is "found"
and pmbot emails them.

Leaders read one channel (PMBOT_TEAMS_LEADERSHIP_CHANNEL): the alert summary is one card,
updated in place, with replies in its thread for new and cleared exceptions; the digest is a
card of its own.

References are ``<conversation id>|<activity id>``.
"""

from __future__ import annotations

import logging
from typing import TYPE_CHECKING, Any

from bot.alerts import Plan, Summary
from bot.chat import NOT_FOUND, Notice
from bot.teams.cards import Cards, card_message, plain_message

if TYPE_CHECKING:
    from bot.digest_model import Digest
    from bot.events import Prompt, SignoffRequest
    from bot.store import Store
    from bot.teams.config import TeamsConfig
    from bot.teams.connector import Connector

log = logging.getLogger("pmbot.teams")
NAME = "teams"


def ref_of(conversation_id: str, activity_id: str) -> str:
    return f"{conversation_id}|{activity_id}"


def split_ref(ref: str) -> tuple[str, str]:
    conversation_id, _, activity_id = ref.rpartition("|")
    return conversation_id, activity_id


class TeamsTransport:
    name = NAME

    def __init__(
        self, config: TeamsConfig, connector: Connector, cards: Cards, store: Store
    ) -> None:
        self.config = config
        self.connector = connector
        self.cards = cards
        self.store = store
        self._alerts = TeamsAlertSender(self) if config.leadership_channel else None

    # -- people -----------------------------------------------------------------------------

    def find_person(self, email: str) -> str | None:
        """Their 1:1 conversation with the bot, or None when they have not got the app."""
        return self.store.chat_id(NAME, email) or None

    def remember(self, email: str, conversation_id: str) -> None:
        if self.store.chat_id(NAME, email) != conversation_id:
            self.store.save_chat_id(NAME, email, conversation_id)
            log.info("%s is reachable in Teams", email)

    def forget(self, conversation_id: str) -> None:
        """The app was removed for them: pmbot cannot start a chat with them any more."""
        email = self.email_for(conversation_id)
        if email:
            self.store.save_chat_id(NAME, email, NOT_FOUND)
            log.info("%s removed the Teams app; they will be emailed", email)

    def email_for(self, conversation_id: str) -> str | None:
        return self.store.email_for_chat_id(NAME, conversation_id)

    # -- to one person ----------------------------------------------------------------------

    def send_prompt(self, prompt: Prompt, *, reminder: int = 0) -> str | None:
        conversation = self.find_person(prompt.owner_email)
        if conversation is None:
            return None
        chase = reminder > 0
        card = self.cards.prompt(prompt, chase=chase)
        summary = self.cards.words.label("prompt_summary", prompt, chase)
        activity_id = self.connector.send(conversation, card_message(card, summary), paced=True)
        return ref_of(conversation, activity_id)

    def tell(self, email: str, notice: Notice) -> str | None:
        conversation = self.find_person(email)
        if conversation is None:
            return None
        activity = self.cards.say("notice", notice.code, dict(notice.params))
        return ref_of(conversation, self.connector.send(conversation, activity))

    def ask_signoff(self, request: SignoffRequest) -> str | None:
        """No sign-off card in Teams yet: None, so the approver is asked by email (and answers
        APPROVE or QUERY there, or with `pmbot signoff`)."""
        return None

    def say(self, conversation_id: str, activity: dict[str, Any]) -> str:
        return ref_of(conversation_id, self.connector.send(conversation_id, activity))

    # -- to leaders -------------------------------------------------------------------------

    @property
    def alerts(self) -> TeamsAlertSender | None:
        return self._alerts

    def post_digest(self, digest: Digest, pack: str, pack_url: str | None = None) -> str | None:
        """The digest card in the leaders' channel. The Bot Connector cannot attach a file in
        a channel: the card links to the pack pmbot serves (`pack_url`), or says it comes with
        the digest email."""
        channel = self.config.leadership_channel
        if not channel:
            return None
        card = self.cards.digest(digest, pack_url)
        return ref_of(channel, self.connector.send(channel, card))


class TeamsAlertSender:
    """bot.alerts.Sender for the leaders' channel: one card per window, kept current."""

    def __init__(self, transport: TeamsTransport) -> None:
        self.transport = transport

    def post(self, summary: Summary) -> str:
        channel = self.transport.config.leadership_channel
        activity = self.transport.cards.alert_summary(summary)
        return ref_of(channel, self.transport.connector.send(channel, activity))

    def update(self, ref: str, summary: Summary) -> None:
        channel, activity_id = split_ref(ref)
        activity = self.transport.cards.alert_summary(summary, updated=True)
        self.transport.connector.update(channel, activity_id, activity)

    def follow_up(self, ref: str, summary: Summary, plan: Plan) -> str:
        # A reply in the summary's thread: an edited card notifies nobody, a reply does.
        channel, activity_id = split_ref(ref)
        thread = f"{channel};messageid={activity_id}"
        reply = self.transport.cards.follow_up(plan)
        return ref_of(thread, self.transport.connector.reply(thread, activity_id, reply))


__all__ = ["NAME", "NOT_FOUND", "TeamsAlertSender", "TeamsTransport", "plain_message"]
