"""Payslips as people see them: a PA's from every employer, an employer's (the ones they paid), one
payslip's figures for its page and PDF, and the year-end figure sets (P60 and P45 figures).

Who sees what (the scopes below; a payslip outside them is simply not found, 404):
- a PA: the payslips where they are the PA (Payslip.pa_id is their person), from every employer,
  including employments that have ended;
- the employer (the recipient) and their representatives (view or manage): their own employer's;
- DPSS staff: those of employers in their scope (visible_recipients), and, with the payroll
  permission, of every payroll-service employer of their organisation (the payroll work,
  shared/personas.md);
- council officers and administrators: none. A payslip is the PA's personal data (pay, tax code,
  NI number); the council sees what the employer's account spent on wages, tax and NI, never a
  PA's payslip.
Only payslips of approved runs are payslips: a draft run's are the payroll staff's working figures
(the pay runs pages).

Privacy: a payslip shows the NI number masked to its last three characters ("ending 56C"). The
PA knows their own number, the employer has it on the employment record, and a payslip is printed,
posted and forwarded: it need not carry the whole number. The same holds for the P60 and P45
figures, which are figures for the forms (the portal does not file to HMRC), not the forms.

Money is integer pence and hours are minutes until the templates.
"""

from dataclasses import dataclass, field
from datetime import date
from pathlib import Path
import re

import sqlalchemy as sa
from flask import abort, render_template
from flask_login import current_user
from sqlalchemy.orm import aliased, selectinload

from portal.access import payroll_employers, visible_recipients
from portal.extensions import db
from portal.models import (
    Employment,
    Organisation,
    PayRun,
    PayRunKind,
    PayRunStatus,
    Payslip,
    PayslipLine,
    PayslipLineKind,
    Person,
    Recipient,
    Role,
    User,
)
from portal.models.employing import PayPeriod
from portal.services.clock import london_today

APPROVED = PayRun.status == PayRunStatus.APPROVED


# Scopes -------------------------------------------------------------------------------------------


def payslip_employers(user: User) -> sa.Select:
    """Recipient ids whose payslips this user sees from the employer's side (empty for PAs, council
    officers and administrators)."""
    ids = visible_recipients(user).with_only_columns(Recipient.person_id)
    if not user or not user.is_authenticated or user.role not in (
        Role.RECIPIENT, Role.REPRESENTATIVE, Role.DPSS_CASEWORKER, Role.DPSS_MANAGER
    ):
        return ids.where(sa.false())
    if user.role.is_dpss and user.payroll_permission:
        return sa.select(Recipient.person_id).where(
            sa.or_(Recipient.person_id.in_(ids), Recipient.person_id.in_(payroll_employers(user))))
    return ids


def visible_payslips(user: User) -> sa.Select:
    """Payslips of approved runs this user may see (see the module docstring)."""
    query = sa.select(Payslip).join(PayRun, PayRun.id == Payslip.run_id).where(APPROVED)
    if not user or not user.is_authenticated:
        return query.where(sa.false())
    if user.role == Role.PA:
        return query.where(Payslip.pa_id == user.person_id)
    return query.where(Payslip.employer_id.in_(payslip_employers(user)))


def visible_payslip_employments(user: User) -> sa.Select:
    """Employments whose year-end figures this user may see: the same people as visible_payslips."""
    query = sa.select(Employment)
    if not user or not user.is_authenticated:
        return query.where(sa.false())
    if user.role == Role.PA:
        return query.where(Employment.pa_id == user.person_id)
    return query.where(Employment.employer_id.in_(payslip_employers(user)))


def _audit_staff(action: str, record_type: str, record_id: int, acting_for_id: int) -> None:
    if current_user.is_staff:
        from portal.web.helpers import audit

        audit(action, record_type=record_type, record_id=record_id, acting_for_id=acting_for_id)
        db.session.commit()


def payslip_or_404(payslip_id: int) -> Payslip:
    """A payslip the current user may see, or 404. Staff views are audited."""
    payslip = db.session.scalar(visible_payslips(current_user).where(Payslip.id == payslip_id))
    if payslip is None:
        abort(404)
    _audit_staff("payslip.viewed", "payslip", payslip.id, payslip.employer_id)
    return payslip


