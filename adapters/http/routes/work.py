"""What the förbund's staff work from: the caseload, a participant's timeline, and the follow-up statistics.
The read door (adapters/read_service.py) decides and logs; these routes only translate."""

from __future__ import annotations

from datetime import date
from typing import Annotated, Literal
from uuid import UUID

import orjson
from fastapi import APIRouter, Query, Response

from adapters.http.context import CallerDep, Ctx
from adapters.http.problems import Problem
from adapters.http.schemas import Day
from consent import local_date
from projections import statistics as figures

router = APIRouter(prefix="/api/v1", tags=["work"])


@router.get("/caseload")
def caseload(caller: CallerDep, ctx: Ctx) -> Response:
    """Open cases with their phase and next dates: kartläggning end, next meeting and plan step, missed
    appointments in a row (home visit due after two), consents expiring within 30 days."""
    return Response(orjson.dumps(ctx.reads.caseload(caller)), media_type="application/json")


@router.get("/participants/{participant_id}/timeline")
def timeline(participant_id: UUID, caller: CallerDep, ctx: Ctx) -> Response:
    """The participant's case events in order, as codes; an agency's decisions only while the förbund may see
    them under the current consent."""
    return Response(orjson.dumps(ctx.reads.timeline(caller, participant_id)), media_type="application/json")


@router.get(
    "/statistics", responses={200: {"content": {"text/csv": {}}, "description": "JSON, or CSV with format=csv"}}
)
def statistics(
    caller: CallerDep,
    ctx: Ctx,
    since: Annotated[
        Day | None, Query(alias="from", description="First day of the period (default: 1 January)")
    ] = None,
    until: Annotated[Day | None, Query(alias="to", description="Last day of the period (default: today)")] = None,
    format: Annotated[Literal["json", "csv"], Query(description="json or csv")] = "json",  # noqa: A002
) -> Response:
    """Aggregate follow-up figures for the period, protected together against disclosure (docs/statistics.md).
    Participants without consent are counted by year and gender only."""
    period_to = until or local_date(ctx.service.clock())
    period_from = since or date(period_to.year, 1, 1)
    if period_from > period_to:
        wrong = "must not be after to"
        raise Problem("validation-error", f"from: {wrong}", errors=[{"field": "from", "message": wrong}])
    tables = ctx.reads.statistics(caller, period_from, period_to)
    if format == "csv":
        text = "\n".join(f"# {table.title}\n{figures.table_to_csv(table)}" for table in tables.values())
        return Response(text, media_type="text/csv; charset=utf-8")
    body = {
        "from": period_from.isoformat(),
        "to": period_to.isoformat(),
        "suppressed_below": figures.MIN_CELL,
        "tables": {name: figures.table_to_json(table) for name, table in tables.items()},
    }
    return Response(orjson.dumps(body), media_type="application/json")
