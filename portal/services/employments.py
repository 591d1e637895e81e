"""Employing a PA: recording, changing and ending an employment, holiday and sickness, the employer's
liability insurance, and the employer's duties with what needs attention (callers commit).

Pure domain functions: no request, no current user. A rule that refuses raises EmploymentError with a
plain-English message and, where it is about one answer, the name of that answer (the form field), so
a page can show it beside the answer. Money is integer pence throughout.
"""

import re
from dataclasses import dataclass, field, replace
from datetime import date, timedelta
from decimal import Decimal
from enum import StrEnum

import sqlalchemy as sa

from portal.extensions import db
from portal.models import (
    EmploymentLinkRequest,
    EmployerInsurance,
    Employment,
    HolidayMethod,
    LeaveKind,
    LeaveRecord,
    PayPeriod,
    PensionStatus,
    Person,
    Relationship,
    Role,
    Shift,
    StarterDeclaration,
    Timesheet,
    User,
)
from portal.models.employing import PostgraduateLoan, StudentLoan
from portal.services import accounts, local_settings, mail, notifications
from portal.services.timesheets import approvers as timesheet_approvers
from portal.services.clock import london_today, utcnow

MIN_COVER_PENCE = 500_000_000  # £5 million (Employers' Liability (Compulsory Insurance) Act 1969)
MAX_COVER_PENCE = 2_000_000_000  # £20 million: an integer column of pence holds it with room to spare
EXPIRY_WARNING_DAYS = 30
PENSION_DUE_DAYS = 42  # enrol an eligible jobholder within six weeks of their first day
MAX_HOURS_A_WEEK = Decimal(168)
MAX_HOURS_A_DAY = Decimal(24)
MINIMUM_AGE = 16

# Relatives the 1969 Act exempts from compulsory cover: spouse or civil partner, parent, grandparent,
# stepparent, child, grandchild, stepchild, brother or sister (half-siblings too). Aunts, uncles and the
# partners of relatives are not in the list. (The Relationship choices cannot tell in-laws apart.)
INSURANCE_EXEMPT = frozenset({
    Relationship.PARTNER, Relationship.PARENT, Relationship.CHILD, Relationship.STEPCHILD,
    Relationship.SIBLING, Relationship.GRANDPARENT,
})


class EmploymentError(ValueError):
    """What the rules refuse: one or more (field, message) problems; str() is the first message."""

    def __init__(self, message: str, field: str | None = None, *, problems: list[tuple[str | None, str]] | None = None):
        self.problems = problems or [(field, message)]
        super().__init__(self.problems[0][1])

    @property
    def message(self) -> str:
        return self.problems[0][1]

    @property
    def field(self) -> str | None:
        return self.problems[0][0]


def long_date(day: date) -> str:
    return f"{day.day} {day:%B %Y}"


def _pounds(pence: int) -> str:
    pounds, pennies = divmod(pence, 100)
    return f"£{pounds:,}" if not pennies else f"£{pounds:,}.{pennies:02d}"


# National Insurance numbers and tax codes -----------------------------------------------------------

_NI = re.compile(r"^[A-Z]{2}\d{6}[A-D]$")
# HMRC never issues these (first letter, second letter, or the pair).
_NI_BAD_FIRST = set("DFIQUV")
_NI_BAD_SECOND = set("DFIOQUV")
_NI_BAD_PREFIX = {"BG", "GB", "KN", "NK", "NT", "TN", "ZZ"}
NI_FORMAT = "Enter a National Insurance number in the right format, like QQ 12 34 56 C"


def normalise_ni_number(text: str | None) -> str:
    """'ab 12 34 56 c' becomes 'AB123456C'; blank stays blank; anything else is refused."""
    cleaned = re.sub(r"\s+", "", text or "").upper()
    if not cleaned:
        return ""
    if not _NI.match(cleaned):
        raise EmploymentError(NI_FORMAT, "ni_number")
    if cleaned[0] in _NI_BAD_FIRST or cleaned[1] in _NI_BAD_SECOND or cleaned[:2] in _NI_BAD_PREFIX:
        raise EmploymentError(
            "That is not a National Insurance number HMRC gives out: check the two letters at the start", "ni_number")
    return cleaned


_TAX_CODE = re.compile(r"^(?P<country>[SC]?)(?P<code>\d{1,5}[LMNT]|K\d{1,5}|BR|D[0-3]|NT)(?P<basis>W1|M1|X)?$")
TAX_CODE_FORMAT = ("Enter a tax code in the right format, like 1257L, BR, D0, NT, 0T or K475, "
                   "with W1, M1 or X at the end if the P45 shows one")


@dataclass(frozen=True)
class TaxCode:
    """A tax code split into its parts. text is how it is stored: '1257L', 'S1257L', '1257L W1'."""

    country: str  # "" (England and Northern Ireland), "S" (Scottish) or "C" (Welsh)
    code: str  # 1257L, K475, BR, D0, NT, 0T
    basis: str  # "" (cumulative), "W1", "M1" or "X" (week 1 / month 1: not cumulative)

    @property
    def text(self) -> str:
        return f"{self.country}{self.code}" + (f" {self.basis}" if self.basis else "")

    @property
    def cumulative(self) -> bool:
        return not self.basis

    @property
    def warning(self) -> str | None:
        if self.country == "S":
            return ("This is a Scottish tax code (it starts with S). The portal's payroll does not work out Scottish "
                    "income tax yet, so payroll will flag this PA for the payroll service to check by hand.")
        if self.country == "C":
            return ("This is a Welsh tax code (it starts with C). Payroll will flag this PA for the payroll service "
                    "to check by hand.")
        return None


