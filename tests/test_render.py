"""The digest as leaders get it: Slack message, email, full pack, CSV and XLSX."""

from __future__ import annotations

import csv
import doctest
import email
import json
import re
import xml.etree.ElementTree as ET
import zipfile
from dataclasses import replace
from datetime import UTC, datetime
from html.parser import HTMLParser
from pathlib import Path

import openpyxl
import pandas as pd
import pytest
from digest_fixtures import EVIL, digest_of, large_digest, small_digest
from openpyxl.utils.escape import unescape

import bot.render
from bot.app import create_app
from bot.periods import parse_period
from bot.render import blocks as render_blocks
from bot.render import email as render_email
from bot.render import icons as render_icons
from bot.render import pack as render_pack_module
from bot.render import slack as render_slack
from bot.render import tables as render_tables
from bot.render.blocks import escape_mrkdwn
from bot.render.email import digest_message, email_parts
from bot.render.pack import render_pack, write_pack
from bot.render.slack import slack_blocks
from bot.render.tables import write_tables
from bot.spans import parse_span
from tests.conftest import templates_with

NOW = datetime(2026, 11, 10, 9, 0, tzinfo=UTC)


@pytest.fixture(scope="module")
def digest():
    return small_digest()


@pytest.fixture(scope="module")
def big():
    return large_digest(2000, exceptions=300)


def texts(message: dict) -> list[str]:
    """Every piece of text in a Block Kit message, the fallback first."""
    found = [message["text"]]
    for block in message["blocks"]:
        if "text" in block:
            found.append(block["text"]["text"])
        found += [e["text"] for e in block.get("elements", []) if "text" in e]
        found += [f["text"] for f in block.get("fields", [])]
    return found


def check_slack_limits(message: dict) -> None:
    blocks = message["blocks"]
    assert 0 < len(blocks) <= 50
    assert message["text"] and len(message["text"]) <= 40_000
    for block in blocks:
        if block["type"] == "header":
            assert block["text"]["type"] == "plain_text" and len(block["text"]["text"]) <= 150
        if block["type"] == "section":
            assert len(block["text"]["text"]) <= 3000
            assert len(block.get("fields", [])) <= 10
            if "accessory" in block:
                assert len(block["accessory"]["text"]["text"]) <= 75
                assert len(block["accessory"]["url"]) <= 3000
        if block["type"] == "context":
            assert len(block["elements"]) <= 10
    # Slack refuses large totals well under the per-block limits (msg_blocks_too_long).
    assert sum(map(len, texts(message))) < 12_000


# --- Slack ----------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("raw", "escaped"),
    [
        ("a & b", "a &amp; b"),
        ("<!channel>", "&lt;!channel&gt;"),
        ("<@U123> <#C1>", "&lt;@U123&gt; &lt;#C1&gt;"),
        ("<https://evil|click>", "&lt;https://evil|click&gt;"),
        ("@here @channel @Everyone", "@\u200bhere @\u200bchannel @\u200bEveryone"),
        ("email@here.example", "email@\u200bhere.example"),
        ("&amp; already", "&amp;amp; already"),
        ("90% *fine* _ok_", "90% *fine* _ok_"),
    ],
)
def test_escape_mrkdwn_makes_mentions_and_links_inert(raw, escaped):
    assert escape_mrkdwn(raw) == escaped


def test_slack_commentary_cannot_ping_the_channel_or_inject_a_link(digest):
    message = slack_blocks(digest)
    everything = "\n".join(texts(message))
    assert "&lt;!channel&gt;" in everything and "&lt;script&gt;" in everything
    for live in ("<!channel>", "<!here>", "<@", "<https://evil", "<script>"):
        assert live not in everything
    assert not re.search(r"@(here|channel|everyone)\b", everything)
    for block in message["blocks"]:
        if block["type"] == "section":
            assert block["text"]["verbatim"] is True


