"""The personas' payroll: one Brightpath pay run, built by Kim and approved by Lee.

The run is the fortnightly one for the newest complete pay period with an approved timesheet not yet
paid (Sophie's for Amina, in the demo: the last complete fortnight). It pays that timesheet through
payroll, so Amina's account expects Sophie's net pay, the tax and NI due to HMRC and the pension
contributions instead of the timesheet's gross.

Call load_payroll(ids, today) after demo_employing.load_employing (ids as returned by
demo.load_personas). Running it again changes nothing (the run key is fixed and an approved run is
never rebuilt).
"""

from datetime import date

import sqlalchemy as sa

from portal.extensions import db
from portal.models import Notification, Organisation, PaidTimesheet, PayPeriod, PayRun, PayRunStatus, Timesheet, TimesheetStatus, User
from portal.services import pay_periods, pay_runs
from portal.services.clock import london_today, utcnow

KIM, LEE = "kim@brightpath.example", "lee@brightpath.example"
LOOK_BACK_PERIODS = 4


def _period_to_run(provider_id: int, today: date):
    """The newest complete fortnight (of the last few) with an approved, unpaid payroll timesheet."""
    cal = pay_runs.calendar_of(provider_id)
    period = pay_periods.previous_period(PayPeriod.FORTNIGHTLY, cal, pay_periods.period_containing(PayPeriod.FORTNIGHTLY, cal, today))
    for _ in range(LOOK_BACK_PERIODS):
        waiting = db.session.scalar(
            sa.select(Timesheet.id).where(
                Timesheet.employer_id.in_(pay_runs.payroll_employer_ids(provider_id)), Timesheet.period_start == period.start,
                Timesheet.status == TimesheetStatus.APPROVED, Timesheet.paid_on.is_(None),
                Timesheet.id.not_in(sa.select(PaidTimesheet.timesheet_id))).limit(1))
        if waiting is not None:
            return period
        period = pay_periods.previous_period(PayPeriod.FORTNIGHTLY, cal, period)
    return None


def load_payroll(ids: dict[str, int], today: date | None = None) -> PayRun | None:
    today = today or london_today()
    brightpath = db.session.scalar(sa.select(Organisation).where(Organisation.name == "Brightpath Support"))
    users = {u.email: u for u in db.session.scalars(sa.select(User).where(User.email.in_([KIM, LEE])))}
    done = db.session.scalar(sa.select(PayRun).where(PayRun.provider_id == brightpath.id, PayRun.status == PayRunStatus.APPROVED,
                                                     PayRun.created_by_id == users[KIM].id).limit(1))
    if done is not None:
        return done
    period = _period_to_run(brightpath.id, today)
    if period is None:
        return None
    run = pay_runs.build_draft(brightpath.id, PayPeriod.FORTNIGHTLY, period.start, users[KIM], today)
    db.session.commit()
    if not run.payslips or any(p.problems for p in run.payslips):
        return run  # left as a draft for the demo to show what needs putting right
    pay_runs.approve(run.id, run.version, users[LEE], today)
    # The build and approval notified Lee and Kim: old news in the demo, read and not to be emailed.
    db.session.execute(sa.update(Notification).where(Notification.key.like(f"payrun:{run.id}:%"))
                       .values(emailed=True, read_at=utcnow()))
    db.session.commit()
    return run
