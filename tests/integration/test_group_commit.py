"""Group commit (coordination/group_commit.py) on real SQLite and PostgreSQL: concurrent commands share commits,
a conflict affects only its own command, a batch that fails acknowledges and stores nothing of itself, and a
withdrawal racing decisions never lets one through after it."""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from datetime import UTC, date, datetime, timedelta
from typing import Any
from uuid import UUID

import psycopg
import pytest
from eventsourcing.persistence import RecordConflictError
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from adapters.settings import Settings
from adapters.storage import Storage, open_storage
from consent import Party
from coordination import ConsentRequired, CoordinationService
from coordination.group_commit import GroupCommit
from coordination.personnummer import fictitious_personnummer
from tests.conftest import PG_URL, fixed_keys
from tests.support import fk_decision, grant_consent


def enrol_many(service: CoordinationService, n: int) -> list[UUID]:
    """n participants, each with a consent FK -> SF insurance."""
    ids = []
    for p in range(n):
        number = fictitious_personnummer(date(1970, 1, 1) + timedelta(days=41 * p), p % 100, gender="female")
        case_id = service.enrol(by="samordnare-1", personnummer=number, given_name="Testa", family_name="Gruppsson")
        grant_consent(service, case_id, ("FK", "SF", ["insurance"]))
        ids.append(case_id)
    return ids


def history(service: CoordinationService, case_id: UUID) -> list[str]:
    return [type(e).__qualname__.rsplit(".", 1)[-1] for e in service.events.get(case_id)]


def run_threads(targets: list[Callable[[], Any]]) -> list[BaseException | None]:
    """Runs each target in its own thread, all released at once; returns each one's error (None: ok)."""
    start = threading.Barrier(len(targets))
    errors: list[BaseException | None] = [None] * len(targets)

    def run(i: int) -> None:
        start.wait()
        try:
            targets[i]()
        except BaseException as error:
            errors[i] = error

    threads = [threading.Thread(target=run, args=(i,)) for i in range(len(targets))]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(60)
    return errors


def wait_until(condition: Callable[[], bool], what: str, timeout: float = 10.0) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out waiting until {what}")
        time.sleep(0.005)


def test_concurrent_decisions_share_commits_and_each_is_stored_once(storage: Storage) -> None:
    service = storage.service
    committer = service.group_commit
    assert committer is not None  # on by default
    cases = enrol_many(service, 8)
    commits, changes = committer.commits, committer.changes
    per_thread = 12
    recorded: list[list[UUID]] = [[] for _ in range(16)]

    def client(t: int) -> Callable[[], None]:
        def work() -> None:
            for k in range(per_thread):
                # two threads per case: they also meet on the same case, which never shares a batch
                recorded[t].append(fk_decision(service, cases[t % 8], f"FK-G-{t}-{k}"))

        return work

    errors = run_threads([client(t) for t in range(16)])
    assert errors == [None] * 16
    made = committer.changes - changes
    assert made == 16 * per_thread  # every change committed once (retries of a conflict count when they commit)
    assert committer.commits - commits < made  # some commits carried several decisions
    for c, case_id in enumerate(cases):
        case = service.get_case(case_id)
        mine = [d for t in range(16) if t % 8 == c for d in recorded[t]]
        assert sorted(map(str, case.decisions)) == sorted(map(str, mine))
        assert history(service, case_id).count("DecisionRecorded") == 2 * per_thread


