"""Benchmark: the HTTP API under load, against bare FastAPI endpoints on the same uvicorn, in one run.

It starts the real server (`python -m adapters.cli serve`) on a fresh PostgreSQL schema, seeds participants,
consents and FK decisions over HTTP, starts bench/bare_app.py under uvicorn with the same worker count, and
drives load from a second process (this script in driver mode: C threads, each with its own keep-alive
httpx.Client) at four scenarios:

- view:      AF handlaggare reads GET /api/v1/participants/{id}/view, round-robin (each read writes a
             disclosure-log entry), expecting 200;
- bare:      the bare endpoint, expecting 200;
- bare-insert: the bare endpoint that also INSERTs one row into PostgreSQL and commits before it answers (a psycopg
             pool, its own table in the same schema), expecting 200: what a read that must write one durable row
             costs at the least;
- decisions: FK handlaggare records POST /api/v1/participants/{id}/decisions with a unique source_ref,
             expecting 201.

Each scenario gets --warmup untimed requests first. view, bare and bare-insert are timed interleaved, in --rounds
chunks (the order rotating each round), so that all see the same machine load; decisions run last (they grow
the cases the views read).
Besides throughput and latency it samples CPU time from /proc for the server processes, the PostgreSQL
backends serving them (by application_name) and the load generator, since all of them share the machine.
It prints each target (issue 13) with the measured ratio and MET or MISS: view req/s >= 0.6x bare and >= 0.9x
bare-insert.

    python bench/http.py [--requests N] [--concurrency C] [--pg-url URL] [--workers W]
"""

# ruff: noqa: E402 - the path fix below must run before any import that reaches the standard `http` package

from __future__ import annotations

import sys
from pathlib import Path

# This file is named http.py: run as a script, its folder comes first on sys.path and would shadow the standard
# library's `http` package (httpx, urllib and uvicorn import it). Put the project root there instead.
ROOT = Path(__file__).resolve().parent.parent
if sys.path and Path(sys.path[0] or ".").resolve() == Path(__file__).resolve().parent:
    sys.path[0] = str(ROOT)

import argparse
import base64
import contextlib
import itertools
import json
import os
import platform
import signal
import socket
import statistics
import subprocess
import tempfile
import threading
import time
import uuid
from collections.abc import Callable, Iterator
from dataclasses import asdict, dataclass, field
from datetime import UTC, date, datetime, timedelta
from importlib.metadata import version
from typing import Any

import httpx
import psycopg
from psycopg import sql

from adapters.auth import issue_token
from adapters.storage import DatabaseTarget, parse_database_url
from bench.benchlib import cpu_model, pg_connect
from consent import local_date
from coordination.personnummer import fictitious_personnummer

DEFAULT_PG_URL = "postgresql://postgres@127.0.0.1:5432/test"
# The targets (issue 13): view req/s over each baseline's req/s, measured in the same run.
TARGETS = {"bare": 0.6, "bare-insert": 0.9}
APP_NAME = "samverkan-bench-http"  # the server's PostgreSQL application_name, to find its backends
BARE_APP_NAME = "samverkan-bench-bare"  # the bare app's (its insert endpoint's pool)
INSERT_PREFIX = "/insert"  # bench/bare_app.py: the same view path under this prefix INSERTs and commits a row
LOG_LEVEL = "WARNING"
BENCH_KEYS = {  # fixed bench keys (base64 of 32 bytes each): never used outside this benchmark
    "master_key": base64.b64encode(b"M" * 32).decode(),
    "lookup_key": base64.b64encode(b"L" * 32).decode(),
    "token_secret": base64.b64encode(b"T" * 32).decode(),
    "audit_signing_key": base64.b64encode(b"A" * 32).decode(),
}
SUMMARY = "Sjukpenning beviljad på halvtid från 1 oktober; avstämning med arbetsgivare i vår."
CLK_TCK = os.sysconf("SC_CLK_TCK")


def say(text: str = "") -> None:
    print(text, flush=True)


# -- machine --------------------------------------------------------------------------------------------------------


