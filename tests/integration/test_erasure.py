"""Erasure: the history stays, its personal data becomes unreadable and unfindable, and counts survive."""

from __future__ import annotations

import subprocess
from pathlib import Path

import pytest

from adapters.settings import Settings
from adapters.storage import Storage, open_storage
from projections import cases_by_year_and_gender
from tests.conftest import PG_URL
from tests.support import ANNA, enrol, fk_decision, grant_consent

SECRETS = [
    ANNA["personnummer"],
    ANNA["personnummer"].replace("-", ""),
    ANNA["given_name"],
    ANNA["family_name"],
    "Sjukpenning beviljad",
    "Samordnad rehabilitering",
]


def database_bytes(storage: Storage, settings: Settings, tmp_path: Path) -> bytes:
    """Everything the database holds: the SQLite file (with its WAL) or a pg_dump of the schema."""
    target = storage.target
    if target.engine == "sqlite":
        assert target.sqlite_path is not None
        files = [target.sqlite_path, Path(f"{target.sqlite_path}-wal")]
        return b"".join(f.read_bytes() for f in files if f.exists())
    dump = subprocess.run(
        ["pg_dump", "--no-owner", "--schema", target.schema, PG_URL],
        check=True,
        capture_output=True,
    )
    return dump.stdout


def found(haystack: bytes) -> list[str]:
    return [s for s in SECRETS if s.encode() in haystack or s.encode("utf-16-le") in haystack]


def test_personal_data_is_never_stored_in_clear_and_erasure_keeps_the_counts(
    storage: Storage, settings: Settings, tmp_path: Path
) -> None:
    service = storage.service
    case_id = enrol(service)
    grant_consent(service, case_id, ("FK", "SF", ["insurance"]))
    fk_decision(service, case_id)
    before = cases_by_year_and_gender(service)
    assert sum(before.values()) == 1

    assert found(database_bytes(storage, settings, tmp_path)) == []
    assert service.identity(service.get_case(case_id))["family_name"] == ANNA["family_name"]

    service.erase_personal_data(case_id, by="admin-1")

    assert found(database_bytes(storage, settings, tmp_path)) == []
    with open_storage(settings) as fresh:  # nothing cached: only what the database holds
        case = fresh.service.get_case(case_id)
        assert case.is_erased
        assert fresh.service.identity(case) == {}
        decision = next(iter(case.decisions.values()))
        assert fresh.vault.unseal(case_id, decision.summary) is None  # the key is gone, not just hidden
        assert fresh.service.find_by_personnummer(ANNA["personnummer"]) is None
        assert cases_by_year_and_gender(fresh.service) == before
        assert len(list(fresh.service.events.get(case_id))) == 4  # the history stays


def test_erasure_is_idempotent_and_blocks_new_entries(storage: Storage) -> None:
    from coordination import Conflict

    service = storage.service
    case_id = enrol(service)
    service.erase_personal_data(case_id, by="admin-1")
    service.erase_personal_data(case_id, by="admin-1")
    with pytest.raises(Conflict):
        grant_consent(service, case_id, ("FK", "SF", ["insurance"]))
    # The number is free again: the person can be enrolled anew as a new case.
    assert enrol(service) != case_id
