"""Agency import of decisions (JSON Lines and CSV) through the application service, on SQLite and PostgreSQL."""

from __future__ import annotations

import csv
import io
import json
from collections import Counter
from dataclasses import dataclass, field
from datetime import date
from pathlib import Path
from typing import Any
from uuid import UUID

import pytest
import typer
from typer.testing import CliRunner

from adapters.disclosure_log import RECORDING_REFUSED, SEARCH, DisclosureLog, LogFilter
from adapters.importing import (
    MAX_LINE_BYTES,
    ImportFileError,
    ImportSummary,
    count_lines,
    default_rejects_path,
    import_decisions,
    import_decisions_command,
)
from adapters.read_service import ReadService
from adapters.settings import Settings
from adapters.signing import ManifestSigner
from adapters.storage import Storage
from coordination import CoordinationService
from coordination.catalogue import normalised
from coordination.personnummer import fictitious_personnummer
from projections.store import ProjectionStore
from tests.conftest import fixed_keys
from tests.support import by_source_ref, enrol, grant_consent

EXAMPLES = Path(__file__).resolve().parents[2] / "docs" / "examples"
UNKNOWN = fictitious_personnummer(date(1970, 1, 1), 99, gender="male")  # enrolled nowhere
AGENCY = {"jsonl": "FK", "csv": "AF"}
CATEGORY = {"FK": "insurance", "AF": "employment"}
USER = {"FK": "handlaggare-fk-7", "AF": "handlaggare-af-3"}


# Typed attributes of each agency's first row (the decision types' schemas in coordination/catalogue.py).
ATTRIBUTES = {"FK": {"omfattning": 50, "dagar": 56}, "AF": {"fran": "2026-03-02", "beviljad": True}}


def log_of(storage: Storage) -> DisclosureLog:
    return DisclosureLog(storage.service.factory.datastore)  # type: ignore[attr-defined]


def reads_of(storage: Storage) -> ReadService:
    """The read door over the test's storage (the importer's searches and refusals go through it)."""
    store = ProjectionStore(storage.service.factory.datastore, storage.events_table)  # type: ignore[attr-defined]
    return ReadService(storage.service, log_of(storage), store, ManifestSigner(b"a" * 32))


def event_count(service: CoordinationService, *case_ids: UUID) -> int:
    return sum(len(list(service.events.get(case_id))) for case_id in case_ids)


@dataclass
class Scenario:
    """Three enrolled participants (two with the agency's consent to SF) and an import file with one row of
    each kind; `expected` maps a rejected row's line to (source_ref, reason, field)."""

    fmt: str
    agency: str
    path: Path
    people: dict[str, str]  # name -> personnummer
    ids: dict[str, UUID]
    good: dict[str, tuple[str, str, str]] = field(default_factory=dict)  # source_ref -> (person, type, summary)
    expected: dict[int, tuple[str | None, str, str | None]] = field(default_factory=dict)
    secrets: list[str] = field(default_factory=list)  # what must never appear in rejects, summary or log

    @property
    def all_ids(self) -> list[UUID]:
        return list(self.ids.values())


