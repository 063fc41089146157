"""The one factory that builds pmbot: store, service, mail backend, templates, clock.

Nothing is created at import time; tests build the bot from `create_app` with their own
settings, clock and (if they like) a mail backend made of plain functions.
"""

from __future__ import annotations

import dataclasses
import gc
import importlib
import json
import logging
import sqlite3
import threading
from collections import defaultdict
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from datetime import datetime
from email.message import Message
from itertools import islice
from pathlib import Path
from types import ModuleType

import jinja2

from bot import packs
from bot.annual import assurance_text, read_assurance, with_assurance
from bot.chat import ChatTransport
from bot.events import Prompt
from bot.files import write_atomically
from bot.mail.base import (
    InboundMail,
    MailBackend,
    MailError,
    MailRefused,
    MailUnavailable,
    queued_message,
)
from bot.mail.compose import Composer, outgoing
from bot.measures import read_text
from bot.periods import LONDON, Period, WorkingCalendar, parse_period
from bot.reach import ChaseResult, Reach
from bot.render import environment
from bot.render.annual import drafted, write_annual
from bot.render.email import digest_message
from bot.render.pack import render_pack, write_pack
from bot.render.slack import slack_blocks
from bot.render.tables import write_tables
from bot.reports import for_area, slug
from bot.service import Service
from bot.settings import ConfigError, Settings
from bot.signoff import REMINDER as SIGNOFF_REMINDER
from bot.signoff import REQUEST as SIGNOFF_REQUEST
from bot.spans import Span, as_span
from bot.store import Outgoing, Store
from bot.templating import checked_once
from bot.timetable import Action
from bot.workflow import DecisionResult
from handlers.email_reply import ReplyResult, handle_reply, quarantine

log = logging.getLogger("pmbot")
# The poller and the scheduler deliver from the same outbox; one at a time, so that a message
# is never picked up by both. (One pmbot process per database, as the README says.)
DELIVERY = threading.Lock()
# Messages a poll takes per transaction. A commit per message cost about 0.1 ms of CPU, a
# twentieth of a reply; a batch holds the write lock for about a tenth of a second.
POLL_BATCH = 50
# Sends recorded per transaction, for a backend where sending a message twice delivers it once.
DELIVERY_GROUP = 100
Clock = Callable[[], datetime]


def system_clock() -> datetime:
    return datetime.now(LONDON)


@dataclass
class PollSummary:
    results: list[ReplyResult] = field(default_factory=list)

    def count(self, outcome: str) -> int:
        return sum(r.outcome == outcome for r in self.results)


