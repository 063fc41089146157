"""Composing pmbot's mail: the cheaper header writer gives the very bytes compat32 gives."""

from __future__ import annotations

import os
import shutil
from datetime import datetime
from email.policy import compat32
from pathlib import Path

from hypothesis import given, settings
from hypothesis import strategies as st

from bot.mail.compose import PLAIN_HEADERS, Composer
from bot.periods import LONDON
from bot.templating import make_environment

TEMPLATES = Path(__file__).resolve().parent.parent / "templates"

NAMES = st.sampled_from(["Subject", "To", "References", "In-Reply-To", "X-PMBot", "Message-ID"])
# Mostly what real headers hold, with the awkward cases (spaces, tabs, line breaks, non-ASCII,
# encoded words, colons) often enough to matter; lengths either side of a 78-character line.
TEXT = st.lists(
    st.sampled_from([
        *"ab<>@.-_=?:;,()\"'", "word", "<1234.reply@client.example>", " ", "  ", "\t", "\n",
        "\r\n", "\u00e9", "\x01", "<176521234567.12345.1234567890123.confirmation@x.example>",
    ]),
    max_size=60,
).map("".join)


@settings(max_examples=1500, deadline=None)
@given(NAMES, TEXT)
def test_a_header_is_written_exactly_as_compat32_writes_it(name, value):
    for linesep in ("\n", "\r\n"):
        fast, slow = PLAIN_HEADERS.clone(linesep=linesep), compat32.clone(linesep=linesep)
        try:
            expected = slow.fold_binary(name, value)
        except Exception as exc:  # noqa: BLE001 - whatever compat32 refuses, the fast one must too
            try:
                fast.fold_binary(name, value)
            except type(exc):
                continue
            raise AssertionError(f"compat32 refused {value!r}, the fast path did not") from exc
        assert fast.fold_binary(name, value) == expected
        assert fast.fold(name, value) == slow.fold(name, value)


# Long runs of words such as a References header of Message-IDs: lines folded at spaces.
WORDS = st.lists(
    st.one_of(
        st.sampled_from(["<1234.reply@client.example>", "a", "Re:", "[ref]",
                         "<176521234567.12345.1234567890123.confirmation@x.example>"]),
        st.text(st.characters(min_codepoint=33, max_codepoint=126), min_size=1, max_size=90),
    ),
    min_size=1,
    max_size=12,
).map(" ".join)  # fmt: skip


@settings(max_examples=1500, deadline=None)
@given(NAMES, WORDS, st.sampled_from([78, 40, 100]))
def test_a_long_header_of_words_folds_where_compat32_folds_it(name, value, limit):
    for linesep in ("\n", "\r\n"):
        fast = PLAIN_HEADERS.clone(linesep=linesep, max_line_length=limit)
        slow = compat32.clone(linesep=linesep, max_line_length=limit)
        assert fast.fold_binary(name, value) == slow.fold_binary(name, value)


def test_a_message_serialises_to_the_same_bytes_under_compat32(tmp_path):
    composer = Composer(make_environment(TEMPLATES), "pmbot@agency.example", "agency.example")
    now = datetime(2026, 11, 3, 11, tzinfo=LONDON)
    long_subject = "Re: Figures for October 2026 " + "with a subject long enough to fold " * 3
    for subject in ("Re: Figures for October 2026 [ref]", long_subject, "Re: Chiffres d'octobre é"):
        message = composer.new_message(
            "confirmation", "Owner É <owner@agency.example>", subject, now,
            "OD-01: 48 stored\n", "<p>OD-01: 48 stored</p>\n",
        )  # fmt: skip
        message["References"] = " ".join(f"<{n}.reply@client.example>" for n in range(8))
        assert message.as_bytes() == message.as_bytes(policy=compat32)
        assert message.as_string() == message.as_string(policy=compat32)


@settings(max_examples=200, deadline=None)
@given(st.text(max_size=300), st.text(max_size=300))
def test_a_message_is_built_as_the_stdlib_mime_classes_build_it(text, html):
    from email.mime.multipart import MIMEMultipart
    from email.mime.text import MIMEText

    composer = Composer(make_environment(TEMPLATES), "pmbot@agency.example", "agency.example")
    now = datetime(2026, 11, 3, 11, tzinfo=LONDON)
    ours = composer.new_message("confirmation", "owner@agency.example", "Re: x", now, text, html)
    boundary = ours.get_boundary()
    theirs = MIMEMultipart("alternative", boundary=boundary)
    theirs.attach(MIMEText(text, "plain", "utf-8"))
    theirs.attach(MIMEText(html, "html", "utf-8"))
    for name, value in list(ours.items())[2:]:  # past Content-Type and MIME-Version
        theirs[name] = value
    assert ours.as_bytes() == theirs.as_bytes()
    assert [p.get_payload(decode=True) for p in ours.get_payload()] == [
        text.encode("utf-8"), html.encode("utf-8")
    ]


