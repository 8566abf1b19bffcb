"""Domain errors: each names the problem in words that say what to do, and never carries personal data."""

from __future__ import annotations

from uuid import UUID

from consent import Grant


class DomainError(Exception):
    """Base of all refusals by the domain; `kind` is the stable problem type the API maps it to."""

    kind = "domain-error"

    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message


class InvalidCommand(DomainError):
    """A command whose content is wrong; `field` names what to fix."""

    kind = "validation-error"

    def __init__(self, field: str, message: str) -> None:
        super().__init__(f"{field}: {message}")
        self.field = field
        self.reason = message


class ConsentRequired(DomainError):
    """The participant's consent does not let the agency share this; `missing` is the grant that would."""

    kind = "consent-required"

    def __init__(self, missing: Grant, reason: str) -> None:
        super().__init__(
            f"no active consent lets {missing.discloser.value} share {missing.category!r} with "
            f"{missing.recipient.value}: record a consent with the grant {missing.describe()} first"
        )
        self.missing = missing
        self.reason = reason


class NotPermitted(DomainError):
    """The acting party may not do this whatever the consent (e.g. recording another agency's category)."""

    kind = "forbidden"


class NotFound(DomainError):
    """No such participant, consent, decision or intervention."""

    kind = "not-found"


class Conflict(DomainError):
    """The command clashes with the case's state (already enrolled, closed, erased, concurrent change)."""

    kind = "conflict"


class AlreadyEnrolled(Conflict):
    """A participant with this personnummer is already enrolled."""

    def __init__(self, existing_id: UUID) -> None:
        super().__init__("a participant with this personnummer is already enrolled")
        self.existing_id = existing_id


class ConcurrencyConflict(Conflict):
    """The case kept changing under us; the client may retry."""
