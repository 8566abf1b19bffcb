"""What the förbund's staff work from, folded from a case's events: the facts kept per case, and what the
caseload and the follow-up statistics derive from them. Pure functions; dates as ISO text."""

from __future__ import annotations

from datetime import date, timedelta
from typing import Any

from projections.events import StoredEvent, uuid_text, value

KARTLAGGNING = "kartlaggning"
KARTLAGGNING_WEEKS = 6
MISSED_BEFORE_HOME_VISIT = 2
MIN_FIRST_MEETING = 2  # Arbetsmarknadstorget: at least two, preferably four, handläggare at the first meeting
MEETING = "meeting"
EXPIRY_WARNING_DAYS = 30

Facts = dict[str, Any]


def new_facts() -> Facts:
    """The facts of a case before its first event."""
    return {
        "enrolled_at": None,
        "birth_year": None,
        "gender": None,
        "municipality": None,
        "baseline": {},
        "names": {},
        "referral_date": None,
        "consents": {},
        "interventions": {},
        "plan_version": 0,
        "plan_recorded": None,
        "plan_steps": [],
        "meetings": [],
        "closure": None,
        "erased": False,
    }


def fold(facts: Facts, event: StoredEvent) -> Facts:
    """The facts after one more event (changes `facts` in place and returns it)."""
    data, kind = event.data, event.kind
    if kind == "Enrolled":
        facts.update(
            enrolled_at=event.recorded_at,
            birth_year=data["birth_year"],
            gender=data["gender"],
            municipality=data.get("municipality"),
            baseline=dict(data.get("baseline") or {}),
            names={k: v for k, v in (data.get("identity") or {}).items() if k in ("given_name", "family_name")},
        )
    elif kind == "PersonnummerAdded":
        facts.update(birth_year=data["birth_year"], gender=data["gender"])
    elif kind == "ReferralReceived":
        facts["referral_date"] = value(data["received_date"])
    elif kind == "ConsentRecorded":
        facts["consents"][uuid_text(data["consent_id"])] = {
            "valid_from": value(data["valid_from"]),
            "valid_until": value(data["valid_until"]),
            "grants": len(data["grants"]),
            "withdrawn": 0,
        }
    elif kind == "ConsentWithdrawn":
        consent = facts["consents"].get(uuid_text(data["consent_id"]))
        if consent is not None:
            named = data.get("grants")
            consent["withdrawn"] = (
                consent["grants"] if named is None else min(consent["grants"], consent["withdrawn"] + len(named))
            )
    elif kind == "InterventionStarted":
        facts["interventions"][uuid_text(data["intervention_id"])] = {
            "kind": data["kind"],
            "start": value(data["start_date"]),
            "end": None,
            "planned_end": value(data.get("planned_end")),
        }
    elif kind == "InterventionEnded":
        intervention = facts["interventions"].get(uuid_text(data["intervention_id"]))
        if intervention is not None:
            intervention["end"] = value(data["end_date"])
    elif kind == "PlanRevised":
        facts["plan_version"] = data["plan_version"]
        facts["plan_recorded"] = event.recorded_at[:10]
        facts["plan_steps"] = [{"agency": s["agency"], "due": value(s["due"])} for s in data["steps"]]
    elif kind == "MeetingBooked":
        facts["meetings"].append(
            {
                "id": uuid_text(data["meeting_id"]),
                "date": value(data["date"]),
                "status": "booked",
                "kind": data["kind"],
                "invited": list(data["agencies_invited"]),
            }
        )
    elif kind == "MeetingRecorded":
        _record_meeting(facts, event)
    elif kind == "CaseClosed":
        facts["closure"] = {
            "outcome": data["outcome"],
            "date": value(data["closed_date"]),
            "follow_up": dict(data.get("follow_up") or {}),
        }
    elif kind == "PersonalDataErased":
        facts["erased"] = True
        facts["names"] = {}
    return facts


def _record_meeting(facts: Facts, event: StoredEvent) -> None:
    """A meeting held or missed: the outcome of a booked one (same id), or one recorded without booking."""
    data = event.data
    meeting_id = uuid_text(data.get("meeting_id"))
    outcome = {
        "status": "held" if data["attended"] else "missed",
        "present": list(data.get("agencies_present") or []),
    }
    for meeting in facts["meetings"]:
        if meeting_id is not None and meeting.get("id") == meeting_id:
            meeting.update(outcome)
            return
    facts["meetings"].append(
        {"id": meeting_id, "date": value(data["date"]), "kind": data.get("kind") or MEETING, **outcome}
    )


def _status(meeting: dict[str, Any]) -> str:
    # Facts written before bookings existed hold `attended` instead of `status`.
    return str(meeting.get("status") or ("held" if meeting.get("attended") else "missed"))


