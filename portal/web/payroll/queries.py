"""What the payroll pages read: every employment due a timesheet in a period with its status, and the
approved timesheets for the payroll export. A fixed number of queries whatever the caseload's size.

Whose work: the payroll-service employers of the user's organisation, and
the managed accounts the user may already see (the DPSS pays those PAs too: Tom's Leon, paid by
Brightpath, approved by Kim). Everything here is a subset of access.visible_timesheets.
"""

import csv
import io
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import date
from decimal import ROUND_HALF_UP, Decimal

import sqlalchemy as sa
from sqlalchemy.orm import aliased, joinedload, selectinload

from portal.access import payroll_work
from portal.extensions import db
from portal.models import (
    Employment,
    PayPeriod,
    PayrollCalendar,
    Person,
    RateType,
    Recipient,
    Timesheet,
    TimesheetSource,
    TimesheetStatus,
    User,
)
from portal.services import pay_periods, timesheets
from portal.services.clock import to_london
from portal.services.pay_periods import Period
from portal.services.statements import decimal_pounds, safe_cell

PAGE_SIZE = 50


@dataclass(frozen=True)
class StatusKind:
    slug: str
    label: str
    tag: str  # GOV.UK tag colour modifier


NOT_STARTED = StatusKind("not-started", "Not started", "govuk-tag--grey")
MISSING = StatusKind("missing", "Missing", "govuk-tag--red")
BY_STATUS = {
    TimesheetStatus.DRAFT: StatusKind("not-submitted", "Not submitted", "govuk-tag--yellow"),
    TimesheetStatus.SUBMITTED: StatusKind("waiting", "Waiting for approval", "govuk-tag--blue"),
    TimesheetStatus.SENT_BACK: StatusKind("sent-back", "Sent back", "govuk-tag--orange"),
    TimesheetStatus.APPROVED: StatusKind("approved", "Approved", "govuk-tag--green"),
    TimesheetStatus.AWAITING_KEYING: StatusKind("paper", "Paper, waiting to be keyed in", "govuk-tag--purple"),
}
# In the order the counts and the filter list them.
STATUS_KINDS = [NOT_STARTED, *BY_STATUS.values()]
FILTERS = {kind.slug: kind for kind in [MISSING, *STATUS_KINDS]}
NOT_IN = (TimesheetStatus.DRAFT, TimesheetStatus.SENT_BACK)  # nothing submitted yet


def scope(user: User, employer_column) -> sa.ColumnElement[bool]:
    """The employers whose payroll work this user does (empty without the payroll permission)."""
    return employer_column.in_(payroll_work(user))


def calendar_of(organisation_id: int | None) -> PayrollCalendar:
    """The provider's payroll calendar, or the default one (every payroll employer here is on this provider's caseload)."""
    rows = db.session.scalars(sa.select(PayrollCalendar).where(
        sa.or_(PayrollCalendar.provider_id == organisation_id, PayrollCalendar.provider_id.is_(None)))).all()
    chosen = next((row for row in rows if row.provider_id is not None), None) or next(iter(rows), None)
    if chosen is None:
        raise LookupError("No payroll calendar: the migrations seed a default one")
    return chosen


def periods_on(calendar: PayrollCalendar, day: date) -> dict[PayPeriod, Period]:
    return {kind: pay_periods.period_containing(kind, calendar, day) for kind in PayPeriod}


@dataclass
class Row:
    employment_id: int
    employer_id: int
    employer_name: str
    pa_name: str
    pay_period: PayPeriod
    period: Period
    timesheet_id: int | None
    status: TimesheetStatus | None
    source: TimesheetSource | None
    is_correction: bool
    missing: bool

    @property
    def kind(self) -> StatusKind:
        return NOT_STARTED if self.status is None else BY_STATUS.get(self.status, NOT_STARTED)

    @property
    def waiting_to_key_in(self) -> bool:
        return self.status == TimesheetStatus.AWAITING_KEYING


@dataclass
class PeriodView:
    on: date
    today: date
    periods: dict[PayPeriod, Period]
    counts: dict[str, int]
    total: int
    matching: int
    rows: list[Row]
    page: int
    more: bool
    status: str = ""
    q: str = ""

    def args(self, **changes) -> dict:
        """Query arguments for a link that keeps the filters (page 1 unless given)."""
        args = {"on": self.on.isoformat()}
        if self.status:
            args["status"] = self.status
        if self.q:
            args["q"] = self.q
        args.update({k: v for k, v in changes.items() if v not in (None, "")})
        return args


# Made once: an alias's columns are adapted on first use (slow for a wide table) and remembered.
_TS = aliased(Timesheet, name="ts")
_NEWER = aliased(Timesheet, name="newer")
_PA = aliased(Person, name="pa")
_EMPLOYER = aliased(Person, name="employer")


