"""Page timings on a scaled database, next to a bare-Flask yardstick.

    python -m tests.benchmarks.run [--scale council|national] [--recipients N] [--requests R] [--explain FILE] [--keep]

1. A fresh database: PostgreSQL when DATABASE_URL is set (the database `portal_bench` on that server
   is dropped and created again), otherwise an SQLite file in a temporary folder. The real
   migrations, then `flask --app portal demo-data --scale N` (timed) with the scale's shape:
   council (the default): 20,000 recipients over the personas' two councils, providers of 2,000 to
   5,000 cases, 3.5 PA profiles per recipient, 40 card spends per 4 weeks (about 11 million ledger
   rows); national: 130,000 recipients, 150 more councils, about 30 providers, 70,000 profiles (the
   same share of the recipients when --recipients makes it smaller) and 10 card spends per 4 weeks
   (about 20 million ledger rows). --councils, --providers, --profiles and --transactions-per-cycle
   change one figure of the shape. The scale is printed once seeded (Database.scale).
2. The portal under gunicorn (one sync worker, PORTAL_ENV=development) and the yardstick
   (tests/benchmarks/yardstick.py, one route) under gunicorn on another port, both on 127.0.0.1.
3. R sequential requests per page over loopback after 10 warm-up requests (--warmup), signed in as the demo
   personas of shared/personas.md where the page needs it. Every measured response must be 200,
   except the timesheet pages (the employer's, the PA's as Sophie and as the generated PA with 5
   employers, and the DPSS "this period" page as Kim): one not answering 200 is reported as
   missing, not measured.
4. A table of server time (the Server-Timing header), client wall time and requests per second;
   then tests/benchmarks/timesheet_bench.py (the first provider's payroll-service cases and the
   overlap check timed in process) and the dataset's row counts.
5. With --explain FILE: the query plans of the heaviest pages (tests/benchmarks/explain.py) into FILE.

Benchmarks print figures; they never fail on speed. The exit status is 0 unless the run itself could
not be done (a server would not start, a page did not answer 200, ...), which is reported plainly.
"""

from __future__ import annotations

import argparse
import datetime as dt
import os
import platform
import re
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path

import pyotp
import requests
import sqlalchemy as sa

from portal.services.demo import DEMO_PASSWORD, DEMO_TOTP_SECRET
from portal.services.demo_employing_scale import SHARED_PA_EMAIL
from tests.benchmarks.common import BenchDatabase, BenchError, create_bench_database, percentile
from tests.benchmarks.explain import scale_line

ROOT = Path(__file__).resolve().parents[2]
BENCH_DB = "portal_bench"
HOST = "127.0.0.1"  # loopback only, always
WARMUP = 10  # warm-up requests per page (--warmup)
START_TIMEOUT = 60  # seconds for a server to answer its first request
REQUEST_TIMEOUT = 60  # seconds for any one request
SEED_TIMEOUT = 1800  # seconds for migrations or demo data (more for a big dataset: seed_timeout)
EXPLAIN_TIMEOUT = 1800  # seconds for the query plans (--explain)
# The shapes of `--scale`: recipients, generated councils, providers in all (None: as many as cases of
# 2,000 to 5,000 need), PA profiles per recipient, card spends per 4 weeks for each recipient.
SCALES = {
    "council": {"recipients": 20_000, "councils": 0, "providers": None, "profiles_per_recipient": 3.5, "transactions_per_cycle": 40},
    "national": {"recipients": 130_000, "councils": 150, "providers": 30, "profiles_per_recipient": 70_000 / 130_000,
                 "transactions_per_cycle": 10},
}
COUNTED_TABLES = ("people", "recipients", "caseload_entries", "users", "audit_events", "dp_accounts", "ledger_entries", "entry_states",
                  "employments", "timesheets", "shifts", "expected_items", "pa_profiles", "pa_profile_districts",
                  "pa_profile_checks", "vacancies")
