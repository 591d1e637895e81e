"""The council's 4-weekly payment run.

Posts every payment due on or before a date for active budgets: gross less contribution where the
council pays net, part cycles prorated by days. Each posting commits on its own with a unique key
(budget, cycle, kind), so running twice, or again after a crash part-way, posts each payment once.
Before each cycle's payment the excess check runs (portal.services.excess): over the line it opens a
review, or brings the account's undecided review up to date rather than opening another.
"""

from dataclasses import dataclass, field
from datetime import date, timedelta

import sqlalchemy as sa
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import selectinload

from portal.extensions import db
from portal.models import (
    Budget,
    BudgetKind,
    BudgetVersion,
    Delivery,
    EntryKind,
    EntrySource,
    ExpectedItem,
    ExpectedKind,
    ExpectedStatus,
    LedgerEntry,
    PaymentConfirmation,
    Recipient,
)
from portal.services import cycles, excess, ledger
from portal.services.local_settings import council_settings

PAID_AS_DIRECT_PAYMENT = (Delivery.DIRECT_PAYMENT, Delivery.MIXED)


@dataclass
class RunReport:
    as_of: date
    budgets: int = 0
    payments_posted: int = 0
    adjustments_posted: int = 0
    already_paid: int = 0
    contributions_expected: int = 0
    reviews_opened: int = 0
    reviews_updated: int = 0  # an undecided review brought up to date instead of another opened
    total_pence: int = 0
    skipped: list[str] = field(default_factory=list)


def payment_key(budget_id: int, cycle_start: date, kind: str) -> str:
    return f"budget:{budget_id}:cycle:{cycle_start.isoformat()}:{kind}"


@dataclass(frozen=True)
class CycleAmounts:
    gross_pence: int
    contribution_pence: int
    net_pence: int
    gross_weekly_pence: int  # in force at the payment date, for the excess line


def amounts_for_cycle(budget: Budget, cycle_start: date, covered: list[tuple[date, date]] = ()) -> CycleAmounts:
    """What a cycle pays: suspended days and days already paid under another cycle start are left out."""
    paused = [(s.starts_on, s.ends_on) for s in budget.suspensions] + list(covered)
    versions = budget.versions
    gross = cycles.prorate(
        cycles.stretches_in_cycle(cycle_start, [(v.effective_from, v.gross_weekly_pence) for v in versions], budget.start_date, budget.end_date, paused)
    )
    contribution = cycles.prorate(
        cycles.stretches_in_cycle(cycle_start, [(v.effective_from, v.contribution_weekly_pence) for v in versions], budget.start_date, budget.end_date, paused)
    )
    pay_day = max(cycle_start, budget.start_date)
    version = _version_on(versions, pay_day)
    net = gross - contribution if version is not None and version.council_pays_net else gross
    return CycleAmounts(gross, contribution, net, version.gross_weekly_pence if version else 0)


def _version_on(versions: list[BudgetVersion], day: date) -> BudgetVersion | None:
    found = None
    for version in versions:
        if version.effective_from <= day:
            found = version
    return found or (versions[0] if versions else None)


def run(as_of: date, *, council_id: int | None = None, user_id: int | None = None) -> RunReport:
    report = RunReport(as_of=as_of)
    query = (
        sa.select(Budget)
        .where(Budget.start_date <= as_of, Budget.delivery.in_(PAID_AS_DIRECT_PAYMENT))
        .options(selectinload(Budget.versions), selectinload(Budget.suspensions), selectinload(Budget.recipient))
        .order_by(Budget.id)
    )
    if council_id is not None:
        query = query.join(Recipient, Recipient.person_id == Budget.recipient_id).where(Recipient.council_id == council_id)
    budget_ids = db.session.scalars(query.with_only_columns(Budget.id)).all()
    for budget_id in budget_ids:
        budget = db.session.scalar(query.where(Budget.id == budget_id))
        report.budgets += 1
        if not budget.versions:
            report.skipped.append(f"budget {budget.id}: no amounts")
            continue
        if budget.kind == BudgetKind.ONE_OFF:
            _pay_one_off(budget, as_of, report, user_id)
            continue
        settings = council_settings(budget.recipient.council_id, as_of)
        paid_cycles = _paid_cycle_starts(budget.id)
        # Every cycle up to the run date, past the budget's end too: a cycle paid in advance and then
        # ended back-dated must be taken back by an adjustment.
        for cycle_start in cycles.cycle_starts(settings.cycle_anchor, budget.start_date, as_of):
            pay_day = max(cycle_start, budget.start_date)
            if pay_day > as_of:
                continue
            # Days already paid under another cycle start (the council moved its cycle anchor) are not paid again.
            covered = [(start, start + timedelta(days=cycles.CYCLE_DAYS)) for start in paid_cycles if start != cycle_start]
            _pay_cycle(budget, cycle_start, pay_day, settings, report, user_id, as_of, covered)
        db.session.expire_all()
    # The set-up step "first payment made" comes from the ledger, never typed in twice.
    from portal.services.case_lifecycle import note_first_payments

    note_first_payments()
    return report


