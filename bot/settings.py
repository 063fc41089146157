"""Configuration from environment variables (12-factor), optionally from a `.env` file.

Every setting has a default that works offline, so `pmbot demo` needs nothing configured.

>>> Settings.from_env({"PMBOT_COORDINATORS": "A@x.example, b@x.example"}).coordinators
('a@x.example', 'b@x.example')
"""

from __future__ import annotations

import os
import re
from collections.abc import Mapping
from dataclasses import dataclass, field, replace
from datetime import time
from pathlib import Path

from bot.periods import CalendarSettings
from bot.spans import YEAR_START, YEAR_STARTS

PROJECT_ROOT = Path(__file__).resolve().parent.parent
MAIL_BACKENDS = ("maildir", "ews", "graph", "imap")
SPC_RULES = ("ptd", "mdc2023")  # as bot.spc_engine.RULE_SETS
# Which figures need a word from the owner: any exception reason, or only a red colour.
COMMENTARY_REQUIRED = ("exception", "red")


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
    organisation: str = ""  # named in the digest's and the pack's masthead
    slack_bot_token: str = field(default="", repr=False)
    slack_signing_secret: str = field(default="", repr=False)
    slack_app_token: str = field(default="", repr=False)
    slack_api_url: str = "https://slack.com/api/"
    host: str = "0.0.0.0"  # behind a reverse proxy on the same machine: 127.0.0.1
    port: int = 3000
    poll_seconds: int = 60
    templates_dir: Path = PROJECT_ROOT / "templates"
    calendar: CalendarSettings = CalendarSettings()
    spc_rules: str = "ptd"
    commentary_required: str = "exception"
    year_start: int = YEAR_START  # the financial year's first month
    area_scorecards: bool = False  # on digest day, each area's lead gets their area's scorecard
    operator: str = ""  # who types CLI commands (PMBOT_OPERATOR), recorded with what they do
    public_url: str = ""  # where `pmbot serve` is reachable (PMBOT_PUBLIC_URL): chats link the pack
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
        poll = get("PMBOT_POLL_SECONDS", "60")
        if not poll.isdigit() or int(poll) < 1:
            raise ConfigError(f"PMBOT_POLL_SECONDS={poll!r} must be a whole number of seconds")
        choices = {"PMBOT_SPC_RULES": SPC_RULES, "PMBOT_COMMENTARY_REQUIRED": COMMENTARY_REQUIRED}
        chosen = {}
        for name, allowed in choices.items():
            chosen[name] = get(name, allowed[0]).lower()
            if chosen[name] not in allowed:
                raise ConfigError(
                    f"{name}={chosen[name]!r} is not allowed; use {' or '.join(allowed)}"
                )
        return cls(
            spc_rules=chosen["PMBOT_SPC_RULES"],
            commentary_required=chosen["PMBOT_COMMENTARY_REQUIRED"],
            db_path=Path(get("PMBOT_DB", "data/pmbot.db")),
            mail_backend=backend,
            maildir=Path(get("PMBOT_MAILDIR", "data/mail")),
            mail_from=get("PMBOT_MAIL_FROM", "pmbot@localhost").lower(),
            coordinators=split_emails(get("PMBOT_COORDINATORS")),
            leadership_channel=get("PMBOT_LEADERSHIP_CHANNEL"),
            leadership_emails=split_emails(get("PMBOT_LEADERSHIP_EMAILS")),
            organisation=" ".join(get("PMBOT_ORGANISATION").split()),
            slack_bot_token=get("SLACK_BOT_TOKEN"),
            slack_signing_secret=get("SLACK_SIGNING_SECRET"),
            slack_app_token=get("SLACK_APP_TOKEN"),
            slack_api_url=get("SLACK_API_URL", "https://slack.com/api/"),
            host=get("PMBOT_HOST", "0.0.0.0"),
            port=int(port),
            poll_seconds=int(poll),
            calendar=calendar_settings(get),
            year_start=year_start(get("PMBOT_YEAR_START", str(YEAR_START))),
            area_scorecards=switch("PMBOT_AREA_SCORECARDS", get("PMBOT_AREA_SCORECARDS", "no")),
            operator=get("PMBOT_OPERATOR").lower(),
            public_url=public_url(get("PMBOT_PUBLIC_URL")),
            extra={k: v for k, v in values.items() if k.startswith("PMBOT_")},
        )

    def with_db(self, path: Path | str | None) -> Settings:
        return self if path is None else replace(self, db_path=Path(path))

    @property
    def mail_domain(self) -> str:
        return self.mail_from.rpartition("@")[2] or "localhost"