def test_slack_message_puts_performance_exceptions_first_then_one_line_for_figures_not_in(
    digest,
):
    message = slack_blocks(digest)
    sections = [b["text"]["text"] for b in message["blocks"] if b["type"] == "section"]
    assert sections[1].startswith("*Performance exceptions: 2*")
    shown = [re.search(r"\*([A-Z]{2}-\d\d) ", s).group(1) for s in sections[2:4]]
    assert shown == ["CX-02", "OD-01"]
    assert "*1 figure not yet in, from 1 owner:* Priya Patel (OD-04)." in sections[4]
    assert "Worth learning from" in sections[5]
    assert sections[-2].startswith("*By outcome area*")


def test_slack_exception_shows_value_target_change_and_commentary(digest):
    text = next(t for t in texts(slack_blocks(digest)) if "*CX-02 " in t)
    assert "*52%* against target 80%" in text
    assert "-1 pp on last period (worse)" in text
    assert "> Winter demand; 40 new starters in training. — Olive Owner" in text


def test_slack_figure_not_available_is_a_placeholder_never_zero(digest):
    flagged = digest_of([replace(m, exception_reasons=("consistently_failing",))
                         if m.id == "OD-03" else m for m in digest.measures])  # fmt: skip
    text = next(t for t in texts(slack_blocks(flagged)) if "*OD-03 " in t)
    assert "no figure: system outage" in text
    assert not re.search(r"\b0(\.0)?%", text)


def test_slack_summary_has_completeness_and_counts_per_area(digest):
    all_text = "\n".join(texts(slack_blocks(digest)))
    assert "*9 of 10 figures in (90%)*" in all_text
    assert "*3 exceptions:* 2 red against target, 1 no figure by the due date." in all_text
    assert "*People &amp; finance* · 3 of 3 in" in all_text
    assert "*Operational delivery* · 3 of 4 in" in all_text


def test_slack_links_the_pack_with_a_button_or_says_it_is_attached(digest):
    linked = slack_blocks(digest, "https://intranet.example/pack?a=1&b=2")
    button = linked["blocks"][-1]["accessory"]
    assert button["type"] == "button" and button["url"] == "https://intranet.example/pack?a=1&b=2"
    for bad in (None, "", "javascript:alert(1)", "https://x.example/" + "a" * 3000):
        last = slack_blocks(digest, bad)["blocks"][-1]
        assert "accessory" not in last and "attached" in last["text"]["text"]


def test_slack_message_for_2000_measures_and_300_exceptions_stays_within_limits(big):
    message = slack_blocks(big, "https://intranet.example/pack.html")
    check_slack_limits(message)
    sections = [b for b in message["blocks"] if b["type"] == "section"]
    assert sum("&lt;!channel&gt;" in s["text"]["text"] for s in sections) == 8
    more = [e["text"] for b in message["blocks"] if b["type"] == "context" for e in b["elements"]]
    performance = sum("missing" not in m.exception_reasons for m in big.exceptions)
    assert f"…and {performance - 8} more exceptions in the full pack." in more


def test_slack_message_with_huge_commentary_and_many_areas_stays_within_limits(digest):
    measures = [
        replace(m, area=f"Area {i} & <{m.area}>", commentary="&<>" * 3000)
        for i, m in enumerate(digest.measures * 8)
    ]
    message = slack_blocks(digest_of(measures))
    check_slack_limits(message)
    assert "…and 70 more outcome areas in the full pack." in "\n".join(texts(message))


def test_slack_message_with_no_exceptions_says_so(digest):
    calm = digest_of([replace(m, exception_reasons=()) for m in digest.measures])
    assert "*No performance exceptions this month:*" in "\n".join(texts(slack_blocks(calm)))


# --- Email ----------------------------------------------------------------------------------


def test_email_html_uses_inline_pngs_by_cid_and_no_svg_or_script(digest):
    text, html, images = email_parts(digest)
    sparks = [cid for cid in images if cid.startswith("spark")]
    icons = [cid for cid in images if cid.startswith("icon-")]
    assert len(sparks) == 2  # one per performance exception; a missing figure has no chart
    assert len(icons) == len(images) - 2 and icons, "one PNG per MDC icon the exceptions use"
    assert all(f'src="cid:{cid}"' in html for cid in icons)
    for cid, png in images.items():
        assert png[:8] == b"\x89PNG\r\n\x1a\n"
        assert f'src="cid:{cid}"' in html and "<" not in cid
    assert "<svg" not in html.lower() and "<script" not in html.lower()
    assert "<link" not in html and "<style" not in html  # Outlook: inline styles only
    assert "&lt;script&gt;alert(1)&lt;/script&gt; &lt;!channel&gt;" in html


