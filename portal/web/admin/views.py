"""The administrator's pages: organisations, accounts, throttles, the audit log and content.

Administrators manage accounts but see no one's money, plan, evidence, timesheets or case notes.
"""

from datetime import timedelta

import sqlalchemy as sa
from flask import Blueprint, abort, current_app, flash, redirect, render_template, request, url_for
from flask_login import current_user

from portal.access import ADMINISTRATOR, requires
from portal.extensions import db
from portal.models import AuditEvent, Organisation, OrganisationKind, Role, User
from portal.services import accounts, content, throttle
from portal.web.admin.forms import ActionForm, ContentForm, LiftThrottleForm, OrganisationForm, StaffInvitationForm
from portal.web.helpers import audit

bp = Blueprint("admin", __name__, url_prefix="/admin")
AUDIT_PAGE = 100


@bp.get("")
@requires(ADMINISTRATOR)
def index():
    return render_template("admin/index.html")


@bp.get("/users")
@requires(ADMINISTRATOR)
def users():
    query = sa.select(User).order_by(User.email)
    role = request.args.get("role", "")
    search = request.args.get("q", "").strip().lower()
    if role in {r.value for r in Role}:
        query = query.where(User.role == Role(role))
    if search:
        query = query.where(User.email.contains(search))
    return render_template("admin/users.html", users=db.session.scalars(query.limit(500)).all(), role=role, q=search, roles=list(Role))


def _user_or_404(user_id: int) -> User:
    user = db.session.get(User, user_id)
    if user is None:
        abort(404)
    return user


@bp.get("/users/<int:user_id>")
@requires(ADMINISTRATOR)
def user(user_id: int):
    return render_template("admin/user.html", user=_user_or_404(user_id), form=ActionForm())


@bp.post("/users/<int:user_id>/disable")
@requires(ADMINISTRATOR)
def disable_user(user_id: int):
    user = _user_or_404(user_id)
    if ActionForm().validate_on_submit():
        if user.id == current_user.id:
            flash("You cannot disable your own account.", "error")
        else:
            accounts.disable(user)
            audit("account.disabled", record_type="user", record_id=user.id)
            db.session.commit()
            flash(f"{user.email} has been disabled and signed out.", "success")
    return redirect(url_for("admin.user", user_id=user.id))


@bp.post("/users/<int:user_id>/enable")
@requires(ADMINISTRATOR)
def enable_user(user_id: int):
    user = _user_or_404(user_id)
    if ActionForm().validate_on_submit():
        accounts.enable(user)
        audit("account.enabled", record_type="user", record_id=user.id)
        db.session.commit()
        flash(f"{user.email} can sign in again.", "success")
    return redirect(url_for("admin.user", user_id=user.id))


@bp.post("/users/<int:user_id>/reset-authenticator")
@requires(ADMINISTRATOR)
def reset_authenticator(user_id: int):
    user = _user_or_404(user_id)
    if ActionForm().validate_on_submit():
        accounts.reset_authenticator(user)
        audit("mfa.reset", record_type="user", record_id=user.id)
        db.session.commit()
        flash(f"{user.email} will set up a new authenticator app when they next sign in.", "success")
    return redirect(url_for("admin.user", user_id=user.id))


@bp.route("/users/new", methods=["GET", "POST"])
@requires(ADMINISTRATOR)
def invite_staff():
    form = StaffInvitationForm()
    organisations = db.session.scalars(sa.select(Organisation).order_by(Organisation.name)).all()
    form.organisation.choices = [("", "None (administrators)")] + [(str(o.id), o.name) for o in organisations]
    if form.validate_on_submit():
        role = Role(form.role.data)
        organisation = db.session.get(Organisation, int(form.organisation.data)) if form.organisation.data else None
        email = form.email.data.strip().lower()
        if accounts.email_in_use(email):
            form.email.errors.append("There is already an account with that email address")
        elif role.is_dpss and (organisation is None or organisation.kind != OrganisationKind.DPSS):
            form.organisation.errors.append("Select the DPSS provider they work for")
        elif role == Role.COUNCIL_OFFICER and (organisation is None or organisation.kind != OrganisationKind.COUNCIL):
            form.organisation.errors.append("Select the council they work for")
        elif role == Role.ADMINISTRATOR and organisation is not None:
            form.organisation.errors.append("Administrators do not belong to an organisation: select None")
        else:
            days = current_app.config["INVITATION_DAYS"]
            user, token = accounts.invite_staff(email, form.name.data, role, organisation, form.payroll.data, days)
            audit("invitation.sent", record_type="user", record_id=user.id)
            db.session.commit()
            accounts.send_invitation(current_app.config, user, url_for("auth.set_password", token=token, _external=True), days)
            flash(f"We have sent an invitation to {email}.", "success")
            return redirect(url_for("admin.user", user_id=user.id))
    return render_template("admin/invite_staff.html", form=form)


