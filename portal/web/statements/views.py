"""Statements for a date range: an HTML page, a PDF (WeasyPrint) and a CSV of the transactions.

Anyone who may see the record may read its statement (view-level representatives included).
Without dates, the statement covers the current 4-week payment cycle up to today: the period people
think in ("this payment"), whose closing balance is today's. Links on the page offer the previous
cycle and the last 12 months.
"""

from datetime import timedelta

from flask import Blueprint, Response, redirect, render_template, request, url_for
from flask_login import current_user

from portal.access import (
    CASE_VIEWERS,
    MONEY_EDITORS,
    capacity_caption,
    may_manage,
    recipient_or_404,
    requires,
)
from portal.extensions import db
from portal.models import Recipient
from portal.services import statements as statements_service
from portal.services.clock import london_today
from portal.services.cycles import CYCLE_DAYS, cycle_start_on_or_before
from portal.services.local_settings import council_settings
from portal.services.statements import build_statement
from portal.web.helpers import audit
from portal.web.statements.forms import StatementPeriodForm

bp = Blueprint("statements", __name__, url_prefix="/people")


def _quick_periods(recipient: Recipient) -> list[tuple[str, object, object]]:
    """(label, start, end): this payment cycle so far, the last whole cycle, the last 12 months."""
    today = london_today()
    cycle_start = cycle_start_on_or_before(council_settings(recipient.council_id, today).cycle_anchor, today)
    previous = cycle_start - timedelta(days=CYCLE_DAYS)
    year_ago = statements_service.add_years(today, -1) + timedelta(days=1)
    return [
        ("This payment cycle", cycle_start, today),
        ("The last payment cycle", previous, cycle_start - timedelta(days=1)),
        ("The last 12 months", year_ago, today),
    ]


def _period(recipient: Recipient, quick_periods=None):
    """The form and the (start, end) it asks for, or None when the dates need correcting."""
    if "from" not in request.args and "to" not in request.args:
        _, start, end = (quick_periods or _quick_periods(recipient))[0]
        return StatementPeriodForm(formdata=None, start=start, end=end), (start, end)
    form = StatementPeriodForm(formdata=request.args)
    if form.validate():
        return form, (form.start.data, form.end.data)
    return form, None


def _period_args(start, end) -> dict[str, str]:
    return {"from": start.isoformat(), "to": end.isoformat()}


@bp.get("/<int:person_id>/statement")
@requires(*CASE_VIEWERS)
def statement(person_id: int):
    recipient = recipient_or_404(person_id)
    quick_periods = _quick_periods(recipient)
    form, period = _period(recipient, quick_periods)
    return render_template(
        "statements/statement.html",
        recipient=recipient,
        caption=capacity_caption(current_user, recipient),
        form=form,
        statement=build_statement(recipient, *period) if period else None,
        period_args=_period_args(*period) if period else {},
        quick_periods=[(label, _period_args(start, end)) for label, start, end in quick_periods],
        # "Add receipt" links only for people who may add one (not view-level representatives or council officers).
        can_add_receipts=any(rule.allows(current_user) for rule in MONEY_EDITORS) and may_manage(current_user, recipient),
    )


def _back_to_the_form(person_id: int):
    """Dates a download cannot use: show them on the page, with the errors."""
    return redirect(url_for("statements.statement", person_id=person_id) + "?" + request.query_string.decode("ascii", "replace"))


def _download(recipient: Recipient, body: bytes, mimetype: str, filename: str) -> Response:
    audit("statement.downloaded", record_type="recipient", record_id=recipient.person_id, acting_for_id=recipient.person_id,
          outcome=filename)
    db.session.commit()
    response = Response(body, mimetype=mimetype)
    response.headers["Content-Disposition"] = f'attachment; filename="{filename}"'
    response.headers["Cache-Control"] = "no-store"
    return response


@bp.get("/<int:person_id>/statement.pdf")
@requires(*CASE_VIEWERS)
def statement_pdf(person_id: int):
    recipient = recipient_or_404(person_id)
    _, period = _period(recipient)
    if period is None:
        return _back_to_the_form(person_id)
    statement = build_statement(recipient, *period)
    html = render_template("statements/pdf.html", statement=statement)
    return _download(recipient, statements_service.statement_pdf(statement, html), "application/pdf", f"{statement.filename_stem}.pdf")


@bp.get("/<int:person_id>/statement.csv")
@requires(*CASE_VIEWERS)
def statement_csv(person_id: int):
    recipient = recipient_or_404(person_id)
    _, period = _period(recipient)
    if period is None:
        return _back_to_the_form(person_id)
    statement = build_statement(recipient, *period)
    # With a byte-order mark, Excel reads the file as UTF-8 (payees' names are not all ASCII).
    body = statements_service.statement_csv(statement).encode("utf-8-sig")
    return _download(recipient, body, "text/csv", f"{statement.filename_stem}.csv")
