"""Teams activities into pmbot's use cases: the one entry point for ``POST /api/messages``.

Every request's JWT is checked first (bot.teams.connector: issuer, audience, signature, service
URL); anything else is refused with 401 before its body is looked at. Then, by activity:

- ``invoke`` ``adaptiveCard/action`` (the prompt card's Submit): the figures go to the one
  inbound use case, ``Reach.receive``, with `keep_trying`: while something is refused the answer
  is the same form with the person's entries and an error under each field at fault; once all
  is taken, the confirmation card, which replaces the form.
- ``message`` in the 1:1 chat: ``OD-01: 48 ...`` lines go to the same use case; otherwise a
  command (status, chase, digest, measure, help) with the authorisation of Slack's ``/pm``.
- ``conversationUpdate``/``installationUpdate``: the app was installed for someone; pmbot
  remembers their chat so that proactive prompts reach them.

Only the tenant in PMBOT_TEAMS_TENANT_ID is served (pmbot is a single-tenant bot). Messages are
answered 200 at once and handled on a small pool, as Teams expects an answer within seconds;
a card's invoke is answered with its card.
"""

from __future__ import annotations

import hashlib
import json
import logging
import re
from collections.abc import Mapping
from concurrent.futures import ThreadPoolExecutor
from typing import TYPE_CHECKING, Any

from bot.chat import ChatError
from bot.commands import COMMANDS, parse_command
from bot.events import Inbound, Prompt, PromptLine, Receipt, Submission
from bot.outreach import period_label, reference
from bot.periods import parse_period
from bot.settings import Settings
from bot.teams.cards import CARD, COMMENTARY, VALUE, VERB, Cards, Words, plain_message
from bot.teams.config import TeamsConfig, TeamsConfigError, TeamsError
from bot.teams.transport import NAME, TeamsTransport
from bot.values import split_line
from bot.web import Answer, Endpoint
from handlers import teams_commands
from handlers.teams_commands import Host

if TYPE_CHECKING:
    from bot.teams.connector import Connector

log = logging.getLogger("pmbot.teams")
PATH = "/api/messages"  # the bot's messaging endpoint, as registered with the Azure Bot
WORKERS = 8


def configured(settings: Settings) -> bool:
    return bool(settings.extra.get("PMBOT_TEAMS_APP_ID", "").strip())


def create(bot: Host, *, connector: Connector | None = None) -> TeamsApp:
    """Build the Teams side and register it as one of the bot's chats."""
    config = TeamsConfig.from_settings(bot.settings)
    if config is None:
        raise ValueError("create() needs PMBOT_TEAMS_APP_ID")
    if connector is None:
        from bot.teams.connector import Connector  # the SDK: loaded only when Teams is on

        connector = Connector(config)
    try:
        connector.check_credentials()
    except TeamsError as exc:
        if not exc.transient:
            connector.close()
            raise TeamsConfigError(str(exc)) from exc
        # Entra is having a moment: each send tries again later (by email if need be).
        log.warning("Teams: could not check the app's credentials yet: %s", exc)
    cards = Cards(Words(bot.templates))
    transport = TeamsTransport(config, connector, cards, bot.store)
    bot.reach.add_chat(transport)
    return TeamsApp(bot, transport)


def serve(bot: Host) -> Endpoint:
    """Teams' part of `pmbot serve`: /api/messages on the HTTP edge."""
    inbound = create(bot)
    return Endpoint({PATH: inbound.handle}, f"HTTP on {PATH}", [inbound])


