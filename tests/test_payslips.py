"""Payslips: who sees which, the figures on the page and in the PDF, year to date per employer, the
P60 and P45 figure sets, and the command that renders a whole run in bounded memory.

The pay runs, payslips and lines are written here directly with hand-chosen figures (they do not
come from the pay runs service): what the pages show is checked against these numbers, formatted
by the test's own `money` below.

The set-up (made by `payroll` below):
- Sophie works for Amina (Brightpath payroll, fortnightly) and for Grace (Harbour payroll, monthly,
  a second job on BR). Joan worked for Amina (4-weekly) and left on 31 October 2026.
- Brightpath run A1 (paid 30 Oct 2026): Sophie's S1. Run A2 (13 Nov): Sophie's S2, with a
  correction line for S1 and holiday pay. Run A3 (draft, 27 Nov): Sophie's S3, never a payslip.
  Run J (4-weekly, 6 Nov): Joan's J1 (week 1 basis, rolled-up holiday, SSP).
- Harbour run H0 (31 Mar 2026, tax year 2025 to 2026) and H1 (30 Oct 2026): Sophie's from Grace.
"""

import re
import shutil
import subprocess
import time
from datetime import date

import pytest
import sqlalchemy as sa

from portal.extensions import db
from portal.models import (
    Employment,
    Organisation,
    PayRun,
    PayRunKind,
    PayRunStatus,
    Payslip,
    PayslipLine,
    PayslipLineKind,
    Person,
    User,
)
from portal.models.employing import PayPeriod
from tests.conftest import get_page, sign_in


def money(pence: int) -> str:
    """The test's own pounds formatting (not the portal's)."""
    sign = "-" if pence < 0 else ""
    pence = abs(pence)
    return f"{sign}£{pence // 100:,}.{pence % 100:02d}"


def _pdf_text(pdf: bytes, tmp_path, name: str = "payslip.pdf", layout: bool = True) -> str:
    """The PDF's text: laid out as on the page (a label and its amount on one line), or in reading
    order (a table cell's wrapped words together)."""
    assert shutil.which("pdftotext"), "pdftotext is needed (Debian: poppler-utils)"
    path = tmp_path / name
    path.write_bytes(pdf)
    return subprocess.run(["pdftotext", *(["-layout"] if layout else []), str(path), "-"], capture_output=True, text=True,
                          check=True).stdout


# Hand-chosen figures ------------------------------------------------------------------------------

# S1: 40h day at £14 (£560), 4h night at £15 (£60), one sleep-in £90, 20 miles at 45p (£9, not taxed).
S1 = dict(tax_code="1257L", minutes_worked=2640, gross_pence=71000, non_taxable_pence=900, tax_pence=7360,
          employee_ni_pence=3712, employee_pension_pence=1450, net_pence=59378,  # 71000 + 900 - 7360 - 3712 - 1450
          employer_ni_pence=0, employment_allowance_pence=9210, employer_pension_pence=870,
          holiday_accrued_minutes=318, holiday_taken_minutes=0, pension_enrolled=True,
          ytd_gross_pence=1_136_000, ytd_tax_pence=117_760, ytd_employee_ni_pence=59_392, ytd_employer_ni_pence=0,
          ytd_employee_pension_pence=23_200, ytd_employer_pension_pence=13_920, ytd_employment_allowance_pence=147_360)
# S2: 38h day at £14 (£532), a £30 correction (2h night at £15 missed from S1), 8h holiday at £14 (£67.20).
S2 = dict(tax_code="1257L", minutes_worked=2280, gross_pence=62920, holiday_pay_pence=6720, non_taxable_pence=0,
          tax_pence=6180, employee_ni_pence=2714, employee_pension_pence=1146, net_pence=52880,  # 62920 - 10040
          employer_ni_pence=0, employment_allowance_pence=7468, employer_pension_pence=688,
          holiday_accrued_minutes=275, holiday_taken_minutes=480, pension_enrolled=True,
          ytd_gross_pence=1_198_920, ytd_tax_pence=123_940, ytd_employee_ni_pence=62_106, ytd_employer_ni_pence=0,
          ytd_employee_pension_pence=24_346, ytd_employer_pension_pence=14_608, ytd_employment_allowance_pence=154_828)
# Sophie's second job (Grace): 20h at £13 a month on BR (20%).
H1 = dict(tax_code="BR", minutes_worked=1200, gross_pence=26000, tax_pence=5200, net_pence=20800,
          ytd_gross_pence=182_000, ytd_tax_pence=36_400)
H0 = dict(tax_code="BR", minutes_worked=1200, gross_pence=26000, tax_pence=5200, net_pence=20800,
          ytd_gross_pence=312_000, ytd_tax_pence=62_400)
# Joan: 28h at £12.75 (£357), rolled-up holiday 12.07% (£43.09), SSP 2 days at £24.65 (£49.30); BR 20% of £449.39.
J1 = dict(tax_code="1257L", week1_month1=True, minutes_worked=1680, gross_pence=44939, holiday_pay_pence=4309,
          ssp_pence=4930, tax_pence=8987, net_pence=35952, ytd_gross_pence=314_573, ytd_tax_pence=62_914)


