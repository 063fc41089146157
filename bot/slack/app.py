"""The Slack side of pmbot, built by one factory from the bot the rest of pmbot uses.

    slack = create_slack(bot)                      # auth.test, then the Bolt app and handlers
    server, socket = start_slack(slack, health)    # bot.slack.server: HTTP or Socket Mode
    slack.deliver_prompts(cycle)                   # scheduler: prompts by DM, the rest by email
    slack.check_alerts()                           # scheduler, and after each Slack submission
    slack.post_digest(cycle, once=True)            # scheduler; `/pm digest` posts on demand

Nothing is created at import time. Handlers reach this object as the `pmbot` argument, which a
global middleware puts in Bolt's context.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from typing import Any

from slack_bolt import App
from slack_sdk import WebClient

from bot.alerts import AlertPipeline, AlertReport, DeliveryError
from bot.app import Bot
from bot.digest_model import Digest
from bot.events import Outcome
from bot.mail.base import MailError
from bot.mail.compose import outgoing
from bot.periods import Period
from bot.render.pack import render_pack
from bot.render.slack import slack_blocks
from bot.service import period_label
from bot.slack.blocks import Text
from bot.slack.client import (
    Pacer,
    SlackConfigError,
    SlackError,
    check_token,
    make_client,
    slack_rate,
)
from bot.slack.notify import ChaseResult, PromptRun, SlackAlertSender, SlackNotifier
from bot.slack.people import People
from bot.slack.views import Views
from bot.slack.worklist import Worklist, current_cycle, cycle_from, worklist

log = logging.getLogger("pmbot.slack")
LISTENER_THREADS = 16  # Bolt's default of 5 lets five slow listeners block every new request


def digest_for(bot: Bot, cycle: Period) -> Digest:
    """The digest model of a cycle. (A seam: the service builds it; replace calls by that.)"""
    return bot.service.digest(cycle, bot.clock())


@dataclass
class SlackRuntime:
    bot: Bot
    app: App
    client: WebClient
    people: People
    views: Views
    notifier: SlackNotifier
    alerts: AlertPipeline | None  # None without PMBOT_LEADERSHIP_CHANNEL
    identity: dict[str, Any]  # auth.test: team_id, user_id (the bot user), bot_id

    @property
    def socket_mode(self) -> bool:
        return bool(self.bot.settings.slack_app_token)

    # -- for the scheduler ------------------------------------------------------------------

    def deliver_prompts(self, cycle: Period) -> PromptRun:
        """DM every owner due a prompt; each is recorded in the ledger as soon as it is sent.

        Owners without Slack come back in `run.not_in_slack` for the email prompt; failures in
        `run.failed` are not recorded, so the next tick tries them again.
        """
        now = self.bot.clock()
        prompts = self.bot.service.due_prompts(cycle, now)
        record = lambda prompt, ref: self.bot.service.record_prompt(prompt, now, ref)  # noqa: E731
        return self.notifier.send_prompts(prompts, on_sent=record)

    def check_alerts(self, cycle: Period | None = None) -> AlertReport | None:
        """Bring the leadership channel's exception summary up to date (see bot.alerts)."""
        if self.alerts is None:
            return None
        now = self.bot.clock()
        cycle = cycle or current_cycle(now)
        service = self.bot.service
        report = service.status(cycle, now)
        exceptions = service.exceptions(cycle, now, report)
        reasons = {row["id"]: row["exception_reasons"] for row in exceptions}
        names = {p.email: p.name for p in self.bot.store.people() if p.name}
        rows = [
            row
            | {
                "exception_reasons": reasons.get(row["id"], []),
                "owner_name": names.get(row["owner_email"], row["owner_email"]),
            }
            for row in report.measures
        ]
        # The window is ready when it has closed, or as soon as every figure is in.
        ready = service.calendar.is_overdue(cycle, now) or all(r["revisions"] for r in rows)
        return self.alerts.run(str(cycle), period_label(cycle), rows, ready=ready, now=now)

    def post_digest(self, cycle: Period, *, once: bool = False) -> str | None:
        """Post the digest and the full pack to the leadership channel; returns its ref.

        With `once`, nothing is posted if the ledger shows this cycle's digest went already.
        """
        channel = self.bot.settings.leadership_channel
        key = str(cycle)
        if not channel or (once and self.bot.store.ledger_entry("slack-digest", key)):
            return None
        digest = digest_for(self.bot, cycle)
        title = self.views.text.plain("pack_title", digest.cycle_label)
        ref = self.notifier.post_digest(
            channel,
            slack_blocks(digest),
            render_pack(digest),
            f"performance-pack-{cycle}.html",
            title,
        )
        self.bot.store.ledger_add("slack-digest", key, self.bot.clock(), ref, key)
        return ref

    # -- for the handlers -------------------------------------------------------------------

    def preview_digest(
        self, cycle: Period, channel: str, user_id: str, respond: Callable[..., Any]
    ) -> None:
        """The digest shown only to `user_id` in the channel where they asked for it."""
        content = slack_blocks(digest_for(self.bot, cycle))
        try:
            self.notifier.ephemeral(channel, user_id, content)
        except SlackError as exc:
            if exc.code not in ("channel_not_found", "not_in_channel"):
                raise
            # The bot is not in that channel, so it cannot post there even ephemerally; the
            # command's response_url can (and is ephemeral too).
            respond(**content)

    def chase(self, cycle: Period, stamp: str) -> ChaseResult:
        """Remind every owner still to send: by DM, or by email when they have no Slack."""
        now = self.bot.clock()
        service = self.bot.service
        report = service.status(cycle, now)
        prompts = service.prompts_for(cycle, report, report.outstanding)
        run = self.notifier.send_prompts(list(prompts.values()), reminder=1)
        for prompt in run.not_in_slack:
            key = f"{prompt.owner_email}:{cycle}:{stamp}"
            message = self.bot.composer.prompt(prompt, now, reminder=1)
            service.record_action(
                "chase", key, now, outgoing=outgoing("chase", key, message), cycle=str(cycle)
            )
        if run.not_in_slack:
            try:
                self.bot.deliver_mail()
            except MailError as exc:  # queued in the outbox: the poller sends it later
                log.warning("chase emails queued, not yet sent: %s", exc)
        return ChaseResult(
            total=len(prompts),
            measures=sum(len(p.lines) for p in prompts.values()),
            by_slack=len(run.sent),
            by_email=len(run.not_in_slack),
            failed=tuple(sorted(run.failed)),
        )

    def worklist_for(self, user_id: str, cycle: str | None) -> tuple[str | None, Worklist]:
        """(email, their measures in the cycle); no measures for someone pmbot does not know."""
        now = self.bot.clock()
        email = self.people.email_for(user_id)
        return email, worklist(self.bot.service, email or "", cycle_from(cycle, now), now)

    def publish_home(self, user_id: str, client: WebClient | None = None) -> None:
        email, work = self.worklist_for(user_id, None)
        service = self.bot.service
        name = service.person_name(email) if email else "there"
        view = self.views.home(work, name, bool(email) and service.is_coordinator(email or ""))
        (client or self.client).views_publish(user_id=user_id, view=view)

    def after_submission(
        self, user_id: str, outcomes: list[Outcome], *, claim: str, sender: str, channel: str = ""
    ) -> None:
        """Record the message in `inbound`, confirm once (a redelivery finds it recorded),
        refresh the Home tab and the alert summary."""
        stored = [o for o in outcomes if o.stored]
        now = self.bot.clock()
        first_time = self.bot.service.record_inbound(
            message_id=claim,
            channel="slack",
            sender=sender,
            subject="",
            received_at=now,
            outcome="stored" if stored else "rejected",
            reason="; ".join(o.message for o in outcomes)[:1000],
        )
        if not first_time:
            return
        content = self.views.confirmation(outcomes)
        if channel:
            self.notifier.post(channel, content)
        else:
            self.notifier.dm(user_id, content)
        self.publish_home(user_id)
        if any(not o.duplicate for o in stored):
            try:
                self.check_alerts()
            except DeliveryError as exc:  # the figures are in; the scheduler tries again
                log.warning("alert summary not updated: %s", exc)


