"""Payroll at scale: a draft pay run for a big provider, one payslip PDF, and a whole run's payslips
rendered by the command, next to a bare-Flask yardstick.

    python -m tests.benchmarks.payroll_bench [--recipients 20000] [--frequency F] [--renders 20] [--requests 200] [--keep]

The issue's targets: a draft pay run for a provider with 2,000 employers and 3,800 PAs under 60 s;
one payslip PDF under 1 s; payslips for a whole run rendered by a command in bounded memory.

1. A fresh database: PostgreSQL when DATABASE_URL is set (the database `portal_payroll_bench` on that
   loopback server is dropped and created again), otherwise an SQLite file in a temporary folder.
   The real migrations, then `flask --app portal demo-data --scale N --profiles 0` (the demo personas
   and N generated recipients with money, PAs, employments and a year of timesheets; no register
   profiles, which payroll does not read). At 20,000 the first provider (Brightpath) holds 5,000 cases,
   about half on its payroll service, nearly all of those employing PAs: about 2,400 payroll employers
   and 4,500 employments, spread over four pay frequencies (weekly 30%, fortnightly 40%, 4-weekly 20%,
   monthly 10%). A pay run is per frequency, so no one run has all of them: the benchmark times the
   run for one frequency (the one with the most timesheets to pay unless --frequency says) and then
   the other three, whose sum is the provider's whole payroll for the period. The real counts are
   printed.
2. In this process, as Kim (Brightpath, payroll permission): `pay_runs.build_draft` for the last
   complete period of that frequency (one timed build, committed, then one timed rebuild), the other
   frequencies once each, then Lee (Brightpath's manager) approves the first run (timed: it posts the
   expected items). Where the demo's own run (demo_payroll.py, the personas' fortnight) already holds
   the last complete period, the current period is built instead: it pays the same late timesheets. A run that cannot be approved (payslips with problems) is reported with its
   problems and marked approved directly in this scratch database, so the PDFs can still be measured.
3. One payslip PDF: `payslips.payslip_view` + `payslips.payslip_pdf` in this process for --renders
   payslips of the run (the one with the most lines first, the rest spread over the run), after two
   warm-up renders; p50, p95 and the slowest.
4. The portal and the yardstick (tests/benchmarks/yardstick.py) under gunicorn on loopback as
   tests/benchmarks/run.py starts them; the payslip PDF as Kim downloads it (GET /payslips/<id>.pdf)
   and the run's page (GET /payroll/runs/<id>), by Server-Timing, next to the yardstick's /hello.
5. `flask --app portal render-payslips RUN_ID OUTDIR` in a child process over the whole approved run:
   wall time, files written (must equal the run's payslips), the child's peak memory (ru_maxrss from
   os.wait4, so nothing else is counted) and its resident memory sampled from /proc as the files
   appear (at 10%, 50% and 100% of them): flat means bounded.

Short mode for CI: --recipients 300 (a few dozen payslips; the figures mean little, the run proves the
benchmark still works). Benchmarks print figures; they never fail on speed. The exit status is 0
unless the run itself could not be done, which is reported plainly.
"""

from __future__ import annotations

import argparse
import logging
import os
import platform
import resource
import shutil
import signal
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path

import sqlalchemy as sa

from tests.benchmarks.common import BenchDatabase, BenchError, create_bench_database, percentile

ROOT = Path(__file__).resolve().parents[2]
BENCH_DB = "portal_payroll_bench"
BUILD_TARGET_S = 60.0
PDF_TARGET_S = 1.0
RENDER_TIMEOUT = 3600  # seconds for the whole run's PDFs
SAMPLE_EVERY = 0.25  # seconds between samples of the render child's memory
KIM, LEE = "kim@brightpath.example", "lee@brightpath.example"
FREQUENCIES = ["weekly", "fortnightly", "4-weekly", "monthly"]  # PayPeriod values (not imported before the app is made)


# The database --------------------------------------------------------------------------------


def create_database(folder: Path) -> BenchDatabase:
    return create_bench_database(folder, "payroll-bench.db", BENCH_DB)


# The provider and its runs ---------------------------------------------------------------------


@dataclass
class Built:
    frequency: str
    period: str
    seconds: float
    payslips: int
    employers: int
    pas: int
    timesheets: int
    problems: int
    rebuild_seconds: float | None = None


