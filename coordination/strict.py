"""Strict input: the one rule for text, calendar dates, instants and log positions, whichever way they come in
(the HTTP API's bodies and query strings, the web pages' forms, the importer, the command line, and the
application service itself). Every refusal is a ValueError whose message says what to write and never repeats
the input (docs/api.md, "Strict input")."""

from __future__ import annotations

import re
import unicodedata
from datetime import UTC, date, datetime

# -- text ----------------------------------------------------------------------------------------------------------

# Control characters (C0, DEL, C1), lone surrogates, and the bidi overrides, embeddings and isolates that can make
# text display in another order than it is stored (U+202A-U+202E, U+2066-U+2069, "Trojan Source").
_FORBIDDEN = re.compile("[\x00-\x1f\x7f-\x9f\u202a-\u202e\u2066-\u2069\ud800-\udfff]")
_LINE_BREAKS = frozenset("\t\n\r")  # allowed where a text may have several lines
_ESCAPES = frozenset("\x1b\x9b")  # ESC and CSI: the start of a terminal escape sequence
_BIDI = frozenset(map(chr, [*range(0x202A, 0x202F), *range(0x2066, 0x206A)]))
# Whitespace and the characters that show nothing (zero-width space, non-joiner and joiner, direction marks, word
# joiner and invisible operators, byte order mark, soft hyphen, combining grapheme joiner, Arabic letter mark,
# Mongolian vowel separator): a text of only these is blank.
_BLANK = re.compile("[\\s\u200b-\u200f\u2060-\u2064\ufeff\u00ad\u034f\u061c\u180e]*")

CONTROL = "must not contain control characters"
ESCAPE = "must not contain terminal escape sequences"
ONE_LINE = "must be a single line, without line breaks or tabs"
BIDI = "must not contain bidirectional overrides or isolates (U+202A-U+202E, U+2066-U+2069)"
SURROGATE = "must be valid Unicode text (no lone surrogates)"
BLANK = "must not be blank"


def character_problem(value: str, *, several_lines: bool) -> str | None:
    """What is wrong with the characters of `value` (None when nothing is): control characters other than tab and
    line breaks in a text of several lines, escape sequences, bidi overrides and isolates, lone surrogates."""
    for found in _FORBIDDEN.finditer(value):
        ch = found.group()
        if ch in _LINE_BREAKS:
            if several_lines:
                continue
            return ONE_LINE
        if ch in _ESCAPES:
            return ESCAPE
        if ch in _BIDI:
            return BIDI
        if "\ud800" <= ch <= "\udfff":
            return SURROGATE
        return CONTROL
    return None


def text_problem(value: str, *, several_lines: bool) -> str | None:
    """What is wrong with `value` as a text field (None when nothing is): its characters, or that it is blank
    once whitespace and zero-width characters are gone."""
    problem = character_problem(value, several_lines=several_lines)
    if problem is None and _BLANK.fullmatch(value):
        return BLANK
    return problem


def clean_text(value: str, *, several_lines: bool) -> str:
    """`value` in Unicode NFC when it is a valid text field; ValueError (saying what is wrong, never what was
    given) otherwise. Nothing is trimmed or removed: what is accepted is stored as given, in NFC."""
    problem = text_problem(value, several_lines=several_lines)
    if problem is not None:
        raise ValueError(problem)
    return unicodedata.normalize("NFC", value)


# -- dates and instants ---------------------------------------------------------------------------------------------

EARLIEST_DAY = date(1900, 1, 1)
LATEST_DAY = date(2199, 12, 31)
EARLIEST_INSTANT = datetime(1900, 1, 1, tzinfo=UTC)
END_OF_INSTANTS = datetime(2200, 1, 1, tzinfo=UTC)  # excluded
MAX_SEQ = 2**63 - 1  # a disclosure-log position (PostgreSQL bigint)

DAY_FORMAT = "must be a date like 2026-03-01 (no time)"
REAL_DAY = "must be a real date like 2026-03-01"
DAY_BOUNDS = "must be between 1900-01-01 and 2199-12-31"
INSTANT_FORMAT = "must be an instant with its offset, like 2026-03-01T12:00:00+01:00"
INSTANT_OFFSET = "must carry its offset, like 2026-03-01T12:00:00+01:00"
INSTANT_BOUNDS = "must be between 1900-01-01T00:00:00Z and 2199-12-31T23:59:59Z"

_DAY = re.compile(r"[0-9]{4}-[0-9]{2}-[0-9]{2}")
_INSTANT = re.compile(
    r"(?P<day>[0-9]{4}-[0-9]{2}-[0-9]{2})[Tt ][0-9]{2}:[0-9]{2}(:[0-9]{2}([.,][0-9]{1,9})?)?"
    r"(?P<offset>[Zz]|[+-][0-9]{2}(:?[0-9]{2})?)?"
)


class OutOfBounds(ValueError):
    """A well-formed date or instant outside 1900-01-01 ... 2199-12-31."""


def check_day(day: date) -> date:
    """`day` when it is within the bounds (OutOfBounds otherwise)."""
    if isinstance(day, datetime):
        raise ValueError(DAY_FORMAT)
    if not EARLIEST_DAY <= day <= LATEST_DAY:
        raise OutOfBounds(DAY_BOUNDS)
    return day


def parse_day(text: str) -> date:
    """A calendar date written YYYY-MM-DD, within the bounds; nothing else (no time, no other ISO form)."""
    if not _DAY.fullmatch(text):
        raise ValueError(DAY_FORMAT)
    try:
        day = date.fromisoformat(text)
    except ValueError:
        raise ValueError(REAL_DAY) from None
    return check_day(day)


def check_instant(moment: datetime) -> datetime:
    """`moment` when it carries an offset and lies within the bounds once in UTC (OutOfBounds otherwise)."""
    if moment.tzinfo is None or moment.utcoffset() is None:
        raise ValueError(INSTANT_OFFSET)
    # The local year first: converting year 1 or 9999 to UTC could overflow.
    if not EARLIEST_DAY.year - 1 <= moment.year <= LATEST_DAY.year + 1:
        raise OutOfBounds(INSTANT_BOUNDS)
    if not EARLIEST_INSTANT <= moment.astimezone(UTC) < END_OF_INSTANTS:
        raise OutOfBounds(INSTANT_BOUNDS)
    return moment


def parse_instant(text: str) -> datetime:
    """An instant written in ISO 8601 with its offset (Z or +01:00), within the bounds once in UTC."""
    found = _INSTANT.fullmatch(text)
    if found is None:
        raise ValueError(INSTANT_FORMAT)
    if found.group("offset") is None:
        raise ValueError(INSTANT_OFFSET)
    try:
        moment = datetime.fromisoformat(text)
    except ValueError:
        raise ValueError(INSTANT_FORMAT) from None
    return check_instant(moment)


def parse_whole_number(text: str, maximum: int) -> int:
    """A whole number 0 ... `maximum` written in ASCII digits (no sign, no exponent, no other script's digits)."""
    if not re.fullmatch(r"[0-9]{1,19}", text) or int(text) > maximum:
        raise ValueError(f"must be a whole number from 0 to {maximum}")
    return int(text)
