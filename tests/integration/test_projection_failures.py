"""Projections on both engines read every event the write side can store, and a projection that cannot go on
says so (which, at which log position, why) and goes on by itself once the cause is gone."""

from __future__ import annotations

import json
import math
import sqlite3
import time
from collections.abc import Callable
from datetime import date
from pathlib import Path
from typing import Any
from uuid import UUID, uuid4

import pytest
from eventsourcing.persistence import StoredEvent as LibraryEvent
from eventsourcing.persistence import Tracking
from hypothesis import HealthCheck, given
from hypothesis import settings as hypothesis_settings
from hypothesis import strategies as st
from psycopg import sql

from adapters.projections import projection_runner
from adapters.settings import Settings
from adapters.storage import Storage, open_storage
from coordination import InvalidCommand
from coordination.personnummer import fictitious_personnummer
from projections.definitions import CASES, TIMELINE
from projections.events import CASE_TOPIC_PREFIX, loads, reason_of
from projections.runner import ALL, ProjectionFailure, ProjectionRunner
from projections.store import STATUS_TABLE
from tests.conftest import fixed_keys
from tests.support import enrol, fk_decision, grant_consent

DECISION_TOPIC = CASE_TOPIC_PREFIX + "DecisionRecorded"

# -- helpers (also used by the HTTP tests) -----------------------------------------------------------------------


def stored_state(storage: Storage, case_id: UUID, kind: str = "DecisionRecorded") -> dict[str, Any]:
    """The stored JSON of the case's newest event of this kind, as plain data."""
    events = storage.service.recorder.select_events(case_id, desc=True)
    found = next(e for e in events if e.topic == CASE_TOPIC_PREFIX + kind)
    data: dict[str, Any] = json.loads(found.state)
    return data


def append_event(storage: Storage, case_id: UUID, topic: str, state: bytes) -> int:
    """Stores a raw event after the case's newest, through the library's own recorder; returns its log position."""
    newest = storage.service.recorder.select_events(case_id, desc=True, limit=1)
    version = newest[0].originator_version + 1 if newest else 1
    storage.service.recorder.insert_events([LibraryEvent(case_id, version, topic, state)])
    return max_position(storage)


def max_position(storage: Storage) -> int:
    with storage.service.factory.datastore.transaction(commit=False) as cursor:  # type: ignore[attr-defined]
        if storage.target.engine == "sqlite":
            cursor.execute("SELECT MAX(rowid) FROM stored_events")
            return int(cursor.fetchone()[0])
        cursor.execute(
            sql.SQL("SELECT MAX(notification_id) AS m FROM {}").format(
                sql.Identifier(storage.target.schema, storage.events_table)
            )
        )
        return int(cursor.fetchone()["m"])


def rewrite_event(storage: Storage, position: int, state: bytes) -> None:
    """Repairs a stored event in place (what an operator would do to a poison event)."""
    with storage.service.factory.datastore.transaction(commit=True) as cursor:  # type: ignore[attr-defined]
        if storage.target.engine == "sqlite":
            cursor.execute("UPDATE stored_events SET state = ? WHERE rowid = ?", (state, position))
        else:
            cursor.execute(
                sql.SQL("UPDATE {} SET state = %s WHERE notification_id = %s").format(
                    sql.Identifier(storage.target.schema, storage.events_table)
                ),
                (state, position),
            )


def poison_decision(storage: Storage) -> tuple[UUID, dict[str, Any]]:
    """A participant with one real FK decision; returns the case and that decision's stored data."""
    case_id = enrol(storage.service, personnummer="19900101-0017", given_name="Eva", family_name="Gift")
    grant_consent(storage.service, case_id, ("FK", "SF", ["insurance"]))
    fk_decision(storage.service, case_id, "FK-P1")
    return case_id, stored_state(storage, case_id)


def without(data: dict[str, Any], key: str) -> bytes:
    """The event's JSON without one of its keys: a case event the projections that read that key cannot fold."""
    return json.dumps({k: v for k, v in data.items() if k != key}).encode()


