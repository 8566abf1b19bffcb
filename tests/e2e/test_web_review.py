"""Nödåtkomst on Myndighetsvy and the granskningskö on Granskning, over the real app on both engines: a
handläggare refused a view opens an emergency access through the form (an error first, logged as refused) and
sees another party's decision marked *Nödåtkomst*; a granskare draws the queue, finds that read flagged, marks it
and sees the mark; the downloads parse; the same seed draws the same sample; no personnummer or name in a URL."""

from __future__ import annotations

import csv
import io
import json
import re
from datetime import datetime
from html import unescape
from urllib.parse import parse_qs, urlsplit

from adapters.review import OUTCOMES, QUEUE_COLUMNS
from adapters.web import words
from coordination.catalogue import EMERGENCY_REASONS
from tests.e2e.conftest import Api
from tests.e2e.scenario import consent_body, decision_body, enrol
from tests.e2e.test_web_pages import Pages, entries
from tests.support import ANNA, today

NOTE = "Akut försämring, behöver se pågående beslut inför kvällens bedömning"
COMMENT = "Fråga handläggarens chef om bedömningen var akut"
ROW = re.compile(r'<tr id="nr-(\d+)" data-seq="\d+" data-flags="([^"]*)">(.*?)</tr>', re.S)


def fk_decision_shared_with_sf_only(api: Api) -> tuple[str, str]:
    """Annika with the consent FK -> SF (not REGION) and an FK decision: REGION may see nothing of her."""
    pid = enrol(api)
    base = f"/api/v1/participants/{pid}"
    api.samordnare.post(f"{base}/consents", consent_body(("FK", "SF", ["insurance"]))).raise_for_status()
    decision = api.handlaggare("FK").post(f"{base}/decisions", decision_body())
    assert decision.status_code == 201, decision.text
    return pid, decision.json()["id"]


def emergency_form(reason: str = "", note: str = "", minutes: str = "60") -> dict[str, str]:
    return {"emergency-reason": reason, "emergency-note": note, "emergency-minutes": minutes}


def kinds(api: Api, since: int) -> list[tuple[str, str]]:
    return [(e["kind"], e["outcome"]) for e in entries(api)[since:]]


def rows(page: str) -> dict[int, tuple[str, str]]:
    """The queue's rows: seq -> (the rules that flagged it, the row's HTML)."""
    return {int(seq): (flags, html) for seq, flags, html in ROW.findall(page)}


def open_emergency_access(api: Api, pid: str) -> Pages:
    """REGION's handläggare opens a nödåtkomst through the form and reads the view under it."""
    region = Pages(api, "handlaggare-region")
    origin = f"/myndighetsvy/{pid}"
    form = emergency_form("fara-for-liv-eller-halsa", NOTE, "30")
    assert region.post(f"{origin}/nodatkomst", form, origin=origin).status_code == 303
    assert region.get(origin).status_code == 200
    return region


def no_identity_in(urls: list[str]) -> None:
    digits = ANNA["personnummer"].replace("-", "")
    for url in urls:
        for secret in (ANNA["personnummer"], digits, digits[2:], ANNA["given_name"], ANNA["family_name"]):
            assert secret.lower() not in url.lower(), url