def machine_lines(target: DatabaseTarget) -> list[str]:
    with pg_connect(target, autocommit=True) as conn:
        settings = {
            name: (conn.execute(sql.SQL("SHOW {}").format(sql.Identifier(name))).fetchone() or ["?"])[0]
            for name in ("server_version", "synchronous_commit", "fsync")
        }
    load = " ".join(Path("/proc/loadavg").read_text().split()[:3]) if Path("/proc/loadavg").exists() else "?"
    return [
        f"machine    {cpu_model()}, {os.cpu_count()} cores, {platform.platform()}; load average before start {load}",
        f"software   Python {platform.python_version()}, fastapi {version('fastapi')},"
        f" starlette {version('starlette')}, uvicorn {version('uvicorn')}"
        f" (uvloop {version('uvloop')}, httptools {version('httptools')}),"
        f" httpx {version('httpx')} (load generator)",
        f"postgres   {settings['server_version']} at {target.host}:{target.port}, "
        f"synchronous_commit={settings['synchronous_commit']}, fsync={settings['fsync']}",
    ]


# -- CPU accounting from /proc ----------------------------------------------------------------------------------------


def _proc_stat(pid: int) -> tuple[int, float] | None:
    """(parent pid, user+system CPU seconds) of a process, or None when it is gone."""
    try:
        text = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return None
    fields = text[text.rindex(")") + 2 :].split()  # after "pid (comm) "
    return int(fields[1]), (int(fields[11]) + int(fields[12])) / CLK_TCK


def tree_cpu(root: int) -> dict[int, float]:
    """CPU seconds of a process and all its descendants (uvicorn's worker processes), per pid."""
    stats: dict[int, tuple[int, float]] = {}
    for entry in os.scandir("/proc"):
        if entry.name.isdigit() and (stat := _proc_stat(int(entry.name))) is not None:
            stats[int(entry.name)] = stat
    children: dict[int, list[int]] = {}
    for pid, (ppid, _) in stats.items():
        children.setdefault(ppid, []).append(pid)
    found, todo = {}, [root]
    while todo:
        pid = todo.pop()
        if pid in stats:
            found[pid] = stats[pid][1]
            todo.extend(children.get(pid, []))
    return found


def machine_jiffies() -> tuple[int, int]:
    """(busy, total) jiffies of all CPUs since boot."""
    values = [int(v) for v in Path("/proc/stat").read_text().splitlines()[0].split()[1:]]
    idle = values[3] + values[4]  # idle + iowait
    total = sum(values[:8])  # guest time is already in user
    return total - idle, total


@dataclass
class CpuSample:
    server: dict[int, float]
    postgres: dict[int, float]
    driver: float
    busy: int
    total: int


@dataclass
class CpuUse:
    """CPU seconds spent while a scenario ran, by who."""

    server: float = 0.0
    postgres: float = 0.0
    driver: float = 0.0
    machine_busy: float = 0.0  # all CPUs, every process on the machine (other users' work included)
    machine_capacity: float = 0.0  # CPUs x wall seconds

    def add(self, before: CpuSample, after: CpuSample) -> None:
        self.server += _delta(before.server, after.server)
        self.postgres += _delta(before.postgres, after.postgres)
        self.driver += after.driver - before.driver
        self.machine_busy += (after.busy - before.busy) / CLK_TCK
        self.machine_capacity += (after.total - before.total) / CLK_TCK


def _delta(before: dict[int, float], after: dict[int, float]) -> float:
    # A process that appeared meanwhile counts in full; one that exited meanwhile is lost (rare: pooled).
    return sum(seconds - before.get(pid, 0.0) for pid, seconds in after.items())


class CpuMeter:
    """Samples the CPU time of one server's process tree, its PostgreSQL backends and this process."""

    def __init__(self, server_pid: int, pg: psycopg.Connection[Any] | None, app_name: str = APP_NAME) -> None:
        self.server_pid = server_pid
        self.pg = pg
        self.app_name = app_name

    def sample(self) -> CpuSample:
        backends: dict[int, float] = {}
        if self.pg is not None:
            rows = self.pg.execute("SELECT pid FROM pg_stat_activity WHERE application_name = %s", [self.app_name])
            for (pid,) in rows.fetchall():
                if (stat := _proc_stat(int(pid))) is not None:
                    backends[int(pid)] = stat[1]
        busy, total = machine_jiffies()
        return CpuSample(tree_cpu(self.server_pid), backends, time.process_time(), busy, total)


# -- the load driver (runs in its own process) ------------------------------------------------------------------------


