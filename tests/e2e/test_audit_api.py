"""The auditors' side through HTTP and the command line, on both engines: streamed exports of the disclosure log,
their signed manifest, verification of the live log and of an exported file, and who may do it."""

from __future__ import annotations

import hashlib
import itertools
import json
import sqlite3
from datetime import datetime, timedelta, timezone
from pathlib import Path
from typing import Any

import psycopg
import pytest
from typer.testing import CliRunner

from adapters.audit_export import build_manifest, entries_from_text, lines, verify_export
from adapters.cli import app as cli_app
from adapters.disclosure_log import (
    EXPORT,
    GENESIS_HASH,
    RECORDING_REFUSED,
    VIEW,
    VIEW_REFUSED,
    LogFilter,
    canonical,
    entry_hash,
)
from adapters.settings import Settings
from adapters.signing import ManifestSigner
from tests.conftest import PG_URL, fixed_keys
from tests.e2e.conftest import Api
from tests.e2e.scenario import consent_body, decision_body, enrol

AUDIT = "/api/v1/audit"
UNTIL = "x-samverkan-until-seq"


# -- helpers ---------------------------------------------------------------------------------------------------


def activity(api: Api) -> str:
    """A refused recording, a consent, a decision, two views and a refused view; returns the participant id."""
    pid = enrol(api)
    fk = api.handlaggare("FK")
    refused = fk.post(f"/api/v1/participants/{pid}/decisions", decision_body())
    assert refused.status_code == 403, refused.text
    given = api.samordnare.post(f"/api/v1/participants/{pid}/consents", consent_body(("FK", "SF", ["insurance"])))
    assert given.status_code == 201, given.text
    assert fk.post(f"/api/v1/participants/{pid}/decisions", decision_body()).status_code == 201
    assert api.samordnare.get(f"/api/v1/participants/{pid}/view").status_code == 200
    assert fk.get(f"/api/v1/participants/{pid}/view").status_code == 200
    assert api.handlaggare("AF").get(f"/api/v1/participants/{pid}/view").status_code == 403
    return pid


def export(api: Api, **params: Any) -> tuple[Any, list[dict[str, Any]], int]:
    """GET the export as granskare: (response, entries read back, X-Samverkan-Until-Seq)."""
    response = api.granskare.get(f"{AUDIT}/disclosures", params=params)
    assert response.status_code == 200, response.text
    fmt = params.get("format", "jsonl")
    return response, list(entries_from_text(response.text, fmt)), int(response.headers[UNTIL])


def manifest_for(api: Api, until_seq: int, **params: Any) -> dict[str, Any]:
    response = api.granskare.get(f"{AUDIT}/disclosures/manifest", params={**params, "until_seq": until_seq})
    assert response.status_code == 200, response.text
    manifest: dict[str, Any] = response.json()
    return manifest


def logged(api: Api, until_seq: int) -> list[dict[str, Any]]:
    """The live log up to `until_seq`, read directly."""
    return list(api.context.log.entries(LogFilter(until_seq=until_seq)))


def raw_connection(api: Api) -> Any:
    """A separate autocommit connection to the API's database, with the append-only triggers taken away, as a
    superuser with direct database access could."""
    target = api.context.storage.target
    if target.engine == "postgres":
        connection: Any = psycopg.connect(PG_URL, autocommit=True)
        connection.execute(f'SET search_path TO "{target.schema}"')
        connection.execute("ALTER TABLE disclosure_log DISABLE TRIGGER ALL")
        return connection
    connection = sqlite3.connect(target.sqlite_path, isolation_level=None, timeout=10)
    connection.execute("DROP TRIGGER disclosure_log_no_update")
    connection.execute("DROP TRIGGER disclosure_log_no_delete")
    return connection


def tamper(api: Api, statement: str, params: tuple[Any, ...] = ()) -> None:
    connection = raw_connection(api)
    try:
        postgres = api.context.storage.target.engine == "postgres"
        connection.execute(statement.replace("?", "%s") if postgres else statement, params)
    finally:
        connection.close()


def says(reason: str | None, *phrases: str) -> None:
    """The reason is there and mentions each phrase (wording may be refined; these facts must stay)."""
    assert reason, reason
    for phrase in phrases:
        assert phrase.lower() in reason.lower(), (phrase, reason)


def cli_env(settings: Settings) -> dict[str, str]:
    """The environment the command line needs to open the fixture's database with the fixture's keys."""
    env = {f"SAMVERKAN_{name.upper()}": value for name, value in fixed_keys().items()}
    env["SAMVERKAN_DATABASE_URL"] = settings.database_url
    env["SAMVERKAN_KEY_FILE"] = str(settings.key_file)
    return env


