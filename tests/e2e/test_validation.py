"""Request validation over HTTP: a bad request is a 422 problem that names the field to fix (in `errors[].field`
and in `detail`), never echoes personal data, and stores nothing."""

from __future__ import annotations

import json
from collections.abc import Iterator
from datetime import date, timedelta
from typing import Any
from uuid import UUID

import pytest

from coordination.personnummer import fictitious_personnummer, luhn_check_digit
from tests.e2e.conftest import Api
from tests.e2e.scenario import consent_body, decision_body, enrol
from tests.support import ANNA, today

UNKNOWN_ID = "00000000-0000-4000-8000-000000000000"
OTHER = {
    "personnummer": fictitious_personnummer(date(1975, 5, 5), 12, gender="male"),
    "given_name": "Bo",
    "family_name": "Bergström",
}


# -- helpers ----------------------------------------------------------------------------------------------------


def assert_problem(response: Any, status: int, kind: str) -> dict[str, Any]:
    """An RFC 9457 problem of `kind`, without a stack trace or Annika's personnummer; returns its body."""
    assert response.status_code == status, response.text
    assert response.headers["content-type"].startswith("application/problem+json")
    body: dict[str, Any] = response.json()
    assert body["type"].endswith(f"/{kind}")
    assert body["status"] == status
    assert body["title"]
    assert body["detail"]
    assert "Traceback" not in response.text
    for form in ("19811218-9876", "198112189876", "811218-9876"):
        assert form not in response.text
    return body


def assert_invalid(response: Any, field: str, *, prefix: bool = False) -> dict[str, Any]:
    """A 422 validation-error naming `field` (or a field starting with it) in errors[].field and in detail."""
    body = assert_problem(response, 422, "validation-error")
    fields = [e["field"] for e in body["errors"]]
    if prefix:
        assert any(f.startswith(field) for f in fields), fields
    else:
        assert field in fields, fields
    assert field in body["detail"], body["detail"]
    return body


def stored_events(api: Api, pid: str) -> int:
    return len(list(api.context.service.events.get(UUID(pid))))


def not_enrolled(api: Api, personnummer: str) -> None:
    response = api.samordnare.post("/api/v1/participants/search", {"personnummer": personnummer})
    assert_problem(response, 404, "not-found")


def with_check_digit(first_eleven: str) -> str:
    """YYYYMMDDNNN plus its correct Luhn digit, as YYYYMMDD-NNNC."""
    return f"{first_eleven[:8]}-{first_eleven[8:]}{luhn_check_digit(first_eleven[2:])}"


@pytest.fixture
def pid(api: Api) -> str:
    return enrol(api)


@pytest.fixture
def consented(api: Api, pid: str) -> str:
    """A participant whose consent lets FK and AF share their decisions with the förbund."""
    response = api.samordnare.post(
        f"/api/v1/participants/{pid}/consents",
        consent_body(("FK", "SF", ["insurance"]), ("AF", "SF", ["employment"])),
    )
    assert response.status_code == 201, response.text
    return pid


# -- enrolment --------------------------------------------------------------------------------------------------

BAD_PERSONNUMMER = {
    "wrong_check_digit": "19811218-9875",
    "impossible_date_31_february": with_check_digit("19810231987"),
    "impossible_month_13": with_check_digit("19811318987"),
    "born_in_the_future": with_check_digit(f"{today().year + 1}0101987"),
    "letters": "19811218-98A6",
    "all_letters": "ÅÅÅÅMMDD-NNNN",
    "too_few_digits": "1981121-9876",
    "non_ascii_digits": "١٩٨١١٢١٨-٩٨٧٦",
    "two_separators": "19811218--9876",
    "too_long": "19811218-9876-19811218",
}


@pytest.mark.parametrize("case", list(BAD_PERSONNUMMER))
def test_enrolment_with_a_bad_personnummer_is_422_without_echoing_the_number(api: Api, case: str) -> None:
    number = BAD_PERSONNUMMER[case]
    response = api.samordnare.post("/api/v1/participants", {**ANNA, "personnummer": number})
    assert_invalid(response, "personnummer")
    assert number not in response.text
    assert number.replace("-", "") not in response.text
    assert number[2:] not in response.text


