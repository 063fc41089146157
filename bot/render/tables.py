"""The period's figures as CSV and XLSX, for Excel and Power BI users.

``measures``: one row per measure, exceptions first (most serious first), then the rest by area
and id. ``series``: the long time series Power BI wants, one row per measure and period (the
chart's 24 periods), with the figure, its status, the mean and process limits. Column names
are snake_case; numbers are numbers, rounded to the measure's own precision (tolerances as a
number plus a kind); periods have a start date; a gap is an empty cell, never 0.

Files: ``performance-<cycle>-measures.csv`` and ``-series.csv`` (RFC 4180, UTF-8 with a
byte-order mark for Excel, CRLF), each with CSVW metadata beside it (``<name>.csv-metadata.json``,
W3C "CSV on the Web", as the UK government's tabular data standard asks), and one
``performance-<cycle>-measures.xlsx`` with the sheets ``measures``, ``areas`` (Excel tables
``pmbot_measures``, ``pmbot_areas``, which Power BI finds by name) and ``dictionary``, what
every column of both files holds. The words of the dictionary are in
``templates/digest/columns.txt``. Dates are Excel dates; % figures carry a % number format.

Text that a spreadsheet would run as a formula (starting ``=``, ``+``, ``-``, ``@``) is made
inert: stored as text in the XLSX, and prefixed with ``'`` in the CSV (OWASP's advice against
CSV injection), so an owner's commentary cannot run in a leader's Excel.

>>> import tempfile
>>> from tests.digest_fixtures import small_digest
>>> [p.name for p in write_tables(small_digest(), Path(tempfile.mkdtemp()))][::2]
['performance-2026-10-measures.csv', 'performance-2026-10-series.csv', \
'performance-2026-10-series.csv-metadata.json']
"""

from __future__ import annotations

import csv
import json
import math
from collections.abc import Mapping, Sequence
from datetime import date, datetime
from functools import lru_cache
from pathlib import Path
from typing import Any

import jinja2
import numpy as np
import pandas as pd

from bot.digest_model import Digest, MeasureView
from bot.files import replacing, write_atomically
from bot.periods import parse_period
from bot.render import environment
from bot.tolerance import parse_tolerance, rag

# Column order of both files; the CLI's `status --json` uses the same names where they overlap.
COLUMNS = (
    "cycle", "period", "period_start", "area", "measure_id", "name", "unit", "better", "frequency",
    "aggregate", "value", "display_value", "target", "amber_tolerance", "amber_tolerance_kind",
    "red_tolerance", "red_tolerance_kind", "status",
    "is_exception", "exception_reasons", "verdict", "previous_value", "change",
    "value_1y_ago", "change_1y", "pct_change_1y", "value_2y_ago", "change_2y", "pct_change_2y",
    "value_3y_ago", "change_3y", "pct_change_3y",
    "variation", "assurance", "special_cause",
    "trial_limits", "rebased_from", "mean", "lower_limit", "upper_limit",
    "projected_breach_period", "projection_method",
    "ytd_months", "ytd_value", "ytd_target", "ytd_status", "ytd_last_year",
    "reason", "commentary", "revised", "revisions",
    "owner_name", "owner_email", "submitted_by", "submitted_at", "channel",
)  # fmt: skip
NUMBERS = {
    "value", "target", "previous_value", "change", "mean", "lower_limit", "upper_limit",
    "amber_tolerance", "red_tolerance", "ytd_value", "ytd_target", "ytd_last_year",
    *(f"{name}_{n}y{suffix}" for n in (1, 2, 3)
      for name, suffix in (("value", "_ago"), ("change", ""), ("pct_change", ""))),
}  # fmt: skip
SERIES_COLUMNS = (
    "measure_id", "name", "area", "unit", "period", "period_start", "value", "target", "status",
    "mean", "lower_limit", "upper_limit", "special_cause",
)  # fmt: skip
FORMULA_STARTS = ("=", "+", "-", "@", "\t", "\r")
OGL = "https://www.nationalarchives.gov.uk/doc/open-government-licence/version/3/"
MAX_DECIMALS = 3


