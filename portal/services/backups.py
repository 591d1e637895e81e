"""Backups and restore: the database and the uploaded evidence it names, together and consistent.

A backup is one folder (or one .tar file holding the same things):

    manifest.json       when, which database kind, the schema revision, row counts per table, each file's sha256
    database.sqlite3    SQLite: a copy made with SQLite's online backup API (the portal may keep running)
    database.pgdump     PostgreSQL: pg_dump's custom format, taken from an exported snapshot
    evidence/<name>     every file the database names (receipts, invoices, timesheet scans, PA photos, checks)

The database is copied first and the file names are read from that copy (SQLite) or from the same
snapshot pg_dump used (PostgreSQL), so every file the backup's database names is in the backup; files
uploaded after the snapshot are not needed and not taken. A named file missing from the evidence folder,
or whose bytes no longer match its name (names start with the sha256 of the bytes), stops the backup with
a list of what is wrong: a backup with a silent gap is worse than none. The backup is written under a
temporary name next to its destination and renamed into place only when complete.

Restore goes into an empty database and an empty evidence folder (refused otherwise unless forced), checks
the backup against its manifest before touching anything, and checks the result against it afterwards.
"""

from __future__ import annotations

import glob
import hashlib
import json
import os
import re
import secrets
import shutil
import sqlite3
import subprocess
import tarfile
import tempfile
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path

import sqlalchemy as sa
from sqlalchemy.engine import make_url
from sqlalchemy.pool import NullPool

from portal.storage import NAME, sync_to_disk

FORMAT = 1
MANIFEST = "manifest.json"
SQLITE_FILE = "database.sqlite3"
PG_FILE = "database.pgdump"
EVIDENCE = "evidence"

# Every column naming a file in the evidence storage (tests/test_backups.py fails on a column it does not list).
FILE_COLUMNS: tuple[tuple[str, str], ...] = (
    ("evidence", "storage_name"),
    ("managed_payments", "invoice_storage_name"),
    ("pa_profile_checks", "document_name"),
    ("pa_profiles", "photo_name"),
    ("timesheet_documents", "storage_name"),
)


def named_files() -> set[str]:
    """Every stored file name a row names now (the running app's database)."""
    from portal.extensions import db

    names: set[str] = set()
    for table, column in FILE_COLUMNS:
        names.update(db.session.execute(sa.text(
            f"SELECT {_quote(column)} FROM {_quote(table)} WHERE {_quote(column)} IS NOT NULL AND {_quote(column)} <> ''")).scalars())
    return names


class BackupError(RuntimeError):
    """The backup could not be made; nothing was left at the destination."""


class RestoreError(RuntimeError):
    """The restore was refused or failed its checks."""


@dataclass
class Snapshot:
    revision: str | None
    tables: dict[str, int]
    names: dict[str, str]  # file name -> where the database names it ("table.column")


@dataclass
class BackupReport:
    path: Path
    kind: str
    revision: str | None
    tables: int
    rows: int
    files: int
    file_bytes: int

    def lines(self) -> list[str]:
        return [
            f"Backed up the {self.kind} database (schema revision {self.revision or 'none'}): "
            f"{self.tables} tables, {self.rows} rows.",
            f"Backed up {self.files} evidence file(s), {self.file_bytes} bytes.",
            f"Backup written to {self.path}",
        ]


@dataclass
class RestoreReport:
    kind: str
    revision: str | None
    tables: int
    rows: int
    files: int
    left_in_place: list[str] = field(default_factory=list)

    def lines(self) -> list[str]:
        lines = [
            f"Restored the {self.kind} database (schema revision {self.revision or 'none'}) and {self.files} evidence file(s).",
            f"Checked against the manifest: {self.tables} tables and {self.rows} rows, and every file's sha256, match.",
        ]
        if self.left_in_place:
            lines.append(f"{len(self.left_in_place)} file(s) already in the evidence folder and not in the backup were left in place.")
        return lines


# Helpers --------------------------------------------------------------------------------------


def _kind(database_url: str) -> str:
    backend = make_url(database_url).get_backend_name()
    if backend not in ("sqlite", "postgresql"):
        raise BackupError(f"Backups support SQLite and PostgreSQL, not {backend}.")
    return backend


def _sqlite_path(database_url: str) -> Path:
    database = make_url(database_url).database
    if not database or database == ":memory:" or database.startswith("file:"):
        raise BackupError(f"Cannot back up or restore this SQLite database: {database_url}")
    return Path(database).resolve()


