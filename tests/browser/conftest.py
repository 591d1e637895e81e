"""Fixtures for real-browser journeys: a live server on a demo database, Chromium, and axe-core.

Each pytest process (each xdist worker too) gets its own demo database and its own server on a free
port, so workers never share authenticator codes, sign-in throttles or sessions.
"""

import threading
from contextlib import contextmanager
import time
from dataclasses import dataclass, field
from datetime import UTC, datetime

import pyotp
import pytest
import sqlalchemy as sa
from axe_playwright_python.sync_playwright import Axe
from playwright.sync_api import expect, sync_playwright
from werkzeug.serving import make_server

from portal import create_app
from portal.extensions import db
from tests.conftest import DEMO_PASSWORD

TOTP_SECRET = "NORTHFIELDDEMOAUTHENTICATOR23456"
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
]
# WCAG 2.0, 2.1 and 2.2 A and AA, plus axe's best practices. No rule is switched off.
AXE_OPTIONS = {
    "runOnly": {
        "type": "tag",
        "values": ["wcag2a", "wcag2aa", "wcag21a", "wcag21aa", "wcag22aa", "best-practice"],
    },
    "resultTypes": ["violations"],
}
FAILING_IMPACTS = {"serious", "critical"}
CSP_MARKERS = ("Content Security Policy", "Content-Security-Policy", "Refused to")

_axe = Axe()


@dataclass
class LiveServer:
    base_url: str
    app: object

    def url(self, path: str) -> str:
        return self.base_url + path

    def authenticator_code(self, email: str) -> str:
        """A code for a time-step this account has not used yet in this database.

        The portal accepts the previous, current and next step, each once. Prefer the current step,
        then the next (both stay valid if the clock ticks over before the form is sent); if both are
        used, wait for the next step rather than risk one that is about to expire.
        """
        from portal.models import User

        totp = pyotp.TOTP(TOTP_SECRET)
        for _ in range(3):
            with self.app.app_context():
                last = db.session.scalar(sa.select(User.totp_last_step).where(User.email == email)) or 0
                db.session.remove()
            now = datetime.now(UTC)
            step = totp.timecode(now)
            for candidate in (step, step + 1):
                if candidate > last:
                    return totp.generate_otp(candidate)
            time.sleep(totp.interval - now.timestamp() % totp.interval + 0.1)
        raise AssertionError(f"no unused authenticator code for {email}")


@contextmanager
def _served_demo(databases, name: str):
    """A live server on a fresh copy of the demo with the personas' money and receipts (kept in the
    run's temporary evidence folder), stopped and its database dropped afterwards."""
    import tests.conftest as shared

    url = databases.create("money")
    app = create_app({"SQLALCHEMY_DATABASE_URI": url, "EVIDENCE_FOLDER": shared.EVIDENCE_FOLDER})
    server = make_server("127.0.0.1", 0, app, threaded=True)
    thread = threading.Thread(target=server.serve_forever, name=name, daemon=True)
    thread.start()
    try:
        yield LiveServer(f"http://127.0.0.1:{server.server_port}", app)
    finally:
        server.shutdown()
        server.server_close()
        thread.join(timeout=10)
        with app.app_context():
            db.session.remove()
            db.engine.dispose()
        databases.drop(url)


@pytest.fixture(scope="session")
def live_server(databases):
    with _served_demo(databases, "live-server") as server:
        yield server


@pytest.fixture
def fresh_live_server(databases):
    """A server of the test's own, for journeys that change what other journeys would see."""
    with _served_demo(databases, "fresh-live-server") as server:
        yield server


@pytest.fixture(scope="session")
def browser():
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path="/usr/bin/chromium", args=CHROMIUM_ARGS)
        yield browser
        browser.close()


def axe_failures(page) -> list[str]:
    results = _axe.run(page, options=AXE_OPTIONS)
    lines = []
    for violation in results.response["violations"]:
        if violation.get("impact") in FAILING_IMPACTS:
            targets = [", ".join(map(str, node["target"])) for node in violation["nodes"]]
            lines.append(f"{violation['id']} ({violation['impact']}): {violation['help']} -> {targets}")
    return lines


