"""FHIR R4 exchange through HTTP, on both engines (docs/fhir.md): a participant's consents as a Bundle of Consent
resources, and the disclosure-log export as NDJSON AuditEvents. Each is a read through the door: one log entry,
samordnare (or granskare for the log) only, refusals as problem+json. Every resource is validated with
fhir.resources' R4B models plus R4's required bindings and invariants (tests/fhir_validation.py)."""

from __future__ import annotations

import hashlib
import json
from datetime import datetime
from pathlib import Path
from typing import Any

import pytest

from adapters import fhir
from adapters.audit_export import verify_export
from adapters.disclosure_log import LogFilter
from adapters.settings import Settings
from tests.e2e.conftest import Api
from tests.e2e.scenario import consent_body, decision_body, enrol
from tests.e2e.test_audit_api import cli
from tests.fhir_validation import validate
from tests.support import ANNA

UNKNOWN = "00000000-0000-4000-8000-000000000000"
GRANTS = [("FK", "AF", ["insurance"]), ("FK", "SF", ["insurance"]), ("AF", "SF", ["employment"])]


def log(api: Api) -> list[dict[str, Any]]:
    return list(api.context.log.entries(LogFilter()))


@pytest.fixture
def story(api: Api) -> dict[str, str]:
    """A consent with three grants, an FK decision, a withdrawal of FK -> SF, then AF's view of the FK decision
    (request id `af-view-fhir`)."""
    pid = enrol(api)
    created = api.samordnare.post(f"/api/v1/participants/{pid}/consents", consent_body(*GRANTS, witness="Göran Älg"))
    assert created.status_code == 201, created.text
    consent = created.json()["id"]
    decision = api.handlaggare("FK").post(f"/api/v1/participants/{pid}/decisions", decision_body())
    assert decision.status_code == 201, decision.text
    withdrawal = {"grants": [{"from": "FK", "to": "SF", "categories": ["insurance"]}], "reason": "Ångrat sig"}
    withdrawn = api.samordnare.post(f"/api/v1/participants/{pid}/consents/{consent}/withdrawal", withdrawal)
    assert withdrawn.status_code == 200, withdrawn.text
    view = api.handlaggare("AF").get(f"/api/v1/participants/{pid}/view", headers={"X-Request-ID": "af-view-fhir"})
    assert view.status_code == 200, view.text
    assert [d["id"] for d in view.json()["decisions"]] == [decision.json()["id"]]
    return {"pid": pid, "consent": consent, "decision": decision.json()["id"]}


def org(api: Api, party: str) -> str:
    return api.context.reads.installation.numbers[party]


def test_the_consents_as_a_fhir_bundle_validate_and_show_the_withdrawn_grant_as_a_deny(
    api: Api, story: dict[str, str]
) -> None:
    pid, consent = story["pid"], story["consent"]
    before = api.context.log.head()[0]
    response = api.samordnare.get(f"/api/v1/participants/{pid}/fhir/Consent")
    assert response.status_code == 200, response.text
    assert response.headers["content-type"] == "application/fhir+json"
    bundle = response.json()
    validate(bundle)
    assert (bundle["type"], bundle["total"]) == ("searchset", 1)
    (resource,) = (e["resource"] for e in bundle["entry"])
    assert (resource["id"], resource["meta"]["versionId"], resource["status"]) == (consent, "2", "active")
    assert resource["patient"]["identifier"]["value"] == f"urn:uuid:{pid}"
    assert {"url": fhir.EXT_WITNESS, "valueString": "Göran Älg"} in resource["extension"]
    assert {"url": fhir.EXT_FORM, "valueCode": "written"} in resource["extension"]
    rules = {
        (p["actor"][0]["reference"]["identifier"]["value"], p["actor"][1]["reference"]["identifier"]["value"]): p
        for p in resource["provision"]["provision"]
    }
    assert rules[org(api, "FK"), org(api, "AF")]["type"] == "permit"
    assert rules[org(api, "AF"), org(api, "SF")]["type"] == "permit"
    denied = rules[org(api, "FK"), org(api, "SF")]
    assert denied["type"] == "deny" and denied["class"][0]["code"] == "insurance"
    # Never the personnummer or the name: the participant is its id.
    for private in (ANNA["personnummer"], ANNA["personnummer"].replace("-", ""), ANNA["family_name"]):
        assert private not in response.text

    (entry,) = log(api)[before:]
    assert (entry["kind"], entry["participant_id"], entry["outcome"]) == ("consents-read", pid, "disclosed")
    assert entry["details"] == {"format": "fhir"}
    assert [d["event_id"] for d in entry["disclosed"]] == [consent]

    # The deny starts when the consents read says the grant was withdrawn.
    (listed,) = api.samordnare.get(f"/api/v1/participants/{pid}/consents").json()
    (withdrawn,) = [g for g in listed["grants"] if (g["from"], g["to"]) == ("FK", "SF")]
    assert datetime.fromisoformat(denied["period"]["start"]) == datetime.fromisoformat(withdrawn["withdrawn_at"])


