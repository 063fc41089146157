"""SPC charts: the hand-written SVG for the pack and the matplotlib PNGs for email."""

from __future__ import annotations

import doctest
import math
import re
import struct
import xml.etree.ElementTree as ET

import pandas as pd
import pytest
from digest_fixtures import small_digest

from bot import charts
from bot.charts import ChartData, sparkline_png, spc_png, spc_svg
from bot.digest_model import Projection

SVG = "{http://www.w3.org/2000/svg}"
NAN = math.nan


def chart_frame(values, causes=None, mean=None, lpl=None, upl=None) -> pd.DataFrame:
    n = len(values)
    return pd.DataFrame({
        "period": [f"2026-{i + 1:02d}" for i in range(n)],
        "value": values,
        "mean": [mean] * n if mean is not None else [NAN] * n,
        "lpl": [lpl] * n if lpl is not None else [NAN] * n,
        "upl": [upl] * n if upl is not None else [NAN] * n,
        "special_cause": causes or [None] * n,
    })  # fmt: skip


def parse(svg: str) -> ET.Element:
    return ET.fromstring(svg)


def png_size(png: bytes) -> tuple[int, int]:
    assert png[:8] == b"\x89PNG\r\n\x1a\n", "not a PNG signature"
    assert png[12:16] == b"IHDR"
    return struct.unpack(">II", png[16:24])


def test_svg_of_every_measure_in_a_realistic_digest_is_well_formed_xml():
    for m in small_digest().measures:
        root = parse(spc_svg(m.series, m.target, label=m.name, projection=m.projection))
        assert root.tag == f"{SVG}svg"
        assert root.find(f"{SVG}title") is not None


def test_svg_escapes_text_so_a_hostile_label_cannot_break_out():
    svg = spc_svg(chart_frame([1.0, 2.0]), label='</title><script>alert(1)</script> & "x"')
    root = parse(svg)
    assert root.find(f".//{SVG}script") is None
    assert root.find(f"{SVG}title").text == '</title><script>alert(1)</script> & "x"'


def subpaths(path: ET.Element) -> list[str]:
    """Each piece of a <path>: a stretch of line, or one point's shape."""
    return re.findall(r"M[^M]*", path.get("d"))


def lines(root: ET.Element, stroke: str) -> list[ET.Element]:
    return [p for p in root.findall(f"{SVG}path") if p.get("stroke") == stroke]


def test_svg_gap_breaks_the_line_and_is_not_drawn_as_zero():
    svg = spc_svg(chart_frame([10.0, 11.0, NAN, 12.0, 13.0]))
    root = parse(svg)
    [line] = [p for p in lines(root, charts.COMMON_CAUSE) if p.get("stroke-width") == "1.5"]
    stretches = subpaths(line)
    assert len(stretches) == 2  # two stretches either side of the gap
    assert [len(s.split("L")) for s in stretches] == [2, 2]
    assert len(points(root)) == 4
    # Zero is below every figure; nothing may be drawn there for the gap.
    labels = [t.text for t in root.findall(f"{SVG}text")]
    assert "0" not in labels


def points(root) -> list[tuple[str, str, str]]:
    """(kind, colour, shape) of each point drawn: the points of a kind are one path whose
    class is "pt <kind>", each point a subpath; its shape is the path data after its start."""
    found = []
    for path in root.findall(f"{SVG}path"):
        kind = path.get("class", "").removeprefix("pt ")
        if path.get("class", "").startswith("pt "):
            colour = path.get("fill") if path.get("fill") != "none" else path.get("stroke")
            found += [(kind, colour, re.sub(r"^M[\d.]+ [\d.]+", "", s)) for s in subpaths(path)]
    return found


def test_svg_marks_special_cause_by_colour_and_shape_not_colour_alone():
    causes = [None, "improvement", "concern", "neutral"]
    root = parse(spc_svg(chart_frame([1.0, 2.0, 3.0, 4.0], causes=causes)))
    marks = points(root)
    assert [(kind, colour) for kind, colour, _ in marks] == [
        ("common", "#7B7D7D"), ("improvement", "#1d70b8"), ("concern", "#c26e00"),
        ("neutral", "#361475")]  # fmt: skip
    assert len({shape for _, _, shape in marks}) == 4, "each kind has a shape of its own"
    dot = next(p for p in root.findall(f"{SVG}path") if p.get("class") == "pt common")
    assert dot.get("stroke-linecap") == "round" and float(dot.get("stroke-width")) >= 6


