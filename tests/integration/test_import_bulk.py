"""Imports at bulk speed: batched recording through the gate (coordination/bulk.py), the batched lookups of the
read door, and a real `samverkan import decisions` killed with SIGKILL mid-run then run again; SQLite and
PostgreSQL."""

from __future__ import annotations

import json
import os
import random
import signal
import subprocess
import sys
import time
from datetime import date, timedelta
from pathlib import Path
from typing import Any
from uuid import UUID, uuid4

import pytest
import typer
from typer.testing import CliRunner

from adapters.disclosure_log import RECORDING_REFUSED, SEARCH, DisclosureLog, LogFilter
from adapters.importing import ImportFileError, default_rejects_path, import_decisions, import_decisions_command
from adapters.read_service import ReadService
from adapters.settings import Settings
from adapters.signing import ManifestSigner
from adapters.storage import Storage, open_storage
from coordination import (
    ConsentRequired,
    CoordinationService,
    DecisionOutcome,
    InvalidCommand,
    NotFound,
    NotPermitted,
)
from coordination.bulk import DecisionRow, record_decisions
from coordination.catalogue import normalised
from coordination.personnummer import fictitious_personnummer
from projections.store import ProjectionStore
from tests.conftest import fixed_keys
from tests.support import by_source_ref, enrol, grant_consent

SAMVERKAN = Path(sys.executable).with_name("samverkan")


def log_of(storage: Storage) -> DisclosureLog:
    return DisclosureLog(storage.service.factory.datastore)  # type: ignore[attr-defined]


def reads_of(storage: Storage) -> ReadService:
    store = ProjectionStore(storage.service.factory.datastore, storage.events_table)  # type: ignore[attr-defined]
    return ReadService(storage.service, log_of(storage), store, ManifestSigner(b"a" * 32))


def number(p: int) -> str:
    return fictitious_personnummer(date(1950, 1, 1) + timedelta(days=p), p % 100, gender="female" if p % 2 else "male")


def decision(case_id: UUID, ref: str, **overrides: Any) -> DecisionRow:
    fields: dict[str, Any] = {
        "category": "insurance",
        "decision_type": "sjukpenning",
        "effective_date": date(2026, 3, 2),
        "summary": "Beviljad på halvtid",
        "source_ref": ref,
    }
    return DecisionRow(case_id, **{**fields, **overrides})


def decision_events(service: CoordinationService, case_id: UUID) -> int:
    return sum(type(e).__name__ == "DecisionRecorded" for e in service.events.get(case_id))


def test_a_batch_judges_each_row_like_record_decision(storage: Storage) -> None:
    service = storage.service
    anna = enrol(service, personnummer=number(1))
    bo = enrol(service, personnummer=number(2))
    grant_consent(service, anna, ("FK", "SF", ["insurance"]))  # bo has no consent
    rows = [
        decision(anna, "FK-1"),
        decision(anna, "FK-2", decision_type="rehabiliteringsersättning"),
        decision(anna, "FK-1"),  # the same reference again, in the same batch: recorded once
        decision(bo, "FK-3"),  # the gate: no consent
        decision(anna, "FK-4", category="health", decision_type="sjukskrivning"),  # another agency's category
        decision(anna, "FK-5", decision_type="okänd typ"),  # not in the catalogue
        decision(anna, "FK-6", summary="   "),  # the strict text rule
        decision(uuid4(), "FK-7"),  # nobody
        decision(anna, "FK-8", attributes={"omfattning": 50, "dagar": 56}),
    ]

    outcomes = record_decisions(service, rows, by="handlaggare-fk", agency="FK")

    kinds = [type(o).__name__ if not isinstance(o, DecisionOutcome) else o.created for o in outcomes]
    expected = [True, True, False, "ConsentRequired", "NotPermitted", "InvalidCommand", "InvalidCommand"]
    assert kinds == [*expected, "NotFound", True]
    first, again = outcomes[0], outcomes[2]
    assert isinstance(first, DecisionOutcome) and isinstance(again, DecisionOutcome)
    assert again.id == first.id
    assert isinstance(outcomes[5], InvalidCommand) and outcomes[5].field == "decision_type"
    assert isinstance(outcomes[6], InvalidCommand) and outcomes[6].field == "summary"
    stored = by_source_ref(service, anna, [f"FK-{n}" for n in range(1, 9)])
    assert set(stored) == {"FK-1", "FK-2", "FK-8"}
    assert stored["FK-8"].attributes == {"omfattning": 50, "dagar": 56}
    assert all(d.allowed_by is not None for d in stored.values())
    assert service.vault.unseal(anna, stored["FK-1"].summary) == "Beviljad på halvtid"
    assert service.get_case(bo).decisions == {}
    # The single path agrees: each refused row is refused the same way, and a re-run stores nothing.
    with pytest.raises(ConsentRequired):
        service.record_decision(bo, by="h", agency="FK", **_fields(rows[3]))
    with pytest.raises(NotPermitted):
        service.record_decision(anna, by="h", agency="FK", **_fields(rows[4]))
    with pytest.raises(NotFound):
        service.record_decision(rows[7].case_id, by="h", agency="FK", **_fields(rows[7]))
    again_outcomes = record_decisions(service, rows, by="handlaggare-fk", agency="FK")
    assert [o.created for o in again_outcomes if isinstance(o, DecisionOutcome)] == [False] * 4
    assert decision_events(service, anna) == 3


