"""The attention counts (account_attention) always equal the entries waiting for a receipt or an explanation.

The work queues, the caseload's "evidence missing" filter and the council dashboard read these counts
instead of searching every entry, so they must move with every path that creates or changes an entry's
state: posting, the card import's batches, the demo's bulk insert, a receipt uploaded, an explanation
given or taken back. Each is checked against counts over entry_states worked out here in plain SQL.
"""

from datetime import date

import sqlalchemy as sa
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from portal.extensions import db
from portal.models import DPAccount, EntryKind, EntrySource, Flag, LedgerEntry
from portal.services import card_import, demo, evidence, ledger, work_queues
from tests.helpers import person_id
from tests.test_card_import import SAMPLE_BYTES, _set_up_sample_budgets
from tests.test_spend_summary import new_account


def from_entries() -> dict[int, tuple[int, int]]:
    """account -> (entries needing a receipt, entries needing an explanation), counted from entry_states."""
    rows = db.session.execute(sa.text("""
        SELECT account_id, SUM(CASE WHEN needs_evidence THEN 1 ELSE 0 END),
               SUM(CASE WHEN needs_explanation THEN 1 ELSE 0 END)
        FROM entry_states GROUP BY account_id""")).all()
    return {account: (int(r), int(e)) for account, r, e in rows if (r, e) != (0, 0)}


def from_counts() -> dict[int, tuple[int, int]]:
    rows = db.session.execute(sa.text(
        "SELECT account_id, receipts_missing, explanations_missing FROM account_attention")).all()
    return {account: (int(r), int(e)) for account, r, e in rows if (r, e) != (0, 0)}


def assert_counts_equal_entries() -> dict[int, tuple[int, int]]:
    db.session.rollback()  # what is committed
    expected = from_entries()
    assert from_counts() == expected
    return expected


def spend(account_id: int, pence: int, *, flags=(), source=EntrySource.MANUAL, threshold=0) -> LedgerEntry:
    return ledger.post(account_id=account_id, kind=EntryKind.SPEND, amount_pence=pence, entry_date=date(2026, 5, 10),
                       source=source, payee="CITY TAXIS", flags=flags, evidence_threshold_pence=threshold)


def attach_receipt(entry: LedgerEntry) -> None:
    pdf = demo.receipt_pdf("City Taxis", entry.entry_date, -entry.amount_pence)
    evidence.attach(entry, evidence.check_and_clean(pdf, "receipt.pdf"), None)


def test_the_demo_money_is_counted(money_app):
    with money_app.app_context():
        counts = assert_counts_equal_entries()
        # The demo leaves some of the personas' receipts missing on purpose (things to do).
        assert sum(r for r, _ in counts.values()) > 0


def test_generated_scale_money_is_counted(money_app):
    with money_app.app_context():
        before = db.session.scalar(sa.select(sa.func.max(DPAccount.id)))
        demo.generate(40, money=True)
        counts = assert_counts_equal_entries()
        # About one card payment in twenty waits for a receipt: forty people's year has some.
        assert any(account > before for account in counts)


def test_a_card_import_is_counted_batch_by_batch(app, tmp_path, monkeypatch):
    _set_up_sample_budgets(app)
    path = tmp_path / "statement.csv"
    path.write_bytes(SAMPLE_BYTES)
    with app.app_context():
        monkeypatch.setattr(card_import, "BATCH_ROWS", 7, raising=False)
        assert card_import.import_file(path).posted > 0
        counts = assert_counts_equal_entries()
        assert any(e for _, e in counts.values()), "the sample statement has flagged payments (cash, unknown payees)"
        card_import.import_file(path)  # again: nothing new, nothing counted twice
        assert from_counts() == counts


