"""The participant's shared case (event-sourced) and the application service that records it."""

from coordination.application import MAX_ATTEMPTS, CoordinationService, DecisionOutcome
from coordination.domain import ERASURE_REASONS, GALLRING, OUTCOMES, Case, DecisionState, Erasure
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
    "ERASURE_REASONS",
    "GALLRING",
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
    "Erasure",
    "InvalidCommand",
    "NotFound",
    "NotPermitted",
    "PersonalDataVault",
]
