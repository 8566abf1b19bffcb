"""Runs the projections: catches up in batches (view rows and positions commit together), follows the log live
(PostgreSQL: woken by the library's NOTIFY; SQLite: polling), and rebuilds from position zero into fresh tables
that replace the live ones in one transaction, so readers never see a half-built view. On PostgreSQL a rebuild of a
long log is loaded by worker processes, each a range of cases (projections/parallel.py)."""

from __future__ import annotations

import gc
import itertools
import os
import sqlite3
import threading
import time
from collections.abc import Callable, Collection, Sequence
from concurrent.futures import Future, ThreadPoolExecutor
from datetime import UTC, datetime
from typing import Any

import orjson
import psycopg
import structlog
from eventsourcing.persistence import InterfaceError, OperationalError

from projections import parallel
from projections.cases import Facts
from projections.definitions import CASES, RETIRED_PROJECTIONS, RETIRED_TABLES, Projection, all_projections
from projections.events import StoredEvent, UndecodableEvent, reason_of
from projections.store import REBUILD_SUFFIX, ProjectionStore, TableSpec

log = structlog.get_logger("samverkan.projections")
Progress = Callable[[int, int], None]  # (position reached, head)
ALL = "all"  # a failure of every projection: an event none of them can read
# Errors of the storage itself (outage, lock timeout): retried as they are, with no event to blame, at least every
# second, so the projections follow again within a second of the storage's return (during a PostgreSQL outage a
# try is refused at once, adapters/storage.py, so trying costs nothing).
TRANSIENT_RETRY_SECONDS = 1.0
# After the LISTEN connection was lost (PostgreSQL restarted), the runner polls, and listens again once the
# storage answers, at most this often.
RELISTEN_SECONDS = 5.0
# A rebuild of at least this many log positions loads with several processes on PostgreSQL (at most this many).
PARALLEL_MIN_EVENTS = 50_000
MAX_REBUILD_WORKERS = 4
TRANSIENT = (
    OperationalError,
    InterfaceError,
    psycopg.OperationalError,
    psycopg.InterfaceError,
    sqlite3.OperationalError,
)


# A projection that cannot go on (an event it cannot read or fold) commits everything before that event, is recorded
# as failing in the database (so every process's /health sees it, whichever runner failed) and is tried again with
# back-off; the other projections go on meanwhile.
class ProjectionFailure(Exception):
    """A projection (or "all") cannot go on past an event: its position, and why (no personal data)."""

    def __init__(self, projection: str, position: int, reason: str) -> None:
        super().__init__(f"projection {projection} cannot process event {position}: {reason}")
        self.projection = projection
        self.position = position
        self.reason = reason


