"""The spend summary cache (spend_summaries) always equals the ledger it adds up.

Spend, refunds and reclaims per account, financial year (from 1 April), kind and current category:
pence summed and entries counted (reversals add their pence but are not counted as entries, as the
dashboard counts reclaims made). Checked after the demo, generated scale data, a card import,
recategorising, reversals and a Hypothesis sequence of posts, against sums over ledger_entries
joined to entry_states computed here (years worked out in Python, not with the code under test).
"""

from collections import defaultdict
from datetime import date, timedelta

import sqlalchemy as sa
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from portal.extensions import db
from portal.models import (
    Category,
    DPAccount,
    EntryKind,
    EntrySource,
    LedgerEntry,
    PaymentMethod,
    Recipient,
    User,
)
from portal.services import budgets, card_import, dashboard, demo, ledger
from portal.services.clock import london_today
from tests.helpers import person_id
from tests.test_card_import import SAMPLE_BYTES, _set_up_sample_budgets

SUMMARISED = ("spend", "refund", "reclaim")


def fy_start(day: date) -> date:
    return date(day.year if day.month >= 4 else day.year - 1, 4, 1)


def as_date(value) -> date:
    return value if isinstance(value, date) else date.fromisoformat(str(value)[:10])


def from_ledger() -> dict[tuple, tuple[int, int]]:
    """(account, year start, kind, category or '') -> (pence, entries that are not reversals), from the ledger."""
    sums: dict[tuple, list[int]] = defaultdict(lambda: [0, 0])
    for account_id, day, kind, category, pence, originals in db.session.execute(sa.text("""
        SELECT le.account_id, le.entry_date, le.kind, COALESCE(es.category, ''), SUM(le.amount_pence),
               SUM(CASE WHEN le.reverses_id IS NULL THEN 1 ELSE 0 END)
        FROM ledger_entries le JOIN entry_states es ON es.entry_id = le.id
        WHERE le.kind IN ('spend', 'refund', 'reclaim')
        GROUP BY le.account_id, le.entry_date, le.kind, COALESCE(es.category, '')""")):
        key = (account_id, fy_start(as_date(day)), kind, category)
        sums[key][0] += int(pence)
        sums[key][1] += int(originals)
    return {key: tuple(value) for key, value in sums.items() if value != [0, 0]}


def from_summary() -> dict[tuple, tuple[int, int]]:
    rows = db.session.execute(sa.text(
        "SELECT account_id, year_start, kind, category, pence, entries FROM spend_summaries")).all()
    keys = [(a, as_date(y), k, c) for a, y, k, c, _, _ in rows]
    assert len(keys) == len(set(keys)), "one row per account, year, kind and category"
    return {(a, as_date(y), k, c): (int(p), int(n)) for a, y, k, c, p, n in rows if (p, n) != (0, 0)}


def assert_summary_equals_ledger() -> dict:
    expected = from_ledger()
    assert from_summary() == expected
    return expected


def new_account(app, given_name="Amina", family="Patel") -> int:
    account = budgets.open_account(person_id(app, given_name, family), PaymentMethod.BANK_ACCOUNT, date(2026, 1, 1))
    db.session.commit()
    return account.id


def post(account_id: int, kind: EntryKind, pence: int, day: date, category: Category | None = None) -> LedgerEntry:
    return ledger.post(account_id=account_id, kind=kind, amount_pence=pence, entry_date=day, source=EntrySource.MANUAL,
                       category=category)


def test_the_demo_money_is_summarised(money_app):
    with money_app.app_context():
        sums = assert_summary_equals_ledger()
        assert {kind for _, _, kind, _ in sums} >= {"spend"}
        assert len({year for _, year, _, _ in sums}) >= 2  # a year of history crosses 1 April


def test_generated_scale_money_is_summarised(money_app):
    with money_app.app_context():
        before = db.session.scalar(sa.select(sa.func.max(DPAccount.id)))
        demo.generate(30, money=True)
        sums = assert_summary_equals_ledger()
        generated = {account for account, *_ in sums if account > before}
        assert len(generated) == 30


def test_a_card_import_is_summarised_batch_by_batch(app, tmp_path, monkeypatch):
    portal = _set_up_sample_budgets(app)
    path = tmp_path / "statement.csv"
    path.write_bytes(SAMPLE_BYTES)
    with app.app_context():
        monkeypatch.setattr(card_import, "BATCH_ROWS", 7, raising=False)
        report = card_import.import_file(path)
        assert report.posted > 0
        sums = assert_summary_equals_ledger()
        assert any(account == portal.amina_account and kind == "spend" for account, _, kind, _ in sums)
        # Importing again changes nothing.
        card_import.import_file(path)
        assert from_summary() == sums


def test_recategorising_moves_the_money_between_categories(app):
    with app.app_context():
        account = new_account(app)
        day = date(2026, 5, 10)
        entry = post(account, EntryKind.SPEND, -45_00, day, Category.TRAVEL)
        post(account, EntryKind.SPEND, -5_00, day, Category.TRAVEL)
        db.session.commit()
        year = fy_start(day)
        assert from_summary()[(account, year, "spend", "travel")] == (-50_00, 2)
        ledger.annotate(entry.id, user_id=None, note="recategorised", category=Category.RESPITE)
        db.session.commit()
        sums = assert_summary_equals_ledger()
        assert sums[(account, year, "spend", "travel")] == (-5_00, 1)
        assert sums[(account, year, "spend", "respite")] == (-45_00, 1)
        ledger.annotate(entry.id, user_id=None, note="no category", category=None)
        ledger.annotate(entry.id, user_id=None, note="explained", explanation="Taxi to the day centre")  # category unchanged
        db.session.commit()
        sums = assert_summary_equals_ledger()
        assert sums[(account, year, "spend", "")] == (-45_00, 1)
        assert (account, year, "spend", "respite") not in sums


