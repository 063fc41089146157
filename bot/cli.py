"""The `pmbot` command line. Each command parses its options, calls the app, prints the result.

A mistake the user can fix (a bad file, an unknown measure, a bad setting) ends with one line on
stderr and exit status 1, never a traceback.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import logging
import os
import sqlite3
import sys
from collections.abc import Callable, Sequence
from dataclasses import asdict
from datetime import datetime
from pathlib import Path

from bot.annual import BadAssurance
from bot.app import Bot, Clock, create_app, system_clock
from bot.events import Inbound, Submission
from bot.mail.base import MailError
from bot.measures import ImportRejected
from bot.periods import LONDON, InvalidPeriod, Period, reporting_period
from bot.render import environment, labels
from bot.reports import UnknownArea
from bot.settings import ConfigError, Settings
from bot.silences import InvalidSilence
from bot.spans import as_span, parse_reporting_period, parse_span
from bot.store import SchemaTooNew, StoreError, explain

USER_ERRORS = (
    ImportRejected, InvalidPeriod, ConfigError, MailError, FileNotFoundError, SchemaTooNew,
    StoreError, UnknownArea, BadAssurance, InvalidSilence,
)  # fmt: skip


class UsageError(Exception):
    """Wrong use of a command; the message says what to type instead."""


def main(argv: Sequence[str] | None = None, *, clock: Clock | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    for name, default in (("db", None), ("now", None), ("verbose", False)):
        if not hasattr(args, name):
            setattr(args, name, default)
    if not getattr(args, "handler", None):
        getattr(args, "help_parser", parser).print_help()
        return 2
    configure_logging(verbose=args.verbose, serving=args.handler is cmd_serve)
    try:
        settings = Settings.from_env().with_db(args.db)
        if args.now:
            fixed = parse_now(args.now)
            clock = lambda: fixed  # noqa: E731
        return args.handler(args, settings, clock or system_clock) or 0
    except ImportRejected as exc:
        print(f"pmbot: {exc}:", file=sys.stderr)
        for problem in exc.problems:
            print(f"  {problem}", file=sys.stderr)
        return 1
    except (*USER_ERRORS, UsageError) as exc:
        print(f"pmbot: {exc}", file=sys.stderr)
        return 1
    except BrokenPipeError:
        # `pmbot status | head -1`: the reader has what it wanted. Point stdout at nothing so
        # that Python's final flush does not complain either.
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        return 0
    except sqlite3.Error as exc:
        try:
            explain(exc, str(args.db or settings_db()))
        except StoreError as explained:
            print(f"pmbot: {explained}", file=sys.stderr)
        return 1
    except OSError as exc:
        print(terminal("os_error", exc.filename or "", exc.strerror or str(exc)), file=sys.stderr)
        return 1


def terminal(macro: str, *args) -> str:
    """A sentence from templates/cli.txt where there is no bot (its database is the problem)."""
    module = environment(Settings().templates_dir).get_template("cli.txt").module
    return str(getattr(module, macro)(*args)).strip()


def settings_db() -> Path:
    try:
        return Settings.from_env().db_path
    except ConfigError:
        return Path("data/pmbot.db")


class JsonLines(logging.Formatter):
    """One JSON object a line, for log collectors. Messages never carry tokens or passwords:
    pmbot logs addresses, ids and outcomes, and the backends keep secrets out of errors."""

    def format(self, record: logging.LogRecord) -> str:
        entry = {
            "time": self.formatTime(record, "%Y-%m-%dT%H:%M:%S%z"),
            "level": record.levelname.lower(),
            "logger": record.name,
            "message": record.getMessage(),
        }
        if record.exc_info:
            entry["error"] = self.formatException(record.exc_info)
        return json.dumps(entry, ensure_ascii=False)


def configure_logging(*, verbose: bool, serving: bool) -> None:
    handler = logging.StreamHandler()
    if serving:
        handler.setFormatter(JsonLines())
    else:
        handler.setFormatter(logging.Formatter("%(asctime)s %(levelname)s %(name)s %(message)s"))
    logging.basicConfig(level=logging.INFO if verbose or serving else logging.WARNING,
                        handlers=[handler], force=True)  # fmt: skip
    # Third-party clients log request details at INFO; keep them to warnings.
    for noisy in ("urllib3", "exchangelib", "slack_sdk", "slack_bolt", "matplotlib"):
        logging.getLogger(noisy).setLevel(logging.WARNING)


def parse_now(text: str) -> datetime:
    try:
        moment = datetime.fromisoformat(text)
    except ValueError as exc:
        raise UsageError(f"--now {text!r} is not a time; use e.g. 2026-11-09T10:00") from exc
    return moment if moment.tzinfo else moment.replace(tzinfo=LONDON)


def with_bot(run: Callable[[argparse.Namespace, Bot], int | None], *, chats: bool = False):
    """Build the bot for a command and close it afterwards; with `chats`, connected to every
    configured chat transport (commands that reach people: they go where `tick` would)."""

    def handler(args: argparse.Namespace, settings: Settings, clock: Clock) -> int | None:
        bot = create_app(settings, clock=clock, chats=chats)
        try:
            return run(args, bot)
        finally:
            bot.close()

    return handler


def with_chats(run: Callable[[argparse.Namespace, Bot], int | None]):
    return with_bot(run, chats=True)


def say(bot: Bot, macro: str, *args) -> str:
    """A sentence for the terminal, from templates/cli.txt."""
    module = bot.templates.get_template("cli.txt").module
    return str(getattr(module, macro)(*args)).strip()


def cycle_arg(args: argparse.Namespace, bot: Bot) -> Period:
    if getattr(args, "period", None):
        return parse_reporting_period(args.period, bot.settings.year_start)
    return reporting_period(bot.clock().astimezone(LONDON).date())


def print_json(data) -> None:
    print(json.dumps(data, indent=2, ensure_ascii=False, default=str))


# -- commands ------------------------------------------------------------------------------


@with_bot
def cmd_init(args, bot: Bot) -> None:
    print(f"Database ready at {bot.settings.db_path} (schema version {bot.store.schema_version()})")


@with_bot
def cmd_measures_import(args, bot: Bot) -> None:
    changes = bot.service.import_register(Path(args.file), bot.clock())
    total = len(bot.service.measures())
    print(f"Imported {args.file}: {total} active measures "
          f"({len(changes['added'])} added, {len(changes['updated'])} updated, "
          f"{len(changes['deactivated'])} deactivated)")  # fmt: skip
    if changes["deactivated"]:
        print(f"Deactivated (not in the file): {', '.join(changes['deactivated'])}")


@with_bot
def cmd_measures_list(args, bot: Bot) -> None:
    measures = bot.service.measures()
    if args.json:
        print_json({"measures": [m.as_dict() for m in measures]})
        return
    for m in measures:
        target = f"target {m.target:g}" if m.target is not None else "no target"
        print(f"{m.id:<8} {m.frequency:<9} {m.unit:<5} {target} "
              f"({m.better})  {m.name}  [{m.owner_email}]")  # fmt: skip
    print(f"{len(measures)} measures")


@with_bot
def cmd_history_import(args, bot: Bot) -> None:
    rows, new = bot.service.import_history(Path(args.file), bot.clock())
    print(f"Imported {args.file}: {rows} rows, {new} new ({rows - new} already stored)")


def operator(args: argparse.Namespace, bot: Bot, what: str) -> str:
    """Who is typing: --as, else PMBOT_OPERATOR; recorded with what they do."""
    who = (getattr(args, "as_email", None) or bot.settings.operator).strip().lower()
    if not who:
        raise UsageError(show(bot, "who_needed", what))
    return who


@with_bot
def cmd_submit(args, bot: Bot) -> int:
    sender = operator(args, bot, "entering the figure")
    now = bot.clock()
    # The same command at the same moment is one message; a changed value or --confirm is not.
    typed = "\0".join((args.value, args.comment or "", str(args.confirm), sender))
    digest = hashlib.sha1(typed.encode()).hexdigest()[:8]
    ref = f"cli:{now.isoformat()}:{args.measure}:{args.period}:{digest}"
    submission = Submission(
        measure_id=args.measure,
        raw_value=args.value,
        sender=sender,
        channel="cli",
        source_ref=ref,
        received_at=now,
        commentary=args.comment or "",
        period=args.period,
        confirm=args.confirm,
    )
    receipt = bot.reach.receive(Inbound(ref, "cli", sender, now, (submission,)))
    outcome = receipt.outcomes[0] if receipt.outcomes else None
    if outcome is None or not outcome.stored:
        print(say(bot, "not_stored", receipt, outcome), file=sys.stderr)
        return 1
    print(say(bot, "stored", outcome))
    return 0


@with_bot
def cmd_status(args, bot: Bot) -> None:
    cycle = cycle_arg(args, bot)
    report = bot.service.status(cycle, bot.clock())
    held = bot.service.held_back(cycle)
    if args.json:
        print_json(bot.service.judged(cycle, bot.clock(), report).as_json() | {"held_back": held})
        return
    print(f"Cycle {report.cycle}: {report.submitted} of {len(report.measures)} measures in")
    for row in report.measures:
        value = row["display_value"] or "-"
        revised = f" (revised x{row['revisions'] - 1})" if row["revisions"] > 1 else ""
        print(f"  {row['id']:<8} {row['period']:<8} {row['status']:<13} {value:>12}{revised}  "
              f"{row['name']}")  # fmt: skip
    for owner, ids in sorted(report.outstanding.items()):
        print(f"Outstanding: {owner}: {', '.join(ids)}")
    for line in held:
        print(f"  {line}")


@with_bot
def cmd_exceptions(args, bot: Bot) -> None:
    cycle = cycle_arg(args, bot)
    rows = bot.service.exceptions(cycle, bot.clock())
    if args.json:
        print_json({"cycle": str(cycle), "exceptions": rows})
        return
    if not rows:
        print(f"No exceptions for {cycle}.")
    for row in rows:
        what = row["display_value"] or "no figure"
        why = ", ".join(labels(bot.templates)["REASON"][r] for r in row["exception_reasons"])
        print(f"  {row['id']:<8} {what:>12} (target {row['target_display']})  {why}: {row['name']}")
        if row["commentary"]:
            print(f'{"":11}"{row["commentary"]}"')


@with_bot
def cmd_digest(args, bot: Bot) -> None:
    if args.period:
        span = parse_span(args.period, bot.settings.year_start)
    else:
        span = as_span(cycle_arg(args, bot))
    options = {"area": args.area or "", "public": args.public}
    if span.is_year:
        draft, edited = args.draft_assurance, args.assurance
        paths = bot.write_annual(span, Path(args.out), **options,
                                 draft_assurance=Path(draft) if draft else None,
                                 assurance=Path(edited) if edited else None)  # fmt: skip
    elif args.draft_assurance or args.assurance:
        raise UsageError("--draft-assurance and --assurance are for a year's report, e.g. 2025/26")
    else:
        paths = bot.write_report(span, Path(args.out), **options)
    if args.pdf:
        from bot.render.pdf import PdfUnavailable, print_pdf

        try:
            paths.insert(1, print_pdf(paths[0], paths[0].with_suffix(".pdf")))
        except PdfUnavailable as exc:
            raise UsageError(f"the digest is written, but not its PDF: {exc}") from None
    print(say(bot, "report_written", span.label, paths, span.is_year, args.public, args.area))


@with_chats
def cmd_prompts_send(args, bot: Bot) -> None:
    cycle = cycle_arg(args, bot)
    run = bot.reach.send_prompts(cycle, bot.clock())
    print(say(bot, "prompts_sent", run, str(cycle)))
    bot.deliver_mail()  # queued already: a mail outage is reported, and the poller retries


@with_chats
def cmd_chase(args, bot: Bot) -> None:
    cycle = cycle_arg(args, bot)
    print(say(bot, "chased", bot.chase(cycle), str(cycle)))


@with_bot
def cmd_measure(args, bot: Bot) -> int:
    service = bot.service
    found = service.measure(args.measure)
    if found is None:
        print(say(bot, "no_measure", args.measure), file=sys.stderr)
        return 1
    cycle = cycle_arg(args, bot)
    rows = {r["id"]: r for r in service.status(cycle, bot.clock()).measures}
    latest = service.last_values([found.id]).get(found.id, ("", ""))
    owner = service.person_name(found.owner_email)
    deputy = service.person_name(found.deputy_email) if found.deputy_email else ""
    if args.json:
        print_json({"measure": asdict(found), "status": rows.get(found.id),
                    "latest": {"period": latest[0], "value": latest[1]}})  # fmt: skip
        return 0
    print(say(bot, "measure_card", found, rows.get(found.id), latest, owner, deputy))
    return 0


@with_bot
def cmd_mail_poll(args, bot: Bot) -> None:
    summary = bot.poll_mail()
    for result in summary.results:
        print(f"  {result.outcome:<8} {result.sender or '?'}: {result.reason}")
    counts = ", ".join(f"{summary.count(o)} {o}" for o in ("stored", "rejected", "ignored",
                                                            "quarantined"))  # fmt: skip
    print(f"{len(summary.results)} messages: {counts}, {summary.count('seen')} seen before")


@with_bot
def cmd_mail_inbound(args, bot: Bot) -> None:
    rows = bot.service.inbound(limit=args.last)
    if args.json:
        print_json({"inbound": rows})
        return
    for row in rows:
        print(f"  {row['received_at'][:16]}  {row['outcome']:<8} {row['sender'] or '?'}: "
              f"{row['reason']}")  # fmt: skip
    print(f"{len(rows)} messages (newest last)")


@with_bot
def cmd_mail_check(args, bot: Bot) -> int:
    results = bot.mail.check()
    for result in results:
        mark = "ok  " if result.ok else "FAIL"
        print(f"  {mark} {result.what}" + (f": {result.detail}" if result.detail else ""))
    failed = sum(not r.ok for r in results)
    print(f"{bot.settings.mail_backend}: " + (f"{failed} problem(s)" if failed else "all good"))
    return 1 if failed else 0


@with_chats
def cmd_tick(args, bot: Bot) -> None:
    actions = bot.tick()
    for action in actions:
        who = f" {action.owner_email}" if action.owner_email else ""
        print(f"  {action.kind:<10} {action.cycle}{who}")
    print(f"{len(actions)} actions at {bot.clock():%Y-%m-%d %H:%M %Z}")


@with_bot
def cmd_calendar(args, bot: Bot) -> None:
    today = bot.clock().astimezone(LONDON).date()
    cycle = cycle_arg(args, bot)
    dates = bot.service.calendar.cycle_dates(cycle)
    if not args.period and dates.digest < today:
        cycle, dates = cycle.shift(1), bot.service.calendar.cycle_dates(cycle.shift(1))
    print(f"Cycle {cycle} (figures for {cycle}"
          f"{' and the quarter' if cycle.month and cycle.month % 3 == 0 else ''}):")  # fmt: skip
    rows = [("prompts", dates.prompt)]
    rows += [(f"reminder {n}", day) for n, day in enumerate(dates.reminders, start=1)]
    rows += [("due", dates.due), ("escalation", dates.escalation), ("sign-off", dates.signoff),
             ("digest", dates.digest)]  # fmt: skip
    for label, day in sorted(rows, key=lambda r: r[1]):
        print(f"  {day:%a %d %b %Y}  {label}")


def cmd_backup(args, settings: Settings, clock: Clock) -> None:
    from bot.backup import backup_database

    target = backup_database(settings.db_path, Path(args.file))
    print(terminal("backed_up", str(settings.db_path), str(target), target.stat().st_size))


def cmd_restore(args, settings: Settings, clock: Clock) -> None:
    from bot.backup import restore_database

    kept = restore_database(settings.db_path, Path(args.file), clock())
    print(terminal("restored", str(settings.db_path), args.file, str(kept or "")))


def show(bot: Bot, macro: str, *args) -> str:
    """A message of templates/cli_workflow.txt, as printed."""
    module = bot.composer.templates.get_template("cli_workflow.txt").module
    return str(getattr(module, macro)(*args)).rstrip("\n")


@with_bot
def cmd_mute(args, bot: Bot) -> None:
    now = bot.clock()
    if args.list or not args.words:
        silenced = bot.service.silenced(now)
        shown = bot.store.silences() if args.all else list(silenced.values())
        print(show(bot, "silences", shown, silenced))
        return
    who = operator(args, bot, "muting the measure")
    print(show(bot, "muted", bot.service.mute(" ".join(args.words), who, "cli", now)))


@with_bot
def cmd_signoff(args, bot: Bot) -> int:
    now = bot.clock()
    cycle = cycle_arg(args, bot)
    if not args.area:
        print(show(bot, "signoff_states", bot.service.signoff_states(cycle, now)))
        return 0
    who = operator(args, bot, "signing off")
    result = bot.signoff(args.area, " ".join(args.decision), who, cycle)
    said = bot.composer.say("signoff.txt", "decision", result)
    if not result.ok:
        print(f"pmbot: {said}", file=sys.stderr)
        return 1
    print(said)
    return 0


@with_bot
def cmd_process(args, bot: Bot) -> None:
    title, cycles = process_cycles(args.period, bot)
    report = bot.service.process(title, cycles)
    if args.json:
        print_json(process_json(report))
    else:
        print(show(bot, "process", report))


def process_json(report) -> dict:
    def row(r) -> dict:
        return {"name": r.name, "expected": r.expected, "on_time": r.on_time, "late": r.late,
                "missing": r.missing, "on_time_rate": r.on_time_rate,
                "median_days_late": r.median_days_late, "corrections": r.corrections,
                "not_available": r.not_available, "not_available_rate": r.not_available_rate,
                "chases": r.chases}  # fmt: skip

    return {
        "title": report.title,
        "overall": row(report.overall),
        "owners": [row(r) for r in report.owners],
        "areas": [row(r) for r in report.areas],
        "cycles": [row(r) for r in report.cycles],
        "variation": report.variation,
    }


def process_cycles(text: str | None, bot: Bot) -> tuple[str, list[Period]]:
    """The collection cycles a span covers: a month is one, a quarter three, a year twelve
    (calendar or financial: PMBOT_YEAR_START)."""
    if not text:
        cycle = reporting_period(bot.clock().astimezone(LONDON).date())
        return str(cycle), [cycle]
    span = parse_span(text, bot.settings.year_start)
    return str(span), span.months


@with_bot
def cmd_history_show(args, bot: Bot) -> int:
    period = str(parse_reporting_period(args.period)) if args.period else None
    try:
        trail = bot.service.audit(args.measure, period)
    except KeyError:
        raise UsageError(f"{args.measure} is not a measure in the register; check the id") from None
    if args.json:
        print_json(trail)
    else:
        print(show(bot, "history", trail))
    return 0


def cmd_demo(args, settings: Settings, clock: Clock) -> int:
    from bot.demo import run_demo

    return run_demo(Path(args.dir), settings)


def cmd_serve(args, settings: Settings, clock: Clock) -> int:
    from bot.serve import serve, serve_stdin_clock

    if args.clock_from_stdin:
        return serve_stdin_clock(settings)
    return serve(settings, clock=clock, once=args.once)


# -- parser -------------------------------------------------------------------------------


def build_parser() -> argparse.ArgumentParser:
    # SUPPRESS: otherwise a subcommand's unset default would overwrite `pmbot --db X command`.
    common = argparse.ArgumentParser(add_help=False, argument_default=argparse.SUPPRESS)
    common.add_argument("--db", help="SQLite database file (default: $PMBOT_DB or data/pmbot.db)")
    common.add_argument("--now", help="act as if it were this time, e.g. 2026-11-09T10:00")
    common.add_argument("-v", "--verbose", action="store_true", help="log what happens")

    parser = argparse.ArgumentParser(
        prog="pmbot",
        description="Collect performance figures from their owners, check them, "
        "and tell leaders what needs attention.",
        parents=[common],
    )
    commands = parser.add_subparsers(title="commands", metavar="COMMAND")

    def command(group, name: str, help: str, handler=None, **kwargs) -> argparse.ArgumentParser:
        sub = group.add_parser(name, help=help, description=help, parents=[common], **kwargs)
        if handler:
            sub.set_defaults(handler=handler)
        return sub

    def group(name: str, help: str):
        sub = command(commands, name, help)
        sub.set_defaults(help_parser=sub)
        return sub.add_subparsers(title="commands", metavar="COMMAND")

    command(commands, "init", "Create the database or bring its schema up to date.", cmd_init)

    measures = group("measures", "Manage the measure register.")
    sub = command(measures, "import", "Import a register file (YAML or CSV); all or nothing.",
                  cmd_measures_import)  # fmt: skip
    sub.add_argument("file", help="register file, e.g. data/measures.yaml")
    sub = command(measures, "list", "List the active measures.", cmd_measures_list)
    sub.add_argument("--json", action="store_true", help="print JSON")

    history = group("history", "Manage past figures.")
    sub = command(history, "import", "Import past figures from CSV; all or nothing.",
                  cmd_history_import)  # fmt: skip
    sub.add_argument("file", help="CSV with measure_id, period, value, reason, commentary")
    sub = command(history, "show", "A figure's audit trail: every submission (who, when, "
                  "channel, source), the messages about it, sign-off decisions and silences.",
                  cmd_history_show)  # fmt: skip
    sub.add_argument("measure", help="measure id, e.g. OD-01")
    sub.add_argument("period", nargs="?", help="period, e.g. 2026-10 (default: every period)")
    sub.add_argument("--json", action="store_true", help="print JSON")

    sub = command(commands, "submit", "Record a figure (as the owner, or --as a deputy; "
                  "coordinators may enter figures on an owner's behalf).", cmd_submit)  # fmt: skip
    sub.add_argument("measure", help="measure id, e.g. OD-01")
    sub.add_argument("period", help="period, e.g. 2026-10 or 2026-Q3")
    sub.add_argument("value", help="the value, e.g. 48, 87.5%%, '£1.2m' or 'n/a - reason'")
    sub.add_argument("--comment", help="commentary (needed when leaders will see an exception)")
    sub.add_argument("--confirm", action="store_true",
                     help="store a figure pmbot queried as unusual for the measure")  # fmt: skip
    sub.add_argument("--as", dest="as_email", metavar="EMAIL",
                     help="who is typing it (default: $PMBOT_OPERATOR); recorded with the "
                     "figure")  # fmt: skip

    for name, help, handler in (
        ("status", "Each measure's figure and status, and who is outstanding.", cmd_status),
        ("exceptions", "Red figures and figures missing after the due date.", cmd_exceptions),
    ):
        sub = command(commands, name, help, handler)
        sub.add_argument("period", nargs="?", help="cycle, e.g. 2026-10 (default: last month)")
        sub.add_argument("--json", action="store_true", help="print JSON")

    sub = command(commands, "digest", "Write the cycle's digest: the full HTML pack, the Slack "
                  "message (JSON), the email (.eml), CSV and XLSX data.", cmd_digest)  # fmt: skip
    sub.add_argument("period", nargs="?", help="2026-10, 2026-Q3, 2026, 2026/27 or 2026/27-Q2 "
                     "(default: last month)")  # fmt: skip
    sub.add_argument("--out", default="data/digest", help="directory (default: data/digest)")
    sub.add_argument("--pdf", action="store_true",
                     help="also print the pack to an A4 PDF (needs Chromium)")  # fmt: skip
    sub.add_argument("--area", metavar="NAME", help="one outcome area's scorecard")
    sub.add_argument("--public", action="store_true", help="the pack fit to publish: no names "
                     "or addresses, only commentary marked public")
    sub.add_argument("--draft-assurance", metavar="FILE", help="for a year: also write each "
                     "area's drafted assurance paragraph to FILE, to edit")
    sub.add_argument("--assurance", metavar="FILE", help="for a year: use the assurance "
                     "paragraphs in FILE (as written by --draft-assurance, then edited)")

    prompts = group("prompts", "Ask owners for their figures.")
    sub = command(prompts, "send", "Prompt every owner with outstanding figures, by chat where "
                  "they are found, by email otherwise (once per owner and cycle).",
                  cmd_prompts_send)  # fmt: skip
    sub.add_argument("period", nargs="?", help="cycle, e.g. 2026-10 (default: last month)")
    sub = command(commands, "chase", "Remind every owner still to send, now: by chat where "
                  "they are found, by email otherwise (as /pm chase).", cmd_chase)  # fmt: skip
    sub.add_argument("period", nargs="?", help="cycle, e.g. 2026-10 (default: last month)")
    sub = command(commands, "measure", "One measure: what it is, who owns it, its figure "
                  "this cycle (as /pm measure).", cmd_measure)  # fmt: skip
    sub.add_argument("measure", help="measure id, e.g. OD-01")
    sub.add_argument("period", nargs="?", help="cycle, e.g. 2026-10 (default: last month)")
    sub.add_argument("--json", action="store_true", help="print JSON")

    mail = group("mail", "Read replies and check the mail connection.")
    command(mail, "poll", "Process every reply waiting in the inbox.", cmd_mail_poll)
    command(mail, "check", "Connect with the configured mail backend and report what works.",
            cmd_mail_check)  # fmt: skip
    sub = command(mail, "inbound", "Every message received, with what was done with it and why "
                  "(stored, rejected, ignored, quarantined).", cmd_mail_inbound)  # fmt: skip
    sub.add_argument("--last", type=int, default=50, help="how many (default 50)")
    sub.add_argument("--json", action="store_true", help="print JSON")

    sub = command(commands, "mute", "Silence a measure: not chased, no alert, shown in the pack "
                  "with the reason, until the silence ends by itself.", cmd_mute)  # fmt: skip
    sub.add_argument("words", nargs="*", metavar="ID [PERIOD | until DATE] REASON",
                     help="e.g. OD-03 2026-Q4 finance system replaced")  # fmt: skip
    sub.add_argument("--list", action="store_true", help="list the silences in force")
    sub.add_argument("--all", action="store_true", help="with --list: the ended ones too")
    sub.add_argument("--as", dest="as_email", metavar="EMAIL",
                     help="who is muting (default: $PMBOT_OPERATOR)")  # fmt: skip

    sub = command(commands, "signoff", "Approve or query an outcome area's figures, as its "
                  "approver; with no area, each area's sign-off state.", cmd_signoff)  # fmt: skip
    sub.add_argument("area", nargs="?", help='outcome area, e.g. "Operational delivery"')
    sub.add_argument("decision", nargs="*", metavar="APPROVE | QUERY ID QUESTION",
                     help="APPROVE, or QUERY OD-01 why did this jump?")  # fmt: skip
    sub.add_argument("--period", help="cycle, e.g. 2026-10 (default: last month)")
    sub.add_argument("--as", dest="as_email", metavar="EMAIL",
                     help="the approver (default: $PMBOT_OPERATOR)")  # fmt: skip

    sub = command(commands, "process", "How the reporting process ran: on time, days late, "
                  "corrections, not available and chases, per owner and area.",
                  cmd_process)  # fmt: skip
    sub.add_argument("period", nargs="?",
                     help="a month (2026-10), quarter (2026-Q4) or year (2026)")  # fmt: skip
    sub.add_argument("--json", action="store_true", help="print JSON")

    command(commands, "tick", "Do what the reporting calendar asks for now (prompts, reminders, "
            "escalations, summary, digest), once each.", cmd_tick)  # fmt: skip
    sub = command(commands, "calendar", "Print the dates of the coming cycle.", cmd_calendar)
    sub.add_argument("period", nargs="?", help="cycle, e.g. 2026-10 (default: the coming one)")

    sub = command(commands, "backup", "Copy the database, consistently, while pmbot runs "
                  "(SQLite's online backup).", cmd_backup)  # fmt: skip
    sub.add_argument("file", help="the backup file to write (or a folder for a dated name)")
    sub = command(commands, "restore", "Replace the database with a backup, after checking "
                  "it; the old file is kept beside it. Stop `pmbot serve` first.",
                  cmd_restore)  # fmt: skip
    sub.add_argument("file", help="the backup to restore")

    sub = command(commands, "demo", "Play a whole month on the sample data and show the result.",
                  cmd_demo)  # fmt: skip
    sub.add_argument("dir", nargs="?", default="data/demo",
                     help="where to leave the demo's files (default: data/demo)")  # fmt: skip

    sub = command(commands, "serve", "Run pmbot: the mail poller and the scheduler (and Slack "
                  "when configured), with /healthz on $PORT.", cmd_serve)  # fmt: skip
    sub.add_argument("--once", action="store_true", help="tick and poll once, then exit")
    sub.add_argument("--clock-from-stdin", action="store_true",
                     help="drills and tests: tick at each ISO time read from stdin")  # fmt: skip
    return parser


if __name__ == "__main__":
    sys.exit(main())
