"""Single-use link tokens for password resets and invitations. Only a hash is stored."""

import hashlib
import secrets
from datetime import timedelta

import sqlalchemy as sa

from portal.extensions import db
from portal.models import OneTimeToken, User
from portal.models.accounts import TokenPurpose
from portal.services.clock import utcnow


def _hash(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


def issue(user: User, purpose: TokenPurpose, lifetime: timedelta) -> str:
    """Make a token; any earlier unused token of the same purpose for this user stops working."""
    now = utcnow()
    db.session.execute(
        sa.update(OneTimeToken)
        .where(OneTimeToken.user_id == user.id, OneTimeToken.purpose == purpose, OneTimeToken.used_at.is_(None))
        .values(used_at=now)
    )
    token = secrets.token_urlsafe(32)
    db.session.add(OneTimeToken(token_hash=_hash(token), user_id=user.id, purpose=purpose, expires_at=now + lifetime))
    db.session.flush()
    return token


def find_usable(token: str) -> OneTimeToken | None:
    """The unused, unexpired token row, or None."""
    row = db.session.scalar(sa.select(OneTimeToken).where(OneTimeToken.token_hash == _hash(token)))
    if row is None or row.used_at is not None or row.expires_at <= utcnow():
        return None
    return row


def spend(row: OneTimeToken) -> bool:
    """Mark the token used. False if another request spent it first (the UPDATE is the lock)."""
    result = db.session.execute(
        sa.update(OneTimeToken)
        .where(OneTimeToken.id == row.id, OneTimeToken.used_at.is_(None))
        .values(used_at=utcnow())
    )
    return result.rowcount == 1
