"""Configuration from environment variables (12-factor), optionally from a `.env` file.

Every setting has a default that works offline, so `pmbot demo` needs nothing configured.

>>> Settings.from_env({"PMBOT_COORDINATORS": "A@x.example, b@x.example"}).coordinators
('a@x.example', 'b@x.example')
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass, field, replace
from pathlib import Path

from bot.periods import CalendarSettings

PROJECT_ROOT = Path(__file__).resolve().parent.parent
MAIL_BACKENDS = ("maildir", "ews", "graph", "imap")


class ConfigError(ValueError):
    """A setting that cannot work; the message names the variable and what to set."""


@dataclass(frozen=True)
class Settings:
    db_path: Path = Path("data/pmbot.db")
    mail_backend: str = "maildir"
    maildir: Path = Path("data/mail")
    mail_from: str = "pmbot@localhost"
    coordinators: tuple[str, ...] = ()
    leadership_channel: str = ""
    leadership_emails: tuple[str, ...] = ()
    slack_bot_token: str = field(default="", repr=False)
    slack_signing_secret: str = field(default="", repr=False)
    slack_app_token: str = field(default="", repr=False)
    slack_api_url: str = "https://slack.com/api/"
    port: int = 3000
    poll_seconds: int = 60
    templates_dir: Path = PROJECT_ROOT / "templates"
    calendar: CalendarSettings = CalendarSettings()
    extra: Mapping[str, str] = field(default_factory=dict, repr=False)

    @classmethod
    def from_env(cls, env: Mapping[str, str] | None = None, dotenv: Path | None = None) -> Settings:
        """Read settings from `env` (default: os.environ, over the values in `.env`)."""
        values: dict[str, str] = {}
        if env is None:
            values.update(read_dotenv(dotenv or Path(".env")))
            values.update(os.environ)
        else:
            values.update(env)

        def get(name: str, default: str = "") -> str:
            return values.get(name, "").strip() or default

        backend = get("PMBOT_MAIL_BACKEND", "maildir").lower()
        if backend not in MAIL_BACKENDS:
            raise ConfigError(
                f"PMBOT_MAIL_BACKEND={backend!r} is not a mail backend; "
                f"use one of {', '.join(MAIL_BACKENDS)}"
            )
        port = get("PORT", "3000")
        if not port.isdigit():
            raise ConfigError(f"PORT={port!r} is not a port number")
        return cls(
            db_path=Path(get("PMBOT_DB", "data/pmbot.db")),
            mail_backend=backend,
            maildir=Path(get("PMBOT_MAILDIR", "data/mail")),
            mail_from=get("PMBOT_MAIL_FROM", "pmbot@localhost").lower(),
            coordinators=split_emails(get("PMBOT_COORDINATORS")),
            leadership_channel=get("PMBOT_LEADERSHIP_CHANNEL"),
            leadership_emails=split_emails(get("PMBOT_LEADERSHIP_EMAILS")),
            slack_bot_token=get("SLACK_BOT_TOKEN"),
            slack_signing_secret=get("SLACK_SIGNING_SECRET"),
            slack_app_token=get("SLACK_APP_TOKEN"),
            slack_api_url=get("SLACK_API_URL", "https://slack.com/api/"),
            port=int(port),
            poll_seconds=int(get("PMBOT_POLL_SECONDS", "60")),
            extra={k: v for k, v in values.items() if k.startswith("PMBOT_")},
        )

    def with_db(self, path: Path | str | None) -> Settings:
        return self if path is None else replace(self, db_path=Path(path))

    @property
    def mail_domain(self) -> str:
        return self.mail_from.rpartition("@")[2] or "localhost"


def split_emails(raw: str) -> tuple[str, ...]:
    return tuple(e.strip().lower() for e in raw.split(",") if e.strip())


def read_dotenv(path: Path) -> dict[str, str]:
    """KEY=value lines; '#' comments and optional quotes. Missing file: nothing."""
    if not path.is_file():
        return {}
    values = {}
    for line in path.read_text(encoding="utf-8").splitlines():
        line = line.strip()
        if not line or line.startswith("#") or "=" not in line:
            continue
        key, _, value = line.partition("=")
        values[key.removeprefix("export ").strip()] = value.strip().strip("'\"")
    return values
