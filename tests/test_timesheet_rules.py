"""Timesheet rules: shift times in Europe/London, what a timesheet comes to, the employer's checks
(issue 4, "Checks"), and the way a timesheet moves from a draft to approved, corrected and paid.

Each test works on a fresh copy of the money demo. Tests that need fixed dates (clock changes, the
rate change on 1 April, leap day) use a new PA, or dates the demo's year of timesheets does not
reach, so the demo's own shifts never get in the way.
"""

from datetime import UTC, date, datetime, time, timedelta
from decimal import Decimal

import pytest
import sqlalchemy as sa
from hypothesis import given, settings
from hypothesis import strategies as st

from portal.extensions import db
from portal.models import (
    ClaimKind,
    Employment,
    ExpectedItem,
    ExpectedKind,
    ExpectedStatus,
    HolidayMethod,
    NationalRate,
    Notification,
    PayPeriod,
    Person,
    RateType,
    Relationship,
    RepresentativeLevel,
    RepresentativeLink,
    Shift,
    Timesheet,
    TimesheetSource,
    TimesheetStatus,
    User,
)
from portal.services import timesheets as ts_service
from portal.services.clock import LONDON, london_today
from portal.services.timesheets import (
    KeyedTotals,
    ShiftInput,
    StaleTimesheet,
    TimesheetError,
    shift_instants,
)

FAR_FUTURE = datetime(2040, 1, 1, tzinfo=UTC)  # "now" for checks that should not warn about future shifts


# Helpers --------------------------------------------------------------------------------------------


def person(given: str, family: str) -> Person:
    return db.session.scalar(sa.select(Person).where(Person.given_name == given, Person.family_name == family))


def user(email: str) -> User:
    return db.session.scalar(sa.select(User).where(User.email == email))


def new_pa(given: str = "Test", family: str = "Worker") -> Person:
    pa = Person(given_name=given, family_name=family)
    db.session.add(pa)
    db.session.flush()
    return pa


def employ(pa: Person, employer: Person, **fields) -> Employment:
    values = dict(start_date=date(2024, 1, 1), day_rate_pence=1400, pay_period=PayPeriod.WEEKLY,
                  pa_date_of_birth=date(1990, 1, 1))
    values.update(fields)
    employment = Employment(pa_id=pa.id, employer_id=employer.id, **values)
    db.session.add(employment)
    db.session.flush()
    return employment


def sheet(employment: Employment, day: date, by: User | None = None) -> Timesheet:
    ts = ts_service.start(employment, ts_service.period_for(employment, day), by)
    db.session.flush()
    return ts


def t(text: str) -> time:
    hours, minutes = text.split(":")
    return time(int(hours), int(minutes))


def add(ts: Timesheet, day: date, start: str, end: str, next_day: bool = False, brk: int = 0,
        rate: RateType = RateType.DAY, version: int | None = None) -> Shift:
    data = ShiftInput(day, t(start), t(end), next_day, brk, rate)
    return ts_service.add_shift(ts, data, ts.version if version is None else version)


def codes(warnings, code: str | None = None):
    found = [w.code for w in warnings]
    return found if code is None else [w for w in warnings if w.code == code]


def item(ts: Timesheet) -> ExpectedItem | None:
    return db.session.scalar(sa.select(ExpectedItem).where(ExpectedItem.key == f"timesheet:{ts.id}"))


def submitted(ts: Timesheet, by: User) -> Timesheet:
    assert ts_service.submit(ts, by, ts.version)
    return ts


def approved(ts: Timesheet, by: User) -> Timesheet:
    if ts.status != TimesheetStatus.SUBMITTED:
        submitted(ts, by)
    assert ts_service.approve(ts, by, ts.version)
    return ts


# Shift times ----------------------------------------------------------------------------------------


def test_a_shift_past_midnight_ends_the_next_day(money_app):
    with money_app.app_context():
        employment = employ(new_pa(), person("Amina", "Patel"))
        ts = sheet(employment, date(2027, 3, 1))
        shift = add(ts, date(2027, 3, 2), "22:00", "07:00", next_day=True, brk=30)
        assert shift.minutes == 9 * 60 - 30
        assert shift.ends_at - shift.starts_at == timedelta(hours=9)
        assert shift.ends_at.astimezone(LONDON).date() == date(2027, 3, 3)
        assert ts_service.totals(ts).worked_minutes == 510


def test_end_before_start_is_refused_with_a_plain_message(money_app):
    with money_app.app_context():
        employment = employ(new_pa(), person("Amina", "Patel"))
        ts = sheet(employment, date(2027, 3, 1))
        version = ts.version
        with pytest.raises(TimesheetError) as refused:
            add(ts, date(2027, 3, 2), "22:00", "07:00")
        assert refused.value.field == "end_time"
        assert "The finish time must be after the start time" in str(refused.value)
        assert "The shift finished the next day" in str(refused.value)
        with pytest.raises(TimesheetError, match="finish time must be after"):
            add(ts, date(2027, 3, 2), "09:00", "09:00")  # no time at all
        with pytest.raises(TimesheetError, match="longer than 24 hours"):
            add(ts, date(2027, 3, 2), "09:00", "09:30", next_day=True)
        db.session.refresh(ts)
        assert ts.shifts == [] and ts.version == version


def test_a_24_hour_shift_is_allowed_but_not_a_minute_more():
    starts, ends = shift_instants(date(2027, 3, 2), t("09:00"), t("09:00"), True)
    assert ends - starts == timedelta(hours=24)
    with pytest.raises(TimesheetError, match="longer than 24 hours"):
        shift_instants(date(2027, 3, 2), t("09:00"), t("09:01"), True)


def test_a_break_as_long_as_the_shift_is_refused(money_app):
    with money_app.app_context():
        employment = employ(new_pa(), person("Amina", "Patel"))
        ts = sheet(employment, date(2027, 3, 1))
        for brk in (120, 121, 600):
            with pytest.raises(TimesheetError, match="break must be shorter than the shift") as refused:
                add(ts, date(2027, 3, 2), "09:00", "11:00", brk=brk)
            assert refused.value.field == "break_minutes"
        with pytest.raises(TimesheetError, match="cannot be negative"):
            add(ts, date(2027, 3, 2), "09:00", "11:00", brk=-5)
        assert add(ts, date(2027, 3, 2), "09:00", "11:00", brk=119).minutes == 1


def test_a_time_the_clocks_skipped_is_refused():
    # 29 March 2026: at 01:00 the clocks went forward to 02:00.
    with pytest.raises(TimesheetError, match="clocks went forward on 29 March 2026") as refused:
        shift_instants(date(2026, 3, 29), t("01:30"), t("08:00"), False)
    assert refused.value.field == "start_time"
    with pytest.raises(TimesheetError, match="01:30 did not happen") as refused:
        shift_instants(date(2026, 3, 28), t("22:00"), t("01:30"), True)
    assert refused.value.field == "end_time"


def test_the_night_the_clocks_go_forward_is_an_hour_shorter(money_app):
    with money_app.app_context():
        employment = employ(new_pa(), person("Amina", "Patel"))
        ts = sheet(employment, date(2026, 3, 28))
        shift = add(ts, date(2026, 3, 28), "22:00", "06:00", next_day=True)
        assert shift.minutes == 7 * 60
        assert ts_service.totals(ts).pay[RateType.DAY] == 7 * 1400


