"""A case's life: set-up from the council's decision to the first payment, closing, and moves
between providers or councils (the records stay with the person; access follows the move)."""

import enum
from datetime import date, datetime

from sqlalchemy import Date, ForeignKey, String
from sqlalchemy.orm import Mapped, mapped_column, relationship

from portal.extensions import db
from portal.models.base import UTCDateTime, utcnow
from portal.models.organisations import Organisation


class CaseSetup(db.Model):
    """The set-up steps for a person's direct payment and their dates (empty: not done yet).

    Set-up time, reported to the council by provider, runs from the decision to the first payment.
    """

    __tablename__ = "case_setups"

    recipient_id: Mapped[int] = mapped_column(ForeignKey("recipients.person_id"), primary_key=True)
    provider_id: Mapped[int | None] = mapped_column(ForeignKey("organisations.id"), index=True)
    decided_on: Mapped[date] = mapped_column(Date)  # the council's decision (the referral to the DPSS)
    agreement_signed_on: Mapped[date | None] = mapped_column(Date)
    account_opened_on: Mapped[date | None] = mapped_column(Date)
    first_payment_on: Mapped[date | None] = mapped_column(Date)
    # When the next care review and audit fall due, kept by services.audits.refresh_due_dates whenever
    # what they depend on changes, so the work queues find them through an index instead of working
    # out every case's dates on each page.
    review_due_on: Mapped[date | None] = mapped_column(Date, index=True)
    audit_due_on: Mapped[date | None] = mapped_column(Date, index=True)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow, onupdate=utcnow)
    updated_by_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"))

    provider: Mapped[Organisation | None] = relationship()

    @property
    def days_to_first_payment(self) -> int | None:
        if self.first_payment_on is None:
            return None
        return (self.first_payment_on - self.decided_on).days


class ClosureReason(enum.StrEnum):
    DIED = "died"
    MOVED_AWAY = "moved out of the area"
    COMMISSIONED_SERVICES = "chose services arranged by the council instead"
    SELF_MANAGED = "chose to manage without the support service"
    NO_LONGER_ELIGIBLE = "no longer eligible"
    IN_CARE_HOME = "moved into long-term residential care"
    OTHER = "other"


class CaseMove(db.Model):
    """A person moved from one provider or council to another on a date. Nothing is copied: the
    person's records stay theirs, and the case list and scopes follow the current provider and council."""

    __tablename__ = "case_moves"

    id: Mapped[int] = mapped_column(primary_key=True)
    recipient_id: Mapped[int] = mapped_column(ForeignKey("recipients.person_id"), index=True)
    moved_on: Mapped[date] = mapped_column(Date)
    from_provider_id: Mapped[int | None] = mapped_column(ForeignKey("organisations.id"))
    to_provider_id: Mapped[int | None] = mapped_column(ForeignKey("organisations.id"))
    from_council_id: Mapped[int] = mapped_column(ForeignKey("organisations.id"))
    to_council_id: Mapped[int] = mapped_column(ForeignKey("organisations.id"))
    reason: Mapped[str] = mapped_column(String(1000), default="")
    moved_by_id: Mapped[int] = mapped_column(ForeignKey("users.id"))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)

    from_provider: Mapped[Organisation | None] = relationship(foreign_keys=[from_provider_id])
    to_provider: Mapped[Organisation | None] = relationship(foreign_keys=[to_provider_id])
    from_council: Mapped[Organisation] = relationship(foreign_keys=[from_council_id])
    to_council: Mapped[Organisation] = relationship(foreign_keys=[to_council_id])
    moved_by: Mapped["User"] = relationship()  # noqa: F821
