"""Contact between the recipient's side and a PA, through the portal.

Someone who may manage a recipient (the person, a manage-level representative, their DPSS staff) asks a
listed PA to get in touch. The PA sees the asker's first name, the area and the message or vacancy, and
accepts or declines. Only after accepting do both see full names, phone numbers and email addresses:
the asker's own (David's, not Grace's, when David asked for Grace). Then they may write to each other.
"""

from dataclasses import dataclass
from datetime import timedelta

import sqlalchemy as sa

from portal.extensions import db
from portal.models import CaseloadEntry, Recipient, Role, User
from portal.models.register import (
    ContactBlock,
    ContactMessage,
    ContactRequest,
    ContactStatus,
    PAProfile,
    RegisterConcern,
    Vacancy,
)
from portal.services import notifications
from portal.services.clock import utcnow
from portal.services.contact_details import problems_in_text
from portal.services.register import RegisterError, record_contact, touch

REQUESTS_PER_DAY_PER_RECIPIENT = 20
REQUESTS_PER_DAY_PER_USER = 40  # staff recruit for many people, but not without limit
MESSAGE_LENGTH = 1000
LIMIT_MESSAGE = ("You have sent {limit} contact requests in the last 24 hours, which is the most allowed. "
                 "You can send more tomorrow. This limit stops the register being used for spam.")
BLOCKED_MESSAGE = "You cannot contact this PA through the portal"


def _recent_count(condition) -> int:
    since = utcnow() - timedelta(days=1)
    return db.session.scalar(sa.select(sa.func.count()).select_from(ContactRequest)
                             .where(condition, ContactRequest.created_at > since))


def _pa_user(profile: PAProfile) -> User | None:
    return db.session.scalar(sa.select(User).where(User.person_id == profile.person_id))


def send_request(profile: PAProfile, recipient: Recipient, user: User, message: str,
                 vacancy: Vacancy | None = None) -> ContactRequest:
    """Ask the PA to get in touch. The caller checked the user may manage the recipient and that the
    profile is listed. A waiting request for the same person and PA is returned, not repeated. Caller commits."""
    problems = []
    if not profile.listed:
        raise RegisterError([("message", "This PA is not on the register at the moment")])
    if len(message or "") > MESSAGE_LENGTH:
        problems.append(("message", f"Your message must be {MESSAGE_LENGTH} characters or fewer"))
    problems += [("message", m.replace("People contact you through the portal, and you share your", "Your")
                  .replace("when you accept", "is shared when the PA accepts")) for m in problems_in_text(message)]
    if vacancy is not None and vacancy.recipient_id != recipient.person_id:
        problems.append(("vacancy", "Select one of this person's vacancies"))
    if problems:
        raise RegisterError(problems)
    if db.session.get(ContactBlock, (profile.id, user.id)) is not None:
        raise RegisterError([("message", BLOCKED_MESSAGE)])
    waiting = db.session.scalar(sa.select(ContactRequest).where(
        ContactRequest.profile_id == profile.id, ContactRequest.recipient_id == recipient.person_id,
        ContactRequest.status == ContactStatus.PENDING))
    if waiting is not None:
        return waiting
    if _recent_count(ContactRequest.recipient_id == recipient.person_id) >= REQUESTS_PER_DAY_PER_RECIPIENT:
        raise RegisterError([("message", LIMIT_MESSAGE.format(limit=REQUESTS_PER_DAY_PER_RECIPIENT))])
    if _recent_count(ContactRequest.requested_by_id == user.id) >= REQUESTS_PER_DAY_PER_USER:
        raise RegisterError([("message", LIMIT_MESSAGE.format(limit=REQUESTS_PER_DAY_PER_USER))])
    contact = ContactRequest(profile_id=profile.id, recipient_id=recipient.person_id, requested_by_id=user.id,
                             vacancy_id=vacancy.id if vacancy else None, message=(message or "").strip())
    db.session.add(contact)
    db.session.flush()
    record_contact(profile.id)
    notifications.notify([_pa_user(profile)], f"contact:{contact.id}:sent",
                         f"{asker_first_name(contact)} would like you to get in touch about work in {recipient.district_code}.",
                         f"/register/contacts/{contact.id}")
    return contact


def answer(contact: ContactRequest, pa_user: User, accept: bool) -> bool:
    """The PA accepts or declines. False when it was already answered (a second click)."""
    if pa_user.person_id != contact.profile.person_id:
        raise PermissionError("Only the PA answers a contact request")
    status = ContactStatus.ACCEPTED if accept else ContactStatus.DECLINED
    changed = db.session.execute(
        sa.update(ContactRequest).where(ContactRequest.id == contact.id, ContactRequest.status == ContactStatus.PENDING)
        .values(status=status, answered_at=utcnow())
    ).rowcount
    db.session.refresh(contact)
    if not changed:
        return False
    touch(contact.profile)
    name = contact.profile.display_name
    words = (f"{name} accepted your contact request. You can now see their phone number and email."
             if accept else f"{name} is not able to take on this work.")
    notifications.notify([contact.requested_by], f"contact:{contact.id}:{status.value}", words, f"/register/contacts/{contact.id}")
    return True


