"""The rules of running the cycle, on plain data: silences, sign-off decisions and states, the
process arithmetic."""

from __future__ import annotations

from dataclasses import replace
from datetime import date, datetime, timedelta

import pytest

from bot.alerts import group, inhibit, silence
from bot.periods import LONDON, WorkingCalendar, parse_period
from bot.process import Expected, process_report, row_of
from bot.render.slack import slack_blocks
from bot.signoff import (
    AWAITING,
    QUERIED,
    SIGNED_OFF,
    AreaProgress,
    Decision,
    InvalidDecision,
    area_state,
    parse_decisions,
    publishable,
    signoff_actions,
)
from bot.silences import InvalidSilence, Silence, active_silences, parse_mute, without_silenced
from tests.digest_fixtures import small_digest

CAL = WorkingCalendar()
MONDAY = date(2026, 11, 2)  # October's prompt day; its digest is Wed 11 November


# -- silences -------------------------------------------------------------------------------


def test_a_mute_for_a_period_lasts_until_that_periods_digest():
    assert parse_mute("od-03 2026-11 survey paused", MONDAY, CAL).ends == date(2026, 12, 10)
    assert parse_mute("OD-03 2026-Q4 survey paused", MONDAY, CAL).ends == date(2027, 1, 14)


def test_a_mute_without_a_period_covers_the_cycle_being_collected():
    request = parse_mute("OD-03 system being replaced", MONDAY, CAL)
    assert (request.ends, request.reason) == (date(2026, 11, 11), "system being replaced")
    # After October's digest has gone, it is November's cycle.
    assert parse_mute("OD-03 replaced", date(2026, 11, 20), CAL).ends == date(2026, 12, 10)


@pytest.mark.parametrize(
    ("text", "says"),
    [
        ("", "nothing to mute"),
        ("not-an-id reason", "is not a measure id"),
        ("OD-03 2026-10", "say why it is silenced"),
        ("OD-03 until", "'until' needs a date"),
        ("OD-03 until 31/12/2026 reason", "is not a date like 2026-12-31"),
        ("OD-03 until 2026-10-01 reason", "has passed"),
        ("OD-03 until 2028-01-01 reason", "a year at most"),
    ],
)
def test_a_mute_that_cannot_be_taken_says_why_in_one_line(text, says):
    with pytest.raises(InvalidSilence, match=says) as caught:
        parse_mute(text, MONDAY, CAL)
    assert "\n" not in str(caught.value)


def silence_of(measure_id, starts, ends, reason="x"):
    return Silence(measure_id, starts, ends, reason, "coord@x", "cli", "")


def test_silences_expire_by_themselves_and_a_newer_one_replaces_the_older():
    long = silence_of("OD-03", MONDAY, date(2026, 12, 31))
    assert set(active_silences([long], date(2026, 12, 31))) == {"OD-03"}
    assert active_silences([long], date(2027, 1, 1)) == {}
    lifted = silence_of("OD-03", date(2026, 11, 20), date(2026, 11, 20))
    assert active_silences([long, lifted], date(2026, 11, 21)) == {}


def test_silenced_measures_are_not_chased_and_owners_left_with_none_are_not_prompted():
    silenced = {"OD-03": silence_of("OD-03", MONDAY, MONDAY)}
    assert without_silenced({"a@x": ["OD-03"], "b@x": ["OD-01", "OD-03"]}, silenced) == {
        "b@x": ["OD-01"]
    }


def test_the_alert_pipeline_drops_a_silenced_measure_after_inhibition():
    rows = [
        {"id": "OD-01", "period": "2026-10", "status": "red"},
        {"id": "OD-03", "period": "2026-10", "status": "missing",
         "exception_reasons": ["missing", "consistently_failing"], "silence": "new system"},
    ]  # fmt: skip
    assert [a.measure_id for a in silence(inhibit(group(rows)), rows)] == ["OD-01"]


# -- sign-off ------------------------------------------------------------------------------


def test_approve_and_query_are_read_as_people_type_them():
    assert parse_decisions("approved.\n\nSent from my iPhone")[0].decision == "approved"
    queries = parse_decisions("QUERY OD-01 why the jump?\nquery od-02: is this the final figure")
    assert [(q.measure_id, q.note) for q in queries] == [
        ("OD-01", "why the jump?"), ("OD-02", "is this the final figure"),
    ]  # fmt: skip


