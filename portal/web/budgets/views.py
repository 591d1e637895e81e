"""Budgets and support plans: read by anyone who may see the record, changed by DPSS managers and council officers.

Every page sits under /people/<id>/ so whose record it is is in the URL, and a budget is only found
through the recipient it belongs to (recipient_or_404, then the budget of that recipient, else 404).

Answers waiting on a check page live in the session under a key that names the person (and the
budget), so two tabs open on two people never mix. The service's rules (BudgetError) are tried when
the question page is sent, inside a savepoint that is always rolled back, so a message shows beside
the answer it is about; the check page then does the work for real, and says so again if the rule
refuses it now.
"""

from dataclasses import dataclass
from datetime import date
from decimal import Decimal

import sqlalchemy as sa
from flask import (
    Blueprint,
    abort,
    current_app,
    flash,
    redirect,
    render_template,
    request,
    session,
    url_for,
)
from flask_login import current_user
from sqlalchemy.orm import selectinload
from wtforms import SelectChoice

from portal.access import (
    BUDGET_MANAGERS,
    CASE_VIEWERS,
    capacity_caption,
    recipient_or_404,
    requires,
)
from portal.extensions import db
from portal.models import (
    Budget,
    BudgetKind,
    BudgetSuspension,
    BudgetVersion,
    Category,
    Delivery,
    Organisation,
    OrganisationKind,
    PaymentMethod,
    Recipient,
    SupportPlan,
)
from portal.services import budgets
from portal.services.budgets import Amounts, BudgetError, Line
from portal.services.clock import london_today
from portal.web.budgets.forms import (
    BudgetForm,
    ChangeAmountsForm,
    ConfirmForm,
    EndForm,
    PlanForm,
    ResumeForm,
    SuspendForm,
    category_label,
    pence_as_text,
)
from portal.web.helpers import audit

bp = Blueprint("budgets", __name__, url_prefix="/people")

# Which answer a service message is about, so it shows beside that answer.
AMOUNT_FIELDS = {
    "The weekly amount must be more than £0": "gross",
    "The contribution cannot be less than £0": "contribution",
    "The contribution cannot be more than the weekly amount": "contribution",
    "The whole personal budget cannot be less than the part paid as a direct payment": "personal_budget",
}
NEW_BUDGET_FIELDS = {
    **AMOUNT_FIELDS,
    "Enter the card account reference": "card_reference",
    "That card account reference belongs to another account": "card_reference",
    "Select the support service that holds the managed account": "managed_by",
    "The end date must be on or after the start date": "end_date",
    "The first payment cannot be before the direct payment was agreed": "first_payment",
}
CHANGE_FIELDS = {
    **AMOUNT_FIELDS,
    "The change cannot start before the budget": "effective_from",
    "The change cannot start after the budget ends": "effective_from",
    "There is already a change from that date": "effective_from",
    "Enter the reason for the change": "reason",
}


# Loading and small helpers ---------------------------------------------------------------------


def _is_budget_manager() -> bool:
    return any(rule.allows(current_user) for rule in BUDGET_MANAGERS)


def _budget_or_404(recipient: Recipient, budget_id: int) -> Budget:
    """One of this recipient's budgets, or 404 (never someone else's, whatever the id)."""
    budget = db.session.scalar(
        sa.select(Budget).where(Budget.id == budget_id, Budget.recipient_id == recipient.person_id)
    )
    if budget is None:
        abort(404)
    return budget


def _page(template: str, recipient: Recipient, **context):
    return render_template(template, recipient=recipient, caption=capacity_caption(current_user, recipient), **context)


def _key(kind: str, person_id: int, budget_id: int | None = None) -> str:
    """The session key for answers waiting to be checked: the person (and budget) are part of it."""
    return f"answers:{kind}:{person_id}" + (f":{budget_id}" if budget_id is not None else "")


def _remember(key: str, answers: dict) -> bool:
    """Keep answers for the check page; False if the session cookie would grow too big for a browser to keep."""
    serializer = current_app.session_interface.get_signing_serializer(current_app)
    if len(serializer.dumps({**session, key: answers})) > current_app.config["MAX_COOKIE_SIZE"] - 200:
        return False
    session[key] = answers
    return True


class _DryRun(Exception):
    """Raised to roll back a savepoint after a rule has been tried."""