@pytest.fixture
def payroll(app):
    """The runs and payslips described in the module docstring; returns their ids."""
    with app.app_context():
        people = {f"{g} {f}": i for i, g, f in db.session.execute(sa.select(Person.id, Person.given_name, Person.family_name))}
        orgs = dict(db.session.execute(sa.select(Organisation.name, Organisation.id)).all())
        kim = db.session.scalar(sa.select(User.id).where(User.email == "kim@brightpath.example"))
        lee = db.session.scalar(sa.select(User.id).where(User.email == "lee@brightpath.example"))

        def employment(pa, employer):
            return db.session.scalar(sa.select(Employment).where(Employment.pa_id == people[pa], Employment.employer_id == people[employer]))

        sophie_amina = employment("Sophie Clarke", "Amina Patel")
        sophie_amina.ni_number = "JT123456C"
        sophie_amina.pay_period = PayPeriod.FORTNIGHTLY
        joan = employment("Joan Price", "Amina Patel")
        joan.ni_number, joan.pay_period = "JT654321A", PayPeriod.FOUR_WEEKLY
        joan.end_date, joan.end_reason = date(2026, 10, 31), "Resigned"
        sophie_grace = Employment(pa_id=people["Sophie Clarke"], employer_id=people["Grace Okafor"], start_date=date(2025, 9, 1),
                                  ni_number="JT123456C", tax_code="BR", pay_period=PayPeriod.MONTHLY, day_rate_pence=1300)
        db.session.add(sophie_grace)
        db.session.flush()

        def run(key, provider, period, start, end, pay, year, number, status=PayRunStatus.APPROVED):
            r = PayRun(run_key=key, provider_id=orgs[provider], pay_period=period, period_start=start, period_end=end,
                       pay_date=pay, tax_year_start=year, tax_period=number, status=status, created_by_id=kim,
                       approved_by_id=lee if status == PayRunStatus.APPROVED else None)
            db.session.add(r)
            db.session.flush()
            return r

        def slip(r, emp, figures, lines=()):
            s = Payslip(run_id=r.id, employment_id=emp.id, pa_id=emp.pa_id, employer_id=emp.employer_id,
                        tax_year_start=r.tax_year_start, tax_period=r.tax_period, pay_date=r.pay_date, **figures)
            s.lines = [PayslipLine(**line) for line in lines]
            db.session.add(s)
            db.session.flush()
            return s

        y26, y25 = date(2026, 4, 6), date(2025, 4, 6)
        fortnightly, monthly = PayPeriod.FORTNIGHTLY, PayPeriod.MONTHLY
        a1 = run("bp:f:2026-10-12", "Brightpath Support", fortnightly, date(2026, 10, 12), date(2026, 10, 25), date(2026, 10, 30), y26, 30)
        s1 = slip(a1, sophie_amina, S1, [
            dict(kind=PayslipLineKind.HOURS, description="Day hours", quantity=2400, rate_pence=1400, amount_pence=56000),
            dict(kind=PayslipLineKind.HOURS, description="Night hours", quantity=240, rate_pence=1500, amount_pence=6000),
            dict(kind=PayslipLineKind.SLEEP_IN, description="Sleep-in", quantity=1, rate_pence=9000, amount_pence=9000),
            dict(kind=PayslipLineKind.MILEAGE, description="Mileage", quantity=20, rate_pence=45, amount_pence=900, taxable=False),
        ])
        a2 = run("bp:f:2026-10-26", "Brightpath Support", fortnightly, date(2026, 10, 26), date(2026, 11, 8), date(2026, 11, 13), y26, 32)
        s2 = slip(a2, sophie_amina, S2, [
            # Two timesheets' day hours in one period: one line each, added up under "Hours by rate type".
            dict(kind=PayslipLineKind.HOURS, description="Day hours", quantity=1200, rate_pence=1400, amount_pence=28000),
            dict(kind=PayslipLineKind.HOURS, description="Day hours", quantity=1080, rate_pence=1400, amount_pence=25200),
            dict(kind=PayslipLineKind.CORRECTION, description="Night hours missed from the timesheet", quantity=120,
                 rate_pence=1500, amount_pence=3000, corrects_payslip_id=s1.id),
            dict(kind=PayslipLineKind.HOLIDAY, description="Holiday pay", quantity=480, rate_pence=1400, amount_pence=6720),
        ])
        a3 = run("bp:f:2026-11-09", "Brightpath Support", fortnightly, date(2026, 11, 9), date(2026, 11, 22), date(2026, 11, 27), y26, 34,
                 status=PayRunStatus.DRAFT)
        s3 = slip(a3, sophie_amina, dict(tax_code="1257L", gross_pence=50000, net_pence=45000))
        j = run("bp:4w:2026-10-05", "Brightpath Support", PayPeriod.FOUR_WEEKLY, date(2026, 10, 5), date(2026, 11, 1), date(2026, 11, 6), y26, 31)
        j1 = slip(j, joan, J1, [
            dict(kind=PayslipLineKind.HOURS, description="Day hours", quantity=1680, rate_pence=1275, amount_pence=35700),
            dict(kind=PayslipLineKind.ROLLED_UP_HOLIDAY, description="Rolled-up holiday pay (12.07%)", amount_pence=4309),
            dict(kind=PayslipLineKind.SSP, description="Statutory Sick Pay", quantity=2, rate_pence=2465, amount_pence=4930),
        ])
        h0 = run("hb:m:2026-03-01", "Harbour DPSS", monthly, date(2026, 3, 1), date(2026, 3, 31), date(2026, 3, 31), y25, 12)
        p0 = slip(h0, sophie_grace, H0, [dict(kind=PayslipLineKind.HOURS, description="Day hours", quantity=1200, rate_pence=1300, amount_pence=26000)])
        h1 = run("hb:m:2026-10-01", "Harbour DPSS", monthly, date(2026, 10, 1), date(2026, 10, 31), date(2026, 10, 30), y26, 7)
        p1 = slip(h1, sophie_grace, H1, [dict(kind=PayslipLineKind.HOURS, description="Day hours", quantity=1200, rate_pence=1300, amount_pence=26000)])
        db.session.commit()
        return dict(s1=s1.id, s2=s2.id, s3=s3.id, j1=j1.id, h0=p0.id, h1=p1.id, a1=a1.id, a3=a3.id,
                    amina=people["Amina Patel"], grace=people["Grace Okafor"], tom=people["Tom Hughes"],
                    sophie_amina=sophie_amina.id, sophie_grace=sophie_grace.id, joan=joan.id, kim=kim)


def _client(app, email):
    client = app.test_client()
    sign_in(client, email)
    return client


