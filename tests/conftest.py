"""Test fixtures: a fresh database per test (copied from a migrated template), on SQLite or PostgreSQL.

DATABASE_URL picks PostgreSQL (CI's second run); otherwise each test gets its own SQLite file. The
templates are built once per worker through the real migrations, so the schema under test is the
one production gets.
"""

import itertools
from datetime import UTC, datetime
import os
import re
import shutil
from dataclasses import dataclass

import pyotp
import pytest
import sqlalchemy as sa
from bs4 import BeautifulSoup

os.environ["PORTAL_ENV"] = "test"

from portal import create_app  # noqa: E402
from portal.extensions import db  # noqa: E402
from portal.services import content, demo  # noqa: E402
from portal.services.clock import london_today  # noqa: E402

DEMO_PASSWORD = demo.DEMO_PASSWORD
TOTP = pyotp.TOTP(demo.DEMO_TOTP_SECRET)
STAFF_EMAILS = {
    "kim@brightpath.example",
    "lee@brightpath.example",
    "omar@harbour.example",
    "rachel@northfield.example",
    "admin@example.org",
}
PG_URL = os.environ.get("DATABASE_URL", "")
USE_PG = PG_URL.startswith("postgresql")
_counter = itertools.count()


def _worker(request) -> str:
    return getattr(request.config, "workerinput", {}).get("workerid", "main")


# Receipts the demo stores, for every database this run makes (never the repository's instance/).
EVIDENCE_FOLDER = None


def _migrate(url: str, kind: str) -> None:
    app = create_app({"SQLALCHEMY_DATABASE_URI": url, "EVIDENCE_FOLDER": EVIDENCE_FOLDER})
    with app.app_context():
        from flask_migrate import upgrade

        upgrade()
        content.ensure_default_pages()
        if kind in ("demo", "money", "money_before_payroll"):
            ids = demo.load_personas(app.config["ARGON2_TIME_COST"], app.config["ARGON2_MEMORY_COST"])
            if kind != "demo":
                demo.load_money(ids, payroll=kind == "money")
        db.session.remove()
        db.engine.dispose()


