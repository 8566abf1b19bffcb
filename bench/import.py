"""Benchmark: `samverkan import decisions` on a large file, against raw psycopg loads of the same rows, same run.

On PostgreSQL, each loop in a fresh schema of its own:

1. setup, not timed: P participants enrolled through the service, each with a written consent FK -> SF:
   insurance (several threads, so the setup's commits overlap); then the file: N decisions of FK as JSON Lines,
   spread evenly over the participants in a shuffled (seeded) order, each row naming its participant by
   personnummer, as an agency's export does;
2. import: `adapters.importing.import_decisions`, the function `samverkan import decisions` runs (the same
   batched transactions, lookups, gate and log), with --batch-size B;
3. raw loop: one client, plain psycopg, INSERT one row (the file's line as jsonb, an id, a timestamp) + COMMIT.
   It runs interleaved with the import: after each batch the import commits, R raw rows (their time is not
   counted as the import's), so both see the same disk;
4. raw COPY: the file's N lines into a table by one COPY in one transaction, before and after the import (the
   rate is over both).

Then the same file is imported again (the re-run after a finished or killed import): it must record nothing and
count every row as already recorded. The figures that matter are the ratios, measured in the same run.

    python bench/import.py [--decisions N] [--participants P] [--batch-size B] [--raw-per-batch R] [--pg-url URL]
"""

# ruff: noqa: E402 - the path fix below must run before any import that reaches the standard `http` package

from __future__ import annotations

import sys
from pathlib import Path

# Run as a script, this folder comes first on sys.path, and its http.py would shadow the standard library's
# `http` package (the JWT library imports it). Put the project root there instead.
ROOT = Path(__file__).resolve().parent.parent
if sys.path and Path(sys.path[0] or ".").resolve() == Path(__file__).resolve().parent:
    sys.path[0] = str(ROOT)

import argparse
import base64
import contextlib
import json
import os
import platform
import random
import secrets
import shutil
import tempfile
import time
import uuid
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from importlib.metadata import version

import psycopg
from psycopg import sql
from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeRemainingColumn
from rich.table import Table

from adapters.importing import DEFAULT_BATCH_SIZE, ImportSummary, import_decisions, import_settings
from adapters.read_service import open_read_service
from adapters.settings import Settings
from adapters.storage import DatabaseTarget, Storage, open_storage, parse_database_url
from bench.benchlib import cpu_model, enrol_with_consent, pg_connect, pg_url
from consent import local_date
from coordination.personnummer import fictitious_personnummer

DEFAULT_PG_URL = "postgresql://postgres@127.0.0.1:5432/test"
TARGET_RAW = 3.0  # import decisions/s over raw single-row INSERT+COMMIT rows/s, on PostgreSQL
SETUP_THREADS = 8
SUMMARIES = (
    "Sjukpenning beviljad på halvtid från 1 oktober; avstämning med arbetsgivare och Arbetsförmedlingen i vår.",
    "Rehabiliteringsersättning beviljad under arbetsträning i förbundets insats, tolv veckor.",
    "Avstämningsmöte hållet med deltagaren, arbetsgivaren och vården; plan för stegvis återgång.",
)
TYPES = (("sjukpenning", {"omfattning": 50, "dagar": 56}), ("rehabiliteringsersättning", {"veckor": 12}))

console = Console(width=max(shutil.get_terminal_size((150, 24)).columns, 120))


# -- the file and the participants --------------------------------------------------------------------------------


def personnummer(p: int) -> str:
    """The p-th participant's (fictitious, valid in form) personnummer: one birth date each."""
    born = date(1945, 1, 1) + timedelta(days=p)
    return fictitious_personnummer(born, p % 100, gender="female" if p % 2 else "male")


def write_file(path: Path, decisions: int, participants: int, seed: int) -> list[str]:
    """N decisions of FK over P participants (N/P each), shuffled; returns the lines (without line breaks)."""
    order = [i % participants for i in range(decisions)]
    random.Random(seed).shuffle(order)
    lines = []
    for i, p in enumerate(order):
        decision_type, attributes = TYPES[i % len(TYPES)]
        row = {
            "personnummer": personnummer(p),
            "category": "insurance",
            "decision_type": decision_type,
            "effective_date": (date(2026, 1, 5) + timedelta(days=i % 300)).isoformat(),
            "summary": SUMMARIES[i % len(SUMMARIES)],
            "source_ref": f"FK-BULK-{i:07d}",
            "attributes": attributes,
        }
        lines.append(json.dumps(row, ensure_ascii=False))
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return lines


