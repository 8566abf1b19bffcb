"""Tests for coordination.personnummer: examples per rule, properties for the rest."""

from __future__ import annotations

from datetime import date
from typing import Literal

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from coordination.personnummer import (
    InvalidPersonnummer,
    Personnummer,
    fictitious_personnummer,
    luhn_check_digit,
    parse_personnummer,
)

TODAY = date(2026, 11, 23)
# No example database: the tests must not write files into the repository.
property_settings = settings(database=None, max_examples=300)

REASONS = {"empty", "format", "separator", "date", "future", "checksum"}
genders = st.sampled_from(["female", "male"])
birth_dates = st.dates(min_value=date(1900, 1, 1), max_value=TODAY)
serials = st.integers(min_value=0, max_value=99)


def parse(text: str) -> Personnummer:
    return parse_personnummer(text, today=TODAY)


def luhn_valid(ten_digits: str) -> bool:
    """Independent Luhn check over a whole ten-digit number, check digit included."""
    total = 0
    for index, char in enumerate(ten_digits):
        product = int(char) * (2 if index % 2 == 0 else 1)
        total += sum(int(d) for d in str(product))
    return total % 10 == 0


def ten_digit_form(twelve: str) -> str:
    """YYMMDD-NNNC, with '+' when the person is a hundred or older on TODAY."""
    separator = "+" if parse(twelve).age_on(TODAY) >= 100 else "-"
    return f"{twelve[2:8]}{separator}{twelve[9:]}"


def reason_of(text: str) -> str:
    with pytest.raises(InvalidPersonnummer) as caught:
        parse(text)
    return caught.value.reason


# --- known numbers -------------------------------------------------------------

VALID_EXAMPLES = [
    "19811218-9876",
    "19121212-1212",
    "20121212-1212",
    "20000229-1235",
    "19811278-9873",  # samordningsnummer for 1981-12-18
    "20000289-1240",  # samordningsnummer for a leap day
    "20261123-1248",  # born today
]


@pytest.mark.parametrize("number", VALID_EXAMPLES)
def test_examples_are_really_luhn_valid(number: str) -> None:
    assert luhn_valid(number[2:].replace("-", ""))
    assert parse(number).formatted() == number


def test_known_valid_number() -> None:
    pn = parse("19811218-9876")
    assert pn.digits == "198112189876"
    assert pn.birth_date == date(1981, 12, 18)
    assert pn.legal_gender == "male"
    assert not pn.is_samordningsnummer
    assert pn.formatted() == "19811218-9876"
    assert pn.age_on(TODAY) == 44


@pytest.mark.parametrize(
    "text",
    ["19811218-9876", "198112189876", "811218-9876", "8112189876", "  811218-9876\n"],
)
def test_all_forms_normalise_to_the_same_digits(text: str) -> None:
    assert parse(text).digits == "198112189876"


def test_luhn_check_digit_known_values() -> None:
    assert luhn_check_digit("811218987") == 6
    assert luhn_check_digit("121212121") == 2
    with pytest.raises(ValueError, match="nine"):
        luhn_check_digit("12345678")


def test_gender_digit_even_is_female() -> None:
    assert parse("20000229-1243").legal_gender == "female"
    assert parse("20000289-1240").legal_gender == "female"
    assert parse("20000229-1235").legal_gender == "male"


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
        "19810018-9876",
        "19811200-9876",
        "19810230-9876",
        "00000101-1234",
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
    "text",
    [
        "19810291-1234",  # 31 February + 60
        "19811292-1234",  # day 92
        "19811260-1234",  # day 60: neither a real day nor a samordning day
        "19000289-1234",  # 29 February 1900 + 60
    ],
)
def test_samordningsnummer_must_be_a_real_date(text: str) -> None:
    assert reason_of(text) == "date"


def test_future_birth_date() -> None:
    assert parse("20261123-1248").birth_date == TODAY
    assert reason_of("20261124-1247") == "future"


# --- century of the ten-digit form -------------------------------------------------


def test_plus_means_a_hundred_or_more() -> None:
    assert parse("121212-1212").birth_date == date(2012, 12, 12)
    assert parse("121212+1212").birth_date == date(1912, 12, 12)
    assert parse("121212+1212").digits == "191212121212"


def test_minus_picks_the_latest_century_not_in_the_future() -> None:
    # 2026-11-24 would be tomorrow, so the number must belong to someone born 1926.
    born = fictitious_personnummer(date(1926, 11, 24), 10, gender="male")
    pn = parse(ten_digit_form(born))
    assert pn.birth_date == date(1926, 11, 24)
    assert pn.age_on(TODAY) == 99


