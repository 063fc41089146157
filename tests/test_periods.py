import re
from datetime import UTC, date, datetime, time, timedelta

import pytest
from hypothesis import given
from hypothesis import strategies as st

from bot.periods import (
    LONDON,
    CalendarSettings,
    CycleDates,
    InvalidPeriod,
    Period,
    WorkingCalendar,
    london_date,
    monthly,
    parse_period,
    period_for,
    periods_between,
    quarterly,
    reporting_period,
)
from bot.spans import financial_year_of, parse_span

# One calendar for the whole module: holidays are cached per year, and it holds no clock.
CAL = WorkingCalendar()


def utc(*args: int) -> datetime:
    return datetime(*args, tzinfo=UTC)


def london(*args: int) -> datetime:
    return datetime(*args, tzinfo=LONDON)


# --- Period ---------------------------------------------------------------------------------


def test_monthly_period_has_month_bounds_and_text_form():
    p = monthly(2026, 2)
    assert (p.year, p.month, p.quarter) == (2026, 2, None)
    assert p.frequency == "monthly"
    assert p.start == date(2026, 2, 1)
    assert p.end == date(2026, 2, 28)
    assert str(p) == "2026-02"


def test_february_of_a_leap_year_ends_on_the_29th():
    assert monthly(2028, 2).end == date(2028, 2, 29)


def test_quarterly_period_spans_three_months():
    p = quarterly(2026, 3)
    assert p.frequency == "quarterly"
    assert (p.start, p.end) == (date(2026, 7, 1), date(2026, 9, 30))
    assert str(p) == "2026-Q3"
    assert quarterly(2026, 4).end == date(2026, 12, 31)


def test_period_must_have_exactly_one_of_month_or_quarter():
    with pytest.raises(InvalidPeriod, match="either a month or a quarter"):
        Period(2026)
    with pytest.raises(InvalidPeriod, match="either a month or a quarter"):
        Period(2026, month=9, quarter=3)


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"month": 13}, "month 13 is not 1 to 12"),
        ({"month": 0}, "month 0 is not 1 to 12"),
        ({"quarter": 5}, "quarter 5 is not 1 to 4"),
        ({"month": 1.5}, "month must be a whole number"),
        ({"month": True}, "month must be a whole number"),
    ],
)
def test_period_rejects_impossible_months_and_quarters(kwargs, message):
    with pytest.raises(InvalidPeriod, match=message):
        Period(2026, **kwargs)


def test_period_is_a_value_usable_as_a_dict_key():
    assert monthly(2026, 10) == Period(2026, 10)
    assert {monthly(2026, 10): "x"}[parse_period("2026-10")] == "x"


def test_periods_of_one_frequency_sort_chronologically():
    months = [monthly(2027, 1), monthly(2026, 12), monthly(2026, 2)]
    assert sorted(months) == [monthly(2026, 2), monthly(2026, 12), monthly(2027, 1)]
    assert quarterly(2025, 4) < quarterly(2026, 1)


def test_shift_moves_across_year_ends_in_both_directions():
    assert monthly(2026, 11).shift(3) == monthly(2027, 2)
    assert monthly(2026, 1).shift(-1) == monthly(2025, 12)
    assert monthly(2026, 5).shift(-17) == monthly(2024, 12)
    assert quarterly(2026, 4).shift(1) == quarterly(2027, 1)
    assert quarterly(2026, 1).shift(-5) == quarterly(2024, 4)
    assert monthly(2026, 5).shift(0) == monthly(2026, 5)


def test_years_ago_keeps_the_month_or_quarter():
    assert monthly(2026, 10).years_ago(3) == monthly(2023, 10)
    assert quarterly(2026, 3).years_ago(1) == quarterly(2025, 3)


def test_reporting_month_is_the_month_itself_or_the_quarters_last_month():
    assert monthly(2026, 10).reporting_month == monthly(2026, 10)
    assert quarterly(2026, 3).reporting_month == monthly(2026, 9)
    assert quarterly(2026, 1).reporting_month == monthly(2026, 3)


# --- parse_period ---------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("2026-10", monthly(2026, 10)),
        ("2026-03", monthly(2026, 3)),
        (" 2026-3 ", monthly(2026, 3)),
        ("2026-Q3", quarterly(2026, 3)),
        ("2026-q3", quarterly(2026, 3)),
        ("2026q3", quarterly(2026, 3)),
        ("2026Q1\n", quarterly(2026, 1)),
    ],
)
def test_parse_period_accepts_the_documented_forms(text, expected):
    assert parse_period(text) == expected


