"""Bearer tokens: development tokens signed with a shared secret (HS256); production tokens from the
organisation's identity provider, verified with its public key or JWKS (RS256 / ES256). Same claims either way.

Every refusal is an `Unauthenticated` with a stable `reason` (REASONS) and a detail that says why without
repeating the token or any of its claims' values (docs/api.md, "Conventions").
"""

from __future__ import annotations

import threading
import time
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from enum import StrEnum
from pathlib import Path
from typing import Any, Literal

import jwt
from jwt.types import Options

from consent import AGENCIES, Party

ASYMMETRIC = ["RS256", "ES256"]
VERIFIED_CACHE_SIZE = 10_000
JWK_ALGORITHMS = {"RSA": "RS256", "EC": "ES256"}
# The defaults of SAMVERKAN_TOKEN_MAX_LIFETIME_HOURS and SAMVERKAN_TOKEN_LEEWAY_S.
MAX_LIFETIME_HOURS = 12
LEEWAY_S = 30

# Why a token was refused: the problem's `reason` member (a stable contract, docs/api.md).
Reason = Literal[
    "missing",
    "malformed",
    "bad-signature",
    "expired",
    "not-yet-valid",
    "wrong-issuer",
    "wrong-audience",
    "lifetime-too-long",
    "claims-do-not-fit",
]


class Role(StrEnum):
    """What a user may do (API.md, "Parties, roles, categories")."""

    SAMORDNARE = "samordnare"
    HANDLAGGARE = "handlaggare"
    GRANSKARE = "granskare"
    ADMIN = "admin"


class Unauthenticated(Exception):
    """No usable token: missing, malformed, unsigned, wrongly signed, expired, or with bad claims. The message is
    the problem's detail; `reason` says which, for machines."""

    def __init__(self, detail: str, *, reason: Reason) -> None:
        super().__init__(detail)
        self.reason: Reason = reason


@dataclass(frozen=True)
class User:
    """The caller, as the token says: subject id, display name, agency and role."""

    sub: str
    name: str | None
    agency: Party
    role: Role


def check_claims(claims: dict[str, Any], *, operator: Party = Party.SF) -> User:
    """The user named by verified claims; refuses claims that do not fit together. A granskare or admin belongs to
    the förbund (SF) or to the operator party that runs the service for it (SAMVERKAN_OPERATOR_AGENCY)."""
    try:
        sub, agency, role = str(claims["sub"]), Party(claims["agency"]), Role(claims["role"])
    except (KeyError, ValueError):
        raise _unfit("the token must carry sub, agency (FK, AF, REGION, KOMMUN, SF) and a known role") from None
    if not sub.strip() or len(sub) > 200 or not sub.isprintable():  # noqa: PLR2004
        raise _unfit("the token's sub must be 1-200 printable characters")
    if role == Role.SAMORDNARE and agency != Party.SF:
        raise _unfit("a samordnare belongs to the förbund: agency must be SF")
    if role == Role.HANDLAGGARE and agency not in AGENCIES:
        raise _unfit("a handlaggare belongs to an agency: FK, AF, REGION or KOMMUN")
    if role in (Role.GRANSKARE, Role.ADMIN) and agency not in (Party.SF, operator):
        allowed = "SF" if operator == Party.SF else f"SF or {operator.value} (the operator)"
        raise _unfit(f"a {role.value} belongs to the förbund or its operator: agency must be {allowed}")
    name = claims.get("name")
    return User(sub, None if name is None else str(name), agency, role)


def _unfit(detail: str) -> Unauthenticated:
    return Unauthenticated(f"the token's claims do not fit: {detail}", reason="claims-do-not-fit")


def parse_ttl(text: str) -> timedelta:
    """`8h`, `30m`, `45s` or `2d` as a duration."""
    units = {"s": 1, "m": 60, "h": 3600, "d": 86400}
    if len(text) < 2 or text[-1] not in units or not text[:-1].isdigit() or int(text[:-1]) <= 0:  # noqa: PLR2004
        raise ValueError("ttl must be a positive number followed by s, m, h or d (e.g. 8h)")
    return timedelta(seconds=int(text[:-1]) * units[text[-1]])