@bp.get("/organisations")
@requires(ADMINISTRATOR)
def organisations():
    rows = db.session.scalars(sa.select(Organisation).order_by(Organisation.kind, Organisation.name)).all()
    return render_template("admin/organisations.html", organisations=rows)


@bp.route("/organisations/new", methods=["GET", "POST"])
@requires(ADMINISTRATOR)
def new_organisation():
    form = OrganisationForm()
    if form.validate_on_submit():
        name = form.name.data.strip()
        if db.session.scalar(sa.select(Organisation.id).where(Organisation.name == name)):
            form.name.errors.append("There is already an organisation with that name")
        else:
            organisation = Organisation(
                name=name, kind=OrganisationKind(form.kind.data), phone=form.phone.data or "", email=form.email.data or ""
            )
            db.session.add(organisation)
            db.session.flush()
            audit("organisation.created", record_type="organisation", record_id=organisation.id)
            db.session.commit()
            flash(f"{name} has been added.", "success")
            return redirect(url_for("admin.organisations"))
    return render_template("admin/new_organisation.html", form=form)


def _limits():
    cfg = current_app.config
    return throttle.ThrottleLimits(
        timedelta(minutes=cfg["THROTTLE_WINDOW_MINUTES"]), cfg["THROTTLE_ACCOUNT_FAILURES"], cfg["THROTTLE_ADDRESS_FAILURES"]
    )


@bp.get("/throttles")
@requires(ADMINISTRATOR)
def throttles():
    return render_template("admin/throttles.html", rows=throttle.currently_throttled(_limits()), form=LiftThrottleForm())


@bp.post("/throttles/lift")
@requires(ADMINISTRATOR)
def lift_throttle():
    form = LiftThrottleForm()
    if not form.validate_on_submit() or form.kind.data not in ("account", "address"):
        abort(400)
    if form.kind.data == "account":
        throttle.lift(email=form.value.data)
        target = db.session.scalar(sa.select(User.id).where(User.email == form.value.data))
        audit("throttle.lifted", record_type="user", record_id=target, outcome="account")
    else:
        throttle.lift(address=form.value.data)
        audit("throttle.lifted", record_type="address", outcome="address")
    db.session.commit()
    flash("The limit has been lifted. They can try to sign in again.", "success")
    return redirect(url_for("admin.throttles"))


@bp.get("/audit")
@requires(ADMINISTRATOR)
def audit_log():
    query = sa.select(AuditEvent).order_by(AuditEvent.id.desc())
    action = request.args.get("action", "").strip()
    user_id = request.args.get("user", type=int)
    before = request.args.get("before", type=int)
    if action:
        query = query.where(AuditEvent.action.startswith(action))
    if user_id:
        query = query.where(AuditEvent.user_id == user_id)
    if before:
        query = query.where(AuditEvent.id < before)
    events = db.session.scalars(query.limit(AUDIT_PAGE + 1)).all()
    more = len(events) > AUDIT_PAGE
    events = events[:AUDIT_PAGE]
    return render_template("admin/audit.html", events=events, more=more, action=action, user_id=user_id or "")


@bp.get("/content")
@requires(ADMINISTRATOR)
def content_pages():
    pages = content.guide_pages() + [p for p in (content.page(s) for s in sorted(content.STANDALONE)) if p]
    return render_template("admin/content.html", pages=pages)


@bp.route("/content/<slug>", methods=["GET", "POST"])
@requires(ADMINISTRATOR)
def edit_content(slug: str):
    page = content.page(slug)
    if page is None:
        abort(404)
    # Filled from the page only when showing it: a POST missing a field must fail, not keep the old text.
    form = ContentForm(obj=page) if request.method == "GET" else ContentForm()
    if form.validate_on_submit():
        content.update(page, form.title.data, form.summary.data or "", form.body.data, current_user.id)
        audit("content.changed", record_type="content_page", record_id=page.id)
        db.session.commit()
        flash(f"“{page.title}” has been saved.", "success")
        return redirect(url_for("admin.content_pages"))
    return render_template("admin/edit_content.html", form=form, page=page)