def _listed(page) -> set[int]:
    return {int(row["data-payslip"]) for row in page.soup.select("[data-payslip]")}


def _ytd(page, year: int) -> dict[str, str]:
    section = page.soup.select_one(f'[data-tax-year="{year}"]')
    return {row.select_one("[data-who]").get_text(strip=True): row.select_one("[data-ytd-gross]").get_text(strip=True)
            for row in section.select("[data-ytd-row]")}


# A PA's payslips -----------------------------------------------------------------------------------


def test_a_pa_with_two_employers_sees_both_each_with_its_own_year_to_date(app, payroll):
    client = _client(app, "sophie.pa@example.org")
    page = get_page(client, "/payslips")
    # Approved runs only: not the draft S3, and never Joan's.
    assert _listed(page) == {payroll["s1"], payroll["s2"], payroll["h0"], payroll["h1"]}
    years = [int(s["data-tax-year"]) for s in page.soup.select("[data-tax-year]")]
    assert years == [2026, 2025]
    # Newest first within the year: S2 (13 Nov), then S1 and H1 (both 30 Oct; the later id first).
    order = [int(r["data-payslip"]) for r in page.soup.select('[data-tax-year="2026"] [data-payslip]')]
    assert order == [payroll["s2"], payroll["h1"], payroll["s1"]]
    # Year to date per employer, from each employer's newest payslip: S2 for Amina, H1 for Grace.
    assert _ytd(page, 2026) == {"Amina Patel": money(S2["ytd_gross_pence"]), "Grace Okafor": money(H1["ytd_gross_pence"])}
    assert _ytd(page, 2026) == {"Amina Patel": "£11,989.20", "Grace Okafor": "£1,820.00"}
    assert _ytd(page, 2025) == {"Grace Okafor": "£3,120.00"}
    amina_row = page.soup.select_one(f'[data-tax-year="2026"] [data-ytd-row="{payroll["amina"]}"]')
    assert amina_row.select_one("[data-ytd-tax]").get_text(strip=True) == money(S2["ytd_tax_pence"])
    assert amina_row.select_one("[data-ytd-ni]").get_text(strip=True) == money(S2["ytd_employee_ni_pence"])
    # The correction is marked in the list.
    s2_row = page.soup.select_one(f'[data-payslip="{payroll["s2"]}"]')
    assert s2_row.select_one("[data-correction-tag]") is not None
    assert "JT123456C" not in page.text


def test_the_pa_home_page_links_to_payslips(app, payroll):
    client = _client(app, "sophie.pa@example.org")
    link = get_page(client, "/home").soup.select_one("[data-payslips-link]")
    assert link is not None and link["href"] == "/payslips"


def test_sophie_sees_only_hers_and_jay_sees_none(app, payroll):
    sophie = _client(app, "sophie.pa@example.org")
    assert sophie.get(f"/payslips/{payroll['s1']}").status_code == 200
    assert sophie.get(f"/payslips/{payroll['h1']}").status_code == 200
    assert sophie.get(f"/payslips/{payroll['j1']}").status_code == 404  # Joan's
    assert sophie.get(f"/payslips/{payroll['j1']}.pdf").status_code == 404
    assert sophie.get(f"/payslips/{payroll['s3']}").status_code == 404  # a draft run's
    assert sophie.get("/payslips/999999").status_code == 404
    assert sophie.get(f"/people/{payroll['amina']}/payslips").status_code == 403  # a PA sees nothing of an employer's
    assert sophie.get(f"/payslips/leaver/{payroll['joan']}.pdf").status_code == 404
    jay = _client(app, "jay.pa@example.org")
    page = get_page(jay, "/payslips")
    assert page.soup.select_one("[data-no-payslips]") is not None and not _listed(page)
    assert jay.get(f"/payslips/{payroll['s1']}").status_code == 404
    assert jay.get(f"/payslips/year-end/2026/{payroll['sophie_amina']}.pdf").status_code == 404


# The employer's side ------------------------------------------------------------------------------


def test_amina_sees_the_payslips_she_paid_not_another_employers(app, payroll):
    client = _client(app, "amina@example.org")
    page = get_page(client, f"/people/{payroll['amina']}/payslips")
    assert _listed(page) == {payroll["s1"], payroll["s2"], payroll["j1"]}
    # Year to date per PA: Sophie's from S2, Joan's from J1; Joan has left, so her P45 figures are offered.
    assert _ytd(page, 2026) == {"Joan Price": money(J1["ytd_gross_pence"]), "Sophie Clarke": money(S2["ytd_gross_pence"])}
    p45_links = [a["href"] for a in page.soup.select("[data-p45-link]")]
    assert p45_links == [f"/payslips/leaver/{payroll['joan']}.pdf"]
    assert "Grace Okafor" not in page.text
    nav = page.soup.select_one("nav.govuk-\\!-margin-bottom-6")
    assert nav.find("a", string=re.compile("Payslips")) is not None
    # A PA without an account: Amina downloads Joan's payslip to print.
    response = client.get(f"/payslips/{payroll['j1']}.pdf")
    assert response.status_code == 200 and response.data.startswith(b"%PDF")
    for other in ("h0", "h1", "s3"):
        assert client.get(f"/payslips/{payroll[other]}").status_code == 404
    assert client.get(f"/people/{payroll['grace']}/payslips").status_code == 404
    assert client.get(f"/payslips/year-end/2026/{payroll['sophie_grace']}.pdf").status_code == 404
    assert client.get("/payslips").status_code == 403  # the PA's page


def test_david_sees_only_graces(app, payroll):
    client = _client(app, "david@example.org")
    page = get_page(client, f"/people/{payroll['grace']}/payslips")
    assert _listed(page) == {payroll["h0"], payroll["h1"]}
    assert page.soup.select_one("[data-capacity]").get_text(strip=True).startswith(("You are managing Grace", "You can view Grace"))
    assert client.get(f"/payslips/{payroll['h1']}").status_code == 200
    assert client.get(f"/payslips/{payroll['s1']}").status_code == 404
    assert client.get(f"/people/{payroll['amina']}/payslips").status_code == 404


