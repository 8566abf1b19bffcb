"""The one door: every read of participant data passes through `ReadService`.

Each read checks the caller's role, loads what it needs, asks the gate what the caller may see, builds the answer,
and appends its disclosure-log entry (shown or refused, refusals by role and unknown participants included)
before anything is returned. HTTP routes, CLI commands and web pages only translate between their medium and
these methods: they hold no SQL, no gate call and no log append (docs/architecture.md, "The one door").
"""

from __future__ import annotations

import secrets
import time
from collections.abc import Callable, Iterator, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, replace
from datetime import date, datetime
from typing import Any, TypeVar
from uuid import UUID, uuid5

import orjson

from adapters import fhir
from adapters import register_extract as art15
from adapters.access import Caller
from adapters.anchors import AnchorStore, anchor_store
from adapters.audit_export import build_manifest, lines
from adapters.auth import Role
from adapters.disclosure_log import (
    CASELOAD,
    CONSENTS_READ,
    EXPORT,
    EXTRACT,
    MANIFEST,
    OVERVIEW,
    RECEIPT,
    RECONSTRUCTION,
    REGISTER_EXTRACT,
    REVIEW,
    REVIEW_MARK,
    SEARCH,
    STATISTICS,
    TIMELINE,
    VERIFY,
    VIEW,
    VIEW_REFUSED,
    Disclosed,
    DisclosureLog,
    EntryDraft,
    LogFilter,
    VerifyResult,
)
from adapters.projections import projection_runner
from adapters.review import ReviewRules, review_queue, rules_from
from adapters.settings import Settings
from adapters.signing import ManifestSigner
from adapters.storage import Storage
from adapters.vault import TOKEN_PREFIX as SEALED_PREFIX
from consent import (
    Allowed,
    Consent,
    ConsentRef,
    ConsentStatus,
    EmergencyAccess,
    GrantState,
    Party,
    local_date,
    may_see,
    utc,
    visible,
)
from coordination import Case, CoordinationService, DomainError, NotFound, NotPermitted
from projections import statistics as figures
from projections.cases import caseload_entry
from projections.definitions import CASES, FOLLOW_UP, CasesProjection, TimelineProjection
from projections.definitions import TIMELINE as TIMELINE_TABLE
from projections.store import ProjectionStore

T = TypeVar("T")
TIMELINE_PROJECTION = TimelineProjection.name
CASES_PROJECTION = CasesProjection.name

# -- what a consent receipt says besides the consent (docs/receipts.md) --
# The parties' full Swedish names as a receipt gives them. The förbund's and the region's own names are not
# configured yet: these are the generic names (docs/receipts.md, "Left to do").
PARTY_NAMES: dict[str, str] = {
    "FK": "Försäkringskassan",
    "AF": "Arbetsförmedlingen",
    "REGION": "Regionen (hälso- och sjukvården)",
    "KOMMUN": "Kommunen (socialtjänsten)",
    "SF": "Samordningsförbundet",
}
# How the participant withdraws a consent: a fixed text, the same on every receipt.
HOW_TO_WITHDRAW = (
    "Kontakta samordnaren på samordningsförbundet, muntligt eller skriftligt, och säg vilket samtycke (eller vilka "
    "delar av det) du vill återkalla. Återkallelsen gäller från den stund den registreras: därefter får uppgifterna "
    "inte längre lämnas ut med stöd av samtycket. Det som redan har lämnats ut före återkallelsen påverkas inte. "
    "Du får ett nytt kvitto som visar återkallelsen."
)
# The controllers' contact: a placeholder until the förbund's contact is configured (docs/receipts.md).
CONTROLLERS_CONTACT = (
    "Varje myndighet ansvarar för sina egna uppgifter; samordningsförbundet för samordningens uppgifter. "
    "Kontaktuppgifter till personuppgiftsansvariga och dataskyddsombud lämnas av samordnaren."
)
# What lets the agencies share despite secrecy: the participant's own waiver.
LEGAL_BASIS = "Samtycke: den enskilde efterger sekretessen (offentlighets- och sekretesslagen 12 kap. 2 §)"
RECEIPT_STANDARD = "ISO/IEC 27560"
# Receipt ids (UUID 5): the same consent version always has the same receipt id.
RECEIPT_NAMESPACE = UUID("5a7e3c1e-0b1d-4c8e-9f27-27560a000001")
# A search's answer when it finds no one the caller may find: the same whether or not the number is enrolled.
NOT_FOUND_BY_NUMBER = "no participant found with this personnummer that your agency has a part in"
# The purpose a read made under an emergency access is logged with, whatever the caller gave.
EMERGENCY_PURPOSE = "nodatkomst"

# Which roles may make each read (API.md, "Reading" and "Audit").
READERS: dict[str, tuple[Role, ...]] = {
    VIEW: (Role.SAMORDNARE, Role.HANDLAGGARE),
    OVERVIEW: (Role.SAMORDNARE,),
    RECONSTRUCTION: (Role.GRANSKARE,),
    TIMELINE: (Role.SAMORDNARE,),
    CASELOAD: (Role.SAMORDNARE,),
    CONSENTS_READ: (Role.SAMORDNARE,),
    SEARCH: (Role.SAMORDNARE, Role.HANDLAGGARE),
    EXTRACT: (Role.SAMORDNARE,),
    REGISTER_EXTRACT: (Role.SAMORDNARE,),
    RECEIPT: (Role.SAMORDNARE,),
    STATISTICS: (Role.SAMORDNARE, Role.GRANSKARE),
    EXPORT: (Role.GRANSKARE,),
    MANIFEST: (Role.GRANSKARE,),
    VERIFY: (Role.GRANSKARE,),
    REVIEW: (Role.GRANSKARE,),
}


@dataclass(frozen=True)
class CoordinationItem:
    """A piece of the förbund's own record (referral, plan, insats, meeting, closure), as the gate sees it."""

    id: Any
    kind: str
    recorded_at: datetime
    agency: Party = Party.SF
    category: str = "coordination"


