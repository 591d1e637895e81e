"""Small factories and look-ups for tests (the demo personas are the usual cast)."""

import re

import sqlalchemy as sa

from portal.extensions import db
from portal.models import Person, User
from portal.services import mail


def person_id(app, given: str, family: str) -> int:
    with app.app_context():
        return db.session.scalar(sa.select(Person.id).where(Person.given_name == given, Person.family_name == family))


def user_by_email(app, email: str) -> User:
    with app.app_context():
        user = db.session.scalar(sa.select(User).where(User.email == email))
        db.session.expunge(user)
        return user


def last_link_sent_to(email: str) -> str:
    """The set-password link in the newest email to this address (email goes to the log in tests)."""
    for message in reversed(mail.OUTBOX):
        if message["To"] == email:
            match = re.search(r"https?://[^\s]+(/set-password/[^\s]+)", message.get_content())
            assert match, "no link in the email"
            return match.group(1)
    raise AssertionError(f"no email was sent to {email}")
