"""The OpenAPI document tells the truth about the problem answers (docs/api.md, "Errors"): one `Problem` schema
(application/problem+json) and, per operation, the statuses it can really answer, decided here in one place from
what each route is (authenticated, with a path id, recording, with input, touching storage) rather than by hand in
every decorator. FastAPI's default 422 (`HTTPValidationError`), which the service never sends, is replaced."""

from __future__ import annotations

from collections.abc import Callable, Iterable
from typing import Any

from fastapi import FastAPI
from fastapi.dependencies.models import Dependant
from fastapi.routing import APIRoute, iter_route_contexts
from pydantic import BaseModel, ConfigDict, Field
from pydantic.json_schema import SkipJsonSchema
from starlette.routing import BaseRoute

from adapters.http.context import current_user, get_context
from adapters.http.problems import PROBLEM_BASE, STATUS, TITLES

PROBLEM_JSON = "application/problem+json"
PROBLEM_REF = "#/components/schemas/Problem"
# The middleware's limits (adapters/http/middleware.py) answer on every route, before it is reached.
LIMITS = (413, 414, 431)
# POSTs that record nothing (so never a conflict with the case's state) ...
READS_BY_POST = {"/api/v1/participants/search", "/api/v1/audit/verify"}
# ... and routes without a path id that still answer 404 (a personnummer that finds no one).
NOT_FOUND_WITHOUT_ID = {"/api/v1/participants/search"}
# Sent on every answer that asks the client to come back (problems.RETRY_AFTER_S) or to sign in.
HEADERS = {
    401: {
        "WWW-Authenticate": {"description": 'Always `Bearer realm="samverkan"`', "schema": {"type": "string"}},
    },
    503: {
        "Retry-After": {
            "description": "Seconds to wait before trying again",
            "schema": {"type": "string", "pattern": "^[0-9]+$"},
        },
    },
}


class FieldError(BaseModel):
    """One field of the request that is not valid, and what to do about it (never the value sent)."""

    model_config = ConfigDict(extra="forbid")
    field: str = Field(description="The field's path, e.g. `grants.0.categories` or `body`")
    message: str


class MissingGrant(BaseModel):
    """The grant a consent would have to hold for this to be allowed."""

    model_config = ConfigDict(extra="forbid", populate_by_name=True)
    from_: str = Field(alias="from", description="The party disclosing: FK, AF, REGION, KOMMUN or SF")
    to: str = Field(description="The party receiving")
    category: str


class Problem(BaseModel):
    """An RFC 9457 problem: every 4xx and 5xx answer of the API (application/problem+json)."""

    model_config = ConfigDict(extra="forbid")
    type: str = Field(description=f"`{PROBLEM_BASE}<name>`, stable: branch on it", pattern="^https://")
    title: str = Field(description="The name's fixed title")
    status: int = Field(description="The HTTP status, again")
    detail: str = Field(description="What went wrong and what to do; never personal data")
    instance: str | SkipJsonSchema[None] = Field(
        default=None, description="The request's path when it carries only ids, else the route's template"
    )
    request_id: str | SkipJsonSchema[None] = Field(
        default=None, description="The request's X-Request-ID; quote it to operations"
    )
    errors: list[FieldError] | SkipJsonSchema[None] = Field(
        default=None, description="422 `validation-error`: every field that is not valid, the first also in detail"
    )
    missing_grant: MissingGrant | SkipJsonSchema[None] = Field(
        default=None, description="403 `consent-required`: the grant that is missing"
    )
    reason: str | SkipJsonSchema[None] = Field(
        default=None,
        description="401 `unauthenticated`: why the token was refused, e.g. missing, malformed, expired, "
        "not-yet-valid, wrong-issuer, wrong-audience, bad-signature, lifetime-too-long",
    )


def problem_schemas() -> dict[str, Any]:
    """The Problem schema and the ones it refers to, as components."""
    schema = Problem.model_json_schema(ref_template="#/components/schemas/{model}")
    nested = schema.pop("$defs", {})
    return {**nested, "Problem": schema}


def _description(status: int) -> str:
    kinds = [f"`{kind}`: {TITLES[kind]}" for kind, code in STATUS.items() if code == status]
    return "; ".join(kinds) or "A problem"


def problem_answer(status: int) -> dict[str, Any]:
    """The documented answer for one problem status."""
    answer: dict[str, Any] = {
        "description": _description(status),
        "content": {PROBLEM_JSON: {"schema": {"$ref": PROBLEM_REF}}},
    }
    if status in HEADERS:
        answer["headers"] = HEADERS[status]
    return answer


def _calls(dependant: Dependant) -> set[Callable[..., Any]]:
    """Every dependency a route has, however deep."""
    found: set[Callable[..., Any]] = set()
    for dependency in dependant.dependencies:
        if dependency.call is not None:
            found.add(dependency.call)
        found |= _calls(dependency)
    return found


def problem_statuses(route: Any, method: str, operation: dict[str, Any]) -> set[int]:
    """The problem statuses one operation can answer (`route`: an APIRoute, as included under its prefix)."""
    calls = _calls(route.dependant)
    statuses = set(LIMITS)
    if current_user in calls:
        statuses |= {401, 403}  # no or a refused token; a role, an agency or a consent that does not allow it
    if route.param_convertors or route.path_format in NOT_FOUND_WITHOUT_ID:
        statuses.add(404)
    if method == "POST" and route.path_format not in READS_BY_POST:
        statuses.add(409)  # the case's state (closed, erased, already done) or a concurrent change
    if operation.get("parameters") or operation.get("requestBody"):
        statuses.add(422)
    if get_context in calls:
        statuses.add(503)
    return statuses


def document_problems(document: dict[str, Any], routes: Iterable[BaseRoute]) -> dict[str, Any]:
    """Adds the problem answers to every operation of `document` and the Problem schema to its components."""
    schemas = document.setdefault("components", {}).setdefault("schemas", {})
    schemas.update(problem_schemas())
    for route in iter_route_contexts(list(routes)):  # the routes of included routers, with their full paths
        if not isinstance(route.original_route, APIRoute) or not route.include_in_schema:
            continue
        for method in sorted(route.methods or ()):
            operation = document.get("paths", {}).get(route.path_format, {}).get(method.lower())
            if operation is None:
                continue
            responses = operation.setdefault("responses", {})
            responses.pop("422", None)  # FastAPI's HTTPValidationError: never sent
            for status in sorted(problem_statuses(route, method, operation)):
                responses[str(status)] = problem_answer(status)
    for unused in ("HTTPValidationError", "ValidationError"):
        schemas.pop(unused, None)
    return document


def install(app: FastAPI) -> None:
    """Makes `app.openapi()` (and /openapi.json, /docs) the document with the problem answers."""
    build = app.openapi

    def openapi() -> dict[str, Any]:
        if app.openapi_schema is None:
            app.openapi_schema = document_problems(build(), app.routes)
        return app.openapi_schema

    app.openapi = openapi  # type: ignore[method-assign]
