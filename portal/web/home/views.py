"""The home page: a hub for each role."""

from flask import Blueprint, redirect, render_template, url_for
from flask_login import current_user

import sqlalchemy as sa

from portal.access import (
    SIGNED_IN,
    active_links_for,
    count_visible_recipients,
    own_profile,
    requires,
    verification_requests,
    visible_contacts,
    visible_employments,
)
from portal.extensions import db
from portal.models import Role
from portal.models.register import ContactRequest, ContactStatus, VerificationRequest
from portal.services import register_search
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
        profile = own_profile(user)
        waiting = db.session.scalar(sa.select(sa.func.count()).select_from(
            visible_contacts(user).where(ContactRequest.status == ContactStatus.PENDING).subquery()))
        matches = register_search.vacancies_for_pa(profile, page_size=5)[0] if profile is not None else []
        return render_template("home/pa.html", employments=employments, profile=profile, waiting_contacts=waiting,
                               vacancy_matches=matches)
    if role == Role.ADMINISTRATOR:
        return redirect(url_for("admin.index"))
    count = count_visible_recipients(user)
    checks_to_verify = db.session.scalar(sa.select(sa.func.count()).select_from(
        verification_requests(user).where(VerificationRequest.answered_at.is_(None)).subquery())) if role.is_dpss else 0
    return render_template("home/staff.html", caseload_count=count, checks_to_verify=checks_to_verify)
