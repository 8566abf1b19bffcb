"""Bearer token rules over HTTP (docs/api.md, "Conventions"): who may carry which agency, how long a token may be
valid, the clock-skew leeway, and a refusal that says why: 401 `unauthenticated` with a stable `reason`, never the
token or its claims' values (in the answer or the log). tests/e2e/test_auth.py has the signature and role rules."""

from __future__ import annotations

import base64
import os
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import jwt
import pytest
import structlog
from cryptography.hazmat.primitives.asymmetric import ec, rsa
from fastapi.testclient import TestClient
from typer.testing import CliRunner

from adapters.auth import check_claims, issue_token
from adapters.cli import DEMO_USERS
from adapters.cli import app as cli_app
from adapters.http.app import build_context, create_app
from adapters.settings import Settings
from adapters.storage import Storage
from tests.conftest import fixed_keys
from tests.e2e.conftest import Api
from tests.e2e.test_auth import assert_problem, bearer, hs256_by_hand, public_pem, unsigned_by_hand
from tests.e2e.test_server_process import free_port

CASELOAD = "/api/v1/caseload"  # a samordnare's read: 200 once the token is accepted
HOUR = 3600
# Claim values that must never come back in a refusal or reach the log.
SUB, NAME = "sub-hemlig-7f3a", "Hemlig Namnsson"


def now() -> int:
    return int(datetime.now(UTC).timestamp())


def claims(**overrides: Any) -> dict[str, Any]:
    """Valid claims of a samordnare, issued now and expiring in an hour; a value of None removes that claim."""
    base: dict[str, Any] = {"sub": SUB, "name": NAME, "agency": "SF", "role": "samordnare", "iat": now()}
    base["exp"] = base["iat"] + HOUR
    base.update(overrides)
    return {k: v for k, v in base.items() if v is not None}


def hs256(secret: bytes | None, **overrides: Any) -> str:
    assert secret
    return jwt.encode(claims(**overrides), secret, "HS256")


def refused(response: Any, reason: str, *secrets: str) -> dict[str, Any]:
    """A 401 `unauthenticated` problem with this reason, echoing neither the token nor the claims' values."""
    body = assert_problem(response, 401, "unauthenticated", SUB, NAME, *secrets)
    assert body["reason"] == reason, body
    sent = response.request.headers.get("authorization", "").partition(" ")[2].strip()
    if len(sent) > 8:
        assert sent not in response.text
    return body


def accepted(response: Any) -> None:
    """The token was accepted: whatever the route answers, it is not a 401."""
    assert response.status_code != 401, response.text


@contextmanager
def service(settings: Settings, storage: Storage, **changes: Any) -> Iterator[TestClient]:
    """The app on the fixture's storage with some settings changed (validated as from the environment)."""
    configured = Settings(**{**settings.model_dump(), **changes})
    app = create_app(configured, context=build_context(configured, storage))
    with TestClient(app, raise_server_exceptions=False) as client:
        yield client


# -- one refusal per reason (the development secret, HS256) -------------------------------------------------------


def test_no_bearer_token_is_refused_as_missing(api: Api) -> None:
    for headers in ({}, {"Authorization": "Basic dXNlcjpwYXNzd29yZA=="}, {"Authorization": "Bearer  "}):
        body = refused(api.client.get(CASELOAD, headers=headers), "missing")
        assert "Authorization: Bearer" in body["detail"]


def test_a_token_that_is_not_a_jwt_or_has_a_broken_payload_is_refused_as_malformed(api: Api) -> None:
    secret = api.secret or b""
    for token in (
        "not-a-jwt",
        "abc.def.ghi",
        hs256_by_hand([claims()], secret),  # type: ignore[arg-type]  # a payload that is not a JSON object
        hs256(secret, exp="soon"),
        hs256(secret, iat="yesterday"),
    ):
        refused(api.client.get(CASELOAD, headers=bearer(token)), "malformed")