def parse_tax_code(text: str | None) -> TaxCode | None:
    """A tax code as typed ('1257l', '1257L W1', '1257L/M1', 's1257l') or None if blank; refused if not a code."""
    cleaned = re.sub(r"[\s/]+", "", text or "").upper()
    if not cleaned:
        return None
    match = _TAX_CODE.match(cleaned)
    if not match:
        raise EmploymentError(TAX_CODE_FORMAT, "tax_code")
    country, code, basis = match.group("country"), match.group("code"), match.group("basis") or ""
    if code in ("D2", "D3") and country != "S":
        raise EmploymentError("D2 and D3 are Scottish tax codes: they start with S, like SD2", "tax_code")
    return TaxCode(country, code, basis)


def tax_code_warning(code_text: str) -> str | None:
    try:
        code = parse_tax_code(code_text)
    except EmploymentError:
        return None
    return code.warning if code else None


# Recording and changing an employment --------------------------------------------------------------


@dataclass
class Terms:
    """What the employer records about an employment (everything but who the PA is and its end)."""

    start_date: date
    day_rate_pence: int
    job_title: str = "Personal assistant"
    night_rate_pence: int | None = None
    weekend_rate_pence: int | None = None
    sleep_in_pence: int | None = None
    mileage_pence_per_mile: int = 45
    contracted_hours: Decimal | None = None
    pay_period: PayPeriod = PayPeriod.FORTNIGHTLY
    pa_date_of_birth: date | None = None
    ni_number: str = ""
    tax_code: str = ""
    starter_declaration: StarterDeclaration | None = None
    holiday_method: HolidayMethod = HolidayMethod.ACCRUED
    pension_status: PensionStatus = PensionStatus.NOT_ASSESSED
    pension_assessed_on: date | None = None
    relationship_to_employer: Relationship = Relationship.NONE
    same_household: bool = False
    council_agreed_on: date | None = None
    council_agreed_by: str = ""
    working_time_opt_out: bool = False
    contract_issued_on: date | None = None
    right_to_work_seen_on: date | None = None
    # The P45 from the PA's previous job (all optional): pay and tax to date, and its leaving date.
    p45_pay_to_date_pence: int | None = None
    p45_tax_to_date_pence: int | None = None
    p45_leaving_date: date | None = None
    student_loan: StudentLoan | None = None
    postgraduate_loan: PostgraduateLoan | None = None
    attachment_of_earnings: bool = False

    @classmethod
    def of(cls, employment: Employment) -> "Terms":
        return cls(**{name: getattr(employment, name) for name in cls.__dataclass_fields__})


@dataclass(frozen=True)
class NewPA:
    given_name: str
    family_name: str
    email: str = ""


def _age_on(born: date, day: date) -> int:
    return day.year - born.year - ((day.month, day.day) < (born.month, born.day))


def _checked_terms(terms: Terms, today: date) -> Terms:
    """The terms tidied (NI number and tax code in their stored form), or every problem found."""
    problems: list[tuple[str | None, str]] = []

    def refuse(field_name: str, message: str) -> None:
        problems.append((field_name, message))

    job_title = (terms.job_title or "").strip() or "Personal assistant"
    if len(job_title) > 100:
        refuse("job_title", "The job title must be 100 characters or fewer")
    if terms.day_rate_pence is None or terms.day_rate_pence <= 0:
        refuse("day_rate", "The hourly rate for daytime hours must be more than £0")
    for name, label in (("night_rate", "night hours"), ("weekend_rate", "weekends")):
        value = getattr(terms, f"{name}_pence")
        if value is not None and value <= 0:
            refuse(name, f"The hourly rate for {label} must be more than £0, or leave it blank")
    if terms.sleep_in_pence is not None and terms.sleep_in_pence <= 0:
        refuse("sleep_in", "The amount for a sleep-in must be more than £0, or leave it blank")
    if terms.mileage_pence_per_mile is None or terms.mileage_pence_per_mile < 0:
        refuse("mileage", "The mileage rate cannot be less than £0")
    if terms.contracted_hours is not None and not (0 < terms.contracted_hours <= MAX_HOURS_A_WEEK):
        refuse("contracted_hours", "Contracted hours must be more than 0 and no more than 168 a week")
    born = terms.pa_date_of_birth
    if born is not None:
        if born >= terms.start_date:
            refuse("pa_date_of_birth", "The PA's date of birth must be before the start date")
        elif _age_on(born, terms.start_date) < MINIMUM_AGE:
            refuse("pa_date_of_birth", f"A PA must be at least {MINIMUM_AGE} on the start date")
    ni_number = ""
    try:
        ni_number = normalise_ni_number(terms.ni_number)
    except EmploymentError as error:
        problems.extend(error.problems)
    tax_code = ""
    try:
        parsed = parse_tax_code(terms.tax_code)
        tax_code = parsed.text if parsed else ""
    except EmploymentError as error:
        problems.extend(error.problems)
    if terms.pension_status == PensionStatus.NOT_ASSESSED:
        if terms.pension_assessed_on is not None:
            refuse("pension_status", "Select the result of the pension assessment, or leave the date blank")
    elif terms.pension_assessed_on is None:
        refuse("pension_assessed_on", "Enter the date the PA was assessed for a workplace pension")
    for name, what in (("contract_issued_on", "date the written contract was given"),
                       ("right_to_work_seen_on", "date the right-to-work documents were checked"),
                       ("pension_assessed_on", "date of the pension assessment"),
                       ("council_agreed_on", "date the council agreed")):
        value = getattr(terms, name)
        if value is not None and value > today:
            refuse(name, f"The {what} must be today or in the past")

    problems.extend(_p45_problems(terms, today))

    relationship = terms.relationship_to_employer
    caught = relationship == Relationship.PARTNER or (relationship.is_close_family and terms.same_household)
    agreed_by = (terms.council_agreed_by or "").strip()
    agreed_on = terms.council_agreed_on
    if caught:
        if agreed_on is not None and not agreed_by:
            refuse("council_agreed_by", "Enter who at the council agreed")
        elif agreed_by and agreed_on is None:
            refuse("council_agreed_on", "Enter the date the council agreed")
        if len(agreed_by) > 120:
            refuse("council_agreed_by", "Who agreed must be 120 characters or fewer")
    else:  # nothing for the council to agree: keep no stray answer
        agreed_by, agreed_on = "", None
    if problems:
        raise EmploymentError(problems[0][1], problems=problems)
    return replace(terms, job_title=job_title, ni_number=ni_number, tax_code=tax_code,
                   council_agreed_by=agreed_by, council_agreed_on=agreed_on)