def _fields(row: DecisionRow) -> dict[str, Any]:
    return {
        "category": row.category,
        "decision_type": row.decision_type,
        "effective_date": row.effective_date,
        "summary": row.summary,
        "source_ref": row.source_ref,
    }


def test_a_batch_never_decides_on_a_stale_case(settings: Settings, storage: Storage) -> None:
    """Another process changes the cases this one has cached: a withdrawal makes the batch's save conflict and the
    rows are judged again on the newest version (refused); a consent just recorded there is not refused here."""
    service = storage.service
    withdrawn = enrol(service, personnummer=number(3))
    consent = grant_consent(service, withdrawn, ("FK", "SF", ["insurance"]))
    granted = enrol(service, personnummer=number(4))
    # This process caches both cases as they are now (with and without consent).
    first = record_decisions(service, [decision(withdrawn, "FK-10"), decision(granted, "FK-11")], by="h", agency="FK")
    assert isinstance(first[0], DecisionOutcome) and isinstance(first[1], ConsentRequired)

    with open_storage(settings) as other:  # another process on the same database
        other.service.withdraw_consent(withdrawn, consent, by="samordnare-2")
        grant_consent(other.service, granted, ("FK", "SF", ["insurance"]))

    outcomes = record_decisions(
        service, [decision(withdrawn, "FK-12"), decision(granted, "FK-13")], by="h", agency="FK"
    )

    assert isinstance(outcomes[0], ConsentRequired)
    assert isinstance(outcomes[1], DecisionOutcome) and outcomes[1].created
    assert set(by_source_ref(service, withdrawn, ["FK-10", "FK-12"])) == {"FK-10"}
    assert set(by_source_ref(service, granted, ["FK-11", "FK-13"])) == {"FK-13"}


def test_lookups_are_logged_once_per_batch(storage: Storage, tmp_path: Path) -> None:
    service = storage.service
    ids = [enrol(service, personnummer=number(p), given_name=f"P{p}") for p in range(6)]
    for case_id in ids[:5]:
        grant_consent(service, case_id, ("FK", "SF", ["insurance"]))
    # ids[5] has no consent and FK has no part in the case: its number answers as if nobody had it.
    unknown = number(99)
    lines = []
    for i in range(12):
        p = i % 5
        lines.append({"personnummer": number(p), "source_ref": f"FK-{i}"})
    lines.insert(3, {"personnummer": number(5), "source_ref": "FK-unrelated"})
    lines.insert(8, {"personnummer": unknown, "source_ref": "FK-unknown"})
    path = tmp_path / "fk.jsonl"
    base = {"category": "insurance", "decision_type": "sjukpenning", "effective_date": "2026-03-02", "summary": "x"}
    path.write_text("".join(json.dumps({**base, **row}) + "\n" for row in lines), encoding="utf-8")

    summary = import_decisions(reads_of(storage), path, agency="FK", user_id="u1", batch_size=7)

    assert (summary.read, summary.recorded, summary.rejected) == (14, 12, 2)
    rejects = [json.loads(line) for line in summary.rejects_path.read_text(encoding="utf-8").splitlines()]
    assert [(r["line"], r["reason"], r["detail"]) for r in rejects] == [
        (4, "not-found", rejects[0]["detail"]),
        (9, "not-found", rejects[0]["detail"]),  # the same answer: no oracle
    ]
    searches = [e for e in log_of(storage).entries() if e["kind"] == SEARCH]
    # Batch 1 (lines 1-7) finds participants 0-4 and refuses the unrelated one; batch 2 (lines 8-14) finds nobody
    # new (known from batch 1, not looked up again) and logs the unknown number.
    assert [(e["outcome"], e["reason"]) for e in searches] == [
        ("disclosed", None),
        ("refused", "no-relation"),
        ("not-found", None),
    ]
    assert set(searches[0]["details"]["subjects"]) == {str(i) for i in ids[:5]}
    assert searches[0]["details"]["found"] == 5
    assert searches[1]["participant_id"] == str(ids[5]) and searches[1]["details"] == {"line": 4}
    assert searches[2]["participant_id"] is None and searches[2]["details"] == {"line": 9}
    for case_id in ids[:5]:
        assert searches[0]["seq"] in [e["seq"] for e in log_of(storage).entries(LogFilter(participant_id=case_id))]
    text = json.dumps(searches, ensure_ascii=False)
    for p in (*range(6), 99):
        assert number(p) not in text and number(p).replace("-", "") not in text


