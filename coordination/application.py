"""The coordination service: one use case per method, each enforcing the gate inside the case's version."""

from __future__ import annotations

import copy
import random
import threading
import time
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from typing import Any, TypeVar, cast
from uuid import UUID, uuid4

from eventsourcing.application import AggregateNotFoundError, Application, project_aggregate
from eventsourcing.persistence import JSONTranscoder, RecordConflictError, Transcoding
from eventsourcing.utils import Environment, EnvType

from consent import (
    DEFAULT_MAX_MONTHS,
    Consent,
    ConsentForm,
    ConsentRef,
    EmergencyAccess,
    Party,
    consent_problems,
    expand_grants,
    is_known_category,
    is_own_category,
    local_date,
    visible,
)
from coordination.catalogue import (
    EMERGENCY_NOTE_MIN_LENGTH,
    EMERGENCY_REASONS,
    KARTLAGGNING,
    checked_attributes,
    decision_type_code,
    follow_up_codes,
    intervention_kind,
)
from coordination.domain import ERASURE_REASONS, MEETING, Case, DecisionState, Erasure, PlanStep, Sealed
from coordination.errors import (
    AlreadyEnrolled,
    ConcurrencyConflict,
    Conflict,
    DomainError,
    InvalidCommand,
    NotFound,
    NotPermitted,
)
from coordination.group_commit import GroupCommit
from coordination.personnummer import InvalidPersonnummer, Personnummer, parse_personnummer
from coordination.ports import PersonalDataVault
from coordination.strict import clean_text

T = TypeVar("T")
GrantSpec = tuple[Party | str, Party | str, Iterable[str]]
MAX_ATTEMPTS = 8  # bounded retries of a version conflict before answering 409
KARTLAGGNING_WEEKS = 6  # Drivhuset's six-week kartläggning
ADMIN_REQUEST = "admin-request"  # the erasure reason when an admin gives none (ERASURE_REASONS)


class DateAsISO(Transcoding):
    """Stores calendar dates as ISO strings (the library covers datetimes, not dates)."""

    type = date
    name = "date_iso"

    def encode(self, obj: date) -> str:
        return obj.isoformat()

    def decode(self, data: str) -> date:
        return date.fromisoformat(data)


def utc_now() -> datetime:
    """The current instant, in UTC."""
    return datetime.now(UTC)


@dataclass(frozen=True)
class DecisionOutcome:
    """The decision's id, and whether this call stored it (False: the source_ref was already recorded)."""

    id: UUID
    created: bool


