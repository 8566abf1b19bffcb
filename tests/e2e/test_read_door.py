"""The one door: every read route writes exactly one disclosure-log entry, shown or refused (refusals by role and
unknown participants included); routes hold no gate call, SQL or log append; purposes are codes; nothing a
caller typed in a path comes back."""

from __future__ import annotations

import re
from datetime import UTC, datetime
from pathlib import Path
from typing import Any
from uuid import UUID

import pytest
import structlog

from adapters.disclosure_log import LogFilter
from tests.e2e.conftest import Api, Caller
from tests.e2e.scenario import consent_body, decision_body, enrol
from tests.support import ANNA

ROUTES = Path(__file__).resolve().parents[2] / "adapters" / "http" / "routes"
WEB = Path(__file__).resolve().parents[2] / "adapters" / "web"
FAST_VIEW = ROUTES.parent / "fast_view.py"  # the agency view's own handler: it, too, only translates
UNKNOWN = "00000000-0000-4000-8000-000000000000"
# Every read, with the roles that may make it. A new GET route fails the test until it is listed here.
READS: dict[tuple[str, str], set[str]] = {
    ("get", "/api/v1/participants/{participant_id}/view"): {"samordnare", "handlaggare"},
    ("get", "/api/v1/participants/{participant_id}/disclosures"): {"samordnare"},
    ("get", "/api/v1/participants/{participant_id}/disclosures.pdf"): {"samordnare"},
    ("get", "/api/v1/participants/{participant_id}/register-extract"): {"samordnare"},
    ("get", "/api/v1/participants/{participant_id}/register-extract.pdf"): {"samordnare"},
    ("get", "/api/v1/participants/{participant_id}/consents/{consent_id}/receipt"): {"samordnare"},
    ("get", "/api/v1/participants/{participant_id}/consents/{consent_id}/receipt.pdf"): {"samordnare"},
    ("get", "/api/v1/participants/{participant_id}/consents"): {"samordnare"},
    ("get", "/api/v1/participants/{participant_id}/fhir/Consent"): {"samordnare"},
    ("get", "/api/v1/participants/{participant_id}/timeline"): {"samordnare"},
    ("get", "/api/v1/caseload"): {"samordnare"},
    ("get", "/api/v1/statistics"): {"samordnare", "granskare"},
    ("post", "/api/v1/participants/search"): {"samordnare", "handlaggare"},
    ("get", "/api/v1/audit/disclosures"): {"granskare"},
    ("get", "/api/v1/audit/disclosures/manifest"): {"granskare"},
    ("post", "/api/v1/audit/verify"): {"granskare"},
    ("get", "/api/v1/audit/participants/{participant_id}/reconstruction"): {"granskare"},
    ("get", "/api/v1/audit/review"): {"granskare"},
}
NOT_READS = {("get", "/api/v1/health")}  # no participant data
CALLERS = [("samordnare", "SF"), ("handlaggare", "FK"), ("handlaggare", "REGION"), ("granskare", "SF"), ("admin", "SF")]


def log(api: Api) -> list[dict[str, Any]]:
    return list(api.context.log.entries(LogFilter()))


def call(caller: Caller, method: str, path: str, pid: str, consent: str = UNKNOWN) -> Any:
    url = path.replace("{participant_id}", pid).replace("{consent_id}", consent)
    if method == "post" and url.endswith("/search"):
        return caller.post(url, {"personnummer": ANNA["personnummer"]})
    if method == "post":
        return caller.post(url)
    params = {"party": "AF", "at": datetime.now(UTC).isoformat()} if url.endswith("/reconstruction") else None
    if url.endswith("/audit/review"):
        params = {"from": datetime.now(UTC).date().isoformat(), "to": datetime.now(UTC).date().isoformat()}
    return caller.get(url, params=params)