def _libpq(database_url: str) -> tuple[str, dict[str, str]]:
    """A libpq connection URI for pg_dump and pg_restore, with the password in the environment (not in ps)."""
    url = make_url(database_url)
    env = dict(os.environ)
    if url.password:
        env["PGPASSWORD"] = str(url.password)
    uri = url.set(drivername="postgresql", password=None).render_as_string(hide_password=False)
    return uri, env


def _pg_tool(name: str) -> str:
    found = shutil.which(name)
    if found:
        return found
    versions = sorted(glob.glob(f"/usr/lib/postgresql/*/bin/{name}"),
                      key=lambda p: int(re.search(r"/(\d+)/bin/", p).group(1)) if re.search(r"/(\d+)/bin/", p) else 0)
    if versions:
        return versions[-1]
    raise BackupError(f"{name} was not found on PATH or under /usr/lib/postgresql/*/bin: install the PostgreSQL client.")


def _quote(identifier: str) -> str:
    return '"' + identifier.replace('"', '""') + '"'


def _sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as handle:
        for chunk in iter(lambda: handle.read(1 << 20), b""):
            digest.update(chunk)
    return digest.hexdigest()


def _copy_file(source: Path, target: Path) -> str:
    """Copy, flush to disk and return the sha256 of the bytes copied."""
    digest = hashlib.sha256()
    with open(source, "rb") as reader, open(target, "wb") as writer:
        for chunk in iter(lambda: reader.read(1 << 20), b""):
            digest.update(chunk)
            writer.write(chunk)
        writer.flush()
        os.fsync(writer.fileno())
    return digest.hexdigest()


def _snapshot(run: Callable[[str], list], tables: Iterable[str]) -> Snapshot:
    """Row counts, the schema revision and the named files, read through one consistent view (run(sql) -> rows)."""
    tables = sorted(tables)
    counts = {table: int(run(f"SELECT count(*) FROM {_quote(table)}")[0][0]) for table in tables}
    revision = None
    if "alembic_version" in counts:
        rows = run("SELECT version_num FROM alembic_version")
        revision = rows[0][0] if rows else None
    names: dict[str, str] = {}
    for table, column in FILE_COLUMNS:
        if table not in counts:
            continue
        for (name,) in run(f"SELECT {_quote(column)} FROM {_quote(table)} WHERE {_quote(column)} IS NOT NULL "
                           f"AND {_quote(column)} <> ''"):
            names.setdefault(name, f"{table}.{column}")
    return Snapshot(revision, counts, names)


# Backing up -----------------------------------------------------------------------------------


def _backup_sqlite(database_url: str, target: Path) -> Snapshot:
    source_path = _sqlite_path(database_url)
    if not source_path.is_file():
        raise BackupError(f"There is no SQLite database at {source_path}.")
    # mode=rw: never create an empty database by mistake. The backup API copies one consistent snapshot
    # (readers never block writers in WAL mode), so a running portal can be backed up.
    source = sqlite3.connect(f"file:{source_path}?mode=rw", uri=True)
    copy = sqlite3.connect(target)
    try:
        source.execute("PRAGMA busy_timeout=15000")
        source.backup(copy)
    finally:
        source.close()
    try:
        copy.execute("PRAGMA journal_mode=DELETE")  # one self-contained file, no -wal beside it
        check = copy.execute("PRAGMA quick_check").fetchone()[0]
        if check != "ok":
            raise BackupError(f"The copied SQLite database failed its integrity check: {check}")
        tables = [row[0] for row in copy.execute("SELECT name FROM sqlite_master WHERE type = 'table' AND name NOT LIKE 'sqlite_%'")]
        snapshot = _snapshot(lambda sql: copy.execute(sql).fetchall(), tables)
    finally:
        copy.close()
    return snapshot


def _backup_postgresql(database_url: str, target: Path) -> Snapshot:
    uri, env = _libpq(database_url)
    engine = sa.create_engine(database_url, poolclass=NullPool)
    try:
        with engine.connect().execution_options(isolation_level="REPEATABLE READ") as conn, conn.begin():
            # pg_dump reads the very snapshot this transaction sees, so the counts and file names below
            # describe exactly what is in the dump.
            snapshot_id = conn.exec_driver_sql("SELECT pg_export_snapshot()").scalar()
            result = subprocess.run(
                [_pg_tool("pg_dump"), "--format=custom", f"--snapshot={snapshot_id}", f"--file={target}", f"--dbname={uri}"],
                env=env, capture_output=True, text=True,
            )
            if result.returncode != 0:
                raise BackupError(f"pg_dump failed: {result.stderr.strip()}")
            tables = conn.exec_driver_sql(
                "SELECT table_name FROM information_schema.tables WHERE table_schema = current_schema() "
                "AND table_type = 'BASE TABLE'").scalars().all()
            return _snapshot(lambda sql: conn.exec_driver_sql(sql).all(), tables)
    finally:
        engine.dispose()


