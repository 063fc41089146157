"""Slack payloads into pmbot's events: handlers work on these, never on raw Slack JSON.

A modal's fields and a typed DM both become `Submission`s. Their `source_ref` is built from the
payload alone (view id and what was typed; channel and message ts), so Slack delivering the
same payload twice stores nothing new.
`/pm`'s text is parsed by the chat-neutral bot.commands, as Teams' typed commands are.
"""

from __future__ import annotations

import hashlib
import json
from datetime import datetime
from typing import Any

from bot.events import Submission
from bot.values import split_line

CALLBACK_ID = "submit_figures"
OPEN_ACTION = "open_submit"
VALUE, COMMENTARY = "value", "commentary"  # block id prefixes and action ids of modal inputs


SIGNOFF_APPROVE, SIGNOFF_QUERY = "signoff_approve", "signoff_query"  # buttons; the modal's id


def signoff_value(area: str, cycle: str) -> str:
    """The area and cycle a sign-off button or modal is about (its value, or private_metadata)."""
    return json.dumps({"area": area, "cycle": cycle}, separators=(",", ":"))


def read_signoff(value: str | None) -> tuple[str, str] | None:
    """(area, cycle) from a sign-off button or modal; None if it is not ours."""
    try:
        data = json.loads(value or "{}")
    except ValueError:
        return None
    if not isinstance(data, dict) or not data.get("area") or not data.get("cycle"):
        return None
    return str(data["area"]), str(data["cycle"])


def query_text(view: dict[str, Any]) -> str:
    """`QUERY ID question` lines from the sign-off query modal: one per question typed."""
    lines = []
    for block_id, fields in view.get("state", {}).get("values", {}).items():
        kind, _, measure_id = block_id.partition(":")
        question = ((fields.get(COMMENTARY) or {}).get("value") or "").strip()
        if kind == COMMENTARY and measure_id and question:
            lines.append(f"QUERY {measure_id} {' '.join(question.split())}")
    return "\n".join(lines)


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