def test_the_night_the_clocks_go_back_is_an_hour_longer(money_app):
    with money_app.app_context():
        employment = employ(new_pa(), person("Amina", "Patel"))
        ts = sheet(employment, date(2026, 10, 24))
        shift = add(ts, date(2026, 10, 24), "22:00", "06:00", next_day=True)
        assert shift.minutes == 9 * 60
        # 01:30 happens twice that night; it is accepted (the first time).
        starts, ends = shift_instants(date(2026, 10, 25), t("01:30"), t("03:00"), False)
        assert (ends - starts) >= timedelta(minutes=90)


def test_a_daytime_shift_on_a_clock_change_day_is_unaffected():
    starts, ends = shift_instants(date(2026, 3, 29), t("09:00"), t("17:00"), False)
    assert ends - starts == timedelta(hours=8)
    starts, ends = shift_instants(date(2026, 10, 25), t("09:00"), t("17:00"), False)
    assert ends - starts == timedelta(hours=8)


def test_leap_day_is_a_working_day_like_any_other(money_app):
    with money_app.app_context():
        employment = employ(new_pa(), person("Amina", "Patel"))
        ts = sheet(employment, date(2028, 2, 29))
        assert (ts.period_start, ts.period_end) == (date(2028, 2, 28), date(2028, 3, 5))
        day = add(ts, date(2028, 2, 29), "09:00", "17:00", brk=30)
        night = add(ts, date(2028, 2, 28), "22:00", "06:00", next_day=True)
        assert day.minutes == 450 and night.minutes == 480
        assert night.ends_at.astimezone(LONDON).date() == date(2028, 2, 29)
        monthly = employ(new_pa("Leap", "Month"), person("Amina", "Patel"), pay_period=PayPeriod.MONTHLY)
        feb = sheet(monthly, date(2028, 2, 29))
        assert (feb.period_start, feb.period_end) == (date(2028, 2, 1), date(2028, 2, 29))
        assert add(feb, date(2028, 2, 29), "20:00", "02:00", next_day=True).minutes == 360


def test_a_shift_outside_the_period_is_refused(money_app):
    with money_app.app_context():
        employment = employ(new_pa(), person("Amina", "Patel"))
        ts = sheet(employment, date(2027, 3, 3))  # Monday 1 to Sunday 7 March 2027
        for day in (date(2027, 2, 28), date(2027, 3, 8)):
            with pytest.raises(TimesheetError, match="in this timesheet's period") as refused:
                add(ts, day, "09:00", "12:00")
            assert refused.value.field == "work_date"
        # The last day of the period may run past midnight into the next period.
        assert add(ts, date(2027, 3, 7), "22:00", "02:00", next_day=True).minutes == 240


def test_a_shift_outside_the_employment_dates_is_warned(money_app):
    with money_app.app_context():
        employment = employ(new_pa(), person("Amina", "Patel"), start_date=date(2027, 3, 3), end_date=date(2027, 3, 5))
        ts = sheet(employment, date(2027, 3, 3))
        before = add(ts, date(2027, 3, 2), "09:00", "12:00")
        first = add(ts, date(2027, 3, 3), "09:00", "12:00")
        last = add(ts, date(2027, 3, 5), "09:00", "12:00")
        after = add(ts, date(2027, 3, 6), "09:00", "12:00")
        warned = codes(ts_service.check(ts, now=FAR_FUTURE), "outside_employment")
        assert {w.shift_id for w in warned} == {before.id, after.id}
        assert first.id not in {w.shift_id for w in warned} and last.id not in {w.shift_id for w in warned}
        assert "3 March 2027 to 5 March 2027" in warned[0].message


def test_a_shift_that_has_not_happened_yet_is_warned(money_app):
    with money_app.app_context():
        employment = employ(new_pa(), person("Amina", "Patel"))
        ts = sheet(employment, date(2027, 3, 3))
        shift = add(ts, date(2027, 3, 3), "09:00", "12:00")
        just_before = datetime(2027, 3, 3, 8, 59, tzinfo=UTC)
        warned = codes(ts_service.check(ts, now=just_before), "future")
        assert [w.shift_id for w in warned] == [shift.id]
        assert "has not happened yet" in warned[0].message
        assert codes(ts_service.check(ts, now=datetime(2027, 3, 3, 9, 0, tzinfo=UTC)), "future") == []


# Minimum wage ---------------------------------------------------------------------------------------


def test_the_minimum_wage_changes_on_1_april(money_app):
    with money_app.app_context():
        employment = employ(new_pa(), person("Amina", "Patel"), day_rate_pence=1250)
        ts = sheet(employment, date(2026, 3, 31))  # Monday 30 March to Sunday 5 April 2026
        old = add(ts, date(2026, 3, 31), "09:00", "12:00")
        new = add(ts, date(2026, 4, 1), "09:00", "12:00")
        warned = codes(ts_service.check(ts, now=FAR_FUTURE), "minimum_wage")
        assert [w.shift_id for w in warned] == [new.id]
        assert old.id not in {w.shift_id for w in warned}
        assert "£12.50" in warned[0].message and "£12.71" in warned[0].message
        assert "1 April 2026" in warned[0].message and "21 and over" in warned[0].message


def test_night_and_weekend_rates_are_checked_too(money_app):
    with money_app.app_context():
        employment = employ(new_pa(), person("Amina", "Patel"), day_rate_pence=1300, night_rate_pence=1200,
                            weekend_rate_pence=None)
        ts = sheet(employment, date(2026, 6, 10))
        night = add(ts, date(2026, 6, 10), "22:00", "06:00", next_day=True, rate=RateType.NIGHT)
        add(ts, date(2026, 6, 13), "09:00", "12:00", rate=RateType.WEEKEND)  # falls back to the day rate: fine
        warned = codes(ts_service.check(ts, now=FAR_FUTURE), "minimum_wage")
        assert [w.shift_id for w in warned] == [night.id]
        assert "night rate of £12.00" in warned[0].message


def test_a_pa_who_turns_21_mid_period_moves_band_on_their_birthday(money_app):
    with money_app.app_context():
        # Born 10 June 2005: 20 on Tuesday 9 June 2026, 21 on Wednesday 10 June.
        employment = employ(new_pa(), person("Amina", "Patel"), day_rate_pence=1100, pa_date_of_birth=date(2005, 6, 10))
        ts = sheet(employment, date(2026, 6, 9))
        aged_20 = add(ts, date(2026, 6, 9), "09:00", "12:00")
        aged_21 = add(ts, date(2026, 6, 10), "09:00", "12:00")
        warned = codes(ts_service.check(ts, now=FAR_FUTURE), "minimum_wage")
        assert [w.shift_id for w in warned] == [aged_21.id]
        assert "21 and over, £12.71" in warned[0].message
        assert aged_20.id not in {w.shift_id for w in warned}


def test_the_18_to_20_band_is_10_85_from_april_2026(money_app):
    with money_app.app_context():
        employment = employ(new_pa(), person("Amina", "Patel"), day_rate_pence=1085, pa_date_of_birth=date(2006, 1, 1))
        ts = sheet(employment, date(2026, 6, 9))
        add(ts, date(2026, 6, 9), "09:00", "12:00")
        assert codes(ts_service.check(ts, now=FAR_FUTURE), "minimum_wage") == []
        employment.day_rate_pence = 1084
        db.session.flush()
        warned = codes(ts_service.check(ts, now=FAR_FUTURE), "minimum_wage")
        assert len(warned) == 1
        assert "aged 18 to 20, £10.85" in warned[0].message and "£10.84" in warned[0].message
        assert "date of birth is not recorded" not in warned[0].message


