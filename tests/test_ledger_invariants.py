"""Ledger invariants: the cached balance always equals the sum of the entries, whatever happens.

A Hypothesis state machine posts, reverses, annotates and imports card statements in any order;
after every step each account's cached balance and entry count must equal its entries, and its counts of
entries waiting for a receipt or an explanation must equal its entry states. The
database itself refuses to change or delete an entry or an annotation (append-only triggers in
migration 0002), and money is integer pence only.
"""

import itertools
import uuid
from datetime import date, timedelta
from decimal import Decimal

import pytest
import sqlalchemy as sa
from hypothesis import HealthCheck, settings
from hypothesis import strategies as st
from hypothesis.stateful import (
    RuleBasedStateMachine,
    initialize,
    invariant,
    precondition,
    rule,
    run_state_machine_as_test,
)

from portal.extensions import db
from portal.models import (
    AccountBalance,
    Category,
    EntryAnnotation,
    EntryKind,
    EntrySource,
    EntryState,
    LedgerEntry,
    PaymentMethod,
)
from portal.services import budgets, card_import, ledger
from tests.helpers import person_id

BASE_DAY = date(2026, 6, 1)
# What can reach the services from a form: requests lose their control characters first (portal.security).
TYPED = st.characters(blacklist_categories=("Cc", "Cs"))
HEADER = "Transaction ID,Card Account,Date,Time,Merchant,Merchant Category Code,Description,Debit,Credit,Balance\n"
MERCHANTS = ["NORTHFIELD CITY COUNCIL", "S CLARKE", "TESCO STORES", "CONTRIBUTION A PATEL", "CITY TAXIS"]
UNKNOWN_CARD = "ZZ-NOT-A-CARD"


def balance_mismatches() -> list[tuple]:
    """Accounts whose cached balance or entry count differs from their entries (empty when all agree)."""
    sums = (
        sa.select(
            LedgerEntry.account_id.label("account_id"),
            sa.func.sum(LedgerEntry.amount_pence).label("total"),
            sa.func.count().label("n"),
        )
        .group_by(LedgerEntry.account_id)
        .subquery()
    )
    rows = db.session.execute(
        sa.select(AccountBalance.account_id, AccountBalance.balance_pence, AccountBalance.entry_count, sums.c.total, sums.c.n)
        .outerjoin(sums, sums.c.account_id == AccountBalance.account_id)
    ).all()
    bad = [r for r in rows if r[1] != (r[3] or 0) or r[2] != (r[4] or 0)]
    # Entries on an account with no balance row at all would be missed by the join above.
    orphans = db.session.execute(
        sa.select(sums.c.account_id).where(sums.c.account_id.not_in(sa.select(AccountBalance.account_id)))
    ).all()
    return bad + [("no balance row", *o) for o in orphans]


def attention_mismatches() -> list[tuple]:
    """Accounts whose attention counts (receipts, explanations) differ from their entry states (empty when all agree)."""
    counted = {account: (int(r), int(e)) for account, r, e in db.session.execute(sa.text(
        "SELECT account_id, SUM(CASE WHEN needs_evidence THEN 1 ELSE 0 END), SUM(CASE WHEN needs_explanation THEN 1 ELSE 0 END)"
        " FROM entry_states GROUP BY account_id")) if (r, e) != (0, 0)}
    kept = {account: (int(r), int(e)) for account, r, e in db.session.execute(sa.text(
        "SELECT account_id, receipts_missing, explanations_missing FROM account_attention")) if (r, e) != (0, 0)}
    return [(account, kept.get(account, (0, 0)), counted.get(account, (0, 0)))
            for account in sorted(set(counted) | set(kept)) if kept.get(account) != counted.get(account)]


def pounds(pence: int) -> str:
    return f"{pence // 100}.{pence % 100:02d}"


