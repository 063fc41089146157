"""The digest as one Slack Block Kit message that fits one screen.

Completeness and exception counts; the most serious performance exceptions (value, target,
change, the owner's commentary); one line for the figures not yet in, naming their owners;
improvements and projected breaches; then RAG and SPC counts per outcome area, and a button to
the full pack (or a line saying it is attached). The wording is in
``templates/digest/slack.txt``; this module arranges it into blocks within Slack's limits.

Everything a user typed (commentary, reasons, names) goes through ``escape_mrkdwn``: the
template environment escapes every value it prints, and user text sits in ``verbatim`` mrkdwn.

>>> escape_mrkdwn("<!channel> Q&A @here")
'&lt;!channel&gt; Q&amp;A @\\u200bhere'
"""

from __future__ import annotations

import re
from collections import Counter
from functools import lru_cache
from typing import Any

import jinja2
from markupsafe import Markup

from bot.digest_model import EXCEPTION_REASONS, Digest, MeasureView
from bot.render import environment, front, owner_of

# Slack's limits (reference/slack.md §4) and what keeps the message to one screen.
MAX_BLOCKS = 50
MAX_SECTION_TEXT = 3000
MAX_HEADER_TEXT = 150
MAX_BUTTON_URL = 3000
TOP_AREAS = 10
TOP_EXCEPTIONS = 8
TOP_LIST = 5
TOP_OWNERS = 20  # named on the line of figures not yet in
# An owner's commentary quoted in the message: characters typed, then once escaped. Together
# with the caps above this keeps the whole message under ~12,000 characters, below the totals
# at which Slack answers msg_blocks_too_long.
MAX_COMMENTARY = 280
MAX_COMMENTARY_ESCAPED = 400
MAX_FALLBACK = 1000

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


def _finalize(value: Any) -> str:
    """Jinja finalize: every printed value is escaped, except text this module marked safe."""
    if value is None:
        return ""
    return value if isinstance(value, Markup) else escape_mrkdwn(str(value))


@lru_cache(maxsize=1)
def _snippets() -> Any:
    # An overlay with its own cache: the escaping is compiled into the templates it loads.
    env: jinja2.Environment = environment().overlay(finalize=_finalize, cache_size=10)
    return env.get_template("digest/slack.txt").module


def slack_blocks(
    digest: Digest, pack_url: str | None = None, *, top: int = TOP_EXCEPTIONS
) -> dict[str, Any]:
    """The message as ``{"text": fallback, "blocks": [...]}`` for ``chat.postMessage``.

    Without a ``pack_url`` the message says the pack is attached (upload it with
    ``files_upload_v2`` in the same channel or thread).

    >>> from tests.digest_fixtures import small_digest
    >>> message = slack_blocks(small_digest(), "https://intranet.example/pack-2026-10.html")
    >>> message["blocks"][0]["text"]["text"], len(message["blocks"]) <= MAX_BLOCKS
    ('Performance digest: October 2026', True)
    """
    t = _snippets()
    exceptions = digest.exceptions
    reasons = Counter(m.exception_reasons[0] for m in exceptions)
    ranked = [(r, reasons[r]) for r in EXCEPTION_REASONS if reasons[r]]
    first = front(digest)

    # The first screen: what a leader must act on, worst first; then the areas.
    blocks: list[dict[str, Any]] = [
        {"type": "header", "text": _plain(t.header(digest), MAX_HEADER_TEXT)},
        _section(t.summary(digest, len(exceptions), ranked, len(digest.outstanding))),
    ]
    if first.performance:
        shown = first.performance[:top]
        blocks.append(_section(t.exceptions_heading(len(first.performance), len(shown))))
        blocks += [_section(_exception_text(m, t)) for m in shown]
        if len(first.performance) > len(shown):
            blocks.append(_context(t.more_exceptions(len(first.performance) - len(shown))))
    else:
        blocks.append(_section(t.no_exceptions()))
    if first.waiting:
        waiting = first.waiting[:TOP_OWNERS]
        blocks.append(_section(t.not_in(first.not_in, len(first.waiting), waiting,
                                        len(first.waiting) - len(waiting))))  # fmt: skip
    if first.improvements:
        blocks.append(_section(_listing(t.improvements, first.improvements)))
    if first.breaches:
        blocks.append(_section(_listing(t.breaches, first.breaches)))
    blocks += [{"type": "divider"}, _area_section(digest, t), _context(t.legend())]
    blocks.append({"type": "divider"})
    blocks.append(_pack_block(pack_url, t))
    return {"text": _clip(t.fallback(digest, len(exceptions)), MAX_FALLBACK), "blocks": blocks}


def _exception_text(measure: MeasureView, t: Any) -> str:
    typed = _shorten(" ".join(measure.commentary.split()), MAX_COMMENTARY)
    # Escaped here so that it can be cut to length as it will be sent; Markup: not twice.
    commentary = Markup(_clip(escape_mrkdwn(typed), MAX_COMMENTARY_ESCAPED))
    yoy = next((y for y in measure.year_on_year if y.years_ago == 1 and y.change is not None), None)
    return t.exception(measure, commentary, yoy, owner_of(measure))


def _area_section(digest: Digest, t: Any) -> dict[str, Any]:
    """One line per outcome area; beyond ``TOP_AREAS`` they are left to the pack."""
    lines = [t.areas_heading().strip()] + [t.area(a).strip() for a in digest.areas[:TOP_AREAS]]
    if len(digest.areas) > TOP_AREAS:
        lines.append(t.more_areas(len(digest.areas) - TOP_AREAS).strip())
    return _section("\n".join(lines))


def _listing(macro: Any, measures: list[MeasureView]) -> str:
    shown = measures[:TOP_LIST]
    return macro(shown, len(measures) - len(shown))


def _pack_block(pack_url: str | None, t: Any) -> dict[str, Any]:
    url = (pack_url or "").strip()
    if not (url.startswith(("https://", "http://")) and len(url) <= MAX_BUTTON_URL):
        return _section(t.pack(False))
    block = _section(t.pack(True))
    block["accessory"] = {
        "type": "button",
        "action_id": "open_pack",
        "text": _plain(t.pack_button(), 75),
        "url": url,  # a JSON string field, not mrkdwn: no escaping needed or wanted
    }
    return block


def _section(text: str) -> dict[str, Any]:
    # verbatim: Slack must not turn owners' text into links or mentions on its own.
    text = _clip(text.strip(), MAX_SECTION_TEXT)
    return {"type": "section", "text": {"type": "mrkdwn", "text": text, "verbatim": True}}


def _context(text: str) -> dict[str, Any]:
    element = {"type": "mrkdwn", "text": _clip(text.strip(), 2000), "verbatim": True}
    return {"type": "context", "elements": [element]}


def _plain(text: str, limit: int) -> dict[str, Any]:
    return {"type": "plain_text", "text": _clip(text.strip(), limit), "emoji": True}


def _shorten(text: str, limit: int) -> str:
    """Raw text cut at a word, before escaping: ``_shorten("a b c", 4) == "a b…"``."""
    if len(text) <= limit:
        return text
    cut = text[: limit - 1].rsplit(" ", 1)[0] if " " in text[: limit - 1] else text[: limit - 1]
    return cut + "…"


def _clip(text: str, limit: int) -> str:
    """Escaped text cut to ``limit`` characters without leaving half an ``&amp;``."""
    if len(text) <= limit:
        return text
    cut = text[: limit - 1]
    amp = cut.rfind("&")
    if amp != -1 and ";" not in cut[amp:]:
        cut = cut[:amp]
    return cut + "…"
