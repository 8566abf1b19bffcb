"""Anchors outside the database (adapters/anchors.py), on real SQLite and PostgreSQL: whoever owns the database can
switch the triggers off and rewrite the log so that its chain checks again; `verify` alone then says ok (the gap),
and with an anchor written before the rewrite it names what was done. Forged anchor files are refused."""

from __future__ import annotations

import base64
import json
import os
import threading
from pathlib import Path
from typing import Any

import pytest
from typer.testing import CliRunner

from adapters.anchors import AnchorError, Anchoring, AnchorStore
from adapters.cli import _cli_granskare
from adapters.cli import app as cli_app
from adapters.disclosure_log import EXPORT, GENESIS_HASH, VERIFY, DisclosureLog, LogFilter, canonical, entry_hash
from adapters.read_service import open_read_service
from adapters.settings import Settings
from adapters.signing import ManifestSigner
from adapters.storage import Storage
from tests.conftest import fixed_keys
from tests.integration.test_disclosure_log import RawDatabase, fill, raw_database, says


@pytest.fixture
def log(storage: Storage) -> DisclosureLog:
    return DisclosureLog(storage.service.factory.datastore)  # type: ignore[attr-defined]


@pytest.fixture
def anchor_dir(tmp_path: Path) -> Path:
    return tmp_path / "anchor-copies"


@pytest.fixture
def anchors(log: DisclosureLog, settings: Settings, anchor_dir: Path) -> AnchorStore:
    return AnchorStore(log, ManifestSigner(settings.audit_key), anchor_dir)


# -- tampering as the database's owner would -------------------------------------------------------------------


def rechain_from(raw: RawDatabase, first: int) -> None:
    """Changes entry `first` and recomputes every hash after it (bodies, hash and prev_hash columns, the head):
    a rewrite the chain alone cannot see."""
    raw.unlock()
    last = raw.execute("SELECT seq FROM disclosure_log_head")[0][0]
    prev = raw.body(first - 1)["hash"] if first > 1 else GENESIS_HASH
    for seq in range(first, last + 1):
        body = raw.body(seq)
        if seq == first:
            body["purpose"] = "forged"
            body["disclosed"] = []
            body["categories"] = []
        body["prev_hash"] = prev
        body["hash"] = entry_hash(body)
        raw.execute(
            "UPDATE disclosure_log SET body = ?, hash = ?, prev_hash = ? WHERE seq = ?",
            (canonical(body).decode(), body["hash"], prev, seq),
        )
        prev = body["hash"]
    raw.execute("UPDATE disclosure_log_head SET hash = ? WHERE id = 1", (prev,))


def cut_after(raw: RawDatabase, last: int) -> None:
    """Deletes the entries after `last` and sets the head to `last`, so the shorter log checks."""
    raw.unlock()
    raw.execute("DELETE FROM disclosure_log WHERE seq > ?", (last,))
    head_hash = raw.body(last)["hash"] if last else GENESIS_HASH
    raw.execute("UPDATE disclosure_log_head SET seq = ?, hash = ? WHERE id = 1", (last, head_hash))


def test_an_anchor_is_the_signed_head_in_a_file_of_its_own(anchors: AnchorStore, log: DisclosureLog) -> None:
    fill(log, 5)
    path, anchor = anchors.anchor()
    assert path.parent == anchors.directory
    assert path.name.startswith("anchor-000000000005-") and path.suffix == ".json"
    stored = json.loads(path.read_text())
    assert stored == anchor
    assert {k: stored[k] for k in ("seq", "hash", "entries", "key_id")} == {
        "seq": 5,
        "hash": log.head()[1],
        "entries": 5,
        "key_id": anchors.signer.key_id,
    }
    assert [p.name for p in path.parent.iterdir()] == [path.name]  # no temporary file left
    second, _ = anchors.anchor()  # the same head again: a new file, the first untouched
    assert second != path and path.read_text() == json.dumps(anchor, indent=2)
    result = anchors.check(log.verify())
    assert result.ok and result.anchors is not None and result.anchors["checked"] == 2


def test_an_anchor_file_is_never_overwritten(anchors: AnchorStore, log: DisclosureLog, monkeypatch: Any) -> None:
    fill(log, 2)
    path, _ = anchors.anchor()
    before = path.read_bytes()

    def same_name(*_: Any) -> Any:
        raise FileExistsError(path)

    monkeypatch.setattr(os, "link", same_name)
    with pytest.raises(AnchorError, match="not overwritten"):
        anchors.anchor()
    assert path.read_bytes() == before
    assert sorted(p.name for p in path.parent.iterdir()) == [path.name]


