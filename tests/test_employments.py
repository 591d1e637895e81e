"""Employment records: recording, changing and ending a PA's employment, holiday and sickness, employer's
liability insurance, the employer's duties, inviting a PA to the portal, and who may do each.

The person (Amina), a manage-level representative (David for Grace) and their DPSS staff (Kim) change
the records; council officers (Rachel) and view-level representatives (David for Sam) only read them.
"""

from datetime import date, timedelta
from decimal import Decimal

import re
from urllib.parse import urlsplit

import pytest
import sqlalchemy as sa

from portal.extensions import db
from portal.models import (
    AuditEvent,
    EmployerInsurance,
    Employment,
    LeaveKind,
    LeaveRecord,
    PayPeriod,
    Person,
    Relationship,
    Role,
    User,
)
from portal.services import employments, mail
from portal.services.employments import DutyState, EmploymentError, NewPA, Terms
from tests.conftest import csrf_token, get_page, post_form, sign_in
from tests.helpers import last_link_sent_to, person_id

AMINA = "amina@example.org"
DAVID = "david@example.org"
KIM = "kim@brightpath.example"
LEE = "lee@brightpath.example"
OMAR = "omar@harbour.example"
RACHEL = "rachel@northfield.example"
ADMIN = "admin@example.org"
SOPHIE = "sophie.pa@example.org"
ELLEN = "ellen@example.org"
TOM = "tom@example.org"
DEMO_START = date(2024, 4, 1)


def _date(day: date | None) -> list[str]:
    """A GOV.UK date input sends three values under one name."""
    return ["", "", ""] if day is None else [str(day.day), str(day.month), str(day.year)]


def employment_of(app, pa_given: str, employer_given: str) -> int:
    with app.app_context():
        return db.session.scalar(
            sa.select(Employment.id)
            .join(Person, Person.id == Employment.pa_id)
            .where(Person.given_name == pa_given, Employment.employer_id == sa.select(Person.id).where(
                Person.given_name == employer_given).scalar_subquery())
        )


def count(app, model) -> int:
    with app.app_context():
        return db.session.scalar(sa.select(sa.func.count()).select_from(model))


def audit_actions(app) -> list[str]:
    with app.app_context():
        return list(db.session.scalars(sa.select(AuditEvent.action).order_by(AuditEvent.id)))


def error_summary(text: str) -> list[str]:
    from bs4 import BeautifulSoup

    soup = BeautifulSoup(text, "html.parser")
    summary = soup.find(class_="govuk-error-summary")
    assert summary is not None, "no error summary"
    links = summary.find_all("a")
    for link in links:  # every link in the summary goes to something on the page
        assert soup.find(id=link["href"].lstrip("#")), f"error summary links to missing {link['href']}"
    return [link.get_text(strip=True) for link in links]


def link(soup, text: str):
    return soup.find("a", string=lambda s: s is not None and s.strip() == text)


def terms(**changes) -> Terms:
    return Terms(**{"start_date": date(2025, 6, 2), "day_rate_pence": 1350, **changes})


NEW_PA = {
    "given_name": "Priya",
    "family_name": "Shah",
    "email": "",
    "job_title": "Personal assistant",
    "start_date": _date(date(2025, 6, 2)),
    "contracted_hours": "12.5",
    "working_time_opt_out": "no",
    "day_rate": "£13.50",
    "night_rate": "14.25",
    "weekend_rate": "",
    "sleep_in": "60",
    "mileage": "0.45",
    "pay_period": "fortnightly",
    "holiday_method": employments.HolidayMethod.ACCRUED.value,
    "pa_date_of_birth": _date(date(1990, 3, 27)),
    "ni_number": "ab 12 34 56 c",
    "tax_code": "1257l",
    "starter_declaration": "",
    "pension_status": employments.PensionStatus.NOT_ASSESSED.value,
    "pension_assessed_on": _date(None),
    "relationship_to_employer": Relationship.NONE.value,
    "same_household": "no",
    "council_agreed_on": _date(None),
    "council_agreed_by": "",
    "contract_issued_on": _date(date(2025, 6, 1)),
    "right_to_work_seen_on": _date(None),
}


def _in(app, fn):
    """Run fn() in an app context and commit (service-level tests)."""
    with app.app_context():
        result = fn()
        db.session.commit()
        return result


# National Insurance numbers and tax codes ---------------------------------------------------------------


@pytest.mark.parametrize("typed, stored", [
    ("AB123456C", "AB123456C"), ("ab 12 34 56 c", "AB123456C"), (" JG 103759 A ", "JG103759A"), ("", ""),
    ("ce123456d", "CE123456D"),
])
def test_ni_numbers_are_stored_upper_case_without_spaces(typed, stored):
    assert employments.normalise_ni_number(typed) == stored


@pytest.mark.parametrize("typed", [
    "AB123456E",  # final letter A to D only
    "AB12345C",  # six digits
    "AB1234567C",
    "A1123456C",
    "AB123456",
    "QQ123456C",  # GOV.UK's example prefix is never issued
    "GB123456A", "NT123456A", "ZZ123456A", "DA123456A", "AO123456A",
])
def test_ni_numbers_in_the_wrong_format_are_refused(typed):
    with pytest.raises(EmploymentError) as refused:
        employments.normalise_ni_number(typed)
    assert refused.value.field == "ni_number"


@pytest.mark.parametrize("typed, stored, cumulative", [
    ("1257L", "1257L", True), ("1257l", "1257L", True), ("BR", "BR", True), ("D0", "D0", True), ("D1", "D1", True),
    ("NT", "NT", True), ("0T", "0T", True), ("K475", "K475", True), ("1257L W1", "1257L W1", False),
    ("1257L/M1", "1257L M1", False), ("1257LX", "1257L X", False), ("br m1", "BR M1", False), ("1100M", "1100M", True),
])
def test_tax_codes_are_accepted_and_tidied(typed, stored, cumulative):
    code = employments.parse_tax_code(typed)
    assert code.text == stored and code.cumulative is cumulative and code.warning is None


