"""`pmbot demo`: one whole reporting cycle on the sample data, on a simulated clock.

It imports the sample register and history into a fresh database, sends the prompts for the
month after the history ends, plays owners' replies through the Maildir inbox (good values, a
correction, an impossible percentage, a figure not available, an Outlook reply with the original
quoted, an out-of-office, a stranger, most owners answering on time and one not at all), polls,
writes the digest and prints what happened and where to look.

Owners send figures that move from last month's (each measure by its own few per cent, some
for the better, some for the worse), with commentary that says why, so that the pack shows
change, year-on-year comparisons and every kind of exception.
"""

from __future__ import annotations

import shutil
from dataclasses import dataclass, replace
from datetime import date, datetime, time, timedelta
from email.message import EmailMessage
from email.utils import format_datetime, make_msgid
from pathlib import Path

from bot.app import Bot, create_app
from bot.events import Prompt, PromptLine
from bot.mail.maildir import MaildirBackend
from bot.periods import LONDON, parse_period
from bot.render import front, labels
from bot.service import period_label, rag_of
from bot.settings import PROJECT_ROOT, Settings
from bot.values import format_value, parse_entry

REGISTER = PROJECT_ROOT / "data" / "measures.yaml"
HISTORY = PROJECT_ROOT / "data" / "history.csv"
STRANGER = "someone@elsewhere.example"
# How far each figure moves from the owner's last one: a few per cent either way.
MOVES = (-0.06, -0.035, -0.015, 0.0, 0.02, 0.04, 0.07)


@dataclass
class DemoClock:
    now: datetime

    def __call__(self) -> datetime:
        return self.now

    def set(self, day: date, at: time) -> None:
        self.now = datetime.combine(day, at, tzinfo=LONDON)


def run_demo(directory: Path, base: Settings) -> int:
    directory.mkdir(parents=True, exist_ok=True)
    for old in ("pmbot.db", "pmbot.db-wal", "pmbot.db-shm"):
        (directory / old).unlink(missing_ok=True)
    shutil.rmtree(directory / "mail", ignore_errors=True)
    settings = replace(
        base,
        db_path=directory / "pmbot.db",
        maildir=directory / "mail",
        mail_backend="maildir",
        mail_from="pmbot@agency.example",
    )
    history_end = max(
        line.split(",")[1] for line in HISTORY.read_text().splitlines()[1:] if "-Q" not in line
    )
    cycle = parse_period(history_end).shift(1)
    clock = DemoClock(datetime.combine(cycle.end + timedelta(days=1), time(8), tzinfo=LONDON))
    bot = create_app(settings, clock=clock)
    try:
        print(play_cycle(bot, clock, cycle))
    finally:
        bot.close()
    return 0


def play_cycle(bot: Bot, clock: DemoClock, cycle) -> str:
    service = bot.service
    service.import_register(REGISTER, clock())
    history_rows, _ = service.import_history(HISTORY, clock())
    dates = service.calendar.cycle_dates(cycle)

    clock.set(dates.prompt, time(9))
    prompts = bot.send_prompts(cycle)
    mail: MaildirBackend = bot.mail  # type: ignore[assignment]
    sent_ids = {m["To"].addresses[0].addr_spec: m for m in mail.outbox_messages()}

    clock.set(dates.prompt + timedelta(days=2), time(11))
    steps = play_replies(bot, prompts, sent_ids)
    results = bot.poll_mail().results

    clock.set(dates.due, time(16))
    correction = play_correction(bot, prompts, sent_ids)
    if correction:
        steps.append(correction)
        results += bot.poll_mail().results

    clock.set(dates.escalation, time(10))
    report = service.status(cycle, clock())
    exceptions = service.exceptions(cycle, clock(), report)
    reasons = labels(bot.templates)["REASON"]
    for row in exceptions:
        row["why"] = ", ".join(reasons[r] for r in row["exception_reasons"])
    clock.set(dates.digest, time(9))
    digest_files = bot.write_digest(cycle, bot.settings.db_path.parent / "digest")
    first = front(service.digest(cycle, clock(), report))
    return bot.composer.render(
        "demo/report.txt",
        measures=len(service.measures()),
        history_rows=history_rows,
        cycle=str(cycle),
        cycle_label=period_label(cycle),
        dates=dates,
        prompts=prompts,
        steps=steps,
        results=results,
        as_of=f"{clock():%a %d %b %Y %H:%M}",
        report=report,
        exceptions=exceptions,
        db=bot.settings.db_path,
        outbox=bot.settings.maildir / "outbox",
        processed=bot.settings.maildir / "processed",
        outbox_count=len(mail.outbox_messages()),
        digest_files=digest_files,
        performance=len(first.performance),
        not_in=first.not_in,
        improvements=len(first.improvements),
        breaches=len(first.breaches),
    )


