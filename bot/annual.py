"""The annual report: each outcome area over a calendar or financial year. Pure, no I/O.

For every active measure: the year's figure (rolled up by its rule, ``bot.rollup``) against
the year's target, the same figure a year before, the direction of travel, the mix of RAG
statuses across the year's months (or quarters), the SPC reading over the year, and the owner's
commentary. Each area gets counts and an assurance paragraph drafted from those figures by a
template (``templates/annual/assurance.txt``), which a coordinator may replace before the
report goes out (``pmbot digest 2025/26 --draft-assurance FILE`` then ``--assurance FILE``).

Direction of travel compares the year's figure with the year before's, both rolled up the same
way:

- **improved**: it moved the better way by more than ``SUSTAINED_WITHIN`` (2%) of last year's
  figure, or more than 1 point for a percentage; for a ``neutral`` measure, it came closer to
  its target by that much;
- **deteriorated**: it moved the worse way by more than that;
- **sustained**: it moved less than that either way;
- **no comparison**: either year has no figure (a gap) or there is no year before.

>>> direction(95.0, 90.0, "up", "%", 90), direction(90.5, 90.0, "up", "%", 90)
('improved', 'sustained')
>>> direction(110.0, 100.0, "down", "count", 50), direction(None, 1.0, "down", "count", 5)
('deteriorated', 'none')
"""

from __future__ import annotations

import dataclasses
import math
from collections import Counter
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from datetime import datetime

import numpy as np
import pandas as pd

from bot import spc
from bot.measures import Measure
from bot.periods import parse_period
from bot.rollup import aggregate_of, missing_months, needs, roll_up, rolled_measure, year_of
from bot.spans import Span
from bot.tolerance import parse_tolerance, rag
from bot.values import format_value

DIRECTIONS = ("improved", "sustained", "deteriorated", "none")
SUSTAINED_WITHIN = 0.02  # a change under 2% of last year's figure is "sustained"
SUSTAINED_POINTS = 1.0  # for a percentage: under 1 percentage point
RAG_MIX = ("green", "amber", "red", "gap", "monitored")
CHART_COLUMNS = ("period", "value", "mean", "lpl", "upl", "special_cause")


@dataclass(frozen=True)
class YearView:
    id: str
    name: str
    area: str
    unit: str
    better: str
    frequency: str
    aggregate: str
    owner_email: str
    public: bool
    value: float | None  # the year's figure; None for a gap
    display_value: str
    target: float | None  # the year's target (a sum measure adds up its periods'); None: none
    target_display: str
    chart_target: float | None  # the target of one month (or quarter) at the year end
    status: str  # green, amber, red, or gap
    missing: tuple[str, ...]  # months (or quarters) of the year with no figure
    last_year: float | None
    last_year_display: str
    direction: str  # one of DIRECTIONS
    rag_mix: dict[str, int]  # across the year's months or quarters: RAG_MIX -> count
    variation: str | None  # SPC at the year's end
    assurance: str | None
    improvements: int  # points of special-cause improvement during the year
    concerns: int  # points of special-cause concern during the year
    commentary: tuple[tuple[str, str, bool], ...]  # (period, text, marked public)
    series: pd.DataFrame = field(repr=False, compare=False, default_factory=pd.DataFrame)


@dataclass(frozen=True)
class AreaYear:
    area: str
    measures: tuple[YearView, ...]
    directions: dict[str, int]  # DIRECTIONS -> count
    year_end: dict[str, int]  # RAG_MIX -> count of measures by their year's status
    rag_mix: dict[str, int]  # RAG_MIX -> count of periods across all its measures
    assurance: str = ""  # the paragraph: drafted by template, or the coordinator's


@dataclass(frozen=True)
class AnnualReport:
    span: str  # "2025/26"
    slug: str  # "2025-26", for file names
    label: str  # "2025/26, April 2025 to March 2026"
    previous: str  # "2024/25"
    as_of: datetime
    areas: tuple[AreaYear, ...]
    public: bool = False
    area: str = ""  # one area's report; "" for all

    @property
    def measures(self) -> list[YearView]:
        return [m for a in self.areas for m in a.measures]


