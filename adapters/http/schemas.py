"""Request and response bodies (`XCreate` in, `XPublic` out). Strict: unknown fields and wrong types are 422."""

from __future__ import annotations

from datetime import date, datetime
from typing import Annotated, Any, Literal
from uuid import UUID

from pydantic import AfterValidator, BaseModel, ConfigDict, Field, StrictBool, model_validator

from consent import is_known_category
from coordination import OUTCOMES

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


Category = Annotated[str, Field(min_length=1, max_length=100), AfterValidator(_known_category)]
ShortText = Annotated[str, Field(min_length=1, max_length=200)]
Code = Annotated[str, Field(min_length=1, max_length=100, pattern=r"^[\w.\-åäöÅÄÖ ]+$")]
Text = Annotated[str, Field(min_length=1, max_length=10_000)]
AttributeValue = str | int | float | bool | None


class Body(BaseModel):
    """Base of request bodies: no unknown fields (pydantic v2 never turns numbers into strings)."""

    model_config = ConfigDict(extra="forbid", populate_by_name=True)


class Public(BaseModel):
    """Base of response bodies."""

    model_config = ConfigDict(populate_by_name=True)


# -- participants ---------------------------------------------------------------------------------------------


class Contact(Body):
    phone: Annotated[str, Field(min_length=1, max_length=50)] | None = None
    email: Annotated[str, Field(min_length=3, max_length=200)] | None = None
    address: Annotated[str, Field(min_length=1, max_length=500)] | None = None


class Baseline(Body):
    """Follow-up codes at the start (the national follow-up's variables)."""

    support_before: Code | None = None
    occupation_before: Code | None = None
    education_level: Code | None = None


class ParticipantCreate(Body):
    """A participant: by personnummer (or samordningsnummer), or, without one yet, by a reserve identity (birth
    date and legal gender); the number can be added later."""

    personnummer: Annotated[str, Field(min_length=1, max_length=20)] | None = None
    birth_date: date | None = None
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
    personnummer: Annotated[str, Field(min_length=1, max_length=20)]


class Created(Public):
    id: UUID


# -- consent ---------------------------------------------------------------------------------------------------


class GrantIn(Body):
    from_: PartyCode = Field(alias="from")
    to: PartyCode
    categories: Annotated[list[Category], Field(min_length=1, max_length=10)]


class ConsentCreate(Body):
    grants: Annotated[list[GrantIn], Field(min_length=1, max_length=40)]
    purpose: Annotated[str, Field(min_length=1, max_length=1000)]
    valid_from: date
    valid_until: date
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
    reason: Annotated[str, Field(min_length=1, max_length=2000)] | None = None


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
    effective_date: date
    summary: Text
    source_ref: ShortText
    attributes: Annotated[dict[Annotated[str, Field(max_length=64)], AttributeValue], Field(max_length=50)] | None = (
        None
    )


class RetractionCreate(Body):
    reason: Annotated[str, Field(min_length=1, max_length=2000)]


class BlockCreate(Body):
    """A block (spärr) of the caller's party's own information: `category` None blocks all of it, `recipient`
    None blocks it towards every other party."""

    category: Category | None = None
    recipient: PartyCode | None = None


class ReferralCreate(Body):
    remittent: PartyCode
    reason: Text
    received_date: date
    # The parties whose support the person needs: at least two (Finsam).
    needs: Annotated[list[AgencyCode], Field(min_length=2, max_length=4)]


class PlanStepIn(Body):
    agency: PartyCode
    description: Annotated[str, Field(min_length=1, max_length=2000)]
    due: date


class PlanCreate(Body):
    goals: Annotated[list[Annotated[str, Field(min_length=1, max_length=2000)]], Field(max_length=50)] = []
    steps: Annotated[list[PlanStepIn], Field(max_length=100)] = []


class PlanCreated(Public):
    version: int


class InterventionCreate(Body):
    kind: Code
    start_date: date
    provider_agency: PartyCode
    planned_end: date | None = None  # a kartläggning's default: start + 6 weeks


class InterventionEnd(Body):
    end_date: date
    reason: Annotated[str, Field(min_length=1, max_length=2000)] | None = None


MeetingKind = Literal["meeting", "home_visit"]


class MeetingCreate(Body):
    """A meeting held or missed (`attended` given), or booked for later (`attended` left out, `agencies_invited`)."""

    date: date
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
    end_date: date
    reason: Annotated[str, Field(min_length=1, max_length=2000)] | None = None


class ClosureCreate(Body):
    outcome: OutcomeCode
    closed_date: date
    support_after: Code | None = None  # main source of support after (follow-up code)
    occupation_after: Code | None = None  # occupation after (follow-up code)
    # Insatser still running are ended in the same act with this end date and reason (else closure is 409).
    end_interventions: InterventionsEnding | None = None


class Done(Public):
    ok: bool = True
    id: UUID | None = None


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


class ViewPublic(Public):
    participant: ParticipantPublic
    reader: str
    as_of: datetime | None
    decisions: list[DecisionPublic]
    coordination: dict[str, Any] | None


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
