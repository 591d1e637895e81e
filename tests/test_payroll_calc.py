"""The payroll calculations (pure): tax, NI, pension, net pay, SSP and holiday.

Every expected figure below was worked by hand from the method in rates.md and HMRC's rules, with
the working in the comment beside it; none was copied from the code's output. The 2026/27 figures
come from rates.md (per-period NI thresholds and pension limits as seeded by migration 0014).

The method, as HMRC's Specification for PAYE Tax Table Routines (the exact-percentage method
software uses):
- tax-free pay for one week or month: the code split into 500s and a remainder; the remainder gives
  (remainder x 10 + 9) / 52 (or / 12) rounded UP to the penny, each 500 adds £96.16 a week (£5,000 /
  52 rounded up) or £416.67 a month. 1257L: 2 x £96.16 + 2,579 / 52 = £49.60 -> £241.92 a week;
  2 x £416.67 + 2,579 / 12 = £214.92 -> £1,048.26 a month. To date: that x the week or month number.
- taxable pay to date rounded DOWN to the pound; band limits to date = annual limit x n / 52 (or 12),
  the band chosen against that limit rounded up to the pound, the tax worked on the exact limit;
  tax to date rounded down to the penny; tax this period = tax to date - tax already taken.
- NI per period on the period's pay, each of employee and employer rounded to the nearest penny with
  a half penny or less dropped (SSCR 2001 reg 12(1)).
"""

from dataclasses import replace
from datetime import date

import pytest

from portal.models.employing import PayPeriod, PensionStatus
from portal.services.payroll_calc import (
    SCOTTISH_PROBLEM,
    PayInput,
    PayrollRates,
    calculate,
    holiday_accrued_minutes,
    parse_tax_code,
    period_adjustment_pence,
    rolled_up_holiday_pence,
    ssp_daily_pence,
    ssp_for_days_pence,
    state_pension_date,
)

YEARLY_2026 = dict(
    personal_allowance_pence=1257000,
    basic_band_pence=3770000,
    additional_threshold_pence=12514000,
    basic_rate_bp=2000,
    higher_rate_bp=4000,
    additional_rate_bp=4500,
    emergency_code="1257L",
    employee_ni_main_bp=800,
    employee_ni_upper_bp=200,
    employer_ni_bp=1500,
    employer_ni_under_21_bp=0,
    employment_allowance_pence=1050000,
    pension_employee_bp=500,
    pension_employer_bp=300,
    ssp_weekly_pence=12325,
    ssp_earnings_bp=8000,
    holiday_accrual_bp=1207,
)

# rates.md: weekly LEL £129, PT £242, ST £96, UEL £967; monthly £559, £1,048, £417, £4,189; 4-weekly
# 4 x weekly. Pension: trigger £192 a week, £768 4-weekly, £833 a month; qualifying earnings £120-£967
# a week, £480-£3,867 4-weekly, £520-£4,189 a month.
WEEKLY = PayrollRates(
    frequency=PayPeriod.WEEKLY, tax_periods_in_year=52, lower_earnings_limit_pence=12900, primary_threshold_pence=24200,
    secondary_threshold_pence=9600, upper_earnings_limit_pence=96700, pension_trigger_pence=19200,
    qualifying_lower_pence=12000, qualifying_upper_pence=96700, **YEARLY_2026,
)  # fmt: skip
FORTNIGHTLY = PayrollRates(
    frequency=PayPeriod.FORTNIGHTLY, tax_periods_in_year=52, lower_earnings_limit_pence=25800,
    primary_threshold_pence=48400, secondary_threshold_pence=19200, upper_earnings_limit_pence=193400,
    pension_trigger_pence=38400, qualifying_lower_pence=24000, qualifying_upper_pence=193400, **YEARLY_2026,
)  # fmt: skip
FOUR_WEEKLY = PayrollRates(
    frequency=PayPeriod.FOUR_WEEKLY, tax_periods_in_year=52, lower_earnings_limit_pence=51600,
    primary_threshold_pence=96800, secondary_threshold_pence=38400, upper_earnings_limit_pence=386800,
    pension_trigger_pence=76800, qualifying_lower_pence=48000, qualifying_upper_pence=386700, **YEARLY_2026,
)  # fmt: skip
MONTHLY = PayrollRates(
    frequency=PayPeriod.MONTHLY, tax_periods_in_year=12, lower_earnings_limit_pence=55900, primary_threshold_pence=104800,
    secondary_threshold_pence=41700, upper_earnings_limit_pence=418900, pension_trigger_pence=83300,
    qualifying_lower_pence=52000, qualifying_upper_pence=418900, **YEARLY_2026,
)  # fmt: skip


def pay_input(rates=WEEKLY, **changes) -> PayInput:
    values = dict(
        rates=rates, tax_period=1, tax_code="1257L", week1_month1=False, age=30,
        pension_status=PensionStatus.NOT_ASSESSED, taxable_pay_pence=0, non_taxable_pence=0,
        ytd_taxable_before_pence=0, ytd_tax_before_pence=0, employment_allowance_left_pence=1050000,
    )  # fmt: skip
    values.update(changes)
    return PayInput(**values)


# ---------------------------------------------------------------------------------------------------
# Tax-free pay per period (HMRC's Tables A)


def test_free_pay_per_period_as_hmrc_tables():
    # 1257 = 2 x 500 + 257: 2 x £96.16 + (257 x 10 + 9) / 52 = 2,579 / 52 = 49.596 -> £49.60; = £241.92
    assert period_adjustment_pence(1257, 52) == 24192
    # 2 x £416.67 + 2,579 / 12 = 214.916 -> £214.92; = £1,048.26
    assert period_adjustment_pence(1257, 12) == 104826
    # 475 (no 500s): (4,750 + 9) / 52 = 91.519 -> £91.52; a K code takes no + 9: 4,750 / 52 = 91.346 -> £91.35
    assert period_adjustment_pence(475, 52) == 9152
    assert period_adjustment_pence(475, 52, k_code=True) == 9135
    # 500 exactly is one remainder of 500, no 500s: 5,009 / 52 = 96.326 -> £96.33
    assert period_adjustment_pence(500, 52) == 9633
    assert period_adjustment_pence(0, 52) == 0


