"""Your data: download everything the portal holds about a person (subject access), as a zip.

A recipient downloads their own; a representative with manage-level authority downloads the person
they act for (view-level representatives may not: 404); DPSS staff of the person's caseload and the
council officers of the funding council download one for a person they can see. Anyone with a person
record (a PA, a recipient, a representative) downloads their own from their account. Every download
is audited. The zip is made by a POST (CSRF-protected), so a link cannot trigger one.
"""

from flask import Blueprint, current_app, render_template
from flask_login import current_user

from portal.access import (
    COUNCIL_OFFICER,
    DPSS_STAFF,
    PA,
    RECIPIENT,
    REPRESENTATIVE,
    capacity_caption,
    recipient_or_404,
    requires,
)
from portal.extensions import db
from portal.models import RepresentativeLevel
from portal.services import subject_access
from portal.services.clock import london_today
from portal.web.helpers import audit

bp = Blueprint("your_data", __name__)

# Whose data may be downloaded for a recipient: themselves, a manage-level representative, their staff.
FOR_A_RECIPIENT = (RECIPIENT, REPRESENTATIVE, DPSS_STAFF, COUNCIL_OFFICER)
# Who may download their own from their account: everyone with a person record.
FOR_THEMSELVES = (RECIPIENT, REPRESENTATIVE, PA)


def _zip_response(person_id: int):
    export = subject_access.build(person_id)
    name = subject_access.person_name(person_id)
    body = subject_access.zip_bytes(export, name)
    audit("personal_data.exported", record_type="person", record_id=person_id, acting_for_id=person_id,
          outcome=f"{len(export.tables)} tables, {len(export.files)} files")
    db.session.commit()
    response = current_app.response_class(body, mimetype="application/zip")
    response.headers["Content-Disposition"] = f'attachment; filename="your-data-{person_id}-{london_today().isoformat()}.zip"'
    response.headers["Cache-Control"] = "no-store"
    return response


@bp.get("/people/<int:person_id>/your-data")
@requires(*FOR_A_RECIPIENT)
def recipient_page(person_id: int):
    recipient = recipient_or_404(person_id, RepresentativeLevel.MANAGE)
    db.session.commit()
    return render_template("your_data/index.html", recipient=recipient, caption=capacity_caption(current_user, recipient),
                           own=recipient.person_id == current_user.person_id)


@bp.post("/people/<int:person_id>/your-data.zip")
@requires(*FOR_A_RECIPIENT)
def recipient_zip(person_id: int):
    recipient = recipient_or_404(person_id, RepresentativeLevel.MANAGE)
    return _zip_response(recipient.person_id)


@bp.get("/account/your-data")
@requires(*FOR_THEMSELVES)
def own_page():
    return render_template("your_data/index.html", recipient=None, caption="", own=True)


@bp.post("/account/your-data.zip")
@requires(*FOR_THEMSELVES)
def own_zip():
    if current_user.person_id is None:  # pragma: no cover - these roles always have a person record
        from flask import abort

        abort(404)
    return _zip_response(current_user.person_id)
