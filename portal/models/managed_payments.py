"""Managed accounts: payments the DPSS makes from an account it holds, and contributions it receives into it.

A payment is recorded by one member of the DPSS's staff. At or under the organisation's approval limit
it is paid (posted to the ledger) at once; above it, a second member of staff approves it first. Each
payment posts at most one ledger entry (payment_key ``managed-payment:<id>``). PA wages name the
approved timesheets they pay; an invoice carries its file (stored outside static/, as receipts are)
and is money owed (an expected item) until it is paid; a payment from a pay run names the pay run's
expected item it pays (a PA's net pay, HMRC, the pension scheme), which it settles when it is paid.
"""

import enum
from datetime import date, datetime

from sqlalchemy import Boolean, Date, ForeignKey, Index, Integer, String
from sqlalchemy.orm import Mapped, mapped_column, relationship

from portal.extensions import db
from portal.models.base import UTCDateTime, utcnow
from portal.models.base import str_enum as _enum
from portal.models.budgets import Category, DPAccount


class ManagedPaymentKind(enum.StrEnum):
    WAGES = "PA wages"
    INVOICE = "invoice"
    OTHER = "other"
    PAY_RUN = "pay run"  # one of a pay run's expected items: a PA's net pay, HMRC's due or the pension's


class ManagedPaymentStatus(enum.StrEnum):
    RECORDED = "recorded"  # above the limit: waiting for a second member of staff
    APPROVED = "approved"  # claimed by the approver; paid in the same transaction
    PAID = "paid"  # posted to the ledger (exactly once)
    CANCELLED = "cancelled"


class ContributionMethod(enum.StrEnum):
    BANK_TRANSFER = "bank transfer"
    STANDING_ORDER = "standing order"
    DEBIT_CARD = "debit card"
    CHEQUE = "cheque"
    CASH = "cash"