def test_plus_on_the_hundredth_birthday() -> None:
    twelve = fictitious_personnummer(date(1926, 11, 23), 10, gender="female")
    assert parse(twelve[2:8] + "+" + twelve[9:]).birth_date == date(1926, 11, 23)
    assert parse(twelve[2:8] + "-" + twelve[9:]).birth_date == date(2026, 11, 23)


def test_age_on() -> None:
    pn = parse("20000229-1235")
    assert pn.age_on(date(2000, 2, 29)) == 0
    assert pn.age_on(date(2001, 2, 28)) == 0
    assert pn.age_on(date(2001, 3, 1)) == 1
    assert pn.age_on(date(2004, 2, 29)) == 4
    with pytest.raises(ValueError, match="before the birth date"):
        pn.age_on(date(1999, 1, 1))


# --- error reasons -----------------------------------------------------------------

ERROR_EXAMPLES = [
    ("", "empty"),
    ("   \t\n", "empty"),
    ("81121898", "format"),
    ("1981121898765", "format"),
    ("19811218-987X", "format"),
    ("811218 9876", "format"),
    ("\u0668\u0661\u0661\u0662\u0661\u0668-\u0669\u0668\u0667\u0666", "format"),
    ("19811218+9876", "separator"),
    ("811218--9876", "separator"),
    ("8112-189876", "separator"),
    ("-8112189876", "separator"),
    ("811218-98+76", "separator"),
    ("19811318-9876", "date"),
    ("20261124-1247", "future"),
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
    assert len(str(error)) > 20  # a real explanation, not just a code
    if text.strip():
        assert text.strip() not in str(error)
        assert text.strip() not in repr(error)
    assert not any(char.isdigit() for char in str(error))


def test_reasons_have_distinct_messages() -> None:
    messages = {}
    for text, reason in ERROR_EXAMPLES:
        with pytest.raises(InvalidPersonnummer) as caught:
            parse(text)
        messages[reason] = str(caught.value)
    assert set(messages) == REASONS
    assert len(set(messages.values())) == len(REASONS)


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


@pytest.mark.parametrize("serial", [-1, 100])
def test_fictitious_rejects_bad_serial(serial: int) -> None:
    with pytest.raises(ValueError, match="serial"):
        fictitious_personnummer(date(1990, 5, 17), serial, gender="male")


# --- properties --------------------------------------------------------------------


@property_settings
@given(born=birth_dates, serial=serials, gender=genders, samordning=st.booleans())
def test_fictitious_round_trips_in_both_forms(
    born: date, serial: int, gender: Literal["female", "male"], samordning: bool
) -> None:
    twelve = fictitious_personnummer(born, serial, gender=gender, samordningsnummer=samordning)
    ten = ten_digit_form(twelve)
    for text in (twelve, twelve.replace("-", ""), ten):
        pn = parse(text)
        assert pn.birth_date == born
        assert pn.legal_gender == gender
        assert pn.is_samordningsnummer == samordning
        assert pn.formatted() == twelve
    if "-" in ten:  # no separator means the same as '-'
        assert parse(ten.replace("-", "")).formatted() == twelve


@property_settings
@given(
    born=birth_dates,
    serial=serials,
    gender=genders,
    samordning=st.booleans(),
    wrong=st.integers(min_value=1, max_value=9),
)
def test_any_other_check_digit_fails(
    born: date,
    serial: int,
    gender: Literal["female", "male"],
    samordning: bool,
    wrong: int,
) -> None:
    twelve = fictitious_personnummer(born, serial, gender=gender, samordningsnummer=samordning)
    other = str((int(twelve[-1]) + wrong) % 10)
    for text in (twelve, ten_digit_form(twelve)):
        assert reason_of(text[:-1] + other) == "checksum"


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
        if any(char.isdigit() for char in text):
            assert text.strip() not in str(error)


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
    born=birth_dates,
    serial=serials,
    gender=genders,
    position=st.integers(min_value=0, max_value=12),
    replacement=st.sampled_from("0123456789-+ x"),
)
def test_mutated_numbers_only_raise_invalid_personnummer(
    born: date,
    serial: int,
    gender: Literal["female", "male"],
    position: int,
    replacement: str,
) -> None:
    twelve = fictitious_personnummer(born, serial, gender=gender)
    _assert_parses_or_invalid(twelve[:position] + replacement + twelve[position + 1 :])
