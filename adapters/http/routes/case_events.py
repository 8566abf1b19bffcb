"""Recording on the case: agency decisions (with correction and retraction), blocks (spärr), referral, plan,
insatser, meetings and closure."""

from __future__ import annotations

from uuid import UUID

from fastapi import APIRouter, Response, status

from adapters.access import Caller
from adapters.http.context import CallerDep, Ctx, Handlaggare, PartyOfficer, Samordnare
from adapters.http.schemas import (
    BlockCreate,
    ClosureCreate,
    Created,
    DecisionCreate,
    Done,
    EmergencyAccessCreate,
    EmergencyAccessOpened,
    InterventionCreate,
    InterventionEnd,
    MeetingCreate,
    MeetingOutcome,
    PlanCreate,
    PlanCreated,
    ReferralCreate,
    RetractionCreate,
)
from adapters.recording import open_emergency_access
from adapters.recording import record_decision as record
from coordination import DecisionOutcome

router = APIRouter(prefix="/api/v1/participants/{participant_id}", tags=["case"])


def _record(
    participant_id: UUID, body: DecisionCreate, caller: Caller, ctx: Ctx, corrects: UUID | None = None
) -> DecisionOutcome:
    return record(
        ctx.service,
        ctx.log,
        caller,
        participant_id,
        category=body.category,
        decision_type=body.decision_type,
        effective_date=body.effective_date,
        summary=body.summary,
        source_ref=body.source_ref,
        attributes=body.attributes,
        corrects=corrects,
    )


@router.post("/decisions", status_code=status.HTTP_201_CREATED, response_model=Created)
def record_decision(
    participant_id: UUID, body: DecisionCreate, user: Handlaggare, caller: CallerDep, ctx: Ctx, response: Response
) -> Created:
    """Records the caller's agency's decision; 200 with the first id when source_ref was already recorded."""
    outcome = _record(participant_id, body, caller, ctx)
    if not outcome.created:
        response.status_code = status.HTTP_200_OK
    return Created(id=outcome.id)


@router.post("/decisions/{decision_id}/correction", status_code=status.HTTP_201_CREATED, response_model=Created)
def correct_decision(
    participant_id: UUID,
    decision_id: UUID,
    body: DecisionCreate,
    user: Handlaggare,
    caller: CallerDep,
    ctx: Ctx,
    response: Response,
) -> Created:
    """Records a corrected version of the agency's own decision; the original is marked corrected."""
    outcome = _record(participant_id, body, caller, ctx, corrects=decision_id)
    if not outcome.created:
        response.status_code = status.HTTP_200_OK
    return Created(id=outcome.id)


@router.post("/decisions/{decision_id}/retraction", response_model=Done)
def retract_decision(
    participant_id: UUID, decision_id: UUID, body: RetractionCreate, user: Handlaggare, ctx: Ctx
) -> Done:
    """Retracts the agency's own decision."""
    ctx.service.retract_decision(participant_id, decision_id, by=user.sub, agency=user.agency.value, reason=body.reason)
    return Done(id=decision_id)


@router.post("/blocks", status_code=status.HTTP_201_CREATED, response_model=Created)
def place_block(participant_id: UUID, body: BlockCreate, user: PartyOfficer, ctx: Ctx) -> Created:
    """Blocks, at the participant's request, the caller's party's own information (a category, or all of it)
    towards one party or all; it beats any consent from the next read on."""
    block_id = ctx.service.place_block(
        participant_id, by=user.sub, agency=user.agency.value, category=body.category, recipient=body.recipient
    )
    return Created(id=block_id)


@router.post("/blocks/{block_id}/lift", response_model=Done)
def lift_block(participant_id: UUID, block_id: UUID, user: PartyOfficer, ctx: Ctx) -> Done:
    """Lifts a block the caller's party placed (403 for another party's)."""
    ctx.service.lift_block(participant_id, block_id, by=user.sub, agency=user.agency.value)
    return Done(id=block_id)