def tax_year_start(day: date) -> date:
    """6 April of the tax year that holds the day."""
    start = date(day.year, 4, 6)
    return start if day >= start else date(day.year - 1, 4, 6)


def _p45_problems(terms: Terms, today: date) -> list[tuple[str, str]]:
    """The P45 from the previous job: figures not negative, tax no more than the pay, and a leaving date
    (needed with figures, to know their tax year) not in the future and in the tax year this job starts
    in: a P45 from an earlier tax year carries nothing into this one (HMRC: use the starter checklist),
    and a new starter hands in their P45 when they start."""
    problems = []
    pay, tax, leaving = terms.p45_pay_to_date_pence, terms.p45_tax_to_date_pence, terms.p45_leaving_date
    if pay is not None and pay < 0:
        problems.append(("p45_pay_to_date", "The pay to date from the P45 cannot be less than £0"))
    if tax is not None and tax < 0:
        problems.append(("p45_tax_to_date", "The tax to date from the P45 cannot be less than £0. If the P45 shows a "
                                            "refund, ask the payroll service"))
    elif tax is not None and pay is None:
        problems.append(("p45_pay_to_date", "Enter the pay to date from the P45 as well as the tax"))
    elif tax is not None and pay >= 0 and tax > pay:
        problems.append(("p45_tax_to_date", "The tax to date from the P45 cannot be more than the pay to date"))
    if leaving is None:
        if pay is not None or tax is not None:
            problems.append(("p45_leaving_date", "Enter the leaving date from the P45, so payroll knows which tax year "
                                                 "its pay and tax are for"))
        return problems
    if leaving > today:
        problems.append(("p45_leaving_date", "The leaving date on the P45 must be today or in the past"))
    elif terms.start_date is not None and leaving < tax_year_start(terms.start_date):
        year = tax_year_start(terms.start_date)
        problems.append(("p45_leaving_date", f"The leaving date on the P45 must be on or after {long_date(year)}, the start of "
                                             f"the tax year this job starts in. A P45 from an earlier tax year is not used: "
                                             "leave the P45 answers blank and answer the starter checklist question"))
    elif terms.start_date is not None and leaving >= date(tax_year_start(terms.start_date).year + 1, 4, 6):
        end = date(tax_year_start(terms.start_date).year + 1, 4, 5)
        problems.append(("p45_leaving_date", f"The leaving date on the P45 must be on or before {long_date(end)}, the end of "
                                             "the tax year this job starts in: a P45 is handed in when a job starts, so one "
                                             "from a later job that ended is for that job's own payroll"))
    return problems


def _overlapping(employer_id: int, pa_id: int, start: date, end: date | None, except_id: int | None = None) -> Employment | None:
    """Another spell of the same PA with the same employer that shares a day with start..end."""
    query = sa.select(Employment).where(
        Employment.employer_id == employer_id,
        Employment.pa_id == pa_id,
        sa.or_(Employment.end_date.is_(None), Employment.end_date >= start),
    )
    if end is not None:
        query = query.where(Employment.start_date <= end)
    if except_id is not None:
        query = query.where(Employment.id != except_id)
    return db.session.scalars(query.order_by(Employment.start_date)).first()


def _overlap_message(other: Employment) -> str:
    if other.end_date is None:
        return (f"{other.pa.full_name} already has an employment here from {long_date(other.start_date)} that has not "
                "ended. Record the end of that employment first, or change it")
    return (f"{other.pa.full_name} already has an employment here from {long_date(other.start_date)} to "
            f"{long_date(other.end_date)}. The dates must not overlap")


def _apply(employment: Employment, terms: Terms) -> None:
    for name in Terms.__dataclass_fields__:
        setattr(employment, name, getattr(terms, name))


