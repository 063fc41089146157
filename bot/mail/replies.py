"""Reading an emailed reply: should it be ignored, and what new text did the sender write?

Pure functions over stdlib ``email.message.Message`` objects: no I/O, no clock, no environment
(reference email.md §4.2-4.4). They accept messages parsed with either policy; pmbot parses
inbound mail with the fast compat32 policy, which leaves headers as raw text until asked.

Quoted text is removed by the line rules below, not by mail-parser-reply: that library keeps the
quoted lines of a bottom-posted or inline answer (so last month's "OD-02: 12" would be read as
new), finds German headers only when told the language up front, keeps "Sent from my iPhone" in
``parse_reply`` and deletes hyphen lists ("- OD-01: 40") in ``.body``. Every pattern here is
bounded, so a hostile message costs linear time.
"""

import codecs
import contextlib
import functools
import re
from email.errors import HeaderParseError
from email.header import decode_header, make_header
from email.message import Message
from email.utils import collapse_rfc2231_value, parseaddr
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

_EMPTY_PATH = re.compile(r"<\s*>")
_DAEMON = re.compile(r"\b(mailer-daemon|postmaster)@", re.IGNORECASE)
_COMMENT = re.compile(r"\(.*?\)")


def sender_address(msg: Message) -> str:
    """The author's address, lower-cased, from From ('' if none). Never Reply-To: anyone may
    put anyone's address there, and it says only where answers should go.

    >>> sender_address(message_from_string("From: Jane <Jane.Smith@Example.org>", policy=default))
    'jane.smith@example.org'
    """
    return _address(_header(msg, "From"))


def auto_reply_reason(msg: Message, bot_address: str) -> str | None:
    """Why this message must be ignored and never answered, or None for a human reply.

    >>> auto_reply_reason(message_from_string("Auto-Submitted: auto-replied", policy=default), "")
    'auto-reply (Auto-Submitted: auto-replied)'

    X-Auto-Response-Suppress is deliberately not a reason: it asks the receiver not to send
    automatic answers to this message; it does not say the message is automatic. Outlook sets it
    on some mail people write, and skipping a person's figures silently is worse than an extra
    confirmation (which carries Auto-Submitted, so responders stay quiet). Real Exchange
    out-of-office mail is caught by its Auto-Submitted header or its subject.
    """
    sender = _header(msg, "From")
    from_address = _address(sender)
    bot = _address(bot_address)
    if bot and bot == from_address:
        return f"sent by pmbot itself ({bot})"
    # The headers present, listed once: each `name in msg` lowers every header's name.
    names = {name.lower() for name in msg}
    if "x-pmbot" in names:
        return "sent by pmbot itself (X-PMBot)"
    if msg.get_content_type() == "multipart/report":
        return "bounce (multipart/report)"
    if "return-path" in names and _EMPTY_PATH.fullmatch(_header(msg, "Return-Path")):
        return "bounce (Return-Path: <>)"
    if _DAEMON.search(sender):
        return f"bounce (from {_short(sender)})"
    if "auto-submitted" in names:
        # "auto-replied (vacation); x=1" -> "auto-replied": the keyword, without comment or params
        value = _COMMENT.sub("", _header(msg, "Auto-Submitted")).partition(";")[0]
        value = value.strip().lower()
        if value != "no":  # RFC 3834: anything but "no" is automatic
            return f"auto-reply (Auto-Submitted: {_short(value)})"
    for name in ("X-Autoreply", "X-Autorespond"):
        if name.lower() in names:
            return f"auto-reply ({name}: {_short(_header(msg, name))})"
    for name in ("List-Id", "List-Unsubscribe"):
        if name.lower() in names:
            return f"mailing list ({name}: {_short(_header(msg, name))})"
    precedence = _header(msg, "Precedence").strip().lower() if "precedence" in names else ""
    if precedence in ("bulk", "junk", "list", "auto_reply"):
        kind = "auto-reply" if precedence == "auto_reply" else "bulk mail"
        return f"{kind} (Precedence: {precedence})"
    subject = _header(msg, "Subject")
    if _OOF_SUBJECT.match(subject):
        return f"out-of-office (Subject: {_short(subject)})"
    if _BOUNCE_SUBJECT.match(subject):
        return f"bounce (Subject: {_short(subject)})"
    return None


