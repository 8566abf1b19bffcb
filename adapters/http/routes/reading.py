"""Reading: the caller's agency view (now, or as of an instant) and the participant's disclosure extract. The read
door (adapters/read_service.py) decides and logs; these routes only translate."""

from __future__ import annotations

from typing import Annotated
from uuid import UUID

from fastapi import APIRouter, Query, Response
from pydantic import AwareDatetime

from adapters.http.context import CallerDep, Ctx
from adapters.http.schemas import DisclosureExtract, ViewPublic

router = APIRouter(prefix="/api/v1/participants/{participant_id}", tags=["reading"])


@router.get("/view", response_model=ViewPublic, response_class=Response)
def view(
    participant_id: UUID,
    caller: CallerDep,
    ctx: Ctx,
    as_of: Annotated[
        AwareDatetime | None,
        Query(
            description="An instant with offset, e.g. 2026-03-01T12:00:00+01:00: the view as it was then, "
            "narrowed to what you may still see now"
        ),
    ] = None,
) -> Response:
    """What the caller's agency may see of the participant now (or as it was at `as_of`, narrowed to what it may
    still see now), decided by the gate; every call is logged."""
    body = ctx.reads.view(caller, participant_id, as_of)
    # Serialised by pydantic directly: FastAPI's generic encoder costs more than the rest of the read.
    return Response(ViewPublic.model_validate(body).model_dump_json(), media_type="application/json")


@router.get("/disclosures", response_model=DisclosureExtract)
def disclosures(participant_id: UUID, caller: CallerDep, ctx: Ctx) -> DisclosureExtract:
    """The participant's log extract: who saw what of theirs, when, and under which consent."""
    return DisclosureExtract.model_validate(ctx.reads.extract(caller, participant_id))