def previous_pas(employer_id: int) -> list[Person]:
    """People who worked for this employer before and have no current or future spell: they may start again."""
    rows = db.session.scalars(
        sa.select(Employment).where(Employment.employer_id == employer_id).order_by(Employment.start_date)
    ).all()
    open_ids = {e.pa_id for e in rows if e.end_date is None}
    seen: dict[int, Person] = {}
    for e in rows:
        if e.pa_id not in open_ids:
            seen[e.pa_id] = e.pa
    return sorted(seen.values(), key=lambda p: (p.family_name, p.given_name, p.id))


def record_employment(employer_id: int, terms: Terms, *, new_pa: NewPA | None = None, pa_id: int | None = None,
                      today: date | None = None) -> tuple[Employment, list[str]]:
    """A new employment, with a new PA person or one who worked for this employer before.

    Returns the employment and any warnings to show (they do not stop it being recorded).
    """
    today = today or london_today()
    problems: list[tuple[str | None, str]] = []
    pa: Person | None = None
    if pa_id is not None:
        if pa_id not in {p.id for p in previous_pas(employer_id)}:
            raise EmploymentError("Select someone who worked for this employer before, or someone new", "who")
        pa = db.session.get(Person, pa_id)
    elif new_pa is None:
        raise EmploymentError("Select who the PA is", "who")
    else:
        given, family = new_pa.given_name.strip(), new_pa.family_name.strip()
        email = new_pa.email.strip().lower()
        if not given:
            problems.append(("given_name", "Enter the PA's first name"))
        elif len(given) > 100:
            problems.append(("given_name", "First name must be 100 characters or fewer"))
        if not family:
            problems.append(("family_name", "Enter the PA's last name"))
        elif len(family) > 100:
            problems.append(("family_name", "Last name must be 100 characters or fewer"))
        if email and (len(email) > 200 or not re.match(r"^[^@\s]+@[^@\s]+\.[^@\s]+$", email)):
            problems.append(("email", "Enter an email address in the correct format, like name@example.com"))
    try:
        checked = _checked_terms(terms, today)
    except EmploymentError as error:
        problems.extend(error.problems)
    if problems:
        raise EmploymentError(problems[0][1], problems=problems)
    if pa is None:
        pa = Person(given_name=given, family_name=family, email=email)
        db.session.add(pa)
        db.session.flush()
    else:
        other = _overlapping(employer_id, pa.id, checked.start_date, None)
        if other is not None:
            raise EmploymentError(_overlap_message(other), "start_date")
    employment = Employment(pa_id=pa.id, employer_id=employer_id)
    _apply(employment, checked)
    employment.pa = pa
    db.session.add(employment)
    db.session.flush()
    return employment, employment_warnings(employment, today)


def update_employment(employment: Employment, terms: Terms, *, today: date | None = None) -> list[str]:
    """Change the terms of an employment (not who the PA is, nor its end). Returns warnings."""
    today = today or london_today()
    checked = _checked_terms(terms, today)
    if employment.end_date is not None and checked.start_date > employment.end_date:
        raise EmploymentError(
            f"The start date must be on or before the last day, {long_date(employment.end_date)}", "start_date")
    other = _overlapping(employment.employer_id, employment.pa_id, checked.start_date, employment.end_date,
                         except_id=employment.id)
    if other is not None:
        raise EmploymentError(_overlap_message(other), "start_date")
    first_leave = db.session.scalar(
        sa.select(sa.func.min(LeaveRecord.first_day)).where(LeaveRecord.employment_id == employment.id))
    if first_leave is not None and first_leave < checked.start_date:
        raise EmploymentError(
            f"Holiday or sickness is recorded from {long_date(first_leave)}, before that start date", "start_date")
    first_shift = db.session.scalar(
        sa.select(sa.func.min(Shift.work_date)).join(Timesheet, Timesheet.id == Shift.timesheet_id)
        .where(Timesheet.employment_id == employment.id))
    if first_shift is not None and first_shift < checked.start_date:
        raise EmploymentError(f"A shift is recorded on {long_date(first_shift)}, before that start date", "start_date")
    _apply(employment, checked)
    db.session.flush()
    return employment_warnings(employment, today)


def end_employment(employment: Employment, last_day: date | None, reason: str) -> None:
    """Record the last day of an employment and why it ended (a correction if it had already ended)."""
    reason = (reason or "").strip()
    problems: list[tuple[str | None, str]] = []
    if last_day is None:
        problems.append(("last_day", "Enter the PA's last day"))
    elif last_day < employment.start_date:
        problems.append(("last_day", f"The last day must be on or after the start date, {long_date(employment.start_date)}"))
    if not reason:
        problems.append(("reason", "Enter why the employment ended"))
    elif len(reason) > 200:
        problems.append(("reason", "The reason must be 200 characters or fewer"))
    if problems:
        raise EmploymentError(problems[0][1], problems=problems)
    last_leave = db.session.scalar(
        sa.select(sa.func.max(LeaveRecord.last_day)).where(LeaveRecord.employment_id == employment.id))
    if last_leave is not None and last_leave > last_day:
        raise EmploymentError(
            f"Holiday or sickness is recorded up to {long_date(last_leave)}, after that last day", "last_day")
    last_shift = db.session.scalar(
        sa.select(sa.func.max(Shift.work_date)).join(Timesheet, Timesheet.id == Shift.timesheet_id)
        .where(Timesheet.employment_id == employment.id))
    if last_shift is not None and last_shift > last_day:
        raise EmploymentError(f"A shift is recorded on {long_date(last_shift)}, after that last day", "last_day")
    other = _overlapping(employment.employer_id, employment.pa_id, employment.start_date, last_day, except_id=employment.id)
    if other is not None:  # cannot happen unless the data is already wrong; never make it worse
        raise EmploymentError(_overlap_message(other), "last_day")
    employment.end_date = last_day
    employment.end_reason = reason
    db.session.flush()