def test_email_lists_performance_exceptions_first_then_one_line_for_figures_not_in(digest):
    text, html, _ = email_parts(digest)
    for body in (text, html):
        positions = [body.index(m.id) for m in digest.exceptions]
        assert positions == sorted(positions)
        assert positions[-1] < body.lower().index("by outcome area")
    assert "— no figure: system outage &amp; data migration &lt;until 14 Nov&gt;" in html
    assert "NOT YET IN: 1 figure, from 1 owner: Priya Patel (OD-04)." in text
    assert "1 figure not yet in, from 1 owner:</strong> Priya Patel (OD-04)." in html


def test_email_plain_text_holds_every_performance_exception_and_missing_line_in_40_lines():
    from digest_fixtures import large_digest

    many = large_digest(300, exceptions=40)
    text, html, _ = email_parts(many)
    first = text.splitlines()[:40]
    shown = [m for m in many.exceptions if "missing" not in m.exception_reasons]
    assert len(shown) > render_email.TOP_TEXT
    assert all(m.id in html for m in shown[: render_email.TOP_EXCEPTIONS])
    shown = shown[: render_email.TOP_TEXT]
    for m in shown:
        assert any(line.startswith(f"{m.id}  ") for line in first), m.id
    assert sum(line.startswith("NOT YET IN: ") for line in first) == 1


def test_email_caps_the_exceptions_and_sends_the_rest_to_the_pack(big):
    text, html, images = email_parts(big)
    assert len([cid for cid in images if cid.startswith("spark")]) == render_email.TOP_EXCEPTIONS
    performance = sum("missing" not in m.exception_reasons for m in big.exceptions)
    assert f"…and {performance - 20} more exceptions in the full pack." in html
    assert f"...and {performance - 8} more exceptions in the full pack." in text
    assert len(html) + sum(map(len, images.values())) < 300_000


def test_digest_message_is_alternative_text_then_related_html_with_inline_images(digest):
    message = digest_message(digest, "pmbot@agency.example", ["a@agency.example", "b@x.example"],
                             NOW, "agency.example")  # fmt: skip
    parsed = email.message_from_bytes(message.as_bytes())
    assert parsed.get_content_type() == "multipart/alternative"
    plain, related = parsed.get_payload()
    assert plain.get_content_type() == "text/plain"
    assert related.get_content_type() == "multipart/related"
    html_part, *pngs = related.get_payload()
    html = html_part.get_payload(decode=True).decode("utf-8")
    assert len([p for p in pngs if p["Content-ID"].startswith("<spark")]) == 2
    for png in pngs:
        assert png.get_content_type() == "image/png"
        assert png["Content-Disposition"].startswith("inline")
        cid = png["Content-ID"]
        assert cid.startswith("<") and cid.endswith("@agency.example>")
        assert f"cid:{cid[1:-1]}" in html
        assert png.get_payload(decode=True)[:4] == b"\x89PNG"
    assert parsed["To"] == "a@agency.example, b@x.example"
    assert parsed["Subject"] == "Performance digest October 2026: 3 exceptions, 9 of 10 figures in"
    assert parsed["Auto-Submitted"] == "auto-generated" and parsed["X-PMBot"] == "digest"
    assert parsed["Message-ID"].endswith("@agency.example>")


def test_digest_message_can_attach_the_pack(digest):
    message = digest_message(digest, "pmbot@agency.example", "lead@agency.example", NOW,
                             "agency.example", pack=render_pack(digest))  # fmt: skip
    parsed = email.message_from_bytes(message.as_bytes())
    assert parsed.get_content_type() == "multipart/mixed"
    body, attachment = parsed.get_payload()
    assert body.get_content_type() == "multipart/alternative"
    assert attachment.get_filename() == "performance-pack-2026-10.html"
    assert "OD-01" in attachment.get_payload(decode=True).decode("utf-8")


