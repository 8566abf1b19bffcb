"""FHIR R4 for the exchange with health and care systems (docs/fhir.md): consents as `Consent` resources and
disclosure-log entries as `AuditEvent` resources after IHE BALP's PrivacyDisclosure pattern.

Pure mapping to plain JSON-ready dicts, no I/O and no settings: what the mapping needs to know of the installation
(the organisation numbers that differ per installation, the address the service is reached at) comes in as an
`Installation`. The service does not validate what it builds; the tests validate it with `fhir.resources`.
"""

from __future__ import annotations

import json
import unicodedata
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from datetime import date, datetime
from typing import Any
from uuid import UUID

from consent import Consent, ConsentStatus, Grant, GrantState

FHIR_VERSION = "4.0.1"

# -- Samverkan's own names (canonical URLs are names, never fetched; docs/fhir.md lists every code) ------------
BASE = "https://samverkan.example/fhir"
CATEGORY_SYSTEM = f"{BASE}/CodeSystem/category"  # consent/parties.py KNOWN_CATEGORIES: insurance, insurance.sickness
PURPOSE_SYSTEM = f"{BASE}/CodeSystem/purpose"  # adapters/access.py PURPOSES: samordning, handlaggning, ...
LEGAL_BASIS_SYSTEM = f"{BASE}/CodeSystem/legal-basis"
ROLE_SYSTEM = f"{BASE}/CodeSystem/role"  # the caller's role: samordnare, handlaggare, granskare, admin
LOG_KIND_SYSTEM = f"{BASE}/CodeSystem/log-kind"  # the log entry's kind: view, consents-read, ... (docs/audit.md)
USER_SYSTEM = f"{BASE}/NamingSystem/user"  # the subject (sub) of the caller's token
ITEM_SYSTEM = f"{BASE}/NamingSystem/item"  # an item a read disclosed: an event id or a coordination item key
EXT_FORM = f"{BASE}/StructureDefinition/consent-form"
EXT_WITNESS = f"{BASE}/StructureDefinition/consent-witness"
EXT_PURPOSE_TEXT = f"{BASE}/StructureDefinition/consent-purpose-text"
EXT_LOG_ENTRY = f"{BASE}/StructureDefinition/log-entry"

# -- identifiers -------------------------------------------------------------------------------------------------
# X.520 organizationIdentifier, as HL7 Sweden's SEBaseOrganization profile slices Organization.identifier for the
# Swedish organisationsnummer (type v2-0203 XX); the value is the ten digits without the hyphen.
ORG_NUMBER_SYSTEM = "urn:oid:2.5.4.97"
URI_SYSTEM = "urn:ietf:rfc:3986"  # participant and consent ids as urn:uuid:...
FK_ORG_NUMBER = "2021005521"  # Försäkringskassan, 202100-5521
AF_ORG_NUMBER = "2021002114"  # Arbetsförmedlingen, 202100-2114
# Placeholders for the numbers that differ per installation (SAMVERKAN_ORG_NUMBER_REGION, _KOMMUN, _SF): ten
# digits with a valid check digit, visibly not a real organisation (no organisation number starts with 00).
PLACEHOLDER_REGION = "0000000018"
PLACEHOLDER_KOMMUN = "0000000026"
PLACEHOLDER_SF = "0000000034"
PARTY_DISPLAY = {
    "FK": "Försäkringskassan",
    "AF": "Arbetsförmedlingen",
    "REGION": "Regionen",
    "KOMMUN": "Kommunen",
    "SF": "Samordningsförbundet",
}

