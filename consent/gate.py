"""The gate: the one place that decides what may be recorded in, and disclosed from, the shared case.

Pure functions of (consent state, event, party, instant). The application, the views, the exports and the web
pages call these and never re-implement them.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime
from typing import Protocol, TypeVar
from uuid import UUID

from consent.model import Block, Consent, EmergencyAccess, Grant, utc
from consent.parties import Party, is_own_category


@dataclass(frozen=True)
class ConsentRef:
    """The consent (id and version) that allowed a recording or a disclosure."""

    consent_id: UUID
    version: int


@dataclass(frozen=True)
class Allowed:
    """The gate allows it; `consent` is None when the party acts on its own information, or when an emergency
    access (`emergency`, its id) opened it without a consent."""

    consent: ConsentRef | None
    emergency: UUID | None = None


@dataclass(frozen=True)
class Refused:
    """The gate refuses; `missing` is the grant that would have allowed it."""

    missing: Grant
    reason: str

    def describe(self) -> str:
        """What is missing, in words a case officer can act on."""
        return f"{self.reason}: grant {self.missing.describe()} is required"


NOT_OWN_CATEGORY = "not-own-category"
NO_ACTIVE_GRANT = "no-active-grant"
BLOCKED = "blocked"


def _covering_consent(
    consents: Iterable[Consent], discloser: Party, recipient: Party, category: str, at: datetime
) -> ConsentRef | None:
    # When several consents cover, cite the most recently recorded one: it reflects the latest agreement.
    best: Consent | None = None
    for consent in consents:
        if any(g.covers(discloser, recipient, category) for g in consent.active_grants(at)) and (
            best is None or (utc(consent.recorded_at), str(consent.id)) > (utc(best.recorded_at), str(best.id))
        ):
            best = consent
    return None if best is None else ConsentRef(best.id, best.version_at(at))


def may_record(consents: Iterable[Consent], agency: Party, category: str, at: datetime) -> Allowed | Refused:
    """May `agency` add a decision of `category` to the shared case at `at`? Needs an active grant agency -> SF."""
    needed = Grant(agency, Party.SF, category)
    if not is_own_category(agency, category):
        return Refused(needed, NOT_OWN_CATEGORY)
    if agency == Party.SF:
        return Allowed(None)
    ref = _covering_consent(consents, agency, Party.SF, category, at)
    return Refused(needed, NO_ACTIVE_GRANT) if ref is None else Allowed(ref)


class Disclosable(Protocol):
    """What the gate needs to know of an event: who recorded it, its category, and when it was stored."""

    @property
    def agency(self) -> Party: ...

    @property
    def category(self) -> str: ...

    @property
    def recorded_at(self) -> datetime: ...


E = TypeVar("E", bound=Disclosable)


def may_see(
    consents: Iterable[Consent],
    reader: Party,
    event: Disclosable,
    at: datetime,
    blocks: Iterable[Block] = (),
    emergency: Iterable[EmergencyAccess] = (),
) -> Allowed | Refused:
    """May `reader` see `event` at `at`? Its own events always; another party's only under an active grant, or
    in the window of an emergency access opened by the reader, and only while no active block of its discloser
    covers it (a block beats any consent and any emergency access). A consent is cited before an emergency
    access: what consent opens is not emergency access."""
    needed = Grant(event.agency, reader, event.category)
    if utc(event.recorded_at) > utc(at):
        return Refused(needed, "not-yet-recorded")
    if event.agency == reader:
        return Allowed(None)
    if any(b.blocks(event.agency, reader, event.category, at) for b in blocks):
        return Refused(needed, BLOCKED)
    ref = _covering_consent(consents, event.agency, reader, event.category, at)
    if ref is not None:
        return Allowed(ref)
    opened = next((e for e in emergency if e.opens(reader, at)), None)
    if opened is not None:
        return Allowed(None, emergency=opened.id)
    return Refused(needed, NO_ACTIVE_GRANT)


def visible(
    consents: Iterable[Consent],
    reader: Party,
    events: Iterable[E],
    at: datetime,
    blocks: Iterable[Block] = (),
    emergency: Iterable[EmergencyAccess] = (),
) -> list[tuple[E, ConsentRef | None]]:
    """The events `reader` may see at `at`, each paired with the consent that allows it (None: its own, or
    opened by an emergency access)."""
    consents, blocks, emergency = tuple(consents), tuple(blocks), tuple(emergency)
    shown: list[tuple[E, ConsentRef | None]] = []
    for event in events:
        verdict = may_see(consents, reader, event, at, blocks, emergency)
        if isinstance(verdict, Allowed):
            shown.append((event, verdict.consent))
    return shown
