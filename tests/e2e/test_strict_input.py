"""Strict input over HTTP on both engines (docs/api.md, "Strict input"): every text field of every request body
refuses NUL and control characters, terminal escape sequences, bidi overrides and isolates, lone surrogates and
strings that are blank once whitespace and zero-width characters are gone (line breaks and tabs only where the
text may have several lines), and stores what it accepts in NFC; dates are dates (no time, no timestamp) within
1900-01-01 … 2199-12-31; every query value is checked (integers, instants with their offset, within the same
bounds, no control characters). Each refusal is a 422 problem naming the field, never echoing the value, never
a 5xx. The web pages' forms follow the same rule with a Swedish 400 page."""

from __future__ import annotations

import itertools
import json
import unicodedata
from collections.abc import Callable
from dataclasses import dataclass
from datetime import date, timedelta
from pathlib import Path
from typing import Any
from urllib.parse import quote
from uuid import UUID

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from adapters.importing import import_decisions
from coordination import InvalidCommand
from projections import enrolled_case_ids
from tests.e2e.conftest import Api, Caller
from tests.e2e.scenario import consent_body, decision_body, enrol
from tests.e2e.test_web_pages import Pages
from tests.support import today

MARK = "Qzv"  # in every hostile value that has visible text: never to come back in an answer
RESERVE = {"birth_date": "1980-05-05", "legal_gender": "female", "given_name": "Sara", "family_name": "Utanummer"}

# Refused in every text field.
HOSTILE = {
    "nul": f"{MARK}\x00x",
    "bell_c0": f"{MARK}\x07x",
    "delete": f"{MARK}\x7fx",
    "next_line_c1": f"{MARK}\x85x",
    "ansi_escape": f"\x1b[31m{MARK}\x1b[0m",
    "csi_c1": f"\x9b31m{MARK}",
    "bidi_override_rlo": f"{MARK}\u202ex",
    "bidi_embedding_lre": f"{MARK}\u202ax",
    "bidi_isolate": f"{MARK}\u2066x\u2069",
    "zero_width_only": "\u200b\u200c\u200d",
    "invisible_only": " \ufeff\u2060 ",
    "lone_surrogate": f"{MARK}\ud800x",
}
# Refused in one-line fields (names, references, codes), accepted where text may have several lines.
LINE_BREAKS = {"newline": f"{MARK}\nx", "tab": f"{MARK}\tx", "carriage_return": f"{MARK}\rx"}


@dataclass
class Case:
    """A participant with what every write needs: a consent (FK -> SF), an FK decision, an insats, a booked
    meeting, and a disclosure-log entry of a read to review."""

    pid: str
    consent: str
    decision: str
    intervention: str
    meeting: str
    seq: int


@pytest.fixture
def case(api: Api) -> Case:
    pid = enrol(api)
    base = f"/api/v1/participants/{pid}"
    sf, fk = api.samordnare, api.handlaggare("FK")
    consent = ok(sf.post(f"{base}/consents", consent_body(("FK", "SF", ["insurance"]))))["id"]
    decision = ok(fk.post(f"{base}/decisions", decision_body()))["id"]
    intervention = ok(
        sf.post(
            f"{base}/interventions",
            {"kind": "arbetstraning", "start_date": today().isoformat(), "provider_agency": "AF"},
        )
    )["id"]
    later = (today() + timedelta(days=7)).isoformat()
    meeting = ok(sf.post(f"{base}/meetings", {"date": later, "agencies_invited": ["FK"]}))["id"]
    ok(sf.get(f"{base}/view"))
    seq, _ = api.context.log.head()
    return Case(pid, consent, decision, intervention, meeting, seq)


def ok(response: Any) -> dict[str, Any]:
    assert response.status_code in (200, 201), response.text
    body: dict[str, Any] = response.json()
    return body


def post(caller: Caller, path: str, body: dict[str, Any]) -> Any:
    """Posts `body` as JSON with every non-ASCII character escaped (so a lone surrogate travels as `\\ud800`)."""
    return caller.post(path, content=json.dumps(body).encode(), headers={"Content-Type": "application/json"})


Send = Callable[[Api, Case, Any], Any]


