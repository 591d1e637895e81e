"""Pay runs: a DPSS provider's payroll for one pay frequency and period, built from approved timesheets,
approved by a second member of staff, then locked; and its figures as a CSV for the submission to HMRC.

Building (build_draft). The run holds a payslip for every employment of the provider's payroll
employers (CaseloadEntry.payroll) paid at the run's frequency that has something to pay: approved
timesheets not yet paid (their period ending in the run's period, or earlier: a late timesheet is paid by
the next run), holiday taken or sickness recorded in the period. Each payslip's lines:

- hours by rate type (day, night, weekend) at the employment's rates, sleep-ins (flat), mileage and
  expenses (not taxable), one line each per timesheet;
- holiday: ACCRUED employments earn 12.07% of the minutes worked (shown, not paid) and holiday taken
  (LeaveRecord kind holiday starting in the period) is paid at the day rate; ROLLED_UP employments get a
  separate rolled-up holiday pay line at 12.07% of the pay for hours;
- Statutory Sick Pay from the first day of sickness (LeaveRecord kind sickness, the days inside the
  period) at the lower of the weekly rate and 80% of average weekly earnings. Average weekly earnings:
  the taxable pay on this employment's approved payslips paid in the 8 weeks before the pay date,
  divided by 8; with no such payslips, the contracted weekly hours at the day rate (a payslip with
  neither is a problem). Qualifying days: the weekdays the PA worked in the 8 weeks before the sickness
  (online shifts); unknown (paper timesheets only), every day counts, each a seventh of a week;
- corrections: a corrected timesheet whose earlier revision was paid (by a pay run, or by the employer)
  is paid as CORRECTION lines: the corrected timesheet's lines, and the lines paid before for that work
  taken back (linked to the payslip that paid them, corrects_payslip_id), so only the difference is paid.

The tax code is the employment's (a " W1", " M1" or "X" suffix means week 1 / month 1). Without one: a
new starter (started this tax year) with starter checklist statement A gets 1257L cumulative, B 1257L
week 1 / month 1, C 0T week 1 / month 1, and none of them 0T week 1 / month 1 (flagged, as is a P45
recorded without its code); someone employed before this tax year gets the default 1257L (flagged).
NI category C from the pay date on or after the PA's State Pension age date (payroll_calc.
state_pension_date, from the date of birth), M under 21 on the pay date, A otherwise. Year to date: this
employer's approved payslips for the PA in the tax year (each employer is its own PAYE scheme); a
previous job's P45 in the employment record (pay and tax to date, its leaving date in this tax year)
is added to the calculation's to-date figures on the cumulative basis in every run of that tax year,
and kept on the payslip (previous_pay_pence, previous_tax_pence), never in this employer's year to
date. The Employment Allowance left: the annual figure less what the employer's approved payslips (and
earlier payslips in this run) have claimed. payroll_calc.calculate works out the rest, including the
period's earnings for the P60's NI table, stored on the payslip.

A payslip's problems block approval: the calculation's own (a code it cannot work), pay for hours worked
under the minimum wage for the PA's age band on the pay date (national_rates minimum_wage.*), negative net
pay, SSP without earnings to average. Its warnings do not: student loan, Postgraduate Loan and attachment
of earnings deductions recorded on the employment, which the portal does not work out (rates.md: out of
scope, flagged on the payslip run, never silently ignored), and a loan recorded as "not known". They are
shown on the run, the breakdown and the payslip, and named in the CSV. Refusing approval instead would
hold back the pay of every PA in the provider's run, for a deduction the payroll service can make by
hand; the warning says the net pay is before it.

Rebuilding a draft replaces its payslips (in the caller's transaction) and moves its version on; an
approved run is never rebuilt. approve() claims the run with one conditional UPDATE (status draft and the
version the page showed), so it happens exactly once however many requests try; then, in the same
transaction, the timesheets are recorded as paid (paid_timesheets), their own expected items are
cancelled and the run's expected items added to each employer's account (negative: money leaving), due
on the pay date:

- ``payrun:<run>:net:<payslip>``: the PA's net pay;
- ``payrun:<run>:hmrc:<employer>``: employee tax + employee NI + employer NI (after the allowance);
- ``payrun:<run>:pension:<employer>``: employee + employer pension contributions.

A reversal run (reverse) negates every payslip of an approved run; once a second person approves it, the
reversed run's timesheets are unpaid again (paid by the next run), their own expected items reopen, the
reversed run's items still open are cancelled and those already settled are expected back (positive).

CSV for the DPSS's submission to HMRC (run_csv): one row per payslip, money in pounds with two decimals
(negative in a reversal), in this order:

    run_id, run_kind (regular or reversal), payslip_id, employer_reference (the portal's reference for the
    employer: the PAYE reference is not held yet), employer_name, pa_name, ni_number, tax_code,
    tax_basis (cumulative or week1/month1), ni_category, pay_frequency, tax_year (e.g. 2026-27),
    tax_period (week or month number), period_start, period_end, pay_date (ISO dates), hours_worked
    (decimal hours), gross_taxable_pay, non_taxable_pay, holiday_pay, statutory_sick_pay, tax,
    employee_ni, employer_ni (after the allowance), employment_allowance, employee_pension,
    employer_pension, net_pay, ytd_taxable_pay, ytd_tax, ytd_employee_ni, ytd_employer_ni,
    ytd_employee_pension, ytd_employer_pension, ytd_employment_allowance (the year to date is this
    employer's only: a previous job's P45 figures are not in it), ni_earnings_at_lel,
    ni_earnings_lel_to_pt, ni_earnings_pt_to_uel (this period's earnings for the P60's NI table, for the
    row's ni_category, in pounds and pence: the lower earnings limit itself when the pay reaches it,
    then the pay above it up to and including the primary threshold, then above that up to and
    including the upper earnings limit; all 0.00 when the pay is below the lower earnings limit; the
    year's totals per category, in whole pounds, are the P60 figures), previous_employment_pay,
    previous_employment_tax (pay and tax to date from a previous job's P45 used in this payslip's
    cumulative calculation, 0.00 if none or on week 1 / month 1), deductions_outside_portal (student
    loan, Postgraduate Loan or attachment of earnings order deductions the portal does not work out,
    separated by "; ", empty if none)
"""

import csv
import io
import json
import re
from collections import defaultdict
from dataclasses import dataclass, field
from datetime import date, timedelta
from decimal import ROUND_HALF_UP, Decimal

import sqlalchemy as sa
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import selectinload

from portal.extensions import db
from portal.models import (
    CaseloadEntry,
    ClaimKind,
    DPAccount,
    Employment,
    ExpectedItem,
    ExpectedKind,
    ExpectedStatus,
    HolidayMethod,
    LeaveKind,
    LeaveRecord,
    PaidTimesheet,
    PayPeriod,
    PayrollCalendar,
    PayRun,
    PayRunKind,
    PayRunStatus,
    Payslip,
    PayslipLine,
    PayslipLineKind,
    PensionStatus,
    RateType,
    Role,
    Shift,
    StarterDeclaration,
    Timesheet,
    TimesheetStatus,
    User,
)
from portal.models.employing import PostgraduateLoan, StudentLoan
from portal.services import notifications, pay_periods, payroll_calc, payroll_rates, timesheets
from portal.services.clock import utcnow
from portal.services.cycles import round_half_up_div
from portal.services.pay_periods import Period
from portal.services.statements import safe_cell

K = PayslipLineKind
SSP_LOOKBACK_DAYS = 56  # 8 weeks


class PayRunError(ValueError):
    """A refusal to show the member of staff, in plain English."""

    @property
    def message(self) -> str:
        return str(self)


class StaleRun(PayRunError):
    def __init__(self):
        super().__init__("This pay run changed since you opened it (it was rebuilt or approved). Check it again below.")


class AlreadyApproved(PayRunError):
    def __init__(self, message: str = "This pay run is already approved. Nothing more was changed."):
        super().__init__(message)


class NotAllowed(PayRunError):
    pass


def pounds(pence: int) -> str:
    sign = "-" if pence < 0 else ""
    whole, pennies = divmod(abs(int(pence)), 100)
    return f"{sign}£{whole:,}.{pennies:02d}"


def _decimal_pounds(pence: int) -> str:
    sign = "-" if pence < 0 else ""
    whole, pennies = divmod(abs(int(pence)), 100)
    return f"{sign}{whole}.{pennies:02d}"


