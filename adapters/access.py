"""Who asks, why, and in which request: what the read door and the recording functions need to know of a caller,
and the fixed list of purposes a read may name."""

from __future__ import annotations

from dataclasses import dataclass

from adapters.auth import Role, User
from adapters.disclosure_log import Actor
from consent import Party
from coordination import InvalidCommand

# The purposes a read may give (X-Samverkan-Purpose or the `purpose` query field); docs/api.md explains each.
PURPOSES: dict[str, str] = {
    "samordning": "the förbund's coordination of the participant's case",
    "handlaggning": "the agency's own handling of the participant's matter",
    "uppfoljning": "follow-up and statistics",
    "granskning": "secrecy review and audit of the disclosure log",
    "registerutdrag": "an extract the participant asked for",
    "nodatkomst": "emergency access without consent (reviewed afterwards)",
    "drift": "operations",
    "import": "an agency's import of its own decisions",
}
DEFAULT_PURPOSE = {
    Role.SAMORDNARE: "samordning",
    Role.HANDLAGGARE: "handlaggning",
    Role.GRANSKARE: "granskning",
    Role.ADMIN: "drift",
}


def purpose_code(given: str | None, role: Role) -> str:
    """The purpose of a read: one of PURPOSES, or the role's default when none is given (422 otherwise)."""
    if given is None or not given.strip():
        return DEFAULT_PURPOSE[role]
    code = given.strip().lower()
    if code not in PURPOSES:
        # The value is never echoed: free text here is exactly what the fixed list keeps out of the log.
        raise InvalidCommand("purpose", f"use one of {', '.join(PURPOSES)}")
    return code


@dataclass(frozen=True)
class Caller:
    """A user in one request: the token's subject, agency and role, the request id and the read's purpose."""

    user_id: str
    agency: Party
    role: Role
    request_id: str
    purpose: str

    @classmethod
    def of(cls, user: User, request_id: str, purpose: str | None = None) -> Caller:
        """The caller for a verified user; `purpose` is checked against the fixed list."""
        return cls(user.sub, user.agency, user.role, request_id, purpose_code(purpose, user.role))

    @property
    def actor(self) -> Actor:
        """The caller as the disclosure log records them (ids only)."""
        return Actor(self.user_id, self.agency.value, self.role.value)
