"""PII scans: a whole case typed through HTTP into a real `samverkan serve` (logging at DEBUG, structlog JSON on
stderr), with a distinctive personnummer and a marker word in every free-text field (the markers of
tests/e2e/test_erasure_markers.py), then a problem answer of every kind provoked with the same markers in the
request. The markers must never appear in:

- the service's log (every line it wrote, the server stopped cleanly so nothing is left in a buffer);
- any problem body (401, 403, 404, 405, 409, 413, 414, 422, 431);
- the disclosure log's export (jsonl, csv, fhir) and its manifest;
- the database (SQLite file and WAL, or pg_dump of the schema), where they are only sealed.

Both engines. The service itself must still read the markers back (they were stored, sealed), so a scan that
finds nothing is not a scan of nothing.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from datetime import date
from pathlib import Path

import httpx

from adapters.auth import issue_token
from adapters.settings import Settings
from adapters.storage import parse_database_url
from coordination.personnummer import fictitious_personnummer
from tests.conftest import fixed_keys
from tests.e2e.conftest import Caller
from tests.e2e.scenario import decision_body
from tests.e2e.test_erasure_markers import MARKERS, dump_target, found, type_markers
from tests.reliability.conftest import Server

PERSONNUMMER = fictitious_personnummer(date(1958, 11, 3), 71, gender="female")
UNENROLLED = fictitious_personnummer(date(1958, 11, 5), 73, gender="female")
# Every way the number can be written: 12 or 10 digits, with or without the separator.
NUMBER_FORMS = sorted(
    {PERSONNUMMER, PERSONNUMMER.replace("-", ""), PERSONNUMMER[2:], PERSONNUMMER[2:].replace("-", "")}, key=len
)


class Remote:
    """The callers of tests/e2e/conftest.py's Api, against a real server over a socket."""

    def __init__(self, base: str, secret: bytes) -> None:
        self.client = httpx.Client(base_url=base, timeout=30)
        self.secret = secret

    def headers(self, role: str, agency: str) -> dict[str, str]:
        token = issue_token(self.secret, sub=f"{role}-{agency.lower()}", agency=agency, role=role)
        return {"Authorization": f"Bearer {token}"}

    def as_(self, role: str, agency: str) -> Caller:
        return Caller(self.client, self.headers(role, agency))  # type: ignore[arg-type]

    @property
    def samordnare(self) -> Caller:
        return self.as_("samordnare", "SF")

    @property
    def granskare(self) -> Caller:
        return self.as_("granskare", "SF")

    @property
    def admin(self) -> Caller:
        return self.as_("admin", "SF")

    def handlaggare(self, agency: str) -> Caller:
        return self.as_("handlaggare", agency)


def leaks(text: bytes) -> list[str]:
    """The markers and forms of the personnummer found in `text` (case-insensitive, UTF-8 or UTF-16)."""
    forms = [*NUMBER_FORMS, UNENROLLED, UNENROLLED.replace("-", "")]
    numbers = [n for n in forms if n.encode() in text or n.encode("utf-16-le") in text]
    return found(text) + numbers


def provoke_problems(remote: Remote, pid: str) -> list[httpx.Response]:
    """A problem answer of each kind, each request carrying markers (in a body, a path, a query, a header)."""
    m, sf, fk, af = MARKERS, remote.samordnare, remote.handlaggare("FK"), remote.handlaggare("AF")
    http = remote.client
    base = f"/api/v1/participants/{pid}"
    person = {"personnummer": PERSONNUMMER, "given_name": m["given_name"], "family_name": m["family_name"]}
    # The marked case is closed: refusals by consent and by category are asked on an open case (marked names too).
    second = {**person, "personnummer": fictitious_personnummer(date(1958, 11, 4), 72, gender="male")}
    other = f"/api/v1/participants/{sf.post('/api/v1/participants', second).json()['id']}"
    answers: list[tuple[int, httpx.Response]] = [
        # 401: no token, a personnummer as the token, a marker as the token.
        (401, http.get(f"{base}/view")),
        (401, http.get(f"{base}/view", headers={"Authorization": f"Bearer {PERSONNUMMER}"})),
        (401, http.post("/api/v1/participants", json=person, headers={"Authorization": f"Bearer {m['notes']}.x.y"})),
        # 403: by role, by a missing consent, by another party's category.
        (403, fk.post("/api/v1/participants", person)),
        (
            403,
            af.post(f"{other}/decisions", decision_body("employment", source_ref=m["source_ref"], summary=m["notes"])),
        ),
        (403, fk.post(f"{other}/decisions", decision_body("health", source_ref=m["source_ref"], summary=m["notes"]))),
        (403, remote.handlaggare("KOMMUN").get(f"{base}/view")),
        # 404: a search nobody may answer, an unknown participant, an unknown path holding a marker.
        (404, remote.handlaggare("REGION").post("/api/v1/participants/search", {"personnummer": PERSONNUMMER})),
        (404, sf.post("/api/v1/participants/search", {"personnummer": UNENROLLED})),
        (404, sf.get("/api/v1/participants/00000000-0000-4000-8000-000000000000/view")),
        (404, sf.get(f"/api/v1/{m['summary']}/{PERSONNUMMER}")),
        # 405: a method the route does not take, with markers in the query.
        (405, sf.get(f"{base}/decisions", params={"q": m["summary"], "personnummer": PERSONNUMMER})),
        # 409: the same person again; a decision on a closed case.
        (409, sf.post("/api/v1/participants", person)),
        (409, fk.post(f"{base}/decisions", decision_body(source_ref=m["notes"], summary=m["summary"]))),
        # 414, 431: a target and a header over their limits, made of markers.
        (414, sf.get(f"{base}/view", params={"q": f"{m['summary']}{PERSONNUMMER}" * 400})),
        (431, sf.get(f"{base}/view", headers={"X-Note": f"{m['notes']}{PERSONNUMMER}" * 800})),
        # 413: a body over 1 MiB of markers.
        (413, sf.post("/api/v1/participants", {**person, "family_name": m["family_name"] * 70_000})),
        # 422: a number in a path, a bad number, a bad date, a code field, a purpose, a filter, an unknown key,
        # control characters, a body that is not JSON.
        (422, sf.get(f"/api/v1/participants/{PERSONNUMMER}/view")),
        (422, sf.post("/api/v1/participants", {**person, "personnummer": PERSONNUMMER[:-1] + "0"})),
        (422, sf.post(f"{base}/meetings", {"date": f"{m['notes']}-{PERSONNUMMER}", "attended": True})),
        (422, fk.post(f"{base}/decisions", decision_body(source_ref="X-1", decision_type=m["summary"]))),
        (422, sf.get(f"{base}/view", headers={"X-Samverkan-Purpose": f"{m['notes']} {PERSONNUMMER}"})),
        (422, remote.granskare.get("/api/v1/audit/disclosures", params={"agency": m["notes"], "from": PERSONNUMMER})),
        (422, sf.post(f"{base}/plan", {"goals": [m["goal"]], m["step"]: PERSONNUMMER})),
        (422, sf.post(f"{base}/referral", {"remittent": "AF", "reason": f"\x1b[31m{m['referral_reason']}\u202e"})),
        (422, sf.post("/api/v1/participants", content=f"{{{PERSONNUMMER} {m['given_name']}", headers=sf.auth)),
    ]
    for expected, response in answers:
        assert response.status_code == expected, (expected, response.request.url, response.text[:300])
        assert response.headers["content-type"].startswith("application/problem+json"), response.headers
    return [response for _, response in answers]


