"""The coordinators' commands, whatever the chat: `status`, `chase`, `digest`, `measure ID`,
`help` (Slack's `/pm ...`, typed to the bot in Teams). Pure parsing; who may run which is
`COORDINATORS_ONLY` (anyone in the register may look a measure up; help is for everyone).

>>> parse_command("digest 2026-10 preview")
Command(name='digest', period='2026-10', preview=True, measure_id='', problem='', area='', text='')
>>> parse_command("digest 2026/27-Q2 --area Operational delivery").area
'Operational delivery'
>>> parse_command("measure od-01").measure_id
'OD-01'
>>> parse_command("chase 2026-13").problem
'period:2026-13'
"""

from __future__ import annotations

from dataclasses import dataclass

from bot.periods import InvalidPeriod, parse_period
from bot.spans import parse_span
from bot.values import MEASURE_ID_PATTERN

COMMANDS = ("status", "chase", "digest", "measure", "help")
COORDINATORS_ONLY = ("status", "chase", "digest")


@dataclass(frozen=True)
class Command:
    """`<name> [period] [preview] | measure ID`; `problem` says what was wrong, if anything
    ("unknown:<word>", "measure_id", "arguments", "period:<text>")."""

    name: str
    period: str = ""
    preview: bool = False
    measure_id: str = ""
    problem: str = ""
    area: str = ""  # `digest [PERIOD] --area NAME`: one outcome area's scorecard
    text: str = ""  # the rest of the line, for Slack's `mute` and `signoff`


def parse_command(text: str) -> Command:
    words = (text or "").split()
    name = words[0].lower() if words else "help"
    rest = words[1:]
    if name not in COMMANDS:
        return Command("help", problem=f"unknown:{name}")
    if name == "measure":
        if len(rest) != 1 or not MEASURE_ID_PATTERN.fullmatch(rest[0]):
            return Command(name, problem="measure_id")
        return Command(name, measure_id=rest[0].upper())
    preview = name == "digest" and "preview" in (w.lower() for w in rest)
    rest = [w for w in rest if not (name == "digest" and w.lower() == "preview")]
    area = ""
    if name == "digest" and "--area" in rest:
        at = rest.index("--area")
        rest, area = rest[:at], " ".join(rest[at + 1 :])
        if not area:
            return Command(name, problem="area")
    if len(rest) > 1 or (name == "help" and rest):
        return Command(name, problem="arguments")
    period = ""
    if rest:
        try:
            # A digest covers any span (a year, a financial-year quarter); the rest a cycle.
            period = str(parse_span(rest[0]) if name == "digest" else parse_period(rest[0]))
        except InvalidPeriod:
            return Command(name, problem=f"period:{rest[0]}")
    return Command(name, period=period, preview=preview, area=area)