def test_a_refused_handlaggare_opens_nodatkomst_through_the_form_and_sees_the_marked_decision(api: Api) -> None:
    pid, decision_id = fk_decision_shared_with_sf_only(api)
    region = Pages(api, "handlaggare-region")
    origin = f"/myndighetsvy/{pid}"

    # Refused: the page says so and offers the form, open, with the reasons in Swedish and the warning.
    page = region.get(origin)
    token = re.search(r'name="csrf_token" value="([^"]+)"', page.text).group(1)  # the session's, for every form
    assert page.status_code == 200 and 'id="inget-synligt"' in page.text
    assert entries(api)[-1]["kind"] == "view-refused"
    assert f'action="/myndighetsvy/{pid}/nodatkomst"' in page.text
    assert '<section class="panel panel-emergency no-print" id="nodatkomst-formular"' in page.text
    for code, text in EMERGENCY_REASONS.items():
        assert 'type="radio" id="emergency-reason' in page.text and f'value="{code}"' in page.text
        assert text in page.text
    assert "Varför behövs uppgifterna nu?" in page.text and "Minst 10 tecken" in page.text
    assert "granskas i efterhand" in page.text and 'id="nodatkomst-varning"' in page.text
    assert '<option value="60" selected>' in page.text  # the setting is the default window
    assert [o for o in re.findall(r'<option value="(\d+)"', page.text)] == ["15", "30", "60"]
    assert ">Öppna med nödåtkomst</button>" in page.text

    # Without a reason: 400, the summary links to the field, the message beside it, the input kept, and the
    # refused attempt is in the log (then the page's own view, refused again).
    before = api.context.log.head()[0]
    refused = region.post(f"{origin}/nodatkomst", emergency_form("", NOTE, "30"), token=token)
    assert refused.status_code == 400
    assert 'href="#emergency-reason"' in refused.text and 'id="emergency-reason-error"' in refused.text
    assert "Välj skälet till nödåtkomsten." in refused.text
    assert f">{NOTE}</textarea>" in refused.text and '<option value="30" selected>' in refused.text
    assert kinds(api, before) == [("emergency-access", "refused"), ("view-refused", "refused")]
    attempt = entries(api)[before]
    assert (attempt["reason"], attempt["purpose"], attempt["user_id"]) == (
        "invalid-reason",
        "nodatkomst",
        "handlaggare-region",
    )
    assert NOTE not in json.dumps(entries(api), ensure_ascii=False)  # the note never reaches the log

    # Neither a reason nor enough of a note: both named, in the form's order; a made-up reason is not echoed.
    both = region.post(f"{origin}/nodatkomst", emergency_form("jag-vill-se", "Brådis", "30"), token=token)
    assert both.status_code == 400
    assert re.findall(r'<li><a href="#([\w-]+)">', both.text) == ["emergency-reason", "emergency-note"]
    assert "jag-vill-se" not in both.text and ">Brådis</textarea>" in both.text
    # A window that is not offered is a malformed form: refused before the service, nothing opened or logged.
    head = api.context.log.head()[0]
    longer = region.post(f"{origin}/nodatkomst", emergency_form("akut-skyddsbehov", NOTE, "999"), token=token)
    assert longer.status_code == 400 and 'id="emergency-minutes-error"' in longer.text
    assert kinds(api, head) == [("view-refused", "refused")]

    # With a reason and a note: opened for 30 minutes, then back to Myndighetsvy.
    before = api.context.log.head()[0]
    opened = region.post(f"{origin}/nodatkomst", emergency_form("fara-for-liv-eller-halsa", NOTE, "30"), token=token)
    assert opened.status_code == 303 and opened.headers["location"] == f"{origin}?nodatkomst=oppnad"
    (opening,) = entries(api)[before:]
    assert (opening["kind"], opening["outcome"]) == ("emergency-access", "opened")
    emergency = opening["details"]["emergency"]
    until = datetime.fromisoformat(emergency["until"])
    assert (until - datetime.fromisoformat(opening["recorded_at"])).total_seconds() // 60 in (29, 30)

    # The view under it: the notice with its end in Swedish time and the reason, the decision marked Nödåtkomst.
    page = region.get(opened.headers["location"])
    assert page.status_code == 200 and page.headers["cache-control"] == "no-store"
    notice = re.search(
        r'<div class="notice notice-emergency" id="nodatkomst-pagar" role="status">(.*?)</div>', page.text, re.S
    )
    assert notice, page.text
    shown_until = words.moment(until).removeprefix(f"{today().isoformat()} ")
    assert f"Nödåtkomst till {shown_until}</strong>" in notice.group(1)
    assert EMERGENCY_REASONS["fara-for-liv-eller-halsa"] in notice.group(1)
    row = re.search(rf'<tr data-item="decision:{decision_id}">(.*?)</tr>', page.text, re.S)
    assert row and 'class="tag tag-emergency">Nödåtkomst</strong>' in row.group(1)
    assert "Sjukpenning beviljad på halvtid" in row.group(1)
    read = entries(api)[-1]
    assert (read["kind"], read["purpose"]) == ("view", "nodatkomst")
    assert read["details"]["emergency"]["id"] == emergency["id"]
    assert read["disclosed"][0]["event_id"] == decision_id and read["disclosed"][0]["consent_id"] is None
    # Still offered, folded, while the access is open.
    assert '<details class="panel no-print" id="nodatkomst-formular">' in page.text
    no_identity_in(region.visited)


