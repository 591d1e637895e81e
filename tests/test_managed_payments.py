"""Managed accounts: payments out (PA wages against approved timesheets, invoices with the invoice attached,
other payments), contributions in, two people above the organisation's limit, exactly once, and who sees what.

Brightpath holds Tom's and Sam's money (Kim is their caseworker, Lee the manager); its limit is £1,000.00.
Tom's account holds £1,081.50 in the demo; Leon (Tom's PA) has weekly timesheets, all approved and paid but
the newest, which waits for Kim's approval. The concurrency test runs on SQLite and, under
`make test-postgres`, on PostgreSQL with separate connections.
"""

import io
import threading
from datetime import timedelta

import pytest
import sqlalchemy as sa
from bs4 import BeautifulSoup

from portal.extensions import db
from portal.models import (
    AuditEvent,
    Category,
    ContributionMethod,
    DPAccount,
    EntryKind,
    EntrySource,
    ExpectedItem,
    ExpectedKind,
    ExpectedStatus,
    LedgerEntry,
    ManagedPayment,
    ManagedPaymentKind,
    ManagedPaymentStatus,
    Notification,
    Organisation,
    Role,
    Timesheet,
    TimesheetStatus,
    User,
)
from portal.services import ledger, timesheets
from portal.services import managed_payments as service
from portal.services import work_queues
from portal.services.clock import london_today
from portal.sqlite import immediate_transaction
from portal.storage import Storage
from tests.conftest import csrf_token, get_page, sign_in
from tests.helpers import person_id

KIM, LEE, OMAR, RACHEL = "kim@brightpath.example", "lee@brightpath.example", "omar@harbour.example", "rachel@northfield.example"
TOM, DAVID, AMINA, ADMIN = "tom@example.org", "david@example.org", "amina@example.org", "admin@example.org"
LIMIT = 100_000


# Helpers ------------------------------------------------------------------------------------------


def _user(email: str) -> User:
    return db.session.scalar(sa.select(User).where(User.email == email))


def _account(pid: int) -> DPAccount:
    return service.managed_account(pid)


_keys = iter(range(1, 10_000))


def _other(amount: int, **overrides) -> service.NewPayment:
    values = dict(kind=ManagedPaymentKind.OTHER, amount_pence=amount, pay_on=london_today(), request_key=f"test-{next(_keys)}",
                  payee="Greenfingers Garden Centre", description="Gardening club supplies", category=Category.SOCIAL_ACTIVITIES)
    values.update(overrides)
    return service.NewPayment(**values)


def _record(pid: int, new: service.NewPayment, email: str = KIM, invoice=None) -> ManagedPayment:
    return service.record(_account(pid), _user(email), new, invoice)


def _count() -> int:
    """How many payments there are (the demo may have recorded some before the test)."""
    return db.session.scalar(sa.select(sa.func.count()).select_from(ManagedPayment))


def _entries(payment_id: int) -> list[LedgerEntry]:
    return list(db.session.scalars(sa.select(LedgerEntry).where(LedgerEntry.payment_key == f"managed-payment:{payment_id}")))


def _signed_in(app, email: str):
    client = app.test_client()
    sign_in(client, email)
    return client


_PDFS: dict[str, bytes] = {}


def _pdf(words: str = "Invoice") -> bytes:
    """A small, clean PDF invoice (made once per wording: pikepdf gives each one a new document id)."""
    from portal.services.demo_managed_payments import invoice_pdf

    if words not in _PDFS:
        _PDFS[words] = invoice_pdf("Northfield Day Centre", words, london_today(), 120_000)
    return _PDFS[words]


def _main_text(html: str) -> str:
    return " ".join(BeautifulSoup(html, "html.parser").select_one("main").get_text(" ").split())


def _date(day) -> list[str]:
    return [str(day.day), str(day.month), str(day.year)]


def _leon_timesheets(tom: int) -> tuple[Timesheet, Timesheet]:
    """(the newest paid timesheet, the one waiting for approval)."""
    paid = db.session.scalar(sa.select(Timesheet).where(Timesheet.employer_id == tom, Timesheet.status == TimesheetStatus.APPROVED)
                             .order_by(Timesheet.period_start.desc()).limit(1))
    waiting = db.session.scalar(sa.select(Timesheet).where(Timesheet.employer_id == tom, Timesheet.status == TimesheetStatus.SUBMITTED))
    return paid, waiting


# The limit: one person at or under it, two above it ------------------------------------------------------


def test_the_limit_is_a_pure_rule():
    assert service.needs_second_person(LIMIT, LIMIT) is False
    assert service.needs_second_person(LIMIT + 1, LIMIT) is True
    assert service.needs_second_person(1, 0) is True


def test_a_payment_equal_to_the_limit_is_paid_when_recorded(money_app):
    tom = person_id(money_app, "Tom", "Hughes")
    with money_app.app_context():
        account = _account(tom)
        assert db.session.get(Organisation, account.managed_by_id).payment_approval_limit_pence == LIMIT
        balance = ledger.balance(account.id)
        payment = _record(tom, _other(LIMIT))
        assert payment.status == ManagedPaymentStatus.PAID and not payment.needs_approval
        assert payment.approved_by_id is None and payment.approval_limit_pence == LIMIT
        [entry] = _entries(payment.id)
        assert (entry.kind, entry.amount_pence, entry.source, entry.entry_date) == (
            EntryKind.SPEND, -LIMIT, EntrySource.MANAGED_PAYMENT, london_today())
        assert payment.entry_id == entry.id and payment.paid_on == london_today()
        assert ledger.balance(account.id) == balance - LIMIT == ledger.balance_from_entries(account.id)
        assert not entry.state.needs_evidence, "the DPSS's own payments need no receipt"


