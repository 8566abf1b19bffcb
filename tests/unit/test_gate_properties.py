"""Property tests that hold the gate (consent/gate.py) to its rules over random consent histories.

Every property compares the gate with an oracle written here from the rules in ARCHITECTURE.md ("The gate")
and DOMAIN.md ("Consent and secrecy"); the oracle never calls the gate or the consent model's predicates (only
`is_own_category`, by which the recording rule is defined). It compares instants in UTC and takes the Swedish
date with `astimezone(Europe/Stockholm)`.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from datetime import UTC, date, datetime, time, timedelta, timezone, tzinfo
from uuid import UUID
from zoneinfo import ZoneInfo

from hypothesis import example, given, settings
from hypothesis import strategies as st

from consent.gate import (
    NO_ACTIVE_GRANT,
    NOT_OWN_CATEGORY,
    Allowed,
    ConsentRef,
    Refused,
    may_record,
    may_see,
    visible,
)
from consent.model import Consent, ConsentStatus, Grant, GrantState
from consent.parties import Party, is_own_category

STOCKHOLM = ZoneInfo("Europe/Stockholm")
PARTIES = (Party.FK, Party.AF, Party.REGION, Party.KOMMUN, Party.SF)
AGENCIES = (Party.FK, Party.AF, Party.REGION, Party.KOMMUN)

# The categories each party owns, written out here rather than read from consent.parties.
OWN_CATEGORY = {
    Party.FK: "insurance",
    Party.AF: "employment",
    Party.REGION: "health",
    Party.KOMMUN: "social",
    Party.SF: "coordination",
}
OWNED_CATEGORIES: dict[Party, tuple[str, ...]] = {
    Party.FK: ("insurance", "insurance.sickness", "insurance.activity", "insurance.sickness.partial"),
    Party.AF: ("employment", "employment.placement", "employment.training"),
    Party.REGION: ("health", "health.psychiatry", "health.rehabilitation"),
    Party.KOMMUN: ("social", "social.support", "social.housing"),
    Party.SF: ("coordination", "coordination.plan"),
}
ALL_CATEGORIES = tuple(c for owned in OWNED_CATEGORIES.values() for c in owned)
# Look-alikes that no grant may cover: a grant on `insurance` covers `insurance.x`, never `insurances`.
LOOKALIKE_CATEGORIES = ("insurances", "insurance_old", "healthcare", "social.", "employment..x")

# Reading instants and stored instants come in many offsets; the rules speak of instants, not of wall clocks.
# (Instants shown in Europe/Stockholm are covered separately below: see the autumn-fold tests.)
OFFSETS: tuple[tzinfo, ...] = (
    UTC,
    timezone(timedelta(hours=1)),
    timezone(timedelta(hours=2)),
    timezone(timedelta(hours=-5)),
    timezone(timedelta(hours=5, minutes=30)),
    timezone(timedelta(hours=14)),
    timezone(timedelta(hours=-12)),
    ZoneInfo("America/New_York"),
    ZoneInfo("Asia/Tokyo"),
)
# Days around which a history is drawn: ordinary, leap day, both DST switches in Sweden, new year.
BASE_DAYS = (
    date(2024, 1, 15),
    date(2024, 2, 29),
    date(2024, 3, 31),
    date(2024, 10, 27),
    date(2024, 12, 31),
)
WINDOW_DAYS = 4
MICROSECOND = timedelta(microseconds=1)
# Minutes after Swedish midnight that stay on the same Swedish day, even on the 23-hour day in March.
LAST_MINUTE = 22 * 60 + 59


# --- values the tests build ------------------------------------------------------------------------------


@dataclass(frozen=True)
class Event:
    """A recorded decision as the gate sees it."""

    number: int
    agency: Party
    category: str
    recorded_at: datetime


@dataclass(frozen=True)
class Withdrawal:
    """A withdrawal request: at `at`, the named grants (None: the whole consent)."""

    at: datetime
    grants: frozenset[Grant] | None


@dataclass(frozen=True)
class ConsentSpec:
    """What the participant agreed and withdrew: the oracle reads this, the gate reads the built Consent."""

    id: UUID
    grants: tuple[Grant, ...]
    valid_from: date
    valid_until: date
    recorded_at: datetime
    withdrawals: tuple[Withdrawal, ...]

    def build(self) -> Consent:
        consent = Consent(
            id=self.id,
            version=1,
            grants=tuple(GrantState(g) for g in self.grants),
            purpose="Samordnad rehabilitering",
            valid_from=self.valid_from,
            valid_until=self.valid_until,
            form="written",
            recorded_at=self.recorded_at,
            document_ref="doc-1",
        )
        for withdrawal in self.withdrawals:
            consent = consent.withdraw(withdrawal.grants, withdrawal.at)
        return consent


@dataclass(frozen=True)
class Scenario:
    origin: datetime
    specs: tuple[ConsentSpec, ...]
    events: tuple[Event, ...]
    at: datetime

    @property
    def consents(self) -> list[Consent]:
        return [spec.build() for spec in self.specs]


# --- the oracle --------------------------------------------------------------------------------------------


def utc(at: datetime) -> datetime:
    return at.astimezone(UTC)


def swedish_date(at: datetime) -> date:
    return at.astimezone(STOCKHOLM).date()


def category_covered(granted: str, category: str) -> bool:
    """Equal, or `category` is a dotted sub-category of `granted` (compared part by part)."""
    granted_parts = granted.split(".")
    return category.split(".")[: len(granted_parts)] == granted_parts


def withdrawn_by(spec: ConsentSpec, grant: Grant, at: datetime) -> bool:
    return any(utc(w.at) <= utc(at) and (w.grants is None or grant in w.grants) for w in spec.withdrawals)


def grant_active(spec: ConsentSpec, grant: Grant, at: datetime) -> bool:
    return (
        utc(spec.recorded_at) <= utc(at)
        and spec.valid_from <= swedish_date(at) <= spec.valid_until
        and not withdrawn_by(spec, grant, at)
    )


def allowing_specs(
    specs: tuple[ConsentSpec, ...], discloser: Party, recipient: Party, category: str, at: datetime
) -> list[ConsentSpec]:
    """The consents with a grant discloser -> recipient covering `category` that is active at `at`."""
    return [
        spec
        for spec in specs
        if any(
            g.discloser == discloser
            and g.recipient == recipient
            and category_covered(g.category, category)
            and grant_active(spec, g, at)
            for g in spec.grants
        )
    ]


def oracle_sees(specs: tuple[ConsentSpec, ...], reader: Party, event: Event, at: datetime) -> bool:
    if utc(event.recorded_at) > utc(at):
        return False
    if event.agency == reader:
        return True
    return bool(allowing_specs(specs, event.agency, reader, event.category, at))


def oracle_version(spec: ConsentSpec, at: datetime) -> int:
    return 1 + sum(1 for w in spec.withdrawals if utc(w.at) <= utc(at))


def numbers(shown: list[tuple[Event, ConsentRef | None]]) -> list[int]:
    return [event.number for event, _ in shown]


# --- strategies --------------------------------------------------------------------------------------------
# Strategies are built once here; the composites below only draw from them (building strategies per draw is slow).

MINUTES = st.integers(-WINDOW_DAYS * 24 * 60, WINDOW_DAYS * 24 * 60)
# Consents and events are mostly recorded before the reads (which are drawn from MINUTES).
EARLIER_MINUTES = st.integers(-2 * WINDOW_DAYS * 24 * 60, WINDOW_DAYS * 24 * 60)
# Withdrawals come after the consent was recorded.
LATER_MINUTES = st.integers(0, 2 * WINDOW_DAYS * 24 * 60)
SHOWN_IN = st.sampled_from(OFFSETS)
ALL_GRANTS = tuple(
    Grant(discloser, recipient, category)
    for discloser in PARTIES
    for recipient in PARTIES
    for category in OWNED_CATEGORIES[discloser]
)
GRANT_LISTS = st.lists(st.sampled_from(ALL_GRANTS), min_size=1, max_size=4, unique=True)
AIMED_COUNT = st.integers(0, 3)
RECIPIENT = st.sampled_from(PARTIES)
PERIOD_START = st.integers(-WINDOW_DAYS, WINDOW_DAYS)
# Mostly a period of some days; sometimes one day; rarely an empty (inverted) period.
PERIOD_LENGTH = st.integers(-1, 2 * WINDOW_DAYS)
WITHDRAWAL_COUNT = st.integers(0, 3)
# A whole withdrawal (None) or the positions of the grants it names.
WITHDRAWN_POSITIONS = st.none() | st.lists(st.integers(0, 4), min_size=1, max_size=3)
EVENT_COUNT = st.integers(1, 10)
# (agency, category) of an event: mostly the agency's own categories, sometimes another's or a look-alike.
EVENT_KINDS = st.sampled_from(
    tuple(
        (agency, category)
        for agency in PARTIES
        for category in (*OWNED_CATEGORIES[agency] * 3, *ALL_CATEGORIES[::4], *LOOKALIKE_CATEGORIES)
    )
)
READ_CHOICE = st.sampled_from(("consent", "consent", "withdrawal", "event", "any", "any"))
NUDGE = st.sampled_from((-MICROSECOND, timedelta(0), MICROSECOND))
ORIGINS = st.sampled_from(
    # Swedish midnight of each base day, as a UTC instant.
    tuple(datetime.combine(day, time(0), tzinfo=STOCKHOLM).astimezone(UTC) for day in BASE_DAYS)
)
CONSENT_IDS = st.lists(st.uuids(), min_size=1, max_size=4, unique=True)


def draw_instant(draw: st.DrawFn, origin: datetime, minutes: st.SearchStrategy[int] = MINUTES) -> datetime:
    """An instant within a few days of `origin` (minute grid, so collisions happen), in a random offset."""
    return (origin + timedelta(minutes=draw(minutes))).astimezone(draw(SHOWN_IN))


def aimed_grant(draw: st.DrawFn, events: tuple[Event, ...]) -> Grant:
    """A grant from an event's agency on one of its categories that is a string prefix of the event's category.

    So grants often bear on the events at hand: they cover them (`insurance` for `insurance.sickness`) or only
    look as if they did (`insurance` for `insurances`).
    """
    event = events[draw(st.integers(0, len(events) - 1))]
    prefixes = [c for c in OWNED_CATEGORIES[event.agency] if event.category.startswith(c)]
    category = prefixes[draw(st.integers(0, len(prefixes) - 1))] if prefixes else OWN_CATEGORY[event.agency]
    return Grant(event.agency, draw(RECIPIENT), category)


def draw_consent_spec(draw: st.DrawFn, origin: datetime, consent_id: UUID, events: tuple[Event, ...]) -> ConsentSpec:
    granted_list = draw(GRANT_LISTS)
    if events:
        granted_list += [aimed_grant(draw, events) for _ in range(draw(AIMED_COUNT))]
    granted = tuple(dict.fromkeys(granted_list))
    valid_from = origin.astimezone(STOCKHOLM).date() + timedelta(days=draw(PERIOD_START))
    valid_until = valid_from + timedelta(days=draw(PERIOD_LENGTH))
    recorded_at = draw_instant(draw, origin, EARLIER_MINUTES)
    withdrawals = []
    for _ in range(draw(WITHDRAWAL_COUNT)):
        at = (utc(recorded_at) + timedelta(minutes=draw(LATER_MINUTES))).astimezone(draw(SHOWN_IN))
        positions = draw(WITHDRAWN_POSITIONS)
        named = None if positions is None else frozenset(granted[p % len(granted)] for p in positions)
        withdrawals.append(Withdrawal(at, named))
    # Withdrawals are applied in the order they happen.
    withdrawals.sort(key=lambda w: utc(w.at))
    return ConsentSpec(consent_id, granted, valid_from, valid_until, recorded_at, tuple(withdrawals))


@st.composite
def consent_specs(draw: st.DrawFn, origin: datetime, consent_id: UUID, events: tuple[Event, ...]) -> ConsentSpec:
    return draw_consent_spec(draw, origin, consent_id, events)


def draw_events(draw: st.DrawFn, origin: datetime) -> tuple[Event, ...]:
    events = []
    for number in range(draw(EVENT_COUNT)):
        agency, category = draw(EVENT_KINDS)
        events.append(Event(number, agency, category, draw_instant(draw, origin, EARLIER_MINUTES)))
    return tuple(events)


def notable_instants(specs: tuple[ConsentSpec, ...]) -> list[datetime]:
    """Instants where a consent's answer may change: recording, withdrawals, Swedish midnights of its period."""
    found: list[datetime] = []
    for spec in specs:
        found.append(spec.recorded_at)
        found.extend(w.at for w in spec.withdrawals)
        found.append(datetime.combine(spec.valid_from, time(0), tzinfo=STOCKHOLM))
        found.append(datetime.combine(spec.valid_until + timedelta(days=1), time(0), tzinfo=STOCKHOLM))
    return found


