"""Persistence wiring: one database URL chooses SQLite (embedded default) or PostgreSQL (production)."""

from __future__ import annotations

import select
import sqlite3
import threading
import time
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal, TypeVar
from urllib.parse import parse_qs, unquote, urlparse

import psycopg
import psycopg_pool
import structlog
from eventsourcing.persistence import ConnectionUnavailableError, InterfaceError, OperationalError, StoredEvent
from eventsourcing.postgres import (
    ConnectionPool,
    PostgresAggregateRecorder,
    PostgresApplicationRecorder,
    PostgresDatastore,
    PostgresFactory,
    PostgresProcessRecorder,
    PostgresTrackingRecorder,
)
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

log = structlog.get_logger("samverkan.storage")

# Set by open_storage for the factory below; the library builds factories from string settings only.
_PG_SESSION_OPTIONS = "POSTGRES_SESSION_OPTIONS"

# -- PostgreSQL: fail fast while it is gone, carry on as soon as it is back (docs/operations.md, "Outages") ------
#
# What made an outage hang (measured with tests/reliability/test_outage_pg.py): each of the library's recorder
# methods tries 10 times, each try waiting for the pool's timeout (a request hung 10 x the connect timeout, then
# succeeded or failed); the pool retries a lost connection with a doubling back-off (1, 2, 4, 8, 16 s ... for up to
# 5 minutes), so after PostgreSQL was back the pool went on waiting for its next attempt (12-15 s); and idle
# connections that died with the server were handed out again. Here: one try per call (the client retries, told
# so by 503 and Retry-After), the pool gives up re-trying on its own after the connect timeout and makes new
# connections as soon as requests ask again, a pooled connection the server has closed is noticed before it is
# handed out, and once a connection has failed a probe decides whether the database is gone: while it is, every
# call is refused at once, and the probe tries again every PROBE_INTERVAL_S until the database answers.

PROBE_INTERVAL_S = 0.5
TCP_USER_TIMEOUT_MS = 30_000
# The library's recorder methods that retry (eventsourcing.utils.retry: 10 attempts, 0.2 s apart).
_RETRIED_METHODS = (
    "insert_events",
    "select_events",
    "select_notifications",
    "max_notification_id",
    "insert_tracking",
    "max_tracking_id",
    "has_tracking_id",
)
_R = TypeVar("_R")
# SQLSTATEs of a connection lost or refused: class 08 (connection exception), and the server shutting down or
# starting up (57P01 admin_shutdown, 57P02 crash_shutdown, 57P03 cannot_connect_now).
_CONNECTION_STATES = ("57P01", "57P02", "57P03")


def _tried_once(recorder: type[_R]) -> type[_R]:
    """The library's recorder class, except that each call is tried once: a request must not wait through ten
    attempts for a database that is gone, and an insert tried again after a lost answer could store twice."""
    plain = {
        name: getattr(getattr(recorder, name), "__wrapped__", getattr(recorder, name))
        for name in _RETRIED_METHODS
        if hasattr(recorder, name)
    }
    return type(recorder.__name__, (recorder,), {**plain, "__doc__": recorder.__doc__})


def connection_failed(error: BaseException | None) -> bool:
    """True when a psycopg error says the connection itself failed (lost, refused, or none to be had in time),
    not that the database refused a statement (a lock or statement timeout, a serialization failure)."""
    if isinstance(error, psycopg_pool.PoolTimeout):
        return True
    if not isinstance(error, psycopg.OperationalError | psycopg.InterfaceError):
        return False
    state = error.sqlstate
    return state is None or state.startswith("08") or state in _CONNECTION_STATES


def _readable(fd: int) -> bool:
    """Whether the socket has something to read (or an error or end of stream) right now, without waiting."""
    if hasattr(select, "poll"):
        poller = select.poll()
        poller.register(fd, select.POLLIN | select.POLLERR | select.POLLHUP)
        return bool(poller.poll(0))
    return bool(select.select([fd], [], [], 0)[0])


