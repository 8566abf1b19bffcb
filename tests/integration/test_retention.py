"""Gallring on both engines: participants with decisions by FK, REGION, KOMMUN and SF, recorded years ago (the
service's clock set back), a marker in every free-text field; `samverkan gallring --dry-run` lists and changes
nothing; the real run (through the command line) erases whole participants and single parties by deleting keys,
logs each erasure, keeps the statistics counting, leaves `audit verify` passing, and a second run erases nothing."""

from __future__ import annotations

import json
import subprocess
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Any
from uuid import UUID

import pytest
from typer.testing import CliRunner

from adapters.access import Caller
from adapters.auth import Role
from adapters.cli import app as cli_app
from adapters.disclosure_log import ERASURE, DisclosureLog, EntryDraft, LogFilter
from adapters.projections import projection_runner
from adapters.read_service import open_read_service
from adapters.retention import add_years
from adapters.settings import Settings
from adapters.storage import Storage, open_storage
from consent import Party, local_date
from coordination import CoordinationService
from coordination.personnummer import fictitious_personnummer
from projections import cases_by_year_and_gender
from projections.definitions import CASES, FOLLOW_UP, TIMELINE
from tests.conftest import PG_URL, fixed_keys

NOW = datetime.now(UTC)
NO_ID = UUID(int=0)  # until enrolled
TODAY = local_date(NOW)
AGENCY_TYPES = {
    "FK": ("insurance", "sjukpenning"),
    "AF": ("employment", "inskrivning"),
    "REGION": ("health", "sjukskrivning"),
    "KOMMUN": ("social", "boendestod"),
    "SF": ("coordination", "ovrigt"),
}


class Clock:
    """The service's clock, set back to record the past."""

    def __init__(self) -> None:
        self.at = NOW

    def __call__(self) -> datetime:
        return self.at


@dataclass
class Person:
    """A participant built for the test: its id, number, and each free-text marker with where it went."""

    tag: str
    personnummer: str
    id: UUID = NO_ID
    markers: dict[str, str] = field(default_factory=dict)  # field -> marker
    decisions: dict[str, UUID] = field(default_factory=dict)  # agency -> decision id

    def marker(self, name: str) -> str:
        text = f"QXZ{self.tag}{name.upper().replace('_', '')}MARK"
        self.markers[name] = text
        return text


def years_ago(years: int, days: int = 0) -> datetime:
    return NOW - timedelta(days=365 * years + days)


def enrol(service: CoordinationService, clock: Clock, person: Person, at: datetime) -> None:
    clock.at = at
    person.id = service.enrol(
        by="samordnare-1",
        personnummer=person.personnummer,
        given_name=person.marker("given_name"),
        family_name=person.marker("family_name"),
        contact={"phone": person.marker("phone"), "email": f"{person.marker('email')}@example.se"},
        baseline={"support_before": "sjukpenning", "occupation_before": "sjukskriven"},
    )


def consent(service: CoordinationService, clock: Clock, person: Person, at: datetime, *agencies: str) -> UUID:
    clock.at = at
    day = local_date(at)
    return service.record_consent(
        person.id,
        by="samordnare-1",
        grants=[(a, "SF", [AGENCY_TYPES[a][0]]) for a in agencies],
        purpose=person.marker(f"purpose_{len(person.markers)}"),
        valid_from=day - timedelta(days=30),
        valid_until=day + timedelta(days=270),
        form="oral",
        witness=person.marker(f"witness_{len(person.markers)}"),
        document_ref=person.marker(f"document_{len(person.markers)}"),
    ).consent_id


def decide(service: CoordinationService, clock: Clock, person: Person, at: datetime, agency: str) -> UUID:
    clock.at = at
    category, decision_type = AGENCY_TYPES[agency]
    decision_id = service.record_decision(
        person.id,
        by=f"handlaggare-{agency.lower()}",
        agency=agency,
        category=category,
        decision_type=decision_type,
        effective_date=local_date(at),
        summary=person.marker(f"summary_{agency}"),
        source_ref=person.marker(f"source_ref_{agency}"),
    ).id
    person.decisions[agency] = decision_id
    return decision_id


