"""Staff views of their caseload, and inviting people to create an account."""

import sqlalchemy as sa
from flask import Blueprint, abort, current_app, flash, redirect, render_template, request, url_for
from flask_login import current_user
from sqlalchemy.orm import selectinload

from portal.access import CASE_STAFF, capacity_caption, count_visible_recipients, recipient_or_404, requires, visible_recipients
from portal.extensions import db
from portal.models import Person, Recipient
from portal.services import accounts
from portal.web.caseload.forms import InvitationForm
from portal.web.helpers import audit

bp = Blueprint("caseload", __name__)

PAGE_SIZE = 50


@bp.get("/caseload")
@requires(*CASE_STAFF)
def index():
    """The people this member of staff may see, alphabetically, 50 to a page (keyset on name and id)."""
    user = current_user._get_current_object()
    query = (
        visible_recipients(user)
        .join(Person, Person.id == Recipient.person_id)
        .options(selectinload(Recipient.person), selectinload(Recipient.caseload_entry))
        .order_by(Person.family_name, Person.given_name, Person.id)
    )
    after = request.args.get("after", type=int)
    if after:
        anchor = db.session.get(Person, after)
        if anchor is not None:
            key = (anchor.family_name, anchor.given_name, anchor.id)
            query = query.where(sa.tuple_(Person.family_name, Person.given_name, Person.id) > key)
    recipients = db.session.scalars(query.limit(PAGE_SIZE + 1)).all()
    more = len(recipients) > PAGE_SIZE
    recipients = recipients[:PAGE_SIZE]
    total = count_visible_recipients(user)
    return render_template("caseload/index.html", recipients=recipients, more=more, total=total)


@bp.route("/people/<int:person_id>/invite", methods=["GET", "POST"])
@requires(*CASE_STAFF)
def invite(person_id: int):
    recipient = recipient_or_404(person_id)
    candidates = accounts.people_without_accounts(recipient)
    form = InvitationForm()
    form.person.choices = [(str(c.person.id), f"{c.person.full_name} ({c.description})") for c in candidates]
    if not candidates:
        return render_template(
            "caseload/invite.html", recipient=recipient, form=form, candidates=candidates,
            caption=capacity_caption(current_user, recipient),
        )
    if form.validate_on_submit():
        chosen = next((c for c in candidates if str(c.person.id) == form.person.data), None)
        if chosen is None:
            abort(400)
        email = form.email.data.strip().lower()
        if accounts.email_in_use(email):
            form.email.errors.append("There is already an account with that email address")
        else:
            user, token = accounts.invite_person(chosen, email, current_app.config["INVITATION_DAYS"])
            audit("invitation.sent", record_type="user", record_id=user.id, acting_for_id=recipient.person_id)
            db.session.commit()
            days = current_app.config["INVITATION_DAYS"]
            link = url_for("auth.set_password", token=token, _external=True)
            accounts.send_invitation(current_app.config, user, link, days)
            flash(f"We have sent an invitation to {email}.", "success")
            return redirect(url_for("recipient.overview", person_id=recipient.person_id))
    return render_template(
        "caseload/invite.html", recipient=recipient, form=form, candidates=candidates,
        caption=capacity_caption(current_user, recipient),
    )