def test_a_penny_over_the_limit_waits_for_a_second_person(money_app):
    tom = person_id(money_app, "Tom", "Hughes")
    with money_app.app_context():
        account = _account(tom)
        balance = ledger.balance(account.id)
        payment = _record(tom, _other(LIMIT + 1))
        assert payment.status == ManagedPaymentStatus.RECORDED and payment.needs_approval
        assert _entries(payment.id) == [] and ledger.balance(account.id) == balance
        # The people who can approve it are told; Kim, who recorded it, is not asked.
        told = db.session.scalars(sa.select(Notification.user_id).where(Notification.key == f"managed-payment:{payment.id}:waiting")).all()
        assert told == [_user(LEE).id]


def test_the_limit_is_the_organisations_and_a_change_applies_to_new_payments(money_app):
    tom = person_id(money_app, "Tom", "Hughes")
    with money_app.app_context():
        brightpath = db.session.get(Organisation, _account(tom).managed_by_id)
        before = _record(tom, _other(60_000 + 1, payee="Sunrise Care"), email=KIM)
        assert before.status == ManagedPaymentStatus.PAID, "under the £1,000 limit when recorded"
        service.set_limit(brightpath, _user(LEE), 50_000)
        db.session.commit()
        payment = _record(tom, _other(50_001))
        assert payment.needs_approval and payment.approval_limit_pence == 50_000
        for email in (KIM, OMAR, RACHEL, TOM):
            with pytest.raises(service.NotAllowed):
                service.set_limit(brightpath, _user(email), 1)
        harbour = db.session.scalar(sa.select(Organisation).where(Organisation.name == "Harbour DPSS"))
        with pytest.raises(service.NotAllowed):
            service.set_limit(harbour, _user(LEE), 1)
        service.set_limit(harbour, _user(ADMIN), 25_000)
        with pytest.raises(service.PaymentError, match="between £0.00 and"):
            service.set_limit(brightpath, _user(LEE), -1)


# Two people: one records, another approves --------------------------------------------------------------------


def test_the_recorder_cannot_approve_their_own_payment_and_a_colleague_can(money_app):
    tom = person_id(money_app, "Tom", "Hughes")
    with money_app.app_context():
        account = _account(tom)
        balance = ledger.balance(account.id)
        payment = _record(tom, _other(LIMIT + 500))
        with pytest.raises(service.NotAllowed, match="You recorded this payment"):
            service.approve(payment, _user(KIM), payment.version)
        db.session.rollback()
        for email in (OMAR, RACHEL, TOM):
            with pytest.raises(service.NotAllowed):
                service.approve(db.session.get(ManagedPayment, payment.id), _user(email), payment.version)
            db.session.rollback()
        assert _entries(payment.id) == []
        payment = db.session.get(ManagedPayment, payment.id)
        entry = service.approve(payment, _user(LEE), payment.version)
        db.session.commit()
        payment = db.session.get(ManagedPayment, payment.id)
        assert payment.status == ManagedPaymentStatus.PAID and payment.approved_by_id == _user(LEE).id
        assert payment.entry_id == entry.id and entry.amount_pence == -(LIMIT + 500)
        assert ledger.balance(account.id) == balance - LIMIT - 500
        [told] = db.session.scalars(sa.select(Notification).where(Notification.user_id == _user(KIM).id,
                                                                  Notification.key == f"managed-payment:{payment.id}:approved"))
        assert told.message.startswith("Lee ") and "It has been paid." in told.message


def test_a_payment_recorded_by_the_manager_is_approved_by_the_caseworker(money_app):
    tom = person_id(money_app, "Tom", "Hughes")
    with money_app.app_context():
        payment = _record(tom, _other(LIMIT + 1), email=LEE)
        told = db.session.scalars(sa.select(Notification.user_id).where(Notification.key == f"managed-payment:{payment.id}:waiting")).all()
        assert told == [_user(KIM).id]
        service.approve(payment, _user(KIM), payment.version)
        db.session.commit()
        assert db.session.get(ManagedPayment, payment.id).status == ManagedPaymentStatus.PAID


def test_money_never_leaves_an_account_that_does_not_hold_it(money_app):
    tom = person_id(money_app, "Tom", "Hughes")
    with money_app.app_context():
        account = _account(tom)
        balance = ledger.balance(account.id)
        service.set_limit(db.session.get(Organisation, account.managed_by_id), _user(LEE), balance + 100)
        db.session.commit()
        with pytest.raises(service.PaymentError, match="The account holds"):
            _record(tom, _other(balance + 1))
        db.session.rollback()
        assert ledger.balance(account.id) == balance
        service.set_limit(db.session.get(Organisation, account.managed_by_id), _user(LEE), LIMIT)
        db.session.commit()
        payment = _record(tom, _other(balance + 1))
        assert payment.status == ManagedPaymentStatus.RECORDED, "a bill bigger than the balance can wait as money owed"
        with pytest.raises(service.PaymentError, match="The account holds"):
            service.approve(payment, _user(LEE), payment.version)
        db.session.rollback()
        assert db.session.get(ManagedPayment, payment.id).status == ManagedPaymentStatus.RECORDED


# Exactly once ----------------------------------------------------------------------------------------------------


