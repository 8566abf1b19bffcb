"""The load of a rebuild on PostgreSQL, split over worker processes by case.

The event table's primary key is (originator_id, originator_version): a range of case ids read in key order gives
each case's events together and in order. A worker takes one range, folds each case as it passes and writes the
case's rows (timeline, cases, follow-up) with COPY as soon as the case is complete, so it holds one case at a time
however long the log. The parts never touch the same rows (every row belongs to one case), the workers run side by
side on their own connections, and the rows are identical to a rebuild in log order: within a case the order is the
same, and no row depends on another case. An erasure drops the rows of its case held so far, as the live runner's
DELETE does.

Only the load is split: the runner builds the indexes, applies the tail and swaps the tables in as before. A worker
that meets an event it cannot read or fold stops, and the runner rebuilds in log order instead, which names the
first such event exactly as the live runner would.
"""

from __future__ import annotations

import itertools
import json
import os
import queue
import subprocess
import sys
import threading
from collections.abc import Callable, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any
from uuid import UUID

import psycopg
from psycopg import sql

from projections.definitions import CASES, TIMELINE, CasesProjection, Projection, TimelineProjection
from projections.events import CASE_TOPIC_PREFIX, StoredEvent, decode_case, reason_of, uuid_text
from projections.store import REBUILD_SUFFIX, Delete, Upsert

SUPPORTED = frozenset({"timeline", "cases"})  # projections whose rows are per case (and per event)
UUID_SPAN = 2**128
MAX_PART_BATCH = 2000  # rows a worker reads at once (two batches in memory: the one folded, the one prefetched)
ROOT = Path(__file__).resolve().parent.parent  # the project: importable by the workers


class PartFailed(Exception):
    """A worker stopped: `transient` for an error of the storage itself, otherwise an event it cannot process."""

    def __init__(self, reason: str, *, transient: bool) -> None:
        super().__init__(reason)
        self.reason = reason
        self.transient = transient


@dataclass(frozen=True)
class Part:
    """One worker's share: the cases with lower <= id < upper (None: unbounded), up to the log's `head`."""

    index: int
    params: dict[str, Any]
    schema: str
    events_table: str
    names: tuple[str, ...]
    lower: Any
    upper: Any
    head: int
    batch_size: int
    parent: int  # the runner's pid: a worker whose runner is gone stops


