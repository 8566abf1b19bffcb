"""Parsing and validation of Swedish personnummer and samordningsnummer."""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import date
from typing import Literal

__all__ = [
    "InvalidPersonnummer",
    "Personnummer",
    "fictitious_personnummer",
    "luhn_check_digit",
    "parse_personnummer",
]

# [0-9] rather than \d: \d also matches non-ASCII digits such as Arabic-Indic ones.
_TWELVE = re.compile(r"([0-9]{8})([-+]?)([0-9]{4})")
_TEN = re.compile(r"([0-9]{6})([-+]?)([0-9]{4})")
_ALLOWED = frozenset("0123456789-+")
_SAMORDNING_OFFSET = 60

_EXPECTED = "Expected YYYYMMDD-NNNC, or YYMMDD-NNNC with '+' instead of '-' for people aged a hundred or more."
# Messages are fixed texts without digits, so they can never echo the (sensitive) input.
_MESSAGES = {
    "empty": "No personnummer was given. " + _EXPECTED,
    "format": "A personnummer has ten or twelve digits and no other characters. " + _EXPECTED,
    "separator": "The separator is misplaced or not allowed: only one '-' (or '+' in "
    "the ten-digit form) before the last four digits. " + _EXPECTED,
    "date": "The birth date part is not a real calendar date "
    "(for a samordningsnummer the day is the birth day plus sixty).",
    "future": "The birth date is in the future.",
    "checksum": "The check digit (the last digit) is wrong; the number is probably mistyped.",
}


class InvalidPersonnummer(ValueError):
    """Raised with a reason code and a message that never contains the number itself."""

    reason: str

    def __init__(self, reason: str, message: str) -> None:
        super().__init__(message)
        self.reason = reason


def _fail(reason: str) -> InvalidPersonnummer:
    """Build the error for `reason` with its fixed message."""
    return InvalidPersonnummer(reason, _MESSAGES[reason])


@dataclass(frozen=True, repr=False)
class Personnummer:
    """A validated personnummer or samordningsnummer; redacted in repr and str."""

    digits: str
    birth_date: date
    is_samordningsnummer: bool
    legal_gender: Literal["female", "male"]

    def __repr__(self) -> str:
        """Redacted, so the number never ends up in logs or tracebacks by accident."""
        return "Personnummer(<redacted>)"

    def __str__(self) -> str:
        """Redacted for the same reason as repr."""
        return "<personnummer>"

    def formatted(self) -> str:
        """The number as YYYYMMDD-NNNC: the one deliberate way to get it as text."""
        return f"{self.digits[:8]}-{self.digits[8:]}"

    def age_on(self, day: date) -> int:
        """Completed years on `day` (someone born on 29 February ages on 1 March)."""
        if day < self.birth_date:
            raise ValueError("The day is before the birth date.")
        before_birthday = (day.month, day.day) < (
            self.birth_date.month,
            self.birth_date.day,
        )
        return day.year - self.birth_date.year - before_birthday


def luhn_check_digit(nine_digits: str) -> int:
    """Luhn (mod 10) check digit over YYMMDDNNN, weights 2,1,2,... from the left."""
    if len(nine_digits) != 9 or not set(nine_digits) <= set("0123456789"):
        raise ValueError("Expected exactly nine ASCII digits.")
    total = 0
    for index, char in enumerate(nine_digits):
        product = int(char) * (2 if index % 2 == 0 else 1)
        total += product // 10 + product % 10
    return (10 - total % 10) % 10


def _century_year(yy: int, month: int, day: int, plus: bool, today: date) -> int:
    """Full year for YYMMDD: the latest not after today, a century earlier for '+'."""
    year = today.year - (today.year - yy) % 100
    # Tuples, not dates: month/day may still be invalid; date() reports that later.
    if (year, month, day) > (today.year, today.month, today.day):
        year -= 100
    # That year gives an age below 100, so '+' (aged 100+) means one century back.
    return year - 100 if plus else year


def parse_personnummer(text: str, *, today: date) -> Personnummer:
    """Parse and validate a personnummer or samordningsnummer (10 or 12 digits)."""
    cleaned = text.strip()
    if not cleaned:
        raise _fail("empty")
    if not set(cleaned) <= _ALLOWED:
        raise _fail("format")
    only_digits = cleaned.replace("-", "").replace("+", "")
    if len(only_digits) not in (10, 12):
        raise _fail("format")

    match = (_TWELVE if len(only_digits) == 12 else _TEN).fullmatch(cleaned)
    if match is None:
        raise _fail("separator")
    head, separator, tail = match.groups()
    month, day_field = int(head[-4:-2]), int(head[-2:])
    # Samordningsnummer: day + 60, so a day of 61..91 stands for a real day 1..31.
    is_samordning = day_field > _SAMORDNING_OFFSET
    day = day_field - _SAMORDNING_OFFSET if is_samordning else day_field

    if len(head) == 8:
        if separator == "+":
            raise _fail("separator")  # the century is explicit, so '+' is meaningless
        year = int(head[:4])
    else:
        year = _century_year(int(head[:2]), month, day, separator == "+", today)

    try:
        birth_date = date(year, month, day)
    except ValueError:
        raise _fail("date") from None
    if birth_date > today:
        raise _fail("future")

    digits = f"{year:04d}{head[-4:]}{tail}"
    if luhn_check_digit(digits[2:11]) != int(digits[11]):
        raise _fail("checksum")
    return Personnummer(
        digits=digits,
        birth_date=birth_date,
        is_samordningsnummer=is_samordning,
        legal_gender="male" if int(digits[10]) % 2 else "female",
    )


def fictitious_personnummer(
    birth_date: date,
    serial: int,
    *,
    gender: Literal["female", "male"],
    samordningsnummer: bool = False,
) -> str:
    """A valid "YYYYMMDD-NNNC" for tests and demos; it may match a real person."""
    if not 0 <= serial <= 99:
        raise ValueError("serial must be in 0..99.")
    day = birth_date.day + (_SAMORDNING_OFFSET if samordningsnummer else 0)
    # Gender digit varies with the serial so generated data is not all 1s and 2s.
    gender_digit = 2 * (serial % 5) + (1 if gender == "male" else 0)
    ymd = f"{birth_date.year:04d}{birth_date.month:02d}{day:02d}"
    body = f"{ymd}{serial:02d}{gender_digit}"
    return f"{body[:8]}-{body[8:]}{luhn_check_digit(body[2:])}"