TIMESHEET_BENCH_TIMEOUT = 600  # seconds for the in-process overlap check timings
SERVER_TIMING = re.compile(r"(?:^|,)\s*app;dur=([0-9.]+)")




# The database --------------------------------------------------------------------------------


@dataclass
class Database(BenchDatabase):
    def scale(self) -> str:
        """The dataset's size in a line: recipients, councils, providers, PA profiles and ledger rows."""
        engine = sa.create_engine(self.url)
        try:
            with engine.connect() as conn:
                return scale_line(conn)
        finally:
            engine.dispose()

    def row_counts(self, tables: tuple[str, ...] = COUNTED_TABLES) -> dict[str, int]:
        return super().row_counts(tables)


def create_database(temp_dir: Path, name: str = BENCH_DB) -> Database:
    return Database(**vars(create_bench_database(temp_dir, "bench.db", name)))


def portal_env(database_url: str) -> dict[str, str]:
    env = dict(os.environ)
    env["DATABASE_URL"] = database_url
    env["PORTAL_ENV"] = "development"
    env["PYTHONUNBUFFERED"] = "1"
    return env


def seed_timeout(recipients: int) -> int:
    """Seconds allowed for seeding: 30 minutes, and a second per 40 recipients beyond 20,000 (the national
    dataset, estimated at 10 to 15 minutes here from runs of 3,000 and 13,000, has until about 76 minutes)."""
    return SEED_TIMEOUT + max(0, recipients - 20_000) // 40


def flask_command(args: list[str], env: dict[str, str], what: str, timeout: int = SEED_TIMEOUT) -> float:
    """Run `flask --app portal ARGS`; returns the seconds it took."""
    started = time.perf_counter()
    try:
        done = subprocess.run(
            [sys.executable, "-m", "flask", "--app", "portal", *args],
            cwd=ROOT, env=env, capture_output=True, text=True, timeout=timeout,
        )
    except subprocess.TimeoutExpired as error:
        raise BenchError(f"{what} took longer than {timeout}s") from error
    if done.returncode != 0:
        raise BenchError(f"{what} failed (exit {done.returncode}):\n{(done.stdout + done.stderr)[-3000:]}")
    return time.perf_counter() - started


# The servers ---------------------------------------------------------------------------------


def free_ports(count: int) -> list[int]:
    sockets = []
    try:
        for _ in range(count):
            s = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
            s.bind((HOST, 0))
            sockets.append(s)
        return [s.getsockname()[1] for s in sockets]
    finally:
        for s in sockets:
            s.close()


@dataclass
class Server:
    name: str
    app: str
    port: int
    env: dict[str, str]
    log_path: Path
    workers: int = 1  # the load test (tests/load/run.py) runs several
    process: subprocess.Popen | None = None
    log_file: object = None

    @property
    def base(self) -> str:
        return f"http://{HOST}:{self.port}"

    def start(self) -> None:
        self.log_file = open(self.log_path, "w")  # noqa: SIM115 - closed in stop()
        self.process = subprocess.Popen(
            [
                sys.executable, "-m", "gunicorn",
                "--workers", str(self.workers), "--worker-class", "sync",
                "--bind", f"{HOST}:{self.port}",
                "--timeout", "120", "--graceful-timeout", "5",
                "--log-level", "warning",
                self.app,
            ],
            cwd=ROOT, env=self.env, stdout=self.log_file, stderr=subprocess.STDOUT,
            start_new_session=True,  # its own process group, so stop() can end its worker too
        )

    def log_tail(self, chars: int = 3000) -> str:
        try:
            return self.log_path.read_text(errors="replace")[-chars:]
        except OSError:
            return ""

    def wait_until_answering(self, path: str, deadline: float) -> None:
        session = new_session()
        last = "no answer"
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise BenchError(f"{self.name} exited (status {self.process.returncode}) before answering:\n{self.log_tail()}")
            try:
                response = session.get(self.base + path, timeout=5, allow_redirects=False)
                if response.status_code == 200:
                    return
                last = f"status {response.status_code}"
            except requests.RequestException as error:
                last = type(error).__name__
            time.sleep(0.1)
        raise BenchError(f"{self.name} did not answer {path} with 200 within {START_TIMEOUT}s ({last}):\n{self.log_tail()}")

    def stop(self) -> None:
        process = self.process
        if process is not None and process.poll() is None:
            try:
                os.killpg(process.pid, signal.SIGTERM)
            except ProcessLookupError:
                pass
            try:
                process.wait(timeout=10)
            except subprocess.TimeoutExpired:
                try:
                    os.killpg(process.pid, signal.SIGKILL)
                except ProcessLookupError:
                    pass
                process.wait(timeout=10)
        if self.log_file is not None:
            self.log_file.close()
            self.log_file = None


