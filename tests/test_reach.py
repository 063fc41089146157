"""One prompt path: the tick, `pmbot prompts send` and `pmbot chase` reach each owner the same
way (their chat where they are found, email otherwise), and email-only leaders get the alert
lifecycle Slack leaders get: the summary, then one threaded follow-up per batch of changes."""

from __future__ import annotations

from dataclasses import replace
from email import message_from_bytes

import pytest

from bot.app import create_app
from bot.chat import ChatTransport, Notice
from bot.cli import main
from bot.events import Submission
from bot.store import Store
from handlers.slack import create_slack
from tests.fake_slack import BOT_TOKEN, FakeSlack
from tests.slack_inbound import LEADERS, OWNER, PEOPLE, SECRET

pytest_plugins = ("tests.slack_fixtures",)
LEADER = "lead@agency.example"


@pytest.fixture
def cli(tmp_path, monkeypatch, register_file, fake):
    """`pmbot` as a coordinator runs it, configured for the fake Slack by its environment."""
    monkeypatch.chdir(tmp_path)
    for name in ("PMBOT_LEADERSHIP_CHANNEL", "PMBOT_LEADERSHIP_EMAILS", "SLACK_APP_TOKEN"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("PMBOT_MAILDIR", str(tmp_path / "mail"))
    monkeypatch.setenv("PMBOT_MAIL_FROM", "pmbot@agency.example")
    monkeypatch.setenv("SLACK_BOT_TOKEN", BOT_TOKEN)
    monkeypatch.setenv("SLACK_SIGNING_SECRET", SECRET)
    monkeypatch.setenv("SLACK_API_URL", fake.base_url)
    monkeypatch.setenv("PMBOT_SLACK_RATE", "0")
    db = str(tmp_path / "cli.db")

    def run(*args: str, now: str = "2026-10-01T09:00") -> int:
        return main(["--db", db, "--now", now, *args])

    assert run("measures", "import", str(register_file)) == 0
    run.store = lambda: Store(db)  # type: ignore[attr-defined]
    return run


def dms(fake: FakeSlack) -> list[str]:
    return [str(m["blocks"]) for m in fake.posted(fake.dm_channel(OWNER))]


def emailed(store: Store, kind: str) -> list[str]:
    return [row["recipients"] for row in store.outgoing(kind)]


def test_prompts_send_dms_the_owner_in_slack_and_emails_the_one_who_is_not(cli, fake, capsys):
    assert cli("prompts", "send", "2026-09") == 0
    (dm,) = dms(fake)
    assert "OD-01" in dm and "Submit" in dm
    store = cli.store()
    assert emailed(store, "prompt") == ["risk@agency.example"], "not in Slack: by email"
    assert store.ledger_entry("prompt", "owner@agency.example:2026-09")["transport_ref"]
    assert "2 prompts sent for 2026-09: 1 by chat, 1 by email" in capsys.readouterr().out
    assert cli("prompts", "send", "2026-09") == 0
    assert len(dms(fake)) == 1 and len(emailed(store, "prompt")) == 1, "once per owner and cycle"


def test_pmbot_chase_reminds_in_slack_and_by_email_alike(cli, fake, capsys):
    assert cli("chase", "2026-09") == 0
    (dm,) = dms(fake)
    assert "Reminder" in dm or "reminder" in dm
    assert emailed(cli.store(), "chase") == ["risk@agency.example"]
    assert "1 by chat, 1 by email" in capsys.readouterr().out


def test_pmbot_measure_shows_what_slash_pm_measure_shows(cli, capsys):
    assert cli("measure", "od-02", "2026-10", now="2026-11-09T10:00") == 0
    out = capsys.readouterr().out
    assert "OD-02 Applications processed within 10 days" in out and "owner Olive Owner" in out
    assert cli("measure", "XX-9") == 1
    assert "XX-9 is not a measure in the register" in capsys.readouterr().err


def test_a_person_in_slack_is_reached_there_only_never_by_email_too(slack_bot, fake, clock):
    create_slack(slack_bot)
    clock.set("2026-10-01T09:00")
    slack_bot.tick()
    assert len(dms(fake)) == 1
    assert emailed(slack_bot.store, "prompt") == ["risk@agency.example"]


# -- the alert lifecycle on email ---------------------------------------------------------------


@pytest.fixture
def email_leaders(settings, clock, register_file):
    bot = create_app(replace(settings, leadership_emails=(LEADER,)), clock=clock)
    bot.service.import_register(register_file, clock())
    yield bot
    bot.close()


def sent(bot, kind: str):
    return [message_from_bytes(row["message"]) for row in bot.store.outgoing(kind)]


def text_of(message) -> str:
    return message.get_payload()[0].get_payload(decode=True).decode()


def test_an_email_only_leader_gets_a_threaded_follow_up_when_an_exception_clears(
    email_leaders, clock
):
    bot = email_leaders
    clock.set("2026-11-09T09:00")  # the due date has passed: the summary goes
    bot.tick()
    (summary,) = sent(bot, "summary")
    assert "OD-01" in text_of(summary)
    bot.tick()
    assert sent(bot, "alert-follow-up") == [], "nothing changed: nothing sent"

    for measure, value in (("OD-01", "48"), ("OD-02", "91%")):  # two figures, one batch
        bot.service.submit(Submission(measure, value, "owner@agency.example", "email",
                                      f"late-{measure}", clock()))  # fmt: skip
    clock.set("2026-11-09T19:00")  # quiet hours: leaders are not emailed in the evening
    bot.tick()
    assert sent(bot, "alert-follow-up") == []
    clock.set("2026-11-10T08:30")
    bot.tick()
    (follow_up,) = sent(bot, "alert-follow-up")
    assert follow_up["In-Reply-To"] == summary["Message-ID"]
    assert summary["Message-ID"] in follow_up["References"]
    assert follow_up["Subject"].startswith("Re: Performance exceptions for October 2026")
    assert follow_up["To"] == LEADER and follow_up["Auto-Submitted"] == "auto-generated"
    text = text_of(follow_up)
    assert "No longer an exception" in text and "OD-01" in text and "OD-02" in text
    clock.set("2026-11-10T11:00")
    bot.tick()
    assert len(sent(bot, "alert-follow-up")) == 1, "the ledger remembers what leaders were told"


def test_a_new_exception_after_the_summary_is_one_follow_up_not_one_per_figure(
    email_leaders, clock
):
    bot = email_leaders
    for measure, value in (("OD-01", "48"), ("OD-02", "91%")):
        bot.service.submit(Submission(measure, value, "owner@agency.example", "email",
                                      f"on-time-{measure}", clock()))  # fmt: skip
    clock.set("2026-11-09T09:00")
    bot.tick()
    assert len(sent(bot, "summary")) == 1
    bot.service.submit(Submission("OD-02", "70% two teams redeployed", "owner@agency.example",
                                  "email", "correction", clock()))  # fmt: skip
    clock.set("2026-11-09T10:00")
    bot.tick()
    (follow_up,) = sent(bot, "alert-follow-up")
    text = text_of(follow_up)
    assert "New exception" in text and "OD-02" in text and "70%" in text


def test_leaders_who_read_the_slack_channel_get_no_email_follow_ups(slack_bot, fake, clock):
    bot = slack_bot
    create_slack(bot)
    bot.service.store.save_person(
        replace(bot.service.store.person("owner@agency.example"), roles=("leadership",))
    )
    clock.set("2026-11-09T09:00")
    bot.tick()
    bot.service.submit(Submission("OD-01", "48", "owner@agency.example", "email", "x", clock()))
    clock.set("2026-11-09T10:00")
    bot.tick()
    assert sent(bot, "alert-follow-up") == []
    assert len(fake.posted(LEADERS)) >= 2  # the Slack summary and its follow-up


assert PEOPLE  # the fake's users come from tests.slack_inbound


def test_slack_implements_the_chat_contract(slack, fake):
    assert isinstance(slack, ChatTransport) and slack.name == "slack"
    assert slack.find_person("owner@agency.example") == OWNER
    assert slack.tell("owner@agency.example", Notice("dm_help"))
    assert "I did not find any figures" in str(fake.posted(fake.dm_channel(OWNER))[-1])
    assert slack.find_person("risk@agency.example") is None
    assert slack.tell("risk@agency.example", Notice("dm_help")) is None
