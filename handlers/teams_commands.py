"""Coordinators' commands typed to pmbot in Teams: status, chase, digest, measure, help, with
the authorisation of Slack's `/pm` (status, chase and digest for coordinators; measure for
anyone in the register; help for everyone). Answers are plain messages in the same chat.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime
from typing import TYPE_CHECKING, Any, Protocol

import jinja2

from bot.commands import COORDINATORS_ONLY, Command
from bot.outreach import period_label
from bot.periods import InvalidPeriod, Period, london_date, parse_period, reporting_period
from bot.settings import Settings
from bot.teams.transport import TeamsTransport
from bot.values import format_value

if TYPE_CHECKING:
    from bot.reach import Reach
    from bot.service import Service
    from bot.store import Store

Say = Callable[[dict[str, Any]], object]


class Host(Protocol):
    """What the Teams side needs of the bot that hosts it (bot.app.Bot)."""

    settings: Settings
    store: Store
    service: Service
    reach: Reach
    clock: Callable[[], datetime]

    @property
    def templates(self) -> jinja2.Environment: ...


def is_cycle(period: str) -> bool:
    try:
        return not period or bool(parse_period(period))
    except InvalidPeriod:
        return False


def run(bot: Host, transport: TeamsTransport, activity: dict[str, Any], sender: str,
        command: Command) -> None:  # fmt: skip
    conversation = activity["conversation"]["id"]
    service, cards = bot.service, transport.cards

    def say(message: dict[str, Any]) -> None:
        transport.say(conversation, message)

    if command.problem:
        kind, _, detail = command.problem.partition(":")
        say(cards.say("problem", kind, detail))
    elif command.name == "help":  # the commands for coordinators; what they can do for others
        say(cards.say("help" if service.is_coordinator(sender) else "help_others"))
    elif not service.is_known(sender):
        say(cards.say("not_registered"))
    elif command.name in COORDINATORS_ONLY and not service.is_coordinator(sender):
        say(cards.say("coordinators_only", command.name))
    elif command.area or not is_cycle(command.period):
        # Teams posts a month's or quarter's digest; years and area scorecards are Slack's and
        # the CLI's so far (bot.commands parses them for both chats).
        say(cards.say("problem", "arguments"))
    else:
        now = bot.clock()
        cycle = parse_period(command.period) if command.period else reporting_period(
            london_date(now))  # fmt: skip
        label = period_label(cycle)
        if command.name == "status":
            report = service.status(cycle, now)
            names = {o: service.person_name(o) for o in report.outstanding}
            say(cards.status(report, label, names))
        elif command.name == "chase":
            owners = len(service.status(cycle, now).outstanding)
            if owners:
                say(cards.say("chasing", owners, label))
            result = bot.reach.chase(cycle, activity.get("id") or now.isoformat(), now)
            say(cards.say("chased", result, label))
        elif command.name == "digest":
            digest(bot, transport, command, cycle, say)
        else:
            measure(bot, transport, command, cycle, say)


def digest(bot: Host, transport: TeamsTransport, command: Command, cycle: Period, say: Say):
    cards = transport.cards
    if command.preview:
        say(cards.digest(bot.service.digest(cycle, bot.clock())))
    elif not transport.config.leadership_channel:
        say(cards.say("problem", "no_channel", ""))
    else:
        bot.reach.post_digest(cycle, bot.clock(), only=transport)
        say(cards.say("digest_posted", period_label(cycle)))


def measure(bot: Host, transport: TeamsTransport, command: Command, cycle: Period, say: Say):
    service = bot.service
    found = service.measure(command.measure_id)
    if found is None:
        say(transport.cards.say("problem", "no_measure", command.measure_id))
        return
    rows = {r["id"]: r for r in service.status(cycle, bot.clock()).measures}
    row = rows.get(found.id)
    latest = service.last_values([found.id]).get(found.id, ("", ""))
    shown = (f"{row['period']}: {row['display_value']}" if row and row["display_value"]
             else f"{latest[0]}: {latest[1]}" if latest[0] else "")  # fmt: skip
    owner = service.person_name(found.owner_email)
    deputy = service.person_name(found.deputy_email) if found.deputy_email else ""
    target = format_value(found.target, found.unit)
    say(transport.cards.say("measure", found, target, shown, owner, deputy))
