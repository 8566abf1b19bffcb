"""Stored case events as the projections read them: position, case, kind and plain JSON data.

Projections skip the library's domain-object construction (about 30 µs an event) and read the stored JSON with
orjson; values the application stored with a transcoding (`{"_type_": ..., "_data_": ...}`: UUIDs, dates,
instants) are taken as their ISO or hex text by `value()`.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any
from uuid import UUID

import orjson

from coordination import Case

CASE_TOPIC_PREFIX = f"{Case.__module__}:{Case.__qualname__}."


def value(stored: Any) -> Any:
    """A stored value without its transcoding wrapper (UUID as 32 hex digits, dates and instants as ISO text)."""
    if type(stored) is dict and "_type_" in stored:
        return stored["_data_"]
    return stored


def uuid_text(stored: Any) -> str | None:
    """A stored UUID in its canonical 8-4-4-4-12 form (called for most events of a rebuild: kept cheap)."""
    raw = stored["_data_"] if type(stored) is dict else stored
    if raw is None:
        return None
    if len(raw) != 32:  # noqa: PLR2004 - already with dashes (PostgreSQL's uuid column) or another form
        raw = str(raw).replace("-", "")
    return f"{raw[:8]}-{raw[8:12]}-{raw[12:16]}-{raw[16:20]}-{raw[20:]}"


@dataclass(frozen=True, slots=True)
class StoredEvent:
    """One case event from the log."""

    position: int  # the notification id: the log's order
    case_id: str
    kind: str  # Enrolled, ConsentRecorded, DecisionRecorded, ...
    data: dict[str, Any]
    recorded_at: str  # the instant the event was stored, ISO 8601 in UTC


def decode(position: int, originator_id: Any, topic: str, state: bytes) -> StoredEvent | None:
    """The event of one log row; None for rows that are not case events."""
    if not topic.startswith(CASE_TOPIC_PREFIX):
        return None
    case_id = str(originator_id) if isinstance(originator_id, UUID) else uuid_text(str(originator_id))
    assert case_id is not None
    data = orjson.loads(state)
    return StoredEvent(position, case_id, topic[len(CASE_TOPIC_PREFIX) :], data, data["timestamp"]["_data_"])
