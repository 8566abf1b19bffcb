"""The auditors' side (granskare): streamed exports of the disclosure log, their signed manifest, and
verification of the live log. Auditors see log entries, never case content."""

from __future__ import annotations

from dataclasses import replace
from datetime import datetime
from typing import Annotated, Literal
from uuid import UUID

from fastapi import APIRouter, Depends, Query, Request
from fastapi.responses import StreamingResponse

from adapters.audit_export import build_manifest, lines
from adapters.disclosure_log import EXPORT, EntryDraft, LogFilter
from adapters.http.context import Ctx, Granskare, actor, purpose, request_id
from adapters.http.problems import Problem

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
    user: Granskare,
    ctx: Ctx,
    request: Request,
    where: Filters,
    format: FormatQ = "jsonl",  # noqa: A002 - the contract's name
) -> StreamingResponse:
    """Streams the matching entries, one per line, each with seq, prev_hash and hash. The export is itself
    logged first; it covers the log up to and including that entry (header X-Samverkan-Until-Seq)."""
    entry = ctx.log.append(
        EntryDraft(
            EXPORT,
            actor(user),
            request_id(request),
            purpose(request, user),
            participant_id=where.participant_id,
            details={"filters": where.as_dict(), "format": format},
        )
    )
    last = entry["seq"] if where.until_seq is None else min(where.until_seq, entry["seq"])
    bounded = replace(where, until_seq=last)
    return StreamingResponse(
        lines(ctx.log.entries(bounded), format),
        media_type=MEDIA[format],
        headers={
            "X-Samverkan-Until-Seq": str(last),
            "Content-Disposition": f'attachment; filename="disclosures-{last}.{format}"',
        },
    )


@router.get("/disclosures/manifest")
def manifest(
    user: Granskare,
    ctx: Ctx,
    where: Filters,
    format: FormatQ = "jsonl",  # noqa: A002
) -> dict[str, object]:
    """Count, first and last seq and hash, the export's SHA-256 and an Ed25519 signature, for the same filters
    (pass until_seq from the export's X-Samverkan-Until-Seq to describe exactly that export)."""
    if where.until_seq is None:
        where = replace(where, until_seq=ctx.log.head()[0])
    return build_manifest(ctx.log.entries(where), where, format, ctx.signer)


@router.post("/verify")
def verify(user: Granskare, ctx: Ctx) -> dict[str, object]:
    """Checks the whole live log and names the first bad entry, if any."""
    return ctx.log.verify().as_dict()