# (field as the 422 names it, several lines allowed, how to send a value in it)
TEXT_FIELDS: list[tuple[str, bool, Send]] = [
    ("given_name", False, lambda api, c, v: post(api.samordnare, "/api/v1/participants", {**RESERVE, "given_name": v})),
    (
        "family_name",
        False,
        lambda api, c, v: post(api.samordnare, "/api/v1/participants", {**RESERVE, "family_name": v}),
    ),
    (
        "contact.phone",
        False,
        lambda api, c, v: post(api.samordnare, "/api/v1/participants", {**RESERVE, "contact": {"phone": v}}),
    ),
    (
        "contact.email",
        False,
        lambda api, c, v: post(api.samordnare, "/api/v1/participants", {**RESERVE, "contact": {"email": v}}),
    ),
    (
        "contact.address",
        True,
        lambda api, c, v: post(api.samordnare, "/api/v1/participants", {**RESERVE, "contact": {"address": v}}),
    ),
    ("personnummer", False, lambda api, c, v: post(api.samordnare, "/api/v1/participants/search", {"personnummer": v})),
    (
        "purpose",
        True,
        lambda api, c, v: post(
            api.samordnare,
            f"/api/v1/participants/{c.pid}/consents",
            consent_body(("AF", "SF", ["employment"]), purpose=v),
        ),
    ),
    (
        "document_ref",
        False,
        lambda api, c, v: post(
            api.samordnare,
            f"/api/v1/participants/{c.pid}/consents",
            consent_body(("AF", "SF", ["employment"]), document_ref=v),
        ),
    ),
    (
        "witness",
        False,
        lambda api, c, v: post(
            api.samordnare,
            f"/api/v1/participants/{c.pid}/consents",
            consent_body(("AF", "SF", ["employment"]), form="oral", document_ref=None, witness=v),
        ),
    ),
    (
        "reason",
        True,
        lambda api, c, v: post(
            api.samordnare, f"/api/v1/participants/{c.pid}/consents/{c.consent}/withdrawal", {"reason": v}
        ),
    ),
    (
        "summary",
        True,
        lambda api, c, v: post(
            api.handlaggare("FK"),
            f"/api/v1/participants/{c.pid}/decisions",
            decision_body(source_ref="FK-9", summary=v),
        ),
    ),
    (
        "source_ref",
        False,
        lambda api, c, v: post(
            api.handlaggare("FK"), f"/api/v1/participants/{c.pid}/decisions", decision_body(source_ref=v)
        ),
    ),
    (
        "decision_type",
        False,
        lambda api, c, v: post(
            api.handlaggare("FK"),
            f"/api/v1/participants/{c.pid}/decisions",
            decision_body(source_ref="FK-9", decision_type=v),
        ),
    ),
    (
        "reason",
        True,
        lambda api, c, v: post(
            api.handlaggare("FK"), f"/api/v1/participants/{c.pid}/decisions/{c.decision}/retraction", {"reason": v}
        ),
    ),
    (
        "reason",
        True,
        lambda api, c, v: post(
            api.samordnare,
            f"/api/v1/participants/{c.pid}/referral",
            {"remittent": "AF", "reason": v, "received_date": today().isoformat(), "needs": ["AF", "FK"]},
        ),
    ),
    ("goals.0", True, lambda api, c, v: post(api.samordnare, f"/api/v1/participants/{c.pid}/plan", {"goals": [v]})),
    (
        "steps.0.description",
        True,
        lambda api, c, v: post(
            api.samordnare,
            f"/api/v1/participants/{c.pid}/plan",
            {"steps": [{"agency": "FK", "description": v, "due": today().isoformat()}]},
        ),
    ),
    (
        "kind",
        False,
        lambda api, c, v: post(
            api.samordnare,
            f"/api/v1/participants/{c.pid}/interventions",
            {"kind": v, "start_date": today().isoformat(), "provider_agency": "AF"},
        ),
    ),
    (
        "reason",
        True,
        lambda api, c, v: post(
            api.samordnare,
            f"/api/v1/participants/{c.pid}/interventions/{c.intervention}/end",
            {"end_date": today().isoformat(), "reason": v},
        ),
    ),
    (
        "notes",
        True,
        lambda api, c, v: post(
            api.samordnare,
            f"/api/v1/participants/{c.pid}/meetings",
            {"date": today().isoformat(), "agencies_present": ["FK"], "attended": True, "notes": v},
        ),
    ),
    (
        "notes",
        True,
        lambda api, c, v: post(
            api.samordnare,
            f"/api/v1/participants/{c.pid}/meetings/{c.meeting}/outcome",
            {"attended": True, "agencies_present": ["FK"], "notes": v},
        ),
    ),
    (
        "support_after",
        False,
        lambda api, c, v: post(
            api.samordnare,
            f"/api/v1/participants/{c.pid}/closure",
            {"outcome": "work", "closed_date": today().isoformat(), "support_after": v},
        ),
    ),
    (
        "note",
        True,
        lambda api, c, v: post(
            api.handlaggare("AF"),
            f"/api/v1/participants/{c.pid}/emergency-access",
            {"reason": "akut-skyddsbehov", "note": v},
        ),
    ),
    (
        "reason",
        False,
        lambda api, c, v: post(
            api.handlaggare("AF"),
            f"/api/v1/participants/{c.pid}/emergency-access",
            {"reason": v, "note": "Hot mot deltagaren, polisanmälan gjord"},
        ),
    ),
    (
        "comment",
        True,
        lambda api, c, v: post(api.granskare, f"/api/v1/audit/review/{c.seq}", {"outcome": "foljs-upp", "comment": v}),
    ),
    ("outcome", False, lambda api, c, v: post(api.granskare, f"/api/v1/audit/review/{c.seq}", {"outcome": v})),
]


