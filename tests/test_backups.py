"""Backups (issue 8): back up the money demo, destroy it, restore it into a fresh database, compare everything.

Runs on SQLite and, with DATABASE_URL set, on PostgreSQL (the restore target is then a new database on the
same server). The demo's evidence files are copied into a folder of the test's own first, so destroying
them never touches the folder other tests share.
"""

import hashlib
import json
import os
import secrets
import shutil
import sqlite3
import tarfile

import pytest
import sqlalchemy as sa
from sqlalchemy.pool import NullPool

from portal import create_app
from portal.extensions import db
from portal.services import backups
from portal.storage import NAME
from tests.conftest import USE_PG


def sha256(path) -> str:
    return hashlib.sha256(open(path, "rb").read()).hexdigest()


def url_of(app) -> str:
    return app.config["SQLALCHEMY_DATABASE_URI"]


def dump(url: str) -> dict[str, list[tuple]]:
    """Every table's rows, each table's rows in a fixed order (an independent read, not the backup code's)."""
    engine = sa.create_engine(url, poolclass=NullPool)
    try:
        metadata = sa.MetaData()
        metadata.reflect(engine)
        with engine.connect() as conn:
            return {name: sorted((tuple(row) for row in conn.execute(sa.select(table))), key=repr)
                    for name, table in metadata.tables.items()}
    finally:
        engine.dispose()


def named_files(rows: dict[str, list[tuple]], url: str) -> dict[tuple[str, str], set[str]]:
    """Every (table, column) holding a value shaped like a stored evidence name, found by looking at all the data."""
    engine = sa.create_engine(url, poolclass=NullPool)
    try:
        metadata = sa.MetaData()
        metadata.reflect(engine)
    finally:
        engine.dispose()
    found: dict[tuple[str, str], set[str]] = {}
    for name, table in metadata.tables.items():
        for index, column in enumerate(table.columns):
            for row in rows[name]:
                value = row[index]
                if isinstance(value, str) and NAME.match(value):
                    found.setdefault((name, column.name), set()).add(value)
    return found


def private_evidence(app, tmp_path):
    """Give the app an evidence folder of its own holding a copy of every file its database names."""
    shared = app.config["EVIDENCE_FOLDER"]
    live = tmp_path / "live-evidence"
    live.mkdir()
    names = set().union(*named_files(dump(url_of(app)), url_of(app)).values())
    for name in names:
        assert os.path.exists(os.path.join(shared, name)), f"the shared demo evidence lost {name}"
        shutil.copyfile(os.path.join(shared, name), live / name)
    app.config["EVIDENCE_FOLDER"] = str(live)
    return live, names


def destroy(app, databases):
    with app.app_context():
        db.session.remove()
        db.engine.dispose()
    databases.drop(url_of(app))


@pytest.fixture
def target(databases, tmp_path):
    """A fresh, empty database to restore into (and its evidence folder, not yet made)."""
    if USE_PG:
        name = f"restore_{secrets.token_hex(6)}"
        with databases.admin_engine.connect() as conn:
            conn.exec_driver_sql(f'CREATE DATABASE "{name}"')
        url = databases._pg_url(name)
    else:
        url = f"sqlite:///{tmp_path / 'restored' / 'portal.db'}"
    app = create_app({"SQLALCHEMY_DATABASE_URI": url, "EVIDENCE_FOLDER": str(tmp_path / "restored-evidence"),
                      "SERVER_NAME": "localhost"})
    yield app
    with app.app_context():
        db.session.remove()
        db.engine.dispose()
    databases.drop(url)


def cli(app, *args):
    return app.test_cli_runner().invoke(args=list(args))


# The round trip -------------------------------------------------------------------------------


