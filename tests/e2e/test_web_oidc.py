"""Sign-in through OpenID Connect against a real provider: node-oidc-provider (tests/oidc/provider.js) as a process,
`samverkan serve` as a process, and an HTTP client that follows the redirects and fills in the provider's own
login and consent forms, as a browser would. Nothing is mocked."""

from __future__ import annotations

import base64
import html
import json
import os
import re
import shutil
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from urllib.parse import parse_qsl, urlencode, urljoin, urlsplit, urlunsplit

import httpx
import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec
from fastapi.testclient import TestClient

from adapters.auth import issue_token
from adapters.http.app import build_context, create_app
from adapters.settings import Settings, SettingsError
from adapters.storage import Storage
from tests.conftest import fixed_keys
from tests.e2e.test_server_process import free_port

ROOT = Path(__file__).resolve().parents[2]
PROVIDER_DIR = ROOT / "tests" / "oidc"
CLIENT_ID, CLIENT_SECRET = "samverkan-test", "hemligt-test-klient"
CSRF = re.compile(r'name="csrf_token" value="([^"]+)"')
FORM = re.compile(r'<form[^>]*action="([^"]+)"[^>]*method="post"', re.IGNORECASE)
HIDDEN = re.compile(r'<input type="hidden" name="([^"]+)" value="([^"]*)"', re.IGNORECASE)


def _need(message: str) -> None:
    """Skips on a developer machine; fails under CI=true, where the provider must run (like PostgreSQL)."""
    if os.environ.get("CI", "").lower() == "true":
        pytest.fail(f"{message}; it is required when CI=true", pytrace=False)
    pytest.skip(message)


def _wait(url: str, process: subprocess.Popen[bytes], what: str) -> None:
    deadline = time.monotonic() + 30
    while True:
        if process.poll() is not None:
            pytest.fail(f"{what} exited early")
        try:
            if httpx.get(url, timeout=1).status_code == 200:
                return
        except httpx.TransportError:
            pass
        if time.monotonic() > deadline:
            pytest.fail(f"{what} did not answer within 30 s")
        time.sleep(0.1)


def _stop(process: subprocess.Popen[bytes]) -> None:
    process.terminate()
    try:
        process.wait(10)
    except subprocess.TimeoutExpired:
        process.kill()


@pytest.fixture(scope="module")
def ports() -> tuple[int, int]:
    return free_port(), free_port()