def test_email_links_only_web_addresses(digest):
    _, html, _ = email_parts(digest, pack_url="javascript:alert(1)")
    assert "javascript:" not in html and "is attached" in html
    _, html, _ = email_parts(digest, attached=False)
    assert "is attached" not in html
    _, html, _ = email_parts(digest, pack_url="https://intranet.example/p?a=1&b=2")
    assert 'href="https://intranet.example/p?a=1&amp;b=2"' in html


# --- Full pack ------------------------------------------------------------------------------


class Tags(HTMLParser):
    """Collects tags and attributes, and checks that the page parses."""

    def __init__(self) -> None:
        super().__init__()
        self.tags: list[tuple[str, dict]] = []

    def handle_starttag(self, tag, attrs):
        self.tags.append((tag, dict(attrs)))


def test_pack_is_standalone_with_no_scripts_or_external_resources(digest):
    html = render_pack(digest)
    parser = Tags()
    parser.feed(html)
    names = {tag for tag, _ in parser.tags}
    assert "script" not in names and "link" not in names and "iframe" not in names
    for tag, attrs in parser.tags:
        assert not attrs.get("src"), f"<{tag}> loads {attrs['src']}"
        href = attrs.get("href") or ""
        assert not href or href.startswith("#"), f"external link {href}"
    assert "@import" not in html and "url(" not in html
    assert "<script>alert" not in html and "&lt;script&gt;alert(1)&lt;/script&gt;" in html


def test_pack_svgs_are_well_formed_xml(digest):
    svgs = re.findall(r"<svg.*?</svg>", render_pack(digest), flags=re.S)
    charts = [svg for svg in svgs if 'class="icon"' not in svg]
    assert len(charts) == len(digest.measures)
    assert len(svgs) > len(charts), "the MDC icons are SVG too"
    for svg in svgs:
        ET.fromstring(svg)


def test_mdc_icons_carry_their_letter_and_label_never_colour_alone(digest):
    html = render_pack(digest)
    icons = re.findall(r'<svg class="icon".*?</svg>', html, flags=re.S)
    titled = {re.search(r"<title>(.*?)</title>", svg)[1] for svg in icons}
    assert "will consistently fail the target" in titled
    assert "special cause concern (high)" in titled
    for svg in icons:
        letter = re.search(r">([HLPF?])</text>|<path", svg)
        assert letter, svg
    front = html[: html.index('id="areas"')]
    assert "Variation and assurance" in front and "Will consistently pass" in front


def test_pack_front_ranks_performance_exceptions_then_one_line_for_missing_figures(digest):
    html = render_pack(digest)
    assert html.index('id="exceptions"') < html.index('id="gaps"') < html.index('id="areas"')
    table = html[html.index('id="exceptions"') : html.index('id="gaps"')]
    performance = [m for m in digest.exceptions if m.status != "missing"]
    order = [table.index(f"<strong>{m.id}</strong>") for m in performance]
    assert order == sorted(order) and len(order) == 2
    assert "OD-04" not in table
    gaps = html[html.index('id="gaps"') : html.index('id="areas"')]
    assert "1 figure not yet in, from 1 owner:</strong> Priya Patel (OD-04)." in gaps
    area = html[html.index(">Operational delivery</h2>") :]
    articles = re.findall(r'<article class="measure( exception)?" id="[^"]*">\s*<h3><span '
                          r'class="id">([^<]+)', area)[:4]  # fmt: skip
    assert [a[1] for a in articles] == ["OD-01", "OD-04", "OD-02", "OD-03"]
    assert [bool(a[0]) for a in articles] == [True, True, False, False]


def test_pack_has_every_measure_with_its_glossary_chart_and_history(digest):
    html = render_pack(digest)
    for m in digest.measures:
        start = html.index(f'<span class="id">{m.id}</span>')
        card = html[start : html.index("</article>", start)]
        for field in ("What it measures", "Limitations", "Source", "Owner", "<svg", "Year on year"):
            assert field in card, f"{m.id} lacks {field}"
        assert m.owner_email in card
    assert "Last 13 figures" in html and "Last 9 figures" in html  # the quarterly has 9