@pytest.mark.parametrize("typed, stored, words", [
    ("S1257L", "S1257L", "Scottish"), ("sd2", "SD2", "Scottish"), ("SBR", "SBR", "Scottish"),
    ("C1257L", "C1257L", "Welsh"), ("CK100 W1", "CK100 W1", "Welsh"),
])
def test_scottish_and_welsh_codes_are_accepted_with_a_warning_that_payroll_flags_them(typed, stored, words):
    code = employments.parse_tax_code(typed)
    assert code.text == stored
    assert words in code.warning and "payroll will flag" in code.warning.lower()


@pytest.mark.parametrize("typed", ["1257", "L1257", "D2", "X1257L", "1257LW2", "BRW3", "K", "1234567L", "12 57 L Z"])
def test_tax_codes_in_the_wrong_format_are_refused(typed):
    with pytest.raises(EmploymentError) as refused:
        employments.parse_tax_code(typed)
    assert refused.value.field == "tax_code"


def test_a_blank_tax_code_is_none():
    assert employments.parse_tax_code("  ") is None


# Recording, changing and ending (the service) ---------------------------------------------------------------


def test_recording_a_new_pa_creates_the_person_and_keeps_money_in_pence(app):
    amina = person_id(app, "Amina", "Patel")
    with app.app_context():
        employment, warnings = employments.record_employment(
            amina, terms(night_rate_pence=1425, sleep_in_pence=6000, ni_number="ab 12 34 56 c", tax_code="1257l w1",
                         contracted_hours=Decimal("12.5")),
            new_pa=NewPA(" Priya ", "Shah", "Priya@Example.org"), today=date(2026, 5, 1),
        )
        db.session.commit()
        assert employment.pa.full_name == "Priya Shah" and employment.pa.email == "priya@example.org"
        assert (employment.day_rate_pence, employment.night_rate_pence, employment.sleep_in_pence) == (1350, 1425, 6000)
        assert employment.ni_number == "AB123456C" and employment.tax_code == "1257L W1"
        assert warnings == []
        assert db.session.scalar(sa.select(User.id).where(User.person_id == employment.pa_id)) is None


def test_every_problem_is_reported_at_once_and_nothing_is_saved(app):
    amina = person_id(app, "Amina", "Patel")
    people = count(app, Person)
    with app.app_context():
        with pytest.raises(EmploymentError) as refused:
            employments.record_employment(
                amina, terms(day_rate_pence=0, ni_number="nope", tax_code="XX", pa_date_of_birth=date(2026, 1, 1)),
                new_pa=NewPA("", "", "not-an-email"), today=date(2026, 5, 1),
            )
        db.session.rollback()
    fields = {field for field, _ in refused.value.problems}
    assert fields == {"given_name", "family_name", "email", "day_rate", "ni_number", "tax_code", "pa_date_of_birth"}
    assert count(app, Person) == people and count(app, Employment) == 3


def test_a_pa_must_be_at_least_16_on_the_start_date(app):
    amina = person_id(app, "Amina", "Patel")
    with app.app_context():
        with pytest.raises(EmploymentError, match="at least 16"):
            employments.record_employment(amina, terms(pa_date_of_birth=date(2009, 6, 3)), new_pa=NewPA("A", "B"))
        employment, _ = employments.record_employment(amina, terms(pa_date_of_birth=date(2009, 6, 2)), new_pa=NewPA("A", "B"))
        assert employment.id


def test_pay_below_the_minimum_wage_for_the_pas_age_is_recorded_with_a_warning(app):
    amina = person_id(app, "Amina", "Patel")
    with app.app_context():
        # 12.71 is the National Living Wage from 1 April 2026; 10.85 for 18 to 20.
        _, warnings = employments.record_employment(amina, terms(start_date=date(2026, 5, 1), day_rate_pence=1270),
                                                    new_pa=NewPA("A", "B"), today=date(2026, 5, 1))
        assert len(warnings) == 1 and "below the National Living Wage" in warnings[0] and "£12.71" in warnings[0]
        _, warnings = employments.record_employment(amina, terms(start_date=date(2026, 5, 1), day_rate_pence=1271),
                                                    new_pa=NewPA("C", "D"), today=date(2026, 5, 1))
        assert warnings == []
        _, warnings = employments.record_employment(
            amina, terms(start_date=date(2026, 5, 1), day_rate_pence=1100, pa_date_of_birth=date(2007, 1, 1)),
            new_pa=NewPA("E", "F"), today=date(2026, 5, 1))
        assert warnings == [], "an 19-year-old's minimum is £10.85"


def test_scottish_tax_code_and_close_family_are_warnings_not_refusals(app):
    amina = person_id(app, "Amina", "Patel")
    with app.app_context():
        employment, warnings = employments.record_employment(
            amina, terms(tax_code="S1257L", relationship_to_employer=Relationship.SIBLING, same_household=True),
            new_pa=NewPA("Hana", "Patel"), today=date(2026, 5, 1))
        assert employment.needs_council_agreement
        assert any("Scottish" in w for w in warnings) and any("close relative" in w for w in warnings)


@pytest.mark.parametrize("relationship, household, caught", [
    (Relationship.PARTNER, False, True),  # a partner wherever they live
    (Relationship.PARENT, True, True),
    (Relationship.PARENT, False, False),  # relatives living elsewhere may be paid
    (Relationship.AUNT_UNCLE, True, True),
    (Relationship.OTHER_RELATIVE, True, False),
    (Relationship.NONE, True, False),
])
def test_the_close_family_rule(app, relationship, household, caught):
    amina = person_id(app, "Amina", "Patel")
    with app.app_context():
        employment, _ = employments.record_employment(
            amina, terms(relationship_to_employer=relationship, same_household=household), new_pa=NewPA("R", "P"))
        assert employment.needs_council_agreement is caught
        kinds = [d.kind for d in employments.duties_needing_attention(amina, date(2026, 5, 1))]
        assert ("council_agreement" in kinds) is caught


