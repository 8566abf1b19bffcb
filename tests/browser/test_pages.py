"""The pages in a real browser against a real server: a samordnare enrols a participant and records a consent,
FK records a decision that AF then sees, the samordnare withdraws the consent and AF sees nothing, a granskare
verifies the log. Every page visited has no WCAG 2.0/2.1 A or AA violation (axe-core), works from the keyboard,
keeps personnummer out of URLs, and is photographed into docs/screenshots/."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import axe_playwright_python

from tests.support import ANNA

SHOTS = Path(__file__).resolve().parents[2] / "docs" / "screenshots"
AXE = (Path(axe_playwright_python.__file__).parent / "axe.min.js").read_text()
WCAG = ["wcag2a", "wcag2aa", "wcag21a", "wcag21aa"]
UUID_PATH = r"[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}"


class Person:
    """One user in their own browser context (own cookies), checking each page it sees."""

    def __init__(self, browser: Any, base: str, urls: list[str]) -> None:
        self.context = browser.new_context(base_url=base, viewport={"width": 1366, "height": 768}, locale="sv-SE")
        self.page = self.context.new_page()
        self.page.on("request", lambda request: urls.append(request.url))
        self.checked: set[str] = set()

    def sign_in(self, sub: str) -> None:
        self.page.goto("/logga-in")
        self.page.check(f"input[value='{sub}']")
        self.page.get_by_role("button", name="Logga in").click()
        self.page.wait_for_load_state()

    def check(self, shot: str | None = None) -> None:
        """axe-core on the page as it is now (WCAG 2.0/2.1 A and AA), and a screenshot."""
        self.page.evaluate(AXE)
        violations = self.page.evaluate(
            """tags => axe.run(document, {runOnly: {type: 'tag', values: tags}}).then(r => r.violations.map(
                v => ({id: v.id, help: v.help, nodes: v.nodes.map(n => n.target.join(' '))})))""",
            WCAG,
        )
        assert violations == [], (self.page.url, violations)
        if shot is not None:
            SHOTS.mkdir(parents=True, exist_ok=True)
            self.page.screenshot(path=str(SHOTS / f"{shot}.png"))


def test_the_pages_from_sign_in_to_verification(server: str, browser: Any) -> None:
    urls: list[str] = []
    sf = Person(browser, server, urls)

    # Logga in, from the keyboard: the first Tab reaches the skip link, which is visible when focused.
    sf.page.goto("/logga-in")
    assert sf.page.evaluate("document.documentElement.lang") == "sv"
    sf.check("logga-in")
    sf.page.keyboard.press("Tab")
    assert sf.page.evaluate("document.activeElement.className") == "skip-link"
    assert sf.page.locator(".skip-link").bounding_box()["x"] >= 0  # type: ignore[index]
    sf.sign_in("samordnare-demo")
    assert sf.page.url.endswith("/arenden")
    sf.check()

    # Ny deltagare: an error first (summary linking to the field, input kept), then the enrolment.
    sf.page.get_by_role("link", name="Ny deltagare").click()
    sf.page.get_by_label("Förnamn").fill(ANNA["given_name"])
    sf.page.get_by_role("button", name="Registrera").click()
    assert sf.page.locator(".error-summary a[href='#personnummer']").count() == 1
    assert sf.page.get_by_label("Förnamn").input_value() == ANNA["given_name"]
    sf.check("ny-deltagare-fel")
    sf.page.get_by_label("Personnummer").fill(ANNA["personnummer"])
    sf.page.get_by_label("Efternamn").fill(ANNA["family_name"])
    sf.page.get_by_role("button", name="Registrera").click()
    assert re.search(rf"/deltagare/{UUID_PATH}$", sf.page.url), sf.page.url
    participant = sf.page.url

    # Deltagare: the consent FK -> SF and FK -> AF, written, with its document reference.
    sf.page.check("#grant-FK-SF")
    sf.page.check("#grant-FK-AF")
    sf.page.get_by_label("Dokumentreferens (skriftligt)").fill("DOC-2026-17")
    sf.page.get_by_role("button", name="Registrera samtycke").click()
    matrix = sf.page.locator("#samtycken + table")
    assert matrix.locator("tbody tr").count() == 2
    assert matrix.get_by_text("aktivt").count() == 2
    sf.check("deltagare")

    # Ärenden lists the participant (the projection follows the log within moments).
    sf.page.goto("/arenden")
    sf.page.get_by_role("link", name=re.compile(ANNA["family_name"])).wait_for()
    sf.check("arenden")

    # FK finds the participant (personnummer in the form), sees nothing yet, records its decision.
    fk = Person(browser, server, urls)
    fk.sign_in("handlaggare-fk")
    assert fk.page.url.endswith("/sok")
    fk.check("sok")
    fk.page.get_by_label("Personnummer").fill(ANNA["personnummer"])
    fk.page.get_by_role("button", name="Sök").click()
    assert fk.page.url == participant.replace("/deltagare/", "/myndighetsvy/")
    assert fk.page.locator("#inget-synligt").count() == 1
    fk.page.get_by_label("Sammanfattning").fill("Sjukpenning beviljad på halvtid")
    fk.page.get_by_label("Referens i ert system").fill("FK-2026-0001")
    fk.page.get_by_role("button", name="Registrera beslut").click()
    row = fk.page.locator("tr[data-item^='decision:']")
    assert row.count() == 1 and "egen" in row.inner_text()
    fk.check()

    # AF sees FK's decision, with the consent behind it.
    af = Person(browser, server, urls)
    af.sign_in("handlaggare-af")
    af.page.get_by_label("Personnummer").fill(ANNA["personnummer"])
    af.page.get_by_role("button", name="Sök").click()
    row = af.page.locator("tr[data-item^='decision:']")
    assert row.count() == 1 and "Sjukpenning beviljad på halvtid" in row.inner_text()
    assert "version 1" in row.inner_text()
    af.check("myndighetsvy")
    agency_view = af.page.url

    # The samordnare withdraws the consent; AF no longer sees the decision.
    sf.page.goto(participant)
    sf.page.get_by_role("button", name="Återkalla").click()
    assert sf.page.locator("#samtycken + table").get_by_text("återkallat").count() == 2
    af.page.goto(agency_view)
    assert af.page.locator("tr[data-item]").count() == 0
    assert af.page.locator("#inget-synligt").count() == 1
    assert "Sjukpenning beviljad" not in af.page.content()
    af.check()

    # A granskare verifies the log; Statistik shows its tables.
    granskare = Person(browser, server, urls)
    granskare.sign_in("granskare-demo")
    assert granskare.page.url.endswith("/granskning")
    granskare.page.get_by_role("button", name="Kontrollera loggen").click()
    assert "Loggen är hel" in granskare.page.locator("#kontroll-resultat").inner_text()
    granskare.check("granskning")
    granskare.page.get_by_role("link", name="Statistik").click()
    assert granskare.page.locator("table caption").count() >= 1
    granskare.check("statistik")

    # Signing out is a POST with the session's CSRF token.
    granskare.page.get_by_role("button", name="Logga ut").click()
    assert granskare.page.url.endswith("/logga-in")

    digits = ANNA["personnummer"].replace("-", "")
    leaked = [u for u in urls if ANNA["personnummer"] in u or digits in u or digits[2:] in u]
    assert leaked == []
    for person in (sf, fk, af, granskare):
        person.context.close()
