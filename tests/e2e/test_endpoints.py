"""Every endpoint of API.md through HTTP, on both engines: paths, status codes and bodies."""

from __future__ import annotations

from datetime import timedelta
from typing import Any
from uuid import UUID

from adapters.disclosure_log import LogFilter
from tests.e2e.conftest import Api
from tests.e2e.scenario import consent_body, decision_body, enrol
from tests.support import ANNA, today


def test_enrol_and_search_by_personnummer_in_the_body(api: Api) -> None:
    pid = enrol(api)
    assert UUID(pid)
    again = api.samordnare.post("/api/v1/participants", ANNA)
    assert again.status_code == 409
    assert again.json()["type"].endswith("/conflict")
    for form in ("19811218-9876", "198112189876", "811218-9876"):
        found = api.samordnare.post("/api/v1/participants/search", {"personnummer": form})
        assert (found.status_code, found.json()) == (200, {"id": pid})
    missing = api.samordnare.post("/api/v1/participants/search", {"personnummer": "19900101-0017"})
    assert missing.status_code == 404
    assert missing.json()["type"].endswith("/not-found")


def comparable(response: Any) -> tuple[int, dict[str, Any]]:
    """A search answer without what differs between any two requests (the request id)."""
    body = {k: v for k, v in response.json().items() if k != "request_id"}
    return response.status_code, body


def search(caller: Any, number: str) -> Any:
    return caller.post("/api/v1/participants/search", {"personnummer": number})


def test_a_handlaggare_search_is_no_oracle_until_the_agency_has_a_part_in_the_case(api: Api) -> None:
    pid = enrol(api)
    af = api.handlaggare("AF")
    enrolled, unknown = search(af, ANNA["personnummer"]), search(af, "19900101-0017")
    assert enrolled.status_code == 404
    assert comparable(enrolled) == comparable(unknown)  # the same answer, enrolled or not
    searches = [e for e in api.context.log.entries(LogFilter()) if e["kind"] == "search"]
    # The log tells the granskare (and the participant's extract) the truth.
    assert (searches[-2]["outcome"], searches[-2]["reason"], searches[-2]["participant_id"]) == (
        "refused",
        "no-relation",
        pid,
    )
    assert (searches[-1]["outcome"], searches[-1]["participant_id"]) == ("not-found", None)
    # A grant to or from the agency gives it a part: from then on it finds the participant.
    api.samordnare.post(f"/api/v1/participants/{pid}/consents", consent_body(("AF", "SF", ["employment"])))
    for form in ("19811218-9876", "198112189876", "811218-9876"):
        assert (search(af, form).status_code, search(af, form).json()) == (200, {"id": pid})
    # So does a referral naming it; until then another agency still finds no one.
    kommun = api.handlaggare("KOMMUN")
    assert search(kommun, ANNA["personnummer"]).status_code == 404
    referral = {"remittent": "FK", "reason": "Behöver samordnat stöd", "received_date": "2026-01-05"}
    api.samordnare.post(
        f"/api/v1/participants/{pid}/referral", {**referral, "needs": ["KOMMUN", "AF"]}
    ).raise_for_status()
    assert search(kommun, ANNA["personnummer"]).status_code == 200


def test_consents_are_listed_with_status_and_withdrawn_grant_by_grant(api: Api) -> None:
    pid = enrol(api)
    created = api.samordnare.post(
        f"/api/v1/participants/{pid}/consents",
        consent_body(("FK", "SF", ["insurance"]), ("FK", "AF", ["insurance"]), form="oral", witness="Sam Ordnare"),
    )
    assert created.status_code == 201
    consent_id = created.json()["id"]
    assert created.json()["version"] == 1
    pending = api.samordnare.post(
        f"/api/v1/participants/{pid}/consents",
        consent_body(
            ("AF", "SF", ["employment"]),
            valid_from=(today() + timedelta(days=10)).isoformat(),
            valid_until=(today() + timedelta(days=100)).isoformat(),
        ),
    )
    assert pending.status_code == 201

    partial = api.samordnare.post(
        f"/api/v1/participants/{pid}/consents/{consent_id}/withdrawal",
        {"grants": [{"from": "FK", "to": "AF", "categories": ["insurance"]}], "reason": "Vill inte dela med AF"},
    )
    assert partial.status_code == 200
    assert partial.json() == {"id": consent_id, "version": 2, "status": "active"}

    listed = api.samordnare.get(f"/api/v1/participants/{pid}/consents")
    assert listed.status_code == 200
    by_id = {c["id"]: c for c in listed.json()}
    first = by_id[consent_id]
    assert (first["status"], first["version"], first["form"], first["witness"]) == ("active", 2, "oral", "Sam Ordnare")
    assert {(g["from"], g["to"], g["status"]) for g in first["grants"]} == {
        ("FK", "SF", "active"),
        ("FK", "AF", "withdrawn"),
    }
    assert by_id[pending.json()["id"]]["status"] == "pending"

    whole = api.samordnare.post(f"/api/v1/participants/{pid}/consents/{consent_id}/withdrawal")
    assert (whole.status_code, whole.json()["status"], whole.json()["version"]) == (200, "withdrawn", 3)