def _rule_refuses(action) -> str | None:
    """Try a service call in a savepoint that is always rolled back: its BudgetError message, or None."""
    try:
        with db.session.begin_nested():
            action()
            raise _DryRun
    except _DryRun:
        return None
    except BudgetError as error:
        return str(error)


def _add_error(form, message: str, fields: dict[str, str], default: str) -> None:
    field = getattr(form, fields.get(message, default))
    field.errors = [*field.errors, message]


def _day(text: str | None) -> date | None:
    return date.fromisoformat(text) if text else None


def _iso(day: date | None) -> str | None:
    return day.isoformat() if day else None


def _amounts(answers: dict) -> Amounts:
    return Amounts(
        gross_weekly_pence=answers["gross"],
        contribution_weekly_pence=answers["contribution"],
        council_pays_net=answers["pays"] == "net",
        personal_budget_weekly_pence=answers.get("personal_budget"),
    )


def _in_force(budget: Budget, today: date) -> BudgetVersion | None:
    """The version in force today (or on the last day of an ended budget, or the first if not started)."""
    day = min(today, budget.end_date) if budget.end_date else today
    return budgets.version_on(budget, day) or (budget.versions[0] if budget.versions else None)


def _providers() -> list[Organisation]:
    return list(db.session.scalars(
        sa.select(Organisation).where(Organisation.kind == OrganisationKind.DPSS).order_by(Organisation.name)
    ))


def _provider_choices(recipient: Recipient) -> list[SelectChoice]:
    """Support services that can hold a managed account, the recipient's own first."""
    providers = _providers()
    own = recipient.caseload_entry.provider_id if recipient.caseload_entry else None
    providers.sort(key=lambda o: (o.id != own, o.name))
    return [SelectChoice("", "Choose a support service")] + [SelectChoice(str(o.id), o.name) for o in providers]


# Reading -----------------------------------------------------------------------------------------


@dataclass
class BudgetSummary:
    budget: Budget
    version: BudgetVersion | None
    suspension: BudgetSuspension | None
    ended: bool
    managed_by: str


@bp.get("/<int:person_id>/budgets")
@requires(*CASE_VIEWERS)
def index(person_id: int):
    recipient = recipient_or_404(person_id)
    today = london_today()
    rows = db.session.scalars(
        sa.select(Budget)
        .where(Budget.recipient_id == recipient.person_id)
        .options(selectinload(Budget.versions), selectinload(Budget.suspensions), selectinload(Budget.account))
        .order_by(Budget.start_date.desc(), Budget.id.desc())
    ).all()
    holders = {o.id: o.name for o in _providers()}
    summaries = [
        BudgetSummary(
            budget=b,
            version=_in_force(b, today),
            suspension=budgets.current_suspension(b),
            ended=b.end_date is not None and b.end_date < today,
            managed_by=holders.get(b.account.managed_by_id, "") if b.account.managed_by_id else "",
        )
        for b in rows
    ]
    plans = db.session.scalars(
        sa.select(SupportPlan)
        .where(SupportPlan.recipient_id == recipient.person_id)
        .options(selectinload(SupportPlan.lines))
        .order_by(SupportPlan.effective_from.desc())
    ).all()
    plan = budgets.current_plan(recipient.person_id, today)
    return _page(
        "budgets/index.html", recipient,
        summaries=summaries, plan=plan, plans=plans, today=today, manager=_is_budget_manager(),
        category_label=category_label,
    )


# Adding a budget ---------------------------------------------------------------------------------


def _budget_answers(form: BudgetForm) -> dict:
    method = form.method.data
    mixed = form.delivery.data == Delivery.MIXED.value
    return {
        "kind": form.kind.data,
        "delivery": form.delivery.data,
        "gross": form.gross.pence,
        "contribution": form.contribution.pence or 0,
        "personal_budget": form.personal_budget.pence if mixed else None,
        "pays": form.pays.data,
        "start_date": _iso(form.start_date.data),
        "end_date": _iso(form.end_date.data),
        "agreed_on": _iso(form.agreed_on.data),
        "first_payment": _iso(form.first_payment.data),
        "method": method,
        "card_reference": form.card_reference.data.strip() if method == PaymentMethod.PREPAID_CARD.value else None,
        "managed_by": int(form.managed_by.data) if method == PaymentMethod.MANAGED_ACCOUNT.value else None,
    }


