"""The FHIR R4 mapping (adapters/fhir.py, docs/fhir.md): consents as Consent resources and disclosure-log entries as
AuditEvents after IHE BALP's PrivacyDisclosure pattern, each validated with fhir.resources' R4B models plus R4's
required bindings and invariants (tests/fhir_validation.py). No I/O: real consent values and log entries as the
log exports them."""

from __future__ import annotations

import json
from datetime import UTC, date, datetime, timedelta
from typing import Any
from uuid import UUID, uuid4

import pytest
from fhir.resources.R4B import __fhir_version__ as r4b_version
from hypothesis import given, settings
from hypothesis import strategies as st

from adapters import disclosure_log, fhir
from adapters.audit_export import FHIR_NOT_CHAINED, build_manifest, entries_from_text, lines, verify_export
from adapters.disclosure_log import LogFilter, entry_hash
from adapters.settings import Settings, SettingsError
from adapters.signing import ManifestSigner
from consent import Consent, ConsentStatus, Grant, GrantState, Party, expand_grants
from consent.parties import KNOWN_CATEGORIES, owner_of
from tests.fhir_validation import validate

NOW = datetime(2026, 11, 25, 10, 0, tzinfo=UTC)
TODAY = date(2026, 11, 25)
PARTICIPANT = UUID("6f1c1d1e-7a3b-4c5d-8e9f-0a1b2c3d4e5f")
CONSENT_ID = UUID("0c0c0c0c-1d1d-4e4e-8f8f-2a2a2a2a2a2a")
# Check-digit-valid numbers in the ranges of regions (2321...), municipalities (2120...) and kommunalförbund (2220...).
INSTALLATION = fhir.Installation(region="232100-0016", kommun="212000-0142", sf="222000-1230")
GRANTS = expand_grants([("FK", "SF", ["insurance"]), ("AF", "SF", ["employment"]), ("SF", "FK", ["coordination"])])

# The elements of R4 (4.0.1) Consent, AuditEvent and Bundle and of the backbone elements the mapping fills, as the
# R4 StructureDefinitions name them (docs/fhir.md: compared with fhir.resources 6.4.0, the last R4 release).
R4_ELEMENTS = {
    "Consent": "category contained dateTime extension id identifier implicitRules language meta modifierExtension "
    "organization patient performer policy policyRule provision scope sourceAttachment sourceReference status text "
    "verification",
    "ConsentProvision": "action actor class code data dataPeriod extension id modifierExtension period provision "
    "purpose securityLabel type",
    "ConsentProvisionActor": "extension id modifierExtension reference role",
    "AuditEvent": "action agent contained entity extension id implicitRules language meta modifierExtension outcome "
    "outcomeDesc period purposeOfEvent recorded source subtype text type",
    "AuditEventAgent": "altId extension id location media modifierExtension name network policy purposeOfUse "
    "requestor role type who",
    "AuditEventAgentNetwork": "address extension id modifierExtension type",
    "AuditEventEntity": "description detail extension id lifecycle modifierExtension name query role securityLabel "
    "type what",
    "AuditEventEntityDetail": "extension id modifierExtension type valueBase64Binary valueString",
    "AuditEventSource": "extension id modifierExtension observer site type",
    "Bundle": "entry id identifier implicitRules language link meta signature timestamp total type",
    "BundleEntry": "extension fullUrl id link modifierExtension request resource response search",
    "BundleEntrySearch": "extension id mode modifierExtension score",
}


def recorded(
    *,
    valid_from: date = TODAY - timedelta(days=30),
    valid_until: date = TODAY + timedelta(days=270),
    grants: tuple[Grant, ...] = GRANTS,
    form: str = "written",
) -> Consent:
    return Consent(
        CONSENT_ID,
        1,
        tuple(GrantState(g) for g in grants),
        "sealed-purpose",
        valid_from,
        valid_until,
        form,  # type: ignore[arg-type]
        NOW - timedelta(days=30),
    )


def mapped(consent: Consent, at: datetime = NOW, **texts: str) -> dict[str, Any]:
    resource = fhir.consent(consent, PARTICIPANT, at, INSTALLATION, **texts)
    validate(resource)
    return resource


