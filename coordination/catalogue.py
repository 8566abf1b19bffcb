"""The catalogue of codes the case stores in clear: decision types and their attributes, insats kinds, and the
follow-up codes. Fixed lists, so nothing a person typed is ever kept outside a sealed field (docs/catalogue.md).

Codes are ASCII (`rehabiliteringsersattning`); the Swedish spelling is accepted and normalised
(`Rehabiliteringsersättning`, `ekonomiskt bistånd`). Messages never repeat the input: it could be anything.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import date
from typing import Any

from coordination.errors import InvalidCommand

_FOLD = str.maketrans({"å": "a", "ä": "a", "ö": "o", "é": "e", "ü": "u", " ": "_", "-": "_", "/": "_"})


def normalised(text: str) -> str:
    """A code as the catalogue spells it: lower case, Swedish letters folded, spaces and dashes as `_`."""
    return text.strip().lower().translate(_FOLD)


# -- decision attributes ---------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Attribute:
    """One typed attribute: `kind` is int, number, date, bool or enum (`values` then lists the codes)."""

    kind: str
    meaning: str
    minimum: float | None = None
    maximum: float | None = None
    values: tuple[str, ...] = ()


ATTRIBUTES: dict[str, Attribute] = {
    "omfattning": Attribute("int", "extent in percent of full time (25, 50, 75 or 100)", 1, 100),
    "dagar": Attribute("int", "number of days", 0, 3660),
    "veckor": Attribute("int", "number of weeks", 0, 520),
    "manader": Attribute("int", "number of months", 0, 120),
    "timmar_per_vecka": Attribute("number", "hours a week", 0, 80),
    "belopp": Attribute("number", "amount in kronor", 0, 10_000_000),
    "fran": Attribute("date", "from (first day)"),
    "till": Attribute("date", "until (last day)"),
    "beviljad": Attribute("bool", "granted (true) or refused (false)"),
    "retroaktiv": Attribute("bool", "applies retroactively"),
    "forlangning": Attribute("bool", "extends an earlier decision"),
    "bradskande": Attribute("bool", "urgent"),
    "program": Attribute(
        "enum",
        "Arbetsförmedlingen's programme",
        values=(
            "arbetsmarknadsutbildning",
            "arbetspraktik",
            "arbetstraning",
            "forberedande_utbildning",
            "jobbspar",
            "rusta_och_matcha",
            "introduktionsjobb",
            "nystartsjobb",
            "lonebidrag",
            "sius",
            "starta_eget",
        ),
    ),
    "mottagning": Attribute(
        "enum",
        "the care unit referred to or treating",
        values=("primarvard", "psykiatri", "beroendevard", "rehabilitering", "somatisk_specialistvard", "habilitering"),
    ),
    "insatsform": Attribute(
        "enum",
        "the municipality's form of support",
        values=("ekonomiskt_bistand", "boendestod", "daglig_verksamhet", "sysselsattning", "arbetstraning", "praktik"),
    ),
}
_PERIOD = ("fran", "till", "veckor", "beviljad", "retroaktiv", "forlangning")
_EXTENT = ("omfattning", "dagar", *_PERIOD)

# Decision types per top-level category (DOMAIN.md, "Who is involved"), each with the attributes it may carry.
DECISION_TYPES: dict[str, dict[str, tuple[str, ...]]] = {
    "insurance": {
        "sjukpenning": _EXTENT,
        "rehabiliteringsersattning": _EXTENT,
        "aktivitetsersattning": (*_EXTENT, "manader"),
        "sjukersattning": (*_EXTENT, "manader"),
        "avstamningsmote": ("fran", "bradskande"),
        "rehabiliteringsplan": ("fran", "till"),
        "ovrigt": _PERIOD,
    },
    "employment": {
        "inskrivning": ("fran", "beviljad"),
        "aktivitetsstod": ("omfattning", "belopp", *_PERIOD),
        "arbetsformagebedomning": ("fran", "omfattning", "timmar_per_vecka"),
        "program": ("program", "timmar_per_vecka", *_PERIOD),
        "arbetsmarknadsutbildning": ("program", "timmar_per_vecka", *_PERIOD),
        "praktik": ("timmar_per_vecka", *_PERIOD),
        "lonebidrag": ("omfattning", "manader", "belopp", *_PERIOD),
        "subventionerad_anstallning": ("omfattning", "manader", "belopp", *_PERIOD),
        "sius": ("timmar_per_vecka", *_PERIOD),
        "ovrigt": _PERIOD,
    },
    "health": {
        "sjukskrivning": (*_EXTENT, "bradskande"),
        "lakarintyg": (*_EXTENT, "bradskande"),
        "behandling": ("mottagning", *_PERIOD),
        "rehabilitering": ("mottagning", "timmar_per_vecka", *_PERIOD),
        "remiss": ("mottagning", "fran", "bradskande"),
        "vardplan": ("mottagning", "fran", "till"),
        "ovrigt": _PERIOD,
    },
    "social": {
        "ekonomiskt_bistand": ("belopp", "manader", *_PERIOD),
        "boendestod": ("timmar_per_vecka", *_PERIOD),
        "daglig_verksamhet": ("timmar_per_vecka", *_PERIOD),
        "sysselsattning": ("timmar_per_vecka", *_PERIOD),
        "arbetstraning": ("timmar_per_vecka", "omfattning", *_PERIOD),
        "praktik": ("timmar_per_vecka", *_PERIOD),
        "ovrigt": ("insatsform", *_PERIOD),
    },
    "coordination": {"ovrigt": _PERIOD},
}
# Other names agencies' systems use for the same decision type.
DECISION_TYPE_ALIASES = {
    "forsorjningsstod": "ekonomiskt_bistand",
    "sjukskrivning_lakarintyg": "lakarintyg",
    "arbetsmarknadsprogram": "program",
    "subventionerat_arbete": "subventionerad_anstallning",
}
MAX_ATTRIBUTES = len(ATTRIBUTES)


def decision_type_code(category: str, decision_type: str) -> str:
    """The catalogue's code for a decision type of the category's owner (422 for anything else)."""
    known = DECISION_TYPES.get(category.partition(".")[0], {})
    code = normalised(decision_type)
    code = DECISION_TYPE_ALIASES.get(code, code)
    if code not in known:
        raise InvalidCommand(
            "decision_type", f"not a decision type of {category.partition('.')[0]}; use one of {', '.join(known)}"
        )
    return code


def checked_attributes(category: str, decision_type: str, attributes: Mapping[str, Any] | None) -> dict[str, Any]:
    """The decision's attributes checked against its type's schema: known names, typed values, finite numbers
    within bounds. Returns them normalised (dates as ISO text, enum codes normalised)."""
    if not attributes:
        return {}
    allowed = DECISION_TYPES[category.partition(".")[0]][decision_type]
    if len(attributes) > MAX_ATTRIBUTES:
        raise InvalidCommand("attributes", f"at most {MAX_ATTRIBUTES} attributes")
    checked: dict[str, Any] = {}
    for given, value in attributes.items():
        name = normalised(given) if isinstance(given, str) else ""
        if name not in allowed:
            # The key itself is never echoed: a name or a number could have been typed there.
            raise InvalidCommand(
                "attributes", f"an attribute is not one of {decision_type}'s: {', '.join(allowed) or '(none)'}"
            )
        if value is None:
            continue
        checked[name] = _checked_value(f"attributes.{name}", ATTRIBUTES[name], value)
    return checked


def _checked_value(field: str, attribute: Attribute, value: Any) -> Any:
    if attribute.kind == "bool":
        if not isinstance(value, bool):
            raise InvalidCommand(field, "must be true or false")
        return value
    if attribute.kind in ("int", "number"):
        if isinstance(value, bool) or not isinstance(value, int | float):
            raise InvalidCommand(field, "must be a number")
        if isinstance(value, float) and not math.isfinite(value):
            raise InvalidCommand(field, "must be a finite number")
        if attribute.kind == "int" and isinstance(value, float):
            if not value.is_integer():
                raise InvalidCommand(field, "must be a whole number")
            value = int(value)
        if (attribute.minimum is not None and value < attribute.minimum) or (
            attribute.maximum is not None and value > attribute.maximum
        ):
            raise InvalidCommand(field, f"must be between {attribute.minimum:g} and {attribute.maximum:g}")
        return round(value, 2) if isinstance(value, float) else value
    if attribute.kind == "date":
        try:
            if not isinstance(value, str) or len(value) != len("2026-03-01"):
                raise ValueError
            return date.fromisoformat(value).isoformat()
        except ValueError:
            raise InvalidCommand(field, "must be a date like 2026-03-01") from None
    code = normalised(value) if isinstance(value, str) else ""
    if code not in attribute.values:
        raise InvalidCommand(field, f"must be one of {', '.join(attribute.values)}")
    return code


# -- insatser and follow-up codes ------------------------------------------------------------------------------

KARTLAGGNING = "kartlaggning"
INTERVENTION_KINDS: dict[str, str] = {
    "kartlaggning": "kartläggning (mapping of abilities and needs)",
    "arbetstraning": "arbetsträning (work training)",
    "arbetsprovning": "arbetsprövning (work trial)",
    "praktik": "praktik (work placement)",
    "studier": "studier (studies)",
    "studiemotiverande": "studiemotiverande insats (towards studies)",
    "traineejobb": "traineejobb",
    "utbildningskontrakt": "utbildningskontrakt",
    "samtalsstod": "samtalsstöd (counselling)",
    "friskvard": "friskvård (health activities)",
    "gruppaktivitet": "gruppaktivitet (group activity)",
    "jobbcoachning": "jobbcoachning (job coaching)",
    "ovrigt": "övrig insats (other)",
}
# The national follow-up's variables (DOMAIN.md, "What is followed up").
SUPPORT_CODES: dict[str, str] = {
    "lon": "lön (wages)",
    "sjukpenning": "sjukpenning",
    "rehabiliteringsersattning": "rehabiliteringsersättning",
    "aktivitetsersattning": "aktivitetsersättning",
    "sjukersattning": "sjukersättning",
    "aktivitetsstod": "aktivitetsstöd / etableringsersättning",
    "a_kassa": "arbetslöshetsersättning (a-kassa)",
    "ekonomiskt_bistand": "ekonomiskt bistånd / försörjningsstöd",
    "studiemedel": "studiemedel",
    "annan": "annan försörjning (other)",
    "ingen": "ingen egen försörjning (none)",
    "okand": "okänd (unknown)",
}
OCCUPATION_CODES: dict[str, str] = {
    "arbete": "arbete (work)",
    "subventionerat_arbete": "subventionerat arbete (subsidised work)",
    "studier": "studier (studies)",
    "arbetssokande": "arbetssökande (job seeker)",
    "sjukskriven": "sjukskriven (on sick leave)",
    "arbetstraning": "arbetsträning eller praktik (work training)",
    "foraldraledig": "föräldraledig (parental leave)",
    "annan": "annan sysselsättning (other)",
    "ingen": "ingen sysselsättning (none)",
    "okand": "okänd (unknown)",
}
EDUCATION_CODES: dict[str, str] = {
    "forgymnasial": "förgymnasial (compulsory school or less)",
    "gymnasial": "gymnasial (upper secondary)",
    "eftergymnasial": "eftergymnasial (post-secondary)",
    "okand": "okänd (unknown)",
}
FOLLOW_UP_CODES: dict[str, dict[str, str]] = {
    "support_before": SUPPORT_CODES,
    "support_after": SUPPORT_CODES,
    "occupation_before": OCCUPATION_CODES,
    "occupation_after": OCCUPATION_CODES,
    "education_level": EDUCATION_CODES,
}


def intervention_kind(kind: str) -> str:
    """The catalogue's code for an insats kind (422 for anything else)."""
    code = normalised(kind)
    if code not in INTERVENTION_KINDS:
        raise InvalidCommand("kind", f"use one of {', '.join(INTERVENTION_KINDS)}")
    return code


