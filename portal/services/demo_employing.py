"""Demo data for employing PAs: the personas' employment records, duties, payroll calendars and a
year of timesheets (personas.md): Sophie's online timesheets for Amina, Joan's paper ones keyed in by
Brightpath, and Tom's pending one for Leon, waiting for Kim.
"""

from datetime import UTC, date, datetime, time, timedelta
from decimal import Decimal

import sqlalchemy as sa

from portal.extensions import db
from portal.models import (
    EmployerInsurance,
    Employment,
    HolidayMethod,
    LeaveKind,
    LeaveRecord,
    Notification,
    Organisation,
    PayPeriod,
    PayrollCalendar,
    PensionStatus,
    RateType,
    Relationship,
    StarterDeclaration,
    Timesheet,
    User,
)
from portal.services import timesheets
from portal.services.clock import LONDON, london_today, utcnow
from portal.services.timesheets import KeyedTotals, ShiftInput

# Sophie works four 5-hour days a week for Amina (40 hours a fortnight at £14.00: £560).
SOPHIE_WEEK = [(0, time(9, 0), time(14, 0)), (1, time(9, 0), time(14, 0)), (3, time(9, 0), time(14, 0)),
               (4, time(9, 0), time(14, 0))]
# Leon works three days a week for Tom.
LEON_WEEK = [(0, time(10, 0), time(16, 30)), (2, time(10, 0), time(16, 30)), (4, time(10, 0), time(16, 30))]


def _employment(employer_id: int, pa_id: int) -> Employment:
    return db.session.scalar(sa.select(Employment).where(Employment.employer_id == employer_id, Employment.pa_id == pa_id))


def _evening_of(day: date) -> datetime:
    return datetime.combine(day, time(18, 0), tzinfo=LONDON).astimezone(UTC)


def load_employing(ids: dict[str, int], today: date | None = None) -> None:
    today = today or london_today()
    orgs = {o.name: o for o in db.session.scalars(sa.select(Organisation))}
    for provider in ("Brightpath Support", "Harbour DPSS"):
        db.session.add(PayrollCalendar(provider_id=orgs[provider].id, fortnight_anchor=date(2026, 4, 6),
                                       four_week_anchor=date(2026, 4, 6), submit_working_days=1, pay_working_days=5))
    users = {u.email: u for u in db.session.scalars(sa.select(User))}
    kim, amina_user = users["kim@brightpath.example"], users["amina@example.org"]
    sophie_user = users["sophie.pa@example.org"]

    sophie = _employment(ids["amina"], ids["sophie"])
    sophie.day_rate_pence, sophie.night_rate_pence, sophie.weekend_rate_pence = 1400, 1500, 1550
    sophie.sleep_in_pence, sophie.contracted_hours, sophie.pay_period = 9000, Decimal(20), PayPeriod.FORTNIGHTLY
    sophie.pa_date_of_birth, sophie.ni_number, sophie.tax_code = date(1996, 5, 12), "JT123456C", "1257L"
    sophie.holiday_method, sophie.pension_status = HolidayMethod.ACCRUED, PensionStatus.ENROLLED
    sophie.contract_issued_on, sophie.right_to_work_seen_on, sophie.pension_assessed_on = date(2024, 3, 25), date(2024, 3, 25), date(2024, 7, 1)

    joan = _employment(ids["amina"], ids["joan"])
    joan.day_rate_pence, joan.contracted_hours, joan.pay_period = 1275, Decimal(7), PayPeriod.FOUR_WEEKLY
    joan.pa_date_of_birth, joan.ni_number, joan.tax_code = date(1968, 9, 2), "JT654321A", "BR"
    joan.starter_declaration = StarterDeclaration.C
    joan.holiday_method, joan.pension_status = HolidayMethod.ROLLED_UP, PensionStatus.NOT_ELIGIBLE
    joan.contract_issued_on, joan.right_to_work_seen_on, joan.pension_assessed_on = date(2024, 3, 28), date(2024, 3, 28), date(2024, 7, 1)
    joan.relationship_to_employer = Relationship.OTHER_RELATIVE

    leon = _employment(ids["tom"], ids["leon"])
    leon.day_rate_pence, leon.contracted_hours, leon.pay_period = 1300, Decimal("19.5"), PayPeriod.WEEKLY
    leon.pa_date_of_birth, leon.ni_number, leon.tax_code = date(1990, 1, 20), "JT112233B", "1257L"
    leon.holiday_method, leon.pension_status = HolidayMethod.ACCRUED, PensionStatus.ENROLLED
    leon.contract_issued_on, leon.pension_assessed_on = date(2024, 3, 20), date(2024, 7, 1)
    # NI numbers with a prefix HMRC gives out (QQ is only for examples, and the portal refuses it).
    # Leon's right-to-work check is not recorded: a duty for Brightpath to chase.

    db.session.add_all([
        EmployerInsurance(employer_id=ids["amina"], insurer="Northfield Mutual", policy_number="EL-204-7781",
                          cover_pence=1_000_000_000, starts_on=date(2026, 4, 1), expires_on=date(2027, 3, 31)),
        # Tom's policy runs out within the month: a reminder for him and Brightpath.
        EmployerInsurance(employer_id=ids["tom"], insurer="Carewise Insurance", policy_number="CW-55102",
                          cover_pence=500_000_000, starts_on=today - timedelta(days=345), expires_on=today + timedelta(days=20)),
        LeaveRecord(employment_id=sophie.id, kind=LeaveKind.HOLIDAY, first_day=date(2026, 8, 10), last_day=date(2026, 8, 14),
                    hours=Decimal(20), note="Summer holiday"),
        LeaveRecord(employment_id=joan.id, kind=LeaveKind.SICKNESS, first_day=date(2026, 10, 5), last_day=date(2026, 10, 6),
                    note="Cold"),
    ])
    db.session.flush()

    _sophie_year(sophie, sophie_user, amina_user, today)
    _joan_year(joan, kim, amina_user, today)
    _leon_weeks(leon, kim, today)
    # The year of history made notifications as it went: they are old news, read and not to be emailed.
    db.session.execute(sa.update(Notification).values(emailed=True, read_at=utcnow()))
    db.session.commit()


