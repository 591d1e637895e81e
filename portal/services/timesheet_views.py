"""What the timesheet pages show: the PA's overview, the employer's overview, one timesheet.

Each builder runs a fixed number of queries (no query per row), whatever the number of timesheets.
"""


from dataclasses import dataclass, field
from datetime import date, timedelta
from decimal import Decimal

import sqlalchemy as sa
from sqlalchemy.orm import selectinload

from portal.extensions import db
from portal.models import (
    Employment,
    ExpectedItem,
    ExpectedStatus,
    LedgerEntry,
    Person,
    Recipient,
    Role,
    Shift,
    Timesheet,
    TimesheetDocument,
    TimesheetStatus,
    User,
)
from portal.services import pay_periods, timesheets
from portal.services.pay_periods import Period
from portal.services.timesheets import LIVE, Totals, Warning

ACTIVE_OR_RECENT = timedelta(days=60)  # an employment that ended lately still shows, for the last timesheets


def period_days(ts: Timesheet) -> list[date]:
    return [ts.period_start + timedelta(days=n) for n in range((ts.period_end - ts.period_start).days + 1)]


def deadline_words(period: Period) -> str:
    return f"Submit by {period.submit_by:%A %-d %B} to be paid on {period.pay_date:%A %-d %B}"


def _employments(where) -> list[Employment]:
    return list(db.session.scalars(
        sa.select(Employment).where(where).options(selectinload(Employment.pa), selectinload(Employment.employer).selectinload(Recipient.person))
        .order_by(Employment.start_date, Employment.id)))


def _is_current(employment: Employment, today: date) -> bool:
    return employment.start_date <= today and (employment.end_date is None or employment.end_date >= today - ACTIVE_OR_RECENT)


@dataclass
class JobRow:
    """One employment with its current period and that period's timesheet (if started)."""

    employment: Employment
    period: Period
    timesheet: Timesheet | None
    late: list[Period] = field(default_factory=list)  # earlier periods with nothing submitted
    minutes: int = 0

    @property
    def deadline(self) -> str:
        return deadline_words(self.period)


@dataclass
class PAOverview:
    jobs: list[JobRow]
    groups: dict[str, list[Timesheet]]
    week_start: date
    week_minutes: int
    week_by_employer: dict[str, int]
    period_minutes: int

    @property
    def week_hours(self) -> str:
        return timesheets.hours_text(self.week_minutes)


def _latest_by_period(rows: list[Timesheet]) -> dict[tuple[int, date], Timesheet]:
    latest: dict[tuple[int, date], Timesheet] = {}
    for ts in rows:
        if ts.status == TimesheetStatus.SUPERSEDED:
            continue
        key = (ts.employment_id, ts.period_start)
        if key not in latest or ts.revision > latest[key].revision:
            latest[key] = ts
    return latest


def _jobs(employments: list[Employment], sheets: list[Timesheet], today: date) -> list[JobRow]:
    latest = _latest_by_period(sheets)
    calendars: dict[int, object] = {}
    rows = []
    for employment in employments:
        if not _is_current(employment, today):
            continue
        cal = calendars.get(employment.employer_id) or pay_periods.calendar_for(employment.employer_id)
        calendars[employment.employer_id] = cal
        period = pay_periods.period_containing(employment.pay_period, cal, min(today, employment.end_date or today))
        row = JobRow(employment, period, latest.get((employment.id, period.start)))
        earlier = period
        for _ in range(3):  # the last three periods: anything not yet submitted is late
            earlier = pay_periods.previous_period(employment.pay_period, cal, earlier)
            if earlier.end < employment.start_date:
                break
            ts = latest.get((employment.id, earlier.start))
            if ts is None or ts.status in (TimesheetStatus.DRAFT, TimesheetStatus.SENT_BACK):
                row.late.append(earlier)
        rows.append(row)
    return rows


def _minutes_by_timesheet(ids: list[int]) -> dict[int, int]:
    if not ids:
        return {}
    return dict(db.session.execute(
        sa.select(Shift.timesheet_id, sa.func.sum(Shift.minutes)).where(Shift.timesheet_id.in_(ids)).group_by(Shift.timesheet_id)
    ).all())