# -- HL7, LOINC, DICOM, SNOMED CT and IHE codes ------------------------------------------------------------------
V2_0203 = "http://terminology.hl7.org/CodeSystem/v2-0203"
V3_ACT_CODE = "http://terminology.hl7.org/CodeSystem/v3-ActCode"
V3_PARTICIPATION = "http://terminology.hl7.org/CodeSystem/v3-ParticipationType"
CONSENT_SCOPE = "http://terminology.hl7.org/CodeSystem/consentscope"
CONSENT_ACTION = "http://terminology.hl7.org/CodeSystem/consentaction"
LOINC = "http://loinc.org"
DCM = "http://dicom.nema.org/resources/ontology/DCM"
SCT = "http://snomed.info/sct"
LIFECYCLE = "http://terminology.hl7.org/CodeSystem/iso-21089-lifecycle"
ENTITY_TYPE = "http://terminology.hl7.org/CodeSystem/audit-entity-type"
OBJECT_ROLE = "http://terminology.hl7.org/CodeSystem/object-role"
SOURCE_TYPE = "http://terminology.hl7.org/CodeSystem/security-source-type"
RESOURCE_TYPES = "http://hl7.org/fhir/resource-types"
BALP_ENTITY_TYPE = "https://profiles.ihe.net/ITI/BALP/CodeSystem/BasicAuditEntityType"

# Consent.status (http://hl7.org/fhir/consent-state-codes): `draft` is displayed "Pending" and means "awaiting use
# but not yet intended to be acted upon" -- a recorded consent whose period has not begun; `proposed` would say the
# participant has not agreed yet, which is never so for a recorded consent.
CONSENT_STATUS = {
    ConsentStatus.PENDING: "draft",
    ConsentStatus.ACTIVE: "active",
    ConsentStatus.EXPIRED: "inactive",
    ConsentStatus.WITHDRAWN: "inactive",
}
# Every consent in Samverkan is given for the förbund's coordinated rehabilitation (Finsam).
CONSENT_PURPOSE = "samordning"
LEGAL_BASIS_CODE = "osl-12-2"
LEGAL_BASIS_TEXT = "Samtycke: den enskilde efterger sekretessen (offentlighets- och sekretesslagen 12 kap. 2 §)"

# AuditEvent.type by kind of log entry. Reads of participant data are privacy disclosures (BALP's
# PrivacyDisclosure.Source: DICOM 110106 Export, subtype ISO 21089 "disclose", action R); an auditor's use of the log
# itself is DICOM 110101; what changes a participant's record (a refused recording, an erasure, an emergency
# access opened) is DICOM 110110. Kinds not listed are reads.
AUDIT_LOG_KINDS = {"export": "R", "manifest": "R", "verify": "E", "review": "R", "review-mark": "C"}
RECORD_KINDS = {"recording-refused": "C", "erasure": "D", "emergency-access": "E"}
EXPORT = {"system": DCM, "code": "110106", "display": "Export"}
AUDIT_LOG_USED = {"system": DCM, "code": "110101", "display": "Audit Log Used"}
PATIENT_RECORD = {"system": DCM, "code": "110110", "display": "Patient Record"}
SECURITY_ALERT = {"system": DCM, "code": "110113", "display": "Security Alert"}
DISCLOSE = {"system": LIFECYCLE, "code": "disclose", "display": "Disclose Record Lifecycle Event"}
# R4 AuditEvent.outcome: 0 success, 4 minor failure (a refusal), 12 major failure (a log row that does not parse).
REFUSED_OUTCOME = "4"
EPOCH = "1970-01-01T00:00:00+00:00"


def normalize_org_number(value: str) -> str:
    """An organisationsnummer as ten digits, from `NNNNNN-NNNN` or ten digits; ValueError when the form or the
    check digit (Luhn, as Skatteverket computes it) is wrong."""
    given = value.strip()
    digits = given[:6] + given[7:] if given[6:7] == "-" else given
    if len(digits) != 10 or not digits.isascii() or not digits.isdigit():  # noqa: PLR2004
        raise ValueError("an organisation number is ten digits, e.g. 202100-5521")
    total = 0
    for position, digit in enumerate(digits[:9]):
        doubled = int(digit) * (2 if position % 2 == 0 else 1)
        total += doubled - 9 if doubled > 9 else doubled  # noqa: PLR2004
    if (10 - total % 10) % 10 != int(digits[9]):
        raise ValueError(f"organisation number {given}: the check digit is wrong")
    return digits