class DatabaseFactory:
    """Makes a fresh database from a template and removes it afterwards."""

    def __init__(self, worker: str, tmp_path_factory):
        self.worker = worker
        self.tmp = tmp_path_factory.mktemp(f"db-{worker}")
        self.templates: dict[str, str] = {}
        if USE_PG:
            self.admin_engine = sa.create_engine(PG_URL, isolation_level="AUTOCOMMIT")

    def _pg_url(self, name: str) -> str:
        return PG_URL.rsplit("/", 1)[0] + "/" + name

    def template(self, kind: str) -> str:
        # The demo's dates are relative to the day it is loaded, and tests compare them with today:
        # a run that crosses midnight loads the demo again for the new day.
        day = london_today()
        key = f"{kind}_{day:%Y%m%d}"
        if key not in self.templates:
            if USE_PG:
                name = f"tpl_{key}_{self.worker}"
                with self.admin_engine.connect() as conn:
                    conn.exec_driver_sql(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
                    conn.exec_driver_sql(f'CREATE DATABASE "{name}"')
                _migrate(self._pg_url(name), kind)
                self.templates[key] = name
            else:
                path = self.tmp / f"template-{key}.db"
                _migrate(f"sqlite:///{path}", kind)
                self.templates[key] = str(path)
        return self.templates[key]

    def create(self, kind: str) -> str:
        template = self.template(kind)
        n = next(_counter)
        if USE_PG:
            name = f"t_{self.worker}_{n}"
            with self.admin_engine.connect() as conn:
                conn.exec_driver_sql(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
                conn.exec_driver_sql(f'CREATE DATABASE "{name}" TEMPLATE "{template}"')
            return self._pg_url(name)
        path = self.tmp / f"test-{n}.db"
        shutil.copyfile(template, path)
        return f"sqlite:///{path}"

    def drop_templates(self) -> None:
        if USE_PG:
            for name in self.templates.values():
                with self.admin_engine.connect() as conn:
                    conn.exec_driver_sql(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
            self.admin_engine.dispose()

    def drop(self, url: str) -> None:
        if USE_PG:
            name = url.rsplit("/", 1)[1]
            with self.admin_engine.connect() as conn:
                conn.exec_driver_sql(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        else:
            path = url.removeprefix("sqlite:///")
            for suffix in ("", "-wal", "-shm"):
                if os.path.exists(path + suffix):
                    os.remove(path + suffix)


@pytest.fixture(scope="session")
def databases(request, tmp_path_factory):
    global EVIDENCE_FOLDER
    EVIDENCE_FOLDER = str(tmp_path_factory.mktemp("evidence"))
    factory = DatabaseFactory(_worker(request), tmp_path_factory)
    yield factory
    factory.drop_templates()


def _make_app(databases, kind: str, **config):
    url = databases.create(kind)
    app = create_app({"SQLALCHEMY_DATABASE_URI": url, "SERVER_NAME": "localhost", "EVIDENCE_FOLDER": EVIDENCE_FOLDER, **config})
    return app, url


def _close_app(databases, app, url):
    with app.app_context():
        db.session.remove()
        db.engine.dispose()
    databases.drop(url)


@pytest.fixture
def app(databases):
    """An app on a fresh database holding the demo personas.

    No app context is held during the test: requests must each get their own (as in a real
    server), or Flask-Login's per-context user would leak between requests. Use
    `with app.app_context():` to look at the database.
    """
    app, url = _make_app(databases, "demo")
    yield app
    _close_app(databases, app, url)


@pytest.fixture
def money_app(databases):
    """An app on a fresh database with the demo personas and their money (a year of payments and spending)."""
    app, url = _make_app(databases, "money")
    yield app
    _close_app(databases, app, url)


@pytest.fixture
def money_before_payroll_app(databases):
    """The demo with its money but before Brightpath's first pay run (for tests that build their own)."""
    app, url = _make_app(databases, "money_before_payroll")
    yield app
    _close_app(databases, app, url)


@pytest.fixture
def empty_app(databases):
    """An app on a fresh, migrated database with no organisations or people."""
    app, url = _make_app(databases, "empty")
    yield app
    _close_app(databases, app, url)


@pytest.fixture(scope="module")
def module_app(databases):
    """One demo database, with the personas' money, shared by a module's read-only tests (the access matrix)."""
    app, url = _make_app(databases, "money")
    yield app
    _close_app(databases, app, url)


@pytest.fixture
def client(app):
    return app.test_client()


# Signing in ----------------------------------------------------------------------------------


def csrf_token(html: str) -> str:
    match = re.search(r'name="csrf_token"[^>]*value="([^"]+)"', html)
    assert match, "no CSRF token on the page"
    return match.group(1)


def authenticator_code(app, email: str) -> str:
    """A valid code that this account has not used yet (codes work once per account)."""
    from portal.models import User

    with app.app_context():
        last_step = db.session.scalar(sa.select(User.totp_last_step).where(User.email == email)) or 0
    now = datetime.now(UTC)
    step = TOTP.timecode(now)
    # The portal accepts the current step and one either side; use the first one still unused.
    # The step behind is skipped near the end of a window: by the time the portal checks it, the
    # clock may have moved on and it would be two behind.
    candidates = (step - 1, step, step + 1) if now.timestamp() % TOTP.interval < 20 else (step, step + 1)
    for candidate in candidates:
        if candidate > last_step:
            return TOTP.generate_otp(candidate)
    raise AssertionError(f"no unused authenticator code left for {email} in this 30-second window")


def sign_in(client, email: str, password: str = DEMO_PASSWORD, expect_home: bool = True):
    page = client.get("/sign-in")
    response = client.post("/sign-in", data={"csrf_token": csrf_token(page.text), "email": email, "password": password})
    if response.status_code == 302 and response.headers["Location"].endswith("/sign-in/code"):
        page = client.get("/sign-in/code")
        code = authenticator_code(client.application, email)
        response = client.post("/sign-in/code", data={"csrf_token": csrf_token(page.text), "code": code})
    if expect_home:
        assert response.status_code == 302, f"sign-in as {email} failed: {response.status_code}"
        assert response.headers["Location"].endswith("/home"), response.headers["Location"]
    return response


def post_form(client, url: str, data: dict, page_url: str | None = None):
    """POST a form the way a browser would: take the CSRF token from the page first."""
    page = client.get(page_url or url)
    return client.post(url, data={"csrf_token": csrf_token(page.text), **data})


@dataclass
class Page:
    status: int
    soup: BeautifulSoup
    text: str


def get_page(client, url: str, status: int = 200) -> Page:
    """GET a page, assert its status and the checks every page must pass, and return it parsed."""
    response = client.get(url)
    assert response.status_code == status, f"{url}: expected {status}, got {response.status_code}"
    soup = BeautifulSoup(response.text, "html.parser")
    if response.mimetype == "text/html":
        check_page(soup, url)
    return Page(response.status_code, soup, response.text)


def check_page(soup: BeautifulSoup, url: str) -> None:
    title = soup.title.string.strip() if soup.title and soup.title.string else ""
    assert title, f"{url}: page has no title"
    ids = [tag["id"] for tag in soup.find_all(id=True)]
    duplicates = {i for i in ids if ids.count(i) > 1}
    assert not duplicates, f"{url}: duplicate ids {duplicates}"
    for form in soup.find_all("form"):
        assert form.get("method", "get").lower() in ("get", "post"), f"{url}: form without a method"
        if form.get("method", "").lower() == "post":
            assert form.find("input", {"name": "csrf_token"}), f"{url}: POST form without a CSRF token"
    nonce_scripts = soup.find_all("script")
    for script in nonce_scripts:
        assert script.get("nonce"), f"{url}: script without the CSP nonce"
    h1s = soup.find_all("h1")
    assert len(h1s) == 1, f"{url}: expected one h1, found {len(h1s)}"
