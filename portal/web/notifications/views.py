"""Everyone's own notifications: what happened to their timesheets, reminders, and marking them read."""

from datetime import datetime

import sqlalchemy as sa
from flask import Blueprint, abort, flash, redirect, render_template, request, url_for
from flask_login import current_user

from portal.access import SIGNED_IN, requires
from portal.extensions import db
from portal.models import Notification
from portal.services import notifications
from portal.web.helpers import audit, safe_next_url

bp = Blueprint("notifications", __name__)

PAGE_SIZE = 50


@bp.get("/notifications")
@requires(SIGNED_IN)
def index():
    """The user's notifications, newest first, 50 to a page (keyset: older than a time and id)."""
    query = sa.select(Notification).where(Notification.user_id == current_user.id)
    before = request.args.get("before", "")
    if before:
        moment, _, note_id = before.rpartition("_")
        try:
            key = (datetime.fromisoformat(moment), int(note_id))
        except ValueError:
            abort(400)
        query = query.where(sa.tuple_(Notification.created_at, Notification.id) < key)
    rows = db.session.scalars(
        query.order_by(Notification.created_at.desc(), Notification.id.desc()).limit(PAGE_SIZE + 1)).all()
    more = len(rows) > PAGE_SIZE
    rows = rows[:PAGE_SIZE]
    older = f"{rows[-1].created_at.isoformat()}_{rows[-1].id}" if more else None
    return render_template(
        "notifications/index.html", rows=rows, older=older, first_page=not before,
        unread=notifications.unread_count(current_user), link_of=lambda note: safe_next_url(note.link),
    )


@bp.post("/notifications/read")
@requires(SIGNED_IN)
def mark_read():
    notifications.mark_all_read(current_user)
    audit("notifications.read", record_type="user", record_id=current_user.id)
    db.session.commit()
    flash("All your notifications are marked as read.", "success")
    return redirect(url_for("notifications.index"))
