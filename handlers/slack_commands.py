"""`/pm`: status, chase, digest, measure, mute, signoff and help.

The command is acknowledged at once (Slack allows 3 s) and answered through its response_url,
so a digest or a chase of many owners can take as long as it needs. Status, chase and digest
are for coordinators; anyone in the register may look a measure up.
"""

from __future__ import annotations

from typing import Any

from slack_bolt import Ack, Respond

from bot.commands import COORDINATORS_ONLY, Command, parse_command
from bot.periods import Period
from bot.service import period_label
from bot.signoff import split_area
from bot.silences import InvalidSilence
from bot.slack.app import SlackRuntime
from bot.slack.worklist import cycle_from
from bot.spans import as_span, parse_span

# Slack's own commands, read here before the neutral parser (Teams has no silences or sign-off
# commands yet): the rest of the line is read by bot.silences and bot.signoff.
FREE_TEXT = ("mute", "signoff")


def on_pm(ack: Ack, command: dict[str, Any], respond: Respond, pmbot: SlackRuntime) -> None:
    ack()
    words = command.get("text", "").split()
    if words and words[0].lower() in FREE_TEXT:
        args = Command(words[0].lower(), text=" ".join(words[1:]))
    else:
        args = parse_command(command.get("text", ""))
    views, service = pmbot.views, pmbot.bot.service
    if args.problem:
        kind, _, detail = args.problem.partition(":")
        respond(**views.problem(kind, detail))
        return
    email = pmbot.people.email_for(command["user_id"])
    if args.name == "help":  # the commands for coordinators; what they can do for anyone else
        coordinator = bool(email) and service.is_coordinator(email)
        respond(**views.say("help" if coordinator else "help_others"))
    elif not email or not service.is_known(email):
        respond(**views.say("not_registered"))
    elif args.name in (*COORDINATORS_ONLY, "mute") and not service.is_coordinator(email):
        respond(**views.say("coordinators_only", args.name))
    elif args.name == "digest":
        digest(args, command, respond, pmbot)
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


def digest(args: Command, command: dict, respond: Respond, pmbot: SlackRuntime) -> None:
    """`/pm digest [PERIOD] [--area NAME] [preview]`: a month, quarter or year, or one area."""
    if args.period:
        span = parse_span(args.period, pmbot.bot.settings.year_start)
    else:
        span = as_span(cycle_from("", pmbot.bot.clock()))
    if args.area and not pmbot.bot.service.is_area(args.area):
        respond(**pmbot.views.problem("no_area", args.area))
        return
    if args.preview:
        pmbot.preview_report(span, args.area, command["channel_id"], command["user_id"], respond)
        return
    channel = pmbot.bot.settings.leadership_channel
    if not channel:
        respond(**pmbot.views.problem("no_channel"))
        return
    label = f"{args.area}: {span.label}" if args.area else span.label
    respond(**pmbot.views.say("digest_building", label))
    if span.kind == "month" and not args.area:
        pmbot.bot.reach.post_digest(span.first, pmbot.bot.clock(), only=pmbot)
    else:
        pmbot.post_report(span, args.area)
    respond(**pmbot.views.say("digest_posted", label, channel))


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


def mute(
    args: Command, cycle: Period, command: dict, respond: Respond, pmbot: SlackRuntime
) -> None:
    """`/pm mute ID [PERIOD | until DATE] reason…`; `/pm mute` alone lists the silences."""
    service, now = pmbot.bot.service, pmbot.bot.clock()
    if not args.text:
        respond(**pmbot.views.say("silences", list(service.silenced(now).values())))
        return
    email = pmbot.people.email_for(command["user_id"]) or ""
    try:
        silence = service.mute(args.text, email, "slack", now)
    except InvalidSilence as exc:
        respond(**pmbot.views.say("mute_refused", str(exc)))
        return
    respond(**pmbot.views.say("muted", silence))


def signoff(
    args: Command, cycle: Period, command: dict, respond: Respond, pmbot: SlackRuntime
) -> None:
    """`/pm signoff [AREA] APPROVE | QUERY ID question`, as the area's approver; alone, each
    area's sign-off state."""
    bot, now = pmbot.bot, pmbot.bot.clock()
    area, decision = split_area(args.text)
    if not decision:
        states = bot.service.signoff_states(cycle, now)
        respond(**pmbot.views.say("signoff_states", states, period_label(cycle)))
        return
    email = pmbot.people.email_for(command["user_id"]) or ""
    stamp = command.get("trigger_id") or now.isoformat()
    result = bot.reach.decide(text=decision, who=email, channel="slack", now=now, cycle=cycle,
                              source_ref=f"slack:{stamp}", area=area)  # fmt: skip
    bot.reach.deliver_quietly()
    said = bot.composer.say("signoff.txt", "decision", result)
    respond(**pmbot.views.say("signoff_result", result.ok, said))


HANDLERS = {
    "status": status, "chase": chase, "measure": measure, "mute": mute, "signoff": signoff,
}  # fmt: skip
