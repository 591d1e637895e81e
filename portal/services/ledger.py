"""Posting to the ledger: entries never change, the balance cache, the spend summaries and the counts of
entries waiting for a receipt or an explanation move in the same transaction.

Callers commit. Every function here adds to the session only, so an entry, its state, its history
and the balance change land together or not at all.
"""

import enum
from collections.abc import Iterable
from datetime import date, timedelta

import sqlalchemy as sa
from sqlalchemy.dialects import postgresql, sqlite

from portal.extensions import db
from portal.models import (
    AccountAttention,
    AccountBalance,
    Category,
    EntryAnnotation,
    EntryKind,
    EntrySource,
    EntryState,
    ExpectedItem,
    ExpectedStatus,
    LedgerEntry,
    Payee,
    SpendSummary,
)

# Spend from these sources carries its own documents, so it needs no receipt (domain.md, Evidence).
NO_RECEIPT_SOURCES = {EntrySource.PAYROLL, EntrySource.MANAGED_PAYMENT}
# The kinds spend_summaries adds up (what the council dashboard reports).
SUMMARISED_KINDS = (EntryKind.SPEND, EntryKind.REFUND, EntryKind.RECLAIM)


def payee_id(name: str | None) -> int | None:
    """The payee for a name, created on first sight."""
    if not name:
        return None
    name = " ".join(name.split())[:200]
    found = db.session.scalar(sa.select(Payee.id).where(Payee.name == name))
    if found:
        return found
    payee = Payee(name=name)
    db.session.add(payee)
    db.session.flush()
    return payee.id


def needs_evidence(kind: EntryKind, amount_pence: int, source: EntrySource, threshold_pence: int = 0) -> bool:
    return (
        kind == EntryKind.SPEND
        and amount_pence < 0
        and source not in NO_RECEIPT_SOURCES
        and -amount_pence >= threshold_pence
    )


def post(
    *,
    account_id: int,
    kind: EntryKind,
    amount_pence: int,
    entry_date: date,
    source: EntrySource,
    payee: str | None = None,
    description: str = "",
    external_id: str | None = None,
    payment_key: str | None = None,
    category: Category | None = None,
    support_line_id: int | None = None,
    flags: Iterable[str] = (),
    evidence_threshold_pence: int = 0,
    user_id: int | None = None,
    reverses_id: int | None = None,
) -> LedgerEntry:
    if not isinstance(amount_pence, int) or isinstance(amount_pence, bool):
        raise TypeError("Money is integer pence")
    flags = sorted(set(flags))
    entry = LedgerEntry(
        account_id=account_id,
        kind=kind,
        amount_pence=amount_pence,
        entry_date=entry_date,
        payee_id=payee_id(payee),
        description=description[:200],
        source=source,
        external_id=external_id,
        payment_key=payment_key,
        reverses_id=reverses_id,
        created_by_id=user_id,
    )
    db.session.add(entry)
    db.session.flush()
    state = EntryState(
        entry_id=entry.id,
        account_id=account_id,
        category=category,
        support_line_id=support_line_id,
        flags=",".join(flags),
        needs_evidence=needs_evidence(kind, amount_pence, source, evidence_threshold_pence),
        needs_explanation=bool(flags),
    )
    db.session.add(state)
    _move_balance(account_id, amount_pence)
    move_attention({account_id: (int(state.needs_evidence), int(state.needs_explanation))})
    if kind in SUMMARISED_KINDS:
        move_spend({spend_key(account_id, entry_date, kind, category): (amount_pence, 0 if reverses_id else 1)})
    return entry


def _move_balance(account_id: int, amount_pence: int) -> None:
    result = db.session.execute(
        sa.update(AccountBalance)
        .where(AccountBalance.account_id == account_id)
        .values(balance_pence=AccountBalance.balance_pence + amount_pence, entry_count=AccountBalance.entry_count + 1)
    )
    if result.rowcount == 0:
        db.session.add(AccountBalance(account_id=account_id, balance_pence=amount_pence, entry_count=1))
        db.session.flush()


def year_start(day: date) -> date:
    """1 April of the financial year the day is in (as money.financial_year_start)."""
    return date(day.year if (day.month, day.day) >= (4, 1) else day.year - 1, 4, 1)


def year_start_sql(column):
    """The same in SQL, for a date column."""
    if db.session.get_bind().dialect.name == "sqlite":
        return sa.func.date(column, "-3 months", "start of year", "+3 months")
    months = sa.literal_column("INTERVAL '3 months'", sa.Interval)
    return sa.cast(sa.func.date_trunc("year", column - months) + months, sa.Date)


def spend_key(account_id: int, day: date, kind: EntryKind, category: Category | str | None) -> tuple:
    """The spend_summaries row an entry is added up in."""
    return account_id, year_start(day), EntryKind(kind), Category(category).value if category else ""