def test_refusals_of_a_batch_are_logged_together(storage: Storage, tmp_path: Path) -> None:
    service = storage.service
    ids = [enrol(service, personnummer=number(p)) for p in range(3)]
    grant_consent(service, ids[0], ("FK", "SF", ["insurance"]))
    for case_id in ids[1:]:
        grant_consent(service, case_id, ("SF", "FK", ["coordination"]))  # FK has a part, but may not record
    base = {"category": "insurance", "decision_type": "sjukpenning", "effective_date": "2026-03-02", "summary": "x"}
    rows = [{**base, "participant_id": str(case_id), "source_ref": f"FK-{n}"} for n, case_id in enumerate(ids)]
    path = tmp_path / "fk.jsonl"
    path.write_text("".join(json.dumps(row) + "\n" for row in rows), encoding="utf-8")

    summary = import_decisions(reads_of(storage), path, agency="FK", user_id="u1")

    assert (summary.recorded, summary.rejected) == (1, 2)
    refused = [e for e in log_of(storage).entries() if e["kind"] == RECORDING_REFUSED]
    assert [(e["participant_id"], e["reason"], e["details"]["line"]) for e in refused] == [
        (str(ids[1]), "consent-required", 2),
        (str(ids[2]), "consent-required", 3),
    ]
    assert refused[0]["details"]["missing_grant"] == "FK -> SF: insurance"


# -- killed mid-run, run again ------------------------------------------------------------------------------------

PARTICIPANTS = 30
ROWS = 2400


def write_export(path: Path, ids: list[UUID]) -> dict[str, tuple[int, str]]:
    """ROWS decisions over the participants (by personnummer, every seventh by id), shuffled; a few rows are for
    the participant without consent. Returns the recordable rows: source_ref -> (participant index, type)."""
    rng = random.Random(7)
    good: dict[str, tuple[int, str]] = {}
    lines = []
    for i in range(ROWS):
        p = i % PARTICIPANTS
        kind = ("sjukpenning", "rehabiliteringsersättning", "avstämningsmöte")[i % 3]
        ref = f"FK-K-{i:05d}"
        row: dict[str, Any] = {
            "category": "insurance",
            "decision_type": kind,
            "effective_date": "2026-04-01",
            "summary": f"Beslut nummer {i}",
            "source_ref": ref,
        }
        row |= {"participant_id": str(ids[p])} if i % 7 == 0 else {"personnummer": number(p)}
        lines.append(json.dumps(row, ensure_ascii=False))
        if p != 0:  # participant 0 gave no consent: its rows are rejected, every run
            good[ref] = (p, kind)
    rng.shuffle(lines)
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return good


def command_env(settings: Settings, tmp_path: Path) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("SAMVERKAN_")}
    env |= {"SAMVERKAN_DATABASE_URL": settings.database_url, "SAMVERKAN_KEY_FILE": str(tmp_path / "keys.json")}
    env |= {f"SAMVERKAN_{name.upper()}": value for name, value in fixed_keys().items()}
    return env


