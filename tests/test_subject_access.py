"""Subject access: a person's download is complete (every row about them) and holds no one else's data."""

import csv
import io
import json
import zipfile

import pytest
import sqlalchemy as sa

from portal.extensions import db
from portal.models import AuditEvent, Evidence, Person, Recipient, User
from portal.services import personal_data
from portal.services.subject_access import person_columns
from portal.storage import Storage
from tests.conftest import csrf_token, get_page, sign_in

AMINA = "amina@example.org"


def _ids(app, email):
    """(person id, user id) for a demo login."""
    with app.app_context():
        user = db.session.scalar(sa.select(User).where(User.email == email))
        return user.person_id, user.id


def _person_id(app, given, family):
    with app.app_context():
        return db.session.scalar(sa.select(Person.id).where(Person.given_name == given, Person.family_name == family))


def _download(client, page_url, zip_url):
    page = get_page(client, page_url)
    form = page.soup.find("form", {"action": zip_url})
    assert form is not None and form["method"] == "post"
    response = client.post(zip_url, data={"csrf_token": csrf_token(page.text)})
    assert response.status_code == 200, response.status_code
    assert response.mimetype == "application/zip"
    assert "attachment" in response.headers["Content-Disposition"]
    return zipfile.ZipFile(io.BytesIO(response.data))


def _tables(archive) -> dict[str, list[dict]]:
    return {name[:-5]: json.loads(archive.read(name)) for name in archive.namelist() if name.endswith(".json")}


def _closure(app, person_id: int) -> dict[str, set]:
    """Every row pointing at the person, their account, or (by any foreign key) a row already found:
    worked from the schema alone, not from the register, so a row the register misses shows here."""
    with app.app_context():
        tables = {t.name: t for t in db.metadata.sorted_tables}
        found: dict[str, set] = {name: set() for name in tables}
        # keys[name] = values of each referenced column of the rows found, for the children to match
        def pk(table, row):
            return tuple(row[c.name] for c in table.primary_key.columns)

        def add(table, condition):
            new = False
            for row in db.session.execute(sa.select(table).where(condition)).mappings():
                key = pk(table, row)
                if key not in found[table.name]:
                    found[table.name].add(key)
                    rows[table.name].append(dict(row))
                    new = True
            return new

        rows = {name: [] for name in tables}
        add(tables["people"], tables["people"].c.id == person_id)
        add(tables["audit_events"], tables["audit_events"].c.acting_for_id == person_id)
        changed = True
        while changed:
            changed = False
            for table in tables.values():
                for column in table.columns:
                    for key in column.foreign_keys:
                        parent = key.column.table.name
                        values = {r[key.column.name] for r in rows[parent]} - {None}
                        if values and add(table, column.in_(sorted(values))):
                            changed = True
        return {name: keys for name, keys in found.items() if keys}


def test_amina_download_is_complete(money_app):
    person_id, _ = _ids(money_app, AMINA)
    expected = _closure(money_app, person_id)
    # The demo gives her a year of money, timesheets and payslips: the walk must find them.
    assert {"recipients", "ledger_entries", "evidence", "timesheets", "payslips", "employments"} <= set(expected)
    client = money_app.test_client()
    sign_in(client, AMINA)
    archive = _download(client, f"/people/{person_id}/your-data", f"/people/{person_id}/your-data.zip")
    tables = _tables(archive)
    with money_app.app_context():
        metadata = db.metadata.tables
        for name, keys in expected.items():
            assert name in tables, f"{name} has rows about her but is not in the download"
            table = metadata[name]
            got = {tuple(row[c.name] for c in table.primary_key.columns) for row in tables[name]}
            assert keys <= got, f"{name}: rows about her missing from the download: {sorted(keys - got)[:5]}"
        # Every table in the download is a personal-data table, in both formats, described in the README.
        readme = archive.read("README.txt").decode()
        for name, rows in tables.items():
            assert personal_data.entry(name).holds_personal_data
            assert f"{name}.json and {name}.csv" in readme
            with archive.open(f"{name}.csv") as handle:
                assert len(list(csv.DictReader(io.TextIOWrapper(handle, "utf-8")))) == len(rows)