@pytest.mark.parametrize(
    "text",
    ["", "2026", "26-10", "2026/10", "Oct 2026", "2026-10-01", "202610", "2026-Q", "Q3 2026"],
)
def test_parse_period_rejects_other_text_and_names_the_accepted_forms(text):
    with pytest.raises(InvalidPeriod) as error:
        parse_period(text)
    message = str(error.value)
    assert repr(text) in message
    assert '"2026-10"' in message and '"2026-Q3"' in message


@pytest.mark.parametrize(
    ("text", "message"),
    [("2026-13", "month 13 is not 1 to 12"), ("2026-00", "month 0"), ("2026-Q5", "quarter 5")],
)
def test_parse_period_says_which_part_is_out_of_range(text, message):
    with pytest.raises(InvalidPeriod, match=message):
        parse_period(text)


def test_parse_period_rejects_non_text():
    with pytest.raises(InvalidPeriod, match="expected period text"):
        parse_period(202610)


def test_invalid_period_is_a_value_error():
    with pytest.raises(ValueError):
        parse_period("soon")


# --- reporting_period, period_for, periods_between -----------------------------------------


@pytest.mark.parametrize(
    ("today", "expected"),
    [
        (date(2026, 11, 2), monthly(2026, 10)),
        (date(2026, 11, 30), monthly(2026, 10)),
        (date(2027, 1, 1), monthly(2026, 12)),
    ],
)
def test_reporting_period_is_the_previous_calendar_month(today, expected):
    assert reporting_period(today) == expected


def test_monthly_measures_report_in_every_cycle():
    assert period_for("monthly", monthly(2026, 10)) == monthly(2026, 10)


@pytest.mark.parametrize(
    ("cycle", "expected"),
    [
        (monthly(2026, 3), quarterly(2026, 1)),
        (monthly(2026, 6), quarterly(2026, 2)),
        (monthly(2026, 9), quarterly(2026, 3)),
        (monthly(2026, 12), quarterly(2026, 4)),
        (monthly(2026, 10), None),
        (monthly(2026, 11), None),
        (monthly(2027, 1), None),
    ],
)
def test_quarterly_measures_report_only_in_the_cycle_of_the_quarters_last_month(cycle, expected):
    assert period_for("quarterly", cycle) == expected


def test_period_for_rejects_an_unknown_frequency_and_a_quarterly_cycle():
    with pytest.raises(ValueError, match="frequency must be one of monthly, quarterly"):
        period_for("weekly", monthly(2026, 10))
    with pytest.raises(InvalidPeriod, match="cycle is a month"):
        period_for("monthly", quarterly(2026, 3))


def test_periods_between_includes_both_ends():
    assert periods_between(monthly(2026, 11), monthly(2027, 2)) == [
        monthly(2026, 11),
        monthly(2026, 12),
        monthly(2027, 1),
        monthly(2027, 2),
    ]
    assert periods_between(quarterly(2026, 3), quarterly(2026, 3)) == [quarterly(2026, 3)]


def test_periods_between_is_empty_when_last_is_before_first():
    assert periods_between(monthly(2026, 11), monthly(2026, 10)) == []


def test_periods_between_refuses_mixed_frequencies():
    with pytest.raises(InvalidPeriod, match="not the same frequency"):
        periods_between(monthly(2026, 1), quarterly(2026, 2))


# --- WorkingCalendar: Scottish working days -------------------------------------------------


@pytest.mark.parametrize(
    ("day", "reason"),
    [
        (date(2026, 1, 1), "New Year's Day"),
        (date(2026, 1, 2), "2 January is a Scottish bank holiday"),
        (date(2026, 4, 3), "Good Friday"),
        (date(2026, 8, 3), "first Monday in August"),
        (date(2026, 11, 30), "St Andrew's Day, a Monday in 2026"),
        (date(2025, 12, 1), "St Andrew's Day 2025 (a Sunday) moved to Monday"),
        (date(2026, 12, 25), "Christmas Day"),
        (date(2026, 12, 28), "Boxing Day 2026 (a Saturday) moved to Monday"),
        (date(2027, 1, 4), "2 January 2027 (a Saturday) moved to Monday"),
        (date(2027, 12, 27), "Christmas Day 2027 (a Saturday) moved to Monday"),
        (date(2027, 12, 28), "Boxing Day 2027 (a Sunday) moved to Tuesday"),
        (date(2026, 10, 24), "a Saturday"),
        (date(2026, 10, 25), "a Sunday"),
    ],
)
def test_weekends_and_scottish_bank_holidays_are_not_working_days(day, reason):
    assert not CAL.is_working_day(day), reason


