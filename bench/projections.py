"""Benchmark: the projections on PostgreSQL, against a plain psycopg read of the same log in the same run.

In one run, on fresh schemas it makes and drops itself:

1. setup (not timed into the results): fills a schema with about N case events through the domain model
   (`adapters.demo.bulk_cases`: many cases per transaction, about 14 events a case), after a small probe that
   gives the rate and an ETA; then VACUUM ANALYZE, as a table in service would have had. A second schema gets
   about 10k events, for the view comparison;
2. raw: a plain psycopg server-side cursor (itersize 5000) reads every row of the log in order, before and
   after the rebuild (rows/s);
3. rebuild: `ProjectionRunner.rebuild(batch_size=5000)` of all projections from position zero, in a fresh
   subprocess of this script (so that the setup has not raised its peak memory), timed (events/s), with its
   peak RSS (ru_maxrss, VmHWM and sampled VmRSS; with the worker processes that load the tables on
   PostgreSQL, the sum over the runner and its workers sampled at the same instants is what the target is held
   to), its CPU and its workers' CPU, the split between the load phase and the finish (indexes, tail, swap),
   and the time spent in Python's cyclic GC. `--workers N` sets the number of loading processes (1: the load
   in log order in the runner itself);
4. view latency, in process: GET /view through the read door (load the case, ask the gate, build the
   gated view for AF, serialise it with pydantic), for the same number of random participants with AF
   decisions in the small and the big schema, interleaved; a cold pass (fresh service: first read of each
   participant, empty aggregate and key caches) and a warm pass (the same participants again). The
   disclosure-log append is included (as in the route);
5. live lag (unless --skip-lag): `samverkan projections run` as a subprocess follows the big schema while this
   process records FK decisions at a steady rate (one `record_decision` per write, for participants whose
   consent lets FK share with SF, in open cases); a third process polls the timeline projection's tracking row, sleeping
   1 ms between polls (a process of its own, so the writer's GIL cannot delay its polls). Lag of a write = when
   the poller first saw the position reach the write's position minus when the write returned (both clocks are
   CLOCK_MONOTONIC; the poll's time is when its answer arrived, so lags are upper bounds by about a poll).

    python bench/projections.py [--events 1000000] [--pg-url URL] [--skip-lag] [--keep]
                                [--schema S] [--profile FILE] [--workers N]

--schema reuses a schema filled by an earlier run with --keep (no fill; never dropped). --profile runs the
rebuild under cProfile (its main thread only: the reader thread that prefetches batches is not in it) and
prints where the time went; the rebuild figures of such a run include cProfile's overhead. With worker processes
(the default on PostgreSQL for a long log) the runner's main thread only waits: profile with --workers 1.
"""

# ruff: noqa: E402 - the path fix below must run before the imports of the project's packages

from __future__ import annotations

import sys
from pathlib import Path

# This file is named projections.py: run as a script, its folder comes first on sys.path and would shadow the
# project's `projections` package. Put the project root there instead (it also makes `tests` importable).
ROOT = Path(__file__).resolve().parent.parent
if sys.path and Path(sys.path[0] or ".").resolve() == Path(__file__).resolve().parent:
    sys.path[0] = str(ROOT)

import argparse
import bisect
import contextlib
import cProfile
import gc
import json
import os
import platform
import pstats
import random
import resource
import shutil
import signal
import statistics
import subprocess
import tempfile
import threading
import time
import uuid
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime
from importlib.metadata import version
from typing import Any
from uuid import UUID

import psycopg
from psycopg import sql
from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeRemainingColumn
from rich.table import Table

from adapters.access import Caller
from adapters.auth import Role
from adapters.demo import bulk_cases
from adapters.disclosure_log import DisclosureLog
from adapters.http.schemas import ViewPublic
from adapters.projections import projection_runner
from adapters.read_service import ReadService
from adapters.settings import Settings
from adapters.signing import ManifestSigner
from adapters.storage import DatabaseTarget, Storage, open_storage, parse_database_url
from bench.benchlib import cpu_model, pg_connect, pg_url
from consent import OWN_CATEGORY, Party, local_date
from coordination import NotPermitted
from projections.definitions import CASES, TIMELINE
from projections.runner import ProjectionRunner
from projections.store import TRACKING_TABLE

DEFAULT_PG_URL = "postgresql://postgres@127.0.0.1:5432/test"
DEFAULT_EVENTS = 1_000_000
SMALL_EVENTS = 10_000
EVENTS_PER_CASE = 14  # about, for bulk_cases; the probe measures it
PROBE_CASES = 200
EVENTS_TABLE = "samverkan_events"
REBUILD_APP_NAME = "samverkan-bench-rebuild"  # the rebuild's PostgreSQL application_name, to find its backends
SUMMARY = "Sjukpenning beviljad på halvtid från 1 oktober; avstämning med arbetsgivare i vår."
CLK_TCK = os.sysconf("SC_CLK_TCK")

# Targets
TARGET_REBUILD_RATIO = 0.35  # rebuild events/s over raw rows/s (issue 13)
TARGET_REBUILD_RATE = 40_000  # events/s
TARGET_REBUILD_RSS_MB = 500  # the rebuild's processes together: the runner and its workers
TARGET_LAG_P99_MS = 50.0
TARGET_VIEW_GROWTH = 0.20  # p50 at N events within 20 % of p50 at 10k events

console = Console(width=max(shutil.get_terminal_size((150, 24)).columns, 130))


# -- small helpers ------------------------------------------------------------------------------------------------


def duration(seconds: float) -> str:
    if seconds < 60:
        return f"{seconds:.1f} s"
    minutes, rest = divmod(round(seconds), 60)
    return f"{minutes} min {rest:02d} s"