def test_a_re_chained_log_checks_alone_but_not_against_the_anchor(
    storage: Storage, log: DisclosureLog, anchors: AnchorStore
) -> None:
    fill(log, 4)
    early, _ = anchors.anchor()  # entries 1..4 as they were
    fill(log, 6)
    anchors.anchor()  # entries 1..10
    with raw_database(storage) as raw:
        rechain_from(raw, 7)
    chain = log.verify()
    assert chain.as_dict() == {"ok": True, "entries": 10}  # the gap: the chain alone sees nothing
    result = anchors.check(chain)
    assert (result.ok, result.first_bad_seq) == (False, 10)
    says(result.reason, "rewritten", "entry 10", "differs from the anchor of", "entries up to 4 match")
    assert result.as_dict()["reason"] == result.reason and early.exists()


def test_a_log_cut_and_given_a_new_head_is_named_with_where_it_ends(
    storage: Storage, log: DisclosureLog, anchors: AnchorStore
) -> None:
    fill(log, 9)
    anchors.anchor()
    with raw_database(storage) as raw:
        cut_after(raw, 6)
    chain = log.verify()
    assert chain.as_dict() == {"ok": True, "entries": 6}
    result = anchors.check(chain)
    assert (result.ok, result.first_bad_seq) == (False, 7)
    says(result.reason, "the log ends at entry 6", "names entry 9", "removed")


def test_a_log_cut_and_written_on_past_the_anchor_is_named_as_rewritten(
    storage: Storage, log: DisclosureLog, anchors: AnchorStore
) -> None:
    fill(log, 6)
    anchors.anchor()
    with raw_database(storage) as raw:
        cut_after(raw, 3)
    fill(log, 5)  # new entries 4..8: the head is past the anchor again
    assert log.verify().ok
    result = anchors.check(log.verify())
    assert (result.ok, result.first_bad_seq) == (False, 6)
    says(result.reason, "rewritten", "entry 6")


def test_an_emptied_and_reset_log_is_named_as_emptied(
    storage: Storage, log: DisclosureLog, anchors: AnchorStore
) -> None:
    fill(log, 5)
    anchors.anchor()
    with raw_database(storage) as raw:
        cut_after(raw, 0)
    chain = log.verify()
    assert chain.as_dict() == {"ok": True, "entries": 0}
    result = anchors.check(chain)
    assert (result.ok, result.first_bad_seq) == (False, 1)
    says(result.reason, "the log is empty", "names entry 5", "emptied")


def test_a_forged_or_altered_anchor_file_is_refused(
    log: DisclosureLog, anchors: AnchorStore, settings: Settings, anchor_dir: Path
) -> None:
    fill(log, 5)
    path, anchor = anchors.anchor()
    assert anchors.check(log.verify()).ok
    # Altered: the seq and hash of another entry, the signature kept.
    path.write_text(json.dumps({**anchor, "seq": 3, "hash": log.entry(3)["hash"]}))  # type: ignore[index]
    result = anchors.check(log.verify())
    assert (result.ok, result.first_bad_seq) == (False, 3)
    says(result.reason, path.name, "not signed by the audit key", "forged")
    # Forged: made and signed with another key, as someone with the database and not the audit key would.
    path.unlink()
    foreign = AnchorStore(log, ManifestSigner(b"f" * 32), anchor_dir)
    forged, _ = foreign.anchor()
    result = anchors.check(log.verify())
    assert result.ok is False
    says(result.reason, forged.name, "not signed by the audit key")
    forged.write_text("not json")
    says(anchors.check(log.verify()).reason, forged.name, "not signed")


def test_without_an_anchor_directory_verify_says_no_anchor_was_checked(
    log: DisclosureLog, anchors: AnchorStore, settings: Settings
) -> None:
    fill(log, 3)
    result = anchors.check(log.verify())
    assert result.ok is True
    assert result.anchors is not None and result.anchors["checked"] == 0
    says(result.anchors["note"], "does not exist", "no anchor was checked")
    anchors.directory.mkdir()  # type: ignore[union-attr]
    says(anchors.check(log.verify()).as_dict()["anchors"]["note"], "no anchor was checked")
    none = AnchorStore(log, anchors.signer, None)
    assert none.check(log.verify()).as_dict() == {
        "ok": True,
        "entries": 3,
        "anchors": {"checked": 0, "note": "no anchor directory is configured: no anchor was checked"},
    }
    with pytest.raises(AnchorError, match="SAMVERKAN_ANCHOR_DIR"):
        none.anchor()


