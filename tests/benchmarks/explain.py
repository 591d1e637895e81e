"""Query plans of the heaviest pages: EXPLAIN (ANALYZE, BUFFERS) of each page's slowest statements.

    DATABASE_URL=... python -m tests.benchmarks.explain --out FILE [--top 3] [--case-person ID]

`python -m tests.benchmarks.run --explain FILE` runs this against the database it has just measured
(or against one kept with --keep, given in DATABASE_URL). The portal runs in this process (the Flask
test client, PORTAL_ENV=development) on that database, signed in as the personas: a server-side session
row is made for each (no password or authenticator code is used, so the codes the benchmark spent do
not matter). Each page is requested once to warm up, then once more with every SQL statement caught by
SQLAlchemy's before/after_cursor_execute events and timed. The statements are grouped by their text;
the `top` that took longest in all are explained with the parameters of their slowest run, each inside
a transaction that is rolled back (only SELECTs are explained: EXPLAIN ANALYZE runs the statement).
PostgreSQL's auto_explain would need a restart; this needs nothing. On SQLite: EXPLAIN QUERY PLAN
(SQLite has no ANALYZE of a single statement).

Figures only: it never fails on speed. Exit status 1 when a page does not answer 200.
"""

from __future__ import annotations

import argparse
import os
import re
import sys
import time
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path

import sqlalchemy as sa

# The heaviest pages: (title, persona, path). {amina} and {case} are filled in below.
PAGES = [
    ("Rachel's dashboard", "rachel@northfield.example", "/oversight"),
    ("Lee's organisation work queue", "lee@brightpath.example", "/work/organisation"),
    ("The caseload filtered by a flag", "lee@brightpath.example", "/caseload?flag=evidence&sort=caseworker"),
    ("A case page", "rachel@northfield.example", "/people/{case}/case"),
    ("Find a PA (Grace's district)", "david@example.org", "/find-a-pa"),
    ("Amina's transactions", "amina@example.org", "/people/{amina}/transactions"),
]
SCALE_QUERIES = {
    "recipients": "SELECT count(*) FROM recipients",
    "councils": "SELECT count(*) FROM organisations WHERE kind = 'council'",
    "providers": "SELECT count(*) FROM organisations WHERE kind = 'dpss'",
    "PA profiles": "SELECT count(*) FROM pa_profiles",
    "ledger rows": "SELECT count(*) FROM ledger_entries",
}
WRITES = re.compile(r"\b(INSERT|UPDATE|DELETE|MERGE)\b", re.IGNORECASE)


def scale_counts(conn) -> dict[str, int]:
    return {name: conn.exec_driver_sql(sql).scalar() for name, sql in SCALE_QUERIES.items()}


def scale_line(conn) -> str:
    return ", ".join(f"{name} {n:,}" for name, n in scale_counts(conn).items())


@dataclass
class Statement:
    sql: str
    runs: int = 0
    total_ms: float = 0.0
    slowest_ms: float = 0.0
    parameters: object = None  # of the slowest run

    def add(self, ms: float, parameters) -> None:
        self.runs += 1
        self.total_ms += ms
        if ms >= self.slowest_ms:
            self.slowest_ms, self.parameters = ms, parameters


@dataclass
class Capture:
    """Every statement run on the engine while `on`, grouped by its text."""

    on: bool = False
    statements: dict[str, Statement] = field(default_factory=dict)
    count: int = 0

    def attach(self, engine: sa.Engine) -> None:
        @sa.event.listens_for(engine, "before_cursor_execute")
        def _before(conn, cursor, statement, parameters, context, executemany):
            conn.info.setdefault("explain_started", []).append(time.perf_counter())

        @sa.event.listens_for(engine, "after_cursor_execute")
        def _after(conn, cursor, statement, parameters, context, executemany):
            ms = (time.perf_counter() - conn.info["explain_started"].pop()) * 1000
            if self.on and not executemany:
                self.count += 1
                self.statements.setdefault(statement, Statement(statement)).add(ms, parameters)

    def start(self) -> None:
        self.statements, self.count, self.on = {}, 0, True

    def stop(self) -> list[Statement]:
        self.on = False
        return sorted(self.statements.values(), key=lambda s: s.total_ms, reverse=True)


def is_read(sql: str) -> bool:
    head = sql.lstrip().split(None, 1)[0].upper() if sql.strip() else ""
    return head == "SELECT" or (head == "WITH" and not WRITES.search(sql))


def explain(engine: sa.Engine, statement: Statement) -> str:
    """The plan of one statement, run with the parameters of its slowest run, rolled back afterwards."""
    postgres = engine.dialect.name == "postgresql"
    prefix = "EXPLAIN (ANALYZE, BUFFERS) " if postgres else "EXPLAIN QUERY PLAN "
    with engine.connect() as conn:
        transaction = conn.begin()
        try:
            cursor = conn.connection.driver_connection.cursor()
            try:
                cursor.execute(prefix + statement.sql, statement.parameters or ())
                rows = cursor.fetchall()
            finally:
                cursor.close()
        finally:
            transaction.rollback()
    if postgres:
        return "\n".join(row[0] for row in rows)
    depth: dict[int, int] = {}
    out = []
    for node, parent, _, detail in rows:  # each step under its parent, as the sqlite3 shell shows them
        depth[node] = depth.get(parent, -1) + 1
        out.append(f"{'  ' * depth[node]}{detail}")
    return "\n".join(out)