def _budget_form_data(answers: dict) -> dict:
    return {
        **{k: answers[k] for k in ("kind", "delivery", "pays", "method")},
        "gross": pence_as_text(answers["gross"]),
        "contribution": pence_as_text(answers["contribution"]),
        "personal_budget": pence_as_text(answers["personal_budget"]),
        "start_date": _day(answers["start_date"]),
        "end_date": _day(answers["end_date"]),
        "agreed_on": _day(answers["agreed_on"]),
        "first_payment": _day(answers["first_payment"]),
        "card_reference": answers["card_reference"] or "",
        "managed_by": str(answers["managed_by"] or ""),
    }


def _create_budget(recipient: Recipient, answers: dict, user_id: int | None) -> Budget:
    """A new DP account and the budget paid into it (the caller commits, or rolls back)."""
    agreed_on = _day(answers["agreed_on"])
    account = budgets.open_account(
        recipient.person_id, PaymentMethod(answers["method"]), agreed_on,
        card_reference=answers["card_reference"], managed_by_id=answers["managed_by"],
    )
    return budgets.create_budget(
        recipient_id=recipient.person_id, account=account, kind=BudgetKind(answers["kind"]),
        delivery=Delivery(answers["delivery"]), start_date=_day(answers["start_date"]), agreed_on=agreed_on,
        first_payment_date=_day(answers["first_payment"]), amounts=_amounts(answers), end_date=_day(answers["end_date"]),
        user_id=user_id,
    )


def _budget_form(recipient: Recipient, data: dict | None = None, *, fresh: bool = False) -> BudgetForm:
    form = BudgetForm(formdata=None, data=data) if fresh else BudgetForm(data=data)
    form.managed_by.choices = _provider_choices(recipient)
    return form


@bp.route("/<int:person_id>/budgets/new", methods=["GET", "POST"])
@requires(*BUDGET_MANAGERS)
def new_budget(person_id: int):
    recipient = recipient_or_404(person_id)
    key = _key("budget", person_id)
    saved = session.get(key)
    form = _budget_form(recipient, _budget_form_data(saved) if saved and request.method == "GET" else None)
    if form.validate_on_submit():
        answers = _budget_answers(form)
        message = _rule_refuses(lambda: _create_budget(recipient, answers, None))
        if message is None:
            session[key] = answers
            return redirect(url_for(".check_new_budget", person_id=person_id))
        _add_error(form, message, NEW_BUDGET_FIELDS, "gross")
    return _page("budgets/new.html", recipient, form=form)


@bp.route("/<int:person_id>/budgets/new/check", methods=["GET", "POST"])
@requires(*BUDGET_MANAGERS)
def check_new_budget(person_id: int):
    recipient = recipient_or_404(person_id)
    key = _key("budget", person_id)
    answers = session.get(key)
    if answers is None:
        return _page("budgets/start_again.html", recipient, start_url=url_for(".new_budget", person_id=person_id))
    form = ConfirmForm()
    if form.validate_on_submit():
        try:
            budget = _create_budget(recipient, answers, current_user.id)
        except BudgetError as error:
            db.session.rollback()
            again = _budget_form(recipient, _budget_form_data(answers), fresh=True)
            _add_error(again, str(error), NEW_BUDGET_FIELDS, "gross")
            return _page("budgets/new.html", recipient, form=again)
        audit("budget.created", record_type="budget", record_id=budget.id, acting_for_id=recipient.person_id)
        db.session.commit()
        session.pop(key, None)
        return redirect(url_for(".budget_added", person_id=person_id, budget_id=budget.id))
    holders = {o.id: o.name for o in _providers()}
    return _page(
        "budgets/check_new.html", recipient, form=form, a=_readable(answers),
        holder=holders.get(answers["managed_by"], "") if answers["managed_by"] else "",
    )


def _readable(answers: dict) -> dict:
    """Answers with dates as dates, for the templates to format."""
    return {k: (_day(v) if k in DATE_ANSWERS else v) for k, v in answers.items()}


DATE_ANSWERS = {"start_date", "end_date", "agreed_on", "first_payment", "effective_from", "last_day"}


@bp.get("/<int:person_id>/budgets/<int:budget_id>/added")
@requires(*BUDGET_MANAGERS)
def budget_added(person_id: int, budget_id: int):
    recipient = recipient_or_404(person_id)
    budget = _budget_or_404(recipient, budget_id)
    return _page("budgets/added.html", recipient, budget=budget)


# Changing the amounts from a date -----------------------------------------------------------------