def test_dpss_staff_see_their_employers_only(app, payroll):
    omar = _client(app, "omar@harbour.example")
    assert get_page(omar, f"/people/{payroll['grace']}/payslips").status == 200
    assert omar.get(f"/payslips/{payroll['h1']}.pdf").status_code == 200
    for brightpath in ("s1", "s2", "j1"):
        assert omar.get(f"/payslips/{payroll[brightpath]}").status_code == 404
        assert omar.get(f"/payslips/{payroll[brightpath]}.pdf").status_code == 404
    assert omar.get(f"/people/{payroll['amina']}/payslips").status_code == 404
    assert omar.get(f"/payslips/leaver/{payroll['joan']}.pdf").status_code == 404
    kim = _client(app, "kim@brightpath.example")
    assert _listed(get_page(kim, f"/people/{payroll['amina']}/payslips")) == {payroll["s1"], payroll["s2"], payroll["j1"]}
    assert kim.get(f"/payslips/{payroll['h1']}").status_code == 404
    assert kim.get(f"/payslips/{payroll['s3']}").status_code == 404  # drafts are the pay runs pages' business
    assert kim.get("/payslips").status_code == 403
    lee = _client(app, "lee@brightpath.example")
    assert lee.get(f"/payslips/{payroll['s2']}").status_code == 200
    assert lee.get(f"/payslips/{payroll['h0']}").status_code == 404
    # Staff looking at a payslip is audited.
    from portal.models.audit import AuditEvent

    with app.app_context():
        actions = set(db.session.scalars(sa.select(AuditEvent.action).where(AuditEvent.record_type == "payslip")))
    assert "payslip.viewed" in actions


def test_council_officers_and_administrators_never_see_a_payslip(app, payroll):
    for email in ("rachel@northfield.example", "admin@example.org"):
        client = _client(app, email)
        assert client.get(f"/payslips/{payroll['s1']}").status_code == 403
        assert client.get(f"/payslips/{payroll['s1']}.pdf").status_code == 403
        assert client.get(f"/people/{payroll['amina']}/payslips").status_code == 403
        assert client.get(f"/payslips/year-end/2026/{payroll['sophie_amina']}.pdf").status_code == 403
        assert client.get(f"/payslips/leaver/{payroll['joan']}.pdf").status_code == 403
        assert client.get("/payslips").status_code == 403
    # Rachel's view of Amina's record has no Payslips link.
    rachel = _client(app, "rachel@northfield.example")
    page = get_page(rachel, f"/people/{payroll['amina']}/timesheets")
    assert page.soup.find("a", href=f"/people/{payroll['amina']}/payslips") is None


def test_anonymous_visitors_sign_in(app, payroll):
    client = app.test_client()
    for url in ("/payslips", f"/payslips/{payroll['s1']}", f"/payslips/{payroll['s1']}.pdf", f"/people/{payroll['amina']}/payslips",
                f"/payslips/leaver/{payroll['joan']}.pdf"):
        response = client.get(url)
        assert response.status_code == 302 and "/sign-in" in response.headers["Location"]


# One payslip: the page, the PDF and the row agree -----------------------------------------------------


def test_payslip_page_and_pdf_show_the_payslips_figures(app, payroll, tmp_path):
    client = _client(app, "sophie.pa@example.org")
    page = get_page(client, f"/payslips/{payroll['s2']}")
    figures = {row["data-figure"]: (row.th.get_text(" ", strip=True), row.select_one("[data-amount]").get_text(strip=True))
               for row in page.soup.select("[data-figure]")}
    amounts = {key: amount for key, (_, amount) in figures.items()}
    # The page's figures are the payslip row's (hand-chosen above), formatted by this test.
    assert amounts["gross"] == money(S2["gross_pence"]) == "£629.20"
    assert amounts["holiday-pay"] == money(S2["holiday_pay_pence"])
    assert amounts["non-taxable"] == "£0.00"
    assert [figures[f"deduction-{i}"] for i in (1, 2, 3)] == [
        ("Income tax", money(S2["tax_pence"])), ("National Insurance (category A)", money(S2["employee_ni_pence"])),
        ("Pension contribution", money(S2["employee_pension_pence"]))]
    assert amounts["deductions"] == money(6180 + 2714 + 1146) == "£100.40"
    assert amounts["net"] == money(S2["net_pence"]) == "£528.80"
    assert [amounts[f"ytd-{i}"] for i in range(1, 8)] == [money(S2[k]) for k in (
        "ytd_gross_pence", "ytd_tax_pence", "ytd_employee_ni_pence", "ytd_employee_pension_pence", "ytd_employer_ni_pence",
        "ytd_employer_pension_pence", "ytd_employment_allowance_pence")]
    # Employer's costs, separately: NI before the allowance = after (0) + the allowance claimed.
    assert amounts["employer-ni-before"] == money(0 + 7468)
    assert amounts["employment-allowance"] == money(7468)
    assert amounts["employer-ni"] == "£0.00"
    assert amounts["employer-pension"] == money(688)
    assert amounts["employer-cost"] == money(62920 + 0 + 0 + 688) == "£636.08"
    details = {row["data-detail"]: row.td.get_text(" ", strip=True) for row in page.soup.select("[data-detail]")}
    assert details["employer"] == "Amina Patel" and details["employee"].startswith("Sophie Clarke")
    assert details["ni"] == "ending 56C"
    assert details["provider"] == "Brightpath Support"
    assert details["period"] == "26 October 2026 to 8 November 2026 (fortnightly)"
    assert details["pay-date"] == "13 November 2026"
    assert details["tax-period"] == "2026 to 2027, Week 32"
    assert details["tax-code"] == "1257L" and details["basis"] == "Cumulative"
    # Holiday: this period's, and the tax year's so far (S1 318 + S2 275 = 593 minutes earned).
    assert details["holiday-accrued"] == "4 hours 35 minutes"
    assert details["holiday-taken"] == "8 hours"
    assert details["holiday-accrued-year"] == "9 hours 53 minutes"
    assert details["holiday-taken-year"] == "8 hours"
    # Hours by rate type: the two day-hours lines added up (1200 + 1080 minutes, £280 + £252).
    hours = [[td.get_text(strip=True) for td in row.select("td")] for row in page.soup.select("[data-hours-row]")]
    assert hours == [["Day hours", "38 hours", "£14.00", "£532.00"]]
    correction = page.soup.select_one("[data-correction]")
    assert "Correction" in correction.get_text() and "corrects the payslip paid on 30 October 2026" in correction.get_text()
    assert page.soup.select_one("[data-has-corrections]") is not None
    assert page.soup.select_one("[data-does-not-add-up]") is None
    assert "JT123456C" not in page.text

    started = time.perf_counter()
    response = client.get(f"/payslips/{payroll['s2']}.pdf")
    print(f"\none payslip PDF (request, render and write): {time.perf_counter() - started:.3f} s")
    assert response.status_code == 200 and response.mimetype == "application/pdf"
    assert "attachment" in response.headers["Content-Disposition"]
    text = _pdf_text(response.data, tmp_path)
    words = " ".join(_pdf_text(response.data, tmp_path, layout=False).split())
    # Every figure on the page is in the PDF, on one line with its label.
    for key, (label, amount) in figures.items():
        assert re.search(re.escape(label) + r"\s+" + re.escape(amount), text), f"{key}: {label} {amount} not in the PDF"
    for value in ("ending 56C", "13 November 2026", "Week 32", "1257L", "Cumulative", "Brightpath Support",
                  "Hours by rate type", "Correction Night hours", "corrects the payslip paid on 30 October 2026", "9 hours 53 minutes"):
        assert value in words, value
    assert re.search(r"Day hours\s+38 hours\s+£14\.00\s+£532\.00", text)
    assert "Employer's costs" in text
    assert "JT123456C" not in text
    assert "Page 1 of 1" in text  # a payslip fits on one page