def pa_overview(person_id: int, today: date) -> PAOverview:
    employments = _employments(Employment.pa_id == person_id)
    sheets = list(db.session.scalars(
        sa.select(Timesheet).where(Timesheet.pa_id == person_id, Timesheet.period_start >= today - timedelta(days=400))
        .options(selectinload(Timesheet.employment).selectinload(Employment.employer).selectinload(Recipient.person))
        .order_by(Timesheet.period_start.desc(), Timesheet.id.desc())))
    jobs = _jobs(employments, sheets, today)
    minutes = _minutes_by_timesheet([j.timesheet.id for j in jobs if j.timesheet])
    for job in jobs:
        if job.timesheet:
            job.minutes = minutes.get(job.timesheet.id, 0) + _keyed(job.timesheet)
    week_start = today - timedelta(days=today.weekday())
    week_rows = db.session.execute(
        sa.select(Timesheet.employer_id, sa.func.sum(Shift.minutes))
        .join(Timesheet, Timesheet.id == Shift.timesheet_id)
        .where(Shift.pa_id == person_id, Shift.work_date.between(week_start, week_start + timedelta(days=6)),
               Timesheet.status.in_(LIVE))
        .group_by(Timesheet.employer_id)).all()
    names = {e.employer_id: e.employer.full_name for e in employments}
    by_employer = {names.get(employer_id, "Another employer"): total for employer_id, total in week_rows}
    groups = _groups(sheets)
    return PAOverview(jobs, groups, week_start, sum(by_employer.values()), by_employer, sum(j.minutes for j in jobs))


def _keyed(ts: Timesheet) -> int:
    return ts.keyed_day_minutes + ts.keyed_night_minutes + ts.keyed_weekend_minutes


GROUP_ORDER = [
    ("Sent back", (TimesheetStatus.SENT_BACK,)),
    ("Not submitted", (TimesheetStatus.DRAFT,)),
    ("Waiting for approval", (TimesheetStatus.SUBMITTED,)),
    ("Paper, waiting to be typed in", (TimesheetStatus.AWAITING_KEYING,)),
    ("Approved", (TimesheetStatus.APPROVED,)),
]
APPROVED_SHOWN = 12


def _groups(sheets: list[Timesheet]) -> dict[str, list[Timesheet]]:
    groups: dict[str, list[Timesheet]] = {}
    for label, statuses in GROUP_ORDER:
        items = [ts for ts in sheets if ts.status in statuses]
        if label == "Approved":
            items = items[:APPROVED_SHOWN]
        groups[label] = items
    return groups


@dataclass
class PlanHours:
    start: date
    end: date
    used_minutes: int
    allowed_minutes: int
    per_week: Decimal

    @property
    def over(self) -> bool:
        return self.used_minutes > self.allowed_minutes


@dataclass
class EmployerOverview:
    jobs: list[JobRow]
    groups: dict[str, list[Timesheet]]
    may_approve: bool
    may_enter_for: set[int]  # employment ids whose timesheets this user enters (PAs without an account)
    may_manage: bool
    plan: PlanHours | None
    managed: bool


def employer_overview(user: User, recipient: Recipient, today: date) -> EmployerOverview:
    from portal.access import may_manage

    employments = _employments(Employment.employer_id == recipient.person_id)
    sheets = list(db.session.scalars(
        sa.select(Timesheet).where(Timesheet.employer_id == recipient.person_id, Timesheet.period_start >= today - timedelta(days=400))
        .options(selectinload(Timesheet.employment).selectinload(Employment.pa))
        .order_by(Timesheet.period_start.desc(), Timesheet.id.desc())))
    jobs = _jobs(employments, sheets, today)
    minutes = _minutes_by_timesheet([j.timesheet.id for j in jobs if j.timesheet])
    for job in jobs:
        if job.timesheet:
            job.minutes = minutes.get(job.timesheet.id, 0) + _keyed(job.timesheet)
    managed = timesheets.is_managed(recipient.person_id)
    manage = may_manage(user, recipient)
    approve = manage and ((managed and user.role.is_dpss) or (not managed and user.role in (Role.RECIPIENT, Role.REPRESENTATIVE)))
    with_accounts = set(db.session.scalars(sa.select(User.person_id).where(
        User.person_id.in_([e.pa_id for e in employments]), User.role == Role.PA)))
    enter_for = {e.id for e in employments if manage and e.pa_id not in with_accounts}
    plan = None
    per_week = timesheets.plan_hours_per_week(recipient.person_id, today)
    if per_week is not None:
        end = today - timedelta(days=today.weekday()) + timedelta(days=6)
        start = end - timedelta(days=27)
        used = timesheets.hours_in_period(recipient.person_id, start, end)
        allowed = int(per_week * 60 * 4)
        plan = PlanHours(start, end, used, allowed, per_week)
    return EmployerOverview(jobs, _groups(sheets), approve, enter_for, manage, plan, managed)