def _add_week(ts: Timesheet, week_start: date, pattern, today: date) -> None:
    for weekday, start, end in pattern:
        day = week_start + timedelta(days=weekday)
        if ts.period_start <= day <= ts.period_end and day < today:
            timesheets.add_shift(ts, ShiftInput(day, start, end, False, 0, RateType.DAY), ts.version)


def _fill(ts: Timesheet, pattern, today: date) -> None:
    week = ts.period_start - timedelta(days=ts.period_start.weekday())
    while week <= ts.period_end:
        _add_week(ts, week, pattern, today)
        week += timedelta(days=7)


def _sophie_year(employment: Employment, pa, employer, today: date) -> None:
    current = timesheets.period_for(employment, today)
    period = timesheets.period_for(employment, today - timedelta(days=365))
    while period.start < current.start:
        ts = timesheets.start(employment, period, pa)
        _fill(ts, SOPHIE_WEEK, today)
        if period.start.month == 12 and period.start.day <= 14:
            # Christmas week: a sleep-in and a night shift past midnight.
            timesheets.add_shift(ts, ShiftInput(period.start + timedelta(days=5), time(22, 0), time(7, 0), True, 0, RateType.SLEEP_IN), ts.version)
        timesheets.submit(ts, pa, ts.version)
        timesheets.approve(ts, employer, ts.version)
        ts.submitted_at = ts.approved_at = _evening_of(min(period.submit_by, today))
        # The newest complete fortnight is left for Brightpath's payroll to pay (demo_payroll's run),
        # whatever day the demo is loaded on.
        newest = period.end + timedelta(days=1) >= current.start
        if period.pay_date < today - timedelta(days=3) and not newest:
            timesheets.mark_paid(ts, employer, period.pay_date)
        period = timesheets.period_for(employment, period.end + timedelta(days=1))
    # This fortnight: the shifts so far, not yet submitted (the browser journey submits it).
    ts = timesheets.start(employment, current, pa)
    _fill(ts, SOPHIE_WEEK, today)


def _joan_year(employment: Employment, kim, employer, today: date) -> None:
    current = timesheets.period_for(employment, today)
    period = timesheets.period_for(employment, today - timedelta(days=365))
    while period.start < current.start:
        last = period.end + timedelta(days=1) >= current.start
        ts = timesheets.record_paper(employment, period, employer, None)
        if last:  # the newest paper timesheet waits for Brightpath to key it in
            _attach_scan(ts, employer, period)
        else:
            timesheets.key_in(ts, kim, KeyedTotals(day_minutes=28 * 60), ts.version)
            if period.pay_date < today - timedelta(days=3):
                timesheets.mark_paid(ts, employer, period.pay_date)
        period = timesheets.period_for(employment, period.end + timedelta(days=1))


def _leon_weeks(employment: Employment, kim: User, today: date) -> None:
    current = timesheets.period_for(employment, today)
    period = timesheets.period_for(employment, today - timedelta(days=84))
    while period.start < current.start:
        ts = timesheets.start(employment, period, kim)
        _fill(ts, LEON_WEEK, today)
        timesheets.submit(ts, kim, ts.version)
        if period.end + timedelta(days=1) < current.start:
            timesheets.approve(ts, kim, ts.version)
            timesheets.mark_paid(ts, kim, min(period.pay_date, today))
        # Last week's stays waiting for Kim's approval.
        period = timesheets.period_for(employment, period.end + timedelta(days=1))


def _attach_scan(ts: Timesheet, uploader: User, period) -> None:
    """A made-up scan of Joan's paper timesheet (a PDF that passes the upload checks)."""
    from portal.services import evidence
    from portal.services.demo import receipt_pdf
    from portal.storage import Storage

    data = receipt_pdf("Timesheet: Joan Price", period.end, 0)
    cleaned = evidence.check_and_clean(data, f"joan-timesheet-{period.start.isoformat()}.pdf")
    name = Storage.from_config().save(cleaned.data, cleaned.extension)
    timesheets.attach_document(ts, name, cleaned, uploader)