class Reachability:
    """Whether PostgreSQL answers. A failed connection makes a probe (a new connection, in a background thread)
    find out; while probes fail, every call is refused at once instead of waiting for a connection, and the probe
    is repeated every `interval` seconds. When one succeeds, `on_back` runs (the pool drops the connections that
    died meanwhile) and calls go through again."""

    def __init__(self, probe: Callable[[], None], on_back: Callable[[], None], interval: float) -> None:
        self._probe = probe
        self._on_back = on_back
        self.interval = interval
        self._lock = threading.Lock()
        self._prober: threading.Thread | None = None
        self._closed = threading.Event()
        self._down_since: float | None = None
        self._reason = ""

    @property
    def down(self) -> bool:
        return self._down_since is not None

    def check(self) -> None:
        """Raises OperationalError at once while the database is known to be unreachable."""
        since = self._down_since
        if since is not None:
            raise OperationalError(
                f"the database does not answer ({self._reason}, for {time.monotonic() - since:.0f} s); "
                f"tried again every {self.interval} s"
            )

    def suspect(self) -> None:
        """A connection failed: probe the database (unless a probe is under way already)."""
        with self._lock:
            if self._closed.is_set() or (self._prober is not None and self._prober.is_alive()):
                return
            self._prober = threading.Thread(target=self._run, name="samverkan-db-probe", daemon=True)
            self._prober.start()

    def close(self) -> None:
        self._closed.set()

    def _run(self) -> None:
        while not self._closed.is_set():
            try:
                self._probe()
                break
            except Exception as error:  # psycopg's errors, or the operating system's
                if "too many clients" in str(error) or "connection slots are reserved" in str(error):
                    break  # it answers; it is only full
                self._reason = f"{type(error).__name__}: {str(error).splitlines()[0][:200]}"
                if self._down_since is None:
                    self._down_since = time.monotonic()
                    log.warning("database_unreachable", reason=self._reason)
            self._closed.wait(self.interval)
        since = self._down_since
        try:
            self._on_back()
        except Exception as error:
            log.warning("database_pool_check_failed", error_type=type(error).__name__)
        self._down_since = None
        if since is not None:
            log.warning("database_reachable_again", unreachable_s=round(time.monotonic() - since, 1))


class SamverkanPostgresDatastore(PostgresDatastore):
    """The library's PostgreSQL datastore with a pool that fails fast during an outage and recovers at once after
    it (see above): connect and TCP timeouts on every connection, the statement timeout, and the reachability
    probe in front of the pool."""

    def __init__(self, library: PostgresDatastore, *, session_options: str) -> None:
        pool = library.pool
        kwargs = dict(pool.kwargs) if isinstance(pool.kwargs, dict) else {}
        self.connect_timeout = float(pool.timeout)
        whole_seconds = max(1, round(self.connect_timeout))
        kwargs.update(
            connect_timeout=whole_seconds,
            options=session_options,
            # A peer that is gone without a word (a network cut): the kernel notices within idle + 3 x interval
            # seconds on a connection that waits (idle in the pool, or for an answer), and gives up on data sent
            # but not acknowledged for TCP_USER_TIMEOUT_MS (generous: a server slow to read must not be cut off).
            keepalives=1,
            keepalives_idle=whole_seconds,
            keepalives_interval=1,
            keepalives_count=3,
            tcp_user_timeout=TCP_USER_TIMEOUT_MS,
        )
        self.idle_in_transaction_session_timeout = library.idle_in_transaction_session_timeout
        self.pre_ping = library.pre_ping
        self.pool_open_timeout = library.pool_open_timeout
        self.single_row_tracking = library.single_row_tracking
        self.lock_timeout = library.lock_timeout
        self.schema = library.schema
        self.originator_id_type = library.originator_id_type
        self.enable_db_functions = library.enable_db_functions
        self.db_type_names = set(library.db_type_names)
        self.psycopg_type_adapters = dict(library.psycopg_type_adapters)
        self.psycopg_python_types = dict(library.psycopg_python_types)
        self._probe_kwargs = {k: v for k, v in kwargs.items() if k != "row_factory"}
        self._get_password = pool.get_password_func
        self.reachability = Reachability(self._probe, self._drop_dead_connections, PROBE_INTERVAL_S)
        reachability = self.reachability  # not self: the pool must not keep the datastore alive
        always_ask = library.pre_ping

        def check(conn: psycopg.Connection[Any]) -> None:
            # Before a pooled connection is handed out. No round trip while it is fine (unless POSTGRES_PRE_PING):
            # an idle connection has nothing to read unless the server has said goodbye (its FATAL message, the
            # end of the stream); only then is it asked.
            try:
                if conn.closed:  # also when broken
                    raise psycopg.OperationalError("the connection is closed")
                if always_ask or _readable(conn.fileno()):
                    ConnectionPool.check_connection(conn)
            except psycopg.Error:
                reachability.suspect()
                raise

        self.pool = ConnectionPool(
            get_password_func=pool.get_password_func,
            connection_class=pool.connection_class,
            kwargs=kwargs,
            min_size=pool.min_size,
            max_size=pool.max_size,
            open=False,
            configure=self.after_connect_func(),
            check=check,
            # Waiting for a connection: no longer than making one may take.
            timeout=self.connect_timeout,
            max_waiting=pool.max_waiting,
            max_lifetime=pool.max_lifetime,
            # A lost connection is re-made in the background for this long (1 s, then 2 s apart); after that, as
            # soon as a request asks for one, instead of on a back-off that had grown to minutes.
            reconnect_timeout=self.connect_timeout,
        )
        library.close()  # never opened: it has made no connection

    @contextmanager
    def get_connection(self) -> Iterator[psycopg.Connection[Any]]:
        self.reachability.check()
        try:
            with super().get_connection() as conn:
                yield conn
        except (OperationalError, InterfaceError) as error:
            if connection_failed(error.__cause__):
                self.reachability.suspect()
            raise

    def _probe(self) -> None:
        kwargs = dict(self._probe_kwargs)
        if self._get_password is not None:
            kwargs["password"] = self._get_password()
        with psycopg.connect(**kwargs, autocommit=True) as conn:
            conn.execute("SELECT 1")

    def _drop_dead_connections(self) -> None:
        if not self.pool.closed:
            self.pool.check()

    def close(self) -> None:
        reachability = getattr(self, "reachability", None)
        if reachability is not None:
            reachability.close()
        super().close()


