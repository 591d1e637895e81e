"""The audit trail: what is recorded, and that the database refuses to change it."""

import pytest
import sqlalchemy as sa
from sqlalchemy.exc import DatabaseError

from portal.extensions import db
from portal.models import AuditEvent
from tests.conftest import DEMO_PASSWORD, csrf_token, get_page, sign_in
from tests.helpers import person_id, user_by_email


def _events(app, action=None):
    with app.app_context():
        query = sa.select(AuditEvent).order_by(AuditEvent.id)
        if action:
            query = query.where(AuditEvent.action == action)
        events = db.session.scalars(query).all()
        db.session.expunge_all()
        return events


def test_the_database_refuses_to_update_or_delete_audit_events(app):
    sign_in(app.test_client(), "amina@example.org")
    with app.app_context():
        assert db.session.scalar(sa.select(sa.func.count()).select_from(AuditEvent)) > 0
        for statement in ("UPDATE audit_events SET action = 'tampered'", "DELETE FROM audit_events"):
            with pytest.raises(DatabaseError):
                db.session.execute(sa.text(statement))
                db.session.flush()
            db.session.rollback()
        assert db.session.scalar(sa.select(sa.func.count()).where(AuditEvent.action == "tampered")) == 0


def test_sign_ins_and_failures_are_recorded_without_secrets(app):
    client = app.test_client()
    page = client.get("/sign-in")
    client.post("/sign-in", data={"csrf_token": csrf_token(page.text), "email": "amina@example.org", "password": "wrong password!!"})
    sign_in(app.test_client(), "amina@example.org")
    amina = user_by_email(app, "amina@example.org")
    failed = _events(app, "sign_in.failed")
    assert failed and failed[-1].record_id == str(amina.id) and failed[-1].address == "127.0.0.1"
    succeeded = _events(app, "sign_in.succeeded")
    assert succeeded[-1].user_id == amina.id and succeeded[-1].role == "recipient"
    assert succeeded[-1].request_id
    with app.app_context():
        rows = db.session.execute(sa.text("SELECT * FROM audit_events")).all()
    flat = " ".join(str(value) for row in rows for value in row)
    assert DEMO_PASSWORD not in flat and "wrong password" not in flat
    assert "amina@example.org" not in flat, "the audit points at records; it holds no personal data"


def test_every_staff_view_of_a_recipient_is_recorded_with_who_and_for_whom(app):
    omar = app.test_client()
    sign_in(omar, "omar@harbour.example")
    grace = person_id(app, "Grace", "Okafor")
    get_page(omar, f"/people/{grace}")
    event = _events(app, "recipient.viewed")[-1]
    assert event.user_id == user_by_email(app, "omar@harbour.example").id
    assert event.role == "dpss_caseworker"
    assert event.acting_for_id == grace and event.record_id == str(grace)


def test_administrators_read_and_filter_the_audit_log(app):
    sign_in(app.test_client(), "amina@example.org")
    admin = app.test_client()
    sign_in(admin, "admin@example.org")
    page = get_page(admin, "/admin/audit?action=sign_in.succeeded")
    cells = [row.find_all("td")[2].get_text(strip=True) for row in page.soup.select("tbody tr")]
    assert cells and all(cell.startswith("sign_in.succeeded") for cell in cells)
    amina = user_by_email(app, "amina@example.org")
    page = get_page(admin, f"/admin/audit?user={amina.id}")
    whos = {row.find_all("td")[1].get_text(strip=True) for row in page.soup.select("tbody tr")}
    assert whos == {f"Account {amina.id} (recipient)"}
