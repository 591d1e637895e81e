"""Creating accounts by invitation, and the administrator's account actions."""

from dataclasses import dataclass
from datetime import timedelta

import sqlalchemy as sa

from portal.extensions import db
from portal.models import Employment, Organisation, Person, Recipient, RepresentativeLink, Role, User
from portal.models.accounts import TokenPurpose
from portal.services import mail, sessions, tokens
from portal.services.clock import london_today, utcnow


@dataclass(frozen=True)
class Candidate:
    """Someone connected to a recipient who has no account yet."""

    person: Person
    role: Role
    description: str


def email_in_use(email: str) -> bool:
    return db.session.scalar(sa.select(User.id).where(User.email == email.strip().lower())) is not None


def _has_account(person_id: int) -> bool:
    return db.session.scalar(sa.select(User.id).where(User.person_id == person_id)) is not None


def people_without_accounts(recipient: Recipient) -> list[Candidate]:
    """The recipient, their current representatives and their current PAs, where they have no account."""
    today = london_today()
    found: list[Candidate] = []
    if not _has_account(recipient.person_id):
        found.append(Candidate(recipient.person, Role.RECIPIENT, "the person with the direct payment"))
    links = db.session.scalars(
        sa.select(RepresentativeLink).where(RepresentativeLink.recipient_id == recipient.person_id)
    )
    for link in links:
        if link.is_active_on(today) and not _has_account(link.representative_id):
            found.append(Candidate(link.representative, Role.REPRESENTATIVE, link.kind.value))
    jobs = db.session.scalars(sa.select(Employment).where(Employment.employer_id == recipient.person_id))
    for job in jobs:
        if job.is_active_on(today) and not _has_account(job.pa_id):
            found.append(Candidate(job.pa, Role.PA, "personal assistant"))
    return found


def invite_person(candidate: Candidate, email: str, days: int) -> tuple[User, str]:
    """Create the account (no password yet) and a single-use link to set one."""
    user = User(
        email=email.strip().lower(),
        display_name=candidate.person.full_name,
        role=candidate.role,
        person_id=candidate.person.id,
    )
    db.session.add(user)
    db.session.flush()
    return user, tokens.issue(user, TokenPurpose.INVITATION, timedelta(days=days))


def invite_staff(
    email: str, name: str, role: Role, organisation: Organisation | None, payroll: bool, days: int
) -> tuple[User, str]:
    if not role.is_staff:
        raise ValueError("Staff invitations are for DPSS, council and administrator roles")
    user = User(
        email=email.strip().lower(),
        display_name=name.strip(),
        role=role,
        organisation_id=organisation.id if organisation else None,
        payroll_permission=payroll and role.is_dpss,
    )
    db.session.add(user)
    db.session.flush()
    return user, tokens.issue(user, TokenPurpose.INVITATION, timedelta(days=days))


def send_invitation(config: dict, user: User, link: str, days: int) -> None:
    mail.send(
        config,
        user.email,
        "You have been invited to the direct payments service",
        f"Hello {user.display_name},\n\nYou have been invited to use the direct payments service. "
        f"Use this link to set your password. It works once, for {days} days:\n\n{link}\n",
    )


def disable(user: User) -> None:
    user.disabled_at = utcnow()
    sessions.end_all_sessions(user, "disabled")


def enable(user: User) -> None:
    user.disabled_at = None


def reset_authenticator(user: User) -> None:
    """The person sets up a new authenticator at their next sign-in; their sessions end now."""
    user.totp_secret = None
    user.totp_last_step = 0
    sessions.end_all_sessions(user, "authenticator_reset")
