"""The log review's rules (adapters/review.py): each rule has a case that triggers it and one that does not; the
sample is reproducible with its seed and draws only from what was shown."""

from __future__ import annotations

from datetime import UTC, date, datetime, time, timedelta
from typing import Any
from uuid import UUID, uuid4

import pytest
from hypothesis import given
from hypothesis import strategies as st

from adapters.review import (
    BLOCKED,
    CONSENT_ENDING,
    EMERGENCY,
    MANY_PARTICIPANTS,
    OFF_HOURS,
    ReviewRules,
    burst_flags,
    off_hours,
    period_bound,
    review_queue,
    sample,
)
from consent import SWEDEN, Grant, Party
from coordination.domain import Case

RULES = ReviewRules()
# A Wednesday in Sweden, at 10:00 local time (09:00 UTC in winter).
WEDNESDAY_10 = datetime(2026, 11, 25, 10, 0, tzinfo=SWEDEN)


def entry(seq: int, at: datetime, **fields: Any) -> dict[str, Any]:
    return {
        "seq": seq,
        "recorded_at": at.astimezone(UTC).isoformat(),
        "kind": "view",
        "user_id": "handlaggare-af",
        "agency": "AF",
        "role": "handlaggare",
        "participant_id": str(uuid4()),
        "purpose": "handlaggning",
        "outcome": "disclosed",
        "reason": None,
        "disclosed": [],
        "categories": [],
        "details": {},
        **fields,
    }


def rules_of(item: dict[str, Any]) -> list[str]:
    return [f["rule"] for f in item["flags"]]


def queue(entries: list[dict[str, Any]], cases: dict[str, Case] | None = None, size: int = 0) -> list[dict]:
    found = cases or {}
    return review_queue(entries, lambda pid: found.get(str(pid)), {}, RULES, size, seed=1)


# -- off hours ------------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("at", "why"),
    [
        (datetime(2026, 11, 25, 6, 59, tzinfo=SWEDEN), "outside-hours"),
        (datetime(2026, 11, 25, 18, 0, tzinfo=SWEDEN), "outside-hours"),
        (datetime(2026, 11, 28, 11, 0, tzinfo=SWEDEN), "weekend"),  # a Saturday
        (datetime(2026, 12, 24, 11, 0, tzinfo=SWEDEN), "holiday"),  # julafton
        (datetime(2026, 6, 19, 11, 0, tzinfo=SWEDEN), "holiday"),  # midsommarafton
        (datetime(2026, 5, 14, 11, 0, tzinfo=SWEDEN), "holiday"),  # Kristi himmelsfärd
    ],
)
def test_reads_outside_office_hours_are_flagged(at: datetime, why: str) -> None:
    assert off_hours(at, RULES) == why
    (item,) = queue([entry(1, at)])
    assert rules_of(item) == [OFF_HOURS]
    assert item["flags"][0]["why"] == why


def test_reads_in_office_hours_on_a_working_day_are_not_flagged() -> None:
    for at in (datetime(2026, 11, 25, 7, 0, tzinfo=SWEDEN), datetime(2026, 11, 25, 17, 59, tzinfo=SWEDEN)):
        assert off_hours(at, RULES) is None
    assert queue([entry(1, WEDNESDAY_10)]) == []
    # The hours are read in Swedish time, whatever offset the instant was written with.
    assert off_hours(datetime(2026, 7, 1, 5, 30, tzinfo=UTC), RULES) is None  # 07:30 in Swedish summer time


def test_office_hours_come_from_the_setting() -> None:
    evening = ReviewRules(office_start=time(7), office_end=time(20))
    assert off_hours(datetime(2026, 11, 25, 19, 0, tzinfo=SWEDEN), evening) is None
    assert ReviewRules.parse_hours("08:00-16:30") == (time(8), time(16, 30))
    with pytest.raises(ValueError, match="07:00-18:00"):
        ReviewRules.parse_hours("sent")
    with pytest.raises(ValueError, match="before"):
        ReviewRules.parse_hours("18:00-07:00")


# -- one user, many participants ---------------------------------------------------------------------------------


def test_one_user_reading_many_participants_in_a_short_time_is_flagged() -> None:
    reads = [entry(i, WEDNESDAY_10 + timedelta(minutes=i)) for i in range(1, RULES.burst_participants + 1)]
    flagged = burst_flags(reads, RULES)
    assert set(flagged) == {e["seq"] for e in reads}
    assert all(rules_of(item) == [MANY_PARTICIPANTS] for item in queue(reads))


def test_the_same_reads_spread_out_or_by_several_users_or_of_one_participant_are_not() -> None:
    n = RULES.burst_participants
    spread = [entry(i, WEDNESDAY_10 + timedelta(minutes=2 * i)) for i in range(1, n + 1)]
    assert burst_flags(spread, RULES) == {}  # 10 participants over 18+ minutes, window 15
    shared = [entry(i, WEDNESDAY_10 + timedelta(seconds=i), user_id=f"user-{i % 2}") for i in range(1, n + 1)]
    assert burst_flags(shared, RULES) == {}
    same = str(uuid4())
    one = [entry(i, WEDNESDAY_10 + timedelta(seconds=i), participant_id=same) for i in range(1, 3 * n)]
    assert burst_flags(one, RULES) == {}
    refused = [entry(i, WEDNESDAY_10 + timedelta(seconds=i), outcome="refused") for i in range(1, n + 1)]
    assert burst_flags(refused, RULES) == {}


# -- consent ending, emergency, blocks -------------------------------------------------------------------------

