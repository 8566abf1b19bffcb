"""Tests for coordination.personnummer: examples per rule, Skatteverket's published test numbers, properties."""

from __future__ import annotations

import re
from datetime import date
from pathlib import Path
from typing import Literal

import pytest
from hypothesis import assume, given, settings
from hypothesis import strategies as st

from coordination.personnummer import (
    REASONS,
    InvalidPersonnummer,
    Personnummer,
    fictitious_personnummer,
    luhn_check_digit,
    parse_personnummer,
)

TODAY = date(2026, 11, 25)
# No example database: the tests must not write files into the repository.
property_settings = settings(database=None, max_examples=300)

DATA_FILE = Path(__file__).parents[1] / "data" / "skatteverket_testpersonnummer.txt"
genders = st.sampled_from(["female", "male"])
birth_dates = st.dates(min_value=date(1900, 1, 1), max_value=TODAY)
serials = st.integers(min_value=0, max_value=99)


def parse(text: str, today: date = TODAY) -> Personnummer:
    return parse_personnummer(text, today=today)


def luhn_valid(ten_digits: str) -> bool:
    """Independent Luhn check over a whole ten-digit number, check digit included."""
    total = 0
    for index, char in enumerate(ten_digits):
        product = int(char) * (2 if index % 2 == 0 else 1)
        total += sum(int(d) for d in str(product))
    return total % 10 == 0


def with_check_digit(eleven: str) -> str:
    """YYYYMMDDNNN plus its Luhn digit, as twelve digits without separator."""
    return eleven + str(luhn_check_digit(eleven[2:]))


def ten_digit_form(twelve: str, today: date = TODAY) -> str:
    """YYMMDD-NNNC, with '+' from 1 January of the year the person turns a hundred (SKV 704)."""
    digits = twelve.replace("-", "").replace("+", "")
    separator = "+" if today.year - int(digits[:4]) >= 100 else "-"
    return f"{digits[2:8]}{separator}{digits[8:]}"


def spellings(twelve: str, today: date = TODAY) -> list[str]:
    """Every valid way to write the number on `today`."""
    digits = twelve.replace("-", "").replace("+", "")
    forms = [digits, f"{digits[:8]}-{digits[8:]}", f"{digits[:8]}+{digits[8:]}", ten_digit_form(digits, today)]
    if "-" in forms[-1]:  # without a separator the ten-digit form reads as '-'
        forms.append(forms[-1].replace("-", ""))
    return forms


def reason_of(text: str, today: date = TODAY) -> str:
    with pytest.raises(InvalidPersonnummer) as caught:
        parse(text, today)
    return caught.value.reason


def published_numbers() -> list[str]:
    """The numbers in tests/data: Skatteverket's test numbers, twelve digits each."""
    lines = (line.strip() for line in DATA_FILE.read_text(encoding="utf-8").splitlines())
    return [line for line in lines if line and not line.startswith("#")]


PUBLISHED = published_numbers()


# --- known numbers -------------------------------------------------------------

VALID_EXAMPLES = [
    "19811218-9876",
    "19121212-1212",
    "20121212-1212",
    "20000229-1235",
    "19811278-9873",  # samordningsnummer for 1981-12-18
    "20000289-1240",  # samordningsnummer for a leap day
    "19261204-9029",  # Skatteverket's test number of a woman turning 100 on 2026-12-04
    "19150072-2390",  # Skatteverket's test samordningsnummer, birth month unknown
    "19171160-2399",  # ... birth day unknown
    "19310060-2394",  # ... both unknown
]


@pytest.mark.parametrize("number", VALID_EXAMPLES)
def test_examples_are_really_luhn_valid(number: str) -> None:
    assert luhn_valid(number[2:].replace("-", ""))
    assert parse(number).formatted() == number