def rules(resource: dict[str, Any]) -> dict[tuple[str, str, str], dict[str, Any]]:
    """The nested provisions by (discloser's org number, recipient's org number, category)."""
    return {
        (
            p["actor"][0]["reference"]["identifier"]["value"],
            p["actor"][1]["reference"]["identifier"]["value"],
            p["class"][0]["code"],
        ): p
        for p in resource["provision"]["provision"]
    }


def org(party: str) -> str:
    return INSTALLATION.numbers[party]


# -- the validation library ---------------------------------------------------------------------------------------


def test_the_r4b_models_used_are_r4_element_for_element() -> None:
    assert r4b_version == "4.3.0"
    from fhir.resources.R4B import auditevent, bundle, consent

    for name, elements in R4_ELEMENTS.items():
        model = next(getattr(m, name) for m in (consent, auditevent, bundle) if hasattr(m, name))
        names = {
            field.alias or key
            for key, field in model.model_fields.items()
            if isinstance(field.json_schema_extra, dict) and field.json_schema_extra.get("element_property")
        }
        assert names == set(elements.split()), name


def test_the_validation_refuses_what_r4_refuses() -> None:
    good = mapped(recorded())
    for broken, problem in (
        ({**good, "status": "withdrawn"}, "status"),
        ({**good, "provision": {**good["provision"], "type": "deny"}}, "root rule"),
        ({**good, "extension": [{"url": fhir.EXT_FORM}]}, "ext-1"),
        ({**good, "patient": None}, "ppc-2"),
        ({**good, "policyRule": None}, "ppc-1"),
        ({**good, "dateTime": "2026-11-25T10:00:00"}, "dateTime"),  # an instant without its zone
        ({**good, "personnummer": "19811218-9876"}, "personnummer"),  # not an element of Consent
    ):
        with pytest.raises((AssertionError, ValueError), match=problem):
            validate({k: v for k, v in broken.items() if v is not None})


# -- Consent ------------------------------------------------------------------------------------------------------


def test_an_active_consent_permits_each_grant_within_its_period() -> None:
    resource = mapped(recorded(form="oral"), witness="Göran Älg", purpose="Samordnad rehabilitering")
    assert (resource["id"], resource["meta"]["versionId"], resource["status"]) == (str(CONSENT_ID), "1", "active")
    assert resource["meta"]["lastUpdated"] == resource["dateTime"] == (NOW - timedelta(days=30)).isoformat()
    assert resource["scope"]["coding"][0]["code"] == "patient-privacy"
    assert [c["coding"][0]["code"] for c in resource["category"]] == ["59284-0", "IDSCL"]
    assert resource["patient"] == {
        "type": "Patient",
        "identifier": {"system": "urn:ietf:rfc:3986", "value": f"urn:uuid:{PARTICIPANT}"},
    }
    assert resource["policyRule"]["coding"][0] == {
        "system": fhir.LEGAL_BASIS_SYSTEM,
        "code": "osl-12-2",
        "display": fhir.LEGAL_BASIS_TEXT,
    }
    assert "12 kap. 2 §" in resource["policyRule"]["text"]
    assert resource["extension"] == [
        {"url": fhir.EXT_FORM, "valueCode": "oral"},
        {"url": fhir.EXT_WITNESS, "valueString": "Göran Älg"},
        {"url": fhir.EXT_PURPOSE_TEXT, "valueString": "Samordnad rehabilitering"},
    ]
    period = {"start": (TODAY - timedelta(days=30)).isoformat(), "end": (TODAY + timedelta(days=270)).isoformat()}
    assert "type" not in resource["provision"] and resource["provision"]["period"] == period
    found = rules(resource)
    assert set(found) == {
        (org("FK"), org("SF"), "insurance"),
        (org("AF"), org("SF"), "employment"),
        (org("SF"), org("FK"), "coordination"),
    }
    for provision in found.values():
        assert (provision["type"], provision["period"]) == ("permit", period)
        assert [a["role"]["coding"][0]["code"] for a in provision["actor"]] == ["CST", "IRCP"]
        assert provision["action"][0]["coding"][0]["code"] == "disclose"
        assert provision["class"][0]["system"] == fhir.CATEGORY_SYSTEM
        assert provision["purpose"] == [{"system": fhir.PURPOSE_SYSTEM, "code": "samordning"}]