def enrol_all(storage: Storage, participants: int) -> None:
    """Enrols the participants with a consent each, through the service, in overlapping threads (not timed)."""
    service = storage.service
    today = local_date(datetime.now(UTC))

    def one(p: int) -> None:
        enrol_with_consent(service, personnummer(p), "Bulksson", today)

    with (
        ThreadPoolExecutor(SETUP_THREADS) as pool,
        progress_bar("setup") as bar,
    ):
        task = bar.add_task("enrolling", total=participants)
        for _ in pool.map(one, range(participants)):
            bar.advance(task)


@contextlib.contextmanager
def progress_bar(what: str) -> Iterator[Progress]:
    with Progress(
        TextColumn(f"  {what:<10}"),
        BarColumn(),
        MofNCompleteColumn(),
        TimeRemainingColumn(),
        console=console,
        transient=True,
        disable=not console.is_terminal,
    ) as bar:
        yield bar


# -- PostgreSQL ---------------------------------------------------------------------------------------------------


class RawLoads:
    """The baselines on one connection of plain psycopg: single-row INSERT+COMMIT, and COPY in one transaction."""

    def __init__(self, target: DatabaseTarget, schema: str, lines: list[str]) -> None:
        self.conn = pg_connect(target)
        self.lines = lines
        self.schema = schema
        self.conn.execute(sql.SQL("CREATE SCHEMA {}").format(sql.Identifier(schema)))
        for table in ("raw_rows", "copied_rows"):
            self.conn.execute(
                sql.SQL(
                    "CREATE TABLE {} (id uuid PRIMARY KEY, payload jsonb NOT NULL, recorded_at timestamptz NOT NULL)"
                ).format(sql.Identifier(schema, table))
            )
        self.conn.commit()
        self.insert = sql.SQL("INSERT INTO {} (id, payload, recorded_at) VALUES (%s, %s, %s)").format(
            sql.Identifier(schema, "raw_rows")
        )
        self.inserted = 0
        self.insert_seconds = 0.0
        self.copied = 0
        self.copy_seconds = 0.0

    def insert_rows(self, count: int) -> None:
        """`count` single-row INSERT + COMMIT, timed."""
        began = time.perf_counter()
        for _ in range(count):
            line = self.lines[self.inserted % len(self.lines)]
            self.conn.execute(self.insert, (uuid.uuid4(), line, datetime.now(UTC)))
            self.conn.commit()
            self.inserted += 1
        self.insert_seconds += time.perf_counter() - began

    def copy_all(self) -> None:
        """Every line of the file by one COPY, in one transaction (into an emptied table), timed."""
        table = sql.Identifier(self.schema, "copied_rows")
        self.conn.execute(sql.SQL("TRUNCATE {}").format(table))
        self.conn.commit()
        began = time.perf_counter()
        with self.conn.cursor() as cursor:
            with cursor.copy(sql.SQL("COPY {} (id, payload, recorded_at) FROM STDIN").format(table)) as copy:
                for line in self.lines:
                    copy.write_row((uuid.uuid4(), line, datetime.now(UTC)))
            self.conn.commit()
        self.copy_seconds += time.perf_counter() - began
        self.copied += len(self.lines)

    def close(self) -> None:
        self.conn.close()


def server_settings(target: DatabaseTarget) -> dict[str, str]:
    names = ("server_version", "synchronous_commit", "fsync", "wal_sync_method", "full_page_writes")
    names += ("shared_buffers", "max_wal_size", "commit_delay")
    with pg_connect(target, autocommit=True) as conn:
        return {name: str((conn.execute(f"SHOW {name}").fetchone() or ["?"])[0]) for name in names}


# -- measuring ----------------------------------------------------------------------------------------------------


@dataclass
class Result:
    decisions: int
    participants: int
    batch_size: int
    import_seconds: float
    import_cpu_seconds: float
    summary: ImportSummary
    raw_rows: int
    raw_seconds: float
    copy_rows: int
    copy_seconds: float
    rerun_seconds: float
    rerun: ImportSummary
    stored: int

    @property
    def import_rate(self) -> float:
        return self.decisions / self.import_seconds

    @property
    def raw_rate(self) -> float:
        return self.raw_rows / self.raw_seconds

    @property
    def copy_rate(self) -> float:
        return self.copy_rows / self.copy_seconds


def bench_settings(database_url: str, key_dir: Path) -> Settings:
    """The service's default settings (as `samverkan import` reads them), on the given database, fresh keys."""
    keys = {name: base64.b64encode(secrets.token_bytes(32)).decode() for name in ("master_key", "lookup_key")}
    return Settings(database_url=database_url, key_file=key_dir / "keys.json", **keys)