def test_the_16_and_17_band(money_app):
    with money_app.app_context():
        employment = employ(new_pa(), person("Amina", "Patel"), day_rate_pence=799, pa_date_of_birth=date(2009, 1, 1))
        ts = sheet(employment, date(2026, 6, 9))
        add(ts, date(2026, 6, 9), "09:00", "12:00")
        warned = codes(ts_service.check(ts, now=FAR_FUTURE), "minimum_wage")
        assert len(warned) == 1 and "16 and 17, £8.00" in warned[0].message


def test_a_pa_born_on_leap_day_turns_21_on_1_march_in_a_common_year():
    assert ts_service.age_on(date(2008, 2, 29), date(2029, 2, 28)) == 20
    assert ts_service.age_on(date(2008, 2, 29), date(2029, 3, 1)) == 21
    assert ts_service.age_on(date(2008, 2, 29), date(2028, 2, 29)) == 20
    assert ts_service.minimum_wage_band(date(2008, 2, 29), date(2029, 2, 28))[0] == "minimum_wage.18_to_20"
    assert ts_service.minimum_wage_band(date(2008, 2, 29), date(2029, 3, 1))[0] == "minimum_wage.21_and_over"


def test_adding_a_rates_row_changes_the_warning(money_app):
    with money_app.app_context():
        employment = employ(new_pa(), person("Amina", "Patel"), day_rate_pence=1280)
        ts = sheet(employment, date(2026, 9, 30))  # Monday 28 September to Sunday 4 October 2026
        add(ts, date(2026, 9, 30), "09:00", "12:00")
        october = add(ts, date(2026, 10, 1), "09:00", "12:00")
        assert codes(ts_service.check(ts, now=FAR_FUTURE), "minimum_wage") == []
        db.session.add(NationalRate(key="minimum_wage.21_and_over", label="National Living Wage (test)",
                                    effective_from=date(2026, 10, 1), value=1300, unit="pence per hour"))
        db.session.flush()
        warned = codes(ts_service.check(ts, now=FAR_FUTURE), "minimum_wage")
        assert [w.shift_id for w in warned] == [october.id]
        assert "£13.00" in warned[0].message


def test_correcting_a_rates_row_changes_the_warning(money_app):
    with money_app.app_context():
        employment = employ(new_pa(), person("Amina", "Patel"), day_rate_pence=1250)
        ts = sheet(employment, date(2026, 4, 1))
        add(ts, date(2026, 4, 1), "09:00", "12:00")
        assert len(codes(ts_service.check(ts, now=FAR_FUTURE), "minimum_wage")) == 1
        row = db.session.scalar(sa.select(NationalRate).where(NationalRate.key == "minimum_wage.21_and_over",
                                                              NationalRate.effective_from == date(2026, 4, 1)))
        row.value = 1240
        db.session.flush()
        assert codes(ts_service.check(ts, now=FAR_FUTURE), "minimum_wage") == []


def test_an_unknown_date_of_birth_uses_the_adult_rate_and_says_so(money_app):
    with money_app.app_context():
        employment = employ(new_pa(), person("Amina", "Patel"), day_rate_pence=1100, pa_date_of_birth=None)
        ts = sheet(employment, date(2026, 6, 9))
        add(ts, date(2026, 6, 9), "09:00", "12:00")
        warned = codes(ts_service.check(ts, now=FAR_FUTURE), "minimum_wage")
        assert len(warned) == 1
        assert "£12.71" in warned[0].message
        assert "date of birth is not recorded, so the adult rate applies" in warned[0].message


def test_sleep_ins_are_not_checked_against_the_hourly_minimum(money_app):
    with money_app.app_context():
        employment = employ(new_pa(), person("Amina", "Patel"), day_rate_pence=1300, sleep_in_pence=5000)
        ts = sheet(employment, date(2026, 6, 9))
        add(ts, date(2026, 6, 9), "22:00", "07:00", next_day=True, rate=RateType.SLEEP_IN)
        assert codes(ts_service.check(ts, now=FAR_FUTURE), "minimum_wage") == []
        assert ts_service.totals(ts).pay[RateType.SLEEP_IN] == 5000


# Overlaps -------------------------------------------------------------------------------------------


def test_overlapping_shifts_on_one_timesheet(money_app):
    with money_app.app_context():
        employment = employ(new_pa(), person("Amina", "Patel"))
        ts = sheet(employment, date(2027, 3, 3))
        first = add(ts, date(2027, 3, 3), "09:00", "13:00")
        second = add(ts, date(2027, 3, 3), "12:00", "15:00")
        adjacent = add(ts, date(2027, 3, 3), "15:00", "17:00")  # starts as the other ends: no overlap
        warned = codes(ts_service.check(ts, now=FAR_FUTURE), "overlap")
        assert len(warned) == 1
        assert warned[0].shift_id in (first.id, second.id) and warned[0].shift_id != adjacent.id
        assert "on this timesheet" in warned[0].message


def test_a_night_shift_overlaps_the_next_mornings_shift(money_app):
    with money_app.app_context():
        employment = employ(new_pa(), person("Amina", "Patel"))
        ts = sheet(employment, date(2027, 3, 3))
        add(ts, date(2027, 3, 3), "22:00", "07:00", next_day=True)
        add(ts, date(2027, 3, 4), "06:30", "09:00")
        assert len(codes(ts_service.check(ts, now=FAR_FUTURE), "overlap")) == 1


def sophie_for_grace(**fields) -> tuple[Employment, Employment]:
    """Sophie's employment by Amina (from the demo) and a second one by Grace, made for the test."""
    sophie = person("Sophie", "Clarke")
    amina_job = db.session.scalar(sa.select(Employment).where(Employment.pa_id == sophie.id,
                                                              Employment.employer_id == person("Amina", "Patel").id))
    grace_job = employ(sophie, person("Grace", "Okafor"), **fields)
    return amina_job, grace_job


def test_an_overlap_with_another_employer_does_not_name_them(money_app):
    with money_app.app_context():
        amina_job, grace_job = sophie_for_grace()
        for_amina = sheet(amina_job, date(2028, 3, 6))
        for_grace = sheet(grace_job, date(2028, 3, 6))
        add(for_amina, date(2028, 3, 6), "09:00", "14:00")
        mine = add(for_grace, date(2028, 3, 6), "13:00", "16:00")
        warned = codes(ts_service.check(for_grace, now=FAR_FUTURE), "overlap")
        assert [w.shift_id for w in warned] == [mine.id]
        message = warned[0].message
        assert "for another employer" in message and "09:00" in message
        for name in ("Amina", "Patel"):
            assert name not in message
        # Amina sees it from her side too, without Grace's name.
        other = codes(ts_service.check(for_amina, now=FAR_FUTURE), "overlap")
        assert len(other) == 1 and "Grace" not in other[0].message and "Okafor" not in other[0].message


def test_an_overnight_shift_for_one_employer_overlaps_the_morning_for_another(money_app):
    with money_app.app_context():
        amina_job, grace_job = sophie_for_grace()
        for_amina = sheet(amina_job, date(2028, 3, 6))
        add(for_amina, date(2028, 3, 7), "22:00", "07:00", next_day=True)
        for_grace = sheet(grace_job, date(2028, 3, 8))
        add(for_grace, date(2028, 3, 8), "06:00", "08:00")
        assert len(codes(ts_service.check(for_grace, now=FAR_FUTURE), "overlap")) == 1
        # A shift that starts as the night ends does not overlap.
        ts_service.remove_shift(for_grace, for_grace.shifts[0].id, for_grace.version)
        add(for_grace, date(2028, 3, 8), "07:00", "08:00")
        assert codes(ts_service.check(for_grace, now=FAR_FUTURE), "overlap") == []


