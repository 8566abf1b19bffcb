"""README's Quick start, run as written: `samverkan serve --demo-participants 5 --print-tokens` as a process on a free
port with a fresh SQLite file, the samordnare token read from what it prints, and every curl example of the README's
Quick start run with curl; each must answer 200 with JSON."""

from __future__ import annotations

import json
import os
import re
import shlex
import shutil
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

ROOT = Path(__file__).resolve().parents[2]
README_HOST = "http://127.0.0.1:8000"
TOKEN_LINE = re.compile(r"^samordnare \(SF\): (\S+)\s*$", re.MULTILINE)
ASSIGNMENT = re.compile(r"^([A-Z_]+)='([^']*)'$")


def quick_start_commands() -> list[str]:
    """The lines of the README's Quick start bash block that holds the curl examples."""
    text = (ROOT / "README.md").read_text(encoding="utf-8")
    section = text.split("## Quick start", 1)[1].split("\n## ", 1)[0]
    blocks = re.findall(r"```bash\n(.*?)```", section, re.DOTALL)
    (examples,) = [b for b in blocks if "curl " in b]
    return [line.strip() for line in examples.splitlines() if line.strip() and not line.strip().startswith("#")]


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


@pytest.fixture(scope="module")
def served(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[str, str]]:
    """The service started as the Quick start starts it; (base URL, the samordnare token it printed)."""
    folder = tmp_path_factory.mktemp("quick-start")
    env = {k: v for k, v in os.environ.items() if not k.startswith("SAMVERKAN_")}
    env["SAMVERKAN_DATABASE_URL"] = f"sqlite:///{folder / 'samverkan.db'}"
    env["SAMVERKAN_KEY_FILE"] = str(folder / "keys.json")
    env["COLUMNS"] = "400"  # the printed lines stay whole
    port = _free_port()
    output = folder / "output.txt"
    samverkan = Path(sys.executable).with_name("samverkan")
    command = [str(samverkan), "serve", "--port", str(port), "--demo-participants", "5", "--print-tokens"]
    with output.open("w") as sink:
        process = subprocess.Popen(command, env=env, cwd=folder, stdout=sink, stderr=subprocess.STDOUT)
    base = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 60
        while True:
            if process.poll() is not None:
                pytest.fail(f"samverkan serve exited early:\n{output.read_text()}")
            try:
                if httpx.get(f"{base}/api/v1/health", timeout=1).status_code == 200:
                    break
            except httpx.TransportError:
                pass
            if time.monotonic() > deadline:
                pytest.fail("samverkan serve did not answer within 60 s")
            time.sleep(0.2)
        match = TOKEN_LINE.search(output.read_text())
        assert match, output.read_text()
        yield base, match.group(1)
    finally:
        process.terminate()
        try:
            process.wait(10)
        except subprocess.TimeoutExpired:
            process.kill()


def run_curl(line: str, variables: dict[str, str], base: str) -> tuple[int, object]:
    """Runs one curl line of the README with its `$VARIABLES` set and the README's host replaced by the test server;
    the status code comes from curl's own `-w`, added after the README's arguments."""
    words = shlex.split(line, comments=True)
    assert words[0] == "curl", line
    for name, value in variables.items():
        words = [w.replace(f"${name}", value) for w in words]
    words = [w.replace(README_HOST, base) for w in words]
    assert not any("$" in w or "<" in w for w in words), f"an unfilled placeholder in {line!r}"
    done = subprocess.run(
        [*words, "--max-time", "20", "-w", "\n%{http_code}"], capture_output=True, text=True, check=True
    )
    body, _, status = done.stdout.rpartition("\n")
    return int(status), json.loads(body)


@pytest.mark.skipif(shutil.which("curl") is None, reason="curl is not installed")
def test_every_curl_example_in_the_quick_start_answers_200_with_json(served: tuple[str, str]) -> None:
    base, token = served
    commands = quick_start_commands()
    assert any("<an id>" in c for c in commands) and any("$TOKEN" in c for c in commands)
    variables: dict[str, str] = {}
    ran = 0
    for line in commands:
        assignment = ASSIGNMENT.match(line)
        if assignment:
            name, value = assignment.groups()
            assert name == "TOKEN" and "samordnare token" in value, line
            variables[name] = token
            continue
        filled = line
        if "<an id>" in line:  # the first case of the caseload, as the README's comment suggests
            caseload = httpx.get(f"{base}/api/v1/caseload", headers={"Authorization": f"Bearer {token}"}).json()
            filled = line.replace("<an id>", caseload["cases"][0]["participant_id"])
        status, answer = run_curl(filled, variables, base)
        assert status == 200, (line, answer)
        assert isinstance(answer, dict | list), line
        ran += 1
    assert ran == len(commands) - 1  # every line but the assignment is a curl example
