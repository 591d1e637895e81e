"""DPSS payroll staff: every timesheet due this period, paper ones to key in, the export for payroll.

Only staff holding the payroll permission (PAYROLL), and only for their own organisation's payroll
employers (and the managed accounts they already see): queries.scope. A timesheet or a scan outside
that is not found (404).
"""

from datetime import date, timedelta

import sqlalchemy as sa
from flask import Blueprint, Response, abort, current_app, flash, redirect, render_template, request, send_file, url_for
from flask_login import current_user

from portal.access import PAYROLL, requires, timesheet_or_404, visible_timesheets
from portal.extensions import db
from portal.models import Timesheet, TimesheetClaim, TimesheetDocument, TimesheetStatus
from portal.services import timesheets
from portal.services.clock import london_today
from portal.services.timesheets import KeyedTotals, StaleTimesheet, TimesheetError
from portal.storage import Storage
from portal.web.helpers import audit, is_htmx, render_page_or_block
from portal.web.payroll import queries
from portal.web.payroll.forms import KeyInForm, parse_day

bp = Blueprint("payroll", __name__)

EXPORT_DEFAULT_DAYS = 28
EXPORT_MAX_DAYS = 366
KEY_IN_FIELDS = {"day_hours", "night_hours", "weekend_hours", "sleep_ins"}


def _on(today: date) -> date:
    """The day whose periods are shown (GET on=YYYY-MM-DD); anything else means today."""
    try:
        return date.fromisoformat(request.args.get("on", ""))
    except ValueError:
        return today


@bp.get("/payroll/timesheets")
@requires(PAYROLL)
def this_period():
    today = london_today()
    on = _on(today)
    view = queries.this_period(
        current_user._get_current_object(), on, today, status=request.args.get("status", ""),
        q=request.args.get("q", ""), page=max(1, request.args.get("page", 1, type=int) or 1),
    )
    export_to = today
    return render_page_or_block(
        "payroll/this_period.html", "results", view=view, filters=queries.FILTERS, status_kinds=queries.STATUS_KINDS,
        missing=queries.MISSING, previous_week=on - timedelta(days=7), next_week=on + timedelta(days=7),
        export_from=export_to - timedelta(days=EXPORT_DEFAULT_DAYS - 1), export_to=export_to, partial=is_htmx(),
    )


def _export_range(today: date) -> tuple[date, date] | str:
    """(first, last) from GET from and to (default: the last 4 weeks), or what is wrong with them."""
    try:
        first = parse_day(request.args.get("from"))
        last = parse_day(request.args.get("to"))
    except ValueError:
        return "Enter the dates like 1/11/2026"
    last = last or today
    first = first or last - timedelta(days=EXPORT_DEFAULT_DAYS - 1)
    if first > last:
        return "The start date must be on or before the end date"
    if (last - first).days >= EXPORT_MAX_DAYS:
        return "Choose dates no more than a year apart"
    return first, last


@bp.get("/payroll/timesheets.csv")
@requires(PAYROLL)
def export():
    """Approved timesheets whose period ends in the range, one row each, for the payroll software."""
    chosen = _export_range(london_today())
    if isinstance(chosen, str):
        flash(chosen, "error")
        return redirect(url_for("payroll.this_period"))
    first, last = chosen
    ids = queries.approved_ids(current_user._get_current_object(), first, last)
    audit("payroll.exported", record_type="timesheet_export", record_id=f"{first.isoformat()}..{last.isoformat()}",
          outcome=f"{len(ids)} timesheets")
    db.session.commit()
    # Built whole (a year of a large provider's timesheets is a few tens of megabytes at most): a streamed
    # body would outlive the request's database session.
    response = Response("".join(queries.export_lines(ids)).encode("utf-8"), mimetype="text/csv")
    response.headers["Content-Disposition"] = f'attachment; filename="approved-timesheets-{first.isoformat()}-to-{last.isoformat()}.csv"'
    response.headers["Cache-Control"] = "no-store"
    response.headers["X-Content-Type-Options"] = "nosniff"
    return response


# Keying in paper timesheets ------------------------------------------------------------------------


def _payroll_timesheet_or_404(timesheet_id: int) -> Timesheet:
    """A timesheet of one of the user's payroll employers (404 for anyone else's, whoever may see it)."""
    ts = timesheet_or_404(timesheet_id)
    in_scope = db.session.scalar(
        sa.select(Timesheet.id).where(Timesheet.id == ts.id, queries.scope(current_user, Timesheet.employer_id)))
    if in_scope is None:
        abort(404)
    return ts


def _scans(ts: Timesheet) -> list[TimesheetDocument]:
    """The timesheet's own documents (the scan), not the receipts attached to its expense claims."""
    receipts = sa.select(TimesheetClaim.document_id).where(TimesheetClaim.timesheet_id == ts.id, TimesheetClaim.document_id.is_not(None))
    return list(db.session.scalars(
        sa.select(TimesheetDocument).where(TimesheetDocument.timesheet_id == ts.id, TimesheetDocument.id.not_in(receipts))
        .order_by(TimesheetDocument.id)))


