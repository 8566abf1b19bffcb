"""Request and response bodies (`XCreate` in, `XPublic` out). Strict: unknown fields and wrong types are 422."""

from __future__ import annotations

from datetime import date, datetime
from typing import Annotated, Any, Literal
from uuid import UUID

from pydantic import AfterValidator, BaseModel, BeforeValidator, ConfigDict, Field, StrictBool, model_validator

from consent import is_known_category
from coordination import ERASURE_REASONS, OUTCOMES
from coordination.strict import (
    DAY_FORMAT,
    INSTANT_FORMAT,
    check_day,
    check_instant,
    clean_text,
    parse_day,
    parse_instant,
)

AgencyCode = Literal["FK", "AF", "REGION", "KOMMUN"]
PartyCode = Literal["FK", "AF", "REGION", "KOMMUN", "SF"]
OutcomeCode = Literal["work", "studies", "other_support", "moved", "declined", "error"]
assert set(OutcomeCode.__args__) == set(OUTCOMES)  # type: ignore[attr-defined]


def _known_category(value: str) -> str:
    if not is_known_category(value):
        raise ValueError(
            "unknown category; use insurance, employment, health, social or coordination (or a sub-category)"
        )
    return value


# Strict input (coordination/strict.py, docs/api.md): every text field refuses control characters, escape
# sequences, bidi overrides and isolates, lone surrogates and blank text, and is kept in NFC; line breaks and tabs
# only in text of several lines. Dates are YYYY-MM-DD only, instants carry their offset, both within 1900-2199.


def one_line(value: str) -> str:
    return clean_text(value, several_lines=False)


def several_lines(value: str) -> str:
    return clean_text(value, several_lines=True)


def _day(value: Any) -> date:
    if isinstance(value, str):
        return parse_day(value)
    if isinstance(value, date) and not isinstance(value, datetime):
        return check_day(value)
    raise ValueError(DAY_FORMAT)  # a timestamp, a datetime, anything else


def _instant(value: Any) -> datetime:
    if isinstance(value, str):
        return parse_instant(value)
    if isinstance(value, datetime):
        return check_instant(value)
    raise ValueError(INSTANT_FORMAT)


Day = Annotated[date, BeforeValidator(_day)]
Instant = Annotated[datetime, BeforeValidator(_instant)]
Line = AfterValidator(one_line)
Lines = AfterValidator(several_lines)
Category = Annotated[str, Field(min_length=1, max_length=100), AfterValidator(_known_category)]
ShortText = Annotated[str, Field(min_length=1, max_length=200), Line]
Code = Annotated[str, Field(min_length=1, max_length=100, pattern=r"^[\w.\-åäöÅÄÖ ]+$"), Line]
Text = Annotated[str, Field(min_length=1, max_length=10_000), Lines]
AttributeValue = str | int | float | bool | None


class Body(BaseModel):
    """Base of request bodies: no unknown fields (pydantic v2 never turns numbers into strings)."""

    model_config = ConfigDict(extra="forbid", populate_by_name=True)


class Public(BaseModel):
    """Base of response bodies."""

    model_config = ConfigDict(populate_by_name=True)


# -- participants ---------------------------------------------------------------------------------------------


class Contact(Body):
    phone: Annotated[str, Field(min_length=1, max_length=50), Line] | None = None
    email: Annotated[str, Field(min_length=3, max_length=200), Line] | None = None
    address: Annotated[str, Field(min_length=1, max_length=500), Lines] | None = None


class Baseline(Body):
    """Follow-up codes at the start (the national follow-up's variables)."""

    support_before: Code | None = None
    occupation_before: Code | None = None
    education_level: Code | None = None