def percentile(values: list[float], q: float) -> float:
    """The q-th percentile (0-100), inclusive method; NaN for no values."""
    if not values:
        return float("nan")
    if len(values) == 1:
        return values[0]
    cuts = statistics.quantiles(values, n=1000, method="inclusive")
    return cuts[min(max(round(q * 10) - 1, 0), len(cuts) - 1)]


def verdict(ok: bool) -> str:
    return "[green]PASS[/green]" if ok else "[red]MISS[/red]"


@contextlib.contextmanager
def progress_bar(description: str, total: int, unit: str) -> Iterator[Callable[[int], None]]:
    """Yields update(completed): a rich bar on a terminal, otherwise a line about every 10 %."""
    started = time.perf_counter()

    def rate(done: int) -> str:
        return f"{done / max(time.perf_counter() - started, 1e-9):,.0f} {unit}/s"

    if console.is_terminal:
        with Progress(
            TextColumn(f"  {description:<22}"),
            BarColumn(),
            MofNCompleteColumn(),
            TextColumn("{task.fields[rate]}"),
            TimeRemainingColumn(),
            console=console,
            transient=True,
        ) as bar:
            task = bar.add_task(description, total=max(total, 1), rate="")

            def update(done: int) -> None:
                bar.update(task, completed=done, rate=rate(done))

            yield update
        return
    step = max(total // 10, 1)
    mark = [step]
    last = [-1]

    def report(done: int) -> None:
        if done != last[0] and (done >= mark[0] or done >= total):
            last[0] = done
            elapsed = time.perf_counter() - started
            left = (total - done) * elapsed / done if done else 0.0
            console.print(
                f"  {description}: {done:,}/{total:,} {unit} ({rate(done)}, {duration(elapsed)} so far,"
                f" about {duration(left)} left)"
            )
            while mark[0] <= done:
                mark[0] += step

    yield report


# -- machine and PostgreSQL ---------------------------------------------------------------------------------------


def load_average() -> str:
    with contextlib.suppress(OSError):
        return " ".join(Path("/proc/loadavg").read_text().split()[:3])
    return "?"


def machine_lines(target: DatabaseTarget) -> list[str]:
    with pg_connect(target, autocommit=True) as conn:
        shown = {
            name: (conn.execute(sql.SQL("SHOW {}").format(sql.Identifier(name))).fetchone() or ["?"])[0]
            for name in ("server_version", "synchronous_commit", "shared_buffers", "work_mem")
        }
    memory = "?"
    with contextlib.suppress(OSError, ValueError, IndexError):
        kb = next(int(x.split()[1]) for x in Path("/proc/meminfo").read_text().splitlines() if x.startswith("MemTotal"))
        memory = f"{kb / 1024 / 1024:.0f} GB"
    return [
        f"machine    {cpu_model()}, {os.cpu_count()} cores, {memory} RAM, {platform.platform()}",
        f"software   Python {platform.python_version()}, eventsourcing {version('eventsourcing')}, "
        f"psycopg {psycopg.__version__}, orjson {version('orjson')}, pydantic {version('pydantic')}",
        f"postgres   {shown['server_version']} at {target.host}:{target.port}, synchronous_commit="
        f"{shown['synchronous_commit']}, shared_buffers={shown['shared_buffers']}, work_mem={shown['work_mem']}",
    ]


def drop_schema(target: DatabaseTarget, schema: str) -> None:
    with pg_connect(target, autocommit=True) as conn:
        conn.execute(sql.SQL("DROP SCHEMA IF EXISTS {} CASCADE").format(sql.Identifier(schema)))


def bench_keys() -> dict[str, str]:
    """The deterministic test keys (tests.conftest.fixed_keys): every process of the run opens the same data."""
    from tests.conftest import fixed_keys

    return fixed_keys()


def bench_settings(target: DatabaseTarget, schema: str, key_dir: Path) -> Settings:
    return Settings(
        database_url=pg_url(target, schema),
        key_file=key_dir / "keys.json",
        projections="off",
        log_level="WARNING",
        **bench_keys(),
    )


def samverkan_env(target: DatabaseTarget, schema: str, key_dir: Path) -> dict[str, str]:
    """Environment for `samverkan` subprocesses on the schema, with the same keys."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("SAMVERKAN_")}
    env.update({f"SAMVERKAN_{name.upper()}": value for name, value in bench_keys().items()})
    env.update(
        {
            "SAMVERKAN_DATABASE_URL": pg_url(target, schema),
            "SAMVERKAN_KEY_FILE": str(key_dir / "keys.json"),
            "SAMVERKAN_LOG_LEVEL": "WARNING",
            "SAMVERKAN_PROJECTIONS": "off",
        }
    )
    return env


def _proc_cpu(pid: int) -> float | None:
    """User+system CPU seconds of a process, or None when it cannot be read."""
    try:
        text = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return None
    fields = text[text.rindex(")") + 2 :].split()
    return (int(fields[11]) + int(fields[12])) / CLK_TCK


def _status_kb(name: str) -> int:
    """A field of /proc/self/status in kB (VmRSS, VmHWM); 0 when unknown."""
    with contextlib.suppress(OSError, ValueError, IndexError):
        for line in Path("/proc/self/status").read_text().splitlines():
            if line.startswith(name + ":"):
                return int(line.split()[1])
    return 0


# -- 1. setup -----------------------------------------------------------------------------------------------------


@dataclass
class Fill:
    schema: str
    events: int = 0
    cases: int = 0
    seconds: float = 0.0
    vacuum_seconds: float = 0.0

    @property
    def rate(self) -> float:
        return self.events / self.seconds if self.seconds else 0.0


def fill(target: DatabaseTarget, schema: str, events: int, key_dir: Path, per_transaction: int, label: str) -> Fill:
    """About `events` case events through the domain model (bulk_cases), after a probe that gives an ETA."""
    result = Fill(schema)
    started = time.perf_counter()
    with open_storage(bench_settings(target, schema, key_dir)) as storage:
        service = storage.service
        probe = max(1, min(PROBE_CASES, events // EVENTS_PER_CASE // 5))
        stored = bulk_cases(service, probe, seed=1, per_transaction=per_transaction)
        probe_seconds = time.perf_counter() - started
        per_case, rate = stored / probe, stored / probe_seconds
        rest = max(0, round((events - stored) / per_case))
        eta = rest * per_case / rate
        console.print(
            f"  {label}: probe {probe} cases -> {stored:,} events ({per_case:.1f} a case) in {probe_seconds:.1f} s"
            f" = {rate:,.0f} events/s; {rest:,} more cases, ETA {duration(eta)}"
        )
        if eta > 1800:
            console.print(
                "  [yellow]the fill is slow (over 30 min): bulk_cases is CPU-bound in this process; see the "
                "report[/yellow]"
            )
        if rest:
            with progress_bar(f"filling {label}", rest, "cases") as update:
                done = [0]

                def advance(n: int) -> None:
                    done[0] += n
                    update(done[0])

                stored += bulk_cases(service, rest, seed=2, per_transaction=per_transaction, progress=advance)
        result.cases = probe + rest
    result.seconds = time.perf_counter() - started
    with pg_connect(target, autocommit=True) as conn:
        began = time.perf_counter()
        conn.execute(sql.SQL("VACUUM (ANALYZE) {}").format(sql.Identifier(schema, EVENTS_TABLE)))
        result.vacuum_seconds = time.perf_counter() - began
    result.events = count_events(target, schema)
    console.print(
        f"  {label}: {result.events:,} events in {result.cases:,} cases, stored in {duration(result.seconds)}"
        f" ({result.rate:,.0f} events/s); VACUUM ANALYZE {duration(result.vacuum_seconds)}  (setup, not timed)"
    )
    return result


def count_events(target: DatabaseTarget, schema: str) -> int:
    with pg_connect(target, autocommit=True) as conn:
        row = conn.execute(sql.SQL("SELECT count(*) FROM {}").format(sql.Identifier(schema, EVENTS_TABLE))).fetchone()
    return int(row[0]) if row else 0


# -- 2. raw read --------------------------------------------------------------------------------------------------


@dataclass
class RawRead:
    rows: int
    seconds: float
    cpu_seconds: float

    @property
    def rate(self) -> float:
        return self.rows / self.seconds


def raw_read(target: DatabaseTarget, schema: str) -> RawRead:
    """Every row of the log in order with a plain psycopg server-side cursor, touching each row."""
    query = sql.SQL("SELECT notification_id, originator_id, topic, state FROM {} ORDER BY notification_id").format(
        sql.Identifier(schema, EVENTS_TABLE)
    )
    rows = size = 0
    with pg_connect(target) as conn:
        began, began_cpu = time.perf_counter(), time.process_time()
        with conn.cursor(name="bench_raw_read") as cursor:
            cursor.itersize = 5000
            cursor.execute(query)
            for row in cursor:
                rows += 1
                size += len(row[3])
        seconds, cpu = time.perf_counter() - began, time.process_time() - began_cpu
    result = RawRead(rows, seconds, cpu)
    console.print(
        f"  raw read: {rows:,} rows ({size / 1e6:,.0f} MB of state) in {seconds:.2f} s = {result.rate:,.0f} rows/s"
        f" (client CPU {cpu:.2f} s)"
    )
    return result


# -- 3. rebuild ---------------------------------------------------------------------------------------------------


def _descendants(pid: int) -> list[int]:
    """The pids of a process's children, their children, and so on (Linux /proc)."""
    found: list[int] = []
    with contextlib.suppress(OSError, ValueError):
        for task in Path(f"/proc/{pid}/task").iterdir():
            for child in (task / "children").read_text().split():
                found += [int(child), *_descendants(int(child))]
    return found


def _rss_kb(pid: int) -> int:
    with contextlib.suppress(OSError, ValueError, IndexError, StopIteration):
        line = next(x for x in Path(f"/proc/{pid}/status").read_text().splitlines() if x.startswith("VmRSS:"))
        return int(line.split()[1])
    return 0


class RssSampler:
    """Samples this process's VmRSS, and that of this process with its child processes together (the rebuild's
    workers), every 20 ms in a thread; keeps the peaks."""

    def __init__(self) -> None:
        self.peak_kb = 0
        self.tree_peak_kb = 0  # this process and its descendants, summed at the same instant
        self.most_processes = 1
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name="rss-sampler", daemon=True)

    def _run(self) -> None:
        me = os.getpid()
        while not self._stop.is_set():
            own = _status_kb("VmRSS")
            children = _descendants(me)
            self.peak_kb = max(self.peak_kb, own)
            self.tree_peak_kb = max(self.tree_peak_kb, own + sum(_rss_kb(c) for c in children))
            self.most_processes = max(self.most_processes, 1 + len(children))
            self._stop.wait(0.02)

    def __enter__(self) -> RssSampler:
        self._thread.start()
        return self

    def __exit__(self, *_: object) -> None:
        self._stop.set()
        self._thread.join()
        self.peak_kb = max(self.peak_kb, _status_kb("VmRSS"))