def test_tax_codes_read():
    assert parse_tax_code("1257L").number == 1257
    code = parse_tax_code("1257L W1/M1")
    assert (code.kind, code.number, code.week1_month1) == ("allowance", 1257, True)
    assert parse_tax_code("1257l m1").week1_month1
    assert parse_tax_code("1257L X").week1_month1
    assert parse_tax_code("K475").kind == "K"
    assert parse_tax_code("0T").number == 0
    assert parse_tax_code("S1257L").country == "S"
    assert parse_tax_code("SD2").country == "S"
    assert parse_tax_code("C1257L").country == "C"
    assert parse_tax_code("BR").kind == "BR"
    assert parse_tax_code("12X57") is None
    assert parse_tax_code("") is None


# ---------------------------------------------------------------------------------------------------
# Worked examples: (name, input, expected figures)

EXAMPLES = [
    (
        # Weekly, week 1, 1257L, £500.00, 30, not assessed for pension.
        # Tax: free pay £241.92 x 1; taxable £500 - £241.92 = £258.08 -> £258; basic band week 1
        #   £37,700 x 1 / 52 = £725: £258 x 20% = £51.60.
        # NI: (£500 - £242) x 8% = £20.64; employer (£500 - £96) x 15% = £60.60, all covered by the
        #   Employment Allowance (£10,500 left) -> employer pays £0.
        # Pension: £500 > £192 trigger at 30: eligible (to enrol); qualifying £500 - £120 = £380; no
        #   contributions until enrolled.
        # Net: £500 - £51.60 - £20.64 = £427.76.
        "weekly basic rate, week 1",
        pay_input(WEEKLY, tax_period=1, taxable_pay_pence=50000),
        dict(
            tax_pence=5160,
            employee_ni_pence=2064,
            employer_ni_before_allowance_pence=6060,
            employment_allowance_pence=6060,
            employer_ni_pence=0,
            qualifying_earnings_pence=38000,
            employee_pension_pence=0,
            employer_pension_pence=0,
            pension_eligible=True,
            net_pence=42776,
        ),
    ),
    (
        # 4-weekly, pay date in week 8, 1257L cumulative, £1,400 each period, 40, enrolled.
        # Week 4 (the period before): free £241.92 x 4 = £967.68; £1,400 - £967.68 = £432.32 -> £432;
        #   x 20% = £86.40 taken.
        # Week 8: pay to date £2,800; free £241.92 x 8 = £1,935.36; taxable £864.64 -> £864; x 20% =
        #   £172.80 to date (band to date £37,700 x 8 / 52 = £5,800, not reached); this period
        #   £172.80 - £86.40 = £86.40.
        # NI 4-weekly: (£1,400 - £968) x 8% = £34.56; employer (£1,400 - £384) x 15% = £152.40; the
        #   Employment Allowance has £100.00 left: £100.00 off, employer pays £52.40.
        # Pension: qualifying £1,400 - £480 = £920; 5% = £46.00, 3% = £27.60.
        # Net: £1,400 - £86.40 - £34.56 - £46.00 = £1,233.04.
        "4-weekly cumulative, allowance running out",
        pay_input(
            FOUR_WEEKLY,
            tax_period=8,
            taxable_pay_pence=140000,
            ytd_taxable_before_pence=140000,
            ytd_tax_before_pence=8640,
            age=40,
            pension_status=PensionStatus.ENROLLED,
            employment_allowance_left_pence=10000,
        ),
        dict(
            tax_pence=8640,
            employee_ni_pence=3456,
            employer_ni_before_allowance_pence=15240,
            employment_allowance_pence=10000,
            employer_ni_pence=5240,
            qualifying_earnings_pence=92000,
            employee_pension_pence=4600,
            employer_pension_pence=2760,
            pension_eligible=True,
            net_pence=123304,
        ),
    ),
    (
        # Monthly, month 8 (pay date 27 November), 1257L cumulative, £2,000 a month, 45, enrolled.
        # Month 7 to date: £14,000 - £1,048.26 x 7 (£7,337.82) = £6,662.18 -> £6,662 x 20% = £1,332.40 taken.
        # Month 8: £16,000 - £1,048.26 x 8 (£8,386.08) = £7,613.92 -> £7,613 x 20% = £1,522.60; this
        #   month £1,522.60 - £1,332.40 = £190.20.
        # NI monthly: (£2,000 - £1,048) x 8% = £76.16; employer (£2,000 - £417) x 15% = £237.45; no
        #   allowance claimed -> £237.45.
        # Pension: qualifying £2,000 - £520 = £1,480; 5% = £74.00, 3% = £44.40.
        # Net: £2,000 - £190.20 - £76.16 - £74.00 = £1,659.64.
        "monthly cumulative, month 8",
        pay_input(
            MONTHLY,
            tax_period=8,
            taxable_pay_pence=200000,
            ytd_taxable_before_pence=1400000,
            ytd_tax_before_pence=133240,
            age=45,
            pension_status=PensionStatus.ENROLLED,
            employment_allowance_claimed=False,
        ),
        dict(
            tax_pence=19020,
            employee_ni_pence=7616,
            employer_ni_before_allowance_pence=23745,
            employment_allowance_pence=0,
            employer_ni_pence=23745,
            qualifying_earnings_pence=148000,
            employee_pension_pence=7400,
            employer_pension_pence=4440,
            pension_eligible=True,
            net_pence=165964,
        ),
    ),
    (
        # Monthly £5,000 on 1257L month 1 (month 8, the year so far ignored), 35, opted out.
        # Tax: £5,000 - £1,048.26 = £3,951.74 -> £3,951. Basic band month 1: £37,700 / 12 = £3,141.6666
        #   (rounded up £3,142 < £3,951.74: higher rate). Tax on the basic band £7,540 / 12 = £628.3333;
        #   + (£3,951 - £3,141.6666) x 40% = £323.7333; = £952.0666 -> £952.06.
        # NI: (£4,189 - £1,048) x 8% = £251.28 + (£5,000 - £4,189) x 2% = £16.22 -> £267.50; employer
        #   (£5,000 - £417) x 15% = £687.45 (allowance used up: £0 left).
        # Pension: eligible (opted out: nothing); qualifying capped: £4,189 - £520 = £3,669.
        # Net: £5,000 - £952.06 - £267.50 = £3,780.44.
        "monthly higher rate, month 1 basis, over the UEL",
        pay_input(
            MONTHLY,
            tax_period=8,
            tax_code="1257L",
            week1_month1=True,
            taxable_pay_pence=500000,
            ytd_taxable_before_pence=3500000,
            ytd_tax_before_pence=700000,
            age=35,
            pension_status=PensionStatus.OPTED_OUT,
            employment_allowance_left_pence=0,
        ),
        dict(
            tax_pence=95206,
            employee_ni_pence=26750,
            employer_ni_before_allowance_pence=68745,
            employment_allowance_pence=0,
            employer_ni_pence=68745,
            qualifying_earnings_pence=366900,
            employee_pension_pence=0,
            employer_pension_pence=0,
            pension_eligible=True,
            net_pence=378044,
        ),
    ),
    (
        # Monthly £15,000 on 1257L M1: additional rate.
        # Tax: £15,000 - £1,048.26 = £13,951.74 -> £13,951. Higher band top month 1: £125,140 / 12 =
        #   £10,428.3333 (rounded up £10,429 < £13,951.74: additional rate). Tax on the bands below:
        #   (£37,700 x 20% + £87,440 x 40%) / 12 = £42,516 / 12 = £3,543.00; + (£13,951 - £10,428.3333)
        #   x 45% = £1,585.20; = £5,128.20.
        # NI: £251.28 + (£15,000 - £4,189) x 2% = £216.22 -> £467.50; employer (£15,000 - £417) x 15% = £2,187.45.
        # Net (not enrolled): £15,000 - £5,128.20 - £467.50 = £9,404.30.
        "monthly additional rate",
        pay_input(MONTHLY, tax_period=1, week1_month1=True, taxable_pay_pence=1500000, employment_allowance_left_pence=0),
        dict(tax_pence=512820, employee_ni_pence=46750, employer_ni_pence=218745, net_pence=940430),
    ),
    (
        # Mid-year starter with a P45: week 33, P45 pay £9,000 and tax £200.00, code 1257L cumulative,
        # £400 this week, 50.
        # Tax: pay to date £9,400; free £241.92 x 33 = £7,983.36; taxable £1,416.64 -> £1,416 x 20% =
        #   £283.20 (band to date £37,700 x 33 / 52 = £23,925); this week £283.20 - £200.00 = £83.20.
        # NI: (£400 - £242) x 8% = £12.64; employer (£400 - £96) x 15% = £45.60 (allowance covers it).
        # Net: £400 - £83.20 - £12.64 = £304.16.
        "mid-year starter with a P45",
        pay_input(
            WEEKLY, tax_period=33, taxable_pay_pence=40000, ytd_taxable_before_pence=900000, ytd_tax_before_pence=20000, age=50
        ),
        dict(
            tax_pence=8320, employee_ni_pence=1264, employer_ni_before_allowance_pence=4560, employer_ni_pence=0, net_pence=30416
        ),
    ),
    (
        # A refund on the cumulative basis: week 10, nine weeks of £400 so far (tax taken to week 9:
        # £3,600 - £241.92 x 9 (£2,177.28) = £1,422.72 -> £1,422 x 20% = £284.40), only £100 this week.
        # Tax: £3,700 - £2,419.20 = £1,280.80 -> £1,280 x 20% = £256.00; £256.00 - £284.40 = -£28.40.
        # NI: £100 < LEL £129: none; employer (£100 - £96) x 15% = £0.60 (allowance covers it).
        # Pension: £100 is not over £192: not eligible; qualifying £100 - £120 < 0: £0.
        # Net: £100 + £28.40 = £128.40.
        "refund on the cumulative basis",
        pay_input(WEEKLY, tax_period=10, taxable_pay_pence=10000, ytd_taxable_before_pence=360000, ytd_tax_before_pence=28440),
        dict(
            tax_pence=-2840,
            employee_ni_pence=0,
            employer_ni_before_allowance_pence=60,
            employer_ni_pence=0,
            qualifying_earnings_pence=0,
            pension_eligible=False,
            net_pence=12840,
        ),
    ),
    (
        # The same week on week 1 basis: £100 - £241.92 < 0: no tax, and no refund.
        "no refund on the week 1 basis",
        pay_input(
            WEEKLY,
            tax_period=10,
            tax_code="1257L W1",
            taxable_pay_pence=10000,
            ytd_taxable_before_pence=360000,
            ytd_tax_before_pence=28440,
        ),
        dict(tax_pence=0, net_pence=10000),
    ),
    (
        # Emergency code for a starter without a P45 who ticks statement C: 0T week 1, week 33, £300.
        # Tax: no free pay; £300 x 20% = £60.00. NI: (£300 - £242) x 8% = £4.64.
        # Net: £300 - £60.00 - £4.64 = £235.36.
        "emergency 0T W1 (statement C)",
        pay_input(WEEKLY, tax_period=33, tax_code="0T", week1_month1=True, taxable_pay_pence=30000),
        dict(tax_pence=6000, employee_ni_pence=464, net_pence=23536),
    ),
    (
        # Emergency code 1257L W1 (statement A or B), week 33, £300: £300 - £241.92 = £58.08 -> £58 x 20% = £11.60.
        # Net: £300 - £11.60 - £4.64 = £283.76.
        "emergency 1257L W1",
        pay_input(WEEKLY, tax_period=33, tax_code="1257L W1/M1", taxable_pay_pence=30000),
        dict(tax_pence=1160, employee_ni_pence=464, net_pence=28376),
    ),
    (
        # K475, week 1, £300: K codes add pay: 4,750 / 52 = 91.346 -> £91.35; £391.35 -> £391 x 20% =
        # £78.20, under the limit of half the pay (£150).
        "K code",
        pay_input(WEEKLY, tax_period=1, tax_code="K475", taxable_pay_pence=30000),
        dict(tax_pence=7820),
    ),
    (
        # K1000, week 1, £50: 1000 = one 500 (£96.16) + remainder 500 (5,000 / 52 = 96.154 -> £96.16) =
        # £192.32 added; £242.32 -> £242 x 20% = £48.40; capped at 50% of £50 = £25.00.
        # Net: £50 - £25.00 = £25.00 (no NI below the LEL).
        "K code capped at half the pay",
        pay_input(WEEKLY, tax_period=1, tax_code="K1000", taxable_pay_pence=5000),
        dict(tax_pence=2500, employee_ni_pence=0, net_pence=2500),
    ),
    (
        # BR (a second job), monthly month 1, £1,000.55: £1,000 (rounded down) x 20% = £200.00.
        # NI: £1,000.55 < PT £1,048: none (above LEL £559: a qualifying month).
        "BR",
        pay_input(MONTHLY, tax_period=1, tax_code="BR", taxable_pay_pence=100055),
        dict(tax_pence=20000, employee_ni_pence=0),
    ),
    # D0: £1,000 x 40% = £400.00; D1: x 45% = £450.00; NT: nothing.
    ("D0", pay_input(MONTHLY, tax_code="D0", taxable_pay_pence=100000), dict(tax_pence=40000)),
    ("D1", pay_input(MONTHLY, tax_code="D1", taxable_pay_pence=100000), dict(tax_pence=45000)),
    ("NT", pay_input(MONTHLY, tax_code="NT", taxable_pay_pence=100000), dict(tax_pence=0)),
    (
        # 0T cumulative month 2: £2,000 to date x 20% = £400.00 to date, £200.00 taken: £200.00.
        "0T cumulative",
        pay_input(
            MONTHLY,
            tax_period=2,
            tax_code="0T",
            taxable_pay_pence=100000,
            ytd_taxable_before_pence=100000,
            ytd_tax_before_pence=20000,
        ),
        dict(tax_pence=20000),
    ),
    (
        # Fortnightly on the week 1 basis is taxed as week 2: free £241.92 x 2 = £483.84; £800 - £483.84
        # = £316.16 -> £316 x 20% = £63.20 (band week 2: £1,450). NI fortnightly (£800 - £484) x 8% =
        # £25.28; employer (£800 - £192) x 15% = £91.20.
        "fortnightly week 1 basis",
        pay_input(FORTNIGHTLY, tax_period=30, tax_code="1257L W1", taxable_pay_pence=80000),
        dict(tax_pence=6320, employee_ni_pence=2528, employer_ni_before_allowance_pence=9120),
    ),
    (
        # Week 53 (pay dated 5 April 2027) is always on the week 1 basis: £500 -> £51.60 as week 1, the
        # £25,000 earlier in the year ignored.
        "week 53",
        pay_input(WEEKLY, tax_period=53, taxable_pay_pence=50000, ytd_taxable_before_pence=2500000, ytd_tax_before_pence=250000),
        dict(tax_pence=5160),
    ),
    (
        # Welsh C code: England's rates (equal in 2026/27): as the weekly week 1 example, £51.60.
        "Welsh C code",
        pay_input(WEEKLY, tax_code="C1257L", taxable_pay_pence=50000),
        dict(tax_pence=5160, problems=[]),
    ),
]


