"""Systematic review of the disclosure log (loggkontroll): the rules that flag entries for a reviewer, the
reproducible random sample, and the queue that puts both together with each entry's latest review mark.

Pure functions over log entries and what the cases say about consents, blocks and emergency accesses; the read
door (adapters/read_service.py, `review`) loads those and logs the review itself. docs/review.md explains each
rule, its settings and what a reviewer does with a flag.
"""

from __future__ import annotations

import csv
import io
import random
from collections import defaultdict, deque
from collections.abc import Callable, Iterable, Iterator, Mapping
from dataclasses import dataclass, field
from datetime import date, datetime, time, timedelta
from functools import cache
from typing import Any
from uuid import UUID

import holidays
import orjson

from consent import SWEDEN, Consent, utc
from coordination import Case
from coordination.strict import INSTANT_OFFSET, OutOfBounds, parse_day, parse_instant

# The log kinds a review looks at: reads and openings of one participant's information.
REVIEWED_KINDS = frozenset(
    {
        "view",
        "view-refused",
        "overview",
        "reconstruction",
        "timeline",
        "consents-read",
        "search",
        "extract",
        "receipt",
        "register-extract",
        "emergency-access",
    }
)
# Of those, what the random sample draws from: what was actually shown (or opened).
SAMPLED_OUTCOMES = frozenset({"disclosed", "opened"})

# The rules (docs/review.md).
OFF_HOURS = "off-hours"
MANY_PARTICIPANTS = "many-participants"
CONSENT_ENDING = "consent-ending"
EMERGENCY = "emergency"
BLOCKED = "blocked"
RULES = (OFF_HOURS, MANY_PARTICIPANTS, CONSENT_ENDING, EMERGENCY, BLOCKED)

# A reviewer's conclusion about one entry.
OUTCOMES: dict[str, str] = {
    "utan-anmarkning": "reviewed, nothing to remark",
    "foljs-upp": "to be followed up (asked the user or their manager)",
    "obehorig-atkomst": "access without a need in the user's work: reported to the controller",
}


@dataclass(frozen=True)
class ReviewRules:
    """The settings of the rules: office hours in Swedish time on working days, the burst that counts as one
    user reading many participants, and how close to a consent's end a read must be to be flagged."""

    office_start: time = time(7, 0)
    office_end: time = time(18, 0)
    burst_participants: int = 10
    burst_minutes: int = 15
    consent_end_hours: int = 24

    def describe(self) -> dict[str, Any]:
        """The rules' settings, as a review answer gives them."""
        return {
            "office_hours": f"{self.office_start:%H:%M}-{self.office_end:%H:%M}",
            "burst_participants": self.burst_participants,
            "burst_minutes": self.burst_minutes,
            "consent_end_hours": self.consent_end_hours,
        }

    @classmethod
    def parse_hours(cls, hours: str) -> tuple[time, time]:
        """'07:00-18:00' -> (07:00, 18:00); ValueError naming the expected form otherwise."""
        try:
            start, end = (time.fromisoformat(part.strip()) for part in hours.split("-"))
        except ValueError:
            raise ValueError("office hours must look like 07:00-18:00") from None
        if start >= end:
            raise ValueError("office hours must start before they end, e.g. 07:00-18:00")
        return start, end


def period_bound(text: str, *, end: bool) -> datetime:
    """A review period's bound: a date is the whole Swedish day (`to` includes it), an instant needs its offset
    (`to` excludes it); both within 1900-2199 (coordination/strict.py). ValueError says what to write."""
    value = text.strip()
    if len(value) == 10:  # noqa: PLR2004 - YYYY-MM-DD
        day = parse_day(value)
        return datetime.combine(day + timedelta(days=1) if end else day, time(0), SWEDEN)
    try:
        return parse_instant(value)
    except OutOfBounds:
        raise
    except ValueError as wrong:
        if str(wrong) == INSTANT_OFFSET:
            raise ValueError("an instant must carry its offset, e.g. 2026-11-01T08:00:00+01:00") from None
        raise ValueError("write a date like 2026-11-01 or an instant like 2026-11-01T08:00:00+01:00") from None


def rules_from(settings: Any) -> ReviewRules:
    """The rules as the settings give them (adapters/settings.py, SAMVERKAN_REVIEW_*)."""
    start, end = ReviewRules.parse_hours(settings.review_office_hours)
    return ReviewRules(
        office_start=start,
        office_end=end,
        burst_participants=settings.review_burst_participants,
        burst_minutes=settings.review_burst_minutes,
        consent_end_hours=settings.review_consent_end_hours,
    )


