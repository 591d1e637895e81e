"""Health check for load balancers and monitoring."""

import sqlalchemy as sa
from flask import Blueprint, jsonify

from portal.access import public
from portal.extensions import db

bp = Blueprint("status", __name__)


@bp.get("/healthz")
@public
def healthz():
    try:
        db.session.execute(sa.text("SELECT 1"))
    except Exception:  # noqa: BLE001 - any database failure means "not healthy"
        db.session.rollback()
        return jsonify(status="error", database="unreachable"), 503
    return jsonify(status="ok", database="ok")