def eventually(check: Callable[[], Any], timeout: float = 15.0) -> Any:
    deadline = time.monotonic() + timeout
    while True:
        found = check()
        if found:
            return found
        assert time.monotonic() < deadline, "timed out"
        time.sleep(0.05)


def same(a: Any, b: Any) -> bool:
    """Equal, with NaN equal to NaN and int never equal to float."""
    if type(a) is not type(b):
        return False
    if isinstance(a, float):
        return (math.isnan(a) and math.isnan(b)) or a == b
    if isinstance(a, dict):
        return a.keys() == b.keys() and all(same(a[k], b[k]) for k in a)
    if isinstance(a, list):
        return len(a) == len(b) and all(same(x, y) for x, y in zip(a, b, strict=True))
    return bool(a == b)


# -- decoding ----------------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "raw",
    [
        b'{"a": NaN}',
        b'{"a": Infinity}',
        b'{"a": -Infinity}',
        b'{"a": 1e400}',
        b'{"a": -1e400}',
        b'{"attributes": {"a": 18446744073709551617}}',
        b'{"attributes": {"a": -9223372036854775809}}',
        b'{"attributes": {"a": [1, {"b": -100000000000000000000000000000}]}}',
        ('{"attributes": {"a": ' + "9" * 500 + "}}").encode(),
        '{"attributes": {"ä": "ünïcødé 🙂", "b": null}}'.encode(),
    ],
)
def test_events_are_read_as_the_library_wrote_them(raw: bytes) -> None:
    assert same(loads(raw), json.loads(raw))


def test_reasons_name_the_error_but_not_what_it_failed_on() -> None:
    assert reason_of(KeyError("decision_id")) == "KeyError: missing key 'decision_id'"
    assert reason_of(KeyError("Annika Lindqvist")) == "KeyError: missing key"
    reason = reason_of(ValueError("Invalid isoformat string: '19811218-9876'"))
    assert "19811218" not in reason and "9876" not in reason and reason.startswith("ValueError: ")
    assert "19811218" not in reason_of(ValueError("bad 198112189876 here"))
    assert reason_of(TypeError("'NoneType' object is not subscriptable")) == (
        "TypeError: 'NoneType' object is not subscriptable"
    )


# -- everything the write side can store ---------------------------------------------------------------------------

scalars = (
    st.none()
    | st.booleans()
    | st.floats()  # NaN and the infinities included
    | st.sampled_from([float("inf"), float("-inf"), float("nan"), 1.7976931348623157e308, -0.0, 5e-324])
    | st.integers()
    | st.integers(min_value=2**63 - 2, max_value=10**400)
    | st.integers(min_value=-(10**400), max_value=-(2**63) + 2)
    | st.text(st.characters(exclude_categories=["Cs"]), max_size=12)  # lone surrogates cannot be stored at all
)
values = st.recursive(
    scalars,
    lambda inner: st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=8), inner, max_size=3),
    max_leaves=8,
)


def attribute_names() -> st.SearchStrategy[str]:
    """The catalogue's attribute names (when there is a catalogue), and any other text."""
    try:
        from coordination.catalogue import ATTRIBUTES  # the catalogue of decision types, where it exists
    except ImportError:
        return st.text(max_size=10)
    return st.sampled_from(sorted(ATTRIBUTES)) | st.text(max_size=10)


