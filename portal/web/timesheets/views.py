"""Timesheets: the PA's pages, the employer's pages, and the actions on one timesheet.

Who may do what is decided in portal.services.timesheets (may_edit, may_approve) on a timesheet that
was found through the access scope (timesheet_or_404), so a timesheet outside it is simply not found.
"""

from datetime import date

import sqlalchemy as sa
from flask import Blueprint, abort, current_app, flash, redirect, render_template, request, send_file, url_for
from flask_login import current_user

from portal.access import (
    CASE_VIEWERS,
    MONEY_EDITORS,
    PA,
    capacity_caption,
    recipient_or_404,
    requires,
    timesheet_or_404,
)
from portal.extensions import db
from portal.models import (
    ClaimKind,
    Employment,
    RateType,
    RepresentativeLevel,
    Role,
    Timesheet,
    TimesheetDocument,
    TimesheetStatus,
)
from portal.services import employments, evidence, notifications, statements, timesheet_views, timesheets
from portal.services.clock import london_today
from portal.services.evidence import UploadRefused
from portal.services.timesheets import KeyedTotals, ShiftInput, TimesheetError
from portal.storage import Storage, StorageError
from portal.web.helpers import audit, is_htmx, render_page_or_block
from portal.web.timesheets.forms import ActionForm, ClaimForm, PaidForm, PaperForm, SendBackForm, ShiftForm, StartForm
from portal.web.uploads import storage_failed

bp = Blueprint("timesheets", __name__)

TIMESHEET_VIEWERS = (PA, *CASE_VIEWERS)
ACCEPT = "image/jpeg,image/png,application/pdf,.jpg,.jpeg,.png,.pdf"


def _done() -> None:
    """Commit, then email whatever notifications the change made (after the commit: nothing for a rollback)."""
    db.session.commit()
    notifications.deliver_pending(current_app.config)


# The PA's pages -----------------------------------------------------------------------------------


@bp.route("/timesheets")
@requires(PA)
def pa_index():
    overview = timesheet_views.pa_overview(current_user.person_id, london_today())
    return render_template("timesheets/pa_index.html", overview=overview, start_form=StartForm(),
                           link_requests=employments.open_link_requests(current_user))


@bp.route("/timesheets/start", methods=["POST"])
@requires(PA, *MONEY_EDITORS)
def start():
    """Open (making it if needed) the timesheet for an employment and a period: idempotent."""
    form = StartForm()
    if not form.validate_on_submit():
        abort(400)
    employment = _employment_for_entry(form.employment.data)
    try:
        day = date.fromisoformat(form.period_start.data or "")
    except ValueError:
        abort(400)
    period = timesheets.period_for(employment, day)
    try:
        ts = timesheets.start(employment, period, current_user)
    except TimesheetError as refusal:
        flash(str(refusal), "error")
        return redirect(_home_for(employment))
    if not timesheets.may_edit(current_user, ts) and ts.is_editable:
        abort(403)
    audit("timesheet.opened", record_type="timesheet", record_id=ts.id, acting_for_id=employment.employer_id)
    db.session.commit()
    return redirect(url_for("timesheets.show", timesheet_id=ts.id))


def _employment_for_entry(raw: str | None) -> Employment:
    """An employment the user may enter timesheets for: a PA's own, or (employer's side) one of the
    employer's PAs who has no account, within the user's manage-level scope."""
    try:
        employment_id = int(raw or "")
    except ValueError:
        abort(400)
    employment = db.session.get(Employment, employment_id)
    if employment is None:
        abort(404)
    if current_user.role == Role.PA:
        if employment.pa_id != current_user.person_id:
            abort(404)
        return employment
    recipient_or_404(employment.employer_id, RepresentativeLevel.MANAGE)
    if timesheets.pa_user(employment) is not None:
        abort(403)  # a PA with an account enters their own shifts
    return employment


def _home_for(employment: Employment) -> str:
    if current_user.role == Role.PA:
        return url_for("timesheets.pa_index")
    return url_for("timesheets.employer_index", person_id=employment.employer_id)


