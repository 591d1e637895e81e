"""The case page: everything about one person in one place, for their DPSS and their council.

GET /people/<id>/case: DPSS staff and council officers (CASE_STAFF), each only for the people in their
scope (recipient_or_404, so anyone else's case is 404 and the view is audited). Each area is a summary
card with the newest few rows and a "View all" link to the full page. The figures come from
portal.services.case_page, which runs a fixed number of queries whatever the person's history.
"""

from flask import Blueprint, render_template
from flask_login import current_user

from portal.access import CASE_STAFF, capacity_caption, may_manage, recipient_or_404, requires
from portal.services import audits, case_lifecycle, case_page, managed_payments
from portal.services.clock import london_today
from portal.services.excess_reviews import STATUS_WORDS
from portal.web.audits.views import DUE_TAGS
from portal.web.excess_reviews.views import STATUS_TAGS

bp = Blueprint("case_page", __name__)


@bp.get("/people/<int:person_id>/case")
@requires(*CASE_STAFF)
def show(person_id: int):
    recipient = recipient_or_404(person_id)
    user = current_user._get_current_object()
    today = london_today()
    page = case_page.build(recipient, user, today)
    return render_template(
        "case_page/show.html", recipient=recipient, page=page, today=today,
        caption=capacity_caption(user, recipient), can_manage=may_manage(user, recipient),
        reference=case_lifecycle.reference(recipient.person_id), review_words=STATUS_WORDS, review_tags=STATUS_TAGS,
        due_tags=DUE_TAGS, outcome_words=audits.OUTCOME_WORDS, payment_words=managed_payments.STATUS_WORDS,
        payment_kinds=managed_payments.KIND_WORDS,
    )