def rows_for(agency: str, people: dict[str, str], ids: dict[str, UUID]) -> list[tuple[str, dict[str, Any]]]:
    """(kind, row) in file order; kind is "good" or the reason the row must be rejected with."""
    own = CATEGORY[agency]
    prefix = f"{agency}-2026-"
    return [
        (
            "good",
            {
                "personnummer": people["anna"],
                "category": own,
                "decision_type": "sjukpenning" if agency == "FK" else "inskrivning",
                "effective_date": "2026-03-02",
                "summary": "Hemlig sammanfattning ett: beviljad på halvtid,\nmed avstämning i april",
                "source_ref": prefix + "0001",
                "attributes": ATTRIBUTES[agency],
            },
        ),
        (
            "good",
            {
                "personnummer": people["bo"],
                "category": own,
                "decision_type": "rehabiliteringsersättning" if agency == "FK" else "lönebidrag",
                "effective_date": "2026-04-27",
                "summary": "Hemlig sammanfattning två",
                "source_ref": prefix + "0002",
            },
        ),
        (
            "consent-required",
            {
                "personnummer": people["cecilia"],
                "category": own,
                "decision_type": "sjukpenning" if agency == "FK" else "inskrivning",
                "effective_date": "2026-03-09",
                "summary": "Hemlig sammanfattning tre",
                "source_ref": prefix + "0003",
            },
        ),
        (
            "forbidden",
            {
                "personnummer": people["anna"],
                "category": "health",
                "decision_type": "sjukskrivning",
                "effective_date": "2026-03-10",
                "summary": "Hemlig sammanfattning fyra",
                "source_ref": prefix + "0004",
            },
        ),
        (
            "not-found",
            {
                "personnummer": UNKNOWN,
                "category": own,
                "decision_type": "sjukpenning" if agency == "FK" else "inskrivning",
                "effective_date": "2026-03-11",
                "summary": "Hemlig sammanfattning fem",
                "source_ref": prefix + "0005",
            },
        ),
        (
            "validation-error",
            {
                "personnummer": people["bo"],
                "category": own,
                "decision_type": "sjukpenning",
                "effective_date": "2026-02-30",
                "summary": "Hemlig sammanfattning sex",
                "source_ref": prefix + "0006",
            },
        ),
        ("malformed", {"personnummer": people["anna"], "summary": "Hemlig sammanfattning sju"}),
        (
            "good",
            {
                "participant_id": str(ids["bo"]),
                "category": own,
                "decision_type": "avstämningsmöte" if agency == "FK" else "arbetsmarknadsutbildning",
                "effective_date": "2026-04-14",
                "summary": "Hemlig sammanfattning åtta",
                "source_ref": prefix + "0008",
            },
        ),
    ]


EXPECTED_FIELD = {
    "consent-required": "category",
    "forbidden": "category",
    "not-found": "personnummer",
    "validation-error": "effective_date",
    "malformed": None,
}