def draw_reading_instant(
    draw: st.DrawFn, origin: datetime, specs: tuple[ConsentSpec, ...], events: tuple[Event, ...]
) -> datetime:
    """Mostly an instant where the answer may change (or a microsecond either side of it), else any instant."""
    choice = draw(READ_CHOICE)
    if choice == "consent":
        notable = notable_instants(specs)
    elif choice == "withdrawal":
        notable = [w.at for spec in specs for w in spec.withdrawals]
    else:
        notable = [e.recorded_at for e in events]
    if notable and choice != "any":
        index = draw(st.integers(0, len(notable) - 1))
        return (utc(notable[index]) + draw(NUDGE)).astimezone(draw(SHOWN_IN))
    return draw_instant(draw, origin)


@st.composite
def scenarios(draw: st.DrawFn) -> Scenario:
    origin = draw(ORIGINS)
    events = draw_events(draw, origin)
    specs = tuple(draw_consent_spec(draw, origin, consent_id, events) for consent_id in draw(CONSENT_IDS))
    return Scenario(origin, specs, events, draw_reading_instant(draw, origin, specs, events))


CORE = settings(max_examples=200, deadline=None)
SMALL = settings(max_examples=100, deadline=None)


# --- rule 1: own events ------------------------------------------------------------------------------------


