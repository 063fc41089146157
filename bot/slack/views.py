"""Every Slack surface pmbot shows: prompt DMs, the submit modal, App Home, confirmations,
`/pm` replies and the leaders' alert summary. Wording comes from templates/slack/ through
`Text`; this module only arranges it into Block Kit.
"""

from __future__ import annotations

from collections import Counter
from typing import Any

from bot.alerts import Plan, Summary
from bot.events import Outcome, Prompt, Receipt, SignoffRequest, StatusReport
from bot.measures import Measure
from bot.render.blocks import (
    MAX_MESSAGE_BLOCKS,
    MAX_MODAL_TEXT,
    MAX_VIEW_BLOCKS,
    Block,
    actions,
    button,
    context,
    header,
    message,
    plain,
    section,
    sections,
    simple,
    text_input,
)
from bot.slack.blocks import Text
from bot.slack.payloads import (
    CALLBACK_ID,
    COMMENTARY,
    OPEN_ACTION,
    SIGNOFF_APPROVE,
    SIGNOFF_QUERY,
    VALUE,
    button_value,
    modal_metadata,
    signoff_value,
)
from bot.slack.worklist import Item, Worklist
from bot.values import format_value

MAX_MODAL_MEASURES = 45  # two inputs each, plus the intro, inside the 100-block limit
MAX_HOME_MEASURES = 90
MAX_ALERTS = 40