def test_enrolment_with_an_unknown_field_is_422_naming_it(api: Api) -> None:
    response = api.samordnare.post("/api/v1/participants", {**ANNA, "nickname": "Annie"})
    assert_invalid(response, "nickname")
    not_enrolled(api, ANNA["personnummer"])


def test_enrolment_with_an_unknown_nested_field_is_422_naming_it(api: Api) -> None:
    response = api.samordnare.post("/api/v1/participants", {**ANNA, "contact": {"phone": "070-1", "fax": "08-1"}})
    assert_invalid(response, "contact.fax")
    not_enrolled(api, ANNA["personnummer"])


@pytest.mark.parametrize("field", ["personnummer", "given_name", "family_name"])
def test_enrolment_without_a_required_field_is_422_naming_it(api: Api, field: str) -> None:
    body = {k: v for k, v in ANNA.items() if k != field}
    assert_invalid(api.samordnare.post("/api/v1/participants", body), field)
    not_enrolled(api, ANNA["personnummer"])


def test_enrolment_with_a_given_name_over_200_characters_is_422(api: Api) -> None:
    response = api.samordnare.post("/api/v1/participants", {**ANNA, "given_name": "A" * 201})
    assert_invalid(response, "given_name")
    assert "A" * 201 not in response.text
    not_enrolled(api, ANNA["personnummer"])
    # 200 characters is still a name.
    assert api.samordnare.post("/api/v1/participants", {**ANNA, "given_name": "A" * 200}).status_code == 201


@pytest.mark.parametrize("name", ["", "   "])
def test_enrolment_with_an_empty_or_blank_name_is_422(api: Api, name: str) -> None:
    assert_invalid(api.samordnare.post("/api/v1/participants", {**ANNA, "family_name": name}), "family_name")
    not_enrolled(api, ANNA["personnummer"])


@pytest.mark.parametrize("municipality", ["180", "01800", "18a0", "", "1880 ", 1880])
def test_enrolment_with_a_municipality_not_four_digits_is_422(api: Api, municipality: Any) -> None:
    response = api.samordnare.post("/api/v1/participants", {**ANNA, "municipality": municipality})
    assert_invalid(response, "municipality")
    not_enrolled(api, ANNA["personnummer"])


@pytest.mark.parametrize("municipality", ["\u0661\u0662\u0663\u0664", "\uff11\uff12\uff13\uff14"])
def test_enrolment_with_a_municipality_of_non_ascii_digits_is_422(api: Api, municipality: str) -> None:
    response = api.samordnare.post("/api/v1/participants", {**ANNA, "municipality": municipality})
    assert_invalid(response, "municipality")


def test_enrolment_with_a_wrongly_typed_field_is_422(api: Api) -> None:
    assert_invalid(api.samordnare.post("/api/v1/participants", {**ANNA, "personnummer": 198112189876}), "personnummer")
    assert_invalid(api.samordnare.post("/api/v1/participants", {**ANNA, "contact": "070-1"}), "contact")
    not_enrolled(api, ANNA["personnummer"])


def test_search_with_a_bad_personnummer_is_422_without_echoing_it(api: Api) -> None:
    response = api.samordnare.post("/api/v1/participants/search", {"personnummer": "19811218-9875"})
    assert_invalid(response, "personnummer")
    assert "9875" not in response.json()["detail"]


# -- consent ----------------------------------------------------------------------------------------------------


def refused_consent(api: Api, pid: str, body: dict[str, Any]) -> Any:
    """Posts a consent that must be refused; checks that nothing was stored."""
    before = stored_events(api, pid)
    response = api.samordnare.post(f"/api/v1/participants/{pid}/consents", body)
    assert stored_events(api, pid) == before
    assert api.context.service.get_case(UUID(pid)).consents == {}
    return response


def test_consent_with_an_unknown_party_is_422(api: Api, pid: str) -> None:
    body = consent_body(("XX", "SF", ["insurance"]))
    assert_invalid(refused_consent(api, pid, body), "grants.0.from")
    body = consent_body(("FK", "SF", ["insurance"]), ("FK", "SKV", ["insurance"]))
    assert_invalid(refused_consent(api, pid, body), "grants.1.to")


