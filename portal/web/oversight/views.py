"""The council's oversight dashboard, its CSVs and its printable PDF: council officers only, their own council's people only."""

import re

from flask import Blueprint, Response, abort, render_template
from flask_login import current_user

from portal.access import COUNCIL_OFFICER, requires
from portal.extensions import db
from portal.services import dashboard as dashboard_service
from portal.services.clock import to_london, utcnow
from portal.services.statements import html_pdf
from portal.web.helpers import audit

bp = Blueprint("oversight", __name__)


@bp.get("/oversight")
@requires(COUNCIL_OFFICER)
def dashboard():
    try:
        board = dashboard_service.build(current_user._get_current_object())
    except dashboard_service.NotACouncilOfficer:
        abort(404)  # an officer account not attached to a council has no dashboard
    return render_template("oversight/dashboard.html", board=board, cell=dashboard_service.cell_text)


def _slug(council) -> str:
    """The council's name as a safe file-name part: lower-case letters, digits and hyphens only."""
    return re.sub(r"[^a-z0-9]+", "-", council.name.lower()).strip("-") or "council"


def _download(body: bytes, mimetype: str, filename: str) -> Response:
    response = Response(body, mimetype=mimetype)
    response.headers["Content-Disposition"] = f'attachment; filename="{filename}"'
    response.headers["Cache-Control"] = "no-store"
    response.headers["X-Content-Type-Options"] = "nosniff"
    return response


@bp.get("/oversight.pdf")
@requires(COUNCIL_OFFICER)
def dashboard_pdf():
    """The whole dashboard as an A4 PDF for a committee paper: the same figures as the page (one
    dashboard_service.build), with the date and time they were worked out."""
    computed_at = utcnow()
    try:
        board = dashboard_service.build(current_user._get_current_object(), to_london(computed_at).date())
    except dashboard_service.NotACouncilOfficer:
        abort(404)
    html = render_template("oversight/dashboard_pdf.html", board=board, cell=dashboard_service.cell_text,
                           computed_at=computed_at)
    body = html_pdf(html, author=board.council.name, created=board.today)
    audit("oversight.dashboard_exported", record_type="organisation", record_id=board.council.id, outcome="dashboard.pdf")
    db.session.commit()
    return _download(body, "application/pdf", f"{_slug(board.council)}-direct-payments-{board.today.isoformat()}.pdf")


@bp.get("/oversight/<table>.csv")
@requires(COUNCIL_OFFICER)
def table_csv(table: str):
    if table not in dashboard_service.TABLES:
        abort(404)
    try:
        council, today, found = dashboard_service.one_table(current_user._get_current_object(), table)
    except dashboard_service.NotACouncilOfficer:
        abort(404)
    audit("oversight.table_exported", record_type="organisation", record_id=council.id, outcome=f"{table}.csv")
    db.session.commit()
    body = dashboard_service.table_csv(council, today, found)
    return _download(body.encode("utf-8"), "text/csv", f"{table}-{_slug(council)}-{today.isoformat()}.csv")
