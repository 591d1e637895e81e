"""The council dashboard as a printable PDF for a committee paper (GET /oversight.pdf): a real PDF,
A4, with the council's name, the date and time the figures were worked out, every table with its
caption, the charts and page numbers; its headline figures are the dashboard's; Eastmoor's people
(Ellen) never reach Northfield's PDF; council officers only; never cached; the download is audited."""

import re
import shutil
import subprocess
from datetime import date

import pytest
import sqlalchemy as sa

from portal.extensions import db
from portal.models import Category, EntryKind, EntrySource, Organisation, Role, User
from portal.services import dashboard, ledger
from portal.services.clock import london_today
from tests.conftest import get_page, sign_in

NORTHFIELD, EASTMOOR = "Northfield City Council", "Eastmoor County Council"
RACHEL = "rachel@northfield.example"
EASTMOOR_OFFICER = "officer@eastmoor.example"


def officer(email: str) -> User:
    return db.session.scalar(sa.select(User).where(User.email == email))


def pdf_tool(name: str, pdf: bytes, tmp_path, *args: str) -> str:
    assert shutil.which(name), f"{name} is needed (Debian: poppler-utils)"
    path = tmp_path / "dashboard.pdf"
    path.write_bytes(pdf)
    return subprocess.run([name, *args, str(path), *(["-"] if name == "pdftotext" else [])],
                          capture_output=True, text=True, check=True).stdout


def pdf_text(pdf: bytes, tmp_path) -> str:
    """The PDF's text with runs of spaces made one (pdftotext -layout pads the columns)."""
    return re.sub(r"[ \t]+", " ", pdf_tool("pdftotext", pdf, tmp_path, "-layout"))


def pounds(pence: int) -> str:
    sign = "-" if pence < 0 else ""
    return f"{sign}£{abs(pence) // 100:,}.{abs(pence) % 100:02d}"


def download(app, email: str = RACHEL):
    client = app.test_client()
    sign_in(client, email)
    return client, client.get("/oversight.pdf")


def test_rachel_downloads_the_dashboard_as_a_pdf_with_the_pages_figures(money_app, tmp_path):
    with money_app.app_context():
        board = dashboard.build(officer(RACHEL))
    client, response = download(money_app)
    assert response.status_code == 200 and response.mimetype == "application/pdf"
    assert response.data.startswith(b"%PDF")
    today = london_today().isoformat()
    assert response.headers["Content-Disposition"] == f'attachment; filename="northfield-city-council-direct-payments-{today}.pdf"'
    assert response.headers["Cache-Control"] == "no-store"
    assert response.headers["X-Content-Type-Options"] == "nosniff"

    info = pdf_tool("pdfinfo", response.data, tmp_path)
    assert re.search(r"Page size:\s+595\.\d* x 841\.\d* pts \(A4\)", info), info
    assert re.search(r"Author:\s+Northfield City Council", info)
    pages = int(re.search(r"Pages:\s+(\d+)", info).group(1))
    assert pages >= 2

    text = pdf_text(response.data, tmp_path)
    assert "Northfield City Council" in text and "Direct payments dashboard" in text
    # When the figures were worked out: the day, and a time of day.
    computed = re.search(r"Figures worked out on (\d{1,2} \w+ \d{4}) at (\d{1,2}:\d{2}[ap]m)", text)
    assert computed, text[:800]
    assert computed.group(1) == f"{board.today.day} {board.today:%B %Y}"
    # The headline figures are the dashboard's, in the page's words.
    assert f"{board.people_with_dp:,} people with a direct payment (of {board.people_funded:,} on a personal budget)" in text
    assert f"{pounds(board.spend_pence)} spent this financial year" in text
    assert f"{pounds(board.excess_pence)} in excess balances" in text
    assert re.search(rf"\b{board.undecided_reviews} open excess reviews?\b", text)
    # Every table by its caption, with its total row, and the charts' bars with their values.
    for table in board.tables.values():
        assert table.title in text, table.title
    spend_total = next(line for line in text.splitlines() if line.strip().startswith("Total") and pounds(board.spend_pence) in line)
    assert "100.0%" in spend_total
    for row in board.tables["spend-category"].rows:
        assert f"{row[0]} {pounds(row[1])}" in text, row  # the chart's bar label and value (and the table's row)
    assert "Spend this financial year" in text and "by category" in text
    # Page numbers on every page.
    for page in range(1, pages + 1):
        assert f"Page {page} of {pages}" in text
    assert "Ellen" not in text and "Eastmoor" not in text

    # The download is audited like the CSVs.
    with money_app.app_context():
        events = db.session.execute(sa.text(
            "SELECT outcome, record_type FROM audit_events WHERE action = 'oversight.dashboard_exported'")).all()
    assert [tuple(event) for event in events] == [("dashboard.pdf", "organisation")]


