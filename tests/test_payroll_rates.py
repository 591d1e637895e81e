"""The payroll rates as data (national_rates rows `payroll.*`, migration 0014) and the tax calendar.

Expected figures are rates.md's 2026/27 figures (and the per-period figures the brief sets for
fortnightly and 4-weekly pay), written here by hand; a rate change is shown by adding a row from a
date, as an administrator does on the rates page.
"""

from datetime import date

import pytest
import sqlalchemy as sa

from portal.extensions import db
from portal.models.employing import PayPeriod, PensionStatus
from portal.models.settings import NationalRate
from portal.services import local_settings
from portal.services.payroll_calc import PayInput, calculate
from portal.services.payroll_rates import rate_keys, rates_for, tax_period, tax_year_start


def test_tax_year_start():
    assert tax_year_start(date(2026, 4, 5)) == date(2025, 4, 6)
    assert tax_year_start(date(2026, 4, 6)) == date(2026, 4, 6)
    assert tax_year_start(date(2027, 1, 1)) == date(2026, 4, 6)
    assert tax_year_start(date(2026, 12, 31)) == date(2026, 4, 6)


@pytest.mark.parametrize(
    "pay_date, week",
    [
        (date(2026, 4, 6), 1),
        (date(2026, 4, 12), 1),
        (date(2026, 4, 13), 2),
        # 6 April to 27 November: 30 + 31 + 30 + 31 + 31 + 30 + 31 + 21 = 235 days; 235 // 7 = 33 -> week 34.
        (date(2026, 11, 27), 34),
        (date(2027, 4, 4), 52),  # day 363
        (date(2027, 4, 5), 53),  # day 364: week 53
        (date(2028, 4, 4), 53),  # 2027/28 holds 29 February: 4 and 5 April 2028 are week 53
        (date(2028, 4, 5), 53),
    ],
)
def test_tax_week(pay_date, week):
    for frequency in (PayPeriod.WEEKLY, PayPeriod.FORTNIGHTLY, PayPeriod.FOUR_WEEKLY):
        assert tax_period(pay_date, frequency) == week


@pytest.mark.parametrize(
    "pay_date, month",
    [
        (date(2026, 4, 6), 1),
        (date(2026, 5, 5), 1),
        (date(2026, 5, 6), 2),
        (date(2026, 11, 27), 8),  # 6 November to 5 December
        (date(2026, 12, 5), 8),
        (date(2026, 12, 6), 9),
        (date(2027, 1, 1), 9),
        (date(2027, 1, 6), 10),
        (date(2027, 3, 6), 12),
        (date(2027, 4, 5), 12),
    ],
)
def test_tax_month(pay_date, month):
    assert tax_period(pay_date, PayPeriod.MONTHLY) == month


# (frequency, LEL, PT, ST, UEL, trigger, qualifying lower, qualifying upper), pence, 2026/27.
PER_PERIOD_2026 = [
    (PayPeriod.WEEKLY, 12900, 24200, 9600, 96700, 19200, 12000, 96700),
    (PayPeriod.FORTNIGHTLY, 25800, 48400, 19200, 193400, 38400, 24000, 193400),
    (PayPeriod.FOUR_WEEKLY, 51600, 96800, 38400, 386800, 76800, 48000, 386700),
    (PayPeriod.MONTHLY, 55900, 104800, 41700, 418900, 83300, 52000, 418900),
]


@pytest.mark.parametrize("frequency, lel, pt, st, uel, trigger, lower, upper", PER_PERIOD_2026)
def test_rates_for_2026_27(app, frequency, lel, pt, st, uel, trigger, lower, upper):
    with app.app_context():
        rates = rates_for(date(2026, 11, 27), frequency)
    assert rates.frequency == frequency
    assert rates.tax_periods_in_year == (12 if frequency == PayPeriod.MONTHLY else 52)
    assert (
        rates.lower_earnings_limit_pence,
        rates.primary_threshold_pence,
        rates.secondary_threshold_pence,
        rates.upper_earnings_limit_pence,
    ) == (lel, pt, st, uel)
    assert (rates.pension_trigger_pence, rates.qualifying_lower_pence, rates.qualifying_upper_pence) == (trigger, lower, upper)
    # The same for every frequency: rates.md.
    assert (rates.personal_allowance_pence, rates.basic_band_pence, rates.additional_threshold_pence) == (
        1257000, 3770000, 12514000,
    )  # fmt: skip
    assert (rates.basic_rate_bp, rates.higher_rate_bp, rates.additional_rate_bp) == (2000, 4000, 4500)
    assert rates.emergency_code == "1257L"
    assert (rates.employee_ni_main_bp, rates.employee_ni_upper_bp, rates.employer_ni_bp, rates.employer_ni_under_21_bp) == (
        800, 200, 1500, 0,
    )  # fmt: skip
    assert rates.employment_allowance_pence == 1050000
    assert (rates.pension_employee_bp, rates.pension_employer_bp) == (500, 300)
    assert (rates.ssp_weekly_pence, rates.ssp_earnings_bp, rates.holiday_accrual_bp) == (12325, 8000, 1207)


