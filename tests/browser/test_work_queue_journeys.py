"""Browser journeys for the work queues and the council's dashboard (issue 6), with axe-core (WCAG 2.2 AA,
serious or critical) and a CSP check on every page reached.

Kim opens "Your work", reads the counts, follows an item to the page where it is resolved and comes
back; Lee opens the organisation's work and narrows the queue to one caseworker, then widens it again
with the filter (htmx); Rachel opens the dashboard, downloads a table as CSV and the whole dashboard as
a PDF, and follows the links from a table. They change nothing others see (a view or a download is
only audited), so they share the session's server.
"""

import re

import pytest
from playwright.sync_api import expect
from tests.browser.conftest import h1, menu

pytestmark = pytest.mark.browser

KIM, LEE, RACHEL = "kim@brightpath.example", "lee@brightpath.example", "rachel@northfield.example"


def _number(text: str) -> int:
    return int(re.match(r"\s*([\d,]+)", text).group(1).replace(",", ""))


def test_kim_reads_her_counts_follows_an_item_to_where_it_is_resolved_and_comes_back(journey):
    page = journey.page
    journey.sign_in(KIM, staff=True)
    journey.click(menu(page).get_by_role("link", name="Work"))
    expect(h1(page)).to_have_text("Your work")
    counts = page.locator("table[data-counts]")
    expect(counts.get_by_role("columnheader", name="Kind of work")).to_be_visible()
    # Every kind with work links to its list on the page, and the list's heading gives the same number.
    waiting = {cell.get_attribute("data-count"): _number(cell.inner_text()) for cell in counts.locator("td[data-count]").all()}
    kinds = [slug for slug, number in waiting.items() if number]
    assert kinds, "Kim's demo cases have work waiting"
    assert sum(waiting.values()) == _number(counts.locator("caption").inner_text())
    slug = "receipts-missing" if "receipts-missing" in kinds else kinds[0]
    title = page.locator(f"h3#{slug}")
    counts.locator(f"a[href='#{slug}']").click()
    expect(page).to_have_url(re.compile(rf"/work#{slug}$"))
    expect(title).to_be_in_viewport()
    assert _number(title.locator(".govuk-caption-m").inner_text()) == waiting[slug]

    # The first item's action goes to where it is resolved (receipts: the person's transactions needing one).
    row = page.locator(f"table[data-kind='{slug}'] tr[data-item]").first
    person = row.locator("td").first.inner_text().strip()
    action = row.get_by_role("link")
    href = action.get_attribute("href")
    journey.click(action)
    assert page.url.endswith(href)
    if slug == "receipts-missing":
        expect(h1(page)).to_have_text("Transactions")
        assert "needs=receipt" in page.url
    expect(page.get_by_role("main")).to_contain_text(person)

    # And back to the queue, as it was.
    with page.expect_navigation():
        page.go_back()
    journey.check()
    expect(h1(page)).to_have_text("Your work")
    expect(page.locator(f"td[data-count='{slug}']")).to_have_text(re.compile(rf"^{waiting[slug]}\b"))


def test_lee_narrows_the_queue_to_one_caseworker_and_widens_it_again(journey):
    page = journey.page
    journey.sign_in(LEE, staff=True)
    journey.click(menu(page).get_by_role("link", name="Work"))
    expect(h1(page)).to_have_text("Work")
    expect(page.locator("[data-subject]")).to_have_text("Every case at Brightpath Support")
    everyone = _number(page.locator("table[data-counts] caption").inner_text())

    journey.click(page.get_by_role("link", name="Work across Brightpath Support"))
    expect(h1(page)).to_have_text("Work across Brightpath Support")
    kim_row = page.locator("table[data-caseworkers] tr", has=page.get_by_role("link", name="Kim Bell"))
    kims_items = _number(kim_row.locator("td[data-total]").inner_text())
    assert _number(kim_row.locator("td[data-cases]").inner_text()) == 3  # Amina, Tom and Sam

    # One caseworker's queue: only Kim's cases, the same number of things as the organisation page says.
    journey.click(kim_row.get_by_role("link", name="Kim Bell"))
    expect(h1(page)).to_have_text("Work")
    expect(page.locator("[data-subject]")).to_have_text("Kim Bell's cases")
    assert re.search(r"/work\?caseworker=\d+$", page.url)
    assert _number(page.locator("table[data-counts] caption").inner_text()) == kims_items <= everyone
    expect(page.get_by_label("Whose cases")).to_have_value(re.compile(r"^\d+$"))

    # The filter widens it again: with JavaScript the results are swapped in place and the address follows.
    page.get_by_label("Whose cases").select_option(label="Every case at Brightpath Support")
    expect(page.locator("[data-subject]")).to_have_text("Every case at Brightpath Support")
    expect(page).to_have_url(re.compile(r"/work(\?caseworker=)?$"))
    journey.check()
    assert _number(page.locator("table[data-counts] caption").inner_text()) == everyone


def test_rachel_downloads_a_table_and_the_pdf_and_follows_a_tables_links(journey):
    page = journey.page
    journey.sign_in(RACHEL, staff=True)
    journey.click(menu(page).get_by_role("link", name="Dashboard"))
    expect(h1(page)).to_have_text("Dashboard")
    expect(page.locator(".govuk-caption-l")).to_have_text("Northfield City Council")
    spend = page.locator("[data-figure='spend']").inner_text()
    assert spend.startswith("£")

    # One table as CSV: Rachel's council on every row.
    with page.expect_download() as csv_download:
        page.get_by_role("link", name="Download CSV of uptake by age band").click()
    download = csv_download.value
    assert re.fullmatch(r"uptake-age-northfield-city-council-\d{4}-\d{2}-\d{2}\.csv", download.suggested_filename)
    lines = open(download.path(), encoding="utf-8").read().splitlines()
    assert lines[0].startswith("Council,As at,Age band,")
    assert len(lines) > 2 and all(line.startswith("Northfield City Council,") for line in lines[1:])

    # The whole dashboard as a PDF for a committee paper.
    link = page.get_by_role("link", name="Download as PDF (for a committee paper)")
    with page.expect_download() as pdf_download:
        link.click()
    download = pdf_download.value
    assert re.fullmatch(r"northfield-city-council-direct-payments-\d{4}-\d{2}-\d{2}\.pdf", download.suggested_filename)
    with open(download.path(), "rb") as pdf:
        assert pdf.read(5) == b"%PDF-"
    response = page.request.get(journey.server.url(link.get_attribute("href")))
    assert response.ok and response.headers["content-type"] == "application/pdf"
    assert response.headers["cache-control"] == "no-store"
    assert response.headers["content-disposition"] == f'attachment; filename="{download.suggested_filename}"'
    expect(h1(page)).to_have_text("Dashboard")  # a download leaves the page where it was

    # A table from the contents, then the link under the PA register's table to its detail.
    page.get_by_role("navigation", name="Tables on this page").get_by_role("link", name="Open work by support service").click()
    expect(page).to_have_url(re.compile(r"/oversight#open-work$"))
    expect(page.get_by_role("heading", name="Open work by support service")).to_be_in_viewport()
    work = page.locator("table[data-table='open-work']")
    expect(work.get_by_role("rowheader", name="Brightpath Support")).to_be_visible()
    expect(work.get_by_role("rowheader", name="Harbour DPSS")).to_be_visible()
    journey.click(page.get_by_role("link", name="See the PA register counts in detail"))
    expect(h1(page)).to_have_text("PAs on the register")
    journey.click(page.get_by_role("link", name="Back to home"))