def _pay_one_off(budget: Budget, as_of: date, report: RunReport, user_id: int | None) -> None:
    """A one-off direct payment is paid once, on its first-payment date, at the first version's amount."""
    if budget.first_payment_date > as_of:
        return
    _post_once(
        report, "payments_posted",
        account_id=budget.account_id, kind=EntryKind.COUNCIL_PAYMENT, amount_pence=budget.versions[0].gross_weekly_pence,
        entry_date=budget.first_payment_date, source=EntrySource.PAYMENT_RUN, payee=None,
        description="One-off direct payment", payment_key=payment_key(budget.id, budget.first_payment_date, "one-off"),
        user_id=user_id,
    )


def _paid_cycle_starts(budget_id: int) -> list[date]:
    pattern = f"budget:{budget_id}:cycle:%:payment"
    keys = db.session.scalars(
        sa.union_all(
            sa.select(LedgerEntry.payment_key).where(LedgerEntry.payment_key.like(pattern)),
            sa.select(PaymentConfirmation.payment_key).where(PaymentConfirmation.payment_key.like(pattern)),
        )
    )
    return [date.fromisoformat(key.split(":")[3]) for key in keys]


def _paid_so_far(prefix: str) -> tuple[int, int]:
    """(pence, entries) paid for a cycle: posted by runs, or claimed from an imported statement."""
    by_key = sa.select(LedgerEntry.amount_pence).where(LedgerEntry.payment_key.startswith(prefix))
    claimed = (
        sa.select(LedgerEntry.amount_pence)
        .join(PaymentConfirmation, PaymentConfirmation.entry_id == LedgerEntry.id)
        .where(PaymentConfirmation.payment_key.startswith(prefix))
    )
    amounts = db.session.scalars(sa.union_all(by_key, claimed)).all()
    return sum(amounts), len(amounts)


def _claim_imported_payment(budget: Budget, key: str, pay_day: date, net_pence: int) -> bool:
    """A statement imported before the run may hold this payment already: claim it rather than pay twice."""
    window = timedelta(days=5)
    already_claimed = sa.select(PaymentConfirmation.entry_id)
    entry_id = db.session.scalar(
        sa.select(LedgerEntry.id)
        .where(
            LedgerEntry.account_id == budget.account_id, LedgerEntry.kind == EntryKind.COUNCIL_PAYMENT,
            LedgerEntry.source == EntrySource.CARD_IMPORT, LedgerEntry.amount_pence == net_pence,
            LedgerEntry.entry_date.between(pay_day - window, pay_day + window), LedgerEntry.id.not_in(already_claimed),
        )
        .order_by(LedgerEntry.entry_date, LedgerEntry.id)
        .limit(1)
    )
    if entry_id is None:
        return False
    db.session.add(PaymentConfirmation(payment_key=key, entry_id=entry_id))
    return True


