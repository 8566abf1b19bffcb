"""The web pages over the real app on both engines: Myndighetsvy shows exactly the API's view and writes one log
entry per page view; every POST form refuses a missing or wrong CSRF token and writes nothing; no personnummer
in a URL; the cookie's flags."""

from __future__ import annotations

import json
import re
from datetime import timedelta
from html import unescape
from pathlib import Path
from typing import Any

import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec
from fastapi.testclient import TestClient

from adapters.audit_export import verify_export
from adapters.disclosure_log import LogFilter
from adapters.http.app import build_context, create_app
from adapters.settings import Settings
from adapters.storage import Storage
from tests.e2e.conftest import Api
from tests.e2e.scenario import consent_body, decision_body, enrol
from tests.support import ANNA, enrol_minor, today

CSRF = re.compile(r'name="csrf_token" value="([^"]+)"')
ITEM = re.compile(r'data-item="([^"]+)"')


class Pages:
    """One browser: its own cookie jar, signed in through the development sign-in page."""

    def __init__(self, api: Api, sub: str | None = None) -> None:
        self.client = TestClient(api.client.app, follow_redirects=False)
        self.visited: list[str] = []
        if sub is not None:
            self.sign_in(sub)

    def get(self, path: str, **kwargs: Any) -> Any:
        response = self.client.get(path, **kwargs)
        self.visited.append(str(response.url))
        return response

    def csrf(self, path: str = "/logga-in") -> str:
        match = CSRF.search(self.get(path).text)
        assert match, path
        return match.group(1)

    def post(self, path: str, data: dict[str, Any], token: str | None = "auto", origin: str = "/logga-in") -> Any:
        body = dict(data)
        if token == "auto":
            body["csrf_token"] = self.csrf(origin)
        elif token is not None:
            body["csrf_token"] = token
        response = self.client.post(path, data=body)
        self.visited.append(str(response.url))
        if "location" in response.headers:
            self.visited.append(response.headers["location"])
        return response

    def sign_in(self, sub: str) -> None:
        response = self.post("/logga-in", {"anvandare": sub})
        assert response.status_code == 303, response.text
        assert response.headers["location"] == "/"


def entries(api: Api) -> list[dict[str, Any]]:
    return list(api.context.log.entries(LogFilter()))


@pytest.fixture
def pid(api: Api) -> str:
    """Annika with consent FK -> SF and FK -> AF, and an FK decision."""
    pid = enrol(api)
    grants = consent_body(("FK", "SF", ["insurance"]), ("FK", "AF", ["insurance"]))
    assert api.samordnare.post(f"/api/v1/participants/{pid}/consents", grants).status_code == 201
    fk = api.handlaggare("FK")
    assert fk.post(f"/api/v1/participants/{pid}/decisions", decision_body()).status_code == 201
    return pid


def test_myndighetsvy_shows_exactly_the_api_view_and_writes_one_entry_per_view(api: Api, pid: str) -> None:
    af = Pages(api, "handlaggare-af")
    before = api.context.log.head()[0]
    page = af.get(f"/myndighetsvy/{pid}")
    assert page.status_code == 200, page.text
    assert page.headers["cache-control"] == "no-store"
    assert api.context.log.head()[0] == before + 1
    entry = entries(api)[-1]
    assert (entry["kind"], entry["user_id"], entry["participant_id"], entry["purpose"]) == (
        "view",
        "handlaggare-af",
        pid,
        "handlaggning",
    )
    body = api.as_("handlaggare", "AF", sub="handlaggare-af").get(f"/api/v1/participants/{pid}/view").json()
    expected = {f"decision:{d['id']}" for d in body["decisions"]}
    coordination = body["coordination"] or {}
    expected |= {f"intervention:{i['id']}" for i in coordination.get("interventions", [])}
    expected |= {f"meeting:{m['id']}" for m in coordination.get("meetings", [])}
    expected |= {"referral"} if "referral" in coordination else set()
    assert set(ITEM.findall(page.text)) == expected and expected
    for decision in body["decisions"]:
        assert decision["summary"] in page.text
        assert f"{decision['consent_id']}, version {decision['consent_version']}" in page.text
    # The same read by the same user writes the same kind of entry, and disclosed the same items.
    api_entry = entries(api)[-1]
    assert [d["event_id"] for d in api_entry["disclosed"]] == [d["event_id"] for d in entry["disclosed"]]
    again = api.context.log.head()[0]
    af.get(f"/myndighetsvy/{pid}")
    assert api.context.log.head()[0] == again + 1