@dataclass
class Scenario:
    """One kind of request: where to send it, as whom, and what status counts as success."""

    name: str
    base_url: str
    method: str
    paths: list[str]
    headers: dict[str, str]
    expect: int
    server_pid: int
    body: dict[str, Any] | None = None  # for POST; "source_ref" gets a unique suffix per request
    pg_backends: bool = True
    app_name: str = APP_NAME  # the application_name of its server's PostgreSQL backends


@dataclass
class Result:
    name: str
    count: int = 0
    seconds: float = 0.0
    errors: int = 0
    error_samples: list[str] = field(default_factory=list)
    latencies: list[float] = field(default_factory=list)
    response_bytes: int = 0
    cpu: CpuUse = field(default_factory=CpuUse)


class Load:
    """C threads, each with its own keep-alive client, sharing one request counter."""

    def __init__(self, scenario: Scenario, concurrency: int) -> None:
        self.scenario = scenario
        self.clients = [
            httpx.Client(base_url=scenario.base_url, headers=scenario.headers, timeout=60) for _ in range(concurrency)
        ]
        self.next_index = 0  # running over warm-up and timed requests, so source_refs stay unique

    def close(self) -> None:
        for client in self.clients:
            client.close()

    def refresh(self) -> None:
        """One untimed read per client before a timed chunk: a keep-alive connection left idle while the other
        scenarios ran may have been closed by its server (uvicorn closes after 5 s), and that reset belongs to no
        one's timing. Reads only: the decisions are timed right after their warm-up."""
        s = self.scenario
        if s.body is not None:
            return
        for client in self.clients:
            with contextlib.suppress(httpx.HTTPError):
                client.request(s.method, s.paths[0])

    def request(self, client: httpx.Client, i: int) -> httpx.Response:
        s = self.scenario
        path = s.paths[i % len(s.paths)]
        if s.body is None:
            return client.request(s.method, path)
        return client.request(s.method, path, json={**s.body, "source_ref": f"{s.body['source_ref']}-{i:07d}"})

    def run(self, count: int, result: Result | None) -> None:
        """Sends `count` requests; times them into `result` (None: warm-up, still checked)."""
        first = self.next_index
        self.next_index += count
        counter = itertools.count(first)  # next() on it is atomic under the GIL
        stop = first + count
        latencies: list[list[float]] = [[] for _ in self.clients]
        failures: list[str] = []

        def work(k: int) -> None:
            client, mine, expect = self.clients[k], latencies[k], self.scenario.expect
            clock = time.perf_counter
            while (i := next(counter)) < stop:
                started = clock()
                try:
                    response = self.request(client, i)
                except httpx.HTTPError as error:
                    failures.append(f"{type(error).__name__}: {error}")
                    continue
                mine.append(clock() - started)
                if response.status_code != expect:
                    failures.append(f"{response.status_code}: {response.text[:200]}")
                elif result is not None and not result.response_bytes:
                    result.response_bytes = len(response.content)

        threads = [threading.Thread(target=work, args=(k,)) for k in range(len(self.clients))]
        began = time.perf_counter()
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()
        seconds = time.perf_counter() - began
        if result is None:
            if failures:
                raise RuntimeError(f"{self.scenario.name} warm-up: {len(failures)} failed, first: {failures[0]}")
            return
        result.count += count
        result.seconds += seconds
        result.errors += len(failures)
        result.error_samples.extend(failures[: 5 - len(result.error_samples)])
        for mine in latencies:
            result.latencies.extend(mine)


