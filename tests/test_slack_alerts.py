"""The alert pipeline, stage by stage and whole: group → inhibit → dedup → send with retry →
record. A sender made of plain functions stands in for Slack; `now` is passed in and the retry
stage's sleep is recorded, so nothing waits."""

from __future__ import annotations

from datetime import datetime

import pytest

from bot.alerts import (
    Alert,
    AlertPipeline,
    DeliveryError,
    Told,
    dedup,
    deliver,
    group,
    inhibit,
)
from bot.events import Submission
from bot.periods import LONDON, parse_period
from bot.store import Store

pytest_plugins = ("tests.slack_fixtures",)
NOW = datetime(2026, 11, 9, 9, 0, tzinfo=LONDON)


def row(measure_id: str, status: str, value: str = "", **extra) -> dict:
    return {
        "id": measure_id,
        "period": "2026-10",
        "status": status,
        "display_value": value,
        "name": f"Measure {measure_id}",
        "target": 90,
        "unit": "%",
        "revisions": 1,
        "owner_email": "owner@agency.example",
        **extra,
    }


class Recorder:
    """A Sender that records what it was asked to do, and fails when told to."""

    def __init__(self) -> None:
        self.sent: list[tuple[str, object]] = []
        self.failures: list[DeliveryError] = []

    def act(self, what: str, detail: object) -> str:
        if self.failures:
            raise self.failures.pop(0)
        self.sent.append((what, detail))
        return "C0LEAD:1.000100"

    def post(self, summary):
        return self.act("post", [a.measure_id for a in summary.firing])

    def update(self, ref, summary):
        self.act(
            "update",
            ([a.measure_id for a in summary.firing], [a.measure_id for a in summary.cleared]),
        )

    def follow_up(self, ref, summary, plan):
        return self.act(
            "follow_up", ([a.measure_id for a in plan.new], [a.measure_id for a in plan.cleared])
        )


@pytest.fixture
def store(tmp_path):
    store = Store(tmp_path / "alerts.db")
    store.migrate()
    yield store
    store.close()


@pytest.fixture
def sender():
    return Recorder()


@pytest.fixture
def pipeline(store, sender):
    pauses: list[float] = []
    pipeline = AlertPipeline(store, sender, sleep=pauses.append)
    pipeline.pauses = pauses  # type: ignore[attr-defined]
    return pipeline


def run(pipeline, rows, ready=True):
    return pipeline.run("2026-10", "October 2026", rows, ready=ready, now=NOW)


# -- the stages ---------------------------------------------------------------------------------


def test_group_makes_one_alert_per_measure_and_period_worst_first():
    alerts = group(
        [
            row("OD-03", "green", "95%", exception_reasons=["special_cause_concern"]),
            row("OD-01", "red", "80%"),
            row("OD-01", "red", "80%", exception_reasons=["consistently_failing"]),
            row("OD-02", "green", "95%"),
            row("OD-04", "outstanding", exception_reasons=["consistently_failing"]),
        ]
    )
    assert [(a.measure_id, a.reasons) for a in alerts] == [
        ("OD-01", ("red", "consistently_failing")),
        ("OD-03", ("special_cause_concern",)),
    ]
    assert alerts[0].target_display == "90%"


def test_a_missing_figure_mutes_the_measures_other_alerts():
    (alert,) = inhibit(
        group(
            [
                row(
                    "OD-01",
                    "missing",
                    exception_reasons=["missing", "special_cause_concern", "consistently_failing"],
                )
            ]
        )
    )
    assert alert.reasons == ("missing",)


def test_dedup_sorts_alerts_into_new_changed_and_cleared():
    told = Told(
        window_ref="C:1",
        fingerprints={
            ("OD-01", "2026-10"): Alert(
                "OD-01", "2026-10", ("red",), status="red", display_value="80%"
            ).fingerprint,
            ("OD-02", "2026-10"): "old",
            ("OD-03", "2026-10"): "gone",
        },
    )
    firing = group(
        [row("OD-01", "red", "80%"), row("OD-02", "red", "81%"), row("OD-04", "missing")]
    )
    plan = dedup(firing, told, {})
    assert [a.measure_id for a in plan.new] == ["OD-04"]
    assert [a.measure_id for a in plan.changed] == ["OD-02"]
    assert [a.measure_id for a in plan.cleared] == ["OD-03"]


