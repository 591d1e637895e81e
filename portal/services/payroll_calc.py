"""Payroll calculations: pure functions, no database. The rates come in as a PayrollRates (built from
the national_rates rows by services/payroll_rates.py), so a test can pass its own.

Money is integer pence and follows HMRC's rounding: PAYE by the exact-percentage method (the code's
allowance for a period is (code number x 10 + 9) / periods in the year; cumulative unless week 1 /
month 1; taxable pay to date rounded down to whole pounds; tax to date rounded down to the penny),
employee and employer Class 1 NI on the per-period thresholds stored as data, pension on qualifying
earnings for the period. Every figure is explained in `steps`, for the payslip's breakdown page.

INTERFACE FIXED BY THE LEAD (other modules call it): the dataclasses' fields and `calculate`'s
signature. The bodies are the payroll-calculation helper's.

Rounding, and where it comes from:
- Tax-free pay (and a K code's added pay) for one week or month as HMRC's pay adjustment tables
  (Tables A) and the Specification for PAYE Tax Table Routines, section 4.3.1: the code is split
  into 500s (£96.16 a week, £416.67 a month each) and a remainder of 1 to 500 giving
  (remainder x 10 + 9) / 52 or / 12 (K codes: remainder x 10), each rounded UP to the penny; to date
  it is that figure x the week or month number (1257L: £241.92 a week, £1,048.26 a month).
- Taxable pay to date rounded DOWN to the pound; band limits to date = annual limit x n / 52 (or 12)
  to 1/100p; the band used is found against that limit rounded UP to the pound (the figure HMRC's
  tables print), the tax is worked on the exact limit, and tax to date is rounded DOWN to the penny
  (the Specification, section 4.4). K codes: tax at most 50% of the period's pay (the overriding
  limit), rounded down to the penny.
- NI: per period on the period's pay, employee and employer each to the nearest penny, a half penny
  or less dropped (Social Security (Contributions) Regulations 2001, reg 12(1); HMRC's CWG2).
- Pension contributions: to the nearest penny, half up (a scheme may use its own rule).
- SSP: rounded up to the penny (the employee's favour, as HMRC's daily rate tables); holiday
  accrual down to the minute; rolled-up holiday pay to the nearest penny, half up.
- Week 53 (54, 56) pay is taxed on the week 1 basis. Scottish (S) codes are not worked out: a
  problem refuses approval. Welsh (C) codes use England's rates (equal in 2026/27).
- Pay and tax from a previous job's P45 (this tax year) are added to the pay and tax to date on the
  cumulative basis, as HMRC's new-starter rules say; on the week 1 / month 1 basis they are not used.
- The P60's NI table: each period's earnings split at the lower earnings limit, the primary threshold
  and the upper earnings limit (HMRC: "earnings at the LEL, where earnings are equal to or exceed the
  LEL", then above the LEL up to and including the PT, then above the PT up to and including the UEL),
  kept to the penny per period; the P60 figures add them up for the year and print whole pounds.
- State Pension age from the date of birth (state_pension_date): from the pay date on or after it, NI
  category C (no employee NI, employer NI still due) and not an eligible jobholder for the pension.
"""

import calendar
import math
import re
from dataclasses import dataclass, field
from datetime import date
from fractions import Fraction

from portal.models.employing import PayPeriod, PensionStatus


@dataclass(frozen=True)
class PayrollRates:
    """The figures in force for one pay date and frequency (per-period figures for that frequency)."""

    frequency: PayPeriod
    # PAYE counts in tax weeks (weekly, fortnightly and 4-weekly pay: 52) or tax months (monthly: 12);
    # PayInput.tax_period is the week or month number of the pay date.
    tax_periods_in_year: int
    # Income tax (England), annual pence and basis points.
    personal_allowance_pence: int  # 1257000
    basic_band_pence: int  # 3770000
    additional_threshold_pence: int  # 12514000 (taxable income above which 45% applies, before allowance)
    basic_rate_bp: int  # 2000
    higher_rate_bp: int  # 4000
    additional_rate_bp: int  # 4500
    emergency_code: str  # "1257L"
    # Class 1 NI, per period.
    lower_earnings_limit_pence: int
    primary_threshold_pence: int
    secondary_threshold_pence: int
    upper_earnings_limit_pence: int
    employee_ni_main_bp: int  # 800
    employee_ni_upper_bp: int  # 200
    employer_ni_bp: int  # 1500
    employer_ni_under_21_bp: int  # 0, up to the upper earnings limit
    employment_allowance_pence: int  # annual, per employer: 1050000
    # Pension auto-enrolment, per period.
    pension_trigger_pence: int
    qualifying_lower_pence: int
    qualifying_upper_pence: int
    pension_employee_bp: int  # 500
    pension_employer_bp: int  # 300
    # Statutory Sick Pay and holiday.
    ssp_weekly_pence: int  # 12325
    ssp_earnings_bp: int  # 8000: at most 80% of average weekly earnings
    holiday_accrual_bp: int  # 1207