@router.post("/emergency-access", status_code=status.HTTP_201_CREATED, response_model=EmergencyAccessOpened)
def emergency_access(
    participant_id: UUID, body: EmergencyAccessCreate, user: Handlaggare, caller: CallerDep, ctx: Ctx
) -> EmergencyAccessOpened:
    """Emergency access (nödåtkomst): opens the other parties' information about the participant to the caller
    alone, without a consent, for a reason from the fixed list and a note, for a short window (default and at
    most SAMVERKAN_EMERGENCY_ACCESS_MINUTES). Blocks still apply. The opening and every read in the window are
    logged as emergency access and land in the review queue; without a reason or a note it is refused (422),
    and the refusal is logged."""
    longest = ctx.settings.emergency_access_minutes
    opened = open_emergency_access(
        ctx.service,
        ctx.log,
        caller,
        participant_id,
        reason=body.reason,
        note=body.note,
        minutes=min(body.minutes or longest, longest),
    )
    return EmergencyAccessOpened(
        id=opened.id, reader=opened.reader.value, reason=opened.reason, opened_at=opened.opened_at, until=opened.until
    )


@router.post("/referral", status_code=status.HTTP_201_CREATED, response_model=Done)
def record_referral(participant_id: UUID, body: ReferralCreate, user: Samordnare, ctx: Ctx) -> Done:
    """Records the remiss."""
    ctx.service.record_referral(
        participant_id,
        by=user.sub,
        remittent=body.remittent,
        reason=body.reason,
        received_date=body.received_date,
        needs=body.needs or (),
    )
    return Done(id=participant_id)


@router.post("/plan", status_code=status.HTTP_201_CREATED, response_model=PlanCreated)
def revise_plan(participant_id: UUID, body: PlanCreate, user: Samordnare, ctx: Ctx) -> PlanCreated:
    """Records a new version of the handlingsplan."""
    version = ctx.service.revise_plan(
        participant_id,
        by=user.sub,
        goals=body.goals,
        steps=[(s.agency, s.description, s.due) for s in body.steps],
    )
    return PlanCreated(version=version)


@router.post("/interventions", status_code=status.HTTP_201_CREATED, response_model=Created)
def start_intervention(participant_id: UUID, body: InterventionCreate, user: Samordnare, ctx: Ctx) -> Created:
    """Starts an insats."""
    intervention_id = ctx.service.start_intervention(
        participant_id,
        by=user.sub,
        kind=body.kind,
        start_date=body.start_date,
        provider_agency=body.provider_agency,
        planned_end=body.planned_end,
    )
    return Created(id=intervention_id)


@router.post("/interventions/{intervention_id}/end", response_model=Done)
def end_intervention(
    participant_id: UUID, intervention_id: UUID, body: InterventionEnd, user: Samordnare, ctx: Ctx
) -> Done:
    """Ends an insats."""
    ctx.service.end_intervention(
        participant_id, intervention_id, by=user.sub, end_date=body.end_date, reason=body.reason
    )
    return Done(id=intervention_id)


@router.post("/meetings", status_code=status.HTTP_201_CREATED, response_model=Created)
def record_meeting(participant_id: UUID, body: MeetingCreate, user: Samordnare, ctx: Ctx) -> Created:
    """Books a meeting or home visit (no `attended`: the parties invited), or records one held or missed."""
    if body.attended is None:
        meeting_id = ctx.service.book_meeting(
            participant_id, by=user.sub, day=body.date, agencies_invited=body.agencies_invited or (), kind=body.kind
        )
    else:
        meeting_id = ctx.service.record_meeting(
            participant_id,
            by=user.sub,
            day=body.date,
            agencies_present=body.agencies_present or (),
            attended=body.attended,
            notes=body.notes,
            kind=body.kind,
        )
    return Created(id=meeting_id)


@router.post("/meetings/{meeting_id}/outcome", response_model=Done)
def record_meeting_outcome(
    participant_id: UUID, meeting_id: UUID, body: MeetingOutcome, user: Samordnare, ctx: Ctx
) -> Done:
    """Records what became of a booked meeting: held (with the parties present) or missed."""
    ctx.service.record_meeting_outcome(
        participant_id,
        meeting_id,
        by=user.sub,
        attended=body.attended,
        agencies_present=body.agencies_present,
        notes=body.notes,
    )
    return Done(id=meeting_id)


@router.post("/closure", response_model=Done)
def close_case(participant_id: UUID, body: ClosureCreate, user: Samordnare, ctx: Ctx) -> Done:
    """Closes the case (avslut) with its outcome."""
    follow_up = {
        k: v for k, v in (("support_after", body.support_after), ("occupation_after", body.occupation_after)) if v
    }
    ending = body.end_interventions
    ctx.service.close_case(
        participant_id,
        by=user.sub,
        outcome=body.outcome,
        closed_date=body.closed_date,
        follow_up=follow_up,
        end_interventions=None if ending is None else (ending.end_date, ending.reason),
    )
    return Done(id=participant_id)
