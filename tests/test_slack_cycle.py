"""The clock with Slack configured: owners in Slack are prompted there, the others by email;
the leadership channel gets the alert and the digest; a Slack outage does not stop email."""

from __future__ import annotations

from handlers.slack import create_slack
from tests.fake_slack import FakeSlack
from tests.slack_inbound import LEADERS, OWNER

pytest_plugins = ("tests.slack_fixtures",)


def prompts_by_email(bot) -> list[str]:
    return [row["recipients"] for row in bot.store.outgoing() if row["kind"] == "prompt"]


def test_owners_in_slack_are_prompted_there_and_the_rest_by_email(slack_bot, fake, clock):
    slack_bot.chat = create_slack(slack_bot)
    clock.set("2026-10-01T09:00")  # September's cycle: the quarterly risk owner is due too
    actions = slack_bot.tick()
    assert {a.kind for a in actions} == {"prompt"}
    [dm] = [m for m in fake.posted() if m["channel"] == fake.dm_channel(OWNER)]
    assert "OD-01" in str(dm["blocks"]) and "Submit" in str(dm["blocks"])
    assert prompts_by_email(slack_bot) == ["risk@agency.example"], "not in Slack: by email"
    prompt = slack_bot.store.ledger_entry("prompt", "owner@agency.example:2026-09")
    assert prompt and prompt["transport_ref"], "the Slack message is the prompt's reference"
    assert slack_bot.tick() == [], "nothing twice"


def test_a_slack_outage_sends_prompts_by_email_instead(slack_bot, fake, clock):
    slack_bot.chat = create_slack(slack_bot)
    fake.fail_next("conversations.open", error="internal_error", times=10)
    clock.set("2026-10-01T09:00")
    slack_bot.tick()
    assert sorted(prompts_by_email(slack_bot)) == [
        "Olive Owner <owner@agency.example>", "risk@agency.example",
    ]  # fmt: skip


def test_the_digest_is_posted_to_the_leadership_channel_once_on_its_day(slack_bot, fake, clock):
    slack_bot.chat = create_slack(slack_bot)
    clock.set("2026-10-01T09:00")
    slack_bot.tick()
    clock.set("2026-10-12T10:00")  # the 8th working day of October: the digest's day
    slack_bot.tick()
    clock.set("2026-10-12T11:00")
    slack_bot.tick()
    assert fake.count("files.completeUploadExternal") == 1
    assert any(m["channel"] == LEADERS for m in fake.posted())


assert FakeSlack  # the fixtures above run it


def test_ticks_rebuild_the_digest_and_alerts_only_when_a_figure_or_the_day_changes(
    slack_bot, fake, clock, monkeypatch
):
    from bot import service as service_module
    from bot.events import Submission

    slack_bot.chat = create_slack(slack_bot)
    builds = []
    real = service_module.build_digest
    monkeypatch.setattr(service_module, "build_digest", lambda **kw: builds.append(1) or real(**kw))
    clock.set("2026-10-12T10:00")  # September's window has closed: alert and digest go
    slack_bot.tick()
    posted = len(fake.posted(LEADERS))
    assert len(builds) == 1 and posted == 2, "one build serves the alert and the digest"
    clock.set("2026-10-12T10:01")
    slack_bot.tick()
    assert len(builds) == 1 and len(fake.posted(LEADERS)) == posted, "nothing changed"
    assert slack_bot.service.submit(
        Submission("OD-01", "48", "owner@agency.example", "cli", "t1", clock())
    ).stored
    slack_bot.tick()
    assert len(builds) == 2 and fake.count("chat.update") == 1, "the new figure is shown"
    clock.set("2026-10-13T10:00")
    slack_bot.tick()
    assert len(builds) == 3


def test_with_a_public_url_the_slack_digest_links_to_the_pack_pmbot_serves(
    slack_settings, fake, clock, register_file
):
    import urllib.request
    from dataclasses import replace

    from bot.app import create_app
    from bot.packs import PREFIX
    from bot.periods import reporting_period
    from bot.web import WebServer

    bot = create_app(replace(slack_settings, public_url="https://pmbot.example.org"), clock=clock)
    server = WebServer({}, dict, host="127.0.0.1", port=0,
                       pages={PREFIX: bot.reach.packs.answer}).start()  # fmt: skip
    try:
        bot.service.import_register(register_file, clock())
        bot.chat = create_slack(bot)
        assert bot.reach.post_digest(reporting_period(clock().date()), clock())
        [digest] = [m for m in fake.posted() if m["channel"] == LEADERS]
        [url] = [b["accessory"]["url"] for b in digest["blocks"] if "url" in b.get("accessory", {})]
        assert url.startswith("https://pmbot.example.org/packs/2026-10/")
        local = url.replace("https://pmbot.example.org", f"http://127.0.0.1:{server.port}")
        with urllib.request.urlopen(local, timeout=10) as response:  # signed with Slack's secret
            assert response.status == 200 and b"October 2026" in response.read()
    finally:
        server.stop()
        bot.close()


def test_on_digest_day_the_email_and_the_slack_post_carry_one_rendering_of_the_pack(
    slack_bot, fake, clock, monkeypatch
):
    from bot import app as app_module
    from bot.measures import Person
    from bot.render import pack as pack_module

    slack_bot.chat = create_slack(slack_bot)
    slack_bot.store.save_person(Person("lead@agency.example", "Lee Lead", ("leadership",)))
    clock.set("2026-10-09T10:00")  # the prompts, reminders and escalations have gone
    slack_bot.tick()
    renders = []
    real = pack_module.render_pack
    for module in (pack_module, app_module):  # wherever it is called from
        monkeypatch.setattr(module, "render_pack",
                            lambda *a, **kw: renders.append(1) or real(*a, **kw))  # fmt: skip
    clock.set("2026-10-12T10:00")  # September's digest day
    slack_bot.tick()
    [email] = [row for row in slack_bot.store.outgoing() if row["kind"] == "digest"]
    assert fake.count("files.completeUploadExternal") == 1, "the pack went to the channel"
    assert b"performance-pack-2026-09" in bytes(email["message"]), "and with the leaders' email"
    assert len(renders) == 1, "rendered once for both"
