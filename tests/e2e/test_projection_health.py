"""/health and `samverkan projections status` show a failing projection (which, where, why, since when), from an
in-process runner or a separate worker, while the service keeps answering; and stop once it has gone on."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
from pathlib import Path
from typing import Any
from uuid import uuid4

from adapters.settings import Settings
from tests.conftest import fixed_keys
from tests.e2e.conftest import Api
from tests.integration.test_projection_failures import (
    DECISION_TOPIC,
    append_event,
    eventually,
    poison_decision,
    rewrite_event,
    without,
)

ROOT = Path(__file__).resolve().parents[2]


def health(api: Api) -> dict[str, Any]:
    response = api.client.get("/api/v1/health")
    assert response.status_code == 200, response.text  # degraded is still up: recording does not need projections
    body: dict[str, Any] = response.json()
    return body


def test_health_is_degraded_while_a_projection_fails_and_ok_once_it_goes_on(api: Api) -> None:
    storage = api.context.storage
    runner = api.context.projections
    runner.retry_seconds, runner.max_retry_seconds = 0.05, 0.5
    assert health(api)["status"] == "ok" and health(api)["projections"]["failing"] is None
    case_id, decision = poison_decision(storage)
    runner.start()
    try:
        poison = append_event(storage, case_id, DECISION_TOPIC, without(decision, "decision_id"))
        body = eventually(lambda: (b := health(api))["status"] == "degraded" and b)
        failing = body["projections"]["failing"]
        assert failing["position"] == poison
        assert failing["projection"] in {p.name for p in runner.projections} - {"cases"}  # cases never read it
        assert failing["reason"] == "KeyError: missing key 'decision_id'"
        assert failing["since"] and failing["attempts"] >= 1
        assert body["projections"]["lag_events"][failing["projection"]] > 0
        # Recording goes on meanwhile.
        other = api.samordnare.post(
            "/api/v1/participants", {"personnummer": "19811218-9876", "given_name": "Anna", "family_name": "Ny"}
        )
        assert other.status_code == 201, other.text

        decision["decision_id"] = {"_type_": "uuid_hex", "_data_": uuid4().hex}
        rewrite_event(storage, poison, json.dumps(decision).encode())
        body = eventually(lambda: (b := health(api))["status"] == "ok" and b)
        assert body["projections"]["failing"] is None
        eventually(lambda: set(health(api)["projections"]["lag_events"].values()) == {0})
    finally:
        runner.stop()


def cli_env(settings: Settings, tmp_path: Path) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("SAMVERKAN_")}
    env.update({f"SAMVERKAN_{k.upper()}": v for k, v in fixed_keys().items()})
    env.update(SAMVERKAN_DATABASE_URL=settings.database_url, SAMVERKAN_KEY_FILE=str(tmp_path / "k.json"))
    env["SAMVERKAN_LOG_LEVEL"] = "WARNING"
    env["PYTHONPATH"] = os.pathsep.join(p for p in (str(ROOT), env.get("PYTHONPATH", "")) if p)
    return env


def test_a_separate_workers_failure_shows_in_the_apis_health_and_in_projections_status(
    api: Api, settings: Settings, tmp_path: Path
) -> None:
    storage = api.context.storage  # the API's runner is not started here: only the worker follows the log
    case_id, decision = poison_decision(storage)
    env = cli_env(settings, tmp_path)
    worker = subprocess.Popen(
        [sys.executable, "-m", "adapters.cli", "projections", "run"],
        env=env,
        cwd=tmp_path,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        eventually(lambda: set(health(api)["projections"]["lag_events"].values()) == {0}, timeout=30)
        poison = append_event(storage, case_id, DECISION_TOPIC, without(decision, "decision_id"))
        # Settled: the timeline stops at the poison event, the cases projection (which can fold it) goes past.
        body = eventually(
            lambda: (b := health(api))["status"] == "degraded" and b["projections"]["lag_events"]["cases"] == 0 and b
        )
        assert body["projections"]["failing"]["position"] == poison

        status = subprocess.run(
            [sys.executable, "-m", "adapters.cli", "projections", "status"],
            env=env,
            cwd=tmp_path,
            capture_output=True,
            text=True,
            check=True,
        )
        printed = json.loads(status.stdout)
        assert printed["failing"]["position"] == poison
        assert printed["failing"]["reason"] == "KeyError: missing key 'decision_id'"
        assert printed["lag"] == body["projections"]["lag_events"]

        decision["decision_id"] = {"_type_": "uuid_hex", "_data_": uuid4().hex}
        rewrite_event(storage, poison, json.dumps(decision).encode())
        body = eventually(lambda: (b := health(api))["status"] == "ok" and b, timeout=30)
        assert body["projections"]["failing"] is None
    finally:
        worker.send_signal(signal.SIGTERM)
        _, errors = worker.communicate(timeout=20)
    assert "projection_failing" in errors and "19900101" not in errors  # logged, without the person
