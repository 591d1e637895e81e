"""The PA register: opt-in profiles, their checks, vacancies, and contact through the portal.

Availability, support offered, experience and languages are bitmasks (see services/register_options.py
for what each bit means), so "covers what I need" is one bitwise test in SQL. Districts covered are a
join table indexed by district, because every search starts from a district.
"""

import enum
from datetime import date, datetime

from sqlalchemy import BigInteger, Boolean, Date, ForeignKey, Index, Integer, String, Text
from sqlalchemy.orm import Mapped, mapped_column, relationship

from portal.extensions import db
from portal.models.base import UTCDateTime, str_enum, utcnow
from portal.models.people import Person


class Gender(enum.StrEnum):
    WOMAN = "woman"
    MAN = "man"
    NON_BINARY = "non-binary"
    NOT_SAID = "prefer not to say"


class PAProfile(db.Model):
    """A PA's register profile. Only a listed profile is ever shown to anyone but its PA."""

    __tablename__ = "pa_profiles"
    # No index on `listed`: nearly every profile is listed, and such an index leads SQLite to scan all of
    # them instead of looking up the few in the chosen districts by primary key (5 ms against 20 ms at 70,000).

    id: Mapped[int] = mapped_column(primary_key=True)
    person_id: Mapped[int] = mapped_column(ForeignKey("people.id"), unique=True)
    listed: Mapped[bool] = mapped_column(Boolean, default=False)
    drives: Mapped[bool] = mapped_column(Boolean, default=False)
    availability: Mapped[int] = mapped_column(BigInteger, default=0)  # 7 days x 6 parts of the day
    support_offered: Mapped[int] = mapped_column(Integer, default=0)
    experience: Mapped[int] = mapped_column(Integer, default=0)
    languages: Mapped[int] = mapped_column(BigInteger, default=0)
    gender: Mapped[Gender] = mapped_column(str_enum(Gender, 20), default=Gender.NOT_SAID)
    hours_wanted: Mapped[int] = mapped_column(Integer, default=0)  # a week
    rate_pence: Mapped[int] = mapped_column(Integer)  # an hour, sought
    about: Mapped[str] = mapped_column(Text, default="")
    photo_name: Mapped[str | None] = mapped_column(String(100))  # in the evidence storage
    # Check kinds (bits) with a current verified check: kept by services/register_checks.py, and
    # refreshed daily for checks that lapse, so search can rank and filter without a join.
    verified_kinds: Mapped[int] = mapped_column(Integer, default=0)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)
    last_active_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)

    person: Mapped[Person] = relationship()
    districts: Mapped[list["ProfileDistrict"]] = relationship(
        cascade="all, delete-orphan", order_by="ProfileDistrict.district_code"
    )
    checks: Mapped[list["ProfileCheck"]] = relationship(cascade="all, delete-orphan", order_by="ProfileCheck.id")

    @property
    def display_name(self) -> str:
        """First name and surname initial: all anyone sees before the PA accepts contact."""
        initial = self.person.family_name[:1].upper()
        return f"{self.person.given_name} {initial}." if initial else self.person.given_name

    @property
    def district_codes(self) -> list[str]:
        return [d.district_code for d in self.districts]


class ProfileDistrict(db.Model):
    __tablename__ = "pa_profile_districts"
    __table_args__ = (Index("ix_pa_profile_districts_district", "district_code", "profile_id"),)

    profile_id: Mapped[int] = mapped_column(ForeignKey("pa_profiles.id", ondelete="CASCADE"), primary_key=True)
    # Any real outward code, not only the districts a council in the portal owns.
    district_code: Mapped[str] = mapped_column(String(8), primary_key=True)


class CheckKind(enum.StrEnum):
    DBS = "dbs"
    SAFEGUARDING = "safeguarding"
    FIRST_AID = "first_aid"
    MOVING_AND_HANDLING = "moving_and_handling"
    MEDICATION = "medication"
    RIGHT_TO_WORK = "right_to_work"
    REFERENCE = "reference"


class DBSLevel(enum.StrEnum):
    BASIC = "basic"
    STANDARD = "standard"
    ENHANCED = "enhanced"
    ENHANCED_BARRED = "enhanced with barred lists"


