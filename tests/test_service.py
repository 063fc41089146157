"""Submitting values through the service: the rules every channel shares."""

from __future__ import annotations

from bot.events import Submission
from bot.periods import parse_period

OWNER, DEPUTY = "owner@agency.example", "deputy@agency.example"


def submit(bot, measure, raw, sender=OWNER, ref=None, **kwargs):
    return bot.service.submit(
        Submission(
            measure_id=measure,
            raw_value=raw,
            sender=sender,
            channel=kwargs.pop("channel", "email"),
            source_ref=ref or f"test:{measure}:{raw}:{sender}",
            received_at=bot.clock(),
            **kwargs,
        )
    )


def said(bot, outcome) -> str:
    """The sentence the sender reads about an outcome (templates/outcomes.txt)."""
    return bot.templates.filters["outcome"](outcome)


def test_a_good_value_is_stored_with_its_rag_status(loaded):
    outcome = submit(loaded, "od-02", "91.5% steady")
    assert outcome.stored and outcome.status == "green" and outcome.period == "2026-10"
    assert said(loaded, outcome) == "OD-02 2026-10: 91.5% stored"


def test_the_deputy_may_submit_and_a_stranger_may_not(loaded):
    assert submit(loaded, "OD-01", "48", sender=DEPUTY).stored
    refused = submit(loaded, "OD-01", "47", sender="someone@agency.example")
    assert not refused.stored
    assert "not the owner or deputy" in said(loaded, refused)
    assert loaded.store.submission_count() == 1


def test_a_coordinator_may_enter_a_figure_only_from_the_command_line(loaded):
    assert not submit(loaded, "OD-01", "48", sender="coord@agency.example").stored
    assert submit(loaded, "OD-01", "48", sender="coord@agency.example", channel="cli").stored


def test_a_red_value_without_commentary_is_refused_asking_for_an_explanation(loaded):
    outcome = submit(loaded, "OD-02", "70%")
    assert not outcome.stored and outcome.field == "commentary"
    assert "red" in said(loaded, outcome) and "explanation" in said(loaded, outcome)
    explained = submit(loaded, "OD-02", "70% two teams redeployed to the winter surge")
    assert explained.stored and explained.exception


def test_a_second_figure_is_a_correction_and_the_same_message_again_is_not(loaded):
    first = submit(loaded, "OD-01", "48", ref="m1#1")
    again = submit(loaded, "OD-01", "48", ref="m1#1")
    corrected = submit(loaded, "OD-01", "47", ref="m2#1")
    assert first.stored and not first.revised
    assert again.duplicate and not again.revised
    assert corrected.revised
    assert loaded.store.submission_count() == 2


def test_not_available_with_a_reason_is_a_gap_not_a_zero(loaded):
    outcome = submit(loaded, "OD-01", "n/a - case system outage")
    assert outcome.stored and outcome.value is None and outcome.status == "not_available"
    row = loaded.service.status(parse_period("2026-10"), loaded.clock()).measures[0]
    assert row["status"] == "not_available" and row["value"] is None
    assert row["reason"] == "case system outage"


def test_quarterly_measures_report_their_last_quarter_and_refuse_a_month(loaded):
    risk_owner = "risk@agency.example"
    assert submit(loaded, "RSK-01", "2", sender=risk_owner).period == "2026-Q3"
    refused = submit(loaded, "RSK-01", "2", sender=risk_owner, period="2026-09", ref="x")
    text = said(loaded, refused)
    assert not refused.stored and "quarterly" in text and "2026-Q3" in text


def test_a_period_that_has_not_ended_is_refused(loaded):
    outcome = submit(loaded, "OD-01", "48", period="2026-11")
    assert not outcome.stored and "has not ended" in said(loaded, outcome)


