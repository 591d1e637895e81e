"""Pay periods, deadlines and pay dates from a provider's payroll calendar (see domain.md, Calendars).

Weekly and fortnightly periods run Monday to Sunday, 4-weekly periods from the calendar's anchor,
monthly periods are calendar months. The deadline to submit and the pay date are a number of working
days after the period ends, skipping weekends and bank holidays in England and Wales.
"""

import calendar
from dataclasses import dataclass
from datetime import date, timedelta
from functools import lru_cache

import sqlalchemy as sa

from portal.extensions import db
from portal.models import CaseloadEntry, PayPeriod, PayrollCalendar


@dataclass(frozen=True)
class Period:
    start: date
    end: date
    submit_by: date
    pay_date: date

    @property
    def days(self) -> int:
        return (self.end - self.start).days + 1

    def contains(self, day: date) -> bool:
        return self.start <= day <= self.end


@lru_cache(maxsize=1)
def _bank_holidays() -> frozenset[date]:
    from govuk_bank_holidays.bank_holidays import BankHolidays

    # The package ships GOV.UK's data; use it as is (no network from a web request or a test).
    holidays = BankHolidays(use_cached_holidays=True)
    return frozenset(h["date"] for h in holidays.get_holidays(division=BankHolidays.ENGLAND_AND_WALES))


def is_working_day(day: date) -> bool:
    return day.weekday() < 5 and day not in _bank_holidays()


def add_working_days(day: date, count: int) -> date:
    """The count-th working day after `day` (count 0: the day itself, or the next working day)."""
    if count <= 0:
        while not is_working_day(day):
            day += timedelta(days=1)
        return day
    while count:
        day += timedelta(days=1)
        if is_working_day(day):
            count -= 1
    return day


def calendar_for(employer_id: int) -> PayrollCalendar:
    """The payroll calendar of the employer's DPSS provider, or the default one."""
    provider_id = db.session.scalar(sa.select(CaseloadEntry.provider_id).where(CaseloadEntry.recipient_id == employer_id))
    rows = db.session.scalars(
        sa.select(PayrollCalendar).where(sa.or_(PayrollCalendar.provider_id == provider_id, PayrollCalendar.provider_id.is_(None)))
    ).all()
    chosen = next((row for row in rows if row.provider_id is not None), None) or next((row for row in rows), None)
    if chosen is None:
        raise LookupError("No payroll calendar: the migrations seed a default one")
    return chosen


def _bounds(pay_period: PayPeriod, cal: PayrollCalendar, day: date) -> tuple[date, date]:
    if pay_period == PayPeriod.WEEKLY:
        start = day - timedelta(days=day.weekday())
        return start, start + timedelta(days=6)
    if pay_period == PayPeriod.MONTHLY:
        last = calendar.monthrange(day.year, day.month)[1]
        return day.replace(day=1), day.replace(day=last)
    length = 14 if pay_period == PayPeriod.FORTNIGHTLY else 28
    anchor = cal.fortnight_anchor if pay_period == PayPeriod.FORTNIGHTLY else cal.four_week_anchor
    start = anchor + timedelta(days=((day - anchor).days // length) * length)
    return start, start + timedelta(days=length - 1)


def period_containing(pay_period: PayPeriod, cal: PayrollCalendar, day: date) -> Period:
    start, end = _bounds(pay_period, cal, day)
    return Period(start, end, add_working_days(end, cal.submit_working_days), add_working_days(end, cal.pay_working_days))


def period_starting(pay_period: PayPeriod, cal: PayrollCalendar, start: date) -> Period | None:
    """The period that starts on this day, or None if no period starts then (a tampered URL)."""
    period = period_containing(pay_period, cal, start)
    return period if period.start == start else None


def previous_period(pay_period: PayPeriod, cal: PayrollCalendar, period: Period) -> Period:
    return period_containing(pay_period, cal, period.start - timedelta(days=1))


def next_period(pay_period: PayPeriod, cal: PayrollCalendar, period: Period) -> Period:
    return period_containing(pay_period, cal, period.end + timedelta(days=1))