def _destination(dest: Path, tar: bool) -> Path:
    dest = Path(dest).absolute()
    if dest.is_dir():
        stamp = datetime.now(UTC).strftime("%Y%m%dT%H%M%SZ")
        dest = dest / (f"portal-backup-{stamp}" + (".tar" if tar else ""))
    if dest.exists() or dest.is_symlink():
        raise BackupError(f"{dest} already exists: a backup never overwrites anything.")
    if not dest.parent.is_dir():
        raise BackupError(f"The folder {dest.parent} does not exist.")
    return dest


def _inside(path: Path, folder: str | os.PathLike | None) -> bool:
    if not folder:
        return False
    folder = Path(folder).resolve()
    path = path.resolve()
    return path == folder or folder in path.parents


def backup(dest: str | os.PathLike, database_url: str, evidence_folder: str | os.PathLike,
           static_folder: str | os.PathLike | None = None, tar: bool = False) -> BackupReport:
    """Back up the database and the evidence it names to DEST (a new folder, or a .tar file).

    DEST may be an existing folder: the backup is then made inside it under a dated name.
    """
    kind = _kind(database_url)
    dest = _destination(Path(dest), tar or str(dest).endswith(".tar"))
    as_tar = dest.suffix == ".tar"
    for folder, what in ((static_folder, "the static folder (it is served to anyone)"), (evidence_folder, "the evidence folder")):
        if _inside(dest, folder):
            raise BackupError(f"A backup must not be written inside {what}: {dest}")
    evidence = Path(evidence_folder)

    partial = dest.parent / f".{dest.name}.partial-{secrets.token_hex(4)}"
    work = partial if not as_tar else Path(tempfile.mkdtemp(prefix=".portal-backup-", dir=dest.parent))
    try:
        work.mkdir(mode=0o700, exist_ok=as_tar)
        (work / EVIDENCE).mkdir(mode=0o700)
        database_file = work / (SQLITE_FILE if kind == "sqlite" else PG_FILE)
        # 1. The database first.
        snapshot = _backup_sqlite(database_url, database_file) if kind == "sqlite" else _backup_postgresql(database_url, database_file)
        os.chmod(database_file, 0o600)
        # 2. Then every file it names.
        files, problems = [], []
        for name in sorted(snapshot.names):
            where = snapshot.names[name]
            if not NAME.match(name):
                problems.append(f"{where} names {name!r}, which is not a stored evidence name")
                continue
            source = evidence / name
            if not source.is_file():
                problems.append(f"{name} (named in {where}) is missing from {evidence}")
                continue
            digest = _copy_file(source, work / EVIDENCE / name)
            if digest != name[:64]:
                problems.append(f"{name} (named in {where}) has changed: its bytes no longer match its name")
                continue
            files.append({"name": name, "sha256": digest, "size": (work / EVIDENCE / name).stat().st_size})
        if problems:
            shown = "\n  ".join(problems[:20]) + (f"\n  ... and {len(problems) - 20} more" if len(problems) > 20 else "")
            raise BackupError(f"No backup was made: {len(problems)} file(s) the database names cannot be backed up:\n  {shown}")
        # 3. The manifest, last.
        manifest = {
            "format": FORMAT,
            "created_at": datetime.now(UTC).isoformat(timespec="seconds"),
            "database": {
                "kind": kind,
                "file": database_file.name,
                "sha256": _sha256(database_file),
                "schema_revision": snapshot.revision,
                "tables": snapshot.tables,
            },
            "files": files,
        }
        manifest_path = work / MANIFEST
        with open(manifest_path, "w", encoding="utf-8") as handle:
            json.dump(manifest, handle, indent=2, sort_keys=True)
            handle.flush()
            os.fsync(handle.fileno())
        sync_to_disk(work / EVIDENCE)
        sync_to_disk(work)
        if as_tar:
            with tarfile.open(partial, "w") as archive:
                for path in [manifest_path, database_file, work / EVIDENCE] + [work / EVIDENCE / f["name"] for f in files]:
                    archive.add(path, arcname=str(path.relative_to(work)), recursive=False)
            os.chmod(partial, 0o600)
            sync_to_disk(partial)
        if dest.exists():
            raise BackupError(f"{dest} appeared while the backup was being made; the backup was not kept.")
        os.rename(partial, dest)
        sync_to_disk(dest.parent)
    except BaseException:
        shutil.rmtree(partial, ignore_errors=True) if partial.is_dir() else partial.unlink(missing_ok=True)
        raise
    finally:
        if as_tar:
            shutil.rmtree(work, ignore_errors=True)
    return BackupReport(dest, kind, snapshot.revision, len(snapshot.tables), sum(snapshot.tables.values()),
                        len(files), sum(f["size"] for f in files))