def test_consent_with_an_unknown_category_is_422(api: Api, pid: str) -> None:
    body = assert_invalid(refused_consent(api, pid, consent_body(("FK", "SF", ["banana"]))), "grants.0.categories.0")
    assert "unknown category" in body["detail"]


def test_consent_granting_another_partys_category_is_422(api: Api, pid: str) -> None:
    body = assert_invalid(refused_consent(api, pid, consent_body(("FK", "SF", ["health"]))), "grants", prefix=True)
    assert "FK -> SF: health" in body["detail"]


def test_consent_where_a_party_grants_itself_is_422(api: Api, pid: str) -> None:
    assert_invalid(refused_consent(api, pid, consent_body(("FK", "FK", ["insurance"]))), "grants", prefix=True)


def test_consent_with_valid_until_before_valid_from_is_422(api: Api, pid: str) -> None:
    body = consent_body(
        ("FK", "SF", ["insurance"]),
        valid_from=today().isoformat(),
        valid_until=(today() - timedelta(days=1)).isoformat(),
    )
    assert_invalid(refused_consent(api, pid, body), "valid_until")


def test_consent_longer_than_12_months_is_422_and_exactly_12_months_is_accepted(api: Api, pid: str) -> None:
    start = date(today().year, today().month, 1)
    too_long = consent_body(
        ("FK", "SF", ["insurance"]),
        valid_from=start.isoformat(),
        valid_until=date(start.year + 1, start.month, 2).isoformat(),
    )
    body = assert_invalid(refused_consent(api, pid, too_long), "valid_until")
    assert "12 months" in body["detail"]

    exactly = {**too_long, "valid_until": date(start.year + 1, start.month, 1).isoformat()}
    response = api.samordnare.post(f"/api/v1/participants/{pid}/consents", exactly)
    assert response.status_code == 201, response.text


@pytest.mark.parametrize("witness", [None, "   "])
def test_oral_consent_without_a_witness_is_422(api: Api, pid: str, witness: str | None) -> None:
    body = consent_body(("FK", "SF", ["insurance"]), form="oral", witness=witness)
    assert_invalid(refused_consent(api, pid, body), "witness")


def test_oral_consent_with_a_witness_is_accepted(api: Api, pid: str) -> None:
    body = consent_body(("FK", "SF", ["insurance"]), form="oral", witness="Samordnare Eva")
    response = api.samordnare.post(f"/api/v1/participants/{pid}/consents", body)
    assert response.status_code == 201, response.text


@pytest.mark.parametrize("field", ["valid_from", "valid_until"])
@pytest.mark.parametrize("value", ["2026-02-30", "2026-13-01", "30/01/2026", "tomorrow"])
def test_consent_with_an_impossible_date_is_422(api: Api, pid: str, field: str, value: str) -> None:
    body = consent_body(("FK", "SF", ["insurance"]), **{field: value})
    assert_invalid(refused_consent(api, pid, body), field)


def test_consent_with_an_unknown_form_or_field_is_422(api: Api, pid: str) -> None:
    assert_invalid(refused_consent(api, pid, consent_body(("FK", "SF", ["insurance"]), form="email")), "form")
    assert_invalid(refused_consent(api, pid, consent_body(("FK", "SF", ["insurance"]), signed=True)), "signed")


def test_consent_without_grants_or_categories_is_422(api: Api, pid: str) -> None:
    assert_invalid(refused_consent(api, pid, consent_body()), "grants")
    assert_invalid(refused_consent(api, pid, consent_body(("FK", "SF", []))), "grants.0.categories")


def test_consent_for_a_participant_under_18_needs_a_guardian(api: Api) -> None:
    born = today() - timedelta(days=16 * 365 + 4)
    minor = enrol(
        api,
        personnummer=fictitious_personnummer(born, 42, gender="female"),
        given_name="Tova",
        family_name="Minorsdotter",
    )
    body = consent_body(("FK", "SF", ["insurance"]))
    assert_invalid(refused_consent(api, minor, body), "guardian")
    assert_invalid(refused_consent(api, minor, {**body, "guardian": "   "}), "guardian")

    response = api.samordnare.post(
        f"/api/v1/participants/{minor}/consents", {**body, "guardian": "Vårdnadshavare Karin Minorsdotter"}
    )
    assert response.status_code == 201, response.text


