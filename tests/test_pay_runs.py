"""Pay runs: a draft from approved timesheets (hours x rate, holiday, SSP, corrections), a second person
approves exactly once, then the money is expected from the employer's account; reversals; the CSV for
HMRC; and who sees what.

The demo (personas.md): Amina is on Brightpath's payroll service. Sophie works for her fortnightly at
£14.00 an hour (day), 20 contracted hours a week, Mondays, Tuesdays, Thursdays and Fridays 9:00 to 14:00,
holiday ACCRUED, tax code 1257L, pension enrolled; her timesheets are approved by Amina. Joan Price works
for her 4-weekly on paper, 28 hours a period at £12.75, 7 contracted hours a week, holiday ROLLED_UP, tax
code BR; her newest paper timesheet waits for Brightpath to key it in. Kim (caseworker, payroll
permission) builds runs, Lee (manager) approves them; Omar is Harbour's.

Expected pay is worked in the tests from the shifts (minutes x rate / 60, to the penny) and the rates in
rates.md, never read back from the code under test. Tax, NI and pension figures are P1's tests
(tests/test_payroll_calc.py); here only what is passed to payroll_calc.calculate is checked.
"""

import threading
from dataclasses import replace
from datetime import date, time, timedelta
from decimal import Decimal

import pytest
import sqlalchemy as sa
from bs4 import BeautifulSoup

from portal.extensions import db
from portal.models import (
    Budget,
    DPAccount,
    Employment,
    ExpectedItem,
    ExpectedKind,
    ExpectedStatus,
    LeaveKind,
    LeaveRecord,
    PaidTimesheet,
    PayPeriod,
    PayRun,
    PayRunKind,
    PayRunStatus,
    Payslip,
    PayslipLineKind,
    Person,
    RateType,
    Role,
    StarterDeclaration,
    Timesheet,
    TimesheetStatus,
    User,
)
from portal.services import ledger, local_settings, pay_periods, pay_runs, payroll_calc, timesheets
from portal.services.clock import london_today
from portal.services.timesheets import KeyedTotals, ShiftInput
from portal.sqlite import immediate_transaction
from tests.conftest import csrf_token, get_page, sign_in

KIM, LEE, OMAR = "kim@brightpath.example", "lee@brightpath.example", "omar@harbour.example"
RACHEL, AMINA, SOPHIE, ADMIN = "rachel@northfield.example", "amina@example.org", "sophie.pa@example.org", "admin@example.org"
SOPHIE_DAY, SOPHIE_NIGHT, SOPHIE_WEEKEND, SOPHIE_SLEEP_IN = 1400, 1500, 1550, 9000
JOAN_DAY = 1275
K = PayslipLineKind


# Helpers ------------------------------------------------------------------------------------------


@pytest.fixture
def money_app(money_before_payroll_app):
    """These tests build their own pay runs: the demo before Brightpath's first one."""
    return money_before_payroll_app


def _user(email: str) -> User:
    return db.session.scalar(sa.select(User).where(User.email == email))


def _person(given: str, family: str) -> int:
    return db.session.scalar(sa.select(Person.id).where(Person.given_name == given, Person.family_name == family))


def _employment(given: str, family: str) -> Employment:
    return db.session.scalar(sa.select(Employment).where(Employment.pa_id == _person(given, family)))


def _brightpath() -> int:
    return _user(KIM).organisation_id


def _half_up(numerator: int, denominator: int) -> int:
    """Independent of the code under test: round half up for non-negative numbers."""
    return (2 * numerator + denominator) // (2 * denominator)


def _unpaid(ts: Timesheet) -> Timesheet:
    """The demo marks a timesheet paid by the employer once its pay date is 3 days gone: undo that, so the
    tests do not depend on the day they run."""
    if ts.paid_on is not None:
        ts.paid_on = None
        db.session.execute(sa.update(ExpectedItem).where(ExpectedItem.key == f"timesheet:{ts.id}").values(status=ExpectedStatus.OPEN))
        db.session.flush()
    return ts


def _sophie_last(offset: int = 0) -> Timesheet:
    """Sophie's approved timesheet for the last complete fortnight (offset 1: the one before), unpaid."""
    employment = _employment("Sophie", "Clarke")
    cal = pay_periods.calendar_for(employment.employer_id)
    period = pay_periods.period_containing(PayPeriod.FORTNIGHTLY, cal, london_today())
    for _ in range(offset + 1):
        period = pay_periods.previous_period(PayPeriod.FORTNIGHTLY, cal, period)
    ts = db.session.scalar(sa.select(Timesheet).where(Timesheet.employment_id == employment.id, Timesheet.period_start == period.start,
                                                      Timesheet.status == TimesheetStatus.APPROVED))
    assert ts is not None
    return _unpaid(ts)


def _expected_lines(ts: Timesheet) -> dict[RateType, tuple[int, int, int]]:
    """(minutes, rate, pence) by rate type, from the shifts: minutes x rate / 60 to the penny."""
    rates = {RateType.DAY: SOPHIE_DAY, RateType.NIGHT: SOPHIE_NIGHT, RateType.WEEKEND: SOPHIE_WEEKEND}
    minutes = {kind: sum(s.minutes for s in ts.shifts if s.rate_type == kind) for kind in rates}
    return {kind: (m, rates[kind], _half_up(m * rates[kind], 60)) for kind, m in minutes.items() if m}


def _build(ts: Timesheet, email: str = KIM) -> PayRun:
    run = pay_runs.build_draft(_brightpath(), ts.employment.pay_period, ts.period_start, _user(email), london_today())
    db.session.commit()
    return run


def _payslip(run: PayRun, given: str, family: str) -> Payslip:
    pa = _person(given, family)
    found = [p for p in db.session.get(PayRun, run.id).payslips if p.pa_id == pa]
    assert len(found) == 1, found
    return found[0]


def _approve(run: PayRun, email: str = LEE) -> PayRun:
    run = db.session.get(PayRun, run.id)
    with immediate_transaction():
        pay_runs.approve(run.id, run.version, _user(email), london_today())
    return db.session.get(PayRun, run.id)


def _items(run_id: int) -> list[ExpectedItem]:
    return list(db.session.scalars(sa.select(ExpectedItem).where(ExpectedItem.key.like(f"payrun:{run_id}:%")).order_by(ExpectedItem.key)))


def _account(employer_id: int) -> int:
    return timesheets.employer_account_id(employer_id)


def _second_manager() -> User:
    user = User(email="lena@brightpath.example", display_name="Lena Shah", role=Role.DPSS_MANAGER, organisation_id=_brightpath())
    db.session.add(user)
    db.session.commit()
    return user


class Spy:
    """Records what payroll_calc.calculate is given (and lets the real one work it out)."""

    def __init__(self, monkeypatch):
        self.inputs: list[payroll_calc.PayInput] = []
        real = payroll_calc.calculate

        def calculate(pay):
            self.inputs.append(pay)
            return real(pay)

        monkeypatch.setattr(payroll_calc, "calculate", calculate)


def _joan_keyed() -> Timesheet:
    """Joan's newest paper timesheet, keyed in by Kim (28 hours) and so approved (Amina uploaded it signed)."""
    joan = _employment("Joan", "Price")
    ts = db.session.scalar(sa.select(Timesheet).where(Timesheet.employment_id == joan.id, Timesheet.status == TimesheetStatus.AWAITING_KEYING))
    timesheets.key_in(ts, _user(KIM), KeyedTotals(day_minutes=28 * 60), ts.version)
    db.session.commit()
    assert ts.status == TimesheetStatus.APPROVED
    return ts


# Building a draft ------------------------------------------------------------------------------------


