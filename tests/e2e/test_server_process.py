"""`samverkan serve` as a real process over a socket: a full scenario, and not one line of its output carries
personal data (personnummer, names, free text)."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from adapters.settings import Settings
from tests.conftest import fixed_keys
from tests.e2e.scenario import consent_body, decision_body
from tests.support import ANNA, today

SECRETS = [
    ANNA["personnummer"],
    ANNA["personnummer"].replace("-", ""),
    ANNA["personnummer"][2:],
    ANNA["given_name"],
    ANNA["family_name"],
    "Sjukpenning beviljad",
    "Samordnad rehabilitering",
    "Behöver stöd från flera",
    "Samtalet gick bra",
    "Vill inte dela",
    "070-1234567",
]


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def samverkan_env(settings: Settings, tmp_path: Path) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("SAMVERKAN_")}
    env.update({f"SAMVERKAN_{k.upper()}": v for k, v in fixed_keys().items()})
    env["SAMVERKAN_DATABASE_URL"] = settings.database_url
    env["SAMVERKAN_KEY_FILE"] = str(tmp_path / "keys.json")
    env["SAMVERKAN_LOG_LEVEL"] = "DEBUG"
    return env


@pytest.fixture
def server(settings: Settings, tmp_path: Path) -> Iterator[tuple[str, subprocess.Popen[str]]]:
    port = free_port()
    process = subprocess.Popen(
        [sys.executable, "-m", "adapters.cli", "serve", "--port", str(port)],
        env=samverkan_env(settings, tmp_path),
        cwd=tmp_path,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )
    base = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        if process.poll() is not None:
            pytest.fail(f"samverkan serve exited early:\n{process.stdout.read() if process.stdout else ''}")
        try:
            if httpx.get(f"{base}/api/v1/health", timeout=1).status_code == 200:
                break
        except httpx.TransportError:
            time.sleep(0.2)
    else:
        process.kill()
        pytest.fail("samverkan serve did not answer within 30 s")
    yield base, process
    if process.poll() is None:
        process.kill()
        process.wait(10)


def token(tmp_path: Path, settings: Settings, sub: str, agency: str, role: str) -> str:
    result = subprocess.run(
        [sys.executable, "-m", "adapters.cli", "token", "--sub", sub, "--agency", agency, "--role", role],
        env=samverkan_env(settings, tmp_path),
        cwd=tmp_path,
        capture_output=True,
        text=True,
        check=True,
    )
    return result.stdout.strip()


def test_a_full_scenario_over_a_socket_logs_no_personal_data(
    server: tuple[str, subprocess.Popen[str]], settings: Settings, tmp_path: Path
) -> None:
    base, process = server
    sf = {"Authorization": "Bearer " + token(tmp_path, settings, "s-1", "SF", "samordnare")}
    fk = {"Authorization": "Bearer " + token(tmp_path, settings, "h-fk", "FK", "handlaggare")}
    af = {"Authorization": "Bearer " + token(tmp_path, settings, "h-af", "AF", "handlaggare")}
    with httpx.Client(base_url=base, timeout=10) as http:
        body = {**ANNA, "contact": {"phone": "070-1234567"}}
        pid = http.post("/api/v1/participants", json=body, headers=sf).json()["id"]
        assert http.post("/api/v1/participants", json=ANNA, headers=sf).status_code == 409
        bad = http.post("/api/v1/participants", json={**ANNA, "personnummer": "19811218-9875"}, headers=sf)
        assert bad.status_code == 422
        assert http.post("/api/v1/participants/search", json={"personnummer": ANNA["personnummer"]}, headers=af).json()
        assert http.post(f"/api/v1/participants/{pid}/decisions", json=decision_body(), headers=fk).status_code == 403
        consent = http.post(
            f"/api/v1/participants/{pid}/consents",
            json=consent_body(("FK", "SF", ["insurance"]), ("FK", "AF", ["insurance"])),
            headers=sf,
        ).json()["id"]
        assert http.post(f"/api/v1/participants/{pid}/decisions", json=decision_body(), headers=fk).status_code == 201
        http.post(
            f"/api/v1/participants/{pid}/referral",
            json={
                "remittent": "AF",
                "reason": "Behöver stöd från flera parter",
                "received_date": today().isoformat(),
                "needs": ["AF", "REGION"],
            },
            headers=sf,
        )
        http.post(
            f"/api/v1/participants/{pid}/meetings",
            json={
                "date": today().isoformat(),
                "agencies_present": ["FK"],
                "attended": True,
                "notes": "Samtalet gick bra",
            },
            headers=sf,
        )
        assert http.get(f"/api/v1/participants/{pid}/view", headers=af).status_code == 200
        http.post(
            f"/api/v1/participants/{pid}/consents/{consent}/withdrawal", json={"reason": "Vill inte dela"}, headers=sf
        )
        assert http.get(f"/api/v1/participants/{pid}/view", headers=af).status_code == 403
        assert http.get(f"/api/v1/participants/{pid}/view", headers={"Authorization": "Bearer x"}).status_code == 401
        # The in-process projection runner follows the log: the caseload shows the case within moments.
        deadline = time.monotonic() + 15
        while set(http.get("/api/v1/health").json()["projections"]["lag_events"].values()) != {0}:
            assert time.monotonic() < deadline, "the projections did not catch up"
            time.sleep(0.1)
        caseload = http.get("/api/v1/caseload", headers=sf).json()
        assert [c["participant_id"] for c in caseload["cases"]] == [pid]
    process.send_signal(signal.SIGINT)
    output, _ = process.communicate(timeout=20)
    assert '"event": "request"' in output  # the access log is there, as JSON lines
    assert pid in output  # ids are logged ...
    leaked = [secret for secret in SECRETS if secret in output]
    assert leaked == []  # ... personal data never