# The employer's pages -----------------------------------------------------------------------------


@bp.route("/people/<int:person_id>/timesheets")
@requires(*CASE_VIEWERS)
def employer_index(person_id: int):
    recipient = recipient_or_404(person_id)
    overview = timesheet_views.employer_overview(current_user, recipient, london_today())
    return render_template("timesheets/employer_index.html", recipient=recipient, overview=overview,
                           caption=capacity_caption(current_user, recipient), start_form=StartForm())


@bp.route("/people/<int:person_id>/timesheets/paper", methods=["GET", "POST"])
@requires(*MONEY_EDITORS)
def paper(person_id: int):
    recipient = recipient_or_404(person_id, RepresentativeLevel.MANAGE)
    choices = timesheet_views.paper_choices(recipient.person_id, london_today())
    form = PaperForm()
    form.employment.choices = [("", "Choose a PA")] + [(str(e.id), e.pa.full_name) for e, _ in choices]
    periods = {str(e.id): p for e, p in choices}
    form.period.choices = [("", "Choose a pay period")] + sorted(
        {(f"{e.id}:{p.start.isoformat()}", f"{e.pa.full_name}: {p.start:%-d %B} to {p.end:%-d %B %Y}")
         for e, ps in choices for p in ps}, key=lambda c: c[0])
    if form.validate_on_submit():
        employment = next((e for e, _ in choices if str(e.id) == form.employment.data), None)
        period = None
        if employment is not None and form.period.data.startswith(f"{employment.id}:"):
            wanted = form.period.data.split(":", 1)[1]
            period = next((p for p in periods[str(employment.id)] if p.start.isoformat() == wanted), None)
        if employment is None:
            form.employment.errors.append("Choose the PA")
        elif period is None:
            form.period.errors.append("Choose a pay period for this PA")
        cleaned = _check_upload(form.scan, required=True)
        keyed = None
        if not form.leave_for_dpss.data:
            keyed = KeyedTotals(form.day_hours.minutes, form.night_hours.minutes, form.weekend_hours.minutes, form.sleep_ins.data or 0)
            if keyed.empty:
                form.day_hours.errors.append("Enter the hours from the timesheet, or choose to leave them for the support service")
        if employment is not None and period is not None and cleaned is not None and not _has_errors(form):
            storage = Storage.from_config()
            try:
                name = storage.save(cleaned.data, cleaned.extension)
            except StorageError:
                form.scan.errors.append("The file could not be saved. Try again later.")
                return _paper_page(recipient, form)
            except OSError as error:  # the folder is full or read-only: nothing stored, no timesheet made
                storage_failed(form.scan, error)
                return _paper_page(recipient, form)
            try:
                ts = timesheets.record_paper(employment, period, current_user, keyed)
                timesheets.attach_document(ts, name, cleaned, current_user)
                audit("timesheet.paper_uploaded", record_type="timesheet", record_id=ts.id, acting_for_id=recipient.person_id)
                db.session.commit()
            except TimesheetError as refusal:
                db.session.rollback()
                storage.delete(name)
                (getattr(form, refusal.field) if refusal.field and hasattr(form, refusal.field) else form.period).errors.append(str(refusal))
                return _paper_page(recipient, form)
            except BaseException:
                db.session.rollback()
                storage.delete(name)
                raise
            # Emailed after the try: the timesheet is committed by now, so a mail failure must not delete its scan.
            notifications.deliver_pending(current_app.config)
            flash(_paper_outcome(ts), "success")
            return redirect(url_for("timesheets.show", timesheet_id=ts.id))
    return _paper_page(recipient, form)


def _paper_outcome(ts: Timesheet) -> str:
    if ts.status == TimesheetStatus.APPROVED:
        return "The paper timesheet has been saved and approved."
    if ts.status == TimesheetStatus.AWAITING_KEYING:
        return "The paper timesheet has been saved. The support service will type in the hours."
    return "The paper timesheet has been saved and is waiting for approval."


