"""Reminders, sent by `flask --app portal send-reminders` (a scheduler runs it every day).

- Timesheet deadlines: the day before and on the submit-by date, to the PA (for a PA without an
  account, to whoever approves the employer's timesheets), when the timesheet for the period that
  ended before the deadline has not been submitted.
- Late timesheets: once the deadline has passed (within LATE_WINDOW_DAYS), to the employer's
  approvers and the DPSS caseworker.
- Employer's liability insurance ending within 30 days, or no policy in force, and the employer's
  duties still not done 14 days after an employment started (written contract, right-to-work check,
  pension assessment): to the employer (the recipient and manage-level representatives) and the
  caseworker.
- Register checks (first aid, DBS...) expiring within 30 days, to the PA; checks that lapsed stop
  counting as verified in search (services/register.lapse_and_remind). The register's per-user view
  log, kept only for rate limits, is cleared of entries older than two days.

Every reminder has a notification key naming the event ("reminder:deadline:<employment>:<period
start>:today"), and a user gets each key once, so running the command twice sends nothing twice.
Emails go out afterwards, through notifications.deliver_pending.
"""

from collections import defaultdict
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import date, timedelta

import sqlalchemy as sa
from flask import current_app
from werkzeug.routing import BuildError

from portal.extensions import db
from portal.models import (
    CaseloadEntry,
    EmployerInsurance,
    Employment,
    PayPeriod,
    PayrollCalendar,
    Person,
    RepresentativeLevel,
    RepresentativeLink,
    Role,
    Timesheet,
    TimesheetStatus,
    User,
)
from portal.services import notifications, pay_periods, register, timesheets
from portal.services.pay_periods import Period

LATE_WINDOW_DAYS = 14  # a deadline that passed longer ago than this is the payroll team's business, not a reminder's
INSURANCE_WARNING_DAYS = 30
DUTY_GRACE_DAYS = 14
# Statuses that mean the timesheet reached the employer or the DPSS (a paper one waiting to be keyed in did).
HANDED_IN = (TimesheetStatus.SUBMITTED, TimesheetStatus.APPROVED, TimesheetStatus.AWAITING_KEYING, TimesheetStatus.SUPERSEDED)
DUTIES = {
    "contract": ("contract_issued_on", "Give {pa} a written contract: they started working for {employer} on {start}, "
                 "and no written contract is recorded."),
    "right-to-work": ("right_to_work_seen_on", "Check {pa}'s right to work in the UK: they started working for {employer} "
                      "on {start}, and no right-to-work check is recorded."),
    "pension": ("pension_assessed_on", "Assess {pa} for a workplace pension: they started working for {employer} on "
                "{start}, and no pension assessment is recorded."),
}


@dataclass
class Report:
    deadline: int = 0
    late: int = 0
    insurance: int = 0
    duties: int = 0
    register_checks: int = 0
    emailed: int = 0

    @property
    def sent(self) -> int:
        return self.deadline + self.late + self.insurance + self.duties + self.register_checks

    def lines(self) -> list[str]:
        return [
            f"Timesheet deadline reminders: {self.deadline}",
            f"Late timesheet notices: {self.late}",
            f"Insurance reminders: {self.insurance}",
            f"Employer duty reminders: {self.duties}",
            f"Register check reminders: {self.register_checks}",
            f"Emails sent: {self.emailed}",
        ]


# Words -------------------------------------------------------------------------------------------


def _day(day: date) -> str:
    """Monday 7 December."""
    return f"{day:%A} {day.day} {day:%B}"


def _long(day: date) -> str:
    """7 December 2026."""
    return f"{day.day} {day:%B %Y}"


def _span(period: Period) -> str:
    """23 November to 6 December (with the years when they differ)."""
    if period.start.year != period.end.year:
        return f"{_long(period.start)} to {_long(period.end)}"
    return f"{period.start.day} {period.start:%B} to {period.end.day} {period.end:%B}"


def _path(endpoint: str, **values) -> str:
    """A path in this portal for a notification's link ('' if the page does not exist)."""
    try:
        return current_app.url_map.bind("localhost").build(endpoint, values)
    except BuildError:
        return ""


# Who hears ---------------------------------------------------------------------------------------