def coordinate(service: CoordinationService, clock: Clock, person: Person, at: datetime, *, close: bool) -> None:
    """The förbund's own record: referral, plan, an insats ended, a meeting; closed when `close`."""
    clock.at = at
    day = local_date(at)
    reason = person.marker("referral")
    service.record_referral(
        person.id, by="samordnare-1", remittent="FK", reason=reason, received_date=day, needs=["FK", "KOMMUN"]
    )
    service.revise_plan(
        person.id, by="samordnare-1", goals=[person.marker("goal")], steps=[("KOMMUN", person.marker("step"), day)]
    )
    insats = service.start_intervention(
        person.id, by="samordnare-1", kind="arbetstraning", start_date=day, provider_agency="KOMMUN"
    )
    service.end_intervention(person.id, insats, by="samordnare-1", end_date=day, reason=person.marker("end_reason"))
    notes = person.marker("notes")
    service.record_meeting(
        person.id, by="samordnare-1", day=day, agencies_present=["FK", "KOMMUN"], attended=True, notes=notes
    )
    if close:
        service.close_case(
            person.id, by="samordnare-1", outcome="work", closed_date=day, follow_up={"support_after": "lon"}
        )


@dataclass
class World:
    whole: Person  # closed twelve years ago, with FK, AF, REGION, KOMMUN and SF: every rule has run out
    kommun: Person  # KOMMUN's last entry six years ago, REGION's and the closure two years ago: only KOMMUN's is up
    open_case: Person  # everything twelve years ago, never closed: held, never thinned
    recent: Person  # closed a year ago: nothing is due
    all: list[Person] = field(default_factory=list)


def build(storage: Storage) -> World:
    service = storage.service
    clock = Clock()
    service.clock = clock
    whole = Person("ALMA", fictitious_personnummer(date(1970, 3, 14), 11, gender="female"))
    kommun = Person("BERTIL", fictitious_personnummer(date(1975, 5, 20), 22, gender="male"))
    open_case = Person("CILLA", fictitious_personnummer(date(1980, 7, 9), 33, gender="female"))
    recent = Person("DAVID", fictitious_personnummer(date(1985, 9, 2), 44, gender="male"))

    start = years_ago(12, 40)
    enrol(service, clock, whole, start)
    given = consent(service, clock, whole, start, "FK", "AF", "REGION", "KOMMUN")
    for offset, agency in enumerate(("FK", "AF", "REGION", "KOMMUN", "SF")):
        decide(service, clock, whole, start + timedelta(days=1 + offset), agency)
    clock.at = start + timedelta(days=8)
    service.retract_decision(
        whole.id, whole.decisions["AF"], by="handlaggare-af", agency="AF", reason=whole.marker("retraction")
    )
    service.withdraw_consent(
        whole.id, given, by="samordnare-1", grants=[("AF", "SF", ["employment"])], reason=whole.marker("withdrawal")
    )
    coordinate(service, clock, whole, start + timedelta(days=10), close=True)

    enrol(service, clock, kommun, years_ago(6, 30))
    consent(service, clock, kommun, years_ago(6, 30), "KOMMUN")
    decide(service, clock, kommun, years_ago(6, 29), "KOMMUN")
    consent(service, clock, kommun, years_ago(2, 20), "REGION")
    decide(service, clock, kommun, years_ago(2, 19), "REGION")
    coordinate(service, clock, kommun, years_ago(2, 10), close=True)

    enrol(service, clock, open_case, start)
    consent(service, clock, open_case, start, "FK")
    decide(service, clock, open_case, start + timedelta(days=1), "FK")

    enrol(service, clock, recent, years_ago(1, 60))
    consent(service, clock, recent, years_ago(1, 60), "FK", "KOMMUN")
    decide(service, clock, recent, years_ago(1, 59), "FK")
    decide(service, clock, recent, years_ago(1, 58), "KOMMUN")
    coordinate(service, clock, recent, years_ago(1, 50), close=True)

    clock.at = NOW
    return World(whole, kommun, open_case, recent, [whole, kommun, open_case, recent])


# -- helpers ----------------------------------------------------------------------------------------------------


