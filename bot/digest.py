"""Build the digest (the monthly pack) for one cycle: exceptions first, with trend and context.

Pure: the register, the cycle's status rows (``Service.status(cycle, now).measures``) and the
history (``Store.history_frame()``) come in; a ``bot.digest_model.Digest`` comes out. No clock
is read: ``as_of`` and ``due`` are passed in.

Every measure is charted in one call of ``spc.analyse``, and the per-measure results are taken
from its output by position, so the cost grows with the number of rows, not with its square.

A measure is an exception, for reasons in the order of ``EXCEPTION_REASONS``, when it is red,
when its figure is missing after the due date, when its chart shows special-cause concern, or
when its process will consistently fail its target. A missing figure mutes the other reasons
(inhibition): leaders are told once, that the figure is missing. "Consistently failing" needs
settled limits: on trial limits (fewer than 12 values since the latest rebase) it is no reason.

Each figure is judged against the target in force for its own period (``Measure.target_for``);
assurance compares the latest group's limits with the target in force now. A measure without
a target has no RAG colour and no assurance, so it is an exception only for its figure missing
or for special-cause concern.

>>> exception_reasons("missing", special_cause=None, variation="concern_high",
...                   assurance="consistent_fail")
('missing',)
>>> exception_reasons("red", special_cause="concern", variation="concern_low", assurance=None)
('red', 'special_cause_concern')
>>> exception_reasons("red", None, "common_cause", "consistent_fail", trial_limits=True)
('red',)
"""

from __future__ import annotations

import math
from collections import defaultdict
from collections.abc import Mapping
from datetime import date, datetime
from typing import Any

import numpy as np
import pandas as pd

from bot import spc
from bot.digest_model import AreaSummary, Digest, MeasureView
from bot.measures import Measure
from bot.periods import Period, parse_period
from bot.targets import rebase_for
from bot.trends import in_own_frequency, project, spread, values_at, year_on_year
from bot.values import format_value

STATUSES = ("green", "amber", "red", "monitored", "missing", "not_available", "outstanding")
SPC_KINDS = ("improvement", "concern", "neutral", "common_cause")
SERIES_POINTS = 24  # the chart shows the last 13; the rest give the renderers some room
SERIES_COLUMNS = ["period", "value", "mean", "lpl", "upl", "special_cause"]


