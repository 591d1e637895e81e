"""The PA's own register profile and checks, and DPSS staff verifying checks they were asked about.

A PA sees and changes only their own profile (own_profile) and checks. A verification request, and
the document with it, is seen only by staff of the DPSS the PA asked (verification_request_or_404):
other DPSS get 404, anyone else 403. The verifier recorded is always the signed-in staff member's own
organisation (services.register.answer_verification), never anything from the form.
"""

from dataclasses import dataclass
from datetime import date

import sqlalchemy as sa
from flask import Blueprint, abort, current_app, flash, redirect, render_template, request, send_file, url_for
from flask_login import current_user

from portal.access import DPSS_STAFF, PA, own_profile, requires, verification_request_or_404, verification_requests
from portal.extensions import db
from portal.models.register import CheckKind, PAProfile, ProfileCheck, VerificationRequest
from portal.services import evidence, notifications
from portal.services import register as service
from portal.services.clock import london_today
from portal.services.evidence import UploadRefused
from portal.services.register import CheckState, RegisterError
from portal.services.register_options import describe_slots, join_words, slot_keys
from portal.storage import Storage
from portal.web.helpers import audit
from portal.web.register.forms import (
    ACCEPT,
    GENDER_CHOICES,
    NEW_PROFILE_DEFAULTS,
    PHOTO_ACCEPT,
    AnswerForm,
    CheckForm,
    ConfirmForm,
    InviteForm,
    ListingForm,
    PhotoForm,
    ProfileForm,
    VerificationRequestForm,
    profile_form_data,
)
from portal.web.register_shared import CHECK_STATE_TAGS as STATE_TAGS, WEEK, add_error, profile_labels, show_problems
from portal.web.uploads import storage_failed

bp = Blueprint("register", __name__)

GENDER_WORDS = dict(GENDER_CHOICES)


def in_sentence(label: str) -> str:
    """'Moving and handling' -> 'moving and handling'; 'DBS check' stays as it is."""
    return label if label[:2].isupper() else label[:1].lower() + label[1:]


def long_date(value: date | None) -> str:
    return f"{value.day} {value:%B %Y}" if value else ""


@dataclass(frozen=True)
class CheckRow:
    """One check as the PA (or the DPSS asked about it) sees it: its state in words."""

    check: ProfileCheck
    label: str
    state: str
    tag: str
    tag_class: str
    words: str


def check_row(check: ProfileCheck, today: date) -> CheckRow:
    state = service.check_state(check, today)
    tag, tag_class = STATE_TAGS[state]
    verifier = check.verified_by.name if check.verified_by else ""
    if state == CheckState.VERIFIED:
        words = f"Verified by {verifier} on {long_date(check.verified_on)}"
        if check.expires_on:
            words += f". Expires on {long_date(check.expires_on)}"
    elif state == CheckState.EXPIRING:
        words = (f"Verified by {verifier} on {long_date(check.verified_on)}. Expires on {long_date(check.expires_on)}: "
                 "add the new one so your profile stays verified")
    elif state == CheckState.EXPIRED:
        words = f"Expired on {long_date(check.expires_on)}. Add the new one and ask for it to be verified"
    elif state == CheckState.WAITING:
        waiting = [r.provider.name for r in check.requests if r.answered_at is None]
        words = f"Waiting for {join_words(waiting)} to verify it"
    else:
        refused = [r for r in check.requests if r.answered_at is not None and r.verified is False]
        words = "Not verified yet. Ask a support service to verify it"
        if refused:
            last = refused[-1]
            words = f"{last.provider.name} could not verify it" + (f": {last.answer_note}" if last.answer_note else "")
        if check.expires_on:
            words += f". Expires on {long_date(check.expires_on)}"
    return CheckRow(check, service.check_label(check), state, tag, tag_class, words)


def _profile_or_start() -> PAProfile | None:
    return own_profile(current_user)


def _needs_profile():
    flash("Create your profile first.", "info")
    return redirect(url_for(".profile"))


def _own_check_or_404(check_id: int) -> ProfileCheck:
    """One of the signed-in PA's own checks, or 404 (never someone else's, whatever the id)."""
    check = db.session.scalar(
        sa.select(ProfileCheck).join(PAProfile, PAProfile.id == ProfileCheck.profile_id)
        .where(ProfileCheck.id == check_id, PAProfile.person_id == current_user.person_id)
    )
    if check is None:
        abort(404)
    return check