# Minimum wage and other warnings -----------------------------------------------------------------------

WAGE_BANDS = (
    (21, "minimum_wage.21_and_over", "the National Living Wage (age 21 and over)"),
    (18, "minimum_wage.18_to_20", "the National Minimum Wage for age 18 to 20"),
    (16, "minimum_wage.16_to_17", "the National Minimum Wage for age 16 to 17"),
)


def minimum_wage(born: date | None, on: date) -> tuple[int, str] | None:
    """The hourly minimum (pence) for the PA's age on that day, and its name (21 and over if age unknown)."""
    age = _age_on(born, on) if born else 21
    for lowest, key, name in WAGE_BANDS:
        if age >= lowest:
            rate = local_settings.national_rate(key, on)
            return (rate, name) if rate is not None else None
    return None


def employment_warnings(employment: Employment, today: date | None = None) -> list[str]:
    """Things to point out about an employment that do not stop it being recorded."""
    today = today or london_today()
    warnings: list[str] = []
    day = max(employment.start_date, today)
    if employment.end_date is not None:
        day = min(day, employment.end_date)
    minimum = minimum_wage(employment.pa_date_of_birth, day)
    if minimum is not None:
        rate, name = minimum
        for attr, label in (("day_rate_pence", "daytime"), ("night_rate_pence", "night"), ("weekend_rate_pence", "weekend")):
            value = getattr(employment, attr)
            if value and value < rate:  # 0: no rate recorded yet (shown as such), not a rate below the minimum
                warnings.append(f"The {label} rate of {_pounds(value)} an hour is below {name}, "
                                f"{_pounds(rate)} an hour on {long_date(day)}. A PA must be paid at least that.")
    warning = tax_code_warning(employment.tax_code)
    if warning:
        warnings.append(warning)
    if employment.p45_pay_to_date_pence or employment.p45_tax_to_date_pence:
        try:
            code = parse_tax_code(employment.tax_code)
        except EmploymentError:
            code = None
        if code is not None and not code.cumulative:
            warnings.append("The tax code is on a week 1 / month 1 basis, so payroll does not use the pay and tax to date "
                            "from the P45: each period's tax is worked out on that period's pay alone.")
        elif code is None and employment.p45_leaving_date is not None:
            warnings.append("Record the tax code shown on the P45. Until then payroll uses the emergency code 0T on a week 1 / "
                            "month 1 basis, which does not use the P45's pay and tax to date.")
    if employment.needs_council_agreement:
        warnings.append(close_family_message(employment))
    return warnings


def close_family_message(employment: Employment) -> str:
    who = employment.pa.full_name
    if employment.relationship_to_employer == Relationship.PARTNER:
        what = f"{who} is the employer's spouse, civil partner or partner"
    else:
        what = f"{who} is a close relative who lives in the same household"
    return (f"{what}. A direct payment can pay them only if the council agrees it is necessary, "
            "and no agreement is recorded.")


# Holiday and sickness -----------------------------------------------------------------------------------


def leave_days(record: LeaveRecord) -> int:
    return (record.last_day - record.first_day).days + 1


def record_leave(employment: Employment, kind: LeaveKind, first_day: date | None, last_day: date | None, *,
                 hours: Decimal | None = None, note: str = "", user_id: int | None = None) -> LeaveRecord:
    """Holiday (with the hours taken) or sickness (the days are the dates) inside the employment."""
    note = (note or "").strip()
    problems: list[tuple[str | None, str]] = []
    if first_day is None:
        problems.append(("first_day", "Enter the first day"))
    if last_day is None:
        problems.append(("last_day", "Enter the last day"))
    if first_day and last_day and last_day < first_day:
        problems.append(("last_day", "The last day must be the same as or after the first day"))
    if first_day and first_day < employment.start_date:
        problems.append(("first_day", f"The first day must be on or after the start of the employment, "
                                      f"{long_date(employment.start_date)}"))
    if last_day and employment.end_date is not None and last_day > employment.end_date:
        problems.append(("last_day", f"The last day must be on or before the end of the employment, "
                                     f"{long_date(employment.end_date)}"))
    if kind == LeaveKind.HOLIDAY:
        if hours is None:
            problems.append(("hours", "Enter the hours of holiday taken"))
        elif hours <= 0:
            problems.append(("hours", "The hours of holiday must be more than 0"))
        elif first_day and last_day and last_day >= first_day:
            most = MAX_HOURS_A_DAY * ((last_day - first_day).days + 1)
            if hours > most:
                problems.append(("hours", f"The hours of holiday cannot be more than {most:g} for those dates"))
    else:
        hours = None  # sickness is counted in days: the dates say how many
    if len(note) > 200:
        problems.append(("note", "The note must be 200 characters or fewer"))
    if problems:
        raise EmploymentError(problems[0][1], problems=problems)
    clash = db.session.scalars(
        sa.select(LeaveRecord).where(
            LeaveRecord.employment_id == employment.id, LeaveRecord.kind == kind,
            LeaveRecord.first_day <= last_day, LeaveRecord.last_day >= first_day,
        )
    ).first()
    if clash is not None:
        raise EmploymentError(
            f"{str(kind).capitalize()} is already recorded from {long_date(clash.first_day)} to "
            f"{long_date(clash.last_day)}. The dates must not overlap", "first_day")
    record = LeaveRecord(employment_id=employment.id, kind=kind, first_day=first_day, last_day=last_day,
                         hours=hours, note=note, recorded_by_id=user_id)
    db.session.add(record)
    db.session.flush()
    return record


