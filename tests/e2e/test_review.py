"""The log review through HTTP (granskning): the queue holds a reproducible sample and the flagged entries, a mark
is an appended, hash-chained entry whose comment is sealed, and the queue exports as CSV and JSON Lines."""

from __future__ import annotations

import csv
import io
import json
from datetime import UTC, date, datetime
from pathlib import Path
from typing import Any

from adapters.disclosure_log import LogFilter
from adapters.settings import Settings
from coordination.personnummer import fictitious_personnummer
from tests.e2e.conftest import Api
from tests.e2e.scenario import consent_body, decision_body, enrol
from tests.e2e.test_audit_api import cli

COMMENT = "Frågat REGION:s chef om skälet till nödåtkomsten"


def today() -> str:
    return datetime.now(UTC).date().isoformat()


def period(**more: Any) -> dict[str, Any]:
    return {"from": today(), "to": today(), **more}


def story(api: Api, serial: int = 1) -> dict[str, Any]:
    """AF reads under consent; REGION opens an emergency access and reads; FK blocks AF, whose next read is
    refused."""
    pid = enrol(api, personnummer=fictitious_personnummer(date(1981, 12, 18), serial, gender="female"))
    base = f"/api/v1/participants/{pid}"
    api.samordnare.post(
        f"{base}/consents", consent_body(("FK", "SF", ["insurance"]), ("FK", "AF", ["insurance"]))
    ).raise_for_status()
    fk, af, region = api.handlaggare("FK"), api.handlaggare("AF"), api.handlaggare("REGION")
    fk.post(f"{base}/decisions", decision_body(category="insurance.sickness")).raise_for_status()
    assert af.get(f"{base}/view").status_code == 200
    note = {"reason": "fara-for-liv-eller-halsa", "note": "Akut läge, behöver se FK:s beslut nu"}
    assert region.post(f"{base}/emergency-access", note).status_code == 201
    assert region.get(f"{base}/view").status_code == 200
    fk.post(f"{base}/blocks", {"recipient": "AF"}).raise_for_status()
    assert af.get(f"{base}/view").status_code == 403
    seqs = {
        (e["kind"], e["agency"], e["outcome"]): e["seq"]
        for e in api.context.log.entries(LogFilter(participant_id=pid))  # type: ignore[arg-type]
    }
    return {"pid": pid, "seqs": seqs}


def flags(item: dict[str, Any]) -> set[str]:
    return {f["rule"] for f in item["flags"]}


def test_the_queue_holds_the_sample_and_every_flagged_entry_with_its_rule(api: Api) -> None:
    s = story(api)
    answer = api.granskare.get("/api/v1/audit/review", params=period(sample=1000))
    assert answer.status_code == 200, answer.text
    queue = answer.json()
    by_seq = {item["seq"]: item for item in queue["entries"]}
    seqs = s["seqs"]
    af_read = by_seq[seqs[("view", "AF", "disclosed")]]
    assert af_read["sampled"] is True
    assert af_read["consents"]  # the consent the read was made under
    opening = by_seq[seqs[("emergency-access", "REGION", "opened")]]
    assert "emergency" in flags(opening)
    emergency_read = by_seq[seqs[("view", "REGION", "disclosed")]]
    assert "emergency" in flags(emergency_read)
    assert emergency_read["purpose"] == "nodatkomst"
    refused = by_seq[seqs[("view-refused", "AF", "refused")]]
    assert "blocked" in flags(refused)
    assert refused["sampled"] is False  # the sample draws from what was shown; flags bring in the rest
    assert "blocked" not in flags(af_read)  # read before the block
    assert queue["rules"]["office_hours"] == "07:00-18:00"
    # The review is itself logged, with its seed.
    last = list(api.context.log.entries(LogFilter()))[-1]
    assert (last["kind"], last["details"]["seed"]) == ("review", queue["seed"])


def test_the_same_seed_draws_the_same_sample(api: Api) -> None:
    for serial in range(1, 4):
        story(api, serial)
    first = api.granskare.get("/api/v1/audit/review", params=period(sample=3)).json()
    again = api.granskare.get("/api/v1/audit/review", params=period(sample=3, seed=first["seed"])).json()
    assert first["seed"] == again["seed"]
    sampled = [i["seq"] for i in first["entries"] if i["sampled"]]
    assert len(sampled) == 3
    assert sampled == [i["seq"] for i in again["entries"] if i["sampled"]]


