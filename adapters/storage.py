"""Persistence wiring: one database URL chooses SQLite (embedded default) or PostgreSQL (production)."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, unquote, urlparse

import psycopg
from eventsourcing.postgres import PostgresDatastore, PostgresFactory
from eventsourcing.sqlite import SQLiteDatastore
from eventsourcing.utils import Environment
from psycopg import sql

from adapters.keystores import PostgresKeyStore, SQLiteKeyStore
from adapters.settings import Settings
from adapters.vault import Vault
from coordination import CoordinationService

# Set by open_storage for the factory below; the library builds factories from string settings only.
_PG_SESSION_OPTIONS = "POSTGRES_SESSION_OPTIONS"


class SamverkanPostgresFactory(PostgresFactory):
    """The library's PostgreSQL factory, plus connect and statement timeouts and the schema made on demand."""

    def __init__(self, env: Environment | Any) -> None:
        super().__init__(env)
        kwargs = self.datastore.pool.kwargs
        assert isinstance(kwargs, dict)
        kwargs["connect_timeout"] = int(self.env.get(self.POSTGRES_CONNECT_TIMEOUT) or "5")
        kwargs["options"] = self.env.get(_PG_SESSION_OPTIONS) or ""
        if self.datastore.schema != "public":
            with self.datastore.transaction(commit=True) as cursor:
                cursor.execute(sql.SQL("CREATE SCHEMA IF NOT EXISTS {}").format(sql.Identifier(self.datastore.schema)))


@dataclass(frozen=True)
class DatabaseTarget:
    """What a SAMVERKAN_DATABASE_URL names."""

    engine: str  # "sqlite" | "postgres"
    sqlite_path: Path | None = None
    host: str = "127.0.0.1"
    port: int = 5432
    user: str = "postgres"
    password: str = ""
    dbname: str = "samverkan"
    schema: str = ""

    def describe(self) -> str:
        """A form safe for logs (no password)."""
        if self.engine == "sqlite":
            return f"sqlite:///{self.sqlite_path}"
        schema = f"?schema={self.schema}" if self.schema else ""
        return f"postgresql://{self.user}@{self.host}:{self.port}/{self.dbname}{schema}"


class DatabaseUrlError(ValueError):
    """SAMVERKAN_DATABASE_URL cannot be understood; the message shows the accepted forms."""


def parse_database_url(url: str) -> DatabaseTarget:
    """Parses `sqlite:///path/file.db` or `postgresql://user[:password]@host[:port]/db[?schema=name]`."""
    parsed = urlparse(url)
    if parsed.scheme == "sqlite":
        path = unquote(parsed.path[1:] if parsed.path.startswith("/") else parsed.path)
        if not path:
            raise DatabaseUrlError("sqlite URL needs a file: sqlite:///samverkan.db or sqlite:////abs/path.db")
        return DatabaseTarget("sqlite", sqlite_path=Path(path))
    if parsed.scheme in ("postgresql", "postgres"):
        query = parse_qs(parsed.query)
        dbname = parsed.path.lstrip("/")
        if not dbname:
            raise DatabaseUrlError("postgresql URL needs a database: postgresql://user@host:5432/dbname")
        return DatabaseTarget(
            "postgres",
            host=parsed.hostname or "127.0.0.1",
            port=parsed.port or 5432,
            user=unquote(parsed.username or "postgres"),
            password=unquote(parsed.password or ""),
            dbname=dbname,
            schema=query.get("schema", [""])[0],
        )
    raise DatabaseUrlError(
        "SAMVERKAN_DATABASE_URL must start with sqlite:/// or postgresql:// "
        "(e.g. sqlite:///samverkan.db or postgresql://postgres@127.0.0.1:5432/samverkan)"
    )


