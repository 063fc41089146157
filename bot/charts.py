"""SPC charts and sparklines: inline SVG for the HTML pack, small PNGs for email.

The SVG is written by hand as a string, not with matplotlib, so that a pack of thousands of
measures renders in well under a second of chart time. It is drawn lean: one ``<path>`` per kind
of line and one per kind of point, so a chart is about twenty elements however long its history
(a browser opening a pack builds every element before it shows the page). The PNGs use
matplotlib's Agg canvas on a plain ``Figure`` (no pyplot, so no global figure registry to leak
into and nothing to close), imported only when a PNG is asked for.

Colours follow NHS England's "Making Data Count" (special cause improvement blue, concern
orange, neutral purple, common cause grey), darkened to at least 3:1 against white (WCAG 1.4.11),
and each kind has its own shape too (concern a square, improvement a triangle, neutral a
diamond), so that no meaning rests on colour alone. A gap (NaN) breaks the line; it is never
drawn as zero.

>>> import pandas as pd
>>> series = pd.DataFrame({"period": ["2026-08", "2026-09", "2026-10"],
...                        "value": [50.0, float("nan"), 58.0]})
>>> svg = spc_svg(series, target=50, label="OD-01")
>>> svg.startswith("<svg"), svg.count('<path class="pt common" d="M'), svg.count("h0")
(True, 1, 2)
"""

from __future__ import annotations

import io
import math
from dataclasses import dataclass
from html import escape
from math import isfinite
from typing import TYPE_CHECKING

import pandas as pd

if TYPE_CHECKING:
    from bot.digest_model import Projection

IMPROVEMENT = "#1d70b8"  # MDC's #289de0 is 3.0:1 on white; this is 5.2:1
CONCERN = "#c26e00"  # MDC's #fab428 is 1.8:1 on white; this is 3.8:1
COMMON_CAUSE = "#7B7D7D"
NEUTRAL = "#361475"
MARKERS = {"concern": "s", "improvement": "^", "neutral": "D"}  # matplotlib's, as in the SVG
CAUSE_COLOURS = {"improvement": IMPROVEMENT, "concern": CONCERN, "neutral": NEUTRAL}
TARGET = "#d4351c"
LINES = "#505a5f"
TEXT = "#0b0c0c"
FONT = "Arial, Helvetica, sans-serif"

SVG_WIDTH, SVG_HEIGHT = 480, 210
# Plot area inside the SVG: room on the left for the value labels, below for the periods.
# The pack's CSS enlarges the text on a phone, where the chart is drawn at about half size.
LEFT, RIGHT, TOP, BOTTOM = 56, 12, 12, 30


@dataclass(frozen=True)
class ChartData:
    """The columns a chart reads from ``MeasureView.series``, as plain lists (NaN for a gap).

    >>> data = ChartData.from_series(pd.DataFrame({"period": ["2026-10"], "value": [4.0]}))
    >>> data.periods, data.values, data.causes
    (['2026-10'], [4.0], [None])
    """

    periods: list[str]
    values: list[float]
    mean: list[float]
    lpl: list[float]
    upl: list[float]
    causes: list[str | None]

    @classmethod
    def from_series(cls, series: pd.DataFrame) -> ChartData:
        n = len(series)
        # One conversion to rows and back: reading a DataFrame column by column costs more, and
        # the pack reads thousands of these small frames.
        rows = series.to_numpy().tolist()
        by_column = zip(*rows, strict=True) if n else [()] * len(series.columns)
        columns = dict(zip(series.columns, by_column, strict=True))

        def numbers(name: str) -> list[float]:
            if name not in columns:
                return [math.nan] * n
            return [math.nan if v is None else float(v) for v in columns[name]]

        periods = [str(p) for p in columns["period"]] if "period" in columns else []
        causes: list[str | None] = [None] * n
        if "special_cause" in columns:
            # pandas 3 stores a missing label as NaN in a string column, so test for str.
            causes = [c if isinstance(c, str) else None for c in columns["special_cause"]]
        return cls(
            periods=periods or [""] * n,
            values=numbers("value"),
            mean=numbers("mean"),
            lpl=numbers("lpl"),
            upl=numbers("upl"),
            causes=causes,
        )

    def tail(self, count: int) -> ChartData:
        """The last ``count`` points, e.g. the 13 values the pack lists."""
        return ChartData(*(column[-count:] for column in self._columns()))

    def _columns(self) -> tuple[list, ...]:
        return (self.periods, self.values, self.mean, self.lpl, self.upl, self.causes)


