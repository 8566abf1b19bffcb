"""The parties to a samordningsförbund and the information categories each of them owns."""

from __future__ import annotations

from enum import StrEnum


class Party(StrEnum):
    """A party that records or receives information: the four agencies and the förbund itself."""

    FK = "FK"
    AF = "AF"
    REGION = "REGION"
    KOMMUN = "KOMMUN"
    SF = "SF"


AGENCIES: tuple[Party, ...] = (Party.FK, Party.AF, Party.REGION, Party.KOMMUN)

# Each party discloses only its own information (JO 5162-2013): the category it owns.
OWN_CATEGORY: dict[Party, str] = {
    Party.FK: "insurance",
    Party.AF: "employment",
    Party.REGION: "health",
    Party.KOMMUN: "social",
    Party.SF: "coordination",
}
CATEGORIES: frozenset[str] = frozenset(OWN_CATEGORY.values())


def covers(granted: str, category: str) -> bool:
    """True when a grant on `granted` covers `category` (a grant on `insurance` covers `insurance.sickness`)."""
    return category == granted or category.startswith(granted + ".")


# The sub-categories a grant or a decision may name (API.md: "finer sub-categories ... with grants on
# `insurance` covering them"). A fixed list, not free text: categories are stored in clear, so they must never
# carry anything a person typed (docs/catalogue.md).
SUB_CATEGORIES: dict[str, tuple[str, ...]] = {
    "insurance": ("sickness", "activity", "rehabilitation", "disability"),
    "employment": ("placement", "training", "assessment", "subsidy"),
    "health": ("psychiatry", "primary_care", "rehabilitation", "sick_leave"),
    "social": ("financial_aid", "housing", "support", "daily_activity", "labour_market"),
    "coordination": ("plan",),
}
KNOWN_CATEGORIES: frozenset[str] = CATEGORIES | frozenset(
    f"{top}.{sub}" for top, subs in SUB_CATEGORIES.items() for sub in subs
)


def is_well_formed_category(category: str) -> bool:
    """True for a top-level category or a dotted sub-category of one in lower-case identifiers (the gate's
    structural rule; which sub-categories exist is the catalogue's, `is_known_category`)."""
    top, dot, rest = category.partition(".")
    if top not in CATEGORIES:
        return False
    if not dot:
        return True
    return all(part.isidentifier() and part.isascii() and part.islower() for part in rest.split("."))


def is_known_category(category: str) -> bool:
    """True for a top-level category or one of the catalogue's sub-categories (`insurance.sickness`)."""
    return category in KNOWN_CATEGORIES


def owner_of(category: str) -> Party:
    """The party that owns (and alone may disclose) a category."""
    top = category.partition(".")[0]
    for party, owned in OWN_CATEGORY.items():
        if owned == top:
            return party
    raise ValueError(f"unknown category {category!r}")


def is_own_category(party: Party, category: str) -> bool:
    """True when `party` owns `category`, so it may record and disclose it."""
    return is_well_formed_category(category) and covers(OWN_CATEGORY[party], category)
