"""Pay periods, deadlines and pay dates from a payroll calendar (domain.md, Calendars).

Weekly and fortnightly periods run Monday to Sunday, 4-weekly from the calendar's anchor, monthly
periods are calendar months; submit-by and pay date are N working days after the period ends,
skipping weekends and England & Wales bank holidays.
"""

from datetime import date, timedelta

import pytest
import sqlalchemy as sa
from hypothesis import given, settings
from hypothesis import strategies as st

from portal.extensions import db
from portal.models import Organisation, PayPeriod, PayrollCalendar, Person
from portal.services import pay_periods
from portal.services.pay_periods import (
    add_working_days,
    is_working_day,
    next_period,
    period_containing,
    period_starting,
    previous_period,
)

ANCHOR = date(2026, 4, 6)  # a Monday: the start of the 2026/27 tax year, as the default calendar has it


def calendar(submit: int = 1, pay: int = 5, anchor: date = ANCHOR) -> PayrollCalendar:
    """A calendar that is never saved: the period arithmetic needs no database."""
    return PayrollCalendar(fortnight_anchor=anchor, four_week_anchor=anchor, submit_working_days=submit, pay_working_days=pay)


def words(period) -> str:
    return f"Submit by {period.submit_by:%A %-d %B %Y}, paid {period.pay_date:%A %-d %B %Y}"


# Periods --------------------------------------------------------------------------------------------


@pytest.mark.parametrize("day", [date(2026, 11, 30), date(2026, 12, 2), date(2026, 12, 6)])
def test_a_weekly_period_runs_monday_to_sunday(day):
    period = period_containing(PayPeriod.WEEKLY, calendar(), day)
    assert (period.start, period.end) == (date(2026, 11, 30), date(2026, 12, 6))
    assert period.start.weekday() == 0 and period.end.weekday() == 6
    assert period.days == 7
    assert period.contains(day) and not period.contains(date(2026, 12, 7)) and not period.contains(date(2026, 11, 29))


def test_the_weekly_deadline_and_pay_date_as_the_issue_shows_them():
    period = period_containing(PayPeriod.WEEKLY, calendar(submit=1, pay=5), date(2026, 12, 3))
    assert (period.start, period.end) == (date(2026, 11, 30), date(2026, 12, 6))
    assert period.submit_by == date(2026, 12, 7)
    assert period.pay_date == date(2026, 12, 11)
    assert words(period) == "Submit by Monday 7 December 2026, paid Friday 11 December 2026"


@pytest.mark.parametrize("day, start, end", [
    (date(2026, 4, 6), date(2026, 4, 6), date(2026, 4, 19)),     # the anchor itself
    (date(2026, 4, 19), date(2026, 4, 6), date(2026, 4, 19)),    # the last day of the first fortnight
    (date(2026, 4, 20), date(2026, 4, 20), date(2026, 5, 3)),    # the next one
    (date(2026, 4, 5), date(2026, 3, 23), date(2026, 4, 5)),     # before the anchor: counted backwards
    (date(2026, 12, 2), date(2026, 11, 30), date(2026, 12, 13)),
])
def test_fortnights_count_from_the_anchor(day, start, end):
    period = period_containing(PayPeriod.FORTNIGHTLY, calendar(), day)
    assert (period.start, period.end) == (start, end)
    assert period.days == 14 and period.start.weekday() == 0 and period.end.weekday() == 6


@pytest.mark.parametrize("day, start, end", [
    (date(2026, 4, 6), date(2026, 4, 6), date(2026, 5, 3)),
    (date(2026, 5, 3), date(2026, 4, 6), date(2026, 5, 3)),
    (date(2026, 5, 4), date(2026, 5, 4), date(2026, 5, 31)),
    (date(2026, 3, 9), date(2026, 3, 9), date(2026, 4, 5)),      # the period before the anchor
    (date(2026, 3, 8), date(2026, 2, 9), date(2026, 3, 8)),
])
def test_four_weekly_periods_count_from_the_anchor(day, start, end):
    period = period_containing(PayPeriod.FOUR_WEEKLY, calendar(), day)
    assert (period.start, period.end) == (start, end)
    assert period.days == 28


def test_four_weekly_periods_follow_an_anchor_that_is_not_a_monday():
    cal = calendar(anchor=date(2026, 4, 9))  # a Thursday
    period = period_containing(PayPeriod.FOUR_WEEKLY, cal, date(2026, 5, 10))
    assert (period.start, period.end) == (date(2026, 5, 7), date(2026, 6, 3))