@dataclass(frozen=True)
class Installation:
    """What the mapping needs to know of this installation: the organisation numbers of the region, the
    municipality and the förbund (Försäkringskassan's and Arbetsförmedlingen's are national) and, when configured,
    the address users reach the service at (BALP's source agent network address)."""

    region: str = PLACEHOLDER_REGION
    kommun: str = PLACEHOLDER_KOMMUN
    sf: str = PLACEHOLDER_SF
    public_url: str | None = None
    # The names this installation's papers give the parties, where set (SF, REGION, KOMMUN: per installation),
    # and the controllers' contact they print (None: the generic texts of adapters/read_service.py).
    party_names: tuple[tuple[str, str], ...] = ()
    controllers_contact: str | None = None
    numbers: dict[str, str] = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        for name in ("region", "kommun", "sf"):
            object.__setattr__(self, name, normalize_org_number(getattr(self, name)))
        numbers = {
            "FK": FK_ORG_NUMBER,
            "AF": AF_ORG_NUMBER,
            "REGION": self.region,
            "KOMMUN": self.kommun,
            "SF": self.sf,
        }
        object.__setattr__(self, "numbers", numbers)

    def organisation(self, party: str) -> dict[str, Any]:
        """A reference to a party's organisation by its organisation number (an unknown code: by display only)."""
        reference: dict[str, Any] = {"type": "Organization"}
        number = self.numbers.get(party)
        if number is not None:
            reference["identifier"] = {
                "type": {"coding": [{"system": V2_0203, "code": "XX", "display": "Organization identifier"}]},
                "system": ORG_NUMBER_SYSTEM,
                "value": number,
            }
        reference["display"] = PARTY_DISPLAY.get(party, party)
        return reference


# -- Consent -----------------------------------------------------------------------------------------------------


def consent(
    recorded: Consent,
    participant_id: UUID,
    at: datetime,
    installation: Installation,
    *,
    purpose: str | None = None,
    witness: str | None = None,
) -> dict[str, Any]:
    """A recorded consent as an R4 Consent, as it stands at `at`: status, the root provision over the consent's
    period with one nested permit per grant not withdrawn and one nested deny per withdrawn grant (from its
    withdrawal on). `purpose` and `witness` are the consent's opened free texts (the consents read shows them to the
    same caller); the participant is named by id only."""
    versioned = [s.withdrawn_at for s in recorded.grants if s.withdrawn_at is not None]
    last_updated = max([recorded.recorded_at, *versioned], key=lambda moment: moment.timestamp())
    extension: list[dict[str, Any]] = [{"url": EXT_FORM, "valueCode": recorded.form}]
    if witness := fhir_string(witness):
        extension.append({"url": EXT_WITNESS, "valueString": witness})
    if purpose := fhir_string(purpose):
        extension.append({"url": EXT_PURPOSE_TEXT, "valueString": purpose})
    parties = list(dict.fromkeys(p for s in recorded.grants for p in (s.grant.discloser, s.grant.recipient)))
    period = _period(recorded.valid_from, recorded.valid_until)
    return {
        "resourceType": "Consent",
        "id": str(recorded.id),
        "meta": {"versionId": str(recorded.version), "lastUpdated": _instant(last_updated)},
        "extension": extension,
        "identifier": [{"system": URI_SYSTEM, "value": f"urn:uuid:{recorded.id}"}],
        "status": CONSENT_STATUS[recorded.status(at)],
        "scope": {"coding": [{"system": CONSENT_SCOPE, "code": "patient-privacy", "display": "Privacy Consent"}]},
        "category": [
            {"coding": [{"system": LOINC, "code": "59284-0", "display": "Patient Consent"}]},
            {"coding": [{"system": V3_ACT_CODE, "code": "IDSCL", "display": "information disclosure"}]},
        ],
        "patient": patient_reference(participant_id),
        "dateTime": _instant(recorded.recorded_at),
        "performer": [installation.organisation(p.value) for p in parties],
        "organization": [installation.organisation("SF")],
        "policyRule": {
            "coding": [{"system": LEGAL_BASIS_SYSTEM, "code": LEGAL_BASIS_CODE, "display": LEGAL_BASIS_TEXT}],
            "text": LEGAL_BASIS_TEXT,
        },
        # R4 allows no type on the root provision ("not permitted in root rule"): the base rule is the secrecy the
        # policyRule waives only as far as a nested permit says; a withdrawn grant is a nested deny.
        "provision": {
            "period": period,
            "provision": [_grant_provision(s, period, installation) for s in recorded.grants],
        },
    }


