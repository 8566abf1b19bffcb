"""Rules a consent must satisfy before it can be recorded."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date

from consent.model import ConsentForm, Grant, add_months
from consent.parties import is_known_category, is_own_category

DEFAULT_MAX_MONTHS = 12
ADULT_AGE = 18


@dataclass(frozen=True)
class ConsentProblem:
    """One thing wrong with a consent: the field and what to do about it."""

    field: str
    message: str


def age_on(birth_date: date, day: date) -> int:
    """Completed years on `day`."""
    return day.year - birth_date.year - ((day.month, day.day) < (birth_date.month, birth_date.day))


def consent_problems(
    *,
    grants: tuple[Grant, ...],
    purpose: str,
    valid_from: date,
    valid_until: date,
    form: ConsentForm,
    witness: str | None,
    guardian_named: bool,
    birth_date: date | None,
    max_months: int = DEFAULT_MAX_MONTHS,
    document_ref: str | None = None,
    guardians: int | None = None,
) -> list[ConsentProblem]:
    """Everything wrong with a consent draft; an empty list means it may be recorded."""
    problems: list[ConsentProblem] = []
    if not grants:
        problems.append(ConsentProblem("grants", "name at least one grant (from, to, categories)"))
    for grant in grants:
        named = f"in grant {grant.describe()}"
        if grant.discloser == grant.recipient:
            problems.append(ConsentProblem("grants", f"{named}: a party cannot grant itself"))
        if not is_known_category(grant.category):
            problems.append(ConsentProblem("grants", f"{named}: unknown category {grant.category!r}"))
        elif not is_own_category(grant.discloser, grant.category):
            problems.append(
                ConsentProblem("grants", f"{named}: {grant.discloser.value} can only share its own category")
            )
    if not purpose.strip():
        problems.append(ConsentProblem("purpose", "state the purpose of the consent"))
    if valid_until < valid_from:
        problems.append(ConsentProblem("valid_until", "valid_until must not be before valid_from"))
    elif valid_until > add_months(valid_from, max_months):
        problems.append(ConsentProblem("valid_until", f"a consent may last at most {max_months} months"))
    if form == "oral" and not (witness and witness.strip()):
        problems.append(ConsentProblem("witness", "oral consent is valid only with the staff member who received it"))
    if form == "written" and not (document_ref and document_ref.strip()):
        problems.append(
            ConsentProblem("document_ref", "a written consent is stored as a reference to the signed document")
        )
    if guardians is not None and guardians > 2:  # noqa: PLR2004 - a child has at most two guardians
        problems.append(ConsentProblem("guardians", "name one or two guardians"))
    if birth_date is not None and age_on(birth_date, valid_from) < ADULT_AGE and not guardian_named:
        problems.append(
            ConsentProblem("guardian", "the participant is under 18 at valid_from: record the guardian's consent")
        )
    return problems