def measure_rows(digest: Digest, places: Mapping[str, int] | None = None) -> pd.DataFrame:
    """The table as a DataFrame: float columns with NaN for gaps, text, booleans, counts.

    >>> from tests.digest_fixtures import small_digest
    >>> frame = measure_rows(small_digest())
    >>> frame.loc[frame.measure_id == "OD-03", ["value", "status"]].values.tolist()
    [[nan, 'not_available']]
    """
    if places is None:
        places = _places_by_id(digest.measures)
    exceptions = digest.exceptions
    first = {m.id for m in exceptions}
    rest = [m for m in digest.measures if m.id not in first]
    frame = pd.DataFrame([_row(digest, m, places[m.id]) for m in [*exceptions, *rest]],
                         columns=list(COLUMNS))  # fmt: skip
    for name in NUMBERS:
        frame[name] = pd.to_numeric(frame[name], errors="coerce").astype("float64")
    frame["revisions"] = frame["revisions"].astype("int64")
    frame["is_exception"] = frame["is_exception"].astype(bool)
    frame["revised"] = frame["revised"].astype(bool)
    frame["trial_limits"] = frame["trial_limits"].astype(bool)
    return frame


def series_rows(digest: Digest, places: Mapping[str, int] | None = None) -> pd.DataFrame:
    """Every measure x every charted period, oldest first: the long table for Power BI.

    >>> from tests.digest_fixtures import small_digest
    >>> frame = series_rows(small_digest())
    >>> frame[frame.measure_id == "OD-01"][["period", "value", "status"]].tail(1).values.tolist()
    [['2026-10', 58.0, 'red']]
    """
    # One frame of every chart row (pandas joins 2,000 small frames in milliseconds), then
    # each column in one pass: picking columns out of each measure's frame cost a third of
    # a second at 2,000 measures, and the per-measure lists as much again.
    charted = [m for m in digest.measures if len(m.series)]
    names = ["period", "value", "mean", "lpl", "upl", "special_cause"]
    long = (pd.concat([m.series for m in charted], ignore_index=True) if charted
            else pd.DataFrame()).reindex(columns=names)  # fmt: skip
    counts = [len(m.series) for m in charted]
    blank = [None] * len(long)  # a column no chart has, as the rows of a measure without it
    period, value, mean, low, high, cause = (
        long[n].tolist() if long[n].notna().any() else blank for n in names
    )
    if places is None:
        places = _places_by_id(charted)
    digits = _each([places[m.id] for m in charted], counts)
    tolerances = [(parse_tolerance(m.amber_tolerance), parse_tolerance(m.red_tolerance))
                  for m in charted]  # fmt: skip
    figures = _rounded(value, digits)
    judged = _each([(m.better, m.target, *t) if _finite(m.target) else None
                    for m, t in zip(charted, tolerances, strict=True)], counts)  # fmt: skip
    columns: dict[str, list] = {
        "measure_id": _each([m.id for m in charted], counts),
        "name": _each([m.name for m in charted], counts),
        "area": _each([m.area for m in charted], counts),
        "unit": _each([m.unit for m in charted], counts),
        "period": (period := [str(p) for p in period]),
        "period_start": [_start(p) for p in period],
        "value": figures,
        "target": _each([m.target for m in charted], counts),
        "status": [
            "no_figure" if f is None else rag(f, *how) if how is not None else ""
            for f, how in zip(figures, judged, strict=True)
        ],
        "mean": _rounded_repeats(mean, (limit_digits := [d + 1 for d in digits])),
        "lower_limit": _rounded_repeats(low, limit_digits),
        "upper_limit": _rounded_repeats(high, limit_digits),
        "special_cause": [c if isinstance(c, str) else "" for c in cause],
    }
    frame = pd.DataFrame(columns, columns=list(SERIES_COLUMNS))
    for name in ("value", "target", "mean", "lower_limit", "upper_limit"):
        frame[name] = pd.to_numeric(frame[name], errors="coerce").astype("float64")
    return frame


