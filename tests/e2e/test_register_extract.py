"""The GDPR art. 15 extract (registerutdrag), JSON and PDF, on both engines: everything held about the person,
opened; one `register-extract` log entry naming every item; samordnare only; after an erasure a statement that the
data is erased (200, no personal data); an unknown participant 404. And the log extract's per-entry emergency flag
and consents."""

from __future__ import annotations

import io
import re
from datetime import timedelta
from pathlib import Path
from typing import Any
from uuid import UUID

import pytest
import reportlab
from pypdf import PdfReader
from reportlab.pdfbase.ttfonts import TTFont

from adapters import documents
from adapters import register_extract as art15
from adapters.access import Caller
from adapters.auth import Role
from adapters.disclosure_log import Actor, Disclosed, EntryDraft, LogFilter
from adapters.read_service import CONTROLLERS_CONTACT, HOW_TO_WITHDRAW, LEGAL_BASIS, PARTY_NAMES
from adapters.recording import erase_personal_data
from adapters.web.words import moment
from consent import Party
from coordination import GALLRING
from tests.e2e.conftest import Api
from tests.e2e.scenario import consent_body, decision_body, enrol
from tests.support import today

UNKNOWN = "00000000-0000-4000-8000-000000000000"
NAMES = {"given_name": "Åsa", "family_name": "Öberg-Ärlinge"}
NUMBER = "19811218-9876"
GRANTS = [("FK", "SF", ["insurance"]), ("REGION", "SF", ["health"]), ("SF", "FK", ["coordination"])]
FK_SUMMARY = "Sjukpenning på halvtid beviljad, återkommer i mars"
REGION_SUMMARY = "Rehabilitering på vårdcentralen i Älvsjö, läkarbesök var fjärde vecka"
GOAL = "Återgå till arbete på kaféet i Hägersten"
STEP = "Arbetsprövning två förmiddagar i veckan"
NOTES = "Åsa berättade om sömnsvårigheter; nästa möte hos Försäkringskassan"
REASON = "Behöver stöd från både vården och Försäkringskassan"
WITHDRAWAL = "Vill inte längre att kommunen får veta"
PURPOSE = {"purpose": "registerutdrag"}


def log(api: Api) -> list[dict[str, Any]]:
    return list(api.context.log.entries(LogFilter()))


def text(response: Any) -> str:
    """The PDF's text, whitespace collapsed (table cells wrap)."""
    assert response.status_code == 200, response.text
    assert response.headers["content-type"] == "application/pdf"
    assert response.headers["cache-control"] == "no-store"
    assert response.content.startswith(b"%PDF-")
    pages = PdfReader(io.BytesIO(response.content)).pages
    return re.sub(r"\s+", " ", " ".join(page.extract_text() for page in pages))


def url(pid: str, pdf: bool = False) -> str:
    return f"/api/v1/participants/{pid}/register-extract" + (".pdf" if pdf else "")


@pytest.fixture
def case(api: Api) -> dict[str, Any]:
    """Åsa with a consent, a second consent partly withdrawn, FK's and REGION's decisions (one retracted), a referral,
    a plan, an insats, a meeting and a block; the ids of what was recorded."""
    contact = {"phone": "070-123 45 67", "email": "asa@example.se"}
    pid = enrol(api, **NAMES, municipality="0180", contact=contact)
    sam, fk, region = api.samordnare, api.handlaggare("FK"), api.handlaggare("REGION")
    consent = sam.post(f"/api/v1/participants/{pid}/consents", consent_body(*GRANTS)).json()["id"]
    second = sam.post(
        f"/api/v1/participants/{pid}/consents", consent_body(("KOMMUN", "SF", ["social"]), ("AF", "SF", ["employment"]))
    ).json()["id"]
    withdrawal = {"grants": [{"from": "KOMMUN", "to": "SF", "categories": ["social"]}], "reason": WITHDRAWAL}
    assert sam.post(f"/api/v1/participants/{pid}/consents/{second}/withdrawal", withdrawal).status_code == 200
    body = decision_body(summary=FK_SUMMARY, attributes={"omfattning": 50, "beviljad": True})
    fk_decision = fk.post(f"/api/v1/participants/{pid}/decisions", body).json()["id"]
    wrong = fk.post(f"/api/v1/participants/{pid}/decisions", decision_body(source_ref="FK-2", summary="Fel beslut"))
    retracted = wrong.json()["id"]
    assert (
        fk.post(f"/api/v1/participants/{pid}/decisions/{retracted}/retraction", {"reason": "Fel person"}).status_code
        == 200
    )
    body = decision_body("health", source_ref="R-1", summary=REGION_SUMMARY)
    region_decision = region.post(f"/api/v1/participants/{pid}/decisions", body).json()["id"]
    referral = {"remittent": "FK", "reason": REASON, "received_date": today().isoformat(), "needs": ["FK", "REGION"]}
    assert sam.post(f"/api/v1/participants/{pid}/referral", referral).status_code == 201
    step = {"agency": "SF", "description": STEP, "due": (today() + timedelta(days=30)).isoformat()}
    assert sam.post(f"/api/v1/participants/{pid}/plan", {"goals": [GOAL], "steps": [step]}).status_code == 201
    insats = {"kind": "arbetstraning", "start_date": today().isoformat(), "provider_agency": "AF"}
    intervention = sam.post(f"/api/v1/participants/{pid}/interventions", insats).json()["id"]
    meeting_body = {"date": today().isoformat(), "agencies_present": ["FK", "REGION"], "attended": True, "notes": NOTES}
    meeting = sam.post(f"/api/v1/participants/{pid}/meetings", meeting_body).json()["id"]
    block = region.post(f"/api/v1/participants/{pid}/blocks", {"category": "health", "recipient": "AF"})
    assert block.status_code == 201, block.text
    sam.get(f"/api/v1/participants/{pid}/view")  # the förbund reads: a recipient in the log
    return {
        "pid": pid,
        "consent": consent,
        "second": second,
        "fk": fk_decision,
        "retracted": retracted,
        "region": region_decision,
        "intervention": intervention,
        "meeting": meeting,
        "block": block.json()["id"],
    }