class ProfileCheck(db.Model):
    """A check the PA holds. Only DPSS staff verify it, and the verifier is always their own organisation."""

    __tablename__ = "pa_profile_checks"

    id: Mapped[int] = mapped_column(primary_key=True)
    profile_id: Mapped[int] = mapped_column(ForeignKey("pa_profiles.id", ondelete="CASCADE"), index=True)
    kind: Mapped[CheckKind] = mapped_column(str_enum(CheckKind, 30))
    dbs_level: Mapped[DBSLevel | None] = mapped_column(str_enum(DBSLevel, 40))
    update_service: Mapped[bool] = mapped_column(Boolean, default=False)
    detail: Mapped[str] = mapped_column(String(200), default="")  # course, provider, or the referee
    issued_on: Mapped[date | None] = mapped_column(Date)
    expires_on: Mapped[date | None] = mapped_column(Date)
    document_name: Mapped[str | None] = mapped_column(String(100))  # in the evidence storage
    document_display_name: Mapped[str] = mapped_column(String(200), default="")
    document_type: Mapped[str] = mapped_column(String(40), default="")
    verified_by_id: Mapped[int | None] = mapped_column(ForeignKey("organisations.id"))
    verified_by_user_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
    verified_on: Mapped[date | None] = mapped_column(Date)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)

    verified_by: Mapped["Organisation | None"] = relationship(foreign_keys=[verified_by_id])  # noqa: F821
    requests: Mapped[list["VerificationRequest"]] = relationship(
        cascade="all, delete-orphan", order_by="VerificationRequest.id", back_populates="check"
    )