def test_non_taxed_lines_ssp_and_week1_on_joans_payslip(app, payroll, tmp_path):
    client = _client(app, "kim@brightpath.example")
    page = get_page(client, f"/payslips/{payroll['j1']}")
    amounts = {row["data-figure"]: row.select_one("[data-amount]").get_text(strip=True) for row in page.soup.select("[data-figure]")}
    assert amounts["gross"] == "£449.39" and amounts["ssp"] == "£49.30" and amounts["holiday-pay"] == "£43.09"
    assert amounts["net"] == money(44939 - 8987) == "£359.52"
    details = {row["data-detail"]: row.td.get_text(" ", strip=True) for row in page.soup.select("[data-detail]")}
    assert details["basis"] == "Week 1 (non-cumulative)" and details["tax-period"] == "2026 to 2027, Week 31"
    lines = [row.get_text(" ", strip=True) for row in page.soup.select("[data-line]")]
    assert any("Statutory Sick Pay" in line and "2 days" in line and "£24.65 a day" in line for line in lines)
    assert any("Rolled-up holiday pay (12.07%)" in line for line in lines)


def test_mileage_is_shown_as_not_taxed(app, payroll):
    client = _client(app, "amina@example.org")
    page = get_page(client, f"/payslips/{payroll['s1']}")
    mileage = [row.get_text(" ", strip=True) for row in page.soup.select("[data-line]") if "Mileage" in row.get_text()]
    assert mileage == ["Mileage (not taxed) 20 miles £0.45 a mile £9.00"]
    amounts = {row["data-figure"]: row.select_one("[data-amount]").get_text(strip=True) for row in page.soup.select("[data-figure]")}
    assert amounts["non-taxable"] == "£9.00"
    assert amounts["net"] == money(71000 + 900 - 7360 - 3712 - 1450)


def test_a_reversal_run_is_marked_and_becomes_the_year_to_date(app, payroll, tmp_path):
    with app.app_context():
        original = db.session.get(Payslip, payroll["s1"])
        reversed_run = db.session.get(PayRun, payroll["a1"])
        run = PayRun(run_key=f"reversal:{reversed_run.id}", kind=PayRunKind.REVERSAL, provider_id=reversed_run.provider_id,
                     pay_period=reversed_run.pay_period, period_start=reversed_run.period_start, period_end=reversed_run.period_end,
                     pay_date=date(2026, 11, 20), tax_year_start=date(2026, 4, 6), tax_period=33, status=PayRunStatus.APPROVED,
                     reverses_run_id=reversed_run.id, created_by_id=payroll["kim"], approved_by_id=payroll["kim"])
        db.session.add(run)
        db.session.flush()
        # S1's figures negated; the year to date after it is S2's less S1's period figures.
        reversal = Payslip(run_id=run.id, employment_id=original.employment_id, pa_id=original.pa_id, employer_id=original.employer_id,
                           tax_year_start=original.tax_year_start, tax_period=33, pay_date=run.pay_date, tax_code="1257L",
                           minutes_worked=-2640, gross_pence=-71000, non_taxable_pence=-900, tax_pence=-7360, employee_ni_pence=-3712,
                           employee_pension_pence=-1450, net_pence=-59378, ytd_gross_pence=1_198_920 - 71000,
                           ytd_tax_pence=123_940 - 7360)
        db.session.add(reversal)
        db.session.commit()
        reversal_id = reversal.id
    client = _client(app, "sophie.pa@example.org")
    listing = get_page(client, "/payslips")
    assert listing.soup.select_one(f'[data-payslip="{reversal_id}"] [data-reversal-tag]') is not None
    assert _ytd(listing, 2026)["Amina Patel"] == money(1_198_920 - 71000) == "£11,279.20"
    page = get_page(client, f"/payslips/{reversal_id}")
    banner = page.soup.select_one("[data-reversal]").get_text(" ", strip=True)
    assert "Reversal" in banner and "paid on 30 October 2026" in banner
    assert page.soup.h1.get_text(strip=True).startswith("Reversal payslip")
    text = _pdf_text(client.get(f"/payslips/{reversal_id}.pdf").data, tmp_path)
    assert "Reversal payslip" in text and "paid on 30 October 2026" in text and "-£593.78" in text


