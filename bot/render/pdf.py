"""The pack as an A4 PDF, printed by headless Chromium (Debian's ``chromium`` package).

Chromium lays the pack out with its own print stylesheet (A4, each outcome area from a new
page, no card split), exactly as a person's browser prints it, so the PDF and paper agree.
WeasyPrint was the other candidate: a pure-Python dependency, but it implements less CSS (no
grid in older releases) and would need its own checks; the browser already checks the pack.

``print_pdf(html, pdf)`` raises ``PdfUnavailable`` with a one-line reason when there is no
Chromium or it fails; nothing is left half-written (the PDF is written beside, then renamed).
"""

from __future__ import annotations

import os
import shutil
import subprocess
import tempfile
from pathlib import Path

BROWSERS = ("chromium", "chromium-browser", "google-chrome")
FLAGS = (
    "--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
    "--disable-component-update", "--disable-sync", "--no-first-run", "--no-pdf-header-footer",
)  # fmt: skip
TIMEOUT = 300  # seconds: a pack of 8,000 measures is a long document


class PdfUnavailable(RuntimeError):
    """The PDF could not be made; the message says why and what to do."""


def find_browser() -> str | None:
    """The Chromium to print with: ``$PMBOT_CHROMIUM``, else the first on PATH."""
    chosen = os.environ.get("PMBOT_CHROMIUM", "").strip()
    if chosen:
        return chosen if Path(chosen).exists() else None
    return next((path for name in BROWSERS if (path := shutil.which(name))), None)


def print_pdf(html: Path, pdf: Path, browser: str | None = None) -> Path:
    """Print ``html`` to ``pdf`` (A4, from the pack's print stylesheet); returns ``pdf``."""
    browser = browser or find_browser()
    if not browser:
        raise PdfUnavailable(
            "no Chromium to print the PDF with; install it (apt-get install chromium) "
            "or set PMBOT_CHROMIUM to its path"
        )
    partial = pdf.with_name(pdf.name + ".partial")
    with tempfile.TemporaryDirectory(prefix="pmbot-chromium-") as profile:
        command = [browser, *FLAGS, f"--user-data-dir={profile}",
                   f"--print-to-pdf={partial}", html.resolve().as_uri()]  # fmt: skip
        try:
            subprocess.run(command, capture_output=True, timeout=TIMEOUT, check=False)
        except (OSError, subprocess.TimeoutExpired) as exc:
            partial.unlink(missing_ok=True)
            raise PdfUnavailable(f"Chromium could not print {html.name}: {exc}") from None
    if not partial.exists() or not partial.read_bytes().startswith(b"%PDF"):
        partial.unlink(missing_ok=True)
        raise PdfUnavailable(f"Chromium printed no PDF of {html.name}; run it by hand to see why")
    partial.replace(pdf)
    return pdf