def test_projections_read_every_decision_the_write_side_can_store(storage: Storage, settings: Settings) -> None:
    service = storage.service
    runner = projection_runner(storage, settings)
    through_service = enrol(service)
    grant_consent(service, through_service, ("FK", "SF", ["insurance"]))
    # Stored as an older version of the write side stored them (before it refused non-finite numbers): through
    # the library's own transcoder and recorder, so exactly what the library can write.
    older = enrol(service, personnummer="19900101-0017", given_name="Eva", family_name="Äldre")
    grant_consent(service, older, ("FK", "SF", ["insurance"]))
    fk_decision(service, older, "FK-OLD-0")
    template = stored_state(storage, older)
    transcoder = service.mapper.transcoder
    seen = {"accepted": 0, "refused": 0}

    @hypothesis_settings(max_examples=60, deadline=None, suppress_health_check=list(HealthCheck))
    @given(attributes=st.dictionaries(attribute_names(), values, max_size=4), n=st.integers(0, 10**9))
    def record_and_project(attributes: dict[str, Any], n: int) -> None:
        try:
            service.record_decision(
                through_service,
                by="handlaggare-fk",
                agency="FK",
                category="insurance",
                decision_type="sjukpenning",
                effective_date=date(2026, 10, 1),
                summary="Sjukpenning beviljad",
                source_ref=f"FK-PROP-{n}-{uuid4().hex[:8]}",
                attributes=attributes,
            )
            seen["accepted"] += 1
        except InvalidCommand:  # the write side refuses it: it is never stored
            seen["refused"] += 1
        data = {**template, "decision_id": {"_type_": "uuid_hex", "_data_": uuid4().hex}, "attributes": attributes}
        state = transcoder.encode(data)
        position = append_event(storage, older, DECISION_TOPIC, state)
        assert same(loads(state), json.loads(state))
        runner.catch_up()
        assert set(runner.lag().values()) == {0}
        assert runner.health()["failing"] is None
        timeline = runner.store.select(TIMELINE, "", '"position" = %s', (position,))
        assert [row["kind"] for row in timeline] == ["DecisionRecorded"]

    record_and_project()
    assert seen["accepted"] + seen["refused"] >= 60
    # ... and a rebuild from zero reads them all too.
    assert runner.rebuild() == runner.store.head()
    assert set(runner.lag().values()) == {0}


# -- a projection that cannot go on ---------------------------------------------------------------------------------


def test_a_poison_event_stops_only_the_projections_that_cannot_fold_it_named_by_position(
    storage: Storage, settings: Settings
) -> None:
    runner = projection_runner(storage, settings)
    case_id, decision = poison_decision(storage)
    poison = append_event(storage, case_id, DECISION_TOPIC, without(decision, "decision_id"))
    after = enrol(
        storage.service,
        personnummer=fictitious_personnummer(date(1985, 5, 5), 6, gender="female"),
        given_name="Efter",
        family_name="Giftet",
    )

    with pytest.raises(ProjectionFailure) as failure:
        runner.catch_up()
    assert failure.value.position == poison
    assert failure.value.reason == "KeyError: missing key 'decision_id'"
    positions = runner.positions()
    # The timeline reads every decision's id: it stops just before the poison, everything before it committed.
    assert positions["timeline"] == poison - 1
    # The case facts never read a decision's id: they went on to the head.
    assert positions["cases"] == runner.store.head()
    assert runner.store.select(CASES, "", '"participant_id" = %s', (str(after),))
    shown = runner.health()["failing"]
    assert shown is not None
    assert shown["position"] == poison and shown["projection"] != "cases"
    assert shown["reason"] == "KeyError: missing key 'decision_id'" and shown["since"] and shown["attempts"] == 1
    assert [f["position"] for f in runner.store.failures()] == [poison] * len(runner.store.failures())

    with pytest.raises(ProjectionFailure):
        runner.catch_up()  # still there: the same failure, tried once more
    assert runner.health()["failing"]["attempts"] == 2  # type: ignore[index]

    decision["decision_id"] = {"_type_": "uuid_hex", "_data_": uuid4().hex}
    rewrite_event(storage, poison, json.dumps(decision).encode())
    runner.catch_up()
    assert set(runner.lag().values()) == {0}
    assert runner.health()["failing"] is None
    assert runner.store.failures() == []


