"""The pages in a real browser against a real server: a samordnare enrols a participant and records a consent,
FK records a decision that AF then sees, the samordnare withdraws the consent and AF sees nothing, a granskare
verifies the log. Every page visited has no WCAG 2.0/2.1 A or AA violation (axe-core), works from the keyboard
alone with visible focus, keeps personnummer out of URLs, and is photographed into docs/screenshots/."""

from __future__ import annotations

import re
from datetime import date, timedelta
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


def printed(page: Any, shot: str) -> None:
    """The page as printed: A4 (from the stylesheet), the förbund's name and the date on top, no navigation, forms
    or folded forms; a screenshot of the print view."""
    page.emulate_media(media="print")
    try:
        header = page.locator(".print-header")
        assert header.is_visible() and "Samordningsförbundet" in header.inner_text()
        assert re.search(r"\d{4}-\d{2}-\d{2} \d{2}:\d{2}", header.inner_text())
        assert not page.locator(".site-header").is_visible() and not page.locator(".site-footer").is_visible()
        hidden = "() => [...document.querySelectorAll('form, details, nav')].every(e => e.offsetParent === null)"
        assert page.evaluate(hidden)
        pdf = page.pdf(prefer_css_page_size=True, print_background=False)
        assert pdf.startswith(b"%PDF") and re.search(rb"/MediaBox \[0 0 59[45][.\d]* 84[12]", pdf)  # A4, in points
        SHOTS.mkdir(parents=True, exist_ok=True)
        page.screenshot(path=str(SHOTS / f"{shot}.png"), full_page=True)
    finally:
        page.emulate_media(media="screen")


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

    # Every form on the page unfolded passes axe; a remiss naming one party is refused beside the field.
    sf.page.evaluate("document.querySelectorAll('details').forEach(d => d.open = true)")
    sf.check("deltagare-formular")
    sf.page.reload()
    sf.page.locator("summary", has_text="Registrera remiss").click()
    sf.page.get_by_label("Remittent").select_option("FK")
    sf.page.get_by_label("Skäl").fill("Lång sjukskrivning, behöver stöd mot arbete")
    sf.page.locator("#referral-needs").check()
    sf.page.get_by_role("button", name="Registrera remiss").click()
    assert sf.page.locator(".error-summary a[href='#referral-needs']").count() == 1
    sf.check("deltagare-fel")
    sf.page.locator("#referral-needs-AF").check()
    sf.page.get_by_role("button", name="Registrera remiss").click()
    assert "Lång sjukskrivning" in sf.page.locator("#remiss + dl").inner_text()

    # A meeting booked for tomorrow and a kartläggning started today show on the page.
    tomorrow = (date.today() + timedelta(days=1)).isoformat()
    sf.page.locator("summary", has_text="Boka möte").click()
    sf.page.locator("#book-date").fill(tomorrow)
    sf.page.locator("#book-invited").check()
    sf.page.locator("#book-invited-AF").check()
    sf.page.get_by_role("button", name="Boka", exact=True).click()
    assert "bokat" in sf.page.locator("#moten + table").inner_text()
    sf.page.locator("summary", has_text="Starta kartläggning").click()
    sf.page.get_by_role("button", name="Starta kartläggning").click()
    assert "pågår" in sf.page.locator("#insatser + table").inner_text()
    sf.page.evaluate("window.scrollTo(0, 0)")
    sf.check("deltagare")

    # Ärenden lists the participant (the projection follows the log within moments).
    sf.page.goto("/arenden")
    sf.page.get_by_role("link", name=re.compile(ANNA["family_name"])).wait_for()
    sf.check("arenden")
    sf.page.get_by_role("link", name=re.compile(r"^kartläggning \(")).click()
    assert "fas=kartlaggning" in sf.page.url
    sf.page.get_by_role("link", name="Namn").click()
    assert sf.page.locator("th[aria-sort='ascending']").inner_text().startswith("Namn")
    sf.page.get_by_role("link", name=re.compile(ANNA["family_name"])).wait_for()
    sf.check("arenden-urval")

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

    # FK's own decision: the rättelse form (refused now: the consent is gone, and the page names it), then the
    # makulering, with an error first.
    fk.page.goto(agency_view)
    item = fk.page.locator("tr[data-item^='decision:']").get_attribute("data-item") or ""
    decision = item.split(":", 1)[1]
    for summary in fk.page.locator("details[data-decision] > summary").all():
        summary.click()
    fk.check("myndighetsvy-rattelse")  # every form unfolded
    fk.page.locator(f"#fix-{decision}-summary").fill("")
    fk.page.get_by_role("button", name="Spara rättelsen").click()
    assert fk.page.locator(f".error-summary a[href='#fix-{decision}-summary']").count() == 1
    assert fk.page.locator(f"#fix-{decision}-summary-error").is_visible()
    fk.check()
    fk.page.locator(f"#fix-{decision}-summary").fill("Sjukpenning på heltid")
    fk.page.locator(f"#fix-{decision}-source_ref").fill("FK-2026-0002")
    fk.page.get_by_role("button", name="Spara rättelsen").click()
    assert fk.page.locator("#samtycke-saknas").count() == 1
    fk.page.get_by_text("Makulera beslutet:").click()
    fk.page.locator(f"#retract-{decision}-reason").fill("Registrerat på fel deltagare")
    fk.page.get_by_role("button", name="Makulera beslutet", exact=True).click()
    assert "återtaget" in fk.page.locator(f"tr[data-item='decision:{decision}']").inner_text()
    assert fk.page.locator("details[data-decision]").count() == 0
    fk.check()

    # A granskare verifies the log, searches it for the participant and prints the result.
    granskare = Person(browser, server, urls)
    granskare.sign_in("granskare-demo")
    assert granskare.page.url.endswith("/granskning")
    granskare.page.get_by_role("button", name="Kontrollera loggen").click()
    assert "Loggen är hel" in granskare.page.locator("#kontroll-resultat").inner_text()
    granskare.check("granskning")
    granskare.page.get_by_label("Deltagare").fill(participant.rsplit("/", 1)[1])
    granskare.page.get_by_label("Part").select_option("AF")
    granskare.page.get_by_role("button", name="Sök", exact=True).click()
    rows = granskare.page.locator("#loggposter tbody tr[data-seq]")
    assert rows.count() >= 2 and "handlaggare-af" in rows.first.inner_text()
    assert granskare.page.locator("#ladda-ner-manifest").count() == 1
    granskare.check("granskning-sok")
    printed(granskare.page, "granskning-utskrift")
    assert granskare.page.locator("#loggposter").is_visible()
    granskare.page.get_by_role("link", name="Statistik").click()
    assert granskare.page.locator("table caption").count() >= 1
    charts = granskare.page.locator("svg[role='img']")
    assert charts.count() >= 1 and charts.first.get_attribute("aria-labelledby")
    granskare.check("statistik")

    # The Deltagare page prints without navigation and forms.
    sf.page.goto(participant)
    printed(sf.page, "deltagare-utskrift")
    assert sf.page.locator("#tidslinje").is_visible()

    # Signing out is a POST with the session's CSRF token.
    granskare.page.get_by_role("button", name="Logga ut").click()
    assert granskare.page.url.endswith("/logga-in")

    digits = ANNA["personnummer"].replace("-", "")
    leaked = [u for u in urls if ANNA["personnummer"] in u or digits in u or digits[2:] in u]
    assert leaked == []
    for person in (sf, fk, af, granskare):
        person.context.close()


