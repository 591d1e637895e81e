"""Excess balances, measured as domain.md says.

The balance just before a new payment is credited, less money owed and the council's contingency,
against N weeks of the gross weekly amount (N a council setting). Over the line, a review opens:
once per cycle (a unique key), however often the check runs.
"""

from dataclasses import dataclass
from datetime import date

import sqlalchemy as sa

from portal.extensions import db
from portal.models import ExcessBalanceReview, ReviewStatus
from portal.services import ledger
from portal.services.local_settings import Settings

OVER_THRESHOLD = "balance over the excess line"
NOTHING_OWED = "no money owed to cover it"


@dataclass(frozen=True)
class Position:
    balance_pence: int
    owed_pence: int
    contingency_pence: int
    threshold_pence: int

    @property
    def excess_pence(self) -> int:
        return self.balance_pence - self.owed_pence - self.contingency_pence - self.threshold_pence


def position(account_id: int, gross_weekly_pence: int, settings: Settings, before: date | None = None) -> Position:
    balance = ledger.balance_from_entries(account_id, before=before) if before else ledger.balance(account_id)
    return Position(
        balance_pence=balance,
        owed_pence=ledger.money_owed(account_id),
        contingency_pence=settings.contingency_pence,
        threshold_pence=settings.excess_weeks * gross_weekly_pence,
    )


def check_before_payment(
    *, account_id: int, budget_id: int, cycle_start: date, payment_date: date, gross_weekly_pence: int, settings: Settings
) -> ExcessBalanceReview | None:
    """Open a review for this cycle if the balance before the payment is over the line (once per cycle)."""
    if cycle_start in reviewed_cycles(account_id):
        return None
    pos = position(account_id, gross_weekly_pence, settings, before=payment_date)
    return open_if_over(pos, account_id=account_id, budget_id=budget_id, cycle_start=cycle_start)


def reviewed_cycles(account_id: int) -> set[date]:
    return set(db.session.scalars(sa.select(ExcessBalanceReview.cycle_start).where(ExcessBalanceReview.account_id == account_id)))


def open_if_over(pos: Position, *, account_id: int, budget_id: int, cycle_start: date) -> ExcessBalanceReview | None:
    """The one place a review is opened: over the line, with the figures and reasons that put it there."""
    if pos.excess_pence <= 0:
        return None
    reasons = [OVER_THRESHOLD] + ([NOTHING_OWED] if pos.owed_pence == 0 else [])
    review = ExcessBalanceReview(
        account_id=account_id, budget_id=budget_id, cycle_start=cycle_start, balance_pence=pos.balance_pence,
        owed_pence=pos.owed_pence, contingency_pence=pos.contingency_pence, threshold_pence=pos.threshold_pence,
        excess_pence=pos.excess_pence, reasons="; ".join(reasons),
    )
    db.session.add(review)
    db.session.flush()
    return review


def open_review(account_id: int) -> ExcessBalanceReview | None:
    return db.session.scalar(
        sa.select(ExcessBalanceReview)
        .where(ExcessBalanceReview.account_id == account_id, ExcessBalanceReview.status == ReviewStatus.OPEN)
        .order_by(ExcessBalanceReview.cycle_start.desc())
        .limit(1)
    )