def test_the_parties_carry_their_organisation_numbers() -> None:
    resource = mapped(recorded())
    numbers = {p["display"]: p["identifier"]["value"] for p in resource["performer"]}
    assert numbers == {
        "Försäkringskassan": "2021005521",
        "Arbetsförmedlingen": "2021002114",
        "Samordningsförbundet": "2220001230",
    }
    assert resource["organization"][0]["identifier"]["value"] == "2220001230"
    identifier = resource["organization"][0]["identifier"]
    assert identifier["system"] == "urn:oid:2.5.4.97" and identifier["type"]["coding"][0]["code"] == "XX"
    region = mapped(recorded(grants=expand_grants([("REGION", "KOMMUN", ["health.psychiatry"])])))
    assert {p["identifier"]["value"] for p in region["performer"]} == {"2321000016", "2120000142"}


def test_without_a_witness_there_is_no_witness_extension() -> None:
    assert mapped(recorded())["extension"] == [{"url": fhir.EXT_FORM, "valueCode": "written"}]


@pytest.mark.parametrize(
    ("valid_from", "valid_until", "status"),
    [
        (TODAY + timedelta(days=1), TODAY + timedelta(days=30), "draft"),  # pending: awaiting its first day
        (TODAY - timedelta(days=30), TODAY, "active"),  # the last day is included
        (TODAY - timedelta(days=60), TODAY - timedelta(days=1), "inactive"),  # expired
    ],
)
def test_the_status_follows_the_period_and_the_grants_stay_permits(
    valid_from: date, valid_until: date, status: str
) -> None:
    resource = mapped(recorded(valid_from=valid_from, valid_until=valid_until))
    assert resource["status"] == status
    assert {p["type"] for p in resource["provision"]["provision"]} == {"permit"}
    assert resource["provision"]["period"] == {"start": valid_from.isoformat(), "end": valid_until.isoformat()}


def test_a_withdrawn_grant_is_a_deny_from_its_withdrawal_on() -> None:
    withdrawn_at = NOW - timedelta(hours=2)
    consent = recorded().withdraw([GRANTS[0]], withdrawn_at)
    resource = mapped(consent)
    assert (resource["status"], resource["meta"]["versionId"]) == ("active", "2")
    assert resource["meta"]["lastUpdated"] == withdrawn_at.isoformat()
    found = rules(resource)
    denied = found[org(GRANTS[0].discloser.value), org(GRANTS[0].recipient.value), GRANTS[0].category]
    assert (denied["type"], denied["period"]) == ("deny", {"start": withdrawn_at.isoformat()})
    assert [p["type"] for k, p in found.items() if k[2] != GRANTS[0].category] == ["permit", "permit"]

    everything = consent.withdraw(None, NOW - timedelta(minutes=5))
    resource = mapped(everything)
    assert (resource["status"], resource["meta"]["versionId"]) == ("inactive", "3")
    assert {p["type"] for p in resource["provision"]["provision"]} == {"deny"}
    starts = sorted(p["period"]["start"] for p in resource["provision"]["provision"])
    assert starts == [withdrawn_at.isoformat(), *[(NOW - timedelta(minutes=5)).isoformat()] * 2]


def test_the_bundle_is_a_searchset_of_the_consents() -> None:
    first, second = mapped(recorded()), {**mapped(recorded(grants=GRANTS[:1])), "id": str(uuid4())}
    bundle = fhir.consent_bundle([first, second], NOW)
    model = validate(bundle)
    assert (bundle["type"], bundle["total"]) == ("searchset", 2)
    assert [e["fullUrl"] for e in bundle["entry"]] == [f"urn:uuid:{first['id']}", f"urn:uuid:{second['id']}"]
    assert {e.search.mode for e in model.entry} == {"match"}
    assert validate(fhir.consent_bundle([], NOW)).total == 0