def _dates(first: date, last: date) -> str:
    return f"{first.day} {first:%b} to {last.day} {last:%b %Y}"


# The provider's calendar and the runs ----------------------------------------------------------------


def run_key(provider_id: int, frequency: PayPeriod, period_start: date) -> str:
    return f"{provider_id}:{frequency.value}:{period_start.isoformat()}"


def calendar_of(provider_id: int) -> PayrollCalendar:
    """The provider's payroll calendar, or the default one."""
    rows = db.session.scalars(sa.select(PayrollCalendar).where(
        sa.or_(PayrollCalendar.provider_id == provider_id, PayrollCalendar.provider_id.is_(None)))).all()
    chosen = next((row for row in rows if row.provider_id is not None), None) or next(iter(rows), None)
    if chosen is None:
        raise LookupError("No payroll calendar: the migrations seed a default one")
    return chosen


def period_of_run(provider_id: int, frequency: PayPeriod, period_start: date) -> Period | None:
    return pay_periods.period_starting(frequency, calendar_of(provider_id), period_start)


def periods_to_choose(provider_id: int, today: date, complete: int = 4) -> dict[PayPeriod, list[Period]]:
    """For each frequency: the current period and the `complete` periods before it, newest first."""
    cal = calendar_of(provider_id)
    out = {}
    for frequency in PayPeriod:
        period = pay_periods.period_containing(frequency, cal, today)
        found = [period]
        for _ in range(complete):
            period = pay_periods.previous_period(frequency, cal, period)
            found.append(period)
        out[frequency] = found
    return out


def payroll_employer_ids(provider_id: int) -> sa.Select:
    return sa.select(CaseloadEntry.recipient_id).where(CaseloadEntry.provider_id == provider_id, CaseloadEntry.payroll.is_(True))


def runs_of(provider_id: int) -> list[PayRun]:
    return list(db.session.scalars(
        sa.select(PayRun).where(PayRun.provider_id == provider_id)
        .order_by(PayRun.period_start.desc(), PayRun.id.desc())))


# Lines -----------------------------------------------------------------------------------------------


# What a line pays for (a correction line says which in its description; these words start it).
LABELS = {"Day hours": K.HOURS, "Night hours": K.HOURS, "Weekend hours": K.HOURS, "Sleep-ins": K.SLEEP_IN,
          "Mileage": K.MILEAGE, "Expenses": K.EXPENSES}
HOURS_LABEL = {RateType.DAY: "Day hours", RateType.NIGHT: "Night hours", RateType.WEEKEND: "Weekend hours"}


@dataclass
class Line:
    kind: PayslipLineKind
    label: str
    description: str
    quantity: int
    rate_pence: int
    amount_pence: int
    taxable: bool = True
    timesheet_id: int | None = None
    corrects_payslip_id: int | None = None
    base: PayslipLineKind | None = None  # a correction line: what it corrects (hours, sleep-ins...)

    @property
    def pays_for(self) -> PayslipLineKind:
        return self.base or self.kind


def base_of(line: PayslipLine) -> PayslipLineKind:
    """What a stored line pays for (a correction's from the words its description starts with)."""
    if line.kind != K.CORRECTION:
        return line.kind
    words = re.sub(r"^(Corrected timesheet|Paid before, now replaced|Reversed): ", "", line.description)
    return next((kind for label, kind in LABELS.items() if words.startswith(label)), K.CORRECTION)


def timesheet_lines(ts: Timesheet, rates: payroll_calc.PayrollRates) -> list[Line]:
    """Hours by rate type, sleep-ins, mileage and expenses: what the timesheet comes to, a line each."""
    employment = ts.employment
    figures = timesheets.totals(ts, holiday_share=rates.holiday_accrual_bp)
    when = _dates(ts.period_start, ts.period_end)
    out = []
    for kind in timesheets.HOURLY:
        minutes = figures.minutes.get(kind, 0)
        if minutes:
            label = HOURS_LABEL[kind]
            out.append(Line(K.HOURS, label, f"{label}, timesheet {when}", minutes, timesheets.hourly_rate(employment, kind),
                            figures.pay[kind], timesheet_id=ts.id))
    if figures.sleep_ins:
        out.append(Line(K.SLEEP_IN, "Sleep-ins", f"Sleep-ins, timesheet {when}", figures.sleep_ins, employment.sleep_in_pence or 0,
                        figures.pay[RateType.SLEEP_IN], timesheet_id=ts.id))
    if figures.mileage_pence:
        miles = figures.miles
        out.append(Line(K.MILEAGE, "Mileage", f"Mileage, {miles.normalize():f} miles, timesheet {when}",
                        int(miles.quantize(Decimal(1), rounding=ROUND_HALF_UP)), employment.mileage_pence_per_mile,
                        figures.mileage_pence, taxable=False, timesheet_id=ts.id))
    if figures.expenses_pence:
        count = sum(1 for c in ts.claims if c.kind == ClaimKind.EXPENSE)
        out.append(Line(K.EXPENSES, "Expenses", f"Expenses ({count} receipt{'s' if count != 1 else ''}), timesheet {when}", count, 0,
                        figures.expenses_pence, taxable=False, timesheet_id=ts.id))
    return out


def _item_settled(ts: Timesheet) -> bool:
    status = db.session.scalar(sa.select(ExpectedItem.status).where(ExpectedItem.key == f"timesheet:{ts.id}"))
    return status == ExpectedStatus.SETTLED


def _paid_lines_of(ts: Timesheet, rates) -> tuple[list[Line], int | None] | None:
    """What was paid for this timesheet, or None if it was not paid: (lines, the payslip that paid them)."""
    paid = db.session.get(PaidTimesheet, ts.id)
    if paid is not None:
        rows = db.session.scalars(sa.select(PayslipLine).where(PayslipLine.payslip_id == paid.payslip_id,
                                                               PayslipLine.timesheet_id == ts.id).order_by(PayslipLine.id)).all()
        lines = []
        for row in rows:
            base = base_of(row)
            words = re.sub(r"^Corrected timesheet: ", "", row.description)
            label = next((label for label in LABELS if words.startswith(label)), row.kind.value)
            lines.append(Line(row.kind, label, words, row.quantity, row.rate_pence, row.amount_pence, row.taxable,
                              base=base if row.kind == K.CORRECTION else None))
        return lines, paid.payslip_id
    if ts.paid_on is not None or _item_settled(ts):
        return timesheet_lines(ts, rates), None
    return None


def correction_lines(ts: Timesheet, rates) -> list[Line] | None:
    """A corrected timesheet whose earlier revision was paid: its lines, and what was paid before taken
    back (so only the difference is paid). None if no earlier revision was paid (pay it as it is)."""
    earlier = ts.corrects
    while earlier is not None:
        found = _paid_lines_of(earlier, rates)
        if found is not None:
            break
        earlier = earlier.corrects
    if earlier is None:
        return None
    before, payslip_id = found
    out = []
    for line in timesheet_lines(ts, rates):
        out.append(Line(K.CORRECTION, line.label, f"Corrected timesheet: {line.description}", line.quantity, line.rate_pence,
                        line.amount_pence, line.taxable, timesheet_id=ts.id, corrects_payslip_id=payslip_id, base=line.kind))
    how = f"payslip {payslip_id}" if payslip_id else "the employer"
    for line in before:
        out.append(Line(K.CORRECTION, line.label, f"Paid before, now replaced: {line.description} (paid by {how})",
                        -line.quantity, line.rate_pence, -line.amount_pence, line.taxable, corrects_payslip_id=payslip_id,
                        base=line.pays_for))
    return out


# Tax code and NI category ------------------------------------------------------------------------------


@dataclass(frozen=True)
class TaxCode:
    code: str
    week1_month1: bool
    why: str
    flagged: bool = False

    @property
    def words(self) -> str:
        return self.code + (" (week 1 / month 1)" if self.week1_month1 else " (cumulative)")


