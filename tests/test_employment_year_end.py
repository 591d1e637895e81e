"""The employment record's year-end answers: the P45 from the PA's previous job (pay and tax to date and
its leaving date), student and Postgraduate Loans, and attachments of earnings, through the service and
the record's pages.

The P45 rules: pay and tax to date in pounds and pence, both optional, never less than £0, the tax no
more than the pay; a leaving date is needed with either figure (it says which tax year they are for),
never in the future, and within the tax year the job starts in (a P45 from an earlier tax year carries
nothing into this one: HMRC's new-starter rules; a new starter hands in their P45 when they start).
"""

from datetime import date, timedelta

import pytest
import sqlalchemy as sa

from portal.extensions import db
from portal.models import Employment, Person
from portal.models.employing import PostgraduateLoan, StudentLoan
from portal.services import employments
from portal.services.clock import london_today
from portal.services.employments import EmploymentError, NewPA
from tests.conftest import get_page, post_form, sign_in
from tests.helpers import person_id
from tests.test_employments import AMINA, NEW_PA, _date, employment_of, error_summary, terms

TODAY = date(2026, 11, 23)
JUNE_START = date(2026, 6, 1)  # a job starting in the 2026 to 2027 tax year (from 6 April 2026)


def _record(app, **changes):
    amina = person_id(app, "Amina", "Patel")
    with app.app_context():
        employment, warnings = employments.record_employment(amina, terms(start_date=JUNE_START, **changes),
                                                             new_pa=NewPA("Priya", "Shah"), today=TODAY)
        db.session.commit()
        return employment.id, warnings


def _refused(app, **changes) -> list[tuple[str, str]]:
    amina = person_id(app, "Amina", "Patel")
    with app.app_context():
        with pytest.raises(EmploymentError) as refused:
            employments.record_employment(amina, terms(start_date=JUNE_START, **changes), new_pa=NewPA("Priya", "Shah"),
                                          today=TODAY)
        db.session.rollback()
    return refused.value.problems


# The P45, by the service ---------------------------------------------------------------------------


def test_p45_figures_are_kept_in_pence_with_their_leaving_date(app):
    job_id, warnings = _record(app, tax_code="1257L", p45_pay_to_date_pence=845000, p45_tax_to_date_pence=112040,
                               p45_leaving_date=date(2026, 5, 29))
    assert warnings == []
    with app.app_context():
        job = db.session.get(Employment, job_id)
        assert (job.p45_pay_to_date_pence, job.p45_tax_to_date_pence, job.p45_leaving_date) == (845000, 112040, date(2026, 5, 29))


def test_every_p45_answer_is_optional_and_a_leaving_date_alone_is_kept(app):
    # A P45 whose code ends in W1, M1 or X shows no pay or tax to date: the leaving date alone is fine.
    job_id, _ = _record(app, p45_leaving_date=date(2026, 5, 29))
    with app.app_context():
        job = db.session.get(Employment, job_id)
        assert (job.p45_pay_to_date_pence, job.p45_tax_to_date_pence) == (None, None)


@pytest.mark.parametrize(
    "changes, field, words",
    [
        (dict(p45_pay_to_date_pence=-1, p45_leaving_date=date(2026, 5, 29)), "p45_pay_to_date", "cannot be less than £0"),
        (dict(p45_pay_to_date_pence=100000, p45_tax_to_date_pence=-1, p45_leaving_date=date(2026, 5, 29)),
         "p45_tax_to_date", "cannot be less than £0"),
        (dict(p45_pay_to_date_pence=100000, p45_tax_to_date_pence=100001, p45_leaving_date=date(2026, 5, 29)),
         "p45_tax_to_date", "cannot be more than the pay to date"),
        (dict(p45_tax_to_date_pence=5000, p45_leaving_date=date(2026, 5, 29)), "p45_pay_to_date", "as well as the tax"),
        (dict(p45_pay_to_date_pence=100000, p45_tax_to_date_pence=5000), "p45_leaving_date", "Enter the leaving date"),
        (dict(p45_pay_to_date_pence=100000, p45_leaving_date=TODAY + timedelta(days=1)), "p45_leaving_date",
         "must be today or in the past"),
        # The job starts on 1 June 2026, in the tax year from 6 April 2026: a P45 from 5 April is last year's.
        (dict(p45_pay_to_date_pence=100000, p45_leaving_date=date(2026, 4, 5)), "p45_leaving_date",
         "must be on or after 6 April 2026"),
    ],
)
def test_p45_answers_that_are_refused(app, changes, field, words):
    problems = _refused(app, **changes)
    assert [(f, m) for f, m in problems if f == field and words in m], problems
    with app.app_context():
        assert db.session.scalar(sa.select(sa.func.count()).select_from(Person).where(Person.given_name == "Priya")) == 0


