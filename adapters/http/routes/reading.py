"""Reading: the caller's agency view (now, or as of an instant) and the participant's disclosure extract.
Every read is a disclosure and writes one log entry, refused reads included."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated
from uuid import UUID

from fastapi import APIRouter, Query, Request, Response

from adapters.disclosure_log import EXTRACT, VIEW, VIEW_REFUSED, EntryDraft, LogFilter
from adapters.http.context import Ctx, Reader, Samordnare, actor, purpose, request_id
from adapters.http.problems import Problem
from adapters.http.schemas import DisclosureExtract, ViewPublic
from adapters.reading import build_view
from projections.definitions import DECISIONS

router = APIRouter(prefix="/api/v1/participants/{participant_id}", tags=["reading"])


@router.get("/view", response_model=ViewPublic, response_class=Response)
def view(
    participant_id: UUID,
    user: Reader,
    ctx: Ctx,
    request: Request,
    as_of: Annotated[
        datetime | None, Query(description="An instant with offset, e.g. 2026-03-01T12:00:00+01:00")
    ] = None,
) -> Response:
    """What the caller's agency may see of the participant now (or as it was at `as_of`), decided by the gate
    against the consent in force at that instant."""
    if as_of is not None and as_of.tzinfo is None:
        raise Problem("validation-error", "as_of: must carry a time zone offset", errors=[{"field": "as_of"}])
    now = ctx.service.clock()
    at = now if as_of is None or as_of > now else as_of
    if as_of is None:
        case = ctx.service.get_case(participant_id)
        rows = ctx.projections.store.select(
            DECISIONS, "", '"participant_id" = %s ORDER BY "position"', (str(participant_id),)
        )
    else:
        case, rows = ctx.service.case_as_of(participant_id, at), []  # history: replayed from the log itself
    result = build_view(ctx.service, case, user.agency, at, as_of, rows)
    refused = result.empty and user.agency.value != "SF"
    ctx.log.append(
        EntryDraft(
            VIEW_REFUSED if refused else VIEW,
            actor(user),
            request_id(request),
            purpose(request, user),
            participant_id=participant_id,
            disclosed=[] if refused else result.disclosed,
            outcome="refused" if refused else "disclosed",
            reason="nothing-visible" if refused else None,
            as_of=as_of,
        )
    )
    if refused:
        raise Problem(
            "forbidden",
            f"{user.agency.value} may see nothing of this participant now: no decisions of its own and no active "
            "consent lets another party share with it",
        )
    # Serialised by pydantic directly: FastAPI's generic encoder costs more than the rest of the read.
    return Response(ViewPublic.model_validate(result.body).model_dump_json(), media_type="application/json")


@router.get("/disclosures", response_model=DisclosureExtract)
def disclosures(participant_id: UUID, user: Samordnare, ctx: Ctx, request: Request) -> DisclosureExtract:
    """The participant's log extract: who saw what of theirs, when, and under which consent."""
    ctx.service.get_case(participant_id)  # 404 for an unknown participant
    entries = [
        {
            "seq": e["seq"],
            "recorded_at": e["recorded_at"],
            "kind": e["kind"],
            "user_id": e["user_id"],
            "agency": e["agency"],
            "role": e["role"],
            "purpose": e["purpose"],
            "outcome": e["outcome"],
            "as_of": e["as_of"],
            "disclosed": e["disclosed"],
            "categories": e["categories"],
        }
        for e in ctx.log.entries(LogFilter(participant_id=participant_id))
    ]
    ctx.log.append(
        EntryDraft(
            EXTRACT,
            actor(user),
            request_id(request),
            purpose(request, user),
            participant_id=participant_id,
            details={"entries": len(entries)},
        )
    )
    return DisclosureExtract(participant_id=participant_id, entries=entries)
