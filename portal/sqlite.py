"""SQLite settings: WAL, foreign keys, a busy timeout, and BEGIN IMMEDIATE for writes that must not interleave.

pysqlite's own transaction handling is switched off so SQLAlchemy's BEGIN is real; a session can
then ask for an IMMEDIATE transaction (take the write lock up front) with immediate_transaction().
"""

from contextlib import contextmanager

from flask import Flask, g, has_request_context, request
from sqlalchemy import event
from sqlalchemy.exc import OperationalError
from sqlalchemy.engine import Engine

from portal.extensions import db


def configure_sqlite(engine: Engine, app: Flask | None = None) -> None:
    if engine.dialect.name != "sqlite":
        return
    if app is not None:
        _retry_locked_reads(app)

    @event.listens_for(engine, "connect")
    def _on_connect(dbapi_connection, _record):
        dbapi_connection.isolation_level = None  # let SQLAlchemy emit BEGIN itself
        cursor = dbapi_connection.cursor()
        cursor.execute("PRAGMA journal_mode=WAL")
        cursor.execute("PRAGMA foreign_keys=ON")
        cursor.execute("PRAGMA busy_timeout=15000")
        cursor.execute("PRAGMA synchronous=NORMAL")
        # 64 MB of page cache per connection (the default is 2 MB): pages that walk thousands of
        # index entries (the payroll page) otherwise re-read the same pages from the OS each time.
        cursor.execute("PRAGMA cache_size=-65536")
        cursor.close()

    @event.listens_for(engine, "begin")
    def _on_begin(connection):
        mode = connection.get_execution_options().get("sqlite_begin") or _request_mode()
        connection.exec_driver_sql(f"BEGIN {mode}")


def _request_mode() -> str:
    """IMMEDIATE for the transactions of a request that may change something (POST and friends).

    A DEFERRED transaction that reads and then writes cannot wait for the write lock: if another writer
    committed after its first read, SQLite answers "database is locked" at once, whatever the busy
    timeout (the load test showed it on timesheet edits). Taking the lock up front makes writers queue
    for busy_timeout instead. Reads (GET) stay DEFERRED, so readers never wait for writers.
    """
    if has_request_context() and request.method not in ("GET", "HEAD", "OPTIONS"):
        return "IMMEDIATE"
    return "DEFERRED"


@contextmanager
def immediate_transaction():
    """Run the block in one transaction that holds the write lock from its start.

    On SQLite this is BEGIN IMMEDIATE, so two writers never interleave a read-then-write; on
    PostgreSQL an ordinary transaction (callers lock the rows they change with FOR UPDATE).
    """
    session = db.session()
    if session.in_transaction():
        session.commit()
    session.connection(execution_options={"sqlite_begin": "IMMEDIATE"})
    try:
        yield session
        session.commit()
    except Exception:
        session.rollback()
        raise


def is_locked(error: BaseException) -> bool:
    return isinstance(error, OperationalError) and "database is locked" in str(error.orig or error)


def _retry_locked_reads(app: Flask) -> None:
    """A GET that writes a little after reading (the session's last-seen time, the audit of a staff view)
    runs DEFERRED, and if another request committed in between, SQLite refuses the write at once: no
    wait helps a stale snapshot. The page only reads otherwise, so it is run once more from the start
    rather than shown as an error (the load test saw 2 in 39,000 requests).

    Flask keeps one handler per exception class, and this one (for OperationalError) is found before the
    portal's handler for every database error (DBAPIError, in portal/web): anything that is not a lock
    it can retry is passed on to that one (published as app.extensions["portal.database_error"]), so an
    unreachable database still gets its "service unavailable" page and any other error its 500."""

    def defer(error: OperationalError):
        handler = app.extensions.get("portal.database_error")
        if handler is None:
            raise error
        return handler(error)

    @app.errorhandler(OperationalError)
    def _locked(error: OperationalError):
        if not is_locked(error) or request.method not in ("GET", "HEAD") or g.get("sqlite_retried"):
            return defer(error)
        g.sqlite_retried = True
        db.session.rollback()
        app.logger.warning("SQLite was busy; running %s %s again", request.method, request.path)
        try:
            return app.view_functions[request.endpoint](**(request.view_args or {}))
        except OperationalError as again:  # locked once more (a 500), or the database has gone (a 503)
            return defer(again)