def leave_records(employment: Employment) -> list[LeaveRecord]:
    return list(db.session.scalars(
        sa.select(LeaveRecord).where(LeaveRecord.employment_id == employment.id)
        .order_by(LeaveRecord.first_day.desc(), LeaveRecord.id.desc())
    ))


# Employer's liability insurance ---------------------------------------------------------------------------


def _employees_between(employer_id: int, first: date, last: date) -> list[Employment]:
    return list(db.session.scalars(
        sa.select(Employment).where(
            Employment.employer_id == employer_id, Employment.start_date <= last,
            sa.or_(Employment.end_date.is_(None), Employment.end_date >= first),
        )
    ))


def all_close_relatives(employments: list[Employment]) -> bool:
    """Whether every one of these employees is a relative the 1969 Act exempts (False when there are none)."""
    return bool(employments) and all(e.relationship_to_employer in INSURANCE_EXEMPT for e in employments)


def record_insurance(employer_id: int, insurer: str, policy_number: str, cover_pence: int | None,
                     starts_on: date | None, expires_on: date | None, *, user_id: int | None = None) -> EmployerInsurance:
    """Record a policy. Cover of at least £5,000,000 unless every PA in the policy's dates is a close relative."""
    insurer, policy_number = (insurer or "").strip(), (policy_number or "").strip()
    problems: list[tuple[str | None, str]] = []
    if not insurer:
        problems.append(("insurer", "Enter the name of the insurer"))
    elif len(insurer) > 120:
        problems.append(("insurer", "The insurer's name must be 120 characters or fewer"))
    if not policy_number:
        problems.append(("policy_number", "Enter the policy number"))
    elif len(policy_number) > 60:
        problems.append(("policy_number", "The policy number must be 60 characters or fewer"))
    if starts_on is None:
        problems.append(("starts_on", "Enter the date the policy starts"))
    if expires_on is None:
        problems.append(("expires_on", "Enter the date the policy ends"))
    elif starts_on is not None and expires_on <= starts_on:
        problems.append(("expires_on", "The date the policy ends must be after the date it starts"))
    if cover_pence is None:
        problems.append(("cover", "Enter how much the policy covers"))
    elif cover_pence <= 0:
        problems.append(("cover", "The cover must be more than £0"))
    elif cover_pence > MAX_COVER_PENCE:
        problems.append(("cover", f"Enter cover up to {_pounds(MAX_COVER_PENCE)}. If the policy covers more, "
                                  f"enter {_pounds(MAX_COVER_PENCE)}"))
    elif cover_pence < MIN_COVER_PENCE and starts_on and expires_on and expires_on > starts_on:
        if not all_close_relatives(_employees_between(employer_id, starts_on, expires_on)):
            problems.append(("cover", "Employer's liability insurance must cover at least £5,000,000 "
                                      "(unless every PA is a close relative)"))
    if problems:
        raise EmploymentError(problems[0][1], problems=problems)
    policy = EmployerInsurance(employer_id=employer_id, insurer=insurer, policy_number=policy_number,
                               cover_pence=cover_pence, starts_on=starts_on, expires_on=expires_on,
                               recorded_by_id=user_id)
    db.session.add(policy)
    db.session.flush()
    return policy


def insurance_policies(employer_id: int) -> list[EmployerInsurance]:
    return list(db.session.scalars(
        sa.select(EmployerInsurance).where(EmployerInsurance.employer_id == employer_id)
        .order_by(EmployerInsurance.starts_on.desc(), EmployerInsurance.id.desc())
    ))


# The employer's duties ------------------------------------------------------------------------------------


class DutyState(StrEnum):
    DONE = "done"
    CURRENT = "current"
    EXPIRING = "expiring soon"
    EXPIRED = "expired"
    NOT_DONE = "not done yet"
    NOT_NEEDED = "not needed"


ATTENTION = frozenset({DutyState.EXPIRING, DutyState.EXPIRED, DutyState.NOT_DONE})


@dataclass(frozen=True)
class Duty:
    """One of the employer's duties, its state and dates, and a plain-English message about it."""

    kind: str  # "insurance", "contract", "right_to_work", "pension", "council_agreement"
    title: str
    state: DutyState
    message: str
    employment_id: int | None = None
    pa_name: str = ""
    done_on: date | None = None
    due_on: date | None = None
    expires_on: date | None = None
    details: dict = field(default_factory=dict, compare=False)

    @property
    def needs_attention(self) -> bool:
        return self.state in ATTENTION


def _covered_until(policies: list[EmployerInsurance], today: date) -> tuple[date, EmployerInsurance] | None:
    """The last day of unbroken cover from today (a renewal starting by the day after an expiry continues it)."""
    current = [p for p in policies if p.starts_on <= today <= p.expires_on]
    if not current:
        return None
    until = max(p.expires_on for p in current)
    in_force = max(current, key=lambda p: (p.expires_on, p.id))
    changed = True
    while changed:
        changed = False
        for p in policies:
            if p.starts_on <= until + timedelta(days=1) and p.expires_on > until:
                until, changed = p.expires_on, True
    return until, in_force