@pytest.mark.parametrize(
    ("text", "says"),
    [
        ("Looks fine to me", "no decision found"),
        ("APPROVE\nQUERY OD-01 why?", "both an approval and a query"),
        ("QUERY OD-01", "needs a question"),
    ],
)
def test_a_reply_that_is_not_one_decision_is_refused(text, says):
    with pytest.raises(InvalidDecision, match=says):
        parse_decisions(text)


T0 = datetime(2026, 11, 9, 10, tzinfo=LONDON)


def decision(kind, at, measure_id=""):
    return Decision("Ops", "2026-10", kind, measure_id, "", "boss@x", "email", at)


def test_an_area_is_awaiting_then_signed_off_until_a_figure_changes():
    figures = {"OD-01": T0 - timedelta(days=3)}
    assert area_state([], figures) == (AWAITING, 0)
    approved = [decision("approved", T0)]
    assert area_state(approved, figures) == (SIGNED_OFF, 1)
    changed = figures | {"OD-01": T0 + timedelta(hours=1)}
    assert area_state(approved, changed) == (AWAITING, 1)


def test_a_query_holds_the_area_until_the_owner_answers_it():
    figures = {"OD-01": T0 - timedelta(days=3), "OD-02": T0 - timedelta(days=3)}
    queried = [decision("queried", T0, "OD-01")]
    assert area_state(queried, figures) == (QUERIED, 1)
    assert area_state(queried, figures | {"OD-02": T0 + timedelta(hours=1)}) == (QUERIED, 1)
    assert area_state(queried, figures | {"OD-01": T0 + timedelta(hours=1)}) == (AWAITING, 1)


def test_the_approver_is_asked_when_the_area_is_in_or_the_window_closes_and_reminded_once():
    dates = CAL.cycle_dates(parse_period("2026-10"))
    ready = AreaProgress("Ops", "boss@x", ("OD-01",), True, AWAITING, 0)
    waiting = replace(ready, complete=False)
    assert signoff_actions(date(2026, 11, 4), dates, [waiting], set()) == []
    [ask] = signoff_actions(date(2026, 11, 4), dates, [ready], set())
    assert (ask.kind, ask.key, ask.owner_email) == ("signoff-request", "Ops:2026-10:0", "boss@x")
    [closed] = signoff_actions(date(2026, 11, 9), dates, [waiting], set())
    assert closed.kind == "signoff-request"
    done = {("signoff-request", "Ops:2026-10:0")}
    assert signoff_actions(date(2026, 11, 9), dates, [ready], done) == []
    [remind] = signoff_actions(date(2026, 11, 10), dates, [ready], done)
    assert remind.kind == "signoff-reminder"
    signed = replace(ready, state=SIGNED_OFF)
    assert signoff_actions(date(2026, 11, 10), dates, [signed], set()) == []


def test_only_signed_off_areas_and_areas_without_sign_off_are_publishable():
    states = {"Ops": SIGNED_OFF, "Risk": QUERIED, "Money": AWAITING, "Finance": ""}
    assert publishable(states) == {"Ops", "Finance"}


def test_the_slack_digest_says_each_areas_sign_off():
    digest = small_digest()
    area = digest.areas[0].area
    text = str(slack_blocks(replace(digest, signoff={area: "queried"})))
    assert f"*{area}* · Queried by the approver" in text


# -- the process --------------------------------------------------------------------------


def figure(cycle, owner, late, submissions=1, na=False, chases=0, area="Ops"):
    return Expected(cycle, f"M-{owner}", cycle, owner, area, date(2026, 11, 6), late,
                    submissions, na, chases)  # fmt: skip


def test_process_figures_count_late_corrections_gaps_and_chases():
    figures = [
        figure("2026-10", "a@x", 0), figure("2026-10", "a@x", 3, chases=2),
        figure("2026-10", "a@x", 5, submissions=3), figure("2026-10", "a@x", None, chases=3),
        figure("2026-10", "a@x", 0, na=True),
    ]  # fmt: skip
    r = row_of("a@x", figures)
    assert (r.expected, r.on_time, r.late, r.missing) == (5, 2, 2, 1)
    assert r.median_days_late == 4.0 and r.corrections == 2 and r.chases == 5
    assert r.on_time_rate == 0.4 and r.not_available_rate == 0.25


def test_the_on_time_rate_over_cycles_is_read_as_spc():
    history = [figure(f"2026-{m:02d}", "a@x", 0 if m != 12 else 9) for m in range(1, 13)]
    report = process_report("2026-12", history[-1:], history)
    assert [r.on_time_rate for r in report.cycles][-2:] == [1.0, 0.0]
    assert report.variation == "concern_low"