def cli_env(settings: Settings) -> dict[str, str]:
    env = {f"SAMVERKAN_{name.upper()}": value for name, value in fixed_keys().items()}
    env["SAMVERKAN_DATABASE_URL"] = settings.database_url
    env["SAMVERKAN_KEY_FILE"] = str(settings.key_file)
    return env


def gallring(settings: Settings, *args: str) -> tuple[int, list[dict[str, Any]], dict[str, Any], str]:
    """Runs `samverkan gallring --json ...`: (exit code, items, summary, everything it printed)."""
    result = CliRunner().invoke(cli_app, ["gallring", "--json", *args], env=cli_env(settings))
    lines = [json.loads(line) for line in result.stdout.splitlines() if line.startswith("{")]
    assert lines and "summary" in lines[-1], result.output
    return result.exit_code, lines[:-1], lines[-1]["summary"], result.output


def dump(storage: Storage) -> bytes:
    """Everything the database holds: the SQLite file with its WAL, or a pg_dump of the schema."""
    target = storage.target
    if target.engine == "sqlite":
        assert target.sqlite_path is not None
        files = [target.sqlite_path, Path(f"{target.sqlite_path}-wal")]
        return b"".join(f.read_bytes() for f in files if f.exists())
    return subprocess.run(
        ["pg_dump", "--no-owner", "--schema", target.schema, PG_URL], check=True, capture_output=True
    ).stdout


def present(haystack: bytes, secrets: list[str]) -> list[str]:
    lowered = haystack.lower()
    return [s for s in secrets if s.lower().encode() in lowered or s.encode("utf-16-le") in haystack]


def key_bytes_present(haystack: bytes, key: bytes) -> bool:
    """A wrapped key, raw (SQLite) or as pg_dump writes bytea (hex)."""
    return key in haystack or key.hex().encode() in haystack


def secrets_of(person: Person, *fields: str) -> list[str]:
    chosen = [m for name, m in person.markers.items() if not fields or name in fields]
    return [*chosen, person.personnummer, person.personnummer.replace("-", "")] if not fields else chosen


def erasure_entries(log: DisclosureLog) -> list[dict[str, Any]]:
    return [e for e in log.entries(LogFilter()) if e["kind"] == ERASURE]


def samordnare() -> Caller:
    return Caller("samordnare-1", Party.SF, Role.SAMORDNARE, "test", "samordning")


def handlaggare(agency: Party) -> Caller:
    return Caller(f"handlaggare-{agency.value.lower()}", agency, Role.HANDLAGGARE, "test", "handlaggning")


def granskare() -> Caller:
    return Caller("granskare-1", Party.SF, Role.GRANSKARE, "test", "granskning")


def event_counts(storage: Storage, world: World) -> list[int]:
    return [len(list(storage.service.events.get(p.id))) for p in world.all]


# -- the story --------------------------------------------------------------------------------------------------