def cli(settings: Settings, *args: str) -> Any:
    return CliRunner().invoke(cli_app, list(args), env=cli_env(settings))


# -- exports and manifests -------------------------------------------------------------------------------------


@pytest.mark.parametrize("fmt", ["jsonl", "csv"])
def test_granskare_streams_the_whole_log_with_hashes_and_a_manifest_that_describes_it(api: Api, fmt: str) -> None:
    pid = activity(api)
    response, entries, until_seq = export(api, **({"format": "csv"} if fmt == "csv" else {}))
    assert response.headers["content-type"].startswith("text/csv" if fmt == "csv" else "application/x-ndjson")
    assert f'filename="disclosures-{until_seq}.{fmt}"' in response.headers["content-disposition"]

    # Every entry up to and including the export's own, each with seq, prev_hash and hash, chained.
    assert [e["seq"] for e in entries] == list(range(1, until_seq + 1))
    assert entries == logged(api, until_seq)
    assert entries[0]["prev_hash"] == GENESIS_HASH
    for before, after in itertools.pairwise(entries):
        assert after["prev_hash"] == before["hash"]
    assert all(e["hash"] == entry_hash(e) for e in entries)
    kinds = [e["kind"] for e in entries]
    assert {VIEW, VIEW_REFUSED, RECORDING_REFUSED} <= set(kinds)
    refused_view = next(e for e in entries if e["kind"] == VIEW_REFUSED)
    assert (refused_view["agency"], refused_view["participant_id"], refused_view["outcome"]) == ("AF", pid, "refused")
    refused_recording = next(e for e in entries if e["kind"] == RECORDING_REFUSED)
    assert (refused_recording["agency"], refused_recording["details"]["category"]) == ("FK", "insurance")

    # The export is itself logged, as the last entry it covers.
    own = entries[-1]
    assert (own["kind"], own["user_id"], own["agency"], own["role"]) == (EXPORT, "granskare-sf", "SF", "granskare")
    assert own["details"]["format"] == fmt
    assert api.context.log.head()[0] == until_seq

    manifest = manifest_for(api, until_seq, **({"format": "csv"} if fmt == "csv" else {}))
    body_lines = response.text.splitlines()
    assert manifest["count"] == len(body_lines) - (1 if fmt == "csv" else 0) == until_seq
    assert manifest["sha256"] == hashlib.sha256(response.content).hexdigest()
    assert (manifest["first_seq"], manifest["last_seq"]) == (1, until_seq)
    assert (manifest["first_hash"], manifest["last_hash"]) == (entries[0]["hash"], own["hash"])
    assert manifest["format"] == fmt
    assert manifest["filters"]["until_seq"] == until_seq
    assert manifest["key_id"] == api.context.signer.key_id
    assert verify_export(response.text, fmt, manifest, api.context.signer.public_key).as_dict() == {
        "ok": True,
        "entries": until_seq,
    }
    assert api.context.log.head()[0] == until_seq + 1  # the manifest read is logged too, after the export


def test_a_later_export_holds_the_earlier_export_entry_and_the_bounded_manifest_still_matches_the_first(
    api: Api,
) -> None:
    activity(api)
    first, _, first_until = export(api)
    second, entries, second_until = export(api)
    assert second_until == first_until + 1
    assert entries[first_until - 1]["kind"] == EXPORT
    assert second.text.startswith(first.text)
    old = manifest_for(api, first_until)
    assert old["sha256"] == hashlib.sha256(first.content).hexdigest()
    assert verify_export(first.text, "jsonl", old, api.context.signer.public_key).ok
    assert (
        verify_export(second.text, "jsonl", old, api.context.signer.public_key).ok is False
    )  # a manifest describes exactly one export
    # No until_seq: everything before the manifest's own log entry (the last one).
    unbounded = api.granskare.get(f"{AUDIT}/disclosures/manifest").json()
    assert unbounded["count"] == unbounded["last_seq"] == api.context.log.head()[0] - 1
    assert logged(api, api.context.log.head()[0])[-1]["kind"] == "manifest"


