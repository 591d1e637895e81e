"""Browser journey for the case page (issue 6), with axe-core and a CSP check on every page reached.

Kim (Brightpath) opens her caseload, opens Tom's case page, follows "View all" on the recent
transactions to the full list and comes back. Read-only, so it uses the session's shared server.
"""

import re

import pytest
from playwright.sync_api import expect
from tests.browser.conftest import h1, menu

pytestmark = pytest.mark.browser

KIM = "kim@brightpath.example"


def _main(page):
    return page.get_by_role("main")


def _open_toms_case(journey):
    page = journey.page
    journey.sign_in(KIM, staff=True)
    journey.click(menu(page).get_by_role("link", name="Caseload"))
    journey.click(_main(page).get_by_role("link", name=re.compile(r"Hughes, Tom|Tom Hughes")).first)
    if h1(page).inner_text() != "Tom Hughes's case":  # the caseload links to the record page: take "Case"
        journey.click(page.get_by_role("navigation", name="Tom Hughes's record").get_by_role("link", name="Case", exact=True))
    expect(h1(page)).to_have_text("Tom Hughes's case")


def test_kim_opens_toms_case_page_and_the_full_transactions(journey):
    page = journey.page
    _open_toms_case(journey)
    expect(page.locator("[data-capacity]")).to_have_text("You are viewing Tom Hughes's record as Brightpath Support staff")
    expect(page.get_by_role("link", name="Back to the caseload")).to_be_visible()
    for title in ("Budget and balance", "Support plan", "Representatives", "PAs and the employer's duties",
                  "Recent transactions", "Evidence gaps", "Timesheets", "Excess-balance reviews",
                  "Safeguarding concerns", "Set-up and closure"):
        expect(page.get_by_role("heading", level=2, name=title, exact=True)).to_be_visible()
    expect(page.get_by_role("heading", level=2, name=re.compile(r"^Case notes \(\d+\)$"))).to_be_visible()
    expect(page.locator("[data-section='employer']")).to_contain_text("Leon Baptiste")
    expect(page.locator("[data-section='evidence']")).to_contain_text("Receipt missing")
    expect(page.locator("[data-section='timesheets']")).to_contain_text("Waiting for approval")
    transactions = page.locator("[data-section='transactions']")
    expect(transactions.locator("tr[data-entry]")).to_have_count(10)
    newest = transactions.locator("tr[data-entry]").first.get_attribute("data-entry")

    # "View all" (its hidden text names the card) leads to the full list, newest first.
    journey.click(transactions.get_by_role("link", name="View all (Recent transactions)"))
    expect(h1(page)).to_have_text("Transactions")
    expect(page).to_have_url(re.compile(r"/people/\d+/transactions\?period=all$"))
    expect(page.locator("[data-transactions] tbody tr").first).to_be_visible()

    # And back to the case page, as the browser's back button leaves it.
    page.go_back()
    journey.check()
    expect(h1(page)).to_have_text("Tom Hughes's case")
    expect(page.locator("[data-section='transactions'] tr[data-entry]").first).to_have_attribute("data-entry", newest)

    # The record's navigation leads back to the case page from anywhere in it.
    journey.click(page.get_by_role("navigation", name="Tom Hughes's record").get_by_role("link", name="Money", exact=True))
    journey.click(page.get_by_role("navigation", name="Tom Hughes's record").get_by_role("link", name="Case", exact=True))
    expect(h1(page)).to_have_text("Tom Hughes's case")


def test_without_javascript_the_case_page_reads_the_same(journey_without_js):
    page = journey_without_js.page
    _open_toms_case(journey_without_js)
    expect(page.locator("[data-section='transactions'] tr[data-entry]")).to_have_count(10)