def test_fk_records_its_decision_and_a_missing_consent_is_named(api: Api) -> None:
    pid = enrol(api)
    fk = Pages(api, "handlaggare-fk")
    page = fk.get(f"/myndighetsvy/{pid}")
    assert page.status_code == 200 and 'id="inget-synligt"' in page.text  # nothing visible, the form is there
    form = {
        "category": "insurance",
        "decision_type": "sjukpenning",
        "effective_date": today().isoformat(),
        "summary": "Sjukpenning beviljad på halvtid",
        "source_ref": "FK-77",
    }
    refused = fk.post(f"/myndighetsvy/{pid}/beslut", form, origin=f"/myndighetsvy/{pid}")
    assert refused.status_code == 400
    assert "Samtycke saknas" in refused.text and "Försäkringskassan → Samordningsförbundet: försäkring" in refused.text
    assert "Samordnaren kan registrera samtycket" in refused.text
    assert 'value="FK-77"' in refused.text  # the input is kept
    assert entries(api)[-2]["outcome"] == "refused"  # the refused recording, then the page's view entry
    consent = consent_body(("FK", "SF", ["insurance"]))
    api.samordnare.post(f"/api/v1/participants/{pid}/consents", consent)
    bad = fk.post(f"/myndighetsvy/{pid}/beslut", {**form, "effective_date": "igår"}, origin=f"/myndighetsvy/{pid}")
    assert bad.status_code == 400
    assert 'href="#effective_date"' in bad.text and 'id="effective_date-error"' in bad.text
    done = fk.post(f"/myndighetsvy/{pid}/beslut", form, origin=f"/myndighetsvy/{pid}")
    assert done.status_code == 303 and done.headers["location"] == f"/myndighetsvy/{pid}"
    assert "Sjukpenning beviljad på halvtid" in fk.get(f"/myndighetsvy/{pid}").text


def test_fk_corrects_and_retracts_its_own_decision(api: Api, pid: str) -> None:
    fk_api = api.as_("handlaggare", "FK", sub="handlaggare-fk")
    original = fk_api.get(f"/api/v1/participants/{pid}/view").json()["decisions"][0]
    fk = Pages(api, "handlaggare-fk")
    page = fk.get(f"/myndighetsvy/{pid}")
    fix, retract = f"fix-{original['id']}-", f"retract-{original['id']}-reason"
    assert f'action="/myndighetsvy/{pid}/beslut/{original["id"]}/rattelse"' in page.text
    assert f'action="/myndighetsvy/{pid}/beslut/{original["id"]}/makulering"' in page.text
    assert f'id="{fix}summary"' in page.text and original["summary"] in page.text  # the form starts from it
    # AF sees the decision but has no form for it, and may not retract it.
    af = Pages(api, "handlaggare-af")
    assert "/rattelse" not in af.get(f"/myndighetsvy/{pid}").text
    origin = f"/myndighetsvy/{pid}"
    refused = af.post(f"{origin}/beslut/{original['id']}/makulering", {retract: "fel"}, origin=origin)
    assert refused.status_code == 403

    form = {
        f"{fix}category": "insurance",
        f"{fix}decision_type": "sjukpenning",
        f"{fix}effective_date": today().isoformat(),
        f"{fix}summary": "",
        f"{fix}source_ref": "FK-1-R",
    }
    correction = f"{origin}/beslut/{original['id']}/rattelse"
    head = api.context.reads.projections.head()
    bad = fk.post(correction, form, origin=origin)
    assert bad.status_code == 400
    assert f'href="#{fix}summary"' in bad.text and f'id="{fix}summary-error"' in bad.text
    assert 'value="FK-1-R"' in bad.text and f'data-decision="{original["id"]}" open' in bad.text
    same_ref = fk.post(correction, {**form, f"{fix}summary": "Heltid", f"{fix}source_ref": "FK-1"}, origin=origin)
    assert same_ref.status_code == 400 and f'id="{fix}source_ref-error"' in same_ref.text
    assert api.context.reads.projections.head() == head  # nothing written
    done = fk.post(correction, {**form, f"{fix}summary": "Sjukpenning på heltid"}, origin=origin)
    assert done.status_code == 303 and done.headers["location"] == origin
    decisions = {d["id"]: d for d in fk_api.get(f"/api/v1/participants/{pid}/view").json()["decisions"]}
    assert decisions[original["id"]]["status"] == "corrected"
    corrected = next(d for d in decisions.values() if d["corrects"] == original["id"])
    assert corrected["status"] == "active" and corrected["summary"] == "Sjukpenning på heltid"
    page = fk.get(origin)
    assert f"/beslut/{original['id']}/" not in page.text and f"/beslut/{corrected['id']}/makulering" in page.text

    retraction = f"{origin}/beslut/{corrected['id']}/makulering"
    reason = f"retract-{corrected['id']}-reason"
    empty = fk.post(retraction, {reason: " "}, origin=origin)
    assert empty.status_code == 400 and f'href="#{reason}"' in empty.text and f'id="{reason}-error"' in empty.text
    gone = fk.post(retraction, {reason: "Registrerat på fel deltagare"}, origin=origin)
    assert gone.status_code == 303
    decisions = {d["id"]: d for d in fk_api.get(f"/api/v1/participants/{pid}/view").json()["decisions"]}
    assert decisions[corrected["id"]]["status"] == "retracted" and decisions[corrected["id"]]["summary"] is None
    page = fk.get(origin)
    assert "/makulering" not in page.text and "återtaget" in page.text


