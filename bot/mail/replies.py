"""Reading an emailed reply: should it be ignored, and what new text did the sender write?

Pure functions over stdlib ``EmailMessage`` objects parsed with ``email.policy.default``: no I/O,
no clock, no environment (reference email.md §4.2-4.4).

Quoted text is removed by the line rules below rather than by mail-parser-reply: the library cuts
a reply at a line like "From: my side, ...", finds German headers only when told the language up
front, and deletes hyphen lists ("- OD-01: 40") as signatures in ``.body``. Rules we own can be
tested line by line and run in linear time on any input.
"""

import codecs
import re
from email.message import EmailMessage
from email.utils import parseaddr
from html.parser import HTMLParser
from itertools import takewhile

# ---------------------------------------------------------------------------------- auto-replies

_OOF_SUBJECT = re.compile(
    r"\s*(automatic reply|auto[- ]?(reply|response)|automatic response|out[- ]of[- ](the )?office"
    r"|automatische antwort|abwesenheitsnotiz|réponse automatique|respuesta automática"
    r"|risposta automatica|automatisch antwoord|resposta automática|automatiskt svar)\b",
    re.IGNORECASE,
)
_BOUNCE_SUBJECT = re.compile(
    r"\s*(undeliverable|undelivered mail|delivery status notification|delivery (has )?failed"
    r"|mail delivery (failed|failure)|returned mail|failure notice|unzustellbar|non remis)\b",
    re.IGNORECASE,
)


def sender_address(msg: EmailMessage) -> str:
    """The sender's address, lower-cased, from Reply-To if present else From ('' if none).

    >>> sender_address(message_from_string("From: Jane <Jane.Smith@Example.org>", policy=default))
    'jane.smith@example.org'
    """
    return _address(_header(msg, "Reply-To")) or _address(_header(msg, "From"))


def auto_reply_reason(msg: EmailMessage, bot_address: str) -> str | None:
    """Why this message must be ignored and never answered, or None for a human reply.

    >>> auto_reply_reason(message_from_string("Auto-Submitted: auto-replied", policy=default), "")
    'auto-reply (Auto-Submitted: auto-replied)'

    X-Auto-Response-Suppress is deliberately not a reason: it asks the receiver not to send
    automatic answers to this message; it does not say the message is automatic. Outlook sets it
    on some mail people write, and skipping a person's figures silently is worse than an extra
    confirmation (which carries Auto-Submitted, so responders stay quiet). Real Exchange
    out-of-office mail is caught by its Auto-Submitted header or its subject.
    """
    from_address = _address(_header(msg, "From"))
    bot = _address(bot_address)
    if bot and bot in (from_address, sender_address(msg)):
        return f"sent by pmbot itself ({bot})"
    if "X-PMBot" in msg:
        return "sent by pmbot itself (X-PMBot)"
    if msg.get_content_type() == "multipart/report":
        return "bounce (multipart/report)"
    if re.fullmatch(r"<\s*>", _header(msg, "Return-Path")):
        return "bounce (Return-Path: <>)"
    if re.search(r"\b(mailer-daemon|postmaster)@", _header(msg, "From"), re.IGNORECASE):
        return f"bounce (from {_short(_header(msg, 'From'))})"
    if "Auto-Submitted" in msg:
        # "auto-replied (vacation); x=1" -> "auto-replied": the keyword, without comment or params
        value = re.sub(r"\(.*?\)", "", _header(msg, "Auto-Submitted")).partition(";")[0]
        value = value.strip().lower()
        if value != "no":  # RFC 3834: anything but "no" is automatic
            return f"auto-reply (Auto-Submitted: {_short(value)})"
    for name in ("X-Autoreply", "X-Autorespond"):
        if name in msg:
            return f"auto-reply ({name}: {_short(_header(msg, name))})"
    for name in ("List-Id", "List-Unsubscribe"):
        if name in msg:
            return f"mailing list ({name}: {_short(_header(msg, name))})"
    precedence = _header(msg, "Precedence").strip().lower()
    if precedence in ("bulk", "junk", "list", "auto_reply"):
        kind = "auto-reply" if precedence == "auto_reply" else "bulk mail"
        return f"{kind} (Precedence: {precedence})"
    subject = _header(msg, "Subject")
    if _OOF_SUBJECT.match(subject):
        return f"out-of-office (Subject: {_short(subject)})"
    if _BOUNCE_SUBJECT.match(subject):
        return f"bounce (Subject: {_short(subject)})"
    return None


