"""Shared fixtures: real storage on both engines (a fresh SQLite file, a fresh PostgreSQL schema)."""

from __future__ import annotations

import base64
import os
import uuid
from collections.abc import Iterator
from pathlib import Path

import psycopg
import pytest

from adapters.settings import Settings
from adapters.storage import Storage, open_storage

PG_URL = os.environ.get("SAMVERKAN_TEST_POSTGRES_URL", "postgresql://postgres@127.0.0.1:5432/test")
ENGINES = ["sqlite", "postgres"]


def pytest_addoption(parser: pytest.Parser) -> None:
    """The reliability harness's full runs (tests/reliability): CI runs the short defaults."""
    parser.addoption("--trials", type=int, default=1000, help="withdrawal race trials (tests/reliability; e.g. 10000)")


def postgres_available() -> bool:
    """True when the test PostgreSQL server answers."""
    try:
        with psycopg.connect(PG_URL, connect_timeout=3):
            return True
    except psycopg.OperationalError:
        return False


def require_postgres() -> None:
    """Skips without PostgreSQL on a developer machine; fails under CI=true, where it is mandatory."""
    if postgres_available():
        return
    message = f"PostgreSQL is not reachable at {PG_URL}"
    if os.environ.get("CI", "").lower() == "true":
        pytest.fail(f"{message}; it is required when CI=true", pytrace=False)
    pytest.skip(f"{message} (start it, see README)")


def fixed_keys() -> dict[str, str]:
    """Deterministic test keys (never used outside tests)."""
    return {
        "master_key": base64.b64encode(b"m" * 32).decode(),
        "lookup_key": base64.b64encode(b"l" * 32).decode(),
        "token_secret": base64.b64encode(b"t" * 32).decode(),
        "audit_signing_key": base64.b64encode(b"a" * 32).decode(),
    }


@pytest.fixture
def pg_schema() -> Iterator[str]:
    """A fresh PostgreSQL schema, dropped afterwards."""
    require_postgres()
    schema = f"t_{uuid.uuid4().hex[:16]}"
    yield schema
    with psycopg.connect(PG_URL, autocommit=True) as conn:
        conn.execute(f'DROP SCHEMA IF EXISTS "{schema}" CASCADE')


def database_url(engine: str, tmp_path: Path, request: pytest.FixtureRequest) -> str:
    """A database URL of a fresh, empty database for `engine`."""
    if engine == "sqlite":
        return f"sqlite:///{tmp_path / 'samverkan.db'}"
    schema = request.getfixturevalue("pg_schema")
    return f"{PG_URL}?schema={schema}"


@pytest.fixture(params=ENGINES)
def engine(request: pytest.FixtureRequest) -> str:
    """Each storage test runs once per engine."""
    if request.param == "postgres":
        request.applymarker(pytest.mark.postgres)
    return str(request.param)


@pytest.fixture
def settings(engine: str, tmp_path: Path, request: pytest.FixtureRequest) -> Settings:
    """Settings pointing at a fresh database of the engine under test."""
    # Tests catch the projections up themselves; a list read that finds them behind waits only briefly.
    return Settings(
        database_url=database_url(engine, tmp_path, request),
        key_file=tmp_path / "keys.json",
        read_wait_ms=100,
        **fixed_keys(),
    )


@pytest.fixture
def storage(settings: Settings) -> Iterator[Storage]:
    """An open Storage on a fresh database."""
    with open_storage(settings) as opened:
        yield opened
