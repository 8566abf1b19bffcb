"""Withdrawal races on PostgreSQL, over HTTP: in each trial several FK handläggare record decisions for one
participant while the samordnare withdraws the consent that allows them.

Invariants, checked after every trial:
- no decision whose request started after the withdrawal was acknowledged (its 200 received) is accepted;
- in the case's stored history no decision follows the withdrawal, and each stored decision names the consent;
- every acknowledged (201) decision is stored exactly once; every decision request answers 201 or 403;
- every refused one (403) is in the disclosure log as a refused recording under its request id.

1,000 trials by default (CI); `--trials 10000` for the long run, SAMVERKAN_RACE_DECIDERS and
SAMVERKAN_RACE_DECISIONS_EACH (2 and 2) for more threads and decisions per trial. Prints trials, outcomes and
violations.
"""

from __future__ import annotations

import os
import random
import threading
import time
from collections import Counter
from dataclasses import dataclass, field
from datetime import date, timedelta
from uuid import UUID

import pytest

from adapters.disclosure_log import RECORDING_REFUSED, LogFilter
from coordination.personnummer import fictitious_personnummer
from tests.e2e import conftest as e2e
from tests.e2e.conftest import Api
from tests.e2e.scenario import consent_body, decision_body, enrol

# The HTTP fixtures of tests/e2e: the real app on real storage (PostgreSQL only here: see `engine`).
api, context = e2e.api, e2e.context
# A trial is kept small so that 1,000 of them fit in CI: one participant, a few threads, a few decisions each.
DECIDERS = int(os.environ.get("SAMVERKAN_RACE_DECIDERS", "2"))
DECISIONS_EACH = int(os.environ.get("SAMVERKAN_RACE_DECISIONS_EACH", "2"))


@pytest.fixture
def engine(request: pytest.FixtureRequest) -> str:
    """These races run on PostgreSQL only (the shared test server; required when CI=true)."""
    request.applymarker(pytest.mark.postgres)
    return "postgres"


@dataclass
class Attempt:
    source_ref: str
    request_id: str
    started: float
    status: int = 0
    answered: float = 0.0


@dataclass
class Tally:
    trials: int = 0
    statuses: Counter[int] = field(default_factory=Counter)
    started_after_ack: int = 0  # decision requests that started after the withdrawal's 200 was received
    accepted_after_ack: int = 0  # ... and were accepted (201): each one a violation
    violations: list[str] = field(default_factory=list)
    refused: dict[str, tuple[int, UUID]] = field(default_factory=dict)  # request id -> trial, participant

    def violate(self, trial: int, what: str) -> None:
        self.violations.append(f"trial {trial}: {what}")


