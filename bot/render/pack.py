"""The full performance pack: one standalone HTML file that opens in any browser, offline.

Summary first (completeness, exceptions, outcome areas, improvements, projected breaches, data
gaps, who is still to send), then each outcome area with its measures, exceptions first. Each
measure has its SPC chart (inline SVG), its last 13 figures, year-on-year change, the owner's
commentary, its projection and its glossary entry. No external CSS, scripts or fonts; the CSS
prints well. The wording and layout are in ``templates/digest/pack.html``.

Charts are drawn by ``bot.charts.spc_svg`` as strings, so a pack of 2,000 measures renders in
about a second.

>>> from tests.digest_fixtures import small_digest
>>> html = render_pack(small_digest())
>>> html.startswith("<!DOCTYPE html>"), "<script" in html
(True, False)
"""

from __future__ import annotations

import gc
import re
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, replace
from pathlib import Path

import jinja2
from markupsafe import Markup

from bot.charts import ChartData, spc_svg
from bot.digest_model import Digest, MeasureView
from bot.files import write_atomically
from bot.render import chart_text, environment, front, labels, show_value
from bot.render.icons import MATRIX_COLUMNS, MATRIX_ROWS, matrix

RECENT = 13  # figures listed under each chart: a year and the same month a year before


@dataclass(frozen=True)
class Recent:
    """One of the last figures listed beside a chart, newest first."""

    period: str
    shown: str  # the figure, or "" for a gap (the template shows the placeholder)
    cause: str | None  # special cause of the point, for its marker
    why: str = ""  # the rule that flagged it, in words ("7 or more points in a row ...")
    now: bool = False  # this cycle's figure, the first listed


@dataclass(frozen=True)
class Card:
    """A measure with what the template cannot cheaply work out itself."""

    m: MeasureView
    anchor: str
    chart: Markup
    recent: list[Recent]  # newest first: the current month is what a reader looks for
    previous_period: str
    text: str  # what the chart shows, in words: its text alternative

    @property
    def signals(self) -> bool:
        """Whether any of the recent figures was flagged by a rule (a row says which)."""
        return any(r.why for r in self.recent)


def render_pack(digest: Digest, env: jinja2.Environment | None = None) -> str:
    """The pack as one HTML document (a string); see ``write_pack`` to save it. `env` is the
    bot's template environment (bot.templates); without it, the default templates."""
    env = env or environment()
    with _long_lived_frozen():
        return _render(digest, env)


@contextmanager
def _long_lived_frozen() -> Iterator[None]:
    """Keep the garbage collector's full collections off everything alive before the render.

    A digest of thousands of measures is millions of objects, and the render allocates enough
    to set off full collections that walk them all: at 8,000 measures that was nearly half the
    render's CPU. What the render allocates is still collected as usual (its few reference
    cycles at the latest when it ends). Freezing is process-wide but harmless if renders overlap
    in threads: the worst case is that one unfreezes while another still runs, which only costs
    time.
    """
    gc.freeze()
    try:
        yield
    finally:
        gc.unfreeze()


def _render(digest: Digest, env: jinja2.Environment) -> str:
    cards = {m.id: _card(m, number, env) for number, m in enumerate(digest.measures)}
    gc.freeze()  # the cards too: they live until the page is written
    exceptions = digest.exceptions
    rank = {m.id: i for i, m in enumerate(exceptions)}
    areas = []
    for summary in digest.areas:
        measures = [cards[m.id] for m in digest.measures if m.area == summary.area]
        # Exceptions first, most serious first; then the rest in register order.
        measures.sort(key=lambda c: (rank.get(c.m.id, len(rank)), c.m.id))
        areas.append((summary, _anchor("area", len(areas), summary.area), measures))
    first = front(digest)
    return env.get_template("digest/pack.html").render(
        d=digest,
        front=first,
        exceptions=len(exceptions),
        performance=[cards[m.id] for m in first.performance],
        areas=areas,
        improvements=[cards[m.id] for m in first.improvements],
        breaches=[cards[m.id] for m in first.breaches],
        unavailable=[cards[m.id] for m in digest.gaps if m.status == "not_available"],
        reasons=_reason_counts(exceptions),
        matrix=matrix(digest.measures),
        trial={m.id for m in digest.measures if m.trial_limits},
        matrix_rows=MATRIX_ROWS,
        matrix_columns=MATRIX_COLUMNS,
    )


def write_pack(digest: Digest, directory: Path, env: jinja2.Environment | None = None) -> Path:
    """Write ``performance-pack-<cycle>.html`` into ``directory`` (created if need be)."""
    directory.mkdir(parents=True, exist_ok=True)
    path = directory / f"performance-pack-{digest.cycle}.html"
    return write_atomically(path, render_pack(digest, env))


def _card(m: MeasureView, number: int, env: jinja2.Environment) -> Card:
    data = ChartData.from_series(m.series) if len(m.series) else None
    recent = []
    previous_period = ""
    text = ""
    chart = ""
    if data:
        tail = data.tail(RECENT)
        words = labels(env)["RULE"]
        first = len(m.series) - len(tail.periods)
        signals = m.signals[first:] if len(m.signals) == len(m.series) else ()
        why = [words.get(signal or "", "") for signal in signals] or [""] * len(tail.periods)
        recent = [
            Recent(period, show_value(value, m.unit), cause, text)
            for period, value, cause, text in zip(
                tail.periods, tail.values, tail.causes, why, strict=True
            )
        ][::-1]
        recent[0] = replace(recent[0], now=True)
        text = chart_text(m, env, data)
        chart = spc_svg(data, m.target, label=text, projection=m.projection, unit=m.unit)
        # The period before this cycle's, for "change on <period>".
        periods = data.periods
        if m.period in periods:
            at = periods.index(m.period)
            previous_period = periods[at - 1] if at > 0 else ""
    # The chart escapes its own text (bot.charts), so it may go into the page as markup.
    return Card(m, _anchor("m", number, m.id), Markup(chart), recent, previous_period, text)


def _anchor(prefix: str, number: int, text: str) -> str:
    """A fragment id that is unique and safe whatever the measure id: ``m3-OD-01``."""
    return f"{prefix}{number}-" + re.sub(r"[^A-Za-z0-9_-]+", "-", text).strip("-")[:40]


def _reason_counts(exceptions: list[MeasureView]) -> list[tuple[str, int]]:
    counts: dict[str, int] = {}
    for m in exceptions:
        counts[m.exception_reasons[0]] = counts.get(m.exception_reasons[0], 0) + 1
    return list(counts.items())  # exceptions come ranked, so this keeps the reasons' order