def _like(text: str) -> str:
    escaped = text.lower().replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")
    return f"%{escaped}%"


def this_period(user: User, on: date, today: date, status: str = "", q: str = "", page: int = 1) -> PeriodView:
    """Every employment of the user's payroll employers that is due a timesheet for its pay period
    containing `on`, with the latest revision's status.

    Two queries whatever the caseload: the calendar, then one pass that counts every status (window
    sums over the whole period, before the filters) and returns the page of filtered rows (a third
    only for a page past the end, which has no row to carry the counts).
    """
    calendar = calendar_of(user.organisation_id)
    periods = periods_on(calendar, on)
    E, T, newer, pa, employer = Employment, _TS, _NEWER, _PA, _EMPLOYER

    period_start = sa.case(*[(E.pay_period == kind, sa.literal(p.start, sa.Date)) for kind, p in periods.items()])
    active = sa.or_(*[
        sa.and_(E.pay_period == kind, E.start_date <= p.end, sa.or_(E.end_date.is_(None), E.end_date >= p.start))
        for kind, p in periods.items()
    ])
    latest = sa.and_(
        T.employment_id == E.id, T.period_start == period_start, T.status != TimesheetStatus.SUPERSEDED,
        ~sa.exists().where(newer.employment_id == T.employment_id, newer.period_start == T.period_start,
                           newer.revision > T.revision, newer.status != TimesheetStatus.SUPERSEDED),
    )
    overdue = [kind for kind, p in periods.items() if p.submit_by < today]
    missing = sa.and_(
        E.pay_period.in_(overdue) if overdue else sa.false(),
        sa.or_(T.id.is_(None), sa.and_(T.status.in_(NOT_IN), T.corrects_id.is_(None))),
    )

    filters = []
    status = status if status in FILTERS else ""
    if status == MISSING.slug:
        filters.append(missing)
    elif status == NOT_STARTED.slug:
        filters.append(T.id.is_(None))
    elif status:
        filters.append(T.status == next(s for s, kind in BY_STATUS.items() if kind.slug == status))
    q = q.strip()[:100]
    if q:
        pattern = _like(q)
        filters.append(sa.or_(
            sa.func.lower(pa.given_name + " " + pa.family_name).like(pattern, escape="\\"),
            sa.func.lower(employer.given_name + " " + employer.family_name).like(pattern, escape="\\"),
        ))
    shown = sa.and_(*filters) if filters else sa.true()

    def tally(condition) -> sa.ColumnElement[int]:
        return sa.func.sum(sa.case((condition, 1), else_=0)).over()

    tallies = {NOT_STARTED.slug: tally(T.id.is_(None)), MISSING.slug: tally(missing), "_shown": tally(shown)}
    tallies.update({kind.slug: tally(T.status == found) for found, kind in BY_STATUS.items()})
    columns = sa.select(
        E.id.label("employment_id"), E.employer_id, E.pa_id, E.pay_period, employer.given_name.label("employer_given"),
        employer.family_name.label("employer_family"),
        T.id.label("timesheet_id"), T.status, T.source, T.corrects_id, missing.label("missing"), shown.label("shown"),
        *[column.label(f"n_{slug.replace('-', '_')}") for slug, column in tallies.items()],
    ).select_from(E).outerjoin(T, latest).join(employer, employer.id == E.employer_id)
    if q:  # PAs' names are needed for every row only to search them
        columns = columns.join(pa, pa.id == E.pa_id)
    every = columns.where(scope(user, E.employer_id), active).subquery()
    page = max(1, page)
    # Rows the filters leave out sort after the rest instead of being dropped, so even a filter that
    # matches nothing returns a row to carry the counts. Within an employer, PAs come in the order
    # they were taken on; their names are fetched for the page's rows only.
    order = (every.c.shown.desc(), every.c.missing.desc(), every.c.employer_family, every.c.employer_given,
             every.c.employer_id, every.c.employment_id)
    on_page = sa.select(every).order_by(*order).limit(PAGE_SIZE + 1).offset((page - 1) * PAGE_SIZE).subquery()
    rows = db.session.execute(
        sa.select(on_page, pa.given_name.label("pa_given"), pa.family_name.label("pa_family"))
        .join(pa, pa.id == on_page.c.pa_id)
        .order_by(on_page.c.shown.desc(), on_page.c.missing.desc(), on_page.c.employer_family, on_page.c.employer_given,
                  on_page.c.employer_id, on_page.c.employment_id)
    ).all()
    if rows:
        first = rows[0]._mapping
        counts = {slug: int(first[f"n_{slug.replace('-', '_')}"] or 0) for slug in tallies}
    else:  # a page past the end of everything (or nobody at all)
        found = db.session.execute(sa.select(*[sa.func.max(every.c[f"n_{slug.replace('-', '_')}"]) for slug in tallies])).one()
        counts = {slug: int(number or 0) for slug, number in zip(tallies, found, strict=True)}
    matching = counts.pop("_shown")
    total = sum(counts[kind.slug] for kind in STATUS_KINDS)
    rows = [row for row in rows if row.shown]
    more = len(rows) > PAGE_SIZE
    result = [
        Row(employment_id=r.employment_id, employer_id=r.employer_id, employer_name=f"{r.employer_given} {r.employer_family}",
            pa_name=f"{r.pa_given} {r.pa_family}", pay_period=r.pay_period, period=periods[r.pay_period],
            timesheet_id=r.timesheet_id, status=r.status, source=r.source, is_correction=r.corrects_id is not None,
            missing=bool(r.missing))
        for r in rows[:PAGE_SIZE]
    ]
    return PeriodView(on=on, today=today, periods=periods, counts=counts, total=total, matching=matching,
                      rows=result, page=page, more=more, status=status, q=q)


