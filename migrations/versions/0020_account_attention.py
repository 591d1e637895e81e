"""account attention: per account, how many entries wait for a receipt and for an explanation

Revision ID: 0020
Revises: 0019
Create Date: 2026-11-23 12:00:00.000000

The work queues, the caseload's "evidence missing" filter and the council dashboard asked every entry
of every account in scope (at 5,000 cases, over 2.5 million entries) whether it waited for a receipt.
These counts are kept by the ledger in the same transaction as the entry states, as account_balances
and spend_summaries are, and filled here from the entry states already recorded.
"""
from alembic import op
import sqlalchemy as sa


# revision identifiers, used by Alembic.
revision = '0020'
down_revision = '0019'
branch_labels = None
depends_on = None


def upgrade():
    op.create_table(
        'account_attention',
        sa.Column('account_id', sa.Integer(), sa.ForeignKey('dp_accounts.id'), primary_key=True),
        sa.Column('receipts_missing', sa.Integer(), nullable=False),
        sa.Column('explanations_missing', sa.Integer(), nullable=False),
    )
    op.execute(
        "INSERT INTO account_attention (account_id, receipts_missing, explanations_missing) "
        "SELECT account_id, SUM(CASE WHEN needs_evidence THEN 1 ELSE 0 END), "
        "SUM(CASE WHEN needs_explanation THEN 1 ELSE 0 END) FROM entry_states "
        "WHERE needs_evidence OR needs_explanation GROUP BY account_id"
    )


def downgrade():
    op.drop_table('account_attention')
