"""Timesheets: shifts and their times, what they come to, the checks, and the way a timesheet moves
from a draft to approved and paid.

Times are entered as the PA lives them (a date, a start and an end on the clock in Europe/London) and
stored as instants too, so a night across a clock change counts the hours really worked.

Every change to a timesheet is made against the version the person's page was drawn from: a stale
form (a second tab, a double-click after the first went through) changes nothing. Submitting or
approving twice is harmless: the second time reports that it was already done.
"""

from collections import defaultdict
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, time, timedelta
from decimal import ROUND_HALF_UP, Decimal

import sqlalchemy as sa
from sqlalchemy.exc import IntegrityError

from portal.extensions import db
from portal.models import (
    Budget,
    BudgetKind,
    CaseloadEntry,
    PaidTimesheet,
    Category,
    ClaimKind,
    DPAccount,
    Employment,
    ExpectedItem,
    ExpectedKind,
    ExpectedStatus,
    HolidayMethod,
    NationalRate,
    RateType,
    Recipient,
    RepresentativeLevel,
    RepresentativeLink,
    Role,
    Shift,
    SupportLine,
    Timesheet,
    TimesheetClaim,
    TimesheetDocument,
    TimesheetSource,
    TimesheetStatus,
    User,
)
from portal.services import alert_rules, notifications, pay_periods
from portal.services.budgets import current_plan
from portal.services.clock import LONDON, london_today, utcnow
from portal.services.cycles import round_half_up_div
from portal.services.pay_periods import Period

# Statuses whose shifts count as worked (for overlaps, working time and the plan's hours).
LIVE = (TimesheetStatus.DRAFT, TimesheetStatus.SUBMITTED, TimesheetStatus.SENT_BACK, TimesheetStatus.APPROVED,
        TimesheetStatus.AWAITING_KEYING)
HOURLY = (RateType.DAY, RateType.NIGHT, RateType.WEEKEND)


class TimesheetError(ValueError):
    """A refusal to show the person, in plain English (field: the form field it belongs to, if any)."""

    def __init__(self, message: str, field: str | None = None):
        super().__init__(message)
        self.field = field


class StaleTimesheet(TimesheetError):
    def __init__(self):
        super().__init__("This timesheet changed since you opened it. Check it below and try again.")


# Shift times --------------------------------------------------------------------------------------


def _instant(day: date, clock: time, field_name: str) -> datetime:
    """A London wall-clock time as a UTC instant; a time the clocks skipped is refused."""
    local = datetime.combine(day, clock, tzinfo=LONDON)
    back = local.astimezone(UTC).astimezone(LONDON)
    if back.replace(tzinfo=None) != local.replace(tzinfo=None):
        raise TimesheetError(
            f"The clocks went forward on {day:%-d %B %Y}, so {clock:%H:%M} did not happen that day. "
            "Enter the time shown on the clock after it changed.", field_name)
    return local.astimezone(UTC)


def shift_instants(work_date: date, start: time, end: time, ends_next_day: bool) -> tuple[datetime, datetime]:
    """Start and end of a shift as UTC instants. A shift past midnight ends on the next day."""
    starts_at = _instant(work_date, start, "start_time")
    ends_at = _instant(work_date + timedelta(days=1 if ends_next_day else 0), end, "end_time")
    if ends_at <= starts_at:
        if ends_next_day:
            raise TimesheetError("A shift cannot be longer than 24 hours", "end_time")
        raise TimesheetError(
            "The finish time must be after the start time. If the shift went past midnight, "
            "tick ‘The shift finished the next day’.", "end_time")
    if ends_at - starts_at > timedelta(hours=24):
        raise TimesheetError("A shift cannot be longer than 24 hours", "end_time")
    return starts_at, ends_at


@dataclass
class ShiftInput:
    work_date: date
    start_time: time
    end_time: time
    ends_next_day: bool
    break_minutes: int
    rate_type: RateType
    notes: str = ""