def test_filters_narrow_the_export_to_exactly_the_matching_entries(api: Api) -> None:
    pid = activity(api)
    other = enrol(api, personnummer="19900101-0017", given_name="Bo", family_name="Berg")
    assert api.samordnare.get(f"/api/v1/participants/{other}/view").status_code == 200
    activity_end = api.context.log.head()[0]

    def check(params: dict[str, Any], keep: Any) -> list[dict[str, Any]]:
        response, entries, until_seq = export(api, **params)
        expected = [e for e in logged(api, until_seq) if keep(e)]
        assert entries == expected, params
        manifest = manifest_for(api, until_seq, **params)
        assert manifest["count"] == len(expected)
        assert manifest["sha256"] == hashlib.sha256(response.content).hexdigest()
        assert verify_export(
            response.text, params.get("format", "jsonl"), manifest, api.context.signer.public_key
        ).ok, params
        return entries

    by_participant = check({"participant": pid}, lambda e: e["participant_id"] == pid)
    assert {e["kind"] for e in by_participant} >= {VIEW, VIEW_REFUSED, RECORDING_REFUSED, EXPORT}
    assert other not in {e["participant_id"] for e in by_participant}
    by_agency = check({"agency": "FK"}, lambda e: e["agency"] == "FK")
    assert [(e["kind"], e["user_id"]) for e in by_agency] == [
        (RECORDING_REFUSED, "handlaggare-fk"),
        (VIEW, "handlaggare-fk"),
    ]
    by_user = check({"user": "handlaggare-af"}, lambda e: e["user_id"] == "handlaggare-af")
    assert [e["kind"] for e in by_user] == [VIEW_REFUSED]
    check(
        {"participant": pid, "agency": "AF", "format": "csv"},
        lambda e: e["participant_id"] == pid and e["agency"] == "AF",
    )

    # A period, given as instants with a +02:00 offset: from inclusive, to exclusive.
    times = {e["seq"]: datetime.fromisoformat(e["recorded_at"]) for e in logged(api, activity_end)}
    offset = timezone(timedelta(hours=2))
    since, until = times[2].astimezone(offset), times[activity_end].astimezone(offset)
    in_period = check(
        {"from": since.isoformat(), "to": until.isoformat()},
        lambda e: since <= datetime.fromisoformat(e["recorded_at"]) < until,
    )
    assert 2 in [e["seq"] for e in in_period]
    assert activity_end not in [e["seq"] for e in in_period]
    assert all(e["kind"] != EXPORT for e in in_period)
    from_only = check({"from": since.isoformat()}, lambda e: datetime.fromisoformat(e["recorded_at"]) >= since)
    assert from_only[-1]["kind"] == EXPORT  # an open period reaches the export's own entry


def test_a_naive_period_an_unknown_agency_or_format_is_refused_and_not_logged(api: Api) -> None:
    activity(api)
    before = api.context.log.head()
    for params, field in (
        ({"from": "2026-01-01T00:00:00"}, "from"),
        ({"to": "2026-01-01T00:00:00"}, "to"),
        ({"agency": "XX"}, "agency"),
        ({"format": "xml"}, "format"),
    ):
        for path in ("/disclosures", "/disclosures/manifest"):
            response = api.granskare.get(f"{AUDIT}{path}", params=params)
            assert response.status_code == 422, (path, params, response.text)
            problem = response.json()
            assert problem["type"].endswith("/validation-error")
            assert field in json.dumps(problem), problem
    assert api.context.log.head() == before


def test_an_export_filtered_by_an_odd_user_id_leaves_later_exports_verifiable(api: Api) -> None:
    activity(api)
    odd = api.granskare.get(f"{AUDIT}/disclosures", params={"user": "x\u2028y"})
    assert odd.status_code == 200
    response = api.granskare.get(f"{AUDIT}/disclosures")
    until_seq = int(response.headers[UNTIL])
    manifest = manifest_for(api, until_seq)
    assert manifest["sha256"] == hashlib.sha256(response.content).hexdigest()
    assert verify_export(response.text, "jsonl", manifest, api.context.signer.public_key).as_dict() == {
        "ok": True,
        "entries": until_seq,
    }


# -- verifying the live log ------------------------------------------------------------------------------------


def test_verify_answers_ok_with_the_number_of_entries(api: Api) -> None:
    activity(api)
    response = api.granskare.post(f"{AUDIT}/verify")
    assert response.status_code == 200
    # The check covers every entry before it; then it is logged with its result.
    answer = response.json()
    # No export yet, so no anchor outside the database (tests/integration/test_anchors.py): verify says so.
    anchors = answer.pop("anchors")
    assert (anchors["checked"], "no anchor was checked" in anchors["note"]) == (0, True)
    assert answer == {"ok": True, "entries": api.context.log.head()[0] - 1}
    assert answer["entries"] >= 4
    own = logged(api, api.context.log.head()[0])[-1]
    assert (own["kind"], own["details"]) == ("verify", {**answer, "anchors": anchors})


