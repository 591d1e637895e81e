"""Managed accounts and payroll (issue 7): for a managed account the DPSS's recorded payments are the pay
run's movements. Staff pay a pay run's items (a PA's net pay, HMRC's tax and NI, the pension) from the
account, in full and once; a timesheet a pay run paid is never paid again as wages.

Tom is not on Brightpath's payroll service in the demo: each test puts him on it (his caseload entry's
payroll flag), has Kim approve Leon's waiting weekly timesheet, build the weekly pay run for it, and Lee
approve the run. Leon's employment already has his pay details (£13.00 an hour, 1257L, pension enrolled).
The pay run's figures are the pay run's (tests/test_pay_runs.py checks them); here each item's amount is
read from the item the run put on the account, and what the payment must do with it is checked: the same
amount out of the account, once, and the item settled by that entry.

Brightpath's limit is £1,000.00; Tom's account holds £1,081.50. The concurrency tests run on SQLite and,
under `make test-postgres`, on PostgreSQL with separate connections.
"""

import threading

import pytest
import sqlalchemy as sa
from bs4 import BeautifulSoup

from portal.extensions import db
from portal.models import (
    Category,
    EntryKind,
    EntrySource,
    ExpectedItem,
    ExpectedKind,
    ExpectedStatus,
    LedgerEntry,
    ManagedPayment,
    ManagedPaymentKind,
    ManagedPaymentStatus,
    ManagedPaymentTimesheet,
    Organisation,
    PaidTimesheet,
    PayPeriod,
    PayRun,
    Role,
    Timesheet,
    TimesheetStatus,
    User,
)
from portal.models.people import CaseloadEntry
from portal.services import ledger, pay_runs, timesheets
from portal.services import managed_payments as service
from portal.services.clock import london_today
from portal.sqlite import immediate_transaction
from tests.conftest import csrf_token, get_page, sign_in
from tests.helpers import person_id

KIM, LEE, OMAR, RACHEL = "kim@brightpath.example", "lee@brightpath.example", "omar@harbour.example", "rachel@northfield.example"
TOM, ADMIN = "tom@example.org", "admin@example.org"
LENA = "lena@brightpath.example"


# Helpers ------------------------------------------------------------------------------------------


def _user(email: str) -> User:
    return db.session.scalar(sa.select(User).where(User.email == email))


def _signed_in(app, email: str):
    client = app.test_client()
    sign_in(client, email)
    return client


def _pounds(pence: int) -> str:
    return f"£{pence // 100:,}.{pence % 100:02d}"


def _period_words(first, last) -> str:
    """The run's period as the pages say it: "16 to 22 November 2026", "27 October to 2 November 2026"."""
    if (first.year, first.month) == (last.year, last.month):
        return f"{first.day} to {last.day} {last.strftime('%B')} {last.year}"
    if first.year == last.year:
        return f"{first.day} {first.strftime('%B')} to {last.day} {last.strftime('%B')} {last.year}"
    return f"{first.day} {first.strftime('%B')} {first.year} to {last.day} {last.strftime('%B')} {last.year}"


def _main_text(html: str) -> str:
    return " ".join(BeautifulSoup(html, "html.parser").select_one("main").get_text(" ").split())


def _date(day) -> list[str]:
    return [str(day.day), str(day.month), str(day.year)]


def _set_limit(pence: int) -> None:
    brightpath = db.session.get(Organisation, _user(KIM).organisation_id)
    service.set_limit(brightpath, _user(LEE), pence)
    db.session.commit()


def _approve_leons_timesheet(tom: int) -> Timesheet:
    """Kim approves Leon's timesheet waiting for approval (the newest week)."""
    ts = db.session.scalar(sa.select(Timesheet).where(Timesheet.employer_id == tom, Timesheet.status == TimesheetStatus.SUBMITTED))
    timesheets.approve(ts, _user(KIM), ts.version)
    db.session.commit()
    return db.session.get(Timesheet, ts.id)