@settings(max_examples=300, deadline=None)
@given(st.binary(max_size=3000))
def test_a_body_is_base64_encoded_as_the_stdlib_encodes_it(data):
    from email.base64mime import body_encode

    from bot.mail.compose import base64_lines

    assert base64_lines(data) == body_encode(data)


def test_a_confirmation_says_why_leaders_will_see_a_stored_figure_as_an_exception(tmp_path):
    from email import message_from_bytes

    from bot.events import Outcome

    # The templates directory is a copy, so that editing its labels shows in the next answer.
    templates = tmp_path / "templates"
    shutil.copytree(TEMPLATES, templates)
    composer = Composer(make_environment(templates), "pmbot@agency.example", "agency.example")
    now = datetime(2026, 11, 3, 11, tzinfo=LONDON)
    original = message_from_bytes(b"From: owner@agency.example\nSubject: Figures\n\nOD-01: 9\n")
    stored = Outcome("OD-01", True, "stored", period="2026-10", display_value="9",
                     status="amber", reasons=("special_cause_concern", "improving"))  # fmt: skip

    def bodies() -> list[str]:
        message = composer.confirmation(original, "owner@agency.example", [stored], now)
        return [part.get_payload(decode=True).decode() for part in message.get_payload()]

    for body in bodies():
        assert ("amber, shown to leaders as an exception: special cause: concern; "
                "improving, still short of target") in body  # fmt: skip
    labels = templates / "digest" / "labels.txt"
    labels.write_text(labels.read_text().replace('"special cause: concern"', '"unusual: worse"'))
    os.utime(labels, (labels.stat().st_mtime + 5,) * 2)  # a later edit, whatever the clock
    assert all("exception: unusual: worse; improving" in body for body in bodies())


def test_a_composed_body_is_the_text_the_template_renders(tmp_path):
    from bot.render import environment

    templates = tmp_path / "templates"
    shutil.copytree(TEMPLATES, templates)
    (templates / "body.txt").write_text(
        "{% for n in range(2) %}{{ n }} {{ STATUS.green }} {{ own }} {{ who }}\n{% endfor %}"
        "{% set hidden = 1 %}{{ zip([1], [2]) | list }} {{ REASON.get('red') }}\n"
    )
    env = environment(templates)
    composer = Composer(env, "pmbot@agency.example", "agency.example")
    env.get_template("body.txt", globals={"own": "template's own", "who": "global"})
    for context in ({"who": "Jane"}, {"who": "<Jane>", "STATUS": {"green": "shadowed"}}):
        expected = env.get_template("body.txt").render(**context)
        assert composer.render("body.txt", **context) == expected
        assert "template's own" in expected


def test_within_checked_once_a_template_is_read_as_it_was_at_its_first_use(tmp_path):
    from bot.templating import checked_once

    (tmp_path / "note.txt").write_text("first")
    env = make_environment(tmp_path)

    def edit(words: str) -> None:
        note = tmp_path / "note.txt"
        mtime = note.stat().st_mtime
        note.write_text(words)
        os.utime(note, (mtime + 5,) * 2)  # a later edit, whatever the clock

    with checked_once(env):
        assert env.get_template("note.txt").render() == "first"
        edit("second")
        assert env.get_template("note.txt").render() == "first", "one poll, one wording"
    assert env.get_template("note.txt").render() == "second"
    edit("third")
    assert env.get_template("note.txt").render() == "third", "outside, every render checks"