def tax_code_for(employment: Employment, tax_year_start: date) -> TaxCode:
    raw = (employment.tax_code or "").upper().replace(" ", "")
    if raw:
        week1 = False
        for suffix in ("W1/M1", "W1", "M1", "X"):
            if raw.endswith(suffix) and len(raw) > len(suffix):
                raw, week1 = raw[: -len(suffix)], True
                break
        return TaxCode(raw, week1, f"The tax code in the employment record (from HMRC or the P45): {employment.tax_code.strip()}.")
    declaration = employment.starter_declaration
    if declaration == StarterDeclaration.A:
        return TaxCode("1257L", False, "New starter without a P45, starter checklist statement A (first job since 6 April, "
                                       "no benefits): 1257L on the cumulative basis.")
    if declaration == StarterDeclaration.B:
        return TaxCode("1257L", True, "New starter without a P45, starter checklist statement B (now their only job): "
                                      "1257L on a week 1 / month 1 basis.")
    if declaration == StarterDeclaration.C:
        return TaxCode("0T", True, "New starter without a P45, starter checklist statement C (another job or a pension): "
                                   "0T on a week 1 / month 1 basis.")
    if employment.p45_leaving_date is not None:
        return TaxCode("0T", True, "A P45 from the previous job is recorded but not the tax code on it: the emergency code 0T "
                                   "on a week 1 / month 1 basis until it is. Record the tax code shown on the P45.", flagged=True)
    if employment.start_date >= tax_year_start:
        return TaxCode("0T", True, "New starter with no P45 and no starter checklist: the emergency code 0T on a week 1 / "
                                   "month 1 basis. Ask the PA for their P45 or a starter checklist.", flagged=True)
    return TaxCode("1257L", False, "No tax code is recorded: the default 1257L (cumulative). Record the code HMRC sends.",
                   flagged=True)


def previous_employment(employment: Employment, tax_year_start: date) -> tuple[int, int] | None:
    """(pay, tax) to date from the previous job's P45 in the employment record, when the P45 is for this
    tax year (its leaving date falls in it) and shows any; else None."""
    leaving = employment.p45_leaving_date
    if leaving is None or payroll_rates.tax_year_start(leaving) != tax_year_start:
        return None
    pay, tax = employment.p45_pay_to_date_pence or 0, employment.p45_tax_to_date_pence or 0
    return (pay, tax) if pay or tax else None


STUDENT_LOAN_PLANS = (StudentLoan.PLAN_1, StudentLoan.PLAN_2, StudentLoan.PLAN_4, StudentLoan.PLAN_5)


def outside_deductions(employment: Employment) -> list[str]:
    """The deductions the employment record says are due that the portal does not work out."""
    out = []
    if employment.student_loan in STUDENT_LOAN_PLANS:
        out.append(f"{employment.student_loan.value} student loan")
    if employment.postgraduate_loan == PostgraduateLoan.YES:
        out.append("Postgraduate Loan")
    if employment.attachment_of_earnings:
        out.append("attachment of earnings order")
    return out


def age_on_pay_date(employment: Employment, pay_date: date) -> int | None:
    if employment.pa_date_of_birth is None:
        return None
    return timesheets.age_on(employment.pa_date_of_birth, pay_date)


# Year to date ------------------------------------------------------------------------------------------

YTD_FIELDS = ("gross_pence", "tax_pence", "employee_ni_pence", "employer_ni_pence", "employee_pension_pence",
              "employer_pension_pence", "employment_allowance_pence")


@dataclass
class YearToDate:
    pa_id: int
    employer_id: int
    tax_year_start: date
    pa_name: str = ""
    employer_name: str = ""
    ni_number: str = ""
    gross_pence: int = 0
    tax_pence: int = 0
    employee_ni_pence: int = 0
    employer_ni_pence: int = 0
    employee_pension_pence: int = 0
    employer_pension_pence: int = 0
    employment_allowance_pence: int = 0
    net_pence: int = 0
    payslips: int = 0


def _approved_sums(where) -> sa.Select:
    return (sa.select(Payslip.pa_id, Payslip.employer_id, *[sa.func.coalesce(sa.func.sum(getattr(Payslip, f)), 0) for f in YTD_FIELDS],
                      sa.func.coalesce(sa.func.sum(Payslip.net_pence), 0), sa.func.count(Payslip.id))
            .join(PayRun, PayRun.id == Payslip.run_id)
            .where(PayRun.status == PayRunStatus.APPROVED, *where)
            .group_by(Payslip.pa_id, Payslip.employer_id))


def year_to_date(*, tax_year_start: date, pa_id: int | None = None, employer_id: int | None = None) -> list[YearToDate]:
    """Totals per PA per employer for the tax year from approved payslips (the P60 figures): for one PA
    (all their employers) or one employer (all their PAs)."""
    if pa_id is None and employer_id is None:
        raise ValueError("year_to_date needs a PA or an employer")
    where = [Payslip.tax_year_start == tax_year_start]
    if pa_id is not None:
        where.append(Payslip.pa_id == pa_id)
    if employer_id is not None:
        where.append(Payslip.employer_id == employer_id)
    out = []
    for row in db.session.execute(_approved_sums(where)).all():
        values = dict(zip(YTD_FIELDS, (int(v) for v in row[2:9]), strict=True))
        out.append(YearToDate(row[0], row[1], tax_year_start, net_pence=int(row[9]), payslips=int(row[10]), **values))
    _name(out)
    return sorted(out, key=lambda y: (y.employer_name, y.pa_name, y.employer_id, y.pa_id))


def _name(rows: list[YearToDate]) -> None:
    from portal.models import Person

    ids = {r.pa_id for r in rows} | {r.employer_id for r in rows}
    names = {p.id: p.full_name for p in db.session.scalars(sa.select(Person).where(Person.id.in_(ids)))} if ids else {}
    ni = dict(db.session.execute(
        sa.select(Employment.pa_id, Employment.ni_number).where(Employment.pa_id.in_({r.pa_id for r in rows}), Employment.ni_number != "")
    ).all()) if rows else {}
    for r in rows:
        r.pa_name, r.employer_name, r.ni_number = names.get(r.pa_id, ""), names.get(r.employer_id, ""), ni.get(r.pa_id, "")


def _ytd_before(employer_ids: set[int], tax_year_start: date) -> tuple[dict[tuple[int, int], dict], dict[int, int]]:
    """Approved figures so far this tax year: per (PA, employer), and the allowance claimed per employer."""
    per_pair: dict[tuple[int, int], dict] = {}
    allowance: dict[int, int] = defaultdict(int)
    if not employer_ids:
        return per_pair, allowance
    rows = db.session.execute(_approved_sums([Payslip.tax_year_start == tax_year_start, Payslip.employer_id.in_(employer_ids)])).all()
    for row in rows:
        values = dict(zip(YTD_FIELDS, (int(v) for v in row[2:9]), strict=True))
        per_pair[(row[0], row[1])] = values
        allowance[row[1]] += values["employment_allowance_pence"]
    return per_pair, allowance


# Statutory Sick Pay ------------------------------------------------------------------------------------


def _sick_days(records: list[LeaveRecord], period: Period) -> list[date]:
    days = set()
    for record in records:
        day = max(record.first_day, period.start)
        while day <= min(record.last_day, period.end):
            days.add(day)
            day += timedelta(days=1)
    return sorted(days)


def _worked_weekdays(employment_id: int, before: date) -> set[int]:
    rows = db.session.scalars(
        sa.select(Shift.work_date).join(Timesheet, Timesheet.id == Shift.timesheet_id)
        .where(Timesheet.employment_id == employment_id, Timesheet.status == TimesheetStatus.APPROVED,
               Shift.rate_type != RateType.SLEEP_IN,
               Shift.work_date >= before - timedelta(days=SSP_LOOKBACK_DAYS), Shift.work_date < before)).all()
    return {day.weekday() for day in rows}


def average_weekly_earnings(employment: Employment, pay_date: date) -> tuple[int | None, str]:
    """(pence a week or None, how it was worked out)."""
    since = pay_date - timedelta(days=SSP_LOOKBACK_DAYS)
    total, count = db.session.execute(
        sa.select(sa.func.coalesce(sa.func.sum(Payslip.gross_pence), 0), sa.func.count(Payslip.id))
        .join(PayRun, PayRun.id == Payslip.run_id)
        .where(Payslip.employment_id == employment.id, PayRun.status == PayRunStatus.APPROVED,
               Payslip.pay_date >= since, Payslip.pay_date < pay_date)).one()
    if count:
        weekly = round_half_up_div(int(total), 8)
        return weekly, (f"Taxable pay on the {count} payslip{'s' if count != 1 else ''} paid from {since.day} {since:%B %Y} "
                        f"to the day before this pay date, {pounds(int(total))}, divided by 8 weeks = {pounds(weekly)} a week")
    if employment.contracted_hours:
        weekly = int((employment.contracted_hours * employment.day_rate_pence).quantize(Decimal(1), rounding=ROUND_HALF_UP))
        return weekly, (f"No payslips in the 8 weeks before: the contracted {employment.contracted_hours.normalize():f} hours a "
                        f"week at the day rate of {pounds(employment.day_rate_pence)} = {pounds(weekly)} a week")
    return None, "No payslips in the 8 weeks before and no contracted hours in the employment record"