def test_a_correction_does_not_overlap_with_the_timesheet_it_corrects(money_app):
    with money_app.app_context():
        amina = user("amina@example.org")
        employment = employ(new_pa(), person("Amina", "Patel"))
        original = sheet(employment, date(2026, 3, 4), amina)
        add(original, date(2026, 3, 4), "09:00", "13:00")
        approved(original, amina)
        correction = ts_service.start_correction(original, amina)
        assert codes(ts_service.check(correction, now=FAR_FUTURE), "overlap") == []
        assert codes(ts_service.check(original, now=FAR_FUTURE), "overlap") == []
        # ...nor are its hours counted twice towards the working-time limits.
        add(correction, date(2026, 3, 4), "13:00", "22:00")  # 4 + 9 = 13 hours, under 16
        assert codes(ts_service.check(correction, now=FAR_FUTURE), "long_day") == []


# Working time ---------------------------------------------------------------------------------------


def test_more_than_16_hours_in_a_day_across_employers(money_app):
    with money_app.app_context():
        amina_job, grace_job = sophie_for_grace()
        for_amina = sheet(amina_job, date(2028, 3, 7))
        for_grace = sheet(grace_job, date(2028, 3, 7))
        add(for_amina, date(2028, 3, 7), "06:00", "14:00")
        add(for_grace, date(2028, 3, 7), "14:00", "22:00")  # exactly 16 hours: allowed
        assert codes(ts_service.check(for_grace, now=FAR_FUTURE), "long_day") == []
        ts_service.remove_shift(for_grace, for_grace.shifts[0].id, for_grace.version)
        add(for_grace, date(2028, 3, 7), "14:00", "22:30")
        warned = codes(ts_service.check(for_grace, now=FAR_FUTURE), "long_day")
        assert len(warned) == 1
        assert "16 hours 30 minutes" in warned[0].message and "Tuesday 7 March 2028" in warned[0].message
        assert "across all employers" in warned[0].message
        assert "Amina" not in warned[0].message
        assert len(codes(ts_service.check(for_amina, now=FAR_FUTURE), "long_day")) == 1


def test_more_than_48_hours_in_a_week_across_employers_unless_opted_out(money_app):
    with money_app.app_context():
        amina_job, grace_job = sophie_for_grace()
        for_amina = sheet(amina_job, date(2028, 3, 13))
        for_grace = sheet(grace_job, date(2028, 3, 13))  # Monday 13 to Sunday 19 March 2028
        for offset in range(5):
            add(for_amina, date(2028, 3, 13) + timedelta(days=offset), "09:00", "17:00")  # 40 hours
        add(for_grace, date(2028, 3, 18), "09:00", "17:00")  # 48: at the limit
        assert codes(ts_service.check(for_grace, now=FAR_FUTURE), "long_week") == []
        add(for_grace, date(2028, 3, 19), "09:00", "10:00")  # 49
        warned = codes(ts_service.check(for_grace, now=FAR_FUTURE), "long_week")
        assert len(warned) == 1
        assert "49 hours" in warned[0].message and "week starting 13 March 2028" in warned[0].message
        grace_job.working_time_opt_out = True
        db.session.flush()
        assert codes(ts_service.check(for_grace, now=FAR_FUTURE), "long_week") == []


def test_the_working_week_is_monday_to_sunday_even_across_monthly_periods(money_app):
    with money_app.app_context():
        employment = employ(new_pa(), person("Amina", "Patel"), pay_period=PayPeriod.MONTHLY)
        june = sheet(employment, date(2027, 6, 28))
        july = sheet(employment, date(2027, 7, 1))
        # Monday 28 June to Sunday 4 July 2027: 2 x 12 hours in June's timesheet, 2 x 12 in July's, 1 more hour.
        add(june, date(2027, 6, 28), "08:00", "20:00")
        add(june, date(2027, 6, 29), "08:00", "20:00")
        add(july, date(2027, 7, 1), "08:00", "20:00")
        add(july, date(2027, 7, 2), "08:00", "20:00")
        assert codes(ts_service.check(july, now=FAR_FUTURE), "long_week") == []
        add(july, date(2027, 7, 4), "08:00", "09:00")
        assert len(codes(ts_service.check(july, now=FAR_FUTURE), "long_week")) == 1
        # June's timesheet sees the same week, July's shifts included.
        assert len(codes(ts_service.check(june, now=FAR_FUTURE), "long_week")) == 1


# Close family ---------------------------------------------------------------------------------------


@pytest.mark.parametrize("relationship, same_household, agreed, warned", [
    (Relationship.PARTNER, False, False, True),           # a partner wherever they live
    (Relationship.PARTNER, True, False, True),
    (Relationship.PARENT, True, False, True),             # a parent in the same household
    (Relationship.SIBLING, True, False, True),
    (Relationship.PARENT, False, False, False),           # a parent living elsewhere may be paid
    (Relationship.PARENT, True, True, False),             # the council agreed it is necessary
    (Relationship.PARTNER, False, True, False),
    (Relationship.OTHER_RELATIVE, True, False, False),    # a cousin is not close family
    (Relationship.NONE, True, False, False),
])
def test_close_family(money_app, relationship, same_household, agreed, warned):
    with money_app.app_context():
        employment = employ(new_pa("Rita", "Patel"), person("Amina", "Patel"), relationship_to_employer=relationship,
                            same_household=same_household, council_agreed_on=date(2026, 1, 5) if agreed else None)
        ts = sheet(employment, date(2027, 3, 3))
        found = codes(ts_service.check(ts, now=FAR_FUTURE), "close_family")
        assert bool(found) == warned
        if warned:
            assert not found[0].for_pa
            assert "no agreement is recorded" in found[0].message
            assert ("living in the same household" in found[0].message) == same_household


# The support plan's hours -----------------------------------------------------------------------------


def test_hours_beyond_the_support_plan_warn_the_employer_only(money_app):
    with money_app.app_context():
        grace = person("Grace", "Okafor")
        sophie_user, grace_user = user("sophie.pa@example.org"), user("grace@example.org")
        _, grace_job = sophie_for_grace()
        day = london_today() - timedelta(days=21)
        ts = sheet(grace_job, day, sophie_user)
        assert ts_service.plan_hours_per_week(grace.id, ts.period_start) == Decimal(8)  # Grace's plan: 8 PA hours a week
        monday = ts.period_start
        add(ts, monday, "18:00", "22:00")
        add(ts, monday + timedelta(days=2), "18:00", "22:00")  # 8 hours: as planned
        assert codes(ts_service.check(ts), "plan_hours") == []
        add(ts, monday + timedelta(days=4), "18:00", "19:00")  # 9 hours
        warnings = ts_service.check(ts)
        plan = codes(warnings, "plan_hours")
        assert len(plan) == 1 and not plan[0].for_pa
        assert "9 hours" in plan[0].message and "8 hours" in plan[0].message
        assert "plan_hours" not in codes(ts_service.visible_warnings(sophie_user, warnings))
        assert "plan_hours" in codes(ts_service.visible_warnings(grace_user, warnings))


