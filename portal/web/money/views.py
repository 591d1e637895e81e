"""A recipient's money: My money and Transactions (and explaining a flagged transaction)."""

from dataclasses import dataclass
from datetime import date, timedelta

import sqlalchemy as sa
from flask import Blueprint, abort, flash, redirect, render_template, request, url_for
from flask_login import current_user

from portal.access import (
    CASE_VIEWERS,
    MONEY_EDITORS,
    accounts_of,
    capacity_caption,
    entry_or_404,
    may_manage,
    recipient_or_404,
    requires,
)
from portal.extensions import db
from portal.models import Category, EntryState, Flag, LedgerEntry, Payee, RepresentativeLevel, Role
from portal.services import evidence, ledger, money
from portal.services.clock import london_today
from portal.services.contacts import contacts_for
from portal.web.helpers import audit, render_page_or_block
from portal.web.money.forms import ExplainForm

bp = Blueprint("money", __name__, url_prefix="/people")
PAGE_SIZE = 25
PERIODS = {
    "4w": ("The last 4 weeks", 28),
    "3m": ("The last 3 months", 92),
    "12m": ("The last 12 months", 366),
    "all": ("All time", None),
}
FLAG_QUESTIONS = {
    Flag.CASH.value: "This was a cash withdrawal. Tell us what the cash was spent on.",
    Flag.GAMBLING.value: "This payment went to a betting or gambling company. Tell us what it was for.",
    Flag.ALCOHOL.value: "This payment went to a shop that sells alcohol. Tell us what it was for.",
    Flag.TOBACCO.value: "This payment went to a tobacco shop. Tell us what it was for.",
    Flag.OUTSIDE_PLAN.value: "This kind of spending is not in the support plan. Tell us how it meets the needs in the plan.",
}


@bp.get("/<int:person_id>/money")
@requires(*CASE_VIEWERS)
def my_money(person_id: int):
    recipient = recipient_or_404(person_id)
    today = london_today()
    summary = money.summary(recipient, today)
    show_year = request.args.get("show") == "year"
    return render_page_or_block(
        "money/my_money.html", "spending",
        recipient=recipient, summary=summary, show_year=show_year, today=today,
        caption=capacity_caption(current_user, recipient), can_manage=may_manage(current_user, recipient),
        contacts=contacts_for(recipient), own=current_user.role == Role.RECIPIENT,
        has_bank_account=bool(evidence.bank_accounts(recipient)),
    )


@dataclass
class Filters:
    period: str
    category: str
    needs_receipt: bool
    needs_explanation: bool

    def args(self) -> dict:
        args = {"period": self.period}
        if self.category:
            args["category"] = self.category
        if self.needs_receipt:
            args["needs"] = ["receipt"] + (["explanation"] if self.needs_explanation else [])
        elif self.needs_explanation:
            args["needs"] = ["explanation"]
        return args


def _filters() -> Filters:
    period = request.args.get("period", "3m")
    category = request.args.get("category", "")
    needs = request.args.getlist("needs")
    return Filters(
        period=period if period in PERIODS else "3m",
        category=category if category in {c.value for c in Category} else "",
        needs_receipt="receipt" in needs,
        needs_explanation="explanation" in needs,
    )


@bp.get("/<int:person_id>/transactions")
@requires(*CASE_VIEWERS)
def transactions(person_id: int):
    recipient = recipient_or_404(person_id)
    filters = _filters()
    account_ids = [a.id for a in accounts_of(recipient)]
    query = (
        sa.select(LedgerEntry, EntryState, Payee.name)
        .join(EntryState, EntryState.entry_id == LedgerEntry.id)
        .outerjoin(Payee, Payee.id == LedgerEntry.payee_id)
        .where(LedgerEntry.account_id.in_(account_ids))
    )
    days = PERIODS[filters.period][1]
    if days:
        query = query.where(LedgerEntry.entry_date > london_today() - timedelta(days=days))
    if filters.category:
        query = query.where(EntryState.category == Category(filters.category))
    if filters.needs_receipt:
        query = query.where(EntryState.needs_evidence.is_(True))
    if filters.needs_explanation:
        query = query.where(EntryState.needs_explanation.is_(True))
    # Keyset paging, newest first: "older than this date and id".
    before = request.args.get("before", "")
    if ":" in before:
        day, _, entry_id = before.partition(":")
        try:
            key = (date.fromisoformat(day), int(entry_id))
        except ValueError:
            abort(400)
        query = query.where(sa.tuple_(LedgerEntry.entry_date, LedgerEntry.id) < key)
    rows = db.session.execute(query.order_by(LedgerEntry.entry_date.desc(), LedgerEntry.id.desc()).limit(PAGE_SIZE + 1)).all()
    more = len(rows) > PAGE_SIZE
    rows = rows[:PAGE_SIZE]
    older = f"{rows[-1][0].entry_date.isoformat()}:{rows[-1][0].id}" if more else None
    receipts = evidence.evidence_for_entries([entry.id for entry, state, _payee in rows if state.evidence_count])
    return render_page_or_block(
        "money/transactions.html", "results",
        recipient=recipient, rows=rows, filters=filters, periods=PERIODS, categories=list(Category), older=older,
        receipts=receipts,
        caption=capacity_caption(current_user, recipient), can_manage=may_manage(current_user, recipient),
        first_page=not before,
    )


@bp.route("/<int:person_id>/transactions/<int:entry_id>/explain", methods=["GET", "POST"])
@requires(*MONEY_EDITORS)
def explain(person_id: int, entry_id: int):
    recipient = recipient_or_404(person_id, RepresentativeLevel.MANAGE)
    entry = entry_or_404(recipient, entry_id)
    state = entry.state
    if not state.flag_list:
        abort(404)
    form = ExplainForm(explanation=state.explanation) if request.method == "GET" else ExplainForm()
    if form.validate_on_submit():
        ledger.annotate(entry.id, user_id=current_user.id, note="explained", explanation=form.explanation.data)
        audit("transaction.explained", record_type="ledger_entry", record_id=entry.id, acting_for_id=recipient.person_id)
        db.session.commit()
        flash("Thank you. Your explanation has been saved.", "success")
        return redirect(url_for("money.transactions", person_id=person_id))
    return render_template(
        "money/explain.html", recipient=recipient, entry=entry, state=state, form=form,
        questions=[FLAG_QUESTIONS.get(f, "") for f in state.flag_list],
        caption=capacity_caption(current_user, recipient),
    )