def _change_form_data(answers: dict) -> dict:
    return {
        "effective_from": _day(answers["effective_from"]),
        "gross": pence_as_text(answers["gross"]),
        "contribution": pence_as_text(answers["contribution"]),
        "personal_budget": pence_as_text(answers["personal_budget"]),
        "pays": answers["pays"],
        "reason": answers["reason"],
    }


@bp.route("/<int:person_id>/budgets/<int:budget_id>/change", methods=["GET", "POST"])
@requires(*BUDGET_MANAGERS)
def change(person_id: int, budget_id: int):
    recipient = recipient_or_404(person_id)
    budget = _budget_or_404(recipient, budget_id)
    key = _key("change", person_id, budget_id)
    mixed = budget.delivery == Delivery.MIXED
    data = None
    if request.method == "GET":
        saved = session.get(key)
        if saved:
            data = _change_form_data(saved)
        elif (version := _in_force(budget, london_today())) is not None:
            data = {
                "gross": pence_as_text(version.gross_weekly_pence),
                "contribution": pence_as_text(version.contribution_weekly_pence),
                "personal_budget": pence_as_text(version.personal_budget_weekly_pence) if mixed else "",
                "pays": "net" if version.council_pays_net else "gross",
            }
    form = ChangeAmountsForm(data=data)
    form.delivery_value = budget.delivery.value
    if form.validate_on_submit():
        answers = {
            "effective_from": _iso(form.effective_from.data), "gross": form.gross.pence,
            "contribution": form.contribution.pence or 0, "personal_budget": form.personal_budget.pence if mixed else None,
            "pays": form.pays.data, "reason": form.reason.data.strip(),
        }
        message = _rule_refuses(lambda: budgets.change_amounts(
            budget, form.effective_from.data, _amounts(answers), answers["reason"], None))
        if message is None:
            session[key] = answers
            return redirect(url_for(".check_change", person_id=person_id, budget_id=budget_id))
        _add_error(form, message, CHANGE_FIELDS, "gross")
    return _page("budgets/change.html", recipient, form=form, budget=budget, mixed=mixed)


@bp.route("/<int:person_id>/budgets/<int:budget_id>/change/check", methods=["GET", "POST"])
@requires(*BUDGET_MANAGERS)
def check_change(person_id: int, budget_id: int):
    recipient = recipient_or_404(person_id)
    budget = _budget_or_404(recipient, budget_id)
    key = _key("change", person_id, budget_id)
    answers = session.get(key)
    if answers is None:
        return _page("budgets/start_again.html", recipient,
                     start_url=url_for(".change", person_id=person_id, budget_id=budget_id))
    form = ConfirmForm()
    if form.validate_on_submit():
        try:
            version = budgets.change_amounts(budget, _day(answers["effective_from"]), _amounts(answers), answers["reason"],
                                             current_user.id)
        except BudgetError as error:
            db.session.rollback()
            again = ChangeAmountsForm(formdata=None, data=_change_form_data(answers))
            _add_error(again, str(error), CHANGE_FIELDS, "gross")
            mixed = budget.delivery == Delivery.MIXED
            return _page("budgets/change.html", recipient, form=again, budget=budget, mixed=mixed)
        audit("budget.changed", record_type="budget", record_id=budget.id, acting_for_id=recipient.person_id,
              outcome=f"version {version.id}")
        db.session.commit()
        session.pop(key, None)
        flash(f"The new amounts start on {_long(version.effective_from)}.", "success")
        return redirect(url_for(".index", person_id=person_id))
    return _page("budgets/check_change.html", recipient, form=form, budget=budget, a=_readable(answers),
                 was=budgets.version_on(budget, _day(answers["effective_from"])))


def _long(day: date) -> str:
    from portal.web import format_date

    return format_date(day)


# Stopping and restarting payments, ending a budget ------------------------------------------------


@bp.route("/<int:person_id>/budgets/<int:budget_id>/suspend", methods=["GET", "POST"])
@requires(*BUDGET_MANAGERS)
def suspend(person_id: int, budget_id: int):
    recipient = recipient_or_404(person_id)
    budget = _budget_or_404(recipient, budget_id)
    stopped = budgets.current_suspension(budget)
    form = SuspendForm()
    if stopped is None and form.validate_on_submit():
        try:
            budgets.suspend(budget, form.starts_on.data, form.reason.data, current_user.id)
        except BudgetError as error:
            db.session.rollback()
            _add_error(form, str(error), {"Enter the reason for stopping payments": "reason"}, "starts_on")
        else:
            audit("budget.suspended", record_type="budget", record_id=budget.id, acting_for_id=recipient.person_id)
            db.session.commit()
            flash(f"Payments stop from {_long(form.starts_on.data)}.", "success")
            return redirect(url_for(".index", person_id=person_id))
    return _page("budgets/suspend.html", recipient, form=form, budget=budget, stopped=stopped)