def test_the_json_extract_holds_every_item_opened(api: Api, case: dict[str, Any]) -> None:
    pid = case["pid"]
    before = api.context.log.head()[0]
    response = api.samordnare.get(url(pid), params=PURPOSE)
    assert response.status_code == 200, response.text
    extract = response.json()
    person = extract["person"]
    assert (person["given_name"], person["family_name"], person["personnummer"]) == ("Åsa", "Öberg-Ärlinge", NUMBER)
    assert person["contact"] == {"phone": "070-123 45 67", "email": "asa@example.se"}
    assert (person["municipality"], person["reserve_identity"], person["source"]) == ("0180", False, "SF")
    assert extract["status"] == "open" and extract["erased_statement"] is None

    decisions = {d["id"]: d for d in extract["decisions"]}
    assert set(decisions) == {case["fk"], case["retracted"], case["region"]}
    fk, region, retracted = decisions[case["fk"]], decisions[case["region"]], decisions[case["retracted"]]
    assert (fk["summary"], fk["attributes"], fk["source"], fk["status"]) == (
        FK_SUMMARY,
        {"omfattning": 50, "beviljad": True},
        "FK",
        "active",
    )
    assert fk["consent_id"] == case["consent"] and fk["consent_version"] == 1  # recorded under
    assert (region["summary"], region["source"], region["category"]) == (REGION_SUMMARY, "REGION", "health")
    # The participant's own data: a retracted decision is still held, so it is there, marked, with the reason.
    assert (retracted["status"], retracted["summary"], retracted["retraction_reason"]) == (
        "retracted",
        "Fel beslut",
        "Fel person",
    )

    consents = {c["id"]: c for c in extract["consents"]}
    assert set(consents) == {case["consent"], case["second"]}
    second = consents[case["second"]]
    assert second["version"] == 2 and [h["event"] for h in second["history"]] == ["recorded", "withdrawn"]
    withdrawn = second["history"][1]
    assert withdrawn["reason"] == WITHDRAWAL
    assert withdrawn["grants"] == [{"from": "KOMMUN", "to": "SF", "category": "social"}]
    assert {(g["from"], g["status"]) for g in second["grants"]} == {("KOMMUN", "withdrawn"), ("AF", "active")}
    (block,) = extract["blocks"]
    assert (block["id"], block["discloser"], block["recipient"], block["status"]) == (
        case["block"],
        "REGION",
        "AF",
        "active",
    )

    assert extract["referral"]["reason"] == REASON and extract["referral"]["remittent"] == "FK"
    (plan,) = extract["plans"]
    assert plan["goals"] == [GOAL] and plan["steps"][0]["description"] == STEP
    assert [i["id"] for i in extract["interventions"]] == [case["intervention"]]
    (meeting,) = extract["meetings"]
    assert (meeting["id"], meeting["notes"], meeting["status"]) == (case["meeting"], NOTES, "held")

    assert "Samordnad rehabilitering" in extract["purposes"]  # the consent's own purpose after the fixed ones
    assert extract["categories"] == ["identity", "contact", "consent", "coordination", "health", "insurance"]
    assert {(r["party"], r["category"]) for r in extract["recipients"]} >= {("SF", "insurance"), ("SF", "health")}
    assert {"FK", "REGION", "AF"} <= {g["to"] for g in extract["future_recipients"]} | {
        g["from"] for g in extract["future_recipients"]
    }
    assert "gallringsregler" in extract["retention"]["statement"]
    rules = {r["party"]: r["years"] for r in extract["retention"]["rules"]}
    assert rules == {"FK": 5, "AF": 5, "REGION": 10, "KOMMUN": 5, "SF": 5, None: 5}  # the settings' defaults
    assert [r["code"] for r in extract["rights"]] == [
        "access",
        "rectification",
        "erasure",
        "restriction",
        "objection",
        "complaint",
    ]
    assert "Integritetsskyddsmyndigheten (IMY)" in extract["rights"][-1]["text"]
    assert extract["controllers_contact"]

    (entry,) = log(api)[before:]
    assert (entry["kind"], entry["participant_id"], entry["outcome"], entry["purpose"]) == (
        "register-extract",
        pid,
        "disclosed",
        "registerutdrag",
    )
    assert entry["details"] == {"format": "json"}
    named = {d["event_id"]: d for d in entry["disclosed"]}
    items = [case[k] for k in ("consent", "second", "fk", "retracted", "region", "intervention", "meeting", "block")]
    items += [f"{pid}:identity", f"{pid}:referral", f"{pid}:plan:1"]
    assert set(named) == set(items)
    assert named[case["region"]]["agency"] == "REGION" and named[case["region"]]["category"] == "health"
    assert all(d["consent_id"] is None for d in entry["disclosed"])
    assert "Åsa" not in str(entry) and "19811218" not in str(entry) and FK_SUMMARY not in str(entry)


