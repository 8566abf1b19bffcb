"""The auditors' side (granskare): streamed exports of the disclosure log, their signed manifest, and
verification of the live log. Auditors see log entries, never case content."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Any, Literal
from uuid import UUID

from fastapi import APIRouter, Depends, Path, Query
from fastapi.responses import StreamingResponse

from adapters.audit_export import SUFFIXES
from adapters.disclosure_log import LogFilter
from adapters.http.context import CallerDep, Ctx, Granskare
from adapters.http.problems import Problem
from adapters.http.schemas import (
    Instant,
    Line,
    PartyCode,
    ReconstructionPublic,
    ReviewMark,
    ReviewMarked,
    ReviewQueue,
)
from adapters.recording import mark_reviewed as record_review
from adapters.review import period_bound, review_lines
from consent import Party
from coordination.strict import MAX_SEQ

router = APIRouter(prefix="/api/v1/audit", tags=["audit"])
MEDIA = {"jsonl": "application/x-ndjson", "csv": "text/csv; charset=utf-8", "fhir": "application/fhir+ndjson"}


Participant = Annotated[UUID | None, Query(description="Only entries about this participant")]
AgencyQ = Annotated[str | None, Query(max_length=10, description="Only entries by users of this agency")]
UserQ = Annotated[
    Annotated[str, Line] | None, Query(alias="user", max_length=200, description="Only entries by this user id")
]
# Instants carry their offset and lie within 1900-01-01 ... 2199-12-31 (UTC); seqs fit a bigint (docs/api.md).
FromQ = Annotated[Instant | None, Query(alias="from", description="From this instant with its offset (inclusive)")]
ToQ = Annotated[Instant | None, Query(alias="to", description="Up to this instant with its offset (exclusive)")]
UntilSeqQ = Annotated[int | None, Query(ge=0, le=MAX_SEQ, description="Only entries up to this seq")]
FormatQ = Annotated[
    Literal["jsonl", "csv", "fhir"],
    Query(description="jsonl, csv, or fhir (one FHIR R4 AuditEvent per line, docs/fhir.md)"),
]


def log_filter(
    participant: Participant = None,
    agency: AgencyQ = None,
    user: UserQ = None,
    since: FromQ = None,
    until: ToQ = None,
    until_seq: UntilSeqQ = None,
) -> LogFilter:
    """The export filters of the query string (shared by the export and its manifest)."""
    if agency is not None and agency not in ("FK", "AF", "REGION", "KOMMUN", "SF"):
        wrong = "use FK, AF, REGION, KOMMUN or SF"
        raise Problem("validation-error", f"agency: {wrong}", errors=[{"field": "agency", "message": wrong}])
    return LogFilter(participant, agency, user, since, until, until_seq)


Filters = Annotated[LogFilter, Depends(log_filter)]


@router.get(
    "/disclosures",
    response_class=StreamingResponse,
    responses={200: {"content": {"application/x-ndjson": {}, "text/csv": {}, "application/fhir+ndjson": {}}}},
)
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
            "Content-Disposition": f'attachment; filename="disclosures-{exported.last_seq}.{SUFFIXES[format]}"',
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
    at: Annotated[Instant, Query(description="The instant, with offset, e.g. 2026-03-01T12:00:00+01:00")],
) -> ReconstructionPublic:
    """What `party` could see of the participant at `at`: item ids, categories, status and the consent (id and
    version) behind each — never content. For granskare; logged."""
    return ReconstructionPublic.model_validate(ctx.reads.reconstruction(caller, participant_id, Party(party), at))


# -- the review queue (granskning, docs/review.md) ----------------------------------------------------------------

REVIEW_MEDIA = {"json": "application/json", "jsonl": "application/x-ndjson", "csv": "text/csv; charset=utf-8"}


def _bound(name: str, value: str, *, end: bool) -> datetime:
    try:
        return period_bound(value, end=end)
    except ValueError as wrong:
        raise Problem("validation-error", f"{name}: {wrong}", errors=[{"field": name, "message": str(wrong)}]) from None


@router.get(
    "/review", response_model=ReviewQueue, responses={200: {"content": {"text/csv": {}, "application/x-ndjson": {}}}}
)
def review(
    caller: CallerDep,
    ctx: Ctx,
    since: Annotated[
        str, Query(alias="from", max_length=40, description="A date (the whole Swedish day) or an instant with offset")
    ],
    until: Annotated[
        str, Query(alias="to", max_length=40, description="A date (included) or an instant with offset (excluded)")
    ],
    sample: Annotated[int, Query(ge=0, le=1_000, description="How many disclosures to draw at random")] = 20,
    seed: Annotated[
        int | None, Query(ge=0, le=2**62, description="Draws the same sample again (given back in the answer)")
    ] = None,
    format: Annotated[Literal["json", "jsonl", "csv"], Query(description="json, jsonl or csv")] = "json",  # noqa: A002
) -> Any:
    """The review queue for the period: a reproducible random sample of disclosures plus every entry a rule
    flagged (off-hours, many participants, consent ending, emergency access, blocked), each with its rules and
    its latest review mark. Logged."""
    start, end = _bound("from", since, end=False), _bound("to", until, end=True)
    if end <= start:
        wrong = "must come after from"
        raise Problem("validation-error", f"to: {wrong}", errors=[{"field": "to", "message": wrong}])
    queue = ctx.reads.review(caller, start, end, sample, seed)
    if format == "json":
        return ReviewQueue.model_validate(queue)
    name = f"granskning-{queue['seed']}.{format}"
    body = review_lines(queue, format)
    return StreamingResponse(
        body,
        media_type=REVIEW_MEDIA[format],
        headers={"Content-Disposition": f'attachment; filename="{name}"', "X-Samverkan-Seed": str(queue["seed"])},
    )


@router.post("/review/{seq}", status_code=201, response_model=ReviewMarked)
def mark_reviewed(
    seq: Annotated[int, Path(ge=1, le=2**62)], body: ReviewMark, user: Granskare, caller: CallerDep, ctx: Ctx
) -> ReviewMarked:
    """Marks log entry `seq` reviewed with an outcome (utan-anmarkning, foljs-upp, obehorig-atkomst) and an
    optional comment (sealed under the participant's key); the mark is itself an appended, hash-chained entry."""
    mark = record_review(ctx.service, ctx.log, caller, seq, outcome=body.outcome, comment=body.comment)
    return ReviewMarked(seq=mark["seq"], reviewed_seq=seq, outcome=mark["details"]["outcome"])