def _read_upload(field) -> tuple[bytes, str]:
    upload = field.data
    return upload.stream.read(evidence.MAX_BYTES + 1), upload.filename or ""


def _has_upload(field) -> bool:
    return bool(field.data) and bool(getattr(field.data, "filename", ""))


def _send_stored(name: str, content_type: str, download_name: str, as_attachment: bool):
    try:
        handle = Storage.from_config().open(name)
    except FileNotFoundError:
        current_app.logger.error("register file %s has a row but no stored file", name)
        abort(404)
    response = send_file(handle, mimetype=content_type, as_attachment=as_attachment, download_name=download_name,
                         max_age=0, etag=False, conditional=False)
    response.cache_control.private = True
    response.headers["X-Content-Type-Options"] = "nosniff"
    response.headers["Cross-Origin-Resource-Policy"] = "same-origin"
    return response


# The PA's profile ------------------------------------------------------------------------------------


@bp.get("/register/profile")
@requires(PA)
def profile():
    profile = own_profile(current_user)
    if profile is None:
        return render_template("register/start.html")
    today = london_today()
    rows = [check_row(check, today) for check in profile.checks]
    providers = sorted({organisation for _, organisation, _ in service.verifiers(profile, today)})
    return render_template(
        "register/profile.html", profile=profile, check_rows=rows, activity=service.activity(profile), providers=providers,
        **profile_labels(profile), gender=GENDER_WORDS.get(profile.gender.value, ""),
        availability_words=describe_slots(profile.availability), week=WEEK, available=slot_keys(profile.availability),
    )


@bp.route("/register/profile/edit", methods=["GET", "POST"])
@requires(PA)
def edit_profile():
    profile = own_profile(current_user)
    is_new = profile is None
    if request.method == "GET":
        form = ProfileForm(data=NEW_PROFILE_DEFAULTS if is_new else profile_form_data(profile))
    else:
        form = ProfileForm()
    if is_new:
        form.submit.label.text = "Create profile"
    if form.is_submitted():
        valid = form.validate()
        answers, problems = form.answers()
        try:
            service.save_profile(current_user.person, answers)
        except RegisterError as error:
            already = {field for field, _ in problems}  # a field that could not be read says so, once
            problems += [(field, message) for field, message in error.problems if field not in already]
        if valid and not problems:
            db.session.commit()
            if is_new:
                flash("Your profile has been created. It is not listed yet: nobody else can see it until you list it.",
                      "success")
            else:
                flash("Your profile has been saved.", "success")
            return redirect(url_for(".profile"))
        db.session.rollback()  # nothing is kept from a form with a problem in it
        show_problems(form, problems, "districts")
    return render_template("register/edit.html", form=form, is_new=is_new, about_length=service.ABOUT_LENGTH, week=WEEK)


@bp.post("/register/profile/listing")
@requires(PA)
def set_listing():
    profile = own_profile(current_user)
    if profile is None:
        return _needs_profile()
    form = ListingForm()
    if form.validate_on_submit():
        listed = form.listed.data == "yes"
        service.set_listed(profile, listed)
        db.session.commit()
        flash("Your profile is listed. People looking for a PA can find it now." if listed else
              "Your profile is hidden. Nobody looking for a PA can see it until you list it again.", "success")
    return redirect(url_for(".profile"))


@bp.route("/register/profile/delete", methods=["GET", "POST"])
@requires(PA)
def delete_profile():
    profile = own_profile(current_user)
    if profile is None:
        return _needs_profile()
    form = ConfirmForm()
    if form.validate_on_submit():
        service.delete_profile(profile)
        flash("Your profile has been deleted, with its checks, documents and photo.", "success")
        return redirect(url_for(".profile"))
    # The page has one button; a POST without its answer just shows the page again.
    return render_template("register/delete.html", form=ConfirmForm(formdata=None), profile=profile)


