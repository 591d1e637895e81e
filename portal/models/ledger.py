"""The ledger: money that moved (append-only entries), their annotations, and money expected.

Amount, date, account and kind of an entry never change (database triggers refuse UPDATE and
DELETE); a mistake is corrected by a reversing entry. Category, support line, explanation and flags
are annotations with their own history; entry_states holds the current one for fast filtering.
"""

import enum
from datetime import date, datetime

from sqlalchemy import BigInteger, Boolean, Date, ForeignKey, Index, Integer, String, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column, relationship

from portal.extensions import db
from portal.models.base import str_enum as _enum
from portal.models.base import UTCDateTime, utcnow
from portal.models.budgets import Category, DPAccount




class EntryKind(enum.StrEnum):
    COUNCIL_PAYMENT = "council payment"
    CONTRIBUTION = "contribution"
    SPEND = "spend"
    REFUND = "refund"
    RECLAIM = "reclaim"
    ADJUSTMENT = "adjustment"


class EntrySource(enum.StrEnum):
    PAYMENT_RUN = "payment run"
    CARD_IMPORT = "card import"
    MANUAL = "manual entry"
    PAYROLL = "payroll"
    MANAGED_PAYMENT = "managed-account payment"


class Flag(enum.StrEnum):
    CASH = "cash withdrawal"
    GAMBLING = "gambling"
    ALCOHOL = "alcohol"
    TOBACCO = "tobacco"
    OUTSIDE_PLAN = "outside the support plan"


class Payee(db.Model):
    """Who money went to or came from, by name as the card network gives it."""

    __tablename__ = "payees"

    id: Mapped[int] = mapped_column(primary_key=True)
    name: Mapped[str] = mapped_column(String(200), unique=True)


class LedgerEntry(db.Model):
    __tablename__ = "ledger_entries"
    __table_args__ = (Index("ix_ledger_entries_account_date", "account_id", "entry_date", "id"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    account_id: Mapped[int] = mapped_column(ForeignKey("dp_accounts.id"))
    kind: Mapped[EntryKind] = mapped_column(_enum(EntryKind))
    # Signed integer pence: money into the account is positive, out is negative.
    amount_pence: Mapped[int] = mapped_column(Integer)
    entry_date: Mapped[date] = mapped_column(Date)
    payee_id: Mapped[int | None] = mapped_column(ForeignKey("payees.id"))
    description: Mapped[str] = mapped_column(String(200), default="")
    source: Mapped[EntrySource] = mapped_column(_enum(EntrySource))
    # Idempotency keys: the card provider's transaction id; a payment run's budget/cycle/kind key.
    external_id: Mapped[str | None] = mapped_column(String(60), unique=True)
    payment_key: Mapped[str | None] = mapped_column(String(80), unique=True)
    reverses_id: Mapped[int | None] = mapped_column(ForeignKey("ledger_entries.id"), unique=True)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)
    created_by_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"))

    account: Mapped[DPAccount] = relationship()
    payee: Mapped[Payee | None] = relationship()
    state: Mapped["EntryState"] = relationship(uselist=False, back_populates="entry")


class EntryState(db.Model):
    """The current annotation of an entry (its history is in entry_annotations)."""

    __tablename__ = "entry_states"
    __table_args__ = (Index("ix_entry_states_account_flags", "account_id", "needs_evidence", "needs_explanation"),)

    entry_id: Mapped[int] = mapped_column(ForeignKey("ledger_entries.id"), primary_key=True)
    account_id: Mapped[int] = mapped_column(ForeignKey("dp_accounts.id"))
    category: Mapped[Category | None] = mapped_column(_enum(Category, 40))
    support_line_id: Mapped[int | None] = mapped_column(ForeignKey("support_lines.id"))
    flags: Mapped[str] = mapped_column(String(200), default="")  # comma-separated Flag values
    explanation: Mapped[str] = mapped_column(String(500), default="")
    needs_evidence: Mapped[bool] = mapped_column(Boolean, default=False)
    needs_explanation: Mapped[bool] = mapped_column(Boolean, default=False)
    confirmed_external_id: Mapped[str | None] = mapped_column(String(60), unique=True)
    evidence_count: Mapped[int] = mapped_column(Integer, default=0)

    entry: Mapped[LedgerEntry] = relationship(back_populates="state")

    @property
    def flag_list(self) -> list[str]:
        return [f for f in self.flags.split(",") if f]


class EntryAnnotation(db.Model):
    """One change of an entry's annotation: append-only history."""

    __tablename__ = "entry_annotations"

    id: Mapped[int] = mapped_column(primary_key=True)
    entry_id: Mapped[int] = mapped_column(ForeignKey("ledger_entries.id"), index=True)
    category: Mapped[Category | None] = mapped_column(_enum(Category, 40))
    support_line_id: Mapped[int | None] = mapped_column(ForeignKey("support_lines.id"))
    flags: Mapped[str] = mapped_column(String(200), default="")
    explanation: Mapped[str] = mapped_column(String(500), default="")
    note: Mapped[str] = mapped_column(String(200), default="")  # why it changed: "imported", "explained"
    created_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)
    created_by_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"))