@pytest.mark.parametrize("day, start, end", [
    (date(2028, 2, 29), date(2028, 2, 1), date(2028, 2, 29)),    # February in a leap year
    (date(2028, 2, 1), date(2028, 2, 1), date(2028, 2, 29)),
    (date(2027, 2, 14), date(2027, 2, 1), date(2027, 2, 28)),    # and in a common year
    (date(2026, 12, 31), date(2026, 12, 1), date(2026, 12, 31)),
    (date(2026, 4, 30), date(2026, 4, 1), date(2026, 4, 30)),
])
def test_monthly_periods_are_calendar_months(day, start, end):
    period = period_containing(PayPeriod.MONTHLY, calendar(), day)
    assert (period.start, period.end) == (start, end)


def test_leap_february_pay_date_counts_working_days_from_the_29th():
    period = period_containing(PayPeriod.MONTHLY, calendar(submit=1, pay=5), date(2028, 2, 10))
    assert period.end == date(2028, 2, 29)
    assert period.submit_by == date(2028, 3, 1)   # Wednesday
    assert period.pay_date == date(2028, 3, 7)    # Wed 1, Thu 2, Fri 3, Mon 6, Tue 7


def test_period_starting_refuses_a_day_no_period_starts_on():
    cal = calendar()
    assert period_starting(PayPeriod.WEEKLY, cal, date(2026, 11, 30)).end == date(2026, 12, 6)
    assert period_starting(PayPeriod.WEEKLY, cal, date(2026, 12, 1)) is None
    assert period_starting(PayPeriod.FORTNIGHTLY, cal, date(2026, 4, 13)) is None  # a Monday, but mid-fortnight
    assert period_starting(PayPeriod.FORTNIGHTLY, cal, date(2026, 4, 20)) is not None
    assert period_starting(PayPeriod.MONTHLY, cal, date(2028, 2, 1)).end == date(2028, 2, 29)
    assert period_starting(PayPeriod.MONTHLY, cal, date(2028, 2, 2)) is None


def test_previous_and_next_periods_meet_without_gaps():
    cal = calendar()
    feb = period_containing(PayPeriod.MONTHLY, cal, date(2028, 2, 15))
    assert next_period(PayPeriod.MONTHLY, cal, feb).start == date(2028, 3, 1)
    assert previous_period(PayPeriod.MONTHLY, cal, feb).end == date(2028, 1, 31)
    fortnight = period_containing(PayPeriod.FORTNIGHTLY, cal, ANCHOR)
    assert previous_period(PayPeriod.FORTNIGHTLY, cal, fortnight).start == date(2026, 3, 23)
    assert next_period(PayPeriod.FORTNIGHTLY, cal, fortnight).start == date(2026, 4, 20)


# Working days and bank holidays ---------------------------------------------------------------------


def test_weekends_and_bank_holidays_are_not_working_days():
    assert is_working_day(date(2026, 12, 24))       # Thursday
    assert not is_working_day(date(2026, 12, 25))   # Christmas Day, Friday
    assert not is_working_day(date(2026, 12, 26))   # Saturday
    assert not is_working_day(date(2026, 12, 28))   # Boxing Day substitute, Monday
    assert is_working_day(date(2026, 12, 29))
    assert not is_working_day(date(2027, 1, 1))
    assert not is_working_day(date(2026, 4, 3)) and not is_working_day(date(2026, 4, 6))  # Good Friday, Easter Monday
    assert not is_working_day(date(2028, 2, 26))    # a Saturday in a leap February


def test_add_working_days_skips_weekends_and_bank_holidays():
    assert add_working_days(date(2026, 12, 24), 1) == date(2026, 12, 29)
    assert add_working_days(date(2026, 12, 20), 5) == date(2026, 12, 29)   # 21, 22, 23, 24, then 29
    assert add_working_days(date(2026, 12, 27), 5) == date(2027, 1, 5)    # 29, 30, 31, then 4 and 5 (1 January)
    assert add_working_days(date(2026, 12, 25), 0) == date(2026, 12, 29)   # none: the next working day
    assert add_working_days(date(2026, 12, 24), 0) == date(2026, 12, 24)


