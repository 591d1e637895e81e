"""Work queues for DPSS staff: the signed-in caseworker's queue, and counts for the whole organisation.

Only DPSS staff (DPSS_STAFF; everyone else 403), and only their own organisation's caseload: a
caseworker their own cases (as access.visible_recipients), a manager every case of the organisation
or, with ?caseworker=<user id>, one member of their own organisation's staff's (another organisation's
user, or no such user: 404; a caseworker asking for a colleague's queue: 403).
"""

import sqlalchemy as sa
from flask import Blueprint, abort, current_app, render_template, request, url_for
from flask_login import current_user
from werkzeug.routing import BuildError

from portal.access import DPSS_STAFF, requires
from portal.extensions import db
from portal.models import Role, TimesheetStatus, User
from portal.services import work_queues as service
from portal.services.clock import london_today
from portal.services.register_options import CHECK_LABELS
from portal.services.work_queues import Item, Scope
from portal.web.helpers import is_htmx, render_page_or_block

bp = Blueprint("work_queues", __name__)

UNASSIGNED = "unassigned"


def _link(endpoints: tuple[str, ...], fallback: tuple[str, dict], **values) -> str:
    """url_for the first of these endpoints the portal has (other parts of it may not have them yet), else the fallback."""
    for endpoint in endpoints:
        if endpoint in current_app.view_functions:
            try:
                return url_for(endpoint, **values)
            except BuildError:
                continue
    return url_for(fallback[0], **fallback[1])


# Where an excess-balance review is worked (its blueprint names the page one of these).
REVIEW_PAGES = ("excess_reviews.review", "excess_reviews.show")


def link_for(item: Item) -> str:
    """Where the item is resolved."""
    person = item.person_id
    kind = item.kind
    if kind == "timesheets-missing":
        return url_for("timesheets.employer_index", person_id=person)
    if kind == "timesheets-waiting":
        if item.status == TimesheetStatus.AWAITING_KEYING and current_user.payroll_permission:
            return url_for("payroll.key_in", timesheet_id=item.record_id)
        return url_for("timesheets.show", timesheet_id=item.record_id)
    if kind == "receipts-missing":
        return url_for("money.transactions", person_id=person, period="all", needs="receipt")
    if kind == "explanations-missing":
        return url_for("money.transactions", person_id=person, period="all", needs="explanation")
    if kind == "contributions-arrears":
        return url_for("money.my_money", person_id=person)
    if kind == "payments-approval":
        return url_for("managed_payments.show", person_id=person, payment_id=item.record_id)
    if kind in ("excess-reviews", "reclaims-proposed"):
        return _link(REVIEW_PAGES, ("money.my_money", {"person_id": person}),
                     person_id=person, review_id=item.record_id)
    if kind == "insurance":
        return url_for("employments.insurance", person_id=person)
    if kind == "register-concerns":
        if item.extra.get("contact_id"):
            return url_for("pa_contacts.detail", contact_id=item.extra["contact_id"])
        return url_for("case_page.show", person_id=person)
    if kind == "contact-requests":
        return url_for("pa_contacts.detail", contact_id=item.record_id)
    if kind == "safeguarding":
        return _link(("casework.concerns",), ("recipient.overview", {"person_id": person}), person_id=person)
    if kind == "reviews-due":
        return url_for("audits.reviews", person_id=person)
    if kind == "audits-due":
        if item.extra.get("in_progress"):
            return url_for("audits.show", person_id=person, audit_id=item.extra["in_progress"])
        return url_for("audits.index", person_id=person)
    if kind == "checks-to-verify":
        return url_for("register.verification", request_id=item.record_id)
    raise KeyError(kind)


ACTIONS = {
    "timesheets-missing": "See timesheets",
    "timesheets-waiting": "Open timesheet",
    "receipts-missing": "See transactions",
    "explanations-missing": "See transactions",
    "contributions-arrears": "See money",
    "payments-approval": "Check and approve",
    "excess-reviews": "Review",
    "reclaims-proposed": "See review",
    "insurance": "Record a policy",
    "register-concerns": "See concern",
    "contact-requests": "See request",
    "safeguarding": "See concern",
    "reviews-due": "Record a review",
    "audits-due": "Audit",
    "checks-to-verify": "Verify",
}


def _staff_member(organisation_id: int, raw: str) -> User:
    """A member of the organisation's DPSS staff by id, or 404 (another organisation's, or nobody)."""
    try:
        user_id = int(raw)
    except ValueError:
        abort(404)
    member = db.session.get(User, user_id)
    if member is None or member.organisation_id != organisation_id or not member.role.is_dpss:
        abort(404)
    return member


