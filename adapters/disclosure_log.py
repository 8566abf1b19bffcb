"""The disclosure log: an append-only, hash-chained record of every disclosure and refusal.

Each entry's `hash` is SHA-256 over its canonical JSON encoding, which includes `seq` and the previous entry's
hash (`prev_hash`). Appends are serialised on a one-row head table (row lock on PostgreSQL, the write lock on
SQLite), so the chain never forks; the primary key on `seq` would refuse a fork anyway. On PostgreSQL a process
chains its next batch to the head it last wrote and writes it in one statement that moves the head only if it is
still that one (a compare-and-set under the same row lock; one round trip, committed when it returns); when
another process wrote meanwhile, nothing is written and the batch is chained to the head read under the lock.
UPDATE, DELETE (and on PostgreSQL, TRUNCATE) are refused by triggers in the database itself.
"""

from __future__ import annotations

import hashlib
import json
import threading
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any
from uuid import UUID

from eventsourcing.postgres import PostgresDatastore
from eventsourcing.sqlite import SQLiteDatastore
from psycopg import sql

GENESIS_HASH = "0" * 64
PAGE = 1_000

# Kinds of entry (docs/audit.md lists them with what each records).
VIEW = "view"
VIEW_REFUSED = "view-refused"
OVERVIEW = "overview"
RECONSTRUCTION = "reconstruction"
TIMELINE = "timeline"
CASELOAD = "caseload"
CONSENTS_READ = "consents-read"
SEARCH = "search"
EXTRACT = "extract"
REGISTER_EXTRACT = "register-extract"  # the GDPR art. 15 extract (JSON or PDF) handed out for the participant
RECEIPT = "receipt"  # a consent receipt (JSON or PDF) handed out for the participant
STATISTICS = "statistics"
EXPORT = "export"
MANIFEST = "manifest"
VERIFY = "verify"
RECORDING_REFUSED = "recording-refused"
ERASURE = "erasure"
EMERGENCY_ACCESS = "emergency-access"  # an emergency access opened (or refused: no reason, no note)
REVIEW = "review"  # a granskare drew the review queue for a period (docs/review.md)
REVIEW_MARK = "review-mark"  # a granskare marked an entry reviewed, with an outcome and a sealed comment


@dataclass(frozen=True)
class Disclosed:
    """One item shown to the reader: which event, whose, of what category, under which consent (None: own)."""

    event_id: object  # a UUID, or a stable key for a coordination item
    agency: str
    category: str
    consent_id: UUID | None
    consent_version: int | None

    def as_dict(self) -> dict[str, Any]:
        return {
            "event_id": str(self.event_id),
            "agency": self.agency,
            "category": self.category,
            "consent_id": None if self.consent_id is None else str(self.consent_id),
            "consent_version": self.consent_version,
        }


@dataclass(frozen=True)
class Actor:
    """Who acted: the user id (pseudonymous subject), the user's agency and role. Never a name."""

    user_id: str
    agency: str
    role: str


@dataclass(frozen=True)
class EntryDraft:
    """What a caller appends; the log adds seq, recorded_at, prev_hash and hash."""

    kind: str
    actor: Actor
    request_id: str
    purpose: str
    participant_id: UUID | None = None
    disclosed: Sequence[Disclosed] = ()
    outcome: str = "disclosed"  # disclosed | refused
    reason: str | None = None
    as_of: datetime | None = None
    details: dict[str, Any] = field(default_factory=dict)
    # Further participants one entry is about (a caseload lists many): kept in the hashed body as
    # details["subjects"] and indexed, so each participant's extract finds the entry.
    subjects: Sequence[UUID] = ()


def refused_recording(
    actor: Actor,
    request_id: str,
    purpose: str,
    participant_id: UUID,
    category: str,
    refused: Exception,
    **details: Any,
) -> EntryDraft:
    """The entry for a decision the gate (or the category rule) refused: who tried which category and why,
    never the decision's content."""
    missing = getattr(refused, "missing", None)
    return EntryDraft(
        RECORDING_REFUSED,
        actor,
        request_id,
        purpose,
        participant_id=participant_id,
        outcome="refused",
        reason=str(getattr(refused, "kind", type(refused).__name__)),
        details={"category": category, "missing_grant": None if missing is None else missing.describe(), **details},
    )


