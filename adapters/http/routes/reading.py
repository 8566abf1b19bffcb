"""Reading: the caller's agency view (now, or as of an instant), the participant's disclosure extract and consent
receipts (JSON, or PDF for the participant to keep). The read door (adapters/read_service.py) decides and logs;
these routes only translate (the PDFs are laid out by adapters/documents.py)."""

from __future__ import annotations

from typing import Annotated
from uuid import UUID

import orjson
from fastapi import APIRouter, Query, Response

from adapters import documents
from adapters.http.context import CallerDep, Ctx
from adapters.http.schemas import ConsentReceipt, DisclosureExtract, Instant, RegisterExtract, ViewPublic

router = APIRouter(prefix="/api/v1/participants/{participant_id}", tags=["reading"])


@router.get("/view", response_model=ViewPublic, response_class=Response)
def view(
    participant_id: UUID,
    caller: CallerDep,
    ctx: Ctx,
    as_of: Annotated[
        Instant | None,
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


PDF = {200: {"content": {"application/pdf": {}}, "description": "A PDF in Swedish for the participant to keep"}}


def _pdf(content: bytes, name: str) -> Response:
    return Response(
        content,
        media_type="application/pdf",
        headers={"Content-Disposition": f'attachment; filename="{name}"', "Cache-Control": "no-store"},
    )


@router.get("/disclosures.pdf", response_class=Response, responses=PDF)
def disclosures_pdf(participant_id: UUID, caller: CallerDep, ctx: Ctx) -> Response:
    """The participant's log extract as a PDF in Swedish: the same entries as `/disclosures`, in Swedish time."""
    extract = ctx.reads.extract_document(caller, participant_id, "pdf")
    return _pdf(documents.extract_pdf(extract), documents.filename("loggutdrag", extract["issued_at"]))


@router.get("/register-extract", response_model=RegisterExtract, response_model_by_alias=True)
def register_extract(participant_id: UUID, caller: CallerDep, ctx: Ctx) -> RegisterExtract:
    """The GDPR art. 15 extract (registerutdrag): everything held about the participant, opened, with purposes,
    categories, recipients, retention, sources and rights. Samordnare only, at the participant's request: send
    `purpose=registerutdrag`. It shows every party's decisions; the log entry lists every item (docs/extracts.md)."""
    return RegisterExtract.model_validate(ctx.reads.register_extract(caller, participant_id, "json"))


@router.get("/register-extract.pdf", response_class=Response, responses=PDF)
def register_extract_pdf(participant_id: UUID, caller: CallerDep, ctx: Ctx) -> Response:
    """The GDPR art. 15 extract as a PDF in Swedish for the participant to keep."""
    extract = ctx.reads.register_extract(caller, participant_id, "pdf")
    return _pdf(documents.register_extract_pdf(extract), documents.filename("registerutdrag", extract["issued_at"]))


@router.get("/consents/{consent_id}/receipt", response_model=ConsentReceipt)
def consent_receipt(participant_id: UUID, consent_id: UUID, caller: CallerDep, ctx: Ctx) -> ConsentReceipt:
    """The receipt of one consent as it stands now (ISO/IEC 27560 fields); its version is the consent's, so a
    withdrawal gives an updated receipt."""
    return ConsentReceipt.model_validate(ctx.reads.receipt(caller, participant_id, consent_id, "json"))


@router.get("/consents/{consent_id}/receipt.pdf", response_class=Response, responses=PDF)
def consent_receipt_pdf(participant_id: UUID, consent_id: UUID, caller: CallerDep, ctx: Ctx) -> Response:
    """The consent receipt as a PDF in Swedish for the participant to keep."""
    receipt = ctx.reads.receipt(caller, participant_id, consent_id, "pdf")
    name = documents.filename(f"samtyckeskvitto-v{receipt['version']}", receipt["issued_at"])
    return _pdf(documents.receipt_pdf(receipt), name)


FHIR_JSON = "application/fhir+json"


@router.get(
    "/fhir/Consent",
    response_class=Response,
    responses={200: {"content": {FHIR_JSON: {}}, "description": "A FHIR R4 Bundle (searchset) of Consent resources"}},
)
def fhir_consents(participant_id: UUID, caller: CallerDep, ctx: Ctx) -> Response:
    """The participant's consents as FHIR R4 Consent resources (docs/fhir.md): one per consent, its version in
    meta.versionId, a permit per grant in force and a deny per withdrawn grant. For samordnare; logged like the
    consents."""
    bundle = ctx.reads.fhir_consents(caller, participant_id)
    return Response(orjson.dumps(bundle), media_type=FHIR_JSON)