# Building a draft --------------------------------------------------------------------------------------


@dataclass
class _Work:
    employment: Employment
    timesheets: list[Timesheet] = field(default_factory=list)
    holidays: list[LeaveRecord] = field(default_factory=list)
    sickness: list[LeaveRecord] = field(default_factory=list)


def _claim_rebuild(run: PayRun, user: User) -> None:
    result = db.session.execute(
        sa.update(PayRun).where(PayRun.id == run.id, PayRun.status == PayRunStatus.DRAFT, PayRun.version == run.version)
        .values(version=PayRun.version + 1, built_by_id=user.id, built_at=utcnow())
        .execution_options(synchronize_session=False))
    db.session.refresh(run)
    if result.rowcount != 1:
        if run.status == PayRunStatus.APPROVED:
            raise AlreadyApproved("This pay run was approved, so it cannot be rebuilt. Put a mistake right in a later run "
                                  "or with a reversal.")
        raise StaleRun()


def _clear(run: PayRun) -> None:
    ids = sa.select(Payslip.id).where(Payslip.run_id == run.id)
    db.session.execute(sa.delete(PayslipLine).where(PayslipLine.payslip_id.in_(ids)).execution_options(synchronize_session=False))
    db.session.execute(sa.delete(Payslip).where(Payslip.run_id == run.id).execution_options(synchronize_session=False))
    db.session.expire(run, ["payslips"])


def _rates(pay_date: date, frequency: PayPeriod) -> payroll_calc.PayrollRates:
    try:
        return payroll_rates.rates_for(pay_date, frequency)
    except LookupError as missing:
        raise PayRunError(f"The payroll rates for {pay_date.day} {pay_date:%B %Y} are missing ({missing}). "
                          "An administrator adds them on the rates page.") from missing


def build_draft(provider_id: int, frequency: PayPeriod, period_start: date, user: User, today: date) -> PayRun:
    """Build (or rebuild) the draft run for the period. The caller commits (one transaction)."""
    period = period_of_run(provider_id, frequency, period_start)
    if period is None:
        raise PayRunError(f"No {frequency.value} pay period starts on {period_start.day} {period_start:%B %Y} in the payroll calendar.")
    key = run_key(provider_id, frequency, period.start)
    run = db.session.scalar(sa.select(PayRun).where(PayRun.run_key == key))
    fresh = False
    if run is None:
        run = PayRun(run_key=key, kind=PayRunKind.REGULAR, provider_id=provider_id, pay_period=frequency,
                     period_start=period.start, period_end=period.end, pay_date=period.pay_date,
                     tax_year_start=payroll_rates.tax_year_start(period.pay_date),
                     tax_period=payroll_rates.tax_period(period.pay_date, frequency), status=PayRunStatus.DRAFT,
                     created_by_id=user.id, built_by_id=user.id, version=1)
        try:
            with db.session.begin_nested():
                db.session.add(run)
                db.session.flush()
            fresh = True
        except IntegrityError:  # another request made it first: rebuild that one
            run = db.session.scalar(sa.select(PayRun).where(PayRun.run_key == key))
    if run.status == PayRunStatus.APPROVED:
        raise AlreadyApproved("This pay run is approved and locked, so it is never rebuilt. Put a mistake right in a later "
                              "run or with a reversal.")
    if not fresh:
        db.session.refresh(run)
        _claim_rebuild(run, user)
        _clear(run)
    rates = _rates(run.pay_date, frequency)
    _fill(run, period, rates)
    db.session.flush()
    db.session.expire(run, ["payslips"])
    _ask_for_approval(run, user)
    return run


def _gather(run: PayRun, period: Period) -> list[_Work]:
    employers = payroll_employer_ids(run.provider_id)
    employments = {e.id: e for e in db.session.scalars(
        sa.select(Employment).where(Employment.employer_id.in_(employers), Employment.pay_period == run.pay_period)
        .options(selectinload(Employment.pa)))}
    if not employments:
        return []
    paid = sa.select(PaidTimesheet.timesheet_id)
    found = db.session.scalars(
        sa.select(Timesheet).where(Timesheet.employment_id.in_(employments), Timesheet.status == TimesheetStatus.APPROVED,
                                   Timesheet.period_end <= period.end, Timesheet.paid_on.is_(None), Timesheet.id.not_in(paid))
        .options(selectinload(Timesheet.shifts), selectinload(Timesheet.claims))
        .order_by(Timesheet.period_start, Timesheet.id)).all()
    work: dict[int, _Work] = {}
    for ts in found:
        work.setdefault(ts.employment_id, _Work(employments[ts.employment_id])).timesheets.append(ts)
    leave = db.session.scalars(
        sa.select(LeaveRecord).where(LeaveRecord.employment_id.in_(employments), LeaveRecord.first_day <= period.end,
                                     LeaveRecord.last_day >= period.start).order_by(LeaveRecord.first_day, LeaveRecord.id)).all()
    for record in leave:
        if record.kind == LeaveKind.HOLIDAY:
            if period.contains(record.first_day):  # holiday is paid in the period it starts in, once
                work.setdefault(record.employment_id, _Work(employments[record.employment_id])).holidays.append(record)
        else:
            work.setdefault(record.employment_id, _Work(employments[record.employment_id])).sickness.append(record)
    return sorted(work.values(), key=lambda w: (w.employment.employer_id, w.employment.pa.family_name, w.employment.pa.given_name,
                                                w.employment.id))


NO_ACCOUNT_WARNING = ("{employer} has no direct payment account in the portal, so nothing will show what is owed for "
                      "{pa}'s pay, tax, National Insurance or pension: pay them outside the portal.")


def _fill(run: PayRun, period: Period, rates: payroll_calc.PayrollRates) -> None:
    work = _gather(run, period)
    employer_ids = {w.employment.employer_id for w in work}
    ytd, allowance_used = _ytd_before(employer_ids, run.tax_year_start)
    floors: dict[str, int | None] = {}  # minimum wage by band on the pay date: one look-up each per run
    with_account = set(db.session.scalars(sa.select(DPAccount.recipient_id).where(DPAccount.recipient_id.in_(employer_ids)))) if employer_ids else set()
    for item in work:
        employment = item.employment
        left = max(0, rates.employment_allowance_pence - allowance_used[employment.employer_id])
        before = ytd.get((employment.pa_id, employment.employer_id), dict.fromkeys(YTD_FIELDS, 0))
        payslip = _payslip(run, period, rates, item, before, left, floors)
        if employment.employer_id not in with_account:
            # Approval expects the money from the employer's account: without one nothing would show what is owed.
            payslip.warnings = "\n".join(filter(None, [payslip.warnings, NO_ACCOUNT_WARNING.format(
                employer=employment.employer.full_name, pa=employment.pa.full_name)]))
        allowance_used[employment.employer_id] += payslip.employment_allowance_pence
        db.session.add(payslip)
    db.session.flush()