def build_digest(
    *,
    cycle: Period,
    measures: list[Measure],
    status_rows: list[dict[str, Any]],
    history: pd.DataFrame,
    owner_names: Mapping[str, str],
    as_of: datetime,
    due: date,
    cycle_label: str,
    spc_rules: str = "ptd",
    organisation: str = "",
) -> Digest:
    """The digest of ``cycle``: one view per status row, area summaries, who is outstanding.

    ``status_rows`` decide which measures are in the cycle and hold their current figures
    (a quarterly measure is there only in a quarter's last month). ``history`` holds every
    measure's figures; those after a measure's current period are left out, and its current
    figure is the one in its status row. ``owner_names`` maps an email to a person's name.

    >>> measure = Measure("OD-01", "Backlog", "Operational delivery", "count", "down", 500,
    ...                   "olive@agency.example", red_tolerance="10%")
    >>> row = {"id": "OD-01", "period": "2026-10", "value": 600.0, "display_value": "600",
    ...        "status": "red", "revisions": 1, "commentary": "system outage"}
    >>> history = pd.DataFrame(columns=["measure_id", "period", "value"])
    >>> digest = build_digest(cycle=parse_period("2026-10"), measures=[measure],
    ...     status_rows=[row], history=history, owner_names={"olive@agency.example": "Olive"},
    ...     as_of=datetime(2026, 11, 10), due=date(2026, 11, 6), cycle_label="October 2026")
    >>> [(m.id, m.exception_reasons, m.owner_name) for m in digest.exceptions]
    [('OD-01', ('red',), 'Olive')]
    """
    register = {m.id: m for m in measures}
    unknown = [row["id"] for row in status_rows if row["id"] not in register]
    if unknown:
        raise ValueError(f"status rows for measures not in the register: {', '.join(unknown)}")
    rows = sorted(status_rows, key=lambda row: (register[row["id"]].area, row["id"]))
    in_cycle = {row["id"]: register[row["id"]] for row in rows}
    periods = {row["id"]: str(row["period"]) for row in rows}

    frame = cycle_history(history, rows, in_cycle)
    charts = spc.analyse(frame, rules=spc_rules)
    summary = charts.attrs["summary"]
    variations = summary["variation"].to_dict()
    assurances = summary["assurance"].to_dict()
    limits = summary[["mean", "lpl", "upl", "trial_limits", "group_start"]].to_dict("index")
    series, latest_cause, signals = _series(charts)
    previous = _previous_periods(periods)
    before = values_at(frame, list(previous.items()))
    comparisons = year_on_year(frame, periods)
    projections = project(frame, in_cycle, periods)

    views = []
    for row in rows:
        measure = in_cycle[row["id"]]
        value = _number(row.get("value"))
        previous_value = before[measure.id, previous[measure.id]]
        variation = _label(variations[measure.id])
        # With no figure at all there are no limits, which analyse reads as "inconsistent";
        # the pack should say nothing rather than "hit and miss".
        assurance = _label(assurances[measure.id]) if variation is not None else None
        special_cause = latest_cause[measure.id]
        target = measure.target_for(periods[measure.id])
        lines = limits[measure.id]
        rebase = rebase_for(measure.rebase, periods[measure.id])
        trial = bool(lines["trial_limits"])
        views.append(
            MeasureView(
                id=measure.id,
                name=measure.name,
                area=measure.area,
                unit=measure.unit,
                better=measure.better,
                frequency=measure.frequency,
                target=target,
                amber_tolerance=measure.amber_tolerance,
                red_tolerance=measure.red_tolerance,
                owner_email=measure.owner_email,
                owner_name=owner_names.get(measure.owner_email) or measure.owner_email,
                deputy_email=measure.deputy_email,
                description=measure.description,
                limitations=measure.limitations,
                source=measure.source,
                period=periods[measure.id],
                value=value,
                display_value=row.get("display_value") or "",
                target_display=format_value(target, measure.unit) if target is not None else "",
                status=row["status"],
                commentary=row.get("commentary") or "",
                public_commentary=_public_commentary(row),
                missing_months=tuple(row.get("missing_months") or ()),
                reason=row.get("reason") or "",
                revisions=int(row.get("revisions") or 0),
                submitted_by=row.get("submitted_by"),
                submitted_at=_text(row.get("submitted_at")),
                channel=row.get("channel"),
                previous_value=previous_value,
                change=(
                    round(value - previous_value, 10)
                    if value is not None and previous_value is not None
                    else None
                ),
                variation=variation,
                assurance=assurance,
                special_cause=special_cause,
                year_on_year=comparisons[measure.id],
                projection=projections[measure.id],
                exception_reasons=exception_reasons(
                    row["status"], special_cause, variation, assurance, trial_limits=trial
                ),
                series=series[measure.id],
                trial_limits=trial,
                rebased_from=rebase.period if rebase else None,
                rebase_reason=rebase.reason if rebase else "",
                mean=_number(lines["mean"]),
                lower_limit=_number(lines["lpl"]),
                upper_limit=_number(lines["upl"]),
                target_history=tuple(
                    (step.start, format_value(step.value, measure.unit)
                     + (" (trajectory)" if step.trajectory else ""))
                    for step in measure.targets
                ),  # fmt: skip
                rebase_history=tuple((r.period, r.reason) for r in measure.rebase),
                signals=signals[measure.id],
                silence=row.get("silence") or "",
                silenced_until=row.get("silenced_until"),
            )
        )

    return Digest(
        cycle=str(cycle),
        cycle_label=cycle_label,
        as_of=as_of,
        due=due,
        measures=tuple(views),
        areas=_areas(views),
        outstanding=_outstanding(views),
        organisation=organisation,
    )


