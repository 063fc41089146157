"""The digest as one Slack Block Kit message that fits one screen.

Completeness and exception counts; the most serious performance exceptions (value, target,
change, the owner's commentary); one line for the figures not yet in, naming their owners;
improvements and projected breaches; then RAG and SPC counts per outcome area, and a button to
the full pack (or a line saying it is attached). The wording is in
``templates/digest/slack.txt``; this module arranges it into blocks within Slack's limits.

Everything a user typed (commentary, reasons, names) goes through ``escape_mrkdwn``: the
template environment escapes every value it prints, and user text sits in ``verbatim`` mrkdwn.
The blocks are bot.render.blocks', as every other Slack message's.
"""

from __future__ import annotations

from collections import Counter
from functools import lru_cache
from typing import Any

import jinja2
from markupsafe import Markup

from bot.digest_model import EXCEPTION_REASONS, Digest, MeasureView
from bot.render import environment, front, owner_of
from bot.render.blocks import (
    clip,
    context,
    divider,
    escape_mrkdwn,
    header,
    link_button,
    message,
    section,
    shorten,
)
from bot.templating import escaped_with

# What keeps the message to one screen (Slack's own limits are bot.render.blocks').
TOP_AREAS = 10
TOP_EXCEPTIONS = 8
TOP_LIST = 5
TOP_OWNERS = 20  # named on the line of figures not yet in
# An owner's commentary quoted in the message: characters typed, then once escaped. Together
# with the caps above this keeps the whole message under ~12,000 characters, below the totals
# at which Slack answers msg_blocks_too_long.
MAX_COMMENTARY = 280
MAX_COMMENTARY_ESCAPED = 400
MAX_DIGEST_FALLBACK = 1000


@lru_cache(maxsize=4)
def _snippets(env: jinja2.Environment) -> Any:
    # An overlay with its own cache: the escaping is compiled into the templates it loads.
    overlay = env.overlay(finalize=escaped_with(escape_mrkdwn), cache_size=10)
    return overlay.get_template("digest/slack.txt").module


def slack_blocks(
    digest: Digest,
    pack_url: str | None = None,
    *,
    top: int = TOP_EXCEPTIONS,
    env: jinja2.Environment | None = None,
) -> dict[str, Any]:
    """The message as ``{"text": fallback, "blocks": [...]}`` for ``chat.postMessage``.

    Without a ``pack_url`` the message says the pack is attached (upload it with
    ``files_upload_v2`` in the same channel or thread). `env` is the bot's template
    environment (bot.templates); without it, the default templates.

    >>> from tests.digest_fixtures import small_digest
    >>> message = slack_blocks(small_digest(), "https://intranet.example/pack-2026-10.html")
    >>> message["blocks"][0]["text"]["text"], len(message["blocks"]) <= 50
    ('Performance digest: October 2026', True)
    """
    t = _snippets(env or environment())
    exceptions = digest.exceptions
    reasons = Counter(m.exception_reasons[0] for m in exceptions)
    ranked = [(r, reasons[r]) for r in EXCEPTION_REASONS if reasons[r]]
    first = front(digest)

    # The first screen: what a leader must act on, worst first; then the areas.
    blocks: list[dict[str, Any]] = [
        header(t.header(digest).strip()),
        _section(t.summary(digest, len(exceptions), ranked, len(digest.outstanding))),
    ]
    if first.performance:
        shown = first.performance[:top]
        blocks.append(_section(t.exceptions_heading(len(first.performance), len(shown))))
        blocks += [_section(_exception_text(m, t)) for m in shown]
        if len(first.performance) > len(shown):
            blocks.append(context(t.more_exceptions(len(first.performance) - len(shown)).strip()))
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
    blocks += [divider(), _area_section(digest, t), context(t.legend().strip()), divider()]
    blocks.append(_pack_block(pack_url, t))
    return message(t.fallback(digest, len(exceptions)), blocks, MAX_DIGEST_FALLBACK)


def _exception_text(measure: MeasureView, t: Any) -> str:
    typed = shorten(" ".join(measure.commentary.split()), MAX_COMMENTARY)
    # Escaped here so that it can be cut to length as it will be sent; Markup: not twice.
    commentary = Markup(clip(escape_mrkdwn(typed), MAX_COMMENTARY_ESCAPED))
    yoy = next((y for y in measure.year_on_year if y.years_ago == 1 and y.change is not None), None)
    return t.exception(measure, commentary, yoy, owner_of(measure))


def _area_section(digest: Digest, t: Any) -> dict[str, Any]:
    """One line per outcome area; beyond ``TOP_AREAS`` they are left to the pack."""
    lines = [t.areas_heading().strip()] + [
        t.area(a, digest.signoff.get(a.area, "")).strip() for a in digest.areas[:TOP_AREAS]
    ]
    if len(digest.areas) > TOP_AREAS:
        lines.append(t.more_areas(len(digest.areas) - TOP_AREAS).strip())
    return _section("\n".join(lines))


def _listing(macro: Any, measures: list[MeasureView]) -> str:
    shown = measures[:TOP_LIST]
    return macro(shown, len(measures) - len(shown))


def _pack_block(pack_url: str | None, t: Any) -> dict[str, Any]:
    button = link_button(t.pack_button().strip(), "open_pack", pack_url or "")
    if button is None:
        return _section(t.pack(False))
    return {**_section(t.pack(True)), "accessory": button}


def _section(text: str) -> dict[str, Any]:
    return section(text.strip())
