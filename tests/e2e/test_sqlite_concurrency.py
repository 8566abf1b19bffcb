"""The embedded default (SQLite, projections in process) as a real server under 16 concurrent clients of a
mixed workload (enrol, consent, decision, view, timeline, caseload): no errors, and no request over 1 s."""

from __future__ import annotations

import base64
import os
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from adapters.settings import Settings
from adapters.storage import open_storage
from bench.load import Credentials, run_mixed
from tests.conftest import fixed_keys
from tests.e2e.test_server_process import free_port

ROOT = Path(__file__).resolve().parents[2]
CLIENTS = 16
SECONDS = 12
MAX_LATENCY_S = 1.0


@pytest.fixture
def sqlite_server(tmp_path: Path) -> Iterator[str]:
    """`samverkan serve` on a fresh SQLite file with the default settings (projections in process)."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("SAMVERKAN_")}
    env.update({f"SAMVERKAN_{k.upper()}": v for k, v in fixed_keys().items()})
    env["SAMVERKAN_DATABASE_URL"] = f"sqlite:///{tmp_path / 'samverkan.db'}"
    env["SAMVERKAN_KEY_FILE"] = str(tmp_path / "keys.json")
    env["SAMVERKAN_LOG_LEVEL"] = "WARNING"
    env["PYTHONPATH"] = os.pathsep.join(p for p in (str(ROOT), env.get("PYTHONPATH", "")) if p)
    port = free_port()
    log_file = tmp_path / "server.log"
    with log_file.open("wb") as log:
        process = subprocess.Popen(
            [sys.executable, "-m", "adapters.cli", "serve", "--port", str(port)],
            env=env,
            cwd=tmp_path,
            stdout=log,
            stderr=subprocess.STDOUT,
        )
    base = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 30
        while True:
            assert process.poll() is None, f"samverkan serve exited early:\n{log_file.read_text()}"
            assert time.monotonic() < deadline, "samverkan serve did not answer within 30 s"
            try:
                if httpx.get(f"{base}/api/v1/health", timeout=1).status_code == 200:
                    break
            except httpx.TransportError:
                time.sleep(0.2)
        yield base
    finally:
        process.kill()
        process.wait(10)


def test_sixteen_clients_of_a_mixed_workload_get_no_errors_and_no_request_over_a_second(sqlite_server: str) -> None:
    secret = base64.b64decode(fixed_keys()["token_secret"])
    tally = run_mixed(sqlite_server, CLIENTS, SECONDS, Credentials(secret))

    counts = {op: len(latencies) for op, latencies in tally.latencies.items()}
    assert tally.total_errors == 0, (counts, tally.errors, tally.error_samples)
    slowest, seconds = tally.slowest()
    assert seconds < MAX_LATENCY_S, f"slowest request: {slowest} took {seconds:.2f} s ({counts})"
    assert set(counts) == {"enrol", "consent", "decision", "view", "timeline", "caseload"}, counts
    # The projections kept up: the in-process runner reaches the head shortly after the load stops.
    deadline = time.monotonic() + 10
    while set(httpx.get(f"{sqlite_server}/api/v1/health").json()["projections"]["lag_events"].values()) != {0}:
        assert time.monotonic() < deadline, "the projections did not catch up"
        time.sleep(0.1)


def test_a_thread_holding_the_writer_gets_a_second_connection_while_another_waits_for_the_writer(
    tmp_path: Path,
) -> None:
    """The shape of the stall: with the library's pool, a writer waiting for the writer lock holds the pool's
    queue, so the writer's holder waits for it in turn (5 s, then 503). Writers now wait outside the queue."""
    settings = Settings(
        database_url=f"sqlite:///{tmp_path / 'pool.db'}", key_file=tmp_path / "keys.json", **fixed_keys()
    )
    with open_storage(settings) as storage:
        datastore = storage.service.factory.datastore  # type: ignore[attr-defined]
        asking = threading.Event()

        def another_writer() -> None:
            asking.set()
            with datastore.transaction(commit=True) as cursor:
                cursor.execute("SELECT 1")

        with datastore.transaction(commit=True) as cursor:
            cursor.execute("SELECT 1")
            waiting = threading.Thread(target=another_writer)
            waiting.start()
            asking.wait(5)
            time.sleep(0.2)  # it now waits for the writer lock
            started = time.monotonic()
            with datastore.transaction(commit=False) as reader:
                reader.execute("SELECT COUNT(*) FROM stored_events")
            assert time.monotonic() - started < 0.5
        waiting.join(5)
        assert not waiting.is_alive()
