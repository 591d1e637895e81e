"""User accounts, their server-side sessions, one-time tokens and sign-in failures."""

import enum
from datetime import datetime

from flask_login import UserMixin
from sqlalchemy import Boolean, Enum, ForeignKey, Integer, String
from sqlalchemy.orm import Mapped, mapped_column, relationship

from portal.extensions import db
from portal.models.base import UTCDateTime, utcnow
from portal.models.organisations import Organisation
from portal.models.people import Person


class Role(enum.StrEnum):
    RECIPIENT = "recipient"
    REPRESENTATIVE = "representative"
    PA = "pa"
    DPSS_CASEWORKER = "dpss_caseworker"
    DPSS_MANAGER = "dpss_manager"
    COUNCIL_OFFICER = "council_officer"
    ADMINISTRATOR = "administrator"

    @property
    def label(self) -> str:
        return ROLE_LABELS[self]

    @property
    def is_staff(self) -> bool:
        return self in STAFF_ROLES

    @property
    def is_dpss(self) -> bool:
        return self in (Role.DPSS_CASEWORKER, Role.DPSS_MANAGER)


ROLE_LABELS = {
    Role.RECIPIENT: "Recipient",
    Role.REPRESENTATIVE: "Representative",
    Role.PA: "Personal assistant",
    Role.DPSS_CASEWORKER: "DPSS caseworker",
    Role.DPSS_MANAGER: "DPSS manager",
    Role.COUNCIL_OFFICER: "Council officer",
    Role.ADMINISTRATOR: "Administrator",
}
STAFF_ROLES = frozenset({Role.DPSS_CASEWORKER, Role.DPSS_MANAGER, Role.COUNCIL_OFFICER, Role.ADMINISTRATOR})
PERSON_ROLES = frozenset({Role.RECIPIENT, Role.REPRESENTATIVE, Role.PA})


class User(UserMixin, db.Model):
    __tablename__ = "users"

    id: Mapped[int] = mapped_column(primary_key=True)
    email: Mapped[str] = mapped_column(String(200), unique=True)
    display_name: Mapped[str] = mapped_column(String(200))
    role: Mapped[Role] = mapped_column(
        Enum(Role, native_enum=False, length=30, values_callable=lambda e: [m.value for m in e])
    )
    # Recipients, representatives and PAs are people; staff belong to an organisation.
    person_id: Mapped[int | None] = mapped_column(ForeignKey("people.id"), unique=True)
    organisation_id: Mapped[int | None] = mapped_column(ForeignKey("organisations.id"), index=True)
    payroll_permission: Mapped[bool] = mapped_column(Boolean, default=False)
    password_hash: Mapped[str | None] = mapped_column(String(200))
    totp_secret: Mapped[str | None] = mapped_column(String(64))
    # The last authenticator time-step accepted, so a code works once per account.
    totp_last_step: Mapped[int] = mapped_column(Integer, default=0)
    disabled_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    created_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)

    person: Mapped[Person | None] = relationship()
    organisation: Mapped[Organisation | None] = relationship()

    # Set by the user loader: the server-side session this request is signed in with.
    current_session_id = None  # str | None, per instance

    def get_id(self) -> str | None:
        # Flask-Login stores this in the signed cookie: the session id, never the user id,
        # so ending the session row on the server ends the cookie everywhere.
        return self.current_session_id

    @property
    def is_active(self) -> bool:
        return self.disabled_at is None

    @property
    def is_staff(self) -> bool:
        return self.role.is_staff

    @property
    def has_authenticator(self) -> bool:
        return bool(self.totp_secret)

    def __repr__(self) -> str:
        return f"<User {self.id} {self.role}>"


class UserSession(db.Model):
    """A signed-in session. The cookie holds only its random id."""

    __tablename__ = "user_sessions"

    id: Mapped[str] = mapped_column(String(64), primary_key=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id"), index=True)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)
    last_seen_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)
    ended_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    ended_reason: Mapped[str | None] = mapped_column(String(40))

    user: Mapped[User] = relationship()


class TokenPurpose(enum.StrEnum):
    PASSWORD_RESET = "password_reset"
    INVITATION = "invitation"


class OneTimeToken(db.Model):
    """A single-use link token. Only its SHA-256 hash is stored."""

    __tablename__ = "one_time_tokens"

    id: Mapped[int] = mapped_column(primary_key=True)
    token_hash: Mapped[str] = mapped_column(String(64), unique=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id"), index=True)
    purpose: Mapped[TokenPurpose] = mapped_column(
        Enum(TokenPurpose, native_enum=False, length=20, values_callable=lambda e: [m.value for m in e])
    )
    created_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)
    expires_at: Mapped[datetime] = mapped_column(UTCDateTime())
    used_at: Mapped[datetime | None] = mapped_column(UTCDateTime())

    user: Mapped[User] = relationship()


class SignInFailure(db.Model):
    """A failed sign-in attempt. Throttling counts these, so every process sees the same count."""

    __tablename__ = "sign_in_failures"

    id: Mapped[int] = mapped_column(primary_key=True)
    email: Mapped[str] = mapped_column(String(200), index=True)
    address: Mapped[str] = mapped_column(String(64), index=True)
    at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow, index=True)
    # An administrator lifting a throttle clears the failures that caused it.
    cleared_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
