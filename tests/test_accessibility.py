"""What leaders and owners read, checked in a real browser: WCAG 2.2 AA, phones, paper.

axe-core (from npm, `npm ci`) runs in Debian's headless Chromium, driven by playwright-core,
through tests/browser/check.mjs. The pack is checked at 1400 and 320 px wide; every kind of
email pmbot sends (prompt, reminder, escalation, confirmation, summary, alert follow-up,
digest) at 320 px, the digest also at 1400 px; the sample register's pack is printed to A4
PDF. One browser run serves every test here. Skipped, saying why, only where node, axe-core
or Chromium are missing.
"""

from __future__ import annotations

import json
import re
import shutil
import subprocess
from dataclasses import replace
from datetime import datetime, timedelta
from html.parser import HTMLParser
from pathlib import Path

import pytest
from digest_fixtures import small_digest
from test_scheduler import REGISTER, reply, sent_mail

from bot.app import create_app
from bot.events import Submission
from bot.periods import LONDON, parse_period
from bot.render.pack import write_pack
from bot.settings import PROJECT_ROOT

CHROMIUM = Path("/usr/bin/chromium")
CHECK = PROJECT_ROOT / "tests" / "browser" / "check.mjs"
AXE = PROJECT_ROOT / "node_modules" / "axe-core" / "axe.min.js"
SERIOUS = {"serious", "critical"}
WIDE, PHONE = 1400, 320

pytestmark = pytest.mark.skipif(
    not (CHROMIUM.exists() and AXE.exists() and shutil.which("node")),
    reason="needs /usr/bin/chromium (apt-get install chromium), node and `npm ci` (axe-core)",
)


def html_part(message) -> bytes:
    for part in message.walk():
        if part.get_content_type() == "text/html" and part.get_filename() is None:
            return part.get_payload(decode=True)
    raise AssertionError(f"{message['X-PMBot']} has no HTML part")


def every_kind_of_email(settings, directory: Path) -> dict[str, bytes]:
    """A month played on a moving clock: one HTML body for each kind of email sent."""
    register = directory / "register.yaml"
    register.write_text(REGISTER)
    now = {"at": datetime(2026, 10, 1, 7, tzinfo=LONDON)}
    bot = create_app(replace(settings, organisation="Social Security Agency"),
                     clock=lambda: now["at"])  # fmt: skip
    try:
        bot.service.import_register(register, now["at"])
        replied = late = False
        while now["at"] < datetime(2026, 11, 14, tzinfo=LONDON):
            now["at"] += timedelta(hours=3)
            bot.tick()
            kinds = {m["X-PMBot"] for m in sent_mail(settings.maildir)}
            if not replied and "prompt" in kinds:
                bot.mail.deliver_to_inbox(reply("prompt@agency.example", "OD-01: 48\nOD-09: 5"))
                bot.poll_mail()
                replied = True
            if not late and "summary" in kinds:
                # A red figure after the summary: leaders get a follow-up in its thread.
                bot.service.submit(Submission("OD-02", "900 a backlog after the outage",
                                              "late@agency.example", "cli", "late:1", now["at"],
                                              period="2026-09"))  # fmt: skip
                late = True
        kinds = {}
        for message in sent_mail(settings.maildir):
            kinds.setdefault(message["X-PMBot"], html_part(message))
        return kinds
    finally:
        bot.close()


def sample_pack(settings, directory: Path) -> Path:
    """The pack of the sample register (data/) for September 2026: every figure in."""
    now = datetime(2026, 10, 20, 9, tzinfo=LONDON)
    bot = create_app(settings, clock=lambda: now)
    try:
        bot.service.import_register(PROJECT_ROOT / "data" / "measures.yaml", now)
        bot.service.import_history(PROJECT_ROOT / "data" / "history.csv", now)
        return write_pack(bot.service.digest(parse_period("2026-09"), now), directory / "sample")
    finally:
        bot.close()


