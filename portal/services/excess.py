"""Excess balances, measured as domain.md says.

The balance just before a new payment is credited, less money owed and the council's contingency,
against N weeks of the gross weekly amount (N a council setting). Over the line:

- while the account has an undecided review (OPEN, or PROPOSED waiting for the council), that review
  is brought up to date instead of another being opened: its balance, money owed, contingency, line,
  excess, reasons, budget and cycle take the latest check's figures, and its version goes up, so a
  page drawn from the old figures (a caseworker's proposal, an officer's approval) is refused as stale.
  A PROPOSED review keeps its proposal. Figures only move forward: a check for a cycle before the
  review's own changes nothing;
- otherwise (no review, or only decided ones: kept, reclaimed, closed) a new review opens.

Each cycle is checked once (the cycle_start of a review is unique per account), however often the
check runs: a cycle that already has a review, decided or not, changes nothing. A balance that has
fallen back under the line leaves an undecided review as it was.
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


@dataclass(frozen=True)
class Checked:
    """What a check did: opened a review, brought the undecided one up to date, or nothing."""

    review: ExcessBalanceReview | None = None
    opened: bool = False
    updated: bool = False


def check(
    *, account_id: int, budget_id: int, cycle_start: date, payment_date: date, gross_weekly_pence: int, settings: Settings
) -> Checked:
    """The check before this cycle's payment: over the line, open a review or update the undecided one."""
    if cycle_start in reviewed_cycles(account_id):
        return Checked()
    pos = position(account_id, gross_weekly_pence, settings, before=payment_date)
    return review_if_over(pos, account_id=account_id, budget_id=budget_id, cycle_start=cycle_start)


def check_before_payment(
    *, account_id: int, budget_id: int, cycle_start: date, payment_date: date, gross_weekly_pence: int, settings: Settings
) -> ExcessBalanceReview | None:
    """As check(): the review opened or updated for this cycle, or None."""
    return check(account_id=account_id, budget_id=budget_id, cycle_start=cycle_start, payment_date=payment_date,
                 gross_weekly_pence=gross_weekly_pence, settings=settings).review


def reviewed_cycles(account_id: int) -> set[date]:
    return set(db.session.scalars(sa.select(ExcessBalanceReview.cycle_start).where(ExcessBalanceReview.account_id == account_id)))


UNDECIDED = (ReviewStatus.OPEN, ReviewStatus.PROPOSED)


def undecided_review(account_id: int) -> ExcessBalanceReview | None:
    """The account's newest review still open or waiting for the council (one, under the rule above;
    reviews opened before it may have left older open ones, which close when the newest is worked)."""
    return db.session.scalar(
        sa.select(ExcessBalanceReview)
        .where(ExcessBalanceReview.account_id == account_id, ExcessBalanceReview.status.in_(UNDECIDED))
        .order_by(ExcessBalanceReview.cycle_start.desc(), ExcessBalanceReview.id.desc())
        .limit(1)
    )


def _figures(pos: Position, budget_id: int, cycle_start: date) -> dict:
    reasons = [OVER_THRESHOLD] + ([NOTHING_OWED] if pos.owed_pence == 0 else [])
    return dict(
        budget_id=budget_id, cycle_start=cycle_start, balance_pence=pos.balance_pence, owed_pence=pos.owed_pence,
        contingency_pence=pos.contingency_pence, threshold_pence=pos.threshold_pence, excess_pence=pos.excess_pence,
        reasons="; ".join(reasons),
    )


def review_if_over(pos: Position, *, account_id: int, budget_id: int, cycle_start: date) -> Checked:
    """The one place a review is opened or updated: over the line, with the figures and reasons that put it there."""
    if pos.excess_pence <= 0:
        return Checked()
    figures = _figures(pos, budget_id, cycle_start)
    for _ in range(3):
        current = undecided_review(account_id)
        if current is None:
            review = ExcessBalanceReview(account_id=account_id, **figures)
            db.session.add(review)
            db.session.flush()
            return Checked(review, opened=True)
        if current.cycle_start >= cycle_start:
            return Checked(current)  # figures from an earlier cycle never overwrite later ones
        # Atomic against the version read: a caseworker or officer deciding it at the same moment wins,
        # and then (decided) the loop opens a new review instead.
        moved = db.session.execute(
            sa.update(ExcessBalanceReview)
            .where(ExcessBalanceReview.id == current.id, ExcessBalanceReview.version == current.version,
                   ExcessBalanceReview.status == current.status)
            .values(version=ExcessBalanceReview.version + 1, **figures)
            .execution_options(synchronize_session=False)
        ).rowcount
        db.session.refresh(current)
        if moved == 1:
            return Checked(current, updated=True)
    return Checked()


def open_if_over(pos: Position, *, account_id: int, budget_id: int, cycle_start: date) -> ExcessBalanceReview | None:
    """As review_if_over (for the card import): the review opened or brought up to date, or None."""
    return review_if_over(pos, account_id=account_id, budget_id=budget_id, cycle_start=cycle_start).review


def open_review(account_id: int) -> ExcessBalanceReview | None:
    return db.session.scalar(
        sa.select(ExcessBalanceReview)
        .where(ExcessBalanceReview.account_id == account_id, ExcessBalanceReview.status == ReviewStatus.OPEN)
        .order_by(ExcessBalanceReview.cycle_start.desc())
        .limit(1)
    )