def test_a_draft_pays_the_approved_timesheet_hours_times_rate(money_app, monkeypatch):
    with money_app.app_context():
        ts = _sophie_last()
        db.session.commit()
        spy = Spy(monkeypatch)
        run = _build(ts)
        assert run.status == PayRunStatus.DRAFT and run.kind == PayRunKind.REGULAR and run.version == 1
        assert run.run_key == f"{_brightpath()}:fortnightly:{ts.period_start.isoformat()}"
        assert (run.period_start, run.period_end) == (ts.period_start, ts.period_end)
        # Only fortnightly PAs: Joan (4-weekly) is not in this run.
        assert [p.pa_id for p in run.payslips] == [ts.pa_id]
        payslip = run.payslips[0]
        expected = _expected_lines(ts)
        hours = [(line.quantity, line.rate_pence, line.amount_pence) for line in payslip.lines if line.kind == K.HOURS]
        assert sorted(hours) == sorted(expected.values())
        assert all(line.timesheet_id == ts.id for line in payslip.lines if line.kind == K.HOURS)
        gross = sum(p for _, _, p in expected.values())
        sleep_ins = sum(1 for s in ts.shifts if s.rate_type == RateType.SLEEP_IN)
        gross += sleep_ins * SOPHIE_SLEEP_IN
        minutes = sum(m for m, _, _ in expected.values())
        if not sleep_ins:  # outside Christmas: four 5-hour days a week, 40 hours at £14.00 = £560.00
            assert (minutes, gross) == (2400, 56000)
        assert payslip.gross_pence == gross and payslip.minutes_worked == minutes
        assert payslip.non_taxable_pence == 0 and payslip.ssp_pence == 0 and payslip.holiday_pay_pence == 0
        # ACCRUED: 12.07% of the minutes worked, rounded down (40 hours: 289.68, so 289 minutes), shown not paid.
        assert payslip.holiday_accrued_minutes == minutes * 1207 // 10000
        assert payslip.problems == ""
        assert (payslip.tax_code, payslip.week1_month1, payslip.ni_category, payslip.pension_enrolled) == ("1257L", False, "A", True)
        # Wiring: what calculate was given.
        [pay] = spy.inputs
        assert (pay.tax_code, pay.week1_month1, pay.tax_period) == ("1257L", False, run.tax_period)
        assert (pay.taxable_pay_pence, pay.non_taxable_pence) == (gross, 0)
        assert (pay.ytd_taxable_before_pence, pay.ytd_tax_before_pence) == (0, 0)
        assert pay.employment_allowance_left_pence == 1_050_000  # £10,500 a year, none claimed yet
        assert pay.age == timesheets.age_on(date(1996, 5, 12), run.pay_date)
        assert pay.rates.frequency == PayPeriod.FORTNIGHTLY
        # The payslip holds what calculate worked out.
        figures = payroll_calc.calculate(replace(pay))
        assert (payslip.tax_pence, payslip.employee_ni_pence, payslip.net_pence, payslip.employer_ni_pence) == (
            figures.tax_pence, figures.employee_ni_pence, figures.net_pence, figures.employer_ni_pence)
        assert payslip.ytd_gross_pence == gross and payslip.ytd_tax_pence == figures.tax_pence
        labels = [s["label"] for s in pay_runs.steps_of(payslip)]
        assert "Minimum wage" in labels and "Holiday earned" in labels and any(s.label in labels for s in figures.steps)


def test_the_tax_period_is_the_one_holding_the_pay_date(money_app):
    with money_app.app_context():
        ts = _sophie_last()
        run = _build(ts)
        # Tax weeks count from 6 April: week n holds days 7(n-1) to 7n-1 after it.
        assert run.tax_year_start == date(run.pay_date.year if run.pay_date >= date(run.pay_date.year, 4, 6) else run.pay_date.year - 1, 4, 6)
        assert run.tax_period == (run.pay_date - run.tax_year_start).days // 7 + 1


def test_a_second_draft_for_the_same_period_is_the_first_rebuilt(money_app):
    with money_app.app_context():
        ts = _sophie_last()
        first = _build(ts)
        again = _build(ts, email=KIM)
        assert again.id == first.id and again.version == 2
        assert len(again.payslips) == 1  # replaced, not added to
        assert db.session.scalar(sa.select(sa.func.count()).select_from(Payslip)) == 1
        assert db.session.scalar(sa.select(sa.func.count()).select_from(PayRun)) == 1


def test_a_late_timesheet_is_paid_by_the_next_run(money_app):
    with money_app.app_context():
        older = _sophie_last(offset=1)
        ts = _sophie_last()
        run = _build(ts)
        payslip = run.payslips[0]
        paid = {line.timesheet_id for line in payslip.lines if line.kind == K.HOURS}
        assert paid == {older.id, ts.id}
        expected = sum(p for t in (older, ts) for _, _, p in _expected_lines(t).values())
        sleep_ins = sum(1 for t in (older, ts) for s in t.shifts if s.rate_type == RateType.SLEEP_IN)
        assert payslip.gross_pence == expected + sleep_ins * SOPHIE_SLEEP_IN


def test_holiday_accrued_and_taken_are_shown_and_holiday_taken_is_paid_at_the_day_rate(money_app):
    with money_app.app_context():
        ts = _sophie_last()
        db.session.add(LeaveRecord(employment_id=ts.employment_id, kind=LeaveKind.HOLIDAY, first_day=ts.period_start + timedelta(days=2),
                                   last_day=ts.period_start + timedelta(days=2), hours=Decimal("5")))
        db.session.commit()
        payslip = _build(ts).payslips[0]
        [holiday] = [line for line in payslip.lines if line.kind == K.HOLIDAY]
        # 5 hours at the day rate of £14.00 = £70.00.
        assert (holiday.quantity, holiday.rate_pence, holiday.amount_pence) == (300, 1400, 7000)
        assert payslip.holiday_taken_minutes == 300 and payslip.holiday_pay_pence == 7000
        hours_pay = sum(line.amount_pence for line in payslip.lines if line.kind == K.HOURS)
        sleep_ins = sum(line.amount_pence for line in payslip.lines if line.kind == K.SLEEP_IN)
        assert payslip.gross_pence == hours_pay + sleep_ins + 7000
        assert payslip.holiday_accrued_minutes == payslip.minutes_worked * 1207 // 10000


def test_rolled_up_holiday_pay_is_a_separate_line_at_12_07_percent(money_app, monkeypatch):
    with money_app.app_context():
        ts = _joan_keyed()
        spy = Spy(monkeypatch)
        run = _build(ts)
        assert run.pay_period == PayPeriod.FOUR_WEEKLY
        payslip = _payslip(run, "Joan", "Price")
        [hours] = [line for line in payslip.lines if line.kind == K.HOURS]
        # 28 hours at £12.75 = £357.00; rolled-up holiday 12.07% of £357.00 = £43.0899, to the penny £43.09.
        assert (hours.quantity, hours.rate_pence, hours.amount_pence) == (1680, JOAN_DAY, 35700)
        [rolled] = [line for line in payslip.lines if line.kind == K.ROLLED_UP_HOLIDAY]
        assert rolled.amount_pence == 4309 and rolled.taxable
        assert payslip.gross_pence == 35700 + 4309 and payslip.holiday_pay_pence == 4309
        assert payslip.holiday_accrued_minutes == 0
        [pay] = spy.inputs
        assert (pay.tax_code, pay.week1_month1, pay.taxable_pay_pence) == ("BR", False, 40009)


# Statutory Sick Pay -------------------------------------------------------------------------------


def test_ssp_is_paid_from_the_first_day_of_sickness(money_app):
    with money_app.app_context():
        ts = _sophie_last()
        monday = ts.period_start  # fortnights start on Mondays, a day Sophie works
        db.session.add(LeaveRecord(employment_id=ts.employment_id, kind=LeaveKind.SICKNESS, first_day=monday, last_day=monday))
        db.session.commit()
        payslip = _build(ts).payslips[0]
        [ssp] = [line for line in payslip.lines if line.kind == K.SSP]
        # No payslips in the 8 weeks before: 20 contracted hours at £14.00 = £280.00 a week; 80% is £224.00, more
        # than the flat £123.25, so £123.25 a week. Sophie works 4 days a week (Mon, Tue, Thu, Fri): one day is
        # £123.25 / 4 = £30.8125, rounded up to the penny (HMRC's daily rate tables) £30.82. The first day is paid.
        assert (ssp.quantity, ssp.amount_pence) == (1, 3082)
        assert payslip.ssp_pence == 3082
        assert payslip.gross_pence == sum(line.amount_pence for line in payslip.lines if line.taxable)


