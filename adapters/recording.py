"""Recording that the disclosure log must see: an agency decision (a refusal is logged without its content) and
the erasure of a participant's personal data. HTTP routes call these, never the log directly (the importer records a
batch at a time through coordination/bulk.py and logs its refusals with the same `refused_recording` entries)."""

from __future__ import annotations

from datetime import date
from typing import Any
from uuid import UUID

from adapters.access import Caller
from adapters.disclosure_log import (
    EMERGENCY_ACCESS,
    ERASURE,
    REVIEW_MARK,
    DisclosureLog,
    EntryDraft,
    LogFilter,
    refused_recording,
)
from adapters.review import OUTCOMES, REVIEWED_KINDS
from consent import EmergencyAccess, Party
from coordination import (
    Conflict,
    ConsentRequired,
    CoordinationService,
    DecisionOutcome,
    Erasure,
    InvalidCommand,
    NotFound,
    NotPermitted,
)
from coordination.application import ADMIN_REQUEST
from coordination.strict import clean_text


def record_decision(
    service: CoordinationService,
    log: DisclosureLog,
    caller: Caller,
    participant_id: UUID,
    *,
    category: str,
    decision_type: str,
    effective_date: date,
    summary: str,
    source_ref: str,
    attributes: dict[str, Any] | None = None,
    corrects: UUID | None = None,
    **details: Any,
) -> DecisionOutcome:
    """Records the caller's agency's decision through the gate; a refusal (missing consent, another party's
    category) is logged first — who tried which category and why, never the content — then raised."""
    try:
        return service.record_decision(
            participant_id,
            by=caller.user_id,
            agency=caller.agency.value,
            category=category,
            decision_type=decision_type,
            effective_date=effective_date,
            summary=summary,
            source_ref=source_ref,
            attributes=attributes,
            corrects=corrects,
        )
    except (ConsentRequired, NotPermitted) as refused:
        log.append(
            refused_recording(
                caller.actor, caller.request_id, caller.purpose, participant_id, category, refused, **details
            )
        )
        raise


def erase_personal_data(
    service: CoordinationService,
    log: DisclosureLog,
    caller: Caller,
    participant_id: UUID,
    *,
    reason: str = ADMIN_REQUEST,
    party: Party | None = None,
    **details: Any,
) -> Erasure:
    """Erases the participant's personal data, or (`party`) one party's own information, by deleting its key; the
    history stays. First the erasure event (with its reason code), then the log entry (who, the reason, the party:
    never content), then the key: so an erasure interrupted anywhere is finished by running it again, which deletes
    the key and appends the entry only if the log does not hold it yet (docs/retention.md)."""
    erasure, recorded = service.record_erasure(participant_id, by=caller.user_id, reason=reason, party=party)
    if recorded or not _erasure_logged(log, participant_id, erasure):
        log.append(
            EntryDraft(
                ERASURE,
                caller.actor,
                caller.request_id,
                caller.purpose,
                participant_id=participant_id,
                outcome="erased",
                reason=erasure.reason,
                details={
                    "party": None if erasure.party is None else erasure.party.value,
                    "erased_at": erasure.at.isoformat(),
                    **details,
                },
            )
        )
    service.delete_erased_key(participant_id, erasure.party)
    return erasure


def _erasure_logged(log: DisclosureLog, participant_id: UUID, erasure: Erasure) -> bool:
    """True when the log already holds the entry of this erasure (an interrupted one may lack it)."""
    party = None if erasure.party is None else erasure.party.value
    at = erasure.at.isoformat()
    for entry in log.entries(LogFilter(participant_id=participant_id)):
        details = entry.get("details") or {}
        # Entries written before erasures had reasons name no party and no instant: they are whole erasures.
        if entry.get("kind") == ERASURE and details.get("party") == party and details.get("erased_at", at) == at:
            return True
    return False


def open_emergency_access(
    service: CoordinationService,
    log: DisclosureLog,
    caller: Caller,
    participant_id: UUID,
    *,
    reason: str | None,
    note: str | None,
    minutes: int,
) -> EmergencyAccess:
    """Opens an emergency access (nödåtkomst) for the caller and logs it (the reason code and the window, never
    the note); an attempt without a reason or a note is logged as refused, then raised."""
    try:
        opened = service.open_emergency_access(
            participant_id,
            by=caller.user_id,
            agency=caller.agency.value,
            reason=reason or "",
            note=note or "",
            minutes=minutes,
        )
    except (InvalidCommand, NotPermitted) as refused:
        field = getattr(refused, "field", None)
        log.append(
            EntryDraft(
                EMERGENCY_ACCESS,
                caller.actor,
                caller.request_id,
                "nodatkomst",
                participant_id=participant_id,
                outcome="refused",
                reason=f"invalid-{field}" if field else "not-permitted",
            )
        )
        raise
    log.append(
        EntryDraft(
            EMERGENCY_ACCESS,
            caller.actor,
            caller.request_id,
            "nodatkomst",
            participant_id=participant_id,
            outcome="opened",
            details={"emergency": {"id": str(opened.id), "reason": opened.reason, "until": opened.until.isoformat()}},
        )
    )
    return opened


def mark_reviewed(
    service: CoordinationService, log: DisclosureLog, caller: Caller, seq: int, *, outcome: str, comment: str | None
) -> dict[str, Any]:
    """Marks log entry `seq` reviewed (granskning): an appended, hash-chained entry naming the reviewed seq, the
    outcome (adapters/review.OUTCOMES) and the reviewer's comment sealed under the participant's key, so that
    erasing the participant erases the comment too. A later mark of the same entry supersedes an earlier one."""
    code = (outcome or "").strip().lower()
    if code not in OUTCOMES:
        raise InvalidCommand("outcome", f"use one of {', '.join(OUTCOMES)}")
    if comment is not None and len(comment) > 2_000:  # noqa: PLR2004 - the documented limit
        raise InvalidCommand("comment", "must be at most 2000 characters")
    if comment is not None and comment.strip():
        try:
            comment = clean_text(comment, several_lines=True)  # the strict text rule; an empty comment is none
        except ValueError as wrong:
            raise InvalidCommand("comment", str(wrong)) from None
    entry = log.entry(seq)
    if entry is None:
        raise NotFound("no log entry with this seq")
    if entry.get("kind") not in REVIEWED_KINDS:
        raise InvalidCommand("seq", "only reads and emergency accesses are reviewed; this entry is of another kind")
    pid = entry.get("participant_id")
    sealed = None
    if comment is not None and comment.strip():
        if pid is None:
            raise InvalidCommand("comment", "an entry about no one participant takes no comment; give the outcome only")
        try:
            sealed = service.vault.seal(UUID(pid), comment.strip())
        except LookupError:
            raise Conflict(
                "the participant's personal data has been erased; mark the entry without a comment"
            ) from None
    return log.append(
        EntryDraft(
            REVIEW_MARK,
            caller.actor,
            caller.request_id,
            caller.purpose,
            participant_id=None if pid is None else UUID(pid),
            outcome="reviewed",
            details={"seq": seq, "outcome": code, "comment": sealed},
        )
    )