def test_svg_labels_mean_target_and_unit():
    frame = chart_frame([10.0, 12.0, 11.0], mean=11.0, lpl=8.0, upl=14.0)
    labels = [t.text for t in parse(spc_svg(frame, target=13.0, unit="days")).findall(f"{SVG}text")]
    assert {"mean 11", "target", "days"} <= set(labels)


def test_svg_draws_mean_limits_and_target():
    svg = spc_svg(chart_frame([10.0, 12.0, 11.0], mean=11.0, lpl=8.0, upl=14.0), target=13.0)
    root = parse(svg)
    [target] = lines(root, charts.TARGET)
    assert target.get("stroke-dasharray") and len(subpaths(target)) == 1
    grey = lines(root, charts.LINES)
    [limits] = [p for p in grey if p.get("stroke-dasharray")]
    assert len(subpaths(limits)) == 2  # upper and lower limit
    assert [p for p in grey if not p.get("stroke-dasharray")], "the axis"
    [mean] = lines(root, charts.TEXT)
    assert len(subpaths(mean)) == 1
    assert "target" in [t.text for t in root.findall(f"{SVG}text")]


def test_svg_rebased_limits_are_drawn_as_separate_runs():
    frame = chart_frame([5.0, 6.0, 5.0, 9.0, 8.0, 9.0])
    frame["mean"] = [5.3, 5.3, 5.3, 8.7, 8.7, 8.7]
    [means] = lines(parse(spc_svg(frame)), charts.TEXT)
    assert len(subpaths(means)) == 2


def test_svg_projection_is_dashed_and_hollow_after_the_last_period():
    projection = Projection(("2026-04", "2026-05", "2026-06"), (4.0, 5.0, 6.0), None, "Straight.")
    root = parse(spc_svg(chart_frame([1.0, 2.0, 3.0]), projection=projection))
    dashed = [p for p in root.findall(f"{SVG}path") if p.get("class") == "projection"]
    assert len(dashed) == 1 and dashed[0].get("stroke-dasharray")
    assert len(dashed[0].get("d").split("L")) == 4
    [hollow] = [p for p in root.findall(f"{SVG}path") if p.get("fill") == "#fff"]
    assert len(subpaths(hollow)) == 3
    assert "2026-06" in [t.text for t in root.findall(f"{SVG}text")]


def test_svg_without_any_figure_says_so():
    root = parse(spc_svg(chart_frame([NAN, NAN])))
    assert root.find(f"{SVG}text").text == "No figures yet to chart"
    assert points(root) == []


def test_svg_of_a_flat_series_and_a_single_point_is_still_drawn():
    for values in ([5.0, 5.0, 5.0], [7.0]):
        root = parse(spc_svg(chart_frame(values, mean=values[0], lpl=values[0], upl=values[0])))
        assert len(points(root)) == len(values)


def test_chart_data_reads_pandas_3_string_columns_with_missing_labels():
    frame = chart_frame([1.0, 2.0], causes=["concern", None])
    frame["special_cause"] = frame["special_cause"].astype("str")  # None becomes NaN or "None"
    frame.loc[1, "special_cause"] = pd.NA
    data = ChartData.from_series(frame)
    assert data.causes == ["concern", None]
    assert data.tail(1).values == [2.0]


def test_spc_png_is_a_small_valid_png_of_about_600_by_220():
    m = small_digest().exceptions[0]
    png = spc_png(m.series, m.target, title=f"{m.id} {m.name}")
    assert png_size(png) == (600, 220)
    assert len(png) < 60_000


def test_sparkline_png_is_valid_and_tiny_even_with_gaps_or_no_figures():
    for values in ([1.0, NAN, 3.0, 2.0], [NAN, NAN], []):
        png = sparkline_png(chart_frame(values), target=2.0)
        assert png_size(png) == (160, 40)
        assert len(png) < 10_000


def test_same_chart_gives_the_same_png_bytes():
    frame = chart_frame([1.0, 2.0, 3.0])
    assert sparkline_png(frame) == sparkline_png(frame)


@pytest.mark.parametrize("module", [charts])
def test_docstring_examples(module):
    assert doctest.testmod(module).failed == 0
