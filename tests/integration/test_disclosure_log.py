"""The disclosure log on real SQLite and PostgreSQL: the hash chain, the database's refusal of changes, tamper
detection by verify(), concurrent appends, filters, and the exports with their signed manifest."""

from __future__ import annotations

import hashlib
import itertools
import json
import sqlite3
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime, timedelta, timezone
from typing import Any
from uuid import UUID, uuid4

import psycopg
import pytest

from adapters import disclosure_log
from adapters.audit_export import build_manifest, entries_from_text, lines, verify_export
from adapters.disclosure_log import (
    EXPORT,
    GENESIS_HASH,
    RECORDING_REFUSED,
    VIEW,
    VIEW_REFUSED,
    Actor,
    Disclosed,
    DisclosureLog,
    EntryDraft,
    LogFilter,
    canonical,
    entry_hash,
)
from adapters.settings import Settings
from adapters.signing import ManifestSigner
from adapters.storage import Storage
from tests.conftest import PG_URL

FORMATS = ["jsonl", "csv"]


# -- helpers ---------------------------------------------------------------------------------------------------


def draft(
    n: int,
    *,
    user: str = "handlaggare-fk",
    agency: str = "FK",
    participant: UUID | None = None,
    kind: str = VIEW,
) -> EntryDraft:
    """A view (or other kind) of entry number `n`, disclosing one event of `agency`'s insurance category."""
    refused = kind in (VIEW_REFUSED, RECORDING_REFUSED)
    return EntryDraft(
        kind,
        Actor(user, agency, "handlaggare"),
        f"req-{n}",
        "handlaggning",
        participant_id=participant,
        disclosed=[] if refused else [Disclosed(uuid4(), agency, "insurance", uuid4(), 2)],
        outcome="refused" if refused else "disclosed",
        reason="nothing-visible" if refused else None,
        details={"n": n},
    )


