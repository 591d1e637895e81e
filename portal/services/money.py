"""What a recipient's money pages show: balance, next payment, spend against the plan, contributions.

Each function fetches what it needs in a fixed number of queries (no query per row).
"""

from collections import defaultdict
from dataclasses import dataclass, field
from datetime import date, timedelta

import sqlalchemy as sa
from sqlalchemy.orm import selectinload

from portal.extensions import db
from portal.models import (
    Budget,
    BudgetKind,
    DPAccount,
    EntryKind,
    EntryState,
    ExcessBalanceReview,
    ExpectedItem,
    ExpectedKind,
    ExpectedStatus,
    LedgerEntry,
    Recipient,
    SupportLine,
    SupportPlan,
)
from portal.services import cycles, excess, ledger
from portal.services.budgets import current_plan
from portal.services.local_settings import Settings, council_settings
from portal.services.payments import PAID_AS_DIRECT_PAYMENT, amounts_for_cycle


@dataclass
class LineSpend:
    label: str
    category: str
    planned_pence: int
    spent_pence: int = 0

    @property
    def left_pence(self) -> int:
        return self.planned_pence - self.spent_pence

    @property
    def percent(self) -> int:
        """How much of the plan is spent, for the bar (capped at 100 so the bar stays in its box)."""
        if self.planned_pence <= 0:
            return 100 if self.spent_pence else 0
        return min(100, round(self.spent_pence * 100 / self.planned_pence))


@dataclass
class Contributions:
    expected_pence: int = 0
    received_pence: int = 0
    owed_pence: int = 0  # due before today and not yet received


@dataclass
class OwedItem:
    """One bill waiting to be paid (an open expected item leaving the account), as a positive amount."""
    description: str
    due_date: date
    amount_pence: int


@dataclass
class MoneySummary:
    account: DPAccount | None
    budget: Budget | None
    balance_pence: int = 0
    owed_pence: int = 0
    owed_items: list[OwedItem] = field(default_factory=list)  # what owed_pence adds up, soonest due first
    next_payment_date: date | None = None
    next_payment_pence: int | None = None
    period_start: date | None = None
    period_end: date | None = None
    period_lines: list[LineSpend] = field(default_factory=list)
    year_start: date | None = None
    year_lines: list[LineSpend] = field(default_factory=list)
    contributions: Contributions = field(default_factory=Contributions)
    review: ExcessBalanceReview | None = None
    excess_now_pence: int = 0
    excess_weeks: int = 4
    needs_receipt: int = 0
    needs_explanation: int = 0
    suspended: bool = False


def main_budget(recipient_id: int, on: date) -> Budget | None:
    """The ongoing direct payment in force (or the latest one), with versions and suspensions loaded."""
    budgets = db.session.scalars(
        sa.select(Budget).where(Budget.recipient_id == recipient_id, Budget.delivery.in_(PAID_AS_DIRECT_PAYMENT))
        .options(selectinload(Budget.versions), selectinload(Budget.suspensions), selectinload(Budget.account))
        .order_by(Budget.start_date.desc(), Budget.id.desc())
    ).all()
    for budget in budgets:
        if budget.kind != BudgetKind.ONE_OFF and budget.start_date <= on and (budget.end_date is None or budget.end_date >= on):
            return budget
    return budgets[0] if budgets else None


def financial_year_start(on: date) -> date:
    return date(on.year if on >= date(on.year, 4, 1) else on.year - 1, 4, 1)