def test_amina_download_names_no_one_else(money_app):
    amina, amina_user = _ids(money_app, AMINA)
    grace, grace_user = _ids(money_app, "grace@example.org")
    tom, tom_user = _ids(money_app, "tom@example.org")
    sophie, sophie_user = _ids(money_app, "sophie.pa@example.org")
    client = money_app.test_client()
    sign_in(client, AMINA)
    archive = _download(client, f"/people/{amina}/your-data", f"/people/{amina}/your-data.zip")
    tables = _tables(archive)
    text = "\n".join(archive.read(n).decode() for n in archive.namelist() if not n.startswith("files/"))
    # (Her own PA, Sophie, may be named in messages sent to Amina as her employer; no other person may.)
    for name in ("Okafor", "Hughes", "Grace", "Ellen Marsh", "Jay Singh"):
        assert name not in text, f"{name} appears in Amina's download"
    with money_app.app_context():
        sophie_employment = db.session.execute(sa.text(
            "SELECT ni_number, pa_date_of_birth FROM employments WHERE pa_id = :p"), {"p": sophie}).first()
        metadata = db.metadata.tables
        for name, rows in tables.items():
            columns = person_columns(metadata[name])
            for row in rows:
                for column, kind in columns.items():
                    value = row[column]
                    own = amina_user if kind == "users" else amina
                    # Her own id, nothing, or a withheld marker: never another person's id.
                    assert value is None or value == own or (isinstance(value, str) and value.startswith("[")), \
                        f"{name}.{column} = {value!r} names someone else"
    assert sophie_employment is not None and sophie_employment.ni_number
    assert sophie_employment.ni_number not in text  # Sophie's NI number stays out of her employer's copy
    employment = next(r for r in tables["employments"] if r["employer_id"] == amina and r["ni_number"] is not None)
    assert employment["ni_number"] == "[withheld: about someone else]"
    assert employment["pa_id"] == "[withheld: another person]"
    # Her own sign-in secrets are never in it either.
    (user_row,) = tables["users"]
    assert "password_hash" not in user_row and "totp_secret" not in user_row


def test_amina_download_holds_her_receipts(money_app):
    amina, _ = _ids(money_app, AMINA)
    with money_app.app_context():
        stored = list(db.session.scalars(sa.text(
            "SELECT e.storage_name FROM evidence e JOIN ledger_entries l ON l.id = e.entry_id "
            "JOIN dp_accounts a ON a.id = l.account_id WHERE a.recipient_id = :p"), {"p": amina}))
        others = set(db.session.scalars(sa.select(Evidence.storage_name))) - set(stored)
        storage = Storage.from_config()
        originals = {name: storage.path(name).read_bytes() for name in stored}
    assert stored, "the demo gives Amina receipts"
    client = money_app.test_client()
    sign_in(client, AMINA)
    archive = _download(client, f"/people/{amina}/your-data", f"/people/{amina}/your-data.zip")
    files = {n.removeprefix("files/") for n in archive.namelist() if n.startswith("files/")}
    assert set(stored) <= files
    assert not files & others, "someone else's receipt is in her download"
    for name, data in originals.items():
        assert archive.read(f"files/{name}") == data


def test_a_pa_downloads_their_own_without_the_employers_health_details(money_app):
    sophie, sophie_user = _ids(money_app, "sophie.pa@example.org")
    amina, _ = _ids(money_app, AMINA)
    with money_app.app_context():
        recipient = db.session.get(Recipient, amina)
        reason, born = recipient.support_reason, recipient.date_of_birth
        plan_words = [o for o in db.session.scalars(sa.text("SELECT outcomes FROM support_plans WHERE recipient_id = :p"), {"p": amina}) if o]
        ni = db.session.scalar(sa.text("SELECT ni_number FROM employments WHERE pa_id = :p"), {"p": sophie})
    client = money_app.test_client()
    sign_in(client, "sophie.pa@example.org")
    archive = _download(client, "/account/your-data", "/account/your-data.zip")
    tables = _tables(archive)
    text = "\n".join(archive.read(n).decode() for n in archive.namelist() if not n.startswith("files/"))
    assert {"people", "users", "pa_profiles", "employments", "timesheets", "payslips"} <= set(tables)
    for health in ("recipients", "support_plans", "support_lines", "case_notes", "care_reviews", "safeguarding_concerns",
                   "ledger_entries", "budgets", "dp_accounts", "vacancies"):
        assert health not in tables, f"{health} is in the PA's download"
    assert f'"{born.isoformat()}"' not in text
    assert "Patel" not in text and "Amina" not in text
    for words in plan_words:
        assert words not in text
    assert str(getattr(reason, "value", reason)) not in {v for rows in tables.values() for r in rows for v in r.values() if isinstance(v, str)}
    # Her own private details are in her own copy.
    assert any(r["ni_number"] == ni for r in tables["employments"])
    assert all(r["employer_id"] in (None, "[withheld: another person]") for r in tables["employments"])
    assert all(r["pa_id"] == sophie for r in tables["payslips"])
    assert all(r["net_pence"] != "[withheld: about someone else]" for r in tables["payslips"])


