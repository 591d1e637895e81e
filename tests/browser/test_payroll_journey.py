"""Browser journey for payroll (issue 7), with axe-core and a CSP check on every page reached.

Kim (Brightpath, payroll permission) builds the fortnightly pay run for the last complete fortnight from
the pay runs page; she cannot approve her own run. Lee (Brightpath's manager) is told, opens it from his
messages and approves it. Sophie downloads her payslip from Amina as a PDF. Amina's money page shows the
run's net pay, tax and NI, and pension as bills waiting to be paid, in place of the approved timesheet.
It changes what other journeys would see, so it has a server and database of its own: the money demo
without the pay run the demo itself makes (this journey makes it).

Expected figures are worked here from Sophie's shifts and her employment record in the demo
(portal/services/demo_employing.py: £14.00 an hour by day, 1257L, born 1996, pension enrolled, paid
fortnightly) with the 2026/27 fortnightly thresholds HMRC and The Pensions Regulator publish (see
shared/design/rates.md): employee NI 8% above the primary threshold £484; employer NI 15% above the
secondary threshold £192, all of it covered by the Employment Allowance (this is Amina's first run of
the tax year in the portal); pension 5% (employee) and 3% (employer) of qualifying earnings above £240;
no income tax, as the cumulative free pay of 1257L by a November pay date (over £7,000) is far above one
fortnight's pay.
"""

import re
import subprocess
import threading

import pytest
import sqlalchemy as sa
from playwright.sync_api import expect
from werkzeug.serving import make_server

from portal import create_app
from portal.extensions import db
from portal.services.clock import london_today
from tests.browser.conftest import LiveServer, h1, journey_on, menu, success

pytestmark = pytest.mark.browser

KIM, LEE, SOPHIE, AMINA = "kim@brightpath.example", "lee@brightpath.example", "sophie.pa@example.org", "amina@example.org"
# Sophie's rates in pence (demo_employing.py), by the shift's rate type.
SOPHIE_RATES = {"day": 1400, "night": 1500, "weekend": 1550}
SOPHIE_SLEEP_IN = 9000
# 2026/27, a fortnight (rates.md; HMRC's and The Pensions Regulator's published per-period figures).
PRIMARY_THRESHOLD, SECONDARY_THRESHOLD, QUALIFYING_LOWER, QUALIFYING_UPPER = 48_400, 19_200, 24_000, 193_400


@pytest.fixture
def server_before_payroll(databases, monkeypatch):
    """A live server of the test's own on the money demo as it was before Brightpath ran its payroll:
    the demo's pay run (portal/services/demo_payroll.py, built by Kim and approved by Lee) is left out,
    so this journey makes it. Otherwise as tests/browser/conftest.py's fresh_live_server."""
    import tests.conftest as shared
    from portal.services import demo, demo_payroll

    monkeypatch.setattr(demo_payroll, "load_payroll", lambda ids, today=None: None)
    url = databases.create("empty")  # migrated, with the default pages
    app = create_app({"SQLALCHEMY_DATABASE_URI": url, "EVIDENCE_FOLDER": shared.EVIDENCE_FOLDER})
    with app.app_context():
        demo.load_money(demo.load_personas(app.config["ARGON2_TIME_COST"], app.config["ARGON2_MEMORY_COST"]))
        db.session.remove()
    server = make_server("127.0.0.1", 0, app, threaded=True)
    thread = threading.Thread(target=server.serve_forever, name="payroll-journey-server", daemon=True)
    thread.start()
    try:
        yield LiveServer(f"http://127.0.0.1:{server.server_port}", app)
    finally:
        server.shutdown()
        server.server_close()
        thread.join(timeout=10)
        with app.app_context():
            db.session.remove()
            db.engine.dispose()
        databases.drop(url)


@pytest.fixture
def fresh_journey(browser, server_before_payroll):
    yield from journey_on(browser, server_before_payroll)


def _main(page):
    return page.get_by_role("main")


def pounds(pence: int) -> str:
    return f"£{pence / 100:,.2f}"