def play_replies(bot: Bot, prompts: list[Prompt], sent: dict[str, EmailMessage]) -> list[str]:
    """Deliver one reply per scenario to the inbox; returns what each one is."""
    remaining = list(prompts)

    def take(wanted=lambda p: True) -> Prompt | None:
        found = next((p for p in remaining if wanted(p)), None)
        if found:
            remaining.remove(found)
        return found

    steps = []
    if p := take():
        deliver(bot, p, sent, "gmail_reply.txt", typed(bot, p.lines))
        steps.append(f"{p.owner_email} answers every measure (Gmail, original quoted)")
    if p := take():
        deliver(bot, p, sent, "plain_reply.txt", typed(bot, p.lines))
        steps.append(f"{p.owner_email} answers from a phone ('Sent from my iPhone')")
    if p := take(lambda p: any(line.unit == "%" for line in p.lines)):
        lines = [
            f"{line.measure_id}: 140% best month ever"
            if line.unit == "%"
            else typed_line(bot, line)
            for line in p.lines
        ]
        deliver(bot, p, sent, "gmail_reply.txt", lines)
        steps.append(f"{p.owner_email} sends a percentage of 140 and other good lines")
    if p := take(lambda p: len(p.lines) > 1):
        first, *rest = p.lines
        lines = [f"{first.measure_id}: n/a - data warehouse outage, figure due next week"]
        deliver(bot, p, sent, "gmail_reply.txt", lines + typed(bot, rest))
        steps.append(f"{p.owner_email} reports {first.measure_id} not available, with a reason")
    if p := take():
        deliver(bot, p, sent, "outlook_reply.txt", typed(bot, p.lines), html="outlook_reply.html")
        steps.append(f"{p.owner_email} replies from Outlook with the original quoted below")
    if p := take():
        message = reply_to(bot, p, sent, p.owner_email)
        message.replace_header("Subject", f"Automatic reply: {message['Subject']}")
        message["Auto-Submitted"] = "auto-replied"
        message.set_content(render(bot, "out_of_office.txt", back="Monday", deputy="my deputy"))
        bot.mail.deliver_to_inbox(message)  # type: ignore[attr-defined]
        steps.append(f"{p.owner_email} is away: an out-of-office reply arrives")
    if prompts:
        p = prompts[0]
        message = reply_to(bot, p, sent, STRANGER)
        message.set_content("\n".join(typed(bot, p.lines[:1])) + "\n")
        bot.mail.deliver_to_inbox(message)  # type: ignore[attr-defined]
        steps.append(f"{STRANGER}, not in the register, sends a figure for {p.lines[0].measure_id}")
    # Most owners answer on time; the last one does not answer at all.
    *answering, silent = remaining or [None]
    for p in answering:
        deliver(bot, p, sent, "plain_reply.txt", typed(bot, p.lines))
        steps.append(f"{p.owner_email} answers every measure")
    if silent:
        steps.append(f"{silent.owner_email} does not reply")
    return steps


def play_correction(bot: Bot, prompts: list[Prompt], sent: dict[str, EmailMessage]) -> str:
    if len(prompts) < 2:
        return ""
    p = prompts[1]
    line = p.lines[0]
    history = bot.service.store.history_frame([line.measure_id]).dropna(subset=["value"])
    corrected = format_value(history["value"].iloc[-1] * 1.02, line.unit)
    reply = [f"{line.measure_id}: {corrected} corrected after the extract was rerun"]
    deliver(bot, p, sent, "plain_reply.txt", reply)
    return f"{p.owner_email} corrects {line.measure_id} on the due day"


def typed(bot: Bot, lines: list[PromptLine]) -> list[str]:
    return [typed_line(bot, line) for line in lines]


def typed_line(bot: Bot, line: PromptLine) -> str:
    """What an owner might type: their last figure moved a few per cent, with a word on why."""
    last = bot.service.last_values([line.measure_id]).get(line.measure_id, ("", ""))[1]
    typed_last = last if last and last != "n/a" else line.target
    measure = bot.service.measure(line.measure_id)
    previous = parse_entry(typed_last, line.unit).value
    words = bot.composer.templates.get_template("demo/comments.txt").module
    if measure is None or previous is None:
        return f"{line.measure_id}: {typed_last} {words.COMMENTS['same'][0]}"
    seed = sum(map(ord, line.measure_id))
    figure = previous * (1 + MOVES[seed % len(MOVES)])
    if line.unit == "%":
        figure = min(figure, 99.9)
    exact = line.unit in ("%", "days", "score")  # counts and pounds are whole
    figure = round(figure, 1) if exact else float(round(figure))
    direction = "same"
    if figure != previous and measure.better != "neutral":
        direction = "better" if (figure > previous) == (measure.better == "up") else "worse"
    if rag_of(measure, figure, line.period) == "red":
        comment = words.RED
    else:
        choices = words.COMMENTS[direction]
        comment = choices[seed % len(choices)]
    return f"{line.measure_id}: {format_value(figure, line.unit)} {comment}"


def reply_to(bot: Bot, prompt: Prompt, sent: dict[str, EmailMessage], sender: str) -> EmailMessage:
    original = sent[prompt.owner_email]
    message = EmailMessage()
    message["From"] = f"{bot.service.person_name(sender)} <{sender}>"
    message["To"] = str(original["From"])
    message["Subject"] = f"RE: {original['Subject']}"
    message["Date"] = format_datetime(bot.clock())
    message["Message-ID"] = make_msgid(domain="agency.example")
    message["In-Reply-To"] = original["Message-ID"]
    message["References"] = original["Message-ID"]
    return message


def deliver(bot, prompt, sent, template: str, lines: list[str], html: str = "") -> None:
    message = reply_to(bot, prompt, sent, prompt.owner_email)
    name = bot.service.person_name(prompt.owner_email)
    context = {
        "lines": lines,
        "name": name,
        "first_name": name.split()[0],
        "email": prompt.owner_email,
        "bot_address": bot.settings.mail_from,
        "sent": sent[prompt.owner_email]["Date"],
        "subject": sent[prompt.owner_email]["Subject"],
        "cycle_label": prompt.cycle_label,
        "quoted_ids": [line.measure_id for line in prompt.lines],
    }
    message.set_content(render(bot, template, **context))
    if html:
        message.add_alternative(render(bot, html, **context), subtype="html")
    bot.mail.deliver_to_inbox(message)


def render(bot: Bot, template: str, /, **context) -> str:
    return bot.composer.render(f"demo/{template}", **context)