class TeamsApp:
    def __init__(self, bot: Host, transport: TeamsTransport) -> None:
        self.bot = bot
        self.transport = transport
        self.cards = transport.cards
        self.config = transport.config
        self.pool = ThreadPoolExecutor(WORKERS, thread_name_prefix="teams-in")

    def close(self) -> None:
        self.pool.shutdown(wait=True)
        self.transport.connector.close()

    # -- the HTTP edge ----------------------------------------------------------------------

    def handle(self, body: bytes, headers: Mapping[str, str]) -> Answer:
        """One POST to /api/messages."""
        try:
            activity = json.loads(body)
        except ValueError:
            activity = None
        if not isinstance(activity, dict):
            return Answer(400, {"error": "BadRequest"})
        authorization = next((v for k, v in headers.items() if k.lower() == "authorization"), "")
        if not self.transport.connector.check_token(authorization, activity.get("serviceUrl", "")):
            return Answer(401, {"error": "Unauthorized"})
        tenant = (activity.get("conversation") or {}).get("tenantId") or (
            (activity.get("channelData") or {}).get("tenant") or {}).get("id")  # fmt: skip
        if tenant != self.config.tenant_id:
            log.warning("Teams activity from another tenant ignored")
            return Answer(403, {"error": "Forbidden"})
        kind = activity.get("type")
        if kind == "invoke" and activity.get("name") == "adaptiveCard/action":
            return self.guarded(activity, self.on_card_action)
        if kind in ("message", "conversationUpdate", "installationUpdate"):
            self.pool.submit(self.guarded, activity, self.on_activity)
            return Answer(200)
        return Answer(200)

    def guarded(self, activity: dict[str, Any], handler) -> Answer:
        """The one error boundary: log the traceback, tell the person once, never raise."""
        try:
            return handler(activity)
        except Exception:
            log.exception("Teams %s %s failed", activity.get("type"), activity.get("id", ""))
            conversation = (activity.get("conversation") or {}).get("id", "")
            if activity.get("type") == "invoke":
                return invoke_answer(self.cards.say("sorry")["text"])
            try:
                if conversation:
                    self.transport.say(conversation, self.cards.say("sorry"))
            except ChatError:
                log.warning("could not tell the person about the error")
            return Answer(200)

    # -- activities -------------------------------------------------------------------------

    def on_activity(self, activity: dict[str, Any]) -> Answer:
        conversation = activity.get("conversation") or {}
        if conversation.get("conversationType", "personal") != "personal":
            return Answer(200)  # the leaders' channel: pmbot posts there, it does not listen
        if activity["type"] != "message":
            if uninstalled(activity):  # prompts go by email from now on
                self.transport.forget(conversation.get("id", ""))
            else:  # installed: remember their chat for proactive prompts
                self.identify(activity)
            return Answer(200)
        sender = self.identify(activity) or ""
        text = message_text(activity)
        submissions = typed_submissions(text, activity, sender, self.bot.clock())
        words = text.split()
        if not submissions and words and words[0].lower() in COMMANDS:
            teams_commands.run(self.bot, self.transport, activity, sender, parse_command(text))
        else:
            self.receive_typed(activity, sender, submissions)
        return Answer(200)

    def identify(self, activity: dict[str, Any]) -> str | None:
        """The sender's email: from the chat pmbot knows, else asked of Teams (and the chat
        remembered when they are in the register)."""
        conversation = (activity.get("conversation") or {}).get("id", "")
        user = activity.get("from") or {}
        if not conversation or not user.get("id") or user.get("id") == activity.get(
                "recipient", {}).get("id"):  # fmt: skip
            return None
        email = self.transport.email_for(conversation)
        if email:
            return email
        email = self.transport.connector.member_email(conversation, user["id"]) or None
        if email and self.bot.service.is_known(email):
            self.transport.remember(email, conversation)
        return email

    def receive_typed(
        self, activity: dict[str, Any], sender: str, submissions: list[Submission]
    ) -> None:
        conversation = activity["conversation"]["id"]
        inbound = Inbound(
            message_id=message_key(activity),
            channel=NAME,
            sender=sender,
            received_at=self.bot.clock(),
            submissions=tuple(submissions),
        )

        def confirm(receipt: Receipt) -> None:
            if receipt.code == "confirmation":
                text = self.cards.confirmation_text(receipt.outcomes)
                self.transport.say(conversation, plain_message(text))
            else:
                self.transport.say(conversation, self.cards.say(receipt.code))

        self.bot.reach.receive(inbound, confirm=confirm)

    def on_card_action(self, activity: dict[str, Any]) -> Answer:
        action = (activity.get("value") or {}).get("action") or {}
        if action.get("verb") != VERB:
            return invoke_answer(self.cards.say("no_figures")["text"])
        data = action.get("data") or {}
        sender = self.identify(activity) or ""
        prompt = self.cards_prompt(data)
        typed = {k: str(v) for k, v in data.items() if k.partition(":")[0] in (VALUE, COMMENTARY)}
        now = self.bot.clock()
        submissions = form_submissions(typed, activity, sender, data.get("cycle"), now)
        if prompt is None:
            return invoke_answer(self.cards.say("no_figures")["text"])
        chase = bool(data.get("chase"))
        if not submissions:
            errors = self.cards.nothing_typed(prompt.lines[0].measure_id)
            return invoke_card(self.cards.prompt(prompt, chase=chase, typed=typed, errors=errors))
        confirmed: list[Receipt] = []
        receipt = self.bot.reach.receive(
            Inbound(
                message_id=f"teams:card:{activity.get('replyToId', '')}:{fingerprint(typed)}",
                channel=NAME,
                sender=sender,
                received_at=now,
                submissions=tuple(submissions),
            ),
            confirm=confirmed.append,
            keep_trying=True,
        )
        if receipt.code == "stranger":
            return invoke_answer(self.cards.say("stranger")["text"])
        if any(not o.stored for o in receipt.outcomes):
            errors = self.cards.form_errors(receipt.outcomes)
            return invoke_card(self.cards.prompt(prompt, chase=chase, typed=typed, errors=errors))
        return invoke_card(self.cards.confirmation(receipt.outcomes))

    def cards_prompt(self, data: Mapping[str, Any]):
        """The prompt the card was built from, out of what the card carried back."""
        try:
            lines = [PromptLine(**{k: str(v) for k, v in m.items()}) for m in data["measures"]]
            cycle = parse_period(str(data["cycle"]))
        except (KeyError, TypeError, ValueError):
            return None
        if not lines:
            return None
        owner = str(data.get("owner", ""))
        service = self.bot.service
        due = service.calendar.cycle_dates(cycle).due
        return Prompt(owner, service.person_name(owner), str(cycle), period_label(cycle),
                      f"{due:%A} {due.day} {due:%B %Y}", reference(owner, cycle),
                      lines)  # fmt: skip