def says_away(msg: Message) -> bool:
    """True for an automatic reply saying its sender is away (an out-of-office), as opposed to
    a bounce, a list or other machine mail: Auto-Submitted: auto-replied (RFC 3834), an
    X-Autoreply or X-Autorespond header, Precedence: auto_reply, or an out-of-office subject.
    """
    if _OOF_SUBJECT.match(_header(msg, "Subject")):
        return True
    keyword = _COMMENT.sub("", _header(msg, "Auto-Submitted")).partition(";")[0]
    if keyword.strip().lower() == "auto-replied":
        return True
    if "X-Autoreply" in msg or "X-Autorespond" in msg:
        return True
    return _header(msg, "Precedence").strip().lower() == "auto_reply"


def _header(msg: Message, name: str) -> str:
    """A header as one line of text, '' if absent or beyond repair."""
    try:
        value = msg.get(name)
    except (HeaderParseError, ValueError, TypeError, IndexError, AttributeError, LookupError):
        # policy.default parses on access and has tripped over hostile input; raw text will do
        value = next((v for k, v in msg.raw_items() if k.lower() == name.lower()), None)
    if value is None:
        return ""
    text = str(value)
    if "=?" in text:  # RFC 2047 encoded words, as compat32 leaves them
        with contextlib.suppress(HeaderParseError, ValueError, LookupError, UnicodeError):
            text = str(make_header(decode_header(text)))
    return " ".join(text.split())


@functools.lru_cache(maxsize=4096)
def _address(value: str) -> str:
    """The first address in a header value, lower-cased ('' unless it looks like one).

    Kept for the last few thousand values: each message's From is read several times, and
    the bot's own address once a message (a pure function of its text)."""
    address = parseaddr(value)[1].strip().lower()
    return address if "@" in address and " " not in address else ""


def _short(value: str, limit: int = 60) -> str:
    return value if len(value) <= limit else value[: limit - 1] + "…"


# ------------------------------------------------------------------------------ the reply text


def reply_text(msg: Message) -> str:
    """The new text the sender wrote: quoted original, mobile tags and '-- ' signature removed.

    >>> reply_text(message_from_string("\\nOD-01: 48\\n\\n> OD-01: \\n", policy=default))
    'OD-01: 48'
    """
    return strip_quoted(_text(msg, _cut_html_quote))


def full_text(msg: Message) -> str:
    """The whole text of a message, quoted original included (for comparing with what pmbot
    sent, and for messages that are pmbot's own prompts)."""
    return _text(msg, lambda html: html)


def _text(msg: Message, cut_html) -> str:
    plain = _body(msg, "plain")
    text = _decoded(plain) if plain is not None else ""
    if plain is not None and _param(plain, "format") == "flowed":
        text = _unflow(text, delsp=_param(plain, "delsp") == "yes")
    if not text.strip():  # HTML-only (Outlook often), or an empty text part beside the HTML
        html = _body(msg, "html")
        text = html_to_text(cut_html(_decoded(html))) if html is not None else ""
    return text


def _body(msg: Message, subtype: str) -> Message | None:
    """The first text/<subtype> part that is not an attachment (EmailMessage.get_body's job,
    done here so that compat32 messages work too)."""
    for part in msg.walk():
        if part.get_content_type() == f"text/{subtype}" and (
            part.get_content_disposition() != "attachment"
        ):
            return part
    return None