def issue_token(
    secret: bytes,
    *,
    sub: str,
    agency: str,
    role: str,
    name: str | None = None,
    ttl: str = "8h",
    operator: Party = Party.SF,
    max_lifetime: timedelta = timedelta(hours=MAX_LIFETIME_HOURS),
) -> str:
    """A development token (HS256) with the standard claims; refuses one the service would refuse (a lifetime
    beyond `max_lifetime`, claims that do not fit)."""
    lifetime = parse_ttl(ttl)
    if lifetime > max_lifetime:
        hours = max_lifetime.total_seconds() / 3600
        raise ValueError(
            f"ttl must be at most {hours:g}h: the service refuses tokens valid for longer "
            "(SAMVERKAN_TOKEN_MAX_LIFETIME_HOURS)"
        )
    now = datetime.now(UTC)
    claims: dict[str, Any] = {"sub": sub, "agency": agency, "role": role, "iat": now, "exp": now + lifetime}
    if name:
        claims["name"] = name
    check_claims(claims, operator=operator)
    return jwt.encode(claims, secret, algorithm="HS256")


class TokenVerifier:
    """Verifies bearer tokens against the configured keys; only the algorithms configured are accepted.

    Beyond the signature: `exp` is required and, with `nbf` and `iat`, checked with `leeway_s` of clock skew; a
    configured issuer and audience must be named; the token may be valid for at most `max_lifetime_hours` (from
    the earliest of `iat`, `nbf` and now, to `exp`); and the claims must fit (`check_claims`)."""

    def __init__(
        self,
        *,
        secret: bytes | None = None,
        public_key_file: Path | None = None,
        jwks_file: Path | None = None,
        issuer: str | None = None,
        audience: str | None = None,
        operator: Party = Party.SF,
        max_lifetime_hours: float = MAX_LIFETIME_HOURS,
        leeway_s: float = LEEWAY_S,
    ) -> None:
        self._keys: list[tuple[Any, list[str]]] = []
        self._jwks: jwt.PyJWKSet | None = None
        if secret:
            self._keys.append((secret, ["HS256"]))
        if public_key_file is not None:
            self._keys.append((public_key_file.read_text(), ASYMMETRIC))
        if jwks_file is not None:
            self._jwks = jwt.PyJWKSet.from_json(jwks_file.read_text())
        if not self._keys and self._jwks is None:
            raise ValueError("no token key configured: set a secret, a public key file or a JWKS file")
        self.issuer = issuer
        self.audience = audience
        self.operator = operator
        self.max_lifetime_hours = max_lifetime_hours
        self.leeway_s = leeway_s
        self._verified: dict[str, tuple[User, float]] = {}
        self._lock = threading.Lock()

    def verify(self, token: str) -> User:
        """The user of a valid token; raises Unauthenticated otherwise (saying why, never what the token holds).

        A token verified once is remembered until it expires: the same bytes always carry the same claims, and
        checking the signature again costs more than the rest of a small read."""
        now = time.time()
        with self._lock:
            known = self._verified.get(token)
        if known is not None:
            user, expires = known
            if now < expires:
                return user
        user, expires = self._verify(token)
        with self._lock:
            if len(self._verified) >= VERIFIED_CACHE_SIZE:
                self._verified.clear()
            self._verified[token] = (user, expires)
        return user

    def _verify(self, token: str) -> tuple[User, float]:
        options: Options = {"require": ["exp", "sub"]}
        try:
            header = jwt.get_unverified_header(token)
        except jwt.PyJWTError:
            raise Unauthenticated(
                "the bearer token is malformed: not a JWT (three base64url parts: header.payload.signature)",
                reason="malformed",
            ) from None
        candidates = list(self._keys)
        if self._jwks is not None:
            kid = header.get("kid")
            candidates += [
                (k.key, [JWK_ALGORITHMS.get(k.key_type or "", "")])
                for k in self._jwks.keys
                if kid is None or k.key_id == kid
            ]
        for key, algorithms in candidates:
            if header.get("alg") not in algorithms:
                continue
            try:
                claims = jwt.decode(
                    token,
                    key,
                    algorithms=algorithms,
                    options=options,
                    issuer=self.issuer,
                    audience=self.audience,
                    leeway=self.leeway_s,
                )
            except (jwt.InvalidSignatureError, jwt.InvalidAlgorithmError, jwt.InvalidKeyError, TypeError, ValueError):
                # Wrong key for this token (or a key of another type): try the next one.
                continue
            except jwt.PyJWTError as error:
                # Anything else is about the token itself, whichever key is tried: its form or its claims (PyJWT
                # checks the claims only once the signature holds).
                raise self._refusal(error) from None
            expires = self._check_lifetime(claims)
            return check_claims(claims, operator=self.operator), expires + self.leeway_s
        raise Unauthenticated(
            "the bearer token is not signed by a trusted key (with an algorithm this service accepts)",
            reason="bad-signature",
        )

    def _check_lifetime(self, claims: dict[str, Any]) -> int:
        """`exp`, once the token is valid for at most the maximum lifetime, counted from the earliest of `iat`,
        `nbf` and now (so a token without `iat` is measured from now)."""
        now = time.time()
        try:
            expires = int(claims["exp"])
            starts = [int(claims[name]) for name in ("iat", "nbf") if name in claims]
        except (TypeError, ValueError, OverflowError):
            raise Unauthenticated("the bearer token's time claims are not numbers", reason="malformed") from None
        if expires - min([now, *starts]) > self.max_lifetime_hours * 3600 + self.leeway_s:
            raise Unauthenticated(
                f"the bearer token is valid for longer than the {self.max_lifetime_hours:g} hours this service "
                "accepts (exp minus iat, nbf or now); ask for a shorter-lived token",
                reason="lifetime-too-long",
            )
        return expires

    def _refusal(self, error: jwt.PyJWTError) -> Unauthenticated:
        """What a refusal by PyJWT means for the caller; its own message is not passed on."""
        missing = error.claim if isinstance(error, jwt.MissingRequiredClaimError) else None
        if isinstance(error, jwt.ExpiredSignatureError):
            return Unauthenticated("the bearer token has expired; get a new one", reason="expired")
        if isinstance(error, jwt.ImmatureSignatureError):
            return Unauthenticated(
                f"the bearer token is not valid yet (its nbf or iat is more than {self.leeway_s:g} s ahead of this "
                "service's clock)",
                reason="not-yet-valid",
            )
        if isinstance(error, jwt.InvalidIssuerError) or missing == "iss":
            return Unauthenticated(
                "the bearer token was not issued by the configured issuer (SAMVERKAN_TOKEN_ISSUER)",
                reason="wrong-issuer",
            )
        if isinstance(error, jwt.InvalidAudienceError) or missing == "aud":
            detail = (
                "the bearer token names an audience (aud), but this service has none configured "
                "(SAMVERKAN_TOKEN_AUDIENCE)"
                if self.audience is None
                else "the bearer token is not meant for this service: its aud does not name the configured audience "
                "(SAMVERKAN_TOKEN_AUDIENCE)"
            )
            return Unauthenticated(detail, reason="wrong-audience")
        if missing == "exp":
            return Unauthenticated(
                f"the bearer token has no expiry (exp); it must expire within {self.max_lifetime_hours:g} hours",
                reason="lifetime-too-long",
            )
        if missing == "sub" or isinstance(error, jwt.exceptions.InvalidSubjectError):
            return _unfit("the token must carry sub, agency (FK, AF, REGION, KOMMUN, SF) and a known role")
        return Unauthenticated(
            "the bearer token is malformed: its payload is not a JSON object of well-formed claims", reason="malformed"
        )
