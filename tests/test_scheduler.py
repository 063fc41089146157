"""The clock over whole cycles: a simulated quarter, and restarts with SIGKILL at random moments.

Time is driven by the test: the bot's clock is moved forward, nothing sleeps.
"""

from __future__ import annotations

import os
import random
import signal
import subprocess
import sys
from collections import Counter
from dataclasses import replace
from datetime import datetime, timedelta
from email import message_from_bytes
from email.message import EmailMessage
from email.utils import make_msgid
from pathlib import Path

import pytest

from bot.app import create_app
from bot.events import Submission
from bot.mail.maildir import MaildirBackend
from bot.periods import LONDON

REGISTER = """
measures:
  - {id: OD-01, name: Processing time, area: Operational delivery, unit: days, better: down,
     target: 50, red_tolerance: 5, owner_email: prompt@agency.example}
  - {id: OD-02, name: Backlog, area: Operational delivery, unit: count, better: down,
     target: 500, red_tolerance: 50, owner_email: late@agency.example,
     deputy_email: deputy@agency.example}
  - {id: OD-03, name: Accuracy, area: Operational delivery, unit: "%", better: up,
     target: 95, red_tolerance: 2, owner_email: never@agency.example}
  - {id: RSK-01, name: Risks outside appetite, area: Risk, unit: count, better: down,
     target: 2, red_tolerance: 1, frequency: quarterly, owner_email: risk@agency.example}
people:
  - {email: coord@agency.example, name: Cora Coordinator, roles: [coordinator]}
  - {email: lead@agency.example, name: Lee Leader, roles: [leadership]}
"""


def reply(to: str, body: str) -> EmailMessage:
    message = EmailMessage()
    message["From"] = to
    message["To"] = "pmbot@agency.example"
    message["Subject"] = "RE: figures"
    message["Message-ID"] = make_msgid(domain="client.example")
    message.set_content(body)
    return message


def sent_mail(maildir: Path) -> list:
    folder = maildir / "outbox" / "new"
    return [message_from_bytes(p.read_bytes()) for p in sorted(folder.iterdir())]


def by_kind(messages, kind: str) -> Counter:
    return Counter((m["To"], m["Subject"]) for m in messages if m["X-PMBot"] == kind)


@pytest.fixture
def quarter_bot(settings, tmp_path):
    register = tmp_path / "register.yaml"
    register.write_text(REGISTER)
    clock_time = {"now": datetime(2026, 10, 1, 7, tzinfo=LONDON)}
    bot = create_app(replace(settings, coordinators=()), clock=lambda: clock_time["now"])
    bot.service.import_register(register, clock_time["now"])
    yield bot, clock_time
    bot.close()


def test_a_simulated_quarter_sends_each_message_once_to_the_right_people(quarter_bot):
    bot, clock = quarter_bot
    answers = {}  # owner -> when they first answered, per cycle
    now = clock["now"]
    while now < datetime(2026, 12, 24, tzinfo=LONDON):
        now = clock["now"] = now + timedelta(hours=1)
        if bot.service.calendar.is_working_day(now.date()) and now.hour == 10:
            # The prompt-day owner answers by email the day after each prompt.
            for message in sent_mail(bot.settings.maildir):
                if message["X-PMBot"] == "prompt" and "prompt@" in message["To"]:
                    key = ("prompt@agency.example", message["Subject"])
                    if key not in answers:
                        answers[key] = now
                        bot.mail.deliver_to_inbox(reply("prompt@agency.example", "OD-01: 48"))
            # The late owner answers once a reminder has reached them, from the command line.
            for message in sent_mail(bot.settings.maildir):
                if message["X-PMBot"] == "reminder" and "late@" in message["To"]:
                    key = ("late@agency.example", message["Subject"])
                    if key not in answers:
                        answers[key] = now
                        bot.service.submit(Submission("OD-02", "480 cleared", "late@agency.example",
                                                      "cli", f"late:{now}", now))  # fmt: skip
        bot.tick()
        bot.poll_mail()

    messages = sent_mail(bot.settings.maildir)
    prompts = by_kind(messages, "prompt")
    assert all(count == 1 for count in prompts.values()), prompts
    prompted_owners = Counter(to.split("<")[-1].rstrip(">") for to, _ in prompts)
    # three monthly cycles (Sep, Oct, Nov); the quarterly owner only for Q3, in October
    assert prompted_owners == {"prompt@agency.example": 3, "late@agency.example": 3,
                               "never@agency.example": 3, "risk@agency.example": 1}
    reminded = Counter(m["To"].split("<")[-1].rstrip(">") for m in messages
                       if m["X-PMBot"] == "reminder")  # fmt: skip
    assert "prompt@agency.example" not in reminded, "an owner who answered is not reminded"
    assert reminded["late@agency.example"] == 3, "one reminder a cycle: they answered after it"
    assert reminded["never@agency.example"] == 6, "two reminders a cycle for the silent owner"
    escalations = [m for m in messages if m["X-PMBot"] == "escalation"]
    assert {m["Subject"].split(":")[1].split(",")[0].strip() for m in escalations} <= {
        "never@agency.example", "risk@agency.example"
    }
    assert all("coord@agency.example" in m["To"] for m in escalations)
    summaries = [m for m in messages if m["X-PMBot"] == "summary"]
    digests = [m for m in messages if m["X-PMBot"] == "digest"]
    assert len(summaries) == 3 and len(digests) == 3
    assert all(m["To"] == "lead@agency.example" for m in summaries + digests)
    ledger = Counter((row["kind"], row["key"]) for row in bot.store.ledger())
    assert set(ledger.values()) == {1}
    assert all(not bot.service.calendar.is_quiet(datetime.fromisoformat(row["at"]))
               for row in bot.store.ledger()), "nothing is sent in quiet hours"  # fmt: skip