def test_a_failing_chain_is_named_before_the_anchors(
    storage: Storage, log: DisclosureLog, anchors: AnchorStore
) -> None:
    fill(log, 5)
    anchors.anchor()
    with raw_database(storage) as raw:
        raw.unlock()
        raw.execute("DELETE FROM disclosure_log WHERE seq = 2")
    result = anchors.check(log.verify())
    assert (result.ok, result.first_bad_seq) == (False, 2)
    says(result.reason, "entry 2", "missing")


def test_anchoring_runs_periodically_while_the_head_moves(log: DisclosureLog, anchors: AnchorStore) -> None:
    fill(log, 2)
    periodic = Anchoring(anchors, 0.05)
    periodic.start()
    try:
        deadline = threading.Event()
        for _ in range(100):
            if anchors.directory is not None and anchors.directory.is_dir() and any(anchors.directory.iterdir()):
                break
            deadline.wait(0.05)
        fill(log, 1)
        for _ in range(100):
            if len(list(anchors.directory.glob("anchor-*.json"))) >= 2:  # type: ignore[union-attr]
                break
            deadline.wait(0.05)
    finally:
        periodic.stop()
    seqs = sorted(json.loads(p.read_text())["seq"] for p in anchors.directory.glob("anchor-*.json"))  # type: ignore[union-attr]
    assert seqs == [2, 3]  # once per head: an idle log is not anchored again and again


# -- through the read door and the command line ---------------------------------------------------------------


def cli_env(settings: Settings, anchor_dir: Path) -> dict[str, str]:
    env = {f"SAMVERKAN_{name.upper()}": value for name, value in fixed_keys().items()}
    env["SAMVERKAN_DATABASE_URL"] = settings.database_url
    env["SAMVERKAN_KEY_FILE"] = str(settings.key_file)
    env["SAMVERKAN_ANCHOR_DIR"] = str(anchor_dir)
    return env


def test_cli_anchors_on_demand_and_verify_names_the_rewrite(
    storage: Storage, log: DisclosureLog, settings: Settings, anchor_dir: Path
) -> None:
    fill(log, 8)
    env = cli_env(settings, anchor_dir)
    made = CliRunner().invoke(cli_app, ["audit", "anchor"], env=env)
    assert made.exit_code == 0, made.output
    written = json.loads(made.stdout)
    assert (written["seq"], written["hash"]) == (8, log.head()[1])
    assert Path(written["file"]).parent == anchor_dir
    checked = CliRunner().invoke(cli_app, ["audit", "verify"], env=env)
    assert checked.exit_code == 0, checked.output
    assert json.loads(checked.stdout)["anchors"]["checked"] == 1
    with raw_database(storage) as raw:
        rechain_from(raw, 3)  # every entry from 3 on, including the verify just logged
    refused = CliRunner().invoke(cli_app, ["audit", "verify"], env=env)
    assert refused.exit_code == 1, refused.output
    verdict = json.loads(refused.stdout)
    assert (verdict["ok"], verdict["first_bad_seq"]) == (False, 8)
    says(verdict["reason"], "rewritten", "entry 8")
    # The refusal is itself logged, with what was found.
    own = list(log.entries(LogFilter(kinds=(VERIFY,))))[-1]
    assert own["details"]["ok"] is False


def test_an_export_writes_an_anchor_and_verify_through_the_door_checks_it(
    storage: Storage, log: DisclosureLog, settings: Settings, anchor_dir: Path
) -> None:
    fill(log, 4)
    configured = settings.model_copy(update={"anchor_dir": anchor_dir})
    reads = open_read_service(storage, configured)
    exported = reads.export(_cli_granskare(), LogFilter(), "jsonl")
    assert list(exported.entries)[-1]["kind"] == EXPORT
    (path,) = anchor_dir.glob("anchor-*.json")
    assert json.loads(path.read_text())["seq"] == exported.last_seq == 5
    assert reads.verify(_cli_granskare()).as_dict()["anchors"]["checked"] == 1
    with raw_database(storage) as raw:
        cut_after(raw, 2)
    result = reads.verify(_cli_granskare())
    assert (result.ok, result.first_bad_seq) == (False, 3)
    says(result.reason, "the log ends at entry 2", "names entry 5")


def test_without_the_setting_anchors_go_beside_a_sqlite_file_and_nowhere_on_postgresql(
    storage: Storage, settings: Settings
) -> None:
    from adapters.anchors import anchor_dir_of

    found = anchor_dir_of(settings, storage.target)
    if storage.target.engine == "sqlite":
        assert storage.target.sqlite_path is not None
        assert found == storage.target.sqlite_path.parent / "anchors"
    else:
        assert found is None
    assert base64.b64decode(fixed_keys()["audit_signing_key"]) == settings.audit_key