def test_ssp_is_capped_at_80_percent_of_average_weekly_earnings(money_app):
    with money_app.app_context():
        ts = _joan_keyed()
        first = ts.period_start + timedelta(days=7)
        db.session.add(LeaveRecord(employment_id=ts.employment_id, kind=LeaveKind.SICKNESS, first_day=first, last_day=first + timedelta(days=1)))
        db.session.commit()
        payslip = _payslip(_build(ts), "Joan", "Price")
        [ssp] = [line for line in payslip.lines if line.kind == K.SSP]
        # Joan: 7 contracted hours at £12.75 = £89.25 a week; 80% = £71.40, less than £123.25, so £71.40 a week.
        # Paper timesheets only, so every day is a qualifying day: 2 days = £71.40 x 2 / 7 = £20.40.
        assert (ssp.quantity, ssp.amount_pence) == (2, 2040)
        step = next(s for s in pay_runs.steps_of(payslip) if s["label"] == "Statutory Sick Pay")
        assert "£71.40 a week" in step["detail"]


# The tax code and NI category ---------------------------------------------------------------------


@pytest.mark.parametrize(("code", "declaration", "started", "expected"), [
    ("1257L", None, date(2020, 1, 1), ("1257L", False, False)),
    ("1257L W1", None, date(2020, 1, 1), ("1257L", True, False)),
    ("1257L M1", None, date(2020, 1, 1), ("1257L", True, False)),
    ("1257LX", None, date(2020, 1, 1), ("1257L", True, False)),
    ("K475", None, date(2020, 1, 1), ("K475", False, False)),
    ("", StarterDeclaration.A, date(2026, 6, 1), ("1257L", False, False)),
    ("", StarterDeclaration.B, date(2026, 6, 1), ("1257L", True, False)),
    ("", StarterDeclaration.C, date(2026, 6, 1), ("0T", True, False)),
    ("", None, date(2026, 6, 1), ("0T", True, True)),  # new starter, no P45, no checklist: emergency, flagged
    ("", None, date(2020, 1, 1), ("1257L", False, True)),  # employed before this tax year: default, flagged
])
def test_the_tax_code_for_an_employment(code, declaration, started, expected):
    employment = Employment(tax_code=code, starter_declaration=declaration, start_date=started)
    found = pay_runs.tax_code_for(employment, date(2026, 4, 6))
    assert (found.code, found.week1_month1, found.flagged) == expected


def test_a_pa_under_21_on_the_pay_date_is_category_m(money_app, monkeypatch):
    with money_app.app_context():
        ts = _sophie_last()
        employment = ts.employment
        period = timesheets.period_of(ts)
        employment.pa_date_of_birth = period.pay_date.replace(year=period.pay_date.year - 20)  # 20 on the pay date
        db.session.commit()
        spy = Spy(monkeypatch)
        payslip = _build(ts).payslips[0]
        assert payslip.ni_category == "M" and spy.inputs[0].age == 20


def test_a_new_starter_without_a_p45_or_checklist_gets_0t_week1_and_is_flagged(money_app, monkeypatch):
    with money_app.app_context():
        ts = _sophie_last()
        employment = ts.employment
        employment.tax_code, employment.starter_declaration = "", None
        employment.start_date = date(2026, 4, 6) if london_today() >= date(2026, 4, 6) else employment.start_date
        db.session.commit()
        spy = Spy(monkeypatch)
        payslip = _build(ts).payslips[0]
        assert (payslip.tax_code, payslip.week1_month1) == ("0T", True)
        assert (spy.inputs[0].tax_code, spy.inputs[0].week1_month1) == ("0T", True)
        flagged = [s for s in pay_runs.steps_of(payslip) if s.get("flag")]
        assert any("emergency code 0T" in s["detail"] for s in flagged)
        run_id = payslip.run_id
    lee = money_app.test_client()
    sign_in(lee, LEE)
    page = get_page(lee, f"/payroll/runs/{run_id}")
    tag = page.soup.select_one("[data-payslip] .govuk-tag--yellow")
    assert tag is not None and "Which tax code" in tag["title"]


# Approval ------------------------------------------------------------------------------------------


def test_the_person_who_built_the_run_cannot_approve_it(money_app):
    with money_app.app_context():
        ts = _sophie_last()
        run = _build(ts)
        with pytest.raises(pay_runs.NotAllowed, match="You built this pay run"):
            pay_runs.approve(run.id, run.version, _user(KIM), london_today())
        db.session.rollback()
        # Lee rebuilds it: now neither Kim (who started it) nor Lee (who built it last) may approve.
        run = pay_runs.build_draft(_brightpath(), PayPeriod.FORTNIGHTLY, ts.period_start, _user(LEE), london_today())
        db.session.commit()
        for email in (KIM, LEE):
            with pytest.raises(pay_runs.NotAllowed):
                pay_runs.approve(run.id, run.version, _user(email), london_today())
            db.session.rollback()
        # Another Brightpath manager may; Omar (Harbour, payroll permission) may not.
        with pytest.raises(pay_runs.NotAllowed):
            pay_runs.approve(run.id, run.version, _user(OMAR), london_today())
        db.session.rollback()
        lena = _second_manager()
        assert _approve(run, lena.email).status == PayRunStatus.APPROVED


def test_a_stale_version_is_refused_and_changes_nothing(money_app):
    with money_app.app_context():
        ts = _sophie_last()
        run = _build(ts)
        old = run.version
        _build(ts)  # rebuilt meanwhile (a second tab)
        with pytest.raises(pay_runs.StaleRun):
            pay_runs.approve(run.id, old, _user(LEE), london_today())
        db.session.rollback()
        run = db.session.get(PayRun, run.id)
        assert run.status == PayRunStatus.DRAFT and run.version == old + 1
        assert _items(run.id) == [] and db.session.get(PaidTimesheet, ts.id) is None


def test_a_payslip_under_the_minimum_wage_blocks_approval_and_says_why(money_app):
    with money_app.app_context():
        ts = _sophie_last()
        ts.employment.day_rate_pence = 1200  # £12.00: under the National Living Wage, £12.71 from 1 April 2026
        db.session.commit()
        run = _build(ts)
        payslip = run.payslips[0]
        assert "below the National Living Wage for people aged 21 and over, £12.71 an hour" in payslip.problems
        if not any(s.rate_type != RateType.DAY for s in ts.shifts):
            assert "£12.00 an hour" in payslip.problems
        with pytest.raises(pay_runs.PayRunError, match="National Living Wage") as refused:
            pay_runs.approve(run.id, run.version, _user(LEE), london_today())
        assert "Sophie Clarke" in refused.value.message
        db.session.rollback()
        assert db.session.get(PayRun, run.id).status == PayRunStatus.DRAFT and _items(run.id) == []
        # Put right and rebuilt: it approves.
        ts.employment.day_rate_pence = SOPHIE_DAY
        db.session.commit()
        run = _build(ts)
        assert run.payslips[0].problems == ""
        assert _approve(run).status == PayRunStatus.APPROVED


def _check_items(run: PayRun, ts: Timesheet) -> None:
    payslip = run.payslips[0]
    account = _account(payslip.employer_id)
    items = {i.key: i for i in _items(run.id)}
    expected = {f"payrun:{run.id}:net:{payslip.id}": -payslip.net_pence}
    hmrc = payslip.tax_pence + payslip.employee_ni_pence + payslip.employer_ni_pence
    pension = payslip.employee_pension_pence + payslip.employer_pension_pence
    if hmrc:
        expected[f"payrun:{run.id}:hmrc:{payslip.employer_id}"] = -hmrc
    if pension:
        expected[f"payrun:{run.id}:pension:{payslip.employer_id}"] = -pension
    assert {k: i.amount_pence for k, i in items.items()} == expected
    assert all(i.kind == ExpectedKind.PAY_RUN and i.account_id == account and i.due_date == run.pay_date
               and i.status == ExpectedStatus.OPEN for i in items.values())
    assert db.session.get(PaidTimesheet, ts.id).payslip_id == payslip.id


