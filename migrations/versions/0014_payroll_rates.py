"""payroll rates: the 2026/27 payroll figures as national_rates rows (keys payroll.*), and the 2025/26
figures that differ (lower earnings limits, Statutory Sick Pay)

Revision ID: 0014
Revises: 0013
Create Date: 2026-11-22 23:10:00

Data only: no schema change. Per-period figures are rows for each pay frequency (weekly, fortnightly,
4_weekly, monthly) as HMRC and the Pensions Regulator publish them, never the annual figure divided.
The downgrade deletes exactly the rows this adds (by key and start date).
"""
from datetime import UTC, date, datetime

from alembic import op
import sqlalchemy as sa


# revision identifiers, used by Alembic.
revision = '0014'
down_revision = '0013'
branch_labels = None
depends_on = None

Y2026 = date(2026, 4, 6)
Y2025 = date(2025, 4, 6)
PENCE, BP = "pence", "basis points"
TAX = "HMRC rates and thresholds for employers 2026 to 2027 (England)"
NI = "HMRC rates and thresholds for employers 2026 to 2027: Class 1 NI"
PENSION = "DWP review of auto-enrolment thresholds 2026/27; The Pensions Regulator"
SSP = "Statutory Sick Pay from 6 April 2026 (Employment Rights Act 2025)"
HOLIDAY = "Working Time Regulations 1998 as amended 2024 (irregular hours)"
NI_2025 = "HMRC rates and thresholds for employers 2025 to 2026: Class 1 NI"
CHECK = "*check* against HMRC's tables"

FREQUENCIES = ("weekly", "fortnightly", "4_weekly", "monthly")
FREQUENCY_WORDS = {"weekly": "a week", "fortnightly": "a fortnight", "4_weekly": "4 weeks", "monthly": "a month"}

# (stem, label, {frequency: pence}, source, check note)
PER_PERIOD_2026 = [
    ("payroll.ni.lower_earnings_limit", "NI lower earnings limit", {"weekly": 12900, "fortnightly": 25800, "4_weekly": 51600, "monthly": 55900}, NI, True),
    ("payroll.ni.primary_threshold", "NI primary threshold (employee NI above this)", {"weekly": 24200, "fortnightly": 48400, "4_weekly": 96800, "monthly": 104800}, NI, False),
    ("payroll.ni.secondary_threshold", "NI secondary threshold (employer NI above this)", {"weekly": 9600, "fortnightly": 19200, "4_weekly": 38400, "monthly": 41700}, NI, False),
    ("payroll.ni.upper_earnings_limit", "NI upper earnings limit (employee 2% above this)", {"weekly": 96700, "fortnightly": 193400, "4_weekly": 386800, "monthly": 418900}, NI, False),
    ("payroll.pension.trigger", "Pension auto-enrolment earnings trigger", {"weekly": 19200, "fortnightly": 38400, "4_weekly": 76800, "monthly": 83300}, PENSION, False),
    ("payroll.pension.qualifying_lower", "Pension qualifying earnings, lower limit", {"weekly": 12000, "fortnightly": 24000, "4_weekly": 48000, "monthly": 52000}, PENSION, True),
    ("payroll.pension.qualifying_upper", "Pension qualifying earnings, upper limit", {"weekly": 96700, "fortnightly": 193400, "4_weekly": 386700, "monthly": 418900}, PENSION, True),
]

