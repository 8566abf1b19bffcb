"""Liveness with storage: 200 when the service and its database answer, 503 otherwise."""

from __future__ import annotations

from fastapi import APIRouter
from fastapi.responses import JSONResponse

from adapters.http.context import Ctx
from adapters.http.problems import problem_response

router = APIRouter(prefix="/api/v1", tags=["operations"])


@router.get("/health")
def health(ctx: Ctx) -> JSONResponse:
    """Checks that the database answers; reports how far each projection is behind the log."""
    try:
        seq, _ = ctx.log.head()
        lag = ctx.projections.lag()
    except Exception:  # any storage failure means not healthy
        return problem_response("unavailable", "the database does not answer")
    return JSONResponse(
        {
            "status": "ok",
            "database": ctx.storage.target.engine,
            "disclosure_log_entries": seq,
            "projections": {"lag_events": lag, "runner": ctx.settings.projections},
        }
    )