def test_a_block_still_wins_and_only_a_handlaggare_opens_nodatkomst(api: Api) -> None:
    pid, _ = fk_decision_shared_with_sf_only(api)
    base, origin = f"/api/v1/participants/{pid}", f"/myndighetsvy/{pid}"
    placed = api.handlaggare("FK").post(f"{base}/blocks", {"category": "insurance", "recipient": "REGION"})
    assert placed.status_code == 201
    region = Pages(api, "handlaggare-region")
    opened = region.post(f"{origin}/nodatkomst", emergency_form("akut-skyddsbehov", NOTE, "15"), origin=origin)
    assert opened.status_code == 303
    page = region.get(opened.headers["location"])
    assert 'id="inget-synligt"' in page.text and 'id="nodatkomst-inget"' in page.text and "spärr" in page.text
    assert "Sjukpenning beviljad" not in page.text

    # The förbund and the granskare read by consent: refused before anything is written; so is a wrong token.
    for sub in ("samordnare-demo", "granskare-demo"):
        head, events = api.context.log.head()[0], api.context.reads.projections.head()
        other = Pages(api, sub)
        assert other.post(f"{origin}/nodatkomst", emergency_form("akut-skyddsbehov", NOTE)).status_code == 403
        assert api.context.log.head()[0] == head and api.context.reads.projections.head() == events
    unknown = "00000000-0000-4000-8000-000000000000"
    missing = region.post(
        f"/myndighetsvy/{unknown}/nodatkomst", emergency_form("akut-skyddsbehov", NOTE), origin=origin
    )
    assert missing.status_code == 404 and "Sidan finns inte" in missing.text
    head = api.context.log.head()[0]
    forged = region.post(f"{origin}/nodatkomst", emergency_form("akut-skyddsbehov", NOTE), token="wrong-token")
    assert forged.status_code == 403 and api.context.log.head()[0] == head