def fill(log: DisclosureLog, count: int) -> list[dict[str, Any]]:
    """Appends `count` entries alternating between two users of two agencies and two participants."""
    people = [uuid4(), uuid4()]
    users = [("handlaggare-fk", "FK"), ("handlaggare-af", "AF")]
    appended = []
    for n in range(count):
        user, agency = users[n % 2]
        appended.append(log.append(draft(n, user=user, agency=agency, participant=people[(n // 2) % 2])))
    return appended


def says(reason: str | None, *phrases: str) -> None:
    """The reason is there and mentions each phrase (wording may be refined; these facts must stay)."""
    assert reason, reason
    for phrase in phrases:
        assert phrase.lower() in reason.lower(), (phrase, reason)


@pytest.fixture
def log(storage: Storage) -> DisclosureLog:
    return DisclosureLog(storage.service.factory.datastore)  # type: ignore[attr-defined]


class RawDatabase:
    """A separate connection to the fixture's database, acting as a superuser with direct access would."""

    def __init__(self, storage: Storage) -> None:
        self.postgres = storage.target.engine == "postgres"
        self.connection: Any
        if self.postgres:
            self.connection = psycopg.connect(PG_URL, autocommit=True)
            self.connection.execute(f'SET search_path TO "{storage.target.schema}"')
        else:
            self.connection = sqlite3.connect(storage.target.sqlite_path, isolation_level=None, timeout=10)

    def execute(self, statement: str, params: tuple[Any, ...] = ()) -> list[tuple[Any, ...]]:
        """Runs one statement written with `?` placeholders; returns its rows (if any)."""
        if self.postgres:
            cursor = self.connection.execute(statement.replace("?", "%s"), params)
            return cursor.fetchall() if cursor.description else []
        return self.connection.execute(statement, params).fetchall()

    def unlock(self) -> None:
        """Takes away the append-only triggers, as only someone with full control of the database can."""
        if self.postgres:
            self.execute("ALTER TABLE disclosure_log DISABLE TRIGGER ALL")
        else:
            self.execute("DROP TRIGGER disclosure_log_no_update")
            self.execute("DROP TRIGGER disclosure_log_no_delete")

    def body(self, seq: int) -> dict[str, Any]:
        loaded: dict[str, Any] = json.loads(self.execute("SELECT body FROM disclosure_log WHERE seq = ?", (seq,))[0][0])
        return loaded

    def set_body(self, seq: int, body: dict[str, Any]) -> None:
        self.execute("UPDATE disclosure_log SET body = ? WHERE seq = ?", (canonical(body).decode(), seq))

    def close(self) -> None:
        self.connection.close()


@contextmanager
def raw_database(storage: Storage) -> Iterator[RawDatabase]:
    raw = RawDatabase(storage)
    try:
        yield raw
    finally:
        raw.close()


# -- the chain -------------------------------------------------------------------------------------------------


def test_appended_entries_are_numbered_from_one_and_each_links_to_the_one_before(log: DisclosureLog) -> None:
    appended = fill(log, 7)
    stored = list(log.entries())
    assert stored == appended
    assert [e["seq"] for e in stored] == list(range(1, 8))
    assert stored[0]["prev_hash"] == GENESIS_HASH
    for before, after in itertools.pairwise(stored):
        assert after["prev_hash"] == before["hash"]
    for entry in stored:
        assert entry["hash"] == entry_hash(entry)
        assert entry["hash"] == hashlib.sha256(canonical({k: v for k, v in entry.items() if k != "hash"})).hexdigest()
    assert log.head() == (7, stored[-1]["hash"])
    result = log.verify()
    assert (result.ok, result.entries, result.first_bad_seq) == (True, 7, None)
    assert result.as_dict() == {"ok": True, "entries": 7}


def test_an_empty_log_verifies(log: DisclosureLog) -> None:
    assert log.verify().as_dict() == {"ok": True, "entries": 0}
    assert log.head() == (0, GENESIS_HASH)


def test_an_entry_keeps_who_what_and_under_which_consent_but_no_names(log: DisclosureLog) -> None:
    participant, consent_id, event_id = uuid4(), uuid4(), uuid4()
    as_of = datetime(2026, 3, 1, 12, tzinfo=UTC)
    entry = log.append(
        EntryDraft(
            VIEW,
            Actor("handlaggare-af", "AF", "handlaggare"),
            "req-1",
            "handlaggning",
            participant_id=participant,
            disclosed=[
                Disclosed(event_id, "FK", "insurance", consent_id, 3),
                Disclosed("plan-1", "SF", "coordination", None, None),
            ],
            as_of=as_of,
        )
    )
    assert {k: entry[k] for k in ("kind", "user_id", "agency", "role", "participant_id", "purpose", "request_id")} == {
        "kind": VIEW,
        "user_id": "handlaggare-af",
        "agency": "AF",
        "role": "handlaggare",
        "participant_id": str(participant),
        "purpose": "handlaggning",
        "request_id": "req-1",
    }
    assert entry["disclosed"][0] == {
        "event_id": str(event_id),
        "agency": "FK",
        "category": "insurance",
        "consent_id": str(consent_id),
        "consent_version": 3,
    }
    assert entry["categories"] == ["coordination", "insurance"]
    assert entry["as_of"] == as_of.isoformat()
    assert datetime.fromisoformat(entry["recorded_at"]).tzinfo is not None


def test_entries_and_verify_read_the_log_page_by_page(log: DisclosureLog, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(disclosure_log, "PAGE", 3)
    appended = fill(log, 10)
    assert list(log.entries()) == appended
    assert [e["seq"] for e in log.entries(LogFilter(agency="AF"))] == [2, 4, 6, 8, 10]
    assert log.verify().as_dict() == {"ok": True, "entries": 10}


# -- the database refuses changes ------------------------------------------------------------------------------


def _refused(raw: RawDatabase, statement: str) -> str:
    """Runs a statement that must fail; returns the database's message."""
    error: type[Exception] = psycopg.Error if raw.postgres else sqlite3.DatabaseError
    with pytest.raises(error) as refused:
        raw.execute(statement)
    return str(refused.value)


def test_the_database_refuses_to_update_a_log_entry(storage: Storage, log: DisclosureLog) -> None:
    fill(log, 3)
    with raw_database(storage) as raw:
        assert "append-only" in _refused(raw, "UPDATE disclosure_log SET agency = 'AF' WHERE seq = 2")
        assert "append-only" in _refused(raw, "UPDATE disclosure_log SET body = '{}'")
    assert log.verify().as_dict() == {"ok": True, "entries": 3}


def test_the_database_refuses_to_delete_or_truncate_log_entries(storage: Storage, log: DisclosureLog) -> None:
    fill(log, 3)
    with raw_database(storage) as raw:
        assert "append-only" in _refused(raw, "DELETE FROM disclosure_log WHERE seq = 3")
        assert "append-only" in _refused(raw, "DELETE FROM disclosure_log")
        if raw.postgres:  # SQLite has no TRUNCATE; its "DELETE FROM t" is the refused DELETE above
            assert "append-only" in _refused(raw, "TRUNCATE disclosure_log")
        assert raw.execute("SELECT count(*) FROM disclosure_log")[0][0] == 3
    assert log.verify().as_dict() == {"ok": True, "entries": 3}


# -- verify() names the first tampered entry -------------------------------------------------------------------


def test_verify_names_an_entry_whose_body_was_edited(storage: Storage, log: DisclosureLog) -> None:
    fill(log, 6)
    with raw_database(storage) as raw:
        raw.unlock()
        body = raw.body(4)
        body["user_id"] = "someone-else"
        raw.set_body(4, body)
    result = log.verify()
    assert (result.ok, result.first_bad_seq, result.entries) == (False, 4, 3)
    says(result.reason, "entry 4", "altered")
    assert result.as_dict() == {"ok": False, "entries": 3, "first_bad_seq": 4, "reason": result.reason}


def test_verify_names_an_entry_whose_agency_column_was_edited(storage: Storage, log: DisclosureLog) -> None:
    fill(log, 6)
    with raw_database(storage) as raw:
        raw.unlock()
        raw.execute("UPDATE disclosure_log SET agency = 'KOMMUN' WHERE seq = 2")
    assert [e["seq"] for e in log.entries(LogFilter(agency="KOMMUN"))] == [2]  # the filters read the column
    result = log.verify()
    assert (result.ok, result.first_bad_seq) == (False, 2)
    says(result.reason, "entry 2", "column agency", "altered")


def test_verify_names_an_entry_whose_participant_column_was_edited(storage: Storage, log: DisclosureLog) -> None:
    fill(log, 4)
    with raw_database(storage) as raw:
        raw.unlock()
        raw.execute("UPDATE disclosure_log SET participant_id = ? WHERE seq = 3", (str(uuid4()),))
    result = log.verify()
    assert (result.ok, result.first_bad_seq) == (False, 3)
    says(result.reason, "entry 3", "column participant_id")


def test_verify_names_an_entry_whose_recorded_at_column_was_edited(storage: Storage, log: DisclosureLog) -> None:
    appended = fill(log, 4)
    moved = datetime.fromisoformat(appended[2]["recorded_at"]) - timedelta(days=400)
    with raw_database(storage) as raw:
        raw.unlock()
        raw.execute("UPDATE disclosure_log SET recorded_at = ? WHERE seq = 3", (moved.isoformat(),))
    since = datetime.fromisoformat(appended[0]["recorded_at"])
    assert [e["seq"] for e in log.entries(LogFilter(since=since))] == [1, 2, 4]  # hidden from the period
    result = log.verify()
    assert (result.ok, result.first_bad_seq) == (False, 3)


def test_verify_names_the_first_missing_entry_when_a_middle_row_is_deleted(
    storage: Storage, log: DisclosureLog
) -> None:
    fill(log, 6)
    with raw_database(storage) as raw:
        raw.unlock()
        raw.execute("DELETE FROM disclosure_log WHERE seq = 3")
    result = log.verify()
    assert (result.ok, result.first_bad_seq, result.entries) == (False, 3, 2)
    says(result.reason, "entry 3", "missing")


def test_verify_notices_entries_cut_off_the_end_of_the_log(storage: Storage, log: DisclosureLog) -> None:
    fill(log, 6)
    with raw_database(storage) as raw:
        raw.unlock()
        raw.execute("DELETE FROM disclosure_log WHERE seq > 4")
        assert raw.execute("SELECT seq FROM disclosure_log_head")[0][0] == 6
    result = log.verify()
    assert (result.ok, result.first_bad_seq, result.entries) == (False, 5, 4)
    says(result.reason, "end of the log", "missing")


def test_verify_names_the_first_of_two_entries_swapped_between_rows(storage: Storage, log: DisclosureLog) -> None:
    fill(log, 6)
    with raw_database(storage) as raw:
        raw.unlock()
        rows = {
            seq: raw.execute("SELECT body, hash, prev_hash FROM disclosure_log WHERE seq = ?", (seq,))[0]
            for seq in (3, 4)
        }
        for seq, other in ((3, 4), (4, 3)):
            raw.execute(
                "UPDATE disclosure_log SET body = ?, hash = ?, prev_hash = ? WHERE seq = ?", (*rows[other], seq)
            )
        assert raw.body(3)["seq"] == 4
    result = log.verify()
    assert (result.ok, result.first_bad_seq, result.entries) == (False, 3, 2)
    says(result.reason, "entry 3", "entry 4", "moved")


def test_verify_names_the_entry_after_a_forgery_with_a_recomputed_hash(storage: Storage, log: DisclosureLog) -> None:
    """The forged entry is self-consistent (its own hash is right, its columns agree), so the first check that
    fails is the next entry's link to it: verify names the next seq and says the link is broken."""
    fill(log, 6)
    with raw_database(storage) as raw:
        raw.unlock()
        forged = raw.body(3)
        forged["purpose"] = "forged"
        forged["disclosed"] = []
        forged["hash"] = entry_hash(forged)
        raw.execute(
            "UPDATE disclosure_log SET body = ?, hash = ? WHERE seq = 3", (canonical(forged).decode(), forged["hash"])
        )
    assert next(e for e in log.entries() if e["seq"] == 3)["hash"] == entry_hash(forged)
    result = log.verify()
    assert (result.ok, result.first_bad_seq, result.entries) == (False, 4, 3)
    says(result.reason, "entry 4", "link", "entry 3")


def test_verify_names_the_last_entry_when_it_is_forged_with_a_recomputed_hash(
    storage: Storage, log: DisclosureLog
) -> None:
    fill(log, 5)
    with raw_database(storage) as raw:
        raw.unlock()
        forged = raw.body(5)
        forged["purpose"] = "forged"
        forged["hash"] = entry_hash(forged)
        raw.execute(
            "UPDATE disclosure_log SET body = ?, hash = ? WHERE seq = 5", (canonical(forged).decode(), forged["hash"])
        )
    result = log.verify()
    assert result.ok is False
    assert result.first_bad_seq == 5
    assert "missing" not in str(result.reason)


# -- concurrency -----------------------------------------------------------------------------------------------


def test_concurrent_appends_never_fork_the_chain(log: DisclosureLog) -> None:
    threads, per_thread = 8, 25
    start = threading.Barrier(threads)
    errors: list[BaseException] = []

    def work(t: int) -> None:
        try:
            start.wait()
            for n in range(per_thread):
                log.append(draft(t * 1000 + n, user=f"user-{t}"))
        except BaseException as error:
            errors.append(error)

    workers = [threading.Thread(target=work, args=(t,)) for t in range(threads)]
    for worker in workers:
        worker.start()
    for worker in workers:
        worker.join(timeout=120)
    assert not errors, errors
    total = threads * per_thread
    stored = list(log.entries())
    assert [e["seq"] for e in stored] == list(range(1, total + 1))
    assert {e["details"]["n"] for e in stored} == {t * 1000 + n for t in range(threads) for n in range(per_thread)}
    for before, after in itertools.pairwise(stored):
        assert after["prev_hash"] == before["hash"]
    assert log.head() == (total, stored[-1]["hash"])
    assert log.verify().as_dict() == {"ok": True, "entries": total}


# -- filters ---------------------------------------------------------------------------------------------------


def test_filters_return_exactly_the_matching_entries(log: DisclosureLog) -> None:
    appended = fill(log, 12)
    first_person = UUID(appended[0]["participant_id"])

    def seqs(where: LogFilter) -> list[int]:
        return [e["seq"] for e in log.entries(where)]

    def expected(keep: Any) -> list[int]:
        return [e["seq"] for e in appended if keep(e)]

    assert seqs(LogFilter()) == list(range(1, 13))
    assert seqs(LogFilter(participant_id=first_person)) == expected(lambda e: e["participant_id"] == str(first_person))
    assert seqs(LogFilter(participant_id=uuid4())) == []
    assert seqs(LogFilter(agency="AF")) == expected(lambda e: e["agency"] == "AF")
    assert seqs(LogFilter(agency="KOMMUN")) == []
    assert seqs(LogFilter(user_id="handlaggare-fk")) == expected(lambda e: e["user_id"] == "handlaggare-fk")
    assert seqs(LogFilter(until_seq=5)) == [1, 2, 3, 4, 5]
    assert seqs(LogFilter(until_seq=0)) == []
    assert seqs(LogFilter(participant_id=first_person, agency="FK", until_seq=9)) == expected(
        lambda e: e["participant_id"] == str(first_person) and e["agency"] == "FK" and e["seq"] <= 9
    )

    # Periods: from inclusive, to exclusive, given in any offset.
    stockholm = timezone(timedelta(hours=2))
    times = [datetime.fromisoformat(e["recorded_at"]) for e in appended]
    since, until = times[3].astimezone(stockholm), times[8].astimezone(stockholm)
    in_period = [e["seq"] for e, t in zip(appended, times, strict=True) if since <= t < until]
    assert 4 in in_period
    assert 9 not in in_period
    assert seqs(LogFilter(since=since, until=until)) == in_period
    assert seqs(LogFilter(since=since)) == [e["seq"] for e, t in zip(appended, times, strict=True) if t >= since]
    assert seqs(LogFilter(until=until)) == [e["seq"] for e, t in zip(appended, times, strict=True) if t < until]
    assert seqs(LogFilter(since=times[-1] + timedelta(seconds=1))) == []
    assert seqs(LogFilter(agency="FK", since=since, until=until)) == [
        s for s in in_period if appended[s - 1]["agency"] == "FK"
    ]


# -- exports ---------------------------------------------------------------------------------------------------


def varied(log: DisclosureLog) -> list[dict[str, Any]]:
    """Entries with every kind of field: None and set, quotes, commas, non-ASCII, nested details."""
    person = uuid4()
    log.append(draft(1, participant=person))
    log.append(draft(2, user="handlaggare-af", agency="AF", participant=person, kind=VIEW_REFUSED))
    log.append(
        EntryDraft(
            RECORDING_REFUSED,
            Actor("handläggare-åsa", "REGION", "handlaggare"),
            "req-3",
            "handläggning",
            participant_id=person,
            outcome="refused",
            reason='consent-required, "REGION -> SF"',
            details={"category": "health", "missing_grant": "REGION -> SF: health", "n": [1, {"ä": None}]},
        )
    )
    log.append(draft(4, participant=uuid4()))
    log.append(
        EntryDraft(
            EXPORT,
            Actor("granskare-sf", "SF", "granskare"),
            "req-5",
            "granskning",
            as_of=datetime(2026, 1, 2, 3, 4, 5, tzinfo=UTC),
            details={"filters": LogFilter(agency="FK").as_dict(), "format": "csv"},
        )
    )
    log.append(draft(6, participant=person))
    return list(log.entries())


def export_text(log: DisclosureLog, fmt: str, where: LogFilter | None = None) -> str:
    return "".join(lines(log.entries(where), fmt))


@pytest.mark.parametrize("fmt", FORMATS)
def test_an_export_reads_back_to_exactly_the_logged_entries(log: DisclosureLog, fmt: str) -> None:
    entries = varied(log)
    text = export_text(log, fmt)
    assert len(text.splitlines()) == len(entries) + (1 if fmt == "csv" else 0)
    assert list(entries_from_text(text, fmt)) == entries
    if fmt == "csv":
        assert text.splitlines()[0].startswith("seq,prev_hash,")
        assert text.splitlines()[0].endswith(",hash")


def test_a_csv_export_reads_back_an_entry_whose_user_id_holds_a_carriage_return(log: DisclosureLog) -> None:
    log.append(draft(1, user="odd\ruser"))
    assert list(entries_from_text(export_text(log, "csv"), "csv")) == list(log.entries())


def test_a_jsonl_export_reads_back_an_entry_holding_a_unicode_line_separator(log: DisclosureLog) -> None:
    log.append(draft(1))
    log.append(
        EntryDraft(
            EXPORT,
            Actor("granskare-sf", "SF", "granskare"),
            "req-2",
            "granskning",
            details={"filters": LogFilter(user_id="x\u2028y").as_dict(), "format": "jsonl"},
        )
    )
    text = export_text(log, "jsonl")
    assert list(entries_from_text(text, "jsonl")) == list(log.entries())


@pytest.mark.parametrize("fmt", FORMATS)
def test_the_manifest_describes_the_exported_text_and_verifies(
    log: DisclosureLog, settings: Settings, fmt: str
) -> None:
    entries = varied(log)
    signer = ManifestSigner(settings.audit_key)
    where = LogFilter(until_seq=log.head()[0])
    text = export_text(log, fmt, where)
    manifest = build_manifest(log.entries(where), where, fmt, signer)
    assert manifest["format"] == fmt
    assert manifest["count"] == len(entries)
    assert (manifest["first_seq"], manifest["last_seq"]) == (1, len(entries))
    assert (manifest["first_hash"], manifest["last_hash"]) == (entries[0]["hash"], entries[-1]["hash"])
    assert manifest["sha256"] == hashlib.sha256(text.encode()).hexdigest()
    assert manifest["filters"] == where.as_dict()
    assert (manifest["key_id"], manifest["public_key"]) == (signer.key_id, signer.public_key)
    result = verify_export(text, fmt, manifest, ManifestSigner(settings.audit_key).public_key)
    assert (result.ok, result.entries) == (True, len(entries))
    assert verify_export(text, fmt).as_dict() == {"ok": True, "entries": len(entries)}


def test_the_manifest_of_an_empty_export_has_no_first_or_last(log: DisclosureLog, settings: Settings) -> None:
    where = LogFilter(agency="KOMMUN")
    manifest = build_manifest(log.entries(where), where, "csv", ManifestSigner(settings.audit_key))
    assert (manifest["count"], manifest["first_seq"], manifest["last_hash"]) == (0, None, None)
    assert verify_export(
        export_text(log, "csv", where), "csv", manifest, ManifestSigner(settings.audit_key).public_key
    ).as_dict() == {"ok": True, "entries": 0}


def _line_of(text: str, seq: int, fmt: str) -> int:
    """Index of the line holding entry `seq`."""
    return next(
        i
        for i, line in enumerate(text.splitlines())
        if (json.loads(line)["seq"] if fmt == "jsonl" else line.split(",")[0]) in (seq, str(seq))
    )


@pytest.mark.parametrize("fmt", FORMATS)
def test_an_export_edited_in_one_character_fails_naming_the_entry(
    log: DisclosureLog, settings: Settings, fmt: str
) -> None:
    varied(log)
    where = LogFilter(until_seq=log.head()[0])
    text = export_text(log, fmt, where)
    manifest = build_manifest(log.entries(where), where, fmt, ManifestSigner(settings.audit_key))
    rows = text.splitlines(keepends=True)
    index = _line_of(text, 4, fmt)
    assert "handlaggare-fk" in rows[index]
    rows[index] = rows[index].replace("handlaggare-fk", "handlaggare-fx", 1)
    edited = "".join(rows)
    assert len(edited) == len(text)
    for with_manifest in (manifest, None):
        result = verify_export(edited, fmt, with_manifest, ManifestSigner(settings.audit_key).public_key)
        assert (result.ok, result.first_bad_seq, result.entries) == (False, 4, 3)
        says(result.reason, "entry 4", "altered")


@pytest.mark.parametrize("fmt", FORMATS)
def test_an_export_changed_without_changing_any_entry_fails_on_its_sha256(
    log: DisclosureLog, settings: Settings, fmt: str
) -> None:
    varied(log)
    where = LogFilter(until_seq=log.head()[0])
    text = export_text(log, fmt, where)
    manifest = build_manifest(log.entries(where), where, fmt, ManifestSigner(settings.audit_key))
    # Same entries, different bytes: an escaped "ä" in JSON, a needlessly quoted field in CSV.
    edited = text.replace("ä", "\\u00e4", 1) if fmt == "jsonl" else text.replace(",REGION,", ',"REGION",', 1)
    assert edited != text
    assert list(entries_from_text(edited, fmt)) == list(entries_from_text(text, fmt))
    assert verify_export(edited, fmt).ok  # the entries alone are intact
    result = verify_export(edited, fmt, manifest, ManifestSigner(settings.audit_key).public_key)
    assert (result.ok, result.first_bad_seq) == (False, None)
    says(result.reason, "SHA-256", "differs")


def test_an_export_missing_a_middle_line_fails_against_its_manifest(log: DisclosureLog, settings: Settings) -> None:
    varied(log)
    where = LogFilter(until_seq=log.head()[0])
    text = export_text(log, "jsonl", where)
    manifest = build_manifest(log.entries(where), where, "jsonl", ManifestSigner(settings.audit_key))
    rows = text.splitlines(keepends=True)
    edited = "".join(rows[:2] + rows[3:])  # entry 3 gone
    result = verify_export(edited, "jsonl", manifest, ManifestSigner(settings.audit_key).public_key)
    assert result.ok is False
    # Either the gap is named (entry 4 does not link to entry 2) or the file fails the manifest's SHA-256.
    if result.first_bad_seq is None:
        says(result.reason, "SHA-256")
    else:
        assert result.first_bad_seq == 4
        says(result.reason, "entry 4", "link")


def test_a_manifest_with_an_edited_count_fails_its_signature(log: DisclosureLog, settings: Settings) -> None:
    varied(log)
    where = LogFilter(until_seq=log.head()[0])
    text = export_text(log, "jsonl", where)
    manifest = build_manifest(log.entries(where), where, "jsonl", ManifestSigner(settings.audit_key))
    for field, value in (("count", manifest["count"] + 1), ("sha256", "0" * 64), ("last_seq", 1)):
        edited = {**manifest, field: value}
        result = verify_export(text, "jsonl", edited, ManifestSigner(settings.audit_key).public_key)
        assert (result.ok, result.first_bad_seq) == (False, None), field
        says(result.reason, "signature")
    assert (
        verify_export(
            text, "jsonl", {**manifest, "signature": "AAAA"}, ManifestSigner(settings.audit_key).public_key
        ).ok
        is False
    )


def test_a_file_holding_fewer_entries_than_its_manifest_fails(log: DisclosureLog, settings: Settings) -> None:
    varied(log)
    where = LogFilter(until_seq=log.head()[0])
    manifest = build_manifest(log.entries(where), where, "csv", ManifestSigner(settings.audit_key))
    shorter = export_text(log, "csv", LogFilter(until_seq=log.head()[0] - 1))
    result = verify_export(shorter, "csv", manifest, ManifestSigner(settings.audit_key).public_key)
    assert result.ok is False
    assert "SHA-256" in str(result.reason)


@pytest.mark.parametrize("fmt", FORMATS)
def test_an_export_filtered_by_participant_verifies_entry_by_entry(
    log: DisclosureLog, settings: Settings, fmt: str
) -> None:
    entries = varied(log)
    person = UUID(entries[0]["participant_id"])
    where = LogFilter(participant_id=person, until_seq=log.head()[0])
    text = export_text(log, fmt, where)
    exported = list(entries_from_text(text, fmt))
    assert [e["seq"] for e in exported] == [e["seq"] for e in entries if e["participant_id"] == str(person)]
    assert [e["seq"] for e in exported] == [1, 2, 3, 6]  # not contiguous: links are not checked, hashes are
    manifest = build_manifest(log.entries(where), where, fmt, ManifestSigner(settings.audit_key))
    assert manifest["filters"]["participant"] == str(person)
    assert verify_export(text, fmt, manifest, ManifestSigner(settings.audit_key).public_key).as_dict() == {
        "ok": True,
        "entries": 4,
    }

    rows = text.splitlines(keepends=True)
    index = _line_of(text, 6, fmt)
    rows[index] = rows[index].replace("req-6", "req-7", 1)
    result = verify_export("".join(rows), fmt, manifest, ManifestSigner(settings.audit_key).public_key)
    assert (result.ok, result.first_bad_seq) == (False, 6)
    says(result.reason, "entry 6", "altered")
