"""HTTP fixtures: the real app on real storage (both engines), and bearer tokens per role."""

from __future__ import annotations

import time
from collections.abc import Iterator
from typing import Any

import pytest
from fastapi.testclient import TestClient

from adapters.auth import issue_token
from adapters.http.app import build_context, create_app
from adapters.http.context import Context
from adapters.settings import Settings
from adapters.storage import Storage
from projections.runner import ProjectionRunner


class Api:
    """A test client that knows how to speak as each kind of user."""

    def __init__(self, client: TestClient, context: Context) -> None:
        self.client = client
        self.context = context
        self.secret = context.settings.token_key
        assert self.secret is not None

    def headers(self, role: str, agency: str, sub: str | None = None) -> dict[str, str]:
        token = issue_token(self.secret, sub=sub or f"{role}-{agency.lower()}", agency=agency, role=role)
        return {"Authorization": f"Bearer {token}"}

    def as_(self, role: str, agency: str, sub: str | None = None) -> Caller:
        return Caller(self.client, self.headers(role, agency, sub))

    @property
    def samordnare(self) -> Caller:
        return self.as_("samordnare", "SF")

    @property
    def granskare(self) -> Caller:
        return self.as_("granskare", "SF")

    @property
    def admin(self) -> Caller:
        return self.as_("admin", "SF")

    def handlaggare(self, agency: str) -> Caller:
        return self.as_("handlaggare", agency)


class Caller:
    """Requests with one user's token."""

    def __init__(self, client: TestClient, headers: dict[str, str]) -> None:
        self.client = client
        self.auth = headers

    def get(self, path: str, **kwargs: Any) -> Any:
        return self.client.get(path, headers={**self.auth, **kwargs.pop("headers", {})}, **kwargs)

    def post(self, path: str, json: Any = None, **kwargs: Any) -> Any:
        return self.client.post(path, json=json, headers={**self.auth, **kwargs.pop("headers", {})}, **kwargs)


def slowed(runner: ProjectionRunner, seconds: float) -> None:
    """Every projection batch takes `seconds` longer (a busy projection worker)."""
    for projection in runner.projections:
        process = projection.process

        def slow(events: Any, load: Any, process: Any = process) -> Any:
            time.sleep(seconds)
            return process(events, load)

        projection.process = slow  # type: ignore[method-assign]


@pytest.fixture
def context(settings: Settings, storage: Storage) -> Context:
    return build_context(settings, storage)


@pytest.fixture
def api(settings: Settings, context: Context) -> Iterator[Api]:
    with TestClient(create_app(settings, context=context), raise_server_exceptions=False) as client:
        yield Api(client, context)
