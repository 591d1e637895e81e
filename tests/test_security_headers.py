"""Security headers, the CSP nonce, the session cookie and CSRF refusals.

The pages walked are the GET rows of the access matrix (tests/test_access_matrix.py), for every
persona: the headers must be on every response, so redirects, 403s and 404s are checked as well as
the pages the persona can reach.
"""

import pytest
from bs4 import BeautifulSoup

from tests.conftest import DEMO_PASSWORD, get_page, sign_in
from tests.test_access_matrix import EMAILS, PERSONAS, ROWS, demo_ids

# Plus an address that matches no route and a POST-only address, for the 404 and 405 pages.
GET_PATHS = sorted({path for method, path, _ in ROWS if method == "GET"} | {"/no-such-page", "/sign-out"})


def csp_directives(response) -> dict[str, list[str]]:
    header = response.headers.get("Content-Security-Policy", "")
    directives = {}
    for part in header.split(";"):
        name, *sources = part.split()
        directives[name] = sources
    return directives


def check_response(response, where: str, signed_in: bool) -> str:
    """Assert the headers every response needs; returns the CSP nonce."""
    assert "Content-Security-Policy" in response.headers, f"{where}: no Content-Security-Policy"
    csp = csp_directives(response)
    script_src = csp.get("script-src", [])
    nonces = [s.removeprefix("'nonce-").removesuffix("'") for s in script_src if s.startswith("'nonce-")]
    assert len(nonces) == 1 and nonces[0], f"{where}: script-src has no nonce: {script_src}"
    assert "'unsafe-inline'" not in script_src, f"{where}: script-src allows 'unsafe-inline'"
    assert csp.get("frame-ancestors") == ["'none'"], f"{where}: frame-ancestors is {csp.get('frame-ancestors')}"
    assert response.headers.get("X-Content-Type-Options") == "nosniff", f"{where}: no X-Content-Type-Options: nosniff"
    assert response.headers.get("Referrer-Policy"), f"{where}: no Referrer-Policy"
    if signed_in:
        # Shared computers and proxies must not keep anyone's pages.
        assert response.headers.get("Cache-Control") == "no-store", f"{where}: Cache-Control is {response.headers.get('Cache-Control')!r}"
    if response.mimetype == "text/html":
        scripts = BeautifulSoup(response.text, "html.parser").find_all("script")
        wrong = [str(s)[:120] for s in scripts if s.get("nonce") != nonces[0]]
        assert not wrong, f"{where}: <script> tags without the header's nonce: {wrong}"
    return nonces[0]


@pytest.fixture(scope="module")
def ids(module_app):
    return demo_ids(module_app)


@pytest.mark.parametrize("persona", PERSONAS)
def test_headers_on_every_page(persona, module_app, ids):
    client = module_app.test_client()
    if persona != "anon":
        sign_in(client, EMAILS[persona])
    nonces = []
    for path in GET_PATHS:
        response = client.get(path.format(**ids))
        nonces.append(check_response(response, f"GET {path} as {persona} ({response.status_code})", persona != "anon"))
    # A nonce that repeats is a nonce an attacker can learn.
    assert len(set(nonces)) == len(nonces), f"{persona}: the CSP nonce repeated across responses"


@pytest.mark.parametrize("persona", ["amina", "kim"])  # without and with an authenticator code
def test_session_cookie_set_at_sign_in_is_httponly_and_samesite_lax(persona, module_app):
    client = module_app.test_client()
    response = sign_in(client, EMAILS[persona])
    cookie_name = module_app.config["SESSION_COOKIE_NAME"]
    cookies = [c for c in response.headers.getlist("Set-Cookie") if c.startswith(f"{cookie_name}=")]
    assert cookies, "signing in set no session cookie"
    attributes = {a.strip().lower() for a in cookies[-1].split(";")[1:]}
    assert "httponly" in attributes, cookies[-1]
    assert "samesite=lax" in attributes, cookies[-1]


# A POST without its CSRF token: refused, explained, and nothing changed -------------------------

NEW_PASSWORD = "a-brand-new-long-password-42"


def assert_csrf_refusal(response, where: str):
    assert response.status_code == 400, f"{where}: expected 400, got {response.status_code}"
    assert "Your form could not be sent" in response.text, f"{where}: not the portal's 400 page"


@pytest.mark.parametrize("persona", ["anon", "amina"])
def test_the_page_refusing_a_form_without_its_token_has_the_security_headers(persona, module_app):
    client = module_app.test_client()
    if persona != "anon":
        sign_in(client, EMAILS[persona])
    response = client.post("/sign-out" if persona != "anon" else "/sign-in")
    assert_csrf_refusal(response, f"POST without a token as {persona}")
    check_response(response, f"400 page for a missing CSRF token, as {persona}", persona != "anon")


def test_changing_password_without_csrf_token_changes_nothing(app):
    client = app.test_client()
    sign_in(client, EMAILS["amina"])
    form = {"current_password": DEMO_PASSWORD, "password": NEW_PASSWORD, "confirm": NEW_PASSWORD}

    assert_csrf_refusal(client.post("/account/password", data=form), "POST /account/password without a token")

    get_page(client, "/account")  # still signed in (a password change would have ended the session)
    assert sign_in(app.test_client(), EMAILS["amina"], NEW_PASSWORD, expect_home=False).status_code == 200
    sign_in(app.test_client(), EMAILS["amina"], DEMO_PASSWORD)  # the old password still works

    # The same form with its token goes through: it was only the missing token that stopped it.
    page = get_page(client, "/account/password")
    token = page.soup.find("input", {"name": "csrf_token"})["value"]
    assert client.post("/account/password", data={"csrf_token": token, **form}).status_code == 302
    sign_in(app.test_client(), EMAILS["amina"], NEW_PASSWORD)


def test_signing_out_without_csrf_token_keeps_the_session(app):
    client = app.test_client()
    sign_in(client, EMAILS["amina"])
    assert_csrf_refusal(client.post("/sign-out"), "POST /sign-out without a token")
    get_page(client, "/home")  # still signed in
