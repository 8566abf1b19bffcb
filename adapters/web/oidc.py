"""Sign-in on the pages through the organisation's OpenID provider (docs/web.md): the authorisation code flow with
PKCE (S256) and a confidential client, run by authlib; the ID token is checked against the provider's JWKS, and its
claims (agency and role from the configured claim names) become the session's user, as the development sign-in's."""

from __future__ import annotations

import base64
import hashlib
import hmac
import threading
import time
from typing import Any

import httpx2
import orjson
import structlog
from authlib.common.security import generate_token
from authlib.integrations.httpx_client import OAuth2Client, OAuthError
from authlib.oidc.core import CodeIDToken
from fastapi import APIRouter, Request, Response
from fastapi.responses import RedirectResponse
from joserfc import jwt
from joserfc.errors import InvalidKeyIdError, JoseError
from joserfc.jwk import KeySet
from joserfc.jws import JWSRegistry

from adapters.auth import Unauthenticated, User, check_claims
from adapters.settings import Settings
from adapters.web.pages import PageRefused, PageRoute, context_of, error_page, web_session
from adapters.web.pages import templates as page_templates
from adapters.web.session import session_key, sign_in_verified

log = structlog.get_logger("samverkan.web")
router = APIRouter(route_class=PageRoute, include_in_schema=False)

START_PATH = "/logga-in/oidc"
CALLBACK_PATH = "/logga-in/oidc/callback"
# The flow's state, nonce and PKCE verifier travel in the browser's own short-lived signed cookie, so any worker
# can finish a sign-in another worker began.
STATE_COOKIE = "samverkan_oidc"
STATE_LIFETIME_S = 600
METADATA_TTL_S = 3600
HTTP_TIMEOUT_S = 10
LEEWAY_S = 60
# Only asymmetric signatures: the ID token is trusted because the provider's published keys signed it.
ID_TOKEN_ALGORITHMS = ["RS256", "RS384", "RS512", "PS256", "PS384", "PS512", "ES256", "ES384", "ES512", "EdDSA"]


class ProviderUnavailable(Exception):
    """The provider's discovery document, keys or token endpoint could not be used."""


class SignInRefused(Exception):
    """The provider's answer does not sign anyone in; `reason` is a short code for the log (nothing personal)."""

    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


def oidc_configured(request: Request) -> bool:
    """For the Logga in page: whether to offer the organisation's sign-in."""
    settings: Settings = context_of(request).settings
    return settings.oidc_enabled and session_key(settings) is not None


page_templates.env.globals["oidc_configured"] = oidc_configured


# -- the provider's metadata and keys ---------------------------------------------------------------------------