def direction(
    now: float | None, before: float | None, better: str, unit: str, target: float | None
) -> str:
    """The direction of travel from last year's figure to this year's (see the module)."""
    if now is None or before is None or (better == "neutral" and target is None):
        return "none"
    threshold = SUSTAINED_POINTS if unit == "%" else abs(before) * SUSTAINED_WITHIN
    if better == "neutral":
        gain = abs(before - target) - abs(now - target)
    else:
        gain = (now - before) if better == "up" else (before - now)
    if abs(gain) <= threshold + 1e-9:
        return "sustained"
    return "improved" if gain > 0 else "deteriorated"


def build_annual(
    span: Span, measures: list[Measure], history: pd.DataFrame, as_of: datetime
) -> AnnualReport:
    """The annual report of ``span`` (a calendar or financial year) from the full history."""
    by_id = {m.id: m for m in measures}
    bucket = year_of(span)
    rolled = pd.concat([
        roll_up(history, by_id, bucket, size=12),
        roll_up(history, by_id, bucket, size=4, frequency="quarterly"),
    ], ignore_index=True)  # fmt: skip
    values = {
        (i, p): (None if math.isnan(v) else float(v))
        for i, p, v in zip(rolled["measure_id"], rolled["period"],
                           rolled["value"].astype(float), strict=True)  # fmt: skip
    }
    previous = str(span.shift_years(-1))
    year_periods = {"monthly": [str(m) for m in span.months],
                    "quarterly": [str(q) for q in span.quarters]}  # fmt: skip
    in_year = history[history["period"].isin(year_periods["monthly"] + year_periods["quarterly"])]
    gaps = {
        "monthly": missing_months(in_year, list(by_id), span.months),
        "quarterly": missing_months(in_year, list(by_id), span.quarters),
    }
    charts = _charts(history, by_id, span)
    # One pass over the year's rows, each measure's in period order.
    own_rows: dict[str, list[tuple[str, float, str, bool]]] = {}
    for measure_id, period, value, text, public in in_year.sort_values("period")[
            ["measure_id", "period", "value", "commentary", "public"]].itertuples(index=False):
        own_rows.setdefault(measure_id, []).append((period, value, text, bool(public)))

    months, quarters = span.months, span.quarters  # worked out once: each is a list
    views = []
    for m in sorted(measures, key=lambda m: (m.area, m.id)):
        periods = year_periods[m.frequency]
        judged = rolled_measure(m, months if m.frequency == "monthly" else quarters)
        value, before = values.get((m.id, str(span))), values.get((m.id, previous))
        needed = set(map(str, needs(m, months if m.frequency == "monthly" else quarters)))
        missing = tuple(p for p in gaps[m.frequency][m.id] if p in needed)
        own = [row for row in own_rows.get(m.id, ()) if row[0] in periods]
        found = {period: value for period, value, _, _ in own}
        colour = _colours(m)
        mix = Counter(colour(_number(found.get(p)), m.target_for(p)) for p in periods)
        series = charts.get(m.id, pd.DataFrame())
        causes = charts.causes.get(m.id, {})
        summary = charts.attrs_summary.get(m.id, {})
        views.append(YearView(
            id=m.id, name=m.name, area=m.area, unit=m.unit, better=m.better,
            frequency=m.frequency, aggregate=aggregate_of(m), owner_email=m.owner_email,
            public=m.public, value=value,
            display_value=format_value(value, m.unit) if value is not None else "",
            target=judged.target,
            target_display=format_value(judged.target, m.unit) if judged.target is not None else "",
            chart_target=m.target_for(periods[-1]),
            status=_colours(judged)(value, judged.target), missing=missing, last_year=before,
            last_year_display=format_value(before, m.unit) if before is not None else "",
            direction=direction(value, before, m.better, m.unit, judged.target),
            rag_mix={k: mix.get(k, 0) for k in RAG_MIX},
            variation=summary.get("variation"), assurance=summary.get("assurance"),
            improvements=causes.get("improvement", 0), concerns=causes.get("concern", 0),
            commentary=tuple((p, " ".join(str(c).split()), pub) for p, _, c, pub in own
                             if isinstance(c, str) and c.strip()),  # fmt: skip
            series=series,
        ))  # fmt: skip
    return AnnualReport(
        span=str(span), slug=span.slug, label=span.label, previous=previous, as_of=as_of,
        areas=areas_of(views),
    )  # fmt: skip


