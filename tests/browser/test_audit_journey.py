"""Browser journey for audits (issue 6), with axe-core and a CSP check on every page reached.

Kim (Brightpath) finds Tom's overdue audit in her work queue, starts it for the period the portal
suggests, answers the checklist, gives a reason for anything without its evidence, signs off, and
downloads the PDF report. It changes what other journeys would see, so it has a server of its own.
"""

import re

import pytest
import sqlalchemy as sa
from playwright.sync_api import expect

from portal.extensions import db
from portal.models import Person
from portal.services.clock import london_today
from portal.services.demo_audits import load_audits
from tests.browser.conftest import h1, journey_on, success

pytestmark = pytest.mark.browser

KIM = "kim@brightpath.example"


@pytest.fixture
def fresh_journey(browser, fresh_live_server):
    with fresh_live_server.app.app_context():
        load_audits({given.lower(): pid for pid, given in db.session.execute(sa.select(Person.id, Person.given_name))})
        db.session.remove()
    yield from journey_on(browser, fresh_live_server, accept_downloads=True)


def test_kim_audits_tom_signs_off_and_downloads_the_report(fresh_journey, tmp_path):
    journey = fresh_journey
    page = journey.page
    today = london_today()

    journey.sign_in(KIM, staff=True)
    journey.click(page.get_by_role("navigation", name="Menu").get_by_role("link", name="Work"))
    row = page.locator("table[data-kind='audits-due'] tr[data-item]").filter(has_text="Tom Hughes")
    expect(row).to_contain_text("Overdue")
    journey.click(row.get_by_role("link", name="Audit for Tom Hughes"))
    expect(h1(page)).to_have_text("Audits")
    expect(page.locator("[data-audit-due]")).to_contain_text("Overdue")

    # The period the portal suggests: a year from Tom's first payment.
    expect(page.get_by_role("group", name="From").get_by_label("Year")).not_to_have_value("")
    journey.click(page.get_by_role("button", name="Start the audit"))
    expect(success(page)).to_contain_text("Audit started for")
    expect(h1(page)).to_have_text(re.compile(r"^Audit of "))
    expect(page.locator("[data-status]")).to_have_text("In progress")

    # The checklist.
    for question, answer in (("Was the employer's liability insurance valid for the whole period?", "Yes"),
                             ("Do the payslips match the net pay paid from the account?", "Yes"),
                             ("Were tax and National Insurance paid to HMRC?", "Yes"),
                             ("Were workplace pension contributions paid?", "Not applicable")):
        page.get_by_role("group", name=question).get_by_label(answer, exact=True).check()
    page.get_by_label("Note about the insurance (optional)").fill("Carewise certificate seen, valid all year.")
    journey.click(page.get_by_role("button", name="Save the checklist"))
    expect(success(page)).to_contain_text("Checklist saved.")

    # Anything without its evidence, or flagged, gets a reason.
    while page.locator("[data-gaps]").count():
        item = page.locator("[data-needs-reason] li[data-entry]").filter(has_not=page.locator(".govuk-tag--green")).first
        item.get_by_role("textbox").fill("Checked against the managed account's bank statement.")
        journey.click(item.get_by_role("button", name=re.compile("^Save reason")))
        expect(success(page)).to_contain_text("Reason saved.")

    page.get_by_role("group", name="What is the outcome of the audit?").get_by_label("Satisfactory: the money was spent").check()
    journey.click(page.get_by_role("button", name="Sign off the audit"))
    expect(success(page)).to_contain_text("Audit signed off by Kim Bell: satisfactory. It can no longer be changed.")
    expect(page.locator("[data-status]")).to_have_text("Signed off")
    expect(page.locator("[data-signed-off]")).to_contain_text(f"Kim Bell, Brightpath Support on {today.day} {today:%B %Y}")
    expect(page.locator("form[data-checklist-form], form[data-sign-off-form]")).to_have_count(0)

    with page.expect_download() as download_info:
        page.locator("[data-pdf]").click()
    saved = tmp_path / "audit.pdf"
    download_info.value.save_as(saved)
    assert saved.read_bytes().startswith(b"%PDF")
    assert re.fullmatch(r"audit-\d{4}-\d\d-\d\d-to-\d{4}-\d\d-\d\d\.pdf", download_info.value.suggested_filename)

    # Back in the queue, Tom's audit is no longer due.
    journey.click(page.get_by_role("navigation", name="Menu").get_by_role("link", name="Work"))
    expect(page.locator("table[data-kind='audits-due'] tr[data-item]").filter(has_text="Tom Hughes")).to_have_count(0)
