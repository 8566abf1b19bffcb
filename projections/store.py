"""Projection tables in the service's database, and the batch writer that commits view rows together with the
projection's position (the eventsourcing library's tracking record) in one transaction: exactly once."""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any

from eventsourcing.persistence import Tracking
from eventsourcing.postgres import PostgresDatastore, PostgresTrackingRecorder
from eventsourcing.sqlite import SQLiteDatastore, SQLiteTrackingRecorder
from psycopg import sql
from psycopg.rows import tuple_row

from projections.events import StoredEvent, UndecodableEvent, decode, reason_of

REBUILD_SUFFIX = "__rebuild"
TRACKING_TABLE = "samverkan_projection_tracking"
STATUS_TABLE = "samverkan_projection_status"
STATUS_COLUMNS = ("projection", "position", "reason", "since", "attempts", "updated_at")


@dataclass(frozen=True)
class Column:
    name: str
    sqlite_type: str
    postgres_type: str


@dataclass(frozen=True)
class TableSpec:
    """A projection table: columns (the first `key` of them form the primary key) and extra indexes."""

    name: str
    columns: tuple[Column, ...]
    key: tuple[str, ...]
    indexes: tuple[tuple[str, ...], ...] = ()

    @property
    def column_names(self) -> tuple[str, ...]:
        return tuple(c.name for c in self.columns)

    def __hash__(self) -> int:
        return hash(self.name)


def text(name: str) -> Column:
    return Column(name, "TEXT", "text")


def integer(name: str) -> Column:
    return Column(name, "INTEGER", "bigint")


@dataclass(frozen=True)
class Upsert:
    table: str
    row: tuple[Any, ...]


@dataclass(frozen=True)
class Update:
    table: str
    key: tuple[Any, ...]
    values: tuple[tuple[str, Any], ...]


@dataclass(frozen=True)
class Delete:
    table: str
    column: str
    value: Any


Operation = Upsert | Update | Delete