def _paper_page(recipient, form):
    return render_template("timesheets/paper.html", recipient=recipient, form=form, accept=ACCEPT,
                           caption=capacity_caption(current_user, recipient))


def _has_errors(form) -> bool:
    return any(field.errors for field in form)


def _check_upload(field, required: bool):
    upload = field.data
    if not upload or not getattr(upload, "filename", None):
        if required:
            field.errors.append("Choose the photo or scan to upload")
        return None
    data = upload.stream.read(evidence.MAX_BYTES + 1)
    try:
        return evidence.check_and_clean(data, upload.filename)
    except UploadRefused as refusal:
        field.errors.append(refusal.message)
        return None


# One timesheet ------------------------------------------------------------------------------------


def _load(timesheet_id: int) -> Timesheet:
    ts = timesheet_or_404(timesheet_id)
    if current_user.is_staff:
        audit("timesheet.viewed", record_type="timesheet", record_id=ts.id, acting_for_id=ts.employer_id)
        db.session.commit()
    return ts


def _show(ts: Timesheet, *, shift_form=None, claim_form=None, message: str = "", problem: str = "", status: int = 200):
    page = timesheet_views.timesheet_page(current_user, ts, london_today())
    shift_form = shift_form or ShiftForm(formdata=None)
    claim_form = claim_form or ClaimForm(formdata=None)
    day_choices = [(d.isoformat(), f"{d:%A %-d %B}") for d in page.days]
    shift_form.work_date.choices = [("", "Choose a day")] + day_choices
    claim_form.claim_date.choices = [("", "Choose a day")] + day_choices
    for form in (shift_form, claim_form):
        form.version.data = str(ts.version)
    response = render_page_or_block(
        "timesheets/show.html", "timesheet_body", ts=ts, page=page, shift_form=shift_form, claim_form=claim_form,
        action_form=ActionForm(formdata=None, version=str(ts.version)), accept=ACCEPT, message=message, problem=problem, partial=is_htmx(),
        form=shift_form if shift_form.errors else claim_form)
    response.status_code = status
    return response


@bp.route("/timesheets/<int:timesheet_id>")
@requires(*TIMESHEET_VIEWERS)
def show(timesheet_id: int):
    return _show(_load(timesheet_id))


def _editable(ts: Timesheet) -> None:
    if not timesheets.may_edit(current_user, ts):
        if ts.is_editable:
            abort(403)
        flash("This timesheet can no longer be changed." if ts.is_locked else
              "This timesheet has been submitted. It can be changed if it is sent back.", "error")
        target = url_for("timesheets.show", timesheet_id=ts.id)
        if is_htmx():  # a redirect would be followed and swapped into the page's body: reload it whole
            response = current_app.response_class(status=204)
            response.headers["HX-Redirect"] = target
            abort(response)
        abort(redirect(target))


def _after_change(ts: Timesheet, message: str):
    """htmx: the refreshed timesheet in place; without JavaScript: back to the page (post, redirect, get)."""
    if is_htmx():
        return _show(ts, message=message)  # the page is not reloaded, so the message goes in the part replaced
    flash(message, "success")
    return redirect(url_for("timesheets.show", timesheet_id=ts.id))


