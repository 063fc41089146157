"""The period's figures as CSV and XLSX, for Excel and Power BI users.

One row per measure, exceptions first (most serious first), then the rest by area and id.
Column names are snake_case; numbers are numbers; a gap is an empty cell, never 0. The XLSX
holds the same rows on sheet ``measures`` as an Excel table named ``pmbot_measures`` (Power BI
finds it by name), and a sheet ``areas`` (table ``pmbot_areas``) with the counts per outcome area.

Text that a spreadsheet would run as a formula (starting ``=``, ``+``, ``-``, ``@``) is made
inert: stored as text in the XLSX, and prefixed with ``'`` in the CSV (OWASP's advice against
CSV injection), so an owner's commentary cannot run in a leader's Excel.

>>> import tempfile
>>> from tests.digest_fixtures import small_digest
>>> [p.name for p in write_tables(small_digest(), Path(tempfile.mkdtemp()))]
['performance-2026-10-measures.csv', 'performance-2026-10-measures.xlsx']
"""

from __future__ import annotations

import math
from pathlib import Path
from typing import Any

import pandas as pd

from bot.digest_model import Digest, MeasureView

# Column order of both files; the CLI's `status --json` uses the same names where they overlap.
COLUMNS = (
    "cycle", "period", "area", "measure_id", "name", "unit", "better", "frequency",
    "value", "display_value", "target", "amber_tolerance", "red_tolerance", "status",
    "is_exception", "exception_reasons", "verdict", "previous_value", "change",
    "value_1y_ago", "change_1y", "pct_change_1y", "value_2y_ago", "change_2y", "pct_change_2y",
    "value_3y_ago", "change_3y", "pct_change_3y",
    "variation", "assurance", "special_cause",
    "trial_limits", "rebased_from", "mean", "lower_limit", "upper_limit",
    "projected_breach_period", "projection_method",
    "reason", "commentary", "revised", "revisions",
    "owner_name", "owner_email", "submitted_by", "submitted_at", "channel",
)  # fmt: skip
NUMBERS = {
    "value", "target", "previous_value", "change", "mean", "lower_limit", "upper_limit",
    *(f"{name}_{n}y{suffix}" for n in (1, 2, 3)
      for name, suffix in (("value", "_ago"), ("change", ""), ("pct_change", ""))),
}  # fmt: skip
FORMULA_STARTS = ("=", "+", "-", "@", "\t", "\r")


def measure_rows(digest: Digest) -> pd.DataFrame:
    """The table as a DataFrame: float columns with NaN for gaps, text, booleans, counts.

    >>> from tests.digest_fixtures import small_digest
    >>> frame = measure_rows(small_digest())
    >>> frame.loc[frame.measure_id == "OD-03", ["value", "status"]].values.tolist()
    [[nan, 'not_available']]
    """
    exceptions = digest.exceptions
    first = {m.id for m in exceptions}
    rest = [m for m in digest.measures if m.id not in first]
    frame = pd.DataFrame([_row(digest, m) for m in [*exceptions, *rest]], columns=list(COLUMNS))
    for name in NUMBERS:
        frame[name] = pd.to_numeric(frame[name], errors="coerce").astype("float64")
    frame["revisions"] = frame["revisions"].astype("int64")
    frame["is_exception"] = frame["is_exception"].astype(bool)
    frame["revised"] = frame["revised"].astype(bool)
    frame["trial_limits"] = frame["trial_limits"].astype(bool)
    return frame


def write_tables(digest: Digest, directory: Path) -> list[Path]:
    """Write ``performance-<cycle>-measures.csv`` and ``.xlsx`` into ``directory``."""
    directory.mkdir(parents=True, exist_ok=True)
    frame = measure_rows(digest)
    stem = directory / f"performance-{digest.cycle}-measures"
    csv_path, xlsx_path = stem.with_suffix(".csv"), stem.with_suffix(".xlsx")
    text = frame.select_dtypes(exclude=["number", "bool"]).columns
    safe = frame.copy()
    safe[text] = safe[text].map(_inert)
    # utf-8-sig: Excel reads the £ and accents right only with the byte-order mark.
    safe.to_csv(csv_path, index=False, encoding="utf-8-sig", lineterminator="\r\n")
    _write_xlsx(frame, _area_rows(digest), xlsx_path)
    return [csv_path, xlsx_path]