def create_slack(bot: Bot, *, process_before_response: bool = False) -> SlackRuntime:
    """Check the token (auth.test) and build the Bolt app with pmbot's handlers registered.

    Raises SlackConfigError, with one line saying what to fix, when Slack cannot work.
    """
    from handlers.slack import register  # handlers import this package: bind late

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
    people = People(bot.store, bot.service, bulk)
    views = Views(Text(bot.composer.templates))
    notifier = SlackNotifier(
        client=client,
        bulk=bulk,
        people=people,
        views=views,
        store=bot.store,
        coordinators=lambda: bot.service.people_with_role("coordinator"),
        clock=bot.clock,
    )
    people.on_not_in_slack = notifier.tell_coordinators_not_in_slack
    alerts = None
    if settings.leadership_channel:
        sender = SlackAlertSender(notifier, views, settings.leadership_channel)
        alerts = AlertPipeline(bot.store, sender)
    runtime = SlackRuntime(bot, app, client, people, views, notifier, alerts, identity)
    register(app, runtime)
    log.info("Slack: connected as %s in %s", identity.get("user"), identity.get("team"))
    return runtime


def create_slack_app(bot: Bot) -> App:
    """The Bolt app alone (the runtime stays reachable from every request's context)."""
    return create_slack(bot).app


__all__ = [
    "SlackConfigError",
    "SlackError",
    "SlackRuntime",
    "create_slack",
    "create_slack_app",
    "digest_for",
]
