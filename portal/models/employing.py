"""Employing a PA: the employment record (one row per PA, employer and spell), the employer's duties,
and holiday and sickness recorded against an employment.

The recipient (or their representative) is the legal employer. Pay details live here because payroll
(later) reads them: rates in integer pence, date of birth for the minimum-wage band, NI number, tax code.
"""

import enum
from datetime import date, datetime
from decimal import Decimal

from sqlalchemy import Boolean, Date, ForeignKey, Index, Integer, Numeric, String, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column, relationship

from portal.extensions import db
from portal.models.base import UTCDateTime, utcnow
from portal.models.base import str_enum as _enum
from portal.models.people import Person, Recipient


class PayPeriod(enum.StrEnum):
    WEEKLY = "weekly"
    FORTNIGHTLY = "fortnightly"
    FOUR_WEEKLY = "4-weekly"
    MONTHLY = "monthly"


class HolidayMethod(enum.StrEnum):
    ACCRUED = "accrued at 12.07% of hours worked"
    ROLLED_UP = "rolled-up, paid with each period and shown separately"


class PensionStatus(enum.StrEnum):
    NOT_ASSESSED = "not yet assessed"
    NOT_ELIGIBLE = "assessed, not eligible"
    ENROLLED = "enrolled"
    OPTED_OUT = "opted out"


class StarterDeclaration(enum.StrEnum):
    """HMRC's starter checklist statements, for a new PA without a P45."""

    A = "A: this is my first job since 6 April and I have had no benefits"
    B = "B: this is now my only job"
    C = "C: I have another job or a pension"


class StudentLoan(enum.StrEnum):
    """Which student loan HMRC (a start notice) or the PA (the starter checklist) says is being repaid.
    The portal does not work out the deductions: payroll flags them to be made outside it."""

    NONE = "no student loan"
    PLAN_1 = "Plan 1"
    PLAN_2 = "Plan 2"
    PLAN_4 = "Plan 4"
    PLAN_5 = "Plan 5"
    NOT_KNOWN = "not known"


class PostgraduateLoan(enum.StrEnum):
    """A Postgraduate Loan is repaid alongside any Plan 1, 2, 4 or 5 loan, so it is a second answer."""

    NO = "no"
    YES = "yes"
    NOT_KNOWN = "not known"


class Relationship(enum.StrEnum):
    """How the PA is related to the employer. 'Close family' is what the 2014 Regulations catch."""

    NONE = "not related"
    PARTNER = "spouse, civil partner or partner"
    PARENT = "parent or parent-in-law"
    CHILD = "son or daughter, or son- or daughter-in-law"
    STEPCHILD = "stepchild"
    SIBLING = "brother or sister"
    AUNT_UNCLE = "aunt or uncle"
    GRANDPARENT = "grandparent"
    PARTNER_OF_RELATIVE = "partner of one of these relatives"
    OTHER_RELATIVE = "another relative"

    @property
    def is_close_family(self) -> bool:
        return self not in (Relationship.NONE, Relationship.OTHER_RELATIVE)


