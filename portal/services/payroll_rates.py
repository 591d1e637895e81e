"""The payroll figures in force on a day, from the national_rates rows (keys `payroll.*`, editable by
administrators with history; 2026/27 seeded by a migration), and the tax calendar.

INTERFACE FIXED BY THE LEAD: rates_for, tax_year_start, tax_period. The bodies are the
payroll-calculation helper's.

Per-period figures (NI thresholds, pension trigger and qualifying earnings) are rows of their own for
each pay frequency (`payroll.ni.primary_threshold.weekly`, `.fortnightly`, `.4_weekly`, `.monthly`):
HMRC and the Pensions Regulator publish them per frequency and the pence differ from the annual
figure divided, so they are never computed here.
"""

from datetime import date

import sqlalchemy as sa

from portal.extensions import db
from portal.models.employing import PayPeriod
from portal.models.settings import NationalRate
from portal.services.payroll_calc import PayrollRates

# The key suffix of each pay frequency's per-period rows (keys allow only letters, digits, _ and .).
FREQUENCY_KEYS = {
    PayPeriod.WEEKLY: "weekly",
    PayPeriod.FORTNIGHTLY: "fortnightly",
    PayPeriod.FOUR_WEEKLY: "4_weekly",
    PayPeriod.MONTHLY: "monthly",
}

# PayrollRates field -> national_rates key, for the figures that are the same whatever the frequency.
YEARLY_KEYS = {
    "personal_allowance_pence": "payroll.tax.personal_allowance",
    "basic_band_pence": "payroll.tax.basic_band",
    "additional_threshold_pence": "payroll.tax.additional_threshold",
    "basic_rate_bp": "payroll.tax.basic_rate",
    "higher_rate_bp": "payroll.tax.higher_rate",
    "additional_rate_bp": "payroll.tax.additional_rate",
    # The emergency code is kept as its allowance in pence (£12,570 -> 1257L), so administrators
    # edit it in a unit the rates page knows.
    "emergency_code": "payroll.tax.emergency_code_allowance",
    "employee_ni_main_bp": "payroll.ni.employee_main_rate",
    "employee_ni_upper_bp": "payroll.ni.employee_upper_rate",
    "employer_ni_bp": "payroll.ni.employer_rate",
    "employer_ni_under_21_bp": "payroll.ni.employer_under_21_rate",
    "employment_allowance_pence": "payroll.employment_allowance",
    "pension_employee_bp": "payroll.pension.employee_rate",
    "pension_employer_bp": "payroll.pension.employer_rate",
    "ssp_weekly_pence": "payroll.ssp.weekly",
    "ssp_earnings_bp": "payroll.ssp.earnings_limit",
    "holiday_accrual_bp": "payroll.holiday.accrual_rate",
}

# PayrollRates field -> key stem; the row read is "<stem>.<frequency>".
PER_PERIOD_KEYS = {
    "lower_earnings_limit_pence": "payroll.ni.lower_earnings_limit",
    "primary_threshold_pence": "payroll.ni.primary_threshold",
    "secondary_threshold_pence": "payroll.ni.secondary_threshold",
    "upper_earnings_limit_pence": "payroll.ni.upper_earnings_limit",
    "pension_trigger_pence": "payroll.pension.trigger",
    "qualifying_lower_pence": "payroll.pension.qualifying_lower",
    "qualifying_upper_pence": "payroll.pension.qualifying_upper",
}


def rate_keys(frequency: PayPeriod) -> dict[str, str]:
    """Every PayrollRates field read from a row, with the row's key, for one pay frequency."""
    suffix = FREQUENCY_KEYS[PayPeriod(frequency)]
    keys = dict(YEARLY_KEYS)
    keys.update({name: f"{stem}.{suffix}" for name, stem in PER_PERIOD_KEYS.items()})
    return keys


def tax_year_start(day: date) -> date:
    """6 April of the tax year that holds the day."""
    start = date(day.year, 4, 6)
    return start if day >= start else date(day.year - 1, 4, 6)


def tax_period(pay_date: date, frequency: PayPeriod) -> int:
    """The week number (weekly, fortnightly, 4-weekly pay) or month number (monthly) of the pay date in
    its tax year: HMRC's tax period is the one containing the pay date."""
    start = tax_year_start(pay_date)
    if PayPeriod(frequency) == PayPeriod.MONTHLY:
        # Tax month 1 runs 6 April to 5 May, month 9 from 6 December to 5 January, month 12 from
        # 6 March to 5 April.
        month = pay_date.month if pay_date.day >= 6 else pay_date.month - 1
        return (month - 4) % 12 + 1
    # Week 1 is 6 to 12 April; week 53 is the day or two left at the end (5 April, and 4 April in a
    # year whose February has 29 days).
    return (pay_date - start).days // 7 + 1


def rates_for(pay_date: date, frequency: PayPeriod) -> PayrollRates:
    """The rates in force on the pay date for that pay frequency. Raises LookupError naming the missing key."""
    frequency = PayPeriod(frequency)
    keys = rate_keys(frequency)
    rows = db.session.execute(
        sa.select(NationalRate.key, NationalRate.value)
        .where(NationalRate.key.in_(sorted(set(keys.values()))), NationalRate.effective_from <= pay_date)
        .order_by(NationalRate.key, NationalRate.effective_from.desc())
    ).all()
    in_force: dict[str, int] = {}
    for key, value in rows:
        in_force.setdefault(key, value)  # the latest start date not after the pay date comes first
    missing = sorted(key for key in keys.values() if key not in in_force)
    if missing:
        raise LookupError(
            f"No payroll rate {', '.join(missing)} in force on {pay_date.isoformat()}: an administrator adds it on the rates page"
        )
    figures = {name: in_force[key] for name, key in keys.items()}
    figures["emergency_code"] = f"{figures['emergency_code'] // 1000}L"
    return PayrollRates(
        frequency=frequency,
        tax_periods_in_year=12 if frequency == PayPeriod.MONTHLY else 52,
        **figures,
    )
