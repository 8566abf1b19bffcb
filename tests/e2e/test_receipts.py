"""The participant's documents: the consent receipt (JSON and PDF) and the log extract as PDF, on both engines.
Each is one read through the door: samordnare only, one disclosure-log entry, refusals logged too."""

from __future__ import annotations

import io
import re
from collections.abc import Iterator
from typing import Any

import pytest
from fastapi.testclient import TestClient
from pypdf import PdfReader

from adapters.disclosure_log import LogFilter
from adapters.http.app import build_context, create_app
from adapters.settings import Settings
from adapters.storage import open_storage
from adapters.web.words import moment
from coordination.personnummer import fictitious_personnummer
from tests.e2e.conftest import Api
from tests.e2e.scenario import consent_body, decision_body, enrol
from tests.support import today

UNKNOWN = "00000000-0000-4000-8000-000000000000"
NAMES = {"given_name": "Åsa", "family_name": "Öberg-Ärlinge"}
GRANTS = [("FK", "SF", ["insurance"]), ("AF", "SF", ["employment"]), ("SF", "FK", ["coordination"])]


def log(api: Api) -> list[dict[str, Any]]:
    return list(api.context.log.entries(LogFilter()))


def text(response: Any) -> str:
    """The PDF's text, whitespace collapsed (table cells wrap)."""
    assert response.status_code == 200, response.text
    assert response.headers["content-type"] == "application/pdf"
    assert response.content.startswith(b"%PDF-")
    pages = PdfReader(io.BytesIO(response.content)).pages
    return re.sub(r"\s+", " ", " ".join(page.extract_text() for page in pages))


@pytest.fixture
def case(api: Api) -> tuple[str, str]:
    """Åsa, with a written consent of three grants; (participant id, consent id)."""
    pid = enrol(api, **NAMES)
    response = api.samordnare.post(f"/api/v1/participants/{pid}/consents", consent_body(*GRANTS))
    assert response.status_code == 201, response.text
    return pid, response.json()["id"]


def receipt_url(pid: str, consent: str, pdf: bool = False) -> str:
    return f"/api/v1/participants/{pid}/consents/{consent}/receipt" + (".pdf" if pdf else "")


def test_the_json_receipt_holds_the_fields(api: Api, case: tuple[str, str]) -> None:
    pid, consent = case
    before = api.context.log.head()[0]
    response = api.samordnare.get(receipt_url(pid, consent))
    assert response.status_code == 200, response.text
    receipt = response.json()
    assert (receipt["consent_id"], receipt["version"], receipt["status"]) == (consent, 1, "active")
    assert receipt["standard"] == "ISO/IEC 27560" and receipt["language"] == "sv"
    assert receipt["participant"]["given_name"] == "Åsa"
    assert receipt["participant"]["family_name"] == "Öberg-Ärlinge"
    assert receipt["participant"]["personnummer"] == "19811218-9876"
    assert {
        (g["discloser"]["code"], g["recipient"]["code"], g["category"], g["status"]) for g in receipt["grants"]
    } == {
        ("FK", "SF", "insurance", "active"),
        ("AF", "SF", "employment", "active"),
        ("SF", "FK", "coordination", "active"),
    }
    names = {p["code"]: p["name"] for p in receipt["parties"]}
    assert names == {"FK": "Försäkringskassan", "AF": "Arbetsförmedlingen", "SF": "Samordningsförbundet"}
    assert receipt["purposes"] == ["Samordnad rehabilitering"]
    assert receipt["categories"] == ["coordination", "employment", "insurance"]
    body = consent_body()
    assert receipt["period"] == {"valid_from": body["valid_from"], "valid_until": body["valid_until"]}
    assert receipt["form"] == {"kind": "written", "document_ref": "DOC-1", "witness": None}
    assert receipt["guardians"] == []
    assert receipt["how_to_withdraw"].startswith("Kontakta samordnaren")
    assert receipt["controllers_contact"] and receipt["legal_basis"]
    (entry,) = log(api)[before:]
    assert (entry["kind"], entry["participant_id"], entry["outcome"]) == ("receipt", pid, "disclosed")
    assert entry["details"] == {"consent_id": consent, "version": 1, "format": "json"}
    assert "Åsa" not in str(entry) and "19811218" not in str(entry)


