"""Answers typed into the quoted prompt ("see below"), found by comparing the quoted text with
the prompt pmbot actually sent. Pure: no I/O.

Outlook users often answer inline: they reply, write "see below", and type each figure after
its id in the quoted prompt. Quote stripping rightly drops that part, so when the new text has
no answers, the quoted prompt is lined up with the sent one and only the answer lines the
owner changed count; every line they left as it was is ignored.
"""

from __future__ import annotations

import re
from difflib import SequenceMatcher

from bot.values import split_line

MAX_LINES = 2000  # a prompt lists an owner's measures; comparing more would cost for nothing


def answers_typed_into(reply_text: str, prompt_text: str) -> list[str]:
    """Lines of `reply_text` that fill in a blank answer line ('OD-01: ') of `prompt_text`.

    >>> sent = "Dear Jo,\\nOD-01: \\nOD-02: "
    >>> answers_typed_into("see below\\n> Dear Jo,\\n> OD-01: 48\\n> OD-02: ", sent)
    ['OD-01: 48']
    """
    prompt = [_normal(line) for line in prompt_text.splitlines()[:MAX_LINES]]
    reply = [_normal(line) for line in reply_text.splitlines()[:MAX_LINES]]
    matcher = SequenceMatcher(None, prompt, reply, autojunk=False)
    unchanged = sum(size for *_, size in matcher.get_matching_blocks())
    if unchanged * 2 < sum(map(bool, prompt)):
        return []  # most of the prompt is not there: this is not the prompt, quoted
    typed: list[str] = []
    for tag, i1, i2, j1, j2 in matcher.get_opcodes():
        if tag != "replace" or i2 - i1 != j2 - j1:
            continue
        # Line for line: each changed line must be the blank answer line for the same measure.
        for sent, line in zip(prompt[i1:i2], reply[j1:j2], strict=True):
            blank, answer = split_line(sent), split_line(line)
            if blank and answer and not blank[1] and answer[1] and blank[0] == answer[0]:
                typed.append(line)
    return typed


def _normal(line: str) -> str:
    """A line without quote marks and with its spaces collapsed."""
    return " ".join(re.sub(r"^(\s*>)+", "", line).split())