def _latest_kartlaggning(facts: Facts) -> dict[str, Any] | None:
    mappings = [i for i in facts["interventions"].values() if i["kind"] == KARTLAGGNING]
    return max(mappings, key=lambda i: i["start"]) if mappings else None


def _planned_end(kartlaggning: dict[str, Any]) -> str:
    planned = kartlaggning.get("planned_end")
    return planned or (date.fromisoformat(kartlaggning["start"]) + timedelta(weeks=KARTLAGGNING_WEEKS)).isoformat()


def _plan_follows(facts: Facts, kartlaggning: dict[str, Any]) -> bool:
    """True when a handlingsplan was recorded on or after the kartläggning's start."""
    recorded = facts.get("plan_recorded")
    return bool(facts["plan_version"]) and (recorded is None or recorded >= kartlaggning["start"])


def phase(facts: Facts) -> str:
    """referral, kartlaggning (until a handlingsplan follows it), plan, insats, closing (every insats ended) or
    closed."""
    if facts["closure"] is not None:
        return "closed"
    ongoing = [i for i in facts["interventions"].values() if i["end"] is None]
    if any(i["kind"] != KARTLAGGNING for i in ongoing):
        return "insats"
    if ongoing:
        return "plan" if _plan_follows(facts, max(ongoing, key=lambda i: i["start"])) else "kartlaggning"
    if facts["interventions"]:
        return "closing"
    if facts["plan_version"]:
        return "plan"
    return "referral"


def caseload_entry(facts: Facts, today: date) -> dict[str, Any]:
    """What a samordnare needs to see of an open case today (names stay sealed here)."""
    iso_today = today.isoformat()
    meetings = sorted(facts["meetings"], key=lambda m: m["date"])  # stable: same-day ones in recorded order
    done = [m for m in meetings if _status(m) != "booked" and m["date"] <= iso_today]
    missed = 0
    for meeting in reversed(done):
        if _status(meeting) == "held":  # a held meeting or home visit ends the run of missed ones
            break
        missed += 1
    booked = [m for m in meetings if _status(m) == "booked" and m["date"] >= iso_today]
    first = next((m for m in meetings if _status(m) == "held" and m.get("kind", MEETING) == MEETING), None)
    steps = sorted(facts["plan_steps"], key=lambda s: s["due"])
    next_step = next((s for s in steps if s["due"] >= iso_today), None)
    kartlaggning = _latest_kartlaggning(facts)
    kartlaggning_end = None if kartlaggning is None else _planned_end(kartlaggning)
    horizon = (today + timedelta(days=EXPIRY_WARNING_DAYS)).isoformat()
    expiring = sorted(
        (
            {"consent_id": consent_id, "valid_until": c["valid_until"]}
            for consent_id, c in facts["consents"].items()
            if c["withdrawn"] < c["grants"] and iso_today <= c["valid_until"] <= horizon
        ),
        key=lambda c: c["valid_until"],
    )
    return {
        "phase": phase(facts),
        "enrolled_at": facts["enrolled_at"],
        "referral_date": facts["referral_date"],
        "kartlaggning_end": kartlaggning_end,
        "kartlaggning_overdue": (
            kartlaggning is not None
            and kartlaggning_end is not None
            and kartlaggning_end < iso_today
            and not _plan_follows(facts, kartlaggning)
        ),
        "next_meeting": booked[0]["date"] if booked else None,
        "next_meeting_kind": booked[0].get("kind", MEETING) if booked else None,
        "first_meeting": None
        if first is None
        else {"date": first["date"], "agencies_present": len(first.get("present") or [])},
        "first_meeting_too_few_agencies": first is not None and len(first.get("present") or []) < MIN_FIRST_MEETING,
        "next_plan_step": next_step,
        "plan_steps_past_due": sum(1 for s in steps if s["due"] < iso_today),
        "missed_in_a_row": missed,
        "home_visit_due": missed >= MISSED_BEFORE_HOME_VISIT,
        "consents_expiring": expiring,
    }


def follow_up_row(case_id: str, facts: Facts) -> dict[str, Any]:
    """The case's follow-up variables (codes only): what statistics count, kept after erasure."""
    closure = facts["closure"] or {}
    after = closure.get("follow_up", {})
    baseline = facts["baseline"]
    start = facts["referral_date"] or (facts["enrolled_at"] or "")[:10]
    return {
        "participant_id": case_id,
        "start_date": start,
        "end_date": closure.get("date"),
        "outcome": closure.get("outcome"),
        "municipality": facts["municipality"],
        "gender": facts["gender"],
        "birth_year": facts["birth_year"],
        "with_consent": 1 if facts["consents"] else 0,
        "support_before": baseline.get("support_before"),
        "occupation_before": baseline.get("occupation_before"),
        "education_level": baseline.get("education_level"),
        "support_after": after.get("support_after"),
        "occupation_after": after.get("occupation_after"),
    }