def drive(spec: dict[str, Any]) -> dict[str, Any]:
    """Runs the scenarios as the spec says; returns per-scenario figures (JSON-ready)."""
    scenarios = {s["name"]: Scenario(**s) for s in spec["scenarios"]}
    n, rounds, warmup = spec["requests"], spec["rounds"], spec["warmup"]
    target = parse_database_url(spec["pg_url"])
    results = {name: Result(name) for name in scenarios}
    with contextlib.ExitStack() as stack:
        pg = stack.enter_context(pg_connect(target, autocommit=True))
        loads = {name: Load(s, spec["concurrency"]) for name, s in scenarios.items()}
        stack.callback(lambda: [load.close() for load in loads.values()])
        meters = {
            name: CpuMeter(s.server_pid, pg if s.pg_backends else None, s.app_name) for name, s in scenarios.items()
        }

        def timed(name: str, count: int) -> None:
            loads[name].refresh()
            before = meters[name].sample()
            loads[name].run(count, results[name])
            results[name].cpu.add(before, meters[name].sample())

        def chunks() -> Iterator[int]:
            for r in range(rounds):
                yield n * (r + 1) // rounds - n * r // rounds

        interleaved = list(spec["interleaved"])
        for name in interleaved:
            print(f"  warm-up    {name}: {warmup} requests", file=sys.stderr, flush=True)
            loads[name].run(warmup, None)
        for r, size in enumerate(chunks()):
            for name in interleaved[r % len(interleaved) :] + interleaved[: r % len(interleaved)]:
                print(f"  round {r + 1}/{rounds}  {name}: {size} requests", file=sys.stderr, flush=True)
                timed(name, size)
        for name in spec["after"]:
            print(f"  warm-up    {name}: {warmup} requests", file=sys.stderr, flush=True)
            loads[name].run(warmup, None)
            print(f"  timed      {name}: {n} requests", file=sys.stderr, flush=True)
            timed(name, n)
    return {name: summarise(result) for name, result in results.items()}


def summarise(result: Result) -> dict[str, Any]:
    cuts = statistics.quantiles(result.latencies, n=100, method="inclusive") if len(result.latencies) > 1 else []
    return {
        "count": result.count,
        "seconds": result.seconds,
        "rate": result.count / result.seconds if result.seconds else 0.0,
        "p50_ms": cuts[49] * 1000 if cuts else float("nan"),
        "p99_ms": cuts[98] * 1000 if cuts else float("nan"),
        "mean_ms": statistics.fmean(result.latencies) * 1000 if result.latencies else float("nan"),
        "errors": result.errors,
        "error_samples": result.error_samples,
        "response_bytes": result.response_bytes,
        "cpu": asdict(result.cpu),
    }


def driver_main(spec_file: str) -> None:
    spec = json.loads(Path(spec_file).read_text())
    json.dump(drive(spec), sys.stdout)


# -- servers ----------------------------------------------------------------------------------------------------------


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


@dataclass
class Server:
    name: str
    process: subprocess.Popen[bytes]
    base_url: str
    log_file: Path

    def log_tail(self, lines: int = 40) -> str:
        with contextlib.suppress(OSError):
            return "\n".join(self.log_file.read_text(errors="replace").splitlines()[-lines:])
        return ""

    def wait_ready(self, probe: Callable[[httpx.Client], bool], timeout: float = 60) -> None:
        deadline = time.monotonic() + timeout
        with httpx.Client(base_url=self.base_url, timeout=2) as client:
            while time.monotonic() < deadline:
                if self.process.poll() is not None:
                    raise RuntimeError(f"{self.name} exited early (code {self.process.returncode}):\n{self.log_tail()}")
                with contextlib.suppress(httpx.TransportError):
                    if probe(client):
                        return
                time.sleep(0.2)
        raise RuntimeError(f"{self.name} did not answer within {timeout:.0f} s:\n{self.log_tail()}")

    def stop(self) -> None:
        """SIGINT (uvicorn's graceful shutdown, which closes the pool), then SIGKILL to the group if it hangs."""
        if self.process.poll() is None:
            with contextlib.suppress(ProcessLookupError):
                os.killpg(self.process.pid, signal.SIGINT)
            try:
                self.process.wait(20)
            except subprocess.TimeoutExpired:
                with contextlib.suppress(ProcessLookupError):
                    os.killpg(self.process.pid, signal.SIGKILL)
                self.process.wait(10)
        # Workers left behind by a supervisor that died (same process group).
        with contextlib.suppress(ProcessLookupError, PermissionError):
            os.killpg(self.process.pid, signal.SIGKILL)


def start_server(name: str, argv: list[str], env: dict[str, str], port: int, folder: Path) -> Server:
    log_file = folder / f"{name}.log"
    with log_file.open("wb") as log:
        process = subprocess.Popen(
            argv, env=env, cwd=folder, stdout=log, stderr=subprocess.STDOUT, start_new_session=True
        )
    return Server(name, process, f"http://127.0.0.1:{port}", log_file)


