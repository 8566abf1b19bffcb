"""OpenAPI tells the truth (issue 12, item 4): every operation documents the problem answers it can give, with the
one application/problem+json `Problem` schema (never FastAPI's HTTPValidationError, which the service does not
send); the answers themselves, provoked on a sample of routes, are what the document says; a 405 says `Allow`."""

from __future__ import annotations

import json
import uuid
from typing import Any

import jsonschema_rs
import pytest
from eventsourcing.persistence import OperationalError

from tests.e2e.conftest import Api
from tests.e2e.scenario import consent_body, decision_body, enrol

PROBLEM_JSON = "application/problem+json"
PROBLEM_REF = "#/components/schemas/Problem"
LIMITS = {413, 414, 431}
READS_BY_POST = {"/api/v1/participants/search", "/api/v1/audit/verify"}
PARTICIPANTS = "/api/v1/participants/{participant_id}"
NOBODY = str(uuid.UUID(int=7))


def document(api: Api) -> dict[str, Any]:
    response = api.client.get("/openapi.json")
    assert response.status_code == 200, response.text
    return dict(response.json())


def expected_problems(path: str, method: str) -> set[int]:
    """What each operation can answer besides success: the limits and a storage outage everywhere; a token,
    a role or a consent refused and input not valid everywhere but /health; 404 for a path id (and a search);
    409 for every POST that records."""
    if path == "/api/v1/health":
        return LIMITS | {503}
    statuses = LIMITS | {401, 403, 422, 503}
    if "{" in path or path == "/api/v1/participants/search":
        statuses.add(404)
    if method == "post" and path not in READS_BY_POST:
        statuses.add(409)
    return statuses


def test_every_operation_documents_its_problem_answers_with_the_problem_schema(api: Api) -> None:
    doc = document(api)
    text = json.dumps(doc)
    assert "HTTPValidationError" not in text
    assert "ValidationError" not in doc["components"]["schemas"]
    problem = doc["components"]["schemas"]["Problem"]
    assert set(problem["required"]) == {"type", "title", "status", "detail"}
    assert {"instance", "request_id", "errors", "missing_grant", "reason"} <= set(problem["properties"])
    operations = [(path, method, op) for path, ops in doc["paths"].items() for method, op in ops.items()]
    assert len(operations) >= 35
    assert not [path for path, _, _ in operations if not path.startswith("/api/")]  # the web pages are not in it
    for path, method, operation in operations:
        responses = operation["responses"]
        problems = {int(status) for status in responses if int(status) >= 400}
        assert problems == expected_problems(path, method), (method, path, sorted(problems))
        for status in problems:
            answer = responses[str(status)]
            assert answer["content"] == {PROBLEM_JSON: {"schema": {"$ref": PROBLEM_REF}}}, (method, path, status)
            assert answer["description"]
        assert "Retry-After" in responses["503"]["headers"]
        if 401 in problems:
            assert "WWW-Authenticate" in responses["401"]["headers"]


def conforms(doc: dict[str, Any], method: str, path: str, response: Any) -> dict[str, Any]:
    """The answer is one the operation documents, as problem+json valid against the documented schema (and its
    documented headers); returns the body."""
    operation = doc["paths"][path][method.lower()]
    documented = operation["responses"].get(str(response.status_code))
    assert documented is not None, (method, path, response.status_code, sorted(operation["responses"]))
    assert response.headers["content-type"] == PROBLEM_JSON, response.headers
    body = response.json()
    schema = {**documented["content"][PROBLEM_JSON]["schema"], "components": doc["components"]}
    jsonschema_rs.validator_for(schema).validate(body)
    assert body["status"] == response.status_code
    for header in documented.get("headers", {}):
        assert header in response.headers, (method, path, response.status_code, header)
    return dict(body)


def limits(api: Api, doc: dict[str, Any], method: str, path: str, url: str, headers: dict[str, str]) -> None:
    """413, 414 and 431 on one route, as documented."""
    settings = api.context.settings
    big_body = b"x" * (settings.max_body_bytes + 1)
    sent = {
        413: api.client.request(method, url, content=big_body, headers={**headers, "content-type": "text/plain"}),
        414: api.client.request(method, f"{url}?purpose={'a' * settings.max_url_bytes}", headers=headers),
        431: api.client.request(method, url, headers={**headers, "x-padding": "a" * settings.max_header_bytes}),
    }
    for status, response in sent.items():
        assert response.status_code == status, response.text
        conforms(doc, method, path, response)