def test_the_cached_balance_always_equals_the_entries(app, tmp_path):
    recipients = [person_id(app, "Amina", "Patel"), person_id(app, "Grace", "Okafor"), person_id(app, "Ellen", "Marsh")]
    serial = itertools.count()

    class LedgerMachine(RuleBasedStateMachine):
        def __init__(self):
            super().__init__()
            self.context = app.app_context()
            self.context.push()
            self.accounts: list[tuple[int, str]] = []  # (account id, card reference)
            self.entries: list[int] = []
            self.reversed: set[int] = set()
            self.reversals: set[int] = set()
            self.known_ids: list[str] = []  # transaction ids already imported (posted, confirmed or kept)

        def teardown(self):
            db.session.rollback()
            db.session.remove()
            self.context.pop()

        @initialize()
        def open_accounts(self):
            # Fresh accounts for every example: earlier examples' accounts stay, and stay consistent.
            for recipient_id in recipients:
                card = f"HX-{next(serial)}-{uuid.uuid4().hex[:8]}"
                account = budgets.open_account(recipient_id, PaymentMethod.PREPAID_CARD, BASE_DAY, card_reference=card)
                self.accounts.append((account.id, card))
            db.session.commit()

        @rule(
            which=st.integers(0, 2),
            kind=st.sampled_from(EntryKind),
            amount=st.integers(-2_000_000, 2_000_000),
            offset=st.integers(0, 40),
            source=st.sampled_from([EntrySource.MANUAL, EntrySource.PAYMENT_RUN, EntrySource.PAYROLL]),
        )
        def post(self, which, kind, amount, offset, source):
            account_id = self.accounts[which][0]
            entry = ledger.post(account_id=account_id, kind=kind, amount_pence=amount, entry_date=BASE_DAY + timedelta(days=offset),
                                source=source, payee=MERCHANTS[abs(amount) % len(MERCHANTS)])
            db.session.commit()
            self.entries.append(entry.id)

        @precondition(lambda self: self.entries)
        @rule(pick=st.integers(0, 10**6), offset=st.integers(0, 40))
        def reverse(self, pick, offset):
            entry_id = self.entries[pick % len(self.entries)]
            entry = db.session.get(LedgerEntry, entry_id)
            if entry_id in self.reversed or entry_id in self.reversals:
                with pytest.raises(ValueError):
                    ledger.reverse(entry, user_id=None, reason="again", on=BASE_DAY + timedelta(days=offset))
                db.session.rollback()
                return
            correction = ledger.reverse(entry, user_id=None, reason="keyed twice", on=BASE_DAY + timedelta(days=offset))
            db.session.commit()
            assert correction.amount_pence == -entry.amount_pence
            assert (correction.account_id, correction.kind, correction.reverses_id) == (entry.account_id, entry.kind, entry.id)
            self.reversed.add(entry_id)
            self.reversals.add(correction.id)
            self.entries.append(correction.id)
            # Neither the original nor its correction can be reversed again.
            with pytest.raises(ValueError):
                ledger.reverse(db.session.get(LedgerEntry, entry_id), user_id=None, reason="twice", on=BASE_DAY)
            with pytest.raises(ValueError):
                ledger.reverse(db.session.get(LedgerEntry, correction.id), user_id=None, reason="undo", on=BASE_DAY)
            db.session.rollback()

        @precondition(lambda self: self.entries)
        @rule(pick=st.integers(0, 10**6), category=st.none() | st.sampled_from(Category), explanation=st.none() | st.text(TYPED, max_size=20))
        def annotate(self, pick, category, explanation):
            entry_id = self.entries[pick % len(self.entries)]
            before = db.session.execute(
                sa.select(LedgerEntry.account_id, LedgerEntry.kind, LedgerEntry.amount_pence, LedgerEntry.entry_date)
                .where(LedgerEntry.id == entry_id)
            ).one()
            history = db.session.scalar(sa.select(sa.func.count()).where(EntryAnnotation.entry_id == entry_id))
            ledger.annotate(entry_id, user_id=None, note="recategorised", category=category, explanation=explanation)
            db.session.commit()
            after = db.session.scalar(sa.select(sa.func.count()).where(EntryAnnotation.entry_id == entry_id))
            # The first change also writes down the entry as first recorded.
            assert after == history + (1 if history else 2)
            state = db.session.get(EntryState, entry_id)
            assert state.category == category
            # Annotating never touches the money.
            assert db.session.execute(
                sa.select(LedgerEntry.account_id, LedgerEntry.kind, LedgerEntry.amount_pence, LedgerEntry.entry_date)
                .where(LedgerEntry.id == entry_id)
            ).one() == before

        @rule(
            rows=st.lists(
                st.tuples(
                    st.integers(0, 3),  # 3: a card account the portal does not know
                    st.integers(-50_000, 50_000),  # 0: a row the import rejects
                    st.integers(0, 40),
                    st.sampled_from(MERCHANTS),
                    st.none() | st.integers(0, 10**6),  # None: a fresh transaction id; else repeat a known one
                ),
                min_size=1,
                max_size=6,
            ),
            reimport=st.booleans(),
        )
        def import_statement(self, rows, reimport):
            lines, duplicates, rejected, ids = [], 0, 0, []
            known = set(self.known_ids)
            for which, amount, offset, merchant, repeat in rows:
                if repeat is not None and (self.known_ids or ids):
                    pool = self.known_ids + ids
                    txn = pool[repeat % len(pool)]
                else:
                    txn = f"HX{next(serial)}-{uuid.uuid4().hex[:10]}"
                card = self.accounts[which][1] if which < 3 else UNKNOWN_CARD
                debit, credit = (pounds(-amount), "") if amount < 0 else ("", pounds(amount))
                day = (BASE_DAY + timedelta(days=offset)).strftime("%d/%m/%Y")
                lines.append(f"{txn},{card},{day},09:00,{merchant},,Test row,{debit},{credit},\n")
                if amount == 0:
                    rejected += 1
                    continue
                if txn in known:
                    duplicates += 1
                else:
                    known.add(txn)
                    ids.append(txn)
            path = tmp_path / f"statement-{next(serial)}.csv"
            path.write_text(HEADER + "".join(lines), encoding="utf-8")
            report = card_import.import_file(path)
            assert report.file_error is None
            assert report.rows_read == len(rows)
            assert len(report.rejected) == rejected
            assert report.duplicates == duplicates
            assert report.posted + report.confirmed + report.unknown_accounts == len(rows) - rejected - duplicates
            self.known_ids.extend(ids)
            if reimport:
                # Importing the same file again changes nothing.
                again = card_import.import_file(path)
                assert (again.posted, again.confirmed, again.unknown_accounts) == (0, 0, 0)
                assert again.duplicates == len(rows) - rejected
            self.entries.extend(db.session.scalars(
                sa.select(LedgerEntry.id).where(LedgerEntry.external_id.in_(ids)).order_by(LedgerEntry.id)
            ))

        @invariant()
        def balances_equal_entries(self):
            if not self.accounts:
                return
            db.session.rollback()  # read what is committed
            assert balance_mismatches() == []
            assert attention_mismatches() == []
            # The machine's own accounts, one by one (the figures the pages show).
            for account_id, _ in self.accounts:
                assert ledger.balance(account_id) == ledger.balance_from_entries(account_id)

    run_state_machine_as_test(
        LedgerMachine,
        settings=settings(max_examples=25, stateful_step_count=15, deadline=None,
                          suppress_health_check=[HealthCheck.too_slow, HealthCheck.function_scoped_fixture]),
    )


