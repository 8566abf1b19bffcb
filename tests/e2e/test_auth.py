"""Authentication and authorisation over HTTP: who the caller is comes only from a verified bearer token, and
each role may do only its own part. Refusals are RFC 9457 problems without stack traces or personal data."""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Any
from uuid import UUID

import jwt
import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec, rsa
from fastapi.testclient import TestClient
from jwt.algorithms import ECAlgorithm, RSAAlgorithm

from adapters.auth import Role, TokenVerifier, Unauthenticated, User
from adapters.http.app import build_context, create_app
from adapters.settings import Settings
from adapters.storage import Storage
from consent import Party
from coordination.personnummer import fictitious_personnummer
from tests.conftest import fixed_keys
from tests.e2e.conftest import Api
from tests.e2e.scenario import consent_body, decision_body, enrol
from tests.support import ANNA

PERSONNUMMER_FORMS = ("19811218-9876", "198112189876", "811218-9876", "8112189876")
OTHER_PERSONNUMMER = fictitious_personnummer(date(1975, 5, 5), 12, gender="male")
MISTYPED = "19811218-9875"  # Annika's number with a wrong check digit
ALL_GRANTS = (
    ("FK", "SF", ["insurance"]),
    ("AF", "SF", ["employment"]),
    ("REGION", "SF", ["health"]),
    ("KOMMUN", "SF", ["social"]),
)


# -- helpers ----------------------------------------------------------------------------------------------------


def assert_problem(response: Any, status: int, kind: str, *secrets: str) -> dict[str, Any]:
    """The response is an RFC 9457 problem of `kind`, without stack trace or personnummer; returns its body."""
    assert response.status_code == status, response.text
    assert response.headers["content-type"].startswith("application/problem+json")
    body: dict[str, Any] = response.json()
    assert body["type"].endswith(f"/{kind}")
    assert body["status"] == status
    assert isinstance(body["title"], str)
    assert body["title"]
    assert isinstance(body["detail"], str)
    assert body["detail"]
    assert "Traceback" not in response.text
    assert 'File "' not in response.text
    for form in (*PERSONNUMMER_FORMS, *secrets):
        assert form not in response.text
    if status == 401:
        assert response.headers["www-authenticate"].startswith("Bearer")
    return body


def stored_events(api: Api, pid: str) -> int:
    return len(list(api.context.service.events.get(UUID(pid))))