@dataclass(frozen=True)
class Export:
    """An export of the disclosure log: the last seq it covers, its entries (streamed) and their lines."""

    last_seq: int
    entries: Iterator[dict[str, Any]]
    format: str
    installation: fhir.Installation | None = None  # the organisation numbers a FHIR export carries

    @property
    def lines(self) -> Iterator[str]:
        return lines(self.entries, self.format, self.installation)


class ReadService:
    """Every read of participant data: gate, then log entry, then answer."""

    def __init__(
        self,
        service: CoordinationService,
        log: DisclosureLog,
        projections: ProjectionStore,
        signer: ManifestSigner,
        *,
        read_wait_s: float = 2.0,
        nudge: Callable[[], None] | None = None,
        review_rules: ReviewRules | None = None,
        installation: fhir.Installation | None = None,
        retention: Sequence[dict[str, Any]] = (),
        anchors: AnchorStore | None = None,
    ) -> None:
        # Signed heads of the log outside the database (adapters/anchors.py): written on exports, checked by verify.
        self.anchors = anchors
        # The retention rules a register extract states (adapters/register_extract.py `retention_rules`).
        self.retention = list(retention)
        self.review_rules = review_rules or ReviewRules()
        # What the FHIR exchange says of this installation (organisation numbers; docs/fhir.md).
        self.installation = installation or fhir.Installation()
        # The parties' names and the controllers' contact on the participant's papers (receipts, extracts).
        self.party_names = {**PARTY_NAMES, **dict(self.installation.party_names)}
        self.controllers_contact = self.installation.controllers_contact or CONTROLLERS_CONTACT
        self.service = service
        self.log = log
        self.projections = projections
        self.signer = signer
        self.read_wait_s = read_wait_s
        self.nudge = nudge  # wakes an in-process projection runner when a list read finds it behind

    # -- the agency view, now and as of an instant ------------------------------------------------------------

    def view(self, caller: Caller, participant_id: UUID, as_of: datetime | None = None) -> dict[str, Any]:
        """What the caller's party may see of the participant now, or as it was at `as_of` narrowed to what it
        may still see now (a withdrawal, an expiry or an erasure after the instant wins). 403 when an agency may
        see nothing; SF always sees its own coordination record."""
        self._require_role(caller, VIEW, participant_id, refused_kind=VIEW_REFUSED, as_of=as_of)
        now = self.service.clock()
        at = now if as_of is None or utc(as_of) >= utc(now) else as_of
        case = self._load(caller, VIEW_REFUSED, participant_id, as_of, lambda: self.service.get_case(participant_id))
        past = (
            case
            if at is now
            else self._load(
                caller, VIEW_REFUSED, participant_id, as_of, lambda: self.service.case_as_of(participant_id, at)
            )
        )
        reader = caller.agency
        # An emergency access (nödåtkomst) the caller opened: it opens the present view only, never an as-of one.
        emergency = case.emergency_for(reader, caller.user_id, now) if caller.role == Role.HANDLAGGARE else []
        if emergency:
            caller = replace(caller, purpose=EMERGENCY_PURPOSE)
        body, disclosed = self._view_body(case, past, reader, at, now, as_of, emergency if past is case else [])
        details = _emergency_details(emergency)
        if not disclosed and reader != Party.SF:
            self._refuse(caller, VIEW_REFUSED, participant_id, "nothing-visible", as_of=as_of, details=details)
            raise NotPermitted(
                f"{reader.value} may see nothing of this participant now: no decisions of its own and no active "
                "consent lets another party share with it"
            )
        self._append(caller, VIEW, participant_id, disclosed, as_of=as_of, details=details)
        return body

    def overview(self, caller: Caller, participant_id: UUID) -> dict[str, Any]:
        """The samordnare's page of one participant: the förbund's view, the timeline and the consents, as one
        read with one log entry (the web page Deltagare)."""
        self._require_role(caller, OVERVIEW, participant_id)
        progress = self._caught_up(TIMELINE_PROJECTION)
        case = self._load(caller, OVERVIEW, participant_id, None, lambda: self.service.get_case(participant_id))
        now = self.service.clock()
        view, disclosed = self._view_body(case, case, Party.SF, now, now, None)
        entries, shown_in_timeline = self._timeline_entries(case, now)
        consents = [self._consent_body(case, c, now) for c in self.service.consents(case)]
        listed = {d.event_id for d in disclosed}
        disclosed += [d for d in shown_in_timeline if d.event_id not in listed]
        disclosed += [Disclosed(c["id"], "SF", "coordination", None, None) for c in consents]
        self._append(caller, OVERVIEW, participant_id, disclosed)
        timeline = {"participant_id": str(participant_id), "entries": entries, "projection": progress}
        return {"view": view, "timeline": timeline, "consents": consents}

    def reconstruction(self, caller: Caller, participant_id: UUID, party: Party, at: datetime) -> dict[str, Any]:
        """For granskare: what `party` could see of the participant at `at` under the consent then in force —
        item ids, categories, status and the consent (id and version) behind each, never content."""
        self._require_role(caller, RECONSTRUCTION, participant_id, as_of=at)
        past = self._load(
            caller, RECONSTRUCTION, participant_id, at, lambda: self.service.case_as_of(participant_id, at)
        )
        # What the party could see then: the consents and the blocks (spärr) in force at the instant.
        consents, blocks = list(past.consents.values()), list(past.blocks.values())
        items: list[dict[str, Any]] = []
        disclosed: list[Disclosed] = []
        for decision, ref in visible(consents, party, past.decisions.values(), at, blocks):
            items.append(_item("decision", decision.id, decision.agency, decision.category, decision.recorded_at, ref))
            items[-1]["status"] = decision.status
            disclosed.append(_disclosed(decision.id, decision.agency, decision.category, ref))
        for item in _coordination_items(past):
            verdict = may_see(consents, party, item, at, blocks)
            if isinstance(verdict, Allowed):
                items.append(_item(item.kind, item.id, item.agency, item.category, item.recorded_at, verdict.consent))
                disclosed.append(_disclosed(item.id, item.agency, item.category, verdict.consent))
        self._append(caller, RECONSTRUCTION, participant_id, disclosed, as_of=at, details={"party": party.value})
        return {"participant_id": participant_id, "party": party.value, "at": at, "items": items}

    # -- the förbund's working lists ---------------------------------------------------------------------------

    def timeline(self, caller: Caller, participant_id: UUID) -> dict[str, Any]:
        """The case's events in order, as codes; an agency's decisions only while SF may see them now."""
        self._require_role(caller, TIMELINE, participant_id)
        progress = self._caught_up(TIMELINE_PROJECTION)
        case = self._load(caller, TIMELINE, participant_id, None, lambda: self.service.get_case(participant_id))
        entries, disclosed = self._timeline_entries(case, self.service.clock())
        self._append(caller, TIMELINE, participant_id, disclosed)
        return {"participant_id": str(participant_id), "entries": entries, "projection": progress}

    def caseload(self, caller: Caller) -> dict[str, Any]:
        """Open cases with phase and next dates, names opened; one log entry naming every case listed."""
        self._require_role(caller, CASELOAD, None)
        progress = self._caught_up(CASES_PROJECTION)
        today = local_date(self.service.clock())
        cases: list[dict[str, Any]] = []
        for row in self.projections.select(CASES, "", '"open" = %s ORDER BY "participant_id"', (1,)):
            facts = orjson.loads(row["facts"])
            participant_id = UUID(row["participant_id"])
            names = facts.get("names", {})
            cases.append(
                {
                    "participant_id": str(participant_id),
                    "given_name": self._open(participant_id, names.get("given_name")),
                    "family_name": self._open(participant_id, names.get("family_name")),
                    **caseload_entry(facts, today),
                }
            )
        listed = [UUID(c["participant_id"]) for c in cases]
        self._append(
            caller,
            CASELOAD,
            None,
            [Disclosed(pid, Party.SF.value, "coordination", None, None) for pid in listed],
            subjects=listed,
        )
        return {"date": today.isoformat(), "count": len(cases), "cases": cases, "projection": progress}

    def consents(self, caller: Caller, participant_id: UUID) -> list[dict[str, Any]]:
        """The participant's consents with the status of each and of each grant now."""
        self._require_role(caller, CONSENTS_READ, participant_id)
        case = self._load(caller, CONSENTS_READ, participant_id, None, lambda: self.service.get_case(participant_id))
        now = self.service.clock()
        listed = [self._consent_body(case, c, now) for c in self.service.consents(case)]
        self._append(
            caller,
            CONSENTS_READ,
            participant_id,
            [Disclosed(c["id"], "SF", "coordination", None, None) for c in listed],
        )
        return listed

    def fhir_consents(self, caller: Caller, participant_id: UUID) -> dict[str, Any]:
        """The participant's consents as FHIR R4 Consent resources in a searchset Bundle (docs/fhir.md): the same
        read as `consents` (samordnare only), one `consents-read` entry with details {"format": "fhir"}."""
        self._require_role(caller, CONSENTS_READ, participant_id)
        case = self._load(caller, CONSENTS_READ, participant_id, None, lambda: self.service.get_case(participant_id))
        now = self.service.clock()
        read = self.service.read
        recorded = self.service.consents(case)
        resources = [
            fhir.consent(
                c, participant_id, now, self.installation, purpose=read(case, c.purpose), witness=read(case, c.witness)
            )
            for c in recorded
        ]
        self._append(
            caller,
            CONSENTS_READ,
            participant_id,
            [Disclosed(c.id, "SF", "coordination", None, None) for c in recorded],
            details={"format": "fhir"},
        )
        return fhir.consent_bundle(resources, now)

    def search(self, caller: Caller, personnummer: str, **details: Any) -> UUID:
        """The participant enrolled under a personnummer (NotFound otherwise); logged either way, never the
        number itself.

        No oracle: a handläggare finds only a participant its agency already has a part in (a decision, the
        referral, a grant in force or to come); for any other number, enrolled or not, the answer is the same
        NotFound. The log records the truth (`refused`, reason `no-relation`) for the granskare and for the
        participant's extract."""
        self._require_role(caller, SEARCH, None)
        found = self.service.find_by_personnummer(personnummer)
        if found is not None and caller.role == Role.HANDLAGGARE and not self._related(found, caller.agency):
            self._append(caller, SEARCH, found, [], details=details, outcome="refused", reason="no-relation")
            raise NotFound(NOT_FOUND_BY_NUMBER)
        self._append(caller, SEARCH, found, [], details=details, outcome="disclosed" if found else "not-found")
        if found is None:
            raise NotFound(NOT_FOUND_BY_NUMBER)
        return found

    def _related(self, participant_id: UUID, agency: Party) -> bool:
        """True when `agency` has a part in the case: a decision of its own, the referral (as remittent or as a
        party whose support is needed), or a grant to or from it in a consent in force or to come."""
        case = self.service.get_case(participant_id)
        if case.is_erased:
            return False
        if any(d.agency == agency for d in case.decisions.values()):
            return True
        referral = case.referral
        if referral is not None and (referral.remittent == agency or agency in referral.needs):
            return True
        now = self.service.clock()
        return any(
            agency in (state.grant.discloser, state.grant.recipient)
            for consent in case.consents.values()
            if consent.status(now) in (ConsentStatus.ACTIVE, ConsentStatus.PENDING)
            for state in consent.grants
            if not state.withdrawn_by(now)
        )

    def extract(self, caller: Caller, participant_id: UUID) -> dict[str, Any]:
        """The participant's log extract: who saw what of theirs, when, under which consent."""
        self._require_role(caller, EXTRACT, participant_id)
        self._load(caller, EXTRACT, participant_id, None, lambda: self.service.get_case(participant_id))
        entries = self._extract_entries(participant_id)
        self._append(caller, EXTRACT, participant_id, [], details={"entries": len(entries)})
        return {"participant_id": participant_id, "entries": entries}

    def extract_document(self, caller: Caller, participant_id: UUID, fmt: str = "pdf") -> dict[str, Any]:
        """The participant's log extract as a document to hand over: the same entries as `extract`, with the
        participant's name and the instant it was made; one `extract` entry that records the format."""
        self._require_role(caller, EXTRACT, participant_id)
        case = self._load(caller, EXTRACT, participant_id, None, lambda: self.service.get_case(participant_id))
        now = self.service.clock()
        entries = self._extract_entries(participant_id)
        self._append(caller, EXTRACT, participant_id, [], details={"entries": len(entries), "format": fmt})
        return {
            "participant": self._participant(case),
            "issued_at": now,
            "entries": entries,
            "party_names": self.party_names,
        }

    def register_extract(self, caller: Caller, participant_id: UUID, fmt: str = "json") -> dict[str, Any]:
        """The GDPR art. 15 extract (registerutdrag): everything the förbund holds about the participant, opened,
        with purposes, categories, recipients (from the log), retention, sources and rights (docs/extracts.md).

        It is the participant's right to their own data: the samordnare produces it at the participant's request
        (send purpose `registerutdrag`; the web page does) and so sees every party's decisions in it, whatever the
        consents and blocks say. One `register-extract` entry lists every item disclosed (consent None) and the
        format. After an erasure it says the data has been erased and holds none of it."""
        self._require_role(caller, REGISTER_EXTRACT, participant_id)
        case = self._load(caller, REGISTER_EXTRACT, participant_id, None, lambda: self.service.get_case(participant_id))
        now = self.service.clock()
        consents = [] if case.is_erased else [self._consent_body(case, c, now) for c in self.service.consents(case)]
        events = [] if case.is_erased else self.service.events.get(participant_id)
        body, disclosed = art15.build(
            case,
            self.service.read,
            self._participant(case),
            consents,
            events,
            self._extract_entries(participant_id),
            now,
            names=self.party_names,
            contact=self.controllers_contact,
            retention=self.retention,
        )
        self._append(caller, REGISTER_EXTRACT, participant_id, disclosed, details={"format": fmt})
        return {**body, "party_names": self.party_names}

    def receipt(self, caller: Caller, participant_id: UUID, consent_id: UUID, fmt: str = "json") -> dict[str, Any]:
        """The receipt of one consent as it stands now (ISO/IEC 27560 fields, docs/receipts.md): its version is
        the consent's, so a withdrawal gives an updated receipt. One `receipt` entry that records the format."""
        self._require_role(caller, RECEIPT, participant_id)
        case = self._load(caller, RECEIPT, participant_id, None, lambda: self.service.get_case(participant_id))
        consent = self._load(caller, RECEIPT, participant_id, None, lambda: case.consent(consent_id))
        now = self.service.clock()
        body = _receipt(
            self._consent_body(case, consent, now),
            self._participant(case),
            now,
            names=self.party_names,
            contact=self.controllers_contact,
        )
        self._append(
            caller,
            RECEIPT,
            participant_id,
            [Disclosed(consent.id, "SF", "coordination", None, None)],
            details={"consent_id": str(consent.id), "version": consent.version, "format": fmt},
        )
        return body

    def _extract_entries(self, participant_id: UUID) -> list[dict[str, Any]]:
        """The log's entries about the participant as an extract shows them (of an entry about several, only the
        item about this one)."""
        keys = ("seq", "recorded_at", "kind", "user_id", "agency", "role", "purpose", "outcome", "as_of")
        return [
            {
                **{k: e.get(k) for k in keys},
                "disclosed": (shown := [d for d in e.get("disclosed", []) if _about(d, participant_id, e)]),
                "categories": e.get("categories", []),
                # Under which consents (id and version; the förbund's own items have none), and whether the read
                # was an emergency access (nödåtkomst: `details.emergency`, or the purpose `nodatkomst`).
                "consents": _entry_consents(shown),
                "emergency": "emergency" in (e.get("details") or {}) or e.get("purpose") == "nodatkomst",
            }
            for e in self.log.entries(LogFilter(participant_id=participant_id))
        ]

    def statistics(self, caller: Caller, period_from: date, period_to: date) -> dict[str, figures.Table]:
        """The follow-up tables for the period, protected together (docs/statistics.md)."""
        self._require_role(caller, STATISTICS, None)
        today = local_date(self.service.clock())
        rows = [
            figures.FollowUpRow(
                participant_id=r["participant_id"],
                start_date=date.fromisoformat(r["start_date"]),
                end_date=None if r["end_date"] is None else date.fromisoformat(r["end_date"]),
                outcome=r["outcome"],
                municipality=r["municipality"],
                gender=r["gender"],
                birth_year=int(r["birth_year"]),
                with_consent=bool(r["with_consent"]),
                support_before=r["support_before"],
                occupation_before=r["occupation_before"],
                education_level=r["education_level"],
                support_after=r["support_after"],
                occupation_after=r["occupation_after"],
            )
            for r in self.projections.select(FOLLOW_UP, "", '"start_date" <= %s', (period_to.isoformat(),))
        ]
        tables = figures.statistics(rows, period_from=period_from, period_to=period_to, today=today)
        self._append(
            caller, STATISTICS, None, [], details={"from": period_from.isoformat(), "to": period_to.isoformat()}
        )
        return tables

    # -- the disclosure log itself (granskare) -----------------------------------------------------------------

    def export(self, caller: Caller, where: LogFilter, fmt: str) -> Export:
        """The matching entries as lines of `fmt`. The export is logged first and covers the log up to and
        including its own entry (or `where.until_seq`, if lower)."""
        self._require_role(caller, EXPORT, where.participant_id)
        entry = self._append(
            caller, EXPORT, where.participant_id, [], details={"filters": where.as_dict(), "format": fmt}
        )
        last = entry["seq"] if where.until_seq is None else min(where.until_seq, entry["seq"])
        if self.anchors is not None:
            self.anchors.anchor_quietly("export")
        return Export(last, self.log.entries(replace(where, until_seq=last)), fmt, self.installation)

    def manifest(self, caller: Caller, where: LogFilter, fmt: str) -> dict[str, Any]:
        """The signed manifest of an export with the same filters (up to `until_seq`, default: the head)."""
        self._require_role(caller, MANIFEST, where.participant_id)
        entry = self._append(
            caller, MANIFEST, where.participant_id, [], details={"filters": where.as_dict(), "format": fmt}
        )
        bounded = where if where.until_seq is not None else replace(where, until_seq=entry["seq"] - 1)
        return build_manifest(self.log.entries(bounded), bounded, fmt, self.signer, self.installation)

    def verify(self, caller: Caller) -> VerifyResult:
        """Checks the whole live log; the check and its result are logged."""
        self._require_role(caller, VERIFY, None)
        result = self.log.verify()
        if self.anchors is not None:
            result = self.anchors.check(result)
        self._append(caller, VERIFY, None, [], details=result.as_dict())
        return result

    def review(
        self, caller: Caller, since: datetime, until: datetime, size: int, seed: int | None = None
    ) -> dict[str, Any]:
        """The review queue for [since, until): a reproducible random sample of `size` disclosures (the seed is
        given back; the same seed and period give the same sample) and every flagged entry, each with the rule
        that flagged it and its latest review mark (docs/review.md). The review is itself logged."""
        self._require_role(caller, REVIEW, None)
        seed = secrets.randbelow(2**31) if seed is None else seed
        entries = list(self.log.entries(LogFilter(since=since, until=until)))
        first = entries[0]["seq"] if entries else None
        marks = self._marks(first - 1) if first is not None else {}
        queue = review_queue(entries, self._case_for_review, marks, self.review_rules, size, seed)
        self._append(
            caller,
            REVIEW,
            None,
            [],
            details={
                "from": since.isoformat(),
                "to": until.isoformat(),
                "seed": seed,
                "sample": size,
                "queued": len(queue),
                "flagged": sum(1 for q in queue if q["flags"]),
            },
        )
        return {
            "from": since,
            "to": until,
            "seed": seed,
            "sample_size": size,
            "rules": self.review_rules.describe(),
            "count": len(queue),
            "entries": queue,
        }

    def _case_for_review(self, participant_id: UUID) -> Case | None:
        try:
            return self.service.get_case(participant_id)
        except NotFound:
            return None

    def _marks(self, after_seq: int) -> dict[int, dict[str, Any]]:
        """The latest review mark of each entry after `after_seq`, its comment opened (None once erased)."""
        marks: dict[int, dict[str, Any]] = {}
        for mark in self.log.entries(LogFilter(kinds=(REVIEW_MARK,), after_seq=after_seq)):
            details = mark.get("details") or {}
            comment = details.get("comment")
            pid = mark.get("participant_id")
            marks[int(details["seq"])] = {
                "outcome": details.get("outcome"),
                "comment": self._open(UUID(pid), comment) if pid and comment else None,
                "by": mark["user_id"],
                "at": mark["recorded_at"],
                "mark_seq": mark["seq"],
            }
        return marks

    # -- building blocks ---------------------------------------------------------------------------------------

    def _caught_up(self, projection: str) -> dict[str, Any]:
        """Waits (at most `read_wait_s`) until the projection has reached the log's head as it is when the read
        begins, so a list read after a write shows that write; says how far it got (`behind` when it did not)."""
        head = self.projections.head()
        deadline = time.monotonic() + self.read_wait_s
        position = self.projections.position(projection)
        if position < head and self.nudge is not None:
            self.nudge()
        while position < head and time.monotonic() < deadline:
            time.sleep(0.01)
            position = self.projections.position(projection)
        return {"position": position, "head": head, "behind": position < head}

    def _require_role(
        self,
        caller: Caller,
        kind: str,
        participant_id: UUID | None,
        *,
        refused_kind: str | None = None,
        as_of: datetime | None = None,
    ) -> None:
        allowed = READERS[kind]
        if caller.role not in allowed:
            self._refuse(caller, refused_kind or kind, participant_id, "role", as_of=as_of)
            raise NotPermitted(f"this needs one of the roles: {', '.join(r.value for r in allowed)}")

    def _load(
        self, caller: Caller, kind: str, participant_id: UUID, as_of: datetime | None, load: Callable[[], T]
    ) -> T:
        """Loads what a read needs; a participant that does not exist (then) is a logged refusal too."""
        try:
            return load()
        except NotFound:
            self._refuse(caller, kind, participant_id, "not-found", as_of=as_of)
            raise

    def _refuse(
        self,
        caller: Caller,
        kind: str,
        participant_id: UUID | None,
        reason: str,
        *,
        as_of: datetime | None = None,
        details: dict[str, Any] | None = None,
    ) -> None:
        self._append(caller, kind, participant_id, [], as_of=as_of, outcome="refused", reason=reason, details=details)

    def _append(
        self,
        caller: Caller,
        kind: str,
        participant_id: UUID | None,
        disclosed: Sequence[Disclosed],
        *,
        as_of: datetime | None = None,
        details: dict[str, Any] | None = None,
        subjects: Sequence[UUID] = (),
        outcome: str = "disclosed",
        reason: str | None = None,
    ) -> dict[str, Any]:
        """Appends the read's one log entry; it is committed when this returns."""
        return self.log.append(
            EntryDraft(
                kind,
                caller.actor,
                caller.request_id,
                caller.purpose,
                participant_id=participant_id,
                disclosed=disclosed,
                outcome=outcome,
                reason=reason,
                as_of=as_of,
                details=details or {},
                subjects=subjects,
            )
        )

    def _view_body(
        self,
        case: Case,
        past: Case,
        reader: Party,
        at: datetime,
        now: datetime,
        as_of: datetime | None,
        emergency: Sequence[EmergencyAccess] = (),
    ) -> tuple[dict[str, Any], list[Disclosed]]:
        """The reader's view (as of `at`, narrowed to now) and what it discloses; `emergency` holds the reader's
        open emergency accesses (present reads only)."""
        shown = self._shown(case, past, reader, at, now, emergency)
        decisions = [self._decision_body(case, d, ref_then) for d, ref_then, _ in shown.decisions]
        disclosed = [_disclosed(d.id, d.agency, d.category, ref_now) for d, _, ref_now in shown.decisions]
        disclosed += [_disclosed(i.id, i.agency, i.category, ref) for i, ref in shown.coordination]
        body = {
            "participant": self._participant(case),
            "reader": reader.value,
            "as_of": as_of,
            "decisions": decisions,
            "coordination": self._coordination_body(case, past, {i.id for i, _ in shown.coordination}),
        }
        if emergency:
            opened = emergency[-1]
            body["emergency_access"] = {"id": opened.id, "reason": opened.reason, "until": opened.until}
        return body, disclosed

    def _timeline_entries(self, case: Case, now: datetime) -> tuple[list[dict[str, Any]], list[Disclosed]]:
        """The case's timeline rows, as codes; an agency's decisions only while SF may see them now."""
        rows = (
            []
            if case.is_erased
            else self.projections.select(
                TIMELINE_TABLE, "", '"participant_id" = %s ORDER BY "position"', (str(case.id),)
            )
        )
        consents, blocks = list(case.consents.values()), list(case.blocks.values())
        entries: list[dict[str, Any]] = []
        disclosed: list[Disclosed] = []
        for row in rows:
            entry = {k: row[k] for k in ("position", "recorded_at", "kind", "agency", "category", "ref_id")}
            if row["kind"].startswith("Decision"):
                # The case says whose decision it is (a retraction's event names only the decision).
                decision = case.decisions.get(UUID(row["ref_id"]))
                if decision is None:
                    continue
                verdict = may_see(consents, Party.SF, decision, now, blocks)
                if not isinstance(verdict, Allowed):
                    continue
                entry.update(agency=decision.agency.value, category=decision.category)
                disclosed.append(_disclosed(decision.id, decision.agency, decision.category, verdict.consent))
            entries.append(entry)
        return entries, disclosed

    def _open(self, participant_id: UUID, token: str | None) -> str | None:
        return None if token is None else self.service.vault.unseal(participant_id, token)

    def _participant(self, case: Case) -> dict[str, Any]:
        identity = self.service.identity(case)
        status = "erased" if case.is_erased else "closed" if case.is_closed else "open"
        return {
            "id": case.id,
            "personnummer": identity.get("personnummer"),
            "given_name": identity.get("given_name"),
            "family_name": identity.get("family_name"),
            "birth_date": identity.get("birth_date"),
            "status": status,
        }

    def _shown(
        self,
        case: Case,
        past: Case,
        reader: Party,
        at: datetime,
        now: datetime,
        emergency: Sequence[EmergencyAccess] = (),
    ) -> _Shown:
        """What the reader may see of `past` at `at` that it may also see of `case` now; nothing once erased.
        Decisions come with the consent that allowed them then and the one that allows them now. An emergency
        access counts only for a present read (`past is case`); blocks beat it."""
        if case.is_erased:
            return _Shown([], [])
        if past is case and emergency:
            consents, blocks = list(case.consents.values()), list(case.blocks.values())
            allowed = [
                (item, verdict)
                for item in [*case.decisions.values(), *_coordination_items(case)]
                if isinstance(verdict := may_see(consents, reader, item, now, blocks, emergency), Allowed)
            ]
            return _Shown(
                [(d, v.consent, v.consent) for d, v in allowed if not isinstance(d, CoordinationItem)],
                [(i, v.consent) for i, v in allowed if isinstance(i, CoordinationItem)],
            )
        consents_then, consents_now = list(past.consents.values()), list(case.consents.values())
        # Blocks (spärr) as at the instant, and as now: a block placed after the instant wins, like a withdrawal.
        blocks_then, blocks_now = list(past.blocks.values()), list(case.blocks.values())

        def now_allows(item: Any) -> Allowed | None:
            verdict = may_see(consents_now, reader, item, now, blocks_now)
            return verdict if isinstance(verdict, Allowed) else None

        decisions = []
        for decision, ref in visible(consents_then, reader, past.decisions.values(), at, blocks_then):
            still = now_allows(decision) if past is not case else Allowed(ref)
            if still is not None:
                decisions.append((decision, ref, still.consent))
        coordination = []
        for item in _coordination_items(past):
            then = may_see(consents_then, reader, item, at, blocks_then)
            if isinstance(then, Allowed):
                still = now_allows(item) if past is not case else then
                if still is not None:
                    coordination.append((item, still.consent))
        return _Shown(decisions, coordination)

    def _decision_body(self, case: Case, decision: Any, ref: ConsentRef | None) -> dict[str, Any]:
        return {
            "id": decision.id,
            "agency": decision.agency.value,
            "category": decision.category,
            "decision_type": decision.decision_type,
            "effective_date": decision.effective_date,
            # A retracted decision was wrong: show that it was withdrawn, not what it said.
            # Naming the agency: once its information is erased (gallring), an as-of read shows nothing of it either.
            "summary": (
                None if decision.status == "retracted" else self.service.read(case, decision.summary, decision.agency)
            ),
            "attributes": None if decision.status == "retracted" else dict(decision.attributes),
            "status": decision.status,
            "consent_id": None if ref is None else ref.consent_id,
            "consent_version": None if ref is None else ref.version,
            "recorded_at": decision.recorded_at,
            "corrects": decision.corrects,
            "corrected_by": decision.corrected_by,
        }

    def _coordination_body(self, case: Case, past: Case, shown: set[Any]) -> dict[str, Any] | None:
        """The coordination record of `past` limited to the items shown; sealed fields opened with `case` (none once
        the förbund's own information is erased)."""
        body: dict[str, Any] = {}

        def read(case: Case, token: str | None) -> str | None:
            return self.service.read(case, token, Party.SF)

        if past.referral is not None and f"{past.id}:referral" in shown:
            body["referral"] = {
                "remittent": past.referral.remittent.value,
                "reason": read(case, past.referral.reason),
                "received_date": past.referral.received_date,
                "needs": [p.value for p in past.referral.needs],
            }
        if past.plans and f"{past.id}:plan:{past.plans[-1].version}" in shown:
            plan = past.plans[-1]
            body["plan"] = {
                "version": plan.version,
                "goals": [read(case, g) for g in plan.goals],
                "steps": [
                    {"agency": s.agency.value, "description": read(case, s.description), "due": s.due}
                    for s in plan.steps
                ],
            }
        interventions = [i for i in past.interventions.values() if i.id in shown]
        if interventions:
            body["interventions"] = [
                {
                    "id": i.id,
                    "kind": i.kind,
                    "start_date": i.start_date,
                    "provider_agency": i.provider_agency.value,
                    "end_date": i.end_date,
                }
                for i in interventions
            ]
        meetings = [m for m in past.meetings if m.id in shown]
        if meetings:
            body["meetings"] = [art15.meeting_fields(m, read(case, m.notes)) for m in meetings]
        if past.closure is not None and f"{past.id}:closure" in shown:
            body["closure"] = {"outcome": past.closure.outcome, "closed_date": past.closure.closed_date}
        return body or None

    def _consent_body(self, case: Case, consent: Consent, at: datetime) -> dict[str, Any]:
        overall = consent.status(at)

        def grant_status(state: GrantState) -> str:
            # A grant still in force follows the consent's period: pending, active or expired.
            return "withdrawn" if state.withdrawn_by(at) else overall.value

        read = self.service.read
        return {
            "id": consent.id,
            "version": consent.version,
            "status": overall.value,
            "purpose": read(case, consent.purpose),
            "valid_from": consent.valid_from,
            "valid_until": consent.valid_until,
            "form": consent.form,
            "witness": read(case, consent.witness),
            "document_ref": _document_ref(case, consent.document_ref, read),
            "guardian": read(case, case.consent_guardians.get(consent.id)),
            "guardians": [
                name
                for token in (case.consent_guardians.get(consent.id), case.second_guardians.get(consent.id))
                if (name := read(case, token)) is not None
            ],
            "recorded_at": consent.recorded_at,
            "grants": [
                {
                    "from_": s.grant.discloser.value,
                    "to": s.grant.recipient.value,
                    "category": s.grant.category,
                    "status": grant_status(s),
                    "withdrawn_at": s.withdrawn_at,
                }
                for s in consent.grants
            ],
        }

    # -- many lookups by personnummer at once (an import's batch) ------------------------------------------------

    def search_many(
        self, caller: Caller, numbers: dict[str, dict[str, Any]], **details: Any
    ) -> dict[str, UUID | Exception]:
        """`search` for many personnummer at once: for each number, the participant found, or the error `search`
        would raise (NotFound; InvalidCommand for a number that is not valid, which looks nobody up).

        Logged in one append, committed before anything is returned: ONE `search` entry naming every participant
        found (`details.subjects`, indexed like a caseload's, so each participant's extract shows it), and, as
        `search` logs them, one entry per number that found nobody (`not-found`) or someone the caller's agency
        has no part in (`refused`, `no-relation`); both answer the same NotFound (no oracle). `numbers` maps each
        number to the details of its own entry (an import: the line); the number itself is never logged."""
        self._require_role(caller, SEARCH, None)

        def look_up(number: str) -> tuple[UUID | None, bool] | Exception:
            """(participant or None, unrelated), or the error of a number that is not valid."""
            try:
                participant = self.service.find_by_personnummer(number)
            except DomainError as invalid:
                return invalid
            try:
                return participant, (
                    participant is not None
                    and caller.role == Role.HANDLAGGARE
                    and not self._related(participant, caller.agency)
                )
            except NotFound:  # a lookup left without its case: nobody
                return None, False

        # The lookups are independent reads: side by side, their round trips overlap.
        with ThreadPoolExecutor(8, thread_name_prefix="samverkan-search") as pool:
            looked_up = list(pool.map(look_up, numbers))
        answers: dict[str, UUID | Exception] = {}
        found: list[UUID] = []
        drafts: list[EntryDraft] = []
        entry = (SEARCH, caller.actor, caller.request_id, caller.purpose)
        for (number, own), result in zip(numbers.items(), looked_up, strict=True):
            if isinstance(result, Exception):
                answers[number] = result
                continue
            participant, unrelated = result
            if participant is None or unrelated:
                outcome, reason = ("refused", "no-relation") if unrelated else ("not-found", None)
                drafts.append(
                    EntryDraft(*entry, participant_id=participant, outcome=outcome, reason=reason, details=dict(own))
                )
                answers[number] = NotFound(NOT_FOUND_BY_NUMBER)
                continue
            found.append(participant)
            answers[number] = participant
        if found:
            listed = list(dict.fromkeys(found))
            drafts.insert(0, EntryDraft(*entry, details={**details, "found": len(listed)}, subjects=listed))
        self.log.append_many(drafts)
        return answers


