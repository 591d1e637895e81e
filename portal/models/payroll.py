"""Payroll for PA employers: pay runs, payslips and their lines.

A pay run is one provider's payroll for one pay period and frequency. It is a draft (rebuilt as often
as wanted) until a second member of staff approves it; then it is locked, the timesheets it pays are
claimed (paid_timesheets: a timesheet is paid once, ever) and the money it expects to move is added
as expected items, exactly once (unique keys). A mistake in a locked run is put right by a
correction in a later run, or a reversal run; payslips say so.

Money is integer pence; hours are minutes. Each payslip keeps its year-to-date figures as they stood
after it, so a payslip never changes once its run is approved.
"""

import enum
from datetime import date, datetime

from sqlalchemy import Boolean, Date, ForeignKey, Index, Integer, String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column, relationship

from portal.extensions import db
from portal.models.base import UTCDateTime, utcnow
from portal.models.base import str_enum as _enum
from portal.models.employing import PayPeriod


class PayRunStatus(enum.StrEnum):
    DRAFT = "draft"
    APPROVED = "approved"


class PayRunKind(enum.StrEnum):
    REGULAR = "regular"
    REVERSAL = "reversal"


class PayRun(db.Model):
    __tablename__ = "pay_runs"

    id: Mapped[int] = mapped_column(primary_key=True)
    # One regular run per provider, frequency and period ("<provider>:<frequency>:<start>"), one
    # reversal per reversed run ("reversal:<run id>").
    run_key: Mapped[str] = mapped_column(String(80), unique=True)
    kind: Mapped[PayRunKind] = mapped_column(_enum(PayRunKind, 12), default=PayRunKind.REGULAR)
    provider_id: Mapped[int] = mapped_column(ForeignKey("organisations.id"), index=True)
    pay_period: Mapped[PayPeriod] = mapped_column(_enum(PayPeriod, 20))
    period_start: Mapped[date] = mapped_column(Date)
    period_end: Mapped[date] = mapped_column(Date)
    pay_date: Mapped[date] = mapped_column(Date)
    tax_year_start: Mapped[date] = mapped_column(Date)  # 6 April of the tax year holding the pay date
    tax_period: Mapped[int] = mapped_column(Integer)  # week or month number of the pay date in that year
    status: Mapped[PayRunStatus] = mapped_column(_enum(PayRunStatus, 12), default=PayRunStatus.DRAFT)
    reverses_run_id: Mapped[int | None] = mapped_column(ForeignKey("pay_runs.id"), unique=True)
    created_by_id: Mapped[int] = mapped_column(ForeignKey("users.id"))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)
    built_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)
    # Who built the payslips last (a rebuild by someone else): neither they nor the creator may approve.
    built_by_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"))  # migration 0015
    approved_by_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
    approved_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    # Optimistic lock: every rebuild or approval moves it on; an action from an older page is refused.
    version: Mapped[int] = mapped_column(Integer, default=1, server_default="1")

    payslips: Mapped[list["Payslip"]] = relationship(back_populates="run", order_by="Payslip.id")