def personnummer(trial: int) -> str:
    """A distinct fictitious adult per trial (100 per birth date)."""
    born = date(1950, 1, 1) + timedelta(days=trial // 100)
    return fictitious_personnummer(born, trial % 100, gender="female" if trial % 2 else "male")


def run_trial(api: Api, trial: int, tally: Tally, rng: random.Random) -> None:
    pid = enrol(api, personnummer=personnummer(trial), given_name="Rut", family_name="Kapplöpningsdotter")
    created = api.samordnare.post(f"/api/v1/participants/{pid}/consents", consent_body(("FK", "SF", ["insurance"])))
    assert created.status_code == 201, created.text
    consent = created.json()["id"]
    fk, sf = api.handlaggare("FK"), api.samordnare
    attempts: list[Attempt] = []
    lock = threading.Lock()
    withdrawal: dict[str, float | int] = {}
    gate = threading.Barrier(DECIDERS + 1)
    errors: list[BaseException] = []

    def decide(thread: int) -> None:
        try:
            gate.wait(10)
            for n in range(DECISIONS_EACH):
                ref = f"FK-RACE-{trial}-{thread}-{n}"
                attempt = Attempt(ref, f"race-{trial}-{thread}-{n}", time.monotonic())
                response = fk.post(
                    f"/api/v1/participants/{pid}/decisions",
                    decision_body(source_ref=ref),
                    headers={"X-Request-ID": attempt.request_id},
                )
                attempt.status, attempt.answered = response.status_code, time.monotonic()
                with lock:
                    attempts.append(attempt)
        except BaseException as error:  # collected and failed on below
            errors.append(error)

    def withdraw() -> None:
        try:
            gate.wait(10)
            time.sleep(rng.random() * 0.03)  # lands anywhere among the decisions
            withdrawal["started"] = time.monotonic()
            response = sf.post(f"/api/v1/participants/{pid}/consents/{consent}/withdrawal", {"reason": "Återkallat"})
            withdrawal["acknowledged"], withdrawal["status"] = time.monotonic(), response.status_code
        except BaseException as error:
            errors.append(error)

    threads = [threading.Thread(target=decide, args=(t,)) for t in range(DECIDERS)]
    threads.append(threading.Thread(target=withdraw))
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(60)
    assert not errors, errors
    assert withdrawal.get("status") == 200, f"trial {trial}: the withdrawal answered {withdrawal}"
    tally.trials += 1
    acknowledged = float(withdrawal["acknowledged"])
    for attempt in attempts:
        tally.statuses[attempt.status] += 1
        if attempt.status not in (201, 403):
            tally.violate(trial, f"{attempt.source_ref} answered {attempt.status}")
        tally.started_after_ack += attempt.started > acknowledged
        if attempt.status == 201 and attempt.started > acknowledged:
            tally.accepted_after_ack += 1
            tally.violate(trial, f"{attempt.source_ref} started after the withdrawal was acknowledged and got 201")
    check_stored(api, trial, UUID(pid), UUID(consent), attempts, tally)


def check_stored(api: Api, trial: int, pid: UUID, consent: UUID, attempts: list[Attempt], tally: Tally) -> None:
    service = api.context.service
    events = list(service.events.get(pid))
    kinds = [type(e).__name__ for e in events]
    withdrawn_at = kinds.index("ConsentWithdrawn")
    recorded = [e for e in events if type(e).__name__ == "DecisionRecorded"]
    if late := [e for e in events[withdrawn_at:] if type(e).__name__ == "DecisionRecorded"]:
        tally.violate(trial, f"{len(late)} decision(s) stored after the withdrawal")
    for event in recorded:
        if getattr(event, "consent_id", None) != consent:
            tally.violate(trial, f"decision {event.decision_id} stored without the consent")  # type: ignore[attr-defined]
    stored = Counter(getattr(e, "source_ref", None) for e in recorded)
    fingerprint = {a.source_ref: service.vault.fingerprint(pid, a.source_ref) for a in attempts}
    for attempt in attempts:
        times = stored[fingerprint[attempt.source_ref]]
        if attempt.status == 201 and times != 1:
            tally.violate(trial, f"{attempt.source_ref} acknowledged but stored {times} times")
        if attempt.status != 201 and times:
            tally.violate(trial, f"{attempt.source_ref} answered {attempt.status} but is stored")
    if len(recorded) != sum(a.status == 201 for a in attempts):
        tally.violate(trial, f"{len(recorded)} decisions stored, {sum(a.status == 201 for a in attempts)} acknowledged")
    tally.refused.update({a.request_id: (trial, pid) for a in attempts if a.status == 403})


def check_refusals_logged(api: Api, tally: Tally) -> None:
    """Every refused decision is in the disclosure log: a refused recording about its participant, under its
    request id (one pass over the log at the end, not a query per trial)."""
    logged = {
        (e["request_id"], e["participant_id"])
        for e in api.context.log.entries(LogFilter())
        if e["kind"] == RECORDING_REFUSED and e["outcome"] == "refused"
    }
    for request_id, (trial, pid) in tally.refused.items():
        if (request_id, str(pid)) not in logged:
            tally.violate(trial, f"{request_id} refused but not in the disclosure log")


def test_no_decision_slips_past_a_withdrawal(api: Api, request: pytest.FixtureRequest) -> None:
    trials = int(request.config.getoption("trials"))
    rng = random.Random(20261125)
    tally = Tally()
    began = time.monotonic()
    for trial in range(trials):
        run_trial(api, trial, tally, rng)
    check_refusals_logged(api, tally)
    elapsed = time.monotonic() - began
    print(
        f"\nwithdrawal races (PostgreSQL, HTTP): {tally.trials} trials of {DECIDERS} threads x {DECISIONS_EACH}"
        f" decisions and one withdrawal in {elapsed:.1f} s; answers {dict(sorted(tally.statuses.items()))};"
        f" started after the withdrawal was acknowledged {tally.started_after_ack}, of them accepted"
        f" {tally.accepted_after_ack}; violations {len(tally.violations)}"
    )
    assert tally.trials == trials
    assert tally.violations == [], "\n".join(tally.violations[:20])
    # The races were real: both outcomes happened, and requests started after the acknowledgement were tried.
    assert tally.statuses[201] and tally.statuses[403]
    assert tally.started_after_ack or trials < 100
