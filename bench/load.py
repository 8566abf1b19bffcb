"""Load test: the real server under a mixed workload of concurrent clients, against a bare FastAPI endpoint.

It starts `samverkan serve` (default: a fresh SQLite file, projections in process: the embedded default) and
drives it from this process with C threads, each with its own keep-alive httpx.Client, for S seconds. Each
client runs the same loop as one member of staff working through cases, as fast as the server answers:

- every ENROL_EVERY-th iteration (and the first): enrol a new fictitious participant, then record a consent
  (FK->SF and FK->AF, insurance), both as samordnare;
- every iteration, on the client's newest participant: FK records a decision (insurance, sjukpenning, unique
  source_ref), AF reads the view, SF reads the timeline;
- every CASELOAD_EVERY-th iteration: SF reads the caseload (all open cases: it grows during the run).

With `--mix issue` (the mix of issue 12) each client instead draws every request at random, 70 % views (AF
reads the view), 20 % decisions (FK records one), 10 % consent changes (the samordnare records a new consent
FK->SF, FK->AF, or withdraws the older of two, so one is always in force), on participants enrolled for it before
the clock starts (ISSUE_PARTICIPANTS per client, not timed).

A request is an error when it does not answer the expected status (201 or 200) or fails in transport.
The baseline is bench/bare_app.py served by the same uvicorn, driven by the same number of clients for
--bare-seconds in the same run; the report gives throughput and p99 latency as ratios against it.

    python bench/load.py [--clients 16] [--seconds 60] [--mix staff|issue]
                         [--database-url sqlite:///...|postgresql://...]
"""

# ruff: noqa: E402 - the path fix below must run before any import that reaches the standard `http` package

from __future__ import annotations

import sys
from pathlib import Path

# Run as a script, this folder comes first on sys.path, and its http.py would shadow the standard library's
# `http` package (httpx and uvicorn import it). Put the project root there instead.
ROOT = Path(__file__).resolve().parent.parent
if sys.path and Path(sys.path[0] or ".").resolve() == Path(__file__).resolve().parent:
    sys.path[0] = str(ROOT)

import argparse
import base64
import contextlib
import os
import platform
import random
import sqlite3
import statistics
import tempfile
import threading
import time
import uuid
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta
from importlib.metadata import version
from typing import Any

import httpx
import psycopg
from psycopg import sql

from adapters.auth import issue_token
from adapters.storage import parse_database_url
from bench.http import BENCH_KEYS, Server, cpu_model, free_port, server_env, start_server
from consent import local_date
from coordination.personnummer import fictitious_personnummer

ENROL_EVERY = 3
CASELOAD_EVERY = 3
SUMMARY = "Sjukpenning beviljad på halvtid från 1 oktober; avstämning med arbetsgivare i vår."
OPERATIONS = ("enrol", "consent", "decision", "view", "timeline", "caseload")
# --mix issue: the share of each request kind, and the participants each client works on.
ISSUE_MIX = {"view": 70, "decision": 20, "consent-change": 10}
ISSUE_PARTICIPANTS = 4
ISSUE_OPERATIONS = ("view", "decision", "consent-change")


def say(text: str = "") -> None:
    print(text, flush=True)


# -- the workload ---------------------------------------------------------------------------------------------------


@dataclass
class Tally:
    """Latencies and errors per operation, shared by all clients."""

    latencies: dict[str, list[float]] = field(default_factory=dict)
    errors: dict[str, int] = field(default_factory=dict)
    error_samples: list[str] = field(default_factory=list)
    lock: threading.Lock = field(default_factory=threading.Lock)
    server_errors: int = 0  # answers 500-599 (counted among the errors too)
    timed_seconds: float = 0.0  # from the start of the clock to the last client's end (set by run_mixed)

    def add(self, operation: str, seconds: float, error: str | None, status: int = 0) -> None:
        with self.lock:
            if status >= 500:
                self.server_errors += 1
            self.latencies.setdefault(operation, []).append(seconds)
            if error is not None:
                self.errors[operation] = self.errors.get(operation, 0) + 1
                if len(self.error_samples) < 10:
                    self.error_samples.append(f"{operation}: {error}")

    @property
    def total_errors(self) -> int:
        return sum(self.errors.values())

    @property
    def max_latency(self) -> float:
        return max((max(v) for v in self.latencies.values() if v), default=0.0)

    def slowest(self) -> tuple[str, float]:
        """The operation with the slowest single request, and that request's latency in seconds."""
        return max(((op, max(v)) for op, v in self.latencies.items() if v), key=lambda x: x[1], default=("-", 0.0))