def _each(values: list, counts: list[int]) -> list:
    """Each measure's value repeated on each of its rows."""
    return [value for value, count in zip(values, counts, strict=True) for _ in range(count)]


def write_tables(
    digest: Digest, directory: Path, env: jinja2.Environment | None = None
) -> list[Path]:
    """Write the CSV files, their CSVW metadata and the XLSX into ``directory``; the column
    words come from `env` (bot.templates) or, without it, the default templates."""
    directory.mkdir(parents=True, exist_ok=True)
    places = _places_by_id(digest.measures)
    measures, series = measure_rows(digest, places), series_rows(digest, places)
    words = (env or environment()).get_template("digest/columns.txt").module
    stem = directory / f"performance-{digest.cycle}"
    measures_csv = Path(f"{stem}-measures.csv")
    series_csv = Path(f"{stem}-series.csv")
    xlsx = Path(f"{stem}-measures.xlsx")
    metadata = []
    for frame, path, name in ((measures, measures_csv, "MEASURES"), (series, series_csv, "SERIES")):
        columns = getattr(words, name)
        _write_csv(frame, path, {column: columns[column][1] for column in frame.columns})
        title = words.TITLES[name.lower()].format(cycle=digest.cycle)  # type: ignore[attr-defined]
        meta = Path(f"{path}-metadata.json")
        csvw = _csvw(path.name, title, frame, columns)
        if digest.public:  # published: say under what licence
            csvw["dc:license"] = {"@id": OGL}
        write_atomically(meta, json.dumps(csvw, indent=2, ensure_ascii=False))
        metadata.append(meta)
    files = (("measures", measures, "MEASURES"), ("series", series, "SERIES"))
    dictionary = pd.DataFrame(
        [(sheet, column, *getattr(words, name)[column])
         for sheet, frame, name in files for column in frame.columns],
        columns=["sheet", "column", "title", "type", "description"],
    )  # fmt: skip
    # The series stays out of the workbook: at 8,000 measures it is 192,000 rows, which Excel
    # users do not need; Power BI reads the CSV.
    _write_xlsx({"measures": measures, "areas": _area_rows(digest), "dictionary": dictionary},
                xlsx)  # fmt: skip
    return [measures_csv, xlsx, series_csv, *metadata]


def _write_csv(frame: pd.DataFrame, path: Path, types: dict[str, str]) -> None:
    """The frame as CSV, from a text list per column (``to_csv`` turned every cell into text
    again, at 43,000 rows twice the cost); `types` are the columns' datatypes as the CSVW
    metadata gives them (templates/digest/columns.txt)."""
    columns = [_csv_texts(frame[name], types[name]) for name in frame.columns]
    # utf-8-sig: Excel reads the £ and accents right only with the byte-order mark. Written
    # under a temporary name: a full disk leaves the previous file, never half a table.
    with replacing(path) as temporary, temporary.open("w", encoding="utf-8-sig",
                                                      newline="") as file:  # fmt: skip
        writer = csv.writer(file, lineterminator="\r\n")
        writer.writerow(frame.columns)
        writer.writerows(zip(*columns, strict=True))


