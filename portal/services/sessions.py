"""Server-side sessions: the cookie carries a random id; this table says whether it still counts."""

import secrets
from datetime import timedelta

import sqlalchemy as sa

from portal.extensions import db
from portal.models import User, UserSession
from portal.services.clock import utcnow

# Writing last_seen_at on every request would make every page a write; a minute's grain is enough
# for a 30-minute idle timeout.
TOUCH_EVERY = timedelta(seconds=60)


def start_session(user: User) -> UserSession:
    row = UserSession(id=secrets.token_urlsafe(32), user_id=user.id)
    db.session.add(row)
    db.session.flush()
    user.current_session_id = row.id
    return row


def load_session(session_id: str, idle_minutes: int) -> tuple[User | None, str | None]:
    """The user a session id signs in, or (None, reason) if it has ended, idled out or is unknown."""
    row = db.session.get(UserSession, session_id)
    if row is None:
        return None, "unknown"
    if row.ended_at is not None:
        return None, row.ended_reason or "ended"
    now = utcnow()
    if now - row.last_seen_at > timedelta(minutes=idle_minutes):
        end_session(row, "idle")
        db.session.commit()
        return None, "idle"
    user = row.user
    if not user.is_active:
        return None, "disabled"
    if now - row.last_seen_at > TOUCH_EVERY:
        row.last_seen_at = now
        db.session.commit()
    user.current_session_id = row.id
    return user, None


def end_session(row: UserSession, reason: str) -> None:
    if row.ended_at is None:
        row.ended_at = utcnow()
        row.ended_reason = reason


def end_session_by_id(session_id: str | None, reason: str) -> None:
    if session_id:
        row = db.session.get(UserSession, session_id)
        if row is not None:
            end_session(row, reason)


def end_all_sessions(user: User, reason: str) -> int:
    """End every open session of a user (password change, disabling): replayed cookies stop working."""
    result = db.session.execute(
        sa.update(UserSession)
        .where(UserSession.user_id == user.id, UserSession.ended_at.is_(None))
        .values(ended_at=utcnow(), ended_reason=reason)
    )
    return result.rowcount or 0