def calendar_settings(get) -> CalendarSettings:
    """The reporting calendar from PMBOT_PROMPT_DAY, PMBOT_DUE_DAY, PMBOT_REMINDER_DAYS,
    PMBOT_ESCALATION_DAYS, PMBOT_SIGNOFF_DAY, PMBOT_DIGEST_DAY and PMBOT_QUIET_HOURS."""
    default = CalendarSettings()

    def days(name: str, fallback: int) -> int:
        raw = get(name, str(fallback))
        if not raw.isdigit():
            raise ConfigError(f"{name}={raw!r} must be a whole number of working days")
        return int(raw)

    reminders = get("PMBOT_REMINDER_DAYS", ",".join(map(str, default.reminder_days_before_due)))
    if not all(part.strip().isdigit() for part in reminders.split(",")):
        raise ConfigError(
            f"PMBOT_REMINDER_DAYS={reminders!r} must list working days before the due day, "
            "e.g. 2,0"
        )
    quiet = get("PMBOT_QUIET_HOURS", "18:00-08:00")
    try:
        start, end = (time.fromisoformat(part.strip()) for part in quiet.split("-"))
    except ValueError as exc:
        raise ConfigError(f"PMBOT_QUIET_HOURS={quiet!r} must look like 18:00-08:00") from exc
    values = {
        "prompt_day": days("PMBOT_PROMPT_DAY", default.prompt_day),
        "due_day": days("PMBOT_DUE_DAY", default.due_day),
        "escalation_days_after_due": days(
            "PMBOT_ESCALATION_DAYS", default.escalation_days_after_due
        ),
        "signoff_day": days("PMBOT_SIGNOFF_DAY", default.signoff_day),
        "digest_day": days("PMBOT_DIGEST_DAY", default.digest_day),
    }
    try:
        return CalendarSettings(
            **values,
            reminder_days_before_due=tuple(int(p) for p in reminders.split(",")),
            quiet_start=start,
            quiet_end=end,
        )
    except ValueError as exc:
        raise ConfigError(f"the reporting calendar does not work: {exc}") from exc


def switch(name: str, raw: str) -> bool:
    """A yes/no setting: yes, true, on, 1 or no, false, off, 0 (any case)."""
    value = raw.strip().lower()
    if value in {"yes", "true", "on", "1"}:
        return True
    if value in {"no", "false", "off", "0", ""}:
        return False
    raise ConfigError(f"{name}={raw!r} must be yes or no")


def year_start(raw: str) -> int:
    """PMBOT_YEAR_START: the month the financial year starts (1, 4, 7 or 10; default 4)."""
    if raw.strip() not in {str(m) for m in YEAR_STARTS}:
        raise ConfigError(
            f"PMBOT_YEAR_START={raw!r} must be the month the financial year starts: 1, 4, 7 or "
            "10 (a calendar quarter, so quarterly figures fit its quarters); UK public bodies use 4"
        )
    return int(raw)


def public_url(raw: str) -> str:
    """PMBOT_PUBLIC_URL: the base URL at which `pmbot serve` is reachable; empty = no links."""
    if raw and not re.fullmatch(r"https?://[^\s/?#]+(/[^\s?#]*)?", raw):
        raise ConfigError(
            f"PMBOT_PUBLIC_URL={raw!r} must be the https address of `pmbot serve`, "
            "like https://pmbot.example.org"
        )
    return raw.rstrip("/")


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