def server_env(database_url: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("SAMVERKAN_")}
    env.update({f"SAMVERKAN_{k.upper()}": v for k, v in BENCH_KEYS.items()})
    env["SAMVERKAN_DATABASE_URL"] = database_url
    env["SAMVERKAN_LOG_LEVEL"] = LOG_LEVEL
    env["PGAPPNAME"] = APP_NAME  # libpq's default application_name: lets the driver find the server's backends
    env["PYTHONPATH"] = os.pathsep.join(p for p in (str(ROOT), env.get("PYTHONPATH", "")) if p)
    return env


# -- seeding ----------------------------------------------------------------------------------------------------------


def bearer(sub: str, agency: str, role: str) -> dict[str, str]:
    secret = base64.b64decode(BENCH_KEYS["token_secret"])
    return {"Authorization": "Bearer " + issue_token(secret, sub=sub, agency=agency, role=role, ttl="12h")}


def decision_body(today: date, source_ref: str) -> dict[str, Any]:
    return {
        "category": "insurance",
        "decision_type": "sjukpenning",
        "effective_date": (today - timedelta(days=3)).isoformat(),
        "summary": SUMMARY,
        "source_ref": source_ref,
    }


def seed(base_url: str, participants: int, decisions_each: int, run_id: str) -> list[str]:
    """Enrols participants, gives each an FK->SF and FK->AF insurance consent and FK decisions; returns ids."""
    today = local_date(datetime.now(UTC))
    sf, fk = bearer("samordnare-bench", "SF", "samordnare"), bearer("handlaggare-fk-bench", "FK", "handlaggare")
    ids = []

    def check(response: httpx.Response, expect: int, what: str) -> httpx.Response:
        if response.status_code != expect:
            raise RuntimeError(f"seeding: {what} answered {response.status_code}: {response.text[:300]}")
        return response

    with httpx.Client(base_url=base_url, timeout=30) as http:
        for p in range(participants):
            number = fictitious_personnummer(
                date(1962, 3, 1) + timedelta(days=131 * p), p % 100, gender="female" if p % 2 else "male"
            )
            body = {"personnummer": number, "given_name": "Testa", "family_name": f"Benchsson{p}"}
            pid = check(http.post("/api/v1/participants", json=body, headers=sf), 201, "enrol").json()["id"]
            consent = {
                "grants": [
                    {"from": "FK", "to": "SF", "categories": ["insurance"]},
                    {"from": "FK", "to": "AF", "categories": ["insurance"]},
                ],
                "purpose": "Samordnad rehabilitering mot arbete",
                "valid_from": (today - timedelta(days=30)).isoformat(),
                "valid_until": (today + timedelta(days=300)).isoformat(),
                "form": "written",
                "document_ref": "DOC-BENCH-1",
            }
            check(http.post(f"/api/v1/participants/{pid}/consents", json=consent, headers=sf), 201, "consent")
            for d in range(decisions_each):
                body = decision_body(today, f"FK-SEED-{run_id}-{p:03d}-{d}")
                check(http.post(f"/api/v1/participants/{pid}/decisions", json=body, headers=fk), 201, "decision")
            ids.append(pid)
    return ids


# -- reporting --------------------------------------------------------------------------------------------------------


