"""The full pack opened from disk by a real browser (headless Chromium), as a leader would.

Chromium comes from Debian's package (`apt-get install chromium`); CI installs it. The test is
skipped, saying why, only when /usr/bin/chromium is missing.
"""

from __future__ import annotations

import re
import subprocess
from pathlib import Path

import pytest
from digest_fixtures import small_digest

from bot.render.pack import write_pack

CHROMIUM = Path("/usr/bin/chromium")
FLAGS = (
    "--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
    "--disable-background-networking", "--disable-component-update", "--disable-sync",
    "--enable-logging=stderr", "--v=0",
)  # fmt: skip

pytestmark = pytest.mark.skipif(
    not CHROMIUM.exists(), reason="needs Debian's chromium at /usr/bin/chromium"
)


def chromium(tmp_path: Path, *args: str) -> subprocess.CompletedProcess[str]:
    profile = tmp_path / "profile"
    command = [str(CHROMIUM), *FLAGS, f"--user-data-dir={profile}", *args]
    return subprocess.run(command, capture_output=True, text=True, timeout=120, check=False)


def console_errors(stderr: str) -> list[str]:
    """Page errors Chromium logs: script errors, console messages, refused loads."""
    return [
        line for line in stderr.splitlines()
        if "CONSOLE" in line or "Uncaught" in line or "net::ERR_" in line
    ]  # fmt: skip


@pytest.fixture(scope="module")
def digest():
    return small_digest()


def test_browser_renders_the_pack_from_disk_with_every_measure(digest, tmp_path):
    pack = write_pack(digest, tmp_path)
    result = chromium(tmp_path, "--dump-dom", pack.as_uri())
    assert result.returncode == 0, result.stderr[-2000:]
    dom = result.stdout
    assert "<title>Performance pack: October 2026</title>" in dom
    articles = re.findall(r'<article class="measure[^"]*" id="[^"]+">', dom)
    assert len(articles) == len(digest.measures)
    for m in digest.measures:
        assert f'<span class="id">{m.id}</span>' in dom
    assert dom.count("<svg") - dom.count("<svg class=\"icon\"") == len(digest.measures)
    assert "<script" not in dom  # the hostile commentary stayed text
    assert console_errors(result.stderr) == []


def test_browser_screenshot_of_the_pack_is_written(digest, tmp_path):
    pack = write_pack(digest, tmp_path)
    shot = tmp_path / "pack.png"
    result = chromium(tmp_path, "--window-size=1200,2400", f"--screenshot={shot}", pack.as_uri())
    assert result.returncode == 0, result.stderr[-2000:]
    png = shot.read_bytes()
    assert png[:8] == b"\x89PNG\r\n\x1a\n" and len(png) > 50_000  # a page, not a blank
    assert console_errors(result.stderr) == []


@pytest.fixture
def sample_db(tmp_path, monkeypatch):
    from bot.cli import main
    from bot.settings import PROJECT_ROOT

    monkeypatch.delenv("PMBOT_CHROMIUM", raising=False)
    db = str(tmp_path / "pmbot.db")
    now = ["--now", "2026-10-20T09:00"]
    assert main(["--db", db, *now, "measures", "import",
                 str(PROJECT_ROOT / "data" / "measures.yaml")]) == 0  # fmt: skip
    assert main(["--db", db, *now, "history", "import",
                 str(PROJECT_ROOT / "data" / "history.csv")]) == 0  # fmt: skip
    return db


def test_digest_pdf_is_the_pack_printed_on_a4(sample_db, tmp_path, capsys):
    from bot.cli import main

    out = tmp_path / "digest"
    assert main(["--db", sample_db, "--now", "2026-10-20T09:00", "digest", "2026-09",
                 "--out", str(out), "--pdf"]) == 0  # fmt: skip
    pdf = (out / "performance-pack-2026-09.pdf").read_bytes()
    assert pdf.startswith(b"%PDF")
    pages = re.findall(rb"/MediaBox\s*\[0 0 ([\d.]+) ([\d.]+)\]", pdf)
    assert 10 <= len(pages) <= 25
    assert all(abs(float(w) - 595.3) < 1 and abs(float(h) - 841.9) < 1 for w, h in pages)  # A4
    assert "performance-pack-2026-09.pdf" in capsys.readouterr().out
    assert not list(out.glob("*.partial"))


def test_digest_pdf_without_chromium_says_so_in_one_line(sample_db, tmp_path, monkeypatch, capsys):
    from bot.cli import main

    monkeypatch.setenv("PMBOT_CHROMIUM", str(tmp_path / "no-such-browser"))
    out = tmp_path / "digest"
    code = main(["--db", sample_db, "--now", "2026-10-20T09:00", "digest", "2026-09",
                 "--out", str(out), "--pdf"])  # fmt: skip
    err = capsys.readouterr().err
    assert code == 1 and len(err.strip().splitlines()) == 1
    assert "not its PDF" in err and "PMBOT_CHROMIUM" in err
    assert (out / "performance-pack-2026-09.html").exists()
    assert not list(out.glob("*.pdf*"))


def test_digest_out_attaches_the_pack_its_email_says_is_attached(sample_db, tmp_path):
    import email

    from bot.cli import main

    out = tmp_path / "digest"
    assert main(["--db", sample_db, "--now", "2026-10-20T09:00", "digest", "2026-09",
                 "--out", str(out)]) == 0  # fmt: skip
    message = email.message_from_bytes((out / "digest-2026-09.eml").read_bytes())
    text = next(p for p in message.walk() if p.get_content_type() == "text/plain")
    assert "is attached" in text.get_payload(decode=True).decode("utf-8")
    attached = [p.get_filename() for p in message.walk() if p.get_filename()]
    assert "performance-pack-2026-09.html" in attached