def employer_or_404(person_id: int) -> Recipient:
    """An employer whose payslips the current user may see (from the employer's side), or 404."""
    recipient = db.session.scalar(
        sa.select(Recipient).where(Recipient.person_id == person_id, Recipient.person_id.in_(payslip_employers(current_user)))
    )
    if recipient is None:
        abort(404)
    _audit_staff("payslips.listed", "recipient", person_id, person_id)
    return recipient


def audit_staff_view(action: str, employment: Employment) -> None:
    _audit_staff(action, "employment", employment.id, employment.employer_id)


def employment_or_404(employment_id: int) -> Employment:
    employment = db.session.scalar(visible_payslip_employments(current_user).where(Employment.id == employment_id))
    if employment is None:
        abort(404)
    return employment


# Words and numbers -------------------------------------------------------------------------------


def mask_ni(ni_number: str) -> str:
    """'ending 56C': the last three characters only (see the module docstring)."""
    cleaned = re.sub(r"\s", "", ni_number or "").upper()
    if len(cleaned) < 3:
        return "Not given"
    return f"ending {cleaned[-3:]}"


def tax_year_label(start: date) -> str:
    return f"{start.year} to {start.year + 1}"


def tax_year_start_of(start_year: int) -> date:
    return date(start_year, 4, 6)


def tax_year_containing(day: date) -> date:
    """6 April of the tax year that holds the day."""
    start = date(day.year, 4, 6)
    return start if day >= start else date(day.year - 1, 4, 6)


def tax_year_end(start: date) -> date:
    return date(start.year + 1, 4, 5)


def tax_period_label(frequency: PayPeriod, period: int) -> str:
    """PAYE counts monthly pay in tax months and every other frequency in tax weeks."""
    return f"Month {period}" if frequency == PayPeriod.MONTHLY else f"Week {period}"


NI_CATEGORIES = {"A": "A (standard)", "M": "M (under 21)", "C": "C (over State Pension age)"}


def ni_category_words(letter: str) -> str:
    return NI_CATEGORIES.get(letter, letter)


def whole_pounds(pence: int) -> str:
    """Whole pounds with the pence dropped (towards zero), as the P60's NI earnings: '£4,004'."""
    sign = "-" if pence < 0 else ""
    return f"{sign}£{abs(pence) // 100:,}"


def basis_label(week1_month1: bool, frequency: PayPeriod) -> str:
    if week1_month1:
        return "Month 1 (non-cumulative)" if frequency == PayPeriod.MONTHLY else "Week 1 (non-cumulative)"
    return "Cumulative"


def _hours(minutes: int) -> str:
    from portal.services.timesheets import hours_text

    return hours_text(minutes)


# Lists ---------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class PayslipRow:
    id: int
    pay_date: date
    period_start: date
    period_end: date
    tax_period: str
    employer_id: int
    employer_name: str
    pa_id: int
    pa_name: str
    employment_id: int
    gross_pence: int
    net_pence: int
    reversal: bool
    correction: bool


@dataclass
class YearToDate:
    """One PA's figures with one employer for a tax year, as they stood after the latest payslip."""

    employer_id: int
    employer_name: str
    pa_id: int
    pa_name: str
    employment_id: int
    employment_ended: date | None
    payslips: int = 0
    gross_pence: int = 0
    tax_pence: int = 0
    employee_ni_pence: int = 0
    employee_pension_pence: int = 0
    employer_ni_pence: int = 0
    employer_pension_pence: int = 0


@dataclass
class TaxYearPayslips:
    start: date
    totals: list[YearToDate] = field(default_factory=list)
    payslips: list[PayslipRow] = field(default_factory=list)

    @property
    def label(self) -> str:
        return tax_year_label(self.start)

    @property
    def year(self) -> int:
        return self.start.year

    @property
    def ended(self) -> bool:
        return tax_year_end(self.start) < london_today()