# Requests ------------------------------------------------------------------------------------


def new_session() -> requests.Session:
    session = requests.Session()
    session.trust_env = False  # never send loopback traffic through a proxy from the environment
    return session


def get(session: requests.Session, url: str, expect: int = 200) -> requests.Response:
    try:
        response = session.get(url, allow_redirects=False, timeout=REQUEST_TIMEOUT)
    except requests.RequestException as error:
        raise BenchError(f"GET {url} failed: {error}") from error
    if response.status_code != expect:
        where = response.headers.get("Location", "")
        raise BenchError(
            f"GET {url} answered {response.status_code}{' -> ' + where if where else ''}, not {expect}: "
            "timings of an error page are worthless, so the benchmark stops here"
        )
    return response


def csrf_token(html: str, url: str) -> str:
    match = re.search(r'name="csrf_token"[^>]*value="([^"]+)"', html)
    if not match:
        raise BenchError(f"no CSRF token in the form at {url}")
    return match.group(1)


def post_form(session: requests.Session, url: str, data: dict) -> requests.Response:
    page = get(session, url)
    try:
        return session.post(url, data={"csrf_token": csrf_token(page.text, url), **data},
                            allow_redirects=False, timeout=REQUEST_TIMEOUT)
    except requests.RequestException as error:
        raise BenchError(f"POST {url} failed: {error}") from error


def sign_in(base: str, email: str) -> requests.Session:
    """A session signed in as a demo persona (staff give an authenticator code too)."""
    session = new_session()
    response = post_form(session, base + "/sign-in", {"email": email, "password": DEMO_PASSWORD})
    location = response.headers.get("Location", "")
    if response.status_code == 302 and location.endswith("/sign-in/code"):
        totp = pyotp.TOTP(DEMO_TOTP_SECRET)
        step = totp.timecode(datetime.now(UTC))
        # Each code works once per account; the portal accepts the previous, current and next step.
        # The database is fresh, so the current step is unused; the next is a fallback.
        for candidate in (step, step + 1):
            response = post_form(session, base + "/sign-in/code", {"code": totp.generate_otp(candidate)})
            location = response.headers.get("Location", "")
            if response.status_code == 302:
                break
    if response.status_code != 302 or not location.endswith("/home"):
        raise BenchError(f"signing in as {email} failed: {response.status_code} {location or '(no redirect)'}")
    return session


def links(html: str, pattern: str) -> list[str]:
    return re.findall(pattern, html)


# Measuring -----------------------------------------------------------------------------------


@dataclass
class Result:
    label: str
    server_ms: list[float] = field(default_factory=list)
    wall_ms: list[float] = field(default_factory=list)
    seconds: float = 0.0

    @property
    def rate(self) -> float:
        return len(self.wall_ms) / self.seconds if self.seconds else 0.0


def server_time(response: requests.Response, url: str) -> float:
    header = response.headers.get("Server-Timing", "")
    match = SERVER_TIMING.search(header)
    if not match:
        raise BenchError(f"GET {url} has no 'Server-Timing: app;dur=' header (got {header!r})")
    return float(match.group(1))