def test_approving_twice_pays_once(money_app):
    tom = person_id(money_app, "Tom", "Hughes")
    with money_app.app_context():
        account = _account(tom)
        balance = ledger.balance(account.id)
        payment = _record(tom, _other(LIMIT + 100))
        version = payment.version
        lee = _user(LEE)
        service.approve(payment, lee, version)
        db.session.commit()
        for again in (version, db.session.get(ManagedPayment, payment.id).version):
            with pytest.raises(service.AlreadyPaid):
                service.approve(db.session.get(ManagedPayment, payment.id), lee, again)
            db.session.rollback()
        # A stale copy loaded before the approval cannot get past the claim either.
        stale = db.session.get(ManagedPayment, payment.id)
        assert stale.account is not None
        db.session.expunge(stale)
        stale.status, stale.version = ManagedPaymentStatus.RECORDED, version
        with pytest.raises(service.AlreadyPaid):
            service.approve(stale, lee, version)
        db.session.rollback()
        assert len(_entries(payment.id)) == 1
        assert ledger.balance(account.id) == balance - LIMIT - 100


def test_a_retry_after_the_entry_was_posted_reuses_it(money_app):
    tom = person_id(money_app, "Tom", "Hughes")
    with money_app.app_context():
        account = _account(tom)
        payment = _record(tom, _other(LIMIT + 200))
        first = ledger.post(account_id=account.id, kind=EntryKind.SPEND, amount_pence=-(LIMIT + 200), entry_date=london_today(),
                            source=EntrySource.MANAGED_PAYMENT, payment_key=f"managed-payment:{payment.id}")
        db.session.commit()
        balance = ledger.balance(account.id)
        entry = service.approve(db.session.get(ManagedPayment, payment.id), _user(LEE), payment.version)
        db.session.commit()
        assert entry.id == first.id and [e.id for e in _entries(payment.id)] == [first.id]
        assert ledger.balance(account.id) == balance


def test_two_approvers_at_once_pay_once(money_app):
    """Two requests, each with its own session and connection, approve the same version together."""
    tom = person_id(money_app, "Tom", "Hughes")
    with money_app.app_context():
        account = _account(tom)
        payment = _record(tom, _other(LIMIT + 300))
        payment_id, version = payment.id, payment.version
        balance = ledger.balance(account.id)
        second = User(email="lena@brightpath.example", display_name="Lena Shah", role=Role.DPSS_MANAGER,
                      organisation_id=account.managed_by_id)
        db.session.add(second)
        db.session.commit()
    barrier = threading.Barrier(2, timeout=30)
    outcomes: list[str] = []

    def approve(email: str):
        with money_app.app_context():
            try:
                payment = db.session.get(ManagedPayment, payment_id)
                user = _user(email)
                assert payment.status == ManagedPaymentStatus.RECORDED and payment.account is not None
                barrier.wait()
                with immediate_transaction():
                    service.approve(payment, user, version)
                outcomes.append("approved")
            except service.AlreadyPaid:
                outcomes.append("already paid")
            except Exception as error:  # noqa: BLE001 - any other outcome fails the test below
                outcomes.append(repr(error))
            finally:
                db.session.remove()

    threads = [threading.Thread(target=approve, args=(email,)) for email in (LEE, "lena@brightpath.example")]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=60)
    assert sorted(outcomes) == ["already paid", "approved"]
    with money_app.app_context():
        assert len(_entries(payment_id)) == 1
        assert ledger.balance(_account(tom).id) == balance - LIMIT - 300 == ledger.balance_from_entries(_account(tom).id)
        assert db.session.get(ManagedPayment, payment_id).status == ManagedPaymentStatus.PAID


def test_the_same_form_sent_twice_records_once(money_app):
    tom = person_id(money_app, "Tom", "Hughes")
    with money_app.app_context():
        new = _other(5_000)
        first = _record(tom, new)
        with pytest.raises(service.AlreadyRecorded) as again:
            _record(tom, new)
        assert again.value.record.id == first.id
        assert db.session.scalar(sa.select(sa.func.count()).select_from(ManagedPayment)
                                 .where(ManagedPayment.request_key == new.request_key)) == 1
        assert len(_entries(first.id)) == 1


def test_cancelling_a_waiting_payment_pays_nothing_and_a_paid_one_cannot_be_cancelled(money_app):
    tom = person_id(money_app, "Tom", "Hughes")
    with money_app.app_context():
        payment = _record(tom, _other(LIMIT + 1))
        with pytest.raises(service.PaymentError) as refused:
            service.cancel(payment, _user(LEE), payment.version, "  ")
        assert refused.value.problems == [("reason", "Say why the payment is cancelled")]
        db.session.rollback()
        service.cancel(db.session.get(ManagedPayment, payment.id), _user(LEE), payment.version, "Duplicate of last week's bill")
        db.session.commit()
        payment = db.session.get(ManagedPayment, payment.id)
        assert payment.status == ManagedPaymentStatus.CANCELLED and payment.cancel_reason == "Duplicate of last week's bill"
        with pytest.raises(service.PaymentError, match="cancelled"):
            service.approve(payment, _user(LEE), payment.version)
        db.session.rollback()
        assert _entries(payment.id) == []
        paid = _record(tom, _other(1_000))
        with pytest.raises(service.PaymentError, match="has been paid, so it cannot be cancelled"):
            service.cancel(paid, _user(LEE), paid.version, "Mistake")


# PA wages against approved timesheets -----------------------------------------------------------------------------


def _wages(ts_ids, amount, **overrides) -> service.NewPayment:
    values = dict(kind=ManagedPaymentKind.WAGES, amount_pence=amount, pay_on=london_today(), request_key=f"test-{next(_keys)}",
                  timesheet_ids=tuple(ts_ids))
    values.update(overrides)
    return service.NewPayment(**values)