def run_import(path: Path, env: dict[str, str], *, kill_after_events: int | None, storage: Storage) -> str | None:
    """Runs `samverkan import decisions`; with `kill_after_events`, SIGKILLs it as soon as the log of events has
    grown that far (a batch or more committed), at a random moment after. Returns its stdout when it ran out."""
    command = [str(SAMVERKAN), "import", "decisions", str(path), "--agency", "FK", "--user", "u-fk", "--batch-size"]
    process = subprocess.Popen([*command, "40"], env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    if kill_after_events is None:
        out, err = process.communicate(timeout=600)
        assert process.returncode == 1, err  # the rows of the participant without consent are rejected
        return out
    recorder = storage.service.recorder
    deadline = time.monotonic() + 300
    while (recorder.max_notification_id() or 0) < kill_after_events:
        assert process.poll() is None, "the import ended before it could be killed"
        assert time.monotonic() < deadline
        time.sleep(0.005)
    time.sleep(random.uniform(0, 0.2))  # somewhere in a batch: reading, looking up, judging or committing
    assert process.poll() is None, "the import ended before it could be killed"
    process.send_signal(signal.SIGKILL)
    process.communicate(timeout=60)
    assert process.returncode == -signal.SIGKILL
    return None


def test_killed_import_run_again_stores_nothing_twice_and_loses_nothing(
    settings: Settings, storage: Storage, tmp_path: Path
) -> None:
    assert SAMVERKAN.exists()
    service = storage.service
    ids = [enrol(service, personnummer=number(p), given_name=f"P{p}") for p in range(PARTICIPANTS)]
    for case_id in ids[1:]:
        grant_consent(service, case_id, ("FK", "SF", ["insurance"]))
    path = tmp_path / "fk-export.jsonl"
    good = write_export(path, ids)
    env = command_env(settings, tmp_path)
    start = service.recorder.max_notification_id() or 0

    run_import(path, env, kill_after_events=start + 40, storage=storage)  # killed after its first batch or more
    after_first = service.recorder.max_notification_id() or 0
    run_import(path, env, kill_after_events=after_first + 200, storage=storage)  # killed again, further on
    stored_before = sum(decision_events(service, case_id) for case_id in ids)
    assert 0 < stored_before < len(good), "the kills should leave the import part-way"

    out = run_import(path, env, kill_after_events=None, storage=storage)

    assert out is not None
    counts = {
        line.split("│")[1].strip(): int(line.split("│")[2])
        for line in out.splitlines()
        if line.count("│") == 3 and line.split("│")[2].strip().isdigit()
    }
    assert counts["read"] == ROWS
    # What the killed runs committed counts as already recorded (PostgreSQL may still finish the commit a killed
    # client had sent after the count above: at least that many), the rest is recorded now; nothing twice.
    already = counts["already recorded (same source_ref)"]
    assert stored_before <= already < len(good)
    assert counts["recorded now"] == len(good) - already
    assert counts["rejected"] == ROWS - len(good)
    # Compared with the file: every recordable row is stored once, on its participant, with its type; nothing else.
    for p, case_id in enumerate(ids):
        expected = {ref: kind for ref, (owner, kind) in good.items() if owner == p}
        found = by_source_ref(service, case_id, expected)
        assert set(found) == set(expected)
        assert {ref: d.decision_type for ref, d in found.items()} == {
            ref: normalised(kind) for ref, kind in expected.items()
        }
        assert decision_events(service, case_id) == len(expected)
        assert len(service.get_case(case_id).decisions) == len(expected)
    # And once more: nothing new.
    again = run_import(path, env, kill_after_events=None, storage=storage)
    assert again is not None and "recorded now" in again
    assert sum(decision_events(service, case_id) for case_id in ids) == len(good)


def test_batch_size_is_checked(storage: Storage, tmp_path: Path) -> None:
    path = tmp_path / "fk.jsonl"
    path.write_text("", encoding="utf-8")
    with pytest.raises(ImportFileError, match="batch size"):
        import_decisions(reads_of(storage), path, agency="FK", user_id="u1", batch_size=0)
    app = typer.Typer()
    app.command()(import_decisions_command)
    refused = CliRunner().invoke(app, [str(path), "--agency", "FK", "--batch-size", "0"])
    assert refused.exit_code == 2
    assert not default_rejects_path(path).exists()
