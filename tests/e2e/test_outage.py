"""Storage down: requests answer 503 problem+json with Retry-After (never hang, never a stack trace), and the
service recovers when the database comes back. PostgreSQL is reached through a TCP relay the test cuts."""

from __future__ import annotations

import contextlib
import socket
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from urllib.parse import urlparse

import pytest
from fastapi.testclient import TestClient

from adapters.http.app import create_app
from adapters.settings import Settings
from tests.conftest import PG_URL, fixed_keys
from tests.e2e.conftest import Api
from tests.e2e.scenario import enrol


class Relay:
    """Forwards 127.0.0.1:port to the PostgreSQL server until cut."""

    def __init__(self, target: tuple[str, int]) -> None:
        self.target = target
        self.listener = socket.create_server(("127.0.0.1", 0))
        self.port = int(self.listener.getsockname()[1])
        self.sockets: list[socket.socket] = []
        self.running = True
        threading.Thread(target=self._accept, daemon=True).start()

    def _accept(self) -> None:
        while self.running:
            try:
                client, _ = self.listener.accept()
            except OSError:
                return
            upstream = socket.create_connection(self.target)
            self.sockets += [client, upstream]
            for a, b in ((client, upstream), (upstream, client)):
                threading.Thread(target=self._pump, args=(a, b), daemon=True).start()

    @staticmethod
    def _pump(source: socket.socket, sink: socket.socket) -> None:
        try:
            while data := source.recv(65536):
                sink.sendall(data)
        except OSError:
            pass
        finally:
            for s in (source, sink):
                with contextlib.suppress(OSError):
                    s.shutdown(socket.SHUT_RDWR)

    def cut(self) -> None:
        self.running = False
        with contextlib.suppress(OSError):
            self.listener.shutdown(socket.SHUT_RDWR)  # wakes the thread blocked in accept()
        self.listener.close()
        for s in self.sockets:
            with contextlib.suppress(OSError):
                s.shutdown(socket.SHUT_RDWR)
                s.close()

    def restore(self) -> None:
        self.listener = socket.create_server(("127.0.0.1", self.port))
        self.running = True
        threading.Thread(target=self._accept, daemon=True).start()


@pytest.fixture
def relay() -> Iterator[Relay]:
    parsed = urlparse(PG_URL)
    relay = Relay((parsed.hostname or "127.0.0.1", parsed.port or 5432))
    yield relay
    relay.cut()


@pytest.mark.postgres
def test_database_outage_answers_503_and_recovers(relay: Relay, pg_schema: str, tmp_path: Path) -> None:
    parsed = urlparse(PG_URL)
    user = parsed.username or "postgres"
    settings = Settings(
        database_url=f"postgresql://{user}@127.0.0.1:{relay.port}{parsed.path}?schema={pg_schema}",
        key_file=tmp_path / "keys.json",
        db_connect_timeout_s=1,
        db_pool_size=2,
        db_pool_max_overflow=0,
        **fixed_keys(),
    )
    with TestClient(create_app(settings), raise_server_exceptions=False) as client:
        api = Api(client, client.app.state.context)  # type: ignore[attr-defined]
        pid = enrol(api)
        assert client.get("/api/v1/health").status_code == 200

        relay.cut()
        started = time.monotonic()
        view = api.samordnare.get(f"/api/v1/participants/{pid}/view")
        health = client.get("/api/v1/health")
        elapsed = time.monotonic() - started
        assert view.status_code == 503, view.text
        assert view.json()["type"].endswith("/unavailable")
        assert view.headers["retry-after"]
        assert "Traceback" not in view.text
        assert health.status_code == 503
        assert elapsed < 20  # bounded by the connect timeout, not hanging

        relay.restore()
        deadline = time.monotonic() + 20
        while client.get("/api/v1/health").status_code != 200:
            assert time.monotonic() < deadline, "the service did not recover after the database came back"
            time.sleep(0.5)
        assert api.samordnare.get(f"/api/v1/participants/{pid}/view").status_code == 200