def test_the_pdf_is_in_swedish_with_the_headings_summaries_and_names(api: Api, case: dict[str, Any]) -> None:
    pid = case["pid"]
    before = api.context.log.head()[0]
    response = api.samordnare.get(url(pid, pdf=True), params=PURPOSE)
    pdf = text(response)
    assert re.fullmatch(
        r'attachment; filename="registerutdrag-\d{4}-\d{2}-\d{2}\.pdf"', response.headers["content-disposition"]
    )
    for heading in (
        "Registerutdrag enligt artikel 15 i dataskyddsförordningen",
        "Dina uppgifter",
        "Samtycken",
        "Beslut från myndigheterna",
        "Samordningen",
        "Mottagare",
        "Hur länge uppgifterna sparas",
        "Dina rättigheter",
    ):
        assert heading in pdf, heading
    assert "Åsa Öberg-Ärlinge" in pdf and NUMBER in pdf and "070-123 45 67" in pdf
    for written in (FK_SUMMARY, REGION_SUMMARY, GOAL, STEP, NOTES, REASON, WITHDRAWAL):
        assert written in pdf, written
    assert "omfattning: 50; beviljad: ja" in pdf and "återtaget" in pdf and "Fel person" in pdf
    assert "Försäkringskassan" in pdf and "Regionen (hälso- och sjukvården)" in pdf
    assert "Integritetsskyddsmyndigheten (IMY)" in pdf and "Rättelse" in pdf and "Invändning" in pdf
    assert "gallringsregler" in pdf and "Samordningsförbundet" in pdf and "Sida 1" in pdf
    assert "Regionen (hälso- och sjukvården) 10 år efter partens senaste uppgift i ärendet" in pdf
    assert "Loggen Loggen över vem som har läst uppgifterna sparas i minst 5 år" in pdf
    (entry,) = log(api)[before:]
    assert (entry["kind"], entry["details"]) == ("register-extract", {"format": "pdf"})
    assert moment(entry["recorded_at"])[:10] in pdf  # Utfärdat, a Swedish date


def test_only_the_samordnare_produces_it_and_each_refusal_is_logged(api: Api, case: dict[str, Any]) -> None:
    pid = case["pid"]
    for path in (url(pid), url(pid, pdf=True)):
        for caller in (api.handlaggare("FK"), api.granskare):
            before = api.context.log.head()[0]
            response = caller.get(path)
            assert response.status_code == 403, response.text
            assert response.headers["content-type"].startswith("application/problem+json")
            assert "Öberg" not in response.text and FK_SUMMARY not in response.text
            (entry,) = log(api)[before:]
            assert (entry["kind"], entry["outcome"], entry["reason"], entry["participant_id"]) == (
                "register-extract",
                "refused",
                "role",
                pid,
            )