def _run_payroll(tom: int, ts: Timesheet) -> PayRun:
    """Tom on Brightpath's payroll; Kim builds the weekly run for the timesheet's week, Lee approves it."""
    kim, lee = _user(KIM), _user(LEE)
    entry = db.session.scalar(sa.select(CaseloadEntry).where(CaseloadEntry.recipient_id == tom,
                                                             CaseloadEntry.provider_id == kim.organisation_id))
    entry.payroll = True
    db.session.commit()
    run = pay_runs.build_draft(kim.organisation_id, PayPeriod.WEEKLY, ts.period_start, kim, london_today())
    db.session.commit()
    assert [p.problems for p in run.payslips] == [""], "one payslip (Leon's), nothing blocking it"
    with immediate_transaction():
        pay_runs.approve(run.id, run.version, lee, london_today())
    return db.session.get(PayRun, run.id)


def _payroll(app) -> dict:
    """Run Leon's payroll; the ids and figures the tests need."""
    tom = person_id(app, "Tom", "Hughes")
    with app.app_context():
        ts = _approve_leons_timesheet(tom)
        run = _run_payroll(tom, ts)
        account = service.managed_account(tom)
        items = {item.key.split(":")[2]: item for item in db.session.scalars(
            sa.select(ExpectedItem).where(ExpectedItem.key.like(f"payrun:{run.id}:%")))}
        assert set(items) == {"net", "hmrc", "pension"}
        assert all(i.account_id == account.id and i.kind == ExpectedKind.PAY_RUN and i.status == ExpectedStatus.OPEN
                   and i.amount_pence < 0 for i in items.values())
        return {
            "tom": tom, "account": account.id, "run": run.id, "timesheet": ts.id, "words": _period_words(run.period_start, run.period_end),
            "ids": {what: item.id for what, item in items.items()}, "owed": {what: -item.amount_pence for what, item in items.items()},
            "due": items["net"].due_date,
        }


def _record_page(client, tom: int):
    return get_page(client, f"/people/{tom}/managed-account/new/pay-run")


def _post(client, tom: int, form, item_id: int, key: str | None = None, **extra):
    data = {"csrf_token": csrf_token(form.text), "request_key": key or form.soup.select_one("input[name=request_key]")["value"],
            "item": str(item_id), "pay_on": _date(london_today()), **extra}
    return client.post(f"/people/{tom}/managed-account/new/pay-run", data=data)


def _entries(payment_id: int) -> list[LedgerEntry]:
    return list(db.session.scalars(sa.select(LedgerEntry).where(LedgerEntry.payment_key == f"managed-payment:{payment_id}")))


def _payments_of(item_id: int) -> list[ManagedPayment]:
    return list(db.session.scalars(sa.select(ManagedPayment).where(ManagedPayment.expected_item_id == item_id)
                                   .order_by(ManagedPayment.id)))


def _offered(form) -> list[str]:
    return [i["value"] for i in form.soup.select("input[name=item]")]


# Offered, paid once, settled ------------------------------------------------------------------------


def test_the_record_page_offers_each_open_item_of_the_pay_run_with_its_payee_and_amount(money_app):
    got = _payroll(money_app)
    kim = _signed_in(money_app, KIM)
    index = get_page(kim, f"/people/{got['tom']}/managed-account")
    link = index.soup.select_one("[data-record-links]").find("a", string="Pay from a pay run")
    assert link["href"] == f"/people/{got['tom']}/managed-account/new/pay-run"
    form = _record_page(kim, got["tom"])
    ids, owed, words = got["ids"], got["owed"], got["words"]
    # Soonest due first; all three are due on the pay date, so in the order the run added them.
    assert _offered(form) == [str(ids["net"]), str(ids["hmrc"]), str(ids["pension"])]
    labels = [" ".join(label.get_text(" ").split()) for label in form.soup.select("[data-pay-run-items] label")]
    assert labels == [
        f"Net pay to Leon Baptiste, pay run {words}: {_pounds(owed['net'])}",
        f"PAYE tax and National Insurance to HMRC, pay run {words}: {_pounds(owed['hmrc'])}",
        f"Workplace pension contributions, pay run {words}: {_pounds(owed['pension'])}",
    ]
    hints = [" ".join(h.get_text(" ").split()) for h in form.soup.select("[data-pay-run-items] .govuk-radios__hint")]
    due = f"{got['due'].day} {got['due'].strftime('%B')} {got['due'].year}"
    assert hints == [f"To Leon Baptiste, due {due}", f"To HM Revenue and Customs, due {due}", f"To Workplace pension scheme, due {due}"]
    assert form.soup.select_one("input[name=amount]") is None, "paid in full: the amount is not asked"
    # The money owed list says what each is.
    owed_rows = {r["data-owed-item"]: " ".join(r.get_text(" ").split()) for r in index.soup.select("[data-owed] tr[data-owed-item]")}
    assert f"Net pay to Leon Baptiste, pay run {words}" in owed_rows[str(ids["net"])]