@pytest.fixture(scope="module")
def provider(ports: tuple[int, int]) -> Iterator[str]:
    """node-oidc-provider on a free port, with Samverkan's callback registered; its issuer URL."""
    node = shutil.which("node")
    if node is None:
        _need("Node.js is missing (the OpenID provider of the test runs on it)")
    if not (PROVIDER_DIR / "node_modules" / "oidc-provider").is_dir():
        _need("tests/oidc/node_modules is missing (run: npm ci --prefix tests/oidc; scripts/test does it)")
    provider_port, app_port = ports
    env = {
        **os.environ,
        "OIDC_CLIENT_ID": CLIENT_ID,
        "OIDC_CLIENT_SECRET": CLIENT_SECRET,
        "OIDC_REDIRECT_URI": f"http://127.0.0.1:{app_port}/logga-in/oidc/callback",
    }
    process = subprocess.Popen(
        [str(node), str(PROVIDER_DIR / "provider.js"), str(provider_port)],
        env=env,
        cwd=PROVIDER_DIR,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    issuer = f"http://127.0.0.1:{provider_port}"
    try:
        _wait(f"{issuer}/.well-known/openid-configuration", process, "the OpenID provider")
        yield issuer
    finally:
        _stop(process)


@pytest.fixture(scope="module")
def folder(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The server's folder: its SQLite file and its log (server.log)."""
    return tmp_path_factory.mktemp("oidc")


@pytest.fixture(scope="module")
def server(provider: str, ports: tuple[int, int], folder: Path) -> Iterator[str]:
    """`samverkan serve` on a fresh SQLite file, signing in through the provider; its base URL."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("SAMVERKAN_")}
    env.update({f"SAMVERKAN_{k.upper()}": v for k, v in fixed_keys().items()})
    env.update(
        {
            "SAMVERKAN_DATABASE_URL": f"sqlite:///{folder / 'samverkan.db'}",
            "SAMVERKAN_KEY_FILE": str(folder / "keys.json"),
            "SAMVERKAN_OIDC_ISSUER": provider,
            "SAMVERKAN_OIDC_CLIENT_ID": CLIENT_ID,
            "SAMVERKAN_OIDC_CLIENT_SECRET": CLIENT_SECRET,
        }
    )
    port = ports[1]
    with (folder / "server.log").open("wb") as output:
        process = subprocess.Popen(
            [sys.executable, "-m", "adapters.cli", "serve", "--port", str(port)],
            env=env,
            cwd=folder,
            stdout=output,
            stderr=subprocess.STDOUT,
        )
        base = f"http://127.0.0.1:{port}"
        try:
            _wait(f"{base}/api/v1/health", process, "samverkan serve")
            yield base
        finally:
            _stop(process)


class Browser:
    """One browser: a cookie jar shared by Samverkan and the provider, redirects followed one by one."""

    def __init__(self, base: str) -> None:
        self.base = base
        self.http = httpx.Client(base_url=base, follow_redirects=False, timeout=10)

    def close(self) -> None:
        self.http.close()

    def get(self, url: str) -> httpx.Response:
        return self.http.get(url)

    def to_callback(self, login: str) -> str:
        """From Logga in through the provider's login and consent pages, up to (not into) Samverkan's callback."""
        page = self.get("/logga-in")
        assert "Logga in med organisationens inloggning" in page.text and 'href="/logga-in/oidc"' in page.text
        response = self.get("/logga-in/oidc")
        assert response.status_code == 303, response.text
        assert "samverkan_oidc" in response.headers["set-cookie"]
        location = response.headers["location"]
        query = dict(parse_qsl(urlsplit(location).query))
        assert query["code_challenge_method"] == "S256" and query["code_challenge"] and query["nonce"]
        assert query["client_id"] == CLIENT_ID and "code_verifier" not in query
        for _ in range(20):
            if location.startswith(f"{self.base}/logga-in/oidc/callback"):
                return location
            response = self.get(location)
            if response.is_redirect:
                location = urljoin(location, response.headers["location"])
                continue
            # One of the provider's own pages: its login form (any password) or its consent form.
            assert response.status_code == 200, response.text
            action = FORM.search(response.text)
            assert action, response.text
            fields = dict(HIDDEN.findall(response.text))
            if fields.get("prompt") == "login":
                fields.update(login=login, password="valfritt")
            response = self.http.post(urljoin(location, html.unescape(action.group(1))), data=fields)
            assert response.is_redirect, response.text
            location = urljoin(location, response.headers["location"])
        raise AssertionError("the provider never sent the browser back")

    def sign_in(self, login: str) -> httpx.Response:
        return self.get(self.to_callback(login))

    def signed_in(self) -> bool:
        response = self.get("/arenden")
        return not (response.is_redirect and response.headers["location"] == "/logga-in")


@pytest.fixture
def browser(server: str) -> Iterator[Browser]:
    opened = Browser(server)
    yield opened
    opened.close()


def disclosures(base: str, user: str) -> list[dict[str, object]]:
    """The disclosure log's entries of one user, read by a granskare through the API."""
    secret = base64.b64decode(fixed_keys()["token_secret"])
    token = issue_token(secret, sub="granskare-test", agency="SF", role="granskare")
    response = httpx.get(
        f"{base}/api/v1/audit/disclosures", params={"user": user}, headers={"Authorization": f"Bearer {token}"}
    )
    assert response.status_code == 200, response.text
    return [json.loads(line) for line in response.text.splitlines() if line.strip()]


def test_a_samordnare_signs_in_through_the_provider_reads_and_signs_out(browser: Browser) -> None:
    before = CSRF.search(browser.get("/logga-in").text)
    assert before
    back = browser.sign_in("samordnare-sf")
    assert back.status_code == 303 and back.headers["location"] == "/", back.text
    cookies = back.headers.get_list("set-cookie")
    session = next(c for c in cookies if c.startswith("samverkan_session="))
    assert "httponly" in session.lower() and "samesite=lax" in session.lower()
    assert any(c.startswith("samverkan_oidc=") and "max-age=0" in c.lower() for c in cookies)  # one use only
    assert browser.get("/").headers["location"] == "/arenden"
    page = browser.get("/arenden")
    assert page.status_code == 200, page.text
    assert "oidc-samordnare-sf" in page.text and "Ärenden" in page.text
    after = CSRF.search(page.text)
    assert after and after.group(1) != before.group(1)  # sign-in renews the CSRF token
    entries = disclosures(browser.base, "oidc-samordnare-sf")
    assert entries and entries[-1]["user_id"] == "oidc-samordnare-sf" and entries[-1]["agency"] == "SF"
    assert entries[-1]["role"] == "samordnare"

    signed_out = browser.http.post("/logga-ut", data={"csrf_token": after.group(1)})
    assert signed_out.status_code == 303 and signed_out.headers["location"] == "/logga-in"
    assert not browser.signed_in()


def test_a_handlaggare_gets_agency_and_role_from_the_claims(browser: Browser) -> None:
    back = browser.sign_in("handlaggare-fk")
    assert back.status_code == 303
    assert browser.get("/").headers["location"] == "/sok"
    page = browser.get("/sok")
    assert page.status_code == 200 and "oidc-handlaggare-fk" in page.text


def test_a_wrong_state_is_refused(browser: Browser) -> None:
    callback = urlsplit(browser.to_callback("samordnare-sf"))
    query = dict(parse_qsl(callback.query))
    query["state"] = "nagon-annans-" + query["state"]
    refused = browser.get(urlunsplit(callback._replace(query=urlencode(query))))
    assert refused.status_code == 400 and "Inloggningen kunde inte slutföras" in refused.text
    assert not browser.signed_in()


def test_a_callback_without_this_browsers_state_cookie_is_refused(server: str, browser: Browser) -> None:
    callback = browser.to_callback("samordnare-sf")
    other = Browser(server)  # another browser handed the link: it has no state cookie
    try:
        refused = other.get(callback)
        assert refused.status_code == 400
        assert not other.signed_in()
    finally:
        other.close()
    # And a callback is good once: the first use works, a replay does not.
    assert browser.get(callback).status_code == 303
    assert browser.get(callback).status_code == 400


@pytest.mark.parametrize("login", ["utan-roll", "samordnare-fk", "granskare-fk"])
def test_an_account_without_a_fitting_agency_and_role_is_refused(browser: Browser, login: str) -> None:
    refused = browser.sign_in(login)
    assert refused.status_code == 403, refused.text
    assert "saknar organisation eller roll" in refused.text
    assert not browser.signed_in()


def test_the_server_log_names_no_code_token_or_name(folder: Path, browser: Browser) -> None:
    callback = browser.to_callback("samordnare-sf")
    code = dict(parse_qsl(urlsplit(callback).query))["code"]
    assert browser.get(callback).status_code == 303
    text = (folder / "server.log").read_text()
    assert "web_sign_in" in text and "oidc-samordnare-sf" in text
    for secret in (code, CLIENT_SECRET, "Sara Samordnare", "eyJ"):  # eyJ: the start of any JWT
        assert secret not in text


# -- without the provider: settings and the production switch ---------------------------------------------------


def test_oidc_settings_must_be_complete_and_https_in_production() -> None:
    with pytest.raises(SettingsError, match="CLIENT_ID"):
        Settings(oidc_issuer="https://idp.example")
    with pytest.raises(SettingsError, match="https"):
        Settings(env="production", oidc_issuer="http://idp.example", oidc_client_id="a", oidc_client_secret="b")
    with pytest.raises(SettingsError, match="SESSION_SECRET"):
        Settings(env="production", oidc_issuer="https://idp.example", oidc_client_id="a", oidc_client_secret="b")
    with pytest.raises(SettingsError, match="SESSION_SECRET must decode to 32 bytes"):
        Settings(session_secret="c2hvcnQ=")


def test_in_production_the_pages_work_with_oidc_alone(settings: Settings, storage: Storage, tmp_path: Path) -> None:
    # Production: the API verifies the provider's tokens with its public key; no token secret anywhere.
    key = ec.generate_private_key(ec.SECP256R1()).public_key()
    pem = tmp_path / "idp.pem"
    pem.write_bytes(key.public_bytes(serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo))
    production = settings.model_copy(
        update={
            "env": "production",
            "token_secret": None,
            "token_public_key_file": pem,
            "session_secret": fixed_keys()["token_secret"],
            "oidc_issuer": "https://idp.example",
            "oidc_client_id": "samverkan",
            "oidc_client_secret": "hemligt",
        }
    )
    app = create_app(production, context=build_context(production, storage))
    with TestClient(app, follow_redirects=False) as client:
        page = client.get("/logga-in")
        assert page.status_code == 200 and 'href="/logga-in/oidc"' in page.text
        assert 'name="anvandare"' not in page.text and "avstängd" not in page.text
        assert "secure" in page.headers["set-cookie"].lower()
        refused = client.post("/logga-in", data={"anvandare": "samordnare-demo", "csrf_token": "x"})
        assert refused.status_code == 403
