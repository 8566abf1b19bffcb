"""The stored text of a disclosure-log entry is made with one JSON encoding (`hashed`): it must be exactly the
canonical encoding of the entry with its hash, and the hash exactly `entry_hash`, for any content a caller can
put in an entry, including text and keys that look like the members around the hash."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from uuid import uuid4

import pytest

from adapters.disclosure_log import Actor, Disclosed, EntryDraft, build_body, canonical, entry_hash, hashed

TRICKY = [
    {},
    {"kind": "view", "hash": "x", "n": 1},
    {"note": ',"kind":"x"', "quote": '"', "nested": {"kind": {"kind": ',"kind":'}}},
    {"subjects": ["a"], "ünicode": "åäö ☃ 𝄞", "controls": "\x00\x1f\n\t\u2028", "big": 2**70, "float": 0.1},
    {"list": [{"kind": 1}, [',"kind":', None, True]], "empty": ""},
]


@pytest.mark.parametrize("details", TRICKY)
@pytest.mark.parametrize("reason", [None, ',"kind":"x"'])
def test_the_stored_text_is_the_canonical_encoding_with_the_hash(
    details: dict[str, object], reason: str | None
) -> None:
    draft = EntryDraft(
        "view",
        Actor('user,"kind":"x"', "FK", "handlaggare"),
        'req,"kind":',
        "handlaggning",
        participant_id=uuid4(),
        disclosed=[Disclosed(uuid4(), "FK", "insurance", uuid4(), 3)],
        reason=reason,
        details=details,
        subjects=[uuid4()],
    )
    body = build_body(draft, 7, "0" * 64, datetime.now(UTC))
    stored = hashed(body)
    assert body["hash"] == entry_hash(body)
    assert stored == canonical(body).decode()  # what verify and the exports recompute
    assert json.loads(stored) == body