def areas_of(views: list[YearView]) -> tuple[AreaYear, ...]:
    """Counts per outcome area, in the order the views come (by area)."""
    grouped: dict[str, list[YearView]] = {}
    for view in views:
        grouped.setdefault(view.area, []).append(view)
    result = []
    for area, members in grouped.items():
        mix: Counter[str] = Counter()
        for view in members:
            mix.update(view.rag_mix)
        result.append(AreaYear(
            area=area,
            measures=tuple(members),
            directions={d: sum(v.direction == d for v in members) for d in DIRECTIONS},
            year_end={k: sum(v.status == k for v in members) for k in RAG_MIX},
            rag_mix={k: mix.get(k, 0) for k in RAG_MIX},
        ))  # fmt: skip
    return tuple(result)


def _colours(measure: Measure) -> Callable[[float | None, float | None], str]:
    """The measure's RAG of a figure against a target ("gap" for no figure, "monitored" for no
    target), its tolerances read once."""
    amber, red = parse_tolerance(measure.amber_tolerance), parse_tolerance(measure.red_tolerance)

    def colour(value: float | None, target: float | None) -> str:
        if value is None:
            return "gap"
        return "monitored" if target is None else rag(value, measure.better, target, amber, red)

    return colour


def _number(value: object) -> float | None:
    if value is None:
        return None
    number = float(value)  # type: ignore[arg-type]
    return None if math.isnan(number) else number


class _Charts(dict):
    """Measure id -> its SPC chart rows up to the year's end; ``attrs_summary`` -> readings;
    ``causes`` -> counts of special causes within the year."""

    attrs_summary: Mapping[str, Mapping[str, str | None]]
    causes: Mapping[str, Counter[str]]


def _charts(history: pd.DataFrame, measures: Mapping[str, Measure], span: Span) -> _Charts:
    """Each measure's chart in its own frequency, up to the year's end (the last 24 points)."""
    last = {"monthly": str(span.last), "quarterly": str(parse_period(
        f"{span.last.year}-Q{(span.last.month - 1) // 3 + 1}"))}  # fmt: skip
    is_quarter = history["period"].astype(str).str.contains("Q", regex=False)
    frequency = history["measure_id"].map({k: m.frequency for k, m in measures.items()})
    keep = history["measure_id"].isin(measures) & (
        ((frequency == "monthly") & ~is_quarter & (history["period"] <= last["monthly"]))
        | ((frequency == "quarterly") & is_quarter & (history["period"] <= last["quarterly"]))
    )
    frame = history.loc[keep, ["measure_id", "period", "value"]].copy()
    frame["value"] = pd.to_numeric(frame["value"]).astype(float)
    frame["better"] = frame["measure_id"].map({k: m.better for k, m in measures.items()})
    # The target in force at the year's end: assurance reads the year against it.
    ends = {"monthly": str(span.last), "quarterly": str(span.quarters[-1])}
    frame["target"] = frame["measure_id"].map(
        {k: m.target_for(ends[m.frequency]) for k, m in measures.items()}
    ).astype(float)
    result = _Charts()
    result.attrs_summary, result.causes = {}, {}
    if frame.empty:
        return result
    charts = spc.analyse(frame)
    in_year = charts["period"].isin([str(m) for m in span.months] + [str(q) for q in span.quarters])
    marked = charts.loc[in_year & charts["special_cause"].notna(), ["measure_id", "special_cause"]]
    for measure_id, cause in marked.itertuples(index=False):
        result.causes.setdefault(measure_id, Counter())[cause] += 1
    summary = charts.attrs["summary"]
    result.attrs_summary = {
        i: {"variation": _label(row["variation"]), "assurance": _label(row["assurance"])}
        for i, row in summary.iterrows()
    }
    # Sliced from arrays, one frame per measure: slicing the big frame 2,000 times is slow.
    recent = charts.groupby("measure_id", sort=False).tail(24)
    ids = recent["measure_id"].to_numpy()
    starts = np.flatnonzero(np.r_[True, ids[1:] != ids[:-1]])
    stops = np.r_[starts[1:], len(ids)]
    arrays = {name: recent[name].to_numpy() for name in CHART_COLUMNS}
    for a, b in zip(starts, stops, strict=True):
        columns = {name: arrays[name][a:b] for name in CHART_COLUMNS}
        columns["special_cause"] = pd.Series(columns["special_cause"], dtype=object)
        result[ids[a]] = pd.DataFrame(columns)
    return result