def exception_reasons(
    status: str,
    special_cause: str | None,
    variation: str | None,
    assurance: str | None,
    *,
    trial_limits: bool = False,
) -> tuple[str, ...]:
    """Why a measure needs a leader's attention, in the order of ``EXCEPTION_REASONS``.

    A missing figure is the only reason given for a missing measure: the chart and assurance
    then describe earlier months, and leaders should hear once that the figure is missing.
    """
    if status == "missing":
        return ("missing",)
    reasons = []
    if status == "red":
        reasons.append("red")
    if special_cause == "concern" or (variation or "").startswith("concern_"):
        reasons.append("special_cause_concern")
    if assurance == "consistent_fail" and not trial_limits:
        reasons.append("consistently_failing")
    return tuple(reasons)


def cycle_history(
    history: pd.DataFrame, rows: list[dict[str, Any]], measures: Mapping[str, Measure]
) -> pd.DataFrame:
    """Each measure's figures before its current period, then the current one from its row.

    Figures after the current period (a digest for an earlier cycle) and figures of the other
    frequency are left out. Every measure ends on a row for its current period, a gap when
    there is no figure, so its chart ends where the pack does. Adds ``better`` and ``target``.
    """
    periods = {row["id"]: str(row["period"]) for row in rows}
    earlier = history.loc[history["measure_id"].isin(periods), ["measure_id", "period", "value"]]
    current_period = spread(earlier["measure_id"], periods)
    earlier = earlier[in_own_frequency(earlier, measures) & (earlier["period"] < current_period)]
    current = pd.DataFrame(
        {
            "measure_id": list(periods),
            "period": list(periods.values()),
            "value": [_number(row.get("value")) for row in rows],
        }
    )
    frame = pd.concat([earlier, current], ignore_index=True)
    frame["value"] = pd.to_numeric(frame["value"]).astype(float)
    frame["better"] = spread(frame["measure_id"], {k: m.better for k, m in measures.items()})
    # The target in force for each row's own period; analyse reads the latest row's, the
    # target in force now. A row starts a new group where its rebase differs from the row
    # before's (so a rebase on a period with no row starts the group at the next row).
    # Most measures have one target from ever and no rebase: those are spread at array speed,
    # and only the rows of the others are looked up one by one.
    constant = {
        k: m.targets[0].value if m.targets else np.nan
        for k, m in measures.items()
        if not m.targets or (len(m.targets) == 1 and not m.targets[0].start)
    }
    target = spread(frame["measure_id"], constant, np.nan).astype(float)
    ids, periods = frame["measure_id"].to_numpy(), frame["period"].astype(str).to_numpy()
    for i in np.flatnonzero(~frame["measure_id"].isin(constant).to_numpy()):
        in_force = measures[ids[i]].target_for(periods[i])
        target[i] = np.nan if in_force is None else in_force
    frame["target"] = target
    frame = frame.sort_values(["measure_id", "period"], ignore_index=True)
    ids, periods = frame["measure_id"].to_numpy(), frame["period"].astype(str).to_numpy()
    rebase = np.zeros(len(frame), dtype=bool)
    rebased = [k for k, m in measures.items() if m.rebase]
    group_of = {}
    for i in np.flatnonzero(frame["measure_id"].isin(rebased).to_numpy()):
        start = rebase_for(measures[ids[i]].rebase, periods[i])
        group_of[i] = start.period if start else ""
        rebase[i] = i - 1 in group_of and ids[i - 1] == ids[i] and group_of[i - 1] != group_of[i]
    frame["rebase"] = rebase
    return frame