class VerificationRequest(db.Model):
    """The PA asked this DPSS to verify a check: only that DPSS sees the document."""

    __tablename__ = "pa_verification_requests"
    __table_args__ = (
        Index("uq_pa_verification_requests_check_provider", "check_id", "provider_id", unique=True),
        Index("ix_pa_verification_requests_provider_open", "provider_id", "answered_at"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    check_id: Mapped[int] = mapped_column(ForeignKey("pa_profile_checks.id", ondelete="CASCADE"))
    provider_id: Mapped[int] = mapped_column(ForeignKey("organisations.id"))
    requested_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)
    answered_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    verified: Mapped[bool | None] = mapped_column(Boolean)
    answer_note: Mapped[str] = mapped_column(String(300), default="")

    check: Mapped[ProfileCheck] = relationship(back_populates="requests")
    provider: Mapped["Organisation"] = relationship()  # noqa: F821


class ProfileActivity(db.Model):
    """How many times a profile was viewed or contacted each day: counts for the PA, never names."""

    __tablename__ = "pa_profile_activity"

    profile_id: Mapped[int] = mapped_column(ForeignKey("pa_profiles.id", ondelete="CASCADE"), primary_key=True)
    day: Mapped[date] = mapped_column(Date, primary_key=True)
    views: Mapped[int] = mapped_column(Integer, default=0)
    contacts: Mapped[int] = mapped_column(Integer, default=0)


class ProfileView(db.Model):
    """Who opened which profile when: for rate limits against scraping. Kept for a day or two."""

    __tablename__ = "pa_profile_views"
    __table_args__ = (Index("ix_pa_profile_views_user_at", "user_id", "at"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id"))
    profile_id: Mapped[int] = mapped_column(ForeignKey("pa_profiles.id", ondelete="CASCADE"), index=True)
    at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)


class VacancyStatus(enum.StrEnum):
    OPEN = "open"
    FILLED = "filled"
    WITHDRAWN = "withdrawn"


class Vacancy(db.Model):
    """A recipient's job for a PA. Shown to PAs with the district only, never the address or full name."""

    __tablename__ = "vacancies"
    __table_args__ = (Index("ix_vacancies_district_status", "district_code", "status", "closing_date"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    recipient_id: Mapped[int] = mapped_column(ForeignKey("recipients.person_id"), index=True)
    posted_by_id: Mapped[int] = mapped_column(ForeignKey("users.id"))
    title: Mapped[str] = mapped_column(String(120))
    district_code: Mapped[str] = mapped_column(String(8))
    hours_per_week: Mapped[int] = mapped_column(Integer)
    availability: Mapped[int] = mapped_column(BigInteger, default=0)  # the times the work is
    times_note: Mapped[str] = mapped_column(String(300), default="")
    support_needed: Mapped[int] = mapped_column(Integer, default=0)
    experience_wanted: Mapped[int] = mapped_column(Integer, default=0)
    languages: Mapped[int] = mapped_column(BigInteger, default=0)
    gender_preference: Mapped[Gender | None] = mapped_column(str_enum(Gender, 20))
    driver_needed: Mapped[bool] = mapped_column(Boolean, default=False)
    rate_pence: Mapped[int] = mapped_column(Integer)
    start_date: Mapped[date] = mapped_column(Date)
    closing_date: Mapped[date] = mapped_column(Date)
    description: Mapped[str] = mapped_column(Text, default="")
    status: Mapped[VacancyStatus] = mapped_column(str_enum(VacancyStatus, 20), default=VacancyStatus.OPEN)
    filled_on: Mapped[date | None] = mapped_column(Date)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)

    recipient: Mapped["Recipient"] = relationship()  # noqa: F821
    interests: Mapped[list["VacancyInterest"]] = relationship(
        cascade="all, delete-orphan", order_by="VacancyInterest.id", back_populates="vacancy"
    )


class VacancyInterest(db.Model):
    __tablename__ = "vacancy_interests"
    __table_args__ = (Index("uq_vacancy_interests_vacancy_profile", "vacancy_id", "profile_id", unique=True),)

    id: Mapped[int] = mapped_column(primary_key=True)
    vacancy_id: Mapped[int] = mapped_column(ForeignKey("vacancies.id", ondelete="CASCADE"))
    profile_id: Mapped[int] = mapped_column(ForeignKey("pa_profiles.id", ondelete="CASCADE"), index=True)
    message: Mapped[str] = mapped_column(Text, default="")
    created_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)

    vacancy: Mapped[Vacancy] = relationship(back_populates="interests")
    profile: Mapped[PAProfile] = relationship()


class ContactStatus(enum.StrEnum):
    PENDING = "pending"
    ACCEPTED = "accepted"
    DECLINED = "declined"


class ContactRequest(db.Model):
    """Someone asked a PA to get in touch, for a recipient. Full names and details only once accepted."""

    __tablename__ = "contact_requests"
    __table_args__ = (
        Index("ix_contact_requests_profile_status", "profile_id", "status"),
        Index("ix_contact_requests_recipient_created", "recipient_id", "created_at"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    profile_id: Mapped[int] = mapped_column(ForeignKey("pa_profiles.id", ondelete="CASCADE"))
    recipient_id: Mapped[int] = mapped_column(ForeignKey("recipients.person_id"))
    requested_by_id: Mapped[int] = mapped_column(ForeignKey("users.id"), index=True)
    vacancy_id: Mapped[int | None] = mapped_column(ForeignKey("vacancies.id", ondelete="SET NULL"))
    message: Mapped[str] = mapped_column(Text, default="")
    status: Mapped[ContactStatus] = mapped_column(str_enum(ContactStatus, 20), default=ContactStatus.PENDING)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)
    answered_at: Mapped[datetime | None] = mapped_column(UTCDateTime())

    profile: Mapped[PAProfile] = relationship()
    recipient: Mapped["Recipient"] = relationship()  # noqa: F821
    requested_by: Mapped["User"] = relationship()  # noqa: F821
    vacancy: Mapped[Vacancy | None] = relationship()
    messages: Mapped[list["ContactMessage"]] = relationship(
        cascade="all, delete-orphan", order_by="ContactMessage.id", back_populates="contact"
    )


class ContactMessage(db.Model):
    __tablename__ = "contact_messages"

    id: Mapped[int] = mapped_column(primary_key=True)
    contact_id: Mapped[int] = mapped_column(ForeignKey("contact_requests.id", ondelete="CASCADE"), index=True)
    author_id: Mapped[int] = mapped_column(ForeignKey("users.id"))
    body: Mapped[str] = mapped_column(Text)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)

    contact: Mapped[ContactRequest] = relationship(back_populates="messages")
    author: Mapped["User"] = relationship()  # noqa: F821


class ContactBlock(db.Model):
    """A PA blocked a sender: no new requests from that user."""

    __tablename__ = "contact_blocks"

    profile_id: Mapped[int] = mapped_column(ForeignKey("pa_profiles.id", ondelete="CASCADE"), primary_key=True)
    blocked_user_id: Mapped[int] = mapped_column(ForeignKey("users.id"), primary_key=True)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)


class RegisterConcern(db.Model):
    """A PA's concern about a contact, for the DPSS supporting that recipient (or the council)."""

    __tablename__ = "register_concerns"

    id: Mapped[int] = mapped_column(primary_key=True)
    contact_id: Mapped[int | None] = mapped_column(ForeignKey("contact_requests.id", ondelete="SET NULL"))
    recipient_id: Mapped[int] = mapped_column(ForeignKey("recipients.person_id"), index=True)
    organisation_id: Mapped[int] = mapped_column(ForeignKey("organisations.id"), index=True)
    reported_by_id: Mapped[int | None] = mapped_column(ForeignKey("users.id", ondelete="SET NULL"))
    about_user_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
    body: Mapped[str] = mapped_column(Text)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)
    resolved_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
