"""Benchmark: recording agency decisions, against the bare library and raw driver inserts in the same run.

For each engine (PostgreSQL, SQLite) it measures three loops, one transaction per operation:

1. raw: single-row INSERT + COMMIT with plain psycopg / sqlite3 (rows/s);
2. library: a bare `eventsourcing` Application saving one small event per save (events/s);
3. samverkan: `CoordinationService.record_decision`, consent-gated, round-robin over enrolled participants
   (decisions/s; enrolment and consent are set up first and not timed).

Each loop gets WARMUP untimed operations, then N timed ones. The three loops run interleaved, in rounds of
--chunk operations of each (order rotated), so that all three see the same disk conditions: on shared or
rate-limited disks the cost of a commit can change by an order of magnitude within a minute.
The figures that matter are the ratios against raw, since absolute rates depend on the machine's disks.

4. group commit (--clients C, default 16): C threads record gated decisions at once, each on participants of its
   own, through the service's group commit (coordination/group_commit.py); against the raw 1-client loop run
   just before and just after it (n operations each). Prints decisions/s, the ratio, p50/p99 and decisions per
   commit.

    python bench/record.py [--engine postgres|sqlite|both] [--decisions N] [--participants P] [--chunk C]
                           [--clients C] [--pg-url URL]
"""

# ruff: noqa: E402 - the path fix below must run before the project's imports

from __future__ import annotations

import sys
from pathlib import Path

# Run as a script, this folder comes first on sys.path (its http.py would shadow the standard library's `http`
# package); put the project root there instead, so `bench.benchlib` is found as in the other benchmarks.
ROOT = Path(__file__).resolve().parent.parent
if sys.path and Path(sys.path[0] or ".").resolve() == Path(__file__).resolve().parent:
    sys.path[0] = str(ROOT)

import argparse
import base64
import contextlib
import json
import os
import platform
import secrets
import shutil
import sqlite3
import statistics
import tempfile
import threading
import time
import uuid
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta
from importlib.metadata import version
from pathlib import Path
from typing import Any

import psycopg
from eventsourcing.application import Application
from eventsourcing.domain import Aggregate, event
from eventsourcing.sqlite import SQLiteDatastore
from eventsourcing.utils import Environment, EnvType
from psycopg import sql
from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeRemainingColumn
from rich.table import Table

from adapters.settings import Settings
from adapters.storage import DatabaseTarget, open_storage, parse_database_url
from bench.benchlib import cpu_model, enrol_with_consent, pg_connect, pg_url
from consent import local_date
from coordination.personnummer import fictitious_personnummer

DEFAULT_PG_URL = "postgresql://postgres@127.0.0.1:5432/test"
WARMUP = 100
DEFAULT_CHUNK = 20  # operations of each loop per interleaving round
TARGET_RATIO = 0.38  # single client: samverkan decisions/s over raw rows/s, on PostgreSQL (no regression)
GROUP_TARGET_RATIO = 1.0  # --clients 16: gated decisions/s over the raw 1-client INSERT+COMMIT rate
GROUP_TARGET_P99_MS = 50.0
LOOPS = ("raw", "library", "samverkan")

SUMMARY = "Sjukpenning beviljad på halvtid från 1 oktober; avstämning med arbetsgivare och Arbetsförmedlingen i vår."

console = Console(width=max(shutil.get_terminal_size((150, 24)).columns, 140))  # the tables need ~140 columns
Operation = Callable[[int], None]


# -- measuring ----------------------------------------------------------------------------------------------------


@dataclass
class Measurement:
    """Timed operations of one loop: wall and CPU time, each operation's latency, and each round's rate."""

    count: int = 0
    seconds: float = 0.0
    cpu_seconds: float = 0.0
    latencies: list[float] = field(default_factory=list)
    round_rates: list[float] = field(default_factory=list)

    @property
    def rate(self) -> float:
        return self.count / self.seconds

    @property
    def cpu_ms(self) -> float:
        """This process's CPU time per operation (the database server's is not included)."""
        return self.cpu_seconds / self.count * 1000

    def percentile_ms(self, q: int) -> float:
        cuts = statistics.quantiles(self.latencies, n=100, method="inclusive")
        return cuts[q - 1] * 1000


