"""The Slack side of pmbot: the first implementation of the chat contract (bot.chat).

    slack = build_slack(bot)                       # auth.test, then the Bolt app; registers
                                                   # itself as one of the bot's chats
    endpoint(slack)                                # bot.slack.server: HTTP route or Socket Mode

`handlers.slack.create_slack(bot)` builds it and binds the handlers. Everything that is not
Slack's wire format — who is prompted where, what happens after a figure arrives, the alert
lifecycle, the digest ledger — is transport-neutral, in bot.reach. Nothing is created at import
time. Handlers reach this object as the `pmbot` argument, which a global middleware puts in
Bolt's context.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from datetime import datetime
from typing import Any, Protocol

import jinja2
from slack_bolt import App
from slack_sdk import WebClient

from bot.chat import Notice
from bot.digest_model import Digest
from bot.events import Prompt, SignoffRequest
from bot.reach import Reach
from bot.render.slack import slack_blocks
from bot.reports import slug
from bot.service import Service
from bot.settings import Settings
from bot.slack.blocks import Text
from bot.slack.client import (
    Pacer,
    SlackConfigError,
    SlackError,
    check_token,
    make_client,
    slack_rate,
)
from bot.slack.notify import SlackAlertSender, SlackNotifier
from bot.slack.people import TRANSPORT, People
from bot.slack.views import Views
from bot.slack.worklist import Worklist, cycle_from, worklist
from bot.spans import Span

log = logging.getLogger("pmbot.slack")
LISTENER_THREADS = 16  # Bolt's default of 5 lets five slow listeners block every new request


class Host(Protocol):
    """What the Slack side needs of the bot that hosts it (bot.app.Bot)."""

    settings: Settings
    service: Service
    reach: Reach
    clock: Callable[[], datetime]

    @property
    def templates(self) -> jinja2.Environment: ...


@dataclass
class SlackRuntime:
    bot: Host
    app: App
    client: WebClient
    people: People
    views: Views
    notifier: SlackNotifier
    alert_sender: SlackAlertSender | None  # None without PMBOT_LEADERSHIP_CHANNEL
    identity: dict[str, Any]  # auth.test: team_id, user_id (the bot user), bot_id

    @property
    def socket_mode(self) -> bool:
        return bool(self.bot.settings.slack_app_token)

    # -- the chat contract (bot.chat.ChatTransport) -----------------------------------------

    name = TRANSPORT

    def find_person(self, email: str) -> str | None:
        return self.people.slack_id(email)

    def send_prompt(self, prompt: Prompt, *, reminder: int = 0) -> str | None:
        return self.notifier.send_prompt(prompt, reminder=reminder)

    def tell(self, email: str, notice: Notice) -> str | None:
        user_id = self.people.slack_id(email)
        if user_id is None:
            return None
        return self.notifier.dm(user_id, self.views.say(notice.code, *notice.params.values()))

    def ask_signoff(self, request: SignoffRequest) -> str | None:
        user_id = self.people.slack_id(request.approver_email)
        if user_id is None:
            return None
        return self.notifier.dm(user_id, self.views.signoff_request(request))

    @property
    def alerts(self) -> SlackAlertSender | None:
        return self.alert_sender

    def post_digest(self, digest: Digest, pack: str, pack_url: str | None = None) -> str | None:
        """The digest (with its link button when pmbot serves the pack at `pack_url`) and the
        full pack in the leadership channel; None without one."""
        channel = self.bot.settings.leadership_channel
        if not channel:
            return None
        title = self.views.text.plain("pack_title", digest.cycle_label)
        filename = f"performance-pack-{digest.cycle}.html"
        blocks = slack_blocks(digest, pack_url, env=self.bot.templates)
        return self.notifier.post_digest(channel, blocks, pack, filename, title)

    def post_report(self, span: Span, area: str = "") -> str | None:
        """Post a quarter's or a year's digest (a year's: the annual report), or one area's, on
        demand; a whole month's goes through `Reach.post_digest` and its ledger."""
        channel = self.bot.settings.leadership_channel
        if not channel:
            return None
        return self.notifier.post_digest(channel, *self.report_content(span, area))

    def report_content(self, span: Span, area: str) -> tuple[dict[str, Any], str, str, str]:
        """The message, the page and its file name and title for a span (and area)."""
        # The renderers are heavy: loaded on use, as Reach.post_digest does.
        from bot.render.annual import drafted, render_annual
        from bot.render.pack import render_pack

        now, suffix = self.bot.clock(), f"-{slug(area)}" if area else ""
        if span.is_year:
            report = drafted(self.bot.service.annual(span, now, area=area), self.bot.templates)
            title = self.views.text.plain("annual_title", report.label)
            content = self.views.say("annual_ready", report.label, area)
            filename = f"annual-report-{report.slug}{suffix}.html"
            return content, render_annual(report, env=self.bot.templates), filename, title
        digest = self.bot.service.report(span, now, area=area)
        title = self.views.text.plain("pack_title", digest.cycle_label)
        filename = f"performance-pack-{digest.cycle}{suffix}.html"
        env = self.bot.templates
        return slack_blocks(digest, env=env), render_pack(digest, env), filename, title

    # -- for the handlers -------------------------------------------------------------------

    def preview_report(
        self, span: Span, area: str, channel: str, user_id: str, respond: Callable[..., Any]
    ) -> None:
        """Any span's digest (or one area's) shown only to `user_id` where they asked for it."""
        if span.kind == "month" and not area:
            digest = self.bot.service.digest(span.first, self.bot.clock())
            content = slack_blocks(digest, env=self.bot.templates)
        else:
            content = self.report_content(span, area)[0]
        try:
            self.notifier.ephemeral(channel, user_id, content)
        except SlackError as exc:
            if exc.code not in ("channel_not_found", "not_in_channel"):
                raise
            # The bot is not in that channel, so it cannot post there even ephemerally; the
            # command's response_url can (and is ephemeral too).
            respond(**content)

    def worklist_for(self, user_id: str, cycle: str | None) -> tuple[str | None, Worklist]:
        """(email, their measures in the cycle); no measures for someone pmbot does not know."""
        now = self.bot.clock()
        email = self.people.email_for(user_id)
        return email, worklist(self.bot.service, email or "", cycle_from(cycle, now), now)

    def publish_home(self, user_id: str, client: WebClient | None = None) -> None:
        email, work = self.worklist_for(user_id, None)
        service = self.bot.service
        name = service.person_name(email) if email else ""  # the template greets a stranger
        view = self.views.home(work, name, bool(email) and service.is_coordinator(email or ""))
        (client or self.client).views_publish(user_id=user_id, view=view)


def configured(settings: Settings) -> bool:
    return bool(settings.slack_bot_token)


def build_slack(bot: Host, *, process_before_response: bool = False) -> SlackRuntime:
    """Check the token (auth.test), build the Bolt app (without handlers: the caller binds
    them, see handlers.slack) and register Slack as one of the bot's chats.

    Raises SlackConfigError, with one line saying what to fix, when Slack cannot work.
    """
    settings = bot.settings
    socket_mode = bool(settings.slack_app_token)
    if not socket_mode and not settings.slack_signing_secret:
        raise SlackConfigError(
            "SLACK_SIGNING_SECRET is not set; copy the Signing Secret from "
            "the app's Basic Information page (or set SLACK_APP_TOKEN for "
            "Socket Mode)"
        )
    client = make_client(settings)
    identity = check_token(client)
    bulk = make_client(settings, pacer=Pacer(slack_rate(settings)))
    app = App(
        client=client,
        signing_secret=settings.slack_signing_secret,
        # Socket Mode events come over the app's own WebSocket, unsigned; over HTTP every
        # request is checked (and bot.slack.server serves no events in Socket Mode).
        request_verification_enabled=not socket_mode,
        # check_token has just called auth.test; Bolt repeats it once, on the first request.
        token_verification_enabled=False,
        process_before_response=process_before_response,
        listener_executor=ThreadPoolExecutor(LISTENER_THREADS, thread_name_prefix="slack"),
        name="pmbot",
        logger=logging.getLogger("pmbot.slack.bolt"),
    )
    people = People(bot.service.store, bot.service, bulk)
    views = Views(Text(bot.templates))
    notifier = SlackNotifier(
        client=client,
        bulk=bulk,
        people=people,
        views=views,
        store=bot.service.store,
        coordinators=lambda: bot.service.people_with_role("coordinator"),
        clock=bot.clock,
    )
    people.on_not_in_slack = notifier.tell_coordinators_not_in_slack
    alerts = None
    if settings.leadership_channel:
        alerts = SlackAlertSender(notifier, views, settings.leadership_channel)
    runtime = SlackRuntime(bot, app, client, people, views, notifier, alerts, identity)
    bot.reach.add_chat(runtime)
    log.info("Slack: connected as %s in %s", identity.get("user"), identity.get("team"))
    return runtime


__all__ = [
    "SlackConfigError",
    "SlackError",
    "SlackRuntime",
    "build_slack",
    "configured",
]
