"""No personal data in clear: a distinct marker typed into every text-bearing field of every event, through the
HTTP API, is never found in a full dump of the database (SQLite file and WAL, or pg_dump), before or after
erasure; fields that hold codes refuse text, so a marker cannot get there at all."""

from __future__ import annotations

import subprocess
from datetime import date
from pathlib import Path
from typing import Any
from uuid import UUID

from adapters.storage import DatabaseTarget
from coordination.personnummer import fictitious_personnummer
from tests.conftest import PG_URL
from tests.e2e.conftest import Api
from tests.e2e.scenario import consent_body, decision_body, enrol
from tests.support import today

# One marker per field; each must be found nowhere in the database.
FIELDS = [
    "given_name",
    "family_name",
    "phone",
    "email",
    "address",
    "referral_reason",
    "purpose",
    "witness",
    "document_ref",
    "guardian",
    "withdrawal_reason",
    "summary",
    "source_ref",
    "correction_summary",
    "correction_source_ref",
    "retraction_reason",
    "goal",
    "step",
    "end_reason",
    "notes",
]
MARKERS = {field: f"QXZ{field.upper().replace('_', '')}MARK" for field in FIELDS}


def dump(api: Api) -> bytes:
    """Everything the database holds: the SQLite file with its WAL, or a pg_dump of the schema."""
    return dump_target(api.context.storage.target)


def dump_target(target: DatabaseTarget) -> bytes:
    """Everything the database at `target` holds (see `dump`)."""
    if target.engine == "sqlite":
        assert target.sqlite_path is not None
        files = [target.sqlite_path, Path(f"{target.sqlite_path}-wal")]
        return b"".join(f.read_bytes() for f in files if f.exists())
    return subprocess.run(
        ["pg_dump", "--no-owner", "--schema", target.schema, PG_URL], check=True, capture_output=True
    ).stdout


def found(haystack: bytes) -> list[str]:
    lowered = haystack.lower()
    return [m for m in MARKERS.values() if m.lower().encode() in lowered or m.encode("utf-16-le") in haystack]


def ok(response: Any, status: int = 201) -> Any:
    assert response.status_code == status, response.text
    return response.json() if response.content else None


def type_markers(api: Api, personnummer: str) -> tuple[str, str, str]:
    """Through the HTTP API (any object with `samordnare` and `handlaggare(agency)` callers), a whole case with a
    marker in every text field: enrolment, referral, consent, decision, correction, retraction, plan, insats,
    meeting, partial withdrawal and closure. Returns the participant, consent and decision ids."""
    m = MARKERS
    fk = api.handlaggare("FK")
    pid = enrol(
        api,
        personnummer=personnummer,
        given_name=m["given_name"],
        family_name=m["family_name"],
        contact={"phone": m["phone"], "email": f"{m['email']}@example.se", "address": m["address"]},
        baseline={"support_before": "sjukpenning", "occupation_before": "sjukskriven"},
    )
    base = f"/api/v1/participants/{pid}"
    ok(
        api.samordnare.post(
            f"{base}/referral",
            {
                "remittent": "FK",
                "reason": m["referral_reason"],
                "received_date": today().isoformat(),
                "needs": ["FK", "AF"],
            },
        )
    )
    consent = ok(
        api.samordnare.post(
            f"{base}/consents",
            consent_body(
                ("FK", "SF", ["insurance"]),
                ("FK", "AF", ["insurance"]),
                purpose=m["purpose"],
                form="oral",
                witness=m["witness"],
                document_ref=m["document_ref"],
                guardian=m["guardian"],
            ),
        )
    )["id"]
    decision = ok(
        fk.post(
            f"{base}/decisions",
            decision_body(summary=m["summary"], source_ref=m["source_ref"], attributes={"omfattning": 50}),
        )
    )["id"]
    corrected = ok(
        fk.post(
            f"{base}/decisions/{decision}/correction",
            decision_body(summary=m["correction_summary"], source_ref=m["correction_source_ref"]),
        )
    )["id"]
    ok(fk.post(f"{base}/decisions/{corrected}/retraction", {"reason": m["retraction_reason"]}), 200)
    ok(
        api.samordnare.post(
            f"{base}/plan",
            {"goals": [m["goal"]], "steps": [{"agency": "AF", "description": m["step"], "due": today().isoformat()}]},
        )
    )
    insats = ok(
        api.samordnare.post(
            f"{base}/interventions",
            {"kind": "arbetstraning", "start_date": today().isoformat(), "provider_agency": "KOMMUN"},
        )
    )["id"]
    ok(
        api.samordnare.post(
            f"{base}/interventions/{insats}/end", {"end_date": today().isoformat(), "reason": m["end_reason"]}
        ),
        200,
    )
    ok(
        api.samordnare.post(
            f"{base}/meetings",
            {"date": today().isoformat(), "agencies_present": ["FK", "AF"], "attended": True, "notes": m["notes"]},
        )
    )
    ok(
        api.samordnare.post(
            f"{base}/consents/{consent}/withdrawal",
            {"grants": [{"from": "FK", "to": "AF", "categories": ["insurance"]}], "reason": m["withdrawal_reason"]},
        ),
        200,
    )
    ok(
        api.samordnare.post(
            f"{base}/closure", {"outcome": "work", "closed_date": today().isoformat(), "support_after": "lon"}
        ),
        200,
    )
    return pid, consent, decision