def _grouped(where) -> list[TaxYearPayslips]:
    """Approved payslips matching `where`, newest first, by tax year with the year to date per PA
    and employer (from the newest payslip of each: its YTD is the year so far)."""
    pa_person, employer_person = aliased(Person), aliased(Person)
    corrected = sa.exists().where(PayslipLine.payslip_id == Payslip.id, PayslipLine.kind == PayslipLineKind.CORRECTION)
    rows = db.session.execute(
        sa.select(Payslip, PayRun.kind, PayRun.period_start, PayRun.period_end, PayRun.pay_period, Employment.end_date,
                  pa_person.given_name, pa_person.family_name, employer_person.given_name, employer_person.family_name,
                  corrected.label("corrected"))
        .join(PayRun, PayRun.id == Payslip.run_id)
        .join(Employment, Employment.id == Payslip.employment_id)
        .join(pa_person, pa_person.id == Payslip.pa_id)
        .join(employer_person, employer_person.id == Payslip.employer_id)
        .where(APPROVED, where)
        .order_by(Payslip.pay_date.desc(), Payslip.id.desc())
    ).all()
    years: dict[date, TaxYearPayslips] = {}
    totals: dict[tuple[date, int, int], YearToDate] = {}
    for slip, kind, start, end, frequency, ended, pa_given, pa_family, er_given, er_family, has_correction in rows:
        year = years.setdefault(slip.tax_year_start, TaxYearPayslips(slip.tax_year_start))
        pa_name, employer_name = f"{pa_given} {pa_family}", f"{er_given} {er_family}"
        year.payslips.append(PayslipRow(
            slip.id, slip.pay_date, start, end, tax_period_label(frequency, slip.tax_period), slip.employer_id, employer_name,
            slip.pa_id, pa_name, slip.employment_id, slip.gross_pence, slip.net_pence, kind == PayRunKind.REVERSAL,
            bool(has_correction)))
        key = (slip.tax_year_start, slip.pa_id, slip.employer_id)
        if key not in totals:
            totals[key] = ytd = YearToDate(
                slip.employer_id, employer_name, slip.pa_id, pa_name, slip.employment_id, ended,
                gross_pence=slip.ytd_gross_pence, tax_pence=slip.ytd_tax_pence,
                employee_ni_pence=slip.ytd_employee_ni_pence, employee_pension_pence=slip.ytd_employee_pension_pence,
                employer_ni_pence=slip.ytd_employer_ni_pence, employer_pension_pence=slip.ytd_employer_pension_pence)
            year.totals.append(ytd)
        totals[key].payslips += 1
    for year in years.values():
        year.totals.sort(key=lambda t: (t.employer_name, t.pa_name, t.employer_id, t.pa_id))
    return sorted(years.values(), key=lambda y: y.start, reverse=True)


def pa_payslips(pa_id: int) -> list[TaxYearPayslips]:
    """A PA's payslips from all their employers, by tax year (newest first), YTD per employer."""
    return _grouped(Payslip.pa_id == pa_id)


def employer_payslips(employer_id: int) -> list[TaxYearPayslips]:
    """The payslips an employer paid, by tax year (newest first), YTD per PA."""
    return _grouped(Payslip.employer_id == employer_id)


# One payslip -------------------------------------------------------------------------------------


@dataclass(frozen=True)
class LineRow:
    description: str
    kind: str
    quantity: str
    rate_pence: int | None
    rate_unit: str
    amount_pence: int
    taxable: bool
    correction_of: date | None  # the pay date of the payslip a correction line puts right
    is_correction: bool


@dataclass(frozen=True)
class HoursRow:
    description: str
    minutes: int
    rate_pence: int
    amount_pence: int