def test_the_plan_counts_every_pas_submitted_hours_but_not_sleep_ins(money_app):
    with money_app.app_context():
        grace = person("Grace", "Okafor")
        grace_user = user("grace@example.org")
        day = london_today() - timedelta(days=21)
        first = sheet(employ(new_pa("First", "Pa"), grace, sleep_in_pence=6000), day, grace_user)
        second = sheet(employ(new_pa("Second", "Pa"), grace), day, grace_user)
        monday = first.period_start
        add(first, monday, "09:00", "12:00")  # 3 hours
        add(first, monday + timedelta(days=1), "22:00", "07:00", next_day=True, rate=RateType.SLEEP_IN)  # not hours of care
        add(second, monday + timedelta(days=3), "09:00", "15:00")  # 6 more: 9 hours
        # A draft from another PA does not count yet.
        assert codes(ts_service.check(second), "plan_hours") == []
        submitted(first, grace_user)
        assert len(codes(ts_service.check(second), "plan_hours")) == 1
        ts_service.remove_shift(second, second.shifts[0].id, second.version)
        add(second, monday + timedelta(days=3), "09:00", "14:00")  # 3 + 5 = 8 hours, the sleep-in not counted
        assert codes(ts_service.check(second), "plan_hours") == []


def test_a_pa_sees_only_the_warnings_meant_for_them(money_app):
    with money_app.app_context():
        sophie_user = user("sophie.pa@example.org")
        _, grace_job = sophie_for_grace(relationship_to_employer=Relationship.PARTNER, day_rate_pence=1000)
        ts = sheet(grace_job, date(2027, 3, 3), sophie_user)
        add(ts, date(2027, 3, 3), "09:00", "12:00")
        everything = ts_service.check(ts, now=FAR_FUTURE)
        assert {"close_family", "minimum_wage"} <= set(codes(everything))
        mine = codes(ts_service.visible_warnings(sophie_user, everything))
        assert "close_family" not in mine and "minimum_wage" in mine


# Submitting, approving, sending back ----------------------------------------------------------------


def notification_count() -> int:
    return db.session.scalar(sa.select(sa.func.count()).select_from(Notification))


def test_submitting_twice_is_harmless(money_app):
    with money_app.app_context():
        amina = user("amina@example.org")
        employment = employ(new_pa(), person("Amina", "Patel"))
        ts = sheet(employment, date(2026, 3, 4), amina)
        add(ts, date(2026, 3, 4), "09:00", "12:00")
        version = ts.version
        assert ts_service.submit(ts, amina, version) is True
        after = (ts.status, ts.version, ts.submitted_at, notification_count())
        # The double-click, or the form resubmitted with the version it was drawn from.
        assert ts_service.submit(ts, amina, version) is False
        db.session.refresh(ts)
        assert (ts.status, ts.version, ts.submitted_at, notification_count()) == after
        assert ts.status == TimesheetStatus.SUBMITTED


def test_a_stale_second_tab_changes_nothing(money_app):
    with money_app.app_context():
        amina = user("amina@example.org")
        employment = employ(new_pa(), person("Amina", "Patel"))
        ts = sheet(employment, date(2026, 3, 4), amina)
        drawn = ts.version  # both tabs opened now
        add(ts, date(2026, 3, 4), "09:00", "12:00", version=drawn)  # the first tab
        current = ts.version
        with pytest.raises(StaleTimesheet):
            add(ts, date(2026, 3, 5), "09:00", "12:00", version=drawn)  # the second tab
        with pytest.raises(StaleTimesheet):
            ts_service.submit(ts, amina, drawn)
        with pytest.raises(StaleTimesheet):
            ts_service.remove_shift(ts, ts.shifts[0].id, drawn)
        db.session.expire_all()
        assert len(ts.shifts) == 1 and ts.version == current and ts.status == TimesheetStatus.DRAFT


def test_approval_expects_the_gross_pay_once_on_the_pay_date(money_app):
    with money_app.app_context():
        amina = user("amina@example.org")
        employment = employ(new_pa(), person("Amina", "Patel"))
        ts = sheet(employment, date(2026, 3, 4), amina)
        add(ts, date(2026, 3, 4), "09:00", "12:30")  # 3.5 hours at £14.00 = £49.00
        submitted(ts, amina)
        drawn = ts.version
        assert ts_service.approve(ts, amina, drawn) is True
        period = ts_service.period_of(ts)
        items = db.session.scalars(sa.select(ExpectedItem).where(ExpectedItem.key == f"timesheet:{ts.id}")).all()
        assert len(items) == 1
        assert items[0].amount_pence == -4900 and ts.gross_pence == 4900
        assert items[0].due_date == period.pay_date == date(2026, 3, 13)  # week to Sunday 8 March, 5 working days
        assert items[0].kind == ExpectedKind.TIMESHEET and items[0].status == ExpectedStatus.OPEN
        assert items[0].account_id == ts_service.employer_account_id(ts.employer_id)
        assert ts.status == TimesheetStatus.APPROVED and ts.approved_by_id == amina.id and ts.is_locked
        # Approving again from the same page changes nothing.
        assert ts_service.approve(ts, amina, drawn) is False
        assert db.session.scalar(sa.select(sa.func.count()).select_from(ExpectedItem)
                                 .where(ExpectedItem.key == f"timesheet:{ts.id}")) == 1


def test_only_a_submitted_timesheet_is_approved(money_app):
    with money_app.app_context():
        amina = user("amina@example.org")
        employment = employ(new_pa(), person("Amina", "Patel"))
        ts = sheet(employment, date(2026, 3, 4), amina)
        add(ts, date(2026, 3, 4), "09:00", "12:00")
        with pytest.raises(TimesheetError, match="Only a timesheet waiting for approval"):
            ts_service.approve(ts, amina, ts.version)
        assert item(ts) is None
        with pytest.raises(TimesheetError, match="at least one shift"):
            ts_service.submit(sheet(employment, date(2026, 3, 11), amina), amina, 1)


def test_sending_back_needs_a_reason(money_app):
    with money_app.app_context():
        amina = user("amina@example.org")
        employment = employ(new_pa(), person("Amina", "Patel"))
        ts = sheet(employment, date(2026, 3, 4), amina)
        add(ts, date(2026, 3, 4), "09:00", "12:00")
        submitted(ts, amina)
        version = ts.version
        for reason in ("", "   ", None):
            with pytest.raises(TimesheetError, match="Say what needs to change") as refused:
                ts_service.send_back(ts, amina, reason, version)
            assert refused.value.field == "reason"
        db.session.refresh(ts)
        assert ts.status == TimesheetStatus.SUBMITTED and ts.version == version
        assert ts_service.send_back(ts, amina, "  Wednesday was 9 to 1  ", version) is True
        assert ts.status == TimesheetStatus.SENT_BACK and ts.sent_back_reason == "Wednesday was 9 to 1"
        assert ts_service.send_back(ts, amina, "again", version) is False  # double-click
        # Sent back, it can be put right and submitted again.
        add(ts, date(2026, 3, 5), "09:00", "12:00")
        submitted(ts, amina)
        assert ts.sent_back_reason == ""


def test_an_approved_timesheet_is_locked(money_app):
    with money_app.app_context():
        amina = user("amina@example.org")
        employment = employ(new_pa(), person("Amina", "Patel"))
        ts = sheet(employment, date(2026, 3, 4), amina)
        shift = add(ts, date(2026, 3, 4), "09:00", "12:00")
        approved(ts, amina)
        version = ts.version
        with pytest.raises(TimesheetError, match="approved and locked"):
            add(ts, date(2026, 3, 5), "09:00", "12:00")
        with pytest.raises(TimesheetError, match="approved and locked"):
            ts_service.remove_shift(ts, shift.id, ts.version)
        with pytest.raises(TimesheetError, match="approved and locked"):
            ts_service.add_claim(ts, ClaimKind.MILEAGE, date(2026, 3, 4), "Trip", ts.version, miles=Decimal(3))
        with pytest.raises(TimesheetError):
            ts_service.send_back(ts, amina, "too late", ts.version)
        db.session.expire_all()
        assert len(ts.shifts) == 1 and ts.claims == [] and ts.version == version and ts.status == TimesheetStatus.APPROVED
        # A submitted (not yet approved) one cannot be edited either.
        other = sheet(employment, date(2026, 3, 11), amina)
        add(other, date(2026, 3, 11), "09:00", "12:00")
        submitted(other, amina)
        with pytest.raises(TimesheetError, match="changed if the employer sends it back"):
            add(other, date(2026, 3, 12), "09:00", "12:00")