def probe(session: requests.Session, url: str) -> str | None:
    """None if the page answers 200; otherwise why it is not measured (a page still being written)."""
    try:
        response = session.get(url, allow_redirects=False, timeout=REQUEST_TIMEOUT)
    except requests.RequestException as error:
        return f"no answer ({type(error).__name__})"
    if response.status_code == 200:
        return None
    where = response.headers.get("Location", "")
    return f"missing ({response.status_code}{' -> ' + where if where else ''})"


def timesheet_bench(env: dict[str, str], runs: int) -> str:
    """The payroll facts and the overlap check timings (tests/benchmarks/timesheet_bench.py), as printed."""
    try:
        done = subprocess.run(
            [sys.executable, "-m", "tests.benchmarks.timesheet_bench", "--runs", str(runs)],
            cwd=ROOT, env=env, capture_output=True, text=True, timeout=TIMESHEET_BENCH_TIMEOUT,
        )
    except subprocess.TimeoutExpired:
        return f"Timesheet benchmark: took longer than {TIMESHEET_BENCH_TIMEOUT}s (not measured)"
    if done.returncode != 0:
        return f"Timesheet benchmark failed (exit {done.returncode}), not measured:\n{(done.stdout + done.stderr)[-2000:]}"
    return done.stdout.rstrip()


def measure(label: str, session: requests.Session, url: str, count: int) -> Result:
    for _ in range(WARMUP):
        get(session, url)
    result = Result(label)
    began = time.perf_counter()
    for _ in range(count):
        started = time.perf_counter()
        response = get(session, url)
        result.wall_ms.append((time.perf_counter() - started) * 1000)
        result.server_ms.append(server_time(response, url))
    result.seconds = time.perf_counter() - began
    print(f"  {label:<40} p50 server {percentile(result.server_ms, 50):8.3f} ms", flush=True)
    return result


def measure_if_there(label: str, session: requests.Session, url: str, count: int, results: list[Result],
                     not_measured: list[tuple[str, str]]) -> None:
    """Measure a page that answers 200; report one that does not (yet) instead of stopping the run."""
    reason = probe(session, url)
    if reason:
        not_measured.append((label, reason))
        print(f"  {label:<40} {reason}", flush=True)
    else:
        results.append(measure(label, session, url, count))


def table(results: list[Result], yardstick: Result) -> str:
    base = percentile(yardstick.server_ms, 50)
    headers = ["page", "p50 server ms", "p95 server ms", "p50 wall ms", "p95 wall ms", "req/s", "x yardstick (p50 server)"]
    rows = []
    for r in results:
        digits = 3 if r is yardstick else 2  # the yardstick's header has three decimals, the portal's two
        p50 = percentile(r.server_ms, 50)
        rows.append([
            r.label,
            f"{p50:.{digits}f}", f"{percentile(r.server_ms, 95):.{digits}f}",
            f"{percentile(r.wall_ms, 50):.2f}", f"{percentile(r.wall_ms, 95):.2f}",
            f"{r.rate:.1f}",
            (f"{p50 / base:.1f}" if p50 / base < 10 else f"{p50 / base:.0f}") if base > 0 else "n/a",
        ])
    widths = [max(len(h), *(len(row[i]) for row in rows)) for i, h in enumerate(headers)]

    def line(cells):
        return " | ".join(c.ljust(widths[0]) if i == 0 else c.rjust(widths[i]) for i, c in enumerate(cells))

    out = [line(headers), "-+-".join("-" * w for w in widths)]
    out += [line(row) for row in rows]
    return "\n".join(out)


# The run -------------------------------------------------------------------------------------


