"""Participants, search by personnummer, consent, and erasure."""

from __future__ import annotations

from datetime import datetime
from uuid import UUID

from fastapi import APIRouter, Request, status

from adapters.disclosure_log import CONSENTS_READ, SEARCH, Disclosed, EntryDraft
from adapters.http.context import Admin, Ctx, Reader, Samordnare, actor, purpose, request_id
from adapters.http.problems import Problem
from adapters.http.schemas import (
    ConsentCreate,
    ConsentCreated,
    ConsentPublic,
    Created,
    Done,
    GrantIn,
    GrantPublic,
    ParticipantCreate,
    ParticipantSearch,
    WithdrawalCreate,
    WithdrawalPublic,
)
from consent import Consent, GrantState
from coordination import Case, CoordinationService

router = APIRouter(prefix="/api/v1/participants", tags=["participants"])


def _grants(items: list[GrantIn]) -> list[tuple[str, str, list[str]]]:
    return [(g.from_, g.to, list(g.categories)) for g in items]


@router.post("", status_code=status.HTTP_201_CREATED, response_model=Created)
def enrol(body: ParticipantCreate, user: Samordnare, ctx: Ctx) -> Created:
    """Enrols a participant (samordnare). 409 when the personnummer is already enrolled."""
    case_id = ctx.service.enrol(
        by=user.sub,
        personnummer=body.personnummer,
        given_name=body.given_name,
        family_name=body.family_name,
        municipality=body.municipality,
        contact=body.contact.model_dump(exclude_none=True) if body.contact else None,
        baseline=body.baseline.model_dump(exclude_none=True) if body.baseline else None,
    )
    return Created(id=case_id)


@router.post("/search", response_model=Created)
def search(body: ParticipantSearch, user: Reader, ctx: Ctx, request: Request) -> Created:
    """Finds a participant by personnummer, sent in the body so it never appears in a URL or log."""
    found = ctx.service.find_by_personnummer(body.personnummer)
    ctx.log.append(
        EntryDraft(
            SEARCH,
            actor(user),
            request_id(request),
            purpose(request, user),
            participant_id=found,
            outcome="disclosed" if found else "not-found",
        )
    )
    if found is None:
        raise Problem("not-found", "no participant is enrolled with this personnummer")
    return Created(id=found)


def consent_public(service: CoordinationService, case: Case, consent: Consent, at: datetime) -> ConsentPublic:
    """A consent as samordnare see it, with the status of the whole and of each grant at `at`."""
    overall = consent.status(at)

    def grant_status(state: GrantState) -> str:
        # A grant still in force follows the consent's period: pending, active or expired.
        return "withdrawn" if state.withdrawn_by(at) else overall.value

    return ConsentPublic(
        id=consent.id,
        version=consent.version,
        status=overall.value,  # type: ignore[arg-type]
        purpose=service.read(case, consent.purpose),
        valid_from=consent.valid_from,
        valid_until=consent.valid_until,
        form=consent.form,
        witness=service.read(case, consent.witness),
        document_ref=consent.document_ref,
        guardian=service.read(case, case.consent_guardians.get(consent.id)),
        recorded_at=consent.recorded_at,
        grants=[
            GrantPublic(
                from_=s.grant.discloser.value,
                to=s.grant.recipient.value,
                category=s.grant.category,
                status=grant_status(s),  # type: ignore[arg-type]
                withdrawn_at=s.withdrawn_at,
            )
            for s in consent.grants
        ],
    )


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
    )
    return ConsentCreated(id=ref.consent_id, version=ref.version)


@router.get("/{participant_id}/consents", response_model=list[ConsentPublic], response_model_by_alias=True)
def list_consents(participant_id: UUID, user: Samordnare, ctx: Ctx, request: Request) -> list[ConsentPublic]:
    """The participant's consents with their status now (active, expired, withdrawn, pending)."""
    case = ctx.service.get_case(participant_id)
    now = ctx.service.clock()
    result = [consent_public(ctx.service, case, c, now) for c in ctx.service.consents(case)]
    ctx.log.append(
        EntryDraft(
            CONSENTS_READ,
            actor(user),
            request_id(request),
            purpose(request, user),
            participant_id=participant_id,
            disclosed=[Disclosed(c.id, "SF", "coordination", None, None) for c in result],
        )
    )
    return result


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
def erase(participant_id: UUID, user: Admin, ctx: Ctx) -> Done:
    """Erases the participant's personal data everywhere (by deleting its key); the history stays."""
    ctx.service.erase_personal_data(participant_id, by=user.sub)
    return Done(id=participant_id)