def _checked_shift(ts: Timesheet, data: ShiftInput) -> tuple[datetime, datetime, int]:
    if not ts.period_start <= data.work_date <= ts.period_end:
        raise TimesheetError(
            f"The date must be in this timesheet's period, {ts.period_start:%-d %B} to {ts.period_end:%-d %B %Y}", "work_date")
    starts_at, ends_at = shift_instants(data.work_date, data.start_time, data.end_time, data.ends_next_day)
    elapsed = int((ends_at - starts_at).total_seconds() // 60)
    if data.break_minutes < 0:
        raise TimesheetError("The break cannot be negative", "break_minutes")
    if data.break_minutes >= elapsed:
        raise TimesheetError("The unpaid break must be shorter than the shift", "break_minutes")
    if data.rate_type == RateType.SLEEP_IN and not ts.employment.sleep_in_pence:
        raise TimesheetError("There is no sleep-in rate in this PA's employment record. Ask the employer to add one.", "rate_type")
    return starts_at, ends_at, elapsed - data.break_minutes


# What a timesheet comes to ------------------------------------------------------------------------


def hourly_rate(employment: Employment, rate_type: RateType) -> int:
    """Pence an hour for this kind of hours (night and weekend fall back to the day rate)."""
    if rate_type == RateType.NIGHT and employment.night_rate_pence:
        return employment.night_rate_pence
    if rate_type == RateType.WEEKEND and employment.weekend_rate_pence:
        return employment.weekend_rate_pence
    return employment.day_rate_pence


def rate_value(key: str, on: date) -> int | None:
    """A national figure in force on a day (the rates table keeps every year's row)."""
    return db.session.scalar(
        sa.select(NationalRate.value).where(NationalRate.key == key, NationalRate.effective_from <= on)
        .order_by(NationalRate.effective_from.desc()).limit(1)
    )


@dataclass
class Totals:
    minutes: dict[RateType, int] = field(default_factory=lambda: defaultdict(int))
    sleep_ins: int = 0
    pay: dict[RateType, int] = field(default_factory=lambda: defaultdict(int))
    holiday_pence: int = 0  # rolled-up holiday pay, shown separately
    mileage_pence: int = 0
    miles: Decimal = Decimal(0)
    expenses_pence: int = 0

    @property
    def worked_minutes(self) -> int:
        return sum(m for kind, m in self.minutes.items() if kind in HOURLY)

    @property
    def pay_pence(self) -> int:
        return sum(self.pay.values())

    @property
    def gross_pence(self) -> int:
        return self.pay_pence + self.holiday_pence + self.mileage_pence + self.expenses_pence

    def rows(self) -> list[tuple[str, str, int]]:
        """(what, how much, pence) for the totals table."""
        out = []
        for kind in HOURLY:
            if self.minutes.get(kind):
                out.append((f"{kind.value.capitalize()} hours", hours_text(self.minutes[kind]), self.pay[kind]))
        if self.sleep_ins:
            out.append(("Sleep-ins", f"{self.sleep_ins} night{'s' if self.sleep_ins != 1 else ''}", self.pay[RateType.SLEEP_IN]))
        if self.holiday_pence:
            out.append(("Holiday pay (rolled-up, 12.07%)", "", self.holiday_pence))
        if self.mileage_pence:
            out.append(("Mileage", f"{self.miles.normalize():f} miles", self.mileage_pence))
        if self.expenses_pence:
            out.append(("Expenses", "", self.expenses_pence))
        return out


def hours_text(minutes: int) -> str:
    hours, mins = divmod(minutes, 60)
    if not mins:
        return f"{hours} hour{'s' if hours != 1 else ''}"
    return f"{hours} hour{'s' if hours != 1 else ''} {mins} minute{'s' if mins != 1 else ''}"


def totals(ts: Timesheet, holiday_share: int | None = None) -> Totals:
    """What the timesheet comes to. holiday_share (basis points) saves a rates lookup per timesheet in batch work."""
    result = Totals()
    employment = ts.employment
    if ts.source == TimesheetSource.PAPER:
        result.minutes[RateType.DAY] += ts.keyed_day_minutes
        result.minutes[RateType.NIGHT] += ts.keyed_night_minutes
        result.minutes[RateType.WEEKEND] += ts.keyed_weekend_minutes
        result.sleep_ins += ts.keyed_sleep_ins
    for shift in ts.shifts:
        if shift.rate_type == RateType.SLEEP_IN:
            result.sleep_ins += 1
            result.minutes[RateType.SLEEP_IN] += shift.minutes
        else:
            result.minutes[shift.rate_type] += shift.minutes
    for kind in HOURLY:
        if result.minutes.get(kind):
            result.pay[kind] = round_half_up_div(result.minutes[kind] * hourly_rate(employment, kind), 60)
    if result.sleep_ins:
        result.pay[RateType.SLEEP_IN] = result.sleep_ins * (employment.sleep_in_pence or 0)
    if employment.holiday_method == HolidayMethod.ROLLED_UP:
        share = holiday_share or rate_value("holiday.accrual", ts.period_end) or 1207
        hourly_pay = sum(result.pay[k] for k in HOURLY)
        result.holiday_pence = round_half_up_div(hourly_pay * share, 10000)
    for claim in ts.claims:
        if claim.kind == ClaimKind.MILEAGE:
            result.mileage_pence += claim.amount_pence
            result.miles += claim.miles or 0
        else:
            result.expenses_pence += claim.amount_pence
    return result


def mileage_pence(employment: Employment, miles: Decimal) -> int:
    return int((miles * employment.mileage_pence_per_mile).quantize(Decimal(1), rounding=ROUND_HALF_UP))


# Checks -------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Warning:
    code: str
    message: str
    # The PA sees only what they can fix or need to know; never anything of the employer's budget.
    for_pa: bool = True
    shift_id: int | None = None


def _other_live_shifts(ts: Timesheet, low: datetime, high: datetime) -> list[tuple]:
    """The PA's shifts on any timesheet (any employer) that start before `high` and end after `low`.

    A correction and the approved timesheet it replaces are the same work: the original is left out.
    """
    excluded = [ts.id]
    if ts.corrects_id:
        excluded.append(ts.corrects_id)
    replacing = db.session.scalar(sa.select(Timesheet.id).where(Timesheet.corrects_id == ts.id))
    if replacing:
        excluded.append(replacing)
    return db.session.execute(
        sa.select(Shift.id, Shift.starts_at, Shift.ends_at, Shift.work_date, Shift.minutes, Timesheet.employer_id)
        .join(Timesheet, Timesheet.id == Shift.timesheet_id)
        .where(Shift.pa_id == ts.pa_id, Shift.starts_at < high, Shift.ends_at > low,
               Timesheet.status.in_(LIVE), Timesheet.id.not_in(excluded))
    ).all()


def overlaps(ts: Timesheet) -> list[tuple[Shift, tuple]]:
    """Pairs of (this timesheet's shift, another shift of the same PA) that overlap, in one query."""
    shifts = list(ts.shifts)
    if not shifts:
        return []
    low = min(s.starts_at for s in shifts)
    high = max(s.ends_at for s in shifts)
    others = _other_live_shifts(ts, low, high)
    found = []
    for i, shift in enumerate(shifts):
        for other in shifts[i + 1:]:
            if shift.starts_at < other.ends_at and other.starts_at < shift.ends_at:
                found.append((shift, (other.id, other.starts_at, other.ends_at, other.work_date, other.minutes, ts.employer_id)))
        for other in others:
            if shift.starts_at < other[2] and other[1] < shift.ends_at:
                found.append((shift, tuple(other)))
    return found


def age_on(born: date, day: date) -> int:
    return day.year - born.year - ((day.month, day.day) < (born.month, born.day))


def minimum_wage_band(born: date | None, day: date) -> tuple[str, str]:
    """(rates-table key, words) for the PA's minimum-wage band on a day (unknown age: the adult rate)."""
    if born is None or age_on(born, day) >= 21:
        return "minimum_wage.21_and_over", "the National Living Wage for people aged 21 and over"
    if age_on(born, day) >= 18:
        return "minimum_wage.18_to_20", "the National Minimum Wage for people aged 18 to 20"
    return "minimum_wage.16_to_17", "the National Minimum Wage for people aged 16 and 17"


def _pounds(pence: int) -> str:
    return f"£{pence // 100:,}.{pence % 100:02d}"


def _when(shift: Shift) -> str:
    return f"{shift.work_date:%A %-d %B} {shift.start_time:%H:%M} to {shift.end_time:%H:%M}"


def check(ts: Timesheet, *, now: datetime | None = None) -> list[Warning]:
    """Everything worth a second look before submitting or approving. Never blocks: it tells."""
    now = now or utcnow()
    employment = ts.employment
    warnings: list[Warning] = []
    shifts = list(ts.shifts)

    for shift in shifts:
        if shift.work_date < employment.start_date or (employment.end_date and shift.work_date > employment.end_date):
            warnings.append(Warning("outside_employment", f"The shift on {_when(shift)} is outside the employment "
                                    f"({_employment_dates(employment)}).", shift_id=shift.id))
        if shift.starts_at > now:
            warnings.append(Warning("future", f"The shift on {_when(shift)} has not happened yet.", shift_id=shift.id))
        if shift.rate_type in HOURLY:
            key, words = minimum_wage_band(employment.pa_date_of_birth, shift.work_date)
            floor = rate_value(key, shift.work_date)
            paid = hourly_rate(employment, shift.rate_type)
            if floor is not None and paid < floor:
                hint = "" if employment.pa_date_of_birth else " (the PA's date of birth is not recorded, so the adult rate applies)"
                warnings.append(Warning(
                    "minimum_wage", f"The {shift.rate_type.value} rate of {_pounds(paid)} an hour on {shift.work_date:%-d %B %Y} "
                    f"is below {words}, {_pounds(floor)} an hour{hint}.", shift_id=shift.id))

    seen_pairs = set()
    for shift, other in overlaps(ts):
        pair = tuple(sorted((shift.id, other[0])))
        if pair in seen_pairs:
            continue
        seen_pairs.add(pair)
        same_employer = other[5] == ts.employer_id
        where = "on this timesheet" if other[0] in {s.id for s in shifts} else (
            "for this employer" if same_employer else "for another employer")
        other_start = other[1].astimezone(LONDON)
        message = f"The shift on {_when(shift)} overlaps another shift {where} starting {other_start:%A %-d %B at %H:%M}."
        warnings.append(Warning("overlap", message, shift_id=shift.id))

    warnings.extend(_working_time(ts, shifts))

    if employment.needs_council_agreement:
        warnings.append(Warning(
            "close_family", f"{employment.pa.full_name} is a close family member ({employment.relationship_to_employer.value})"
            + (" living in the same household" if employment.same_household else "")
            + ". A direct payment can pay them only if the council has agreed it is necessary, and no agreement is recorded.",
            for_pa=False))

    plan_warning = _plan_hours(ts)
    if plan_warning:
        warnings.append(plan_warning)
    return warnings


def _employment_dates(employment: Employment) -> str:
    if employment.end_date:
        return f"{employment.start_date:%-d %B %Y} to {employment.end_date:%-d %B %Y}"
    return f"from {employment.start_date:%-d %B %Y}"


def _working_time(ts: Timesheet, shifts: list[Shift]) -> list[Warning]:
    """More than the daily limit in one day, or the weekly limit in a Monday-to-Sunday week, across all employers."""
    if not shifts:
        return []
    days = {s.work_date for s in shifts}
    first_week = min(days) - timedelta(days=min(days).weekday())
    last_week_end = max(days) + timedelta(days=6 - max(days).weekday())
    rows = db.session.execute(
        sa.select(Shift.id, Shift.work_date, Shift.minutes)
        .join(Timesheet, Timesheet.id == Shift.timesheet_id)
        .where(Shift.pa_id == ts.pa_id, Shift.work_date.between(first_week, last_week_end),
               Timesheet.status.in_(LIVE), Timesheet.id.not_in(_same_work(ts)))
    ).all()
    by_day: dict[date, int] = defaultdict(int)
    by_week: dict[date, int] = defaultdict(int)
    for _, day, minutes in list(rows) + [(s.id, s.work_date, s.minutes) for s in shifts]:
        by_day[day] += minutes
        by_week[day - timedelta(days=day.weekday())] += minutes
    daily = (rate_value("working_time.daily_hours", min(days)) or 16) * 60
    weekly = (rate_value("working_time.weekly_hours", min(days)) or 48) * 60
    out = []
    for day in sorted(days):
        if by_day[day] > daily:
            out.append(Warning("long_day", f"{hours_text(by_day[day])} recorded on {day:%A %-d %B %Y}, across all employers: "
                               f"more than {daily // 60} hours in one day."))
    if not ts.employment.working_time_opt_out:
        for week in sorted({d - timedelta(days=d.weekday()) for d in days}):
            if by_week[week] > weekly:
                out.append(Warning("long_week", f"{hours_text(by_week[week])} recorded in the week starting {week:%-d %B %Y}, "
                                   f"across all employers: more than the {weekly // 60}-hour limit, and no opt-out is recorded."))
    return out


def _same_work(ts: Timesheet) -> list[int]:
    ids = [ts.id]
    if ts.corrects_id:
        ids.append(ts.corrects_id)
    replacing = db.session.scalar(sa.select(Timesheet.id).where(Timesheet.corrects_id == ts.id))
    if replacing:
        ids.append(replacing)
    return ids


def plan_hours_per_week(employer_id: int, on: date) -> Decimal | None:
    plan = current_plan(employer_id, on)
    if plan is None:
        return None
    hours = db.session.scalars(
        sa.select(SupportLine.hours_per_week).where(SupportLine.plan_id == plan.id, SupportLine.category == Category.PA_WAGES)
    ).all()
    known = [h for h in hours if h is not None]
    return sum(known, Decimal(0)) if known else None


def hours_in_period(employer_id: int, start: date, end: date, extra: Timesheet | None = None) -> int:
    """Minutes on the employer's submitted, approved or keyed timesheets (all PAs) worked in these dates."""
    counted = (TimesheetStatus.SUBMITTED, TimesheetStatus.APPROVED, TimesheetStatus.AWAITING_KEYING)
    excluded = _same_work(extra) if extra is not None else []
    minutes = db.session.scalar(
        sa.select(sa.func.coalesce(sa.func.sum(Shift.minutes), 0))
        .join(Timesheet, Timesheet.id == Shift.timesheet_id)
        .where(Timesheet.employer_id == employer_id, Shift.work_date.between(start, end), Timesheet.status.in_(counted),
               Shift.rate_type != RateType.SLEEP_IN, Timesheet.id.not_in(excluded) if excluded else sa.true())
    ) or 0
    # Paper timesheets have totals, not days: count the share of each one's period inside these dates.
    paper = db.session.execute(
        sa.select(Timesheet.period_start, Timesheet.period_end,
                  Timesheet.keyed_day_minutes + Timesheet.keyed_night_minutes + Timesheet.keyed_weekend_minutes)
        .where(Timesheet.employer_id == employer_id, Timesheet.period_start <= end, Timesheet.period_end >= start,
               Timesheet.status.in_(counted), Timesheet.source == TimesheetSource.PAPER,
               Timesheet.id.not_in(excluded) if excluded else sa.true())
    ).all()
    if extra is not None:
        minutes += sum(s.minutes for s in extra.shifts if start <= s.work_date <= end and s.rate_type != RateType.SLEEP_IN)
        if extra.source == TimesheetSource.PAPER:
            paper.append((extra.period_start, extra.period_end,
                          extra.keyed_day_minutes + extra.keyed_night_minutes + extra.keyed_weekend_minutes))
    for first, last, keyed in paper:
        days = (last - first).days + 1
        inside = (min(last, end) - max(first, start)).days + 1
        minutes += round_half_up_div(keyed * inside, days)
    return minutes


def _plan_hours(ts: Timesheet) -> Warning | None:
    per_week = plan_hours_per_week(ts.employer_id, ts.period_start)
    if per_week is None:
        return None
    days = (ts.period_end - ts.period_start).days + 1
    allowed = int((per_week * 60 * days / 7).to_integral_value(rounding=ROUND_HALF_UP))
    used = hours_in_period(ts.employer_id, ts.period_start, ts.period_end, extra=ts)
    if used > allowed:
        return Warning("plan_hours", f"With this timesheet, PAs have worked {hours_text(used)} from {ts.period_start:%-d %B} "
                       f"to {ts.period_end:%-d %B %Y}. The support plan allows {hours_text(allowed)} for those dates "
                       f"({per_week.normalize():f} hours a week).", for_pa=False)
    return None


def visible_warnings(user: User, warnings: list[Warning]) -> list[Warning]:
    if user.role == Role.PA:
        return [w for w in warnings if w.for_pa]
    return warnings


# Who does what ------------------------------------------------------------------------------------


def is_managed(employer_id: int) -> bool:
    """Under a managed account the DPSS approves timesheets, acting for the recipient."""
    return bool(db.session.scalar(sa.select(CaseloadEntry.managed_account).where(CaseloadEntry.recipient_id == employer_id)))


def pa_user(ts_or_employment) -> User | None:
    return db.session.scalar(sa.select(User).where(User.person_id == ts_or_employment.pa_id, User.role == Role.PA))


def approvers(employer_id: int) -> list[User]:
    """The people who approve this employer's timesheets (and so hear when one is submitted)."""
    if is_managed(employer_id):
        entry = db.session.scalar(sa.select(CaseloadEntry).where(CaseloadEntry.recipient_id == employer_id))
        users = [entry.caseworker] if entry and entry.caseworker else []
        if not users and entry:
            users = list(db.session.scalars(sa.select(User).where(
                User.organisation_id == entry.provider_id, User.role == Role.DPSS_MANAGER)))
        return users
    today = london_today()
    reps = sa.select(RepresentativeLink.representative_id).where(
        RepresentativeLink.recipient_id == employer_id, RepresentativeLink.level == RepresentativeLevel.MANAGE,
        RepresentativeLink.start_date <= today,
        sa.or_(RepresentativeLink.end_date.is_(None), RepresentativeLink.end_date >= today))
    return list(db.session.scalars(sa.select(User).where(
        sa.or_(sa.and_(User.person_id == employer_id, User.role == Role.RECIPIENT),
               sa.and_(User.person_id.in_(reps), User.role == Role.REPRESENTATIVE)))))


def may_approve(user: User, ts: Timesheet) -> bool:
    """The employer or a manage-level representative; under a managed account, the DPSS staff instead.

    Never the PA (whatever else they are), never another employer, never a view-level representative.
    """
    from portal.access import visible_recipients

    if user.person_id is not None and user.person_id == ts.pa_id:
        return False
    if is_managed(ts.employer_id):
        if not user.role.is_dpss:
            return False
    elif user.role not in (Role.RECIPIENT, Role.REPRESENTATIVE):
        return False
    query = visible_recipients(user, RepresentativeLevel.MANAGE).where(Recipient.person_id == ts.employer_id)
    return db.session.scalar(query.with_only_columns(Recipient.person_id)) is not None


def may_edit(user: User, ts: Timesheet) -> bool:
    """Whether the user may change this timesheet now (only a draft or one sent back changes)."""
    return ts.is_editable and may_enter(user, ts)


def may_enter(user: User, ts: Timesheet) -> bool:
    """The PA enters their own shifts; for a PA without an account, the employer's side does."""
    from portal.access import visible_recipients

    if user.role == Role.PA:
        return user.person_id == ts.pa_id
    if pa_user(ts) is not None:
        return False
    if user.role not in (Role.RECIPIENT, Role.REPRESENTATIVE) and not user.role.is_dpss:
        return False
    query = visible_recipients(user, RepresentativeLevel.MANAGE).where(Recipient.person_id == ts.employer_id)
    return db.session.scalar(query.with_only_columns(Recipient.person_id)) is not None


# Moving a timesheet along -------------------------------------------------------------------------


def period_for(employment: Employment, day: date) -> Period:
    cal = pay_periods.calendar_for(employment.employer_id)
    return pay_periods.period_containing(employment.pay_period, cal, day)


def period_of(ts: Timesheet) -> Period:
    return period_for(ts.employment, ts.period_start)


def current_for(employment: Employment, period: Period) -> Timesheet | None:
    """The latest revision for this employment and period that is not replaced."""
    return db.session.scalar(
        sa.select(Timesheet).where(Timesheet.employment_id == employment.id, Timesheet.period_start == period.start,
                                   Timesheet.status != TimesheetStatus.SUPERSEDED)
        .order_by(Timesheet.revision.desc()).limit(1)
    )


def start(employment: Employment, period: Period, user: User | None) -> Timesheet:
    """The timesheet for this employment and period, made if there is none (two clicks make one)."""
    existing = current_for(employment, period)
    if existing is not None:
        return existing
    if period.start > (employment.end_date or period.start) or period.end < employment.start_date:
        raise TimesheetError("This PA was not employed in that period")
    ts = Timesheet(employment_id=employment.id, pa_id=employment.pa_id, employer_id=employment.employer_id,
                   period_start=period.start, period_end=period.end, revision=1,
                   created_by_id=user.id if user else None)
    try:
        with db.session.begin_nested():
            db.session.add(ts)
    except IntegrityError:  # another request made it first
        return current_for(employment, period)
    return ts


def _claim_version(ts: Timesheet, version: int) -> None:
    """Bump the version only if the form was drawn from the current one (atomic: two tabs, one wins)."""
    result = db.session.execute(
        sa.update(Timesheet).where(Timesheet.id == ts.id, Timesheet.version == version)
        .values(version=Timesheet.version + 1).execution_options(synchronize_session=False)
    )
    if result.rowcount != 1:
        db.session.refresh(ts)
        raise StaleTimesheet()
    db.session.refresh(ts, ["version"])


def _require_editable(ts: Timesheet) -> None:
    if ts.is_locked:
        raise TimesheetError("This timesheet is approved and locked. To change it, start a correction.")
    if not ts.is_editable:
        raise TimesheetError("This timesheet has been submitted. It can be changed if the employer sends it back.")


def add_shift(ts: Timesheet, data: ShiftInput, version: int) -> Shift:
    _require_editable(ts)
    starts_at, ends_at, minutes = _checked_shift(ts, data)
    _claim_version(ts, version)
    shift = Shift(timesheet_id=ts.id, pa_id=ts.pa_id, work_date=data.work_date, start_time=data.start_time,
                  end_time=data.end_time, ends_next_day=data.ends_next_day, break_minutes=data.break_minutes,
                  rate_type=data.rate_type, notes=data.notes.strip()[:200], starts_at=starts_at, ends_at=ends_at,
                  minutes=minutes)
    db.session.add(shift)
    db.session.flush()
    db.session.expire(ts, ["shifts"])
    return shift


def remove_shift(ts: Timesheet, shift_id: int, version: int) -> None:
    _require_editable(ts)
    shift = db.session.scalar(sa.select(Shift).where(Shift.id == shift_id, Shift.timesheet_id == ts.id))
    if shift is None:
        raise TimesheetError("That shift is not on this timesheet")
    _claim_version(ts, version)
    db.session.delete(shift)
    db.session.flush()
    db.session.expire(ts, ["shifts"])


def add_claim(ts: Timesheet, kind: ClaimKind, claim_date: date, description: str, version: int, *,
              miles: Decimal | None = None, amount_pence: int | None = None, document: TimesheetDocument | None = None) -> TimesheetClaim:
    _require_editable(ts)
    if not ts.period_start <= claim_date <= ts.period_end:
        raise TimesheetError("The date must be in this timesheet's period", "claim_date")
    if kind == ClaimKind.MILEAGE:
        if miles is None or miles <= 0:
            raise TimesheetError("Enter the miles driven, like 12.5", "miles")
        amount_pence = mileage_pence(ts.employment, miles)
    else:
        if not amount_pence or amount_pence <= 0:
            raise TimesheetError("Enter the amount spent, like 4.50", "amount")
        if document is None:
            raise TimesheetError("Add the receipt for this expense", "receipt")
    _claim_version(ts, version)
    claim = TimesheetClaim(timesheet_id=ts.id, kind=kind, claim_date=claim_date, description=description.strip()[:200],
                           miles=miles if kind == ClaimKind.MILEAGE else None, amount_pence=amount_pence,
                           document_id=document.id if document else None)
    db.session.add(claim)
    db.session.flush()
    db.session.expire(ts, ["claims"])
    return claim


def remove_claim(ts: Timesheet, claim_id: int, version: int) -> None:
    _require_editable(ts)
    claim = db.session.scalar(sa.select(TimesheetClaim).where(TimesheetClaim.id == claim_id, TimesheetClaim.timesheet_id == ts.id))
    if claim is None:
        raise TimesheetError("That claim is not on this timesheet")
    _claim_version(ts, version)
    db.session.delete(claim)
    db.session.flush()
    db.session.expire(ts, ["claims"])


def _link(ts: Timesheet) -> str:
    return f"/timesheets/{ts.id}"


def _title(ts: Timesheet) -> str:
    return f"{ts.employment.pa.full_name}'s timesheet for {ts.period_start:%-d %B} to {ts.period_end:%-d %B %Y}"


def submit(ts: Timesheet, user: User, version: int) -> bool:
    """Send the timesheet to the employer. False (and nothing changed) if it was already submitted."""
    if ts.status in (TimesheetStatus.SUBMITTED, TimesheetStatus.APPROVED) and ts.version != version:
        return False  # a double-click or a resubmitted form: the first one went through
    _require_editable(ts)
    if not ts.shifts and not ts.claims:
        raise TimesheetError("Add at least one shift before submitting")
    _claim_version(ts, version)
    ts.status = TimesheetStatus.SUBMITTED
    ts.submitted_at = utcnow()
    ts.submitted_by_id = user.id
    ts.sent_back_reason = ""
    notifications.notify(approvers(ts.employer_id), f"timesheet:{ts.id}:submitted:{ts.version}",
                         f"{_title(ts)} is waiting for approval.", _link(ts))
    alert_rules.on_timesheet_submitted(ts)  # a close relative paid without the council's agreement: a queue item
    return True


def send_back(ts: Timesheet, user: User, reason: str, version: int) -> bool:
    reason = (reason or "").strip()
    if ts.status == TimesheetStatus.SENT_BACK and ts.version != version:
        return False
    if ts.status != TimesheetStatus.SUBMITTED:
        raise TimesheetError("Only a timesheet waiting for approval can be sent back")
    if not reason:
        raise TimesheetError("Say what needs to change, so the PA can put it right", "reason")
    _claim_version(ts, version)
    ts.status = TimesheetStatus.SENT_BACK
    ts.sent_back_at = utcnow()
    ts.sent_back_by_id = user.id
    ts.sent_back_reason = reason[:500]
    who = pa_user(ts)
    notifications.notify([who] if who else approvers(ts.employer_id), f"timesheet:{ts.id}:sent-back:{ts.version}",
                         f"{_title(ts)} was sent back: {reason[:150]}", _link(ts))
    return True


def employer_account_id(employer_id: int) -> int | None:
    """The account PA wages are paid from: the ongoing budget's (the latest), else the first one."""
    account = db.session.scalar(
        sa.select(Budget.account_id).where(Budget.recipient_id == employer_id, Budget.kind == BudgetKind.ONGOING)
        .order_by(Budget.id.desc()).limit(1))
    if account is None:
        account = db.session.scalar(sa.select(DPAccount.id).where(DPAccount.recipient_id == employer_id).order_by(DPAccount.id).limit(1))
    return account


def approve(ts: Timesheet, user: User, version: int) -> bool:
    """Lock the timesheet and expect its gross pay to leave the account. False if already approved."""
    if ts.status == TimesheetStatus.APPROVED and ts.version != version:
        return False
    if ts.status != TimesheetStatus.SUBMITTED:
        raise TimesheetError("Only a timesheet waiting for approval can be approved")
    _claim_version(ts, version)
    figures = totals(ts)
    ts.status = TimesheetStatus.APPROVED
    ts.approved_at = utcnow()
    ts.approved_by_id = user.id
    ts.gross_pence = figures.gross_pence
    period = period_of(ts)
    owed = figures.gross_pence
    original = ts.corrects
    if original is not None:
        original.status = TimesheetStatus.SUPERSEDED
        before = db.session.scalar(sa.select(ExpectedItem).where(ExpectedItem.key == f"timesheet:{original.id}"))
        paid_by_payroll = db.session.get(PaidTimesheet, original.id) is not None
        if original.paid_on or paid_by_payroll or (before is not None and before.status == ExpectedStatus.SETTLED):
            owed = figures.gross_pence - (original.gross_pence or 0)  # only the difference is still to pay
            ts.paid_on = None
        elif before is not None and before.status == ExpectedStatus.OPEN:
            before.status = ExpectedStatus.CANCELLED
    account_id = employer_account_id(ts.employer_id)
    if account_id is not None and owed > 0:
        db.session.add(ExpectedItem(
            account_id=account_id, kind=ExpectedKind.TIMESHEET, amount_pence=-owed, due_date=period.pay_date,
            key=f"timesheet:{ts.id}",
            description=("Correction to " if original else "") + f"PA timesheet {ts.period_start:%-d %b} to {ts.period_end:%-d %b %Y}"))
    elif account_id is not None and owed < 0:
        # A correction that lowers pay already paid: the overpayment is money due back into the account.
        db.session.add(ExpectedItem(
            account_id=account_id, kind=ExpectedKind.TIMESHEET, amount_pence=-owed, due_date=period.pay_date,
            key=f"timesheet:{ts.id}",
            description=f"Overpaid wages to recover, PA timesheet {ts.period_start:%-d %b} to {ts.period_end:%-d %b %Y}"))
    who = pa_user(ts)
    if who:
        notifications.notify([who], f"timesheet:{ts.id}:approved", f"{_title(ts)} was approved.", _link(ts))
    db.session.flush()
    return True


def start_correction(ts: Timesheet, user: User) -> Timesheet:
    """A new revision of an approved timesheet, copied from it; the original stays until it is approved."""
    existing = db.session.scalar(sa.select(Timesheet).where(Timesheet.corrects_id == ts.id))
    if existing is not None:
        return existing
    if ts.status != TimesheetStatus.APPROVED:
        raise TimesheetError("Only an approved timesheet is corrected; until then, it can be changed directly")
    copy = Timesheet(employment_id=ts.employment_id, pa_id=ts.pa_id, employer_id=ts.employer_id,
                     period_start=ts.period_start, period_end=ts.period_end, revision=ts.revision + 1,
                     corrects_id=ts.id, source=ts.source, created_by_id=user.id,
                     keyed_day_minutes=ts.keyed_day_minutes, keyed_night_minutes=ts.keyed_night_minutes,
                     keyed_weekend_minutes=ts.keyed_weekend_minutes, keyed_sleep_ins=ts.keyed_sleep_ins)
    try:
        with db.session.begin_nested():
            db.session.add(copy)
            db.session.flush()
    except IntegrityError:
        return db.session.scalar(sa.select(Timesheet).where(Timesheet.corrects_id == ts.id))
    for shift in ts.shifts:
        db.session.add(Shift(timesheet_id=copy.id, pa_id=shift.pa_id, work_date=shift.work_date, start_time=shift.start_time,
                             end_time=shift.end_time, ends_next_day=shift.ends_next_day, break_minutes=shift.break_minutes,
                             rate_type=shift.rate_type, notes=shift.notes, starts_at=shift.starts_at, ends_at=shift.ends_at,
                             minutes=shift.minutes))
    for claim in ts.claims:
        db.session.add(TimesheetClaim(timesheet_id=copy.id, kind=claim.kind, claim_date=claim.claim_date,
                                      description=claim.description, miles=claim.miles, amount_pence=claim.amount_pence,
                                      document_id=claim.document_id))
    db.session.flush()
    return copy


@dataclass
class Change:
    what: str  # "added", "removed", "changed"
    before: str
    after: str


def _shift_words(shift: Shift) -> str:
    words = f"{shift.work_date:%a %-d %b} {shift.start_time:%H:%M}–{shift.end_time:%H:%M}"
    if shift.ends_next_day:
        words += " (next day)"
    if shift.break_minutes:
        words += f", {shift.break_minutes} min break"
    return words + f", {shift.rate_type.value}"


def changes(correction: Timesheet) -> list[Change]:
    """What a correction changes compared with the timesheet it replaces, day by day, and the total."""
    original = correction.corrects
    if original is None:
        return []
    before = [(s.work_date, _shift_words(s)) for s in original.shifts]
    after = [(s.work_date, _shift_words(s)) for s in correction.shifts]
    removed = [item for item in before if item not in after]
    added = [item for item in after if item not in before]
    out = []
    for day, words in added:
        same_day = next((item for item in removed if item[0] == day), None)
        if same_day is not None:
            removed.remove(same_day)
            out.append(Change("changed", same_day[1], words))
        else:
            out.append(Change("added", "", words))
    out.extend(Change("removed", words, "") for _, words in removed)
    old, new = totals(original), totals(correction)
    if old.gross_pence != new.gross_pence:
        out.append(Change("total", _pounds(old.gross_pence), _pounds(new.gross_pence)))
    return out


def mark_paid(ts: Timesheet, user: User, paid_on: date) -> bool:
    """The employer paid it themselves: record the date and stop expecting the money. False if already."""
    if ts.status != TimesheetStatus.APPROVED:
        raise TimesheetError("Only an approved timesheet can be marked as paid")
    if ts.paid_on is not None:
        return False
    if paid_on > london_today():
        raise TimesheetError("The date paid cannot be in the future", "paid_on")
    if ts.approved_at and paid_on < ts.period_start:
        raise TimesheetError("The date paid must be after the period started", "paid_on")
    ts.paid_on = paid_on
    db.session.execute(
        sa.update(ExpectedItem).where(ExpectedItem.key == f"timesheet:{ts.id}", ExpectedItem.status == ExpectedStatus.OPEN)
        .values(status=ExpectedStatus.SETTLED))
    return True


def expected_item(ts: Timesheet) -> ExpectedItem | None:
    return db.session.scalar(sa.select(ExpectedItem).where(ExpectedItem.key == f"timesheet:{ts.id}"))


# Paper timesheets ---------------------------------------------------------------------------------


@dataclass
class KeyedTotals:
    day_minutes: int = 0
    night_minutes: int = 0
    weekend_minutes: int = 0
    sleep_ins: int = 0

    @property
    def empty(self) -> bool:
        return not (self.day_minutes or self.night_minutes or self.weekend_minutes or self.sleep_ins)


def _apply_keyed(ts: Timesheet, keyed: KeyedTotals) -> None:
    if keyed.empty:
        raise TimesheetError("Enter the hours from the paper timesheet", "day_hours")
    if keyed.sleep_ins and not ts.employment.sleep_in_pence:
        raise TimesheetError("There is no sleep-in rate in this PA's employment record", "sleep_ins")
    ts.keyed_day_minutes, ts.keyed_night_minutes = keyed.day_minutes, keyed.night_minutes
    ts.keyed_weekend_minutes, ts.keyed_sleep_ins = keyed.weekend_minutes, keyed.sleep_ins


def record_paper(employment: Employment, period: Period, user: User, keyed: KeyedTotals | None) -> Timesheet:
    """A paper timesheet for a period: with totals typed in, or waiting for the DPSS to key them in.

    The employer's side uploading a signed paper timesheet is their approval of it, except under a
    managed account, where it waits for the DPSS like any other.
    """
    existing = current_for(employment, period)
    if existing is not None and (existing.shifts or not existing.is_editable):
        raise TimesheetError("There is already a timesheet for this PA and period. Open it from the list instead.")
    ts = existing or start(employment, period, user)
    ts.source = TimesheetSource.PAPER
    ts.submitted_at, ts.submitted_by_id = utcnow(), user.id
    alert_rules.on_timesheet_submitted(ts)
    if keyed is None:
        ts.status = TimesheetStatus.AWAITING_KEYING
        db.session.flush()
        return ts
    _apply_keyed(ts, keyed)
    ts.keyed_by_id = user.id
    ts.status = TimesheetStatus.SUBMITTED
    ts.version = (ts.version or 1) + 1
    db.session.flush()
    if may_approve(user, ts):
        approve(ts, user, ts.version)
    return ts


def key_in(ts: Timesheet, user: User, keyed: KeyedTotals, version: int) -> None:
    """DPSS staff type in the totals of a paper timesheet left for them."""
    if ts.status != TimesheetStatus.AWAITING_KEYING:
        raise TimesheetError("This paper timesheet has already been keyed in")
    with db.session.no_autoflush:  # a stale page must not flush the totals on its way to being refused
        _apply_keyed(ts, keyed)
        _claim_version(ts, version)
    ts.keyed_by_id = user.id
    ts.status = TimesheetStatus.SUBMITTED
    uploader = db.session.get(User, ts.submitted_by_id) if ts.submitted_by_id else None
    if uploader is not None and may_approve(uploader, ts):
        approve(ts, uploader, ts.version)  # uploading it signed was the employer's approval
        hours = hours_text(ts.keyed_day_minutes + ts.keyed_night_minutes + ts.keyed_weekend_minutes)
        notifications.notify(approvers(ts.employer_id), f"timesheet:{ts.id}:keyed",
                             f"{_title(ts)} was typed in from the paper copy: {hours}, {_pounds(ts.gross_pence or 0)} "
                             "before tax. Tell the support service if that is not what the timesheet says.", _link(ts))
    elif may_approve(user, ts):
        approve(ts, user, ts.version)
    else:
        notifications.notify(approvers(ts.employer_id), f"timesheet:{ts.id}:keyed", f"{_title(ts)} is waiting for approval.", _link(ts))


def attach_document(ts: Timesheet, storage_name: str, cleaned, user: User) -> TimesheetDocument:
    doc = TimesheetDocument(timesheet_id=ts.id, storage_name=storage_name, sha256=cleaned.sha256,
                            content_type=cleaned.content_type, size_bytes=len(cleaned.data),
                            display_name=cleaned.display_name, uploaded_by_id=user.id)
    db.session.add(doc)
    db.session.flush()
    return doc
