"""What the tests mean by "the FHIR output validates" (docs/fhir.md, "What is validated, and how").

1. The resource parses into fhir.resources' R4B model of its type (pydantic v2). R4B's Consent, AuditEvent and Bundle
   are element for element R4's (tests/unit/test_fhir.py checks the element names); the model refuses unknown
   elements, wrong cardinality, wrong data types and malformed primitives (ids, dates, instants without a zone).
2. Every code with a required binding is in its value set: the models carry the value sets of Consent.status,
   Consent.provision.type, Bundle.type and Bundle.entry.search.mode but do not enforce them, and carry none for
   AuditEvent, so `REQUIRED_CODES` adds R4's for AuditEvent.
3. R4's invariants and definitions the models do not check: ext-1 (an extension has a value or extensions, not
   both), ppc-1 (a policy or a policyRule), ppc-2 (a privacy consent names its patient), and Consent.provision.type
   "not permitted in root rule, required in all nested rules".
"""

from __future__ import annotations

from typing import Any

from fhir.resources.R4B.auditevent import AuditEvent
from fhir.resources.R4B.bundle import Bundle
from fhir.resources.R4B.consent import Consent, ConsentProvision
from fhir.resources.R4B.extension import Extension
from fhir.resources.R4B.fhirresourcemodel import FHIRResourceModel
from pydantic import BaseModel

MODELS: dict[str, type[FHIRResourceModel]] = {"Consent": Consent, "AuditEvent": AuditEvent, "Bundle": Bundle}
# R4's required bindings on AuditEvent (audit-event-outcome, audit-event-action, network-type).
REQUIRED_CODES: dict[tuple[str, str], set[str]] = {
    ("AuditEvent", "outcome"): {"0", "4", "8", "12"},
    ("AuditEvent", "action"): {"C", "R", "U", "D", "E"},
    ("AuditEventAgentNetwork", "type"): {"1", "2", "3", "4", "5"},
}


def validate(resource: dict[str, Any]) -> Any:
    """The resource's R4B model; AssertionError naming every problem found beyond what the model refuses."""
    model = MODELS[resource["resourceType"]].model_validate(resource)
    problems = _problems(model, resource["resourceType"])
    assert problems == [], problems
    return model


def _problems(model: BaseModel, path: str) -> list[str]:
    problems: list[str] = []
    kind = type(model).__name__
    if isinstance(model, Extension):
        values = [n for n in type(model).model_fields if n.startswith("value") and getattr(model, n) is not None]
        if len(values) + (1 if model.extension else 0) != 1:
            problems.append(f"{path}: ext-1, an extension has a value or extensions, not both")
    if isinstance(model, Consent):
        if not model.policy and model.policyRule is None:
            problems.append(f"{path}: ppc-1, a consent needs a policy or a policyRule")
        privacy = any(c.code == "patient-privacy" for c in model.scope.coding or [])
        if privacy and model.patient is None:
            problems.append(f"{path}: ppc-2, a privacy consent names its patient")
        if model.provision is not None:
            if model.provision.type is not None:
                problems.append(f"{path}.provision: a type is not permitted in the root rule")
            problems += _nested_types(model.provision.provision or [], f"{path}.provision.provision")
    for name, info in type(model).model_fields.items():
        value = getattr(model, name)
        if value is None:
            continue
        extra = info.json_schema_extra if isinstance(info.json_schema_extra, dict) else {}
        allowed = extra.get("enum_values") or REQUIRED_CODES.get((kind, name))
        if allowed and isinstance(value, str) and value not in allowed:
            problems.append(f"{path}.{info.alias or name}: {value!r} is not one of {sorted(allowed)}")
        for index, item in enumerate(value if isinstance(value, list) else [value]):
            if isinstance(item, BaseModel):
                where = f"{path}.{info.alias or name}" + (f"[{index}]" if isinstance(value, list) else "")
                problems += _problems(item, where)
    return problems


def _nested_types(provisions: list[ConsentProvision], path: str) -> list[str]:
    problems: list[str] = []
    for index, provision in enumerate(provisions):
        if provision.type is None:
            problems.append(f"{path}[{index}]: a nested rule needs a type")
        problems += _nested_types(provision.provision or [], f"{path}[{index}].provision")
    return problems