# Corrections ----------------------------------------------------------------------------------------


def approved_week(amina: User) -> Timesheet:
    """Monday 2 to Sunday 8 March 2026: three mornings, 9 to 1 (12 hours at £14.00 = £168.00)."""
    employment = employ(new_pa(), person("Amina", "Patel"))
    ts = sheet(employment, date(2026, 3, 2), amina)
    for day in (2, 3, 4):
        add(ts, date(2026, 3, day), "09:00", "13:00")
    return approved(ts, amina)


def test_a_correction_copies_the_shifts_and_is_made_once(money_app):
    with money_app.app_context():
        amina = user("amina@example.org")
        original = approved_week(amina)
        correction = ts_service.start_correction(original, amina)
        assert correction.id != original.id and correction.corrects_id == original.id
        assert correction.revision == original.revision + 1 and correction.status == TimesheetStatus.DRAFT
        assert [(s.work_date, s.start_time, s.end_time, s.minutes) for s in correction.shifts] == \
            [(s.work_date, s.start_time, s.end_time, s.minutes) for s in original.shifts]
        assert ts_service.start_correction(original, amina).id == correction.id  # a second click
        assert db.session.scalar(sa.select(sa.func.count()).select_from(Timesheet)
                                 .where(Timesheet.corrects_id == original.id)) == 1
        assert ts_service.changes(correction) == []
        assert original.status == TimesheetStatus.APPROVED  # until the correction is approved


def test_only_an_approved_timesheet_is_corrected(money_app):
    with money_app.app_context():
        amina = user("amina@example.org")
        ts = sheet(employ(new_pa(), person("Amina", "Patel")), date(2026, 3, 4), amina)
        with pytest.raises(TimesheetError, match="Only an approved timesheet is corrected"):
            ts_service.start_correction(ts, amina)


def test_changes_lists_what_a_correction_changed(money_app):
    with money_app.app_context():
        amina = user("amina@example.org")
        original = approved_week(amina)
        correction = ts_service.start_correction(original, amina)
        by_day = {s.work_date: s for s in correction.shifts}
        ts_service.remove_shift(correction, by_day[date(2026, 3, 3)].id, correction.version)
        add(correction, date(2026, 3, 3), "09:00", "14:00")           # Tuesday: changed
        ts_service.remove_shift(correction, by_day[date(2026, 3, 4)].id, correction.version)  # Wednesday: removed
        add(correction, date(2026, 3, 5), "22:00", "06:00", next_day=True)  # Thursday night: added
        found = {(c.what, c.before, c.after) for c in ts_service.changes(correction)}
        assert found == {
            ("changed", "Tue 3 Mar 09:00–13:00, day", "Tue 3 Mar 09:00–14:00, day"),
            ("removed", "Wed 4 Mar 09:00–13:00, day", ""),
            ("added", "", "Thu 5 Mar 22:00–06:00 (next day), day"),
            ("total", "£168.00", "£238.00"),  # 4 + 5 + 8 = 17 hours
        }


def test_approving_a_correction_replaces_the_original_and_its_expected_pay(money_app):
    with money_app.app_context():
        amina = user("amina@example.org")
        original = approved_week(amina)
        before = item(original)
        assert before.status == ExpectedStatus.OPEN and before.amount_pence == -16800
        correction = ts_service.start_correction(original, amina)
        add(correction, date(2026, 3, 6), "09:00", "11:00")  # 2 more hours: £196.00
        approved(correction, amina)
        db.session.refresh(original)
        db.session.refresh(before)
        assert original.status == TimesheetStatus.SUPERSEDED
        assert before.status == ExpectedStatus.CANCELLED
        after = item(correction)
        assert after.amount_pence == -19600 and after.status == ExpectedStatus.OPEN
        assert after.due_date == ts_service.period_of(correction).pay_date
        open_total = db.session.scalar(sa.select(sa.func.sum(ExpectedItem.amount_pence)).where(
            ExpectedItem.key.in_([f"timesheet:{original.id}", f"timesheet:{correction.id}"]),
            ExpectedItem.status == ExpectedStatus.OPEN))
        assert open_total == -19600
        employment = original.employment
        assert ts_service.current_for(employment, ts_service.period_of(original)).id == correction.id


def test_a_correction_to_a_paid_timesheet_expects_only_the_difference(money_app):
    with money_app.app_context():
        amina = user("amina@example.org")
        original = approved_week(amina)
        assert ts_service.mark_paid(original, amina, date(2026, 3, 13)) is True
        correction = ts_service.start_correction(original, amina)
        add(correction, date(2026, 3, 6), "09:00", "11:00")  # £28.00 more
        approved(correction, amina)
        assert item(original).status == ExpectedStatus.SETTLED
        assert item(correction).amount_pence == -2800
        assert correction.gross_pence == 19600


# Paying -----------------------------------------------------------------------------------------------


def test_marking_paid_settles_the_expected_pay(money_app):
    with money_app.app_context():
        amina = user("amina@example.org")
        original = approved_week(amina)
        with pytest.raises(TimesheetError, match="cannot be in the future") as refused:
            ts_service.mark_paid(original, amina, london_today() + timedelta(days=1))
        assert refused.value.field == "paid_on"
        with pytest.raises(TimesheetError, match="after the period started"):
            ts_service.mark_paid(original, amina, date(2026, 3, 1))
        assert item(original).status == ExpectedStatus.OPEN and original.paid_on is None
        assert ts_service.mark_paid(original, amina, date(2026, 3, 12)) is True
        assert original.paid_on == date(2026, 3, 12)
        db.session.expire_all()
        assert item(original).status == ExpectedStatus.SETTLED
        assert ts_service.mark_paid(original, amina, date(2026, 3, 13)) is False
        assert original.paid_on == date(2026, 3, 12)


def test_only_an_approved_timesheet_is_marked_paid(money_app):
    with money_app.app_context():
        amina = user("amina@example.org")
        ts = sheet(employ(new_pa(), person("Amina", "Patel")), date(2026, 3, 4), amina)
        add(ts, date(2026, 3, 4), "09:00", "12:00")
        submitted(ts, amina)
        with pytest.raises(TimesheetError, match="Only an approved timesheet"):
            ts_service.mark_paid(ts, amina, date(2026, 3, 12))


# Paper timesheets -------------------------------------------------------------------------------------


def test_a_paper_timesheet_with_totals_from_the_employer_is_approved_at_once(money_app):
    with money_app.app_context():
        amina = user("amina@example.org")
        employment = employ(new_pa(), person("Amina", "Patel"), pay_period=PayPeriod.FOUR_WEEKLY)
        period = ts_service.period_for(employment, date(2026, 3, 4))
        ts = ts_service.record_paper(employment, period, amina, KeyedTotals(day_minutes=600, night_minutes=90))
        assert ts.source == TimesheetSource.PAPER and ts.status == TimesheetStatus.APPROVED
        assert ts.approved_by_id == amina.id and ts.keyed_by_id == amina.id
        assert ts_service.totals(ts).worked_minutes == 690
        assert item(ts).amount_pence == -(10 * 1400 + 21 * 100)  # night falls back to the day rate: 1.5 x £14
        assert item(ts).due_date == period.pay_date
        with pytest.raises(TimesheetError, match="already a timesheet"):
            ts_service.record_paper(employment, period, amina, KeyedTotals(day_minutes=60))