def _series(
    charts: pd.DataFrame,
) -> tuple[dict[str, pd.DataFrame], dict[str, str | None], dict[str, tuple[str | None, ...]]]:
    """Each measure's last ``SERIES_POINTS`` chart rows, the special cause of its last point, and
    why each of those rows is flagged (``signals``: ``"{rule}_high"``/``"_low"`` or None).

    ``charts`` is sorted by measure and period, so each measure is one slice of it. The
    columns are picked once and each measure's frame is a row slice of them (with its own
    index from 0): building thousands of small frames column by column costs ten times as much.
    """
    recent = charts.groupby("measure_id", sort=False).tail(SERIES_POINTS)
    ids = recent["measure_id"].to_numpy()
    if not len(ids):
        return {}, {}, {}
    starts = np.flatnonzero(np.r_[True, ids[1:] != ids[:-1]])
    stops = np.r_[starts[1:], len(ids)]
    causes = recent["special_cause"].to_numpy()
    # Rebuilt from plain arrays: its blocks consolidate, and each slice is then cheap.
    table = pd.DataFrame({name: recent[name].to_numpy() for name in SERIES_COLUMNS})
    # Kept as objects so that common cause stays None, as in spc.analyse.
    table["special_cause"] = pd.Series(causes, dtype=object)

    def frame(a: int, b: int) -> pd.DataFrame:
        part = table.iloc[a:b]
        part.index = pd.RangeIndex(b - a)
        return part

    series = {ids[a]: frame(a, b) for a, b in zip(starts, stops, strict=True)}
    # The current period is always each measure's last row (see cycle_history).
    latest = {ids[b - 1]: _label(causes[b - 1]) for b in stops}
    flagged = [
        f"{rule}_{variation.rpartition('_')[2]}" if isinstance(rule, str) else None
        for rule, variation in zip(recent["rule"].to_numpy(), recent["variation"].to_numpy(),
                                   strict=True)
    ]  # fmt: skip
    signals = {ids[a]: tuple(flagged[a:b]) for a, b in zip(starts, stops, strict=True)}
    return series, latest, signals


def _previous_periods(periods: Mapping[str, str]) -> dict[str, str]:
    """Measure id -> the period before its current one."""
    before = {text: str(parse_period(text).shift(-1)) for text in set(periods.values())}
    return {measure_id: before[period] for measure_id, period in periods.items()}


def _areas(views: list[MeasureView]) -> tuple[AreaSummary, ...]:
    """Counts per outcome area, in the order the views come (by area)."""
    by_area: dict[str, list[MeasureView]] = defaultdict(list)
    for view in views:
        by_area[view.area].append(view)
    summaries = []
    for area, members in by_area.items():
        rag = dict.fromkeys(STATUSES, 0)
        spc_counts = dict.fromkeys(SPC_KINDS, 0)
        for view in members:
            rag[view.status] = rag.get(view.status, 0) + 1
            # A period with no figure has no point on the chart, so no SPC reading.
            if view.value is not None:
                spc_counts[view.special_cause or "common_cause"] += 1
        summaries.append(
            AreaSummary(
                area=area,
                measures=len(members),
                submitted=sum(view.revisions > 0 for view in members),
                rag=rag,
                spc=spc_counts,
                exceptions=sum(view.is_exception for view in members),
            )
        )
    return tuple(summaries)


def _outstanding(views: list[MeasureView]) -> dict[str, list[str]]:
    """Owner email -> ids of their measures with no figure yet (outstanding or missing)."""
    owners: dict[str, list[str]] = defaultdict(list)
    for view in views:
        if view.status in ("outstanding", "missing"):
            owners[view.owner_email].append(view.id)
    return {owner: owners[owner] for owner in sorted(owners)}


def _public_commentary(row: Mapping[str, Any]) -> str:
    """The commentary marked public: a rolled-up row carries it, a month's row marks it."""
    if "public_commentary" in row:
        return row["public_commentary"] or ""
    return (row.get("commentary") or "") if row.get("commentary_public") else ""


def _number(value: Any) -> float | None:
    """A figure as a float, None for a gap (None or NaN)."""
    if value is None:
        return None
    number = float(value)
    return None if math.isnan(number) else number


def _label(value: Any) -> str | None:
    """An SPC label, None for a missing one (pandas may hand over NaN)."""
    return value if isinstance(value, str) else None


def _text(value: Any) -> str | None:
    if value is None:
        return None
    return value.isoformat() if isinstance(value, datetime) else str(value)