def refusal(response: Any, field: str, *, status: int = 422) -> list[str]:
    """What is wrong with `response` as a refusal naming `field` (an empty list when it is right)."""
    wrong = []
    if response.status_code != status:
        return [f"status {response.status_code}: {response.text[:200]}"]
    if not response.headers["content-type"].startswith("application/problem+json"):
        wrong.append("not problem+json")
    body = response.json()
    errors = body.get("errors") or []
    if not all(e.get("field") and e.get("message") for e in errors):
        wrong.append(f"an error without field or message: {errors}")
    if field not in [e.get("field") for e in errors]:
        wrong.append(f"{field} not named in {errors}")
    if MARK in response.text:
        wrong.append("the value is echoed")
    return wrong


def stored(api: Api, case: Case) -> int:
    return len(list(api.context.service.events.get(UUID(case.pid))))


def participants(api: Api) -> int:
    return sum(1 for _ in enrolled_case_ids(api.context.service.recorder))


@pytest.mark.parametrize("name", [*HOSTILE, *LINE_BREAKS])
def test_every_text_field_refuses_hostile_text_with_422_naming_it(api: Api, case: Case, name: str) -> None:
    value = {**HOSTILE, **LINE_BREAKS}[name]
    before = (stored(api, case), participants(api))
    failures = []
    for field, several_lines, send in TEXT_FIELDS:
        if name in LINE_BREAKS and several_lines:
            continue
        wrong = refusal(send(api, case, value), field)
        if wrong:
            failures.append(f"{field}: {'; '.join(wrong)}")
    assert failures == []
    assert (stored(api, case), participants(api)) == before, "a refused request stored something"


def test_line_breaks_and_tabs_are_kept_where_text_may_have_several_lines(api: Api, case: Case) -> None:
    summary = "Beviljad på halvtid.\n\tFrån oktober.\r\nSe beslutet."
    body = decision_body(source_ref="FK-lines", summary=summary)
    created = ok(post(api.handlaggare("FK"), f"/api/v1/participants/{case.pid}/decisions", body))["id"]
    view = ok(api.samordnare.get(f"/api/v1/participants/{case.pid}/view"))
    assert [d["summary"] for d in view["decisions"] if d["id"] == created] == [summary]


def test_text_is_stored_in_nfc(api: Api, case: Case) -> None:
    decomposed = "A\u030angstro\u0308m"  # Ångström, as combining marks
    enrolled = ok(post(api.samordnare, "/api/v1/participants", {**RESERVE, "family_name": decomposed}))["id"]
    view = ok(api.samordnare.get(f"/api/v1/participants/{enrolled}/view"))
    assert view["participant"]["family_name"] == unicodedata.normalize("NFC", decomposed) == "Ångström"
    # Zero-width characters and bidi marks inside visible text are kept (names in other scripts need them).
    joined = "Kurd\u200cistan \u200fعلی\u200f"
    other = ok(post(api.samordnare, "/api/v1/participants", {**RESERVE, "given_name": joined}))["id"]
    assert ok(api.samordnare.get(f"/api/v1/participants/{other}/view"))["participant"]["given_name"] == joined


