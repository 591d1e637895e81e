"""The council's oversight dashboard: council officers only, their own council's people only."""

import re

from flask import Blueprint, Response, abort, render_template
from flask_login import current_user

from portal.access import COUNCIL_OFFICER, requires
from portal.extensions import db
from portal.services import dashboard as dashboard_service
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
    slug = re.sub(r"[^a-z0-9]+", "-", council.name.lower()).strip("-") or "council"
    body = dashboard_service.table_csv(council, today, found)
    response = Response(body.encode("utf-8"), mimetype="text/csv")
    response.headers["Content-Disposition"] = f'attachment; filename="{table}-{slug}-{today.isoformat()}.csv"'
    response.headers["Cache-Control"] = "no-store"
    response.headers["X-Content-Type-Options"] = "nosniff"
    return response