def test_kim_pays_the_net_pay_once_and_it_settles_the_pay_runs_item(money_app):
    got = _payroll(money_app)
    tom, net, amount = got["tom"], got["ids"]["net"], got["owed"]["net"]
    with money_app.app_context():
        balance = ledger.balance(got["account"])
        owed_before = ledger.money_owed(got["account"])
    kim = _signed_in(money_app, KIM)
    form = _record_page(kim, tom)
    response = _post(kim, tom, form, net)
    assert response.status_code == 302
    shown = response.headers["Location"]
    # The same form sent again (a double-click): nothing more is recorded or paid.
    again = _post(kim, tom, form, net)
    assert again.status_code == 302 and again.headers["Location"] == shown
    with money_app.app_context():
        [payment] = _payments_of(net)
        assert (payment.kind, payment.status, payment.payee, payment.amount_pence, payment.category) == (
            ManagedPaymentKind.PAY_RUN, ManagedPaymentStatus.PAID, "Leon Baptiste", amount, Category.PA_WAGES)
        assert payment.live_item_id == net and not payment.needs_approval
        [entry] = _entries(payment.id)
        assert (entry.kind, entry.amount_pence, entry.source, entry.entry_date) == (
            EntryKind.SPEND, -amount, EntrySource.MANAGED_PAYMENT, london_today())
        assert entry.description == f"Net pay to Leon Baptiste, pay run {got['words']} (paid by the support service)"
        assert entry.state.category == Category.PA_WAGES and not entry.state.needs_evidence
        item = db.session.get(ExpectedItem, net)
        assert item.status == ExpectedStatus.SETTLED and item.settled_by_id == entry.id == payment.entry_id
        assert ledger.balance(got["account"]) == balance - amount == ledger.balance_from_entries(got["account"])
        assert ledger.money_owed(got["account"]) == owed_before - amount
    page = get_page(kim, shown)
    text = _main_text(page.text)
    assert f"Payment of {_pounds(amount)} to Leon Baptiste recorded and paid from Tom Hughes's account" in text
    assert page.soup.select_one("h1").get_text(" ", strip=True).endswith(f"Net pay to Leon Baptiste (pay run {got['words']})")
    details = " ".join(page.soup.select_one("[data-payment-details]").get_text(" ").split())
    assert "Kind From a pay run" in details and "What for PA wages" in details
    # Paid: no longer offered, and asked for again with a new form it is refused beside the question.
    form = _record_page(kim, tom)
    assert str(net) not in _offered(form)
    response = _post(kim, tom, form, net, key="another-form")
    assert response.status_code == 200
    soup = BeautifulSoup(response.text, "html.parser")
    assert [a.get_text(strip=True) for a in soup.select(".govuk-error-summary a")] == [
        "This payment from the pay run has already been paid"]
    with money_app.app_context():
        assert len(_payments_of(net)) == 1 and len(_entries(_payments_of(net)[0].id)) == 1