def _payslip(run: PayRun, period: Period, rates, work: _Work, before: dict, allowance_left: int,
             floors: dict[str, int | None]) -> Payslip:
    employment = work.employment
    steps: list[dict] = []
    problems: list[str] = []

    def step(label: str, detail: str, pence: int | None = None, flag: bool = False) -> None:
        entry = {"label": label, "detail": detail, "pence": pence}
        if flag:
            entry["flag"] = True
        steps.append(entry)

    step("Pay period", f"{run.pay_period.value.capitalize()} pay for {_dates(period.start, period.end)}, paid on "
                       f"{run.pay_date.day} {run.pay_date:%B %Y} (tax {'month' if run.pay_period == PayPeriod.MONTHLY else 'week'} "
                       f"{run.tax_period} of the tax year from {run.tax_year_start.day} {run.tax_year_start:%B %Y})")

    lines: list[Line] = []
    for ts in work.timesheets:
        corrected = correction_lines(ts, rates) if ts.corrects_id else None
        if corrected is not None:
            lines.extend(corrected)
            step("Correction", f"The timesheet for {_dates(ts.period_start, ts.period_end)} was corrected after it was paid: "
                               "what was paid before is taken back and the corrected timesheet paid, so only the difference is paid",
                 sum(line.amount_pence for line in corrected))
        else:
            lines.extend(timesheet_lines(ts, rates))
    hours_lines = [line for line in lines if line.pays_for == K.HOURS]
    minutes_worked = sum(line.quantity for line in hours_lines)
    hours_pay = sum(line.amount_pence for line in hours_lines)

    # Holiday.
    accrued = taken_minutes = 0
    if employment.holiday_method == HolidayMethod.ACCRUED:
        accrued = payroll_calc.holiday_accrued_minutes(rates, max(0, minutes_worked))
        if minutes_worked > 0:
            step("Holiday earned", f"{rates.holiday_accrual_bp / 100:g}% of {timesheets.hours_text(minutes_worked)} worked = "
                                   f"{timesheets.hours_text(accrued)} of holiday earned (shown, not paid now)")
        for record in work.holidays:
            minutes = int((record.hours or 0) * 60)
            if not minutes:
                continue
            taken_minutes += minutes
            amount = round_half_up_div(minutes * employment.day_rate_pence, 60)
            lines.append(Line(K.HOLIDAY, "Holiday pay", f"Holiday taken {_dates(record.first_day, record.last_day)}", minutes,
                              employment.day_rate_pence, amount))
            step("Holiday pay", f"{timesheets.hours_text(minutes)} of holiday taken from {record.first_day.day} "
                                f"{record.first_day:%B} at the day rate of {pounds(employment.day_rate_pence)} an hour", amount)
    else:
        if hours_pay:
            sign = -1 if hours_pay < 0 else 1
            rolled = sign * payroll_calc.rolled_up_holiday_pence(rates, abs(hours_pay))
            lines.append(Line(K.ROLLED_UP_HOLIDAY, "Rolled-up holiday pay",
                              f"Rolled-up holiday pay, {rates.holiday_accrual_bp / 100:g}% of {pounds(hours_pay)} pay for hours",
                              0, rates.holiday_accrual_bp, rolled))
            step("Rolled-up holiday pay", f"{rates.holiday_accrual_bp / 100:g}% of the pay for hours worked, {pounds(hours_pay)}, "
                                          "paid with each period and shown separately", rolled)
        for record in work.holidays:
            taken_minutes += int((record.hours or 0) * 60)
        if taken_minutes:
            step("Holiday taken", f"{timesheets.hours_text(taken_minutes)} of holiday taken: not paid again, as holiday pay is "
                                  "rolled up into each period's pay")

    # Statutory Sick Pay, from the first day.
    ssp = 0
    if work.sickness:
        days = _sick_days(work.sickness, period)
        first = min(r.first_day for r in work.sickness)
        weekdays = _worked_weekdays(employment.id, first)
        qualifying = len(weekdays) if weekdays else 7
        paid_days = [d for d in days if not weekdays or d.weekday() in weekdays]
        awe, how = average_weekly_earnings(employment, run.pay_date)
        if awe is None:
            problems.append(f"{employment.pa.full_name} was off sick but their average weekly earnings cannot be worked out: "
                            "no payslips in the 8 weeks before and no contracted hours. Add the contracted hours to the "
                            "employment record, then rebuild.")
            step("Statutory Sick Pay", how, flag=True)
        elif paid_days:
            daily = payroll_calc.ssp_daily_pence(rates, awe, qualifying)
            ssp = payroll_calc.ssp_for_days_pence(rates, awe, qualifying, len(paid_days))
            exact = payroll_calc.ssp_weekly_pence(rates, awe)
            weekly = round_half_up_div(exact.numerator, exact.denominator)
            cap = round_half_up_div(awe * rates.ssp_earnings_bp, 10000)
            days_words = (f"the days they usually work ({', '.join(sorted({d.strftime('%A') for d in paid_days}))}), "
                          f"{qualifying} qualifying days a week" if weekdays else "every day, 7 qualifying days a week "
                          "(no online shifts to show the days usually worked)")
            lines.append(Line(K.SSP, "Statutory sick pay", f"Statutory Sick Pay, {len(paid_days)} day{'s' if len(paid_days) != 1 else ''} "
                              f"from {paid_days[0].day} {paid_days[0]:%B}", len(paid_days), daily, ssp))
            step("Average weekly earnings", how, awe)
            step("Statutory Sick Pay", f"From the first day of sickness. The lower of {pounds(rates.ssp_weekly_pence)} a week and "
                                       f"{rates.ssp_earnings_bp / 100:g}% of average weekly earnings ({pounds(cap)}) = "
                                       f"{pounds(weekly)} a week; sick on {days_words}: {pounds(weekly)} x "
                                       f"{len(paid_days)} / {qualifying}, rounded up to the penny", ssp)

    taxable = sum(line.amount_pence for line in lines if line.taxable)
    non_taxable = sum(line.amount_pence for line in lines if not line.taxable)
    holiday_pay = sum(line.amount_pence for line in lines if line.pays_for in (K.HOLIDAY, K.ROLLED_UP_HOLIDAY))
    step("Taxable pay, line by line", " + ".join(f"{line.description} {pounds(line.amount_pence)}" for line in lines if line.taxable)
         or "Nothing taxable", taxable)
    if non_taxable:
        step("Paid on top, not taxed", "Mileage and expenses are paid back at cost, with no tax or National Insurance", non_taxable)

    code = tax_code_for(employment, run.tax_year_start)
    step("Which tax code", f"{code.words}. {code.why}", flag=code.flagged)
    previous = previous_employment(employment, run.tax_year_start)
    if previous is not None:
        step("P45 from the previous job", f"The employment record holds the P45 from the job the PA left on "
                                          f"{employment.p45_leaving_date.day} {employment.p45_leaving_date:%B %Y}: "
                                          f"{pounds(previous[0])} pay and {pounds(previous[1])} tax to date this tax year")
    age = age_on_pay_date(employment, run.pay_date)
    born = employment.pa_date_of_birth
    pension_date = payroll_calc.state_pension_date(born) if born is not None else None
    pension_age = pension_date is not None and run.pay_date >= pension_date
    when = f"{pension_date.day} {pension_date:%B %Y}" if pension_date else ""
    if age is None:
        step("Age and NI category", "A: the PA's date of birth is not recorded, so they are treated as 21 or over and under "
                                    "State Pension age. Record it in the employment record.", flag=True)
    elif pension_age:
        step("Age and NI category", f"C: aged {age} on the pay date, over State Pension age (reached on {when}): no employee "
                                    "NI, the employer's NI is still due, and the PA is not an eligible jobholder for the "
                                    "workplace pension (they may ask to join)")
    else:
        category = "M" if age < 21 else "A"
        step("Age and NI category", f"{category}: aged {age} on the pay date"
                                    + (" (under 21: no employer NI up to the upper earnings limit)" if category == "M" else "")
                                    + (f"; State Pension age is reached on {when}" if age >= 60 else ""))
    step("Year to date before this payslip", f"With this employer this tax year: taxable pay {pounds(before['gross_pence'])}, "
                                             f"tax {pounds(before['tax_pence'])}")
    step("Employment Allowance left", f"{pounds(allowance_left)} of the employer's {pounds(rates.employment_allowance_pence)} "
                                      "a year, to set against employer's National Insurance")

    figures = payroll_calc.calculate(payroll_calc.PayInput(
        rates=rates, tax_period=run.tax_period, tax_code=code.code, week1_month1=code.week1_month1,
        age=age if age is not None else 30, pension_status=employment.pension_status, taxable_pay_pence=taxable,
        non_taxable_pence=non_taxable, ytd_taxable_before_pence=before["gross_pence"], ytd_tax_before_pence=before["tax_pence"],
        employment_allowance_left_pence=allowance_left, state_pension_age_reached=pension_age,
        previous_employment_pay_pence=previous[0] if previous else 0,
        previous_employment_tax_pence=previous[1] if previous else 0))
    for s in figures.steps:
        step(s.label, s.detail, s.pence)
    problems.extend(figures.problems)
    category = figures.ni_category

    # Deductions the portal does not work out: a warning for the payroll staff, never silently left out.
    warnings: list[str] = []
    outside = outside_deductions(employment)
    if outside:
        words = _and(outside)
        them = "it" if len(outside) == 1 else "them"
        warnings.append(f"{employment.pa.full_name}: deductions for the {words} are not worked out by the portal. The payroll "
                        f"service must work {them} out, take {them} from the pay and pay {them} over outside the portal: the "
                        f"net pay on this payslip is before {them}.")
        step("Deductions not worked out by the portal", f"For the {words} (from the employment record): made outside the "
                                                        f"portal. The net pay here is before {them}", flag=True)
    unknown = [what for what, answer in (("a student loan", employment.student_loan == StudentLoan.NOT_KNOWN),
                                         ("a Postgraduate Loan", employment.postgraduate_loan == PostgraduateLoan.NOT_KNOWN))
               if answer]
    if unknown:
        warnings.append(f"{employment.pa.full_name}'s employment record says it is not known whether they repay "
                        f"{' or '.join(unknown)}. Ask them (HMRC's starter checklist asks) and record the answer: a loan "
                        "to repay is deducted outside the portal.")
        step("Student loans", f"Not known whether the PA repays {' or '.join(unknown)}: ask them and record it", flag=True)
    if figures.pension_eligible and employment.pension_status == PensionStatus.NOT_ASSESSED:
        step("Pension", "The PA is an eligible jobholder this period: enrol them in the workplace pension and record it in "
                        "the employment record.", flag=True)

    # The minimum wage, for the hours worked on this payslip's timesheets (not corrections).
    regular = [line for line in lines if line.kind == K.HOURS]
    minutes = sum(line.quantity for line in regular)
    if minutes > 0:
        paid = sum(line.amount_pence for line in regular)
        key, words = timesheets.minimum_wage_band(employment.pa_date_of_birth, run.pay_date)
        if key not in floors:
            floors[key] = timesheets.rate_value(key, run.pay_date)
        floor = floors[key]
        hourly = paid * 60 // minutes
        if floor is not None and paid * 60 < floor * minutes:
            hint = "" if employment.pa_date_of_birth else " (the PA's date of birth is not recorded, so the adult rate applies)"
            problems.append(f"{employment.pa.full_name} is paid {pounds(hourly)} an hour for the hours worked ({pounds(paid)} for "
                            f"{timesheets.hours_text(minutes)}), below {words}, {pounds(floor)} an hour on the pay date "
                            f"{run.pay_date.day} {run.pay_date:%B %Y}{hint}. Correct the rate in the employment record, then rebuild.")
            step("Minimum wage", f"{pounds(hourly)} an hour is below {words}, {pounds(floor)} an hour", flag=True)
        elif floor is not None:
            step("Minimum wage", f"{pounds(paid)} for {timesheets.hours_text(minutes)} is {pounds(hourly)} an hour: at least "
                                 f"{words}, {pounds(floor)} an hour")
    if figures.net_pence < 0:
        problems.append(f"{employment.pa.full_name}'s net pay comes to {pounds(figures.net_pence)}: a correction takes back more "
                        "than this period pays. Agree how the overpayment is recovered, then rebuild.")

    payslip = Payslip(
        run_id=run.id, employment_id=employment.id, pa_id=employment.pa_id, employer_id=employment.employer_id,
        tax_year_start=run.tax_year_start, tax_period=run.tax_period, pay_date=run.pay_date,
        tax_code=code.code[:12], week1_month1=code.week1_month1, ni_category=category,
        pension_enrolled=employment.pension_status == PensionStatus.ENROLLED,
        minutes_worked=minutes_worked, gross_pence=taxable, holiday_pay_pence=holiday_pay, ssp_pence=ssp,
        non_taxable_pence=non_taxable, tax_pence=figures.tax_pence, employee_ni_pence=figures.employee_ni_pence,
        employee_pension_pence=figures.employee_pension_pence, net_pence=figures.net_pence,
        employer_ni_pence=figures.employer_ni_pence, employment_allowance_pence=figures.employment_allowance_pence,
        employer_pension_pence=figures.employer_pension_pence, holiday_accrued_minutes=accrued,
        holiday_taken_minutes=taken_minutes,
        ytd_gross_pence=before["gross_pence"] + taxable, ytd_tax_pence=before["tax_pence"] + figures.tax_pence,
        ytd_employee_ni_pence=before["employee_ni_pence"] + figures.employee_ni_pence,
        ytd_employer_ni_pence=before["employer_ni_pence"] + figures.employer_ni_pence,
        ytd_employee_pension_pence=before["employee_pension_pence"] + figures.employee_pension_pence,
        ytd_employer_pension_pence=before["employer_pension_pence"] + figures.employer_pension_pence,
        ytd_employment_allowance_pence=before["employment_allowance_pence"] + figures.employment_allowance_pence,
        ni_earnings_at_lel_pence=figures.ni_earnings_at_lel_pence, ni_earnings_lel_to_pt_pence=figures.ni_earnings_lel_to_pt_pence,
        ni_earnings_pt_to_uel_pence=figures.ni_earnings_pt_to_uel_pence, previous_pay_pence=figures.previous_pay_used_pence,
        previous_tax_pence=figures.previous_tax_used_pence, outside_deductions="; ".join(outside)[:200],
        problems="\n".join(problems), warnings="\n".join(warnings), breakdown=json.dumps(steps),
    )
    payslip.lines = [PayslipLine(kind=line.kind, description=line.description[:200], quantity=line.quantity,
                                 rate_pence=line.rate_pence, amount_pence=line.amount_pence, taxable=line.taxable,
                                 timesheet_id=line.timesheet_id, corrects_payslip_id=line.corrects_payslip_id) for line in lines]
    return payslip