def _period_and_sophies_pay(app):
    """The last complete fortnight of Brightpath's calendar, Sophie's approved and unpaid pay up to its end
    (the demo leaves her newest complete fortnight for payroll to pay), and the descriptions of the
    approved timesheets' items on Amina's account (owed until payroll pays them)."""
    from portal.models import Organisation, PayPeriod, Person, Timesheet, TimesheetStatus
    from portal.services import pay_runs

    with app.app_context():
        brightpath = db.session.scalar(sa.select(Organisation.id).where(Organisation.name == "Brightpath Support"))
        period = pay_runs.periods_to_choose(brightpath, london_today(), complete=1)[PayPeriod.FORTNIGHTLY][1]
        sophie = db.session.scalar(sa.select(Person.id).where(Person.given_name == "Sophie", Person.family_name == "Clarke"))
        amina = db.session.scalar(sa.select(Person.id).where(Person.given_name == "Amina", Person.family_name == "Patel"))
        latest = db.session.scalar(sa.select(Timesheet).where(
            Timesheet.employer_id == amina, Timesheet.pa_id == sophie, Timesheet.status == TimesheetStatus.APPROVED,
            Timesheet.period_start == period.start))
        assert latest is not None and latest.paid_on is None, (
            f"the demo has no approved, unpaid timesheet of Sophie's for {period.start} to {period.end}")
        owed = db.session.scalars(sa.select(Timesheet).where(
            Timesheet.employer_id == amina, Timesheet.pa_id == sophie, Timesheet.status == TimesheetStatus.APPROVED,
            Timesheet.paid_on.is_(None), Timesheet.period_end <= period.end)).all()
        assert [ts.id for ts in owed] == [latest.id]  # older ones were paid outside payroll in the demo
        gross = 0
        for ts in owed:
            for shift in ts.shifts:
                kind = shift.rate_type.value if hasattr(shift.rate_type, "value") else shift.rate_type
                gross += SOPHIE_SLEEP_IN if kind == "sleep-in" else shift.minutes * SOPHIE_RATES[kind] // 60
                assert kind == "sleep-in" or shift.minutes * SOPHIE_RATES[kind] % 60 == 0  # whole pence: no rounding to mirror
        descriptions = [f"PA timesheet {ts.period_start:%-d %b} to {ts.period_end:%-d %b %Y}" for ts in owed]
        db.session.remove()
    return period, gross, descriptions


