"""The read side through HTTP: the view reads the case itself, so it is never behind the log, and the gate uses
the current consent (even with the projections stopped); the caseload and the timeline."""

from __future__ import annotations

from datetime import timedelta

from tests.e2e.conftest import Api, slowed
from tests.e2e.scenario import consent_body, decision_body, enrol
from tests.support import today


def test_the_view_never_discloses_a_withdrawn_grant_even_while_the_projection_is_stopped(api: Api) -> None:
    fk, af = api.handlaggare("FK"), api.handlaggare("AF")
    pid = enrol(api)
    consent = api.samordnare.post(
        f"/api/v1/participants/{pid}/consents", consent_body(("FK", "SF", ["insurance"]), ("FK", "AF", ["insurance"]))
    ).json()["id"]
    first = fk.post(f"/api/v1/participants/{pid}/decisions", decision_body(source_ref="A")).json()["id"]
    api.context.projections.catch_up()  # the projections hold the first decision, then stop (nothing runs them)
    second = fk.post(f"/api/v1/participants/{pid}/decisions", decision_body(source_ref="B")).json()["id"]
    assert api.context.projections.lag()["timeline"] > 0

    # Not yet projected, still shown: the view is never behind the log.
    assert [d["id"] for d in af.get(f"/api/v1/participants/{pid}/view").json()["decisions"]] == [first, second]

    api.samordnare.post(
        f"/api/v1/participants/{pid}/consents/{consent}/withdrawal",
        {"grants": [{"from": "FK", "to": "AF", "categories": ["insurance"]}]},
    )
    assert api.context.projections.lag()["timeline"] > 0  # still stopped
    refused = af.get(f"/api/v1/participants/{pid}/view")
    assert refused.status_code == 403
    assert "Sjukpenning" not in refused.text
    # FK still sees its own; SF still sees under FK -> SF.
    assert len(fk.get(f"/api/v1/participants/{pid}/view").json()["decisions"]) == 2
    assert len(api.samordnare.get(f"/api/v1/participants/{pid}/view").json()["decisions"]) == 2


def test_the_caseload_lists_open_cases_with_their_next_dates_and_flags(api: Api) -> None:
    sf = api.samordnare
    pid = enrol(api)
    closed = enrol(api, personnummer="19900101-0017", given_name="Eva", family_name="Avslutad")
    base = f"/api/v1/participants/{pid}"
    sf.post(
        f"{base}/consents",
        consent_body(("FK", "SF", ["insurance"]), valid_until=(today() + timedelta(days=20)).isoformat()),
    )
    sf.post(
        f"{base}/interventions",
        {"kind": "kartlaggning", "start_date": today().isoformat(), "provider_agency": "KOMMUN"},
    )
    for days_ago in (20, 10):
        sf.post(
            f"{base}/meetings",
            {"date": (today() - timedelta(days=days_ago)).isoformat(), "agencies_present": ["AF"], "attended": False},
        )
    booked = {"date": (today() + timedelta(days=7)).isoformat(), "agencies_invited": ["AF", "FK"]}
    assert sf.post(f"{base}/meetings", booked).status_code == 201
    sf.post(f"/api/v1/participants/{closed}/closure", {"outcome": "work", "closed_date": today().isoformat()})
    api.context.projections.catch_up()

    response = sf.get("/api/v1/caseload")
    assert response.status_code == 200
    cases = response.json()["cases"]
    assert [c["participant_id"] for c in cases] == [pid]
    case = cases[0]
    assert (case["given_name"], case["family_name"]) == ("Annika", "Lindqvistsson")
    assert case["phase"] == "kartlaggning"
    assert case["kartlaggning_end"] == (today() + timedelta(weeks=6)).isoformat()
    assert case["missed_in_a_row"] == 2 and case["home_visit_due"] is True
    assert case["next_meeting"] == (today() + timedelta(days=7)).isoformat()
    assert case["kartlaggning_overdue"] is False and case["first_meeting"] is None
    assert [c["valid_until"] for c in case["consents_expiring"]] == [(today() + timedelta(days=20)).isoformat()]
    assert api.handlaggare("FK").get("/api/v1/caseload").status_code == 403
    from adapters.disclosure_log import LogFilter

    kinds = [e["kind"] for e in api.context.log.entries(LogFilter(participant_id=__import__("uuid").UUID(pid)))]
    assert "caseload" in kinds


def test_the_timeline_shows_codes_and_only_decisions_the_forbund_may_see(api: Api) -> None:
    pid = enrol(api)
    consent = api.samordnare.post(f"/api/v1/participants/{pid}/consents", consent_body(("FK", "SF", ["insurance"])))
    api.handlaggare("FK").post(f"/api/v1/participants/{pid}/decisions", decision_body())
    api.context.projections.catch_up()
    entries = api.samordnare.get(f"/api/v1/participants/{pid}/timeline").json()["entries"]
    assert [e["kind"] for e in entries] == ["Enrolled", "ConsentRecorded", "DecisionRecorded"]
    assert "Sjukpenning" not in str(entries)
    api.samordnare.post(f"/api/v1/participants/{pid}/consents/{consent.json()['id']}/withdrawal")
    api.context.projections.catch_up()
    kinds = [e["kind"] for e in api.samordnare.get(f"/api/v1/participants/{pid}/timeline").json()["entries"]]
    assert kinds == ["Enrolled", "ConsentRecorded", "ConsentWithdrawn"]  # the decision is no longer shown to SF


def test_health_reports_projection_lag(api: Api) -> None:
    enrol(api)
    body = api.client.get("/api/v1/health").json()
    assert body["projections"]["lag_events"]["cases"] >= 1
    api.context.projections.catch_up()
    assert set(api.client.get("/api/v1/health").json()["projections"]["lag_events"].values()) == {0}


def test_a_list_read_right_after_a_write_shows_that_write_with_the_projections_slowed_down(api: Api) -> None:
    runner, reads = api.context.projections, api.context.reads
    sf = api.samordnare
    pid = enrol(api)
    runner.catch_up()
    slowed(runner, 0.4)
    reads.read_wait_s = 5.0
    runner.start()
    try:
        for _ in range(2):
            body = {"date": today().isoformat(), "agencies_present": ["FK"], "attended": False}
            assert sf.post(f"/api/v1/participants/{pid}/meetings", body).status_code == 201
        caseload = sf.get("/api/v1/caseload").json()
        (case,) = [c for c in caseload["cases"] if c["participant_id"] == pid]
        assert (case["missed_in_a_row"], case["home_visit_due"]) == (2, True)
        assert caseload["projection"]["behind"] is False
        api.samordnare.post(f"/api/v1/participants/{pid}/consents", consent_body(("FK", "SF", ["insurance"])))
        decision = api.handlaggare("FK").post(f"/api/v1/participants/{pid}/decisions", decision_body()).json()["id"]
        timeline = sf.get(f"/api/v1/participants/{pid}/timeline").json()
        assert timeline["entries"][-1]["ref_id"] == decision
    finally:
        runner.stop()
    # With no runner at all, the read waits its bounded time and says it is behind.
    reads.read_wait_s = 0.2
    sf.post(
        f"/api/v1/participants/{pid}/meetings",
        {"date": today().isoformat(), "agencies_present": ["FK"], "attended": True},
    )
    behind = sf.get("/api/v1/caseload").json()["projection"]
    assert behind["behind"] is True and behind["position"] < behind["head"]