def test_a_token_not_signed_by_a_trusted_key_is_refused_as_bad_signature(api: Api) -> None:
    secret = api.secret or b""
    head, _, signature = hs256(secret).split(".")
    for token in (
        hs256(b"another-secret-of-32-bytes-length"),
        jwt.encode(claims(), None, algorithm="none"),  # type: ignore[arg-type]
        unsigned_by_hand(claims()),
        f"{head}.{hs256(secret, role='granskare').split('.')[1]}.{signature}",  # payload swapped, signature kept
    ):
        body = refused(api.client.get(CASELOAD, headers=bearer(token)), "bad-signature")
        assert "trusted key" in body["detail"]


def test_an_expired_token_is_refused_as_expired(api: Api) -> None:
    body = refused(api.client.get(CASELOAD, headers=bearer(hs256(api.secret, exp=now() - 300))), "expired")
    assert "expired" in body["detail"]


@pytest.mark.parametrize("claim", ["nbf", "iat"])
def test_a_token_not_yet_valid_is_refused_as_such_not_as_badly_signed(api: Api, claim: str) -> None:
    future = now() + HOUR
    token = hs256(api.secret, **{claim: future, "exp": future + HOUR})
    body = refused(api.client.get(CASELOAD, headers=bearer(token)), "not-yet-valid")
    assert "not valid yet" in body["detail"]
    assert "trusted key" not in body["detail"]


def test_claims_that_do_not_fit_are_refused_as_such(api: Api) -> None:
    for bad in (
        {"role": "samordnare", "agency": "FK"},
        {"role": "handlaggare", "agency": "SF"},
        {"role": "superuser"},
        {"agency": "SKV"},
        {"sub": None},
        {"sub": "   "},
    ):
        body = refused(api.client.get(CASELOAD, headers=bearer(hs256(api.secret, **bad))), "claims-do-not-fit")
        assert "claims do not fit" in body["detail"]


# -- granskare and admin belong to the förbund (or the operator) --------------------------------------------------


def test_a_granskare_or_admin_of_an_agency_is_refused(api: Api) -> None:
    for role in ("granskare", "admin"):
        for agency in ("FK", "AF", "REGION", "KOMMUN"):
            token = hs256(api.secret, role=role, agency=agency)
            response = api.client.get("/api/v1/audit/disclosures", headers=bearer(token))
            body = refused(response, "claims-do-not-fit")
            assert "agency must be SF" in body["detail"]


def test_a_granskare_and_an_admin_of_the_forbund_are_accepted(api: Api) -> None:
    granskare = api.client.get("/api/v1/audit/disclosures", headers=bearer(hs256(api.secret, role="granskare")))
    assert granskare.status_code == 200, granskare.text
    admin = api.client.get(CASELOAD, headers=bearer(hs256(api.secret, role="admin")))
    assert_problem(admin, 403, "forbidden")  # signed in; the caseload is not the admin's


def test_a_configured_operator_party_may_hold_granskare_and_admin_tokens(settings: Settings, storage: Storage) -> None:
    secret = settings.token_key
    with service(settings, storage, operator_agency="KOMMUN") as client:
        audit = client.get(
            "/api/v1/audit/disclosures", headers=bearer(hs256(secret, role="granskare", agency="KOMMUN"))
        )
        assert audit.status_code == 200, audit.text
        accepted(client.get(CASELOAD, headers=bearer(hs256(secret, role="admin", agency="KOMMUN"))))
        for role in ("granskare", "admin"):
            accepted(client.get(CASELOAD, headers=bearer(hs256(secret, role=role, agency="SF"))))
            body = refused(
                client.get(CASELOAD, headers=bearer(hs256(secret, role=role, agency="FK"))), "claims-do-not-fit"
            )
            assert "SF or KOMMUN" in body["detail"]
        # The operator does not make anyone else a samordnare or a handläggare of the förbund.
        refused(client.get(CASELOAD, headers=bearer(hs256(secret, agency="KOMMUN"))), "claims-do-not-fit")


def test_the_demo_users_of_the_development_sign_in_and_print_tokens_fit_the_rules() -> None:
    for sub, agency, role in DEMO_USERS:
        assert check_claims({"sub": sub, "agency": agency, "role": role}).role.value == role


# -- the maximum lifetime -----------------------------------------------------------------------------------------


