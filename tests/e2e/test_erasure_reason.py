"""An admin's erasure through HTTP carries a reason code from a fixed list; the event and the log entry keep it."""

from __future__ import annotations

from typing import Any
from uuid import UUID

from adapters.disclosure_log import ERASURE, LogFilter
from tests.e2e.conftest import Api
from tests.e2e.scenario import enrol


def erasures(api: Api, pid: str) -> list[dict[str, Any]]:
    return [e for e in api.context.log.entries(LogFilter(participant_id=UUID(pid))) if e["kind"] == ERASURE]


def test_an_admin_erasure_records_and_logs_its_reason(api: Api) -> None:
    pid = enrol(api)
    path = f"/api/v1/participants/{pid}/erasure"
    refused = api.admin.post(path, {"reason": "QXZFREETEXTMARK"})
    assert refused.status_code == 422, refused.text
    assert "QXZFREETEXTMARK" not in refused.text  # free text is neither stored nor echoed
    assert not api.context.service.get_case(UUID(pid)).is_erased and erasures(api, pid) == []

    assert api.admin.post(path, {"reason": "participant-request"}).status_code == 200
    case = api.context.service.get_case(UUID(pid))
    assert case.is_erased and case.erasure_reason == "participant-request"
    [entry] = erasures(api, pid)
    assert (entry["role"], entry["outcome"], entry["reason"], entry["details"]["party"]) == (
        "admin",
        "erased",
        "participant-request",
        None,
    )
    assert entry["details"]["erased_at"] == case.erased_at.isoformat()  # type: ignore[union-attr]

    # Asking again changes nothing and logs nothing more: the erasure is already recorded and logged.
    assert api.admin.post(path, {"reason": "admin-request"}).status_code == 200
    assert erasures(api, pid) == [entry]


def test_without_a_reason_an_erasure_is_an_admin_request(api: Api) -> None:
    pid = enrol(api)
    assert api.admin.post(f"/api/v1/participants/{pid}/erasure").status_code == 200
    assert api.context.service.get_case(UUID(pid)).erasure_reason == "admin-request"
    assert [e["reason"] for e in erasures(api, pid)] == ["admin-request"]
