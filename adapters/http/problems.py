"""The one place that maps errors to RFC 9457 problem responses: stable `type`, a `title`, a `detail` that says
what to do, and never a stack trace or personal data."""

from __future__ import annotations

import re
import sqlite3
from typing import Any
from uuid import UUID

import psycopg
import structlog
from eventsourcing.persistence import InterfaceError, OperationalError
from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse, Response
from fastapi.routing import iter_route_contexts
from starlette.exceptions import HTTPException as StarletteHTTPException

from adapters.auth import Unauthenticated
from coordination import ConsentRequired, DomainError, InvalidCommand

PROBLEM_BASE = "https://samverkan.se/problems/"
TITLES = {
    "validation-error": "The request is not valid",
    "consent-required": "The participant's consent does not allow this",
    "forbidden": "Not allowed for your role or agency",
    "not-found": "Not found",
    "conflict": "Conflicts with the current state",
    "unauthenticated": "Sign in: a valid bearer token is required",
    "unavailable": "The service cannot reach its storage right now",
    "payload-too-large": "The request body is too large",
    "method-not-allowed": "Method not allowed",
    "uri-too-long": "The request's address is too long",
    "headers-too-large": "The request's headers are too large",
}
STATUS = {
    "validation-error": 422,
    "consent-required": 403,
    "forbidden": 403,
    "not-found": 404,
    "conflict": 409,
    "unauthenticated": 401,
    "unavailable": 503,
    "payload-too-large": 413,
    "method-not-allowed": 405,
    "uri-too-long": 414,
    "headers-too-large": 431,
}
# How long a client is asked to wait after a 503: the storage is probed every half second while it is gone, and
# requests go through within a second of its return (docs/operations.md, "Outages").
RETRY_AFTER_S = "5"
log = structlog.get_logger("samverkan.http")


class Problem(Exception):
    """An HTTP-level refusal raised by the adapters (roles, missing resources, bad parameters)."""

    def __init__(self, kind: str, detail: str, **extra: Any) -> None:
        super().__init__(detail)
        self.kind = kind
        self.detail = detail
        self.extra = extra


def problem_response(kind: str, detail: str, request: Request | None = None, **extra: Any) -> JSONResponse:
    """A problem+json response of the given kind."""
    status = STATUS[kind]
    body: dict[str, Any] = {"type": PROBLEM_BASE + kind, "title": TITLES[kind], "status": status, "detail": detail}
    if request is not None:
        instance = _safe_instance(request)
        if instance is not None:
            body["instance"] = instance
        request_id = getattr(request.state, "request_id", None)
        if request_id:
            body["request_id"] = request_id
    body.update(extra)
    headers = {"WWW-Authenticate": 'Bearer realm="samverkan"'} if status == 401 else {}  # noqa: PLR2004
    if status == 503:  # noqa: PLR2004
        headers["Retry-After"] = RETRY_AFTER_S
    return JSONResponse(body, status_code=status, headers=headers, media_type="application/problem+json")


def _unavailable_page(request: Request) -> Response:
    """The web pages' answer while the storage does not: a Swedish error page, 503 with Retry-After."""
    from adapters.web.pages import HEADERS, error_page  # here: the pages import the HTTP wiring this module is part of

    page = error_page(
        request,
        503,
        "Tjänsten svarar inte just nu",
        "Samverkan når inte sin databas för tillfället. Försök igen om en liten stund. Om du nyss sparade något: "
        "se efter att det finns med innan du gör om det.",
    )
    page.headers.update({**HEADERS, "Retry-After": RETRY_AFTER_S})
    return page


def _safe_instance(request: Request) -> str | None:
    """The request's path when it holds nothing a person typed: only a matched route's literal segments and
    path parameters that are UUIDs (a personnummer typed in place of an id must not come back); else the
    route's template, or nothing."""
    route = request.scope.get("route")
    template = getattr(route, "path", None)
    if template is None:
        return None
    params = request.scope.get("path_params") or {}
    if all(_is_uuid(value) for value in params.values()):
        return request.url.path
    return str(template)