def test_approval_expects_each_item_once_and_approving_again_changes_nothing(money_app):
    with money_app.app_context():
        ts = _sophie_last()
        run = _build(ts)
        version = run.version
        run = _approve(run)
        assert run.version == version + 1 and run.approved_by_id == _user(LEE).id
        _check_items(run, ts)
        before = len(_items(run.id))
        for again in (version, run.version):
            with pytest.raises(pay_runs.AlreadyApproved):
                pay_runs.approve(run.id, again, _user(LEE), london_today())
            db.session.rollback()
        assert len(_items(run.id)) == before
        # An approved run is never rebuilt.
        with pytest.raises(pay_runs.AlreadyApproved):
            pay_runs.build_draft(_brightpath(), PayPeriod.FORTNIGHTLY, ts.period_start, _user(KIM), london_today())
        db.session.rollback()
        assert db.session.get(PayRun, run.id).version == version + 1


def test_two_approvers_at_once_approve_once(money_app):
    with money_app.app_context():
        ts = _sophie_last()
        run = _build(ts)
        run_id, version, ts_id = run.id, run.version, ts.id
        _second_manager()
    barrier = threading.Barrier(2, timeout=30)
    outcomes: list[str] = []

    def approve(email: str):
        with money_app.app_context():
            try:
                user = _user(email)
                assert db.session.get(PayRun, run_id).status == PayRunStatus.DRAFT
                barrier.wait()
                with immediate_transaction():
                    pay_runs.approve(run_id, version, user, london_today())
                outcomes.append("approved")
            except pay_runs.AlreadyApproved:
                outcomes.append("already approved")
            except Exception as error:  # noqa: BLE001 - any other outcome fails the test below
                outcomes.append(repr(error))
            finally:
                db.session.remove()

    threads = [threading.Thread(target=approve, args=(email,)) for email in (LEE, "lena@brightpath.example")]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=60)
    assert sorted(outcomes) == ["already approved", "approved"]
    with money_app.app_context():
        run = db.session.get(PayRun, run_id)
        assert run.status == PayRunStatus.APPROVED and run.version == version + 1
        _check_items(run, db.session.get(Timesheet, ts_id))


def test_a_crash_after_the_claim_leaves_the_draft_and_a_rerun_approves_once(money_app, monkeypatch):
    with money_app.app_context():
        ts = _sophie_last()
        run = _build(ts)
        run_id, version = run.id, run.version
        real = pay_runs._post_regular

        def crash(run):
            real(run)  # the status is already claimed and the items added: then the process dies
            raise RuntimeError("power cut")

        monkeypatch.setattr(pay_runs, "_post_regular", crash)
        with pytest.raises(RuntimeError), immediate_transaction():
            pay_runs.approve(run_id, version, _user(LEE), london_today())
        db.session.expire_all()
        run = db.session.get(PayRun, run_id)
        assert run.status == PayRunStatus.DRAFT and run.version == version and run.approved_by_id is None
        assert _items(run_id) == [] and db.session.get(PaidTimesheet, ts.id) is None
        assert timesheets.expected_item(ts).status == ExpectedStatus.OPEN
        monkeypatch.setattr(pay_runs, "_post_regular", real)
        run = _approve(run)
        _check_items(run, ts)
        with pytest.raises(pay_runs.AlreadyApproved):
            pay_runs.approve(run_id, version, _user(LEE), london_today())


def test_the_timesheets_own_item_is_replaced_never_counted_twice_in_money_owed(money_app):
    with money_app.app_context():
        ts = _sophie_last()
        db.session.commit()
        account = _account(ts.employer_id)
        item = timesheets.expected_item(ts)
        assert item.status == ExpectedStatus.OPEN and item.amount_pence == -ts.gross_pence
        owed_before = ledger.money_owed(account)
        run = _approve(_build(ts))
        payslip = run.payslips[0]
        assert timesheets.expected_item(ts).status == ExpectedStatus.CANCELLED
        out = (payslip.net_pence + payslip.tax_pence + payslip.employee_ni_pence + payslip.employer_ni_pence
               + payslip.employee_pension_pence + payslip.employer_pension_pence)
        assert ledger.money_owed(account) == owed_before - ts.gross_pence + out
        # The next run does not pay it again.
        assert db.session.get(PaidTimesheet, ts.id) is not None


# The next run: year to date, corrections -------------------------------------------------------------


def _current_timesheet_approved() -> Timesheet:
    """Sophie's timesheet for this fortnight (shifts so far), submitted and approved by Amina."""
    employment = _employment("Sophie", "Clarke")
    period = timesheets.period_for(employment, london_today())
    ts = timesheets.current_for(employment, period)
    if not ts.shifts:  # the first days of a fortnight: one shift on its Monday
        timesheets.add_shift(ts, ShiftInput(period.start, time(9, 0), time(14, 0), False, 0, RateType.DAY), ts.version)
    timesheets.submit(ts, _user(SOPHIE), ts.version)
    timesheets.approve(ts, _user(AMINA), ts.version)
    db.session.commit()
    return ts


def test_year_to_date_carries_into_the_next_run(money_app, monkeypatch):
    with money_app.app_context():
        first_ts = _sophie_last()
        first = _approve(_build(first_ts)).payslips[0]
        ts = _current_timesheet_approved()
        spy = Spy(monkeypatch)
        run = _build(ts)
        payslip = run.payslips[0]
        [pay] = spy.inputs
        assert (pay.ytd_taxable_before_pence, pay.ytd_tax_before_pence) == (first.gross_pence, first.tax_pence)
        assert pay.employment_allowance_left_pence == 1_050_000 - first.employment_allowance_pence
        assert payslip.ytd_gross_pence == first.gross_pence + payslip.gross_pence
        assert payslip.ytd_tax_pence == first.tax_pence + payslip.tax_pence
        assert payslip.ytd_employee_ni_pence == first.employee_ni_pence + payslip.employee_ni_pence
        # The P60 numbers: only approved payslips count.
        [ytd] = pay_runs.year_to_date(tax_year_start=run.tax_year_start, pa_id=ts.pa_id)
        assert (ytd.employer_id, ytd.gross_pence, ytd.tax_pence, ytd.payslips) == (ts.employer_id, first.gross_pence, first.tax_pence, 1)
        _approve(run)
        [ytd] = pay_runs.year_to_date(tax_year_start=run.tax_year_start, employer_id=ts.employer_id)
        assert ytd.gross_pence == first.gross_pence + payslip.gross_pence and ytd.payslips == 2
        assert ytd.pa_name == "Sophie Clarke" and ytd.ni_number == "JT123456C"


def test_an_employer_without_an_account_in_the_portal_is_warned_about_and_nothing_is_expected(money_app):
    with money_app.app_context():
        ts = _sophie_last()
        amina, tom = ts.employer_id, _person("Tom", "Hughes")
        # As if Amina's money were held outside the portal: her accounts (and their budgets) are someone else's.
        db.session.execute(sa.update(Budget).where(Budget.recipient_id == amina).values(recipient_id=tom))
        db.session.execute(sa.update(DPAccount).where(DPAccount.recipient_id == amina).values(recipient_id=tom))
        db.session.commit()
        run = _build(ts)
        [payslip] = run.payslips
        assert pay_runs.warnings_of(payslip) == [
            "Amina Patel has no direct payment account in the portal, so nothing will show what is owed for Sophie "
            "Clarke's pay, tax, National Insurance or pension: pay them outside the portal."]
        assert pay_runs.problems_of(payslip) == []  # a warning: the run can still be approved
        run = _approve(run)
        assert run.status == PayRunStatus.APPROVED and _items(run.id) == []
        run_id = run.id
    kim = money_app.test_client()
    sign_in(kim, KIM)
    assert "Amina Patel has no direct payment account in the portal" in get_page(kim, f"/payroll/runs/{run_id}").text