# The database refuses changes ------------------------------------------------------------------


def _entry(app) -> tuple[int, int]:
    """A committed entry with an annotation history; returns (entry id, account id)."""
    amina = person_id(app, "Amina", "Patel")
    with app.app_context():
        account = budgets.open_account(amina, PaymentMethod.BANK_ACCOUNT, BASE_DAY)
        entry = ledger.post(account_id=account.id, kind=EntryKind.SPEND, amount_pence=-2345, entry_date=BASE_DAY,
                            source=EntrySource.MANUAL, payee="CITY TAXIS")
        db.session.commit()
        ledger.annotate(entry.id, user_id=None, note="recategorised", category=Category.TRAVEL)
        db.session.commit()
        return entry.id, account.id


def test_the_database_refuses_to_update_a_ledger_entry(app):
    entry_id, _ = _entry(app)
    with app.app_context():
        with pytest.raises(sa.exc.DatabaseError):
            db.session.execute(sa.update(LedgerEntry).where(LedgerEntry.id == entry_id).values(amount_pence=-1))
            db.session.flush()
        db.session.rollback()
        entry = db.session.get(LedgerEntry, entry_id)
        entry.entry_date = BASE_DAY + timedelta(days=3)
        with pytest.raises(sa.exc.DatabaseError):
            db.session.commit()
        db.session.rollback()
        with pytest.raises(sa.exc.DatabaseError):
            db.session.execute(sa.text("UPDATE ledger_entries SET description = 'changed'"))
        db.session.rollback()
        entry = db.session.get(LedgerEntry, entry_id)
        assert (entry.amount_pence, entry.entry_date, entry.description) == (-2345, BASE_DAY, "")