def test_a_partial_withdrawal_gives_an_updated_receipt(api: Api, case: tuple[str, str]) -> None:
    pid, consent = case
    first = api.samordnare.get(receipt_url(pid, consent)).json()
    withdrawal = {"grants": [{"from": "FK", "to": "SF", "categories": ["insurance"]}], "reason": "Ångrat sig"}
    response = api.samordnare.post(f"/api/v1/participants/{pid}/consents/{consent}/withdrawal", withdrawal)
    assert response.status_code == 200, response.text
    second = api.samordnare.get(receipt_url(pid, consent)).json()
    assert (second["version"], second["status"]) == (2, "active")
    assert second["receipt_id"] != first["receipt_id"]
    grants = {(g["discloser"]["code"], g["category"]): g for g in second["grants"]}
    assert grants["FK", "insurance"]["status"] == "withdrawn"
    assert grants["FK", "insurance"]["withdrawn_at"] is not None
    assert grants["AF", "employment"]["status"] == "active" and grants["AF", "employment"]["withdrawn_at"] is None
    again = api.samordnare.get(receipt_url(pid, consent)).json()
    assert again["receipt_id"] == second["receipt_id"]  # the same version is the same receipt
    assert log(api)[-1]["details"]["version"] == 2

    pdf = text(api.samordnare.get(receipt_url(pid, consent, pdf=True)))
    assert f"{consent}, version 2" in pdf
    assert f"återkallat {moment(grants['FK', 'insurance']['withdrawn_at'])}" in pdf


def test_the_receipt_pdf_is_in_swedish_with_the_names_and_grants(api: Api, case: tuple[str, str]) -> None:
    pid, consent = case
    before = api.context.log.head()[0]
    response = api.samordnare.get(receipt_url(pid, consent, pdf=True))
    pdf = text(response)
    assert "attachment" in response.headers["content-disposition"]
    assert "Åsa" not in response.headers["content-disposition"]
    for heading in (
        "Kvitto på samtycke",
        "Du som har lämnat samtycket",
        "Vem får lämna vad till vem",
        "Så återkallar du samtycket",
        "Personuppgiftsansvariga",
    ):
        assert heading in pdf, heading
    assert "Åsa Öberg-Ärlinge" in pdf and "19811218-9876" in pdf
    assert "Försäkringskassan Samordningsförbundet försäkring aktivt" in pdf
    assert "Arbetsförmedlingen Samordningsförbundet arbetsmarknad aktivt" in pdf
    assert "Samordningsförbundet Försäkringskassan samordning aktivt" in pdf
    assert "Samordnad rehabilitering" in pdf and "skriftligt, dokument: DOC-1" in pdf
    assert "Kontakta samordnaren" in pdf and "12 kap. 2 §" in pdf
    (entry,) = log(api)[before:]
    assert (entry["kind"], entry["outcome"], entry["details"]["format"]) == ("receipt", "disclosed", "pdf")


def test_an_oral_consent_for_a_minor_names_the_witness_and_the_guardians(api: Api) -> None:
    number = fictitious_personnummer(today().replace(year=today().year - 16, day=1), 42, gender="female")
    pid = enrol(api, personnummer=str(number), given_name="Märta", family_name="Sjöström")
    body = consent_body(
        ("REGION", "SF", ["health"]),
        form="oral",
        document_ref=None,
        witness="Göran Älg",
        guardians=["Björn Sjöström", "Åse Sjöström"],
    )
    response = api.samordnare.post(f"/api/v1/participants/{pid}/consents", body)
    assert response.status_code == 201, response.text
    consent = response.json()["id"]
    receipt = api.samordnare.get(receipt_url(pid, consent)).json()
    assert receipt["form"] == {"kind": "oral", "document_ref": None, "witness": "Göran Älg"}
    assert receipt["guardians"] == ["Björn Sjöström", "Åse Sjöström"]
    assert receipt["grants"][0]["discloser"]["name"] == "Regionen (hälso- och sjukvården)"
    pdf = text(api.samordnare.get(receipt_url(pid, consent, pdf=True)))
    assert "muntligt, bevittnat av: Göran Älg" in pdf
    assert "Björn Sjöström, Åse Sjöström" in pdf and "Märta Sjöström" in pdf