@pytest.mark.parametrize(
    ("day", "reason"),
    [
        (date(2026, 4, 6), "Easter Monday is not a Scottish bank holiday"),
        (date(2026, 8, 31), "the last Monday in August is an English holiday only"),
        (date(2026, 10, 26), "an ordinary Monday"),
        (date(2026, 12, 29), "the first working day after Christmas 2026"),
    ],
)
def test_other_weekdays_are_working_days(day, reason):
    assert CAL.is_working_day(day), reason


def test_extra_holidays_are_not_working_days():
    cal = WorkingCalendar(extra_holidays=[date(2026, 11, 2)])
    assert not cal.is_working_day(date(2026, 11, 2))
    assert cal.cycle_dates(monthly(2026, 10)).prompt == date(2026, 11, 3)


def test_is_working_day_refuses_a_datetime_so_holidays_are_not_missed():
    with pytest.raises(TypeError, match="london_date"):
        CAL.is_working_day(datetime(2026, 11, 30, 9, 0, tzinfo=LONDON))


def test_add_working_days_skips_weekends_and_holidays():
    assert CAL.add_working_days(date(2026, 10, 23), 1) == date(2026, 10, 26)  # Fri -> Mon
    assert CAL.add_working_days(date(2026, 12, 24), 1) == date(2026, 12, 29)
    assert CAL.add_working_days(date(2027, 12, 24), 1) == date(2027, 12, 29)
    assert CAL.add_working_days(date(2026, 11, 27), 1) == date(2026, 12, 1)  # St Andrew's Day


def test_add_working_days_counts_backwards_when_negative():
    assert CAL.add_working_days(date(2026, 12, 29), -1) == date(2026, 12, 24)
    assert CAL.add_working_days(date(2026, 10, 26), -2) == date(2026, 10, 22)


def test_add_zero_working_days_keeps_a_working_day_and_rolls_a_holiday_forward():
    assert CAL.add_working_days(date(2026, 10, 26), 0) == date(2026, 10, 26)
    assert CAL.add_working_days(date(2026, 12, 25), 0) == date(2026, 12, 29)
    assert CAL.add_working_days(date(2026, 10, 24), 0) == date(2026, 10, 26)


def test_nth_working_day_starts_after_new_year_holidays():
    assert CAL.nth_working_day(2026, 1, 1) == date(2026, 1, 5)  # 1 and 2 Jan, then the weekend
    assert CAL.nth_working_day(2027, 1, 1) == date(2027, 1, 5)  # 2 Jan observed on Monday 4th


def test_nth_working_day_refuses_a_day_beyond_the_month():
    # November 2026 has 20 working days: St Andrew's Day takes Monday the 30th.
    assert CAL.nth_working_day(2026, 11, 20) == date(2026, 11, 27)
    with pytest.raises(ValueError, match="fewer than 21 working days"):
        CAL.nth_working_day(2026, 11, 21)
    with pytest.raises(ValueError, match="from 1"):
        CAL.nth_working_day(2026, 11, 0)


# --- cycle dates ----------------------------------------------------------------------------


def test_cycle_dates_for_a_month_fall_in_the_next_month():
    assert CAL.cycle_dates(monthly(2026, 10)) == CycleDates(
        period=monthly(2026, 10),
        prompt=date(2026, 11, 2),  # 1 November 2026 is a Sunday
        due=date(2026, 11, 6),
        reminders=(date(2026, 11, 4), date(2026, 11, 6)),
        escalation=date(2026, 11, 9),
        signoff=date(2026, 11, 10),
        digest=date(2026, 11, 11),
    )


def test_cycle_dates_skip_the_new_year_holidays():
    dates = CAL.cycle_dates(monthly(2026, 12))
    assert dates.prompt == date(2027, 1, 5)
    assert dates.due == date(2027, 1, 11)
    assert dates.reminders == (date(2027, 1, 7), date(2027, 1, 11))
    assert dates.escalation == date(2027, 1, 12)
    assert dates.signoff == date(2027, 1, 13)
    assert dates.digest == date(2027, 1, 14)


def test_cycle_dates_count_easter_monday_as_a_working_day():
    # Good Friday (3 April) is a holiday; Easter Monday (6 April) is not, in Scotland.
    dates = CAL.cycle_dates(quarterly(2026, 1))
    assert dates.prompt == date(2026, 4, 1)
    assert dates.reminders == (date(2026, 4, 6), date(2026, 4, 8))
    assert dates.due == date(2026, 4, 8)  # it would be the 9th in England


