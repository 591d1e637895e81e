"""Subject access: everything the portal holds about one person, as a zip of JSON, CSV and their files.

The rows come from the personal-data register (portal/services/personal_data.py): each table's links
find the rows about the person. In those rows, anything about someone else is withheld: every column
naming another person (their id, or their account), and the columns the register keeps for one party
only (a PA's tax details in an employer's copy). Staff who acted are shown by role and organisation.
Secrets (password hashes, authenticator secrets, link tokens) are never given out.
"""

import csv
import enum
import io
import json
import zipfile
from dataclasses import dataclass, field
from datetime import date, datetime, time
from decimal import Decimal

import sqlalchemy as sa

from portal.extensions import db
from portal.models import Organisation, Person, User
from portal.services import personal_data
from portal.services.clock import london_today
from portal.storage import Storage

WITHHELD = "[withheld: about someone else]"
ANOTHER_PERSON = "[withheld: another person]"
CHUNK = 5000  # values per IN list (SQLite's limit on bound values is far above this)

# Columns that point at these tables name a person (the subject's own ids are kept, anyone else's withheld).
PERSON_TABLES = {"people": "people", "recipients": "people", "users": "users", "pa_profiles": "pa_profiles"}


@dataclass
class TableRows:
    table: sa.Table
    matched: dict[tuple, set[str]] = field(default_factory=dict)  # primary key -> link names that found the row
    rows: dict[tuple, dict] = field(default_factory=dict)


@dataclass
class Export:
    person_id: int
    tables: dict[str, list[dict]]  # table name -> rows as readable objects, about the person only
    files: list[tuple[str, str, bytes | None]]  # (name in the zip, what it is, bytes or None if missing)


def person_columns(table: sa.Table) -> dict[str, str]:
    """Columns of the table that name a person: column name -> 'people', 'users' or 'pa_profiles'."""
    found = {}
    for column in table.columns:
        for key in column.foreign_keys:
            kind = PERSON_TABLES.get(key.column.table.name)
            if kind:
                found[column.name] = kind
    for (table_name, column_name), kind in personal_data.UNDECLARED_PERSON_COLUMNS.items():
        if table_name == table.name:
            found[column_name] = kind
    return found


def _pk(table: sa.Table, row) -> tuple:
    return tuple(row[column.name] for column in table.primary_key.columns)


def _chunks(values: list):
    for start in range(0, len(values), CHUNK):
        yield values[start:start + CHUNK]


def _target_column(table: sa.Table, column_name: str) -> str:
    """The column a foreign key points at (the register's parent links follow foreign keys)."""
    keys = list(table.c[column_name].foreign_keys)
    if not keys:
        raise ValueError(f"{table.name}.{column_name} is not a foreign key")
    return keys[0].column.name


def collect(person_id: int) -> dict[str, TableRows]:
    """Every row about the person, table by table, with which of the register's links found it."""
    user_ids = list(db.session.scalars(sa.select(User.id).where(User.person_id == person_id)))
    emails = {e.lower() for e in db.session.scalars(sa.select(User.email).where(User.person_id == person_id)) if e}
    own_email = db.session.scalar(sa.select(Person.email).where(Person.id == person_id))
    if own_email:
        emails.add(own_email.lower())

    found: dict[str, TableRows] = {}

    def add(table: sa.Table, link_name: str, condition) -> None:
        bucket = found.setdefault(table.name, TableRows(table))
        for row in db.session.execute(sa.select(table).where(condition)).mappings():
            key = _pk(table, row)
            bucket.matched.setdefault(key, set()).add(link_name)
            bucket.rows[key] = dict(row)

    def add_in(table: sa.Table, link_name: str, column, values) -> None:
        values = sorted({v for v in values if v is not None})
        for chunk in _chunks(values):
            add(table, link_name, column.in_(chunk))

    later = []
    for table in db.metadata.sorted_tables:
        item = personal_data.entry(table.name)
        if not item.holds_personal_data:
            continue
        found.setdefault(table.name, TableRows(table))
        for link in item.links:
            column = table.c[link.column] if link.kind != "referenced_by" else None
            if link.kind == "person":
                add(table, link.name, column == person_id)
            elif link.kind == "user":
                add_in(table, link.name, column, user_ids)
            elif link.kind == "email":
                add_in(table, link.name, sa.func.lower(column), emails)
            elif link.kind == "parent":
                parent = found[link.table]
                target = _target_column(table, link.column)
                values = [parent.rows[key][target] for key, names in parent.matched.items() if not link.via or link.via in names]
                add_in(table, link.name, column, values)
            elif link.kind == "referenced_by":
                later.append((table, link))
            else:  # pragma: no cover - a mistake in the register
                raise ValueError(f"unknown link kind {link.kind!r}")
    # A row that rows about the person point at (their payees): its referrer is created after it.
    for table, link in later:
        referring = found[link.table]
        target = _target_column(db.metadata.tables[link.table], link.column)
        values = [row[link.column] for row in referring.rows.values()]
        add_in(table, link.name, table.c[target], values)
    return found


def _readable(value):
    if isinstance(value, enum.Enum):
        return value.value
    if isinstance(value, datetime | date | time):
        return value.isoformat()
    if isinstance(value, Decimal):
        return str(value)
    if isinstance(value, bytes | memoryview):
        return "[binary data]"
    return value