@dataclass
class PayslipView:
    payslip: Payslip
    employer_name: str
    pa_name: str
    provider_name: str
    job_title: str
    ni_masked: str
    frequency: PayPeriod
    period_start: date
    period_end: date
    reversal: bool
    reverses_pay_date: date | None
    hours: list[HoursRow]
    lines: list[LineRow]
    holiday_accrued_year_minutes: int
    holiday_taken_year_minutes: int

    @property
    def tax_period(self) -> str:
        return tax_period_label(self.frequency, self.payslip.tax_period)

    @property
    def tax_year(self) -> str:
        return tax_year_label(self.payslip.tax_year_start)

    @property
    def basis(self) -> str:
        return basis_label(self.payslip.week1_month1, self.frequency)

    @property
    def has_corrections(self) -> bool:
        return any(line.is_correction for line in self.lines)

    @property
    def ni_category_words(self) -> str:
        return ni_category_words(self.payslip.ni_category)

    @property
    def outside_deductions(self) -> str:
        """'Plan 2 student loan and attachment of earnings order': deductions made outside the portal."""
        parts = [part for part in (self.payslip.outside_deductions or "").split("; ") if part]
        return parts[0] if len(parts) == 1 else (", ".join(parts[:-1]) + " and " + parts[-1] if parts else "")

    @property
    def deductions(self) -> list[tuple[str, int]]:
        p = self.payslip
        rows = [("Income tax" if p.tax_pence >= 0 else "Income tax refunded", p.tax_pence),
                (f"National Insurance (category {p.ni_category})", p.employee_ni_pence)]
        if p.employee_pension_pence or p.pension_enrolled:
            rows.append(("Pension contribution", p.employee_pension_pence))
        return rows

    @property
    def total_deductions_pence(self) -> int:
        return sum(pence for _, pence in self.deductions)

    @property
    def adds_up(self) -> bool:
        p = self.payslip
        return p.gross_pence + p.non_taxable_pence - self.total_deductions_pence == p.net_pence

    @property
    def year_to_date(self) -> list[tuple[str, int]]:
        p = self.payslip
        return [("Taxable pay", p.ytd_gross_pence), ("Income tax", p.ytd_tax_pence),
                ("Employee National Insurance", p.ytd_employee_ni_pence),
                ("Employee pension contributions", p.ytd_employee_pension_pence),
                ("Employer National Insurance", p.ytd_employer_ni_pence),
                ("Employer pension contributions", p.ytd_employer_pension_pence),
                ("Employment Allowance claimed", p.ytd_employment_allowance_pence)]

    @property
    def employer_ni_before_allowance_pence(self) -> int:
        return self.payslip.employer_ni_pence + self.payslip.employment_allowance_pence

    @property
    def employer_cost_pence(self) -> int:
        """What this payslip costs the employer: all pay, employer NI after the allowance, employer pension."""
        p = self.payslip
        return p.gross_pence + p.non_taxable_pence + p.employer_ni_pence + p.employer_pension_pence


RATE_UNITS = {
    PayslipLineKind.HOURS: "an hour", PayslipLineKind.HOLIDAY: "an hour", PayslipLineKind.SLEEP_IN: "a night",
    PayslipLineKind.MILEAGE: "a mile", PayslipLineKind.SSP: "a day",
}


def _quantity(kind: PayslipLineKind, quantity: int) -> str:
    if not quantity:
        return ""
    if kind in (PayslipLineKind.HOURS, PayslipLineKind.HOLIDAY):
        return _hours(quantity)
    if kind == PayslipLineKind.SLEEP_IN:
        return f"{quantity} night{'s' if quantity != 1 else ''}"
    if kind == PayslipLineKind.MILEAGE:
        return f"{quantity} mile{'s' if quantity != 1 else ''}"
    if kind == PayslipLineKind.SSP:
        return f"{quantity} day{'s' if quantity != 1 else ''}"
    return ""


