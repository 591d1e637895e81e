"""The home page: a hub for each role."""

from flask import Blueprint, redirect, render_template, url_for
from flask_login import current_user

from portal.access import SIGNED_IN, active_links_for, count_visible_recipients, requires, visible_employments
from portal.extensions import db
from portal.models import Role
from portal.services.contacts import contacts_for

bp = Blueprint("home", __name__)


@bp.get("/home")
@requires(SIGNED_IN)
def index():
    user = current_user._get_current_object()
    role = user.role
    if role == Role.RECIPIENT:
        recipient = user.person.recipient
        if recipient is None:
            return render_template("home/no_record.html")
        return render_template("home/recipient.html", recipient=recipient, contacts=contacts_for(recipient))
    if role == Role.REPRESENTATIVE:
        return render_template("home/representative.html", links=active_links_for(user))
    if role == Role.PA:
        employments = db.session.scalars(visible_employments(user)).all()
        return render_template("home/pa.html", employments=employments)
    if role == Role.ADMINISTRATOR:
        return redirect(url_for("admin.index"))
    count = count_visible_recipients(user)
    return render_template("home/staff.html", caseload_count=count)
