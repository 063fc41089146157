"""A quarter run as teams run it: sign-off before publication, a silence that expires, an owner
away whose deputy answers, a late owner chased and queried, and the process page afterwards.

Everything goes through the real bot: a real SQLite file, the Maildir backend, the tick and
the mail poll; the test moves the clock and plays people's emails into the inbox.
"""

from __future__ import annotations

from dataclasses import replace
from datetime import date, datetime, time, timedelta
from email import message_from_bytes
from email.message import EmailMessage
from email.utils import make_msgid

import pytest

from bot.app import create_app
from bot.periods import LONDON, parse_period
from bot.spans import parse_span

REGISTER = """
areas:
  - {name: Operational delivery, lead_email: ops.lead@agency.example,
     approver_email: ops.director@agency.example}
  - {name: Risk, lead_email: risk.lead@agency.example,
     approver_email: risk.director@agency.example}
  - {name: Finance, lead_email: fin.lead@agency.example}
measures:
  - {id: OD-01, name: Processing time, area: Operational delivery, unit: days, better: down,
     target: 50, red_tolerance: 5, owner_email: prompt@agency.example}
  - {id: OD-02, name: Satisfaction, area: Operational delivery, unit: "%", better: up,
     target: 80, red_tolerance: 5, owner_email: away@agency.example,
     deputy_email: deputy@agency.example}
  - {id: RK-01, name: Open risks, area: Risk, unit: count, better: down, target: 3,
     red_tolerance: 1, owner_email: risk@agency.example}
  - {id: RK-02, name: New risks, area: Risk, unit: count, better: down, target: 2,
     red_tolerance: 1, owner_email: late@agency.example}
  - {id: FN-01, name: Invoices paid on time, area: Finance, unit: "%", better: up, target: 95,
     red_tolerance: 3, owner_email: fin@agency.example}
people:
  - {email: coord@agency.example, name: Cora Coordinator, roles: [coordinator]}
  - {email: lead@agency.example, name: Lee Leader, roles: [leadership]}
  - {email: risk.director@agency.example, name: Rhona Director}
"""
ON_TIME = {"prompt": "OD-01: 48", "away": "OD-02: 82", "risk": "RK-01: 3", "late": "RK-02: 2",
           "fin": "FN-01: 96"}  # fmt: skip


def subject(message) -> str:
    return " ".join(str(message["Subject"]).split())  # unfolded


class Quarter:
    """The bot, its clock, and the people who write to it."""

    def __init__(self, bot, clock):
        self.bot, self.clock = bot, clock

    def outbox(self) -> list:
        """What the bot sent, in the order it sent it."""
        return [message_from_bytes(row["message"]) for row in self.bot.store.outgoing()]

    def sent(self, kind: str, to: str) -> list:
        return [m for m in self.outbox() if m["X-PMBot"] == kind and to in m["To"]]

    def reply(self, original, sender: str, body: str, **headers: str) -> None:
        original_subject = subject(original)
        message = EmailMessage()
        message["From"] = sender
        message["To"] = "pmbot@agency.example"
        message["Subject"] = headers.pop("Subject", f"RE: {original_subject}")
        message["Message-ID"] = make_msgid(domain="client.example")
        message["In-Reply-To"] = original["Message-ID"]
        for name, value in headers.items():
            message[name.replace("_", "-")] = value
        message.set_content(body)
        self.bot.mail.deliver_to_inbox(message)

    def answer(self, owner: str, body: str, kind: str = "prompt") -> None:
        address = f"{owner}@agency.example"
        self.reply(self.sent(kind, address)[-1], address, body)

    def decide(self, approver: str, body: str) -> None:
        self.reply(self.sent("signoff", approver)[-1], approver, body)

    def day(self, day: date, events=None) -> None:
        """A working day: people act at 11:00; the bot ticks and reads its mail at 9, 11, 15."""
        for hour in (9, 11, 15):
            self.clock["now"] = datetime.combine(day, time(hour), tzinfo=LONDON)
            if hour == 11 and events:
                events()
            self.bot.tick()
            self.bot.poll_mail()

    def run(self, first: date, last: date, script: dict) -> None:
        day = first
        while day <= last:
            if self.bot.service.calendar.is_working_day(day):
                self.day(day, script.get(day))
            day += timedelta(days=1)


@pytest.fixture
def quarter(settings, tmp_path):
    register = tmp_path / "register.yaml"
    register.write_text(REGISTER)
    clock = {"now": datetime(2026, 11, 1, 9, tzinfo=LONDON)}
    bot = create_app(replace(settings, coordinators=()), clock=lambda: clock["now"])
    bot.service.import_register(register, clock["now"])
    yield Quarter(bot, clock)
    bot.close()