def test_the_amount_is_the_pay_runs_and_a_different_one_is_refused(money_app):
    got = _payroll(money_app)
    tom, hmrc, amount = got["tom"], got["ids"]["hmrc"], got["owed"]["hmrc"]
    with money_app.app_context():
        account = service.managed_account(tom)
        for wrong in (amount - 1, amount + 1):
            new = service.NewPayment(kind=ManagedPaymentKind.PAY_RUN, amount_pence=wrong, pay_on=london_today(),
                                     request_key=f"wrong-{wrong}", expected_item_id=hmrc)
            with pytest.raises(service.PaymentError) as refused:
                service.record(account, _user(KIM), new)
            assert refused.value.problems == [("amount", f"A payment from a pay run is paid in full: the amount must be "
                                                         f"{_pounds(amount)}, not {_pounds(wrong)}")]
            db.session.rollback()
        assert _payments_of(hmrc) == []
        assert db.session.get(ExpectedItem, hmrc).status == ExpectedStatus.OPEN
        paid = service.record(account, _user(KIM), service.NewPayment(
            kind=ManagedPaymentKind.PAY_RUN, amount_pence=amount, pay_on=london_today(), request_key="right", expected_item_id=hmrc))
        assert paid.status == ManagedPaymentStatus.PAID and paid.payee == "HM Revenue and Customs"
        assert paid.category == Category.PA_WAGES and paid.amount_pence == amount
    # The form does not ask: an amount sent with it anyway changes nothing.
    kim = _signed_in(money_app, KIM)
    pension, owed = got["ids"]["pension"], got["owed"]["pension"]
    response = _post(kim, tom, _record_page(kim, tom), pension, amount="1.00")
    assert response.status_code == 302
    with money_app.app_context():
        [payment] = _payments_of(pension)
        assert payment.amount_pence == owed and payment.payee == "Workplace pension scheme"
        assert [e.amount_pence for e in _entries(payment.id)] == [-owed]


def test_nothing_chosen_or_someone_elses_item_is_refused_beside_the_question(money_app):
    got = _payroll(money_app)
    tom = got["tom"]
    with money_app.app_context():
        # Amina's pay run item (her account, from the demo's first pay run) is not Tom's to pay.
        amina_item = db.session.scalar(sa.select(ExpectedItem.id).where(
            ExpectedItem.kind == ExpectedKind.PAY_RUN, ExpectedItem.account_id != got["account"]).limit(1))
        assert amina_item is not None
        before = db.session.scalar(sa.select(sa.func.count()).select_from(ManagedPayment))
    kim = _signed_in(money_app, KIM)
    form = _record_page(kim, tom)
    response = kim.post(f"/people/{tom}/managed-account/new/pay-run", data={
        "csrf_token": csrf_token(form.text), "request_key": "none-chosen", "pay_on": _date(london_today())})
    assert response.status_code == 200
    assert [a.get_text(strip=True) for a in BeautifulSoup(response.text, "html.parser").select(".govuk-error-summary a")] == [
        "Select the payment from the pay run"]
    response = _post(kim, tom, form, amina_item, key="someone-else")
    assert response.status_code == 200 and "Select a payment from one of this person&#39;s pay runs" in response.text
    with money_app.app_context():
        assert db.session.scalar(sa.select(sa.func.count()).select_from(ManagedPayment)) == before


# Two people above the limit; held items; cancelling -----------------------------------------------------


def test_above_the_limit_the_item_is_held_until_lee_approves_and_then_settled(money_app):
    got = _payroll(money_app)
    tom, net, amount = got["tom"], got["ids"]["net"], got["owed"]["net"]
    with money_app.app_context():
        _set_limit(amount - 1)  # a penny under the net pay: it needs a second person
        balance = ledger.balance(got["account"])
    kim = _signed_in(money_app, KIM)
    response = _post(kim, tom, _record_page(kim, tom), net)
    assert response.status_code == 302
    shown = response.headers["Location"]
    with money_app.app_context():
        [payment] = _payments_of(net)
        assert payment.status == ManagedPaymentStatus.RECORDED and payment.needs_approval and payment.live_item_id == net
        assert _entries(payment.id) == [] and ledger.balance(got["account"]) == balance
        assert db.session.get(ExpectedItem, net).status == ExpectedStatus.OPEN
    # Held: not offered again, refused if asked for, and the money owed list links to the payment.
    form = _record_page(kim, tom)
    assert str(net) not in _offered(form) and str(got["ids"]["hmrc"]) in _offered(form)
    response = _post(kim, tom, form, net, key="second-go")
    assert response.status_code == 200
    assert "This payment from the pay run has already been recorded and is waiting for a second person to approve it" in response.text
    index = get_page(kim, f"/people/{tom}/managed-account")
    row = index.soup.select_one(f"[data-owed] tr[data-owed-item='{net}']")
    assert row.select_one("a")["href"] == shown and "(waiting for approval)" in row.get_text()
    waiting = " ".join(index.soup.select_one("[data-waiting]").get_text(" ").split())
    assert f"Net pay to Leon Baptiste (pay run {got['words']})" in waiting
    # Kim cannot approve her own; Lee can, from the approvals page.
    page = get_page(kim, shown)
    assert page.soup.select_one("form[data-approve-form]") is None
    lee = _signed_in(money_app, LEE)
    approvals = get_page(lee, "/managed-account/approvals")
    [row] = [r for r in approvals.soup.select("[data-approvals] tr[data-payment]") if r["data-payment"] == shown.rsplit("/", 1)[1]]
    assert f"Net pay to Leon Baptiste (pay run {got['words']})" in " ".join(row.get_text(" ").split())
    page = get_page(lee, shown)
    assert "Check it against the pay run" in _main_text(page.text)
    response = lee.post(f"{shown}/approve", data={"csrf_token": csrf_token(page.text), "version": str(payment.version)})
    assert response.status_code == 302
    # Sent again (a double-click on the old page): paid once.
    again = lee.post(f"{shown}/approve", data={"csrf_token": csrf_token(page.text), "version": str(payment.version)})
    assert again.status_code == 302
    assert "It was paid once; nothing more was changed" in get_page(lee, shown).text
    with money_app.app_context():
        payment = db.session.get(ManagedPayment, payment.id)
        assert payment.status == ManagedPaymentStatus.PAID and payment.approved_by_id == _user(LEE).id
        [entry] = _entries(payment.id)
        assert entry.amount_pence == -amount and entry.entry_date == london_today()
        item = db.session.get(ExpectedItem, net)
        assert item.status == ExpectedStatus.SETTLED and item.settled_by_id == entry.id
        assert ledger.balance(got["account"]) == balance - amount


