"""retention: the append-only tables accept one kind of change, the blanking of their free text

Revision ID: 0019
Revises: 0018
Create Date: 2026-11-30 12:00:00.000000

Retention (portal/services/retention.py) anonymises people whose records are past their council's
retention period, and keeps the audit trail and the ledger. Three append-only tables hold free text or
an internet address: case notes' body, annotations' explanation and note, audit events' address. The
database still refuses every DELETE and every UPDATE of those tables, except an UPDATE that changes
nothing but those columns, and sets each of them to its blank ('' or '[removed]' for a note's body).
Every other column (amounts, dates, who and when) stays exactly as it was.
"""
from alembic import op
import sqlalchemy as sa


# revision identifiers, used by Alembic.
revision = '0019'
down_revision = '0018'
branch_labels = None
depends_on = None

# table -> {column: the only new value allowed}
REDACTABLE = {
    "case_notes": {"body": "[removed]"},
    "entry_annotations": {"explanation": "", "note": ""},
    "audit_events": {"address": ""},
}


def _sqlite_condition(table: str) -> str:
    columns = [column["name"] for column in sa.inspect(op.get_bind()).get_columns(table)]
    parts = []
    for name in columns:
        if name in REDACTABLE[table]:
            blank = REDACTABLE[table][name].replace("'", "''")
            parts.append(f"(new.{name} IS old.{name} OR new.{name} = '{blank}')")
        else:
            parts.append(f"new.{name} IS old.{name}")
    return " AND ".join(parts)


def upgrade():
    if op.get_bind().dialect.name == "sqlite":
        for table in REDACTABLE:
            op.execute(f"DROP TRIGGER IF EXISTS {table}_no_update")
            op.execute(
                f"CREATE TRIGGER {table}_no_update BEFORE UPDATE ON {table} WHEN NOT ({_sqlite_condition(table)}) "
                f"BEGIN SELECT RAISE(ABORT, '{table} is append-only'); END"
            )
        return
    op.execute(
        "CREATE OR REPLACE FUNCTION refuse_change_but_blanking() RETURNS trigger LANGUAGE plpgsql AS $$\n"
        "DECLARE\n"
        "  blanks jsonb := TG_ARGV[0]::jsonb;\n"
        "  old_row jsonb := to_jsonb(OLD);\n"
        "  new_row jsonb := to_jsonb(NEW);\n"
        "  name text;\n"
        "BEGIN\n"
        "  FOR name IN SELECT jsonb_object_keys(blanks) LOOP\n"
        "    IF new_row -> name IS DISTINCT FROM old_row -> name AND new_row -> name IS DISTINCT FROM blanks -> name THEN\n"
        "      RAISE EXCEPTION '% is append-only', TG_TABLE_NAME;\n"
        "    END IF;\n"
        "    old_row := old_row - name;\n"
        "    new_row := new_row - name;\n"
        "  END LOOP;\n"
        "  IF new_row IS DISTINCT FROM old_row THEN\n"
        "    RAISE EXCEPTION '% is append-only', TG_TABLE_NAME;\n"
        "  END IF;\n"
        "  RETURN NEW;\n"
        "END $$"
    )
    import json

    for table, blanks in REDACTABLE.items():
        argument = json.dumps(blanks).replace("'", "''")
        op.execute(f"DROP TRIGGER IF EXISTS {table}_append_only ON {table}")
        op.execute(f"CREATE TRIGGER {table}_no_delete BEFORE DELETE ON {table} FOR EACH ROW EXECUTE FUNCTION refuse_change()")
        op.execute(
            f"CREATE TRIGGER {table}_blanking_only BEFORE UPDATE ON {table} "
            f"FOR EACH ROW EXECUTE FUNCTION refuse_change_but_blanking('{argument}')"
        )


def downgrade():
    if op.get_bind().dialect.name == "sqlite":
        for table in REDACTABLE:
            op.execute(f"DROP TRIGGER IF EXISTS {table}_no_update")
            op.execute(f"CREATE TRIGGER {table}_no_update BEFORE UPDATE ON {table} "
                       f"BEGIN SELECT RAISE(ABORT, '{table} is append-only'); END")
        return
    for table in REDACTABLE:
        op.execute(f"DROP TRIGGER IF EXISTS {table}_blanking_only ON {table}")
        op.execute(f"DROP TRIGGER IF EXISTS {table}_no_delete ON {table}")
        op.execute(f"CREATE TRIGGER {table}_append_only BEFORE UPDATE OR DELETE ON {table} "
                   "FOR EACH ROW EXECUTE FUNCTION refuse_change()")
    op.execute("DROP FUNCTION IF EXISTS refuse_change_but_blanking()")