@pytest.fixture
def pid(api: Api) -> str:
    pid = enrol(api)
    api.samordnare.post(f"/api/v1/participants/{pid}/consents", consent_body(("FK", "SF", ["insurance"])))
    assert api.handlaggare("FK").post(f"/api/v1/participants/{pid}/decisions", decision_body()).status_code == 201
    return pid


def test_every_read_route_is_listed(api: Api) -> None:
    operations = {(m, p) for p, item in api.client.get("/openapi.json").json()["paths"].items() for m in item}
    reads = {(m, p) for m, p in operations if m == "get"} | {op for op in operations if op in READS}
    assert reads == set(READS) | NOT_READS


@pytest.mark.parametrize(("role", "agency"), CALLERS)
def test_each_read_writes_exactly_one_log_entry_shown_or_refused(api: Api, pid: str, role: str, agency: str) -> None:
    caller = api.as_(role, agency)
    (consent,) = (str(c) for c in api.context.service.get_case(UUID(pid)).consents)  # read without the door
    for (method, path), readers in READS.items():
        for participant in (pid, UNKNOWN) if "{participant_id}" in path else (pid,):
            before = api.context.log.head()[0]
            response = call(caller, method, path, participant, consent)
            after = log(api)
            assert len(after) == before + 1, (method, path, role, response.status_code)
            entry = after[-1]
            assert (entry["user_id"], entry["role"], entry["agency"]) == (f"{role}-{agency.lower()}", role, agency)
            if role not in readers:
                assert response.status_code == 403, (path, role, response.text)
                assert (entry["outcome"], entry["reason"]) == ("refused", "role")
            elif response.status_code == 403:  # an agency that may see nothing of this participant
                assert (entry["outcome"], entry["reason"]) == ("refused", "nothing-visible")
            elif response.status_code == 404:
                # A search by a handläggare whose agency has no part in the case finds no one (no oracle).
                unrelated = path.endswith("/search") and role == "handlaggare" and entry["reason"] == "no-relation"
                assert (participant == UNKNOWN or unrelated) and entry["outcome"] in ("refused", "not-found")
            else:
                assert response.status_code == 200, (path, role, response.text)
                assert entry["outcome"] == "disclosed"
            if "{participant_id}" in path and response.status_code != 404:
                assert entry["participant_id"] == participant


def test_routes_hold_no_gate_call_sql_or_log_append() -> None:
    forbidden = re.compile(
        r"may_see|may_record|visible\(|\.append\(|EntryDraft|refused_recording|\.select\(|execute\(|"
        r"\bSELECT\b|\bINSERT\b|\bUPDATE\b|\bDELETE\b|store\.|\.entries\("
    )
    modules = sorted(ROUTES.glob("*.py")) + sorted(WEB.rglob("*.py")) + [FAST_VIEW]
    assert any(m.parent == WEB for m in modules) and FAST_VIEW.is_file()
    for module in modules:
        found = [line for line in module.read_text().splitlines() if forbidden.search(line)]
        assert found == [], module.name


def test_a_purpose_is_a_code_from_the_list(api: Api, pid: str) -> None:
    before = api.context.log.head()[0]
    for given in ("Anna Andersson ringde", "19811218-9876", "samordning; drop table"):
        response = api.samordnare.get(f"/api/v1/participants/{pid}/view", headers={"X-Samverkan-Purpose": given})
        assert response.status_code == 422, response.text
        assert response.json()["errors"][0]["field"] == "purpose"
        assert given not in response.text
        assert api.samordnare.get("/api/v1/caseload", params={"purpose": given}).status_code == 422
    assert api.context.log.head()[0] == before  # a bad request is not a read
    api.samordnare.get(f"/api/v1/participants/{pid}/view", headers={"X-Samverkan-Purpose": "uppfoljning"})
    api.samordnare.get(f"/api/v1/participants/{pid}/view", params={"purpose": "registerutdrag"})
    api.handlaggare("FK").get(f"/api/v1/participants/{pid}/view")
    assert [e["purpose"] for e in log(api)[-3:]] == ["uppfoljning", "registerutdrag", "handlaggning"]