@pytest.mark.parametrize("form", ["folder", "tar"])
def test_backup_destroy_restore_gives_back_every_row_and_file(money_app, target, databases, tmp_path, form):
    live, names = private_evidence(money_app, tmp_path)
    before = dump(url_of(money_app))
    hashes = {name: sha256(live / name) for name in names}
    assert len(names) > 10 and all(hashes[name] == name[:64] for name in names)
    # A file no row names (an upload after the snapshot, or an orphan) is not taken.
    orphan = "0" * 64 + "-" + "1" * 16 + ".pdf"
    (live / orphan).write_bytes(b"not named by the database")

    dest = tmp_path / "backups" / ("portal.tar" if form == "tar" else "portal")
    dest.parent.mkdir()
    result = cli(money_app, "backup", str(dest))
    assert result.exit_code == 0, result.output
    assert "Backup written to" in result.output
    assert os.listdir(dest.parent) == [dest.name]  # nothing half-written left beside it
    if form == "tar":
        assert tarfile.is_tarfile(dest)
        with tarfile.open(dest) as archive:
            manifest = json.load(archive.extractfile("manifest.json"))
            members = set(archive.getnames())
        assert f"evidence/{orphan}" not in members
        assert {f"evidence/{name}" for name in names} <= members
    else:
        assert dest.is_dir() and not (dest / "evidence" / orphan).exists()
        manifest = json.loads((dest / "manifest.json").read_text())
        assert {path.name for path in (dest / "evidence").iterdir()} == names
    assert manifest["database"]["kind"] == ("postgresql" if USE_PG else "sqlite")
    assert manifest["database"]["tables"] == {table: len(rows) for table, rows in before.items()}
    assert manifest["database"]["schema_revision"] == before["alembic_version"][0][0]
    assert {entry["name"]: entry["sha256"] for entry in manifest["files"]} == hashes

    destroy(money_app, databases)
    shutil.rmtree(live)

    result = cli(target, "restore", str(dest))
    assert result.exit_code == 0, result.output
    assert "Checked against the manifest" in result.output
    after = dump(url_of(target))
    assert after.keys() == before.keys()
    for table in before:
        assert after[table] == before[table], table
    restored = target.config["EVIDENCE_FOLDER"]
    assert {name: sha256(os.path.join(restored, name)) for name in os.listdir(restored)} == hashes

    # The restored portal works: a persona signs in (password, sessions and MFA rows all came back).
    from tests.conftest import sign_in

    client = target.test_client()
    sign_in(client, "amina@example.org")
    assert client.get("/home").status_code == 200


def test_every_column_naming_a_stored_file_is_backed_up(money_app):
    rows = dump(url_of(money_app))
    found = named_files(rows, url_of(money_app))
    assert found, "the money demo names no stored files: this test would prove nothing"
    assert set(found) <= set(backups.FILE_COLUMNS), f"a column names stored files but backups do not know it: {set(found) - set(backups.FILE_COLUMNS)}"
    metadata = sa.MetaData()
    engine = sa.create_engine(url_of(money_app), poolclass=NullPool)
    metadata.reflect(engine)
    engine.dispose()
    for table, column in backups.FILE_COLUMNS:
        assert column in metadata.tables[table].columns, f"{table}.{column} no longer exists"


# Refusals -------------------------------------------------------------------------------------


def test_a_named_file_missing_or_changed_stops_the_backup_and_leaves_nothing(money_app, tmp_path):
    live, names = private_evidence(money_app, tmp_path)
    gone, changed = sorted(names)[:2]
    (live / gone).unlink()
    (live / changed).write_bytes(b"overwritten")
    out = tmp_path / "backups"
    out.mkdir()

    result = cli(money_app, "backup", str(out / "portal.tar"))
    assert result.exit_code != 0
    assert "No backup was made: 2 file(s)" in result.output
    assert f"{gone} (named in " in result.output and "is missing from" in result.output
    assert f"{changed} (named in " in result.output and "no longer match its name" in result.output
    assert os.listdir(out) == []

    (live / gone).write_bytes(b"")  # present but empty: still not the file the database names
    result = cli(money_app, "backup", str(out / "portal"))
    assert result.exit_code != 0 and os.listdir(out) == []