class ProjectionStore:
    """SQL for the projection tables on SQLite or PostgreSQL, sharing the event store's connections."""

    def __init__(self, datastore: SQLiteDatastore | PostgresDatastore, events_table: str) -> None:
        self.datastore = datastore
        self.postgres = isinstance(datastore, PostgresDatastore)
        self.schema = datastore.schema if isinstance(datastore, PostgresDatastore) else ""
        self.events_table = events_table
        self.tracking: SQLiteTrackingRecorder | PostgresTrackingRecorder
        if isinstance(datastore, PostgresDatastore):
            self.tracking = PostgresTrackingRecorder(datastore, tracking_table_name=TRACKING_TABLE)
        else:
            self.tracking = SQLiteTrackingRecorder(datastore)
        self.tracking.create_table()
        self._create_status_table()
        self._statements: dict[tuple[str, str], Any] = {}

    # -- names and statements ----------------------------------------------------------------------------

    def ident(self, name: str) -> Any:
        return sql.Identifier(self.schema, name) if self.postgres else f'"{name}"'

    def _sql(self, template: str, **names: Any) -> Any:
        if self.postgres:
            return sql.SQL(template).format(**names)
        return template.format(**names).replace("%s", "?")

    def create(self, spec: TableSpec, suffix: str = "", *, indexes: bool = True, primary_key: bool = True) -> None:
        """Creates the table (and, unless told not to, its indexes and primary key) if missing. A table made
        without its primary key (PostgreSQL only) gets it from create_indexes(..., primary_key=True)."""
        columns = ", ".join(f'"{c.name}" {c.postgres_type if self.postgres else c.sqlite_type}' for c in spec.columns)
        key = ", ".join(f'"{k}"' for k in spec.key)
        constraint = f", PRIMARY KEY ({key})" if primary_key or not self.postgres else ""
        with self.datastore.transaction(commit=True) as cursor:
            cursor.execute(
                self._sql(
                    f"CREATE TABLE IF NOT EXISTS {{t}} ({columns}{constraint})",
                    t=self.ident(spec.name + suffix),
                )
            )
            for index in spec.indexes if indexes else ():
                index_name = f"{spec.name}{suffix}_{'_'.join(index)}"
                cols = ", ".join(f'"{c}"' for c in index)
                cursor.execute(
                    self._sql(
                        f"CREATE INDEX IF NOT EXISTS {{i}} ON {{t}} ({cols})",
                        i=sql.Identifier(index_name) if self.postgres else f'"{index_name}"',
                        t=self.ident(spec.name + suffix),
                    )
                )

    def create_indexes(self, spec: TableSpec, suffix: str = "", *, primary_key: bool = False) -> None:
        """Adds the table's secondary indexes (a rebuild loads its rows first: faster than index upkeep), and with
        `primary_key` its primary key (a table made without it: built in one sort rather than row by row)."""
        if primary_key and self.postgres:
            key = ", ".join(f'"{k}"' for k in spec.key)
            with self.datastore.transaction(commit=True) as cursor:
                cursor.execute(
                    self._sql(f"ALTER TABLE {{t}} ADD PRIMARY KEY ({key})", t=self.ident(spec.name + suffix))
                )
        self.create(spec, suffix)

    def drop(self, spec: TableSpec, suffix: str = "") -> None:
        with self.datastore.transaction(commit=True) as cursor:
            cursor.execute(self._sql("DROP TABLE IF EXISTS {t}", t=self.ident(spec.name + suffix)))

    def retire(self, tables: Sequence[str], projections: Sequence[str]) -> None:
        """Drops the tables of retired projections (and their rebuild twins) and forgets their positions and
        failures, so no table is left that nobody keeps up to date."""
        with self.transaction() as cursor:
            for table in tables:
                for name in (table, table + REBUILD_SUFFIX):
                    cursor.execute(self._sql("DROP TABLE IF EXISTS {t}", t=self.ident(name)))
            for projection in projections:
                for name in (projection, projection + REBUILD_SUFFIX):
                    self.forget(cursor, name)
            if projections:
                marks = ", ".join("%s" for _ in projections)
                cursor.execute(
                    self._sql(f'DELETE FROM {{t}} WHERE "projection" IN ({marks})', t=self.ident(STATUS_TABLE)),
                    tuple(projections),
                )

    def position(self, name: str, cursor: Any = None) -> int:
        """How far the projection `name` has processed the log (0: nothing yet). Inside a transaction, pass its
        cursor: asking the pool for a second connection while holding one can wait for ever."""
        if cursor is None:
            return int(self.tracking.max_tracking_id(name) or 0)
        return int(self.tracking._max_tracking_id(name, cursor) or 0)

    def head(self) -> int:
        """The log's last position."""
        with self.datastore.transaction(commit=False) as cursor:
            cursor.execute(self._max_position_sql())
            row = cursor.fetchone()
        found = (row["max"] if self.postgres else row[0]) if row else None
        return int(found or 0)

    def _max_position_sql(self) -> Any:
        if self.postgres:
            return self._sql("SELECT MAX(notification_id) AS max FROM {t}", t=self.ident(self.events_table))
        return 'SELECT MAX(rowid) FROM "stored_events"'

    def read_events(self, after: int, limit: int, cursor: Any = None) -> list[StoredEvent]:
        """Case events after `after`, in log order (read straight from the event table, decoded lightly)."""
        if self.postgres:
            query = self._sql(
                "SELECT notification_id, originator_id, topic, state FROM {t}"
                " WHERE notification_id > %s ORDER BY notification_id LIMIT %s",
                t=self.ident(self.events_table),
            )
        else:
            query = (
                'SELECT rowid, originator_id, topic, state FROM "stored_events" WHERE rowid > ? ORDER BY rowid LIMIT ?'
            )
        if cursor is None:
            with self.datastore.transaction(commit=False) as own:
                rows = self._tuples(own, query, (after, limit))
        else:
            rows = self._tuples(cursor, query, (after, limit))
        events: list[StoredEvent] = []
        for position, originator, topic, state in rows:
            try:
                event = decode(int(position), originator, str(topic), bytes(state))
            except Exception as error:  # any row the projections cannot read: named by position, not content
                raise UndecodableEvent(int(position), reason_of(error), events) from error
            if event is not None:
                events.append(event)
        return events

    def _tuples(self, cursor: Any, query: Any, params: tuple[Any, ...]) -> list[tuple[Any, ...]]:
        """Rows as plain tuples (the library's PostgreSQL cursors make dicts, which cost more per row)."""
        if not self.postgres:
            cursor.execute(query, params)
            return [tuple(r) for r in cursor.fetchall()]
        factory = cursor.row_factory
        cursor.row_factory = tuple_row
        try:
            cursor.execute(query, params)
            return list(cursor.fetchall())
        finally:
            cursor.row_factory = factory

    # -- writing -----------------------------------------------------------------------------------------

    @contextmanager
    def transaction(self, *, durable: bool = True) -> Iterator[Any]:
        """One transaction for a batch: every projection's rows and positions commit together, or none.
        `durable=False` skips waiting for the flush: for rebuild batches, which a crash throws away anyway."""
        with self.datastore.transaction(commit=True) as cursor:
            if self.postgres and not durable:
                cursor.execute("SET LOCAL synchronous_commit = off")
            if self.postgres:
                # Batches and rebuild swaps of different processes take turns.
                cursor.execute("SELECT pg_advisory_xact_lock(hashtext('samverkan.projections'))")
            yield cursor

    def track(self, cursor: Any, name: str, position: int) -> None:
        """Records the projection's new position in the same transaction as its rows."""
        self.tracking._insert_tracking(cursor, Tracking(name, position))
        # commit a tracking record inside a view's own transaction

    def apply(
        self,
        cursor: Any,
        specs: dict[str, TableSpec],
        suffix: str,
        operations: Sequence[Operation],
        *,
        copy_tables: frozenset[str] = frozenset(),
    ) -> None:
        """Executes the operations in order, each run of like statements as one executemany.

        For tables in `copy_tables` (fresh tables being rebuilt, where an upsert is always a new row) the
        upserts are loaded first with COPY on PostgreSQL: the updates and deletes of the same batch only touch
        rows inserted before them, so the order is kept."""
        if copy_tables and self.postgres:
            copied: dict[str, list[tuple[Any, ...]]] = {}
            rest: list[Operation] = []
            for operation in operations:
                if isinstance(operation, Upsert) and operation.table in copy_tables:
                    copied.setdefault(operation.table, []).append(operation.row)
                else:
                    rest.append(operation)
            for table, rows in copied.items():
                spec = specs[table]
                columns = sql.SQL(", ").join(sql.Identifier(c) for c in spec.column_names)
                statement = sql.SQL("COPY {t} ({c}) FROM STDIN").format(t=self.ident(table + suffix), c=columns)
                with cursor.copy(statement) as copy:
                    for row in rows:
                        copy.write_row(row)
            operations = rest
        run: list[Any] = []
        statement: Any = None
        for operation in operations:
            current, params = self._statement(specs[operation.table], suffix, operation)
            if statement is not None and current is not statement:
                cursor.executemany(statement, run)
                run = []
            statement = current
            run.append(params)
        if run:
            cursor.executemany(statement, run)

    def _statement(self, spec: TableSpec, suffix: str, operation: Operation) -> tuple[Any, tuple[Any, ...]]:
        if isinstance(operation, Upsert):
            return self._cached(("upsert", spec.name, suffix), spec, suffix), operation.row
        if isinstance(operation, Update):
            columns = tuple(c for c, _ in operation.values)
            statement = self._cached(("update", spec.name, suffix, columns), spec, suffix)
            return statement, (*(v for _, v in operation.values), *operation.key)
        return self._cached(("delete", spec.name, suffix, operation.column), spec, suffix), (operation.value,)

    def _cached(self, key: tuple[Any, ...], spec: TableSpec, suffix: str) -> Any:
        # Built once per table and shape; executemany groups runs by statement identity.
        found = self._statements.get(key)
        if found is not None:
            return found
        kind = key[0]
        if kind == "upsert":
            names = spec.column_names
            columns = ", ".join(f'"{c}"' for c in names)
            marks = ", ".join("%s" for _ in names)
            if self.postgres:
                keys = ", ".join(f'"{k}"' for k in spec.key)
                updates = ", ".join(f'"{c}" = EXCLUDED."{c}"' for c in names if c not in spec.key)
                template = (
                    f"INSERT INTO {{t}} ({columns}) VALUES ({marks}) ON CONFLICT ({keys}) DO UPDATE SET {updates}"
                )
            else:
                template = f"INSERT OR REPLACE INTO {{t}} ({columns}) VALUES ({marks})"
        elif kind == "update":
            sets = ", ".join(f'"{c}" = %s' for c in key[3])
            where = " AND ".join(f'"{k}" = %s' for k in spec.key)
            template = f"UPDATE {{t}} SET {sets} WHERE {where}"
        else:
            template = f'DELETE FROM {{t}} WHERE "{key[3]}" = %s'
        found = self._sql(template, t=self.ident(spec.name + suffix))
        self._statements[key] = found
        return found

    def select(
        self, spec: TableSpec, suffix: str, where: str, params: Sequence[Any], cursor: Any = None
    ) -> list[dict[str, Any]]:
        """Rows of a projection table as dicts (`where` uses %s marks)."""
        columns = ", ".join(f'"{c}"' for c in spec.column_names)
        query = self._sql(f"SELECT {columns} FROM {{t}} WHERE {where}", t=self.ident(spec.name + suffix))
        if cursor is None:
            with self.datastore.transaction(commit=False) as own:
                own.execute(query, tuple(params))
                rows = own.fetchall()
        else:
            cursor.execute(query, tuple(params))
            rows = cursor.fetchall()
        return [dict(r) if self.postgres else dict(zip(spec.column_names, r, strict=True)) for r in rows]

    def swap(self, cursor: Any, spec: TableSpec, suffix: str) -> None:
        """Replaces the live table by its rebuilt twin (inside the caller's transaction)."""
        live, fresh = self.ident(spec.name), self.ident(spec.name + suffix)
        cursor.execute(self._sql("DROP TABLE IF EXISTS {t}", t=live))
        if self.postgres:
            cursor.execute(self._sql("ALTER TABLE {f} RENAME TO {n}", f=fresh, n=sql.Identifier(spec.name)))
            for index in spec.indexes:
                old = f"{spec.name}{suffix}_{'_'.join(index)}"
                new = f"{spec.name}_{'_'.join(index)}"
                cursor.execute(
                    self._sql(
                        "ALTER INDEX {o} RENAME TO {n}", o=sql.Identifier(self.schema, old), n=sql.Identifier(new)
                    )
                )
        else:
            cursor.execute(f'ALTER TABLE "{spec.name + suffix}" RENAME TO "{spec.name}"')
            for index in spec.indexes:
                cursor.execute(f'DROP INDEX IF EXISTS "{spec.name}{suffix}_{"_".join(index)}"')
                cols = ", ".join(f'"{c}"' for c in index)
                cursor.execute(f'CREATE INDEX IF NOT EXISTS "{spec.name}_{"_".join(index)}" ON "{spec.name}" ({cols})')

    # -- failures ----------------------------------------------------------------------------------------------

    def _create_status_table(self) -> None:
        # Written by whichever runner fails (in process, or `samverkan projections run`), read by /health.
        types = ("bigint", "text", "integer") if self.postgres else ("INTEGER", "TEXT", "INTEGER")
        with self.datastore.transaction(commit=True) as cursor:
            cursor.execute(
                self._sql(
                    f'CREATE TABLE IF NOT EXISTS {{t}} ("projection" {types[1]} PRIMARY KEY,'
                    f' "position" {types[0]} NOT NULL, "reason" {types[1]} NOT NULL, "since" {types[1]} NOT NULL,'
                    f' "attempts" {types[2]} NOT NULL, "updated_at" {types[1]} NOT NULL)',
                    t=self.ident(STATUS_TABLE),
                )
            )

    def record_failure(self, failure: dict[str, Any]) -> None:
        """Records (or updates) that a projection (or "all") cannot go on past a position, and why. Another
        failure at the same position, by any runner, keeps the first `since` and counts on."""
        columns = ", ".join(f'"{c}"' for c in STATUS_COLUMNS)
        marks = ", ".join("%s" for _ in STATUS_COLUMNS)
        same = 'f."position" = EXCLUDED."position"'
        updates = (
            f'"position" = EXCLUDED."position", "reason" = EXCLUDED."reason", "updated_at" = EXCLUDED."updated_at",'
            f' "since" = CASE WHEN {same} THEN f."since" ELSE EXCLUDED."since" END,'
            f' "attempts" = CASE WHEN {same} THEN f."attempts" + 1 ELSE 1 END'
        )
        with self.datastore.transaction(commit=True) as cursor:
            cursor.execute(
                self._sql(
                    f'INSERT INTO {{t}} AS f ({columns}) VALUES ({marks}) ON CONFLICT ("projection")'
                    f" DO UPDATE SET {updates}",
                    t=self.ident(STATUS_TABLE),
                ),
                tuple(failure[c] for c in STATUS_COLUMNS),
            )

    def clear_failures(self, names: Sequence[str]) -> None:
        """Forgets the recorded failures of these projections (they went on)."""
        if not names:
            return
        marks = ", ".join("%s" for _ in names)
        with self.datastore.transaction(commit=True) as cursor:
            cursor.execute(
                self._sql(f'DELETE FROM {{t}} WHERE "projection" IN ({marks})', t=self.ident(STATUS_TABLE)),
                tuple(names),
            )

    def failures(self) -> list[dict[str, Any]]:
        """The recorded failures, as written (some may be behind a projection that has since gone on)."""
        columns = ", ".join(f'"{c}"' for c in STATUS_COLUMNS)
        query = self._sql(f'SELECT {columns} FROM {{t}} ORDER BY "position"', t=self.ident(STATUS_TABLE))
        with self.datastore.transaction(commit=False) as cursor:
            rows = self._tuples(cursor, query, ())
        return [dict(zip(STATUS_COLUMNS, row, strict=True)) for row in rows]

    def forget(self, cursor: Any, name: str) -> None:
        """Removes a projection's tracking record (a rebuild that starts over)."""
        if self.postgres:
            cursor.execute(
                self._sql("DELETE FROM {t} WHERE application_name = %s", t=self.ident(TRACKING_TABLE)), (name,)
            )
        else:
            cursor.execute("DELETE FROM tracking WHERE application_name = ?", (name,))