def scan(servers: Callable[..., Server], database_url: str, tmp_path: Path) -> None:
    server = servers(database_url, SAMVERKAN_LOG_LEVEL="DEBUG")
    secret = Settings(database_url=database_url, **fixed_keys()).token_key  # type: ignore[arg-type]
    assert secret is not None
    remote = Remote(server.base, secret)
    try:
        pid, consent, decision = type_markers(remote, PERSONNUMMER)  # type: ignore[arg-type]
        # Stored, sealed: the service reads the markers back to those who may see them.
        view = remote.samordnare.get(f"/api/v1/participants/{pid}/view").json()
        assert view["participant"]["given_name"] == MARKERS["given_name"]
        assert remote.samordnare.post("/api/v1/participants/search", {"personnummer": PERSONNUMMER}).json()["id"] == pid

        problems = provoke_problems(remote, pid)
        granskare = remote.granskare
        exports = {
            fmt: granskare.get("/api/v1/audit/disclosures", params={"format": fmt}) for fmt in ("jsonl", "csv", "fhir")
        }
        manifest = granskare.get("/api/v1/audit/disclosures/manifest")
        assert all(r.status_code == 200 for r in [*exports.values(), manifest])
        assert pid in exports["jsonl"].text and decision in exports["jsonl"].text  # the export holds the case's reads
        live_dump = dump_target(parse_database_url(database_url))
    finally:
        remote.client.close()
        server.stop()  # a clean stop: every buffered log line is written
    stopped_dump = dump_target(parse_database_url(database_url))
    log = server.log_path.read_bytes()

    lines = [line for line in log.decode(errors="replace").splitlines() if line.strip()]
    parsed = [json.loads(line) for line in lines if line.startswith("{")]
    assert len(parsed) > len(problems), "the service logged its requests as JSON lines"
    assert any(entry.get("status") == 422 for entry in parsed)
    findings = {
        "log": leaks(log),
        "problem bodies": leaks(b"\n".join(r.content for r in problems)),
        **{f"export {fmt}": leaks(r.content) for fmt, r in exports.items()},
        "manifest": leaks(manifest.content),
        "database while serving": leaks(live_dump),
        "database after stop": leaks(stopped_dump),
    }
    print(
        f"\nPII scan ({parse_database_url(database_url).engine}): {len(lines)} log lines, {len(problems)} problem"
        f" bodies, {sum(len(r.content) for r in exports.values())} bytes of export, {len(stopped_dump)} bytes of"
        f" dump; {len(MARKERS)} markers and {len(NUMBER_FORMS)} forms of the personnummer; found "
        + ", ".join(f"{where}: {len(what)}" for where, what in findings.items())
    )
    assert {where: what for where, what in findings.items() if what} == {}
    # The scan finds what is there.
    assert PERSONNUMMER in leaks(log + PERSONNUMMER.encode())
    assert leaks(log + MARKERS["notes"].lower().encode()) == [MARKERS["notes"]]
    assert consent


def test_no_marker_in_logs_problems_exports_or_dumps(
    servers: Callable[..., Server], settings: Settings, tmp_path: Path
) -> None:
    scan(servers, settings.database_url, tmp_path)