def test_an_event_no_projection_can_read_fails_them_all_at_its_position(storage: Storage, settings: Settings) -> None:
    runner = projection_runner(storage, settings)
    case_id, decision = poison_decision(storage)
    runner.catch_up()
    before = runner.store.head()
    fk_decision(storage.service, case_id, "FK-P2")
    poison = append_event(storage, case_id, DECISION_TOPIC, b"{not json at all")
    assert poison > before + 1

    with pytest.raises(ProjectionFailure) as failure:
        runner.catch_up()
    assert (failure.value.projection, failure.value.position) == (ALL, poison)
    assert failure.value.reason.startswith("JSONDecodeError")
    assert set(runner.positions().values()) == {poison - 1}  # the decision before it went in
    shown = runner.health()["failing"]
    assert shown is not None and (shown["projection"], shown["position"]) == (ALL, poison)

    decision["decision_id"] = {"_type_": "uuid_hex", "_data_": uuid4().hex}
    rewrite_event(storage, poison, json.dumps(decision).encode())
    runner.catch_up()
    assert runner.health() == {"lag_events": dict.fromkeys(runner.positions(), 0), "failing": None}


def test_a_rebuild_names_the_event_it_cannot_fold_and_leaves_the_live_tables(
    storage: Storage, settings: Settings
) -> None:
    runner = projection_runner(storage, settings)
    case_id, decision = poison_decision(storage)
    runner.catch_up()
    live = runner.store.select(TIMELINE, "", '1 = 1 ORDER BY "position"', ())
    fk_decision(storage.service, case_id, "FK-P3")
    poison = append_event(storage, case_id, DECISION_TOPIC, without(decision, "decision_id"))
    enrol(storage.service, personnummer=fictitious_personnummer(date(1985, 5, 5), 7, gender="male"))

    with pytest.raises(ProjectionFailure) as failure:
        runner.rebuild(batch_size=100)
    assert failure.value.position == poison
    assert "decision_id" in failure.value.reason
    assert runner.store.select(TIMELINE, "", '1 = 1 ORDER BY "position"', ()) == live


def test_the_live_runner_retries_with_back_off_and_goes_on_by_itself(storage: Storage, settings: Settings) -> None:
    runner = projection_runner(storage, settings)
    runner.retry_seconds, runner.max_retry_seconds = 0.05, 0.4
    case_id, decision = poison_decision(storage)
    runner.start()
    try:
        eventually(lambda: set(runner.lag().values()) == {0})
        poison = append_event(storage, case_id, DECISION_TOPIC, without(decision, "decision_id"))
        shown = eventually(lambda: runner.health()["failing"])
        assert shown["position"] == poison
        # Meanwhile the others go on: a new participant reaches the case facts.
        later = enrol(
            storage.service,
            personnummer=fictitious_personnummer(date(1985, 5, 5), 6, gender="female"),
            given_name="Sen",
            family_name="Are",
        )
        eventually(lambda: runner.store.select(CASES, "", '"participant_id" = %s', (str(later),)))
        attempts = eventually(lambda: (runner.health()["failing"] or {}).get("attempts", 0) >= 3)
        assert attempts

        decision["decision_id"] = {"_type_": "uuid_hex", "_data_": uuid4().hex}
        rewrite_event(storage, poison, json.dumps(decision).encode())
        eventually(lambda: runner.health() == {"lag_events": dict.fromkeys(runner.positions(), 0), "failing": None})
    finally:
        runner.stop()
    assert not runner._thread or not runner._thread.is_alive()