# Year-end figures ------------------------------------------------------------------------------------


def test_p60_figures_per_employer_per_tax_year(app, payroll, tmp_path):
    client = _client(app, "sophie.pa@example.org")
    links = {a["href"] for a in get_page(client, "/payslips").soup.select("[data-p60-link]")}
    assert links == {f"/payslips/year-end/2026/{payroll['sophie_amina']}.pdf", f"/payslips/year-end/2026/{payroll['sophie_grace']}.pdf",
                     f"/payslips/year-end/2025/{payroll['sophie_grace']}.pdf"}
    # 2025 to 2026 with Grace: from H0 (the year's last payslip); the year has ended.
    response = client.get(f"/payslips/year-end/2025/{payroll['sophie_grace']}.pdf")
    assert response.status_code == 200
    text = _pdf_text(response.data, tmp_path, "p60.pdf")
    assert "Figures for your P60" in text and "This is not a P60" in text
    assert re.search(r"Pay in this employment\s+£3,120\.00", text)
    assert re.search(r"Tax deducted in this employment\s+£624\.00", text)
    assert "2025 to 2026" in text and "Grace Okafor" in text and "BR" in text and "figures so far" not in text
    assert "ending 56C" in text and "JT123456C" not in text
    # 2026 to 2027 with Amina: from S2, and the year is not over.
    text = _pdf_text(client.get(f"/payslips/year-end/2026/{payroll['sophie_amina']}.pdf").data, tmp_path, "p60b.pdf")
    assert re.search(r"Pay in this employment\s+£11,989\.20", text)
    assert re.search(r"Tax deducted in this employment\s+£1,239\.40", text)
    assert re.search(r"Employee National Insurance\s+£621\.06", text)
    assert "figures so far" in text and "13 November 2026" in text
    # A year without payslips with that employer, and nonsense years: not found.
    assert client.get(f"/payslips/year-end/2025/{payroll['sophie_amina']}.pdf").status_code == 404
    assert client.get(f"/payslips/year-end/1999/{payroll['sophie_amina']}.pdf").status_code == 404


def test_p45_figures_for_a_leaver(app, payroll, tmp_path):
    client = _client(app, "amina@example.org")
    response = client.get(f"/payslips/leaver/{payroll['joan']}.pdf")
    assert response.status_code == 200
    text = _pdf_text(response.data, tmp_path, "p45.pdf")
    assert "Figures for your P45" in text and "This is not a P45" in text
    assert "Joan Price" in text and "Amina Patel" in text
    assert re.search(r"Leaving date\s+31 October 2026", text)
    assert re.search(r"Last tax week or month paid\s+Week 31", text)
    assert re.search(r"Tax code at leaving\s+1257L", text)
    assert re.search(r"Tax basis\s+Week 1 \(non-cumulative\)", text)
    assert re.search(r"Pay in this employment\s+£3,145\.73", text)
    assert re.search(r"Tax deducted in this employment\s+£629\.14", text)
    assert "ending 21A" in text and "JT654321A" not in text
    # Not a leaver: no P45 figures.
    assert client.get(f"/payslips/leaver/{payroll['sophie_amina']}.pdf").status_code == 404


def test_p45_for_a_leaver_never_paid_through_the_portal(app, payroll, tmp_path):
    with app.app_context():
        tom_leon = db.session.scalar(sa.select(Employment).where(Employment.employer_id == payroll["tom"]))
        tom_leon.end_date, tom_leon.tax_code = date(2026, 9, 30), "1257L"
        db.session.commit()
        leon_id = tom_leon.id
    client = _client(app, "kim@brightpath.example")
    text = _pdf_text(client.get(f"/payslips/leaver/{leon_id}.pdf").data, tmp_path, "p45.pdf")
    assert re.search(r"Pay in this employment\s+£0\.00", text)
    assert "No pay was run through the portal" in text and "2026 to 2027" in text
    # An ending in the future is not a leaver yet.
    with app.app_context():
        db.session.get(Employment, leon_id).end_date = date(2026, 12, 31)
        db.session.commit()
    assert client.get(f"/payslips/leaver/{leon_id}.pdf").status_code == 404


# The whole run, by command -------------------------------------------------------------------------


def _bulk_run(app, payroll, count: int) -> int:
    """An approved Brightpath run with `count` payslips for Amina, one per made-up PA, two lines each."""
    with app.app_context():
        run = PayRun(run_key="bp:bulk", provider_id=db.session.scalar(sa.select(Organisation.id).where(Organisation.name == "Brightpath Support")),
                     pay_period=PayPeriod.WEEKLY, period_start=date(2026, 11, 2), period_end=date(2026, 11, 8), pay_date=date(2026, 11, 13),
                     tax_year_start=date(2026, 4, 6), tax_period=32, status=PayRunStatus.APPROVED, created_by_id=payroll["kim"],
                     approved_by_id=payroll["kim"])
        db.session.add(run)
        people = [Person(given_name="Bulk", family_name=f"Worker{i:04d}") for i in range(count)]
        db.session.add_all(people)
        db.session.flush()
        jobs = [Employment(pa_id=p.id, employer_id=payroll["amina"], start_date=date(2026, 4, 6), ni_number="JT000000A") for p in people]
        db.session.add_all(jobs)
        db.session.flush()
        for job in jobs:
            slip = Payslip(run_id=run.id, employment_id=job.id, pa_id=job.pa_id, employer_id=job.employer_id, tax_year_start=run.tax_year_start,
                           tax_period=32, pay_date=run.pay_date, tax_code="1257L", gross_pence=28000, net_pence=28000)
            slip.lines = [PayslipLine(kind=PayslipLineKind.HOURS, description="Day hours", quantity=1200, rate_pence=1400, amount_pence=28000),
                          PayslipLine(kind=PayslipLineKind.MILEAGE, description="Mileage", quantity=0, amount_pence=0, taxable=False)]
            db.session.add(slip)
        db.session.commit()
        return run.id