def _decoded(part: Message) -> str:
    """A text part's payload as str, whatever its charset claims; never raises."""
    payload = part.get_payload(decode=True)
    if not isinstance(payload, bytes):
        return ""
    try:
        codec = codecs.lookup(part.get_content_charset() or "us-ascii").name
        if codec not in ("ascii", "iso8859-1", "cp1252"):
            return payload.decode(codec, errors="replace")
    except (LookupError, UnicodeError):  # an unknown label, or a non-text codec like "base64"
        pass
    # Unknown, ASCII and Latin-1 labels often hide UTF-8 (strict decoding tells) or else
    # Windows-1252, which browsers assume for Latin-1 too: ’ – € live in its 0x80-0x9F.
    try:
        return payload.decode("utf-8")
    except UnicodeDecodeError:
        return payload.decode("cp1252", errors="replace")


def _param(part: Message, name: str) -> str:
    """A Content-Type parameter, lower-cased ('' if absent), RFC 2231 encoding undone."""
    if name not in str(part.get("Content-Type", "")).lower():
        return ""  # as get_param says, without parsing every parameter: the usual case
    return collapse_rfc2231_value(part.get_param(name, "")).lower()


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

# Tags are found first and then searched, each scan bounded: "[^>]*" over a whole message
# takes quadratic time on a crafted one.
_OPENING_TAG = re.compile(r"<(div|blockquote|hr)\b[^<>]{0,2000}>", re.IGNORECASE)
_QUOTE_TAG = re.compile(
    r"\bid=[\"']?(divRplyFwdMsg|appendonsend|mail-editor-reference-message-container"
    r"|stopSpelling)\b"  # the last: Hotmail's rule above the original
    r"|border:\s*none;\s*border-top:\s*solid"  # Outlook desktop's line above "From:"
    r"|\bclass=[\"']?[^\"'>]{0,200}\b(gmail_quote|moz-cite-prefix|yahoo_quoted)\b"
    r"|\btype=[\"']?cite",
    re.IGNORECASE,
)


def _cut_html_quote(html: str) -> str:
    """The HTML before the earliest marker of a quoted original."""
    for tag in _OPENING_TAG.finditer(html):
        if _QUOTE_TAG.search(tag.group()):
            return html[: tag.start()]
    return html


class _TextExtractor(HTMLParser):
    _SKIP = {"head", "style", "script", "title"}
    _BLOCK = re.compile(r"address|blockquote|d[dlt]|div|h[1-6r]|li|ol|p|pre|section|table|tr|ul")

    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.parts: list[str] = []
        self.skipping = 0
        self.quoting = 0  # inside <blockquote>: lines are marked "> " like a plain-text quote

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
        elif self._BLOCK.fullmatch(tag):
            self._newline()
            self.quoting += tag == "blockquote"
        elif tag in ("td", "th"):
            self.parts.append(" ")  # "OD-01:" and "48" in two cells read as one line

    def handle_endtag(self, tag: str) -> None:
        if tag in self._SKIP:
            self.skipping = max(0, self.skipping - 1)
        elif self._BLOCK.fullmatch(tag):
            self._newline()
            self.quoting = max(0, self.quoting - (tag == "blockquote"))

    def handle_data(self, data: str) -> None:
        text = re.sub(r"\s+", " ", data)  # HTML source line breaks are not text breaks
        line_start = not self.parts or self.parts[-1].endswith("\n")
        if self.skipping or (text == " " and line_start):
            return
        if self.quoting and line_start:
            # mail.ru, Yandex and others quote in a bare <blockquote>, with no class to find
            self.parts.append("> " * self.quoting)
        self.parts.append(text)


def html_to_text(html: str) -> str:
    """Readable text from HTML: blocks become lines, entities decoded, &nbsp; a plain space.

    >>> html_to_text("<style>p {}</style><p>OD-01:&nbsp;48</p><div>OD-02: 9 &amp; falling</div>")
    'OD-01: 48\\nOD-02: 9 & falling'
    """
    extractor = _TextExtractor()
    extractor.feed(_defused(html))
    extractor.close()
    text = "".join(extractor.parts).replace("\xa0", " ").replace("\u200b", "")
    lines = [line.strip() for line in text.split("\n")]
    return re.sub(r"\n{3,}", "\n\n", "\n".join(lines)).strip()


