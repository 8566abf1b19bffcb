"""The participant's papers on the page Deltagare, on both engines: the links *Kvitto (PDF)* per consent,
*Loggutdrag (PDF)* and *Registerutdrag (PDF)*; each download goes through the door on the session cookie (no bearer
token), is a PDF with the right text, writes exactly one log entry and is sent with `Cache-Control: no-store`;
nothing identifying in the addresses; other roles are refused and logged."""

from __future__ import annotations

import io
import re
from typing import Any

import pytest
from pypdf import PdfReader

from tests.e2e.conftest import Api
from tests.e2e.scenario import consent_body, decision_body, enrol
from tests.e2e.test_web_pages import Pages, entries

NAMES = {"given_name": "Åsa", "family_name": "Öberg-Ärlinge"}
NUMBER = "19811218-9876"
SUMMARY = "Sjukpenning på halvtid beviljad, återkommer i mars"
UNKNOWN = "00000000-0000-4000-8000-000000000000"


def text(response: Any) -> str:
    """The PDF's text, whitespace collapsed; the download's headers checked on the way."""
    assert response.status_code == 200, response.text
    assert response.headers["content-type"] == "application/pdf"
    assert response.headers["cache-control"] == "no-store"
    disposition = response.headers["content-disposition"]
    assert disposition.startswith("attachment;") and "Åsa" not in disposition and "19811218" not in disposition
    pages = PdfReader(io.BytesIO(response.content)).pages
    return re.sub(r"\s+", " ", " ".join(page.extract_text() for page in pages))


@pytest.fixture
def case(api: Api) -> tuple[str, str]:
    """Åsa with a consent FK -> SF and FK's decision; (participant id, consent id)."""
    pid = enrol(api, **NAMES)
    response = api.samordnare.post(f"/api/v1/participants/{pid}/consents", consent_body(("FK", "SF", ["insurance"])))
    assert response.status_code == 201, response.text
    body = decision_body(summary=SUMMARY)
    assert api.handlaggare("FK").post(f"/api/v1/participants/{pid}/decisions", body).status_code == 201
    return pid, response.json()["id"]


def test_the_links_are_on_the_page_and_each_download_is_one_logged_read(api: Api, case: tuple[str, str]) -> None:
    pid, consent = case
    sf = Pages(api, "samordnare-demo")
    page = sf.get(f"/deltagare/{pid}")
    assert page.status_code == 200, page.text
    links = {
        "receipt": f'href="/deltagare/{pid}/kvitto/{consent}.pdf"',
        "log": f'href="/deltagare/{pid}/loggutdrag.pdf"',
        "register": f'href="/deltagare/{pid}/registerutdrag.pdf"',
    }
    for link in links.values():
        assert link in page.text, link
    for label in ("Kvitto (PDF)", "Loggutdrag (PDF)", "Registerutdrag (PDF)"):
        assert label in page.text, label

    downloads = [
        (
            f"/deltagare/{pid}/kvitto/{consent}.pdf",
            "receipt",
            "samordning",
            ["Kvitto på samtycke", "Åsa Öberg-Ärlinge"],
        ),
        (f"/deltagare/{pid}/loggutdrag.pdf", "extract", "registerutdrag", ["Loggutdrag", "översikt", NUMBER]),
        (
            f"/deltagare/{pid}/registerutdrag.pdf",
            "register-extract",
            "registerutdrag",
            ["Registerutdrag enligt artikel 15 i dataskyddsförordningen", SUMMARY, "Dina rättigheter", NUMBER],
        ),
    ]
    for path, kind, purpose, expected in downloads:
        before = api.context.log.head()[0]
        pdf = text(sf.get(path))
        for words in expected:
            assert words in pdf, (path, words)
        (entry,) = entries(api)[before:]
        assert (entry["kind"], entry["participant_id"], entry["outcome"], entry["purpose"], entry["user_id"]) == (
            kind,
            pid,
            "disclosed",
            purpose,
            "samordnare-demo",
        )
    # Nothing identifying went into an address on the way.
    for visited in sf.visited:
        assert "19811218" not in visited and "Öberg" not in visited and "%C3%96berg" not in visited


def test_other_roles_are_refused_and_logged_and_a_signed_out_browser_reads_nothing(
    api: Api, case: tuple[str, str]
) -> None:
    pid, consent = case
    paths = {
        f"/deltagare/{pid}/kvitto/{consent}.pdf": "receipt",
        f"/deltagare/{pid}/loggutdrag.pdf": "extract",
        f"/deltagare/{pid}/registerutdrag.pdf": "register-extract",
    }
    for sub in ("handlaggare-fk", "granskare-demo"):
        browser = Pages(api, sub)
        for path, kind in paths.items():
            before = api.context.log.head()[0]
            response = browser.get(path)
            assert response.status_code == 403, (sub, path)
            assert response.headers["content-type"].startswith("text/html")
            assert "Öberg" not in response.text and SUMMARY not in response.text
            (entry,) = entries(api)[before:]
            assert (entry["kind"], entry["outcome"], entry["reason"]) == (kind, "refused", "role")
    anonymous = Pages(api)
    for path in paths:
        before = api.context.log.head()[0]
        response = anonymous.get(path)
        assert response.status_code == 303 and response.headers["location"] == "/logga-in"
        assert api.context.log.head()[0] == before  # no one asked: nothing read, nothing logged


def test_an_unknown_consent_or_participant_is_a_404_page_and_logged(api: Api, case: tuple[str, str]) -> None:
    pid, _ = case
    sf = Pages(api, "samordnare-demo")
    for path, kind in (
        (f"/deltagare/{pid}/kvitto/{UNKNOWN}.pdf", "receipt"),
        (f"/deltagare/{UNKNOWN}/loggutdrag.pdf", "extract"),
        (f"/deltagare/{UNKNOWN}/registerutdrag.pdf", "register-extract"),
    ):
        before = api.context.log.head()[0]
        response = sf.get(path)
        assert response.status_code == 404, path
        (entry,) = entries(api)[before:]
        assert (entry["kind"], entry["outcome"], entry["reason"]) == (kind, "refused", "not-found")
    before = api.context.log.head()[0]
    assert sf.get(f"/deltagare/{pid}/kvitto/{NUMBER}.pdf").status_code == 404  # a malformed id: not a read
    assert api.context.log.head()[0] == before