def test_gallring_erases_what_is_due_party_by_party_and_keeps_the_counts(storage: Storage, settings: Settings) -> None:
    world = build(storage)
    whole, kommun, open_case, recent = world.whole, world.kommun, world.open_case, world.recent
    service, vault = storage.service, storage.vault
    runner = projection_runner(storage, settings)
    runner.catch_up()
    reads = open_read_service(storage, settings)
    period = (TODAY - timedelta(days=365 * 13), TODAY)
    statistics_before = reads.statistics(granskare(), *period)
    counted_before = cases_by_year_and_gender(service)
    follow_up_before = {r["participant_id"] for r in runner.store.select(FOLLOW_UP, "", "1 = 1", ())}
    assert follow_up_before == {str(p.id) for p in world.all}
    every_secret = [s for p in world.all for s in secrets_of(p)]
    assert present(dump(storage), every_secret) == []  # sealed from the start: never in clear
    whole_key = vault.store.wrapped_key(whole.id)
    kommun_key = vault.store.party_key(kommun.id, "KOMMUN")
    assert whole_key is not None and kommun_key  # a party's own fields are sealed under its own key
    before = dump(storage)
    assert key_bytes_present(before, whole_key[0]) and key_bytes_present(before, kommun_key)  # the scan finds keys
    assert service.get_case(kommun.id).decisions[kommun.decisions["KOMMUN"]].summary.startswith("p1.KOMMUN.")
    log_before = reads.log.head()[0]
    events_before = event_counts(storage, world)

    # The dry run lists what is due and why, and changes nothing.
    code, items, summary, printed = gallring(settings, "--dry-run")
    assert code == 0, printed
    listed = {(i["participant_id"], i["scope"], i["action"]) for i in items}
    assert listed == {
        (str(whole.id), "whole participant", "erase"),
        (str(kommun.id), "KOMMUN", "erase"),
        (str(open_case.id), "FK", "held"),
        (str(open_case.id), "SF", "held"),
    }
    kommun_item = next(i for i in items if i["scope"] == "KOMMUN")
    kommun_entry = local_date(years_ago(6, 29))
    assert (kommun_item["last_entry"], kommun_item["due"]) == (
        kommun_entry.isoformat(),
        add_years(kommun_entry, 5).isoformat(),
    )
    assert "KOMMUN 5 years" in kommun_item["rule"]
    whole_item = next(i for i in items if i["scope"] == "whole participant")
    assert whole_item["due"] == add_years(local_date(years_ago(12, 40) + timedelta(days=3)), 10).isoformat()  # REGION
    assert (summary["whole_participants"], summary["parties"], summary["held_open_cases"]) == (1, 1, 1)
    assert summary["dry_run"] is True and summary["participants_scanned"] == 4
    assert present(printed.encode(), every_secret) == []
    assert reads.log.head()[0] == log_before and event_counts(storage, world) == events_before
    assert vault.store.wrapped_key(whole.id) == whole_key and vault.store.party_key(kommun.id, "KOMMUN") == kommun_key

    # The real run, through the command line.
    code, items, summary, printed = gallring(settings)
    assert code == 0, printed
    assert {(i["participant_id"], i["scope"], i["outcome"]) for i in items if i["action"] == "erase"} == {
        (str(whole.id), "whole participant", "erased"),
        (str(kommun.id), "KOMMUN", "erased"),
    }
    assert (summary["whole_participants"], summary["parties"], summary["failed"]) == (1, 1, 0)
    assert summary["disclosure_log"]["kept_whole"] is True
    assert present(printed.encode(), every_secret) == []

    # A full dump holds none of it, and not the deleted keys either (SQLite: overwritten, WAL emptied).
    after = dump(storage)
    assert present(after, every_secret) == []
    assert not key_bytes_present(after, whole_key[0])
    assert not key_bytes_present(after, kommun_key)
    assert present(after + whole.markers["summary_REGION"].encode(), every_secret) != []  # the scan finds things

    with open_storage(settings) as fresh:  # nothing cached: only what the database holds
        erased = fresh.service.get_case(whole.id)
        assert erased.is_erased and erased.erasure_reason == "gallring"
        assert fresh.service.identity(erased) == {}
        for decision in erased.decisions.values():
            assert fresh.vault.unseal(whole.id, decision.summary) is None  # the keys are gone, not just hidden
        assert fresh.service.find_by_personnummer(whole.personnummer) is None
        assert [fresh.vault.store.party_key(whole.id, p.value) for p in Party] == [None] * 5  # party keys gone too

        thinned = fresh.service.get_case(kommun.id)
        assert not thinned.is_erased and thinned.is_party_erased(Party.KOMMUN)
        kommun_decision = thinned.decisions[kommun.decisions["KOMMUN"]]
        region_decision = thinned.decisions[kommun.decisions["REGION"]]
        stored = next(
            e for e in fresh.service.events.get(kommun.id) if getattr(e, "decision_id", None) == kommun_decision.id
        )
        assert fresh.vault.unseal(kommun.id, stored.summary) is None  # KOMMUN's token in the stored event
        assert fresh.service.read(thinned, kommun_decision.summary, Party.KOMMUN) is None
        assert fresh.service.read(thinned, region_decision.summary, Party.REGION) == kommun.markers["summary_REGION"]
        assert fresh.service.identity(thinned)["family_name"] == kommun.markers["family_name"]
        assert fresh.service.find_by_personnummer(kommun.personnummer) == kommun.id
        fresh_reads = open_read_service(fresh, settings)
        own = fresh_reads.view(handlaggare(Party.KOMMUN), kommun.id)["decisions"]
        assert [(d["agency"], d["summary"]) for d in own] == [("KOMMUN", None)]  # shown as erased
        region = fresh_reads.view(handlaggare(Party.REGION), kommun.id)["decisions"]
        assert [(d["agency"], d["summary"]) for d in region] == [("REGION", kommun.markers["summary_REGION"])]
        sf = fresh_reads.view(samordnare(), kommun.id)
        assert sf["coordination"]["referral"]["reason"] == kommun.markers["referral"]  # the förbund's stays

        untouched = fresh.service.get_case(recent.id)
        assert fresh.service.read(untouched, untouched.decisions[recent.decisions["KOMMUN"]].summary, Party.KOMMUN)
        held = fresh.service.get_case(open_case.id)
        assert fresh.service.identity(held)["given_name"] == open_case.markers["given_name"]

    # Each erasure is one log entry: kind erasure, reason gallring, the party; no personal data.
    entries = erasure_entries(reads.log)
    assert sorted((e["participant_id"], e["reason"], e["details"]["party"]) for e in entries) == sorted(
        [(str(whole.id), "gallring", None), (str(kommun.id), "gallring", "KOMMUN")]
    )
    assert all(e["role"] == "admin" and e["user_id"].startswith("cli:") for e in entries)
    assert present(json.dumps(entries).encode(), every_secret) == []
    verified = CliRunner().invoke(cli_app, ["audit", "verify"], env=cli_env(settings))
    assert verified.exit_code == 0 and json.loads(verified.stdout)["ok"] is True, verified.output

    # The views drop the erased participant; the statistics still count it.
    runner.catch_up()
    assert runner.store.select(CASES, "", '"participant_id" = %s', (str(whole.id),)) == []
    assert runner.store.select(TIMELINE, "", '"participant_id" = %s', (str(whole.id),)) == []
    assert {r["participant_id"] for r in runner.store.select(FOLLOW_UP, "", "1 = 1", ())} == follow_up_before
    assert cases_by_year_and_gender(service) == counted_before
    assert reads.statistics(granskare(), *period) == statistics_before

    # A second run erases nothing more, and logs nothing.
    head = reads.log.head()[0]
    code, items, summary, printed = gallring(settings)
    assert code == 0, printed
    assert [i for i in items if i["action"] != "held"] == []
    assert (summary["whole_participants"], summary["parties"], summary["interrupted_finished"]) == (0, 0, 0)
    assert summary["already_erased_before"] == 1
    assert erasure_entries(reads.log) == entries and reads.log.head()[0] == head