def _csv_texts(column: pd.Series, datatype: str) -> list:
    """A column's cells for the CSV writer: floats as numpy writes them, a date as its ISO
    day, a date and time as ISO 8601 (the lexical form of CSVW's dateTime), a gap empty;
    text that would run as a formula made inert."""
    if pd.api.types.is_float_dtype(column):
        return _float_text(column.to_numpy()).tolist()
    if pd.api.types.is_bool_dtype(column) or pd.api.types.is_integer_dtype(column):
        return column.tolist()
    if pd.api.types.is_datetime64_any_dtype(column):
        shown = "%Y-%m-%dT%H:%M:%S" if datatype == "datetime" else "%Y-%m-%d"
        return column.dt.strftime(shown).fillna("").tolist()
    # Only the distinct texts are looked at (a column of 43,000 chart rows holds a few
    # thousand), and a column is touched only when one of them would run as a formula.
    risky = [v for v in column.unique() if isinstance(v, str) and v.startswith(FORMULA_STARTS)]
    cells = column.map(_inert) if risky else column
    return [None if gap else v for v, gap in zip(cells.tolist(), cells.isna().tolist(),
                                                  strict=True)]  # fmt: skip


def _float_text(values: np.ndarray) -> np.ndarray:
    """Floats as to_csv writes them (numpy's text of each, a gap empty), each distinct value
    formatted once: targets, means and limits repeat down a measure's chart rows, and their
    formatting was most of the series CSV's cost. Distinct by bits, so -0.0 stays -0.0."""
    codes, bits = pd.factorize(values.view(np.int64))
    distinct = bits.view(np.float64)
    text = distinct.astype(str).astype(object)
    text[np.isnan(distinct)] = ""
    return text[codes]


def _csvw(url: str, title: str, frame: pd.DataFrame, words: dict) -> dict[str, Any]:
    """CSV on the Web metadata: the table's columns with titles, datatypes and descriptions."""
    types = {"datetime": "dateTime"}
    return {
        "@context": "http://www.w3.org/ns/csvw",
        "url": url,
        "dc:title": title,
        "dialect": {"encoding": "utf-8", "header": True, "lineTerminators": ["\r\n"]},
        "tableSchema": {
            "columns": [
                {"name": column, "titles": words[column][0],
                 "datatype": types.get(words[column][1], words[column][1]),
                 "dc:description": words[column][2]}
                for column in frame.columns
            ],  # fmt: skip
        },
    }


def _row(digest: Digest, m: MeasureView, places: int) -> dict[str, Any]:
    row: dict[str, Any] = {
        "cycle": digest.cycle,
        "period": m.period,
        "period_start": _start(m.period),
        "area": m.area,
        "measure_id": m.id,
        "name": m.name,
        "unit": m.unit,
        "better": m.better,
        "frequency": m.frequency,
        "aggregate": m.aggregate,
        "value": m.value,
        "display_value": m.display_value,
        "target": m.target,
        **_tolerance("amber_tolerance", m.amber_tolerance),
        **_tolerance("red_tolerance", m.red_tolerance),
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
        "change": _round(m.change, places),
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
        "submitted_at": _moment(m.submitted_at),
        "channel": m.channel or "",
    }
    if m.year_to_date:
        ytd = m.year_to_date
        row.update(ytd_months=ytd.label, ytd_value=ytd.value, ytd_target=ytd.target,
                   ytd_status=ytd.status, ytd_last_year=ytd.last_year)  # fmt: skip
    for y in m.year_on_year:
        if y.years_ago in (1, 2, 3):
            row[f"value_{y.years_ago}y_ago"] = y.value
            row[f"change_{y.years_ago}y"] = _round(y.change, places)
            row[f"pct_change_{y.years_ago}y"] = _round(y.pct_change, 1)
    return row


def _tolerance(name: str, raw: str) -> dict[str, Any]:
    """A register tolerance (``5``, ``"10%"``) as a number and its kind."""
    try:
        tolerance = parse_tolerance(raw)
    except ValueError:
        tolerance = None
    if tolerance is None:
        return {name: None, f"{name}_kind": ""}
    return {name: tolerance.amount, f"{name}_kind": "percent" if tolerance.percent else "absolute"}