def test_a_reversal_cancels_the_money_but_the_entry_still_counts(app):
    with app.app_context():
        account = new_account(app)
        reclaim = post(account, EntryKind.RECLAIM, -300_00, date(2026, 3, 30))
        spend = post(account, EntryKind.SPEND, -20_00, date(2026, 3, 31), Category.DOMESTIC)
        db.session.commit()
        # Reversed in the next financial year: the correction is added up in its own year.
        ledger.reverse(reclaim, user_id=None, reason="approved in error", on=date(2026, 4, 2))
        ledger.reverse(spend, user_id=None, reason="keyed twice", on=date(2026, 3, 31))
        db.session.commit()
        sums = assert_summary_equals_ledger()
        assert sums[(account, date(2025, 4, 1), "reclaim", "")] == (-300_00, 1)
        assert sums[(account, date(2026, 4, 1), "reclaim", "")] == (300_00, 0)
        assert sums[(account, date(2025, 4, 1), "spend", "domestic")] == (0, 1)


def test_other_kinds_are_not_summarised(app):
    with app.app_context():
        account = new_account(app)
        before = from_summary()
        for kind in (EntryKind.COUNCIL_PAYMENT, EntryKind.CONTRIBUTION, EntryKind.ADJUSTMENT):
            post(account, kind, 100_00, date(2026, 6, 1))
        db.session.commit()
        assert from_summary() == before
        assert_summary_equals_ledger()


def test_the_dashboard_leaves_out_entries_after_its_day(money_app):
    """The summary holds the whole year; the dashboard for a day leaves out what was dated later."""
    with money_app.app_context():
        rachel = db.session.scalar(sa.select(User).where(User.email == "rachel@northfield.example"))
        northfield = rachel.organisation_id
        today = london_today()
        day = max(fy_start(today), today - timedelta(days=20))
        start = fy_start(day)

        def expected(last: date) -> tuple[int, int, int]:
            spend, reclaimed, reclaims = db.session.execute(sa.text("""
                SELECT -COALESCE(SUM(CASE WHEN le.kind IN ('spend', 'refund') THEN le.amount_pence END), 0),
                       -COALESCE(SUM(CASE WHEN le.kind = 'reclaim' THEN le.amount_pence END), 0),
                       COALESCE(SUM(CASE WHEN le.kind = 'reclaim' AND le.reverses_id IS NULL THEN 1 END), 0)
                FROM ledger_entries le JOIN dp_accounts a ON a.id = le.account_id
                JOIN recipients r ON r.person_id = a.recipient_id
                WHERE r.council_id = :council AND le.entry_date >= :start AND le.entry_date <= :last"""),
                {"council": northfield, "start": start, "last": last}).one()
            return int(spend), int(reclaimed), int(reclaims)

        account = db.session.scalar(
            sa.select(DPAccount.id).join(Recipient, Recipient.person_id == DPAccount.recipient_id)
            .where(Recipient.council_id == northfield).order_by(DPAccount.id).limit(1))
        later = day + timedelta(days=1) if day + timedelta(days=1) < date(start.year + 1, 4, 1) else day
        post(account, EntryKind.SPEND, -77_00, later, Category.RESPITE)
        post(account, EntryKind.RECLAIM, -10_00, later)
        db.session.commit()
        for last in (day, later):
            board = dashboard.build(rachel, last)
            reclaims = {row[0]: row for row in board.tables["excess-balances"].rows}["Reclaims made this financial year (ledger)"]
            spend, reclaimed, count = expected(last)
            assert (board.spend_pence, reclaims[3], reclaims[2]) == (spend, reclaimed, count)
        assert_summary_equals_ledger()


ENTRY = st.tuples(
    st.integers(0, 1),  # account
    st.sampled_from(list(EntryKind)),
    st.integers(-500_00, 500_00),
    st.integers(-3, 3),  # days from 1 April 2026: both sides of the year's start
    st.none() | st.sampled_from(list(Category)),
    st.sampled_from(["post", "reverse", "recategorise"]),
)


def test_any_sequence_of_posts_reversals_and_recategorising_keeps_the_summary(app):
    with app.app_context():
        accounts = [new_account(app), new_account(app, "Grace", "Okafor")]

    @settings(max_examples=30, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow])
    @given(st.lists(ENTRY, min_size=1, max_size=12))
    def run(steps):
        with app.app_context():
            posted: list[LedgerEntry] = []
            reversed_: set[int] = set()
            for which, kind, pence, offset, category, action in steps:
                day = date(2026, 4, 1) + timedelta(days=offset)
                originals = [e for e in posted if e.reverses_id is None and e.id not in reversed_]
                if action == "reverse" and originals:
                    entry = originals[pence % len(originals)]
                    posted.append(ledger.reverse(entry, user_id=None, reason="test", on=day))
                    reversed_.add(entry.id)
                elif action == "recategorise" and posted:
                    entry = posted[pence % len(posted)]
                    ledger.annotate(entry.id, user_id=None, note="recategorised", category=category)
                else:
                    posted.append(post(accounts[which], kind, pence, day, category))
                db.session.flush()
            assert_summary_equals_ledger()
            db.session.rollback()

    run()