def test_a_hundred_year_token_is_refused_as_too_long_lived(api: Api) -> None:
    token = hs256(api.secret, exp=now() + 100 * 365 * 24 * HOUR)
    body = refused(api.client.get(CASELOAD, headers=bearer(token)), "lifetime-too-long")
    assert "12 hours" in body["detail"]


def test_a_token_without_exp_is_refused_as_too_long_lived(api: Api) -> None:
    body = refused(api.client.get(CASELOAD, headers=bearer(hs256(api.secret, exp=None))), "lifetime-too-long")
    assert "exp" in body["detail"]


def test_a_12_hour_token_is_accepted(api: Api) -> None:
    issued = now()
    for token in (
        hs256(api.secret, iat=issued, exp=issued + 12 * HOUR),
        issue_token(api.secret or b"", sub=SUB, agency="SF", role="samordnare", ttl="12h"),
        hs256(api.secret, iat=None, exp=issued + 11 * HOUR),  # no iat: measured from now
    ):
        response = api.client.get(CASELOAD, headers=bearer(token))
        assert response.status_code == 200, response.text


def test_the_lifetime_counts_from_iat_or_nbf_or_now(api: Api) -> None:
    t = now()
    for too_long in (
        {"iat": t, "exp": t + 12 * HOUR + 300},  # 12 h 5 min
        {"iat": t - 11 * HOUR, "exp": t + 2 * HOUR},  # 2 h left, but 13 h in all
        {"iat": None, "nbf": t - HOUR, "exp": t + 12 * HOUR},  # from nbf: 13 h
        {"iat": None, "exp": t + 13 * HOUR},  # neither: from now
    ):
        refused(api.client.get(CASELOAD, headers=bearer(hs256(api.secret, **too_long))), "lifetime-too-long")


def test_the_maximum_lifetime_is_a_setting(settings: Settings, storage: Storage) -> None:
    secret = settings.token_key
    t = now()
    with service(settings, storage, token_max_lifetime_hours=2) as client:
        assert client.get(CASELOAD, headers=bearer(hs256(secret, exp=t + 2 * HOUR))).status_code == 200
        body = refused(client.get(CASELOAD, headers=bearer(hs256(secret, exp=t + 3 * HOUR))), "lifetime-too-long")
        assert "2 hours" in body["detail"]


# -- clock skew -------------------------------------------------------------------------------------------------


def test_a_small_clock_skew_is_tolerated(api: Api) -> None:
    t = now()
    for skewed in ({"exp": t - 15}, {"nbf": t + 15}, {"iat": t + 15, "exp": t + 15 + HOUR}):
        response = api.client.get(CASELOAD, headers=bearer(hs256(api.secret, **skewed)))
        assert response.status_code == 200, (skewed, response.text)
    refused(api.client.get(CASELOAD, headers=bearer(hs256(api.secret, exp=t - 60))), "expired")
    refused(api.client.get(CASELOAD, headers=bearer(hs256(api.secret, nbf=t + 60))), "not-yet-valid")


def test_the_leeway_is_a_setting(settings: Settings, storage: Storage) -> None:
    secret = settings.token_key
    t = now()
    with service(settings, storage, token_leeway_s=0) as client:
        refused(client.get(CASELOAD, headers=bearer(hs256(secret, exp=t - 5))), "expired")
        refused(client.get(CASELOAD, headers=bearer(hs256(secret, nbf=t + 15))), "not-yet-valid")
    with service(settings, storage, token_leeway_s=120) as client:
        assert client.get(CASELOAD, headers=bearer(hs256(secret, exp=t - 90))).status_code == 200


# -- the identity provider's tokens: issuer, audience, keys (RS256 / ES256) ---------------------------------------

ISSUER, AUDIENCE = "https://idp.example.se", "samverkan"


@pytest.fixture(scope="module")
def idp_key() -> rsa.RSAPrivateKey:
    return rsa.generate_private_key(public_exponent=65537, key_size=2048)


@pytest.fixture
def idp_service(
    settings: Settings, storage: Storage, tmp_path: Path, idp_key: rsa.RSAPrivateKey
) -> Iterator[TestClient]:
    """The service verifying the provider's RS256 tokens, with an issuer and an audience configured."""
    pem = tmp_path / "idp.pem"
    pem.write_bytes(public_pem(idp_key))
    with service(settings, storage, token_public_key_file=pem, token_issuer=ISSUER, token_audience=AUDIENCE) as client:
        yield client