class Payslip(db.Model):
    """One PA's pay from one employer for one run."""

    __tablename__ = "payslips"
    __table_args__ = (
        UniqueConstraint("run_id", "employment_id"),
        Index("ix_payslips_pa_year", "pa_id", "tax_year_start"),
        Index("ix_payslips_employer_year", "employer_id", "tax_year_start"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    run_id: Mapped[int] = mapped_column(ForeignKey("pay_runs.id"), index=True)
    employment_id: Mapped[int] = mapped_column(ForeignKey("employments.id"), index=True)
    pa_id: Mapped[int] = mapped_column(ForeignKey("people.id"))
    employer_id: Mapped[int] = mapped_column(ForeignKey("recipients.person_id"))
    tax_year_start: Mapped[date] = mapped_column(Date)
    tax_period: Mapped[int] = mapped_column(Integer)
    pay_date: Mapped[date] = mapped_column(Date)

    tax_code: Mapped[str] = mapped_column(String(12))
    week1_month1: Mapped[bool] = mapped_column(Boolean, default=False)
    ni_category: Mapped[str] = mapped_column(String(1), default="A")
    pension_enrolled: Mapped[bool] = mapped_column(Boolean, default=False)

    minutes_worked: Mapped[int] = mapped_column(Integer, default=0)
    gross_pence: Mapped[int] = mapped_column(Integer, default=0)  # taxable pay this period (incl. holiday pay and SSP)
    holiday_pay_pence: Mapped[int] = mapped_column(Integer, default=0)
    ssp_pence: Mapped[int] = mapped_column(Integer, default=0)
    non_taxable_pence: Mapped[int] = mapped_column(Integer, default=0)  # mileage and expenses
    tax_pence: Mapped[int] = mapped_column(Integer, default=0)  # negative is a refund
    employee_ni_pence: Mapped[int] = mapped_column(Integer, default=0)
    employee_pension_pence: Mapped[int] = mapped_column(Integer, default=0)
    net_pence: Mapped[int] = mapped_column(Integer, default=0)
    employer_ni_pence: Mapped[int] = mapped_column(Integer, default=0)  # after the Employment Allowance
    employment_allowance_pence: Mapped[int] = mapped_column(Integer, default=0)
    employer_pension_pence: Mapped[int] = mapped_column(Integer, default=0)
    holiday_accrued_minutes: Mapped[int] = mapped_column(Integer, default=0)
    holiday_taken_minutes: Mapped[int] = mapped_column(Integer, default=0)

    # Year to date after this payslip (this employer only: each employer is its own PAYE scheme).
    ytd_gross_pence: Mapped[int] = mapped_column(Integer, default=0)
    ytd_tax_pence: Mapped[int] = mapped_column(Integer, default=0)
    ytd_employee_ni_pence: Mapped[int] = mapped_column(Integer, default=0)
    ytd_employer_ni_pence: Mapped[int] = mapped_column(Integer, default=0)
    ytd_employee_pension_pence: Mapped[int] = mapped_column(Integer, default=0)
    ytd_employer_pension_pence: Mapped[int] = mapped_column(Integer, default=0)
    ytd_employment_allowance_pence: Mapped[int] = mapped_column(Integer, default=0)

    # The period's earnings for the P60's NI table, for this payslip's ni_category (migration 0018):
    # at the lower earnings limit, above it up to the primary threshold, above that up to the upper
    # earnings limit (all 0 below the LEL; negative in a reversal).
    ni_earnings_at_lel_pence: Mapped[int] = mapped_column(Integer, default=0, server_default="0")
    ni_earnings_lel_to_pt_pence: Mapped[int] = mapped_column(Integer, default=0, server_default="0")
    ni_earnings_pt_to_uel_pence: Mapped[int] = mapped_column(Integer, default=0, server_default="0")
    # Pay and tax to date from a previous job's P45 added to this payslip's cumulative calculation (0 if
    # none, or on week 1 / month 1). Not part of the year to date above, which is this employer's own.
    previous_pay_pence: Mapped[int] = mapped_column(Integer, default=0, server_default="0")
    previous_tax_pence: Mapped[int] = mapped_column(Integer, default=0, server_default="0")
    # Deductions the portal does not work out, made outside it ("Plan 2 student loan; attachment of
    # earnings order"), shown on the payslip and in the CSV.
    outside_deductions: Mapped[str] = mapped_column(String(200), default="", server_default="")

    # Why approval is refused (below the minimum wage, a code the portal cannot calculate), one per line.
    problems: Mapped[str] = mapped_column(Text, default="")
    # What the payroll staff must know but which does not refuse approval (a deduction to make outside
    # the portal), one per line.
    warnings: Mapped[str] = mapped_column(Text, default="", server_default="")
    # The calculation explained step by step (JSON list of {"label", "detail", "pence"}), for the breakdown page.
    breakdown: Mapped[str] = mapped_column(Text, default="[]")

    run: Mapped[PayRun] = relationship(back_populates="payslips")
    lines: Mapped[list["PayslipLine"]] = relationship(back_populates="payslip", order_by="PayslipLine.id",
                                                      cascade="all, delete-orphan", foreign_keys="PayslipLine.payslip_id")


class PayslipLineKind(enum.StrEnum):
    HOURS = "hours"
    SLEEP_IN = "sleep-in"
    HOLIDAY = "holiday pay"
    ROLLED_UP_HOLIDAY = "rolled-up holiday pay"
    SSP = "statutory sick pay"
    MILEAGE = "mileage"
    EXPENSES = "expenses"
    CORRECTION = "correction"


class PayslipLine(db.Model):
    __tablename__ = "payslip_lines"

    id: Mapped[int] = mapped_column(primary_key=True)
    payslip_id: Mapped[int] = mapped_column(ForeignKey("payslips.id"), index=True)
    kind: Mapped[PayslipLineKind] = mapped_column(_enum(PayslipLineKind, 30))
    description: Mapped[str] = mapped_column(String(200))
    quantity: Mapped[int] = mapped_column(Integer, default=0)  # minutes, miles, days or 1
    rate_pence: Mapped[int] = mapped_column(Integer, default=0)  # per hour, mile, day or item
    amount_pence: Mapped[int] = mapped_column(Integer)
    taxable: Mapped[bool] = mapped_column(Boolean, default=True)
    timesheet_id: Mapped[int | None] = mapped_column(ForeignKey("timesheets.id"), index=True)
    corrects_payslip_id: Mapped[int | None] = mapped_column(ForeignKey("payslips.id"))

    payslip: Mapped[Payslip] = relationship(back_populates="lines", foreign_keys=[payslip_id])


class PaidTimesheet(db.Model):
    """A timesheet paid by an approved run: its primary key makes paying it twice impossible."""

    __tablename__ = "paid_timesheets"

    timesheet_id: Mapped[int] = mapped_column(ForeignKey("timesheets.id"), primary_key=True)
    payslip_id: Mapped[int] = mapped_column(ForeignKey("payslips.id"), index=True)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)
