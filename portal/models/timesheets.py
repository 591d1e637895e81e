"""Timesheets: one per PA, per employer, per pay period (and a new revision for each correction).

Shifts keep the times as entered (local dates and clock times) and also their instants in UTC, so
overlaps across all of a PA's employers and the working-time limits are simple range queries, and a
night across a clock change counts the hours really worked.
"""

import enum
from datetime import date, datetime, time
from decimal import Decimal

from sqlalchemy import Boolean, Date, ForeignKey, Index, Integer, Numeric, String, Time, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column, relationship

from portal.extensions import db
from portal.models.base import UTCDateTime, utcnow
from portal.models.base import str_enum as _enum
from portal.models.employing import Employment


class PayrollCalendar(db.Model):
    """A provider's payroll calendar (provider_id empty: the default for employers without one).

    Weekly and fortnightly periods run Monday to Sunday (fortnights counted from an anchor Monday),
    4-weekly periods from an anchor, monthly periods are calendar months. Deadlines and pay dates are
    a number of working days after the period ends (bank holidays skipped).
    """

    __tablename__ = "payroll_calendars"

    id: Mapped[int] = mapped_column(primary_key=True)
    provider_id: Mapped[int | None] = mapped_column(ForeignKey("organisations.id"), unique=True)
    fortnight_anchor: Mapped[date] = mapped_column(Date)
    four_week_anchor: Mapped[date] = mapped_column(Date)
    submit_working_days: Mapped[int] = mapped_column(Integer, default=1)
    pay_working_days: Mapped[int] = mapped_column(Integer, default=5)


class TimesheetStatus(enum.StrEnum):
    DRAFT = "not submitted"
    SUBMITTED = "waiting for approval"
    SENT_BACK = "sent back"
    APPROVED = "approved"
    SUPERSEDED = "replaced by a correction"
    AWAITING_KEYING = "paper, waiting to be keyed in"


class TimesheetSource(enum.StrEnum):
    ONLINE = "online"
    PAPER = "paper"


class RateType(enum.StrEnum):
    DAY = "day"
    NIGHT = "night"
    WEEKEND = "weekend"
    SLEEP_IN = "sleep-in"


