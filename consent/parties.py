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


def is_known_category(category: str) -> bool:
    """True for a top-level category or a dotted sub-category of one (`insurance.sickness`)."""
    top, dot, rest = category.partition(".")
    if top not in CATEGORIES:
        return False
    if not dot:
        return True
    return all(part.isidentifier() and part.isascii() and part.islower() for part in rest.split("."))


def owner_of(category: str) -> Party:
    """The party that owns (and alone may disclose) a category."""
    top = category.partition(".")[0]
    for party, owned in OWN_CATEGORY.items():
        if owned == top:
            return party
    raise ValueError(f"unknown category {category!r}")


def is_own_category(party: Party, category: str) -> bool:
    """True when `party` owns `category`, so it may record and disclose it."""
    return is_known_category(category) and covers(OWN_CATEGORY[party], category)
