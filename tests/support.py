"""Builders for test scenarios (real objects; no mocks)."""

from __future__ import annotations

from collections.abc import Iterable
from datetime import UTC, date, datetime, timedelta
from uuid import UUID

from consent import local_date
from coordination import CoordinationService, DecisionState
from coordination.personnummer import fictitious_personnummer

ANNA = {"personnummer": "19811218-9876", "given_name": "Annika", "family_name": "Lindqvistsson"}


def enrol(service: CoordinationService, **overrides: str) -> UUID:
    """Enrols a fictitious adult participant."""
    return service.enrol(by="samordnare-1", **{**ANNA, **overrides})


def enrol_minor(service: CoordinationService, today: date) -> UUID:
    """Enrols a fictitious 16-year-old."""
    number = fictitious_personnummer(date(today.year - 16, 1, 15), 42, gender="female")
    return service.enrol(by="samordnare-1", personnummer=number, given_name="Tova", family_name="Minorsdotter")


def today() -> date:
    """Today's date in Sweden (tests use the real clock, so their dates are relative to it)."""
    return local_date(datetime.now(UTC))


def grant_consent(service: CoordinationService, case_id: UUID, *grants: tuple[str, str, list[str]]) -> UUID:
    """Records a written consent, valid from 30 days ago for 300 days, with the given grants; returns its id."""
    ref = service.record_consent(
        case_id,
        by="samordnare-1",
        grants=list(grants),
        purpose="Samordnad rehabilitering mot arbete",
        valid_from=today() - timedelta(days=30),
        valid_until=today() + timedelta(days=270),
        form="written",
        document_ref="DOC-2026-17",
    )
    return ref.consent_id


def fk_decision(service: CoordinationService, case_id: UUID, source_ref: str = "FK-2026-0001") -> UUID:
    """Records FK's decision on sjukpenning; returns its id."""
    return service.record_decision(
        case_id,
        by="handlaggare-fk",
        agency="FK",
        category="insurance",
        decision_type="sjukpenning",
        effective_date=date(2026, 10, 1),
        summary="Sjukpenning beviljad på halvtid",
        source_ref=source_ref,
    ).id


def by_source_ref(service: CoordinationService, case_id: UUID, refs: Iterable[str]) -> dict[str, DecisionState]:
    """The case's decisions by the agency reference they were recorded under, among `refs` (the case keeps only
    a keyed fingerprint of each reference)."""
    decisions = {d.source_ref: d for d in service.get_case(case_id).decisions.values()}
    found = {ref: decisions.get(service.vault.fingerprint(case_id, ref)) for ref in refs}
    return {ref: d for ref, d in found.items() if d is not None}
