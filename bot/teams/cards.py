r"""Adaptive Cards and plain messages for Teams, worded by templates/teams/.

`Words` loads the two template files: ``cards.txt`` for Adaptive Card TextBlocks, where every
value printed is escaped for the cards' markdown (`escape_card`), and ``messages.txt`` for
plain-text chat messages, sent with textFormat "plain" and so shown exactly as typed.

The prompt card is a form: one value and one commentary input per outstanding measure, with
its last value and target, and an ``Action.Execute`` button. Teams sends the inputs back as an
``adaptiveCard/action`` invoke; the card returned in the answer replaces the form (with
per-field errors while something is refused, with the confirmation once all is taken).

>>> print(escape_card("**free** [link](http://x) {{DATE(2026-01-01)}}"))
\*\*free\*\* \[link\]\(http://x\) \{\{DATE\(2026-01-01\)\}\}
>>> print(escape_card("- not a list, 1. nor this"))
\- not a list, 1. nor this
"""

from __future__ import annotations

import re
from collections import Counter
from collections.abc import Iterable
from typing import Any

import jinja2

from bot.alerts import Plan, Summary
from bot.digest_model import Digest
from bot.events import Outcome, Prompt, PromptLine
from bot.templating import as_typed, escaped_with

CARD = "application/vnd.microsoft.card.adaptive"
SCHEMA = "http://adaptivecards.io/schemas/adaptive-card.json"
VERSION = "1.5"  # Action.Execute (Universal Actions) needs 1.4; Teams renders 1.5
VERB = "submit_figures"
VALUE, COMMENTARY = "value", "commentary"  # input id prefixes: "value:OD-01"
MAX_FORM_MEASURES = 40  # two inputs and two lines each stay well inside the 28 KB card limit
MAX_ALERTS = 30
MAX_DIGEST_EXCEPTIONS = 8
MAX_TEXT = 4000  # a plain message; Teams takes ~28 KB, but nobody reads that much in a chat

# Characters Adaptive Card markdown gives a meaning to (emphasis, links, lists), its date and
# time functions ({{DATE(...)}}) and the escape character itself.
CARD_SPECIAL = re.compile(r"([\\*_\[\]()~`{}>#|])")
LIST_START = re.compile(r"^(\s*)([-+]|\d+\.)(?=\s)", re.MULTILINE)


def escape_card(text: str) -> str:
    """User text as Adaptive Card markdown that shows exactly what was typed."""
    escaped = CARD_SPECIAL.sub(r"\\\1", text)
    return LIST_START.sub(lambda m: m.group(1) + m.group(2)[:-1] + "\\" + m.group(2)[-1],
                          escaped)  # fmt: skip


class Words:
    def __init__(self, env: jinja2.Environment) -> None:
        escaped = env.overlay(finalize=escaped_with(escape_card))
        typed = env.overlay(finalize=as_typed)
        self._cards = escaped.get_template("teams/cards.txt").module
        # Input labels, placeholders and button titles are plain text in a card: as typed.
        self._labels = typed.get_template("teams/cards.txt").module
        self._plain = typed.get_template("teams/messages.txt").module
        self.refusal = refusal_wording(env)

    def card(self, macro: str, *args: Any) -> str:
        return str(getattr(self._cards, macro)(*args)).strip()

    def label(self, macro: str, *args: Any) -> str:
        return " ".join(str(getattr(self._labels, macro)(*args)).split())

    def plain(self, macro: str, *args: Any) -> str:
        return str(getattr(self._plain, macro)(*args)).strip()


def refusal_wording(env: jinja2.Environment):
    """The sentence telling the sender why a figure was refused."""
    wording = env.filters.get("outcome")
    return (lambda o: str(wording(o))) if wording else (lambda o: o.message)


# -- activities -------------------------------------------------------------------------------


def plain_message(text: str) -> dict[str, Any]:
    return {"type": "message", "textFormat": "plain", "text": text[:MAX_TEXT]}


def card_message(card: dict[str, Any], summary: str) -> dict[str, Any]:
    """A message carrying one card; `summary` is what notifications and screen readers show
    before the card is opened."""
    return {
        "type": "message",
        "summary": summary[:200],
        "attachments": [{"contentType": CARD, "content": card}],
    }