class CoordinationService(Application[UUID]):
    """Records and reads participants' shared cases. Configured only by the `env` it is given."""

    name = "Samverkan"

    def __init__(
        self,
        env: EnvType | None = None,
        *,
        vault: PersonalDataVault,
        clock: Callable[[], datetime] = utc_now,
        max_consent_months: int = DEFAULT_MAX_MONTHS,
        kartlaggning_weeks: int = KARTLAGGNING_WEEKS,
        group_commit_max_batch: int = 0,
        group_commit_window_s: float = 0.0,
    ) -> None:
        self.vault = vault
        self.clock = clock
        self.kartlaggning_weeks = kartlaggning_weeks
        # The library fast-forwards a cached case in place and copies it afterwards, outside its own lock; two
        # threads loading the same case at once could copy a half-updated case. Loads of one case take turns.
        self._load_locks = tuple(threading.Lock() for _ in range(64))
        self.max_consent_months = max_consent_months
        super().__init__(env)
        # Commands' changes share commits with concurrent ones (coordination/group_commit.py); 0: one each.
        self.group_commit = (
            GroupCommit(self.save, max_batch=group_commit_max_batch, window_s=group_commit_window_s)
            if group_commit_max_batch > 0
            else None
        )

    def close(self) -> None:
        if self.group_commit is not None:
            self.group_commit.close()
        super().close()

    def construct_env(self, name: str, env: EnvType | None = None) -> Environment:
        # Unlike the library default, never read os.environ: settings are read once, in adapters.
        return Environment(name, {**type(self).env, **(env or {})})

    def register_transcodings(self, transcoder: JSONTranscoder) -> None:
        super().register_transcodings(transcoder)
        transcoder.register(DateAsISO())

    # -- loading and saving ------------------------------------------------------------------------------------

    def get_case(self, case_id: UUID) -> Case:
        """The current state of a participant's case."""
        try:
            with self._load_locks[hash(case_id) % len(self._load_locks)]:
                case: Case = self.repository.get(case_id)
        except AggregateNotFoundError:
            raise NotFound("no participant with this id") from None
        return case

    def case_as_of(self, case_id: UUID, at: datetime) -> Case:
        """The case as it stood at `at`: events stored after it do not count."""
        events = [e for e in self.events.get(case_id) if cast(Case.Event, e).timestamp <= at]
        case = project_aggregate(None, events) if events else None
        if case is None:
            raise NotFound("no participant with this id at that instant")
        assert isinstance(case, Case)
        return case

    def _change(self, case_id: UUID, command: Callable[[Case, datetime], T]) -> T:
        """Runs `command` on the case and saves; on a version conflict, reloads and tries again.

        The first try runs on this process's cached copy without asking the database for newer events: if
        another worker wrote in between, the save conflicts (same version) and the retry runs on the newest
        version, so the gate never decides on stale consent. A refusal on the cached copy is judged again on
        the newest version too, so a consent just recorded elsewhere is never refused."""
        collided = False
        for attempt in range(MAX_ATTEMPTS):
            if collided:
                # Jittered back-off, so writers that collided do not collide again in lockstep.
                time.sleep(random.uniform(0, 0.005 * 2**attempt))  # noqa: S311 - not cryptographic
            case = self._cached_copy(case_id) if attempt == 0 else None
            fresh = case is None
            case = case or self.get_case(case_id)
            try:
                result = command(case, self.clock())
            except DomainError:
                if fresh:
                    raise
                continue
            if not case.pending_events:
                return result
            try:
                if self.group_commit is not None:
                    self.group_commit.submit(case)  # returns once the batch holding the change has committed
                else:
                    self.save(case)
            except RecordConflictError:
                collided = True
                continue
            self._remember(case)
            return result
        raise ConcurrencyConflict("the case was changed by others at the same time; try again")

    def _remember(self, case: Case) -> None:
        """Keeps the case as just saved in the cache (the library leaves the cache alone when fast-forwarding)."""
        cache = self.repository.cache
        if cache is None:
            return
        with self._load_locks[hash(case.id) % len(self._load_locks)]:
            try:
                newer = cache.get(case.id).version >= case.version
            except KeyError:
                newer = False
            if not newer:
                cache.put(case.id, case)

    def _cached_copy(self, case_id: UUID) -> Case | None:
        """A copy of the case as this process last saw it, without a database read; None when not cached."""
        cache = self.repository.cache
        if cache is None:
            return None
        with self._load_locks[hash(case_id) % len(self._load_locks)]:
            try:
                cached = cache.get(case_id)
            except KeyError:
                return None
            return cast(Case, copy.deepcopy(cached))

    def _seal(
        self,
        case_id: UUID,
        text: str | None,
        field: str,
        *,
        max_length: int = 10_000,
        party: Party | None = None,
        one_line: bool = False,
    ) -> Sealed | None:
        """Seals a field: a party's own text (`party`) under that party's key, so its gallring erases only it. The
        text must pass the strict text rule (coordination/strict.py; `one_line`: no line breaks) and is kept in NFC."""
        if text is None:
            return None
        text = _require_text(text, field, max_length, one_line=one_line)
        try:
            return self.vault.seal(case_id, text, party)
        except LookupError:
            # No key: the participant does not exist, or was erased (or the party's information was).
            case = self.get_case(case_id)
            if party is not None and not case.is_erased:
                raise Conflict(
                    f"{party.value}'s information about the participant has been erased; it records no more"
                ) from None
            raise Conflict("the participant's personal data has been erased; nothing more can be recorded") from None

    def _fingerprint(self, case_id: UUID, text: str) -> str:
        try:
            return self.vault.fingerprint(case_id, text)
        except LookupError:
            self.get_case(case_id)
            raise Conflict("the participant's personal data has been erased; nothing more can be recorded") from None

    def _sealed(
        self,
        case_id: UUID,
        text: str,
        field: str,
        *,
        max_length: int = 10_000,
        party: Party | None = None,
        one_line: bool = False,
    ) -> Sealed:
        token = self._seal(case_id, text, field, max_length=max_length, party=party, one_line=one_line)
        assert token is not None
        return token

    # -- enrolment and identity ---------------------------------------------------------------------------------

    def _parse(self, personnummer: str) -> Personnummer:
        try:
            return parse_personnummer(personnummer, today=local_date(self.clock()))
        except InvalidPersonnummer as error:
            raise InvalidCommand("personnummer", str(error)) from None

    def enrol(
        self,
        *,
        by: str,
        given_name: str,
        family_name: str,
        personnummer: str | None = None,
        birth_date: date | None = None,
        legal_gender: str | None = None,
        municipality: str | None = None,
        contact: Mapping[str, str] | None = None,
        baseline: Mapping[str, str] | None = None,
    ) -> UUID:
        """Enrols a participant; the personnummer is stored only encrypted and as a keyed hash. Someone without a
        Swedish number yet is enrolled on a reserve identity: name, birth date and legal gender."""
        if personnummer is not None:
            number = self._parse(personnummer)
            lookup: str | None = self.vault.lookup_hash(number.digits)
            birth_year, gender, shown = number.birth_year, str(number.legal_gender), number.formatted()
        else:
            birth_year, gender = _reserve_identity(birth_date, legal_gender, local_date(self.clock()))
            lookup, shown = None, None
        codes = follow_up_codes(baseline)
        case_id = uuid4()
        try:
            self.vault.provision(case_id, lookup)
        except AlreadyEnrolled as taken:
            if self._exists(taken.existing_id):
                raise
            # A lookup left behind by an enrolment that crashed before its event was stored: take it over.
            self.vault.erase(taken.existing_id)
            self.vault.provision(case_id, lookup)
        try:
            identity = {
                "given_name": self._sealed(case_id, given_name, "given_name", max_length=200, one_line=True),
                "family_name": self._sealed(case_id, family_name, "family_name", max_length=200, one_line=True),
            }
            if shown is not None:
                identity["personnummer"] = self.vault.seal(case_id, shown)
            else:
                assert birth_date is not None
                identity["birth_date"] = self.vault.seal(case_id, birth_date.isoformat())
            for key, value in (contact or {}).items():
                identity[f"contact.{key}"] = self._sealed(
                    case_id, value, f"contact.{key}", max_length=500, one_line=key != "address"
                )
            case = Case(
                id=case_id,
                identity=identity,
                birth_year=birth_year,
                gender=gender,
                municipality=municipality,
                baseline=codes,
                by=by,
                timestamp=self.clock(),
            )
            self.save(case)
        except BaseException:
            self.vault.erase(case_id)  # nothing half-written: no key or lookup without its case
            raise
        return case_id

    def add_personnummer(self, case_id: UUID, *, by: str, personnummer: str) -> None:
        """Adds the personnummer or samordningsnummer to a participant enrolled on a reserve identity; refused
        (409) when the number belongs to another participant or the case has one already."""
        number = self._parse(personnummer)
        if self.get_case(case_id).has_number:
            raise Conflict("the participant already has a personnummer or samordningsnummer")
        sealed = self._sealed(case_id, number.formatted(), "personnummer", max_length=20, one_line=True)
        self.vault.add_lookup(case_id, self.vault.lookup_hash(number.digits))
        try:
            self._change(
                case_id,
                lambda case, at: case.add_personnummer(sealed, number.birth_year, number.legal_gender, by, at),
            )
        except BaseException:
            self.vault.remove_lookup(case_id)  # the number stays free when the case did not take it
            raise

    def _exists(self, case_id: UUID) -> bool:
        try:
            self.get_case(case_id)
        except NotFound:
            return False
        return True

    def find_by_personnummer(self, personnummer: str) -> UUID | None:
        """The participant enrolled under this personnummer, if any."""
        return self.vault.find(self.vault.lookup_hash(self._parse(personnummer).digits))

    def read(self, case: Case, token: Sealed | None, party: Party | None = None) -> str | None:
        """Opens a sealed field of this case; None when absent or erased: the whole participant's personal data,
        or (`party`, whose field it is) that party's information."""
        if token is None or case.is_erased or (party is not None and case.is_party_erased(party)):
            return None
        return self.vault.unseal(case.id, token)

    def identity(self, case: Case) -> dict[str, str | None]:
        """The participant's identity fields in clear text (empty after erasure)."""
        return {key: self.read(case, token) for key, token in case.identity.items()}

    def birth_date(self, case: Case) -> date | None:
        """The participant's birth date, read from the sealed personnummer; when only partly known (samordningsnummer
        with month 00 or day 60) the latest it can be, so the under-18 guardian rule errs towards asking."""
        text = self.read(case, case.identity.get("personnummer"))
        if text is not None:
            return self._parse(text).latest_birth_date
        reserve = self.read(case, case.identity.get("birth_date"))  # enrolled without a number
        return None if reserve is None else date.fromisoformat(reserve)

    # -- referral and consent -----------------------------------------------------------------------------------

    def record_referral(
        self,
        case_id: UUID,
        *,
        by: str,
        remittent: str,
        reason: str,
        received_date: date,
        needs: Iterable[str] = (),
    ) -> None:
        """Records the remiss that brought the participant to the förbund."""
        sender = _party(remittent, "remittent")
        needed = tuple(_party(p, "needs") for p in needs)
        sealed = self._sealed(case_id, reason, "reason", party=Party.SF)
        self._change(case_id, lambda case, at: case.receive_referral(sender, sealed, received_date, needed, by, at))

    def record_consent(
        self,
        case_id: UUID,
        *,
        by: str,
        grants: Iterable[GrantSpec],
        purpose: str,
        valid_from: date,
        valid_until: date,
        form: ConsentForm,
        witness: str | None = None,
        document_ref: str | None = None,
        guardian: str | None = None,
        guardians: Iterable[str] = (),
    ) -> ConsentRef:
        """Records a samtycke after checking it against the consent rules. A minor's names one or two guardians
        (`guardian` and `guardians` together)."""
        expanded = _grants(grants)
        named = [g for g in (guardian, *guardians) if g is not None]
        case = self.get_case(case_id)
        problems = consent_problems(
            grants=expanded,
            purpose=purpose,
            valid_from=valid_from,
            valid_until=valid_until,
            form=form,
            witness=witness,
            guardian_named=any(g.strip() for g in named),
            birth_date=self.birth_date(case),
            max_months=self.max_consent_months,
            document_ref=document_ref,
            guardians=len(named),
        )
        if problems:
            raise InvalidCommand(problems[0].field, problems[0].message)
        consent_id = uuid4()
        sealed_purpose = self._sealed(case_id, purpose, "purpose", max_length=1000)
        sealed_witness = self._seal(case_id, witness, "witness", max_length=200, one_line=True)
        first, second = [*named, None, None][:2]
        sealed_guardian = self._seal(case_id, first, "guardian", max_length=200, one_line=True)
        sealed_second = self._seal(case_id, second, "guardians", max_length=200, one_line=True)
        sealed_document = self._seal(case_id, document_ref, "document_ref", max_length=200, one_line=True)
        return self._change(
            case_id,
            lambda case, at: case.record_consent(
                consent_id,
                expanded,
                sealed_purpose,
                valid_from,
                valid_until,
                form,
                sealed_witness,
                sealed_document,
                sealed_guardian,
                by,
                at,
                sealed_second,
            ),
        )

    def withdraw_consent(
        self,
        case_id: UUID,
        consent_id: UUID,
        *,
        by: str,
        grants: Iterable[GrantSpec] | None = None,
        reason: str | None = None,
    ) -> ConsentRef:
        """Withdraws a consent, whole (grants None) or grant by grant, effective at once."""
        chosen = None if grants is None else _grants(grants)
        sealed = self._seal(case_id, reason, "reason", max_length=2000)
        return self._change(case_id, lambda case, at: case.withdraw_consent(consent_id, chosen, sealed, by, at))

    def consents(self, case: Case) -> list[Consent]:
        """The case's consents, oldest first."""
        return sorted(case.consents.values(), key=lambda c: c.recorded_at)

    # -- blocks (spärr) -----------------------------------------------------------------------------------------

    def place_block(
        self, case_id: UUID, *, by: str, agency: str, category: str | None = None, recipient: str | None = None
    ) -> UUID:
        """Blocks, at the participant's request, the agency's own information of `category` (None: all of it)
        towards `recipient` (None: all other parties); returns the block's id. Effective from the next read."""
        party = _party(agency, "agency")
        if category is not None and not is_known_category(category):
            raise InvalidCommand("category", "unknown category; see the catalogue of categories")
        to = None if recipient is None else _party(recipient, "recipient")
        block_id = uuid4()
        self._change(case_id, lambda case, at: case.place_block(block_id, party, category, to, by, at))
        return block_id

    def lift_block(self, case_id: UUID, block_id: UUID, *, by: str, agency: str) -> None:
        """Lifts a block; only the party that placed it may."""
        party = _party(agency, "agency")
        self._change(case_id, lambda case, at: case.lift_block(block_id, party, by, at))

    # -- emergency access (nödåtkomst) ----------------------------------------------------------------------------

    def open_emergency_access(
        self, case_id: UUID, *, by: str, agency: str, reason: str, note: str, minutes: int
    ) -> EmergencyAccess:
        """Opens, for user `by` of `agency`, the other parties' information about the participant without a
        consent for `minutes` minutes: the reason from EMERGENCY_REASONS and a note are required (the note is
        sealed). Blocks still apply; every read in the window is logged as emergency access."""
        party = _party(agency, "agency")
        code = (reason or "").strip().lower()
        if code not in EMERGENCY_REASONS:
            raise InvalidCommand("reason", f"give one of the emergency reasons: {', '.join(EMERGENCY_REASONS)}")
        if len((note or "").strip()) < EMERGENCY_NOTE_MIN_LENGTH:
            raise InvalidCommand(
                "note", f"say why the information is needed now (at least {EMERGENCY_NOTE_MIN_LENGTH} characters)"
            )
        if not 1 <= minutes <= 24 * 60:
            raise InvalidCommand("minutes", "must be a number of minutes from 1")
        access_id = uuid4()
        sealed = self._sealed(case_id, note, "note", max_length=2_000)

        def command(case: Case, at: datetime) -> EmergencyAccess:
            case.open_emergency_access(access_id, party, by, code, sealed, at + timedelta(minutes=minutes), at)
            return case.emergency_accesses[access_id]

        return self._change(case_id, command)

    # -- agency decisions ---------------------------------------------------------------------------------------

    def record_decision(
        self,
        case_id: UUID,
        *,
        by: str,
        agency: str,
        category: str,
        decision_type: str,
        effective_date: date,
        summary: str,
        source_ref: str,
        attributes: Mapping[str, Any] | None = None,
        corrects: UUID | None = None,
    ) -> DecisionOutcome:
        """Adds an agency's decision while consent lets it share it with the förbund (idempotent on source_ref)."""
        party = _party(agency, "agency")
        code, checked, source_ref, sealed, fingerprint = self.decision_inputs(
            case_id, party, category, decision_type, attributes, summary, source_ref
        )
        decision_id = uuid4()
        found_id, created = self._change(
            case_id,
            lambda case, at: case.record_decision(
                decision_id,
                party,
                category,
                code,
                effective_date,
                sealed,
                fingerprint,
                checked,
                by,
                at,
                corrects=corrects,
                earlier_refs=(source_ref,),
            ),
        )
        return DecisionOutcome(found_id, created)

    def decision_inputs(
        self,
        case_id: UUID,
        party: Party,
        category: str,
        decision_type: str,
        attributes: Mapping[str, Any] | None,
        summary: str,
        source_ref: str,
    ) -> tuple[str, dict[str, Any], str, Sealed, str]:
        """The checks of a decision made before its case is read, in this order and with these errors (also for a
        batch: coordination/bulk.py): (decision type code, checked attributes, source_ref, sealed summary, the
        source_ref's fingerprint)."""
        if not is_known_category(category):
            raise InvalidCommand("category", "unknown category; see the catalogue of categories")
        if not is_own_category(party, category):
            # Refused whatever the rest of the decision says: a party records only its own information.
            raise NotPermitted(f"{party.value} records decisions only in its own category, not {category!r}")
        code = decision_type_code(category, decision_type)
        checked = checked_attributes(category, code, attributes)
        source_ref = _require_text(source_ref, "source_ref", 200, one_line=True)
        sealed = self._sealed(case_id, summary, "summary", party=party)
        # The agency's reference is kept only as a keyed fingerprint (gone with the participant's key); the text
        # itself is compared with references stored in clear before fingerprints were introduced.
        fingerprint = self._fingerprint(case_id, source_ref)
        return code, checked, source_ref, sealed, fingerprint

    def retract_decision(self, case_id: UUID, decision_id: UUID, *, by: str, agency: str, reason: str) -> None:
        """Retracts a decision the same agency recorded."""
        party = _party(agency, "agency")
        sealed = self._sealed(case_id, reason, "reason", max_length=2000, party=party)
        self._change(case_id, lambda case, at: case.retract_decision(decision_id, party, sealed, by, at))

    def visible_decisions(
        self, case: Case, reader: str, at: datetime | None = None
    ) -> list[tuple[DecisionState, ConsentRef | None]]:
        """The decisions `reader` may see at `at` (default now), each with the consent that allows it."""
        return visible(
            case.consents.values(),
            _party(reader, "reader"),
            case.decisions.values(),
            at or self.clock(),
            case.blocks.values(),
        )

    # -- plan, interventions, meetings, closure, erasure -------------------------------------------------------

    def revise_plan(
        self, case_id: UUID, *, by: str, goals: Iterable[str], steps: Iterable[tuple[str, str, date]]
    ) -> int:
        """Records a new version of the handlingsplan; steps are (agency, description, due)."""
        sealed_goals = tuple(self._sealed(case_id, g, "goals", max_length=2000, party=Party.SF) for g in goals)
        sealed_steps = tuple(
            PlanStep(
                _party(a, "steps.agency"),
                self._sealed(case_id, d, "steps.description", max_length=2000, party=Party.SF),
                due,
            )
            for a, d, due in steps
        )
        return self._change(case_id, lambda case, at: case.revise_plan(sealed_goals, sealed_steps, by, at))

    def start_intervention(
        self,
        case_id: UUID,
        *,
        by: str,
        kind: str,
        start_date: date,
        provider_agency: str,
        planned_end: date | None = None,
    ) -> UUID:
        """Starts an insats; returns its id. A kartläggning is planned to end `kartlaggning_weeks` after its start
        unless another planned end is given."""
        code = intervention_kind(kind)
        provider = _party(provider_agency, "provider_agency")
        if planned_end is None and code == KARTLAGGNING:
            planned_end = start_date + timedelta(weeks=self.kartlaggning_weeks)
        intervention_id = uuid4()
        self._change(
            case_id,
            lambda case, at: case.start_intervention(
                intervention_id, code, start_date, provider, by, at, planned_end=planned_end
            ),
        )
        return intervention_id

    def end_intervention(
        self, case_id: UUID, intervention_id: UUID, *, by: str, end_date: date, reason: str | None = None
    ) -> None:
        """Ends an insats."""
        sealed = self._seal(case_id, reason, "reason", max_length=2000, party=Party.SF)
        self._change(case_id, lambda case, at: case.end_intervention(intervention_id, end_date, sealed, by, at))

    def record_meeting(
        self,
        case_id: UUID,
        *,
        by: str,
        day: date,
        agencies_present: Iterable[str],
        attended: bool,
        notes: str | None = None,
        kind: str = MEETING,
    ) -> UUID:
        """Records a joint meeting (or home visit) held, or missed (attended False), without booking it first;
        returns its id."""
        present = tuple(_party(p, "agencies_present") for p in agencies_present)
        sealed = self._seal(case_id, notes, "notes", party=Party.SF)
        meeting_id = uuid4()
        self._change(
            case_id, lambda case, at: case.record_meeting(meeting_id, day, present, attended, sealed, by, at, kind)
        )
        return meeting_id

    def book_meeting(
        self, case_id: UUID, *, by: str, day: date, agencies_invited: Iterable[str], kind: str = MEETING
    ) -> UUID:
        """Books a meeting (or a home visit) with the parties invited; returns its id."""
        invited = tuple(_party(p, "agencies_invited") for p in agencies_invited)
        if day < local_date(self.clock()):
            raise InvalidCommand("date", "a booking is for today or later; record a past meeting as held or missed")
        meeting_id = uuid4()
        self._change(case_id, lambda case, at: case.book_meeting(meeting_id, day, invited, kind, by, at))
        return meeting_id

    def record_meeting_outcome(
        self,
        case_id: UUID,
        meeting_id: UUID,
        *,
        by: str,
        attended: bool,
        agencies_present: Iterable[str] = (),
        notes: str | None = None,
    ) -> None:
        """Records that a booked meeting was held (with the parties present) or missed."""
        present = tuple(_party(p, "agencies_present") for p in agencies_present)
        sealed = self._seal(case_id, notes, "notes", party=Party.SF)
        self._change(
            case_id, lambda case, at: case.record_meeting_outcome(meeting_id, present, attended, sealed, by, at)
        )

    def close_case(
        self,
        case_id: UUID,
        *,
        by: str,
        outcome: str,
        closed_date: date,
        follow_up: Mapping[str, str] | None = None,
        end_interventions: tuple[date, str | None] | None = None,
    ) -> None:
        """Closes the case with its outcome and the follow-up codes after (support_after, occupation_after).
        Refused while insatser run, unless `end_interventions` (end date, reason) ends them in the same act."""
        codes = follow_up_codes(follow_up)
        ending = None
        if end_interventions is not None:
            reason = self._seal(case_id, end_interventions[1], "reason", max_length=2000, party=Party.SF)
            ending = (end_interventions[0], reason)
        self._change(case_id, lambda case, at: case.close(outcome, closed_date, by, at, codes, ending))

    def erase_personal_data(self, case_id: UUID, *, by: str, reason: str = ADMIN_REQUEST) -> None:
        """Erases the participant's personal data: records the erasure (with its reason code), then deletes the key
        and lookup hash.

        The event goes first so that a crash in between leaves a case marked erased whose key a retry deletes;
        never a deleted key on a case that still claims to be readable.
        """
        self.record_erasure(case_id, by=by, reason=reason)
        self.delete_erased_key(case_id)

    def record_erasure(
        self, case_id: UUID, *, by: str, reason: str, party: Party | str | None = None
    ) -> tuple[Erasure, bool]:
        """Records that the participant's personal data (party None), or one party's own information, is erased,
        with a reason code from ERASURE_REASONS. Returns the erasure and whether this call recorded it (False: it
        already was, or the whole participant's was). `delete_erased_key` then deletes the key."""
        if reason not in ERASURE_REASONS:
            raise InvalidCommand("reason", f"use one of {', '.join(ERASURE_REASONS)}")
        who = None if party is None else _party(str(party), "party")

        def command(case: Case, at: datetime) -> tuple[Erasure, bool]:
            done = case.erasure(None) or (None if who is None else case.erasure(who))
            if done is not None:
                return done, False
            if who is None:
                case.erase_personal_data(by, at, reason)
            else:
                case.erase_party_data(who, reason, by, at)
            made = case.erasure(who)
            assert made is not None
            return made, True

        return self._change(case_id, command)

    def delete_erased_key(self, case_id: UUID, party: Party | None = None) -> None:
        """Deletes the key of a recorded erasure: the participant's (with its parties' keys and the lookup hash),
        or one party's. Idempotent; refused (Conflict) when the case does not record that erasure, so a key is
        never deleted under a case that still claims to be readable."""
        case = self.get_case(case_id)
        if case.is_erased:
            self.vault.erase(case_id)
        elif party is not None and case.is_party_erased(party):
            self.vault.erase_party(case_id, party)
        else:
            raise Conflict("record the erasure first: its key is deleted only once the case says it is erased")


