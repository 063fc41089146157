"""Making Data Count's variation and assurance icons, drawn by pmbot: SVG for the pack, PNG for
email, and the variation x assurance summary matrix for the front of the pack.

Each icon is a coloured disc in the MDC colours with its letter, so it never relies on colour
alone: H or L for special cause high or low, a flat wave for common cause, P, F or ? for
assurance pass, fail and hit and miss. Renderers always put the icon's text label beside it
(the labels are the templates' VARIATION and ASSURANCE words); the SVG carries it as its title.

    >>> icon("variation", "concern_high")
    Icon(kind='variation', code='concern_high', letter='H', fill='#c26e00', ink='#0b0c0c')
    >>> "<title>special cause" in icon_svg(icon("variation", "improvement_low"), "special cause")
    True
"""

from __future__ import annotations

import importlib.util
from collections.abc import Iterable
from dataclasses import dataclass
from functools import cache
from pathlib import Path

from markupsafe import escape

from bot.charts import CONCERN, IMPROVEMENT, NEUTRAL, SUPERSAMPLE, canvas, png_of
from bot.digest_model import MeasureView

# Darker ink where the fill is dark, so each letter keeps a 4.5:1 contrast.
_FILLS = {
    "improvement": (IMPROVEMENT, "#0b0c0c"),
    "concern": (CONCERN, "#0b0c0c"),
    "neutral": (NEUTRAL, "#ffffff"),
    "common": ("#626a6e", "#ffffff"),  # MDC's grey, darkened for the white wave
    "consistent_pass": (IMPROVEMENT, "#0b0c0c"),
    "consistent_fail": (CONCERN, "#0b0c0c"),
    "inconsistent": ("#626a6e", "#ffffff"),
}
_ASSURANCE_LETTERS = {"consistent_pass": "P", "consistent_fail": "F", "inconsistent": "?"}

# The matrix: rows by variation, columns by assurance, in the order MDC's summary uses.
MATRIX_ROWS = ("concern", "neutral", "common_cause", "improvement", "none")
MATRIX_COLUMNS = ("consistent_fail", "inconsistent", "consistent_pass", "none")


@dataclass(frozen=True)
class Icon:
    kind: str  # variation or assurance
    code: str  # a VARIATIONS or ASSURANCES label
    letter: str  # H, L, P, F, ? or "" (common cause: drawn as a wave)
    fill: str
    ink: str


def icon(kind: str, code: str | None) -> Icon | None:
    """The icon for a variation or assurance label; None for no reading."""
    if not code:
        return None
    if kind == "assurance":
        fill, ink = _FILLS[code]
        return Icon(kind, code, _ASSURANCE_LETTERS[code], fill, ink)
    if code == "common_cause":
        return Icon(kind, code, "", *_FILLS["common"])
    cause, _, side = code.rpartition("_")
    return Icon(kind, code, "H" if side == "high" else "L", *_FILLS[cause])


def icon_svg(drawn: Icon | None, label: str, size: int = 28) -> str:
    """An inline SVG of the icon, titled with its label (shown beside it by the caller too)."""
    if drawn is None:
        return ""
    mark = (
        f'<text x="14" y="19" text-anchor="middle" font-family="Arial, sans-serif" '
        f'font-size="14" font-weight="bold" fill="{drawn.ink}">{escape(drawn.letter)}</text>'
        if drawn.letter
        else f'<path d="M6 14 q4 -6 8 0 t8 0" fill="none" stroke="{drawn.ink}" stroke-width="2"/>'
    )
    return (
        f'<svg class="icon" role="img" width="{size}" height="{size}" viewBox="0 0 28 28" '
        f'xmlns="http://www.w3.org/2000/svg"><title>{escape(label)}</title>'
        f'<circle cx="14" cy="14" r="12" fill="{drawn.fill}" stroke="#0b0c0c" '
        f'stroke-width="1"/>{mark}</svg>'
    )


@cache
def icon_png(drawn: Icon, size: int = 28) -> bytes:
    """The same icon as a PNG, for email clients that show no SVG (drawn with Pillow)."""
    k = SUPERSAMPLE * size / 28  # the icon is drawn on a 28 x 28 grid, as the SVG
    image, draw = canvas(size, size)
    draw.ellipse([2 * k, 2 * k, 26 * k, 26 * k], fill=drawn.fill, outline="#0b0c0c",
                 width=max(round(0.6 * k * 100 / 72), 1))  # fmt: skip
    if drawn.letter:
        font = _bold_font(round(size * 0.3 * 100 / 72 * SUPERSAMPLE))
        draw.text((14 * k, 14.5 * k), drawn.letter, fill=drawn.ink, font=font, anchor="mm")
    else:
        wave = [(x * k, y * k) for x, y in ((6, 14), (10, 11), (14, 14), (18, 17), (22, 14))]
        draw.line(wave, fill=drawn.ink, width=round(1.2 * k * 100 / 72), joint="curve")
    return png_of(image)


@cache
def _bold_font(pixels: int):
    """DejaVu Sans Bold, the font matplotlib drew the letters in: it ships in matplotlib's
    package data, found without importing matplotlib (which would cost half a second)."""
    from PIL import ImageFont

    spec = importlib.util.find_spec("matplotlib")
    folders = spec.submodule_search_locations if spec else None
    font = Path(folders[0] if folders else "") / "mpl-data/fonts/ttf/DejaVuSans-Bold.ttf"
    if not folders or not font.exists():
        return ImageFont.load_default(pixels)
    return ImageFont.truetype(str(font), pixels)


def matrix(measures: Iterable[MeasureView]) -> dict[tuple[str, str], list[str]]:
    """(variation row, assurance column) -> ids of the measures in that cell.

    Rows group the variation by its cause (``none``: no chart reading); columns are the
    assurance (``none``: no target, or a neutral measure).
    """
    cells: dict[tuple[str, str], list[str]] = {
        (row, column): [] for row in MATRIX_ROWS for column in MATRIX_COLUMNS
    }
    for m in measures:
        row = m.variation or "none"
        if row not in ("none", "common_cause"):
            row = row.rpartition("_")[0]  # concern_high -> concern
        cells[row, m.assurance or "none"].append(m.id)
    return cells
