"""What the benchmarks share: a throwaway PostgreSQL database to measure in, and percentiles."""

import math

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