def print_report(results: dict[str, Any], args: argparse.Namespace) -> None:
    names = ["view", "bare", "bare-insert", "decisions"]
    say()
    say(
        f"{'scenario':<11} {'requests':>8} {'req/s':>8} {'p50 ms':>8} {'p99 ms':>8} {'errors':>6} {'bytes':>6}"
        f"   CPU ms/request: {'server':>6} {'pg':>6} {'driver':>6}   machine: {'busy':>5} {'others':>6}"
    )
    cpu_total = {}
    for name in names:
        r = results[name]
        cpu, count = r["cpu"], max(r["count"], 1)
        ours = cpu["server"] + cpu["postgres"] + cpu["driver"]
        cpu_total[name] = ours / count * 1000
        capacity = cpu["machine_capacity"] or float("nan")
        pg = f"{cpu['postgres'] / count * 1000:6.2f}" if name != "bare" else f"{'-':>6}"  # bare: no database
        say(
            f"{name:<11} {r['count']:>8} {r['rate']:>8.1f} {r['p50_ms']:>8.2f} {r['p99_ms']:>8.2f} {r['errors']:>6}"
            f" {r['response_bytes']:>6}   {'':16}{cpu['server'] / count * 1000:6.2f} {pg}"
            f" {cpu['driver'] / count * 1000:6.2f}            {cpu['machine_busy'] / capacity * 100:4.0f}%"
            f" {(cpu['machine_busy'] - ours) / capacity * 100:5.0f}%"
        )
    for name in names:
        for sample in results[name]["error_samples"]:
            say(f"  error in {name}: {sample}")
    say()
    for baseline, target in TARGETS.items():
        rate = results[baseline]["rate"]
        ratio = results["view"]["rate"] / rate if rate else float("nan")
        verdict = "MET" if ratio >= target else "MISS"
        say(
            f"view req/s / {baseline} req/s = {ratio:.3f}   target >= {target}   {verdict}"
            f" ({results['view']['rate']:.1f} / {rate:.1f} req/s)"
        )
    say(
        f"(CPU per request of server + its PostgreSQL backends + driver: view {cpu_total['view']:.2f} ms,"
        f" bare {cpu_total['bare']:.2f} ms, bare-insert {cpu_total['bare-insert']:.2f} ms; if the run is CPU-bound"
        f" the ratios tend to {cpu_total['bare'] / cpu_total['view']:.2f} and"
        f" {cpu_total['bare-insert'] / cpu_total['view']:.2f})"
    )
    say()
    say(
        f"notes: {args.workers} server worker(s) each; concurrency {args.concurrency} keep-alive connections from one"
        f" driver process ({args.concurrency} threads, one httpx.Client each);"
    )
    say(
        f"       the load generator shares the machine's {os.cpu_count()} cores with the servers and PostgreSQL"
        " (CPU ms/request: driver), so absolute rates are a lower bound;"
    )
    say(
        f"       SAMVERKAN_LOG_LEVEL={LOG_LEVEL} (the per-request access line is info, so it is not written) and"
        " the bare app runs with --no-access-log --log-level warning;"
    )
    say(
        "       bare-insert: one INSERT of a row (~1 kB) and its COMMIT per request, through a psycopg pool per"
        " worker (bench/bare_app.py), with the server's synchronous_commit;"
    )
    say(
        f"       view, bare and bare-insert were timed interleaved in {args.rounds} rounds, decisions after them;"
        " 'pg' is each server's own backends (by application_name);"
    )
    say(
        "       machine 'busy' is all CPUs, every process; 'others' is the part not used by this benchmark's"
        " processes (other work on the machine, PostgreSQL's WAL writer)."
    )


