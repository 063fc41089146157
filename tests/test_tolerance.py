import math

import pytest
from hypothesis import given
from hypothesis import strategies as st

from bot.tolerance import (
    COLOURS,
    InvalidTolerance,
    Tolerance,
    parse_tolerance,
    rag,
    shortfall,
    status,
)


def absolute(amount: float) -> Tolerance:
    return Tolerance(amount, percent=False)


def percent(amount: float) -> Tolerance:
    return Tolerance(amount, percent=True)


# --- parse_tolerance ------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        (5, absolute(5)),
        (2.5, absolute(2.5)),
        (0, absolute(0)),
        ("5", absolute(5)),
        (" 0.5 ", absolute(0.5)),
        ("10%", percent(10)),
        (" 10 % ", percent(10)),
        ("7.5%", percent(7.5)),
    ],
)
def test_parse_tolerance_reads_absolute_and_percent_forms(raw, expected):
    assert parse_tolerance(raw) == expected


@pytest.mark.parametrize("raw", [None, "", "   ", float("nan")])
def test_parse_tolerance_treats_blank_as_no_tolerance(raw):
    assert parse_tolerance(raw) is None


@pytest.mark.parametrize("raw", [-5, "-5", "-10%", -0.1])
def test_parse_tolerance_rejects_negative_with_a_clear_message(raw):
    with pytest.raises(InvalidTolerance, match='is negative.*like 5.*like "10%"'):
        parse_tolerance(raw)


@pytest.mark.parametrize("raw", ["five", "%", "10%%", "5 days", "nan", "inf", True, [5]])
def test_parse_tolerance_rejects_non_numbers_with_a_clear_message(raw):
    with pytest.raises(InvalidTolerance, match='is not a number.*like 5.*like "10%"'):
        parse_tolerance(raw)


def test_invalid_tolerance_is_a_value_error():
    with pytest.raises(ValueError):
        parse_tolerance("lots")


def test_tolerance_refuses_a_negative_amount_when_built_directly():
    with pytest.raises(InvalidTolerance):
        Tolerance(-1, percent=False)


def test_percent_tolerance_is_a_share_of_the_targets_size():
    assert percent(10).distance(90) == pytest.approx(9)
    assert percent(10).distance(-50) == pytest.approx(5)
    assert percent(10).distance(0) == 0
    assert absolute(5).distance(90) == 5


def test_tolerance_prints_as_written_in_the_register():
    assert str(percent(10)) == "10%"
    assert str(absolute(2.5)) == "2.5"


# --- shortfall ------------------------------------------------------------------------------


def test_shortfall_is_distance_on_the_bad_side():
    assert shortfall(85, "up", 90) == 5
    assert shortfall(95, "up", 90) == -5
    assert shortfall(95, "down", 90) == 5
    assert shortfall(85, "down", 90) == -5
    assert shortfall(85, "neutral", 90) == 5
    assert shortfall(95, "neutral", 90) == 5


def test_unknown_direction_is_refused():
    with pytest.raises(ValueError, match="better must be one of up, down, neutral"):
        shortfall(1, "sideways", 2)
    with pytest.raises(ValueError, match="better must be one of"):
        rag(1, "higher", 2, None, None)


# --- rag: every colour, each direction ------------------------------------------------------


@pytest.mark.parametrize(
    ("value", "colour"),
    [
        (120, "green"),
        (90, "green"),
        (86, "green"),
        (85, "green"),  # exactly amber tolerance below target
        (84.9, "amber"),
        (80, "amber"),  # exactly red tolerance below target
        (79.9, "red"),
        (0, "red"),
    ],
)
def test_up_measure_with_absolute_tolerances(value, colour):
    assert rag(value, "up", 90, absolute(5), absolute(10)) == colour


@pytest.mark.parametrize(
    ("value", "colour"),
    [
        (3, "green"),
        (10, "green"),
        (11, "green"),  # exactly 10% above target
        (11.01, "amber"),
        (12.5, "amber"),  # exactly 25% above target
        (12.51, "red"),
    ],
)
def test_down_measure_with_percent_tolerances(value, colour):
    assert rag(value, "down", 10, percent(10), percent(25)) == colour