def point_colour(cause: str | None) -> str:
    """The colour of a point: ``point_colour("concern") == "#c26e00"``."""
    return CAUSE_COLOURS.get(cause or "", COMMON_CAUSE)


def short_number(value: float) -> str:
    """A compact axis label.

    >>> [short_number(v) for v in (87.5, 1234, 45000, 2_500_000, 0.25)]
    ['87.5', '1,234', '45k', '2.5m', '0.25']
    """
    size = abs(value)
    for threshold, scale, suffix in ((1e9, 1e9, "bn"), (1e6, 1e6, "m"), (1e4, 1e3, "k")):
        if size >= threshold:
            return f"{value / scale:.3g}{suffix}"
    decimals = 0 if size >= 100 else 1 if size >= 10 else 2
    shown = f"{value:,.{decimals}f}"
    return shown.rstrip("0").rstrip(".") if "." in shown else shown


def spc_svg(
    series: pd.DataFrame | ChartData,
    target: float | None = None,
    *,
    label: str = "",
    projection: Projection | None = None,
    unit: str = "",
    width: int = SVG_WIDTH,
    height: int = SVG_HEIGHT,
) -> str:
    """An XmR chart as an inline ``<svg>`` element: values, mean, process limits, target.

    Special-cause points take their colour and shape; a projection is drawn dashed after the
    last period. The mean and target lines are labelled, the value axis names ``unit``.
    ``label`` is the chart's text alternative for screen readers (escaped here): say what it
    shows, not only what it is.
    ``series`` may be already read into a ``ChartData`` (the pack reads it once for two uses).

    >>> series = pd.DataFrame({"period": ["a", "b"], "value": [1.0, 2.0], "mean": [1.5, 1.5]})
    >>> "<title>A &amp; B</title>" in spc_svg(series, label="A & B")
    True
    """
    data = series if isinstance(series, ChartData) else ChartData.from_series(series)
    ahead = list(projection.values) if projection else []
    ahead_periods = list(projection.periods) if projection else []
    title = f"<title>{escape(label or 'SPC chart')}</title>"
    head = (
        f'<svg xmlns="http://www.w3.org/2000/svg" class="spc" role="img" width="{width}" '
        f'height="{height}" viewBox="0 0 {width} {height}" font-family="{FONT}" font-size="12" '
        # Labels are grey unless they say otherwise; every path sets its own fill.
        f'fill="{LINES}">'
    )
    if not any(_finite(v) for v in data.values):
        return (
            f'{head}{title}<text x="{width / 2:.0f}" y="{height / 2:.0f}" text-anchor="middle">'
            "No figures yet to chart</text></svg>"
        )

    scale = _Scale(data, target, ahead, width, height)
    # Few elements, whatever the number of points: each kind of line is one <path> (a gap or a
    # rebase starts a new subpath), and the points of each kind are one <path> too. A pack has
    # thousands of charts, and a browser builds every element before the page opens.
    limits = _horizontal_runs(scale, data.upl) + _horizontal_runs(scale, data.lpl)
    parts = [head, title, _path(limits, f'stroke="{LINES}" stroke-dasharray="4 3"')]
    parts.append(_path(_horizontal_runs(scale, data.mean), f'stroke="{TEXT}"'))
    # Labelled at the left: the right end is where the latest points and projection are.
    mean = next((v for v in reversed(data.mean) if _finite(v)), None)
    if mean is not None:
        parts.append(_line_label(scale.y(mean), f"mean {short_number(mean)}", TEXT, below=True))
    if _finite(target):
        y = scale.y(target)
        parts.append(
            _path(f"M{LEFT} {y:.1f}H{width - RIGHT}", f'stroke="{TARGET}" stroke-dasharray="6 3"')
            # Mid-way along, so that it does not sit on the mean's label at the left.
            + _line_label(y, "target", TARGET, x=LEFT + (width - LEFT - RIGHT) * 0.45)
        )
    figures = _value_line(scale, data.values)
    parts.append(_path(figures, f'stroke="{COMMON_CAUSE}" stroke-width="1.5"'))
    parts += _projection(scale, data.values, ahead)
    parts += _points(scale, data.values, data.causes)
    parts += _axes(scale, data.periods + ahead_periods)
    if unit:
        # The value axis's unit, in the corner below it, clear of the value labels.
        parts.append(f'<text x="2" y="{height - 4}">{escape(unit)}</text>')
    parts.append("</svg>")
    return "".join(parts)


