"""The agency view's worker threads (adapters/http/fast_view.py `Workers`): reads run side by side (so that the
disclosure log's group commit can gather them), no more threads than reads at once (up to the cap), failures and
the request's log context reach the awaiting request."""

from __future__ import annotations

import asyncio
import contextvars
import threading

import pytest

from adapters.http.fast_view import Workers

REQUEST = contextvars.ContextVar("request", default="-")


def test_reads_run_side_by_side_on_as_many_threads_as_needed() -> None:
    workers = Workers(8)
    together = threading.Barrier(3, timeout=10)  # broken (an error) unless three reads run at the same time

    async def three() -> list[int]:
        return list(await asyncio.gather(*(workers.run(together.wait) for _ in range(3))))

    assert sorted(asyncio.run(three())) == [0, 1, 2]
    assert workers._started == 3
    asyncio.run(three())  # the same threads again
    assert workers._started == 3


def test_no_more_threads_than_the_cap_and_every_read_is_answered() -> None:
    workers = Workers(2)
    running, most = [0], [0]
    lock = threading.Lock()

    def read(n: int) -> int:
        with lock:
            running[0] += 1
            most[0] = max(most[0], running[0])
        threading.Event().wait(0.01)
        with lock:
            running[0] -= 1
        return n

    async def many() -> list[int]:
        return list(await asyncio.gather(*(workers.run(read, n) for n in range(10))))

    assert asyncio.run(many()) == list(range(10))
    assert most[0] <= 2 and workers._started == 2


def test_a_failure_and_the_log_context_reach_the_request() -> None:
    workers = Workers(2)

    async def failing() -> None:
        await workers.run(int, "not a number")

    with pytest.raises(ValueError, match="invalid literal"):
        asyncio.run(failing())

    async def in_context() -> str:
        REQUEST.set("req-7")
        return await workers.run(REQUEST.get)

    assert asyncio.run(in_context()) == "req-7"
