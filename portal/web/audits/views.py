"""Audits of a period for one person, and reviews of their direct payment, with due dates from the rules.

Every page sits under /people/<id>/ and an audit is found only through the person it belongs to
(recipient_or_404, then a query on that person's audits, else 404). Who:

- DPSS staff who can see the person (a caseworker their own cases, a manager all their organisation's)
  start audits, answer the checklist, give reasons, sign off, and record care reviews;
- council officers of the council that funds the person read audits, reviews and the PDF reports
  (their scope: another council's officer gets 404), and change nothing (POSTs: 403);
- recipients and representatives: 403. An audit is the support service's and the council's check on the
  person's spending, written for them; the person hears its outcome from their caseworker. (Their
  statements and receipts are theirs to see on their own pages.)
- PAs and the administrator: 403.
"""

from datetime import date

from flask import Blueprint, Response, abort, flash, redirect, render_template, url_for
from flask_login import current_user

from portal.access import CASE_STAFF, DPSS_STAFF, capacity_caption, recipient_or_404, requires
from portal.extensions import db
from portal.models import Recipient
from portal.models.audits import Audit, AuditStatus
from portal.services import audits as service
from portal.services import statements as statements_service
from portal.services.clock import london_today
from portal.sqlite import immediate_transaction
from portal.web.audits.forms import ChecklistForm, FindingForm, ReviewForm, SignOffForm, StartForm
from portal.web.helpers import audit as audit_event

bp = Blueprint("audits", __name__)

STATUS_TAGS = {AuditStatus.IN_PROGRESS: "govuk-tag--blue", AuditStatus.SIGNED_OFF: "govuk-tag--green"}
DUE_TAGS = {"overdue": ("Overdue", "govuk-tag--red"), "due": ("Due soon", "govuk-tag--orange"),
            "not due": ("Not due yet", "govuk-tag--grey")}


def _audit_or_404(recipient: Recipient, audit_id: int) -> Audit:
    found = service.audit_of(recipient.person_id, audit_id)
    if found is None:
        abort(404)
    return found


def _show_url(recipient: Recipient, found: Audit) -> str:
    return url_for("audits.show", person_id=recipient.person_id, audit_id=found.id)


def _can_edit() -> bool:
    return current_user.role.is_dpss


class _Errors:
    """Several forms' errors as one, for the page's error summary (base.html reads form.errors)."""

    def __init__(self, *forms):
        self._fields = {}
        self.errors = {}
        for form in forms:
            if form is None:
                continue
            for name, bound in form._fields.items():
                if bound.errors:
                    self._fields[name] = bound
                    self.errors[name] = list(bound.errors)


def _place(problems, *forms) -> bool:
    """Put each problem beside its field on whichever form has it; True if every one found a place."""
    placed = True
    for name, message in problems:
        field = next((form._fields[name] for form in forms if form is not None and name in form._fields), None)
        if field is None:
            placed = False
            continue
        field.errors = [*field.errors, message]
    return placed


# The list, and starting an audit -------------------------------------------------------------------


def _index(recipient: Recipient, form: StartForm | None = None):
    today = london_today()
    summary = service.case_summary(recipient.person_id, today, latest=1000)
    if _can_edit() and form is None and summary.in_progress is None:
        start, end = service.suggested_period(recipient.person_id, recipient.council_id, today)
        form = StartForm(formdata=None)
        form.period_start.data, form.period_end.data = start, end
    extra = {"form": form} if form is not None and form.errors else {}
    return render_template(
        "audits/index.html", recipient=recipient, caption=capacity_caption(current_user, recipient), summary=summary,
        start_form=form if _can_edit() and summary.in_progress is None else None, status_tags=STATUS_TAGS,
        due_tags=DUE_TAGS, outcome_words=service.OUTCOME_WORDS, **extra,
    )


@bp.get("/people/<int:person_id>/audits")
@requires(*CASE_STAFF)
def index(person_id: int):
    return _index(recipient_or_404(person_id))


@bp.post("/people/<int:person_id>/audits")
@requires(DPSS_STAFF)
def start(person_id: int):
    recipient = recipient_or_404(person_id)
    form = StartForm()
    if not form.validate_on_submit():
        return _index(recipient, form)
    try:
        with immediate_transaction():
            found = service.start_audit(recipient, current_user, form.period_start.data, form.period_end.data, london_today())
            audit_event("audit.started", record_type="audit", record_id=found.id, acting_for_id=recipient.person_id)
    except service.AuditError as error:
        if _place(error.problems, form):
            return _index(recipient, form)
        flash(error.message, "error")
        return redirect(url_for("audits.index", person_id=recipient.person_id))
    flash(f"Audit started for {_period_words(found.period_start, found.period_end)}.", "success")
    return redirect(_show_url(recipient, found))