def test_the_employment_allowance_is_claimed_once_across_drafts_of_different_frequencies(money_app):
    """Amina employs Sophie (fortnightly) and Joan (4-weekly). Each draft sees the allowance left when it
    was built; approving the second after the first would claim it twice, so it must be rebuilt."""
    with money_app.app_context():
        # An administrator's row makes the year's allowance £60, so both runs want part of it.
        latest = local_settings.latest_rate_row("payroll.employment_allowance")
        local_settings.add_national_rate(key="payroll.employment_allowance", label=latest.label, effective_from=date(2026, 4, 7),
                                         value=6000, unit=latest.unit, source="test")
        joan = db.session.scalar(sa.select(Timesheet).where(Timesheet.employment_id == _employment("Joan", "Price").id,
                                                            Timesheet.status == TimesheetStatus.AWAITING_KEYING))
        timesheets.key_in(joan, _user(KIM), KeyedTotals(day_minutes=60 * 60), joan.version)  # 60 hours at £12.75
        db.session.commit()
        sophie_run, joan_run = _build(_sophie_last()), _build(joan)
        sophie_claim = sophie_run.payslips[0].employment_allowance_pence
        joan_claim, joan_ni = joan_run.payslips[0].employment_allowance_pence, joan_run.payslips[0].employer_ni_pence
        # Each was built with the whole £60 left, and each has employer NI to set it against.
        assert 0 < sophie_claim <= 6000 and 0 < joan_claim <= 6000
        assert sophie_claim + joan_claim > 6000
        _approve(sophie_run)
        with pytest.raises(pay_runs.PayRunError, match="Rebuild it"):
            _approve(joan_run)
        db.session.rollback()
        assert db.session.get(PayRun, joan_run.id).status == PayRunStatus.DRAFT and _items(joan_run.id) == []
        rebuilt = _build(joan)
        slip = rebuilt.payslips[0]
        assert slip.employment_allowance_pence == 6000 - sophie_claim
        # The same employer NI before the allowance: only what the allowance covers moved.
        assert slip.employer_ni_pence + slip.employment_allowance_pence == joan_ni + joan_claim
        assert slip.employer_ni_pence > joan_ni
        _approve(rebuilt)
        [claimed] = db.session.execute(
            sa.select(sa.func.sum(Payslip.employment_allowance_pence)).join(PayRun).where(
                PayRun.status == PayRunStatus.APPROVED, Payslip.employer_id == joan.employer_id)).one()
        assert claimed == 6000


def test_a_timesheet_corrected_after_it_was_paid_is_put_right_by_correction_lines_in_the_next_run(money_app):
    with money_app.app_context():
        paid_ts = _sophie_last()
        first_run = _approve(_build(paid_ts))
        first = first_run.payslips[0]
        # Sophie adds 2 hours on the first Saturday (weekend rate £15.50): £31.00 more.
        correction = timesheets.start_correction(paid_ts, _user(SOPHIE))
        saturday = paid_ts.period_start + timedelta(days=5)
        timesheets.add_shift(correction, ShiftInput(saturday, time(10, 0), time(12, 0), False, 0, RateType.WEEKEND), correction.version)
        timesheets.submit(correction, _user(SOPHIE), correction.version)
        timesheets.approve(correction, _user(AMINA), correction.version)
        db.session.commit()
        ts = _current_timesheet_approved()
        run = _build(ts)
        payslip = run.payslips[0]
        corrections = [line for line in payslip.lines if line.kind == K.CORRECTION]
        assert corrections and all(line.corrects_payslip_id == first.id for line in corrections)
        assert sum(line.amount_pence for line in corrections) == 3100
        taken_back = [line for line in corrections if line.amount_pence < 0]
        assert sum(line.amount_pence for line in taken_back) == -sum(line.amount_pence for line in first.lines if line.timesheet_id == paid_ts.id)
        assert {line.timesheet_id for line in corrections if line.amount_pence > 0} == {correction.id}
        regular = sum(line.amount_pence for line in payslip.lines if line.kind != K.CORRECTION and line.taxable)
        assert payslip.gross_pence == regular + 3100
        run = _approve(run)
        assert db.session.get(PaidTimesheet, correction.id).payslip_id == payslip.id
        assert timesheets.expected_item(correction).status == ExpectedStatus.CANCELLED


def test_the_breakdown_page_shows_a_correction_as_such(money_app):
    with money_app.app_context():
        paid_ts = _sophie_last()
        first_id = _approve(_build(paid_ts)).payslips[0].id
        correction = timesheets.start_correction(paid_ts, _user(SOPHIE))
        timesheets.add_shift(correction, ShiftInput(paid_ts.period_start + timedelta(days=5), time(10, 0), time(12, 0), False, 0,
                                                    RateType.WEEKEND), correction.version)
        timesheets.submit(correction, _user(SOPHIE), correction.version)
        timesheets.approve(correction, _user(AMINA), correction.version)
        db.session.commit()
        run = _build(_current_timesheet_approved())
        run_id, payslip_id = run.id, run.payslips[0].id
    client = money_app.test_client()
    sign_in(client, LEE)
    page = get_page(client, f"/payroll/runs/{run_id}/payslips/{payslip_id}")
    corrected = page.soup.select("[data-lines] tr[data-corrects]")
    assert corrected and all(row["data-corrects"] == str(first_id) for row in corrected)
    assert "Correction" in corrected[0].get_text()


# Reversal --------------------------------------------------------------------------------------------


def test_a_reversal_takes_back_an_approved_run_once_a_second_person_approves(money_app):
    with money_app.app_context():
        ts = _sophie_last()
        run = _approve(_build(ts))
        original = run.payslips[0]
        reversal = pay_runs.reverse(run.id, _user(KIM))
        db.session.commit()
        assert pay_runs.reverse(run.id, _user(KIM)).id == reversal.id  # asked twice: the same one
        assert reversal.kind == PayRunKind.REVERSAL and reversal.status == PayRunStatus.DRAFT and reversal.reverses_run_id == run.id
        [negated] = reversal.payslips
        assert (negated.gross_pence, negated.tax_pence, negated.net_pence) == (-original.gross_pence, -original.tax_pence, -original.net_pence)
        assert all(line.kind == K.CORRECTION and line.corrects_payslip_id == original.id for line in negated.lines)
        assert sum(line.amount_pence for line in negated.lines) == -sum(line.amount_pence for line in original.lines)
        assert negated.ytd_gross_pence == 0
        with pytest.raises(pay_runs.NotAllowed):
            pay_runs.approve(reversal.id, reversal.version, _user(KIM), london_today())
        db.session.rollback()
        _approve(reversal)
        # The run's money still owed is owed no more, its timesheet is unpaid again and owed until a run pays it.
        assert all(i.status == ExpectedStatus.CANCELLED for i in _items(run.id))
        assert _items(reversal.id) == []  # nothing had left the account, so nothing is due back
        assert db.session.get(PaidTimesheet, ts.id) is None
        assert timesheets.expected_item(ts).status == ExpectedStatus.OPEN
        [ytd] = pay_runs.year_to_date(tax_year_start=run.tax_year_start, pa_id=ts.pa_id)
        assert (ytd.gross_pence, ytd.tax_pence, ytd.net_pence) == (0, 0, 0)
        # The next run pays the timesheet again.
        nxt = _build(_current_timesheet_approved())
        assert ts.id in {line.timesheet_id for line in nxt.payslips[0].lines}
        # A reversal is not reversed, and the run is not reversed twice.
        with pytest.raises(pay_runs.PayRunError):
            pay_runs.reverse(reversal.id, _user(KIM))


def test_a_settled_item_of_a_reversed_run_is_expected_back(money_app):
    with money_app.app_context():
        ts = _sophie_last()
        run = _approve(_build(ts))
        net_key = f"payrun:{run.id}:net:{run.payslips[0].id}"
        item = db.session.scalar(sa.select(ExpectedItem).where(ExpectedItem.key == net_key))
        item.status = ExpectedStatus.SETTLED  # the net pay left the account
        db.session.commit()
        reversal = pay_runs.reverse(run.id, _user(KIM))
        db.session.commit()
        _approve(reversal)
        back = db.session.scalar(sa.select(ExpectedItem).where(ExpectedItem.key == f"payrun:{reversal.id}:net:{reversal.payslips[0].id}"))
        assert back.amount_pence == run.payslips[0].net_pence > 0 and back.status == ExpectedStatus.OPEN


# The CSV -------------------------------------------------------------------------------------------------


