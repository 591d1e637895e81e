"""employment year end: a previous job's P45 figures, student and postgraduate loans and attachments of
earnings on the employment record; the P60's NI earnings, the P45 figures used, deductions made outside
the portal and warnings on each payslip

Revision ID: 0018
Revises: 0017
Create Date: 2026-11-23 12:00:00.000000

Enums are stored as their value in a plain string column (portal.models.base.str_enum), so the new
choices need no database type. Existing payslips keep 0 in the new money columns: they were worked out
before the NI earnings were recorded (the P60 figures for those periods show £0 in the NI table).
"""
from alembic import op
import sqlalchemy as sa


# revision identifiers, used by Alembic.
revision = '0018'
down_revision = '0017'
branch_labels = None
depends_on = None


def upgrade():
    with op.batch_alter_table('employments', schema=None) as batch_op:
        batch_op.add_column(sa.Column('p45_pay_to_date_pence', sa.Integer(), nullable=True))
        batch_op.add_column(sa.Column('p45_tax_to_date_pence', sa.Integer(), nullable=True))
        batch_op.add_column(sa.Column('p45_leaving_date', sa.Date(), nullable=True))
        batch_op.add_column(sa.Column('student_loan', sa.String(length=20), nullable=True))
        batch_op.add_column(sa.Column('postgraduate_loan', sa.String(length=12), nullable=True))
        batch_op.add_column(sa.Column('attachment_of_earnings', sa.Boolean(), nullable=False, server_default=sa.false()))

    with op.batch_alter_table('payslips', schema=None) as batch_op:
        batch_op.add_column(sa.Column('ni_earnings_at_lel_pence', sa.Integer(), nullable=False, server_default='0'))
        batch_op.add_column(sa.Column('ni_earnings_lel_to_pt_pence', sa.Integer(), nullable=False, server_default='0'))
        batch_op.add_column(sa.Column('ni_earnings_pt_to_uel_pence', sa.Integer(), nullable=False, server_default='0'))
        batch_op.add_column(sa.Column('previous_pay_pence', sa.Integer(), nullable=False, server_default='0'))
        batch_op.add_column(sa.Column('previous_tax_pence', sa.Integer(), nullable=False, server_default='0'))
        batch_op.add_column(sa.Column('outside_deductions', sa.String(length=200), nullable=False, server_default=''))
        batch_op.add_column(sa.Column('warnings', sa.Text(), nullable=False, server_default=''))


def downgrade():
    with op.batch_alter_table('payslips', schema=None) as batch_op:
        batch_op.drop_column('warnings')
        batch_op.drop_column('outside_deductions')
        batch_op.drop_column('previous_tax_pence')
        batch_op.drop_column('previous_pay_pence')
        batch_op.drop_column('ni_earnings_pt_to_uel_pence')
        batch_op.drop_column('ni_earnings_lel_to_pt_pence')
        batch_op.drop_column('ni_earnings_at_lel_pence')

    with op.batch_alter_table('employments', schema=None) as batch_op:
        batch_op.drop_column('attachment_of_earnings')
        batch_op.drop_column('postgraduate_loan')
        batch_op.drop_column('student_loan')
        batch_op.drop_column('p45_leaving_date')
        batch_op.drop_column('p45_tax_to_date_pence')
        batch_op.drop_column('p45_pay_to_date_pence')