def run(args: argparse.Namespace) -> None:
    temp_dir = Path(tempfile.mkdtemp(prefix="portal-bench-"))
    database: Database | None = None
    servers: list[Server] = []
    try:
        if args.reuse:
            # A database an earlier run kept (--keep): brought up to date, measured again, never seeded or dropped.
            url = args.reuse
            database = Database(url=url, kind="postgresql" if url.startswith("postgresql") else "sqlite", temp_dir=temp_dir)
            args.keep = True
        else:
            database = create_database(temp_dir)
        env = portal_env(database.url)
        print(f"Database: {database.kind}; {args.scale} scale, {args.recipients} generated recipients; {args.requests} "
              f"requests per page after {WARMUP} warm-up requests", flush=True)
        migrate_s = flask_command(["db", "upgrade"], env, "Migrations (flask db upgrade)")
        if args.reuse:
            print(f"Migrations: {migrate_s:.1f} s; reusing {database.url} as it was kept (nothing seeded)", flush=True)
        else:
            seed_s = flask_command(demo_data_args(args), env, "Demo data (flask demo-data)", seed_timeout(args.recipients))
            print(f"Migrations: {migrate_s:.1f} s; seeding (demo personas + {args.recipients} recipients, "
                  f"{args.councils} generated councils, {args.transactions_per_cycle} card spends per 4 weeks): {seed_s:.1f} s",
                  flush=True)
        if database.kind == "postgresql":
            print(f"VACUUM ANALYZE (planner statistics and visibility map, as autovacuum would make): {database.analyze():.1f} s", flush=True)
        print(f"Scale: {database.scale()}", flush=True)

        portal_port, yard_port = free_ports(2)
        yard_env = dict(os.environ, PYTHONUNBUFFERED="1")
        portal = Server("the portal", "portal:create_app()", portal_port, env, temp_dir / "portal-gunicorn.log")
        yard = Server("the yardstick", "tests.benchmarks.yardstick:app", yard_port, yard_env, temp_dir / "yardstick-gunicorn.log")
        servers = [portal, yard]
        for server in servers:
            server.start()
        deadline = time.monotonic() + START_TIMEOUT
        portal.wait_until_answering("/healthz", deadline)
        yard.wait_until_answering("/hello", deadline)
        print(f"Servers: portal on {portal.base}, yardstick on {yard.base} (gunicorn, 1 sync worker each)", flush=True)

        p = portal.base
        anonymous = new_session()
        amina, david, kim, rachel, admin = (
            sign_in(p, email)
            for email in ("amina@example.org", "david@example.org", "kim@brightpath.example",
                          "rachel@northfield.example", "admin@example.org")
        )
        # Ids come from the pages themselves, as a person would follow them.
        amina_people = links(get(amina, p + "/home").text, r'href="/people/(\d+)"')
        if not amina_people:
            raise BenchError("amina@example.org's home page has no link to /people/<id>")
        first_page = get(rachel, p + "/caseload").text
        listed = links(first_page, r'href="/people/(\d+)(?:/case)?"')
        if not listed:
            raise BenchError("rachel@northfield.example's caseload has no people on its first page")
        last_page = max([int(n) for n in links(first_page, r'href="/caseload\?page=(\d+)"')] or [1])

        # A generated recipient (a year of card history) from Rachel's caseload, for the money pages.
        generated = listed[-1]

        pages = [
            ("yardstick /hello", new_session(), yard.base + "/hello"),
            ("anonymous /", anonymous, p + "/"),
            ("anonymous /sign-in", anonymous, p + "/sign-in"),
            ("/healthz", anonymous, p + "/healthz"),
            ("amina /home", amina, p + "/home"),
            (f"amina /people/{amina_people[0]}", amina, p + f"/people/{amina_people[0]}"),
            ("david /home", david, p + "/home"),
            ("kim /home", kim, p + "/home"),
            ("kim /caseload", kim, p + "/caseload"),
            ("rachel /home", rachel, p + "/home"),
            ("rachel /caseload", rachel, p + "/caseload"),
            (f"rachel /caseload?page={last_page} (the last page)", rachel, p + f"/caseload?page={last_page}"),
            (f"amina /people/{amina_people[0]}/money", amina, p + f"/people/{amina_people[0]}/money"),
            (f"amina /people/{amina_people[0]}/transactions", amina, p + f"/people/{amina_people[0]}/transactions"),
            ("amina transactions, all time", amina, p + f"/people/{amina_people[0]}/transactions?period=all"),
            (f"rachel /people/{generated}/money", rachel, p + f"/people/{generated}/money"),
            (f"rachel /people/{generated}/transactions", rachel, p + f"/people/{generated}/transactions?period=all"),
            ("admin /admin/users", admin, p + "/admin/users"),
            ("admin /admin/audit", admin, p + "/admin/audit"),
        ]
        print("Measuring:", flush=True)
        results = [measure(label, session, url, args.requests) for label, session, url in pages]
        # Timesheets (issue 4): pages that may not be written yet are reported, not measured.
        sophie = sign_in(p, "sophie.pa@example.org")
        try:
            busy_pa = sign_in(p, SHARED_PA_EMAIL)
        except BenchError as error:
            busy_pa, not_measured = None, [("generated PA with 5 employers /timesheets", f"cannot sign in ({error})")]
        else:
            not_measured = []
        timesheet_pages = [
            (f"amina /people/{amina_people[0]}/timesheets", amina, p + f"/people/{amina_people[0]}/timesheets"),
            ("sophie.pa /timesheets", sophie, p + "/timesheets"),
            ("PA with 5 employers /timesheets", busy_pa, p + "/timesheets"),
            ("kim /payroll/timesheets", kim, p + "/payroll/timesheets"),
            # Harbour holds the other three quarters of the cases: how the page grows with a caseload.
            ("omar /payroll/timesheets", sign_in(p, "omar@harbour.example"), p + "/payroll/timesheets"),
        ]
        for label, session, url in timesheet_pages:
            if session is None:
                continue
            measure_if_there(label, session, url, args.requests, results, not_measured)
        # The PA register (issue 5): search over every generated profile, and matching both ways.
        jay = sign_in(p, "jay.pa@example.org")
        omar = sign_in(p, "omar@harbour.example")
        grace_vacancy = None
        three_filters = "?districts=NF4&slots=tue-morning&slots=thu-morning&experience=dementia&support=personal_care"
        register_pages = [
            ("david /find-a-pa (Grace's NF4, no filter)", david, p + "/find-a-pa"),
            ("david /find-a-pa, three filters", david, p + "/find-a-pa" + three_filters),
            ("david /find-a-pa, words in about me", david, p + "/find-a-pa?districts=NF4&q=dementia+families"),
            ("rachel /find-a-pa (all Northfield)", rachel, p + "/find-a-pa"),
            ("omar /find-a-pa?districts= (every profile)", omar, p + "/find-a-pa?districts="),
            ("jay.pa /vacancies", jay, p + "/vacancies"),
            ("jay.pa /home", jay, p + "/home"),
            ("rachel /register/council", rachel, p + "/register/council"),
        ]
        david_people = links(get(david, p + "/home").text, r'href="/people/(\d+)"')
        for person_id in david_people:
            page = david.get(p + f"/people/{person_id}/vacancies", allow_redirects=False, timeout=REQUEST_TIMEOUT)
            found = links(page.text, rf'href="/people/{person_id}/vacancies/(\d+)"') if page.status_code == 200 else []
            if found:
                grace_vacancy = (person_id, found[0])
                break
        if grace_vacancy:
            register_pages.append(("david vacancy page with best matches", david,
                                   p + f"/people/{grace_vacancy[0]}/vacancies/{grace_vacancy[1]}"))
        else:
            not_measured.append(("david vacancy page with best matches", "no vacancy link on David's people's pages"))
        for label, session, url in register_pages:
            measure_if_there(label, session, url, args.requests, results, not_measured)
        # Caseloads and oversight (issue 6): work queues, a case page, the council's dashboard.
        lee = sign_in(p, "lee@brightpath.example")
        casework_pages = [
            ("kim /work (her queue)", kim, p + "/work"),
            ("lee /work (all Brightpath)", lee, p + "/work"),
            ("lee /work/organisation", lee, p + "/work/organisation"),
            ("lee /work?kind=receipts-missing (view all)", lee, p + "/work?kind=receipts-missing"),
            ("omar /work (his queue)", omar, p + "/work"),
            (f"rachel case page /people/{generated}", rachel, p + f"/people/{generated}"),
            (f"rachel full case page /people/{generated}/case", rachel, p + f"/people/{generated}/case"),
            (f"kim full case page /people/{generated}/case", kim, p + f"/people/{generated}/case"),
            ("lee /caseload (all Brightpath)", lee, p + "/caseload"),
            ("lee /caseload?q=smith (search)", lee, p + "/caseload?q=smith"),
            ("lee /caseload?flag=evidence&sort=caseworker", lee, p + "/caseload?flag=evidence&sort=caseworker"),
            ("lee /caseload?service=payroll&flag=excess&page=3", lee, p + "/caseload?service=payroll&flag=excess&page=3"),
        ]
        for label, session, url in casework_pages:
            measure_if_there(label, session, url, args.requests, results, not_measured)
        # The dashboard reads a year of spending (seconds at 20,000 recipients today): a few requests only.
        measure_if_there("rachel /oversight (the dashboard)", rachel, p + "/oversight", max(3, min(args.requests, 10)),
                         results, not_measured)
        # Statement PDFs take longer: fewer requests each (the targets are 1 s and 3 s).
        today = dt.date.today()
        person = amina_people[0]
        pdf_pages = [
            ("amina statement PDF, 4 weeks", amina,
             p + f"/people/{person}/statement.pdf?from={(today - dt.timedelta(days=27)).isoformat()}&to={today.isoformat()}"),
            ("amina statement PDF, 12 months", amina,
             p + f"/people/{person}/statement.pdf?from={(today - dt.timedelta(days=364)).isoformat()}&to={today.isoformat()}"),
        ]
        results += [measure(label, session, url, max(3, min(args.requests, 10))) for label, session, url in pdf_pages]

        print()
        print(table(results, results[0]))
        for label, reason in not_measured:
            print(f"not measured: {label}: {reason}")
        print()
        print(timesheet_bench(env, 200), flush=True)
        print()
        counts = database.row_counts()
        print(f"Scale: {database.scale()}")
        print("Rows: " + ", ".join(f"{t} {n:,}" for t, n in counts.items()))
        print(f"Database: {database.describe()}")
        print(f"Python {platform.python_version()}, gunicorn 1 sync worker per app, {os.cpu_count()} CPUs, "
              f"{args.requests} sequential requests per page over loopback", flush=True)
        if args.explain:
            for server in servers:  # the plans are timed in process: nothing else running
                server.stop()
            print(explain_pages(env, args.explain, generated), flush=True)
    finally:
        for server in servers:
            server.stop()
        if database is not None and args.keep:
            print(f"Kept the database: {database.url} (server logs in {temp_dir})")
        elif database is not None:
            try:
                database.remove()
            except Exception as error:  # noqa: BLE001 - cleanup must not hide the real outcome
                print(f"Could not drop {BENCH_DB}: {error}", file=sys.stderr)
        if not args.keep:
            shutil.rmtree(temp_dir, ignore_errors=True)


