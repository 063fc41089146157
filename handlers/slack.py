"""Builds the Slack side and binds every Slack handler to its Bolt app in one place, with one
error boundary.

Each handler is a plain function taking Bolt's arguments plus `pmbot`, the SlackRuntime, which
the middleware below puts into Bolt's context (Bolt passes context entries by name). Handlers
only translate Slack's payloads into calls of the transport-neutral use cases (bot.reach) and
their results into Slack's wire format.
"""

from __future__ import annotations

import logging
import re
from collections.abc import Callable
from typing import Any

from slack_bolt import App, BoltContext

from bot.slack.app import Host, SlackRuntime, build_slack, configured
from bot.slack.payloads import SIGNOFF_APPROVE, SIGNOFF_QUERY
from bot.slack.server import endpoint
from bot.web import Endpoint
from handlers import slack_commands, slack_dm, slack_home, slack_signoff, slack_submit

log = logging.getLogger("pmbot.slack")


def create_slack(bot: Host, *, process_before_response: bool = False) -> SlackRuntime:
    """Check the token, build the Bolt app with pmbot's handlers, and register Slack as one of
    the bot's chats. Raises SlackConfigError, with one line saying what to fix."""
    runtime = build_slack(bot, process_before_response=process_before_response)
    register(runtime.app, runtime)
    return runtime


create = create_slack  # the factory's name for it (bot.app.CHAT_ADAPTERS)


def serve(bot: Host) -> Endpoint:
    """Slack's part of `pmbot serve`: /slack/events on the HTTP edge, or Socket Mode."""
    return endpoint(create_slack(bot))


__all__ = ["configured", "create", "create_slack", "register", "serve"]


def register(app: App, runtime: SlackRuntime) -> None:
    app.middleware(with_runtime(runtime))
    app.command("/pm")(slack_commands.on_pm)
    # "open_submit" on a prompt and on Home; "open_submit_all" is Home's Correct button.
    app.action(re.compile(r"^open_submit(_all)?$"))(slack_submit.on_open)
    app.view(slack_submit.CALLBACK_ID)(slack_submit.on_submit)
    app.action(SIGNOFF_APPROVE)(slack_signoff.on_approve)
    app.action(SIGNOFF_QUERY)(slack_signoff.on_query_open)
    app.view(SIGNOFF_QUERY)(slack_signoff.on_query_submit)
    app.event("message")(slack_dm.on_message)
    app.event("app_home_opened")(slack_home.on_home_opened)
    app.error(on_error)


def with_runtime(runtime: SlackRuntime) -> Callable[..., None]:
    def add_runtime(context: BoltContext, next: Callable[[], None]) -> None:  # noqa: A002
        context["pmbot"] = runtime
        next()

    return add_runtime


def on_error(error: Exception, body: dict[str, Any], context: BoltContext) -> None:
    """The one error boundary: log the traceback, tell the person once, never raise."""
    log.error("Slack %s failed", describe(body), exc_info=error)
    runtime = context.get("pmbot")
    if runtime is None:
        return
    sorry = runtime.views.say("sorry")
    event = body.get("event") or {}
    user_id = (body.get("user") or {}).get("id") or body.get("user_id")
    try:
        if body.get("response_url") and context.respond is not None:  # a command, a button
            context.respond(**sorry)
        elif event.get("channel_type") == "im":
            runtime.notifier.post(event["channel"], sorry)
        elif user_id:
            runtime.notifier.dm(user_id, sorry)
    except Exception:  # noqa: BLE001 - telling them is a courtesy; the log has the error
        log.exception("could not tell the user about the error")


def describe(body: dict[str, Any]) -> str:
    """What kind of request it was, for the log line (never the text people typed)."""
    if "command" in body:
        return f"command {body['command']}"
    if body.get("type") == "event_callback":
        return f"event {(body.get('event') or {}).get('type')} {body.get('event_id', '')}"
    return f"{body.get('type', 'request')} from {(body.get('user') or {}).get('id', '?')}"