def payslip_view(payslip: Payslip) -> PayslipView:
    """Everything the payslip page and its PDF show (the same object for both)."""
    run = db.session.get(PayRun, payslip.run_id)
    employment = db.session.get(Employment, payslip.employment_id)
    pa = db.session.get(Person, payslip.pa_id)
    employer = db.session.get(Person, payslip.employer_id)
    provider = db.session.get(Organisation, run.provider_id)
    reverses_pay_date = None
    if run.kind == PayRunKind.REVERSAL and run.reverses_run_id:
        reverses_pay_date = db.session.scalar(sa.select(PayRun.pay_date).where(PayRun.id == run.reverses_run_id))
    corrected_ids = {line.corrects_payslip_id for line in payslip.lines if line.corrects_payslip_id}
    corrected_dates = {
        payslip_id: paid for payslip_id, paid in db.session.execute(
            sa.select(Payslip.id, Payslip.pay_date).where(Payslip.id.in_(corrected_ids)))
    } if corrected_ids else {}

    lines = [LineRow(line.description, line.kind.value, _quantity(line.kind, line.quantity),
                     line.rate_pence or None, RATE_UNITS.get(line.kind, ""), line.amount_pence, line.taxable,
                     corrected_dates.get(line.corrects_payslip_id), line.kind == PayslipLineKind.CORRECTION)
             for line in payslip.lines]
    # Hours by rate type: the hours lines (one per timesheet and rate type) added up by description and rate.
    hours: dict[tuple[str, int], list[int]] = {}
    for line in payslip.lines:
        if line.kind == PayslipLineKind.HOURS:
            sums = hours.setdefault((line.description, line.rate_pence), [0, 0])
            sums[0] += line.quantity
            sums[1] += line.amount_pence
    # Holiday in this employment's tax year so far, up to and including this payslip.
    so_far = sa.or_(Payslip.pay_date < payslip.pay_date, sa.and_(Payslip.pay_date == payslip.pay_date, Payslip.id <= payslip.id))
    accrued, taken = db.session.execute(
        sa.select(sa.func.coalesce(sa.func.sum(Payslip.holiday_accrued_minutes), 0),
                  sa.func.coalesce(sa.func.sum(Payslip.holiday_taken_minutes), 0))
        .join(PayRun, PayRun.id == Payslip.run_id)
        .where(Payslip.employment_id == payslip.employment_id, Payslip.tax_year_start == payslip.tax_year_start,
               sa.or_(APPROVED, Payslip.id == payslip.id), so_far)
    ).one()
    return PayslipView(
        payslip=payslip, employer_name=employer.full_name, pa_name=pa.full_name, provider_name=provider.name,
        job_title=employment.job_title, ni_masked=mask_ni(employment.ni_number), frequency=run.pay_period,
        period_start=run.period_start, period_end=run.period_end, reversal=run.kind == PayRunKind.REVERSAL,
        reverses_pay_date=reverses_pay_date,
        hours=[HoursRow(description, sums[0], rate, sums[1]) for (description, rate), sums in hours.items()],
        lines=lines, holiday_accrued_year_minutes=int(accrued), holiday_taken_year_minutes=int(taken),
    )


def payslip_filename(view: PayslipView) -> str:
    def slug(text: str) -> str:
        return re.sub(r"[^a-z0-9]+", "-", text.lower()).strip("-") or "x"

    return f"payslip-{view.payslip.pay_date.isoformat()}-{slug(view.pa_name)}-{slug(view.employer_name)}-{view.payslip.id}.pdf"


def payslip_pdf(view: PayslipView) -> bytes:
    from portal.services.statements import html_pdf

    html = render_template("payslips/pdf.html", view=view)
    return html_pdf(html, author=view.employer_name, created=london_today())


# A whole run, for printing and posting -------------------------------------------------------------


class RenderRefused(RuntimeError):
    pass


def render_run(run_id: int, outdir: Path, batch: int = 100, render=None) -> int:
    """Write every payslip PDF of an approved run into outdir, one at a time: ids are read in
    batches (keyset on id), each payslip is loaded with its lines, rendered, written, and the session
    is emptied before the next, so memory stays flat however big the run. Returns the files written."""
    render = render or payslip_pdf
    run = db.session.get(PayRun, run_id)
    if run is None:
        raise RenderRefused(f"There is no pay run {run_id}.")
    if run.status != PayRunStatus.APPROVED:
        raise RenderRefused(f"Pay run {run_id} is a draft: its payslips are issued once it is approved.")
    db.session.expunge_all()
    outdir.mkdir(parents=True, exist_ok=True)
    written, last_id = 0, 0
    while True:
        ids = list(db.session.scalars(
            sa.select(Payslip.id).where(Payslip.run_id == run_id, Payslip.id > last_id).order_by(Payslip.id).limit(batch)))
        if not ids:
            break
        for payslip_id in ids:
            payslip = db.session.scalar(
                sa.select(Payslip).options(selectinload(Payslip.lines)).where(Payslip.id == payslip_id))
            view = payslip_view(payslip)
            (outdir / payslip_filename(view)).write_bytes(render(view))
            written += 1
            db.session.expunge_all()
        last_id = ids[-1]
    db.session.rollback()
    return written


# Year end ----------------------------------------------------------------------------------------