@bp.route("/register/profile/photo", methods=["GET", "POST"])
@requires(PA)
def photo():
    profile = own_profile(current_user)
    if profile is None:
        return _needs_profile()
    form = PhotoForm()
    if form.validate_on_submit():
        data, filename = _read_upload(form.photo)
        try:
            cleaned = evidence.check_and_clean(data, filename)
            service.set_photo(profile, cleaned)
        except UploadRefused as refusal:
            db.session.rollback()
            add_error(form, "photo", refusal.message)
        except OSError as error:  # the folder is full or read-only: no photo stored, the old one kept
            storage_failed(form.photo, error)
        else:
            flash("Your photo has been added.", "success")
            return redirect(url_for(".profile"))
    return render_template("register/photo.html", form=form, profile=profile, accept=PHOTO_ACCEPT)


@bp.post("/register/profile/photo/remove")
@requires(PA)
def remove_photo():
    profile = own_profile(current_user)
    if profile is None:
        return _needs_profile()
    form = ConfirmForm()
    if form.validate_on_submit() and profile.photo_name:
        service.remove_photo(profile)
        flash("Your photo has been removed.", "success")
    return redirect(url_for(".profile"))


@bp.get("/register/profile/photo/file")
@requires(PA)
def own_photo():
    profile = own_profile(current_user)
    if profile is None or not profile.photo_name:
        abort(404)
    kind = "image/png" if profile.photo_name.endswith(".png") else "image/jpeg"
    return _send_stored(profile.photo_name, kind, "photo." + profile.photo_name.rsplit(".", 1)[1], as_attachment=False)


# The PA's checks ---------------------------------------------------------------------------------------


@bp.route("/register/checks/new", methods=["GET", "POST"])
@requires(PA)
def new_check():
    profile = own_profile(current_user)
    if profile is None:
        return _needs_profile()
    form = CheckForm()
    if form.is_submitted():
        form.validate()
        cleaned = None
        if _has_upload(form.document):
            data, filename = _read_upload(form.document)
            try:
                cleaned = evidence.check_and_clean(data, filename)
            except UploadRefused as refusal:
                add_error(form, "document", refusal.message)
        answers = form.check_input()
        if answers is not None:
            answers.problems = [(name, message) for name, messages in form.errors.items() for message in messages]
            try:
                check = service.add_check(profile, answers, cleaned)
            except RegisterError as error:
                db.session.rollback()
                show_problems(form, error.problems, "kind")
            except OSError as error:  # the folder is full or read-only: no document stored, no check added
                storage_failed(form.document, error)
            else:
                flash(f"Your {in_sentence(service.check_label(check))} has been added. Ask a support service to verify it.",
                      "success")
                return redirect(url_for(".check", check_id=check.id))
    return render_template("register/new_check.html", form=form, accept=ACCEPT, dbs=CheckKind.DBS.value)


def _check_page(check: ProfileCheck, form: VerificationRequestForm | None = None):
    providers = service.dpss_providers()
    if form is None:
        form = VerificationRequestForm(formdata=None)
    form.provider.choices = [("", "Choose a support service")] + [(str(p.id), p.name) for p in providers]
    return render_template("register/check.html", row=check_row(check, london_today()), check=check, form=form)


@bp.get("/register/checks/<int:check_id>")
@requires(PA)
def check(check_id: int):
    return _check_page(_own_check_or_404(check_id))


@bp.post("/register/checks/<int:check_id>/verification")
@requires(PA)
def request_verification(check_id: int):
    found = _own_check_or_404(check_id)
    form = VerificationRequestForm()
    if form.validate_on_submit():
        try:
            provider_id = int(form.provider.data)
        except (TypeError, ValueError):
            provider_id = 0
        try:
            asked = service.request_verification(found, provider_id)
        except RegisterError as error:
            db.session.rollback()
            show_problems(form, error.problems, "provider")
        else:
            service.touch(db.session.get(PAProfile, found.profile_id))
            name = asked.provider.name
            label = in_sentence(service.check_label(found))
            db.session.commit()
            notifications.deliver_pending(current_app.config)
            flash(f"We have asked {name} to verify your {label}.", "success")
            return redirect(url_for(".check", check_id=check_id))
    return _check_page(found, form)


