"""Employing a PA: the employment records, the employer's duties, holiday and sickness.

Every page sits under /people/<id>/ (the employer), and an employment is only found through the employer
it belongs to (recipient_or_404, then a query filtered on that employer, else 404). Anyone who may see
the record reads these pages; the person, a manage-level representative or their DPSS staff change them
(council officers oversee but do not change: 403; a view-level representative gets 404 on change pages).
"""

from datetime import date

import sqlalchemy as sa
from flask import Blueprint, abort, current_app, flash, redirect, render_template, request, url_for
from flask_login import current_user

from portal.access import CASE_VIEWERS, MONEY_EDITORS, PA, capacity_caption, may_manage, recipient_or_404, requires
from portal.extensions import db
from portal.models import Employment, EmploymentLinkRequest, LeaveKind, Recipient, RepresentativeLevel, Role
from portal.services import accounts, employments, notifications
from portal.services.clock import london_today
from portal.services.employments import DutyState, EmploymentError
from portal.web.employments.forms import (
    LinkAnswerForm,
    NEW_DEFAULTS,
    EndForm,
    InsuranceForm,
    InviteForm,
    LeaveForm,
    NewEmploymentForm,
    TermsForm,
    terms_form_data,
)
from portal.web.helpers import audit

bp = Blueprint("employments", __name__)

MANAGE = RepresentativeLevel.MANAGE
DUTY_TAGS = {
    DutyState.DONE: ("Done", "govuk-tag--green"),
    DutyState.CURRENT: ("Current", "govuk-tag--green"),
    DutyState.EXPIRING: ("Expiring soon", "govuk-tag--yellow"),
    DutyState.EXPIRED: ("Expired", "govuk-tag--red"),
    DutyState.NOT_DONE: ("Not done yet", "govuk-tag--orange"),
    DutyState.NOT_NEEDED: ("Not needed", "govuk-tag--grey"),
}
# The terms' service messages name the form field they are about; these are on the new form only.
NEW_ONLY_FIELDS = ("who", "given_name", "family_name", "email")


# Loading and small helpers ---------------------------------------------------------------------


def _employment_or_404(recipient: Recipient, employment_id: int) -> Employment:
    """One of this employer's employments, or 404 (never someone else's, whatever the id)."""
    employment = db.session.scalar(
        sa.select(Employment).where(Employment.id == employment_id, Employment.employer_id == recipient.person_id)
    )
    if employment is None:
        abort(404)
    return employment


def _can_change(recipient: Recipient) -> bool:
    """Change links are for those who may change: not council officers, not view-level representatives."""
    return any(rule.allows(current_user) for rule in MONEY_EDITORS) and may_manage(current_user, recipient)


def _is_self(recipient: Recipient) -> bool:
    return current_user.role == Role.RECIPIENT and current_user.person_id == recipient.person_id


def _page(template: str, recipient: Recipient, **context):
    return render_template(template, recipient=recipient, caption=capacity_caption(current_user, recipient),
                           duty_tags=DUTY_TAGS, **context)


def _show_errors(form, error: EmploymentError, default: str) -> None:
    """Each problem beside the answer it is about (or the default answer when it names none)."""
    for field_name, message in error.problems:
        field = form._fields.get(field_name or default) or form._fields[default]
        if message not in field.errors:
            field.errors = [*field.errors, message]


def _status(employment: Employment, today: date) -> str:
    if employment.end_date is not None and employment.end_date < today:
        return "ended"
    if employment.start_date > today:
        return "starts later"
    return "current"


def _pa_user(employment: Employment):
    return employments.pa_account(employment.pa_id)


# Reading -------------------------------------------------------------------------------------------


@bp.get("/people/<int:person_id>/pas")
@requires(*CASE_VIEWERS)
def index(person_id: int):
    recipient = recipient_or_404(person_id)
    today = london_today()
    rows = db.session.scalars(
        sa.select(Employment).where(Employment.employer_id == recipient.person_id)
        .order_by(Employment.start_date.desc(), Employment.id.desc())
    ).all()
    current = [e for e in rows if _status(e, today) != "ended"]
    past = [e for e in rows if _status(e, today) == "ended"]
    duties = employments.employer_duties(recipient.person_id, today)
    attention = [d for d in duties if d.needs_attention]
    return _page(
        "employments/index.html", recipient, current=current, past=past, duties=duties, attention=attention,
        insurance=duties[0], today=today, status=_status, can_change=_can_change(recipient),
    )


@bp.get("/people/<int:person_id>/pas/<int:employment_id>")
@requires(*CASE_VIEWERS)
def show(person_id: int, employment_id: int):
    recipient = recipient_or_404(person_id)
    employment = _employment_or_404(recipient, employment_id)
    today = london_today()
    return _page(
        "employments/show.html", recipient, employment=employment, status=_status(employment, today),
        duties=employments.employment_duties(employment, today),
        warnings=employments.employment_warnings(employment, today),
        leave=employments.leave_records(employment), leave_days=employments.leave_days,
        has_account=_pa_user(employment) is not None, can_change=_can_change(recipient),
        pending_link=(pending := employments.pending_link_request(employment)),
        pending_link_account=pending.pa_user.display_name if pending else "",
    )


