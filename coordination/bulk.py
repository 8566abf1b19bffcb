"""Recording many agency decisions at once (an import): the same rules and the same gate as
`CoordinationService.record_decision`, with one transaction for a whole batch instead of one per decision.

For each row of a batch, in order:
1. the checks `record_decision` makes before it touches the case, with the same errors: the category is known
   and the agency's own (NotPermitted otherwise), the decision type and its attributes are in the catalogue, the
   source_ref passes the strict text rule, the summary is sealed under the agency's key for the participant, and
   the source_ref is kept as the participant's keyed fingerprint;
2. the case is loaded once per batch (several rows of one case apply in order to the same aggregate, so a later
   row sees an earlier one: its source_ref, a decision the gate allowed), and the domain (`Case.record_decision`,
   the consent gate) judges the row on its case. A refusal leaves the aggregate as it was and affects only its row.
   As in `CoordinationService._change`, a case is first taken as this process last saw it (a copy from its cache,
   no database read), and a row refused on such a copy is judged again on the case read from the database.

Then every case that changed is saved in ONE `service.save(*cases)` transaction. If another writer changed one
of the cases meanwhile (RecordConflictError: the save is an optimistic insert at the next version), nothing of
the batch was stored, and the whole batch is judged again on cases read from the database, so the gate never
decides on stale consent. A row's outcome is returned only once that
transaction has committed: nothing is reported recorded that is not durable. Idempotency is the single path's:
a source_ref already recorded on the case (by an earlier batch, an earlier run, or an earlier row of this batch)
stores nothing and reports `created=False`, so a batch interrupted anywhere (the process killed) is finished by
running it again.
"""

from __future__ import annotations

import random
import time
from collections.abc import Mapping, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from datetime import date
from typing import Any
from uuid import UUID, uuid4

from eventsourcing.persistence import RecordConflictError

from consent import Party
from coordination.application import (
    MAX_ATTEMPTS,
    CoordinationService,
    DecisionOutcome,
    _party,
)
from coordination.domain import Case, Sealed
from coordination.errors import ConcurrencyConflict, DomainError

__all__ = ["CheckedBatch", "DecisionRow", "RowOutcome", "check_decisions", "record_checked", "record_decisions"]

RowOutcome = DecisionOutcome | DomainError  # per row: stored (or already known), or why not
CHECK_THREADS = 8  # slices of a batch checked and sealed side by side (a first seal reads or makes keys)


@dataclass(frozen=True)
class DecisionRow:
    """One decision to record: the arguments of `CoordinationService.record_decision` for one case."""

    case_id: UUID
    category: str
    decision_type: str
    effective_date: date
    summary: str
    source_ref: str
    attributes: Mapping[str, Any] | None = None


@dataclass(frozen=True)
class _Checked:
    """A row that passed the checks made before the case is read: what the domain is given."""

    decision_id: UUID
    case_id: UUID
    category: str
    code: str
    effective_date: date
    sealed: Sealed
    fingerprint: str
    source_ref: str
    attributes: dict[str, Any]


def record_decisions(
    service: CoordinationService, rows: Sequence[DecisionRow], *, by: str, agency: str
) -> list[RowOutcome]:
    """Records a batch of one agency's decisions (by user `by`) through the gate in one transaction.

    Returns, for each row in order, the DecisionOutcome (created False: the source_ref was already recorded) or
    the DomainError that refused it (InvalidCommand, NotPermitted, ConsentRequired, NotFound, Conflict), as
    `record_decision` would have raised it. Returns after the commit; storage errors propagate (then nothing of
    the batch is stored). ConcurrencyConflict when the batch collided with other writers MAX_ATTEMPTS times."""
    return record_checked(service, check_decisions(service, rows, agency=agency), by=by)


@dataclass(frozen=True)
class CheckedBatch:
    """A batch after the checks made before any case is read (`check_decisions`), ready for `record_checked`."""

    party: Party
    rows: Sequence[_Checked | DomainError]


def check_decisions(service: CoordinationService, rows: Sequence[DecisionRow], *, agency: str) -> CheckedBatch:
    """The first half of `record_decisions`: each row's checks, sealing and fingerprint; nothing is stored but the
    participants' keys. An importer may check the next batch while the previous one is being recorded."""
    party = _party(agency, "agency")
    return CheckedBatch(party, _check_all(service, party, rows))