def test_seeded_rows_have_labels_units_and_sources(app):
    with app.app_context():
        rows = db.session.scalars(sa.select(NationalRate).where(NationalRate.key.like("payroll.%"))).all()
    assert rows
    for row in rows:
        assert row.label and row.source
        assert row.unit in local_settings.RATE_UNITS  # administrators can add rows in the same unit
        assert local_settings.valid_rate_key(row.key)
    labels = {row.key: row.label for row in rows if row.effective_from == date(2026, 4, 6)}
    assert "check" in labels["payroll.ni.primary_threshold.4_weekly"]
    assert "check" in labels["payroll.pension.qualifying_lower.monthly"]
    units = {row.key: row.unit for row in rows}
    assert units["payroll.ni.employer_rate"] == "basis points"
    assert units["payroll.ni.primary_threshold.weekly"] == "pence"


def test_no_rates_before_2026_27_names_the_missing_keys(app):
    # Only the 2025/26 figures that differ are seeded (the lower earnings limits, SSP), so a pay date
    # before 6 April 2026 cannot be worked out.
    with app.app_context(), pytest.raises(LookupError) as error:
        rates_for(date(2026, 4, 5), PayPeriod.WEEKLY)
    assert "payroll.tax.personal_allowance" in str(error.value)
    assert "payroll.ni.lower_earnings_limit.weekly" not in str(error.value)


def test_a_missing_row_is_named(app):
    with app.app_context():
        db.session.execute(sa.delete(NationalRate).where(NationalRate.key == "payroll.ni.primary_threshold.monthly"))
        with pytest.raises(LookupError) as error:
            rates_for(date(2026, 11, 27), PayPeriod.MONTHLY)
        assert "payroll.ni.primary_threshold.monthly" in str(error.value)
        # Weekly pay does not need the monthly row.
        assert rates_for(date(2026, 11, 27), PayPeriod.WEEKLY).primary_threshold_pence == 24200
        db.session.rollback()


def _add(key: str, on: date, value: int) -> None:
    latest = local_settings.latest_rate_row(key)
    local_settings.add_national_rate(key=key, label=latest.label, effective_from=on, value=value, unit=latest.unit, source="test")


def _week1(rates, pay_pence: int) -> PayInput:
    return PayInput(
        rates=rates, tax_period=1, tax_code="1257L", week1_month1=True, age=30,
        pension_status=PensionStatus.NOT_ASSESSED, taxable_pay_pence=pay_pence, non_taxable_pence=0,
        ytd_taxable_before_pence=0, ytd_tax_before_pence=0, employment_allowance_left_pence=0,
    )  # fmt: skip


def test_a_rate_change_on_6_april_changes_the_result(app):
    with app.app_context():
        # An administrator adds 2027/28 rows: the weekly primary threshold £250, the basic rate 21%.
        _add("payroll.ni.primary_threshold.weekly", date(2027, 4, 6), 25000)
        _add("payroll.tax.basic_rate", date(2027, 4, 6), 2100)
        _add("payroll.tax.emergency_code_allowance", date(2027, 4, 6), 1300000)
        before = rates_for(date(2027, 4, 5), PayPeriod.WEEKLY)
        after = rates_for(date(2027, 4, 6), PayPeriod.WEEKLY)
        monthly = rates_for(date(2027, 4, 6), PayPeriod.MONTHLY)
        db.session.rollback()
    assert (before.primary_threshold_pence, before.basic_rate_bp, before.emergency_code) == (24200, 2000, "1257L")
    assert (after.primary_threshold_pence, after.basic_rate_bp, after.emergency_code) == (25000, 2100, "1300L")
    # Another frequency's threshold is its own row: unchanged.
    assert monthly.primary_threshold_pence == 104800
    # £500 on week 1: tax £258 x 20% = £51.60, NI (£500 - £242) x 8% = £20.64 on 5 April;
    # on 6 April £258 x 21% = £54.18 and (£500 - £250) x 8% = £20.00.
    old, new = calculate(_week1(before, 50000)), calculate(_week1(after, 50000))
    assert (old.tax_pence, old.employee_ni_pence) == (5160, 2064)
    assert (new.tax_pence, new.employee_ni_pence) == (5418, 2000)


def test_the_2025_26_rows_change_on_6_april_2026(app):
    with app.app_context():
        # Give every other key a 2025/26 row (the 2026/27 value) so 5 April 2026 can be worked out.
        for key in rate_keys(PayPeriod.MONTHLY).values():
            if not db.session.scalar(
                sa.select(NationalRate.id).where(NationalRate.key == key, NationalRate.effective_from == date(2025, 4, 6))
            ):
                _add(key, date(2025, 4, 6), local_settings.national_rate(key, date(2026, 4, 6)))
        old = rates_for(date(2026, 4, 5), PayPeriod.MONTHLY)
        new = rates_for(date(2026, 4, 6), PayPeriod.MONTHLY)
        db.session.rollback()
    # 2025/26: LEL £542 a month, SSP £118.75; 2026/27: £559, £123.25.
    assert (old.lower_earnings_limit_pence, old.ssp_weekly_pence) == (54200, 11875)
    assert (new.lower_earnings_limit_pence, new.ssp_weekly_pence) == (55900, 12325)