def test_cancelling_a_waiting_payment_frees_the_item_for_another(money_app):
    got = _payroll(money_app)
    tom, net, amount = got["tom"], got["ids"]["net"], got["owed"]["net"]
    with money_app.app_context():
        _set_limit(100)
    kim = _signed_in(money_app, KIM)
    shown = _post(kim, tom, _record_page(kim, tom), net).headers["Location"]
    page = get_page(kim, shown)
    response = kim.post(f"{shown}/cancel", data={"csrf_token": csrf_token(page.text), "version": "1",
                                                 "reason": "Recorded against the wrong date"})
    assert response.status_code == 302
    with money_app.app_context():
        [cancelled] = _payments_of(net)
        assert cancelled.status == ManagedPaymentStatus.CANCELLED
        assert cancelled.live_item_id is None and cancelled.expected_item_id == net, "freed, and still says what it was for"
        assert db.session.get(ExpectedItem, net).status == ExpectedStatus.OPEN, "still owed"
        assert _entries(cancelled.id) == []
    form = _record_page(kim, tom)
    assert str(net) in _offered(form)
    response = _post(kim, tom, form, net)
    assert response.status_code == 302 and response.headers["Location"] != shown
    with money_app.app_context():
        cancelled, again = _payments_of(net)
        assert again.status == ManagedPaymentStatus.RECORDED and again.live_item_id == net
        service.approve(again, _user(LEE), again.version)
        db.session.commit()
        [entry] = _entries(again.id)
        assert entry.amount_pence == -amount
        assert db.session.get(ExpectedItem, net).settled_by_id == entry.id
        assert _entries(cancelled.id) == []


def test_two_approvers_at_once_pay_the_item_once(money_app):
    """Two requests, each with its own session and connection, approve the same version together."""
    got = _payroll(money_app)
    tom, net, amount = got["tom"], got["ids"]["net"], got["owed"]["net"]
    with money_app.app_context():
        _set_limit(100)
        account = service.managed_account(tom)
        payment = service.record(account, _user(KIM), service.NewPayment(
            kind=ManagedPaymentKind.PAY_RUN, amount_pence=None, pay_on=london_today(), request_key="both", expected_item_id=net))
        payment_id, version = payment.id, payment.version
        assert payment.status == ManagedPaymentStatus.RECORDED and payment.amount_pence == amount
        balance = ledger.balance(account.id)
        db.session.add(User(email=LENA, display_name="Lena Shah", role=Role.DPSS_MANAGER, organisation_id=account.managed_by_id))
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

    threads = [threading.Thread(target=approve, args=(email,)) for email in (LEE, LENA)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=60)
    assert sorted(outcomes) == ["already paid", "approved"]
    with money_app.app_context():
        [entry] = _entries(payment_id)
        assert entry.amount_pence == -amount
        assert ledger.balance(got["account"]) == balance - amount == ledger.balance_from_entries(got["account"])
        item = db.session.get(ExpectedItem, net)
        assert item.status == ExpectedStatus.SETTLED and item.settled_by_id == entry.id