def add_to_rows(table: sa.Table, keys: list[str], amounts: list[str], rows: list[dict]) -> None:
    """Add each row's amounts to the table's row with the same keys, making it when there is none: an upsert
    (ON CONFLICT DO UPDATE, so two writers adding to a new row both count), the rows in the order given
    (callers sort them, so concurrent writers lock rows alike).

    On PostgreSQL one statement over arrays (unnest): a card import batch moves thousands of rows, and an
    executemany sends a statement for each (half the import's time went on those round trips)."""
    if not rows:
        return
    if db.session.get_bind().dialect.name == "postgresql":
        columns = keys + amounts
        pg = postgresql.dialect()
        arrays = ", ".join(f"CAST(:{c} AS {table.c[c].type.compile(dialect=pg)}[])" for c in columns)
        added = ", ".join(f"{c} = {table.name}.{c} + EXCLUDED.{c}" for c in amounts)
        db.session.execute(
            sa.text(f"INSERT INTO {table.name} ({', '.join(columns)}) SELECT * FROM unnest({arrays}) "
                    f"ON CONFLICT ({', '.join(keys)}) DO UPDATE SET {added}"),
            {c: [row[c]._value_ if isinstance(row[c], enum.Enum) else row[c] for row in rows] for c in columns},
        )
        return
    insert = sqlite.insert(table)
    upsert = insert.on_conflict_do_update(
        index_elements=[table.c[k] for k in keys],
        set_={c: table.c[c] + insert.excluded[c] for c in amounts},
    )
    db.session.execute(upsert, rows)


def move_spend(moves: dict[tuple, tuple[int, int]]) -> None:
    """Add (pence, entries) to spend_summaries rows by spend_key, in key order."""
    moves = {key: value for key, value in moves.items() if value != (0, 0)}
    add_to_rows(SpendSummary.__table__, ["account_id", "year_start", "kind", "category"], ["pence", "entries"], [
        {"account_id": account_id, "year_start": start, "kind": kind, "category": category, "pence": pence, "entries": entries}
        for (account_id, start, kind, category), (pence, entries) in sorted(moves.items())
    ])


def move_attention(moves: dict[int, tuple[int, int]]) -> None:
    """Add (receipts, explanations) to account_attention rows by account, in account order."""
    moves = {account_id: value for account_id, value in moves.items() if value != (0, 0)}
    add_to_rows(AccountAttention.__table__, ["account_id"], ["receipts_missing", "explanations_missing"], [
        {"account_id": account_id, "receipts_missing": receipts, "explanations_missing": explanations}
        for account_id, (receipts, explanations) in sorted(moves.items())
    ])


def attention_counts_sql():
    """(account_id, receipts, explanations) counted from entry_states: what account_attention must equal."""
    return (
        sa.select(EntryState.account_id,
                  sa.func.sum(sa.case((EntryState.needs_evidence.is_(True), 1), else_=0)),
                  sa.func.sum(sa.case((EntryState.needs_explanation.is_(True), 1), else_=0)))
        .where(sa.or_(EntryState.needs_evidence.is_(True), EntryState.needs_explanation.is_(True)))
        .group_by(EntryState.account_id)
    )


def refresh_attention(first_account_id: int) -> None:
    """Recompute account_attention from entry_states for accounts with ids from first_account_id (bulk loads)."""
    db.session.execute(sa.delete(AccountAttention).where(AccountAttention.account_id >= first_account_id))
    db.session.execute(sa.insert(AccountAttention.__table__).from_select(
        ["account_id", "receipts_missing", "explanations_missing"],
        attention_counts_sql().where(EntryState.account_id >= first_account_id),
    ))


def refresh_spend(first_account_id: int) -> None:
    """Recompute spend_summaries from the ledger for accounts with ids from first_account_id (bulk loads)."""
    db.session.execute(sa.delete(SpendSummary).where(SpendSummary.account_id >= first_account_id))
    year = year_start_sql(LedgerEntry.entry_date)
    category = sa.func.coalesce(EntryState.category, "")
    db.session.execute(sa.insert(SpendSummary.__table__).from_select(
        ["account_id", "year_start", "kind", "category", "pence", "entries"],
        sa.select(LedgerEntry.account_id, year, LedgerEntry.kind, category, sa.func.sum(LedgerEntry.amount_pence),
                  sa.func.sum(sa.case((LedgerEntry.reverses_id.is_(None), 1), else_=0)))
        .join(EntryState, EntryState.entry_id == LedgerEntry.id)
        .where(LedgerEntry.account_id >= first_account_id, LedgerEntry.kind.in_(SUMMARISED_KINDS))
        .group_by(LedgerEntry.account_id, year, LedgerEntry.kind, category),
    ))