# -- interrupted runs -------------------------------------------------------------------------------------------


def test_a_run_stopped_part_way_is_finished_by_the_next_with_one_log_entry_each(
    storage: Storage, settings: Settings
) -> None:
    world = build(storage)
    service, log = storage.service, open_read_service(storage, settings).log
    # Killed after the whole participant's erasure event, before its log entry and key deletion.
    erasure, recorded = service.record_erasure(world.whole.id, by="cli:operator", reason="gallring")
    assert recorded and not storage.vault.key_erased(world.whole.id)
    # Killed after KOMMUN's erasure event and its log entry, before the key deletion.
    party, _ = service.record_erasure(world.kommun.id, by="cli:operator", reason="gallring", party=Party.KOMMUN)
    log.append(
        EntryDraft(
            ERASURE,
            Caller("cli:operator", Party.SF, Role.ADMIN, "gallring-1", "drift").actor,
            "gallring-1",
            "drift",
            participant_id=world.kommun.id,
            outcome="erased",
            reason="gallring",
            details={"party": "KOMMUN", "erased_at": party.at.isoformat()},
        )
    )

    code, items, summary, printed = gallring(settings)
    assert code == 0, printed
    assert {(i["participant_id"], i["scope"], i["outcome"]) for i in items if i["action"] == "finish"} == {
        (str(world.whole.id), "whole participant", "finished"),
        (str(world.kommun.id), "KOMMUN", "finished"),
    }
    assert summary["interrupted_finished"] == 2
    assert storage.vault.key_erased(world.whole.id) and storage.vault.key_erased(world.kommun.id, Party.KOMMUN)
    logged = [(e["participant_id"], e["details"].get("party")) for e in erasure_entries(log)]
    assert sorted(logged, key=str) == sorted([(str(world.whole.id), None), (str(world.kommun.id), "KOMMUN")], key=str)
    whole_entry = next(e for e in erasure_entries(log) if e["participant_id"] == str(world.whole.id))
    assert whole_entry["details"]["erased_at"] == erasure.at.isoformat()

    code, items, _, _ = gallring(settings)
    assert [i for i in items if i["action"] != "held"] == [] and len(erasure_entries(log)) == 2


