"""The GDPR art. 15 extract (registerutdrag): everything the förbund holds about one participant, opened, with what
art. 15(1) requires beside the data (purposes, categories, recipients, retention, sources, rights).

`ReadService.register_extract` (adapters/read_service.py) is the door: it checks the role, loads the case, the log
entries and the case's events, and appends the one log entry. This module only builds the body from what it was
given and says which items it discloses; it reads nothing itself (docs/extracts.md).
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping
from datetime import datetime
from typing import Any
from uuid import UUID

from adapters.disclosure_log import Disclosed
from adapters.settings import Settings
from consent import OWN_CATEGORY, Party, utc
from coordination import Case

Reader = Callable[[Case, str | None], str | None]

# Why the förbund processes the data (art. 15(1)(a)); each consent's own purpose is added after these.
PURPOSES = (
    "Samordnad rehabilitering enligt lagen (2003:1210) om finansiell samordning av rehabiliteringsinsatser: att "
    "tillsammans med myndigheterna planera, genomföra och följa upp de insatser du får.",
    "Uppföljning av verksamheten och statistik, där du inte går att känna igen.",
    "Kontroll av vem som har läst dina uppgifter (loggning och granskning), för din säkerhet och för tillsyn.",
)
# Where the data came from (art. 15(1)(g)); each item also names the party that recorded it (`source`).
SOURCES = (
    "Uppgifterna kommer från dig själv (när du skrevs in och när du lämnade samtycke), från den som skickade "
    "remissen och från myndigheterna: varje beslut har registrerats av den myndighet som fattade det, och "
    "samordningens uppgifter av samordningsförbundet. Vid varje uppgift står vem som registrerade den (källa)."
)
# Art. 15(1)(h): the gate decides who may read what, but no decision about the person is made automatically.
AUTOMATED_DECISIONS = (
    "Inga beslut om dig fattas automatiskt. Systemet kontrollerar bara, enligt ditt samtycke och eventuella "
    "spärrar, vilka uppgifter varje part får se."
)
# Art. 15(1)(d): the sentence, then one rule a party from the settings (`retention_rules`).
RETENTION = (
    "Uppgifterna sparas enligt förbundets gallringsregler och de regler som gäller för varje myndighets egna "
    "uppgifter. När tiden har gått ut raderas uppgifterna om dig. Loggen över vem som har läst dina uppgifter "
    "sparas i minst fem år, utan ditt namn och personnummer när dina uppgifter har raderats."
)
RECIPIENTS = (
    "Här står vilka parter som har fått ta del av dina uppgifter i samordningsförbundets system, per part och "
    "slag av uppgifter. Den fullständiga listan, med tid, person och samtycke för varje läsning, finns i "
    "loggutdraget."
)
# Art. 15(1)(e), (f) and 15(2)-(3): the person's rights, each with its article.
RIGHTS: tuple[dict[str, str], ...] = (
    {
        "code": "access",
        "title": "Rätt till tillgång (artikel 15)",
        "text": "Du har rätt att få veta vilka uppgifter om dig som behandlas och att få en kopia av dem. Det här "
        "utdraget är en sådan kopia. Du kan få ett nytt utdrag när du vill.",
    },
    {
        "code": "rectification",
        "title": "Rättelse (artikel 16)",
        "text": "Du har rätt att få felaktiga uppgifter rättade och ofullständiga uppgifter kompletterade. Ett "
        "beslut rättas av den myndighet som fattade det; samordningens uppgifter av samordningsförbundet.",
    },
    {
        "code": "erasure",
        "title": "Radering (artikel 17)",
        "text": "Du har rätt att få uppgifter raderade när de inte längre behövs för ändamålet, när du återkallar "
        "ditt samtycke och det saknas annan grund, eller när de har behandlats felaktigt. Uppgifter som en "
        "myndighet måste bevara enligt lag raderas först när gallringstiden har gått ut.",
    },
    {
        "code": "restriction",
        "title": "Begränsning (artikel 18)",
        "text": "Du har rätt att begära att behandlingen begränsas, till exempel medan det utreds om en uppgift är "
        "riktig. Du kan också be en myndighet att spärra sina uppgifter mot en eller alla andra parter.",
    },
    {
        "code": "objection",
        "title": "Invändning (artikel 21)",
        "text": "Du har rätt att invända mot behandling som grundar sig på ett allmänt intresse eller på "
        "myndighetsutövning. Ditt samtycke kan du när som helst återkalla, helt eller delvis (artikel 7.3).",
    },
    {
        "code": "complaint",
        "title": "Klagomål till Integritetsskyddsmyndigheten (artikel 77)",
        "text": "Om du anser att dina personuppgifter behandlas felaktigt kan du lämna klagomål till "
        "Integritetsskyddsmyndigheten (IMY), www.imy.se, imy@imy.se, Box 8114, 104 20 Stockholm.",
    },
)
ERASED = (
    "Dina personuppgifter har raderats ur samordningsförbundets system. De kan inte längre läsas av någon, och "
    "det här utdraget innehåller därför inga uppgifter om dig. Loggen över vem som har läst uppgifterna finns "
    "kvar, utan ditt namn och personnummer."
)
# The categories of data besides the decisions' own (art. 15(1)(b)), as codes; the PDF has their Swedish words.
IDENTITY, CONTACT, CONSENT = "identity", "contact", "consent"


def retention_rules(settings: Settings) -> list[dict[str, Any]]:
    """The retention rules an extract states (art. 15(1)(d)): each party's years from the gallring settings
    (SAMVERKAN_RETENTION_YEARS_*, adapters/retention.py), then the disclosure log's."""
    years = {
        Party.FK: settings.retention_years_fk,
        Party.AF: settings.retention_years_af,
        Party.REGION: settings.retention_years_region,
        Party.KOMMUN: settings.retention_years_kommun,
        Party.SF: settings.retention_years_sf,
    }
    rules: list[dict[str, Any]] = [
        {
            "party": party.value,
            "years": n,
            "rule": f"{n} år efter partens senaste uppgift i ärendet. Ingenting gallras medan ärendet pågår.",
        }
        for party, n in years.items()
    ]
    n = settings.disclosure_log_retention_years
    rules.append(
        {"party": None, "years": n, "rule": f"Loggen över vem som har läst uppgifterna sparas i minst {n} år."}
    )
    return rules