@bp.route("/<int:person_id>/budgets/<int:budget_id>/resume", methods=["GET", "POST"])
@requires(*BUDGET_MANAGERS)
def resume(person_id: int, budget_id: int):
    recipient = recipient_or_404(person_id)
    budget = _budget_or_404(recipient, budget_id)
    stopped = budgets.current_suspension(budget)
    form = ResumeForm()
    if stopped is not None and form.validate_on_submit():
        try:
            budgets.resume(budget, form.resumes_on.data, form.reason.data)
        except BudgetError as error:
            db.session.rollback()
            _add_error(form, str(error), {"Enter the reason for restarting payments": "reason"}, "resumes_on")
        else:
            audit("budget.resumed", record_type="budget", record_id=budget.id, acting_for_id=recipient.person_id)
            db.session.commit()
            flash(f"Payments restart from {_long(form.resumes_on.data)}.", "success")
            return redirect(url_for(".index", person_id=person_id))
    return _page("budgets/resume.html", recipient, form=form, budget=budget, stopped=stopped)


@bp.route("/<int:person_id>/budgets/<int:budget_id>/end", methods=["GET", "POST"])
@requires(*BUDGET_MANAGERS)
def end(person_id: int, budget_id: int):
    recipient = recipient_or_404(person_id)
    budget = _budget_or_404(recipient, budget_id)
    key = _key("end", person_id, budget_id)
    saved = session.get(key)
    form = EndForm(data={"last_day": _day(saved["last_day"])} if saved and request.method == "GET" else None)
    if form.validate_on_submit():
        message = _rule_refuses(lambda: budgets.end_budget(budget, form.last_day.data))
        if message is None:
            session[key] = {"last_day": _iso(form.last_day.data)}
            return redirect(url_for(".check_end", person_id=person_id, budget_id=budget_id))
        _add_error(form, message, {}, "last_day")
    return _page("budgets/end.html", recipient, form=form, budget=budget)


@bp.route("/<int:person_id>/budgets/<int:budget_id>/end/check", methods=["GET", "POST"])
@requires(*BUDGET_MANAGERS)
def check_end(person_id: int, budget_id: int):
    recipient = recipient_or_404(person_id)
    budget = _budget_or_404(recipient, budget_id)
    key = _key("end", person_id, budget_id)
    answers = session.get(key)
    if answers is None:
        return _page("budgets/start_again.html", recipient,
                     start_url=url_for(".end", person_id=person_id, budget_id=budget_id))
    form = ConfirmForm()
    last_day = _day(answers["last_day"])
    if form.validate_on_submit():
        try:
            budgets.end_budget(budget, last_day)
        except BudgetError as error:
            db.session.rollback()
            again = EndForm(formdata=None, data={"last_day": last_day})
            _add_error(again, str(error), {}, "last_day")
            return _page("budgets/end.html", recipient, form=again, budget=budget)
        audit("budget.ended", record_type="budget", record_id=budget.id, acting_for_id=recipient.person_id)
        db.session.commit()
        session.pop(key, None)
        flash(f"The budget ends on {_long(last_day)}.", "success")
        return redirect(url_for(".index", person_id=person_id))
    return _page("budgets/check_end.html", recipient, form=form, budget=budget, last_day=last_day)


# The support plan --------------------------------------------------------------------------------


def _plan_form_data(answers: dict) -> dict:
    return {
        "effective_from": _day(answers.get("effective_from")),
        "outcomes": answers["outcomes"],
        "cash_allowed_reason": answers["cash_allowed_reason"],
        "lines": [
            {"category": line["category"], "description": line["description"], "amount": pence_as_text(line["amount"]),
             "hours": line["hours"] or ""}
            for line in answers["lines"]
        ] + [{}],
    }


TOO_LONG = "The plan is too long to check in one go. Shorten the outcomes or the descriptions of the lines"