def follow_up_codes(codes: Mapping[str, str] | None) -> dict[str, str]:
    """Follow-up codes checked against their lists (422 naming the field for anything else)."""
    checked: dict[str, str] = {}
    for field, value in (codes or {}).items():
        allowed = FOLLOW_UP_CODES.get(field)
        if allowed is None:
            raise InvalidCommand("baseline", "use support_before, occupation_before, education_level")
        code = normalised(value) if isinstance(value, str) else ""
        if code not in allowed:
            raise InvalidCommand(field, f"use one of {', '.join(allowed)}")
        checked[field] = code
    return checked


# -- emergency access (nödåtkomst) -----------------------------------------------------------------------------
# The reasons a handläggare may give for opening another party's information without a consent (docs/emergency.md
# explains each and when it applies). Each needs a free-text note beside it; the window is short (default 60 min).
EMERGENCY_REASONS: dict[str, str] = {
    "fara-for-liv-eller-halsa": "Fara för den enskildes liv eller hälsa, och uppgifterna behövs genast",
    "akut-skyddsbehov": "Akut behov av skydd (våld, hot, ett barn som far illa) som inte kan vänta på samtycke",
    "kan-inte-samtycka": "Den enskilde kan inte ta ställning till samtycke nu och ärendet kan inte vänta",
}
EMERGENCY_NOTE_MIN_LENGTH = 10
