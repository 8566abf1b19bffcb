"""Two database roles on PostgreSQL (adapters/migrate.py): `samverkan migrate` runs as the owner and makes the
disclosure log's tables and triggers; the service connects as a role that can insert into and read the log but not
switch its triggers off, truncate, update or delete it. The test makes its own database and roles and removes them."""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from urllib.parse import urlparse

import psycopg
import pytest
from psycopg import sql
from typer.testing import CliRunner

from adapters.cli import _cli_granskare
from adapters.cli import app as cli_app
from adapters.disclosure_log import DisclosureLog
from adapters.read_service import open_read_service
from adapters.settings import Settings
from adapters.storage import open_storage
from tests.conftest import PG_URL, fixed_keys, require_postgres
from tests.integration.test_disclosure_log import fill

pytestmark = pytest.mark.postgres


@dataclass(frozen=True)
class Cluster:
    database: str
    owner: str
    service: str

    def url(self, role: str) -> str:
        server = urlparse(PG_URL)
        return f"postgresql://{role}@{server.hostname or '127.0.0.1'}:{server.port or 5432}/{self.database}"


@pytest.fixture
def roles() -> Iterator[Cluster]:
    """A database of its own, owned by a fresh owner role, and a fresh service role; all dropped afterwards."""
    require_postgres()
    tag = uuid.uuid4().hex[:10]
    made = Cluster(f"t_roles_{tag}", f"t_owner_{tag}", f"t_service_{tag}")
    with psycopg.connect(PG_URL, autocommit=True) as admin:
        for role in (made.owner, made.service):
            admin.execute(sql.SQL("CREATE ROLE {} LOGIN").format(sql.Identifier(role)))
        admin.execute(sql.SQL("CREATE DATABASE {} OWNER {}").format(*map(sql.Identifier, (made.database, made.owner))))
    try:
        yield made
    finally:
        with psycopg.connect(PG_URL, autocommit=True) as admin:
            admin.execute(sql.SQL("DROP DATABASE IF EXISTS {} WITH (FORCE)").format(sql.Identifier(made.database)))
            for role in (made.service, made.owner):
                admin.execute(sql.SQL("DROP ROLE IF EXISTS {}").format(sql.Identifier(role)))


def refused(url: str, statement: str) -> str:
    """Runs `statement` as the role of `url`; returns the error's message (fails if it was allowed)."""
    with psycopg.connect(url, autocommit=True) as conn:
        try:
            conn.execute(statement)
        except psycopg.Error as error:
            return str(error)
    pytest.fail(f"allowed: {statement}")


def test_the_service_role_inserts_and_reads_the_log_but_cannot_disable_truncate_or_change_it(roles: Cluster) -> None:
    keys = {f"SAMVERKAN_{name.upper()}": value for name, value in fixed_keys().items()}
    migrated = CliRunner().invoke(
        cli_app,
        ["migrate", "--service-role", roles.service],
        env={**keys, "SAMVERKAN_DATABASE_URL": roles.url(roles.owner), "SAMVERKAN_KEY_FILE": "/nonexistent/keys"},
    )
    assert migrated.exit_code == 0, migrated.output
    assert "migrated schema public" in migrated.stdout

    # The service, as the service role: makes its own tables, appends and reads the log, verifies it.
    settings = Settings.model_validate({"database_url": roles.url(roles.service), **fixed_keys()})
    with open_storage(settings) as storage:
        log = DisclosureLog(storage.service.factory.datastore)  # type: ignore[attr-defined]
        fill(log, 5)
        assert log.verify().as_dict() == {"ok": True, "entries": 5}
        result = open_read_service(storage, settings).verify(_cli_granskare())
        assert (result.ok, result.entries) == (True, 5)
        assert log.head()[0] == 6  # the verify itself was logged

    service = roles.url(roles.service)
    for statement in (
        "ALTER TABLE disclosure_log DISABLE TRIGGER ALL",
        "ALTER TABLE disclosure_log DISABLE TRIGGER disclosure_log_no_change",
        "ALTER TABLE disclosure_log_subjects DISABLE TRIGGER ALL",
        "DROP TRIGGER disclosure_log_no_change ON disclosure_log",
        "DROP TABLE disclosure_log",
        "TRUNCATE disclosure_log",
        "TRUNCATE disclosure_log_subjects",
        "CREATE OR REPLACE FUNCTION disclosure_log_append_only() RETURNS trigger LANGUAGE plpgsql"
        " AS $$ BEGIN RETURN OLD; END $$",
    ):
        message = refused(service, statement)
        assert "must be owner" in message or "permission denied" in message, (statement, message)
    for statement in ("UPDATE disclosure_log SET body = '{}' WHERE seq = 1", "DELETE FROM disclosure_log"):
        assert "permission denied" in refused(service, statement)

    # The owner still can (that is what migrations are for; keep its credentials away from the service).
    with psycopg.connect(roles.url(roles.owner), autocommit=True) as owner:
        owner.execute("ALTER TABLE disclosure_log DISABLE TRIGGER ALL")
        owner.execute("ALTER TABLE disclosure_log ENABLE TRIGGER ALL")
        count = owner.execute("SELECT count(*) FROM disclosure_log").fetchone()
        assert count is not None and count[0] == 6

    # A second migration (an upgrade) leaves the log and the rights as they are.
    again = CliRunner().invoke(
        cli_app,
        ["migrate", "--service-role", roles.service],
        env={**keys, "SAMVERKAN_DATABASE_URL": roles.url(roles.owner), "SAMVERKAN_KEY_FILE": "/nonexistent/keys"},
    )
    assert again.exit_code == 0, again.output
    assert "permission denied" in refused(service, "TRUNCATE disclosure_log")
    with open_storage(settings) as storage:
        log = DisclosureLog(storage.service.factory.datastore)  # type: ignore[attr-defined]
        fill(log, 1)
        assert log.verify().as_dict() == {"ok": True, "entries": 7}


def test_migrate_names_a_service_role_that_does_not_exist(roles: Cluster) -> None:
    keys = {f"SAMVERKAN_{name.upper()}": value for name, value in fixed_keys().items()}
    result = CliRunner().invoke(
        cli_app,
        ["migrate", "--service-role", "t_nobody_here"],
        env={**keys, "SAMVERKAN_DATABASE_URL": roles.url(roles.owner), "SAMVERKAN_KEY_FILE": "/nonexistent/keys"},
    )
    assert result.exit_code == 2
    assert "does not exist" in result.output