# The export for payroll ---------------------------------------------------------------------------

CSV_HEADER = [
    "Employer reference", "Employer", "PA", "NI number", "Period start", "Period end", "Day hours", "Night hours",
    "Weekend hours", "Sleep-ins", "Miles", "Mileage", "Expenses", "Gross pay", "Approved on", "Approved by", "Source",
    "Timesheet reference",
]
CHUNK = 500


def decimal_hours(minutes: int) -> str:
    """450 minutes as 7.50 (hours to two decimal places, as payroll software takes them)."""
    return str((Decimal(minutes) / 60).quantize(Decimal("0.01"), rounding=ROUND_HALF_UP))


def approved_ids(user: User, first: date, last: date) -> list[int]:
    """Approved timesheets whose period ends in the range, in employer, PA and period order."""
    pa, employer = _PA, _EMPLOYER
    return list(db.session.scalars(
        sa.select(Timesheet.id)
        .join(pa, pa.id == Timesheet.pa_id).join(employer, employer.id == Timesheet.employer_id)
        .where(Timesheet.status == TimesheetStatus.APPROVED, Timesheet.period_end.between(first, last),
               scope(user, Timesheet.employer_id))
        .order_by(employer.family_name, employer.given_name, Timesheet.employer_id, pa.family_name, pa.given_name,
                  Timesheet.pa_id, Timesheet.period_start, Timesheet.id)
    ))


def _chunk(ids: list[int]) -> list[tuple[Timesheet, str | None]]:
    """Timesheets with their shifts, claims, employment, PA and employer, and who approved: 5 queries."""
    rows = db.session.execute(
        sa.select(Timesheet, User.display_name)
        .outerjoin(User, User.id == Timesheet.approved_by_id)
        .where(Timesheet.id.in_(ids))
        .options(
            selectinload(Timesheet.shifts), selectinload(Timesheet.claims),
            joinedload(Timesheet.employment).joinedload(Employment.pa),
            joinedload(Timesheet.employment).joinedload(Employment.employer).joinedload(Recipient.person),
        )
    ).all()
    order = {ts_id: n for n, ts_id in enumerate(ids)}
    return sorted(((ts, name) for ts, name in rows), key=lambda pair: order[pair[0].id])


def csv_row(ts: Timesheet, approved_by: str | None) -> list[str]:
    figures = timesheets.totals(ts)
    employment = ts.employment
    return [
        str(ts.employer_id), employment.employer.person.full_name, employment.pa.full_name, employment.ni_number,
        ts.period_start.isoformat(), ts.period_end.isoformat(),
        decimal_hours(figures.minutes.get(RateType.DAY, 0)), decimal_hours(figures.minutes.get(RateType.NIGHT, 0)),
        decimal_hours(figures.minutes.get(RateType.WEEKEND, 0)), str(figures.sleep_ins),
        f"{figures.miles.normalize():f}" if figures.miles else "0", decimal_pounds(figures.mileage_pence),
        decimal_pounds(figures.expenses_pence),
        # The gross fixed when it was approved: a later change of rates does not rewrite what was approved.
        decimal_pounds(ts.gross_pence if ts.gross_pence is not None else figures.gross_pence),
        to_london(ts.approved_at).date().isoformat() if ts.approved_at else "", approved_by or "", ts.source.value,
        str(ts.id),
    ]


def _line(values: list[str]) -> str:
    out = io.StringIO()
    csv.writer(out, lineterminator="\r\n").writerow(safe_cell(value) for value in values)
    return out.getvalue()


def export_lines(ids: list[int]) -> Iterator[str]:
    """The CSV, a line at a time, loading the timesheets 500 at a time (a fixed number of queries per 500)."""
    yield "\ufeff" + _line(CSV_HEADER)  # a byte-order mark, so spreadsheets read the file as UTF-8
    for start in range(0, len(ids), CHUNK):
        for ts, approved_by in _chunk(ids[start:start + CHUNK]):
            yield _line(csv_row(ts, approved_by))