# Recording and changing --------------------------------------------------------------------------


@bp.route("/people/<int:person_id>/pas/new", methods=["GET", "POST"])
@requires(*MONEY_EDITORS)
def new(person_id: int):
    recipient = recipient_or_404(person_id, MANAGE)
    form = NewEmploymentForm(data=NEW_DEFAULTS if request.method == "GET" else None)
    form.name_the_employer(_is_self(recipient), recipient.full_name)
    earlier = employments.previous_pas(recipient.person_id)
    if earlier:
        form.who.choices = [(str(p.id), p.full_name) for p in earlier] + [("new", "Someone new")]
    else:
        del form.who
    if form.validate_on_submit():
        new_person = form.is_new_person()
        try:
            employment, warnings = employments.record_employment(
                recipient.person_id, form.terms(),
                new_pa=employments.NewPA(form.given_name.data or "", form.family_name.data or "", form.email.data or "")
                if new_person else None,
                pa_id=None if new_person else int(form.who.data),
            )
        except EmploymentError as error:
            db.session.rollback()
            _show_errors(form, error, "start_date")
        else:
            audit("employment.recorded", record_type="employment", record_id=employment.id,
                  acting_for_id=recipient.person_id)
            db.session.commit()
            flash(f"{employment.pa.full_name}'s employment has been recorded.", "success")
            return redirect(url_for(".show", person_id=person_id, employment_id=employment.id))
    return _page("employments/new.html", recipient, form=form, earlier=earlier)


@bp.route("/people/<int:person_id>/pas/<int:employment_id>/edit", methods=["GET", "POST"])
@requires(*MONEY_EDITORS)
def edit(person_id: int, employment_id: int):
    recipient = recipient_or_404(person_id, MANAGE)
    employment = _employment_or_404(recipient, employment_id)
    data = terms_form_data(employments.Terms.of(employment)) if request.method == "GET" else None
    form = TermsForm(data=data)
    form.name_the_employer(_is_self(recipient), recipient.full_name)
    form.submit.label.text = "Save changes"
    if form.validate_on_submit():
        try:
            employments.update_employment(employment, form.terms())
        except EmploymentError as error:
            db.session.rollback()
            _show_errors(form, error, "start_date")
        else:
            audit("employment.changed", record_type="employment", record_id=employment.id,
                  acting_for_id=recipient.person_id)
            db.session.commit()
            flash(f"{employment.pa.full_name}'s employment has been changed.", "success")
            return redirect(url_for(".show", person_id=person_id, employment_id=employment.id))
    return _page("employments/edit.html", recipient, form=form, employment=employment)


@bp.route("/people/<int:person_id>/pas/<int:employment_id>/end", methods=["GET", "POST"])
@requires(*MONEY_EDITORS)
def end(person_id: int, employment_id: int):
    recipient = recipient_or_404(person_id, MANAGE)
    employment = _employment_or_404(recipient, employment_id)
    data = {"last_day": employment.end_date, "reason": employment.end_reason} if request.method == "GET" else None
    form = EndForm(data=data)
    if form.validate_on_submit():
        try:
            employments.end_employment(employment, form.last_day.data, form.reason.data)
        except EmploymentError as error:
            db.session.rollback()
            _show_errors(form, error, "last_day")
        else:
            audit("employment.ended", record_type="employment", record_id=employment.id,
                  acting_for_id=recipient.person_id)
            db.session.commit()
            flash(f"{employment.pa.full_name}'s last day is recorded as {employments.long_date(employment.end_date)}.",
                  "success")
            return redirect(url_for(".show", person_id=person_id, employment_id=employment.id))
    return _page("employments/end.html", recipient, form=form, employment=employment)


@bp.route("/people/<int:person_id>/pas/<int:employment_id>/leave", methods=["GET", "POST"])
@requires(*MONEY_EDITORS)
def leave(person_id: int, employment_id: int):
    recipient = recipient_or_404(person_id, MANAGE)
    employment = _employment_or_404(recipient, employment_id)
    form = LeaveForm()
    if form.validate_on_submit():
        kind = LeaveKind(form.kind.data)
        try:
            record = employments.record_leave(
                employment, kind, form.first_day.data, form.last_day.data,
                hours=form.hours.hours, note=form.note.data or "", user_id=current_user.id,
            )
        except EmploymentError as error:
            db.session.rollback()
            _show_errors(form, error, "first_day")
        else:
            audit("leave.recorded", record_type="leave_record", record_id=record.id, acting_for_id=recipient.person_id)
            db.session.commit()
            what = "Holiday" if kind == LeaveKind.HOLIDAY else "Sickness"
            flash(f"{what} recorded for {employment.pa.full_name}.", "success")
            return redirect(url_for(".show", person_id=person_id, employment_id=employment.id))
    return _page("employments/leave.html", recipient, form=form, employment=employment)