@dataclass(frozen=True)
class PayInput:
    """One PA's pay from one employer for one period, and what the year so far holds."""

    rates: PayrollRates
    tax_period: int  # week (1-53) or month (1-12) number of the pay date in the tax year
    tax_code: str  # "1257L", "BR", "D0", "0T", "K475", "S1257L" (not calculated: a problem)...
    week1_month1: bool
    age: int  # on the pay date
    pension_status: PensionStatus
    taxable_pay_pence: int  # this period: hours, sleep-ins, holiday pay and SSP (not mileage or expenses)
    non_taxable_pence: int  # mileage and expenses, paid on top
    ytd_taxable_before_pence: int  # this employer, this tax year, before this period
    ytd_tax_before_pence: int
    employment_allowance_left_pence: int  # what the employer may still claim this tax year
    employment_allowance_claimed: bool = True  # a direct payment employer usually can
    # Whether the PA has reached State Pension age by the pay date (no employee NI: category C; not an
    # eligible jobholder): state_pension_date(date of birth) <= pay date. None (a caller that does not
    # know the date of birth): taken as reached at 66, the lowest State Pension age in force now.
    state_pension_age_reached: bool | None = None
    # Pay and tax to date from the P45 of a previous job this tax year (a new starter who handed one in):
    # added to the year to date on the cumulative basis, not used on week 1 / month 1.
    previous_employment_pay_pence: int = 0
    previous_employment_tax_pence: int = 0


@dataclass(frozen=True)
class Step:
    label: str  # "Tax-free pay to date"
    detail: str  # "(1257 x 10 + 9) x 3 / 52 = £725.70"
    pence: int | None = None


@dataclass
class PayFigures:
    tax_pence: int = 0  # negative: a refund
    employee_ni_pence: int = 0
    employer_ni_before_allowance_pence: int = 0
    employment_allowance_pence: int = 0  # taken off employer NI this period
    employer_ni_pence: int = 0  # what the employer pays after the allowance
    qualifying_earnings_pence: int = 0
    employee_pension_pence: int = 0
    employer_pension_pence: int = 0
    pension_eligible: bool = False  # an eligible jobholder this period (to enrol if not yet)
    net_pence: int = 0  # taxable pay - tax - employee NI - employee pension + non-taxable
    ni_category: str = "A"  # A, M (under 21) or C (over State Pension age)
    # The period's earnings for the P60's NI table (pence; all 0 when below the lower earnings limit).
    ni_earnings_at_lel_pence: int = 0
    ni_earnings_lel_to_pt_pence: int = 0
    ni_earnings_pt_to_uel_pence: int = 0
    # The P45 pay and tax actually added to the year to date (0 on the week 1 / month 1 basis).
    previous_pay_used_pence: int = 0
    previous_tax_used_pence: int = 0
    steps: list[Step] = field(default_factory=list)
    problems: list[str] = field(default_factory=list)  # why approval must be refused


# ---------------------------------------------------------------------------------------------------
# Rules that are law rather than yearly figures (the yearly figures come in PayrollRates).

UNDER_21_AGE = 21  # NI category M below this age (employer pays 0% up to the upper earnings limit)
PENSION_MIN_AGE = 22  # eligible jobholders are 22 to State Pension age
STATE_PENSION_AGE = 66  # only when PayInput.state_pension_age_reached is None (date of birth unknown)
K_CODE_LIMIT_BP = 5000  # the overriding limit: a K code takes at most 50% of the period's pay
# Weeks in one pay period: fortnightly pay is taxed on week 2 of the tables when week 1 / month 1
# applies, 4-weekly on week 4.
WEEKS_IN_PERIOD = {PayPeriod.WEEKLY: 1, PayPeriod.FORTNIGHTLY: 2, PayPeriod.FOUR_WEEKLY: 4, PayPeriod.MONTHLY: 1}
SCOTTISH_PROBLEM = "Scottish tax code: the portal does not calculate Scottish tax yet"


# Money in words --------------------------------------------------------------------------------------


def pounds(pence: int) -> str:
    """£7,983.36; -£1.20 for a negative amount."""
    sign = "-" if pence < 0 else ""
    whole, part = divmod(abs(pence), 100)
    return f"{sign}£{whole:,}.{part:02d}"


def percent(bp: int) -> str:
    """Basis points as a percentage: 800 -> 8%, 1207 -> 12.07%."""
    whole, part = divmod(bp, 100)
    return f"{whole}%" if not part else f"{whole}.{part:02d}".rstrip("0") + "%"