def demo_data_args(args: argparse.Namespace) -> list[str]:
    """`flask demo-data` arguments for the scale asked for."""
    out = ["demo-data", "--scale", str(args.recipients), "--profiles", str(args.profiles),
           "--transactions-per-cycle", str(args.transactions_per_cycle)]
    if args.councils:
        out += ["--councils", str(args.councils)]
    if args.providers:
        out += ["--providers", str(args.providers)]
    return out


def explain_pages(env: dict[str, str], path: str, case_person: str) -> str:
    """Run tests/benchmarks/explain.py against the benchmark database; what it printed."""
    started = time.perf_counter()
    try:
        done = subprocess.run(
            [sys.executable, "-m", "tests.benchmarks.explain", "--out", str(Path(path).resolve()), "--case-person", str(case_person)],
            cwd=ROOT, env=env, capture_output=True, text=True, timeout=EXPLAIN_TIMEOUT,
        )
    except subprocess.TimeoutExpired:
        return f"Query plans: took longer than {EXPLAIN_TIMEOUT}s (not written)"
    if done.returncode != 0:
        raise BenchError(f"the query plans (--explain) failed (exit {done.returncode}):\n{(done.stdout + done.stderr)[-3000:]}")
    return f"{done.stdout.rstrip()}\nQuery plans: {time.perf_counter() - started:.1f} s"