class Employment(db.Model):
    """A PA's employment by a recipient: one row per PA, employer and spell of employment."""

    __tablename__ = "employments"
    __table_args__ = (UniqueConstraint("pa_id", "employer_id", "start_date"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    pa_id: Mapped[int] = mapped_column(ForeignKey("people.id"), index=True)
    employer_id: Mapped[int] = mapped_column(ForeignKey("recipients.person_id"), index=True)
    start_date: Mapped[date] = mapped_column(Date)
    end_date: Mapped[date | None] = mapped_column(Date)
    end_reason: Mapped[str] = mapped_column(String(200), default="")
    job_title: Mapped[str] = mapped_column(String(100), default="Personal assistant")
    # Hourly rates in pence; a sleep-in is a flat amount per night.
    day_rate_pence: Mapped[int] = mapped_column(Integer, default=0)
    night_rate_pence: Mapped[int | None] = mapped_column(Integer)
    weekend_rate_pence: Mapped[int | None] = mapped_column(Integer)
    sleep_in_pence: Mapped[int | None] = mapped_column(Integer)
    mileage_pence_per_mile: Mapped[int] = mapped_column(Integer, default=45)
    contracted_hours: Mapped[Decimal | None] = mapped_column(Numeric(5, 2))
    pay_period: Mapped[PayPeriod] = mapped_column(_enum(PayPeriod, 20), default=PayPeriod.FORTNIGHTLY)
    pa_date_of_birth: Mapped[date | None] = mapped_column(Date)
    ni_number: Mapped[str] = mapped_column(String(9), default="")
    tax_code: Mapped[str] = mapped_column(String(10), default="")  # from a P45; blank until given
    starter_declaration: Mapped[StarterDeclaration | None] = mapped_column(_enum(StarterDeclaration, 80))
    holiday_method: Mapped[HolidayMethod] = mapped_column(_enum(HolidayMethod, 80), default=HolidayMethod.ACCRUED)
    pension_status: Mapped[PensionStatus] = mapped_column(_enum(PensionStatus, 30), default=PensionStatus.NOT_ASSESSED)
    relationship_to_employer: Mapped[Relationship] = mapped_column(_enum(Relationship, 60), default=Relationship.NONE)
    same_household: Mapped[bool] = mapped_column(Boolean, default=False)
    # A close relative in the same household may be paid only if the council records it is necessary.
    council_agreed_on: Mapped[date | None] = mapped_column(Date)
    council_agreed_by: Mapped[str] = mapped_column(String(120), default="")
    # The PA has signed an opt-out of the 48-hour weekly limit (Working Time Regulations 1998).
    working_time_opt_out: Mapped[bool] = mapped_column(Boolean, default=False)
    # The employer's duties for this employment, with the date each was done.
    contract_issued_on: Mapped[date | None] = mapped_column(Date)
    right_to_work_seen_on: Mapped[date | None] = mapped_column(Date)
    pension_assessed_on: Mapped[date | None] = mapped_column(Date)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)
    # From the P45 the PA handed in from their previous job (migration 0018): pay and tax to date in the
    # tax year of the leaving date, used by payroll on the cumulative basis in that tax year.
    p45_pay_to_date_pence: Mapped[int | None] = mapped_column(Integer)
    p45_tax_to_date_pence: Mapped[int | None] = mapped_column(Integer)
    p45_leaving_date: Mapped[date | None] = mapped_column(Date)
    # Deductions the portal does not work out: flagged on every payslip, made outside the portal.
    # None: not recorded yet.
    student_loan: Mapped[StudentLoan | None] = mapped_column(_enum(StudentLoan, 20))
    postgraduate_loan: Mapped[PostgraduateLoan | None] = mapped_column(_enum(PostgraduateLoan, 12))
    attachment_of_earnings: Mapped[bool] = mapped_column(Boolean, default=False, server_default="0")

    pa: Mapped[Person] = relationship(foreign_keys=[pa_id])
    employer: Mapped[Recipient] = relationship()

    def is_active_on(self, day: date) -> bool:
        return self.start_date <= day and (self.end_date is None or self.end_date >= day)

    @property
    def needs_council_agreement(self) -> bool:
        """Close family: a partner wherever they live, other close relatives in the same household."""
        rel = self.relationship_to_employer
        caught = rel == Relationship.PARTNER or (rel.is_close_family and self.same_household)
        return caught and self.council_agreed_on is None


class EmployerInsurance(db.Model):
    """An employer's liability insurance policy (renewed yearly; at least £5 million cover)."""

    __tablename__ = "employer_insurances"
    __table_args__ = (Index("ix_employer_insurances_employer_expires", "employer_id", "expires_on"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    employer_id: Mapped[int] = mapped_column(ForeignKey("recipients.person_id"))
    insurer: Mapped[str] = mapped_column(String(120))
    policy_number: Mapped[str] = mapped_column(String(60))
    cover_pence: Mapped[int] = mapped_column(Integer)  # £5m = 500,000,000 pence: fits in a 32-bit integer
    starts_on: Mapped[date] = mapped_column(Date)
    expires_on: Mapped[date] = mapped_column(Date)
    recorded_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)
    recorded_by_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"))


class LeaveKind(enum.StrEnum):
    HOLIDAY = "holiday"
    SICKNESS = "sickness"


class LeaveRecord(db.Model):
    """Holiday taken or sickness, recorded by the employer against an employment (payroll reads it)."""

    __tablename__ = "leave_records"

    id: Mapped[int] = mapped_column(primary_key=True)
    employment_id: Mapped[int] = mapped_column(ForeignKey("employments.id"), index=True)
    kind: Mapped[LeaveKind] = mapped_column(_enum(LeaveKind, 12))
    first_day: Mapped[date] = mapped_column(Date)
    last_day: Mapped[date] = mapped_column(Date)
    hours: Mapped[Decimal | None] = mapped_column(Numeric(6, 2))  # holiday hours taken; sickness needs none
    note: Mapped[str] = mapped_column(String(200), default="")
    recorded_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)
    recorded_by_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"))


class EmploymentLinkRequest(db.Model):
    """An employer asks a PA who already has an account to confirm they work for them.

    Nothing moves to the PA's account until the PA says yes: an employer cannot attach their records
    (or themselves) to someone's account just by knowing the email address.
    """

    __tablename__ = "employment_link_requests"

    id: Mapped[int] = mapped_column(primary_key=True)
    employment_id: Mapped[int] = mapped_column(ForeignKey("employments.id"), index=True)
    pa_user_id: Mapped[int] = mapped_column(ForeignKey("users.id"), index=True)
    requested_by_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
    requested_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)
    answered_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    accepted: Mapped[bool | None] = mapped_column(Boolean)

    employment: Mapped[Employment] = relationship()
    pa_user: Mapped["User"] = relationship(foreign_keys=[pa_user_id])  # noqa: F821