def canonical(body: dict[str, Any]) -> bytes:
    """The canonical encoding hashed for an entry: sorted keys, no spaces, UTF-8."""
    return json.dumps(body, sort_keys=True, separators=(",", ":"), ensure_ascii=False).encode()


def entry_hash(body: dict[str, Any]) -> str:
    """SHA-256 over the canonical encoding of an entry without its own hash."""
    return hashlib.sha256(canonical({k: v for k, v in body.items() if k != "hash"})).hexdigest()


def hashed(body: dict[str, Any]) -> str:
    """Adds `hash` to a body built by `build_body` and returns its stored text, `canonical(body)` with the hash,
    encoding the body once: the hash's member goes in just before `"kind"`, the key after it in sorted order
    (the top-level one is the last `,"kind":` of the text, as the members after it are strings and a number, in
    which a quote is always escaped)."""
    text = canonical(body)
    digest = hashlib.sha256(text).hexdigest()
    body["hash"] = digest
    cut = text.rindex(b',"kind":')
    return (text[:cut] + b',"hash":"' + digest.encode() + b'"' + text[cut:]).decode()


def build_body(draft: EntryDraft, seq: int, prev_hash: str, recorded_at: datetime) -> dict[str, Any]:
    """The entry as stored and exported (without `hash`)."""
    return {
        "seq": seq,
        "prev_hash": prev_hash,
        "recorded_at": recorded_at.isoformat(),
        "kind": draft.kind,
        "user_id": draft.actor.user_id,
        "agency": draft.actor.agency,
        "role": draft.actor.role,
        "participant_id": None if draft.participant_id is None else str(draft.participant_id),
        "purpose": draft.purpose,
        "request_id": draft.request_id,
        "outcome": draft.outcome,
        "reason": draft.reason,
        "as_of": None if draft.as_of is None else draft.as_of.isoformat(),
        "disclosed": [d.as_dict() for d in draft.disclosed],
        "categories": sorted({d.category for d in draft.disclosed}),
        "details": {**draft.details, "subjects": [str(s) for s in draft.subjects]} if draft.subjects else draft.details,
    }


@dataclass(frozen=True)
class LogFilter:
    """Which entries an export or a manifest covers."""

    participant_id: UUID | None = None
    agency: str | None = None
    user_id: str | None = None
    since: datetime | None = None
    until: datetime | None = None
    until_seq: int | None = None
    kinds: tuple[str, ...] | None = None  # only entries of these kinds (the review queue's marks)
    after_seq: int | None = None  # only entries after this seq

    def as_dict(self) -> dict[str, Any]:
        described: dict[str, Any] = {
            "participant": None if self.participant_id is None else str(self.participant_id),
            "agency": self.agency,
            "user": self.user_id,
            "from": None if self.since is None else self.since.isoformat(),
            "to": None if self.until is None else self.until.isoformat(),
            "until_seq": self.until_seq,
        }
        if self.kinds is not None:
            described["kinds"] = list(self.kinds)
        if self.after_seq is not None:
            described["after_seq"] = self.after_seq
        return described


@dataclass(frozen=True)
class VerifyResult:
    """The outcome of checking the chain: ok with the number of entries, or the first bad seq and why."""

    ok: bool
    entries: int
    first_bad_seq: int | None = None
    reason: str | None = None
    # What the check against the anchors outside the database found (adapters/anchors.py); None: not checked.
    anchors: dict[str, Any] | None = None

    def as_dict(self) -> dict[str, Any]:
        described: dict[str, Any] = {"ok": True, "entries": self.entries}
        if not self.ok:
            described = {"ok": False, "entries": self.entries, "first_bad_seq": self.first_bad_seq}
            described["reason"] = self.reason
        if self.anchors is not None:
            described["anchors"] = self.anchors
        return described