def _defused(html: str) -> str:
    """HTML that Python 3.11's HTMLParser reads in linear time and without raising.

    Before 3.11.13 it rescans to the end for every tag, comment or "<![" that never closes
    (quadratic on a crafted message), and raises AssertionError on an unknown "<![".
    """
    html = re.sub(r"<!\[(end)?if\b[^<>\]]{0,200}\]>", "", html, flags=re.IGNORECASE)  # Outlook
    html = html.replace("<![", "&lt;![")
    comments_end = max((match.end() for match in re.finditer(r"--\s*>", html)), default=0)
    html = html[:comments_end] + html[comments_end:].replace("<!--", "&lt;!--")
    end = html.rfind(">") + 1  # nothing after the last ">" can be markup
    return html[:end] + html[end:].replace("<", "&lt;")


# -------------------------------------------------------------------------------- quoted text

_ORIGINAL_MESSAGE = re.compile(
    r"-{2,}\s*(original message|ursprüngliche nachricht|message d'origine|mensaje original"
    r"|oorspronkelijk bericht|messaggio originale|forwarded message|weitergeleitete nachricht"
    # Zoho: "---- On Mon, 03 Nov 2026 09:12:00 +0000 Bot <bot@x> wrote ----"
    r"|on\s.{1,300}?\s(wrote|schrieb|a écrit|escribió|schreef|ha scritto|escreveu|skrev))"
    r"\s*-{2,}",
    re.IGNORECASE,
)
# Header lines of a quoted original, as Outlook and others write them in several languages:
# "From:", "*Sent:*" (bold, from HTML), "De :" (French spacing).
_FROM_LINE = re.compile(r"[\s*]*(from|von|de|van|da|från|fra|od)\s*:", re.IGNORECASE)
_HEADER_LINE = re.compile(
    r"[\s*]*(sent|date|to|cc|subject|reply-to|gesendet|datum|an|betreff|envoyé|à|objet|enviado"
    r"|fecha|para|asunto|verzonden|aan|onderwerp|inviato|data|a|oggetto|skickat|till|ämne|sendt"
    r"|til|emne|do|temat|wysłano)\s*:",
    re.IGNORECASE,
)
_ATTRIBUTION_START = re.compile(r"(on|am|le|el|op|il|em|den)\s", re.IGNORECASE)
_ATTRIBUTION = re.compile(
    r".*\b(wrote|schrieb|a écrit|escribió|schreef|ha scritto|escreveu|skrev)\b.*:", re.IGNORECASE
)
# "Jane wrote:" with no date, Lotus Notes' "Jane Smith/Ops/Agency wrote on 03/11/2026 09:12:00:"
_BARE_ATTRIBUTION = re.compile(
    r"[^:\n]{1,200}?\s(wrote|schrieb|a écrit|escribió|schreef|ha scritto|escreveu|skrev)"
    r"(\s+(on|am|le|el|op|il|em|den)\s.{1,100})?\s*:",
    re.IGNORECASE,
)
# Yandex and others: '03.11.2026, 12:12, "Bot" <bot@example.org>:' right above the quote
_ADDRESS_ATTRIBUTION = re.compile(r".{0,200}\d.{0,200}<?[^\s<>@]+@[^\s<>@]+>?\s*:")
_MOBILE_SIGNATURE = re.compile(
    r"(sent from (my|outlook|mail for|yahoo|samsung)|sent with |get outlook for "
    r"|von meinem .+ gesendet|gesendet von (meinem|outlook)|envoyé de (mon|outlook)"
    r"|enviado desde (mi|outlook)|verzonden (met|vanaf) |verstuurd vanaf )",
    re.IGNORECASE,
)

# How every line that one of the checks in strip_quoted can take begins, whatever follows:
# a separator or ">", the words of _FROM_LINE, _ATTRIBUTION_START and _MOBILE_SIGNATURE.
# The one-line attributions end in ":" and tags can hide a signature's words ("se<b>nt</b>
# from"), so lines with either are left to the checks. The rest are kept as typed, without
# trying each check. Most lines fail at the lookahead, and none goes back (`*+`).
_MAYBE_MARKER = re.compile(
    r"[\s*_]*+(?=[->fvdoaelisg])(?:[->]"
    r"|(?:from|von|de|van|da|från|fra|od)\s*:"
    r"|(?:on|am|le|el|op|il|em|den)\s"
    r"|sent |get |von |gesendet |envoy|envia|verzonden |verstuurd )",
    re.IGNORECASE,
)

