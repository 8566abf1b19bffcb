"""The förbund's working method over HTTP, read back from the caseload after every step with the projections
slowed down: referral naming two parties, a booked first meeting held, kartläggning overdue until a
handlingsplan follows, insatser, two missed meetings and a home visit, and closure. And participants enrolled
without a Swedish number yet."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import timedelta
from typing import Any
from uuid import UUID

import pytest

from projections.definitions import FOLLOW_UP
from tests.e2e.conftest import Api, slowed
from tests.e2e.scenario import enrol
from tests.support import today


@pytest.fixture
def running(api: Api) -> Iterator[Api]:
    """The API with its projection runner following the log, slowly; list reads wait for it."""
    slowed(api.context.projections, 0.2)
    api.context.reads.read_wait_s = 10.0
    api.context.projections.start()
    try:
        yield api
    finally:
        api.context.projections.stop()


def day(offset: int = 0) -> str:
    return (today() + timedelta(days=offset)).isoformat()


def test_one_participant_through_the_working_method(running: Api) -> None:
    api, sf = running, running.samordnare
    pid = enrol(api)
    base = f"/api/v1/participants/{pid}"

    def case() -> dict[str, Any]:
        listed = sf.get("/api/v1/caseload").json()
        assert listed["projection"]["behind"] is False
        (found,) = [c for c in listed["cases"] if c["participant_id"] == pid]
        return found

    def ok(response: Any, status: int = 201) -> Any:
        assert response.status_code == status, response.text
        return response.json()

    referral = {"remittent": "AF", "reason": "Behöver stöd", "received_date": day(-60)}
    assert sf.post(f"{base}/referral", {**referral, "needs": ["AF"]}).status_code == 422  # two parties at least
    ok(sf.post(f"{base}/referral", {**referral, "needs": ["AF", "REGION"]}))
    assert (case()["phase"], case()["referral_date"]) == ("referral", day(-60))

    first = ok(sf.post(f"{base}/meetings", {"date": day(), "agencies_invited": ["AF", "REGION", "FK", "KOMMUN"]}))["id"]
    assert (case()["next_meeting"], case()["first_meeting"]) == (day(), None)
    ok(sf.post(f"{base}/meetings/{first}/outcome", {"attended": True, "agencies_present": ["AF", "REGION"]}), 200)
    assert sf.post(f"{base}/meetings/{first}/outcome", {"attended": False}).status_code == 409  # already held
    seen = case()
    assert seen["next_meeting"] is None
    assert seen["first_meeting"] == {"date": day(), "agencies_present": 2}
    assert seen["first_meeting_too_few_agencies"] is False

    kartlaggning = {"kind": "kartlaggning", "start_date": day(-50), "provider_agency": "KOMMUN"}
    ok(sf.post(f"{base}/interventions", kartlaggning))
    seen = case()
    assert (seen["phase"], seen["kartlaggning_end"], seen["kartlaggning_overdue"]) == ("kartlaggning", day(-8), True)

    plan = {"goals": ["Arbete på halvtid"], "steps": [{"agency": "AF", "description": "Praktik", "due": day(30)}]}
    ok(sf.post(f"{base}/plan", plan))
    seen = case()
    assert (seen["phase"], seen["kartlaggning_overdue"]) == ("plan", False)
    assert seen["next_plan_step"] == {"agency": "AF", "due": day(30)}

    arbetstraning = {"kind": "arbetstraning", "start_date": day(), "provider_agency": "AF"}
    insats = ok(sf.post(f"{base}/interventions", arbetstraning))["id"]
    assert case()["phase"] == "insats"

    for _ in range(2):
        booked = ok(sf.post(f"{base}/meetings", {"date": day(), "agencies_invited": ["AF"]}))["id"]
        ok(sf.post(f"{base}/meetings/{booked}/outcome", {"attended": False}), 200)
    seen = case()
    assert (seen["missed_in_a_row"], seen["home_visit_due"]) == (2, True)
    home_visit = {"date": day(), "kind": "home_visit", "agencies_present": [], "attended": True}
    ok(sf.post(f"{base}/meetings", home_visit))
    seen = case()
    assert (seen["missed_in_a_row"], seen["home_visit_due"]) == (0, False)

    closure = {"outcome": "work", "closed_date": day(), "support_after": "lon", "occupation_after": "arbete"}
    assert sf.post(f"{base}/closure", closure).status_code == 409  # insatser still running
    ending = {"end_date": day(), "reason": "Avslut"}
    ok(sf.post(f"{base}/closure", {**closure, "end_interventions": ending}), 200)
    assert pid not in [c["participant_id"] for c in sf.get("/api/v1/caseload").json()["cases"]]
    case_now = api.context.service.get_case(UUID(pid))
    assert case_now.interventions[UUID(insats)].end_date == today() and case_now.closure is not None


def test_a_first_meeting_with_one_agency_is_flagged(running: Api) -> None:
    sf = running.samordnare
    pid = enrol(running)
    sf.post(f"/api/v1/participants/{pid}/meetings", {"date": day(-3), "agencies_present": ["AF"], "attended": True})
    (case,) = [c for c in sf.get("/api/v1/caseload").json()["cases"] if c["participant_id"] == pid]
    assert case["first_meeting"] == {"date": day(-3), "agencies_present": 1}
    assert case["first_meeting_too_few_agencies"] is True


def test_a_booking_is_for_today_or_later_and_names_who_is_invited(api: Api) -> None:
    pid = enrol(api)
    meetings = f"/api/v1/participants/{pid}/meetings"
    assert api.samordnare.post(meetings, {"date": day(-1), "agencies_invited": ["AF"]}).status_code == 422
    assert api.samordnare.post(meetings, {"date": day(1), "agencies_invited": []}).status_code == 422
    assert (
        api.samordnare.post(meetings, {"date": day(1), "kind": "home_visit", "agencies_invited": []}).status_code == 201
    )


def test_a_written_consent_needs_its_document_reference(api: Api) -> None:
    pid = enrol(api)
    body = {
        "grants": [{"from": "FK", "to": "SF", "categories": ["insurance"]}],
        "purpose": "Samordnad rehabilitering",
        "valid_from": day(),
        "valid_until": day(100),
        "form": "written",
    }
    refused = api.samordnare.post(f"/api/v1/participants/{pid}/consents", body)
    assert refused.status_code == 422 and refused.json()["errors"][0]["field"] == "document_ref"
    accepted = api.samordnare.post(f"/api/v1/participants/{pid}/consents", {**body, "document_ref": "Akt 17"})
    assert accepted.status_code == 201


def test_a_participant_without_a_number_is_enrolled_and_gets_one_later(api: Api) -> None:
    sf = api.samordnare
    reserve = {"given_name": "Amal", "family_name": "Nyanländ", "birth_date": "1994-03-08", "legal_gender": "female"}
    assert sf.post("/api/v1/participants", {"given_name": "A", "family_name": "B"}).status_code == 422
    pid = sf.post("/api/v1/participants", reserve).json()["id"]
    other = sf.post("/api/v1/participants", {**reserve, "given_name": "Bea"}).json()["id"]
    view = sf.get(f"/api/v1/participants/{pid}/view").json()["participant"]
    assert (view["personnummer"], view["birth_date"], view["given_name"]) == (None, "1994-03-08", "Amal")
    number = "19940308-2481"
    assert sf.post("/api/v1/participants/search", {"personnummer": number}).status_code == 404

    assert sf.post(f"/api/v1/participants/{pid}/personnummer", {"personnummer": number}).status_code == 200
    assert sf.post("/api/v1/participants/search", {"personnummer": "199403082481"}).json()["id"] == pid
    assert sf.post(f"/api/v1/participants/{other}/personnummer", {"personnummer": number}).status_code == 409
    assert sf.post(f"/api/v1/participants/{pid}/personnummer", {"personnummer": "19900101-0017"}).status_code == 409
    assert (
        sf.post("/api/v1/participants", {"personnummer": number, "given_name": "X", "family_name": "Y"}).status_code
        == 409
    )
    assert sf.get(f"/api/v1/participants/{pid}/view").json()["participant"]["personnummer"] == "19940308-2481"
    # Statistics count both by birth year and legal gender, number or not.
    api.context.projections.catch_up()
    rows = api.context.projections.store.select(FOLLOW_UP, "", "1 = 1", ())
    assert sorted((r["participant_id"], r["birth_year"], r["gender"]) for r in rows) == sorted(
        [(pid, 1994, "female"), (other, 1994, "female")]
    )