class GcTimer:
    """Time spent in the cyclic garbage collector, per generation, while installed (gc.callbacks)."""

    def __init__(self) -> None:
        self.seconds = [0.0, 0.0, 0.0]
        self.collections = [0, 0, 0]
        self._started = 0.0

    def _callback(self, phase: str, info: dict[str, int]) -> None:
        if phase == "start":
            self._started = time.perf_counter()
        else:
            self.seconds[info["generation"]] += time.perf_counter() - self._started
            self.collections[info["generation"]] += 1

    def __enter__(self) -> GcTimer:
        gc.callbacks.append(self._callback)
        return self

    def __exit__(self, *_: object) -> None:
        gc.callbacks.remove(self._callback)


def backend_cpu(storage: Storage) -> float | None:
    """CPU seconds so far of the PostgreSQL backends serving this process's connections (local server only)."""
    datastore = storage.service.factory.datastore  # type: ignore[attr-defined]
    with datastore.transaction(commit=False) as cursor:
        cursor.execute("SELECT pid FROM pg_stat_activity WHERE application_name = %s", (REBUILD_APP_NAME,))
        pids = [row["pid"] for row in cursor.fetchall()]
    found = [_proc_cpu(pid) for pid in pids]
    return sum(x for x in found if x is not None) if pids and all(x is not None for x in found) else None