def _exact_pounds(value: Fraction) -> str:
    """A pence amount that may have fractions of a penny, shown to the penny (cut, not rounded)."""
    return pounds(math.floor(value))


# Rounding ------------------------------------------------------------------------------------------


def round_half_down(value: Fraction) -> int:
    """To the nearest whole unit, a half or less disregarded: NI contributions are 'calculated to the
    nearest penny and any amount of a halfpenny or less shall be disregarded' (Social Security
    (Contributions) Regulations 2001, regulation 12(1); HMRC's CWG2: 'amounts of £0.005 or less
    should be disregarded')."""
    whole = math.floor(value)
    return whole + 1 if value - whole > Fraction(1, 2) else whole


def round_half_up(value: Fraction) -> int:
    whole = math.floor(value)
    return whole + 1 if value - whole >= Fraction(1, 2) else whole


def _of(pence: int | Fraction, bp: int) -> Fraction:
    return Fraction(pence) * bp / 10000


# State Pension age -----------------------------------------------------------------------------------


def _add_months(day: date, months: int) -> date:
    """The same day of the month `months` later, or the last day of that month when it is shorter (as
    DWP's published dates: born 31 December 1960, 66 years and 9 months, reaches it on 30 September 2027)."""
    index = day.month - 1 + months
    year, month = day.year + index // 12, index % 12 + 1
    return date(year, month, min(day.day, calendar.monthrange(year, month)[1]))


def _cohort(born: date, first: date) -> int:
    """Which month-of-birth group, counted from 0, a date of birth falls in: each group runs from the
    6th of a month to the 5th of the next, the first starting on `first` (a 6th)."""
    year, month = (born.year, born.month) if born.day >= 6 else (born.year - (born.month == 1), (born.month - 2) % 12 + 1)
    return (year - first.year) * 12 + month - first.month


def state_pension_date(born: date) -> date:
    """The day a person born on `born` reaches State Pension age (the same for men and women from
    December 2018), from the Pensions Act 1995 schedule 4 as amended:

    - born 6 October 1954 to 5 April 1960: 66 (Pensions Act 2011);
    - born 6 April 1960 to 5 March 1961: 66 and 1 to 11 months, one more month for each month of birth
      from 6 April 1960 (Pensions Act 2014: 6 April to 5 May 1960, 66 and 1 month; 6 February to
      5 March 1961, 66 and 11 months);
    - born 6 March 1961 to 5 April 1977: 67 (Pensions Act 2014);
    - born 6 April 1977 to 5 April 1978: a fixed date from 6 May 2044 to 6 March 2046, two months
      later for each month of birth; born after: 68 (Pensions Act 2007; under review, no pay date
      before 2044 depends on it);
    - born 6 December 1953 to 5 October 1954: a fixed date from 6 March 2019 to 6 September 2020, two
      months later for each month of birth (Pensions Act 2011);
    - born before 6 December 1953: the 65th birthday, the latest it could be (women reached it
      earlier, on dates that depend on sex, which the portal does not record; every one of these
      dates is before December 2018, so no pay date the portal runs is affected).

    An age of years and months is reached on the same day of the month, or on the month's last day
    when it has no such day (DWP's published dates)."""
    if born < date(1953, 12, 6):
        return _add_months(born, 65 * 12)
    if born < date(1954, 10, 6):
        return _add_months(date(2019, 3, 6), 2 * _cohort(born, date(1953, 12, 6)))
    if born < date(1960, 4, 6):
        return _add_months(born, 66 * 12)
    if born < date(1961, 3, 6):
        return _add_months(born, 66 * 12 + _cohort(born, date(1960, 4, 6)) + 1)
    if born < date(1977, 4, 6):
        return _add_months(born, 67 * 12)
    if born < date(1978, 4, 6):
        return _add_months(date(2044, 5, 6), 2 * _cohort(born, date(1977, 4, 6)))
    return _add_months(born, 68 * 12)


# Tax codes ------------------------------------------------------------------------------------------

_CODE = re.compile(r"^([SC])?(BR|NT|D0|D1|K\d{1,4}|\d{1,4}[LMNT])(W1M1|W1|M1|X)?$")


@dataclass(frozen=True)
class TaxCode:
    text: str  # as read, without spaces: "1257LW1M1"
    country: str  # "" (England or Northern Ireland), "S" (Scotland), "C" (Wales)
    kind: str  # "allowance" (L, M, N, T suffix codes, 0T among them), "K", "BR", "D0", "D1", "NT"
    number: int  # the code number (allowance / 10, or the K code's number); 0 for BR, D0, D1, NT
    week1_month1: bool  # the code itself carries W1, M1, W1/M1 or X