def test_known_valid_number() -> None:
    pn = parse("19811218-9876")
    assert pn.digits == "198112189876"
    assert pn.birth_date == date(1981, 12, 18)
    assert (pn.birth_year, pn.birth_month, pn.birth_day) == (1981, 12, 18)
    assert not pn.birth_date_is_partial
    assert pn.earliest_birth_date == pn.latest_birth_date == date(1981, 12, 18)
    assert pn.legal_gender == "male"
    assert not pn.is_samordningsnummer
    assert pn.formatted() == "19811218-9876"
    assert pn.age_on(TODAY) == 44


@pytest.mark.parametrize(
    "text",
    ["19811218-9876", "19811218+9876", "198112189876", "811218-9876", "8112189876", "  811218-9876\n"],
)
def test_all_forms_normalise_to_the_same_digits(text: str) -> None:
    assert parse(text).digits == "198112189876"


def test_born_today_is_valid() -> None:
    number = with_check_digit("20261125124")
    assert parse(number).birth_date == TODAY
    assert parse(number[2:]).birth_date == TODAY


def test_luhn_check_digit_known_values() -> None:
    assert luhn_check_digit("811218987") == 6
    assert luhn_check_digit("121212121") == 2
    with pytest.raises(ValueError, match="nine"):
        luhn_check_digit("12345678")


def test_gender_digit_even_is_female() -> None:
    assert parse("20000229-1243").legal_gender == "female"
    assert parse("20000289-1240").legal_gender == "female"
    assert parse("20000229-1235").legal_gender == "male"


# --- the ten-digit form: '-' and '+' (SKV 704) -------------------------------------------


def test_turning_100_this_year_is_written_with_plus() -> None:
    # Reported: read as born 1826, so the search missed her and enrolling the '+' form made a second participant.
    pn = parse("261204+9029")
    assert pn.birth_date == date(1926, 12, 4)
    assert pn.digits == "192612049029"
    for text in ("19261204-9029", "19261204+9029", "192612049029", "261204+9029"):
        assert parse(text).digits == "192612049029", text


def test_minus_for_someone_turning_100_this_year_is_refused_not_moved_a_century() -> None:
    # '-' means under 100 all this year, i.e. born 1927 or later: 2026-12-04 is still to come.
    assert reason_of("261204-9029") == "future"
    assert reason_of("2612049029") == "future"


def test_plus_applies_from_the_first_of_january_of_the_hundredth_year() -> None:
    number = with_check_digit("19261231238")
    new_year = date(2026, 1, 1)
    assert parse(ten_digit_form(number, new_year), new_year).birth_date == date(1926, 12, 31)
    assert ten_digit_form(number, new_year)[6] == "+"
    # On New Year's Eve before, she turns 99 that year: '-' is hers, and '+' is someone born in 1826.
    eve = date(2025, 12, 31)
    assert parse(ten_digit_form(number, eve), eve).birth_date == date(1926, 12, 31)
    assert ten_digit_form(number, eve)[6] == "-"
    assert parse(number[2:8] + "+" + number[8:], eve).birth_year == 1826


def test_minus_is_this_century_when_the_date_has_passed() -> None:
    assert parse("121212-1212").birth_date == date(2012, 12, 12)
    assert parse("121212+1212").birth_date == date(1912, 12, 12)
    assert parse("121212+1212").digits == "191212121212"
    # Someone born 1 January 1926 turned 100 this year: '-' with those digits is a baby born 2026.
    number = with_check_digit("20260101238")
    assert parse(number[2:8] + "-" + number[8:]).birth_date == date(2026, 1, 1)
    assert parse(number[2:8] + "+" + number[8:]).birth_date == date(1926, 1, 1)


def test_plus_and_minus_in_the_twelve_digit_form_are_the_same_number() -> None:
    assert parse("20121212+1212").digits == parse("20121212-1212").digits == "201212121212"


# --- serial, century ---------------------------------------------------------------


@pytest.mark.parametrize("text", ["20150916-0006", "150916-0006", "201509160006"])
def test_serial_000_is_refused(text: str) -> None:
    assert luhn_valid("1509160006")
    assert reason_of(text) == "serial"


@pytest.mark.parametrize("text", ["12340101-1238", "00000101-1234", "17991231-1234", "21000101-1234"])
def test_century_must_be_18_19_or_20(text: str) -> None:
    assert reason_of(text) == "century"