def test_a_conflict_in_a_batch_affects_only_its_own_change(storage: Storage) -> None:
    service = storage.service
    a, b, c, d, e = enrol_many(service, 5)
    entered, release = threading.Event(), threading.Event()

    def save(*events: Any) -> Any:
        if not entered.is_set():
            entered.set()
            assert release.wait(30)
        return service.save(*events)

    committer = GroupCommit(save, max_batch=16)
    copies = {case_id: service.get_case(case_id) for case_id in (a, b, c, d, e)}
    fk_decision(service, c, "FK-ELSEWHERE")  # c changes after its copy was loaded: that copy is stale
    for case_id, case in copies.items():
        case.record_decision(  # the domain judges each on its own copy (consent is in force)
            UUID(int=case_id.int ^ 1),
            *_decision_args(service, case),
        )

    results: dict[UUID, BaseException | None] = {}

    def submit(case_id: UUID) -> None:
        try:
            committer.submit(copies[case_id])
            results[case_id] = None
        except BaseException as error:
            results[case_id] = error

    first = threading.Thread(target=submit, args=(a,))
    first.start()
    assert entered.wait(10)  # a leads a batch of its own, held inside the save
    rest = [threading.Thread(target=submit, args=(x,)) for x in (b, c, d, e)]
    for thread in rest:
        thread.start()
    wait_until(lambda: committer.waiting == 5, "b, c, d and e wait behind a")
    release.set()
    for thread in [first, *rest]:
        thread.join(30)

    assert results[a] is None and results[b] is None and results[d] is None and results[e] is None
    assert isinstance(results[c], RecordConflictError)
    # a alone, then the batch b..e conflicted as a whole and was saved case by case: b, d, e.
    assert (committer.commits, committer.changes) == (4, 4)
    for case_id in (a, b, d, e):
        assert history(service, case_id)[-1] == "DecisionRecorded"
        assert UUID(int=case_id.int ^ 1) in service.get_case(case_id).decisions
    assert UUID(int=c.int ^ 1) not in service.get_case(c).decisions
    assert history(service, c).count("DecisionRecorded") == 1  # only the one recorded elsewhere


def _decision_args(service: CoordinationService, case: Any) -> tuple[Any, ...]:
    """Arguments of Case.record_decision, made the way the service makes them."""
    return (
        Party.FK,
        "insurance",
        "sjukpenning",
        date(2026, 10, 1),
        service._sealed(case.id, "Sjukpenning beviljad", "summary", party=Party.FK),
        service._fingerprint(case.id, f"FK-BATCH-{case.id}"),
        {},
        "handlaggare-fk",
        datetime.now(UTC),
    )


# -- a batch that fails: nothing of it acknowledged, nothing of it stored ------------------------------------------


@pytest.fixture
def pg_storage(pg_schema: str, tmp_path: Any) -> Any:
    settings_ = Settings(database_url=f"{PG_URL}?schema={pg_schema}", key_file=tmp_path / "keys.json", **fixed_keys())
    with open_storage(settings_) as opened:
        yield opened, pg_schema


@pytest.mark.postgres
def test_a_batch_cut_off_mid_commit_acknowledges_and_stores_none_of_it(pg_storage: Any) -> None:
    storage, schema = pg_storage
    service = storage.service
    cases = enrol_many(service, 5)
    with psycopg.connect(PG_URL, autocommit=True) as admin:
        # While the flag is up, every insert into the event table sleeps first: long enough to cut it off.
        admin.execute(f'CREATE TABLE "{schema}".hold (up boolean)')
        admin.execute(
            f'CREATE FUNCTION "{schema}".hold_insert() RETURNS trigger LANGUAGE plpgsql AS $$ BEGIN '
            f'IF EXISTS (SELECT 1 FROM "{schema}".hold WHERE up) THEN PERFORM pg_sleep(30); END IF; '
            "RETURN NULL; END $$"
        )
        admin.execute(
            f'CREATE TRIGGER hold BEFORE INSERT ON "{schema}".samverkan_events '
            f'FOR EACH STATEMENT EXECUTE FUNCTION "{schema}".hold_insert()'
        )
        admin.execute(f'INSERT INTO "{schema}".hold VALUES (true)')

        def cut_the_sleeping_insert() -> None:
            def sleeping() -> list[Any]:
                return admin.execute(
                    "SELECT pid FROM pg_stat_activity WHERE wait_event = 'PgSleep' AND query LIKE '%samverkan_insert%'"
                ).fetchall()

            wait_until(lambda: bool(sleeping()), "an insert is held")
            for (pid,) in sleeping():
                admin.execute("SELECT pg_terminate_backend(%s)", (pid,))

        committer = service.group_commit
        assert committer is not None
        before = {case_id: history(service, case_id) for case_id in cases}
        errors: dict[int, BaseException | None] = {}

        def record(i: int) -> None:
            try:
                fk_decision(service, cases[i], f"FK-CUT-{i}")
                errors[i] = None
            except BaseException as error:
                errors[i] = error

        leader = threading.Thread(target=record, args=(0,))
        leader.start()
        wait_until(lambda: committer.waiting == 1, "the first decision is being committed")
        followers = [threading.Thread(target=record, args=(i,)) for i in range(1, 5)]
        for thread in followers:
            thread.start()
        wait_until(lambda: committer.waiting == 5, "four decisions wait behind it")
        cut_the_sleeping_insert()  # the first batch (one decision)
        wait_until(lambda: 0 in errors, "the first decision is answered")
        cut_the_sleeping_insert()  # the second batch: the four decisions together
        for thread in [leader, *followers]:
            thread.join(30)
        assert committer.waiting == 0
        assert all(isinstance(errors[i], Exception) for i in range(5)), errors  # none acknowledged
        admin.execute(f'UPDATE "{schema}".hold SET up = false')
        for case_id in cases:  # none stored
            assert history(service, case_id) == before[case_id]
        # The service goes on: the same decisions are recorded once the database answers again.
        for i, case_id in enumerate(cases):
            for attempt in range(100):
                try:
                    fk_decision(service, case_id, f"FK-CUT-{i}")
                    break
                except Exception:
                    if attempt == 99:
                        raise
                    time.sleep(0.05)
            assert history(service, case_id)[-1] == "DecisionRecorded"


