"""Stored case events as the projections read them: position, case, kind and plain JSON data.

Projections skip the library's domain-object construction (about 30 µs an event) and read the stored JSON with
orjson; values the application stored with a transcoding (`{"_type_": ..., "_data_": ...}`: UUIDs, dates,
instants) are taken as their ISO or hex text by `value()`.
"""

from __future__ import annotations

import json
import re
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


class UndecodableEvent(Exception):
    """A log row the projections cannot read: its position, and why (the exception type, never the content)."""

    def __init__(self, position: int, reason: str, before: list[StoredEvent] | None = None) -> None:
        super().__init__(f"event {position}: {reason}")
        self.position = position
        self.reason = reason
        self.before = before or []  # the events of the same read that precede it


# Exception messages may quote what they failed on (stored content): only these quoted words are kept.
_SAFE_KEY = re.compile(r"[a-z][a-z0-9_]{0,63}")
_QUOTED = re.compile(r"'[^']*'|\"[^\"]*\"")
_TYPE_NAMES = frozenset({"'NoneType'", "'int'", "'str'", "'float'", "'dict'", "'list'", "'bool'", "'tuple'"})
_DIGITS = re.compile(r"\d{4,}")


def reason_of(error: BaseException) -> str:
    """Why something failed, without personal data: the exception's type and its message with quoted values and
    long numbers blanked (a missing key is named: keys come from the code)."""
    kind = type(error).__name__
    if isinstance(error, UndecodableEvent):
        return error.reason
    if isinstance(error, KeyError) and len(error.args) == 1 and isinstance(error.args[0], str):
        key = error.args[0]
        return f"{kind}: missing key {key!r}" if _SAFE_KEY.fullmatch(key) else f"{kind}: missing key"
    if isinstance(error, json.JSONDecodeError):
        return f"{kind}: not valid JSON at character {error.pos}"
    message = _QUOTED.sub(lambda m: m.group(0) if m.group(0) in _TYPE_NAMES else "'…'", str(error))
    message = _DIGITS.sub("#", message)[:200]
    return f"{kind}: {message}" if message else kind


# orjson reads integers outside int64 and uint64 as floats (inexactly): such events are read again with json.
_WIDE = 2**63


def loads(state: bytes) -> Any:
    """The stored JSON as the library's transcoder (Python's json, which wrote it) reads it, at orjson's speed."""
    try:
        data = orjson.loads(state)
    except orjson.JSONDecodeError:
        # The library writes with json, which writes NaN, Infinity and integers beyond a double's range; orjson
        # refuses them. The write side refuses them now, but older events hold them.
        return json.loads(state)
    # Only a decision's attributes are free-form: everything else the domain stores has known types.
    attributes = data.get("attributes") if type(data) is dict else None
    if attributes and _inexact(attributes):
        return json.loads(state)
    return data


def _inexact(found: Any) -> bool:
    """True if orjson may have read an integer as a float (a whole float of at least 2**63 either way)."""
    if type(found) is float:
        return abs(found) >= _WIDE and found.is_integer()
    if type(found) is dict:
        return any(_inexact(v) for v in found.values())
    if type(found) is list:
        return any(_inexact(v) for v in found)
    return False


def decode(position: int, originator_id: Any, topic: str, state: bytes) -> StoredEvent | None:
    """The event of one log row; None for rows that are not case events."""
    if not topic.startswith(CASE_TOPIC_PREFIX):
        return None
    case_id = str(originator_id) if isinstance(originator_id, UUID) else uuid_text(str(originator_id))
    assert case_id is not None
    return decode_case(position, case_id, topic, state)


def decode_case(position: int, case_id: str, topic: str, state: bytes) -> StoredEvent:
    """The event of a case event's row whose case id is already known (in the 8-4-4-4-12 form)."""
    data = loads(state)
    return StoredEvent(position, case_id, topic[len(CASE_TOPIC_PREFIX) :], data, data["timestamp"]["_data_"])