def test_an_unknown_participant_is_a_logged_404(api: Api) -> None:
    for path in (url(UNKNOWN), url(UNKNOWN, pdf=True)):
        before = api.context.log.head()[0]
        response = api.samordnare.get(path)
        assert response.status_code == 404, response.text
        (entry,) = log(api)[before:]
        assert (entry["kind"], entry["outcome"], entry["reason"]) == ("register-extract", "refused", "not-found")


def test_after_erasure_it_says_the_data_is_erased_and_holds_none(api: Api, case: dict[str, Any]) -> None:
    pid = case["pid"]
    assert api.admin.post(f"/api/v1/participants/{pid}/erasure").status_code == 200
    before = api.context.log.head()[0]
    response = api.samordnare.get(url(pid), params=PURPOSE)
    assert response.status_code == 200, response.text
    extract = response.json()
    assert extract["status"] == "erased" and extract["erased_at"] is not None
    assert "raderats" in extract["erased_statement"]
    assert extract["person"] is None and extract["referral"] is None and extract["closure"] is None
    assert [extract[k] for k in ("consents", "blocks", "decisions", "plans", "interventions", "meetings")] == [[]] * 6
    for secret in ("Åsa", "Öberg", "19811218", FK_SUMMARY, REGION_SUMMARY, NOTES, GOAL, REASON, WITHDRAWAL):
        assert secret not in response.text, secret
    (entry,) = log(api)[before:]
    assert (entry["kind"], entry["outcome"], entry["disclosed"]) == ("register-extract", "disclosed", [])

    pdf = text(api.samordnare.get(url(pid, pdf=True), params=PURPOSE))
    assert "Registerutdrag enligt artikel 15" in pdf and "har raderats" in pdf and "Dina rättigheter" in pdf
    for secret in ("Åsa", "Öberg", "19811218", FK_SUMMARY, REGION_SUMMARY, NOTES):
        assert secret not in pdf, secret


def test_the_log_extract_marks_emergency_reads_and_names_the_consents(api: Api, case: dict[str, Any]) -> None:
    """A read under an emergency access carries `details.emergency` (and the purpose `nodatkomst`): either marks
    the entry. The first is written here as the emergency door writes it, so this holds without that door."""
    pid = case["pid"]
    api.handlaggare("FK").get(f"/api/v1/participants/{pid}/view", params={"purpose": "nodatkomst"})
    opened = {"id": "5f0c1a4e-0000-4000-8000-000000000001", "reason": "fara-for-liv-eller-halsa", "until": "x"}
    region = Actor("handlaggare-region", "REGION", "handlaggare")
    item = Disclosed(UUID(case["fk"]), "FK", "insurance", None, None)
    api.context.log.append(
        EntryDraft("view", region, "req-1", "handlaggning", UUID(pid), [item], details={"emergency": opened})
    )
    extract = api.samordnare.get(f"/api/v1/participants/{pid}/disclosures").json()["entries"]
    flagged = [(e["user_id"], e["purpose"]) for e in extract if e["emergency"]]
    assert flagged == [("handlaggare-fk", "nodatkomst"), ("handlaggare-region", "handlaggning")]
    assert sum(1 for e in extract if e["emergency"] is False) == len(extract) - 2
    sf_view = next(e for e in extract if e["kind"] == "view" and e["user_id"] == "samordnare-sf")
    assert {"consent_id": case["consent"], "consent_version": 1} in sf_view["consents"]
    assert all(e["consents"] == [] for e in extract if e["kind"] in ("search", "consents-read"))

    pdf = text(api.samordnare.get(f"/api/v1/participants/{pid}/disclosures.pdf", params=PURPOSE))
    assert "Loggutdrag: vem har läst dina uppgifter" in pdf and "Nödåtkomst" in pdf
    assert len(re.findall(r"(?<![”\w])ja(?![”\w])", pdf)) == 2  # one "ja" per emergency row, "nej" in the others
    assert len(re.findall(r"(?<![”\w])nej(?![”\w])", pdf)) == len(extract) + 1 - 2  # this PDF's entry is in it


def test_every_fixed_text_has_its_glyphs_in_the_pdf_font() -> None:
    """Text extraction cannot see a missing glyph (it reads the characters back): check the font itself."""
    font = TTFont("check", str(Path(reportlab.__file__).parent / "fonts" / "Vera.ttf"))
    texts = [*art15.PURPOSES, art15.SOURCES, art15.AUTOMATED_DECISIONS, art15.RETENTION, art15.RECIPIENTS]
    texts += [art15.ERASED, *(r["title"] + r["text"] for r in art15.RIGHTS), *documents.DATA_CATEGORIES.values()]
    texts += [HOW_TO_WITHDRAW, CONTROLLERS_CONTACT, LEGAL_BASIS, *PARTY_NAMES.values()]
    missing = {ch for text in texts for ch in text if ord(ch) not in font.face.charToGlyph}
    assert missing == set()