def run_serve(env, db: Path):
    return subprocess.Popen(
        [sys.executable, "-m", "bot.cli", "--db", str(db), "serve", "--clock-from-stdin"],
        stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True,
        env=env, bufsize=1,
    )  # fmt: skip


def month_of_ticks():
    day = datetime(2026, 11, 1, tzinfo=LONDON)
    while day.month == 11:
        for hour in (9, 15):
            yield day.replace(hour=hour)
        day += timedelta(days=1)


@pytest.mark.parametrize("trial", range(20))
def test_killing_the_server_at_random_moments_loses_nothing_and_repeats_nothing(
    trial, tmp_path
):
    rng = random.Random(trial)
    register = tmp_path / "register.yaml"
    register.write_text(REGISTER)
    db, maildir = tmp_path / "pmbot.db", tmp_path / "mail"
    env = {**os.environ, "PMBOT_MAILDIR": str(maildir), "PMBOT_MAIL_FROM": "pmbot@agency.example"}
    setup = create_app(replace(create_settings(env), db_path=db, maildir=maildir))
    setup.service.import_register(register, datetime(2026, 10, 31, tzinfo=LONDON))
    setup.close()
    inbox = MaildirBackend(maildir)
    ticks = list(month_of_ticks())
    kill_at = set(rng.sample(range(len(ticks)), 4))
    replies_sent = 0
    process = run_serve(env, db)
    for number, moment in enumerate(ticks):
        if moment.day == 4 and moment.hour == 9:  # two owners answer on the 4th
            inbox.deliver_to_inbox(reply("prompt@agency.example", "OD-01: 48"))
            inbox.deliver_to_inbox(reply("late@agency.example", "OD-02: 470 cleared"))
            replies_sent += 2
        process.stdin.write(moment.isoformat() + "\n")
        process.stdin.flush()
        if number in kill_at:
            if rng.random() < 0.5:  # sometimes mid-tick, sometimes just after
                process.stdout.readline()
            process.send_signal(signal.SIGKILL)
            process.wait()
            process = run_serve(env, db)
            process.stdin.write(moment.isoformat() + "\n")  # the next tick after the restart
            process.stdin.flush()
        assert process.stdout.readline().startswith("done"), "the server stopped answering"
    process.stdin.close()
    process.wait(timeout=30)

    messages = sent_mail(maildir)
    prompts = Counter(m["To"] for m in messages if m["X-PMBot"] == "prompt")
    assert sorted(prompts.values()) == [1, 1, 1], prompts
    assert len([m for m in messages if m["X-PMBot"] == "summary"]) == 1
    assert len([m for m in messages if m["X-PMBot"] == "digest"]) == 1
    check = create_app(replace(create_settings(env), db_path=db, maildir=maildir))
    answered = {
        row["submitted_by"]: datetime.fromisoformat(row["received_at"])
        for row in check.store.history_frame().to_dict("records")
    }
    for row in check.store.ledger("reminder"):
        owner = row["key"].split(":")[0]
        assert owner not in answered or answered[owner] > datetime.fromisoformat(row["at"]), (
            f"{owner} was reminded after answering"
        )
    stored = {r["measure_id"] for r in check.store.history_frame().to_dict("records")}
    assert stored == {"OD-01", "OD-02"}, "no submission lost"
    assert check.store.count("inbound") == replies_sent
    assert all(r["sent_at"] for r in check.store.outgoing()), "everything queued was sent"
    check.close()


def create_settings(env):
    from bot.settings import Settings

    return Settings.from_env(env)