def _render_key_in(ts: Timesheet, form: KeyInForm):
    return render_template(
        "payroll/key_in.html", ts=ts, form=form, scans=_scans(ts), period=timesheets.period_of(ts), employment=ts.employment,
    )


def _keyed_message(ts: Timesheet) -> str:
    hours = timesheets.hours_text(ts.keyed_day_minutes + ts.keyed_night_minutes + ts.keyed_weekend_minutes)
    what = f"{ts.employment.pa.full_name}'s timesheet for {ts.period_start.day} {ts.period_start:%B} to {ts.period_end.day} {ts.period_end:%B %Y} ({hours}"
    what += f", {ts.keyed_sleep_ins} sleep-in{'s' if ts.keyed_sleep_ins != 1 else ''})" if ts.keyed_sleep_ins else ")"
    if ts.status == TimesheetStatus.APPROVED:
        return f"{what} has been keyed in and approved."
    return f"{what} has been keyed in and sent to the employer for approval."


@bp.route("/payroll/timesheets/<int:timesheet_id>/key-in", methods=["GET", "POST"])
@requires(PAYROLL)
def key_in(timesheet_id: int):
    ts = _payroll_timesheet_or_404(timesheet_id)
    if ts.status != TimesheetStatus.AWAITING_KEYING:
        flash(f"{ts.employment.pa.full_name}'s timesheet for {ts.period_start.day} {ts.period_start:%B %Y} is not waiting to be keyed in "
              f"(it is {ts.status.value}).", "info")
        return redirect(url_for("payroll.this_period", on=ts.period_start.isoformat()))
    form = KeyInForm()
    if request.method == "GET":
        form.version.data = str(ts.version)
        return _render_key_in(ts, form)
    if not form.validate_on_submit():
        return _render_key_in(ts, form)
    try:
        version = int(form.version.data)
    except (TypeError, ValueError):
        abort(400)
    keyed = KeyedTotals(day_minutes=form.day_hours.data or 0, night_minutes=form.night_hours.data or 0,
                        weekend_minutes=form.weekend_hours.data or 0, sleep_ins=form.sleep_ins.data or 0)
    try:
        timesheets.key_in(ts, current_user._get_current_object(), keyed, version)
    except StaleTimesheet as problem:
        # Someone else changed it since this form was drawn: start again from what is there now.
        db.session.rollback()
        flash(str(problem), "error")
        return redirect(url_for("payroll.key_in", timesheet_id=timesheet_id))
    except TimesheetError as problem:
        db.session.rollback()
        ts = _payroll_timesheet_or_404(timesheet_id)
        target = problem.field if problem.field in KEY_IN_FIELDS else "day_hours"
        if target == "sleep_ins" and not ts.employment.sleep_in_pence:
            target = "day_hours"  # the sleep-ins box is not on the page without a sleep-in rate
        getattr(form, target).errors.append(str(problem))
        return _render_key_in(ts, form)
    audit("timesheet.keyed_in", record_type="timesheet", record_id=ts.id, acting_for_id=ts.employer_id,
          outcome=ts.status.value)
    message = _keyed_message(ts)
    on = ts.period_start.isoformat()
    db.session.commit()
    flash(message, "success")
    return redirect(url_for("payroll.this_period", on=on))


@bp.get("/payroll/documents/<int:document_id>")
@requires(PAYROLL)
def document(document_id: int):
    """A scan (or receipt) of a timesheet this user may see, as a download (never shown in the page)."""
    visible = visible_timesheets(current_user).with_only_columns(Timesheet.id)
    item = db.session.scalar(
        sa.select(TimesheetDocument).where(TimesheetDocument.id == document_id, TimesheetDocument.timesheet_id.in_(visible)))
    if item is None:
        abort(404)
    try:
        handle = Storage.from_config().open(item.storage_name)
    except FileNotFoundError:
        current_app.logger.error("timesheet document %s has a row but no stored file", item.id)
        abort(404)
    employer_id = db.session.scalar(sa.select(Timesheet.employer_id).where(Timesheet.id == item.timesheet_id))
    audit("timesheet_document.downloaded", record_type="timesheet_document", record_id=item.id, acting_for_id=employer_id)
    db.session.commit()
    response = send_file(
        handle, mimetype=item.content_type, as_attachment=True, download_name=item.display_name,
        max_age=0, etag=False, conditional=False,
    )
    response.headers["X-Content-Type-Options"] = "nosniff"
    response.headers["Cross-Origin-Resource-Policy"] = "same-origin"
    response.headers["Cache-Control"] = "no-store"
    return response