def _party(value: str, field: str) -> Party:
    try:
        return Party(value)
    except ValueError:
        raise InvalidCommand(field, f"unknown party {value!r}; use one of FK, AF, REGION, KOMMUN, SF") from None


def _grants(items: Iterable[GrantSpec]) -> tuple[Any, ...]:
    specs = [(_party(str(a), "grants.from"), _party(str(b), "grants.to"), list(c)) for a, b, c in items]
    for _, _, categories in specs:
        if not categories:
            raise InvalidCommand("grants.categories", "name at least one category per grant")
    return expand_grants(specs)


def _reserve_identity(birth_date: date | None, legal_gender: str | None, today: date) -> tuple[int, str]:
    """(birth year, legal gender) of a reserve identity, checked."""
    if birth_date is None:
        raise InvalidCommand(
            "personnummer", "give the personnummer, or (without one) birth_date and legal_gender: a reserve identity"
        )
    if birth_date > today or birth_date.year < today.year - 120:
        raise InvalidCommand("birth_date", "must be a real birth date, not in the future")
    if legal_gender not in ("female", "male"):
        raise InvalidCommand("legal_gender", "use female or male (as in the person's papers)")
    return birth_date.year, legal_gender


def _require_text(value: str, field: str, max_length: int, *, one_line: bool = False) -> str:
    """`value` in NFC when it passes the strict text rule (coordination/strict.py) and is short enough."""
    try:
        text = clean_text(value, several_lines=not one_line)
    except ValueError as wrong:
        raise InvalidCommand(field, str(wrong)) from None  # the rule's message never repeats the input
    if len(text) > max_length:
        raise InvalidCommand(field, f"must be at most {max_length} characters")
    return text
