"""Faults against a real `samverkan serve` on a PostgreSQL cluster the tests made themselves (conftest.py).

PostgreSQL stopped and started again under a light load: while it is down every request answers 503 problem+json
with Retry-After within the connect timeout + 1 s; once it is back, requests succeed within 5 s and the
projections catch up by themselves; every decision acknowledged before, during or after is stored exactly once,
and the disclosure log verifies. And the service killed with SIGKILL mid-write, then started again: nothing it
acknowledged is lost, the log verifies, and the projections equal a rebuild. The figures are printed."""

from __future__ import annotations

import contextlib
import os
import re
import subprocess
import threading
import time
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from uuid import UUID

import httpx
import orjson
import pytest

from adapters.projections import projection_runner
from adapters.settings import Settings
from adapters.storage import open_storage
from tests.conftest import fixed_keys
from tests.e2e.scenario import consent_body, decision_body
from tests.integration.test_projections import snapshot
from tests.reliability.conftest import CONNECT_TIMEOUT_S, Cluster, Server, bearer, eventually, samverkan
from tests.support import fk_decision

OUTAGE_S = float(os.environ.get("SAMVERKAN_FAULT_OUTAGE_S", "8"))  # longer: SAMVERKAN_FAULT_OUTAGE_S=40
ANSWER_BUDGET_S = CONNECT_TIMEOUT_S + 1.0  # the longest any request may take, PostgreSQL down or not
RECOVERY_BUDGET_S = 5.0  # from PostgreSQL accepting connections again to every request succeeding
CLIENTS = 4
# Skatteverket's published test numbers (tests/data), one participant per client so their writes never collide.
PERSONNUMMER = ["196110023055", "196501253063", "197504249215", "198204259264"]
SAMORDNARE = bearer("samordnare", "SF")
FK = bearer("handlaggare", "FK")
SUCCESS = (200, 201)
EXPECTED = (*SUCCESS, 503)
CSRF = re.compile(r'name="csrf_token" value="([^"]+)"')


@dataclass
class Call:
    """One request the load made, as the client saw it (status 0: no answer at all)."""

    kind: str
    started: float
    ended: float
    status: int
    retry_after: str | None = None
    problem_type: str | None = None
    body: Any = None
    ref: str | None = None

    @property
    def latency(self) -> float:
        return self.ended - self.started

    @property
    def ok(self) -> bool:
        return self.status in SUCCESS


class Load:
    """A few clients (httpx, 30 s timeout): each reads its participant's view and records a decision in turn. A
    decision not acknowledged is sent again with the same source_ref, as a client honouring Retry-After would (the
    service answers 200 with the first id when it was stored after all). A health check runs beside them."""

    def __init__(self, base: str, participants: list[str], *, views: bool = True, pause: float = 0.02) -> None:
        self.base = base
        self.participants = participants
        self.views = views
        self.pause = pause
        self.calls: list[Call] = []
        self.acknowledged: dict[str, str] = {}  # source_ref -> decision id
        self.in_flight = 0  # requests sent and not yet answered
        self.pending: dict[int, str] = {}  # client -> the source_ref it is still trying to record
        self.sent: set[str] = set()
        self._lock = threading.Lock()
        self._stop = threading.Event()
        self._threads = [
            threading.Thread(target=self._client, args=(i,), daemon=True) for i in range(len(participants))
        ]
        self._threads.append(threading.Thread(target=self._health, daemon=True))

    def start(self) -> Load:
        for thread in self._threads:
            thread.start()
        return self

    def stop(self) -> None:
        self._stop.set()
        for thread in self._threads:
            thread.join(40)

    def snapshot(self) -> list[Call]:
        with self._lock:
            return list(self.calls)

    def _call(self, http: httpx.Client, kind: str, method: str, path: str, **kwargs: Any) -> Call:
        started = time.monotonic()
        with self._lock:
            self.in_flight += 1
        try:
            response = http.request(method, path, **kwargs)
        except httpx.TransportError:
            call = Call(kind, started, time.monotonic(), 0)
        else:
            ended = time.monotonic()
            body = None
            with contextlib.suppress(ValueError):
                body = response.json()
            problem = None
            if response.headers.get("content-type", "").startswith("application/problem+json"):
                problem = str(body.get("type")) if isinstance(body, dict) else "?"
            call = Call(kind, started, ended, response.status_code, response.headers.get("retry-after"), problem, body)
        with self._lock:
            self.calls.append(call)
            self.in_flight -= 1
        return call

    def _client(self, index: int) -> None:
        pid = self.participants[index]
        number = 0
        recorded = False  # FK sees the participant once it has a decision there
        with httpx.Client(base_url=self.base, timeout=30) as http:
            while not self._stop.is_set():
                if index not in self.pending:
                    number += 1
                    self.pending[index] = f"FK-{index}-{number}"
                ref = self.pending[index]
                self.sent.add(ref)
                body = decision_body(source_ref=ref, summary=f"Beslut {ref}")
                call = self._call(
                    http, "decision", "POST", f"/api/v1/participants/{pid}/decisions", json=body, headers=FK
                )
                call.ref = ref
                if call.ok:
                    with self._lock:
                        self.acknowledged[ref] = str(call.body["id"])
                    del self.pending[index]
                    recorded = True
                if self.views and recorded:
                    self._call(http, "view", "GET", f"/api/v1/participants/{pid}/view", headers=FK)
                self._stop.wait(self.pause)

    def _health(self) -> None:
        with httpx.Client(base_url=self.base, timeout=30) as http:
            while not self._stop.is_set():
                self._call(http, "health", "GET", "/api/v1/health")
                self._stop.wait(0.2)