def rs256(key: Any, **overrides: Any) -> str:
    return jwt.encode(claims(**{"iss": ISSUER, "aud": AUDIENCE, **overrides}), key, algorithm="RS256")


def test_the_providers_token_with_issuer_and_audience_is_accepted(
    idp_service: TestClient, idp_key: rsa.RSAPrivateKey
) -> None:
    response = idp_service.get(CASELOAD, headers=bearer(rs256(idp_key)))
    assert response.status_code == 200, response.text


def test_a_token_of_another_issuer_is_refused_as_wrong_issuer(
    idp_service: TestClient, idp_key: rsa.RSAPrivateKey
) -> None:
    for iss in ("https://evil.example", None):
        body = refused(idp_service.get(CASELOAD, headers=bearer(rs256(idp_key, iss=iss))), "wrong-issuer")
        assert "evil" not in body["detail"]


def test_a_token_for_another_audience_is_refused_as_wrong_audience(
    idp_service: TestClient, idp_key: rsa.RSAPrivateKey
) -> None:
    for aud in ("other-service", ["other-service", "third"], None):
        body = refused(idp_service.get(CASELOAD, headers=bearer(rs256(idp_key, aud=aud))), "wrong-audience")
        assert "other-service" not in body["detail"]


def test_a_token_for_an_audience_when_none_is_configured_is_refused_as_wrong_audience(api: Api) -> None:
    refused(api.client.get(CASELOAD, headers=bearer(hs256(api.secret, aud="other-service"))), "wrong-audience")


def test_the_providers_token_from_another_key_is_refused_as_bad_signature(idp_service: TestClient) -> None:
    other_rsa = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    ec_key = ec.generate_private_key(ec.SECP256R1())
    for token in (rs256(other_rsa), jwt.encode(claims(iss=ISSUER, aud=AUDIENCE), ec_key, algorithm="ES256")):
        refused(idp_service.get(CASELOAD, headers=bearer(token)), "bad-signature")


def test_the_providers_token_refusals_name_the_claim_not_the_signature(
    idp_service: TestClient, idp_key: rsa.RSAPrivateKey
) -> None:
    t = now()
    cases = {
        "expired": rs256(idp_key, exp=t - 300),
        "not-yet-valid": rs256(idp_key, nbf=t + HOUR, exp=t + 2 * HOUR),
        "lifetime-too-long": rs256(idp_key, exp=t + 100 * 365 * 24 * HOUR),
        "claims-do-not-fit": rs256(idp_key, role="granskare", agency="FK"),
    }
    for reason, token in cases.items():
        refused(idp_service.get(CASELOAD, headers=bearer(token)), reason)


# -- nothing of the token in the answer or the log ----------------------------------------------------------------


def test_refusals_echo_neither_the_token_nor_its_claims_and_log_only_the_reason(api: Api) -> None:
    t = now()
    tokens = {
        "expired": hs256(api.secret, exp=t - 300),
        "not-yet-valid": hs256(api.secret, nbf=t + HOUR),
        "lifetime-too-long": hs256(api.secret, exp=t + 1000 * HOUR),
        "claims-do-not-fit": hs256(api.secret, role="admin", agency="FK"),
        "bad-signature": hs256(b"another-secret-of-32-bytes-length"),
        "wrong-audience": hs256(api.secret, aud="aud-hemlig-9c1e"),
        "malformed": hs256(api.secret, exp="exp-hemlig-2b7d"),
    }
    with structlog.testing.capture_logs() as logged:
        for reason, token in tokens.items():
            refused(api.client.get(CASELOAD, headers=bearer(token)), reason, "aud-hemlig-9c1e", "exp-hemlig-2b7d")
    text = repr(logged)
    for secret in (*tokens.values(), SUB, NAME, "aud-hemlig-9c1e", "exp-hemlig-2b7d", "eyJ"):
        assert secret not in text
    assert [e["reason"] for e in logged if e.get("event") == "token_refused"] == list(tokens)


# -- development tokens stay within the limit ---------------------------------------------------------------------


