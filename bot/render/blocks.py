"""Slack Block Kit, the one set of helpers: escaping for mrkdwn and blocks built within Slack's
limits (reference/slack.md §4), clipping rather than letting Slack refuse a message. The digest
(bot.render.slack) and every other Slack surface (bot.slack.views) are built from these. Pure
dicts: no Slack SDK here.

>>> section("*OD-01* 48 days")["text"]["verbatim"]
True
>>> len(button("x" * 100, "open_submit", "{}")["text"]["text"])
75
>>> escape_mrkdwn("<!channel> Q&A @here")
'&lt;!channel&gt; Q&amp;A @\\u200bhere'
"""

from __future__ import annotations

import re
from typing import Any

MAX_SECTION = 3000
MAX_CONTEXT = 2000
MAX_HEADER = 150
MAX_BUTTON = 75
MAX_BUTTON_URL = 3000
MAX_LABEL = 2000
MAX_MODAL_TEXT = 24
MAX_FALLBACK = 3000
MAX_MESSAGE_BLOCKS = 50
MAX_VIEW_BLOCKS = 100

Block = dict[str, Any]
_BROADCAST = re.compile(r"(?i)@(channel|here|everyone)\b")


def escape_mrkdwn(text: str) -> str:
    """Make user text inert in Slack mrkdwn.

    ``&``, ``<`` and ``>`` become entities, so ``<!channel>``, ``<@U123>`` and
    ``<https://evil|click>`` show as typed instead of pinging or linking; a zero-width space
    after the ``@`` of a bare ``@channel``, ``@here`` or ``@everyone`` keeps it from notifying.

    >>> escape_mrkdwn("<https://evil|click> & @Channel")
    '&lt;https://evil|click&gt; &amp; @\\u200bChannel'
    """
    text = text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")
    return _BROADCAST.sub("@\u200b\\1", text)


def clip(text: str, limit: int) -> str:
    """Text cut to ``limit`` characters without leaving half an ``&amp;``.

    >>> clip("Q &amp; A", 5)
    'Q…'
    """
    if len(text) <= limit:
        return text
    cut = text[: limit - 1]
    amp = cut.rfind("&")
    if amp != -1 and ";" not in cut[amp:]:
        cut = cut[:amp]
    return cut.rstrip() + "…"


def shorten(text: str, limit: int) -> str:
    """Raw text cut at a word, before escaping: ``shorten("a b c", 4) == "a b…"``."""
    if len(text) <= limit:
        return text
    cut = text[: limit - 1].rsplit(" ", 1)[0] if " " in text[: limit - 1] else text[: limit - 1]
    return cut + "…"


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


def link_button(text: str, action_id: str, url: str) -> dict[str, Any] | None:
    """A button opening ``url``; None when it is not an http(s) address Slack would take."""
    url = url.strip()
    if not (url.startswith(("https://", "http://")) and len(url) <= MAX_BUTTON_URL):
        return None
    # url is a JSON string field, not mrkdwn: no escaping needed or wanted.
    return {"type": "button", "action_id": action_id, "text": plain(text, MAX_BUTTON), "url": url}


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


def message(fallback: str, blocks: list[Block], limit: int = MAX_FALLBACK) -> dict[str, Any]:
    """What chat.postMessage, chat.update and respond() take: a fallback and the blocks."""
    return {"text": clip(fallback, limit), "blocks": blocks[:MAX_MESSAGE_BLOCKS]}


def simple(text: str) -> dict[str, Any]:
    """A one-section message whose fallback is the same text."""
    return message(text, [section(text)])
