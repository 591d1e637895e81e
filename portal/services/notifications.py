"""Notifications: a row per user and event in the portal, and an email for each.

notify() only adds rows inside the caller's transaction (the key makes it idempotent: the same event
never reaches the same person twice); deliver_pending() emails what has not been emailed, after the
commit, so a rolled-back action sends nothing.
"""

from collections.abc import Iterable

import sqlalchemy as sa

from portal.extensions import db
from portal.models import Notification, User
from portal.services import mail
from portal.services.clock import utcnow


def notify(users: Iterable[User], key: str, message: str, link: str = "") -> int:
    """Add a notification for each user who has not had this one. Returns how many were added."""
    added = 0
    for user in {u.id: u for u in users if u is not None and u.disabled_at is None}.values():
        exists = db.session.scalar(sa.select(Notification.id).where(Notification.user_id == user.id, Notification.key == key))
        if exists is None:
            db.session.add(Notification(user_id=user.id, key=key, message=message[:300], link=link[:200]))
            added += 1
    db.session.flush()
    return added


def deliver_pending(config: dict, limit: int = 500) -> int:
    """Email notifications not yet emailed, marking each as it goes (a crash repeats at most one)."""
    sent = 0
    rows = db.session.execute(
        sa.select(Notification, User).join(User, User.id == Notification.user_id)
        .where(Notification.emailed.is_(False)).order_by(Notification.id).limit(limit)
    ).all()
    for note, user in rows:
        link = f"\n\n{config.get('PUBLIC_URL', '').rstrip('/')}{note.link}" if note.link else ""
        mail.send(config, user.email, "Direct payments: " + note.message[:80], f"Hello {user.display_name},\n\n{note.message}{link}\n")
        note.emailed = True
        db.session.commit()
        sent += 1
    return sent


def unread_count(user: User) -> int:
    return db.session.scalar(
        sa.select(sa.func.count()).select_from(Notification).where(Notification.user_id == user.id, Notification.read_at.is_(None))
    ) or 0


def recent(user: User, limit: int = 50) -> list[Notification]:
    return list(db.session.scalars(
        sa.select(Notification).where(Notification.user_id == user.id).order_by(Notification.created_at.desc(), Notification.id.desc()).limit(limit)
    ))


def mark_all_read(user: User) -> None:
    db.session.execute(
        sa.update(Notification).where(Notification.user_id == user.id, Notification.read_at.is_(None)).values(read_at=utcnow())
    )
