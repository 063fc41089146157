"""Slack payloads into pmbot's events: handlers work on these, never on raw Slack JSON.

A modal's fields and a typed DM both become `Submission`s. Their `source_ref` is built from the
payload alone (view id and what was typed; channel and message ts), so Slack delivering the
same payload twice stores nothing new.

>>> parse_command("digest 2026-10 preview")
Command(name='digest', period='2026-10', preview=True, measure_id='', problem='', area='')
>>> parse_command("digest 2026/27-Q2 --area Operational delivery").area
'Operational delivery'
>>> parse_command("measure od-01").measure_id
'OD-01'
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from bot.events import Submission
from bot.periods import InvalidPeriod, parse_period
from bot.spans import parse_span
from bot.values import MEASURE_ID_PATTERN, split_line

CALLBACK_ID = "submit_figures"
OPEN_ACTION = "open_submit"
VALUE, COMMENTARY = "value", "commentary"  # block id prefixes and action ids of modal inputs
COMMANDS = ("status", "chase", "digest", "measure", "help")


@dataclass(frozen=True)
class Command:
    """`/pm <name> [period] [preview] | measure ID`; `problem` says what was wrong, if anything."""

    name: str
    period: str = ""
    preview: bool = False
    measure_id: str = ""
    problem: str = ""
    area: str = ""  # `/pm digest [PERIOD] --area NAME`: one outcome area's scorecard


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
        rest, area = rest[:at], " ".join(rest[at + 1:])
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


def button_value(cycle: str, everything: bool = False) -> str:
    return json.dumps({"cycle": cycle, "all": everything})


def read_button(value: str | None) -> tuple[str | None, bool]:
    """(cycle, everything) from a Submit button's value; (None, False) if it is not ours."""
    try:
        data = json.loads(value or "{}")
    except ValueError:
        return None, False
    return (data.get("cycle"), bool(data.get("all"))) if isinstance(data, dict) else (None, False)


def field_fingerprint(value: str, commentary: str) -> str:
    return hashlib.sha1(f"{value.strip()}\0{commentary.strip()}".encode()).hexdigest()[:12]


def modal_metadata(cycle: str, prefilled: dict[str, tuple[str, str]]) -> str:
    """private_metadata: the cycle, and a fingerprint of each prefilled field, so that a
    correction modal sends only what the person changed."""
    initial = {mid: field_fingerprint(v, c) for mid, (v, c) in prefilled.items()}
    return json.dumps({"cycle": cycle, "initial": initial}, separators=(",", ":"))


def modal_submissions(view: dict[str, Any], sender: str, now: datetime) -> list[Submission]:
    """One Submission per measure whose value field was filled in (or changed)."""
    metadata = json.loads(view.get("private_metadata") or "{}")
    initial = metadata.get("initial", {})
    fields: dict[str, dict[str, str]] = {}
    for block_id, actions in view.get("state", {}).get("values", {}).items():
        kind, _, measure_id = block_id.partition(":")
        if kind in (VALUE, COMMENTARY) and measure_id:
            fields.setdefault(measure_id, {})[kind] = (actions.get(kind) or {}).get("value") or ""
    submissions = []
    for measure_id, given in fields.items():
        value, commentary = given.get(VALUE, "").strip(), given.get(COMMENTARY, "").strip()
        fingerprint = field_fingerprint(value, commentary)
        if not value or initial.get(measure_id) == fingerprint:
            continue
        submissions.append(
            Submission(
                measure_id=measure_id,
                raw_value=value,
                sender=sender,
                channel="slack",
                source_ref=f"slack:{view['id']}:{measure_id}:{fingerprint}",
                received_at=now,
                commentary=commentary,
                cycle=metadata.get("cycle"),
            )
        )
    return submissions


def dm_submissions(event: dict[str, Any], sender: str, now: datetime) -> list[Submission]:
    """One Submission per `OD-01: 48 ...` line of a direct message."""
    submissions = []
    for number, line in enumerate((event.get("text") or "").splitlines(), start=1):
        pair = split_line(line)
        if pair is None or not pair[1].strip():
            continue
        submissions.append(
            Submission(
                measure_id=pair[0],
                raw_value=pair[1],
                sender=sender,
                channel="slack",
                source_ref=f"slack:{event['channel']}:{event['ts']}#{number}",
                received_at=now,
            )
        )
    return submissions


def dm_key(event: dict[str, Any]) -> str:
    """The message's identity across Slack's redeliveries."""
    return f"slack:{event.get('channel', '')}:{event.get('ts', '')}"


def is_typed_dm(event: dict[str, Any]) -> bool:
    """A person's own new message in a DM with the bot (not an edit, a join or a bot)."""
    return (
        event.get("channel_type") == "im"
        and not event.get("subtype")
        and not event.get("bot_id")
        and bool(event.get("user"))
    )


def submission_key(view: dict[str, Any]) -> str:
    """The identity of one press of Submit: the view and exactly what it held."""
    values = json.dumps(view.get("state", {}).get("values", {}), sort_keys=True)
    return f"{view.get('id', '')}:{hashlib.sha1(values.encode()).hexdigest()[:12]}"


def modal_measure_ids(view: dict[str, Any]) -> tuple[list[str], bool]:
    """(the modal's measure ids in order, whether it was a correction form)."""
    ids = [
        block["block_id"].partition(":")[2]
        for block in view.get("blocks", [])
        if block.get("type") == "input" and block.get("block_id", "").startswith(f"{VALUE}:")
    ]
    metadata = json.loads(view.get("private_metadata") or "{}")
    return ids, bool(metadata.get("initial"))