class _Scale:
    """Maps point positions and values to SVG coordinates."""

    def __init__(
        self, data: ChartData, target: float | None, ahead: list[float], width: int, height: int
    ) -> None:
        # ChartData's columns are floats (NaN for a gap); the others may hold None.
        seen = [v for v in (*data.values, *data.lpl, *data.upl) if isfinite(v)]
        seen += [v for v in (*ahead, target) if _finite(v)]
        low, high = min(seen), max(seen)
        pad = (high - low) * 0.08 or abs(high) * 0.1 or 1.0
        self.low, self.high = low - pad, high + pad
        self.slots = len(data.values) + len(ahead)
        self.width, self.height = width, height
        self.x_step = (width - LEFT - RIGHT) / max(self.slots - 1, 1)
        self.y_factor = (height - TOP - BOTTOM) / (self.high - self.low)

    def x(self, i: int) -> float:
        return LEFT + i * self.x_step

    def y(self, value: float) -> float:
        return self.height - BOTTOM - (value - self.low) * self.y_factor


def _finite(value: float | None) -> bool:
    return value is not None and math.isfinite(value)


def _path(d: str, style: str, kind: str = "") -> str:
    """One <path> (nothing if there is nothing to draw); ``kind`` becomes its class."""
    if not d:
        return ""
    named = f' class="{kind}"' if kind else ""
    fill = "" if 'fill="#' in style else ' fill="none"'
    return f'<path{named} d="{d}"{fill} {style}/>'


def _line_label(y: float, text: str, colour: str, below: bool = False, x: float = LEFT) -> str:
    y = y + 13 if below else y - 4
    return f'<text x="{x + 4:.0f}" y="{y:.1f}" fill="{colour}">{escape(text)}</text>'


# Each kind of point has its own shape as well as its colour: path data for a point at (x, y).
# A common-cause point is a dot: a zero-length subpath drawn with a round cap (styled below).
_SHAPES = {
    None: "M{x:.1f} {y:.1f}h0",
    "concern": "M{l:.1f} {t:.1f}h8v8h-8z",  # a square
    "improvement": "M{x:.1f} {t:.1f}l5 9h-10z",  # a triangle
    "neutral": "M{x:.1f} {t:.1f}l5 5-5 5-5-5z",  # a diamond
}
_DOT = f'stroke="{COMMON_CAUSE}" stroke-width="6" stroke-linecap="round"'


def _shape(kind: str | None, x: float, y: float) -> str:
    top = y - (4 if kind == "concern" else 5)
    return _SHAPES[kind].format(x=x, y=y, l=x - 4, t=top)


def _points(scale: _Scale, values: list[float], causes: list[str | None]) -> list[str]:
    """The points, one <path> per kind (class "pt <kind>"), each point a subpath of it."""
    drawn: dict[str | None, list[str]] = {}
    for i, (value, cause) in enumerate(zip(values, causes, strict=True)):
        if isfinite(value):
            kind = cause if cause in _SHAPES else None
            drawn.setdefault(kind, []).append(_shape(kind, scale.x(i), scale.y(value)))
    return [
        _path("".join(shapes), _DOT if kind is None else f'fill="{point_colour(kind)}"',
              f"pt {kind or 'common'}")  # fmt: skip
        for kind, shapes in drawn.items()
    ]


def _runs(values: list[float]) -> list[tuple[int, int]]:
    """(first, last) index of each run of equal finite values: a rebase starts a new run."""
    runs: list[tuple[int, int]] = []
    start = None
    for i, value in enumerate(values):
        if start is not None and value != values[start]:
            runs.append((start, i - 1))
            start = None
        if start is None and isfinite(value):
            start = i
    if start is not None:
        runs.append((start, len(values) - 1))
    return runs


def _horizontal_runs(scale: _Scale, values: list[float]) -> str:
    """Path data for a horizontal line per run of equal values."""
    half = scale.x_step / 2
    lines = []
    for first, last in _runs(values):
        y = scale.y(values[first])
        pad = half if first == last else 0  # a lone point still gets a visible tick
        lines.append(f"M{scale.x(first) - pad:.1f} {y:.1f}H{scale.x(last) + pad:.1f}")
    return "".join(lines)


def _value_line(scale: _Scale, values: list[float]) -> str:
    """Path data for the figures, one subpath per stretch of consecutive figures: a gap
    breaks the line."""
    stretches, points = [], []
    for i, value in enumerate([*values, math.nan]):
        if isfinite(value):
            points.append(f"{scale.x(i):.1f} {scale.y(value):.1f}")
            continue
        if len(points) > 1:
            stretches.append("M" + "L".join(points))
        points = []
    return "".join(stretches)


