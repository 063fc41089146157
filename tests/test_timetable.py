"""The timetable: what is due on a day, given who is outstanding and what the ledger holds."""

from __future__ import annotations

from datetime import date

from bot.periods import WorkingCalendar, monthly, parse_period
from bot.timetable import due_actions

# October 2026's cycle, in November: prompt Mon 2, reminders Wed 4 and Fri 6 (the due day),
# escalation Mon 9, sign-off Tue 10, digest Wed 11.
DATES = WorkingCalendar().cycle_dates(parse_period("2026-10"))
LATE = {"a@x": ["OD-01"], "b@x": ["OD-02", "OD-03"]}


def kinds(actions):
    return [(a.kind, a.owner_email, a.reminder) for a in actions]


def prompted(*owners):
    return {("prompt", f"{o}:2026-10") for o in owners}


def test_nothing_happens_before_the_prompt_day():
    assert due_actions(date(2026, 11, 1), DATES, LATE, set()) == []


def test_prompt_day_prompts_every_outstanding_owner_once():
    actions = due_actions(date(2026, 11, 2), DATES, LATE, set())
    assert kinds(actions) == [("prompt", "a@x", 0), ("prompt", "b@x", 0)]
    assert due_actions(date(2026, 11, 2), DATES, LATE, prompted("a@x", "b@x")) == []


def test_reminders_go_only_to_owners_still_outstanding():
    actions = due_actions(date(2026, 11, 4), DATES, {"b@x": ["OD-02"]}, prompted("a@x", "b@x"))
    assert kinds(actions) == [("reminder", "b@x", 1)]


def test_a_missed_reminder_is_superseded_by_the_next_one():
    # The bot was down on the 4th; on the due day only the second reminder goes.
    actions = due_actions(date(2026, 11, 6), DATES, LATE, prompted("a@x", "b@x"))
    assert kinds(actions) == [("reminder", "a@x", 2), ("reminder", "b@x", 2)]


def test_an_owner_prompted_today_is_not_also_reminded_today():
    actions = due_actions(date(2026, 11, 4), DATES, LATE, prompted("a@x"), prompted_today={"a@x"})
    assert kinds(actions) == [("prompt", "b@x", 0)]


def test_escalation_replaces_reminders_after_the_due_date():
    done = prompted("a@x", "b@x") | {("summary", "2026-10")}
    actions = due_actions(date(2026, 11, 9), DATES, {"a@x": ["OD-01"]}, done)
    assert kinds(actions) == [("escalation", "a@x", 0)]


def test_the_summary_goes_when_the_window_closes():
    done = prompted("a@x", "b@x")
    actions = due_actions(date(2026, 11, 9), DATES, {"a@x": ["OD-01"]}, done)
    assert ("summary", "", 0) in kinds(actions)


def test_the_summary_goes_early_when_every_figure_is_in():
    actions = due_actions(date(2026, 11, 3), DATES, {}, prompted("a@x", "b@x"))
    assert kinds(actions) == [("summary", "", 0)]


def test_everything_missed_during_an_outage_is_caught_up_once():
    actions = due_actions(date(2026, 11, 12), DATES, {"a@x": ["OD-01"]}, set())
    assert kinds(actions) == [
        ("prompt", "a@x", 0), ("escalation", "a@x", 0), ("summary", "", 0), ("digest", "", 0),
    ]  # fmt: skip
    done = {(a.kind, a.key) for a in actions}
    assert due_actions(date(2026, 11, 12), DATES, {"a@x": ["OD-01"]}, done) == []


def test_with_the_default_calendar_escalation_leaves_two_working_days_before_every_digest():
    calendar = WorkingCalendar()
    for year in (2026, 2027):
        for month in range(1, 13):
            dates = calendar.cycle_dates(monthly(year, month))
            assert dates.escalation < dates.signoff < dates.digest, dates
            assert calendar.add_working_days(dates.escalation, 2) <= dates.digest, dates
