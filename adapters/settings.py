"""The one place that reads the environment: every setting of the service, with its default."""

from __future__ import annotations

import base64
import binascii
import json
import os
import secrets
from datetime import timedelta
from functools import cached_property
from pathlib import Path
from typing import Literal

from pydantic import Field, model_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

from adapters.fhir import normalize_org_number
from consent import Party


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
    # Gallring (docs/retention.md): years after a party's last entry in a closed case until `samverkan gallring`
    # erases that party's information; the whole participant goes once every party's time is up. The defaults
    # follow each party's own rule where one was found (SoL: 5; patientdatalagen: 10); FK's, AF's and the
    # förbund's are the förbund's decision (its informationshanteringsplan).
    retention_years_fk: int = Field(default=5, ge=1, le=100)
    retention_years_af: int = Field(default=5, ge=1, le=100)
    retention_years_region: int = Field(default=10, ge=1, le=100)
    retention_years_kommun: int = Field(default=5, ge=1, le=100)
    retention_years_sf: int = Field(default=5, ge=1, le=100)
    # The disclosure log is never thinned by gallring (it is hash-chained, kept whole); it must be kept at least
    # this long, and never less than five years (HSLF-FS 2016:40 4 kap. 9 §).
    disclosure_log_retention_years: int = Field(default=5, ge=5, le=100)
    # Storage timeouts, so an outage answers 503 instead of hanging requests.
    db_connect_timeout_s: int = Field(default=5, ge=1)
    db_statement_timeout_ms: int = Field(default=15_000, ge=100)
    db_lock_timeout_s: int = Field(default=5, ge=1)
    db_pool_size: int = Field(default=5, ge=1)
    db_pool_max_overflow: int = Field(default=10, ge=0)
    aggregate_cache_size: int = Field(default=2_000, ge=0)
    # Group commit (coordination/group_commit.py): concurrent commands' changes are saved together, up to this
    # many cases per transaction (0: one transaction per command); the committer may wait up to the window for a
    # batch to fill once it sees concurrent requests (0: it takes what is waiting, never waits).
    group_commit_max_batch: int = Field(default=64, ge=0, le=1_000)
    group_commit_window_ms: float = Field(default=0.0, ge=0, le=50)

    # Tokens: development tokens are HS256 with token_secret; production verifies the identity provider's
    # RS256/ES256 tokens with a public key (PEM) or a JWKS file.
    token_secret: str | None = None
    token_public_key_file: Path | None = None
    token_jwks_file: Path | None = None
    token_issuer: str | None = None
    token_audience: str | None = None
    # Token rules (docs/api.md, "Conventions"): a granskare or admin belongs to the förbund (SF) or to this operator
    # party; no token may be valid for longer than the maximum lifetime; clock skew tolerated on exp, nbf and iat.
    operator_agency: Party = Party.SF
    token_max_lifetime_hours: int = Field(default=12, ge=1, le=7 * 24)
    token_leeway_s: int = Field(default=30, ge=0, le=300)
    # Signs audit export manifests (Ed25519, base64 of the 32-byte private seed).
    audit_signing_key: str | None = None
    # Anchors of the disclosure log (docs/audit.md, "Anchors"): signed copies of the log's head written outside the
    # database, into this directory (default: `anchors/` beside a SQLite file; none on PostgreSQL unless set), every
    # anchor_interval_s seconds while `samverkan serve` runs (0: only on exports and `samverkan audit anchor`).
    anchor_dir: Path | None = None
    anchor_interval_s: int = Field(default=300, ge=0, le=7 * 24 * 3600)
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
    # Request limits (docs/api.md, "Limits"): the request target (path and query), the header fields (each and all
    # together, names and values) and the body, in bytes. Beyond them: 414, 431 and 413, answered before the rest
    # is read; `samverkan serve` stops reading a request head a little beyond the first two.
    max_url_bytes: int = Field(default=8 * 1024, ge=1024, le=1024 * 1024)
    max_header_bytes: int = Field(default=16 * 1024, ge=1024, le=1024 * 1024)
    max_body_bytes: int = Field(default=1024 * 1024, ge=1024, le=1024 * 1024 * 1024)
    # "inprocess": `samverkan serve` keeps the projections up to date in a background thread; "off": run
    # `samverkan projections run` as its own worker (recommended with several API workers).
    projections: Literal["inprocess", "off"] = "inprocess"
    projection_batch_size: int = Field(default=500, ge=1, le=50_000)
    # How long a caseload or timeline read waits for the projections to reach the log's head as it was when the
    # read began (your own writes included) before it answers with what it has, marked as behind.
    read_wait_ms: int = Field(default=2_000, ge=0, le=30_000)
    # Emergency access (nödåtkomst, docs/emergency.md): the longest window one opening gives, in minutes.
    emergency_access_minutes: int = Field(default=60, ge=1, le=24 * 60)
    # The log review's rules (docs/review.md): office hours in Swedish time on working days; one user reading at
    # least N participants within M minutes; reads within H hours of the end of the consent they cite.
    review_office_hours: str = Field(default="07:00-18:00", pattern=r"^\d\d:\d\d-\d\d:\d\d$")
    review_burst_participants: int = Field(default=10, ge=2, le=10_000)
    review_burst_minutes: int = Field(default=15, ge=1, le=24 * 60)
    review_consent_end_hours: int = Field(default=24, ge=1, le=24 * 30)
    # Organisation numbers (organisationsnummer, NNNNNN-NNNN) of the parties that differ per installation, carried
    # by the FHIR exchange (docs/fhir.md): the region, the municipality and the förbund itself. The defaults are
    # placeholders (000000-00xx, no real organisation): set the real ones before exchanging FHIR with anyone.
    org_number_region: str = "000000-0018"
    org_number_kommun: str = "000000-0026"
    org_number_sf: str = "000000-0034"
    # The parties' names as the papers for the participant give them (receipts, extracts; docs/receipts.md) and
    # the controllers' contact those papers print. Without them, generic names and a placeholder text are used.
    forbund_name: str | None = Field(default=None, max_length=200)
    region_name: str | None = Field(default=None, max_length=200)
    kommun_name: str | None = Field(default=None, max_length=200)
    controllers_contact: str | None = Field(default=None, max_length=2_000)

    @model_validator(mode="after")
    def _org_numbers_valid(self) -> Settings:
        for name in ("org_number_region", "org_number_kommun", "org_number_sf"):
            try:
                normalize_org_number(getattr(self, name))
            except ValueError as problem:
                raise SettingsError(f"SAMVERKAN_{name.upper()}: {problem}") from None
        return self

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
    def token_max_lifetime(self) -> timedelta:
        """The longest a bearer token may be valid (SAMVERKAN_TOKEN_MAX_LIFETIME_HOURS)."""
        return timedelta(hours=self.token_max_lifetime_hours)

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