def test_the_council_agreement_needs_a_date_and_who_agreed_and_then_clears_the_flag(app):
    amina = person_id(app, "Amina", "Patel")
    close = {"relationship_to_employer": Relationship.CHILD, "same_household": True}
    with app.app_context():
        with pytest.raises(EmploymentError) as refused:
            employments.record_employment(amina, terms(council_agreed_on=date(2025, 5, 1), **close), new_pa=NewPA("R", "P"))
        assert refused.value.field == "council_agreed_by"
        with pytest.raises(EmploymentError) as refused:
            employments.record_employment(amina, terms(council_agreed_by="R Moss", **close), new_pa=NewPA("R", "P"))
        assert refused.value.field == "council_agreed_on"
        employment, warnings = employments.record_employment(
            amina, terms(council_agreed_on=date(2025, 5, 1), council_agreed_by="Rachel Moss", **close), new_pa=NewPA("R", "P"))
        assert not employment.needs_council_agreement and warnings == []
        # Not close family: a stray agreement is not kept.
        other, _ = employments.record_employment(
            amina, terms(council_agreed_on=date(2025, 5, 1), council_agreed_by="Someone"), new_pa=NewPA("S", "P"))
        assert other.council_agreed_on is None and other.council_agreed_by == ""


def test_pension_status_and_date_go_together_and_duty_dates_are_not_in_the_future(app):
    amina = person_id(app, "Amina", "Patel")
    with app.app_context():
        with pytest.raises(EmploymentError) as refused:
            employments.record_employment(amina, terms(pension_status=employments.PensionStatus.ENROLLED),
                                          new_pa=NewPA("A", "B"))
        assert refused.value.field == "pension_assessed_on"
        with pytest.raises(EmploymentError) as refused:
            employments.record_employment(amina, terms(pension_assessed_on=date(2025, 6, 2)), new_pa=NewPA("A", "B"))
        assert refused.value.field == "pension_status"
        with pytest.raises(EmploymentError) as refused:
            employments.record_employment(amina, terms(contract_issued_on=date(2026, 5, 2)), new_pa=NewPA("A", "B"),
                                          today=date(2026, 5, 1))
        assert refused.value.field == "contract_issued_on"
        employment, _ = employments.record_employment(amina, terms(contract_issued_on=date(2026, 5, 1)),
                                                      new_pa=NewPA("A", "B"), today=date(2026, 5, 1))
        assert employment.contract_issued_on == date(2026, 5, 1)


def test_the_same_pa_cannot_have_two_employments_with_one_employer_at_once(app):
    amina = person_id(app, "Amina", "Patel")
    sophie_job = employment_of(app, "Sophie", "Amina")
    with app.app_context():
        sophie = db.session.get(Employment, sophie_job).pa_id
        assert sophie not in {p.id for p in employments.previous_pas(amina)}, "she still works there"
        with pytest.raises(EmploymentError, match="Select someone who worked"):
            employments.record_employment(amina, terms(), pa_id=sophie)
        job = db.session.get(Employment, sophie_job)
        employments.end_employment(job, date(2025, 5, 31), "Moved away")
        assert sophie in {p.id for p in employments.previous_pas(amina)}
        with pytest.raises(EmploymentError, match="1 April 2024 to 31 May 2025"):
            employments.record_employment(amina, terms(start_date=date(2025, 5, 31)), pa_id=sophie)
        again, _ = employments.record_employment(amina, terms(start_date=date(2025, 6, 1)), pa_id=sophie)
        db.session.commit()
        assert again.pa_id == sophie and again.start_date == date(2025, 6, 1)


def test_ending_needs_a_reason_and_a_last_day_not_before_the_start(app):
    job_id = employment_of(app, "Joan", "Amina")
    with app.app_context():
        job = db.session.get(Employment, job_id)
        with pytest.raises(EmploymentError) as refused:
            employments.end_employment(job, DEMO_START - timedelta(days=1), "  ")
        assert [f for f, _ in refused.value.problems] == ["last_day", "reason"]
        with pytest.raises(EmploymentError) as refused:
            employments.end_employment(job, None, "Retired")
        assert refused.value.field == "last_day"
        employments.end_employment(job, DEMO_START, " Retired ")  # one day's work is an employment
        db.session.commit()
        assert (job.end_date, job.end_reason) == (DEMO_START, "Retired")


def test_changing_the_start_keeps_leave_inside_and_the_end_after_it(app):
    job_id = employment_of(app, "Joan", "Amina")
    with app.app_context():
        job = db.session.get(Employment, job_id)
        employments.record_leave(job, LeaveKind.SICKNESS, date(2024, 5, 1), date(2024, 5, 2))
        with pytest.raises(EmploymentError, match="Holiday or sickness is recorded from 1 May 2024"):
            employments.update_employment(job, terms(start_date=date(2024, 5, 2)))
        employments.update_employment(job, terms(start_date=date(2024, 5, 1), day_rate_pence=1400))
        assert (job.start_date, job.day_rate_pence) == (date(2024, 5, 1), 1400)
        employments.end_employment(job, date(2024, 12, 31), "Ended")
        with pytest.raises(EmploymentError, match="on or before the last day"):
            employments.update_employment(job, terms(start_date=date(2025, 1, 1)))
        with pytest.raises(EmploymentError, match="up to 2 May 2024"):
            employments.end_employment(job, date(2024, 5, 1), "Ended sooner")


# Holiday and sickness -------------------------------------------------------------------------------------------


def test_leave_is_recorded_inside_the_employment_only(app):
    job_id = employment_of(app, "Joan", "Amina")
    with app.app_context():
        job = db.session.get(Employment, job_id)
        employments.end_employment(job, date(2025, 3, 31), "Retired")
        first = employments.record_leave(job, LeaveKind.HOLIDAY, DEMO_START, DEMO_START, hours=Decimal("7.5"))
        last = employments.record_leave(job, LeaveKind.SICKNESS, date(2025, 3, 28), date(2025, 3, 31), hours=Decimal(5))
        assert first.hours == Decimal("7.5") and last.hours is None and employments.leave_days(last) == 4
        for first_day, last_day, field in (
            (DEMO_START - timedelta(days=1), DEMO_START, "first_day"),
            (date(2025, 3, 31), date(2025, 4, 1), "last_day"),
            (date(2024, 6, 3), date(2024, 6, 2), "last_day"),
        ):
            with pytest.raises(EmploymentError) as refused:
                employments.record_leave(job, LeaveKind.SICKNESS, first_day, last_day)
            assert refused.value.field == field


