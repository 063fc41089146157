"""Build the messages pmbot sends, from templates/email/, as stdlib email messages.

Every message pmbot sends says it is automatic (RFC 3834 Auto-Submitted, Microsoft's
X-Auto-Response-Suppress) so that out-of-office responders stay quiet, and carries X-PMBot so
that pmbot never answers its own mail.
"""

from __future__ import annotations

import binascii
import functools
import secrets
from datetime import datetime
from email.errors import HeaderParseError
from email.header import Header, decode_header, make_header
from email.message import Message
from email.policy import Compat32
from email.utils import format_datetime, formataddr, make_msgid

import jinja2

from bot.events import Outcome, Prompt
from bot.store import Outgoing

MAX_REFERENCES = 10


class PlainHeaders(Compat32):
    """compat32, writing a header of plain words as compat32 would, without its folding code.

    compat32 sends every header through `email.header.Header` to fold it, about a fifth of
    composing an answer. A value of printable ASCII words separated by single spaces comes out
    of it unchanged if it fits on one line; if not, and it has no ";" or "," (where compat32
    prefers to break), it is cut greedily before the word that overflows (`fold_words`). So
    these are written directly; anything else (non-ASCII, tabs, runs of spaces, line breaks,
    long with ";" or ",", a `Header`) takes compat32's own path.
    `tests/test_compose.py` checks both give the same bytes.
    """

    def _fold(self, name, value, sanitize):
        if (
            isinstance(value, str)
            and value.isascii()
            and value.isprintable()
            and "  " not in value
            and value == value.strip()
        ):
            limit = self.max_line_length or 1_000_000
            if len(name) + 2 + len(value) <= limit:
                return f"{name}: {value}{self.linesep}"
            if ";" not in value and "," not in value:
                return fold_words(name, value, limit, self.linesep)
        return super()._fold(name, value, sanitize)


def fold_words(name: str, value: str, limit: int, linesep: str) -> str:
    """What compat32 writes for a long header of words (Message-IDs) split by single spaces:
    a line is ended before the word that takes it past `limit`; a first word that cannot
    follow the name goes, with nothing before it, onto the next line."""
    lines: list[str] = []
    line = ""
    size = len(name) + 2
    for word in value.split(" "):
        if not line:
            line, size = word, size + len(word)
            if size > limit:  # the first word, too long to follow the name
                lines.append("")
                line, size = f" {word}", 1 + len(word)
        elif size + 1 + len(word) > limit:
            lines.append(line)
            line, size = f" {word}", 1 + len(word)
        else:
            line, size = f"{line} {word}", size + 1 + len(word)
    lines.append(line)
    return f"{name}: {linesep.join(lines)}{linesep}"


PLAIN_HEADERS = PlainHeaders()


class Composed(Message):
    """A message `Composer.new_message` built (multipart/alternative of two `text_part`s),
    which writes its own bytes: the generator's walk (a buffer and a cloned generator per
    part, the boundary parsed back out of Content-Type) was a third of composing an answer.
    The bytes are the generator's: headers through the message's policy, then the parts
    between boundary lines (`tests/test_compose.py` checks them against the generator's).
    Asked for another policy or line end, it leaves the writing to the generator.
    """

    boundary = ""

    def as_bytes(self, unixfrom: bool = False, policy=None) -> bytes:
        nl = self.policy.linesep
        other = policy is not None and policy is not self.policy
        if unixfrom or other or nl != "\n" or not self.boundary:
            return super().as_bytes(unixfrom, policy)
        between = f"{nl}--{self.boundary}{nl}".encode("ascii")
        parts = [part_headers_bytes(part) + part.get_payload().encode("ascii")
                 for part in self.get_payload()]  # fmt: skip
        return b"".join((
            headers_bytes(self),
            f"--{self.boundary}{nl}".encode("ascii"),
            between.join(parts),
            f"{nl}--{self.boundary}--{nl}".encode("ascii"),
        ))  # fmt: skip


def headers_bytes(message: Message) -> bytes:
    """The header block as `BytesGenerator` writes it, with the blank line after it."""
    return header_block(message.policy, message.raw_items())


def part_headers_bytes(part: Message) -> bytes:
    """`headers_bytes` of a part; a `text_part`'s headers are the same in every message."""
    items = tuple(part.raw_items())
    try:
        return _same_header_block(part.policy, items)
    except TypeError:  # a `Header` object among the values: unhashable, so not kept
        return header_block(part.policy, items)