@dataclass(frozen=True)
class _Shown:
    decisions: list[tuple[Any, ConsentRef | None, ConsentRef | None]]  # (decision, consent then, consent now)
    coordination: list[tuple[CoordinationItem, ConsentRef | None]]


def _emergency_details(emergency: Sequence[EmergencyAccess]) -> dict[str, Any]:
    """What a log entry records of the emergency access a read was made under (none: nothing)."""
    if not emergency:
        return {}
    opened = emergency[-1]
    return {"emergency": {"id": str(opened.id), "reason": opened.reason, "until": opened.until.isoformat()}}


def _coordination_items(case: Case) -> list[CoordinationItem]:
    """The pieces of the coordination record, each with a stable id, for the gate."""
    items: list[CoordinationItem] = []
    if case.referral is not None:
        items.append(CoordinationItem(f"{case.id}:referral", "referral", case.referral.recorded_at))
    if case.plans:
        plan = case.plans[-1]
        items.append(CoordinationItem(f"{case.id}:plan:{plan.version}", "plan", plan.recorded_at))
    items += [CoordinationItem(i.id, "intervention", i.recorded_at) for i in case.interventions.values()]
    items += [CoordinationItem(m.id, "meeting", m.recorded_at) for m in case.meetings]
    if case.closure is not None:
        items.append(CoordinationItem(f"{case.id}:closure", "closure", case.closure.recorded_at))
    return items