@st.composite
def consents(draw: st.DrawFn) -> tuple[Consent, datetime]:
    """A consent of 1-6 grants, 0-3 withdrawals (of some or all grants), read at some instant around its period."""
    pool = sorted(
        {
            Grant(owner_of(category), recipient, category)
            for category in KNOWN_CATEGORIES
            for recipient in Party
            if recipient != owner_of(category)
        }
    )
    grants = tuple(sorted(draw(st.lists(st.sampled_from(pool), min_size=1, max_size=6, unique=True))))
    start = TODAY + timedelta(days=draw(st.integers(-400, 60)))
    consent = Consent(
        draw(st.uuids()),
        1,
        tuple(GrantState(g) for g in grants),
        "sealed",
        start,
        start + timedelta(days=draw(st.integers(0, 365))),
        draw(st.sampled_from(["written", "oral"])),
        datetime.combine(start, datetime.min.time(), UTC) - timedelta(days=1),
    )
    moment = consent.recorded_at
    for _ in range(draw(st.integers(0, 3))):
        moment += timedelta(minutes=draw(st.integers(1, 60 * 24 * 200)))
        chosen = draw(st.none() | st.lists(st.sampled_from(grants), min_size=1, unique=True))
        consent = consent.withdraw(chosen, moment)
    at = consent.recorded_at + timedelta(minutes=draw(st.integers(0, 60 * 24 * 900)))
    return consent, at


@settings(max_examples=150, deadline=None)
@given(consents(), st.none() | st.text(min_size=1, max_size=40), st.none() | st.text(min_size=1, max_size=80))
def test_any_consent_maps_to_a_valid_r4_consent_that_says_what_the_gate_says(
    drawn: tuple[Consent, datetime], witness: str | None, purpose: str | None
) -> None:
    consent, at = drawn
    resource = fhir.consent(consent, PARTICIPANT, at, INSTALLATION, witness=witness, purpose=purpose)
    validate(json.loads(json.dumps(resource)))  # as it travels
    assert resource["status"] == fhir.CONSENT_STATUS[consent.status(at)]
    assert resource["meta"]["versionId"] == str(consent.version)
    provisions = resource["provision"]["provision"]
    assert len(provisions) == len(consent.grants)
    for state, provision in zip(consent.grants, provisions, strict=True):
        assert provision["class"][0]["code"] == state.grant.category
        if state.withdrawn_at is None:
            assert provision["type"] == "permit"
        else:
            assert provision["type"] == "deny"
            assert provision["period"] == {"start": state.withdrawn_at.isoformat()}
    # Active in FHIR exactly when the gate would let some grant disclose at this instant.
    if resource["status"] == "active":
        assert consent.status(at) == ConsentStatus.ACTIVE and consent.active_grants(at)
    dumped = json.dumps(resource, ensure_ascii=False)
    assert str(PARTICIPANT) in dumped and "1.2.752.129.2.1.3.1" not in dumped  # no personnummer system


# -- AuditEvent ---------------------------------------------------------------------------------------------------

EVENT = str(uuid4())


def entry(seq: int = 7, **overrides: Any) -> dict[str, Any]:
    """A log entry as the log exports it (hash computed over it)."""
    body = {
        "seq": seq,
        "prev_hash": "0" * 64,
        "recorded_at": NOW.isoformat(),
        "kind": "view",
        "user_id": "handlaggare-af",
        "agency": "AF",
        "role": "handlaggare",
        "participant_id": str(PARTICIPANT),
        "purpose": "handlaggning",
        "request_id": "req-42",
        "outcome": "disclosed",
        "reason": None,
        "as_of": None,
        "disclosed": [
            {
                "event_id": EVENT,
                "agency": "FK",
                "category": "insurance",
                "consent_id": str(CONSENT_ID),
                "consent_version": 2,
            },
            {
                "event_id": str(uuid4()),
                "agency": "AF",
                "category": "employment",
                "consent_id": None,
                "consent_version": None,
            },
            {
                "event_id": str(uuid4()),
                "agency": "FK",
                "category": "insurance.sickness",
                "consent_id": str(CONSENT_ID),
                "consent_version": 2,
            },
        ],
        "categories": ["employment", "insurance", "insurance.sickness"],
        "details": {},
    }
    body.update(overrides)
    return {**body, "hash": entry_hash(body)}


def events_of(logged: dict[str, Any]) -> list[dict[str, Any]]:
    events = fhir.audit_events(logged, INSTALLATION)
    for event in events:
        validate(event)
    return events


def agent(event: dict[str, Any], code: str) -> dict[str, Any] | None:
    return next((a for a in event["agent"] if a["type"]["coding"][0]["code"] == code), None)


