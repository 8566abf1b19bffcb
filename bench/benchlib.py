"""What the benchmarks share: connecting to the PostgreSQL server they measure, naming a schema, the machine.

Each script, run as `python bench/<name>.py`, puts the project root first on its import path and imports this as
`bench.benchlib`."""

from __future__ import annotations

import contextlib
import platform
from pathlib import Path
from typing import Any

import psycopg

from adapters.storage import DatabaseTarget


def pg_connect(target: DatabaseTarget, **kwargs: Any) -> psycopg.Connection[Any]:
    """A plain psycopg connection to the benchmark's server and database."""
    params: dict[str, Any] = {"host": target.host, "port": target.port, "user": target.user, "dbname": target.dbname}
    if target.password:
        params["password"] = target.password
    return psycopg.connect(**params, connect_timeout=5, **kwargs)


def pg_url(target: DatabaseTarget, schema: str) -> str:
    """The service's database URL for one schema of the benchmark's database."""
    auth = target.user + (f":{target.password}" if target.password else "")
    return f"postgresql://{auth}@{target.host}:{target.port}/{target.dbname}?schema={schema}"


def cpu_model() -> str:
    """The CPU's model name, for the report."""
    with contextlib.suppress(OSError):
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    return platform.processor() or "unknown"