def test_every_post_form_refuses_a_missing_or_wrong_csrf_token_and_writes_nothing(api: Api, pid: str) -> None:
    consent_id = api.samordnare.get(f"/api/v1/participants/{pid}/consents").json()[0]["id"]
    fk_api = api.as_("handlaggare", "FK", sub="handlaggare-fk")
    decision_id = fk_api.get(f"/api/v1/participants/{pid}/view").json()["decisions"][0]["id"]
    forms: dict[str | None, list[tuple[str, dict[str, Any]]]] = {
        "samordnare-demo": [
            ("/sok", {"personnummer": ANNA["personnummer"]}),
            ("/ny-deltagare", {"personnummer": "19900101-0017", "given_name": "Bo", "family_name": "Berg"}),
            (f"/deltagare/{pid}/samtycke", {"grant": "AF:SF", "purpose": "x", "form": "written"}),
            (f"/deltagare/{pid}/aterkallelse", {"consent_id": consent_id}),
            (f"/deltagare/{pid}/personnummer", {"personnummer": "19900101-0017"}),
            (f"/deltagare/{pid}/remiss", {"referral-remittent": "FK", "referral-needs": ["FK", "AF"]}),
            (f"/deltagare/{pid}/moten/boka", {"book-kind": "meeting", "book-invited": "FK"}),
            (f"/deltagare/{pid}/moten/utfall", {"outcome-attended": "held"}),
            (f"/deltagare/{pid}/moten", {"meeting-kind": "meeting", "meeting-attended": "held"}),
            (f"/deltagare/{pid}/kartlaggning", {"kartlaggning-provider": "SF"}),
            (f"/deltagare/{pid}/insatser", {"intervention-kind": "praktik", "intervention-provider": "AF"}),
            (f"/deltagare/{pid}/insatser/avsluta", {"end-reason": "klar"}),
            (f"/deltagare/{pid}/handlingsplan", {"plan-goals": "Arbete"}),
            (f"/deltagare/{pid}/avslut", {"close-outcome": "work"}),
            ("/logga-ut", {}),
        ],
        "handlaggare-fk": [
            (f"/myndighetsvy/{pid}/beslut", {"category": "insurance", "source_ref": "FK-9"}),
            (f"/myndighetsvy/{pid}/beslut/{decision_id}/rattelse", {f"fix-{decision_id}-source_ref": "FK-9"}),
            (f"/myndighetsvy/{pid}/beslut/{decision_id}/makulering", {f"retract-{decision_id}-reason": "fel"}),
        ],
        "granskare-demo": [("/granskning/kontroll", {})],
        None: [("/logga-in", {"anvandare": "samordnare-demo"})],
    }
    for sub, posts in forms.items():
        browser = Pages(api, sub)
        for path, data in posts:
            for token in (None, "", "wrong-token", browser.csrf()[:-2] + "xx"):
                head, events = api.context.log.head()[0], api.context.reads.projections.head()
                response = browser.post(path, data, token=token)
                assert response.status_code == 403, (path, token, response.status_code)
                assert "Formuläret kunde inte skickas" in response.text and 'lang="sv"' in response.text
                assert api.context.log.head()[0] == head, path
                assert api.context.reads.projections.head() == events, path
        if sub is not None:  # still signed in: the refused sign-out did nothing
            assert browser.get("/").status_code == 303 and browser.get("/").headers["location"] != "/logga-in"


def test_a_token_from_another_session_is_refused(api: Api) -> None:
    one, other = Pages(api, "samordnare-demo"), Pages(api, "samordnare-demo")
    response = one.post("/ny-deltagare", {**ANNA}, token=other.csrf())
    assert response.status_code == 403


