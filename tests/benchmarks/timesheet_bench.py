"""Timesheets on the scaled database: the payroll caseload it holds, and the overlap check in process.

    python -m tests.benchmarks.timesheet_bench [--runs 200]

Run by tests/benchmarks/run.py after the page timings, against the benchmark database
(DATABASE_URL, as the portal reads it). It prints:

1. the dataset's payroll facts: the first DPSS provider's (Brightpath's) payroll-service cases, how
   many employ PAs, and the timesheets in their current pay periods (the DPSS "this period" page
   is aimed at a provider with 5,000 cases);
2. p50/p95 over R runs, in ms, of `timesheets.overlaps(ts)` and `timesheets.check(ts)` for a timesheet
   of the generated PA with 5 employers (the one with the most shifts: the widest range to search),
   with the timesheet already loaded, and `check` again with the timesheet loaded afresh each time
   (as a request would). Target: the overlap check under 5 ms.

Benchmarks print figures; they never fail on speed.
"""

from __future__ import annotations

import argparse
import os
import sys
import time

import sqlalchemy as sa

from tests.benchmarks.common import BenchError, percentile

OVERLAP_TARGET_MS = 5.0
WARMUP = 10


def payroll_facts() -> dict[str, int | str]:
    """Cases, PA-employing cases and this period's timesheets of the first DPSS provider."""
    from portal.extensions import db
    from portal.models import CaseloadEntry, Employment, Organisation, OrganisationKind, Timesheet
    from portal.services.clock import london_today

    provider = db.session.scalar(sa.select(Organisation).where(Organisation.kind == OrganisationKind.DPSS).order_by(Organisation.id).limit(1))
    if provider is None:
        raise BenchError("no DPSS provider in the benchmark database")
    today = london_today()
    payroll_cases = sa.select(CaseloadEntry.recipient_id).where(CaseloadEntry.provider_id == provider.id, CaseloadEntry.payroll.is_(True))
    return {
        "provider": provider.name,
        "cases": db.session.scalar(sa.select(sa.func.count()).select_from(CaseloadEntry).where(CaseloadEntry.provider_id == provider.id)),
        "payroll_cases": db.session.scalar(sa.select(sa.func.count()).select_from(payroll_cases.subquery())),
        "payroll_employers": db.session.scalar(sa.select(sa.func.count(sa.distinct(Employment.employer_id)))
                                               .where(Employment.employer_id.in_(payroll_cases))),
        "payroll_employments": db.session.scalar(sa.select(sa.func.count()).select_from(Employment)
                                                 .where(Employment.employer_id.in_(payroll_cases))),
        "timesheets_this_period": db.session.scalar(
            sa.select(sa.func.count()).select_from(Timesheet)
            .where(Timesheet.employer_id.in_(payroll_cases), Timesheet.period_start <= today, Timesheet.period_end >= today)),
    }


def busiest_pa() -> tuple[int, int] | None:
    """(person id, employers) of the generated PA with 5 employers, else of the PA with the most employers."""
    from portal.extensions import db
    from portal.models import Employment, User
    from portal.services.demo_employing_scale import SHARED_PA_EMAIL

    by_pa = (sa.select(Employment.pa_id, sa.func.count(sa.distinct(Employment.employer_id)).label("employers"))
             .group_by(Employment.pa_id))
    person_id = db.session.scalar(sa.select(User.person_id).where(User.email == SHARED_PA_EMAIL))
    if person_id is not None:
        row = db.session.execute(by_pa.where(Employment.pa_id == person_id)).first()
    else:
        row = db.session.execute(by_pa.order_by(sa.desc("employers"), Employment.pa_id).limit(1)).first()
    return (row[0], row[1]) if row else None


def time_ms(fn, runs: int) -> list[float]:
    for _ in range(WARMUP):
        fn()
    out = []
    for _ in range(runs):
        started = time.perf_counter()
        fn()
        out.append((time.perf_counter() - started) * 1000)
    return out


def overlap_micro(runs: int) -> list[str]:
    """Lines of figures for the overlap check and check() of the busiest PA's fullest timesheet."""
    from portal.extensions import db
    from portal.models import Shift, Timesheet
    from portal.services import timesheets

    found = busiest_pa()
    if found is None:
        return ["Overlap check: no PA with employments in the database (skipped)"]
    pa_id, employers = found
    ts_id = db.session.scalar(
        sa.select(Shift.timesheet_id).join(Timesheet, Timesheet.id == Shift.timesheet_id)
        .where(Shift.pa_id == pa_id, Timesheet.status.in_(timesheets.LIVE))
        .group_by(Shift.timesheet_id).order_by(sa.func.count().desc(), Shift.timesheet_id.desc()).limit(1))
    if ts_id is None:
        return [f"Overlap check: PA {pa_id} has no shifts (skipped)"]
    ts = db.session.get(Timesheet, ts_id)
    shifts = len(ts.shifts)
    low, high = min(s.starts_at for s in ts.shifts), max(s.ends_at for s in ts.shifts)
    others = len(timesheets._other_live_shifts(ts, low, high))
    found_overlaps = len(timesheets.overlaps(ts))
    warnings = timesheets.check(ts)

    overlap_ms = time_ms(lambda: timesheets.overlaps(ts), runs)
    check_ms = time_ms(lambda: timesheets.check(ts), runs)

    def fresh_check():
        db.session.expire_all()
        timesheets.check(db.session.get(Timesheet, ts_id))

    fresh_ms = time_ms(fresh_check, runs)
    db.session.rollback()

    def line(label, values, target=None):
        p50, p95 = percentile(values, 50), percentile(values, 95)
        verdict = "" if target is None else f"  (target < {target:g} ms: {'met' if p95 < target else 'NOT met'})"
        return f"  {label:<46} p50 {p50:7.2f} ms  p95 {p95:7.2f} ms{verdict}"

    return [
        f"Overlap check: PA {pa_id} ({employers} employers), timesheet {ts_id} ({ts.period_start} to {ts.period_end}, "
        f"{ts.employment.pay_period.value}, {shifts} shifts; {others} of the PA's other shifts in range; "
        f"{found_overlaps} overlapping pairs; {len(warnings)} warnings), {runs} runs each:",
        line("timesheets.overlaps(ts)", overlap_ms, OVERLAP_TARGET_MS),
        line("timesheets.check(ts)", check_ms),
        line("timesheets.check(ts), timesheet loaded afresh", fresh_ms),
    ]


def run(runs: int) -> None:
    os.environ.setdefault("PORTAL_ENV", "development")
    from portal import create_app

    app = create_app()
    with app.app_context():
        facts = payroll_facts()
        print(f"Payroll: {facts['provider']} has {facts['payroll_cases']:,} payroll-service cases "
              f"(of {facts['cases']:,} cases; target 5,000); {facts['payroll_employers']:,} of them employ PAs "
              f"({facts['payroll_employments']:,} employments); {facts['timesheets_this_period']:,} timesheets in "
              "their current pay periods", flush=True)
        for text in overlap_micro(runs):
            print(text, flush=True)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m tests.benchmarks.timesheet_bench", description=__doc__.split("\n\n")[0])
    parser.add_argument("--runs", type=int, default=200, help="timed runs of each check (default 200)")
    args = parser.parse_args(argv)
    try:
        run(max(1, args.runs))
    except BenchError as error:
        print(f"Timesheet benchmark not run: {error}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