def measure(operations: dict[str, Operation], n: int, chunk: int) -> dict[str, Measurement]:
    """Warms each operation up, then runs n timed operations of each, interleaved in rounds of `chunk`.

    `operation(i)` gets a running index per loop (warm-up included), so keys made from it stay unique.
    """
    for operation in operations.values():
        for i in range(WARMUP):
            operation(i)
    results = {name: Measurement() for name in operations}
    done = dict.fromkeys(operations, WARMUP)
    names = list(operations)
    wall, cpu = time.perf_counter, time.process_time
    with Progress(
        TextColumn("  {task.description:<10}"),
        BarColumn(),
        MofNCompleteColumn(),
        TimeRemainingColumn(),
        console=console,
        transient=True,
        disable=not console.is_terminal,
    ) as progress:
        task = progress.add_task("timing", total=n * len(names))
        for r, first_of_round in enumerate(range(0, n, chunk)):
            size = min(chunk, n - first_of_round)
            for name in names[r % len(names) :] + names[: r % len(names)]:
                progress.update(task, description=name)
                operation, result, first = operations[name], results[name], done[name]
                latencies = result.latencies
                began_cpu = cpu()
                began = wall()
                for i in range(first, first + size):
                    started = wall()
                    operation(i)
                    latencies.append(wall() - started)
                seconds = wall() - began
                result.cpu_seconds += cpu() - began_cpu
                result.seconds += seconds
                result.count += size
                result.round_rates.append(size / seconds)
                done[name] += size
                progress.advance(task, size)
    for name, result in results.items():
        console.print(
            f"  {name:<10} {result.rate:9.1f}/s   p50 {result.percentile_ms(50):6.2f} ms"
            f"   p99 {result.percentile_ms(99):6.2f} ms   client CPU {result.cpu_ms:5.2f} ms/op"
        )
    return results


@dataclass
class Concurrent:
    """The group-commit phase: `clients` threads recording at once, against the raw 1-client loop around it."""

    clients: int
    raw_before: Measurement
    raw_after: Measurement
    group: Measurement
    commits: int
    changes: int

    @property
    def raw_rate(self) -> float:
        """The raw 1-client rate over both raw runs (before and after), so a drift of the disk is shared."""
        return (self.raw_before.count + self.raw_after.count) / (self.raw_before.seconds + self.raw_after.seconds)

    @property
    def ratio(self) -> float:
        return self.group.rate / self.raw_rate


def timed_serial(operation: Operation, first: int, n: int) -> Measurement:
    result = Measurement()
    began, began_cpu = time.perf_counter(), time.process_time()
    for i in range(first, first + n):
        started = time.perf_counter()
        operation(i)
        result.latencies.append(time.perf_counter() - started)
    result.seconds = time.perf_counter() - began
    result.cpu_seconds = time.process_time() - began_cpu
    result.count = n
    result.round_rates.append(n / result.seconds)
    return result


