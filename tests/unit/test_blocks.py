"""Blocks (spärr): property tests of the gate with blocks (consent/gate.py), against an oracle written here from
DOMAIN.md ("Consent and secrecy") and docs/architecture.md ("Blocks"), and the case's rules for placing and
lifting them (coordination/domain.py).

A block by party P on category C (None: all of P's information) towards R (None: every other party), in force
from its placing until its lifting, refuses every item P recorded in C (or a sub-category of C) to R, whatever
the consents say; a party's own items are never blocked.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from uuid import UUID, uuid4

import pytest
from hypothesis import given
from hypothesis import strategies as st

from consent.gate import BLOCKED, Allowed, Refused, may_see, visible
from consent.model import Block
from consent.parties import Party
from coordination.domain import Case
from coordination.errors import Conflict, InvalidCommand, NotFound, NotPermitted
from tests.unit.test_gate_properties import (
    CORE,
    MICROSECOND,
    NUDGE,
    OWNED_CATEGORIES,
    PARTIES,
    SHOWN_IN,
    Event,
    Scenario,
    category_covered,
    draw_instant,
    numbers,
    oracle_sees,
    scenarios,
    utc,
)

# --- the oracle --------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class BlockSpec:
    discloser: Party
    category: str | None
    recipient: Party | None
    placed_at: datetime
    lifted_at: datetime | None

    def build(self, block_id: UUID) -> Block:
        return Block(block_id, self.discloser, self.category, self.recipient, self.placed_at, self.lifted_at)


def in_force(spec: BlockSpec, at: datetime) -> bool:
    return utc(spec.placed_at) <= utc(at) and (spec.lifted_at is None or utc(at) < utc(spec.lifted_at))


def oracle_blocked(specs: tuple[BlockSpec, ...], reader: Party, event: Event, at: datetime) -> bool:
    return event.agency != reader and any(
        spec.discloser == event.agency
        and (spec.recipient is None or spec.recipient == reader)
        and (spec.category is None or category_covered(spec.category, event.category))
        and in_force(spec, at)
        for spec in specs
    )


def built(specs: tuple[BlockSpec, ...]) -> list[Block]:
    return [spec.build(uuid4()) for spec in specs]


# --- strategies --------------------------------------------------------------------------------------------

BLOCK_COUNT = st.integers(0, 4)
LIFT_MINUTES = st.none() | st.integers(0, 3 * 24 * 60)


@st.composite
def blocked_scenarios(draw: st.DrawFn) -> tuple[Scenario, tuple[BlockSpec, ...], Party]:
    """A consent scenario, a reader, and blocks: mostly aimed at the scenario's events and placed or lifted
    around the reading instant."""
    s = draw(scenarios())
    reader = draw(st.sampled_from(PARTIES))
    specs = []
    for _ in range(draw(BLOCK_COUNT)):
        if draw(st.booleans()):
            event = s.events[draw(st.integers(0, len(s.events) - 1))]
            discloser = event.agency
        else:
            discloser = draw(st.sampled_from(PARTIES))
        category = draw(st.none() | st.sampled_from(OWNED_CATEGORIES[discloser]))
        recipient = draw(st.none() | st.just(reader) | st.sampled_from([p for p in PARTIES if p != discloser]))
        placed = (
            (utc(s.at) + draw(NUDGE)).astimezone(draw(SHOWN_IN))
            if draw(st.booleans())
            else draw_instant(draw, s.origin)
        )
        lift = draw(LIFT_MINUTES)
        lifted = None
        if lift is not None:
            lifted = (utc(placed) + timedelta(minutes=lift)).astimezone(draw(SHOWN_IN))
            if draw(st.booleans()):  # lifted right around the reading instant
                lifted = max(utc(placed), utc(s.at) + draw(NUDGE)).astimezone(draw(SHOWN_IN))
        specs.append(BlockSpec(discloser, category, recipient, placed, lifted))
    return s, tuple(specs), reader


# --- properties --------------------------------------------------------------------------------------------


@CORE
@given(blocked_scenarios())
def test_visible_shows_exactly_what_the_consents_allow_minus_what_a_block_in_force_covers(
    case: tuple[Scenario, tuple[BlockSpec, ...], Party],
) -> None:
    s, specs, reader = case
    shown = visible(s.consents, reader, s.events, s.at, built(specs))
    expected = [
        e.number
        for e in s.events
        if oracle_sees(s.specs, reader, e, s.at) and not oracle_blocked(specs, reader, e, s.at)
    ]
    assert numbers(shown) == expected


@CORE
@given(blocked_scenarios())
def test_an_item_covered_by_a_block_in_force_is_never_visible_whatever_the_consents(
    case: tuple[Scenario, tuple[BlockSpec, ...], Party],
) -> None:
    s, specs, reader = case
    blocks = built(specs)
    for event in s.events:
        verdict = may_see(s.consents, reader, event, s.at, blocks)
        if oracle_blocked(specs, reader, event, s.at) and utc(event.recorded_at) <= utc(s.at):
            assert isinstance(verdict, Refused)
            assert verdict.reason == BLOCKED
        if event.agency == reader and utc(event.recorded_at) <= utc(s.at):
            assert verdict == Allowed(None)  # a party's own items are never blocked


@CORE
@given(blocked_scenarios())
def test_lifting_every_block_restores_exactly_what_the_consents_allow(
    case: tuple[Scenario, tuple[BlockSpec, ...], Party],
) -> None:
    s, specs, reader = case
    lifted = [
        Block(uuid4(), b.discloser, b.category, b.recipient, b.placed_at, min(utc(b.placed_at), utc(s.at)))
        for b in specs
    ]
    with_lifted = visible(s.consents, reader, s.events, s.at, lifted)
    assert with_lifted == visible(s.consents, reader, s.events, s.at)
    # The same consent is cited as without blocks.
    assert [(e.number, ref) for e, ref in visible(s.consents, reader, s.events, s.at, built(specs))] == [
        (e.number, ref)
        for e, ref in visible(s.consents, reader, s.events, s.at)
        if not oracle_blocked(specs, reader, e, s.at)
    ]


@CORE
@given(blocked_scenarios())
def test_a_block_bears_only_on_its_own_disclosers_items(case: tuple[Scenario, tuple[BlockSpec, ...], Party]) -> None:
    s, specs, reader = case
    blocks = built(specs)
    for event in s.events:
        others = [b for b in blocks if b.discloser != event.agency]
        assert may_see(s.consents, reader, event, s.at, others) == may_see(s.consents, reader, event, s.at)


def test_a_block_is_in_force_from_its_placing_until_its_lifting() -> None:
    t = datetime(2024, 3, 31, 1, 30, tzinfo=UTC)
    block = Block(uuid4(), Party.FK, "insurance", Party.AF, t, t + timedelta(hours=1))
    assert not block.blocks(Party.FK, Party.AF, "insurance.sickness", t - MICROSECOND)
    assert block.blocks(Party.FK, Party.AF, "insurance.sickness", t)
    assert block.blocks(Party.FK, Party.AF, "insurance", t + timedelta(minutes=59))
    assert not block.blocks(Party.FK, Party.AF, "insurance", t + timedelta(hours=1))
    assert not block.blocks(Party.FK, Party.AF, "insurances", t)  # a look-alike is not covered
    assert not block.blocks(Party.FK, Party.SF, "insurance", t)
    assert not block.blocks(Party.REGION, Party.AF, "insurance", t)
    everything = Block(uuid4(), Party.FK, None, None, t)
    assert everything.blocks(Party.FK, Party.SF, "insurance.activity", t + timedelta(days=400))
    assert not everything.blocks(Party.FK, Party.FK, "insurance", t)


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
        timestamp=NOW,
    )


def test_a_party_places_and_lifts_blocks_of_its_own_information_only() -> None:
    case = new_case()
    block_id = uuid4()
    case.place_block(block_id, Party.FK, "insurance.sickness", Party.AF, "fk-1", NOW)
    assert case.blocks[block_id] == Block(block_id, Party.FK, "insurance.sickness", Party.AF, NOW)
    with pytest.raises(NotPermitted):
        case.place_block(uuid4(), Party.REGION, "insurance", None, "region-1", NOW)
    with pytest.raises(NotPermitted):
        case.place_block(uuid4(), Party.SF, "health", None, "sf-1", NOW)
    case.place_block(uuid4(), Party.SF, "coordination", Party.AF, "sf-1", NOW)  # SF blocks its own record
    with pytest.raises(InvalidCommand):
        case.place_block(uuid4(), Party.FK, None, Party.FK, "fk-1", NOW)
    with pytest.raises(Conflict):
        case.place_block(block_id, Party.FK, None, None, "fk-1", NOW)

    with pytest.raises(NotPermitted):
        case.lift_block(block_id, Party.AF, "af-1", NOW)
    with pytest.raises(NotFound):
        case.lift_block(uuid4(), Party.FK, "fk-1", NOW)
    later = NOW + timedelta(hours=1)
    case.lift_block(block_id, Party.FK, "fk-1", later)
    assert case.blocks[block_id].lifted_at == later
    with pytest.raises(Conflict):
        case.lift_block(block_id, Party.FK, "fk-1", later)


def test_blocks_are_allowed_on_a_closed_case_and_refused_once_erased() -> None:
    case = new_case()
    case.close("work", NOW.date(), "samordnare", NOW)
    block_id = uuid4()
    case.place_block(block_id, Party.FK, None, None, "fk-1", NOW)
    case.lift_block(block_id, Party.FK, "fk-1", NOW)
    case.erase_personal_data("admin", NOW)
    with pytest.raises(Conflict):
        case.place_block(uuid4(), Party.FK, None, None, "fk-1", NOW)
    with pytest.raises(Conflict):
        case.lift_block(block_id, Party.FK, "fk-1", NOW)


def test_a_copied_case_keeps_its_blocks_apart() -> None:
    import copy

    case = new_case()
    case.place_block(uuid4(), Party.FK, None, None, "fk-1", NOW)
    clone = copy.deepcopy(case)
    clone.place_block(uuid4(), Party.AF, None, None, "af-1", NOW)
    assert len(case.blocks) == 1 and len(clone.blocks) == 2
