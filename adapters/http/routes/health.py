"""Liveness with storage: 200 when the service and its database answer, 503 otherwise; "degraded" (still 200:
recording and agency views do not depend on the projections) while a projection cannot go on."""

from __future__ import annotations

from fastapi import APIRouter
from fastapi.responses import JSONResponse

from adapters.http.context import Ctx
from adapters.http.problems import problem_response

router = APIRouter(prefix="/api/v1", tags=["operations"])


@router.get("/health")
def health(ctx: Ctx) -> JSONResponse:
    """Checks that the database answers; reports how far each projection is behind the log, and a projection
    that is failing (which, at which log position, why, since when), as any runner recorded it."""
    try:
        seq, _ = ctx.log.head()
        projections = ctx.projections.health()
    except Exception:  # any storage failure means not healthy
        return problem_response("unavailable", "the database does not answer")
    return JSONResponse(
        {
            "status": "ok" if projections["failing"] is None else "degraded",
            "database": ctx.storage.target.engine,
            "disclosure_log_entries": seq,
            "projections": {
                "lag_events": projections["lag_events"],
                "runner": ctx.settings.projections,
                "failing": projections["failing"],
            },
        }
    )