# Restoring ------------------------------------------------------------------------------------


def _read_backup(source: Path, scratch: Path) -> tuple[Path, dict]:
    """The backup's folder (a .tar is unpacked into scratch) and its manifest, checked file by file."""
    if source.is_file():
        try:
            with tarfile.open(source, "r") as archive:
                for member in archive.getmembers():
                    if not (member.isfile() or member.isdir()) or member.name.startswith("/") or ".." in Path(member.name).parts:
                        raise RestoreError(f"{source} holds an unexpected entry: {member.name!r}")
                archive.extractall(scratch, filter="data")
        except tarfile.TarError as error:
            raise RestoreError(f"{source} is not a readable backup archive: {error}") from error
        folder = scratch
    elif source.is_dir():
        folder = source
    else:
        raise RestoreError(f"There is no backup at {source}.")
    try:
        manifest = json.loads((folder / MANIFEST).read_text(encoding="utf-8"))
    except (OSError, ValueError) as error:
        raise RestoreError(f"{source} has no readable {MANIFEST}: is it a portal backup?") from error
    if manifest.get("format") != FORMAT:
        raise RestoreError(f"{source} is a backup in format {manifest.get('format')!r}; this portal reads format {FORMAT}.")
    database = manifest["database"]
    database_file = folder / database["file"]
    if database["file"] not in (SQLITE_FILE, PG_FILE) or not database_file.is_file():
        raise RestoreError(f"{source} is incomplete: its database file is missing.")
    problems = []
    if _sha256(database_file) != database["sha256"]:
        problems.append(f"{database['file']} does not match the manifest")
    for entry in manifest["files"]:
        path = folder / EVIDENCE / entry["name"]
        if not NAME.match(entry["name"]) or not path.is_file():
            problems.append(f"{entry['name']} is missing")
        elif _sha256(path) != entry["sha256"]:
            problems.append(f"{entry['name']} does not match the manifest")
    if problems:
        raise RestoreError(f"The backup at {source} is damaged; nothing was restored:\n  " + "\n  ".join(problems))
    return folder, manifest


def _sqlite_tables(connection: sqlite3.Connection) -> list[str]:
    return [row[0] for row in connection.execute("SELECT name FROM sqlite_master WHERE type = 'table' AND name NOT LIKE 'sqlite_%'")]


def _sqlite_is_empty(path: Path) -> bool:
    if not path.exists() or path.stat().st_size == 0:
        return True
    connection = sqlite3.connect(f"file:{path}?mode=ro", uri=True)
    try:
        return not connection.execute("SELECT count(*) FROM sqlite_master").fetchone()[0]
    finally:
        connection.close()


def _pg_is_empty(conn) -> bool:
    relations = conn.exec_driver_sql(
        "SELECT count(*) FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace WHERE n.nspname = current_schema()").scalar()
    types = conn.exec_driver_sql(
        "SELECT count(*) FROM pg_type t JOIN pg_namespace n ON n.oid = t.typnamespace "
        "WHERE n.nspname = current_schema() AND t.typtype IN ('e', 'd')").scalar()
    return not relations and not types


def _folder_entries(folder: Path) -> list[str]:
    return sorted(os.listdir(folder)) if folder.is_dir() else []


def _restore_sqlite(database_file: Path, database_url: str, force: bool) -> None:
    target = _sqlite_path(database_url)
    if not _sqlite_is_empty(target) and not force:
        raise RestoreError(f"The database {target} is not empty: restore refused (use --force to replace it).")
    target.parent.mkdir(parents=True, exist_ok=True)
    source = sqlite3.connect(f"file:{database_file}?mode=ro", uri=True)
    # Through SQLite's backup API into the target: any -wal file beside it is dealt with by SQLite itself.
    destination = sqlite3.connect(target)
    try:
        destination.execute("PRAGMA busy_timeout=15000")
        source.backup(destination)
    finally:
        source.close()
        destination.close()