def _grant_provision(state: GrantState, period: dict[str, str], installation: Installation) -> dict[str, Any]:
    grant: Grant = state.grant
    provision: dict[str, Any] = (
        {"type": "permit", "period": period}
        if state.withdrawn_at is None
        else {"type": "deny", "period": {"start": _instant(state.withdrawn_at)}}
    )
    provision["actor"] = [
        {
            "role": {"coding": [{"system": V3_PARTICIPATION, "code": "CST", "display": "custodian"}]},
            "reference": installation.organisation(grant.discloser.value),
        },
        {
            "role": {"coding": [{"system": V3_PARTICIPATION, "code": "IRCP", "display": "information recipient"}]},
            "reference": installation.organisation(grant.recipient.value),
        },
    ]
    provision["action"] = [{"coding": [{"system": CONSENT_ACTION, "code": "disclose", "display": "Disclose"}]}]
    provision["purpose"] = [{"system": PURPOSE_SYSTEM, "code": CONSENT_PURPOSE}]
    provision["class"] = [{"system": CATEGORY_SYSTEM, "code": grant.category}]
    return provision


def consent_bundle(resources: list[dict[str, Any]], at: datetime) -> dict[str, Any]:
    """The consents as a searchset Bundle (every entry a match), as a FHIR search would answer."""
    return {
        "resourceType": "Bundle",
        "meta": {"lastUpdated": _instant(at)},
        "type": "searchset",
        "timestamp": _instant(at),
        "total": len(resources),
        "entry": [
            {"fullUrl": f"urn:uuid:{resource['id']}", "resource": resource, "search": {"mode": "match"}}
            for resource in resources
        ],
    }


def patient_reference(participant_id: object) -> dict[str, Any]:
    """The participant by Samverkan's id only: never the personnummer or a name (docs/fhir.md)."""
    return {"type": "Patient", "identifier": {"system": URI_SYSTEM, "value": f"urn:uuid:{participant_id}"}}


# -- AuditEvent --------------------------------------------------------------------------------------------------


def audit_events(entry: dict[str, Any], installation: Installation) -> list[dict[str, Any]]:
    """One disclosure-log entry (as exported) as R4 AuditEvents: one per custodian (the party whose information
    was disclosed) and consent of its disclosed items, or one without a custodian for an entry that disclosed
    nothing (a refusal, an export of the log, a search that found nobody)."""
    groups: dict[tuple[str, str | None, int | None], list[dict[str, Any]]] = {}
    for item in entry.get("disclosed") or []:
        groups.setdefault((item["agency"], item.get("consent_id"), item.get("consent_version")), []).append(item)
    if not groups:
        return [_audit_event(entry, 1, None, [], installation)]
    return [
        _audit_event(entry, number, key, items, installation)
        for number, (key, items) in enumerate(groups.items(), start=1)
    ]


