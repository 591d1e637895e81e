"""managed payments: payments out of managed accounts (one person, or two above each DPSS's approval limit), contributions received

Revision ID: 0012
Revises: 0011
Create Date: 2026-11-22 21:40:00.000000

"""
from alembic import op
import sqlalchemy as sa

import portal.models.base


# revision identifiers, used by Alembic.
revision = '0012'
down_revision = '0011'
branch_labels = None
depends_on = None


def upgrade():
    with op.batch_alter_table('organisations', schema=None) as batch_op:
        batch_op.add_column(sa.Column('payment_approval_limit_pence', sa.Integer(), server_default='100000', nullable=False))

    op.create_table('managed_payments',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('account_id', sa.Integer(), nullable=False),
    sa.Column('organisation_id', sa.Integer(), nullable=False),
    sa.Column('kind', sa.Enum('PA wages', 'invoice', 'other', name='managedpaymentkind', native_enum=False, length=20), nullable=False),
    sa.Column('status', sa.Enum('recorded', 'approved', 'paid', 'cancelled', name='managedpaymentstatus', native_enum=False, length=12), nullable=False),
    sa.Column('payee', sa.String(length=200), nullable=False),
    sa.Column('amount_pence', sa.Integer(), nullable=False),
    sa.Column('pay_on', sa.Date(), nullable=False),
    sa.Column('description', sa.String(length=200), nullable=False),
    sa.Column('category', sa.Enum('PA wages', 'homecare', 'respite', 'day care', 'supported living', 'aids and adaptations', 'travel', 'domestic', 'insurance', 'social activities', 'payroll and support fees', 'other', name='category', native_enum=False, length=40), nullable=False),
    sa.Column('invoice_number', sa.String(length=60), nullable=False),
    sa.Column('invoice_due_on', sa.Date(), nullable=True),
    sa.Column('invoice_storage_name', sa.String(length=100), nullable=True),
    sa.Column('invoice_sha256', sa.String(length=64), nullable=False),
    sa.Column('invoice_content_type', sa.String(length=40), nullable=False),
    sa.Column('invoice_size_bytes', sa.Integer(), nullable=False),
    sa.Column('invoice_display_name', sa.String(length=120), nullable=False),
    sa.Column('approval_limit_pence', sa.Integer(), nullable=False),
    sa.Column('needs_approval', sa.Boolean(), nullable=False),
    sa.Column('request_key', sa.String(length=40), nullable=False),
    sa.Column('recorded_by_id', sa.Integer(), nullable=False),
    sa.Column('recorded_at', portal.models.base.UTCDateTime(timezone=True), nullable=False),
    sa.Column('approved_by_id', sa.Integer(), nullable=True),
    sa.Column('approved_at', portal.models.base.UTCDateTime(timezone=True), nullable=True),
    sa.Column('cancelled_by_id', sa.Integer(), nullable=True),
    sa.Column('cancelled_at', portal.models.base.UTCDateTime(timezone=True), nullable=True),
    sa.Column('cancel_reason', sa.String(length=500), nullable=False),
    sa.Column('entry_id', sa.Integer(), nullable=True),
    sa.Column('paid_on', sa.Date(), nullable=True),
    sa.Column('version', sa.Integer(), server_default='1', nullable=False),
    sa.ForeignKeyConstraint(['account_id'], ['dp_accounts.id'], name=op.f('fk_managed_payments_account_id_dp_accounts')),
    sa.ForeignKeyConstraint(['approved_by_id'], ['users.id'], name=op.f('fk_managed_payments_approved_by_id_users')),
    sa.ForeignKeyConstraint(['cancelled_by_id'], ['users.id'], name=op.f('fk_managed_payments_cancelled_by_id_users')),
    sa.ForeignKeyConstraint(['entry_id'], ['ledger_entries.id'], name=op.f('fk_managed_payments_entry_id_ledger_entries')),
    sa.ForeignKeyConstraint(['organisation_id'], ['organisations.id'], name=op.f('fk_managed_payments_organisation_id_organisations')),
    sa.ForeignKeyConstraint(['recorded_by_id'], ['users.id'], name=op.f('fk_managed_payments_recorded_by_id_users')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_managed_payments')),
    sa.UniqueConstraint('entry_id', name=op.f('uq_managed_payments_entry_id')),
    sa.UniqueConstraint('invoice_storage_name', name=op.f('uq_managed_payments_invoice_storage_name')),
    sa.UniqueConstraint('request_key', name=op.f('uq_managed_payments_request_key'))
    )
    with op.batch_alter_table('managed_payments', schema=None) as batch_op:
        batch_op.create_index('ix_managed_payments_account_status', ['account_id', 'status'], unique=False)
        batch_op.create_index('ix_managed_payments_organisation_status', ['organisation_id', 'status'], unique=False)

    op.create_table('managed_payment_timesheets',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('payment_id', sa.Integer(), nullable=False),
    sa.Column('timesheet_id', sa.Integer(), nullable=False),
    sa.Column('owed_pence', sa.Integer(), nullable=False),
    sa.Column('live_timesheet_id', sa.Integer(), nullable=True),
    sa.ForeignKeyConstraint(['payment_id'], ['managed_payments.id'], name=op.f('fk_managed_payment_timesheets_payment_id_managed_payments')),
    sa.ForeignKeyConstraint(['timesheet_id'], ['timesheets.id'], name=op.f('fk_managed_payment_timesheets_timesheet_id_timesheets')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_managed_payment_timesheets')),
    sa.UniqueConstraint('live_timesheet_id', name=op.f('uq_managed_payment_timesheets_live_timesheet_id'))
    )
    with op.batch_alter_table('managed_payment_timesheets', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_managed_payment_timesheets_payment_id'), ['payment_id'], unique=False)
        batch_op.create_index(batch_op.f('ix_managed_payment_timesheets_timesheet_id'), ['timesheet_id'], unique=False)

    op.create_table('managed_contributions',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('account_id', sa.Integer(), nullable=False),
    sa.Column('organisation_id', sa.Integer(), nullable=False),
    sa.Column('amount_pence', sa.Integer(), nullable=False),
    sa.Column('received_on', sa.Date(), nullable=False),
    sa.Column('method', sa.Enum('bank transfer', 'standing order', 'debit card', 'cheque', 'cash', name='contributionmethod', native_enum=False, length=20), nullable=False),
    sa.Column('note', sa.String(length=200), nullable=False),
    sa.Column('request_key', sa.String(length=40), nullable=False),
    sa.Column('entry_id', sa.Integer(), nullable=True),
    sa.Column('settled_item_id', sa.Integer(), nullable=True),
    sa.Column('recorded_by_id', sa.Integer(), nullable=False),
    sa.Column('recorded_at', portal.models.base.UTCDateTime(timezone=True), nullable=False),
    sa.ForeignKeyConstraint(['account_id'], ['dp_accounts.id'], name=op.f('fk_managed_contributions_account_id_dp_accounts')),
    sa.ForeignKeyConstraint(['entry_id'], ['ledger_entries.id'], name=op.f('fk_managed_contributions_entry_id_ledger_entries')),
    sa.ForeignKeyConstraint(['organisation_id'], ['organisations.id'], name=op.f('fk_managed_contributions_organisation_id_organisations')),
    sa.ForeignKeyConstraint(['recorded_by_id'], ['users.id'], name=op.f('fk_managed_contributions_recorded_by_id_users')),
    sa.ForeignKeyConstraint(['settled_item_id'], ['expected_items.id'], name=op.f('fk_managed_contributions_settled_item_id_expected_items')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_managed_contributions')),
    sa.UniqueConstraint('entry_id', name=op.f('uq_managed_contributions_entry_id')),
    sa.UniqueConstraint('request_key', name=op.f('uq_managed_contributions_request_key'))
    )
    with op.batch_alter_table('managed_contributions', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_managed_contributions_account_id'), ['account_id'], unique=False)


def downgrade():
    with op.batch_alter_table('managed_contributions', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_managed_contributions_account_id'))
    op.drop_table('managed_contributions')
    with op.batch_alter_table('managed_payment_timesheets', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_managed_payment_timesheets_timesheet_id'))
        batch_op.drop_index(batch_op.f('ix_managed_payment_timesheets_payment_id'))
    op.drop_table('managed_payment_timesheets')
    with op.batch_alter_table('managed_payments', schema=None) as batch_op:
        batch_op.drop_index('ix_managed_payments_organisation_status')
        batch_op.drop_index('ix_managed_payments_account_status')
    op.drop_table('managed_payments')
    with op.batch_alter_table('organisations', schema=None) as batch_op:
        batch_op.drop_column('payment_approval_limit_pence')