# -- activities into events (pure) ------------------------------------------------------------

TAG = re.compile(r"<[^>]+>")


def message_text(activity: Mapping[str, Any]) -> str:
    """What the person typed: Teams may send simple HTML (and an <at> mention of the bot)."""
    text = str(activity.get("text") or "")
    text = re.sub(r"<at>[^<]*</at>", "", text)
    text = re.sub(r"<br\s*/?>|</p>|</div>", "\n", text)
    return TAG.sub("", text).replace("&nbsp;", " ").replace("&amp;", "&").replace(
        "&lt;", "<").replace("&gt;", ">").strip()  # fmt: skip


def uninstalled(activity: Mapping[str, Any]) -> bool:
    """The app was removed for this person (or the bot left their chat)."""
    if activity.get("type") == "installationUpdate":
        return str(activity.get("action", "")).startswith("remove")
    bot_id = (activity.get("recipient") or {}).get("id")
    return any(m.get("id") == bot_id for m in activity.get("membersRemoved") or [])


def message_key(activity: Mapping[str, Any]) -> str:
    return f"teams:{(activity.get('conversation') or {}).get('id', '')}:{activity.get('id', '')}"


def typed_submissions(text: str, activity: Mapping[str, Any], sender: str, now) -> list[Submission]:
    """One Submission per `OD-01: 48 ...` line."""
    key = message_key(activity)
    submissions = []
    for number, line in enumerate(text.splitlines(), start=1):
        pair = split_line(line)
        if pair is None or not pair[1].strip():
            continue
        submissions.append(Submission(measure_id=pair[0], raw_value=pair[1], sender=sender,
                                      channel=NAME, source_ref=f"{key}#{number}",
                                      received_at=now))  # fmt: skip
    return submissions


def fingerprint(fields: Mapping[str, str]) -> str:
    text = json.dumps({k: v.strip() for k, v in sorted(fields.items())})
    return hashlib.sha1(text.encode()).hexdigest()[:12]


def form_submissions(
    typed: Mapping[str, str], activity: Mapping[str, Any], sender: str, cycle: Any, now
) -> list[Submission]:
    """One Submission per measure whose value was filled in. A figure sent again unchanged has
    the same source reference, so a form resent after a refusal stores nothing twice."""
    card = activity.get("replyToId", "")
    submissions = []
    for key, value in typed.items():
        kind, _, measure_id = key.partition(":")
        if kind != VALUE or not value.strip():
            continue
        commentary = typed.get(f"{COMMENTARY}:{measure_id}", "").strip()
        mark = fingerprint({"v": value, "c": commentary})
        submissions.append(Submission(measure_id=measure_id, raw_value=value.strip(),
                                      sender=sender, channel=NAME,
                                      source_ref=f"teams:card:{card}:{measure_id}:{mark}",
                                      received_at=now, commentary=commentary,
                                      cycle=str(cycle) if cycle else None))  # fmt: skip
    return submissions


def invoke_card(card: dict[str, Any]) -> Answer:
    """The answer to an Action.Execute: this card replaces the one pressed."""
    return Answer(200, {"statusCode": 200, "type": CARD, "value": card})


def invoke_answer(text: str) -> Answer:
    """The answer to an Action.Execute that shows a short message and leaves the card as is."""
    return Answer(200, {"statusCode": 200, "type": "application/vnd.microsoft.activity.message",
                        "value": text})  # fmt: skip


__all__ = ["Answer", "TeamsApp", "configured", "create"]
