"""Statements: the figures for a date range, the page, the CSV, the PDF and its restricted fetcher.

Amina's account is set up in each test (the demo personas have no money records): a plan with two
lines of one category (PA wages), entries on both sides of the period's edges, a spend with a
formula for a payee, a flagged cash withdrawal, a payroll spend that needs no receipt.
"""

import csv
import io
import shutil
import socket
import subprocess
import time
from datetime import date, timedelta

import pytest
import sqlalchemy as sa

from portal.extensions import db
from portal.models import (
    BudgetKind,
    Category,
    Delivery,
    EntryKind,
    EntrySource,
    EntryState,
    Flag,
    PaymentMethod,
    Recipient,
    SupportLine,
)
from portal.services import budgets, excess, ledger, statements
from portal.services.budgets import Amounts, Line
from portal.services.clock import london_today
from portal.services.local_settings import DEFAULTS
from portal.services.statements import (
    NOT_ASSIGNED,
    NOT_CATEGORISED,
    build_statement,
    safe_cell,
    statement_csv,
)
from tests.conftest import get_page, sign_in
from tests.helpers import person_id

START, END = date(2026, 6, 1), date(2026, 6, 28)
PERIOD = "from=2026-06-01&to=2026-06-28"
FORMULA_PAYEE = '=HYPERLINK("http://evil.example/","Click me")'
GROSS_WEEKLY = 30000


def _post(account_id, day, kind, pence, payee=None, category=None, **extra):
    return ledger.post(
        account_id=account_id, kind=kind, amount_pence=pence, entry_date=day,
        source=extra.pop("source", EntrySource.MANUAL), payee=payee, category=category, **extra,
    )


@pytest.fixture
def amina(app):
    """Amina's account, budget, plan and entries: the figures the tests below expect."""
    pid = person_id(app, "Amina", "Patel")
    with app.app_context():
        account = budgets.open_account(pid, PaymentMethod.BANK_ACCOUNT, date(2025, 12, 1))
        budget = budgets.create_budget(
            recipient_id=pid, account=account, kind=BudgetKind.ONGOING, delivery=Delivery.DIRECT_PAYMENT,
            start_date=date(2026, 1, 5), agreed_on=date(2025, 12, 1), first_payment_date=date(2026, 1, 5),
            amounts=Amounts(gross_weekly_pence=GROSS_WEEKLY),
        )
        budgets.create_plan(pid, date(2026, 1, 5), "Get up and out each day", [
            Line(Category.PA_WAGES, "PA support, mornings", 80000),
            Line(Category.PA_WAGES, "PA support, evenings", 40000),
            Line(Category.SOCIAL_ACTIVITIES, "Swimming club", 4000),
        ])
        evenings = db.session.scalar(sa.select(SupportLine.id).where(SupportLine.description == "PA support, evenings"))
        a = account.id
        # Before the period: the opening balance (100000).
        _post(a, date(2026, 5, 20), EntryKind.SPEND, -20000, "Sophie Clarke", Category.PA_WAGES)
        _post(a, date(2026, 5, 31), EntryKind.COUNCIL_PAYMENT, 120000, description="Council payment")
        # In the period, the first and the last day included.
        _post(a, START, EntryKind.COUNCIL_PAYMENT, 120000, description="Council payment")
        _post(a, START, EntryKind.CONTRIBUTION, 5000, description="Your contribution")
        _post(a, date(2026, 6, 3), EntryKind.SPEND, -30000, "Sophie Clarke", Category.PA_WAGES)  # two PA lines
        _post(a, date(2026, 6, 4), EntryKind.SPEND, -10000, "Joan Price", Category.PA_WAGES, support_line_id=evenings)
        swim = _post(a, date(2026, 6, 5), EntryKind.SPEND, -2500, "Northfield Leisure", Category.SOCIAL_ACTIVITIES)
        _post(a, date(2026, 6, 6), EntryKind.SPEND, -1999, FORMULA_PAYEE, description="Online order")
        _post(a, date(2026, 6, 7), EntryKind.SPEND, -4000, "Cash machine", Category.OTHER, flags=[Flag.CASH])
        _post(a, date(2026, 6, 8), EntryKind.SPEND, -3000, "Payroll bureau", Category.PA_WAGES, source=EntrySource.PAYROLL)
        _post(a, END, EntryKind.REFUND, 500, "Northfield Leisure", description="Refund")
        # After the period: not in this statement.
        _post(a, END + timedelta(days=1), EntryKind.SPEND, -7000, "Sophie Clarke", Category.PA_WAGES)
        # A receipt was added for the swimming (as the evidence service records it).
        state = db.session.get(EntryState, swim.id)
        state.evidence_count, state.needs_evidence = 1, False
        db.session.commit()
        return {"person_id": pid, "account_id": a, "budget_id": budget.id}


