"""Generate the sample history (data/history.csv) from the sample register (data/measures.yaml).

The output is deterministic: the random generator is seeded from a fixed seed and the
measure id, so rerunning the script gives a byte-identical file, and editing one measure's
scenario does not change the others.

Each measure's series is built from a scenario below: a piecewise-linear level (``knots``),
step changes, seasonality, noise (or Poisson counts), single outliers, a monotonic trend
over the last months, a pinned latest value, data gaps and a few commentaries. The latest
values are pinned so that the sample shows a realistic mix of green, amber and red, and some
measures carry designed special causes for the SPC charts (see ``SCENARIOS``).

Usage::

    python tools/make_sample_history.py [--register data/measures.yaml] [--out data/history.csv]
"""

from __future__ import annotations

import argparse
import csv
import zlib
from pathlib import Path

import numpy as np
import yaml

SEED = 20261001
FIRST_MONTH = (2023, 10)  # 2023-10 .. 2026-09: 36 months
N_MONTHS = 36
FIRST_QUARTER = (2023, 4)  # 2023-Q4 .. 2026-Q3: 12 quarters
N_QUARTERS = 12
COLUMNS = ["measure_id", "period", "value", "reason", "commentary"]

DECIMALS = {"%": 1, "days": 1, "score": 1, "count": 0, "£": 0}
BOUNDS = {
    "%": (0.0, 100.0),
    "days": (0.0, None),
    "score": (0.0, None),
    "count": (0.0, None),
    "£": (0.0, None),
}

DW_OUTAGE = "Data warehouse outage, figure not produced"
ITRENT = "iTrent upgrade over month end; HR reports not available, figure not produced"
SURVEY = "Post-call survey supplier contract changeover; no survey run this month"