FOCUS_STYLE = """() => { const e = document.activeElement, s = getComputedStyle(e);
    return {tag: e.tagName, outline: s.outlineStyle, width: s.outlineWidth, shadow: s.boxShadow}; }"""


class Keyboard:
    """Moves through a page with Tab alone, checking on every stop that the focus can be seen."""

    def __init__(self, page: Any) -> None:
        self.page = page

    def seen(self) -> None:
        style = self.page.evaluate(FOCUS_STYLE)
        visible = (style["outline"] != "none" and style["width"] != "0px") or style["shadow"] != "none"
        assert visible, (self.page.url, style)

    def tab_to(self, selector: str, limit: int = 250) -> None:
        for _ in range(limit):
            self.page.keyboard.press("Tab")
            if self.page.evaluate("s => document.activeElement.matches(s)", selector):
                self.seen()
                return
            if self.page.evaluate("document.activeElement !== document.body"):
                self.seen()
        raise AssertionError(f"Tab never reached {selector} on {self.page.url}")

    def press(self, key: str) -> None:
        """A key that submits a form or follows a link: waits for the next page."""
        with self.page.expect_navigation():
            self.page.keyboard.press(key)

    def sign_in(self, sub: str) -> None:
        self.page.goto("/logga-in")
        self.tab_to("input[name='anvandare']")  # Tab enters the group at the checked radio; arrows choose
        for _ in range(20):
            if self.page.evaluate("document.activeElement.value") == sub:
                break
            self.page.keyboard.press("ArrowDown")
        assert self.page.evaluate("document.activeElement.checked")
        self.tab_to("form[action='/logga-in'] button")
        self.press("Enter")


