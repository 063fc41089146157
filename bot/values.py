"""Parse and validate a value as a measure owner types it.

Pure: no I/O, no clock, no environment. The service turns `InvalidValue` into a reply.

>>> split_line("* od-01: 48 - backlog down")
('OD-01', '48 - backlog down')
>>> parse_entry("48 - backlog down", "count", "OD-01")
Entry(value=48.0, reason=None, commentary='backlog down')
>>> format_value(1_200_000, "£")
'£1.2m'
"""

import math
import re
from dataclasses import dataclass
from decimal import Decimal
from typing import Any, NoReturn

# re.ASCII throughout: without it [A-Za-z] under IGNORECASE also matches the Kelvin sign
# and \d matches Arabic-Indic digits, which would slip past validation.
MEASURE_ID_PATTERN = re.compile(
    r"(?=[A-Za-z][A-Za-z0-9_./-]{0,19}(?![A-Za-z0-9_./-]))[A-Za-z][A-Za-z0-9_./-]*[0-9][A-Za-z0-9_./-]*"
    r"(?<![_./-])",
    re.ASCII,
)
"""A measure id as registers write them: OD-01, SC-00297, KPI-1.2, CS_01, NI195, PI-CS-001.

Up to 20 letters, digits, '-', '_', '.' and '/', starting with a letter, ending with a letter or
digit, and holding at least one digit. None of these is ':', '=' or a space, so 'ID: value'
stays unambiguous; the digit keeps prose such as 'Note: ...' or 'Regards: ...' from reading as
an answer line. Unanchored: use `fullmatch` to validate one."""

UNITS = ("%", "days", "count", "£", "score")
MAX_COMMENTARY = 2000
MAX_DIGITS = 15  # a float holds 15 significant digits; more would be silently rounded
MAX_ABS = Decimal("1e15")

_MULTIPLIERS = {"k": 3, "thousand": 3, "m": 6, "mn": 6, "million": 6, "bn": 9, "billion": 9}

# Pasted text brings look-alike spaces (NBSP from Outlook, thin spaces) and invisible
# characters (zero-width spaces, a byte-order mark); the patterns below expect plain spaces.
_CLEAN = str.maketrans(
    {chr(c): " " for c in (0xA0, 0x1680, *range(0x2000, 0x200B), 0x202F, 0x205F, 0x3000)}
    | dict.fromkeys(["\u200b", "\u200c", "\u200d", "\u2060", "\ufeff"])
)

_LINE = re.compile(
    r"[ \t]*(?:[0-9]{1,2}[.)][ \t]+|[-*+\u2022\u00b7][ \t]*)?"  # numbered or bulleted list
    r"[*_]*(?P<id>" + MEASURE_ID_PATTERN.pattern + r")[*_]*"  # Slack/Markdown emphasis
    # ':' or '='; a dash only with a space before it ('OD-01 - 48', or the en dash Outlook
    # substitutes for it), so 'OD-01 -3' is not taken as an answer with the sign eaten.
    r"(?:[ \t]*[:=]|[ \t]+[-\u2013\u2014](?=[ \t]|$))(?P<rest>.*)",
    re.ASCII,
)
_NOT_AVAILABLE = re.compile(
    r"(?:n/a|n\.a\.?|na|not[ \t]+available|unavailable)(?=\s|$|[-\u2013\u2014,.;:(])",
    re.ASCII | re.IGNORECASE,
)
_VALUE_PARTS = (
    r"(?P<sign>[-+\u2212])?(?P<pound>£[ \t]?)?(?P<sign2>[-+\u2212])?(?P<number>{number})"
    r"(?:[ \t]?(?P<mult>thousand|million|billion|bn|mn|k|m))?"
    r"(?:[ \t]?(?P<suffix>%|percent|days?|d))?"
    # The token must end cleanly: '1.234,50' or '48abc' is refused, not read as 1.234 or 48.
    r"(?![.,][0-9])(?=\s|$|[,;:(]|[-\u2013\u2014.]+(?:\s|$))"
)
_VALUE = re.compile(
    _VALUE_PARTS.format(number=r"[0-9]+(?:,[0-9]+)*(?:\.[0-9]+)?|\.[0-9]+"),
    re.ASCII | re.IGNORECASE,
)
# Thousands grouped by spaces, as Europe writes them and spreadsheets copy them ('1 234', with
# a plain, no-break or narrow no-break space, all plain spaces after _CLEAN). Taken only when
# nothing but a separator or the end follows: in '48 100 cases' the 100 may be commentary.
_SPACED_VALUE = re.compile(
    _VALUE_PARTS.format(number=r"[0-9]{1,3}(?: [0-9]{3})+(?:\.[0-9]+)?")
    # ...or the confirm word (#10): '1 234 confirm' is 1234, confirmed
    + r"(?=[ \t]*(?:$|[,;:(\u2013\u2014]|-+(?:\s|$)|confirm\b))",
    re.ASCII | re.IGNORECASE,
)
# The same, followed by commentary with no separator: taken only when the grouping cannot be
# a figure followed by a number ('56 006 173', '1 034', '1 234.50', '£1 234').
_SPACED_THEN_TEXT = re.compile(
    _VALUE_PARTS.format(number=r"[0-9]{1,3}(?: [0-9]{3})+(?:\.[0-9]+)?"), re.ASCII | re.IGNORECASE
)
_DIGIT_AFTER_SPACE = re.compile(r"[ \t]+[0-9]", re.ASCII)
# One separator between the value and the commentary: '48 - text', '48, text', '48. text'.
# A dash before a digit is kept: in '48 -3 on last month' it is a sign.
_SEPARATOR = re.compile(r"(?:[,;:]|[-\u2013\u2014.]+(?![0-9]))\s*", re.ASCII)
_THOUSANDS = re.compile(r"[0-9]{1,3}(?:,[0-9]{3})+", re.ASCII)