# Scenario keys (all optional):
#   knots     [(period, level), ...]  piecewise-linear underlying level, flat beyond the ends
#   steps     [(period, delta), ...]  step change added from that period onwards
#   season    {month: effect}         additive (units) or, with mode "mul", a fraction of level
#   noise     standard deviation of normal noise, in the measure's unit
#   poisson   True: the value is a Poisson count around the level (small counts)
#   trend     (period, end value)     strictly monotonic run from that period to the last one
#   outliers  {period: value}         single unusual points
#   final     value of the latest period (pinned for a stable RAG mix)
#   gaps      {period: reason}        no value, a reason instead
#   comments  {period: text}
#   decimals, bounds                  override the unit's defaults
SCENARIOS: dict[str, dict] = {
    # Improving, then a step down after recruitment: shift (special cause improvement)
    # from 2026-02; latest green.
    "OD-01": dict(
        knots=[("2023-10", 78), ("2024-06", 72), ("2025-01", 70), ("2026-01", 64)],
        steps=[("2026-02", -10)],
        season={12: 1.5, 1: 3, 2: 2, 3: 1},
        noise=1.0,
        final=52.8,
        gaps={"2024-11": DW_OUTAGE},
        comments={
            "2024-01": "January peak in applications after the Christmas closure",
            "2026-01": "Recruitment of 40 new case managers completed; training ends this month",
            "2026-02": "public: New case managers now making decisions; average time down 11 days",
            "2026-09": "public: Sixth month running below target since the new case managers "
            "started",
        },
    ),
    # Backlog grows to a winter 2025 peak, then falls every month from 2026-01:
    # trend (special cause improvement); latest amber.
    "OD-02": dict(
        knots=[("2023-10", 24500), ("2024-04", 27000), ("2025-02", 31000), ("2025-12", 29000)],
        season={1: 0.04, 2: 0.03},
        mode="mul",
        noise=450,
        trend=("2026-01", 21400),
        gaps={"2024-11": DW_OUTAGE},
        comments={
            "2025-02": "Highest backlog since launch: winter applications peak and staff absence",
            "2026-09": "Down 8,700 since January with the additional case managers; "
            "on course for 20,000 by December",
        },
    ),
    # Steady around target with a single low outlier in January 2024; latest green.
    "OD-03": dict(
        knots=[("2023-10", 90.6)],
        season={12: -1.5, 1: -2, 7: -1},
        noise=1.2,
        outliers={"2024-01": 74.6},
        final=91.6,
        gaps={"2024-11": DW_OUTAGE},
        comments={
            "2024-01": "Christmas closure and a surge of applications in early January; "
            "staff redeployed from Best Start Grant",
        },
    ),
    # Improving in 2024, then steady, with winter and August dips; latest green.
    "OD-04": dict(
        knots=[("2023-10", 74), ("2025-03", 79), ("2026-09", 79)],
        season={12: -4, 1: -7, 2: -3, 8: -3, 9: -1},
        noise=2.0,
        final=81.2,
        comments={
            "2025-01": "Winter peak in calls; 25 advisers moved from back office for four weeks",
            "2025-06": "public: New call-back option live: callers keep their place in the queue",
        },
    ),
    # Improving steadily (special cause improvement: recent points above the upper limit)
    # but well short of the statutory standard: consistently failing; latest red.
    "OD-05": dict(
        knots=[("2023-10", 64), ("2024-10", 72), ("2025-10", 84), ("2026-09", 84)],
        noise=2.5,
        final=83.9,
        comments={
            "2024-10": "public: Dedicated re-determination team set up",
            "2026-09": "Requests up 30% as the ADP backlog clears; 12 decision makers "
            "redeployed to re-determinations from October",
        },
    ),
    # Stable and capable, one outlier at uprating in April 2025; latest green.
    "OD-06": dict(
        knots=[("2023-10", 98.7)],
        noise=0.3,
        outliers={"2025-04": 96.1},
        final=98.7,
        comments={
            "2025-04": "Sample picked up an uprating error: April rates not applied to about "
            "1,900 Child Disability Payment awards; corrected in May, arrears paid",
        },
    ),
    # Quarterly, rising slowly; latest green.
    "BT-01": dict(
        knots=[("2023-Q4", 88.5), ("2026-Q3", 90.0)],
        noise=0.6,
        final=90.8,
    ),
    # Quarterly, rising but below target; latest amber.
    "BT-02": dict(
        knots=[("2023-Q4", 84), ("2026-Q3", 87.5)],
        noise=0.8,
        final=87.2,
        gaps={
            "2024-Q2": "Birth registrations data from National Records of Scotland delayed; "
            "estimate not produced"
        },
        comments={
            "2026-Q3": "Provisional; usually revised up 1-2 points. Midwife referral pilot "
            "in Lanarkshire and Tayside from October",
        },
    ),
    # Demand growing slowly, strongly seasonal (School Age Payment window, January);
    # latest green.
    "BT-03": dict(
        knots=[("2023-10", 35000), ("2026-09", 37500)],
        season={1: 0.10, 2: 0.03, 4: -0.03, 6: 0.12, 7: 0.18, 8: 0.10, 12: -0.15},
        mode="mul",
        noise=900,
        final=38640,
        comments={
            "2024-07": "School Age Payment window; joint campaign with schools and councils",
        },
    ),
    # Rising as outreach expands in 2024, dips at Christmas and in summer; latest green.
    "BT-04": dict(
        knots=[("2023-10", 4150), ("2025-03", 4500), ("2026-09", 4550)],
        season={12: -0.20, 1: -0.05, 4: -0.05, 7: -0.12, 8: -0.10},
        mode="mul",
        noise=150,
        final=4620,
        gaps={
            "2024-08": "Booking system migration; appointment records not reconciled, "
            "figure not produced"
        },
        comments={
            "2025-03": "Eight new outreach locations opened in libraries and GP surgeries",
        },
    ),
    # Rolling sickness absence rising every month from 2025-12: trend (special cause
    # concern); latest red.
    "RES-01": dict(
        knots=[("2023-10", 9.6), ("2025-11", 9.1)],
        noise=0.08,
        trend=("2025-12", 10.6),
        gaps={"2025-04": ITRENT},
        comments={
            "2026-03": "Winter respiratory illness and long-term absence both up",
            "2026-09": "Long-term absence rising, mainly mental health and musculoskeletal; "
            "attendance review with trade unions, report to Executive Team in November",
        },
    ),
    # Neutral: below establishment until the January 2026 intake; latest green.
    "RES-02": dict(
        knots=[("2023-10", 4120), ("2025-12", 4250), ("2026-09", 4240)],
        steps=[("2026-01", 115)],
        noise=12,
        final=4352,
        comments={
            "2026-01": "Operations recruitment campaign: 115 new starters in January, "
            "including 40 case managers",
        },
    ),
    # Neutral: spend against a flat profile, March year-end peak; latest amber.
    "RES-03": dict(
        knots=[("2023-10", 25400000), ("2026-09", 26900000)],
        season={3: 0.11, 4: -0.06, 12: 0.02},
        mode="mul",
        noise=350000,
        final=27620000,
        comments={
            "2025-03": "Year-end accruals and annual IT licence renewals",
            "2026-09": "2026-27 pay award agreed in August and backdated to April; "
            "arrears of £0.7m paid in September",
        },
    ),
    # Turnover falling (special cause improvement: below the lower limit since 2026-01);
    # latest green.
    "RES-04": dict(
        knots=[("2023-10", 12.6), ("2025-06", 9.6), ("2026-09", 9.3)],
        noise=0.15,
        final=9.4,
        gaps={"2025-04": ITRENT},
    ),
    # Prompt payment, dips at year end; latest green.
    "RES-05": dict(
        knots=[("2023-10", 96.0)],
        season={4: -4, 12: -2, 1: -1},
        noise=0.9,
        final=96.2,
        comments={
            "2025-04": "Year-end closedown and move to the new purchase-to-pay workflow "
            "delayed approvals",
        },
    ),
    # High availability with one major outage in July 2026: outlier (special cause
    # concern); latest green. Two decimals: one would hide the variation.
    "ITSM-01": dict(
        knots=[("2023-10", 99.82)],
        noise=0.08,
        decimals=2,
        outliers={"2026-07": 97.14},
        final=99.84,
        comments={
            "2026-07": "Major SPM outage 14-15 July: database failover did not complete; "
            "about 7 service hours lost. Post-incident review under way",
        },
    ),
    # Improving in 2024, then around target; latest amber.
    "ITSM-02": dict(
        knots=[("2023-10", 86), ("2024-10", 89.5)],
        season={9: -1.5},  # supplier change-freeze around the September release
        noise=1.8,
        final=88.1,
        gaps={"2023-12": "ServiceNow SLA report misconfigured after upgrade; figure withdrawn"},
    ),
    # Step up after the ServiceNow migration in February 2026: shift (special cause
    # concern); latest red.
    "ITSM-03": dict(
        knots=[("2023-10", 330), ("2026-01", 315)],
        steps=[("2026-02", 120)],
        noise=18,
        final=455,
        comments={
            "2026-02": "Move to the new ServiceNow instance: 90 legacy incidents carried over "
            "and duplicates not yet merged",
            "2026-09": "Not reducing: two service desk vacancies and supplier tickets held by a "
            "network change freeze. Recovery plan to Digital Board in October",
        },
    ),
    # Small counts; latest green.
    "ITSM-04": dict(
        knots=[("2023-10", 1.4)],
        poisson=True,
        outliers={"2026-07": 3},
        final=1,
        comments={"2026-07": "Includes the SPM outage of 14-15 July"},
    ),
    # Volatile around 80; latest amber.
    "CD-01": dict(
        knots=[("2023-10", 76), ("2025-03", 84), ("2026-09", 80)],
        noise=4,
        final=78.0,
        gaps={
            "2024-06": "Portfolio Board not held in the pre-election period; "
            "milestone review not carried out"
        },
        comments={
            "2026-09": "4 of 18 milestones late, 3 of them in the Future Platform programme "
            "pending a supplier contract variation",
        },
    ),
    # Small counts, creeping up; latest red.
    "CD-02": dict(
        knots=[("2023-10", 2.5), ("2026-09", 3.2)],
        poisson=True,
        final=5,
        comments={
            "2026-09": "Three Case Transfer and Future Platform projects rated red after "
            "re-planning; recovery plans to Portfolio Board in November",
        },
    ),
    # Improving to above plan; latest green.
    "CD-03": dict(
        knots=[("2023-10", 88), ("2024-09", 95), ("2026-09", 96.5)],
        noise=1.5,
        final=97.3,
        comments={"2024-03": "Monthly volumes re-planned with DWP from April"},
    ),
    # Quarterly survey around target; latest green.
    "REP-01": dict(
        knots=[("2023-Q4", 90.5)],
        noise=0.9,
        final=90.6,
    ),
    # Winter peaks and a step up from January 2026: shift (special cause concern);
    # latest amber.
    "REP-02": dict(
        knots=[("2023-10", 560), ("2025-12", 590)],
        steps=[("2026-01", 110)],
        season={12: 0.06, 1: 0.10, 2: 0.05, 8: -0.05},
        mode="mul",
        noise=22,
        final=712,
        comments={
            "2026-01": "Complaints about ADP award reviews after review letters went to "
            "clients transferred from DWP",
            "2026-09": "Still mainly about award reviews; new review letter wording from November",
        },
    ),
    # Falls when complaint volumes rise in January 2026: shift (special cause concern);
    # latest red.
    "REP-03": dict(
        knots=[("2023-10", 78), ("2025-12", 82)],
        steps=[("2026-01", -9)],
        noise=2.0,
        final=67.5,
        comments={
            "2026-09": "Stage 1 team stretched by higher complaint volumes; 6 staff "
            "redeployed to complaints from 1 October",
        },
    ),
    # Stable score; survey gap in early 2025; latest green.
    "REP-04": dict(
        knots=[("2023-10", 8.3)],
        noise=0.12,
        bounds=(1.0, 10.0),
        final=8.4,
        gaps={"2025-01": SURVEY, "2025-02": SURVEY},
    ),
    # Improving in 2024, then steady; latest green.
    "COM-01": dict(
        knots=[("2023-10", 94), ("2024-12", 96)],
        noise=1.8,
        final=97.6,
        comments={"2024-03": "FOI backlog cleared with two temporary caseworkers"},
    ),
    # Deteriorating in 2026; latest red.
    "COM-02": dict(
        knots=[("2023-10", 86), ("2025-06", 90), ("2026-09", 84)],
        noise=3.5,
        final=79.0,
        gaps={"2026-06": "Subject access request tracker being rebuilt; figure not produced"},
        comments={
            "2026-09": "Three very large requests covering several years of case history and "
            "two caseworkers on long-term absence; support from October",
        },
    ),
    # Small counts with one outlier in March 2024; latest green.
    "COM-03": dict(
        knots=[("2023-10", 11.5)],
        poisson=True,
        outliers={"2024-03": 34},
        final=11,
        comments={
            "2024-03": "Print supplier error: letters for 23 clients sent to previous addresses, "
            "each logged as a breach; supplier process changed",
        },
    ),
    # Quarterly count; latest amber.
    "RSK-01": dict(
        knots=[("2023-Q4", 5), ("2026-Q3", 4)],
        noise=0.8,
        final=4,
        comments={
            "2026-Q3": "Above appetite: cyber security, case transfer delivery, workforce "
            "capacity and supplier resilience (new this quarter)",
        },
    ),
    # Quarterly, improving in 2024, then steady; latest green.
    "RSK-02": dict(
        knots=[("2023-Q4", 80), ("2025-Q2", 85), ("2026-Q3", 86)],
        noise=3,
        final=88.0,
    ),
    # One large investigation in May 2026: outlier (special cause concern); latest green.
    "RSK-03": dict(
        knots=[("2023-10", 330000), ("2026-09", 410000)],
        noise=38000,
        outliers={"2026-05": 1240000},
        final=402000,
        gaps={"2024-05": "Counter Fraud case system unavailable at month end; figure not produced"},
        comments={
            "2026-05": "Includes £0.86m from one organised fraud investigation (63 linked "
            "Scottish Child Payment applications), referred to Police Scotland",
        },
    ),
}