def insurance_duty(employer_id: int, today: date, employees: list[Employment] | None = None) -> Duty:
    title = "Employer's liability insurance"
    if employees is None:
        employees = _current_and_future(employer_id, today)
    policies = insurance_policies(employer_id)
    exempt = all_close_relatives(employees)
    covered = _covered_until(policies, today)
    if covered is not None:
        until, policy = covered
        days = (until - today).days
        if policy.cover_pence < MIN_COVER_PENCE and employees and not exempt:
            return Duty("insurance", title, DutyState.NOT_DONE,
                        f"The policy covers {_pounds(policy.cover_pence)}, less than the £5,000,000 required now that "
                        "not every PA is a close relative. Increase the cover and record the policy.",
                        expires_on=until)
        if days <= EXPIRY_WARNING_DAYS and employees:
            when = "today" if days == 0 else f"in {days} day{'s' if days != 1 else ''}"
            return Duty("insurance", title, DutyState.EXPIRING,
                        f"Employer's liability insurance ends on {long_date(until)}, {when}. "
                        "Renew it and record the new policy.", expires_on=until)
        return Duty("insurance", title, DutyState.CURRENT,
                    f"Insured with {policy.insurer} until {long_date(until)}.", expires_on=until)
    if not employees:
        return Duty("insurance", title, DutyState.NOT_NEEDED, "Not needed while no PA is employed.")
    if exempt:
        return Duty("insurance", title, DutyState.NOT_NEEDED,
                    "Not compulsory while every PA is a close relative, but you may still want it.")
    future = [p for p in policies if p.starts_on > today]
    past = [p for p in policies if p.expires_on < today]
    later = f" A policy starts on {long_date(min(p.starts_on for p in future))}." if future else ""
    if past:
        ended = max(p.expires_on for p in past)
        return Duty("insurance", title, DutyState.EXPIRED,
                    f"Employer's liability insurance expired on {long_date(ended)}. It is compulsory when you employ "
                    f"a PA: renew it and record the new policy.{later}", expires_on=ended)
    return Duty("insurance", title, DutyState.NOT_DONE,
                f"No employer's liability insurance is recorded yet. It is compulsory when you employ a PA.{later}")


def _current_and_future(employer_id: int, today: date) -> list[Employment]:
    return list(db.session.scalars(
        sa.select(Employment).where(
            Employment.employer_id == employer_id,
            sa.or_(Employment.end_date.is_(None), Employment.end_date >= today),
        ).order_by(Employment.start_date, Employment.id)
    ))


def employment_duties(employment: Employment, today: date) -> list[Duty]:
    """The duties for one employment: written contract, right to work, pension, and council agreement if needed."""
    name, eid, start = employment.pa.full_name, employment.id, employment.start_date
    duties = []

    def one(kind, title, done_on, due_on, done_text, todo_text):
        if done_on is not None:
            duties.append(Duty(kind, title, DutyState.DONE, f"{done_text} on {long_date(done_on)}.",
                               employment_id=eid, pa_name=name, done_on=done_on, due_on=due_on))
        else:
            when = "was due by" if due_on < today else "due by"
            duties.append(Duty(kind, title, DutyState.NOT_DONE, f"{todo_text} ({when} {long_date(due_on)}).",
                               employment_id=eid, pa_name=name, due_on=due_on))

    one("contract", "Written contract", employment.contract_issued_on, start,
        "Written contract given", f"{name} has not been given a written contract yet")
    one("right_to_work", "Right to work", employment.right_to_work_seen_on, start,
        "Right-to-work documents checked", f"{name}'s right to work in the UK has not been checked yet")
    one("pension", "Workplace pension", employment.pension_assessed_on, start + timedelta(days=PENSION_DUE_DAYS),
        "Assessed for a workplace pension", f"{name} has not been assessed for a workplace pension yet")
    if employment.needs_council_agreement:
        duties.append(Duty("council_agreement", "Council agreement", DutyState.NOT_DONE, close_family_message(employment),
                           employment_id=eid, pa_name=name))
    return duties


def employer_duties(employer_id: int, today: date | None = None) -> list[Duty]:
    """Insurance first, then each current or future PA's duties."""
    today = today or london_today()
    employees = _current_and_future(employer_id, today)
    duties = [insurance_duty(employer_id, today, employees)]
    for employment in employees:
        duties.extend(employment_duties(employment, today))
    return duties


def duties_needing_attention(employer_id: int, today: date | None = None) -> list[Duty]:
    """What is expired, expiring within 30 days, or not done yet (for reminders and support staff)."""
    return [duty for duty in employer_duties(employer_id, today) if duty.needs_attention]


# Inviting the PA to link a portal account ---------------------------------------------------------------


@dataclass
class Invitation:
    """What invite_pa did: a new PA account with a set-password token, or a request to an existing
    PA account that the PA confirms (nothing is linked until they do)."""

    user: User
    token: str | None
    request: EmploymentLinkRequest | None = None

    @property
    def asked_to_confirm(self) -> bool:
        return self.request is not None


def pa_account(person_id: int) -> User | None:
    return db.session.scalar(sa.select(User).where(User.person_id == person_id))


def _spells_of(employment: Employment) -> list[Employment]:
    """This employer's employments of the same PA record (every spell moves together)."""
    return list(db.session.scalars(
        sa.select(Employment).where(Employment.employer_id == employment.employer_id, Employment.pa_id == employment.pa_id)
        .order_by(Employment.start_date)
    ))


