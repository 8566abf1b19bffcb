"""Fault tests' fixtures: a PostgreSQL cluster of the tests' own (pg_createcluster on a free port, removed at the
end whatever happens) and real `samverkan serve` processes against it.

The shared server at 127.0.0.1:5432 is never stopped, restarted or written to: these tests stop and start only
the cluster they made. Without pg_createcluster (postgresql-common, run as root) they are skipped with the
reason, except under CI=true, where they fail."""

from __future__ import annotations

import atexit
import contextlib
import os
import re
import shutil
import signal
import socket
import subprocess
import sys
import threading
import time
import uuid
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx
import psycopg
import pytest

from adapters.auth import issue_token
from adapters.settings import Settings
from tests.conftest import fixed_keys

ROOT = Path(__file__).resolve().parents[2]
# The name carries the pid of the test process that made the cluster: a later run removes a leftover one whose
# process is gone (a run killed with SIGKILL has no chance to clean up).
CLUSTER_PREFIX = "samverkan_fault_"
# Kept short so the tests are: an outage is answered within this + 1 s.
CONNECT_TIMEOUT_S = int(os.environ.get("SAMVERKAN_FAULT_CONNECT_TIMEOUT_S", "2"))


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def _postgres_version() -> str | None:
    """The newest server version installed for pg_createcluster (a folder under /etc/postgresql)."""
    base = Path("/etc/postgresql")
    if not base.is_dir():
        return None
    versions = [
        p.name for p in base.iterdir() if p.name.isdigit() and Path(f"/usr/lib/postgresql/{p.name}/bin/pg_ctl").exists()
    ]
    return max(versions, key=int) if versions else None


def cluster_tools_missing() -> str | None:
    """Why this machine cannot make a cluster of its own, or None when it can."""
    for tool in ("pg_createcluster", "pg_ctlcluster", "pg_dropcluster"):
        if shutil.which(tool) is None:
            return f"{tool} is not installed (Debian/Ubuntu package postgresql-common)"
    if os.geteuid() != 0:
        return "pg_createcluster needs root"
    if _postgres_version() is None:
        return "no PostgreSQL server version under /etc/postgresql"
    return None


def require_cluster_tools() -> None:
    reason = cluster_tools_missing()
    if reason is None:
        return
    if os.environ.get("CI", "").lower() == "true":
        pytest.fail(
            f"fault tests need a PostgreSQL cluster of their own: {reason}; required when CI=true", pytrace=False
        )
    pytest.skip(f"fault tests need a PostgreSQL cluster of their own: {reason}")


def _run(*command: str, check: bool = True, timeout: float = 60) -> subprocess.CompletedProcess[str]:
    result = subprocess.run(command, capture_output=True, text=True, timeout=timeout, check=False)
    if check and result.returncode != 0:
        raise RuntimeError(f"{' '.join(command)} failed ({result.returncode}): {result.stderr.strip()}")
    return result


@dataclass
class Cluster:
    """A PostgreSQL cluster made for these tests only."""

    version: str
    name: str
    port: int
    dropped: bool = False

    def _ctl(self, action: str, *options: str) -> None:
        _run("pg_ctlcluster", "--skip-systemctl-redirect", self.version, self.name, action, *options)

    def start(self) -> None:
        """Starts the cluster; returns once it accepts connections."""
        self._ctl("start")

    def stop(self) -> None:
        """A fast shutdown: open transactions are rolled back, connections cut."""
        self._ctl("stop", "-m", "fast")

    def url(self, dbname: str) -> str:
        return f"postgresql://postgres@127.0.0.1:{self.port}/{dbname}"

    def drop(self) -> None:
        if not self.dropped:
            self.dropped = True
            _run("pg_dropcluster", "--stop", self.version, self.name, check=False)


def _process_alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def _drop_leftovers(version: str) -> None:
    """Removes clusters an earlier run of these tests made and could not remove (its process is gone)."""
    for folder in Path(f"/etc/postgresql/{version}").glob(f"{CLUSTER_PREFIX}*"):
        found = re.fullmatch(rf"{CLUSTER_PREFIX}(\d+)_[0-9a-f]+", folder.name)
        if found and not _process_alive(int(found.group(1))):
            _run("pg_dropcluster", "--stop", version, folder.name, check=False)


@contextlib.contextmanager
def _terminated_as_interrupt() -> Iterator[None]:
    """SIGTERM (a CI job cancelled) ends the run like Ctrl-C, so the fixture's finally and atexit still run."""
    previous = signal.getsignal(signal.SIGTERM)
    replace = previous == signal.SIG_DFL and threading.current_thread() is threading.main_thread()
    if replace:
        signal.signal(signal.SIGTERM, signal.default_int_handler)
    try:
        yield
    finally:
        if replace:
            signal.signal(signal.SIGTERM, previous)


@pytest.fixture(scope="session")
def pg_cluster() -> Iterator[Cluster]:
    """A cluster of the tests' own on a free port (trust authentication, 127.0.0.1 only), dropped at the end."""
    require_cluster_tools()
    version = _postgres_version()
    assert version is not None
    _drop_leftovers(version)
    cluster = Cluster(version, f"{CLUSTER_PREFIX}{os.getpid()}_{uuid.uuid4().hex[:8]}", free_port())
    atexit.register(cluster.drop)  # a crash of the test process between here and the finally below
    with _terminated_as_interrupt():
        try:
            _run(
                "pg_createcluster",
                cluster.version,
                cluster.name,
                "--port",
                str(cluster.port),
                "--start-conf",
                "manual",
                "--",
                "--auth=trust",
            )
            cluster.start()
            yield cluster
        finally:
            cluster.drop()


