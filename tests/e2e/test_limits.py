"""Request line, header and body limits on a real `samverkan serve` over raw sockets (docs/api.md, "Limits").

What is too large is answered before it is read whole: 414 for a too-long request target, 431 for too-large
headers (one or all together), 413 for a too-large body (with or without Content-Length), each as problem+json,
and the connection is closed after it. A 50 MB header sent slowly is answered within a second of passing the
limit, the server's memory does not grow with it, and `/health` answers all the while."""

from __future__ import annotations

import json
import select
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import httpx
import pytest

from adapters.auth import issue_token
from adapters.settings import Settings
from tests.conftest import fixed_keys
from tests.e2e.test_server_process import free_port, samverkan_env
from tests.support import ANNA

KIB = 1024
MAX_URL = 8 * KIB  # SAMVERKAN_MAX_URL_BYTES' default
MAX_HEADERS = 16 * KIB  # SAMVERKAN_MAX_HEADER_BYTES' default
MAX_BODY = 1024 * KIB  # SAMVERKAN_MAX_BODY_BYTES' default
FLOOD = 50 * 1024 * KIB  # what a hostile client offers to send
ANSWER_WITHIN_S = 1.0


@dataclass
class Served:
    base: str
    port: int
    process: subprocess.Popen[str]
    token: str

    def rss_kib(self) -> int:
        """The server process's resident memory (VmRSS), in KiB."""
        for line in Path(f"/proc/{self.process.pid}/status").read_text().splitlines():
            if line.startswith("VmRSS:"):
                return int(line.split()[1])
        raise AssertionError("no VmRSS")

    def health(self) -> int:
        return httpx.get(f"{self.base}/api/v1/health", timeout=ANSWER_WITHIN_S).status_code


@pytest.fixture(scope="module")
def served(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Served]:
    """One `samverkan serve` (SQLite) for the module: these tests send nothing that changes its data."""
    tmp_path = tmp_path_factory.mktemp("limits")
    settings = Settings(database_url=f"sqlite:///{tmp_path / 'samverkan.db'}", key_file=tmp_path / "keys.json")
    port = free_port()
    process = subprocess.Popen(
        [sys.executable, "-m", "adapters.cli", "serve", "--port", str(port)],
        env={**samverkan_env(settings, tmp_path), "SAMVERKAN_LOG_LEVEL": "WARNING"},
        cwd=tmp_path,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
        text=True,
    )
    base = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + 30
    while True:
        assert process.poll() is None, "samverkan serve exited early"
        try:
            if httpx.get(f"{base}/api/v1/health", timeout=1).status_code == 200:
                break
        except httpx.TransportError:
            pass
        assert time.monotonic() < deadline, "samverkan serve did not answer within 30 s"
        time.sleep(0.2)
    secret = Settings(**fixed_keys()).token_key
    assert secret is not None
    token = issue_token(secret, sub="samordnare-limits", agency="SF", role="samordnare")
    try:
        yield Served(base, port, process, token)
    finally:
        process.kill()
        process.wait(10)


# -- raw HTTP ------------------------------------------------------------------------------------------------------


@dataclass
class Answer:
    status: int
    headers: dict[str, str]
    body: bytes
    closed: bool  # the server closed the connection after the answer

    def problem(self) -> dict[str, object]:
        assert self.headers.get("content-type", "").startswith("application/problem+json"), self.headers
        body: dict[str, object] = json.loads(self.body)
        assert body["status"] == self.status
        return body


def connect(served: Served) -> socket.socket:
    sock = socket.create_connection(("127.0.0.1", served.port), timeout=5)
    sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
    return sock


def answered(sock: socket.socket) -> bool:
    """True when the server has sent something (or closed) on this connection."""
    readable, _, _ = select.select([sock], [], [], 0)
    return bool(readable)


def read_answer(sock: socket.socket, timeout: float = 5.0) -> Answer:
    """One HTTP response (Content-Length framed), then whether the server closes the connection within `timeout`."""
    sock.settimeout(timeout)
    data = b""
    while b"\r\n\r\n" not in data:
        chunk = sock.recv(65536)
        assert chunk, f"the connection closed without an answer: {data!r}"
        data += chunk
    head, _, rest = data.partition(b"\r\n\r\n")
    lines = head.decode("latin-1").split("\r\n")
    status = int(lines[0].split()[1])
    headers = {k.strip().lower(): v.strip() for k, _, v in (line.partition(":") for line in lines[1:])}
    length = int(headers.get("content-length", "0"))
    while len(rest) < length:
        chunk = sock.recv(65536)
        assert chunk, "the connection closed in the middle of the answer"
        rest += chunk
    closed = False
    try:
        closed = sock.recv(65536) == b""
    except (TimeoutError, ConnectionResetError):
        closed = False
    return Answer(status, headers, rest[:length], closed)