@pytest.fixture(scope="module")
def checked(tmp_path_factory):
    """Every page opened once in Chromium: {name: {width or "print": result}}, and PDFs."""
    from bot.settings import Settings

    directory = tmp_path_factory.mktemp("browser")
    settings = replace(Settings.from_env({}), db_path=directory / "mail.db",
                       maildir=directory / "mail", mail_from="pmbot@agency.example")  # fmt: skip
    pages = {"pack": write_pack(small_digest(), directory / "small")}
    pages["sample"] = sample_pack(replace(settings, db_path=directory / "sample.db"), directory)
    for kind, html in every_kind_of_email(settings, directory).items():
        pages[f"email:{kind}"] = directory / f"{kind}.html"
        pages[f"email:{kind}"].write_bytes(html)
    widths = {"pack": [WIDE, PHONE], "sample": [PHONE], "email:digest": [WIDE, PHONE]}
    job = {"pages": [
        {"path": str(path), "widths": widths.get(name, [PHONE])} for name, path in pages.items()
    ]}  # fmt: skip
    job["pages"][1].update(pdf=str(directory / "sample.pdf"),
                           front_pdf=str(directory / "front.pdf"))  # fmt: skip
    (directory / "job.json").write_text(json.dumps(job))
    run = subprocess.run(["node", str(CHECK), str(directory / "job.json")], capture_output=True,
                         text=True, timeout=300, check=False, cwd=PROJECT_ROOT)  # fmt: skip
    assert run.returncode == 0, run.stderr[-3000:]
    names = {str(path): name for name, path in pages.items()}
    results: dict[str, dict] = {}
    for result in json.loads(run.stdout)["results"]:
        key = "print" if result.get("print") else result["width"]
        results.setdefault(names[result["path"]], {})[key] = result
    return results, directory


def serious(result: dict) -> list[str]:
    return [f"{v['id']} ({v['impact']}): {v['nodes']}" for v in result["violations"]
            if v["impact"] in SERIOUS]  # fmt: skip


def pdf_pages(path: Path) -> int:
    return len(re.findall(rb"/Type\s*/Page(?![s\w])", path.read_bytes()))


@pytest.mark.parametrize("width", [WIDE, PHONE])
def test_the_pack_has_no_serious_accessibility_failures(checked, width):
    results, _ = checked
    assert serious(results["pack"][width]) == []


def test_the_sample_pack_has_no_serious_accessibility_failures_on_a_phone(checked):
    results, _ = checked
    assert serious(results["sample"][PHONE]) == []


@pytest.mark.parametrize("name", ["pack", "sample"])
def test_the_pack_reflows_at_320_px_without_scrolling_sideways(checked, name):
    result = checked[0][name][PHONE]
    assert result["scroll_width"] <= PHONE, result["wide"]


def test_every_kind_of_email_was_checked(checked):
    results, _ = checked
    kinds = {name.split(":")[1] for name in results if name.startswith("email:")}
    assert {"prompt", "reminder", "escalation", "confirmation", "summary", "alert_follow_up",
            "digest"} <= kinds  # fmt: skip


def test_every_email_has_no_serious_accessibility_failures_and_fits_a_phone(checked):
    results, _ = checked
    for name, by_width in results.items():
        if name.startswith("email:"):
            for width, result in by_width.items():
                assert serious(result) == [], (name, width)
            assert by_width[PHONE]["scroll_width"] <= PHONE, (name, by_width[PHONE]["wide"])


def test_the_sample_pack_prints_on_at_most_25_a4_pages_with_the_front_on_2(checked):
    results, directory = checked
    assert results["sample"]["print"]["clipped"] == []
    assert pdf_pages(directory / "sample.pdf") <= 25
    assert pdf_pages(directory / "front.pdf") <= 2


class Tables(HTMLParser):
    """Each table's attributes and the scope of every header cell directly in it."""

    def __init__(self) -> None:
        super().__init__()
        self.stack: list[dict] = []
        self.tables: list[dict] = []

    def handle_starttag(self, tag, attrs):
        if tag == "table":
            self.stack.append({"attrs": dict(attrs), "scopes": []})
            self.tables.append(self.stack[-1])
        elif tag == "th" and self.stack:
            self.stack[-1]["scopes"].append(dict(attrs).get("scope"))

    def handle_endtag(self, tag):
        if tag == "table" and self.stack:
            self.stack.pop()


def test_every_email_table_header_says_what_it_heads(checked):
    results, directory = checked
    for name in (n for n in results if n.startswith("email:")):
        parser = Tables()
        parser.feed((directory / f"{name.split(':')[1]}.html").read_text(encoding="utf-8"))
        assert all(None not in t["scopes"] for t in parser.tables), name


def test_the_digest_email_has_real_data_tables_with_headers(checked):
    _, directory = checked
    parser = Tables()
    parser.feed((directory / "digest.html").read_text(encoding="utf-8"))
    data = [t for t in parser.tables if t["scopes"]]
    assert data, "the outcome areas are a data table"
    for table in data:
        assert table["attrs"].get("role") != "presentation"
        assert None not in table["scopes"]
    layout = [t for t in parser.tables if not t["scopes"]]
    assert all(t["attrs"].get("role") == "presentation" for t in layout)
