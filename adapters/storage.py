"""Persistence wiring: one database URL chooses SQLite (embedded default) or PostgreSQL (production)."""

from __future__ import annotations

import sqlite3
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal
from urllib.parse import parse_qs, unquote, urlparse

import psycopg
from eventsourcing.persistence import ConnectionUnavailableError, InterfaceError
from eventsourcing.postgres import PostgresDatastore, PostgresFactory
from eventsourcing.sqlite import (
    SQLITE3_DEFAULT_LOCK_TIMEOUT,
    SQLiteConnection,
    SQLiteConnectionPool,
    SQLiteCursor,
    SQLiteDatastore,
    SQLiteFactory,
    SQLiteTransaction,
)
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


# SQLite connections are cheap (a file handle and a page cache): enough that no thread ever waits for one. The
# server's request threads (AnyIO's default limit is 40), the projection runner and its rebuild reader all fit.
SQLITE_POOL_SIZE = 8
SQLITE_POOL_MAX = 64


class _SQLiteWriteTransaction(SQLiteTransaction):
    """A transaction that takes SQLite's write lock at BEGIN when it is going to commit (BEGIN IMMEDIATE)."""

    def __enter__(self) -> SQLiteCursor:
        # A deferred transaction that reads before it writes cannot wait for another process's writer: SQLite
        # refuses the upgrade at once (SQLITE_BUSY) when its snapshot is stale. IMMEDIATE waits (busy_timeout).
        cursor = self.connection.cursor()
        cursor.execute("BEGIN IMMEDIATE" if self.commit else "BEGIN")
        return cursor


class _SQLiteConnection(SQLiteConnection):
    @contextmanager
    def transaction(self, *, commit: bool) -> Iterator[SQLiteCursor]:
        with _SQLiteWriteTransaction(self, commit=commit) as curs, curs:
            yield curs


class SamverkanSQLitePool(SQLiteConnectionPool):
    """The library's SQLite pool, except that a writer waits for the writer lock before it joins the pool's queue."""

    # The library's pool issues connections in request order (a semaphore held while a request waits) and one
    # writer connection at a time, so a writer waiting for the writer lock holds up every other request, readers
    # included; and a thread that holds the writer and asks for a second connection waits for a thread that waits
    # for it (a deadlock until the pool timeout, answered as 503). Here writers queue on the writer lock alone:
    # readers never wait for writers (WAL lets them read meanwhile), and the writer's holder only ever waits for a
    # free connection, of which there are more than threads.

    def get_connection(self, timeout: float | None = None, *, is_writer: bool | None = None) -> SQLiteConnection:
        if is_writer is not True or self._mutually_exclusive_read_write:
            return super().get_connection(timeout, is_writer=is_writer)
        timeout = self.pool_timeout if timeout is None else timeout
        started = time.monotonic()
        if not self._writer_lock.acquire(timeout=timeout):
            raise ConnectionUnavailableError("Timed out waiting for return of writer")
        try:
            conn = super().get_connection(max(0.0, timeout - (time.monotonic() - started)), is_writer=None)
        except BaseException:
            self._writer_lock.release()
            raise
        # put_connection() releases the writer lock for a connection marked as the writer.
        self._num_writers += 1
        conn.is_writer = True
        return conn

    def _create_connection(self) -> SQLiteConnection:
        # As the library's, but the connection begins its write transactions with BEGIN IMMEDIATE.
        try:
            c = sqlite3.connect(
                database=self.db_name,
                uri=True,
                check_same_thread=False,
                isolation_level=None,  # autocommit mode: transactions are begun explicitly
                cached_statements=True,
                timeout=self.lock_timeout or SQLITE3_DEFAULT_LOCK_TIMEOUT,  # the busy timeout
            )
        except (sqlite3.Error, TypeError) as e:
            raise InterfaceError(e) from e
        if not self.is_sqlite_memory_mode and not self.is_journal_mode_wal:
            mode = c.execute("PRAGMA journal_mode;").fetchone()[0]
            if mode.lower() != "wal":
                c.execute("PRAGMA journal_mode=WAL;")
                self.journal_mode_was_changed_to_wal = True
            self.is_journal_mode_wal = True
        c.row_factory = sqlite3.Row
        return _SQLiteConnection(sqlite_conn=c, max_age=self.max_age)


class SamverkanSQLiteDatastore(SQLiteDatastore):
    """The library's SQLite datastore on SamverkanSQLitePool."""

    def __init__(
        self,
        db_name: str,
        *,
        lock_timeout: int | None = None,
        single_row_tracking: bool = True,
        originator_id_type: Literal["uuid", "text"] = "uuid",
    ) -> None:
        self.pool = SamverkanSQLitePool(
            db_name=db_name,
            lock_timeout=lock_timeout,
            pool_size=SQLITE_POOL_SIZE,
            max_overflow=SQLITE_POOL_MAX - SQLITE_POOL_SIZE,
            pool_timeout=float(lock_timeout or SQLITE3_DEFAULT_LOCK_TIMEOUT),
        )
        self.single_row_tracking = single_row_tracking
        self.originator_id_type = originator_id_type


class SamverkanSQLiteFactory(SQLiteFactory):
    """The library's SQLite factory on SamverkanSQLiteDatastore (the library builds factories from settings)."""

    def __init__(self, env: Environment | Any) -> None:
        super().__init__(env)
        library = self.datastore
        self.datastore = SamverkanSQLiteDatastore(
            library.pool.db_name,
            lock_timeout=library.pool.lock_timeout,
            single_row_tracking=library.single_row_tracking,
            originator_id_type=library.originator_id_type,
        )
        library.close()  # never used: it has made no connection


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
            "PERSISTENCE_MODULE": f"{__name__}:{SamverkanSQLiteFactory.__name__}",
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
            library_env(target, settings),
            vault=vault,
            max_consent_months=settings.max_consent_months,
            kartlaggning_weeks=settings.kartlaggning_weeks,
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