class ParticipantCreate(Body):
    """A participant: by personnummer (or samordningsnummer), or, without one yet, by a reserve identity (birth
    date and legal gender); the number can be added later."""

    personnummer: Annotated[str, Field(min_length=1, max_length=20), Line] | None = None
    birth_date: Day | None = None
    legal_gender: Literal["female", "male"] | None = None
    given_name: ShortText
    family_name: ShortText
    municipality: Annotated[str, Field(pattern=r"^[0-9]{4}$")] | None = None
    contact: Contact | None = None
    baseline: Baseline | None = None

    @model_validator(mode="after")
    def _number_or_reserve_identity(self) -> ParticipantCreate:
        if self.personnummer is not None and (self.birth_date is not None or self.legal_gender is not None):
            raise ValueError("give the personnummer, or (without one) birth_date and legal_gender: not both")
        return self


class ParticipantSearch(Body):
    personnummer: Annotated[str, Field(min_length=1, max_length=20), Line]


class Created(Public):
    id: UUID


# -- consent ---------------------------------------------------------------------------------------------------


class GrantIn(Body):
    from_: PartyCode = Field(alias="from")
    to: PartyCode
    categories: Annotated[list[Category], Field(min_length=1, max_length=10)]


class ConsentCreate(Body):
    grants: Annotated[list[GrantIn], Field(min_length=1, max_length=40)]
    purpose: Annotated[str, Field(min_length=1, max_length=1000), Lines]
    valid_from: Day
    valid_until: Day
    form: Literal["written", "oral"]
    witness: ShortText | None = None
    document_ref: ShortText | None = None  # required for a written consent (422 otherwise)
    guardian: ShortText | None = None
    guardians: Annotated[list[ShortText], Field(min_length=1, max_length=2)] | None = None


class ConsentCreated(Public):
    id: UUID
    version: int


class WithdrawalCreate(Body):
    grants: Annotated[list[GrantIn], Field(min_length=1, max_length=40)] | None = None
    reason: Annotated[str, Field(min_length=1, max_length=2000), Lines] | None = None


class GrantPublic(Public):
    from_: str = Field(serialization_alias="from")
    to: str
    category: str
    status: Literal["active", "withdrawn", "pending", "expired"]
    withdrawn_at: datetime | None


class ConsentPublic(Public):
    id: UUID
    version: int
    status: Literal["active", "expired", "withdrawn", "pending"]
    purpose: str | None
    valid_from: date
    valid_until: date
    form: str
    witness: str | None
    document_ref: str | None
    guardian: str | None
    guardians: list[str] = []
    recorded_at: datetime
    grants: list[GrantPublic]


class WithdrawalPublic(Public):
    id: UUID
    version: int
    status: str


# -- case events -----------------------------------------------------------------------------------------------


class DecisionCreate(Body):
    category: Category
    decision_type: Code
    effective_date: Day
    summary: Text
    source_ref: ShortText
    attributes: Annotated[dict[Annotated[str, Field(max_length=64)], AttributeValue], Field(max_length=50)] | None = (
        None
    )


class RetractionCreate(Body):
    reason: Annotated[str, Field(min_length=1, max_length=2000), Lines]


class BlockCreate(Body):
    """A block (spärr) of the caller's party's own information: `category` None blocks all of it, `recipient`
    None blocks it towards every other party."""

    category: Category | None = None
    recipient: PartyCode | None = None


class EmergencyAccessCreate(Body):
    """An emergency access (nödåtkomst): a reason from the fixed list (docs/emergency.md) and a note saying why the
    information is needed now; `minutes` shortens the window (at most the configured length, default 60)."""

    # Checked by the application service (the same text rule), so that a refusal is logged like any other.
    reason: Annotated[str | None, Field(max_length=100)] = None
    note: Annotated[str | None, Field(max_length=2_000)] = None
    minutes: Annotated[int | None, Field(ge=1, le=24 * 60)] = None


class EmergencyAccessOpened(Public):
    id: UUID
    reader: str
    reason: str
    opened_at: datetime
    until: datetime


class ReferralCreate(Body):
    remittent: PartyCode
    reason: Text
    received_date: Day
    # The parties whose support the person needs: at least two (Finsam).
    needs: Annotated[list[AgencyCode], Field(min_length=2, max_length=4)]


