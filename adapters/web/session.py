"""The pages' session: a signed cookie (HMAC-SHA256 with a key derived from the token secret) that holds the
signed-in user's ids and the CSRF token of the session. Nothing personal goes in it: ids, agency, role."""

from __future__ import annotations

import base64
import hashlib
import hmac
import secrets
import time
from dataclasses import dataclass, field
from typing import Any

import orjson

from adapters.auth import User
from adapters.settings import Settings

COOKIE = "samverkan_session"
LIFETIME_S = 8 * 3600  # a working day; then sign in again
CSRF_FIELD = "csrf_token"


@dataclass
class SessionUser:
    """Who signed in: the subject id, agency and role (as a token would carry them)."""

    sub: str
    agency: str
    role: str


@dataclass
class WebSession:
    """One browser's session; `dirty` means the cookie must be written again."""

    csrf: str
    expires: int
    user: SessionUser | None = None
    dirty: bool = field(default=False, compare=False)

    @classmethod
    def fresh(cls) -> WebSession:
        return cls(secrets.token_urlsafe(32), int(time.time()) + LIFETIME_S, None, dirty=True)

    def sign_in(self, user: SessionUser) -> None:
        """A new CSRF token and lifetime at sign-in, so a token seen before it is worth nothing after."""
        self.csrf = secrets.token_urlsafe(32)
        self.expires = int(time.time()) + LIFETIME_S
        self.user = user
        self.dirty = True

    def sign_out(self) -> None:
        self.csrf = secrets.token_urlsafe(32)
        self.user = None
        self.dirty = True

    def csrf_ok(self, given: object) -> bool:
        return isinstance(given, str) and hmac.compare_digest(given.encode(), self.csrf.encode())


def session_key(settings: Settings) -> bytes | None:
    """The cookie's signing key, derived from the session secret or else the token secret; None (pages off) in
    production without either."""
    secret = settings.session_key_secret or settings.token_key
    if secret is None:
        return None
    return hmac.new(secret, b"samverkan web session v1", hashlib.sha256).digest()


def _b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def _unb64(text: str) -> bytes:
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


def dump(session: WebSession, key: bytes) -> str:
    """The cookie value: payload and signature, both base64url."""
    user = None if session.user is None else [session.user.sub, session.user.agency, session.user.role]
    payload = _b64(orjson.dumps({"c": session.csrf, "e": session.expires, "u": user}))
    signature = _b64(hmac.new(key, payload.encode(), hashlib.sha256).digest())
    return f"{payload}.{signature}"


def load(value: str | None, key: bytes | None) -> WebSession:
    """The session in the cookie when its signature is good and it has not expired; otherwise a fresh one."""
    if not value or key is None:
        return WebSession.fresh()
    payload, _, signature = value.partition(".")
    expected = _b64(hmac.new(key, payload.encode(), hashlib.sha256).digest())
    if not hmac.compare_digest(signature.encode(), expected.encode()):
        return WebSession.fresh()
    try:
        data: dict[str, Any] = orjson.loads(_unb64(payload))
        csrf, expires, user = str(data["c"]), int(data["e"]), data.get("u")
        who = None if user is None else SessionUser(str(user[0]), str(user[1]), str(user[2]))
    except (ValueError, KeyError, TypeError, IndexError):
        return WebSession.fresh()
    if expires < time.time():
        return WebSession.fresh()
    return WebSession(csrf, expires, who)


def sign_in_verified(session: WebSession, user: User) -> None:
    """Signs in a user whose claims were verified elsewhere (the OpenID provider's ID token)."""
    session.sign_in(SessionUser(user.sub, user.agency.value, user.role.value))