def test_posting_counts_only_what_needs_a_receipt_or_an_explanation(app):
    with app.app_context():
        account = new_account(app)
        spend(account, -12_00)  # a receipt
        spend(account, -3_00, threshold=5_00)  # under the council's receipt threshold: none needed
        spend(account, -40_00, source=EntrySource.PAYROLL)  # payroll carries its own documents
        spend(account, -25_00, flags=[Flag.CASH.value])  # a receipt and an explanation
        ledger.post(account_id=account, kind=EntryKind.REFUND, amount_pence=5_00, entry_date=date(2026, 5, 11),
                    source=EntrySource.MANUAL)  # money in: nothing to show
        db.session.commit()
        assert assert_counts_equal_entries()[account] == (2, 1)


def test_a_receipt_answers_its_entry_once(app):
    with app.app_context():
        account = new_account(app)
        entry = spend(account, -18_50)
        spend(account, -7_00)
        db.session.commit()
        assert from_counts()[account] == (2, 0)
        attach_receipt(entry)
        assert assert_counts_equal_entries()[account] == (1, 0)
        attach_receipt(entry)  # a second receipt for the same payment changes nothing
        assert assert_counts_equal_entries()[account] == (1, 0)


def test_an_explanation_given_and_taken_back_moves_the_count(app):
    with app.app_context():
        account = new_account(app)
        entry = spend(account, -60_00, flags=[Flag.CASH.value])
        db.session.commit()
        assert from_counts()[account] == (1, 1)
        ledger.annotate(entry.id, user_id=None, note="explained", explanation="Cash for the window cleaner")
        db.session.commit()
        assert assert_counts_equal_entries()[account] == (1, 0)
        ledger.annotate(entry.id, user_id=None, note="explained again", explanation="Window cleaner, March")
        db.session.commit()
        assert assert_counts_equal_entries()[account] == (1, 0)  # still explained: no second move
        ledger.annotate(entry.id, user_id=None, note="taken back", explanation="  ")
        db.session.commit()
        assert assert_counts_equal_entries()[account] == (1, 1)


def test_the_queue_lists_a_person_while_a_receipt_is_missing_and_not_after(app):
    with app.app_context():
        from portal.models import User
        from portal.services.clock import london_today

        amina = person_id(app, "Amina", "Patel")
        kim = db.session.scalar(sa.select(User).where(User.email.like("kim%")))
        account = db.session.scalar(sa.select(DPAccount.id).where(DPAccount.recipient_id == amina)) or new_account(app)
        for entry_id in db.session.scalars(sa.select(LedgerEntry.id).join(LedgerEntry.state).where(
                LedgerEntry.account_id == account, sa.text("entry_states.needs_evidence"))).all():
            attach_receipt(db.session.get(LedgerEntry, entry_id))

        def listed() -> bool:
            found = work_queues.queue(work_queues.scope_for(kim), london_today(), "receipts-missing")
            return any(item.person_id == amina for item in found.lists.get("receipts-missing", []))

        assert not listed()
        entry = spend(account, -9_99)
        db.session.commit()
        assert listed()
        attach_receipt(entry)
        assert not listed()


@settings(max_examples=20, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow])
@given(steps=st.lists(st.tuples(st.sampled_from(["post", "flagged", "receipt", "explain", "unexplain"]),
                                st.integers(0, 1000)), min_size=1, max_size=12))
def test_any_sequence_keeps_the_counts(app, steps):
    with app.app_context():
        account = new_account(app, "Grace", "Okafor")
        entries: list[int] = []
        for action, pick in steps:
            if action in ("post", "flagged"):
                entries.append(spend(account, -(pick + 1), flags=[Flag.CASH.value] if action == "flagged" else ()).id)
            elif entries:
                entry = db.session.get(LedgerEntry, entries[pick % len(entries)])
                if action == "receipt":
                    attach_receipt(entry)
                else:
                    ledger.annotate(entry.id, user_id=None, note=action, explanation="Agreed" if action == "explain" else "")
            db.session.commit()
        assert_counts_equal_entries()