def _audit_event(
    entry: dict[str, Any],
    number: int,
    group: tuple[str, str | None, int | None] | None,
    items: list[dict[str, Any]],
    installation: Installation,
) -> dict[str, Any]:
    kind = str(entry.get("kind"))
    outcome = str(entry.get("outcome"))
    if kind in AUDIT_LOG_KINDS:
        event_type, action, subtypes = AUDIT_LOG_USED, AUDIT_LOG_KINDS[kind], []
    elif kind in RECORD_KINDS:
        event_type, action, subtypes = PATIENT_RECORD, RECORD_KINDS[kind], []
    else:
        event_type, action, subtypes = EXPORT, "R", [DISCLOSE]
    reason = entry.get("reason")
    agents = [
        {
            "type": {"coding": [{"system": V3_PARTICIPATION, "code": "IRCP", "display": "information recipient"}]},
            "role": [{"coding": [{"system": ROLE_SYSTEM, "code": str(entry.get("role"))}]}],
            "who": {"identifier": {"system": USER_SYSTEM, "value": _value(entry.get("user_id"))}},
            "requestor": True,
        },
        {
            "type": {"coding": [{"system": DCM, "code": "110152", "display": "Destination Role ID"}]},
            "who": installation.organisation(str(entry.get("agency"))),
            "requestor": False,
        },
        _source_agent(installation),
    ]
    entities = [_patient_entity(pid) for pid in _patients(entry)]
    if group is not None:
        custodian, consent_id, version = group
        agents.append(
            {
                "type": {"coding": [{"system": SCT, "code": "159541003", "display": "Record keeping/library clerk"}]},
                "who": installation.organisation(custodian),
                "requestor": False,
            }
        )
        if consent_id is not None:
            entities.append(
                {
                    "what": {"reference": f"Consent/{consent_id}/_history/{version}", "type": "Consent"},
                    "type": {"system": RESOURCE_TYPES, "code": "Consent", "display": "Consent"},
                    "role": {"system": OBJECT_ROLE, "code": "4", "display": "Domain Resource"},
                }
            )
        entities += [
            {
                "what": {"identifier": {"system": ITEM_SYSTEM, "value": _value(item["event_id"])}},
                "type": {"system": ENTITY_TYPE, "code": "2", "display": "System Object"},
                "role": {"system": OBJECT_ROLE, "code": "4", "display": "Domain Resource"},
                "detail": [{"type": "category", "valueString": str(item["category"])}],
            }
            for item in items
        ]
    entities.append(
        {
            "what": {"identifier": {"value": _value(entry.get("request_id"))}},
            "type": {"system": BALP_ENTITY_TYPE, "code": "XrequestId"},
        }
    )
    event: dict[str, Any] = {
        "resourceType": "AuditEvent",
        "id": f"log-{entry['seq']}-{number}",
        "extension": [_log_entry_extension(entry)],
        "type": event_type,
        "subtype": [*subtypes, {"system": LOG_KIND_SYSTEM, "code": kind}],
        "action": action,
        "recorded": entry["recorded_at"],
        "outcome": REFUSED_OUTCOME if outcome == "refused" else "0",
        "outcomeDesc": f"{outcome}: {reason}" if reason else outcome,
        "purposeOfEvent": [{"coding": [{"system": PURPOSE_SYSTEM, "code": str(entry.get("purpose"))}]}],
        "agent": agents,
        "source": _source(),
        "entity": entities,
    }
    return event


def unreadable_event(seq: int, recorded: str, installation: Installation) -> dict[str, Any]:
    """A log row that does not parse (the export carries it as {"seq", "unreadable": true}): a security alert at
    the previous entry's instant, so the FHIR export never hides it."""
    return {
        "resourceType": "AuditEvent",
        "id": f"log-{seq}-1",
        "extension": [
            {
                "url": EXT_LOG_ENTRY,
                "extension": [{"url": "seq", "valueInteger": seq}, {"url": "unreadable", "valueBoolean": True}],
            }
        ],
        "type": SECURITY_ALERT,
        "action": "E",
        "recorded": recorded,
        "outcome": "12",
        "outcomeDesc": f"the log entry with seq {seq} does not parse: run samverkan audit verify",
        "agent": [_source_agent(installation)],
        "source": _source(),
    }


