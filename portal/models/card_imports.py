"""Card statement imports: what each import did, rows kept for review, and categorisation rules."""

from datetime import date, datetime

from sqlalchemy import Date, ForeignKey, Integer, String
from sqlalchemy.orm import Mapped, mapped_column, relationship

from portal.extensions import db
from portal.models.base import UTCDateTime, utcnow
from portal.models.budgets import Category, _enum


class CardImport(db.Model):
    __tablename__ = "card_imports"

    id: Mapped[int] = mapped_column(primary_key=True)
    filename: Mapped[str] = mapped_column(String(200))
    layout: Mapped[str] = mapped_column(String(40))
    started_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)
    finished_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    rows_read: Mapped[int] = mapped_column(Integer, default=0)
    posted: Mapped[int] = mapped_column(Integer, default=0)
    confirmed: Mapped[int] = mapped_column(Integer, default=0)
    duplicates: Mapped[int] = mapped_column(Integer, default=0)
    unknown_accounts: Mapped[int] = mapped_column(Integer, default=0)
    rejected: Mapped[int] = mapped_column(Integer, default=0)
    flagged: Mapped[int] = mapped_column(Integer, default=0)
    created_by_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"))

    rejections: Mapped[list["CardImportRejection"]] = relationship(order_by="CardImportRejection.line_number")


class CardImportRejection(db.Model):
    __tablename__ = "card_import_rejections"

    id: Mapped[int] = mapped_column(primary_key=True)
    import_id: Mapped[int] = mapped_column(ForeignKey("card_imports.id"), index=True)
    line_number: Mapped[int] = mapped_column(Integer)
    reason: Mapped[str] = mapped_column(String(300))


class UnmatchedCardRow(db.Model):
    """A row for a card account the portal does not know: kept for review, never dropped."""

    __tablename__ = "unmatched_card_rows"

    id: Mapped[int] = mapped_column(primary_key=True)
    import_id: Mapped[int] = mapped_column(ForeignKey("card_imports.id"), index=True)
    external_id: Mapped[str] = mapped_column(String(60), unique=True)
    card_reference: Mapped[str] = mapped_column(String(40), index=True)
    entry_date: Mapped[date] = mapped_column(Date)
    amount_pence: Mapped[int] = mapped_column(Integer)
    merchant: Mapped[str] = mapped_column(String(200))
    mcc: Mapped[str] = mapped_column(String(4), default="")
    description: Mapped[str] = mapped_column(String(200), default="")
    resolved_entry_id: Mapped[int | None] = mapped_column(ForeignKey("ledger_entries.id"))
    resolved_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    resolved_by_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"))


class CategoryRule(db.Model):
    """Editable rules: merchant text and/or MCC give a category and, for some, a flag to explain."""

    __tablename__ = "category_rules"

    id: Mapped[int] = mapped_column(primary_key=True)
    position: Mapped[int] = mapped_column(Integer, default=0)
    merchant_contains: Mapped[str] = mapped_column(String(100), default="")
    mcc: Mapped[str] = mapped_column(String(4), default="")
    category: Mapped[Category | None] = mapped_column(_enum(Category, 40))
    flag: Mapped[str] = mapped_column(String(40), default="")  # a Flag value, or empty