def test_holiday_needs_sensible_hours_and_the_same_kind_of_leave_cannot_overlap(app):
    job_id = employment_of(app, "Sophie", "Amina")
    with app.app_context():
        job = db.session.get(Employment, job_id)
        monday, tuesday = date(2025, 7, 7), date(2025, 7, 8)
        for hours, words in ((None, "Enter the hours"), (Decimal(0), "more than 0"), (Decimal("48.01"), "more than 48")):
            with pytest.raises(EmploymentError, match=words):
                employments.record_leave(job, LeaveKind.HOLIDAY, monday, tuesday, hours=hours)
        employments.record_leave(job, LeaveKind.HOLIDAY, monday, tuesday, hours=Decimal(48))
        with pytest.raises(EmploymentError, match="Holiday is already recorded from 7 July 2025 to 8 July 2025"):
            employments.record_leave(job, LeaveKind.HOLIDAY, tuesday, date(2025, 7, 9), hours=Decimal(8))
        employments.record_leave(job, LeaveKind.SICKNESS, tuesday, tuesday)  # falling ill on holiday is another matter
        employments.record_leave(job, LeaveKind.HOLIDAY, date(2025, 7, 9), date(2025, 7, 9), hours=Decimal(8))
        db.session.commit()
    assert count(app, LeaveRecord) == 3


# Employer's liability insurance ----------------------------------------------------------------------------------


def test_insurance_cover_must_be_at_least_five_million(app):
    amina = person_id(app, "Amina", "Patel")
    with app.app_context():
        with pytest.raises(EmploymentError) as refused:
            employments.record_insurance(amina, "Acme", "EL-1", 499_999_999, date(2026, 4, 1), date(2027, 3, 31))
        assert refused.value.field == "cover" and "at least £5,000,000" in refused.value.message
        policy = employments.record_insurance(amina, " Acme ", "EL-1", 500_000_000, date(2026, 4, 1), date(2027, 3, 31))
        db.session.commit()
        assert (policy.insurer, policy.cover_pence) == ("Acme", 500_000_000)


def test_insurance_must_end_after_it_starts_and_name_the_insurer_and_policy(app):
    amina = person_id(app, "Amina", "Patel")
    with app.app_context():
        with pytest.raises(EmploymentError) as refused:
            employments.record_insurance(amina, "", "", None, date(2026, 4, 1), date(2026, 4, 1))
        assert [f for f, _ in refused.value.problems] == ["insurer", "policy_number", "expires_on", "cover"]
        employments.record_insurance(amina, "Acme", "EL-1", 500_000_000, date(2026, 4, 1), date(2026, 4, 2))
        with pytest.raises(EmploymentError, match="up to £20,000,000"):
            employments.record_insurance(amina, "Acme", "EL-2", 2_000_000_001, date(2026, 4, 1), date(2027, 3, 31))


def test_less_cover_is_allowed_only_when_every_pa_is_a_close_relative(app):
    tom = person_id(app, "Tom", "Hughes")  # one PA, Leon
    leon_job = employment_of(app, "Leon", "Tom")
    with app.app_context():
        job = db.session.get(Employment, leon_job)
        job.relationship_to_employer = Relationship.AUNT_UNCLE  # close family for paying, not for the 1969 Act
        with pytest.raises(EmploymentError, match="at least £5,000,000"):
            employments.record_insurance(tom, "Acme", "EL-1", 100_000_000, date(2026, 4, 1), date(2027, 3, 31))
        job.relationship_to_employer = Relationship.SIBLING
        employments.record_insurance(tom, "Acme", "EL-1", 100_000_000, date(2026, 4, 1), date(2027, 3, 31))
        assert employments.insurance_duty(tom, date(2026, 5, 1)).state == DutyState.CURRENT
        # A PA who is not a relative joins: the small policy is no longer enough.
        employments.record_employment(tom, terms(start_date=date(2026, 5, 1)), new_pa=NewPA("Nia", "Jones"))
        duty = employments.insurance_duty(tom, date(2026, 5, 1))
        assert duty.state == DutyState.NOT_DONE and "£1,000,000, less than the £5,000,000" in duty.message


# The employer's duties -----------------------------------------------------------------------------------------


def test_duties_say_what_is_not_done_yet(app):
    amina = person_id(app, "Amina", "Patel")
    with app.app_context():
        duties = employments.employer_duties(amina, date(2026, 5, 1))
        assert [(d.kind, d.pa_name) for d in duties] == [
            ("insurance", ""),
            ("contract", "Sophie Clarke"), ("right_to_work", "Sophie Clarke"), ("pension", "Sophie Clarke"),
            ("contract", "Joan Price"), ("right_to_work", "Joan Price"), ("pension", "Joan Price"),
        ]
        assert all(d.state == DutyState.NOT_DONE for d in duties)
        messages = [d.message for d in employments.duties_needing_attention(amina, date(2026, 5, 1))]
        assert messages[0].startswith("No employer's liability insurance is recorded yet")
        assert "Sophie Clarke has not been given a written contract yet (was due by 1 April 2024)." in messages
        assert "Joan Price has not been assessed for a workplace pension yet (was due by 13 May 2024)." in messages


def test_duties_done_are_not_reminders(app):
    amina = person_id(app, "Amina", "Patel")
    with app.app_context():
        for job in db.session.scalars(sa.select(Employment).where(Employment.employer_id == amina)):
            job.contract_issued_on = job.right_to_work_seen_on = job.pension_assessed_on = DEMO_START
        employments.record_insurance(amina, "Acme", "EL-1", 1_000_000_000, date(2026, 4, 1), date(2027, 3, 31))
        assert employments.duties_needing_attention(amina, date(2026, 5, 1)) == []
        done = employments.employer_duties(amina, date(2026, 5, 1))
        assert {d.state for d in done} == {DutyState.DONE, DutyState.CURRENT}
        assert done[0].message == "Insured with Acme until 31 March 2027." and done[0].expires_on == date(2027, 3, 31)