class ManagedPayment(db.Model):
    __tablename__ = "managed_payments"
    __table_args__ = (
        Index("ix_managed_payments_account_status", "account_id", "status"),
        # The approvals page and the work queue: an organisation's payments waiting for a second person.
        Index("ix_managed_payments_organisation_status", "organisation_id", "status"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    account_id: Mapped[int] = mapped_column(ForeignKey("dp_accounts.id"))
    # The DPSS that manages the account (and so records and approves its payments).
    organisation_id: Mapped[int] = mapped_column(ForeignKey("organisations.id"))
    kind: Mapped[ManagedPaymentKind] = mapped_column(_enum(ManagedPaymentKind, 20))
    status: Mapped[ManagedPaymentStatus] = mapped_column(_enum(ManagedPaymentStatus, 12), default=ManagedPaymentStatus.RECORDED)
    payee: Mapped[str] = mapped_column(String(200))
    amount_pence: Mapped[int] = mapped_column(Integer)  # what leaves the account (positive)
    pay_on: Mapped[date] = mapped_column(Date)  # the date the staff member gave for the payment
    description: Mapped[str] = mapped_column(String(200), default="")
    category: Mapped[Category] = mapped_column(_enum(Category, 40))
    # Invoices: the number, when it is due, and the file (generated storage name, never the uploader's).
    invoice_number: Mapped[str] = mapped_column(String(60), default="")
    invoice_due_on: Mapped[date | None] = mapped_column(Date)
    invoice_storage_name: Mapped[str | None] = mapped_column(String(100), unique=True)
    invoice_sha256: Mapped[str] = mapped_column(String(64), default="")
    invoice_content_type: Mapped[str] = mapped_column(String(40), default="")
    invoice_size_bytes: Mapped[int] = mapped_column(Integer, default=0)
    invoice_display_name: Mapped[str] = mapped_column(String(120), default="")
    # Two people: the organisation's limit when it was recorded, and whether this payment was above it.
    approval_limit_pence: Mapped[int] = mapped_column(Integer)
    needs_approval: Mapped[bool] = mapped_column(Boolean, default=False)
    # The record form's one-time key: a double-click or a resend records one payment.
    request_key: Mapped[str] = mapped_column(String(40), unique=True)
    recorded_by_id: Mapped[int] = mapped_column(ForeignKey("users.id"))
    recorded_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)
    approved_by_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
    approved_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    cancelled_by_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
    cancelled_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    cancel_reason: Mapped[str] = mapped_column(String(500), default="")
    entry_id: Mapped[int | None] = mapped_column(ForeignKey("ledger_entries.id"), unique=True)
    paid_on: Mapped[date | None] = mapped_column(Date)  # the ledger entry's date
    # Optimistic locking: every change is made against the version the page was drawn from.
    version: Mapped[int] = mapped_column(Integer, default=1, server_default="1")
    # A payment from a pay run: the pay run's expected item it pays (kept after a cancellation), and the
    # same item again while the payment is live (recorded, approved or paid), emptied when it is cancelled.
    # Unique, so one item is paid by one live payment at most, even when two members of staff record at
    # once (NULLs never clash, on SQLite as on PostgreSQL).
    expected_item_id: Mapped[int | None] = mapped_column(ForeignKey("expected_items.id"), index=True)
    live_item_id: Mapped[int | None] = mapped_column(Integer, unique=True)

    account: Mapped[DPAccount] = relationship()
    timesheet_links: Mapped[list["ManagedPaymentTimesheet"]] = relationship(
        order_by="ManagedPaymentTimesheet.id", back_populates="payment")

    @property
    def summary(self) -> str:
        """Who was paid, as the lists say it: the payee, or for a payment from a pay run what it paid
        ("Net pay to Sophie Clarke (pay run 3 to 16 November 2026)", kept in its description)."""
        if self.kind == ManagedPaymentKind.PAY_RUN and self.description:
            return self.description
        return self.payee


class ManagedPaymentTimesheet(db.Model):
    """An approved timesheet that a PA wages payment pays."""

    __tablename__ = "managed_payment_timesheets"

    id: Mapped[int] = mapped_column(primary_key=True)
    payment_id: Mapped[int] = mapped_column(ForeignKey("managed_payments.id"), index=True)
    timesheet_id: Mapped[int] = mapped_column(ForeignKey("timesheets.id"), index=True)
    owed_pence: Mapped[int] = mapped_column(Integer)  # what the timesheet owed when the payment was recorded
    # The timesheet again while the payment is live (recorded, approved or paid); emptied when it is
    # cancelled. Unique, so one timesheet is paid by one live payment at most, even when two members of
    # staff record at once (NULLs never clash, on SQLite as on PostgreSQL).
    live_timesheet_id: Mapped[int | None] = mapped_column(Integer, unique=True)

    payment: Mapped[ManagedPayment] = relationship(back_populates="timesheet_links")


class ManagedContribution(db.Model):
    """A contribution the DPSS received into a managed account (posted as a contribution entry)."""

    __tablename__ = "managed_contributions"

    id: Mapped[int] = mapped_column(primary_key=True)
    account_id: Mapped[int] = mapped_column(ForeignKey("dp_accounts.id"), index=True)
    organisation_id: Mapped[int] = mapped_column(ForeignKey("organisations.id"))
    amount_pence: Mapped[int] = mapped_column(Integer)
    received_on: Mapped[date] = mapped_column(Date)
    method: Mapped[ContributionMethod] = mapped_column(_enum(ContributionMethod, 20))
    note: Mapped[str] = mapped_column(String(200), default="")
    request_key: Mapped[str] = mapped_column(String(40), unique=True)
    entry_id: Mapped[int | None] = mapped_column(ForeignKey("ledger_entries.id"), unique=True)
    settled_item_id: Mapped[int | None] = mapped_column(ForeignKey("expected_items.id"))
    recorded_by_id: Mapped[int] = mapped_column(ForeignKey("users.id"))
    recorded_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)