class ChainChecker:
    """Checks entries one by one, in seq order: each entry's own hash, and the link to the entry before it
    whenever that entry is present (always, for the live log, which must also run 1, 2, 3, ... without gaps;
    in a filtered export, wherever two entries are consecutive)."""

    def __init__(self, *, contiguous: bool = True) -> None:
        self.contiguous = contiguous
        self.count = 0
        self.last_seq = 0
        self.last_hash = GENESIS_HASH
        self.failure: VerifyResult | None = None

    def check(self, body: dict[str, Any], stored_seq: int | None = None) -> bool:
        """Checks one entry (with its `hash`); False, with `failure` set, at the first bad one."""
        seq = body.get("seq")
        where = stored_seq if stored_seq is not None else seq
        if not isinstance(where, int):
            return self._fail(self.last_seq + 1, "an entry has no sequence number")
        if stored_seq is not None and seq != stored_seq:
            return self._fail(stored_seq, f"entry {stored_seq} holds the content of entry {seq} (rows moved)")
        if self.contiguous and where != self.last_seq + 1:
            return self._fail(self.last_seq + 1, f"entry {self.last_seq + 1} is missing (next found: {where})")
        if where <= self.last_seq:
            return self._fail(where, f"entry {where} is out of order")
        if body.get("hash") != entry_hash(body):
            return self._fail(where, f"entry {where} was altered: its hash does not match its content")
        if where == self.last_seq + 1 and body.get("prev_hash") != self.last_hash:
            return self._fail(where, f"entry {where} does not link to entry {where - 1} (prev_hash differs)")
        self.count += 1
        self.last_seq = where
        self.last_hash = str(body["hash"])
        return True

    def _fail(self, seq: int, reason: str) -> bool:
        self.failure = VerifyResult(False, self.count, seq, reason)
        return False

    def result(self) -> VerifyResult:
        return self.failure or VerifyResult(True, self.count)