@pytest.mark.parametrize("today, state, words", [
    (date(2027, 2, 28), DutyState.CURRENT, "until 31 March 2027"),  # 31 days to go
    (date(2027, 3, 1), DutyState.EXPIRING, "ends on 31 March 2027, in 30 days"),
    (date(2027, 3, 31), DutyState.EXPIRING, "ends on 31 March 2027, today"),
    (date(2027, 4, 1), DutyState.EXPIRED, "expired on 31 March 2027"),
])
def test_insurance_expiring_within_30_days_and_expired(app, today, state, words):
    amina = person_id(app, "Amina", "Patel")
    with app.app_context():
        employments.record_insurance(amina, "Acme", "EL-1", 1_000_000_000, date(2026, 4, 1), date(2027, 3, 31))
        duty = employments.insurance_duty(amina, today)
        assert duty.state == state and words in duty.message
        assert duty.needs_attention is (state != DutyState.CURRENT)


def test_a_renewal_recorded_in_time_means_no_reminder(app):
    amina = person_id(app, "Amina", "Patel")
    with app.app_context():
        employments.record_insurance(amina, "Acme", "EL-1", 1_000_000_000, date(2026, 4, 1), date(2027, 3, 31))
        employments.record_insurance(amina, "Acme", "EL-2", 1_000_000_000, date(2027, 4, 1), date(2028, 3, 31))
        duty = employments.insurance_duty(amina, date(2027, 3, 20))
        assert duty.state == DutyState.CURRENT and duty.expires_on == date(2028, 3, 31)


def test_an_employer_with_no_current_pa_needs_no_insurance(app):
    ellen = person_id(app, "Ellen", "Marsh")
    with app.app_context():
        assert [d.state for d in employments.employer_duties(ellen, date(2026, 5, 1))] == [DutyState.NOT_NEEDED]
        assert employments.duties_needing_attention(ellen, date(2026, 5, 1)) == []


def test_ended_employments_have_no_duties_left(app):
    tom = person_id(app, "Tom", "Hughes")
    leon_job = employment_of(app, "Leon", "Tom")
    with app.app_context():
        employments.end_employment(db.session.get(Employment, leon_job), date(2026, 1, 31), "Resigned")
        assert employments.duties_needing_attention(tom, date(2026, 5, 1)) == []
        assert len(employments.duties_needing_attention(tom, date(2026, 1, 31))) == 4


# Inviting the PA (the service) ---------------------------------------------------------------------------------


def test_inviting_a_pa_without_an_account_creates_a_pa_account_for_them(app):
    joan_job = employment_of(app, "Joan", "Amina")
    with app.app_context():
        job = db.session.get(Employment, joan_job)
        outcome = employments.invite_pa(job, " Joan.Price@Example.org ", 7)
        db.session.commit()
        assert not outcome.asked_to_confirm and outcome.token
        assert (outcome.user.email, outcome.user.role, outcome.user.person_id) == ("joan.price@example.org", Role.PA, job.pa_id)
        assert outcome.user.password_hash is None and job.pa.email == "joan.price@example.org"


def test_inviting_with_an_existing_pa_accounts_email_asks_the_pa_and_links_only_when_they_say_yes(app):
    amina = person_id(app, "Amina", "Patel")
    jay = person_id(app, "Jay", "Singh")
    joan = person_id(app, "Joan", "Price")
    joan_job = employment_of(app, "Joan", "Amina")
    users = count(app, User)
    with app.app_context():
        job = db.session.get(Employment, joan_job)
        employments.end_employment(job, date(2024, 12, 31), "Break")
        second, _ = employments.record_employment(amina, terms(start_date=date(2025, 2, 1)), pa_id=joan)
        outcome = employments.invite_pa(second, "JAY.PA@example.org", 7)
        again = employments.invite_pa(second, "jay.pa@example.org", 7)
        db.session.commit()
        assert outcome.asked_to_confirm and outcome.user.email == "jay.pa@example.org"
        assert again.request.id == outcome.request.id, "asking twice is one request"
        # Nothing moves until Jay answers.
        assert {e.pa_id for e in db.session.scalars(sa.select(Employment).where(Employment.employer_id == amina))} == {
            person_id(app, "Sophie", "Clarke"), joan}
        jay_user = db.session.scalar(sa.select(User).where(User.email == "jay.pa@example.org"))
        assert [r.id for r in employments.open_link_requests(jay_user)] == [outcome.request.id]
        moved = employments.answer_link_request(outcome.request, jay_user, True)
        db.session.commit()
        assert sorted(e.id for e in moved) == sorted([joan_job, second.id])
        assert {e.pa_id for e in db.session.scalars(sa.select(Employment).where(Employment.employer_id == amina))} == {
            person_id(app, "Sophie", "Clarke"), jay}
        assert employments.answer_link_request(outcome.request, jay_user, False) == [], "answering twice changes nothing"
        db.session.commit()
        assert db.session.get(Employment, joan_job).pa_id == jay
    assert count(app, User) == users, "no second account"


def test_a_pa_who_says_no_keeps_their_account_as_it_was(app):
    joan = person_id(app, "Joan", "Price")
    joan_job = employment_of(app, "Joan", "Amina")
    with app.app_context():
        request = employments.invite_pa(db.session.get(Employment, joan_job), "jay.pa@example.org", 7).request
        jay_user = db.session.scalar(sa.select(User).where(User.email == "jay.pa@example.org"))
        sophie_user = db.session.scalar(sa.select(User).where(User.email == "sophie.pa@example.org"))
        with pytest.raises(EmploymentError, match="for someone else"):
            employments.answer_link_request(request, sophie_user, True)
        assert employments.answer_link_request(request, jay_user, False) == []
        db.session.commit()
        assert db.session.get(Employment, joan_job).pa_id == joan
        assert employments.open_link_requests(jay_user) == []


@pytest.mark.parametrize("email", ["grace@example.org", "kim@brightpath.example", "david@example.org"])
def test_an_email_of_an_account_that_is_not_a_pas_is_refused(app, email):
    joan_job = employment_of(app, "Joan", "Amina")
    joan = person_id(app, "Joan", "Price")
    with app.app_context():
        with pytest.raises(EmploymentError, match="cannot be used for a PA's account"):
            employments.invite_pa(db.session.get(Employment, joan_job), email, 7)
        db.session.rollback()
        assert db.session.get(Employment, joan_job).pa_id == joan


def test_linking_is_refused_when_the_account_already_works_here_at_the_same_time(app):
    joan_job = employment_of(app, "Joan", "Amina")
    with app.app_context():
        with pytest.raises(EmploymentError, match="already has an employment here from 1 April 2024"):
            employments.invite_pa(db.session.get(Employment, joan_job), "sophie.pa@example.org", 7)