def test_pack_shows_gaps_as_placeholders_never_zero(digest):
    html = render_pack(digest)
    od03 = html[html.index('<span class="id">OD-03</span>') :]
    od03 = od03[: od03.index("</article>")]
    assert "— no figure: system outage &amp; data migration &lt;until 14 Nov&gt;" in od03
    recent = od03[od03.index("Last 13 figures") :]
    assert recent.count("— no figure") == 1 and ">0%<" not in recent
    pf02 = html[html.index('<span class="id">PF-02</span>') :]
    assert "— no figure" in pf02[: pf02.index("</article>")]  # a gap in its history
    assert "£0" not in html


def test_pack_marks_revised_figures(digest):
    html = render_pack(digest)
    od02 = html[html.index('<span class="id">OD-02</span>') :]
    assert "Revised: 3 submissions" in od02[: od02.index("</article>")]
    assert html.count("Revised: ") == sum(m.revised for m in digest.measures)


def test_pack_states_the_projection_is_a_projection_with_its_method(digest):
    html = render_pack(digest)
    cx02 = html[html.index('<span class="id">CX-02</span>') :]
    cx02 = cx02[: cx02.index("</article>")]
    assert "Projection, not a forecast." in cx02
    assert "A straight line through the last 6 figures (least squares)" in cx02
    assert "beyond the red tolerance in 2026-11" in cx02


def test_pack_of_2000_measures_renders_every_measure(big, tmp_path):
    path = write_pack(big, tmp_path)
    html = path.read_text(encoding="utf-8")
    assert html.count('<article class="measure') == 2000
    assert html.count("&lt;!channel&gt;") >= 300


def test_projected_breach_is_flagged_as_a_projection_in_every_output(digest):
    slack = "\n".join(texts(slack_blocks(digest)))
    assert "*Heading for a breach* (a straight-line projection, not a forecast): OD-02 " in slack
    text, html, _ = email_parts(digest)
    assert "projected beyond the red tolerance in 2027-01" in text
    assert "A straight-line projection of recent figures, not a forecast." in html
    pack = render_pack(digest)
    breaches = pack[pack.index('id="breaches"') : pack.index('id="areas"')]
    assert "OD-02" in breaches and "They are not forecasts" in breaches


def test_a_reason_for_no_figure_is_shown_escaped_everywhere(digest):
    reason = "system outage & data migration <until 14 Nov>"
    escaped_html = "system outage &amp; data migration &lt;until 14 Nov&gt;"
    na = [replace(m, exception_reasons=("consistently_failing",)) if m.id == "OD-03" else m
          for m in digest.measures]  # fmt: skip
    flagged = digest_of(na)
    slack = "\n".join(texts(slack_blocks(flagged)))
    assert "*no figure: system outage &amp; data migration &lt;until 14 Nov&gt;*" in slack
    text, html, _ = email_parts(flagged)
    assert f"— no figure: {reason}" in text and f"— no figure: {escaped_html}." in html
    assert f"— no figure: {escaped_html}" in render_pack(flagged)


# --- CSV and XLSX ---------------------------------------------------------------------------


def test_csv_reads_back_with_the_right_numbers_and_blanks_for_gaps(digest, tmp_path):
    csv_path, *_ = write_tables(digest, tmp_path)
    frame = pd.read_csv(csv_path)
    assert frame.columns[0] == "cycle"  # the byte-order mark is not part of the name
    assert all(re.fullmatch(r"[a-z0-9_]+", c) for c in frame.columns)
    assert frame["measure_id"].tolist()[:3] == ["CX-02", "OD-01", "OD-04"]  # exceptions first
    rows = frame.set_index("measure_id")
    assert rows.loc["OD-01", "value"] == 58.0 and rows.loc["OD-01", "target"] == 50.0
    assert rows.loc["PF-02", "value"] == 4_100_000.0
    assert rows.loc["OD-01", "change"] == 9.0 and rows.loc["OD-01", "change_1y"] == 10.0
    assert pd.isna(rows.loc["OD-03", "value"]) and pd.isna(rows.loc["OD-04", "value"])
    assert rows.loc["OD-03", "reason"] == "system outage & data migration <until 14 Nov>"
    assert pd.isna(rows.loc["OD-01", "value_2y_ago"])  # before the history: blank, not 0
    assert rows.loc["OD-02", "revised"] and rows.loc["OD-02", "revisions"] == 3
    assert rows.loc["OD-01", "exception_reasons"] == "red;special_cause_concern"
    assert rows.loc["OD-01", "commentary"] == EVIL
    assert frame["value"].dtype == "float64" and frame["revisions"].dtype == "int64"
    with csv_path.open(encoding="utf-8-sig", newline="") as file:
        raw = {row["measure_id"]: row for row in csv.DictReader(file)}
    assert raw["OD-04"]["value"] == "" and raw["OD-04"]["change"] == ""  # a blank, not 0
    assert raw["OD-01"]["value"] == "58.0"