def steps_of(payslip: Payslip) -> list[dict]:
    return json.loads(payslip.breakdown or "[]")


def problems_of(payslip: Payslip) -> list[str]:
    return [p for p in (payslip.problems or "").split("\n") if p]


def warnings_of(payslip: Payslip) -> list[str]:
    """What the payroll staff must see but which does not refuse approval (deductions made outside the portal)."""
    return [w for w in (payslip.warnings or "").split("\n") if w]


def _and(words: list[str]) -> str:
    return words[0] if len(words) == 1 else ", ".join(words[:-1]) + " and " + words[-1]


def _ask_for_approval(run: PayRun, builder: User) -> None:
    """Tell the provider's managers and payroll staff (not the builder) that a run waits for a second person."""
    users = db.session.scalars(sa.select(User).where(
        User.organisation_id == run.provider_id, User.id != builder.id, User.disabled_at.is_(None),
        sa.or_(User.role == Role.DPSS_MANAGER, User.payroll_permission.is_(True)))).all()
    notifications.notify(users, f"payrun:{run.id}:built:{run.version}",
                         f"{builder.display_name} built the {run.pay_period.value} pay run for {_dates(run.period_start, run.period_end)}. "
                         "It needs a second person to check and approve it.", f"/payroll/runs/{run.id}")


# Approving ---------------------------------------------------------------------------------------------


def may_approve(user: User, run: PayRun) -> str | None:
    """None if the user may approve the run now, else why not (in words for the page)."""
    if run.status == PayRunStatus.APPROVED:
        return "This pay run is approved and locked."
    if not (user.role.is_dpss and (user.payroll_permission or user.role == Role.DPSS_MANAGER)):
        return "Only payroll staff and managers of the support service approve pay runs."
    if user.organisation_id != run.provider_id:
        return "Only staff of the support service that runs this payroll approve it."
    if user.id in (run.created_by_id, run.built_by_id):
        return "You built this pay run, so another member of staff must check and approve it."
    return None


def _blocked(run: PayRun) -> list[str]:
    out = []
    for payslip in run.payslips:
        for problem in problems_of(payslip):
            out.append(problem)
    return out


def _timesheet_ids(payslip: Payslip) -> set[int]:
    return {line.timesheet_id for line in payslip.lines if line.timesheet_id}