def test_verify_names_an_entry_whose_body_was_edited_in_the_database(api: Api) -> None:
    activity(api)
    target = next(e for e in api.context.log.entries() if e["kind"] == VIEW_REFUSED)
    forged = {**target, "user_id": "someone-else"}
    tamper(api, "UPDATE disclosure_log SET body = ? WHERE seq = ?", (canonical(forged).decode(), target["seq"]))
    response = api.granskare.post(f"{AUDIT}/verify")
    assert response.status_code == 200
    body = response.json()
    assert {k: body[k] for k in ("ok", "first_bad_seq")} == {"ok": False, "first_bad_seq": target["seq"]}
    says(body["reason"], f"entry {target['seq']}", "altered")


def test_verify_names_a_deleted_entry(api: Api) -> None:
    activity(api)
    tamper(api, "DELETE FROM disclosure_log WHERE seq = 2")
    body = api.granskare.post(f"{AUDIT}/verify").json()
    assert (body["ok"], body["first_bad_seq"], body["entries"]) == (False, 2, 1)
    says(body["reason"], "entry 2", "missing")


def test_verify_names_an_entry_whose_agency_column_was_edited(api: Api) -> None:
    activity(api)
    tamper(api, "UPDATE disclosure_log SET agency = 'KOMMUN' WHERE seq = 3")
    body = api.granskare.post(f"{AUDIT}/verify").json()
    assert (body["ok"], body["first_bad_seq"]) == (False, 3)
    says(body["reason"], "entry 3", "agency")


# -- who may --------------------------------------------------------------------------------------------------


@pytest.mark.parametrize("who", ["samordnare-SF", "handlaggare-FK", "handlaggare-AF", "admin-SF"])
def test_only_granskare_may_use_the_audit_endpoints(api: Api, who: str) -> None:
    activity(api)
    role, agency = who.split("-")
    caller = api.as_(role, agency)
    before = api.context.log.head()
    for response in (
        caller.get(f"{AUDIT}/disclosures"),
        caller.get(f"{AUDIT}/disclosures", params={"format": "csv"}),
        caller.get(f"{AUDIT}/disclosures/manifest"),
        caller.post(f"{AUDIT}/verify"),
    ):
        assert response.status_code == 403, response.text
        assert response.json()["type"].endswith("/forbidden")
        assert "seq" not in response.text
    # Each refusal is logged (who tried, and why), and the log shows nothing else.
    refusals = logged(api, api.context.log.head()[0])[before[0] :]
    assert [(e["kind"], e["outcome"], e["reason"]) for e in refusals] == [
        ("export", "refused", "role"),
        ("export", "refused", "role"),
        ("manifest", "refused", "role"),
        ("verify", "refused", "role"),
    ]
    assert all(e["user_id"] == f"{role}-{agency.lower()}" for e in refusals)
    anonymous = api.client.post(f"{AUDIT}/verify")
    assert anonymous.status_code == 401


# -- the command line ------------------------------------------------------------------------------------------


def _exported(out: Path, fmt: str) -> tuple[Path, Path]:
    (data,) = out.glob(f"disclosures-*.{fmt}")
    return data, data.with_name(f"{data.name}.manifest.json")


@pytest.mark.parametrize("fmt", ["jsonl", "csv"])
def test_cli_exports_the_log_and_verifies_the_live_log_and_the_export(
    api: Api, settings: Settings, tmp_path: Path, fmt: str
) -> None:
    activity(api)
    out = tmp_path / "exports"
    exported = cli(settings, "audit", "export", "--out", str(out), "--format", fmt)
    assert exported.exit_code == 0, exported.output
    data, manifest_path = _exported(out, fmt)
    head = api.context.log.head()[0] - 1  # the manifest's own read is logged after the export
    assert data.name == f"disclosures-{head}.{fmt}"
    text = data.read_text(encoding="utf-8")
    entries = list(entries_from_text(text, fmt))
    assert entries == logged(api, head)
    assert (entries[-1]["kind"], entries[-1]["request_id"], entries[-1]["role"]) == (EXPORT, "cli", "granskare")
    manifest = json.loads(manifest_path.read_text())
    assert manifest["count"] == head
    assert manifest["sha256"] == hashlib.sha256(data.read_bytes()).hexdigest()
    assert manifest["key_id"] == api.context.signer.key_id

    live = cli(settings, "audit", "verify")
    assert live.exit_code == 0, live.output
    verdict = json.loads(live.stdout)
    assert verdict.pop("anchors")["checked"] == (1 if settings.database_url.startswith("sqlite") else 0)
    assert verdict == {"ok": True, "entries": head + 1}

    checked = cli(settings, "audit", "verify", "--file", str(data), "--manifest", str(manifest_path))
    assert checked.exit_code == 0, checked.output
    assert json.loads(checked.stdout) == {"ok": True, "entries": head}

    data.write_text(text.replace("handlaggare-af", "handlaggare-ax", 1), encoding="utf-8")
    edited = cli(settings, "audit", "verify", "--file", str(data), "--manifest", str(manifest_path))
    assert edited.exit_code == 1
    result = json.loads(edited.stdout)
    refused_view = next(e for e in entries if e["user_id"] == "handlaggare-af")
    assert (result["ok"], result["first_bad_seq"]) == (False, refused_view["seq"])
    without_manifest = cli(settings, "audit", "verify", "--file", str(data))
    assert without_manifest.exit_code == 1


