"""What the benchmarks share: a throwaway database to measure in (SQLite, or PostgreSQL on loopback), and
percentiles."""

import math
import os
import time
from dataclasses import dataclass
from pathlib import Path

import sqlalchemy as sa
from sqlalchemy.engine import make_url


class BenchError(Exception):
    """A benchmark that cannot be run as asked (bad settings, a server that does not answer)."""


def recreate_postgres_database(given: str, name: str) -> str:
    """Drop and create database `name` on the loopback server of DATABASE_URL; its URL."""
    if not given.startswith("postgresql"):
        raise BenchError(f"DATABASE_URL must be a PostgreSQL URL (or unset for SQLite), not {given.split(':')[0]}:...")
    parsed = make_url(given)
    if parsed.database == name:
        raise BenchError(f"DATABASE_URL must name another database than {name} (the benchmark drops and recreates that one)")
    if parsed.host not in (None, "", "127.0.0.1", "localhost", "::1"):
        raise BenchError(f"DATABASE_URL must point at a loopback server, not {parsed.host}")
    admin = sa.create_engine(given, isolation_level="AUTOCOMMIT")
    try:
        with admin.connect() as conn:
            conn.exec_driver_sql(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
            conn.exec_driver_sql(f'CREATE DATABASE "{name}"')
    except sa.exc.OperationalError as error:
        raise BenchError(f"cannot reach PostgreSQL at DATABASE_URL: {error.orig}") from error
    finally:
        admin.dispose()
    return parsed.set(database=name).render_as_string(hide_password=False)


def percentile(values: list[float], p: float) -> float:
    """Nearest-rank percentile."""
    ordered = sorted(values)
    return ordered[max(0, math.ceil(p / 100 * len(ordered)) - 1)]


@dataclass
class BenchDatabase:
    """The database a benchmark seeds and measures: a file in its temporary folder, or (DATABASE_URL set) a
    PostgreSQL database it made on that server and drops afterwards."""

    url: str
    kind: str  # "postgresql" or "sqlite"
    admin_url: str | None = None
    temp_dir: Path | None = None

    def _engine(self, **options) -> sa.Engine:
        return sa.create_engine(self.url, **options)

    def describe(self) -> str:
        engine = self._engine()
        try:
            with engine.connect() as conn:
                if self.kind == "postgresql":
                    version = conn.exec_driver_sql("SHOW server_version").scalar()
                    where = make_url(self.url)
                    return f"PostgreSQL {version} (database {where.database} on {where.host}:{where.port})"
                version = conn.exec_driver_sql("SELECT sqlite_version()").scalar()
                return f"SQLite {version} (temporary file {make_url(self.url).database})"
        finally:
            engine.dispose()

    def row_counts(self, tables: tuple[str, ...]) -> dict[str, int]:
        engine = self._engine()
        try:
            with engine.connect() as conn:
                return {t: conn.exec_driver_sql(f"SELECT count(*) FROM {t}").scalar() for t in tables}
        finally:
            engine.dispose()

    def analyze(self) -> float:
        """PostgreSQL: VACUUM ANALYZE now, as autovacuum would within minutes of a bulk load; the seconds taken.

        Straight after a bulk load the tables have no statistics (the planner guesses one row where there
        are thousands) and no visibility map (an index-only scan visits the table for every row: 83,000
        heap fetches on the dashboard's register counts), so timings would depend on whether autovacuum
        happened to run during the benchmark. SQLite never gathers statistics unless told to, and the
        portal never tells it, so the SQLite run is left as the portal would run.
        """
        if self.kind != "postgresql":
            return 0.0
        started = time.perf_counter()
        engine = self._engine(isolation_level="AUTOCOMMIT")
        try:
            with engine.connect() as conn:
                conn.exec_driver_sql("VACUUM ANALYZE")
        finally:
            engine.dispose()
        return time.perf_counter() - started

    def remove(self) -> None:
        if self.kind == "postgresql" and self.admin_url:
            engine = sa.create_engine(self.admin_url, isolation_level="AUTOCOMMIT")
            try:
                with engine.connect() as conn:
                    conn.exec_driver_sql(f'DROP DATABASE IF EXISTS "{make_url(self.url).database}" WITH (FORCE)')
            finally:
                engine.dispose()


def create_bench_database(folder: Path, filename: str, name: str) -> BenchDatabase:
    """SQLite file `filename` in `folder`, or (DATABASE_URL set) PostgreSQL database `name`, made afresh."""
    given = os.environ.get("DATABASE_URL", "").strip()
    if not given:
        return BenchDatabase(url=f"sqlite:///{folder / filename}", kind="sqlite", temp_dir=folder)
    return BenchDatabase(url=recreate_postgres_database(given, name), kind="postgresql", admin_url=given)
