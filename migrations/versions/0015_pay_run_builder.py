"""pay runs: who built the payslips last (neither the creator nor the last builder may approve)

Revision ID: 0015
Revises: 0014
Create Date: 2026-11-22 23:00:00.000000

"""
from alembic import op
import sqlalchemy as sa


# revision identifiers, used by Alembic.
revision = '0015'
down_revision = '0014'
branch_labels = None
depends_on = None


def upgrade():
    with op.batch_alter_table('pay_runs', schema=None) as batch_op:
        batch_op.add_column(sa.Column('built_by_id', sa.Integer(), nullable=True))
        batch_op.create_foreign_key(batch_op.f('fk_pay_runs_built_by_id_users'), 'users', ['built_by_id'], ['id'])


def downgrade():
    with op.batch_alter_table('pay_runs', schema=None) as batch_op:
        batch_op.drop_constraint(batch_op.f('fk_pay_runs_built_by_id_users'), type_='foreignkey')
        batch_op.drop_column('built_by_id')