# -- decisions --------------------------------------------------------------------------------------------------


def refused_decision(api: Api, pid: str, body: dict[str, Any], agency: str = "FK") -> Any:
    """Posts a decision that must be refused; checks that nothing was stored."""
    before = stored_events(api, pid)
    response = api.handlaggare(agency).post(f"/api/v1/participants/{pid}/decisions", body)
    assert stored_events(api, pid) == before
    assert api.context.service.get_case(UUID(pid)).decisions == {}
    return response


@pytest.mark.parametrize("category", ["banana", "Insurance", "insurance.Sickness", "insurance..x", ""])
def test_decision_with_an_unknown_category_is_422(api: Api, consented: str, category: str) -> None:
    assert_invalid(refused_decision(api, consented, decision_body(category)), "category")


def test_decision_with_a_trailing_dot_category_is_422(api: Api, consented: str) -> None:
    assert_invalid(refused_decision(api, consented, decision_body("insurance.")), "category")


def test_decision_in_a_sub_category_is_accepted(api: Api, consented: str) -> None:
    response = api.handlaggare("FK").post(
        f"/api/v1/participants/{consented}/decisions", decision_body("insurance.sickness")
    )
    assert response.status_code == 201, response.text


@pytest.mark.parametrize("value", ["2026-02-30", "2025-02-29", "2026-00-10", "den 3 mars"])
def test_decision_with_an_impossible_effective_date_is_422(api: Api, consented: str, value: str) -> None:
    assert_invalid(refused_decision(api, consented, decision_body(effective_date=value)), "effective_date")


def test_decision_summary_of_10001_characters_is_422_and_10000_is_accepted(api: Api, consented: str) -> None:
    assert_invalid(refused_decision(api, consented, decision_body(summary="s" * 10_001)), "summary")
    response = api.handlaggare("FK").post(
        f"/api/v1/participants/{consented}/decisions", decision_body(summary="s" * 10_000)
    )
    assert response.status_code == 201, response.text


@pytest.mark.parametrize(
    "attributes",
    [{"result": {"nested": 1}}, {"result": [1, 2]}, {"k" * 65: "too long a key"}, "flat string", [1]],
    ids=["nested_object", "list_value", "key_over_64_chars", "string", "list"],
)
def test_decision_attributes_must_be_a_flat_object(api: Api, consented: str, attributes: Any) -> None:
    assert_invalid(refused_decision(api, consented, decision_body(attributes=attributes)), "attributes", prefix=True)


def test_decision_with_typed_attributes_is_accepted_and_shown(api: Api, consented: str) -> None:
    attributes = {"omfattning": 50, "dagar": 90, "fran": "2026-03-01", "retroaktiv": False}
    body = decision_body(decision_type="Sjukpenning", attributes=attributes)
    response = api.handlaggare("FK").post(f"/api/v1/participants/{consented}/decisions", body)
    assert response.status_code == 201, response.text
    (shown,) = api.handlaggare("FK").get(f"/api/v1/participants/{consented}/view").json()["decisions"]
    assert (shown["decision_type"], shown["attributes"]) == ("sjukpenning", attributes)


@pytest.mark.parametrize(
    ("attributes", "field"),
    [
        ({"omfattning": "50%"}, "attributes.omfattning"),
        ({"omfattning": 150}, "attributes.omfattning"),
        ({"omfattning": 50.5}, "attributes.omfattning"),
        ({"fran": "2026-02-30"}, "attributes.fran"),
        ({"retroaktiv": "ja"}, "attributes.retroaktiv"),
        ({"program": "jobbspar"}, "attributes"),  # not one of sjukpenning's attributes
        ({"diagnos": "F32 depression"}, "attributes"),  # free text has no attribute: it belongs in the summary
        ({"19811218-9876": True}, "attributes"),
    ],
)
def test_decision_attributes_are_typed_by_the_decision_type(
    api: Api, consented: str, attributes: dict[str, Any], field: str
) -> None:
    response = refused_decision(api, consented, decision_body(attributes=attributes))
    assert_invalid(response, field)
    assert "19811218" not in response.text and "F32" not in response.text and "depression" not in response.text


