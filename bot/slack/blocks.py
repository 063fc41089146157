"""Block Kit primitives and the text they carry, rendered from templates/slack/.

`Text` loads the two template files: ``messages.txt`` for mrkdwn, where every value printed is
escaped (``escape_mrkdwn``: ``&``, ``<``, ``>`` and ``@channel``/``@here``), and ``labels.txt``
for plain_text, which Slack shows as typed. The functions below build blocks within Slack's
limits (reference/slack.md §4), clipping rather than letting Slack refuse a message.

>>> section("*OD-01* 48 days")["text"]["verbatim"]
True
>>> len(button("x" * 100, "open_submit", "{}")["text"]["text"])
75
"""

from __future__ import annotations

from typing import Any

import jinja2

from bot.render.slack import escape_mrkdwn
from bot.templating import as_typed, escaped_with

MAX_SECTION = 3000
MAX_CONTEXT = 2000
MAX_HEADER = 150
MAX_BUTTON = 75
MAX_LABEL = 2000
MAX_MODAL_TEXT = 24
MAX_FALLBACK = 3000
MAX_MESSAGE_BLOCKS = 50
MAX_VIEW_BLOCKS = 100

Block = dict[str, Any]


class Text:
    """The template macros, as Python callables returning stripped strings.

    >>> from bot.render import environment
    >>> Text(environment()).mrkdwn("dm_help").startswith("I did not find")
    True
    """

    def __init__(self, env: jinja2.Environment) -> None:
        self.env = env
        mrkdwn_env = env.overlay(finalize=escaped_with(escape_mrkdwn))
        plain_env = env.overlay(finalize=as_typed)
        self._mrkdwn = mrkdwn_env.get_template("slack/messages.txt").module
        self._plain = plain_env.get_template("slack/labels.txt").module

    def mrkdwn(self, macro: str, *args: Any) -> str:
        return str(getattr(self._mrkdwn, macro)(*args)).strip()

    def plain(self, macro: str, *args: Any) -> str:
        return " ".join(str(getattr(self._plain, macro)(*args)).split())

    def outcome(self, outcome: Any) -> str:
        """What happened to one figure, as plain text (templates/outcomes.txt)."""
        return str(self.env.filters["outcome"](outcome))


def clip(text: str, limit: int) -> str:
    return text if len(text) <= limit else text[: limit - 1].rstrip() + "…"


def plain(text: str, limit: int = MAX_LABEL) -> dict[str, Any]:
    return {"type": "plain_text", "text": clip(text, limit), "emoji": True}


def mrkdwn(text: str, limit: int = MAX_SECTION) -> dict[str, Any]:
    # verbatim: Slack does not turn bare URLs, #channels or @names in it into links or pings.
    return {"type": "mrkdwn", "text": clip(text, limit), "verbatim": True}


def section(text: str) -> Block:
    return {"type": "section", "text": mrkdwn(text)}


def sections(lines: list[str], limit: int = MAX_SECTION) -> list[Block]:
    """Lines packed into as few sections as their 3,000-character limit allows."""
    blocks, chunk = [], ""
    for line in lines:
        candidate = f"{chunk}\n{line}" if chunk else line
        if chunk and len(candidate) > limit:
            blocks.append(section(chunk))
            candidate = line
        chunk = candidate
    if chunk:
        blocks.append(section(chunk))
    return blocks


def context(text: str) -> Block:
    return {"type": "context", "elements": [mrkdwn(text, MAX_CONTEXT)]}


def header(text: str) -> Block:
    return {"type": "header", "text": plain(text, MAX_HEADER)}


def divider() -> Block:
    return {"type": "divider"}


def button(text: str, action_id: str, value: str, style: str | None = None) -> dict[str, Any]:
    element = {
        "type": "button",
        "action_id": action_id,
        "value": value,
        "text": plain(text, MAX_BUTTON),
    }
    if style:
        element["style"] = style
    return element


def actions(*elements: dict[str, Any], block_id: str | None = None) -> Block:
    block: Block = {"type": "actions", "elements": list(elements)}
    if block_id:
        block["block_id"] = block_id
    return block


def text_input(
    block_id: str,
    action_id: str,
    label: str,
    *,
    hint: str = "",
    placeholder: str = "",
    initial: str = "",
    multiline: bool = False,
    optional: bool = True,
    max_length: int = 3000,
) -> Block:
    element: dict[str, Any] = {
        "type": "plain_text_input",
        "action_id": action_id,
        "multiline": multiline,
        "max_length": max_length,
    }
    if placeholder:
        element["placeholder"] = plain(placeholder, 150)
    if initial:
        element["initial_value"] = initial[:max_length]
    block: Block = {
        "type": "input",
        "block_id": block_id,
        "optional": optional,
        "label": plain(label),
        "element": element,
    }
    if hint:
        block["hint"] = plain(hint)
    return block


def message(fallback: str, blocks: list[Block]) -> dict[str, Any]:
    """What chat.postMessage, chat.update and respond() take: a fallback and the blocks."""
    return {"text": clip(fallback, MAX_FALLBACK), "blocks": blocks[:MAX_MESSAGE_BLOCKS]}


def simple(text: str) -> dict[str, Any]:
    """A one-section message whose fallback is the same text."""
    return message(text, [section(text)])
