"""The whole email cycle on a real Maildir: prompt out, replies in, confirmations back.

The scenario shared with the IMAP, EWS and Graph backends is in tests/mail_scenario.py.
"""

from __future__ import annotations

import os
import sqlite3
from dataclasses import replace
from pathlib import Path

import pytest

from bot.app import create_app
from bot.measures import Person
from tests import mail_scenario as scenario
from tests.conftest import reply, templates_with
from tests.mail_scenario import OCTOBER, figures_reply


@pytest.fixture
def prompted(loaded):
    """Prompts for October 2026 sent; returns (bot, the owner's prompt)."""
    return loaded, scenario.prompt_the_owner(loaded, loaded.mail.outbox_messages)


def files(folder: Path) -> list[Path]:
    return [p for sub in ("new", "cur") for p in (folder / sub).iterdir()]


def confirmations(bot):
    return scenario.confirmations(bot.mail.outbox_messages())


def test_prompt_lists_outstanding_measures_with_last_value_target_and_reply_block(prompted):
    bot, prompt = prompted
    text = prompt.get_body(("plain",)).get_content()
    html = prompt.get_body(("html",)).get_content()
    assert "2026-10" in prompt["Subject"] and "[PM-2026-10-" in prompt["Subject"]
    assert prompt["Message-ID"] and prompt["Auto-Submitted"] == "auto-generated"
    assert "OD-01: \n" in text and "OD-02: \n" in text
    assert "target 50 days" in text and "Olive Owner" in html
    assert "RSK-01" not in text, "quarterly measures are not due in October"


def test_prompts_are_sent_once_per_owner_and_cycle(prompted):
    bot, _ = prompted
    assert bot.send_prompts(OCTOBER) == []
    assert [m["To"].addresses[0].addr_spec for m in bot.mail.outbox_messages()] == [
        "owner@agency.example"
    ]


def test_a_reply_with_one_bad_line_stores_the_good_ones_and_says_which_failed(prompted):
    bot, prompt = prompted
    message = scenario.bad_line_reply(prompt)
    bot.mail.deliver_to_inbox(message)
    assert scenario.outcomes(bot) == ["stored"]
    [confirmation] = confirmations(bot)
    scenario.check_bad_line_reply(bot, prompt, message, confirmation)


def test_the_confirmation_is_threaded_under_the_reply(prompted):
    bot, prompt = prompted
    message = figures_reply(prompt)
    bot.mail.deliver_to_inbox(message)
    bot.poll_mail()
    [confirmation] = confirmations(bot)
    scenario.check_threaded(prompt, message, confirmation)


def test_an_html_only_outlook_reply_is_read_above_the_quoted_original(prompted):
    bot, prompt = prompted
    html = (
        "<html><body><div>OD-01: 47 fewer complex cases</div><div>OD-02: 91%</div>"
        '<div id="divRplyFwdMsg"><b>From:</b> pmbot</div><div>OD-01: 12</div></body></html>'
    )
    message = figures_reply(prompt, "")
    message.clear_content()
    message.set_content(html, subtype="html")
    bot.mail.deliver_to_inbox(message)
    bot.poll_mail()
    rows = scenario.measure_rows(bot)
    assert (rows["OD-01"]["value"], rows["OD-02"]["value"]) == (47, 91)
    assert rows["OD-01"]["revisions"] == 1, "the quoted 'OD-01: 12' must not be read"


def test_an_out_of_office_is_recorded_ignored_and_never_answered(prompted):
    bot, prompt = prompted
    bot.mail.deliver_to_inbox(scenario.out_of_office(prompt))
    scenario.check_out_of_office_ignored(bot, bot.mail.outbox_messages)


def test_the_same_message_polled_twice_is_stored_once(prompted):
    bot, prompt = prompted
    message = figures_reply(prompt)
    bot.mail.deliver_to_inbox(message)
    bot.mail.deliver_to_inbox(message)  # the server delivered it twice
    scenario.check_stored_once(bot, bot.mail.outbox_messages)


def test_processed_mail_is_moved_out_of_the_inbox_and_kept(prompted, settings):
    bot, prompt = prompted
    bot.mail.deliver_to_inbox(figures_reply(prompt))
    bot.poll_mail()
    maildir = settings.maildir
    kept = scenario.check_moved_out_of_the_inbox(
        files(maildir / "inbox"), files(maildir / "processed")
    )
    assert kept.name.endswith(":2,S") and scenario.FIGURES.encode() in kept.read_bytes()