def test_the_eighteen_hundreds_are_valid() -> None:
    assert parse("189001019802").birth_date == date(1890, 1, 1)
    assert parse("900101+9802").digits == "189001019802"


# --- calendar rules --------------------------------------------------------------


def test_leap_day_2000_is_valid() -> None:
    assert parse("20000229-1235").birth_date == date(2000, 2, 29)
    assert parse("000229-1235").birth_date == date(2000, 2, 29)


def test_leap_day_1900_is_not_a_date() -> None:
    assert reason_of("19000229-1235") == "date"
    # Ten-digit with '+' resolves to 1900, which has no 29 February.
    assert reason_of("000229+1235") == "date"


@pytest.mark.parametrize(
    "text",
    [
        "19811318-9876",
        "19810018-9876",  # month 00 is only issued in samordningsnummer
        "19811200-9876",  # day 00 likewise (written 60)
        "19810230-9876",
    ],
)
def test_impossible_dates(text: str) -> None:
    assert reason_of(text) == "date"


def test_samordningsnummer_adds_sixty_to_the_day() -> None:
    pn = parse("19811278-9873")
    assert pn.is_samordningsnummer
    assert pn.birth_date == date(1981, 12, 18)
    assert pn.digits == "198112789873"  # the day keeps its +60
    assert parse("811278-9873").digits == pn.digits


@pytest.mark.parametrize(
    "eleven",
    [
        "19810291123",  # 31 February + 60
        "19811292123",  # day 92
        "19811391123",  # month 13
        "19000289123",  # 29 February 1900 + 60
        "19000092123",  # unknown month, day 32
    ],
)
def test_samordningsnummer_must_be_a_real_date(eleven: str) -> None:
    assert reason_of(with_check_digit(eleven)) == "date"


def test_future_birth_date() -> None:
    assert reason_of(with_check_digit("20261126124")) == "future"
    assert reason_of(with_check_digit("20270060124")) == "future"  # even when partly unknown
    assert parse(with_check_digit("20260060124")).earliest_birth_date == date(2026, 1, 1)


# --- partly unknown birth dates -------------------------------------------------------


def test_unknown_month() -> None:
    pn = parse("191500722390")
    assert pn.is_samordningsnummer
    assert pn.birth_date_is_partial
    assert pn.birth_date is None
    assert (pn.birth_year, pn.birth_month, pn.birth_day) == (1915, None, 12)
    assert (pn.earliest_birth_date, pn.latest_birth_date) == (date(1915, 1, 12), date(1915, 12, 12))
    assert pn.legal_gender == "male"
    assert pn.formatted() == "19150072-2390"
    assert parse("150072+2390").digits == pn.digits


def test_unknown_day() -> None:
    pn = parse("19171160-2399")
    assert (pn.birth_year, pn.birth_month, pn.birth_day) == (1917, 11, None)
    assert (pn.earliest_birth_date, pn.latest_birth_date) == (date(1917, 11, 1), date(1917, 11, 30))
    assert pn.legal_gender == "male"


def test_unknown_month_and_day() -> None:
    pn = parse("193100602394")
    assert (pn.birth_year, pn.birth_month, pn.birth_day) == (1931, None, None)
    assert (pn.earliest_birth_date, pn.latest_birth_date) == (date(1931, 1, 1), date(1931, 12, 31))
    assert pn.age_on(TODAY) == 94


def test_unknown_february_day_ends_on_the_leap_day() -> None:
    assert parse(with_check_digit("20000260124")).latest_birth_date == date(2000, 2, 29)
    assert parse(with_check_digit("20010260124")).latest_birth_date == date(2001, 2, 28)


def test_a_partly_unknown_birth_date_counts_as_young_as_it_can_be() -> None:
    # Born some day in 2008: on 2026-06-01 the person may still be 17, so checks for minors treat them as one.
    pn = parse(with_check_digit("20080060124"))
    assert pn.age_on(date(2026, 6, 1)) == 17
    assert pn.age_on(date(2026, 12, 31)) == 18
    assert pn.age_on(date(2008, 6, 1)) == 0
    with pytest.raises(ValueError, match="before the birth date"):
        pn.age_on(date(2007, 12, 31))