def signed_in_browser(base: str) -> httpx.Client:
    """A browser signed in to the web pages as the demo samordnare (the development sign-in)."""
    browser = httpx.Client(base_url=base, timeout=30, follow_redirects=False)
    found = CSRF.search(browser.get("/logga-in").text)
    assert found
    signed_in = browser.post("/logga-in", data={"anvandare": "samordnare-demo", "csrf_token": found.group(1)})
    assert signed_in.status_code == 303, signed_in.text
    return browser


def enrol_participants(base: str, count: int) -> list[str]:
    """Participants with a consent that lets FK record (one per client)."""
    participants = []
    with httpx.Client(base_url=base, timeout=30) as http:
        for number in PERSONNUMMER[:count]:
            enrolled = http.post(
                "/api/v1/participants",
                json={"personnummer": number, "given_name": "Test", "family_name": "Person"},
                headers=SAMORDNARE,
            )
            assert enrolled.status_code == 201, enrolled.text
            pid = str(enrolled.json()["id"])
            consent = http.post(
                f"/api/v1/participants/{pid}/consents",
                json=consent_body(("FK", "SF", ["insurance"])),
                headers=SAMORDNARE,
            )
            assert consent.status_code == 201, consent.text
            participants.append(pid)
    return participants


def stored_decisions(base: str, participants: list[str]) -> dict[str, list[str]]:
    """Every decision in the participants' views, by summary: the ids stored under each."""
    found: dict[str, list[str]] = {}
    with httpx.Client(base_url=base, timeout=30) as http:
        for pid in participants:
            view = http.get(f"/api/v1/participants/{pid}/view", headers=FK)
            assert view.status_code == 200, view.text
            for decision in view.json()["decisions"]:
                found.setdefault(str(decision["summary"]), []).append(str(decision["id"]))
    return found


def assert_stored_exactly_once(load: Load, stored: dict[str, list[str]]) -> None:
    """Each acknowledged decision once, under the id it was acknowledged with; nothing the load did not send;
    a decision never acknowledged at most once."""
    for ref, decision_id in load.acknowledged.items():
        assert stored.get(f"Beslut {ref}") == [decision_id], (
            f"{ref}: acknowledged as {decision_id}, stored {stored.get(f'Beslut {ref}')}"
        )
    counts = Counter({summary: len(ids) for summary, ids in stored.items()})
    assert set(counts) <= {f"Beslut {ref}" for ref in load.sent}
    assert max(counts.values(), default=0) <= 1


def health_of(base: str) -> dict[str, Any] | None:
    response = httpx.get(f"{base}/api/v1/health", timeout=10)
    return response.json() if response.status_code == 200 else None


def caught_up(base: str) -> bool:
    body = health_of(base)
    return body is not None and body["status"] == "ok" and set(body["projections"]["lag_events"].values()) == {0}


def audit_verify(server: Server) -> dict[str, Any]:
    result = samverkan(server.env, "audit", "verify")
    assert result.returncode == 0, result.stdout + result.stderr
    verified: dict[str, Any] = orjson.loads(result.stdout.strip().splitlines()[-1])
    assert verified["ok"] is True
    return verified


def report(capsys: pytest.CaptureFixture[str], text: str) -> None:
    """The measured figures on the terminal, captured or not (to be quoted)."""
    with capsys.disabled():
        print(f"\n[fault figures] {text}")