def rebuild_only(args: argparse.Namespace) -> None:
    """Child mode: one timed rebuild of every projection; the result as JSON in --result-file."""
    target = parse_database_url(args.pg_url)
    with tempfile.TemporaryDirectory(prefix="samverkan-bench-") as tmp, RssSampler() as sampler:
        settings = bench_settings(target, args.schema, Path(tmp))
        with open_storage(settings) as storage:
            runner = projection_runner(storage, settings)
            runner.rebuild_workers = args.workers
            workers = runner._rebuild_workers(runner.projections, runner.store.head())
            events = count_events(target, args.schema)
            rss_before_kb = _status_kb("VmRSS")
            server_before = backend_cpu(storage)
            profiler = cProfile.Profile() if args.profile else None
            usage = resource.getrusage(resource.RUSAGE_SELF)
            children_usage = resource.getrusage(resource.RUSAGE_CHILDREN)
            head = runner.store.head()
            loaded: dict[str, float] = {}

            with progress_bar("rebuilding", head, "events") as update, GcTimer() as collector:

                def progress(done: int, _total: int) -> None:
                    update(done)
                    if done >= head and not loaded:  # the last batch is in: what follows is the finish
                        loaded.update(seconds=time.perf_counter() - began, rss_mb=_status_kb("VmRSS") / 1024)

                began = time.perf_counter()
                if profiler is not None:
                    profiler.enable()
                position = runner.rebuild(progress=progress, batch_size=args.batch_size)
                if profiler is not None:
                    profiler.disable()
                seconds = time.perf_counter() - began
            after = resource.getrusage(resource.RUSAGE_SELF)
            children_after = resource.getrusage(resource.RUSAGE_CHILDREN)
            server_after = backend_cpu(storage)
            positions = runner.positions()
    result = {
        "events": events,
        "position": position,
        "seconds": seconds,
        "load_seconds": loaded.get("seconds", seconds),
        "rss_loaded_mb": loaded.get("rss_mb", 0.0),
        "gc_seconds": collector.seconds,
        "gc_collections": collector.collections,
        "user_cpu": after.ru_utime - usage.ru_utime,
        "system_cpu": after.ru_stime - usage.ru_stime,
        "workers": workers,
        "workers_cpu": children_after.ru_utime
        + children_after.ru_stime
        - children_usage.ru_utime
        - children_usage.ru_stime,
        "worker_maxrss_mb": children_after.ru_maxrss / 1024,  # the largest worker's peak (kB on Linux)
        "tree_peak_mb": sampler.tree_peak_kb / 1024,
        "processes": sampler.most_processes,
        "server_cpu": None if server_before is None or server_after is None else server_after - server_before,
        "rss_before_mb": rss_before_kb / 1024,
        "ru_maxrss_mb": after.ru_maxrss / 1024,  # kB on Linux
        "vmhwm_mb": _status_kb("VmHWM") / 1024,
        "sampled_peak_mb": sampler.peak_kb / 1024,
        "positions": positions,
    }
    Path(args.result_file).write_text(json.dumps(result))
    if profiler is not None:
        profiler.dump_stats(args.profile)
        for order in ("tottime", "cumulative"):
            console.print(f"[bold]cProfile of the rebuild (main thread), by {order}:[/bold]")
            stats = pstats.Stats(profiler, stream=sys.stdout)
            stats.strip_dirs().sort_stats(order).print_stats(30)
            sys.stdout.flush()


def rebuild(args: argparse.Namespace, target: DatabaseTarget, schema: str, key_dir: Path) -> dict[str, Any]:
    """Runs the rebuild in a fresh subprocess of this script; returns its figures."""
    result_file = key_dir / "rebuild.json"
    argv = [sys.executable, str(Path(__file__).resolve()), "--rebuild-only", "--schema", schema]
    argv += ["--pg-url", args.pg_url, "--result-file", str(result_file), "--batch-size", str(args.batch_size)]
    if args.workers is not None:
        argv += ["--workers", str(args.workers)]
    if args.profile:
        argv += ["--profile", args.profile]
    env = {**os.environ, "PGAPPNAME": REBUILD_APP_NAME}
    began = time.perf_counter()
    subprocess.run(argv, env=env, cwd=ROOT, check=True)
    figures: dict[str, Any] = json.loads(result_file.read_text())
    figures["subprocess_seconds"] = time.perf_counter() - began
    figures["rate"] = figures["events"] / figures["seconds"]
    server = figures["server_cpu"]
    console.print(
        f"  rebuild: {figures['events']:,} events to position {figures['position']:,} in {figures['seconds']:.2f} s"
        f" = {figures['rate']:,.0f} events/s with {figures['workers']} loading process(es); CPU: the runner"
        f" {figures['user_cpu']:.1f} s user + {figures['system_cpu']:.1f} s system, its workers"
        f" {figures['workers_cpu']:.1f} s, the runner's own PostgreSQL backends "
        + ("?" if server is None else f"{server:.1f} s")
        + " (the workers' backends are gone when it is measured)"
    )
    load = figures["load_seconds"]
    console.print(
        f"  rebuild phases: load (read, fold, COPY) {load:.1f} s = {figures['events'] / load:,.0f} events/s; finish"
        f" (cases and follow-up rows, indexes, tail, swap) {figures['seconds'] - load:.1f} s; cyclic GC"
        f" {sum(figures['gc_seconds']):.1f} s (gen 0/1/2: "
        + " / ".join(f"{x:.1f} s in {n}" for x, n in zip(figures["gc_seconds"], figures["gc_collections"], strict=True))
        + " collections)"
    )
    console.print(
        f"  rebuild memory (subprocess): RSS before {figures['rss_before_mb']:.0f} MB, after the last batch"
        f" {figures['rss_loaded_mb']:.0f} MB, peak ru_maxrss"
        f" {figures['ru_maxrss_mb']:.0f} MB, VmHWM {figures['vmhwm_mb']:.0f} MB, sampled VmRSS"
        f" {figures['sampled_peak_mb']:.0f} MB; with its workers ({figures['processes']} processes at most),"
        f" sampled together: {figures['tree_peak_mb']:.0f} MB (largest worker's ru_maxrss"
        f" {figures['worker_maxrss_mb']:.0f} MB); positions after: {figures['positions']}"
    )
    return figures