def test_the_application_service_and_the_importer_apply_the_same_rule(api: Api, case: Case, tmp_path: Path) -> None:
    service = api.context.service
    for field, value in (("given_name", f"{MARK}\u202ex"), ("family_name", "\u200b"), ("given_name", f"{MARK}\nx")):
        names = {"given_name": "Sara", "family_name": "Utanummer", field: value}
        with pytest.raises(InvalidCommand) as refused:
            service.enrol(by="cli:test", birth_date=date(1980, 5, 5), legal_gender="female", **names)
        assert refused.value.field == field and MARK not in str(refused.value)
    rows = tmp_path / "fk.jsonl"
    hostile = decision_body(source_ref="FK-import", summary=f"\x1b[2J{MARK}")
    rows.write_text(json.dumps({**hostile, "participant_id": case.pid}) + "\n", encoding="utf-8")
    rejects = tmp_path / "rejects.jsonl"
    summary = import_decisions(api.context.reads, rows, agency="FK", user_id="u1", rejects_path=rejects)
    assert (summary.recorded, summary.rejected) == (0, 1)
    (reject,) = [json.loads(line) for line in rejects.read_text(encoding="utf-8").splitlines()]
    assert reject["field"] == "summary" and MARK not in json.dumps(reject)


# -- dates ---------------------------------------------------------------------------------------------------------

BAD_DATES = {
    "with_a_time": "2026-03-01T00:00:00",
    "with_a_time_and_offset": "2026-03-01T00:00:00+01:00",
    "year_0001": "0001-01-01",
    "year_9999": "9999-12-31",
    "before_1900": "1899-12-31",
    "after_2199": "2200-01-01",
    "basic_format": "20260301",
    "week_date": "2026-W09-7",
    "timestamp": 1772323200,
    "timestamp_text": "1772323200",
}


def _date_fields(c: Case) -> list[tuple[str, Callable[[Api, Any], Any]]]:
    base = f"/api/v1/participants/{c.pid}"
    day = today().isoformat()
    return [
        ("birth_date", lambda api, v: post(api.samordnare, "/api/v1/participants", {**RESERVE, "birth_date": v})),
        (
            "valid_from",
            lambda api, v: post(
                api.samordnare, f"{base}/consents", consent_body(("AF", "SF", ["employment"]), valid_from=v)
            ),
        ),
        (
            "valid_until",
            lambda api, v: post(
                api.samordnare, f"{base}/consents", consent_body(("AF", "SF", ["employment"]), valid_until=v)
            ),
        ),
        (
            "effective_date",
            lambda api, v: post(
                api.handlaggare("FK"), f"{base}/decisions", decision_body(source_ref="FK-9", effective_date=v)
            ),
        ),
        (
            "received_date",
            lambda api, v: post(
                api.samordnare,
                f"{base}/referral",
                {"remittent": "AF", "reason": "r", "received_date": v, "needs": ["AF", "FK"]},
            ),
        ),
        (
            "steps.0.due",
            lambda api, v: post(
                api.samordnare, f"{base}/plan", {"steps": [{"agency": "FK", "description": "d", "due": v}]}
            ),
        ),
        (
            "start_date",
            lambda api, v: post(
                api.samordnare,
                f"{base}/interventions",
                {"kind": "arbetstraning", "start_date": v, "provider_agency": "AF"},
            ),
        ),
        (
            "planned_end",
            lambda api, v: post(
                api.samordnare,
                f"{base}/interventions",
                {"kind": "arbetstraning", "start_date": day, "provider_agency": "AF", "planned_end": v},
            ),
        ),
        (
            "end_date",
            lambda api, v: post(api.samordnare, f"{base}/interventions/{c.intervention}/end", {"end_date": v}),
        ),
        ("date", lambda api, v: post(api.samordnare, f"{base}/meetings", {"date": v, "agencies_invited": ["FK"]})),
        ("closed_date", lambda api, v: post(api.samordnare, f"{base}/closure", {"outcome": "work", "closed_date": v})),
        (
            "end_interventions.end_date",
            lambda api, v: post(
                api.samordnare,
                f"{base}/closure",
                {"outcome": "work", "closed_date": day, "end_interventions": {"end_date": v}},
            ),
        ),
    ]