def test_a_pa_who_has_an_account_is_not_invited_again(app):
    sophie_job = employment_of(app, "Sophie", "Amina")
    with app.app_context():
        with pytest.raises(EmploymentError, match="already has a portal account"):
            employments.invite_pa(db.session.get(Employment, sophie_job), "new@example.org", 7)


# Through the pages ----------------------------------------------------------------------------------------------


def test_amina_sees_her_pas_and_what_she_has_to_do(app, client):
    amina = person_id(app, "Amina", "Patel")
    sign_in(client, AMINA)
    page = get_page(client, f"/people/{amina}/pas")
    assert page.soup.title.string.strip().startswith("Personal assistants")
    current = page.soup.find(attrs={"data-current-pas": True}).get_text(" ", strip=True)
    assert "Sophie Clarke" in current and "Joan Price" in current
    attention = page.soup.find(attrs={"data-attention": True}).get_text(" ", strip=True)
    assert "No employer's liability insurance is recorded yet" in attention
    assert link(page.soup, "Record a new PA")
    assert page.soup.find("a", href=f"/people/{amina}/employer-insurance")


def test_amina_records_a_new_pa_through_the_page(app, client):
    amina = person_id(app, "Amina", "Patel")
    sign_in(client, AMINA)
    form = get_page(client, f"/people/{amina}/pas/new")
    assert form.soup.find("legend", string=lambda s: s and "same household as you?" in s)
    response = post_form(client, f"/people/{amina}/pas/new", NEW_PA)
    assert response.status_code == 302
    with app.app_context():
        job = db.session.scalar(sa.select(Employment).join(Person, Person.id == Employment.pa_id).where(Person.given_name == "Priya"))
        assert job.employer_id == amina and job.day_rate_pence == 1350 and job.night_rate_pence == 1425
        assert job.weekend_rate_pence is None and job.sleep_in_pence == 6000 and job.mileage_pence_per_mile == 45
        assert job.contracted_hours == Decimal("12.5") and job.pay_period == PayPeriod.FORTNIGHTLY
        assert (job.ni_number, job.tax_code, job.contract_issued_on) == ("AB123456C", "1257L", date(2025, 6, 1))
        job_id = job.id
    assert response.headers["Location"].endswith(f"/people/{amina}/pas/{job_id}")
    assert "employment.recorded" in audit_actions(app)
    page = get_page(client, response.headers["Location"])
    assert "Priya Shah's employment has been recorded." in page.soup.get_text()
    details = page.soup.find(class_="govuk-summary-list").get_text(" ", strip=True)
    assert "£13.50 an hour" in details and "£60.00 a night" in details and "AB123456C" in details


def test_an_invalid_form_shows_every_problem_and_saves_nothing(app, client):
    amina = person_id(app, "Amina", "Patel")
    sign_in(client, AMINA)
    bad = {**NEW_PA, "given_name": "", "day_rate": "lots", "ni_number": "AB123456Z", "tax_code": "1257",
           "start_date": ["31", "2", "2025"], "pay_period": ""}
    people_before = count(app, Person)
    response = post_form(client, f"/people/{amina}/pas/new", bad)
    assert response.status_code == 200
    assert error_summary(response.text) == [
        "Enter the PA's first name",
        "Start date must be a real date",
        "Enter the hourly rate for daytime hours in pounds and pence, like 13.50",
        "Select how often the PA is paid",
        NI_FORMAT,
        employments.TAX_CODE_FORMAT,
    ]
    assert response.text.count("<h1") == 1 and "<title>Error: Record a new PA" in response.text
    assert count(app, Employment) == 3 and count(app, Person) == people_before


NI_FORMAT = employments.NI_FORMAT


def test_a_rule_the_service_refuses_shows_beside_its_answer(app, client):
    amina = person_id(app, "Amina", "Patel")
    sign_in(client, AMINA)
    response = post_form(client, f"/people/{amina}/pas/new", {**NEW_PA, "pa_date_of_birth": _date(date(2025, 7, 1)),
                                                               "pension_status": "enrolled"})
    assert response.status_code == 200
    assert error_summary(response.text) == ["The PA's date of birth must be before the start date",
                                            "Enter the date the PA was assessed for a workplace pension"]
    assert count(app, Employment) == 3


def test_choosing_someone_who_worked_here_before(app, client):
    amina = person_id(app, "Amina", "Patel")
    joan = person_id(app, "Joan", "Price")
    joan_job = employment_of(app, "Joan", "Amina")
    people_before = count(app, Person)
    sign_in(client, AMINA)
    assert 'name="who"' not in client.get(f"/people/{amina}/pas/new").text, "no one to choose yet"
    post_form(client, f"/people/{amina}/pas/{joan_job}/end", {"last_day": _date(date(2025, 1, 31)), "reason": "Break"})
    page = get_page(client, f"/people/{amina}/pas/new")
    assert page.soup.find("input", {"name": "who", "value": str(joan)})
    response = post_form(client, f"/people/{amina}/pas/new", {**NEW_PA, "who": str(joan), "given_name": ""})
    assert response.status_code == 302
    with app.app_context():
        assert db.session.scalar(sa.select(sa.func.count()).where(Employment.pa_id == joan)) == 2
    assert count(app, Person) == people_before


def test_changing_an_employment(app, client):
    amina = person_id(app, "Amina", "Patel")
    sophie_job = employment_of(app, "Sophie", "Amina")
    sign_in(client, AMINA)
    page = get_page(client, f"/people/{amina}/pas/{sophie_job}/edit")
    assert page.soup.find("input", {"name": "mileage"})["value"] == "0.45"
    data = {**NEW_PA, "start_date": _date(DEMO_START), "day_rate": "13.00", "tax_code": "S1257L"}
    for name in ("given_name", "family_name", "email"):
        data.pop(name)
    response = post_form(client, f"/people/{amina}/pas/{sophie_job}/edit", data)
    assert response.status_code == 302
    page = get_page(client, response.headers["Location"])
    assert "Scottish tax code" in page.text, "the warning stays on the page"
    with app.app_context():
        job = db.session.get(Employment, sophie_job)
        assert (job.day_rate_pence, job.tax_code, job.start_date) == (1300, "S1257L", DEMO_START)
    assert "employment.changed" in audit_actions(app)