@pytest.mark.parametrize("name, pay, expected", EXAMPLES, ids=[example[0] for example in EXAMPLES])
def test_worked_examples(name, pay, expected):
    figures = calculate(pay)
    for field_name, value in expected.items():
        assert getattr(figures, field_name) == value, f"{name}: {field_name}"
    if "problems" not in expected:
        assert figures.problems == []


def test_steps_explain_the_arithmetic():
    figures = calculate(pay_input(WEEKLY, tax_period=33, taxable_pay_pence=40000, ytd_taxable_before_pence=900000,
                                  ytd_tax_before_pence=20000))  # fmt: skip
    steps = {step.label: step for step in figures.steps}
    free = steps["Tax-free pay to date"]
    assert free.pence == 798336  # £241.92 x 33
    assert "2 x £96.16" in free.detail and "(257 x 10 + 9) / 52 (£49.60) = £241.92 a week" in free.detail
    assert free.detail.endswith("x 33 = £7,983.36")
    assert steps["Taxable pay to date after the code"].detail.endswith("rounded down to whole pounds: £1,416.00")
    assert steps["Tax this period"].detail == "£283.20 due to date - £200.00 already taken = £83.20"
    assert steps["Employee NI"].detail.startswith("(£400.00 - £242.00) x 8% = £12.64")
    assert steps["Net pay"].pence == 30416
    # Every money step of the deductions is there.
    for label in ("Income tax", "Employer NI", "Employment Allowance", "Qualifying earnings", "Pension assessment"):
        assert label in steps


