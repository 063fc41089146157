"""Shared fixtures: a real SQLite file and Maildir under pytest's tmp_path, a movable clock."""

from __future__ import annotations

import shutil
from dataclasses import dataclass, replace
from datetime import datetime, timedelta
from email.message import EmailMessage
from email.utils import make_msgid
from pathlib import Path

import pytest

from bot.app import Bot, create_app
from bot.periods import LONDON
from bot.settings import PROJECT_ROOT, Settings

DATA = PROJECT_ROOT / "data"


def templates_with(directory: Path, edits: dict[str, tuple[str, str]]) -> Path:
    """A copy of templates/ in `directory` with `edits` made: {file: (old words, new words)}
    (each old must be there, so that a test cannot pass by editing nothing)."""
    copy = directory / "templates"
    shutil.copytree(PROJECT_ROOT / "templates", copy)
    for name, (old, new) in edits.items():
        text = (copy / name).read_text(encoding="utf-8")
        assert old in text, f"{old!r} is not in {name}"
        (copy / name).write_text(text.replace(old, new), encoding="utf-8")
    return copy


@dataclass
class Clock:
    """A clock the test moves by hand; nothing ever sleeps."""

    now: datetime

    def __call__(self) -> datetime:
        return self.now

    def set(self, text: str) -> datetime:
        self.now = datetime.fromisoformat(text).replace(tzinfo=LONDON)
        return self.now

    def advance(self, **kwargs) -> datetime:
        self.now += timedelta(**kwargs)
        return self.now


@pytest.fixture
def clock() -> Clock:
    return Clock(datetime(2026, 11, 2, 9, 0, tzinfo=LONDON))


@pytest.fixture
def settings(tmp_path: Path) -> Settings:
    return replace(
        Settings.from_env({}),
        db_path=tmp_path / "pmbot.db",
        maildir=tmp_path / "mail",
        mail_from="pmbot@agency.example",
        coordinators=("coord@agency.example",),
    )


@pytest.fixture
def bot(settings: Settings, clock: Clock) -> Bot:
    bot = create_app(settings, clock=clock)
    yield bot
    bot.close()


REGISTER = """
measures:
  - id: OD-01
    name: Average processing time, days
    area: Operational delivery
    unit: days
    better: down
    target: 50
    amber_tolerance: 0
    red_tolerance: 10%
    owner_email: owner@agency.example
    deputy_email: deputy@agency.example
  - id: OD-02
    name: Applications processed within 10 days, %
    area: Operational delivery
    unit: "%"
    better: up
    target: 90
    amber_tolerance: 0
    red_tolerance: 5
    owner_email: owner@agency.example
  - id: RSK-01
    name: Strategic risks outside appetite
    area: Risk
    unit: count
    better: down
    target: 2
    red_tolerance: 1
    frequency: quarterly
    owner_email: risk@agency.example
people:
  - email: owner@agency.example
    name: Olive Owner
    roles: [owner]
  - email: coord@agency.example
    name: Cora Coordinator
    roles: [coordinator]
"""


@pytest.fixture
def register_file(tmp_path: Path) -> Path:
    path = tmp_path / "measures.yaml"
    path.write_text(REGISTER)
    return path


@pytest.fixture
def loaded(bot: Bot, register_file: Path, clock: Clock) -> Bot:
    """A bot with the small test register imported."""
    bot.service.import_register(register_file, clock())
    return bot


def reply(
    to: EmailMessage | None,
    sender: str,
    body: str,
    *,
    subject: str | None = None,
    html: str | None = None,
    headers: dict[str, str] | None = None,
) -> EmailMessage:
    """An owner's reply to a prompt, as their mail client would send it."""
    message = EmailMessage()
    message["From"] = sender
    message["To"] = "pmbot@agency.example"
    message["Subject"] = subject or f"RE: {to['Subject'] if to else 'figures'}"
    message["Message-ID"] = make_msgid(domain="client.example")
    if to is not None:
        message["In-Reply-To"] = to["Message-ID"]
        message["References"] = to["Message-ID"]
    for name, value in (headers or {}).items():
        message[name] = value
    message.set_content(body)
    if html:
        message.add_alternative(html, subtype="html")
    return message