def test_cycle_dates_skip_the_first_monday_in_august():
    dates = CAL.cycle_dates(monthly(2026, 7))
    assert dates.prompt == date(2026, 8, 4)
    assert dates.due == date(2026, 8, 10)


def test_a_quarter_has_the_timetable_of_its_last_month():
    quarter = CAL.cycle_dates(quarterly(2026, 3))
    september = CAL.cycle_dates(monthly(2026, 9))
    assert quarter.period == quarterly(2026, 3)
    assert (quarter.prompt, quarter.due, quarter.reminders, quarter.escalation, quarter.digest) == (
        september.prompt,
        september.due,
        september.reminders,
        september.escalation,
        september.digest,
    )
    assert quarter.prompt == date(2026, 10, 1)


def test_cycle_dates_follow_custom_settings():
    settings = CalendarSettings(
        prompt_day=2,
        due_day=10,
        reminder_days_before_due=[0, 5, 1],
        escalation_days_after_due=0,
        signoff_day=11,
        digest_day=12,
    )
    dates = WorkingCalendar(settings).cycle_dates(monthly(2026, 10))
    assert dates.prompt == date(2026, 11, 3)
    assert dates.due == date(2026, 11, 13)
    assert dates.reminders == (date(2026, 11, 6), date(2026, 11, 12), date(2026, 11, 13))
    assert dates.escalation == date(2026, 11, 13)
    assert dates.digest == date(2026, 11, 17)


def test_a_reminder_before_the_month_starts_falls_in_the_period_month():
    dates = WorkingCalendar(CalendarSettings(due_day=1)).cycle_dates(monthly(2026, 10))
    assert dates.reminders == (date(2026, 10, 29), date(2026, 11, 2))


@pytest.mark.parametrize(
    "kwargs",
    [
        {"due_day": 0},
        {"prompt_day": -1},
        {"digest_day": 0},
        {"escalation_days_after_due": -1},
        {"reminder_days_before_due": (2, -1)},
        {"escalation_days_after_due": 2},
        {"digest_day": 7},
        {"signoff_day": 5},
        {"signoff_day": 8},
    ],
)
def test_calendar_settings_refuse_impossible_offsets(kwargs):
    with pytest.raises(ValueError):
        CalendarSettings(**kwargs)


# --- overdue, quiet hours, sending time (Europe/London, BST and GMT) ------------------------


def test_overdue_starts_the_day_after_the_due_date_in_london():
    august = monthly(2026, 8)
    assert CAL.cycle_dates(august).due == date(2026, 9, 7)
    # 22:59 UTC is 23:59 BST on the due date; 23:00 UTC is already the next day in London.
    assert not CAL.is_overdue(august, utc(2026, 9, 7, 22, 59))
    assert CAL.is_overdue(august, utc(2026, 9, 7, 23, 0))
    assert not CAL.is_overdue(august, london(2026, 9, 1, 9, 0))


def test_london_date_refuses_naive_datetimes():
    with pytest.raises(ValueError, match="timezone-aware"):
        london_date(datetime(2026, 9, 7, 12, 0))
    with pytest.raises(ValueError, match="timezone-aware"):
        CAL.is_quiet(datetime(2026, 9, 7, 12, 0))


def test_quiet_hours_are_evenings_nights_weekends_and_holidays():
    assert not CAL.is_quiet(london(2026, 11, 3, 8, 0))
    assert not CAL.is_quiet(london(2026, 11, 3, 17, 59))
    assert CAL.is_quiet(london(2026, 11, 3, 18, 0))
    assert CAL.is_quiet(london(2026, 11, 3, 7, 59))
    assert CAL.is_quiet(london(2026, 11, 3, 0, 0))
    assert CAL.is_quiet(london(2026, 11, 7, 12, 0))  # Saturday
    assert CAL.is_quiet(london(2026, 11, 30, 12, 0))  # St Andrew's Day


def test_quiet_hours_follow_london_time_across_the_march_clock_change():
    # Clocks go forward on Sunday 29 March 2026: 07:30 UTC is 07:30 GMT before, 08:30 BST after.
    assert CAL.is_quiet(utc(2026, 3, 23, 7, 30))
    assert not CAL.is_quiet(utc(2026, 3, 30, 7, 30))
    assert CAL.is_quiet(utc(2026, 3, 30, 17, 0))  # 18:00 BST


