"""The catalogue of codes: normalised Swedish spellings, typed attributes, and a doc page that names every code."""

from __future__ import annotations

from pathlib import Path

import pytest
from hypothesis import given
from hypothesis import strategies as st

from consent import SUB_CATEGORIES
from coordination import InvalidCommand
from coordination.catalogue import (
    ATTRIBUTES,
    DECISION_TYPES,
    EDUCATION_CODES,
    INTERVENTION_KINDS,
    OCCUPATION_CODES,
    SUPPORT_CODES,
    checked_attributes,
    decision_type_code,
    follow_up_codes,
    intervention_kind,
)

DOC = (Path(__file__).resolve().parents[2] / "docs" / "catalogue.md").read_text(encoding="utf-8")


def test_the_doc_page_names_every_code() -> None:
    codes = [*ATTRIBUTES, *INTERVENTION_KINDS, *SUPPORT_CODES, *OCCUPATION_CODES, *EDUCATION_CODES]
    codes += [t for types in DECISION_TYPES.values() for t in types]
    codes += [f"{top}.{sub}" for top, subs in SUB_CATEGORIES.items() for sub in subs]
    codes += [v for a in ATTRIBUTES.values() for v in a.values]
    assert [c for c in codes if f"`{c}`" not in DOC] == []


@pytest.mark.parametrize(
    ("category", "given_type", "code"),
    [
        ("insurance", "Rehabiliteringsersättning", "rehabiliteringsersattning"),
        ("insurance.sickness", "avstämningsmöte", "avstamningsmote"),
        ("social", "ekonomiskt bistånd", "ekonomiskt_bistand"),
        ("social", "Försörjningsstöd", "ekonomiskt_bistand"),
        ("employment", "SIUS", "sius"),
    ],
)
def test_swedish_spellings_are_stored_as_the_code(category: str, given_type: str, code: str) -> None:
    assert decision_type_code(category, given_type) == code


def test_a_decision_type_of_another_party_is_refused() -> None:
    with pytest.raises(InvalidCommand) as refused:
        decision_type_code("employment", "sjukpenning")
    assert refused.value.field == "decision_type"


def test_attributes_are_normalised_and_typed() -> None:
    assert checked_attributes("employment", "program", {"Program": "Rusta och matcha", "timmar_per_vecka": 20.0}) == {
        "program": "rusta_och_matcha",
        "timmar_per_vecka": 20.0,
    }
    assert checked_attributes("insurance", "sjukpenning", {"omfattning": 50.0, "fran": None}) == {"omfattning": 50}


@given(st.text(max_size=30))
def test_no_text_passes_as_a_code_unless_it_is_one(text: str) -> None:
    """Whatever is typed, what is kept is a catalogue code (or it is refused): text never gets through."""
    for check, allowed in (
        (intervention_kind, INTERVENTION_KINDS),
        (lambda t: follow_up_codes({"support_after": t})["support_after"], SUPPORT_CODES),
        (
            lambda t: checked_attributes("health", "remiss", {"mottagning": t})["mottagning"],
            ATTRIBUTES["mottagning"].values,
        ),
        (lambda t: decision_type_code("health", t), DECISION_TYPES["health"]),
    ):
        try:
            kept = check(text)
        except InvalidCommand as refused:
            # The message does not depend on what was typed: it never repeats it.
            with pytest.raises(InvalidCommand) as other:
                check("\x00 not a code")
            assert refused.message == other.value.message
            continue
        assert kept in allowed


@given(st.floats(allow_nan=True, allow_infinity=True))
def test_numbers_are_finite_and_within_bounds(number: float) -> None:
    try:
        kept = checked_attributes("social", "ekonomiskt_bistand", {"belopp": number})["belopp"]
    except InvalidCommand as refused:
        assert refused.field == "attributes.belopp"
        return
    assert 0 <= kept <= 10_000_000