def _statement(app, pid, start=START, end=END):
    with app.app_context():
        return build_statement(db.session.get(Recipient, pid), start, end)


# The figures --------------------------------------------------------------------------------------


def test_opening_and_closing_balances_across_the_period_edges(app, amina):
    s = _statement(app, amina["person_id"])
    assert s.opening_pence == 100000, "entries before the start day make the opening balance"
    assert s.money_in_pence == 120000 + 5000 + 500, "the start day and the end day are in the period"
    assert s.money_out_pence == 30000 + 10000 + 2500 + 1999 + 4000 + 3000
    assert s.closing_pence == s.opening_pence + s.money_in_pence - s.money_out_pence == 174001
    with app.app_context():
        assert s.closing_pence == ledger.balance_from_entries(amina["account_id"], before=END + timedelta(days=1))
    dates = [e.entry_date for e in s.entries]
    assert dates[0] == START and dates[-1] == END and date(2026, 5, 31) not in dates and END + timedelta(days=1) not in dates
    assert dates == sorted(dates) and len(dates) == 9

    # One day later, the day-before-start entry moves from the period into the opening balance.
    later = _statement(app, amina["person_id"], start=START + timedelta(days=1))
    assert later.opening_pence == 100000 + 125000 and later.closing_pence == s.closing_pence
    one_day = _statement(app, amina["person_id"], start=START, end=START)
    assert (one_day.opening_pence, one_day.money_in_pence, one_day.money_out_pence) == (100000, 125000, 0)
    assert one_day.closing_pence == 225000


def test_money_in_by_kind_and_out_by_category_and_support_line(app, amina):
    s = _statement(app, amina["person_id"])
    assert [(r.label, r.pence) for r in s.money_in] == [
        ("Payments from the council", 120000), ("Contributions paid in", 5000), ("Refunds", 500),
    ]
    assert {r.label: r.pence for r in s.out_by_category} == {
        "PA wages": 43000, "Social activities": 2500, "Other": 4000, NOT_CATEGORISED: 1999,
    }
    # Two PA wages lines: a PA wages spend is "not assigned" unless its own line is set; the one
    # social activities line takes the swimming; uncategorised and "other" spends have no line.
    assert {r.label: r.pence for r in s.out_by_line} == {
        "PA support, evenings": 10000, "Swimming club": 2500, NOT_ASSIGNED: 30000 + 3000 + 1999 + 4000,
    }
    assert [r.label for r in s.out_by_line][-1] == NOT_ASSIGNED, "plan lines first, in plan order"
    assert sum(r.pence for r in s.out_by_line) == sum(r.pence for r in s.out_by_category) == s.money_out_pence
    by_payee = {e.payee: e for e in s.entries}
    assert by_payee["Joan Price"].support_line == "PA support, evenings"
    swim, refund = [e for e in s.entries if e.payee == "Northfield Leisure"]
    assert swim.support_line == "Swimming club" and refund.support_line == "" and refund.money_in_pence == 500
    cash = by_payee["Cash machine"]
    assert cash.flags == (Flag.CASH.value,) and cash.needs_explanation


