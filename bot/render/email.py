"""The digest as an email: plain text plus HTML with inline PNG sparklines, built with the stdlib.

Only the exceptions shown get a chart (a small sparkline each), so the email stays small; the
full pack has every chart. The HTML is written for Outlook: tables, inline styles, no SVG, no
scripts. Images are referenced as ``cid:<content id>`` (no angle brackets in the HTML) and sent
``Content-Disposition: inline`` so that clients do not list them as attachments too
(reference/email.md §4.1 and §6.5).

    multipart/alternative
      text/plain
      multipart/related
        text/html
        image/png (one per sparkline)

With ``pack=`` the whole is wrapped in multipart/mixed with the pack as an HTML attachment;
a pack over ``PACK_ZIP_ABOVE`` bytes (thousands of measures) goes zipped instead, so that the
email stays well under what mail servers accept (the pack's HTML compresses about 13 times).

>>> from tests.digest_fixtures import small_digest
>>> text, html, images = email_parts(small_digest())
>>> all(f"cid:{cid}" in html for cid in images), "<svg" in html
(True, False)
"""

from __future__ import annotations

import io
import re
import zipfile
from collections import Counter
from collections.abc import Sequence
from datetime import datetime
from email.header import Header
from email.message import Message
from email.mime.application import MIMEApplication
from email.mime.image import MIMEImage
from email.mime.multipart import MIMEMultipart
from email.mime.text import MIMEText
from email.utils import format_datetime, formataddr, make_msgid
from typing import Any

import jinja2

from bot.charts import sparkline_png
from bot.digest_model import EXCEPTION_REASONS, Digest
from bot.mail.compose import mark_automatic
from bot.render import chart_text, environment, front
from bot.render.icons import icon, icon_png

TOP_EXCEPTIONS = 20  # performance exceptions in the email, each with a sparkline; the rest: pack
# The plain text keeps what a leader must act on within its first 40 lines: at 4 lines an
# exception, 8 of them, then the line of figures not yet in.
TOP_TEXT = 8
TOP_LIST = 10  # improvements, breaches and gaps listed before "and N more"
CONTENT_ID_DOMAIN = "pmbot.local"
PACK_ZIP_ABOVE = 4_000_000  # bytes of HTML; about 700 measures


def email_parts(
    digest: Digest,
    *,
    pack_url: str | None = None,
    top: int = TOP_EXCEPTIONS,
    domain: str = CONTENT_ID_DOMAIN,
    attached: bool = True,
    pack_zipped: bool = False,
    env: jinja2.Environment | None = None,
) -> tuple[str, str, dict[str, bytes]]:
    """``(plain text, html, {content_id: png})``; each content id is used as ``cid:`` in the html.

    The performance exceptions come first, each with a sparkline; figures not yet in are one
    line. ``attached`` says whether the pack goes with the message (the text says so only then),
    ``pack_zipped`` whether it goes zipped.

    Content ids are ``spark<n>.<cycle>@<domain>``, without angle brackets: add them in the
    ``Content-ID`` header (``digest_message`` does). `env` is the bot's template environment
    (bot.templates); without it, the default templates.
    """
    env = env or environment()
    exceptions = digest.exceptions
    first = front(digest)
    images: dict[str, bytes] = {}
    shown = []
    for number, measure in enumerate(first.performance[:top], start=1):
        cid = None
        if len(measure.series):
            cid = f"spark{number}.{_atom(digest.cycle)}@{domain}"
            images[cid] = sparkline_png(measure.series, measure.target)
        yoy = next((y for y in measure.year_on_year if y.years_ago == 1 and y.change is not None),
                   None)  # fmt: skip
        shown.append((measure, cid, yoy, chart_text(measure, env)))
    # The MDC icons as PNGs, one image per icon used (clients show no SVG), keyed by code.
    icons: dict[str, str] = {}
    for measure, _, _, _ in shown:
        for kind, code in (("variation", measure.variation), ("assurance", measure.assurance)):
            drawn = icon(kind, code)
            if drawn is not None and code not in icons:
                icons[code] = f"icon-{code.replace('_', '-')}.{_atom(digest.cycle)}@{domain}"
                images[icons[code]] = icon_png(drawn)
    context = {
        "d": digest,
        "front": first,
        "exceptions": len(exceptions),
        "reasons": _reasons(exceptions),
        "shown": shown,
        "icons": icons,
        "more": len(first.performance) - len(shown),
        "pack_url": _safe_url(pack_url),
        "attached": attached,
        "pack_zipped": pack_zipped,
        **_listing("improvements", first.improvements),
        **_listing("breaches", first.breaches),
        **_listing("waiting", first.waiting),
        **_listing("unavailable", [m for m in digest.gaps if m.status == "not_available"]),
    }
    text_shown = shown[:TOP_TEXT]
    text = env.get_template("digest/email.txt").render(
        context, shown=text_shown, more=len(first.performance) - len(text_shown)
    )
    html = env.get_template("digest/email.html").render(context)
    return text, html, images