@bp.route("/timesheets/<int:timesheet_id>/shifts", methods=["POST"])
@requires(PA, *MONEY_EDITORS)
def add_shift(timesheet_id: int):
    ts = timesheet_or_404(timesheet_id)
    _editable(ts)
    form = ShiftForm()
    form.work_date.choices = [(d.isoformat(), d.isoformat()) for d in timesheet_views.period_days(ts)]
    if form.validate_on_submit():
        data = ShiftInput(date.fromisoformat(form.work_date.data), form.start_time.time, form.end_time.time,
                          bool(form.ends_next_day.data), form.break_minutes.data or 0, RateType(form.rate_type.data),
                          form.notes.data or "")
        try:
            shift = timesheets.add_shift(ts, data, form.version_number())
        except TimesheetError as refusal:
            db.session.rollback()
            if refusal.field is None:  # not about one answer (a stale page): say so above the form
                db.session.refresh(ts)
                return _show(ts, shift_form=form, problem=str(refusal))
            _field_error(form, refusal)
        else:
            audit("timesheet.shift_added", record_type="timesheet", record_id=ts.id, acting_for_id=ts.employer_id)
            db.session.commit()
            return _after_change(ts, f"Shift added: {shift.work_date:%A %-d %B}, {shift.start_time:%H:%M} to {shift.end_time:%H:%M}.")
    db.session.refresh(ts)
    return _show(ts, shift_form=form)


def _field_error(form, refusal: TimesheetError) -> None:
    field = getattr(form, refusal.field, None) if refusal.field else None
    if field is None:
        field = form.version if isinstance(refusal, timesheets.StaleTimesheet) else None
    if field is None:
        flash(str(refusal), "error")
    else:
        field.errors = list(field.errors) + [str(refusal)]


def _remove(timesheet_id: int, remove, item_id: int, action: str, message: str):
    """Remove a shift or a claim from a timesheet the user may change, against the page's version."""
    ts = timesheet_or_404(timesheet_id)
    _editable(ts)
    form = ActionForm()
    if not form.validate_on_submit():
        abort(400)
    try:
        remove(ts, item_id, form.version_number())
    except TimesheetError as refusal:
        db.session.rollback()
        flash(str(refusal), "error")
        return redirect(url_for("timesheets.show", timesheet_id=ts.id))
    audit(action, record_type="timesheet", record_id=ts.id, acting_for_id=ts.employer_id)
    db.session.commit()
    return _after_change(ts, message)


@bp.route("/timesheets/<int:timesheet_id>/shifts/<int:shift_id>/remove", methods=["POST"])
@requires(PA, *MONEY_EDITORS)
def remove_shift(timesheet_id: int, shift_id: int):
    return _remove(timesheet_id, timesheets.remove_shift, shift_id, "timesheet.shift_removed", "Shift removed.")


@bp.route("/timesheets/<int:timesheet_id>/claims", methods=["POST"])
@requires(PA, *MONEY_EDITORS)
def add_claim(timesheet_id: int):
    ts = timesheet_or_404(timesheet_id)
    _editable(ts)
    form = ClaimForm()
    form.claim_date.choices = [(d.isoformat(), d.isoformat()) for d in timesheet_views.period_days(ts)]
    if form.validate_on_submit():
        kind = ClaimKind(form.kind.data)
        cleaned = _check_upload(form.receipt, required=kind == ClaimKind.EXPENSE)
        if kind == ClaimKind.EXPENSE and not form.amount.pence:
            form.amount.errors.append("Enter the amount spent, like £4.50")
        if not _has_errors(form):
            storage = Storage.from_config()
            try:
                name = storage.save(cleaned.data, cleaned.extension) if cleaned else None
            except OSError as error:  # the folder is full or read-only: nothing stored, no claim added
                storage_failed(form.receipt, error)
                db.session.refresh(ts)
                return _show(ts, claim_form=form)
            try:
                document = timesheets.attach_document(ts, name, cleaned, current_user) if cleaned else None
                timesheets.add_claim(ts, kind, date.fromisoformat(form.claim_date.data), form.description.data,
                                     form.version_number(), miles=form.miles.miles, amount_pence=form.amount.pence,
                                     document=document)
                audit("timesheet.claim_added", record_type="timesheet", record_id=ts.id, acting_for_id=ts.employer_id)
                db.session.commit()
            except TimesheetError as refusal:
                db.session.rollback()
                if name:
                    storage.delete(name)
                _field_error(form, refusal)
            except BaseException:
                db.session.rollback()
                if name:
                    storage.delete(name)
                raise
            else:
                return _after_change(ts, "Claim added.")
    db.session.refresh(ts)
    return _show(ts, claim_form=form)