def library_env(target: DatabaseTarget, settings: Settings) -> dict[str, str]:
    """The eventsourcing library's settings for a database target."""
    env = {"AGGREGATE_CACHE_MAXSIZE": str(settings.aggregate_cache_size)}
    if target.engine == "sqlite":
        assert target.sqlite_path is not None
        return {
            **env,
            "PERSISTENCE_MODULE": "eventsourcing.sqlite",
            "SQLITE_DBNAME": str(target.sqlite_path),
            "SQLITE_LOCK_TIMEOUT": str(settings.db_lock_timeout_s),
        }
    return {
        **env,
        "PERSISTENCE_MODULE": f"{__name__}:{SamverkanPostgresFactory.__name__}",
        "POSTGRES_DBNAME": target.dbname,
        "POSTGRES_HOST": target.host,
        "POSTGRES_PORT": str(target.port),
        "POSTGRES_USER": target.user,
        "POSTGRES_PASSWORD": target.password,
        "POSTGRES_SCHEMA": target.schema,
        "POSTGRES_CONNECT_TIMEOUT": str(settings.db_connect_timeout_s),
        "POSTGRES_LOCK_TIMEOUT": str(settings.db_lock_timeout_s),
        "POSTGRES_IDLE_IN_TRANSACTION_SESSION_TIMEOUT": "10",
        "POSTGRES_POOL_SIZE": str(settings.db_pool_size),
        "POSTGRES_MAX_OVERFLOW": str(settings.db_pool_max_overflow),
        # No pre-ping: it costs a round trip per checkout; the pool drops broken connections, the library retries
        # once on a connection error, and an outage answers 503 until the server is back.
        "POSTGRES_PRE_PING": "n",
        _PG_SESSION_OPTIONS: f"-c statement_timeout={settings.db_statement_timeout_ms}",
    }


@dataclass
class Storage:
    """An open database: the coordination service and the vault that share its connections."""

    target: DatabaseTarget
    service: CoordinationService
    vault: Vault

    @property
    def events_table(self) -> str:
        """The library's event table: the log the projections follow."""
        return "stored_events" if self.target.engine == "sqlite" else "samverkan_events"

    def listen_params(self) -> dict[str, Any] | None:
        """Connection parameters for LISTEN (PostgreSQL wakes projection runners; SQLite is polled)."""
        if self.target.engine != "postgres":
            return None
        params: dict[str, Any] = {
            "host": self.target.host,
            "port": self.target.port,
            "user": self.target.user,
            "dbname": self.target.dbname,
            "connect_timeout": 5,
        }
        if self.target.password:
            params["password"] = self.target.password
        return params

    def close(self) -> None:
        """Closes the connection pool."""
        self.service.close()

    def __enter__(self) -> Storage:
        return self

    def __exit__(self, *_: object) -> None:
        self.close()


def open_storage(settings: Settings) -> Storage:
    """Opens (and creates, when new) the database named by the settings."""
    target = parse_database_url(settings.database_url)
    master_key, lookup_key = settings.keys
    vault = Vault(master_key, lookup_key, master_key_id=settings.master_key_id)
    with schema_lock(target, settings):
        service = CoordinationService(
            library_env(target, settings), vault=vault, max_consent_months=settings.max_consent_months
        )
        datastore = service.factory.datastore  # type: ignore[attr-defined]
        if isinstance(datastore, SQLiteDatastore):
            vault.attach(SQLiteKeyStore(datastore))
        else:
            assert isinstance(datastore, PostgresDatastore)
            vault.attach(PostgresKeyStore(datastore))
    return Storage(target, service, vault)


@contextmanager
def schema_lock(target: DatabaseTarget, settings: Settings) -> Iterator[None]:
    """Several workers starting at once on a new PostgreSQL database take turns creating the tables (the
    library's CREATE ... IF NOT EXISTS statements collide when run concurrently)."""
    if target.engine != "postgres":
        yield
        return
    _ensure_postgres_database(target, settings)
    with psycopg.connect(**_connect_params(target, settings), dbname=target.dbname) as conn:
        conn.execute("SELECT pg_advisory_lock(hashtext('samverkan.schema'))")
        try:
            yield
        finally:
            conn.execute("SELECT pg_advisory_unlock(hashtext('samverkan.schema'))")


def _connect_params(target: DatabaseTarget, settings: Settings) -> dict[str, Any]:
    params: dict[str, Any] = {
        "host": target.host,
        "port": target.port,
        "user": target.user,
        "connect_timeout": settings.db_connect_timeout_s,
        "autocommit": True,
    }
    if target.password:
        params["password"] = target.password
    return params


def _ensure_postgres_database(target: DatabaseTarget, settings: Settings) -> None:
    """Creates the database on first use, so `postgresql://.../samverkan` works on a fresh server."""
    params = _connect_params(target, settings)
    try:
        with psycopg.connect(dbname=target.dbname, **params):
            return
    except psycopg.OperationalError as error:
        if "does not exist" not in str(error):
            raise
    with psycopg.connect(dbname="postgres", **params) as conn:
        conn.execute(sql.SQL("CREATE DATABASE {}").format(sql.Identifier(target.dbname)))