def test_a_category_with_one_line_in_the_plan_takes_that_line(app, amina):
    with app.app_context():
        budgets.create_plan(amina["person_id"], date(2026, 6, 15), "Revised", [Line(Category.PA_WAGES, "PA support", 120000)])
        _post(amina["account_id"], date(2026, 6, 20), EntryKind.SPEND, -6000, "Sophie Clarke", Category.PA_WAGES)
        db.session.commit()
    lines = {r.label: r.pence for r in _statement(app, amina["person_id"]).out_by_line}
    assert lines["PA support"] == 6000, "after the new plan, PA wages has one line"
    assert lines[NOT_ASSIGNED] == 30000 + 3000 + 1999 + 4000, "before it, the old plan's two lines still apply"


def test_items_without_evidence_are_the_spends_that_need_a_receipt(app, amina):
    s = _statement(app, amina["person_id"])
    missing = [(e.entry_date, e.payee, e.money_out_pence) for e in s.without_evidence]
    assert missing == [
        (date(2026, 6, 3), "Sophie Clarke", 30000),
        (date(2026, 6, 4), "Joan Price", 10000),
        (date(2026, 6, 6), FORMULA_PAYEE, 1999),
        (date(2026, 6, 7), "Cash machine", 4000),
    ], "not the swimming (receipt added), not the payroll spend (its own papers), not money in"
    assert [e.receipt for e in s.entries if e.payee == "Northfield Leisure"] == ["Yes", ""], "money in needs none"
    receipts = {e.payee: e.receipt for e in s.entries}
    assert receipts["Payroll bureau"] == "Not needed" and receipts["Cash machine"] == "No"


def test_excess_position_today_and_an_open_review(app, amina):
    s = _statement(app, amina["person_id"])
    [line] = s.excess
    assert line.position.balance_pence == 174001 - 7000, "today's balance, not the period's"
    assert line.position.threshold_pence == DEFAULTS.excess_weeks * GROSS_WEEKLY
    assert line.position.excess_pence == 167001 - 120000 and line.review is None
    with app.app_context():
        review = excess.check_before_payment(
            account_id=amina["account_id"], budget_id=amina["budget_id"], cycle_start=london_today(),
            payment_date=london_today(), gross_weekly_pence=GROSS_WEEKLY, settings=DEFAULTS,
        )
        db.session.commit()
        assert review is not None
    assert _statement(app, amina["person_id"]).excess[0].review is not None


def test_every_account_of_the_recipient_is_in_the_statement(app, amina):
    with app.app_context():
        card = budgets.open_account(amina["person_id"], PaymentMethod.PREPAID_CARD, date(2026, 1, 1), card_reference="CARD-00421234")
        _post(card.id, date(2026, 5, 1), EntryKind.ADJUSTMENT, 1000, description="Opening transfer")
        _post(card.id, date(2026, 6, 10), EntryKind.SPEND, -250, "Bus company", Category.TRAVEL)
        db.session.commit()
    s = _statement(app, amina["person_id"])
    assert [a.label for a in s.accounts] == ["Bank account", "Prepaid card ending 1234"]
    assert s.opening_pence == 101000 and s.closing_pence == 174001 + 750
    assert [(a.opening_pence, a.closing_pence) for a in s.accounts] == [(100000, 174001), (1000, 750)]


def test_no_account_yet_gives_an_empty_statement(app):
    s = _statement(app, person_id(app, "Grace", "Okafor"))
    assert s.accounts == [] and s.entries == [] and s.closing_pence == 0 and s.excess == []


# CSV ----------------------------------------------------------------------------------------------


@pytest.mark.parametrize("value", ["=1+1", "+44 114", "-2", "@SUM(A1)", "\tx", "\rx"])
def test_cells_that_could_start_a_formula_get_an_apostrophe(value):
    assert safe_cell(value) == "'" + value
    assert safe_cell("Sophie Clarke") == "Sophie Clarke" and safe_cell("") == ""


