"""The security matrix: every route of the OpenAPI document by role, agency and the caller's agency's relation to the
case → the expected status, on both engines.

Relations (of the calling handläggare's agency A to the participant; D is another agency, FK or AF):
- none:     a consent D -> SF and a decision of D; nothing of A's;
- decision: a consent A -> SF and decisions of A's own;
- grant:    a consent D -> SF and D -> A, and a decision of D (A may see it);
- blocked:  as grant, but D has blocked its category towards A (a block beats the consent).
Samordnare, granskare and admin (agency SF) call against the same four participants of agency AF; tokens whose
agency does not fit the role (UNFIT: a granskare or admin of an agency, ...) are 401 on every route but health.

A route missing from MATRIX fails the test (as tests/e2e/test_read_door.py does for reads), so a new route is
placed in the matrix before it lands. Writes come after the reads, the erasure last, so each cell sees the
participant as set up; every write is valid apart from who sends it, so the status says only who may.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from itertools import count
from typing import Any

import jwt

from coordination.personnummer import fictitious_personnummer
from tests.e2e import conftest as e2e
from tests.e2e.conftest import Api, Caller
from tests.e2e.scenario import DECISION_TYPE, consent_body, decision_body, enrol
from tests.support import today

# The HTTP fixtures of tests/e2e: the real app on real storage (both engines).
api, context = e2e.api, e2e.context
AGENCIES = ["FK", "AF", "REGION", "KOMMUN"]
CATEGORY = {"FK": "insurance", "AF": "employment", "REGION": "health", "KOMMUN": "social"}
RELATIONS = ["none", "decision", "grant", "blocked"]
UNKNOWN = "00000000-0000-4000-8000-000000000000"
HOUR = timedelta(hours=1)

# Tokens whose claims do not fit together (granskare and admin belong to SF; a samordnare to SF; a handläggare to
# an agency): 401 everywhere, the row's "unfit" cell says otherwise (health needs no token). Asked once per route.
UNFIT = [("granskare", "FK"), ("admin", "KOMMUN"), ("samordnare", "AF"), ("handlaggare", "SF")]
# A cell: one status for the role, or one per relation (or per agency, then per relation). A role the row does
# not name gets 403: deny by default.
Cell = int | dict[str, Any]
P = "/api/v1/participants/{participant_id}"
SAMORDNARE_ONLY: dict[str, Cell] = {"samordnare": 200}
AGENCY_VIEW = {"none": 403, "decision": 200, "grant": 200, "blocked": 403}  # a block beats the grant
OWN_DECISIONS = {"none": 403, "decision": 201, "grant": 403, "blocked": 403}  # consent-required, or forbidden
MATRIX: dict[tuple[str, str], dict[str, Cell]] = {
    # -- reads (each logged, shown or refused: tests/e2e/test_read_door.py) -----------------------------------
    # No oracle: a handläggare finds only a participant its agency has a part in (decision, grant, referral).
    ("post", "/api/v1/participants/search"): {
        "samordnare": 200,
        "handlaggare": {"none": 404, "decision": 200, "grant": 200, "blocked": 200},
    },
    ("get", f"{P}/view"): {"samordnare": 200, "handlaggare": AGENCY_VIEW},
    ("get", f"{P}/consents"): SAMORDNARE_ONLY,
    ("get", f"{P}/disclosures"): SAMORDNARE_ONLY,
    ("get", f"{P}/disclosures.pdf"): SAMORDNARE_ONLY,
    ("get", f"{P}/register-extract"): SAMORDNARE_ONLY,
    ("get", f"{P}/register-extract.pdf"): SAMORDNARE_ONLY,
    ("get", f"{P}/consents/{{consent_id}}/receipt"): SAMORDNARE_ONLY,
    ("get", f"{P}/consents/{{consent_id}}/receipt.pdf"): SAMORDNARE_ONLY,
    ("get", f"{P}/fhir/Consent"): SAMORDNARE_ONLY,
    ("get", f"{P}/timeline"): SAMORDNARE_ONLY,
    ("get", "/api/v1/caseload"): SAMORDNARE_ONLY,
    ("get", "/api/v1/statistics"): {"samordnare": 200, "granskare": 200},
    ("get", "/api/v1/audit/disclosures"): {"granskare": 200},
    ("get", "/api/v1/audit/disclosures/manifest"): {"granskare": 200},
    ("post", "/api/v1/audit/verify"): {"granskare": 200},
    ("get", "/api/v1/audit/participants/{participant_id}/reconstruction"): {"granskare": 200},
    ("get", "/api/v1/audit/review"): {"granskare": 200},
    ("get", "/api/v1/health"): {"samordnare": 200, "handlaggare": 200, "granskare": 200, "admin": 200, "unfit": 200},
    # -- writes ---------------------------------------------------------------------------------------------------
    ("post", "/api/v1/participants"): {"samordnare": 201},
    ("post", f"{P}/personnummer"): {"samordnare": 409},  # the participant has a number already
    ("post", f"{P}/consents"): {"samordnare": 201},
    ("post", f"{P}/consents/{{consent_id}}/withdrawal"): {"samordnare": 200},
    ("post", f"{P}/decisions"): {"handlaggare": OWN_DECISIONS},
    ("post", f"{P}/decisions/{{decision_id}}/correction"): {"handlaggare": OWN_DECISIONS},
    ("post", f"{P}/decisions/{{decision_id}}/retraction"): {
        "handlaggare": {"none": 403, "decision": 200, "grant": 403, "blocked": 403}
    },
    ("post", f"{P}/blocks"): {"samordnare": 201, "handlaggare": 201},  # of the caller's party's own information
    # Only the party that placed a block lifts it; no block behind the id: 404.
    ("post", f"{P}/blocks/{{block_id}}/lift"): {
        "samordnare": {"none": 404, "decision": 403, "grant": 404, "blocked": 403},
        "handlaggare": {"none": 404, "decision": 200, "grant": 404, "blocked": 403},
    },
    ("post", f"{P}/emergency-access"): {"handlaggare": 201},
    ("post", f"{P}/referral"): {"samordnare": 201},
    ("post", f"{P}/plan"): {"samordnare": 201},
    ("post", f"{P}/interventions"): {"samordnare": 201},
    ("post", f"{P}/interventions/{{intervention_id}}/end"): {"samordnare": 200},
    ("post", f"{P}/meetings"): {"samordnare": 201},
    ("post", f"{P}/meetings/{{meeting_id}}/outcome"): {"samordnare": 200},
    ("post", "/api/v1/audit/review/{seq}"): {"granskare": 201},
    ("post", f"{P}/closure"): {"samordnare": 200},
    ("post", f"{P}/erasure"): {"admin": 200},
}


@dataclass
class Case:
    """One participant as one relation of `agency` sees it, with something behind every path parameter."""

    agency: str
    relation: str
    ids: dict[str, str]


def other(agency: str) -> str:
    return "AF" if agency == "FK" else "FK"


class World:
    """Builds the participants for every agency and relation through the API (as samordnare and handläggare)."""

    def __init__(self, api: Api) -> None:
        self.api = api
        self.serial = count()

    def personnummer(self) -> str:
        n = next(self.serial)
        return fictitious_personnummer(datetime(1965, 3, 1).date() + timedelta(days=n), n % 100, gender="female")

    def decision(self, agency: str, pid: str, ref: str) -> str:
        category = CATEGORY[agency]
        body = decision_body(category, source_ref=ref, decision_type=DECISION_TYPE[category])
        response = self.api.handlaggare(agency).post(f"/api/v1/participants/{pid}/decisions", body)
        assert response.status_code == 201, response.text
        return str(response.json()["id"])

    def build(self, agency: str, relation: str) -> Case:
        sf, api = self.api.samordnare, self.api
        number = self.personnummer()
        pid = enrol(api, personnummer=number, given_name="Matris", family_name="Rollsson")
        base = f"/api/v1/participants/{pid}"
        owner = agency if relation == "decision" else other(agency)
        grants: list[tuple[str, str, list[str]]] = [(owner, "SF", [CATEGORY[owner]])]
        if relation in ("grant", "blocked"):
            grants.append((owner, agency, [CATEGORY[owner]]))
        consent = sf.post(f"{base}/consents", consent_body(*grants))
        spare = sf.post(f"{base}/consents", consent_body((owner, "SF", [CATEGORY[owner]])))  # to withdraw
        assert consent.status_code == spare.status_code == 201, (consent.text, spare.text)
        viewed = self.decision(owner, pid, f"{owner}-M-1")
        corrected = self.decision(owner, pid, f"{owner}-M-2")
        retracted = self.decision(owner, pid, f"{owner}-M-3")
        block = UNKNOWN
        if relation in ("decision", "blocked"):  # the agency's own block (to lift), or the other's towards it
            towards = "KOMMUN" if relation == "decision" and agency != "KOMMUN" else "REGION"
            placed = api.handlaggare(owner).post(
                f"{base}/blocks",
                {"category": CATEGORY[owner], "recipient": agency if relation == "blocked" else towards},
            )
            assert placed.status_code == 201, placed.text
            block = placed.json()["id"]
        insats = sf.post(
            f"{base}/interventions",
            {"kind": "arbetstraning", "start_date": today().isoformat(), "provider_agency": "AF"},
        )
        meeting = sf.post(f"{base}/meetings", {"date": today().isoformat(), "agencies_invited": [owner]})
        assert insats.status_code == meeting.status_code == 201, (insats.text, meeting.text)
        assert sf.get(f"{base}/view").status_code == 200  # a reviewable log entry, for /audit/review/{seq}
        ids = {
            "participant_id": pid,
            "personnummer": number,
            "consent_id": consent.json()["id"],
            "spare_consent_id": spare.json()["id"],
            "decision_id": viewed,
            "corrected_id": corrected,
            "retracted_id": retracted,
            "block_id": block,
            "intervention_id": insats.json()["id"],
            "meeting_id": meeting.json()["id"],
            "seq": str(self.api.context.log.head()[0]),
        }
        return Case(agency, relation, ids)


def request_for(method: str, path: str, case: Case, caller_agency: str, n: int) -> tuple[str, dict[str, Any]]:
    """The URL and keyword arguments of a valid call of `path` for this case, sent by an agency's user."""
    ids = case.ids
    values = dict(ids)
    if path.endswith("/correction"):
        values["decision_id"] = ids["corrected_id"]
    if path.endswith("/retraction"):
        values["decision_id"] = ids["retracted_id"]
    if path.endswith("/withdrawal"):
        values["consent_id"] = ids["spare_consent_id"]
    url = path.format(**values)
    day = today().isoformat()
    own = CATEGORY.get(caller_agency, "coordination")
    own_decision = decision_body(own, source_ref=f"M-{n}", decision_type=DECISION_TYPE.get(own, "sjukpenning"))
    bodies: dict[str, Any] = {
        "/api/v1/participants": {
            "personnummer": fictitious_personnummer(
                datetime(1966, 1, 1).date() + timedelta(days=n // 90), n % 90, gender="male"
            ),
            "given_name": "Ny",
            "family_name": "Matrisson",
        },
        f"{P}/personnummer": {"personnummer": ids["personnummer"]},
        "/api/v1/participants/search": {"personnummer": ids["personnummer"]},
        f"{P}/consents": consent_body(
            ("REGION", "SF", ["health"]), valid_from=(today() + timedelta(days=30)).isoformat()
        ),
        f"{P}/consents/{{consent_id}}/withdrawal": {"reason": "Återkallat"},
        f"{P}/erasure": {"reason": "admin-request"},
        f"{P}/decisions": own_decision,
        f"{P}/decisions/{{decision_id}}/correction": own_decision,
        f"{P}/decisions/{{decision_id}}/retraction": {"reason": "Felregistrerat"},
        f"{P}/blocks": {
            "category": own if caller_agency != "SF" else "coordination",
            "recipient": "KOMMUN" if caller_agency != "KOMMUN" else "REGION",
        },
        f"{P}/emergency-access": {
            "reason": "fara-for-liv-eller-halsa",
            "note": "Akut försämring i kväll",
            "minutes": 5,
        },
        f"{P}/referral": {"remittent": "AF", "reason": "Behöver stöd", "received_date": day, "needs": ["FK", "AF"]},
        f"{P}/plan": {"goals": ["Arbete"], "steps": [{"agency": "AF", "description": "Praktik", "due": day}]},
        f"{P}/interventions": {"kind": "praktik", "start_date": day, "provider_agency": "AF"},
        f"{P}/interventions/{{intervention_id}}/end": {"end_date": day, "reason": "Klar"},
        f"{P}/meetings": {"date": day, "agencies_invited": ["FK"]},
        f"{P}/meetings/{{meeting_id}}/outcome": {"attended": True, "agencies_present": ["FK"]},
        f"{P}/closure": {"outcome": "work", "closed_date": day, "end_interventions": {"end_date": day}},
        "/api/v1/audit/review/{seq}": {"outcome": "utan-anmarkning"},
    }
    now = datetime.now(UTC).isoformat()
    params: dict[str, dict[str, str]] = {
        "/api/v1/audit/participants/{participant_id}/reconstruction": {"party": "AF", "at": now},
        "/api/v1/audit/review": {"from": day, "to": day},
        "/api/v1/audit/disclosures": {"participant": ids["participant_id"]},
        "/api/v1/audit/disclosures/manifest": {"participant": ids["participant_id"]},
    }
    if method == "post":
        return url, {"json": bodies.get(path)}
    return url, {"params": params.get(path)}


def callers() -> list[tuple[str, str]]:
    fitting = [("samordnare", "SF"), *(("handlaggare", a) for a in AGENCIES), ("granskare", "SF"), ("admin", "SF")]
    return fitting + UNFIT


def headers(api: Api, role: str, agency: str) -> dict[str, str]:
    """A bearer token signed with the test key; for UNFIT, claims that `issue_token` would refuse to sign."""
    if (role, agency) not in UNFIT:
        return api.headers(role, agency)
    now = datetime.now(UTC)
    claims = {"sub": f"{role}-{agency.lower()}", "agency": agency, "role": role, "iat": now, "exp": now + HOUR}
    return {"Authorization": f"Bearer {jwt.encode(claims, api.secret, algorithm='HS256')}"}


def expected_status(method: str, path: str, role: str, agency: str, relation: str) -> int:
    row = MATRIX.get((method, path), {})
    if (role, agency) in UNFIT:
        return expected(row.get("unfit", 401), agency, relation)
    return expected(row.get(role, 403), agency, relation)


def expected(cell: Cell, agency: str, relation: str) -> int:
    if isinstance(cell, dict) and agency in cell:
        cell = cell[agency]
    if isinstance(cell, dict):
        cell = cell[relation]
    assert isinstance(cell, int)
    return cell


def operations(api: Api) -> list[tuple[str, str]]:
    document = api.client.get("/openapi.json").json()
    return [(m, p) for p, item in document["paths"].items() for m in item]


def order(ops: list[tuple[str, str]]) -> list[tuple[str, str]]:
    """Reads, then writes, then the closure and the erasure (they change what every later call sees)."""
    last = {f"{P}/closure": 1, f"{P}/erasure": 2}
    return sorted(ops, key=lambda op: (op[0] != "get" and op[1] not in READ_POSTS, last.get(op[1], 0)))


READ_POSTS = {"/api/v1/participants/search", "/api/v1/audit/verify"}


def run_matrix(api: Api, report: Callable[[str, str, str, str, str, int, Any], None]) -> None:
    world = World(api)
    cases = {(a, r): world.build(a, r) for a in AGENCIES for r in RELATIONS}
    api.context.projections.catch_up()
    n = count()
    for method, path in order(operations(api)):
        for role, agency in callers():
            for relation in ["none"] if (role, agency) in UNFIT else RELATIONS:
                case = cases[(agency if agency in AGENCIES else "AF", relation)]
                url, kwargs = request_for(method, path, case, agency, next(n))
                caller = Caller(api.client, headers(api, role, agency))
                response = caller.post(url, **kwargs) if method == "post" else caller.get(url, **kwargs)
                report(method, path, role, agency, relation, response.status_code, response)


def test_every_route_is_in_the_matrix(api: Api) -> None:
    assert set(operations(api)) == set(MATRIX)


def test_each_route_answers_each_role_agency_and_relation_as_the_table_says(api: Api, engine: str) -> None:
    wrong: list[str] = []
    cells = Counter[int]()

    def report(method: str, path: str, role: str, agency: str, relation: str, status: int, response: Any) -> None:
        want = expected_status(method, path, role, agency, relation)
        cells[status] += 1
        if status != want:
            cell = f"{method.upper()} {path} as {role} {agency} ({relation})"
            wrong.append(f"{cell}: {status}, expected {want}: {response.text[:200]}")

    run_matrix(api, report)
    answers = dict(sorted(cells.items()))
    print(f"\nsecurity matrix ({engine}): {sum(cells.values())} cells, answers {answers}, {len(wrong)} wrong")
    assert wrong == [], "\n".join(wrong)