@dataclass
class Facts:
    provider_id: int
    provider: str
    cases: int
    payroll_cases: int
    employers: int  # payroll-service cases employing PAs (any frequency)
    employments: int
    pas: int
    by_frequency: dict[str, tuple[int, int, int]] = field(default_factory=dict)  # employers, employments, PAs


def provider_facts() -> Facts:
    from portal.extensions import db
    from portal.models import CaseloadEntry, Employment, Organisation, OrganisationKind
    from portal.services import pay_runs

    provider = db.session.scalar(sa.select(Organisation).where(Organisation.kind == OrganisationKind.DPSS).order_by(Organisation.id).limit(1))
    if provider is None:
        raise BenchError("no DPSS provider in the benchmark database")
    payroll = pay_runs.payroll_employer_ids(provider.id)
    live = sa.and_(Employment.employer_id.in_(payroll))

    def counts(*where) -> tuple[int, int, int]:
        row = db.session.execute(sa.select(sa.func.count(sa.distinct(Employment.employer_id)), sa.func.count(),
                                           sa.func.count(sa.distinct(Employment.pa_id))).where(live, *where)).one()
        return int(row[0]), int(row[1]), int(row[2])

    employers, employments, pas = counts()
    facts = Facts(
        provider_id=provider.id, provider=provider.name,
        cases=db.session.scalar(sa.select(sa.func.count()).select_from(CaseloadEntry).where(CaseloadEntry.provider_id == provider.id)),
        payroll_cases=db.session.scalar(sa.select(sa.func.count()).select_from(payroll.subquery())),
        employers=employers, employments=employments, pas=pas,
    )
    from portal.models import PayPeriod

    for frequency in PayPeriod:
        facts.by_frequency[frequency.value] = counts(Employment.pay_period == frequency)
    return facts


def period_to_run(provider_id: int, frequency, today):
    """(period, note): the last complete period, unless its run is already approved (the demo's own
    Brightpath run for the personas, demo_payroll.py): then the current one, which pays the approved
    timesheets of the last period too (a run pays every approved, unpaid timesheet up to its end)."""
    from portal.extensions import db
    from portal.models import PayRun, PayRunStatus
    from portal.services import pay_runs

    current, last = pay_runs.periods_to_choose(provider_id, today, complete=1)[frequency]
    status = db.session.scalar(sa.select(PayRun.status).where(PayRun.run_key == pay_runs.run_key(provider_id, frequency, last.start)))
    if status == PayRunStatus.APPROVED:
        return current, f"the run for {last.start} to {last.end} is already approved (the demo's): this period's instead"
    return last, ""


def timesheets_to_pay(provider_id: int, frequency, period) -> int:
    """Approved, unpaid timesheets of the provider's payroll employers up to the period's end (what a run pays)."""
    from portal.extensions import db
    from portal.models import Employment, PaidTimesheet, Timesheet, TimesheetStatus
    from portal.services import pay_runs

    return db.session.scalar(
        sa.select(sa.func.count()).select_from(Timesheet).join(Employment, Employment.id == Timesheet.employment_id)
        .where(Employment.employer_id.in_(pay_runs.payroll_employer_ids(provider_id)), Employment.pay_period == frequency,
               Timesheet.status == TimesheetStatus.APPROVED, Timesheet.period_end <= period.end, Timesheet.paid_on.is_(None),
               Timesheet.id.not_in(sa.select(PaidTimesheet.timesheet_id))))


def build(provider_id: int, frequency, period, user, today) -> tuple[int, float]:
    """One build_draft in its own transaction, as the page runs it; (run id, seconds)."""
    from portal.extensions import db
    from portal.services import pay_runs
    from portal.sqlite import immediate_transaction

    db.session.expire_all()
    started = time.perf_counter()
    with immediate_transaction():
        run = pay_runs.build_draft(provider_id, frequency, period.start, user, today)
        run_id = run.id
    return run_id, time.perf_counter() - started