def test_an_edit_to_an_imported_template_is_used_from_the_next_render(tmp_path):
    from bot.templating import checked_once

    (tmp_path / "outer.txt").write_text('{% import "inner.txt" as inner %}{% macro say() %}'
                                        '{{ inner.word() }}{% endmacro %}')  # fmt: skip
    (tmp_path / "inner.txt").write_text('{% from "deep.txt" import WORD %}'
                                        '{% macro word() %}{{ WORD }}{% endmacro %}')  # fmt: skip
    (tmp_path / "deep.txt").write_text('{% set WORD = "first" %}')
    env = make_environment(tmp_path)

    def said() -> str:
        return str(env.get_template("outer.txt").module.say())  # as the outcome filter reads

    def edit(name: str, words: str) -> None:
        path = tmp_path / name
        mtime = path.stat().st_mtime
        path.write_text(words)
        os.utime(path, (mtime + 5,) * 2)  # a later edit, whatever the clock

    assert said() == "first"
    edit("deep.txt", '{% set WORD = "second" %}')  # two imports down
    assert said() == "second"
    with checked_once(env):
        assert said() == "second"
        edit("deep.txt", '{% set WORD = "third" %}')
        assert said() == "second", "one poll, one wording"
    with checked_once(env):
        assert said() == "third", "the next poll, the new one"


def test_a_refusal_is_worded_by_the_templates_as_they_are_in_each_poll(tmp_path):
    from bot.events import Outcome
    from bot.templating import checked_once

    templates = tmp_path / "templates"
    shutil.copytree(TEMPLATES, templates)
    env = make_environment(templates)
    said = env.filters["outcome"]
    unknown = Outcome("OD-99", False, "unknown_measure")
    # Equal to the first (params are not compared), but another figure: its own sentence.
    repeated = Outcome("OD-01", False, "not_first", {"value": "12", "first": "4"})
    again = Outcome("OD-01", False, "not_first", {"value": "13", "first": "4"})
    outcomes = templates / "outcomes.txt"

    def edit(old: str, new: str) -> None:
        mtime = outcomes.stat().st_mtime
        outcomes.write_text(outcomes.read_text().replace(old, new))
        os.utime(outcomes, (mtime + 5,) * 2)  # a later edit, whatever the clock

    with checked_once(env):
        first = said(unknown)
        assert first == "OD-99 is not a measure in the register; check the id"
        assert "'12' further down" in said(repeated) and "'13' further down" in said(again)
        edit("is not a measure", "is no measure")
        assert said(unknown) == first, "one poll, one wording"
    with checked_once(env):
        assert said(unknown).startswith("OD-99 is no measure"), "the next poll, the new one"
    edit("is no measure", "is not in the register")
    assert said(unknown).startswith("OD-99 is not in the register"), "outside a poll, each time"


def test_a_template_error_points_at_the_template_line(tmp_path):
    import traceback

    import jinja2
    import pytest

    (tmp_path / "bad.txt").write_text("Hello {{ who }}\n{{ missing.attribute }}\n")
    composer = Composer(make_environment(tmp_path), "pmbot@agency.example", "agency.example")
    with pytest.raises(jinja2.UndefinedError) as raised:
        composer.render("bad.txt", who="Jane")
    frames = traceback.extract_tb(raised.value.__traceback__)
    assert any(f.filename.endswith("bad.txt") and f.lineno == 2 for f in frames)


def test_a_confirmation_lists_every_reason_for_an_exception_once_in_order():
    from email import message_from_bytes

    from bot.events import Outcome

    composer = Composer(make_environment(TEMPLATES), "pmbot@agency.example", "agency.example")
    now = datetime(2026, 11, 3, 11, tzinfo=LONDON)
    original = message_from_bytes(b"From: owner@agency.example\nSubject: Figures\n\nOD-01: 9\n")
    outcomes = [
        Outcome("OD-01", True, "stored", period="2026-10", display_value="9", status="red"),
        Outcome("OD-02", True, "stored", period="2026-10", display_value="8", status="amber",
                reasons=("improving",)),
        Outcome("OD-03", True, "stored", period="2026-10", display_value="7", status="green",
                reasons=("special_cause_concern", "consistently_failing", "odd_code")),
        Outcome("OD-04", True, "stored", period="2026-10", display_value="6", status="green"),
    ]  # fmt: skip
    message = composer.confirmation(original, "owner@agency.example", outcomes, now)
    text, html = (part.get_payload(decode=True).decode() for part in message.get_payload())
    expected = [
        "OD-01 2026-10: 9 (red, shown to leaders as an exception: red against target)",
        "OD-02 2026-10: 8 (amber, shown to leaders as an exception: improving, still short of "
        "target)",
        "OD-03 2026-10: 7 (green, shown to leaders as an exception: special cause: concern; "
        "consistently failing target; odd_code)",
        "OD-04 2026-10: 6 (green)",
    ]
    assert [line.strip() for line in text.splitlines() if line.startswith("  OD")] == expected
    for line in expected:
        assert line.split(" (", 1)[1].rstrip(")") in html
