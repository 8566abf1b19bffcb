"""Request bodies and small steps used by the HTTP tests."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

from tests.support import ANNA, today


def consent_body(*grants: tuple[str, str, list[str]], **overrides: Any) -> dict[str, Any]:
    """A valid written consent from 30 days ago for 300 days."""
    body = {
        "grants": [{"from": a, "to": b, "categories": c} for a, b, c in grants],
        "purpose": "Samordnad rehabilitering",
        "valid_from": (today() - timedelta(days=30)).isoformat(),
        "valid_until": (today() + timedelta(days=270)).isoformat(),
        "form": "written",
        "document_ref": "DOC-1",
    }
    body.update(overrides)
    return body


# A decision type of each category's owner (coordination/catalogue.py).
DECISION_TYPE = {
    "insurance": "sjukpenning",
    "employment": "inskrivning",
    "health": "sjukskrivning",
    "social": "boendestod",
}


def decision_body(category: str = "insurance", source_ref: str = "FK-1", **overrides: Any) -> dict[str, Any]:
    body = {
        "category": category,
        "decision_type": DECISION_TYPE.get(category.partition(".")[0], "sjukpenning"),
        "effective_date": (today() - timedelta(days=3)).isoformat(),
        "summary": "Sjukpenning beviljad på halvtid från oktober",
        "source_ref": source_ref,
    }
    body.update(overrides)
    return body


def enrol(api: Any, **overrides: Any) -> str:
    """Enrols Annika (or another person) as samordnare; returns the participant id."""
    response = api.samordnare.post("/api/v1/participants", {**ANNA, **overrides})
    assert response.status_code == 201, response.text
    return str(response.json()["id"])