def header_block(policy, items) -> bytes:
    return b"".join([*(policy.fold_binary(h, v) for h, v in items),
                     policy.linesep.encode("ascii")])  # fmt: skip


# Keyed on everything the bytes depend on (the policy object, every name and value): exact.
_same_header_block = functools.lru_cache(maxsize=16)(header_block)


class Composer:
    def __init__(self, templates: jinja2.Environment, mail_from: str, domain: str) -> None:
        self.templates = templates
        self.mail_from = mail_from
        self.domain = domain

    def render(self, template: str, /, **context) -> str:
        """What `Template.render(**context)` gives, rendered from one plain dict.

        `Template.render` copies the template's globals (a ChainMap over the environment's)
        into the context one key at a time, for every render: a third of rendering a
        confirmation. Here they are merged a layer at a time and handed over as the whole
        context (shared=True), through the public `make_module`."""
        found = self.templates.get_template(template)
        values: dict = {}
        for layer in reversed(getattr(found.globals, "maps", [found.globals])):
            values.update(layer)
        values.update(context)
        try:
            return str(found.make_module(values, shared=True))
        except Exception:  # re-raised as Template.render does, traceback at the template line
            self.templates.handle_exception()
            raise  # not reached: handle_exception raises

    def new_message(
        self, kind: str, to: str, subject: str, now: datetime, text: str, html: str
    ) -> Message:
        # Built as compat32's MIMEMultipart and MIMEText build it (the same bytes), without
        # their header rewriting: several times faster than EmailMessage, which matters when
        # a poll answers thousands of replies.
        # A random boundary given up front: left to itself, the generator makes one and then
        # compiles a regular expression to check the body against it, for every message.
        # Random, and short enough for the Content-Type header to fit on one line; "=_"
        # cannot occur in a base64 body.
        # Headers are stored with set_raw, which is what compat32's `message[name] = value`
        # does, without asking the policy for each.
        boundary = f"=_{secrets.token_hex(12)}"
        message = Composed(policy=PLAIN_HEADERS)
        message.boundary = boundary
        message.set_raw("Content-Type", f'multipart/alternative; boundary="{boundary}"')
        message.set_raw("MIME-Version", "1.0")
        message.attach(text_part(text, "plain"))
        message.attach(text_part(html, "html"))
        message.set_raw("From", formataddr(("pmbot", self.mail_from)))
        message.set_raw("To", to)
        message.set_raw("Subject", subject if subject.isascii() else Header(subject, "utf-8"))
        message.set_raw("Date", format_datetime(now))
        message.set_raw("Message-ID", make_msgid(idstring=kind, domain=self.domain))
        mark_automatic(message, kind)
        return message

    def prompt(self, prompt: Prompt, now: datetime, reminder: int = 0) -> Message:
        """The request for figures; `reminder` > 0 makes it that reminder."""
        context = {"prompt": prompt, "reminder": reminder}
        subject = self.render("email/prompt_subject.txt", **context).strip()
        to = prompt.owner_email
        if prompt.owner_name != prompt.owner_email:
            to = formataddr((prompt.owner_name, prompt.owner_email), charset="utf-8")
        text = self.render("email/prompt.txt", **context)
        html = self.render("email/prompt.html", **context)
        return self.new_message("reminder" if reminder else "prompt", to, subject, now, text, html)

    def escalation(
        self, prompt: Prompt, recipients: list[str], deputies: list[str], now: datetime
    ) -> Message:
        return self.templated("escalation", recipients, now, prompt=prompt, deputies=deputies)

    def say(self, template: str, macro: str, *args) -> str:
        """One message from a macro of a plain-text template, on one line."""
        module = self.templates.get_template(template).module
        return " ".join(str(getattr(module, macro)(*args)).split())

    def signoff(self, approver: str, now: datetime, **context) -> Message:
        """The request to an area's approver (a reminder with `reminder=True`)."""
        return self.templated("signoff", [approver], now, **context)

    def summary(self, recipients: list[str], now: datetime, **context) -> Message:
        return self.templated("summary", recipients, now, **context)

    def alert_follow_up(
        self, recipients: list[str], now: datetime, summary_id: str, **context
    ) -> Message:
        """What changed since the summary email (new, changed, cleared), in its thread."""
        message = self.templated("alert_follow_up", recipients, now, **context)
        message["In-Reply-To"] = summary_id
        message["References"] = summary_id
        return message

    def templated(self, kind: str, recipients: list[str], now: datetime, **context) -> Message:
        """A message from templates/email/<kind>_subject.txt, <kind>.txt and <kind>.html."""
        subject = self.render(f"email/{kind}_subject.txt", **context).strip()
        text = self.render(f"email/{kind}.txt", **context)
        html = self.render(f"email/{kind}.html", **context)
        return self.new_message(kind, ", ".join(recipients), subject, now, text, html)

    def confirmation(
        self,
        original: Message,
        to: str,
        outcomes: list[Outcome],
        now: datetime,
        notice: dict[str, object] | None = None,
    ) -> Message:
        """The answer to a reply; `notice` (kind unverified, too_large or too_long, with its
        details) says why a whole message was not read."""
        # The labels are looked up here, once for both bodies: a `{% from ... import %}` in
        # each template compares every global of the environment on every render.
        labels = self.templates.get_template("digest/labels.txt").module
        return self.answer("confirmation", original, to, now,
                           stored=[o for o in outcomes if o.stored],
                           refused=[o for o in outcomes if not o.stored],
                           notice=notice, REASON=labels.REASON)  # type: ignore[attr-defined]  # fmt: skip

    def answer(
        self, template: str, original: Message, to: str, now: datetime, **context
    ) -> Message:
        """A reply threaded under `original`, from templates/email/<template>.txt and .html."""
        subject = header_text(original.get("Subject")) or "your figures"
        if not subject.lower().startswith("re:"):
            subject = f"Re: {subject}"
        text = self.render(f"email/{template}.txt", **context)
        html = self.render(f"email/{template}.html", **context)
        # Kind "confirmation": an answer, so it says Auto-Submitted: auto-replied.
        message = self.new_message("confirmation", to, subject, now, text, html)
        thread(message, original)
        return message