# -- 4. view latency ----------------------------------------------------------------------------------------------


@dataclass
class ViewTimes:
    cold: list[float] = field(default_factory=list)
    warm: list[float] = field(default_factory=list)
    shown: int = 0  # reads where AF saw something (the route answers 200)


class ViewReader:
    """GET /view for AF through the read door (case, gate, log entry), on a fresh storage (empty caches)."""

    def __init__(self, target: DatabaseTarget, schema: str, key_dir: Path) -> None:
        settings = bench_settings(target, schema, key_dir)
        self.storage = open_storage(settings)
        self.service = self.storage.service
        self.store = projection_runner(self.storage, settings).store
        log = DisclosureLog(self.service.factory.datastore)  # type: ignore[attr-defined]
        self.reads = ReadService(self.service, log, self.store, ManifestSigner(settings.audit_key))
        self.caller = Caller("bench-af", Party.AF, Role.HANDLAGGARE, "bench", "handlaggning")

    def participants(self, agency: str | None) -> list[str]:
        """Participants with decisions of `agency` in the view (None: any participant), in id order."""
        where = sql.SQL("WHERE agency = %s AND kind = 'DecisionRecorded'") if agency else sql.SQL("")
        query = sql.SQL("SELECT DISTINCT participant_id FROM {} {} ORDER BY participant_id").format(
            self.store.ident(TIMELINE.name), where
        )
        with self.store.datastore.transaction(commit=False) as cursor:
            cursor.execute(query, (agency,) if agency else ())
            return [row["participant_id"] for row in cursor.fetchall()]

    def read(self, participant: str) -> tuple[float, bool]:
        began = time.perf_counter()
        try:
            body = self.reads.view(self.caller, UUID(participant))
        except NotPermitted:  # the route answers 403 without a body
            return time.perf_counter() - began, False
        ViewPublic.model_validate(body).model_dump_json()
        return time.perf_counter() - began, True

    def close(self) -> None:
        self.storage.close()


def view_latency(
    target: DatabaseTarget, schemas: dict[str, str], key_dir: Path, n: int, warmup: int
) -> dict[str, ViewTimes]:
    readers = {label: ViewReader(target, schema, key_dir) for label, schema in schemas.items()}
    try:
        rng = random.Random(2026)  # sampling, not security
        chosen: dict[str, list[str]] = {}
        warming: dict[str, list[str]] = {}
        for label, reader in readers.items():
            with_af = reader.participants("AF")
            chosen[label] = rng.sample(with_af, min(n, len(with_af)))
            picked = set(chosen[label])
            warming[label] = [p for p in reader.participants(None) if p not in picked][:warmup]
        count = min(len(c) for c in chosen.values())
        console.print(
            f"  view: {count} random participants with AF decisions in each schema"
            f" (after {min(len(w) for w in warming.values())} warm-up reads of others), read as AF, interleaved"
        )
        for label, reader in readers.items():
            for participant in warming[label]:
                reader.read(participant)
        times = {label: ViewTimes() for label in readers}
        labels = list(readers)
        for passed in ("cold", "warm"):
            for i in range(count):
                for label in labels[i % 2 :] + labels[: i % 2]:
                    seconds, shown = readers[label].read(chosen[label][i])
                    getattr(times[label], passed).append(seconds)
                    times[label].shown += shown if passed == "cold" else 0
        for label, t in times.items():
            console.print(
                f"  view {label:<5} cold p50 {percentile(t.cold, 50) * 1000:6.2f} ms  p99"
                f" {percentile(t.cold, 99) * 1000:6.2f} ms   warm p50 {percentile(t.warm, 50) * 1000:6.2f} ms  p99"
                f" {percentile(t.warm, 99) * 1000:6.2f} ms   ({t.shown}/{len(t.cold)} showed AF something)"
            )
        return times
    finally:
        for reader in readers.values():
            reader.close()


# -- 5. live lag --------------------------------------------------------------------------------------------------


def poll_tracking(args: argparse.Namespace) -> None:
    """Child mode: polls the timeline projection's tracking position every ~1 ms until SIGTERM; prints changes."""
    target = parse_database_url(args.pg_url)
    stop = threading.Event()
    signal.signal(signal.SIGTERM, lambda *_: stop.set())
    query = sql.SQL("SELECT max(notification_id) FROM {} WHERE application_name = 'timeline'").format(
        sql.Identifier(args.schema, TRACKING_TABLE)
    )
    seen: list[tuple[float, int]] = []
    polls, last = 0, -1
    with pg_connect(target, autocommit=True) as conn:
        conn.execute(query)
        print("ready", flush=True)
        began = time.monotonic()
        while not stop.is_set():
            row = conn.execute(query).fetchone()
            now = time.monotonic()  # CLOCK_MONOTONIC: the same clock in every process of the machine
            polls += 1
            position = int(row[0] or 0) if row else 0
            if position != last:
                seen.append((now, position))
                last = position
            time.sleep(0.001)
        elapsed = time.monotonic() - began
    print(json.dumps({"seen": seen, "polls": polls, "seconds": elapsed}), flush=True)