def test_markers_in_every_text_field_never_reach_the_database_in_clear(api: Api) -> None:
    m = MARKERS
    fk = api.handlaggare("FK")
    pid, _, decision = type_markers(api, fictitious_personnummer(date(1972, 6, 14), 23, gender="male"))
    base = f"/api/v1/participants/{pid}"

    # Fields that hold codes take no text at all: a marker there is refused, and nothing is stored.
    code_fields = [
        (fk, f"{base}/decisions", decision_body(source_ref="X-1", decision_type="QXZTYPEMARK")),
        (fk, f"{base}/decisions", decision_body(source_ref="X-2", attributes={"QXZKEYMARK": 1})),
        (fk, f"{base}/decisions", decision_body(source_ref="X-3", category="insurance.qxzcategorymark")),
    ]
    for caller, path, body in code_fields:
        assert caller.post(path, body).status_code in (409, 422)
    other = enrol(api, personnummer="19900101-0017", given_name="Bo", family_name="Berg")
    refused = [
        (
            f"/api/v1/participants/{other}/interventions",
            {"kind": "QXZKINDMARK", "start_date": today().isoformat(), "provider_agency": "AF"},
        ),
        (
            f"/api/v1/participants/{other}/closure",
            {"outcome": "work", "closed_date": today().isoformat(), "support_after": "QXZCODEMARK"},
        ),
    ]
    for path, body in refused:
        assert api.samordnare.post(path, body).status_code == 422
    assert api.samordnare.get(f"{base}/view", headers={"X-Samverkan-Purpose": "QXZPURPOSEMARK"}).status_code == 422

    # The markers were stored (sealed): the service reads them back.
    view = api.samordnare.get(f"{base}/view").json()
    assert view["participant"]["given_name"] == m["given_name"]
    assert view["coordination"]["referral"]["reason"] == m["referral_reason"]
    assert api.samordnare.get(f"{base}/consents").json()[0]["document_ref"] == m["document_ref"]
    case = api.context.service.get_case(UUID(pid))
    assert api.context.service.read(case, case.decisions[UUID(decision)].summary) == m["summary"]

    assert found(dump(api)) == []
    ok(api.admin.post(f"{base}/erasure"), 200)
    api.context.projections.catch_up()
    after = dump(api)
    assert found(after) == []
    assert found(after + b"QXZSUMMARYMARK") == [m["summary"]]  # the scan itself finds what is there
    erased = api.samordnare.get(f"{base}/view").json()
    assert erased["participant"]["status"] == "erased" and erased["participant"]["given_name"] is None