def down(*_: Any, **__: Any) -> Any:
    raise OperationalError("connection refused")


def test_the_problem_answers_of_a_recording_route_are_the_documented_ones(
    api: Api, monkeypatch: pytest.MonkeyPatch
) -> None:
    doc = document(api)
    path = PARTICIPANTS + "/decisions/{decision_id}/retraction"
    pid = enrol(api)
    base = f"/api/v1/participants/{pid}"
    assert api.samordnare.post(f"{base}/consents", consent_body(("FK", "SF", ["insurance"]))).status_code == 201
    decision = api.handlaggare("FK").post(f"{base}/decisions", decision_body())
    assert decision.status_code == 201, decision.text
    url = f"{base}/decisions/{decision.json()['id']}/retraction"
    reason = {"reason": "Registrerat på fel deltagare"}
    fk = api.handlaggare("FK")

    answers = {
        401: api.client.post(url, json=reason),
        403: api.samordnare.post(url, reason),
        404: fk.post(f"/api/v1/participants/{NOBODY}/decisions/{NOBODY}/retraction", reason),
        422: fk.post(url, {"reason": ""}),
    }
    assert fk.post(url, reason).status_code == 200
    answers[409] = fk.post(url, reason)  # already retracted
    for status, response in answers.items():
        assert response.status_code == status, (status, response.text)
        body = conforms(doc, "POST", path, response)
        assert body["request_id"] == response.headers["x-request-id"]
    assert answers[401].json()["reason"] == "missing"
    assert answers[422].json()["errors"][0]["field"] == "reason"
    limits(api, doc, "POST", path, url, fk.auth)

    monkeypatch.setattr(api.context.service, "retract_decision", down)
    unavailable = fk.post(url, reason)
    assert unavailable.status_code == 503, unavailable.text
    conforms(doc, "POST", path, unavailable)
    assert unavailable.headers["retry-after"].isdigit()


def test_the_problem_answers_of_a_read_and_of_health_are_the_documented_ones(
    api: Api, monkeypatch: pytest.MonkeyPatch
) -> None:
    doc = document(api)
    pid = enrol(api)
    path, url = PARTICIPANTS + "/view", f"/api/v1/participants/{pid}/view"
    fk = api.handlaggare("FK")
    malformed = api.headers("handlaggare", "FK") | {"Authorization": "Bearer not.a.token"}
    answers = {
        401: api.client.get(url, headers=malformed),
        403: api.admin.get(url),
        404: fk.get(f"/api/v1/participants/{NOBODY}/view"),
        422: fk.get("/api/v1/participants/not-an-id/view"),
    }
    for status, response in answers.items():
        assert response.status_code == status, (status, response.text)
        conforms(doc, "GET", path, response)
    limits(api, doc, "GET", path, url, fk.auth)
    search = api.samordnare.post("/api/v1/participants/search", {"personnummer": "19121212-1212"})
    assert search.status_code == 404, search.text
    conforms(doc, "POST", "/api/v1/participants/search", search)

    limits(api, doc, "GET", "/api/v1/health", "/api/v1/health", {})
    monkeypatch.setattr(api.context.reads, "view", down)
    monkeypatch.setattr(api.context.log, "head", down)
    for method, template, response in (
        ("GET", path, fk.get(url)),
        ("GET", "/api/v1/health", api.client.get("/api/v1/health")),
    ):
        assert response.status_code == 503, response.text
        conforms(doc, method, template, response)


@pytest.mark.parametrize(
    ("method", "url", "allowed"),
    [
        ("PUT", f"/api/v1/participants/{NOBODY}/consents", "GET, POST"),
        ("GET", "/api/v1/participants", "POST"),
        ("DELETE", f"/api/v1/participants/{NOBODY}/view", "GET"),
        ("POST", "/api/v1/health", "GET"),
    ],
)
def test_a_405_says_which_methods_the_path_accepts(api: Api, method: str, url: str, allowed: str) -> None:
    response = api.client.request(method, url, headers=api.samordnare.auth)
    assert response.status_code == 405, response.text
    assert response.headers["content-type"] == PROBLEM_JSON
    assert response.headers["allow"] == allowed
    assert response.json()["type"].endswith("/method-not-allowed")