def cli_env(settings: Settings, **extra: str) -> dict[str, str]:
    env = {f"SAMVERKAN_{name.upper()}": value for name, value in fixed_keys().items()}
    env.update(SAMVERKAN_DATABASE_URL=settings.database_url, SAMVERKAN_KEY_FILE=str(settings.key_file), **extra)
    return env


def lifetime_of(token: str) -> int:
    payload = jwt.decode(token, options={"verify_signature": False})
    return int(payload["exp"]) - int(payload["iat"])


def test_samverkan_token_makes_tokens_the_service_accepts_and_refuses_longer_ones(api: Api) -> None:
    runner = CliRunner()
    base = ["token", "--sub", "dev-1", "--agency", "SF", "--role", "samordnare"]
    made = runner.invoke(cli_app, base, env=cli_env(api.context.settings))
    assert made.exit_code == 0, made.output
    token = made.output.strip()
    assert lifetime_of(token) == 8 * HOUR
    assert api.client.get(CASELOAD, headers=bearer(token)).status_code == 200

    too_long = runner.invoke(cli_app, [*base, "--ttl", "2d"], env=cli_env(api.context.settings))
    assert too_long.exit_code == 2, too_long.output
    assert "at most 12h" in too_long.output

    shorter = cli_env(api.context.settings, SAMVERKAN_TOKEN_MAX_LIFETIME_HOURS="4")
    capped = runner.invoke(cli_app, base, env=shorter)
    assert capped.exit_code == 0, capped.output
    assert lifetime_of(capped.output.strip()) == 4 * HOUR

    granskare = ["token", "--sub", "dev-2", "--agency", "FK", "--role", "granskare"]
    assert runner.invoke(cli_app, granskare, env=cli_env(api.context.settings)).exit_code == 2
    operator = cli_env(api.context.settings, SAMVERKAN_OPERATOR_AGENCY="FK")
    assert runner.invoke(cli_app, granskare, env=operator).exit_code == 0


def test_issue_token_refuses_a_lifetime_beyond_the_maximum() -> None:
    with pytest.raises(ValueError, match="at most 12h"):
        issue_token(b"s" * 32, sub="dev-1", agency="SF", role="samordnare", ttl="13h")
    with pytest.raises(ValueError, match="at most 2h"):
        issue_token(b"s" * 32, sub="dev-1", agency="SF", role="samordnare", ttl="3h", max_lifetime=timedelta(hours=2))


def test_serve_prints_tokens_no_longer_lived_than_the_service_accepts(tmp_path: Path) -> None:
    """`samverkan serve --print-tokens` (what scripts/run starts) caps its tokens at the maximum lifetime."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("SAMVERKAN_")}
    env.update({f"SAMVERKAN_{k.upper()}": v for k, v in fixed_keys().items()})
    env.update(
        SAMVERKAN_DATABASE_URL=f"sqlite:///{tmp_path / 'samverkan.db'}",
        SAMVERKAN_KEY_FILE=str(tmp_path / "keys.json"),
        SAMVERKAN_TOKEN_MAX_LIFETIME_HOURS="3",
        COLUMNS="400",
    )
    output = tmp_path / "output.txt"
    command = [sys.executable, "-m", "adapters.cli", "serve", "--port", str(free_port()), "--print-tokens"]
    with output.open("w") as sink:
        process = subprocess.Popen(command, env=env, cwd=tmp_path, stdout=sink, stderr=subprocess.STDOUT)
    try:
        deadline = time.monotonic() + 30
        while output.read_text().count("eyJ") < len(DEMO_USERS):
            assert process.poll() is None, output.read_text()
            assert time.monotonic() < deadline, output.read_text()
            time.sleep(0.1)
    finally:
        process.terminate()
        try:
            process.wait(10)
        except subprocess.TimeoutExpired:
            process.kill()
    tokens = [word for word in output.read_text().split() if word.startswith("eyJ")]
    assert len(tokens) == len(DEMO_USERS)
    secret = base64.b64decode(fixed_keys()["token_secret"])
    for token in tokens:
        assert lifetime_of(token) == 3 * HOUR
        jwt.decode(token, secret, algorithms=["HS256"])  # and good