class DisclosureLog:
    """The log table in the service's database (SQLite or PostgreSQL), sharing the event store's connections."""

    def __init__(self, datastore: SQLiteDatastore | PostgresDatastore) -> None:
        self.datastore = datastore
        self.postgres = isinstance(datastore, PostgresDatastore)
        self._queue: list[_Ticket] = []
        self._queue_lock = threading.Lock()
        self._writing = False
        self._handed_to: threading.Event | None = None
        # The head this process last committed (PostgreSQL): the next batch is chained to it and written with a
        # compare-and-set on the head row, which saves reading the head first; when another process appended
        # meanwhile, the set finds another head, writes nothing, and the batch is chained to the head read then.
        self._known_head: tuple[int, str] | None = None
        self._batch_statements: dict[tuple[int, int], bytes] = {}  # by (rows, subjects)
        if self.postgres:
            assert isinstance(datastore, PostgresDatastore)
            self.schema = datastore.schema
            self._create_postgres()
        else:
            self._create_sqlite()

    # -- schema --------------------------------------------------------------------------------------------

    def _create_sqlite(self) -> None:
        with self.datastore.transaction(commit=True) as cursor:
            cursor.execute(
                "CREATE TABLE IF NOT EXISTS disclosure_log ("
                " seq INTEGER PRIMARY KEY, recorded_at TEXT NOT NULL, kind TEXT NOT NULL,"
                " user_id TEXT NOT NULL, agency TEXT NOT NULL, role TEXT NOT NULL, participant_id TEXT,"
                " body TEXT NOT NULL, prev_hash TEXT NOT NULL, hash TEXT NOT NULL)"
            )
            cursor.execute(
                "CREATE INDEX IF NOT EXISTS disclosure_log_participant ON disclosure_log (participant_id, seq)"
            )
            cursor.execute(
                "CREATE TABLE IF NOT EXISTS disclosure_log_head ("
                " id INTEGER PRIMARY KEY CHECK (id = 1), seq INTEGER NOT NULL, hash TEXT NOT NULL)"
            )
            cursor.execute(f"INSERT OR IGNORE INTO disclosure_log_head VALUES (1, 0, '{GENESIS_HASH}')")  # noqa: S608 - table names and constants only; values are parameters
            cursor.execute(
                "CREATE TABLE IF NOT EXISTS disclosure_log_subjects ("
                " participant_id TEXT NOT NULL, seq INTEGER NOT NULL, PRIMARY KEY (participant_id, seq))"
            )
            for table in ("disclosure_log", "disclosure_log_subjects"):
                for action in ("UPDATE", "DELETE"):
                    cursor.execute(
                        f"CREATE TRIGGER IF NOT EXISTS {table}_no_{action.lower()} BEFORE {action} "
                        f"ON {table} BEGIN SELECT RAISE(ABORT, 'the disclosure log is append-only'); END"
                    )

    def _create_postgres(self) -> None:
        ident = {
            "log": sql.Identifier(self.schema, "disclosure_log"),
            "head": sql.Identifier(self.schema, "disclosure_log_head"),
            "subjects": sql.Identifier(self.schema, "disclosure_log_subjects"),
            "fn": sql.Identifier(self.schema, "disclosure_log_append_only"),
            "idx": sql.Identifier("disclosure_log_participant"),
        }
        statements = [
            "CREATE TABLE IF NOT EXISTS {log} ("
            " seq bigint PRIMARY KEY, recorded_at timestamptz NOT NULL, kind text NOT NULL,"
            " user_id text NOT NULL, agency text NOT NULL, role text NOT NULL, participant_id uuid,"
            " body text NOT NULL, prev_hash text NOT NULL, hash text NOT NULL)",
            "CREATE INDEX IF NOT EXISTS {idx} ON {log} (participant_id, seq)",
            "CREATE TABLE IF NOT EXISTS {head} ("
            " id int PRIMARY KEY CHECK (id = 1), seq bigint NOT NULL, hash text NOT NULL)",
            f"INSERT INTO {{head}} VALUES (1, 0, '{GENESIS_HASH}') ON CONFLICT (id) DO NOTHING",  # noqa: S608 - table names and constants only; values are parameters
            "CREATE OR REPLACE FUNCTION {fn}() RETURNS trigger LANGUAGE plpgsql AS $$ BEGIN"
            " RAISE EXCEPTION 'the disclosure log is append-only'; END $$",
            "CREATE OR REPLACE TRIGGER disclosure_log_no_change BEFORE UPDATE OR DELETE ON {log}"
            " FOR EACH ROW EXECUTE FUNCTION {fn}()",
            "CREATE OR REPLACE TRIGGER disclosure_log_no_truncate BEFORE TRUNCATE ON {log}"
            " FOR EACH STATEMENT EXECUTE FUNCTION {fn}()",
            "CREATE TABLE IF NOT EXISTS {subjects} ("
            " participant_id uuid NOT NULL, seq bigint NOT NULL, PRIMARY KEY (participant_id, seq))",
            "CREATE OR REPLACE TRIGGER disclosure_log_subjects_no_change BEFORE UPDATE OR DELETE ON {subjects}"
            " FOR EACH ROW EXECUTE FUNCTION {fn}()",
            "CREATE OR REPLACE TRIGGER disclosure_log_subjects_no_truncate BEFORE TRUNCATE ON {subjects}"
            " FOR EACH STATEMENT EXECUTE FUNCTION {fn}()",
        ]
        with self.datastore.transaction(commit=True) as cursor:
            # Concurrent first starts (several workers) must not race on CREATE OR REPLACE.
            cursor.execute("SELECT pg_advisory_xact_lock(hashtext('samverkan.disclosure_log.schema'))")
            # Made by `samverkan migrate` as the owner role (adapters/migrate.py): the service role may not replace
            # the triggers of tables it does not own, and need not.
            cursor.execute(
                "SELECT pg_has_role(tableowner, 'USAGE') AS own FROM pg_tables"
                " WHERE schemaname = %s AND tablename = 'disclosure_log'",
                (self.schema,),
            )
            owned = cursor.fetchone()
            if owned is not None and not owned["own"]:
                return
            for statement in statements:
                cursor.execute(sql.SQL(statement).format(**ident))  # type: ignore[arg-type]

    def _q(self, text: str) -> Any:
        """A statement for this engine: `{log}`/`{head}` name the tables, `%s` marks parameters."""
        if self.postgres:
            return sql.SQL(text).format(
                log=sql.Identifier(self.schema, "disclosure_log"),
                head=sql.Identifier(self.schema, "disclosure_log_head"),
                subjects=sql.Identifier(self.schema, "disclosure_log_subjects"),
            )
        return text.format(
            log="disclosure_log", head="disclosure_log_head", subjects="disclosure_log_subjects"
        ).replace("%s", "?")

    # -- writing -------------------------------------------------------------------------------------------

    def append(self, draft: EntryDraft) -> dict[str, Any]:
        """Appends one entry and returns it (with seq and hash) once it is committed."""
        return self.append_many([draft])[0]

    def append_many(self, drafts: Sequence[EntryDraft]) -> list[dict[str, Any]]:
        """Appends entries in order and returns them once committed.

        Group commit: concurrent callers' entries are written together, one transaction per batch, so the lock
        on the head row and the commit's flush are paid once per batch instead of once per read. The first
        caller to find no writer at work writes the queue until its own entries are done, then hands the queue
        to the next waiting caller."""
        if not drafts:
            return []
        call = threading.Event()  # set when this caller's entries move on, or when it is handed the queue
        tickets = [_Ticket(draft, call) for draft in drafts]
        last = tickets[-1]
        with self._queue_lock:
            self._queue.extend(tickets)
            leading = not self._writing
            self._writing = True
        while not leading:
            call.wait()
            with self._queue_lock:
                call.clear()
                if last.done:
                    break
                if self._handed_to is call:
                    self._handed_to = None
                    leading = True
        if leading:
            while not last.done:
                with self._queue_lock:
                    batch, self._queue[:MAX_BATCH] = self._queue[:MAX_BATCH], []
                self._write(batch)
            with self._queue_lock:
                if self._queue:
                    self._handed_to = self._queue[0].call  # its owner wakes up to write
                    self._handed_to.set()
                else:
                    self._writing = False
        entries = []
        for ticket in tickets:
            if ticket.error is not None:
                raise ticket.error
            assert ticket.entry is not None
            entries.append(ticket.entry)
        return entries

    def _write(self, batch: list[_Ticket]) -> None:
        try:
            entries = self._write_batch([t.draft for t in batch])
        except BaseException as error:  # every caller in the batch gets the failure (e.g. 503)
            for ticket in batch:
                ticket.finish(None, error)
            return
        for ticket, entry in zip(batch, entries, strict=True):
            ticket.finish(entry, None)

    def _write_batch(self, drafts: list[EntryDraft]) -> list[dict[str, Any]]:
        if not self.postgres:
            return self._write_batch_sqlite(drafts)
        known = self._known_head
        if known is not None:
            entries, rows, subjects = self._chain(drafts, *known)
            if self._set_head_and_insert(known, entries, rows, subjects):
                self._known_head = (entries[-1]["seq"], entries[-1]["hash"])
                return entries
        # The head is not the one this process last wrote (or it has written none yet): read it, locked.
        with self.datastore.transaction(commit=True) as cursor:
            cursor.execute(self._q("SELECT seq, hash FROM {head} WHERE id = 1 FOR UPDATE"))
            head = cursor.fetchone()
            entries, rows, subjects = self._chain(drafts, int(head["seq"]), str(head["hash"]))
            # One round trip: the rows and the new head together.
            cursor.execute(
                sql.SQL(
                    "WITH added AS (INSERT INTO {log} (seq, recorded_at, kind, user_id, agency, role,"
                    " participant_id, body, prev_hash, hash) VALUES {values})"
                    " UPDATE {head} SET seq = %s, hash = %s WHERE id = 1"
                ).format(
                    log=sql.Identifier(self.schema, "disclosure_log"),
                    head=sql.Identifier(self.schema, "disclosure_log_head"),
                    values=sql.SQL(", ").join(_ROW for _ in rows),
                ),
                [value for row in rows for value in row] + [entries[-1]["seq"], entries[-1]["hash"]],
            )
            if subjects:
                cursor.executemany(self._q("INSERT INTO {subjects} (participant_id, seq) VALUES (%s, %s)"), subjects)
        self._known_head = (entries[-1]["seq"], entries[-1]["hash"])  # committed
        return entries

    def _set_head_and_insert(
        self,
        known: tuple[int, str],
        entries: list[dict[str, Any]],
        rows: list[tuple[Any, ...]],
        subjects: list[tuple[Any, int]],
    ) -> bool:
        """Writes the batch chained after `known` in one statement, which is its own transaction (the pool's
        connections are in autocommit; it returns once committed): the head moves from `known` to the batch's
        last entry and the rows go in, only if the head is still `known` (the head row's lock makes this a
        compare-and-set). False when it was not: then nothing was written."""
        statement = self._batch_statements.get((len(rows), len(subjects)))
        if statement is None:
            statement = self._batch_statement(len(rows), len(subjects))
            if len(self._batch_statements) < MAX_BATCH:
                self._batch_statements[len(rows), len(subjects)] = statement
        last = entries[-1]
        params = [last["seq"], last["hash"], known[0], known[1], *(value for row in rows for value in row)]
        params += [value for pair in subjects for value in pair]
        datastore = self.datastore
        assert isinstance(datastore, PostgresDatastore)
        with datastore.get_connection() as connection:
            row = connection.execute(statement, params).fetchone()
            if not connection.autocommit:  # the library's connections are in autocommit; should one not be
                connection.commit()
        return row is not None and int(row["added"]) == len(rows)

    def _batch_statement(self, rows: int, subjects: int) -> bytes:
        """The compare-and-set statement of `_set_head_and_insert` for a batch of this many rows and subjects."""
        parts = {
            "log": sql.Identifier(self.schema, "disclosure_log"),
            "head": sql.Identifier(self.schema, "disclosure_log_head"),
            "subjects": sql.Identifier(self.schema, "disclosure_log_subjects"),
            "values": sql.SQL(", ").join(_TYPED_ROW for _ in range(rows)),
            "listed": sql.SQL(", ").join(sql.SQL("(%s::uuid, %s::bigint)") for _ in range(subjects)),
        }
        statement = (
            "WITH moved AS (UPDATE {head} SET seq = %s, hash = %s WHERE id = 1 AND seq = %s AND hash = %s"
            " RETURNING id),"
            " added AS (INSERT INTO {log} (seq, recorded_at, kind, user_id, agency, role, participant_id, body,"
            " prev_hash, hash) SELECT * FROM (VALUES {values}) AS batch WHERE EXISTS (SELECT FROM moved)"
            " RETURNING seq)"
        )
        if subjects:
            statement += (
                ", indexed AS (INSERT INTO {subjects} (participant_id, seq) SELECT * FROM (VALUES {listed}) AS listed"
                " WHERE EXISTS (SELECT FROM moved))"
            )
        statement += " SELECT count(*) AS added FROM added"
        return sql.SQL(statement).format(**parts).as_bytes(None)  # type: ignore[arg-type]

    def _chain(
        self, drafts: list[EntryDraft], last_seq: int, last_hash: str
    ) -> tuple[list[dict[str, Any]], list[tuple[Any, ...]], list[tuple[Any, int]]]:
        """The drafts as entries chained after (last_seq, last_hash): the entries, their table rows and the
        (participant, seq) pairs of the subjects index."""
        now = datetime.now(UTC)
        entries: list[dict[str, Any]] = []
        rows: list[tuple[Any, ...]] = []
        subjects: list[tuple[Any, int]] = []
        for draft in drafts:
            body = build_body(draft, last_seq + 1, last_hash, now)
            stored = hashed(body)
            entries.append(body)
            rows.append(
                (
                    body["seq"],
                    body["recorded_at"],
                    body["kind"],
                    body["user_id"],
                    body["agency"],
                    body["role"],
                    body["participant_id"],
                    stored,
                    body["prev_hash"],
                    body["hash"],
                )
            )
            subjects.extend((s if self.postgres else str(s), body["seq"]) for s in dict.fromkeys(draft.subjects))
            last_seq, last_hash = body["seq"], body["hash"]
        return entries, rows, subjects

    def _write_batch_sqlite(self, drafts: list[EntryDraft]) -> list[dict[str, Any]]:
        with self.datastore.transaction(commit=True) as cursor:
            cursor.execute(self._q("UPDATE {head} SET seq = seq WHERE id = 1"))  # takes the write lock first
            cursor.execute(self._q("SELECT seq, hash FROM {head} WHERE id = 1"))
            head = cursor.fetchone()
            entries, rows, subjects = self._chain(drafts, int(head[0]), str(head[1]))
            if subjects:
                cursor.executemany(self._q("INSERT INTO {subjects} (participant_id, seq) VALUES (%s, %s)"), subjects)
            cursor.executemany(self._q(_INSERT), rows)
            cursor.execute(
                self._q("UPDATE {head} SET seq = %s, hash = %s WHERE id = 1"), (entries[-1]["seq"], entries[-1]["hash"])
            )
        return entries

    # -- reading -------------------------------------------------------------------------------------------

    def head(self) -> tuple[int, str]:
        """(last seq, last hash) as the head table records them."""
        with self.datastore.transaction(commit=False) as cursor:
            cursor.execute(self._q("SELECT seq, hash FROM {head} WHERE id = 1"))
            row = cursor.fetchone()
        return (int(row["seq"]), str(row["hash"])) if self.postgres else (int(row[0]), str(row[1]))

    def entries(self, where: LogFilter | None = None) -> Iterator[dict[str, Any]]:
        """Entries in seq order, page by page (constant memory), as stored (with hash). A row whose body does not
        parse is given as {"seq", "unreadable": true}: an export carries it, and its verification names it."""
        for page in self._pages(where or LogFilter()):
            for seq, body, _ in page:
                yield body if body is not None else {"seq": seq, "unreadable": True}

    def _pages(self, where: LogFilter) -> Iterator[list[tuple[int, dict[str, Any] | None, dict[str, Any]]]]:
        """Pages of (seq, body or None when it does not parse, the row's columns), in seq order."""
        conditions, params = ["seq > %s"], []
        if where.participant_id is not None:
            # The entries about this participant, and those that list it among several (a caseload).
            conditions.append("(participant_id = %s OR seq IN (SELECT seq FROM {subjects} WHERE participant_id = %s))")
            pid = where.participant_id if self.postgres else str(where.participant_id)
            params.extend([pid, pid])
        if where.agency is not None:
            conditions.append("agency = %s")
            params.append(where.agency)
        if where.user_id is not None:
            conditions.append("user_id = %s")
            params.append(where.user_id)
        if where.since is not None:
            conditions.append("recorded_at >= %s")
            params.append(where.since if self.postgres else where.since.astimezone(UTC).isoformat())
        if where.until is not None:
            conditions.append("recorded_at < %s")
            params.append(where.until if self.postgres else where.until.astimezone(UTC).isoformat())
        if where.until_seq is not None:
            conditions.append("seq <= %s")
            params.append(where.until_seq)
        if where.kinds is not None:
            conditions.append("kind IN (" + ", ".join("%s" for _ in where.kinds) + ")")
            params.extend(where.kinds)
        query = self._q(
            "SELECT seq, kind, user_id, agency, role, participant_id, recorded_at, body FROM {log} WHERE "  # noqa: S608 - table names and constants only; values are parameters
            + " AND ".join(conditions)
            + f" ORDER BY seq LIMIT {PAGE}"
        )
        after = where.after_seq or 0
        while True:
            with self.datastore.transaction(commit=False) as cursor:
                cursor.execute(query, (after, *params))
                rows = cursor.fetchall()
            page = []
            for row in rows:
                values = dict(row) if self.postgres else dict(zip(_COLUMNS, row, strict=True))
                page.append((int(values["seq"]), _parsed(values["body"]), values))
            if page:
                yield page
            if len(rows) < PAGE:
                return
            after = page[-1][0]

    def entry(self, seq: int) -> dict[str, Any] | None:
        """The entry with this seq (None when there is none)."""
        return next(self.entries(LogFilter(after_seq=seq - 1, until_seq=seq)), None)

    def hashes_at(self, seqs: Sequence[int]) -> dict[int, str]:
        """The hash each of these entries' (hashed) bodies carries, by seq; an entry missing or unreadable is left
        out. For checking anchors (adapters/anchors.py) without reading the whole log again."""
        found: dict[int, str] = {}
        for start in range(0, len(seqs), PAGE):
            chunk = list(seqs[start : start + PAGE])
            query = self._q("SELECT seq, body FROM {log} WHERE seq IN (" + ", ".join("%s" for _ in chunk) + ")")  # noqa: S608 - table names and placeholders only
            with self.datastore.transaction(commit=False) as cursor:
                cursor.execute(query, chunk)
                rows = cursor.fetchall()
            for row in rows:
                seq, text = (row["seq"], row["body"]) if self.postgres else (row[0], row[1])
                body = _parsed(text)
                if body is not None and isinstance(body.get("hash"), str):
                    found[int(seq)] = body["hash"]
        return found

    def _subjects(self, first: int, last: int) -> set[tuple[int, str]]:
        """The (seq, participant) pairs indexed for entries first..last."""
        with self.datastore.transaction(commit=False) as cursor:
            cursor.execute(
                self._q("SELECT seq, participant_id FROM {subjects} WHERE seq >= %s AND seq <= %s"), (first, last)
            )
            rows = cursor.fetchall()
        if self.postgres:
            return {(int(r["seq"]), str(r["participant_id"])) for r in rows}
        return {(int(r[0]), str(r[1])) for r in rows}

    def verify(self) -> VerifyResult:
        """Checks the whole live log: every entry parses, every hash and link, no gaps, columns and the subjects
        index matching content, head at the end."""
        checker = ChainChecker()
        for page in self._pages(LogFilter()):
            expected: set[tuple[int, str]] = set()
            for seq, body, columns in page:
                if body is None:
                    return VerifyResult(False, checker.count, seq, f"entry {seq} does not parse: it was altered")
                if not checker.check(body, stored_seq=seq):
                    return checker.result()
                altered = _altered_column(columns, body)
                if altered:
                    return VerifyResult(False, checker.count - 1, seq, f"entry {seq}: column {altered} was altered")
                details = body.get("details")
                listed = details.get("subjects", []) if isinstance(details, dict) else []
                expected.update((seq, str(subject)) for subject in listed)
            indexed = self._subjects(page[0][0], page[-1][0])
            if indexed != expected:
                seq = min(s for s, _ in indexed ^ expected)
                return VerifyResult(False, checker.count, seq, f"entry {seq}: its participants index was altered")
        head_seq, head_hash = self.head()
        if checker.last_seq < head_seq:
            return VerifyResult(False, checker.count, checker.last_seq + 1, "entries at the end of the log are missing")
        if checker.last_seq > head_seq:
            return VerifyResult(False, checker.count, head_seq + 1, "entries after the recorded head of the log")
        if checker.last_hash != head_hash:
            return VerifyResult(
                False, checker.count - 1, head_seq, f"entry {head_seq} was altered: it differs from the recorded head"
            )
        return checker.result()