def _scope() -> tuple[Scope, User | None, str]:
    """The scope asked for, whose queue it is (None: the whole organisation, or unassigned cases), and the filter value."""
    user = current_user._get_current_object()
    if user.organisation_id is None:
        abort(403)  # DPSS staff always belong to an organisation; without one there is no caseload
    raw = request.args.get("caseworker", "").strip()
    own = service.scope_for(user)
    if not raw:
        return own, (user if own.caseworker_id == user.id else None), ""
    if user.role != Role.DPSS_MANAGER:
        if raw == str(user.id):
            return own, user, ""
        abort(403)  # a caseworker sees their own cases only
    if raw == UNASSIGNED:
        return Scope(user.organisation_id, unassigned=True), None, UNASSIGNED
    member = _staff_member(user.organisation_id, raw)
    return Scope(user.organisation_id, caseworker_id=member.id), member, str(member.id)


@bp.get("/work")
@requires(DPSS_STAFF)
def mine():
    user = current_user._get_current_object()
    scope, whose, chosen = _scope()
    kind = request.args.get("kind", "")
    if kind and kind not in service.BY_SLUG:
        abort(404)
    page = max(1, request.args.get("page", 1, type=int) or 1)
    queue = service.queue(scope, london_today(), kind=kind, page=page)
    staff = service.organisation_staff(user.organisation_id)
    names = {member.id: member.display_name for member in staff}
    if whose is not None and whose.id == user.id:
        subject = "Your cases"
    elif whose is not None:
        subject = f"{whose.display_name}'s cases"
    elif scope.unassigned:
        subject = "Cases with no caseworker"
    else:
        subject = f"Every case at {user.organisation.name}"
    return render_page_or_block(
        "work_queues/mine.html", "results", queue=queue, kinds=service.KINDS, whose=whose, chosen=chosen, subject=subject,
        heading="Your work" if user.role == Role.DPSS_CASEWORKER else "Work",
        keep={"caseworker": chosen} if chosen else {},
        is_manager=user.role == Role.DPSS_MANAGER, staff=staff, names=names, link_for=link_for, actions=ACTIONS,
        check_labels=CHECK_LABELS, unassigned=UNASSIGNED, partial=is_htmx(),
        show_caseworker=scope.caseworker_id is None and not scope.unassigned,
    )


@bp.get("/work/organisation")
@requires(DPSS_STAFF)
def organisation():
    user = current_user._get_current_object()
    if user.organisation_id is None:
        abort(403)
    today = london_today()
    per_worker, whole = service.counts_by_caseworker(user.organisation_id, today)
    cases = service.cases_by_caseworker(user.organisation_id)
    staff = service.organisation_staff(user.organisation_id)
    known = {member.id for member in staff}
    # Anyone else holding cases or work (an account since moved or removed) still shows, so nothing is lost.
    others = sorted(worker for worker in set(per_worker) | set(cases) if worker is not None and worker not in known)
    extra = list(db.session.scalars(sa.select(User).where(User.id.in_(others)).order_by(User.id))) if others else []
    rows = []
    for member in [*staff, *extra]:
        if member.role != Role.DPSS_CASEWORKER and not cases.get(member.id) and not per_worker.get(member.id):
            continue  # a manager holding no cases is not a caseworker
        rows.append(_row(member.id, member.display_name, member, per_worker, cases))
    unassigned = _row(None, "Not assigned to a caseworker", None, per_worker, cases)
    totals = {group: sum(row["groups"][group] for row in [*rows, unassigned]) for group in service.GROUPS}
    return render_template(
        "work_queues/organisation.html", rows=rows, unassigned=unassigned, groups=service.GROUPS, totals=totals,
        total_cases=sum(cases.values()), total_items=sum(row["total"] for row in [*rows, unassigned]),
        whole=whole, kinds=service.BY_SLUG, is_manager=user.role == Role.DPSS_MANAGER, unassigned_value=UNASSIGNED,
    )


def _row(worker: int | None, name: str, member: User | None, per_worker, cases) -> dict:
    found = per_worker.get(worker, {})
    groups = {group: sum(n for slug, n in found.items() if service.BY_SLUG[slug].group == group) for group in service.GROUPS}
    return {
        "id": worker, "name": name, "cases": cases.get(worker, 0), "groups": groups, "total": sum(groups.values()),
        "disabled": bool(member is not None and member.disabled_at is not None),
        "role": member.role if member is not None else None,
    }