def test_a_reserve_identity_and_a_closed_case(api: Api) -> None:
    """Enrolled without a number (a reserve identity), then closed: the birth date and the closure are in it."""
    body = {"given_name": "Märta", "family_name": "Sjöström", "birth_date": "1990-05-17", "legal_gender": "female"}
    pid = enrol(api, personnummer=None, **body)
    closure = {
        "outcome": "work",
        "closed_date": today().isoformat(),
        "support_after": "lon",
        "occupation_after": "arbete",
    }
    assert api.samordnare.post(f"/api/v1/participants/{pid}/closure", closure).status_code == 200
    extract = api.samordnare.get(url(pid), params=PURPOSE).json()
    person = extract["person"]
    assert (person["personnummer"], person["reserve_identity"], person["birth_date"]) == (None, True, "1990-05-17")
    assert (extract["status"], extract["closure"]["outcome"]) == ("closed", "work")
    assert extract["closure"]["follow_up"] == {"support_after": "lon", "occupation_after": "arbete"}
    assert extract["consents"] == [] and extract["decisions"] == [] and extract["future_recipients"] == []
    pdf = text(api.samordnare.get(url(pid, pdf=True), params=PURPOSE))
    assert "Märta Sjöström" in pdf and "saknas (reservidentitet)" in pdf and "1990-05-17" in pdf
    assert "Inga samtycken registrerade" in pdf and "Inga beslut registrerade" in pdf
    assert "Utfall arbete" in pdf and "Försörjning efter lön" in pdf


def test_an_emergency_access_is_in_the_extract_with_its_reason_and_note(api: Api, case: dict[str, Any]) -> None:
    """Uses the emergency door (docs/emergency.md): the opening is data about the person, so it is in the extract."""
    pid = case["pid"]
    note = "Akut försämring, behöver se pågående beslut inför kvällens bedömning"
    body = {"reason": "fara-for-liv-eller-halsa", "note": note, "minutes": 30}
    response = api.handlaggare("AF").post(f"/api/v1/participants/{pid}/emergency-access", body)
    assert response.status_code == 201, response.text
    before = api.context.log.head()[0]
    extract = api.samordnare.get(url(pid), params=PURPOSE).json()
    (access,) = extract["emergency_accesses"]
    assert (access["id"], access["reader"], access["reason"], access["note"]) == (
        response.json()["id"],
        "AF",
        "fara-for-liv-eller-halsa",
        note,
    )
    (entry,) = log(api)[before:]
    assert access["id"] in {d["event_id"] for d in entry["disclosed"]} and note not in str(entry)
    pdf = text(api.samordnare.get(url(pid, pdf=True), params=PURPOSE))
    assert "Nödåtkomst" in pdf and note in pdf and "Fara för den enskildes liv eller hälsa" in pdf
    log_extract = api.samordnare.get(f"/api/v1/participants/{pid}/disclosures").json()["entries"]
    assert [e["kind"] for e in log_extract if e["emergency"]] == ["emergency-access"]


def test_after_one_partys_gallring_the_rest_is_there_and_the_erasure_is_said(api: Api, case: dict[str, Any]) -> None:
    """Gallring of FK's information only (docs/retention.md): FK's texts are gone, the rest is still held."""
    pid = case["pid"]
    caller = Caller("admin-demo", Party.SF, Role.ADMIN, "req-gallring", "drift")
    erase_personal_data(api.context.service, api.context.log, caller, UUID(pid), reason=GALLRING, party=Party.FK)
    response = api.samordnare.get(url(pid), params=PURPOSE)
    assert response.status_code == 200, response.text
    extract = response.json()
    assert [(e["party"], e["reason"]) for e in extract["erasures"]] == [("FK", "gallring")]
    decisions = {d["id"]: d for d in extract["decisions"]}
    assert decisions[case["fk"]]["summary"] is None and decisions[case["retracted"]]["retraction_reason"] is None
    assert decisions[case["region"]]["summary"] == REGION_SUMMARY and extract["person"]["given_name"] == "Åsa"
    assert FK_SUMMARY not in response.text
    pdf = text(api.samordnare.get(url(pid, pdf=True), params=PURPOSE))
    assert "Uppgifterna från Försäkringskassan raderades" in pdf and REGION_SUMMARY in pdf and FK_SUMMARY not in pdf