@CORE
@given(scenarios())
def test_an_agency_always_sees_its_own_recorded_events_without_citing_a_consent(s: Scenario) -> None:
    consents = s.consents
    for reader in PARTIES:
        shown = {event.number: ref for event, ref in visible(consents, reader, s.events, s.at)}
        for event in s.events:
            if event.agency == reader and utc(event.recorded_at) <= utc(s.at):
                assert event.number in shown, (reader, event)
                assert shown[event.number] is None


# --- rule 2 (and 5): exactly what active covering grants allow ---------------------------------------------


@CORE
@given(scenarios())
def test_visible_shows_exactly_the_events_the_active_grants_allow(s: Scenario) -> None:
    consents = s.consents
    for reader in PARTIES:
        expected = [e.number for e in s.events if oracle_sees(s.specs, reader, e, s.at)]
        assert numbers(visible(consents, reader, s.events, s.at)) == expected, reader


@CORE
@given(scenarios())
def test_may_see_agrees_with_visible_and_refusals_name_the_missing_grant(s: Scenario) -> None:
    consents = s.consents
    for reader in PARTIES:
        shown = set(numbers(visible(consents, reader, s.events, s.at)))
        for event in s.events:
            verdict = may_see(consents, reader, event, s.at)
            assert isinstance(verdict, Allowed) == (event.number in shown)
            if isinstance(verdict, Refused):
                assert verdict.missing == Grant(event.agency, reader, event.category)