class PlanStepIn(Body):
    agency: PartyCode
    description: Annotated[str, Field(min_length=1, max_length=2000), Lines]
    due: Day


class PlanCreate(Body):
    goals: Annotated[list[Annotated[str, Field(min_length=1, max_length=2000), Lines]], Field(max_length=50)] = []
    steps: Annotated[list[PlanStepIn], Field(max_length=100)] = []


class PlanCreated(Public):
    version: int


class InterventionCreate(Body):
    kind: Code
    start_date: Day
    provider_agency: PartyCode
    planned_end: Day | None = None  # a kartläggning's default: start + 6 weeks


class InterventionEnd(Body):
    end_date: Day
    reason: Annotated[str, Field(min_length=1, max_length=2000), Lines] | None = None


MeetingKind = Literal["meeting", "home_visit"]


class MeetingCreate(Body):
    """A meeting held or missed (`attended` given), or booked for later (`attended` left out, `agencies_invited`)."""

    date: Day
    kind: MeetingKind = "meeting"
    agencies_invited: Annotated[list[PartyCode], Field(max_length=5)] | None = None
    agencies_present: Annotated[list[PartyCode], Field(max_length=5)] | None = None
    attended: StrictBool | None = None
    notes: Text | None = None

    @model_validator(mode="after")
    def _booked_or_recorded(self) -> MeetingCreate:
        if self.attended is None and (self.agencies_present is not None or self.notes is not None):
            raise ValueError("a booking has no agencies_present or notes: give attended to record a meeting held")
        if self.attended is not None and self.agencies_present is None:
            raise ValueError("name agencies_present (empty for a missed meeting), or leave attended out to book")
        return self


class MeetingOutcome(Body):
    """What became of a booked meeting: held (with the parties present) or missed."""

    attended: StrictBool
    agencies_present: Annotated[list[PartyCode], Field(max_length=5)] = []
    notes: Text | None = None


class InterventionsEnding(Body):
    end_date: Day
    reason: Annotated[str, Field(min_length=1, max_length=2000), Lines] | None = None


class ClosureCreate(Body):
    outcome: OutcomeCode
    closed_date: Day
    support_after: Code | None = None  # main source of support after (follow-up code)
    occupation_after: Code | None = None  # occupation after (follow-up code)
    # Insatser still running are ended in the same act with this end date and reason (else closure is 409).
    end_interventions: InterventionsEnding | None = None


class Done(Public):
    ok: bool = True
    id: UUID | None = None


# Why an admin erases (coordination.ERASURE_REASONS; docs/retention.md): a code, stored and logged in clear.
ErasureReason = Literal["admin-request", "participant-request", "enrolled-in-error", "gallring"]
assert set(ErasureReason.__args__) == set(ERASURE_REASONS)  # type: ignore[attr-defined]


class ErasureCreate(Body):
    reason: ErasureReason = "admin-request"


# -- reading ---------------------------------------------------------------------------------------------------


class DecisionPublic(Public):
    id: UUID
    agency: str
    category: str
    decision_type: str
    effective_date: date
    summary: str | None
    attributes: dict[str, Any] | None = None
    status: str
    consent_id: UUID | None
    consent_version: int | None
    recorded_at: datetime
    corrects: UUID | None
    corrected_by: UUID | None


class ParticipantPublic(Public):
    id: UUID
    personnummer: str | None
    birth_date: date | None = None  # a reserve identity's (enrolled without a number)
    given_name: str | None
    family_name: str | None
    status: Literal["open", "closed", "erased"]


class EmergencyAccessPublic(Public):
    id: UUID
    reason: str
    until: datetime


class ViewPublic(Public):
    participant: ParticipantPublic
    reader: str
    as_of: datetime | None
    decisions: list[DecisionPublic]
    coordination: dict[str, Any] | None
    # Present while the caller's own emergency access (nödåtkomst) is open: this view was read under it.
    emergency_access: EmergencyAccessPublic | None = None