def measure_concurrent(raw: Operation, record: Any, n: int, clients: int) -> Concurrent:
    """Raw 1-client loop (n), then `clients` threads recording n decisions in all (each on its own
    participants, so they meet only in the commits), then the raw loop again (n)."""
    first = 1_000_000  # keys apart from the interleaved loops'
    service = record.service
    committer = service.group_commit
    commits0, changes0 = (committer.commits, committer.changes) if committer is not None else (0, 0)
    raw_before = timed_serial(raw, first, n)
    per_client = max(1, n // clients)
    latencies: list[list[float]] = [[] for _ in range(clients)]
    errors: list[BaseException] = []
    start = threading.Barrier(clients + 1)

    def client(c: int) -> None:
        mine = latencies[c]
        start.wait()
        try:
            for k in range(per_client):
                i = first + c * per_client + k
                started = time.perf_counter()
                record(i, case=c + clients * (k % 3))  # three participants per client, none shared
                mine.append(time.perf_counter() - started)
        except BaseException as error:
            errors.append(error)

    threads = [threading.Thread(target=client, args=(c,)) for c in range(clients)]
    for thread in threads:
        thread.start()
    began_cpu = time.process_time()
    start.wait()
    began = time.perf_counter()
    for thread in threads:
        thread.join()
    group = Measurement(
        count=per_client * clients,
        seconds=time.perf_counter() - began,
        cpu_seconds=time.process_time() - began_cpu,
        latencies=[x for mine in latencies for x in mine],
    )
    if errors:
        raise RuntimeError(f"{len(errors)} client(s) failed; the first: {errors[0]!r}")
    raw_after = timed_serial(raw, first + n, n)
    commits, changes = (committer.commits, committer.changes) if committer is not None else (0, 0)
    result = Concurrent(clients, raw_before, raw_after, group, commits - commits0, changes - changes0)
    per_commit = f"{result.changes / result.commits:.1f}" if result.commits else "-"
    console.print(
        f"  group      {group.rate:9.1f}/s   p50 {group.percentile_ms(50):6.2f} ms"
        f"   p99 {group.percentile_ms(99):6.2f} ms"
        f"   {clients} clients; {result.commits} commits, {per_commit} decisions per commit;"
        f" raw 1 client around it {result.raw_rate:.1f}/s"
    )
    return result


def raw_payload(i: int) -> str:
    """A ~300-byte JSON document shaped like a decision."""
    return json.dumps(
        {
            "agency": "FK",
            "category": "insurance",
            "decision_type": "sjukpenning",
            "effective_date": "2026-10-01",
            "summary": SUMMARY,
            "source_ref": f"FK-BENCH-{i:07d}",
            "by": "handlaggare-fk",
        },
        ensure_ascii=False,
    )


# -- the bare library ---------------------------------------------------------------------------------------------


class Note(Aggregate):
    """A tiny aggregate: each `note` is one small event."""

    def __init__(self) -> None:
        self.count = 0

    @event("Noted")
    def note(self, text: str) -> None:
        self.count += 1


class BareLibrary(Application):
    """The library's Application with nothing added; configured only by the env it is given."""

    name = "BenchLibrary"

    def construct_env(self, name: str, env: EnvType | None = None) -> Environment:
        return Environment(name, dict(env or {}))


@contextlib.contextmanager
def bare_library(env: dict[str, str]) -> Iterator[Operation]:
    """Saves one `Noted` event per transaction, on one aggregate kept in memory (no reads)."""
    app = BareLibrary(env)
    try:
        note = Note()
        app.save(note)

        def save_one(i: int) -> None:
            note.note(raw_payload(i))
            app.save(note)

        yield save_one
    finally:
        app.close()


# -- Samverkan ----------------------------------------------------------------------------------------------------


def bench_settings(database_url: str, key_dir: Path) -> Settings:
    """The service's default settings, on the given database, with fresh random keys."""
    keys = {name: base64.b64encode(secrets.token_bytes(32)).decode() for name in ("master_key", "lookup_key")}
    return Settings(database_url=database_url, key_file=key_dir / "keys.json", **keys)


@contextlib.contextmanager
def samverkan(settings: Settings, participants: int) -> Iterator[Operation]:
    """Enrols participants with a written FK->SF insurance consent each; records decisions round-robin."""
    today = local_date(datetime.now(UTC))
    with open_storage(settings) as storage:
        service = storage.service
        case_ids = []
        console.print(f"  setup      enrolling {participants} participants, one consent each (not timed)")
        for p in range(participants):
            number = fictitious_personnummer(
                date(1960, 1, 1) + timedelta(days=37 * p), p % 100, gender="female" if p % 2 else "male"
            )
            case_ids.append(enrol_with_consent(service, number, "Benchsson", today))

        def record_one(i: int, case: int | None = None) -> None:
            outcome = service.record_decision(
                case_ids[i % participants if case is None else case % participants],
                by="handlaggare-fk",
                agency="FK",
                category="insurance",
                decision_type="sjukpenning",
                effective_date=today,
                summary=SUMMARY,
                source_ref=f"FK-BENCH-{i:07d}",
            )
            if not outcome.created:
                raise RuntimeError(f"decision {i} was not stored (its source_ref was already known)")

        record_one.service = service  # type: ignore[attr-defined] - for the group-commit figures
        yield record_one


# -- PostgreSQL ---------------------------------------------------------------------------------------------------


def create_schema(target: DatabaseTarget, schema: str) -> None:
    with pg_connect(target, autocommit=True) as conn:
        conn.execute(sql.SQL("CREATE SCHEMA {}").format(sql.Identifier(schema)))


@contextlib.contextmanager
def pg_raw(target: DatabaseTarget, schema: str) -> Iterator[Operation]:
    """Plain psycopg: INSERT one row, COMMIT."""
    table = sql.Identifier(schema, "raw_rows")
    with pg_connect(target) as conn:
        conn.execute(
            sql.SQL(
                "CREATE TABLE {} (id uuid PRIMARY KEY, payload jsonb NOT NULL, recorded_at timestamptz NOT NULL)"
            ).format(table)
        )
        conn.commit()
        insert = sql.SQL("INSERT INTO {} (id, payload, recorded_at) VALUES (%s, %s, %s)").format(table)

        def insert_one(i: int) -> None:
            conn.execute(insert, (uuid.uuid4(), raw_payload(i), datetime.now(UTC)))
            conn.commit()

        yield insert_one


def run_postgres(
    target: DatabaseTarget, n: int, participants: int, chunk: int, clients: int
) -> tuple[dict[str, Measurement], Concurrent | None]:
    run = uuid.uuid4().hex[:10]
    schemas = {loop: f"bench_{run}_{loop}" for loop in LOOPS}
    try:
        with contextlib.ExitStack() as stack:
            tmp = Path(stack.enter_context(tempfile.TemporaryDirectory(prefix="samverkan-bench-")))
            create_schema(target, schemas["raw"])
            create_schema(target, schemas["library"])
            library_env = {
                "PERSISTENCE_MODULE": "eventsourcing.postgres",
                "POSTGRES_DBNAME": target.dbname,
                "POSTGRES_HOST": target.host,
                "POSTGRES_PORT": str(target.port),
                "POSTGRES_USER": target.user,
                "POSTGRES_PASSWORD": target.password,
                "POSTGRES_SCHEMA": schemas["library"],
            }
            operations = {
                "raw": stack.enter_context(pg_raw(target, schemas["raw"])),
                "library": stack.enter_context(bare_library(library_env)),
                # open_storage makes its schema itself.
                "samverkan": stack.enter_context(
                    samverkan(bench_settings(pg_url(target, schemas["samverkan"]), tmp), participants)
                ),
            }
            results = measure(operations, n, chunk)
            concurrent = (
                measure_concurrent(operations["raw"], operations["samverkan"], n, clients) if clients > 1 else None
            )
            return results, concurrent
    finally:
        with pg_connect(target, autocommit=True) as conn:
            for schema in schemas.values():
                conn.execute(sql.SQL("DROP SCHEMA IF EXISTS {} CASCADE").format(sql.Identifier(schema)))


# -- SQLite -------------------------------------------------------------------------------------------------------


def library_sqlite_synchronous(path: Path) -> int:
    """PRAGMA synchronous on a connection the library opens (it sets WAL mode and leaves this at the default)."""
    datastore = SQLiteDatastore(str(path))
    try:
        with datastore.transaction(commit=False) as cursor:
            cursor.execute("PRAGMA synchronous")
            return int(cursor.fetchone()[0])
    finally:
        datastore.close()


@contextlib.contextmanager
def sqlite_raw(path: Path, synchronous: int) -> Iterator[Operation]:
    """Plain sqlite3 in WAL mode: BEGIN, INSERT one row, COMMIT."""
    conn = sqlite3.connect(path, isolation_level=None)
    try:
        conn.execute("PRAGMA journal_mode=WAL")
        conn.execute(f"PRAGMA synchronous={synchronous}")
        conn.execute("CREATE TABLE raw_rows (id TEXT PRIMARY KEY, payload TEXT NOT NULL, recorded_at TEXT NOT NULL)")
        insert = "INSERT INTO raw_rows (id, payload, recorded_at) VALUES (?, ?, ?)"

        def insert_one(i: int) -> None:
            conn.execute("BEGIN")
            conn.execute(insert, (uuid.uuid4().hex, raw_payload(i), datetime.now(UTC).isoformat()))
            conn.execute("COMMIT")

        yield insert_one
    finally:
        conn.close()


def run_sqlite(n: int, participants: int, chunk: int, clients: int) -> tuple[dict[str, Measurement], Concurrent | None]:
    with contextlib.ExitStack() as stack:
        folder = Path(stack.enter_context(tempfile.TemporaryDirectory(prefix="samverkan-bench-")))
        synchronous = library_sqlite_synchronous(folder / "probe.db")
        console.print(f"  sqlite     journal_mode=WAL, synchronous={synchronous} (as on the library's connections)")
        library_env = {"PERSISTENCE_MODULE": "eventsourcing.sqlite", "SQLITE_DBNAME": str(folder / "library.db")}
        operations = {
            "raw": stack.enter_context(sqlite_raw(folder / "raw.db", synchronous)),
            "library": stack.enter_context(bare_library(library_env)),
            "samverkan": stack.enter_context(
                samverkan(bench_settings(f"sqlite:///{folder / 'samverkan.db'}", folder), participants)
            ),
        }
        results = measure(operations, n, chunk)
        concurrent = measure_concurrent(operations["raw"], operations["samverkan"], n, clients) if clients > 1 else None
        return results, concurrent


# -- reporting ----------------------------------------------------------------------------------------------------


def print_machine(target: DatabaseTarget | None) -> None:
    console.print(f"machine    {cpu_model()}, {os.cpu_count()} cores, {platform.platform()}")
    console.print(
        f"software   Python {platform.python_version()}, eventsourcing {version('eventsourcing')}, "
        f"psycopg {psycopg.__version__}, SQLite {sqlite3.sqlite_version}"
    )
    if target is not None:
        with pg_connect(target, autocommit=True) as conn:
            server, sync = (
                conn.execute(f"SHOW {name}").fetchone() for name in ("server_version", "synchronous_commit")
            )
        console.print(
            f"postgres   {server[0] if server else '?'} at {target.host}:{target.port}, "
            f"synchronous_commit={sync[0] if sync else '?'}"
        )


def spread(values: list[float]) -> str:
    """The 10th to 90th percentile of the per-round ratios: how much the disk's mood moved them."""
    if len(values) < 2:
        return "-"
    deciles = statistics.quantiles(values, n=10, method="inclusive")
    return f"{deciles[0]:.2f}-{deciles[-1]:.2f}"


def print_results(results: dict[str, dict[str, Measurement]], n: int, participants: int) -> None:
    table = Table(title=f"Recording, one transaction per operation (N={n}, {participants} participants)")
    for heading in ("engine", "raw rows/s", "library events/s", "samverkan decisions/s"):
        table.add_column(heading, justify="right")
    for heading in ("samverkan/raw", "per round p10-p90", "library/raw", "samverkan/library"):
        table.add_column(heading, justify="right")
    for engine, m in results.items():
        raw, library, decisions = m["raw"], m["library"], m["samverkan"]
        per_round = [s / r for s, r in zip(decisions.round_rates, raw.round_rates, strict=True)]
        table.add_row(
            engine,
            f"{raw.rate:.0f}",
            f"{library.rate:.0f}",
            f"{decisions.rate:.0f}",
            f"{decisions.rate / raw.rate:.2f}",
            spread(per_round),
            f"{library.rate / raw.rate:.2f}",
            f"{decisions.rate / library.rate:.2f}",
        )
    console.print(table)

    latency = Table(title="Latency per operation (ms) and this process's CPU per operation (ms)")
    for heading in ("engine", "raw p50", "raw p99", "library p50", "library p99", "decision p50", "decision p99"):
        latency.add_column(heading, justify="right")
    for heading in ("CPU raw", "CPU library", "CPU decision"):
        latency.add_column(heading, justify="right")
    for engine, m in results.items():
        loops = [m[loop] for loop in LOOPS]
        latency.add_row(
            engine,
            *(f"{x.percentile_ms(q):.2f}" for x in loops for q in (50, 99)),
            *(f"{x.cpu_ms:.2f}" for x in loops),
        )
    console.print(latency)

    if "postgres" not in results:
        console.print(f"target (PostgreSQL): samverkan/raw >= {TARGET_RATIO}: not measured")
        return
    ratio = results["postgres"]["samverkan"].rate / results["postgres"]["raw"].rate
    verdict = "MET" if ratio >= TARGET_RATIO else "MISS"
    console.print(f"target (PostgreSQL): single client, samverkan/raw >= {TARGET_RATIO}: {verdict} ({ratio:.2f})")


def print_concurrent(concurrent: dict[str, Concurrent]) -> None:
    if not concurrent:
        return
    table = Table(title="Group commit: concurrent clients recording gated decisions, against raw with 1 client")
    for heading in ("engine", "clients", "raw 1 client rows/s", "decisions/s", "ratio", "p50 ms", "p99 ms"):
        table.add_column(heading, justify="right")
    for heading in ("commits", "decisions/commit", "client CPU ms/decision"):
        table.add_column(heading, justify="right")
    for engine, c in concurrent.items():
        table.add_row(
            engine,
            str(c.clients),
            f"{c.raw_rate:.0f}",
            f"{c.group.rate:.0f}",
            f"{c.ratio:.2f}",
            f"{c.group.percentile_ms(50):.2f}",
            f"{c.group.percentile_ms(99):.2f}",
            str(c.commits),
            f"{c.changes / c.commits:.1f}" if c.commits else "-",
            f"{c.group.cpu_ms:.2f}",
        )
    console.print(table)
    pg = concurrent.get("postgres")
    if pg is None:
        console.print(f"target (PostgreSQL): group commit >= {GROUP_TARGET_RATIO}x raw 1 client: not measured")
        return
    met = "MET" if pg.ratio >= GROUP_TARGET_RATIO else "MISS"
    console.print(
        f"target (PostgreSQL): group commit, {pg.clients} clients, decisions/s >= {GROUP_TARGET_RATIO}x raw 1-client "
        f"INSERT+COMMIT: {met} ({pg.ratio:.2f})"
    )
    p99 = pg.group.percentile_ms(99)
    met = "MET" if p99 <= GROUP_TARGET_P99_MS else "MISS"
    console.print(f"target (PostgreSQL): group commit p99 <= {GROUP_TARGET_P99_MS:.0f} ms: {met} ({p99:.1f} ms)")


# -- main ---------------------------------------------------------------------------------------------------------


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    parser.add_argument("--engine", choices=("postgres", "sqlite", "both"), default="both")
    parser.add_argument("--decisions", type=int, default=2000, metavar="N", help="timed operations per loop")
    parser.add_argument("--participants", type=int, default=50, metavar="P", help="enrolled participants")
    parser.add_argument(
        "--chunk", type=int, default=DEFAULT_CHUNK, help="operations of each loop per round (N: one loop after another)"
    )
    parser.add_argument(
        "--clients", type=int, default=16, help="threads recording at once in the group-commit phase (1: skip it)"
    )
    parser.add_argument("--pg-url", default=os.environ.get("SAMVERKAN_BENCH_POSTGRES_URL", DEFAULT_PG_URL))
    args = parser.parse_args(argv)
    if args.clients < 1:
        parser.error("need --clients >= 1")
    args.participants = max(args.participants, 3 * args.clients)  # three participants of its own per client
    if args.participants < 1 or args.chunk < 1 or args.decisions < 2:
        parser.error("need --decisions >= 2, --participants >= 1 and --chunk >= 1")
    return args


def main(argv: list[str] | None = None) -> None:
    args = parse_args(argv)
    engines = ["postgres", "sqlite"] if args.engine == "both" else [args.engine]
    target = None
    if "postgres" in engines:
        target = parse_database_url(args.pg_url)
        if target.engine != "postgres" or target.schema:
            raise SystemExit("--pg-url must be a postgresql:// URL without ?schema= (each loop gets its own schema)")
    print_machine(target)
    console.print(
        f"workload   N={args.decisions} timed operations per loop after {WARMUP} warm-up, interleaved in "
        f"rounds of {args.chunk}; {args.participants} participants; raw payload {len(raw_payload(0).encode())} "
        f"bytes; decision summary {len(SUMMARY)} characters"
    )
    results: dict[str, dict[str, Measurement]] = {}
    concurrent: dict[str, Concurrent] = {}
    for engine in engines:
        console.rule(engine)
        if engine == "postgres":
            assert target is not None
            results[engine], group = run_postgres(target, args.decisions, args.participants, args.chunk, args.clients)
        else:
            results[engine], group = run_sqlite(args.decisions, args.participants, args.chunk, args.clients)
        if group is not None:
            concurrent[engine] = group
    print_results(results, args.decisions, args.participants)
    print_concurrent(concurrent)


if __name__ == "__main__":
    main()
