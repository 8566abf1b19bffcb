"""Nödåtkomst and the granskningskö in a real browser against a real server, with the keyboard alone: REGION's
handläggare, refused a view, sends the nödåtkomst form without a reason (an error summary linking to the field),
then with one, and sees FK's decision marked *Nödåtkomst*; a granskare draws the queue, unfolds the flagged read's
form and marks it *följs upp*. Every page passes axe-core (WCAG 2.0/2.1 A and AA) with the forms open, the focus is
visible on every Tab stop, and no personnummer reaches a URL."""

from __future__ import annotations

import base64
import re
from typing import Any

import httpx

from adapters.auth import issue_token
from tests.browser.test_pages import Keyboard, Person
from tests.conftest import fixed_keys
from tests.support import today

NUMBER = "19900101-0017"
NOTE = "Akut försämring, behöver se pågående beslut inför kvällens bedömning"


def api(server: str, sub: str, agency: str, role: str) -> httpx.Client:
    secret = base64.b64decode(fixed_keys()["token_secret"])
    token = issue_token(secret, sub=sub, agency=agency, role=role)
    return httpx.Client(base_url=server, headers={"Authorization": f"Bearer {token}"}, timeout=10)


def participant_with_fk_decision(server: str) -> str:
    """A participant whose consent lets FK share with SF only, and an FK decision: REGION may see nothing."""
    with (
        api(server, "samordnare-demo", "SF", "samordnare") as sf,
        api(server, "handlaggare-fk", "FK", "handlaggare") as fk,
    ):
        enrolled = sf.post(
            "/api/v1/participants", json={"personnummer": NUMBER, "given_name": "Nora", "family_name": "Nödsson"}
        )
        enrolled.raise_for_status()
        pid = str(enrolled.json()["id"])
        consent = {
            "grants": [{"from": "FK", "to": "SF", "categories": ["insurance"]}],
            "purpose": "Samordnad rehabilitering",
            "valid_from": today().isoformat(),
            "valid_until": today().replace(year=today().year + 1, day=1).isoformat(),
            "form": "written",
            "document_ref": "DOC-NOD-1",
        }
        sf.post(f"/api/v1/participants/{pid}/consents", json=consent).raise_for_status()
        decision = {
            "category": "insurance",
            "decision_type": "sjukpenning",
            "effective_date": today().isoformat(),
            "summary": "Sjukpenning beviljad på halvtid",
            "source_ref": "FK-NOD-1",
        }
        fk.post(f"/api/v1/participants/{pid}/decisions", json=decision).raise_for_status()
    return pid


def test_nodatkomst_and_the_review_queue_with_the_keyboard_alone(server: str, browser: Any) -> None:
    urls: list[str] = []
    pid = participant_with_fk_decision(server)

    # REGION: refused, the nödåtkomst form open on the page.
    region = Person(browser, server, urls)
    keys = Keyboard(region.page)
    keys.sign_in("handlaggare-region")
    region.page.goto(f"/myndighetsvy/{pid}")
    assert region.page.locator("#inget-synligt").is_visible()
    assert region.page.locator("#nodatkomst-varning").is_visible()
    region.check("nodatkomst-formular")

    # Without a reason: the error summary links to the first radio button; the note is kept.
    keys.tab_to("#emergency-note")
    region.page.keyboard.type(NOTE)
    keys.tab_to("form[action$='/nodatkomst'] button")
    keys.press("Enter")
    assert region.page.locator(".error-summary a[href='#emergency-reason']").count() == 1
    assert region.page.locator("#emergency-reason-error").is_visible()
    assert region.page.locator("#emergency-note").input_value() == NOTE
    region.check("nodatkomst-fel")

    # The reason chosen with Space, a shorter window with the arrow keys, sent with Enter.
    keys.tab_to("#emergency-reason")
    region.page.keyboard.press("Space")
    assert region.page.is_checked("#emergency-reason")
    keys.tab_to("#emergency-minutes")
    region.page.keyboard.press("ArrowUp")
    assert region.page.locator("#emergency-minutes").input_value() == "30"
    keys.tab_to("form[action$='/nodatkomst'] button")
    keys.press("Enter")
    notice = region.page.locator("#nodatkomst-pagar")
    assert notice.is_visible() and re.search(r"Nödåtkomst till (\d{4}-\d{2}-\d{2} )?\d{2}:\d{2}", notice.inner_text())
    row = region.page.locator("tr[data-item^='decision:']")
    assert row.count() == 1 and "Nödåtkomst" in row.inner_text() and "Sjukpenning beviljad" in row.inner_text()
    region.page.locator("#nodatkomst-formular > summary").click()  # still offered, folded: axe with it open
    region.check("myndighetsvy-nodatkomst")

    # The granskare: from Granskning to the queue, the period typed, the queue drawn.
    granskare = Person(browser, server, urls)
    gkeys = Keyboard(granskare.page)
    gkeys.sign_in("granskare-demo")
    gkeys.tab_to("#till-granskningskon")
    gkeys.press("Enter")
    assert granskare.page.url.endswith("/granskning/ko")
    granskare.check()
    day = today().isoformat()
    for field, value in (("#fran", day), ("#till", day), ("#stickprov", "5")):
        gkeys.tab_to(field)
        granskare.page.keyboard.press("Control+A")
        granskare.page.keyboard.type(value)
    gkeys.tab_to("form[action='/granskning/ko'] button")
    gkeys.press("Enter")
    assert "Frö:" in granskare.page.locator("#anvant-fro").inner_text()
    flagged = granskare.page.locator("#granskningsko tr[data-flags~='emergency']")
    assert flagged.count() >= 2  # the opening and the read under it (and the refused attempt)
    granskare.page.evaluate("document.querySelectorAll('#granskningsko details').forEach(d => d.open = true)")
    granskare.check()  # every row's form unfolded
    granskare.page.reload()

    # The read under the emergency access: its form unfolded with Enter, följs upp chosen, a comment, Spara.
    read = granskare.page.locator("#granskningsko tr[data-flags~='emergency']", has_text="visning").first
    seq = read.get_attribute("data-seq")
    gkeys.tab_to(f"#nr-{seq} summary")
    granskare.page.keyboard.press("Enter")
    gkeys.tab_to(f"#granska-{seq}-outcome")
    for _ in range(5):
        if granskare.page.locator(f"#granska-{seq}-outcome").input_value() == "foljs-upp":
            break
        granskare.page.keyboard.press("ArrowDown")
    assert granskare.page.locator(f"#granska-{seq}-outcome").input_value() == "foljs-upp"
    gkeys.tab_to(f"#granska-{seq}-comment")
    granskare.page.keyboard.type("Fråga chefen om det var akut")
    gkeys.tab_to(f"#nr-{seq} form button")
    gkeys.press("Enter")
    assert granskare.page.url.endswith(f"#nr-{seq}")
    marked = granskare.page.locator(f"#nr-{seq}").inner_text()
    assert "följs upp" in marked and "Fråga chefen om det var akut" in marked
    granskare.page.locator("#kon").scroll_into_view_if_needed()
    granskare.check("granskningsko")

    digits = NUMBER.replace("-", "")
    assert [u for u in urls if NUMBER in u or digits in u or digits[2:] in u or "Nödsson" in u] == []
    for person in (region, granskare):
        person.context.close()