def test_a_paper_timesheet_without_totals_waits_to_be_keyed_in(money_app):
    with money_app.app_context():
        amina, kim = user("amina@example.org"), user("kim@brightpath.example")
        employment = employ(new_pa(), person("Amina", "Patel"), pay_period=PayPeriod.FOUR_WEEKLY)
        period = ts_service.period_for(employment, date(2026, 3, 4))
        ts = ts_service.record_paper(employment, period, amina, None)
        assert ts.status == TimesheetStatus.AWAITING_KEYING and item(ts) is None
        with pytest.raises(TimesheetError, match="Enter the hours"):
            ts_service.key_in(ts, kim, KeyedTotals(), ts.version)
        ts_service.key_in(ts, kim, KeyedTotals(day_minutes=28 * 60), ts.version)
        assert ts.status == TimesheetStatus.APPROVED
        assert ts.keyed_by_id == kim.id and ts.approved_by_id == amina.id  # her upload was her approval
        assert item(ts).amount_pence == -28 * 1400
        with pytest.raises(TimesheetError, match="already been keyed in"):
            ts_service.key_in(ts, kim, KeyedTotals(day_minutes=60), ts.version)


def test_keying_in_from_a_stale_page_changes_nothing(money_app):
    with money_app.app_context():
        amina, kim = user("amina@example.org"), user("kim@brightpath.example")
        employment = employ(new_pa(), person("Amina", "Patel"), pay_period=PayPeriod.FOUR_WEEKLY)
        ts = ts_service.record_paper(employment, ts_service.period_for(employment, date(2026, 3, 4)), amina, None)
        stale = ts.version - 1
        with pytest.raises(StaleTimesheet):
            ts_service.key_in(ts, kim, KeyedTotals(day_minutes=600), stale)
        db.session.expire_all()
        assert ts.status == TimesheetStatus.AWAITING_KEYING
        assert (ts.keyed_day_minutes, ts.keyed_by_id) == (0, None)


def test_a_paper_timesheet_under_a_managed_account_waits_for_the_dpss(money_app):
    with money_app.app_context():
        tom, kim = user("tom@example.org"), user("kim@brightpath.example")
        employment = employ(new_pa(), person("Tom", "Hughes"))
        ts = ts_service.record_paper(employment, ts_service.period_for(employment, date(2026, 3, 4)), tom,
                                     KeyedTotals(day_minutes=300))
        assert ts.status == TimesheetStatus.SUBMITTED and item(ts) is None
        assert ts_service.approve(ts, kim, ts.version)
        assert item(ts).amount_pence == -5 * 1400


# What a timesheet comes to ----------------------------------------------------------------------------


def test_rolled_up_holiday_is_12_07_percent_shown_separately(money_app):
    with money_app.app_context():
        amina = user("amina@example.org")
        employment = employ(new_pa(), person("Amina", "Patel"), day_rate_pence=1300, holiday_method=HolidayMethod.ROLLED_UP)
        ts = sheet(employment, date(2026, 3, 4), amina)
        add(ts, date(2026, 3, 4), "08:00", "18:00")  # 10 hours: £130.00
        figures = ts_service.totals(ts)
        assert figures.pay_pence == 13000
        assert figures.holiday_pence == 1569  # 12.07% of £130.00 = £15.691
        assert figures.gross_pence == 14569
        assert ("Holiday pay (rolled-up, 12.07%)", "", 1569) in figures.rows()
        approved(ts, amina)
        assert item(ts).amount_pence == -14569
        employment.holiday_method = HolidayMethod.ACCRUED
        db.session.flush()
        assert ts_service.totals(ts).holiday_pence == 0  # accrued holiday is not paid with the hours


def test_mileage_is_paid_at_the_employments_pence_per_mile(money_app):
    with money_app.app_context():
        amina = user("amina@example.org")
        employment = employ(new_pa(), person("Amina", "Patel"), mileage_pence_per_mile=30)
        ts = sheet(employment, date(2026, 3, 4), amina)
        add(ts, date(2026, 3, 4), "09:00", "12:00")  # £42.00
        claim = ts_service.add_claim(ts, ClaimKind.MILEAGE, date(2026, 3, 4), "Shopping trip", ts.version, miles=Decimal("12.5"))
        assert claim.amount_pence == 375
        employment.mileage_pence_per_mile = 45
        db.session.flush()
        rounded = ts_service.add_claim(ts, ClaimKind.MILEAGE, date(2026, 3, 5), "Clinic", ts.version, miles=Decimal("10.1"))
        assert rounded.amount_pence == 455  # 454.5 rounds half up
        figures = ts_service.totals(ts)
        assert figures.mileage_pence == 830 and figures.miles == Decimal("22.6")
        assert figures.gross_pence == 4200 + 830 and figures.pay_pence == 4200
        with pytest.raises(TimesheetError, match="Enter the miles"):
            ts_service.add_claim(ts, ClaimKind.MILEAGE, date(2026, 3, 4), "None", ts.version, miles=Decimal(0))
        with pytest.raises(TimesheetError, match="in this timesheet's period"):
            ts_service.add_claim(ts, ClaimKind.MILEAGE, date(2026, 3, 9), "Later", ts.version, miles=Decimal(1))
        with pytest.raises(TimesheetError, match="Add the receipt"):
            ts_service.add_claim(ts, ClaimKind.EXPENSE, date(2026, 3, 4), "Parking", ts.version, amount_pence=450)


def test_night_weekend_and_sleep_in_rates(money_app):
    with money_app.app_context():
        employment = employ(new_pa(), person("Amina", "Patel"), day_rate_pence=1400, night_rate_pence=1500,
                            weekend_rate_pence=1550, sleep_in_pence=9000)
        ts = sheet(employment, date(2026, 3, 4))
        add(ts, date(2026, 3, 4), "09:00", "11:00")
        add(ts, date(2026, 3, 4), "22:00", "02:00", next_day=True, rate=RateType.NIGHT)
        add(ts, date(2026, 3, 7), "09:00", "10:30", rate=RateType.WEEKEND)
        add(ts, date(2026, 3, 5), "22:00", "07:00", next_day=True, rate=RateType.SLEEP_IN)
        figures = ts_service.totals(ts)
        assert dict(figures.pay) == {RateType.DAY: 2800, RateType.NIGHT: 6000, RateType.WEEKEND: 2325, RateType.SLEEP_IN: 9000}
        assert figures.worked_minutes == 120 + 240 + 90 and figures.sleep_ins == 1
        no_sleep_in = employ(new_pa("No", "Sleepin"), person("Amina", "Patel"))
        other = sheet(no_sleep_in, date(2026, 3, 4))
        with pytest.raises(TimesheetError, match="no sleep-in rate") as refused:
            add(other, date(2026, 3, 4), "22:00", "07:00", next_day=True, rate=RateType.SLEEP_IN)
        assert refused.value.field == "rate_type"


# Who may approve ----------------------------------------------------------------------------------------