def _is_uuid(value: Any) -> bool:
    try:
        UUID(str(value))
    except ValueError:
        return False
    return True


# What a field name looks like: lower-case letters and `_`. Any other part of a path (a key the caller chose,
# which could be a personnummer) is given as `?`; list positions stay.
_FIELD = re.compile(r"^[a-z][a-z_]{0,39}$")


def _field_name(location: tuple[Any, ...]) -> str:
    """The field's path as the caller can act on it, never echoing a key that could carry data."""
    parts = [p for p in location if p not in ("body", "query", "path", "header")]
    shown = [str(p) if isinstance(p, int) or (isinstance(p, str) and _FIELD.match(p)) else "?" for p in parts]
    return ".".join(shown) or "body"


def install(app: FastAPI) -> None:
    """Registers the handlers: domain errors, validation, auth, storage outages, and everything else."""

    @app.exception_handler(Problem)
    async def _problem(request: Request, error: Problem) -> JSONResponse:
        return problem_response(error.kind, error.detail, request, **error.extra)

    @app.exception_handler(DomainError)
    async def _domain(request: Request, error: DomainError) -> JSONResponse:
        extra: dict[str, Any] = {}
        if isinstance(error, InvalidCommand):
            extra["errors"] = [{"field": error.field, "message": error.reason}]
        if isinstance(error, ConsentRequired):
            missing = error.missing
            extra["missing_grant"] = {
                "from": missing.discloser.value,
                "to": missing.recipient.value,
                "category": missing.category,
            }
        return problem_response(error.kind, error.message, request, **extra)

    @app.exception_handler(RequestValidationError)
    async def _validation(request: Request, error: RequestValidationError) -> JSONResponse:
        # Pydantic's own messages can echo the input (a personnummer, a name): build ours without it.
        errors = [
            {
                "field": "body" if e.get("type") == "json_invalid" else _field_name(tuple(e.get("loc", ()))),
                "message": _message(e),
            }
            for e in error.errors()
        ]
        errors = errors or [{"field": "body", "message": "is not valid"}]  # every 422 names a field
        first = errors[0]
        detail = f"{first['field']}: {first['message']}"
        return problem_response("validation-error", detail, request, errors=errors)

    @app.exception_handler(Unauthenticated)
    async def _unauthenticated(request: Request, error: Unauthenticated) -> JSONResponse:
        # The reason only: the token and its claims' values are never logged or echoed.
        log.info("token_refused", reason=error.reason)
        return problem_response("unauthenticated", str(error), request, reason=error.reason)

    @app.exception_handler(StarletteHTTPException)
    async def _http(request: Request, error: StarletteHTTPException) -> JSONResponse:
        kind = {404: "not-found", 405: "method-not-allowed", 413: "payload-too-large", 401: "unauthenticated"}.get(
            error.status_code, "validation-error"
        )
        detail = "no such resource" if error.status_code == 404 else str(error.detail)  # noqa: PLR2004
        if kind == "validation-error":  # e.g. a form body that cannot be parsed: every 422 names a field
            return problem_response(kind, f"body: {detail}", request, errors=[{"field": "body", "message": detail}])
        response = problem_response(kind, detail, request)
        if error.status_code == 405:  # noqa: PLR2004 - every route's methods; a static file (no route): GET, HEAD
            response.headers["Allow"] = _allowed(request) or (error.headers or {}).get("Allow") or "GET, HEAD"
        return response

    # Every way the storage can fail to answer: the library's errors (its recorders and pools, and the refusal
    # while PostgreSQL is known to be unreachable, adapters/storage.py), psycopg's and its pool's (PoolTimeout,
    # TooManyRequests and PoolClosed are OperationalErrors) and SQLite's own (a lock not granted in time).
    @app.exception_handler(OperationalError)
    @app.exception_handler(InterfaceError)
    @app.exception_handler(psycopg.OperationalError)
    @app.exception_handler(psycopg.InterfaceError)
    @app.exception_handler(sqlite3.OperationalError)
    async def _unavailable(request: Request, error: Exception) -> Response:
        log.warning("storage_unavailable", error_type=type(error).__name__)
        if getattr(request.state, "web", None) is not None:  # a web page (adapters/web): in Swedish, as HTML
            return _unavailable_page(request)
        return problem_response("unavailable", "the database does not answer; try again shortly", request)

    @app.exception_handler(Exception)
    async def _unexpected(request: Request, error: Exception) -> JSONResponse:
        # The type only: exception messages can carry data from the request.
        log.error("unexpected_error", error_type=type(error).__name__)
        body = {
            "type": PROBLEM_BASE + "internal-error",
            "title": "Internal error",
            "status": 500,
            "detail": "something went wrong on our side; the request id helps operations find it",
            "request_id": getattr(request.state, "request_id", None),
        }
        return JSONResponse(body, status_code=500, media_type="application/problem+json")