def test_age_on() -> None:
    pn = parse("20000229-1235")
    assert pn.age_on(date(2000, 2, 29)) == 0
    assert pn.age_on(date(2001, 2, 28)) == 0
    assert pn.age_on(date(2001, 3, 1)) == 1
    assert pn.age_on(date(2004, 2, 29)) == 4
    with pytest.raises(ValueError, match="before the birth date"):
        pn.age_on(date(1999, 1, 1))


# --- Skatteverket's published test numbers (tests/data) -----------------------------------------------


def test_the_data_file_holds_a_real_sample() -> None:
    assert len(PUBLISHED) == len(set(PUBLISHED)) > 800
    assert all(re.fullmatch(r"(18|19|20)[0-9]{10}", number) for number in PUBLISHED)
    assert all(luhn_valid(number[2:]) for number in PUBLISHED)
    samordning = [n for n in PUBLISHED if int(n[6:8]) >= 60]
    partial = [n for n in samordning if n[4:6] == "00" or n[6:8] == "60"]
    assert len(samordning) > 400
    assert len(partial) == 170
    assert len(PUBLISHED) - len(samordning) > 400
    assert "192612049029" in PUBLISHED  # the woman turning 100, from the report


def test_every_published_number_is_valid_in_every_spelling() -> None:
    for number in PUBLISHED:
        pn = parse(number)
        assert pn.digits == number
        assert pn.is_samordningsnummer == (int(number[6:8]) >= 60)
        assert pn.birth_date_is_partial == (number[4:6] == "00" or number[6:8] == "60")
        assert pn.legal_gender == ("male" if int(number[10]) % 2 else "female")
        assert pn.birth_year == int(number[:4])
        for text in spellings(number):
            assert parse(text).digits == number, text


def test_published_partly_unknown_dates_are_reported_as_such() -> None:
    for number in (n for n in PUBLISHED if n[4:6] == "00" or n[6:8] == "60"):
        pn = parse(number)
        assert pn.birth_date is None
        assert pn.birth_month is None if number[4:6] == "00" else pn.birth_month == int(number[4:6])
        assert pn.birth_day is None if number[6:8] == "60" else pn.birth_day == int(number[6:8]) - 60
        assert pn.earliest_birth_date <= pn.latest_birth_date
        assert pn.earliest_birth_date.year == pn.latest_birth_date.year == pn.birth_year


# --- error reasons -----------------------------------------------------------------

ERROR_EXAMPLES = [
    ("", "empty"),
    ("   \t\n", "empty"),
    ("81121898", "format"),
    ("1981121898765", "format"),
    ("19811218-987X", "format"),
    ("811218 9876", "format"),
    ("\u0668\u0661\u0661\u0662\u0661\u0668-\u0669\u0668\u0667\u0666", "format"),
    ("811218--9876", "separator"),
    ("8112-189876", "separator"),
    ("-8112189876", "separator"),
    ("811218-98+76", "separator"),
    ("12340101-1238", "century"),
    ("19811318-9876", "date"),
    ("20261126-1243", "future"),
    ("20150916-0006", "serial"),
    ("19811218-9875", "checksum"),
    ("811218-9877", "checksum"),
]


@pytest.mark.parametrize(("text", "reason"), ERROR_EXAMPLES)
def test_error_reasons(text: str, reason: str) -> None:
    assert reason_of(text) == reason


@pytest.mark.parametrize(("text", "reason"), ERROR_EXAMPLES)
def test_error_messages_never_contain_the_input(text: str, reason: str) -> None:
    with pytest.raises(InvalidPersonnummer) as caught:
        parse(text)
    error = caught.value
    assert isinstance(error, ValueError)
    assert error.args == (str(error),)
    assert len(error.message_sv) > 20  # a real explanation, not just a code
    assert len(error.message_en) > 20
    assert error.message_sv in str(error)
    assert error.message_en in str(error)
    if text.strip():
        assert text.strip() not in str(error)
        assert text.strip() not in repr(error)
    assert not any(char.isdigit() for char in str(error))


