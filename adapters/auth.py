"""Bearer tokens: development tokens signed with a shared secret (HS256); production tokens from the
organisation's identity provider, verified with its public key or JWKS (RS256 / ES256). Same claims either way.
"""

from __future__ import annotations

import threading
import time
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from enum import StrEnum
from pathlib import Path
from typing import Any

import jwt

from consent import AGENCIES, Party

ASYMMETRIC = ["RS256", "ES256"]
VERIFIED_CACHE_SIZE = 10_000
JWK_ALGORITHMS = {"RSA": "RS256", "EC": "ES256"}


class Role(StrEnum):
    """What a user may do (API.md, "Parties, roles, categories")."""

    SAMORDNARE = "samordnare"
    HANDLAGGARE = "handlaggare"
    GRANSKARE = "granskare"
    ADMIN = "admin"


class Unauthenticated(Exception):
    """No usable token: missing, malformed, unsigned, wrongly signed, expired, or with bad claims."""


@dataclass(frozen=True)
class User:
    """The caller, as the token says: subject id, display name, agency and role."""

    sub: str
    name: str | None
    agency: Party
    role: Role


def check_claims(claims: dict[str, Any]) -> User:
    """The user named by verified claims; refuses claims that do not fit together."""
    try:
        sub, agency, role = str(claims["sub"]), Party(claims["agency"]), Role(claims["role"])
    except (KeyError, ValueError):
        raise Unauthenticated(
            "the token must carry sub, agency (FK, AF, REGION, KOMMUN, SF) and a known role"
        ) from None
    if not sub.strip() or len(sub) > 200 or not sub.isprintable():  # noqa: PLR2004
        raise Unauthenticated("the token's sub must be 1-200 printable characters")
    if role == Role.SAMORDNARE and agency != Party.SF:
        raise Unauthenticated("a samordnare belongs to the förbund: agency must be SF")
    if role == Role.HANDLAGGARE and agency not in AGENCIES:
        raise Unauthenticated("a handlaggare belongs to an agency: FK, AF, REGION or KOMMUN")
    name = claims.get("name")
    return User(sub, None if name is None else str(name), agency, role)


def parse_ttl(text: str) -> timedelta:
    """`8h`, `30m`, `45s` or `2d` as a duration."""
    units = {"s": 1, "m": 60, "h": 3600, "d": 86400}
    if len(text) < 2 or text[-1] not in units or not text[:-1].isdigit() or int(text[:-1]) <= 0:  # noqa: PLR2004
        raise ValueError("ttl must be a positive number followed by s, m, h or d (e.g. 8h)")
    return timedelta(seconds=int(text[:-1]) * units[text[-1]])


def issue_token(secret: bytes, *, sub: str, agency: str, role: str, name: str | None = None, ttl: str = "8h") -> str:
    """A development token (HS256) with the standard claims."""
    now = datetime.now(UTC)
    claims: dict[str, Any] = {"sub": sub, "agency": agency, "role": role, "iat": now, "exp": now + parse_ttl(ttl)}
    if name:
        claims["name"] = name
    check_claims(claims)
    return jwt.encode(claims, secret, algorithm="HS256")


class TokenVerifier:
    """Verifies bearer tokens against the configured keys; only the algorithms configured are accepted."""

    def __init__(
        self,
        *,
        secret: bytes | None = None,
        public_key_file: Path | None = None,
        jwks_file: Path | None = None,
        issuer: str | None = None,
        audience: str | None = None,
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
        self._verified: dict[str, tuple[User, float]] = {}
        self._lock = threading.Lock()

    def verify(self, token: str) -> User:
        """The user of a valid token; raises Unauthenticated otherwise (never saying more than needed).

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
        options = {"require": ["exp", "sub"]}
        try:
            header = jwt.get_unverified_header(token)
        except jwt.PyJWTError:
            raise Unauthenticated("the bearer token is malformed") from None
        candidates = list(self._keys)
        if self._jwks is not None:
            kid = header.get("kid")
            candidates += [
                (k.key, [JWK_ALGORITHMS.get(k.key_type, "")]) for k in self._jwks.keys if kid is None or k.key_id == kid
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
                    leeway=30,
                )
            except jwt.ExpiredSignatureError:
                raise Unauthenticated("the bearer token has expired") from None
            except (jwt.PyJWTError, TypeError, ValueError):
                # Wrong key for this token (or a key of another type): try the next one.
                continue
            return check_claims(claims), float(claims["exp"]) + 30  # the same leeway as decode's
        raise Unauthenticated("the bearer token is not signed by a trusted key")