def test_decisions_are_idempotent_corrected_and_retracted(api: Api) -> None:
    fk = api.handlaggare("FK")
    pid = enrol(api)
    api.samordnare.post(f"/api/v1/participants/{pid}/consents", consent_body(("FK", "SF", ["insurance"])))
    first = fk.post(f"/api/v1/participants/{pid}/decisions", decision_body(attributes={"omfattning": 50}))
    assert first.status_code == 201
    decision_id = first.json()["id"]
    repeat = fk.post(f"/api/v1/participants/{pid}/decisions", decision_body(attributes={"omfattning": 50}))
    assert (repeat.status_code, repeat.json()) == (200, {"id": decision_id})

    corrected = fk.post(
        f"/api/v1/participants/{pid}/decisions/{decision_id}/correction",
        decision_body(source_ref="FK-1-R", summary="Sjukpenning på heltid"),
    )
    assert corrected.status_code == 201
    correction_id = corrected.json()["id"]
    view = {d["id"]: d for d in api.samordnare.get(f"/api/v1/participants/{pid}/view").json()["decisions"]}
    assert view[decision_id]["status"] == "corrected"
    assert view[decision_id]["corrected_by"] == correction_id
    assert (view[correction_id]["corrects"], view[correction_id]["summary"]) == (decision_id, "Sjukpenning på heltid")

    retracted = fk.post(f"/api/v1/participants/{pid}/decisions/{correction_id}/retraction", {"reason": "Fel person"})
    assert retracted.status_code == 200
    view = {d["id"]: d for d in api.samordnare.get(f"/api/v1/participants/{pid}/view").json()["decisions"]}
    assert (view[correction_id]["status"], view[correction_id]["summary"]) == ("retracted", None)
    twice = fk.post(f"/api/v1/participants/{pid}/decisions/{correction_id}/retraction", {"reason": "igen"})
    assert twice.status_code == 409


def test_referral_plan_interventions_meetings_and_closure(api: Api) -> None:
    sf = api.samordnare
    pid = enrol(api)
    base = f"/api/v1/participants/{pid}"
    referral = sf.post(
        f"{base}/referral",
        {
            "remittent": "AF",
            "reason": "Behöver stöd från flera parter",
            "received_date": today().isoformat(),
            "needs": ["AF", "REGION"],
        },
    )
    assert referral.status_code == 201
    plan = {"goals": ["Arbete 50 %"], "steps": [{"agency": "AF", "description": "Praktik", "due": today().isoformat()}]}
    assert (sf.post(f"{base}/plan", plan).status_code, sf.post(f"{base}/plan", plan).json()) == (201, {"version": 2})
    started = sf.post(
        f"{base}/interventions",
        {"kind": "arbetstraning", "start_date": today().isoformat(), "provider_agency": "KOMMUN"},
    )
    assert started.status_code == 201
    intervention_id = started.json()["id"]
    second = sf.post(
        f"{base}/interventions", {"kind": "praktik", "start_date": today().isoformat(), "provider_agency": "AF"}
    ).json()["id"]
    ended = sf.post(f"{base}/interventions/{intervention_id}/end", {"end_date": today().isoformat(), "reason": "Klar"})
    assert ended.status_code == 200
    missed = sf.post(
        f"{base}/meetings", {"date": today().isoformat(), "agencies_present": ["AF", "FK"], "attended": False}
    )
    assert missed.status_code == 201
    closure = {"outcome": "studies", "closed_date": today().isoformat()}
    running = sf.post(f"{base}/closure", closure)
    assert running.status_code == 409 and "insats" in running.json()["detail"]  # the praktik is still running
    ending = {"end_date": today().isoformat(), "reason": "Avslut"}
    closed = sf.post(f"{base}/closure", {**closure, "end_interventions": ending})
    assert closed.status_code == 200

    view = sf.get(f"{base}/view").json()
    assert view["participant"]["status"] == "closed"
    coordination = view["coordination"]
    assert coordination["referral"]["remittent"] == "AF"
    assert coordination["plan"]["version"] == 2
    assert [i["end_date"] for i in coordination["interventions"]] == [today().isoformat()] * 2
    assert api.context.service.get_case(UUID(pid)).interventions[UUID(second)].end_date == today()
    assert coordination["meetings"][0]["attended"] is False
    assert coordination["closure"] == {"outcome": "studies", "closed_date": today().isoformat()}
    late = api.handlaggare("FK").post(f"{base}/decisions", decision_body())
    assert late.status_code in (403, 409)  # no consent, and closed anyway

    # Agencies see the coordination record only under an SF -> agency grant.
    assert api.handlaggare("AF").get(f"{base}/view").status_code == 403


