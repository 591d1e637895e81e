"""The scale generator: money for generated recipients, by bulk insert, consistent with the ledger rules."""

import sqlalchemy as sa

from portal.extensions import db
from portal.models import AccountBalance, DPAccount, LedgerEntry
from portal.services import demo


def test_generated_money_keeps_the_balance_cache_equal_to_the_sums_and_uses_unique_keys(app):
    with app.app_context():
        demo.generate(6, seed=11, money=True)
        accounts = db.session.scalars(sa.select(DPAccount.id).where(DPAccount.card_reference.like("GEN-%"))).all()
        assert len(accounts) == 6
        for account_id in accounts:
            total, count = db.session.execute(
                sa.select(sa.func.sum(LedgerEntry.amount_pence), sa.func.count()).where(LedgerEntry.account_id == account_id)
            ).one()
            cached = db.session.get(AccountBalance, account_id)
            assert (cached.balance_pence, cached.entry_count) == (total, count)
            assert count > 13 * 30, "about 40 card transactions per 4 weeks for a year"
        payments = db.session.scalar(sa.select(sa.func.count()).where(LedgerEntry.payment_key.is_not(None), LedgerEntry.account_id.in_(accounts)))
        assert payments == 6 * 14, "one payment per cycle, 13 cycles back and the current one"