@pytest.mark.parametrize(
    ("value", "colour"),
    [
        (50, "green"),
        (48, "green"),
        (52, "green"),
        (47.9, "amber"),
        (52.1, "amber"),
        (45, "amber"),
        (55, "amber"),
        (44.9, "red"),
        (55.1, "red"),
    ],
)
def test_neutral_measure_has_a_band_either_side(value, colour):
    assert rag(value, "neutral", 50, absolute(2), absolute(5)) == colour


def test_worked_example_from_the_module_docstring():
    amber, red = parse_tolerance("5%"), parse_tolerance("10%")
    assert [rag(v, "up", 90, amber, red) for v in (95, 90, 85.5, 85, 81, 80.9)] == [
        "green",
        "green",
        "green",
        "amber",
        "amber",
        "red",
    ]
    assert [rag(v, "down", 90, amber, red) for v in (94.5, 99, 99.1)] == ["green", "amber", "red"]


def test_absolute_and_percent_tolerances_can_be_mixed():
    # amber 2 below target, red 10% (9) below.
    assert rag(88, "up", 90, absolute(2), percent(10)) == "green"
    assert rag(85, "up", 90, absolute(2), percent(10)) == "amber"
    assert rag(80, "up", 90, absolute(2), percent(10)) == "red"


def test_percent_tolerance_on_a_negative_target_uses_its_size():
    # A net budget position of -200 with 10% tolerances: amber to -220, red beyond -240.
    assert rag(-215, "up", -200, percent(10), percent(20)) == "green"
    assert rag(-230, "up", -200, percent(10), percent(20)) == "amber"
    assert rag(-250, "up", -200, percent(10), percent(20)) == "red"


# --- rag: missing tolerances ----------------------------------------------------------------


def test_without_tolerances_anything_short_of_target_is_red():
    assert rag(90, "up", 90, None, None) == "green"
    assert rag(91, "up", 90, None, None) == "green"
    assert rag(89.99, "up", 90, None, None) == "red"
    assert rag(10.01, "down", 10, None, None) == "red"
    assert rag(50.01, "neutral", 50, None, None) == "red"


def test_without_red_tolerance_red_starts_after_the_amber_band():
    # Nothing can be amber: the amber band is green, beyond it is red.
    assert rag(85, "up", 90, absolute(5), None) == "green"
    assert rag(84.9, "up", 90, absolute(5), None) == "red"


def test_without_amber_tolerance_green_means_at_or_better_than_target():
    assert rag(90, "up", 90, None, absolute(5)) == "green"
    assert rag(89.9, "up", 90, None, absolute(5)) == "amber"
    assert rag(85, "up", 90, None, absolute(5)) == "amber"
    assert rag(84.9, "up", 90, None, absolute(5)) == "red"


def test_zero_tolerances_behave_like_missing_ones():
    assert rag(89.9, "up", 90, absolute(0), absolute(0)) == "red"
    assert rag(90, "up", 90, absolute(0), absolute(0)) == "green"


def test_red_tolerance_narrower_than_amber_leaves_no_amber_band():
    assert rag(86, "up", 90, absolute(5), absolute(2)) == "green"
    assert rag(84, "up", 90, absolute(5), absolute(2)) == "red"


# --- rag: float noise at the boundaries -----------------------------------------------------


@pytest.mark.parametrize(
    ("value", "target", "tolerance"),
    [
        (0.99, 1.1, "10%"),  # 1.1 - 0.99 is 0.1100000000000001 in floats
        (97.097, 100.1, "3%"),  # 3% of 100.1 is 3.0029999999999997 in floats
        (81, 90, "10%"),
        (0.63, 0.7, "10%"),
        (85.5, 90, "5%"),
    ],
)
def test_a_value_exactly_on_the_amber_threshold_is_green_despite_float_noise(
    value, target, tolerance
):
    assert rag(value, "up", target, parse_tolerance(tolerance), None) == "green"


def test_a_value_exactly_on_the_red_threshold_is_amber_despite_float_noise():
    # 0.77 - 0.7 is 0.07000000000000006 in floats, a hair over 10% of 0.7.
    assert rag(0.77, "down", 0.7, percent(5), percent(10)) == "amber"
    assert rag(0.7701, "down", 0.7, percent(5), percent(10)) == "red"