def test_wages_against_a_timesheet_not_approved_are_refused(money_app):
    tom = person_id(money_app, "Tom", "Hughes")
    with money_app.app_context():
        _, waiting = _leon_timesheets(tom)
        before = _count()
        with pytest.raises(service.PaymentError) as refused:
            _record(tom, _wages([waiting.id], 10_000))
        assert refused.value.problems == [("timesheets", f"The timesheet for {waiting.period_start.day} {waiting.period_start:%B} to "
                                                         f"{waiting.period_end.day} {waiting.period_end:%B %Y} is waiting for approval: "
                                                         "only an approved timesheet can be paid")]
        with pytest.raises(service.PaymentError) as refused:
            _record(tom, _wages([], 10_000))
        assert ("timesheets", "Select the approved timesheets these wages pay") in refused.value.problems
        assert _count() == before


def test_wages_against_a_timesheet_already_paid_are_refused(money_app):
    tom = person_id(money_app, "Tom", "Hughes")
    with money_app.app_context():
        paid, _ = _leon_timesheets(tom)
        assert paid.paid_on is not None
        with pytest.raises(service.PaymentError, match="has already been paid"):
            _record(tom, _wages([paid.id], 10_000))


def test_wages_pay_an_approved_timesheet_once_and_no_more_than_it_owes(money_app):
    tom = person_id(money_app, "Tom", "Hughes")
    with money_app.app_context():
        _, ts = _leon_timesheets(tom)
        timesheets.approve(ts, _user(KIM), ts.version)
        db.session.commit()
        ts = db.session.get(Timesheet, ts.id)
        gross = ts.gross_pence
        item = timesheets.expected_item(ts)
        assert item.status == ExpectedStatus.OPEN and item.amount_pence == -gross
        payable, _, _ = service.timesheet_choices(tom)
        assert [p.timesheet.id for p in payable] == [ts.id] and payable[0].owed_pence == gross
        with pytest.raises(service.PaymentError) as refused:
            _record(tom, _wages([ts.id], gross + 1))
        assert refused.value.problems == [("amount", f"Wages must be no more than the approved timesheets' pay, £{gross // 100:,}.{gross % 100:02d}")]
        payment = _record(tom, _wages([ts.id], gross - 4_000, description="Net of tax and NI"))
        assert payment.status == ManagedPaymentStatus.PAID and payment.payee == "Leon Baptiste"
        assert payment.category == Category.PA_WAGES
        [entry] = _entries(payment.id)
        assert entry.amount_pence == -(gross - 4_000) and entry.state.category == Category.PA_WAGES
        ts = db.session.get(Timesheet, ts.id)
        assert ts.paid_on == london_today()
        item = timesheets.expected_item(ts)
        assert item.status == ExpectedStatus.SETTLED and item.settled_by_id == entry.id
        # Paid now: not offered again, and refused if asked for.
        assert service.timesheet_choices(tom)[0] == []
        with pytest.raises(service.PaymentError, match="has already been paid"):
            _record(tom, _wages([ts.id], 100))


def test_a_timesheet_held_by_a_waiting_payment_is_not_paid_twice_and_is_freed_by_cancelling(money_app):
    tom = person_id(money_app, "Tom", "Hughes")
    with money_app.app_context():
        _, ts = _leon_timesheets(tom)
        timesheets.approve(ts, _user(KIM), ts.version)
        brightpath = db.session.get(Organisation, _account(tom).managed_by_id)
        service.set_limit(brightpath, _user(LEE), 10_000)  # so these wages need a second person
        db.session.commit()
        gross = db.session.get(Timesheet, ts.id).gross_pence
        waiting = _record(tom, _wages([ts.id], gross))
        assert waiting.status == ManagedPaymentStatus.RECORDED
        with pytest.raises(service.PaymentError, match="has already been paid"):
            _record(tom, _wages([ts.id], gross))
        db.session.rollback()
        service.cancel(db.session.get(ManagedPayment, waiting.id), _user(LEE), waiting.version, "Wrong amount")
        db.session.commit()
        again = _record(tom, _wages([ts.id], gross - 100))
        assert again.status == ManagedPaymentStatus.RECORDED
        service.approve(again, _user(LEE), again.version)
        db.session.commit()
        assert db.session.get(Timesheet, ts.id).paid_on == london_today()


# Invoices and money owed --------------------------------------------------------------------------------------------


def _invoice(amount, **overrides) -> service.NewPayment:
    values = dict(kind=ManagedPaymentKind.INVOICE, amount_pence=amount, pay_on=london_today(), request_key=f"test-{next(_keys)}",
                  payee="Northfield Day Centre", invoice_number="NDC-1", invoice_due_on=london_today() + timedelta(days=14),
                  category=Category.DAY_CARE, description="Day centre sessions")
    values.update(overrides)
    return service.NewPayment(**values)


def _cleaned():
    from portal.services import evidence

    return evidence.check_and_clean(_pdf(), "day-centre invoice.pdf")