def test_higher_rate_step_shows_the_band_to_date():
    figures = calculate(pay_input(MONTHLY, tax_period=1, week1_month1=True, taxable_pay_pence=500000))
    detail = next(step.detail for step in figures.steps if step.label == "Tax due to date")
    assert "£3,141.67 at 20%" in detail and "£37,700.00 x 1 / 12" in detail and "at 40%" in detail
    assert detail.endswith("= £952.06 (rounded down to the penny)")


# ---------------------------------------------------------------------------------------------------
# Scottish codes, codes the portal cannot read, deductions over the pay


def test_scottish_code_is_not_calculated_and_refused():
    figures = calculate(pay_input(WEEKLY, tax_code="S1257L", taxable_pay_pence=50000))
    assert figures.problems == [SCOTTISH_PROBLEM]
    assert figures.tax_pence == 0
    # NI is UK-wide and still worked out: (£500 - £242) x 8%.
    assert figures.employee_ni_pence == 2064


def test_unreadable_code_is_a_problem():
    figures = calculate(pay_input(WEEKLY, tax_code="1257Q", taxable_pay_pence=50000))
    assert figures.problems and "1257Q" in figures.problems[0]


def test_tax_period_outside_the_year_is_a_problem():
    assert calculate(pay_input(MONTHLY, tax_period=13, taxable_pay_pence=100000)).problems
    assert calculate(pay_input(WEEKLY, tax_period=0, taxable_pay_pence=100000)).problems