def test_the_main_flow_with_the_keyboard_alone(server: str, browser: Any) -> None:
    urls: list[str] = []
    number, family_name = "19900101-0017", "Tangentsson"
    sf = Person(browser, server, urls)
    keys = Keyboard(sf.page)
    keys.sign_in("samordnare-demo")
    assert sf.page.url.endswith("/arenden")

    # Enrol, go back to Ärenden and open the participant from the list: links followed with Enter.
    keys.tab_to("a[href='/ny-deltagare']")
    keys.press("Enter")
    keys.tab_to("#personnummer")
    sf.page.keyboard.type(number)
    keys.tab_to("#given_name")
    sf.page.keyboard.type("Tilda")
    keys.tab_to("#family_name")
    sf.page.keyboard.type(family_name)
    keys.tab_to("form[action='/ny-deltagare'] button")
    keys.press("Enter")
    participant = sf.page.url
    assert re.search(rf"/deltagare/{UUID_PATH}$", participant), participant
    keys.tab_to("nav a[href='/arenden']")
    keys.press("Enter")
    keys.tab_to(f"a[href='{participant.removeprefix(server)}']")
    keys.press("Enter")
    assert sf.page.url == participant

    # Record the consent FK -> SF: a checkbox ticked with Space, the reference typed, the form sent with Enter.
    keys.tab_to("#grant-FK-SF")
    sf.page.keyboard.press("Space")
    assert sf.page.is_checked("#grant-FK-SF")
    keys.tab_to("#document_ref")
    sf.page.keyboard.type("DOC-KB-1")
    keys.tab_to("form[action$='/samtycke'] button")
    keys.press("Enter")
    assert sf.page.locator("#samtycken + table").get_by_text("aktivt").count() == 1
    sf.check()

    # FK signs in, finds the participant by number (Enter in the field sends the form) and records a decision.
    fk = Person(browser, server, urls)
    fk_keys = Keyboard(fk.page)
    fk_keys.sign_in("handlaggare-fk")
    assert fk.page.url.endswith("/sok")
    fk_keys.tab_to("#personnummer")
    fk.page.keyboard.type(number)
    fk_keys.press("Enter")
    assert fk.page.url == participant.replace("/deltagare/", "/myndighetsvy/")
    fk_keys.tab_to("#summary")
    fk.page.keyboard.type("Rehabiliteringsersättning beviljad")
    fk_keys.tab_to("#source_ref")
    fk.page.keyboard.type("FK-KB-1")
    fk_keys.tab_to("form[action$='/beslut'] button")
    fk_keys.press("Enter")
    row = fk.page.locator("tr[data-item^='decision:']")
    assert row.count() == 1 and "Rehabiliteringsersättning beviljad" in row.inner_text()
    fk.check()

    digits = number.replace("-", "")
    assert [u for u in urls if number in u or digits in u or digits[2:] in u] == []
    for person in (sf, fk):
        person.context.close()