class Credentials:
    """Bearer headers for the three users of the workload (default: signed with bench/http.py's bench secret)."""

    def __init__(self, secret: bytes | None = None) -> None:
        secret = secret or base64.b64decode(BENCH_KEYS["token_secret"])

        def header(sub: str, agency: str, role: str) -> dict[str, str]:
            return {"Authorization": "Bearer " + issue_token(secret, sub=sub, agency=agency, role=role, ttl="12h")}

        self.sf = header("samordnare-load", "SF", "samordnare")
        self.fk = header("handlaggare-fk-load", "FK", "handlaggare")
        self.af = header("handlaggare-af-load", "AF", "handlaggare")


class MixedClient:
    """One client working through cases in a loop (see the module docstring), on its own keep-alive connection."""

    def __init__(self, base_url: str, index: int, clients: int, credentials: Credentials, run_id: str) -> None:
        self.http = httpx.Client(base_url=base_url, timeout=30)
        self.index, self.clients = index, clients
        self.credentials = credentials
        self.run_id = run_id
        self.today = local_date(datetime.now(UTC))
        self.participants: list[str] = []
        self.consents: dict[str, list[str]] = {}  # --mix issue: each participant's consents in force, oldest first

    def close(self) -> None:
        self.http.close()

    def personnummer(self, n: int) -> str:
        """A fictitious adult's personnummer, unique per (client, enrolment) within a run."""
        number = n * self.clients + self.index
        born = date(1961, 1, 1) + timedelta(days=number // 100)
        return fictitious_personnummer(born, number % 100, gender="female" if number % 2 else "male")

    def call(self, tally: Tally, operation: str, method: str, path: str, expect: int, **kwargs: Any) -> Any:
        started = time.perf_counter()
        try:
            response = self.http.request(method, path, **kwargs)
        except httpx.HTTPError as error:
            tally.add(operation, time.perf_counter() - started, f"{type(error).__name__}: {error}")
            return None
        seconds = time.perf_counter() - started
        if response.status_code != expect:
            tally.add(operation, seconds, f"{response.status_code} {response.text[:160]}", response.status_code)
            return None
        tally.add(operation, seconds, None)
        return response.json()

    def run(self, until: float, tally: Tally) -> None:
        """Runs iterations until the monotonic clock passes `until` (a request under way is finished)."""
        c = self.credentials
        enrolled = 0
        iteration = 0
        while time.monotonic() < until:
            if iteration % ENROL_EVERY == 0 or not self.participants:
                body = {"personnummer": self.personnummer(enrolled), "given_name": "Testa", "family_name": "Lastsson"}
                enrolled += 1
                created = self.call(tally, "enrol", "POST", "/api/v1/participants", 201, json=body, headers=c.sf)
                if created is not None:
                    pid = created["id"]
                    consent = self.call(
                        tally, "consent", "POST", f"/api/v1/participants/{pid}/consents", 201, json=self.consent(),
                        headers=c.sf,
                    )  # fmt: skip
                    if consent is not None:
                        self.participants.append(pid)
            if self.participants:
                pid = self.participants[-1]
                decision = self.decision(f"FK-LOAD-{self.run_id}-{self.index}-{iteration}")
                self.call(
                    tally, "decision", "POST", f"/api/v1/participants/{pid}/decisions", 201, json=decision,
                    headers=c.fk,
                )  # fmt: skip
                self.call(tally, "view", "GET", f"/api/v1/participants/{pid}/view", 200, headers=c.af)
                self.call(tally, "timeline", "GET", f"/api/v1/participants/{pid}/timeline", 200, headers=c.sf)
            if iteration % CASELOAD_EVERY == CASELOAD_EVERY - 1:
                self.call(tally, "caseload", "GET", "/api/v1/caseload", 200, headers=c.sf)
            iteration += 1

    def run_issue_mix(self, until: float, tally: Tally) -> None:
        """--mix issue: enrols ISSUE_PARTICIPANTS participants (untimed, before `until` counts), then draws each
        request from ISSUE_MIX on one of them until the clock passes `until`."""
        c = self.credentials
        rng = random.Random(f"{self.run_id}-{self.index}")
        consents = self.consents
        kinds, weights = list(ISSUE_MIX), list(ISSUE_MIX.values())
        iteration = 0
        while time.monotonic() < until:
            pid = rng.choice(self.participants)
            kind = rng.choices(kinds, weights)[0]
            base = f"/api/v1/participants/{pid}"
            if kind == "view":
                self.call(tally, "view", "GET", f"{base}/view", 200, headers=c.af)
            elif kind == "decision":
                decision = self.decision(f"FK-MIX-{self.run_id}-{self.index}-{iteration}")
                self.call(tally, "decision", "POST", f"{base}/decisions", 201, json=decision, headers=c.fk)
            elif len(consents[pid]) > 1:
                oldest = consents[pid].pop(0)
                self.call(
                    tally, "consent-change", "POST", f"{base}/consents/{oldest}/withdrawal", 200, json={},
                    headers=c.sf,
                )  # fmt: skip
            else:
                created = self.call(
                    tally, "consent-change", "POST", f"{base}/consents", 201, json=self.consent(), headers=c.sf
                )
                if created is not None:
                    consents[pid].append(created["id"])
            iteration += 1

    def enrol_untimed(self, count: int) -> None:
        """Enrols `count` participants, each with a consent and a decision of FK's (so that AF has something to
        see: a view of nothing is 403), for --mix issue; not counted in the figures."""
        c, untimed = self.credentials, Tally()
        for n in range(count):
            body = {"personnummer": self.personnummer(n), "given_name": "Testa", "family_name": "Blandsson"}
            created = self.call(untimed, "enrol", "POST", "/api/v1/participants", 201, json=body, headers=c.sf)
            if created is None:
                raise RuntimeError(f"could not enrol the participants of the mix: {untimed.error_samples}")
            pid = str(created["id"])
            base = f"/api/v1/participants/{pid}"
            consent = self.call(untimed, "consent", "POST", f"{base}/consents", 201, json=self.consent(), headers=c.sf)
            seed = self.decision(f"FK-MIX-{self.run_id}-{self.index}-seed-{n}")
            decided = consent and self.call(
                untimed, "decision", "POST", f"{base}/decisions", 201, json=seed, headers=c.fk
            )
            if consent is None or decided is None:
                raise RuntimeError(f"could not enrol the participants of the mix: {untimed.error_samples}")
            self.participants.append(pid)
            self.consents[pid] = [str(consent["id"])]

    def consent(self) -> dict[str, Any]:
        return {
            "grants": [
                {"from": "FK", "to": "SF", "categories": ["insurance"]},
                {"from": "FK", "to": "AF", "categories": ["insurance"]},
            ],
            "purpose": "Samordnad rehabilitering mot arbete",
            "valid_from": (self.today - timedelta(days=30)).isoformat(),
            "valid_until": (self.today + timedelta(days=300)).isoformat(),
            "form": "written",
            "document_ref": "DOC-LOAD-1",
        }

    def decision(self, source_ref: str) -> dict[str, Any]:
        return {
            "category": "insurance",
            "decision_type": "sjukpenning",
            "effective_date": (self.today - timedelta(days=3)).isoformat(),
            "summary": SUMMARY,
            "source_ref": source_ref,
        }


def run_mixed(
    base_url: str, clients: int, seconds: float, credentials: Credentials | None = None, mix: str = "staff"
) -> Tally:
    """Runs `clients` mixed-workload clients against the server for `seconds`; returns what they measured.
    `mix`: "staff" (the loop of one member of staff) or "issue" (70 % views, 20 % decisions, 10 % consent
    changes, on participants enrolled before the clock starts)."""
    credentials = credentials or Credentials()
    tally = Tally()
    run_id = uuid.uuid4().hex[:8]
    workers = [MixedClient(base_url, k, clients, credentials, run_id) for k in range(clients)]
    if mix == "issue":
        for worker in workers:
            worker.enrol_untimed(ISSUE_PARTICIPANTS)
    target = {"staff": MixedClient.run, "issue": MixedClient.run_issue_mix}[mix]
    started = time.monotonic()
    until = started + seconds
    threads = [threading.Thread(target=target, args=(w, until, tally), name=f"load-{k}") for k, w in enumerate(workers)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    tally.timed_seconds = time.monotonic() - started
    for worker in workers:
        worker.close()
    return tally


def run_bare(base_url: str, clients: int, seconds: float, probe_id: str) -> Tally:
    """The baseline: the same number of clients reading the bare endpoint for `seconds`."""
    tally = Tally()
    until = time.monotonic() + seconds
    headers = {"Authorization": "Bearer x"}

    def work() -> None:
        with httpx.Client(base_url=base_url, timeout=30, headers=headers) as http:
            while time.monotonic() < until:
                started = time.perf_counter()
                try:
                    status = http.get(f"/api/v1/participants/{probe_id}/view").status_code
                    error = None if status == 200 else str(status)
                except httpx.HTTPError as failure:
                    error = type(failure).__name__
                tally.add("bare", time.perf_counter() - started, error)

    threads = [threading.Thread(target=work) for _ in range(clients)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    return tally


# -- reporting ------------------------------------------------------------------------------------------------------


def cuts(latencies: list[float]) -> dict[str, float]:
    """p50, p95, p99 and max in milliseconds."""
    if len(latencies) < 2:
        value = latencies[0] * 1000 if latencies else float("nan")
        return {"p50": value, "p95": value, "p99": value, "max": value}
    q = statistics.quantiles(latencies, n=100, method="inclusive")
    return {"p50": q[49] * 1000, "p95": q[94] * 1000, "p99": q[98] * 1000, "max": max(latencies) * 1000}


def report(
    tally: Tally, seconds: float, bare: Tally, bare_seconds: float, operations: tuple[str, ...] = OPERATIONS
) -> None:
    say()
    heads = ("requests", "errors", "req/s", "p50 ms", "p95 ms", "p99 ms", "max ms")
    say(f"{'operation':<14}" + "".join(f" {h:>9}" for h in heads))
    rows = [(op, tally.latencies.get(op, []), tally.errors.get(op, 0)) for op in operations]
    everything = [x for op in operations for x in tally.latencies.get(op, [])]
    rows.append(("overall", everything, tally.total_errors))
    rows.append(("bare", bare.latencies.get("bare", []), bare.total_errors))
    for name, latencies, errors in rows:
        span = bare_seconds if name == "bare" else seconds
        c = cuts(latencies)
        say(
            f"{name:<14} {len(latencies):>9} {errors:>9} {len(latencies) / span:>9.1f} {c['p50']:>9.1f}"
            f" {c['p95']:>9.1f} {c['p99']:>9.1f} {c['max']:>9.1f}"
        )
    for sample in tally.error_samples + bare.error_samples:
        say(f"  error: {sample}")
    overall, baseline = cuts(everything), cuts(bare.latencies.get("bare", []))
    rate, bare_rate = len(everything) / seconds, len(bare.latencies.get("bare", [])) / bare_seconds
    say()
    say(f"mixed req/s / bare req/s = {rate / bare_rate:.3f}" if bare_rate else "no bare figures")
    say(f"mixed p99 / bare p99     = {overall['p99'] / baseline['p99']:.1f}" if baseline["p99"] else "")
    verdict = "PASS" if tally.total_errors == 0 and overall["p99"] < 1000 else "MISS"
    say(f"target: 0 errors and p99 under 1 s: errors {tally.total_errors}, p99 {overall['p99']:.0f} ms   {verdict}")
    say(f"5xx answers: {tally.server_errors}")


def machine_lines(database_url: str) -> list[str]:
    load = " ".join(Path("/proc/loadavg").read_text().split()[:3]) if Path("/proc/loadavg").exists() else "?"
    lines = [
        f"machine    {cpu_model()}, {os.cpu_count()} cores, {platform.platform()}; load average before start {load}",
        f"software   Python {platform.python_version()}, eventsourcing {version('eventsourcing')},"
        f" fastapi {version('fastapi')}, uvicorn {version('uvicorn')}, httpx {version('httpx')} (load generator)",
    ]
    target = parse_database_url(database_url)
    if target.engine == "sqlite":
        lines.append(f"sqlite     {sqlite3.sqlite_version}, file {target.sqlite_path}")
    else:
        lines.append(f"postgres   {target.describe()}")
    return lines


# -- main -----------------------------------------------------------------------------------------------------------


@contextlib.contextmanager
def database(url: str | None, folder: Path) -> Iterator[str]:
    """The database the server uses: the given URL, or a fresh SQLite file (a PostgreSQL URL without a schema
    gets a fresh schema, dropped afterwards)."""
    if url is None:
        yield f"sqlite:///{folder / 'load.db'}"
        return
    target = parse_database_url(url)
    if target.engine == "sqlite" or target.schema:
        yield url
        return
    schema = f"bench_load_{uuid.uuid4().hex[:10]}"
    params: dict[str, Any] = {"host": target.host, "port": target.port, "user": target.user, "dbname": target.dbname}
    if target.password:
        params["password"] = target.password
    with psycopg.connect(**params, autocommit=True) as conn:
        conn.execute(sql.SQL("CREATE SCHEMA {}").format(sql.Identifier(schema)))
    try:
        yield f"{url}{'&' if '?' in url else '?'}schema={schema}"
    finally:
        with psycopg.connect(**params, autocommit=True) as conn:
            conn.execute(sql.SQL("DROP SCHEMA IF EXISTS {} CASCADE").format(sql.Identifier(schema)))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--clients", type=int, default=16, help="concurrent clients (threads, keep-alive each)")
    parser.add_argument("--seconds", type=float, default=60, help="how long the mixed workload runs")
    parser.add_argument("--bare-seconds", type=float, default=15, help="how long the bare baseline runs")
    parser.add_argument("--database-url", help="default: a fresh SQLite file (the embedded default)")
    parser.add_argument(
        "--mix", choices=("staff", "issue"), default="staff",
        help="staff: the loop of the module docstring; issue: 70 %% views, 20 %% decisions, 10 %% consent changes",
    )  # fmt: skip
    args = parser.parse_args()

    servers: list[Server] = []
    with (
        tempfile.TemporaryDirectory(prefix="samverkan-bench-load-") as tmp,
        database(args.database_url, Path(tmp)) as url,
    ):
        folder = Path(tmp)
        for line in machine_lines(url):
            say(line)
        try:
            env = server_env(url)
            port = free_port()
            engine = parse_database_url(url).engine
            say(f"server     samverkan serve on :{port} (1 worker, projections in process), {engine}")
            service = start_server(
                "samverkan", [sys.executable, "-m", "adapters.cli", "serve", "--port", str(port)], env, port, folder
            )
            servers.append(service)
            service.wait_ready(lambda c: c.get("/api/v1/health").status_code == 200)
            bare_port = free_port()
            bare_argv = [sys.executable, "-m", "uvicorn", "bench.bare_app:app", "--host", "127.0.0.1"]
            bare_argv += ["--port", str(bare_port), "--no-access-log", "--log-level", "warning", "--app-dir", str(ROOT)]
            bare = start_server("bare", bare_argv, env, bare_port, folder)
            servers.append(bare)
            probe = str(uuid.uuid4())
            bare.wait_ready(
                lambda c: (
                    c.get(f"/api/v1/participants/{probe}/view", headers={"Authorization": "Bearer x"}).status_code
                    == 200
                )
            )

            say(f"baseline   bench.bare_app on :{bare_port}: {args.clients} clients for {args.bare_seconds:g} s")
            bare_tally = run_bare(bare.base_url, args.clients, args.bare_seconds, probe)
            bare.stop()
            servers.remove(bare)
            if args.mix == "staff":
                say(
                    f"load       {args.clients} clients for {args.seconds:g} s: enrol+consent once in {ENROL_EVERY}"
                    f" iterations, decision+view+timeline every iteration, caseload once in {CASELOAD_EVERY}"
                )
            else:
                shares = ", ".join(f"{share} % {kind}" for kind, share in ISSUE_MIX.items())
                say(
                    f"load       {args.clients} clients for {args.seconds:g} s, mix issue: {shares}, on"
                    f" {ISSUE_PARTICIPANTS} participants per client enrolled before the clock starts"
                )
            began = time.monotonic()
            tally = run_mixed(service.base_url, args.clients, args.seconds, mix=args.mix)
            elapsed = time.monotonic() - began
            if args.mix == "issue":  # the enrolment before the clock starts is not part of the run
                elapsed = tally.timed_seconds
            if service.process.poll() is not None:
                raise RuntimeError(f"the server died during the run:\n{service.log_tail()}")
            with httpx.Client(base_url=service.base_url, timeout=10) as http:
                health = http.get("/api/v1/health").json()
            operations = OPERATIONS if args.mix == "staff" else ISSUE_OPERATIONS
            report(tally, elapsed, bare_tally, args.bare_seconds, operations)
            say(f"after      projections lag {health['projections']['lag_events']}, health {health['status']}")
        finally:
            for server in reversed(servers):
                server.stop()


if __name__ == "__main__":
    main()