def test_render_payslips_command_writes_one_pdf_per_payslip(app, payroll, tmp_path):
    run_id = _bulk_run(app, payroll, 3)
    result = app.test_cli_runner().invoke(args=["render-payslips", str(run_id), str(tmp_path / "out")])
    assert result.exit_code == 0, result.output
    files = sorted((tmp_path / "out").iterdir())
    assert len(files) == 3 and "Wrote 3 payslip PDF(s)" in result.output
    assert all(f.read_bytes().startswith(b"%PDF") and f.name.startswith("payslip-2026-11-13-bulk-worker") for f in files)
    assert "Day hours" in _pdf_text(files[0].read_bytes(), tmp_path)
    # A draft run is refused; so is a run that does not exist.
    refused = app.test_cli_runner().invoke(args=["render-payslips", str(payroll["a3"]), str(tmp_path / "draft")])
    assert refused.exit_code != 0 and "draft" in refused.output
    missing = app.test_cli_runner().invoke(args=["render-payslips", "999999", str(tmp_path / "none")])
    assert missing.exit_code != 0 and "no pay run" in missing.output


def test_render_run_streams_one_payslip_at_a_time(app, payroll, tmp_path):
    """Bounded memory: however many payslips the run has, the session never holds more than one
    payslip (and its lines) while rendering, and ids are read in batches."""
    import tracemalloc

    from portal.services import payslips

    count = 300
    run_id = _bulk_run(app, payroll, count)
    held = []
    with app.app_context():
        def fake_render(view):  # the PDF itself is tested above: here, what the session holds
            objects = list(db.session.identity_map.values())
            held.append((sum(isinstance(o, Payslip) for o in objects), sum(isinstance(o, PayslipLine) for o in objects)))
            return b"%PDF-fake"

        tracemalloc.start()
        written = payslips.render_run(run_id, tmp_path / "out", batch=50, render=fake_render)
        _, peak = tracemalloc.get_traced_memory()
        tracemalloc.stop()
    assert written == count == len(list((tmp_path / "out").iterdir()))
    assert max(payslips_held for payslips_held, _ in held) == 1
    assert max(lines_held for _, lines_held in held) == 2
    print(f"\nrender_run over {count} payslips (render stubbed): peak traced memory {peak / 1024:.0f} KiB")
    assert peak < 8 * 1024 * 1024


# Year-end figures: a previous job's P45, the NI table, totals on a leaver's P45 ---------------------------


def test_p60_figures_show_previous_employments_this_employment_and_the_years_total(app, payroll, tmp_path):
    with app.app_context():
        # Payroll used a P45 from a job Sophie left in May (£9,000.00 pay, £300.00 tax) on both payslips.
        for key in ("s1", "s2"):
            slip = db.session.get(Payslip, payroll[key])
            slip.previous_pay_pence, slip.previous_tax_pence = 900_000, 30_000
        db.session.commit()
    client = _client(app, "sophie.pa@example.org")
    text = _pdf_text(client.get(f"/payslips/year-end/2026/{payroll['sophie_amina']}.pdf").data, tmp_path, "p60.pdf")
    assert re.search(r"Pay in previous employments\s+£9,000\.00", text)
    assert re.search(r"Tax deducted in previous employments\s+£300\.00", text)
    # This employment's own: S2's year to date (£11,989.20, £1,239.40), as before.
    assert re.search(r"Pay in this employment\s+£11,989\.20", text)
    assert re.search(r"Tax deducted in this employment\s+£1,239\.40", text)
    assert re.search(r"Total pay for the year\s+£20,989\.20", text)  # £9,000.00 + £11,989.20
    assert re.search(r"Total tax for the year\s+£1,539\.40", text)  # £300.00 + £1,239.40
    # With Grace no P45 was used: previous employments are £0.00 and the totals are this employment's.
    text = _pdf_text(client.get(f"/payslips/year-end/2025/{payroll['sophie_grace']}.pdf").data, tmp_path, "p60b.pdf")
    assert re.search(r"Pay in previous employments\s+£0\.00", text)
    assert re.search(r"Total pay for the year\s+£3,120\.00", text)