def digest_message(
    digest: Digest,
    mail_from: str,
    to: str | Sequence[str],
    now: datetime,
    domain: str,
    *,
    pack: str | None = None,
    pack_url: str | None = None,
    env: jinja2.Environment | None = None,
) -> Message:
    """The digest email, ready for any mail backend's ``send``.

    ``to`` is one address or a list; ``domain`` goes into the Message-ID and content ids;
    ``pack`` (the HTML of ``render_pack``) is attached when given.
    """
    env = env or environment()
    packed = pack.encode("utf-8") if pack is not None else b""
    zipped = len(packed) > PACK_ZIP_ABOVE
    text, html, images = email_parts(digest, pack_url=pack_url, domain=domain,
                                     attached=pack is not None, pack_zipped=zipped,
                                     env=env)  # fmt: skip
    related = MIMEMultipart("related")
    related.attach(MIMEText(html, "html", "utf-8"))
    for cid, png in images.items():
        image = MIMEImage(png, "png")
        image.add_header("Content-ID", f"<{cid}>")
        # Without "inline" clients show each chart again as an attachment (email.md §4.1).
        image.add_header("Content-Disposition", "inline", filename=f"{cid.split('@')[0]}.png")
        related.attach(image)
    body = MIMEMultipart("alternative")
    body.attach(MIMEText(text, "plain", "utf-8"))
    body.attach(related)

    message: Message = body
    if pack is not None:
        message = MIMEMultipart("mixed")
        message.attach(body)
        name = f"performance-pack-{digest.cycle}.html"
        if zipped:
            attachment = MIMEApplication(_zip(name, packed), "zip")
            attachment.add_header("Content-Disposition", "attachment", filename=f"{name[:-5]}.zip")
        else:
            attachment = MIMEText(pack, "html", "utf-8")
            attachment.add_header("Content-Disposition", "attachment", filename=name)
        message.attach(attachment)

    subject = (
        env.get_template("digest/email_subject.txt")
        .render(d=digest, exceptions=len(digest.exceptions))
        .strip()
    )
    message["From"] = formataddr(("pmbot", mail_from))
    message["To"] = to if isinstance(to, str) else ", ".join(to)
    message["Subject"] = subject if subject.isascii() else Header(subject, "utf-8")
    message["Date"] = format_datetime(now)
    message["Message-ID"] = make_msgid(idstring="digest", domain=domain)
    mark_automatic(message, "digest")
    return message


def _zip(name: str, content: bytes) -> bytes:
    """A zip archive holding one file (Windows and macOS open it without extra software)."""
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED, compresslevel=6) as archive:
        archive.writestr(name, content)
    return buffer.getvalue()


def _reasons(exceptions: list) -> list[tuple[str, int]]:
    counts = Counter(m.exception_reasons[0] for m in exceptions)
    return [(reason, counts[reason]) for reason in EXCEPTION_REASONS if counts[reason]]


def _listing(name: str, measures: list) -> dict[str, Any]:
    return {name: measures[:TOP_LIST], f"more_{name}": max(len(measures) - TOP_LIST, 0)}


def _atom(text: str) -> str:
    """Text usable inside a content id (RFC 5322 dot-atom): ``_atom("2026 Q3") == "2026-Q3"``."""
    return re.sub(r"[^A-Za-z0-9.-]+", "-", text).strip(".-") or "x"


def _safe_url(url: str | None) -> str | None:
    """Only a web address becomes a link; anything else (``javascript:``…) is dropped."""
    url = (url or "").strip()
    return url if url.startswith(("https://", "http://")) else None