def test_csv_and_xlsx_do_not_run_commentary_as_a_formula(digest, tmp_path):
    hostile = '=HYPERLINK("https://evil.example","click")'
    measures = [replace(m, commentary=hostile) if m.id == "OD-01" else m for m in digest.measures]
    csv_path, xlsx_path, *_ = write_tables(digest_of(measures), tmp_path)
    rows = pd.read_csv(csv_path).set_index("measure_id")
    assert rows.loc["OD-01", "commentary"] == "'" + hostile
    sheet = openpyxl.load_workbook(xlsx_path)["measures"]
    column = [c.value for c in sheet[1]].index("commentary")
    ids = [c.value for c in sheet[1]].index("measure_id")
    cell = next(row[column] for row in sheet.iter_rows(min_row=2) if row[ids].value == "OD-01")
    assert cell.value == hostile and cell.data_type == "s"


def test_xlsx_keeps_commentary_exactly_as_written(digest, tmp_path):
    said = '  Backlog <cleared> & "on track"\r\nsee note  '
    measures = [replace(m, commentary=said) if m.id == "OD-01" else m for m in digest.measures]
    _, xlsx_path, *_ = write_tables(digest_of(measures), tmp_path)
    sheet = openpyxl.load_workbook(xlsx_path)["measures"]
    header = [c.value for c in sheet[1]]
    ids = header.index("measure_id")
    row = next(r for r in sheet.iter_rows(min_row=2) if r[ids].value == "OD-01")
    # A carriage return is stored as _x000D_, as Excel stores it and reads it back; openpyxl's
    # reader leaves such escapes to its caller.
    assert unescape(row[header.index("commentary")].value) == said


def test_xlsx_has_numbers_as_numbers_empty_gaps_and_a_named_table(digest, tmp_path):
    _, xlsx_path, *_ = write_tables(digest, tmp_path)
    book = openpyxl.load_workbook(xlsx_path)
    sheet = book["measures"]
    header = [c.value for c in sheet[1]]
    ids = header.index("measure_id")
    rows = {row[ids].value: dict(zip(header, row, strict=True))
            for row in sheet.iter_rows(min_row=2)}  # fmt: skip
    assert rows["OD-01"]["value"].value == 58 and rows["OD-01"]["value"].data_type == "n"
    assert rows["OD-04"]["value"].value is None and rows["OD-03"]["value"].value is None
    assert rows["OD-02"]["revised"].value is True
    assert "pmbot_measures" in sheet.tables and "pmbot_areas" in book["areas"].tables
    frame = pd.read_excel(xlsx_path, sheet_name="areas")
    assert frame["measures"].sum() == len(digest.measures)