def asker_first_name(contact: ContactRequest) -> str:
    """What the PA sees before accepting: the asker's first name (staff: their first name and organisation)."""
    user = contact.requested_by
    if user.role.is_staff:
        first = user.display_name.split()[0] if user.display_name else "Someone"
        return f"{first} from {user.organisation.name}"
    return user.person.given_name if user.person else user.display_name.split()[0]


@dataclass(frozen=True)
class Details:
    name: str
    phone: str
    email: str
    organisation: str = ""


def asker_details(contact: ContactRequest) -> Details | None:
    """The asker's full name, phone and email, for the PA, once accepted (None before)."""
    if contact.status != ContactStatus.ACCEPTED:
        return None
    user = contact.requested_by
    if user.role.is_staff:
        org = user.organisation
        return Details(user.display_name, org.phone if org else "", user.email, org.name if org else "")
    person = user.person
    return Details(person.full_name, person.phone, person.email or user.email)


def pa_details(contact: ContactRequest) -> Details | None:
    """The PA's full name, phone and email, for the recipient's side, once accepted (None before)."""
    if contact.status != ContactStatus.ACCEPTED:
        return None
    person = contact.profile.person
    user = _pa_user(contact.profile)
    return Details(person.full_name, person.phone, person.email or (user.email if user else ""))


def post_message(contact: ContactRequest, user: User, body: str) -> ContactMessage:
    """A message in the contact's thread, once the PA has accepted. Caller commits."""
    body = (body or "").strip()
    if contact.status != ContactStatus.ACCEPTED:
        raise RegisterError([("body", "You can write messages once the PA has accepted the contact request")])
    if not body:
        raise RegisterError([("body", "Enter a message")])
    if len(body) > MESSAGE_LENGTH:
        raise RegisterError([("body", f"Your message must be {MESSAGE_LENGTH} characters or fewer")])
    message = ContactMessage(contact_id=contact.id, author_id=user.id, body=body)
    db.session.add(message)
    db.session.flush()
    is_pa = user.person_id is not None and user.person_id == contact.profile.person_id
    other = contact.requested_by if is_pa else _pa_user(contact.profile)
    notifications.notify([other], f"contact:{contact.id}:message:{message.id}",
                         "You have a new message about a contact request on the PA register.", f"/register/contacts/{contact.id}")
    return message


def block(contact: ContactRequest, pa_user: User) -> None:
    """The PA blocks the asker: a waiting request is declined, and no new ones can be sent. Caller commits."""
    if pa_user.person_id != contact.profile.person_id:
        raise PermissionError("Only the PA blocks a sender")
    if db.session.get(ContactBlock, (contact.profile_id, contact.requested_by_id)) is None:
        db.session.add(ContactBlock(profile_id=contact.profile_id, blocked_user_id=contact.requested_by_id))
    db.session.execute(
        sa.update(ContactRequest).where(ContactRequest.profile_id == contact.profile_id,
                                        ContactRequest.requested_by_id == contact.requested_by_id,
                                        ContactRequest.status == ContactStatus.PENDING)
        .values(status=ContactStatus.DECLINED, answered_at=utcnow()))
    db.session.flush()
    db.session.refresh(contact)


def is_blocked(contact: ContactRequest) -> bool:
    return db.session.get(ContactBlock, (contact.profile_id, contact.requested_by_id)) is not None


def concern_organisation_id(recipient: Recipient) -> int:
    """Concerns go to the DPSS supporting the person, or to their council when no DPSS does."""
    provider = db.session.scalar(sa.select(CaseloadEntry.provider_id).where(CaseloadEntry.recipient_id == recipient.person_id))
    return provider or recipient.council_id


def report_concern(contact: ContactRequest, pa_user: User, body: str) -> RegisterConcern:
    """The PA reports a concern about a contact. It goes to the DPSS (or council) for the person. Caller commits."""
    if pa_user.person_id != contact.profile.person_id:
        raise PermissionError("Only the PA reports a concern about their contact")
    body = (body or "").strip()
    if not body:
        raise RegisterError([("body", "Describe your concern")])
    if len(body) > 3000:
        raise RegisterError([("body", "Your concern must be 3,000 characters or fewer")])
    organisation_id = concern_organisation_id(contact.recipient)
    concern = RegisterConcern(contact_id=contact.id, recipient_id=contact.recipient_id, organisation_id=organisation_id,
                              reported_by_id=pa_user.id, about_user_id=contact.requested_by_id, body=body)
    db.session.add(concern)
    db.session.flush()
    entry = db.session.scalar(sa.select(CaseloadEntry).where(CaseloadEntry.recipient_id == contact.recipient_id))
    staff_query = sa.select(User).where(User.organisation_id == organisation_id, User.disabled_at.is_(None))
    if entry is not None:
        staff_query = staff_query.where(sa.or_(User.id == entry.caseworker_id, User.role == Role.DPSS_MANAGER))
    else:
        staff_query = staff_query.where(User.role == Role.COUNCIL_OFFICER)
    notifications.notify(db.session.scalars(staff_query).all(), f"register-concern:{concern.id}",
                         f"A PA reported a concern about a contact request made for {contact.recipient.full_name}.",
                         f"/people/{contact.recipient_id}")
    return concern


def thread(contact: ContactRequest) -> list[ContactMessage]:
    return list(db.session.scalars(sa.select(ContactMessage).where(ContactMessage.contact_id == contact.id)
                                   .order_by(ContactMessage.id)))