def test_a_mark_is_an_appended_entry_with_its_comment_sealed_and_the_queue_shows_it(api: Api) -> None:
    s = story(api)
    reviewed = s["seqs"][("view", "REGION", "disclosed")]
    granskare = api.granskare
    marked = granskare.post(f"/api/v1/audit/review/{reviewed}", {"outcome": "foljs-upp", "comment": COMMENT})
    assert marked.status_code == 201, marked.text
    mark_seq = marked.json()["seq"]
    stored = next(iter(api.context.log.entries(LogFilter(after_seq=mark_seq - 1, until_seq=mark_seq))))
    assert (stored["kind"], stored["details"]["seq"], stored["details"]["outcome"]) == (
        "review-mark",
        reviewed,
        "foljs-upp",
    )
    assert COMMENT not in json.dumps(stored, ensure_ascii=False)  # sealed under the participant's key
    queue = granskare.get("/api/v1/audit/review", params=period(sample=0)).json()
    item = next(i for i in queue["entries"] if i["seq"] == reviewed)
    assert item["review"]["outcome"] == "foljs-upp"
    assert item["review"]["comment"] == COMMENT
    # A later mark supersedes it; the chain still verifies.
    granskare.post(f"/api/v1/audit/review/{reviewed}", {"outcome": "utan-anmarkning"}).raise_for_status()
    queue = granskare.get("/api/v1/audit/review", params=period(sample=0)).json()
    item = next(i for i in queue["entries"] if i["seq"] == reviewed)
    assert (item["review"]["outcome"], item["review"]["comment"]) == ("utan-anmarkning", None)
    assert granskare.post("/api/v1/audit/verify").json()["ok"] is True


def test_marks_are_checked(api: Api) -> None:
    s = story(api)
    reviewed = s["seqs"][("view", "AF", "disclosed")]
    granskare = api.granskare
    wrong = granskare.post(f"/api/v1/audit/review/{reviewed}", {"outcome": "bra"})
    assert wrong.status_code == 422
    assert wrong.json()["errors"][0]["field"] == "outcome"
    assert granskare.post("/api/v1/audit/review/999999", {"outcome": "foljs-upp"}).status_code == 404
    review_entry = granskare.get("/api/v1/audit/review", params=period()).status_code
    assert review_entry == 200
    head = api.context.log.head()[0]  # the review's own entry is not itself reviewed
    assert granskare.post(f"/api/v1/audit/review/{head}", {"outcome": "foljs-upp"}).status_code == 422
    for other in (api.samordnare, api.handlaggare("AF"), api.admin):
        assert other.post(f"/api/v1/audit/review/{reviewed}", {"outcome": "foljs-upp"}).status_code == 403
        assert other.get("/api/v1/audit/review", params=period()).status_code == 403


def test_the_queue_exports_as_csv_and_json_lines(api: Api) -> None:
    story(api)
    as_json = api.granskare.get("/api/v1/audit/review", params=period(seed=11)).json()
    as_csv = api.granskare.get("/api/v1/audit/review", params=period(seed=11, format="csv"))
    assert as_csv.status_code == 200
    assert as_csv.headers["content-type"].startswith("text/csv")
    assert as_csv.headers["x-samverkan-seed"] == "11"
    rows = list(csv.DictReader(io.StringIO(as_csv.text)))
    assert [int(r["seq"]) for r in rows] == [i["seq"] for i in as_json["entries"]]
    assert {rule for r in rows for rule in r["flags"].split(";")} >= {"emergency", "blocked"}
    as_jsonl = api.granskare.get("/api/v1/audit/review", params=period(seed=11, format="jsonl"))
    lines = [json.loads(line) for line in as_jsonl.text.splitlines()]
    assert [i["seq"] for i in lines] == [i["seq"] for i in as_json["entries"]]


def test_the_period_is_checked(api: Api) -> None:
    granskare = api.granskare
    for params, field in (
        ({"to": today()}, "from"),
        ({"from": "2026-11-30", "to": "2026-11-01"}, "to"),
        ({"from": "2026-11-01T08:00:00", "to": today()}, "from"),
        ({"from": "förra veckan", "to": today()}, "from"),
    ):
        answer = granskare.get("/api/v1/audit/review", params=params)
        assert answer.status_code == 422, (params, answer.text)
        assert answer.json()["type"].endswith("/validation-error")
        assert field in json.dumps(answer.json())
        assert "förra veckan" not in answer.text


def test_the_command_line_gives_the_same_queue_for_the_same_seed(api: Api, settings: Settings, tmp_path: Path) -> None:
    story(api)
    target = tmp_path / "granskning.csv"
    done = cli(settings, "audit", "review", "--from", today(), "--to", today(), "--seed", "5", "--output", str(target))
    assert done.exit_code == 0, done.output
    assert "seed 5" in done.output
    rows = list(csv.DictReader(io.StringIO(target.read_text(encoding="utf-8"))))
    queue = api.granskare.get("/api/v1/audit/review", params=period(seed=5)).json()
    assert [int(r["seq"]) for r in rows] == [i["seq"] for i in queue["entries"]]
    assert [r["sampled"] == "yes" for r in rows] == [i["sampled"] for i in queue["entries"]]
    as_jsonl = cli(settings, "audit", "review", "--from", today(), "--to", today(), "--format", "jsonl")
    assert as_jsonl.exit_code == 0
    wrong = cli(settings, "audit", "review", "--from", "igår", "--to", today())
    assert wrong.exit_code == 2
    assert "2026-11-01" in wrong.output  # says what to write