def test_kim_runs_payroll_lee_approves_sophie_downloads_her_payslip_and_amina_sees_what_is_owed(fresh_journey, tmp_path):
    journey = fresh_journey
    page = journey.page
    period, gross, timesheet_items = _period_and_sophies_pay(journey.server.app)
    # By hand: four 5-hour days a week at £14.00 is £560.00 a fortnight, and the demo adds a £90.00 sleep-in
    # to the fortnight starting in the first half of December (demo_employing._sophie_year).
    christmas = period.start.month == 12 and period.start.day <= 14
    assert gross == 56_000 + (SOPHIE_SLEEP_IN if christmas else 0)
    employee_ni = max(0, gross - PRIMARY_THRESHOLD) * 8 // 100
    assert max(0, gross - PRIMARY_THRESHOLD) * 8 % 100 == 0
    qualifying = max(0, min(gross, QUALIFYING_UPPER) - QUALIFYING_LOWER)
    employee_pension, employer_pension = qualifying * 5 // 100, qualifying * 3 // 100
    employer_ni_before_allowance = max(0, gross - SECONDARY_THRESHOLD) * 15 // 100
    tax = 0
    net = gross - tax - employee_ni - employee_pension
    if gross == 56_000:  # by hand: the ordinary fortnight
        assert (employee_ni, employee_pension, employer_pension, employer_ni_before_allowance, net) == (608, 1600, 960, 5520, 53_792)

    # Before the run, Amina's money page has Sophie's approved timesheet owed at its gross.
    journey.sign_in(AMINA)
    journey.click(page.get_by_role("link", name="Your direct payment details"))
    journey.click(page.get_by_role("navigation", name="Amina Patel's record").get_by_role("link", name="Money", exact=True))
    owed = page.locator("[data-owed] tbody tr")
    expect(owed.filter(has_text=timesheet_items[0]).locator("td").nth(2)).to_have_text(pounds(gross))
    expect(owed.filter(has_text="pay run")).to_have_count(0)
    journey.sign_out()

    # Kim builds the fortnight's run from the pay runs page.
    journey.sign_in(KIM, staff=True)
    journey.click(menu(page).get_by_role("link", name="Payroll"))
    expect(h1(page)).to_have_text("Timesheets this period")
    journey.click(page.locator("[data-pay-runs-link]"))
    expect(h1(page)).to_have_text("Pay runs")
    expect(page.locator("[data-none]")).to_have_text("No pay runs yet.")

    # Nothing chosen: the error summary says what is missing.
    journey.click(page.get_by_role("button", name="Build draft pay run"))
    expect(page).to_have_title(re.compile(r"^Error: "))
    expect(page.locator(".govuk-error-summary")).to_contain_text("Select the pay period to run")

    page.get_by_label("Pay period").select_option(f"fortnightly:{period.start.isoformat()}")
    journey.click(page.get_by_role("button", name="Build draft pay run"))
    expect(success(page)).to_contain_text("Draft pay run built:")
    expect(success(page)).to_contain_text("Another member of staff must now check and approve it.")
    expect(h1(page)).to_have_text("Fortnightly pay run")
    expect(page.locator("[data-status]")).to_have_text("Draft")
    run_url = page.url
    row = page.locator("[data-payslips] tbody tr").filter(has_text="Sophie Clarke")
    expect(row).to_have_count(1)
    expect(row).to_contain_text("Amina Patel")
    expect(row).to_contain_text("1257L")
    cells = row.locator("td")
    expect(cells.nth(3)).to_have_text(pounds(gross))
    expect(cells.nth(4)).to_have_text(pounds(tax))
    expect(cells.nth(5)).to_have_text(pounds(employee_ni))
    expect(cells.nth(6)).to_have_text(pounds(employee_pension))
    expect(cells.nth(7)).to_have_text(pounds(net))
    expect(page.locator("[data-why-not]")).to_have_text(
        "You built this pay run, so another member of staff must check and approve it.")
    expect(page.get_by_role("button", name="Approve pay run")).to_have_count(0)

    # The breakdown of Sophie's pay, figure by figure.
    journey.click(row.get_by_role("link", name=re.compile(r"^Sophie Clarke")))
    expect(_main(page)).to_contain_text(pounds(net))
    journey.click(page.get_by_role("link", name="Back to the pay run"))
    journey.sign_out()

    # Lee is told, opens the run from his messages and approves it.
    journey.sign_in(LEE, staff=True)
    journey.click(menu(page).get_by_role("link", name=re.compile(r"^Messages")))
    note = page.locator("[data-notifications] li").filter(has_text="Kim Bell built the fortnightly pay run")
    expect(note).to_have_count(1)
    journey.click(note.get_by_role("link", name=re.compile("^View")))
    assert page.url == run_url
    expect(page.locator("[data-employer-costs] tbody tr").filter(has_text="Amina Patel").locator("td").nth(1)).to_have_text(
        pounds(net))
    journey.click(page.get_by_role("button", name="Approve pay run"))
    expect(success(page)).to_contain_text("Pay run approved and locked.")
    expect(page.locator("[data-status]")).to_have_text("Approved and locked")
    expect(page.locator("[data-run-details]")).to_contain_text("Lee")
    expect(page.get_by_role("button", name="Approve pay run")).to_have_count(0)
    journey.sign_out()

    # Sophie finds the payslip from Amina and downloads it.
    journey.sign_in(SOPHIE)
    journey.click(page.locator("[data-payslips-link]"))
    expect(h1(page)).to_have_text("Your payslips")
    slip = page.locator("[data-payslip-table] tbody tr").filter(has_text="Amina Patel")
    expect(slip).to_have_count(1)
    expect(slip.locator("[data-net]")).to_have_text(pounds(net))
    journey.click(slip.get_by_role("link", name=re.compile(r"^View")))
    expect(h1(page)).to_have_text(re.compile(r"^Payslip, paid "))
    href = page.locator("[data-pdf-link]").get_attribute("href")
    response = page.request.get(journey.server.url(href))
    assert response.status == 200
    assert response.headers["content-type"].startswith("application/pdf")
    assert response.headers.get("content-disposition", "").startswith("attachment; filename=")
    body = response.body()
    assert body.startswith(b"%PDF")
    pdf = tmp_path / "payslip.pdf"
    pdf.write_bytes(body)
    text = subprocess.run(["pdftotext", "-layout", str(pdf), "-"], capture_output=True, text=True, check=True).stdout
    for expected in ("Sophie Clarke", "Amina Patel", pounds(gross), pounds(employee_ni), pounds(employee_pension), pounds(net)):
        assert expected in text, f"the payslip PDF does not show {expected!r}:\n{text}"
    journey.sign_out()

    # Amina's money page: the run's net pay, tax and NI, and pension are owed; the timesheet is not owed twice.
    journey.sign_in(AMINA)
    journey.click(page.get_by_role("link", name="Your direct payment details"))
    journey.click(page.get_by_role("navigation", name="Amina Patel's record").get_by_role("link", name="Money", exact=True))
    owed = page.locator("[data-owed] tbody tr")
    when = f"pay run {period.start.day} {period.start:%b} to {period.end.day} {period.end:%b %Y}"
    wages = owed.filter(has_text="PA net pay, pay run")
    hmrc = owed.filter(has_text="PAYE tax and National Insurance to HMRC")
    pension = owed.filter(has_text="Workplace pension contributions")
    for locator, amount in ((wages, net), (hmrc, tax + employee_ni), (pension, employee_pension + employer_pension)):
        expect(locator).to_have_count(1)
        expect(locator.locator("td").nth(2)).to_have_text(pounds(amount))
        expect(locator.locator("td").nth(1)).to_have_text(f"{period.pay_date.day} {period.pay_date:%B %Y}")
        expect(locator.locator("td").nth(0)).to_contain_text(when)
    for description in timesheet_items:  # replaced by the pay run's items, never counted twice
        expect(owed.filter(has_text=description)).to_have_count(0)