def _header(msg: EmailMessage, name: str) -> str:
    """A header as one line of text, '' if absent or beyond repair."""
    try:
        value = msg.get(name)
    except (ValueError, TypeError, IndexError, AttributeError, LookupError):
        # policy.default parses headers on access, and hostile input has tripped that parser
        # before; the raw value is still good enough to find an address or a keyword.
        value = next((v for k, v in msg.raw_items() if k.lower() == name.lower()), None)
    return "" if value is None else " ".join(str(value).split())


def _address(value: str) -> str:
    """The first address in a header value, lower-cased ('' unless it looks like one)."""
    address = parseaddr(value)[1].strip().lower()
    return address if "@" in address and " " not in address else ""


def _short(value: str, limit: int = 60) -> str:
    return value if len(value) <= limit else value[: limit - 1] + "…"


# ------------------------------------------------------------------------------ the reply text


def reply_text(msg: EmailMessage) -> str:
    """The new text the sender wrote: quoted original, mobile tags and '-- ' signature removed.

    >>> reply_text(message_from_string("\\nOD-01: 48\\n\\n> OD-01: \\n", policy=default))
    'OD-01: 48'
    """
    plain = msg.get_body(preferencelist=("plain",))
    text = _decoded(plain) if plain is not None else ""
    if plain is not None and plain.get_param("format", "").lower() == "flowed":
        text = _unflow(text, delsp=plain.get_param("delsp", "").lower() == "yes")
    if not text.strip():  # HTML-only (Outlook often), or an empty text part beside the HTML
        html = msg.get_body(preferencelist=("html",))
        text = html_to_text(_cut_html_quote(_decoded(html))) if html is not None else ""
    return strip_quoted(text)


def _decoded(part: EmailMessage) -> str:
    """A text part's payload as str, whatever its charset claims; never raises."""
    payload = part.get_payload(decode=True)
    if not isinstance(payload, bytes):
        return ""
    try:
        codec = codecs.lookup(part.get_content_charset() or "us-ascii").name
    except LookupError:
        codec = ""
    if codec in ("iso8859-1", "ascii"):
        # As browsers do: mail labelled Latin-1 is usually Windows-1252 (’ – € in 0x80-0x9F).
        codec = "cp1252"
    if codec and codec != "cp1252":
        try:
            return payload.decode(codec, errors="replace")
        except (LookupError, UnicodeError):  # a non-text codec such as "base64" or "idna"
            pass
    try:
        return payload.decode("utf-8")  # an unknown label most often hides UTF-8
    except UnicodeDecodeError:
        return payload.decode("cp1252", errors="replace")


def _unflow(text: str, delsp: bool) -> str:
    """Join format=flowed lines (RFC 3676): a line ending in a space continues on the next."""
    lines: list[str] = []
    for line in text.replace("\r\n", "\n").split("\n"):
        if not line.startswith(">"):
            line = line.removeprefix(" ")  # undo space-stuffing
        previous = lines[-1] if lines else ""
        if previous.endswith(" ") and previous != "-- " and ">" not in (previous[:1], line[:1]):
            lines[-1] = (previous[:-1] if delsp else previous) + line
        else:
            lines.append(line)
    return "\n".join(lines)


# ---------------------------------------------------------------------------------------- HTML

_HTML_QUOTE = re.compile(
    r"<div[^>]*\bid=[\"']?(divRplyFwdMsg|appendonsend|mail-editor-reference-message-container)\b"
    r"|<div[^>]*style=[\"'][^\"'>]*border:\s*none;\s*border-top:\s*solid"  # Outlook desktop
    r"|<(div|blockquote)[^>]*class=[\"']?[^\"'>]*\b(gmail_quote|moz-cite-prefix|yahoo_quoted)\b"
    r"|<blockquote[^>]*type=[\"']?cite",
    re.IGNORECASE,
)