def test_a_granskare_draws_the_queue_marks_the_emergency_read_and_sees_the_mark(api: Api) -> None:
    pid, _ = fk_decision_shared_with_sf_only(api)
    region = open_emergency_access(api, pid)
    emergency_read = entries(api)[-1]
    assert (emergency_read["kind"], emergency_read["purpose"]) == ("view", "nodatkomst")
    for _ in range(6):  # more disclosures to sample from
        api.samordnare.get(f"/api/v1/participants/{pid}/view").raise_for_status()
    granskare = Pages(api, "granskare-demo")

    # Granskning links to the queue; the empty form reads nothing and offers last month.
    assert 'href="/granskning/ko"' in granskare.get("/granskning").text
    before = api.context.log.head()[0]
    empty = granskare.get("/granskning/ko")
    assert empty.status_code == 200 and 'id="granskningsko"' not in empty.text
    assert api.context.log.head()[0] == before
    assert re.search(r'id="fran" name="fran" type="text" value="\d{4}-\d{2}-01"', empty.text)

    # Wrong values: errors beside the fields, nothing read, nothing echoed.
    bad = granskare.get(
        "/granskning/ko", params={"fran": "igår", "till": today().isoformat(), "stickprov": "tjugo", "fro": "12ab"}
    )
    assert bad.status_code == 400 and api.context.log.head()[0] == before
    for field in ("fran", "stickprov", "fro"):
        assert f'href="#{field}"' in bad.text and f'id="{field}-error"' in bad.text
    assert "igår" not in bad.text and "tjugo" not in bad.text and "12ab" not in bad.text

    # The queue: one `review` entry; the seed shown; the emergency read flagged nödåtkomst; no name on the page.
    day = today().isoformat()
    page = granskare.get("/granskning/ko", params={"fran": day, "till": day, "stickprov": "2"})
    assert page.status_code == 200, page.text
    assert page.headers["cache-control"] == "no-store"
    assert kinds(api, before) == [("review", "disclosed")]
    seed = entries(api)[-1]["details"]["seed"]
    assert f"Frö: <strong>{seed}</strong> — samma frö ger samma stickprov" in page.text
    assert "<caption>Granskningskö" in page.text
    for header in ("Nr", "Tid", "Typ", "Användare", "Myndighet", "Deltagare", "Stickprov", "Flaggor", "Granskad"):
        assert f'<th scope="col">{header}</th>' in page.text
    queue = rows(page.text)
    flags, html = queue[emergency_read["seq"]]
    assert "emergency" in flags.split() and "<li>nödåtkomst</li>" in html
    assert "handlaggare-region" in html and "Regionen" in html and pid[:8] in html and "Inte granskad" in html
    opening = next(e for e in entries(api) if e["kind"] == "emergency-access" and e["outcome"] == "opened")
    assert "<td>nödåtkomst</td>" in queue[opening["seq"]][1]
    assert ANNA["given_name"] not in page.text and ANNA["family_name"] not in page.text
    assert ANNA["personnummer"] not in page.text

    # Marking it: without an outcome, the error beside the field and the comment kept; then följs upp.
    seq = emergency_read["seq"]
    hidden = {"fran": day, "till": day, "stickprov": "2", "fro": str(seed)}
    assert all(f'<input type="hidden" name="{k}" value="{v}">' in html for k, v in hidden.items())
    field = f"granska-{seq}-"
    head = api.context.log.head()[0]
    missing = granskare.post(f"/granskning/granska/{seq}", {**hidden, f"{field}comment": COMMENT}, origin="/granskning")
    assert missing.status_code == 400
    assert f'href="#{field}outcome"' in missing.text and f'id="{field}outcome-error"' in missing.text
    assert f">{COMMENT}</textarea>" in missing.text and '<details class="no-print" open>' in missing.text
    assert kinds(api, head) == [("review", "disclosed")]  # the page drawn again; nothing marked
    marked = granskare.post(
        f"/granskning/granska/{seq}",
        {**hidden, f"{field}outcome": "foljs-upp", f"{field}comment": COMMENT},
        origin="/granskning",
    )
    assert marked.status_code == 303
    location = urlsplit(marked.headers["location"])
    assert location.path == "/granskning/ko" and location.fragment == f"nr-{seq}"
    assert parse_qs(location.query) == {k: [v] for k, v in hidden.items()}  # dates, numbers and the seed only
    mark = entries(api)[-1]
    assert (mark["kind"], mark["outcome"], mark["participant_id"]) == ("review-mark", "reviewed", pid)
    assert (mark["details"]["seq"], mark["details"]["outcome"]) == (seq, "foljs-upp")
    assert COMMENT not in json.dumps(entries(api), ensure_ascii=False)  # sealed in the log

    # Back in the queue: the mark, in Swedish, with its comment; the same seed drew the same sample.
    again = granskare.get(marked.headers["location"])
    assert again.status_code == 200
    _, html = rows(again.text)[seq]
    assert "<strong>följs upp</strong>: " + COMMENT in unescape(html) and "granskare-demo" in html
    sampled = {s for s, (_, h) in rows(page.text).items() if "<td>ja</td>" in h}
    assert {s for s, (_, h) in rows(again.text).items() if "<td>ja</td>" in h} == sampled and len(sampled) == 2

    # The downloads: one `review` entry each; the CSV parses and has the same sample and the mark.
    links = {name: unescape(href) for href, name in re.findall(r'href="([^"]+)" id="ladda-ner-ko-(\w+)"', again.text)}
    assert set(links) == {"csv", "jsonl"} and f"fro={seed}" in links["csv"]
    head = api.context.log.head()[0]
    download = granskare.get(links["csv"])
    assert download.status_code == 200 and download.headers["cache-control"] == "no-store"
    assert download.headers["x-samverkan-seed"] == str(seed) and "attachment" in download.headers["content-disposition"]
    table = list(csv.DictReader(io.StringIO(download.text)))
    assert tuple(table[0]) == QUEUE_COLUMNS
    assert {int(r["seq"]) for r in table if r["sampled"] == "yes"} == sampled
    line = next(r for r in table if int(r["seq"]) == seq)
    assert "emergency" in line["flags"].split(";") and line["review_outcome"] == "foljs-upp"
    jsonl = granskare.get(links["jsonl"])
    items = {item["seq"]: item for item in map(json.loads, jsonl.text.splitlines())}
    assert items[seq]["review"]["comment"] == COMMENT and items[seq]["review"]["outcome"] == "foljs-upp"
    assert kinds(api, head) == [("review", "disclosed"), ("review", "disclosed")]

    # A log entry that is not a read is not marked; an unknown one is not found.
    review_entry = entries(api)[-1]["seq"]
    other = granskare.post(
        f"/granskning/granska/{review_entry}",
        {**hidden, f"granska-{review_entry}-outcome": "foljs-upp"},
        origin="/granskning",
    )
    assert other.status_code == 400 and "Posten kan inte granskas" in other.text
    unknown = granskare.post(
        "/granskning/granska/999999", {**hidden, "granska-999999-outcome": "foljs-upp"}, origin="/granskning"
    )
    assert unknown.status_code == 404
    no_identity_in(granskare.visited + region.visited)