@bp.route("/timesheets/<int:timesheet_id>/claims/<int:claim_id>/remove", methods=["POST"])
@requires(PA, *MONEY_EDITORS)
def remove_claim(timesheet_id: int, claim_id: int):
    return _remove(timesheet_id, timesheets.remove_claim, claim_id, "timesheet.claim_removed", "Claim removed.")


def _move_along(ts: Timesheet, step, action: str, done: str, already: str):
    """Submit or approve against the page's version: a repeat reports it was already done."""
    form = ActionForm()
    if not form.validate_on_submit():
        abort(400)
    try:
        changed = step(ts, current_user, form.version_number())
    except TimesheetError as refusal:
        db.session.rollback()
        flash(str(refusal), "error")
        return redirect(url_for("timesheets.show", timesheet_id=ts.id))
    if changed:
        audit(action, record_type="timesheet", record_id=ts.id, acting_for_id=ts.employer_id)
        _done()
    flash(done if changed else already, "success")
    return redirect(url_for("timesheets.show", timesheet_id=ts.id))


@bp.route("/timesheets/<int:timesheet_id>/submit", methods=["POST"])
@requires(PA, *MONEY_EDITORS)
def submit(timesheet_id: int):
    ts = timesheet_or_404(timesheet_id)
    if not (timesheets.may_edit(current_user, ts) or ts.status == TimesheetStatus.SUBMITTED):
        abort(403)
    return _move_along(ts, timesheets.submit, "timesheet.submitted",
                       "Timesheet submitted. The employer has been told it is waiting for their approval.",
                       "This timesheet was already submitted. Nothing has changed.")


def _approver(ts: Timesheet) -> None:
    if not timesheets.may_approve(current_user, ts):
        abort(403)


@bp.route("/timesheets/<int:timesheet_id>/approve", methods=["POST"])
@requires(*MONEY_EDITORS)
def approve(timesheet_id: int):
    ts = timesheet_or_404(timesheet_id)
    _approver(ts)
    return _move_along(ts, timesheets.approve, "timesheet.approved",
                       "Timesheet approved. It is locked now, and the pay is in money owed until it is paid.",
                       "This timesheet was already approved. Nothing has changed.")


@bp.route("/timesheets/<int:timesheet_id>/send-back", methods=["GET", "POST"])
@requires(*MONEY_EDITORS)
def send_back(timesheet_id: int):
    ts = timesheet_or_404(timesheet_id)
    _approver(ts)
    if ts.status != TimesheetStatus.SUBMITTED and request.method == "GET":
        flash("Only a timesheet waiting for approval can be sent back.", "error")
        return redirect(url_for("timesheets.show", timesheet_id=ts.id))
    form = SendBackForm()
    if request.method == "GET":
        form.version.data = str(ts.version)
    if form.validate_on_submit():
        try:
            changed = timesheets.send_back(ts, current_user, form.reason.data, form.version_number())
        except TimesheetError as refusal:
            db.session.rollback()
            _field_error(form, refusal)
        else:
            if changed:
                audit("timesheet.sent_back", record_type="timesheet", record_id=ts.id, acting_for_id=ts.employer_id)
                _done()
                flash("Timesheet sent back. The PA has been told what needs to change.", "success")
            else:
                flash("This timesheet was already sent back. Nothing has changed.", "success")
            return redirect(url_for("timesheets.show", timesheet_id=ts.id))
    page = timesheet_views.timesheet_page(current_user, ts, london_today())
    return render_template("timesheets/send_back.html", ts=ts, page=page, form=form)