def test_christmas_week_deadlines_skip_the_bank_holidays():
    cal = calendar(submit=1, pay=5)
    before = period_containing(PayPeriod.WEEKLY, cal, date(2026, 12, 16))  # 14 to 20 December
    assert words(before) == "Submit by Monday 21 December 2026, paid Tuesday 29 December 2026"
    christmas = period_containing(PayPeriod.WEEKLY, cal, date(2026, 12, 25))  # 21 to 27 December
    assert (christmas.start, christmas.end) == (date(2026, 12, 21), date(2026, 12, 27))
    assert words(christmas) == "Submit by Tuesday 29 December 2026, paid Tuesday 5 January 2027"


def test_the_calendar_numbers_of_working_days_are_used():
    period = period_containing(PayPeriod.WEEKLY, calendar(submit=3, pay=10), date(2026, 12, 3))
    assert period.submit_by == date(2026, 12, 9)
    assert period.pay_date == date(2026, 12, 18)


# The provider's calendar ----------------------------------------------------------------------------


def test_an_employer_gets_their_providers_calendar_or_the_default(money_app):
    with money_app.app_context():
        def pid(given, family):
            return db.session.scalar(sa.select(Person.id).where(Person.given_name == given, Person.family_name == family))

        brightpath = db.session.scalar(sa.select(Organisation.id).where(Organisation.name == "Brightpath Support"))
        harbour = db.session.scalar(sa.select(Organisation.id).where(Organisation.name == "Harbour DPSS"))
        assert pay_periods.calendar_for(pid("Amina", "Patel")).provider_id == brightpath
        assert pay_periods.calendar_for(pid("Grace", "Okafor")).provider_id == harbour
        # Someone on no provider's caseload gets the default calendar the migrations seed.
        default = pay_periods.calendar_for(pid("Sophie", "Clarke"))
        assert default.provider_id is None
        assert (default.fortnight_anchor, default.submit_working_days, default.pay_working_days) == (ANCHOR, 1, 5)

        # A provider's own settings change its employers' deadlines.
        cal = db.session.scalar(sa.select(PayrollCalendar).where(PayrollCalendar.provider_id == brightpath))
        cal.pay_working_days = 3
        db.session.flush()
        chosen = pay_periods.calendar_for(pid("Amina", "Patel"))
        assert period_containing(PayPeriod.WEEKLY, chosen, date(2026, 12, 3)).pay_date == date(2026, 12, 9)
        db.session.rollback()


# Properties -----------------------------------------------------------------------------------------

DAYS = st.dates(min_value=date(2020, 1, 1), max_value=date(2035, 12, 31))


@settings(max_examples=300, deadline=None)
@given(day=DAYS, kind=st.sampled_from(list(PayPeriod)), submit=st.integers(0, 5), pay=st.integers(0, 10))
def test_every_day_falls_in_exactly_one_period(day, kind, submit, pay):
    cal = calendar(submit=submit, pay=pay)
    period = period_containing(kind, cal, day)
    assert period.contains(day)
    # Every day of the period gives the same period back, and the neighbours do not.
    assert period_containing(kind, cal, period.start) == period
    assert period_containing(kind, cal, period.end) == period
    assert next_period(kind, cal, period).start == period.end + timedelta(days=1)
    assert previous_period(kind, cal, period).end == period.start - timedelta(days=1)
    if kind == PayPeriod.MONTHLY:
        assert period.start.day == 1 and (period.end + timedelta(days=1)).day == 1
    else:
        assert period.days == {PayPeriod.WEEKLY: 7, PayPeriod.FORTNIGHTLY: 14, PayPeriod.FOUR_WEEKLY: 28}[kind]
        assert period.start.weekday() == 0 and period.end.weekday() == 6  # the anchor is a Monday
    # Deadlines: on working days, after the period (or the next working day with 0), pay not before submit.
    assert is_working_day(period.submit_by) and is_working_day(period.pay_date)
    assert period.submit_by > period.end or submit == 0
    after = [period.end + timedelta(days=n) for n in range(1, (period.pay_date - period.end).days + 1)]
    if pay:
        assert sum(is_working_day(d) for d in after) == pay  # exactly N working days after the end
    else:
        assert not any(is_working_day(d) for d in [period.end, *after][:-1])  # the first working day from the end
    if submit <= pay:
        assert period.submit_by <= period.pay_date
