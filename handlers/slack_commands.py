"""`/pm`: status, chase, digest, measure and help.

The command is acknowledged at once (Slack allows 3 s) and answered through its response_url,
so a digest or a chase of many owners can take as long as it needs. Status, chase and digest
are for coordinators; anyone in the register may look a measure up.
"""

from __future__ import annotations

from typing import Any

from slack_bolt import Ack, Respond

from bot.periods import Period
from bot.service import period_label
from bot.slack.app import SlackRuntime
from bot.slack.payloads import Command, parse_command
from bot.slack.worklist import cycle_from

COORDINATORS_ONLY = ("status", "chase", "digest")


def on_pm(ack: Ack, command: dict[str, Any], respond: Respond, pmbot: SlackRuntime) -> None:
    ack()
    args = parse_command(command.get("text", ""))
    views, service = pmbot.views, pmbot.bot.service
    if args.problem:
        kind, _, detail = args.problem.partition(":")
        respond(**views.problem(kind, detail))
        return
    if args.name == "help":
        respond(**views.say("help"))
        return
    email = pmbot.people.email_for(command["user_id"])
    if not email or not service.is_known(email):
        respond(**views.say("not_registered"))
    elif args.name in COORDINATORS_ONLY and not service.is_coordinator(email):
        respond(**views.say("coordinators_only", args.name))
    else:
        cycle = cycle_from(args.period, pmbot.bot.clock())
        HANDLERS[args.name](args, cycle, command, respond, pmbot)


def status(
    args: Command, cycle: Period, command: dict, respond: Respond, pmbot: SlackRuntime
) -> None:
    report = pmbot.bot.service.status(cycle, pmbot.bot.clock())
    names = {o: pmbot.bot.service.person_name(o) for o in report.outstanding}
    respond(**pmbot.views.status(report, period_label(cycle), names))


def chase(
    args: Command, cycle: Period, command: dict, respond: Respond, pmbot: SlackRuntime
) -> None:
    owners = len(pmbot.bot.service.status(cycle, pmbot.bot.clock()).outstanding)
    if owners:
        respond(**pmbot.views.say("chasing", owners, period_label(cycle)))
    now = pmbot.bot.clock()
    result = pmbot.bot.reach.chase(cycle, command.get("trigger_id") or now.isoformat(), now)
    respond(**pmbot.views.say("chased", result, period_label(cycle)))


def digest(
    args: Command, cycle: Period, command: dict, respond: Respond, pmbot: SlackRuntime
) -> None:
    if args.preview:
        pmbot.preview_digest(cycle, command["channel_id"], command["user_id"], respond)
        return
    channel = pmbot.bot.settings.leadership_channel
    if not channel:
        respond(**pmbot.views.problem("no_channel"))
        return
    respond(**pmbot.views.say("digest_building", period_label(cycle)))
    pmbot.bot.reach.post_digest(cycle, pmbot.bot.clock(), only=pmbot)
    respond(**pmbot.views.say("digest_posted", period_label(cycle), channel))


def measure(
    args: Command, cycle: Period, command: dict, respond: Respond, pmbot: SlackRuntime
) -> None:
    service = pmbot.bot.service
    found = service.measure(args.measure_id)
    if found is None:
        respond(**pmbot.views.problem("no_measure", args.measure_id))
        return
    rows = {r["id"]: r for r in service.status(cycle, pmbot.bot.clock()).measures}
    # A quarterly measure reports only in a quarter's last month: otherwise show its latest.
    latest = service.last_values([found.id]).get(found.id, ("", ""))
    owner = service.person_name(found.owner_email)
    deputy = service.person_name(found.deputy_email) if found.deputy_email else ""
    respond(**pmbot.views.measure(found, rows.get(found.id), latest, owner, deputy))


HANDLERS = {"status": status, "chase": chase, "digest": digest, "measure": measure}