def apply_scale(args: argparse.Namespace) -> None:
    """Fill what was not given from the --scale shape (profiles as the shape's share of the recipients)."""
    shape = SCALES[args.scale]
    if args.recipients is None:
        args.recipients = shape["recipients"]
    for name in ("councils", "providers", "transactions_per_cycle"):
        if getattr(args, name) is None:
            setattr(args, name, shape[name])
    if args.profiles is None:
        args.profiles = round(args.recipients * shape["profiles_per_recipient"])


def main(argv: list[str] | None = None) -> int:
    global WARMUP  # --warmup: read by measure() for every page
    parser = argparse.ArgumentParser(prog="python -m tests.benchmarks.run", description=__doc__.split("\n\n")[0])
    parser.add_argument("--scale", choices=sorted(SCALES), default="council",
                        help="the dataset's shape: council (20,000 recipients, the default) or national (130,000 across 150 councils)")
    parser.add_argument("--recipients", type=int, default=None, help="generated recipients to add to the demo data (default: the scale's)")
    parser.add_argument("--requests", type=int, default=200, help="measured requests per page (default 200)")
    parser.add_argument("--profiles", type=int, default=None,
                        help="PA register profiles to generate (default: the scale's share, 3.5 per recipient for council)")
    parser.add_argument("--councils", type=int, default=None, help="generated councils besides the personas' two (default: the scale's)")
    parser.add_argument("--providers", type=int, default=None, help="about how many DPSS providers in all (default: the scale's)")
    parser.add_argument("--transactions-per-cycle", type=int, default=None,
                        help="card spends per 4 weeks for each generated recipient (default: the scale's, 40 or 10)")
    parser.add_argument("--explain", metavar="FILE", default="",
                        help="write EXPLAIN (ANALYZE, BUFFERS) of the heaviest pages' slowest statements to FILE (Markdown)")
    parser.add_argument("--keep", action="store_true", help="keep the benchmark database (and SQLite folder) afterwards")
    parser.add_argument("--reuse", metavar="URL", default="",
                        help="measure a database an earlier run kept (--keep) instead of seeding a new one (it is migrated, then kept)")
    parser.add_argument("--warmup", type=int, default=WARMUP, help=f"warm-up requests per page (default {WARMUP}; fewer for a smoke run)")
    args = parser.parse_args(argv)
    apply_scale(args)
    if args.warmup < 0:
        parser.error("--warmup must be 0 or more")
    WARMUP = args.warmup
    if args.recipients < 0 or args.requests < 1:
        parser.error("--recipients must be 0 or more and --requests 1 or more")
    if args.councils < 0 or args.transactions_per_cycle < 1 or args.profiles < 0:
        parser.error("--councils and --profiles must be 0 or more and --transactions-per-cycle 1 or more")

    # A SIGTERM (CI cancelling) unwinds through the finally blocks, so the servers still stop.
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(143))
    started = time.perf_counter()
    try:
        run(args)
    except BenchError as error:
        print(f"\nBenchmark aborted: {error}", file=sys.stderr)
        return 1
    print(f"Total run: {time.perf_counter() - started:.1f} s")
    return 0


if __name__ == "__main__":
    sys.exit(main())