def test_an_invoice_is_money_owed_until_it_is_paid(money_app):
    tom = person_id(money_app, "Tom", "Hughes")
    with money_app.app_context():
        account = _account(tom)
        owed_before = ledger.money_owed(account.id)
        payment = _record(tom, _invoice(LIMIT + 2_000), invoice=_cleaned())
        item = db.session.scalar(sa.select(ExpectedItem).where(ExpectedItem.key == f"managed-payment:{payment.id}"))
        assert (item.kind, item.status, item.amount_pence, item.due_date) == (
            ExpectedKind.INVOICE, ExpectedStatus.OPEN, -(LIMIT + 2_000), london_today() + timedelta(days=14))
        assert ledger.money_owed(account.id) == owed_before + LIMIT + 2_000
        assert payment.invoice_display_name == "day-centre invoice.pdf" and payment.invoice_content_type == "application/pdf"
        with Storage.from_config().open(payment.invoice_storage_name) as handle:
            assert handle.read() == _pdf()
        entry = service.approve(payment, _user(LEE), payment.version)
        db.session.commit()
        item = db.session.get(ExpectedItem, item.id)
        assert item.status == ExpectedStatus.SETTLED and item.settled_by_id == entry.id
        assert ledger.money_owed(account.id) == owed_before
        summary = service.case_summary(tom)
        assert [p.id for p in summary.recent][:1] == [payment.id]
        assert payment.id not in [p.id for p in summary.unpaid_invoices + summary.awaiting]


def test_an_invoice_at_the_limit_is_owed_and_settled_at_once_and_a_cancelled_one_is_owed_no_more(money_app):
    tom = person_id(money_app, "Tom", "Hughes")
    with money_app.app_context():
        account = _account(tom)
        paid = _record(tom, _invoice(20_000, invoice_number="NDC-2"), invoice=_cleaned())
        item = db.session.scalar(sa.select(ExpectedItem).where(ExpectedItem.key == f"managed-payment:{paid.id}"))
        assert item.status == ExpectedStatus.SETTLED and item.settled_by_id == paid.entry_id
        waiting = _record(tom, _invoice(LIMIT + 1, invoice_number="NDC-3"), invoice=_cleaned())
        summary = service.case_summary(tom)
        assert [p.id for p in summary.awaiting][-1:] == [waiting.id], "oldest first: the newest last"
        assert waiting.id in [p.id for p in summary.unpaid_invoices] and paid.id not in [p.id for p in summary.awaiting]
        assert summary.owed_pence == ledger.money_owed(account.id) >= LIMIT + 1
        service.cancel(waiting, _user(KIM), waiting.version, "Sent to the wrong person")
        db.session.commit()
        item = db.session.scalar(sa.select(ExpectedItem).where(ExpectedItem.key == f"managed-payment:{waiting.id}"))
        assert item.status == ExpectedStatus.CANCELLED


def test_an_invoice_needs_its_number_due_date_and_file(money_app):
    tom = person_id(money_app, "Tom", "Hughes")
    with money_app.app_context():
        with pytest.raises(service.PaymentError) as refused:
            _record(tom, _invoice(5_000, invoice_number=" ", invoice_due_on=None, payee=""))
        assert refused.value.problems == [
            ("payee", "Enter who is paid"), ("invoice_number", "Enter the invoice number"),
            ("invoice_due_on", "Enter the date the invoice is due"), ("invoice", "Select the invoice")]


def test_a_hostile_invoice_upload_is_refused_and_nothing_is_stored(money_app, tmp_path):
    tom = person_id(money_app, "Tom", "Hughes")
    money_app.config["EVIDENCE_FOLDER"] = str(tmp_path)
    with money_app.app_context():
        before = _count()
    client = _signed_in(money_app, KIM)
    url = f"/people/{tom}/managed-account/new/invoice"
    hostile = {
        "script.pdf": (b"%PDF-1.4\n1 0 obj << /Type /Catalog /OpenAction << /S /JavaScript /JS (app.alert(1)) >> >>\nendobj\n"
                       b"trailer << /Root 1 0 R >>\n%%EOF", "The PDF contains JavaScript. Save it without scripts and try again"),
        "page.pdf": (b"%PDF-1.4\n<html><script>alert(1)</script></html>", "The selected file must be a PDF, JPG or PNG"),
        "invoice.pdf": (b"MZ\x90\x00 not a document", "The selected file must be a PDF, JPG or PNG"),
    }
    for name, (data, message) in hostile.items():
        page = client.get(url)
        response = client.post(url, data={
            "csrf_token": csrf_token(page.text), "request_key": f"hostile-{name}", "payee": "Northfield Day Centre",
            "invoice_number": "NDC-9", "category": "day care", "amount": "50.00", "invoice_due_on": _date(london_today()),
            "pay_on": _date(london_today()), "invoice": (io.BytesIO(data), name),
        }, content_type="multipart/form-data")
        assert response.status_code == 200, name
        soup = BeautifulSoup(response.text, "html.parser")
        assert soup.title.string.startswith("Error: ")
        assert message in soup.select_one(".govuk-error-summary").get_text(" ")
    with money_app.app_context():
        assert _count() == before
    assert [p for p in tmp_path.iterdir() if not p.name.startswith(".")] == [], "nothing was stored"


# Contributions received ---------------------------------------------------------------------------------------------


