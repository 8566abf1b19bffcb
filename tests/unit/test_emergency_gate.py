"""Emergency access (nödåtkomst): property tests of the gate with emergency accesses (consent/gate.py), against an
oracle written here from DOMAIN.md ("Consent and secrecy") and docs/emergency.md, and the case's rules for opening
one (coordination/domain.py).

An emergency access opened by reader R from `opened` until `until` lets R see, while the window is open, every
other party's item that no consent covers, except what a block in force covers; what a consent covers is still
cited under that consent; it never bears on another reader, nor outside its window.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from uuid import UUID, uuid4

import pytest
from hypothesis import given
from hypothesis import strategies as st

from consent.gate import BLOCKED, Allowed, Refused, may_see, visible
from consent.model import EmergencyAccess
from consent.parties import Party
from coordination.domain import Case
from coordination.errors import Conflict, NotPermitted
from tests.unit.test_blocks import BlockSpec, blocked_scenarios, built, oracle_blocked
from tests.unit.test_gate_properties import CORE, MICROSECOND, NUDGE, PARTIES, SHOWN_IN, Scenario, oracle_sees, utc


@dataclass(frozen=True)
class AccessSpec:
    reader: Party
    opened_at: datetime
    until: datetime

    def build(self, access_id: UUID) -> EmergencyAccess:
        return EmergencyAccess(access_id, self.reader, "user-1", "akut-skyddsbehov", self.opened_at, self.until)


def window_open(spec: AccessSpec, reader: Party, at: datetime) -> bool:
    return spec.reader == reader and utc(spec.opened_at) <= utc(at) < utc(spec.until)


@st.composite
def emergency_scenarios(
    draw: st.DrawFn,
) -> tuple[Scenario, tuple[BlockSpec, ...], Party, tuple[AccessSpec, ...]]:
    """A blocked scenario and emergency accesses by the reader or others, opened and ending around the reading
    instant."""
    s, blocks, reader = draw(blocked_scenarios())
    accesses = []
    for _ in range(draw(st.integers(0, 3))):
        opener = reader if draw(st.booleans()) else draw(st.sampled_from(PARTIES))
        opened = (utc(s.at) + draw(NUDGE) - timedelta(minutes=draw(st.integers(0, 90)))).astimezone(draw(SHOWN_IN))
        until = (utc(opened) + timedelta(minutes=draw(st.integers(1, 120)))).astimezone(draw(SHOWN_IN))
        if draw(st.booleans()):  # ends right around the reading instant
            until = max(utc(opened) + MICROSECOND, utc(s.at) + draw(NUDGE)).astimezone(draw(SHOWN_IN))
        accesses.append(AccessSpec(opener, opened, until))
    return s, blocks, reader, tuple(accesses)


Case_ = tuple[Scenario, tuple[BlockSpec, ...], Party, tuple[AccessSpec, ...]]


@CORE
@given(emergency_scenarios())
def test_an_open_window_adds_exactly_the_unblocked_items_no_consent_covers(case: Case_) -> None:
    s, blocks, reader, accesses = case
    opened = any(window_open(a, reader, s.at) for a in accesses)
    shown = visible(s.consents, reader, s.events, s.at, built(blocks), [a.build(uuid4()) for a in accesses])
    expected = [
        e.number
        for e in s.events
        if utc(e.recorded_at) <= utc(s.at)
        and not oracle_blocked(blocks, reader, e, s.at)
        and (oracle_sees(s.specs, reader, e, s.at) or opened)
    ]
    assert [e.number for e, _ in shown] == expected


@CORE
@given(emergency_scenarios())
def test_a_block_beats_an_emergency_access_and_a_consent_is_cited_before_it(case: Case_) -> None:
    s, blocks, reader, accesses = case
    built_blocks = built(blocks)
    opened = [a.build(uuid4()) for a in accesses]
    for event in s.events:
        verdict = may_see(s.consents, reader, event, s.at, built_blocks, opened)
        without = may_see(s.consents, reader, event, s.at, built_blocks)
        if isinstance(without, Allowed):
            assert verdict == without  # own items and consented items never count as emergency access
        elif isinstance(without, Refused) and without.reason == BLOCKED:
            assert verdict == without
        elif isinstance(verdict, Allowed):
            assert verdict.consent is None
            assert verdict.emergency in {o.id for o in opened if o.opens(reader, s.at)}
            assert utc(event.recorded_at) <= utc(s.at)


@CORE
@given(emergency_scenarios())
def test_another_readers_access_or_a_closed_window_changes_nothing(case: Case_) -> None:
    s, blocks, reader, accesses = case
    idle = [a.build(uuid4()) for a in accesses if not window_open(a, reader, s.at)]
    for event in s.events:
        assert may_see(s.consents, reader, event, s.at, built(blocks), idle) == may_see(
            s.consents, reader, event, s.at, built(blocks)
        )


def test_the_window_runs_from_its_opening_up_to_but_not_including_its_end() -> None:
    t = datetime(2024, 10, 27, 0, 30, tzinfo=UTC)  # across the Swedish autumn fold
    access = EmergencyAccess(uuid4(), Party.REGION, "u", "akut-skyddsbehov", t, t + timedelta(minutes=60))
    assert not access.opens(Party.REGION, t - MICROSECOND)
    assert access.opens(Party.REGION, t)
    assert access.opens(Party.REGION, t + timedelta(minutes=60) - MICROSECOND)
    assert not access.opens(Party.REGION, t + timedelta(minutes=60))
    assert not access.opens(Party.AF, t)


# --- the case's rules ----------------------------------------------------------------------------------------

NOW = datetime(2024, 5, 2, 9, 0, tzinfo=UTC)


def new_case() -> Case:
    return Case(
        id=uuid4(),
        identity={},
        birth_year=1990,
        gender="female",
        municipality=None,
        baseline={},
        by="samordnare",
        timestamp=NOW - timedelta(days=1),
    )


def test_the_case_keeps_each_users_access_apart() -> None:
    case = new_case()
    access_id = uuid4()
    case.open_emergency_access(access_id, Party.REGION, "u1", "akut-skyddsbehov", "v1.x", NOW + timedelta(hours=1), NOW)
    assert [a.id for a in case.emergency_for(Party.REGION, "u1", NOW)] == [access_id]
    assert case.emergency_for(Party.REGION, "u2", NOW) == []
    assert case.emergency_for(Party.AF, "u1", NOW) == []
    assert case.emergency_for(Party.REGION, "u1", NOW + timedelta(hours=1)) == []
    with pytest.raises(Conflict):
        case.open_emergency_access(access_id, Party.REGION, "u1", "akut-skyddsbehov", "v1.x", NOW, NOW)


def test_the_forbund_has_no_emergency_access_and_an_erased_case_takes_none() -> None:
    case = new_case()
    with pytest.raises(NotPermitted):
        case.open_emergency_access(uuid4(), Party.SF, "s", "akut-skyddsbehov", "v1.x", NOW + timedelta(hours=1), NOW)
    case.erase_personal_data("admin", NOW)
    with pytest.raises(Conflict):
        case.open_emergency_access(
            uuid4(), Party.REGION, "u", "akut-skyddsbehov", "v1.x", NOW + timedelta(hours=1), NOW
        )