def test_two_members_of_staff_recording_the_same_item_at_once_record_it_once(money_app):
    """Two forms (two request keys) for one item, sent together: one payment holds it, the other is refused."""
    got = _payroll(money_app)
    tom, net = got["tom"], got["ids"]["net"]
    with money_app.app_context():
        _set_limit(100)  # waiting payments: the hold, not the balance, is what stops the second
        organisation = _user(KIM).organisation_id
        db.session.add(User(email=LENA, display_name="Lena Shah", role=Role.DPSS_MANAGER, organisation_id=organisation))
        db.session.commit()
    barrier = threading.Barrier(2, timeout=30)
    outcomes: list[str] = []

    def record(email: str):
        with money_app.app_context():
            try:
                account, user = service.managed_account(tom), _user(email)
                new = service.NewPayment(kind=ManagedPaymentKind.PAY_RUN, amount_pence=None, pay_on=london_today(),
                                         request_key=f"at-once-{email}", expected_item_id=net)
                barrier.wait()
                service.record(account, user, new)
                outcomes.append("recorded")
            except service.PaymentError as refused:
                outcomes.append("refused" if refused.problems and refused.problems[0][0] == "item" else repr(refused.problems))
            except Exception as error:  # noqa: BLE001 - any other outcome fails the test below
                outcomes.append(repr(error))
            finally:
                db.session.remove()

    threads = [threading.Thread(target=record, args=(email,)) for email in (KIM, LENA)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=60)
    assert sorted(outcomes) == ["recorded", "refused"]
    with money_app.app_context():
        [payment] = _payments_of(net)
        assert payment.live_item_id == net and payment.status == ManagedPaymentStatus.RECORDED


# Timesheets the pay run paid ------------------------------------------------------------------------------


def test_a_timesheet_the_pay_run_paid_is_not_offered_or_paid_as_wages(money_app):
    got = _payroll(money_app)
    tom, ts_id = got["tom"], got["timesheet"]
    with money_app.app_context():
        assert db.session.get(PaidTimesheet, ts_id) is not None
        ts = db.session.get(Timesheet, ts_id)
        gross = ts.gross_pence
        when = f"{ts.period_start.day} {ts.period_start.strftime('%B')} to {ts.period_end.day} {ts.period_end.strftime('%B')} {ts.period_end.year}"
        message = f"The timesheet for {when} was paid by the pay run for {got['words']}: pay the net pay from the pay run instead"
        assert service.timesheet_choices(tom)[0] == []
        with pytest.raises(service.PaymentError) as refused:
            service.record(service.managed_account(tom), _user(KIM), service.NewPayment(
                kind=ManagedPaymentKind.WAGES, amount_pence=gross, pay_on=london_today(), request_key="wages-1",
                timesheet_ids=(ts_id,)))
        assert refused.value.problems == [("timesheets", message)]
        db.session.rollback()
    kim = _signed_in(money_app, KIM)
    url = f"/people/{tom}/managed-account/new/wages"
    form = get_page(kim, url)
    assert form.soup.select("input[name=timesheets]") == [] and form.soup.select_one("[data-no-timesheets]") is not None
    assert form.soup.select_one("[data-pay-run-instead] a")["href"] == f"/people/{tom}/managed-account/new/pay-run"
    response = kim.post(url, data={"csrf_token": csrf_token(form.text), "request_key": "wages-2", "timesheets": [str(ts_id)],
                                   "amount": f"{gross // 100}.{gross % 100:02d}", "pay_on": _date(london_today())})
    assert response.status_code == 200
    soup = BeautifulSoup(response.text, "html.parser")
    assert message in [a.get_text(strip=True) for a in soup.select(".govuk-error-summary a")]
    with money_app.app_context():
        assert db.session.scalar(sa.select(sa.func.count()).select_from(ManagedPaymentTimesheet)
                                 .where(ManagedPaymentTimesheet.timesheet_id == ts_id)) == 0
        assert db.session.get(Timesheet, ts_id).paid_on is None


