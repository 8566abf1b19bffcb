"""Consent (samtycke) as values: who may share what with whom, for what purpose and for how long."""

from __future__ import annotations

import calendar
from collections.abc import Iterable
from dataclasses import dataclass, field, replace
from datetime import UTC, date, datetime
from enum import StrEnum
from typing import Literal
from uuid import UUID
from zoneinfo import ZoneInfo

from consent.parties import Party, covers

# Consent periods are agreed in Swedish calendar days; an instant is judged by its date in Sweden.
SWEDEN = ZoneInfo("Europe/Stockholm")

ConsentForm = Literal["written", "oral"]


def local_date(at: datetime) -> date:
    """The calendar date in Sweden at an (aware) instant."""
    if at.tzinfo is None:
        raise ValueError("instants must carry a time zone")
    return at.astimezone(SWEDEN).date()


def utc(at: datetime) -> datetime:
    """The instant in UTC. Instants are compared only this way: Python compares two datetimes of the same zone
    by wall clock, which puts the twice-lived hour of the autumn clock change in the wrong order."""
    if at.tzinfo is None:
        raise ValueError("instants must carry a time zone")
    return at.astimezone(UTC)


def add_months(day: date, months: int) -> date:
    """`day` plus whole calendar months, clamped to the month's last day (31 Jan + 1 month = 28/29 Feb)."""
    month_index = day.month - 1 + months
    year, month = day.year + month_index // 12, month_index % 12 + 1
    return date(year, month, min(day.day, calendar.monthrange(year, month)[1]))


@dataclass(frozen=True, order=True)
class Grant:
    """Permission for `discloser` to share information of `category` with `recipient`."""

    discloser: Party
    recipient: Party
    category: str

    def covers(self, discloser: Party, recipient: Party, category: str) -> bool:
        """True when this grant lets `discloser` share `category` with `recipient`."""
        return self.discloser == discloser and self.recipient == recipient and covers(self.category, category)

    def describe(self) -> str:
        """A short human form, e.g. `FK -> SF: insurance`."""
        return f"{self.discloser.value} -> {self.recipient.value}: {self.category}"


def expand_grants(
    items: Iterable[tuple[Party | str, Party | str, Iterable[str]]],
) -> tuple[Grant, ...]:
    """Turns (from, to, categories) triples into single-category grants, sorted and without repeats."""
    grants = {
        Grant(Party(discloser), Party(recipient), category)
        for discloser, recipient, categories in items
        for category in categories
    }
    return tuple(sorted(grants))


class ConsentStatus(StrEnum):
    """Where a consent stands at an instant."""

    PENDING = "pending"
    ACTIVE = "active"
    EXPIRED = "expired"
    WITHDRAWN = "withdrawn"


@dataclass(frozen=True)
class GrantState:
    """A grant inside a recorded consent, with the instant it was withdrawn (if it was)."""

    grant: Grant
    withdrawn_at: datetime | None = None

    def withdrawn_by(self, at: datetime) -> bool:
        """True when the withdrawal had taken effect at `at` (withdrawal is effective at once)."""
        return self.withdrawn_at is not None and utc(self.withdrawn_at) <= utc(at)