def flood(sock: socket.socket, start: bytes, filler: bytes, limit: int, *, chunk: int = 16 * KIB) -> tuple[int, float]:
    """Sends `start`, then `filler` bytes slowly (a chunk every 5 ms) up to FLOOD bytes in all, and stops as soon
    as the server answers. Returns (bytes sent, seconds from passing `limit` to the answer); fails when no answer
    comes within ANSWER_WITHIN_S of passing the limit."""
    sock.sendall(start)
    sent = len(start)
    passed_at: float | None = time.monotonic() if sent > limit else None
    piece = (filler * (chunk // len(filler) + 1))[:chunk]
    while sent < FLOOD:
        if answered(sock):
            break
        now = time.monotonic()
        if passed_at is not None:
            assert now - passed_at < ANSWER_WITHIN_S, f"no answer {ANSWER_WITHIN_S} s after passing the limit"
        try:
            sock.sendall(piece)
        except (BrokenPipeError, ConnectionResetError):
            break  # closed by the server: its answer is waiting to be read
        sent += len(piece)
        if passed_at is None and sent > limit:
            passed_at = time.monotonic()
        time.sleep(0.005)
    assert passed_at is not None, "the limit was never passed"
    return sent, time.monotonic() - passed_at


# -- headers: 431 --------------------------------------------------------------------------------------------------


def test_a_50_mb_header_sent_slowly_is_431_within_a_second_of_the_limit_and_health_answers_meanwhile(
    served: Served,
) -> None:
    before = served.rss_kib()
    with connect(served) as sock:
        # Part of the header first: the server keeps answering others while this request is incomplete.
        sock.sendall(b"GET /api/v1/caseload HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer " + b"a" * (8 * KIB))
        time.sleep(0.2)
        started = time.monotonic()
        assert served.health() == 200
        assert time.monotonic() - started < ANSWER_WITHIN_S
        sent, delay = flood(sock, b"", b"a", MAX_HEADERS - 8 * KIB)
        answer = read_answer(sock)
    assert answer.status == 431, answer
    assert delay < ANSWER_WITHIN_S
    assert sent < 2 * 1024 * KIB, f"{sent} bytes were sent before the answer"
    problem = answer.problem()
    assert str(problem["type"]).endswith("/headers-too-large")
    assert answer.closed
    assert served.rss_kib() - before < 20 * 1024, "the server's memory grew with the header"
    assert served.health() == 200


def test_one_header_over_the_limit_is_431(served: Served) -> None:
    response = httpx.get(f"{served.base}/api/v1/health", headers={"X-Padding": "p" * (MAX_HEADERS + 1)}, timeout=5)
    assert response.status_code == 431, response.text
    assert response.headers["content-type"].startswith("application/problem+json")
    assert response.json()["type"].endswith("/headers-too-large")
    assert "p" * 100 not in response.text


def test_headers_over_the_limit_together_are_431_and_just_under_it_pass(served: Served) -> None:
    many = {f"X-Part-{i}": "v" * 1000 for i in range(17)}  # each small, together over 16 KiB
    response = httpx.get(f"{served.base}/api/v1/health", headers=many, timeout=5)
    assert response.status_code == 431, response.text
    assert response.json()["type"].endswith("/headers-too-large")
    fewer = {f"X-Part-{i}": "v" * 1000 for i in range(14)}
    assert httpx.get(f"{served.base}/api/v1/health", headers=fewer, timeout=5).status_code == 200


# -- the request line: 414 ----------------------------------------------------------------------------------------


def test_a_url_over_the_limit_is_414_and_one_under_it_is_served(served: Served) -> None:
    response = httpx.get(f"{served.base}/api/v1/health?pad={'q' * MAX_URL}", timeout=5)
    assert response.status_code == 414, response.text
    assert response.headers["content-type"].startswith("application/problem+json")
    assert response.json()["type"].endswith("/uri-too-long")
    assert "q" * 100 not in response.text
    fits = f"{served.base}/api/v1/health?pad={'q' * (MAX_URL - 100)}"
    assert httpx.get(fits, timeout=5).status_code == 200


def test_a_50_mb_request_line_is_414_within_a_second_of_the_limit(served: Served) -> None:
    before = served.rss_kib()
    with connect(served) as sock:
        sent, delay = flood(sock, b"GET /api/v1/health?pad=", b"q", MAX_URL)
        answer = read_answer(sock)
    assert answer.status == 414, answer
    assert delay < ANSWER_WITHIN_S
    assert sent < 2 * 1024 * KIB
    assert str(answer.problem()["type"]).endswith("/uri-too-long")
    assert answer.closed
    assert served.rss_kib() - before < 20 * 1024
    assert served.health() == 200


# -- bodies: 413 ---------------------------------------------------------------------------------------------------


def _post_head(served: Served, framing: str) -> bytes:
    return (
        f"POST /api/v1/participants HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer {served.token}\r\n"
        f"Content-Type: application/json\r\n{framing}\r\n"
    ).encode()


def test_a_body_declared_over_the_limit_is_413_before_it_is_sent_and_the_connection_is_closed(served: Served) -> None:
    with connect(served) as sock:
        sock.sendall(_post_head(served, f"Content-Length: {FLOOD}\r\n"))
        started = time.monotonic()
        answer = read_answer(sock, timeout=ANSWER_WITHIN_S)
        assert time.monotonic() - started < 2 * ANSWER_WITHIN_S
    assert answer.status == 413
    assert str(answer.problem()["type"]).endswith("/payload-too-large")
    assert answer.closed, "the server kept the connection open to read the rest of the body"


def test_a_chunked_body_over_the_limit_is_413_once_the_limit_is_passed(served: Served) -> None:
    before = served.rss_kib()
    with connect(served) as sock:
        piece = b"x" * (64 * KIB)
        chunk = f"{len(piece):x}\r\n".encode() + piece + b"\r\n"
        opening = json.dumps({**ANNA, "given_name": ""}).encode()[:-3]  # an unfinished JSON string to fill
        first = f"{len(opening):x}\r\n".encode() + opening + b"\r\n"
        sent, delay = flood(
            sock, _post_head(served, "Transfer-Encoding: chunked\r\n") + first, chunk, MAX_BODY, chunk=len(chunk)
        )
        answer = read_answer(sock)
    assert answer.status == 413, answer
    assert delay < ANSWER_WITHIN_S
    assert sent < 4 * 1024 * KIB
    assert str(answer.problem()["type"]).endswith("/payload-too-large")
    assert answer.closed, "the server kept the connection open to read the rest of the body"
    assert served.rss_kib() - before < 20 * 1024
    assert served.health() == 200