def test_a_p45_from_after_the_tax_year_the_job_starts_in_is_refused(app):
    amina = person_id(app, "Amina", "Patel")
    with app.app_context():
        # A job that started on 1 March 2026 (tax year to 5 April 2026): a P45 from a job left on 6 April 2026 is
        # from the next tax year; 5 April 2026 is the last day it can be.
        with pytest.raises(EmploymentError, match="must be on or before 5 April 2026"):
            employments.record_employment(amina, terms(start_date=date(2026, 3, 1), p45_pay_to_date_pence=100000,
                                                       p45_leaving_date=date(2026, 4, 6)), new_pa=NewPA("A", "B"), today=TODAY)
        employment, _ = employments.record_employment(amina, terms(start_date=date(2026, 3, 1), p45_pay_to_date_pence=100000,
                                                                   p45_leaving_date=date(2026, 4, 5)), new_pa=NewPA("C", "D"),
                                                      today=TODAY)
        assert employment.p45_leaving_date == date(2026, 4, 5)


def test_p45_edges_that_are_accepted(app):
    # Tax equal to the pay; a leaving date on 6 April, the first day of the tax year; and today.
    _record(app, p45_pay_to_date_pence=100000, p45_tax_to_date_pence=100000, p45_leaving_date=date(2026, 4, 6))
    _record(app, p45_pay_to_date_pence=0, p45_tax_to_date_pence=0, p45_leaving_date=TODAY)


def test_a_week1_code_with_p45_figures_is_kept_with_a_warning_that_payroll_ignores_them(app):
    _, warnings = _record(app, tax_code="1257L W1", p45_pay_to_date_pence=845000, p45_tax_to_date_pence=112040,
                          p45_leaving_date=date(2026, 5, 29))
    assert any("week 1 / month 1 basis, so payroll does not use the pay and tax to date from the P45" in w for w in warnings)
    _, warnings = _record(app, p45_pay_to_date_pence=845000, p45_leaving_date=date(2026, 5, 29))
    assert any("Record the tax code shown on the P45" in w for w in warnings)


# Loans and attachments of earnings, by the service -----------------------------------------------------


def test_loans_and_an_attachment_of_earnings_are_kept(app):
    job_id, _ = _record(app, student_loan=StudentLoan.PLAN_2, postgraduate_loan=PostgraduateLoan.YES,
                        attachment_of_earnings=True)
    with app.app_context():
        job = db.session.get(Employment, job_id)
        assert (job.student_loan, job.postgraduate_loan, job.attachment_of_earnings) == (
            StudentLoan.PLAN_2, PostgraduateLoan.YES, True)
    job_id, _ = _record(app)
    with app.app_context():
        job = db.session.get(Employment, job_id)
        assert (job.student_loan, job.postgraduate_loan, job.attachment_of_earnings) == (None, None, False)


# Through the pages --------------------------------------------------------------------------------------


def _new_pa(**changes) -> dict:
    return {**NEW_PA, "p45_leaving_date": _date(None), "p45_pay_to_date": "", "p45_tax_to_date": "", **changes}


def test_amina_records_a_p45_and_loans_on_the_page_and_sees_them(app, client):
    amina = person_id(app, "Amina", "Patel")
    sign_in(client, AMINA)
    form = get_page(client, f"/people/{amina}/pas/new")
    for name in ("p45_pay_to_date", "p45_tax_to_date"):
        assert form.soup.find("input", {"name": name}) is not None
    assert form.soup.find("input", {"name": "student_loan", "value": "Plan 2"}) is not None
    assert form.soup.find("input", {"name": "attachment_of_earnings", "value": "yes"}) is not None
    # NEW_PA starts on 2 June 2025: a P45 from a job left on 30 May 2025 is for the same tax year.
    response = post_form(client, f"/people/{amina}/pas/new", _new_pa(
        p45_leaving_date=_date(date(2025, 5, 30)), p45_pay_to_date="£8,450.00", p45_tax_to_date="1120.4",
        student_loan="Plan 2", postgraduate_loan="yes", attachment_of_earnings="yes"))
    assert response.status_code == 302
    with app.app_context():
        job = db.session.scalar(sa.select(Employment).join(Person, Person.id == Employment.pa_id).where(Person.given_name == "Priya"))
        assert (job.p45_pay_to_date_pence, job.p45_tax_to_date_pence, job.p45_leaving_date) == (845000, 112040, date(2025, 5, 30))
        assert (job.student_loan, job.postgraduate_loan, job.attachment_of_earnings) == (
            StudentLoan.PLAN_2, PostgraduateLoan.YES, True)
    page = get_page(client, response.headers["Location"])
    rows = {row.dt.get_text(" ", strip=True): row.dd.get_text(" ", strip=True)
            for row in page.soup.select(".govuk-summary-list__row")}
    assert rows["P45 from the previous job"] == "Left on 30 May 2025: pay to date £8,450.00, tax to date £1,120.40"
    assert rows["Student loan"] == "Plan 2"
    assert rows["Postgraduate Loan"] == "Yes"
    assert rows["Attachment of earnings order"] == "Yes"


