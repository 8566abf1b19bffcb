"""Recording that the disclosure log must see: an agency decision (a refusal is logged without its content) and
the erasure of a participant's personal data. HTTP routes and the importer call these, never the log directly."""

from __future__ import annotations

from datetime import date
from typing import Any
from uuid import UUID

from adapters.access import Caller
from adapters.disclosure_log import ERASURE, DisclosureLog, EntryDraft, refused_recording
from coordination import ConsentRequired, CoordinationService, DecisionOutcome, NotPermitted


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


def erase_personal_data(service: CoordinationService, log: DisclosureLog, caller: Caller, participant_id: UUID) -> None:
    """Erases the participant's personal data (by deleting its key) and logs who did it; the history stays."""
    service.erase_personal_data(participant_id, by=caller.user_id)
    log.append(
        EntryDraft(
            ERASURE, caller.actor, caller.request_id, caller.purpose, participant_id=participant_id, outcome="erased"
        )
    )