def test_a_contribution_received_is_posted_and_settles_the_contribution_due(money_app):
    tom = person_id(money_app, "Tom", "Hughes")
    with money_app.app_context():
        account = _account(tom)
        due = []
        for days, amount in ((30, 2_800), (2, 2_800), (5, 4_000)):
            item = ExpectedItem(account_id=account.id, kind=ExpectedKind.CONTRIBUTION_DUE, amount_pence=amount,
                                due_date=london_today() - timedelta(days=days), key=f"test-contribution-{days}",
                                description="Your contribution for this 4 weeks")
            db.session.add(item)
            due.append(item)
        db.session.commit()
        balance = ledger.balance(account.id)
        received = service.record_contribution(account, _user(KIM), service.NewContribution(
            amount_pence=2_800, received_on=london_today(), method=ContributionMethod.BANK_TRANSFER, request_key="c-1",
            note="Ref TH-0042"))
        entry = db.session.get(LedgerEntry, received.entry_id)
        assert (entry.kind, entry.amount_pence, entry.payment_key) == (EntryKind.CONTRIBUTION, 2_800, f"managed-contribution:{received.id}")
        assert ledger.balance(account.id) == balance + 2_800
        statuses = [db.session.get(ExpectedItem, item.id).status for item in due]
        assert statuses == [ExpectedStatus.SETTLED, ExpectedStatus.OPEN, ExpectedStatus.OPEN], "the oldest arrears first"
        assert received.settled_item_id == due[0].id
        # An amount that matches nothing due is still received, and settles nothing.
        other = service.record_contribution(account, _user(KIM), service.NewContribution(
            amount_pence=1_234, received_on=london_today(), method=ContributionMethod.CASH, request_key="c-2"))
        assert other.settled_item_id is None
        with pytest.raises(service.AlreadyRecorded):
            service.record_contribution(account, _user(KIM), service.NewContribution(
                amount_pence=2_800, received_on=london_today(), method=ContributionMethod.BANK_TRANSFER, request_key="c-1"))
        for email in (OMAR, RACHEL, TOM):
            with pytest.raises(service.NotAllowed):
                service.record_contribution(account, _user(email), service.NewContribution(
                    amount_pence=100, received_on=london_today(), method=ContributionMethod.CASH, request_key=f"x-{email}"))


# The pages ---------------------------------------------------------------------------------------------------------


def test_kim_records_an_invoice_over_the_limit_lee_approves_and_tom_sees_it(money_app):
    tom = person_id(money_app, "Tom", "Hughes")
    kim = _signed_in(money_app, KIM)
    page = get_page(kim, f"/people/{tom}/managed-account")
    assert page.soup.select_one("[data-record-links]") is not None
    url = f"/people/{tom}/managed-account/new/invoice"
    form = get_page(kim, url)
    key = form.soup.select_one("input[name=request_key]")["value"]
    data = {
        "csrf_token": csrf_token(form.text), "request_key": key, "payee": "Sunrise Respite Breaks", "invoice_number": "SRB-77",
        "category": "day care", "description": "Two days at the day centre", "amount": "1,050.00",
        "invoice_due_on": _date(london_today() + timedelta(days=7)), "pay_on": _date(london_today()),
        "invoice": (io.BytesIO(_pdf()), "SRB-77.pdf"),
    }
    response = kim.post(url, data=data, content_type="multipart/form-data")
    assert response.status_code == 302
    shown = response.headers["Location"]
    # The same form sent again (a double-click): nothing more is recorded.
    data["invoice"] = (io.BytesIO(_pdf()), "SRB-77.pdf")
    again = kim.post(url, data=data, content_type="multipart/form-data")
    assert again.status_code == 302 and again.headers["Location"] == shown
    with money_app.app_context():
        [payment] = db.session.scalars(sa.select(ManagedPayment).where(ManagedPayment.payee == "Sunrise Respite Breaks")).all()
        assert payment.status == ManagedPaymentStatus.RECORDED and payment.amount_pence == 105_000
        assert db.session.scalar(sa.select(AuditEvent).where(AuditEvent.action == "managed_payment.recorded")).record_id == str(payment.id)
    page = get_page(kim, shown)
    assert "Payment of £1,050.00 to Sunrise Respite Breaks recorded" in page.text
    assert page.soup.select_one("[data-own-recording]") is not None
    assert page.soup.select_one("form[data-approve-form]") is None
    # Kim posting an approval anyway changes nothing.
    response = kim.post(f"{shown}/approve", data={"csrf_token": csrf_token(page.text), "version": "1"})
    assert response.status_code == 302
    assert "another member of staff must approve it" in get_page(kim, shown).text

    lee = _signed_in(money_app, LEE)
    queue = get_page(lee, "/work")
    [row] = queue.soup.select(f"table[data-kind='payments-approval'] tr[data-item][data-record='{payment.id}']")
    assert row.select_one("a")["href"].endswith(shown) and "£1,050.00 to Sunrise Respite Breaks" in row.get_text(" ")
    approvals = get_page(lee, "/managed-account/approvals")
    assert str(payment.id) in [r["data-payment"] for r in approvals.soup.select("[data-approvals] tr[data-payment]")]
    page = get_page(lee, shown)
    assert page.soup.select_one("form[data-approve-form]") is not None
    response = lee.post(f"{shown}/approve", data={"csrf_token": csrf_token(page.text), "version": str(payment.version)})
    assert response.status_code == 302
    page = get_page(lee, shown)
    assert "Payment approved: £1,050.00 was paid to Sunrise Respite Breaks" in page.text
    assert page.soup.select_one("[data-status]").get_text(strip=True) == "Paid"
    approvals = get_page(lee, "/managed-account/approvals")
    assert str(payment.id) not in [r["data-payment"] for r in approvals.soup.select("[data-approvals] tr[data-payment]")]

    me = _signed_in(money_app, TOM)
    money = get_page(me, f"/people/{tom}/money")
    rows = money.soup.select("[data-managed-payments] tr[data-payment]")
    assert str(payment.id) in [r["data-payment"] for r in rows]
    detail = get_page(me, shown)
    text = _main_text(detail.text)
    assert "Sunrise Respite Breaks" in text and "£1,050.00" in text and "Approved by Lee" in text
    assert detail.soup.select_one("form[data-approve-form]") is None and detail.soup.select_one("form[data-cancel-form]") is None
    download = me.get(detail.soup.select_one("[data-invoice-link]")["href"])
    assert download.status_code == 200 and download.data == _pdf()
    assert download.headers["X-Content-Type-Options"] == "nosniff"
    assert me.post(f"{shown}/approve", data={"csrf_token": csrf_token(detail.text), "version": "1"}).status_code == 403