class Views:
    def __init__(self, text: Text) -> None:
        self.text = text

    # -- prompts and replies ----------------------------------------------------------------

    def prompt(self, prompt: Prompt, *, chase: bool = False) -> dict[str, Any]:
        t = self.text
        lines = [t.mrkdwn("prompt_line", line) for line in prompt.lines]
        blocks = [
            section(t.mrkdwn("prompt_intro", prompt, chase)),
            *sections(lines)[: MAX_MESSAGE_BLOCKS - 4],
            section(t.mrkdwn("prompt_how")),
            actions(
                button(
                    t.plain("submit_button"), OPEN_ACTION, button_value(prompt.cycle), "primary"
                ),
                block_id="prompt_actions",
            ),
            context(t.mrkdwn("prompt_reference", prompt)),
        ]
        return message(t.mrkdwn("prompt_fallback", prompt, chase), blocks)

    def confirmation(self, outcomes: list[Outcome]) -> dict[str, Any]:
        stored = [o for o in outcomes if o.stored]
        refused = [o for o in outcomes if not o.stored]
        fallback = self.text.mrkdwn("confirm_fallback", stored, refused)
        lines = self.text.mrkdwn("confirm", stored, refused).splitlines()
        return message(fallback, sections(lines))

    def receipt(self, receipt: Receipt) -> dict[str, Any]:
        """The answer to a message pmbot received (bot.reach.Reach.receive)."""
        if receipt.code == "stranger":
            return self.say("dm_stranger")
        if receipt.code == "no_figures":
            return self.say("dm_help")
        return self.confirmation(list(receipt.outcomes))

    def stranger_errors(self, measure_ids: list[str]) -> dict[str, str]:
        """A modal from someone pmbot cannot match to the register: said on its first field."""
        if not measure_ids:
            return {}
        return {f"{VALUE}:{measure_ids[0]}": self.text.plain("modal_stranger")}

    # -- sign-off -------------------------------------------------------------------------

    def signoff_request(self, request: SignoffRequest) -> dict[str, Any]:
        """The area's figures with Approve and Query buttons."""
        t = self.text
        value = signoff_value(request.area, request.cycle)
        lines = [t.mrkdwn("signoff_line", row) for row in request.rows]
        blocks = [
            section(t.mrkdwn("signoff_intro", request)),
            *sections(lines),
            actions(
                button(t.plain("signoff_approve"), SIGNOFF_APPROVE, value, style="primary"),
                button(t.plain("signoff_query"), SIGNOFF_QUERY, value),
            ),
            context(t.mrkdwn("signoff_how")),
        ]
        return message(t.mrkdwn("signoff_fallback", request), blocks)

    def signoff_query_modal(self, area: str, cycle: str, rows: list[dict]) -> dict[str, Any]:
        """One optional question box per figure of the area; what is typed goes to its owner."""
        t = self.text
        inputs = [
            text_input(f"{COMMENTARY}:{row['id']}", COMMENTARY, t.plain("query_label", row),
                       multiline=True, max_length=500)  # fmt: skip
            for row in rows
        ]
        return {
            "type": "modal",
            "callback_id": SIGNOFF_QUERY,
            "title": plain(t.plain("query_title"), MAX_MODAL_TEXT),
            "submit": plain(t.plain("query_submit"), MAX_MODAL_TEXT),
            "close": plain(t.plain("modal_close"), MAX_MODAL_TEXT),
            "private_metadata": signoff_value(area, cycle),
            "blocks": [section(t.mrkdwn("query_intro", area)), *inputs][:MAX_VIEW_BLOCKS],
        }

    def say(self, macro: str, *args: Any) -> dict[str, Any]:
        """A one-section message from one macro of messages.txt."""
        return simple(self.text.mrkdwn(macro, *args))

    def problem(self, kind: str, detail: str = "") -> dict[str, Any]:
        """A mistyped command: what was wrong, and for an unknown command the help too."""
        text = self.text.mrkdwn("problem", kind, detail)
        blocks = [section(text)]
        if kind == "unknown":
            blocks.append(section(self.text.mrkdwn("help")))
        return message(text, blocks)

    # -- the submit modal -------------------------------------------------------------------

    def submit_modal(self, work: Worklist, everything: bool = False) -> dict[str, Any]:
        t = self.text
        items = work.to_submit(everything)[:MAX_MODAL_MEASURES]
        correcting = bool(items) and not any(i.waiting for i in items)
        view: dict[str, Any] = {
            "type": "modal",
            "callback_id": CALLBACK_ID,
            "title": plain(t.plain("modal_title", correcting), MAX_MODAL_TEXT),
            "close": plain(t.plain("modal_close"), MAX_MODAL_TEXT),
        }
        if not items:
            view["blocks"] = [section(t.mrkdwn("modal_nothing", work))]
            view["private_metadata"] = modal_metadata(work.cycle, {})
            return view
        blocks: list[Block] = [section(t.mrkdwn("modal_intro", work, correcting))]
        for item in items:
            blocks += self.inputs(item)
        view["submit"] = plain(t.plain("modal_submit"), MAX_MODAL_TEXT)
        view["blocks"] = blocks[:MAX_VIEW_BLOCKS]
        prefilled = {i.measure_id: (i.entry, i.commentary) for i in items if i.entry}
        view["private_metadata"] = modal_metadata(work.cycle, prefilled)
        return view

    def inputs(self, item: Item) -> list[Block]:
        t = self.text
        return [
            text_input(
                f"{VALUE}:{item.measure_id}",
                VALUE,
                t.plain("value_label", item),
                hint=t.plain("value_hint", item),
                placeholder=t.plain("value_placeholder", item),
                initial=item.entry,
                max_length=200,
            ),
            text_input(
                f"{COMMENTARY}:{item.measure_id}",
                COMMENTARY,
                t.plain("commentary_label", item),
                hint=t.plain("commentary_hint"),
                initial=item.commentary,
                multiline=True,
                max_length=2000,
            ),
        ]

    def modal_errors(self, outcomes: list[Outcome]) -> dict[str, str]:
        """block_id -> message for each refused figure, on the field at fault."""
        errors = {}
        for outcome in outcomes:
            if outcome.stored:
                continue
            if outcome.field == COMMENTARY:
                # The service's sentence asks for text after the value, as typed in a DM;
                # in the modal the place for it is the box the error is shown on.
                reasons = outcome.reasons or ("red",)
                text = self.text.plain("explain_red", outcome.measure_id, reasons)
                errors[f"{COMMENTARY}:{outcome.measure_id}"] = text
            else:
                errors[f"{VALUE}:{outcome.measure_id}"] = self.text.outcome(outcome)[:2000]
        return errors

    def nothing_to_submit(self, measure_ids: list[str], correcting: bool) -> dict[str, str]:
        """The error for a modal sent with nothing filled in or changed, on its first field."""
        return {f"{VALUE}:{measure_ids[0]}": self.text.plain("nothing_to_submit", correcting)}

    # -- App Home ---------------------------------------------------------------------------

    def home(self, work: Worklist | None, name: str, coordinator: bool) -> dict[str, Any]:
        t = self.text
        blocks: list[Block] = [header(t.plain("home_header"))]
        if work is None or not work.items:
            blocks.append(section(t.mrkdwn("home_nothing", name)))
        else:
            blocks.append(section(t.mrkdwn("home_intro", work, name)))
            buttons = []
            if work.waiting:
                buttons.append(
                    button(
                        t.plain("submit_button"), OPEN_ACTION, button_value(work.cycle), "primary"
                    )
                )
            if len(work.waiting) < len(work.items):
                buttons.append(
                    button(
                        t.plain("correct_button"),
                        f"{OPEN_ACTION}_all",
                        button_value(work.cycle, everything=True),
                    )
                )
            blocks.append(actions(*buttons, block_id="home_actions"))
            blocks += [section(t.mrkdwn("home_item", i)) for i in work.items[:MAX_HOME_MEASURES]]
        if coordinator:
            blocks.append(context(t.mrkdwn("home_coordinator")))
        return {"type": "home", "blocks": blocks[:MAX_VIEW_BLOCKS]}

    # -- /pm --------------------------------------------------------------------------------

    def status(self, report: StatusReport, label: str, names: dict[str, str]) -> dict[str, Any]:
        """Completeness, RAG counts, exceptions and who is still to send (clipped to fit)."""
        t = self.text
        counts = Counter(row["status"] for row in report.measures)
        counts["none"] = sum(counts[s] for s in ("missing", "not_available", "outstanding"))
        summary = t.mrkdwn("status_summary", label, report.submitted, len(report.measures), counts)
        exceptions = [r for r in report.measures if r["status"] in ("red", "missing")]
        owners = [(names.get(o, o), ids) for o, ids in sorted(report.outstanding.items())]
        lines = [summary]
        if exceptions:
            lines.append(t.mrkdwn("status_exceptions", exceptions))
        lines.append(t.mrkdwn("status_outstanding", owners))
        return message(summary, sections(lines))

    def measure(
        self,
        measure: Measure,
        row: dict[str, Any] | None,
        latest: tuple[str, str],
        owner: str,
        deputy: str,
    ) -> dict[str, Any]:
        """A measure's glossary entry, and its figure this cycle (or its latest one)."""
        targets = [
            (step.start, format_value(step.value, measure.unit), step.trajectory)
            for step in measure.targets
        ]
        return self.say("measure_card", measure, targets, row, latest, owner, deputy)

    # -- alerts -----------------------------------------------------------------------------

    def alert_summary(self, summary: Summary, *, updated: bool = False) -> dict[str, Any]:
        t = self.text
        blocks: list[Block] = [header(t.plain("alert_header", summary))]
        shown = summary.firing[:MAX_ALERTS]
        blocks += [section(t.mrkdwn("alert_item", a)) for a in shown]
        if not summary.firing:
            blocks.append(section(t.mrkdwn("alert_none")))
        if summary.cleared:
            blocks.append(section(t.mrkdwn("alert_cleared", summary.cleared)))
        blocks.append(context(t.mrkdwn("alert_context", summary, updated)))
        return message(t.mrkdwn("alert_fallback", summary), blocks)

    def follow_up(self, plan: Plan) -> dict[str, Any]:
        return self.say("follow_up", plan)
