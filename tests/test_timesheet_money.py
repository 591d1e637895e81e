"""An approved timesheet is money owed until it is paid: by a matching card payment in an imported
statement, by a bank payment recorded by hand, or by the employer marking it paid."""

from datetime import date, time, timedelta

import pytest
import sqlalchemy as sa

from portal.extensions import db
from portal.models import (
    DPAccount,
    Employment,
    ExpectedItem,
    ExpectedKind,
    ExpectedStatus,
    Person,
    RateType,
    Timesheet,
    TimesheetStatus,
    User,
)
from portal.services import card_import, evidence, ledger, timesheets
from portal.services.clock import london_today
from portal.services.demo import receipt_pdf
from portal.services.timesheets import ShiftInput
from tests.conftest import get_page, sign_in


def _person(given: str, family: str) -> Person:
    return db.session.scalar(sa.select(Person).where(Person.given_name == given, Person.family_name == family))


def _user(email: str) -> User:
    return db.session.scalar(sa.select(User).where(User.email == email))


def _approve_sophies_draft() -> tuple[int, int, date, int]:
    """Submit and approve Sophie's current timesheet: (timesheet id, account id, pay date, gross)."""
    amina, sophie = _person("Amina", "Patel"), _person("Sophie", "Clarke")
    ts = db.session.scalar(sa.select(Timesheet).where(Timesheet.pa_id == sophie.id, Timesheet.status == TimesheetStatus.DRAFT))
    timesheets.submit(ts, _user("sophie.pa@example.org"), ts.version)
    timesheets.approve(ts, _user("amina@example.org"), ts.version)
    db.session.commit()
    item = timesheets.expected_item(ts)
    assert item.status == ExpectedStatus.OPEN and item.amount_pence == -ts.gross_pence
    assert item.account_id == timesheets.employer_account_id(amina.id)
    return ts.id, item.account_id, item.due_date, ts.gross_pence


def _statement(tmp_path, card: str, rows: list[tuple[str, date, int]]):
    lines = ["Transaction ID,Card Account,Date,Time,Merchant,Merchant Category Code,Description,Debit,Credit,Balance"]
    for ident, day, pence in rows:
        lines.append(f"{ident},{card},{day:%d/%m/%Y},10:00,S CLARKE,,PA wages,{pence / 100:.2f},,")
    path = tmp_path / "statement.csv"
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return path


@pytest.mark.parametrize("days_late, settles", [(0, True), (5, True), (6, False)])
def test_a_card_payment_of_the_same_amount_within_5_days_settles_the_timesheet(money_app, tmp_path, days_late, settles):
    with money_app.app_context():
        ts_id, account_id, pay_date, gross = _approve_sophies_draft()
        card = db.session.get(DPAccount, account_id).card_reference
        owed_before = ledger.money_owed(account_id)
        card_import.import_file(_statement(tmp_path, card, [(f"TS-PAY-{days_late}", pay_date + timedelta(days=days_late), gross)]))
        item = db.session.scalar(sa.select(ExpectedItem).where(ExpectedItem.key == f"timesheet:{ts_id}"))
        assert (item.status == ExpectedStatus.SETTLED) is settles
        assert ledger.money_owed(account_id) == owed_before - (gross if settles else 0)
    if settles:
        client = money_app.test_client()
        sign_in(client, "amina@example.org")
        summary = get_page(client, f"/timesheets/{ts_id}").soup.select_one(".govuk-summary-list").get_text(" ", strip=True)
        assert "from the direct payment account" in summary


def test_a_card_payment_of_a_different_amount_leaves_it_owed(money_app, tmp_path):
    with money_app.app_context():
        ts_id, account_id, pay_date, gross = _approve_sophies_draft()
        card = db.session.get(DPAccount, account_id).card_reference
        card_import.import_file(_statement(tmp_path, card, [("TS-PAY-X", pay_date, gross - 1)]))
        assert timesheets.expected_item(db.session.get(Timesheet, ts_id)).status == ExpectedStatus.OPEN