_RULE = re.compile(r"\s*[_=-]{10,}\s*")


def strip_quoted(text: str) -> str:
    """A text reply minus the quoted original, mobile tags and a '-- ' signature block.

    >>> strip_quoted("- OD-01: 40\\n\\nFrom: Bot\\nSent: Monday\\nTo: Jane\\nOD-01:")
    '- OD-01: 40'
    """
    lines = text.replace("\r\n", "\n").replace("\r", "\n").replace("\ufeff", "").split("\n")
    kept: list[str] = []
    i = 0
    while i < len(lines):
        line = lines[i]
        trimmed = line.rstrip()
        if not trimmed.endswith(":") and "<" not in line and not _MAYBE_MARKER.match(line):
            kept.append(trimmed)  # no check below could take it: most lines are like this
            i += 1
            continue
        if _is_separator(line) or _starts_header_block(lines, i):
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
    if "--" in kept:  # the "-- " signature separator (rstripped above) and all below it
        kept = kept[: kept.index("--")]
    while kept and (not kept[-1].strip() or _RULE.fullmatch(kept[-1])):
        kept.pop()  # blank lines and the "_____" rule Outlook puts above a header block
    start = next((n for n, line in enumerate(kept) if line.strip()), len(kept))
    return "\n".join(kept[start:])


def _is_separator(line: str) -> bool:
    """'-----Original Message-----' and kin. Each such line starts with two hyphens: checked
    first, the pattern is not tried on the many lines that do not."""
    text = line.strip(" \t*_")
    return text.startswith("--") and bool(_ORIGINAL_MESSAGE.fullmatch(text))


def _starts_header_block(lines: list[str], i: int) -> bool:
    """A 'From:' line with two other header lines ('Sent:', 'To:', ...) right under it.

    Two are required, with no blank line between, so that a reply line like "From: my side, all
    fine" does not cut the reply.
    """
    if not _FROM_LINE.match(lines[i]):
        return False
    block = takewhile(str.strip, lines[i + 1 : i + 6])  # a header block has no blank lines
    keys = {match.group(1).lower() for line in block if (match := _HEADER_LINE.match(line))}
    return len(keys) >= 2


def _attribution_size(lines: list[str], i: int) -> int:
    """1 to 4 if an "On <date>, <name> wrote:" line (Gmail wraps it over up to four) or
    another client's attribution starts at i."""
    line = lines[i].strip()
    # Both one-line patterns end in ":", which most lines do not: tried only on those that do.
    if len(line) < 300 and line.endswith(":"):
        if _BARE_ATTRIBUTION.fullmatch(line):
            return 1
        if _ADDRESS_ATTRIBUTION.fullmatch(line) and _quote_follows(lines, i + 1):
            return 1
    if not _ATTRIBUTION_START.match(line):
        return 0
    for size in (1, 2, 3, 4):
        candidate = " ".join(line.strip() for line in lines[i : i + size])
        # a date always has a digit; the length cap keeps the regex cheap on long lines
        has_date = len(candidate) < 400 and re.search(r"\d", candidate)
        if has_date and _ATTRIBUTION.fullmatch(candidate):
            return size
    return 0


def _quote_follows(lines: list[str], i: int) -> bool:
    following = next((line for line in lines[i:] if line.strip()), "")
    return following.lstrip().startswith(">")


def _is_mobile_signature(line: str) -> bool:
    """'Sent from my iPhone', 'Get Outlook for iOS<https://aka.ms/o0ukef>' and kin."""
    if len(line) > 120:
        return False
    words = (re.sub(r"<[^>]*>", "", line) if "<" in line else line).strip()
    return len(words.split()) <= 7 and bool(_MOBILE_SIGNATURE.match(words))