def _parsed(text: Any) -> dict[str, Any] | None:
    """A stored body as a dict; None when it is not a JSON object (which only tampering can cause)."""
    try:
        body = json.loads(text)
    except (TypeError, ValueError, RecursionError):
        return None
    return body if isinstance(body, dict) else None


def _altered_column(columns: dict[str, Any], body: dict[str, Any]) -> str | None:
    """The first filter column whose value differs from the (hashed) body, if any."""
    for name in ("kind", "user_id", "agency", "role"):
        if columns[name] != body.get(name):
            return name
    participant = None if columns["participant_id"] is None else str(columns["participant_id"])
    if participant != body.get("participant_id"):
        return "participant_id"
    recorded = columns["recorded_at"]
    try:
        stored = recorded if isinstance(recorded, datetime) else datetime.fromisoformat(str(recorded))
        if stored != datetime.fromisoformat(str(body.get("recorded_at"))):
            return "recorded_at"
    except (TypeError, ValueError):
        return "recorded_at"
    return None


_INSERT = (
    "INSERT INTO {log} (seq, recorded_at, kind, user_id, agency, role, participant_id, body, prev_hash, hash)"
    " VALUES (%s, %s, %s, %s, %s, %s, %s, %s, %s, %s)"
)
MAX_BATCH = 200
_ROW = sql.SQL("(%s, %s, %s, %s, %s, %s, %s, %s, %s, %s)")
# In a VALUES list that is not an INSERT's own, PostgreSQL types the parameters by themselves: say which.
_TYPED_ROW = sql.SQL(
    "(%s::bigint, %s::timestamptz, %s::text, %s::text, %s::text, %s::text, %s::uuid, %s::text, %s::text, %s::text)"
)


class _Ticket:
    """One caller's entry waiting in the group-commit queue."""

    def __init__(self, draft: EntryDraft, call: threading.Event) -> None:
        self.draft = draft
        self.call = call
        self.done = False
        self.entry: dict[str, Any] | None = None
        self.error: BaseException | None = None

    def finish(self, entry: dict[str, Any] | None, error: BaseException | None) -> None:
        self.entry, self.error, self.done = entry, error, True
        self.call.set()


_COLUMNS = ("seq", "kind", "user_id", "agency", "role", "participant_id", "recorded_at", "body")