@dataclass
class Flag:
    rule: str
    detail: dict[str, Any] = field(default_factory=dict)

    def as_dict(self) -> dict[str, Any]:
        return {"rule": self.rule, **self.detail}


@cache
def _holidays(year: int) -> frozenset[date]:
    """Sweden's public holidays, plus the eves that are days off in practice (julafton, nyårsafton and
    midsommarafton, the Friday before Midsummer Day)."""
    public = holidays.country_holidays("SE", years=year)
    eves = {d - timedelta(days=1) for d, name in public.items() if "Midsummer Day" in name}
    return frozenset({*public.keys(), *eves, date(year, 12, 24), date(year, 12, 31)})


def off_hours(at: datetime, rules: ReviewRules) -> str | None:
    """Why `at` is outside office hours in Sweden (weekend, holiday, before or after hours), or None."""
    local = at.astimezone(SWEDEN)
    if local.weekday() >= 5:  # noqa: PLR2004 - Saturday and Sunday
        return "weekend"
    if local.date() in _holidays(local.year):
        return "holiday"
    if not rules.office_start <= local.time() < rules.office_end:
        return "outside-hours"
    return None


def _instant(text: str) -> datetime:
    return datetime.fromisoformat(text)


def burst_flags(entries: Iterable[dict[str, Any]], rules: ReviewRules) -> dict[int, dict[str, Any]]:
    """The entries by which one user read at least `burst_participants` different participants within
    `burst_minutes`: seq -> {count, minutes}. Every entry inside such a window is flagged."""
    per_user: dict[str, list[tuple[datetime, int, str]]] = defaultdict(list)
    for e in entries:
        if e.get("participant_id") and e.get("outcome") in SAMPLED_OUTCOMES:
            per_user[e["user_id"]].append((_instant(e["recorded_at"]), e["seq"], e["participant_id"]))
    window = timedelta(minutes=rules.burst_minutes)
    flagged: dict[int, dict[str, Any]] = {}
    for reads in per_user.values():
        reads.sort()
        inside: deque[tuple[datetime, int, str]] = deque()
        counts: dict[str, int] = defaultdict(int)
        for read in reads:
            inside.append(read)
            counts[read[2]] += 1
            while utc(read[0]) - utc(inside[0][0]) > window:
                _, _, gone = inside.popleft()
                counts[gone] -= 1
                if not counts[gone]:
                    del counts[gone]
            if len(counts) >= rules.burst_participants:
                for _, seq, _ in inside:
                    flagged[seq] = {"participants": len(counts), "minutes": rules.burst_minutes}
    return flagged


def consent_ends(consent: Consent) -> list[tuple[datetime, str]]:
    """The instants a consent (or a part of it) ended or ends: each withdrawal, and the end of its period (the
    first instant of the day after `valid_until`, Swedish time)."""
    ends = [(utc(s.withdrawn_at), "withdrawn") for s in consent.grants if s.withdrawn_at is not None]
    after = datetime.combine(consent.valid_until + timedelta(days=1), time(0), SWEDEN)
    ends.append((utc(after), "expires"))
    return ends


def entry_flags(
    entry: dict[str, Any], case: Case | None, rules: ReviewRules, burst: Mapping[int, dict[str, Any]]
) -> list[Flag]:
    """The flags of one entry: `case` is the participant's case as it is now (None when unknown)."""
    at = _instant(entry["recorded_at"])
    flags: list[Flag] = []
    why = off_hours(at, rules)
    if why is not None:
        local = at.astimezone(SWEDEN)
        flags.append(Flag(OFF_HOURS, {"why": why, "local_time": local.strftime("%Y-%m-%d %H:%M")}))
    if entry["seq"] in burst:
        flags.append(Flag(MANY_PARTICIPANTS, dict(burst[entry["seq"]])))
    emergency = (entry.get("details") or {}).get("emergency")
    if emergency is not None or entry.get("purpose") == "nodatkomst":
        flags.append(Flag(EMERGENCY, {"reason": (emergency or {}).get("reason")}))
    if case is None:
        return flags
    near = timedelta(hours=rules.consent_end_hours)
    cited = {(UUID(d["consent_id"])) for d in entry.get("disclosed", []) if d.get("consent_id") is not None}
    for consent_id in sorted(cited, key=str):
        consent = case.consents.get(consent_id)
        if consent is None:
            continue
        for ended, how in consent_ends(consent):
            if abs(ended - utc(at)) <= near:
                flags.append(Flag(CONSENT_ENDING, {"consent_id": str(consent_id), "how": how, "at": ended.isoformat()}))
                break
    in_force = [b for b in case.blocks.values() if b.active(at)]
    if in_force:
        flags.append(Flag(BLOCKED, {"blocks": [str(b.id) for b in in_force]}))
    return flags


