"""A rebuild whose load is split over worker processes by case range (PostgreSQL): the same tables as the live
runner and as a rebuild in log order, an erasure handled as the live runner does, events written during the load
applied before the swap, a worker's failure handed to the rebuild in log order, and a kill mid-way that leaves
the live tables in use."""

from __future__ import annotations

import subprocess
import sys
import time
from pathlib import Path
from uuid import UUID

import psycopg
import pytest

from adapters.demo import bulk_cases
from adapters.projections import projection_runner
from adapters.settings import Settings
from adapters.storage import Storage
from projections import parallel
from projections.definitions import TIMELINE
from projections.runner import ProjectionFailure
from tests.conftest import PG_URL
from tests.integration.test_projection_failures import DECISION_TOPIC, append_event, poison_decision, without
from tests.integration.test_projections import rich_history, snapshot, worker_env
from tests.support import fk_decision, grant_consent


@pytest.fixture(autouse=True)
def postgres_only(engine: str) -> None:
    if engine != "postgres":
        pytest.skip("the rebuild is split over processes on PostgreSQL only")


def test_bounds_cover_the_uuid_space_without_overlap() -> None:
    ranges = parallel.bounds(3, as_uuid=False)
    assert ranges[0][0] is None
    assert ranges[-1][1] is None
    assert [upper for _, upper in ranges[:-1]] == [lower for lower, _ in ranges[1:]]
    assert ranges[1][0] == "55555555-5555-5555-5555-555555555555"


@pytest.mark.parametrize("workers", [2, 3])
def test_a_rebuild_in_parts_equals_the_live_tables_and_one_in_log_order(
    storage: Storage, settings: Settings, workers: int
) -> None:
    rich_history(storage)  # corrections, retractions, withdrawals, closures and an erasure
    bulk_cases(storage.service, 60, seed=5)
    runner = projection_runner(storage, settings)
    runner.catch_up()
    live = snapshot(runner)
    assert sum(len(rows) for rows in live.values()) > 500

    runner.rebuild_workers = 1
    assert runner.rebuild(batch_size=37) == runner.store.head()
    assert snapshot(runner) == live

    runner.rebuild_workers = workers
    seen: list[int] = []
    assert runner.rebuild(progress=lambda done, head: seen.append(done), batch_size=37) == runner.store.head()
    assert snapshot(runner) == live
    assert seen[-1] == runner.store.head()

    runner.rebuild(["timeline"])
    assert snapshot(runner) == live

    # The swapped-in tables have their keys: the live runner's upserts go on from there.
    # An open case that is not erased, with a consent that lets FK record now (bulk cases have random consents).
    service = storage.service
    case_id = next(
        UUID(row[0])
        for row in live["cases"]
        if row[1] == 1 and not (case := service.get_case(UUID(row[0]))).is_erased and case.closure is None
    )
    grant_consent(service, case_id, ("FK", "SF", ["insurance"]))
    fk_decision(service, case_id, "FK-AFTER")
    runner.catch_up()
    followed = snapshot(runner)
    runner.rebuild_workers = 1
    runner.rebuild()
    assert snapshot(runner) == followed != live


def test_events_written_during_the_load_are_applied_before_the_swap(storage: Storage, settings: Settings) -> None:
    case_id, _ = poison_decision(storage)  # a case with a decision (nothing poisoned yet)
    bulk_cases(storage.service, 40, seed=6)
    runner = projection_runner(storage, settings)
    runner.rebuild_workers = 2
    written: list[int] = []

    def write_once(done: int, head: int) -> None:
        if not written:
            fk_decision(storage.service, case_id, "FK-TAIL")  # moves on a case whose rows are being written
            written.append(runner.store.head())

    position = runner.rebuild(progress=write_once, batch_size=50)
    assert written and position == written[0]
    rebuilt = snapshot(runner)
    runner.rebuild_workers = 1
    runner.rebuild()
    assert snapshot(runner) == rebuilt
    assert written[0] in {row[0] for row in rebuilt[TIMELINE.name]}


def test_an_event_a_worker_cannot_fold_is_named_by_the_rebuild_in_log_order(
    storage: Storage, settings: Settings
) -> None:
    runner = projection_runner(storage, settings)
    case_id, decision = poison_decision(storage)
    bulk_cases(storage.service, 20, seed=7)
    runner.catch_up()
    live = runner.store.select(TIMELINE, "", '1 = 1 ORDER BY "position"', ())
    poison = append_event(storage, case_id, DECISION_TOPIC, without(decision, "decision_id"))
    runner.rebuild_workers = 2
    with pytest.raises(ProjectionFailure) as failure:
        runner.rebuild(batch_size=30)
    assert failure.value.position == poison
    assert "decision_id" in failure.value.reason
    assert runner.store.select(TIMELINE, "", '1 = 1 ORDER BY "position"', ()) == live


def rebuild_rows(settings: Settings) -> int:
    schema = settings.database_url.split("schema=")[1]
    with psycopg.connect(PG_URL) as conn:
        found = conn.execute(
            "SELECT count(*) FROM pg_tables WHERE schemaname = %s AND tablename = 'timeline__rebuild'", (schema,)
        ).fetchone()
        if not found or not found[0]:
            return 0
        row = conn.execute(f'SELECT count(*) FROM "{schema}".timeline__rebuild').fetchone()
    return int(row[0]) if row else 0


def test_a_rebuild_killed_while_its_workers_load_leaves_the_live_tables(
    storage: Storage, settings: Settings, tmp_path: Path
) -> None:
    bulk_cases(storage.service, 800, seed=8)
    runner = projection_runner(storage, settings)
    runner.catch_up()
    live = snapshot(runner)
    script = (
        "from adapters.projections import projection_runner\n"
        "from adapters.settings import Settings\n"
        "from adapters.storage import open_storage\n"
        "settings = Settings()\n"
        "with open_storage(settings) as storage:\n"
        "    runner = projection_runner(storage, settings)\n"
        "    runner.rebuild_workers = 2\n"
        "    runner.rebuild(batch_size=20)\n"
    )
    rebuilding = subprocess.Popen(
        [sys.executable, "-c", script],
        env=worker_env(settings, tmp_path),
        cwd=Path(__file__).resolve().parents[2],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    deadline = time.monotonic() + 60
    while rebuild_rows(settings) == 0:
        if rebuilding.poll() is not None or time.monotonic() > deadline:
            pytest.fail("the rebuild finished (or never started) before it could be killed: give it more work")
        time.sleep(0.01)
    rebuilding.kill()
    rebuilding.wait(10)
    assert snapshot(runner) == live
    time.sleep(1.0)  # the orphaned workers notice their runner is gone (each batch) and stop
    runner.rebuild_workers = 2
    runner.rebuild()
    assert snapshot(runner) == live
