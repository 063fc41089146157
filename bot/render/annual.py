"""The annual report as a standalone HTML page and a CSV, and its drafted assurance paragraphs.

The wording is in ``templates/annual/``: ``report.html`` (the page) and ``assurance.txt`` (the
paragraph drafted for each area from its figures).
"""

from __future__ import annotations

from pathlib import Path

import jinja2
import pandas as pd
from markupsafe import Markup

from bot.annual import AnnualReport, with_assurance
from bot.charts import ChartData, spc_svg
from bot.files import replacing, write_atomically
from bot.render import environment
from bot.render.tables import _inert

COLUMNS = (
    "year", "area", "measure_id", "name", "unit", "better", "frequency", "aggregate", "value",
    "target", "status", "missing", "last_year", "direction", "green", "amber", "red", "gap",
    "variation", "assurance",
)  # fmt: skip


def drafted(report: AnnualReport, env: jinja2.Environment | None = None) -> AnnualReport:
    """The report with each area's assurance paragraph drafted from its figures, in `env`'s
    words (the bot's: bot.templates) or, for a bare call, the built-in templates'."""
    template = (env or environment()).get_template("annual/assurance.txt")
    return with_assurance(
        report, {a.area: template.render(a=a, r=report).strip() for a in report.areas}
    )


def render_annual(
    report: AnnualReport, *, edited: bool = False, env: jinja2.Environment | None = None
) -> str:
    cards = {}
    for m in report.measures:
        data = ChartData.from_series(m.series) if len(m.series) else None
        chart = spc_svg(data, m.chart_target, label=f"SPC chart of {m.id} {m.name}") if data else ""
        cards[m.id] = Markup(chart)  # bot.charts escapes its own text
    return (env or environment()).get_template("annual/report.html").render(
        r=report, d=report, cards=cards, edited=edited
    )


def write_annual(
    report: AnnualReport,
    directory: Path,
    *,
    edited: bool = False,
    env: jinja2.Environment | None = None,
) -> list[Path]:
    """Write ``annual-report-<year>.html`` and ``annual-report-<year>-measures.csv``."""
    directory.mkdir(parents=True, exist_ok=True)
    page = directory / f"annual-report-{report.slug}.html"
    write_atomically(page, render_annual(report, edited=edited, env=env))
    rows = [
        {"year": report.span, "area": m.area, "measure_id": m.id, "name": m.name, "unit": m.unit,
         "better": m.better, "frequency": m.frequency, "aggregate": m.aggregate, "value": m.value,
         "target": m.target, "status": m.status, "missing": ";".join(m.missing),
         "last_year": m.last_year, "direction": m.direction, **m.rag_mix,
         "variation": m.variation or "", "assurance": m.assurance or ""}
        for m in report.measures
    ]  # fmt: skip
    frame = pd.DataFrame(rows, columns=list(COLUMNS)).map(_inert)
    table = directory / f"annual-report-{report.slug}-measures.csv"
    with replacing(table) as temporary:  # a full disk leaves the last complete file
        frame.to_csv(temporary, index=False, encoding="utf-8-sig", lineterminator="\r\n")
    return [page, table]