def test_each_reason_has_its_own_swedish_and_english_message() -> None:
    errors = {reason: InvalidPersonnummer(reason) for reason in REASONS}
    assert {reason for _, reason in ERROR_EXAMPLES} == REASONS
    assert len({e.message_sv for e in errors.values()}) == len(REASONS)
    assert len({e.message_en for e in errors.values()}) == len(REASONS)
    assert all(e.message_sv != e.message_en for e in errors.values())
    swedish = re.compile(r"[åäöÅÄÖ]|\b(och|inte|är)\b")
    assert all(swedish.search(e.message_sv) and not swedish.search(e.message_en) for e in errors.values())


# --- redaction --------------------------------------------------------------------


def test_repr_and_str_are_redacted() -> None:
    pn = parse("19811218-9876")
    assert repr(pn) == "Personnummer(<redacted>)"
    assert str(pn) == "<personnummer>"
    for text in (repr(pn), str(pn), f"{pn}", f"{pn!r}", repr([pn]), format(pn)):
        assert "9876" not in text
        assert "811218" not in text


# --- fictitious numbers -------------------------------------------------------------


def test_fictitious_is_deterministic() -> None:
    first = fictitious_personnummer(date(1990, 5, 17), 42, gender="female")
    assert first == fictitious_personnummer(date(1990, 5, 17), 42, gender="female")
    assert first.startswith("19900517-42")


def test_fictitious_never_uses_serial_000() -> None:
    number = fictitious_personnummer(date(1990, 5, 17), 0, gender="female")
    assert number[9:12] != "000"
    assert parse(number).legal_gender == "female"


@pytest.mark.parametrize("serial", [-1, 100])
def test_fictitious_rejects_bad_serial(serial: int) -> None:
    with pytest.raises(ValueError, match="serial"):
        fictitious_personnummer(date(1990, 5, 17), serial, gender="male")


# --- properties --------------------------------------------------------------------


