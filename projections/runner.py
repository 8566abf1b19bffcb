"""Runs the projections: catches up in batches (view rows and positions commit together), follows the log live
(PostgreSQL: woken by the library's NOTIFY; SQLite: polling), and rebuilds from position zero into fresh tables
that replace the live ones in one transaction, so readers never see a half-built view."""

from __future__ import annotations

import gc
import itertools
import threading
import time
from collections.abc import Callable, Sequence
from concurrent.futures import Future, ThreadPoolExecutor
from typing import Any

import orjson
import psycopg
import structlog

from projections.cases import Facts
from projections.definitions import CASES, Projection, all_projections
from projections.events import StoredEvent
from projections.store import REBUILD_SUFFIX, ProjectionStore

log = structlog.get_logger("samverkan.projections")
Progress = Callable[[int, int], None]  # (position reached, head)


class ProjectionRunner:
    """Keeps the projection tables up to date with the event log."""

    def __init__(
        self,
        store: ProjectionStore,
        projections: Sequence[Projection] | None = None,
        *,
        batch_size: int = 500,
        listen: dict[str, Any] | None = None,
    ) -> None:
        self.store = store
        self.projections = list(projections) if projections is not None else all_projections()
        self.batch_size = batch_size
        self.listen = listen  # psycopg connection parameters for LISTEN (PostgreSQL), or None to poll
        for projection in self.projections:
            for spec in projection.tables:
                store.create(spec)
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None

    # -- positions -----------------------------------------------------------------------------------------

    def positions(self) -> dict[str, int]:
        return {p.name: self.store.position(p.name) for p in self.projections}

    def lag(self) -> dict[str, int]:
        """How many log positions each projection is behind."""
        head = self.store.head()
        return {name: head - position for name, position in self.positions().items()}

    # -- live ----------------------------------------------------------------------------------------------

    def step(self) -> int:
        """Processes one batch for every projection that is behind; returns the number of events read."""
        start = min(self.positions().values())
        events = self.store.read_events(start, self.batch_size)
        if not events:
            return 0
        try:
            with self.store.transaction() as cursor:
                positions = {p.name: self.store.position(p.name) for p in self.projections}
                for projection in self.projections:
                    # Live batches never trust a cache: another process may have moved a case on meanwhile.
                    projection.reset()
                    mine = [e for e in events if e.position > positions[projection.name]]
                    if mine:
                        self._apply(cursor, projection, mine, "")
                        self.store.track(cursor, projection.name, mine[-1].position)
        except BaseException:
            for projection in self.projections:
                projection.reset()
            raise
        return len(events)

    def catch_up(self, progress: Progress | None = None) -> int:
        """Processes batches until every projection is at the log's head; returns events processed."""
        total = 0
        while processed := self.step():
            total += processed
            if progress:
                progress(min(self.positions().values()), self.store.head())
        return total

    def run(self, stop: threading.Event | None = None, poll_seconds: float = 0.05) -> None:
        """Follows the log until `stop` is set. Errors are logged and retried after a pause."""
        stop = stop or self._stop
        listener = self._listener()
        try:
            while not stop.is_set():
                try:
                    if self.step():
                        continue
                except Exception as error:
                    log.warning("projection_batch_failed", error_type=type(error).__name__)
                    stop.wait(1.0)
                    continue
                if listener is not None:
                    try:
                        for _ in listener.notifies(timeout=poll_seconds * 10, stop_after=1):
                            pass
                    except psycopg.Error:
                        listener = None
                else:
                    stop.wait(poll_seconds)
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

    def stop(self) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join(timeout=10)

    # -- rebuild -------------------------------------------------------------------------------------------

    def rebuild(
        self, chosen: Sequence[str] | None = None, progress: Progress | None = None, batch_size: int = 5000
    ) -> int:
        """Rebuilds the chosen projections (default: all) from position zero into fresh tables, then swaps them
        in. A rebuild that was stopped starts over. Returns the position the rebuilt tables reached."""
        targets = [p for p in self.projections if chosen is None or p.name in chosen]
        for projection in targets:
            projection.reset()
            for spec in projection.tables:
                self.store.drop(spec, REBUILD_SUFFIX)
                self.store.create(spec, REBUILD_SUFFIX, indexes=False)
        with self.store.transaction() as cursor:
            for projection in targets:
                self.store.forget(cursor, projection.name + REBUILD_SUFFIX)
        head = self.store.head()
        try:
            position = self._load(targets, batch_size, head, progress)
            for projection in targets:
                for spec in projection.tables:
                    self.store.create_indexes(spec, REBUILD_SUFFIX)
            with self.store.transaction() as cursor:
                # Under the lock the live runners also take: the tail written meanwhile, then the swap.
                while tail := self.store.read_events(position, batch_size, cursor=cursor):
                    for projection in targets:
                        self._apply(cursor, projection, tail, REBUILD_SUFFIX)
                    position = tail[-1].position
                for projection in targets:
                    for spec in projection.tables:
                        self.store.swap(cursor, spec, REBUILD_SUFFIX)
                    self.store.forget(cursor, projection.name + REBUILD_SUFFIX)
                    if position > self.store.position(projection.name):
                        self.store.track(cursor, projection.name, position)
        finally:
            for projection in targets:
                projection.reset()
        if progress:
            progress(position, position)
        return position

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
                        self._apply(cursor, projection, events, REBUILD_SUFFIX)
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

    # -- shared --------------------------------------------------------------------------------------------

    def _apply(self, cursor: Any, projection: Projection, events: list[StoredEvent], suffix: str) -> None:
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
        copy_tables = projection.insert_only if suffix else frozenset()
        self.store.apply(cursor, specs, suffix, operations, copy_tables=copy_tables)


def wait_until(runner: ProjectionRunner, position: int, timeout: float = 5.0) -> bool:
    """True once every projection has reached `position` (for tests and read-after-write callers)."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if min(runner.positions().values()) >= position:
            return True
        time.sleep(0.01)
    return False