# --- rule 3: the cited consent -----------------------------------------------------------------------------


@CORE
@given(scenarios())
def test_each_disclosure_cites_a_consent_with_an_active_covering_grant_at_its_version_then(
    s: Scenario,
) -> None:
    consents = s.consents
    by_id = {spec.id: spec for spec in s.specs}
    built = {consent.id: consent for consent in consents}
    for reader in PARTIES:
        for event, ref in visible(consents, reader, s.events, s.at):
            if event.agency == reader:
                assert ref is None
                continue
            assert ref is not None, (reader, event)
            spec = by_id[ref.consent_id]
            assert spec in allowing_specs(s.specs, event.agency, reader, event.category, s.at)
            assert ref.version == oracle_version(spec, s.at)
            assert ref.version == built[ref.consent_id].version_at(s.at)
            assert built[ref.consent_id].status(s.at) == ConsentStatus.ACTIVE


# --- rule 4: the förbund -----------------------------------------------------------------------------------


@CORE
@given(scenarios())
def test_the_forbund_reads_exactly_what_grants_to_sf_allow(s: Scenario) -> None:
    shown = numbers(visible(s.consents, Party.SF, s.events, s.at))
    expected = []
    for event in s.events:
        if utc(event.recorded_at) > utc(s.at):
            continue
        if event.agency == Party.SF or allowing_specs(s.specs, event.agency, Party.SF, event.category, s.at):
            expected.append(event.number)
    assert shown == expected