def _allowed(request: Request) -> str:
    """The methods the request's path accepts, over every route it matches (starlette names only the first
    route's, so a path with a GET and a POST route would say one of them)."""
    path, root = request.scope["path"], request.scope.get("root_path", "")
    if root and path.startswith(root + "/"):  # behind a proxy's prefix: the routes see the path without it
        path = path[len(root) :]
    methods: set[str] = set()
    for route in iter_route_contexts(request.app.routes):
        pattern = getattr(route, "path_regex", None)
        if pattern is not None and pattern.match(path):
            methods |= set(getattr(route, "methods", None) or ())
    return ", ".join(sorted(methods))


def _message(error: Any) -> str:
    kind = str(error.get("type", ""))
    messages = {
        "missing": "is required",
        "extra_forbidden": "is not a known field",
        "date_from_datetime_parsing": "must be a date like 2026-03-01",
        "date_parsing": "must be a real date like 2026-03-01",
        "date_type": "must be a date like 2026-03-01",
        "datetime_parsing": "must be an instant like 2026-03-01T12:00:00+01:00",
        "datetime_from_date_parsing": "must be an instant like 2026-03-01T12:00:00+01:00",
        "timezone_aware": "must carry a time zone offset",
        "string_too_long": "is too long",
        "string_too_short": "must not be empty",
        "too_long": "has too many items",
        "too_short": "has too few items",
        "enum": "is not one of the allowed values",
        "literal_error": "is not one of the allowed values",
        "uuid_parsing": "must be a UUID",
        "uuid_type": "must be a UUID",
        "json_invalid": "is not valid JSON",
        "string_type": "must be a string",
        "bool_type": "must be true or false",
        "list_type": "must be a list",
        "dict_type": "must be an object",
        "model_attributes_type": "must be an object",
        "int_parsing": "must be a whole number",
        "int_from_float": "must be a whole number",
        "greater_than_equal": "is too small",
        "less_than_equal": "is too large",
        "string_pattern_mismatch": "is not in the expected form",
    }
    bounds = {"greater_than_equal": ("ge", "at least"), "less_than_equal": ("le", "at most")}
    if kind in bounds and (error.get("ctx") or {}).get(bounds[kind][0]) is not None:
        return f"must be {bounds[kind][1]} {error['ctx'][bounds[kind][0]]}"  # the schema's bound, not the input
    if kind in messages:
        text = messages[kind]
        expected = (error.get("ctx") or {}).get("expected")
        return f"{text}: {expected}" if expected and kind in ("enum", "literal_error") else text
    if kind == "value_error":
        # Our own validators raise ValueError with messages free of input values.
        return str((error.get("ctx") or {}).get("error", "is not valid"))
    return "is not valid"