def parse_tax_code(code: str) -> TaxCode | None:
    """The parts of a tax code, or None when it is not one the portal can read."""
    text = re.sub(r"[\s/]", "", (code or "").upper())
    match = _CODE.match(text)
    if not match:
        if text.startswith("S") and len(text) > 1:
            # SD2, SD3... (Scottish codes with no English equivalent) are still Scottish.
            return TaxCode(text, "S", "scottish", 0, False)
        return None
    country, body, basis = match.group(1) or "", match.group(2), match.group(3)
    if body in ("BR", "NT", "D0", "D1"):
        kind, number = body, 0
    elif body.startswith("K"):
        kind, number = "K", int(body[1:])
    else:
        kind, number = "allowance", int(body[:-1])
    return TaxCode(text, country, kind, number, bool(basis))


def period_adjustment_pence(code_number: int, periods_in_year: int, *, k_code: bool = False) -> int:
    """Free pay (or a K code's additional pay) for one week or month, as HMRC's pay adjustment tables
    (Tables A) and the Specification for PAYE Tax Table Routines (section 4.3.1) work it out: the
    code is split into 500s and a remainder of 1 to 500; the remainder gives (remainder x 10 + 9) /
    52 (or / 12), rounded up to the penny (K codes: remainder x 10, no + 9); each 500 adds £5,000 / 52
    = £96.16 a week or £5,000 / 12 = £416.67 a month, each rounded up to the penny."""
    if code_number <= 0:
        return 0
    hundreds, remainder = divmod(code_number - 1, 500)
    remainder += 1
    remainder_pounds = remainder * 10 + (0 if k_code else 9)
    per_remainder = -(-remainder_pounds * 100 // periods_in_year)  # rounded up to the penny
    per_500 = -(-500_000 // periods_in_year)  # £96.16 a week, £416.67 a month
    return hundreds * per_500 + per_remainder


def _adjustment_words(code_number: int, periods_in_year: int, k_code: bool) -> str:
    """'2 x £96.16 (for each 500 of the code) + (257 x 10 + 9) / 52 (£49.60) = £241.92'"""
    hundreds, remainder = divmod(code_number - 1, 500)
    remainder += 1
    plus = "" if k_code else " + 9"
    per_remainder = -(-(remainder * 10 + (0 if k_code else 9)) * 100 // periods_in_year)
    words = f"({remainder} x 10{plus}) / {periods_in_year}"
    if not hundreds:
        return f"{words} = {pounds(per_remainder)}"
    per_500 = -(-500_000 // periods_in_year)
    total = hundreds * per_500 + per_remainder
    return f"{hundreds} x {pounds(per_500)} (for each 500 of the code) + {words} ({pounds(per_remainder)}) = {pounds(total)}"


# PAYE -----------------------------------------------------------------------------------------------


def _band_tax_to_date(rates: PayrollRates, taxable_to_date_pence: int, elapsed: int) -> tuple[int, str]:
    """Tax due to date on taxable pay to date, by the rates and bands pro-rated to the weeks or months
    elapsed (Specification for PAYE Tax Table Routines, section 4.4): taxable pay to date is rounded
    down to the whole pound; each band limit to date is the annual limit x elapsed / periods, worked
    to 1/100p and cut there, and the band the pay falls in is decided against that limit rounded up
    to the whole pound (the figure printed in HMRC's tables); the tax to date is rounded down to the
    penny."""
    if taxable_to_date_pence <= 0:
        return 0, "no taxable pay to date: no tax due"
    periods = rates.tax_periods_in_year
    whole_pounds = taxable_to_date_pence // 100 * 100  # pence, rounded down to the pound
    bands = [
        (rates.basic_band_pence, rates.basic_rate_bp, "basic"),
        (rates.additional_threshold_pence, rates.higher_rate_bp, "higher"),
        (None, rates.additional_rate_bp, "additional"),
    ]
    below_top = 0  # pence, the annual top of the bands below
    below_tax = Fraction(0)  # pence, the annual tax on the whole of the bands below
    limit_to_date = Fraction(0)  # pence, to 1/100p
    tax_below_to_date = Fraction(0)
    words: list[str] = []
    for top, rate, name in bands:
        if top is not None:
            test = -(-top * elapsed // (periods * 100)) * 100  # band limit to date, rounded up to £1
        if top is None or taxable_to_date_pence <= test:
            in_band = whole_pounds - limit_to_date
            tax = math.floor(tax_below_to_date + _of(in_band, rate))
            words.append(f"{_exact_pounds(in_band)} at {percent(rate)}")
            return tax, " + ".join(words) + f" = {pounds(tax)}"
        band_to_date = Fraction(math.floor(Fraction(top * elapsed * 100, periods)), 100)
        below_tax += _of(top - below_top, rate)
        below_top = top
        words.append(
            f"{pounds(round_half_up(band_to_date - limit_to_date))} at {percent(rate)} (the {name} rate band to date: "
            f"{pounds(top)} x {elapsed} / {periods})"
        )
        limit_to_date = band_to_date
        tax_below_to_date = Fraction(math.floor(below_tax * elapsed * 100 / periods), 100)
    raise AssertionError("unreachable: the last band has no top")


def _paye(pay: PayInput, figures: PayFigures) -> None:
    rates, steps = pay.rates, figures.steps
    code = parse_tax_code(pay.tax_code)
    if code is None:
        figures.problems.append(f"Tax code {pay.tax_code!r} is not one the portal can read: check it against HMRC's notice")
        steps.append(Step("Income tax", "not worked out: the tax code cannot be read", 0))
        return
    if code.country == "S":
        figures.problems.append(SCOTTISH_PROBLEM)
        steps.append(Step("Income tax", f"not worked out: {code.text} is a Scottish code", 0))
        return
    periods = rates.tax_periods_in_year
    if not 1 <= pay.tax_period <= (53 if periods == 52 else 12):
        figures.problems.append(f"Tax period {pay.tax_period} is outside the tax year")
        steps.append(Step("Income tax", "not worked out: the tax period is outside the tax year", 0))
        return
    week_or_month = "month" if periods == 12 else "week"
    if code.country == "C":
        steps.append(
            Step("Welsh tax code", "C code: Welsh income tax rates equal England's for this year, so England's are used")
        )
    week1 = pay.week1_month1 or code.week1_month1
    if periods == 52 and pay.tax_period == 53:
        # HMRC: pay on week 53 (54 fortnightly, 56 4-weekly) is always taxed on the week 1 basis.
        week1 = True
        steps.append(Step("Week 53", "pay dated in week 53 is taxed on the week 1 basis, whatever the code"))
    previous_pay, previous_tax = pay.previous_employment_pay_pence, pay.previous_employment_tax_pence
    p45_label = "Pay and tax from the P45 (previous job)"
    p45_words = f"{pounds(previous_pay)} pay, {pounds(previous_tax)} tax"
    if week1:
        elapsed = WEEKS_IN_PERIOD[rates.frequency] if periods == 52 else 1
        basis = f"week 1 / month 1 basis: this pay alone, as {week_or_month} {elapsed}"
        pay_to_date, tax_before = pay.taxable_pay_pence, 0
    else:
        elapsed = pay.tax_period
        basis = f"cumulative basis: {week_or_month} {elapsed} of the tax year"
        pay_to_date = previous_pay + pay.ytd_taxable_before_pence + pay.taxable_pay_pence
        tax_before = previous_tax + pay.ytd_tax_before_pence
        figures.previous_pay_used_pence, figures.previous_tax_used_pence = previous_pay, previous_tax
    steps.append(Step("Tax code", f"{code.text} on the {basis}"))
    if previous_pay or previous_tax:
        if week1:
            steps.append(Step(p45_label, f"{p45_words}: not used, because the week 1 / month 1 basis works on this "
                                         "period's pay alone (HMRC: a week 1 / month 1 code ignores the P45's figures)"))
        else:
            steps.append(Step(p45_label, f"{p45_words}, added to the pay and tax to date before this job (the "
                                         "cumulative basis). This employer's own year-to-date figures leave them out"))
    if code.kind == "NT":
        steps.append(Step("Income tax", "code NT: no tax is taken", 0))
        return
    if not week1:
        earlier = f"{pounds(previous_pay)} from the P45 + " if previous_pay else ""
        steps.append(
            Step(
                "Taxable pay to date",
                f"{earlier}{pounds(pay.ytd_taxable_before_pence)} before this period + {pounds(pay.taxable_pay_pence)} now"
                f" = {pounds(pay_to_date)}",
                pay_to_date,
            )
        )
    if code.kind in ("BR", "D0", "D1"):
        rate = {"BR": rates.basic_rate_bp, "D0": rates.higher_rate_bp, "D1": rates.additional_rate_bp}[code.kind]
        whole = max(pay_to_date, 0) // 100 * 100
        tax_to_date = math.floor(_of(whole, rate))
        steps.append(
            Step(
                "Tax due to date",
                f"code {code.kind}: all pay at {percent(rate)}, no tax-free pay: {pounds(whole)} (rounded down to whole "
                f"pounds) x {percent(rate)} = {pounds(tax_to_date)}",
                tax_to_date,
            )
        )
    else:
        k_code = code.kind == "K"
        per_period = period_adjustment_pence(code.number, periods, k_code=k_code)
        adjustment = per_period * elapsed
        words = _adjustment_words(code.number, periods, k_code) if code.number else "code 0: none"
        if k_code:
            steps.append(
                Step(
                    "Pay added for the K code to date",
                    f"{words} a {week_or_month} (rounded up to the penny, as HMRC's pay adjustment tables) x {elapsed}"
                    f" = {pounds(adjustment)}",
                    adjustment,
                )
            )
            taxable = pay_to_date + adjustment
        else:
            steps.append(
                Step(
                    "Tax-free pay to date",
                    f"{words} a {week_or_month} (rounded up to the penny, as HMRC's pay adjustment tables) x {elapsed}"
                    f" = {pounds(adjustment)}",
                    adjustment,
                )
            )
            taxable = pay_to_date - adjustment
        sign = "+" if k_code else "-"
        steps.append(
            Step(
                "Taxable pay to date after the code",
                f"{pounds(pay_to_date)} {sign} {pounds(adjustment)} = {pounds(taxable)}, rounded down to whole pounds: "
                f"{pounds(max(taxable, 0) // 100 * 100)}",
                max(taxable, 0) // 100 * 100,
            )
        )
        tax_to_date, words = _band_tax_to_date(rates, taxable, elapsed)
        steps.append(Step("Tax due to date", words + " (rounded down to the penny)", tax_to_date))
    tax = tax_to_date - tax_before
    if not week1:
        taken = (f" ({pounds(previous_tax)} on the P45 + {pounds(pay.ytd_tax_before_pence)} by this employer)"
                 if previous_tax else "")
        steps.append(
            Step(
                "Tax this period",
                f"{pounds(tax_to_date)} due to date - {pounds(tax_before)} already taken{taken} = {pounds(tax)}"
                + (" (a refund of tax taken earlier in the year)" if tax < 0 else ""),
                tax,
            )
        )
    if code.kind == "K":
        limit = math.floor(_of(max(pay.taxable_pay_pence, 0), K_CODE_LIMIT_BP))
        if tax > limit:
            later = "carried to later periods by the cumulative basis" if not week1 else "not collected through this pay"
            steps.append(
                Step(
                    "K code limit",
                    f"tax is capped at {percent(K_CODE_LIMIT_BP)} of this period's pay: {pounds(limit)} instead of "
                    f"{pounds(tax)}; the {pounds(tax - limit)} left is {later}",
                    limit,
                )
            )
            tax = limit
    figures.tax_pence = tax
    steps.append(Step("Income tax", f"{pounds(tax)}" + (" refunded" if tax < 0 else ""), tax))


# National Insurance -------------------------------------------------------------------------------


def _ni(pay: PayInput, figures: PayFigures, pension_age: bool) -> None:
    rates, steps = pay.rates, figures.steps
    earnings = max(pay.taxable_pay_pence, 0)
    lel, pt, st, uel = (
        rates.lower_earnings_limit_pence,
        rates.primary_threshold_pence,
        rates.secondary_threshold_pence,
        rates.upper_earnings_limit_pence,
    )
    under_21 = pay.age < UNDER_21_AGE
    category = "C" if pension_age else ("M" if under_21 else "A")
    figures.ni_category = category
    reason = {"A": "21 or over", "M": "under 21", "C": "over State Pension age"}[category]
    steps.append(Step("NI category", f"{category} ({reason}); NI is worked out on this period's pay alone"))
    at_lel, lel_to_pt, pt_to_uel = ni_earnings_bands(earnings, lel, pt, uel)
    figures.ni_earnings_at_lel_pence = at_lel
    figures.ni_earnings_lel_to_pt_pence = lel_to_pt
    figures.ni_earnings_pt_to_uel_pence = pt_to_uel
    if at_lel:
        steps.append(Step(
            "NI earnings for the P60",
            f"category {category}: {pounds(at_lel)} at the lower earnings limit; {pounds(lel_to_pt)} above it up to the "
            f"primary threshold {pounds(pt)}; {pounds(pt_to_uel)} above that up to the upper earnings limit {pounds(uel)}",
        ))
    else:
        steps.append(Step("NI earnings for the P60", f"category {category}: none, the pay is below the lower earnings limit "
                                                     f"{pounds(lel)}"))
    # Employee (primary) contributions.
    if category == "C":
        employee = 0
        steps.append(Step("Employee NI", "none over State Pension age", 0))
    elif earnings < lel:
        employee = 0
        steps.append(
            Step(
                "Employee NI",
                f"{pounds(earnings)} is below the lower earnings limit {pounds(lel)}: no NI, and this period does "
                "not count towards a qualifying year for the PA's State Pension",
                0,
            )
        )
    elif earnings <= pt:
        employee = 0
        steps.append(
            Step(
                "Employee NI",
                f"{pounds(earnings)} is between the lower earnings limit {pounds(lel)} and the primary threshold "
                f"{pounds(pt)}: no NI to pay, and the period still counts towards the PA's State Pension",
                0,
            )
        )
    else:
        main = _of(min(earnings, uel) - pt, rates.employee_ni_main_bp)
        words = f"({pounds(min(earnings, uel))} - {pounds(pt)}) x {percent(rates.employee_ni_main_bp)}"
        upper = Fraction(0)
        if earnings > uel:
            upper = _of(earnings - uel, rates.employee_ni_upper_bp)
            words += f" + ({pounds(earnings)} - {pounds(uel)}) x {percent(rates.employee_ni_upper_bp)}"
        employee = round_half_down(main + upper)
        steps.append(Step("Employee NI", f"{words} = {pounds(employee)} (to the penny, a half penny or less dropped)", employee))
    figures.employee_ni_pence = employee
    # Employer (secondary) contributions.
    if earnings <= st:
        employer = 0
        steps.append(Step("Employer NI", f"{pounds(earnings)} is not above the secondary threshold {pounds(st)}: none", 0))
    elif under_21 and not pension_age:
        amount = _of(min(earnings, uel) - st, rates.employer_ni_under_21_bp)
        words = f"({pounds(min(earnings, uel))} - {pounds(st)}) x {percent(rates.employer_ni_under_21_bp)} (under 21)"
        if earnings > uel:
            amount += _of(earnings - uel, rates.employer_ni_bp)
            words += f" + ({pounds(earnings)} - {pounds(uel)}) x {percent(rates.employer_ni_bp)}"
        employer = round_half_down(amount)
        steps.append(Step("Employer NI", f"{words} = {pounds(employer)}", employer))
    else:
        employer = round_half_down(_of(earnings - st, rates.employer_ni_bp))
        steps.append(
            Step(
                "Employer NI",
                f"({pounds(earnings)} - {pounds(st)}) x {percent(rates.employer_ni_bp)} = {pounds(employer)}"
                " (to the penny, a half penny or less dropped)",
                employer,
            )
        )
    figures.employer_ni_before_allowance_pence = employer
    allowance = 0
    if employer and pay.employment_allowance_claimed:
        left = max(pay.employment_allowance_left_pence, 0)
        allowance = min(employer, left)
        if allowance:
            steps.append(
                Step(
                    "Employment Allowance",
                    f"{pounds(allowance)} of the {pounds(left)} left this tax year is taken off the employer's NI",
                    allowance,
                )
            )
        else:
            steps.append(Step("Employment Allowance", "used up for this tax year: the employer pays the NI", 0))
    figures.employment_allowance_pence = allowance
    figures.employer_ni_pence = employer - allowance
    if allowance:
        steps.append(
            Step(
                "Employer NI to pay",
                f"{pounds(employer)} - {pounds(allowance)} = {pounds(employer - allowance)}",
                employer - allowance,
            )
        )


def ni_earnings_bands(earnings_pence: int, lel: int, pt: int, uel: int) -> tuple[int, int, int]:
    """A period's earnings as the P60's NI table records them: (at the lower earnings limit, above it up
    to and including the primary threshold, above that up to and including the upper earnings limit).
    HMRC: the LEL column holds the LEL itself "where earnings are equal to or exceed the LEL", and
    nothing at all is recorded for a period paid below it; earnings above the UEL are not recorded."""
    if earnings_pence < lel:
        return 0, 0, 0
    return lel, min(earnings_pence, pt) - lel, max(min(earnings_pence, uel) - pt, 0)


# Pension -------------------------------------------------------------------------------------------


def _pension(pay: PayInput, figures: PayFigures, pension_age: bool) -> None:
    rates, steps = pay.rates, figures.steps
    earnings = pay.taxable_pay_pence
    lower, upper, trigger = rates.qualifying_lower_pence, rates.qualifying_upper_pence, rates.pension_trigger_pence
    qualifying = max(min(earnings, upper) - lower, 0)
    figures.qualifying_earnings_pence = qualifying
    steps.append(
        Step(
            "Qualifying earnings",
            f"pay between {pounds(lower)} and {pounds(upper)}: {pounds(qualifying)}",
            qualifying,
        )
    )
    age_ok = PENSION_MIN_AGE <= pay.age and not pension_age
    figures.pension_eligible = age_ok and earnings > trigger
    if figures.pension_eligible:
        assessment = f"an eligible jobholder: aged 22 to State Pension age and paid over the trigger {pounds(trigger)}"
    elif not age_ok:
        assessment = "not an eligible jobholder: under 22 or over State Pension age (may ask to join)"
    else:
        assessment = f"not an eligible jobholder: paid {pounds(earnings)}, not over the trigger {pounds(trigger)}"
    status = pay.pension_status
    if figures.pension_eligible and status in (PensionStatus.NOT_ASSESSED, PensionStatus.NOT_ELIGIBLE):
        assessment += ": the employer must enrol the PA"
    steps.append(Step("Pension assessment", assessment))
    if status != PensionStatus.ENROLLED:
        words = "opted out: no contributions" if status == PensionStatus.OPTED_OUT else "not enrolled: no contributions"
        steps.append(Step("Pension contributions", words, 0))
        return
    employee = round_half_up(_of(qualifying, rates.pension_employee_bp))
    employer = round_half_up(_of(qualifying, rates.pension_employer_bp))
    figures.employee_pension_pence, figures.employer_pension_pence = employee, employer
    steps.append(
        Step(
            "Employee pension",
            f"{pounds(qualifying)} x {percent(rates.pension_employee_bp)} = {pounds(employee)} (to the nearest penny)",
            employee,
        )
    )
    steps.append(
        Step(
            "Employer pension",
            f"{pounds(qualifying)} x {percent(rates.pension_employer_bp)} = {pounds(employer)} (to the nearest penny)",
            employer,
        )
    )


def calculate(pay: PayInput) -> PayFigures:
    """Tax, NI, pension and net pay for one period, explained step by step."""
    figures = PayFigures()
    figures.steps.append(Step("Taxable pay this period", pounds(pay.taxable_pay_pence), pay.taxable_pay_pence))
    pension_age = pay.age >= STATE_PENSION_AGE if pay.state_pension_age_reached is None else pay.state_pension_age_reached
    _paye(pay, figures)
    _ni(pay, figures, pension_age)
    _pension(pay, figures, pension_age)
    figures.net_pence = (
        pay.taxable_pay_pence
        - figures.tax_pence
        - figures.employee_ni_pence
        - figures.employee_pension_pence
        + pay.non_taxable_pence
    )
    words = (
        f"{pounds(pay.taxable_pay_pence)} - tax {pounds(figures.tax_pence)} - NI {pounds(figures.employee_ni_pence)}"
        f" - pension {pounds(figures.employee_pension_pence)} + mileage and expenses {pounds(pay.non_taxable_pence)}"
        f" = {pounds(figures.net_pence)}"
    )
    figures.steps.append(Step("Net pay", words, figures.net_pence))
    # A negative net (deductions over the pay, or a correction taking back more than this period pays)
    # is the caller's to refuse, with the PA's name: pay_runs does.
    return figures


# Sick pay and holiday -------------------------------------------------------------------------------


def ssp_weekly_pence(rates: PayrollRates, average_weekly_earnings_pence: int) -> Fraction:
    """The week's SSP: the lower of the weekly rate and 80% of average weekly earnings (exact)."""
    cap = _of(max(average_weekly_earnings_pence, 0), rates.ssp_earnings_bp)
    return min(Fraction(rates.ssp_weekly_pence), cap)


def ssp_daily_pence(rates: PayrollRates, average_weekly_earnings_pence: int, qualifying_days_in_week: int) -> int:
    """SSP for one qualifying day: the lower of the weekly rate and 80% of average weekly earnings,
    divided by the qualifying days in the week (from the first day of sickness; no earnings threshold).
    Rounded up to the penny: HMRC's daily rate tables round SSP up, in the employee's favour. For
    several days use ssp_for_days_pence, which rounds the total once."""
    if not 1 <= qualifying_days_in_week <= 7:
        raise ValueError("A week has 1 to 7 qualifying days")
    return math.ceil(ssp_weekly_pence(rates, average_weekly_earnings_pence) / qualifying_days_in_week)


def ssp_for_days_pence(rates: PayrollRates, average_weekly_earnings_pence: int, qualifying_days_in_week: int, days: int) -> int:
    """SSP for some qualifying days of one week's pattern: weekly SSP x days / qualifying days, rounded
    up to the penny once (so a whole week pays exactly the weekly figure)."""
    if not 1 <= qualifying_days_in_week <= 7:
        raise ValueError("A week has 1 to 7 qualifying days")
    return math.ceil(ssp_weekly_pence(rates, average_weekly_earnings_pence) * days / qualifying_days_in_week)


def holiday_accrued_minutes(rates: PayrollRates, minutes_worked: int) -> int:
    """Holiday earned by irregular hours: 12.07% of the minutes worked, rounded down to the minute."""
    return math.floor(_of(minutes_worked, rates.holiday_accrual_bp))


def rolled_up_holiday_pence(rates: PayrollRates, pay_for_hours_pence: int) -> int:
    """Rolled-up holiday pay, shown separately: 12.07% of the pay for hours worked, to the penny (half up)."""
    amount = _of(pay_for_hours_pence, rates.holiday_accrual_bp)
    return round_half_up(amount) if amount >= 0 else -round_half_up(-amount)