def test_csv_has_the_same_rows_and_neutralises_formulas(app, amina):
    client = app.test_client()
    sign_in(client, "amina@example.org")
    response = client.get(f"/people/{amina['person_id']}/statement.csv?{PERIOD}")
    assert response.status_code == 200 and response.mimetype == "text/csv"
    assert response.headers["Content-Disposition"] == 'attachment; filename="statement-2026-06-01-to-2026-06-28.csv"'
    assert response.headers["Cache-Control"] == "no-store"
    rows = list(csv.reader(io.StringIO(response.data.decode("utf-8-sig"))))
    assert rows[0] == ["Date", "Payee", "Description", "Category", "Support line", "Money in", "Money out",
                       "Receipt attached", "Flag", "Explanation"]
    s = _statement(app, amina["person_id"])
    assert [r[0] for r in rows[1:]] == [e.entry_date.isoformat() for e in s.entries]
    assert len(rows) - 1 == len(s.entries) == 9
    by_payee = {r[1]: r for r in rows[1:]}
    assert "'" + FORMULA_PAYEE in by_payee and FORMULA_PAYEE not in by_payee
    assert by_payee["'" + FORMULA_PAYEE][6] == "19.99" and by_payee["'" + FORMULA_PAYEE][7] == "No"
    assert by_payee["Joan Price"][3:7] == ["PA wages", "PA support, evenings", "", "100.00"]
    assert by_payee["Cash machine"][8] == "cash withdrawal"
    assert rows[1][5] == "1200.00" and "£" not in response.data.decode("utf-8-sig")
    assert not any(cell.startswith(("=", "+", "-", "@")) for row in rows for cell in row)
    assert response.data == statement_csv(s).encode("utf-8-sig")


def test_council_officers_read_the_statement_but_are_not_offered_to_add_receipts(app, amina):
    client = app.test_client()
    sign_in(client, "rachel@northfield.example")
    page = get_page(client, f"/people/{amina['person_id']}/statement?{PERIOD}")
    assert page.soup.select_one("[data-closing-balance]").get_text(strip=True) == "£1,740.01"
    assert len(page.soup.select("#without-evidence tbody tr")) == 4 and not page.soup.select("#without-evidence a")


# The page -----------------------------------------------------------------------------------------


def test_page_shows_the_figures_and_links_to_the_downloads(app, amina):
    client = app.test_client()
    sign_in(client, "amina@example.org")
    page = get_page(client, f"/people/{amina['person_id']}/statement?{PERIOD}")
    assert page.soup.h1.get_text(strip=True) == "Amina Patel's statement"
    assert page.soup.select_one("[data-capacity]").get_text(strip=True) == "This is your direct payment"
    assert page.soup.select_one('nav a[aria-current="page"]').get_text(strip=True) == "Statements"
    assert page.soup.select_one("[data-closing-balance]").get_text(strip=True) == "£1,740.01"
    summary = page.soup.select_one(".govuk-summary-list").get_text(" ", strip=True)
    for text in ("Bank account", "£1,000.00", "£1,255.00", "£514.99", "1 June 2026", "28 June 2026"):
        assert text in summary
    lines = {tr.th.get_text(strip=True): tr.td.get_text(strip=True) for tr in page.soup.select("#out-by-line tbody tr")}
    assert lines == {"PA support, evenings": "£100.00", "Swimming club": "£25.00", NOT_ASSIGNED: "£389.99", "Total": "£514.99"}
    assert len(page.soup.select("#without-evidence tbody tr")) == 4
    receipt_links = [a["href"] for a in page.soup.select("#without-evidence a")]
    assert len(receipt_links) == 4 and all(href.endswith("/receipt") for href in receipt_links)
    assert len(page.soup.select("#transactions tbody tr")) == 9
    assert "£470.01 over the line" in page.text
    pdf = page.soup.find("a", string=lambda s: s and "Download as PDF" in s)
    csv_link = page.soup.find("a", string=lambda s: s and "Download as CSV" in s)
    assert pdf["href"] == f"/people/{amina['person_id']}/statement.pdf?{PERIOD}"
    assert csv_link["href"] == f"/people/{amina['person_id']}/statement.csv?{PERIOD}"
    assert FORMULA_PAYEE in page.text.replace("&#34;", '"').replace("&quot;", '"'), "shown as text, escaped"
    assert "<script" not in str(page.soup.select_one("#transactions"))