def test_the_recipient_and_a_view_level_representative_see_each_payment_read_only(money_app):
    sam = person_id(money_app, "Sam", "Okafor")
    with money_app.app_context():
        payment = _record(sam, _other(2_500, payee="Travel Training Northfield", category=Category.TRAVEL))
    david = _signed_in(money_app, DAVID)
    money = get_page(david, f"/people/{sam}/money")
    assert str(payment.id) in [r["data-payment"] for r in money.soup.select("[data-managed-payments] tr[data-payment]")]
    index = get_page(david, f"/people/{sam}/managed-account")
    assert index.soup.select_one("[data-record-links]") is None
    assert "Travel Training Northfield" in _main_text(index.text)
    get_page(david, f"/people/{sam}/managed-account/{payment.id}")
    get_page(david, f"/people/{sam}/managed-account/new/other", status=403)
    # Tom sees his own account's page, not Sam's.
    tom = _signed_in(money_app, TOM)
    get_page(tom, f"/people/{sam}/managed-account/{payment.id}", status=404)
    get_page(tom, f"/people/{person_id(money_app, 'Tom', 'Hughes')}/managed-account")


def test_omar_never_sees_brightpaths_managed_accounts(money_app):
    tom = person_id(money_app, "Tom", "Hughes")
    with money_app.app_context():
        waiting = _record(tom, _other(LIMIT + 1)).id
        paid = _record(tom, _invoice(3_000), invoice=_cleaned()).id
    omar = _signed_in(money_app, OMAR)
    for path in (f"/people/{tom}/managed-account", f"/people/{tom}/managed-account/{waiting}",
                 f"/people/{tom}/managed-account/{paid}/invoice", f"/people/{tom}/managed-account/new/invoice",
                 f"/people/{tom}/managed-account/contributions/new"):
        get_page(omar, path, status=404)
    page = get_page(omar, "/work")
    token = csrf_token(page.text)
    for action in ("approve", "cancel"):
        response = omar.post(f"/people/{tom}/managed-account/{waiting}/{action}",
                             data={"csrf_token": token, "version": "1", "reason": "x"})
        assert response.status_code == 404
    approvals = get_page(omar, "/managed-account/approvals")
    assert approvals.soup.select_one("[data-none]") is not None and "Hughes" not in approvals.text
    assert not page.soup.select("table[data-kind='payments-approval'] tr[data-item]")
    # Nor does a Harbour payment id reached through a Harbour person show Brightpath's.
    grace = person_id(money_app, "Grace", "Okafor")
    get_page(omar, f"/people/{grace}/managed-account/{waiting}", status=404)
    with money_app.app_context():
        assert db.session.get(ManagedPayment, waiting).status == ManagedPaymentStatus.RECORDED
        harbour = db.session.scalar(sa.select(Organisation.id).where(Organisation.name == "Harbour DPSS"))
        counts, _ = work_queues.counts_by_caseworker(harbour, london_today())
        assert not any(kinds.get("payments-approval") for kinds in counts.values())


def test_people_without_a_managed_account_have_no_managed_account_pages(money_app):
    amina = person_id(money_app, "Amina", "Patel")
    kim = _signed_in(money_app, KIM)
    get_page(kim, f"/people/{amina}/managed-account", status=404)
    get_page(kim, f"/people/{amina}/managed-account/new/wages", status=404)
    get_page(kim, f"/people/{person_id(money_app, 'Tom', 'Hughes')}/managed-account/new/sweets", status=404)
    money = get_page(kim, f"/people/{amina}/money")
    assert money.soup.select_one("[data-managed-payments]") is None


def test_council_officers_read_and_others_are_refused(money_app):
    tom = person_id(money_app, "Tom", "Hughes")
    with money_app.app_context():
        payment = _record(tom, _other(LIMIT + 1))
    rachel = _signed_in(money_app, RACHEL)
    page = get_page(rachel, f"/people/{tom}/managed-account/{payment.id}")
    assert page.soup.select_one("form[data-approve-form]") is None
    get_page(rachel, f"/people/{tom}/managed-account/new/other", status=403)
    get_page(rachel, "/managed-account/approvals", status=403)
    assert rachel.post(f"/people/{tom}/managed-account/{payment.id}/approve",
                       data={"csrf_token": csrf_token(page.text), "version": "1"}).status_code == 403
    for email in ("sophie.pa@example.org", ADMIN):
        client = _signed_in(money_app, email)
        get_page(client, f"/people/{tom}/managed-account", status=403)
        get_page(client, f"/people/{tom}/managed-account/{payment.id}", status=403)
    amina = _signed_in(money_app, AMINA)
    get_page(amina, f"/people/{tom}/managed-account", status=404)
    anonymous = money_app.test_client()
    assert anonymous.get(f"/people/{tom}/managed-account").status_code == 302


def test_the_form_says_what_is_wrong_beside_each_answer(money_app):
    tom = person_id(money_app, "Tom", "Hughes")
    with money_app.app_context():
        before = _count()
    kim = _signed_in(money_app, KIM)
    url = f"/people/{tom}/managed-account/new/other"
    form = get_page(kim, url)
    response = kim.post(url, data={"csrf_token": csrf_token(form.text), "request_key": "k-1", "payee": "", "amount": "12.345",
                                   "pay_on": _date(london_today() + timedelta(days=1))})
    assert response.status_code == 200
    soup = BeautifulSoup(response.text, "html.parser")
    summary = [a.get_text(strip=True) for a in soup.select(".govuk-error-summary a")]
    assert summary == ["Enter who is paid", "Select what the payment is for", "Say what the payment is for",
                       "Enter the amount in pounds and pence, like 45.00", "The date of the payment must be today or in the past"]
    with money_app.app_context():
        assert _count() == before