def _projection(scale: _Scale, values: list[float], ahead: list[float]) -> list[str]:
    """The projection: a dashed line from the last figure, its points hollow circles."""
    if not ahead:
        return []
    last = len(values) - 1
    start = [f"{scale.x(last):.1f} {scale.y(values[last]):.1f}"] if _finite(values[last]) else []
    at = [(scale.x(last + 1 + i), scale.y(v)) for i, v in enumerate(ahead) if _finite(v)]
    line = "M" + "L".join(start + [f"{x:.1f} {y:.1f}" for x, y in at])
    circles = "".join(f"M{x - 3:.1f} {y:.1f}a3 3 0 1 0 6 0a3 3 0 1 0-6 0" for x, y in at)
    return [
        _path(line, f'stroke="{LINES}" stroke-dasharray="3 3"', "projection"),
        _path(circles, f'fill="#fff" stroke="{LINES}"', "ahead"),
    ]


def _axes(scale: _Scale, periods: list[str]) -> list[str]:
    bottom = scale.height - BOTTOM
    parts = [_path(f"M{LEFT} {bottom}H{scale.width - RIGHT}", f'stroke="{LINES}"')]
    for value in (scale.low, (scale.low + scale.high) / 2, scale.high):
        parts.append(
            f'<text x="2" y="{scale.y(value) + 4:.1f}">{escape(short_number(value))}</text>'
        )
    last = len(periods) - 1
    shown = sorted({0, last // 2, last}) if last > 0 else [0]
    for i in shown:
        anchor = "start" if i == 0 and last > 0 else "end" if i == last and last > 0 else "middle"
        parts.append(
            f'<text x="{scale.x(i):.1f}" y="{bottom + 16}" text-anchor="{anchor}">'
            f"{escape(periods[i])}</text>"
        )
    return parts


# --- PNG, for email -------------------------------------------------------------------------


def spc_png(
    series: pd.DataFrame, target: float | None = None, *, title: str = "", dpi: int = 100
) -> bytes:
    """The XmR chart as a PNG of about 600 x 220 pixels (matplotlib, Agg canvas).

    >>> png = spc_png(pd.DataFrame({"period": ["a", "b"], "value": [1.0, 2.0]}), target=1.5)
    >>> png[:8] == b"\\x89PNG\\r\\n\\x1a\\n"
    True
    """
    data = ChartData.from_series(series)
    figure, axes = _figure(6.0, 2.2, dpi)
    xs = list(range(len(data.values)))
    axes.plot(xs, data.upl, color=LINES, linestyle="--", linewidth=0.8)
    axes.plot(xs, data.lpl, color=LINES, linestyle="--", linewidth=0.8)
    axes.plot(xs, data.mean, color=TEXT, linewidth=0.9)
    if _finite(target):
        axes.axhline(target, color=TARGET, linestyle="--", linewidth=1)
    # matplotlib breaks a line at NaN, so a gap stays a gap.
    axes.plot(xs, data.values, color=COMMON_CAUSE, linewidth=1.4)
    axes.scatter(xs, data.values, s=14, c=[point_colour(c) for c in data.causes], zorder=3)
    axes.set_title(title, fontsize=9, loc="left", color=TEXT)
    axes.tick_params(labelsize=7, colors=LINES)
    if data.periods:
        ticks = sorted({0, (len(xs) - 1) // 2, len(xs) - 1})
        axes.set_xticks(ticks, [data.periods[i] for i in ticks])
    for side in ("top", "right"):
        axes.spines[side].set_visible(False)
    figure.tight_layout(pad=0.4)
    return _png(figure, dpi)


def sparkline_png(
    series: pd.DataFrame,
    target: float | None = None,
    *,
    width: int = 160,
    height: int = 40,
    dpi: int = 100,
) -> bytes:
    """A small trend line without axes, latest point coloured, for an email's exception table.

    Drawn with Pillow, as matplotlib drew it (the same margins, line widths in points, marker
    shapes and colours): importing matplotlib and building its axes cost the digest email
    half a second for twenty charts of a line and a dot.

    >>> sparkline_png(pd.DataFrame({"value": [3.0, float("nan"), 4.0]}))[:4] == b"\\x89PNG"
    True
    """
    data = ChartData.from_series(series)
    image, draw = canvas(width, height)
    points = dpi / 72 * SUPERSAMPLE  # pixels per point, as drawn
    present = [i for i, v in enumerate(data.values) if _finite(v)]
    levels = [data.values[i] for i in present] + ([target] if _finite(target) else [])
    if levels:
        # matplotlib's layout: the axes fill the figure less 2% left and right, 5% above and
        # below, and the data less 4% (x) and 15% (y) margins inside them.
        box_left, box_right = 0.02 * width * SUPERSAMPLE, 0.98 * width * SUPERSAMPLE
        box_top, box_bottom = 0.05 * height * SUPERSAMPLE, 0.95 * height * SUPERSAMPLE
        last_x = max(len(data.values) - 1, 0)
        x_low, x_high = _padded(0, last_x, 0.04)
        y_low, y_high = _padded(min(levels), max(levels), 0.15)

        def x(i: float) -> float:
            return box_left + (i - x_low) / (x_high - x_low) * (box_right - box_left)

        def y(v: float) -> float:
            return box_bottom - (v - y_low) / (y_high - y_low) * (box_bottom - box_top)

        if _finite(target):
            _dashed(draw, box_left, box_right, y(target), TARGET, 0.7 * points)
        run: list[tuple[float, float]] = []
        for i, value in enumerate([*data.values, math.nan]):
            if _finite(value):
                run.append((x(i), y(value)))
                continue
            if len(run) > 1:
                draw.line(run, fill=COMMON_CAUSE, width=round(1.2 * points), joint="curve")
            run = []
    if present:
        last = present[-1]
        cause = data.causes[last]
        # 4 points across and an edge of 1.5 in its own colour, as matplotlib's scatter draws it.
        _marker(draw, x(last), y(data.values[last]), 5.5 * points, point_colour(cause),
                MARKERS.get(cause or "", "o"))  # fmt: skip
    return png_of(image)


SUPERSAMPLE = 4  # drawn four times the size and shrunk: Pillow's own lines are not smoothed


def canvas(width: int, height: int):
    """A white image ``SUPERSAMPLE`` times the size asked for, and a pen on it (Pillow)."""
    from PIL import Image, ImageDraw

    image = Image.new("RGB", (width * SUPERSAMPLE, height * SUPERSAMPLE), "white")
    return image, ImageDraw.Draw(image)


def png_of(image) -> bytes:
    """The drawing at its size as PNG bytes (no metadata: the same chart, the same bytes)."""
    buffer = io.BytesIO()
    image.reduce(SUPERSAMPLE).save(buffer, format="PNG")
    return buffer.getvalue()


def _padded(low: float, high: float, margin: float) -> tuple[float, float]:
    """A data range with matplotlib's relative margin either side (a flat range gets some)."""
    if high == low:
        spread = abs(low) * 0.05 or 1.0  # matplotlib widens a flat range by 5%, or by 1
        return low - spread, high + spread
    pad = (high - low) * margin
    return low - pad, high + pad


def _dashed(draw, x1: float, x2: float, y: float, colour: str, width: float) -> None:
    """A horizontal line in matplotlib's "--" dashes (3.7 on, 1.6 off, in line widths)."""
    on, off = 3.7 * width, 1.6 * width
    x = x1
    while x < x2:
        draw.line([(x, y), (min(x + on, x2), y)], fill=colour, width=max(round(width), 1))
        x += on + off


def _marker(draw, x: float, y: float, size: float, colour: str, shape: str) -> None:
    """A filled marker of matplotlib's shape (o, s, ^, D) ``size`` pixels across at (x, y)."""
    r = size / 2
    if shape == "s":
        draw.rectangle([x - r, y - r, x + r, y + r], fill=colour)
    elif shape == "^":
        draw.polygon([(x, y - r), (x + r, y + r), (x - r, y + r)], fill=colour)
    elif shape == "D":
        draw.polygon([(x, y - r), (x + r, y), (x, y + r), (x - r, y)], fill=colour)
    else:
        draw.ellipse([x - r, y - r, x + r, y + r], fill=colour)


def _figure(width_in: float, height_in: float, dpi: int):
    # Imported here: the SVG path (the pack, thousands of charts) never pays matplotlib's import.
    import matplotlib

    matplotlib.use("Agg")
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure

    figure = Figure(figsize=(width_in, height_in), dpi=dpi)
    FigureCanvasAgg(figure)
    return figure, figure.add_subplot()


def _png(figure, dpi: int) -> bytes:
    buffer = io.BytesIO()
    # No metadata: the bytes are the same for the same chart, and a little smaller.
    figure.savefig(buffer, format="png", dpi=dpi, metadata={"Software": None})
    # No figure.clear(): the figure is dropped here anyway, and clearing rebuilt its axes (a
    # third of the cost of each of the digest email's charts).
    return buffer.getvalue()