@bp.post("/register/checks/<int:check_id>/delete")
@requires(PA)
def delete_check(check_id: int):
    found = _own_check_or_404(check_id)
    form = ConfirmForm()
    if not form.validate_on_submit():
        return redirect(url_for(".check", check_id=check_id))
    label = service.check_label(found)
    service.delete_check(found)
    flash(f"{label} deleted from your profile.", "success")
    return redirect(url_for(".profile"))


@bp.get("/register/checks/<int:check_id>/document")
@requires(PA)
def check_document(check_id: int):
    found = _own_check_or_404(check_id)
    if not found.document_name:
        abort(404)
    audit("register.document_downloaded", record_type="pa_profile_check", record_id=found.id, outcome="own")
    db.session.commit()
    return _send_stored(found.document_name, found.document_type, found.document_display_name or "document",
                        as_attachment=True)


# DPSS staff: verifying checks they were asked about ------------------------------------------------------


@bp.get("/register/verifications")
@requires(DPSS_STAFF)
def verifications():
    scope = verification_requests(current_user)
    waiting = db.session.scalars(
        scope.where(VerificationRequest.answered_at.is_(None)).order_by(VerificationRequest.requested_at, VerificationRequest.id)
    ).all()
    answered = db.session.scalars(
        scope.where(VerificationRequest.answered_at.is_not(None))
        .order_by(VerificationRequest.answered_at.desc(), VerificationRequest.id.desc()).limit(20)
    ).all()
    return render_template("register/verifications.html", waiting=waiting, answered=answered,
                           label=service.check_label, pa_of=_pa_of)


def _pa_of(check: ProfileCheck):
    return db.session.get(PAProfile, check.profile_id).person


@bp.route("/register/verifications/<int:request_id>", methods=["GET", "POST"])
@requires(DPSS_STAFF)
def verification(request_id: int):
    asked = verification_request_or_404(request_id)
    form = AnswerForm()
    if form.validate_on_submit():
        verified = form.decision.data == "verified"
        note = (form.note.data or "").strip()
        check = asked.check
        if not service.answer_verification(asked, current_user, verified, note):
            db.session.rollback()
            flash("This request had already been answered, so your answer was not recorded.", "info")
            return redirect(url_for(".verification", request_id=request_id))
        audit("register.check_verified" if verified else "register.check_not_verified",
              record_type="pa_profile_check", record_id=check.id, outcome=str(asked.id))
        label = in_sentence(service.check_label(check))
        name = _pa_of(check).full_name
        db.session.commit()
        notifications.deliver_pending(current_app.config)
        flash(f"{name}'s {label} is verified by {current_user.organisation.name}." if verified
              else f"We have told {name} that you could not verify their {label}.", "success")
        return redirect(url_for(".verifications"))
    return render_template("register/verification.html", asked=asked, check=asked.check, form=form,
                           row=check_row(asked.check, london_today()), pa=_pa_of(asked.check),
                           label=service.check_label(asked.check))


@bp.get("/register/verifications/<int:request_id>/document")
@requires(DPSS_STAFF)
def verification_document(request_id: int):
    asked = verification_request_or_404(request_id)
    found = asked.check
    if not found.document_name:
        abort(404)
    audit("register.document_downloaded", record_type="pa_profile_check", record_id=found.id, outcome=str(asked.id))
    db.session.commit()
    return _send_stored(found.document_name, found.document_type, found.document_display_name or "document",
                        as_attachment=True)


@bp.route("/register/invite", methods=["GET", "POST"])
@requires(DPSS_STAFF)
def invite_pa():
    form = InviteForm()
    if form.is_submitted() and form.validate():
        days = current_app.config["INVITATION_DAYS"]
        try:
            user, token = service.invite_pa_to_register(form.given_name.data, form.family_name.data, form.email.data, days)
        except RegisterError as error:
            db.session.rollback()
            show_problems(form, error.problems, "email")
        else:
            audit("invitation.sent", record_type="user", record_id=user.id, outcome="register")
            db.session.commit()
            link = url_for("auth.set_password", token=token, _external=True)
            service.send_register_invitation(current_app.config, user, link, days, current_user.organisation.name)
            flash(f"We have sent an invitation to {user.email}. When {user.display_name} sets a password, they can "
                  "create their profile.", "success")
            return redirect(url_for("home.index"))
    return render_template("register/invite.html", form=form)
