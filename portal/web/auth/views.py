"""Signing in and out, authenticator codes, password resets and invitation links."""

from datetime import timedelta

import sqlalchemy as sa
from flask import Blueprint, current_app, flash, redirect, render_template, request, session, url_for
from flask_login import current_user, login_user, logout_user

from portal.access import SIGNED_IN, public, requires
from portal.extensions import db
from portal.models import User
from portal.models.accounts import TokenPurpose
from portal.services import mail, mfa, passwords, sessions, throttle, tokens
from portal.services.clock import utcnow
from portal.web.auth.forms import CodeForm, ForgotPasswordForm, SetPasswordForm, SignInForm
from portal.web.helpers import audit, client_address, safe_next_url

bp = Blueprint("auth", __name__)

PENDING_MINUTES = 10
BAD_CREDENTIALS = "Enter a correct email address and password"


def _limits() -> throttle.ThrottleLimits:
    cfg = current_app.config
    return throttle.ThrottleLimits(
        window=timedelta(minutes=cfg["THROTTLE_WINDOW_MINUTES"]),
        account_failures=cfg["THROTTLE_ACCOUNT_FAILURES"],
        address_failures=cfg["THROTTLE_ADDRESS_FAILURES"],
    )


def _throttled_message(refusal: throttle.Refusal) -> str:
    minutes = refusal.minutes
    wait = f"{minutes} minute{'s' if minutes != 1 else ''}"
    return f"There have been too many attempts to sign in. Wait {wait} and try again, or reset your password."


def _complete_sign_in(user: User):
    next_url = safe_next_url(session.get("next_url"))
    session.clear()  # a new session on sign-in: nothing from before carries over
    sessions.start_session(user)
    login_user(user)
    audit("sign_in.succeeded", user=user, record_type="user", record_id=user.id)
    db.session.commit()
    return redirect(next_url or url_for("home.index"))


def _pending_user() -> User | None:
    """The user who has given the right password and still owes an authenticator code."""
    pending = session.get("pending_sign_in")
    if not pending:
        return None
    if utcnow().timestamp() - pending["at"] > PENDING_MINUTES * 60:
        session.pop("pending_sign_in", None)
        return None
    user = db.session.get(User, pending["user_id"])
    return user if user is not None and user.is_active else None


@bp.route("/sign-in", methods=["GET", "POST"])
@public
def sign_in():
    if current_user.is_authenticated:
        return redirect(url_for("home.index"))
    form = SignInForm()
    if request.method == "GET" and request.args.get("next"):
        session["next_url"] = safe_next_url(request.args["next"])
    throttle_message = None
    if form.validate_on_submit():
        email = form.email.data.strip().lower()
        address = client_address()
        refusal = throttle.check(email, address, _limits())
        if refusal:
            audit("sign_in.throttled", user=None, record_type="user", outcome=refusal.reason)
            db.session.commit()
            return render_template("auth/sign_in.html", form=form, throttle_message=_throttled_message(refusal)), 429
        user = db.session.scalar(sa.select(User).where(User.email == email))
        cfg = current_app.config
        if user is None:
            passwords.verify_against_dummy(form.password.data, cfg["ARGON2_TIME_COST"], cfg["ARGON2_MEMORY_COST"])
        if user is None or not passwords.verify_password(user.password_hash, form.password.data):
            throttle.record_failure(email, address)
            audit("sign_in.failed", user=None, record_type="user", record_id=user.id if user else None)
            db.session.commit()
            form.email.errors.append(BAD_CREDENTIALS)
            form.password.errors.append(BAD_CREDENTIALS)
        elif not user.is_active:
            audit("sign_in.refused_disabled", user=None, record_type="user", record_id=user.id)
            db.session.commit()
            form.email.errors.append("Your account has been disabled. Contact the person who set it up for you")
        elif user.is_staff or user.has_authenticator:
            session["pending_sign_in"] = {"user_id": user.id, "at": utcnow().timestamp()}
            if user.has_authenticator:
                return redirect(url_for("auth.code"))
            return redirect(url_for("auth.set_up_authenticator"))
        else:
            return _complete_sign_in(user)
    return render_template("auth/sign_in.html", form=form, throttle_message=throttle_message)


