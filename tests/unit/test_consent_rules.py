"""The rules a consent must satisfy before it is recorded (consent/validation.py), and Consent.status."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta
from typing import Any
from uuid import UUID
from zoneinfo import ZoneInfo

import pytest

from consent.model import Consent, ConsentStatus, Grant, GrantState, add_months
from consent.parties import Party, covers, is_own_category
from consent.validation import ConsentProblem, age_on, consent_problems

STOCKHOLM = ZoneInfo("Europe/Stockholm")
FK_TO_SF = Grant(Party.FK, Party.SF, "insurance")


def problems(**changes: Any) -> list[ConsentProblem]:
    """The problems of a valid written consent for an adult, with `changes` applied."""
    draft: dict[str, Any] = {
        "grants": (FK_TO_SF, Grant(Party.REGION, Party.AF, "health")),
        "purpose": "Samordnad rehabilitering mot arbete",
        "valid_from": date(2024, 3, 1),
        "valid_until": date(2024, 12, 31),
        "form": "written",
        "witness": None,
        "guardian_named": False,
        "birth_date": date(1985, 6, 15),
        "document_ref": "Samtycke 2024-03-01, akt 17",
    }
    return consent_problems(**{**draft, **changes})


def fields(found: list[ConsentProblem]) -> list[str]:
    return [problem.field for problem in found]


def test_a_complete_written_consent_for_an_adult_has_no_problems() -> None:
    assert problems() == []


# --- form and witness --------------------------------------------------------------------------------------


@pytest.mark.parametrize("witness", [None, "", "   "])
def test_oral_consent_without_a_witness_is_refused(witness: str | None) -> None:
    found = problems(form="oral", witness=witness)
    assert fields(found) == ["witness"]
    assert "staff member" in found[0].message


def test_oral_consent_with_a_witness_is_accepted() -> None:
    assert problems(form="oral", witness="Karin Samordnare") == []


def test_written_consent_needs_no_witness() -> None:
    assert problems(form="written", witness=None) == []


@pytest.mark.parametrize("document_ref", [None, "", "   "])
def test_written_consent_needs_a_document_reference(document_ref: str | None) -> None:
    assert fields(problems(form="written", document_ref=document_ref)) == ["document_ref"]
    assert problems(form="oral", witness="Karin Samordnare", document_ref=document_ref) == []


def test_a_minors_consent_names_at_most_two_guardians() -> None:
    minor = {"birth_date": date(2010, 1, 1), "guardian_named": True}
    assert problems(**minor, guardians=2) == []
    assert fields(problems(**minor, guardians=3)) == ["guardians"]


# --- period --------------------------------------------------------------------------------------------------


def test_valid_until_before_valid_from_is_refused_once() -> None:
    found = problems(valid_from=date(2024, 3, 10), valid_until=date(2024, 3, 9))
    assert found == [ConsentProblem("valid_until", "valid_until must not be before valid_from")]


def test_a_consent_of_a_single_day_is_accepted() -> None:
    assert problems(valid_from=date(2024, 3, 10), valid_until=date(2024, 3, 10)) == []


@pytest.mark.parametrize(
    ("valid_from", "last_allowed"),
    [
        (date(2024, 1, 15), date(2025, 1, 15)),
        (date(2024, 2, 29), date(2025, 2, 28)),  # no 29 February in 2025: clamped to the month's last day
        (date(2023, 3, 31), date(2024, 3, 31)),
        (date(2024, 12, 31), date(2025, 12, 31)),
    ],
)
def test_a_consent_may_last_exactly_twelve_months_but_not_a_day_more(valid_from: date, last_allowed: date) -> None:
    assert problems(valid_from=valid_from, valid_until=last_allowed) == []
    found = problems(valid_from=valid_from, valid_until=last_allowed + timedelta(days=1))
    assert found == [ConsentProblem("valid_until", "a consent may last at most 12 months")]


def test_the_longest_period_follows_the_max_months_setting() -> None:
    assert problems(valid_from=date(2024, 3, 1), valid_until=date(2024, 9, 1), max_months=6) == []
    found = problems(valid_from=date(2024, 3, 1), valid_until=date(2024, 9, 2), max_months=6)
    assert found == [ConsentProblem("valid_until", "a consent may last at most 6 months")]


@pytest.mark.parametrize(
    ("day", "months", "expected"),
    [
        (date(2024, 2, 29), 12, date(2025, 2, 28)),
        (date(2024, 2, 29), 48, date(2028, 2, 29)),
        (date(2024, 1, 31), 1, date(2024, 2, 29)),
        (date(2023, 1, 31), 1, date(2023, 2, 28)),
        (date(2024, 3, 31), 1, date(2024, 4, 30)),
        (date(2024, 11, 30), 3, date(2025, 2, 28)),
        (date(2024, 12, 15), 1, date(2025, 1, 15)),
        (date(2024, 1, 15), 0, date(2024, 1, 15)),
    ],
)
def test_adding_months_keeps_the_day_or_clamps_to_the_months_last_day(day: date, months: int, expected: date) -> None:
    assert add_months(day, months) == expected


# --- minors --------------------------------------------------------------------------------------------------


def test_a_participant_under_18_at_valid_from_needs_a_guardian() -> None:
    found = problems(valid_from=date(2024, 3, 1), birth_date=date(2006, 3, 2), guardian_named=False)
    assert fields(found) == ["guardian"]


def test_a_participant_under_18_with_a_named_guardian_is_accepted() -> None:
    assert problems(valid_from=date(2024, 3, 1), birth_date=date(2006, 3, 2), guardian_named=True) == []


def test_a_participant_turning_18_on_valid_from_needs_no_guardian() -> None:
    assert problems(valid_from=date(2024, 3, 1), birth_date=date(2006, 3, 1), guardian_named=False) == []


def test_age_is_judged_at_valid_from_not_at_valid_until() -> None:
    # 17 when the consent starts, 18 before it ends: the guardian is still needed.
    found = problems(valid_from=date(2024, 3, 1), valid_until=date(2024, 6, 1), birth_date=date(2006, 4, 1))
    assert fields(found) == ["guardian"]


def test_without_a_birth_date_no_guardian_is_asked_for() -> None:
    assert problems(birth_date=None, guardian_named=False) == []


@pytest.mark.parametrize(
    ("birth", "day", "age"),
    [
        (date(2006, 3, 1), date(2024, 3, 1), 18),
        (date(2006, 3, 1), date(2024, 2, 29), 17),
        (date(2006, 12, 31), date(2024, 12, 30), 17),
        (date(2006, 1, 1), date(2024, 12, 31), 18),
    ],
)
def test_age_counts_completed_years(birth: date, day: date, age: int) -> None:
    assert age_on(birth, day) == age


# --- grants --------------------------------------------------------------------------------------------------


def grant_problem(found: list[ConsentProblem], grant: Grant) -> str:
    """The one problem found, which must be about `grant`; returns its message."""
    assert len(found) == 1, found
    assert found[0].field.startswith("grants")
    assert grant.describe() in f"{found[0].field} {found[0].message}"
    return found[0].message


def test_a_consent_without_grants_is_refused() -> None:
    found = problems(grants=())
    assert fields(found) == ["grants"]


def test_a_party_cannot_grant_itself() -> None:
    grant = Grant(Party.FK, Party.FK, "insurance")
    assert "cannot grant itself" in grant_problem(problems(grants=(grant,)), grant)


@pytest.mark.parametrize(
    "grant",
    [
        Grant(Party.FK, Party.SF, "health"),
        Grant(Party.AF, Party.REGION, "insurance.sickness"),
        Grant(Party.KOMMUN, Party.SF, "coordination"),
        Grant(Party.SF, Party.FK, "social"),
    ],
)
def test_a_party_cannot_grant_another_partys_category(grant: Grant) -> None:
    message = grant_problem(problems(grants=(grant,)), grant)
    assert f"{grant.discloser.value} can only share its own category" in message


@pytest.mark.parametrize("category", ["insurance.sickness", "insurance.activity"])
def test_a_party_may_grant_a_sub_category_of_its_own(category: str) -> None:
    assert problems(grants=(Grant(Party.FK, Party.SF, category),)) == []


@pytest.mark.parametrize(
    "category",
    # Sub-categories come from the catalogue: a made-up one could carry a name, and categories are kept in clear.
    ["insurances", "insurance.Sickness", "insurance.", "pension", "", "insurance.annika", "insurance.sickness.partial"],
)
def test_an_unknown_category_is_refused(category: str) -> None:
    grant = Grant(Party.FK, Party.SF, category)
    assert f"unknown category {category!r}" in grant_problem(problems(grants=(grant,)), grant)


def test_each_faulty_grant_is_named_on_its_own() -> None:
    self_grant, foreign = Grant(Party.AF, Party.AF, "employment"), Grant(Party.AF, Party.SF, "health")
    found = problems(grants=(FK_TO_SF, self_grant, foreign))
    assert len(found) == 2
    assert self_grant.describe() in f"{found[0].field} {found[0].message}"
    assert foreign.describe() in f"{found[1].field} {found[1].message}"
    assert not any(FK_TO_SF.describe() in f"{p.field} {p.message}" for p in found)


def test_a_blank_purpose_is_refused() -> None:
    assert fields(problems(purpose="  ")) == ["purpose"]


def test_a_grant_covers_its_dotted_sub_categories_only() -> None:
    assert covers("insurance", "insurance")
    assert covers("insurance", "insurance.sickness")
    assert covers("insurance.sickness", "insurance.sickness.partial")
    assert not covers("insurance", "insurances")
    assert not covers("insurance.sickness", "insurance")
    assert not covers("insurance.sickness", "insurance.activity")


def test_own_category_means_the_partys_category_or_a_sub_category_of_it() -> None:
    assert is_own_category(Party.REGION, "health.psychiatry")
    assert is_own_category(Party.SF, "coordination")
    assert not is_own_category(Party.REGION, "social")
    assert not is_own_category(Party.FK, "insurances")


# --- Consent.status ------------------------------------------------------------------------------------------

G1 = Grant(Party.FK, Party.SF, "insurance")
G2 = Grant(Party.REGION, Party.SF, "health")


def consent() -> Consent:
    """Valid 10-20 March 2024 (Swedish days), recorded well before."""
    return Consent(
        id=UUID(int=42),
        version=1,
        grants=(GrantState(G1), GrantState(G2)),
        purpose="Samordnad rehabilitering",
        valid_from=date(2024, 3, 10),
        valid_until=date(2024, 3, 20),
        form="written",
        recorded_at=datetime(2024, 3, 1, 9, 0, tzinfo=UTC),
        document_ref="DOC-1",
    )


def swedish(*args: int) -> datetime:
    return datetime(*args, tzinfo=STOCKHOLM)  # type: ignore[misc]


@pytest.mark.parametrize(
    ("at", "status"),
    [
        (swedish(2024, 3, 9, 23, 59, 59, 999999), ConsentStatus.PENDING),
        (swedish(2024, 3, 10, 0, 0), ConsentStatus.ACTIVE),
        (datetime(2024, 3, 9, 23, 30, tzinfo=UTC), ConsentStatus.ACTIVE),  # already 10 March in Sweden
        (swedish(2024, 3, 20, 23, 59, 59, 999999), ConsentStatus.ACTIVE),
        (datetime(2024, 3, 20, 22, 59, tzinfo=UTC), ConsentStatus.ACTIVE),  # 23:59 on 20 March in Sweden
        (datetime(2024, 3, 20, 23, 0, tzinfo=UTC), ConsentStatus.EXPIRED),  # midnight, 21 March in Sweden
        (swedish(2024, 3, 21, 0, 0), ConsentStatus.EXPIRED),
    ],
)
def test_status_follows_the_swedish_days_of_the_period(at: datetime, status: ConsentStatus) -> None:
    assert consent().status(at) == status


def test_a_wholly_withdrawn_consent_is_withdrawn_from_the_withdrawal_on() -> None:
    withdrawn_at = swedish(2024, 3, 15, 10, 0)
    withdrawn = consent().withdraw(None, withdrawn_at)
    assert withdrawn.status(withdrawn_at - timedelta(microseconds=1)) == ConsentStatus.ACTIVE
    assert withdrawn.status(withdrawn_at) == ConsentStatus.WITHDRAWN
    assert withdrawn.status(swedish(2024, 3, 18, 12, 0)) == ConsentStatus.WITHDRAWN


def test_a_partly_withdrawn_consent_stays_active() -> None:
    withdrawn_at = swedish(2024, 3, 15, 10, 0)
    partly = consent().withdraw([G1], withdrawn_at)
    assert partly.status(withdrawn_at) == ConsentStatus.ACTIVE
    assert partly.active_grants(withdrawn_at) == (G2,)


def test_withdrawing_every_grant_one_by_one_makes_the_consent_withdrawn() -> None:
    first, second = swedish(2024, 3, 15, 10, 0), swedish(2024, 3, 16, 10, 0)
    withdrawn = consent().withdraw([G1], first).withdraw([G2], second)
    assert withdrawn.status(first) == ConsentStatus.ACTIVE
    assert withdrawn.status(second) == ConsentStatus.WITHDRAWN


def test_a_withdrawal_bumps_the_version_and_keeps_earlier_withdrawal_instants() -> None:
    first, second = swedish(2024, 3, 15, 10, 0), swedish(2024, 3, 16, 10, 0)
    original = consent()
    once = original.withdraw([G1], first)
    twice = once.withdraw(None, second)
    assert (original.version, once.version, twice.version) == (1, 2, 3)
    assert [s.withdrawn_at for s in twice.grants] == [first, second]
    assert [twice.version_at(at) for at in (first - timedelta(microseconds=1), first, second)] == [1, 2, 3]
    assert original.grants == (GrantState(G1), GrantState(G2))  # a value: withdrawing returns a new consent


def test_a_consent_knows_which_grants_it_does_not_contain() -> None:
    assert consent().unknown_grants([G1, Grant(Party.AF, Party.SF, "employment")]) == (
        Grant(Party.AF, Party.SF, "employment"),
    )
