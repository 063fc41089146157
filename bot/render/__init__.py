"""Renderers of the digest: Slack message, email, full HTML pack, CSV/XLSX tables.

Each output has its own module; this one holds what they share: the Jinja environment for
``templates/digest/`` (with the filters below) and the words for the model's codes, which live
in ``templates/digest/labels.txt`` so that all text a person reads stays in templates.

- ``bot.render.slack.slack_blocks(digest, pack_url=None) -> dict``
- ``bot.render.email.email_parts(digest) -> (text, html, {content_id: png})`` and
  ``bot.render.email.digest_message(digest, mail_from, to, now, domain) -> Message``
- ``bot.render.pack.render_pack(digest) -> str`` and ``write_pack(digest, directory) -> Path``
- ``bot.render.tables.write_tables(digest, directory) -> [csv_path, xlsx_path, ...]``

All three readable forms open with the same first screen, ``front(digest)``: the performance
exceptions, most serious first; the figures not yet in, on one line with their owners; then
improvements and projected breaches.

>>> show_change(-2.5, "%"), show_change(3, "days"), show_change(0.0, "count")
('-2.5 pp', '+3 days', 'no change')
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from datetime import date, datetime
from functools import lru_cache
from pathlib import Path

import jinja2
from markupsafe import Markup

from bot.charts import ChartData
from bot.digest_model import Digest, MeasureView
from bot.render.icons import icon, icon_svg
from bot.settings import PROJECT_ROOT
from bot.templating import make_environment
from bot.values import format_value

TEMPLATES = PROJECT_ROOT / "templates"


@lru_cache(maxsize=4)
def environment(templates_dir: Path = TEMPLATES) -> jinja2.Environment:
    """The house Jinja environment plus the digest filters and labels (built once).

    >>> environment().from_string("{{ 1234.5 | value('£') }}").render()
    '£1,234.50'
    """
    env = make_environment(templates_dir)
    env.filters.update(
        value=show_value,
        approx=show_approx,
        change=show_change,
        pct=show_pct,
        verdict=verdict,
        count=lambda n: f"{n:,}",
        rate=lambda r: "—" if r is None else f"{100 * r:.0f}%",
        day=show_day,
        when=show_when,
        month=show_month,
    )
    env.globals.update(_labels(env), zip=zip)
    env.globals["gap_text"] = lambda m: gap_text(m, env.globals["GAP"])
    env.globals["limits_text"] = lambda m: limits_text(m, env.globals["LIMITS"])
    env.globals["icon"] = lambda kind, code: _icon_markup(kind, code, env.globals)
    env.globals["why_text"] = lambda m: why_text(m, env.globals["REASON"], env.globals["RULE"])
    return env


@lru_cache(maxsize=4)
def labels(env: jinja2.Environment | None = None) -> dict[str, dict[str, str]]:
    """The label tables (STATUS, REASON, VARIATION, ASSURANCE, GAP, CHANGE, LIMITS,
    SIGNOFF) by name,
    from `env` (the bot's: bot.templates) or, for a bare call, the default templates.

    Read once per environment (the pack asks for every measure); the tables are shared, so
    read, never change.
    """
    return {k: v for k, v in (env or environment()).globals.items() if k.isupper()}


def _labels(env: jinja2.Environment) -> dict[str, dict[str, str]]:
    module = env.get_template("digest/labels.txt").module
    names = ("STATUS", "REASON", "VARIATION", "ASSURANCE", "GAP", "CHANGE", "LIMITS", "RULE",
             "MATRIX_ROW", "MATRIX_COLUMN", "AGGREGATE", "DIRECTION", "YEAR_STATUS",
             "SIGNOFF")  # fmt: skip
    return {name: dict(getattr(module, name)) for name in names}


def show_value(value: float | None, unit: str) -> str:
    """A figure as a person reads it; empty for no figure (the caller shows the gap).

    >>> show_value(87.5, "%"), show_value(None, "%"), show_value(float("nan"), "%")
    ('87.5%', '', '')
    """
    if value is None or not math.isfinite(value):
        return ""
    return format_value(value, unit)


def show_approx(value: float | None, unit: str) -> str:
    """A derived figure (mean, projection) without false precision: whole numbers from 100 up,
    one decimal below.

    >>> show_approx(473.3129, "count"), show_approx(83.94, "%"), show_approx(37123.47, "£")
    ('473', '83.9%', '£37,123')
    """
    if value is None or not math.isfinite(value):
        return ""
    return show_value(round(value, 0 if abs(value) >= 100 else 1), unit)


def show_change(change: float | None, unit: str) -> str:
    """A signed difference; a change in a percentage is in percentage points (pp)."""
    if change is None or not math.isfinite(change):
        return ""
    if change == 0:
        return "no change"
    magnitude = format_value(abs(change), unit)
    if unit == "%":
        magnitude = magnitude.removesuffix("%") + " pp"
    return ("+" if change > 0 else "-") + magnitude


def show_pct(pct: float | None) -> str:
    """``show_pct(5.234) == "+5.2%"``; empty when there is no percentage."""
    if pct is None or not math.isfinite(pct):
        return ""
    return f"{pct:+.1f}%"


def verdict(change: float | None, better: str) -> str:
    """``"better"``, ``"worse"``, ``"same"`` or ``""`` (no change known, or a neutral measure).

    >>> verdict(3.0, "down"), verdict(3.0, "up"), verdict(3.0, "neutral")
    ('worse', 'better', '')
    """
    if change is None or not math.isfinite(change) or better == "neutral":
        return ""
    if change == 0:
        return "same"
    return "better" if (change > 0) == (better == "up") else "worse"


def gap_text(measure: MeasureView, words: dict[str, str] | None = None) -> str:
    """What stands in for a missing figure, with the owner's reason: never a zero.

    >>> from types import SimpleNamespace as Measure
    >>> gap_text(Measure(status="not_available", reason="system  outage"))
    'no figure: system outage'
    >>> gap_text(Measure(status="missing", reason=""))
    'no figure: not received by the due date'
    """
    words = words or labels()["GAP"]
    missing = getattr(measure, "missing_months", ())
    if missing and measure.status in ("not_available", "missing"):
        return words["months_missing"].format(months=", ".join(map(show_month, missing)))
    if measure.status == "not_available":
        reason = " ".join(measure.reason.split())
        if reason:
            return words["not_available"].format(reason=reason)
        return words["not_available_no_reason"]
    return words.get(measure.status, words["history"])


def _icon_markup(kind: str, code: str | None, words: dict) -> Markup:
    """An MDC icon as inline SVG titled with its label; the SVG escapes its own text."""
    label = words["VARIATION" if kind == "variation" else "ASSURANCE"].get(code or "", "")
    return Markup(icon_svg(icon(kind, code), label))


def why_text(
    measure: MeasureView, reasons: dict[str, str] | None = None, rules: dict[str, str] | None = None
) -> str:
    """Why a measure is an exception, in words, first letter capitalised; a special-cause
    concern says which rule flagged it.

    >>> from types import SimpleNamespace as Measure
    >>> why_text(Measure(why=("red", "special_cause_concern", "improving"), signal="shift_high"))
    'Red against target; special cause: concern (7 or more points in a row above the mean); \
improving, still short of target'
    """
    words = labels()
    reasons, rules = reasons or words["REASON"], rules or words["RULE"]
    parts = []
    for reason in measure.why:
        text = reasons[reason]
        if reason == "special_cause_concern" and measure.signal in rules:
            text += f" ({rules[measure.signal]})"
        parts.append(text)
    joined = "; ".join(parts)
    return joined[:1].upper() + joined[1:]


def limits_text(measure: MeasureView, words: dict[str, str] | None = None) -> str:
    """How sure the chart's limits are: trial limits and the rebase they start from, if any.

    Empty for settled limits with no rebase, and for a measure with no limits at all.

    >>> from types import SimpleNamespace as Measure
    >>> limits_text(Measure(trial_limits=True, rebased_from="2026-02", rebase_reason="new team",
    ...                     mean=50.0))
    'limits restart from 2026-02: new team; trial limits: fewer than 12 figures since 2026-02, \
so the limits may still move'
    """
    words = words or labels()["LIMITS"]
    if measure.mean is None:
        return ""
    parts = []
    if measure.rebased_from:
        parts.append(
            words["rebased"].format(since=measure.rebased_from, reason=measure.rebase_reason)
        )
    if measure.trial_limits:
        since = measure.rebased_from
        parts.append(words["trial"].format(since=since) if since else words["trial_from_start"])
    return "; ".join(parts)
def show_month(period: str) -> str:
    """``show_month("2026-08") == "August 2026"``; a quarter stays as written."""
    try:
        return f"{date.fromisoformat(period + '-01'):%B %Y}"
    except ValueError:
        return period


def show_day(day: date) -> str:
    """``show_day(date(2026, 11, 7)) == "7 November 2026"`` (GOV.UK date style)."""
    return f"{day.day} {day:%B %Y}"


def show_when(moment: datetime | str | None) -> str:
    """A time as ``7 November 2026, 09:30``; an ISO string is parsed, None gives ``""``."""
    if not moment:
        return ""
    if isinstance(moment, str):
        try:
            moment = datetime.fromisoformat(moment)
        except ValueError:
            return moment
    return f"{show_day(moment.date())}, {moment:%H:%M}"


def owner_of(measure: MeasureView) -> str:
    """The owner's name, or their address when the register has no name."""
    return measure.owner_name or measure.owner_email


@dataclass(frozen=True)
class Front:
    """What a leader must act on, in the order every renderer shows it."""

    performance: list[MeasureView]  # exceptions other than a missing figure, worst first
    missing: list[MeasureView]  # exceptions that are only a figure not in by the due date
    waiting: list[tuple[str, list[str]]]  # (owner's name, ids) of every figure not yet in
    improvements: list[MeasureView]
    breaches: list[MeasureView]

    @property
    def not_in(self) -> int:
        return sum(len(ids) for _, ids in self.waiting)


def chart_text(
    measure: MeasureView, env: jinja2.Environment | None = None, data: ChartData | None = None
) -> str:
    """What a measure's chart shows, in one paragraph: its text alternative (alt text, SVG
    title, caption). Worded in ``templates/digest/chart_text.txt``. ``data`` is the measure's
    series already read for its chart, if it has been (the pack reads thousands)."""
    mean = last = None
    if data is None and len(measure.series):
        data = ChartData.from_series(measure.series)
    if data is not None:
        means = [v for v in data.mean if _finite(v)]
        mean = means[-1] if means else None
        figures = [(p, v) for p, v in zip(data.periods, data.values, strict=True) if _finite(v)]
        if figures:
            last = (str(figures[-1][0]), show_value(float(figures[-1][1]), measure.unit))
    env = env or environment()
    macro = env.get_template("digest/chart_text.txt").module.chart_text  # type: ignore[attr-defined]
    return " ".join(str(macro(measure, mean, last)).split())


def front(digest: Digest) -> Front:
    """The digest's first screen: a missing figure is one name on one line, not a row each.

    >>> from tests.digest_fixtures import small_digest
    >>> f = front(small_digest())
    >>> all("missing" not in m.exception_reasons for m in f.performance)
    True
    """
    exceptions = digest.exceptions
    names = {m.owner_email: owner_of(m) for m in digest.measures}
    return Front(
        performance=[m for m in exceptions if "missing" not in m.exception_reasons],
        missing=[m for m in exceptions if "missing" in m.exception_reasons],
        waiting=[(names.get(email, email), ids) for email, ids in digest.outstanding.items()],
        improvements=digest.improvements,
        breaches=digest.projected_breaches,
    )


def _finite(value: object) -> bool:
    return isinstance(value, int | float) and math.isfinite(value)