@dataclass
class Bot:
    settings: Settings
    store: Store
    service: Service
    mail: MailBackend
    composer: Composer
    clock: Clock
    reach: Reach = field(init=False)

    def __post_init__(self) -> None:
        self.reach = Reach(self.service, self.composer, self.clock, self.deliver_mail)
        self.reach.packs = packs.configured(self.settings, self.clock)

    @property
    def templates(self) -> jinja2.Environment:
        """The one template environment: every sentence a person reads is rendered by it."""
        return self.composer.templates

    @property
    def chats(self) -> list[ChatTransport]:
        """The chat transports owners and leaders are reached by (email does the rest)."""
        return self.reach.chats

    def send_prompts(self, cycle: Period) -> list[Prompt]:
        """Prompt each owner who has outstanding measures and no prompt yet for this cycle:
        by chat where they are found, by email otherwise."""
        run = self.reach.send_prompts(cycle, self.clock())
        self.deliver_mail()
        return run.prompts

    def chase(self, cycle: Period, stamp: str | None = None) -> ChaseResult:
        """Remind every owner still to send, now: by chat where found, by email otherwise."""
        now = self.clock()
        return self.reach.chase(cycle, stamp or now.isoformat(), now)

    def tick(self) -> list[Action]:
        """Do what the clock asks for now; each action once, recorded with its message."""
        now = self.clock()
        actions, report = self.service.due_actions(now)
        if report is not None and actions:
            cycle = parse_period(report.cycle)
            owners = {a.owner_email for a in actions if a.owner_email}
            prompts = self.service.prompts_for(cycle, report, owners)
            asks: dict[tuple[str, int], list[tuple[Prompt, str]]] = defaultdict(list)
            for action in actions:
                if action.kind in (SIGNOFF_REQUEST, SIGNOFF_REMINDER):
                    self.ask_approver(action, report, now)
                    continue
                if action.kind in ("prompt", "reminder"):
                    asks[action.kind, action.reminder].append(
                        (prompts[action.owner_email], action.key)
                    )
                    continue
                message = self.compose(action, prompts, report, now)
                if message is None:
                    log.warning("%s %s: nobody to send it to", action.kind, action.key)
                self.service.record_action(action.kind, action.key, now, cycle=action.cycle,
                                           outgoing=message)  # fmt: skip
                log.info("%s %s", action.kind, action.key)
                if action.kind == "digest" and self.settings.area_scorecards:
                    self.send_scorecards(parse_period(action.cycle), now)
                if action.kind == "escalation":
                    # The deputy gets the prompt itself, not a note to reply to someone else's.
                    self.reach.prompt_deputies(action.owner_email, cycle, now, away=False)
            for (kind, reminder), keyed in asks.items():
                self.reach.send(kind, keyed, now, reminder=reminder)
                log.info("%s to %d owner(s)", kind, len(keyed))
        if report is not None:
            self.reach.update_leaders(parse_period(report.cycle), now, report)
        self.deliver_mail()
        self.service.forget_old_mail(now)
        return actions

    def signoff(
        self, area: str, text: str, who: str, cycle: Period, channel: str = "cli"
    ) -> DecisionResult:
        """Record an approver's decision typed at a command; a query goes to the owner."""
        now = self.clock()
        result = self.reach.decide(text=text, who=who, channel=channel, now=now, cycle=cycle,
                                   source_ref=f"{channel}:{now.isoformat()}:{area}",
                                   area=area)  # fmt: skip
        self.reach.deliver_quietly()
        return result

    def ask_approver(self, action: Action, report, now: datetime) -> None:
        """Put an area's figures to its approver (once per round): by chat, else email."""
        self.reach.ask_signoff(action, self.service.signoff_request(action, report), now)
        log.info("%s %s", action.kind, action.key)

    def compose(self, action: Action, prompts, report, now: datetime) -> Outgoing | None:
        key = f"{action.kind}:{action.key}"
        if action.kind in ("prompt", "reminder"):
            message = self.composer.prompt(prompts[action.owner_email], now, action.reminder)
            return outgoing(action.kind, key, message)
        if action.kind == "escalation":
            deputies = self.service.deputies_of(action.measure_ids)
            recipients = [*self.service.people_with_role("coordinator"), *deputies]
            if not recipients:
                return None
            message = self.composer.escalation(prompts[action.owner_email], recipients,
                                               deputies, now)  # fmt: skip
            return outgoing(action.kind, key, message)
        leaders = self.service.people_with_role("leadership")
        if not leaders:
            return None
        cycle = parse_period(action.cycle)
        if action.kind == "summary":
            context = self.service.summary_context(cycle, now)
            return outgoing(action.kind, key, self.composer.summary(leaders, now, **context))
        return outgoing(action.kind, key, self.digest_message(cycle, leaders, now))

    def send_scorecards(self, cycle: Period, now: datetime) -> int:
        """On digest day, each area's lead gets their area's scorecard (once per area and
        cycle); leaders get the whole pack as before. Returns how many were queued."""
        digest = self.service.digest(cycle, now)
        queued = 0
        for area in self.store.areas():
            if not any(m.area == area.name for m in digest.measures):
                continue
            scorecard = for_area(digest, area.name)
            message = digest_message(
                scorecard, self.settings.mail_from, [area.lead_email], now,
                self.settings.mail_domain, pack=render_pack(scorecard, self.templates),
                env=self.templates,
            )  # fmt: skip
            key = f"{area.name}:{cycle}"
            queued += self.service.record_action(
                "scorecard", key, now, cycle=str(cycle),
                outgoing=outgoing("scorecard", f"scorecard:{key}", message),
            )  # fmt: skip
        return queued

    def digest_message(self, cycle: Period, recipients: list[str], now: datetime) -> Message:
        """The digest email with its charts inline and the full pack attached."""
        digest = self.service.digest(cycle, now)
        return digest_message(digest, self.settings.mail_from, recipients, now,
                              self.settings.mail_domain, pack=self.reach.pack(digest),
                              env=self.templates)  # fmt: skip

    def write_digest(self, cycle: Period, directory: Path) -> list[Path]:
        """Every form of the digest, for people and for machines, written into `directory`."""
        return self.write_report(as_span(cycle), directory)

    def write_report(
        self, span: Span, directory: Path, *, area: str = "", public: bool = False
    ) -> list[Path]:
        """Every form of a month's or a quarter's digest, an area's scorecard (``area``) or the
        pack fit to publish (``public``: the page and the data only, nothing addressed)."""
        now = self.clock()
        digest = self.service.report(span, now, area=area, public=public)
        if area:
            digest = dataclasses.replace(digest, cycle=f"{digest.cycle}-{slug(area)}")
        if public:
            digest = dataclasses.replace(digest, cycle=f"{digest.cycle}-public")
        directory.mkdir(parents=True, exist_ok=True)
        if public:
            return [write_pack(digest, directory, self.templates),
                    *write_tables(digest, directory, self.templates)]  # fmt: skip
        pack = write_pack(digest, directory, self.templates)
        slack = directory / f"digest-{digest.cycle}-slack.json"
        blocks = slack_blocks(digest, env=self.templates)
        write_atomically(slack, json.dumps(blocks, indent=2, ensure_ascii=False))
        recipients = self.service.people_with_role("leadership") or ["leadership@example.org"]
        if area:
            recipients = [a.lead_email for a in self.store.areas() if a.name == area] or recipients
        email = directory / f"digest-{digest.cycle}.eml"
        # The email says the pack is attached, so it is: the same HTML as the file beside it.
        html = pack.read_text(encoding="utf-8")
        message = digest_message(digest, self.settings.mail_from, recipients, now,
                                 self.settings.mail_domain, pack=html,
                                 env=self.templates)  # fmt: skip
        write_atomically(email, message.as_bytes())
        return [pack, slack, email, *write_tables(digest, directory, self.templates)]

    def write_annual(
        self,
        span: Span,
        directory: Path,
        *,
        area: str = "",
        public: bool = False,
        draft_assurance: Path | None = None,
        assurance: Path | None = None,
    ) -> list[Path]:
        """The annual report (page and CSV). ``draft_assurance`` also writes the drafted area
        paragraphs there for a coordinator to edit; ``assurance`` uses such an edited file."""
        report = self.service.annual(span, self.clock(), area=area, public=public)
        report = drafted(report, self.templates)
        if area:
            report = dataclasses.replace(report, slug=f"{report.slug}-{slug(area)}")
        if public:
            report = dataclasses.replace(report, slug=f"{report.slug}-public")
        written = []
        if draft_assurance is not None:
            draft_assurance.parent.mkdir(parents=True, exist_ok=True)
            draft_assurance.write_text(assurance_text(report), encoding="utf-8")
            written.append(draft_assurance)
        if assurance is not None:
            report = with_assurance(report, read_assurance(read_text(assurance), report))
        edited = assurance is not None
        return [*write_annual(report, directory, edited=edited, env=self.templates), *written]

    def poll_mail(self) -> PollSummary:
        """Process every message in the inbox once; each is moved out of the inbox after.

        Mail still queued from an earlier outage goes first; raises MailUnavailable when the
        server cannot be reached (the caller reports it once per outage).
        """
        self.deliver_mail()
        summary = PollSummary()
        inbox = self.mail.fetch()
        with checked_once(self.composer.templates):
            self._take(inbox, summary)
        self.deliver_mail()
        return summary

    def _take(self, inbox: Iterator[InboundMail], summary: PollSummary) -> None:
        while batch := list(islice(inbox, POLL_BATCH)):
            # A batch is one transaction, each message a savepoint in it (a commit per message
            # cost a twentieth of a reply). Messages leave the inbox only once their records
            # are committed, so a crash at any point means the batch is read again, and each
            # message is then recognised as seen or handled as if for the first time.
            with self.store.atomic():
                results = [self.handle_mail(mail) for mail in batch]
            for mail, result in zip(batch, results, strict=True):
                if result.outcome == "quarantined":
                    getattr(self.mail, "quarantine", self.mail.mark_done)(mail)
                else:
                    self.mail.mark_done(mail)
                log.info("mail %s from %s: %s (%s)", result.message_id, result.sender,
                         result.outcome, result.reason)  # fmt: skip
            summary.results += results

    def handle_mail(self, mail: InboundMail) -> ReplyResult:
        """One message, isolated: whatever it does, it is recorded and the poll goes on.

        Only the database failing stops the poll (every later message would fail the same
        way, and nothing could be recorded).
        """
        now = self.clock()
        try:
            # Its figures, its record and its confirmation are kept together, or none of them.
            with self.store.atomic():
                return handle_reply(
                    mail,
                    reach=self.reach,
                    composer=self.composer,
                    bot_address=self.settings.mail_from,
                    now=now,
                    authserv_id=self.settings.extra.get("PMBOT_MAIL_AUTHSERV_ID", ""),
                )
        except (sqlite3.Error, OSError, MailError):
            raise
        except Exception as exc:  # a bug one message triggers must not hold up everyone's
            log.exception("mail %s could not be processed; quarantined", mail.key)
            reason = f"crashed: {type(exc).__name__}"
            return quarantine(mail, self.service, now, reason)

    def deliver_mail(self) -> int:
        """Send what the outbox holds. A refused message is set aside with its reason; when the
        server is unavailable the rest stay queued for the next attempt. Returns how many went."""
        with DELIVERY:
            return self._deliver_mail()

    def _deliver_mail(self) -> int:
        # What a group sent is recorded in one transaction after it went: one message a group,
        # so that a crash can never send a message twice, unless sending twice delivers once
        # (Maildir names the file after the Message-ID), where a commit per send was a tenth
        # of a poll. Sending happens outside the transaction: a slow server never holds the
        # database's write lock.
        group = DELIVERY_GROUP if getattr(self.mail, "idempotent_send", False) else 1
        sent = 0
        # A batch at a time, until none is left: each is marked as it goes, so the next query
        # returns the next batch.
        while batch := self.service.pending_mail():
            for start in range(0, len(batch), group):
                sent += self._deliver_group(batch[start : start + group])
        return sent

    def _deliver_group(self, rows: list[dict]) -> int:
        went: list[tuple[int, str]] = []
        failed: list[tuple[int, str, bool]] = []  # (id, error, permanent)
        unavailable = None
        for row in rows:
            try:
                went.append((row["id"], self.mail.send(queued_message(row["message"]))))
            except MailRefused as exc:
                log.error("mail %s to %s refused: %s", row["key"], row["recipients"], exc)
                failed.append((row["id"], str(exc), True))
            except MailUnavailable as exc:
                failed.append((row["id"], str(exc), False))
                unavailable = exc
                break
        now = self.clock()
        with self.store.atomic():
            for outgoing_id, reference in went:
                self.service.mail_sent(outgoing_id, reference, now)
            for outgoing_id, error, permanent in failed:
                self.service.mail_failed(outgoing_id, error, permanent=permanent)
        if unavailable is not None:  # raised once what went is recorded
            raise unavailable
        return len(went)

    def close(self) -> None:
        self.mail.close()
        self.store.close()