# --- rule 5: periods, recording and withdrawal, at their boundaries ----------------------------------------


@st.composite
def single_grant_cases(draw: st.DrawFn) -> tuple[Grant, str, date, date]:
    """A grant between two different parties, an event category it covers, and a period."""
    discloser = draw(st.sampled_from(PARTIES))
    recipient = draw(st.sampled_from([p for p in PARTIES if p != discloser]))
    granted = draw(st.sampled_from(OWNED_CATEGORIES[discloser]))
    category = draw(st.sampled_from([c for c in OWNED_CATEGORIES[discloser] if category_covered(granted, c)]))
    valid_from = draw(st.sampled_from(BASE_DAYS)) + timedelta(days=draw(st.integers(-2, 2)))
    valid_until = valid_from + timedelta(days=draw(st.integers(0, 3)))
    return Grant(discloser, recipient, granted), category, valid_from, valid_until


def one_consent(
    grant: Grant, valid_from: date, valid_until: date, recorded_at: datetime, others: tuple[Grant, ...] = ()
) -> ConsentSpec:
    return ConsentSpec(
        id=UUID(int=1),
        grants=(grant, *others),
        valid_from=valid_from,
        valid_until=valid_until,
        recorded_at=recorded_at,
        withdrawals=(),
    )


def sees(spec: ConsentSpec, grant: Grant, category: str, at: datetime) -> bool:
    event = Event(0, grant.discloser, category, datetime(2000, 1, 1, tzinfo=UTC))
    return bool(visible([spec.build()], grant.recipient, [event], at))


@SMALL
@given(single_grant_cases(), st.sampled_from(OFFSETS))
def test_a_grant_allows_from_the_first_to_the_last_swedish_day_of_its_period(
    case: tuple[Grant, str, date, date], shown_in: tzinfo
) -> None:
    grant, category, valid_from, valid_until = case
    spec = one_consent(grant, valid_from, valid_until, datetime(2000, 1, 1, tzinfo=UTC))
    first = datetime.combine(valid_from, time(0), tzinfo=STOCKHOLM).astimezone(shown_in)
    after_last = datetime.combine(valid_until + timedelta(days=1), time(0), tzinfo=STOCKHOLM).astimezone(shown_in)
    assert not sees(spec, grant, category, first - MICROSECOND), "pending grant allowed a read"
    assert sees(spec, grant, category, first)
    assert sees(spec, grant, category, after_last - MICROSECOND)
    assert not sees(spec, grant, category, after_last), "expired grant allowed a read"
    assert spec.build().status(first - MICROSECOND) == ConsentStatus.PENDING
    assert spec.build().status(after_last) == ConsentStatus.EXPIRED