def text_part(text: str, subtype: str) -> Message:
    """What `MIMEText(text, subtype, "utf-8")` makes: UTF-8, base64, in the same header order."""
    part = Message(policy=PLAIN_HEADERS)
    part.set_raw("Content-Type", f'text/{subtype}; charset="utf-8"')  # as part[...] = stores
    part.set_raw("MIME-Version", "1.0")
    part.set_raw("Content-Transfer-Encoding", "base64")
    part.set_payload(base64_lines(text.encode("utf-8")) if text else "")
    return part


def base64_lines(data: bytes) -> str:
    """What `email.base64mime.body_encode(data)` gives (lines of 76 characters, each ending
    in a newline), from one call to the encoder instead of one a line: a line holds 57 bytes,
    a multiple of 3, so the lines are the whole encoding cut every 76 characters."""
    encoded = binascii.b2a_base64(data, newline=False).decode("ascii")
    return "".join([f"{encoded[i : i + 76]}\n" for i in range(0, len(encoded), 76)])


def mark_automatic(message: Message, kind: str) -> None:
    """The one place for the headers that stop mail loops: out-of-office responders stay quiet
    (RFC 3834 Auto-Submitted, Microsoft's X-Auto-Response-Suppress) and X-PMBot lets pmbot
    recognise, and never answer, its own mail."""
    message["Auto-Submitted"] = "auto-replied" if kind == "confirmation" else "auto-generated"
    message["X-Auto-Response-Suppress"] = "All"
    message["X-PMBot"] = kind


def outgoing(kind: str, key: str, message: Message) -> Outgoing:
    """A built message, ready to queue in the outbox."""
    return Outgoing(
        kind=kind,
        key=key,
        recipients=header_text(message.get("To")),
        message_id=header_text(message.get("Message-ID")),
        message=message.as_bytes(),
    )


def header_text(value) -> str:
    """A header as text, whether parsed by the modern or the compat32 email policy."""
    if value is None:
        return ""
    if isinstance(value, str) and "=?" not in value:
        return " ".join(value.split())
    try:
        return " ".join(str(make_header(decode_header(str(value)))).split())
    except (HeaderParseError, LookupError, UnicodeError, ValueError):
        # An unknown charset ("=?x-unknown?q?hi?=") or a broken encoded word: the raw text
        # is still better than failing the whole message.
        return " ".join(str(value).split())


def thread(reply: Message, original: Message) -> None:
    """Set In-Reply-To and References so mail clients show the reply in the same conversation."""
    original_id = header_text(original.get("Message-ID"))
    if not original_id:
        return
    earlier = header_text(original.get("References") or original.get("In-Reply-To")).split()
    reply["In-Reply-To"] = original_id
    reply["References"] = " ".join([*earlier, original_id][-MAX_REFERENCES:])
