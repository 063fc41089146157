"""Who is who in Slack: an email address to a Slack user and back, cached in the store.

The register knows people by email. `slack_id` asks ``users.lookupByEmail`` once per person and
keeps the answer in the store's chat ids under "slack"; someone Slack does not know is cached
as ``''`` (so they are not looked up again and get email instead) and the coordinators are
told once.
`email_for` goes the other way for inbound events, through ``users.info``.
"""

from __future__ import annotations

import logging
from collections.abc import Callable

from slack_sdk import WebClient

from bot.chat import NOT_FOUND
from bot.service import Service
from bot.slack.client import SlackError, translated
from bot.store import Store

log = logging.getLogger("pmbot.slack")
TRANSPORT = "slack"  # the key of Slack's ids in the store's chat ids
NOT_IN_SLACK = NOT_FOUND


class People:
    def __init__(
        self,
        store: Store,
        service: Service,
        client: WebClient,
        *,
        on_not_in_slack: Callable[[str], None] | None = None,
    ) -> None:
        self.store = store
        self.service = service
        self.client = client
        # Set by the notifier once it exists: it tells the coordinators (once per person).
        self.on_not_in_slack = on_not_in_slack

    def slack_id(self, email: str) -> str | None:
        """The person's Slack user id, or None when they have no Slack account."""
        email = email.lower()
        cached = self.store.chat_id(TRANSPORT, email)
        if cached is not None:
            return cached or None
        try:
            with translated(f"users.lookupByEmail {email}"):
                answer = self.client.users_lookupByEmail(email=email)
        except SlackError as exc:
            if exc.code != "users_not_found":
                raise
            self.store.save_chat_id(TRANSPORT, email, NOT_IN_SLACK)
            log.info("%s has no Slack account; they will be emailed", email)
            if self.on_not_in_slack is not None:
                self.on_not_in_slack(email)
            return None
        user_id = answer["user"]["id"]
        self.store.save_chat_id(TRANSPORT, email, user_id)
        return user_id

    def email_for(self, user_id: str) -> str | None:
        """The email of a Slack user, or None when Slack does not give one."""
        email = self.store.email_for_chat_id(TRANSPORT, user_id)
        if email:
            return email
        try:
            with translated(f"users.info {user_id}"):
                answer = self.client.users_info(user=user_id)
        except SlackError as exc:
            if exc.code in ("user_not_found", "users_not_found"):
                return None
            raise
        email = (answer["user"].get("profile") or {}).get("email", "").lower()
        if not email:
            return None
        # Only people pmbot knows are cached: a row for a stranger would make them "known".
        if self.service.is_known(email):
            self.store.save_chat_id(TRANSPORT, email, user_id)
        return email