def test_deductions_over_the_pay_give_a_negative_net():
    # 0T cumulative week 10 with £3,000 earlier and no tax taken: £3,050 x 20% = £610 due now, from £50 of pay.
    figures = calculate(pay_input(WEEKLY, tax_period=10, tax_code="0T", taxable_pay_pence=5000,
                                  ytd_taxable_before_pence=300000))  # fmt: skip
    assert figures.tax_pence == 61000
    assert figures.net_pence == 5000 - 61000
    # The caller (pay_runs) refuses a negative net with the PA's name; the calculation adds no problem of its own.
    assert figures.problems == []


# ---------------------------------------------------------------------------------------------------
# A PA with two employers: each runs its own PAYE, independently


def test_two_employers_each_their_own_paye():
    # Employer A, 1257L cumulative, £300 a week, week 20. Taken to week 19: £5,700 - £241.92 x 19
    # (£4,596.48) = £1,103.52 -> £1,103 x 20% = £220.60. Week 20: £6,000 - £4,838.40 = £1,161.60 ->
    # £1,161 x 20% = £232.20; £232.20 - £220.60 = £11.60. NI (£300 - £242) x 8% = £4.64; employer
    # (£300 - £96) x 15% = £30.60.
    main_job = pay_input(WEEKLY, tax_period=20, taxable_pay_pence=30000, ytd_taxable_before_pence=570000,
                         ytd_tax_before_pence=22060)  # fmt: skip
    # Employer B, BR, £150 a week, week 20: £3,000 to date x 20% = £600.00; £570.00 taken: £30.00.
    # NI: £150 is under B's own PT £242 (each employer's NI is separate): none; employer (£150 - £96) x
    # 15% = £8.10.
    second_job = pay_input(WEEKLY, tax_period=20, tax_code="BR", taxable_pay_pence=15000,
                           ytd_taxable_before_pence=285000, ytd_tax_before_pence=57000)  # fmt: skip
    a, b = calculate(main_job), calculate(second_job)
    assert (a.tax_pence, a.employee_ni_pence, a.employer_ni_before_allowance_pence) == (1160, 464, 3060)
    assert (b.tax_pence, b.employee_ni_pence, b.employer_ni_before_allowance_pence) == (3000, 0, 810)
    # Neither depends on the other: B alone gives the same figures.
    assert calculate(second_job).tax_pence == b.tax_pence


# ---------------------------------------------------------------------------------------------------
# NI thresholds, categories and rounding


@pytest.mark.parametrize(
    "pay, employee, employer",
    [
        (12899, 0, 495),  # below the LEL: none; employer (£128.99 - £96) x 15% = £4.9485 -> £4.95
        (12900, 0, 495),  # at the LEL: none to pay (a qualifying week); employer £33 x 15% = £4.95
        (24200, 0, 2190),  # at the PT: none; employer £146 x 15% = £21.90
        (25000, 64, 2310),  # (£250 - £242) x 8% = £0.64; employer £154 x 15% = £23.10
        (9610, 0, 1),  # employer £0.10 x 15% = 1.5p: a half penny is dropped -> 1p
        (96725, 5800, 13069),  # £725 x 8% = £58.00 + £0.25 x 2% = 0.5p dropped -> £58.00; £871.25 x 15% = £130.6875 -> £130.69
    ],
)
def test_weekly_ni_edges_and_rounding(pay, employee, employer):
    figures = calculate(pay_input(WEEKLY, taxable_pay_pence=pay))
    assert figures.employee_ni_pence == employee
    assert figures.employer_ni_before_allowance_pence == employer


def test_below_the_lower_earnings_limit_says_no_qualifying_week():
    steps = calculate(pay_input(WEEKLY, taxable_pay_pence=12899)).steps
    detail = next(step.detail for step in steps if step.label == "Employee NI")
    assert "below the lower earnings limit £129.00" in detail and "qualifying year" in detail


def test_under_21_category_m():
    # 20, £500: employee as category A (£20.64); employer 0% up to the UEL: £0.
    young = calculate(pay_input(WEEKLY, age=20, taxable_pay_pence=50000))
    assert (young.employee_ni_pence, young.employer_ni_before_allowance_pence) == (2064, 0)
    # 20, £1,000: employee £58.00 + (£1,000 - £967) x 2% = £0.66 -> £58.66; employer only above the
    # UEL: £33 x 15% = £4.95.
    young = calculate(pay_input(WEEKLY, age=20, taxable_pay_pence=100000))
    assert (young.employee_ni_pence, young.employer_ni_before_allowance_pence) == (5866, 495)
    # 21, £500: category A, employer (£500 - £96) x 15% = £60.60.
    assert calculate(pay_input(WEEKLY, age=21, taxable_pay_pence=50000)).employer_ni_before_allowance_pence == 6060