def _check_no_overlap(moving: list[Employment], target: int) -> None:
    for spell in moving:
        other = _overlapping(spell.employer_id, target, spell.start_date, spell.end_date)
        if other is not None and other.id not in {m.id for m in moving}:
            raise EmploymentError(
                f"The PA with that email address already has an employment here from {long_date(other.start_date)}, "
                "at the same time as this one. Check it is the same person, and end one of the two records", "email")


def invite_pa(employment: Employment, email: str, days: int, *, requested_by_id: int | None = None) -> Invitation:
    """Give the PA a portal account, or ask the PA with that email's account to confirm they work here."""
    email = (email or "").strip().lower()
    if not email:
        raise EmploymentError("Enter the PA's email address", "email")
    if len(email) > 200 or not re.match(r"^[^@\s]+@[^@\s]+\.[^@\s]+$", email):
        raise EmploymentError("Enter an email address in the correct format, like name@example.com", "email")
    placeholder = employment.pa
    if pa_account(placeholder.id) is not None:
        raise EmploymentError(f"{placeholder.full_name} already has a portal account", "email")
    existing = db.session.scalar(sa.select(User).where(User.email == email))
    if existing is None:
        candidate = accounts.Candidate(placeholder, Role.PA, "personal assistant")
        user, token = accounts.invite_person(candidate, email, days)
        placeholder.email = email
        return Invitation(user, token)
    if existing.role != Role.PA or existing.person_id is None:
        raise EmploymentError("That email address cannot be used for a PA's account. "
                              "Ask the PA for the email address they use as a PA, or for another one", "email")
    if existing.disabled_at is not None:
        raise EmploymentError("The PA account with that email address is switched off. "
                              "Ask the support service to look at it", "email")
    _check_no_overlap(_spells_of(employment), existing.person_id)
    request = db.session.scalar(sa.select(EmploymentLinkRequest).where(
        EmploymentLinkRequest.employment_id == employment.id, EmploymentLinkRequest.pa_user_id == existing.id,
        EmploymentLinkRequest.answered_at.is_(None)))
    if request is None:  # asking twice is one request
        request = EmploymentLinkRequest(employment_id=employment.id, pa_user_id=existing.id, requested_by_id=requested_by_id)
        db.session.add(request)
        db.session.flush()
    notifications.notify([existing], f"employment-link:{request.id}",
                         f"{employment.employer.full_name} says you work for them as a personal assistant. "
                         "Confirm it to see their timesheets here.", f"/employment-requests/{request.id}")
    return Invitation(existing, None, request)


def open_link_requests(user: User) -> list[EmploymentLinkRequest]:
    return list(db.session.scalars(
        sa.select(EmploymentLinkRequest).where(EmploymentLinkRequest.pa_user_id == user.id,
                                               EmploymentLinkRequest.answered_at.is_(None))
        .order_by(EmploymentLinkRequest.id)))


def pending_link_request(employment: Employment) -> EmploymentLinkRequest | None:
    return db.session.scalar(sa.select(EmploymentLinkRequest).where(
        EmploymentLinkRequest.employment_id == employment.id, EmploymentLinkRequest.answered_at.is_(None))
        .order_by(EmploymentLinkRequest.id.desc()).limit(1))


def answer_link_request(request: EmploymentLinkRequest, user: User, accept: bool) -> list[Employment]:
    """The PA says yes (this employer's records of them move to their account) or no. Answering twice changes nothing."""
    if request.pa_user_id != user.id:
        raise EmploymentError("This request is for someone else")
    if request.answered_at is not None:
        return []
    request.answered_at = utcnow()
    request.accepted = accept
    employment = request.employment
    employer_users = timesheet_approvers(employment.employer_id)
    if not accept:
        notifications.notify(employer_users, f"employment-link:{request.id}:declined",
                             f"{user.display_name} says they do not work for you, so their account was not linked.",
                             f"/people/{employment.employer_id}/pas/{employment.id}")
        return []
    moving = _spells_of(employment)
    _check_no_overlap(moving, user.person_id)
    ids = [spell.id for spell in moving]
    for spell in moving:
        spell.pa_id = user.person_id
    # Timesheets and shifts copy the PA from the employment: they follow it to the account's person.
    db.session.execute(sa.update(Timesheet).where(Timesheet.employment_id.in_(ids)).values(pa_id=user.person_id))
    shifts = sa.select(Timesheet.id).where(Timesheet.employment_id.in_(ids))
    db.session.execute(sa.update(Shift).where(Shift.timesheet_id.in_(shifts)).values(pa_id=user.person_id))
    db.session.flush()
    for spell in moving:
        db.session.refresh(spell)
    notifications.notify(employer_users, f"employment-link:{request.id}:accepted",
                         f"{user.display_name} confirmed they work for you. They can now enter their own timesheets.",
                         f"/people/{employment.employer_id}/pas/{employment.id}")
    return moving


def send_link_notice(config: dict, user: User, employer_name: str, link: str) -> None:
    """Ask a PA who already has an account to confirm that they work for this employer."""
    mail.send(
        config,
        user.email,
        "Do you work for this employer?",
        f"Hello {user.display_name},\n\n{employer_name} says you work for them as a personal assistant and "
        f"has asked to add their records to your account on the direct payments service. Sign in to say "
        f"whether that is right:\n\n{link}\n\nNothing is added to your account unless you confirm it.\n",
    )
