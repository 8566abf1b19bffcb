"""The participant's shared case as one event-sourced aggregate: the consistency boundary.

Consent lives inside the case, so the gate check and the decision it allows are saved under the same version:
a decision can never slip in after a withdrawal that was already stored. Free text and identity arrive here
already sealed (encrypted per participant) by the application service; the case only keeps the tokens.
"""

from __future__ import annotations

from copy import copy
from dataclasses import dataclass, replace
from datetime import date, datetime
from typing import Any, TypedDict, cast
from uuid import UUID

from eventsourcing.domain import Aggregate, event

from consent import (
    NOT_OWN_CATEGORY,
    Block,
    Consent,
    ConsentRef,
    EmergencyAccess,
    Grant,
    GrantState,
    Party,
    Refused,
    expand_grants,
    is_own_category,
    may_record,
)
from coordination.errors import Conflict, ConsentRequired, InvalidCommand, NotFound, NotPermitted

Sealed = str  # an encrypted token made by the PersonalDataVault; opaque to the domain

OUTCOMES = ("work", "studies", "other_support", "moved", "declined", "error")
# Why personal data was erased (docs/retention.md): a code, never free text, since it is stored and logged in clear.
GALLRING = "gallring"  # a retention rule ran out
ERASURE_REASONS = (GALLRING, "admin-request", "participant-request", "enrolled-in-error")
# What a party's sealed field holds in the case's state once that party's information is erased: no token at all
# (the stored events keep theirs, unreadable without the deleted key), so no read path can open it.
ERASED_FIELD: Sealed = "erased"


@dataclass(frozen=True)
class DecisionState:
    """An agency decision as the case holds it, with its status after corrections and retractions."""

    id: UUID
    agency: Party
    category: str
    decision_type: str
    effective_date: date
    summary: Sealed
    source_ref: str
    attributes: dict[str, Any]
    recorded_at: datetime
    recorded_by: str
    allowed_by: ConsentRef | None
    corrects: UUID | None = None
    status: str = "active"  # active | corrected | retracted
    corrected_by: UUID | None = None
    retraction_reason: Sealed | None = None
    retracted_at: datetime | None = None


@dataclass(frozen=True)
class Referral:
    """Who referred the participant, why, and which parties' support is needed."""

    remittent: Party
    reason: Sealed
    received_date: date
    needs: tuple[Party, ...]
    recorded_at: datetime


@dataclass(frozen=True)
class PlanStep:
    """One step of the handlingsplan, owned by a party, with a due date."""

    agency: Party
    description: Sealed
    due: date


@dataclass(frozen=True)
class Plan:
    """A version of the handlingsplan."""

    version: int
    goals: tuple[Sealed, ...]
    steps: tuple[PlanStep, ...]
    recorded_at: datetime


@dataclass(frozen=True)
class Intervention:
    """An insats: a joint effort with a provider, a start, a planned end (a kartläggning always has one) and,
    once ended, an end."""

    id: UUID
    kind: str
    start_date: date
    provider_agency: Party
    recorded_at: datetime
    end_date: date | None = None
    end_reason: Sealed | None = None
    planned_end: date | None = None


MEETING = "meeting"
HOME_VISIT = "home_visit"
MEETING_KINDS = (MEETING, HOME_VISIT)


@dataclass(frozen=True)
class Meeting:
    """A joint meeting (avstämning) or a home visit (hembesök): first booked (date, parties invited), then held
    (who was present) or missed; `attended` is None while it is only booked."""

    id: UUID
    date: date
    agencies_present: tuple[Party, ...]
    attended: bool | None
    notes: Sealed | None
    recorded_at: datetime
    agencies_invited: tuple[Party, ...] = ()
    kind: str = MEETING

    @property
    def status(self) -> str:
        """booked, held or missed."""
        return "booked" if self.attended is None else "held" if self.attended else "missed"


@dataclass(frozen=True)
class Erasure:
    """An erasure of personal data: the whole participant's (party None) or one party's own information, with its
    reason code (None on erasures stored before reasons were recorded) and its instant."""

    party: Party | None
    reason: str | None
    at: datetime


@dataclass(frozen=True)
class Closure:
    """The case's end (avslut) and its outcome."""

    outcome: str
    closed_date: date
    recorded_at: datetime