@dataclass(frozen=True)
class NIRow:
    """One line of the P60's NI table: a category's earnings in the year (pence, shown in whole pounds
    with the pence dropped, as the P60 prints them) and the employee's NI above the primary threshold."""

    category: str
    at_lel_pence: int
    lel_to_pt_pence: int
    pt_to_uel_pence: int
    employee_ni_pence: int

    @property
    def at_lel(self) -> str:
        return whole_pounds(self.at_lel_pence)

    @property
    def lel_to_pt(self) -> str:
        return whole_pounds(self.lel_to_pt_pence)

    @property
    def pt_to_uel(self) -> str:
        return whole_pounds(self.pt_to_uel_pence)


@dataclass
class YearEndFigures:
    """Figures for a P60 (a tax year) or a P45 (a leaver), from the last payslip's year to date, the
    pay and tax from a previous job's P45 that payroll used in the year, and (P60) the NI table."""

    employment: Employment
    employer_name: str
    pa_name: str
    provider_name: str
    ni_masked: str
    tax_year_start: date
    last: Payslip | None  # the last approved payslip counted
    frequency: PayPeriod
    leaving_date: date | None = None
    previous_pay_pence: int = 0  # from the P45 of a job before this one, as payroll used it this year
    previous_tax_pence: int = 0
    ni_table: list[NIRow] = field(default_factory=list)  # P60 only

    @property
    def tax_year(self) -> str:
        return tax_year_label(self.tax_year_start)

    @property
    def made_on(self) -> date:
        return london_today()

    @property
    def tax_year_ended(self) -> bool:
        return tax_year_end(self.tax_year_start) < london_today()

    @property
    def tax_code(self) -> str:
        return self.last.tax_code if self.last else (self.employment.tax_code or "Not given")

    @property
    def basis(self) -> str:
        return basis_label(self.last.week1_month1 if self.last else False, self.frequency)

    @property
    def last_period(self) -> str:
        return tax_period_label(self.frequency, self.last.tax_period) if self.last else "None"

    def _ytd(self, name: str) -> int:
        return getattr(self.last, name) if self.last else 0

    @property
    def pay_pence(self) -> int:
        return self._ytd("ytd_gross_pence")

    @property
    def tax_pence(self) -> int:
        return self._ytd("ytd_tax_pence")

    @property
    def is_p45(self) -> bool:
        return self.leaving_date is not None

    @property
    def cumulative(self) -> bool:
        """Whether the last pay was on the cumulative basis (a week 1 / month 1 code has no totals to date)."""
        return not (self.last and self.last.week1_month1)

    @property
    def total_pay_pence(self) -> int:
        return self.previous_pay_pence + self.pay_pence

    @property
    def total_tax_pence(self) -> int:
        return self.previous_tax_pence + self.tax_pence

    @property
    def pay_rows(self) -> list[tuple[str, int]]:
        """Pay and tax as HMRC's form sets them out. P60: previous employments, this employment and the
        year's total. P45: the totals to date (previous employment included; none on week 1 / month 1,
        as the P45 leaves them blank), then this employment's own."""
        this = [("Pay in this employment", self.pay_pence), ("Tax deducted in this employment", self.tax_pence)]
        if self.is_p45:
            totals = [("Total pay to date", self.total_pay_pence), ("Total tax to date", self.total_tax_pence)]
            return (totals if self.cumulative else []) + this
        return [("Pay in previous employments", self.previous_pay_pence),
                ("Tax deducted in previous employments", self.previous_tax_pence), *this,
                ("Total pay for the year", self.total_pay_pence), ("Total tax for the year", self.total_tax_pence)]

    @property
    def other_rows(self) -> list[tuple[str, int]]:
        return [("Employee National Insurance", self._ytd("ytd_employee_ni_pence")),
                ("Employee pension contributions", self._ytd("ytd_employee_pension_pence")),
                ("Employer National Insurance", self._ytd("ytd_employer_ni_pence")),
                ("Employer pension contributions", self._ytd("ytd_employer_pension_pence"))]

    @property
    def rows(self) -> list[tuple[str, int]]:
        return self.pay_rows + self.other_rows


