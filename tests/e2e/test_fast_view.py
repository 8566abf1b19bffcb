"""The agency view's own ASGI handler (adapters/http/fast_view.py) answers exactly as the FastAPI route does:
same statuses, bodies and headers, one log entry per read, shown or refused; what it does not handle goes on to
the route. Each pair below sends the plain request (the handler) and the same request in a form the handler
passes on (a purpose query, which the route reads like the header), with the same request id."""

from __future__ import annotations

from typing import Any

import pytest

from adapters.disclosure_log import LogFilter
from adapters.http import fast_view
from tests.e2e.conftest import Api, Caller
from tests.e2e.scenario import consent_body, decision_body, enrol

UNKNOWN = "00000000-0000-4000-8000-000000000000"


@pytest.fixture
def pid(api: Api) -> str:
    pid = enrol(api)
    grants = consent_body(("FK", "SF", ["insurance"]), ("FK", "AF", ["insurance"]))
    assert api.samordnare.post(f"/api/v1/participants/{pid}/consents", grants).status_code == 201
    assert api.handlaggare("FK").post(f"/api/v1/participants/{pid}/decisions", decision_body()).status_code == 201
    return pid


@pytest.fixture
def handled(monkeypatch: pytest.MonkeyPatch) -> list[str]:
    """The participant ids of the reads the handler made itself (not the route)."""
    calls: list[str] = []
    original = fast_view._view

    def counted(context: Any, caller: Any, participant_id: Any) -> bytes:
        calls.append(str(participant_id))
        return original(context, caller, participant_id)

    monkeypatch.setattr(fast_view, "_view", counted)
    return calls


def pair(api: Api, caller: Caller, pid: str, request_id: str, purpose: str) -> tuple[Any, Any]:
    """(the plain request, the same read through the route), each with one new log entry."""
    headers = {"X-Request-ID": request_id, "X-Samverkan-Purpose": purpose}
    answers = []
    for params in (None, {"purpose": purpose}):
        before = api.context.log.head()[0]
        answers.append(caller.get(f"/api/v1/participants/{pid}/view", params=params, headers=headers))
        assert api.context.log.head()[0] == before + 1, answers[-1].text
    return answers[0], answers[1]


def same(fast: Any, routed: Any) -> None:
    assert fast.status_code == routed.status_code
    assert fast.content == routed.content
    assert fast.headers.multi_items() == routed.headers.multi_items()


def test_a_shown_view_is_answered_as_the_route_answers_it(api: Api, pid: str, handled: list[str]) -> None:
    af = api.handlaggare("AF")
    fast, routed = pair(api, af, pid, "req-fast-1", "handlaggning")
    assert fast.status_code == 200, fast.text
    assert fast.json()["decisions"] and fast.headers["content-type"] == "application/json"
    assert fast.headers["x-request-id"] == "req-fast-1"
    same(fast, routed)
    assert handled == [pid]  # the first went through the handler, the second through the route
    entries = list(api.context.log.entries(LogFilter(participant_id=None)))[-2:]
    for entry in entries:
        assert (entry["kind"], entry["outcome"], entry["user_id"], entry["request_id"]) == (
            "view",
            "disclosed",
            "handlaggare-af",
            "req-fast-1",
        )
    assert entries[0]["disclosed"] == entries[1]["disclosed"]


@pytest.mark.parametrize(
    ("role", "agency", "status", "reason"),
    [("admin", "SF", 403, "role"), ("handlaggare", "REGION", 403, "nothing-visible"), ("granskare", "SF", 403, "role")],
)
def test_a_refused_view_is_answered_and_logged_as_the_route_does(
    api: Api, pid: str, handled: list[str], role: str, agency: str, status: int, reason: str
) -> None:
    purpose = {"admin": "drift", "granskare": "granskning"}.get(role, "handlaggning")
    fast, routed = pair(api, api.as_(role, agency), pid, "req-fast-2", purpose)
    assert fast.status_code == status, fast.text
    assert fast.headers["content-type"] == "application/problem+json"
    same(fast, routed)
    assert handled == [pid]
    for entry in list(api.context.log.entries())[-2:]:
        assert (entry["outcome"], entry["reason"]) == ("refused", reason)


def test_an_unknown_participant_is_a_logged_404_either_way(api: Api, handled: list[str]) -> None:
    fast, routed = pair(api, api.handlaggare("FK"), UNKNOWN, "req-fast-3", "handlaggning")
    assert fast.status_code == 404
    same(fast, routed)
    assert handled == [UNKNOWN]


def test_what_the_handler_does_not_take_goes_to_the_route(api: Api, pid: str, handled: list[str]) -> None:
    fk = api.handlaggare("FK")
    url = f"/api/v1/participants/{pid}/view"
    before = api.context.log.head()[0]
    # No token, a bad token, a bad purpose: refused before the read door, nothing logged.
    missing = api.client.get(url)
    assert missing.status_code == 401 and missing.json()["reason"] == "missing"
    assert api.client.get(url, headers={"Authorization": "Bearer not-a-jwt"}).json()["reason"] == "malformed"
    bad_purpose = fk.get(url, headers={"X-Samverkan-Purpose": "curiosity"})
    assert bad_purpose.status_code == 422 and bad_purpose.json()["errors"][0]["field"] == "purpose"
    assert api.context.log.head()[0] == before
    # A participant id in capitals, an as_of query, a HEAD: the route's answers.
    assert fk.get(url.replace(pid, pid.upper())).status_code == 200
    assert fk.get(url, params={"as_of": "2026-01-01T12:00:00+01:00"}).status_code == 404  # not enrolled then
    assert api.client.head(url, headers=fk.auth).status_code == 405
    assert api.context.log.head()[0] == before + 2
    assert handled == []