def _row(digest: Digest, m: MeasureView) -> dict[str, Any]:
    row: dict[str, Any] = {
        "cycle": digest.cycle,
        "period": m.period,
        "area": m.area,
        "measure_id": m.id,
        "name": m.name,
        "unit": m.unit,
        "better": m.better,
        "frequency": m.frequency,
        "value": m.value,
        "display_value": m.display_value,
        "target": m.target,
        "amber_tolerance": m.amber_tolerance,
        "red_tolerance": m.red_tolerance,
        "status": m.status,
        "is_exception": m.is_exception,
        "exception_reasons": ";".join(m.exception_reasons),
        "verdict": m.verdict,
        "trial_limits": m.trial_limits,
        "rebased_from": m.rebased_from or "",
        "mean": m.mean,
        "lower_limit": m.lower_limit,
        "upper_limit": m.upper_limit,
        "previous_value": m.previous_value,
        "change": m.change,
        "variation": m.variation or "",
        "assurance": m.assurance or "",
        "special_cause": m.special_cause or "",
        "projected_breach_period": (m.projection.breach_period or "") if m.projection else "",
        "projection_method": m.projection.method if m.projection else "",
        "reason": m.reason,
        "commentary": m.commentary,
        "revised": m.revised,
        "revisions": m.revisions,
        "owner_name": m.owner_name,
        "owner_email": m.owner_email,
        "submitted_by": m.submitted_by or "",
        "submitted_at": m.submitted_at or "",
        "channel": m.channel or "",
    }
    for y in m.year_on_year:
        if y.years_ago in (1, 2, 3):
            row[f"value_{y.years_ago}y_ago"] = y.value
            row[f"change_{y.years_ago}y"] = y.change
            row[f"pct_change_{y.years_ago}y"] = y.pct_change
    return row


def _area_rows(digest: Digest) -> pd.DataFrame:
    rows = []
    for a in digest.areas:
        row = {"cycle": digest.cycle, "area": a.area, "measures": a.measures,
               "submitted": a.submitted, "exceptions": a.exceptions}  # fmt: skip
        row.update({f"rag_{k}": v for k, v in a.rag.items()})
        row.update({f"spc_{k}": v for k, v in a.spc.items()})
        rows.append(row)
    return pd.DataFrame(rows)


def _inert(value: Any) -> Any:
    """Text a spreadsheet would run as a formula gets a leading ``'``: ``_inert("=1") == "'=1"``."""
    if isinstance(value, str) and value.startswith(FORMULA_STARTS):
        return "'" + value
    return value


def _write_xlsx(measures: pd.DataFrame, areas: pd.DataFrame, path: Path) -> None:
    from openpyxl import Workbook
    from openpyxl.styles import Font
    from openpyxl.utils import get_column_letter
    from openpyxl.worksheet.table import Table, TableStyleInfo

    book = Workbook()
    book.remove(book.active)
    for title, frame in (("measures", measures), ("areas", areas)):
        sheet = book.create_sheet(title)
        sheet.append(list(frame.columns))
        for record in frame.itertuples(index=False):
            sheet.append([_cell(v) for v in record])
        for cell in sheet[1]:
            cell.font = Font(bold=True)
        # Text starting with "=" would otherwise be stored as a formula and run in Excel.
        for row in sheet.iter_rows(min_row=2):
            for cell in row:
                if cell.data_type == "f":
                    cell.data_type = "s"
        sheet.freeze_panes = "A2"
        for number, name in enumerate(frame.columns, start=1):
            width = 40 if name in ("commentary", "reason", "projection_method", "name") else 14
            sheet.column_dimensions[get_column_letter(number)].width = width
        if len(frame):
            ref = f"A1:{get_column_letter(len(frame.columns))}{len(frame) + 1}"
            table = Table(displayName=f"pmbot_{title}", ref=ref)
            table.tableStyleInfo = TableStyleInfo(name="TableStyleLight9", showRowStripes=True)
            sheet.add_table(table)
    book.save(path)


def _cell(value: Any) -> Any:
    """A value openpyxl writes as it should appear: NaN and "" become an empty cell."""
    if value is None or (isinstance(value, float) and math.isnan(value)) or value == "":
        return None
    if hasattr(value, "item"):  # numpy scalars
        return value.item()
    return value