class InvalidValue(ValueError):
    """A value the owner must retype: `code` says what was wrong and `params` what the words
    for it need (templates/values.txt words it: bot.templating.value_refusal)."""

    def __init__(self, code: str, **params: Any) -> None:
        super().__init__(code)
        self.code = code
        self.params = params


@dataclass(frozen=True)
class Entry:
    """One parsed submission: a figure, or a gap with the reason for it.

    >>> Entry(None, reason="system outage").not_available
    True
    """

    value: float | None
    reason: str | None = None
    commentary: str = ""

    @property
    def not_available(self) -> bool:
        return self.value is None


def split_line(line: str) -> tuple[str, str] | None:
    """Split an 'ID: value' answer line; None when the line is not one.

    Accepts leading whitespace, a list bullet or number, Markdown emphasis round the id, and
    ':', '=' or a spaced dash as separator. Quoted lines ('> OD-01: 48') are the original
    prompt, not answers, so they give None, as does 'OD-01 48' with no separator. Only the
    first line of a multi-line string is read.

    >>> split_line("- od-01 = 48 backlog down\\r\\n")
    ('OD-01', '48 backlog down')
    >>> split_line("OD-01:")
    ('OD-01', '')
    >>> split_line("> OD-01: 48") is None
    True
    """
    lines = _cleaned(line).splitlines()
    match = _LINE.match(lines[0]) if lines else None
    if match is None:
        return None
    return match["id"].upper(), match["rest"].strip()


def parse_entry(text: str, unit: str, measure_id: str = "") -> Entry:
    """Parse what follows 'OD-01:' for a measure recorded in `unit`. Raises InvalidValue.

    >>> parse_entry("£1.2m (two new contracts)", "£")
    Entry(value=1200000.0, reason=None, commentary='two new contracts')
    >>> parse_entry("n/a - system outage", "%")
    Entry(value=None, reason='system outage', commentary='')
    """
    if unit not in UNITS:
        raise ValueError(f"unknown unit {unit!r}; expected one of {', '.join(UNITS)}")
    text = _cleaned(text).replace("\r\n", "\n").strip()
    if len(text) > MAX_COMMENTARY + 100:  # refuse early rather than scan a pasted document
        _refuse(measure_id, "text_too_long", length=len(text), limit=MAX_COMMENTARY)
    if not text:
        _refuse(measure_id, "no_value")

    gap = _NOT_AVAILABLE.match(text)
    if gap:
        reason = _commentary(text[gap.end() :], measure_id, "reason")
        if not reason:
            _refuse(measure_id, "needs_reason", shown=gap[0])
        return Entry(None, reason=reason)

    match = _VALUE.match(text)
    if match is not None and _DIGIT_AFTER_SPACE.match(text, match.end()):
        match = _spaced_value(text, measure_id)
    if match is None or (match["sign"] and match["sign2"]):
        word = text.split()[0][:30]
        _refuse(measure_id, "not_a_number", shown=word)
    shown = match[0].strip()
    value = _to_decimal(match, unit, shown, measure_id)
    _check_range(value, unit, shown, measure_id)
    commentary = _commentary(text[match.end() :], measure_id, "commentary")
    return Entry(float(value) + 0.0, commentary=commentary)  # + 0.0 turns -0.0 into 0.0