def test_the_p60_ni_table_adds_up_each_category_in_whole_pounds(app, payroll, tmp_path):
    with app.app_context():
        # Fortnightly thresholds: LEL £258, PT £484. S1 £710.00: £258, £226, £226.00; S2 £629.20: £258, £226, £145.20.
        for key, bands in (("s1", (25800, 22600, 22600)), ("s2", (25800, 22600, 14520))):
            slip = db.session.get(Payslip, payroll[key])
            slip.ni_earnings_at_lel_pence, slip.ni_earnings_lel_to_pt_pence, slip.ni_earnings_pt_to_uel_pence = bands
        # A category C payslip between them (the PA past State Pension age): its own line, no employee NI.
        s1 = db.session.get(Payslip, payroll["s1"])
        run = PayRun(run_key="bp:f:extra", provider_id=db.session.get(PayRun, s1.run_id).provider_id, pay_period=PayPeriod.FORTNIGHTLY,
                     period_start=date(2026, 10, 19), period_end=date(2026, 11, 1), pay_date=date(2026, 11, 6),
                     tax_year_start=date(2026, 4, 6), tax_period=31, status=PayRunStatus.APPROVED, created_by_id=payroll["kim"],
                     approved_by_id=payroll["kim"])
        db.session.add(run)
        db.session.flush()
        db.session.add(Payslip(run_id=run.id, employment_id=s1.employment_id, pa_id=s1.pa_id, employer_id=s1.employer_id,
                               tax_year_start=run.tax_year_start, tax_period=31, pay_date=run.pay_date, tax_code="1257L",
                               ni_category="C", gross_pence=59099, net_pence=59099, ni_earnings_at_lel_pence=25800,
                               ni_earnings_lel_to_pt_pence=22600, ni_earnings_pt_to_uel_pence=10699))
        db.session.commit()
    client = _client(app, "sophie.pa@example.org")
    response = client.get(f"/payslips/year-end/2026/{payroll['sophie_amina']}.pdf")
    text = _pdf_text(response.data, tmp_path, "p60.pdf")
    assert "National Insurance contributions in this employment" in text
    # A: £516 at the LEL; £452 to the PT; £371.20 above it, printed £371 (the pence dropped); NI £37.12 + £27.14.
    assert re.search(r"\bA\s+£516\s+£452\s+£371\s+£64\.26", text), text
    # C: £258, £226, £106.99 printed £106, no employee NI.
    assert re.search(r"\bC\s+£258\s+£226\s+£106\s+£0\.00", text), text


def test_the_p60_ni_table_takes_a_reversal_off(app, payroll):
    from portal.services import payslips as service

    with app.app_context():
        s1 = db.session.get(Payslip, payroll["s1"])
        s1.ni_earnings_at_lel_pence, s1.ni_earnings_lel_to_pt_pence, s1.ni_earnings_pt_to_uel_pence = 25800, 22600, 22600
        original = db.session.get(PayRun, s1.run_id)
        run = PayRun(run_key=f"reversal:{original.id}", kind=PayRunKind.REVERSAL, provider_id=original.provider_id,
                     pay_period=original.pay_period, period_start=original.period_start, period_end=original.period_end,
                     pay_date=date(2026, 11, 20), tax_year_start=date(2026, 4, 6), tax_period=33, status=PayRunStatus.APPROVED,
                     reverses_run_id=original.id, created_by_id=payroll["kim"], approved_by_id=payroll["kim"])
        db.session.add(run)
        db.session.flush()
        db.session.add(Payslip(run_id=run.id, employment_id=s1.employment_id, pa_id=s1.pa_id, employer_id=s1.employer_id,
                               tax_year_start=s1.tax_year_start, tax_period=33, pay_date=run.pay_date, tax_code="1257L",
                               employee_ni_pence=-3712, ni_earnings_at_lel_pence=-25800, ni_earnings_lel_to_pt_pence=-22600,
                               ni_earnings_pt_to_uel_pence=-22600))
        db.session.commit()
        employment = db.session.get(Employment, payroll["sophie_amina"])
        [row] = service.p60_figures(employment, date(2026, 4, 6)).ni_table
        # S1 taken back: only S2 is left (its bands are 0 in this set-up), and S2's NI £27.14.
        assert (row.category, row.at_lel_pence, row.lel_to_pt_pence, row.pt_to_uel_pence, row.employee_ni_pence) == ("A", 0, 0, 0, 2714)


def test_a_leavers_p45_gives_totals_to_date_with_the_previous_employment_on_the_cumulative_basis(app, payroll, tmp_path):
    with app.app_context():
        j1 = db.session.get(Payslip, payroll["j1"])
        j1.week1_month1 = False
        j1.previous_pay_pence, j1.previous_tax_pence = 500_000, 60_000
        db.session.commit()
    client = _client(app, "amina@example.org")
    text = _pdf_text(client.get(f"/payslips/leaver/{payroll['joan']}.pdf").data, tmp_path, "p45.pdf")
    assert re.search(r"Total pay to date\s+£8,145\.73", text)  # £5,000.00 + £3,145.73
    assert re.search(r"Total tax to date\s+£1,229\.14", text)  # £600.00 + £629.14
    assert re.search(r"Pay in this employment\s+£3,145\.73", text)
    assert re.search(r"Tax deducted in this employment\s+£629\.14", text)


def test_a_leavers_p45_on_week1_has_no_totals_to_date(app, payroll, tmp_path):
    client = _client(app, "amina@example.org")
    text = _pdf_text(client.get(f"/payslips/leaver/{payroll['joan']}.pdf").data, tmp_path, "p45.pdf")
    assert "Total pay to date" not in text and "Total tax to date" not in text
    assert "No total pay or tax to date" in text
    assert re.search(r"Pay in this employment\s+£3,145\.73", text)


def test_a_payslip_says_which_deductions_are_made_outside_the_portal_and_its_ni_category(app, payroll, tmp_path):
    with app.app_context():
        slip = db.session.get(Payslip, payroll["s2"])
        slip.outside_deductions = "Plan 2 student loan; attachment of earnings order"
        slip.ni_category = "C"
        db.session.commit()
    client = _client(app, "sophie.pa@example.org")
    page = get_page(client, f"/payslips/{payroll['s2']}")
    notice = page.soup.select_one("[data-outside-deductions]").get_text(" ", strip=True)
    assert ("Deductions for the Plan 2 student loan and attachment of earnings order are not on this payslip: the payroll "
            "service works them out and takes them separately, so the net pay shown here is before them.") in notice
    details = {row["data-detail"]: row.td.get_text(" ", strip=True) for row in page.soup.select("[data-detail]")}
    assert details["ni-category"] == "C (over State Pension age)"
    words = " ".join(_pdf_text(client.get(f"/payslips/{payroll['s2']}.pdf").data, tmp_path, layout=False).split())
    assert "Deductions for the Plan 2 student loan and attachment of earnings order are not on this payslip" in words
    assert "C (over State Pension age)" in words
    # S1 has none: no notice.
    assert get_page(client, f"/payslips/{payroll['s1']}").soup.select_one("[data-outside-deductions]") is None
