"""The one place that reads the environment: every setting of the service, with its default."""

from __future__ import annotations

import base64
import binascii
import json
import os
import secrets
from functools import cached_property
from pathlib import Path
from typing import Literal

from pydantic import Field, model_validator
from pydantic_settings import BaseSettings, SettingsConfigDict


class SettingsError(RuntimeError):
    """A setting is missing or malformed; the message names the variable and what to put in it."""


def _decode_key(name: str, value: str, size: int) -> bytes:
    try:
        key = base64.b64decode(value, validate=True)
    except binascii.Error:
        raise SettingsError(f"{name} must be base64 (make one with: samverkan keygen)") from None
    if len(key) != size:
        raise SettingsError(f"{name} must decode to {size} bytes (make one with: samverkan keygen)")
    return key


class Settings(BaseSettings):
    """Samverkan's settings, from SAMVERKAN_* environment variables."""

    model_config = SettingsConfigDict(env_prefix="SAMVERKAN_", extra="ignore", env_ignore_empty=True)

    env: Literal["development", "production"] = "development"
    database_url: str = "sqlite:///samverkan.db"
    # Keys: base64 of 32 random bytes each. In development they are made once and kept in key_file.
    master_key: str | None = None
    master_key_id: str = "k1"
    lookup_key: str | None = None
    key_file: Path = Path("samverkan-keys.json")
    max_consent_months: int = Field(default=12, ge=1, le=36)
    # The planned length of a kartläggning (Drivhuset's six weeks), when no planned end is given.
    kartlaggning_weeks: int = Field(default=6, ge=1, le=52)
    # Storage timeouts, so an outage answers 503 instead of hanging requests.
    db_connect_timeout_s: int = Field(default=5, ge=1)
    db_statement_timeout_ms: int = Field(default=15_000, ge=100)
    db_lock_timeout_s: int = Field(default=5, ge=1)
    db_pool_size: int = Field(default=5, ge=1)
    db_pool_max_overflow: int = Field(default=10, ge=0)
    aggregate_cache_size: int = Field(default=2_000, ge=0)

    # Tokens: development tokens are HS256 with token_secret; production verifies the identity provider's
    # RS256/ES256 tokens with a public key (PEM) or a JWKS file.
    token_secret: str | None = None
    token_public_key_file: Path | None = None
    token_jwks_file: Path | None = None
    token_issuer: str | None = None
    token_audience: str | None = None
    # Signs audit export manifests (Ed25519, base64 of the 32-byte private seed).
    audit_signing_key: str | None = None
    # Sign-in on the web pages through the organisation's OpenID provider (docs/web.md): authorisation code flow
    # with PKCE for a confidential client. agency and role come from the named claims.
    oidc_issuer: str | None = None
    oidc_client_id: str | None = None
    oidc_client_secret: str | None = None
    oidc_agency_claim: str = "agency"
    oidc_role_claim: str = "role"
    oidc_scopes: str = "openid profile"
    # The address users reach the service at (for the OIDC redirect URI); by default taken from the request.
    public_url: str | None = None
    # Signs the web pages' session cookie (base64 of 32 bytes); without it the token secret's key is used.
    session_secret: str | None = None
    log_level: str = "INFO"
    # "inprocess": `samverkan serve` keeps the projections up to date in a background thread; "off": run
    # `samverkan projections run` as its own worker (recommended with several API workers).
    projections: Literal["inprocess", "off"] = "inprocess"
    projection_batch_size: int = Field(default=500, ge=1, le=50_000)
    # How long a caseload or timeline read waits for the projections to reach the log's head as it was when the
    # read began (your own writes included) before it answers with what it has, marked as behind.
    read_wait_ms: int = Field(default=2_000, ge=0, le=30_000)

    @model_validator(mode="after")
    def _oidc_complete(self) -> Settings:
        if self.session_secret is not None:
            _decode_key("SAMVERKAN_SESSION_SECRET", self.session_secret, 32)  # at start-up, not at the first page
        if self.oidc_issuer is None:
            return self
        if not self.oidc_client_id or not self.oidc_client_secret:
            raise SettingsError("SAMVERKAN_OIDC_ISSUER needs SAMVERKAN_OIDC_CLIENT_ID and SAMVERKAN_OIDC_CLIENT_SECRET")
        if self.env == "production":
            for name, url in (("OIDC_ISSUER", self.oidc_issuer), ("PUBLIC_URL", self.public_url)):
                if url is not None and not url.startswith("https://"):
                    raise SettingsError(f"SAMVERKAN_{name} must be an https:// address in production")
            if self.session_secret is None and self.token_secret is None:
                raise SettingsError(
                    "SAMVERKAN_SESSION_SECRET must be set in production with OpenID Connect (make one with: "
                    "samverkan keygen)"
                )
        return self

    @property
    def oidc_enabled(self) -> bool:
        """True when the web pages sign in through the organisation's OpenID provider."""
        return self.oidc_issuer is not None

    @cached_property
    def session_key_secret(self) -> bytes | None:
        """The web session's own secret, when one is set."""
        if self.session_secret is None:
            return None
        return _decode_key("SAMVERKAN_SESSION_SECRET", self.session_secret, 32)

    @cached_property
    def keys(self) -> tuple[bytes, bytes]:
        """(master key, lookup key): from the environment, or in development from the key file."""
        return (
            self._secret("master_key", self.master_key),
            self._secret("lookup_key", self.lookup_key),
        )

    @cached_property
    def token_key(self) -> bytes | None:
        """The HS256 secret for development tokens; None in production unless explicitly set."""
        if self.token_secret is None and self.env == "production":
            return None
        return self._secret("token_secret", self.token_secret)

    @cached_property
    def audit_key(self) -> bytes:
        """The Ed25519 seed that signs export manifests."""
        return self._secret("audit_signing_key", self.audit_signing_key)

    def _secret(self, name: str, value: str | None) -> bytes:
        variable = f"SAMVERKAN_{name.upper()}"
        if value:
            return _decode_key(variable, value, 32)
        if self.env == "production":
            raise SettingsError(f"{variable} must be set in production (make one with: samverkan keygen)")
        return _decode_key(f"{name} in {self.key_file}", _development_secrets(self.key_file)[name], 32)


# session_secret is listed for keygen (production with OpenID Connect); the pages use it only when it is set.
SECRET_NAMES = ("master_key", "lookup_key", "token_secret", "audit_signing_key", "session_secret")


def _development_secrets(path: Path) -> dict[str, str]:
    """Secrets kept in a local file (mode 600) so a development database stays readable across restarts."""
    stored: dict[str, str] = json.loads(path.read_text()) if path.exists() else {}
    missing = [name for name in SECRET_NAMES if name not in stored]
    if missing:
        stored.update({name: new_key() for name in missing})
        temporary = path.with_name(path.name + ".tmp")
        descriptor = os.open(temporary, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        with os.fdopen(descriptor, "w") as handle:
            json.dump(stored, handle)
        os.replace(temporary, path)
    return stored


def new_key() -> str:
    """A fresh base64 key of 32 random bytes."""
    return base64.b64encode(secrets.token_bytes(32)).decode()