def _label(value: object) -> str | None:
    return value if isinstance(value, str) else None


# -- audiences and the coordinator's assurance text -------------------------------------------

ASSURANCE_HEADING = "## "


class BadAssurance(ValueError):
    """An assurance file that does not fit the report; the message says how to fix it."""


def for_area(report: AnnualReport, area: str) -> AnnualReport:
    """One outcome area's annual report."""
    return dataclasses.replace(
        report, areas=tuple(a for a in report.areas if a.area == area), area=area
    )


def for_public(report: AnnualReport) -> AnnualReport:
    """Fit to publish: measures marked ``public: false`` left out, only commentary the owner
    marked public, no owner addresses; area counts worked out again without what was left out."""
    views = [
        dataclasses.replace(
            m, owner_email="", commentary=tuple(c for c in m.commentary if c[2])
        )
        for a in report.areas
        for m in a.measures
        if m.public
    ]
    texts = {a.area: a.assurance for a in report.areas}
    areas = tuple(dataclasses.replace(a, assurance=texts.get(a.area, "")) for a in areas_of(views))
    return dataclasses.replace(report, areas=areas, public=True)


def with_assurance(report: AnnualReport, paragraphs: Mapping[str, str]) -> AnnualReport:
    """The report with each area's assurance paragraph set (areas not named keep theirs)."""
    return dataclasses.replace(report, areas=tuple(
        dataclasses.replace(a, assurance=paragraphs.get(a.area, a.assurance))
        for a in report.areas))  # fmt: skip


def assurance_text(report: AnnualReport) -> str:
    """The file a coordinator edits: one ``## Area`` heading per area, its paragraph below."""
    sections = [f"{ASSURANCE_HEADING}{a.area}\n\n{a.assurance.strip()}\n" for a in report.areas]
    return "\n".join(sections)


def read_assurance(text: str, report: AnnualReport) -> dict[str, str]:
    """Read an edited assurance file: ``## Area`` headings, each followed by its paragraph.

    Lines before the first heading and lines starting ``#`` (other than a heading) are ignored.
    A heading that names no area of the report is refused, naming the areas.
    """
    known = {a.area for a in report.areas}
    paragraphs: dict[str, list[str]] = {}
    current: str | None = None
    for line in text.splitlines():
        if line.startswith(ASSURANCE_HEADING):
            current = line[len(ASSURANCE_HEADING):].strip()
            if current not in known:
                raise BadAssurance(
                    f"assurance file: '## {current}' is not an outcome area of this report; "
                    f"the headings are {', '.join(f'## {a}' for a in sorted(known))}"
                )
            paragraphs[current] = []
        elif current is not None and not line.startswith("#"):
            paragraphs[current].append(line)
    return {area: "\n".join(lines).strip() for area, lines in paragraphs.items()}
