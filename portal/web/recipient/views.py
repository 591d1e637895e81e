"""Pages about one recipient. The person is in the URL, so two tabs for two people never mix."""

from flask import Blueprint, render_template
from flask_login import current_user

from portal.access import CASE_VIEWERS, capacity_caption, may_manage, recipient_or_404, requires
from portal.services import employments
from portal.services.clock import london_today
from portal.services.contacts import contacts_for

bp = Blueprint("recipient", __name__, url_prefix="/people")


@bp.get("/<int:person_id>")
@requires(*CASE_VIEWERS)
def overview(person_id: int):
    recipient = recipient_or_404(person_id)
    return render_template(
        "recipient/overview.html",
        recipient=recipient,
        caption=capacity_caption(current_user, recipient),
        can_manage=may_manage(current_user, recipient),
        contacts=contacts_for(recipient),
        duties=employments.duties_needing_attention(recipient.person_id, london_today()),
    )