def _last_payslip(where) -> Payslip | None:
    return db.session.scalar(
        sa.select(Payslip).join(PayRun, PayRun.id == Payslip.run_id).where(APPROVED, where)
        .order_by(Payslip.pay_date.desc(), Payslip.id.desc()).limit(1))


def _figures(employment: Employment, year_start: date, last: Payslip | None, leaving: date | None, where=None) -> YearEndFigures:
    frequency = employment.pay_period
    provider_name = ""
    previous = (0, 0)
    if last is not None:
        run = db.session.get(PayRun, last.run_id)
        frequency = run.pay_period
        provider_name = db.session.scalar(sa.select(Organisation.name).where(Organisation.id == run.provider_id)) or ""
        previous = _previous_employment(where)
    return YearEndFigures(employment, employment.employer.full_name, employment.pa.full_name, provider_name,
                          mask_ni(employment.ni_number), year_start, last, frequency, leaving, *previous)


def _previous_employment(where) -> tuple[int, int]:
    """The pay and tax from a previous job's P45 that payroll used in these payslips: those on the latest
    payslip that used any (every cumulative payslip of the year carries the same figures)."""
    row = db.session.execute(
        sa.select(Payslip.previous_pay_pence, Payslip.previous_tax_pence).join(PayRun, PayRun.id == Payslip.run_id)
        .where(APPROVED, where, sa.or_(Payslip.previous_pay_pence != 0, Payslip.previous_tax_pence != 0))
        .order_by(Payslip.pay_date.desc(), Payslip.id.desc()).limit(1)).first()
    return (int(row[0]), int(row[1])) if row else (0, 0)


def ni_table(where) -> list[NIRow]:
    """The P60's NI table: per NI category letter, the year's earnings at the LEL, from the LEL to the
    primary threshold and from the PT to the upper earnings limit, and the employee's NI, added up over
    the approved payslips (a reversal's negative figures take back the payslip it reverses)."""
    rows = db.session.execute(
        sa.select(Payslip.ni_category, *[sa.func.coalesce(sa.func.sum(column), 0) for column in (
            Payslip.ni_earnings_at_lel_pence, Payslip.ni_earnings_lel_to_pt_pence, Payslip.ni_earnings_pt_to_uel_pence,
            Payslip.employee_ni_pence)])
        .join(PayRun, PayRun.id == Payslip.run_id).where(APPROVED, where)
        .group_by(Payslip.ni_category).order_by(Payslip.ni_category)).all()
    return [NIRow(category, int(at_lel), int(lel_to_pt), int(pt_to_uel), int(ni))
            for category, at_lel, lel_to_pt, pt_to_uel, ni in rows]


def p60_figures(employment: Employment, year_start: date) -> YearEndFigures | None:
    """Year-end figures for a PA with an employer for a tax year (each employer is its own PAYE
    scheme: the YTD on the last payslip of the year with this employer), with the pay and tax in
    previous employments from a P45 and the NI table. None: no payslips that year."""
    where = sa.and_(Payslip.pa_id == employment.pa_id, Payslip.employer_id == employment.employer_id,
                    Payslip.tax_year_start == year_start)
    last = _last_payslip(where)
    if last is None:
        return None
    figures = _figures(employment, year_start, last, None, where)
    figures.ni_table = ni_table(where)
    return figures


def p45_figures(employment: Employment) -> YearEndFigures | None:
    """A leaver's figures: pay and tax in this employment in the tax year of their last pay, and the
    totals to date with a previous job's P45 pay and tax (on the cumulative basis), the code and basis
    it was paid on, the last tax week or month, the leaving date. None: not a leaver."""
    if employment.end_date is None or employment.end_date > london_today():
        return None
    last = _last_payslip(Payslip.employment_id == employment.id)
    if last is None:
        return _figures(employment, tax_year_containing(employment.end_date), None, employment.end_date)
    where = sa.and_(Payslip.employment_id == employment.id, Payslip.tax_year_start == last.tax_year_start)
    return _figures(employment, last.tax_year_start, last, employment.end_date, where)


def year_end_pdf(figures: YearEndFigures, form: str) -> bytes:
    from portal.services.statements import html_pdf

    html = render_template("payslips/year_end_pdf.html", figures=figures, form=form)
    return html_pdf(html, author=figures.employer_name, created=london_today())