def test_wages_page_offers_approved_unpaid_timesheets_and_records_them(money_app):
    tom = person_id(money_app, "Tom", "Hughes")
    with money_app.app_context():
        paid, ts = _leon_timesheets(tom)
        paid_id = paid.id
        timesheets.approve(ts, _user(KIM), ts.version)
        db.session.commit()
        ts_id, gross = ts.id, db.session.get(Timesheet, ts.id).gross_pence
    kim = _signed_in(money_app, KIM)
    url = f"/people/{tom}/managed-account/new/wages"
    form = get_page(kim, url)
    boxes = form.soup.select("input[name=timesheets]")
    assert [b["value"] for b in boxes] == [str(ts_id)] and boxes[0].has_attr("checked")
    # A made-up request for a timesheet already paid is refused beside the question.
    response = kim.post(url, data={"csrf_token": csrf_token(form.text), "request_key": "w-1", "timesheets": [str(paid_id)],
                                   "amount": "10.00", "pay_on": _date(london_today())})
    assert response.status_code == 200 and "has already been paid" in response.text
    response = kim.post(url, data={"csrf_token": csrf_token(form.text), "request_key": "w-2", "timesheets": [str(ts_id)],
                                   "amount": f"{gross // 100}.{gross % 100:02d}", "pay_on": _date(london_today())})
    assert response.status_code == 302
    page = get_page(kim, response.headers["Location"])
    assert "recorded and paid from Tom Hughes's account" in _main_text(page.text)
    assert page.soup.select_one("[data-timesheets]") is not None


def test_contribution_page_records_and_says_what_it_paid(money_app):
    tom = person_id(money_app, "Tom", "Hughes")
    kim = _signed_in(money_app, KIM)
    url = f"/people/{tom}/managed-account/contributions/new"
    form = get_page(kim, url)
    response = kim.post(url, data={"csrf_token": csrf_token(form.text), "request_key": "c-9", "amount": "28.00",
                                   "received_on": _date(london_today()), "method": "standing order"})
    assert response.status_code == 302
    page = get_page(kim, f"/people/{tom}/managed-account")
    assert "Contribution of £28.00 recorded" in page.text
    assert "Standing order" in page.soup.select_one("[data-contributions]").get_text(" ")


def test_lee_sets_the_limit_and_the_administrator_any_providers(money_app):
    lee = _signed_in(money_app, LEE)
    response = lee.get("/managed-account/approval-limit")
    assert response.status_code == 302
    url = response.headers["Location"]
    form = get_page(lee, url)
    assert form.soup.select_one("input[name=limit]")["value"] == "1,000.00"
    assert lee.post(url, data={"csrf_token": csrf_token(form.text), "limit": "750.00"}).status_code == 302
    page = get_page(lee, url)
    assert "The limit is £750.00" in page.text
    with money_app.app_context():
        harbour = db.session.scalar(sa.select(Organisation.id).where(Organisation.name == "Harbour DPSS"))
        northfield = db.session.scalar(sa.select(Organisation.id).where(Organisation.name == "Northfield City Council"))
        assert db.session.scalar(sa.select(AuditEvent.outcome).where(AuditEvent.action == "organisation.approval_limit_changed")) == "£1,000.00 to £750.00"
    get_page(lee, f"/managed-account/approval-limit/{harbour}", status=404)
    for email in (KIM, OMAR, RACHEL):
        get_page(_signed_in(money_app, email), "/managed-account/approval-limit", status=403)
    admin = _signed_in(money_app, ADMIN)
    listing = get_page(admin, "/managed-account/approval-limit")
    assert "Harbour DPSS" in listing.text and "£750.00" in listing.text
    form = get_page(admin, f"/managed-account/approval-limit/{harbour}")
    assert admin.post(f"/managed-account/approval-limit/{harbour}", data={"csrf_token": csrf_token(form.text), "limit": "2,500"}).status_code == 302
    get_page(admin, f"/managed-account/approval-limit/{northfield}", status=404)
    with money_app.app_context():
        assert db.session.get(Organisation, harbour).payment_approval_limit_pence == 250_000


def test_the_demo_gives_sam_a_paid_invoice_and_tom_one_waiting_for_lee(money_app):
    from portal.services.demo_managed_payments import load_managed_payments

    with money_app.app_context():
        ids = {"tom": person_id(money_app, "Tom", "Hughes"), "sam": person_id(money_app, "Sam", "Okafor")}
        load_managed_payments(ids)
        assert load_managed_payments(ids) == 0, "running it again changes nothing"
        sam = service.case_summary(ids["sam"])
        assert [(p.payee, p.status) for p in sam.recent] == [("Travel Training Northfield", ManagedPaymentStatus.PAID)]
        tom = service.case_summary(ids["tom"])
        assert [(p.payee, p.amount_pence) for p in tom.awaiting] == [("Northfield Day Centre", 104_000)]
        assert tom.unpaid_invoices == tom.awaiting and tom.owed_pence >= 104_000
        assert tom.balance_pence >= 104_000, "Lee can approve it"
        lee = _user(LEE)
        assert [w.payment.id for w in service.waiting_for_approval(lee)] == [tom.awaiting[0].id]
        assert db.session.scalar(sa.select(Notification.id).where(Notification.user_id == lee.id,
                                                                  Notification.key.like("managed-payment:%:waiting")))