def _restore_postgresql(database_file: Path, database_url: str, force: bool) -> None:
    engine = sa.create_engine(database_url, poolclass=NullPool)
    try:
        with engine.connect() as conn:
            if not _pg_is_empty(conn):
                if not force:
                    name = make_url(database_url).database
                    raise RestoreError(f"The database {name} is not empty: restore refused (use --force to replace it).")
                schema = conn.exec_driver_sql("SELECT current_schema()").scalar()
                conn.exec_driver_sql(f"DROP SCHEMA {_quote(schema)} CASCADE")
                conn.exec_driver_sql(f"CREATE SCHEMA {_quote(schema)}")
                conn.commit()
    finally:
        engine.dispose()
    uri, env = _libpq(database_url)
    result = subprocess.run(
        [_pg_tool("pg_restore"), "--no-owner", "--no-privileges", "--exit-on-error", "--single-transaction",
         f"--dbname={uri}", str(database_file)],
        env=env, capture_output=True, text=True,
    )
    if result.returncode != 0:
        raise RestoreError(f"pg_restore failed (nothing was restored to the database): {result.stderr.strip()}")


def _target_snapshot(kind: str, database_url: str) -> Snapshot:
    if kind == "sqlite":
        connection = sqlite3.connect(f"file:{_sqlite_path(database_url)}?mode=ro", uri=True)
        try:
            return _snapshot(lambda sql: connection.execute(sql).fetchall(), _sqlite_tables(connection))
        finally:
            connection.close()
    engine = sa.create_engine(database_url, poolclass=NullPool)
    try:
        with engine.connect() as conn:
            tables = conn.exec_driver_sql(
                "SELECT table_name FROM information_schema.tables WHERE table_schema = current_schema() "
                "AND table_type = 'BASE TABLE'").scalars().all()
            return _snapshot(lambda sql: conn.exec_driver_sql(sql).all(), tables)
    finally:
        engine.dispose()


def restore(source: str | os.PathLike, database_url: str, evidence_folder: str | os.PathLike,
            force: bool = False) -> RestoreReport:
    """Restore a backup into the configured database and evidence folder, then check both against its manifest.

    Stop the portal first. Both targets must be empty unless force is given: then the database is replaced
    and files of the same name in the evidence folder are overwritten (others are left in place).
    """
    try:
        kind = _kind(database_url)
    except BackupError as error:
        raise RestoreError(str(error)) from error
    evidence = Path(evidence_folder)
    with tempfile.TemporaryDirectory(prefix="portal-restore-") as scratch:
        folder, manifest = _read_backup(Path(source), Path(scratch))
        database = manifest["database"]
        if database["kind"] != kind:
            raise RestoreError(f"This is a backup of a {database['kind']} database, but the portal is set up for "
                               f"{kind}: set DATABASE_URL to a {database['kind']} database to restore it.")
        # Refuse before changing anything.
        existing = _folder_entries(evidence)
        if existing and not force:
            raise RestoreError(f"The evidence folder {evidence} is not empty ({len(existing)} file(s)): restore refused "
                               "(use --force to restore into it anyway).")
        if kind == "sqlite":
            _restore_sqlite(folder / database["file"], database_url, force)
        else:
            _restore_postgresql(folder / database["file"], database_url, force)

        evidence.mkdir(mode=0o700, parents=True, exist_ok=True)
        wanted = {entry["name"] for entry in manifest["files"]}
        for name in sorted(wanted):
            temporary = evidence / f".restore-{secrets.token_hex(8)}.tmp"
            try:
                _copy_file(folder / EVIDENCE / name, temporary)
                os.replace(temporary, evidence / name)
            finally:
                temporary.unlink(missing_ok=True)
        sync_to_disk(evidence)

    # Check what is now there against the manifest.
    restored = _target_snapshot(kind, database_url)
    problems = []
    if restored.revision != database["schema_revision"]:
        problems.append(f"schema revision {restored.revision}, the manifest says {database['schema_revision']}")
    for table in sorted(set(restored.tables) | set(database["tables"])):
        have, want = restored.tables.get(table), database["tables"].get(table)
        if have != want:
            problems.append(f"table {table}: {have} rows, the manifest says {want}")
    for entry in manifest["files"]:
        path = evidence / entry["name"]
        if not path.is_file() or _sha256(path) != entry["sha256"]:
            problems.append(f"file {entry['name']} does not match the manifest")
    missing = sorted(set(restored.names) - wanted)
    problems += [f"the database names {name}, which the backup does not hold" for name in missing]
    if problems:
        raise RestoreError("The restore does not match the backup's manifest:\n  " + "\n  ".join(problems))
    left = [name for name in existing if name not in wanted]
    return RestoreReport(kind, restored.revision, len(restored.tables), sum(restored.tables.values()), len(wanted), left)