@pytest.mark.parametrize("number", ["1e400", "-1e400", "NaN", "Infinity", "-Infinity"])
def test_non_finite_numbers_in_attributes_are_422(api: Api, consented: str, number: str) -> None:
    body = json.dumps(decision_body()).removesuffix("}") + f', "attributes": {{"dagar": {number}}}}}'
    response = api.handlaggare("FK").post(
        f"/api/v1/participants/{consented}/decisions", content=body, headers={"Content-Type": "application/json"}
    )
    assert response.status_code == 422, response.text
    assert api.context.service.get_case(UUID(consented)).decisions == {}


@pytest.mark.parametrize("decision_type", ["beslut", "Annika Lindqvist", "sjukskrivning"])
def test_decision_types_come_from_the_catalogue_of_the_agency(api: Api, consented: str, decision_type: str) -> None:
    response = refused_decision(api, consented, decision_body(decision_type=decision_type))
    assert_invalid(response, "decision_type")
    assert "Annika" not in response.text and "beslut" not in response.text


@pytest.mark.parametrize("field", ["agency", "consent_id", "recorded_at"])
def test_decision_with_an_unknown_field_is_422_naming_it(api: Api, consented: str, field: str) -> None:
    assert_invalid(refused_decision(api, consented, decision_body(**{field: "AF"})), field)


@pytest.mark.parametrize("field", ["category", "decision_type", "effective_date", "summary", "source_ref"])
def test_decision_without_a_required_field_is_422_naming_it(api: Api, consented: str, field: str) -> None:
    body = {k: v for k, v in decision_body().items() if k != field}
    assert_invalid(refused_decision(api, consented, body), field)


@pytest.mark.parametrize("field", ["decision_type", "summary", "source_ref"])
def test_decision_with_a_blank_text_field_is_422(api: Api, consented: str, field: str) -> None:
    assert_invalid(refused_decision(api, consented, decision_body(**{field: "   "})), field)


def test_retraction_without_a_reason_is_422(api: Api, consented: str) -> None:
    created = api.handlaggare("FK").post(f"/api/v1/participants/{consented}/decisions", decision_body())
    assert created.status_code == 201, created.text
    path = f"/api/v1/participants/{consented}/decisions/{created.json()['id']}/retraction"
    before = stored_events(api, consented)
    for body in ({}, {"reason": ""}, {"reason": "x" * 2001}):
        assert_invalid(api.handlaggare("FK").post(path, body), "reason")
    assert stored_events(api, consented) == before


# -- withdrawal -------------------------------------------------------------------------------------------------


def test_withdrawal_naming_a_grant_the_consent_does_not_have_is_422(api: Api, pid: str) -> None:
    created = api.samordnare.post(f"/api/v1/participants/{pid}/consents", consent_body(("FK", "SF", ["insurance"])))
    consent_id = created.json()["id"]
    before = stored_events(api, pid)
    path = f"/api/v1/participants/{pid}/consents/{consent_id}/withdrawal"

    for grants in (
        [{"from": "AF", "to": "SF", "categories": ["employment"]}],
        [{"from": "FK", "to": "SF", "categories": ["insurance.sickness"]}],
        [{"from": "FK", "to": "SF", "categories": ["insurance", "employment"]}],
    ):
        body = assert_invalid(api.samordnare.post(path, {"grants": grants}), "grants", prefix=True)
        assert "no grant" in body["detail"]

    assert_invalid(api.samordnare.post(path, {"grants": []}), "grants")
    assert_invalid(api.samordnare.post(path, {"grants": None, "why": "x"}), "why")
    assert stored_events(api, pid) == before
    consent = api.context.service.get_case(UUID(pid)).consent(UUID(consent_id))
    assert consent.version == 1
    assert all(state.withdrawn_at is None for state in consent.grants)


