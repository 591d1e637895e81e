"""Configuration, health, demo data, error pages and content."""

import subprocess
import sys

import pytest
import sqlalchemy as sa

from portal import create_app
from portal.config import ProductionConfig
from portal.extensions import db
from portal.models import Person, Role, User
from portal.web import format_pounds
from tests.conftest import get_page, post_form, sign_in


@pytest.mark.parametrize(
    "environment, message",
    [
        ({"DATABASE_URL": "postgresql+psycopg://x@127.0.0.1/x"}, "SECRET_KEY"),
        ({"SECRET_KEY": "dev-only-not-secret", "DATABASE_URL": "postgresql+psycopg://x@127.0.0.1/x"}, "SECRET_KEY"),
        ({"SECRET_KEY": "x" * 40}, "DATABASE_URL"),
        ({"SECRET_KEY": "x" * 40, "DATABASE_URL": "postgresql+psycopg://x@127.0.0.1/x", "VIRUS_SCANNER": "none"}, "VIRUS_SCANNER"),
    ],
)
def test_production_refuses_to_start_without_a_real_secret_key_and_database(monkeypatch, environment, message):
    monkeypatch.delenv("SECRET_KEY", raising=False)
    monkeypatch.delenv("DATABASE_URL", raising=False)
    monkeypatch.delenv("VIRUS_SCANNER", raising=False)
    for key, value in environment.items():
        monkeypatch.setenv(key, value)
    with pytest.raises(RuntimeError, match=message):
        ProductionConfig.check()


def test_create_app_works_with_no_arguments_from_the_environment(tmp_path):
    code = "from portal import create_app; app = create_app(); print(app.config['ENV_NAME'], app.config['SQLALCHEMY_DATABASE_URI'])"
    env = {"PORTAL_ENV": "development", "DATABASE_URL": f"sqlite:///{tmp_path}/x.db", "PATH": "/usr/bin:/bin"}
    out = subprocess.run([sys.executable, "-c", code], env=env, capture_output=True, text=True, check=True)
    assert out.stdout.split() == ["development", f"sqlite:///{tmp_path}/x.db"]


def test_each_app_has_its_own_engine_options(tmp_path):
    """A PostgreSQL app's connection options must not reach the next app's SQLite connections (the default
    options are one dict on the Config class)."""
    postgres = create_app({"SQLALCHEMY_DATABASE_URI": "postgresql+psycopg://nobody@127.0.0.1:1/none", "TESTING": True})
    sqlite = create_app({"SQLALCHEMY_DATABASE_URI": f"sqlite:///{tmp_path}/x.db", "TESTING": True})
    assert postgres.config["SQLALCHEMY_ENGINE_OPTIONS"]["connect_args"]["options"] == \
        "-c random_page_cost=1.1 -c max_parallel_workers_per_gather=0"
    assert postgres.config["SQLALCHEMY_ENGINE_OPTIONS"]["pool_pre_ping"] is True
    assert sqlite.config["SQLALCHEMY_ENGINE_OPTIONS"]["connect_args"] == {"timeout": 15}
    assert "pool_pre_ping" not in sqlite.config["SQLALCHEMY_ENGINE_OPTIONS"]
    with sqlite.app_context():
        assert db.session.execute(sa.text("SELECT 1")).scalar() == 1


def test_production_start_fails_loudly_without_settings():
    env = {"PORTAL_ENV": "production", "PATH": "/usr/bin:/bin"}
    out = subprocess.run([sys.executable, "-c", "from portal import create_app; create_app()"], env=env, capture_output=True, text=True)
    assert out.returncode != 0 and "SECRET_KEY must be set" in out.stderr


def test_healthz_answers_when_the_database_answers(client):
    response = client.get("/healthz")
    assert response.status_code == 200 and response.json == {"status": "ok", "database": "ok"}


def test_sqlite_runs_with_wal_foreign_keys_and_a_busy_timeout(app):
    with app.app_context():
        if db.engine.dialect.name != "sqlite":
            pytest.skip("SQLite settings")
        assert db.session.execute(sa.text("PRAGMA journal_mode")).scalar() == "wal"
        assert db.session.execute(sa.text("PRAGMA foreign_keys")).scalar() == 1
        assert db.session.execute(sa.text("PRAGMA busy_timeout")).scalar() >= 5000