def test_a_handlaggare_is_refused_with_problem_json_and_the_refusal_is_logged(api: Api, story: dict[str, str]) -> None:
    for participant in (story["pid"], UNKNOWN):
        before = api.context.log.head()[0]
        response = api.handlaggare("FK").get(f"/api/v1/participants/{participant}/fhir/Consent")
        assert response.status_code == 403, response.text
        assert response.headers["content-type"].startswith("application/problem+json")
        assert response.json()["status"] == 403
        (entry,) = log(api)[before:]
        assert (entry["kind"], entry["outcome"], entry["reason"]) == ("consents-read", "refused", "role")
    before = api.context.log.head()[0]
    assert api.samordnare.get(f"/api/v1/participants/{UNKNOWN}/fhir/Consent").status_code == 404
    (entry,) = log(api)[before:]
    assert (entry["outcome"], entry["reason"]) == ("refused", "not-found")


def test_the_audit_export_in_fhir_form_validates_line_by_line_and_shows_the_af_view(
    api: Api, story: dict[str, str]
) -> None:
    pid, consent = story["pid"], story["consent"]
    response = api.granskare.get("/api/v1/audit/disclosures", params={"format": "fhir"})
    assert response.status_code == 200, response.text
    assert response.headers["content-type"] == "application/fhir+ndjson"
    until = int(response.headers["x-samverkan-until-seq"])
    assert f'disclosures-{until}.ndjson"' in response.headers["content-disposition"]
    events = [json.loads(line) for line in response.text.split("\n") if line]
    for event in events:
        validate(event)
    covered = log(api)[:until]
    assert sorted({fhir.log_entry_of(e) for e in events}) == [(e["seq"], e["hash"]) for e in covered]

    (view,) = [e for e in covered if e["kind"] == "view" and e["request_id"] == "af-view-fhir"]
    (shown,) = [e for e in events if fhir.log_entry_of(e)[0] == view["seq"]]
    custodian = next(a for a in shown["agent"] if a["type"]["coding"][0]["code"] == "159541003")
    assert custodian["who"]["identifier"]["value"] == org(api, "FK") == "2021005521"
    user = next(a for a in shown["agent"] if a["type"]["coding"][0]["code"] == "IRCP")
    assert user["who"]["identifier"]["value"] == "handlaggare-af"
    recipient = next(a for a in shown["agent"] if a["type"]["coding"][0]["code"] == "110152")
    assert recipient["who"]["identifier"]["value"] == org(api, "AF")
    references = [e["what"].get("reference") for e in shown["entity"]]
    assert f"Consent/{consent}/_history/2" in references
    (request,) = [e for e in shown["entity"] if e["type"]["code"] == "XrequestId"]
    assert request["what"]["identifier"]["value"] == "af-view-fhir"
    patients = [
        e for e in shown["entity"] if e["type"] == {"system": fhir.ENTITY_TYPE, "code": "1", "display": "Person"}
    ]
    assert [p["what"]["identifier"]["value"] for p in patients] == [f"urn:uuid:{pid}"]
    assert (shown["type"]["code"], shown["outcome"], shown["purposeOfEvent"][0]["coding"][0]["code"]) == (
        "110106",
        "0",
        "handlaggning",
    )
    for private in (ANNA["personnummer"], ANNA["given_name"], ANNA["family_name"], "Göran Älg"):
        assert private not in response.text

    # The export's own entry records the format; its manifest hashes exactly these bytes.
    assert covered[-1]["kind"] == "export" and covered[-1]["details"]["format"] == "fhir"
    manifest = api.granskare.get(
        "/api/v1/audit/disclosures/manifest", params={"format": "fhir", "until_seq": until}
    ).json()
    assert manifest["sha256"] == hashlib.sha256(response.content).hexdigest()
    assert (manifest["format"], manifest["count"], manifest["last_seq"]) == ("fhir", until, until)
    public_key = api.context.signer.public_key
    assert verify_export(response.text, "fhir", manifest, public_key).as_dict() == {"ok": True, "entries": until}
    # The chain is checked on the jsonl twin: the same entries, the same first and last hash.
    twin = api.granskare.get("/api/v1/audit/disclosures", params={"format": "jsonl", "until_seq": until})
    twin_manifest = api.granskare.get("/api/v1/audit/disclosures/manifest", params={"until_seq": until}).json()
    assert verify_export(twin.text, "jsonl", twin_manifest, public_key).ok
    assert (twin_manifest["first_hash"], twin_manifest["last_hash"]) == (manifest["first_hash"], manifest["last_hash"])


def test_the_command_line_exports_fhir_and_verifies_it_against_its_manifest(
    api: Api, story: dict[str, str], settings: Settings, tmp_path: Path
) -> None:
    out = tmp_path / "exports"
    exported = cli(settings, "audit", "export", "--out", str(out), "--format", "fhir")
    assert exported.exit_code == 0, exported.output
    (data,) = out.glob("disclosures-*.ndjson")
    manifest = data.with_name(f"{data.name}.manifest.json")
    for line in data.read_text(encoding="utf-8").splitlines():
        validate(json.loads(line))
    checked = cli(settings, "audit", "verify", "--file", str(data), "--manifest", str(manifest))
    assert checked.exit_code == 0, checked.output
    assert json.loads(checked.stdout)["ok"] is True
    alone = cli(settings, "audit", "verify", "--file", str(data))
    assert alone.exit_code == 1
    assert "jsonl twin" in json.loads(alone.stdout)["reason"]