def build(
    case: Case,
    read: Reader,
    participant: dict[str, Any],
    consents: list[dict[str, Any]],
    events: Iterable[Any],
    entries: list[dict[str, Any]],
    now: datetime,
    *,
    names: Mapping[str, str],
    contact: str,
    retention: list[dict[str, Any]] | None = None,
) -> tuple[dict[str, Any], list[Disclosed]]:
    """The extract's body and the items it discloses. `participant` is the door's participant body, `consents`
    its consent bodies (status now), `events` the case's stored events (for what the state does not keep: a
    withdrawal's reason), `entries` the participant's log extract. An erased case gives the statement only."""
    body: dict[str, Any] = {
        "participant_id": case.id,
        "issued_at": now,
        "controller": names.get("SF", "SF"),
        "status": participant["status"],
        "erased_at": case.erased_at,
        "erased_statement": ERASED if case.is_erased else None,
        # One party's information erased by gallring (docs/retention.md): which, why, when; the rest is still held.
        "erasures": [
            {"party": e.party.value, "reason": e.reason, "erased_at": e.at}
            for e in getattr(case, "party_erasures", {}).values()
        ],
        "person": None,
        "referral": None,
        "consents": [],
        "blocks": [],
        "emergency_accesses": [],
        "decisions": [],
        "plans": [],
        "interventions": [],
        "meetings": [],
        "closure": None,
        "purposes": list(PURPOSES),
        "categories": [],
        "sources": SOURCES,
        "recipients": _recipients(entries, names),
        "recipients_statement": RECIPIENTS,
        "future_recipients": [],
        "retention": {"statement": RETENTION, "rules": retention or []},
        "automated_decisions": AUTOMATED_DECISIONS,
        "rights": [dict(r) for r in RIGHTS],
        "controllers": [{"code": p.value, "name": names.get(p.value, p.value)} for p in Party],
        "controllers_contact": contact,
    }
    if case.is_erased:
        return body, []
    pid = case.id
    sf = Party.SF.value
    disclosed = [Disclosed(f"{pid}:identity", sf, "coordination", None, None)]

    body["person"] = _person(case, read, participant, consents)
    reasons = _withdrawal_reasons(case, read, events)
    body["consents"] = [{**c, "history": _consent_history(case, c["id"], reasons), "source": sf} for c in consents]
    disclosed += [Disclosed(c["id"], sf, "coordination", None, None) for c in consents]
    body["purposes"] += list(dict.fromkeys(c["purpose"] for c in consents if c["purpose"]))
    body["future_recipients"] = [
        {"from_": g["from_"], "to": g["to"], "category": g["category"], "valid_until": c["valid_until"]}
        for c in consents
        for g in c["grants"]
        if g["status"] in ("active", "pending")
    ]

    for block in case.blocks.values():
        body["blocks"].append(
            {
                "id": block.id,
                "discloser": block.discloser.value,
                "category": block.category,
                "recipient": None if block.recipient is None else block.recipient.value,
                "placed_at": block.placed_at,
                "lifted_at": block.lifted_at,
                "status": "active" if block.active(now) else "lifted" if block.lifted_at is not None else "pending",
                "source": block.discloser.value,
            }
        )
        category = block.category or OWN_CATEGORY[block.discloser]
        disclosed.append(Disclosed(block.id, block.discloser.value, category, None, None))

    # Emergency accesses (nödåtkomst, docs/emergency.md) recorded in the case: who opened what, why, until when.
    notes = getattr(case, "emergency_notes", {})
    for access in getattr(case, "emergency_accesses", {}).values():
        body["emergency_accesses"].append(
            {
                "id": access.id,
                "reader": access.reader.value,
                "user_id": access.user_id,
                "reason": access.reason,
                "note": read(case, notes.get(access.id)),
                "opened_at": access.opened_at,
                "until": access.until,
                "source": access.reader.value,
            }
        )
        disclosed.append(Disclosed(access.id, access.reader.value, OWN_CATEGORY[access.reader], None, None))

    for decision in sorted(case.decisions.values(), key=lambda d: utc(d.recorded_at)):
        allowed_by = decision.allowed_by
        body["decisions"].append(
            {
                "id": decision.id,
                "agency": decision.agency.value,
                "category": decision.category,
                "decision_type": decision.decision_type,
                "effective_date": decision.effective_date,
                # The participant's own extract: a retracted decision is still held, so it is shown, marked.
                "summary": read(case, decision.summary),
                "attributes": dict(decision.attributes),
                "status": decision.status,
                "recorded_at": decision.recorded_at,
                "corrects": decision.corrects,
                "corrected_by": decision.corrected_by,
                "retracted_at": decision.retracted_at,
                "retraction_reason": read(case, decision.retraction_reason),
                "consent_id": None if allowed_by is None else allowed_by.consent_id,
                "consent_version": None if allowed_by is None else allowed_by.version,
                "source": decision.agency.value,
            }
        )
        disclosed.append(Disclosed(decision.id, decision.agency.value, decision.category, None, None))

    coordination = _coordination(case, read, pid)
    body.update(coordination.body)
    disclosed += coordination.disclosed

    held = {IDENTITY} | ({CONTACT} if body["person"]["contact"] else set())
    held |= {CONSENT} if consents or case.blocks else set()
    categories = {d.category.partition(".")[0] for d in case.decisions.values()}
    if coordination.disclosed:
        categories.add("coordination")
    body["categories"] = [c for c in (IDENTITY, CONTACT, CONSENT) if c in held] + sorted(categories)
    return body, disclosed