def test_the_participant_extract_lists_who_saw_what(api: Api) -> None:
    pid = enrol(api)
    api.samordnare.post(
        f"/api/v1/participants/{pid}/consents", consent_body(("FK", "SF", ["insurance"]), ("FK", "AF", ["insurance"]))
    )
    api.handlaggare("FK").post(f"/api/v1/participants/{pid}/decisions", decision_body())
    api.handlaggare("AF").get(f"/api/v1/participants/{pid}/view")
    extract = api.samordnare.get(f"/api/v1/participants/{pid}/disclosures")
    assert extract.status_code == 200
    entries = extract.json()["entries"]
    af_reads = [e for e in entries if e["agency"] == "AF" and e["kind"] == "view"]
    assert len(af_reads) == 1
    assert af_reads[0]["disclosed"][0]["agency"] == "FK"
    assert af_reads[0]["user_id"] == "handlaggare-af"


def test_erasure_makes_personal_data_unreadable_through_the_api(api: Api) -> None:
    pid = enrol(api)
    api.samordnare.post(f"/api/v1/participants/{pid}/consents", consent_body(("FK", "SF", ["insurance"])))
    api.handlaggare("FK").post(f"/api/v1/participants/{pid}/decisions", decision_body())
    assert api.samordnare.post(f"/api/v1/participants/{pid}/erasure").status_code == 403
    erased = api.admin.post(f"/api/v1/participants/{pid}/erasure")
    assert erased.status_code == 200
    view = api.samordnare.get(f"/api/v1/participants/{pid}/view").json()
    assert view["participant"] == {
        "id": pid,
        "personnummer": None,
        "given_name": None,
        "family_name": None,
        "birth_date": None,
        "status": "erased",
    }
    assert view["decisions"] == [] and view["coordination"] is None  # an erasure wins over every grant
    fk_view = api.handlaggare("FK").get(f"/api/v1/participants/{pid}/view")
    assert fk_view.status_code == 403  # nothing of the person is left to show, not even its own decisions
    assert api.samordnare.post("/api/v1/participants/search", ANNA | {}).status_code in (404, 422)
    search = api.samordnare.post("/api/v1/participants/search", {"personnummer": ANNA["personnummer"]})
    assert search.status_code == 404


def test_health_answers_without_a_token(api: Api) -> None:
    response = api.client.get("/api/v1/health")
    assert response.status_code == 200
    assert response.json()["status"] == "ok"
    assert response.headers["x-request-id"]


def test_openapi_document_describes_the_contract(api: Api) -> None:
    paths = api.client.get("/openapi.json").json()["paths"]
    for path in (
        "/api/v1/participants",
        "/api/v1/participants/search",
        "/api/v1/participants/{participant_id}/consents",
        "/api/v1/participants/{participant_id}/consents/{consent_id}/withdrawal",
        "/api/v1/participants/{participant_id}/decisions",
        "/api/v1/participants/{participant_id}/decisions/{decision_id}/correction",
        "/api/v1/participants/{participant_id}/decisions/{decision_id}/retraction",
        "/api/v1/participants/{participant_id}/referral",
        "/api/v1/participants/{participant_id}/plan",
        "/api/v1/participants/{participant_id}/interventions",
        "/api/v1/participants/{participant_id}/interventions/{intervention_id}/end",
        "/api/v1/participants/{participant_id}/meetings",
        "/api/v1/participants/{participant_id}/closure",
        "/api/v1/participants/{participant_id}/view",
        "/api/v1/participants/{participant_id}/disclosures",
        "/api/v1/participants/{participant_id}/erasure",
        "/api/v1/audit/disclosures",
        "/api/v1/audit/disclosures/manifest",
        "/api/v1/audit/verify",
        "/api/v1/health",
    ):
        assert path in paths, path
