"""The baseline for bench/http.py: FastAPI with nothing of Samverkan in it.

One sync (`def`) GET endpoint on the same path shape as the agency view, so routing, path-parameter parsing,
the thread pool hop and JSON encoding cost what they cost in the real service. It only checks that a bearer
header is present (no token verification, no storage) and returns a fixed JSON object of about the size of
a small view (~600 bytes).

A second endpoint, `GET /insert/api/v1/participants/{participant_id}/view`, does the same and also INSERTs one row
into PostgreSQL and commits before it answers (a psycopg pool per worker; the database and schema come from
SAMVERKAN_DATABASE_URL, `postgresql://...?schema=S`, as the real service reads them): the baseline for a read that
must write one durable row before it answers, which is what a logged view is.

    uvicorn bench.bare_app:app --workers W --no-access-log --log-level warning
"""

from __future__ import annotations

import os
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from datetime import date
from typing import Annotated, Any
from urllib.parse import parse_qs, urlsplit
from uuid import UUID

from fastapi import FastAPI, Header
from fastapi.responses import JSONResponse
from psycopg import sql
from psycopg_pool import ConnectionPool

POOL_SIZE = 10  # more than the benchmark's concurrent connections: no request waits for a database connection
_pool: dict[str, ConnectionPool] = {}


def _connect_args(url: str) -> tuple[dict[str, Any], str]:
    """psycopg connection arguments and the schema of a `postgresql://user[:pw]@host:port/db?schema=S` URL."""
    parts = urlsplit(url)
    kwargs: dict[str, Any] = {"host": parts.hostname, "port": parts.port or 5432, "dbname": parts.path.lstrip("/")}
    if parts.username:
        kwargs["user"] = parts.username
    if parts.password:
        kwargs["password"] = parts.password
    schema = parse_qs(parts.query).get("schema", ["public"])[0]
    return kwargs, schema


@asynccontextmanager
async def lifespan(_: FastAPI) -> AsyncIterator[None]:
    url = os.environ.get("SAMVERKAN_DATABASE_URL", "")
    if not url.startswith(("postgresql://", "postgres://")):
        yield  # no database: the insert endpoint answers 503
        return
    kwargs, schema = _connect_args(url)
    kwargs["options"] = f"-c search_path={schema}"
    pool = ConnectionPool(kwargs=kwargs, min_size=POOL_SIZE, max_size=POOL_SIZE, open=True)
    with pool.connection() as conn:
        conn.execute("SELECT pg_advisory_xact_lock(hashtext('bench.bare_app'))")  # several workers start at once
        conn.execute(
            sql.SQL(
                "CREATE TABLE IF NOT EXISTS {} (id bigserial PRIMARY KEY, participant_id uuid NOT NULL,"
                " recorded_at timestamptz NOT NULL DEFAULT now(), caller text NOT NULL, body text NOT NULL)"
            ).format(sql.Identifier(schema, "bare_insert"))
        )
    _pool["pool"] = pool
    try:
        yield
    finally:
        _pool.pop("pool", None)
        pool.close()


app = FastAPI(title="bare baseline", lifespan=lifespan)
# About the size of a disclosure-log entry of a view with two decisions shown.
_ROW_BODY = "x" * 900

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


@app.get("/insert/api/v1/participants/{participant_id}/view")
def view_with_insert(participant_id: UUID, authorization: Annotated[str | None, Header()] = None) -> Any:
    """The same body as `view`, after one row is INSERTed and committed (one transaction per request)."""
    if not authorization or not authorization.lower().startswith("bearer "):
        return JSONResponse({"type": "about:blank", "title": "unauthenticated", "status": 401}, status_code=401)
    pool = _pool.get("pool")
    if pool is None:
        return JSONResponse({"type": "about:blank", "title": "no database", "status": 503}, status_code=503)
    with pool.connection() as conn:  # commits when the block ends
        conn.execute(
            "INSERT INTO bare_insert (participant_id, caller, body) VALUES (%s, %s, %s)",
            (participant_id, authorization[-16:], _ROW_BODY),
        )
    return view(participant_id, authorization)