def record_checked(service: CoordinationService, batch: CheckedBatch, *, by: str) -> list[RowOutcome]:
    """The second half of `record_decisions`: each row judged on its case, the changed cases saved together."""
    party, checked = batch.party, batch.rows
    fresh: set[UUID] = set()  # cases to load from the database, not from this process's cache
    every_case_fresh = collided = False
    for attempt in range(MAX_ATTEMPTS):
        if collided:
            # Jittered back-off, so writers that collided do not collide again in lockstep.
            time.sleep(random.uniform(0, 0.005 * 2**attempt))  # noqa: S311 - not cryptographic
        outcomes, cases, stale = _judge(service, party, by, checked, fresh, every_case=every_case_fresh)
        while stale:
            # A refusal on a cached copy is judged again on the newest version (as `_change` does), so a consent
            # just recorded by another process is never refused.
            fresh |= stale
            outcomes, cases, stale = _judge(service, party, by, checked, fresh, every_case=every_case_fresh)
        changed = [case for case in cases if case.pending_events]
        if not changed:
            return outcomes
        try:
            service.save(*changed)
        except RecordConflictError:
            # Another writer changed one of the cases since this process last saw it: nothing of the batch was
            # stored; judge it all again on the newest versions.
            collided = every_case_fresh = True
            continue
        for case in changed:
            service._remember(case)
        return outcomes
    raise ConcurrencyConflict("the cases were changed by others at the same time; try again")


def _check_all(service: CoordinationService, party: Party, rows: Sequence[DecisionRow]) -> list[_Checked | DomainError]:
    """`_check` of every row. The rows' checks are independent, and sealing may first have to read (or make) a
    participant's keys: the rows are checked in a few slices side by side, so those round trips overlap."""
    if len(rows) < 2 * CHECK_THREADS:
        return [_check(service, party, row) for row in rows]
    size = -(-len(rows) // CHECK_THREADS)
    slices = [rows[start : start + size] for start in range(0, len(rows), size)]
    with ThreadPoolExecutor(len(slices), thread_name_prefix="samverkan-bulk") as pool:
        done = list(pool.map(lambda part: [_check(service, party, row) for row in part], slices))
    return [checked for part in done for checked in part]


def _check(service: CoordinationService, party: Party, row: DecisionRow) -> _Checked | DomainError:
    """The checks of `record_decision` before the case (CoordinationService.decision_inputs), or the refusal."""
    try:
        code, attributes, source_ref, sealed, fingerprint = service.decision_inputs(
            row.case_id, party, row.category, row.decision_type, row.attributes, row.summary, row.source_ref
        )
    except DomainError as refused:
        return refused
    return _Checked(
        uuid4(), row.case_id, row.category, code, row.effective_date, sealed, fingerprint, source_ref, attributes
    )


def _judge(
    service: CoordinationService,
    party: Party,
    by: str,
    checked: Sequence[_Checked | DomainError],
    fresh: set[UUID],
    *,
    every_case: bool,
) -> tuple[list[RowOutcome], list[Case], set[UUID]]:
    """Each row judged by the domain on its case, loaded once for the batch: a copy of the case as this process
    last saw it (no database read; a newer version elsewhere makes the save conflict), or from the database for
    the cases in `fresh` (or `every_case`). Returns the outcomes, the cases, and the cached cases with a refusal."""
    cases: dict[UUID, Case | DomainError] = {}
    cached: set[UUID] = set()
    stale: set[UUID] = set()
    outcomes: list[RowOutcome] = []
    for row in checked:
        if isinstance(row, DomainError):
            outcomes.append(row)
            continue
        case = cases.get(row.case_id)
        if case is None:
            copy = None if every_case or row.case_id in fresh else service._cached_copy(row.case_id)
            if copy is not None:
                case = copy
                cached.add(row.case_id)
            else:
                try:
                    case = service.get_case(row.case_id)
                except DomainError as missing:
                    case = missing
            cases[row.case_id] = case
        if isinstance(case, DomainError):
            outcomes.append(case)
            continue
        try:
            found_id, created = case.record_decision(
                row.decision_id,
                party,
                row.category,
                row.code,
                row.effective_date,
                row.sealed,
                row.fingerprint,
                row.attributes,
                by,
                service.clock(),
                earlier_refs=(row.source_ref,),
            )
        except DomainError as refused:  # the gate, a closed case, erased data: the case is as it was
            outcomes.append(refused)
            if row.case_id in cached:
                stale.add(row.case_id)
            continue
        outcomes.append(DecisionOutcome(found_id, created))
    return outcomes, [case for case in cases.values() if isinstance(case, Case)], stale