@SMALL
@given(single_grant_cases(), st.integers(0, LAST_MINUTE), st.sampled_from(OFFSETS))
def test_a_consent_allows_nothing_before_it_is_recorded(
    case: tuple[Grant, str, date, date], minute: int, shown_in: tzinfo
) -> None:
    grant, category, valid_from, valid_until = case
    recorded_at = (datetime.combine(valid_from, time(0), tzinfo=STOCKHOLM) + timedelta(minutes=minute)).astimezone(
        shown_in
    )
    spec = one_consent(grant, valid_from, valid_until, recorded_at)
    assert not sees(spec, grant, category, recorded_at - MICROSECOND)
    assert sees(spec, grant, category, recorded_at)


@SMALL
@given(
    single_grant_cases(),
    st.integers(1, LAST_MINUTE),
    st.booleans(),
    st.integers(0, 10**6),
    st.sampled_from(OFFSETS),
    st.sampled_from(OFFSETS),
)
def test_a_withdrawal_takes_effect_at_its_instant(
    case: tuple[Grant, str, date, date],
    minute: int,
    whole: bool,
    later_seconds: int,
    withdrawn_in: tzinfo,
    read_in: tzinfo,
) -> None:
    grant, category, valid_from, valid_until = case
    other = Grant(grant.discloser, grant.recipient, OWNED_CATEGORIES[grant.discloser][0] + ".other")
    start = datetime.combine(valid_from, time(0), tzinfo=STOCKHOLM)
    withdrawn_at = (start + timedelta(minutes=minute)).astimezone(withdrawn_in)
    spec = one_consent(grant, valid_from, valid_until, start, others=(other,))
    spec = replace(spec, withdrawals=(Withdrawal(withdrawn_at, None if whole else frozenset({grant})),))
    assert sees(spec, grant, category, (withdrawn_at - MICROSECOND).astimezone(read_in))
    assert not sees(spec, grant, category, withdrawn_at.astimezone(read_in))
    later = (withdrawn_at + timedelta(seconds=later_seconds)).astimezone(read_in)
    assert not sees(spec, grant, category, later)
    # A partial withdrawal leaves the other grant in force (while the period lasts), citing the new version.
    if swedish_date(later) <= valid_until:
        assert sees(spec, other, other.category, later) == (not whole)
    if not whole:
        other_event = Event(1, other.discloser, other.category, start)
        consent = spec.build()
        just_before = visible([consent], other.recipient, [other_event], withdrawn_at - MICROSECOND)
        at_withdrawal = visible([consent], other.recipient, [other_event], withdrawn_at.astimezone(read_in))
        assert [ref.version for _, ref in just_before if ref] == [1]
        assert [ref.version for _, ref in at_withdrawal if ref] == [2]


# --- rule 6: recording -------------------------------------------------------------------------------------


@CORE
@given(
    scenarios(),
    st.sampled_from(PARTIES),
    st.sampled_from(ALL_CATEGORIES) | st.sampled_from(LOOKALIKE_CATEGORIES),
)
def test_may_record_needs_the_agencys_own_category_and_an_active_grant_to_sf(
    s: Scenario, agency: Party, category: str
) -> None:
    verdict = may_record(s.consents, agency, category, s.at)
    needed = Grant(agency, Party.SF, category)
    if not is_own_category(agency, category):
        assert verdict == Refused(needed, NOT_OWN_CATEGORY)
        return
    if agency == Party.SF:
        assert verdict == Allowed(None)
        return
    allowing = allowing_specs(s.specs, agency, Party.SF, category, s.at)
    if not allowing:
        assert verdict == Refused(needed, NO_ACTIVE_GRANT)
        return
    assert isinstance(verdict, Allowed)
    assert verdict.consent is not None
    cited = [spec for spec in allowing if spec.id == verdict.consent.consent_id]
    assert cited, "may_record cited a consent without an active covering grant to SF"
    assert verdict.consent.version == oracle_version(cited[0], s.at)