class _People:
    """Names and users, loaded in batches and remembered for the run."""

    def __init__(self, today: date):
        self.today = today
        self._names: dict[int, str] = {}
        self._approvers: dict[int, list[User]] = {}
        self._users: dict[int, User] = {}

    def load_names(self, person_ids: Iterable[int]) -> None:
        wanted = set(person_ids) - set(self._names)
        if wanted:
            for pid, given, family in db.session.execute(
                    sa.select(Person.id, Person.given_name, Person.family_name).where(Person.id.in_(wanted))):
                self._names[pid] = f"{given} {family}"

    def name(self, person_id: int) -> str:
        return self._names.get(person_id, "")

    def pa_users(self, pa_ids: Iterable[int]) -> dict[int, User]:
        return {u.person_id: u for u in db.session.scalars(
            sa.select(User).where(User.person_id.in_(set(pa_ids)), User.role == Role.PA, User.disabled_at.is_(None)))}

    def approvers(self, employer_id: int) -> list[User]:
        if employer_id not in self._approvers:
            self._approvers[employer_id] = timesheets.approvers(employer_id)
        return self._approvers[employer_id]

    def load_users(self, user_ids: Iterable[int | None]) -> None:
        wanted = {uid for uid in user_ids if uid} - set(self._users)
        if wanted:
            for user in db.session.scalars(sa.select(User).where(User.id.in_(wanted))):
                self._users[user.id] = user

    def user(self, user_id: int | None) -> User | None:
        return self._users.get(user_id) if user_id else None

    def employer_users(self, employer_ids: Iterable[int]) -> dict[int, list[User]]:
        """The employer's side: the recipient's own account and manage-level representatives."""
        ids = set(employer_ids)
        found: dict[int, list[User]] = defaultdict(list)
        if not ids:
            return found
        for user in db.session.scalars(sa.select(User).where(User.person_id.in_(ids), User.role == Role.RECIPIENT)):
            found[user.person_id].append(user)
        links = db.session.execute(
            sa.select(RepresentativeLink.recipient_id, User)
            .join(User, User.person_id == RepresentativeLink.representative_id)
            .where(RepresentativeLink.recipient_id.in_(ids), RepresentativeLink.level == RepresentativeLevel.MANAGE,
                   User.role == Role.REPRESENTATIVE, RepresentativeLink.start_date <= self.today,
                   sa.or_(RepresentativeLink.end_date.is_(None), RepresentativeLink.end_date >= self.today))
        ).all()
        for recipient_id, user in links:
            found[recipient_id].append(user)
        return found


def _caseworkers(employer_ids: Iterable[int]) -> dict[int, int | None]:
    ids = set(employer_ids)
    if not ids:
        return {}
    return dict(db.session.execute(
        sa.select(CaseloadEntry.recipient_id, CaseloadEntry.caseworker_id).where(CaseloadEntry.recipient_id.in_(ids))).all())


# Timesheet deadlines and late timesheets ---------------------------------------------------------


def _calendars() -> tuple[dict[int, PayrollCalendar], PayrollCalendar]:
    rows = db.session.scalars(sa.select(PayrollCalendar)).all()
    default = next((row for row in rows if row.provider_id is None), None) or next(iter(rows), None)
    if default is None:
        raise LookupError("No payroll calendar: the migrations seed a default one")
    return {row.provider_id: row for row in rows if row.provider_id is not None}, default


def due_periods(calendar: PayrollCalendar, pay_period: PayPeriod, today: date) -> list[tuple[str, Period]]:
    """("day-before" | "today" | "late", period) for the periods with a deadline tomorrow, today, or
    passed within the late window, newest first."""
    found = []
    period = pay_periods.period_containing(pay_period, calendar, today + timedelta(days=1))
    oldest = today - timedelta(days=LATE_WINDOW_DAYS + 62)  # a month's period and a long holiday before its deadline
    while period.end >= oldest:
        if period.submit_by == today + timedelta(days=1):
            found.append(("day-before", period))
        elif period.submit_by == today:
            found.append(("today", period))
        elif today - timedelta(days=LATE_WINDOW_DAYS) <= period.submit_by < today:
            found.append(("late", period))
        period = pay_periods.previous_period(pay_period, calendar, period)
    return found


def _deadline_message(when: str, period: Period, pa: str, employer: str, *, to_pa: bool) -> str:
    day = f"{_day(period.submit_by)} ({'tomorrow' if when == 'day-before' else 'today'})"
    whose = f"your timesheet for {employer}" if to_pa else f"{pa}'s timesheet for {employer}"
    return f"Submit {whose} ({_span(period)}) by {day} to be paid on {_day(period.pay_date)}."