def entity(event: dict[str, Any], system: str, code: str) -> list[dict[str, Any]]:
    return [e for e in event["entity"] if e["type"]["system"] == system and e["type"]["code"] == code]


def test_a_view_is_one_privacy_disclosure_per_custodian_and_consent() -> None:
    logged = entry()
    fk, af = events_of(logged)
    assert (fk["id"], af["id"]) == ("log-7-1", "log-7-2")
    for event in (fk, af):
        assert event["type"] == {"system": fhir.DCM, "code": "110106", "display": "Export"}
        assert event["subtype"][0] == fhir.DISCLOSE and event["subtype"][1]["code"] == "view"
        assert (event["action"], event["recorded"], event["outcome"]) == ("R", NOW.isoformat(), "0")
        assert event["purposeOfEvent"][0]["coding"][0] == {"system": fhir.PURPOSE_SYSTEM, "code": "handlaggning"}
        user = agent(event, "IRCP")
        assert user is not None and user["requestor"] is True
        assert user["who"] == {"identifier": {"system": fhir.USER_SYSTEM, "value": "handlaggare-af"}}
        assert user["role"][0]["coding"][0]["code"] == "handlaggare"
        recipient = agent(event, "110152")
        assert recipient is not None and recipient["who"]["identifier"]["value"] == org("AF")
        source = agent(event, "110153")
        assert source is not None and source["who"] == event["source"]["observer"]
        (patient,) = entity(event, fhir.ENTITY_TYPE, "1")
        assert patient["what"]["identifier"]["value"] == f"urn:uuid:{PARTICIPANT}"
        (request,) = entity(event, fhir.BALP_ENTITY_TYPE, "XrequestId")
        assert request["what"]["identifier"]["value"] == "req-42"
        assert fhir.log_entry_of(event) == (7, logged["hash"])
    custodian = agent(fk, "159541003")
    assert custodian is not None and custodian["who"]["identifier"]["value"] == org("FK")
    (consent_entity,) = entity(fk, fhir.RESOURCE_TYPES, "Consent")
    assert consent_entity["what"]["reference"] == f"Consent/{CONSENT_ID}/_history/2"
    items = entity(fk, fhir.ENTITY_TYPE, "2")
    assert [i["detail"][0]["valueString"] for i in items] == ["insurance", "insurance.sickness"]
    assert items[0]["what"]["identifier"]["value"] == EVENT
    own = agent(af, "159541003")
    assert own is not None and own["who"]["identifier"]["value"] == org("AF")
    assert entity(af, fhir.RESOURCE_TYPES, "Consent") == []  # its own information: no consent behind it


def test_a_refusal_is_one_event_without_a_custodian() -> None:
    (event,) = events_of(entry(kind="view-refused", outcome="refused", reason="role", disclosed=[], categories=[]))
    assert (event["outcome"], event["outcomeDesc"]) == ("4", "refused: role")
    assert agent(event, "159541003") is None and entity(event, fhir.RESOURCE_TYPES, "Consent") == []
    assert len(entity(event, fhir.ENTITY_TYPE, "1")) == 1


def test_the_log_s_own_use_and_record_changes_are_not_disclosures() -> None:
    (export,) = events_of(entry(kind="export", role="granskare", agency="SF", participant_id=None, disclosed=[]))
    assert (export["type"]["code"], export["action"]) == ("110101", "R")
    assert [s["code"] for s in export["subtype"]] == ["export"]
    assert entity(export, fhir.ENTITY_TYPE, "1") == []
    (erasure,) = events_of(entry(kind="erasure", role="admin", agency="SF", outcome="erased", disclosed=[]))
    assert (erasure["type"]["code"], erasure["action"], erasure["outcome"]) == ("110110", "D", "0")


def test_every_kind_the_mapping_names_is_a_kind_of_the_log() -> None:
    kinds = {v for k, v in vars(disclosure_log).items() if k.isupper() and isinstance(v, str) and k != "GENESIS_HASH"}
    assert set(fhir.AUDIT_LOG_KINDS) | set(fhir.RECORD_KINDS) <= kinds


