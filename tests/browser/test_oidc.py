"""Sign-in through OpenID Connect in a real browser: node-oidc-provider (tests/oidc/provider.js) as a process,
`samverkan serve` as a process pointed at it, and Chromium filling in the provider's own login and consent pages.
Samverkan's Logga in page with the provider's link has no WCAG 2.0/2.1 A or AA violation (axe-core)."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from tests.browser.conftest import _free_port
from tests.browser.test_pages import Person
from tests.conftest import fixed_keys
from tests.e2e.test_web_oidc import CLIENT_ID, CLIENT_SECRET, PROVIDER_DIR, _need, _stop, _wait


@pytest.fixture(scope="module")
def oidc_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """The test provider and `samverkan serve` signing in through it; Samverkan's base URL."""
    node = shutil.which("node")
    if node is None:
        _need("Node.js is missing (the OpenID provider of the test runs on it)")
    if not (PROVIDER_DIR / "node_modules" / "oidc-provider").is_dir():
        _need("tests/oidc/node_modules is missing (run: npm ci --prefix tests/oidc; scripts/test does it)")
    provider_port, app_port = _free_port(), _free_port()
    base, issuer = f"http://127.0.0.1:{app_port}", f"http://127.0.0.1:{provider_port}"
    provider = subprocess.Popen(
        [str(node), str(PROVIDER_DIR / "provider.js"), str(provider_port)],
        env={
            **os.environ,
            "OIDC_CLIENT_ID": CLIENT_ID,
            "OIDC_CLIENT_SECRET": CLIENT_SECRET,
            "OIDC_REDIRECT_URI": f"{base}/logga-in/oidc/callback",
        },
        cwd=PROVIDER_DIR,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    folder: Path = tmp_path_factory.mktemp("oidc-browser")
    env = {k: v for k, v in os.environ.items() if not k.startswith("SAMVERKAN_")}
    env.update({f"SAMVERKAN_{k.upper()}": v for k, v in fixed_keys().items()})
    env.update(
        {
            "SAMVERKAN_DATABASE_URL": f"sqlite:///{folder / 'samverkan.db'}",
            "SAMVERKAN_KEY_FILE": str(folder / "keys.json"),
            "SAMVERKAN_OIDC_ISSUER": issuer,
            "SAMVERKAN_OIDC_CLIENT_ID": CLIENT_ID,
            "SAMVERKAN_OIDC_CLIENT_SECRET": CLIENT_SECRET,
        }
    )
    try:
        _wait(f"{issuer}/.well-known/openid-configuration", provider, "the OpenID provider")
        server = subprocess.Popen(
            [sys.executable, "-m", "adapters.cli", "serve", "--port", str(app_port)],
            env=env,
            cwd=folder,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        try:
            _wait(f"{base}/api/v1/health", server, "samverkan serve")
            yield base
        finally:
            _stop(server)
    finally:
        _stop(provider)


def _through_the_provider(person: Person, base: str, login: str) -> None:
    """Logga in → the provider's login page (any password) → its consent page → back to Samverkan."""
    page = person.page
    page.goto("/logga-in")
    page.get_by_role("link", name="Logga in med organisationens inloggning").click()
    page.wait_for_selector("input[name='login']")
    assert not page.url.startswith(base)  # the provider's own page
    page.fill("input[name='login']", login)
    page.fill("input[name='password']", "valfritt")
    page.locator("button[type='submit']").first.click()
    page.wait_for_load_state()
    for _ in range(3):  # the consent page (once per account and client)
        if page.url.startswith(base):
            break
        page.locator("button[type='submit']").first.click()
        page.wait_for_load_state()
    page.wait_for_url(f"{base}/**")


def test_signing_in_through_the_provider_in_the_browser(oidc_server: str, browser: Any) -> None:
    urls: list[str] = []
    sf = Person(browser, oidc_server, urls)
    sf.page.goto("/logga-in")
    assert sf.page.get_by_role("link", name="Logga in med organisationens inloggning").count() == 1
    sf.check("logga-in-oidc")

    _through_the_provider(sf, oidc_server, "samordnare-sf")
    assert sf.page.url == f"{oidc_server}/arenden", sf.page.url
    assert sf.page.get_by_role("heading", level=1).inner_text().startswith("Ärenden")
    assert "oidc-samordnare-sf" in sf.page.locator(".who").inner_text()
    sf.check()

    fk = Person(browser, oidc_server, urls)
    _through_the_provider(fk, oidc_server, "handlaggare-fk")
    assert fk.page.url == f"{oidc_server}/sok", fk.page.url
    assert "oidc-handlaggare-fk" in fk.page.locator(".who").inner_text()
    fk.check()

    # A refused account lands on Samverkan's own Swedish refusal, not signed in.
    other = Person(browser, oidc_server, urls)
    _through_the_provider(other, oidc_server, "utan-roll")
    assert "Du kan inte logga in i Samverkan" in other.page.content()
    assert other.page.locator(".who").count() == 0
    for person in (sf, fk, other):
        person.context.close()