def test_the_three_date_boxes_work_like_the_download_links(app, amina):
    client = app.test_client()
    sign_in(client, "amina@example.org")
    page = get_page(client, f"/people/{amina['person_id']}/statement?from=1&from=6&from=2026&to=28&to=06&to=2026")
    assert page.soup.select_one("[data-closing-balance]").get_text(strip=True) == "£1,740.01"
    assert page.soup.find("input", id="from-day")["value"] == "1" and page.soup.find("input", id="to-year")["value"] == "2026"
    assert page.soup.find("form", method="get")["action"] == f"/people/{amina['person_id']}/statement"


def test_without_dates_the_page_shows_this_payment_cycle_up_to_today(app, amina):
    client = app.test_client()
    sign_in(client, "amina@example.org")
    page = get_page(client, f"/people/{amina['person_id']}/statement")
    today = london_today()
    heading = page.soup.find("h2", id="statement").get_text(strip=True)
    assert heading.endswith(f"to {today.day} {today:%B %Y}")
    assert page.soup.find("input", id="to-day")["value"] == f"{today:%d}"
    assert page.soup.find("a", string="The last 12 months")


@pytest.mark.parametrize(
    "query, message",
    [
        ("from=31&from=2&from=2026&to=1&to=3&to=2026", "Enter a real date"),
        ("from=1&from=13&from=2026&to=1&to=3&to=2026", "Enter a real date"),
        ("from=1&from=6&from=26&to=1&to=3&to=2026", "Enter a real date"),
        ("from=a&from=6&from=2026&to=1&to=3&to=2026", "Enter a real date"),
        ("from=2026-02-30&to=2026-03-01", "Enter a real date"),
        ("from=&from=&from=&to=1&to=3&to=2026", "Enter the start date"),
        ("from=1&from=6&from=2026", "Enter the end date"),
        ("from=2026-06-28&to=2026-06-01", "The end date must be the same as or after the start date"),
        ("from=2024-06-01&to=2026-06-01", "A statement can cover up to 2 years. Enter a shorter period"),
    ],
)
def test_dates_that_cannot_make_a_statement_are_explained(app, query, message):
    client = app.test_client()
    sign_in(client, "amina@example.org")
    amina_id = person_id(app, "Amina", "Patel")
    page = get_page(client, f"/people/{amina_id}/statement?{query}")
    assert page.soup.title.get_text().startswith("Error: ")
    summary = page.soup.select_one(".govuk-error-summary")
    assert summary and message in summary.get_text()
    assert page.soup.find("h2", id="statement") is None, "no statement for dates that need correcting"
    # A download with the same dates goes back to the page, which explains.
    response = client.get(f"/people/{amina_id}/statement.pdf?{query}")
    assert response.status_code == 302 and response.headers["Location"].startswith(f"/people/{amina_id}/statement?")


def test_exactly_two_years_is_allowed(app, amina):
    client = app.test_client()
    sign_in(client, "amina@example.org")
    page = get_page(client, f"/people/{amina['person_id']}/statement?from=2025-01-01&to=2026-12-31")
    assert page.soup.select_one("[data-closing-balance]").get_text(strip=True) == "£1,670.01"


# PDF ----------------------------------------------------------------------------------------------


def _pdf_text(pdf: bytes, tmp_path) -> str:
    assert shutil.which("pdftotext"), "pdftotext is needed (Debian: poppler-utils)"
    path = tmp_path / "statement.pdf"
    path.write_bytes(pdf)
    return subprocess.run(["pdftotext", "-layout", str(path), "-"], capture_output=True, text=True, check=True).stdout