# -- the withdrawal race, through the group commit ---------------------------------------------------------------


@settings(max_examples=6, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(deciders=st.lists(st.integers(min_value=1, max_value=4), min_size=2, max_size=4), pause=st.integers(0, 3))
def test_no_decision_is_stored_after_a_withdrawal_that_raced_it(
    storage: Storage, deciders: list[int], pause: int
) -> None:
    """Several cases; on each, threads record decisions while another withdraws the consent: in every stored
    history no decision follows the withdrawal, and every decision answered as recorded is stored before it."""
    service = storage.service
    cases = enrol_many_fresh(service, len(deciders))
    consents = {case_id: service.get_case(case_id).consents for case_id in cases}
    acknowledged: dict[UUID, list[UUID]] = {case_id: [] for case_id in cases}
    lock = threading.Lock()
    targets: list[Callable[[], None]] = []
    for case_id, n in zip(cases, deciders, strict=True):
        for t in range(n):

            def decide_some(case_id: UUID = case_id, t: int = t) -> None:
                for k in range(4):
                    try:
                        made = fk_decision(service, case_id, f"FK-RACE-{t}-{k}-{time.monotonic_ns()}")
                    except ConsentRequired:
                        continue
                    with lock:
                        acknowledged[case_id].append(made)

            targets.append(decide_some)
        consent_id = next(iter(consents[case_id]))

        def withdraw(case_id: UUID = case_id, consent_id: UUID = consent_id) -> None:
            time.sleep(pause / 1000)
            service.withdraw_consent(case_id, consent_id, by="samordnare-1", grants=None)

        targets.append(withdraw)
    assert run_threads(targets) == [None] * len(targets)
    for case_id in cases:
        names = history(service, case_id)
        withdrawn_at = names.index("ConsentWithdrawn")
        assert "DecisionRecorded" not in names[withdrawn_at:]
        stored = service.get_case(case_id).decisions
        assert set(acknowledged[case_id]) == set(stored)


_counter = iter(range(10_000))


def enrol_many_fresh(service: CoordinationService, n: int) -> list[UUID]:
    """Like enrol_many, with personnummer not used before in this database (hypothesis reuses the storage)."""
    ids = []
    for _ in range(n):
        p = next(_counter)
        number = fictitious_personnummer(date(1950, 1, 1) + timedelta(days=13 * p), p % 100, gender="male")
        case_id = service.enrol(by="samordnare-1", personnummer=number, given_name="Testa", family_name="Kapplöp")
        grant_consent(service, case_id, ("FK", "SF", ["insurance"]))
        ids.append(case_id)
    return ids