def test_immediate_transaction_takes_the_write_lock_at_begin(app):
    from portal.sqlite import immediate_transaction

    with app.app_context():
        if db.engine.dialect.name != "sqlite":
            pytest.skip("BEGIN IMMEDIATE is SQLite's")
        with immediate_transaction() as session:
            # Another connection cannot start a write while we hold the lock.
            other = sa.create_engine(db.engine.url, connect_args={"timeout": 0.1})
            with other.connect() as conn, pytest.raises(sa.exc.OperationalError, match="locked"):
                conn.exec_driver_sql("BEGIN IMMEDIATE")
            other.dispose()
            session.execute(sa.text("SELECT 1"))


def test_demo_data_creates_the_personas_exactly(app):
    expected = {
        "amina@example.org": ("Amina Patel", Role.RECIPIENT),
        "grace@example.org": ("Grace Okafor", Role.RECIPIENT),
        "david@example.org": ("David Okafor", Role.REPRESENTATIVE),
        "tom@example.org": ("Tom Hughes", Role.RECIPIENT),
        "sophie.pa@example.org": ("Sophie Clarke", Role.PA),
        "jay.pa@example.org": ("Jay Singh", Role.PA),
        "ellen@example.org": ("Ellen Marsh", Role.RECIPIENT),
        "kim@brightpath.example": ("Kim Bell", Role.DPSS_CASEWORKER),
        "lee@brightpath.example": ("Lee Adams", Role.DPSS_MANAGER),
        "omar@harbour.example": ("Omar Farah", Role.DPSS_CASEWORKER),
        "rachel@northfield.example": ("Rachel Moss", Role.COUNCIL_OFFICER),
        "admin@example.org": ("Site Admin", Role.ADMINISTRATOR),
    }
    with app.app_context():
        users = {u.email: (u.display_name, u.role) for u in db.session.scalars(sa.select(User))}
        assert users == expected
        payroll = set(db.session.scalars(sa.select(User.email).where(User.payroll_permission)))
        assert payroll == {"kim@brightpath.example", "omar@harbour.example"}
        names = {tuple(row) for row in db.session.execute(sa.select(Person.given_name, Person.family_name))}
        assert {("Sam", "Okafor"), ("Joan", "Price"), ("Leon", "Baptiste")} <= names


def test_demo_data_refuses_to_run_in_production(tmp_path):
    env = {"PORTAL_ENV": "production", "SECRET_KEY": "y" * 40, "DATABASE_URL": f"sqlite:///{tmp_path}/p.db", "PATH": "/usr/bin:/bin"}
    out = subprocess.run([sys.executable, "-m", "flask", "--app", "portal", "demo-data"], env=env, capture_output=True, text=True)
    assert out.returncode != 0 and "never loaded in production" in out.stderr


def test_scale_generator_is_deterministic_and_spread_over_councils(app):
    from portal.models import CaseloadEntry, Recipient
    from portal.services import demo

    with app.app_context():
        before = db.session.scalar(sa.select(sa.func.max(Person.id)))
        demo.generate(40, seed=7)
        first = db.session.execute(sa.select(Person.given_name, Person.family_name).order_by(Person.id.desc()).limit(40)).all()
        councils = db.session.scalar(sa.select(sa.func.count(sa.distinct(Recipient.council_id))))
        assert councils == 2
        assert db.session.scalar(sa.select(sa.func.count()).select_from(CaseloadEntry)) == 45
        # Too few for providers of 2,000 to 5,000: Brightpath a quarter, Harbour the rest, no one new.
        per_provider = dict(db.session.execute(sa.select(CaseloadEntry.provider_id, sa.func.count()).group_by(CaseloadEntry.provider_id)).all())
        assert sorted(per_provider.values()) == [11, 34]
        assert db.session.scalar(sa.select(sa.func.count()).select_from(User).where(User.email.like("%caseworker%"))) == 0
    app2 = create_app({"SQLALCHEMY_DATABASE_URI": app.config["SQLALCHEMY_DATABASE_URI"]})
    with app2.app_context():
        # Remove what the generator made (the demo's own people, register profiles included, stay).
        db.session.execute(sa.text("DELETE FROM case_setups WHERE recipient_id > :before"), {"before": before})
        db.session.execute(sa.text("DELETE FROM caseload_entries WHERE recipient_id > :before"), {"before": before})
        db.session.execute(sa.text("DELETE FROM recipients WHERE person_id > :before"), {"before": before})
        db.session.execute(sa.text("DELETE FROM people WHERE id > :before"), {"before": before})
        db.session.commit()
        demo.generate(40, seed=7)
        again = db.session.execute(sa.select(Person.given_name, Person.family_name).order_by(Person.id.desc()).limit(40)).all()
        db.session.remove()
        db.engine.dispose()
    assert first == again