def _period_words(start: date, end: date) -> str:
    return f"{start.day} {start:%B %Y} to {end.day} {end:%B %Y}"


# One audit -----------------------------------------------------------------------------------------


def _page(recipient: Recipient, found: Audit, checklist_form=None, sign_off_form=None):
    today = london_today()
    report = service.build_report(recipient, found, today)
    editable = _can_edit() and not found.locked
    if editable:
        if checklist_form is None:
            checklist_form = ChecklistForm(formdata=None)
            for row in report.checklist:
                checklist_form[row.name].data = row.answer.value if row.answer else None
                checklist_form[row.note_name].data = row.note
        if sign_off_form is None:
            sign_off_form = SignOffForm(formdata=None, version=str(found.version))
            sign_off_form.outcome.data = found.outcome.value if found.outcome else None
            sign_off_form.actions.data = found.actions
    errors = _Errors(checklist_form, sign_off_form) if editable else None
    extra = {"form": errors} if errors is not None and errors.errors else {}
    return render_template(
        "audits/show.html", recipient=recipient, caption=capacity_caption(current_user, recipient), audit=found,
        report=report, editable=editable, checklist_form=checklist_form if editable else None,
        sign_off_form=sign_off_form if editable else None, finding_form=FindingForm() if editable else None,
        status_tag=STATUS_TAGS[found.status], outcome_words=service.OUTCOME_WORDS,
        period=_period_words(found.period_start, found.period_end), **extra,
    )


@bp.get("/people/<int:person_id>/audits/<int:audit_id>")
@requires(*CASE_STAFF)
def show(person_id: int, audit_id: int):
    recipient = recipient_or_404(person_id)
    return _page(recipient, _audit_or_404(recipient, audit_id))


def _locked(recipient: Recipient, found: Audit):
    flash(service.AuditLocked().message, "error")
    return redirect(_show_url(recipient, found))


@bp.post("/people/<int:person_id>/audits/<int:audit_id>/checklist")
@requires(DPSS_STAFF)
def checklist(person_id: int, audit_id: int):
    recipient = recipient_or_404(person_id)
    found = _audit_or_404(recipient, audit_id)
    if found.locked:
        return _locked(recipient, found)
    form = ChecklistForm()
    if not form.validate_on_submit():
        return _page(recipient, found, checklist_form=form)
    try:
        with immediate_transaction():
            service.save_checklist(found, current_user, form.answers(), form.notes())
            audit_event("audit.checklist_saved", record_type="audit", record_id=found.id, acting_for_id=recipient.person_id)
    except service.AuditError as error:
        db.session.refresh(found)
        if not isinstance(error, service.AuditLocked) and _place(error.problems, form):
            return _page(recipient, found, checklist_form=form)
        flash(error.message, "error")
        return redirect(_show_url(recipient, found))
    flash("Checklist saved.", "success")
    return redirect(_show_url(recipient, found) + "#checklist")


@bp.post("/people/<int:person_id>/audits/<int:audit_id>/findings")
@requires(DPSS_STAFF)
def finding(person_id: int, audit_id: int):
    recipient = recipient_or_404(person_id)
    found = _audit_or_404(recipient, audit_id)
    if found.locked:
        return _locked(recipient, found)
    form = FindingForm()
    entry_id = form.entry() if form.validate_on_submit() else None
    if entry_id is None:
        flash("The reason could not be saved: open the audit again and try again. Nothing was changed.", "error")
        return redirect(_show_url(recipient, found))
    try:
        with immediate_transaction():
            service.save_finding(found, current_user, entry_id, form.note.data or "")
            audit_event("audit.finding_saved", record_type="audit", record_id=found.id, acting_for_id=recipient.person_id)
    except service.AuditError as error:
        flash(error.message, "error")
        return redirect(_show_url(recipient, found))
    flash("Reason saved." if (form.note.data or "").strip() else "Reason removed.", "success")
    return redirect(_show_url(recipient, found) + f"#entry-{entry_id}")


