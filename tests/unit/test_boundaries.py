"""The domain packages stay pure: no adapters or projections, no sockets, no environment."""

from __future__ import annotations

import ast
import os
import socket
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import date
from pathlib import Path
from typing import Any, NoReturn

import pytest

ROOT = Path(__file__).resolve().parents[2]
DOMAIN_PACKAGES = ("consent", "coordination")
ALLOWED_IMPORTS = {
    "consent": {"consent", "pydantic"},
    "coordination": {"consent", "coordination", "eventsourcing"},
}
FORBIDDEN_NAMES = {"environ", "getenv", "putenv", "socket", "urlopen"}


def imported_modules(tree: ast.AST) -> Iterator[str]:
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            yield from (alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            yield node.module


def stdlib_modules() -> frozenset[str]:
    import sys

    return frozenset(sys.stdlib_module_names)


@pytest.mark.parametrize("package", DOMAIN_PACKAGES)
def test_domain_packages_import_only_inwards(package: str) -> None:
    stdlib = stdlib_modules() - {"socket", "ssl", "http", "urllib", "sqlite3", "subprocess", "asyncio"}
    offenders = []
    for path in sorted((ROOT / package).rglob("*.py")):
        for module in imported_modules(ast.parse(path.read_text(), str(path))):
            top = module.split(".")[0]
            if top not in ALLOWED_IMPORTS[package] and top not in stdlib:
                offenders.append(f"{path.relative_to(ROOT)} imports {module}")
    assert offenders == []


@pytest.mark.parametrize("package", DOMAIN_PACKAGES)
def test_domain_packages_name_no_environment_or_socket_api(package: str) -> None:
    offenders = []
    for path in sorted((ROOT / package).rglob("*.py")):
        for node in ast.walk(ast.parse(path.read_text(), str(path))):
            name = node.attr if isinstance(node, ast.Attribute) else node.id if isinstance(node, ast.Name) else None
            if name in FORBIDDEN_NAMES:
                offenders.append(f"{path.relative_to(ROOT)}:{node.lineno} uses {name}")
    assert offenders == []


class _GuardedEnviron(dict[str, str]):
    def _refuse(self, *_: Any, **__: Any) -> NoReturn:
        raise AssertionError("the domain read the environment")

    __getitem__ = get = __contains__ = keys = items = values = __iter__ = copy = _refuse  # type: ignore[assignment]


@contextmanager
def no_environment_and_no_network(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    def refuse_socket(*_: Any, **__: Any) -> NoReturn:
        raise AssertionError("the domain opened a socket")

    with monkeypatch.context() as patch:
        patch.setattr(os, "environ", _GuardedEnviron())
        patch.setattr(socket, "socket", refuse_socket)
        patch.setattr(socket, "create_connection", refuse_socket)
        yield


def test_a_whole_case_runs_with_no_environment_and_no_network(monkeypatch: pytest.MonkeyPatch) -> None:
    from adapters.keystores import MemoryKeyStore
    from adapters.vault import Vault
    from coordination import CoordinationService
    from tests.support import enrol, fk_decision, grant_consent

    vault = Vault(b"m" * 32, b"l" * 32, store=MemoryKeyStore())
    with no_environment_and_no_network(monkeypatch):
        service = CoordinationService({"PERSISTENCE_MODULE": "eventsourcing.popo"}, vault=vault)
        case_id = enrol(service)
        consent_id = grant_consent(service, case_id, ("FK", "SF", ["insurance"]), ("FK", "AF", ["insurance"]))
        fk_decision(service, case_id)
        service.withdraw_consent(case_id, consent_id, by="s", grants=[("FK", "AF", ["insurance"])])
        service.close_case(case_id, by="s", outcome="studies", closed_date=date(2026, 11, 20))
        case = service.get_case(case_id)
        assert len(service.visible_decisions(case, "SF")) == 1
        assert service.visible_decisions(case, "AF") == []