@bp.route("/people/<int:person_id>/pas/<int:employment_id>/invite", methods=["GET", "POST"])
@requires(*MONEY_EDITORS)
def invite(person_id: int, employment_id: int):
    recipient = recipient_or_404(person_id, MANAGE)
    employment = _employment_or_404(recipient, employment_id)
    has_account = _pa_user(employment) is not None
    form = InviteForm(data={"email": employment.pa.email} if request.method == "GET" else None)
    if not has_account and form.validate_on_submit():
        days = current_app.config["INVITATION_DAYS"]
        name = employment.pa.full_name
        try:
            outcome = employments.invite_pa(employment, form.email.data, days, requested_by_id=current_user.id)
        except EmploymentError as error:
            db.session.rollback()
            _show_errors(form, error, "email")
        else:
            action = "employment.link_requested" if outcome.asked_to_confirm else "invitation.sent"
            audit(action, record_type="user", record_id=outcome.user.id, acting_for_id=recipient.person_id,
                  outcome=str(employment.id))
            db.session.commit()
            if outcome.asked_to_confirm:
                employments.send_link_notice(current_app.config, outcome.user, recipient.full_name,
                                             url_for(".link_request", request_id=outcome.request.id, _external=True))
                flash(f"That email address belongs to {outcome.user.display_name}'s PA account. We have asked them "
                      f"to confirm that they are the PA you know as {name}; their account is linked when they do.",
                      "success")
            else:
                link = url_for("auth.set_password", token=outcome.token, _external=True)
                accounts.send_invitation(current_app.config, outcome.user, link, days)
                flash(f"We have sent an invitation to {outcome.user.email}.", "success")
            return redirect(url_for(".show", person_id=person_id, employment_id=employment.id))
    return _page("employments/invite.html", recipient, form=form, employment=employment, has_account=has_account)


@bp.route("/people/<int:person_id>/employer-insurance", methods=["GET", "POST"])
@requires(*MONEY_EDITORS)
def insurance(person_id: int):
    recipient = recipient_or_404(person_id, MANAGE)
    form = InsuranceForm()
    if form.validate_on_submit():
        try:
            policy = employments.record_insurance(
                recipient.person_id, form.insurer.data, form.policy_number.data, form.cover.pence,
                form.starts_on.data, form.expires_on.data, user_id=current_user.id,
            )
        except EmploymentError as error:
            db.session.rollback()
            _show_errors(form, error, "cover")
        else:
            audit("insurance.recorded", record_type="employer_insurance", record_id=policy.id,
                  acting_for_id=recipient.person_id)
            db.session.commit()
            flash(f"The policy with {policy.insurer} to {employments.long_date(policy.expires_on)} has been saved.",
                  "success")
            return redirect(url_for(".index", person_id=person_id))
    today = london_today()
    return _page("employments/insurance.html", recipient, form=form,
                 policies=employments.insurance_policies(recipient.person_id),
                 duty=employments.insurance_duty(recipient.person_id, today), today=today)


# The PA's answer when an employer asks to link their records to the PA's account ----------------------


def _link_request_or_404(request_id: int) -> EmploymentLinkRequest:
    """Only the PA the request was sent to finds it, and only while it waits for an answer."""
    found = db.session.scalar(sa.select(EmploymentLinkRequest).where(
        EmploymentLinkRequest.id == request_id, EmploymentLinkRequest.pa_user_id == current_user.id,
        EmploymentLinkRequest.answered_at.is_(None)))
    if found is None:
        abort(404)
    return found


@bp.route("/employment-requests/<int:request_id>")
@requires(PA)
def link_request(request_id: int):
    found = _link_request_or_404(request_id)
    return render_template("employments/link_request.html", request_row=found, employment=found.employment,
                           form=LinkAnswerForm(formdata=None))


@bp.route("/employment-requests/<int:request_id>", methods=["POST"])
@requires(PA)
def answer_link_request(request_id: int):
    found = _link_request_or_404(request_id)
    form = LinkAnswerForm()
    if not form.validate_on_submit():
        return render_template("employments/link_request.html", request_row=found, employment=found.employment, form=form)
    accept = form.answer.data == "yes"
    employer = found.employment.employer.full_name
    try:
        employments.answer_link_request(found, current_user, accept)
    except EmploymentError as error:
        db.session.rollback()
        flash(str(error), "error")
        return redirect(url_for("timesheets.pa_index"))
    audit("employment.linked" if accept else "employment.link_declined", record_type="employment",
          record_id=found.employment_id, acting_for_id=found.employment.employer_id)
    db.session.commit()
    notifications.deliver_pending(current_app.config)
    flash(f"You are now shown as working for {employer}." if accept else
          f"Thank you. {employer}'s records have not been added to your account.", "success")
    return redirect(url_for("timesheets.pa_index"))