# -- what may not happen ----------------------------------------------------------------------------------------


def test_a_party_whose_information_is_erased_records_nothing_more(storage: Storage, settings: Settings) -> None:
    from coordination import Conflict

    world = build(storage)
    service = storage.service
    code, _, _, printed = gallring(settings)
    assert code == 0, printed
    with pytest.raises(Conflict, match="KOMMUN"):
        service.retract_decision(
            world.kommun.id, world.kommun.decisions["KOMMUN"], by="k", agency="KOMMUN", reason="Fel registrerat"
        )
    assert storage.vault.key_erased(world.kommun.id, Party.KOMMUN)  # no new key was made for it
    # Another party of the same case goes on as before.
    service.retract_decision(
        world.kommun.id, world.kommun.decisions["REGION"], by="r", agency="REGION", reason="Fel registrerat"
    )


def test_a_later_as_of_is_for_planning_only(storage: Storage, settings: Settings) -> None:
    world = build(storage)
    later = (TODAY + timedelta(days=365 * 4)).isoformat()
    code, items, _, _ = gallring(settings, "--dry-run", "--as-of", later)
    assert code == 0
    # In four years the recent case's parties are due too (KOMMUN, FK and SF: five years after a year ago).
    assert (str(world.recent.id), "whole participant", "erase") in {
        (i["participant_id"], i["scope"], i["action"]) for i in items
    }
    refused = CliRunner().invoke(cli_app, ["gallring", "--as-of", later], env=cli_env(settings))
    assert refused.exit_code == 2
    assert storage.vault.key_erased(world.whole.id) is False  # nothing was erased


def test_erasures_stored_before_reasons_were_recorded_still_load(storage: Storage, settings: Settings) -> None:
    world = build(storage)
    storage.service.erase_personal_data(world.recent.id, by="admin-1")
    drop_reason_from_stored_erasure(storage)
    with open_storage(settings) as fresh:
        case = fresh.service.get_case(world.recent.id)
        assert case.is_erased and case.erasure_reason is None


def drop_reason_from_stored_erasure(storage: Storage) -> None:
    """Rewrites the stored PersonalDataErased event as an earlier version wrote it: without `reason`."""
    import sqlite3

    import psycopg

    def rewrite(state: bytes) -> bytes:
        data = json.loads(state)
        assert data.pop("reason") == "admin-request"
        return json.dumps(data).encode()

    target = storage.target
    if target.engine == "sqlite":
        with sqlite3.connect(str(target.sqlite_path)) as conn:
            rows = conn.execute("SELECT rowid, state FROM stored_events WHERE topic LIKE '%PersonalDataErased'")
            for rowid, state in rows.fetchall():
                conn.execute("UPDATE stored_events SET state = ? WHERE rowid = ?", (rewrite(state), rowid))
        return
    with psycopg.connect(PG_URL, autocommit=True) as conn:
        conn.execute(f'SET search_path TO "{target.schema}"')
        found = conn.execute(
            "SELECT originator_id, originator_version, state FROM samverkan_events"
            " WHERE topic LIKE '%%PersonalDataErased'"
        ).fetchall()
        for originator, version, state in found:
            conn.execute(
                "UPDATE samverkan_events SET state = %s WHERE originator_id = %s AND originator_version = %s",
                (rewrite(bytes(state)), originator, version),
            )