def test_no_page_puts_a_personnummer_in_a_url_and_the_cookie_is_safe(api: Api, pid: str) -> None:
    sf = Pages(api)
    sign_in = sf.post("/logga-in", {"anvandare": "samordnare-demo"})
    cookie = sign_in.headers["set-cookie"].lower()
    assert "httponly" in cookie and "samesite=lax" in cookie and "secure" not in cookie  # development: http
    assert ANNA["personnummer"] not in cookie and "annika" not in cookie
    api.context.projections.catch_up()
    caseload = sf.get("/arenden")
    assert caseload.status_code == 200 and "Lindqvistsson" in caseload.text
    assert caseload.headers["cache-control"] == "no-store"
    found = sf.post("/sok", {"personnummer": ANNA["personnummer"]}, origin="/arenden")
    assert found.status_code == 303 and found.headers["location"] == f"/deltagare/{pid}"
    participant = sf.get(f"/deltagare/{pid}")
    assert participant.status_code == 200 and ANNA["personnummer"] in participant.text
    assert "<title>Deltagare \u2013 Samverkan</title>" in participant.text  # no name or number in the title
    missing = sf.post("/sok", {"personnummer": "19900101-0017"}, origin="/arenden")
    assert (
        missing.status_code == 400
        and 'value="19900101-0017"' in missing.text
        and 'href="#personnummer"' in missing.text
    )
    typed = sf.client.get(f"/deltagare/{ANNA['personnummer']}")  # typed by hand, not a link
    assert typed.status_code == 404 and ANNA["personnummer"] not in typed.text
    digits = ANNA["personnummer"].replace("-", "")
    for url in sf.visited:
        assert ANNA["personnummer"] not in url and digits not in url and digits[2:] not in url


def test_roles_see_their_pages_and_are_refused_others(api: Api, pid: str) -> None:
    assert Pages(api).get("/arenden").headers["location"] == "/logga-in"
    fk = Pages(api, "handlaggare-fk")
    assert fk.get("/").headers["location"] == "/sok"
    before = api.context.log.head()[0]
    refused = fk.get("/arenden")
    assert refused.status_code == 403 and "Du har inte behörighet" in refused.text
    assert entries(api)[before]["reason"] == "role"  # the door logged the refusal
    assert fk.get(f"/deltagare/{pid}").status_code == 403
    granskare = Pages(api, "granskare-demo")
    assert granskare.get("/").headers["location"] == "/granskning"
    verified = granskare.post("/granskning/kontroll", {}, origin="/granskning")
    assert verified.status_code == 200 and "Loggen är hel" in verified.text
    export = granskare.get("/granskning/export.jsonl")
    assert export.status_code == 200 and '"kind":"verify"' in export.text
    stats = granskare.get("/statistik")
    assert stats.status_code == 200 and "<caption>" in stats.text
    csv = granskare.get("/statistik.csv")
    assert csv.content.startswith(b"\xef\xbb\xbf") and b";" in csv.content
    assert granskare.get("/statistik", params={"fran": "igår"}).status_code == 400


def test_granskning_searches_the_log_and_downloads_the_export_with_its_manifest(api: Api, pid: str) -> None:
    Pages(api, "handlaggare-af").get(f"/myndighetsvy/{pid}")  # a view to find
    granskare = Pages(api, "granskare-demo")
    before = api.context.log.head()[0]
    page = granskare.get("/granskning")
    assert page.status_code == 200 and 'id="loggposter"' not in page.text
    assert api.context.log.head()[0] == before  # the empty form reads nothing

    # Wrong values: errors beside the fields, nothing read, nothing echoed.
    bad = granskare.get("/granskning", params={"deltagare": "Annika", "part": "XX", "fran": "igår", "anvandare": "a b"})
    assert bad.status_code == 400 and api.context.log.head()[0] == before
    for field in ("deltagare", "part", "anvandare", "fran"):
        assert f'href="#{field}"' in bad.text and f'id="{field}-error"' in bad.text
    assert "Annika" not in bad.text and "igår" not in bad.text

    day = today().isoformat()
    query = {"deltagare": pid, "part": "AF", "anvandare": "handlaggare-af", "fran": day, "till": day}
    found = granskare.get("/granskning", params=query)
    assert found.status_code == 200, found.text
    assert api.context.log.head()[0] == before + 1  # one entry per search: the export's own
    search_entry = entries(api)[-1]
    assert search_entry["kind"] == "export" and search_entry["details"]["filters"]["agency"] == "AF"
    rows = re.findall(r'<tr data-seq="(\d+)">', found.text)
    expected = [
        e
        for e in entries(api)
        if e["participant_id"] == pid and e["agency"] == "AF" and e["user_id"] == "handlaggare-af"
    ]
    assert [int(r) for r in rows] == [e["seq"] for e in expected] and expected
    assert "visning" in found.text and "handläggning" in found.text and "Arbetsförmedlingen" in found.text
    for header in ("Nr", "Tid", "Typ", "Användare", "Part", "Roll", "Deltagare", "Syfte", "Utfall", "Kategorier"):
        assert f'<th scope="col">{header}</th>' in found.text
    none = granskare.get("/granskning", params={"deltagare": pid, "part": "REGION"})
    assert none.status_code == 200 and "Inga poster." in none.text

    # Both downloads describe the same entries, up to the search's own entry; the manifest verifies the file.
    last = search_entry["seq"]
    links = dict(
        (name, unescape(href)) for href, name in re.findall(r'href="([^"]+)" id="ladda-ner-(\w+)"', found.text)
    )
    export_href, manifest_href = links["export"], links["manifest"]
    assert f"till_nr={last}" in export_href and f"till_nr={last}" in manifest_href
    exported = granskare.get(export_href)
    assert exported.status_code == 200 and exported.headers["x-samverkan-until-seq"] == str(last)
    assert [json.loads(line)["seq"] for line in exported.text.splitlines()] == [e["seq"] for e in expected]
    signed = granskare.get(manifest_href)
    assert signed.status_code == 200 and "attachment" in signed.headers["content-disposition"]
    manifest = signed.json()
    assert manifest["count"] == len(expected) and manifest["filters"]["until_seq"] == last
    public_key = api.context.reads.signer.public_key
    assert verify_export(exported.text, "jsonl", manifest, public_key).ok
    assert Pages(api, "samordnare-demo").get("/granskning/manifest.json").status_code == 403


