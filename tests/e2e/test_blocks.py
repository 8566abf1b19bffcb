"""Blocks (spärr) through HTTP: a party blocks its own information at the participant's request; the block beats
any consent from the next read on, an as-of read never re-opens it, and only the same party lifts it."""

from __future__ import annotations

from datetime import UTC, datetime

from tests.e2e.conftest import Api
from tests.e2e.scenario import consent_body, decision_body, enrol


def decision_ids(response: object) -> list[str]:
    return [d["id"] for d in response.json()["decisions"]]  # type: ignore[attr-defined]


def test_a_block_beats_the_consent_until_the_same_party_lifts_it(api: Api) -> None:
    fk, af = api.handlaggare("FK"), api.handlaggare("AF")
    pid = enrol(api)
    base = f"/api/v1/participants/{pid}"
    api.samordnare.post(
        f"{base}/consents", consent_body(("FK", "SF", ["insurance"]), ("FK", "AF", ["insurance"]))
    ).raise_for_status()
    decision_id = fk.post(f"{base}/decisions", decision_body(category="insurance.sickness")).json()["id"]
    assert decision_ids(af.get(f"{base}/view")) == [decision_id]
    before_block = datetime.now(UTC)

    placed = fk.post(f"{base}/blocks", {"category": "insurance", "recipient": "AF"})
    assert placed.status_code == 201, placed.text
    block_id = placed.json()["id"]

    # AF's very next read: nothing of FK's, so nothing at all (403); SF still sees it under FK -> SF.
    refused = af.get(f"{base}/view")
    assert refused.status_code == 403
    assert "Sjukpenning" not in refused.text
    assert decision_ids(api.samordnare.get(f"{base}/view")) == [decision_id]
    assert decision_ids(fk.get(f"{base}/view")) == [decision_id]  # a party's own information is never blocked
    # Looking back to before the block does not re-open it.
    then = af.get(f"{base}/view", params={"as_of": before_block.isoformat()})
    assert then.status_code == 403
    assert "Sjukpenning" not in then.text
    # The granskare sees what AF could see at each instant, blocks then included.
    rebuild = "/api/v1/audit/participants/" + pid + "/reconstruction"
    at_before = api.granskare.get(rebuild, params={"party": "AF", "at": before_block.isoformat()}).json()
    assert [i["id"] for i in at_before["items"]] == [decision_id]
    at_now = api.granskare.get(rebuild, params={"party": "AF", "at": datetime.now(UTC).isoformat()}).json()
    assert at_now["items"] == []

    # Only the party that placed the block lifts it.
    other = af.post(f"{base}/blocks/{block_id}/lift")
    assert other.status_code == 403
    assert other.json()["type"].endswith("/forbidden")
    assert api.samordnare.post(f"{base}/blocks/{block_id}/lift").status_code == 403
    lifted = fk.post(f"{base}/blocks/{block_id}/lift")
    assert lifted.status_code == 200, lifted.text
    assert decision_ids(af.get(f"{base}/view")) == [decision_id]
    assert fk.post(f"{base}/blocks/{block_id}/lift").status_code == 409  # already lifted


def test_a_block_towards_all_recipients_hides_it_from_the_forbund_too(api: Api) -> None:
    fk = api.handlaggare("FK")
    pid = enrol(api)
    base = f"/api/v1/participants/{pid}"
    api.samordnare.post(
        f"{base}/consents", consent_body(("FK", "SF", ["insurance"]), ("FK", "AF", ["insurance"]))
    ).raise_for_status()
    decision_id = fk.post(f"{base}/decisions", decision_body()).json()["id"]
    assert decision_ids(api.samordnare.get(f"{base}/view")) == [decision_id]

    assert fk.post(f"{base}/blocks", {}).status_code == 201  # all of FK's information, towards everyone
    assert api.samordnare.get(f"{base}/view").json()["decisions"] == []
    assert api.handlaggare("AF").get(f"{base}/view").status_code == 403
    timeline = api.samordnare.get(f"{base}/timeline").json()["entries"]
    assert decision_id not in [e["ref_id"] for e in timeline]
    assert decision_ids(fk.get(f"{base}/view")) == [decision_id]


def test_a_party_blocks_only_its_own_information(api: Api) -> None:
    pid = enrol(api)
    base = f"/api/v1/participants/{pid}"
    region = api.handlaggare("REGION").post(f"{base}/blocks", {"category": "insurance", "recipient": "AF"})
    assert region.status_code == 403
    assert region.json()["type"].endswith("/forbidden")
    # The samordnare may block the förbund's coordination record, nothing else; a granskare may not block.
    assert api.samordnare.post(f"{base}/blocks", {"category": "coordination", "recipient": "AF"}).status_code == 201
    assert api.samordnare.post(f"{base}/blocks", {"category": "health"}).status_code == 403
    assert api.granskare.post(f"{base}/blocks", {}).status_code == 403
    assert api.handlaggare("FK").post(f"{base}/blocks", {"recipient": "FK"}).status_code == 422
    assert api.handlaggare("FK").post(f"{base}/blocks", {"category": "nonsense"}).status_code == 422