def paper_choices(employer_id: int, today: date) -> list[tuple[Employment, list[Period]]]:
    """For each current PA, the recent periods that have no timesheet under way (the last six)."""
    employments = [e for e in _employments(Employment.employer_id == employer_id) if _is_current(e, today)]
    taken = {(row.employment_id, row.period_start) for row in db.session.execute(
        sa.select(Timesheet.employment_id, Timesheet.period_start).where(
            Timesheet.employer_id == employer_id, Timesheet.period_start >= today - timedelta(days=250),
            sa.or_(Timesheet.status != TimesheetStatus.DRAFT, Timesheet.id.in_(sa.select(Shift.timesheet_id)))))}
    out = []
    for employment in employments:
        cal = pay_periods.calendar_for(employer_id)
        period = pay_periods.period_containing(employment.pay_period, cal, today)
        periods = []
        for _ in range(6):
            if period.end >= employment.start_date and (employment.id, period.start) not in taken:
                periods.append(period)
            period = pay_periods.previous_period(employment.pay_period, cal, period)
        if periods:
            out.append((employment, periods))
    return out


@dataclass
class TimesheetPage:
    period: Period
    days: list[date]
    totals: Totals
    warnings: list[Warning]
    can_edit: bool
    can_approve: bool
    can_correct: bool
    is_pa: bool
    correction: Timesheet | None
    changes: list
    expected: ExpectedItem | None
    documents: list[TimesheetDocument]
    employer_name: str
    pa_name: str
    back_url_kind: str  # "pa" or "employer"
    approved_by: str = ""
    submitted_by: str = ""
    sent_back_by: str = ""

    @property
    def deadline(self) -> str:
        return deadline_words(self.period)

    @property
    def owed(self) -> bool:
        return self.expected is not None and self.expected.status == ExpectedStatus.OPEN

    @property
    def paid_from_account_on(self) -> date | None:
        """The day a card or bank payment that settled it left the account (none: not paid that way)."""
        if self.expected is None or self.expected.settled_by_id is None:
            return None
        return db.session.scalar(sa.select(LedgerEntry.entry_date).where(LedgerEntry.id == self.expected.settled_by_id))


def timesheet_page(user: User, ts: Timesheet, today: date) -> TimesheetPage:
    period = timesheets.period_of(ts)
    warnings = [] if ts.is_locked else timesheets.visible_warnings(user, timesheets.check(ts))
    correction = db.session.scalar(sa.select(Timesheet).where(Timesheet.corrects_id == ts.id))
    owners = [ts.id] + ([ts.corrects_id] if ts.corrects_id else [])
    documents = list(db.session.scalars(sa.select(TimesheetDocument).where(TimesheetDocument.timesheet_id.in_(owners))
                                        .order_by(TimesheetDocument.id)))
    people = {u.id: u.display_name for u in db.session.scalars(sa.select(User).where(
        User.id.in_([i for i in (ts.approved_by_id, ts.submitted_by_id, ts.sent_back_by_id) if i])))}
    employer = db.session.get(Person, ts.employer_id)
    return TimesheetPage(
        period=period, days=period_days(ts), totals=timesheets.totals(ts), warnings=warnings,
        can_edit=timesheets.may_edit(user, ts), can_approve=timesheets.may_approve(user, ts),
        can_correct=may_correct(user, ts) and correction is None, is_pa=user.role == Role.PA, correction=correction,
        changes=timesheets.changes(ts) if ts.corrects_id else [], expected=timesheets.expected_item(ts),
        documents=documents, employer_name=employer.full_name, pa_name=ts.employment.pa.full_name,
        back_url_kind="pa" if user.role == Role.PA else "employer",
        approved_by=people.get(ts.approved_by_id, ""), submitted_by=people.get(ts.submitted_by_id, ""),
        sent_back_by=people.get(ts.sent_back_by_id, ""),
    )


def may_correct(user: User, ts: Timesheet) -> bool:
    """An approved timesheet is corrected by whoever enters its shifts (the PA, or the employer's side)."""
    return ts.status == TimesheetStatus.APPROVED and timesheets.may_enter(user, ts)



