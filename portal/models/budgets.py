"""Personal budgets (effective-dated versions under one id), suspensions, and support plans."""

import enum
from datetime import date, datetime
from decimal import Decimal

from sqlalchemy import Boolean, Date, ForeignKey, Integer, Numeric, String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column, relationship

from portal.extensions import db
from portal.models.base import str_enum as _enum
from portal.models.base import UTCDateTime, utcnow
from portal.models.people import Recipient




class BudgetKind(enum.StrEnum):
    ONGOING = "ongoing"
    ONE_OFF = "one-off"
    CARER = "carer"


class Delivery(enum.StrEnum):
    DIRECT_PAYMENT = "direct payment"
    COUNCIL_MANAGED = "council-managed"
    INDIVIDUAL_SERVICE_FUND = "individual service fund"
    MIXED = "mixed"


class PaymentMethod(enum.StrEnum):
    PREPAID_CARD = "prepaid card"
    BANK_ACCOUNT = "bank account"
    MANAGED_ACCOUNT = "managed account"


class Category(enum.StrEnum):
    """Spending categories as councils report them."""

    PA_WAGES = "PA wages"
    HOMECARE = "homecare"
    RESPITE = "respite"
    DAY_CARE = "day care"
    SUPPORTED_LIVING = "supported living"
    AIDS_AND_ADAPTATIONS = "aids and adaptations"
    TRAVEL = "travel"
    DOMESTIC = "domestic"
    INSURANCE = "insurance"
    SOCIAL_ACTIVITIES = "social activities"
    PAYROLL_AND_SUPPORT_FEES = "payroll and support fees"
    OTHER = "other"


class DPAccount(db.Model):
    """Where the direct payment money lives. Ledger entries belong to the account."""

    __tablename__ = "dp_accounts"

    id: Mapped[int] = mapped_column(primary_key=True)
    recipient_id: Mapped[int] = mapped_column(ForeignKey("recipients.person_id"), index=True)
    method: Mapped[PaymentMethod] = mapped_column(_enum(PaymentMethod))
    card_reference: Mapped[str | None] = mapped_column(String(40), unique=True)
    managed_by_id: Mapped[int | None] = mapped_column(ForeignKey("organisations.id"))
    opened_on: Mapped[date] = mapped_column(Date)

    recipient: Mapped[Recipient] = relationship()


class Budget(db.Model):
    """A personal budget. Amounts live in versions; the council is the recipient's, never stored again."""

    __tablename__ = "budgets"

    id: Mapped[int] = mapped_column(primary_key=True)
    recipient_id: Mapped[int] = mapped_column(ForeignKey("recipients.person_id"), index=True)
    account_id: Mapped[int] = mapped_column(ForeignKey("dp_accounts.id"), index=True)
    kind: Mapped[BudgetKind] = mapped_column(_enum(BudgetKind))
    delivery: Mapped[Delivery] = mapped_column(_enum(Delivery))
    start_date: Mapped[date] = mapped_column(Date)
    end_date: Mapped[date | None] = mapped_column(Date)
    agreed_on: Mapped[date] = mapped_column(Date)  # the day the direct payment was agreed (set-up time)
    first_payment_date: Mapped[date] = mapped_column(Date)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)
    created_by_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"))

    recipient: Mapped[Recipient] = relationship()
    account: Mapped[DPAccount] = relationship()
    versions: Mapped[list["BudgetVersion"]] = relationship(order_by="BudgetVersion.effective_from", back_populates="budget")
    suspensions: Mapped[list["BudgetSuspension"]] = relationship(order_by="BudgetSuspension.starts_on")


class BudgetVersion(db.Model):
    """The amounts in force from a date. A change adds a version; it never resets a balance."""

    __tablename__ = "budget_versions"
    __table_args__ = (UniqueConstraint("budget_id", "effective_from"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    budget_id: Mapped[int] = mapped_column(ForeignKey("budgets.id"), index=True)
    effective_from: Mapped[date] = mapped_column(Date)
    # The weekly amount taken as a direct payment, before any contribution (the DP share if mixed).
    gross_weekly_pence: Mapped[int] = mapped_column(Integer)
    contribution_weekly_pence: Mapped[int] = mapped_column(Integer, default=0)
    council_pays_net: Mapped[bool] = mapped_column(Boolean, default=True)
    # The whole personal budget a week, where part of it is delivered another way.
    personal_budget_weekly_pence: Mapped[int] = mapped_column(Integer)
    reason: Mapped[str] = mapped_column(String(300), default="")
    created_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)
    created_by_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"))

    budget: Mapped[Budget] = relationship(back_populates="versions")


class BudgetSuspension(db.Model):
    """Payments stop from starts_on until the day before ends_on (open-ended while ends_on is empty)."""

    __tablename__ = "budget_suspensions"

    id: Mapped[int] = mapped_column(primary_key=True)
    budget_id: Mapped[int] = mapped_column(ForeignKey("budgets.id"), index=True)
    starts_on: Mapped[date] = mapped_column(Date)
    ends_on: Mapped[date | None] = mapped_column(Date)
    reason: Mapped[str] = mapped_column(String(300))
    resume_reason: Mapped[str] = mapped_column(String(300), default="")
    created_by_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"))


class SupportPlan(db.Model):
    """A recipient's support plan from a date: outcomes and support lines."""

    __tablename__ = "support_plans"
    __table_args__ = (UniqueConstraint("recipient_id", "effective_from"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    recipient_id: Mapped[int] = mapped_column(ForeignKey("recipients.person_id"), index=True)
    effective_from: Mapped[date] = mapped_column(Date)
    outcomes: Mapped[str] = mapped_column(Text, default="")
    # Cash withdrawals are allowed per person, with the reason recorded (no blanket ban).
    cash_allowed_reason: Mapped[str] = mapped_column(String(300), default="")
    created_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)
    created_by_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"))

    lines: Mapped[list["SupportLine"]] = relationship(order_by="SupportLine.position", back_populates="plan")


class SupportLine(db.Model):
    __tablename__ = "support_lines"

    id: Mapped[int] = mapped_column(primary_key=True)
    plan_id: Mapped[int] = mapped_column(ForeignKey("support_plans.id"), index=True)
    position: Mapped[int] = mapped_column(Integer, default=0)
    category: Mapped[Category] = mapped_column(_enum(Category, 40))
    description: Mapped[str] = mapped_column(String(300))
    amount_per_4_weeks_pence: Mapped[int] = mapped_column(Integer)
    hours_per_week: Mapped[Decimal | None] = mapped_column(Numeric(6, 2))

    plan: Mapped[SupportPlan] = relationship(back_populates="lines")