class DisclosureExtract(Public):
    participant_id: UUID
    entries: list[dict[str, Any]]


class PartyPublic(Public):
    code: str
    name: str  # the agency's full Swedish name


class ReceiptGrant(Public):
    discloser: PartyPublic
    recipient: PartyPublic
    category: str
    status: Literal["active", "withdrawn", "pending", "expired"]
    withdrawn_at: datetime | None


class ReceiptParticipant(Public):
    id: UUID
    given_name: str | None
    family_name: str | None
    personnummer: str | None
    birth_date: date | None = None  # a reserve identity's (enrolled without a number)


class ReceiptPeriod(Public):
    valid_from: date
    valid_until: date


class ReceiptForm(Public):
    kind: Literal["written", "oral"]
    document_ref: str | None
    witness: str | None


class ConsentReceipt(Public):
    """A consent receipt (ISO/IEC 27560 fields, docs/receipts.md); `version` is the consent's."""

    receipt_id: UUID
    standard: str
    language: str
    jurisdiction: str
    consent_id: UUID
    version: int
    issued_at: datetime
    status: Literal["active", "expired", "withdrawn", "pending"]
    recorded_at: datetime
    participant: ReceiptParticipant
    parties: list[PartyPublic]
    grants: list[ReceiptGrant]
    purposes: list[str | None]
    categories: list[str]
    period: ReceiptPeriod
    form: ReceiptForm
    guardians: list[str]
    legal_basis: str
    how_to_withdraw: str
    controllers_contact: str


# -- the GDPR art. 15 extract (registerutdrag, docs/extracts.md) -------------------------------------------------


class RegisterPerson(Public):
    personnummer: str | None
    given_name: str | None
    family_name: str | None
    reserve_identity: bool  # enrolled without a number: `birth_date` is the reserve identity's
    birth_date: date | None
    birth_year: int | None
    legal_gender: str | None
    municipality: str | None
    contact: dict[str, str]
    guardians: list[str]
    baseline: dict[str, str]
    enrolled_at: datetime
    source: str


class RegisterGrant(Public):
    from_: str = Field(serialization_alias="from")
    to: str
    category: str


class RegisterConsentEvent(Public):
    event: Literal["recorded", "withdrawn"]
    at: datetime
    version: int
    grants: list[RegisterGrant]
    reason: str | None


class RegisterConsent(ConsentPublic):
    history: list[RegisterConsentEvent]
    source: str


class RegisterBlock(Public):
    id: UUID
    discloser: str
    category: str | None
    recipient: str | None
    placed_at: datetime
    lifted_at: datetime | None
    status: Literal["active", "lifted", "pending"]
    source: str


class RegisterEmergencyAccess(Public):
    id: UUID
    reader: str
    user_id: str
    reason: str
    note: str | None
    opened_at: datetime
    until: datetime
    source: str


class RegisterDecision(Public):
    id: UUID
    agency: str
    category: str
    decision_type: str
    effective_date: date
    summary: str | None
    attributes: dict[str, Any]
    status: str
    recorded_at: datetime
    corrects: UUID | None
    corrected_by: UUID | None
    retracted_at: datetime | None
    retraction_reason: str | None
    consent_id: UUID | None  # the consent the decision was recorded under
    consent_version: int | None
    source: str


class RegisterReferral(Public):
    remittent: str
    reason: str | None
    received_date: date
    needs: list[str]
    recorded_at: datetime
    source: str


class RegisterPlanStep(Public):
    agency: str
    description: str | None
    due: date


class RegisterPlan(Public):
    version: int
    goals: list[str | None]
    steps: list[RegisterPlanStep]
    recorded_at: datetime
    source: str


class RegisterIntervention(Public):
    id: UUID
    kind: str
    provider_agency: str
    start_date: date
    planned_end: date | None
    end_date: date | None
    end_reason: str | None
    recorded_at: datetime
    source: str