def test_every_download_is_audited(money_app):
    amina, _ = _ids(money_app, AMINA)
    kim, kim_user = _ids(money_app, "kim@brightpath.example")
    client = money_app.test_client()
    sign_in(client, "kim@brightpath.example")
    _download(client, f"/people/{amina}/your-data", f"/people/{amina}/your-data.zip")
    with money_app.app_context():
        events = list(db.session.scalars(sa.select(AuditEvent).where(AuditEvent.action == "personal_data.exported")))
    assert [(e.user_id, e.acting_for_id, e.record_id) for e in events] == [(kim_user, amina, str(amina))]
    # The staff member's copy is the person's: the same tables as her own.
    sophie, sophie_user = _ids(money_app, "sophie.pa@example.org")
    pa = money_app.test_client()
    sign_in(pa, "sophie.pa@example.org")
    _download(pa, "/account/your-data", "/account/your-data.zip")
    with money_app.app_context():
        events = list(db.session.scalars(sa.select(AuditEvent).where(AuditEvent.action == "personal_data.exported").order_by(AuditEvent.id)))
    assert [(e.user_id, e.acting_for_id) for e in events] == [(kim_user, amina), (sophie_user, sophie)]


def test_a_manage_level_representative_downloads_for_the_person_they_act_for(money_app):
    grace, _ = _ids(money_app, "grace@example.org")
    sam = _person_id(money_app, "Sam", "Okafor")
    client = money_app.test_client()
    sign_in(client, "david@example.org")
    tables = _tables(_download(client, f"/people/{grace}/your-data", f"/people/{grace}/your-data.zip"))
    assert [r["id"] for r in tables["people"]] == [grace]
    # View-level authority (Sam) is not enough.
    get_page(client, f"/people/{sam}/your-data", 404)
    page = get_page(client, f"/people/{grace}/your-data")
    assert client.post(f"/people/{sam}/your-data.zip", data={"csrf_token": csrf_token(page.text)}).status_code == 404


@pytest.mark.parametrize("email, whose, status", [
    ("kim@brightpath.example", "amina@example.org", 200),
    ("kim@brightpath.example", "grace@example.org", 404),
    ("rachel@northfield.example", "amina@example.org", 200),
    ("rachel@northfield.example", "ellen@example.org", 404),
    ("amina@example.org", "grace@example.org", 404),
    ("admin@example.org", "amina@example.org", 403),
    ("sophie.pa@example.org", "amina@example.org", 403),
])
def test_who_may_download_for_a_recipient(app, email, whose, status):
    person_id, _ = _ids(app, whose)
    client = app.test_client()
    sign_in(client, email)
    get_page(client, f"/people/{person_id}/your-data", status)
    token = csrf_token(client.get("/account/password").text)
    response = client.post(f"/people/{person_id}/your-data.zip", data={"csrf_token": token})
    assert response.status_code == status


def test_the_download_needs_a_post_with_its_csrf_token(app):
    app.config["WTF_CSRF_ENABLED"] = True
    amina, _ = _ids(app, AMINA)
    client = app.test_client()
    sign_in(client, AMINA)
    assert client.get(f"/people/{amina}/your-data.zip").status_code == 405
    assert client.post(f"/people/{amina}/your-data.zip", data={}).status_code == 400
    with app.app_context():
        assert db.session.scalar(sa.select(sa.func.count()).select_from(AuditEvent).where(AuditEvent.action == "personal_data.exported")) == 0


def test_staff_and_anonymous_have_no_own_download(app):
    client = app.test_client()
    assert client.get("/account/your-data").status_code == 302
    sign_in(client, "kim@brightpath.example")
    assert client.get("/account/your-data").status_code == 403


@pytest.mark.parametrize(("email", "whose", "linked"), [
    ("amina@example.org", "Amina Patel", True),       # her own
    ("david@example.org", "Grace Okafor", True),      # manage-level representative
    ("david@example.org", "Sam Okafor", False),       # view-level: the page would be refused
    ("kim@brightpath.example", "Tom Hughes", True),   # staff who can see him
    ("rachel@northfield.example", "Amina Patel", True),
])
def test_the_person_page_links_to_the_download_only_for_those_it_lets_in(app, email, whose, linked):
    from tests.conftest import get_page, sign_in
    from tests.helpers import person_id

    given, family = whose.split()
    person = person_id(app, given, family)
    client = app.test_client()
    sign_in(client, email)
    link = get_page(client, f"/people/{person}").soup.find("a", attrs={"data-your-data": True})
    assert (link is not None) == linked
    if linked:
        assert client.get(link["href"]).status_code == 200


@pytest.mark.parametrize(("email", "linked"), [("sophie.pa@example.org", True), ("amina@example.org", True),
                                               ("kim@brightpath.example", False), ("admin@example.org", False)])
def test_the_account_page_links_to_your_own_download_unless_you_are_staff(app, email, linked):
    from tests.conftest import get_page, sign_in

    client = app.test_client()
    sign_in(client, email)
    link = get_page(client, "/account").soup.find("a", attrs={"data-your-data": True})
    assert (link is not None) == linked
    if linked:
        assert link["href"] == "/account/your-data" and client.get(link["href"]).status_code == 200