def test_only_a_granskare_draws_the_queue_or_marks_an_entry(api: Api) -> None:
    pid, _ = fk_decision_shared_with_sf_only(api)
    open_emergency_access(api, pid)
    seq = entries(api)[-1]["seq"]
    fk = Pages(api, "handlaggare-fk")
    assert fk.get("/granskning/ko").status_code == 403
    day = today().isoformat()
    before = api.context.log.head()[0]
    refused = fk.get("/granskning/ko", params={"fran": day, "till": day})
    assert refused.status_code == 403 and "Du har inte behörighet" in refused.text
    (entry,) = entries(api)[before:]
    assert (entry["kind"], entry["outcome"], entry["reason"]) == ("review", "refused", "role")  # the door's refusal
    assert fk.get("/granskning/ko.csv", params={"fran": day, "till": day}).status_code == 403
    for sub in ("handlaggare-fk", "samordnare-demo"):
        head = api.context.log.head()[0]
        form = {"fran": day, "till": day, f"granska-{seq}-outcome": "utan-anmarkning"}
        assert Pages(api, sub).post(f"/granskning/granska/{seq}", form).status_code == 403
        assert api.context.log.head()[0] == head
    granskare = Pages(api, "granskare-demo")
    head = api.context.log.head()[0]
    form = {"fran": day, "till": day, f"granska-{seq}-outcome": "utan-anmarkning"}
    assert granskare.post(f"/granskning/granska/{seq}", form, token="wrong-token").status_code == 403
    assert api.context.log.head()[0] == head
    assert set(words.REVIEW_OUTCOMES) == set(OUTCOMES)
