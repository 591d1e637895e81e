"""managed pay run items: a managed-account payment may pay one of a pay run's expected items (net pay, HMRC, pension)

Revision ID: 0017
Revises: 0016
Create Date: 2026-11-23 10:15:00.000000

The payment's kind gains the value "pay run". Kinds are stored as their value in a plain string column
(portal.models.base.str_enum: no database enum and no CHECK constraint), 20 characters long, so the new
value needs no change to the column.
"""
from alembic import op
import sqlalchemy as sa


# revision identifiers, used by Alembic.
revision = '0017'
down_revision = '0016'
branch_labels = None
depends_on = None


def upgrade():
    with op.batch_alter_table('managed_payments', schema=None) as batch_op:
        batch_op.add_column(sa.Column('expected_item_id', sa.Integer(), nullable=True))
        batch_op.add_column(sa.Column('live_item_id', sa.Integer(), nullable=True))
        batch_op.create_index(batch_op.f('ix_managed_payments_expected_item_id'), ['expected_item_id'], unique=False)
        batch_op.create_unique_constraint(batch_op.f('uq_managed_payments_live_item_id'), ['live_item_id'])
        batch_op.create_foreign_key(batch_op.f('fk_managed_payments_expected_item_id_expected_items'), 'expected_items',
                                    ['expected_item_id'], ['id'])


def downgrade():
    with op.batch_alter_table('managed_payments', schema=None) as batch_op:
        batch_op.drop_constraint(batch_op.f('fk_managed_payments_expected_item_id_expected_items'), type_='foreignkey')
        batch_op.drop_constraint(batch_op.f('uq_managed_payments_live_item_id'), type_='unique')
        batch_op.drop_index(batch_op.f('ix_managed_payments_expected_item_id'))
        batch_op.drop_column('live_item_id')
        batch_op.drop_column('expected_item_id')