@dataclass
class Lag:
    lags: list[float]
    writes: int
    missed: int
    seconds: float
    write_latencies: list[float]
    polls: int
    poll_seconds: float

    @property
    def rate(self) -> float:
        return self.writes / self.seconds


def _stop_process(process: subprocess.Popen[Any], name: str) -> None:
    if process.poll() is None:
        process.send_signal(signal.SIGTERM)
        try:
            process.wait(timeout=15)
        except subprocess.TimeoutExpired:
            console.print(f"  [yellow]{name} did not stop on SIGTERM; killing it[/yellow]")
            process.kill()
            process.wait()


def live_lag(
    args: argparse.Namespace, target: DatabaseTarget, schema: str, key_dir: Path, writes: int, rate: float
) -> Lag:
    env = samverkan_env(target, schema, key_dir)
    runner_log = key_dir / "runner.log"
    tracking = sql.SQL("SELECT max(notification_id) FROM {} WHERE application_name = 'timeline'").format(
        sql.Identifier(schema, TRACKING_TABLE)
    )
    head = sql.SQL("SELECT max(notification_id) FROM {}").format(sql.Identifier(schema, EVENTS_TABLE))
    with contextlib.ExitStack() as stack:
        log = stack.enter_context(runner_log.open("w"))
        runner = subprocess.Popen(
            [sys.executable, "-m", "adapters.cli", "projections", "run"],
            env=env,
            cwd=ROOT,
            stdout=log,
            stderr=subprocess.STDOUT,
        )
        stack.callback(_stop_process, runner, "the projection runner")
        storage = stack.enter_context(open_storage(bench_settings(target, schema, key_dir)))
        service = storage.service
        conn = stack.enter_context(pg_connect(target, autocommit=True))
        # Open cases whose consent lets FK share insurance decisions with SF: bulk cases where FK is a party (the
        # bulk consent grants every party's own category to SF and to the others, valid for 300 days).
        rows = conn.execute(
            sql.SQL(
                "SELECT d.participant_id FROM {d} d JOIN {c} c ON c.participant_id = d.participant_id"
                " WHERE d.agency = 'FK' AND d.kind = 'DecisionRecorded' AND c.open = 1"
                " GROUP BY d.participant_id ORDER BY d.participant_id LIMIT 50"
            ).format(d=sql.Identifier(schema, TIMELINE.name), c=sql.Identifier(schema, CASES.name))
        ).fetchall()
        participants = [UUID(r[0]) for r in rows]
        if not participants:
            raise RuntimeError("no participant with FK decisions in the schema")
        today = local_date(datetime.now(UTC))
        run = uuid.uuid4().hex[:8]

        def write(i: int) -> tuple[float, int]:
            outcome = service.record_decision(
                participants[i % len(participants)],
                by="handlaggare-fk",
                agency="FK",
                category=OWN_CATEGORY[Party.FK],
                decision_type="sjukpenning",
                effective_date=today,
                summary=SUMMARY,
                source_ref=f"FK-LAG-{run}-{i}",
            )
            written = time.monotonic()
            if not outcome.created:
                raise RuntimeError(f"write {i} was not stored")
            found = conn.execute(head).fetchone()
            return written, int(found[0]) if found else 0

        def projected(position: int, timeout: float) -> bool:
            deadline = time.monotonic() + timeout
            while time.monotonic() < deadline:
                found = conn.execute(tracking).fetchone()
                if found and found[0] is not None and int(found[0]) >= position:
                    return True
                time.sleep(0.005)
            return False

        # Warm-up: each participant once (loads its case into the cache), each write waited for, so the runner is
        # known to be up and following before the timed writes.
        for i in range(len(participants)):
            _, position = write(i)
            if not projected(position, 60.0 if i == 0 else 10.0):
                raise RuntimeError(f"the runner did not project warm-up write {i}; see {runner_log}")
        poll_argv = [sys.executable, str(Path(__file__).resolve()), "--poll-tracking", "--schema", schema]
        poll_argv += ["--pg-url", args.pg_url]
        poller = subprocess.Popen(
            poll_argv,
            cwd=ROOT,
            stdout=subprocess.PIPE,
            text=True,
        )
        stack.callback(_stop_process, poller, "the poller")
        assert poller.stdout is not None
        if poller.stdout.readline().strip() != "ready":
            raise RuntimeError("the tracking poller did not start")
        time.sleep(0.2)
        recorded: list[tuple[float, int]] = []
        latencies: list[float] = []
        with progress_bar("writing under load", writes, "writes") as update:
            began = time.monotonic()
            for k in range(writes):
                due = began + k / rate
                wait = due - time.monotonic()
                if wait > 0:
                    time.sleep(wait)
                started = time.monotonic()
                written, position = write(len(participants) + k)
                latencies.append(written - started)
                recorded.append((written, position))
                if k % 50 == 49:
                    update(k + 1)
            seconds = time.monotonic() - began
            update(writes)
        projected(recorded[-1][1], 10.0)
        time.sleep(0.05)
        poller.send_signal(signal.SIGTERM)
        out, _ = poller.communicate(timeout=15)
        polled = json.loads(out.strip().splitlines()[-1])
    seen = [(float(t), int(p)) for t, p in polled["seen"]]
    times, positions = [t for t, _ in seen], [p for _, p in seen]
    lags: list[float] = []
    missed = 0
    for written, position in recorded:
        index = bisect.bisect_left(positions, position)
        if index >= len(positions):
            missed += 1
            continue
        lags.append(times[index] - written)
    return Lag(lags, writes, missed, seconds, latencies, polled["polls"], polled["seconds"])