def run(target: DatabaseTarget, args: argparse.Namespace) -> Result:
    run_id = uuid.uuid4().hex[:10]
    schemas = {loop: f"bench_{run_id}_{loop}" for loop in ("raw", "samverkan")}
    try:
        with contextlib.ExitStack() as stack:
            tmp = Path(stack.enter_context(tempfile.TemporaryDirectory(prefix="samverkan-import-bench-")))
            path = tmp / "fk-decisions.jsonl"
            lines = write_file(path, args.decisions, args.participants, args.seed)
            console.print(f"  file       {path.stat().st_size / 1e6:.1f} MB, {len(lines)} lines")
            settings = bench_settings(pg_url(target, schemas["samverkan"]), tmp)
            began = time.perf_counter()
            with open_storage(settings) as setup:
                enrol_all(setup, args.participants)
            console.print(
                f"  setup      {args.participants} participants enrolled with a consent each in "
                f"{time.perf_counter() - began:.0f} s (not timed)"
            )
            raw = RawLoads(target, schemas["raw"], lines)
            stack.callback(raw.close)
            raw.insert_rows(args.raw_per_batch)  # warm-up, not counted
            raw.inserted, raw.insert_seconds = 0, 0.0
            raw.copy_all()

            # As `samverkan import decisions` runs: a process of its own (nothing cached from the setup), with
            # the import's settings.
            settings = import_settings(settings)
            storage = open_storage(settings)
            stack.callback(storage.close)  # closing twice is harmless
            reads = open_read_service(storage, settings)
            in_raw, in_raw_cpu = 0.0, 0.0

            def interleave(_lines: int) -> None:
                nonlocal in_raw, in_raw_cpu
                began, began_cpu = time.perf_counter(), time.process_time()
                raw.insert_rows(args.raw_per_batch)
                in_raw += time.perf_counter() - began
                in_raw_cpu += time.process_time() - began_cpu

            cpu_began, began = time.process_time(), time.perf_counter()
            summary = import_decisions(
                reads,
                path,
                agency="FK",
                user_id="handlaggare-fk-bench",
                progress=interleave,
                batch_size=args.batch_size,
            )
            import_seconds = time.perf_counter() - began - in_raw
            import_cpu = time.process_time() - cpu_began - in_raw_cpu
            raw.copy_all()
            console.print(
                f"  import     {summary.recorded} recorded, {summary.already_recorded} already, "
                f"{summary.rejected} rejected in {import_seconds:.1f} s"
            )
            stored = decisions_stored(target, schemas["samverkan"])

            storage.close()
            with open_storage(settings) as again:  # a new process again
                began = time.perf_counter()
                rerun = import_decisions(
                    open_read_service(again, settings),
                    path,
                    agency="FK",
                    user_id="handlaggare-fk-bench",
                    batch_size=args.batch_size,
                )
                rerun_seconds = time.perf_counter() - began
            stored_after = decisions_stored(target, schemas["samverkan"])
            if stored_after != stored:
                raise SystemExit(f"the re-run stored {stored_after - stored} decisions: it must store none")
            return Result(
                args.decisions,
                args.participants,
                args.batch_size,
                import_seconds,
                import_cpu,
                summary,
                raw.inserted,
                raw.insert_seconds,
                raw.copied,
                raw.copy_seconds,
                rerun_seconds,
                rerun,
                stored,
            )
    finally:
        with pg_connect(target, autocommit=True) as conn:
            for schema in schemas.values():
                conn.execute(sql.SQL("DROP SCHEMA IF EXISTS {} CASCADE").format(sql.Identifier(schema)))


def decisions_stored(target: DatabaseTarget, schema: str) -> int:
    with pg_connect(target, autocommit=True) as conn:
        row = conn.execute(
            sql.SQL("SELECT count(*) FROM {} WHERE topic LIKE %s").format(sql.Identifier(schema, "samverkan_events")),
            ("%DecisionRecorded%",),
        ).fetchone()
    return int(row[0]) if row else 0


# -- reporting ----------------------------------------------------------------------------------------------------


def peak_rss_mb() -> float:
    with contextlib.suppress(OSError):
        for line in Path("/proc/self/status").read_text().splitlines():
            if line.startswith("VmHWM:"):
                return int(line.split()[1]) / 1024
    return float("nan")


