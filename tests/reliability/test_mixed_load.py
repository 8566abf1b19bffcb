"""The mixed load of issue 12, short: a real `samverkan serve` on each engine under 16 clients for 10 s, each drawing
70 % views, 20 % decisions and 10 % consent changes (bench/load.py --mix issue). Asserts 0 errors and 0 5xx, never
timing targets (the machine is shared); prints throughput, p50/p95/p99 and errors. The full run, with a baseline:
`python bench/load.py --mix issue [--database-url postgresql://...]` (docs/benchmarks.md, "Load")."""

from __future__ import annotations

import os
from collections.abc import Callable

from adapters.settings import Settings
from bench.load import ISSUE_MIX, ISSUE_OPERATIONS, Credentials, cuts, run_mixed
from tests.conftest import fixed_keys
from tests.reliability.conftest import Server

CLIENTS = 16
SECONDS = float(os.environ.get("SAMVERKAN_LOAD_SECONDS", "10"))


def test_the_issue_mix_answers_without_errors(servers: Callable[..., Server], settings: Settings, engine: str) -> None:
    server = servers(settings.database_url)
    secret = Settings(database_url=settings.database_url, **fixed_keys()).token_key  # type: ignore[arg-type]
    assert secret is not None
    tally = run_mixed(server.base, CLIENTS, SECONDS, Credentials(secret), mix="issue")
    assert server.process is not None and server.process.poll() is None, server.output()[-2000:]

    everything = [x for op in ISSUE_OPERATIONS for x in tally.latencies.get(op, [])]
    overall = cuts(everything)
    counts = {op: len(tally.latencies.get(op, [])) for op in ISSUE_OPERATIONS}
    print(
        f"\nmixed load ({engine}, {CLIENTS} clients, {tally.timed_seconds:.1f} s): {len(everything)} requests"
        f" {counts}, {len(everything) / tally.timed_seconds:.1f} req/s, p50 {overall['p50']:.0f} ms,"
        f" p95 {overall['p95']:.0f} ms, p99 {overall['p99']:.0f} ms, errors {tally.total_errors},"
        f" 5xx {tally.server_errors}"
    )
    assert tally.error_samples == [] and tally.total_errors == 0 and tally.server_errors == 0
    # The mix is the one asked for (within 10 points: each request is drawn at random).
    for op, share in zip(ISSUE_OPERATIONS, ISSUE_MIX.values(), strict=True):
        assert abs(100 * counts[op] / len(everything) - share) < 10, counts
