"""Recording through the application service on real SQLite and PostgreSQL."""

from __future__ import annotations

import threading
from datetime import date

import pytest

from adapters.settings import Settings
from adapters.storage import Storage, open_storage
from consent import Grant, Party
from coordination import AlreadyEnrolled, Conflict, ConsentRequired, InvalidCommand, NotPermitted
from tests.support import ANNA, enrol, fk_decision, grant_consent


def stored_event_count(storage: Storage, case_id: object) -> int:
    return len(list(storage.service.events.get(case_id)))  # type: ignore[arg-type]


def test_decision_is_gated_by_consent_and_idempotent_on_source_ref(storage: Storage) -> None:
    service = storage.service
    case_id = enrol(service)

    with pytest.raises(ConsentRequired) as refused:
        fk_decision(service, case_id)
    assert refused.value.missing == Grant(Party.FK, Party.SF, "insurance")
    assert "FK -> SF: insurance" in str(refused.value)
    assert stored_event_count(storage, case_id) == 1  # only the enrolment: nothing stored by a refusal

    consent_id = grant_consent(service, case_id, ("FK", "SF", ["insurance"]))
    decision_id = fk_decision(service, case_id)
    assert service.get_case(case_id).decisions[decision_id].allowed_by.consent_id == consent_id  # type: ignore[union-attr]

    before = stored_event_count(storage, case_id)
    again = service.record_decision(
        case_id,
        by="handlaggare-fk",
        agency="FK",
        category="insurance",
        decision_type="sjukpenning",
        effective_date=date(2026, 10, 1),
        summary="Sjukpenning beviljad på halvtid",
        source_ref="FK-2026-0001",
    )
    assert (again.id, again.created) == (decision_id, False)
    assert stored_event_count(storage, case_id) == before

    service.withdraw_consent(case_id, consent_id, by="samordnare-1", grants=[("FK", "SF", ["insurance"])])
    with pytest.raises(ConsentRequired):
        fk_decision(service, case_id, source_ref="FK-2026-0002")
    assert stored_event_count(storage, case_id) == before + 1  # the withdrawal, and no decision


def test_an_agency_records_only_its_own_category(storage: Storage) -> None:
    service = storage.service
    case_id = enrol(service)
    grant_consent(service, case_id, ("AF", "SF", ["employment"]))
    with pytest.raises(NotPermitted):
        service.record_decision(
            case_id,
            by="handlaggare-af",
            agency="AF",
            category="health",
            decision_type="remiss",
            effective_date=date(2026, 10, 1),
            summary="x",
            source_ref="AF-1",
        )


def test_a_grant_on_a_category_covers_its_sub_categories(storage: Storage) -> None:
    service = storage.service
    case_id = enrol(service)
    grant_consent(service, case_id, ("FK", "SF", ["insurance"]))
    outcome = service.record_decision(
        case_id,
        by="handlaggare-fk",
        agency="FK",
        category="insurance.sickness",
        decision_type="sjukpenning",
        effective_date=date(2026, 10, 1),
        summary="Sjukpenning",
        source_ref="FK-9",
    )
    assert outcome.created


def test_a_withdrawal_stored_by_another_worker_stops_the_next_decision(settings: Settings, storage: Storage) -> None:
    """Two service instances on one database, as two API workers would be: the second's cached case must not
    let a decision slip in after the first stored a withdrawal."""
    first = storage.service
    case_id = enrol(first)
    consent_id = grant_consent(first, case_id, ("FK", "SF", ["insurance"]))
    with open_storage(settings) as other:
        fk_decision(other.service, case_id, "FK-A")  # warms the other worker's cache
        first.withdraw_consent(case_id, consent_id, by="samordnare-1")
        with pytest.raises(ConsentRequired):
            fk_decision(other.service, case_id, "FK-B")