def test_cli_verify_exits_1_naming_the_first_bad_entry_of_a_tampered_live_log(api: Api, settings: Settings) -> None:
    activity(api)
    tamper(api, "DELETE FROM disclosure_log WHERE seq = 3")
    result = cli(settings, "audit", "verify")
    assert result.exit_code == 1
    verdict = json.loads(result.stdout)
    assert (verdict["ok"], verdict["entries"], verdict["first_bad_seq"]) == (False, 2, 3)
    says(verdict["reason"], "entry 3", "missing")


def test_cli_verify_refuses_an_export_whose_manifest_was_edited(api: Api, settings: Settings, tmp_path: Path) -> None:
    activity(api)
    assert cli(settings, "audit", "export", "--out", str(tmp_path)).exit_code == 0
    data, manifest_path = _exported(tmp_path, "jsonl")
    manifest = json.loads(manifest_path.read_text())
    manifest_path.write_text(json.dumps({**manifest, "count": manifest["count"] - 1}))
    result = cli(settings, "audit", "verify", "--file", str(data), "--manifest", str(manifest_path))
    assert result.exit_code == 1
    says(json.loads(result.stdout)["reason"], "signature")


def test_cli_verify_refuses_an_export_re_signed_with_a_foreign_key(
    api: Api, settings: Settings, tmp_path: Path
) -> None:
    activity(api)
    assert cli(settings, "audit", "export", "--out", str(tmp_path)).exit_code == 0
    data, manifest_path = _exported(tmp_path, "jsonl")
    manifest = json.loads(manifest_path.read_text())
    entries = list(entries_from_text(data.read_text(encoding="utf-8"), "jsonl"))
    entries[-1] = {**entries[-1], "user_id": "cli:someone-else"}
    entries[-1]["hash"] = entry_hash(entries[-1])
    data.write_text("".join(lines(entries, "jsonl")), encoding="utf-8")
    where = LogFilter(until_seq=manifest["filters"]["until_seq"])
    forged = build_manifest(entries, where, "jsonl", ManifestSigner(b"f" * 32))
    manifest_path.write_text(json.dumps(forged))
    assert forged["key_id"] != api.context.signer.key_id
    result = cli(settings, "audit", "verify", "--file", str(data), "--manifest", str(manifest_path))
    assert result.exit_code == 1
    assert json.loads(result.stdout)["ok"] is False


@pytest.mark.parametrize("body", ["not json at all", "[1, 2, 3]", '{"seq": 2'])
def test_a_row_that_does_not_parse_is_named_as_the_first_bad_entry(api: Api, settings: Settings, body: str) -> None:
    activity(api)
    tamper(api, "UPDATE disclosure_log SET body = ? WHERE seq = 2", (body,))
    result = api.granskare.post(f"{AUDIT}/verify")
    assert result.status_code == 200, result.text
    assert (result.json()["ok"], result.json()["first_bad_seq"]) == (False, 2)
    says(result.json()["reason"], "entry 2", "does not parse")

    live = cli(settings, "audit", "verify")
    assert live.exit_code == 1 and "Traceback" not in live.output
    assert json.loads(live.stdout)["first_bad_seq"] == 2

    # An export carries the row as unreadable; verifying the exported file names it too.
    response, _, _ = export(api)
    checked = verify_export(response.text, "jsonl")
    assert (checked.ok, checked.first_bad_seq) == (False, 2)
    broken = response.text.replace('"seq":3', '"seq":3,', 1)  # a line that no longer parses
    assert verify_export(broken, "jsonl").first_bad_seq in (2, 3)