def make_mail_backend(settings: Settings) -> MailBackend:
    """The backend PMBOT_MAIL_BACKEND names; each reads its own PMBOT_* variables."""
    # Imported here so that a Maildir user never loads exchangelib or an HTTP client.
    if settings.mail_backend == "maildir":
        from bot.mail.maildir import MaildirBackend

        return MaildirBackend(settings.maildir)
    if settings.mail_backend == "imap":
        from bot.mail.imap import ImapBackend

        return ImapBackend.from_settings(settings)
    if settings.mail_backend == "ews":
        from bot.mail.ews import EwsBackend

        return EwsBackend.from_settings(settings)
    if settings.mail_backend == "graph":
        from bot.mail.graph import GraphBackend

        return GraphBackend.from_settings(settings)
    raise ConfigError(f"PMBOT_MAIL_BACKEND={settings.mail_backend} is not a mail backend")


# The chat adapters, by package: each has `configured(settings)` and `create(bot)` (which
# registers its transport with the bot). A new chat transport adds its package here.
CHAT_ADAPTERS = ("handlers.slack", "handlers.teams")


def chat_adapters(settings: Settings) -> list[ModuleType]:
    """The chat adapters the settings configure, each with `create(bot)` (register it as one of
    the bot's chats) and `serve(bot)` (that, plus its bot.web.Endpoint for `pmbot serve`)."""
    adapters = [importlib.import_module(name) for name in CHAT_ADAPTERS]
    return [adapter for adapter in adapters if adapter.configured(settings)]