def test_ending_an_employment_through_the_page(app, client):
    amina = person_id(app, "Amina", "Patel")
    joan_job = employment_of(app, "Joan", "Amina")
    sign_in(client, AMINA)
    response = post_form(client, f"/people/{amina}/pas/{joan_job}/end", {"last_day": _date(date(2024, 3, 31)), "reason": ""})
    assert response.status_code == 200
    assert error_summary(response.text) == ["Enter why the employment ended"]
    response = post_form(client, f"/people/{amina}/pas/{joan_job}/end", {"last_day": _date(date(2024, 3, 31)), "reason": "Retired"})
    assert error_summary(response.text) == ["The last day must be on or after the start date, 1 April 2024"]
    response = post_form(client, f"/people/{amina}/pas/{joan_job}/end", {"last_day": _date(date(2025, 3, 31)), "reason": "Retired"})
    assert response.status_code == 302
    page = get_page(client, f"/people/{amina}/pas")
    assert "Retired" in page.soup.find(attrs={"data-past-pas": True}).get_text()
    assert "Joan Price" not in page.soup.find(attrs={"data-current-pas": True}).get_text()
    assert "employment.ended" in audit_actions(app)


def test_recording_holiday_and_sickness_through_the_page(app, client):
    amina = person_id(app, "Amina", "Patel")
    sophie_job = employment_of(app, "Sophie", "Amina")
    url = f"/people/{amina}/pas/{sophie_job}/leave"
    sign_in(client, AMINA)
    get_page(client, url)
    response = post_form(client, url, {"kind": "holiday", "hours": "", "first_day": _date(date(2025, 8, 4)),
                                       "last_day": _date(date(2025, 8, 8))})
    assert error_summary(response.text) == ["Enter the hours of holiday taken"]
    response = post_form(client, url, {"kind": "sickness", "first_day": _date(date(2024, 3, 29)),
                                       "last_day": _date(date(2024, 4, 2))})
    assert error_summary(response.text) == ["The first day must be on or after the start of the employment, 1 April 2024"]
    assert count(app, LeaveRecord) == 0
    response = post_form(client, url, {"kind": "sickness", "hours": "ignored", "first_day": _date(date(2025, 8, 4)),
                                       "last_day": _date(date(2025, 8, 3))})
    assert error_summary(response.text) == ["The last day must be the same as or after the first day"]
    response = post_form(client, url, {"kind": "holiday", "hours": "15", "first_day": _date(date(2025, 8, 4)),
                                       "last_day": _date(date(2025, 8, 8)), "note": "Summer"})
    assert response.status_code == 302
    post_form(client, url, {"kind": "sickness", "hours": "", "first_day": _date(date(2025, 9, 1)), "last_day": _date(date(2025, 9, 3))})
    page = get_page(client, f"/people/{amina}/pas/{sophie_job}")
    table = page.soup.find(attrs={"data-leave": True}).get_text(" ", strip=True)
    assert "15 hours" in table and "3 days" in table and "Summer" in table
    assert audit_actions(app).count("leave.recorded") == 2


def test_recording_insurance_through_the_page(app, client):
    amina = person_id(app, "Amina", "Patel")
    url = f"/people/{amina}/employer-insurance"
    sign_in(client, AMINA)
    get_page(client, url)
    policy = {"insurer": "Acme Mutual", "policy_number": "EL-123", "cover": "1,000,000",
              "starts_on": _date(date(2026, 4, 1)), "expires_on": _date(date(2027, 3, 31))}
    response = post_form(client, url, policy)
    assert response.status_code == 200
    assert error_summary(response.text) == ["Employer's liability insurance must cover at least £5,000,000 "
                                            "(unless every PA is a close relative)"]
    assert count(app, EmployerInsurance) == 0
    response = post_form(client, url, {**policy, "cover": "£10,000,000.00"})
    assert response.status_code == 302 and response.headers["Location"].endswith(f"/people/{amina}/pas")
    with app.app_context():
        assert db.session.scalar(sa.select(EmployerInsurance.cover_pence)) == 1_000_000_000
    assert "insurance.recorded" in audit_actions(app)


def test_inviting_a_pa_through_the_page_sends_a_set_password_link(app, client):
    amina = person_id(app, "Amina", "Patel")
    joan_job = employment_of(app, "Joan", "Amina")
    sign_in(client, AMINA)
    response = post_form(client, f"/people/{amina}/pas/{joan_job}/invite", {"email": "joan@example.net"})
    assert response.status_code == 302
    link = last_link_sent_to("joan@example.net")
    assert client.get(link).status_code == 200
    assert "invitation.sent" in audit_actions(app)
    page = get_page(client, f"/people/{amina}/pas/{joan_job}/invite")
    assert "already has a portal account" in page.text and not page.soup.find("input", {"name": "email"})


def test_linking_to_an_existing_pa_account_through_the_pages_needs_the_pas_yes(app, client):
    amina = person_id(app, "Amina", "Patel")
    jay = person_id(app, "Jay", "Singh")
    joan_job = employment_of(app, "Joan", "Amina")
    sign_in(client, AMINA)
    sent = len(mail.OUTBOX)
    response = post_form(client, f"/people/{amina}/pas/{joan_job}/invite", {"email": "jay.pa@example.org"})
    assert response.status_code == 302
    notice = mail.OUTBOX[-1]
    assert len(mail.OUTBOX) == sent + 1 and notice["To"] == "jay.pa@example.org"
    assert "Amina Patel says you work for them" in notice.get_content()
    assert "employment.link_requested" in audit_actions(app)
    page = get_page(client, f"/people/{amina}/pas/{joan_job}")
    assert "PA account Jay Singh to confirm" in page.soup.find(attrs={"data-pending-link": True}).get_text(" ", strip=True)
    request_path = urlsplit(re.search(r"https?://\S+/employment-requests/\d+", notice.get_content()).group(0)).path

    sophie = app.test_client()
    sign_in(sophie, "sophie.pa@example.org")
    assert sophie.get(request_path).status_code == 404, "only the PA asked may answer"
    jay_client = app.test_client()
    sign_in(jay_client, "jay.pa@example.org")
    banner = get_page(jay_client, "/timesheets").soup.find(attrs={"data-link-request": True})
    assert "Amina Patel says you work for them" in banner.get_text(" ", strip=True)
    page = get_page(jay_client, request_path)
    refused = post_form(jay_client, request_path, {})
    assert refused.status_code == 200 and "Say whether you work for them" in refused.text
    with app.app_context():
        assert db.session.get(Employment, joan_job).pa_id != jay
    response = post_form(jay_client, request_path, {"answer": "yes"})
    assert response.status_code == 302 and response.headers["Location"].endswith("/timesheets")
    with app.app_context():
        assert db.session.get(Employment, joan_job).pa_id == jay
    assert "employment.linked" in audit_actions(app)
    assert jay_client.get(request_path).status_code == 404, "an answered request is gone"