def test_the_database_refuses_to_delete_a_ledger_entry(app):
    entry_id, account_id = _entry(app)
    with app.app_context():
        with pytest.raises(sa.exc.DatabaseError):
            db.session.execute(sa.delete(LedgerEntry).where(LedgerEntry.id == entry_id))
        db.session.rollback()
        with pytest.raises(sa.exc.DatabaseError):
            db.session.execute(sa.text("DELETE FROM ledger_entries"))
        db.session.rollback()
        assert db.session.get(LedgerEntry, entry_id) is not None
        assert ledger.balance(account_id) == ledger.balance_from_entries(account_id) == -2345


def test_the_database_refuses_to_update_or_delete_an_annotation(app):
    entry_id, _ = _entry(app)
    with app.app_context():
        notes = db.session.scalars(sa.select(EntryAnnotation.note).where(EntryAnnotation.entry_id == entry_id).order_by(EntryAnnotation.id)).all()
        assert notes == ["as first recorded", "recategorised"]
        with pytest.raises(sa.exc.DatabaseError):
            db.session.execute(sa.update(EntryAnnotation).where(EntryAnnotation.entry_id == entry_id).values(note="rewritten"))
        db.session.rollback()
        annotation = db.session.scalar(sa.select(EntryAnnotation).where(EntryAnnotation.entry_id == entry_id).limit(1))
        annotation.category = Category.OTHER
        with pytest.raises(sa.exc.DatabaseError):
            db.session.commit()
        db.session.rollback()
        with pytest.raises(sa.exc.DatabaseError):
            db.session.execute(sa.delete(EntryAnnotation).where(EntryAnnotation.entry_id == entry_id))
        db.session.rollback()
        assert db.session.scalar(sa.select(sa.func.count()).where(EntryAnnotation.entry_id == entry_id)) == 2


def test_the_current_annotation_can_change_without_touching_the_entry(app):
    entry_id, _ = _entry(app)
    with app.app_context():
        ledger.annotate(entry_id, user_id=None, note="explained", explanation="Taxi to the day centre")
        db.session.commit()
        state = db.session.get(EntryState, entry_id)
        assert (state.category, state.explanation) == (Category.TRAVEL, "Taxi to the day centre")
        assert db.session.scalar(sa.select(sa.func.count()).where(EntryAnnotation.entry_id == entry_id)) == 3


@pytest.mark.parametrize("amount", [12.5, 100.0, Decimal("1.00"), "100", None])
def test_ledger_post_refuses_money_that_is_not_integer_pence(app, amount):
    amina = person_id(app, "Amina", "Patel")
    with app.app_context():
        account = budgets.open_account(amina, PaymentMethod.BANK_ACCOUNT, BASE_DAY)
        db.session.commit()
        with pytest.raises(TypeError):
            ledger.post(account_id=account.id, kind=EntryKind.SPEND, amount_pence=amount, entry_date=BASE_DAY,
                        source=EntrySource.MANUAL)
        db.session.commit()
        assert db.session.scalar(sa.select(sa.func.count()).select_from(LedgerEntry)) == 0
        assert ledger.balance(account.id) == 0


def test_a_reversal_cannot_be_reversed_and_an_entry_is_reversed_once(app):
    entry_id, account_id = _entry(app)
    with app.app_context():
        entry = db.session.get(LedgerEntry, entry_id)
        correction = ledger.reverse(entry, user_id=None, reason="keyed twice", on=BASE_DAY)
        db.session.commit()
        with pytest.raises(ValueError, match="already been reversed"):
            ledger.reverse(db.session.get(LedgerEntry, entry_id), user_id=None, reason="again", on=BASE_DAY)
        with pytest.raises(ValueError, match="cannot itself be reversed"):
            ledger.reverse(db.session.get(LedgerEntry, correction.id), user_id=None, reason="undo", on=BASE_DAY)
        db.session.rollback()
        assert ledger.balance(account_id) == ledger.balance_from_entries(account_id) == 0
        assert db.session.get(EntryState, correction.id).category == Category.TRAVEL
