"""The participant's shared case (event-sourced) and the application service that records it."""

from coordination.application import MAX_ATTEMPTS, CoordinationService, DecisionOutcome
from coordination.domain import OUTCOMES, Case, DecisionState
from coordination.errors import (
    AlreadyEnrolled,
    ConcurrencyConflict,
    Conflict,
    ConsentRequired,
    DomainError,
    InvalidCommand,
    NotFound,
    NotPermitted,
)
from coordination.ports import PersonalDataVault

__all__ = [
    "MAX_ATTEMPTS",
    "OUTCOMES",
    "AlreadyEnrolled",
    "Case",
    "ConcurrencyConflict",
    "Conflict",
    "ConsentRequired",
    "CoordinationService",
    "DecisionOutcome",
    "DecisionState",
    "DomainError",
    "InvalidCommand",
    "NotFound",
    "NotPermitted",
    "PersonalDataVault",
]
