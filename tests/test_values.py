"""Tests for bot.values: what owners may type as a value, and what they are told when refused."""

import doctest
import math
import re

import pytest
from hypothesis import example, given
from hypothesis import strategies as st

from bot import values
from bot.settings import PROJECT_ROOT
from bot.templating import make_environment, value_refusal
from bot.values import (
    MAX_COMMENTARY,
    MEASURE_ID_PATTERN,
    UNITS,
    Entry,
    InvalidValue,
    format_value,
    parse_entry,
    split_line,
)

WORDS = make_environment(PROJECT_ROOT / "templates")


def said(refused: pytest.ExceptionInfo[InvalidValue]) -> str:
    """What the owner reads: the refusal's code and params, worded by templates/values.txt."""
    return value_refusal(WORDS, refused.value.code, refused.value.params)


def test_module_docstring_examples_hold():
    assert doctest.testmod(values).failed == 0


# --- measure ids -------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "measure_id",
    ["OD-01", "BT-3", "RES-12", "ITSM-04", "A-1", "A1B2C3-9999", "SC-00297", "KPI-1.2", "CS_01",
     "NI195", "PI-CS-001", "OD01", "ABCDEFG-01", "OD-12345", "OD_01", "A/B-2", "A" * 19 + "1"],
)  # fmt: skip
def test_measure_id_pattern_accepts_ids_as_registers_write_them(measure_id):
    assert MEASURE_ID_PATTERN.fullmatch(measure_id)


@pytest.mark.parametrize(
    "text",
    ["1D-01", "OD-", "-01", "OD", "Note", "OD 01", "OD-01.", "OD:01", "A" * 20 + "1",
     "\u212aD-01", "OD-٠١"],
)  # fmt: skip
def test_measure_id_pattern_refuses_malformed_ids(text):
    assert MEASURE_ID_PATTERN.fullmatch(text) is None


# --- split_line --------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("line", "expected"),
    [
        ("OD-01: 48 backlog down", ("OD-01", "48 backlog down")),
        ("od-01: 48", ("OD-01", "48")),
        ("* OD-01: 48", ("OD-01", "48")),
        ("- od-01 : 48", ("OD-01", "48")),
        ("\u2022 BT-3: 4", ("BT-3", "4")),
        ("1. RES-12: 5", ("RES-12", "5")),
        ("  \tITSM-04: 7", ("ITSM-04", "7")),
        ("*OD-01*: 48", ("OD-01", "48")),
        ("OD-01 = 48", ("OD-01", "48")),
        ("OD-01=48", ("OD-01", "48")),
        ("OD-01 - 48", ("OD-01", "48")),
        ("OD-01 \u2013 48", ("OD-01", "48")),
        ("OD-01 - -3", ("OD-01", "-3")),
        ("OD-01: 48   ", ("OD-01", "48")),
        ("OD-01: 48\r\n", ("OD-01", "48")),
        ("\u00a0OD-01:\u00a048\u00a0", ("OD-01", "48")),
        ("\ufeffOD-01: 48", ("OD-01", "48")),
        ("OD-01: n/a - system outage", ("OD-01", "n/a - system outage")),
        ("OD-01: 48\nOD-02: 50", ("OD-01", "48")),
    ],
)
def test_answer_lines_are_split_into_upper_case_id_and_text(line, expected):
    assert split_line(line) == expected


@pytest.mark.parametrize("line", ["OD-01:", "OD-01: ", "OD-01:\r\n", "- OD-01 :", "OD-01 -"])
def test_id_line_with_nothing_after_it_gives_empty_text(line):
    assert split_line(line) == ("OD-01", "")


@pytest.mark.parametrize(
    "line",
    [
        "> OD-01: 48",
        ">OD-01: 48",
        "  > OD-01: 48",
        "OD-01 48",
        "OD-01 -3",
        "OD-01",
        "Thanks, figures below",
        "From: Ann <ann@example.org>",
        "Regards: Fiona",
        "OD 01: 48",
        "",
        "\r\n",
    ],
)
def test_lines_that_are_not_answers_give_none(line):
    assert split_line(line) is None


