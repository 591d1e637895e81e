"""district centroids

Revision ID: 0006
Revises: 0005
Create Date: 2026-11-23 10:12:00.000000

"""
from alembic import op
import sqlalchemy as sa

import portal.models.base


# revision identifiers, used by Alembic.
revision = '0006'
down_revision = '0005'
branch_labels = None
depends_on = None


def upgrade():
    op.create_table('district_centroids',
    sa.Column('code', sa.String(length=8), nullable=False),
    sa.Column('latitude', sa.Float(), nullable=False),
    sa.Column('longitude', sa.Float(), nullable=False),
    sa.Column('postcodes', sa.Integer(), nullable=False),
    sa.Column('loaded_at', portal.models.base.UTCDateTime(timezone=True), nullable=False),
    sa.PrimaryKeyConstraint('code', name=op.f('pk_district_centroids'))
    )


def downgrade():
    op.drop_table('district_centroids')