def summary(recipient: Recipient, today: date) -> MoneySummary:
    budget = main_budget(recipient.person_id, today)
    account = budget.account if budget else db.session.scalar(
        sa.select(DPAccount).where(DPAccount.recipient_id == recipient.person_id).order_by(DPAccount.id).limit(1)
    )
    result = MoneySummary(account=account, budget=budget)
    if account is None:
        return result
    settings = council_settings(recipient.council_id, today)
    result.balance_pence = ledger.balance(account.id)
    # Money owed (ledger.money_owed) item by item, in the same one query.
    result.owed_items = [OwedItem(d, due, -amount) for d, due, amount in db.session.execute(
        sa.select(ExpectedItem.description, ExpectedItem.due_date, ExpectedItem.amount_pence)
        .where(ExpectedItem.account_id == account.id, ExpectedItem.status == ExpectedStatus.OPEN, ExpectedItem.amount_pence < 0)
        .order_by(ExpectedItem.due_date, ExpectedItem.id))]
    result.owed_pence = sum(item.amount_pence for item in result.owed_items)
    result.excess_weeks = settings.excess_weeks
    result.needs_receipt, result.needs_explanation = _attention_counts(account.id)
    result.review = excess.open_review(account.id)
    if budget is not None:
        _payments_and_periods(result, budget, settings, today)
        plan = current_plan(recipient.person_id, today)
        result.period_lines = spend_against_plan(account.id, plan, result.period_start, result.period_end, weeks=4)
        result.year_start = financial_year_start(today)
        # The plan's allocation counts only for the weeks it has been in force this year.
        counted_from = max(result.year_start, plan.effective_from, budget.start_date) if plan else result.year_start
        weeks = max(1, ((today - counted_from).days + 1 + 6) // 7)
        result.year_lines = spend_against_plan(account.id, plan, result.year_start, today, weeks=weeks)
        version = next((v for v in reversed(budget.versions) if v.effective_from <= today), budget.versions[0])
        result.excess_now_pence = max(0, excess.position(account.id, version.gross_weekly_pence, settings).excess_pence)
    result.contributions = contributions(account.id, today)
    return result


def _payments_and_periods(result: MoneySummary, budget: Budget, settings: Settings, today: date) -> None:
    start = cycles.cycle_start_on_or_before(settings.cycle_anchor, today)
    result.period_start, result.period_end = start, start + timedelta(days=cycles.CYCLE_DAYS - 1)
    result.suspended = any(s.starts_on <= today and (s.ends_on is None or s.ends_on > today) for s in budget.suspensions)
    following = start + timedelta(days=cycles.CYCLE_DAYS)
    if budget.end_date is None or following <= budget.end_date:
        amounts = amounts_for_cycle(budget, following)
        if amounts.net_pence > 0:
            result.next_payment_date, result.next_payment_pence = following, amounts.net_pence


def _attention_counts(account_id: int) -> tuple[int, int]:
    row = db.session.execute(
        sa.select(
            sa.func.coalesce(sa.func.sum(sa.case((EntryState.needs_evidence, 1), else_=0)), 0),
            sa.func.coalesce(sa.func.sum(sa.case((EntryState.needs_explanation, 1), else_=0)), 0),
        ).where(EntryState.account_id == account_id)
    ).one()
    return int(row[0]), int(row[1])


def line_for(category: str | None, support_line_id: int | None, lines: list[SupportLine]) -> SupportLine | None:
    """The plan line a spend counts against: its own, or the only line of its category."""
    if support_line_id:
        return next((line for line in lines if line.id == support_line_id), None)
    matching = [line for line in lines if category and line.category.value == category]
    return matching[0] if len(matching) == 1 else None


def spend_against_plan(account_id: int, plan: SupportPlan | None, start: date, end: date, weeks: int) -> list[LineSpend]:
    """Spend in [start, end] per support line, with the plan's allocation for that many weeks."""
    rows = db.session.execute(
        sa.select(EntryState.category, EntryState.support_line_id, sa.func.sum(LedgerEntry.amount_pence))
        .join(EntryState, EntryState.entry_id == LedgerEntry.id)
        .where(
            LedgerEntry.account_id == account_id, LedgerEntry.entry_date.between(start, end),
            LedgerEntry.kind.in_([EntryKind.SPEND, EntryKind.REFUND]),
        )
        .group_by(EntryState.category, EntryState.support_line_id)
    ).all()
    lines = list(plan.lines) if plan else []
    result = {line.id: LineSpend(line.description, line.category.value, line.amount_per_4_weeks_pence * weeks // 4) for line in lines}
    other = LineSpend("Not in your support plan, or not yet assigned to a line", "", 0)
    for category, line_id, total in rows:
        category_value = category.value if hasattr(category, "value") else category
        line = line_for(category_value, line_id, lines)
        target = result[line.id] if line else other
        target.spent_pence += -int(total)  # spend is negative in the ledger; refunds reduce it
    out = list(result.values())
    if other.spent_pence:
        out.append(other)
    return out


def contributions(account_id: int, today: date) -> Contributions:
    received = db.session.scalar(
        sa.select(sa.func.coalesce(sa.func.sum(LedgerEntry.amount_pence), 0))
        .where(LedgerEntry.account_id == account_id, LedgerEntry.kind == EntryKind.CONTRIBUTION)
    )
    items = db.session.execute(
        sa.select(ExpectedItem.status, ExpectedItem.due_date, ExpectedItem.amount_pence)
        .where(ExpectedItem.account_id == account_id, ExpectedItem.kind == ExpectedKind.CONTRIBUTION_DUE)
    ).all()
    result = Contributions(received_pence=int(received))
    by_status = defaultdict(int)
    for status, due, amount in items:
        result.expected_pence += amount
        if status == ExpectedStatus.OPEN and due < today:
            by_status["owed"] += amount
    result.owed_pence = by_status["owed"]
    return result