@st.composite
def valid_numbers(draw: st.DrawFn, today: date = TODAY) -> str:
    """Any number Skatteverket could have issued by `today` (twelve digits), partly unknown dates included."""
    year = draw(st.integers(min_value=max(1800, today.year - 199), max_value=today.year))
    samordning = draw(st.booleans())
    month = draw(st.integers(min_value=0 if samordning else 1, max_value=12))
    last_day = 31 if month == 0 else (date(year + month // 12, month % 12 + 1, 1) - date(year, month, 1)).days
    day = draw(st.integers(min_value=0 if samordning else 1, max_value=last_day))
    serial = draw(st.integers(min_value=1, max_value=999))
    number = with_check_digit(f"{year:04d}{month:02d}{day + (60 if samordning else 0):02d}{serial:03d}")
    assume(date(year, month or 1, day or 1) <= today)
    return number


todays = st.dates(min_value=date(1990, 1, 1), max_value=date(2099, 12, 31))


@property_settings
@given(number=valid_numbers())
def test_every_spelling_of_a_valid_number_gives_the_same_digits(number: str) -> None:
    for text in spellings(number):
        assert parse(text).digits == number, text


@property_settings
@given(data=st.data(), today=todays)
def test_the_ten_digit_form_is_read_in_the_right_century_on_any_day(data: st.DataObject, today: date) -> None:
    number = data.draw(valid_numbers(today))
    for text in spellings(number, today):
        assert parse(text, today).digits == number, text


@property_settings
@given(number=valid_numbers(), position=st.integers(min_value=2, max_value=11), shift=st.integers(1, 9))
def test_any_single_changed_digit_is_refused(number: str, position: int, shift: int) -> None:
    changed = number[:position] + str((int(number[position]) + shift) % 10) + number[position + 1 :]
    for text in (changed, changed[2:8] + "-" + changed[8:], changed[2:8] + "+" + changed[8:]):
        with pytest.raises(InvalidPersonnummer):
            parse(text)


@property_settings
@given(number=valid_numbers(), wrong=st.integers(min_value=1, max_value=9))
def test_any_other_check_digit_fails(number: str, wrong: int) -> None:
    other = number[:-1] + str((int(number[-1]) + wrong) % 10)
    for text in (other, ten_digit_form(other)):
        assert reason_of(text) == "checksum"


@property_settings
@given(number=valid_numbers(), check=st.integers(min_value=0, max_value=9))
def test_serial_000_is_always_refused(number: str, check: int) -> None:
    zero = number[:8] + "000"
    for candidate in (zero + str(check), with_check_digit(zero)):
        for text in spellings(candidate):
            with pytest.raises(InvalidPersonnummer):
                parse(text)
    assert reason_of(with_check_digit(zero)) == "serial"


@property_settings
@given(number=valid_numbers(), century=st.integers(min_value=0, max_value=99).filter(lambda c: c not in (18, 19, 20)))
def test_a_century_other_than_18_19_20_is_refused(number: str, century: int) -> None:
    assert reason_of(f"{century:02d}{number[2:]}") == "century"
    assert reason_of(f"{century:02d}{number[2:8]}-{number[8:]}") == "century"


@property_settings
@given(number=valid_numbers(), day=st.dates(min_value=date(1800, 1, 1), max_value=date(2200, 12, 31)))
def test_age_is_the_lowest_the_person_can_have(number: str, day: date) -> None:
    pn = parse(number)
    assume(day >= pn.earliest_birth_date)
    youngest = min(pn.latest_birth_date, day)
    assert pn.age_on(day) == day.year - youngest.year - ((day.month, day.day) < (youngest.month, youngest.day))
    assert pn.age_on(day) <= day.year - pn.earliest_birth_date.year
    if pn.birth_date is not None:
        assert pn.earliest_birth_date == pn.latest_birth_date == pn.birth_date


@property_settings
@given(born=birth_dates, serial=serials, gender=genders, samordning=st.booleans())
def test_fictitious_round_trips_in_every_form(
    born: date, serial: int, gender: Literal["female", "male"], samordning: bool
) -> None:
    twelve = fictitious_personnummer(born, serial, gender=gender, samordningsnummer=samordning)
    for text in spellings(twelve):
        pn = parse(text)
        assert pn.birth_date == born
        assert pn.legal_gender == gender
        assert pn.is_samordningsnummer == samordning
        assert pn.formatted() == twelve


@property_settings
@given(nine=st.text(alphabet="0123456789", min_size=9, max_size=9))
def test_luhn_check_digit_makes_a_valid_number(nine: str) -> None:
    check = luhn_check_digit(nine)
    assert luhn_valid(nine + str(check))
    assert not any(luhn_valid(nine + str(d)) for d in range(10) if d != check)


def _assert_parses_or_invalid(text: str) -> None:
    error: InvalidPersonnummer | None = None
    try:
        parse(text)
    except InvalidPersonnummer as caught:
        error = caught
    if error is not None:
        assert error.reason in REASONS
        assert not any(char.isdigit() for char in str(error))  # so no digit of the input either


@property_settings
@given(text=st.text())
def test_arbitrary_text_only_raises_invalid_personnummer(text: str) -> None:
    _assert_parses_or_invalid(text)


@property_settings
@given(text=st.text(alphabet="0123456789-+ \t", max_size=16))
def test_digit_like_text_only_raises_invalid_personnummer(text: str) -> None:
    _assert_parses_or_invalid(text)


@property_settings
@given(
    number=valid_numbers(),
    position=st.integers(min_value=0, max_value=12),
    replacement=st.sampled_from("0123456789-+ x"),
)
def test_mutated_numbers_only_raise_invalid_personnummer(number: str, position: int, replacement: str) -> None:
    twelve = f"{number[:8]}-{number[8:]}"
    _assert_parses_or_invalid(twelve[:position] + replacement + twelve[position + 1 :])
