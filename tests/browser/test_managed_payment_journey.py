"""Browser journey for managed accounts (issue 6), with axe-core and a CSP check on every page reached.

Kim (Brightpath) records an invoice over Brightpath's £1,000 limit for Tom, with the PDF attached; it waits
for a second person. Lee approves it from his work queue and it is paid. Tom sees the payment on his money
page and opens it. It changes what other journeys would see, so it has a server and database of its own.
"""

import re
from datetime import date

import pytest
from playwright.sync_api import expect

from portal.services.clock import london_today
from portal.services.demo_managed_payments import invoice_pdf
from tests.browser.conftest import h1, menu, success

pytestmark = pytest.mark.browser

KIM, LEE, TOM = "kim@brightpath.example", "lee@brightpath.example", "tom@example.org"
PAYEE = "Sunrise Respite Breaks"


def _main(page):
    return page.get_by_role("main")


def test_kim_records_an_invoice_over_the_limit_lee_approves_it_and_tom_sees_it(fresh_journey):
    journey = fresh_journey
    page = journey.page
    due = london_today().toordinal() + 10

    # Kim finds Tom from her caseload, and his managed account from his money page.
    journey.sign_in(KIM, staff=True)
    journey.click(menu(page).get_by_role("link", name="Caseload"))
    journey.click(_main(page).get_by_role("link", name=re.compile(r"Hughes, Tom|Tom Hughes")).first)
    journey.click(page.get_by_role("navigation", name="Tom Hughes's record").get_by_role("link", name="Money", exact=True))
    journey.click(page.locator("[data-managed-account-link]").get_by_role("link"))
    expect(h1(page)).to_have_text("Managed account")
    journey.click(page.get_by_role("link", name="Pay an invoice"))
    expect(h1(page)).to_have_text("Pay an invoice")

    # Nothing filled in: the error summary says what is missing.
    journey.click(page.get_by_role("button", name="Record invoice"))
    expect(page).to_have_title(re.compile(r"^Error: "))
    expect(page.locator(".govuk-error-summary")).to_contain_text("Enter who is paid")
    expect(page.locator(".govuk-error-summary")).to_contain_text("Select the invoice")

    page.get_by_label("Who sent the invoice?").fill(PAYEE)
    page.get_by_label("Invoice number").fill("SRB-77")
    page.get_by_role("group", name="What is it for?").get_by_label("Respite").check()
    page.get_by_label("What was provided? (optional)").fill("Two nights of respite in November")
    page.get_by_label("Amount to pay").fill("1,040.00")
    when = page.get_by_role("group", name="When is the invoice due?")
    day = date.fromordinal(due)
    when.get_by_label("Day").fill(str(day.day))
    when.get_by_label("Month").fill(str(day.month))
    when.get_by_label("Year").fill(str(day.year))
    page.get_by_label("Upload the invoice").set_input_files(files=[{
        "name": "SRB-77.pdf", "mimeType": "application/pdf", "buffer": invoice_pdf(PAYEE, "SRB-77", london_today(), 104_000)}])
    journey.click(page.get_by_role("button", name="Record invoice"))
    expect(success(page)).to_contain_text(f"Payment of £1,040.00 to {PAYEE} recorded. It is over the limit of £1,000.00")
    expect(page.locator("[data-status]")).to_have_text("Waiting for approval")
    expect(page.locator("[data-own-recording]")).to_contain_text("another member of staff must approve it")
    expect(page.locator("form[data-approve-form]")).to_have_count(0)
    expect(page.locator("[data-invoice-link]")).to_have_text("SRB-77.pdf")
    journey.sign_out()

    # Lee has it in his work queue and approves it.
    journey.sign_in(LEE, staff=True)
    journey.click(menu(page).get_by_role("link", name="Work"))
    row = page.locator("table[data-kind='payments-approval'] tr[data-item]").filter(has_text=PAYEE)
    expect(row).to_have_count(1)
    journey.click(row.get_by_role("link", name=re.compile("^Check and approve")))
    expect(h1(page)).to_have_text(f"Invoice to {PAYEE}")
    expect(page.locator("[data-payment-details]")).to_contain_text("Kim")
    journey.click(page.get_by_role("button", name="Approve and pay"))
    expect(success(page)).to_contain_text(f"Payment approved: £1,040.00 was paid to {PAYEE} from Tom Hughes's account")
    expect(page.locator("[data-status]")).to_have_text("Paid")
    expect(page.locator("[data-history]")).to_contain_text("Approved by Lee")
    journey.click(page.get_by_role("link", name="Back to the managed account"))
    expect(page.locator("[data-payments]")).to_contain_text(PAYEE)
    journey.sign_out()

    # Tom sees the payment on his money page, and opens it.
    journey.sign_in(TOM)
    journey.click(page.get_by_role("link", name="Your direct payment details"))
    journey.click(page.get_by_role("navigation", name="Tom Hughes's record").get_by_role("link", name="Money", exact=True))
    payments = page.locator("[data-managed-payments]")
    expect(payments).to_contain_text(PAYEE)
    expect(payments.locator("tr").filter(has_text=PAYEE)).to_contain_text("Paid")
    journey.click(payments.get_by_role("link", name=PAYEE))
    expect(h1(page)).to_have_text(f"Invoice to {PAYEE}")
    expect(page.locator("[data-payment-details]")).to_contain_text("£1,040.00")
    expect(page.locator("form[data-approve-form], form[data-cancel-form]")).to_have_count(0)
    journey.click(page.get_by_role("link", name="Back to the managed account"))
    expect(page.locator("[data-record-links]")).to_have_count(0)