def test_consent_forms_on_the_deltagare_page(api: Api) -> None:
    pid = enrol(api)
    sf = Pages(api, "samordnare-demo")
    origin = f"/deltagare/{pid}"
    empty = sf.post(f"/deltagare/{pid}/samtycke", {"purpose": "Rehab", "form": "oral"}, origin=origin)
    assert empty.status_code == 400
    assert 'href="#grant-FK-SF"' in empty.text and 'href="#witness"' in empty.text and 'value="Rehab"' in empty.text
    form = {
        "grant": ["FK:SF", "FK:AF"],
        "purpose": "Samordnad rehabilitering",
        "valid_from": today().isoformat(),
        "valid_until": today().replace(year=today().year + 2).isoformat(),
        "form": "written",
        "document_ref": "DOC-9",
    }
    too_long = sf.post(f"/deltagare/{pid}/samtycke", form, origin=origin)
    assert too_long.status_code == 400 and 'id="valid_until-error"' in too_long.text
    assert 'value="FK:AF" checked' in too_long.text
    ok = sf.post(f"/deltagare/{pid}/samtycke", {**form, "valid_until": today().isoformat()}, origin=origin)
    assert ok.status_code == 303, ok.text
    (consent,) = api.samordnare.get(f"/api/v1/participants/{pid}/consents").json()
    assert {(g["from"], g["to"]) for g in consent["grants"]} == {("FK", "SF"), ("FK", "AF")}
    withdrawn = sf.post(f"/deltagare/{pid}/aterkallelse", {"consent_id": consent["id"]}, origin=origin)
    assert withdrawn.status_code == 303
    assert api.samordnare.get(f"/api/v1/participants/{pid}/consents").json()[0]["status"] == "withdrawn"
    assert "återkallat" in sf.get(origin).text


def test_in_production_without_a_token_secret_the_pages_are_off_and_say_so(
    settings: Settings, storage: Storage, tmp_path: Path
) -> None:
    # Production verifies the identity provider's tokens with its public key; there is no secret to sign with.
    key = ec.generate_private_key(ec.SECP256R1()).public_key()
    pem = tmp_path / "idp.pem"
    pem.write_bytes(key.public_bytes(serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo))
    production = settings.model_copy(update={"env": "production", "token_secret": None, "token_public_key_file": pem})
    app = create_app(production, context=build_context(production, storage))
    with TestClient(app, follow_redirects=False) as client:
        page = client.get("/logga-in")
        assert page.status_code == 200 and "OpenID Connect" in page.text and "avstängd" in page.text
        assert "set-cookie" not in page.headers and 'name="anvandare"' not in page.text
        assert client.get("/arenden").headers["location"] == "/logga-in"
        refused = client.post("/logga-in", data={"anvandare": "samordnare-demo", "csrf_token": "x"})
        assert refused.status_code == 403 and "set-cookie" not in refused.headers


def test_the_session_cookie_is_secure_in_production(settings: Settings, storage: Storage) -> None:
    production = settings.model_copy(update={"env": "production"})
    app = create_app(production, context=build_context(production, storage))
    with TestClient(app, follow_redirects=False) as client:
        page = client.get("/logga-in")
        assert "secure" in page.headers["set-cookie"].lower()
        assert 'name="anvandare"' not in page.text  # the development sign-in is off