class ProjectionRunner:
    """Keeps the projection tables up to date with the event log."""

    def __init__(
        self,
        store: ProjectionStore,
        projections: Sequence[Projection] | None = None,
        *,
        batch_size: int = 500,
        listen: dict[str, Any] | None = None,
        retry_seconds: float = 1.0,
        max_retry_seconds: float = 30.0,
        rebuild_workers: int | None = None,
    ) -> None:
        self.store = store
        self.projections = list(projections) if projections is not None else all_projections()
        self.batch_size = batch_size
        self.listen = listen  # psycopg connection parameters for LISTEN (PostgreSQL), or None to poll
        # The first wait after a failure, doubled each time up to the max (an outage of the storage itself: at most
        # TRANSIENT_RETRY_SECONDS, so the projections follow again soon after it is back).
        self.retry_seconds = retry_seconds
        self.max_retry_seconds = max_retry_seconds
        # Processes that load a rebuild (PostgreSQL): None chooses by the log's length and the cores.
        self.rebuild_workers = rebuild_workers
        for projection in self.projections:
            for spec in projection.tables:
                store.create(spec)
        store.retire(RETIRED_TABLES, RETIRED_PROJECTIONS)
        self._stop = threading.Event()
        self._wake = threading.Event()  # set by nudge(): a reader waits for the projections, poll now
        self._thread: threading.Thread | None = None
        self._failures: dict[str, dict[str, Any]] = {}  # this runner's failures, by projection name or ALL
        self._retry_at: dict[str, float] = {}  # when a failing projection is tried again (monotonic clock)
        self._next_position = 1  # the first event the last batch was after: what a storage failure blames

    # -- positions -----------------------------------------------------------------------------------------

    def positions(self) -> dict[str, int]:
        return {p.name: self.store.position(p.name) for p in self.projections}

    def lag(self) -> dict[str, int]:
        """How many log positions each projection is behind."""
        head = self.store.head()
        return {name: head - position for name, position in self.positions().items()}

    # -- live ----------------------------------------------------------------------------------------------

    def step(self, only: Collection[str] | None = None) -> int:
        """Processes one batch for the projections (all, or those named); returns the number of events read.
        Raises ProjectionFailure (recorded, what precedes it committed) when one cannot process an event."""
        chosen = [p for p in self.projections if only is None or p.name in only]
        if not chosen:
            return 0
        start = min(self.store.position(p.name) for p in chosen)
        self._next_position = start + 1
        try:
            events = self.store.read_events(start, self.batch_size)
        except UndecodableEvent as poison:
            if poison.before:
                self._commit_or_blame(chosen, poison.before)
            raise self._fail(ALL, poison.position, poison.reason) from poison
        if not events or events[-1].position >= self._failures.get(ALL, {}).get("position", 0):
            self._recovered([ALL])
        if not events:
            self._recovered([p.name for p in chosen])  # at the head: nothing failed
            return 0
        self._commit_or_blame(chosen, events)
        return len(events)

    def _commit_or_blame(self, chosen: list[Projection], events: list[StoredEvent]) -> None:
        """Commits the batch; when it fails, each projection's part alone, and of a failing projection all it can
        up to the first event it cannot process, which is recorded and raised (the others go on)."""
        try:
            self._commit(chosen, events)
        except TRANSIENT:
            raise
        except Exception:
            failures: list[ProjectionFailure] = []
            for projection in chosen:
                blamed = self._first_failing(projection, events)
                if blamed is not None:
                    failures.append(self._fail(projection.name, blamed[0], reason_of(blamed[1])))
            self._recover_passed([p for p in chosen if p.name not in {f.projection for f in failures}])
            if failures:
                raise min(failures, key=lambda f: f.position) from None
            return
        self._recover_passed(chosen)

    def _commit(self, chosen: list[Projection], events: list[StoredEvent]) -> None:
        """One transaction: the projections' rows for the events they have not processed yet, and their positions."""
        try:
            with self.store.transaction() as cursor:
                for projection in chosen:
                    # Live batches never trust a cache: another process may have moved a case on meanwhile.
                    projection.reset()
                    # Read on this transaction's own connection: a second one could wait for ever (see store).
                    done = self.store.position(projection.name, cursor)
                    mine = [e for e in events if e.position > done]
                    if mine:
                        self._apply(cursor, projection, mine, "")
                        self.store.track(cursor, projection.name, mine[-1].position)
        except BaseException:
            for projection in chosen:
                projection.reset()
            raise

    def _first_failing(self, projection: Projection, events: list[StoredEvent]) -> tuple[int, Exception] | None:
        """Commits what it can of the events for one projection, halving the part that fails; returns the first
        event it cannot process with the error (None: all went through this time)."""
        # Committing an event again is harmless: a projection skips events at or before its position.
        failing = events
        try:
            self._commit([projection], failing)
            return None
        except TRANSIENT:
            raise
        except Exception as error:
            failed = error
        while len(failing) > 1:
            half, rest = failing[: len(failing) // 2], failing[len(failing) // 2 :]
            for part in (half, rest):
                try:
                    self._commit([projection], part)
                except TRANSIENT:
                    raise
                except Exception as error:
                    failing, failed = part, error
                    break
            else:
                return None
        return failing[0].position, failed

    # -- failures ------------------------------------------------------------------------------------------

    def _fail(self, name: str, position: int, reason: str, *, transient: bool = False) -> ProjectionFailure:
        """Records that `name` cannot process the event at `position`, and when to try again."""
        now = datetime.now(UTC).isoformat()
        previous = self._failures.get(name)
        same = previous is not None and previous["position"] == position
        attempts = previous["attempts"] + 1 if previous is not None and same else 1
        failure = {
            "projection": name,
            "position": position,
            "reason": reason,
            "since": previous["since"] if previous is not None and same else now,
            "attempts": attempts,
            "updated_at": now,
        }
        self._failures[name] = failure
        longest = min(self.max_retry_seconds, TRANSIENT_RETRY_SECONDS) if transient else self.max_retry_seconds
        delay = min(self.retry_seconds * 2 ** min(attempts - 1, 20), longest)
        for affected in [p.name for p in self.projections] if name == ALL else [name]:
            self._retry_at[affected] = time.monotonic() + delay
        log.warning(
            "projection_failing", projection=name, position=position, reason=reason, attempts=attempts, retry_s=delay
        )
        try:
            self.store.record_failure(failure)
        except Exception as error:  # the storage itself is down: /health says so anyway
            log.warning("projection_failure_not_recorded", error_type=type(error).__name__)
        return ProjectionFailure(name, position, reason)

    def _recover_passed(self, chosen: list[Projection]) -> None:
        """Forgets the failures of projections that are now past the event they failed on."""
        failing = [p.name for p in chosen if p.name in self._failures]
        if failing:
            self._recovered([n for n in failing if self.store.position(n) >= self._failures[n]["position"]])

    def _recovered(self, names: Sequence[str]) -> None:
        known = [n for n in names if n in self._failures]
        if not known:
            return
        self.store.clear_failures(known)
        for name in known:
            failure = self._failures.pop(name)
            log.info("projection_recovered", projection=name, position=failure["position"])
        for name in [p.name for p in self.projections] if ALL in known else known:
            self._retry_at.pop(name, None)

    def failing(self, positions: dict[str, int] | None = None, head: int | None = None) -> dict[str, Any] | None:
        """The failure to show, as recorded by any runner of this database (the one at the lowest position that
        its projection has not passed), or None. Several projections failing at one event show as "all"."""
        rows = self.store.failures()
        if not rows:
            return None
        positions = self.positions() if positions is None else positions
        head = self.store.head() if head is None else head
        current = []
        for row in rows:
            name = row["projection"]
            at = min(positions.values()) if name == ALL else positions.get(name)
            # A projection past the event (or at the head) went on since: an old record of a runner that stopped.
            if at is not None and at < int(row["position"]) and at < head:
                current.append(row)
        if not current:
            return None
        first = min(current, key=lambda r: int(r["position"]))
        names = {r["projection"] for r in current if r["position"] == first["position"]}
        everyone = ALL in names or (len(positions) > 1 and names >= set(positions))
        return {
            "projection": ALL if everyone else first["projection"],
            "position": int(first["position"]),
            "reason": first["reason"],
            "since": first["since"],
            "attempts": int(first["attempts"]),
        }

    def health(self) -> dict[str, Any]:
        """Each projection's lag in log positions, and the failure to show (None when none is failing)."""
        head = self.store.head()
        positions = self.positions()
        return {
            "lag_events": {name: head - position for name, position in positions.items()},
            "failing": self.failing(positions, head),
        }

    def catch_up(self, progress: Progress | None = None) -> int:
        """Processes batches until every projection is at the log's head; returns events processed. Raises
        ProjectionFailure when a projection cannot process an event (after committing what precedes it)."""
        total = 0
        while processed := self.step():
            total += processed
            if progress:
                progress(min(self.positions().values()), self.store.head())
        return total

    def run(self, stop: threading.Event | None = None, poll_seconds: float = 0.05) -> None:
        """Follows the log until `stop` is set. A projection that fails is recorded as failing and tried again
        with back-off (1 s, doubling, at most `max_retry_seconds`); the others go on meanwhile."""
        stop = stop or self._stop
        listener = self._listener()
        relisten_at = time.monotonic() + RELISTEN_SECONDS
        try:
            while not stop.is_set():
                now = time.monotonic()
                due = [p.name for p in self.projections if self._retry_at.get(p.name, 0.0) <= now]
                try:
                    if due and self.step(due):
                        continue
                except ProjectionFailure:
                    continue  # recorded; the failing projection waits for its retry, the others go on
                except Exception as error:  # the storage itself (outage, lock timeout), or a bug outside a batch
                    self._fail(ALL, self._next_position, reason_of(error), transient=isinstance(error, TRANSIENT))
                    continue
                if listener is None and self.listen and due and time.monotonic() >= relisten_at:
                    listener = self._listener()  # the storage has just answered (step): listen again
                    relisten_at = time.monotonic() + RELISTEN_SECONDS
                wait = poll_seconds * 10 if listener is not None else poll_seconds
                if self._retry_at:
                    wait = max(0.001, min(wait, min(self._retry_at.values()) - time.monotonic()))
                if listener is not None:
                    try:
                        for _ in listener.notifies(timeout=wait, stop_after=1):
                            pass
                    except psycopg.Error:
                        listener.close()
                        listener = None  # poll until the storage answers again
                        relisten_at = time.monotonic() + RELISTEN_SECONDS
                else:
                    self._wake.wait(wait)
                    self._wake.clear()
        finally:
            if listener is not None:
                listener.close()

    def _listener(self) -> psycopg.Connection[Any] | None:
        if not self.listen:
            return None
        try:
            connection = psycopg.connect(**self.listen, autocommit=True)
            connection.execute(f'LISTEN "{self.store.events_table}"')
        except psycopg.Error:
            return None  # polling still works
        return connection

    def start(self) -> None:
        """Follows the log in a background thread (the service's in-process runner)."""
        self._stop.clear()
        self._thread = threading.Thread(target=self.run, name="projections", daemon=True)
        self._thread.start()

    def nudge(self) -> None:
        """Polls the log at once instead of at the next interval (SQLite has no notification)."""
        self._wake.set()

    def stop(self) -> None:
        self._stop.set()
        self._wake.set()
        if self._thread is not None:
            self._thread.join(timeout=10)

    # -- rebuild -------------------------------------------------------------------------------------------

    def rebuild(
        self, chosen: Sequence[str] | None = None, progress: Progress | None = None, batch_size: int = 5000
    ) -> int:
        """Rebuilds the chosen projections (default: all) from position zero into fresh tables, then swaps them
        in. A rebuild that was stopped starts over. Returns the position the rebuilt tables reached."""
        targets = [p for p in self.projections if chosen is None or p.name in chosen]
        head = self.store.head()
        position = 0
        workers = self._rebuild_workers(targets, head)
        # Loaded by workers, the tables get their primary keys after the load too (the rows come in case order).
        self._fresh_tables(targets, primary_key=workers <= 1)
        if workers > 1:
            try:
                self._load_in_parts(targets, batch_size, head, progress, workers)
                position = head
            except parallel.PartFailed as stopped:
                if stopped.transient:
                    raise OperationalError(f"a rebuild worker stopped: {stopped.reason}") from None
                # An event a worker cannot read or fold: the rebuild in log order names the first one.
                log.warning("projection_rebuild_in_parts_stopped", reason=stopped.reason)
                self._fresh_tables(targets)  # with primary keys: the load in log order needs none after
                workers = 1
        if workers <= 1:
            try:
                position = self._load(targets, batch_size, head, progress)
            except UndecodableEvent as poison:
                for projection in targets:
                    projection.reset()
                raise ProjectionFailure(ALL, poison.position, poison.reason) from poison
        try:
            specs = [spec for projection in targets for spec in projection.tables]
            self._create_indexes(specs, primary_key=workers > 1)
            with self.store.transaction() as cursor:
                # Under the lock the live runners also take: the tail written meanwhile, then the swap.
                while tail := self.store.read_events(position, batch_size, cursor=cursor):
                    for projection in targets:
                        # Upserts, not COPY: the tail may move on cases whose rows are already written.
                        self._apply_rebuilding(cursor, projection, tail, copy=False)
                    position = tail[-1].position
                for projection in targets:
                    for spec in projection.tables:
                        self.store.swap(cursor, spec, REBUILD_SUFFIX)
                    self.store.forget(cursor, projection.name + REBUILD_SUFFIX)
                    if position > self.store.position(projection.name, cursor):
                        self.store.track(cursor, projection.name, position)
        except UndecodableEvent as poison:
            raise ProjectionFailure(ALL, poison.position, poison.reason) from poison
        finally:
            for projection in targets:
                projection.reset()
        if progress:
            progress(position, position)
        return position

    def _fresh_tables(self, targets: list[Projection], *, primary_key: bool = True) -> None:
        """Empty rebuild tables (secondary indexes come after the load) and no rebuild position."""
        for projection in targets:
            projection.reset()
            for spec in projection.tables:
                self.store.drop(spec, REBUILD_SUFFIX)
                self.store.create(spec, REBUILD_SUFFIX, indexes=False, primary_key=primary_key)
        with self.store.transaction() as cursor:
            for projection in targets:
                self.store.forget(cursor, projection.name + REBUILD_SUFFIX)

    def _rebuild_workers(self, targets: list[Projection], head: int) -> int:
        """How many processes load the rebuild tables: several on PostgreSQL for a log long enough to gain from
        it (starting a worker costs about a second), else one (this process, in log order)."""
        if not (self.store.postgres and self.listen and parallel.supported(targets)):
            return 1
        if self.rebuild_workers is not None:
            return max(1, self.rebuild_workers)
        if head < PARALLEL_MIN_EVENTS:
            return 1
        # One more than the cores: a worker often waits for the server's reads of the table in key order.
        return max(2, min((os.cpu_count() or 1) + 1, MAX_REBUILD_WORKERS))

    def _load_in_parts(
        self, targets: list[Projection], batch_size: int, head: int, progress: Progress | None, workers: int
    ) -> None:
        """The load split over worker processes by case range (projections/parallel.py)."""
        assert self.listen is not None

        def report(read: int) -> None:
            if progress:
                progress(min(read, max(head - 1, 0)), head)

        parallel.load(
            self.listen, self.store.schema, self.store.events_table, targets, head, workers, batch_size, report
        )
        if progress:
            progress(head, head)

    def _create_indexes(self, specs: list[TableSpec], *, primary_key: bool) -> None:
        """The rebuild tables' secondary indexes (and primary keys, when made without), on PostgreSQL two tables at
        a time (each build is CPU-bound in its backend)."""
        if not self.store.postgres or len(specs) < 2:  # noqa: PLR2004
            for spec in specs:
                self.store.create_indexes(spec, REBUILD_SUFFIX, primary_key=primary_key)
            return
        with ThreadPoolExecutor(max_workers=2, thread_name_prefix="projection-index") as builders:
            built = [
                builders.submit(self.store.create_indexes, s, REBUILD_SUFFIX, primary_key=primary_key) for s in specs
            ]
            for done in built:
                done.result()

    def _load(self, targets: list[Projection], batch_size: int, head: int, progress: Progress | None) -> int:
        """Folds the log into the rebuild tables, reading the next batch while the last one is written."""
        position = 0
        for projection in targets:
            projection.begin_bulk()
        # The held-back case facts are many long-lived objects without reference cycles: Python's cyclic
        # collector would walk them again and again (a quarter of a rebuild's time); reference counting frees
        # everything that matters, and the collector runs again afterwards.
        collecting = gc.isenabled()
        gc.disable()
        try:
            position = self._fold_log(targets, batch_size, head, progress)
        finally:
            if collecting:
                gc.enable()
        return position

    def _fold_log(self, targets: list[Projection], batch_size: int, head: int, progress: Progress | None) -> int:
        position = 0
        pending: Future[list[StoredEvent]]
        with ThreadPoolExecutor(max_workers=1, thread_name_prefix="projection-reader") as reader:
            pending = reader.submit(self.store.read_events, position, batch_size)
            while events := pending.result():
                pending = reader.submit(self.store.read_events, events[-1].position, batch_size)
                with self.store.transaction(durable=False) as cursor:
                    for projection in targets:
                        self._apply_rebuilding(cursor, projection, events)
                        self.store.track(cursor, projection.name + REBUILD_SUFFIX, events[-1].position)
                position = events[-1].position
                if progress:
                    progress(position, max(head, position))
        for projection in targets:
            specs = {spec.name: spec for spec in projection.tables}
            held_back = projection.end_bulk()
            while chunk := list(itertools.islice(held_back, 20_000)):
                with self.store.transaction(durable=False) as cursor:
                    self.store.apply(cursor, specs, REBUILD_SUFFIX, chunk, copy_tables=projection.insert_only)
        return position

    def _apply_rebuilding(
        self, cursor: Any, projection: Projection, events: list[StoredEvent], *, copy: bool = True
    ) -> None:
        """_apply into the rebuild tables; an event the projection cannot fold stops the rebuild, named."""
        try:
            self._apply(cursor, projection, events, REBUILD_SUFFIX, copy=copy)
        except TRANSIENT:
            raise
        except Exception as error:
            # The rebuild is abandoned, so its held state may be folded again to find the event: one at a time.
            position = events[0].position
            for event in events:
                try:
                    projection.process([event], lambda _: {})
                except Exception:
                    position = event.position
                    break
            raise ProjectionFailure(projection.name, position, reason_of(error)) from error

    # -- shared --------------------------------------------------------------------------------------------

    def _apply(
        self, cursor: Any, projection: Projection, events: list[StoredEvent], suffix: str, *, copy: bool = True
    ) -> None:
        """Folds the events into the projection's tables (rebuild tables load new rows with COPY)."""

        def load_facts(case_ids: Sequence[str]) -> dict[str, Facts]:
            found: dict[str, Facts] = {}
            for start in range(0, len(case_ids), 500):
                chunk = case_ids[start : start + 500]
                marks = ", ".join("%s" for _ in chunk)
                for row in self.store.select(CASES, suffix, f'"participant_id" IN ({marks})', chunk, cursor):
                    found[row["participant_id"]] = orjson.loads(row["facts"])
            return found

        operations = projection.process(events, load_facts)
        specs = {spec.name: spec for spec in projection.tables}
        copy_tables = projection.insert_only if suffix and copy else frozenset()
        self.store.apply(cursor, specs, suffix, operations, copy_tables=copy_tables)


def wait_until(runner: ProjectionRunner, position: int, timeout: float = 5.0) -> bool:
    """True once every projection has reached `position` (for tests and read-after-write callers)."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if min(runner.positions().values()) >= position:
            return True
        time.sleep(0.01)
    return False