def audit_event_lines(entries: Iterable[dict[str, Any]], installation: Installation) -> Iterator[str]:
    """The log entries as NDJSON (FHIR bulk data): one AuditEvent per line, always the same bytes for the same
    entries, so a signed manifest can hash them."""
    recorded = EPOCH
    for entry in entries:
        if entry.get("unreadable"):
            events = [unreadable_event(int(entry["seq"]), recorded, installation)]
        else:
            recorded = entry["recorded_at"]
            events = audit_events(entry, installation)
        for event in events:
            yield json.dumps(event, ensure_ascii=False, separators=(",", ":")) + "\n"


def log_entry_of(event: dict[str, Any]) -> tuple[int | None, str | None]:
    """The (seq, hash) of the log entry an AuditEvent of the export came from; (None, None) if it names none."""
    for extension in event.get("extension") or []:
        if isinstance(extension, dict) and extension.get("url") == EXT_LOG_ENTRY:
            parts = {p.get("url"): p for p in extension.get("extension") or [] if isinstance(p, dict)}
            seq = parts.get("seq", {}).get("valueInteger")
            digest = parts.get("hash", {}).get("valueString")
            return (seq if isinstance(seq, int) else None), (digest if isinstance(digest, str) else None)
    return None, None


def _log_entry_extension(entry: dict[str, Any]) -> dict[str, Any]:
    return {
        "url": EXT_LOG_ENTRY,
        "extension": [
            {"url": "seq", "valueInteger": int(entry["seq"])},
            {"url": "hash", "valueString": str(entry.get("hash"))},
        ],
    }


def _patients(entry: dict[str, Any]) -> list[str]:
    """The participants an entry is about: its participant, or those a list read (a caseload) names."""
    if entry.get("participant_id"):
        return [str(entry["participant_id"])]
    details = entry.get("details")
    subjects = details.get("subjects") if isinstance(details, dict) else None
    return [str(s) for s in subjects or []]


def _patient_entity(participant_id: str) -> dict[str, Any]:
    return {
        "what": patient_reference(participant_id),
        "type": {"system": ENTITY_TYPE, "code": "1", "display": "Person"},
        "role": {"system": OBJECT_ROLE, "code": "1", "display": "Patient"},
    }


def _source() -> dict[str, Any]:
    return {
        "site": "Samverkan",
        "observer": {"type": "Device", "display": "Samverkan"},
        "type": [{"system": SOURCE_TYPE, "code": "4", "display": "Application Server"}],
    }


def _source_agent(installation: Installation) -> dict[str, Any]:
    agent: dict[str, Any] = {
        "type": {"coding": [{"system": DCM, "code": "110153", "display": "Source Role ID"}]},
        "who": {"type": "Device", "display": "Samverkan"},
        "requestor": False,
    }
    if installation.public_url:
        agent["network"] = {"address": installation.public_url, "type": "5"}
    return agent


def fhir_string(text: str | None) -> str | None:
    """A free text as a FHIR string allows it: whitespace other than space, tab, CR and LF (a no-break space pasted
    from a document) becomes a space, other control characters go, the ends are trimmed; None when nothing is left."""
    if text is None:
        return None
    kept = []
    for character in text:
        if character in "\t\r\n":
            kept.append(character)
        elif character.isspace():
            kept.append(" ")
        elif unicodedata.category(character) != "Cc":
            kept.append(character)
    return "".join(kept).strip() or None


def _value(value: object) -> str:
    """An id from the log as an identifier value (never empty)."""
    return fhir_string(str(value)) or "-"


def _period(start: date, end: date) -> dict[str, str]:
    # Dates: a period that ends on a date includes the whole of that day (FHIR Period), as the consent does.
    return {"start": start.isoformat(), "end": end.isoformat()}


def _instant(moment: datetime) -> str:
    if moment.tzinfo is None:
        raise ValueError("instants must carry a time zone")
    return moment.isoformat()