# --- parse_entry: accepted ---------------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "unit", "value"),
    [
        ("48", "count", 48.0),
        ("48.5", "score", 48.5),
        ("1,234", "count", 1234.0),
        ("12,345,678", "count", 12345678.0),
        ("87.5%", "%", 87.5),
        ("87.5 %", "%", 87.5),
        ("87.5", "%", 87.5),
        ("0", "%", 0.0),
        ("100%", "%", 100.0),
        (".5", "%", 0.5),
        ("£1.2m", "£", 1_200_000.0),
        ("£1,234.50", "£", 1234.5),
        ("£ 1.2 m", "£", 1_200_000.0),
        ("1.2bn", "£", 1_200_000_000.0),
        ("£1.2 million", "£", 1_200_000.0),
        ("1.2k", "count", 1200.0),
        ("1.2K", "count", 1200.0),
        ("3m", "count", 3_000_000.0),
        ("-3", "score", -3.0),
        ("\u22123", "score", -3.0),
        ("-£3", "£", -3.0),
        ("£-3", "£", -3.0),
        ("-0", "score", 0.0),
        ("+5", "score", 5.0),
        ("12 days", "days", 12.0),
        ("12d", "days", 12.0),
        ("1 day", "days", 1.0),
        ("12.5 days", "days", 12.5),
        ("007", "count", 7.0),
        ("  48  ", "count", 48.0),
    ],
)
def test_accepted_value_forms_give_a_float(text, unit, value):
    entry = parse_entry(text, unit, "OD-01")
    assert entry == Entry(value, None, "")
    assert isinstance(entry.value, float)
    assert not entry.not_available


@pytest.mark.parametrize(
    ("text", "commentary"),
    [
        ("48 backlog down after recruitment", "backlog down after recruitment"),
        ("48 - backlog down", "backlog down"),
        ("48 \u2013 backlog down", "backlog down"),
        ("48, backlog down", "backlog down"),
        ("48,backlog down", "backlog down"),
        ("48. backlog down", "backlog down"),
        ("48; backlog down", "backlog down"),
        ("48: backlog down", "backlog down"),
        ("48 (backlog down)", "backlog down"),
        ("48 (backlog) down (a)", "(backlog) down (a)"),
        ("48 -3 on last month", "-3 on last month"),
        ("48   backlog down   ", "backlog down"),
        ("48\u00a0-\u00a0backlog down", "backlog down"),
        ("48 - first line\r\nsecond line", "first line\nsecond line"),
        ("48.", ""),
        ("48 -", ""),
    ],
)
def test_text_after_the_value_is_commentary_without_its_separator(text, commentary):
    assert parse_entry(text, "count", "OD-01") == Entry(48.0, None, commentary)


def test_commentary_of_exactly_the_limit_is_kept():
    text = "48 " + "x" * MAX_COMMENTARY
    assert parse_entry(text, "count").commentary == "x" * MAX_COMMENTARY


@pytest.mark.parametrize(
    "text",
    [
        "n/a - system outage",
        "N/A - system outage",
        "na - system outage",
        "n.a. system outage",
        "not available: system outage",
        "Not Available - system outage",
        "unavailable, system outage",
        "n/a system outage",
        "n/a (system outage)",
        "n/a-system outage",
    ],
)
def test_not_available_with_a_reason_records_a_gap(text):
    entry = parse_entry(text, "%", "OD-01")
    assert entry == Entry(None, "system outage", "")
    assert entry.not_available