def test_over_state_pension_age_no_employee_ni():
    older = calculate(pay_input(WEEKLY, age=66, taxable_pay_pence=50000))
    assert (older.employee_ni_pence, older.employer_ni_before_allowance_pence) == (0, 6060)
    assert older.pension_eligible is False
    # A 66-year-old born after April 1960 may not have reached it yet: the caller says so.
    not_yet = calculate(pay_input(WEEKLY, age=66, state_pension_age_reached=False, taxable_pay_pence=50000))
    assert not_yet.employee_ni_pence == 2064 and not_yet.pension_eligible


# ---------------------------------------------------------------------------------------------------
# Employment Allowance running out mid-year


def test_employment_allowance_runs_out():
    # Employer NI £60.60 a week (£500 at 30). With £50.00 left: £50.00 off, £10.60 to pay.
    week = pay_input(WEEKLY, taxable_pay_pence=50000, employment_allowance_left_pence=5000)
    figures = calculate(week)
    assert (figures.employment_allowance_pence, figures.employer_ni_pence) == (5000, 1060)
    # The next week nothing is left: the whole £60.60.
    figures = calculate(replace(week, employment_allowance_left_pence=0))
    assert (figures.employment_allowance_pence, figures.employer_ni_pence) == (0, 6060)
    assert any(step.label == "Employment Allowance" and "used up" in step.detail for step in figures.steps)
    # Not claimed: none taken even with plenty left.
    figures = calculate(replace(week, employment_allowance_left_pence=1050000, employment_allowance_claimed=False))
    assert (figures.employment_allowance_pence, figures.employer_ni_pence) == (0, 6060)


# ---------------------------------------------------------------------------------------------------
# Pension: trigger and age edges


@pytest.mark.parametrize(
    "rates, pay, age, eligible",
    [
        (WEEKLY, 19200, 30, False),  # at the £192 trigger: not over it
        (WEEKLY, 19201, 30, True),  # a penny over
        (MONTHLY, 83300, 30, False),  # £833 a month
        (MONTHLY, 83301, 30, True),
        (FOUR_WEEKLY, 76800, 30, False),  # £768 4-weekly
        (FOUR_WEEKLY, 76801, 30, True),
        (WEEKLY, 50000, 21, False),  # under 22
        (WEEKLY, 50000, 22, True),
        (WEEKLY, 50000, 65, True),
        (WEEKLY, 50000, 66, False),  # State Pension age
    ],
)
def test_pension_eligibility_edges(rates, pay, age, eligible):
    assert calculate(pay_input(rates, taxable_pay_pence=pay, age=age)).pension_eligible is eligible


def test_pension_contributions_on_qualifying_earnings():
    # Enrolled, £192.01 a week: qualifying £192.01 - £120 = £72.01; 5% = £3.6005 -> £3.60; 3% = £2.1603 -> £2.16.
    figures = calculate(pay_input(WEEKLY, taxable_pay_pence=19201, pension_status=PensionStatus.ENROLLED))
    assert (figures.qualifying_earnings_pence, figures.employee_pension_pence, figures.employer_pension_pence) == (
        7201, 360, 216,
    )  # fmt: skip
    # Enrolled, £1,000 a week: capped at the £967 upper limit: £847; 5% = £42.35, 3% = £25.41.
    figures = calculate(pay_input(WEEKLY, taxable_pay_pence=100000, pension_status=PensionStatus.ENROLLED))
    assert (figures.qualifying_earnings_pence, figures.employee_pension_pence, figures.employer_pension_pence) == (
        84700, 4235, 2541,
    )  # fmt: skip
    # Enrolled but paid under the £120 lower limit: nothing.
    figures = calculate(pay_input(WEEKLY, taxable_pay_pence=11999, pension_status=PensionStatus.ENROLLED))
    assert (figures.employee_pension_pence, figures.employer_pension_pence) == (0, 0)
    # Opted out: nothing, whatever the pay.
    figures = calculate(pay_input(WEEKLY, taxable_pay_pence=100000, pension_status=PensionStatus.OPTED_OUT))
    assert (figures.employee_pension_pence, figures.employer_pension_pence, figures.pension_eligible) == (0, 0, True)


def test_eligible_but_not_enrolled_says_to_enrol():
    steps = calculate(pay_input(WEEKLY, taxable_pay_pence=50000)).steps
    assert any(step.label == "Pension assessment" and "must enrol" in step.detail for step in steps)


def test_non_taxable_pay_is_added_to_net():
    # £500 as the first example (net £427.76) + £12.60 mileage = £440.36.
    assert calculate(pay_input(WEEKLY, taxable_pay_pence=50000, non_taxable_pence=1260)).net_pence == 44036


# ---------------------------------------------------------------------------------------------------
# Statutory Sick Pay and holiday


def test_ssp_flat_rate():
    # Average weekly earnings £400: 80% = £320, more than £123.25: the flat rate. 5 qualifying days:
    # £123.25 / 5 = £24.65 a day.
    assert ssp_daily_pence(WEEKLY, 40000, 5) == 2465
    # 7 qualifying days: £123.25 / 7 = £17.6071 -> £17.61 (rounded up, the employee's favour).
    assert ssp_daily_pence(WEEKLY, 40000, 7) == 1761
    # 5 of 7 days: £123.25 x 5 / 7 = £88.0357 -> £88.04; the whole week is exactly £123.25.
    assert ssp_for_days_pence(WEEKLY, 40000, 7, 5) == 8804
    assert ssp_for_days_pence(WEEKLY, 40000, 7, 7) == 12325