def test_the_dashboard_page_links_to_the_pdf(money_app):
    client = money_app.test_client()
    sign_in(client, RACHEL)
    page = get_page(client, "/oversight")
    link = page.soup.find("a", string=lambda s: s and "Download as PDF (for a committee paper)" in s)
    assert link is not None and link["href"] == "/oversight.pdf"
    # The headline figures still show on the page (shared with the PDF through one macro).
    assert {tag["data-figure"] for tag in page.soup.select("[data-figure]")} == {"people-with-dp", "spend", "excess", "open-reviews"}
    assert len(page.soup.select("figure[data-chart] svg")) == 2


def test_eastmoors_people_are_never_in_rachels_pdf(money_app, tmp_path):
    """Ellen (Eastmoor) spends and has money reclaimed: Eastmoor's PDF moves, Northfield's does not."""
    with money_app.app_context():
        eastmoor = db.session.scalar(sa.select(Organisation.id).where(Organisation.name == EASTMOOR))
        rachel = officer(RACHEL)  # the same password and authenticator, so the test can sign in as both
        db.session.add(User(email=EASTMOOR_OFFICER, display_name="Eastmoor Officer", role=Role.COUNCIL_OFFICER,
                            organisation_id=eastmoor, password_hash=rachel.password_hash, totp_secret=rachel.totp_secret))
        db.session.commit()
        before = dashboard.build(officer(RACHEL))
        account = db.session.execute(sa.text(
            "SELECT a.id FROM dp_accounts a JOIN people p ON p.id = a.recipient_id WHERE p.given_name = 'Ellen'")).scalar_one()
        ledger.post(account_id=account, kind=EntryKind.SPEND, amount_pence=-987_65, entry_date=london_today(),
                    source=EntrySource.MANUAL, payee="EASTMOOR RESPITE", category=Category.RESPITE)
        db.session.commit()
        east = dashboard.build(officer(EASTMOOR_OFFICER))
    _, response = download(money_app)
    text = pdf_text(response.data, tmp_path)
    # Northfield's figures are as before Ellen's spending; Eastmoor's name and people appear nowhere.
    assert f"{pounds(before.spend_pence)} spent this financial year" in text
    assert f"{before.people_with_dp:,} people with a direct payment" in text
    assert "Eastmoor" not in text and "Ellen" not in text and "EM1" not in text
    assert pounds(east.spend_pence) not in text

    # Eastmoor's officer gets Eastmoor's PDF, with Ellen's spending in it, and not Northfield's.
    _, response = download(money_app, EASTMOOR_OFFICER)
    assert response.status_code == 200
    assert response.headers["Content-Disposition"].startswith('attachment; filename="eastmoor-county-council-direct-payments-')
    east_text = pdf_text(response.data, tmp_path)
    assert f"{pounds(east.spend_pence)} spent this financial year" in east_text
    assert "1 person with a direct payment (of 1 on a personal budget)" in east_text
    assert "Northfield" not in east_text


@pytest.mark.parametrize("email", ["amina@example.org", "grace@example.org", "david@example.org", "tom@example.org",
                                   "sophie.pa@example.org", "jay.pa@example.org", "ellen@example.org", "kim@brightpath.example",
                                   "lee@brightpath.example", "omar@harbour.example", "admin@example.org"])
def test_only_council_officers_get_the_pdf(app, email):
    client = app.test_client()
    sign_in(client, email, expect_home=email != "admin@example.org")
    response = client.get("/oversight.pdf")
    assert response.status_code == 403
    assert response.mimetype == "text/html" and not response.data.startswith(b"%PDF")


def test_signed_out_people_are_asked_to_sign_in(app):
    response = app.test_client().get("/oversight.pdf")
    assert response.status_code == 302 and response.headers["Location"].startswith("/sign-in")


def test_an_officer_without_a_council_has_no_pdf(app):
    with app.app_context():
        db.session.execute(sa.text("UPDATE users SET organisation_id = NULL WHERE email = :e"), {"e": RACHEL})
        db.session.commit()
    _, response = download(app)
    assert response.status_code == 404 and not response.data.startswith(b"%PDF")


def test_a_dashboard_with_no_money_yet_prints_zeros(app, tmp_path):
    _, response = download(app)
    assert response.status_code == 200
    text = pdf_text(response.data, tmp_path)
    assert "£0.00 spent this financial year" in text and "0 open excess reviews" in text
    assert "Page 1 of" in text


def test_the_pdf_is_dated_with_the_day_its_figures_are_for(app, tmp_path, monkeypatch):
    """The date in the file name, the title and the 'as at' line all come from the one build."""
    from portal.web.oversight import views

    seen = []
    real_build = dashboard.build

    def build(user, today=None):
        seen.append(today)
        return real_build(user, today)

    monkeypatch.setattr(views.dashboard_service, "build", build)
    _, response = download(app)
    assert len(seen) == 1 and isinstance(seen[0], date)  # the dashboard is built once, for one day
    assert response.headers["Content-Disposition"].endswith(f'-direct-payments-{seen[0].isoformat()}.pdf"')
    text = pdf_text(response.data, tmp_path)
    assert f"as at {seen[0].day} {seen[0]:%B %Y}" in text