def test_data_files_have_a_dictionary_csvw_metadata_and_a_long_series(digest, tmp_path):
    measures_csv, xlsx_path, series_csv, measures_meta, series_meta = write_tables(digest, tmp_path)
    for csv_path, meta in ((measures_csv, measures_meta), (series_csv, series_meta)):
        header = pd.read_csv(csv_path, nrows=0).columns.tolist()
        schema = json.loads(meta.read_text(encoding="utf-8"))
        assert schema["url"] == csv_path.name and schema["@context"] == "http://www.w3.org/ns/csvw"
        columns = schema["tableSchema"]["columns"]
        assert [c["name"] for c in columns] == header
        assert all(c["dc:description"] and c["titles"] for c in columns)
    book = openpyxl.load_workbook(xlsx_path)
    dictionary = pd.read_excel(xlsx_path, sheet_name="dictionary")
    assert set(dictionary[dictionary.sheet == "measures"]["column"]) == set(
        pd.read_csv(measures_csv, nrows=0).columns
    )
    rows = pd.read_csv(measures_csv).set_index("measure_id")
    assert rows.loc["OD-01", "red_tolerance"] == 10.0
    assert rows.loc["OD-01", "red_tolerance_kind"] in ("absolute", "percent")
    assert rows["pct_change_1y"].dropna().map(lambda v: round(v, 1) == v).all()
    sheet = book["measures"]
    header = [c.value for c in sheet[1]]
    first = dict(zip(header, sheet[2], strict=True))
    assert first["period_start"].is_date and first["period_start"].number_format == "yyyy-mm-dd"
    percent = next(dict(zip(header, row, strict=True)) for row in sheet.iter_rows(min_row=2)
                   if row[header.index("unit")].value == "%")  # fmt: skip
    assert percent["value"].number_format == '0.0"%"'
    series = pd.read_csv(series_csv)
    assert len(series) == sum(len(m.series) for m in digest.measures)
    od03 = series[series.measure_id == "OD-03"].iloc[-1]
    assert pd.isna(od03["value"]) and od03["status"] == "no_figure"  # a gap stays blank


def test_csv_dates_and_times_are_what_their_csvw_datatypes_say(digest, tmp_path):
    # A time of receipt written as its day alone lost the time, and "2026-11-04" is no
    # CSVW dateTime: a validator or Power BI reading the metadata refused the column.
    patterns = {"date": r"\d{4}-\d{2}-\d{2}", "dateTime": r"\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}"}
    written = write_tables(digest, tmp_path)
    for csv_path in (written[0], written[2]):
        schema = json.loads(Path(f"{csv_path}-metadata.json").read_text(encoding="utf-8"))
        frame = pd.read_csv(csv_path, dtype=str, keep_default_na=False)
        for column in schema["tableSchema"]["columns"]:
            if column["datatype"] in patterns:
                cells = [c for c in frame[column["name"]] if c]
                assert cells and all(re.fullmatch(patterns[column["datatype"]], c) for c in cells)
    received = pd.read_csv(written[0], dtype=str).set_index("measure_id")["submitted_at"]
    assert received["OD-01"] == "2026-11-04T10:12:00"


def test_the_configured_templates_dir_words_every_form_of_the_digest(
    settings, clock, register_file, tmp_path
):
    """settings.templates_dir reaches every renderer: the pack, the Slack message, the email and
    the data files' titles all come from the configured copy, none from the built-in one."""
    custom = templates_with(tmp_path, {
        "digest/slack.txt": ("Performance digest{% endif %}: ", "Leaders' brief{% endif %}: "),
        "digest/email_subject.txt": ("Performance digest", "Leaders' brief"),
        "digest/pack.html": ("<html", "<!-- Leaders' brief --><html"),
        "digest/columns.txt": ('"Performance measures, {cycle}', '"Leaders\' brief, {cycle}'),
        "annual/report.html": ("<html", "<!-- Leaders' year --><html"),
    })  # fmt: skip
    bot = create_app(replace(settings, templates_dir=custom), clock=clock)
    try:
        bot.service.import_register(register_file, clock())
        files = {p.suffix: p for p in bot.write_digest(parse_period("2026-10"), tmp_path / "out")}
        slack = json.loads((tmp_path / "out" / "digest-2026-10-slack.json").read_text())
        assert slack["blocks"][0]["text"]["text"] == "Leaders' brief: October 2026"
        message = email.message_from_bytes(files[".eml"].read_bytes())
        assert message["Subject"].startswith("Leaders' brief")
        assert "<!-- Leaders' brief -->" in files[".html"].read_text(encoding="utf-8")
        metadata = json.loads((tmp_path / "out" / "performance-2026-10-measures.csv-metadata.json")
                              .read_text(encoding="utf-8"))  # fmt: skip
        assert metadata["dc:title"].startswith("Leaders' brief, 2026-10")
        annual = bot.write_annual(parse_span("2025/26"), tmp_path / "annual")
        assert "<!-- Leaders' year -->" in annual[0].read_text(encoding="utf-8")
    finally:
        bot.close()