def add_chats(bot: Bot) -> None:
    """Connect every configured chat transport (each checks its credentials first and raises
    ConfigError with one line saying what to fix)."""
    for adapter in chat_adapters(bot.settings):
        adapter.create(bot)


# CPython looks for reference cycles every 700 new container objects. A digest makes millions
# (frames, rows, cells, strings of markup) that reference counting frees at once, and with
# thousands of measures alive each pass walks a large heap: it was a quarter of the digest's
# CPU (2,000 measures, model and every output: 3.0 -> 2.25 s; 8,000: 13.8 -> 9 s), with the
# same peak memory. Cycles are still collected, every 20,000 objects.
GC_THRESHOLD = 20_000


def space_out_garbage_collection() -> None:
    """Raise the youngest generation's threshold to ``GC_THRESHOLD`` (never lower it)."""
    first, *older = gc.get_threshold()
    if 0 < first < GC_THRESHOLD:
        gc.set_threshold(GC_THRESHOLD, *older)


def create_app(
    settings: Settings,
    *,
    clock: Clock = system_clock,
    mail: MailBackend | None = None,
    chats: bool = False,
) -> Bot:
    """The bot; with `chats`, connected to every configured chat transport too."""
    space_out_garbage_collection()
    store = Store(settings.db_path)
    store.migrate()
    calendar = WorkingCalendar(settings.calendar)
    # The one template environment, from the templates-directory setting: email, chats, the
    # CLI, the service's sentences and every digest renderer get it.
    templates = environment(settings.templates_dir)
    service = Service(
        store,
        calendar,
        coordinators=settings.coordinators,
        leaders=settings.leadership_emails,
        spc_rules=settings.spc_rules,
        commentary_required=settings.commentary_required,
        organisation=settings.organisation,
        year_start=settings.year_start,
        templates=templates,
    )
    composer = Composer(templates, settings.mail_from, settings.mail_domain)
    bot = Bot(settings, store, service, mail or make_mail_backend(settings), composer, clock)
    if chats:
        try:
            add_chats(bot)
        except BaseException:
            bot.close()
            raise
    return bot


__all__ = ["Bot", "MailError", "create_app", "make_mail_backend", "system_clock"]