def adaptive_card(body: list[dict[str, Any]], actions: Iterable[dict[str, Any]] = ()):
    card: dict[str, Any] = {"type": "AdaptiveCard", "$schema": SCHEMA, "version": VERSION,
                            "body": body}  # fmt: skip
    if actions := list(actions):
        card["actions"] = actions
    return card


def text_block(text: str, **style: Any) -> dict[str, Any]:
    return {"type": "TextBlock", "text": text, "wrap": True, **style}


def text_input(input_id: str, label: str, *, value: str = "", placeholder: str = "",
               multiline: bool = False, max_length: int = 200) -> dict[str, Any]:  # fmt: skip
    element = {"type": "Input.Text", "id": input_id, "label": label, "isMultiline": multiline,
               "maxLength": max_length}  # fmt: skip
    if value:
        element["value"] = value[:max_length]
    if placeholder:
        element["placeholder"] = placeholder
    return element


class Cards:
    """Every Teams surface: the prompt form, confirmations, the alert summary, the digest."""

    def __init__(self, words: Words) -> None:
        self.words = words

    # -- owners -----------------------------------------------------------------------------

    def prompt(
        self,
        prompt: Prompt,
        *,
        chase: bool = False,
        typed: dict[str, str] | None = None,
        errors: dict[str, str] | None = None,
    ) -> dict[str, Any]:
        """The form. `typed` keeps what the person entered (input id -> text) and `errors`
        puts a message under the input at fault, when the card comes back after a refusal."""
        w, typed, errors = self.words, typed or {}, errors or {}
        body = [text_block(w.card("prompt_intro", prompt, chase))]
        lines = prompt.lines[:MAX_FORM_MEASURES]
        for line in lines:
            body.append(self.measure_inputs(line, typed, errors))
        body.append(text_block(w.card("prompt_how"), isSubtle=True, size="small"))
        body.append(text_block(w.card("prompt_reference", prompt), isSubtle=True, size="small"))
        data = {"cycle": prompt.cycle, "chase": chase, "owner": prompt.owner_email,
                "measures": [line_fields(line) for line in lines]}  # fmt: skip
        action = {"type": "Action.Execute", "verb": VERB, "title": w.label("submit_button"),
                  "style": "positive", "data": data}  # fmt: skip
        return adaptive_card(body, [action])

    def measure_inputs(self, line: PromptLine, typed: dict[str, str], errors: dict[str, str]):
        w = self.words
        value_id, commentary_id = f"{VALUE}:{line.measure_id}", f"{COMMENTARY}:{line.measure_id}"
        items = [
            text_block(w.card("measure_heading", line), weight="bolder"),
            text_block(w.card("measure_facts", line), isSubtle=True, spacing="none"),
            text_input(value_id, w.label("value_label", line), value=typed.get(value_id, ""),
                       placeholder=w.label("value_placeholder", line)),  # fmt: skip
        ]
        if value_id in errors:
            items.append(self.field_error(errors[value_id]))
        items.append(
            text_input(commentary_id, w.label("commentary_label", line),
                       value=typed.get(commentary_id, ""), multiline=True, max_length=2000)
        )  # fmt: skip
        if commentary_id in errors:
            items.append(self.field_error(errors[commentary_id]))
        return {"type": "Container", "separator": True, "spacing": "medium", "items": items}

    def field_error(self, text: str) -> dict[str, Any]:
        # Colour alone is not enough (WCAG 1.4.1): the text starts with a warning sign and says
        # what to do.
        return text_block(self.words.card("field_error", text), color="attention",
                          spacing="small")  # fmt: skip

    def form_errors(self, outcomes: Iterable[Outcome]) -> dict[str, str]:
        """Input id -> what is wrong with it, for each refused figure."""
        errors = {}
        for outcome in outcomes:
            if outcome.stored:
                continue
            if outcome.field == COMMENTARY:
                errors[f"{COMMENTARY}:{outcome.measure_id}"] = self.words.card(
                    "explain_red", outcome.measure_id
                )
            else:
                errors[f"{VALUE}:{outcome.measure_id}"] = self.words.refusal(outcome)
        return errors

    def nothing_typed(self, first_measure: str) -> dict[str, str]:
        return {f"{VALUE}:{first_measure}": self.words.card("nothing_to_submit")}

    def confirmation(self, outcomes: Iterable[Outcome]) -> dict[str, Any]:
        """The card that replaces the form once every figure is taken."""
        outcomes = list(outcomes)
        stored = [o for o in outcomes if o.stored]
        refused = [o for o in outcomes if not o.stored]
        w = self.words
        body = [text_block(w.card("confirm_heading", stored, refused), weight="bolder")]
        body += [text_block(w.card("confirm_stored", o), spacing="small") for o in stored]
        body += [text_block(w.card("confirm_refused", o, w.refusal(o))) for o in refused]
        return adaptive_card(body)

    def confirmation_text(self, outcomes: Iterable[Outcome]) -> str:
        """The answer to typed lines, as one plain message."""
        outcomes = list(outcomes)
        stored = [o for o in outcomes if o.stored]
        refused = [o for o in outcomes if not o.stored]
        w = self.words
        lines = [plain_of(w.label("confirm_heading", stored, refused))]
        lines += [plain_of(w.label("confirm_stored", o)) for o in stored]
        lines += [w.label("confirm_refused", o, w.refusal(o)) for o in refused]
        if refused:
            lines.append(w.label("confirm_again"))
        return "\n".join(lines)

    # -- leaders ----------------------------------------------------------------------------

    def alert_summary(self, summary: Summary, *, updated: bool = False) -> dict[str, Any]:
        w = self.words
        body = [text_block(w.card("alert_heading", summary), size="medium", weight="bolder")]
        for alert in summary.firing[:MAX_ALERTS]:
            body.append(text_block(w.card("alert_item", alert), separator=True))
            body.append(text_block(w.card("alert_detail", alert), isSubtle=True, spacing="none"))
        if not summary.firing:
            body.append(text_block(w.card("alert_none")))
        if summary.cleared:
            body.append(text_block(w.card("alert_cleared", summary.cleared), separator=True))
        body.append(text_block(w.card("alert_context", summary, updated), isSubtle=True,
                               size="small"))  # fmt: skip
        return card_message(adaptive_card(body), plain_of(w.label("alert_heading", summary)))

    def follow_up(self, plan: Plan) -> dict[str, Any]:
        return plain_message(plain_of(self.words.label("follow_up", plan)))

    def digest(self, digest: Digest, pack_url: str | None = None) -> dict[str, Any]:
        w = self.words
        exceptions = digest.exceptions
        body = [
            text_block(w.card("digest_heading", digest), size="large", weight="bolder"),
            text_block(w.card("digest_summary", digest, exceptions)),
        ]
        body += [text_block(w.card("digest_area", a), spacing="small") for a in digest.areas]
        for m in exceptions[:MAX_DIGEST_EXCEPTIONS]:
            body.append(text_block(w.card("digest_exception", m), separator=True))
        if len(exceptions) > MAX_DIGEST_EXCEPTIONS:
            body.append(text_block(w.card("digest_more",
                                          len(exceptions) - MAX_DIGEST_EXCEPTIONS)))  # fmt: skip
        body.append(text_block(w.card("digest_pack", bool(pack_url)), isSubtle=True, size="small"))
        actions = [{"type": "Action.OpenUrl", "title": w.label("digest_pack_button"),
                    "url": pack_url}] if pack_url else []  # fmt: skip
        card = adaptive_card(body, actions)
        return card_message(card, plain_of(w.label("digest_heading", digest)))

    # -- coordinators -----------------------------------------------------------------------

    def status(self, report: Any, label: str, names: dict[str, str]) -> dict[str, Any]:
        counts = Counter(row["status"] for row in report.measures)
        counts["none"] = sum(counts[s] for s in ("missing", "not_available", "outstanding"))
        owners = [(names.get(o, o), ids) for o, ids in sorted(report.outstanding.items())]
        return plain_message(self.words.plain("status", label, report, counts, owners))

    def say(self, macro: str, *args: Any) -> dict[str, Any]:
        return plain_message(self.words.plain(macro, *args))


def line_fields(line: PromptLine) -> dict[str, str]:
    """What the card carries back about each measure, so a refused form can be shown again
    exactly as it was, whatever changed in the register meanwhile."""
    return {"measure_id": line.measure_id, "name": line.name, "period": line.period,
            "unit": line.unit, "target": line.target, "last_value": line.last_value,
            "last_period": line.last_period}  # fmt: skip


def plain_of(markdown: str) -> str:
    """Card wording, rendered as typed, for a plain message: the bold markers taken out."""
    return markdown.replace("**", "")