def test_pdf_shows_the_closing_balance_of_the_page(app, amina, tmp_path):
    client = app.test_client()
    sign_in(client, "amina@example.org")
    page = get_page(client, f"/people/{amina['person_id']}/statement?{PERIOD}")
    closing = page.soup.select_one("[data-closing-balance]").get_text(strip=True)
    response = client.get(f"/people/{amina['person_id']}/statement.pdf?{PERIOD}")
    assert response.status_code == 200 and response.mimetype == "application/pdf"
    assert response.data.startswith(b"%PDF")
    assert response.headers["Content-Disposition"] == 'attachment; filename="statement-2026-06-01-to-2026-06-28.pdf"'
    assert response.headers["Cache-Control"] == "no-store"
    text = _pdf_text(response.data, tmp_path)
    assert closing == "£1,740.01" and closing in text
    for words in ("Amina Patel", "1 June 2026 to 28 June 2026", "PA support, evenings", NOT_ASSIGNED, "Page 1 of ",
                  "£470.01 over the line", FORMULA_PAYEE):
        assert words in text, words


def test_pdf_uses_the_statement_stylesheet_and_fonts(app, amina, tmp_path):
    client = app.test_client()
    sign_in(client, "amina@example.org")
    pdf = client.get(f"/people/{amina['person_id']}/statement.pdf?{PERIOD}").data
    path = tmp_path / "s.pdf"
    path.write_bytes(pdf)
    fonts = subprocess.run(["pdffonts", str(path)], capture_output=True, text=True, check=False).stdout if shutil.which("pdffonts") else ""
    if fonts:
        assert "Liberation-Sans" in fonts and "DejaVu" not in fonts, fonts  # Arial's metric twin, margins included
    info = subprocess.run(["pdfinfo", str(path)], capture_output=True, text=True, check=True).stdout
    assert "(A4)" in info, "A4, as the statement's stylesheet says: it was fetched and applied"
    assert "Northfield City Council" in info and "Amina" not in info, "the council is the author; no name in the metadata"


def test_restricted_fetcher_serves_only_the_portals_static_files():
    fetcher = statements.restricted_fetcher
    css = fetcher(statements.BASE_URL + "static/statements/statement.css")
    assert b"@page" in css.read() and css.content_type == "text/css"
    own = (statements.STATIC_DIR / "statements" / "statement.css").as_uri()
    assert b"@page" in fetcher(own).read()
    assert fetcher("data:text/css,p{color:red}").read() == b"p{color:red}"
    refused = [
        "http://example.org/x.css",
        "https://example.org/x.css",
        "file:///etc/passwd",
        (statements.STATIC_DIR.parent / "portal" / "config.py").as_uri(),
        statements.BASE_URL + "static/../portal/config.py",
        statements.BASE_URL + "static/%2e%2e/portal/config.py",
        statements.BASE_URL + "portal/config.py",
        statements.BASE_URL + "static/statements/no-such-file.css",
        "ftp://example.org/x.css",
        "data:text/css," + "a" * (statements.MAX_DATA_URL + 1),
    ]
    for url in refused:
        with pytest.raises(ValueError):
            fetcher(url)


def test_a_statement_that_names_an_outside_url_renders_without_fetching_it(app, amina, monkeypatch, tmp_path):
    attempts = []

    def no_network(*args, **kwargs):
        attempts.append(args)
        raise OSError("no network in this test")

    monkeypatch.setattr(socket, "create_connection", no_network)
    monkeypatch.setattr(socket.socket, "connect", no_network)
    s = _statement(app, amina["person_id"])
    html = (
        '<html><head><link rel="stylesheet" href="http://example.org/evil.css">'
        '<link rel="stylesheet" href="file:///etc/passwd"></head>'
        '<body><p>Hello statement</p><img src="https://example.org/pixel.png"><img src="/static/../portal/config.py">'
        "</body></html>"
    )
    pdf = statements.statement_pdf(s, html)
    assert pdf.startswith(b"%PDF") and "Hello statement" in _pdf_text(pdf, tmp_path)
    assert attempts == []