def _disclosed(item_id: Any, agency: Party, category: str, ref: ConsentRef | None) -> Disclosed:
    return Disclosed(
        item_id, agency.value, category, None if ref is None else ref.consent_id, None if ref is None else ref.version
    )


def _item(
    kind: str, item_id: Any, agency: Party, category: str, recorded_at: datetime, ref: ConsentRef | None
) -> dict[str, Any]:
    return {
        "id": str(item_id),
        "kind": kind,
        "agency": agency.value,
        "category": category,
        "recorded_at": recorded_at,
        "consent_id": None if ref is None else ref.consent_id,
        "consent_version": None if ref is None else ref.version,
    }


def _receipt(
    consent: dict[str, Any],
    participant: dict[str, Any],
    issued_at: datetime,
    *,
    names: dict[str, str] = PARTY_NAMES,
    contact: str = CONTROLLERS_CONTACT,
) -> dict[str, Any]:
    """A consent receipt from a consent's body (`_consent_body`) and the participant (`_participant`), with this
    installation's party names and controllers' contact."""

    def party(code: str) -> dict[str, str]:
        return {"code": code, "name": names.get(code, code)}

    grants = consent["grants"]
    codes = list(dict.fromkeys(code for g in grants for code in (g["from_"], g["to"])))
    return {
        "receipt_id": uuid5(RECEIPT_NAMESPACE, f"{consent['id']}:{consent['version']}"),
        "standard": RECEIPT_STANDARD,
        "language": "sv",
        "jurisdiction": "SE",
        "consent_id": consent["id"],
        "version": consent["version"],
        "issued_at": issued_at,
        "status": consent["status"],
        "recorded_at": consent["recorded_at"],
        "participant": {k: participant[k] for k in ("id", "given_name", "family_name", "personnummer", "birth_date")},
        "parties": [party(code) for code in codes],
        "grants": [
            {
                "discloser": party(g["from_"]),
                "recipient": party(g["to"]),
                "category": g["category"],
                "status": g["status"],
                "withdrawn_at": g["withdrawn_at"],
            }
            for g in grants
        ],
        "purposes": [consent["purpose"]],
        "categories": sorted({g["category"] for g in grants}),
        "period": {"valid_from": consent["valid_from"], "valid_until": consent["valid_until"]},
        "form": {"kind": consent["form"], "document_ref": consent["document_ref"], "witness": consent["witness"]},
        "guardians": consent["guardians"],
        "legal_basis": LEGAL_BASIS,
        "how_to_withdraw": HOW_TO_WITHDRAW,
        "controllers_contact": contact,
        "party_names": names,
    }