def reverse(entry: LedgerEntry, *, user_id: int | None, reason: str, on: date) -> LedgerEntry:
    """Correct a mistake with an equal and opposite entry (the original never changes)."""
    if entry.reverses_id is not None:
        raise ValueError("A reversal cannot itself be reversed; post a new entry instead")
    already = db.session.scalar(sa.select(LedgerEntry.id).where(LedgerEntry.reverses_id == entry.id))
    if already:
        raise ValueError("This entry has already been reversed")
    return post(
        account_id=entry.account_id, kind=entry.kind, amount_pence=-entry.amount_pence, entry_date=on,
        source=EntrySource.MANUAL, description=f"Correction: {reason}"[:200], reverses_id=entry.id,
        category=entry.state.category if entry.state else None, user_id=user_id,
    )


def annotate(
    entry_id: int,
    *,
    user_id: int | None,
    note: str,
    category: Category | None = ...,
    support_line_id: int | None = ...,
    explanation: str | None = None,
) -> EntryState:
    """Change an entry's annotation (category, support line, explanation), keeping the history.

    Entries are created with their first annotation in entry_states only (bulk imports stay lean);
    the first change writes that original down before the new one, so the history is complete.
    """
    # Locked, so two people explaining the same payment at once move the attention count once.
    state = db.session.get(EntryState, entry_id, with_for_update=True)
    has_history = db.session.scalar(sa.select(EntryAnnotation.id).where(EntryAnnotation.entry_id == entry_id).limit(1))
    if not has_history:
        db.session.add(
            EntryAnnotation(
                entry_id=entry_id, category=state.category, support_line_id=state.support_line_id, flags=state.flags,
                explanation=state.explanation, note="as first recorded",
            )
        )
    if category is not ... and category != state.category:
        entry = db.session.get(LedgerEntry, entry_id)
        if entry.kind in SUMMARISED_KINDS:
            counted = 0 if entry.reverses_id else 1
            move_spend({
                spend_key(entry.account_id, entry.entry_date, entry.kind, state.category): (-entry.amount_pence, -counted),
                spend_key(entry.account_id, entry.entry_date, entry.kind, category): (entry.amount_pence, counted),
            })
        state.category = category
    if support_line_id is not ...:
        state.support_line_id = support_line_id
    if explanation is not None:
        state.explanation = explanation.strip()[:500]
        needed = bool(state.needs_explanation)
        state.needs_explanation = not state.explanation and bool(state.flags)
        move_attention({state.account_id: (0, int(state.needs_explanation) - int(needed))})
    db.session.add(
        EntryAnnotation(
            entry_id=entry_id, category=state.category, support_line_id=state.support_line_id, flags=state.flags,
            explanation=state.explanation, note=note, created_by_id=user_id,
        )
    )
    return state


def balance(account_id: int) -> int:
    """The cached balance (kept equal to the sum of entries; see tests/test_ledger_invariants.py)."""
    return db.session.scalar(sa.select(AccountBalance.balance_pence).where(AccountBalance.account_id == account_id)) or 0


def balance_from_entries(account_id: int, before: date | None = None) -> int:
    query = sa.select(sa.func.coalesce(sa.func.sum(LedgerEntry.amount_pence), 0)).where(LedgerEntry.account_id == account_id)
    if before is not None:
        query = query.where(LedgerEntry.entry_date < before)
    return int(db.session.scalar(query))


def money_owed(account_id: int) -> int:
    """Money expected to leave the account and not yet gone (open expected items), as a positive sum."""
    total = db.session.scalar(
        sa.select(sa.func.coalesce(sa.func.sum(ExpectedItem.amount_pence), 0)).where(
            ExpectedItem.account_id == account_id,
            ExpectedItem.status == ExpectedStatus.OPEN,
            ExpectedItem.amount_pence < 0,
        )
    )
    return -int(total)


SETTLE_WINDOW_DAYS = 5  # the same window the card import matches in


def settle_matching_expected(entry: LedgerEntry) -> ExpectedItem | None:
    """Settle the open expected item this money movement pays (same account and amount, due within
    5 days), the closest-dated first: a bank payment recorded by hand pays an approved timesheet as a
    statement row would."""
    low = entry.entry_date - timedelta(days=SETTLE_WINDOW_DAYS)
    high = entry.entry_date + timedelta(days=SETTLE_WINDOW_DAYS)
    candidates = db.session.scalars(
        sa.select(ExpectedItem).where(
            ExpectedItem.account_id == entry.account_id, ExpectedItem.status == ExpectedStatus.OPEN,
            ExpectedItem.amount_pence == entry.amount_pence, ExpectedItem.due_date.between(low, high))
    ).all()
    if not candidates:
        return None
    item = min(candidates, key=lambda c: (abs((c.due_date - entry.entry_date).days), c.id))
    item.status = ExpectedStatus.SETTLED
    item.settled_by_id = entry.id
    return item