def test_deliver_retries_a_transient_failure_with_backoff_and_not_a_permanent_one():
    pauses: list[float] = []
    attempts = iter([DeliveryError("busy", transient=True), DeliveryError("busy", transient=True)])

    def send():
        failure = next(attempts, None)
        if failure:
            raise failure
        return "sent"

    assert deliver(send, sleep=pauses.append) == "sent" and pauses == [2.0, 4.0]

    def refused():
        raise DeliveryError("channel_not_found", transient=False)

    with pytest.raises(DeliveryError):
        deliver(refused, sleep=pauses.append)
    assert pauses == [2.0, 4.0]


# -- the pipeline --------------------------------------------------------------------------------


def test_nothing_is_posted_until_the_window_is_ready(pipeline, sender, store):
    report = run(pipeline, [row("OD-01", "red", "80%")], ready=False)
    assert report.waiting and sender.sent == [] and store.ledger_for_cycle("2026-10") == []
    assert run(pipeline, [row("OD-01", "red", "80%")]).posted
    assert sender.sent == [("post", ["OD-01"])]


def test_one_summary_per_window_and_nothing_sent_twice(pipeline, sender, store):
    rows = [row("OD-01", "red", "80%"), row("OD-02", "missing")]
    run(pipeline, rows)
    run(pipeline, rows)
    assert sender.sent == [("post", ["OD-01", "OD-02"])]
    kinds = [r["kind"] for r in store.ledger_for_cycle("2026-10")]
    assert kinds == ["alert-window", "alert", "alert"]


def test_a_changed_value_updates_the_summary_without_a_new_message(pipeline, sender):
    run(pipeline, [row("OD-01", "red", "80%")])
    run(pipeline, [row("OD-01", "red", "82%")])
    run(pipeline, [row("OD-01", "red", "82%", commentary="more detail")])  # same value: quiet
    assert sender.sent == [("post", ["OD-01"]), ("update", (["OD-01"], []))]


def test_a_new_exception_and_a_cleared_one_get_a_follow_up(pipeline, sender):
    run(pipeline, [row("OD-01", "red", "80%"), row("OD-02", "green", "95%")])
    run(pipeline, [row("OD-01", "green", "91%"), row("OD-02", "red", "70%")])
    assert sender.sent[1:] == [
        ("update", (["OD-02"], ["OD-01"])),
        ("follow_up", (["OD-02"], ["OD-01"])),
    ]


def test_an_exception_that_returns_after_clearing_is_alerted_again(pipeline, sender):
    run(pipeline, [row("OD-01", "red", "80%")])
    run(pipeline, [row("OD-01", "green", "91%")])
    run(pipeline, [row("OD-01", "red", "80%")])  # the very same value as the first time
    assert [what for what, _ in sender.sent] == [
        "post",
        "update",
        "follow_up",
        "update",
        "follow_up",
    ]
    assert sender.sent[-1] == ("follow_up", (["OD-01"], []))


def test_a_failed_send_records_nothing_and_the_next_run_sends_it(pipeline, sender, store):
    sender.failures = [DeliveryError("channel_not_found", transient=False)]
    with pytest.raises(DeliveryError):
        run(pipeline, [row("OD-01", "red", "80%")])
    assert store.ledger_for_cycle("2026-10") == []
    assert run(pipeline, [row("OD-01", "red", "80%")]).posted


def test_transient_failures_are_retried_inside_one_run(pipeline, sender):
    sender.failures = [DeliveryError("ratelimited", transient=True)]
    assert run(pipeline, [row("OD-01", "red", "80%")]).posted
    assert pipeline.pauses == [2.0]


# -- in Slack ------------------------------------------------------------------------------------


def alerts(bot):
    """The Slack lifecycle's report of an alert check (email keeps to the tick)."""
    return bot.reach.check_alerts(parse_period("2026-10"), bot.clock(), email=False)["slack"]


def test_the_slack_summary_is_posted_once_and_edited_in_place(slack, fake, slack_bot, clock):
    service = slack_bot.service
    clock.set("2026-11-09T10:00")  # after the due date: the window has closed
    assert alerts(slack_bot).posted  # OD-01 and OD-02 missing
    (summary,) = fake.posted("C0LEAD")
    assert "no figure by the due date" in str(summary["blocks"])
    service.submit(Submission("OD-01", "48", "owner@agency.example", "cli", "t1", clock()))
    report = alerts(slack_bot)
    assert report.updated and [a.measure_id for a in report.plan.cleared] == ["OD-01"]
    assert fake.count("chat.update") == 1 and len(fake.posted("C0LEAD")) == 2  # + follow-up
    assert alerts(slack_bot).plan.empty