class Timesheet(db.Model):
    __tablename__ = "timesheets"
    __table_args__ = (
        UniqueConstraint("employment_id", "period_start", "revision"),
        Index("ix_timesheets_employer_period", "employer_id", "period_start"),
        Index("ix_timesheets_pa_period", "pa_id", "period_start"),
        Index("ix_timesheets_period_status", "period_start", "status"),
        # Work queues: timesheets to approve or key in per employer, and the latest per employment.
        Index("ix_timesheets_employer_status", "employer_id", "status"),
        Index("ix_timesheets_employment_period_status", "employment_id", "period_start", "status"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    employment_id: Mapped[int] = mapped_column(ForeignKey("employments.id"))
    # Copied from the employment so lists by PA or employer need no join (they never change).
    pa_id: Mapped[int] = mapped_column(ForeignKey("people.id"))
    employer_id: Mapped[int] = mapped_column(ForeignKey("recipients.person_id"))
    period_start: Mapped[date] = mapped_column(Date)
    period_end: Mapped[date] = mapped_column(Date)
    revision: Mapped[int] = mapped_column(Integer, default=1)
    corrects_id: Mapped[int | None] = mapped_column(ForeignKey("timesheets.id"), unique=True)
    status: Mapped[TimesheetStatus] = mapped_column(_enum(TimesheetStatus, 40), default=TimesheetStatus.DRAFT)
    source: Mapped[TimesheetSource] = mapped_column(_enum(TimesheetSource, 10), default=TimesheetSource.ONLINE)
    # Optimistic locking: every change bumps it; a form carries the version it was drawn from.
    version: Mapped[int] = mapped_column(Integer, default=1)
    # Paper timesheets: totals typed in from the scan (minutes by rate type, and sleep-ins).
    keyed_day_minutes: Mapped[int] = mapped_column(Integer, default=0)
    keyed_night_minutes: Mapped[int] = mapped_column(Integer, default=0)
    keyed_weekend_minutes: Mapped[int] = mapped_column(Integer, default=0)
    keyed_sleep_ins: Mapped[int] = mapped_column(Integer, default=0)
    keyed_by_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
    submitted_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    submitted_by_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
    approved_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    approved_by_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
    sent_back_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    sent_back_by_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
    sent_back_reason: Mapped[str] = mapped_column(String(500), default="")
    gross_pence: Mapped[int | None] = mapped_column(Integer)  # fixed at approval
    paid_on: Mapped[date | None] = mapped_column(Date)  # the employer marked it paid
    created_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)
    created_by_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"))

    employment: Mapped[Employment] = relationship()
    shifts: Mapped[list["Shift"]] = relationship(order_by="(Shift.starts_at, Shift.id)", back_populates="timesheet")
    claims: Mapped[list["TimesheetClaim"]] = relationship(order_by="TimesheetClaim.id", back_populates="timesheet")
    corrects: Mapped["Timesheet | None"] = relationship(remote_side=[id], foreign_keys=[corrects_id])

    @property
    def is_editable(self) -> bool:
        return self.status in (TimesheetStatus.DRAFT, TimesheetStatus.SENT_BACK)

    @property
    def is_locked(self) -> bool:
        return self.status in (TimesheetStatus.APPROVED, TimesheetStatus.SUPERSEDED)


class Shift(db.Model):
    __tablename__ = "shifts"
    __table_args__ = (Index("ix_shifts_pa_starts", "pa_id", "starts_at"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    timesheet_id: Mapped[int] = mapped_column(ForeignKey("timesheets.id"), index=True)
    pa_id: Mapped[int] = mapped_column(ForeignKey("people.id"))
    work_date: Mapped[date] = mapped_column(Date)  # the day the shift started (London)
    start_time: Mapped[time] = mapped_column(Time)
    end_time: Mapped[time] = mapped_column(Time)
    ends_next_day: Mapped[bool] = mapped_column(Boolean, default=False)
    break_minutes: Mapped[int] = mapped_column(Integer, default=0)
    rate_type: Mapped[RateType] = mapped_column(_enum(RateType, 10))
    notes: Mapped[str] = mapped_column(String(200), default="")
    starts_at: Mapped[datetime] = mapped_column(UTCDateTime())
    ends_at: Mapped[datetime] = mapped_column(UTCDateTime())
    minutes: Mapped[int] = mapped_column(Integer)  # worked: elapsed minus the unpaid break

    timesheet: Mapped[Timesheet] = relationship(back_populates="shifts")


class ClaimKind(enum.StrEnum):
    MILEAGE = "mileage"
    EXPENSE = "expense"


class TimesheetDocument(db.Model):
    """A scan of a paper timesheet, or a receipt for an expense. Files live outside static/."""

    __tablename__ = "timesheet_documents"

    id: Mapped[int] = mapped_column(primary_key=True)
    timesheet_id: Mapped[int] = mapped_column(ForeignKey("timesheets.id"), index=True)
    storage_name: Mapped[str] = mapped_column(String(100), unique=True)
    sha256: Mapped[str] = mapped_column(String(64))
    content_type: Mapped[str] = mapped_column(String(40))
    size_bytes: Mapped[int] = mapped_column(Integer)
    display_name: Mapped[str] = mapped_column(String(120))
    uploaded_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)
    uploaded_by_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"))


class TimesheetClaim(db.Model):
    """Mileage or an expense claimed with a timesheet (non-taxable; an expense needs its receipt)."""

    __tablename__ = "timesheet_claims"

    id: Mapped[int] = mapped_column(primary_key=True)
    timesheet_id: Mapped[int] = mapped_column(ForeignKey("timesheets.id"), index=True)
    kind: Mapped[ClaimKind] = mapped_column(_enum(ClaimKind, 10))
    claim_date: Mapped[date] = mapped_column(Date)
    description: Mapped[str] = mapped_column(String(200))
    miles: Mapped[Decimal | None] = mapped_column(Numeric(7, 1))
    amount_pence: Mapped[int] = mapped_column(Integer)
    document_id: Mapped[int | None] = mapped_column(ForeignKey("timesheet_documents.id"))

    timesheet: Mapped[Timesheet] = relationship(back_populates="claims")
    document: Mapped[TimesheetDocument | None] = relationship()