# --- parse_entry: refused ----------------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "unit", "fragments"),
    [
        ("", "count", ["No value was given", "such as 48", "n/a - reason"]),
        ("   ", "count", ["No value was given"]),
        ("\u00a0\u200b", "count", ["No value was given"]),
        ("n/a", "%", ["'n/a' needs a reason", "n/a - system outage"]),
        ("N/A -", "%", ["needs a reason"]),
        ("not available.", "%", ["needs a reason"]),
        ("unavailable ()", "%", ["needs a reason"]),
        ("forty", "count", ["'forty' is not a number", "type digits"]),
        ("forty-eight backlog down", "count", ["'forty-eight' is not a number"]),
        ("tbc", "count", ["'tbc' is not a number"]),
        ("-", "score", ["'-' is not a number"]),
        ("$5", "£", ["'$5' is not a number"]),
        ("48abc", "count", ["'48abc' is not a number"]),
        ("1e3", "count", ["'1e3' is not a number"]),
        ("0x10", "count", ["'0x10' is not a number"]),
        ("1.2.3", "score", ["'1.2.3' is not a number"]),
        ("1.234,50", "£", ["'1.234,50' is not a number"]),
        ("--3", "score", ["not a number"]),
        ("-£-3", "£", ["not a number"]),
        ("nan", "score", ["'nan' is not a number"]),
        ("NaN", "score", ["'NaN' is not a number"]),
        ("inf", "score", ["'inf' is not a number"]),
        ("-infinity", "score", ["'-infinity' is not a number"]),
        ("\u0664\u0668", "count", ["is not a number"]),
        ("\uff14\uff18", "count", ["is not a number"]),
        ("\u00b2", "count", ["is not a number"]),
        ("120%", "%", ["'120%' is above 100%", "between 0 and 100"]),
        ("100.01", "%", ["above 100%"]),
        ("-1%", "%", ["'-1%' is below 0%", "between 0 and 100"]),
        ("-3", "count", ["'-3' is negative", "a count cannot be below 0"]),
        ("-2 days", "days", ["'-2 days' is negative", "days cannot be below 0"]),
        ("12.5", "count", ["'12.5' is not a whole number", "whole"]),
        ("1.2345k", "count", ["'1.2345k' is not a whole number"]),
        ("48%", "count", ["'48%' has a % sign", "recorded as a count", "number alone"]),
        ("48%", "£", ["has a % sign", "recorded in pounds"]),
        ("48 percent", "score", ["has a % sign", "recorded as a score"]),
        ("£48", "count", ["'£48' has a £ sign", "recorded as a count", "number alone"]),
        ("£48", "%", ["has a £ sign", "recorded as a percentage"]),
        ("12 days", "count", ["'12 days' is given in days", "recorded as a count"]),
        ("12d", "score", ["is given in days"]),
        ("1.2k", "%", ["multiplier 'k'", "recorded as a percentage", "full number"]),
        ("1m", "days", ["multiplier 'm'", "recorded in days"]),
        ("1bn", "score", ["multiplier 'bn'", "recorded as a score"]),
        ("1,5", "score", ["'1,5' is ambiguous", "point for decimals", "groups of three"]),
        ("12,34", "score", ["'12,34' is ambiguous", "point for decimals"]),
        ("1,2345", "count", ["is ambiguous"]),
        ("1,234,5", "count", ["is ambiguous"]),
        ("1,23,456", "count", ["is ambiguous"]),
        ("12,34 backlog", "count", ["'12,34' is ambiguous"]),
        ("1" * 16, "score", ["is too long", "at most 15 digits"]),
        ("1" * 400, "score", ["is too long"]),
        ("0." + "1" * 15, "score", ["is too long"]),
        ("1000000000000000", "£", ["too long"]),
        ("999999999999999bn", "£", ["is too large", "k, m or bn"]),
        ("1000000bn", "£", ["'1000000bn' is too large"]),
        ("48 " + "x" * (MAX_COMMENTARY + 1), "count", ["commentary is 2,001 characters", "2,000"]),
        ("n/a " + "x" * (MAX_COMMENTARY + 1), "%", ["reason is 2,001 characters", "2,000"]),
        ("48 " + "x" * 10_000, "count", ["characters long", "2,000 characters"]),
    ],
)
def test_refused_values_name_the_measure_the_problem_and_the_fix(text, unit, fragments):
    with pytest.raises(InvalidValue) as refused:
        parse_entry(text, unit, "od-01")
    message = said(refused)
    assert "for OD-01;" in message
    for fragment in fragments:
        assert fragment in message
    assert message[0].isupper() or message[0] == "'"
    assert message.endswith(".")


def test_percentage_above_100_is_refused_naming_the_measure():
    with pytest.raises(InvalidValue) as refused:
        parse_entry("101", "%", "OD-01")
    assert said(refused).startswith("'101' is above 100% for OD-01; a percentage")


def test_empty_value_message_matches_the_design():
    with pytest.raises(InvalidValue) as refused:
        parse_entry("", "count", "OD-01")
    assert said(refused) == (
        "No value was given for OD-01; type a number such as 48, "
        "or 'n/a - reason' if the figure is not available."
    )


def test_refusal_without_a_measure_id_still_reads_as_a_sentence():
    with pytest.raises(InvalidValue) as refused:
        parse_entry("forty", "count")
    assert said(refused).startswith("'forty' is not a number; type digits")


def test_long_garbage_is_quoted_shortened_in_the_message():
    with pytest.raises(InvalidValue) as refused:
        parse_entry("x" * 500, "count", "OD-01")
    assert len(said(refused)) < 200


def test_invalid_value_is_a_value_error():
    assert issubclass(InvalidValue, ValueError)