def print_results(result: Result) -> None:
    table = Table(
        title=f"Import of {result.decisions} decisions over {result.participants} participants "
        f"(batch {result.batch_size}), PostgreSQL"
    )
    for heading in ("load", "rows", "seconds", "rows/s", "import / it", "target"):
        table.add_column(heading, justify="right")
    ratio_raw = result.import_rate / result.raw_rate
    verdict = "MET" if ratio_raw >= TARGET_RAW else "MISS"
    table.add_row(
        "samverkan import",
        str(result.decisions),
        f"{result.import_seconds:.1f}",
        f"{result.import_rate:.0f}",
        "",
        "",
    )
    table.add_row(
        "raw INSERT+COMMIT, 1 client",
        str(result.raw_rows),
        f"{result.raw_seconds:.1f}",
        f"{result.raw_rate:.0f}",
        f"{ratio_raw:.2f}",
        f">= {TARGET_RAW:.0f}: {verdict} ({ratio_raw:.2f})",
    )
    table.add_row(
        "raw COPY, one transaction",
        str(result.copy_rows),
        f"{result.copy_seconds:.1f}",
        f"{result.copy_rate:.0f}",
        f"{result.import_rate / result.copy_rate:.3f}",
        "none (the ceiling)",
    )
    table.add_row(
        "re-run of the same file",
        str(result.decisions),
        f"{result.rerun_seconds:.1f}",
        f"{result.decisions / result.rerun_seconds:.0f}",
        "",
        "stores nothing",
    )
    console.print(table)
    console.print(
        f"import     client CPU {result.import_cpu_seconds / result.decisions * 1000:.3f} ms per decision "
        f"(this process: parsing, lookups, sealing, the gate, the events; the database server's is not included)"
    )
    console.print(f"memory     peak RSS of this process (setup, import and re-run): {peak_rss_mb():.0f} MB")
    first, again = result.summary, result.rerun
    console.print(
        f"counts     import: recorded {first.recorded}, already {first.already_recorded}, rejected {first.rejected}; "
        f"re-run: recorded {again.recorded}, already {again.already_recorded}, rejected {again.rejected}; "
        f"DecisionRecorded events stored: {result.stored}"
    )
    ok = first.recorded == result.decisions == again.already_recorded == result.stored and again.recorded == 0
    console.print(f"check      every row stored once, the re-run stored nothing: {'yes' if ok else 'NO'}")
    console.print(f"target (PostgreSQL): import/raw >= {TARGET_RAW:.0f}: {verdict} ({ratio_raw:.2f})")


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    parser.add_argument("--decisions", type=int, default=100_000, metavar="N")
    parser.add_argument("--participants", type=int, default=10_000, metavar="P")
    parser.add_argument("--batch-size", type=int, default=DEFAULT_BATCH_SIZE, metavar="B")
    parser.add_argument(
        "--raw-per-batch", type=int, default=25, metavar="R", help="raw INSERT+COMMIT rows run after each batch"
    )
    parser.add_argument("--seed", type=int, default=13)
    parser.add_argument("--pg-url", default=os.environ.get("SAMVERKAN_BENCH_POSTGRES_URL", DEFAULT_PG_URL))
    args = parser.parse_args(argv)
    if not 1 <= args.participants <= 30_000 or args.decisions < 1 or args.batch_size < 1 or args.raw_per_batch < 1:
        parser.error("need 1 <= --participants <= 30000, --decisions >= 1, --batch-size >= 1, --raw-per-batch >= 1")
    return args


def main(argv: list[str] | None = None) -> None:
    args = parse_args(argv)
    target = parse_database_url(args.pg_url)
    if target.engine != "postgres" or target.schema:
        raise SystemExit("--pg-url must be a postgresql:// URL without ?schema= (each loop gets its own schema)")
    server = server_settings(target)
    console.print(f"machine    {cpu_model()}, {os.cpu_count()} cores, {platform.platform()}")
    console.print(
        f"software   Python {platform.python_version()}, eventsourcing {version('eventsourcing')}, "
        f"psycopg {psycopg.__version__}, PostgreSQL {server.pop('server_version')} at {target.host}:{target.port}"
    )
    console.print("postgres   " + ", ".join(f"{name}={value}" for name, value in server.items()))
    defaults = Settings.model_fields
    console.print(
        f"workload   {args.decisions} decisions of FK over {args.participants} participants, shuffled (seed "
        f"{args.seed}), by personnummer; batch {args.batch_size}; aggregate cache "
        f"{import_settings(Settings()).aggregate_cache_size} cases (the import's; the service's default "
        f"{defaults['aggregate_cache_size'].default}); {args.raw_per_batch} raw rows after each batch"
    )
    print_results(run(target, args))


if __name__ == "__main__":
    main()
