"""Parsing and validation of Swedish personnummer and samordningsnummer, as Skatteverket defines them (SKV 704)."""

from __future__ import annotations

import calendar
import re
from dataclasses import dataclass
from datetime import date
from typing import Literal

__all__ = [
    "REASONS",
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
_CENTURIES = (18, 19, 20)
# A ten-digit number with '-' (or none) is of someone who turns at most 99 this year; '+' from the year of 100.
_CENTENARIAN_AGE = 100

_EXPECTED_SV = "Skriv ÅÅÅÅMMDD-NNNK, eller ÅÅMMDD-NNNK med '+' i stället för '-' från det år personen fyller hundra."
_EXPECTED_EN = "Write YYYYMMDD-NNNC, or YYMMDD-NNNC with '+' instead of '-' from the year the person turns a hundred."

# Fixed texts in Swedish and English, without digits, so they can never echo the (sensitive) input.
_MESSAGES: dict[str, tuple[str, str]] = {
    "empty": (
        "Inget personnummer angavs. " + _EXPECTED_SV,
        "No personnummer was given. " + _EXPECTED_EN,
    ),
    "format": (
        "Ett personnummer har tio eller tolv siffror och högst ett skiljetecken, inga andra tecken. " + _EXPECTED_SV,
        "A personnummer has ten or twelve digits and at most one separator, no other characters. " + _EXPECTED_EN,
    ),
    "separator": (
        "Skiljetecknet står fel: bara ett '-' eller '+', direkt före de fyra sista siffrorna. " + _EXPECTED_SV,
        "The separator is misplaced: only one '-' or '+', right before the last four digits. " + _EXPECTED_EN,
    ),
    "century": (
        "Århundradet måste vara artonhundra-, nittonhundra- eller tjugohundratalet "
        "(de två första siffrorna i tolvsiffrig form).",
        "The century must be the eighteen, nineteen or twenty hundreds "
        "(the first two digits of the twelve-digit form).",
    ),
    "date": (
        "Födelsedatumet finns inte i kalendern. I ett samordningsnummer är dagen födelsedagen plus sextio; "
        "okänd månad skrivs noll-noll och okänd dag sextio.",
        "The birth date is not a calendar date. In a samordningsnummer the day is the birth day plus sixty; "
        "an unknown month is written zero-zero and an unknown day sixty.",
    ),
    "future": (
        "Födelsedatumet ligger i framtiden. I tiosiffrig form betyder '-' (eller inget tecken) att personen fyller "
        "högst nittionio i år; från det år personen fyller hundra skrivs '+'.",
        "The birth date is in the future. In the ten-digit form '-' (or no separator) means the person turns at most "
        "ninety-nine this year; from the year they turn a hundred it is '+'.",
    ),
    "serial": (
        "Födelsenumret (de tre siffrorna före kontrollsiffran) kan inte vara noll-noll-noll; "
        "Skatteverket delar ut noll-noll-ett till nio-nio-nio.",
        "The birth serial (the three digits before the check digit) cannot be zero-zero-zero; "
        "Skatteverket issues zero-zero-one to nine-nine-nine.",
    ),
    "checksum": (
        "Kontrollsiffran (den sista siffran) stämmer inte; numret är troligen felskrivet.",
        "The check digit (the last digit) is wrong; the number is probably mistyped.",
    ),
}
REASONS = frozenset(_MESSAGES)


class InvalidPersonnummer(ValueError):
    """Raised with a reason code and a Swedish-and-English message that never contains the number itself."""

    reason: str
    message_sv: str
    message_en: str

    def __init__(self, reason: str) -> None:
        self.reason = reason
        self.message_sv, self.message_en = _MESSAGES[reason]
        super().__init__(f"{self.message_sv} / {self.message_en}")


@dataclass(frozen=True, repr=False)
class Personnummer:
    """A validated personnummer or samordningsnummer, redacted in repr and str; `digits` is its one normalised form
    (YYYYMMDDNNNC), `birth_month`/`birth_day` are None when unknown (samordningsnummer with month 00, day 60)."""

    digits: str
    birth_year: int
    birth_month: int | None
    birth_day: int | None
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

    @property
    def birth_date_is_partial(self) -> bool:
        """True when the month or the day of birth is unknown."""
        return self.birth_month is None or self.birth_day is None

    @property
    def birth_date(self) -> date | None:
        """The birth date, or None when it is only partly known (see earliest/latest_birth_date)."""
        if self.birth_month is None or self.birth_day is None:
            return None
        return date(self.birth_year, self.birth_month, self.birth_day)

    @property
    def earliest_birth_date(self) -> date:
        """The earliest day the person can have been born (the birth date itself when it is known)."""
        # Any day 1-31 exists in January, so an unknown month can always start there.
        return date(self.birth_year, self.birth_month or 1, self.birth_day or 1)

    @property
    def latest_birth_date(self) -> date:
        """The latest day the person can have been born; checks of minority use it, so they err towards a minor."""
        month = self.birth_month or 12  # December has 31 days, so a known day always fits it
        return date(self.birth_year, month, self.birth_day or calendar.monthrange(self.birth_year, month)[1])

    def age_on(self, day: date) -> int:
        """Completed years on `day`; with a partly unknown birth date the lowest age the person can have."""
        if day < self.earliest_birth_date:
            raise ValueError("The day is before the birth date.")
        # Someone born on 29 February ages on 1 March; an unknown date counts as late as it can be.
        born = min(self.latest_birth_date, day)
        return day.year - born.year - ((day.month, day.day) < (born.month, born.day))


def luhn_check_digit(nine_digits: str) -> int:
    """Luhn (mod 10) check digit over YYMMDDNNN, weights 2,1,2,... from the left."""
    if len(nine_digits) != 9 or not set(nine_digits) <= set("0123456789"):
        raise ValueError("Expected exactly nine ASCII digits.")
    total = 0
    for index, char in enumerate(nine_digits):
        product = int(char) * (2 if index % 2 == 0 else 1)
        total += product // 10 + product % 10
    return (10 - total % 10) % 10


def _ten_digit_year(yy: int, plus: bool, today: date) -> int:
    """The full birth year of YYMMDD±NNNC as SKV 704 defines the separator."""
    # '+': turns 100 or more this calendar year, so born in today.year - 100 or before. '-': turns at most 99, so
    # born in today.year - 99 .. today.year; a date later this year is then refused as in the future rather than
    # moved a century back, because that person (turning 100 this year) is written with '+'.
    latest = today.year - _CENTENARIAN_AGE if plus else today.year
    return latest - (latest - yy) % 100


def _birth_date_parts(year: int, month: int, day_field: int) -> tuple[int | None, int | None, bool]:
    """(month or None, day or None, is samordningsnummer); raises 'date' for anything Skatteverket never issues."""
    is_samordning = day_field >= _SAMORDNING_OFFSET
    day = day_field - _SAMORDNING_OFFSET if is_samordning else day_field
    # Only samordningsnummer are issued with an unknown month (00) or day (00 + 60).
    known_month = month if month or not is_samordning else None
    known_day = day if day or not is_samordning else None
    if known_month is not None and not 1 <= known_month <= 12:
        raise InvalidPersonnummer("date")
    if known_day is not None:
        last_day = 31 if known_month is None else calendar.monthrange(year, known_month)[1]
        if not 1 <= known_day <= last_day:
            raise InvalidPersonnummer("date")
    return known_month, known_day, is_samordning


def parse_personnummer(text: str, *, today: date) -> Personnummer:
    """Parse and validate a personnummer or samordningsnummer (10 or 12 digits); `today` decides the century."""
    cleaned = text.strip()
    if not cleaned:
        raise InvalidPersonnummer("empty")
    if not set(cleaned) <= _ALLOWED:
        raise InvalidPersonnummer("format")
    only_digits = cleaned.replace("-", "").replace("+", "")
    if len(only_digits) not in (10, 12):
        raise InvalidPersonnummer("format")
    match = (_TWELVE if len(only_digits) == 12 else _TEN).fullmatch(cleaned)
    if match is None:
        raise InvalidPersonnummer("separator")
    head, separator, tail = match.groups()

    # With the century written out the separator carries nothing: '-', '+' and none all mean the same number.
    year = int(head[:4]) if len(head) == 8 else _ten_digit_year(int(head[:2]), separator == "+", today)
    if year // 100 not in _CENTURIES:
        raise InvalidPersonnummer("century")
    month, day, is_samordning = _birth_date_parts(year, int(head[-4:-2]), int(head[-2:]))

    digits = f"{year:04d}{head[-4:]}{tail}"
    number = Personnummer(
        digits=digits,
        birth_year=year,
        birth_month=month,
        birth_day=day,
        is_samordningsnummer=is_samordning,
        legal_gender="male" if int(digits[10]) % 2 else "female",
    )
    if number.earliest_birth_date > today:
        raise InvalidPersonnummer("future")
    if digits[8:11] == "000":
        raise InvalidPersonnummer("serial")
    if luhn_check_digit(digits[2:11]) != int(digits[11]):
        raise InvalidPersonnummer("checksum")
    return number


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
    if serial == 0 and gender_digit == 0:
        gender_digit = 2  # Skatteverket never issues the serial 000
    ymd = f"{birth_date.year:04d}{birth_date.month:02d}{day:02d}"
    body = f"{ymd}{serial:02d}{gender_digit}"
    return f"{body[:8]}-{body[8:]}{luhn_check_digit(body[2:])}"