def bounds(parts: int, as_uuid: bool) -> list[tuple[Any, Any]]:
    """`parts` ranges of equal width over the UUID space (case ids are random UUIDs, so the parts are about even)."""
    cuts: list[Any] = [UUID(int=UUID_SPAN * k // parts) for k in range(1, parts)]
    if not as_uuid:
        cuts = [str(cut) for cut in cuts]
    edges = [None, *cuts, None]
    return list(itertools.pairwise(edges))


def supported(projections: Sequence[Projection]) -> bool:
    return bool(projections) and all(
        isinstance(p, TimelineProjection | CasesProjection) and p.name in SUPPORTED for p in projections
    )


def load(
    params: dict[str, Any],
    schema: str,
    events_table: str,
    projections: Sequence[Projection],
    head: int,
    workers: int,
    batch_size: int,
    progress: Callable[[int], None] | None = None,
) -> int:
    """Loads the rebuild tables (made, empty, without secondary indexes) with `workers` processes; returns the number
    of case events they read. Raises PartFailed when a worker stops (the others are stopped)."""
    with psycopg.connect(**params, autocommit=True) as connection:
        found = connection.execute(
            "SELECT format_type(a.atttypid, a.atttypmod) FROM pg_attribute a"
            " WHERE a.attrelid = %s::regclass AND a.attname = 'originator_id'",
            (sql.Identifier(schema, events_table).as_string(connection),),
        ).fetchone()
    as_uuid = found is not None and found[0] == "uuid"
    names = tuple(p.name for p in projections)
    batch = min(batch_size, MAX_PART_BATCH)
    # Worker processes of their own (`python -m projections.parallel`, the part as JSON on stdin), not
    # multiprocessing: no fork of a process with threads and open connections, and no import of the host's main
    # module (a server, the CLI, a test runner). Each reports on stdout: "read N" lines, then "done N" or "failed".
    env = {**os.environ, "PYTHONPATH": os.pathsep.join(filter(None, [str(ROOT), os.environ.get("PYTHONPATH")]))}
    lines: queue.Queue[tuple[int, str]] = queue.Queue()
    processes: list[subprocess.Popen[str]] = []
    read = [0] * workers
    finished: dict[int, int] = {}
    try:
        for index, (lower, upper) in enumerate(bounds(workers, as_uuid=False)):
            part = Part(index, params, schema, events_table, names, lower, upper, head, batch, os.getpid())
            process = subprocess.Popen(
                [sys.executable, "-m", "projections.parallel"],
                stdin=subprocess.PIPE,
                stdout=subprocess.PIPE,
                stderr=subprocess.DEVNULL,  # what failed is reported without the event's content (reason_of)
                text=True,
                env=env,
            )
            processes.append(process)
            assert process.stdin is not None
            process.stdin.write(json.dumps({**asdict(part), "as_uuid": as_uuid}))
            process.stdin.close()
            threading.Thread(target=_forward, args=(index, process, lines), daemon=True).start()
        while len(finished) < workers:
            try:
                index, line = lines.get(timeout=0.5)
            except queue.Empty:
                continue
            word, _, rest = line.partition(" ")
            if word == "read":
                read[index] = int(rest)
            elif word == "done":
                finished[index] = int(rest)
            elif word == "failed":
                transient, _, reason = rest.partition(" ")
                raise PartFailed(reason, transient=transient == "transient")
            elif index not in finished:  # its output ended without a word on how (killed, out of memory)
                raise PartFailed(f"a worker ended with {processes[index].wait()}", transient=True)
            if progress:
                progress(sum(read))
    finally:
        for process in processes:
            if process.poll() is None:
                process.terminate()
        for process in processes:
            try:
                process.wait(10)
            except subprocess.TimeoutExpired:
                process.kill()
    return sum(finished.values())


def _forward(index: int, process: subprocess.Popen[str], lines: queue.Queue[tuple[int, str]]) -> None:
    """Hands a worker's report lines to the runner; an empty line when its output ends."""
    assert process.stdout is not None
    for line in process.stdout:
        lines.put((index, line.strip()))
    lines.put((index, ""))


def main() -> None:
    """A worker: loads the part given as JSON on stdin, reporting on stdout."""
    given = json.loads(sys.stdin.read())
    as_uuid = given.pop("as_uuid")
    for edge in ("lower", "upper"):
        if given[edge] is not None and as_uuid:
            given[edge] = UUID(given[edge])
    given["names"] = tuple(given["names"])
    part = Part(**given)

    def report(count: int) -> None:
        print(f"read {count}", flush=True)

    try:
        count = load_part(part, report)
    except BaseException as error:
        transient = isinstance(error, psycopg.OperationalError | psycopg.InterfaceError)
        reason = " ".join(reason_of(error).split())  # one line
        print(f"failed {'transient' if transient else 'event'} {reason}", flush=True)
        raise SystemExit(1) from None
    print(f"done {count}", flush=True)


def load_part(part: Part, report: Callable[[int], None]) -> int:
    """Reads the part's case events in key order (case by case) and writes each complete case's rows."""
    timeline = TimelineProjection() if "timeline" in part.names else None
    cases = CasesProjection() if "cases" in part.names else None
    if cases is not None:
        cases.begin_bulk()
    where = [sql.SQL("notification_id <= %s"), sql.SQL("topic LIKE %s")]
    args: list[Any] = [part.head, CASE_TOPIC_PREFIX.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_") + "%"]
    if part.lower is not None:
        where.append(sql.SQL("originator_id >= %s"))
        args.append(part.lower)
    if part.upper is not None:
        where.append(sql.SQL("originator_id < %s"))
        args.append(part.upper)
    query = sql.SQL(
        "SELECT notification_id, originator_id::text, topic, state FROM {t} WHERE {w}"
        " ORDER BY originator_id, originator_version"
    ).format(t=sql.Identifier(part.schema, part.events_table), w=sql.SQL(" AND ").join(where))
    copies = {
        spec.name: sql.SQL("COPY {t} ({c}) FROM STDIN").format(
            t=sql.Identifier(part.schema, spec.name + REBUILD_SUFFIX),
            c=sql.SQL(", ").join(sql.Identifier(c) for c in spec.column_names),
        )
        for projection in (timeline, cases)
        if projection is not None
        for spec in projection.tables
    }
    held: dict[str, list[tuple[Any, ...]]] = {}  # timeline rows of cases not known to be complete yet
    count = 0
    last_originator, case_id = None, ""
    with psycopg.connect(**part.params) as reader, psycopg.connect(**part.params) as writer:
        # The key order comes from the primary key's index: never a sort of the whole part.
        reader.execute("SET enable_sort = off")
        reader.execute("SET jit = off")  # a plan this simple gains nothing from compiling
        writer.execute("SET synchronous_commit = off")
        with (
            reader.cursor(name=f"samverkan_rebuild_part_{part.index}", binary=True) as cursor,
            ThreadPoolExecutor(max_workers=1, thread_name_prefix="rebuild-part-reader") as prefetch,
        ):
            cursor.execute(query, args)
            # The next batch is fetched while this one is folded and written (the key-order read waits on the
            # server's random reads of the table more than on this process).
            pending = prefetch.submit(cursor.fetchmany, part.batch_size)
            while True:
                rows = pending.result()
                if rows:
                    pending = prefetch.submit(cursor.fetchmany, part.batch_size)
                if os.getppid() != part.parent:
                    raise SystemExit(1)  # the runner is gone: what this wrote is thrown away by the next rebuild
                events: list[StoredEvent] = []
                for position, originator, topic, state in rows:
                    if originator != last_originator:  # a case's events come together: its id made once
                        last_originator, case_id = originator, uuid_text(originator)
                    events.append(decode_case(position, case_id, topic, state))
                count += len(rows)
                out = _complete_rows(timeline, cases, held, events, last=not rows)
                with writer.cursor() as write:
                    for table, table_rows in out.items():
                        if table_rows:
                            with write.copy(copies[table]) as copy:
                                for row in table_rows:
                                    copy.write_row(row)
                writer.commit()
                report(count)
                if not rows:
                    break
        reader.commit()
    return count


def _complete_rows(
    timeline: TimelineProjection | None,
    cases: CasesProjection | None,
    held: dict[str, list[tuple[Any, ...]]],
    events: list[StoredEvent],
    *,
    last: bool,
) -> dict[str, list[tuple[Any, ...]]]:
    """Folds a batch; returns the rows of the cases it completed, by table (`held` keeps the timeline rows of the
    case that may go on in the next batch: the batch's last one, unless this is the last batch)."""
    open_case = None if last or not events else events[-1].case_id
    out: dict[str, list[tuple[Any, ...]]] = {}
    if timeline is not None:
        for event in events:
            row = timeline.row(event)
            if row is None:
                held.pop(event.case_id, None)  # an erasure: the case's rows so far are dropped
            else:
                held.setdefault(event.case_id, []).append(row)
        complete = [case_id for case_id in held if case_id != open_case]
        out[TIMELINE.name] = [row for case_id in complete for row in held.pop(case_id)]
    if cases is not None:
        cases.process(events, _no_facts)
        for operation in cases.end_bulk() if last else cases.flush_bulk(open_case):
            if isinstance(operation, Upsert):
                out.setdefault(operation.table, []).append(operation.row)
            elif not (isinstance(operation, Delete) and operation.table == CASES.name):
                # (a Delete of an erased case's row: in a bulk load that row was never written)
                raise TypeError(f"unexpected cases operation {type(operation).__name__}")
    return out


def _no_facts(_: Sequence[str]) -> dict[str, Any]:
    return {}


if __name__ == "__main__":
    main()
