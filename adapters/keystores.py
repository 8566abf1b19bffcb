"""Key stores for the vault: one table beside the event store, in the same database and connection pool."""

from __future__ import annotations

import sqlite3
import threading
from datetime import UTC, datetime
from uuid import UUID

import psycopg
from eventsourcing.persistence import IntegrityError
from eventsourcing.postgres import PostgresDatastore
from eventsourcing.sqlite import SQLiteDatastore
from psycopg import sql

from adapters.vault import ERASED_KEY, LookupTaken


class MemoryKeyStore:
    """Keeps keys in this process only: for the in-memory mode used by quick unit tests."""

    def __init__(self) -> None:
        self._rows: dict[UUID, tuple[str, bytes, str]] = {}
        self._party_rows: dict[tuple[UUID, str], bytes] = {}
        self._lock = threading.Lock()

    def insert(self, participant_id: UUID, lookup_hash: str, wrapped_key: bytes, master_key_id: str) -> None:
        with self._lock:
            for existing_id, (existing_hash, _, _) in self._rows.items():
                if existing_hash == lookup_hash:
                    raise LookupTaken(existing_id)
            self._rows[participant_id] = (lookup_hash, wrapped_key, master_key_id)

    def wrapped_key(self, participant_id: UUID) -> tuple[bytes, str] | None:
        row = self._rows.get(participant_id)
        return None if row is None else (row[1], row[2])

    def find(self, lookup_hash: str) -> UUID | None:
        return next((pid for pid, row in self._rows.items() if row[0] == lookup_hash), None)

    def set_lookup(self, participant_id: UUID, lookup_hash: str) -> None:
        with self._lock:
            existing = next((pid for pid, row in self._rows.items() if row[0] == lookup_hash), None)
            if existing is not None and existing != participant_id:
                raise LookupTaken(existing)
            _, wrapped, key_id = self._rows[participant_id]
            self._rows[participant_id] = (lookup_hash, wrapped, key_id)

    def delete(self, participant_id: UUID) -> None:
        with self._lock:
            self._rows.pop(participant_id, None)
            for key in [k for k in self._party_rows if k[0] == participant_id]:
                del self._party_rows[key]

    def party_key(self, participant_id: UUID, party: str) -> bytes | None:
        return self._party_rows.get((participant_id, party))

    def insert_party_key(self, participant_id: UUID, party: str, wrapped_key: bytes) -> None:
        with self._lock:
            self._party_rows.setdefault((participant_id, party), wrapped_key)

    def erase_party_key(self, participant_id: UUID, party: str) -> None:
        with self._lock:
            self._party_rows[(participant_id, party)] = ERASED_KEY