def _ytd_moved(run: PayRun) -> bool:
    """Whether the approved year-to-date figures changed since the run was built (another run approved).

    The Employment Allowance is the employer's, not the PA's: a weekly and a monthly draft for the same
    employer each see the whole allowance left, so the employer's claims are added up too."""
    employer_ids = {p.employer_id for p in run.payslips}
    now, allowance_claimed = _ytd_before(employer_ids, run.tax_year_start)
    claiming: dict[int, int] = defaultdict(int)
    for p in run.payslips:
        current = now.get((p.pa_id, p.employer_id), dict.fromkeys(YTD_FIELDS, 0))
        if (current["gross_pence"] != p.ytd_gross_pence - p.gross_pence or current["tax_pence"] != p.ytd_tax_pence - p.tax_pence
                or current["employment_allowance_pence"] != p.ytd_employment_allowance_pence - p.employment_allowance_pence):
            return True
        claiming[p.employer_id] += p.employment_allowance_pence
    if any(claiming.values()):
        allowance = _rates(run.pay_date, run.pay_period).employment_allowance_pence
        if any(allowance_claimed[e] + claim > allowance for e, claim in claiming.items() if claim):
            return True
    return False


def approve(run_id: int, version: int, approver: User, today: date) -> PayRun:
    """A second person approves: the run is claimed (draft to approved) and its money expected, once.
    The caller runs it in one transaction (portal.sqlite.immediate_transaction) and commits."""
    run = db.session.get(PayRun, run_id)
    if run is None:
        raise PayRunError("There is no such pay run.")
    db.session.refresh(run)
    if run.status == PayRunStatus.APPROVED:
        raise AlreadyApproved()
    why_not = may_approve(approver, run)
    if why_not:
        raise NotAllowed(why_not)
    if version != run.version:
        raise StaleRun()
    if not run.payslips:
        raise PayRunError("There is nothing to pay in this pay run, so there is nothing to approve.")
    blocked = _blocked(run)
    if blocked:
        raise PayRunError("This pay run cannot be approved until these are put right: " + " ".join(blocked))
    if run.kind == PayRunKind.REGULAR:
        ids = set().union(*(_timesheet_ids(p) for p in run.payslips))
        taken = db.session.scalars(sa.select(PaidTimesheet.timesheet_id).where(PaidTimesheet.timesheet_id.in_(ids))).all() if ids else []
        if taken:
            raise PayRunError(f"{len(taken)} of this run's timesheets {'was' if len(taken) == 1 else 'were'} paid by another pay run "
                              "since it was built. Rebuild it, then approve.")
        if _ytd_moved(run):
            raise PayRunError("Another pay run for these employers was approved since this one was built, so the year-to-date "
                              "figures have changed. Rebuild it, then approve.")
    # Claimed first (only one request gets past this), then the money: all in the caller's transaction.
    claimed = db.session.execute(
        sa.update(PayRun).where(PayRun.id == run.id, PayRun.status == PayRunStatus.DRAFT, PayRun.version == version)
        .values(status=PayRunStatus.APPROVED, version=PayRun.version + 1, approved_by_id=approver.id, approved_at=utcnow())
        .execution_options(synchronize_session=False))
    if claimed.rowcount != 1:
        db.session.refresh(run)
        if run.status == PayRunStatus.APPROVED:
            raise AlreadyApproved()
        raise StaleRun()
    db.session.refresh(run)
    if run.kind == PayRunKind.REVERSAL:
        _post_reversal(run, today)
    else:
        _post_regular(run)
    db.session.flush()
    _tell_the_builder(run, approver)
    return run


def _expect(account_id: int | None, key: str, amount: int, due: date, description: str) -> None:
    if account_id is None or amount == 0:
        return
    if db.session.scalar(sa.select(ExpectedItem.id).where(ExpectedItem.key == key)) is not None:
        return
    db.session.add(ExpectedItem(account_id=account_id, kind=ExpectedKind.PAY_RUN, amount_pence=amount, due_date=due, key=key,
                                description=description[:200]))


def employer_totals(run: PayRun) -> dict[int, dict[str, int]]:
    """Per employer: what goes to HMRC and the pension scheme, and the employer's whole cost."""
    out: dict[int, dict[str, int]] = {}
    for p in run.payslips:
        row = out.setdefault(p.employer_id, defaultdict(int))
        row["net"] += p.net_pence
        row["hmrc"] += p.tax_pence + p.employee_ni_pence + p.employer_ni_pence
        row["pension"] += p.employee_pension_pence + p.employer_pension_pence
        row["gross"] += p.gross_pence
        row["non_taxable"] += p.non_taxable_pence
        row["employer_ni"] += p.employer_ni_pence
        row["allowance"] += p.employment_allowance_pence
        row["employer_pension"] += p.employer_pension_pence
        row["cost"] += p.gross_pence + p.non_taxable_pence + p.employer_ni_pence + p.employer_pension_pence
    return out


def _post_regular(run: PayRun) -> None:
    when = _dates(run.period_start, run.period_end)
    accounts: dict[int, int | None] = {}
    for payslip in run.payslips:
        ids = _timesheet_ids(payslip)
        for ts_id in sorted(ids):
            db.session.add(PaidTimesheet(timesheet_id=ts_id, payslip_id=payslip.id))
        if ids:
            db.session.execute(
                sa.update(ExpectedItem).where(ExpectedItem.key.in_([f"timesheet:{i}" for i in ids]),
                                              ExpectedItem.status == ExpectedStatus.OPEN)
                .values(status=ExpectedStatus.CANCELLED).execution_options(synchronize_session=False))
        if payslip.employer_id not in accounts:
            accounts[payslip.employer_id] = timesheets.employer_account_id(payslip.employer_id)
        _expect(accounts[payslip.employer_id], f"payrun:{run.id}:net:{payslip.id}", -payslip.net_pence, run.pay_date,
                f"PA net pay, pay run {when} (payslip {payslip.id})")
    db.session.flush()  # a timesheet paid twice fails here, on the primary key
    for employer_id, row in employer_totals(run).items():
        _expect(accounts[employer_id], f"payrun:{run.id}:hmrc:{employer_id}", -row["hmrc"], run.pay_date,
                f"PAYE tax and National Insurance to HMRC, pay run {when}")
        _expect(accounts[employer_id], f"payrun:{run.id}:pension:{employer_id}", -row["pension"], run.pay_date,
                f"Workplace pension contributions, pay run {when}")


def _post_reversal(run: PayRun, today: date) -> None:
    original = db.session.get(PayRun, run.reverses_run_id)
    originals = [p.id for p in original.payslips]
    # The reversed run's timesheets are unpaid again: the next run pays them, and until then they are owed.
    freed = db.session.scalars(sa.select(PaidTimesheet.timesheet_id).where(PaidTimesheet.payslip_id.in_(originals))).all()
    db.session.execute(sa.delete(PaidTimesheet).where(PaidTimesheet.payslip_id.in_(originals)).execution_options(synchronize_session=False))
    if freed:
        still_owed = sa.select(Timesheet.id).where(Timesheet.id.in_(freed), Timesheet.status == TimesheetStatus.APPROVED,
                                                   Timesheet.paid_on.is_(None))
        keys = [f"timesheet:{i}" for i in db.session.scalars(still_owed)]
        if keys:
            db.session.execute(sa.update(ExpectedItem).where(ExpectedItem.key.in_(keys), ExpectedItem.status == ExpectedStatus.CANCELLED)
                               .values(status=ExpectedStatus.OPEN).execution_options(synchronize_session=False))
    # Its money: what is still owed is owed no more; what already left is due back.
    mine = {p.employer_id for p in run.payslips}
    by_employment = {p.employment_id: p.id for p in run.payslips}
    by_original = {p.id: by_employment.get(p.employment_id) for p in original.payslips}
    prefix = f"payrun:{original.id}:"
    items = db.session.scalars(sa.select(ExpectedItem).where(ExpectedItem.key.like(prefix + "%"))).all()
    for item in items:
        if item.status == ExpectedStatus.OPEN:
            item.status = ExpectedStatus.CANCELLED
        elif item.status == ExpectedStatus.SETTLED:
            _, _, what, ref = item.key.split(":", 3)
            if what == "net":
                ref = str(by_original.get(int(ref), ref))
            elif int(ref) not in mine:
                continue
            _expect(item.account_id, f"payrun:{run.id}:{what}:{ref}", -item.amount_pence, max(today, run.pay_date),
                    f"Due back: reversal of {item.description}")


def _tell_the_builder(run: PayRun, approver: User) -> None:
    users = db.session.scalars(sa.select(User).where(User.id.in_({run.created_by_id, run.built_by_id} - {None}))).all()
    notifications.notify(users, f"payrun:{run.id}:approved",
                         f"{approver.display_name} approved the {run.pay_period.value} pay run for "
                         f"{_dates(run.period_start, run.period_end)}.", f"/payroll/runs/{run.id}")