def test_a_value_from_someone_who_is_not_owner_or_deputy_is_refused(prompted):
    bot, prompt = prompted
    bot.store.save_person(Person("risk@agency.example"))
    bot.mail.deliver_to_inbox(reply(prompt, "risk@agency.example", "OD-01: 48"))
    [result] = bot.poll_mail().results
    assert result.outcome == "rejected" and "not the owner or deputy" in result.reason
    assert bot.store.submission_count() == 0
    [confirmation] = confirmations(bot)
    assert "owner is owner@agency.example" in confirmation.get_body(("plain",)).get_content()


def test_a_stranger_gets_no_answer_and_is_recorded(prompted):
    bot, prompt = prompted
    bot.mail.deliver_to_inbox(reply(prompt, "spoof@elsewhere.example", "OD-01: 1"))
    [result] = bot.poll_mail().results
    assert result.outcome == "rejected" and "not in the register" in result.reason
    assert confirmations(bot) == [] and bot.store.submission_count() == 0


def test_a_reply_with_no_figures_gets_a_helpful_answer(prompted):
    bot, prompt = prompted
    bot.mail.deliver_to_inbox(figures_reply(prompt, "Will send these tomorrow."))
    [result] = bot.poll_mail().results
    assert result.outcome == "rejected"
    [confirmation] = confirmations(bot)
    assert "No figures were found" in confirmation.get_body(("plain",)).get_content()


def test_the_reply_period_comes_from_the_prompt_it_answers(prompted, clock):
    bot, prompt = prompted
    clock.set("2026-12-03T10:00")  # a late answer, after November's cycle began
    bot.mail.deliver_to_inbox(figures_reply(prompt))
    bot.poll_mail()
    assert bot.store.submissions_for("OD-01", "2026-10")[0]["value"] == 48


def test_a_database_failure_mid_poll_leaves_the_batch_in_the_inbox_and_loses_nothing(
    prompted, settings, monkeypatch
):
    bot, prompt = prompted
    for body in ("OD-01: 47\nOD-02: 91%", "OD-01: 46", "OD-01: 45"):
        bot.mail.deliver_to_inbox(figures_reply(prompt, body))
    record = bot.service.record_inbound
    calls = []

    def failing_on_the_third(**fields):
        calls.append(fields["message_id"])
        if len(calls) == 3:
            raise sqlite3.OperationalError("disk I/O error")
        return record(**fields)

    monkeypatch.setattr(bot.service, "record_inbound", failing_on_the_third)
    with pytest.raises(sqlite3.OperationalError):
        bot.poll_mail()
    # The batch's transaction was undone, so its messages stay in the inbox, nothing stored.
    assert len(files(settings.maildir / "inbox")) == 3
    assert bot.store.submission_count() == 0 and bot.store.count("inbound") == 0
    assert confirmations(bot) == []

    monkeypatch.setattr(bot.service, "record_inbound", record)
    assert scenario.outcomes(bot) == ["stored"] * 3
    assert files(settings.maildir / "inbox") == []
    assert bot.store.submission_count() == 4 and len(confirmations(bot)) == 3
    assert scenario.outcomes(bot) == [], "each message was taken once"


def test_an_edited_confirmation_template_answers_from_the_next_poll(
    settings, clock, register_file, tmp_path
):
    templates = templates_with(tmp_path, {})
    bot = create_app(replace(settings, templates_dir=templates), clock=clock)
    bot.service.import_register(register_file, clock())
    prompt = scenario.prompt_the_owner(bot, bot.mail.outbox_messages)

    def answer_to(body: str) -> str:
        bot.mail.deliver_to_inbox(figures_reply(prompt, body))
        bot.poll_mail()
        return confirmations(bot)[-1].get_body(("plain",)).get_content()

    assert "Thank you. Stored:" in answer_to("OD-01: 47")
    text = templates / "email" / "confirmation.txt"
    text.write_text(text.read_text().replace("Thank you. Stored:", "Received with thanks:"))
    os.utime(text, (text.stat().st_mtime + 5,) * 2)  # a later edit, whatever the clock
    assert "Received with thanks:" in answer_to("OD-01: 46")
    bot.close()
