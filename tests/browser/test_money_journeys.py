"""Browser journeys for the money pages: David for Grace end to end, and filtering without JavaScript."""

import re
import subprocess

import pytest
from playwright.sync_api import expect

from portal.services.demo import receipt_pdf

pytestmark = pytest.mark.browser


def test_david_reads_grace_excess_adds_a_receipt_and_gets_a_statement_pdf(journey, tmp_path):
    page = journey.page
    journey.sign_in("david@example.org")
    journey.click(page.get_by_role("link", name="Grace Okafor"))
    expect(page.locator("[data-capacity]")).to_contain_text("You are managing Grace Okafor's direct payment")

    journey.click(page.get_by_role("link", name="Money", exact=True))
    expect(page.locator("[data-excess]")).to_contain_text(re.compile(r"Grace has £[\d,]+\.\d\d more than four weeks of payments\."))
    expect(page.locator("[data-excess]")).to_contain_text("Omar Farah at Harbour DPSS will talk to you and Grace about it.")

    # "1 receipt to add" leads to the transactions that need one.
    journey.click(page.get_by_role("link", name=re.compile(r"receipts? to add")))
    journey.click(page.get_by_role("link", name=re.compile(r"^Add receipt")).first)
    receipt = tmp_path / "homecare-invoice.pdf"
    receipt.write_bytes(receipt_pdf("HOMECARE PLUS LTD", __import__("datetime").date.today(), 52000))
    page.get_by_label("Upload a receipt or invoice").set_input_files(str(receipt))
    journey.click(page.get_by_role("button", name="Add receipt"))
    expect(page.get_by_text("homecare-invoice.pdf").first).to_be_visible()

    journey.click(page.get_by_role("link", name="Statements", exact=True))
    closing = page.locator("[data-closing-balance]").inner_text().strip()
    assert re.fullmatch(r"-?£[\d,]+\.\d\d", closing)
    with page.expect_download() as download_info:
        page.get_by_role("button", name="Download as PDF").click()
    pdf = tmp_path / "statement.pdf"
    download_info.value.save_as(pdf)
    assert pdf.read_bytes().startswith(b"%PDF")
    text = subprocess.run(["pdftotext", str(pdf), "-"], capture_output=True, text=True, check=True).stdout
    assert closing in text, f"the PDF does not show the page's closing balance {closing}"
    assert "Grace Okafor" in text


def test_filtering_transactions_works_without_javascript(journey_without_js):
    journey = journey_without_js
    page = journey.page
    journey.sign_in("amina@example.org")
    journey.click(page.get_by_role("link", name="Your direct payment details"))
    journey.click(page.get_by_role("link", name="Transactions", exact=True))
    page.get_by_label("Category").select_option("travel")
    page.get_by_label("Period").select_option("all")
    journey.click(page.get_by_role("button", name="Apply filters"))
    categories = page.locator("[data-transactions] tbody tr td:nth-child(3)").all_inner_texts()
    assert categories and set(categories) == {"Travel"}
    assert "category=travel" in page.url


def test_filtering_transactions_with_javascript_updates_the_table_in_place(journey):
    page = journey.page
    journey.sign_in("amina@example.org")
    journey.click(page.get_by_role("link", name="Your direct payment details"))
    journey.click(page.get_by_role("link", name="Transactions", exact=True))
    with page.expect_response(lambda r: "category=domestic" in r.url and r.request.headers.get("hx-request") == "true"):
        page.get_by_label("Category").select_option("domestic")
    expect(page.locator("[data-transactions] caption")).to_contain_text("domestic")
    categories = page.locator("[data-transactions] tbody tr td:nth-child(3)").all_inner_texts()
    assert categories and set(categories) == {"Domestic"}
    assert "category=domestic" in page.url, "the address follows the filters (hx-push-url)"
    journey.check()