@pytest.mark.parametrize("name", list(BAD_DATES))
def test_every_date_field_refuses_what_is_not_a_date_within_the_bounds(api: Api, case: Case, name: str) -> None:
    before = (stored(api, case), participants(api))
    failures = []
    for field, send in _date_fields(case):
        wrong = refusal(send(api, BAD_DATES[name]), field)
        if wrong:
            failures.append(f"{field}: {'; '.join(wrong)}")
    assert failures == []
    assert (stored(api, case), participants(api)) == before


def test_dates_at_the_bounds_are_accepted(api: Api, case: Case) -> None:
    for source_ref, day in (("FK-first", "1900-01-01"), ("FK-last", "2199-12-31")):
        body = decision_body(source_ref=source_ref, effective_date=day)
        ok(post(api.handlaggare("FK"), f"/api/v1/participants/{case.pid}/decisions", body))


# -- query values --------------------------------------------------------------------------------------------------

HUGE = str(2**70)


def _queries(c: Case) -> list[tuple[str, str, str]]:
    """(who, path with query, field): each must be a 422 naming the field."""
    view = f"/api/v1/participants/{c.pid}/view"
    reconstruction = f"/api/v1/audit/participants/{c.pid}/reconstruction?party=FK&at="
    cases = []
    for path in ("/api/v1/audit/disclosures", "/api/v1/audit/disclosures/manifest"):
        cases += [
            ("granskare", f"{path}?until_seq={HUGE}", "until_seq"),
            ("granskare", f"{path}?until_seq={2**63}", "until_seq"),
            ("granskare", f"{path}?until_seq=-1", "until_seq"),
            ("granskare", f"{path}?until_seq=1e3", "until_seq"),
            ("granskare", f"{path}?from={quote('0001-01-01T00:00:00+14:00')}", "from"),
            ("granskare", f"{path}?to={quote('9999-12-31T23:59:59-14:00')}", "to"),
            ("granskare", f"{path}?from={quote('1899-12-31T23:59:59+00:00')}", "from"),
            ("granskare", f"{path}?to={quote('2200-01-01T00:00:00+00:00')}", "to"),
            ("granskare", f"{path}?from=2026-03-01T00:00:00", "from"),
            ("granskare", f"{path}?from=1772323200", "from"),
            ("granskare", f"{path}?user={quote(MARK)}%00x", "user"),
            ("granskare", f"{path}?user=%1B%5B31m{MARK}", "user"),
            ("granskare", f"{path}?user={MARK}%E2%80%AEx", "user"),
            ("granskare", f"{path}?agency=FK%00", "agency"),
        ]
    cases += [
        ("granskare", reconstruction + quote("0001-01-01T00:00:00+14:00"), "at"),
        ("granskare", reconstruction + quote("9999-12-31T23:59:59-14:00"), "at"),
        ("granskare", reconstruction + "2026-03-01T00:00:00", "at"),
        ("granskare", "/api/v1/audit/review?from=0001-01-01&to=2026-01-01", "from"),
        ("granskare", "/api/v1/audit/review?from=2026-01-01&to=9999-12-31", "to"),
        ("granskare", f"/api/v1/audit/review?from={quote('0001-01-01T00:00:00+14:00')}&to=2026-01-01", "from"),
        ("granskare", f"/api/v1/audit/review?from=2026-01-01&to={quote('9999-12-31T23:59:59-14:00')}", "to"),
        ("granskare", "/api/v1/audit/review?from=2026-01-01%00&to=2026-02-01", "from"),
        ("granskare", f"/api/v1/audit/review?from=2026-01-01&to=2026-02-01&seed={HUGE}", "seed"),
        ("granskare", f"/api/v1/audit/review?from=2026-01-01&to=2026-02-01&sample={HUGE}", "sample"),
        ("granskare", f"/api/v1/audit/review/{HUGE}", "seq"),
        ("samordnare", f"{view}?as_of={quote('0001-01-01T00:00:00+14:00')}", "as_of"),
        ("samordnare", f"{view}?as_of={quote('9999-12-31T23:59:59-14:00')}", "as_of"),
        ("samordnare", f"{view}?as_of=2026-03-01T00:00:00", "as_of"),
        ("samordnare", f"{view}?purpose={MARK}%00", "purpose"),
        ("samordnare", "/api/v1/statistics?from=0001-01-01", "from"),
        ("samordnare", "/api/v1/statistics?from=2026-01-01&to=9999-12-31", "to"),
        ("samordnare", "/api/v1/statistics?from=2026-03-01T00:00:00", "from"),
        ("samordnare", "/api/v1/statistics?from=2026-03-02&to=2026-03-01", "from"),
    ]
    return cases


