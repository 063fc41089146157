"""The offline mail backend: a Maildir tree (the default, and what `pmbot demo` uses).

    data/mail/inbox/      replies are read from new/ and cur/
    data/mail/outbox/     what pmbot sends is delivered to new/
    data/mail/processed/  handled replies are moved here (cur/, flagged seen)
    data/mail/quarantine/ mail pmbot could not read is moved here, for a person to look at

Files are written the Maildir way (tmp/, then renamed into new/), so a reader never sees half a
message, and a mail client or Dovecot can open the same tree.
"""

from __future__ import annotations

import contextlib
import hashlib
import mailbox
import os
import time
from collections.abc import Iterator
from email import policy
from email.message import EmailMessage, Message
from email.parser import BytesParser
from pathlib import Path

from bot.mail.base import CheckResult, InboundMail, MailUnavailable

PARSER = BytesParser(policy=policy.default)


class MaildirBackend:
    # A message sent again replaces its own file (`send`), so the bot may record sends a
    # batch at a time.
    idempotent_send = True

    def __init__(self, root: Path) -> None:
        self.root = Path(root)
        self._sent = 0
        try:
            self.root.mkdir(parents=True, exist_ok=True)
            self.inbox = mailbox.Maildir(self.root / "inbox", create=True)
            self.outbox = mailbox.Maildir(self.root / "outbox", create=True)
            self.processed = mailbox.Maildir(self.root / "processed", create=True)
            mailbox.Maildir(self.root / "quarantine", create=True)
        except FileExistsError as exc:  # mkdir met a file where a folder should be
            raise MailUnavailable(
                f"cannot open the Maildir at {self.root}: {exc.filename} is a file, not a "
                "folder; set PMBOT_MAILDIR to a folder (it is created if missing)"
            ) from exc
        except OSError as exc:
            raise MailUnavailable(f"cannot open the Maildir at {self.root}: {exc}") from exc

    def fetch(self) -> Iterator[InboundMail]:
        entries = []
        for sub in ("new", "cur"):
            entries += [
                (entry.stat().st_mtime, entry.name, sub, entry.path)
                for entry in os.scandir(self.root / "inbox" / sub)
                if entry.is_file() and not entry.name.startswith(".")
            ]
        for _, name, sub, path in sorted(entries):
            try:
                with open(path, "rb") as file:
                    data = file.read()
            except FileNotFoundError:  # taken by another poller in the meantime
                continue
            yield InboundMail(key=f"{sub}/{name}", raw=data)

    def send(self, message: Message) -> str:
        """Deliver to outbox/new the Maildir way: write in tmp/, then rename into new/.

        The file is named after the Message-ID, so sending the same message again after a
        crash replaces the file instead of adding a second copy.
        """
        found = str(message.get("Message-ID", ""))
        if message_id := found.strip():
            name = f"{hashlib.sha1(message_id.encode()).hexdigest()[:20]}.pmbot"
        else:
            self._sent += 1
            name = f"{time.time_ns()}.P{os.getpid()}Q{self._sent}.pmbot"
        outbox = os.path.join(self.root, "outbox")
        temporary = os.path.join(outbox, "tmp", name)
        with open(temporary, "wb") as file:
            file.write(message.as_bytes())
        os.replace(temporary, os.path.join(outbox, "new", name))
        return found

    def mark_done(self, mail: InboundMail, folder: str = "processed") -> None:
        # Plain string paths: this runs for every message a poll takes.
        source = os.path.join(self.root, "inbox", mail.key)
        base_name = mail.key.split("/", 1)[1].split(":2,", 1)[0]
        target = os.path.join(self.root, folder, "cur", f"{base_name}:2,S")
        with contextlib.suppress(FileNotFoundError):  # already moved by an earlier run
            os.replace(source, target)

    def quarantine(self, mail: InboundMail) -> None:
        self.mark_done(mail, "quarantine")

    def check(self) -> list[CheckResult]:
        results = []
        for folder in ("inbox", "outbox", "processed"):
            path = self.root / folder
            writable = os.access(path / "new", os.W_OK) and os.access(path / "cur", os.W_OK)
            detail = "" if writable else f"cannot write to {path}; check its permissions"
            results.append(CheckResult(f"Maildir folder {path}", writable, detail))
        return results

    def close(self) -> None:
        pass

    def outbox_messages(self) -> list[EmailMessage]:
        """Everything sent so far, oldest first (for the demo and tests)."""
        folder = self.root / "outbox" / "new"
        paths = sorted(folder.iterdir(), key=lambda p: (p.stat().st_mtime, p.name))
        return [PARSER.parsebytes(p.read_bytes()) for p in paths]

    def deliver_to_inbox(self, message: EmailMessage | bytes) -> str:
        """Drop a message into the inbox as a mail server would (demo, tests, benchmarks)."""
        return self.inbox.add(message)