# -- report -------------------------------------------------------------------------------------------------------


@dataclass
class Results:
    big: Fill | None = None
    small: Fill | None = None
    raw: list[RawRead] = field(default_factory=list)
    rebuild: dict[str, Any] | None = None
    views: dict[str, ViewTimes] | None = None
    lag: Lag | None = None


def print_report(results: Results, args: argparse.Namespace) -> None:
    events = results.big.events if results.big is not None and results.big.events else args.events
    table = Table(title=f"Projections on PostgreSQL ({events:,} events)")
    verdicts: list[str] = []  # one line per target, after the table

    def held(text: str, ok: bool, figure: str) -> str:
        verdicts.append(f"target: {text}: {'MET' if ok else 'MISSED'} ({figure})")
        return verdict(ok)

    for heading in ("measurement", "figure", "target", "verdict"):
        table.add_column(heading, justify="left" if heading == "measurement" else "right")
    if results.big is not None:
        fill_text = f"{results.big.events:,} events" + (f", {results.big.cases:,} cases" if results.big.cases else "")
        if results.big.seconds:
            fill_text += f", {duration(results.big.seconds)} ({results.big.rate:,.0f}/s)"
        table.add_row("setup: big schema (bulk_cases)", fill_text, "", "")
    if results.small is not None:
        table.add_row(
            "setup: small schema (bulk_cases)",
            f"{results.small.events:,} events, {results.small.cases:,} cases, {duration(results.small.seconds)}",
            "",
            "",
        )
    raw_rate = statistics.mean(r.rate for r in results.raw) if results.raw else 0.0
    if results.raw:
        spread = " / ".join(f"{r.rate:,.0f}" for r in results.raw)
        table.add_row("raw read, rows/s (before / after rebuild)", f"{spread} (mean {raw_rate:,.0f})", "", "")
    if results.rebuild is not None:
        r = results.rebuild
        rate = r["rate"]
        table.add_row(
            "rebuild, events/s" + (" (under cProfile)" if args.profile else ""),
            f"{rate:,.0f} ({r['seconds']:.1f} s)",
            f">= {TARGET_REBUILD_RATE:,}",
            held(f"rebuild >= {TARGET_REBUILD_RATE:,} events/s", rate >= TARGET_REBUILD_RATE, f"{rate:,.0f}"),
        )
        if raw_rate:
            ratio = rate / raw_rate
            table.add_row(
                "rebuild / raw read",
                f"{ratio:.2f}",
                f">= {TARGET_REBUILD_RATIO:.2f}",
                held(f"rebuild >= {TARGET_REBUILD_RATIO:.2f}x raw read", ratio >= TARGET_REBUILD_RATIO, f"{ratio:.2f}"),
            )
        server = "?" if r["server_cpu"] is None else f"{r['server_cpu']:.1f}"
        table.add_row(
            "rebuild CPU s: runner user+sys / workers / runner's PG backends",
            f"{r['user_cpu']:.1f}+{r['system_cpu']:.1f} / {r['workers_cpu']:.1f} / {server}",
            "",
            "",
        )
        table.add_row(
            "rebuild s: load phase / finish phase / in cyclic GC",
            f"{r['load_seconds']:.1f} / {r['seconds'] - r['load_seconds']:.1f} / {sum(r['gc_seconds']):.1f}",
            "",
            "",
        )
        peak = max(r["ru_maxrss_mb"], r["vmhwm_mb"], r["sampled_peak_mb"], r["tree_peak_mb"])
        table.add_row(
            f"rebuild peak RSS, MB: runner + {r['workers']} worker(s) sampled together / runner ru_maxrss",
            f"{r['tree_peak_mb']:.0f} / {r['ru_maxrss_mb']:.0f} (before: {r['rss_before_mb']:.0f})",
            f"<= {TARGET_REBUILD_RSS_MB}",
            held(f"rebuild peak RSS <= {TARGET_REBUILD_RSS_MB} MB", peak <= TARGET_REBUILD_RSS_MB, f"{peak:.0f} MB"),
        )
    if results.views is not None:
        small, big = results.views["small"], results.views["big"]
        for passed in ("cold", "warm"):
            s50, b50 = percentile(getattr(small, passed), 50), percentile(getattr(big, passed), 50)
            growth = b50 / s50 - 1
            table.add_row(
                f"view p50, {passed}: small / big (ms)",
                f"{s50 * 1000:.2f} / {b50 * 1000:.2f} ({growth:+.0%})",
                f"within {TARGET_VIEW_GROWTH:.0%}",
                held(
                    f"view p50 {passed} at {events:,} events within {TARGET_VIEW_GROWTH:.0%} of the small schema's",
                    abs(growth) <= TARGET_VIEW_GROWTH,
                    f"{growth:+.0%}",
                ),
            )
            table.add_row(
                f"view p99, {passed}: small / big (ms)",
                f"{percentile(getattr(small, passed), 99) * 1000:.2f} /"
                f" {percentile(getattr(big, passed), 99) * 1000:.2f}",
                "",
                "",
            )
    if results.lag is not None:
        lag = results.lag
        p99 = percentile(lag.lags, 99) * 1000
        table.add_row(
            "live lag p50 / p90 / p99 / max (ms)",
            f"{percentile(lag.lags, 50) * 1000:.1f} / {percentile(lag.lags, 90) * 1000:.1f} / {p99:.1f} /"
            f" {max(lag.lags, default=float('nan')) * 1000:.1f}",
            f"p99 <= {TARGET_LAG_P99_MS:.0f}",
            held(
                f"live lag p99 <= {TARGET_LAG_P99_MS:.0f} ms, none missed",
                p99 <= TARGET_LAG_P99_MS and lag.missed == 0,
                f"{p99:.1f} ms, {lag.missed} missed",
            ),
        )
        table.add_row(
            "live load: writes, rate, write p50 / p99 (ms), not projected",
            f"{lag.writes}, {lag.rate:.0f}/s, {percentile(lag.write_latencies, 50) * 1000:.1f} /"
            f" {percentile(lag.write_latencies, 99) * 1000:.1f}, {lag.missed}",
            "",
            "",
        )
        table.add_row(
            "tracking polls (mean interval)",
            f"{lag.polls:,} ({lag.poll_seconds / max(lag.polls, 1) * 1000:.2f} ms)",
            "",
            "",
        )
    console.print(table)
    for line in verdicts:
        console.print(line, markup=False, highlight=False)