# Reversal ----------------------------------------------------------------------------------------------


def reverse(run_id: int, user: User) -> PayRun:
    """A reversal run for an approved run: every payslip negated, waiting for a second person's approval.
    Asking twice finds the first. The caller commits."""
    original = db.session.get(PayRun, run_id)
    if original is None or original.provider_id != user.organisation_id:
        raise PayRunError("There is no such pay run.")
    key = f"reversal:{original.id}"
    existing = db.session.scalar(sa.select(PayRun).where(PayRun.run_key == key))
    if existing is not None:
        return existing
    if original.kind == PayRunKind.REVERSAL:
        raise PayRunError("A reversal cannot itself be reversed. Run the period again instead.")
    if original.status != PayRunStatus.APPROVED:
        raise PayRunError("Only an approved pay run is reversed; a draft can simply be rebuilt.")
    run = PayRun(run_key=key, kind=PayRunKind.REVERSAL, provider_id=original.provider_id, pay_period=original.pay_period,
                 period_start=original.period_start, period_end=original.period_end, pay_date=original.pay_date,
                 tax_year_start=original.tax_year_start, tax_period=original.tax_period, status=PayRunStatus.DRAFT,
                 reverses_run_id=original.id, created_by_id=user.id, built_by_id=user.id, version=1)
    try:
        with db.session.begin_nested():
            db.session.add(run)
            db.session.flush()
    except IntegrityError:
        return db.session.scalar(sa.select(PayRun).where(PayRun.run_key == key))
    ytd, _ = _ytd_before({p.employer_id for p in original.payslips}, original.tax_year_start)
    for p in original.payslips:
        before = ytd.get((p.pa_id, p.employer_id), dict.fromkeys(YTD_FIELDS, 0))
        copy = Payslip(
            run_id=run.id, employment_id=p.employment_id, pa_id=p.pa_id, employer_id=p.employer_id,
            tax_year_start=p.tax_year_start, tax_period=p.tax_period, pay_date=p.pay_date, tax_code=p.tax_code,
            week1_month1=p.week1_month1, ni_category=p.ni_category, pension_enrolled=p.pension_enrolled,
            minutes_worked=-p.minutes_worked, gross_pence=-p.gross_pence, holiday_pay_pence=-p.holiday_pay_pence,
            ssp_pence=-p.ssp_pence, non_taxable_pence=-p.non_taxable_pence, tax_pence=-p.tax_pence,
            employee_ni_pence=-p.employee_ni_pence, employee_pension_pence=-p.employee_pension_pence, net_pence=-p.net_pence,
            employer_ni_pence=-p.employer_ni_pence, employment_allowance_pence=-p.employment_allowance_pence,
            employer_pension_pence=-p.employer_pension_pence, holiday_accrued_minutes=-p.holiday_accrued_minutes,
            holiday_taken_minutes=-p.holiday_taken_minutes,
            ytd_gross_pence=before["gross_pence"] - p.gross_pence, ytd_tax_pence=before["tax_pence"] - p.tax_pence,
            ytd_employee_ni_pence=before["employee_ni_pence"] - p.employee_ni_pence,
            ytd_employer_ni_pence=before["employer_ni_pence"] - p.employer_ni_pence,
            ytd_employee_pension_pence=before["employee_pension_pence"] - p.employee_pension_pence,
            ytd_employer_pension_pence=before["employer_pension_pence"] - p.employer_pension_pence,
            ytd_employment_allowance_pence=before["employment_allowance_pence"] - p.employment_allowance_pence,
            ni_earnings_at_lel_pence=-p.ni_earnings_at_lel_pence, ni_earnings_lel_to_pt_pence=-p.ni_earnings_lel_to_pt_pence,
            ni_earnings_pt_to_uel_pence=-p.ni_earnings_pt_to_uel_pence,
            # The P45 figures are to-date figures the original used, not this period's: kept as they were.
            previous_pay_pence=p.previous_pay_pence, previous_tax_pence=p.previous_tax_pence,
            outside_deductions=p.outside_deductions, problems="", warnings="",
            breakdown=json.dumps([{"label": "Reversal", "pence": -p.net_pence,
                                   "detail": f"Reverses payslip {p.id} of the {original.pay_period.value} pay run for "
                                             f"{_dates(original.period_start, original.period_end)}: every figure is taken back. "
                                             "Its timesheets are paid again by the next pay run."}]),
        )
        copy.lines = [PayslipLine(kind=K.CORRECTION, description=f"Reversed: {line.description}"[:200], quantity=-line.quantity,
                                  rate_pence=line.rate_pence, amount_pence=-line.amount_pence, taxable=line.taxable,
                                  corrects_payslip_id=p.id) for line in p.lines]
        db.session.add(copy)
    db.session.flush()
    db.session.expire(run, ["payslips"])
    _ask_for_approval(run, user)
    return run


# The CSV for HMRC --------------------------------------------------------------------------------------

CSV_HEADER = [
    "run_id", "run_kind", "payslip_id", "employer_reference", "employer_name", "pa_name", "ni_number", "tax_code", "tax_basis",
    "ni_category", "pay_frequency", "tax_year", "tax_period", "period_start", "period_end", "pay_date", "hours_worked",
    "gross_taxable_pay", "non_taxable_pay", "holiday_pay", "statutory_sick_pay", "tax", "employee_ni", "employer_ni",
    "employment_allowance", "employee_pension", "employer_pension", "net_pay", "ytd_taxable_pay", "ytd_tax", "ytd_employee_ni",
    "ytd_employer_ni", "ytd_employee_pension", "ytd_employer_pension", "ytd_employment_allowance",
    "ni_earnings_at_lel", "ni_earnings_lel_to_pt", "ni_earnings_pt_to_uel", "previous_employment_pay", "previous_employment_tax",
    "deductions_outside_portal",
]


def _hours(minutes: int) -> str:
    sign = "-" if minutes < 0 else ""
    return sign + str((Decimal(abs(minutes)) / 60).quantize(Decimal("0.01"), rounding=ROUND_HALF_UP))


def csv_rows(run: PayRun) -> list[list[str]]:
    from portal.models import Person

    payslips = list(run.payslips)
    ids = {p.pa_id for p in payslips} | {p.employer_id for p in payslips}
    names = {p.id: p.full_name for p in db.session.scalars(sa.select(Person).where(Person.id.in_(ids)))} if ids else {}
    employments = {e.id: e for e in db.session.scalars(
        sa.select(Employment).where(Employment.id.in_({p.employment_id for p in payslips})))} if payslips else {}
    year = f"{run.tax_year_start.year}-{(run.tax_year_start.year + 1) % 100:02d}"
    rows = []
    for p in sorted(payslips, key=lambda p: (names.get(p.employer_id, ""), names.get(p.pa_id, ""), p.id)):
        money = [p.gross_pence, p.non_taxable_pence, p.holiday_pay_pence, p.ssp_pence, p.tax_pence, p.employee_ni_pence,
                 p.employer_ni_pence, p.employment_allowance_pence, p.employee_pension_pence, p.employer_pension_pence, p.net_pence,
                 p.ytd_gross_pence, p.ytd_tax_pence, p.ytd_employee_ni_pence, p.ytd_employer_ni_pence, p.ytd_employee_pension_pence,
                 p.ytd_employer_pension_pence, p.ytd_employment_allowance_pence]
        rows.append([
            str(run.id), run.kind.value, str(p.id), str(p.employer_id), names.get(p.employer_id, ""), names.get(p.pa_id, ""),
            employments[p.employment_id].ni_number, p.tax_code, "week1/month1" if p.week1_month1 else "cumulative", p.ni_category,
            run.pay_period.value, year, str(p.tax_period), run.period_start.isoformat(), run.period_end.isoformat(),
            p.pay_date.isoformat(), _hours(p.minutes_worked), *[_decimal_pounds(m) for m in money],
            *[_decimal_pounds(m) for m in (p.ni_earnings_at_lel_pence, p.ni_earnings_lel_to_pt_pence, p.ni_earnings_pt_to_uel_pence,
                                           p.previous_pay_pence, p.previous_tax_pence)],
            p.outside_deductions,
        ])
    return rows


def run_csv(run: PayRun) -> str:
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\r\n")
    writer.writerow(CSV_HEADER)
    for row in csv_rows(run):
        writer.writerow([safe_cell(value) for value in row])
    return out.getvalue()