def write_jsonl(path: Path, rows: list[tuple[str, dict[str, Any]]]) -> list[int]:
    """One object a line, a blank line after the second; the malformed row is cut off mid-object."""
    lines: list[str] = []
    starts: list[int] = []
    for index, (kind, row) in enumerate(rows):
        text = json.dumps(row, ensure_ascii=False)
        starts.append(len(lines) + 1)
        lines.append(text[: len(text) // 2] if kind == "malformed" else text)
        if index == 1:
            lines.append("   ")
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return starts


def write_csv(path: Path, rows: list[tuple[str, dict[str, Any]]]) -> list[int]:
    """A header row, then one record a row (the first summary spans two lines); the malformed row lacks columns."""
    columns = ["personnummer", "participant_id", "category", "decision_type", "effective_date", "summary"]
    columns += ["source_ref", "attributes"]
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\n")
    writer.writerow(columns)
    starts = []
    for kind, row in rows:
        starts.append(out.getvalue().count("\n") + 1)
        cells = {**row, "attributes": json.dumps(row["attributes"]) if "attributes" in row else ""}
        if kind == "malformed":
            writer.writerow([row["personnummer"], "", row["summary"]])
        else:
            writer.writerow([cells.get(name, "") for name in columns])
    path.write_text(out.getvalue(), encoding="utf-8")
    return starts


@pytest.fixture(params=["jsonl", "csv"])
def scenario(request: pytest.FixtureRequest, storage: Storage, tmp_path: Path) -> Scenario:
    fmt = str(request.param)
    agency = AGENCY[fmt]
    service = storage.service
    people = {
        "anna": fictitious_personnummer(date(1984, 3, 17), 23, gender="female"),
        "bo": fictitious_personnummer(date(1979, 11, 2), 58, gender="male"),
        "cecilia": fictitious_personnummer(date(1991, 6, 28), 7, gender="female"),
    }
    ids = {
        name: enrol(service, personnummer=number, given_name=name.title(), family_name="Importsson")
        for name, number in people.items()
    }
    for name in ("anna", "bo"):
        grant_consent(service, ids[name], (agency, "SF", [CATEGORY[agency]]))
    # Cecilia's consent lets the förbund share with the agency, not the agency with the förbund: the agency has a
    # part in her case (so its lookup finds her) but may not record in it.
    grant_consent(service, ids["cecilia"], ("SF", agency, ["coordination"]))
    rows = rows_for(agency, people, ids)
    path = tmp_path / f"{agency.lower()}-export.{fmt}"
    starts = (write_jsonl if fmt == "jsonl" else write_csv)(path, rows)
    result = Scenario(fmt, agency, path, people, ids)
    for (kind, row), line in zip(rows, starts, strict=True):
        if kind == "good":
            person = next((n for n, p in people.items() if p == row.get("personnummer")), "bo")
            result.good[row["source_ref"]] = (person, row["decision_type"], row["summary"])
        else:
            source_ref = None if kind == "malformed" else row["source_ref"]
            result.expected[line] = (source_ref, kind, EXPECTED_FIELD[kind])
        result.secrets.append(row["summary"])
    numbers = [*people.values(), UNKNOWN]
    result.secrets += numbers + [n.replace("-", "") for n in numbers] + [n.replace("-", "")[2:] for n in numbers]
    return result


def run_import(storage: Storage, scenario: Scenario, progress: list[int] | None = None) -> ImportSummary:
    return import_decisions(
        reads_of(storage),
        scenario.path,
        agency=scenario.agency,
        user_id=USER[scenario.agency],
        progress=None if progress is None else progress.append,
    )


def assert_no_secrets(text: str, scenario: Scenario) -> None:
    for secret in scenario.secrets:
        assert secret not in text
    assert "Hemlig" not in text


def test_import_records_good_rows_and_rejects_the_rest(storage: Storage, scenario: Scenario) -> None:
    service = storage.service
    progress: list[int] = []

    summary = run_import(storage, scenario, progress)

    assert (summary.read, summary.recorded, summary.already_recorded, summary.rejected) == (8, 3, 0, 5)
    assert summary.by_reason == Counter(
        {"consent-required": 1, "forbidden": 1, "not-found": 1, "validation-error": 1, "malformed": 1}
    )
    assert not summary.ok
    assert sum(progress) == count_lines(scenario.path)

    # The good rows are stored as the agency's decisions, through the gate (under the consent).
    stored = {
        ref: (name, d)
        for name, case_id in scenario.ids.items()
        for ref, d in by_source_ref(service, case_id, scenario.good).items()
    }
    assert set(stored) == set(scenario.good)
    for source_ref, (person, decision_type, text) in scenario.good.items():
        name, decision = stored[source_ref]
        assert name == person
        assert (decision.agency.value, decision.category, decision.decision_type) == (
            scenario.agency,
            CATEGORY[scenario.agency],
            normalised(decision_type),
        )
        assert decision.allowed_by is not None
        assert service.vault.unseal(scenario.ids[person], decision.summary) == text
    first = stored[f"{scenario.agency}-2026-0001"][1]
    assert first.attributes == ATTRIBUTES[scenario.agency]
    assert first.effective_date == date(2026, 3, 2)
    assert service.get_case(scenario.ids["cecilia"]).decisions == {}

    # The rejects file: line, source_ref, reason and field; nothing personal.
    assert summary.rejects_path == default_rejects_path(scenario.path)
    text = summary.rejects_path.read_text(encoding="utf-8")
    rejects = [json.loads(line) for line in text.splitlines()]
    assert {r["line"]: (r["source_ref"], r["reason"], r.get("field")) for r in rejects} == scenario.expected
    assert all(set(r) <= {"line", "source_ref", "reason", "field", "detail"} for r in rejects)
    consent_reject = next(r for r in rejects if r["reason"] == "consent-required")
    assert f"{scenario.agency} -> SF: {CATEGORY[scenario.agency]}" in consent_reject["detail"]
    assert_no_secrets(text, scenario)
    assert_no_secrets(json.dumps(summary.as_dict(), ensure_ascii=False), scenario)

    # The gate's refusals are in the disclosure log, without content; nothing there names a person.
    entries = list(log_of(storage).entries())
    refused = {e["participant_id"]: e for e in entries if e["kind"] == RECORDING_REFUSED}
    assert set(refused) == {str(scenario.ids["cecilia"]), str(scenario.ids["anna"])}
    by_consent = refused[str(scenario.ids["cecilia"])]
    assert by_consent["reason"] == "consent-required"
    assert by_consent["details"]["missing_grant"] == f"{scenario.agency} -> SF: {CATEGORY[scenario.agency]}"
    assert refused[str(scenario.ids["anna"])]["reason"] == "forbidden"
    for entry in refused.values():
        assert (entry["user_id"], entry["agency"], entry["role"]) == (
            USER[scenario.agency],
            scenario.agency,
            "handlaggare",
        )
        assert (entry["request_id"], entry["purpose"], entry["outcome"]) == (
            f"import:{scenario.path.name}",
            "import",
            "refused",
        )
    # The lookups by personnummer are logged like searches, never the number itself: one entry for the batch
    # naming every participant found (anna, bo, and cecilia, in whose case the agency has a part), one for the
    # unknown number (not the bad date's row: it is rejected before any lookup).
    searches = [e for e in entries if e["kind"] == SEARCH]
    assert sorted(e["outcome"] for e in searches) == ["disclosed", "not-found"]
    batch = next(e for e in searches if e["outcome"] == "disclosed")
    assert batch["participant_id"] is None
    assert set(batch["details"]["subjects"]) == {str(scenario.ids[n]) for n in ("anna", "bo", "cecilia")}
    missing = next(e for e in searches if e["outcome"] == "not-found")
    unknown_line = next(line for line, (_, reason, _) in scenario.expected.items() if reason == "not-found")
    assert missing["participant_id"] is None and missing["details"] == {"line": unknown_line}
    for name in ("anna", "bo", "cecilia"):  # each participant's own log finds the batch's entry
        assert batch["seq"] in [e["seq"] for e in log_of(storage).entries(LogFilter(participant_id=scenario.ids[name]))]
    assert_no_secrets(json.dumps(entries, ensure_ascii=False), scenario)


def test_reimport_records_nothing_new(storage: Storage, scenario: Scenario) -> None:
    service = storage.service
    first = run_import(storage, scenario)
    assert first.recorded == 3
    events = event_count(service, *scenario.all_ids)
    first_rejects = scenario.path.with_name(scenario.path.name + ".rejects.jsonl").read_text(encoding="utf-8")

    again = run_import(storage, scenario)

    assert event_count(service, *scenario.all_ids) == events
    assert (again.read, again.recorded, again.already_recorded, again.rejected) == (8, 0, 3, 5)
    assert again.by_reason == first.by_reason
    assert again.rejects_path.read_text(encoding="utf-8") == first_rejects  # rewritten, not appended to
    decisions = [d for case_id in scenario.all_ids for d in service.get_case(case_id).decisions.values()]
    refs = [ref for case_id in scenario.all_ids for ref in by_source_ref(service, case_id, scenario.good)]
    assert len(decisions) == len(refs) and sorted(refs) == sorted(scenario.good)


def test_explicit_format_and_rejects_path(storage: Storage, tmp_path: Path) -> None:
    service = storage.service
    number = fictitious_personnummer(date(1990, 5, 17), 42, gender="female")
    case_id = enrol(service, personnummer=number)
    grant_consent(service, case_id, ("KOMMUN", "SF", ["social"]))
    export = tmp_path / "export.txt"  # a suffix that names no format
    # A spreadsheet's export: byte order mark, semicolons, CRLF, a trailing row of empty cells.
    export.write_bytes(
        b"\xef\xbb\xbfparticipant_id;category;decision_type;effective_date;summary;source_ref\r\n"
        + f"{case_id};social;försörjningsstöd;2026-05-01;Beviljat för maj;KOM-17\r\n".encode()
        + f"{case_id};social;boendestöd;2026-05-02;Beviljat;KOM-18;extra\r\n".encode()
        + f"{case_id};social;boendestöd;2026-05-03;".encode()
        + b"\xff\xfe trasig text;KOM-19\r\n;;;;;\r\n"
    )
    with pytest.raises(ImportFileError, match="format"):
        import_decisions(reads_of(storage), export, agency="KOMMUN", user_id="u1")
    rejects = tmp_path / "out" / "kommun-rejects.jsonl"
    rejects.parent.mkdir()

    summary = import_decisions(
        reads_of(storage), export, agency="kommun", user_id="u1", fmt="csv", rejects_path=rejects
    )

    assert (summary.read, summary.recorded, summary.rejected) == (3, 1, 2)
    found = [json.loads(line) for line in rejects.read_text(encoding="utf-8").splitlines()]
    assert [(r["line"], r["reason"]) for r in found] == [(3, "malformed"), (4, "malformed")]
    assert "columns" in found[0]["detail"]
    assert "UTF-8" in found[1]["detail"]
    assert not default_rejects_path(export).exists()
    assert list(by_source_ref(service, case_id, ["KOM-17", "KOM-18", "KOM-19"])) == ["KOM-17"]
    assert len(service.get_case(case_id).decisions) == 1


def test_unusable_file_or_argument_imports_nothing(storage: Storage, tmp_path: Path) -> None:
    number = fictitious_personnummer(date(1984, 3, 17), 23, gender="female")
    good_row = f"{number},insurance,sjukpenning,2026-03-02,Text,FK-1,\n"
    cases = {
        "no-header.csv": (good_row, "header row"),
        "agency-column.csv": (
            "personnummer,agency,category,decision_type,effective_date,summary,source_ref\n",
            "agency",
        ),
        "no-date.csv": ("personnummer,category,decision_type,summary,source_ref\n", "effective_date"),
        "no-person.csv": ("category,decision_type,effective_date,summary,source_ref\n", "participant_id"),
        "twice.csv": (
            "personnummer,personnummer,category,decision_type,effective_date,summary,source_ref\n",
            "more than once",
        ),
        "blank-first.csv": ("\n" + good_row, "header row"),
    }
    for name, (content, message) in cases.items():
        path = tmp_path / name
        path.write_text(content, encoding="utf-8")
        with pytest.raises(ImportFileError, match=message) as refused:
            import_decisions(reads_of(storage), path, agency="FK", user_id="u1")
        assert number not in str(refused.value)
        assert number.replace("-", "") not in str(refused.value)
        assert not default_rejects_path(path).exists()
    path = tmp_path / "fine.jsonl"
    path.write_text("", encoding="utf-8")
    arguments: list[tuple[dict[str, Any], str]] = [
        ({"agency": "SF"}, "--agency"),
        ({"agency": "FK", "user_id": " "}, "user id"),
        ({"agency": "FK", "fmt": "xml"}, "format"),
        ({"agency": "FK", "rejects_path": path}, "rejects file"),
    ]
    for kwargs, message in arguments:
        with pytest.raises(ImportFileError, match=message):
            import_decisions(reads_of(storage), path, **{"user_id": "u1", **kwargs})
    with pytest.raises(ImportFileError, match="no such file"):
        import_decisions(reads_of(storage), tmp_path / "missing.jsonl", agency="FK", user_id="u1")
    empty = import_decisions(reads_of(storage), path, agency="FK", user_id="u1")
    assert (empty.read, empty.rejected, empty.ok) == (0, 0, True)


def test_row_level_problems_are_rejects_not_crashes(storage: Storage, tmp_path: Path) -> None:
    service = storage.service
    number = fictitious_personnummer(date(1984, 3, 17), 23, gender="female")
    case_id = enrol(service, personnummer=number)
    grant_consent(service, case_id, ("FK", "SF", ["insurance"]))
    base = {"category": "insurance", "decision_type": "sjukpenning", "effective_date": "2026-03-02"}
    lines = [
        json.dumps({**base, "personnummer": number, "summary": "ok", "source_ref": "FK-1"}),
        json.dumps([1, 2]),
        json.dumps({**base, "personnummer": number, "participant_id": str(case_id), "summary": "x", "source_ref": "2"}),
        json.dumps({**base, "summary": "nobody", "source_ref": "FK-3"}),
        json.dumps({**base, "personnummer": "19840317-2368", "summary": "x", "source_ref": "FK-4"}),  # check digit
        json.dumps({**base, "personnummer": number, "agency": "AF", "summary": "x", "source_ref": "FK-5"}),
        json.dumps(
            {**base, "participant_id": "00000000-0000-4000-8000-000000000000", "summary": "x", "source_ref": "6"}
        ),
        json.dumps({**base, "personnummer": number, "summary": "x", "source_ref": f"FK-{number}"}),
        json.dumps({**base, "personnummer": number, "summary": "   ", "source_ref": "FK-9"}),
        json.dumps({**base, "personnummer": number, "summary": "x", "source_ref": "FK-10", "attributes": {"a": [1]}}),
        '{"personnummer": "' + number + '", "summary": "x" "source_ref": "FK-11"}',
    ]
    path = tmp_path / "fk.ndjson"
    path.write_bytes("\n".join(lines).encode() + b"\n\xff\xfe\n")  # the last line is not UTF-8

    summary = import_decisions(reads_of(storage), path, agency="FK", user_id="u1")

    assert (summary.read, summary.recorded, summary.rejected) == (12, 1, 11)
    found = {r["line"]: r for r in map(json.loads, summary.rejects_path.read_text(encoding="utf-8").splitlines())}
    assert {line: (r["reason"], r.get("field")) for line, r in found.items()} == {
        2: ("malformed", None),
        3: ("validation-error", "personnummer"),
        4: ("validation-error", "personnummer"),
        5: ("validation-error", "personnummer"),
        6: ("validation-error", "agency"),
        7: ("not-found", "participant_id"),
        8: ("validation-error", "source_ref"),
        9: ("validation-error", "summary"),
        10: ("validation-error", "attributes.a"),
        11: ("malformed", None),
        12: ("malformed", None),
    }
    assert found[8]["source_ref"] is None  # it holds the personnummer: withheld
    assert "--agency" in found[6]["detail"]
    assert found[5]["source_ref"] == "FK-4"
    text = summary.rejects_path.read_text(encoding="utf-8")
    assert number not in text
    assert number.replace("-", "") not in text
    assert "nobody" not in text


def test_documented_examples_import_cleanly(storage: Storage, tmp_path: Path) -> None:
    service = storage.service
    files = {"FK": EXAMPLES / "fk-decisions.jsonl", "AF": EXAMPLES / "af-decisions.csv"}
    numbers: dict[str, set[str]] = {}
    for agency, path in files.items():
        if path.suffix == ".csv":
            with path.open(encoding="utf-8", newline="") as handle:
                numbers[agency] = {row["personnummer"] for row in csv.DictReader(handle)}
        else:
            numbers[agency] = {json.loads(line)["personnummer"] for line in path.read_text().splitlines()}
    ids = {n: enrol(service, personnummer=n) for n in set().union(*numbers.values())}
    for agency, category in CATEGORY.items():
        for number in numbers[agency]:
            grant_consent(service, ids[number], (agency, "SF", [category]))

    for agency, path in files.items():
        copy = tmp_path / path.name  # the rejects file goes next to the input: not into docs/
        copy.write_bytes(path.read_bytes())
        summary = import_decisions(reads_of(storage), copy, agency=agency, user_id=f"{agency}-1")
        assert (summary.read, summary.recorded, summary.rejected) == (count_lines(copy) - (agency == "AF"), 5, 0)
        again = import_decisions(reads_of(storage), copy, agency=agency, user_id=f"{agency}-1")
        assert (again.recorded, again.already_recorded, again.rejected) == (0, 5, 0)


def test_command_exit_codes(storage: Storage, settings: Settings, scenario: Scenario, tmp_path: Path) -> None:
    app = typer.Typer()
    app.command()(import_decisions_command)
    runner = CliRunner()
    env = {"SAMVERKAN_DATABASE_URL": settings.database_url, "SAMVERKAN_KEY_FILE": str(tmp_path / "keys.json")}
    env |= {f"SAMVERKAN_{name.upper()}": value for name, value in fixed_keys().items()}
    arguments = [str(scenario.path), "--agency", scenario.agency.lower(), "--user", USER[scenario.agency]]

    with_rejects = runner.invoke(app, arguments, env=env)
    assert with_rejects.exit_code == 1, with_rejects.output
    assert "recorded now" in with_rejects.output
    assert "rejects.jsonl" in with_rejects.output
    assert_no_secrets(with_rejects.output, scenario)
    assert event_count(storage.service, *scenario.all_ids) > len(scenario.all_ids)

    good = scenario.path.with_name(f"good.{scenario.fmt}")
    rows = [(kind, row) for kind, row in rows_for(scenario.agency, scenario.people, scenario.ids) if kind == "good"]
    (write_jsonl if scenario.fmt == "jsonl" else write_csv)(good, rows)
    all_good = runner.invoke(app, [str(good), "--agency", scenario.agency], env=env)
    assert all_good.exit_code == 0, all_good.output
    assert "already recorded" in all_good.output

    assert runner.invoke(app, [str(good), "--agency", "SF"], env=env).exit_code == 2
    assert runner.invoke(app, [str(good), "--agency", "FK", "--format", "xml"], env=env).exit_code == 2
    assert runner.invoke(app, [str(tmp_path / "missing.csv"), "--agency", "FK"], env=env).exit_code == 2


def test_oversized_lines_and_non_standard_json_are_rejected(storage: Storage, tmp_path: Path) -> None:
    service = storage.service
    case_id = enrol(service)
    grant_consent(service, case_id, ("REGION", "SF", ["health"]))
    base = {"participant_id": str(case_id), "category": "health", "decision_type": "remiss"}
    base |= {"effective_date": "2026-06-01", "summary": "Remiss till psykiatrin"}
    path = tmp_path / "region.jsonl"
    with path.open("w", encoding="utf-8") as handle:
        handle.write(json.dumps({**base, "source_ref": "R-1", "summary": "x" * MAX_LINE_BYTES}) + "\n")
        handle.write(json.dumps({**base, "source_ref": "R-2", "attributes": {"dos": float("nan")}}) + "\n")
        handle.write("[" * 100_000 + "\n")
        handle.write(json.dumps({**base, "source_ref": "R-3"}) + "\n")
    csv_path = tmp_path / "region.csv"
    csv_path.write_text(
        "participant_id,category,decision_type,effective_date,summary,source_ref,attributes\n"
        f"{case_id},health,remiss,2026-06-01,Remiss,R-4,{{not json}}\n"
        f'{case_id},health,remiss,2026-06-01,Remiss,R-5,"[1, 2]"\n'
        f'{case_id},health,remiss,2026-06-01,Remiss,R-6,"{{""brådskande"": true}}"\n',
        encoding="utf-8",
    )

    summary = import_decisions(reads_of(storage), path, agency="REGION", user_id="u1")
    in_csv = import_decisions(reads_of(storage), csv_path, agency="REGION", user_id="u1")

    found = [json.loads(line) for line in summary.rejects_path.read_text(encoding="utf-8").splitlines()]
    assert [(r["line"], r["reason"]) for r in found] == [(1, "malformed"), (2, "malformed"), (3, "malformed")]
    assert (summary.read, summary.recorded) == (4, 1)
    found = [json.loads(line) for line in in_csv.rejects_path.read_text(encoding="utf-8").splitlines()]
    assert [(r["line"], r["reason"], r["field"]) for r in found] == [
        (2, "validation-error", "attributes"),
        (3, "validation-error", "attributes"),
    ]
    decisions = by_source_ref(service, case_id, [f"R-{n}" for n in range(1, 7)])
    assert set(decisions) == {"R-3", "R-6"}
    assert decisions["R-6"].attributes == {"bradskande": True}  # the Swedish spelling, as the catalogue's code