class DecisionFields(TypedDict):
    """The stored attributes of a DecisionRecorded or DecisionCorrected event."""

    decision_id: UUID
    agency: str
    category: str
    decision_type: str
    effective_date: date
    summary: Sealed
    source_ref: str
    attributes: dict[str, Any]
    consent_id: UUID | None
    consent_version: int | None
    corrects: UUID | None
    by: str
    timestamp: datetime


def locals_of_event(names: dict[str, Any]) -> dict[str, Any]:
    """An event method's arguments without `self` (to pass them on as one record)."""
    return {k: v for k, v in names.items() if k != "self"}


def _grant_dicts(grants: tuple[Grant, ...]) -> list[dict[str, str]]:
    return [{"from": g.discloser.value, "to": g.recipient.value, "category": g.category} for g in grants]


def _grants_from(items: list[dict[str, str]]) -> tuple[Grant, ...]:
    return expand_grants((i["from"], i["to"], [i["category"]]) for i in items)


class Case(Aggregate):
    """A participant's shared case in the samordningsförbund.

    Its state holds only immutable values (frozen dataclasses, strings, dates) inside dicts and lists, and events
    replace values rather than change them. So a copy needs only new containers: the library copies a cached case
    before every command, and a full deepcopy would cost time in proportion to the case's history.
    """

    def __deepcopy__(self, memo: dict[int, Any]) -> Case:
        clone = object.__new__(type(self))
        clone.__dict__.update({k: copy(v) if isinstance(v, dict | list | set) else v for k, v in self.__dict__.items()})
        return clone

    @event("Enrolled")
    def __init__(
        self,
        id: UUID,  # noqa: A002 - the library's name for the case id, chosen by the application
        identity: dict[str, Sealed],
        birth_year: int,
        gender: str,
        municipality: str | None,
        baseline: dict[str, str],
        by: str,
        timestamp: datetime,
    ) -> None:
        self.identity: dict[str, Sealed] = dict(identity)
        self.birth_year = birth_year
        self.gender = gender
        self.municipality = municipality
        self.baseline = dict(baseline)
        self.enrolled_at = timestamp
        self.enrolled_by = by
        self.referral: Referral | None = None
        self.consents: dict[UUID, Consent] = {}
        self.consent_guardians: dict[UUID, Sealed | None] = {}
        self.second_guardians: dict[UUID, Sealed] = {}
        self.blocks: dict[UUID, Block] = {}
        self.emergency_accesses: dict[UUID, EmergencyAccess] = {}
        self.emergency_notes: dict[UUID, Sealed] = {}
        self.decisions: dict[UUID, DecisionState] = {}
        self.source_refs: dict[str, UUID] = {}
        self.plans: list[Plan] = []
        self.interventions: dict[UUID, Intervention] = {}
        self.meetings: list[Meeting] = []
        self.closure: Closure | None = None
        self.follow_up_after: dict[str, str] = {}
        self.erased_at: datetime | None = None
        self.erasure_reason: str | None = None
        self.party_erasures: dict[Party, Erasure] = {}

    # -- guards -------------------------------------------------------------------------------------------

    @property
    def is_erased(self) -> bool:
        """True once the participant's personal data has been erased."""
        return self.erased_at is not None

    @property
    def is_closed(self) -> bool:
        """True once the case has been closed."""
        return self.closure is not None

    def _require_not_erased(self) -> None:
        if self.is_erased:
            raise Conflict("the participant's personal data has been erased; nothing more can be recorded")

    def _require_open(self) -> None:
        self._require_not_erased()
        if self.is_closed:
            raise Conflict("the case is closed; nothing more can be recorded on it")

    def consent(self, consent_id: UUID) -> Consent:
        """The recorded consent with this id."""
        try:
            return self.consents[consent_id]
        except KeyError:
            raise NotFound("no such consent for this participant") from None

    def decision(self, decision_id: UUID) -> DecisionState:
        """The decision with this id."""
        try:
            return self.decisions[decision_id]
        except KeyError:
            raise NotFound("no such decision for this participant") from None

    def decision_for_source_ref(self, agency: Party, *source_refs: str) -> DecisionState | None:
        """The decision this agency already recorded under one of `source_refs`, if any (idempotent imports)."""
        for source_ref in source_refs:
            decision_id = self.source_refs.get(f"{agency.value}:{source_ref}")
            if decision_id is not None:
                return self.decisions[decision_id]
        return None

    # -- identity -------------------------------------------------------------------------------------------

    @property
    def has_number(self) -> bool:
        """False while the participant is enrolled on a reserve identity (no personnummer or samordningsnummer)."""
        return "personnummer" in self.identity

    def add_personnummer(self, personnummer: Sealed, birth_year: int, gender: str, by: str, at: datetime) -> None:
        """Adds the Swedish number to a participant enrolled without one; the number's birth year and legal
        gender replace the reserve identity's."""
        self._require_not_erased()
        if self.has_number:
            raise Conflict("the participant already has a personnummer or samordningsnummer")
        self._personnummer_added(personnummer=personnummer, birth_year=birth_year, gender=gender, by=by, timestamp=at)

    @event("PersonnummerAdded")
    def _personnummer_added(
        self, personnummer: Sealed, birth_year: int, gender: str, by: str, timestamp: datetime
    ) -> None:
        self.identity = {**self.identity, "personnummer": personnummer}
        self.birth_year = birth_year
        self.gender = gender

    # -- referral -------------------------------------------------------------------------------------------

    def receive_referral(
        self, remittent: Party, reason: Sealed, received_date: date, needs: tuple[Party, ...], by: str, at: datetime
    ) -> None:
        """Records the remiss; it names the parties whose support is needed: at least two (Finsam)."""
        self._require_open()
        if self.referral is not None:
            raise Conflict("the participant already has a referral recorded")
        if len({p for p in needs if p != Party.SF}) < 2:  # noqa: PLR2004 - the Finsam rule: two parties' support
            raise InvalidCommand(
                "needs", "name at least two of FK, AF, REGION, KOMMUN: the parties whose support the person needs"
            )
        self._referral_received(
            remittent=remittent.value,
            reason=reason,
            received_date=received_date,
            needs=[p.value for p in needs],
            by=by,
            timestamp=at,
        )

    @event("ReferralReceived")
    def _referral_received(
        self, remittent: str, reason: Sealed, received_date: date, needs: list[str], by: str, timestamp: datetime
    ) -> None:
        self.referral = Referral(Party(remittent), reason, received_date, tuple(Party(p) for p in needs), timestamp)

    # -- consent --------------------------------------------------------------------------------------------

    def record_consent(
        self,
        consent_id: UUID,
        grants: tuple[Grant, ...],
        purpose: Sealed,
        valid_from: date,
        valid_until: date,
        form: str,
        witness: Sealed | None,
        document_ref: str | None,
        guardian: Sealed | None,
        by: str,
        at: datetime,
        second_guardian: Sealed | None = None,
    ) -> ConsentRef:
        """Records a consent the application has already validated (consent_problems); a minor's names one or two
        guardians."""
        self._require_not_erased()
        if consent_id in self.consents:
            raise Conflict("a consent with this id is already recorded")
        self._consent_recorded(
            consent_id=consent_id,
            grants=_grant_dicts(grants),
            purpose=purpose,
            valid_from=valid_from,
            valid_until=valid_until,
            form=form,
            witness=witness,
            document_ref=document_ref,
            guardian=guardian,
            by=by,
            timestamp=at,
            second_guardian=second_guardian,
        )
        return ConsentRef(consent_id, 1)

    @event("ConsentRecorded")
    def _consent_recorded(
        self,
        consent_id: UUID,
        grants: list[dict[str, str]],
        purpose: Sealed,
        valid_from: date,
        valid_until: date,
        form: str,
        witness: Sealed | None,
        document_ref: str | None,
        guardian: Sealed | None,
        by: str,
        timestamp: datetime,
        second_guardian: Sealed | None = None,
    ) -> None:
        self.consents[consent_id] = Consent(
            id=consent_id,
            version=1,
            grants=tuple(GrantState(g) for g in _grants_from(grants)),
            purpose=purpose,
            valid_from=valid_from,
            valid_until=valid_until,
            form="oral" if form == "oral" else "written",
            recorded_at=timestamp,
            witness=witness,
            document_ref=document_ref,
            guardian_named=guardian is not None,
        )
        self.consent_guardians[consent_id] = guardian
        if second_guardian is not None:
            self.second_guardians[consent_id] = second_guardian

    def withdraw_consent(
        self, consent_id: UUID, grants: tuple[Grant, ...] | None, reason: Sealed | None, by: str, at: datetime
    ) -> ConsentRef:
        """Withdraws the whole consent (grants None) or the named grants, effective at `at`."""
        self._require_not_erased()
        consent = self.consent(consent_id)
        if grants is not None:
            if not grants:
                raise InvalidCommand("grants", "name the grants to withdraw, or leave grants out to withdraw all")
            unknown = consent.unknown_grants(grants)
            if unknown:
                raise InvalidCommand(
                    "grants", f"the consent has no grant {unknown[0].describe()}; name one of its own grants"
                )
        self._consent_withdrawn(
            consent_id=consent_id,
            grants=None if grants is None else _grant_dicts(grants),
            reason=reason,
            by=by,
            timestamp=at,
        )
        return ConsentRef(consent_id, self.consents[consent_id].version)

    @event("ConsentWithdrawn")
    def _consent_withdrawn(
        self,
        consent_id: UUID,
        grants: list[dict[str, str]] | None,
        reason: Sealed | None,
        by: str,
        timestamp: datetime,
    ) -> None:
        chosen = None if grants is None else _grants_from(grants)
        self.consents[consent_id] = self.consents[consent_id].withdraw(chosen, timestamp)

    # -- blocks (spärr) -------------------------------------------------------------------------------------

    def block(self, block_id: UUID) -> Block:
        """The block with this id."""
        try:
            return self.blocks[block_id]
        except KeyError:
            raise NotFound("no such block for this participant") from None

    def place_block(
        self, block_id: UUID, discloser: Party, category: str | None, recipient: Party | None, by: str, at: datetime
    ) -> None:
        """Blocks, at the participant's request, the discloser's own information of `category` (None: all of it)
        towards `recipient` (None: all other parties). Allowed on a closed case, like a withdrawal."""
        self._require_not_erased()
        if block_id in self.blocks:
            raise Conflict("a block with this id is already recorded")
        if category is not None and not is_own_category(discloser, category):
            raise NotPermitted(f"{discloser.value} blocks only its own information, not {category!r}")
        if recipient == discloser:
            raise InvalidCommand("recipient", "a party's own information is never blocked towards itself")
        self._block_placed(
            block_id=block_id,
            discloser=discloser.value,
            category=category,
            recipient=None if recipient is None else recipient.value,
            by=by,
            timestamp=at,
        )

    @event("BlockPlaced")
    def _block_placed(
        self,
        block_id: UUID,
        discloser: str,
        category: str | None,
        recipient: str | None,
        by: str,
        timestamp: datetime,
    ) -> None:
        self.blocks[block_id] = Block(
            block_id, Party(discloser), category, None if recipient is None else Party(recipient), timestamp
        )

    def lift_block(self, block_id: UUID, agency: Party, by: str, at: datetime) -> None:
        """Lifts a block; only the party that placed it may."""
        self._require_not_erased()
        block = self.block(block_id)
        if block.discloser != agency:
            raise NotPermitted("only the party that placed a block can lift it")
        if block.lifted_at is not None:
            raise Conflict("the block is already lifted")
        self._block_lifted(block_id=block_id, by=by, timestamp=at)

    @event("BlockLifted")
    def _block_lifted(self, block_id: UUID, by: str, timestamp: datetime) -> None:
        self.blocks[block_id] = self.blocks[block_id].lift(timestamp)

    # -- emergency access (nödåtkomst) ---------------------------------------------------------------------

    def open_emergency_access(
        self,
        access_id: UUID,
        reader: Party,
        user_id: str,
        reason: str,
        note: Sealed,
        until: datetime,
        at: datetime,
    ) -> None:
        """Opens, for one user of `reader`, the other parties' information about the participant without a
        consent until `until`, for a reason from the fixed list and a sealed note. Blocks still beat it."""
        self._require_not_erased()
        if access_id in self.emergency_accesses:
            raise Conflict("an emergency access with this id is already recorded")
        if reader == Party.SF:
            raise NotPermitted("emergency access is for an agency's handläggare; the förbund reads by consent")
        self._emergency_access_opened(
            access_id=access_id,
            reader=reader.value,
            user_id=user_id,
            reason=reason,
            note=note,
            until=until,
            timestamp=at,
        )

    @event("EmergencyAccessOpened")
    def _emergency_access_opened(
        self,
        access_id: UUID,
        reader: str,
        user_id: str,
        reason: str,
        note: Sealed,
        until: datetime,
        timestamp: datetime,
    ) -> None:
        self.emergency_accesses[access_id] = EmergencyAccess(
            access_id, Party(reader), user_id, reason, timestamp, until
        )
        self.emergency_notes[access_id] = note

    def emergency_for(self, reader: Party, user_id: str, at: datetime) -> list[EmergencyAccess]:
        """The emergency accesses `user_id` of `reader` has open at `at`."""
        return [a for a in self.emergency_accesses.values() if a.user_id == user_id and a.opens(reader, at)]

    # -- agency decisions -----------------------------------------------------------------------------------

    def _gate(self, agency: Party, category: str, at: datetime) -> ConsentRef | None:
        verdict = may_record(self.consents.values(), agency, category, at)
        if isinstance(verdict, Refused):
            if verdict.reason == NOT_OWN_CATEGORY:
                raise NotPermitted(f"{agency.value} records decisions only in its own category, not {category!r}")
            raise ConsentRequired(verdict.missing, verdict.reason)
        return verdict.consent

    def record_decision(
        self,
        decision_id: UUID,
        agency: Party,
        category: str,
        decision_type: str,
        effective_date: date,
        summary: Sealed,
        source_ref: str,
        attributes: dict[str, Any],
        by: str,
        at: datetime,
        corrects: UUID | None = None,
        earlier_refs: tuple[str, ...] = (),
    ) -> tuple[UUID, bool]:
        """Adds an agency decision if the gate allows it now. Returns (id, created); a known source_ref (or one
        of `earlier_refs`, the same reference as stored by earlier versions) returns the first decision's id and
        records nothing."""
        existing = self.decision_for_source_ref(agency, source_ref, *earlier_refs)
        if existing is not None:
            return existing.id, False
        self._require_open()
        self._require_party_not_erased(agency)
        if corrects is not None:
            original = self.decision(corrects)
            if original.agency != agency:
                raise NotPermitted("only the agency that recorded a decision can correct it")
            if original.status != "active":
                raise Conflict(
                    f"the decision is {original.status}; correct its current version instead"
                    if original.status == "corrected"
                    else "a retracted decision cannot be corrected"
                )
        allowed_by = self._gate(agency, category, at)
        fields = DecisionFields(
            decision_id=decision_id,
            agency=agency.value,
            category=category,
            decision_type=decision_type,
            effective_date=effective_date,
            summary=summary,
            source_ref=source_ref,
            attributes=attributes,
            consent_id=None if allowed_by is None else allowed_by.consent_id,
            consent_version=None if allowed_by is None else allowed_by.version,
            corrects=corrects,
            by=by,
            timestamp=at,
        )
        if corrects is None:
            self._decision_recorded(**fields)
        else:
            self._decision_corrected(**fields)
        return decision_id, True

    def _add_decision(self, fields: DecisionFields) -> None:
        consent_id = fields["consent_id"]
        decision = DecisionState(
            id=fields["decision_id"],
            agency=Party(fields["agency"]),
            category=fields["category"],
            decision_type=fields["decision_type"],
            effective_date=fields["effective_date"],
            summary=fields["summary"],
            source_ref=fields["source_ref"],
            attributes=dict(fields["attributes"]),
            recorded_at=fields["timestamp"],
            recorded_by=fields["by"],
            allowed_by=None if consent_id is None else ConsentRef(consent_id, fields["consent_version"] or 1),
            corrects=fields["corrects"],
        )
        self.decisions[decision.id] = decision
        self.source_refs[f"{decision.agency.value}:{decision.source_ref}"] = decision.id
        if decision.corrects is not None:
            original = self.decisions[decision.corrects]
            self.decisions[original.id] = replace(original, status="corrected", corrected_by=decision.id)

    @event("DecisionRecorded")
    def _decision_recorded(
        self,
        decision_id: UUID,
        agency: str,
        category: str,
        decision_type: str,
        effective_date: date,
        summary: Sealed,
        source_ref: str,
        attributes: dict[str, Any],
        consent_id: UUID | None,
        consent_version: int | None,
        corrects: UUID | None,
        by: str,
        timestamp: datetime,
    ) -> None:
        self._add_decision(cast(DecisionFields, locals_of_event(locals())))

    @event("DecisionCorrected")
    def _decision_corrected(
        self,
        decision_id: UUID,
        agency: str,
        category: str,
        decision_type: str,
        effective_date: date,
        summary: Sealed,
        source_ref: str,
        attributes: dict[str, Any],
        consent_id: UUID | None,
        consent_version: int | None,
        corrects: UUID | None,
        by: str,
        timestamp: datetime,
    ) -> None:
        self._add_decision(cast(DecisionFields, locals_of_event(locals())))

    def retract_decision(self, decision_id: UUID, agency: Party, reason: Sealed, by: str, at: datetime) -> None:
        """Retracts a decision (makulering): it stays in the history, marked retracted, and is no longer shown
        as in force. Only the recording agency may retract; retracting discloses nothing, so needs no consent."""
        self._require_not_erased()
        decision = self.decision(decision_id)
        if decision.agency != agency:
            raise NotPermitted("only the agency that recorded a decision can retract it")
        self._require_party_not_erased(agency)
        if decision.status == "retracted":
            raise Conflict("the decision is already retracted")
        if decision.status == "corrected":
            raise Conflict("the decision has been corrected; retract its current version instead")
        self._decision_retracted(decision_id=decision_id, reason=reason, by=by, timestamp=at)

    @event("DecisionRetracted")
    def _decision_retracted(self, decision_id: UUID, reason: Sealed, by: str, timestamp: datetime) -> None:
        self.decisions[decision_id] = replace(
            self.decisions[decision_id], status="retracted", retraction_reason=reason, retracted_at=timestamp
        )

    # -- plan, interventions, meetings, closure --------------------------------------------------------------

    def revise_plan(self, goals: tuple[Sealed, ...], steps: tuple[PlanStep, ...], by: str, at: datetime) -> int:
        """Records a new version of the handlingsplan; returns its version number."""
        self._require_open()
        if not goals and not steps:
            raise InvalidCommand("goals", "a plan needs at least one goal or step")
        self._plan_revised(
            plan_version=len(self.plans) + 1,
            goals=list(goals),
            steps=[{"agency": s.agency.value, "description": s.description, "due": s.due} for s in steps],
            by=by,
            timestamp=at,
        )
        return len(self.plans)

    @event("PlanRevised")
    def _plan_revised(
        self, plan_version: int, goals: list[Sealed], steps: list[dict[str, Any]], by: str, timestamp: datetime
    ) -> None:
        self.plans.append(
            Plan(
                plan_version,
                tuple(goals),
                tuple(PlanStep(Party(s["agency"]), s["description"], s["due"]) for s in steps),
                timestamp,
            )
        )

    def start_intervention(
        self,
        intervention_id: UUID,
        kind: str,
        start_date: date,
        provider_agency: Party,
        by: str,
        at: datetime,
        planned_end: date | None = None,
    ) -> None:
        """Starts an insats (a kartläggning is one: the mapping phase, with its planned end)."""
        self._require_open()
        if planned_end is not None and planned_end < start_date:
            raise InvalidCommand("planned_end", "the planned end is before the start date")
        self._intervention_started(
            intervention_id=intervention_id,
            kind=kind,
            start_date=start_date,
            provider_agency=provider_agency.value,
            by=by,
            timestamp=at,
            planned_end=planned_end,
        )

    @event("InterventionStarted")
    def _intervention_started(
        self,
        intervention_id: UUID,
        kind: str,
        start_date: date,
        provider_agency: str,
        by: str,
        timestamp: datetime,
        planned_end: date | None = None,
    ) -> None:
        self.interventions[intervention_id] = Intervention(
            intervention_id, kind, start_date, Party(provider_agency), timestamp, planned_end=planned_end
        )

    def end_intervention(
        self, intervention_id: UUID, end_date: date, reason: Sealed | None, by: str, at: datetime
    ) -> None:
        """Ends an insats; the end may not be before its start."""
        self._require_not_erased()
        try:
            intervention = self.interventions[intervention_id]
        except KeyError:
            raise NotFound("no such intervention for this participant") from None
        if intervention.end_date is not None:
            raise Conflict("the intervention has already ended")
        self._end(intervention, end_date, reason, by, at)

    def _end(self, intervention: Intervention, end_date: date, reason: Sealed | None, by: str, at: datetime) -> None:
        if end_date < intervention.start_date:
            raise InvalidCommand("end_date", "the end date is before the intervention's start date")
        self._intervention_ended(intervention_id=intervention.id, end_date=end_date, reason=reason, by=by, timestamp=at)

    @property
    def ongoing_interventions(self) -> list[Intervention]:
        """The insatser started and not yet ended."""
        return [i for i in self.interventions.values() if i.end_date is None]

    @event("InterventionEnded")
    def _intervention_ended(
        self, intervention_id: UUID, end_date: date, reason: Sealed | None, by: str, timestamp: datetime
    ) -> None:
        self.interventions[intervention_id] = replace(
            self.interventions[intervention_id], end_date=end_date, end_reason=reason
        )

    def book_meeting(
        self, meeting_id: UUID, day: date, invited: tuple[Party, ...], kind: str, by: str, at: datetime
    ) -> None:
        """Books a meeting (or a home visit) on a day, with the parties invited; held or missed is recorded later."""
        self._require_open()
        if kind not in MEETING_KINDS:
            raise InvalidCommand("kind", f"use one of {', '.join(MEETING_KINDS)}")
        if kind == MEETING and not invited:
            raise InvalidCommand("agencies_invited", "invite at least one party to a meeting")
        self._meeting_booked(
            meeting_id=meeting_id, date=day, agencies_invited=[p.value for p in invited], kind=kind, by=by, timestamp=at
        )

    @event("MeetingBooked")
    def _meeting_booked(
        self, meeting_id: UUID, date: date, agencies_invited: list[str], kind: str, by: str, timestamp: datetime
    ) -> None:
        invited = tuple(Party(p) for p in agencies_invited)
        self.meetings.append(Meeting(meeting_id, date, (), None, None, timestamp, invited, kind))

    def meeting(self, meeting_id: UUID) -> Meeting:
        """The meeting with this id."""
        for meeting in self.meetings:
            if meeting.id == meeting_id:
                return meeting
        raise NotFound("no such meeting for this participant")

    def record_meeting(
        self,
        meeting_id: UUID,
        day: date,
        agencies_present: tuple[Party, ...],
        attended: bool,
        notes: Sealed | None,
        by: str,
        at: datetime,
        kind: str = MEETING,
    ) -> None:
        """Records a joint meeting held, or a missed appointment (attended False), that was not booked first."""
        self._require_open()
        if kind not in MEETING_KINDS:
            raise InvalidCommand("kind", f"use one of {', '.join(MEETING_KINDS)}")
        self._meeting_recorded(
            meeting_id=meeting_id,
            date=day,
            agencies_present=[p.value for p in agencies_present],
            attended=attended,
            notes=notes,
            by=by,
            timestamp=at,
            kind=kind,
        )

    def record_meeting_outcome(
        self,
        meeting_id: UUID,
        agencies_present: tuple[Party, ...],
        attended: bool,
        notes: Sealed | None,
        by: str,
        at: datetime,
    ) -> None:
        """Records that a booked meeting was held (with the parties present) or missed."""
        self._require_open()
        booked = self.meeting(meeting_id)
        if booked.attended is not None:
            raise Conflict(f"the meeting is already recorded as {booked.status}")
        self._meeting_recorded(
            meeting_id=meeting_id,
            date=booked.date,
            agencies_present=[p.value for p in agencies_present],
            attended=attended,
            notes=notes,
            by=by,
            timestamp=at,
            kind=booked.kind,
        )

    @event("MeetingRecorded")
    def _meeting_recorded(
        self,
        meeting_id: UUID,
        date: date,
        agencies_present: list[str],
        attended: bool,
        notes: Sealed | None,
        by: str,
        timestamp: datetime,
        kind: str = MEETING,
    ) -> None:
        present = tuple(Party(p) for p in agencies_present)
        for index, meeting in enumerate(self.meetings):
            if meeting.id == meeting_id:  # the outcome of a booked meeting: it keeps its booking
                self.meetings[index] = replace(meeting, agencies_present=present, attended=attended, notes=notes)
                return
        self.meetings.append(Meeting(meeting_id, date, present, attended, notes, timestamp, kind=kind))

    def close(
        self,
        outcome: str,
        closed_date: date,
        by: str,
        at: datetime,
        follow_up: dict[str, str] | None = None,
        end_interventions: tuple[date, Sealed | None] | None = None,
    ) -> None:
        """Closes the case (avslut) with its outcome and the follow-up codes after (support, occupation). Insatser
        still running are refused, unless `end_interventions` (end date, reason) ends them in the same act."""
        self._require_open()
        if outcome not in OUTCOMES:
            raise InvalidCommand("outcome", f"outcome must be one of {', '.join(OUTCOMES)}")
        if self.referral is not None and closed_date < self.referral.received_date:
            raise InvalidCommand("closed_date", "the case cannot close before its referral was received")
        ongoing = self.ongoing_interventions
        if ongoing and end_interventions is None:
            raise Conflict(
                f"{len(ongoing)} insats(er) still running: end them first, or close with end_interventions "
                "(end_date, reason) to end them in the same act"
            )
        if end_interventions is not None and any(end_interventions[0] < i.start_date for i in ongoing):
            raise InvalidCommand("end_interventions.end_date", "the end date is before an insats's start date")
        for intervention in ongoing:
            assert end_interventions is not None
            self._end(intervention, end_interventions[0], end_interventions[1], by, at)
        self._closed(outcome=outcome, closed_date=closed_date, by=by, timestamp=at, follow_up=dict(follow_up or {}))

    @event("CaseClosed")
    def _closed(
        self, outcome: str, closed_date: date, by: str, timestamp: datetime, follow_up: dict[str, str] | None = None
    ) -> None:
        self.closure = Closure(outcome, closed_date, timestamp)
        self.follow_up_after = dict(follow_up or {})

    # -- erasure -------------------------------------------------------------------------------------------

    def erase_personal_data(self, by: str, at: datetime, reason: str | None = None) -> None:
        """Marks the participant's personal data erased, with the reason code; the application deletes the key
        that opens it."""
        self._require_not_erased()
        self._personal_data_erased(by=by, timestamp=at, reason=reason)

    @event("PersonalDataErased")
    def _personal_data_erased(self, by: str, timestamp: datetime, reason: str | None = None) -> None:
        # `reason` is absent from erasures stored before it was recorded: they load with None.
        self.erased_at = timestamp
        self.erasure_reason = reason
        self.identity = {}

    def erasure(self, party: Party | None = None) -> Erasure | None:
        """The erasure of the whole participant (party None) or of one party's information, if recorded."""
        if party is None:
            return None if self.erased_at is None else Erasure(None, self.erasure_reason, self.erased_at)
        return self.party_erasures.get(party)

    def is_party_erased(self, party: Party) -> bool:
        """True once `party`'s own information in the case is erased (or the whole participant's personal data)."""
        return self.is_erased or party in self.party_erasures

    def _require_party_not_erased(self, party: Party) -> None:
        if party in self.party_erasures:
            raise Conflict(f"{party.value}'s information about the participant has been erased; it records no more")

    def erase_party_data(self, party: Party, reason: str, by: str, at: datetime) -> None:
        """Marks one party's own information erased (gallring of that party's part): the application deletes the
        party's key, so its sealed fields become unreadable; everything else in the case stays."""
        self._require_not_erased()
        if party in self.party_erasures:
            raise Conflict(f"{party.value}'s information about the participant is already erased")
        self._party_data_erased(party=party.value, reason=reason, by=by, timestamp=at)

    @event("PartyDataErased")
    def _party_data_erased(self, party: str, reason: str, by: str, timestamp: datetime) -> None:
        erased = Party(party)
        self.party_erasures = {**self.party_erasures, erased: Erasure(erased, reason, timestamp)}
        # The party's own sealed fields leave the state, so no read (current or through a cached key) opens them.
        for decision in list(self.decisions.values()):
            if decision.agency == erased:
                self.decisions[decision.id] = replace(
                    decision,
                    summary=ERASED_FIELD,
                    retraction_reason=None if decision.retraction_reason is None else ERASED_FIELD,
                )
        if erased == Party.SF:  # the förbund's own coordination record; identity and consents stay with the case
            if self.referral is not None:
                self.referral = replace(self.referral, reason=ERASED_FIELD)
            self.plans = [
                replace(
                    plan,
                    goals=tuple(ERASED_FIELD for _ in plan.goals),
                    steps=tuple(replace(step, description=ERASED_FIELD) for step in plan.steps),
                )
                for plan in self.plans
            ]
            self.interventions = {k: replace(i, end_reason=None) for k, i in self.interventions.items()}
            self.meetings = [replace(m, notes=None) for m in self.meetings]