def recovery(calls: list[Call], back: float) -> float | None:
    """Seconds from `back` until the end of the first request (sent after `back`) that succeeded with every later
    one succeeding too; None while that has not happened."""
    after = [c for c in calls if c.started >= back and c.kind != "health"]
    since = max((c.started for c in after if not c.ok), default=back)  # the last failure's start
    successes = [c for c in after if c.started > since and c.ok] if since > back else [c for c in after if c.ok]
    return min(c.ended for c in successes) - back if successes else None


@pytest.mark.postgres
def test_a_postgres_outage_is_answered_503_at_once_and_the_service_recovers_by_itself(
    pg_cluster: Cluster,
    fault_database: str,
    servers: Callable[..., Server],
    projection_workers: Callable[[str], subprocess.Popen[bytes]],
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
) -> None:
    server = servers(fault_database)  # with its in-process projection runner
    worker = projection_workers(fault_database)  # and a projection worker of its own beside it
    participants = enrol_participants(server.base, CLIENTS)
    browser = signed_in_browser(server.base)
    assert browser.get("/arenden").status_code == 200
    load = Load(server.base, participants).start()
    try:
        assert eventually(lambda: len(load.acknowledged) >= 2 * CLIENTS, timeout=20), "no load before the outage"
        down_requested = time.monotonic()
        pg_cluster.stop()
        down = time.monotonic()
        try:
            time.sleep(OUTAGE_S / 2)
            page = browser.get("/arenden")  # the web pages: a Swedish error page, not JSON
            time.sleep(OUTAGE_S / 2)
        finally:
            up_requested = time.monotonic()
            pg_cluster.start()  # returns once PostgreSQL accepts connections
            up = time.monotonic()
        # The load goes on until every request has succeeded for 3 s (at most 20 s).
        eventually(lambda: (r := recovery(load.snapshot(), up)) is not None and time.monotonic() - up > r + 3, 20)
    finally:
        load.stop()
    stopped = time.monotonic()
    calls = load.snapshot()
    started_down = [c for c in calls if down <= c.started < up_requested]  # sent while PostgreSQL was down
    during = [c for c in started_down if c.ended <= up_requested]  # ... and answered before it was started again
    worst_down = max((c.latency for c in started_down), default=0.0)
    worst = max(c.latency for c in calls)
    recovered_in = recovery(calls, up)
    health = [c for c in calls if c.kind == "health"]
    healthy_again = [c.ended - up for c in health if c.started >= up and c.status == 200]
    lag_after = [
        max(c.body["projections"]["lag_events"].values()) for c in health if c.started >= up + 1 and c.status == 200
    ]
    measured = (
        f"PostgreSQL stopped for {OUTAGE_S:.0f} s under {CLIENTS} clients (connect timeout {CONNECT_TIMEOUT_S} s): "
        f"{len(started_down)} requests sent during the outage, {len(during)} answered during it "
        f"({dict(Counter(c.status for c in during))}), slowest {worst_down:.3f} s (budget {ANSWER_BUDGET_S:.0f} s); "
        f"slowest request of the whole run {worst:.3f} s; every request succeeds again "
        f"{'never' if recovered_in is None else f'{recovered_in:.2f} s'} after PostgreSQL accepted connections "
        f"(budget {RECOVERY_BUDGET_S:.0f} s); {len(calls)} requests, {len(load.acknowledged)} decisions acknowledged"
    )
    report(capsys, measured)

    # While PostgreSQL was down: 503 problem+json with Retry-After, each within the connect timeout + 1 s.
    assert len(during) >= 10 * CLIENTS, f"only {len(during)} requests answered during the outage: {measured}"
    wrong = [
        c
        for c in during
        if (c.status, bool(c.retry_after)) != (503, True) or not str(c.problem_type).endswith("/unavailable")
    ]
    assert not wrong, f"{len(wrong)} of {len(during)} answers during the outage were not 503 unavailable: {wrong[:3]}"
    assert worst_down <= ANSWER_BUDGET_S, measured
    # No request ever hung, the moments of stopping and starting included; nothing but 200, 201 and 503.
    assert worst <= ANSWER_BUDGET_S, measured
    unexpected = [(c.kind, round(c.started - down, 2), c.status, c.body) for c in calls if c.status not in EXPECTED]
    assert not unexpected, f"answers but 200, 201 and 503 (kind, s after the stop, status, body): {unexpected[:5]}"

    assert page.status_code == 503 and page.headers["retry-after"], page.text
    assert page.headers["content-type"].startswith("text/html") and "Tjänsten svarar inte just nu" in page.text
    assert browser.get("/arenden").status_code == 200
    browser.close()

    # Back: every request succeeds within 5 s of PostgreSQL accepting connections again.
    assert recovered_in is not None and recovered_in <= RECOVERY_BUDGET_S, measured

    # /health said so: 503 while down, ok again after; the projections caught up by themselves.
    assert any(c.status == 503 for c in health if down <= c.started and c.ended <= up_requested)
    assert healthy_again, "/health never answered 200 again"
    assert eventually(lambda: caught_up(server.base), timeout=20), f"projections behind: {health_of(server.base)}"
    caught_up_in = time.monotonic() - stopped

    # Every acknowledged decision stored exactly once (the ones still pending: at most once), and the log verifies.
    assert_stored_exactly_once(load, stored_decisions(server.base, participants))
    verified = audit_verify(server)

    # The worker went through the outage too and follows the log by itself: alone now, it takes in a new event.
    server.stop()
    assert worker.poll() is None, "the projection worker exited"
    settings = Settings(database_url=fault_database, key_file=tmp_path / "keys.json", **fixed_keys())  # type: ignore[arg-type]
    with open_storage(settings) as storage:
        runner = projection_runner(storage, settings)
        written = time.monotonic()
        fk_decision(storage.service, UUID(participants[0]), "FK-after-the-outage")
        head = runner.store.head()
        assert eventually(lambda: min(runner.positions().values()) >= head, timeout=15), runner.positions()
        worker_took = time.monotonic() - written
    report(
        capsys,
        f"after the outage: /health 200 again {min(healthy_again):.2f} s after PostgreSQL was back; projection lag "
        f"under load from 1 s after at most {max(lag_after, default=0)} events, at the head {caught_up_in:.2f} s "
        f"after the load stopped; the separate projection worker, alone, took in a new event in {worker_took:.2f} s; "
        f"{len(load.acknowledged)} acknowledged decisions each stored once; disclosure log verified "
        f"({verified['entries']} entries); stopping PostgreSQL took {down - down_requested:.2f} s, starting it "
        f"{up - up_requested:.2f} s",
    )


