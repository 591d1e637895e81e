"""Audits of a period of one person's direct payment, and reviews of their care and support.

An audit checks the period's money against the evidence: the statement, every transaction with its
evidence or a reason, flagged spend and its explanation, a checklist of the employer's duties, and an
outcome signed off by name and date. Signing off locks it: the checks and findings of a signed-off
audit never change (the service refuses), and the figures and each transaction's evidence as they were
at sign-off are kept with it, so the report reads the same whatever is added to the ledger later.

A care review records that the person's support (and so their direct payment) was reviewed, by whom
and with what outcome; the next one is due from it (services/audits.py has the rules).
"""

import enum
from datetime import date, datetime

from sqlalchemy import Boolean, Date, ForeignKey, Index, Integer, String, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column, relationship

from portal.extensions import db
from portal.models.base import UTCDateTime, utcnow
from portal.models.base import str_enum as _enum


class AuditStatus(enum.StrEnum):
    IN_PROGRESS = "in progress"
    SIGNED_OFF = "signed off"


class ChecklistAnswer(enum.StrEnum):
    YES = "yes"
    NO = "no"
    NOT_APPLICABLE = "not applicable"


class AuditOutcome(enum.StrEnum):
    SATISFACTORY = "satisfactory"
    ACTIONS_NEEDED = "actions needed"
    REFERRED = "referred to the council"


class Audit(db.Model):
    __tablename__ = "audits"
    __table_args__ = (
        # The last signed-off audit of a person (due dates, queues): a seek per case.
        Index("ix_audits_recipient_status_end", "recipient_id", "status", "period_end"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    recipient_id: Mapped[int] = mapped_column(ForeignKey("recipients.person_id"))
    # The support service that carried it out (the person may later move to another).
    provider_id: Mapped[int | None] = mapped_column(ForeignKey("organisations.id"))
    period_start: Mapped[date] = mapped_column(Date)
    period_end: Mapped[date] = mapped_column(Date)
    status: Mapped[AuditStatus] = mapped_column(_enum(AuditStatus, 20), default=AuditStatus.IN_PROGRESS)
    # The person's id while the audit is in progress, NULL once signed off: one audit in progress per person
    # (a unique column rather than a partial index, so SQLite and PostgreSQL enforce it the same way).
    open_key: Mapped[int | None] = mapped_column(Integer, unique=True)

    # The checklist: each answered yes, no or not applicable, with a note.
    insurance_valid: Mapped[ChecklistAnswer | None] = mapped_column(_enum(ChecklistAnswer, 20))
    insurance_note: Mapped[str] = mapped_column(String(1000), default="", server_default="")
    payslips_match: Mapped[ChecklistAnswer | None] = mapped_column(_enum(ChecklistAnswer, 20))
    payslips_note: Mapped[str] = mapped_column(String(1000), default="", server_default="")
    hmrc_paid: Mapped[ChecklistAnswer | None] = mapped_column(_enum(ChecklistAnswer, 20))
    hmrc_note: Mapped[str] = mapped_column(String(1000), default="", server_default="")
    pension_paid: Mapped[ChecklistAnswer | None] = mapped_column(_enum(ChecklistAnswer, 20))
    pension_note: Mapped[str] = mapped_column(String(1000), default="", server_default="")

    outcome: Mapped[AuditOutcome | None] = mapped_column(_enum(AuditOutcome, 30))
    actions: Mapped[str] = mapped_column(String(2000), default="", server_default="")

    started_by_id: Mapped[int] = mapped_column(ForeignKey("users.id"))
    started_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)
    updated_by_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)
    signed_off_by_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
    signed_off_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    signed_off_on: Mapped[date | None] = mapped_column(Date)
    # The statement's figures at sign-off (pence).
    opening_pence: Mapped[int | None] = mapped_column(Integer)
    money_in_pence: Mapped[int | None] = mapped_column(Integer)
    money_out_pence: Mapped[int | None] = mapped_column(Integer)
    closing_pence: Mapped[int | None] = mapped_column(Integer)
    # Optimistic locking: a change or sign-off is made against the version the page was drawn from.
    version: Mapped[int] = mapped_column(Integer, default=1, server_default="1")

    started_by: Mapped["User"] = relationship(foreign_keys=[started_by_id])  # noqa: F821
    signed_off_by: Mapped["User | None"] = relationship(foreign_keys=[signed_off_by_id])  # noqa: F821
    provider: Mapped["Organisation | None"] = relationship()  # noqa: F821

    @property
    def locked(self) -> bool:
        return self.status == AuditStatus.SIGNED_OFF


class AuditFinding(db.Model):
    """One transaction of an audit's period: the auditor's reason or explanation (while in progress), and
    at sign-off the entry's evidence, flags and explanation as they were then."""

    __tablename__ = "audit_findings"
    __table_args__ = (UniqueConstraint("audit_id", "entry_id"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    audit_id: Mapped[int] = mapped_column(ForeignKey("audits.id"))
    entry_id: Mapped[int] = mapped_column(ForeignKey("ledger_entries.id"))
    note: Mapped[str] = mapped_column(String(1000), default="", server_default="")
    noted_by_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
    noted_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    # Kept at sign-off (NULL until then).
    kept: Mapped[bool] = mapped_column(Boolean, default=False, server_default="0")
    evidence_count: Mapped[int | None] = mapped_column(Integer)
    needs_evidence: Mapped[bool | None] = mapped_column(Boolean)
    flags: Mapped[str] = mapped_column(String(200), default="", server_default="")
    explanation: Mapped[str] = mapped_column(String(500), default="", server_default="")


class CareReview(db.Model):
    """A review of the person's care and support (and so their direct payment) done on a day."""

    __tablename__ = "care_reviews"
    # One a day per person: recording the same review twice (a double click) finds the first.
    __table_args__ = (UniqueConstraint("recipient_id", "reviewed_on"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    recipient_id: Mapped[int] = mapped_column(ForeignKey("recipients.person_id"))
    reviewed_on: Mapped[date] = mapped_column(Date)
    outcome: Mapped[str] = mapped_column(String(2000))
    provider_id: Mapped[int | None] = mapped_column(ForeignKey("organisations.id"))
    recorded_by_id: Mapped[int] = mapped_column(ForeignKey("users.id"))
    recorded_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)

    recorded_by: Mapped["User"] = relationship()  # noqa: F821