NOW = datetime(2026, 11, 25, 9, 0, tzinfo=UTC)


def case_with_consent(valid_until: date) -> tuple[Case, UUID]:
    case = Case(
        id=uuid4(),
        identity={},
        birth_year=1990,
        gender="female",
        municipality=None,
        baseline={},
        by="samordnare",
        timestamp=NOW - timedelta(days=60),
    )
    consent_id = uuid4()
    case.record_consent(
        consent_id,
        (Grant(Party.FK, Party.AF, "insurance"),),
        "v1.purpose",
        date(2026, 10, 1),
        valid_until,
        "written",
        None,
        None,
        None,
        "samordnare",
        NOW - timedelta(days=50),
    )
    return case, consent_id


def read_under(case: Case, consent_id: UUID, at: datetime, seq: int = 1) -> dict[str, Any]:
    disclosed = [
        {
            "event_id": str(uuid4()),
            "agency": "FK",
            "category": "insurance",
            "consent_id": str(consent_id),
            "consent_version": 1,
        }
    ]
    return entry(seq, at, participant_id=str(case.id), disclosed=disclosed)


def test_a_read_within_a_day_of_its_consents_expiry_or_withdrawal_is_flagged() -> None:
    case, consent_id = case_with_consent(date(2026, 11, 25))  # ends at midnight Swedish time
    (item,) = queue([read_under(case, consent_id, WEDNESDAY_10)], {str(case.id): case})
    assert rules_of(item) == [CONSENT_ENDING]
    assert item["flags"][0]["how"] == "expires"

    case, consent_id = case_with_consent(date(2027, 6, 1))
    case.withdraw_consent(consent_id, None, None, "samordnare", NOW + timedelta(hours=20))
    (item,) = queue([read_under(case, consent_id, WEDNESDAY_10)], {str(case.id): case})
    assert rules_of(item) == [CONSENT_ENDING]
    assert item["flags"][0]["how"] == "withdrawn"


def test_a_read_long_before_its_consent_ends_is_not_flagged() -> None:
    case, consent_id = case_with_consent(date(2026, 11, 27))
    assert queue([read_under(case, consent_id, WEDNESDAY_10)], {str(case.id): case}) == []
    case, consent_id = case_with_consent(date(2027, 6, 1))
    case.withdraw_consent(consent_id, None, None, "samordnare", NOW + timedelta(days=3))
    assert queue([read_under(case, consent_id, WEDNESDAY_10)], {str(case.id): case}) == []


def test_emergency_reads_are_flagged_and_others_are_not() -> None:
    emergency = entry(1, WEDNESDAY_10, purpose="nodatkomst", details={"emergency": {"reason": "akut-skyddsbehov"}})
    (item,) = queue([emergency, entry(2, WEDNESDAY_10)])
    assert (item["seq"], rules_of(item)) == (1, [EMERGENCY])
    assert item["flags"][0]["reason"] == "akut-skyddsbehov"


def test_reads_of_a_participant_with_a_block_in_force_are_flagged() -> None:
    case, consent_id = case_with_consent(date(2027, 6, 1))
    case.place_block(uuid4(), Party.FK, None, Party.AF, "handlaggare-fk", NOW - timedelta(hours=1))
    before = read_under(case, consent_id, NOW - timedelta(hours=2), seq=1)
    after = read_under(case, consent_id, NOW, seq=2)
    (item,) = queue([before, after], {str(case.id): case})
    assert (item["seq"], rules_of(item)) == (2, [BLOCKED])


# -- the sample ---------------------------------------------------------------------------------------------


@given(st.lists(st.integers(1, 10_000), unique=True, max_size=300), st.integers(0, 400), st.integers(0, 2**31))
def test_the_sample_is_reproducible_with_its_seed_and_drawn_from_the_candidates(
    seqs: list[int], size: int, seed: int
) -> None:
    drawn = sample(seqs, size, seed)
    assert drawn == sample(list(reversed(seqs)), size, seed)  # the order they come in does not matter
    assert len(drawn) == min(size, len(seqs))
    assert set(drawn) <= set(seqs)


def test_different_seeds_draw_different_samples_and_refusals_are_never_drawn() -> None:
    entries = [entry(i, WEDNESDAY_10, user_id=f"user-{i}") for i in range(1, 201)]
    entries += [
        entry(i, WEDNESDAY_10, user_id=f"user-{i}", outcome="refused", kind="view-refused") for i in range(201, 301)
    ]
    first = [q["seq"] for q in review_queue(entries, lambda _: None, {}, RULES, 20, seed=7)]
    again = [q["seq"] for q in review_queue(entries, lambda _: None, {}, RULES, 20, seed=7)]
    other = [q["seq"] for q in review_queue(entries, lambda _: None, {}, RULES, 20, seed=8)]
    assert first == again
    assert first != other
    assert len(first) == 20
    assert max(first) <= 200


def test_period_bounds_take_dates_as_swedish_days() -> None:
    assert period_bound("2026-11-01", end=False) == datetime(2026, 11, 1, tzinfo=SWEDEN)
    assert period_bound("2026-11-30", end=True) == datetime(2026, 12, 1, tzinfo=SWEDEN)
    assert period_bound("2026-11-01T08:00:00+01:00", end=True) == datetime(2026, 11, 1, 7, tzinfo=UTC)
    for wrong in ("2026-11-01T08:00:00", "igår", "2026-13-01"):
        with pytest.raises(ValueError):
            period_bound(wrong, end=False)