@dataclass
class Journey:
    """A browser tab that checks every page it reaches: axe-core, and no CSP violations."""

    page: object
    server: LiveServer
    # With JavaScript off, axe-core cannot run in the page itself (its timers never fire), so the
    # page's markup is replayed at the same address in this tab (whose context allows the injected
    # axe script), with every script of the page's own blocked, and axe runs there on the DOM and
    # styles the no-JS visitor got.
    mirror: object | None = None
    csp_messages: list[str] = field(default_factory=list)

    def goto(self, path: str):
        self.page.goto(self.server.url(path))
        self.check()

    def check(self):
        """Check the page now showing (call after every navigation)."""
        self.page.wait_for_load_state("load")
        where = f"{self.page.url} ({self.page.title()!r})"
        failures = axe_failures(self.page) if self.mirror is None else self._axe_on_mirror()
        assert not failures, f"axe-core: serious or critical violations on {where}:\n" + "\n".join(failures)
        self.assert_no_csp_violations(where)

    def assert_no_csp_violations(self, where: str):
        assert not self.csp_messages, f"Content-Security-Policy violations by {where}:\n" + "\n".join(
            self.csp_messages
        )

    def _axe_on_mirror(self) -> list[str]:
        url, html = self.page.url, self.page.content()

        def replay(route):
            request = route.request
            if request.resource_type == "document" and request.url == url:
                # No script at all, inline ones included: the DOM must stay as the no-JS visitor saw it.
                route.fulfill(
                    status=200,
                    content_type="text/html; charset=utf-8",
                    headers={"Content-Security-Policy": "script-src 'none'"},
                    body=html,
                )
            elif request.resource_type == "script":
                route.abort()
            else:
                route.continue_()

        self.mirror.route("**/*", replay)
        try:
            self.mirror.goto(url)
            return axe_failures(self.mirror)
        finally:
            self.mirror.unroute("**/*", replay)

    def click(self, locator):
        """Click something that loads a new page, wait for it, and check it."""
        with self.page.expect_navigation():
            locator.click()
        self.check()

    def sign_in(self, email: str, password: str = DEMO_PASSWORD, staff: bool = False):
        """From the start page: follow 'Sign in', fill the form, and give a code if staff."""
        page = self.page
        self.goto("/")
        # The start page's "Sign in" is a link styled (and given the role) of a start button.
        self.click(page.get_by_role("button", name="Sign in"))
        expect(page.get_by_role("heading", level=1)).to_have_text("Sign in")
        page.get_by_label("Email address", exact=True).fill(email)
        page.get_by_label("Password", exact=True).fill(password)
        self.click(page.get_by_role("button", name="Sign in"))
        if staff:
            expect(page.get_by_role("heading", level=1)).to_have_text("Enter the code from your authenticator app")
            page.get_by_label("Code from your authenticator app").fill(self.server.authenticator_code(email))
            self.click(page.get_by_role("button", name="Continue"))

    def sign_out(self):
        self.click(self.page.get_by_role("button", name="Sign out"))
        expect(self.page.get_by_role("heading", level=1)).to_have_text("Sign in")
        expect(self.page.get_by_text("You have signed out.")).to_be_visible()


def _open_journey(browser, live_server, **context_options):
    context = browser.new_context(**context_options)
    context.set_default_timeout(10_000)
    page = context.new_page()
    journey = Journey(page, live_server)

    def on_console(message):
        if any(marker in message.text for marker in CSP_MARKERS):
            journey.csp_messages.append(f"[{message.type}] {message.text}")

    page.on("console", on_console)
    return context, journey


def journey_on(browser, server, **context_options):
    """A journey's life for a fixture to yield from: opened on the server, closed, and no CSP reports left."""
    context, journey = _open_journey(browser, server, **context_options)
    yield journey
    context.close()
    journey.assert_no_csp_violations("the journey's pages")  # anything reported after the last check


@pytest.fixture
def journey(browser, live_server):
    yield from journey_on(browser, live_server)


@pytest.fixture
def fresh_journey(browser, fresh_live_server):
    """A journey on a server and database of its own, for journeys that change what others would see."""
    yield from journey_on(browser, fresh_live_server)


# What journeys look for on most pages.


def h1(page):
    return page.get_by_role("heading", level=1)


def success(page):
    return page.get_by_role("alert", name="Success")


def menu(page):
    return page.get_by_role("navigation", name="Menu")


@pytest.fixture
def journey_without_js(browser, live_server):
    context, journey = _open_journey(browser, live_server, java_script_enabled=False)
    mirror_context = browser.new_context()
    mirror_context.set_default_timeout(10_000)
    journey.mirror = mirror_context.new_page()
    yield journey
    mirror_context.close()
    context.close()
    journey.assert_no_csp_violations("the journey's pages")
