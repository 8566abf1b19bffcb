"""The disclosure log written by several server workers at once (each its own DisclosureLog, as each uvicorn worker
has): a worker chains its next batch to the head it last wrote and moves the head only if it is still that one
(PostgreSQL); when another worker wrote in between, it reads the head and chains after it. The chain never forks,
has no gaps and verifies; an answer is given only once its entry is committed."""

from __future__ import annotations

import itertools
import threading
from typing import Any
from uuid import uuid4

from adapters.disclosure_log import DisclosureLog
from adapters.storage import Storage
from tests.integration.test_disclosure_log import draft, raw_database


def logs(storage: Storage, count: int) -> list[DisclosureLog]:
    datastore: Any = storage.service.factory.datastore  # type: ignore[attr-defined]
    return [DisclosureLog(datastore) for _ in range(count)]


def check_chain(log: DisclosureLog, total: int) -> list[dict[str, Any]]:
    stored = list(log.entries())
    assert [e["seq"] for e in stored] == list(range(1, total + 1))
    for before, after in itertools.pairwise(stored):
        assert after["prev_hash"] == before["hash"]
    assert log.head() == (total, stored[-1]["hash"])
    assert log.verify().as_dict() == {"ok": True, "entries": total}
    return stored


def test_workers_taking_turns_chain_each_entry_after_the_other_workers(storage: Storage) -> None:
    first, second = logs(storage, 2)
    written = []
    for n in range(6):  # 1, 2, 2, 1, 1, 2, ...: each worker's remembered head is stale every other time
        writer = first if n % 4 in (0, 3) else second
        written.append(writer.append(draft(n, participant=uuid4()))["seq"])
    assert written == list(range(1, 7))
    stored = check_chain(first, 6)
    assert [e["details"]["n"] for e in stored] == list(range(6))


def test_concurrent_workers_never_fork_the_chain(storage: Storage) -> None:
    workers, threads_each, per_thread = 3, 4, 15
    appenders = logs(storage, workers)
    start = threading.Barrier(workers * threads_each)
    errors: list[BaseException] = []
    answered: list[tuple[int, int]] = []

    def work(w: int, t: int) -> None:
        try:
            start.wait()
            for n in range(per_thread):
                entry = appenders[w].append(draft(w * 10_000 + t * 100 + n, user=f"user-{w}-{t}"))
                answered.append((entry["seq"], entry["details"]["n"]))
        except BaseException as error:
            errors.append(error)

    threads = [threading.Thread(target=work, args=(w, t)) for w in range(workers) for t in range(threads_each)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=120)
    assert not errors, errors
    total = workers * threads_each * per_thread
    stored = check_chain(appenders[0], total)
    # Every answer names the entry that was stored for it.
    assert sorted(answered) == sorted((e["seq"], e["details"]["n"]) for e in stored)


def test_a_head_moved_outside_the_service_is_read_again_not_overwritten(storage: Storage) -> None:
    (log,) = logs(storage, 1)
    log.append(draft(1))
    log.append(draft(2))
    with raw_database(storage) as raw:  # as a restore of the head row to an older state would do
        stale = raw.execute("SELECT seq, hash FROM disclosure_log_head WHERE id = 1")[0]
        raw.execute("UPDATE disclosure_log_head SET seq = 1, hash = (SELECT hash FROM disclosure_log WHERE seq = 1)")
    assert log.head()[0] == 1 and stale[0] == 2
    # The remembered head (2) is not the stored one (1): the append reads it and chains after entry 1, which the
    # primary key refuses (entry 2 exists): the append fails rather than fork the chain or overwrite the head.
    try:
        log.append(draft(3))
    except Exception as error:
        assert "unique" in str(error).lower() or "duplicate" in str(error).lower(), error
    else:
        raise AssertionError("an append after a head moved back must not succeed")
    assert [e["seq"] for e in log.entries()] == [1, 2]