def test_every_query_value_is_checked_with_422_naming_it(api: Api, case: Case) -> None:
    callers = {"granskare": api.granskare, "samordnare": api.samordnare}
    failures = []
    for who, path, field in _queries(case):
        caller = callers[who]
        response = caller.post(path, {"outcome": "foljs-upp"}) if path.count("/review/") else caller.get(path)
        wrong = refusal(response, field)
        if wrong:
            failures.append(f"{path}: {'; '.join(wrong)}")
    assert failures == []


def test_query_values_at_the_bounds_are_accepted(api: Api, case: Case) -> None:
    largest = 2**63 - 1
    export = api.granskare.get(f"/api/v1/audit/disclosures?until_seq={largest}")
    assert export.status_code == 200, export.text
    assert export.text.strip(), "the export sent its headers and no entries"
    bounds = quote("1900-01-01T00:00:00+00:00"), quote("2199-12-31T23:59:59+00:00")
    manifest = api.granskare.get(f"/api/v1/audit/disclosures/manifest?from={bounds[0]}&to={bounds[1]}")
    assert manifest.status_code == 200, manifest.text
    assert api.samordnare.get("/api/v1/statistics?from=1900-01-01&to=2199-12-31").status_code == 200


# -- every 422 names a field ------------------------------------------------------------------------------------------


def test_a_form_body_that_cannot_be_parsed_is_a_422_naming_the_body(api: Api) -> None:
    response = api.client.post("/logga-in", content=b"x", headers={"Content-Type": "multipart/form-data"})
    assert refusal(response, "body") == []


# -- the web pages: a Swedish 400 page, never a 500 ---------------------------------------------------------------

WEB_QUERIES = [
    ("samordnare-demo", "/statistik?fran=0001-01-01&till=0001-01-02"),
    ("samordnare-demo", "/statistik?fran=2026-01-01&till=9999-12-31"),
    ("samordnare-demo", "/statistik?fran=20260101"),
    ("samordnare-demo", "/statistik.csv?fran=1899-12-31"),
    ("granskare-demo", "/granskning?till=9999-12-31"),
    ("granskare-demo", "/granskning?fran=0001-01-01"),
    ("granskare-demo", f"/granskning?anvandare={MARK}%00"),
    ("granskare-demo", "/granskning/export.jsonl?till=9999-12-31"),
    ("granskare-demo", f"/granskning/export.jsonl?till_nr={HUGE}"),
    ("granskare-demo", "/granskning/export.jsonl?till_nr=%C2%B2"),  # a superscript two: a digit, not a number
    ("granskare-demo", f"/granskning/manifest.json?till_nr={HUGE}"),
    ("granskare-demo", "/granskning/ko?fran=0001-01-01&till=0001-01-02"),
    ("granskare-demo", "/granskning/ko?fran=9999-12-30&till=9999-12-31"),
    ("granskare-demo", "/granskning/ko.csv?fran=9999-12-30&till=9999-12-31"),
]


def test_the_web_pages_get_forms_answer_bad_values_with_a_400_page(api: Api) -> None:
    browsers = {sub: Pages(api, sub) for sub in {who for who, _ in WEB_QUERIES}}
    failures = []
    for who, path in WEB_QUERIES:
        response = browsers[who].get(path)
        if response.status_code != 400 or MARK in response.text:
            failures.append(f"{path}: {response.status_code}")
        elif not response.headers["content-type"].startswith("text/html"):
            failures.append(f"{path}: {response.headers['content-type']}")
    assert failures == []


@pytest.mark.parametrize("name", ["nul", "ansi_escape", "bidi_override_rlo", "bidi_isolate", "zero_width_only"])
def test_the_web_forms_refuse_hostile_text_and_store_nothing(api: Api, name: str) -> None:
    sf = Pages(api, "samordnare-demo")
    before = participants(api)
    response = sf.post("/ny-deltagare", {**RESERVE, "given_name": HOSTILE[name]}, origin="/ny-deltagare")
    assert response.status_code == 400, response.text
    assert MARK not in response.text
    assert participants(api) == before