class _Mentions:
    """Says how to show an id naming someone else: staff by role and organisation, anyone else withheld."""

    def __init__(self, person_id: int):
        self.own = {
            "people": {person_id},
            "users": set(db.session.scalars(sa.select(User.id).where(User.person_id == person_id))),
            "pa_profiles": set(db.session.scalars(sa.text("SELECT id FROM pa_profiles WHERE person_id = :p"), {"p": person_id})),
        }
        self._staff: dict[int, str] = {}

    def show(self, kind: str, value):
        if value is None:
            return None
        try:
            if int(value) in self.own[kind]:
                return value
        except (TypeError, ValueError):
            return ANOTHER_PERSON
        if kind == "users":
            return self._user(int(value))
        return ANOTHER_PERSON

    def _user(self, user_id: int) -> str:
        if user_id not in self._staff:
            user = db.session.get(User, user_id)
            if user is not None and user.role.is_staff:
                organisation = db.session.get(Organisation, user.organisation_id) if user.organisation_id else None
                where = f" at {organisation.name}" if organisation else ""
                self._staff[user_id] = f"[staff: {user.role.label}{where}]"
            else:
                self._staff[user_id] = ANOTHER_PERSON
        return self._staff[user_id]


def build(person_id: int) -> Export:
    """The person's data, each row made readable and cleared of anyone else's."""
    found = collect(person_id)
    mentions = _Mentions(person_id)
    storage = Storage.from_config()
    tables: dict[str, list[dict]] = {}
    files: list[tuple[str, str, bytes | None]] = []
    for name, bucket in found.items():
        if not bucket.rows:
            continue
        item = personal_data.entry(name)
        named = person_columns(bucket.table)
        hidden = {column for link, columns in item.only_for.items() for column in columns}
        out = []
        for key in sorted(bucket.rows, key=lambda k: tuple(str(part) for part in k)):
            row, matched = bucket.rows[key], bucket.matched[key]
            shown_for = {column for link, columns in item.only_for.items() if link in matched for column in columns}
            readable = {}
            for column in bucket.table.columns:
                if column.name in item.secret:
                    continue
                value = row[column.name]
                if column.name in hidden and column.name not in shown_for and value is not None:
                    value = WITHHELD
                elif column.name in named:
                    value = mentions.show(named[column.name], value)
                readable[column.name] = _readable(value)
            out.append(readable)
            for column in item.files:
                stored = readable.get(column)
                if not stored or stored.startswith("["):
                    continue
                zip_name = f"files/{stored}"
                try:
                    with storage.open(stored) as handle:
                        data = handle.read()
                except (FileNotFoundError, OSError):
                    data = None
                files.append((zip_name, f"{name} row {', '.join(map(str, key))} ({column})", data))
        tables[name] = out
    return Export(person_id, tables, files)


def _csv(rows: list[dict]) -> str:
    buffer = io.StringIO()
    columns = list(rows[0]) if rows else []
    writer = csv.DictWriter(buffer, fieldnames=columns)
    writer.writeheader()
    for row in rows:
        writer.writerow({k: "" if v is None else json.dumps(v) if isinstance(v, dict | list) else v for k, v in row.items()})
    return buffer.getvalue()


def readme(export: Export, person_name: str) -> str:
    lines = [
        f"Everything the Direct Payments Portal holds about {person_name}",
        f"Made on {london_today():%d %B %Y}.",
        "",
        "Each kind of record is in two files with the same rows: a .json file (readable text, one object",
        "a row) and a .csv file (opens in a spreadsheet). Uploaded documents are in the files folder.",
        "",
        f"{WITHHELD} and {ANOTHER_PERSON} mark details about other people, which we cannot give you.",
        "Staff who acted are shown by their job and organisation. Passwords, authenticator secrets and",
        "sign-in links are never given out.",
        "",
        "The files:",
        "",
    ]
    for name, rows in export.tables.items():
        about = personal_data.entry(name).about
        lines.append(f"{name}.json and {name}.csv: {about} ({len(rows)} record{'s' if len(rows) != 1 else ''})")
    if export.files:
        lines += ["", "Documents:", ""]
        for zip_name, what, data in export.files:
            note = "" if data is not None else " - the file is missing from storage; tell us and we will look into it"
            lines.append(f"{zip_name}: from {what}{note}")
    lines += ["", "Ask the support service or your council if anything here is wrong or missing."]
    return "\n".join(lines) + "\n"


def zip_bytes(export: Export, person_name: str) -> bytes:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", compression=zipfile.ZIP_DEFLATED) as archive:
        archive.writestr("README.txt", readme(export, person_name))
        for name, rows in export.tables.items():
            archive.writestr(f"{name}.json", json.dumps(rows, indent=2, ensure_ascii=False, default=str))
            archive.writestr(f"{name}.csv", _csv(rows))
        for zip_name, _what, data in export.files:
            if data is not None:
                archive.writestr(zip_name, data)
    return buffer.getvalue()


def person_name(person_id: int) -> str:
    person = db.session.get(Person, person_id)
    return f"{person.given_name} {person.family_name}".strip() if person else "you"
