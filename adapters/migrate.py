"""`samverkan migrate`: the disclosure log's tables and triggers, made by the database's owner role, and the rights of
the role the service connects as (docs/audit.md, "Database roles").

The service role may insert into and read the log (and move its head); it does not own the log's tables, so it
cannot disable their triggers, alter or drop them, and it is given no UPDATE, DELETE or TRUNCATE on them. Everything
else (the event store, the key store, the projections) the service creates and owns itself, as before.
"""

from __future__ import annotations

import psycopg
from eventsourcing.postgres import PostgresDatastore
from psycopg import sql

from adapters.disclosure_log import DisclosureLog
from adapters.settings import Settings
from adapters.storage import DatabaseTarget, parse_database_url, schema_lock

LOG_TABLES = ("disclosure_log", "disclosure_log_subjects")
HEAD_TABLE = "disclosure_log_head"


class MigrateError(RuntimeError):
    """The migration cannot run as asked; the message says why."""


def migrate(settings: Settings, service_role: str | None) -> str:
    """Creates (or updates) the log's tables and triggers as the role of SAMVERKAN_DATABASE_URL (the owner) and
    grants `service_role` what the service needs. Returns the schema migrated."""
    target = parse_database_url(settings.database_url)
    if target.engine != "postgres":
        raise MigrateError("samverkan migrate is for PostgreSQL; on SQLite the service creates its tables itself")
    schema = target.schema or "public"
    with schema_lock(target, settings):  # creates the database when new, and takes turns with starting services
        datastore = PostgresDatastore(
            target.dbname,
            target.host,
            target.port,
            target.user,
            target.password,
            schema=schema,
            connect_timeout=settings.db_connect_timeout_s,
        )
        try:
            if schema != "public":
                with datastore.transaction(commit=True) as cursor:
                    cursor.execute(sql.SQL("CREATE SCHEMA IF NOT EXISTS {}").format(sql.Identifier(schema)))
            DisclosureLog(datastore)  # the tables, the function and the triggers, owned by this role
        finally:
            datastore.close()
    if service_role:
        _grant(target, settings, schema, service_role)
    return schema


def _grant(target: DatabaseTarget, settings: Settings, schema: str, role: str) -> None:
    params: dict[str, object] = {"host": target.host, "port": target.port, "user": target.user, "dbname": target.dbname}
    if target.password:
        params["password"] = target.password
    who = sql.Identifier(role)
    names = {name: sql.Identifier(schema, name) for name in (*LOG_TABLES, HEAD_TABLE)}
    statements = [
        # The service makes its own tables (events, keys, projections) in the schema; CREATE SCHEMA IF NOT EXISTS,
        # which it runs at start, needs CREATE on the database.
        sql.SQL("GRANT CONNECT, CREATE ON DATABASE {} TO {}").format(sql.Identifier(target.dbname), who),
        sql.SQL("GRANT USAGE, CREATE ON SCHEMA {} TO {}").format(sql.Identifier(schema), who),
        *(sql.SQL("REVOKE ALL ON {} FROM {}").format(names[name], who) for name in (*LOG_TABLES, HEAD_TABLE)),
        *(sql.SQL("GRANT SELECT, INSERT ON {} TO {}").format(names[name], who) for name in LOG_TABLES),
        sql.SQL("GRANT SELECT, UPDATE ON {} TO {}").format(names[HEAD_TABLE], who),
    ]
    try:
        with (
            psycopg.connect(**params, connect_timeout=settings.db_connect_timeout_s, autocommit=True) as conn,  # type: ignore[arg-type]
            conn.transaction(),
        ):
            for statement in statements:
                conn.execute(statement)
    except psycopg.errors.UndefinedObject as missing:
        raise MigrateError(f"the service role {role!r} does not exist: create it first ({missing})") from None