def test_concurrent_decisions_on_one_case_are_all_stored_once(storage: Storage) -> None:
    service = storage.service
    case_id = enrol(service)
    grant_consent(service, case_id, ("FK", "SF", ["insurance"]))
    errors: list[BaseException] = []

    def record(worker: int) -> None:
        try:
            for n in range(5):
                fk_decision(service, case_id, source_ref=f"FK-{worker}-{n}")
        except BaseException as error:  # collected and asserted below
            errors.append(error)

    threads = [threading.Thread(target=record, args=(w,)) for w in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert errors == []
    case = service.get_case(case_id)
    assert len(case.decisions) == 20
    versions = [e.originator_version for e in service.events.get(case_id)]
    assert versions == list(range(1, len(versions) + 1))


def test_enrolling_the_same_personnummer_twice_is_refused_in_any_form(storage: Storage) -> None:
    service = storage.service
    first = enrol(service)
    with pytest.raises(AlreadyEnrolled) as again:
        enrol(service, personnummer="811218-9876")
    assert again.value.existing_id == first
    assert service.find_by_personnummer("198112189876") == first
    assert service.find_by_personnummer("19811218-9868") is None


def test_bad_personnummer_is_a_validation_error_without_the_number(storage: Storage) -> None:
    with pytest.raises(InvalidCommand) as bad:
        enrol(storage.service, personnummer="19811218-9875")
    assert bad.value.field == "personnummer"
    assert "9875" not in str(bad.value)


def test_correction_replaces_and_retraction_withdraws_a_decision(storage: Storage) -> None:
    service = storage.service
    case_id = enrol(service)
    grant_consent(service, case_id, ("FK", "SF", ["insurance"]), ("FK", "AF", ["insurance"]))
    original = fk_decision(service, case_id)
    correction = service.record_decision(
        case_id,
        by="handlaggare-fk",
        agency="FK",
        category="insurance",
        decision_type="sjukpenning",
        effective_date=date(2026, 10, 15),
        summary="Sjukpenning beviljad på heltid",
        source_ref="FK-2026-0001-R1",
        corrects=original,
    ).id
    case = service.get_case(case_id)
    assert case.decisions[original].status == "corrected"
    assert case.decisions[original].corrected_by == correction
    assert case.decisions[correction].corrects == original
    assert service.read(case, case.decisions[correction].summary) == "Sjukpenning beviljad på heltid"

    with pytest.raises(NotPermitted):
        service.retract_decision(case_id, correction, by="handlaggare-af", agency="AF", reason="fel")
    with pytest.raises(Conflict):
        service.retract_decision(case_id, original, by="handlaggare-fk", agency="FK", reason="fel person")
    service.retract_decision(case_id, correction, by="handlaggare-fk", agency="FK", reason="Felregistrerad")
    assert service.get_case(case_id).decisions[correction].status == "retracted"


def test_the_whole_case_story_is_stored_and_reloaded(storage: Storage, settings: Settings) -> None:
    service = storage.service
    case_id = enrol(service)
    service.record_referral(
        case_id,
        by="s",
        remittent="AF",
        reason="Behöver stöd från flera",
        received_date=date(2026, 9, 1),
        needs=["AF", "REGION"],
    )
    plan_version = service.revise_plan(
        case_id, by="s", goals=["Arbete på deltid"], steps=[("AF", "Praktik", date(2026, 12, 1))]
    )
    intervention = service.start_intervention(
        case_id, by="s", kind="arbetstraning", start_date=date(2026, 9, 15), provider_agency="KOMMUN"
    )
    service.end_intervention(case_id, intervention, by="s", end_date=date(2026, 11, 15), reason="Klar")
    service.record_meeting(case_id, by="s", day=date(2026, 10, 1), agencies_present=["AF", "FK"], attended=False)
    service.close_case(case_id, by="s", outcome="work", closed_date=date(2026, 11, 20))

    with open_storage(settings) as fresh:  # a new process: nothing cached
        case = fresh.service.get_case(case_id)
        assert case.referral is not None and case.referral.needs == (Party.AF, Party.REGION)
        assert plan_version == 1 and len(case.plans) == 1
        assert fresh.service.read(case, case.plans[0].steps[0].description) == "Praktik"
        assert case.interventions[intervention].end_date == date(2026, 11, 15)
        assert [m.attended for m in case.meetings] == [False]
        assert case.closure is not None and case.closure.outcome == "work"
        assert fresh.service.identity(case)["family_name"] == ANNA["family_name"]
    with pytest.raises(Conflict):
        fk_decision(service, case_id)  # closed: nothing more is recorded


def test_referral_must_name_two_parties(storage: Storage) -> None:
    case_id = enrol(storage.service)
    with pytest.raises(InvalidCommand) as bad:
        storage.service.record_referral(
            case_id, by="s", remittent="AF", reason="x", received_date=date(2026, 9, 1), needs=["AF"]
        )
    assert bad.value.field == "needs"