def format_value(value: float | None, unit: str) -> str:
    """Show a value to a person; precise to 2 decimals (£ millions to 2 decimals of a million).

    NaN counts as not available, since that is how pandas hands over a gap.

    >>> [format_value(87.5, "%"), format_value(1234, "count"), format_value(12.5, "days")]
    ['87.5%', '1,234', '12.5 days']
    >>> format_value(None, "£")
    'n/a'
    """
    if value is None or not math.isfinite(value):
        return "n/a"
    if unit == "%":
        return _number(value) + "%"
    if unit == "days":
        shown = _number(value)
        return f"{shown} day" if shown == "1" else f"{shown} days"
    if unit == "£":
        return _pounds(value)
    return _number(value)


def _cleaned(text: str) -> str:
    """``text`` with look-alike spaces plain and invisible characters gone (``_CLEAN``); every
    one of them is outside ASCII, so most text, being ASCII, is already clean."""
    return text if text.isascii() else text.translate(_CLEAN)


def _refuse(measure_id: str, code: str, **params: Any) -> NoReturn:
    raise InvalidValue(code, measure_id=measure_id.strip().upper(), **params)


def _spaced_value(text: str, measure_id: str) -> re.Match[str]:
    """'1 234' as one number; '12 5' or '48 100 cases' refused, since either reading may be
    what the owner meant and a wrong figure stored is worse than a question."""
    match = _SPACED_VALUE.match(text)
    loose = _SPACED_THEN_TEXT.match(text)
    if match is None and loose and not _DIGIT_AFTER_SPACE.match(text, loose.end()):
        groups = loose["number"].split(" ")
        if len(groups) > 2 or "." in loose["number"] or loose["pound"] or groups[1][0] == "0":
            match = loose
    if match is None:
        shown = re.match(r"\S+(?:[ \t]+[0-9][^ \t]*)+", text, re.ASCII)
        _refuse(measure_id, "spaced", shown=(shown[0] if shown else text)[:30])
    return match


def _to_decimal(match: re.Match[str], unit: str, shown: str, measure_id: str) -> Decimal:
    number, suffix = match["number"], (match["suffix"] or "").lower()
    if "," in number and not _THOUSANDS.fullmatch(number.split(".")[0]):
        _refuse(measure_id, "commas", shown=number)
    # No more characters than the limit means no more digits: most figures skip the count.
    if len(number) > MAX_DIGITS and sum(c.isdigit() for c in number) > MAX_DIGITS:
        _refuse(measure_id, "too_many_digits", shown=shown[:30], limit=MAX_DIGITS)
    if match["pound"] and unit != "£":
        _refuse(measure_id, "pound_sign", shown=shown, unit=unit)
    if suffix in ("%", "percent") and unit != "%":
        _refuse(measure_id, "percent_sign", shown=shown, unit=unit)
    if suffix.startswith("d") and unit != "days":
        _refuse(measure_id, "in_days", shown=shown, unit=unit)
    if match["mult"] and unit not in ("count", "£"):
        _refuse(measure_id, "multiplier", shown=shown, multiplier=match["mult"], unit=unit)
    exponent = _MULTIPLIERS.get((match["mult"] or "").lower(), 0)
    value = Decimal(number.replace(",", "").replace(" ", "")).scaleb(exponent)
    return -value if (match["sign"] or match["sign2"]) in ("-", "\u2212") else value


def _check_range(value: Decimal, unit: str, shown: str, measure_id: str) -> None:
    if abs(value) >= MAX_ABS:
        _refuse(measure_id, "too_large", shown=shown)
    if unit == "%" and not 0 <= value <= 100:
        _refuse(measure_id, "above_100" if value > 100 else "below_0", shown=shown)
    if unit in ("count", "days") and value < 0:
        _refuse(measure_id, "negative", shown=shown, unit=unit)
    if unit == "count" and value != value.to_integral_value():
        _refuse(measure_id, "not_whole", shown=shown)


def _commentary(rest: str, measure_id: str, what: str) -> str:
    rest = rest.strip()
    separator = _SEPARATOR.match(rest)
    if separator:
        rest = rest[separator.end() :]
    if rest.startswith("(") and rest.endswith(")") and "(" not in rest[1:]:
        rest = rest[1:-1].strip()  # '48 (backlog down)'
    if len(rest) > MAX_COMMENTARY:
        _refuse(measure_id, "comment_too_long", what=what, length=len(rest), limit=MAX_COMMENTARY)
    return rest


def _number(value: float) -> str:
    shown = f"{abs(value):,.2f}".rstrip("0").rstrip(".")
    return "-" + shown if value < 0 and shown != "0" else shown


def _pounds(value: float) -> str:
    sign = "-" if value < 0 else ""
    for scale, suffix in ((1e9, "bn"), (1e6, "m")):
        if abs(value) >= scale:
            return f"{sign}£{_number(abs(value) / scale)}{suffix}"
    pence = round(abs(value), 2)
    if pence == 0:
        return "£0"
    return f"{sign}£{pence:,.0f}" if pence.is_integer() else f"{sign}£{pence:,.2f}"