class _OneTripApplicationRecorder(PostgresApplicationRecorder):
    """The library's application recorder, except that `insert_events` is one round trip (and `select_events`
    renders its statement once per shape, not on every call).

    The library sends a save as a pipelined transaction (BEGIN, SET LOCAL lock_timeout, LOCK TABLE ... IN
    EXCLUSIVE MODE, NOTIFY, INSERT ... RETURNING, COMMIT) that still waits on the server several times. Here the
    same statements run inside one PL/pgSQL function, called as one statement on the pool's autocommit
    connection: one statement, one transaction, one round trip. The EXCLUSIVE table lock is kept (the library's
    own database function leaves it out): it makes commit order equal notification-id order, which the
    projection runners tailing the event table rely on. A duplicate (aggregate id, version) is the same
    IntegrityError (a RecordConflictError) as before, and nothing of the call is stored."""

    def __init__(self, datastore: PostgresDatastore, **kwargs: Any) -> None:
        super().__init__(datastore, **kwargs)
        self.one_trip_function = f"samverkan_insert_{self.events_table_name}"[:63]
        self.sql_create_statements.append(
            sql.SQL(
                "CREATE OR REPLACE FUNCTION {schema}.{function}"
                "(ids {id_type}[], versions bigint[], topics text[], states bytea[]) "
                "RETURNS SETOF bigint LANGUAGE plpgsql AS $BODY$ "
                "BEGIN "
                "SET LOCAL lock_timeout = '{lock_timeout}s'; "
                "LOCK TABLE {schema}.{table} IN EXCLUSIVE MODE; "
                "NOTIFY {channel}; "
                "RETURN QUERY INSERT INTO {schema}.{table} AS t (originator_id, originator_version, topic, state) "
                "SELECT * FROM unnest(ids, versions, topics, states) "
                "RETURNING notification_id; "
                "END; $BODY$"
            ).format(
                schema=sql.Identifier(self.datastore.schema),
                function=sql.Identifier(self.one_trip_function),
                id_type=sql.Identifier(self.datastore.originator_id_type),
                lock_timeout=self.datastore.lock_timeout,
                table=sql.Identifier(self.events_table_name),
                channel=sql.Identifier(self.channel_name),
            )
        )
        self._select_statements: dict[tuple[bool, bool, bool, bool], bytes] = {}
        self._one_trip_bytes: bytes | None = None  # the statement below, rendered once
        # The columns go as four arrays in binary: psycopg dumps them in C (about 2 us a row), where an array of
        # the library's composite type is dumped in Python (about 30 us a row).
        self.one_trip_statement = sql.SQL(
            "SELECT * FROM {schema}.{function}(%b::{id_type}[], %b::int8[], %b::text[], %b::bytea[])"
        ).format(
            schema=sql.Identifier(self.datastore.schema),
            function=sql.Identifier(self.one_trip_function),
            id_type=sql.Identifier(self.datastore.originator_id_type),
        )

    def select_events(
        self,
        originator_id: Any,
        *,
        gt: int | None = None,
        lte: int | None = None,
        desc: bool = False,
        limit: int | None = None,
    ) -> Sequence[StoredEvent]:
        """The library's `select_events`, with each shape of its statement rendered to text once: the library
        builds and renders the SQL anew on every load of a case (a fifth of a view's statement cost)."""
        shape = (gt is not None, lte is not None, desc, limit is not None)
        params = [originator_id, *(value for value in (gt, lte) if value is not None)]
        if limit is not None:
            params.append(limit)
        with self.datastore.get_connection() as conn, conn.cursor() as curs:
            statement = self._select_statements.get(shape)
            if statement is None:
                composed = self.select_events_statement
                composed += sql.SQL(" AND originator_version > %s") if gt is not None else sql.SQL("")
                composed += sql.SQL(" AND originator_version <= %s") if lte is not None else sql.SQL("")
                composed += sql.SQL(" ORDER BY originator_version ") + sql.SQL("DESC" if desc else "ASC")
                composed += sql.SQL(" LIMIT %s") if limit is not None else sql.SQL("")
                statement = self._select_statements[shape] = composed.as_bytes(conn)
            curs.execute(statement, params, prepare=True)
            return [
                StoredEvent(
                    originator_id=row["originator_id"],
                    originator_version=row["originator_version"],
                    topic=row["topic"],
                    state=bytes(row["state"]),
                )
                for row in curs.fetchall()
            ]

    def insert_events(self, stored_events: Sequence[Any], **kwargs: Any) -> Sequence[int] | None:
        if kwargs.get("tracking") is not None or not stored_events:
            return super().insert_events(stored_events, **kwargs)
        columns = (
            [e.originator_id for e in stored_events],
            [e.originator_version for e in stored_events],
            [e.topic for e in stored_events],
            [e.state for e in stored_events],
        )
        with self.datastore.get_connection() as conn, conn.cursor() as curs:
            if self._one_trip_bytes is None:
                self._one_trip_bytes = self.one_trip_statement.as_bytes(conn)
            curs.execute(self._one_trip_bytes, columns, prepare=True)
            return [int(row[self.one_trip_function]) for row in curs.fetchall()]