def test_withdrawal_of_an_unknown_consent_is_404(api: Api, pid: str) -> None:
    before = stored_events(api, pid)
    response = api.samordnare.post(f"/api/v1/participants/{pid}/consents/{UNKNOWN_ID}/withdrawal", {})
    assert_problem(response, 404, "not-found")
    assert stored_events(api, pid) == before


# -- malformed and oversized bodies -----------------------------------------------------------------------------


@pytest.mark.parametrize(
    "raw",
    [b'{"category": ', b"{'category': 'insurance'}", b"not json at all", b'{"category": "insurance",}'],
    ids=["truncated", "single_quotes", "plain_text", "trailing_comma"],
)
def test_malformed_json_body_is_422(api: Api, consented: str, raw: bytes) -> None:
    before = stored_events(api, consented)
    response = api.client.post(
        f"/api/v1/participants/{consented}/decisions",
        content=raw,
        headers={**api.handlaggare("FK").auth, "content-type": "application/json"},
    )
    body = assert_problem(response, 422, "validation-error")
    assert body["errors"]
    assert "JSON" in body["detail"]
    assert stored_events(api, consented) == before


def test_body_that_is_not_an_object_is_422(api: Api) -> None:
    assert_problem(api.samordnare.post("/api/v1/participants", [ANNA]), 422, "validation-error")
    assert_problem(api.samordnare.post("/api/v1/participants", "x"), 422, "validation-error")
    not_enrolled(api, ANNA["personnummer"])


def test_body_larger_than_1_mib_is_413(api: Api, pid: str) -> None:
    before = stored_events(api, pid)
    oversized = json.dumps(consent_body(("FK", "SF", ["insurance"]), purpose="p" * (1024 * 1024))).encode()
    assert len(oversized) > 1024 * 1024
    response = api.client.post(
        f"/api/v1/participants/{pid}/consents",
        content=oversized,
        headers={**api.samordnare.auth, "content-type": "application/json"},
    )
    assert_problem(response, 413, "payload-too-large")
    assert stored_events(api, pid) == before


def test_chunked_body_larger_than_1_mib_is_413(api: Api) -> None:
    oversized = json.dumps({**OTHER, "given_name": "x" * (2 * 1024 * 1024)}).encode()

    def chunks() -> Iterator[bytes]:
        for start in range(0, len(oversized), 64 * 1024):
            yield oversized[start : start + 64 * 1024]

    response = api.client.post(
        "/api/v1/participants",
        content=chunks(),
        headers={**api.samordnare.auth, "content-type": "application/json"},
    )
    assert_problem(response, 413, "payload-too-large")


# -- paths --------------------------------------------------------------------------------------------------------


@pytest.mark.parametrize("bad_id", ["not-a-uuid", "123", "00000000-0000-4000-8000-00000000000g"])
def test_invalid_uuid_in_the_path_is_422_naming_the_parameter(api: Api, consented: str, bad_id: str) -> None:
    assert_invalid(api.samordnare.get(f"/api/v1/participants/{bad_id}/view"), "participant_id")
    assert_invalid(
        api.samordnare.post(f"/api/v1/participants/{bad_id}/consents", consent_body(("FK", "SF", ["insurance"]))),
        "participant_id",
    )
    assert_invalid(
        api.handlaggare("FK").post(f"/api/v1/participants/{bad_id}/decisions", decision_body()), "participant_id"
    )
    assert_invalid(
        api.handlaggare("FK").post(
            f"/api/v1/participants/{consented}/decisions/{bad_id}/correction", decision_body(source_ref="FK-2")
        ),
        "decision_id",
    )
    assert_invalid(
        api.samordnare.post(f"/api/v1/participants/{consented}/consents/{bad_id}/withdrawal", {}), "consent_id"
    )