def test_the_deltagare_page_is_one_read_with_one_log_entry(api: Api, pid: str) -> None:
    sf = Pages(api, "samordnare-demo")
    before = api.context.log.head()[0]
    page = sf.get(f"/deltagare/{pid}")
    assert page.status_code == 200
    (entry,) = entries(api)[before:]
    assert (entry["kind"], entry["participant_id"], entry["outcome"]) == ("overview", pid, "disclosed")
    view = api.samordnare.get(f"/api/v1/participants/{pid}/view").json()
    assert {d["id"] for d in view["decisions"]} <= {d["event_id"] for d in entry["disclosed"]}


def _form_error(response: Any, field: str) -> None:
    """A refused form: 400, the summary links to the field and the message stands beside it."""
    assert response.status_code == 400, response.text
    assert f'href="#{field}"' in response.text and f'id="{field}-error"' in response.text, field


def test_referral_meetings_insatser_plan_and_closure_on_the_deltagare_page(api: Api) -> None:
    pid = enrol(api)
    sf = Pages(api, "samordnare-demo")
    page = f"/deltagare/{pid}"
    iso = today().isoformat()
    tomorrow = (today() + timedelta(days=1)).isoformat()

    def post(path: str, data: dict[str, Any]) -> Any:
        return sf.post(f"{page}/{path}", data, origin=page)

    def coordination() -> dict[str, Any]:
        view = api.samordnare.get(f"/api/v1/participants/{pid}/view").json()
        return dict(view["coordination"] or {})

    referral = {
        "referral-remittent": "FK",
        "referral-reason": "Lång sjukskrivning",
        "referral-received": iso,
        "referral-needs": ["FK"],
    }
    one_party = post("remiss", referral)
    _form_error(one_party, "referral-needs")
    assert "Lång sjukskrivning</textarea>" in one_party.text and '<details class="panel" open>' in one_party.text
    assert post("remiss", {**referral, "referral-needs": ["FK", "AF"]}).status_code == 303
    assert coordination()["referral"]["needs"] == ["FK", "AF"]
    _form_error(post("remiss", {**referral, "referral-needs": ["FK", "AF"]}), "referral-remittent")  # already there

    past = {"book-date": "2020-01-01", "book-kind": "meeting", "book-invited": ["FK", "AF"]}
    _form_error(post("moten/boka", past), "book-date")
    assert post("moten/boka", {**past, "book-date": tomorrow}).status_code == 303
    (booked,) = coordination()["meetings"]
    assert booked["status"] == "booked" and "bokat" in sf.get(page).text
    _form_error(post("moten/utfall", {"outcome-meeting": booked["id"]}), "outcome-attended")
    held = {"outcome-meeting": booked["id"], "outcome-attended": "held", "outcome-present": ["FK", "AF", "REGION"]}
    assert post("moten/utfall", {**held, "outcome-notes": "Bra möte"}).status_code == 303
    missed = {"meeting-date": iso, "meeting-kind": "home_visit", "meeting-attended": "missed"}
    _form_error(post("moten", {**missed, "meeting-present": ["FK"]}), "meeting-present")
    assert post("moten", missed).status_code == 303
    statuses = {m["status"]: m for m in coordination()["meetings"]}
    assert statuses["held"]["agencies_present"] == ["FK", "AF", "REGION"] and statuses["held"]["notes"] == "Bra möte"
    assert statuses["missed"]["kind"] == "home_visit"
    shown = sf.get(page).text
    assert "genomfört" in shown and "uteblivet" in shown and "Bra möte" in shown and "hembesök" in shown

    kartlaggning = {"kartlaggning-start": iso, "kartlaggning-end": "2020-01-01", "kartlaggning-provider": "SF"}
    _form_error(post("kartlaggning", kartlaggning), "kartlaggning-end")
    assert post("kartlaggning", {**kartlaggning, "kartlaggning-end": ""}).status_code == 303
    insats = {"intervention-kind": "arbetstraning", "intervention-start": iso, "intervention-provider": "AF"}
    _form_error(post("insatser", {**insats, "intervention-kind": "golf"}), "intervention-kind")
    assert post("insatser", insats).status_code == 303
    started = {i["kind"]: i for i in coordination()["interventions"]}
    assert set(started) == {"kartlaggning", "arbetstraning"}
    assert "kartläggning" in sf.get(page).text and "arbetsträning" in sf.get(page).text
    ending = {"end-intervention": str(started["kartlaggning"]["id"]), "end-date": "2020-01-01"}
    _form_error(post("insatser/avsluta", ending), "end-date")
    assert post("insatser/avsluta", {**ending, "end-date": iso, "end-reason": "Klar"}).status_code == 303

    step = {"plan-step-0-agency": "AF", "plan-step-0-description": "", "plan-step-0-due": tomorrow}
    _form_error(post("handlingsplan", {"plan-goals": "Arbete på halvtid", **step}), "plan-step-0-description")
    step["plan-step-0-description"] = "Praktikplats"
    assert post("handlingsplan", {"plan-goals": "Arbete på halvtid\nKörkort", **step}).status_code == 303
    plan = coordination()["plan"]
    assert plan["goals"] == ["Arbete på halvtid", "Körkort"] and plan["steps"][0]["description"] == "Praktikplats"
    assert 'value="Praktikplats"' in sf.get(page).text  # the next version starts from this one

    close = {"close-outcome": "work", "close-date": iso, "close-support": "lon", "close-occupation": "arbete"}
    _form_error(post("avslut", {**close, "close-support": ""}), "close-support")
    _form_error(post("avslut", close), "close-end-ongoing")  # the arbetsträning still runs
    assert post("avslut", {**close, "close-end-ongoing": "yes", "close-end-date": iso}).status_code == 303
    closed = coordination()
    assert closed["closure"]["outcome"] == "work"
    assert all(i["end_date"] is not None for i in closed["interventions"])
    final = sf.get(page).text
    assert "Utfall: arbete" in final and 'action="/deltagare/' not in final.split('id="remiss"')[1]


