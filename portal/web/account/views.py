"""The signed-in person's own account: password and authenticator."""

from flask import Blueprint, current_app, flash, redirect, render_template, session, url_for
from flask_login import current_user, login_user

from portal.access import SIGNED_IN, requires
from portal.extensions import db
from portal.services import mfa, passwords, sessions
from portal.web.account.forms import ChangePasswordForm
from portal.web.auth.forms import CodeForm
from portal.web.helpers import audit

bp = Blueprint("account", __name__, url_prefix="/account")


@bp.get("")
@requires(SIGNED_IN)
def index():
    return render_template("account/index.html")


@bp.route("/password", methods=["GET", "POST"])
@requires(SIGNED_IN)
def change_password():
    form = ChangePasswordForm()
    user = current_user._get_current_object()
    if form.validate_on_submit():
        if not passwords.verify_password(user.password_hash, form.current_password.data):
            form.current_password.errors.append("Your current password is not right")
        elif problem := passwords.password_problem(form.password.data):
            form.password.errors.append(problem)
        else:
            cfg = current_app.config
            user.password_hash = passwords.hash_password(
                form.password.data, cfg["ARGON2_TIME_COST"], cfg["ARGON2_MEMORY_COST"]
            )
            # End every session, this one included, then sign this browser in afresh.
            sessions.end_all_sessions(user, "password_changed")
            audit("password.changed", user=user, record_type="user", record_id=user.id)
            session.clear()
            sessions.start_session(user)
            login_user(user)
            db.session.commit()
            flash("Your password has been changed. You have been signed out everywhere else.", "success")
            return redirect(url_for("account.index"))
    return render_template("account/change_password.html", form=form)


@bp.route("/authenticator", methods=["GET", "POST"])
@requires(SIGNED_IN)
def authenticator():
    """Set up an authenticator app (optional for recipients, representatives and PAs)."""
    user = current_user._get_current_object()
    if user.has_authenticator:
        return render_template("account/authenticator_done.html")
    secret = session.get("pending_totp_secret") or mfa.new_secret()
    session["pending_totp_secret"] = secret
    form = CodeForm()
    if form.validate_on_submit():
        if mfa.accept_code(user, form.code.data, secret=secret):
            user.totp_secret = secret
            session.pop("pending_totp_secret", None)
            audit("mfa.set_up", user=user, record_type="user", record_id=user.id)
            db.session.commit()
            flash("Your authenticator app is set up. You will be asked for a code when you sign in.", "success")
            return redirect(url_for("account.index"))
        form.code.errors.append("The code is not right. Enter the code your app shows now")
    uri = mfa.provisioning_uri(secret, user.email)
    return render_template("account/authenticator.html", form=form, secret=secret, qr_svg=mfa.qr_svg(uri))