def test_a_failure_recorded_by_another_runner_is_shown_until_the_projection_passes_it(
    storage: Storage, settings: Settings
) -> None:
    worker = projection_runner(storage, settings)  # a separate worker: it writes the status table
    api_side = projection_runner(storage, settings)  # what /health asks: it only reads
    case_id, decision = poison_decision(storage)
    poison = append_event(storage, case_id, DECISION_TOPIC, without(decision, "decision_id"))
    with pytest.raises(ProjectionFailure):
        worker.catch_up()
    shown = api_side.health()["failing"]
    assert shown is not None and shown["position"] == poison
    with pytest.raises(ProjectionFailure):
        ProjectionRunner(api_side.store).catch_up()  # a second runner fails at the same event
    again = api_side.health()["failing"]
    assert again is not None and (again["since"], again["attempts"]) == (shown["since"], shown["attempts"] + 1)

    # The worker stops for good; the projection is repaired and moved on by a fresh runner (say, after a
    # deploy): the stale record no longer shows.
    decision["decision_id"] = {"_type_": "uuid_hex", "_data_": uuid4().hex}
    rewrite_event(storage, poison, json.dumps(decision).encode())
    ProjectionRunner(api_side.store).catch_up()
    assert api_side.health()["failing"] is None
    assert _status_rows(storage) >= 1  # still written, but behind every projection: not shown


def _status_rows(storage: Storage) -> int:
    with storage.service.factory.datastore.transaction(commit=False) as cursor:  # type: ignore[attr-defined]
        if storage.target.engine == "sqlite":
            cursor.execute(f"SELECT COUNT(*) FROM {STATUS_TABLE}")
            return int(cursor.fetchone()[0])
        cursor.execute(
            sql.SQL("SELECT COUNT(*) AS n FROM {}").format(sql.Identifier(storage.target.schema, STATUS_TABLE))
        )
        return int(cursor.fetchone()["n"])


def test_the_live_runner_waits_out_a_locked_database(tmp_path: Path) -> None:
    """SQLite: another process holds the write lock longer than the busy timeout; the runner's batch fails, it
    tries again, and it follows the log once the lock is gone."""
    settings = Settings(
        database_url=f"sqlite:///{tmp_path / 'locked.db'}",
        key_file=tmp_path / "keys.json",
        db_lock_timeout_s=1,
        **fixed_keys(),
    )
    with open_storage(settings) as storage:
        runner = projection_runner(storage, settings)
        runner.retry_seconds = 0.05
        case_id = enrol(storage.service)
        grant_consent(storage.service, case_id, FK_SF)
        other = sqlite3.connect(str(storage.target.sqlite_path), isolation_level=None)
        other.execute("BEGIN IMMEDIATE")  # another process's writer, holding on
        runner.start()
        try:
            time.sleep(2.5)  # the runner's batches wait 1 s for the lock, fail, and are tried again
            assert runner._thread is not None and runner._thread.is_alive()
            assert runner.positions() == dict.fromkeys(runner.positions(), 0)
            other.execute("ROLLBACK")
            eventually(lambda: runner.health() == {"lag_events": dict.fromkeys(runner.positions(), 0), "failing": None})
        finally:
            other.close()
            runner.stop()


FK_SF = ("FK", "SF", ["insurance"])


def test_the_tables_positions_and_failures_of_retired_projections_go_at_start(
    storage: Storage, settings: Settings
) -> None:
    store = projection_runner(storage, settings).store
    with store.datastore.transaction(commit=True) as cursor:
        cursor.execute(store._sql("CREATE TABLE {t} (decision_id text)", t=store.ident("view_decisions")))
    store.tracking.insert_tracking(Tracking("agency_view", 5))
    store.record_failure(
        {
            "projection": "agency_view",
            "position": 3,
            "reason": "KeyError",
            "since": "-",
            "attempts": 1,
            "updated_at": "-",
        }
    )

    projection_runner(storage, settings)  # a service starting with the new code
    assert not _table_exists(storage, "view_decisions")
    assert store.position("agency_view") == 0
    assert store.failures() == []


def _table_exists(storage: Storage, name: str) -> bool:
    with storage.service.factory.datastore.transaction(commit=False) as cursor:  # type: ignore[attr-defined]
        if storage.target.engine == "sqlite":
            cursor.execute("SELECT COUNT(*) FROM sqlite_master WHERE name = ?", (name,))
            return bool(cursor.fetchone()[0])
        cursor.execute("SELECT to_regclass(%s) AS found", (f'"{storage.target.schema}"."{name}"',))
        return cursor.fetchone()["found"] is not None