def sign_in(app, email: str):
    """A test client signed in as `email` through a new server-side session (no password needed)."""
    from portal.extensions import db
    from portal.models import User
    from portal.services import sessions

    with app.app_context():  # only around this: a request needs an app context (and a g) of its own
        user = db.session.scalar(sa.select(User).where(User.email == email))
        if user is None:
            raise SystemExit(f"No user {email}: is this a database seeded by flask demo-data?")
        row = sessions.start_session(user)
        session_id = row.id
        db.session.commit()
    client = app.test_client()
    with client.session_transaction() as flask_session:
        flask_session["_user_id"] = session_id
        flask_session["_fresh"] = True
    return client


def fenced(text: str, language: str = "") -> str:
    return f"```{language}\n{text.strip()}\n```"


def run(out: Path, top: int, case_person: str | None) -> str:
    from portal import create_app
    from portal.extensions import db
    from portal.models import User

    app = create_app()
    lines: list[str] = []
    summary: list[str] = []
    with app.app_context():
        engine = db.engine
        amina = db.session.scalar(sa.select(User.person_id).where(User.email == "amina@example.org"))
    kind = engine.dialect.name
    with engine.connect() as conn:
        scale = scale_line(conn)
        version = conn.exec_driver_sql("SHOW server_version" if kind == "postgresql" else "SELECT sqlite_version()").scalar()
    clients: dict[str, object] = {}

    def client_for(email: str):
        if email not in clients:
            clients[email] = sign_in(app, email)
        return clients[email]

    if not case_person:  # as run.py chooses: the last person on the first page of Rachel's caseload
        page = client_for("rachel@northfield.example").get("/caseload")
        listed = re.findall(r'href="/people/(\d+)(?:/case)?"', page.get_data(as_text=True))
        if not listed:
            raise SystemExit("Rachel's caseload lists nobody: no case page to explain")
        case_person = listed[-1]
    capture = Capture()
    capture.attach(engine)
    method = "EXPLAIN (ANALYZE, BUFFERS)" if kind == "postgresql" else "EXPLAIN QUERY PLAN"
    lines += [
        "# Query plans of the heaviest pages",
        "",
        f"{'PostgreSQL' if kind == 'postgresql' else 'SQLite'} {version}; {scale}. "
        f"Written {datetime.now(UTC):%Y-%m-%d %H:%M} UTC by `python -m tests.benchmarks.explain`.",
        "",
        f"Each page was requested once to warm up, then once with every SQL statement caught and timed in process "
        f"(the Flask test client, one request at a time). Below, for each page, the {top} statements that took "
        f"longest in all (a statement run many times counts its total) with {method}, run again with the parameters "
        "of their slowest run in a transaction that was rolled back. Times in a plan are the database's own; "
        "the statement times include the driver and the network round trip.",
        "",
    ]
    for title, email, path in PAGES:
        url = path.format(amina=amina, case=case_person)
        client = client_for(email)
        response = client.get(url)
        if response.status_code != 200:
            raise SystemExit(f"GET {url} as {email} answered {response.status_code}, not 200")
        capture.start()
        started = time.perf_counter()
        response = client.get(url)
        wall_ms = (time.perf_counter() - started) * 1000
        statements = capture.stop()
        if response.status_code != 200:
            raise SystemExit(f"GET {url} as {email} answered {response.status_code}, not 200")
        in_db = sum(s.total_ms for s in statements)
        summary.append(f"  {title:<34} {wall_ms:9.1f} ms, {capture.count:4d} statements, {in_db:9.1f} ms in the database")
        lines += [f"## {title}", "", f"`GET {url}` as {email}: {wall_ms:.0f} ms in all; {capture.count} statements "
                  f"({len(statements)} different) taking {in_db:.0f} ms.", ""]
        chosen = [s for s in statements if is_read(s.sql)][:top]
        for n, statement in enumerate(chosen, 1):
            runs = f"{statement.runs} runs, {statement.total_ms:.1f} ms in all, slowest " if statement.runs > 1 else ""
            lines += [f"### {n}. {runs}{statement.slowest_ms:.1f} ms", "", fenced(statement.sql, "sql"), ""]
            if statement.parameters:
                shown = repr(statement.parameters)
                lines += [f"Parameters: `{shown if len(shown) <= 2000 else shown[:2000] + ' ...'}`", ""]
            lines += [fenced(explain(engine, statement)), ""]
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text("\n".join(lines))
    return "\n".join([f"Query plans ({top} slowest statements of each page) written to {out}:", *summary])


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m tests.benchmarks.explain", description=__doc__.split("\n\n")[0])
    parser.add_argument("--out", required=True, help="the Markdown file to write")
    parser.add_argument("--top", type=int, default=3, help="statements explained per page (default 3)")
    parser.add_argument("--case-person", default=None, help="whose case page (default: the last on Rachel's first caseload page)")
    args = parser.parse_args(argv)
    if not os.environ.get("DATABASE_URL"):
        parser.error("set DATABASE_URL to the benchmark's database")
    os.environ.setdefault("PORTAL_ENV", "development")
    print(run(Path(args.out), args.top, args.case_person))
    return 0


if __name__ == "__main__":
    sys.exit(main())
