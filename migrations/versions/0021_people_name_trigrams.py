"""people's names by trigram, for the caseload search (PostgreSQL only)

Revision ID: 0021
Revises: 0020
Create Date: 2026-11-23 13:00:00.000000

The caseload's search for words in a name ("smith") is a LIKE '%smith%' on "given family": no ordinary
index can answer it, and PostgreSQL checked every one of 109,000 people at council scale (50 ms). A GIN
index of the lower-cased name's trigrams (pg_trgm, shipped with PostgreSQL; a trusted extension, so the
database's owner may create it) answers it in about a millisecond. SQLite has no such index; there the
search joins the cases in scope first and checks their names (portal/services/caseload_search.py).
"""
from alembic import op


# revision identifiers, used by Alembic.
revision = '0021'
down_revision = '0020'
branch_labels = None
depends_on = None


def upgrade():
    if op.get_bind().dialect.name != "postgresql":
        return
    op.execute("CREATE EXTENSION IF NOT EXISTS pg_trgm")
    op.execute("CREATE INDEX IF NOT EXISTS ix_people_full_name_trgm ON people "
               "USING gin (lower(given_name || ' ' || family_name) gin_trgm_ops)")


def downgrade():
    if op.get_bind().dialect.name != "postgresql":
        return
    op.execute("DROP INDEX IF EXISTS ix_people_full_name_trgm")