def test_the_csv_has_the_documented_columns_and_a_row_per_payslip(money_app):
    import csv
    import io

    with money_app.app_context():
        ts = _sophie_last()
        run = _build(ts)
        payslip = run.payslips[0]
        run_id, gross, net, tax_period, pay_date = run.id, payslip.gross_pence, payslip.net_pence, run.tax_period, run.pay_date
        start, end = run.period_start, run.period_end
    client = money_app.test_client()
    sign_in(client, KIM)
    response = client.get(f"/payroll/runs/{run_id}.csv")
    assert response.status_code == 200 and response.mimetype == "text/csv"
    rows = list(csv.reader(io.StringIO(response.data.decode("utf-8-sig"))))
    assert rows[0] == [
        "run_id", "run_kind", "payslip_id", "employer_reference", "employer_name", "pa_name", "ni_number", "tax_code", "tax_basis",
        "ni_category", "pay_frequency", "tax_year", "tax_period", "period_start", "period_end", "pay_date", "hours_worked",
        "gross_taxable_pay", "non_taxable_pay", "holiday_pay", "statutory_sick_pay", "tax", "employee_ni", "employer_ni",
        "employment_allowance", "employee_pension", "employer_pension", "net_pay", "ytd_taxable_pay", "ytd_tax", "ytd_employee_ni",
        "ytd_employer_ni", "ytd_employee_pension", "ytd_employer_pension", "ytd_employment_allowance",
        "ni_earnings_at_lel", "ni_earnings_lel_to_pt", "ni_earnings_pt_to_uel", "previous_employment_pay", "previous_employment_tax",
        "deductions_outside_portal",
    ]
    assert len(rows) == 2
    row = dict(zip(rows[0], rows[1], strict=True))
    assert (row["employer_name"], row["pa_name"], row["ni_number"]) == ("Amina Patel", "Sophie Clarke", "JT123456C")
    assert (row["tax_code"], row["tax_basis"], row["ni_category"], row["pay_frequency"]) == ("1257L", "cumulative", "A", "fortnightly")
    assert (row["tax_period"], row["period_start"], row["period_end"], row["pay_date"]) == (
        str(tax_period), start.isoformat(), end.isoformat(), pay_date.isoformat())
    assert row["gross_taxable_pay"] == f"{gross // 100}.{gross % 100:02d}" and row["net_pay"] == f"{net // 100}.{net % 100:02d}"
    assert row["ytd_taxable_pay"] == row["gross_taxable_pay"]
    # The P60's NI table for the period, fortnightly thresholds (rates.md: 2 x weekly): at the LEL £258.00;
    # above it up to the PT £484.00 - £258.00 = £226.00; above that up to the UEL £1,934.00.
    above_pt = max(min(gross, 193400) - 48400, 0)
    assert (row["ni_earnings_at_lel"], row["ni_earnings_lel_to_pt"], row["ni_earnings_pt_to_uel"]) == (
        "258.00", "226.00", f"{above_pt // 100}.{above_pt % 100:02d}")
    assert (row["previous_employment_pay"], row["previous_employment_tax"], row["deductions_outside_portal"]) == ("0.00", "0.00", "")


# Pages and who sees them ---------------------------------------------------------------------------------


def _period_value(ts_start: date) -> str:
    return f"fortnightly:{ts_start.isoformat()}"


def test_kim_builds_a_run_on_the_page_and_lee_approves_it(money_app):
    with money_app.app_context():
        ts = _sophie_last()
        db.session.commit()
        start = ts.period_start
    kim = money_app.test_client()
    sign_in(kim, KIM)
    page = get_page(kim, "/payroll/timesheets")
    assert page.soup.select_one("[data-pay-runs-link]")["href"] == "/payroll/runs"
    page = get_page(kim, "/payroll/runs")
    assert page.soup.find("option", {"value": _period_value(start)}) is not None
    response = kim.post("/payroll/runs", data={"csrf_token": csrf_token(page.text), "period": _period_value(start)})
    assert response.status_code == 302
    url = response.headers["Location"]
    page = get_page(kim, url)
    assert page.soup.select_one("[data-approve-form]") is None
    assert "You built this pay run" in page.soup.select_one("[data-why-not]").get_text()
    assert page.soup.select("[data-payslip]")
    # Lee sees the Approve button with the version; a stale one is refused.
    lee = money_app.test_client()
    sign_in(lee, LEE)
    page = get_page(lee, url)
    form = page.soup.select_one("[data-approve-form]")
    version = form.find("input", {"name": "version"})["value"]
    response = lee.post(form["action"], data={"csrf_token": csrf_token(page.text), "version": str(int(version) - 1)})
    assert response.status_code == 302
    assert db_status(money_app, url) == PayRunStatus.DRAFT
    response = lee.post(form["action"], data={"csrf_token": csrf_token(page.text), "version": version})
    assert response.status_code == 302
    assert db_status(money_app, url) == PayRunStatus.APPROVED
    page = get_page(lee, url)
    assert "Approved and locked" in page.soup.select_one("[data-status]").get_text()
    # The breakdown page explains every step.
    link = page.soup.select_one("[data-payslip] a")["href"]
    breakdown = get_page(lee, link)
    steps = [li.get_text(" ", strip=True) for li in breakdown.soup.select("[data-steps] [data-step]")]
    assert any(s.startswith("Check Which tax code") or s.startswith("Which tax code") for s in steps)
    assert any("Minimum wage" in s for s in steps) and any("Net pay" in s for s in steps)
    # The runs list, newest first.
    page = get_page(kim, "/payroll/runs")
    assert [row["data-status"] for row in page.soup.select("[data-runs] [data-run]")] == ["approved"]


def db_status(app, url: str) -> PayRunStatus:
    run_id = int(url.rstrip("/").rsplit("/", 1)[1])
    with app.app_context():
        return db.session.get(PayRun, run_id).status


def test_omar_never_sees_brightpaths_runs_and_other_people_are_refused(money_app):
    with money_app.app_context():
        ts = _sophie_last()
        run = _build(ts)
        run_id, payslip_id, version = run.id, run.payslips[0].id, run.version
    omar = money_app.test_client()
    sign_in(omar, OMAR)
    page = get_page(omar, "/payroll/runs")
    assert page.soup.select("[data-run]") == []
    for url in (f"/payroll/runs/{run_id}", f"/payroll/runs/{run_id}.csv", f"/payroll/runs/{run_id}/payslips/{payslip_id}"):
        assert omar.get(url).status_code == 404, url
    token = csrf_token(page.text)
    for url in (f"/payroll/runs/{run_id}/approve", f"/payroll/runs/{run_id}/reverse", f"/payroll/runs/{run_id}/rebuild"):
        assert omar.post(url, data={"csrf_token": token, "version": str(version)}).status_code == 404, url
    with money_app.app_context():
        assert db.session.get(PayRun, run_id).status == PayRunStatus.DRAFT
    for email in (RACHEL, AMINA, SOPHIE, ADMIN):
        client = money_app.test_client()
        sign_in(client, email)
        for url in ("/payroll/runs", f"/payroll/runs/{run_id}", f"/payroll/runs/{run_id}.csv"):
            assert client.get(url).status_code == 403, (email, url)
    # Lee (a manager without the payroll permission) approves and reads, but does not build.
    lee = money_app.test_client()
    sign_in(lee, LEE)
    page = get_page(lee, "/payroll/runs")
    assert page.soup.select_one("[data-start-form]") is None
    assert lee.post("/payroll/runs", data={"csrf_token": csrf_token(page.text), "period": "x"}).status_code == 403


def test_a_period_not_in_the_calendar_is_refused_with_a_message(money_app):
    client = money_app.test_client()
    sign_in(client, KIM)
    page = get_page(client, "/payroll/runs")
    response = client.post("/payroll/runs", data={"csrf_token": csrf_token(page.text), "period": "fortnightly:2026-11-03"})
    assert response.status_code == 400
    soup = BeautifulSoup(response.text, "html.parser")
    assert "No fortnightly pay period starts on 3 November 2026" in soup.select_one(".govuk-error-summary").get_text()
    response = client.post("/payroll/runs", data={"csrf_token": csrf_token(page.text), "period": ""})
    assert response.status_code == 400 and "Select the pay period" in response.text