@bp.route("/timesheets/<int:timesheet_id>/correct", methods=["POST"])
@requires(PA, *MONEY_EDITORS)
def correct(timesheet_id: int):
    ts = timesheet_or_404(timesheet_id)
    if not timesheet_views.may_correct(current_user, ts):
        abort(403)
    form = ActionForm()
    if not form.validate_on_submit():
        abort(400)
    if form.version_number() != ts.version:
        flash(str(timesheets.StaleTimesheet()), "error")
        return redirect(url_for("timesheets.show", timesheet_id=ts.id))
    try:
        correction = timesheets.start_correction(ts, current_user)
    except TimesheetError as refusal:
        db.session.rollback()
        flash(str(refusal), "error")
        return redirect(url_for("timesheets.show", timesheet_id=ts.id))
    audit("timesheet.correction_started", record_type="timesheet", record_id=correction.id, acting_for_id=ts.employer_id)
    db.session.commit()
    flash("This is a correction of the approved timesheet. Change the shifts, then submit it for approval.", "success")
    return redirect(url_for("timesheets.show", timesheet_id=correction.id))


@bp.route("/timesheets/<int:timesheet_id>/paid", methods=["GET", "POST"])
@requires(*MONEY_EDITORS)
def mark_paid(timesheet_id: int):
    ts = timesheet_or_404(timesheet_id)
    _approver(ts)
    form = PaidForm()
    if request.method == "GET":
        form.paid_on.data = london_today()
    if form.validate_on_submit():
        try:
            changed = timesheets.mark_paid(ts, current_user, form.paid_on.data)
        except TimesheetError as refusal:
            db.session.rollback()
            _field_error(form, refusal)
        else:
            if changed:
                audit("timesheet.marked_paid", record_type="timesheet", record_id=ts.id, acting_for_id=ts.employer_id)
                db.session.commit()
                flash(f"Marked as paid on {ts.paid_on:%-d %B %Y}. It is no longer in money owed.", "success")
            else:
                flash("This timesheet was already marked as paid.", "success")
            return redirect(url_for("timesheets.show", timesheet_id=ts.id))
    page = timesheet_views.timesheet_page(current_user, ts, london_today())
    return render_template("timesheets/paid.html", ts=ts, page=page, form=form)


@bp.route("/timesheets/<int:timesheet_id>.pdf")
@requires(*TIMESHEET_VIEWERS)
def pdf(timesheet_id: int):
    ts = _load(timesheet_id)
    page = timesheet_views.timesheet_page(current_user, ts, london_today())
    html = render_template("timesheets/pdf.html", ts=ts, page=page)
    body = statements.html_pdf(html, author=ts.employment.employer.full_name, created=london_today())
    audit("timesheet.downloaded", record_type="timesheet", record_id=ts.id, acting_for_id=ts.employer_id)
    db.session.commit()
    response = current_app.response_class(body, mimetype="application/pdf")
    response.headers["Content-Disposition"] = (
        f'attachment; filename="timesheet-{ts.employment.pa.family_name.lower()}-{ts.period_start.isoformat()}.pdf"')
    return response


@bp.route("/timesheets/<int:timesheet_id>/documents/<int:document_id>")
@requires(*TIMESHEET_VIEWERS)
def document(timesheet_id: int, document_id: int):
    ts = _load(timesheet_id)
    # A correction shares its original's receipts, so a document of either is this timesheet's.
    owners = [ts.id] + ([ts.corrects_id] if ts.corrects_id else [])
    doc = db.session.scalar(sa.select(TimesheetDocument).where(TimesheetDocument.id == document_id,
                                                               TimesheetDocument.timesheet_id.in_(owners)))
    if doc is None:
        abort(404)
    try:
        handle = Storage.from_config().open(doc.storage_name)
    except FileNotFoundError:
        current_app.logger.error("timesheet document %s has a row but no stored file", doc.id)
        abort(404)
    audit("timesheet_document.downloaded", record_type="timesheet_document", record_id=doc.id, acting_for_id=ts.employer_id)
    db.session.commit()
    response = send_file(handle, mimetype=doc.content_type, as_attachment=True, download_name=doc.display_name,
                         max_age=0, etag=False, conditional=False)
    response.headers["X-Content-Type-Options"] = "nosniff"
    response.headers["Cross-Origin-Resource-Policy"] = "same-origin"
    return response
