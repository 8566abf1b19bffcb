"""Emergency access (nödåtkomst) through HTTP: without a reason or a note it is refused (and logged); with them it
opens the other parties' information to that one user, for its window only, every read logged as emergency
access; a block beats it; an as-of read never uses it."""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any

from adapters.disclosure_log import LogFilter
from tests.e2e.conftest import Api
from tests.e2e.scenario import consent_body, decision_body, enrol

NOTE = "Akut försämring, behöver se pågående beslut inför kvällens bedömning"


def log_entries(api: Api, pid: str) -> list[dict[str, Any]]:
    return list(api.context.log.entries(LogFilter(participant_id=pid)))  # type: ignore[arg-type]


def fk_decision_shared_with_sf_only(api: Api) -> tuple[str, str]:
    pid = enrol(api)
    base = f"/api/v1/participants/{pid}"
    api.samordnare.post(f"{base}/consents", consent_body(("FK", "SF", ["insurance"]))).raise_for_status()
    decision = api.handlaggare("FK").post(f"{base}/decisions", decision_body(category="insurance.sickness"))
    assert decision.status_code == 201, decision.text
    return pid, decision.json()["id"]


def test_without_a_reason_or_a_note_it_is_refused_and_the_refusal_logged(api: Api) -> None:
    pid, _ = fk_decision_shared_with_sf_only(api)
    region = api.handlaggare("REGION")
    url = f"/api/v1/participants/{pid}/emergency-access"
    for body, field in (({"note": NOTE}, "reason"), ({"reason": "akut-skyddsbehov"}, "note"), ({}, "reason")):
        refused = region.post(url, body)
        assert refused.status_code == 422, refused.text
        problem = refused.json()
        assert problem["type"].endswith("/validation-error")
        assert problem["errors"][0]["field"] == field
    made_up = region.post(url, {"reason": "jag vill bara se", "note": NOTE})
    assert made_up.status_code == 422
    assert "jag vill bara se" not in made_up.text  # never echoed
    # Each refusal is in the log, and nothing was opened: the view stays closed.
    refusals = [e for e in log_entries(api, pid) if e["kind"] == "emergency-access"]
    assert [e["outcome"] for e in refusals] == ["refused"] * 4
    assert [e["reason"] for e in refusals] == ["invalid-reason", "invalid-note", "invalid-reason", "invalid-reason"]
    assert region.get(f"/api/v1/participants/{pid}/view").status_code == 403
    # Only a handläggare opens one; the förbund reads by consent.
    assert api.samordnare.post(url, {"reason": "akut-skyddsbehov", "note": NOTE}).status_code == 403
    assert api.granskare.post(url, {"reason": "akut-skyddsbehov", "note": NOTE}).status_code == 403


def test_with_a_reason_it_opens_for_that_user_and_window_only_and_every_read_is_flagged(api: Api) -> None:
    pid, decision_id = fk_decision_shared_with_sf_only(api)
    base = f"/api/v1/participants/{pid}"
    region = api.handlaggare("REGION")
    assert region.get(f"{base}/view").status_code == 403

    opened = region.post(f"{base}/emergency-access", {"reason": "fara-for-liv-eller-halsa", "note": NOTE})
    assert opened.status_code == 201, opened.text
    access = opened.json()
    window = datetime.fromisoformat(access["until"]) - datetime.fromisoformat(access["opened_at"])
    assert window == timedelta(minutes=60)
    assert NOTE not in opened.text

    view = region.get(f"{base}/view", headers={"X-Samverkan-Purpose": "handlaggning"})
    assert view.status_code == 200, view.text
    body = view.json()
    assert [d["id"] for d in body["decisions"]] == [decision_id]
    assert body["decisions"][0]["consent_id"] is None  # opened by the emergency access, not by a consent
    assert body["emergency_access"]["id"] == access["id"]

    entries = log_entries(api, pid)
    opening = next(e for e in entries if e["kind"] == "emergency-access")
    assert opening["outcome"] == "opened"
    assert opening["details"]["emergency"]["reason"] == "fara-for-liv-eller-halsa"
    assert NOTE not in str(entries)  # the note is sealed in the case, never in the log
    read = entries[-1]
    assert (read["kind"], read["agency"], read["purpose"]) == ("view", "REGION", "nodatkomst")
    assert read["details"]["emergency"]["id"] == access["id"]
    assert read["disclosed"][0]["event_id"] == decision_id
    assert read["disclosed"][0]["consent_id"] is None

    # Another REGION user has no emergency access of their own.
    assert api.as_("handlaggare", "REGION", sub="another-region-user").get(f"{base}/view").status_code == 403
    # Looking back never uses it.
    earlier = datetime.fromisoformat(access["opened_at"]) - timedelta(milliseconds=1)
    assert region.get(f"{base}/view", params={"as_of": earlier.isoformat()}).status_code == 403

    # When the window has run out, the view is closed again.
    service = api.context.service
    real = service.clock
    service.clock = lambda: real() + timedelta(minutes=61)
    try:
        after = region.get(f"{base}/view")
        assert after.status_code == 403
        assert "emergency" not in log_entries(api, pid)[-1]["details"]
    finally:
        service.clock = real


def test_a_block_beats_an_emergency_access(api: Api) -> None:
    pid, decision_id = fk_decision_shared_with_sf_only(api)
    base = f"/api/v1/participants/{pid}"
    region = api.handlaggare("REGION")
    placed = api.handlaggare("FK").post(f"{base}/blocks", {"category": "insurance", "recipient": "REGION"})
    assert placed.status_code == 201
    assert region.post(f"{base}/emergency-access", {"reason": "akut-skyddsbehov", "note": NOTE}).status_code == 201
    refused = region.get(f"{base}/view")
    assert refused.status_code == 403
    last = log_entries(api, pid)[-1]
    assert (last["kind"], last["outcome"], last["purpose"]) == ("view-refused", "refused", "nodatkomst")
    assert last["details"]["emergency"]["reason"] == "akut-skyddsbehov"
    # Lifted, the emergency access opens it.
    api.handlaggare("FK").post(f"{base}/blocks/{placed.json()['id']}/lift").raise_for_status()
    assert [d["id"] for d in region.get(f"{base}/view").json()["decisions"]] == [decision_id]


def test_a_shorter_window_can_be_asked_for_but_never_a_longer_one(api: Api) -> None:
    pid, _ = fk_decision_shared_with_sf_only(api)
    url = f"/api/v1/participants/{pid}/emergency-access"
    region = api.handlaggare("REGION")
    for asked, given in ((15, 15), (600, 60)):
        opened = region.post(url, {"reason": "kan-inte-samtycka", "note": NOTE, "minutes": asked}).json()
        window = datetime.fromisoformat(opened["until"]) - datetime.fromisoformat(opened["opened_at"])
        assert window == timedelta(minutes=given)
    assert region.post(url, {"reason": "kan-inte-samtycka", "note": NOTE, "minutes": 0}).status_code == 422