def b64url(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def claims(**overrides: Any) -> dict[str, Any]:
    """Valid claims of a samordnare, expiring in an hour; a value of None removes that claim."""
    now = datetime.now(UTC)
    base: dict[str, Any] = {
        "sub": "user-1",
        "agency": "SF",
        "role": "samordnare",
        "iat": int(now.timestamp()),
        "exp": int((now + timedelta(hours=1)).timestamp()),
    }
    base.update(overrides)
    return {k: v for k, v in base.items() if v is not None}


def unsigned_by_hand(payload: dict[str, Any], alg: str = "none") -> str:
    header = {"alg": alg, "typ": "JWT"}
    return f"{b64url(json.dumps(header).encode())}.{b64url(json.dumps(payload).encode())}."


def hs256_by_hand(
    payload: dict[str, Any], secret: bytes, header: dict[str, Any] | None = None, digest: str = "sha256"
) -> str:
    """HMAC-signed without PyJWT's key checks (PyJWT refuses PEM keys as HMAC secrets; attackers do not)."""
    head = b64url(json.dumps(header or {"alg": "HS256", "typ": "JWT"}).encode())
    body = b64url(json.dumps(payload).encode())
    signature = hmac.new(secret, f"{head}.{body}".encode(), getattr(hashlib, digest)).digest()
    return f"{head}.{body}.{b64url(signature)}"


def tampered(token: str, **changes: Any) -> str:
    """The token with its payload changed and its original signature kept."""
    head, body, signature = token.split(".")
    payload = json.loads(base64.urlsafe_b64decode(body + "=" * (-len(body) % 4)))
    payload.update(changes)
    return f"{head}.{b64url(json.dumps(payload).encode())}.{signature}"


def bearer(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


# -- 401: no usable token -------------------------------------------------------------------------------------

Headers = Callable[[bytes], dict[str, str]]

REFUSED_CREDENTIALS: dict[str, Headers] = {
    "no_authorization_header": lambda secret: {},
    "basic_scheme": lambda secret: {"Authorization": "Basic dXNlcjpwYXNzd29yZA=="},
    "token_without_bearer_scheme": lambda secret: {"Authorization": jwt.encode(claims(), secret, "HS256")},
    "bearer_without_token": lambda secret: {"Authorization": "Bearer "},
    "malformed_token": lambda secret: bearer("not-a-jwt"),
    "malformed_three_part_token": lambda secret: bearer("abc.def.ghi"),
    "unsigned_alg_none_by_pyjwt": lambda secret: bearer(jwt.encode(claims(), None, algorithm="none")),
    "unsigned_alg_none_by_hand": lambda secret: bearer(unsigned_by_hand(claims())),
    "unsigned_alg_None_capitalised": lambda secret: bearer(unsigned_by_hand(claims(), alg="None")),
    "alg_none_with_the_real_signature": lambda secret: bearer(
        unsigned_by_hand(claims()) + jwt.encode(claims(), secret, "HS256").split(".")[2]
    ),
    "signed_with_another_secret": lambda secret: bearer(jwt.encode(claims(), b"another-secret" * 3, "HS256")),
    "right_secret_but_hs512": lambda secret: bearer(
        hs256_by_hand(claims(), secret, {"alg": "HS512", "typ": "JWT"}, digest="sha512")
    ),
    "payload_tampered_after_signing": lambda secret: bearer(
        tampered(jwt.encode(claims(role="handlaggare", agency="FK"), secret, "HS256"), role="samordnare", agency="SF")
    ),
    "expired_beyond_leeway": lambda secret: bearer(
        jwt.encode(claims(exp=int((datetime.now(UTC) - timedelta(seconds=90)).timestamp())), secret, "HS256")
    ),
    "without_exp": lambda secret: bearer(jwt.encode(claims(exp=None), secret, "HS256")),
    "without_sub": lambda secret: bearer(jwt.encode(claims(sub=None), secret, "HS256")),
    "blank_sub": lambda secret: bearer(jwt.encode(claims(sub="   "), secret, "HS256")),
    "without_agency": lambda secret: bearer(jwt.encode(claims(agency=None), secret, "HS256")),
    "without_role": lambda secret: bearer(jwt.encode(claims(role=None), secret, "HS256")),
    "unknown_role": lambda secret: bearer(jwt.encode(claims(role="superuser"), secret, "HS256")),
    "unknown_agency": lambda secret: bearer(jwt.encode(claims(agency="SKV"), secret, "HS256")),
    "samordnare_of_agency_FK": lambda secret: bearer(jwt.encode(claims(agency="FK"), secret, "HS256")),
    "handlaggare_of_the_forbund_SF": lambda secret: bearer(
        jwt.encode(claims(role="handlaggare", agency="SF"), secret, "HS256")
    ),
    "granskare_of_agency_FK": lambda secret: bearer(jwt.encode(claims(role="granskare", agency="FK"), secret, "HS256")),
    "admin_of_agency_KOMMUN": lambda secret: bearer(jwt.encode(claims(role="admin", agency="KOMMUN"), secret, "HS256")),
    "valid_for_a_hundred_years": lambda secret: bearer(
        jwt.encode(claims(exp=int((datetime.now(UTC) + timedelta(days=36_500)).timestamp())), secret, "HS256")
    ),
    "not_valid_for_another_hour": lambda secret: bearer(
        jwt.encode(claims(nbf=int((datetime.now(UTC) + timedelta(hours=1)).timestamp())), secret, "HS256")
    ),
}


@pytest.mark.parametrize("case", list(REFUSED_CREDENTIALS))
def test_request_without_a_usable_token_is_401_and_stores_nothing(api: Api, case: str) -> None:
    headers = REFUSED_CREDENTIALS[case](api.secret or b"")
    response = api.client.post("/api/v1/participants", json=ANNA, headers=headers)
    body = assert_problem(response, 401, "unauthenticated")
    token = headers.get("Authorization", "").partition(" ")[2]
    if len(token) > 20:  # a real token: it must not be echoed back
        assert token not in response.text
    assert body["detail"]
    # Nothing was enrolled by the refused request.
    assert_problem(
        api.samordnare.post("/api/v1/participants/search", {"personnummer": ANNA["personnummer"]}), 404, "not-found"
    )


def test_refused_token_is_401_on_reads_too(api: Api) -> None:
    pid = enrol(api)
    expired = jwt.encode(claims(exp=int((datetime.now(UTC) - timedelta(minutes=5)).timestamp())), api.secret, "HS256")
    for headers in ({}, bearer(expired), bearer(jwt.encode(claims(), None, algorithm="none"))):
        response = api.client.get(f"/api/v1/participants/{pid}/view", headers=headers)
        assert_problem(response, 401, "unauthenticated")


def test_expired_token_says_it_has_expired(api: Api) -> None:
    expired = jwt.encode(claims(exp=int((datetime.now(UTC) - timedelta(minutes=5)).timestamp())), api.secret, "HS256")
    response = api.client.post("/api/v1/participants", json=ANNA, headers=bearer(expired))
    assert "expired" in assert_problem(response, 401, "unauthenticated")["detail"]


def test_token_expired_within_the_30_second_leeway_is_still_accepted(api: Api) -> None:
    just_expired = jwt.encode(
        claims(exp=int((datetime.now(UTC) - timedelta(seconds=10)).timestamp())), api.secret, "HS256"
    )
    response = api.client.post("/api/v1/participants", json=ANNA, headers=bearer(just_expired))
    assert response.status_code == 201, response.text


def test_lowercase_bearer_scheme_with_a_valid_token_is_accepted(api: Api) -> None:
    token = jwt.encode(claims(), api.secret, "HS256")
    response = api.client.post("/api/v1/participants", json=ANNA, headers={"Authorization": f"bearer {token}"})
    assert response.status_code == 201, response.text


def test_token_whose_sub_holds_a_nul_character_is_refused(api: Api) -> None:
    pid = enrol(api)
    token = jwt.encode(claims(sub="user\x00one"), api.secret, "HS256")
    response = api.client.get(f"/api/v1/participants/{pid}/view", headers=bearer(token))
    assert_problem(response, 401, "unauthenticated")


# -- production verification: RS256 / ES256 from the identity provider ------------------------------------------


@pytest.fixture(scope="module")
def rsa_key() -> rsa.RSAPrivateKey:
    return rsa.generate_private_key(public_exponent=65537, key_size=2048)


@pytest.fixture(scope="module")
def other_rsa_key() -> rsa.RSAPrivateKey:
    return rsa.generate_private_key(public_exponent=65537, key_size=2048)


@pytest.fixture(scope="module")
def ec_key() -> ec.EllipticCurvePrivateKey:
    return ec.generate_private_key(ec.SECP256R1())


@pytest.fixture(scope="module")
def other_ec_key() -> ec.EllipticCurvePrivateKey:
    return ec.generate_private_key(ec.SECP256R1())


def public_pem(key: rsa.RSAPrivateKey | ec.EllipticCurvePrivateKey) -> bytes:
    return key.public_key().public_bytes(serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo)


@pytest.fixture
def rsa_pem_file(tmp_path: Path, rsa_key: rsa.RSAPrivateKey) -> Path:
    path = tmp_path / "idp-public.pem"
    path.write_bytes(public_pem(rsa_key))
    return path


@pytest.fixture
def jwks_file(tmp_path: Path, rsa_key: rsa.RSAPrivateKey, ec_key: ec.EllipticCurvePrivateKey) -> Path:
    keys = [
        {**ECAlgorithm.to_jwk(ec_key.public_key(), as_dict=True), "kid": "ec-1", "alg": "ES256", "use": "sig"},
        {**RSAAlgorithm.to_jwk(rsa_key.public_key(), as_dict=True), "kid": "rsa-1", "alg": "RS256", "use": "sig"},
    ]
    path = tmp_path / "jwks.json"
    path.write_text(json.dumps({"keys": keys}))
    return path


IDP_USER = User("idp-user-1", "Karin Handläggare", Party.AF, Role.HANDLAGGARE)
IDP_CLAIMS = {"sub": "idp-user-1", "name": "Karin Handläggare", "agency": "AF", "role": "handlaggare"}


def test_rs256_token_from_the_identity_providers_key_verifies_to_its_user(
    rsa_pem_file: Path, rsa_key: rsa.RSAPrivateKey
) -> None:
    token = jwt.encode(claims(**IDP_CLAIMS), rsa_key, algorithm="RS256")
    assert TokenVerifier(public_key_file=rsa_pem_file).verify(token) == IDP_USER


def test_rs256_token_from_another_key_is_refused(rsa_pem_file: Path, other_rsa_key: rsa.RSAPrivateKey) -> None:
    token = jwt.encode(claims(**IDP_CLAIMS), other_rsa_key, algorithm="RS256")
    with pytest.raises(Unauthenticated):
        TokenVerifier(public_key_file=rsa_pem_file).verify(token)


def test_hs256_token_signed_with_the_public_key_pem_is_refused(rsa_pem_file: Path) -> None:
    """Algorithm confusion: the public key is no secret, so it must never verify an HMAC signature."""
    pem = rsa_pem_file.read_bytes()
    forged = hs256_by_hand(claims(role="samordnare", agency="SF"), pem)
    with pytest.raises(Unauthenticated):
        TokenVerifier(public_key_file=rsa_pem_file).verify(forged)
    # Nor when a development secret is configured next to the public key.
    with pytest.raises(Unauthenticated):
        TokenVerifier(secret=b"s" * 32, public_key_file=rsa_pem_file).verify(forged)
    # Nor with the PEM text stripped of its trailing newline (a common variant of the attack).
    with pytest.raises(Unauthenticated):
        TokenVerifier(public_key_file=rsa_pem_file).verify(hs256_by_hand(claims(), pem.strip()))


def test_unsigned_token_is_refused_by_the_production_verifier(rsa_pem_file: Path, jwks_file: Path) -> None:
    for verifier in (TokenVerifier(public_key_file=rsa_pem_file), TokenVerifier(jwks_file=jwks_file)):
        with pytest.raises(Unauthenticated):
            verifier.verify(jwt.encode(claims(**IDP_CLAIMS), None, algorithm="none"))
        with pytest.raises(Unauthenticated):
            verifier.verify(unsigned_by_hand(claims(**IDP_CLAIMS)))


def test_expired_rs256_token_is_refused_as_expired(rsa_pem_file: Path, rsa_key: rsa.RSAPrivateKey) -> None:
    past = int((datetime.now(UTC) - timedelta(minutes=2)).timestamp())
    token = jwt.encode(claims(**IDP_CLAIMS, exp=past), rsa_key, algorithm="RS256")
    with pytest.raises(Unauthenticated, match="expired"):
        TokenVerifier(public_key_file=rsa_pem_file).verify(token)


def test_rs256_token_with_claims_that_do_not_fit_is_refused(rsa_pem_file: Path, rsa_key: rsa.RSAPrivateKey) -> None:
    for bad in ({"role": "samordnare", "agency": "FK"}, {"role": "root"}, {"agency": None}):
        token = jwt.encode(claims(**{**IDP_CLAIMS, **bad}), rsa_key, algorithm="RS256")
        with pytest.raises(Unauthenticated):
            TokenVerifier(public_key_file=rsa_pem_file).verify(token)


def test_es256_token_verifies_through_the_jwks_key_named_by_kid(
    jwks_file: Path, ec_key: ec.EllipticCurvePrivateKey
) -> None:
    token = jwt.encode(claims(**IDP_CLAIMS), ec_key, algorithm="ES256", headers={"kid": "ec-1"})
    assert TokenVerifier(jwks_file=jwks_file).verify(token) == IDP_USER


def test_jwks_token_without_kid_is_verified_by_the_matching_key(
    jwks_file: Path, ec_key: ec.EllipticCurvePrivateKey
) -> None:
    token = jwt.encode(claims(**IDP_CLAIMS), ec_key, algorithm="ES256")
    assert TokenVerifier(jwks_file=jwks_file).verify(token) == IDP_USER


def test_jwks_rs256_token_without_kid_verifies_when_an_ec_key_is_listed_first(
    jwks_file: Path, rsa_key: rsa.RSAPrivateKey
) -> None:
    token = jwt.encode(claims(**IDP_CLAIMS), rsa_key, algorithm="RS256")  # jwks_file lists ec-1 before rsa-1
    assert TokenVerifier(jwks_file=jwks_file).verify(token) == IDP_USER


def test_jwks_token_whose_alg_does_not_fit_the_named_key_is_refused(
    jwks_file: Path, rsa_key: rsa.RSAPrivateKey
) -> None:
    forged = jwt.encode(claims(**IDP_CLAIMS), rsa_key, algorithm="RS256", headers={"kid": "ec-1"})
    with pytest.raises(Unauthenticated):
        TokenVerifier(jwks_file=jwks_file).verify(forged)


def test_es256_token_from_another_key_or_with_an_unknown_kid_is_refused(
    jwks_file: Path, ec_key: ec.EllipticCurvePrivateKey, other_ec_key: ec.EllipticCurvePrivateKey
) -> None:
    verifier = TokenVerifier(jwks_file=jwks_file)
    with pytest.raises(Unauthenticated):
        verifier.verify(jwt.encode(claims(**IDP_CLAIMS), other_ec_key, algorithm="ES256", headers={"kid": "ec-1"}))
    with pytest.raises(Unauthenticated):
        verifier.verify(jwt.encode(claims(**IDP_CLAIMS), ec_key, algorithm="ES256", headers={"kid": "ec-9"}))


def test_hs256_token_signed_with_the_jwks_public_key_is_refused(jwks_file: Path) -> None:
    keys = json.loads(jwks_file.read_text())["keys"]
    for key in keys:
        for secret in (json.dumps(key).encode(), key.get("x", key.get("n", "")).encode()):
            forged = hs256_by_hand(claims(), secret, {"alg": "HS256", "typ": "JWT", "kid": key["kid"]})
            with pytest.raises(Unauthenticated):
                TokenVerifier(jwks_file=jwks_file).verify(forged)


def test_configured_issuer_and_audience_are_required(rsa_pem_file: Path, rsa_key: rsa.RSAPrivateKey) -> None:
    verifier = TokenVerifier(public_key_file=rsa_pem_file, issuer="https://idp.example.se", audience="samverkan")
    good = {**IDP_CLAIMS, "iss": "https://idp.example.se", "aud": "samverkan"}
    assert verifier.verify(jwt.encode(claims(**good), rsa_key, algorithm="RS256")) == IDP_USER
    for bad in ({"iss": "https://evil.example"}, {"aud": "other-service"}, {"iss": None}, {"aud": None}):
        token = jwt.encode(claims(**{**good, **bad}), rsa_key, algorithm="RS256")
        with pytest.raises(Unauthenticated):
            verifier.verify(token)


def test_verifier_without_any_key_is_a_configuration_error() -> None:
    with pytest.raises(ValueError, match="no token key"):
        TokenVerifier()


@contextmanager
def production_service(settings: Settings, storage: Storage, **token_config: Any) -> Iterator[TestClient]:
    """The app configured as in production: only the identity provider's keys verify tokens."""
    keys = {k: v for k, v in fixed_keys().items() if k != "token_secret"}
    production = Settings(
        env="production",
        database_url=settings.database_url,
        key_file=Path(settings.key_file).with_name("unused-keys.json"),
        **token_config,
        **keys,
    )
    assert production.token_key is None
    with TestClient(
        create_app(production, context=build_context(production, storage)), raise_server_exceptions=False
    ) as client:
        yield client


@pytest.fixture
def production_client(settings: Settings, storage: Storage, rsa_pem_file: Path) -> Iterator[TestClient]:
    with production_service(settings, storage, token_public_key_file=rsa_pem_file) as client:
        yield client


def test_production_service_accepts_identity_provider_tokens_and_refuses_development_tokens(
    production_client: TestClient, rsa_key: rsa.RSAPrivateKey, rsa_pem_file: Path
) -> None:
    samordnare = jwt.encode(claims(sub="idp-samordnare"), rsa_key, algorithm="RS256")
    development = jwt.encode(claims(), base64.b64decode(fixed_keys()["token_secret"]), "HS256")
    confused = hs256_by_hand(claims(), rsa_pem_file.read_bytes())

    for token in (development, confused):
        response = production_client.post("/api/v1/participants", json=ANNA, headers=bearer(token))
        assert_problem(response, 401, "unauthenticated")

    response = production_client.post("/api/v1/participants", json=ANNA, headers=bearer(samordnare))
    assert response.status_code == 201, response.text


def test_production_service_with_jwks_accepts_es256_tokens(
    settings: Settings, storage: Storage, jwks_file: Path, ec_key: ec.EllipticCurvePrivateKey
) -> None:
    token = jwt.encode(claims(sub="idp-samordnare"), ec_key, algorithm="ES256", headers={"kid": "ec-1"})
    with production_service(settings, storage, token_jwks_file=jwks_file) as client:
        response = client.post("/api/v1/participants", json=ANNA, headers=bearer(token))
    assert response.status_code == 201, response.text


def test_production_service_with_jwks_answers_401_to_a_token_whose_alg_does_not_fit_the_key(
    settings: Settings, storage: Storage, jwks_file: Path
) -> None:
    # Anyone can send this: header {"alg": "RS256", "kid": "ec-1"}, any payload, any signature.
    head = b64url(json.dumps({"alg": "RS256", "kid": "ec-1"}).encode())
    forged = f"{head}.{b64url(json.dumps(claims()).encode())}.AAAA"
    with production_service(settings, storage, token_jwks_file=jwks_file) as client:
        response = client.post("/api/v1/participants", json=ANNA, headers=bearer(forged))
    assert_problem(response, 401, "unauthenticated")


# -- 403: role rules ----------------------------------------------------------------------------------------------


def test_handlaggare_cannot_enrol_record_consent_close_or_export_the_audit_log(api: Api) -> None:
    pid = enrol(api)
    before = stored_events(api, pid)
    fk = api.handlaggare("FK")
    other = {**ANNA, "personnummer": OTHER_PERSONNUMMER, "given_name": "Bo"}
    refused = [
        fk.post("/api/v1/participants", other),
        fk.post(f"/api/v1/participants/{pid}/consents", consent_body(("FK", "SF", ["insurance"]))),
        fk.post(f"/api/v1/participants/{pid}/closure", {"outcome": "work", "closed_date": "2026-01-10"}),
        fk.get("/api/v1/audit/disclosures"),
        fk.get("/api/v1/audit/disclosures/manifest"),
        fk.post("/api/v1/audit/verify"),
        fk.get(f"/api/v1/participants/{pid}/consents"),
        fk.get(f"/api/v1/participants/{pid}/disclosures"),
    ]
    for response in refused:
        assert_problem(response, 403, "forbidden")
    assert stored_events(api, pid) == before
    assert api.context.service.get_case(UUID(pid)).consents == {}
    assert not api.context.service.get_case(UUID(pid)).is_closed


def test_samordnare_cannot_record_a_decision(api: Api) -> None:
    pid = enrol(api)
    api.samordnare.post(f"/api/v1/participants/{pid}/consents", consent_body(*ALL_GRANTS))
    before = stored_events(api, pid)
    for category in ("insurance", "coordination"):
        response = api.samordnare.post(f"/api/v1/participants/{pid}/decisions", decision_body(category))
        assert_problem(response, 403, "forbidden")
    assert stored_events(api, pid) == before
    assert api.context.service.get_case(UUID(pid)).decisions == {}


def test_granskare_sees_no_case_content_and_cannot_enrol(api: Api) -> None:
    pid = enrol(api)
    before = stored_events(api, pid)
    auditor = api.granskare
    refused = [
        auditor.get(f"/api/v1/participants/{pid}/view"),
        auditor.get(f"/api/v1/participants/{pid}/consents"),
        auditor.get(f"/api/v1/participants/{pid}/disclosures"),
        auditor.post("/api/v1/participants/search", {"personnummer": ANNA["personnummer"]}),
        auditor.post("/api/v1/participants", {**ANNA, "personnummer": OTHER_PERSONNUMMER}),
    ]
    for response in refused:
        assert_problem(response, 403, "forbidden")
        assert ANNA["given_name"] not in response.text
        assert ANNA["family_name"] not in response.text
    assert stored_events(api, pid) == before


def test_only_admin_can_erase_personal_data(api: Api) -> None:
    pid = enrol(api)
    before = stored_events(api, pid)
    for caller in (api.samordnare, api.handlaggare("FK"), api.granskare):
        assert_problem(caller.post(f"/api/v1/participants/{pid}/erasure"), 403, "forbidden")
    assert stored_events(api, pid) == before
    assert not api.context.service.get_case(UUID(pid)).is_erased

    response = api.admin.post(f"/api/v1/participants/{pid}/erasure")
    assert response.status_code == 200, response.text
    assert api.context.service.get_case(UUID(pid)).is_erased


def test_admin_sees_no_case_content_and_cannot_enrol(api: Api) -> None:
    pid = enrol(api)
    assert_problem(api.admin.get(f"/api/v1/participants/{pid}/view"), 403, "forbidden")
    assert_problem(
        api.admin.post("/api/v1/participants", {**ANNA, "personnummer": OTHER_PERSONNUMMER}), 403, "forbidden"
    )


def test_handlaggare_cannot_correct_or_retract_another_agencys_decision(api: Api) -> None:
    pid = enrol(api)
    api.samordnare.post(f"/api/v1/participants/{pid}/consents", consent_body(*ALL_GRANTS))
    created = api.handlaggare("AF").post(
        f"/api/v1/participants/{pid}/decisions", decision_body("employment", "AF-1", decision_type="aktivitetsstod")
    )
    assert created.status_code == 201, created.text
    decision_id = created.json()["id"]
    before = stored_events(api, pid)
    fk = api.handlaggare("FK")

    for category in ("employment", "insurance"):
        response = fk.post(
            f"/api/v1/participants/{pid}/decisions/{decision_id}/correction",
            decision_body(category, f"FK-corr-{category}"),
        )
        assert_problem(response, 403, "forbidden")
    response = fk.post(f"/api/v1/participants/{pid}/decisions/{decision_id}/retraction", {"reason": "Fel ärende"})
    assert_problem(response, 403, "forbidden")

    assert stored_events(api, pid) == before
    decision = api.context.service.get_case(UUID(pid)).decisions[UUID(decision_id)]
    assert decision.status == "active"
    assert decision.corrected_by is None


def test_agency_comes_only_from_the_token_fk_cannot_record_employment(api: Api) -> None:
    pid = enrol(api)
    api.samordnare.post(f"/api/v1/participants/{pid}/consents", consent_body(*ALL_GRANTS))
    before = stored_events(api, pid)

    response = api.handlaggare("FK").post(f"/api/v1/participants/{pid}/decisions", decision_body("employment", "AF-1"))
    body = assert_problem(response, 403, "forbidden")
    assert "employment" in body["detail"]
    assert api.context.service.get_case(UUID(pid)).decisions == {}
    assert stored_events(api, pid) == before


def test_body_cannot_claim_an_agency_or_role(api: Api) -> None:
    pid = enrol(api)
    api.samordnare.post(f"/api/v1/participants/{pid}/consents", consent_body(*ALL_GRANTS))
    before = stored_events(api, pid)
    fk = api.handlaggare("FK")
    for extra in ({"agency": "AF"}, {"role": "samordnare"}, {"by": "someone-else"}):
        response = fk.post(f"/api/v1/participants/{pid}/decisions", decision_body("employment", "AF-1", **extra))
        assert_problem(response, 422, "validation-error")
    assert api.context.service.get_case(UUID(pid)).decisions == {}
    assert stored_events(api, pid) == before


def test_query_or_header_cannot_claim_an_agency(api: Api) -> None:
    pid = enrol(api)
    api.samordnare.post(f"/api/v1/participants/{pid}/consents", consent_body(*ALL_GRANTS))
    response = api.handlaggare("FK").post(
        f"/api/v1/participants/{pid}/decisions?agency=AF",
        decision_body("employment", "AF-1"),
        headers={"X-Agency": "AF", "X-Role": "samordnare"},
    )
    assert_problem(response, 403, "forbidden")
    assert api.context.service.get_case(UUID(pid)).decisions == {}


# -- error bodies -------------------------------------------------------------------------------------------------


def test_every_error_body_is_a_problem_without_stack_trace_or_personnummer(api: Api) -> None:
    pid = enrol(api)
    unknown = "00000000-0000-4000-8000-000000000000"
    samordnare, fk = api.samordnare, api.handlaggare("FK")
    cases: list[tuple[Any, int, str]] = [
        (api.client.post("/api/v1/participants", json=ANNA), 401, "unauthenticated"),
        (fk.post("/api/v1/participants", ANNA), 403, "forbidden"),
        (fk.post(f"/api/v1/participants/{pid}/decisions", decision_body()), 403, "consent-required"),
        (samordnare.get(f"/api/v1/participants/{unknown}/view"), 404, "not-found"),
        (samordnare.get("/api/v1/no-such-endpoint"), 404, "not-found"),
        (samordnare.post("/api/v1/participants", ANNA), 409, "conflict"),
        (samordnare.post("/api/v1/participants", {**ANNA, "personnummer": MISTYPED}), 422, "validation-error"),
        (samordnare.post("/api/v1/participants/search", {"personnummer": MISTYPED[2:]}), 422, "validation-error"),
        (samordnare.post("/api/v1/participants/search", {"personnummer": OTHER_PERSONNUMMER}), 404, "not-found"),
        (
            api.client.post(
                "/api/v1/participants",
                content=json.dumps({**ANNA, "given_name": "x" * 1_100_000}).encode(),
                headers={**samordnare.auth, "content-type": "application/json"},
            ),
            413,
            "payload-too-large",
        ),
    ]
    for response, status, kind in cases:
        assert_problem(response, status, kind, MISTYPED, MISTYPED[2:], OTHER_PERSONNUMMER)