def test_backup_refuses_to_overwrite_or_to_write_inside_static(money_app, tmp_path):
    private_evidence(money_app, tmp_path)
    (tmp_path / "taken").mkdir()
    (tmp_path / "taken.tar").write_bytes(b"")
    result = cli(money_app, "backup", str(tmp_path / "taken.tar"))
    assert result.exit_code != 0 and "already exists" in result.output
    assert (tmp_path / "taken.tar").read_bytes() == b""
    result = cli(money_app, "backup", os.path.join(money_app.static_folder, "backup.tar"))
    assert result.exit_code != 0 and "inside the static folder" in result.output
    assert not os.path.exists(os.path.join(money_app.static_folder, "backup.tar"))
    # An existing folder gets a dated backup inside it.
    result = cli(money_app, "backup", str(tmp_path / "taken"), "--tar")
    assert result.exit_code == 0, result.output
    [made] = os.listdir(tmp_path / "taken")
    assert made.startswith("portal-backup-") and made.endswith(".tar")


def test_restore_refuses_a_non_empty_target_unless_forced(money_app, target, tmp_path):
    live, names = private_evidence(money_app, tmp_path)
    dest = tmp_path / "portal"
    assert cli(money_app, "backup", str(dest)).exit_code == 0
    before = dump(url_of(money_app))

    # Into the live database (not empty), with an empty evidence folder: refused, nothing changed.
    money_app.config["EVIDENCE_FOLDER"] = str(tmp_path / "empty-evidence")
    result = cli(money_app, "restore", str(dest))
    assert result.exit_code != 0 and "is not empty: restore refused (use --force" in result.output
    assert dump(url_of(money_app)) == before
    assert not os.path.exists(tmp_path / "empty-evidence")

    # Into an empty database but a folder with files in it: refused before the database is touched.
    target.config["EVIDENCE_FOLDER"] = str(live)
    result = cli(target, "restore", str(dest))
    assert result.exit_code != 0 and "evidence folder" in result.output and "is not empty" in result.output
    assert all(not rows for rows in dump(url_of(target)).values())

    # Forced over a changed database: it is put back exactly as backed up.
    with money_app.app_context():
        db.session.execute(sa.text("UPDATE people SET given_name = 'Changed'"))
        db.session.commit()
        db.session.remove()
    assert dump(url_of(money_app)) != before
    money_app.config["EVIDENCE_FOLDER"] = str(live)
    result = cli(money_app, "restore", str(dest), "--force")
    assert result.exit_code == 0, result.output
    assert dump(url_of(money_app)) == before


def test_restore_refuses_a_damaged_backup_and_changes_nothing(money_app, target, tmp_path):
    live, names = private_evidence(money_app, tmp_path)
    dest = tmp_path / "portal"
    assert cli(money_app, "backup", str(dest)).exit_code == 0
    damaged = sorted(names)[0]
    (dest / "evidence" / damaged).write_bytes(b"bit rot")

    result = cli(target, "restore", str(dest))
    assert result.exit_code != 0 and "is damaged; nothing was restored" in result.output and damaged in result.output
    assert all(not rows for rows in dump(url_of(target)).values())
    assert not os.path.exists(target.config["EVIDENCE_FOLDER"])

    result = cli(target, "restore", str(tmp_path / "missing-evidence"))
    assert result.exit_code != 0


@pytest.mark.skipif(USE_PG, reason="SQLite's online backup API")
def test_sqlite_backup_runs_beside_an_open_write_and_takes_only_what_was_committed(money_app, tmp_path):
    private_evidence(money_app, tmp_path)
    path = url_of(money_app).removeprefix("sqlite:///")
    writer = sqlite3.connect(path, isolation_level=None)
    try:
        writer.execute("PRAGMA journal_mode=WAL")
        writer.execute("BEGIN IMMEDIATE")
        writer.execute("INSERT INTO alembic_version (version_num) VALUES ('uncommitted')")
        result = cli(money_app, "backup", str(tmp_path / "portal"))
    finally:
        writer.execute("ROLLBACK")
        writer.close()
    assert result.exit_code == 0, result.output
    manifest = json.loads((tmp_path / "portal" / "manifest.json").read_text())
    assert manifest["database"]["tables"]["alembic_version"] == 1
    copy = sqlite3.connect(tmp_path / "portal" / "database.sqlite3")
    assert copy.execute("PRAGMA integrity_check").fetchone()[0] == "ok"
    assert copy.execute("SELECT count(*) FROM alembic_version WHERE version_num = 'uncommitted'").fetchone()[0] == 0
    copy.close()