def samverkan_env(database_url: str, workdir: Path, **extra: str) -> dict[str, str]:
    """The environment of a samverkan process against `database_url` (the tests' fixed keys)."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("SAMVERKAN_")}
    env.update({f"SAMVERKAN_{k.upper()}": v for k, v in fixed_keys().items()})
    env.update(
        SAMVERKAN_DATABASE_URL=database_url,
        SAMVERKAN_KEY_FILE=str(workdir / "keys.json"),
        SAMVERKAN_LOG_LEVEL="WARNING",
        SAMVERKAN_DB_CONNECT_TIMEOUT_S=str(CONNECT_TIMEOUT_S),
        PYTHONPATH=os.pathsep.join(p for p in (str(ROOT), os.environ.get("PYTHONPATH", "")) if p),
    )
    env.update(extra)
    return env


def samverkan(env: dict[str, str], *arguments: str, timeout: float = 120) -> subprocess.CompletedProcess[str]:
    """Runs a `samverkan` command line to the end."""
    return subprocess.run(
        [sys.executable, "-m", "adapters.cli", *arguments],
        env=env,
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=timeout,
        check=False,
    )


@dataclass
class Server:
    """`samverkan serve` as a real process; its output goes to a file (a pipe nobody reads would block it)."""

    env: dict[str, str]
    log_path: Path
    port: int = 0
    process: subprocess.Popen[bytes] | None = None
    outputs: list[str] = field(default_factory=list)

    @property
    def base(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def start(self, timeout: float = 60) -> None:
        self.port = free_port()
        with self.log_path.open("ab") as log:
            self.process = subprocess.Popen(
                [sys.executable, "-m", "adapters.cli", "serve", "--port", str(self.port)],
                env=self.env,
                cwd=ROOT,
                stdout=log,
                stderr=subprocess.STDOUT,
            )
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                pytest.fail(f"samverkan serve exited early:\n{self.output()}")
            with contextlib.suppress(httpx.TransportError):
                if httpx.get(f"{self.base}/api/v1/health", timeout=2).status_code == 200:
                    return
            time.sleep(0.2)
        self.kill()
        pytest.fail(f"samverkan serve did not answer within {timeout} s:\n{self.output()}")

    def kill(self) -> None:
        """SIGKILL: no shutdown of any kind."""
        if self.process is not None and self.process.poll() is None:
            self.process.send_signal(signal.SIGKILL)
            self.process.wait(10)

    def stop(self) -> None:
        """A clean stop (Ctrl-C), then SIGKILL if it does not end."""
        if self.process is None or self.process.poll() is not None:
            return
        self.process.send_signal(signal.SIGINT)
        try:
            self.process.wait(20)
        except subprocess.TimeoutExpired:
            self.kill()

    def output(self) -> str:
        return self.log_path.read_text(errors="replace") if self.log_path.exists() else ""


@pytest.fixture
def fault_database(pg_cluster: Cluster) -> Iterator[str]:
    """The URL of a new database in the tests' cluster (made by the service on first use), dropped afterwards."""
    name = f"fault_{uuid.uuid4().hex[:12]}"
    yield pg_cluster.url(name)
    with contextlib.suppress(psycopg.Error), psycopg.connect(pg_cluster.url("postgres"), autocommit=True) as conn:
        conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


@pytest.fixture
def servers(tmp_path: Path) -> Iterator[Callable[..., Server]]:
    """Starts `samverkan serve` processes (killed at the end of the test)."""
    started: list[Server] = []

    def start(database_url: str, **extra: str) -> Server:
        server = Server(samverkan_env(database_url, tmp_path, **extra), tmp_path / f"serve-{len(started)}.log")
        started.append(server)
        server.start()
        return server

    yield start
    for server in started:
        server.kill()


@pytest.fixture
def projection_workers(tmp_path: Path) -> Iterator[Callable[[str], subprocess.Popen[bytes]]]:
    """Starts `samverkan projections run` workers (each a process of its own; killed at the end of the test)."""
    started: list[subprocess.Popen[bytes]] = []

    def start(database_url: str) -> subprocess.Popen[bytes]:
        """A worker, once it follows the log."""
        log_path = tmp_path / f"worker-{len(started)}.log"
        with log_path.open("ab") as log:
            worker = subprocess.Popen(
                [sys.executable, "-m", "adapters.cli", "projections", "run"],
                env=samverkan_env(database_url, tmp_path),
                cwd=ROOT,
                stdout=log,
                stderr=subprocess.STDOUT,
            )
        started.append(worker)
        deadline = time.monotonic() + 60
        while "Följer händelseloggen" not in log_path.read_text(errors="replace"):
            if worker.poll() is not None or time.monotonic() > deadline:
                pytest.fail(f"the projection worker did not start:\n{log_path.read_text(errors='replace')}")
            time.sleep(0.1)
        return worker

    yield start
    for worker in started:
        if worker.poll() is None:
            worker.kill()
            worker.wait(10)


def bearer(role: str, agency: str, sub: str | None = None) -> dict[str, str]:
    """An Authorization header for a development token signed with the tests' fixed key."""
    secret = Settings(database_url="sqlite:///unused.db", **fixed_keys()).token_key  # type: ignore[arg-type]
    assert secret is not None
    token = issue_token(secret, sub=sub or f"{role}-{agency.lower()}", agency=agency, role=role)
    return {"Authorization": f"Bearer {token}"}


def eventually(check: Callable[[], Any], timeout: float, interval: float = 0.2) -> Any:
    """The first truthy result of `check` within `timeout` seconds (None if there is none)."""
    deadline = time.monotonic() + timeout
    while True:
        with contextlib.suppress(httpx.TransportError):
            if result := check():
                return result
        if time.monotonic() > deadline:
            return None
        time.sleep(interval)
