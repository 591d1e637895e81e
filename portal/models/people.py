"""People (recipients, representatives, PAs) and the dated links between them.

A person may or may not have a user account. Links carry start and end dates, and access follows
them: a link that has ended gives no access from that moment.
"""

import enum
from datetime import date

from sqlalchemy import Boolean, Date, ForeignKey, Index, String
from sqlalchemy.orm import Mapped, mapped_column, relationship

from portal.extensions import db
from portal.models.base import str_enum as _enum
from portal.models.organisations import Organisation




class SupportReason(enum.StrEnum):
    """Primary support reason (the client group councils report on)."""

    PHYSICAL_DISABILITY = "physical disability"
    MENTAL_HEALTH = "mental health"
    LEARNING_DISABILITY = "learning disability"
    SUBSTANCE_MISUSE = "substance misuse"
    VULNERABLE_PEOPLE = "vulnerable people"
    OLDER_PEOPLE = "older people's needs"
    CARER = "carer"


class RepresentativeKind(enum.StrEnum):
    AUTHORISED_PERSON = "authorised person"
    NOMINATED_PERSON = "nominated person"
    FAMILY_HELPER = "family helper"


class RepresentativeLevel(enum.StrEnum):
    VIEW = "view"
    MANAGE = "manage"


class Person(db.Model):
    __tablename__ = "people"
    # Caseload lists are in name order with keyset paging on (family, given, id).
    __table_args__ = (Index("ix_people_name_order", "family_name", "given_name", "id"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    given_name: Mapped[str] = mapped_column(String(100))
    family_name: Mapped[str] = mapped_column(String(100))
    email: Mapped[str] = mapped_column(String(200), default="")
    phone: Mapped[str] = mapped_column(String(40), default="")

    recipient: Mapped["Recipient | None"] = relationship(back_populates="person", uselist=False)

    @property
    def full_name(self) -> str:
        return f"{self.given_name} {self.family_name}"

    def __repr__(self) -> str:
        return f"<Person {self.id}>"


class Recipient(db.Model):
    """The recipient's details, keyed by their person id (so /people/<id> names them)."""

    __tablename__ = "recipients"

    person_id: Mapped[int] = mapped_column(ForeignKey("people.id"), primary_key=True)
    date_of_birth: Mapped[date] = mapped_column(Date)
    postcode: Mapped[str] = mapped_column(String(10))
    district_code: Mapped[str] = mapped_column(ForeignKey("districts.code"), index=True)
    support_reason: Mapped[SupportReason] = mapped_column(_enum(SupportReason, 40))
    council_id: Mapped[int] = mapped_column(ForeignKey("organisations.id"), index=True)

    person: Mapped[Person] = relationship(back_populates="recipient")
    council: Mapped[Organisation] = relationship()
    caseload_entry: Mapped["CaseloadEntry | None"] = relationship(back_populates="recipient", uselist=False)

    @property
    def id(self) -> int:
        return self.person_id

    @property
    def full_name(self) -> str:
        return self.person.full_name


class CaseloadEntry(db.Model):
    """A recipient on one DPSS provider's caseload, with the services it gives them."""

    __tablename__ = "caseload_entries"
    __table_args__ = (Index("ix_caseload_entries_provider_caseworker", "provider_id", "caseworker_id"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    recipient_id: Mapped[int] = mapped_column(ForeignKey("recipients.person_id"), unique=True)
    provider_id: Mapped[int] = mapped_column(ForeignKey("organisations.id"), index=True)
    caseworker_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"), index=True)
    managed_account: Mapped[bool] = mapped_column(Boolean, default=False)
    payroll: Mapped[bool] = mapped_column(Boolean, default=False)
    recruitment_support: Mapped[bool] = mapped_column(Boolean, default=False)
    setup_support: Mapped[bool] = mapped_column(Boolean, default=False)
    start_date: Mapped[date] = mapped_column(Date)
    # A closed case stays on the provider's list (its records are theirs to keep) but leaves the queues.
    closed_on: Mapped[date | None] = mapped_column(Date)
    closed_reason: Mapped[str] = mapped_column(String(60), default="", server_default="")
    closed_note: Mapped[str] = mapped_column(String(1000), default="", server_default="")

    recipient: Mapped[Recipient] = relationship(back_populates="caseload_entry")
    provider: Mapped[Organisation] = relationship()
    caseworker: Mapped["User | None"] = relationship()  # noqa: F821

    @property
    def service_levels(self) -> list[str]:
        names = {
            "managed_account": "managed account",
            "payroll": "payroll",
            "recruitment_support": "recruitment support",
            "setup_support": "set-up support",
        }
        return [label for attr, label in names.items() if getattr(self, attr)]


class RepresentativeLink(db.Model):
    __tablename__ = "representative_links"

    id: Mapped[int] = mapped_column(primary_key=True)
    representative_id: Mapped[int] = mapped_column(ForeignKey("people.id"), index=True)
    recipient_id: Mapped[int] = mapped_column(ForeignKey("recipients.person_id"), index=True)
    kind: Mapped[RepresentativeKind] = mapped_column(_enum(RepresentativeKind, 40))
    level: Mapped[RepresentativeLevel] = mapped_column(_enum(RepresentativeLevel, 10))
    start_date: Mapped[date] = mapped_column(Date)
    end_date: Mapped[date | None] = mapped_column(Date)
    council_agreed_on: Mapped[date | None] = mapped_column(Date)

    representative: Mapped[Person] = relationship(foreign_keys=[representative_id])
    recipient: Mapped[Recipient] = relationship()

    def is_active_on(self, day: date) -> bool:
        return self.start_date <= day and (self.end_date is None or self.end_date >= day)