def test_quiet_hours_follow_london_time_across_the_october_clock_change():
    # Clocks go back on Sunday 25 October 2026: 07:30 UTC is 08:30 BST before, 07:30 GMT after.
    assert not CAL.is_quiet(utc(2026, 10, 19, 7, 30))
    assert CAL.is_quiet(utc(2026, 10, 26, 7, 30))
    assert not CAL.is_quiet(utc(2026, 10, 26, 17, 30))  # 17:30 GMT


def test_next_sending_time_is_now_outside_quiet_hours():
    now = utc(2026, 11, 3, 10, 15, 30)
    assert CAL.next_sending_time(now) == now
    assert CAL.next_sending_time(now).tzinfo == LONDON


def test_next_sending_time_before_the_working_day_is_eight_that_morning():
    assert CAL.next_sending_time(london(2026, 11, 3, 6, 0)) == london(2026, 11, 3, 8, 0)


def test_next_sending_time_in_the_evening_is_the_next_working_morning():
    assert CAL.next_sending_time(london(2026, 11, 3, 19, 0)) == london(2026, 11, 4, 8, 0)


def test_next_sending_time_over_the_october_clock_change_is_eight_gmt():
    sent = CAL.next_sending_time(london(2026, 10, 23, 18, 30))  # Friday evening, BST
    assert sent == utc(2026, 10, 26, 8, 0)
    assert sent.utcoffset() == timedelta(0)


def test_next_sending_time_over_the_march_clock_change_is_eight_bst():
    sent = CAL.next_sending_time(london(2026, 3, 27, 20, 0))  # Friday evening, GMT
    assert sent == utc(2026, 3, 30, 7, 0)
    assert sent.utcoffset() == timedelta(hours=1)


def test_next_sending_time_waits_out_christmas_and_st_andrews_day():
    assert CAL.next_sending_time(london(2026, 12, 24, 18, 0)) == london(2026, 12, 29, 8, 0)
    assert CAL.next_sending_time(london(2026, 11, 27, 18, 0)) == london(2026, 12, 1, 8, 0)


def test_quiet_hours_within_the_day_are_supported():
    lunch = WorkingCalendar(CalendarSettings(quiet_start=time(12, 0), quiet_end=time(13, 0)))
    assert lunch.is_quiet(london(2026, 11, 3, 12, 30))
    assert not lunch.is_quiet(london(2026, 11, 3, 21, 0))
    assert lunch.next_sending_time(london(2026, 11, 3, 12, 30)) == london(2026, 11, 3, 13, 0)
    # Over a weekend, sending resumes at midnight starting the next working day.
    assert lunch.next_sending_time(london(2026, 11, 7, 9, 0)) == london(2026, 11, 9, 0, 0)


def test_equal_quiet_start_and_end_means_no_quiet_hours():
    never = WorkingCalendar(CalendarSettings(quiet_start=time(0, 0), quiet_end=time(0, 0)))
    assert not never.is_quiet(london(2026, 11, 3, 3, 0))
    assert never.is_quiet(london(2026, 11, 7, 3, 0))  # still not on a Saturday


# --- properties -----------------------------------------------------------------------------

monthly_periods = st.builds(monthly, st.integers(1900, 2200), st.integers(1, 12))
quarterly_periods = st.builds(quarterly, st.integers(1900, 2200), st.integers(1, 4))
periods = st.one_of(monthly_periods, quarterly_periods)
dates = st.dates(min_value=date(2000, 1, 1), max_value=date(2060, 12, 31))
instants = st.datetimes(
    min_value=datetime(2000, 1, 1), max_value=datetime(2060, 12, 31), timezones=st.just(UTC)
)


@given(periods)
def test_str_of_a_period_parses_back_to_it(p):
    assert parse_period(str(p)) == p


@given(periods, st.integers(-600, 600))
def test_shifting_forward_then_back_returns_the_same_period(p, n):
    assert p.shift(n).shift(-n) == p
    assert p.shift(n).frequency == p.frequency


@given(periods, st.integers(-600, 600))
def test_shift_moves_the_start_by_whole_periods(p, n):
    months_per_period = 1 if p.frequency == "monthly" else 3
    moved = p.shift(n)
    assert (moved.start.year * 12 + moved.start.month) - (p.start.year * 12 + p.start.month) == (
        n * months_per_period
    )


@given(dates, st.integers(-60, 60).filter(lambda n: n != 0))
def test_adding_working_days_lands_on_a_working_day(d, n):
    result = CAL.add_working_days(d, n)
    assert CAL.is_working_day(result)
    assert (result > d) == (n > 0)