YEARLY_2026 = [
    ("payroll.tax.personal_allowance", "Personal allowance (tax code 1257L), a year", 1257000, PENCE, TAX),
    ("payroll.tax.basic_band", "Income tax basic rate band (taxable pay after the allowance), a year", 3770000, PENCE, TAX),
    ("payroll.tax.additional_threshold", "Income tax: additional rate on taxable pay above this, a year", 12514000, PENCE, TAX),
    ("payroll.tax.basic_rate", "Income tax basic rate (England)", 2000, BP, TAX),
    ("payroll.tax.higher_rate", "Income tax higher rate (England)", 4000, BP, TAX),
    ("payroll.tax.additional_rate", "Income tax additional rate (England)", 4500, BP, TAX),
    ("payroll.tax.emergency_code_allowance", "Emergency tax code, as its allowance (£12,570 gives code 1257L)", 1257000, PENCE, TAX),
    ("payroll.ni.employee_main_rate", "Employee NI main rate (primary threshold to upper earnings limit)", 800, BP, NI),
    ("payroll.ni.employee_upper_rate", "Employee NI rate above the upper earnings limit", 200, BP, NI),
    ("payroll.ni.employer_rate", "Employer NI rate above the secondary threshold", 1500, BP, NI),
    ("payroll.ni.employer_under_21_rate", "Employer NI rate for employees under 21, up to the upper earnings limit", 0, BP, NI),
    ("payroll.employment_allowance", "Employment Allowance, a year per employer", 1050000, PENCE, NI),
    ("payroll.pension.employee_rate", "Pension: employee contribution on qualifying earnings", 500, BP, PENSION),
    ("payroll.pension.employer_rate", "Pension: employer contribution on qualifying earnings (at least 3%)", 300, BP, PENSION),
    ("payroll.ssp.weekly", "Statutory Sick Pay, weekly rate", 12325, PENCE, SSP),
    ("payroll.ssp.earnings_limit", "Statutory Sick Pay: at most this share of average weekly earnings", 8000, BP, SSP),
    ("payroll.holiday.accrual_rate", "Holiday accrued on hours worked (irregular hours), and rolled-up holiday pay", 1207, BP, HOLIDAY),
]

# 2025/26, only where the figure differs from 2026/27 (the rest did not change, or is a rule that
# began in 2026/27, like SSP's 80% limit): the rows show the change on 6 April 2026 in the history.
ROWS_2025 = [
    ("payroll.ni.lower_earnings_limit.weekly", "NI lower earnings limit, a week", 12500, NI_2025),
    ("payroll.ni.lower_earnings_limit.fortnightly", "NI lower earnings limit, a fortnight", 25000, NI_2025),
    ("payroll.ni.lower_earnings_limit.4_weekly", "NI lower earnings limit, 4 weeks", 50000, NI_2025),
    ("payroll.ni.lower_earnings_limit.monthly", "NI lower earnings limit, a month", 54200, NI_2025),
    ("payroll.ssp.weekly", "Statutory Sick Pay, weekly rate", 11875, "Statutory Sick Pay from 6 April 2025"),
]


def _rows():
    now = datetime.now(UTC)
    rows = []
    for stem, label, values, source, check in PER_PERIOD_2026:
        for frequency in FREQUENCIES:
            words = f"{label}, {FREQUENCY_WORDS[frequency]}"
            if check or frequency in ("fortnightly", "4_weekly"):
                words += f" ({CHECK})"
            rows.append({"key": f"{stem}.{frequency}", "label": words, "effective_from": Y2026, "value": values[frequency],
                         "unit": PENCE, "source": source, "created_at": now})
    for key, label, value, unit, source in YEARLY_2026:
        rows.append({"key": key, "label": label, "effective_from": Y2026, "value": value, "unit": unit, "source": source,
                     "created_at": now})
    for key, label, value, source in ROWS_2025:
        rows.append({"key": key, "label": label, "effective_from": Y2025, "value": value, "unit": PENCE, "source": source,
                     "created_at": now})
    return rows


def _table():
    return sa.table(
        "national_rates",
        sa.column("key", sa.String), sa.column("label", sa.String), sa.column("effective_from", sa.Date),
        sa.column("value", sa.Integer), sa.column("unit", sa.String), sa.column("source", sa.String),
        sa.column("created_at", sa.DateTime(timezone=True)),
    )


def upgrade():
    op.bulk_insert(_table(), _rows())


def downgrade():
    rates = _table()
    bind = op.get_bind()
    for row in _rows():
        bind.execute(
            sa.delete(rates).where(rates.c.key == row["key"], rates.c.effective_from == row["effective_from"])
        )
