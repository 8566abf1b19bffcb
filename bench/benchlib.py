"""What the benchmarks share: connecting to the PostgreSQL server they measure, naming a schema, the machine.

Each script, run as `python bench/<name>.py`, puts the project root first on its import path and imports this as
`bench.benchlib`."""

from __future__ import annotations

import contextlib
import platform
from datetime import date, timedelta
from pathlib import Path
from typing import Any
from uuid import UUID

import psycopg

from adapters.storage import DatabaseTarget
from coordination import CoordinationService

PURPOSE = "Samordnad rehabilitering mot arbete"


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


def enrol_with_consent(service: CoordinationService, personnummer: str, family_name: str, today: date) -> UUID:
    """A participant enrolled through the service with a written consent FK -> SF: insurance (setup, not timed)."""
    case_id = service.enrol(
        by="samordnare-bench", personnummer=personnummer, given_name="Testa", family_name=family_name
    )
    service.record_consent(
        case_id,
        by="samordnare-bench",
        grants=[("FK", "SF", ["insurance"])],
        purpose=PURPOSE,
        valid_from=today - timedelta(days=30),
        valid_until=today + timedelta(days=300),
        form="written",
        document_ref="DOC-BENCH-1",
    )
    return case_id