# -- fuzzing -------------------------------------------------------------------------------------------------------

SOURCE_REFS = itertools.count()
FUZZ = settings(
    max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow]
)
# st.text() over all of Unicode, with what the rule is about mixed in more often than chance would.
SPECIAL = [
    "\x00",
    "\x1b",
    "\x85",
    "\x9b",
    "\u202e",
    "\u2067",
    "\u200b",
    "\ufeff",
    "\n",
    "\t",
    "\u0301",
    "\u030a",
    "A",
    "o",
    " ",
]
TEXT = st.text(alphabet=st.one_of(st.characters(), st.sampled_from(SPECIAL)), max_size=60)
# A URL carries UTF-8 only: no lone surrogates (a JSON body can, escaped).
URL_TEXT = st.text(alphabet=st.one_of(st.characters(codec="utf-8"), st.sampled_from(SPECIAL)), max_size=60)
BIDI_CONTROLS = set("\u202a\u202b\u202c\u202d\u202e\u2066\u2067\u2068\u2069")
ZERO_WIDTH = set("\u200b\u200c\u200d\u2060\ufeff")


def acceptable(value: str, *, several_lines: bool) -> bool:
    """The rule, written out independently of the service's code: no control character (tab and line breaks
    only in text of several lines), no bidi override or isolate, no lone surrogate, and something visible."""
    for ch in value:
        if ch in "\t\n\r":
            if not several_lines:
                return False
        elif unicodedata.category(ch) in ("Cc", "Cs") or ch in BIDI_CONTROLS:
            return False
    return any(not ch.isspace() and ch not in ZERO_WIDTH for ch in value)


def _no_echo(response: Any, value: str) -> bool:
    """A refusal may not carry the value back (only checked when the value cannot occur in our own words)."""
    if any(ord(ch) > 127 for ch in value) or len(value) >= 12:
        return value not in response.text
    return True


def _check(response: Any, value: str, field: str, *, several_lines: bool) -> bool:
    """Never 5xx; what breaks the rule is refused, a refusal is a 422 naming `field` without the value, and a
    value within the rule that has a letter or a digit is accepted. True when the value was accepted."""
    assert response.status_code < 500, response.text
    clean = acceptable(value, several_lines=several_lines)
    if response.status_code in (200, 201):
        assert clean, f"accepted against the rule: {value!r}"
        return True
    assert response.status_code == 422, response.text
    errors = response.json()["errors"]
    assert errors and all(e["field"] and e["message"] for e in errors), errors
    assert field in [e["field"] for e in errors], errors
    assert _no_echo(response, value)
    assert not (clean and any(unicodedata.category(ch)[0] in "LN" for ch in value)), f"refused: {value!r}"
    return False


@FUZZ
@given(value=TEXT)
def test_fuzzed_names_are_stored_in_nfc_or_refused_with_422(api: Api, value: str) -> None:
    response = post(api.samordnare, "/api/v1/participants", {**RESERVE, "given_name": value})
    if _check(response, value, "given_name", several_lines=False):
        shown = ok(api.samordnare.get(f"/api/v1/participants/{response.json()['id']}/view"))
        assert shown["participant"]["given_name"] == unicodedata.normalize("NFC", value)


@FUZZ
@given(value=TEXT)
def test_fuzzed_summaries_are_stored_in_nfc_or_refused_with_422(api: Api, case: Case, value: str) -> None:
    body = decision_body(source_ref=f"FK-fuzz-{next(SOURCE_REFS)}", summary=value)
    response = post(api.handlaggare("FK"), f"/api/v1/participants/{case.pid}/decisions", body)
    if _check(response, value, "summary", several_lines=True):
        created = response.json()["id"]
        view = ok(api.samordnare.get(f"/api/v1/participants/{case.pid}/view"))
        (summary,) = [d["summary"] for d in view["decisions"] if d["id"] == created]
        assert summary == unicodedata.normalize("NFC", value)


@FUZZ
@given(value=URL_TEXT)
def test_fuzzed_query_filters_are_answered_or_refused_with_422(api: Api, value: str) -> None:
    response = api.granskare.get("/api/v1/audit/disclosures/manifest", params={"user": value})
    _check(response, value, "user", several_lines=False)