def test_a_consent_is_withdrawn_in_part(api: Api) -> None:
    pid = enrol(api)
    consent = consent_body(("FK", "SF", ["insurance"]), ("FK", "AF", ["insurance"]))
    consent_id = api.samordnare.post(f"/api/v1/participants/{pid}/consents", consent).json()["id"]
    sf = Pages(api, "samordnare-demo")
    origin = f"/deltagare/{pid}"
    page = sf.get(origin).text
    assert 'value="FK:AF:insurance"' in page and 'value="FK:SF:insurance"' in page
    nothing = sf.post(f"{origin}/aterkallelse", {"consent_id": consent_id, "scope": "chosen"}, origin=origin)
    _form_error(nothing, f"withdraw-{consent_id}-grant")
    chosen = {"consent_id": consent_id, "scope": "chosen", "grant": ["FK:AF:insurance"], "reason": "Vill inte"}
    assert sf.post(f"{origin}/aterkallelse", chosen, origin=origin).status_code == 303
    (after,) = api.samordnare.get(f"/api/v1/participants/{pid}/consents").json()
    assert {(g["to"], g["status"]) for g in after["grants"]} == {("AF", "withdrawn"), ("SF", "active")}
    assert 'value="FK:AF:insurance"' not in sf.get(origin).text  # what is withdrawn is no longer offered


def test_enrolment_on_a_reserve_identity_and_the_personnummer_added_later(api: Api) -> None:
    sf = Pages(api, "samordnare-demo")
    names = {"given_name": "Sara", "family_name": "Utanummer"}
    neither = sf.post("/ny-deltagare", names, origin="/ny-deltagare")
    _form_error(neither, "personnummer")
    assert 'value="Utanummer"' in neither.text
    future = sf.post(
        "/ny-deltagare", {**names, "birth_date": "2999-01-01", "legal_gender": "female"}, origin="/ny-deltagare"
    )
    _form_error(future, "birth_date")
    assert 'value="female" checked' in future.text
    reserve = {**names, "birth_date": "1990-01-01", "legal_gender": "female"}
    enrolled = sf.post("/ny-deltagare", reserve, origin="/ny-deltagare")
    assert enrolled.status_code == 303, enrolled.text
    page = enrolled.headers["location"]
    shown = sf.get(page).text
    assert "saknas (reservidentitet)" in shown and "1990-01-01" in shown and "Lägg till personnummer" in shown
    _form_error(sf.post(f"{page}/personnummer", {"personnummer": "12345"}, origin=page), "personnummer")
    enrol(api)  # Annika has her number: it cannot be given to Sara as well
    taken = sf.post(f"{page}/personnummer", {"personnummer": ANNA["personnummer"]}, origin=page)
    _form_error(taken, "personnummer")
    added = sf.post(f"{page}/personnummer", {"personnummer": "19900101-0017"}, origin=page)
    assert added.status_code == 303
    after = sf.get(page).text
    assert "19900101-0017" in after and "Lägg till personnummer" not in after
    for url in sf.visited:
        assert "0017" not in url and ANNA["personnummer"] not in url