# The demo ------------------------------------------------------------------------------------------------


def test_the_demo_run_is_built_by_kim_approved_by_lee_and_made_once(money_app):
    from portal.services.demo_payroll import load_payroll

    with money_app.app_context():
        _sophie_last()
        db.session.commit()
        first = load_payroll({}, london_today())
        again = load_payroll({}, london_today())
        assert again.id == first.id
        runs = db.session.scalars(sa.select(PayRun)).all()
        assert len(runs) == 1
        run = runs[0]
        assert run.status == PayRunStatus.APPROVED and run.created_by_id == _user(KIM).id and run.approved_by_id == _user(LEE).id
        assert [p.pa_id for p in run.payslips] == [_person("Sophie", "Clarke")]
        assert _items(run.id)


def test_a_run_with_problems_lists_them_first_and_a_reversal_says_what_it_reverses(money_app):
    with money_app.app_context():
        ts = _sophie_last()
        joan = _joan_keyed()
        joan.employment.day_rate_pence = 1000  # £10.00: under the National Living Wage
        db.session.commit()
        blocked = _build(joan)
        blocked_id = blocked.id
        approved = _approve(_build(ts))
        reversal = pay_runs.reverse(approved.id, _user(KIM))
        db.session.commit()
        approved_id, reversal_id, reversed_payslip = approved.id, reversal.id, reversal.payslips[0].id
    lee = money_app.test_client()
    sign_in(lee, LEE)
    page = get_page(lee, f"/payroll/runs/{blocked_id}")
    assert "Joan Price is paid £10.00 an hour" in page.soup.select_one("[data-problems]").get_text()
    assert page.soup.select_one("[data-approve-form]") is None
    assert page.soup.select("[data-payslip]")[0].has_attr("data-problem")
    page = get_page(lee, f"/payroll/runs/{approved_id}")
    assert "being reversed" in page.soup.select_one("[data-reversed]").get_text()
    page = get_page(lee, f"/payroll/runs/{reversal_id}")
    assert page.soup.select_one("[data-reverses] a")["href"] == f"/payroll/runs/{approved_id}"
    assert page.soup.select_one("[data-approve-form]") is not None  # Kim drafted it: Lee may approve
    page = get_page(lee, f"/payroll/runs/{reversal_id}/payslips/{reversed_payslip}")
    assert all(row["data-line"] == "correction" for row in page.soup.select("[data-lines] [data-line]"))
    kim = money_app.test_client()
    sign_in(kim, KIM)
    page = get_page(kim, f"/payroll/runs/{reversal_id}")
    assert page.soup.select_one("[data-approve-form]") is None
    assert "You built this pay run" in page.soup.select_one("[data-why-not]").get_text()


# A previous job's P45, State Pension age, and deductions made outside the portal --------------------------


def _p45(employment: Employment, tax_year_start: date, pay: int, tax: int) -> None:
    employment.p45_leaving_date = tax_year_start + timedelta(days=10)  # a job left in this tax year
    employment.p45_pay_to_date_pence, employment.p45_tax_to_date_pence = pay, tax
    db.session.commit()


def _basic_rate_tax(taxable_pence: int) -> int:
    """Independent of the code under test: 20% of the taxable pay rounded down to whole pounds, to the
    penny rounded down (every example below stays in the basic rate band to date)."""
    return max(taxable_pence, 0) // 100 * 100 * 20 // 100


def test_a_p45_from_this_tax_year_is_used_on_the_cumulative_basis_and_kept_out_of_the_year_to_date(money_app, monkeypatch):
    with money_app.app_context():
        ts = _sophie_last()
        run = _build(ts)
        week, year = run.tax_period, run.tax_year_start
        # The P45 pay is set £100 above the 1257L tax-free pay to date (£241.92 a week x the week number), so
        # the taxable pay to date is £100 + this fortnight's pay, all at 20%; the P45 shows £50 tax taken.
        previous_pay, previous_tax = 24192 * week + 10000, 5000
        _p45(ts.employment, year, previous_pay, previous_tax)
        spy = Spy(monkeypatch)
        payslip = _build(ts).payslips[0]
        [pay] = spy.inputs
        assert (pay.previous_employment_pay_pence, pay.previous_employment_tax_pence) == (previous_pay, previous_tax)
        gross = payslip.gross_pence
        assert payslip.tax_pence == _basic_rate_tax(10000 + gross) - previous_tax
        assert (payslip.previous_pay_pence, payslip.previous_tax_pence) == (previous_pay, previous_tax)
        # This employer's year to date stays its own.
        assert (payslip.ytd_gross_pence, payslip.ytd_tax_pence) == (gross, payslip.tax_pence)
        steps = {s["label"]: s["detail"] for s in pay_runs.steps_of(payslip)}
        assert steps["Pay and tax from the P45 (previous job)"].startswith(
            f"{pay_runs.pounds(previous_pay)} pay, {pay_runs.pounds(previous_tax)} tax, added to")
        assert "P45 from the previous job" in steps


def test_the_p45_stays_in_the_next_runs_cumulative_figures(money_app):
    with money_app.app_context():
        first_ts = _sophie_last()
        first_run = _build(first_ts)
        week, year = first_run.tax_period, first_run.tax_year_start
        previous_pay, previous_tax = 24192 * week + 10000, 5000
        _p45(first_ts.employment, year, previous_pay, previous_tax)
        first = _approve(_build(first_ts)).payslips[0]
        assert first.tax_pence == _basic_rate_tax(10000 + first.gross_pence) - previous_tax
        run = _build(_current_timesheet_approved())
        second = run.payslips[0]
        # Two weeks on: tax-free pay to date is £241.92 x 2 more; pay to date adds both fortnights.
        taxable = previous_pay + first.gross_pence + second.gross_pence - 24192 * run.tax_period
        assert second.tax_pence == _basic_rate_tax(taxable) - previous_tax - first.tax_pence
        assert second.previous_pay_pence == previous_pay
        assert second.ytd_gross_pence == first.gross_pence + second.gross_pence


def test_a_p45_is_not_used_on_week1_month1_nor_from_another_tax_year(money_app, monkeypatch):
    with money_app.app_context():
        ts = _sophie_last()
        run = _build(ts)
        employment, year = ts.employment, run.tax_year_start
        _p45(employment, year, 900000, 30000)
        employment.tax_code = "1257L W1"
        db.session.commit()
        payslip = _build(ts).payslips[0]
        assert (payslip.previous_pay_pence, payslip.previous_tax_pence) == (0, 0)
        steps = {s["label"]: s["detail"] for s in pay_runs.steps_of(payslip)}
        assert "not used" in steps["Pay and tax from the P45 (previous job)"]
        # A P45 from a job left in the tax year before: not for this year, not given to the calculation.
        employment.tax_code = "1257L"
        employment.p45_leaving_date = year - timedelta(days=1)
        db.session.commit()
        spy = Spy(monkeypatch)
        payslip = _build(ts).payslips[0]
        assert (spy.inputs[0].previous_employment_pay_pence, spy.inputs[0].previous_employment_tax_pence) == (0, 0)
        assert payslip.previous_pay_pence == 0


def test_a_p45_without_its_tax_code_is_flagged():
    employment = Employment(tax_code="", starter_declaration=None, start_date=date(2026, 6, 1), p45_leaving_date=date(2026, 5, 29))
    found = pay_runs.tax_code_for(employment, date(2026, 4, 6))
    assert (found.code, found.week1_month1, found.flagged) == ("0T", True, True)
    assert "Record the tax code shown on the P45" in found.why