@pytest.mark.parametrize("failing", ["csv", "xlsx"])
def test_a_failed_table_write_leaves_the_previous_file_and_no_partial_one(
    digest, tmp_path, monkeypatch, failing
):
    """The disk fills half way through a table: the last complete files stay as they were,
    nothing half-written sits under a name people open, and no temporary file is left."""
    written = write_tables(digest, tmp_path)
    before = {path.name: path.read_bytes() for path in written}

    real_writer = csv.writer

    def half_then_full_disk(file, *args, **kwargs):
        writer = real_writer(file, *args, **kwargs)

        class HalfThenFull:
            writerow = writer.writerow

            def writerows(self, rows):
                rows = list(rows)
                writer.writerows(rows[: len(rows) // 2])  # the disk filled half way through
                file.flush()
                raise OSError(28, "No space left on device")

        return HalfThenFull()

    if failing == "csv":
        monkeypatch.setattr(csv, "writer", half_then_full_disk)
    else:  # the disk fills once the workbook's first parts are in its zip
        real = zipfile.ZipFile.writestr

        def writestr(self, name, *args, **kwargs):
            if getattr(name, "filename", name).startswith("xl/worksheets/"):  # a name or ZipInfo
                raise OSError(28, "No space left on device")
            return real(self, name, *args, **kwargs)

        monkeypatch.setattr(zipfile.ZipFile, "writestr", writestr)
    with pytest.raises(OSError, match="No space left"):
        write_tables(digest, tmp_path)
    assert {path.name: path.read_bytes() for path in written} == before
    assert sorted(p.name for p in tmp_path.iterdir()) == sorted(before)


def test_tables_for_2000_measures(big, tmp_path):
    csv_path, *_ = write_tables(big, tmp_path)
    frame = pd.read_csv(csv_path)
    assert len(frame) == 2000 and frame["is_exception"].head(300).all()
    assert frame["value"].isna().sum() == 75  # the missing figures, blank


@pytest.mark.parametrize(
    "module",
    [
        bot.render,
        render_blocks,
        render_slack,
        render_email,
        render_pack_module,
        render_tables,
        render_icons,
    ],
)
def test_docstring_examples(module, monkeypatch):
    # The examples import tests.digest_fixtures, which needs the project root on the path.
    monkeypatch.syspath_prepend(str(Path(bot.render.TEMPLATES).parent))
    assert doctest.testmod(module).failed == 0


def test_templates_are_the_only_place_for_prose():
    # A guard against drift: each renderer loads its words from templates/digest/.
    names = {p.name for p in (Path(bot.render.TEMPLATES) / "digest").iterdir()}
    assert {"slack.txt", "email.html", "email.txt", "email_subject.txt", "pack.html",
            "labels.txt"} <= names  # fmt: skip


def test_a_pack_too_big_to_mail_as_it_is_goes_zipped_and_the_email_says_so(digest, monkeypatch):
    import io
    import zipfile

    from bot.render import email as email_render

    pack = render_pack(digest)
    monkeypatch.setattr(email_render, "PACK_ZIP_ABOVE", len(pack.encode()) - 1)
    message = digest_message(digest, "pmbot@agency.example", "lead@agency.example", NOW,
                             "agency.example", pack=pack)  # fmt: skip
    parsed = email.message_from_bytes(message.as_bytes())
    body, attachment = parsed.get_payload()
    assert attachment.get_filename() == "performance-pack-2026-10.zip"
    archive = zipfile.ZipFile(io.BytesIO(attachment.get_payload(decode=True)))
    assert archive.namelist() == ["performance-pack-2026-10.html"]
    assert archive.read("performance-pack-2026-10.html").decode("utf-8") == pack
    plain = body.get_payload()[0].get_payload(decode=True).decode("utf-8")
    assert "zip file" in plain
