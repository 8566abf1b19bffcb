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


def test_as_of_never_outlives_a_withdrawal_and_the_granskare_reconstructs_what_was_visible(api: Api) -> None:
    """The withdrawal story: FK -> AF given, FK decision, instant T, withdrawal. AF's read as of T shows nothing of
    FK's; the granskare's reconstruction at T lists the decision (no content) with the consent that allowed it."""
    fk, af = api.handlaggare("FK"), api.handlaggare("AF")
    pid = enrol(api)
    consent = api.samordnare.post(
        f"/api/v1/participants/{pid}/consents", consent_body(("FK", "SF", ["insurance"]), ("FK", "AF", ["insurance"]))
    ).json()["id"]
    decision_id = fk.post(f"/api/v1/participants/{pid}/decisions", decision_body()).json()["id"]
    t = datetime.now(UTC)
    shared = af.get(f"/api/v1/participants/{pid}/view", params={"as_of": t.isoformat()})
    assert [d["id"] for d in shared.json()["decisions"]] == [decision_id]  # before the withdrawal: as it was
    api.samordnare.post(
        f"/api/v1/participants/{pid}/consents/{consent}/withdrawal",
        {"grants": [{"from": "FK", "to": "AF", "categories": ["insurance"]}]},
    )

    assert af.get(f"/api/v1/participants/{pid}/view").status_code == 403
    then = af.get(f"/api/v1/participants/{pid}/view", params={"as_of": t.isoformat()})
    assert then.status_code == 403  # AF may see nothing of FK's now, so nothing of FK's then either
    assert "Sjukpenning" not in then.text
    refused = log_entries(api, pid)[-1]
    assert (refused["kind"], refused["outcome"], refused["as_of"]) == ("view-refused", "refused", t.isoformat())

    rebuilt = api.granskare.get(
        f"/api/v1/audit/participants/{pid}/reconstruction", params={"party": "AF", "at": t.isoformat()}
    )
    assert rebuilt.status_code == 200, rebuilt.text
    items = rebuilt.json()["items"]
    assert [(i["id"], i["kind"], i["agency"], i["category"]) for i in items] == [
        (decision_id, "decision", "FK", "insurance")
    ]
    assert (items[0]["consent_id"], items[0]["consent_version"], items[0]["status"]) == (consent, 1, "active")
    assert "Sjukpenning" not in rebuilt.text and "summary" not in rebuilt.text
    logged = log_entries(api, pid)[-1]
    assert (logged["kind"], logged["role"], logged["as_of"]) == ("reconstruction", "granskare", t.isoformat())
    assert [d["event_id"] for d in logged["disclosed"]] == [decision_id]
    # Now, after the withdrawal, AF could see nothing: the reconstruction says so too.
    now = api.granskare.get(
        f"/api/v1/audit/participants/{pid}/reconstruction", params={"party": "AF", "at": datetime.now(UTC).isoformat()}
    )
    assert now.json()["items"] == []
    # Only granskare reconstruct; the refusal is logged like any other read.
    assert (
        api.samordnare.get(
            f"/api/v1/audit/participants/{pid}/reconstruction", params={"party": "AF", "at": t.isoformat()}
        ).status_code
        == 403
    )
    assert (log_entries(api, pid)[-1]["kind"], log_entries(api, pid)[-1]["reason"]) == ("reconstruction", "role")


def test_as_of_shows_the_view_of_that_instant_where_the_grant_still_holds(api: Api) -> None:
    fk, af = api.handlaggare("FK"), api.handlaggare("AF")
    pid = enrol(api)
    api.samordnare.post(
        f"/api/v1/participants/{pid}/consents", consent_body(("FK", "SF", ["insurance"]), ("FK", "AF", ["insurance"]))
    )
    before_decision = datetime.now(UTC)
    first = fk.post(f"/api/v1/participants/{pid}/decisions", decision_body()).json()["id"]
    t = datetime.now(UTC)
    fk.post(f"/api/v1/participants/{pid}/decisions/{first}/retraction", {"reason": "Fel person"})
    later = fk.post(f"/api/v1/participants/{pid}/decisions", decision_body(source_ref="FK-2")).json()["id"]

    then = af.get(f"/api/v1/participants/{pid}/view", params={"as_of": t.isoformat()}).json()
    assert [(d["id"], d["status"]) for d in then["decisions"]] == [(first, "active")]  # as it stood at T
    assert then["as_of"] is not None
    now = af.get(f"/api/v1/participants/{pid}/view").json()
    assert [(d["id"], d["status"]) for d in now["decisions"]] == [(first, "retracted"), (later, "active")]
    earlier = af.get(f"/api/v1/participants/{pid}/view", params={"as_of": before_decision.isoformat()})
    assert earlier.status_code == 403  # the decision was not yet recorded then


def test_as_of_after_an_erasure_shows_nothing(api: Api) -> None:
    fk = api.handlaggare("FK")
    pid = enrol(api)
    api.samordnare.post(
        f"/api/v1/participants/{pid}/consents", consent_body(("FK", "SF", ["insurance"]), ("FK", "AF", ["insurance"]))
    )
    fk.post(f"/api/v1/participants/{pid}/decisions", decision_body())
    t = datetime.now(UTC)
    assert api.admin.post(f"/api/v1/participants/{pid}/erasure").status_code == 200
    assert (
        api.handlaggare("AF").get(f"/api/v1/participants/{pid}/view", params={"as_of": t.isoformat()}).status_code
        == 403
    )
    sf = api.samordnare.get(f"/api/v1/participants/{pid}/view", params={"as_of": t.isoformat()}).json()
    assert sf["decisions"] == [] and sf["participant"]["status"] == "erased"


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