def describe_run(run_id: int) -> tuple[int, int, int, int, int]:
    """(payslips, employers, PAs, timesheets paid, payslips with problems) of a run."""
    from portal.extensions import db
    from portal.models import Payslip, PayslipLine

    row = db.session.execute(
        sa.select(sa.func.count(), sa.func.count(sa.distinct(Payslip.employer_id)), sa.func.count(sa.distinct(Payslip.pa_id)))
        .where(Payslip.run_id == run_id)).one()
    timesheets = db.session.scalar(
        sa.select(sa.func.count(sa.distinct(PayslipLine.timesheet_id))).join(Payslip, Payslip.id == PayslipLine.payslip_id)
        .where(Payslip.run_id == run_id, PayslipLine.timesheet_id.is_not(None)))
    problems = db.session.scalar(sa.select(sa.func.count()).select_from(Payslip)
                                 .where(Payslip.run_id == run_id, sa.func.coalesce(Payslip.problems, "") != ""))
    return int(row[0]), int(row[1]), int(row[2]), int(timesheets or 0), int(problems or 0)


def approve(run_id: int, approver, today) -> tuple[float, str]:
    """Approve as the second person (timed); if the run cannot be approved, say why and mark it approved
    directly (this is a scratch database) so its PDFs can be measured. Returns (seconds, note)."""
    from portal.extensions import db
    from portal.models import PayRun, PayRunStatus, Payslip
    from portal.services import pay_runs
    from portal.sqlite import immediate_transaction

    db.session.expire_all()
    version = db.session.scalar(sa.select(PayRun.version).where(PayRun.id == run_id))
    started = time.perf_counter()
    try:
        with immediate_transaction():
            pay_runs.approve(run_id, version, approver, today)
    except pay_runs.PayRunError as refused:
        problems = db.session.scalars(sa.select(Payslip.problems).where(Payslip.run_id == run_id, Payslip.problems != "").limit(3)).all()
        db.session.execute(sa.update(PayRun).where(PayRun.id == run_id).values(status=PayRunStatus.APPROVED, approved_by_id=approver.id))
        db.session.commit()
        text = refused.message if hasattr(refused, "message") else str(refused)
        return 0.0, (f"NOT approved by the service ({text[:300]}); marked approved directly to measure the PDFs. "
                     f"First problems: {' | '.join(p.replace(chr(10), ' / ') for p in problems)}")
    return time.perf_counter() - started, ""