class SQLiteKeyStore:
    """The participant_keys table in the SQLite file."""

    def __init__(self, datastore: SQLiteDatastore) -> None:
        self.datastore = datastore
        with self.datastore.transaction(commit=True) as cursor:
            cursor.execute(
                "CREATE TABLE IF NOT EXISTS participant_keys ("
                " participant_id TEXT PRIMARY KEY,"
                " lookup_hash TEXT NOT NULL UNIQUE,"
                " wrapped_key BLOB NOT NULL,"
                " master_key_id TEXT NOT NULL,"
                " created_at TEXT NOT NULL)"
            )
            # A party's key per participant, wrapped by the participant's data key (docs/retention.md). Made on an
            # existing database at the next start; an erased one keeps its row with an empty key (ERASED_KEY).
            cursor.execute(
                "CREATE TABLE IF NOT EXISTS participant_party_keys ("
                " participant_id TEXT NOT NULL,"
                " party TEXT NOT NULL,"
                " wrapped_key BLOB NOT NULL,"
                " created_at TEXT NOT NULL,"
                " erased_at TEXT,"
                " PRIMARY KEY (participant_id, party))"
            )

    def insert(self, participant_id: UUID, lookup_hash: str, wrapped_key: bytes, master_key_id: str) -> None:
        try:
            with self.datastore.transaction(commit=True) as cursor:
                cursor.execute(
                    "INSERT INTO participant_keys VALUES (?, ?, ?, ?, ?)",
                    (str(participant_id), lookup_hash, wrapped_key, master_key_id, datetime.now(UTC).isoformat()),
                )
        except (IntegrityError, sqlite3.IntegrityError):
            existing = self.find(lookup_hash)
            if existing is None:
                raise
            raise LookupTaken(existing) from None

    def wrapped_key(self, participant_id: UUID) -> tuple[bytes, str] | None:
        with self.datastore.transaction(commit=False) as cursor:
            cursor.execute(
                "SELECT wrapped_key, master_key_id FROM participant_keys WHERE participant_id = ?",
                (str(participant_id),),
            )
            row = cursor.fetchone()
        return None if row is None else (bytes(row[0]), str(row[1]))

    def find(self, lookup_hash: str) -> UUID | None:
        with self.datastore.transaction(commit=False) as cursor:
            cursor.execute("SELECT participant_id FROM participant_keys WHERE lookup_hash = ?", (lookup_hash,))
            row = cursor.fetchone()
        return None if row is None else UUID(row[0])

    def set_lookup(self, participant_id: UUID, lookup_hash: str) -> None:
        try:
            with self.datastore.transaction(commit=True) as cursor:
                cursor.execute(
                    "UPDATE participant_keys SET lookup_hash = ? WHERE participant_id = ?",
                    (lookup_hash, str(participant_id)),
                )
        except (IntegrityError, sqlite3.IntegrityError):
            existing = self.find(lookup_hash)
            if existing is None:
                raise
            raise LookupTaken(existing) from None

    def delete(self, participant_id: UUID) -> None:
        with self.datastore.transaction(commit=True) as cursor:
            # Overwrite the freed pages, so the wrapped key cannot be recovered from the file.
            cursor.execute("PRAGMA secure_delete = ON")
            cursor.execute("DELETE FROM participant_keys WHERE participant_id = ?", (str(participant_id),))
            cursor.execute("DELETE FROM participant_party_keys WHERE participant_id = ?", (str(participant_id),))

    def party_key(self, participant_id: UUID, party: str) -> bytes | None:
        with self.datastore.transaction(commit=False) as cursor:
            cursor.execute(
                "SELECT wrapped_key FROM participant_party_keys WHERE participant_id = ? AND party = ?",
                (str(participant_id), party),
            )
            row = cursor.fetchone()
        return None if row is None else bytes(row[0])

    def insert_party_key(self, participant_id: UUID, party: str, wrapped_key: bytes) -> None:
        with self.datastore.transaction(commit=True) as cursor:
            cursor.execute(
                "INSERT INTO participant_party_keys (participant_id, party, wrapped_key, created_at)"
                " VALUES (?, ?, ?, ?) ON CONFLICT (participant_id, party) DO NOTHING",
                (str(participant_id), party, wrapped_key, datetime.now(UTC).isoformat()),
            )

    def erase_party_key(self, participant_id: UUID, party: str) -> None:
        now = datetime.now(UTC).isoformat()
        with self.datastore.transaction(commit=True) as cursor:
            cursor.execute("PRAGMA secure_delete = ON")  # the old key's bytes are overwritten in the file
            cursor.execute(
                "INSERT INTO participant_party_keys (participant_id, party, wrapped_key, created_at, erased_at)"
                " VALUES (?, ?, ?, ?, ?) ON CONFLICT (participant_id, party)"
                " DO UPDATE SET wrapped_key = excluded.wrapped_key, erased_at = excluded.erased_at",
                (str(participant_id), party, ERASED_KEY, now, now),
            )


