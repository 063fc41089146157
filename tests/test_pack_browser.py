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
