"""Excess-balance reviews: the list for a person, the review with its figures, the caseworker's reason and
proposal, the council officer's decision.

Every page sits under /people/<id>/ and a review is only found through the person it belongs to
(recipient_or_404, then a query on that person's accounts, else 404). Anyone who may see the person
reads the reviews (the person and their representatives too: it is their money). Changes are POSTs
by staff: DPSS staff who can see the person record the reason and proposal while it is open; an
officer of the council that funds the person decides while a reclaim is proposed. Anyone else who
reaches the POST (another council's officer never does: 404) is told nothing changed.
"""

from dataclasses import dataclass, field

from flask import Blueprint, abort, flash, redirect, render_template, url_for
from flask_login import current_user

from portal.access import CASE_STAFF, CASE_VIEWERS, capacity_caption, recipient_or_404, requires
from portal.extensions import db
from portal.models import ExcessBalanceReview, ExcessProposal, Recipient, ReviewStatus, User
from portal.services import excess_reviews as service
from portal.services import ledger
from portal.services.contacts import contacts_for
from portal.sqlite import immediate_transaction
from portal.web import format_pounds
from portal.web.excess_reviews.forms import APPROVE, DecisionForm, WorkForm
from portal.web.helpers import audit

bp = Blueprint("excess_reviews", __name__)

STATUS_TAGS = {
    ReviewStatus.OPEN: "govuk-tag--orange",
    ReviewStatus.PROPOSED: "govuk-tag--blue",
    ReviewStatus.RECLAIMED: "govuk-tag--purple",
    ReviewStatus.KEPT: "govuk-tag--green",
    ReviewStatus.CLOSED: "govuk-tag--grey",
}


def _review_or_404(recipient: Recipient, review_id: int) -> ExcessBalanceReview:
    review = service.review_of(recipient.person_id, review_id)
    if review is None:
        abort(404)
    return review


def _show_url(review: ExcessBalanceReview) -> str:
    return url_for(".show", person_id=review.account.recipient_id, review_id=review.id)


def _name(user_id: int | None) -> str:
    user = db.session.get(User, user_id) if user_id else None
    if user is None:
        return ""
    return user.display_name + (f", {user.organisation.name}" if user.organisation else "")


def _status(review: ExcessBalanceReview) -> tuple[str, str]:
    return service.STATUS_WORDS[review.status], STATUS_TAGS[review.status]


@dataclass
class Event:
    when: object
    text: str


def _history(review: ExcessBalanceReview) -> list[Event]:
    """What happened to the review, oldest first (from its own columns: each step is recorded once)."""
    events = [Event(review.opened_at, "Opened by the payment run's check: " + review.reasons)]
    if review.proposed_at:
        if review.proposal == ExcessProposal.KEEP:
            words = "Kept: the money stays"
        else:
            words = f"Proposed: {review.proposal.value} ({format_pounds(review.proposed_pence)})"
        events.append(Event(review.proposed_at, f"{words}, by {_name(review.proposed_by_id)}. "
                                                f"Reason: {review.reason.value}"))
    if review.decided_at:
        if review.status == ReviewStatus.RECLAIMED:
            words = f"Reclaim approved by {_name(review.decided_by_id)}"
        elif review.status == ReviewStatus.CLOSED:
            words = review.decision_note
        else:
            words = f"Reclaim declined by {_name(review.decided_by_id)}: the money stays"
        events.append(Event(review.decided_at, words))
    return events


def _page(recipient: Recipient, review: ExcessBalanceReview, work_form=None, decision_form=None):
    entry = service.reclaim_entry(review)
    can_work = service.may_work(current_user, review) and service.is_workable(review)
    can_decide = service.may_decide(current_user, review) and review.status == ReviewStatus.PROPOSED
    if can_work and work_form is None:
        work_form = WorkForm(formdata=None, version=str(review.version))
    if work_form is not None:
        work_form.offer(format_pounds(review.excess_pence))
    if can_decide and decision_form is None:
        decision_form = DecisionForm(formdata=None, version=str(review.version))
    if decision_form is not None:
        decision_form.offer(format_pounds(review.proposed_pence), recipient.council.name)
    newest = service.newest_open(review.account_id) if review.status == ReviewStatus.OPEN else None
    shown = (work_form if can_work else None) or (decision_form if can_decide else None)
    extra = {"form": shown} if shown is not None else {}  # base.html reads form.errors for the error summary
    return render_template(
        "excess_reviews/show.html", recipient=recipient, caption=capacity_caption(current_user, recipient),
        review=review, status=_status(review), entry=entry, balance_pence=ledger.balance(review.account_id),
        work_form=work_form if can_work else None, decision_form=decision_form if can_decide else None,
        newer=newest if newest is not None and newest.id != review.id else None,
        proposed_by=_name(review.proposed_by_id), decided_by=_name(review.decided_by_id),
        history=_history(review), because=service.because(review), **extra,
    )


# Reading --------------------------------------------------------------------------------------------


@bp.get("/people/<int:person_id>/excess-reviews")
@requires(*CASE_VIEWERS)
def index(person_id: int):
    recipient = recipient_or_404(person_id)
    reviews = service.reviews_of(recipient.person_id)
    return render_template(
        "excess_reviews/index.html", recipient=recipient, caption=capacity_caption(current_user, recipient),
        reviews=reviews, status=_status, workable={r.id for r in reviews if service.is_workable(r)},
    )