def pdf_timings(run_id: int, renders: int) -> tuple[list[float], int, list[int]]:
    """Seconds per payslip PDF (view + PDF, in this process) for `renders` payslips; also the bytes of the
    first and the payslip ids used (the one with the most lines first)."""
    from portal.extensions import db
    from portal.models import Payslip, PayslipLine
    from portal.services import payslips

    busiest = db.session.scalar(
        sa.select(PayslipLine.payslip_id).join(Payslip, Payslip.id == PayslipLine.payslip_id).where(Payslip.run_id == run_id)
        .group_by(PayslipLine.payslip_id).order_by(sa.func.count().desc(), PayslipLine.payslip_id).limit(1))
    ids = list(db.session.scalars(sa.select(Payslip.id).where(Payslip.run_id == run_id).order_by(Payslip.id)))
    if not ids:
        raise BenchError(f"pay run {run_id} has no payslips: nothing to render")
    step = max(1, len(ids) // max(1, renders - 1))
    chosen = [busiest] + [i for i in ids[::step] if i != busiest]
    chosen = chosen[:renders]

    def one(payslip_id: int) -> bytes:
        db.session.expunge_all()
        payslip = db.session.get(Payslip, payslip_id)
        return payslips.payslip_pdf(payslips.payslip_view(payslip))

    for payslip_id in chosen[:2]:  # warm-up: fonts, templates, WeasyPrint's first-use caches
        size = len(one(payslip_id))
    out = []
    for payslip_id in chosen:
        started = time.perf_counter()
        one(payslip_id)
        out.append(time.perf_counter() - started)
    db.session.rollback()
    return out, size, chosen


# The render command, watched ------------------------------------------------------------------


@dataclass
class Rendered:
    seconds: float
    files: int
    peak_mb: float
    cpu_seconds: float
    rss_at: dict[int, float]  # percent of files written -> resident MB then
    output: str


def _rss_mb(pid: int) -> float | None:
    try:
        with open(f"/proc/{pid}/status") as status:
            for line in status:
                if line.startswith("VmRSS:"):
                    return int(line.split()[1]) / 1024
    except OSError:
        return None
    return None


def render_command(env: dict[str, str], run_id: int, outdir: Path, expected: int, folder: Path) -> Rendered:
    """`flask render-payslips RUN_ID OUTDIR` in a child; its own rusage via os.wait4, memory sampled from /proc."""
    log_path = folder / "render-payslips.log"
    marks = {10: None, 50: None, 90: None}
    with open(log_path, "w") as log:
        started = time.perf_counter()
        child = subprocess.Popen([sys.executable, "-m", "flask", "--app", "portal", "render-payslips", str(run_id), str(outdir)],
                                 cwd=ROOT, env=env, stdout=log, stderr=subprocess.STDOUT)
        status = rusage = None
        while True:
            pid, status, rusage = os.wait4(child.pid, os.WNOHANG)
            if pid == child.pid:
                break
            if time.perf_counter() - started > RENDER_TIMEOUT:
                child.kill()
                os.wait4(child.pid, 0)
                raise BenchError(f"render-payslips took longer than {RENDER_TIMEOUT}s")
            rss = _rss_mb(child.pid)
            if rss is not None and expected:
                done = sum(1 for _ in outdir.iterdir()) if outdir.exists() else 0
                for percent in marks:
                    if marks[percent] is None and done * 100 >= percent * expected:
                        marks[percent] = rss
            time.sleep(SAMPLE_EVERY)
        seconds = time.perf_counter() - started
    child.returncode = os.waitstatus_to_exitcode(status)  # reaped by wait4: tell Popen so it does not wait again
    output = log_path.read_text(errors="replace")
    if child.returncode != 0:
        raise BenchError(f"render-payslips failed (exit {child.returncode}):\n{output[-3000:]}")
    files = sum(1 for p in outdir.iterdir() if p.suffix == ".pdf")
    # Linux reports ru_maxrss in kilobytes.
    marks[100] = rusage.ru_maxrss / 1024
    return Rendered(seconds, files, rusage.ru_maxrss / 1024, rusage.ru_utime + rusage.ru_stime,
                    {k: v for k, v in marks.items() if v is not None}, output.strip())


# HTTP, next to the yardstick -------------------------------------------------------------------


def timed_gets(label: str, session, url: str, count: int, warmup: int):
    from tests.benchmarks.run import Result, get, server_time

    for _ in range(warmup):
        get(session, url)
    result = Result(label)
    began = time.perf_counter()
    for _ in range(count):
        started = time.perf_counter()
        response = get(session, url)
        result.wall_ms.append((time.perf_counter() - started) * 1000)
        result.server_ms.append(server_time(response, url))
    result.seconds = time.perf_counter() - began
    print(f"  {label:<44} p50 server {percentile(result.server_ms, 50):10.2f} ms", flush=True)
    return result


def http_figures(env: dict[str, str], folder: Path, run_id: int, payslip_ids: list[int], requests_: int) -> str:
    from tests.benchmarks.run import Server, free_ports, sign_in, table

    portal_port, yard_port = free_ports(2)
    portal = Server("the portal", "portal:create_app()", portal_port, env, folder / "portal-gunicorn.log")
    yard = Server("the yardstick", "tests.benchmarks.yardstick:app", yard_port, dict(os.environ, PYTHONUNBUFFERED="1"),
                  folder / "yardstick-gunicorn.log")
    servers = [portal, yard]
    try:
        for server in servers:
            server.start()
        deadline = time.monotonic() + 60
        portal.wait_until_answering("/healthz", deadline)
        yard.wait_until_answering("/hello", deadline)
        from tests.benchmarks.run import new_session

        kim = sign_in(portal.base, KIM)
        results = [timed_gets("yardstick /hello", new_session(), yard.base + "/hello", requests_, 10)]
        pdf_count = max(3, min(requests_, 20))
        pdf_results = []
        for payslip_id in payslip_ids[:3]:
            pdf_results.append(timed_gets(f"kim /payslips/{payslip_id}.pdf", kim, portal.base + f"/payslips/{payslip_id}.pdf",
                                          pdf_count, 2))
        results += pdf_results
        results.append(timed_gets(f"kim /payroll/runs/{run_id} (the whole run)", kim, portal.base + f"/payroll/runs/{run_id}",
                                  max(3, min(requests_, 5)), 1))
        return table(results, results[0])
    finally:
        for server in servers:
            server.stop()


# The run -------------------------------------------------------------------------------------


def run(args: argparse.Namespace) -> None:
    from tests.benchmarks.run import flask_command, portal_env

    folder = Path(tempfile.mkdtemp(prefix="portal-payroll-bench-"))
    database = create_database(folder)
    try:
        env = portal_env(database.url)
        print(f"Payroll benchmark: {args.recipients:,} generated recipients; database {database.kind}", flush=True)
        migrate_s = flask_command(["db", "upgrade"], env, "Migrations (flask db upgrade)")
        seed_s = flask_command(["demo-data", "--scale", str(args.recipients), "--profiles", "0"], env, "Demo data (flask demo-data)")
        database.analyze()
        print(f"Migrations {migrate_s:.1f} s; demo personas + {args.recipients:,} recipients with money, PAs and a year of "
              f"timesheets {seed_s:.1f} s", flush=True)

        from portal import create_app
        from portal.extensions import db
        from portal.models import PayPeriod, User
        from portal.services.clock import london_today

        app = create_app({"SQLALCHEMY_DATABASE_URI": database.url})
        logging.getLogger("weasyprint").setLevel(logging.WARNING)  # its progress lines would bury the figures
        with app.app_context():
            today = london_today()
            facts = provider_facts()
            print(f"\n{facts.provider}: {facts.cases:,} cases, {facts.payroll_cases:,} on the payroll service; "
                  f"{facts.employers:,} of those employ PAs ({facts.employments:,} employments, {facts.pas:,} PAs). "
                  f"Target: 2,000 employers and 3,800 PAs.", flush=True)
            kim = db.session.scalar(sa.select(User).where(User.email == KIM))
            lee = db.session.scalar(sa.select(User).where(User.email == LEE))
            if kim is None or kim.organisation_id != facts.provider_id or lee is None:
                raise BenchError("Kim and Lee must be staff of the first DPSS provider (the demo personas)")
            plan = []
            for frequency in PayPeriod:
                period, note = period_to_run(facts.provider_id, frequency, today)
                employers, employments, pas = facts.by_frequency[frequency.value]
                waiting = timesheets_to_pay(facts.provider_id, frequency, period)
                plan.append((frequency, period, waiting))
                print(f"  {frequency.value:<12} {employers:>6,} employers {employments:>6,} employments {pas:>6,} PAs; "
                      f"{'period' if note else 'last complete period'} {period.start} to {period.end} (pay date {period.pay_date}): "
                      f"{waiting:,} approved timesheets to pay{' (' + note + ')' if note else ''}", flush=True)
            if args.frequency:
                first = next(p for p in plan if p[0].value == args.frequency)
            else:
                first = max(plan, key=lambda p: p[2])
            plan = [first] + [p for p in plan if p is not first]

            print(f"\nDraft pay runs (pay_runs.build_draft as Kim, committed; today {today}):", flush=True)
            built: list[Built] = []
            first_run_id = None
            ru_before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
            for index, (frequency, period, _) in enumerate(plan):
                run_id, seconds = build(facts.provider_id, frequency, period, kim, today)
                payslips_, employers, pas, timesheets, problems = describe_run(run_id)
                entry = Built(frequency.value, f"{period.start} to {period.end}", seconds, payslips_, employers, pas, timesheets, problems)
                if index == 0:
                    first_run_id = run_id
                    _, entry.rebuild_seconds = build(facts.provider_id, frequency, period, kim, today)
                built.append(entry)
                rebuilt = f"; rebuilt in {entry.rebuild_seconds:.1f} s" if entry.rebuild_seconds is not None else ""
                verdict = "met" if seconds < BUILD_TARGET_S else "NOT met"
                print(f"  {entry.frequency:<12} {entry.period}: {seconds:6.1f} s for {payslips_:,} payslips ({employers:,} employers, "
                      f"{pas:,} PAs, {timesheets:,} timesheets; {problems:,} with problems){rebuilt}  target < {BUILD_TARGET_S:g} s: "
                      f"{verdict}", flush=True)
            total_s = sum(b.seconds for b in built)
            print(f"  {'all four':<12} {sum(b.payslips for b in built):,} payslips, {sum(b.employers for b in built):,} employer-runs, "
                  f"{total_s:.1f} s in all (the provider's whole payroll for the period)")
            peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
            print(f"  this process's peak memory after the builds: {peak:.0f} MB (before them {ru_before:.0f} MB)", flush=True)

            approve_s, note = approve(first_run_id, lee, today)
            expected = describe_run(first_run_id)[0]
            if note:
                print(f"\nApproval of run {first_run_id}: {note}", flush=True)
            else:
                print(f"\nApproval of run {first_run_id} by Lee (pay_runs.approve, posting the expected items): {approve_s:.1f} s",
                      flush=True)

            renders, pdf_bytes, used = pdf_timings(first_run_id, args.renders)
            p50, p95 = percentile(renders, 50), percentile(renders, 95)
            print(f"\nOne payslip PDF (payslip_view + payslip_pdf in this process, {len(renders)} payslips after 2 warm-ups, "
                  f"first with the most lines; {pdf_bytes:,} bytes):", flush=True)
            print(f"  p50 {p50 * 1000:7.0f} ms  p95 {p95 * 1000:7.0f} ms  slowest {max(renders) * 1000:7.0f} ms  "
                  f"target < {PDF_TARGET_S:g} s: {'met' if p95 < PDF_TARGET_S else 'NOT met'}", flush=True)
            db.session.remove()
            db.engine.dispose()

        print("\nOver HTTP (gunicorn, 1 sync worker each, loopback), signed in as Kim:", flush=True)
        print(http_figures(env, folder, first_run_id, used, args.requests), flush=True)

        outdir = folder / "payslips"
        rendered = render_command(env, first_run_id, outdir, expected, folder)
        if rendered.files != expected:
            raise BenchError(f"render-payslips wrote {rendered.files} PDFs for a run of {expected} payslips")
        per = rendered.seconds / rendered.files * 1000 if rendered.files else 0.0
        size_mb = sum(p.stat().st_size for p in outdir.iterdir()) / 1e6
        print(f"\nflask render-payslips {first_run_id} (a child process, the whole run): {rendered.files:,} PDFs "
              f"({size_mb:.1f} MB) in {rendered.seconds:.1f} s ({per:.0f} ms each; CPU {rendered.cpu_seconds:.1f} s)")
        marks = ", ".join(f"{k}% {v:.0f} MB" for k, v in sorted(rendered.rss_at.items()) if k != 100)
        print(f"  peak memory (ru_maxrss of the child): {rendered.peak_mb:.0f} MB; resident as the files appeared: "
              f"{marks or 'too quick to sample'} (flat = bounded)")
        print(f"  the command said: {rendered.output.splitlines()[-1] if rendered.output else '(nothing)'}")
        print(f"\nDatabase: {database.describe()}; Python {platform.python_version()}, {os.cpu_count()} CPUs")
    finally:
        if args.keep:
            print(f"Kept: {folder} ({database.url})")
        else:
            try:
                database.remove()
            except Exception as error:  # noqa: BLE001 - cleanup must not hide the real outcome
                print(f"Could not drop {BENCH_DB}: {error}", file=sys.stderr)
            shutil.rmtree(folder, ignore_errors=True)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m tests.benchmarks.payroll_bench", description=__doc__.split("\n\n")[0])
    parser.add_argument("--recipients", type=int, default=20000, help="generated recipients (default 20,000: Brightpath holds 5,000 cases)")
    parser.add_argument("--frequency", choices=FREQUENCIES, default=None,
                        help="the pay frequency of the run to approve and render (default: the one with the most timesheets to pay)")
    parser.add_argument("--renders", type=int, default=20, help="payslip PDFs timed in process (default 20)")
    parser.add_argument("--requests", type=int, default=200, help="requests to the yardstick (the PDF and run pages take fewer)")
    parser.add_argument("--keep", action="store_true", help="keep the database, the PDFs and the server logs afterwards")
    args = parser.parse_args(argv)
    if args.recipients < 1 or args.renders < 1 or args.requests < 1:
        parser.error("--recipients, --renders and --requests must be 1 or more")
    os.environ.setdefault("PORTAL_ENV", "development")
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