# Who may read it ----------------------------------------------------------------------------------


@pytest.mark.parametrize("suffix", ["", ".pdf", ".csv"])
def test_who_may_read_a_statement(app, suffix):
    ids = {name: person_id(app, *name.split()) for name in ("Amina Patel", "Grace Okafor", "Sam Okafor")}
    cases = [
        ("amina@example.org", "Amina Patel", 200),
        ("david@example.org", "Grace Okafor", 200),
        ("david@example.org", "Sam Okafor", 200),  # a view-level representative may read
        ("omar@harbour.example", "Amina Patel", 404),
        ("admin@example.org", "Amina Patel", 403),
        ("sophie.pa@example.org", "Amina Patel", 403),
        (None, "Amina Patel", 302),
    ]
    clients = {}
    for email, name, status in cases:
        if email not in clients:
            clients[email] = app.test_client()
            if email:
                sign_in(clients[email], email, expect_home=email != "admin@example.org")
        response = clients[email].get(f"/people/{ids[name]}/statement{suffix}?{PERIOD}")
        assert response.status_code == status, f"{email} on {name}'s statement{suffix}: {response.status_code}"
        if status == 302:
            assert "/sign-in" in response.headers["Location"]


# Timing (printed, not asserted: `make bench` holds the targets) -------------------------------------


def _pages(pdf: bytes, tmp_path) -> int:
    path = tmp_path / "timed.pdf"
    path.write_bytes(pdf)
    info = subprocess.run(["pdfinfo", str(path)], capture_output=True, text=True, check=True).stdout
    return int(next(line.split()[-1] for line in info.splitlines() if line.startswith("Pages:")))


def test_pdf_timing_for_a_year_of_entries(app, amina, capsys, tmp_path):
    """Prints the time to build a statement, render its HTML and make the PDF: a short one (the
    fixture's 9 entries), then 12 months after adding 600 spends (none with a receipt yet: the
    longest statement a year can make, since each such spend is listed twice)."""
    from flask import render_template

    def time_pdf(start, end):
        with app.test_request_context():
            wall, cpu = time.perf_counter(), time.process_time()
            s = build_statement(db.session.get(Recipient, amina["person_id"]), start, end)
            pdf = statements.statement_pdf(s, render_template("statements/pdf.html", statement=s))
            wall, cpu = time.perf_counter() - wall, time.process_time() - cpu
        with capsys.disabled():
            print(f"\nstatement PDF, {start} to {end}: {len(s.entries)} entries ({len(s.without_evidence)} without a receipt), "
                  f"{_pages(pdf, tmp_path)} page(s), {len(pdf) // 1024} KB: {wall:.2f} s wall, {cpu:.2f} s CPU")
        assert pdf.startswith(b"%PDF")
        return s

    time_pdf(START, END)  # warm up: the first PDF imports WeasyPrint and loads the fonts
    time_pdf(START, END)
    year_start = date(2025, 7, 1)
    with app.app_context():
        payees = ["Sophie Clarke", "Joan Price", "Northfield Leisure", "Bus company", "Corner shop"]
        for n in range(600):
            _post(amina["account_id"], year_start + timedelta(days=n * 365 // 600), EntryKind.SPEND, -(1000 + n % 37 * 113),
                  payees[n % 5], Category.PA_WAGES if n % 3 else Category.TRAVEL, description=f"Item {n}")
        db.session.commit()
    year_end = year_start + timedelta(days=364)
    assert len(time_pdf(year_start, year_end).entries) >= 600

    client = app.test_client()
    sign_in(client, "amina@example.org")
    began = time.perf_counter()
    page = get_page(client, f"/people/{amina['person_id']}/statement?from={year_start}&to={year_end}")
    with capsys.disabled():
        print(f"statement page, the same 12 months: {time.perf_counter() - began:.2f} s wall, {len(page.text) // 1024} KB of HTML")