def sample(candidates: list[int], size: int, seed: int) -> list[int]:
    """A reproducible random sample of `size` seqs (all of them when fewer): the same candidates and seed always
    give the same sample."""
    ordered = sorted(candidates)
    if size >= len(ordered):
        return ordered
    return sorted(random.Random(seed).sample(ordered, size))  # noqa: S311 - a sample for review, not a secret


def review_queue(
    entries: list[dict[str, Any]],
    load_case: Callable[[UUID], Case | None],
    marks: Mapping[int, dict[str, Any]],
    rules: ReviewRules,
    size: int,
    seed: int,
) -> list[dict[str, Any]]:
    """The queue: the sampled entries and the flagged ones, in seq order, each with its flags, whether it was
    sampled, and its latest review mark (None: not reviewed yet)."""
    reviewed = [e for e in entries if e.get("kind") in REVIEWED_KINDS]
    burst = burst_flags(reviewed, rules)
    chosen = set(sample([e["seq"] for e in reviewed if e.get("outcome") in SAMPLED_OUTCOMES], size, seed))
    cases: dict[UUID, Case | None] = {}
    queue = []
    for entry in reviewed:
        pid = entry.get("participant_id")
        case = None
        if pid is not None:
            key = UUID(pid)
            if key not in cases:
                cases[key] = load_case(key)
            case = cases[key]
        flags = entry_flags(entry, case, rules, burst)
        if not flags and entry["seq"] not in chosen:
            continue
        queue.append(
            {
                "seq": entry["seq"],
                "recorded_at": entry["recorded_at"],
                "kind": entry["kind"],
                "user_id": entry["user_id"],
                "agency": entry["agency"],
                "role": entry["role"],
                "participant_id": pid,
                "purpose": entry.get("purpose"),
                "outcome": entry.get("outcome"),
                "reason": entry.get("reason"),
                "categories": entry.get("categories", []),
                "consents": sorted(
                    {d["consent_id"] for d in entry.get("disclosed", []) if d.get("consent_id") is not None}
                ),
                "sampled": entry["seq"] in chosen,
                "flags": [f.as_dict() for f in flags],
                "review": marks.get(entry["seq"]),
            }
        )
    return queue


QUEUE_COLUMNS = (
    "seq",
    "recorded_at",
    "kind",
    "user_id",
    "agency",
    "role",
    "participant_id",
    "purpose",
    "outcome",
    "reason",
    "categories",
    "consents",
    "sampled",
    "flags",
    "review_outcome",
    "reviewed_by",
    "reviewed_at",
)


def queue_row(item: dict[str, Any]) -> list[Any]:
    """One queue item as a CSV row (lists joined with `;`, flags as their rule names)."""
    review = item.get("review") or {}
    return [
        item["seq"],
        item["recorded_at"],
        item["kind"],
        item["user_id"],
        item["agency"],
        item["role"],
        item["participant_id"] or "",
        item["purpose"] or "",
        item["outcome"] or "",
        item["reason"] or "",
        ";".join(item["categories"]),
        ";".join(item["consents"]),
        "yes" if item["sampled"] else "no",
        ";".join(f["rule"] for f in item["flags"]),
        review.get("outcome", ""),
        review.get("by", ""),
        review.get("at", ""),
    ]


def review_lines(queue: dict[str, Any], fmt: str) -> Iterator[str]:
    """The queue as JSON Lines (one item per line, comments included) or CSV for a spreadsheet (a header, one
    row per item; no comments, only the review's outcome)."""
    if fmt == "jsonl":
        for item in queue["entries"]:
            yield orjson.dumps(item, default=str).decode() + "\n"
        return
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\n")
    writer.writerow(QUEUE_COLUMNS)
    for item in queue["entries"]:
        writer.writerow(queue_row(item))
    yield out.getvalue()