def _late_message(period: Period, pa: str, employer: str) -> str:
    return (f"{pa}'s timesheet for {employer} ({_span(period)}) is late: it was due by {_day(period.submit_by)}. "
            f"Submit it as soon as possible so {pa} can be paid.")


def _timesheet_reminders(today: date, people: _People, report: Report) -> None:
    calendars, default = _calendars()
    oldest = today - timedelta(days=LATE_WINDOW_DAYS + 62)
    employments = db.session.execute(
        sa.select(Employment.id, Employment.pa_id, Employment.employer_id, Employment.pay_period, Employment.start_date,
                  Employment.end_date, CaseloadEntry.provider_id, CaseloadEntry.caseworker_id)
        .outerjoin(CaseloadEntry, CaseloadEntry.recipient_id == Employment.employer_id)
        .where(Employment.start_date <= today, sa.or_(Employment.end_date.is_(None), Employment.end_date >= oldest))
        .order_by(Employment.id)
    ).all()
    cache: dict[tuple[int, PayPeriod], list[tuple[str, Period]]] = {}
    due = []  # (employment row, when, period)
    for row in employments:
        calendar = calendars.get(row.provider_id, default)
        key = (calendar.id, row.pay_period)
        if key not in cache:
            cache[key] = due_periods(calendar, row.pay_period, today)
        for when, period in cache[key]:
            if row.start_date <= period.end and (row.end_date is None or row.end_date >= period.start):
                due.append((row, when, period))
    if not due:
        return
    starts = {period.start for _, _, period in due}
    sheets: dict[tuple[int, date], tuple[int, TimesheetStatus]] = {}
    for employment_id, start, ts_id, status in db.session.execute(
        sa.select(Timesheet.employment_id, Timesheet.period_start, Timesheet.id, Timesheet.status)
        .where(Timesheet.period_start.in_(starts), Timesheet.employment_id.in_({row.id for row, _, _ in due}))
        .order_by(Timesheet.revision)
    ):
        # Handed in if any revision was (a correction in progress does not make it late); else the latest draft.
        if (employment_id, start) not in sheets or sheets[(employment_id, start)][1] not in HANDED_IN:
            sheets[(employment_id, start)] = (ts_id, status)
    waiting = [(row, when, period) for row, when, period in due
               if sheets.get((row.id, period.start), (None, None))[1] not in HANDED_IN]
    people.load_names({row.pa_id for row, _, _ in waiting} | {row.employer_id for row, _, _ in waiting})
    pa_users = people.pa_users({row.pa_id for row, _, _ in waiting})
    people.load_users(row.caseworker_id for row, _, _ in waiting)
    for row, when, period in waiting:
        pa, employer = people.name(row.pa_id), people.name(row.employer_id)
        ts_id = sheets.get((row.id, period.start), (None, None))[0]
        link = f"/timesheets/{ts_id}" if ts_id else ""
        if when == "late":
            key = f"reminder:late:{row.id}:{period.start.isoformat()}"
            message = _late_message(period, pa, employer)
            report.late += notifications.notify(people.approvers(row.employer_id), key, message, link)
            caseworker = people.user(row.caseworker_id)
            if caseworker is not None:
                staff_link = _path("payroll.this_period", on=period.start.isoformat()) if caseworker.payroll_permission else link
                report.late += notifications.notify([caseworker], key, message, staff_link)
            continue
        key = f"reminder:deadline:{row.id}:{period.start.isoformat()}:{when}"
        pa_user = pa_users.get(row.pa_id)
        if pa_user is not None:
            message = _deadline_message(when, period, pa, employer, to_pa=True)
            report.deadline += notifications.notify([pa_user], key, message, link)
        else:
            message = _deadline_message(when, period, pa, employer, to_pa=False)
            report.deadline += notifications.notify(people.approvers(row.employer_id), key, message, link)


# The employer's insurance and duties -------------------------------------------------------------