def test_who_may_approve(money_app):
    with money_app.app_context():
        amina, grace, sam, tom = (person(*n) for n in (("Amina", "Patel"), ("Grace", "Okafor"), ("Sam", "Okafor"),
                                                         ("Tom", "Hughes")))
        users = {key: user(email) for key, email in {
            "amina": "amina@example.org", "sophie": "sophie.pa@example.org", "david": "david@example.org",
            "kim": "kim@brightpath.example", "lee": "lee@brightpath.example", "tom": "tom@example.org",
            "omar": "omar@harbour.example", "grace": "grace@example.org", "rachel": "rachel@northfield.example",
            "admin": "admin@example.org"}.items()}
        sophie_job = db.session.scalar(sa.select(Employment).where(Employment.pa_id == person("Sophie", "Clarke").id,
                                                                   Employment.employer_id == amina.id))
        leon_job = db.session.scalar(sa.select(Employment).where(Employment.pa_id == person("Leon", "Baptiste").id))
        for_amina = sheet(sophie_job, date(2028, 3, 6))
        for_tom = sheet(leon_job, date(2028, 3, 6))
        for_sam = sheet(employ(new_pa("Sam's", "Pa"), sam), date(2028, 3, 6))
        for_grace = sheet(employ(new_pa("Grace's", "Pa"), grace), date(2028, 3, 6))

        def may(who, ts):
            return ts_service.may_approve(users[who], ts)

        assert may("amina", for_amina)
        assert not may("sophie", for_amina)      # the PA themselves
        assert not may("kim", for_amina)         # not managed: the employer approves, not the DPSS
        assert not may("grace", for_amina)       # another employer
        assert not may("omar", for_amina) and not may("rachel", for_amina) and not may("admin", for_amina)
        assert not may("david", for_sam)         # view-level representative
        assert may("kim", for_sam)               # Sam's account is managed by Brightpath
        assert may("kim", for_tom) and may("lee", for_tom)
        assert not may("tom", for_tom)           # under a managed account, the DPSS approves
        assert not may("omar", for_tom)          # another provider's staff
        assert not may("amina", for_tom)
        assert may("david", for_grace) and may("grace", for_grace)
        link = db.session.scalar(sa.select(RepresentativeLink).where(RepresentativeLink.representative_id == users["david"].person_id,
                                                                     RepresentativeLink.recipient_id == grace.id))
        link.level = RepresentativeLevel.VIEW
        db.session.flush()
        assert not may("david", for_grace)       # the same person at view level
        link.level, link.end_date = RepresentativeLevel.MANAGE, london_today() - timedelta(days=1)
        db.session.flush()
        assert not may("david", for_grace)       # an ended link gives nothing


def test_a_pa_cannot_approve_their_own_timesheet_even_as_an_employer(money_app):
    with money_app.app_context():
        # Amina's user is the employer of a timesheet where she is also recorded as the PA.
        amina = person("Amina", "Patel")
        odd = employ(amina, amina)
        ts = sheet(odd, date(2028, 3, 6))
        assert not ts_service.may_approve(user("amina@example.org"), ts)


# Properties -------------------------------------------------------------------------------------------


def _clock_change_nights(day: date) -> bool:
    """The last Sundays of March and October, and the night before them."""
    def last_sunday(year, month):
        d = date(year, month, 31)
        return d - timedelta(days=(d.weekday() + 1) % 7)
    return any(day in (last_sunday(day.year, m), last_sunday(day.year, m) - timedelta(days=1)) for m in (3, 10))


def _transient_sheet(**employment_fields) -> Timesheet:
    employment = Employment(day_rate_pence=1400, night_rate_pence=None, weekend_rate_pence=None, sleep_in_pence=9000,
                            holiday_method=HolidayMethod.ACCRUED, mileage_pence_per_mile=45, **employment_fields)
    return Timesheet(employment=employment, period_start=date(2020, 1, 1), period_end=date(2031, 12, 31),
                     source=TimesheetSource.ONLINE, keyed_day_minutes=0, keyed_night_minutes=0, keyed_weekend_minutes=0,
                     keyed_sleep_ins=0)


SHIFTS = st.tuples(
    st.dates(min_value=date(2024, 1, 1), max_value=date(2030, 12, 31)),
    st.integers(0, 24 * 60 - 1), st.integers(0, 24 * 60 - 1), st.booleans(), st.integers(0, 600),
    st.sampled_from([RateType.DAY, RateType.NIGHT, RateType.WEEKEND, RateType.SLEEP_IN]),
)


def _input(raw) -> ShiftInput:
    day, start, end, next_day, brk, rate = raw
    return ShiftInput(day, time(start // 60, start % 60), time(end // 60, end % 60), next_day, brk, rate)


@settings(max_examples=400, deadline=None)
@given(raw=SHIFTS)
def test_worked_minutes_are_real_elapsed_minutes_less_the_break(raw):
    data = _input(raw)
    ts = _transient_sheet()
    try:
        starts_at, ends_at, minutes = ts_service._checked_shift(ts, data)
    except TimesheetError:
        return  # refused with a message: nothing is stored
    wall = (datetime.combine(data.work_date + timedelta(days=data.ends_next_day), data.end_time)
            - datetime.combine(data.work_date, data.start_time))
    real = ends_at - starts_at
    assert minutes == real.total_seconds() // 60 - data.break_minutes
    assert 0 < minutes <= 24 * 60
    # The real time differs from the clock time only by an hour, and only on a clock-change night.
    assert abs(real - wall) in (timedelta(0), timedelta(hours=1))
    if real != wall:
        assert _clock_change_nights(data.work_date)
    assert starts_at.astimezone(LONDON).replace(tzinfo=None) == datetime.combine(data.work_date, data.start_time)


@settings(max_examples=200, deadline=None)
@given(raws=st.lists(SHIFTS, max_size=8), miles=st.lists(st.decimals(min_value=Decimal("0.1"), max_value=Decimal(500), places=1),
                                                          max_size=3))
def test_totals_add_up_and_never_go_negative(raws, miles):
    ts = _transient_sheet()
    from portal.models import TimesheetClaim
    kept = []
    for raw in raws:
        data = _input(raw)
        try:
            starts_at, ends_at, minutes = ts_service._checked_shift(ts, data)
        except TimesheetError:
            continue
        kept.append(Shift(timesheet=ts, work_date=data.work_date, start_time=data.start_time, end_time=data.end_time,
                          ends_next_day=data.ends_next_day, break_minutes=data.break_minutes, rate_type=data.rate_type,
                          starts_at=starts_at, ends_at=ends_at, minutes=minutes))
    for m in miles:
        TimesheetClaim(timesheet=ts, kind=ClaimKind.MILEAGE, claim_date=date(2026, 1, 1), description="trip", miles=m,
                       amount_pence=ts_service.mileage_pence(ts.employment, m))
    figures = ts_service.totals(ts)
    hourly = [s for s in kept if s.rate_type != RateType.SLEEP_IN]
    assert figures.worked_minutes == sum(s.minutes for s in hourly) >= 0
    assert figures.sleep_ins == len(kept) - len(hourly)
    assert figures.pay_pence >= 0 and figures.mileage_pence >= 0 and figures.gross_pence >= figures.pay_pence
    # Every hourly rate here is £14.00 (night and weekend fall back to the day rate): pay is minutes x 14 / 60, rounded.
    hourly_pay = sum(figures.pay.get(k, 0) for k in (RateType.DAY, RateType.NIGHT, RateType.WEEKEND))
    assert abs(hourly_pay - figures.worked_minutes * 1400 / 60) <= 1.5
    assert figures.gross_pence == figures.pay_pence + figures.mileage_pence