@bp.post("/people/<int:person_id>/audits/<int:audit_id>/sign-off")
@requires(DPSS_STAFF)
def sign_off(person_id: int, audit_id: int):
    recipient = recipient_or_404(person_id)
    found = _audit_or_404(recipient, audit_id)
    if found.locked:  # a second click: the first signed it off
        flash(service.AlreadySignedOff(found).message, "info")
        return redirect(_show_url(recipient, found))
    form = SignOffForm()
    if not form.validate_on_submit():
        return _page(recipient, found, sign_off_form=form)
    try:
        with immediate_transaction():
            service.sign_off(recipient, found, current_user, form.outcome_value(), form.actions.data or "",
                             form.version_number(), london_today())
            audit_event("audit.signed_off", record_type="audit", record_id=found.id, acting_for_id=recipient.person_id,
                        outcome=found.outcome.value if found.outcome else "")
    except service.AuditError as error:
        db.session.refresh(found)
        if isinstance(error, service.AlreadySignedOff):
            flash(error.message, "info")
            return redirect(_show_url(recipient, found))
        if isinstance(error, service.StaleAudit):
            flash(error.message, "error")
            return redirect(_show_url(recipient, found))
        checklist_form = ChecklistForm(formdata=None)
        for row in service.checklist_rows(found):
            checklist_form[row.name].data = row.answer.value if row.answer else None
            checklist_form[row.note_name].data = row.note
        unanswered = [(row.name, "Answer this question, and save the checklist")
                      for row in service.checklist_rows(found) if row.answer is None]
        _place(unanswered, checklist_form)
        _place([p for p in error.problems if p[0] is not None], form)
        return _page(recipient, found, checklist_form=checklist_form, sign_off_form=form)
    flash(f"Audit signed off by {current_user.display_name}: {service.OUTCOME_WORDS[found.outcome].lower()}. "
          "It can no longer be changed.", "success")
    return redirect(_show_url(recipient, found))


@bp.get("/people/<int:person_id>/audits/<int:audit_id>.pdf")
@requires(*CASE_STAFF)
def pdf(person_id: int, audit_id: int):
    recipient = recipient_or_404(person_id)
    found = _audit_or_404(recipient, audit_id)
    report = service.build_report(recipient, found, london_today())
    html = render_template("audits/pdf.html", report=report, outcome_words=service.OUTCOME_WORDS,
                           period=_period_words(found.period_start, found.period_end),
                           signed_by=found.signed_off_by.display_name if found.signed_off_by else "")
    body = statements_service.html_pdf(html, author=report.provider_name or report.council_name, created=report.made_on)
    audit_event("audit.report_downloaded", record_type="audit", record_id=found.id, acting_for_id=recipient.person_id,
                outcome="signed off" if found.locked else "draft")
    db.session.commit()
    response = Response(body, mimetype="application/pdf")
    name = f"{report.filename_stem}{'' if found.locked else '-draft'}.pdf"
    response.headers["Content-Disposition"] = f'attachment; filename="{name}"'
    response.headers["Cache-Control"] = "no-store"
    return response


# Care reviews --------------------------------------------------------------------------------------


def _reviews(recipient: Recipient, form: ReviewForm | None = None):
    today = london_today()
    summary = service.case_summary(recipient.person_id, today)
    if _can_edit() and form is None:
        form = ReviewForm(formdata=None)
    extra = {"form": form} if form is not None and form.errors else {}
    return render_template(
        "audits/reviews.html", recipient=recipient, caption=capacity_caption(current_user, recipient), summary=summary,
        reviews=service.reviews_of(recipient.person_id), review_form=form if _can_edit() else None, due_tags=DUE_TAGS,
        first_months=service.FIRST_REVIEW_MONTHS, gap_months=service.REVIEW_GAP_MONTHS, **extra,
    )


@bp.get("/people/<int:person_id>/reviews")
@requires(*CASE_STAFF)
def reviews(person_id: int):
    return _reviews(recipient_or_404(person_id))


@bp.post("/people/<int:person_id>/reviews")
@requires(DPSS_STAFF)
def record_review(person_id: int):
    recipient = recipient_or_404(person_id)
    form = ReviewForm()
    if not form.validate_on_submit():
        return _reviews(recipient, form)
    try:
        with immediate_transaction():
            review = service.record_review(recipient, current_user, form.reviewed_on.data, form.outcome.data or "", london_today())
            audit_event("care_review.recorded", record_type="care_review", record_id=review.id, acting_for_id=recipient.person_id)
    except service.AuditError as error:
        if error.problems and all(name for name, _ in error.problems) and _place(error.problems, form):
            return _reviews(recipient, form)
        flash(error.message, "info")
        return redirect(url_for("audits.reviews", person_id=recipient.person_id))
    flash(f"Review of {review.reviewed_on.day} {review.reviewed_on:%B %Y} recorded.", "success")
    return redirect(url_for("audits.reviews", person_id=recipient.person_id))