@CORE
@given(scenarios(), st.sampled_from(AGENCIES))
def test_recording_an_agencys_own_category_is_allowed_exactly_while_a_grant_to_sf_covers_it(
    s: Scenario, agency: Party
) -> None:
    for category in OWNED_CATEGORIES[agency]:
        verdict = may_record(s.consents, agency, category, s.at)
        expected = bool(allowing_specs(s.specs, agency, Party.SF, category, s.at))
        assert isinstance(verdict, Allowed) == expected, category


def test_a_refused_recording_names_the_missing_grant_to_sf() -> None:
    refused = may_record([], Party.REGION, "health.psychiatry", datetime(2024, 5, 1, tzinfo=UTC))
    assert refused == Refused(Grant(Party.REGION, Party.SF, "health.psychiatry"), "no-active-grant")
    assert refused.describe() == "no-active-grant: grant REGION -> SF: health.psychiatry is required"
    foreign = may_record([], Party.AF, "health", datetime(2024, 5, 1, tzinfo=UTC))
    assert foreign == Refused(Grant(Party.AF, Party.SF, "health"), "not-own-category")


def test_the_forbund_may_always_record_coordination_but_nothing_else() -> None:
    at = datetime(2024, 5, 1, tzinfo=UTC)
    assert may_record([], Party.SF, "coordination", at) == Allowed(None)
    assert may_record([], Party.SF, "coordination.plan", at) == Allowed(None)
    assert may_record([], Party.SF, "insurance", at) == Refused(
        Grant(Party.SF, Party.SF, "insurance"), "not-own-category"
    )


# --- rule 7: monotonicity ----------------------------------------------------------------------------------


@CORE
@given(scenarios(), st.data())
def test_adding_a_consent_never_hides_an_event(s: Scenario, data: st.DataObject) -> None:
    taken = {spec.id for spec in s.specs}
    new_id = data.draw(st.uuids().filter(lambda u: u not in taken))
    extra = data.draw(consent_specs(s.origin, new_id, s.events))
    before, after = s.consents, [*s.consents, extra.build()]
    for reader in PARTIES:
        shown_before = set(numbers(visible(before, reader, s.events, s.at)))
        shown_after = set(numbers(visible(after, reader, s.events, s.at)))
        assert shown_before <= shown_after, reader


@CORE
@given(scenarios(), st.data())
def test_withdrawing_grants_never_reveals_an_event(s: Scenario, data: st.DataObject) -> None:
    if not s.specs:
        return
    index = data.draw(st.integers(0, len(s.specs) - 1))
    target = s.specs[index]
    named = data.draw(st.none() | st.lists(st.sampled_from(target.grants), min_size=1).map(frozenset))
    at = (s.origin + timedelta(minutes=data.draw(MINUTES))).astimezone(data.draw(SHOWN_IN))
    before = s.consents
    after = list(before)
    after[index] = before[index].withdraw(named, at)
    for reader in PARTIES:
        shown_before = set(numbers(visible(before, reader, s.events, s.at)))
        shown_after = set(numbers(visible(after, reader, s.events, s.at)))
        assert shown_after <= shown_before, reader


# --- rule 8: nothing from the future -----------------------------------------------------------------------


@CORE
@given(scenarios())
def test_events_recorded_after_the_read_are_never_visible_not_even_to_their_own_agency(
    s: Scenario,
) -> None:
    consents = s.consents
    for reader in PARTIES:
        for event, _ in visible(consents, reader, s.events, s.at):
            assert utc(event.recorded_at) <= utc(s.at)
        for event in s.events:
            if utc(event.recorded_at) > utc(s.at):
                verdict = may_see(consents, reader, event, s.at)
                assert isinstance(verdict, Refused)
                assert verdict.reason == "not-yet-recorded"