@bp.get("/people/<int:person_id>/excess-reviews/<int:review_id>")
@requires(*CASE_VIEWERS)
def show(person_id: int, review_id: int):
    recipient = recipient_or_404(person_id)
    review = _review_or_404(recipient, review_id)
    return _page(recipient, review)


# Changing -------------------------------------------------------------------------------------------


@bp.post("/people/<int:person_id>/excess-reviews/<int:review_id>")
@requires(*CASE_STAFF)
def act(person_id: int, review_id: int):
    recipient = recipient_or_404(person_id)
    review = _review_or_404(recipient, review_id)
    if current_user.role.is_dpss:
        return _record(recipient, review)
    return _decide(recipient, review)


def _refused(review: ExcessBalanceReview, error: service.ReviewError, form=None) -> bool:
    """Put field problems beside their answers (True), or flash the refusal for a redirect (False)."""
    fields = [(form._fields.get(name) if form is not None and name else None, message) for name, message in error.problems]
    if all(f is not None for f, _ in fields):
        for f, message in fields:
            f.errors = [*f.errors, message]
        return True
    flash(error.message, "info" if isinstance(error, service.AlreadyApproved) else "error")
    return False


def _record(recipient: Recipient, review: ExcessBalanceReview):
    if not service.is_workable(review):
        flash("This review is not open to change. Nothing was changed.", "error")
        return redirect(_show_url(review))
    form = WorkForm()
    form.offer(format_pounds(review.excess_pence))
    if not form.validate_on_submit():
        return _page(recipient, review, work_form=form)
    work = form.work()
    try:
        with immediate_transaction():
            service.record(review, current_user, work, form.version_number())
            audit("excess_review.recorded", record_type="excess_review", record_id=review.id,
                  acting_for_id=recipient.person_id, outcome=review.status.value)
    except service.ReviewError as error:
        if _refused(review, error, form):
            return _page(recipient, review, work_form=form)
        return redirect(_show_url(review))
    if review.status == ReviewStatus.KEPT:
        flash(f"Review saved: the money stays in {recipient.full_name}'s account.", "success")
    else:
        flash(f"Reclaim of {format_pounds(review.proposed_pence)} proposed. {recipient.council.name} has been told "
              "and will approve or decline it.", "success")
    return redirect(_show_url(review))


def _decide(recipient: Recipient, review: ExcessBalanceReview):
    if review.status == ReviewStatus.RECLAIMED:
        flash(service.AlreadyApproved().message, "info")
        return redirect(_show_url(review))
    if review.status != ReviewStatus.PROPOSED or not service.may_decide(current_user, review):
        flash("This review is not waiting for a decision. Nothing was changed.", "error")
        return redirect(_show_url(review))
    form = DecisionForm()
    form.offer(format_pounds(review.proposed_pence), recipient.council.name)
    if not form.validate_on_submit():
        return _page(recipient, review, decision_form=form)
    approve = form.decision.data == APPROVE
    try:
        with immediate_transaction():
            if approve:
                service.approve(review, current_user, form.version_number())
            else:
                service.decline(review, current_user, form.version_number(), form.decision_note.data or "")
            audit("excess_review.approved" if approve else "excess_review.declined", record_type="excess_review",
                  record_id=review.id, acting_for_id=recipient.person_id)
    except service.ReviewError as error:
        if _refused(review, error, form):
            return _page(recipient, review, decision_form=form)
        return redirect(_show_url(review))
    if approve:
        flash(f"Reclaim approved: {format_pounds(review.proposed_pence)} was taken from {recipient.full_name}'s "
              f"account and returned to {recipient.council.name}. They have been told, with how to challenge it.",
              "success")
    else:
        flash("Reclaim declined: the money stays in the account. The support service has been told.", "success")
    return redirect(_show_url(review))


# The person's money page ---------------------------------------------------------------------------


@dataclass
class MoneyPageExcess:
    """What the money page shows of excess-balance reviews (its block marked "excess_reviews")."""

    reclaims: list = field(default_factory=list)
    to_review: int = 0
    waiting: int = 0
    any_reviews: bool = False


@bp.app_template_global("excess_on_money_page")
def excess_on_money_page(recipient: Recipient) -> MoneyPageExcess:
    """Reclaims made in the last year (everyone who sees the page), and counts for staff's link."""
    result = MoneyPageExcess(reclaims=service.reclaims_for(recipient.person_id))
    if current_user.is_authenticated and current_user.is_staff:
        reviews = service.reviews_of(recipient.person_id)
        result.any_reviews = bool(reviews)
        result.to_review = sum(1 for r in reviews if service.is_workable(r))
        result.waiting = sum(1 for r in reviews if r.status == ReviewStatus.PROPOSED)
    return result


@bp.app_template_global("excess_contacts")
def excess_contacts(recipient: Recipient) -> str:
    """Who to contact to challenge a reclaim: the support worker and the council, with phone numbers."""
    parts = []
    for contact in contacts_for(recipient):
        name = f"the {contact.name[:1].lower()}{contact.name[1:]}" if contact.role == "Your council" else contact.name
        words = f"{name} at {contact.organisation}"
        if contact.phone:
            words += f" on {contact.phone}"
        parts.append(words)
    return " or ".join(parts)