# -- main -------------------------------------------------------------------------------------------------------------


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--requests", type=int, default=3000, help="timed requests per scenario")
    parser.add_argument("--concurrency", type=int, default=8, help="concurrent keep-alive connections")
    parser.add_argument("--pg-url", default=DEFAULT_PG_URL, help="PostgreSQL server and database to use")
    parser.add_argument("--workers", type=int, default=1, help="uvicorn worker processes, for both servers")
    parser.add_argument("--participants", type=int, default=50)
    parser.add_argument("--decisions-each", type=int, default=5, help="FK decisions seeded per participant")
    parser.add_argument("--warmup", type=int, default=200, help="untimed requests per scenario first")
    parser.add_argument("--rounds", type=int, default=4, help="interleaving rounds of view and bare")
    parser.add_argument("--driver", help=argparse.SUPPRESS)  # internal: run the load from a spec file
    args = parser.parse_args()
    if args.driver:
        driver_main(args.driver)
        return

    target = parse_database_url(args.pg_url)
    if target.engine != "postgres":
        parser.error("--pg-url must be a postgresql:// URL")
    for line in machine_lines(target):
        say(line)
    run_id = uuid.uuid4().hex[:10]
    schema = f"bench_http_{run_id}"
    auth = target.user + (f":{target.password}" if target.password else "")
    database_url = f"postgresql://{auth}@{target.host}:{target.port}/{target.dbname}?schema={schema}"
    servers: list[Server] = []
    try:
        with pg_connect(target, autocommit=True) as conn:
            conn.execute(sql.SQL("CREATE SCHEMA {}").format(sql.Identifier(schema)))
        with tempfile.TemporaryDirectory(prefix="samverkan-bench-http-") as tmp:
            folder = Path(tmp)
            env = server_env(database_url)
            port = free_port()
            say(f"server     samverkan serve --workers {args.workers} on :{port}, schema {schema} (made by the server)")
            service = start_server(
                "samverkan",
                [sys.executable, "-m", "adapters.cli", "serve", "--port", str(port), "--workers", str(args.workers)],
                env,
                port,
                folder,
            )
            servers.append(service)
            service.wait_ready(lambda c: c.get("/api/v1/health").status_code == 200)

            began = time.perf_counter()
            ids = seed(service.base_url, args.participants, args.decisions_each, run_id)
            say(
                f"seeded     {len(ids)} participants, a consent (FK->SF, FK->AF insurance) and"
                f" {args.decisions_each} FK decisions each, over HTTP in {time.perf_counter() - began:.1f} s"
            )

            bare_port = free_port()
            bare_argv = [sys.executable, "-m", "uvicorn", "bench.bare_app:app", "--host", "127.0.0.1"]
            bare_argv += ["--port", str(bare_port), "--workers", str(args.workers), "--no-access-log"]
            bare_argv += ["--log-level", "warning", "--no-proxy-headers", "--app-dir", str(ROOT)]
            say(f"baseline   uvicorn bench.bare_app:app --workers {args.workers} on :{bare_port}")
            bare = start_server("bare", bare_argv, env | {"PGAPPNAME": BARE_APP_NAME}, bare_port, folder)
            servers.append(bare)
            probes = [f"/api/v1/participants/{ids[0]}/view", f"{INSERT_PREFIX}/api/v1/participants/{ids[0]}/view"]
            bare.wait_ready(
                lambda c: all(c.get(p, headers={"Authorization": "Bearer x"}).status_code == 200 for p in probes)
            )

            today = local_date(datetime.now(UTC))
            af = bearer("handlaggare-af-bench", "AF", "handlaggare")
            fk = bearer("handlaggare-fk-bench", "FK", "handlaggare")
            view_paths = [f"/api/v1/participants/{pid}/view" for pid in ids]
            common = {"method": "GET", "paths": view_paths, "expect": 200}
            spec = {
                "run_id": run_id,
                "pg_url": args.pg_url,
                "requests": args.requests,
                "concurrency": args.concurrency,
                "warmup": args.warmup,
                "rounds": args.rounds,
                "interleaved": ["view", "bare", "bare-insert"],
                "after": ["decisions"],
                "scenarios": [
                    {"name": "view", "base_url": service.base_url, "headers": af, "server_pid": service.process.pid}
                    | common,
                    {"name": "bare", "base_url": bare.base_url, "headers": af, "server_pid": bare.process.pid}
                    | common
                    | {"pg_backends": False},
                    {
                        "name": "bare-insert",
                        "base_url": bare.base_url,
                        "headers": af,
                        "server_pid": bare.process.pid,
                        "app_name": BARE_APP_NAME,
                    }
                    | common
                    | {"paths": [INSERT_PREFIX + path for path in view_paths]},
                    {
                        "name": "decisions",
                        "base_url": service.base_url,
                        "method": "POST",
                        "paths": [f"/api/v1/participants/{pid}/decisions" for pid in ids],
                        "headers": fk,
                        "expect": 201,
                        "server_pid": service.process.pid,
                        "body": decision_body(today, f"FK-HTTP-{run_id}"),
                    },
                ],
            }
            spec_file = folder / "spec.json"
            spec_file.write_text(json.dumps(spec))
            say(
                f"load       {args.requests} timed requests per scenario after {args.warmup} warm-up, concurrency"
                f" {args.concurrency}, from a separate driver process"
            )
            driver = subprocess.run(
                [sys.executable, str(Path(__file__).resolve()), "--driver", str(spec_file)],
                stdout=subprocess.PIPE,
                check=False,
                env={k: v for k, v in os.environ.items() if k != "PGAPPNAME"},  # its own backend is not the server's
            )
            if driver.returncode != 0:
                raise RuntimeError(f"the load driver failed (exit {driver.returncode})")
            results = json.loads(driver.stdout)
            for server in servers:
                if server.process.poll() is not None:
                    raise RuntimeError(f"{server.name} died during the run:\n{server.log_tail()}")
            print_report(results, args)
            for server in reversed(servers):
                server.stop()
            servers.clear()
    finally:
        for server in reversed(servers):
            server.stop()
        with pg_connect(target, autocommit=True) as conn:
            conn.execute(sql.SQL("DROP SCHEMA IF EXISTS {} CASCADE").format(sql.Identifier(schema)))
        say(f"cleanup    servers stopped, schema {schema} dropped")


if __name__ == "__main__":
    main()