def _entry_consents(disclosed: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """The distinct consents (id and version) an entry's items were shown under, in the order first named."""
    refs = dict.fromkeys((d.get("consent_id"), d.get("consent_version")) for d in disclosed if d.get("consent_id"))
    return [{"consent_id": consent_id, "consent_version": version} for consent_id, version in refs]


def _about(disclosed: dict[str, Any], participant_id: UUID, entry: dict[str, Any]) -> bool:
    """Of an entry listing several participants (a caseload), only the item about this one is shown."""
    if entry.get("participant_id") is not None:
        return True
    return disclosed.get("event_id") == str(participant_id)


def _document_ref(case: Case, stored: str | None, read: Callable[[Case, str | None], str | None]) -> str | None:
    """A consent's document reference: sealed, since it may carry a name; one stored in clear by an earlier
    version is shown as it is until the participant is erased."""
    if stored is None or stored.startswith(SEALED_PREFIX) or case.is_erased:
        return read(case, stored)
    return stored


def open_read_service(storage: Storage, settings: Settings) -> ReadService:
    """The read door over an open storage (for commands; the HTTP service builds its own in its context)."""
    log = DisclosureLog(storage.service.factory.datastore)  # type: ignore[attr-defined]
    signer = ManifestSigner(settings.audit_key)
    return ReadService(
        storage.service,
        log,
        projection_runner(storage, settings).store,
        signer,
        review_rules=rules_from(settings),
        installation=installation_of(settings),
        retention=art15.retention_rules(settings),
        anchors=anchor_store(settings, storage.target, log, signer),
    )


def installation_of(settings: Settings) -> fhir.Installation:
    """What the papers and the FHIR exchange say of this installation, from the settings (docs/fhir.md,
    docs/receipts.md): organisation numbers, the parties' names and the controllers' contact."""
    named = (("SF", settings.forbund_name), ("REGION", settings.region_name), ("KOMMUN", settings.kommun_name))
    return fhir.Installation(
        region=settings.org_number_region,
        kommun=settings.org_number_kommun,
        sf=settings.org_number_sf,
        public_url=settings.public_url,
        party_names=tuple((code, name.strip()) for code, name in named if name and name.strip()),
        controllers_contact=(settings.controllers_contact or "").strip() or None,
    )