def test_ssp_at_the_80_percent_limit():
    # Average weekly earnings £100: 80% = £80.00 < £123.25; 5 days: £16.00 a day.
    assert ssp_daily_pence(WEEKLY, 10000, 5) == 1600
    # £150: 80% = £120.00; 3 days: £40.00.
    assert ssp_daily_pence(WEEKLY, 15000, 3) == 4000
    # £154.06: 80% = £123.248 < £123.25; / 5 = £24.6496 -> £24.65. £154.07: 80% = £123.256: the flat rate.
    assert ssp_for_days_pence(WEEKLY, 15406, 5, 5) == 12325  # £123.248 rounded up
    assert ssp_daily_pence(WEEKLY, 15407, 5) == 2465
    # No earnings threshold: £20 a week still gets 80% = £16.00 / 4 days = £4.00.
    assert ssp_daily_pence(WEEKLY, 2000, 4) == 400
    with pytest.raises(ValueError):
        ssp_daily_pence(WEEKLY, 10000, 0)


def test_holiday_accrual_and_rolled_up_pay():
    # 10 hours (600 minutes) x 12.07% = 72.42 -> 72 minutes; 1,000 minutes -> 120.7 -> 120.
    assert holiday_accrued_minutes(WEEKLY, 600) == 72
    assert holiday_accrued_minutes(WEEKLY, 1000) == 120
    assert holiday_accrued_minutes(WEEKLY, 0) == 0
    # Rolled-up: £250.00 x 12.07% = £30.175 -> £30.18 (half up); £100 -> £12.07.
    assert rolled_up_holiday_pence(WEEKLY, 25000) == 3018
    assert rolled_up_holiday_pence(WEEKLY, 10000) == 1207
    # A different rate row gives a different figure: 10% of £250 = £25.00.
    assert rolled_up_holiday_pence(replace(WEEKLY, holiday_accrual_bp=1000), 25000) == 2500


# ---------------------------------------------------------------------------------------------------
# A new starter's P45 from a previous job this tax year (HMRC: the previous pay and tax are added to
# the pay and tax to date on the cumulative basis; a week 1 / month 1 code ignores them)


def test_p45_pay_and_tax_are_added_to_the_cumulative_to_date_figures():
    # Weekly, week 10, 1257L cumulative, first pay here £500; the P45 shows £3,000 pay and £100 tax.
    # Pay to date £3,000 + £0 + £500 = £3,500; tax-free pay £241.92 x 10 = £2,419.20; taxable £1,080.80
    # -> £1,080; basic band to date £37,700 x 10 / 52 = £7,250: £1,080 x 20% = £216.00 due to date;
    # £100.00 already taken (on the P45): £116.00 this week. NI is per period: (£500 - £242) x 8% = £20.64.
    pay = pay_input(WEEKLY, tax_period=10, taxable_pay_pence=50000, previous_employment_pay_pence=300000,
                    previous_employment_tax_pence=10000)  # fmt: skip
    figures = calculate(pay)
    assert figures.tax_pence == 11600 and figures.employee_ni_pence == 2064
    assert (figures.previous_pay_used_pence, figures.previous_tax_used_pence) == (300000, 10000)
    steps = {step.label: step for step in figures.steps}
    assert steps["Pay and tax from the P45 (previous job)"].detail.startswith("£3,000.00 pay, £100.00 tax, added to")
    assert steps["Taxable pay to date"].detail == "£3,000.00 from the P45 + £0.00 before this period + £500.00 now = £3,500.00"
    assert steps["Tax this period"].detail == (
        "£216.00 due to date - £100.00 already taken (£100.00 on the P45 + £0.00 by this employer) = £116.00")
    # Without the P45 the same week takes no tax: £500 is under the £2,419.20 tax-free to date.
    assert calculate(replace(pay, previous_employment_pay_pence=0, previous_employment_tax_pence=0)).tax_pence == 0


def test_p45_figures_stay_in_every_later_cumulative_period():
    # Week 11: £500 more; this employer took £116.00 in week 10 on £500. Pay to date £3,000 + £500 + £500
    # = £4,000; tax-free £241.92 x 11 = £2,661.12; taxable £1,338.88 -> £1,338 x 20% = £267.60 (band to
    # date £7,975); already taken £100 + £116 = £216.00: £51.60, the tax on £500 a week in week 1.
    figures = calculate(pay_input(WEEKLY, tax_period=11, taxable_pay_pence=50000, ytd_taxable_before_pence=50000,
                                  ytd_tax_before_pence=11600, previous_employment_pay_pence=300000,
                                  previous_employment_tax_pence=10000))  # fmt: skip
    assert figures.tax_pence == 5160


def test_p45_tax_more_than_due_to_date_is_refunded():
    # As the first P45 example but £700 tax on the P45: £216.00 due to date - £700.00 = -£484.00, refunded.
    figures = calculate(pay_input(WEEKLY, tax_period=10, taxable_pay_pence=50000, previous_employment_pay_pence=300000,
                                  previous_employment_tax_pence=70000))  # fmt: skip
    assert figures.tax_pence == -48400
    assert figures.net_pence == 50000 + 48400 - 2064


def test_p45_figures_are_not_used_on_week1_month1():
    # 1257L week 1 on £500: £51.60, as the first worked example, whatever the P45 says.
    figures = calculate(pay_input(WEEKLY, tax_period=10, week1_month1=True, taxable_pay_pence=50000,
                                  previous_employment_pay_pence=300000, previous_employment_tax_pence=10000))  # fmt: skip
    assert figures.tax_pence == 5160
    assert (figures.previous_pay_used_pence, figures.previous_tax_used_pence) == (0, 0)
    detail = next(step.detail for step in figures.steps if step.label == "Pay and tax from the P45 (previous job)")
    assert detail.startswith("£3,000.00 pay, £100.00 tax: not used")
    # A code carrying M1 itself is the same.
    monthly = calculate(pay_input(MONTHLY, tax_period=4, tax_code="1257L M1", taxable_pay_pence=200000,
                                  previous_employment_pay_pence=600000, previous_employment_tax_pence=50000))  # fmt: skip
    # Month 1: £2,000 - £1,048.26 = £951.74 -> £951 x 20% = £190.20.
    assert monthly.tax_pence == 19020 and monthly.previous_pay_used_pence == 0