def target_of(measure: dict) -> float:
    """The latest target (a plain `target`, or the last of `targets`); 0 for none."""
    steps = measure.get("targets") or [{"value": measure.get("target") or 0}]
    return float(steps[-1]["value"])


def month_periods() -> list[str]:
    year, month = FIRST_MONTH
    out = []
    for _ in range(N_MONTHS):
        out.append(f"{year:04d}-{month:02d}")
        month += 1
        if month > 12:
            year, month = year + 1, 1
    return out


def quarter_periods() -> list[str]:
    year, quarter = FIRST_QUARTER
    out = []
    for _ in range(N_QUARTERS):
        out.append(f"{year:04d}-Q{quarter}")
        quarter += 1
        if quarter > 4:
            year, quarter = year + 1, 1
    return out


def month_of(period: str) -> int:
    """Calendar month of a period; for a quarter, its last month."""
    if "-Q" in period:
        return int(period[-1]) * 3
    return int(period[5:7])


def trend_values(
    base: float, end: float, n: int, decimals: int, rng: np.random.Generator
) -> np.ndarray:
    """n values moving strictly monotonically from base (exclusive) to end (inclusive).

    Worked in whole rounding units so that rounding can never produce a flat step.
    """
    scale = 10**decimals
    start_units = round(base * scale)
    total = round(end * scale) - start_units
    sign = 1 if total >= 0 else -1
    total = abs(total)
    if total < n:
        raise ValueError(f"trend from {base} to {end} too small for {n} strictly monotone steps")
    minimum = max(1, total // (2 * n))
    extra = rng.multinomial(total - minimum * n, [1.0 / n] * n)
    units = start_units + sign * np.cumsum(minimum + extra)
    return units / scale


def series(
    measure: dict, periods: list[str], scenario: dict, rng: np.random.Generator
) -> list[float | None]:
    unit = measure["unit"]
    n = len(periods)
    index = {p: i for i, p in enumerate(periods)}
    decimals = scenario.get("decimals", DECIMALS[unit])
    low, high = scenario.get("bounds", BOUNDS[unit])

    knots = scenario.get("knots") or [(periods[0], target_of(measure))]
    xs = [index[p] for p, _ in knots]
    ys = [float(v) for _, v in knots]
    level = np.interp(np.arange(n), xs, ys)
    for period, delta in scenario.get("steps", []):
        level[index[period] :] += delta

    season = scenario.get("season", {})
    effect = np.array([season.get(month_of(p), 0.0) for p in periods], dtype=float)
    level = level * (1.0 + effect) if scenario.get("mode") == "mul" else level + effect

    if scenario.get("poisson"):
        values = rng.poisson(np.clip(level, 0, None)).astype(float)
    else:
        values = level + rng.normal(0.0, scenario.get("noise", 0.0), n)
    values = np.round(values, decimals)

    if "trend" in scenario:
        period, end = scenario["trend"]
        i0 = index[period]
        values[i0:] = trend_values(values[i0 - 1], end, n - i0, decimals, rng)
    for period, value in scenario.get("outliers", {}).items():
        values[index[period]] = value
    if "final" in scenario:
        values[-1] = scenario["final"]

    values = np.clip(values, low, high)
    values = np.round(values, decimals)
    gaps = scenario.get("gaps", {})
    return [None if p in gaps else float(v) for p, v in zip(periods, values, strict=True)]


def fmt(value: float | None, decimals: int) -> str:
    if value is None:
        return ""
    if decimals == 0:
        return str(int(round(value)))
    return f"{value:.{decimals}f}"


def build_rows(register: dict) -> list[list[str]]:
    rows = []
    for measure in register["measures"]:
        mid = measure["id"]
        frequency = measure.get("frequency", "monthly")
        periods = quarter_periods() if frequency == "quarterly" else month_periods()
        scenario = SCENARIOS.get(mid, {})
        if not scenario:  # a measure added to the register later: flat at target
            target = target_of(measure)
            scenario = {"noise": abs(target) * 0.03 if target else 1.0}
        rng = np.random.default_rng([SEED, zlib.crc32(mid.encode("utf-8"))])
        decimals = scenario.get("decimals", DECIMALS[measure["unit"]])
        values = series(measure, periods, scenario, rng)
        gaps = scenario.get("gaps", {})
        comments = scenario.get("comments", {})
        for period, value in zip(periods, values, strict=True):
            rows.append(
                [mid, period, fmt(value, decimals), gaps.get(period, ""), comments.get(period, "")]
            )
    return rows


def main(argv: list[str] | None = None) -> None:
    root = Path(__file__).resolve().parent.parent
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--register", type=Path, default=root / "data" / "measures.yaml")
    parser.add_argument("--out", type=Path, default=root / "data" / "history.csv")
    args = parser.parse_args(argv)

    register = yaml.safe_load(args.register.read_text(encoding="utf-8"))
    rows = build_rows(register)
    with args.out.open("w", encoding="utf-8", newline="") as fh:
        writer = csv.writer(fh, lineterminator="\n")
        writer.writerow(COLUMNS)
        writer.writerows(rows)
    print(f"wrote {len(rows)} rows for {len(register['measures'])} measures to {args.out}")


if __name__ == "__main__":
    main()