@pytest.mark.postgres
def test_a_server_killed_mid_write_loses_nothing_it_acknowledged(
    pg_cluster: Cluster,
    fault_database: str,
    servers: Callable[..., Server],
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
) -> None:
    server = servers(fault_database)
    participants = enrol_participants(server.base, CLIENTS)
    load = Load(server.base, participants, views=False, pause=0).start()
    try:
        assert eventually(lambda: len(load.acknowledged) >= 10 * CLIENTS, timeout=30), "no load before the kill"
        # Kill while a request is in flight (commits are quick now: the clients can all be between requests).
        assert eventually(lambda: load.in_flight > 0, timeout=10, interval=0.001), "no request in flight"
        killed = time.monotonic()
        server.kill()  # SIGKILL while the clients are writing: no shutdown of any kind
        time.sleep(0.5)
    finally:
        load.stop()
    calls = load.snapshot()
    cut = [c for c in calls if c.status == 0 and c.started < killed]
    assert cut, "no request was in flight when the server was killed"

    restarted = servers(fault_database)
    # What the clients had not seen acknowledged, they send again: stored once whether or not it got in before.
    with httpx.Client(base_url=restarted.base, timeout=30) as http:
        for index, ref in sorted(load.pending.items()):
            body = decision_body(source_ref=ref, summary=f"Beslut {ref}")
            again = http.post(f"/api/v1/participants/{participants[index]}/decisions", json=body, headers=FK)
            assert again.status_code in SUCCESS, again.text
            load.acknowledged[ref] = str(again.json()["id"])
    assert_stored_exactly_once(load, stored_decisions(restarted.base, participants))
    verified = audit_verify(restarted)
    assert eventually(lambda: caught_up(restarted.base), timeout=30), health_of(restarted.base)
    restarted.stop()

    # The projections the restarted service carried on with equal a rebuild from the log.
    settings = Settings(database_url=fault_database, key_file=tmp_path / "keys.json", **fixed_keys())  # type: ignore[arg-type]
    with open_storage(settings) as storage:
        runner = projection_runner(storage, settings)
        assert set(runner.lag().values()) == {0}
        live = snapshot(runner)
        assert live["timeline"] and live["cases"]
        runner.rebuild()
        assert snapshot(runner) == live

    report(
        capsys,
        f"samverkan serve killed (SIGKILL) with {len(cut)} requests in flight: {len(load.acknowledged)} decisions "
        f"acknowledged (the {len(load.pending)} cut off sent again after the restart), each stored once; "
        f"disclosure log verified ({verified['entries']} entries); projections equal a rebuild",
    )