def _cut_html_quote(html: str) -> str:
    """The HTML before the earliest marker of a quoted original."""
    match = _HTML_QUOTE.search(html)
    return html[: match.start()] if match else html


# HTMLParser raises AssertionError on "<![" not followed by a keyword it knows (Python 3.11);
# Outlook's own "<![if !supportLists]>" and "<![endif]>" are known, anything else becomes text.
_BAD_MARKED_SECTION = re.compile(
    r"<!\[(?!(cdata|temp|ignore|include|rcdata|if|else|endif)(?![-_.a-z0-9]))", re.IGNORECASE
)


class _TextExtractor(HTMLParser):
    _SKIP = {"head", "style", "script", "title"}
    _BLOCK = {"address", "blockquote", "dd", "div", "dl", "dt", "h1", "h2", "h3", "h4", "h5"}
    _BLOCK |= {"h6", "hr", "li", "ol", "p", "pre", "section", "table", "tr", "ul"}

    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.parts: list[str] = []
        self.skipping = 0

    def _newline(self) -> None:
        if self.parts and not self.parts[-1].endswith("\n"):  # <p><div> is one break, not two
            self.parts.append("\n")

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        if tag == "body":
            self.skipping = 0  # recover from a <head> that was never closed
        elif tag in self._SKIP:
            self.skipping += 1
        elif tag == "br":
            self.parts.append("\n")
        elif tag in self._BLOCK:
            self._newline()
        elif tag in ("td", "th"):
            self.parts.append(" ")  # "OD-01:" and "48" in two cells read as one line

    def handle_endtag(self, tag: str) -> None:
        if tag in self._SKIP:
            self.skipping = max(0, self.skipping - 1)
        elif tag in self._BLOCK:
            self._newline()

    def handle_data(self, data: str) -> None:
        text = re.sub(r"\s+", " ", data)  # HTML source line breaks are not text breaks
        if self.skipping or (text == " " and (not self.parts or self.parts[-1].endswith("\n"))):
            return
        self.parts.append(text)


def html_to_text(html: str) -> str:
    """Readable text from HTML: blocks become lines, entities decoded, &nbsp; a plain space.

    >>> html_to_text("<style>p {}</style><p>OD-01:&nbsp;48</p><div>OD-02: 9 &amp; falling</div>")
    'OD-01: 48\\nOD-02: 9 & falling'
    """
    extractor = _TextExtractor()
    extractor.feed(_BAD_MARKED_SECTION.sub("&lt;![", html))
    extractor.close()
    text = "".join(extractor.parts).replace("\xa0", " ").replace("\u200b", "")
    lines = [line.strip() for line in text.split("\n")]
    return re.sub(r"\n{3,}", "\n\n", "\n".join(lines)).strip()


# -------------------------------------------------------------------------------- quoted text

_ORIGINAL_MESSAGE = re.compile(
    r"-{2,}\s*(original message|ursprüngliche nachricht|message d'origine|mensaje original"
    r"|oorspronkelijk bericht|messaggio originale|forwarded message|weitergeleitete nachricht)"
    r"\s*-{2,}",
    re.IGNORECASE,
)
_HEADER_KEY = re.compile(r"\s*\**\s*([^\W\d_][\w-]*)\s*:")
_FROM_KEYS = {"from", "von", "de", "van", "da", "från", "fra", "od"}
_OTHER_KEYS = {"sent", "date", "to", "cc", "subject", "reply-to", "gesendet", "datum", "an"}
_OTHER_KEYS |= {"betreff", "envoyé", "à", "objet", "enviado", "fecha", "para", "asunto"}
_OTHER_KEYS |= {"verzonden", "aan", "onderwerp", "inviato", "data", "a", "oggetto", "skickat"}
_OTHER_KEYS |= {"till", "ämne", "sendt", "til", "emne", "do", "temat", "wysłano"}
_ATTRIBUTION_START = re.compile(r"(on|am|le|el|op|il|em|den)\s", re.IGNORECASE)
_ATTRIBUTION = re.compile(
    r".*\b(wrote|schrieb|a écrit|escribió|schreef|ha scritto|escreveu|skrev)\b.*:", re.IGNORECASE
)
_MOBILE_SIGNATURE = re.compile(
    r"(sent from (my|outlook|mail for|yahoo|samsung)|sent with |get outlook for "
    r"|von meinem .+ gesendet|gesendet von (meinem|outlook)|envoyé de (mon|outlook)"
    r"|enviado desde (mi|outlook)|verzonden (met|vanaf) |verstuurd vanaf )",
    re.IGNORECASE,
)