def everyone_on_time(q: Quarter, **changes: str):
    def events():
        for owner, body in (ON_TIME | changes).items():
            q.answer(owner, body)

    return events


def approve_both(q: Quarter):
    def events():
        q.decide("ops.director@agency.example", "Approve")
        q.decide("risk.director@agency.example", "APPROVE")

    return events


def test_a_quarter_with_sign_off_silences_an_away_owner_and_the_process_measured(quarter):
    q = quarter
    service = q.bot.service
    october = parse_period("2026-10")

    # -- October's figures, collected in November ------------------------------------------
    # Prompt Mon 2, reminders Wed 4 and Fri 6 (due), escalation Mon 9, sign-off Tue 10,
    # digest Wed 11.
    q.clock["now"] = datetime(2026, 11, 2, 8, 30, tzinfo=LONDON)
    service.mute("FN-01 until 2026-11-30 ledger system being replaced", "coord@agency.example",
                 "cli", q.clock["now"])  # fmt: skip

    def owner_away():
        prompt = q.sent("prompt", "away@agency.example")[-1]
        q.reply(prompt, "away@agency.example", "I am out of the office until 16 November.",
                Subject=f"Automatic reply: {subject(prompt)}", Auto_Submitted="auto-replied")

    def figures_in():
        q.answer("prompt", "OD-01: 48")
        q.answer("deputy", "OD-02: 82 collected by the deputy")
        q.answer("risk", "RK-01: 3")

    def late_figure_and_query():
        q.answer("late", "RK-02: 5 two new supplier risks")

    def query_after_the_figure():
        q.decide("risk.director@agency.example",
                 "QUERY RK-02 five new risks in a month? please check the register")

    def correction():
        q.answer("late", "RK-02: 4 one was a duplicate")

    q.run(date(2026, 11, 2), date(2026, 11, 10), {
        date(2026, 11, 2): owner_away,
        date(2026, 11, 3): figures_in,
        date(2026, 11, 4): lambda: q.decide("ops.director@agency.example", "APPROVE"),
        date(2026, 11, 10): late_figure_and_query,
    })  # fmt: skip
    q.clock["now"] = datetime(2026, 11, 10, 16, tzinfo=LONDON)
    query_after_the_figure()
    q.bot.poll_mail()

    # The silenced measure was not chased; everyone else was prompted once.
    assert not q.sent("prompt", "fin@agency.example")
    prompts = [subject(m).split(" ")[0] for m in q.sent("prompt", "late@agency.example")]
    assert prompts == ["Performance", "Query:"]
    # The owner's out-of-office brought the deputy the prompt itself, the same day, in the
    # same form; the auto-reply itself got no answer.
    deputy_prompt = q.sent("prompt", "deputy@agency.example")
    assert len(deputy_prompt) == 1
    text = deputy_prompt[0].get_payload(0).get_payload(decode=True).decode()
    assert "who is away" in text and "OD-02: " in text
    assert deputy_prompt[0]["Date"].startswith("Mon, 02 Nov 2026")
    assert not q.sent("confirmation", "away@agency.example")
    # The late owner was chased twice, then escalated to the coordinator two working days
    # before the digest; with no deputy, the coordinator is told so.
    assert len(q.sent("reminder", "late@agency.example")) == 2
    escalation = q.sent("escalation", "coord@agency.example")
    assert len(escalation) == 1 and escalation[0]["Date"].startswith("Mon, 09 Nov 2026")
    # The leaders' summary does not alert on the silenced measure.
    summary = q.sent("summary", "lead@agency.example")[0].get_payload(0).get_payload(decode=True)
    assert b"FN-01" not in summary
    # The query went to the owner, as their prompt with the question.
    query = q.sent("prompt", "late@agency.example")[-1]
    assert subject(query).startswith("Query: RK-02")
    assert b"five new risks in a month?" in query.get_payload(0).get_payload(decode=True)
    assert service.signoff_states(october, q.clock["now"]) == {
        "Operational delivery": "signed_off", "Risk": "queried", "Finance": "",
    }  # fmt: skip

    # Digest day: the pack shows each area's sign-off, and the silence with its reason.
    q.day(date(2026, 11, 11), correction)
    digest = q.sent("digest", "lead@agency.example")
    assert len(digest) == 1 and digest[0]["Date"].startswith("Wed, 11 Nov 2026")
    body = digest[0].get_payload(0).get_payload(0).get_payload(decode=True).decode()
    assert "Operational delivery" in body and "signed off" in body
    assert "queried by the approver" in body
    pack = next(p for p in digest[0].walk() if p.get_filename(""). endswith(".html"))
    pack_html = pack.get_payload(decode=True).decode()
    assert "Silenced until 2026-11-30" in pack_html and "ledger system being replaced" in pack_html
    # Asked when the window closed (Mon 9), reminded on the sign-off day (Tue 10); the owner
    # answered the query, so the approver was asked again, and approves.
    asked = [(subject(m).split(" ")[0], m["Date"][:16])
             for m in q.sent("signoff", "risk.director@agency.example")]  # fmt: skip
    assert asked == [("Sign-off:", "Mon, 09 Nov 2026"), ("Reminder:", "Tue, 10 Nov 2026"),
                     ("Sign-off:", "Wed, 11 Nov 2026")]  # fmt: skip
    assert service.publishable_areas(october, q.clock["now"]) == {"Operational delivery",
                                                                  "Finance"}  # fmt: skip
    public = service.report(parse_span("2026-10"), q.clock["now"], public=True)
    assert {m.area for m in public.measures} == {"Operational delivery", "Finance"}
    q.day(date(2026, 11, 12), lambda: q.decide("risk.director@agency.example", "APPROVE"))
    assert service.publishable_areas(october, q.clock["now"]) == {
        "Operational delivery", "Risk", "Finance",
    }  # fmt: skip

    # -- November (in December) and December (in January): the silence has expired ----------
    q.run(date(2026, 11, 13), date(2026, 12, 31), {
        date(2026, 12, 1): everyone_on_time(q, away="OD-02: n/a - survey not run this month"),
        date(2026, 12, 2): approve_both(q),
    })  # fmt: skip
    assert len(q.sent("prompt", "fin@agency.example")) == 1, "prompted once the silence ended"
    q.run(date(2027, 1, 4), date(2027, 1, 15), {
        date(2027, 1, 5): everyone_on_time(q),
        date(2027, 1, 6): approve_both(q),
    })  # fmt: skip
    assert len(q.sent("digest", "lead@agency.example")) == 3

    # -- the process, counted by hand ------------------------------------------------------
    # Due: October 4 (FN-01 silenced), November 5, December 5 = 14. All on time but RK-02 in
    # October, 4 days late (due Fri 6, came Tue 10) after 2 reminders and an escalation; one
    # correction (RK-02 October); one "not available" (OD-02 November) of 14 sent.
    report = service.process("2026-Q4", service.cycles_of(parse_period("2026-Q4")))
    o = report.overall
    assert (o.expected, o.on_time, o.late, o.missing) == (14, 13, 1, 0)
    assert (o.median_days_late, o.corrections, o.not_available, o.chases) == (4.0, 1, 1, 3)
    owners = {r.name: r for r in report.owners}
    late = owners["late@agency.example"]
    assert (late.expected, late.on_time, late.median_days_late, late.corrections,
            late.chases) == (3, 2, 4.0, 1, 3)  # fmt: skip
    assert owners["away@agency.example"].on_time_rate == 1.0, "the deputy's answer counts"
    assert owners["away@agency.example"].not_available_rate == pytest.approx(1 / 3)
    assert owners["fin@agency.example"].expected == 2
    areas = {r.name: (r.expected, r.on_time, r.corrections, r.not_available, r.chases)
             for r in report.areas}  # fmt: skip
    assert areas == {"Finance": (2, 2, 0, 0, 0), "Operational delivery": (6, 6, 0, 1, 0),
                     "Risk": (6, 5, 1, 0, 3)}  # fmt: skip
    assert [(r.name, r.on_time_rate) for r in report.cycles] == [
        ("2026-10", 0.75), ("2026-11", 1.0), ("2026-12", 1.0),
    ]  # fmt: skip
    # The pack carries the same page.
    january_pack = next(p for p in q.sent("digest", "lead@agency.example")[-1].walk()
                        if p.get_filename("").endswith(".html"))  # fmt: skip
    html = january_pack.get_payload(decode=True).decode()
    assert "How the reporting went" in html and "2026-10 75%, 2026-11 100%, 2026-12 100%" in html

    # -- the audit trail of the queried figure ---------------------------------------------
    trail = service.audit("RK-02", "2026-10")
    assert [(s["value"], s["submitted_by"], s["channel"]) for s in trail["submissions"]] == [
        (5.0, "late@agency.example", "email"), (4.0, "late@agency.example", "email"),
    ]  # fmt: skip
    assert [(d["decision"], d["measure_id"], d["decided_by"]) for d in trail["decisions"]] == [
        ("queried", "RK-02", "risk.director@agency.example"),
        ("approved", "", "risk.director@agency.example"),
    ]  # fmt: skip
    # The owner's two emails and the approver's query.
    assert [m["sender"] for m in trail["inbound"]] == [
        "late@agency.example", "risk.director@agency.example", "late@agency.example",
    ]  # fmt: skip
    # Every ledger action happened once.
    keys = [(row["kind"], row["key"]) for row in q.bot.store.ledger()]
    assert len(keys) == len(set(keys))