@given(dates, st.integers(1, 40))
def test_adding_then_subtracting_working_days_returns_to_a_working_day(d, n):
    start = CAL.add_working_days(d, 0)
    assert CAL.add_working_days(CAL.add_working_days(start, n), -n) == start


@given(monthly_periods.filter(lambda p: 2000 <= p.year <= 2060))
def test_cycle_dates_are_in_order_and_on_working_days(p):
    dates = CAL.cycle_dates(p)
    assert p.end < dates.prompt <= dates.due <= dates.escalation
    assert dates.prompt <= dates.digest
    assert all(r <= dates.due for r in dates.reminders)
    assert all(CAL.is_working_day(d) for d in (dates.prompt, dates.due, dates.digest))


@given(instants)
def test_next_sending_time_is_never_quiet_and_never_earlier(now):
    sent = CAL.next_sending_time(now)
    assert sent >= now
    assert not CAL.is_quiet(sent)
    assert sent - now < timedelta(days=7)


# --- Spans: what a report covers ---------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "label", "first", "last"),
    [
        ("2026-10", "October 2026", "2026-10", "2026-10"),
        ("2026-Q3", "Q3 2026, July to September 2026", "2026-07", "2026-09"),
        ("2026", "2026, January to December 2026", "2026-01", "2026-12"),
        ("2026/27", "2026/27, April 2026 to March 2027", "2026-04", "2027-03"),
        ("2026/27-Q1", "Q1 2026/27, April to June 2026", "2026-04", "2026-06"),
        ("2026/27-Q2", "Q2 2026/27, July to September 2026", "2026-07", "2026-09"),
        ("2026/27-Q4", "Q4 2026/27, January to March 2027", "2027-01", "2027-03"),
        (" 2026/2027-q3 ", "Q3 2026/27, October to December 2026", "2026-10", "2026-12"),
    ],
)
def test_every_period_form_people_use_is_read_and_labelled_as_they_say_it(
    text, label, first, last
):
    span = parse_span(text)
    assert (span.label, str(span.first), str(span.last)) == (label, first, last)


def test_the_financial_year_turns_between_march_and_april():
    assert str(financial_year_of(monthly(2027, 3))) == "2026/27"
    assert str(financial_year_of(monthly(2027, 4))) == "2027/28"
    assert str(parse_span("2027-03").year_to_date().first) == "2026-04"
    assert str(parse_span("2027-04").year_to_date().first) == "2027-04"
    assert [str(m) for m in parse_span("2027-04").year_to_date().months] == ["2027-04"]


def test_a_financial_year_can_start_in_another_quarter():
    assert parse_span("2026/27", year_start=7).label == "2026/27, July 2026 to June 2027"
    assert parse_span("2026/27-Q1", year_start=1).label == "Q1 2026/27, January to March 2026"
    assert str(financial_year_of(monthly(2026, 6), year_start=7)) == "2025/26"


def test_a_financial_year_quarter_holds_exactly_one_calendar_quarter():
    assert [str(q) for q in parse_span("2026/27-Q2").quarters] == ["2026-Q3"]
    assert [str(q) for q in parse_span("2026/27").quarters] == [
        "2026-Q2", "2026-Q3", "2026-Q4", "2027-Q1"]
    assert parse_span("2026/27-Q4").contains(quarterly(2027, 1))
    assert not parse_span("2026/27-Q4").contains(quarterly(2026, 4))


def test_the_same_span_a_year_earlier_keeps_its_form():
    assert [str(parse_span(t).shift_years(-1)) for t in
            ("2026-10", "2026-Q3", "2026", "2026/27", "2026/27-Q4")] == [
        "2025-10", "2025-Q3", "2025", "2025/26", "2025/26-Q4"]


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("2026/28", "write 2026/27"),
        ("2026/27-Q5", "quarter 5 is not 1 to 4"),
        ("2026-13", "month 13 is not 1 to 12"),
        ("26", "is not a period; write a month"),
        ("last year", "a financial year (\"2026/27\")"),
    ],
)
def test_a_period_that_cannot_be_read_is_refused_naming_the_forms(text, message):
    with pytest.raises(InvalidPeriod, match=re.escape(message)):
        parse_span(text)


def test_a_financial_year_must_start_at_a_calendar_quarter():
    with pytest.raises(InvalidPeriod, match="month 1, 4, 7 or 10"):
        parse_span("2026/27", year_start=5)
