"""SQLite with concurrent writers (issue 8): several people posting at once never see "database is locked".

Six people's sessions add spending with a receipt at the same moment (threads released together by a
barrier, each with its own database connection, as a threaded server's workers have). Every request must
succeed: the busy timeout and the transactions in portal/sqlite.py make a writer wait its turn rather than
fail. Then each entry is there exactly once and the ledger's cached balance equals its entries.
"""

import threading

import pytest
import sqlalchemy as sa

from portal.extensions import db
from portal.models import Evidence, LedgerEntry
from portal.services import ledger
from tests.conftest import USE_PG, csrf_token
from tests import test_evidence
from tests.test_evidence import counts, good_pdf, signed_in, spending_fields

folder, money = test_evidence.folder, test_evidence.money  # the receipt tests' fixtures

WRITERS = 6

pytestmark = pytest.mark.skipif(USE_PG, reason="SQLite's write lock is what is tested")


def test_concurrent_uploads_all_succeed_and_none_sees_database_is_locked(app, money, folder):
    url = f"/people/{money.amina}/spending/new"
    clients = [signed_in(app, "amina") for _ in range(WRITERS)]
    tokens = [csrf_token(client.get(url).text) for client in clients]
    evidence_before, entries_before = counts(app)
    with app.app_context():
        balance_before = ledger.balance(money.amina_account)
    barrier = threading.Barrier(WRITERS)
    results: list = [None] * WRITERS

    def post(n: int) -> None:
        import io

        fields = spending_fields(money, description=f"Concurrent spending {n}", amount=f"{n + 1}.00")
        barrier.wait()
        try:
            response = clients[n].post(url, data={"csrf_token": tokens[n], "receipt": (io.BytesIO(good_pdf()), f"r{n}.pdf"),
                                                  **fields}, content_type="multipart/form-data")
            results[n] = (response.status_code, response.get_data(as_text=True))
        except Exception:  # noqa: BLE001 - a failure in the thread is reported by the test below
            import traceback
            results[n] = (None, traceback.format_exc())

    threads = [threading.Thread(target=post, args=(n,)) for n in range(WRITERS)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=120)

    for status, body in results:
        assert "database is locked" not in body.lower(), body[-4000:]
        assert status == 302, body[:500]
    assert counts(app) == (evidence_before + WRITERS, entries_before + WRITERS)
    with app.app_context():
        descriptions = db.session.scalars(
            sa.select(LedgerEntry.description).join(Evidence, Evidence.entry_id == LedgerEntry.id)
            .where(LedgerEntry.description.like("Concurrent spending %"))
        ).all()
        assert sorted(descriptions) == [f"Concurrent spending {n}" for n in range(WRITERS)]
        # 1.00 + 2.00 + ... + 6.00 = 21.00 spent
        assert ledger.balance(money.amina_account) == balance_before - 2100 == ledger.balance_from_entries(money.amina_account)


def test_writes_without_an_explicit_lock_queue_instead_of_failing(money_app):
    app = money_app
    """Any POST takes SQLite's write lock up front (portal/sqlite.py), not only the views that ask for it:
    six tabs adding a shift to Sophie's draft at once each get an answer (one added, the others told the
    timesheet changed), never "database is locked" or a 500."""
    from datetime import timedelta

    from portal.models import Person, Shift, Timesheet, TimesheetStatus

    with app.app_context():
        sophie = db.session.scalar(sa.select(Person.id).where(Person.given_name == "Sophie", Person.family_name == "Clarke"))
        draft = db.session.scalar(sa.select(Timesheet).where(Timesheet.pa_id == sophie, Timesheet.status == TimesheetStatus.DRAFT))
        ts_id, version, first_day, shifts_before = draft.id, draft.version, draft.period_start, len(draft.shifts)
    url = f"/timesheets/{ts_id}"
    clients = [signed_in(app, "sophie") for _ in range(WRITERS)]
    tokens = [csrf_token(client.get(url).text) for client in clients]
    barrier = threading.Barrier(WRITERS)
    results: list = [None] * WRITERS

    def post(n: int) -> None:
        day = first_day + timedelta(days=n % 7)
        data = {"csrf_token": tokens[n], "version": str(version), "work_date": day.isoformat(), "start_time": "06:00",
                "end_time": "06:30", "break_minutes": "0", "rate_type": "day", "notes": f"tab {n}"}
        barrier.wait()
        try:
            response = clients[n].post(f"{url}/shifts", data=data)
            results[n] = (response.status_code, response.get_data(as_text=True))
        except Exception:  # noqa: BLE001 - reported below
            import traceback
            results[n] = (None, traceback.format_exc())

    threads = [threading.Thread(target=post, args=(n,)) for n in range(WRITERS)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=120)
    for status, body in results:
        assert "database is locked" not in body.lower(), body[-4000:]
        assert status in (200, 302), body[-2000:]
    with app.app_context():
        added = db.session.scalars(sa.select(Shift.notes).where(Shift.timesheet_id == ts_id, Shift.notes.like("tab %"))).all()
        assert len(added) == 1  # one version, one change: the other tabs were told to look again
        assert len(db.session.get(Timesheet, ts_id).shifts) == shifts_before + 1


def test_a_read_whose_small_write_meets_a_stale_snapshot_is_run_again_not_an_error(app):
    """A GET reads, another request commits, then the GET writes (its audit row): SQLite refuses that write
    at once ("database is locked"), and the page is run once more from the start instead of failing."""
    from datetime import UTC, datetime

    from portal.models import AuditEvent

    calls = []
    other = sa.create_engine(app.config["SQLALCHEMY_DATABASE_URI"])

    def page_that_reads_then_writes():
        calls.append(1)
        db.session.scalar(sa.select(sa.func.count()).select_from(AuditEvent))  # the read snapshot starts here
        if len(calls) == 1:
            with other.begin() as conn:  # another request commits in between
                conn.execute(sa.insert(AuditEvent.__table__).values(action="other.request", at=datetime.now(UTC)))
        db.session.add(AuditEvent(action="page.viewed"))
        db.session.commit()
        return "viewed"

    app.add_url_rule("/test-only/reads-then-writes", "reads_then_writes", page_that_reads_then_writes)
    response = app.test_client().get("/test-only/reads-then-writes")
    other.dispose()
    assert (response.status_code, response.get_data(as_text=True), len(calls)) == (200, "viewed", 2)
    with app.app_context():
        actions = db.session.scalars(sa.select(AuditEvent.action).where(AuditEvent.action.in_(["page.viewed", "other.request"]))).all()
    assert sorted(actions) == ["other.request", "page.viewed"]  # the retried page wrote once