def _places_by_id(measures: Sequence[MeasureView]) -> dict[str, int]:
    """Each measure's precision: the most decimal places its figures are given with (up to 3).

    Worked out once for both tables, from all the chart figures in one list (each measure's
    figures read and looked at on their own, for each table, cost a tenth of the tables).
    """
    charted = [m for m in measures if len(m.series) and "value" in m.series]
    values = [m.series["value"].to_numpy() for m in charted]
    decimals = _decimals(np.concatenate(values).tolist() if values else [])
    places, start = {}, 0
    for m, figures in zip(charted, values, strict=True):
        stop = start + len(figures)
        places[m.id] = max(decimals[start:stop], default=0)
        start = stop
    return {m.id: max(places.get(m.id, 0), *_decimals([m.value])) for m in measures}


def _decimals(values: list) -> list[int]:
    """The decimal places each value is given with, up to 3 (0 for a gap)."""
    shown = (f"{float(v):.{MAX_DECIMALS}f}".rstrip("0") if _finite(v) else "." for v in values)
    return [len(text) - text.index(".") - 1 for text in shown]


def _round(value: Any, places: int) -> float | None:
    return round(float(value), min(places, MAX_DECIMALS + 1)) if _finite(value) else None


def _rounded(values: list, places: list[int]) -> list[float | None]:
    """``_round`` of every value to its own row's places; a float is rounded in place of a
    call per value, which cost a third of the chart-points table (43,000 rows x 4 columns)."""
    return [
        round(v, min(p, MAX_DECIMALS + 1)) if type(v) is float and math.isfinite(v)
        else _round(v, p)
        for v, p in zip(values, places, strict=True)
    ]  # fmt: skip


def _rounded_repeats(values: list, places: list[int]) -> list[float | None]:
    """``_rounded`` of a column that repeats down each measure's rows (its mean and limits
    stay put until they are recalculated): each distinct value and precision rounded once,
    a third of the cost of rounding all 43,000 rows. A NaN never equals another, so each is
    a key of its own and comes back as it went in."""
    pairs = list(zip(values, places, strict=True))
    distinct = list(dict.fromkeys(pairs))
    done = dict(zip(distinct, _rounded([v for v, _ in distinct], [p for _, p in distinct]),
                    strict=True))  # fmt: skip
    return [done[pair] for pair in pairs]


def _finite(value: Any) -> bool:
    return isinstance(value, int | float) and not isinstance(value, bool) and math.isfinite(value)


@lru_cache(maxsize=1024)
def _start(period: str) -> date | None:
    try:
        return parse_period(period).start
    except ValueError:
        return None


def _moment(text: str | None) -> datetime | None:
    """An ISO time as a datetime without its zone (Excel has none; the pack's times are UK)."""
    if not text:
        return None
    try:
        return datetime.fromisoformat(text).replace(tzinfo=None)
    except ValueError:
        return None


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


PERCENT = '0.0"%"'
POINTS = '+0.0" pp";-0.0" pp";0.0" pp"'
SIGNED_PERCENT = '+0.0"%";-0.0"%";0.0"%"'
FIGURES = {"value", "target", "previous_value", "value_1y_ago", "value_2y_ago", "value_3y_ago",
           "mean", "lower_limit", "upper_limit"}  # fmt: skip
CHANGES = {"change", "change_1y", "change_2y", "change_3y"}
WIDE_COLUMNS = {"commentary", "reason", "projection_method", "name", "description", "title"}


