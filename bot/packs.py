"""The full pack served by pmbot itself, for chats that cannot carry the file (a Teams channel).

With PMBOT_PUBLIC_URL set, each digest posted to a chat writes its pack into the packs folder
beside the database and links to ``<PMBOT_PUBLIC_URL>/packs/<cycle>/<token>``. The token is an
HMAC-SHA256, keyed with the chat's own secret, over the file name and the last day the link
works: nothing to store, nothing to guess, and a link stops working 90 days on.
"""

from __future__ import annotations

import hashlib
import hmac
import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from pathlib import Path

from bot.files import write_atomically
from bot.settings import ConfigError, Settings
from bot.web import Answer

PREFIX = "/packs/"
LIFETIME = timedelta(days=90)
CYCLE = re.compile(r"[0-9A-Za-z-]{1,40}")
TOKEN = re.compile(r"(\d{8})-([0-9a-f]{64})")
HEADERS = {
    "Content-Type": "text/html; charset=utf-8",
    "Cache-Control": "private, no-store",
    "X-Content-Type-Options": "nosniff",
    "Referrer-Policy": "no-referrer",
}
NOT_FOUND = Answer(404, "not found", {"Content-Type": "text/plain; charset=utf-8"})


def file_name(cycle: str) -> str:
    return f"performance-pack-{cycle}.html"


def sign(secret: str, name: str, expires: date) -> str:
    message = f"{name}|{expires:%Y%m%d}".encode()
    digest = hmac.new(secret.encode(), message, hashlib.sha256).hexdigest()
    return f"{expires:%Y%m%d}-{digest}"


@dataclass(frozen=True)
class Packs:
    """Where packs are written, the public base URL and the key that signs their links."""

    directory: Path
    public_url: str
    secret: str
    clock: Callable[[], datetime]

    def publish(self, cycle: str, html: str) -> str:
        """Write the pack and return the link to it."""
        if not CYCLE.fullmatch(cycle):
            raise ValueError(f"not a cycle for a pack link: {cycle!r}")
        name = file_name(cycle)
        self.directory.mkdir(parents=True, exist_ok=True)
        write_atomically(self.directory / name, html)
        expires = self.clock().date() + LIFETIME
        return f"{self.public_url.rstrip('/')}{PREFIX}{cycle}/{sign(self.secret, name, expires)}"

    def answer(self, path: str, headers: Mapping[str, str] | None = None) -> Answer:
        """GET /packs/<cycle>/<token>: the pack, or 404 with no detail for anything else."""
        cycle, _, token = path.removeprefix(PREFIX).partition("/")
        match = TOKEN.fullmatch(token)
        if not path.startswith(PREFIX) or not CYCLE.fullmatch(cycle) or match is None:
            return NOT_FOUND
        name = file_name(cycle)
        try:
            expires = datetime.strptime(match[1], "%Y%m%d").date()
        except ValueError:
            return NOT_FOUND
        if not hmac.compare_digest(sign(self.secret, name, expires), token):
            return NOT_FOUND
        if self.clock().date() > expires:
            return NOT_FOUND
        try:
            body = (self.directory / name).read_bytes()
        except OSError:
            return NOT_FOUND
        return Answer(200, body, HEADERS)


def configured(settings: Settings, clock: Callable[[], datetime]) -> Packs | None:
    """The packs, when PMBOT_PUBLIC_URL is set; None (no links, no route) when it is not."""
    if not settings.public_url:
        return None
    secret = settings.extra.get("PMBOT_TEAMS_APP_SECRET", "") or settings.slack_signing_secret
    if not secret.strip():
        raise ConfigError(
            "PMBOT_PUBLIC_URL is set but there is no secret to sign pack links with; set "
            "PMBOT_TEAMS_APP_SECRET or SLACK_SIGNING_SECRET, or unset PMBOT_PUBLIC_URL"
        )
    return Packs(settings.db_path.parent / "packs", settings.public_url, secret.strip(), clock)