# --- instants shown in Swedish time across the autumn DST fold ---------------------------------------------
#
# On 2024-10-27 Swedish clocks go from 03:00 CEST back to 02:00 CET, so 02:00-03:00 happens twice (fold=0, then
# fold=1). Python compares two datetimes that share a tzinfo by wall clock, ignoring fold: comparing such instants
# with `<=` as they are gets the order wrong. The rules speak of instants, so the gate must not.

FOLD_START = datetime(2024, 10, 26, 23, 0, tzinfo=UTC)  # 01:00 CEST; the fold is 00:00-02:00 UTC
FOLD_MINUTES = 4 * 60


@settings(max_examples=300, deadline=None)
@given(
    withdrawn_minute=st.integers(0, FOLD_MINUTES),
    read_minute=st.integers(0, FOLD_MINUTES),
    recorded_minute=st.integers(0, FOLD_MINUTES),
)
@example(withdrawn_minute=105, read_minute=150, recorded_minute=0)  # withdrawn 02:45 CEST, read 02:30 CET
@example(withdrawn_minute=FOLD_MINUTES, read_minute=105, recorded_minute=130)  # recorded 02:10 CET, read 02:45 CEST
def test_instants_in_stockholm_time_are_compared_as_instants_across_the_autumn_fold(
    withdrawn_minute: int, read_minute: int, recorded_minute: int
) -> None:
    def in_stockholm(minute: int) -> datetime:
        return (FOLD_START + timedelta(minutes=minute)).astimezone(STOCKHOLM)

    grant = Grant(Party.FK, Party.AF, "insurance")
    spec = ConsentSpec(
        id=UUID(int=7),
        grants=(grant,),
        valid_from=date(2024, 10, 1),
        valid_until=date(2024, 11, 30),
        recorded_at=in_stockholm(recorded_minute),
        withdrawals=(Withdrawal(in_stockholm(withdrawn_minute), None),),
    )
    event = Event(0, Party.FK, "insurance.sickness", datetime(2024, 10, 1, tzinfo=UTC))
    at = in_stockholm(read_minute)
    shown = numbers(visible([spec.build()], Party.AF, [event], at))
    assert shown == ([0] if oracle_sees((spec,), Party.AF, event, at) else [])


def test_a_read_after_a_withdrawal_in_the_autumn_fold_no_longer_sees_the_withdrawn_grant() -> None:
    withdrawn_at = datetime(2024, 10, 27, 2, 45, tzinfo=STOCKHOLM, fold=0)  # 00:45 UTC
    read_at = datetime(2024, 10, 27, 2, 30, tzinfo=STOCKHOLM, fold=1)  # 01:30 UTC, 45 minutes later
    assert utc(read_at) - utc(withdrawn_at) == timedelta(minutes=45)
    grant = Grant(Party.FK, Party.AF, "insurance")
    consent = one_consent(grant, date(2024, 10, 1), date(2024, 11, 30), datetime(2024, 10, 1, tzinfo=UTC)).build()
    consent = consent.withdraw(None, withdrawn_at)
    event = Event(0, Party.FK, "insurance", datetime(2024, 10, 2, tzinfo=UTC))
    assert visible([consent], Party.AF, [event], read_at) == []
    assert consent.status(read_at) == ConsentStatus.WITHDRAWN
    assert consent.version_at(read_at) == 2


def test_an_event_recorded_later_in_the_autumn_fold_is_not_visible_to_its_own_agency() -> None:
    read_at = datetime(2024, 10, 27, 2, 45, tzinfo=STOCKHOLM, fold=0)  # 00:45 UTC
    recorded_at = datetime(2024, 10, 27, 2, 10, tzinfo=STOCKHOLM, fold=1)  # 01:10 UTC, 25 minutes later
    event = Event(0, Party.FK, "insurance", recorded_at)
    assert visible([], Party.FK, [event], read_at) == []