def test_rag_refuses_non_finite_numbers():
    with pytest.raises(ValueError, match="finite"):
        rag(math.nan, "up", 90, None, None)
    with pytest.raises(ValueError, match="finite"):
        rag(90, "up", math.inf, None, None)


# --- status ---------------------------------------------------------------------------------

MEASURE = {"better": "up", "target": 90, "amber": absolute(5), "red": absolute(10)}


@pytest.mark.parametrize(("value", "colour"), [(92, "green"), (83, "amber"), (70, "red")])
def test_status_of_a_submitted_value_is_its_colour(value, colour):
    assert (
        status(value=value, submitted=True, not_available=False, overdue=False, **MEASURE) == colour
    )


def test_a_value_submitted_late_still_gets_its_colour():
    assert status(value=92, submitted=True, not_available=False, overdue=True, **MEASURE) == "green"


def test_a_reported_gap_is_not_available_not_missing():
    for overdue in (False, True):
        assert (
            status(value=None, submitted=True, not_available=True, overdue=overdue, **MEASURE)
            == "not_available"
        )


def test_nothing_submitted_before_the_due_date_is_outstanding():
    assert (
        status(value=None, submitted=False, not_available=False, overdue=False, **MEASURE)
        == "outstanding"
    )


def test_nothing_submitted_after_the_due_date_is_missing():
    assert (
        status(value=None, submitted=False, not_available=False, overdue=True, **MEASURE)
        == "missing"
    )


@pytest.mark.parametrize(
    ("value", "submitted", "not_available"),
    [
        (92, False, False),  # a value that was never submitted
        (None, False, True),  # a gap that was never reported
        (92, True, True),  # a gap with a value
        (None, True, False),  # a submission with neither
    ],
)
def test_status_refuses_contradictory_inputs(value, submitted, not_available):
    with pytest.raises(ValueError):
        status(
            value=value, submitted=submitted, not_available=not_available, overdue=False, **MEASURE
        )


def test_status_works_without_tolerances():
    assert (
        status(
            value=89,
            submitted=True,
            not_available=False,
            overdue=False,
            better="up",
            target=90,
            amber=None,
            red=None,
        )
        == "red"
    )


# --- properties -----------------------------------------------------------------------------

numbers = st.floats(min_value=-1e6, max_value=1e6, allow_nan=False, allow_infinity=False)
tolerances = st.one_of(
    st.none(),
    st.builds(Tolerance, st.floats(min_value=0, max_value=1e4), st.booleans()),
)


def rank(colour: str) -> int:
    return COLOURS.index(colour)


@given(numbers, numbers, numbers, tolerances, tolerances)
def test_for_up_a_higher_value_is_never_a_worse_colour(a, b, target, amber, red):
    low, high = sorted((a, b))
    assert rank(rag(high, "up", target, amber, red)) <= rank(rag(low, "up", target, amber, red))


@given(numbers, numbers, numbers, tolerances, tolerances)
def test_for_down_a_lower_value_is_never_a_worse_colour(a, b, target, amber, red):
    low, high = sorted((a, b))
    assert rank(rag(low, "down", target, amber, red)) <= rank(rag(high, "down", target, amber, red))


@given(numbers, tolerances, tolerances)
def test_the_target_itself_is_always_green(target, amber, red):
    for better in ("up", "down", "neutral"):
        assert rag(target, better, target, amber, red) == "green"


@given(
    st.integers(-10_000, 10_000),
    st.integers(0, 10_000),
    st.integers(0, 100),
    st.integers(0, 100),
)
def test_neutral_colour_is_symmetric_about_the_target(target, offset, amber, red):
    above = rag(target + offset, "neutral", target, absolute(amber), absolute(red))
    below = rag(target - offset, "neutral", target, absolute(amber), absolute(red))
    assert above == below


@given(numbers, numbers, tolerances, tolerances)
def test_up_and_down_are_mirror_images(value, target, amber, red):
    # Reflecting value and target about zero turns "higher is better" into "lower is better".
    assert rag(value, "up", target, amber, red) == rag(-value, "down", -target, amber, red)
