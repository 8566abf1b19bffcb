"""The baseline for bench/http.py: FastAPI with nothing of Samverkan in it.

One sync (`def`) GET endpoint on the same path shape as the agency view, so routing, path-parameter parsing,
the thread pool hop and JSON encoding cost what they cost in the real service. It only checks that a bearer
header is present (no token verification, no storage) and returns a fixed JSON object of about the size of
a small view (~600 bytes).

    uvicorn bench.bare_app:app --workers W --no-access-log --log-level warning
"""

from __future__ import annotations

from datetime import date
from typing import Annotated, Any
from uuid import UUID

from fastapi import FastAPI, Header
from fastapi.responses import JSONResponse

app = FastAPI(title="bare baseline")

_DECISION = {
    "id": "6f1c2a6e-1d2b-4c7e-9a51-0d6b2f4e8a11",
    "agency": "FK",
    "category": "insurance",
    "decision_type": "sjukpenning",
    "effective_date": date(2026, 1, 15).isoformat(),
    "summary": "Sjukpenning beviljad på halvtid",
    "status": "active",
    "consent_id": "0b9e7c1a-5f3d-4e2a-8c6b-1a2b3c4d5e6f",
}


@app.get("/api/v1/participants/{participant_id}/view")
def view(participant_id: UUID, authorization: Annotated[str | None, Header()] = None) -> Any:
    """A fixed view-like body (~600 bytes) for any caller that sends `Authorization: Bearer ...`."""
    if not authorization or not authorization.lower().startswith("bearer "):
        return JSONResponse({"type": "about:blank", "title": "unauthenticated", "status": 401}, status_code=401)
    return {
        "participant": {
            "id": str(participant_id),
            "given_name": "Testa",
            "family_name": "Benchsson",
            "status": "open",
        },
        "decisions": [_DECISION, {**_DECISION, "decision_type": "aktivitetsersattning"}],
        "coordination": [],
    }