def _bank_account_employer_with_item(amount: int, due: date) -> tuple[DPAccount, ExpectedItem]:
    """Ellen has a bank-account direct payment: give her a PA's approved wages to pay."""
    ellen = _person("Ellen", "Marsh")
    account = db.session.scalar(sa.select(DPAccount).where(DPAccount.recipient_id == ellen.id))
    item = ExpectedItem(account_id=account.id, kind=ExpectedKind.TIMESHEET, amount_pence=-amount, due_date=due,
                        key="timesheet:test-bank", description="PA timesheet")
    db.session.add(item)
    db.session.commit()
    return account, item


@pytest.mark.parametrize("paid, day_offset, settles", [(41250, 2, True), (41250, -5, True), (41250, 6, False), (41249, 0, False)])
def test_a_bank_payment_recorded_by_hand_settles_a_matching_timesheet(money_app, paid, day_offset, settles):
    with money_app.app_context():
        due = london_today() - timedelta(days=10)
        account, item = _bank_account_employer_with_item(41250, due)
        cleaned = evidence.check_and_clean(receipt_pdf("PA wages", due, paid), "payslip.pdf")
        entry = evidence.add_manual_spend(account, due + timedelta(days=day_offset), "J SMITH", evidence.Category.PA_WAGES,
                                          "Wages", paid, cleaned, None)
        item = db.session.get(ExpectedItem, item.id)
        assert (item.status == ExpectedStatus.SETTLED) is settles
        assert (item.settled_by_id == entry.id) is settles


def test_a_correction_that_lowers_pay_already_paid_expects_the_overpayment_back(money_app):
    with money_app.app_context():
        ts_id, account_id, pay_date, gross = _approve_sophies_draft()
        ts = db.session.get(Timesheet, ts_id)
        timesheets.mark_paid(ts, _user("amina@example.org"), min(london_today(), pay_date))
        db.session.commit()
        owed_when_paid = ledger.money_owed(account_id)
        correction = timesheets.start_correction(ts, _user("sophie.pa@example.org"))
        shift = correction.shifts[0]
        timesheets.remove_shift(correction, shift.id, correction.version)
        timesheets.submit(correction, _user("sophie.pa@example.org"), correction.version)
        timesheets.approve(correction, _user("amina@example.org"), correction.version)
        db.session.commit()
        back = timesheets.expected_item(correction)
        assert back.amount_pence == gross - correction.gross_pence > 0  # money due back into the account
        assert "Overpaid" in back.description
        assert ledger.money_owed(account_id) == owed_when_paid  # money coming back is not money owed
        owed = db.session.scalar(sa.select(sa.func.count()).select_from(ExpectedItem).where(
            ExpectedItem.key == f"timesheet:{correction.id}", ExpectedItem.amount_pence < 0))
        assert owed == 0


def test_a_manage_level_representative_approves_and_the_pay_is_owed_from_the_persons_account(money_app):
    """David approves for Grace (he is her authorised person): the wages are owed from Grace's account."""
    with money_app.app_context():
        grace = _person("Grace", "Okafor")
        pa = Person(given_name="Ruth", family_name="Ames")
        db.session.add(pa)
        db.session.flush()
        employment = Employment(pa_id=pa.id, employer_id=grace.id, start_date=date(2026, 1, 5), day_rate_pence=1300)
        db.session.add(employment)
        db.session.flush()
        period = timesheets.period_for(employment, london_today() - timedelta(days=14))
        ts = timesheets.start(employment, period, None)
        timesheets.add_shift(ts, ShiftInput(period.start, time(9), time(12), False, 0, RateType.DAY), ts.version)
        david = _user("david@example.org")
        account_id = timesheets.employer_account_id(grace.id)
        owed_before = ledger.money_owed(account_id)
        timesheets.submit(ts, david, ts.version)
        assert timesheets.approve(ts, david, ts.version)
        db.session.commit()
        assert ts.status == TimesheetStatus.APPROVED and ts.gross_pence == 3900
        assert ledger.money_owed(account_id) == owed_before + 3900