def strip_quoted(text: str) -> str:
    """A text reply minus the quoted original, mobile tags and a '-- ' signature block.

    >>> strip_quoted("- OD-01: 40\\n\\nFrom: Bot\\nSent: Monday\\nTo: Jane\\nSubject: Figures\\nOD-01:")
    '- OD-01: 40'
    """
    lines = text.replace("\r\n", "\n").replace("\r", "\n").replace("\ufeff", "").split("\n")
    kept: list[str] = []
    i = 0
    while i < len(lines):
        line = lines[i]
        if _ORIGINAL_MESSAGE.fullmatch(line.strip()) or _starts_header_block(lines, i):
            break
        if size := _attribution_size(lines, i):
            if not _quote_follows(lines, i + size):
                break  # "On ... wrote:" above an unmarked quote (HTML converted to text)
            i += size
            continue
        # Quoted lines are dropped, not cut at, so answers typed below or between them survive.
        if not line.lstrip().startswith(">") and not _is_mobile_signature(line):
            kept.append(line.rstrip())
        i += 1
    signature = next((n for n, line in enumerate(kept) if line in ("--", "-- ")), len(kept))
    kept = kept[:signature]
    while kept and (not kept[-1].strip() or re.fullmatch(r"\s*[_=-]{10,}\s*", kept[-1])):
        kept.pop()  # blank lines and the "_____" rule Outlook puts above a header block
    while kept and not kept[0].strip():
        kept.pop(0)
    return "\n".join(kept)


def _header_key(line: str) -> str:
    match = _HEADER_KEY.match(line)
    return match.group(1).lower() if match else ""


def _starts_header_block(lines: list[str], i: int) -> bool:
    """A 'From:' line with two other header lines ('Sent:', 'To:', ...) right under it.

    Two are required, with no blank line between, so that a reply line like "From: my side, all
    fine" does not cut the reply.
    """
    if _header_key(lines[i]) not in _FROM_KEYS:
        return False
    block = takewhile(str.strip, lines[i + 1 : i + 6])  # a header block has no blank lines
    return len({_header_key(line) for line in block} & _OTHER_KEYS) >= 2


def _attribution_size(lines: list[str], i: int) -> int:
    """1 or 2 if an "On <date>, <name> wrote:" line (Gmail wraps it over two) starts at i."""
    if not _ATTRIBUTION_START.match(lines[i].strip()):
        return 0
    for size in (1, 2):
        candidate = " ".join(line.strip() for line in lines[i : i + size])
        # a date always has a digit; the length cap keeps the regex cheap on long lines
        if len(candidate) < 300 and re.search(r"\d", candidate):
            if _ATTRIBUTION.fullmatch(candidate):
                return size
    return 0


def _quote_follows(lines: list[str], i: int) -> bool:
    following = next((line for line in lines[i:] if line.strip()), "")
    return following.lstrip().startswith(">")


def _is_mobile_signature(line: str) -> bool:
    """'Sent from my iPhone', 'Get Outlook for iOS<https://aka.ms/o0ukef>' and kin."""
    words = re.sub(r"<[^>]*>", "", line).strip()
    return len(words.split()) <= 7 and bool(_MOBILE_SIGNATURE.match(words))
