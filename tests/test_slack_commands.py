"""`/pm`: what each command answers, to whom, and what it refuses."""

from __future__ import annotations

from dataclasses import replace
from email import message_from_bytes

import pytest

from bot.events import Submission
from bot.measures import Area
from bot.periods import parse_period
from tests.slack_inbound import COORD, LEADERS, OWNER, STRANGER, texts

pytest_plugins = ("tests.slack_fixtures",)


def answer(fake, n: int = 1) -> str:
    return "\n".join(texts(b) for p, b in fake.responses if p.endswith(f"/command-{n}"))


def submit(bot, measure_id: str, raw: str, ref: str) -> None:
    outcome = bot.service.submit(
        Submission(measure_id, raw, "owner@agency.example", "cli", ref, bot.clock())
    )
    assert outcome.stored, outcome.code


@pytest.mark.parametrize("text", ["", "help", "nonsense"])
def test_help_lists_the_commands(inbound, fake, text):
    inbound.command(text)
    shown = answer(fake)
    assert "/pm status [2026-10]" in shown and "/pm measure OD-01" in shown
    if text == "nonsense":
        assert "I do not know `/pm nonsense`" in shown


@pytest.mark.parametrize("user_id", [OWNER, STRANGER])
def test_help_from_someone_who_is_not_a_coordinator_says_what_they_can_do(inbound, fake, user_id):
    inbound.command("help", user_id=user_id)
    shown = answer(fake)
    assert "The `/pm` commands are for the performance team's coordinators" in shown
    assert "`OD-01: 48 backlog down`" in shown and "*Submit figures*" in shown
    assert "/pm status" not in shown


@pytest.mark.parametrize(
    ("text", "says"),
    [
        ("status October", "`October` is not a period"),
        ("status 2026-13", "`2026-13` is not a period"),
        ("measure", "Give one measure id"),
        ("digest 2026-10 2026-09", "takes at most a period"),
    ],
)
def test_a_mistyped_command_says_what_to_type(inbound, fake, text, says):
    inbound.command(text)
    assert says in answer(fake)


def test_status_shows_completeness_rag_exceptions_and_who_is_outstanding(inbound, fake, slack_bot):
    submit(slack_bot, "OD-02", "80% staff sick", "s1")
    inbound.command("status 2026-10")
    shown = answer(fake)
    assert "*October 2026*: 1 of 2 figures in" in shown
    assert ":red_circle: 1" in shown and "*Exceptions:* OD-02 (red 80%)" in shown
    assert "*Still to send:* Olive Owner (OD-01)" in shown


def test_chase_dms_owners_on_slack_and_emails_the_rest(inbound, fake, slack_bot):
    inbound.command("chase 2026-09")  # September: the quarterly RSK-01 (no Slack) is due too
    shown = answer(fake)
    assert "Chasing 2 owners for September 2026" in shown
    assert "Chased 2 owners for September 2026 (3 measures): 1 by Slack DM, 1 by email" in shown
    (dm,) = fake.posted(fake.dm_channel(OWNER))
    assert "a reminder" in texts(dm) and "OD-01" in texts(dm)
    (mail,) = [r for r in slack_bot.store.outgoing() if r["kind"] == "chase"]
    assert mail["recipients"] == "risk@agency.example"  # no name in the register: no name
    text = message_from_bytes(mail["message"]).get_payload()[0].get_payload(decode=True)
    assert b"RSK-01" in text and mail["sent_at"]  # delivered through the outbox


def test_chase_with_everything_in_says_so(inbound, fake, slack_bot):
    submit(slack_bot, "OD-01", "48", "s1")
    submit(slack_bot, "OD-02", "95%", "s2")
    inbound.command("chase")
    assert "Nobody to chase for October 2026" in answer(fake)
    assert fake.count("chat.postMessage") == 0


def test_measure_shows_the_glossary_entry_and_this_cycles_figure(inbound, fake, slack_bot):
    submit(slack_bot, "OD-01", "48 backlog down after recruitment", "s1")
    inbound.command("measure od-01", user_id=OWNER)
    shown = answer(fake)
    assert "*OD-01 Average processing time, days* · Operational delivery" in shown
    assert "Target 50 days (lower is better) · monthly · owner Olive Owner" in shown
    assert "*48 days* (green)" in shown and "> backlog down after recruitment" in shown


def test_measure_with_an_unknown_id_says_so(inbound, fake):
    inbound.command("measure XX-99")
    assert "There is no measure `XX-99` in the register" in answer(fake)


def test_digest_preview_is_shown_only_to_the_coordinator(inbound, fake):
    inbound.command("digest preview")
    (preview,) = fake.ephemeral
    assert preview["user"] == COORD and preview["channel"] == LEADERS
    assert fake.posted() == [] and fake.uploads == {}


def test_digest_preview_in_a_channel_without_the_bot_comes_by_response_url(inbound, fake):
    inbound.command("digest preview", channel_id="C0ELSEWHERE")
    assert fake.ephemeral == []
    assert "Performance digest: October 2026" in answer(fake)


