"""Browser journeys for staff money work: budgets, card statement uploads, and money settings."""

import datetime as dt
import re

import pytest
from playwright.sync_api import expect

pytestmark = pytest.mark.browser


def _fill_date(page, legend: str, day: dt.date):
    group = page.get_by_role("group", name=legend)
    group.get_by_label("Day").fill(str(day.day))
    group.get_by_label("Month").fill(str(day.month))
    group.get_by_label("Year").fill(str(day.year))


def test_lee_stops_and_restarts_toms_payments(journey):
    page = journey.page
    journey.sign_in("lee@brightpath.example", staff=True)
    journey.click(page.get_by_role("link", name="See your caseload"))
    journey.click(page.get_by_role("link", name="Hughes, Tom"))
    journey.click(page.get_by_role("link", name="Budgets and plan", exact=True))

    journey.click(page.get_by_role("link", name=re.compile(r"^Stop payments")).first)
    today = dt.date.today()
    _fill_date(page, "Date payments stop", today)
    page.get_by_label("Why are payments stopping?").fill("In hospital for a week")
    journey.click(page.get_by_role("button", name="Stop payments"))
    expect(page.get_by_text("Payments stop from")).to_be_visible()

    journey.click(page.get_by_role("link", name=re.compile(r"^Restart payments")).first)
    _fill_date(page, "Date payments restart", today + dt.timedelta(days=1))
    page.get_by_label("Why are payments restarting?").fill("Home from hospital")
    journey.click(page.get_by_role("button", name=re.compile("Restart payments")))
    expect(page.get_by_text("Payments restart from")).to_be_visible()


def test_kim_uploads_a_card_statement_and_reads_the_report(journey, tmp_path):
    page = journey.page
    # A card account the portal does not know: the rows are kept for review and no one's money moves.
    statement = tmp_path / "card-statement.csv"
    statement.write_text(
        "Transaction ID,Card Account,Date,Time,Merchant,Merchant Category Code,Description,Debit,Credit,Balance\n"
        "BRW0001,NF-CARD-777777,02/11/2026,10:00,TESCO STORES 2231,5411,Shopping,12.50,,\n"
        "BRW0002,NF-CARD-777777,03/11/2026,11:00,CITY TAXIS,4121,Taxi,8.00,,\n"
        "BRW0003,NF-CARD-777777,31/02/2026,11:00,CITY TAXIS,4121,Taxi,8.00,,\n",
        encoding="utf-8",
    )
    journey.sign_in("kim@brightpath.example", staff=True)
    journey.click(page.get_by_role("link", name="Card statement imports"))
    journey.click(page.get_by_role("link", name="Upload a card statement"))
    page.get_by_label("Card statement file").set_input_files(str(statement))
    journey.click(page.get_by_role("button", name=re.compile("Import|Upload")))
    expect(page.get_by_role("heading", level=1)).to_have_text("Import of card-statement.csv")
    report = page.locator("main").inner_text()
    assert re.search(r"Rows read\s+3", report)
    assert re.search(r"\n4\tThe date “31/02/2026” is not a real date", report), "rejected with its line number"


def test_admin_reads_the_money_settings(journey):
    page = journey.page
    journey.sign_in("admin@example.org", staff=True)
    journey.click(page.get_by_role("link", name="Money settings"))
    journey.click(page.get_by_role("link", name="Northfield City Council"))
    journey.click(page.get_by_role("link", name="Back to money settings"))
    journey.click(page.get_by_role("link", name="National rates"))
    expect(page.get_by_text("£12.71").first).to_be_visible()
    journey.goto("/admin/category-rules")
    expect(page.get_by_role("heading", level=1)).to_be_visible()