def test_unknown_unit_is_a_programming_error_not_a_user_error():
    with pytest.raises(ValueError, match="unknown unit") as raised:
        parse_entry("48", "percent")
    assert not isinstance(raised.value, InvalidValue)


# --- format_value ------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("value", "unit", "shown"),
    [
        (87.5, "%", "87.5%"),
        (100.0, "%", "100%"),
        (87.456, "%", "87.46%"),
        (1234.0, "count", "1,234"),
        (1234567.0, "count", "1,234,567"),
        (0.0, "count", "0"),
        (12.5, "days", "12.5 days"),
        (1.0, "days", "1 day"),
        (0.0, "days", "0 days"),
        (1_200_000.0, "£", "£1.2m"),
        (1_234_567.0, "£", "£1.23m"),
        (2_500_000_000.0, "£", "£2.5bn"),
        (1234.5, "£", "£1,234.50"),
        (1234.0, "£", "£1,234"),
        (-1_200_000.0, "£", "-£1.2m"),
        (-3.0, "£", "-£3"),
        (-0.001, "£", "£0"),
        (-3.0, "score", "-3"),
        (-0.001, "score", "0"),
        (-0.0, "score", "0"),
        (3.14159, "score", "3.14"),
        (None, "%", "n/a"),
        (None, "£", "n/a"),
        (math.nan, "count", "n/a"),
        (math.inf, "score", "n/a"),
    ],
)
def test_values_are_shown_for_people(value, unit, shown):
    assert format_value(value, unit) == shown


# --- properties --------------------------------------------------------------------------------

units = st.sampled_from(UNITS)
# Plain st.text() rarely looks like a number, so also try strings built from value-like parts.
value_like = st.lists(
    st.sampled_from(
        [*"-+£109.,% kmd()ex", "234", "bn", "days", "n/a", "na", "nan", "inf"]
        + ["\u00a0", "\u2212", "\u0664"]  # NBSP, minus sign, Arabic-Indic digit
    ),
    max_size=8,
).map("".join)


@given(text=st.one_of(st.text(), value_like), unit=units)
@example(text="1" * 5000, unit="score")
@example(text="£" + "9" * 15 + "bn", unit="£")
def test_any_text_parses_to_an_entry_or_is_refused_with_invalid_value(text, unit):
    try:
        entry = parse_entry(text, unit, "OD-01")
    except InvalidValue as refused:
        sentence = value_refusal(WORDS, refused.code, refused.params)
        assert "for OD-01;" in sentence and sentence.endswith(".")
        return
    assert len(entry.commentary) <= MAX_COMMENTARY
    if entry.value is None:
        assert entry.reason and entry.commentary == ""
        return
    assert math.isfinite(entry.value)
    assert entry.reason is None
    if unit == "%":
        assert 0 <= entry.value <= 100
    if unit in ("count", "days"):
        assert entry.value >= 0
    if unit == "count":
        assert entry.value.is_integer()


@given(st.text())
@example("OD-01:\r\n")
@example("\u2028OD-01: 48")
def test_split_line_never_raises_and_gives_a_valid_upper_case_id(line):
    result = split_line(line)
    if result is not None:
        measure_id, rest = result
        assert MEASURE_ID_PATTERN.fullmatch(measure_id)
        assert measure_id == measure_id.upper()
        assert rest == rest.strip()


@given(
    measure_id=st.from_regex(MEASURE_ID_PATTERN, fullmatch=True),
    # No whitespace but the plain space, so that strip() is all the cleaning to expect.
    rest=st.text(st.characters(exclude_categories=["Cc", "Cf", "Zs", "Zl", "Zp"]) | st.just(" ")),
    separator=st.sampled_from([":", ": ", " : ", "=", " = ", " - ", " \u2013 "]),
)
def test_split_line_returns_what_follows_the_separator(measure_id, rest, separator):
    assert split_line(f"{measure_id}{separator}{rest}") == (measure_id.upper(), rest.strip())


in_range = {
    "%": st.floats(0, 100),
    "days": st.floats(0, 10_000),
    "count": st.integers(0, 10**12).map(float),
    "£": st.floats(-1e12, 1e12),
    "score": st.floats(-1e6, 1e6),
}