def _future_run(born_offset_days: int, monkeypatch):
    """A fortnightly run for the period holding 15 June 2030 (Sophie's last timesheet is paid by it as a
    late one), with Sophie born 67 years before its pay date, plus the offset. Born 1963: State Pension
    age 67 (Pensions Act 2014, born 6 March 1961 to 5 April 1977), reached on the 67th birthday."""
    ts = _sophie_last()
    employment = ts.employment
    cal = pay_periods.calendar_for(employment.employer_id)
    period = pay_periods.period_containing(PayPeriod.FORTNIGHTLY, cal, date(2030, 6, 15))
    pay_date = period.pay_date
    employment.pa_date_of_birth = date(pay_date.year - 67, pay_date.month, pay_date.day) + timedelta(days=born_offset_days)
    db.session.commit()
    spy = Spy(monkeypatch)
    run = pay_runs.build_draft(_brightpath(), PayPeriod.FORTNIGHTLY, period.start, _user(KIM), london_today())
    db.session.commit()
    return run.payslips[0], spy.inputs[-1], pay_date


def test_category_c_from_the_pay_date_that_is_the_state_pension_age_date(money_app, monkeypatch):
    with money_app.app_context():
        # Born a day later: State Pension age is the day after the pay date: still category A.
        before, pay, pay_date = _future_run(1, monkeypatch)
        assert pay.state_pension_age_reached is False and before.ni_category == "A"
        gross = before.gross_pence
        # (pay - £484.00) x 8%, to the penny with a half penny or less dropped.
        owed = (gross - 48400) * 8
        assert before.employee_ni_pence == owed // 100 + (1 if owed % 100 > 50 else 0) > 0
        employer_ni = before.employer_ni_pence + before.employment_allowance_pence  # before the rebuild replaces it
        # Born 67 years to the day before the pay date: category C, no employee NI; the employer's NI is the same.
        on, pay, _ = _future_run(0, monkeypatch)
        assert pay.state_pension_age_reached is True
        assert (on.ni_category, on.employee_ni_pence, on.gross_pence) == ("C", 0, gross)
        assert on.employer_ni_pence + on.employment_allowance_pence == employer_ni > 0
        steps = {s["label"]: s["detail"] for s in pay_runs.steps_of(on)}
        assert steps["Age and NI category"].startswith(
            f"C: aged 67 on the pay date, over State Pension age (reached on {pay_date.day} {pay_date:%B %Y})")
        assert "not an eligible jobholder" in steps["Pension assessment"]


def test_someone_born_6_may_1960_is_category_c_since_6_july_2026(money_app, monkeypatch):
    with money_app.app_context():
        ts = _sophie_last()
        ts.employment.pa_date_of_birth = date(1960, 5, 6)  # 66 and 2 months: State Pension age on 6 July 2026
        db.session.commit()
        spy = Spy(monkeypatch)
        payslip = _build(ts).payslips[0]
        assert payslip.pay_date >= date(2026, 7, 6) and spy.inputs[0].state_pension_age_reached is True
        assert (payslip.ni_category, payslip.employee_ni_pence) == ("C", 0)
        steps = {s["label"]: s["detail"] for s in pay_runs.steps_of(payslip)}
        assert "(reached on 6 July 2026)" in steps["Age and NI category"]
        # Born 6 March 1961: 67, on 6 March 2028; not reached yet, and the step says when it is.
        ts.employment.pa_date_of_birth = date(1961, 3, 6)  # 67 on 6 March 2028
        db.session.commit()
        payslip = _build(ts).payslips[0]
        assert payslip.ni_category == "A" and payslip.employee_ni_pence > 0
        steps = {s["label"]: s["detail"] for s in pay_runs.steps_of(payslip)}
        assert steps["Age and NI category"].endswith("; State Pension age is reached on 6 March 2028")


def test_student_loans_and_attachments_of_earnings_are_warnings_that_do_not_stop_approval(money_app):
    from portal.models.employing import PostgraduateLoan, StudentLoan

    with money_app.app_context():
        ts = _sophie_last()
        employment = ts.employment
        employment.student_loan, employment.postgraduate_loan = StudentLoan.PLAN_2, PostgraduateLoan.YES
        employment.attachment_of_earnings = True
        db.session.commit()
        run = _build(ts)
        payslip = run.payslips[0]
        assert payslip.problems == ""
        assert payslip.outside_deductions == "Plan 2 student loan; Postgraduate Loan; attachment of earnings order"
        [warning] = pay_runs.warnings_of(payslip)
        assert warning.startswith("Sophie Clarke: deductions for the Plan 2 student loan, Postgraduate Loan and attachment of "
                                  "earnings order are not worked out by the portal")
        assert "the net pay on this payslip is before them" in warning
        flagged = [s for s in pay_runs.steps_of(payslip) if s.get("flag")]
        assert any(s["label"] == "Deductions not worked out by the portal" for s in flagged)
        run_id, payslip_id = run.id, payslip.id
    lee = money_app.test_client()
    sign_in(lee, LEE)
    page = get_page(lee, f"/payroll/runs/{run_id}")
    warnings = page.soup.select_one("[data-warnings]").get_text(" ", strip=True)
    assert "1 payslip needs something done outside the portal" in warnings and "Plan 2 student loan" in warnings
    assert page.soup.select_one("[data-problems]") is None and page.soup.select_one("[data-approve-form]") is not None
    breakdown = get_page(lee, f"/payroll/runs/{run_id}/payslips/{payslip_id}")
    assert "attachment of earnings order" in breakdown.soup.select_one("[data-warnings]").get_text()
    with money_app.app_context():
        run = _approve(run)
        assert run.status == PayRunStatus.APPROVED
        assert _items(run.id)  # approved: the money is expected as usual
    response = lee.get(f"/payroll/runs/{run_id}.csv")
    assert "Plan 2 student loan; Postgraduate Loan; attachment of earnings order" in response.data.decode("utf-8-sig")
    sophie = money_app.test_client()
    sign_in(sophie, SOPHIE)
    notice = get_page(sophie, f"/payslips/{payslip_id}").soup.select_one("[data-outside-deductions]").get_text(" ", strip=True)
    assert ("Deductions for the Plan 2 student loan, Postgraduate Loan and attachment of earnings order are not on this "
            "payslip") in notice


@pytest.mark.parametrize("student, postgraduate, order, outside, warned", [
    ("NONE", "NO", False, "", []),
    (None, None, False, "", []),  # not recorded yet: nothing to say on the payslip (the record shows it)
    ("NOT_KNOWN", None, False, "", ["not known whether they repay a student loan"]),
    ("NONE", "NOT_KNOWN", False, "", ["not known whether they repay a Postgraduate Loan"]),
    ("PLAN_1", "NO", False, "Plan 1 student loan", ["deductions for the Plan 1 student loan are"]),
    (None, None, True, "attachment of earnings order", ["deductions for the attachment of earnings order are"]),
])
def test_which_loans_are_flagged(money_app, student, postgraduate, order, outside, warned):
    from portal.models.employing import PostgraduateLoan, StudentLoan

    with money_app.app_context():
        ts = _sophie_last()
        employment = ts.employment
        employment.student_loan = StudentLoan[student] if student else None
        employment.postgraduate_loan = PostgraduateLoan[postgraduate] if postgraduate else None
        employment.attachment_of_earnings = order
        db.session.commit()
        payslip = _build(ts).payslips[0]
        assert payslip.outside_deductions == outside and payslip.problems == ""
        found = pay_runs.warnings_of(payslip)
        assert len(found) == len(warned) and all(words in text for words, text in zip(warned, found, strict=True))


def test_a_reversal_takes_back_the_ni_earnings_and_keeps_the_p45_figures(money_app):
    with money_app.app_context():
        ts = _sophie_last()
        first = _build(ts)
        _p45(ts.employment, first.tax_year_start, 24192 * first.tax_period + 10000, 5000)
        run = _approve(_build(ts))
        original = run.payslips[0]
        assert original.ni_earnings_at_lel_pence == 25800  # fortnightly LEL, £258
        reversal = pay_runs.reverse(run.id, _user(KIM))
        db.session.commit()
        [negated] = reversal.payslips
        assert (negated.ni_earnings_at_lel_pence, negated.ni_earnings_lel_to_pt_pence, negated.ni_earnings_pt_to_uel_pence) == (
            -original.ni_earnings_at_lel_pence, -original.ni_earnings_lel_to_pt_pence, -original.ni_earnings_pt_to_uel_pence)
        assert (negated.previous_pay_pence, negated.previous_tax_pence) == (original.previous_pay_pence, original.previous_tax_pence)