def test_the_caseload_filters_and_sorts_by_links_holding_only_codes(api: Api, monkeypatch: pytest.MonkeyPatch) -> None:
    first = enrol(api, given_name="Ada", family_name="Ödmark")
    enrol(api, personnummer="19900101-0017", given_name="Bo", family_name="Berg")
    met = {"date": today().isoformat(), "agencies_present": ["FK"], "attended": True}
    assert api.samordnare.post(f"/api/v1/participants/{first}/meetings", met).status_code in (200, 201)
    api.context.projections.catch_up()
    sf = Pages(api, "samordnare-demo")
    everything = sf.get("/arenden").text
    assert everything.index("Ödmark") < everything.index("Berg")  # something to do comes first
    by_name = sf.get("/arenden?sortera=name").text
    assert by_name.index("Berg") < by_name.index("Ödmark") and 'aria-sort="ascending"' in by_name
    flagged = sf.get("/arenden?markering=first_meeting_too_few_agencies").text
    assert "Ödmark" in flagged and "Berg" not in flagged and "1 av 2 visas" in flagged
    assert "Berg" in sf.get("/arenden?fas=referral&sortera=phase").text
    odd = sf.get("/arenden?fas=<script>&sortera=Berg")
    assert odd.status_code == 200 and "<script>" not in odd.text and "2 av 2 visas" in odd.text
    allowed = re.compile(r"^/arenden(\?((fas|markering|sortera)=[a-z_]+&?)+)?$")
    links = [unescape(h) for h in re.findall(r'href="(/arenden[^"]*)"', by_name)]
    assert links and all(allowed.match(link) for link in links), links
    assert "listan-efter" not in everything
    listed = api.context.reads.caseload
    monkeypatch.setattr(
        api.context.reads,
        "caseload",
        lambda caller: {**listed(caller), "projection": {"position": 1, "head": 2, "behind": True}},
    )
    assert 'id="listan-efter"' in sf.get("/arenden").text


def test_statistik_draws_a_chart_per_table_with_suppressed_cells_marked(api: Api) -> None:
    enrol(api)
    api.context.projections.catch_up()
    granskare = Pages(api, "granskare-demo")
    page = granskare.get("/statistik").text
    charts = re.findall(r"<svg role=\"img\" aria-labelledby=\"([^\"]+)\"", page)
    assert charts and all(f'<title id="{chart}">' in page for chart in charts)
    assert len(charts) == page.count('<figure class="chart">')
    assert "skyddad</text>" in page and "-hatch)" in page  # one participant: every count is suppressed
    assert 'width="0"' not in page  # a suppressed number is never drawn as a zero bar
    assert page.count("<table") >= len(charts)  # the table stays the source


def test_arenden_searches_by_name_in_the_body_never_the_url(api: Api, pid: str) -> None:
    other = enrol(api, personnummer="19900101-0017", given_name="Bo", family_name="Berg")
    api.context.projections.catch_up()
    sf = Pages(api, "samordnare-demo")
    token = sf.csrf("/arenden")
    before = api.context.log.head()[0]
    found = sf.post("/arenden", {"namn": "lindqvist"}, token=token)
    assert found.status_code == 200 and "lindqvist" not in str(found.url).lower()
    assert f"/deltagare/{pid}" in found.text and f"/deltagare/{other}" not in found.text
    assert [e["kind"] for e in entries(api)[before:]] == ["caseload"]
    assert sf.post("/arenden", {"namn": "berg bo"}, token=token).text.count("/deltagare/") >= 1
    assert f"/deltagare/{pid}" not in sf.post("/arenden", {"namn": "berg"}, token=token).text
    assert sf.post("/arenden", {"namn": "lindqvist"}, token=None).status_code == 403


def test_a_minors_consent_on_the_deltagare_page_names_one_or_two_guardians(api: Api) -> None:
    minor = api.context.service
    pid = str(enrol_minor(minor, today()))
    sf = Pages(api, "samordnare-demo")
    origin = f"/deltagare/{pid}"
    form = {
        "grant": ["FK:SF"],
        "purpose": "Samordnad rehabilitering",
        "valid_from": today().isoformat(),
        "valid_until": today().isoformat(),
        "form": "written",
        "document_ref": "DOC-M",
    }
    refused = sf.post(f"/deltagare/{pid}/samtycke", form, origin=origin)
    assert refused.status_code == 400 and 'id="guardian_1-error"' in refused.text
    both = {**form, "guardian_1": "Karin Vårdnadshavare", "guardian_2": "Per Vårdnadshavare"}
    assert sf.post(f"/deltagare/{pid}/samtycke", both, origin=origin).status_code == 303
    (consent,) = api.samordnare.get(f"/api/v1/participants/{pid}/consents").json()
    assert consent["guardians"] == ["Karin Vårdnadshavare", "Per Vårdnadshavare"]
    assert "vårdnadshavare Karin Vårdnadshavare och Per Vårdnadshavare" in sf.get(origin).text
