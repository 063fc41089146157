"""The text Slack's blocks carry, rendered from templates/slack/ (the blocks themselves are
bot.render.blocks, shared with the digest).

`Text` loads the two template files: ``messages.txt`` for mrkdwn, where every value printed is
escaped (``escape_mrkdwn``: ``&``, ``<``, ``>`` and ``@channel``/``@here``), and ``labels.txt``
for plain_text, which Slack shows as typed.
"""

from __future__ import annotations

from typing import Any

import jinja2

from bot.render.blocks import escape_mrkdwn
from bot.templating import as_typed, escaped_with


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