class PostgresKeyStore:
    """The participant_keys table in the PostgreSQL schema of the event store."""

    def __init__(self, datastore: PostgresDatastore) -> None:
        self.datastore = datastore
        self.table = sql.Identifier(datastore.schema, "participant_keys")
        self.party_table = sql.Identifier(datastore.schema, "participant_party_keys")
        with self.datastore.transaction(commit=True) as cursor:
            cursor.execute(
                sql.SQL(
                    "CREATE TABLE IF NOT EXISTS {} ("
                    " participant_id uuid PRIMARY KEY,"
                    " lookup_hash text NOT NULL UNIQUE,"
                    " wrapped_key bytea NOT NULL,"
                    " master_key_id text NOT NULL,"
                    " created_at timestamptz NOT NULL DEFAULT now())"
                ).format(self.table)
            )
            # A party's key per participant (docs/retention.md): made on an existing database at the next start.
            cursor.execute(
                sql.SQL(
                    "CREATE TABLE IF NOT EXISTS {} ("
                    " participant_id uuid NOT NULL,"
                    " party text NOT NULL,"
                    " wrapped_key bytea NOT NULL,"
                    " created_at timestamptz NOT NULL DEFAULT now(),"
                    " erased_at timestamptz,"
                    " PRIMARY KEY (participant_id, party))"
                ).format(self.party_table)
            )

    def insert(self, participant_id: UUID, lookup_hash: str, wrapped_key: bytes, master_key_id: str) -> None:
        try:
            with self.datastore.transaction(commit=True) as cursor:
                cursor.execute(
                    sql.SQL(
                        "INSERT INTO {} (participant_id, lookup_hash, wrapped_key, master_key_id)"
                        " VALUES (%s, %s, %s, %s)"
                    ).format(self.table),
                    (participant_id, lookup_hash, wrapped_key, master_key_id),
                )
        except (IntegrityError, psycopg.errors.UniqueViolation):
            existing = self.find(lookup_hash)
            if existing is None:
                raise
            raise LookupTaken(existing) from None

    def wrapped_key(self, participant_id: UUID) -> tuple[bytes, str] | None:
        with self.datastore.transaction(commit=False) as cursor:
            cursor.execute(
                sql.SQL("SELECT wrapped_key, master_key_id FROM {} WHERE participant_id = %s").format(self.table),
                (participant_id,),
            )
            row = cursor.fetchone()
        return None if row is None else (bytes(row["wrapped_key"]), str(row["master_key_id"]))

    def find(self, lookup_hash: str) -> UUID | None:
        with self.datastore.transaction(commit=False) as cursor:
            cursor.execute(
                sql.SQL("SELECT participant_id FROM {} WHERE lookup_hash = %s").format(self.table), (lookup_hash,)
            )
            row = cursor.fetchone()
        return None if row is None else UUID(str(row["participant_id"]))

    def set_lookup(self, participant_id: UUID, lookup_hash: str) -> None:
        try:
            with self.datastore.transaction(commit=True) as cursor:
                cursor.execute(
                    sql.SQL("UPDATE {} SET lookup_hash = %s WHERE participant_id = %s").format(self.table),
                    (lookup_hash, participant_id),
                )
        except (IntegrityError, psycopg.errors.UniqueViolation):
            existing = self.find(lookup_hash)
            if existing is None:
                raise
            raise LookupTaken(existing) from None

    def delete(self, participant_id: UUID) -> None:
        with self.datastore.transaction(commit=True) as cursor:
            cursor.execute(sql.SQL("DELETE FROM {} WHERE participant_id = %s").format(self.table), (participant_id,))
            cursor.execute(
                sql.SQL("DELETE FROM {} WHERE participant_id = %s").format(self.party_table), (participant_id,)
            )

    def party_key(self, participant_id: UUID, party: str) -> bytes | None:
        with self.datastore.transaction(commit=False) as cursor:
            cursor.execute(
                sql.SQL("SELECT wrapped_key FROM {} WHERE participant_id = %s AND party = %s").format(self.party_table),
                (participant_id, party),
            )
            row = cursor.fetchone()
        return None if row is None else bytes(row["wrapped_key"])

    def insert_party_key(self, participant_id: UUID, party: str, wrapped_key: bytes) -> None:
        with self.datastore.transaction(commit=True) as cursor:
            cursor.execute(
                sql.SQL(
                    "INSERT INTO {} (participant_id, party, wrapped_key) VALUES (%s, %s, %s)"
                    " ON CONFLICT (participant_id, party) DO NOTHING"
                ).format(self.party_table),
                (participant_id, party, wrapped_key),
            )

    def erase_party_key(self, participant_id: UUID, party: str) -> None:
        with self.datastore.transaction(commit=True) as cursor:
            cursor.execute(
                sql.SQL(
                    "INSERT INTO {} (participant_id, party, wrapped_key, erased_at) VALUES (%s, %s, %s, now())"
                    " ON CONFLICT (participant_id, party)"
                    " DO UPDATE SET wrapped_key = excluded.wrapped_key, erased_at = excluded.erased_at"
                ).format(self.party_table),
                (participant_id, party, ERASED_KEY),
            )
