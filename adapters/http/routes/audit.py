"""The auditors' side (granskare): streamed exports of the disclosure log, their signed manifest, and
verification of the live log. Auditors see log entries, never case content."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Any, Literal
from uuid import UUID

from fastapi import APIRouter, Depends, Query
from fastapi.responses import StreamingResponse
from pydantic import AwareDatetime

from adapters.disclosure_log import LogFilter
from adapters.http.context import CallerDep, Ctx
from adapters.http.problems import Problem
from adapters.http.schemas import PartyCode, ReconstructionPublic
from consent import Party

router = APIRouter(prefix="/api/v1/audit", tags=["audit"])
MEDIA = {"jsonl": "application/x-ndjson", "csv": "text/csv; charset=utf-8"}


Participant = Annotated[UUID | None, Query(description="Only entries about this participant")]
AgencyQ = Annotated[str | None, Query(description="Only entries by users of this agency")]
UserQ = Annotated[str | None, Query(alias="user", max_length=200, description="Only entries by this user id")]
FromQ = Annotated[datetime | None, Query(alias="from", description="From this instant (inclusive)")]
ToQ = Annotated[datetime | None, Query(alias="to", description="Up to this instant (exclusive)")]
UntilSeqQ = Annotated[int | None, Query(ge=0, description="Only entries up to this seq")]
FormatQ = Annotated[Literal["jsonl", "csv"], Query(description="jsonl or csv")]


def log_filter(
    participant: Participant = None,
    agency: AgencyQ = None,
    user: UserQ = None,
    since: FromQ = None,
    until: ToQ = None,
    until_seq: UntilSeqQ = None,
) -> LogFilter:
    """The export filters of the query string (shared by the export and its manifest)."""
    for name, value in (("from", since), ("to", until)):
        if value is not None and value.tzinfo is None:
            raise Problem("validation-error", f"{name}: must carry a time zone offset", errors=[{"field": name}])
    if agency is not None and agency not in ("FK", "AF", "REGION", "KOMMUN", "SF"):
        raise Problem("validation-error", "agency: use FK, AF, REGION, KOMMUN or SF", errors=[{"field": "agency"}])
    return LogFilter(participant, agency, user, since, until, until_seq)


Filters = Annotated[LogFilter, Depends(log_filter)]


@router.get("/disclosures")
def export(
    caller: CallerDep,
    ctx: Ctx,
    where: Filters,
    format: FormatQ = "jsonl",  # noqa: A002 - the contract's name
) -> StreamingResponse:
    """Streams the matching entries, one per line, each with seq, prev_hash and hash. The export is itself
    logged first; it covers the log up to and including that entry (header X-Samverkan-Until-Seq)."""
    exported = ctx.reads.export(caller, where, format)
    return StreamingResponse(
        exported.lines,
        media_type=MEDIA[format],
        headers={
            "X-Samverkan-Until-Seq": str(exported.last_seq),
            "Content-Disposition": f'attachment; filename="disclosures-{exported.last_seq}.{format}"',
        },
    )


@router.get("/disclosures/manifest")
def manifest(
    caller: CallerDep,
    ctx: Ctx,
    where: Filters,
    format: FormatQ = "jsonl",  # noqa: A002
) -> dict[str, Any]:
    """Count, first and last seq and hash, the export's SHA-256 and an Ed25519 signature, for the same filters
    (pass until_seq from the export's X-Samverkan-Until-Seq to describe exactly that export)."""
    return ctx.reads.manifest(caller, where, format)


@router.post("/verify")
def verify(caller: CallerDep, ctx: Ctx) -> dict[str, object]:
    """Checks the whole live log and names the first bad entry, if any."""
    return ctx.reads.verify(caller).as_dict()


@router.get("/participants/{participant_id}/reconstruction", response_model=ReconstructionPublic)
def reconstruction(
    participant_id: UUID,
    caller: CallerDep,
    ctx: Ctx,
    party: Annotated[PartyCode, Query(description="The party whose view to reconstruct: FK, AF, REGION, KOMMUN, SF")],
    at: Annotated[AwareDatetime, Query(description="The instant, with offset, e.g. 2026-03-01T12:00:00+01:00")],
) -> ReconstructionPublic:
    """What `party` could see of the participant at `at`: item ids, categories, status and the consent (id and
    version) behind each — never content. For granskare; logged."""
    return ReconstructionPublic.model_validate(ctx.reads.reconstruction(caller, participant_id, Party(party), at))
