"""The database out of reach (issue 8, "Faults"): a clear 503 page meanwhile, and recovery without a restart.

On both databases: a request while the engine cannot connect gets "Sorry, the service is unavailable"
(503, Retry-After, no stack trace), and the next request once the database is back gets its page; a
database error that is not an outage stays a 500; SQLite's "database is locked" retry still works.

On PostgreSQL only: the server drops the pool's connections (pg_terminate_backend, which is what a
restart does to them) and the portal carries on (pool pre-ping); and a real cluster of the test's own,
started with the same script and pg_ctl as the Makefile's, is restarted, then stopped (503, nothing
saved) and started again (pages and a case note work). The cluster is the test's own because the
suite's cluster is shared by the other pytest-xdist worker, whose tests a restart would break.
"""

import os
import re
import socket
import sqlite3
import subprocess
import tempfile
from pathlib import Path

import psycopg
import pytest
import sqlalchemy as sa
from sqlalchemy import event
from sqlalchemy.exc import OperationalError

from portal import create_app
from portal.extensions import db
from portal.models import CaseNote
from tests import conftest
from tests.conftest import USE_PG, _close_app, _make_app, csrf_token, get_page, sign_in

ROOT = Path(__file__).resolve().parents[1]
TITLE = "Sorry, the service is unavailable"
# What must never reach the person: the stack trace, the exception's names, the driver's own words.
LEAKS = ("Traceback", "OperationalError", "DBAPIError", "sqlalchemy", "psycopg", "sqlite3", "Connection refused",
         "unable to open database file", "terminating connection", 'File "')


def driver_refusal() -> Exception:
    """The driver's own error for a database that cannot be reached, as it words it."""
    if USE_PG:
        return psycopg.OperationalError(
            'connection failed: connection to server at "127.0.0.1", port 1 failed: Connection refused')
    return sqlite3.OperationalError("unable to open database file")


def assert_unavailable_page(response) -> None:
    assert response.status_code == 503, response.status_code
    text = response.get_data(as_text=True)
    assert TITLE in text
    assert "You will be able to use the service later." in text
    assert "check whether it was saved when the service is back before you send it again" in text
    for leak in LEAKS:
        assert leak not in text, f"the page shows {leak!r}"
    assert "Signed in as" not in text  # drawn for anyone: who is signed in cannot be checked meanwhile
    assert int(response.headers["Retry-After"]) > 0
    assert response.headers["Cache-Control"] == "no-store"


class Refuse:
    """Every new connection the engine makes fails with the driver's error, until stopped; the pool is
    emptied so no connection made before can hide the outage."""

    def __init__(self, app):
        self.app = app

    def _refuse(self, *_args, **_kwargs):
        raise driver_refusal()

    def __enter__(self):
        with self.app.app_context():
            event.listen(db.engine, "do_connect", self._refuse)
            db.engine.dispose()
        return self

    def __exit__(self, *exc):
        with self.app.app_context():
            event.remove(db.engine, "do_connect", self._refuse)


# Both databases ----------------------------------------------------------------------------------


def test_while_the_database_cannot_be_reached_every_page_says_so_and_the_next_after_it_works(app):
    client = app.test_client()
    sign_in(client, "amina@example.org")
    assert "Signed in as" in get_page(client, "/home").text

    with Refuse(app):
        for url in ("/home", "/sign-in", "/", f"/people/{999}/money"):
            assert_unavailable_page(client.get(url))
        page = get_page(client, "/home", status=503)  # and it passes every page's checks (one h1, title, nonces)
        assert page.soup.title.string.strip().startswith(TITLE)
        assert page.soup.h1.get_text(strip=True) == TITLE

    # Back: the same client, still signed in, gets its page from the same app (no restart).
    assert "Signed in as" in get_page(client, "/home").text


def test_stylesheets_and_scripts_need_no_database_so_the_unavailable_page_keeps_its_look(app):
    client = app.test_client()
    sign_in(client, "amina@example.org")
    with Refuse(app):
        for path in ("/static/dist/portal.css", "/static/js/portal.js"):
            response = client.get(path)
            assert response.status_code == 200, (path, response.status_code)
            assert response.mimetype in ("text/css", "text/javascript", "application/javascript")
            response.close()
    statements = []

    def count(*_args):
        statements.append(1)

    with app.app_context():
        event.listen(db.engine, "before_cursor_execute", count)
    try:
        client.get("/static/dist/portal.css").close()
    finally:
        with app.app_context():
            event.remove(db.engine, "before_cursor_execute", count)
    assert statements == [], "a stylesheet asked the database something"