def test_the_extract_pdf_holds_the_same_entries_as_the_json_extract(api: Api, case: tuple[str, str]) -> None:
    pid, consent = case
    assert api.handlaggare("FK").post(f"/api/v1/participants/{pid}/decisions", decision_body()).status_code == 201
    api.samordnare.get(f"/api/v1/participants/{pid}/view")
    api.handlaggare("FK").get(f"/api/v1/participants/{pid}/view")  # its own decision
    api.handlaggare("AF").get(f"/api/v1/participants/{pid}/view")  # sees nothing: refused
    api.granskare.get(receipt_url(pid, consent))  # refused by role
    extract = api.samordnare.get(f"/api/v1/participants/{pid}/disclosures").json()["entries"]
    assert {"view", "view-refused", "receipt"} <= {e["kind"] for e in extract}
    before = api.context.log.head()[0]
    response = api.samordnare.get(f"/api/v1/participants/{pid}/disclosures.pdf")
    pdf = text(response)
    (entry,) = log(api)[before:]
    assert (entry["kind"], entry["outcome"], entry["participant_id"]) == ("extract", "disclosed", pid)
    assert entry["details"] == {"entries": len(extract) + 1, "format": "pdf"}  # the JSON extract's entry too

    assert "Loggutdrag: vem har läst dina uppgifter" in pdf and "Åsa Öberg-Ärlinge" in pdf and "19811218-9876" in pdf
    assert f"Antal händelser {len(extract) + 1}" in pdf
    for e in extract:
        assert moment(e["recorded_at"]) in pdf  # Swedish time, 2026-11-25 14:05
        assert e["user_id"] in pdf
    assert "Försäkringskassan" in pdf and "Arbetsförmedlingen" in pdf
    assert "visning" in pdf and "nekad läsning" in pdf and "nekat" in pdf and "utlämnat" in pdf
    assert "kvitto på samtycke" in pdf  # the granskare's refused receipt read
    assert "försäkring" in pdf  # the category the samordnare saw
    shown = [d for e in extract for d in e["disclosed"] if d["consent_id"] == consent]
    assert shown and f"{consent[:8]} v1" in pdf  # under which consent
    assert "eget" in pdf  # the förbund's own record


@pytest.mark.parametrize("path", ["receipt", "receipt.pdf", "disclosures.pdf"])
def test_only_the_samordnare_reads_them_and_each_refusal_is_logged(api: Api, case: tuple[str, str], path: str) -> None:
    pid, consent = case
    url = f"/api/v1/participants/{pid}/" + (path if path.startswith("disclosures") else f"consents/{consent}/{path}")
    kind = "extract" if path.startswith("disclosures") else "receipt"
    for caller in (api.handlaggare("FK"), api.granskare, api.admin):
        before = api.context.log.head()[0]
        response = caller.get(url)
        assert response.status_code == 403, response.text
        assert "Öberg" not in response.text
        (entry,) = log(api)[before:]
        assert (entry["kind"], entry["outcome"], entry["reason"], entry["participant_id"]) == (
            kind,
            "refused",
            "role",
            pid,
        )
    before = api.context.log.head()[0]
    assert api.samordnare.get(url).status_code == 200
    assert len(log(api)[before:]) == 1


def test_an_unknown_consent_or_participant_is_a_logged_refusal(api: Api, case: tuple[str, str]) -> None:
    pid, consent = case
    for url in (receipt_url(pid, UNKNOWN), receipt_url(UNKNOWN, consent), receipt_url(pid, UNKNOWN, pdf=True)):
        before = api.context.log.head()[0]
        assert api.samordnare.get(url).status_code == 404
        (entry,) = log(api)[before:]
        assert (entry["kind"], entry["outcome"], entry["reason"]) == ("receipt", "refused", "not-found")


FORBUND = "Samordningsförbundet Älvdalen Norra"
CONTACT = "Dataskyddsombud: dso@example.se, 010-123 45 67. Förbundet: registrator@example.se."


@pytest.fixture
def named(settings: Settings) -> Iterator[Api]:
    """The service of an installation that has set its förbund's name, the region's and the controllers' contact."""
    configured = settings.model_copy(
        update={"forbund_name": FORBUND, "region_name": "Region Älvdalen", "controllers_contact": CONTACT}
    )
    with open_storage(configured) as storage:
        context = build_context(configured, storage)
        with TestClient(create_app(configured, context=context), raise_server_exceptions=False) as client:
            yield Api(client, context)


def test_the_papers_name_the_installations_parties_and_the_controllers_contact(named: Api) -> None:
    pid = enrol(named)
    created = named.samordnare.post(
        f"/api/v1/participants/{pid}/consents",
        consent_body(("REGION", "SF", ["health"]), ("SF", "REGION", ["coordination"])),
    )
    consent = created.json()["id"]
    receipt = named.samordnare.get(receipt_url(pid, consent)).json()
    assert receipt["controllers_contact"] == CONTACT
    assert {p["code"]: p["name"] for p in receipt["parties"]} == {"REGION": "Region Älvdalen", "SF": FORBUND}
    printed = text(named.samordnare.get(receipt_url(pid, consent, pdf=True)))
    for expected in (FORBUND, "Region Älvdalen", "dso@example.se"):
        assert expected in printed
    register = named.samordnare.get(f"/api/v1/participants/{pid}/register-extract.pdf")
    assert FORBUND in text(register)