def _person(case: Case, read: Reader, participant: dict[str, Any], consents: list[dict[str, Any]]) -> dict[str, Any]:
    identity = {key: read(case, token) for key, token in case.identity.items()}
    guardians = list(dict.fromkeys(name for c in consents for name in c["guardians"]))
    return {
        "personnummer": participant["personnummer"],
        "given_name": participant["given_name"],
        "family_name": participant["family_name"],
        # Enrolled without a number: the reserve identity's birth date (kept when a number is added later).
        "reserve_identity": "birth_date" in case.identity,
        "birth_date": identity.get("birth_date"),
        "birth_year": case.birth_year,
        "legal_gender": case.gender,
        "municipality": case.municipality,
        "contact": {k.removeprefix("contact."): v for k, v in identity.items() if k.startswith("contact.") and v},
        "guardians": guardians,
        "baseline": dict(case.baseline),
        "enrolled_at": case.enrolled_at,
        "source": Party.SF.value,
    }


def _withdrawal_reasons(case: Case, read: Reader, events: Iterable[Any]) -> dict[tuple[UUID, datetime], str | None]:
    """The reason given with each withdrawal, by (consent id, instant): the case's state keeps only the instant."""
    return {
        (event.consent_id, event.timestamp): read(case, getattr(event, "reason", None))
        for event in events
        if type(event).__name__ == "ConsentWithdrawn"
    }


