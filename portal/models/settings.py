"""Rates and local settings as data, with history: a row per council (or per rate) from a date."""

from datetime import date, datetime

from sqlalchemy import Date, ForeignKey, Integer, String, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column, relationship

from portal.extensions import db
from portal.models.base import UTCDateTime, utcnow
from portal.models.organisations import Organisation


class CouncilSettings(db.Model):
    """A council's local settings from a date. The row in force is the latest one not after the day asked."""

    __tablename__ = "council_settings"
    __table_args__ = (UniqueConstraint("council_id", "effective_from"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    council_id: Mapped[int] = mapped_column(ForeignKey("organisations.id"), index=True)
    effective_from: Mapped[date] = mapped_column(Date)
    # Direct payments are paid every 4 weeks in advance, in cycles counted from this date.
    cycle_anchor: Mapped[date] = mapped_column(Date)
    excess_weeks: Mapped[int] = mapped_column(Integer, default=4)
    contingency_pence: Mapped[int] = mapped_column(Integer, default=0)
    # Spend below this needs no receipt (0: every spend needs one).
    evidence_threshold_pence: Mapped[int] = mapped_column(Integer, default=0)
    retention_years: Mapped[int] = mapped_column(Integer, default=6)
    # Safeguarding concerns about the council's people go here at once (as well as to the DPSS).
    safeguarding_email: Mapped[str] = mapped_column(String(200), default="", server_default="")
    # Each person's direct payment is audited this many months after the last audit (or the first payment).
    audit_months: Mapped[int] = mapped_column(Integer, default=12, server_default="12")
    created_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)
    created_by_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"))

    council: Mapped[Organisation] = relationship()


class NationalRate(db.Model):
    """A national figure from a date, e.g. minimum wage for a band, in integer units (pence, basis points)."""

    __tablename__ = "national_rates"
    __table_args__ = (UniqueConstraint("key", "effective_from"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    key: Mapped[str] = mapped_column(String(60), index=True)  # e.g. "minimum_wage.21_and_over"
    label: Mapped[str] = mapped_column(String(200))
    effective_from: Mapped[date] = mapped_column(Date)
    value: Mapped[int] = mapped_column(Integer)
    unit: Mapped[str] = mapped_column(String(30))  # "pence per hour", "pence", "basis points"
    source: Mapped[str] = mapped_column(String(200), default="")
    created_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)
    created_by_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