@pytest.mark.parametrize("pence, text", [(0, "£0.00"), (5, "£0.05"), (123456, "£1,234.56"), (-1999, "-£19.99")])
def test_money_is_formatted_from_integer_pence(pence, text):
    assert format_pounds(pence) == text


def test_not_found_page_is_in_the_portals_design(client):
    page = get_page(client, "/no-such-page", status=404)
    assert page.soup.h1.get_text(strip=True) == "Page not found"
    assert page.soup.find("a", href="/")


def test_too_large_a_request_gets_the_413_page(client):
    response = client.post("/sign-in", data={"email": "x" * (13 * 1024 * 1024)})
    assert response.status_code == 413
    assert "The file is too large" in response.text


def test_server_errors_get_the_500_page(app):
    app.config["PROPAGATE_EXCEPTIONS"] = False

    @app.get("/boom-for-test")
    def boom():  # pragma: no cover - the view only raises
        raise RuntimeError("boom")

    boom.access_rule = "public"
    response = app.test_client().get("/boom-for-test")
    assert response.status_code == 500
    assert "Sorry, there is a problem with the service" in response.text


def test_information_pages_cover_the_three_stages(client):
    page = get_page(client, "/information")
    titles = [a.get_text(strip=True) for a in page.soup.select("main h2 a")]
    assert {"Choosing a direct payment", "Setting up your direct payment", "Managing your direct payment"} <= set(titles)
    for link in page.soup.select("main h2 a"):
        get_page(client, link["href"])
    get_page(client, "/accessibility")
    get_page(client, "/privacy")


def test_an_administrator_edits_an_information_page_and_people_see_it(app):
    admin = app.test_client()
    sign_in(admin, "admin@example.org")
    response = post_form(admin, "/admin/content/money-left-over", {
        "title": "Money left over", "summary": "What happens to money you do not use.",
        "body": "## What happens next\n\nYour support worker will call you.\n\n- first point\n- <script>alert(1)</script>",
    })
    assert response.status_code == 302
    page = get_page(app.test_client(), "/information/money-left-over")
    assert page.soup.find("h2", string="What happens next")
    assert [li.get_text() for li in page.soup.select("main ul.govuk-list--bullet li")] == ["first point", "<script>alert(1)</script>"]
    assert "<script>alert(1)</script>" not in page.text, "page text is escaped, never raw HTML"


def test_empty_content_is_refused_with_a_message(app):
    admin = app.test_client()
    sign_in(admin, "admin@example.org")
    response = post_form(admin, "/admin/content/privacy", {"title": "", "summary": "", "body": ""})
    assert "Enter a title" in response.text and "Enter the page text" in response.text


def test_admin_adds_an_organisation_and_refuses_a_duplicate(app):
    admin = app.test_client()
    sign_in(admin, "admin@example.org")
    assert post_form(admin, "/admin/organisations/new", {"name": "Westvale DPSS", "kind": "dpss"}).status_code == 302
    assert "Westvale DPSS" in get_page(admin, "/admin/organisations").text
    again = post_form(admin, "/admin/organisations/new", {"name": "Westvale DPSS", "kind": "dpss"})
    assert "already an organisation" in again.text


def test_home_pages_are_real_hubs(app):
    amina = app.test_client()
    sign_in(amina, "amina@example.org")
    text = get_page(amina, "/home").text
    assert "Amina Patel" in text and "Kim Bell" in text and "Brightpath Support" in text and "Northfield City Council" in text
    kim = app.test_client()
    sign_in(kim, "kim@brightpath.example")
    assert get_page(kim, "/home").soup.find(attrs={"data-caseload-count": True}).get_text() == "3"
    sophie = app.test_client()
    sign_in(sophie, "sophie.pa@example.org")
    assert "Amina Patel" in get_page(sophie, "/home").text


def test_postgresql_connections_cost_random_reads_as_on_ssd_and_start_no_parallel_workers(app):
    """The queues' indexes are chosen over parallel scans only with a low random_page_cost, and a web request
    starts no parallel workers (see portal/__init__.py)."""
    with app.app_context():
        if db.engine.dialect.name != "postgresql":
            pytest.skip("PostgreSQL only")
        assert db.session.scalar(sa.text("SHOW random_page_cost")) == "1.1"
        assert db.session.scalar(sa.text("SHOW max_parallel_workers_per_gather")) == "0"