@bp.route("/sign-in/code", methods=["GET", "POST"])
@public
def code():
    user = _pending_user()
    if user is None or not user.has_authenticator:
        flash("Sign in again to continue.", "info")
        return redirect(url_for("auth.sign_in"))
    form = CodeForm()
    if form.validate_on_submit():
        refusal = throttle.check(user.email, client_address(), _limits())
        if refusal:
            return render_template("auth/code.html", form=form, throttle_message=_throttled_message(refusal)), 429
        if mfa.accept_code(user, form.code.data):
            return _complete_sign_in(user)
        throttle.record_failure(user.email, client_address())
        audit("sign_in.code_failed", user=None, record_type="user", record_id=user.id)
        db.session.commit()
        form.code.errors.append("The code is not right or has been used already. Enter the newest code from your app")
    return render_template("auth/code.html", form=form, throttle_message=None)


@bp.route("/sign-in/set-up-authenticator", methods=["GET", "POST"])
@public
def set_up_authenticator():
    user = _pending_user()
    if user is None:
        flash("Sign in again to continue.", "info")
        return redirect(url_for("auth.sign_in"))
    if user.has_authenticator:
        return redirect(url_for("auth.code"))
    secret = session.get("pending_totp_secret") or mfa.new_secret()
    session["pending_totp_secret"] = secret
    form = CodeForm()
    if form.validate_on_submit():
        if mfa.accept_code(user, form.code.data, secret=secret):
            user.totp_secret = secret
            session.pop("pending_totp_secret", None)
            audit("mfa.set_up", user=user, record_type="user", record_id=user.id)
            return _complete_sign_in(user)
        form.code.errors.append("The code is not right. Enter the code your app shows now")
    uri = mfa.provisioning_uri(secret, user.email)
    return render_template("auth/set_up_authenticator.html", form=form, secret=secret, qr_svg=mfa.qr_svg(uri))


@bp.post("/sign-out")
@requires(SIGNED_IN)
def sign_out():
    user = current_user._get_current_object()
    sessions.end_session_by_id(user.current_session_id, "signed_out")
    audit("sign_out", user=user, record_type="user", record_id=user.id)
    db.session.commit()
    logout_user()
    session.clear()
    flash("You have signed out.", "success")
    return redirect(url_for("auth.sign_in"))


@bp.post("/session/extend")
@requires(SIGNED_IN)
def extend_session():
    """'Stay signed in' from the timeout warning: the request itself has refreshed the session."""
    if request.headers.get("HX-Request"):
        return "", 204
    return redirect(safe_next_url(request.form.get("next")) or url_for("home.index"))


@bp.route("/forgot-password", methods=["GET", "POST"])
@public
def forgot_password():
    form = ForgotPasswordForm()
    if form.validate_on_submit():
        email = form.email.data.strip().lower()
        user = db.session.scalar(sa.select(User).where(User.email == email))
        if user is not None and user.is_active:
            token = tokens.issue(
                user, TokenPurpose.PASSWORD_RESET, timedelta(hours=current_app.config["PASSWORD_RESET_HOURS"])
            )
            audit("password.reset_requested", user=None, record_type="user", record_id=user.id)
            db.session.commit()
            link = url_for("auth.set_password", token=token, _external=True)
            mail.send(
                current_app.config,
                user.email,
                "Reset your password",
                f"Use this link to choose a new password. It works once, for 1 hour:\n\n{link}\n\n"
                "If you did not ask for this, you can ignore this email.",
            )
        # The same answer whether or not there is an account, so the page reveals nothing.
        return render_template("auth/check_email.html", email=email)
    return render_template("auth/forgot_password.html", form=form)


@bp.route("/set-password/<token>", methods=["GET", "POST"])
@public
def set_password(token: str):
    row = tokens.find_usable(token)
    if row is None or not row.user.is_active:
        return render_template("auth/link_expired.html"), 410
    form = SetPasswordForm()
    if form.validate_on_submit():
        problem = passwords.password_problem(form.password.data)
        if problem:
            form.password.errors.append(problem)
        elif tokens.spend(row):
            user = row.user
            cfg = current_app.config
            user.password_hash = passwords.hash_password(
                form.password.data, cfg["ARGON2_TIME_COST"], cfg["ARGON2_MEMORY_COST"]
            )
            sessions.end_all_sessions(user, "password_changed")
            action = "invitation.accepted" if row.purpose == TokenPurpose.INVITATION else "password.reset"
            audit(action, user=None, record_type="user", record_id=user.id)
            db.session.commit()
            if current_user.is_authenticated:
                logout_user()
            session.clear()
            flash("Your password has been saved. Sign in with your new password.", "success")
            return redirect(url_for("auth.sign_in"))
        else:
            return render_template("auth/link_expired.html"), 410
    invitation = row.purpose == TokenPurpose.INVITATION
    return render_template("auth/set_password.html", form=form, invitation=invitation, email=row.user.email)