def _consent_history(
    case: Case, consent_id: UUID, reasons: Mapping[tuple[UUID, datetime], str | None]
) -> list[dict[str, Any]]:
    """Recorded, then each withdrawal with the grants it withdrew (and the reason, if one was given)."""
    consent = case.consents[consent_id]

    def grants(states: Iterable[Any]) -> list[dict[str, str]]:
        return [
            {"from_": s.grant.discloser.value, "to": s.grant.recipient.value, "category": s.grant.category}
            for s in states
        ]

    history = [
        {"event": "recorded", "at": consent.recorded_at, "version": 1, "grants": grants(consent.grants), "reason": None}
    ]
    for number, at in enumerate(consent.withdrawals, start=2):
        withdrawn = [s for s in consent.grants if s.withdrawn_at is not None and utc(s.withdrawn_at) == utc(at)]
        history.append(
            {
                "event": "withdrawn",
                "at": at,
                "version": number,
                "grants": grants(withdrawn),
                "reason": reasons.get((consent_id, at)),
            }
        )
    return history


class _Coordination:
    def __init__(self) -> None:
        self.body: dict[str, Any] = {}
        self.disclosed: list[Disclosed] = []

    def add(self, item_id: Any) -> None:
        self.disclosed.append(Disclosed(item_id, Party.SF.value, "coordination", None, None))


def _coordination(case: Case, read: Reader, pid: UUID) -> _Coordination:
    """The förbund's own record: the referral, every version of the plan, the insatser, the meetings, the closure."""
    out = _Coordination()
    sf = Party.SF.value
    referral = case.referral
    if referral is not None:
        out.body["referral"] = {
            "remittent": referral.remittent.value,
            "reason": read(case, referral.reason),
            "received_date": referral.received_date,
            "needs": [p.value for p in referral.needs],
            "recorded_at": referral.recorded_at,
            "source": sf,
        }
        out.add(f"{pid}:referral")
    out.body["plans"] = [
        {
            "version": plan.version,
            "goals": [read(case, g) for g in plan.goals],
            "steps": [
                {"agency": s.agency.value, "description": read(case, s.description), "due": s.due} for s in plan.steps
            ],
            "recorded_at": plan.recorded_at,
            "source": sf,
        }
        for plan in case.plans
    ]
    for plan in case.plans:
        out.add(f"{pid}:plan:{plan.version}")
    out.body["interventions"] = [
        {
            "id": i.id,
            "kind": i.kind,
            "provider_agency": i.provider_agency.value,
            "start_date": i.start_date,
            "planned_end": i.planned_end,
            "end_date": i.end_date,
            "end_reason": read(case, i.end_reason),
            "recorded_at": i.recorded_at,
            "source": sf,
        }
        for i in sorted(case.interventions.values(), key=lambda i: (i.start_date, utc(i.recorded_at)))
    ]
    for intervention in case.interventions.values():
        out.add(intervention.id)
    out.body["meetings"] = [
        {**meeting_fields(m, read(case, m.notes)), "recorded_at": m.recorded_at, "source": sf}
        for m in sorted(case.meetings, key=lambda m: (m.date, utc(m.recorded_at)))
    ]
    for meeting in case.meetings:
        out.add(meeting.id)
    if case.closure is not None:
        out.body["closure"] = {
            "outcome": case.closure.outcome,
            "closed_date": case.closure.closed_date,
            "follow_up": dict(case.follow_up_after),
            "recorded_at": case.closure.recorded_at,
            "source": sf,
        }
        out.add(f"{pid}:closure")
    return out


def _recipients(entries: list[dict[str, Any]], names: Mapping[str, str]) -> list[dict[str, Any]]:
    """Who has received what (art. 15(1)(c)): the log's disclosing entries about the person, by the reading
    party and the top-level category of the items shown, with how many reads and the first and last."""
    rows: dict[tuple[str, str], dict[str, Any]] = {}
    for entry in entries:
        if entry.get("outcome") != "disclosed":
            continue
        party = str(entry.get("agency"))
        for category in sorted({str(d.get("category", "")).partition(".")[0] for d in entry.get("disclosed", [])}):
            row = rows.setdefault(
                (party, category),
                {
                    "party": party,
                    "name": names.get(party, party),
                    "category": category,
                    "disclosures": 0,
                    "first_at": entry.get("recorded_at"),
                    "last_at": entry.get("recorded_at"),
                },
            )
            row["disclosures"] += 1
            row["last_at"] = entry.get("recorded_at")
    order = {p.value: n for n, p in enumerate(Party)}
    return sorted(rows.values(), key=lambda r: (order.get(r["party"], 99), r["category"]))


def meeting_fields(meeting: Any, notes: str | None) -> dict[str, Any]:
    """A meeting as the agency view and the register extract show it (`notes` already unsealed)."""
    return {
        "id": meeting.id,
        "date": meeting.date,
        "kind": meeting.kind,
        "status": meeting.status,
        "agencies_invited": [p.value for p in meeting.agencies_invited],
        "agencies_present": [p.value for p in meeting.agencies_present],
        "attended": meeting.attended,
        "notes": notes,
    }
