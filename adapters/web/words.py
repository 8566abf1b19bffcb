"""The Swedish words of the pages (shared/UI.md, "Words"): the code keeps its English codes, the pages show these."""

from __future__ import annotations

from datetime import date, datetime
from typing import Any
from zoneinfo import ZoneInfo

SWEDEN = ZoneInfo("Europe/Stockholm")
NOTHING = "\u2013"  # an en dash: "no value" in a table cell

PARTIES = {
    "FK": "Försäkringskassan",
    "AF": "Arbetsförmedlingen",
    "REGION": "Regionen — hälso- och sjukvården",
    "KOMMUN": "Kommunen — socialtjänsten",
    "SF": "Samordningsförbundet",
}
CATEGORIES = {
    "insurance": "försäkring",
    "employment": "arbetsmarknad",
    "health": "hälsa",
    "social": "socialt",
    "coordination": "samordning",
}
ROLES = {"samordnare": "samordnare", "handlaggare": "handläggare", "granskare": "granskare", "admin": "administratör"}
PHASES = {
    "referral": "remiss",
    "kartlaggning": "kartläggning",
    "plan": "handlingsplan",
    "insats": "insats",
    "closing": "avslutas",
    "closed": "avslutad",
}
CONSENT_STATUS = {"active": "aktivt", "expired": "utgånget", "withdrawn": "återkallat", "pending": "kommande"}
CONSENT_FORMS = {"written": "skriftligt", "oral": "muntligt"}
DECISION_STATUS = {"active": "gällande", "corrected": "rättat", "retracted": "återtaget"}
MEETING_STATUS = {"booked": "bokat", "held": "genomfört", "missed": "uteblivet"}
MEETING_KINDS = {"meeting": "möte", "home_visit": "hembesök"}
PARTICIPANT_STATUS = {"open": "pågående", "closed": "avslutad", "erased": "personuppgifter raderade"}
EVENTS = {
    "Enrolled": "Inskriven",
    "PersonnummerAdded": "Personnummer tillagt",
    "ReferralReceived": "Remiss mottagen",
    "ConsentRecorded": "Samtycke registrerat",
    "ConsentWithdrawn": "Samtycke återkallat",
    "BlockPlaced": "Spärr lagd",
    "BlockLifted": "Spärr hävd",
    "DecisionRecorded": "Beslut registrerat",
    "DecisionCorrected": "Beslut rättat",
    "DecisionRetracted": "Beslut återtaget",
    "PlanRevised": "Handlingsplan",
    "InterventionStarted": "Insats påbörjad",
    "InterventionEnded": "Insats avslutad",
    "MeetingBooked": "Möte bokat",
    "MeetingRecorded": "Möte registrerat",
    "CaseClosed": "Avslut",
    "PersonalDataErased": "Personuppgifter raderade",
    "PartyDataErased": "Partens uppgifter gallrade",
}
# The disclosure log's entry kinds, outcomes and purposes (adapters/disclosure_log.py, adapters/access.py).
LOG_KINDS = {
    "view": "visning",
    "view-refused": "nekad läsning",
    "overview": "översikt",
    "reconstruction": "rekonstruktion",
    "timeline": "tidslinje",
    "caseload": "ärendelista",
    "consents-read": "samtycken lästa",
    "search": "sökning",
    "extract": "loggutdrag",
    "register-extract": "registerutdrag",
    "receipt": "kvitto på samtycke",
    "statistics": "statistik",
    "export": "export",
    "manifest": "manifest",
    "verify": "kontroll",
    "recording-refused": "nekad registrering",
    "erasure": "radering",
    "emergency-access": "nödåtkomst",
    "review": "granskningskö",
    "review-mark": "granskning",
}
LOG_OUTCOMES = {
    "disclosed": "utlämnat",
    "refused": "nekat",
    "not-found": "hittades inte",
    "erased": "raderat",
    "opened": "öppnad",
    "reviewed": "granskad",
}
# Granskning's review queue (adapters/review.py, docs/review.md): a reviewer's outcomes and the rules' flags.
REVIEW_OUTCOMES = {
    "utan-anmarkning": "utan anmärkning",
    "foljs-upp": "följs upp",
    "obehorig-atkomst": "obehörig åtkomst",
}
REVIEW_FLAGS = {
    "off-hours": "utanför kontorstid",
    "many-participants": "många deltagare",
    "consent-ending": "samtycke upphör",
    "emergency": "nödåtkomst",
    "blocked": "spärr",
}
OFF_HOURS_WHY = {"weekend": "helg", "holiday": "helgdag", "outside-hours": "före eller efter kontorstid"}
CONSENT_ENDS = {"withdrawn": "återkallat", "expires": "går ut"}
PURPOSES = {
    "samordning": "samordning",
    "handlaggning": "handläggning",
    "uppfoljning": "uppföljning",
    "granskning": "granskning",
    "registerutdrag": "registerutdrag",
    "nodatkomst": "nödåtkomst",
    "drift": "drift",
    "import": "import",
}
MEETING_OUTCOMES = {"held": "genomfört", "missed": "uteblivet"}
GENDERS = {"female": "kvinna", "male": "man"}
# The catalogue's codes (coordination/catalogue.py, docs/catalogue.md) in the samordnare's words.
INTERVENTION_KINDS = {
    "kartlaggning": "kartläggning",
    "arbetstraning": "arbetsträning",
    "arbetsprovning": "arbetsprövning",
    "praktik": "praktik",
    "studier": "studier",
    "studiemotiverande": "studiemotiverande insats",
    "traineejobb": "traineejobb",
    "utbildningskontrakt": "utbildningskontrakt",
    "samtalsstod": "samtalsstöd",
    "friskvard": "friskvård",
    "gruppaktivitet": "gruppaktivitet",
    "jobbcoachning": "jobbcoachning",
    "ovrigt": "övrig insats",
}
OUTCOMES = {
    "work": "arbete",
    "studies": "studier",
    "other_support": "annat stöd",
    "moved": "flyttat",
    "declined": "avböjt",
    "error": "felregistrering",
}
SUPPORT = {
    "lon": "lön",
    "sjukpenning": "sjukpenning",
    "rehabiliteringsersattning": "rehabiliteringsersättning",
    "aktivitetsersattning": "aktivitetsersättning",
    "sjukersattning": "sjukersättning",
    "aktivitetsstod": "aktivitetsstöd eller etableringsersättning",
    "a_kassa": "arbetslöshetsersättning (a-kassa)",
    "ekonomiskt_bistand": "ekonomiskt bistånd",
    "studiemedel": "studiemedel",
    "annan": "annan försörjning",
    "ingen": "ingen egen försörjning",
    "okand": "okänd",
}
OCCUPATION = {
    "arbete": "arbete",
    "subventionerat_arbete": "subventionerat arbete",
    "studier": "studier",
    "arbetssokande": "arbetssökande",
    "sjukskriven": "sjukskriven",
    "arbetstraning": "arbetsträning eller praktik",
    "foraldraledig": "föräldraledig",
    "annan": "annan sysselsättning",
    "ingen": "ingen sysselsättning",
    "okand": "okänd",
}
# Ärenden: what needs doing (the caseload's flags) and the orders the list can be sorted in.
MARKERS = {
    "home_visit_due": "hembesök behövs",
    "first_meeting_too_few_agencies": "första mötet med för få parter",
    "kartlaggning_overdue": "kartläggning försenad",
    "consent_expiring": "samtycke går ut",
}
SORTS = {"todo": "att göra först", "name": "namn", "next_meeting": "nästa möte", "phase": "fas"}
# The follow-up tables (projections/statistics.py) and the codes on their axes.
TABLES = {
    "started_by_gender_and_age": "Påbörjade efter kön och ålder",
    "started_by_municipality_and_gender": "Påbörjade efter kommun och kön",
    "ended_by_outcome_and_gender": "Avslutade efter utfall och kön",
    "days_in_programme": "Dagar i insatsen",
    "support_before_and_after": "Försörjning före och efter",
    "occupation_before_and_after": "Sysselsättning före och efter",
    "without_consent_by_year_and_gender": "Utan samtycke, efter år och kön",
}
CODES = {
    "female": "kvinnor",
    "male": "män",
    "total": "totalt",
    "unknown": "okänt",
    "work": "arbete",
    "studies": "studier",
    "other_support": "annat stöd",
    "moved": "flyttat",
    "declined": "avböjt",
    "error": "felregistrering",
    # the tables' row labels
    "gender": "kön",
    "age_band": "ålder",
    "municipality": "kommun",
    "outcome": "utfall",
    "days": "dagar",
    "support_before": "försörjning före",
    "occupation_before": "sysselsättning före",
    "support_after": "försörjning efter",
    "occupation_after": "sysselsättning efter",
    "year": "år",
}