def test_a_form_without_the_new_answers_records_none(app, client):
    """A form sent without the new questions (an older page) records no P45, no loans and no order."""
    amina = person_id(app, "Amina", "Patel")
    sign_in(client, AMINA)
    assert post_form(client, f"/people/{amina}/pas/new", NEW_PA).status_code == 302
    with app.app_context():
        job = db.session.scalar(sa.select(Employment).join(Person, Person.id == Employment.pa_id).where(Person.given_name == "Priya"))
        assert (job.p45_leaving_date, job.p45_pay_to_date_pence, job.student_loan, job.postgraduate_loan,
                job.attachment_of_earnings) == (None, None, None, None, False)
    page = get_page(client, f"/people/{amina}/pas/{job.id}")
    rows = {row.dt.get_text(" ", strip=True): row.dd.get_text(" ", strip=True)
            for row in page.soup.select(".govuk-summary-list__row")}
    assert (rows["P45 from the previous job"], rows["Student loan"], rows["Attachment of earnings order"]) == (
        "None recorded", "Not recorded", "No")


def test_p45_mistakes_are_shown_beside_their_answers(app, client):
    amina = person_id(app, "Amina", "Patel")
    sign_in(client, AMINA)
    response = post_form(client, f"/people/{amina}/pas/new", _new_pa(
        p45_leaving_date=_date(date(2025, 5, 30)), p45_pay_to_date="-10.00", p45_tax_to_date="12.00"))
    assert response.status_code == 200
    assert error_summary(response.text) == ["The pay to date from the P45 cannot be less than £0"]
    response = post_form(client, f"/people/{amina}/pas/new", _new_pa(
        p45_leaving_date=_date(date(2025, 5, 30)), p45_pay_to_date="100.00", p45_tax_to_date="100.01"))
    assert error_summary(response.text) == ["The tax to date from the P45 cannot be more than the pay to date"]
    tomorrow = london_today() + timedelta(days=1)
    response = post_form(client, f"/people/{amina}/pas/new", _new_pa(
        p45_leaving_date=_date(tomorrow), p45_pay_to_date="100.00"))
    assert error_summary(response.text) == ["The leaving date on the P45 must be today or in the past"]
    response = post_form(client, f"/people/{amina}/pas/new", _new_pa(p45_pay_to_date="100.00"))
    assert error_summary(response.text) == [
        "Enter the leaving date from the P45, so payroll knows which tax year its pay and tax are for"]
    response = post_form(client, f"/people/{amina}/pas/new", _new_pa(
        p45_leaving_date=_date(date(2025, 4, 5)), p45_pay_to_date="100.00"))
    assert error_summary(response.text) == [
        "The leaving date on the P45 must be on or after 6 April 2025, the start of the tax year this job starts in. A P45 "
        "from an earlier tax year is not used: leave the P45 answers blank and answer the starter checklist question"]
    response = post_form(client, f"/people/{amina}/pas/new", _new_pa(student_loan="Plan 9"))
    assert error_summary(response.text) == ["Select which student loan the PA is repaying, or none"]
    with app.app_context():
        assert db.session.scalar(sa.select(sa.func.count()).select_from(Person).where(Person.given_name == "Priya")) == 0


def test_changing_an_employment_shows_and_keeps_the_p45_and_loans(app, client):
    amina = person_id(app, "Amina", "Patel")
    sophie_job = employment_of(app, "Sophie", "Amina")
    with app.app_context():
        job = db.session.get(Employment, sophie_job)
        job.p45_pay_to_date_pence, job.p45_tax_to_date_pence = 845000, 112040
        job.p45_leaving_date = leaving = job.start_date
        job.student_loan = StudentLoan.NOT_KNOWN
        db.session.commit()
    sign_in(client, AMINA)
    page = get_page(client, f"/people/{amina}/pas/{sophie_job}/edit")
    assert page.soup.find("input", {"name": "p45_pay_to_date"})["value"] == "8450.00"
    assert page.soup.find("input", {"name": "p45_tax_to_date"})["value"] == "1120.40"
    assert page.soup.find("input", {"name": "p45_leaving_date"})["value"] == str(leaving.day)
    assert page.soup.find("input", {"name": "student_loan", "value": "not known"}).has_attr("checked")
    assert page.soup.find("input", {"name": "attachment_of_earnings", "value": "no"}).has_attr("checked")
