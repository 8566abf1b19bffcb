"""The acceptance story through HTTP: what AF and SF see of FK's decision follows the consent, read by read,
and every read (refused ones too) is one disclosure-log entry naming the consent used."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any
from uuid import UUID

from tests.e2e.conftest import Api
from tests.e2e.scenario import consent_body, decision_body, enrol


def log_entries(api: Api, participant_id: str) -> list[dict[str, Any]]:
    from adapters.disclosure_log import LogFilter

    return list(api.context.log.entries(LogFilter(participant_id=UUID(participant_id))))


def test_fk_decision_visibility_follows_consent_read_by_read(api: Api) -> None:
    fk, af = api.handlaggare("FK"), api.handlaggare("AF")
    pid = enrol(api)
    consent = api.samordnare.post(f"/api/v1/participants/{pid}/consents", consent_body(("FK", "SF", ["insurance"])))
    assert consent.status_code == 201
    first_consent = consent.json()["id"]
    decision = fk.post(f"/api/v1/participants/{pid}/decisions", decision_body())
    assert decision.status_code == 201
    decision_id = decision.json()["id"]

    # AF has no grant: it may see nothing, and the refused read is logged.
    refused = af.get(f"/api/v1/participants/{pid}/view")
    assert refused.status_code == 403
    assert refused.json()["type"].endswith("/forbidden")
    last = log_entries(api, pid)[-1]
    assert (last["kind"], last["outcome"], last["agency"], last["disclosed"]) == ("view-refused", "refused", "AF", [])

    # SF sees what FK -> SF allows, under that consent.
    sf_view = api.samordnare.get(f"/api/v1/participants/{pid}/view")
    assert sf_view.status_code == 200
    assert [(d["id"], d["consent_id"]) for d in sf_view.json()["decisions"]] == [(decision_id, first_consent)]
    sf_entry = log_entries(api, pid)[-1]
    assert sf_entry["kind"] == "view" and sf_entry["agency"] == "SF"
    assert {(d["event_id"], d["consent_id"], d["consent_version"]) for d in sf_entry["disclosed"]} == {
        (decision_id, first_consent, 1)
    }

    # The participant grants FK -> AF insurance: AF sees it on the very next request.
    grant = api.samordnare.post(f"/api/v1/participants/{pid}/consents", consent_body(("FK", "AF", ["insurance"])))
    af_consent = grant.json()["id"]
    shown = af.get(f"/api/v1/participants/{pid}/view")
    assert shown.status_code == 200
    decisions = shown.json()["decisions"]
    assert [(d["id"], d["consent_id"], d["summary"]) for d in decisions] == [
        (decision_id, af_consent, "Sjukpenning beviljad på halvtid från oktober")
    ]
    af_entry = log_entries(api, pid)[-1]
    assert af_entry["kind"] == "view" and af_entry["agency"] == "AF"
    assert af_entry["disclosed"] == [
        {
            "event_id": decision_id,
            "agency": "FK",
            "category": "insurance",
            "consent_id": af_consent,
            "consent_version": 1,
        }
    ]
    assert af_entry["categories"] == ["insurance"]

    # Withdrawn: invisible again on the very next request.
    withdrawn = api.samordnare.post(f"/api/v1/participants/{pid}/consents/{af_consent}/withdrawal", {})
    assert withdrawn.status_code == 200
    assert withdrawn.json()["status"] == "withdrawn"
    again = af.get(f"/api/v1/participants/{pid}/view")
    assert again.status_code == 403
    assert log_entries(api, pid)[-1]["kind"] == "view-refused"

    # SF still sees it under FK -> SF; the log of what AF saw before stays.
    assert api.samordnare.get(f"/api/v1/participants/{pid}/view").json()["decisions"][0]["id"] == decision_id
    kinds = [(e["kind"], e["agency"]) for e in log_entries(api, pid)]
    assert kinds == [
        ("view-refused", "AF"),
        ("view", "SF"),
        ("view", "AF"),
        ("view-refused", "AF"),
        ("view", "SF"),
    ]


def test_a_view_as_of_an_instant_uses_the_consent_of_that_instant(api: Api) -> None:
    fk, af = api.handlaggare("FK"), api.handlaggare("AF")
    pid = enrol(api)
    consent = api.samordnare.post(
        f"/api/v1/participants/{pid}/consents", consent_body(("FK", "SF", ["insurance"]), ("FK", "AF", ["insurance"]))
    ).json()["id"]
    before_decision = datetime.now(UTC)
    decision_id = fk.post(f"/api/v1/participants/{pid}/decisions", decision_body()).json()["id"]
    while_shared = datetime.now(UTC)
    api.samordnare.post(
        f"/api/v1/participants/{pid}/consents/{consent}/withdrawal",
        {"grants": [{"from": "FK", "to": "AF", "categories": ["insurance"]}]},
    )

    assert af.get(f"/api/v1/participants/{pid}/view").status_code == 403
    then = af.get(f"/api/v1/participants/{pid}/view", params={"as_of": while_shared.isoformat()})
    assert then.status_code == 200
    assert [d["id"] for d in then.json()["decisions"]] == [decision_id]
    assert then.json()["decisions"][0]["consent_version"] == 1
    earlier = af.get(f"/api/v1/participants/{pid}/view", params={"as_of": before_decision.isoformat()})
    assert earlier.status_code == 403  # the decision was not yet recorded then
    assert log_entries(api, pid)[-2]["as_of"] == while_shared.isoformat()


def test_an_agency_always_sees_its_own_decisions(api: Api) -> None:
    fk = api.handlaggare("FK")
    pid = enrol(api)
    api.samordnare.post(f"/api/v1/participants/{pid}/consents", consent_body(("FK", "SF", ["insurance"])))
    decision_id = fk.post(f"/api/v1/participants/{pid}/decisions", decision_body()).json()["id"]
    consents = api.samordnare.get(f"/api/v1/participants/{pid}/consents").json()
    api.samordnare.post(f"/api/v1/participants/{pid}/consents/{consents[0]['id']}/withdrawal")
    view = fk.get(f"/api/v1/participants/{pid}/view")
    assert view.status_code == 200
    assert [(d["id"], d["consent_id"]) for d in view.json()["decisions"]] == [(decision_id, None)]


def test_refused_recording_is_logged_without_its_content(api: Api) -> None:
    pid = enrol(api)
    refused = api.handlaggare("FK").post(f"/api/v1/participants/{pid}/decisions", decision_body())
    assert refused.status_code == 403
    body = refused.json()
    assert body["type"].endswith("/consent-required")
    assert body["missing_grant"] == {"from": "FK", "to": "SF", "category": "insurance"}
    assert "FK -> SF: insurance" in body["detail"]
    entry = log_entries(api, pid)[-1]
    assert (entry["kind"], entry["outcome"], entry["reason"]) == ("recording-refused", "refused", "consent-required")
    assert "Sjukpenning" not in str(entry)
    assert api.context.service.get_case(UUID(pid)).decisions == {}