def test_a_personnummer_typed_into_a_path_never_comes_back(api: Api) -> None:
    number = ANNA["personnummer"]
    with structlog.testing.capture_logs() as logged:
        for path in (f"/api/v1/participants/{number}/view", f"/api/v1/participants/{number}/timeline"):
            response = api.samordnare.get(path)
            assert response.status_code == 422
            assert number not in response.text and number.replace("-", "") not in response.text
            assert response.json().get("instance") in (
                None,
                "/api/v1/participants/{participant_id}/view",
                "/api/v1/participants/{participant_id}/timeline",
            )
        unmatched = api.samordnare.get(f"/api/v1/participants/{number}/nothing")
        assert unmatched.status_code == 404 and number not in unmatched.text
    assert number not in repr(logged)
    assert any(entry.get("route") == "/api/v1/participants/{participant_id}/view" for entry in logged)


def test_the_timeline_after_a_retraction_names_the_retracted_decision(api: Api, pid: str) -> None:
    fk = api.handlaggare("FK")
    decision = fk.post(f"/api/v1/participants/{pid}/decisions", decision_body(source_ref="FK-2")).json()["id"]
    assert fk.post(f"/api/v1/participants/{pid}/decisions/{decision}/retraction", {"reason": "Fel"}).status_code == 200
    api.context.projections.catch_up()
    response = api.samordnare.get(f"/api/v1/participants/{pid}/timeline")
    assert response.status_code == 200, response.text
    retraction = [e for e in response.json()["entries"] if e["kind"] == "DecisionRetracted"]
    assert [(e["ref_id"], e["agency"], e["category"]) for e in retraction] == [(decision, "FK", "insurance")]


def test_a_caseload_is_one_entry_and_each_participants_extract_finds_it_without_the_others(api: Api, pid: str) -> None:
    other = enrol(api, personnummer="19900101-0017", given_name="Bo", family_name="Berg")
    api.context.projections.catch_up()
    before = api.context.log.head()[0]
    listed = api.samordnare.get("/api/v1/caseload").json()
    assert {c["participant_id"] for c in listed["cases"]} == {pid, other}
    (entry,) = log(api)[before:]
    assert entry["kind"] == "caseload" and sorted(entry["details"]["subjects"]) == sorted([pid, other])
    extract = api.samordnare.get(f"/api/v1/participants/{pid}/disclosures").json()["entries"]
    caseload = [e for e in extract if e["kind"] == "caseload"]
    assert [[d["event_id"] for d in e["disclosed"]] for e in caseload] == [[pid]]
    assert other not in str(extract)
    exported = api.granskare.get("/api/v1/audit/disclosures", params={"participant": other}).text
    assert '"kind":"caseload"' in exported


def test_an_erasure_is_logged(api: Api, pid: str) -> None:
    assert api.admin.post(f"/api/v1/participants/{pid}/erasure").status_code == 200
    entry = log(api)[-1]
    assert (entry["kind"], entry["participant_id"], entry["role"], entry["outcome"]) == (
        "erasure",
        pid,
        "admin",
        "erased",
    )


def test_a_request_id_that_could_hold_a_personnummer_is_replaced(api: Api, pid: str) -> None:
    for given in ("19811218-9876", "req-811218-9876", "x198112189876"):
        response = api.samordnare.get(f"/api/v1/participants/{pid}/view", headers={"X-Request-ID": given})
        assert response.headers["x-request-id"] != given
        assert log(api)[-1]["request_id"] == response.headers["x-request-id"]
    kept = api.samordnare.get(f"/api/v1/participants/{pid}/view", headers={"X-Request-ID": "web-2026-11-25.17"})
    assert kept.headers["x-request-id"] == "web-2026-11-25.17"