def _covered_until(policies: list[EmployerInsurance], today: date) -> date | None:
    """The last day of unbroken cover from today (a renewal starting by the day after an expiry continues it)."""
    current = [p for p in policies if p.starts_on <= today <= p.expires_on]
    if not current:
        return None
    until = max(p.expires_on for p in current)
    changed = True
    while changed:
        changed = False
        for p in policies:
            if p.starts_on <= until + timedelta(days=1) and p.expires_on > until:
                until, changed = p.expires_on, True
    return until


def _exempt_relationships() -> frozenset:
    """Close relatives the Employers' Liability (Compulsory Insurance) Act 1969 does not require cover for."""
    from portal.services.employments import INSURANCE_EXEMPT

    return INSURANCE_EXEMPT


def _insurance_and_duties(today: date, people: _People, report: Report) -> None:
    current = db.session.scalars(
        sa.select(Employment).where(Employment.start_date <= today,
                                    sa.or_(Employment.end_date.is_(None), Employment.end_date >= today))
        .order_by(Employment.employer_id, Employment.id)
    ).all()
    if not current:
        return
    by_employer: dict[int, list[Employment]] = defaultdict(list)
    for employment in current:
        by_employer[employment.employer_id].append(employment)
    policies: dict[int, list[EmployerInsurance]] = defaultdict(list)
    for policy in db.session.scalars(sa.select(EmployerInsurance).where(EmployerInsurance.employer_id.in_(set(by_employer)))):
        policies[policy.employer_id].append(policy)
    people.load_names(set(by_employer) | {e.pa_id for e in current})
    employer_users = people.employer_users(by_employer)
    caseworkers = _caseworkers(by_employer)
    people.load_users(caseworkers.values())
    exempt = _exempt_relationships()

    for employer_id, employees in by_employer.items():
        employer = people.name(employer_id)
        staff = people.user(caseworkers.get(employer_id))
        recipients = employer_users.get(employer_id, []) + ([staff] if staff is not None else [])
        insurance_link = _path("employments.insurance", person_id=employer_id)
        until = _covered_until(policies[employer_id], today)
        if until is not None:
            days = (until - today).days
            if days <= INSURANCE_WARNING_DAYS:
                when = "today" if days == 0 else f"in {days} day{'s' if days != 1 else ''}"
                message = (f"Employer's liability insurance for {employer} ends on {_long(until)}, {when}. "
                           "Renew it and record the new policy.")
                key = f"reminder:insurance:ending:{employer_id}:{until.isoformat()}"
                report.insurance += notifications.notify(recipients, key, message, insurance_link)
        elif not all(e.relationship_to_employer in exempt for e in employees):
            past = [p.expires_on for p in policies[employer_id] if p.expires_on < today]
            if past:
                ended = max(past)
                message = (f"Employer's liability insurance for {employer} expired on {_long(ended)}. It is compulsory "
                           "when employing a PA: renew it and record the new policy.")
                key = f"reminder:insurance:expired:{employer_id}:{ended.isoformat()}"
            else:
                message = (f"No employer's liability insurance is recorded for {employer}. It is compulsory when "
                           "employing a PA: take out a policy and record it.")
                key = f"reminder:insurance:none:{employer_id}"
            report.insurance += notifications.notify(recipients, key, message, insurance_link)

        for employment in employees:
            if employment.start_date > today - timedelta(days=DUTY_GRACE_DAYS):
                continue
            link = _path("employments.show", person_id=employer_id, employment_id=employment.id)
            for kind, (column, words) in DUTIES.items():
                if getattr(employment, column) is not None:
                    continue
                message = words.format(pa=people.name(employment.pa_id), employer=employer, start=_long(employment.start_date))
                key = f"reminder:duty:{kind}:{employment.id}"
                report.duties += notifications.notify(recipients, key, message, link)


# The PA register ---------------------------------------------------------------------------------


def _register_checks(today: date, report: Report) -> None:
    _, report.register_checks = register.lapse_and_remind(today)
    register.forget_old_views()


# The run -----------------------------------------------------------------------------------------


def run(today: date, config: dict | None = None) -> Report:
    """Add every reminder due today (each once), commit, then email what has not been emailed."""
    report = Report()
    people = _People(today)
    _timesheet_reminders(today, people, report)
    db.session.commit()
    _insurance_and_duties(today, people, report)
    db.session.commit()
    _register_checks(today, report)
    db.session.commit()
    if config is not None:
        while True:
            sent = notifications.deliver_pending(config)
            report.emailed += sent
            if sent < 500:
                break
    return report