# -- main ---------------------------------------------------------------------------------------------------------


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    parser.add_argument("--events", type=int, default=DEFAULT_EVENTS, help="events in the big schema (about)")
    parser.add_argument("--small-events", type=int, default=SMALL_EVENTS, help="events in the small schema (about)")
    parser.add_argument("--pg-url", default=os.environ.get("SAMVERKAN_BENCH_POSTGRES_URL", DEFAULT_PG_URL))
    parser.add_argument("--skip-lag", action="store_true", help="skip the live-lag measurement")
    parser.add_argument("--keep", action="store_true", help="keep the schemas (their names are printed)")
    parser.add_argument("--schema", help="reuse this filled big schema (no fill; never dropped)")
    parser.add_argument("--per-transaction", type=int, default=500, help="cases per transaction in the fill")
    parser.add_argument("--batch-size", type=int, default=5000, help="the rebuild's batch size")
    parser.add_argument(
        "--workers", type=int, help="processes that load the rebuild (default: the runner's choice; 1: in log order)"
    )
    parser.add_argument("--views", type=int, default=500, help="participants read per schema and pass")
    parser.add_argument("--lag-writes", type=int, default=1000, help="timed writes under the live runner")
    parser.add_argument("--lag-rate", type=float, default=75.0, help="writes per second")
    parser.add_argument("--profile", help="run the rebuild under cProfile and write its stats to this file")
    # Child modes of this script (the rebuild in a fresh process; the tracking poller).
    parser.add_argument("--rebuild-only", action="store_true", help=argparse.SUPPRESS)
    parser.add_argument("--poll-tracking", action="store_true", help=argparse.SUPPRESS)
    parser.add_argument("--result-file", help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if (args.rebuild_only or args.poll_tracking) and not args.schema:
        parser.error("--rebuild-only and --poll-tracking need --schema")
    if args.rebuild_only and not args.result_file:
        parser.error("--rebuild-only needs --result-file")
    if args.events < 1000 or args.small_events < 100 or args.lag_writes < 10 or args.lag_rate <= 0:
        parser.error("need --events >= 1000, --small-events >= 100, --lag-writes >= 10, --lag-rate > 0")
    if args.profile:
        args.profile = str(Path(args.profile).resolve())
    return args


def main(argv: list[str] | None = None) -> None:
    args = parse_args(argv)
    if args.rebuild_only:
        rebuild_only(args)
        return
    if args.poll_tracking:
        poll_tracking(args)
        return
    target = parse_database_url(args.pg_url)
    if target.engine != "postgres" or target.schema:
        raise SystemExit("--pg-url must be a postgresql:// URL without ?schema= (the script makes its own schemas)")
    for line in machine_lines(target):
        console.print(line)
    console.print(f"load       average {load_average()} at start, {datetime.now(UTC):%Y-%m-%d %H:%M} UTC")
    run_id = uuid.uuid4().hex[:10]
    big = args.schema or f"bench_{run_id}_big"
    small = f"bench_{run_id}_small"
    owned = [small] if args.schema else [big, small]
    console.print(f"schemas    {big}, {small}" + (" (kept)" if args.keep else " (dropped at the end)"))
    results = Results()
    began = time.perf_counter()
    finished = False
    try:
        with tempfile.TemporaryDirectory(prefix="samverkan-bench-") as tmp:
            key_dir = Path(tmp)
            console.rule("setup (not timed into the results)")
            if args.schema:
                results.big = Fill(big, events=count_events(target, big))
                console.print(f"  big: reusing {big} with {results.big.events:,} events")
            else:
                results.big = fill(target, big, args.events, key_dir, args.per_transaction, "big")
            results.small = fill(target, small, args.small_events, key_dir, args.per_transaction, "small")
            with open_storage(bench_settings(target, small, key_dir)) as storage:
                runner: ProjectionRunner = projection_runner(storage, bench_settings(target, small, key_dir))
                runner.rebuild()
            console.rule("raw read and rebuild")
            results.raw.append(raw_read(target, big))
            results.rebuild = rebuild(args, target, big, key_dir)
            results.raw.append(raw_read(target, big))
            console.rule("view latency")
            results.views = view_latency(target, {"small": small, "big": big}, key_dir, args.views, warmup=50)
            if not args.skip_lag:
                console.rule("live lag")
                results.lag = live_lag(args, target, big, key_dir, args.lag_writes, args.lag_rate)
                lag = results.lag
                console.print(
                    f"  {lag.writes} writes at {lag.rate:.0f}/s; lag p50 {percentile(lag.lags, 50) * 1000:.1f} ms,"
                    f" p99 {percentile(lag.lags, 99) * 1000:.1f} ms; {lag.polls:,} polls"
                )
        finished = True
    finally:
        if not args.keep:
            for schema in owned:
                with contextlib.suppress(psycopg.Error):
                    drop_schema(target, schema)
        if not finished:  # an error or Ctrl-C: show what was measured before it
            console.rule("results so far (the run did not finish)")
            with contextlib.suppress(Exception):
                print_report(results, args)
    console.rule("results")
    print_report(results, args)
    console.print(f"load average {load_average()} at the end; whole run {duration(time.perf_counter() - began)}")
    if args.keep:
        console.print(f"kept schemas: {big}, {small}")


if __name__ == "__main__":
    main()
