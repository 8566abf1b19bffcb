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

from pydantic import Field
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

    model_config = SettingsConfigDict(env_prefix="SAMVERKAN_", extra="ignore")

    env: Literal["development", "production"] = "development"
    database_url: str = "sqlite:///samverkan.db"
    # Keys: base64 of 32 random bytes each. In development they are made once and kept in key_file.
    master_key: str | None = None
    master_key_id: str = "k1"
    lookup_key: str | None = None
    key_file: Path = Path("samverkan-keys.json")
    max_consent_months: int = Field(default=12, ge=1, le=36)
    # Storage timeouts, so an outage answers 503 instead of hanging requests.
    db_connect_timeout_s: int = Field(default=5, ge=1)
    db_statement_timeout_ms: int = Field(default=15_000, ge=100)
    db_lock_timeout_s: int = Field(default=5, ge=1)
    db_pool_size: int = Field(default=5, ge=1)
    db_pool_max_overflow: int = Field(default=10, ge=0)
    aggregate_cache_size: int = Field(default=2_000, ge=0)

    @cached_property
    def keys(self) -> tuple[bytes, bytes]:
        """(master key, lookup key): from the environment, or in development from the key file."""
        if self.master_key and self.lookup_key:
            return (
                _decode_key("SAMVERKAN_MASTER_KEY", self.master_key, 32),
                _decode_key("SAMVERKAN_LOOKUP_KEY", self.lookup_key, 32),
            )
        if self.env == "production":
            raise SettingsError(
                "SAMVERKAN_MASTER_KEY and SAMVERKAN_LOOKUP_KEY must be set in production "
                "(make them with: samverkan keygen)"
            )
        return _development_keys(self.key_file)


def _development_keys(path: Path) -> tuple[bytes, bytes]:
    """Keys kept in a local file (mode 600) so a development database stays readable across restarts."""
    if not path.exists():
        fresh = {name: base64.b64encode(secrets.token_bytes(32)).decode() for name in ("master_key", "lookup_key")}
        descriptor = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        with os.fdopen(descriptor, "w") as handle:
            json.dump(fresh, handle)
    stored = json.loads(path.read_text())
    return (
        _decode_key(f"master_key in {path}", stored["master_key"], 32),
        _decode_key(f"lookup_key in {path}", stored["lookup_key"], 32),
    )


def new_key() -> str:
    """A fresh base64 key for SAMVERKAN_MASTER_KEY or SAMVERKAN_LOOKUP_KEY."""
    return base64.b64encode(secrets.token_bytes(32)).decode()