class ProviderCache:
    """The discovery document and JWKS per issuer, fetched when first needed and kept for an hour (a cache only:
    every worker fetches its own)."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._metadata: dict[str, tuple[float, dict[str, Any]]] = {}
        self._keys: dict[str, tuple[float, KeySet]] = {}

    def clear(self) -> None:
        with self._lock:
            self._metadata.clear()
            self._keys.clear()

    def metadata(self, issuer: str) -> dict[str, Any]:
        with self._lock:
            known = self._metadata.get(issuer)
        if known is not None and known[0] > time.monotonic():
            return known[1]
        document = _get_json(f"{issuer.rstrip('/')}/.well-known/openid-configuration")
        # OpenID Connect Discovery: the document must name the issuer it was fetched for.
        if str(document.get("issuer", "")).rstrip("/") != issuer.rstrip("/"):
            raise ProviderUnavailable("discovery issuer mismatch")
        for name in ("authorization_endpoint", "token_endpoint", "jwks_uri"):
            if not isinstance(document.get(name), str):
                raise ProviderUnavailable(f"discovery without {name}")
        with self._lock:
            self._metadata[issuer] = (time.monotonic() + METADATA_TTL_S, document)
        return document

    def keys(self, issuer: str, *, fresh: bool = False) -> KeySet:
        with self._lock:
            known = self._keys.get(issuer)
        if known is not None and known[0] > time.monotonic() and not fresh:
            return known[1]
        try:
            key_set = KeySet.import_key_set(_get_json(self.metadata(issuer)["jwks_uri"]))
        except (JoseError, ValueError, TypeError) as error:
            raise ProviderUnavailable("unusable jwks") from error
        with self._lock:
            self._keys[issuer] = (time.monotonic() + METADATA_TTL_S, key_set)
        return key_set


providers = ProviderCache()


def _get_json(url: str) -> dict[str, Any]:
    try:
        response = httpx2.get(url, timeout=HTTP_TIMEOUT_S, headers={"Accept": "application/json"})
        response.raise_for_status()
        document = response.json()
    except (httpx2.HTTPError, ValueError) as error:
        raise ProviderUnavailable("fetch failed") from error
    if not isinstance(document, dict):
        raise ProviderUnavailable("not a JSON object")
    return document


# -- the state cookie -------------------------------------------------------------------------------------------


def _state_key(settings: Settings) -> bytes:
    key = session_key(settings)
    if key is None:
        raise PageRefused
    return hmac.new(key, b"samverkan oidc state v1", hashlib.sha256).digest()


def _b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def _dump_state(state: dict[str, Any], key: bytes) -> str:
    payload = _b64(orjson.dumps(state))
    return f"{payload}.{_b64(hmac.new(key, payload.encode(), hashlib.sha256).digest())}"


def _load_state(value: str | None, key: bytes) -> dict[str, Any] | None:
    if not value:
        return None
    payload, _, signature = value.partition(".")
    expected = _b64(hmac.new(key, payload.encode(), hashlib.sha256).digest())
    if not hmac.compare_digest(signature.encode(), expected.encode()):
        return None
    try:
        state: dict[str, Any] = orjson.loads(base64.urlsafe_b64decode(payload + "=" * (-len(payload) % 4)))
    except ValueError:
        return None
    if not isinstance(state, dict) or not isinstance(state.get("e"), int) or state["e"] < time.time():
        return None
    return state


def _secure(settings: Settings) -> bool:
    return settings.env == "production"


# -- the flow ---------------------------------------------------------------------------------------------------


def _redirect_uri(request: Request, settings: Settings) -> str:
    if settings.public_url:
        return settings.public_url.rstrip("/") + CALLBACK_PATH
    return str(request.url_for("oidc_callback"))


def _client(settings: Settings, metadata: dict[str, Any], redirect_uri: str) -> OAuth2Client:
    # client_secret_basic is the default when the provider does not say (OpenID Connect Discovery 1.0).
    methods = metadata.get("token_endpoint_auth_methods_supported") or ["client_secret_basic"]
    method = "client_secret_basic" if "client_secret_basic" in methods else "client_secret_post"
    return OAuth2Client(
        client_id=settings.oidc_client_id,
        client_secret=settings.oidc_client_secret,
        token_endpoint_auth_method=method,
        scope=settings.oidc_scopes,
        redirect_uri=redirect_uri,
        code_challenge_method="S256",
        timeout=HTTP_TIMEOUT_S,
    )


def _unavailable(request: Request) -> Response:
    return error_page(
        request,
        502,
        "Inloggningstjänsten svarar inte",
        "Organisationens inloggningstjänst gick inte att nå eller svarade inte som väntat. Försök igen om en stund.",
    )


@router.get(START_PATH, name="oidc_start")
def oidc_start(request: Request) -> Response:
    """Sends the browser to the provider with a fresh state, nonce and PKCE challenge."""
    settings: Settings = context_of(request).settings
    if not settings.oidc_enabled:
        raise PageRefused
    key = _state_key(settings)
    try:
        metadata = providers.metadata(settings.oidc_issuer or "")
    except ProviderUnavailable as error:
        log.warning("oidc_provider_unavailable", step="discovery", reason=str(error))
        return _unavailable(request)
    redirect_uri = _redirect_uri(request, settings)
    verifier, nonce = generate_token(64), generate_token(32)
    with _client(settings, metadata, redirect_uri) as client:
        url, state = client.create_authorization_url(
            metadata["authorization_endpoint"], code_verifier=verifier, nonce=nonce
        )
    response = RedirectResponse(url, status_code=303)
    flow = {"s": state, "n": nonce, "v": verifier, "r": redirect_uri, "e": int(time.time()) + STATE_LIFETIME_S}
    response.set_cookie(
        STATE_COOKIE,
        _dump_state(flow, key),
        max_age=STATE_LIFETIME_S,
        path=START_PATH,
        httponly=True,
        # Lax: the provider sends the browser back with a top-level GET, which carries Lax cookies.
        samesite="lax",
        secure=_secure(settings),
    )
    return response


@router.get(CALLBACK_PATH, name="oidc_callback")
def oidc_callback(request: Request) -> Response:
    """Finishes the sign-in: state, code exchange with the PKCE verifier, the ID token, then the session."""
    settings: Settings = context_of(request).settings
    if not settings.oidc_enabled:
        raise PageRefused
    flow = _load_state(request.cookies.get(STATE_COOKIE), _state_key(settings))
    try:
        user = _finish(request, settings, flow)
    except ProviderUnavailable as error:
        log.warning("oidc_provider_unavailable", step="callback", reason=str(error))
        response = _unavailable(request)
    except SignInRefused as error:
        log.warning("oidc_sign_in_refused", reason=error.reason)
        response = _refused(request, error.reason)
    else:
        sign_in_verified(web_session(request), user)
        log.info("web_sign_in", method="oidc", user_id=user.sub, agency=user.agency.value, role=user.role.value)
        response = RedirectResponse("/", status_code=303)
    # One use only: the state cookie goes whatever the outcome.
    response.delete_cookie(STATE_COOKIE, path=START_PATH, httponly=True, samesite="lax", secure=_secure(settings))
    return response


def _refused(request: Request, reason: str) -> Response:
    if reason == "claims":
        return error_page(
            request,
            403,
            "Du kan inte logga in i Samverkan",
            "Inloggningen lyckades, men ditt konto saknar organisation eller roll för Samverkan (eller så passar de "
            "inte ihop). Kontakta den som administrerar behörigheterna i din organisation.",
        )
    if reason == "provider-error":
        return error_page(
            request, 403, "Inloggningen avbröts", "Inloggningstjänsten avbröt inloggningen. Du är inte inloggad."
        )
    return error_page(
        request,
        400,
        "Inloggningen kunde inte slutföras",
        "Inloggningen gick inte att koppla till den här webbläsaren, eller tog för lång tid. Börja om från Logga in.",
    )


def _finish(request: Request, settings: Settings, flow: dict[str, Any] | None) -> User:
    params = request.query_params
    if flow is None:
        raise SignInRefused("no-state")
    given = params.get("state", "")
    if not hmac.compare_digest(given.encode(), str(flow.get("s", "")).encode()):
        raise SignInRefused("state")
    if "error" in params:
        raise SignInRefused("provider-error")
    issuer = settings.oidc_issuer or ""
    metadata = providers.metadata(issuer)
    # RFC 9207: when the provider names itself in the answer, it must be the one we sent the browser to.
    if "iss" in params and params["iss"] != metadata["issuer"]:
        raise SignInRefused("iss")
    code = params.get("code")
    if not code:
        raise SignInRefused("no-code")
    with _client(settings, metadata, str(flow["r"])) as client:
        try:
            token = client.fetch_token(
                metadata["token_endpoint"], grant_type="authorization_code", code=code, code_verifier=flow["v"]
            )
        except OAuthError as error:
            # invalid_grant and the like: a used, expired or mismatched code (or PKCE verifier).
            raise SignInRefused(f"token-{error.error}") from None
        except httpx2.HTTPError as error:
            raise ProviderUnavailable("token endpoint") from error
        id_claims = _verified_id_token(settings, metadata, token, str(flow["n"]))
        claims = dict(id_claims)
        wanted = (settings.oidc_agency_claim, settings.oidc_role_claim)
        if any(name not in claims for name in wanted) and metadata.get("userinfo_endpoint"):
            claims = {**_userinfo(client, metadata, str(id_claims["sub"])), **claims}
    mapped = {
        "sub": id_claims["sub"],
        "agency": claims.get(settings.oidc_agency_claim),
        "role": claims.get(settings.oidc_role_claim),
        "name": claims.get("name"),
    }
    try:
        return check_claims(mapped, operator=settings.operator_agency)
    except Unauthenticated:
        raise SignInRefused("claims") from None


def _verified_id_token(settings: Settings, metadata: dict[str, Any], token: dict[str, Any], nonce: str) -> Any:
    """The ID token's claims once its signature (the provider's JWKS), iss, aud, exp, iat, nonce and at_hash hold."""
    raw = token.get("id_token")
    if not isinstance(raw, str):
        raise SignInRefused("no-id-token")
    offered = metadata.get("id_token_signing_alg_values_supported") or ["RS256"]
    registry = JWSRegistry(algorithms=[a for a in offered if a in ID_TOKEN_ALGORITHMS] or ["RS256"])
    issuer = str(metadata["issuer"])
    try:
        try:
            decoded = jwt.decode(raw, providers.keys(issuer), registry=registry)
        except InvalidKeyIdError:
            # The provider rotated its keys since they were fetched.
            decoded = jwt.decode(raw, providers.keys(issuer, fresh=True), registry=registry)
        claims = CodeIDToken(
            decoded.claims,
            decoded.header,
            {"iss": {"essential": True, "value": issuer}, "aud": {"essential": True, "value": settings.oidc_client_id}},
            {"nonce": nonce, "client_id": settings.oidc_client_id, "access_token": token.get("access_token")},
        )
        claims.validate(leeway=LEEWAY_S)
    except (JoseError, ValueError) as error:
        log.warning("oidc_id_token_refused", error=type(error).__name__)
        raise SignInRefused("id-token") from None
    return claims


def _userinfo(client: OAuth2Client, metadata: dict[str, Any], sub: str) -> dict[str, Any]:
    """The provider's userinfo, for claims it keeps out of the ID token; its sub must be the ID token's."""
    try:
        response = client.get(metadata["userinfo_endpoint"], timeout=HTTP_TIMEOUT_S)
        response.raise_for_status()
        info = response.json()
    except (httpx2.HTTPError, ValueError) as error:
        raise ProviderUnavailable("userinfo") from error
    if not isinstance(info, dict) or info.get("sub") != sub:
        raise SignInRefused("userinfo-sub")
    return info


__all__ = ["providers", "router"]