class RegisterMeeting(Public):
    id: UUID
    date: date
    kind: str
    status: Literal["booked", "held", "missed"]
    agencies_invited: list[str]
    agencies_present: list[str]
    attended: bool | None
    notes: str | None
    recorded_at: datetime
    source: str


class RegisterClosure(Public):
    outcome: str
    closed_date: date
    follow_up: dict[str, str]
    recorded_at: datetime
    source: str


class RegisterRecipient(Public):
    """A party that has received the person's data of a category: how many reads, the first and the last."""

    party: str
    name: str
    category: str
    disclosures: int
    first_at: datetime
    last_at: datetime


class FutureRecipient(RegisterGrant):
    valid_until: date


class RegisterRetention(Public):
    statement: str
    rules: list[dict[str, Any]]


class RegisterRight(Public):
    code: str
    title: str
    text: str


class RegisterErasure(Public):
    party: str
    reason: str | None
    erased_at: datetime


class RegisterExtract(Public):
    """The GDPR art. 15 extract: everything held about the person, opened, and what art. 15(1) requires beside
    it. After an erasure `status` is `erased`, `erased_statement` says so and the data fields are empty."""

    participant_id: UUID
    issued_at: datetime
    controller: str
    status: Literal["open", "closed", "erased"]
    erased_at: datetime | None
    erased_statement: str | None
    erasures: list[RegisterErasure]  # one party's information erased (gallring); the rest is still held
    person: RegisterPerson | None
    referral: RegisterReferral | None
    consents: list[RegisterConsent]
    blocks: list[RegisterBlock]
    emergency_accesses: list[RegisterEmergencyAccess]
    decisions: list[RegisterDecision]
    plans: list[RegisterPlan]
    interventions: list[RegisterIntervention]
    meetings: list[RegisterMeeting]
    closure: RegisterClosure | None
    purposes: list[str]
    categories: list[str]
    sources: str
    recipients: list[RegisterRecipient]
    recipients_statement: str
    future_recipients: list[FutureRecipient]
    retention: RegisterRetention
    automated_decisions: str
    rights: list[RegisterRight]
    controllers: list[PartyPublic]
    controllers_contact: str


class ReconstructedItem(Public):
    """One item a party could see at an instant: never its content."""

    id: str
    kind: Literal["decision", "referral", "plan", "intervention", "meeting", "closure"]
    agency: str
    category: str
    recorded_at: datetime
    status: str | None = None
    consent_id: UUID | None
    consent_version: int | None


class ReconstructionPublic(Public):
    participant_id: UUID
    party: str
    at: datetime
    items: list[ReconstructedItem]


class ReviewFlag(BaseModel):
    """A rule that flagged an entry, with what it found (docs/review.md)."""

    model_config = ConfigDict(extra="allow")
    rule: Literal["off-hours", "many-participants", "consent-ending", "emergency", "blocked"]


class ReviewMarkPublic(Public):
    outcome: str
    comment: str | None
    by: str
    at: datetime
    mark_seq: int


class ReviewItem(Public):
    seq: int
    recorded_at: datetime
    kind: str
    user_id: str
    agency: str
    role: str
    participant_id: UUID | None
    purpose: str | None
    outcome: str | None
    reason: str | None
    categories: list[str]
    consents: list[UUID]
    sampled: bool
    flags: list[ReviewFlag]
    review: ReviewMarkPublic | None


class ReviewQueue(Public):
    from_: datetime = Field(alias="from")
    to: datetime
    seed: int
    sample_size: int
    rules: dict[str, Any]
    count: int
    entries: list[ReviewItem]


class ReviewMark(Body):
    """A reviewer's conclusion about one log entry: utan-anmarkning, foljs-upp or obehorig-atkomst, and a comment
    (kept sealed under the participant's key)."""

    outcome: Annotated[str, Field(min_length=1, max_length=100), Line]
    comment: Annotated[str, Field(max_length=2_000), Lines] | None = None


class ReviewMarked(Public):
    seq: int  # the mark's own seq in the log
    reviewed_seq: int
    outcome: str
