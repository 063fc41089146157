"""The Jinja2 environment for everything a person reads: HTML is escaped, plain text is not.

Built once by the factory (`bot.app.create_app`) from the templates-directory setting and
shared by every part that speaks to people: email, chat transports, the CLI.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import jinja2
from markupsafe import Markup


class TemplateFiles(jinja2.FileSystemLoader):
    """The templates folder. An edited template is used from its next render; inside
    `checked_once` each file is looked at once, not on every render (a poll renders thousands
    of answers, and each look is a stat of the file).

    A template is out of date when any template it imports (at any depth) was edited too:
    Jinja keeps a template's module, and with it the modules of what it imported, for as long
    as the template's own file is unchanged, so an edit to `values.txt` was not used until
    `outcomes.txt`, which imports it, changed as well."""

    def __init__(self, folder: str) -> None:
        super().__init__(folder)
        self.round: object | None = None  # set by `checked_once`
        self._read: dict[str, tuple[Callable[[], bool], str]] = {}

    def get_source(self, environment: jinja2.Environment, template: str):
        source, filename, uptodate = super().get_source(environment, template)
        checks = [uptodate, *self._imported_checks(environment, source, {template})]
        seen: dict[str, Any] = {"round": self.round, "fresh": True}  # just read

        def files_unchanged() -> bool:
            return all(check() for check in checks)

        def up_to_date() -> bool:
            if self.round is None:
                return files_unchanged()
            if seen.get("round") is not self.round:
                seen["round"], seen["fresh"] = self.round, files_unchanged()
            return seen["fresh"]

        return source, filename, up_to_date

    def _imported_checks(
        self, environment: jinja2.Environment, source: str, visited: set[str]
    ) -> list[Callable[[], bool]]:
        """Whether each file the source imports, includes or extends, at any depth, is unchanged
        since now. A name only known at render time (a variable) is left out."""
        checks = []
        for name in REFERENCE.findall(source):
            if name in visited:
                continue
            visited.add(name)
            try:
                uptodate, imported = self._read_once(environment, name)
            except jinja2.TemplateNotFound:  # raised where it is used, as before
                continue
            checks.append(uptodate)
            checks += self._imported_checks(environment, imported, visited)
        return checks

    def _read_once(self, environment: jinja2.Environment, name: str):
        # Each file read once while it is unchanged: most templates import the same labels.
        kept = self._read.get(name)
        if kept is None or not kept[0]():
            source, _, uptodate = super().get_source(environment, name)
            kept = self._read[name] = (uptodate, source)
        return kept


# A reference by a literal name: {% import "x" %}, {% from "x" import y %}, {% include "x" %},
# {% extends "x" %} (with or without the whitespace dashes).
REFERENCE = re.compile(r"""\{%-?\s*(?:import|from|include|extends)\s+["']([^"']+)["']""")


@contextmanager
def checked_once(env: jinja2.Environment) -> Iterator[None]:
    """Within the block, each template's file is checked for edits on its first use only."""
    loader = env.loader
    if not isinstance(loader, TemplateFiles):
        yield
        return
    loader.round = object()
    try:
        yield
    finally:
        loader.round = None


def make_environment(templates_dir: Path) -> jinja2.Environment:
    env = jinja2.Environment(
        loader=TemplateFiles(str(templates_dir)),
        autoescape=jinja2.select_autoescape(enabled_extensions=("html",), default=False),
        undefined=jinja2.StrictUndefined,
        keep_trailing_newline=True,
        trim_blocks=True,
        lstrip_blocks=True,
    )
    # Plain text (a str, not Markup): whoever prints it escapes it once for their format.
    env.filters["outcome"] = OutcomeSentences(env)
    return env


class OutcomeSentences:
    """The `outcome` filter: `outcome_text`, each Outcome's sentence said once a poll.

    Within `checked_once` the templates cannot change, and an Outcome (frozen) always comes
    to the same sentence; an emailed reply's refusals were rendered three times (for its
    record, then in the text and the HTML answer). The last few are kept, each with its
    Outcome, so that an id is only ever matched to the object it was taken from."""

    KEPT = 64

    def __init__(self, env: jinja2.Environment) -> None:
        self.env = env
        self.round: object | None = None
        self.kept: dict[int, tuple[Any, str]] = {}

    def __call__(self, outcome: Any) -> str:
        round_ = getattr(self.env.loader, "round", None)
        if round_ is None:  # outside a poll: rendered afresh, as every template is
            return outcome_text(self.env, outcome)
        if round_ is not self.round or len(self.kept) >= self.KEPT:
            self.round, self.kept = round_, {}
        found = self.kept.get(id(outcome))
        if found is not None and found[0] is outcome:
            return found[1]
        text = outcome_text(self.env, outcome)
        self.kept[id(outcome)] = (outcome, text)
        return text


def outcome_text(env: jinja2.Environment, outcome: Any) -> str:
    """The sentence a sender reads about one submitted figure (templates/outcomes.txt)."""
    macro = env.get_template("outcomes.txt").module.outcome  # type: ignore[attr-defined]
    return " ".join(str(macro(outcome)).split())


def escaped_with(escape: Callable[[str], str]) -> Callable[[Any], str]:
    """A `finalize` for an environment overlay that writes a chat's markup (Slack mrkdwn, Adaptive
    Card markdown): every value is escaped with `escape`, except what a template already made
    safe (Markup), so people's text never becomes markup."""

    def finalize(value: Any) -> str:
        if value is None:
            return ""
        return value if isinstance(value, Markup) else escape(str(value))

    return finalize


def as_typed(value: Any) -> str:
    """A `finalize` for plain-text fields (labels, placeholders, button titles): as typed."""
    return "" if value is None else str(value)


def value_refusal(env: jinja2.Environment, code: str, params: dict[str, Any]) -> str:
    """Why a typed figure was refused (bot.values.InvalidValue), in templates/values.txt's words."""
    macro = env.get_template("values.txt").module.refusal  # type: ignore[attr-defined]
    return " ".join(str(macro(code, params)).split())