def test_a_caseload_names_every_participant_listed() -> None:
    others = [str(uuid4()), str(uuid4())]
    listed = [
        {"event_id": p, "agency": "SF", "category": "coordination", "consent_id": None, "consent_version": None}
        for p in others
    ]
    (event,) = events_of(entry(kind="caseload", participant_id=None, disclosed=listed, details={"subjects": others}))
    assert [p["what"]["identifier"]["value"] for p in entity(event, fhir.ENTITY_TYPE, "1")] == [
        f"urn:uuid:{p}" for p in others
    ]


def test_the_source_agent_carries_the_public_address_when_configured() -> None:
    (_, event) = fhir.audit_events(entry(), fhir.Installation(public_url="https://samverkan.sf.example"))
    validate(event)
    source = agent(event, "110153")
    assert source is not None and source["network"] == {"address": "https://samverkan.sf.example", "type": "5"}
    assert "network" not in (agent(fhir.audit_events(entry(), INSTALLATION)[0], "110153") or {})


def test_the_ndjson_lines_are_one_event_each_and_hide_no_unreadable_row() -> None:
    rows = [entry(1), {"seq": 2, "unreadable": True}, entry(3, disclosed=[], categories=[])]
    text = "".join(lines(rows, "fhir", INSTALLATION))
    assert text == "".join(lines(rows, "fhir", INSTALLATION))  # the same bytes every time
    events = [json.loads(line) for line in text.split("\n") if line]
    assert [e["id"] for e in events] == ["log-1-1", "log-1-2", "log-2-1", "log-3-1"]
    for event in events:
        validate(event)
    alert = events[2]
    assert (alert["type"]["code"], alert["outcome"], alert["recorded"]) == ("110113", "12", NOW.isoformat())
    assert fhir.log_entry_of(alert) == (2, None)


# -- the export's manifest and its verification -----------------------------------------------------------------


def test_a_fhir_export_is_verified_against_its_signed_manifest_and_never_alone() -> None:
    signer = ManifestSigner(b"k" * 32)
    rows = [entry(5), entry(6, disclosed=[]), entry(8)]
    where = LogFilter(until_seq=8)
    text = "".join(lines(rows, "fhir", INSTALLATION))
    manifest = build_manifest(rows, where, "fhir", signer, INSTALLATION)
    assert (manifest["format"], manifest["count"], manifest["first_seq"], manifest["last_seq"]) == ("fhir", 3, 5, 8)
    assert verify_export(text, "fhir", manifest, signer.public_key).as_dict() == {"ok": True, "entries": 3}

    alone = verify_export(text, "fhir")
    assert (alone.ok, alone.reason) == (False, FHIR_NOT_CHAINED)
    with pytest.raises(ValueError, match="jsonl twin"):
        list(entries_from_text(text, "fhir"))
    edited = text.replace("req-42", "req-43", 1)
    assert "SHA-256" in str(verify_export(edited, "fhir", manifest, signer.public_key).reason)
    other = build_manifest(rows, where, "fhir", signer, fhir.Installation(public_url="https://other.example"))
    assert verify_export(text, "fhir", other, signer.public_key).ok is False
    moved = text.split("\n")
    assert verify_export("\n".join([moved[-2], *moved[:-2]]) + "\n", "fhir", manifest, signer.public_key).ok is False
    assert verify_export("{}\n" + text, "fhir", manifest, signer.public_key).first_bad_seq == 1


# -- the organisation numbers ------------------------------------------------------------------------------------


def test_organisation_numbers_are_checked_and_the_settings_defaults_are_the_placeholders() -> None:
    assert fhir.normalize_org_number("202100-5521") == fhir.FK_ORG_NUMBER
    assert fhir.normalize_org_number("2021002114") == fhir.AF_ORG_NUMBER
    for wrong in ("202100-5522", "20210055", "2021-005521", "abcdefghij"):
        with pytest.raises(ValueError, match="organisation number"):
            fhir.normalize_org_number(wrong)
    defaults = Settings(_env_file=None)  # type: ignore[call-arg]
    assert fhir.Installation(defaults.org_number_region, defaults.org_number_kommun, defaults.org_number_sf) == (
        fhir.Installation()
    )
    with pytest.raises(SettingsError, match="SAMVERKAN_ORG_NUMBER_KOMMUN"):
        Settings(org_number_kommun="212000-0143")