def test_wages_waiting_for_approval_when_the_pay_run_pays_the_timesheet_are_not_paid(money_app):
    tom = person_id(money_app, "Tom", "Hughes")
    with money_app.app_context():
        ts = _approve_leons_timesheet(tom)
        _set_limit(100)
        account = service.managed_account(tom)
        wages = service.record(account, _user(KIM), service.NewPayment(
            kind=ManagedPaymentKind.WAGES, amount_pence=ts.gross_pence, pay_on=london_today(), request_key="early-wages",
            timesheet_ids=(ts.id,)))
        assert wages.status == ManagedPaymentStatus.RECORDED
        run = _run_payroll(tom, ts)
        assert db.session.get(PaidTimesheet, ts.id) is not None
        balance = ledger.balance(account.id)
        wages = db.session.get(ManagedPayment, wages.id)
        with pytest.raises(service.PaymentError) as refused:
            service.approve(wages, _user(LEE), wages.version)
        words = _period_words(run.period_start, run.period_end)
        assert f"was paid by the pay run for {words} since these wages were recorded. Nothing was paid" in refused.value.message
        db.session.rollback()
        assert db.session.get(ManagedPayment, wages.id).status == ManagedPaymentStatus.RECORDED
        assert _entries(wages.id) == [] and ledger.balance(account.id) == balance


# A reversal run -------------------------------------------------------------------------------------------


def test_a_reversal_cancels_the_open_items_and_a_payment_waiting_for_one_is_not_paid(money_app):
    got = _payroll(money_app)
    tom, ids, owed = got["tom"], got["ids"], got["owed"]
    with money_app.app_context():
        account = service.managed_account(tom)
        hmrc = service.record(account, _user(KIM), service.NewPayment(
            kind=ManagedPaymentKind.PAY_RUN, amount_pence=None, pay_on=london_today(), request_key="hmrc", expected_item_id=ids["hmrc"]))
        assert hmrc.status == ManagedPaymentStatus.PAID
        _set_limit(100)
        net = service.record(account, _user(KIM), service.NewPayment(
            kind=ManagedPaymentKind.PAY_RUN, amount_pence=None, pay_on=london_today(), request_key="net", expected_item_id=ids["net"]))
        assert net.status == ManagedPaymentStatus.RECORDED
        reversal = pay_runs.reverse(got["run"], _user(KIM))
        db.session.commit()
        with immediate_transaction():
            pay_runs.approve(reversal.id, db.session.get(PayRun, reversal.id).version, _user(LEE), london_today())
        statuses = {what: db.session.get(ExpectedItem, item_id).status for what, item_id in ids.items()}
        assert statuses == {"net": ExpectedStatus.CANCELLED, "hmrc": ExpectedStatus.SETTLED, "pension": ExpectedStatus.CANCELLED}
        # Nothing of the reversed run is offered any more.
        assert service.pay_run_choices(account.id)[0] == []
        balance = ledger.balance(account.id)
        net = db.session.get(ManagedPayment, net.id)
        with pytest.raises(service.PaymentError, match="The pay run was reversed since this payment was recorded"):
            service.approve(net, _user(LEE), net.version)
        db.session.rollback()
        assert _entries(net.id) == [] and ledger.balance(account.id) == balance
        # What HMRC was paid is due back (out of scope here: it stays an expected item of the reversal).
        back = db.session.scalar(sa.select(ExpectedItem).where(ExpectedItem.key == f"payrun:{reversal.id}:hmrc:{tom}"))
        assert back is not None and back.amount_pence == owed["hmrc"] and back.status == ExpectedStatus.OPEN
        net_id = net.id
    kim = _signed_in(money_app, KIM)
    page = get_page(kim, f"/people/{tom}/managed-account/{net_id}")
    assert "The pay run was reversed since this payment was recorded" in page.soup.select_one("[data-pay-run-gone]").get_text()
    response = kim.post(f"/people/{tom}/managed-account/{net_id}/cancel",
                        data={"csrf_token": csrf_token(page.text), "version": "1", "reason": "The pay run was reversed"})
    assert response.status_code == 302
    with money_app.app_context():
        assert db.session.get(ManagedPayment, net_id).status == ManagedPaymentStatus.CANCELLED
        assert db.session.get(ManagedPayment, net_id).live_item_id is None
    assert _offered(_record_page(kim, tom)) == []
    assert _record_page(kim, tom).soup.select_one("[data-no-pay-run-items]") is not None


