"""Whom an inbound message is from, whether the receiving server vouched for it, and whether
a machine wrote it. Pure functions over stdlib messages: no I/O, no clock, no environment.

Identity comes from From (RFC 5322's author), or from Sender when a delegate sends for someone
else; never from Reply-To, which anyone may set to anything and which only says where answers
should go.
"""

from __future__ import annotations

import hashlib
import re
from email.message import Message

from bot.mail.replies import _address, _header

_RESULT = re.compile(r"\b(dmarc|dkim|spf)\s*=\s*([a-z]+)", re.IGNORECASE)
_COMMENT = re.compile(r"\([^()]{0,500}\)")

# What auto-responders write that people writing figures do not. Matched only near the top of
# the text, so that a quoted original further down cannot trigger them.
_AUTOMATED_BODY = re.compile(
    r"\b(this is an? (automated|automatic|auto-generated) "
    r"(message|reply|response|e-?mail|notification)"
    r"|this (message|e-?mail) (was|has been) (automatically generated|sent automatically)"
    r"|(i am|i'm|i will be|i'll be) (currently )?(out of (the )?office|on (annual |parental )?leave"
    r"|away from (the|my) (office|desk)|travell?ing with limited)"
    r"|(please )?do not reply to this (e-?mail|message)"
    r"|(your|this) (message|e-?mail|request) has been received"
    r"|a (support )?ticket (has been|was) (created|opened|logged)"
    r"|ich bin (derzeit |zurzeit )?(nicht im büro|abwesend|im urlaub)"
    r"|je suis (actuellement )?absente?"
    r"|thank you for (your|contacting)[^.\n]{0,40}\.? (i|we) (will|shall) "
    r"(get back|respond|reply))",
    re.IGNORECASE,
)


def identity(msg: Message) -> tuple[str, str]:
    """(From address, Sender address when it differs from From, else ''), lower-cased."""
    author = _address(_header(msg, "From"))
    sender = _address(_header(msg, "Sender"))
    return author, sender if sender != author else ""


def authentication_failure(msg: Message, authserv_id: str) -> str | None:
    """Why the receiving server's Authentication-Results say this message is forged, or None.

    Only results stamped with our own server's authserv-id count: anyone can add an
    Authentication-Results header, but the receiving server removes ones bearing its id
    (RFC 8601 §5), so a forged "pass" never gets this far. DKIM fails only when no signature
    passed (a list's footer breaks one signature while another still holds).

    >>> from email import message_from_string
    >>> m = message_from_string("Authentication-Results: mx.example; spf=pass; dmarc=fail\\n")
    >>> authentication_failure(m, "mx.example")
    'DMARC failed (Authentication-Results from mx.example)'
    """
    wanted = authserv_id.strip().lower()
    if not wanted:
        return None
    results: dict[str, set[str]] = {}
    for value in msg.get_all("Authentication-Results") or []:
        text = _COMMENT.sub("", " ".join(str(value).split()))
        server = text.partition(";")[0].split()
        if not server or server[0].lower() != wanted:
            continue
        for method, result in _RESULT.findall(text.partition(";")[2]):
            results.setdefault(method.lower(), set()).add(result.lower())
    failed = [
        name.upper()
        for name in ("dmarc", "dkim", "spf")
        if "fail" in results.get(name, ()) and not (name == "dkim" and "pass" in results[name])
    ]
    if not failed:
        return None
    return f"{' and '.join(failed)} failed (Authentication-Results from {authserv_id.strip()})"


def automated_body_reason(text: str) -> str | None:
    """Why this reply text reads like an auto-responder's (first 1,000 characters), or None."""
    match = _AUTOMATED_BODY.search(text[:1000])
    if match is None:
        return None
    return f"auto-reply body: '{match.group(0)[:60]}'"


def fingerprint(sender: str, raw: bytes) -> str:
    """What tells two messages with one Message-ID apart: who sent it and the body's bytes
    (headers are left out: servers add Received lines when they deliver a message again)."""
    parts = re.split(rb"\r?\n\r?\n", raw, maxsplit=1)
    body = parts[1] if len(parts) == 2 else raw
    return hashlib.sha1(sender.encode() + b"\n" + body).hexdigest()[:16]