# ---------------------------------------------------------------------------------------------------
# NI earnings for the P60's NI table (HMRC: at the LEL where earnings reach it, then above the LEL up to
# and including the PT, then above the PT up to and including the UEL; nothing below the LEL)


@pytest.mark.parametrize(
    "rates, pay, bands",
    [
        (WEEKLY, 50000, (12900, 11300, 25800)),  # £129; £242 - £129 = £113; £500 - £242 = £258
        (WEEKLY, 12900, (12900, 0, 0)),  # exactly the LEL: it counts
        (WEEKLY, 12899, (0, 0, 0)),  # a penny under: nothing recorded
        (WEEKLY, 24200, (12900, 11300, 0)),  # exactly the PT
        (WEEKLY, 24201, (12900, 11300, 1)),
        (WEEKLY, 100000, (12900, 11300, 72500)),  # capped at the UEL: £967 - £242 = £725
        (MONTHLY, 200000, (55900, 48900, 95200)),  # £559; £1,048 - £559 = £489; £2,000 - £1,048 = £952
        (FORTNIGHTLY, 71000, (25800, 22600, 22600)),  # £258; £484 - £258 = £226; £710 - £484 = £226
        (WEEKLY, -5000, (0, 0, 0)),  # a correction taking back more than the period pays
    ],
)
def test_ni_earnings_bands_for_the_p60(rates, pay, bands):
    figures = calculate(pay_input(rates, taxable_pay_pence=pay))
    assert (figures.ni_earnings_at_lel_pence, figures.ni_earnings_lel_to_pt_pence, figures.ni_earnings_pt_to_uel_pence) == bands


def test_ni_earnings_are_recorded_for_categories_m_and_c_too():
    # Under 21 and over State Pension age pay less NI (or none) but their earnings are still recorded.
    young = calculate(pay_input(WEEKLY, age=20, taxable_pay_pence=50000))
    older = calculate(pay_input(WEEKLY, age=67, state_pension_age_reached=True, taxable_pay_pence=50000))
    for figures, letter in ((young, "M"), (older, "C")):
        assert figures.ni_category == letter
        assert (figures.ni_earnings_at_lel_pence, figures.ni_earnings_lel_to_pt_pence, figures.ni_earnings_pt_to_uel_pence) == (
            12900, 11300, 25800)
    detail = next(step.detail for step in older.steps if step.label == "NI earnings for the P60")
    assert detail.startswith("category C: £129.00 at the lower earnings limit; £113.00 above it")


# ---------------------------------------------------------------------------------------------------
# State Pension age from the date of birth (Pensions Acts 2007, 2011 and 2014; DWP's published table)


@pytest.mark.parametrize(
    "born, reached",
    [
        (date(1960, 4, 5), date(2026, 4, 5)),  # the last of the 66s
        (date(1960, 4, 6), date(2026, 5, 6)),  # 66 and 1 month
        (date(1960, 5, 5), date(2026, 6, 5)),  # still 66 and 1 month (6 April to 5 May 1960)
        (date(1960, 5, 6), date(2026, 7, 6)),  # 66 and 2 months (6 May to 5 June 1960)
        (date(1960, 12, 31), date(2027, 9, 30)),  # 66 and 9 months: no 31 September, so the 30th (DWP)
        (date(1961, 1, 31), date(2027, 11, 30)),  # 66 and 10 months
        (date(1961, 3, 5), date(2028, 2, 5)),  # 66 and 11 months, the last of the months
        (date(1961, 3, 6), date(2028, 3, 6)),  # 67
        (date(1964, 2, 29), date(2031, 2, 28)),  # 67, in a year with no 29 February
        (date(1977, 4, 5), date(2044, 4, 5)),  # the last of the 67s
        (date(1977, 4, 6), date(2044, 5, 6)),  # Pensions Act 2007: fixed dates two months apart
        (date(1978, 4, 5), date(2046, 3, 6)),
        (date(1978, 4, 6), date(2046, 4, 6)),  # 68
        (date(1954, 10, 6), date(2020, 10, 6)),  # 66
        (date(1954, 10, 5), date(2020, 9, 6)),  # Pensions Act 2011: 6 September to 5 October 1954
        (date(1953, 12, 6), date(2019, 3, 6)),  # the first of the 2011 dates
        (date(1954, 1, 5), date(2019, 3, 6)),  # 6 December 1953 to 5 January 1954
        (date(1954, 1, 6), date(2019, 5, 6)),
        (date(1953, 12, 5), date(2018, 12, 5)),  # before: the 65th birthday, the latest it could be
    ],
)
def test_state_pension_date(born, reached):
    assert state_pension_date(born) == reached


def test_someone_born_6_may_1960_pays_no_employee_ni_from_6_july_2026():
    born = date(1960, 5, 6)
    # The day before: category A, (£500 - £242) x 8% = £20.64; an eligible jobholder at 66.
    before = calculate(pay_input(WEEKLY, age=66, taxable_pay_pence=50000,
                                 state_pension_age_reached=date(2026, 7, 5) >= state_pension_date(born)))
    assert (before.ni_category, before.employee_ni_pence, before.pension_eligible) == ("A", 2064, True)
    # On the day: category C, no employee NI; the employer's (£500 - £96) x 15% = £60.60 is still due;
    # not an eligible jobholder.
    on = calculate(pay_input(WEEKLY, age=66, taxable_pay_pence=50000,
                             state_pension_age_reached=date(2026, 7, 6) >= state_pension_date(born)))
    assert (on.ni_category, on.employee_ni_pence, on.employer_ni_before_allowance_pence, on.pension_eligible) == (
        "C", 0, 6060, False)
    assert on.net_pence == 50000 - 5160  # tax only: week 1 1257L on £500