class SamverkanPostgresFactory(PostgresFactory):
    """The library's PostgreSQL factory on SamverkanPostgresDatastore, with recorders that try each call once,
    and the schema made on demand."""

    aggregate_recorder_class = _tried_once(PostgresAggregateRecorder)
    application_recorder_class = _tried_once(_OneTripApplicationRecorder)
    tracking_recorder_class = _tried_once(PostgresTrackingRecorder)
    process_recorder_class = _tried_once(PostgresProcessRecorder)

    def __init__(self, env: Environment | Any) -> None:
        super().__init__(env)
        self.datastore = SamverkanPostgresDatastore(
            self.datastore, session_options=self.env.get(_PG_SESSION_OPTIONS) or ""
        )
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
    connect_timeout_s: int = 5

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
            "connect_timeout": self.connect_timeout_s,
            # A LISTEN connection waits for notifications on an idle socket: keepalives notice a peer that is gone.
            "keepalives": 1,
            "keepalives_idle": self.connect_timeout_s,
            "keepalives_interval": 1,
            "keepalives_count": 3,
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
            group_commit_max_batch=settings.group_commit_max_batch,
            group_commit_window_s=settings.group_commit_window_ms / 1000,
        )
        datastore = service.factory.datastore  # type: ignore[attr-defined]
        if isinstance(datastore, SQLiteDatastore):
            vault.attach(SQLiteKeyStore(datastore))
        else:
            assert isinstance(datastore, PostgresDatastore)
            vault.attach(PostgresKeyStore(datastore))
    return Storage(target, service, vault, settings.db_connect_timeout_s)


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