def test_digest_is_posted_with_the_pack_and_recorded(inbound, fake, slack_bot):
    inbound.command("digest 2026-10")
    assert "Posted the October 2026 digest and the full pack to <#C0LEAD>" in answer(fake)
    (message,) = fake.posted(LEADERS)
    (pack,) = fake.uploads.values()
    assert pack["filename"] == "performance-pack-2026-10.html"
    assert pack["title"] == "Performance pack, October 2026" and pack["thread_ts"] == message["ts"]
    assert slack_bot.store.ledger_entry("slack-digest", "2026-10")["transport_ref"].startswith(
        "C0LEAD:"
    )


def test_the_scheduler_posts_the_digest_once(slack, fake, slack_bot):
    now = slack_bot.clock()
    assert slack_bot.reach.post_digest(parse_period("2026-10"), now, once=True)
    assert slack_bot.reach.post_digest(parse_period("2026-10"), now, once=True) == []
    assert len(fake.posted(LEADERS)) == 1


def test_digest_without_a_leadership_channel_says_what_to_set(inbound, fake, slack, slack_bot):
    slack_bot.settings = replace(slack_bot.settings, leadership_channel="")
    inbound.command("digest")
    assert "set PMBOT_LEADERSHIP_CHANNEL" in answer(fake)


def test_an_error_is_logged_and_the_user_told_once(inbound, fake, caplog):
    fake.fail_next("chat.postEphemeral", 200, error="fatal_error")
    inbound.command("digest preview")
    assert "Sorry, something went wrong on pmbot's side" in answer(fake)
    assert "Slack command /pm failed" in caplog.text


def test_a_financial_year_quarters_digest_is_posted_with_its_pack(inbound, fake):
    inbound.command("digest 2026/27-Q2")
    assert "Posted the Q2 2026/27, July to September 2026 digest" in answer(fake)
    (pack,) = fake.uploads.values()
    assert pack["filename"] == "performance-pack-2026-27-Q2.html"


def test_an_areas_scorecard_preview_shows_only_that_area(inbound, fake):
    inbound.command("digest 2026-09 --area Risk preview")
    (preview,) = fake.ephemeral
    shown = texts(preview)
    assert "Risk scorecard: September 2026" in shown
    assert "Operational delivery" not in shown and fake.posted() == []


def test_a_years_digest_posts_the_annual_report(inbound, fake):
    inbound.command("digest 2025/26")
    (pack,) = fake.uploads.values()
    assert pack["filename"] == "annual-report-2025-26.html"
    assert pack["title"] == "Annual performance report, 2025/26, April 2025 to March 2026"


@pytest.mark.parametrize(
    ("text", "says"),
    [
        ("digest 2026/28", "`2026/28` is not a period"),
        ("digest --area", "Name the outcome area after `--area`"),
        ("digest 2026-10 --area Nowhere", "There is no outcome area `Nowhere`"),
    ],
)
def test_a_mistyped_digest_says_what_to_type(inbound, fake, text, says):
    inbound.command(text)
    assert says in answer(fake)


# -- mute and signoff ----------------------------------------------------------------------


def test_mute_silences_a_measure_for_coordinators_only(inbound, fake, slack_bot):
    inbound.command("mute OD-01 until 2026-11-30 case system being replaced")
    assert "*OD-01* is silenced until Mon 30 Nov 2026: case system being replaced" in answer(fake)
    assert slack_bot.service.silenced(slack_bot.clock())["OD-01"].created_by == (
        "coord@agency.example"
    )
    inbound.command("mute")
    assert "*OD-01* until Mon 30 Nov 2026" in answer(fake, 2)
    inbound.command("mute OD-02 2026-10", user_id=OWNER)
    assert "for the performance team's coordinators" in answer(fake, 3)
    inbound.command("mute OD-02 2026-10")
    assert "Not silenced: OD-02: say why it is silenced" in answer(fake, 4)


def test_signoff_records_the_approvers_decision_and_a_query_reaches_the_owner(
    inbound, fake, slack_bot
):
    store = slack_bot.store
    area = Area("Operational delivery", "coord@agency.example", "coord@agency.example")
    store.save_register(store.measures(), [], slack_bot.clock(), [area])
    submit(slack_bot, "OD-01", "48", "s1")
    inbound.command("signoff")
    assert "• Operational delivery: Awaiting sign-off" in answer(fake)
    inbound.command("signoff QUERY OD-01 is this the final figure?")
    assert "Operational delivery 2026-10: queried OD-01; the owner has been asked" in answer(
        fake, 2
    )
    # The owner is in Slack: the question comes to them there, in their usual prompt.
    asked = [texts(m) for m in fake.posted(fake.dm_channel(OWNER))]
    assert any("has a question" in t and "is this the final figure?" in t for t in asked)
    inbound.command("signoff Operational delivery approve", user_id=OWNER)
    assert "only its approver (coord@agency.example) can sign it off" in answer(fake, 3)