def test_a_form_sent_while_the_database_cannot_be_reached_is_refused_and_nothing_is_saved(app):
    client = app.test_client()
    sign_in(client, "kim@brightpath.example")
    case = re.search(r'href="/people/(\d+)/case"', get_page(client, "/caseload").text).group(1)
    notes_url = f"/people/{case}/notes"
    token = csrf_token(get_page(client, notes_url).text)

    with Refuse(app):
        assert_unavailable_page(client.post(notes_url, data={"csrf_token": token, "body": "Sent during the outage"}))

    response = client.post(notes_url, data={"csrf_token": token, "body": "Sent once it was back"})
    assert response.status_code == 302
    with app.app_context():
        bodies = db.session.scalars(sa.select(CaseNote.body).where(CaseNote.recipient_id == int(case))).all()
    assert "Sent during the outage" not in bodies
    assert bodies.count("Sent once it was back") == 1


def _add_test_views(app, calls: list):
    """Views that raise database errors of their own, for the handler's cases (before any request)."""

    def bad_query():
        # A fault in a query, not an outage: a missing table (SQLite's OperationalError) or a statement
        # cancelled by its timeout (PostgreSQL's QueryCanceled, an OperationalError too).
        if USE_PG:
            db.session.execute(sa.text("SET LOCAL statement_timeout = 1"))
            db.session.execute(sa.text("SELECT pg_sleep(1)"))
        else:
            db.session.execute(sa.text("SELECT * FROM no_such_table"))
        return "unreachable"

    def locked_once():
        calls.append(1)
        if len(calls) == 1:
            raise OperationalError("UPDATE user_sessions", {}, sqlite3.OperationalError("database is locked"))
        return "second time lucky"

    def locked_then_gone():
        calls.append(1)
        if len(calls) == 1:
            raise OperationalError("UPDATE user_sessions", {}, sqlite3.OperationalError("database is locked"))
        raise OperationalError("SELECT 1", {}, driver_refusal())

    for rule, view, methods in (("/_test/bad-query", bad_query, ["GET"]), ("/_test/locked-once", locked_once, ["GET", "POST"]),
                                ("/_test/locked-then-gone", locked_then_gone, ["GET"])):
        view.access_rule = "public"
        app.add_url_rule(rule, view.__name__, view, methods=methods)
    app.config.update(PROPAGATE_EXCEPTIONS=False, WTF_CSRF_ENABLED=False)  # see the 500 page, as in production


def test_a_database_error_that_is_not_an_outage_stays_a_500(app):
    _add_test_views(app, [])
    response = app.test_client().get("/_test/bad-query")
    assert response.status_code == 500
    text = response.get_data(as_text=True)
    assert "Sorry, there is a problem with the service" in text and TITLE not in text
    assert "Retry-After" not in response.headers


@pytest.mark.skipif(USE_PG, reason="SQLite's 'database is locked' retry")
def test_sqlite_still_runs_a_locked_read_once_more_and_a_locked_write_stays_a_500(app):
    calls = []
    _add_test_views(app, calls)
    client = app.test_client()
    response = client.get("/_test/locked-once")
    assert (response.status_code, response.get_data(as_text=True), len(calls)) == (200, "second time lucky", 2)

    calls.clear()
    response = client.post("/_test/locked-once")  # a write is never run twice
    assert (response.status_code, len(calls)) == (500, 1)
    assert TITLE not in response.get_data(as_text=True)

    calls.clear()
    response = client.get("/_test/locked-then-gone")  # run again, and the database had gone meanwhile
    assert len(calls) == 2
    assert_unavailable_page(response)


def test_the_postgresql_engine_pings_before_use():
    app = create_app({"SQLALCHEMY_DATABASE_URI": "postgresql+psycopg://postgres@127.0.0.1:1/none"})
    assert app.config["SQLALCHEMY_ENGINE_OPTIONS"]["pool_pre_ping"] is True
    assert "random_page_cost" in app.config["SQLALCHEMY_ENGINE_OPTIONS"]["connect_args"]["options"]


# PostgreSQL only ---------------------------------------------------------------------------------

pg_only = pytest.mark.skipif(not USE_PG, reason="PostgreSQL only (DATABASE_URL)")


def terminate_connections(app) -> int:
    """What a restart does to the pool: the server ends every connection the app holds (idle ones too)."""
    with app.app_context():
        name = db.engine.url.database
    admin = sa.create_engine(conftest.PG_URL, isolation_level="AUTOCOMMIT")
    try:
        with admin.connect() as conn:
            return len(conn.execute(sa.text(
                "SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE datname = :name AND pid <> pg_backend_pid()"),
                {"name": name}).all())
    finally:
        admin.dispose()