@given(st.data())
def test_formatted_values_parse_back_to_within_display_precision(data):
    unit = data.draw(units)
    value = data.draw(in_range[unit])
    parsed = parse_entry(format_value(value, unit), unit).value
    # Two decimals, or for £ a million and over two decimals of the million or billion.
    assert math.isclose(parsed, value, rel_tol=5e-3, abs_tol=5e-3)
    if unit == "count":
        assert parsed == value


# --- thousands grouped by spaces ---------------------------------------------------------------


@pytest.mark.parametrize("space", [" ", "\u00a0", "\u202f"], ids=["space", "nbsp", "narrow"])
@pytest.mark.parametrize(
    ("text", "unit", "value", "commentary"),
    [
        ("1{s}234", "count", 1234, ""),
        ("1{s}234 - up on last month", "count", 1234, "up on last month"),
        ("12{s}345{s}678", "count", 12_345_678, ""),
        ("£1{s}234.50", "£", 1234.5, ""),
        ("1{s}234 days (two long cases)", "days", 1234, "two long cases"),
        ("-1{s}234", "score", -1234, ""),
        ("56{s}006{s}173 because of the outage", "count", 56_006_173, "because of the outage"),
        ("1{s}034 after the audit", "count", 1034, "after the audit"),
        ("£1{s}234 saved", "£", 1234, "saved"),
        ("1{s}234.50 saved", "£", 1234.5, "saved"),
        ("1{s}234 confirm", "count", 1234, "confirm"),
    ],
)
def test_thousands_separated_by_a_space_are_one_number(space, text, unit, value, commentary):
    entry = parse_entry(text.format(s=space), unit, "OD-01")
    assert (entry.value, entry.commentary) == (value, commentary)


@pytest.mark.parametrize(
    "text",
    ["12 5 staff off sick", "48 100 cases closed", "1 23", "1 234,5", "1,234 567", "87.5 2 up",
     "1 234 because", "£6 790 008.38 12 staff off"],
)
def test_a_number_followed_by_another_number_is_refused_as_ambiguous(text):
    with pytest.raises(InvalidValue) as refused:
        parse_entry(text, "score", "OD-01")
    assert re.search("ambiguous.*without spaces", said(refused))


def test_a_dash_makes_a_number_in_the_commentary_unambiguous():
    assert parse_entry("48 - 100 cases closed", "count").commentary == "100 cases closed"


# What an owner may type for an integer: plain, comma-grouped, or grouped by any of the spaces.
def grouped(number: int, separator: str) -> str:
    return f"{number:,}".replace(",", separator)


@given(
    number=st.integers(0, 10**14),
    separator=st.sampled_from(["", ",", " ", "\u00a0", "\u202f"]),
    commentary=st.sampled_from(["", " - up", " (new system)", ", steady", " – after audit"]),
)
def test_a_grouped_whole_number_reads_back_exactly(number, separator, commentary):
    text = (grouped(number, separator) if separator else str(number)) + commentary
    entry = parse_entry(text, "count", "OD-01")
    assert entry.value == number
    assert entry.commentary == commentary.lstrip(" -,–(").rstrip(")")


@given(
    number=st.integers(0, 10**9),
    decimals=st.integers(0, 99),
    separator=st.sampled_from([",", " ", "\u00a0"]),
)
def test_a_grouped_decimal_reads_back_exactly(number, decimals, separator):
    text = f"£{grouped(number, separator)}.{decimals:02d}"
    assert parse_entry(text, "£").value == pytest.approx(number + decimals / 100, abs=1e-6)


@given(first=st.integers(0, 999), second=st.integers(0, 99_999), rest=st.text(max_size=20))
def test_two_numbers_are_never_silently_read_as_the_first(first, second, rest):
    """'12 5 staff' must not become 12 with '5 staff' as commentary, nor 125."""
    text = f"{first} {second}{(' ' + rest) if rest.strip() else ''}"
    try:
        entry = parse_entry(text, "score", "OD-01")
    except InvalidValue:
        return
    # Taken only as a thousands grouping, and then as exactly that number.
    assert len(str(second)) == 3 and entry.value == first * 1000 + second
    after = rest.strip()
    assert not after or after[0] in "-–—,;:(" or after.lower().startswith("confirm"), (
        "a word after '1 234' is ambiguous"
    )


@given(st.text(alphabet=st.sampled_from("OD-01: 4.8k£%\t\r\n" + "".join(map(chr, values._CLEAN)))))
def test_text_is_cleaned_the_same_whether_or_not_it_is_plain_ascii(text):
    assert values._cleaned(text) == text.translate(values._CLEAN)