def test_unknown_participant_is_404(api: Api) -> None:
    base = f"/api/v1/participants/{UNKNOWN_ID}"
    responses = [
        api.samordnare.get(f"{base}/view"),
        api.handlaggare("FK").get(f"{base}/view"),
        api.samordnare.get(f"{base}/consents"),
        api.samordnare.post(f"{base}/consents", consent_body(("FK", "SF", ["insurance"]))),
        api.handlaggare("FK").post(f"{base}/decisions", decision_body()),
        api.samordnare.post(f"{base}/closure", {"outcome": "work", "closed_date": today().isoformat()}),
        api.samordnare.get(f"{base}/disclosures"),
        api.admin.post(f"{base}/erasure"),
    ]
    for response in responses:
        assert_problem(response, 404, "not-found")
    assert list(api.context.service.events.get(UUID(UNKNOWN_ID))) == []


# -- nothing stored by a refused request --------------------------------------------------------------------------


def test_nothing_is_stored_by_a_refused_request(api: Api, consented: str) -> None:
    pid = consented
    fk, af, samordnare = api.handlaggare("FK"), api.handlaggare("AF"), api.samordnare
    decision = fk.post(f"/api/v1/participants/{pid}/decisions", decision_body())
    assert decision.status_code == 201, decision.text
    decision_id = decision.json()["id"]
    base = f"/api/v1/participants/{pid}"

    refused: list[tuple[str, Any, int]] = [
        ("decision, unknown category", lambda: fk.post(f"{base}/decisions", decision_body("banana", "FK-9")), 422),
        (
            "decision, blank summary",
            lambda: fk.post(f"{base}/decisions", decision_body(source_ref="FK-6", summary=" ")),
            422,
        ),
        (
            "decision, other agency's category",
            lambda: fk.post(f"{base}/decisions", decision_body("health", "FK-7")),
            403,
        ),
        (
            "decision without consent",
            lambda: api.handlaggare("REGION").post(f"{base}/decisions", decision_body("health", "R-1")),
            403,
        ),
        ("decision by samordnare", lambda: samordnare.post(f"{base}/decisions", decision_body(source_ref="S-1")), 403),
        (
            "correction by AF of FK's decision",
            lambda: af.post(f"{base}/decisions/{decision_id}/correction", decision_body("employment", "AF-9")),
            403,
        ),
        (
            "retraction by AF of FK's decision",
            lambda: af.post(f"{base}/decisions/{decision_id}/retraction", {"reason": "Fel"}),
            403,
        ),
        (
            "consent, too long",
            lambda: samordnare.post(
                f"{base}/consents",
                consent_body(("FK", "SF", ["insurance"]), valid_until=(today() + timedelta(days=800)).isoformat()),
            ),
            422,
        ),
        ("consent by handlaggare", lambda: fk.post(f"{base}/consents", consent_body(("FK", "SF", ["insurance"]))), 403),
        (
            "closure, unknown outcome",
            lambda: samordnare.post(f"{base}/closure", {"outcome": "vanished", "closed_date": today().isoformat()}),
            422,
        ),
        (
            "closure by handlaggare",
            lambda: fk.post(f"{base}/closure", {"outcome": "work", "closed_date": today().isoformat()}),
            403,
        ),
        (
            "meeting, attended as text",
            lambda: samordnare.post(
                f"{base}/meetings", {"date": today().isoformat(), "agencies_present": ["FK"], "attended": "yes"}
            ),
            422,
        ),
        ("plan, empty", lambda: samordnare.post(f"{base}/plan", {"goals": [], "steps": []}), 422),
        (
            "referral, unknown remittent",
            lambda: samordnare.post(
                f"{base}/referral", {"remittent": "XX", "reason": "r", "received_date": today().isoformat()}
            ),
            422,
        ),
        ("erasure by samordnare", lambda: samordnare.post(f"{base}/erasure"), 403),
        ("no token", lambda: api.client.post(f"{base}/decisions", json=decision_body(source_ref="FK-8")), 401),
    ]
    for name, send, status in refused:
        before = stored_events(api, pid)
        response = send()
        assert response.status_code == status, f"{name}: {response.status_code} {response.text}"
        assert response.headers["content-type"].startswith("application/problem+json"), name
        assert stored_events(api, pid) == before, name

    case = api.context.service.get_case(UUID(pid))
    assert list(case.decisions) == [UUID(decision_id)]
    assert case.decisions[UUID(decision_id)].status == "active"
    assert len(case.consents) == 1
    assert not case.is_closed
    assert not case.is_erased
