"""What a reader may see of a case, built by asking the gate; and the disclosure entries that go with it."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any
from uuid import UUID

from adapters.disclosure_log import Disclosed
from consent import Allowed, Party, may_see, visible
from coordination import Case, CoordinationService, DecisionState


@dataclass(frozen=True)
class CoordinationItem:
    """A piece of the förbund's own record (referral, plan, insats, meeting, closure), for the gate."""

    id: Any
    recorded_at: datetime
    agency: Party = Party.SF
    category: str = "coordination"


@dataclass(frozen=True)
class View:
    """A reader's view of a case and what it disclosed."""

    body: dict[str, Any]
    disclosed: list[Disclosed]

    @property
    def empty(self) -> bool:
        return not self.disclosed


def _participant(service: CoordinationService, case: Case) -> dict[str, Any]:
    identity = service.identity(case)
    status = "erased" if case.is_erased else "closed" if case.is_closed else "open"
    return {
        "id": case.id,
        "personnummer": identity.get("personnummer"),
        "given_name": identity.get("given_name"),
        "family_name": identity.get("family_name"),
        "status": status,
    }


def listed_decisions(case: Case, rows: Sequence[dict[str, Any]]) -> list[DecisionState]:
    """The decisions of the projection's rows, in log order, each as the case holds it now (its status is the
    newest), followed by any the projection has not reached yet: a view is never behind the log."""
    listed: list[DecisionState] = []
    for row in rows:
        decision = case.decisions.get(UUID(row["decision_id"]))
        if decision is not None:
            listed.append(decision)
    seen = {d.id for d in listed}
    listed.extend(d for d in case.decisions.values() if d.id not in seen)
    return listed


def build_view(
    service: CoordinationService,
    case: Case,
    reader: Party,
    at: datetime,
    as_of: datetime | None,
    rows: Sequence[dict[str, Any]] = (),
) -> View:
    """The reader's agency view at `at`: its own decisions, others' under active grants, and the coordination
    record under SF -> reader grants (the förbund always sees its own). The gate decides against the consent
    the case holds at `at`, never against the projection."""
    consents = list(case.consents.values())
    disclosed: list[Disclosed] = []
    decisions = []
    for decision, ref in visible(consents, reader, listed_decisions(case, rows), at):
        retracted = decision.status == "retracted"
        decisions.append(
            {
                "id": decision.id,
                "agency": decision.agency.value,
                "category": decision.category,
                "decision_type": decision.decision_type,
                "effective_date": decision.effective_date,
                # A retracted decision was wrong: show that it was withdrawn, not what it said.
                "summary": None if retracted else service.read(case, decision.summary),
                "status": decision.status,
                "consent_id": None if ref is None else ref.consent_id,
                "consent_version": None if ref is None else ref.version,
                "recorded_at": decision.recorded_at,
                "corrects": decision.corrects,
                "corrected_by": decision.corrected_by,
            }
        )
        disclosed.append(
            Disclosed(
                decision.id,
                decision.agency.value,
                decision.category,
                None if ref is None else ref.consent_id,
                None if ref is None else ref.version,
            )
        )
    coordination = _coordination(service, case, reader, at, consents, disclosed)
    body = {
        "participant": _participant(service, case),
        "reader": reader.value,
        "as_of": as_of,
        "decisions": decisions,
        "coordination": coordination,
    }
    return View(body, disclosed)


def _coordination(
    service: CoordinationService,
    case: Case,
    reader: Party,
    at: datetime,
    consents: list[Any],
    disclosed: list[Disclosed],
) -> dict[str, Any] | None:
    shown: dict[str, Any] = {}

    def allow(item_id: Any, recorded_at: datetime) -> bool:
        verdict = may_see(consents, reader, CoordinationItem(item_id, recorded_at), at)
        if not isinstance(verdict, Allowed):
            return False
        ref = verdict.consent
        disclosed.append(
            Disclosed(
                item_id,
                Party.SF.value,
                "coordination",
                None if ref is None else ref.consent_id,
                None if ref is None else ref.version,
            )
        )
        return True

    if case.referral is not None and allow(f"{case.id}:referral", case.referral.recorded_at):
        shown["referral"] = {
            "remittent": case.referral.remittent.value,
            "reason": service.read(case, case.referral.reason),
            "received_date": case.referral.received_date,
            "needs": [p.value for p in case.referral.needs],
        }
    if case.plans and allow(f"{case.id}:plan:{case.plans[-1].version}", case.plans[-1].recorded_at):
        plan = case.plans[-1]
        shown["plan"] = {
            "version": plan.version,
            "goals": [service.read(case, g) for g in plan.goals],
            "steps": [
                {"agency": s.agency.value, "description": service.read(case, s.description), "due": s.due}
                for s in plan.steps
            ],
        }
    interventions = [i for i in case.interventions.values() if allow(i.id, i.recorded_at)]
    if interventions:
        shown["interventions"] = [
            {
                "id": i.id,
                "kind": i.kind,
                "start_date": i.start_date,
                "provider_agency": i.provider_agency.value,
                "end_date": i.end_date,
            }
            for i in interventions
        ]
    meetings = [m for m in case.meetings if allow(m.id, m.recorded_at)]
    if meetings:
        shown["meetings"] = [
            {
                "id": m.id,
                "date": m.date,
                "agencies_present": [p.value for p in m.agencies_present],
                "attended": m.attended,
                "notes": service.read(case, m.notes),
            }
            for m in meetings
        ]
    if case.closure is not None and allow(f"{case.id}:closure", case.closure.recorded_at):
        shown["closure"] = {"outcome": case.closure.outcome, "closed_date": case.closure.closed_date}
    return shown or None
