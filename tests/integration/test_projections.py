"""Projections on both engines: exactly once, identical to a clean rebuild after any crash (SIGKILL mid-run and
mid-rebuild), and the live runner follows the log."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from datetime import date
from pathlib import Path
from typing import Any

import psycopg
import pytest

from adapters.demo import bulk_cases, create_demo_cases
from adapters.projections import projection_runner
from adapters.settings import Settings
from adapters.storage import Storage
from projections.definitions import all_projections
from projections.runner import ProjectionRunner, wait_until
from projections.store import REBUILD_SUFFIX
from tests.conftest import PG_URL, fixed_keys
from tests.support import enrol, fk_decision, grant_consent


def snapshot(runner: ProjectionRunner) -> dict[str, list[tuple[Any, ...]]]:
    """Every projection table, every row, in key order."""
    tables: dict[str, list[tuple[Any, ...]]] = {}
    for projection in runner.projections:
        for spec in projection.tables:
            order = ", ".join(f'"{k}"' for k in spec.key)
            rows = runner.store.select(spec, "", f"1 = 1 ORDER BY {order}", ())
            tables[spec.name] = [tuple(row[c] for c in spec.column_names) for row in rows]
    return tables


def rich_history(storage: Storage) -> None:
    """Cases with corrections, retractions, partial withdrawals, closures and an erasure."""
    service = storage.service
    create_demo_cases(service, 30, seed=11)
    case_id = enrol(service)
    consent_id = grant_consent(service, case_id, ("FK", "SF", ["insurance"]), ("FK", "AF", ["insurance"]))
    first = fk_decision(service, case_id, "FK-X1")
    service.record_decision(
        case_id,
        by="h",
        agency="FK",
        category="insurance",
        decision_type="sjukpenning",
        effective_date=date(2026, 10, 2),
        summary="Rättad",
        source_ref="FK-X1-R",
        corrects=first,
    )
    second = fk_decision(service, case_id, "FK-X2")
    service.retract_decision(case_id, second, by="h", agency="FK", reason="Fel")
    service.withdraw_consent(case_id, consent_id, by="s", grants=[("FK", "AF", ["insurance"])])
    erased = enrol(service, personnummer="19900101-0017", given_name="Eva", family_name="Raderas")
    grant_consent(service, erased, ("FK", "SF", ["insurance"]))
    fk_decision(service, erased, "FK-E1")
    service.erase_personal_data(erased, by="admin")


def test_caught_up_projections_equal_a_clean_rebuild(storage: Storage, settings: Settings) -> None:
    rich_history(storage)
    runner = projection_runner(storage, settings)
    runner.batch_size = 7  # many small batches, cutting through cases
    assert runner.catch_up() > 0
    assert set(runner.lag().values()) == {0}
    live = snapshot(runner)
    assert live["timeline"] and live["cases"] and live["follow_up"]
    kinds = {row[3] for row in live["timeline"]}
    assert {"DecisionRecorded", "DecisionCorrected", "DecisionRetracted", "ConsentWithdrawn"} <= kinds
    runner.rebuild(batch_size=50)
    assert snapshot(runner) == live


def test_the_live_runner_follows_new_events(storage: Storage, settings: Settings) -> None:
    runner = projection_runner(storage, settings)
    runner.start()
    try:
        case_id = enrol(storage.service)
        grant_consent(storage.service, case_id, ("FK", "SF", ["insurance"]))
        decision_id = fk_decision(storage.service, case_id)
        assert wait_until(runner, runner.store.head(), timeout=10)
        rows = snapshot(runner)["timeline"]
        assert [row[-1] for row in rows if row[3] == "DecisionRecorded"] == [str(decision_id)]
    finally:
        runner.stop()


def test_an_erased_participant_is_dropped_from_the_projections_but_still_counted(
    storage: Storage, settings: Settings
) -> None:
    case_id = enrol(storage.service)
    grant_consent(storage.service, case_id, ("FK", "SF", ["insurance"]))
    fk_decision(storage.service, case_id)
    storage.service.erase_personal_data(case_id, by="admin")
    runner = projection_runner(storage, settings)
    runner.catch_up()
    tables = snapshot(runner)
    assert tables["timeline"] == [] and tables["cases"] == []
    assert [row[0] for row in tables["follow_up"]] == [str(case_id)]


def worker_env(settings: Settings, tmp_path: Path, **extra: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("SAMVERKAN_")}
    env.update({f"SAMVERKAN_{k.upper()}": v for k, v in fixed_keys().items()})
    env.update(SAMVERKAN_DATABASE_URL=settings.database_url, SAMVERKAN_KEY_FILE=str(tmp_path / "k.json"))
    env.update(extra)
    return env


def tracking_position(storage: Storage, name: str) -> int:
    target = storage.target
    if target.engine == "sqlite":
        import sqlite3

        with sqlite3.connect(str(target.sqlite_path)) as conn:
            row = conn.execute("SELECT notification_id FROM tracking WHERE application_name = ?", (name,)).fetchone()
    else:
        with psycopg.connect(PG_URL) as conn:
            row = conn.execute(
                f'SELECT notification_id FROM "{target.schema}".samverkan_projection_tracking'
                " WHERE application_name = %s",
                (name,),
            ).fetchone()
    return int(row[0]) if row else 0


def kill_when(process: subprocess.Popen[bytes], ready: Any, timeout: float = 60) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if process.poll() is not None:
            pytest.fail("the worker finished before it could be killed: give it more work")
        if ready():
            process.send_signal(signal.SIGKILL)
            process.wait(10)
            return
        time.sleep(0.005)
    process.kill()
    pytest.fail("the worker never reached the point to kill it at")


def test_a_worker_killed_mid_run_and_mid_rebuild_leaves_tables_equal_to_a_clean_rebuild(
    storage: Storage, settings: Settings, tmp_path: Path
) -> None:
    events = bulk_cases(storage.service, 400, seed=3)
    head = storage_head = projection_runner(storage, settings).store.head()
    assert storage_head >= events

    # Killed while following the log (tiny batches, so it is mid-way when killed).
    live_worker = subprocess.Popen(
        [sys.executable, "-m", "adapters.cli", "projections", "run"],
        env=worker_env(settings, tmp_path, SAMVERKAN_PROJECTION_BATCH_SIZE="3"),
        cwd=tmp_path,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    kill_when(live_worker, lambda: 0 < tracking_position(storage, "cases") < head // 2)
    killed_at = tracking_position(storage, "cases")
    assert 0 < killed_at < head

    runner = projection_runner(storage, settings)
    runner.catch_up()  # the restart: carries on from the committed position
    after_live_crash = snapshot(runner)

    # Killed while rebuilding: the live tables are untouched, and the next rebuild starts over.
    rebuild_worker = subprocess.Popen(
        [sys.executable, "-m", "adapters.cli", "projections", "rebuild", "--batch", "100"],
        env=worker_env(settings, tmp_path),
        cwd=tmp_path,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    kill_when(rebuild_worker, lambda: 0 < tracking_position(storage, "cases" + REBUILD_SUFFIX) < head // 2)
    assert snapshot(runner) == after_live_crash
    runner.rebuild()
    clean = snapshot(runner)
    assert clean == after_live_crash
    assert sum(len(rows) for rows in clean.values()) > events


def test_rebuild_of_one_projection_keeps_the_others(storage: Storage, settings: Settings) -> None:
    rich_history(storage)
    runner = projection_runner(storage, settings)
    runner.catch_up()
    before = snapshot(runner)
    runner.rebuild(["timeline"])
    assert snapshot(runner) == before
    assert {p.name for p in all_projections()} == set(runner.positions())
