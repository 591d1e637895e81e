"""Creating and changing budgets, accounts and support plans (callers commit)."""

from dataclasses import dataclass
from datetime import date
from decimal import Decimal

import sqlalchemy as sa

from portal.extensions import db
from portal.models import (
    AccountBalance,
    Budget,
    BudgetKind,
    BudgetSuspension,
    BudgetVersion,
    Category,
    Delivery,
    DPAccount,
    PaymentMethod,
    SupportLine,
    SupportPlan,
)


class BudgetError(ValueError):
    """A change that the rules do not allow, with a message for the person making it."""


def open_account(recipient_id: int, method: PaymentMethod, opened_on: date, *, card_reference: str | None = None,
                 managed_by_id: int | None = None) -> DPAccount:
    if method == PaymentMethod.PREPAID_CARD and not card_reference:
        raise BudgetError("Enter the card account reference")
    if card_reference and db.session.scalar(sa.select(DPAccount.id).where(DPAccount.card_reference == card_reference)):
        raise BudgetError("That card account reference belongs to another account")
    if method == PaymentMethod.MANAGED_ACCOUNT and not managed_by_id:
        raise BudgetError("Select the support service that holds the managed account")
    account = DPAccount(recipient_id=recipient_id, method=method, card_reference=card_reference or None,
                        managed_by_id=managed_by_id, opened_on=opened_on)
    db.session.add(account)
    db.session.flush()
    db.session.add(AccountBalance(account_id=account.id, balance_pence=0, entry_count=0))
    return account


@dataclass(frozen=True)
class Amounts:
    gross_weekly_pence: int
    contribution_weekly_pence: int = 0
    council_pays_net: bool = True
    personal_budget_weekly_pence: int | None = None


def _check_amounts(amounts: Amounts) -> None:
    if amounts.gross_weekly_pence <= 0:
        raise BudgetError("The weekly amount must be more than £0")
    if amounts.contribution_weekly_pence < 0:
        raise BudgetError("The contribution cannot be less than £0")
    if amounts.contribution_weekly_pence > amounts.gross_weekly_pence:
        raise BudgetError("The contribution cannot be more than the weekly amount")
    if amounts.personal_budget_weekly_pence is not None and amounts.personal_budget_weekly_pence < amounts.gross_weekly_pence:
        raise BudgetError("The whole personal budget cannot be less than the part paid as a direct payment")


def create_budget(*, recipient_id: int, account: DPAccount, kind: BudgetKind, delivery: Delivery, start_date: date,
                  agreed_on: date, first_payment_date: date, amounts: Amounts, end_date: date | None = None,
                  user_id: int | None = None) -> Budget:
    _check_amounts(amounts)
    if end_date and end_date < start_date:
        raise BudgetError("The end date must be on or after the start date")
    if agreed_on > first_payment_date:
        raise BudgetError("The first payment cannot be before the direct payment was agreed")
    budget = Budget(recipient_id=recipient_id, account_id=account.id, kind=kind, delivery=delivery, start_date=start_date,
                    end_date=end_date, agreed_on=agreed_on, first_payment_date=first_payment_date, created_by_id=user_id)
    db.session.add(budget)
    db.session.flush()
    _add_version(budget, start_date, amounts, "Budget agreed", user_id)
    return budget


def _add_version(budget: Budget, effective_from: date, amounts: Amounts, reason: str, user_id) -> BudgetVersion:
    version = BudgetVersion(
        budget_id=budget.id, effective_from=effective_from, gross_weekly_pence=amounts.gross_weekly_pence,
        contribution_weekly_pence=amounts.contribution_weekly_pence, council_pays_net=amounts.council_pays_net,
        personal_budget_weekly_pence=amounts.personal_budget_weekly_pence or amounts.gross_weekly_pence,
        reason=reason[:300], created_by_id=user_id,
    )
    db.session.add(version)
    db.session.flush()
    return version


def change_amounts(budget: Budget, effective_from: date, amounts: Amounts, reason: str, user_id: int | None) -> BudgetVersion:
    """A new version from a date. Cycles already paid are adjusted by the next payment run."""
    _check_amounts(amounts)
    if effective_from < budget.start_date:
        raise BudgetError("The change cannot start before the budget")
    if budget.end_date and effective_from > budget.end_date:
        raise BudgetError("The change cannot start after the budget ends")
    if any(v.effective_from == effective_from for v in budget.versions):
        raise BudgetError("There is already a change from that date")
    if not reason.strip():
        raise BudgetError("Enter the reason for the change")
    return _add_version(budget, effective_from, amounts, reason, user_id)


def current_suspension(budget: Budget) -> BudgetSuspension | None:
    return next((s for s in budget.suspensions if s.ends_on is None), None)


def suspend(budget: Budget, starts_on: date, reason: str, user_id: int | None) -> BudgetSuspension:
    if not reason.strip():
        raise BudgetError("Enter the reason for stopping payments")
    if current_suspension(budget):
        raise BudgetError("Payments are already stopped")
    suspension = BudgetSuspension(budget_id=budget.id, starts_on=starts_on, reason=reason.strip()[:300], created_by_id=user_id)
    db.session.add(suspension)
    db.session.flush()
    db.session.refresh(budget)
    return suspension


def resume(budget: Budget, resumes_on: date, reason: str) -> BudgetSuspension:
    suspension = current_suspension(budget)
    if suspension is None:
        raise BudgetError("Payments are not stopped")
    if resumes_on <= suspension.starts_on:
        raise BudgetError("Payments must restart after the day they stopped")
    if not reason.strip():
        raise BudgetError("Enter the reason for restarting payments")
    suspension.ends_on, suspension.resume_reason = resumes_on, reason.strip()[:300]
    return suspension


def end_budget(budget: Budget, last_day: date) -> None:
    if last_day < budget.start_date:
        raise BudgetError("The last day cannot be before the budget started")
    budget.end_date = last_day


def version_on(budget: Budget, day: date) -> BudgetVersion | None:
    found = None
    for version in budget.versions:
        if version.effective_from <= day:
            found = version
    return found


@dataclass(frozen=True)
class Line:
    category: Category
    description: str
    amount_per_4_weeks_pence: int
    hours_per_week: Decimal | None = None


def create_plan(recipient_id: int, effective_from: date, outcomes: str, lines: list[Line], *, cash_allowed_reason: str = "",
                user_id: int | None = None) -> SupportPlan:
    if not lines:
        raise BudgetError("Add at least one support line")
    plan = SupportPlan(recipient_id=recipient_id, effective_from=effective_from, outcomes=outcomes,
                       cash_allowed_reason=cash_allowed_reason, created_by_id=user_id)
    db.session.add(plan)
    db.session.flush()
    for position, line in enumerate(lines):
        if line.amount_per_4_weeks_pence < 0:
            raise BudgetError("A support line cannot be less than £0")
        db.session.add(SupportLine(plan_id=plan.id, position=position, category=line.category, description=line.description,
                                   amount_per_4_weeks_pence=line.amount_per_4_weeks_pence, hours_per_week=line.hours_per_week))
    db.session.flush()
    return plan


def current_plan(recipient_id: int, on: date) -> SupportPlan | None:
    return db.session.scalar(
        sa.select(SupportPlan).where(SupportPlan.recipient_id == recipient_id, SupportPlan.effective_from <= on)
        .order_by(SupportPlan.effective_from.desc()).limit(1)
    )