class AccountBalance(db.Model):
    """The cached balance: updated in the same transaction as every entry; tests prove it equals the sum."""

    __tablename__ = "account_balances"

    account_id: Mapped[int] = mapped_column(ForeignKey("dp_accounts.id"), primary_key=True)
    balance_pence: Mapped[int] = mapped_column(Integer, default=0)
    entry_count: Mapped[int] = mapped_column(Integer, default=0)


class AccountAttention(db.Model):
    """How many of an account's entries wait for a receipt, and for an explanation: the work queues, the
    caseload's flag and the dashboard read these instead of searching every entry. Moved in the same
    transaction as the entry states (ledger.post, ledger.annotate, evidence, the card import's batches, the
    demo's bulk insert); tests prove they equal the counts of entry_states."""

    __tablename__ = "account_attention"

    account_id: Mapped[int] = mapped_column(ForeignKey("dp_accounts.id"), primary_key=True)
    receipts_missing: Mapped[int] = mapped_column(Integer, default=0)
    explanations_missing: Mapped[int] = mapped_column(Integer, default=0)


class SpendSummary(db.Model):
    """Spend, refunds and reclaims per account, financial year, kind and current category: the council
    dashboard reads these instead of summing the ledger. Moved in the same transaction as the entries
    (ledger.post, ledger.annotate, the card import's batches, the demo's bulk insert); tests prove it equals
    the sums. entries counts the entries that are not reversals (a reversal's pence are in the sum)."""

    __tablename__ = "spend_summaries"
    __table_args__ = (UniqueConstraint("account_id", "year_start", "kind", "category"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    account_id: Mapped[int] = mapped_column(ForeignKey("dp_accounts.id"))
    year_start: Mapped[date] = mapped_column(Date)  # 1 April of the financial year of the entries' dates
    kind: Mapped[EntryKind] = mapped_column(_enum(EntryKind))
    category: Mapped[str] = mapped_column(String(40), default="")  # a Category value, '' when none
    pence: Mapped[int] = mapped_column(BigInteger, default=0)  # signed, as the entries
    entries: Mapped[int] = mapped_column(Integer, default=0)


class ExpectedKind(enum.StrEnum):
    CONTRIBUTION_DUE = "contribution due"
    RECLAIM = "approved reclaim"
    TIMESHEET = "approved timesheet"
    INVOICE = "unpaid invoice"
    PAY_RUN = "pay run"


class ExpectedStatus(enum.StrEnum):
    OPEN = "open"
    SETTLED = "settled"
    CANCELLED = "cancelled"


class ExpectedItem(db.Model):
    """Money the portal expects to move but has not yet: owed out of the account, or due into it."""

    __tablename__ = "expected_items"
    __table_args__ = (
        Index("ix_expected_items_account_status", "account_id", "status"),
        # Work queues: contributions in arrears per account.
        Index("ix_expected_items_account_kind_status_due", "account_id", "kind", "status", "due_date"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    account_id: Mapped[int] = mapped_column(ForeignKey("dp_accounts.id"))
    kind: Mapped[ExpectedKind] = mapped_column(_enum(ExpectedKind))
    # Signed like ledger entries: positive comes in, negative will leave the account.
    amount_pence: Mapped[int] = mapped_column(Integer)
    due_date: Mapped[date] = mapped_column(Date)
    status: Mapped[ExpectedStatus] = mapped_column(_enum(ExpectedStatus, 12), default=ExpectedStatus.OPEN)
    key: Mapped[str] = mapped_column(String(80), unique=True)  # idempotency: one item per thing expected
    settled_by_id: Mapped[int | None] = mapped_column(ForeignKey("ledger_entries.id"))
    description: Mapped[str] = mapped_column(String(200), default="")
    created_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)


class ReviewStatus(enum.StrEnum):
    OPEN = "open"  # opened by the payment run's check; the caseworker works it
    PROPOSED = "proposed"  # a reclaim proposed, waiting for the council officer
    RECLAIMED = "reclaimed"  # approved and posted to the ledger (exactly once)
    KEPT = "kept"  # the money stays (the caseworker's decision, or the council declined the reclaim)
    CLOSED = "closed"


class ExcessReason(enum.StrEnum):
    INFORMAL_SUPPORT = "informal support increased"
    NO_PA = "could not find a PA"
    HOSPITAL = "in hospital"
    PLANNED_RESPITE = "saving for planned respite agreed in the plan"
    OTHER = "other"


class ExcessProposal(enum.StrEnum):
    KEEP = "keep"
    RECLAIM_PART = "reclaim part"
    RECLAIM_ALL = "reclaim all"


class ExcessBalanceReview(db.Model):
    """Opened when the balance before a payment, less money owed and contingency, is over the line."""

    __tablename__ = "excess_balance_reviews"
    __table_args__ = (UniqueConstraint("account_id", "cycle_start"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    account_id: Mapped[int] = mapped_column(ForeignKey("dp_accounts.id"), index=True)
    budget_id: Mapped[int] = mapped_column(ForeignKey("budgets.id"))
    cycle_start: Mapped[date] = mapped_column(Date)
    balance_pence: Mapped[int] = mapped_column(Integer)
    owed_pence: Mapped[int] = mapped_column(Integer)
    contingency_pence: Mapped[int] = mapped_column(Integer)
    threshold_pence: Mapped[int] = mapped_column(Integer)
    excess_pence: Mapped[int] = mapped_column(Integer)
    reasons: Mapped[str] = mapped_column(String(200))
    status: Mapped[ReviewStatus] = mapped_column(_enum(ReviewStatus, 12), default=ReviewStatus.OPEN)
    opened_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)
    # The caseworker's work (issue 6): why the money built up, and what they propose.
    reason: Mapped[ExcessReason | None] = mapped_column(_enum(ExcessReason, 60))
    reason_note: Mapped[str] = mapped_column(String(1000), default="")
    help_offered: Mapped[str] = mapped_column(String(1000), default="")  # when the reason is unmet need
    proposal: Mapped[ExcessProposal | None] = mapped_column(_enum(ExcessProposal, 20))
    proposed_pence: Mapped[int | None] = mapped_column(Integer)
    proposed_by_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
    proposed_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    # The council officer's decision, and the ledger entry a reclaim posted (its payment_key makes it once only).
    decided_by_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
    decided_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    decision_note: Mapped[str] = mapped_column(String(1000), default="")
    reclaim_entry_id: Mapped[int | None] = mapped_column(ForeignKey("ledger_entries.id"))
    # Optimistic locking: every change is made against the version the page was drawn from.
    version: Mapped[int] = mapped_column(Integer, default=1, server_default="1")

    account: Mapped[DPAccount] = relationship()


class PaymentConfirmation(db.Model):
    """A payment the run would have made, found already in the ledger from a statement imported first.

    The run claims that entry for its key instead of posting the payment again (one key, one entry).
    """

    __tablename__ = "payment_confirmations"

    payment_key: Mapped[str] = mapped_column(String(80), primary_key=True)
    entry_id: Mapped[int] = mapped_column(ForeignKey("ledger_entries.id"), unique=True)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)
