"""Casework: notes on a person's case, and safeguarding concerns raised about a person."""

from datetime import datetime

from sqlalchemy import ForeignKey, Index, String, Text
from sqlalchemy.orm import Mapped, mapped_column, relationship

from portal.extensions import db
from portal.models.base import UTCDateTime, utcnow


class CaseNote(db.Model):
    """A note on a person's case: append-only (database triggers refuse UPDATE and DELETE), by author and time."""

    __tablename__ = "case_notes"
    __table_args__ = (Index("ix_case_notes_recipient_created", "recipient_id", "created_at"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    recipient_id: Mapped[int] = mapped_column(ForeignKey("recipients.person_id"))
    author_id: Mapped[int] = mapped_column(ForeignKey("users.id"))
    # The author's organisation when they wrote it: a case moved to another provider keeps its history,
    # and each provider sees the notes written while the case was theirs.
    organisation_id: Mapped[int | None] = mapped_column(ForeignKey("organisations.id"), index=True)
    body: Mapped[str] = mapped_column(Text)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)

    author: Mapped["User"] = relationship()  # noqa: F821


class SafeguardingConcern(db.Model):
    """Anyone signed in may report a concern about a person they can see. It goes at once to the person's
    DPSS caseworker and the council's safeguarding contact, and stays in queues until acknowledged."""

    __tablename__ = "safeguarding_concerns"
    __table_args__ = (Index("ix_safeguarding_concerns_open", "recipient_id", "acknowledged_at"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    recipient_id: Mapped[int] = mapped_column(ForeignKey("recipients.person_id"))
    raised_by_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
    # Rule-based alerts raise concerns too (no person): the rule's name says which.
    rule: Mapped[str] = mapped_column(String(60), default="")
    body: Mapped[str] = mapped_column(Text)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)
    acknowledged_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    acknowledged_by_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
    acknowledgement: Mapped[str] = mapped_column(String(500), default="")

    raised_by: Mapped["User | None"] = relationship(foreign_keys=[raised_by_id])  # noqa: F821
    acknowledged_by: Mapped["User | None"] = relationship(foreign_keys=[acknowledged_by_id])  # noqa: F821
