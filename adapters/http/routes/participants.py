"""Participants, search by personnummer, consent, and erasure."""

from __future__ import annotations

from uuid import UUID

from fastapi import APIRouter, status

from adapters.http.context import Admin, CallerDep, Ctx, Samordnare
from adapters.http.schemas import (
    ConsentCreate,
    ConsentCreated,
    ConsentPublic,
    Created,
    Done,
    ErasureCreate,
    GrantIn,
    ParticipantCreate,
    ParticipantSearch,
    WithdrawalCreate,
    WithdrawalPublic,
)
from adapters.recording import erase_personal_data

router = APIRouter(prefix="/api/v1/participants", tags=["participants"])


def _grants(items: list[GrantIn]) -> list[tuple[str, str, list[str]]]:
    return [(g.from_, g.to, list(g.categories)) for g in items]


@router.post("", status_code=status.HTTP_201_CREATED, response_model=Created)
def enrol(body: ParticipantCreate, user: Samordnare, ctx: Ctx) -> Created:
    """Enrols a participant (samordnare). 409 when the personnummer is already enrolled."""
    case_id = ctx.service.enrol(
        by=user.sub,
        personnummer=body.personnummer,
        birth_date=body.birth_date,
        legal_gender=body.legal_gender,
        given_name=body.given_name,
        family_name=body.family_name,
        municipality=body.municipality,
        contact=body.contact.model_dump(exclude_none=True) if body.contact else None,
        baseline=body.baseline.model_dump(exclude_none=True) if body.baseline else None,
    )
    return Created(id=case_id)


@router.post("/{participant_id}/personnummer", response_model=Done)
def add_personnummer(participant_id: UUID, body: ParticipantSearch, user: Samordnare, ctx: Ctx) -> Done:
    """Adds the personnummer or samordningsnummer to a participant enrolled without one (409 when another
    participant has that number, or this one has a number already). The number goes in the body, never a URL."""
    ctx.service.add_personnummer(participant_id, by=user.sub, personnummer=body.personnummer)
    return Done(id=participant_id)


@router.post("/search", response_model=Created)
def search(body: ParticipantSearch, caller: CallerDep, ctx: Ctx) -> Created:
    """Finds a participant by personnummer, sent in the body so it never appears in a URL or log."""
    return Created(id=ctx.reads.search(caller, body.personnummer))


@router.post("/{participant_id}/consents", status_code=status.HTTP_201_CREATED, response_model=ConsentCreated)
def record_consent(participant_id: UUID, body: ConsentCreate, user: Samordnare, ctx: Ctx) -> ConsentCreated:
    """Records a samtycke: grants (from -> to, categories), purpose, period, form, witness, document, guardian."""
    ref = ctx.service.record_consent(
        participant_id,
        by=user.sub,
        grants=_grants(body.grants),
        purpose=body.purpose,
        valid_from=body.valid_from,
        valid_until=body.valid_until,
        form=body.form,
        witness=body.witness,
        document_ref=body.document_ref,
        guardian=body.guardian,
        guardians=body.guardians or (),
    )
    return ConsentCreated(id=ref.consent_id, version=ref.version)


@router.get("/{participant_id}/consents", response_model=list[ConsentPublic], response_model_by_alias=True)
def list_consents(participant_id: UUID, caller: CallerDep, ctx: Ctx) -> list[ConsentPublic]:
    """The participant's consents with their status now (active, expired, withdrawn, pending)."""
    return [ConsentPublic.model_validate(c) for c in ctx.reads.consents(caller, participant_id)]


@router.post("/{participant_id}/consents/{consent_id}/withdrawal", response_model=WithdrawalPublic)
def withdraw_consent(
    participant_id: UUID, consent_id: UUID, user: Samordnare, ctx: Ctx, body: WithdrawalCreate | None = None
) -> WithdrawalPublic:
    """Withdraws the whole consent (no grants) or the named grants; effective at once."""
    body = body or WithdrawalCreate()
    ref = ctx.service.withdraw_consent(
        participant_id,
        consent_id,
        by=user.sub,
        grants=None if body.grants is None else _grants(body.grants),
        reason=body.reason,
    )
    case = ctx.service.get_case(participant_id)
    return WithdrawalPublic(
        id=ref.consent_id, version=ref.version, status=case.consent(consent_id).status(ctx.service.clock()).value
    )


@router.post("/{participant_id}/erasure", response_model=Done)
def erase(participant_id: UUID, user: Admin, caller: CallerDep, ctx: Ctx, body: ErasureCreate | None = None) -> Done:
    """Erases the participant's personal data everywhere (by deleting its key); the history stays. Logged with
    its reason code (`admin-request` when none is given)."""
    reason = (body or ErasureCreate()).reason
    erase_personal_data(ctx.service, ctx.log, caller, participant_id, reason=reason)
    return Done(id=participant_id)