def _write_xlsx(sheets: dict[str, pd.DataFrame], path: Path) -> None:
    """One sheet per frame, each an Excel table ``pmbot_<title>`` under its bold header, written
    by XlsxWriter: about three times faster than openpyxl's write-only mode for the measures
    sheet, and its files are checked against Excel's own by its authors."""
    import xlsxwriter

    with replacing(path) as temporary:
        book = xlsxwriter.Workbook(str(temporary), {
            "in_memory": True,  # no temporary files of its own beside ours
            "strings_to_numbers": False, "strings_to_formulas": False, "strings_to_urls": False,
        })  # fmt: skip
        styles: dict[str | None, Any] = {}
        bold = book.add_format({"bold": True})

        def style(number_format: str | None) -> Any:
            if number_format not in styles:
                styles[number_format] = book.add_format({"num_format": number_format or 0})
            return styles[number_format]

        for title, frame in sheets.items():
            sheet = book.add_worksheet(title)
            for number, name in enumerate(frame.columns):
                sheet.set_column(number, number, 40 if name in WIDE_COLUMNS else 14)
            sheet.freeze_panes(1, 0)
            formats = {kind: [style(f) if f else None for f in shown]
                       for kind, shown in _formats(frame).items()}  # fmt: skip
            percent = (frame["unit"] == "%").tolist() if "unit" in frame else [False] * len(frame)
            # Column by column: a value at a time through _cell cost as much as writing the sheet.
            columns = [_cells(frame[name]) for name in frame.columns]
            for row, (values, is_percent) in enumerate(
                zip(zip(*columns, strict=True), percent, strict=True), start=1
            ):
                for column, (value, shown) in enumerate(
                    zip(values, formats[is_percent], strict=True)
                ):
                    _write_cell(sheet, row, column, value, shown, style)
            header = [{"header": str(name), "header_format": bold} for name in frame.columns]
            if len(frame):
                sheet.add_table(0, 0, len(frame), len(header) - 1, {
                    "name": f"pmbot_{title}", "columns": header, "style": "Table Style Light 9",
                })  # fmt: skip
            else:
                sheet.write_row(0, 0, [str(name) for name in frame.columns], bold)
        try:
            book.close()
        except xlsxwriter.exceptions.FileCreateError as error:
            raise error.args[0] from None  # the OSError (a full disk), as every other write's


DEFAULT_DATE_FORMATS = {datetime: "yyyy-mm-dd h:mm:ss", date: "yyyy-mm-dd"}


def _write_cell(sheet: Any, row: int, column: int, value: Any, shown: Any, style) -> None:
    """One cell by its type: text as text (never a formula), numbers, booleans, dates in Excel's
    serial days with a date format; None (and infinity, which Excel cannot hold) left empty."""
    kind = type(value)
    if value is None:
        if shown is not None:
            sheet.write_blank(row, column, None, shown)
    elif kind is str:
        sheet.write_string(row, column, value, shown)
    elif kind is bool:
        sheet.write_boolean(row, column, value, shown)
    elif kind is int or kind is float:
        if math.isfinite(value):
            sheet.write_number(row, column, value, shown)
    elif isinstance(value, date):
        sheet.write_datetime(row, column, value, shown or style(DEFAULT_DATE_FORMATS[
            datetime if isinstance(value, datetime) else date]))
    else:
        sheet.write_string(row, column, str(value), shown)


def _formats(frame: pd.DataFrame) -> dict[bool, list[str | None]]:
    """Number formats by column, for rows of a % measure (True) and the rest (False): dates as
    dates, a % figure with its % sign, a change in a % figure in percentage points."""
    formats: dict[bool, list[str | None]] = {False: [], True: []}
    for name in frame.columns:
        shown = {"period_start": "yyyy-mm-dd", "submitted_at": "yyyy-mm-dd hh:mm"}.get(name)
        if name.startswith("pct_change"):
            shown = SIGNED_PERCENT
        formats[False].append(shown)
        formats[True].append(PERCENT if name in FIGURES else POINTS if name in CHANGES else shown)
    return formats


def _cells(column: pd.Series) -> list[Any]:
    """``_cell`` of each value of a column."""
    return [_cell(value) for value in column.tolist()]


def _cell(value: Any) -> Any:
    """A value as its cell should hold it: NaN, NaT and "" become an empty cell."""
    if value is None or value is pd.NaT or (isinstance(value, float) and math.isnan(value)):
        return None
    if isinstance(value, str) and value == "":
        return None
    if isinstance(value, pd.Timestamp):
        return value.to_pydatetime()
    if hasattr(value, "item"):  # numpy scalars
        return value.item()
    return value