def word(table: dict[str, str], code: Any) -> str:
    """The Swedish word for a code, or the code itself when the list has none (never empty)."""
    if code is None:
        return NOTHING
    return table.get(str(code), str(code))


def category(code: str | None) -> str:
    """A category, a sub-category after a colon (`försäkring: sickness`)."""
    if not code:
        return NOTHING
    top, _, sub = code.partition(".")
    return f"{word(CATEGORIES, top)}: {sub}" if sub else word(CATEGORIES, top)


def day(value: date | datetime | str | None) -> str:
    """A date as Swedes write it: 2026-11-25."""
    if value is None or value == "":
        return NOTHING
    if isinstance(value, str):
        value = datetime.fromisoformat(value) if "T" in value else date.fromisoformat(value[:10])
    if isinstance(value, datetime):
        value = value.astimezone(SWEDEN).date() if value.tzinfo else value.date()
    return value.isoformat()


def moment(value: datetime | str | None) -> str:
    """An instant in Swedish time: 2026-11-25 14:05."""
    if value is None or value == "":
        return NOTHING
    if isinstance(value, str):
        value = datetime.fromisoformat(value)
    if value.tzinfo is not None:
        value = value.astimezone(SWEDEN)
    return value.strftime("%Y-%m-%d %H:%M")
