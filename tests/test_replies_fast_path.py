"""Reading a reply: lines the cheap first look keeps as typed are lines no quote check takes."""

from __future__ import annotations

import re
from unittest import mock

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from bot.mail import replies

# The words the checks look for, in other cases and with the characters that match a letter
# only when case is ignored (long s, Kelvin sign, dotted and dotless i), tags, quote marks,
# colons and the many kinds of white space.
PIECES = st.sampled_from([
    "from", "FROM", "von", "de", "van", "da", "från", "fra", "od", "OD-01", ":", " :", "on",
    "On", "am", "le", "el", "op", "il", "em", "den", "sent", "ſent", "Sent from my", " with ",
    "get outlook for ", "von meinem X gesendet", "gesendet von outlook", "envoyé de mon",
    "ENVOYÉ DE OUTLOOK", "enviado desde mi", "verzonden met ", "verstuurd vanaf ", "K", "İ",
    "ı", "<", ">", "<a href=x>", "</b>", "-", "--", "*", "_", " ", "\t", "\xa0", "\u2003",
    "\x0b", "\x1c", "\u3000", "wrote", "schrieb", "Mon 3 Nov 2026", "09:12", "Jane",
    "bot@x.example", "<bot@x.example>", "Original Message", "48", "reply 5", "Thanks",
    "From: Bot", "Von: Bot", "*De :* Bot", "Sent: Monday", "To: Jane", "Betreff: Zahlen",
])
LINES = st.lists(PIECES, max_size=10).map("".join)


@settings(max_examples=3000, deadline=None, suppress_health_check=list(HealthCheck))
@given(LINES | st.text(max_size=60), st.lists(LINES, max_size=5))
def test_a_line_the_first_look_keeps_is_one_no_check_would_take(line, following):
    if line.rstrip().endswith(":") or "<" in line or replies._MAYBE_MARKER.match(line):
        return  # the first look leaves it to the checks
    lines = [line, *following]
    assert not replies._is_separator(line)
    assert not replies._starts_header_block(lines, 0)
    assert replies._attribution_size(lines, 0) == 0
    assert not line.lstrip().startswith(">")
    assert not replies._is_mobile_signature(line)


@settings(max_examples=1000, deadline=None, suppress_health_check=list(HealthCheck))
@given(st.lists(LINES, max_size=12).map("\n".join))
def test_a_reply_reads_the_same_with_or_without_the_first_look(text):
    fast = replies.strip_quoted(text)
    with mock.patch.object(replies, "_MAYBE_MARKER", re.compile("")):  # every line checked
        assert replies.strip_quoted(text) == fast


def test_an_attribution_wrapped_over_lines_is_checked_whatever_its_first_word():
    for word in ("on", "am", "le", "el", "op", "il", "em", "den", "On", "DEN"):
        text = f"OD-01: 4\n{word} Mon 3 Nov 2026 09:12\nJane <bot@x.example> wrote:\nOD-01: 12"
        assert replies.strip_quoted(text) == "OD-01: 4", word


def test_a_header_block_is_checked_whatever_its_first_word():
    for word in ("From", "von", "De", "van", "da", "Från", "fra", "od", "*From", " FROM"):
        text = f"OD-01: 4\n{word}: Bot\nSent: Monday\nTo: Jane\nOD-01: 12"
        assert replies.strip_quoted(text) == "OD-01: 4", word
