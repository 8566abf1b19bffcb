"""Gallring's rules without storage: what the case does with an erasure (coordination/domain.py), and what a run
decides is due for a case (adapters/retention.py `assess`): each party's years after its own last entry, closed
cases only, the whole participant once every party's time is up."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta
from typing import Any
from uuid import uuid4

import pytest

from adapters.retention import ERASE, FINISH, HELD, RetentionRules, add_years, assess, last_entries
from consent import Party, expand_grants
from coordination.domain import ERASED_FIELD, Case
from coordination.errors import Conflict

START = datetime(2012, 3, 1, 9, tzinfo=UTC)
RULES = RetentionRules({Party.FK: 5, Party.AF: 5, Party.REGION: 10, Party.KOMMUN: 5, Party.SF: 5})
CATEGORY = {Party.REGION: "health", Party.KOMMUN: "social", Party.FK: "insurance", Party.SF: "coordination"}


def new_case() -> Case:
    case = Case(
        id=uuid4(),
        identity={"given_name": "v1.name"},
        birth_year=1980,
        gender="female",
        municipality=None,
        baseline={},
        by="samordnare",
        timestamp=START,
    )
    grants = expand_grants([(Party.REGION, Party.SF, ["health"]), (Party.KOMMUN, Party.SF, ["social"])])
    case.record_consent(
        uuid4(), grants, "v1.purpose", date(2012, 1, 1), date(2030, 1, 1), "written", None, "v1.doc", None, "s", START
    )
    return case


def decide(case: Case, party: Party, at: datetime) -> Any:
    decision_id, _ = case.record_decision(
        uuid4(), party, CATEGORY[party], "ovrigt", at.date(), f"p1.{party.value}.text", f"ref-{uuid4()}", {}, "h", at
    )
    return decision_id


def never_interrupted(_: Party | None) -> bool:
    return True


def test_add_years_keeps_the_day_and_turns_a_leap_day_into_the_28th() -> None:
    assert add_years(date(2019, 3, 14), 5) == date(2024, 3, 14)
    assert add_years(date(2020, 2, 29), 5) == date(2025, 2, 28)


def test_each_party_last_wrote_when_its_own_latest_entry_was_made() -> None:
    case = new_case()
    region = decide(case, Party.REGION, START + timedelta(days=1))
    decide(case, Party.KOMMUN, START + timedelta(days=2))
    case.retract_decision(region, Party.REGION, "p1.REGION.why", "h", START + timedelta(days=30))
    case.close("work", date(2012, 4, 1), "s", START + timedelta(days=40))
    last = last_entries(case, case.pending_events)
    assert last == {
        Party.SF: START + timedelta(days=40),
        Party.REGION: START + timedelta(days=30),  # its retraction is an entry of its own
        Party.KOMMUN: START + timedelta(days=2),
    }


def test_an_open_case_is_held_and_never_thinned() -> None:
    case = new_case()
    decide(case, Party.KOMMUN, START)
    items = assess(case, case.pending_events, RULES, date(2030, 1, 1), never_interrupted)
    assert {(i.party, i.action) for i in items} == {(Party.KOMMUN, HELD), (Party.SF, HELD)}


def test_a_closed_case_loses_one_party_when_only_its_time_is_up_and_the_whole_participant_when_all_are() -> None:
    case = new_case()
    decide(case, Party.KOMMUN, START)
    decide(case, Party.REGION, START)
    case.close("work", date(2012, 3, 2), "s", START + timedelta(days=1))
    events = case.pending_events
    five_years = assess(case, events, RULES, date(2017, 3, 2), never_interrupted)
    assert [(i.party, i.action, i.due) for i in five_years] == [
        (Party.KOMMUN, ERASE, date(2017, 3, 1)),
        (Party.SF, ERASE, date(2017, 3, 2)),
    ]
    assert assess(case, events, RULES, date(2017, 2, 28), never_interrupted) == []
    ten_years = assess(case, events, RULES, date(2022, 3, 1), never_interrupted)
    assert [(i.party, i.action, i.due) for i in ten_years] == [(None, ERASE, date(2022, 3, 1))]  # REGION's is last


def test_parties_already_erased_count_as_done_and_an_erasure_whose_key_remains_is_finished() -> None:
    case = new_case()
    decide(case, Party.KOMMUN, START)
    decide(case, Party.REGION, START)
    case.close("work", date(2012, 3, 2), "s", START)
    case.erase_party_data(Party.KOMMUN, "gallring", "cli:op", START + timedelta(days=2000))
    events = case.pending_events
    interrupted = assess(case, events, RULES, date(2018, 1, 1), lambda party: party != Party.KOMMUN)
    assert [(i.party, i.action) for i in interrupted] == [(Party.KOMMUN, FINISH), (Party.SF, ERASE)]
    assert [(i.party, i.action) for i in assess(case, events, RULES, date(2023, 1, 1), never_interrupted)] == [
        (None, ERASE)
    ]


def test_a_party_erasure_drops_only_that_partys_fields_and_it_records_nothing_more() -> None:
    case = new_case()
    kommun = decide(case, Party.KOMMUN, START)
    region = decide(case, Party.REGION, START)
    case.erase_party_data(Party.KOMMUN, "gallring", "cli:op", START + timedelta(days=1))
    assert case.decisions[kommun].summary == ERASED_FIELD and case.is_party_erased(Party.KOMMUN)
    assert case.decisions[region].summary == "p1.REGION.text" and not case.is_party_erased(Party.REGION)
    assert case.identity == {"given_name": "v1.name"}  # the identity stays with the other parties' information
    erasure = case.erasure(Party.KOMMUN)
    assert erasure is not None and (erasure.reason, erasure.at) == ("gallring", START + timedelta(days=1))
    with pytest.raises(Conflict):
        decide(case, Party.KOMMUN, START + timedelta(days=2))
    with pytest.raises(Conflict):
        case.retract_decision(kommun, Party.KOMMUN, "p1.KOMMUN.why", "h", START + timedelta(days=2))
    with pytest.raises(Conflict):
        case.erase_party_data(Party.KOMMUN, "gallring", "cli:op", START + timedelta(days=2))
    decide(case, Party.REGION, START + timedelta(days=2))  # the other parties go on


def test_the_forbunds_erasure_drops_its_coordination_notes_and_keeps_identity_and_consents() -> None:
    case = new_case()
    case.receive_referral(Party.FK, "p1.SF.reason", date(2012, 3, 1), (Party.FK, Party.KOMMUN), "s", START)
    meeting = uuid4()
    case.record_meeting(meeting, date(2012, 3, 2), (Party.FK,), True, "p1.SF.notes", "s", START)
    case.erase_party_data(Party.SF, "gallring", "cli:op", START + timedelta(days=1))
    assert case.referral is not None and case.referral.reason == ERASED_FIELD
    assert case.meeting(meeting).notes is None
    assert next(iter(case.consents.values())).purpose == "v1.purpose"


def test_a_whole_erasure_keeps_its_reason() -> None:
    case = new_case()
    case.erase_personal_data("admin", START, "participant-request")
    erasure = case.erasure()
    assert erasure is not None and (erasure.party, erasure.reason) == (None, "participant-request")
    assert case.is_party_erased(Party.FK)  # every party's information goes with the participant's
    with pytest.raises(Conflict):
        case.erase_party_data(Party.FK, "gallring", "cli:op", START)