def test_a_non_pa_email_is_refused_on_the_page(app, client):
    amina = person_id(app, "Amina", "Patel")
    joan_job = employment_of(app, "Joan", "Amina")
    sign_in(client, AMINA)
    users = count(app, User)
    response = post_form(client, f"/people/{amina}/pas/{joan_job}/invite", {"email": "tom@example.org"})
    assert response.status_code == 200 and "cannot be used for a PA&#39;s account" in response.text
    assert count(app, User) == users


def test_an_employment_is_found_only_through_its_own_employer(app, client):
    amina = person_id(app, "Amina", "Patel")
    leon_job = employment_of(app, "Leon", "Tom")
    sign_in(client, KIM)  # Kim may see both Amina and Tom
    for suffix in ("", "/edit", "/end", "/leave", "/invite"):
        assert client.get(f"/people/{amina}/pas/{leon_job}{suffix}").status_code == 404
    assert client.get(f"/people/{amina}/pas/999999").status_code == 404


# Who may do what ---------------------------------------------------------------------------------------------


def _urls(app, employer: str, pa: str) -> tuple[str, list[str]]:
    employer_id = person_id(app, *employer.split())
    job = employment_of(app, pa, employer.split()[0]) if pa else None
    base = f"/people/{employer_id}"
    changes = [f"{base}/pas/new", f"{base}/employer-insurance"]
    if job:
        changes += [f"{base}/pas/{job}/{action}" for action in ("edit", "end", "leave", "invite")]
    return base, changes


@pytest.mark.parametrize("email, employer, pa, read, change", [
    (AMINA, "Amina Patel", "Sophie", 200, 200),
    (KIM, "Amina Patel", "Joan", 200, 200),
    (KIM, "Tom Hughes", "Leon", 200, 200),
    (LEE, "Tom Hughes", "Leon", 200, 200),
    (TOM, "Tom Hughes", "Leon", 200, 200),
    (DAVID, "Grace Okafor", None, 200, 200),  # manage level
    (DAVID, "Sam Okafor", None, 200, 404),  # view level
    (RACHEL, "Amina Patel", "Sophie", 200, 403),
    (OMAR, "Amina Patel", "Sophie", 404, 404),
    (ELLEN, "Amina Patel", "Sophie", 404, 404),
    (ADMIN, "Amina Patel", "Sophie", 403, 403),
    (SOPHIE, "Amina Patel", "Sophie", 403, 403),
])
def test_who_may_read_and_change_employment_records(app, client, email, employer, pa, read, change):
    base, changes = _urls(app, employer, pa)
    sign_in(client, email)
    reads = [f"{base}/pas"] + ([changes[2].rsplit("/", 1)[0]] if pa else [])
    for url in reads:
        assert client.get(url).status_code == read, url
    for url in changes:
        assert client.get(url).status_code == change, url
        token = csrf_token(client.get("/account").text)
        assert client.post(url, data={"csrf_token": token}).status_code == change, f"POST {url}"
    assert count(app, Employment) == 3 and count(app, EmployerInsurance) == 0 and count(app, LeaveRecord) == 0


def test_read_only_viewers_get_no_change_links(app, client):
    amina = person_id(app, "Amina", "Patel")
    sophie_job = employment_of(app, "Sophie", "Amina")
    sign_in(client, RACHEL)
    for url in (f"/people/{amina}/pas", f"/people/{amina}/pas/{sophie_job}"):
        page = get_page(client, url)
        hrefs = [a["href"] for a in page.soup.find_all("a", href=True)]
        assert not [h for h in hrefs if h.endswith(("/new", "/edit", "/end", "/leave", "/invite", "/employer-insurance"))], url


def test_david_reads_sams_pas_without_change_links(app, client):
    sam = person_id(app, "Sam", "Okafor")
    sign_in(client, DAVID)
    page = get_page(client, f"/people/{sam}/pas")
    assert "No PA is employed at the moment." in page.text
    assert not link(page.soup, "Record a new PA")
    assert page.soup.find(attrs={"data-capacity": True}).get_text(strip=True).startswith("You can view Sam Okafor's")


def test_kim_records_for_amina_and_the_audit_says_for_whom(app, client):
    amina = person_id(app, "Amina", "Patel")
    sign_in(client, KIM)
    form = get_page(client, f"/people/{amina}/pas/new")
    assert form.soup.find("legend", string=lambda s: s and "same household as Amina Patel?" in s)
    response = post_form(client, f"/people/{amina}/pas/new", NEW_PA)
    assert response.status_code == 302
    with app.app_context():
        event = db.session.scalar(sa.select(AuditEvent).where(AuditEvent.action == "employment.recorded"))
        assert event.acting_for_id == amina and event.role == "dpss_caseworker"


def test_every_page_passes_the_page_checks(app, client):
    amina = person_id(app, "Amina", "Patel")
    sophie_job = employment_of(app, "Sophie", "Amina")
    sign_in(client, AMINA)
    for suffix in ("pas", "pas/new", f"pas/{sophie_job}", f"pas/{sophie_job}/edit", f"pas/{sophie_job}/end",
                   f"pas/{sophie_job}/leave", f"pas/{sophie_job}/invite", "employer-insurance"):
        page = get_page(client, f"/people/{amina}/{suffix}")
        assert page.soup.find(class_="govuk-back-link"), suffix
        assert page.soup.title.string.strip().endswith("Direct payments portal") or "–" in page.soup.title.string
