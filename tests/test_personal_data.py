"""The personal-data register: every table is marked, and each mark is well-formed against the schema."""

import pytest

from portal.extensions import db
from portal.services import personal_data
from portal.services.subject_access import PERSON_TABLES, person_columns


@pytest.fixture
def tables(empty_app):
    with empty_app.app_context():
        yield {table.name: table for table in db.metadata.sorted_tables}


def test_every_table_is_marked(tables):
    unmarked = sorted(set(tables) - set(personal_data.REGISTER))
    assert not unmarked, f"mark these tables in portal/services/personal_data.py: {unmarked}"


def test_the_register_names_no_table_that_does_not_exist(tables):
    assert sorted(set(personal_data.REGISTER) - set(tables)) == []


def test_a_table_naming_a_person_is_never_marked_as_holding_no_personal_data(tables):
    for name, table in tables.items():
        # (organisations.email is an office's address, the one email column that is not a person's)
        personal_words = ("given_name", "family_name", "date_of_birth", "ni_number") + (("email",) if name != "organisations" else ())
        if person_columns(table) or any(c.name in personal_words for c in table.columns):
            assert personal_data.entry(name).holds_personal_data, f"{name} names people but is marked as holding none"


def test_the_marks_for_people_and_money_are_the_expected_ones():
    # Tables that hold only reference data, and some that obviously hold people's data.
    assert not personal_data.entry("district_centroids").holds_personal_data
    assert not personal_data.entry("category_rules").holds_personal_data
    for name in ("people", "recipients", "ledger_entries", "evidence", "case_notes", "employments", "payslips", "pa_profiles"):
        assert personal_data.entry(name).holds_personal_data, name


def test_every_link_and_column_in_the_register_exists_and_follows_the_schema(tables):
    for name, item in personal_data.REGISTER.items():
        if not item.holds_personal_data:
            continue
        table = tables[name]
        assert item.links, f"{name}: a personal table needs at least one link to the people it is about"
        names = [link.name for link in item.links]
        assert len(names) == len(set(names)), f"{name}: two links share a name"
        for link in item.links:
            if link.kind == "referenced_by":
                referring = tables[link.table]
                targets = {key.column.table.name for key in referring.c[link.column].foreign_keys}
                assert targets == {name}, f"{name}: {link.table}.{link.column} does not point here"
                continue
            assert link.column in table.c, f"{name}.{link.column} does not exist"
            if link.kind == "parent":
                targets = {key.column.table.name for key in table.c[link.column].foreign_keys}
                assert targets == {link.table}, f"{name}.{link.column} is not a foreign key to {link.table}"
                parent = personal_data.entry(link.table)
                assert parent.holds_personal_data, f"{name}: parent {link.table} is not marked personal"
                if link.via:
                    assert link.via in [p.name for p in parent.links], f"{name}: {link.table} has no link {link.via}"
            elif link.kind in ("person", "user"):
                kind = "people" if (name, link.column) == ("people", "id") else person_columns(table).get(link.column)
                expected = "users" if link.kind == "user" else "people"
                assert kind == expected, f"{name}.{link.column} does not name someone in {expected}"
        for link_name, columns in item.only_for.items():
            assert link_name in names, f"{name}: only_for names no link {link_name}"
            for column in columns:
                assert column in table.c, f"{name}.{column} does not exist"
        for column in (*item.secret, *item.files):
            assert column in table.c, f"{name}.{column} does not exist"


def test_secrets_are_marked_never_to_be_given_out():
    assert {"password_hash", "totp_secret"} <= set(personal_data.entry("users").secret)
    assert "token_hash" in personal_data.entry("one_time_tokens").secret


def test_every_stored_file_column_is_listed(tables):
    # Columns holding names of stored files (portal/storage.py) end in storage_name, document_name or photo_name.
    for name, table in tables.items():
        for column in table.columns:
            if column.name.endswith(("storage_name", "document_name", "photo_name")):
                assert column.name in personal_data.entry(name).files, f"{name}.{column.name} is a stored file"


def test_person_tables_are_the_ones_naming_people():
    assert set(PERSON_TABLES) == {"people", "recipients", "users", "pa_profiles"}