# Who sees what ------------------------------------------------------------------------------------------


def test_tom_and_the_case_page_see_the_payment_as_what_it_paid(money_app):
    got = _payroll(money_app)
    tom, net, amount = got["tom"], got["ids"]["net"], got["owed"]["net"]
    summary = f"Net pay to Leon Baptiste (pay run {got['words']})"
    kim = _signed_in(money_app, KIM)
    shown = _post(kim, tom, _record_page(kim, tom), net).headers["Location"]
    case = get_page(kim, f"/people/{tom}/case")
    managed = " ".join(case.soup.select_one("[data-section='managed-account']").get_text(" ").split())
    assert f"From a pay run, paid {summary}: {_pounds(amount)}" in managed
    me = _signed_in(money_app, TOM)
    money = get_page(me, f"/people/{tom}/money")
    rows = [" ".join(r.get_text(" ").split()) for r in money.soup.select("[data-managed-payments] tr[data-payment]")]
    assert any(summary in row and _pounds(amount) in row and "Paid" in row for row in rows)
    detail = get_page(me, shown)
    text = _main_text(detail.text)
    assert summary in text and f"Pays Net pay to Leon Baptiste, from the pay run for {got['words']}" in text
    assert detail.soup.select_one("form[data-approve-form]") is None and detail.soup.select_one("form[data-cancel-form]") is None
    get_page(me, f"/people/{tom}/managed-account/new/pay-run", status=403)


def test_other_organisations_staff_and_everyone_else_are_refused(money_app):
    got = _payroll(money_app)
    tom, net = got["tom"], got["ids"]["net"]
    with money_app.app_context():
        _set_limit(100)
        account = service.managed_account(tom)
        with pytest.raises(service.NotAllowed):
            service.record(account, _user(OMAR), service.NewPayment(
                kind=ManagedPaymentKind.PAY_RUN, amount_pence=None, pay_on=london_today(), request_key="omar", expected_item_id=net))
        db.session.rollback()
        waiting = service.record(account, _user(KIM), service.NewPayment(
            kind=ManagedPaymentKind.PAY_RUN, amount_pence=None, pay_on=london_today(), request_key="kim", expected_item_id=net))
        with pytest.raises(service.NotAllowed):
            service.approve(db.session.get(ManagedPayment, waiting.id), _user(OMAR), waiting.version)
        db.session.rollback()
        waiting_id = waiting.id
    url = f"/people/{tom}/managed-account/new/pay-run"
    omar = _signed_in(money_app, OMAR)
    get_page(omar, url, status=404)
    token = csrf_token(get_page(omar, "/work").text)
    data = {"csrf_token": token, "request_key": "omar-form", "item": str(got["ids"]["hmrc"]), "pay_on": _date(london_today())}
    assert omar.post(url, data=data).status_code == 404
    for action in ("approve", "cancel"):
        assert omar.post(f"/people/{tom}/managed-account/{waiting_id}/{action}",
                         data={"csrf_token": token, "version": "1", "reason": "x"}).status_code == 404
    for email, status in ((RACHEL, 403), (TOM, 403), (ADMIN, 403), ("amina@example.org", 403)):
        client = _signed_in(money_app, email)
        get_page(client, url, status=status)
        mine = csrf_token(client.get("/home", follow_redirects=True).text)
        assert client.post(url, data={**data, "csrf_token": mine, "request_key": f"form-{email}"}).status_code == status
    assert money_app.test_client().get(url).status_code == 302
    with money_app.app_context():
        assert [p.id for p in _payments_of(got["ids"]["hmrc"])] == []
        assert db.session.get(ManagedPayment, waiting_id).status == ManagedPaymentStatus.RECORDED
        assert {db.session.get(ExpectedItem, i).status for i in got["ids"].values()} == {ExpectedStatus.OPEN}
