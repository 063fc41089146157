"""Build the messages pmbot sends, from templates/email/, as stdlib EmailMessage objects.

Every message pmbot sends says it is automatic (RFC 3834 Auto-Submitted, Microsoft's
X-Auto-Response-Suppress) so that out-of-office responders stay quiet, and carries X-PMBot so
that pmbot never answers its own mail.
"""

from __future__ import annotations

from datetime import datetime
from email.headerregistry import Address
from email.message import EmailMessage
from email.utils import format_datetime, make_msgid

import jinja2

from bot.events import Outcome, Prompt

MAX_REFERENCES = 10


class Composer:
    def __init__(self, templates: jinja2.Environment, mail_from: str, domain: str) -> None:
        self.templates = templates
        self.mail_from = mail_from
        self.domain = domain

    def render(self, template: str, /, **context) -> str:
        return self.templates.get_template(template).render(**context)

    def new_message(self, kind: str, to: str, subject: str, now: datetime) -> EmailMessage:
        message = EmailMessage()
        message["From"] = f"pmbot <{self.mail_from}>"
        message["To"] = to
        message["Subject"] = subject
        message["Date"] = format_datetime(now)
        message["Message-ID"] = make_msgid(idstring=kind, domain=self.domain)
        message["Auto-Submitted"] = "auto-generated" if kind != "confirmation" else "auto-replied"
        message["X-Auto-Response-Suppress"] = "All"
        message["X-PMBot"] = kind
        return message

    def prompt(self, prompt: Prompt, now: datetime) -> EmailMessage:
        subject = self.render("email/prompt_subject.txt", prompt=prompt).strip()
        to = str(Address(prompt.owner_name, addr_spec=prompt.owner_email))
        message = self.new_message("prompt", to, subject, now)
        message.set_content(self.render("email/prompt.txt", prompt=prompt))
        message.add_alternative(self.render("email/prompt.html", prompt=prompt), subtype="html")
        return message

    def confirmation(
        self, original: EmailMessage, to: str, outcomes: list[Outcome], now: datetime
    ) -> EmailMessage:
        subject = str(original.get("Subject", "") or "your figures")
        if not subject.lower().startswith("re:"):
            subject = f"Re: {subject}"
        message = self.new_message("confirmation", to, subject, now)
        thread(message, original)
        context = {
            "stored": [o for o in outcomes if o.stored],
            "refused": [o for o in outcomes if not o.stored],
        }
        message.set_content(self.render("email/confirmation.txt", **context))
        message.add_alternative(self.render("email/confirmation.html", **context), subtype="html")
        return message


def thread(reply: EmailMessage, original: EmailMessage) -> None:
    """Set In-Reply-To and References so mail clients show the reply in the same conversation."""
    original_id = str(original.get("Message-ID", "") or "").strip()
    if not original_id:
        return
    earlier = str(original.get("References", "") or original.get("In-Reply-To", "") or "").split()
    reply["In-Reply-To"] = original_id
    reply["References"] = " ".join([*earlier, original_id][-MAX_REFERENCES:])
