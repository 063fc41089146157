"""The end-to-end email scenario every mail backend must pass, written once.

Each backend's test file keeps its own way of delivering a reply (a Maildir file, an IMAP
APPEND, a fake Exchange or Graph inbox) and of collecting what the bot sent; this module holds
the mail itself and the checks of what an owner would notice:

- a prompt goes out, one per owner and cycle;
- a reply with one good line, one bad line and the quoted original stores the good value, says
  which line failed, and is answered in the same thread;
- an out-of-office is recorded, ignored and never answered;
- the same message delivered twice is stored once;
- processed mail is moved out of the inbox, not deleted.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Iterator
from contextlib import contextmanager
from email.message import EmailMessage
from pathlib import Path
from typing import Any, TypeVar

from bot.app import Bot
from bot.periods import parse_period
from tests.conftest import Clock, reply

OCTOBER = parse_period("2026-10")
OWNER_ADDRESS = "owner@agency.example"
OWNER = f"Olive Owner <{OWNER_ADDRESS}>"

FIGURES = "OD-01: 48"
"""A reply's one good line, alone: the value every 'stored once' and 'moved' test sends."""

BAD_LINE_REPLY = (
    "OD-01: 48 backlog down after recruitment\n"
    "OD-02: 140%\n\n"
    "Thanks\n\n"
    "From: pmbot <pmbot@agency.example>\nSent: 02 November 2026 09:00\n"
    "To: Olive Owner\nSubject: Performance figures\n\nOD-01: 12\nOD-02: \n"
)
"""One good line with commentary, one percentage above 100%, then Outlook's quoted original
(whose 'OD-01: 12' and blank 'OD-02: ' must not be read as answers)."""

OUT_OF_OFFICE = "I am out of the office until Monday.\nOD-01: 99"

Sent = Callable[[], Iterable[EmailMessage]]
"""What the bot has sent so far, as the backend's outbox or server saw it."""

T = TypeVar("T")


# ------------------------------------------------------------------------------- builders


@contextmanager
def running(bot: Bot, register_file: Path, clock: Clock) -> Iterator[Bot]:
    """The bot with the small test register imported, closed afterwards."""
    bot.service.import_register(register_file, clock())
    try:
        yield bot
    finally:
        bot.close()


def prompt_the_owner(bot: Bot, sent: Sent) -> EmailMessage:
    """Send October 2026's prompts; return the one prompt, which goes to the owner."""
    bot.send_prompts(OCTOBER)
    [prompt] = sent()
    assert prompt["To"].addresses[0].addr_spec == OWNER_ADDRESS
    return prompt


def figures_reply(prompt: EmailMessage | None, body: str = FIGURES) -> EmailMessage:
    """The owner's reply to the prompt, as their mail client would send it."""
    return reply(prompt, OWNER, body)


def bad_line_reply(prompt: EmailMessage) -> EmailMessage:
    return figures_reply(prompt, BAD_LINE_REPLY)


def out_of_office(prompt: EmailMessage) -> EmailMessage:
    """The owner's automatic reply: marked Auto-Submitted, and it contains a figure."""
    return reply(
        prompt,
        OWNER,
        OUT_OF_OFFICE,
        subject=f"Automatic reply: {prompt['Subject']}",
        headers={"Auto-Submitted": "auto-replied"},
    )


def confirmations(sent: Iterable[EmailMessage]) -> list[EmailMessage]:
    return [m for m in sent if m["X-PMBot"] == "confirmation"]


def measure_rows(bot: Bot) -> dict[str, dict[str, Any]]:
    """October's status, as the coordinator sees it, by measure id."""
    return {r["id"]: r for r in bot.service.status(OCTOBER, bot.clock()).measures}


def outcomes(bot: Bot) -> list[str]:
    """Poll once; what happened to each message read."""
    return [r.outcome for r in bot.poll_mail().results]


# ------------------------------------------------------------------------------- checks


def check_threaded(prompt: EmailMessage, message: EmailMessage, confirmation: EmailMessage):
    """The confirmation sits under the reply in the owner's mail client."""
    assert confirmation["In-Reply-To"] == message["Message-ID"]
    assert confirmation["References"].split() == [prompt["Message-ID"], message["Message-ID"]]
    assert confirmation["Subject"] == message["Subject"], "no second 'Re:'"


def check_bad_line_reply(
    bot: Bot, prompt: EmailMessage, message: EmailMessage, confirmation: EmailMessage
) -> None:
    """After `bad_line_reply` was polled: the good value is stored, the bad line is named."""
    rows = measure_rows(bot)
    assert rows["OD-01"]["value"] == 48
    assert rows["OD-01"]["commentary"] == "backlog down after recruitment"
    assert rows["OD-01"]["revisions"] == 1, "the quoted 'OD-01: 12' must not be read"
    assert rows["OD-02"]["status"] == "outstanding", "the quoted 'OD-02: ' is not an answer"
    text = confirmation.get_body(("plain",)).get_content()
    assert "OD-01 2026-10: 48 days (green)" in text
    assert "'140%' is above 100% for OD-02" in text
    assert confirmation["To"] == OWNER_ADDRESS
    assert confirmation["Auto-Submitted"] == "auto-replied"
    check_threaded(prompt, message, confirmation)


def check_out_of_office_ignored(bot: Bot, sent: Sent) -> None:
    """Poll after `out_of_office` was delivered: recorded, ignored, never answered."""
    [result] = bot.poll_mail().results
    assert result.outcome == "ignored"
    assert confirmations(sent()) == [], "an automatic reply is never answered"
    assert bot.store.submission_count() == 0, "its 'OD-01: 99' is not stored"
    [inbound] = bot.store.inbound()
    assert inbound["outcome"] == "ignored" and "auto" in inbound["reason"]


def check_stored_once(bot: Bot, sent: Sent) -> None:
    """Poll twice after one reply was delivered twice: stored and answered once."""
    assert outcomes(bot) == ["stored", "seen"]
    assert outcomes(bot) == [], "a second poll finds nothing new"
    assert bot.store.submission_count() == 1
    assert len(confirmations(sent())) == 1


def check_moved_out_of_the_inbox(left_in_inbox: Iterable[Any], processed: Iterable[T]) -> T:
    """Processed mail leaves the inbox and is kept in the processed folder; returns it."""
    assert list(left_in_inbox) == [], "nothing is left in the inbox"
    [kept] = processed
    return kept