def _plan_answers(form: PlanForm) -> dict:
    lines = []
    for entry in form.lines.entries:
        line = entry.form
        if line.is_blank():
            continue
        hours = (line.hours.data or "").strip()
        lines.append({"category": line.category.data, "description": line.description.data.strip(),
                      "amount": line.amount.pence, "hours": hours or None})
    return {
        "effective_from": _iso(form.effective_from.data),
        "outcomes": form.outcomes.data.strip(),
        "cash_allowed_reason": (form.cash_allowed_reason.data or "").strip(),
        "lines": lines,
    }


def _plan_clash(recipient: Recipient, day: date) -> str | None:
    """Plans are dated versions, one per day: say so if one already starts on this day."""
    if db.session.scalar(sa.select(SupportPlan.id).where(SupportPlan.recipient_id == recipient.person_id,
                                                         SupportPlan.effective_from == day)):
        return f"There is already a support plan from {_long(day)}. Enter a different date"
    return None


def _create_plan(recipient: Recipient, answers: dict, user_id: int | None) -> SupportPlan:
    lines = [
        Line(category=Category(line["category"]), description=line["description"], amount_per_4_weeks_pence=line["amount"],
             hours_per_week=Decimal(line["hours"]) if line["hours"] else None)
        for line in answers["lines"]
    ]
    return budgets.create_plan(recipient.person_id, _day(answers["effective_from"]), answers["outcomes"], lines,
                               cash_allowed_reason=answers["cash_allowed_reason"], user_id=user_id)


@bp.route("/<int:person_id>/plan/new", methods=["GET", "POST"])
@requires(*BUDGET_MANAGERS)
def new_plan(person_id: int):
    recipient = recipient_or_404(person_id)
    key = _key("plan", person_id)
    data = None
    if request.method == "GET":
        saved = session.get(key)
        current = budgets.current_plan(recipient.person_id, london_today())
        if saved:
            data = _plan_form_data(saved)
        elif current is not None:  # a change to the plan starts from the plan in force
            data = _plan_form_data({
                "outcomes": current.outcomes, "cash_allowed_reason": current.cash_allowed_reason,
                "lines": [{"category": line.category.value, "description": line.description,
                           "amount": line.amount_per_4_weeks_pence,
                           "hours": _hours_text(line.hours_per_week)} for line in current.lines],
            })
    form = PlanForm(data=data)
    if request.method == "POST" and form.add_line.data:
        if len(form.lines.entries) < (form.lines.max_entries or 30):
            form.lines.append_entry()
        return _page("budgets/plan.html", recipient, form=form)
    if form.validate_on_submit():
        answers = _plan_answers(form)
        message = _plan_clash(recipient, form.effective_from.data) or _rule_refuses(
            lambda: _create_plan(recipient, answers, None))
        if message is None and _remember(key, answers):
            return redirect(url_for(".check_plan", person_id=person_id))
        _add_error(form, message or TOO_LONG, {TOO_LONG: "outcomes"}, "effective_from")
    return _page("budgets/plan.html", recipient, form=form)


def _hours_text(hours) -> str | None:
    """Hours as a person would type them: 12.5, not 12.50."""
    return None if hours is None else f"{hours:.2f}".rstrip("0").rstrip(".")


@bp.route("/<int:person_id>/plan/new/check", methods=["GET", "POST"])
@requires(*BUDGET_MANAGERS)
def check_plan(person_id: int):
    recipient = recipient_or_404(person_id)
    key = _key("plan", person_id)
    answers = session.get(key)
    if answers is None:
        return _page("budgets/start_again.html", recipient, start_url=url_for(".new_plan", person_id=person_id))
    form = ConfirmForm()
    if form.validate_on_submit():
        clash = _plan_clash(recipient, _day(answers["effective_from"]))
        try:
            if clash:
                raise BudgetError(clash)
            plan = _create_plan(recipient, answers, current_user.id)
        except BudgetError as error:
            db.session.rollback()
            again = PlanForm(formdata=None, data=_plan_form_data(answers))
            _add_error(again, str(error), {}, "effective_from")
            return _page("budgets/plan.html", recipient, form=again)
        audit("plan.created", record_type="support_plan", record_id=plan.id, acting_for_id=recipient.person_id)
        db.session.commit()
        session.pop(key, None)
        flash(f"The support plan from {_long(plan.effective_from)} has been saved.", "success")
        return redirect(url_for(".index", person_id=person_id))
    return _page("budgets/check_plan.html", recipient, form=form, a=_readable(answers),
                 category_label=category_label)