def _pay_cycle(budget, cycle_start, pay_day, settings, report: RunReport, user_id, as_of: date, covered) -> None:
    amounts = amounts_for_cycle(budget, cycle_start, covered)
    prefix = payment_key(budget.id, cycle_start, "")
    paid, posted = _paid_so_far(prefix)
    if posted == 0:
        if amounts.net_pence <= 0:
            return
        if _claim_imported_payment(budget, prefix + "payment", pay_day, amounts.net_pence):
            if amounts.contribution_pence and _version_on(budget.versions, pay_day).council_pays_net:
                _expect_contribution(budget, cycle_start, pay_day, amounts.contribution_pence)
            try:
                db.session.commit()
                report.already_paid += 1
            except IntegrityError:
                db.session.rollback()
            return
        checked = excess.check(
            account_id=budget.account_id, budget_id=budget.id, cycle_start=cycle_start, payment_date=pay_day,
            gross_weekly_pence=amounts.gross_weekly_pence, settings=settings,
        )
        report.reviews_opened += checked.opened
        report.reviews_updated += checked.updated
        if amounts.contribution_pence and budget.versions and _version_on(budget.versions, pay_day).council_pays_net:
            _expect_contribution(budget, cycle_start, pay_day, amounts.contribution_pence)
            report.contributions_expected += 1
        _post_once(
            report, "payments_posted",
            account_id=budget.account_id, kind=EntryKind.COUNCIL_PAYMENT, amount_pence=amounts.net_pence,
            entry_date=pay_day, source=EntrySource.PAYMENT_RUN, payee=budget.recipient.council.name,
            description="Direct payment, 4-weekly", payment_key=prefix + "payment", user_id=user_id,
        )
    elif paid != amounts.net_pence:
        # A back-dated change to a cycle already paid: the difference, as an adjustment paid on the run day.
        _update_expected_contribution(budget, cycle_start, pay_day, amounts.contribution_pence, posted)
        _post_once(
            report, "adjustments_posted",
            account_id=budget.account_id, kind=EntryKind.COUNCIL_PAYMENT, amount_pence=amounts.net_pence - paid,
            entry_date=max(pay_day, as_of), source=EntrySource.PAYMENT_RUN,
            payee=budget.recipient.council.name, description="Adjustment for a change to your budget",
            payment_key=f"{prefix}adjustment:{posted}", user_id=user_id,
        )
    else:
        report.already_paid += 1


def _update_expected_contribution(budget: Budget, cycle_start: date, due: date, contribution_pence: int, posted: int) -> None:
    """Keep the contribution expected for a cycle in step with a back-dated change."""
    key = payment_key(budget.id, cycle_start, "contribution")
    item = db.session.scalar(sa.select(ExpectedItem).where(ExpectedItem.key == key))
    if item is None:
        if contribution_pence > 0:
            _expect_contribution(budget, cycle_start, due, contribution_pence)
        return
    if item.status == ExpectedStatus.OPEN:
        item.amount_pence = contribution_pence
        if contribution_pence == 0:
            item.status = ExpectedStatus.CANCELLED
        return
    # Already paid: expect only the difference (an overpayment is for people, not the run, to settle).
    settled = db.session.scalar(
        sa.select(sa.func.coalesce(sa.func.sum(ExpectedItem.amount_pence), 0)).where(ExpectedItem.key.startswith(key))
    )
    if contribution_pence > settled:
        db.session.add(ExpectedItem(
            account_id=budget.account_id, kind=ExpectedKind.CONTRIBUTION_DUE, amount_pence=contribution_pence - settled,
            due_date=due, status=ExpectedStatus.OPEN, key=f"{key}:change:{posted}",
            description="The rest of your contribution after a change to your budget",
        ))


def _expect_contribution(budget: Budget, cycle_start: date, due: date, amount_pence: int) -> None:
    key = payment_key(budget.id, cycle_start, "contribution")
    if db.session.scalar(sa.select(ExpectedItem.id).where(ExpectedItem.key == key)):
        return
    item = ExpectedItem(
        account_id=budget.account_id, kind=ExpectedKind.CONTRIBUTION_DUE, amount_pence=amount_pence,
        due_date=due, status=ExpectedStatus.OPEN, key=key, description="Your contribution for this 4 weeks",
    )
    # Already received, from a statement imported before this run? Then it is expected and settled at once.
    window = timedelta(days=5)
    received = db.session.scalar(
        sa.select(LedgerEntry.id).where(
            LedgerEntry.account_id == budget.account_id, LedgerEntry.kind == EntryKind.CONTRIBUTION,
            LedgerEntry.amount_pence == amount_pence, LedgerEntry.entry_date.between(due - window, due + window),
            LedgerEntry.id.not_in(sa.select(ExpectedItem.settled_by_id).where(ExpectedItem.settled_by_id.is_not(None))),
        ).order_by(LedgerEntry.entry_date, LedgerEntry.id).limit(1)
    )
    if received is not None:
        item.status, item.settled_by_id = ExpectedStatus.SETTLED, received
    db.session.add(item)


def _post_once(report: RunReport, counter: str, **entry) -> None:
    try:
        ledger.post(**entry)
        db.session.commit()
    except IntegrityError:
        # Another run posted this key first: nothing to do.
        db.session.rollback()
        report.already_paid += 1
        return
    setattr(report, counter, getattr(report, counter) + 1)
    report.total_pence += entry["amount_pence"]