def test_a_period_is_read_afresh_for_each_figure_and_a_mistyped_one_refused_each_time(loaded):
    for ref in ("a", "b"):
        refused = submit(loaded, "OD-01", "48", period="2026-13", ref=ref)
        assert not refused.stored and refused.code == "invalid_period"
        assert refused.field == "period"
    risk_owner = "risk@agency.example"
    named = submit(loaded, "RSK-01", "2", sender=risk_owner, period="2026/27-Q1", ref="c")
    assert named.stored and named.period == "2026-Q2"  # April to June 2026
    assert submit(loaded, "RSK-01", "2", sender=risk_owner, ref="d").period == "2026-Q3"
    assert submit(loaded, "OD-01", "48", period="2026-09", ref="e").period == "2026-09"
    assert submit(loaded, "OD-01", "48", ref="f").period == "2026-10"


def test_an_unknown_measure_is_refused_by_name(loaded):
    outcome = submit(loaded, "XX-99", "1")
    assert not outcome.stored and said(loaded, outcome).startswith("XX-99 is not a measure")


def test_status_is_outstanding_before_the_due_date_and_missing_after(loaded, clock):
    cycle = parse_period("2026-10")
    submit(loaded, "OD-02", "85% short of staff")  # amber: within the red tolerance of 5
    before = {r["id"]: r["status"] for r in loaded.service.status(cycle, clock()).measures}
    assert before == {"OD-01": "outstanding", "OD-02": "amber"}
    clock.set("2026-11-07T09:00")  # due on Friday 6 November, the 5th working day
    report = loaded.service.status(cycle, clock())
    assert {r["id"]: r["status"] for r in report.measures} == {"OD-01": "missing", "OD-02": "amber"}
    assert report.outstanding == {OWNER: ["OD-01"]}


def test_status_rows_carry_the_fields_scripts_rely_on(loaded):
    submit(loaded, "OD-01", "48 better than plan")
    row = loaded.service.status(parse_period("2026-10"), loaded.clock()).measures[0]
    for field in ("id", "name", "area", "owner_email", "value", "status", "revisions",
                  "submitted_by", "submitted_at", "channel", "commentary"):  # fmt: skip
        assert field in row
    assert (row["value"], row["status"], row["revisions"]) == (48.0, "green", 1)
    assert (row["submitted_by"], row["channel"]) == (OWNER, "email")


def test_exceptions_list_red_and_missing_figures(loaded, clock):
    submit(loaded, "OD-02", "80% sickness in two teams")
    clock.set("2026-11-09T09:00")
    exceptions = loaded.service.exceptions(parse_period("2026-10"), clock())
    assert [(e["id"], e["status"]) for e in exceptions] == [("OD-02", "red"), ("OD-01", "missing")]


def view(bot, clock, measure_id):
    digest = bot.service.digest(parse_period("2026-10"), clock())
    return next(m for m in digest.measures if m.id == measure_id)


def test_the_digest_shows_a_figure_sent_after_it_was_first_built(loaded, clock):
    clock.set("2026-11-09T09:00")
    assert view(loaded, clock, "OD-02").status == "missing"
    submit(loaded, "OD-02", "80% sickness in two teams")
    assert view(loaded, clock, "OD-02").status == "red"


def test_the_digest_follows_the_register_and_the_day_after_it_was_first_built(
    loaded, register_file, clock
):
    assert view(loaded, clock, "OD-01").status == "outstanding"
    register_file.write_text(register_file.read_text().replace("Average processing", "Mean"))
    loaded.service.import_register(register_file, clock())
    assert view(loaded, clock, "OD-01").name.startswith("Mean")
    clock.set("2026-11-09T09:00")  # after the due date: the figure is now missing
    assert view(loaded, clock, "OD-01").status == "missing"


def test_escalation_reaches_the_deputy_the_register_names_now(loaded, register_file, clock):
    assert loaded.service.deputies_of(["OD-01", "OD-02"]) == [DEPUTY]
    register_file.write_text(register_file.read_text().replace(DEPUTY, "dora@agency.example"))
    loaded.service.import_register(register_file, clock())
    assert loaded.service.deputies_of(["OD-01", "OD-02"]) == ["dora@agency.example"]