@pg_only
def test_postgresql_dropping_every_connection_is_not_seen_by_the_next_request(app):
    client = app.test_client()
    sign_in(client, "amina@example.org")
    get_page(client, "/home")
    assert terminate_connections(app) >= 1  # the pool was holding at least one
    assert "Signed in as" in get_page(client, "/home").text


@pg_only
def test_without_pre_ping_a_dropped_connection_would_reach_the_person_as_the_unavailable_page(databases):
    # The control for the test above: the same drop with pre-ping off fails the request that draws the
    # dead connection (shown as the 503 page, never a stack trace); the pool then starts afresh.
    app, url = _make_app(databases, "demo", SQLALCHEMY_ENGINE_OPTIONS={"pool_pre_ping": False})
    try:
        client = app.test_client()
        sign_in(client, "amina@example.org")
        get_page(client, "/home")
        assert terminate_connections(app) >= 1
        assert_unavailable_page(client.get("/home"))
        assert "Signed in as" in get_page(client, "/home").text
    finally:
        _close_app(databases, app, url)


# A real restart, on a cluster of the test's own -------------------------------------------------------


def _pg_bin() -> Path:
    return sorted(Path("/usr/lib/postgresql").glob("*/bin"), key=lambda p: [int(x) for x in re.findall(r"\d+", p.parent.name)])[-1]


def _as_postgres(*command: str) -> list[str]:
    # As .ci/postgres.sh does: the cluster belongs to the postgres user when we are root.
    return ["runuser", "-u", "postgres", "--", *command] if os.geteuid() == 0 else list(command)


def pg_ctl(data_dir: str, port: int, action: str) -> None:
    options = ["-o", f"-c listen_addresses=127.0.0.1 -p {port} -k {data_dir} -c fsync=off -c synchronous_commit=off "
                     "-c max_connections=200"] if action in ("start", "restart") else []
    command = _as_postgres(str(_pg_bin() / "pg_ctl"), "-D", data_dir, "-l", f"{data_dir}/log", "-w", "-m", "fast",
                           *options, action)
    subprocess.run(command, cwd="/", check=True, capture_output=True, timeout=60)


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.fixture
def own_cluster(databases):
    """A PostgreSQL of this test's own (the Makefile's .ci/postgres.sh), holding the demo personas."""
    data_dir = tempfile.mkdtemp(prefix="portal-pg-outage-", dir="/tmp")
    port = _free_port()
    script = ROOT / ".ci" / "postgres.sh"
    subprocess.run(["bash", str(script), "start", data_dir, str(port)], check=True, capture_output=True, timeout=120)
    url = f"postgresql+psycopg://postgres@127.0.0.1:{port}/postgres"
    try:
        conftest._migrate(url, "demo")
        app = create_app({"SQLALCHEMY_DATABASE_URI": url, "SERVER_NAME": "localhost",
                          "EVIDENCE_FOLDER": conftest.EVIDENCE_FOLDER})
        yield app, data_dir, port
        with app.app_context():
            db.session.remove()
            db.engine.dispose()
    finally:
        subprocess.run(["bash", str(script), "stop", data_dir, str(port)], capture_output=True, timeout=120)
        subprocess.run(["rm", "-rf", data_dir], check=False)


@pg_only
def test_postgresql_restarted_and_stopped_under_the_portal_which_recovers_without_a_restart(own_cluster):
    app, data_dir, port = own_cluster
    client = app.test_client()
    sign_in(client, "kim@brightpath.example")
    case = re.search(r'href="/people/(\d+)/case"', get_page(client, "/caseload").text).group(1)
    notes_url = f"/people/{case}/notes"
    token = csrf_token(get_page(client, notes_url).text)

    pg_ctl(data_dir, port, "restart")
    assert "Signed in as" in get_page(client, "/caseload").text  # the pool's dead connections replaced unseen

    pg_ctl(data_dir, port, "stop")
    assert_unavailable_page(client.get("/caseload"))
    assert_unavailable_page(client.post(notes_url, data={"csrf_token": token, "body": "Sent while it was down"}))

    pg_ctl(data_dir, port, "start")
    assert "Signed in as" in get_page(client, "/caseload").text
    response = client.post(notes_url, data={"csrf_token": token, "body": "Sent once it was back"})
    assert response.status_code == 302
    with app.app_context():
        bodies = db.session.scalars(sa.select(CaseNote.body).where(CaseNote.recipient_id == int(case))).all()
    assert "Sent while it was down" not in bodies
    assert bodies.count("Sent once it was back") == 1