@dataclass(frozen=True)
class Consent:
    """A recorded consent. `version` grows by one with every withdrawal that touches it."""

    id: UUID
    version: int
    grants: tuple[GrantState, ...]
    purpose: str
    valid_from: date
    valid_until: date
    form: ConsentForm
    recorded_at: datetime
    witness: str | None = None
    document_ref: str | None = None
    guardian_named: bool = False
    withdrawals: tuple[datetime, ...] = field(default=())

    def is_recorded_by(self, at: datetime) -> bool:
        """True when the consent existed at `at` (consent recorded later does not count for earlier reads)."""
        return utc(self.recorded_at) <= utc(at)

    def in_period(self, at: datetime) -> bool:
        """True when `at` falls within valid_from..valid_until (both days included)."""
        return self.valid_from <= local_date(at) <= self.valid_until

    def grant_active(self, state: GrantState, at: datetime) -> bool:
        """True when `state` (one of this consent's grants) allows disclosure at `at`."""
        return self.is_recorded_by(at) and self.in_period(at) and not state.withdrawn_by(at)

    def active_grants(self, at: datetime) -> tuple[Grant, ...]:
        """The grants that allow disclosure at `at`."""
        return tuple(s.grant for s in self.grants if self.grant_active(s, at))

    def version_at(self, at: datetime) -> int:
        """The consent's version as it stood at `at`."""
        return 1 + sum(1 for withdrawn in self.withdrawals if utc(withdrawn) <= utc(at))

    def status(self, at: datetime) -> ConsentStatus:
        """pending, active, expired or withdrawn at `at` (a partly withdrawn consent is still active)."""
        if all(s.withdrawn_by(at) for s in self.grants):
            return ConsentStatus.WITHDRAWN
        today = local_date(at)
        if today < self.valid_from:
            return ConsentStatus.PENDING
        if today > self.valid_until:
            return ConsentStatus.EXPIRED
        return ConsentStatus.ACTIVE

    def withdraw(self, grants: Iterable[Grant] | None, at: datetime) -> Consent:
        """The consent after withdrawing `grants` (None: all) at `at`. Already withdrawn grants keep their instant."""
        chosen = None if grants is None else frozenset(grants)
        states = tuple(
            replace(s, withdrawn_at=at) if s.withdrawn_at is None and (chosen is None or s.grant in chosen) else s
            for s in self.grants
        )
        return replace(self, grants=states, version=self.version + 1, withdrawals=(*self.withdrawals, at))

    def unknown_grants(self, grants: Iterable[Grant]) -> tuple[Grant, ...]:
        """Those of `grants` that this consent does not contain (a withdrawal can only name its own grants)."""
        own = {s.grant for s in self.grants}
        return tuple(g for g in grants if g not in own)


@dataclass(frozen=True)
class Block:
    """A block (spärr): at the participant's request, `discloser` blocks its own information of `category` (None:
    all of it) towards `recipient` (None: every other party), from `placed_at` until it is lifted. A block beats
    any consent; only the discloser itself places and lifts it."""

    id: UUID
    discloser: Party
    category: str | None
    recipient: Party | None
    placed_at: datetime
    lifted_at: datetime | None = None

    def active(self, at: datetime) -> bool:
        """True when the block is in force at `at` (placed by then, and not yet lifted)."""
        placed = utc(self.placed_at) <= utc(at)
        return placed and (self.lifted_at is None or utc(at) < utc(self.lifted_at))

    def blocks(self, discloser: Party, recipient: Party, category: str, at: datetime) -> bool:
        """True when this block stops `discloser` sharing `category` with `recipient` at `at` (a party's own
        information is never blocked towards itself; a block on `insurance` covers `insurance.sickness`)."""
        return (
            discloser == self.discloser
            and recipient != discloser
            and (self.recipient is None or self.recipient == recipient)
            and (self.category is None or covers(self.category, category))
            and self.active(at)
        )

    def lift(self, at: datetime) -> Block:
        """The block after it is lifted at `at`."""
        return replace(self, lifted_at=at)


@dataclass(frozen=True)
class EmergencyAccess:
    """An emergency access (nödåtkomst): one user of `reader` opens the other parties' information about the
    participant without a consent, for a stated reason, from `opened_at` until `until`. Blocks still beat it;
    every read in the window is logged as emergency access and reviewed afterwards."""

    id: UUID
    reader: Party
    user_id: str
    reason: str
    opened_at: datetime
    until: datetime

    def active(self, at: datetime) -> bool:
        """True when the window is open at `at` (from `opened_at`, up to but not including `until`)."""
        return utc(self.opened_at) <= utc(at) < utc(self.until)

    def opens(self, reader: Party, at: datetime) -> bool:
        """True when this access lets `reader` see another party's information at `at`."""
        return reader == self.reader and self.active(at)
