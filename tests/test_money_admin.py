"""Card statement uploads and their reports, rows kept for review, and the money settings pages
(council settings and national rates with history, categorisation rules).

The budgets the sample statement assumes (shared/samples/README.md) are set up by `budgets_app`:
Northfield's cycles from 1 June 2026, Amina Patel on card NF-CARD-000101, Grace Okafor on
NF-CARD-000102. Written for SQLite and PostgreSQL alike: look-ups by value, never by a guessed id.
"""

import io
import tempfile
from dataclasses import dataclass
from datetime import date
from pathlib import Path

import pytest
import sqlalchemy as sa

from portal.extensions import db
from portal.models import (
    AuditEvent,
    Budget,
    BudgetKind,
    CardImport,
    CategoryRule,
    CouncilSettings,
    Delivery,
    DPAccount,
    LedgerEntry,
    NationalRate,
    Organisation,
    PaymentMethod,
    UnmatchedCardRow,
)
from portal.services import budgets, local_settings
from tests.conftest import csrf_token, get_page, post_form, sign_in
from tests.helpers import person_id

# shared/ sits beside the repository (as in CI); without it, the copy embedded in test_card_import.
SAMPLE = Path(__file__).resolve().parents[2] / "shared" / "samples" / "card-statement-sample.csv"
AMINA_CARD, GRACE_CARD, UNKNOWN_CARD = "NF-CARD-000101", "NF-CARD-000102", "NF-CARD-999999"
MINIMUM_WAGE = "minimum_wage.21_and_over"


def sample_bytes() -> bytes:
    if SAMPLE.exists():
        return SAMPLE.read_bytes()
    # Outside this machine's layout, the copy embedded in the importer's own tests.
    from tests.test_card_import import SAMPLE_BYTES

    return SAMPLE_BYTES


# Set-up ------------------------------------------------------------------------------------------


@dataclass
class Money:
    app: object
    amina: int
    grace: int
    amina_account: int
    grace_account: int
    northfield: int


def _account(recipient: int, card: str) -> DPAccount:
    """The card account, reused if the demo data already has it (the demo may grow money of its own)."""
    account = db.session.scalar(sa.select(DPAccount).where(DPAccount.card_reference == card))
    return account or budgets.open_account(recipient, PaymentMethod.PREPAID_CARD, date(2026, 5, 1), card_reference=card)


def set_up_sample_budgets(app) -> Money:
    amina, grace = person_id(app, "Amina", "Patel"), person_id(app, "Grace", "Okafor")
    with app.app_context():
        northfield = db.session.scalar(sa.select(Organisation.id).where(Organisation.name == "Northfield City Council"))
        if not db.session.scalar(
            sa.select(CouncilSettings.id).where(CouncilSettings.council_id == northfield, CouncilSettings.effective_from == date(2026, 1, 1))
        ):
            db.session.add(CouncilSettings(council_id=northfield, effective_from=date(2026, 1, 1), cycle_anchor=date(2026, 6, 1)))
        accounts = {}
        for person, card, amounts in (
            (amina, AMINA_CARD, budgets.Amounts(44800, 2800, True)),
            (grace, GRACE_CARD, budgets.Amounts(35600, 0, True)),
        ):
            account = accounts[card] = _account(person, card)
            if not db.session.scalar(sa.select(Budget.id).where(Budget.account_id == account.id)):
                budgets.create_budget(
                    recipient_id=person, account=account, kind=BudgetKind.ONGOING, delivery=Delivery.DIRECT_PAYMENT,
                    start_date=date(2026, 6, 1), agreed_on=date(2026, 5, 1), first_payment_date=date(2026, 6, 1), amounts=amounts,
                )
        db.session.commit()
        return Money(app, amina, grace, accounts[AMINA_CARD].id, accounts[GRACE_CARD].id, northfield)


@pytest.fixture
def money(app) -> Money:
    return set_up_sample_budgets(app)


@pytest.fixture
def spool_dir(tmp_path, monkeypatch) -> Path:
    """Temporary files go to a folder of the test's own, to check the upload's copy is removed."""
    folder = tmp_path / "spool"
    folder.mkdir()
    monkeypatch.setattr(tempfile, "tempdir", str(folder))
    return folder


def signed_in(app, email: str):
    client = app.test_client()
    sign_in(client, email)
    return client


def upload(client, content: bytes, layout: str = "standard", filename: str = "card-statement-sample.csv"):
    page = client.get("/card-imports/new")
    return client.post(
        "/card-imports/new",
        data={"csrf_token": csrf_token(page.text), "layout": layout, "statement": (io.BytesIO(content), filename)},
        content_type="multipart/form-data",
    )


def summary(page) -> dict[str, str]:
    """A summary list as {key: value text}."""
    keys = [dt.get_text(" ", strip=True) for dt in page.soup.select(".govuk-summary-list__key")]
    values = [dd.get_text(" ", strip=True) for dd in page.soup.select(".govuk-summary-list__value")]
    return dict(zip(keys, values, strict=True))


def count(value: str) -> int:
    return int(value.split()[0])


def error_messages(page) -> list[str]:
    return [a.get_text(" ", strip=True) for a in page.soup.select(".govuk-error-summary__list a")]


def parsed(response):
    from bs4 import BeautifulSoup

    from tests.conftest import Page, check_page

    soup = BeautifulSoup(response.text, "html.parser")
    check_page(soup, "(response)")
    return Page(response.status_code, soup, response.text)


def audit_actions(app, action: str) -> list[AuditEvent]:
    with app.app_context():
        events = db.session.scalars(sa.select(AuditEvent).where(AuditEvent.action == action).order_by(AuditEvent.id)).all()
        for event in events:
            db.session.expunge(event)
        return events


def unmatched_row_id(app, external_id: str) -> int:
    with app.app_context():
        return db.session.scalar(sa.select(UnmatchedCardRow.id).where(UnmatchedCardRow.external_id == external_id))


def entries_for(app, external_id: str) -> list[tuple[int, int]]:
    with app.app_context():
        rows = db.session.execute(
            sa.select(LedgerEntry.account_id, LedgerEntry.amount_pence).where(LedgerEntry.external_id == external_id)
        ).all()
        return [tuple(row) for row in rows]


def ledger_size(app) -> int:
    with app.app_context():
        return db.session.scalar(sa.select(sa.func.count()).select_from(LedgerEntry))


# Uploading a statement ------------------------------------------------------------------------------


def test_kim_uploads_the_sample_and_sees_the_report(money, spool_dir):
    kim = signed_in(money.app, "kim@brightpath.example")
    form = get_page(kim, "/card-imports/new")
    labels = [label.get_text(" ", strip=True) for label in form.soup.select("label")]
    assert "Standard export (Debit and Credit columns)" in labels
    assert "Signed amounts, semicolons, ISO dates" in labels
    assert form.soup.find("input", {"type": "file", "name": "statement"})
    assert form.soup.find("form", {"enctype": "multipart/form-data"})

    response = upload(kim, sample_bytes())
    assert response.status_code == 302
    assert response.headers["Location"].startswith("/card-imports/")
    assert list(spool_dir.iterdir()) == [], "the temporary copy of the upload is removed"

    report = get_page(kim, response.headers["Location"])
    figures = summary(report)
    assert count(figures["Rows read"]) == 52
    assert count(figures["Duplicates skipped"]) == 1
    assert count(figures["Unknown card accounts"]) == 1
    assert count(figures["Flagged for an explanation"]) == 2
    assert count(figures["Rejected"]) == 0
    assert count(figures["Posted"]) + count(figures["Confirmed"]) == 50
    assert "Kim Bell" in figures["Uploaded"]
    assert "card-statement-sample.csv has been imported" in report.text
    # Kim (a caseworker) is told who deals with the unknown card, not sent to a page she cannot open.
    assert not report.soup.find("a", href="/card-imports/unmatched")
    assert "A DPSS manager or council officer" in report.text

    with money.app.app_context():
        record = db.session.scalar(sa.select(CardImport))
        assert (record.filename, record.layout, record.rows_read) == ("card-statement-sample.csv", "standard", 52)
        amina_entries = db.session.scalar(sa.select(sa.func.count()).where(LedgerEntry.account_id == money.amina_account))
        assert amina_entries == 41
    [event] = audit_actions(money.app, "card_import.uploaded")
    assert (event.record_type, event.record_id, event.outcome) == ("card_import", str(record.id), "imported")


def test_a_full_temporary_folder_refuses_the_statement_clearly_and_imports_nothing(money, spool_dir, monkeypatch):
    import errno

    from werkzeug.datastructures import FileStorage

    kim = signed_in(money.app, "kim@brightpath.example")
    before = ledger_size(money.app)
    real_save = FileStorage.save

    def disk_full(self, destination, buffer_size=16384):
        destination.write(b"Transaction ID,")  # part of the copy made before the disk filled
        raise OSError(errno.ENOSPC, "No space left on device")

    monkeypatch.setattr(FileStorage, "save", disk_full)
    response = upload(kim, sample_bytes())
    assert response.status_code == 200
    page = parsed(response)
    assert error_messages(page) == ["The file could not be saved just now, so nothing was added. Try again later."]
    assert ledger_size(money.app) == before
    assert list(spool_dir.iterdir()) == [], "the half-made copy is removed"
    with money.app.app_context():
        assert db.session.scalar(sa.select(sa.func.count()).select_from(CardImport)) == 0

    monkeypatch.setattr(FileStorage, "save", real_save)
    assert upload(kim, sample_bytes()).status_code == 302  # once there is room, the same file goes in
    assert ledger_size(money.app) > before


def test_uploading_the_same_file_again_adds_nothing(money, spool_dir):
    kim = signed_in(money.app, "kim@brightpath.example")
    first = upload(kim, sample_bytes())
    entries = ledger_size(money.app)

    second = upload(kim, sample_bytes())
    assert second.status_code == 302 and second.headers["Location"] != first.headers["Location"]
    figures = summary(get_page(kim, second.headers["Location"]))
    assert count(figures["Rows read"]) == 52
    assert count(figures["Posted"]) == 0 and count(figures["Confirmed"]) == 0
    assert count(figures["Duplicates skipped"]) == 52, "every row is known now, the unknown card's row too"
    assert count(figures["Unknown card accounts"]) == 0
    assert ledger_size(money.app) == entries
    with money.app.app_context():
        assert db.session.scalar(sa.select(sa.func.count()).select_from(UnmatchedCardRow)) == 1

    listing = get_page(kim, "/card-imports")
    links = [a["href"] for a in listing.soup.select("table a")]
    assert links == [second.headers["Location"], first.headers["Location"]], "newest first"


@pytest.mark.parametrize(
    ("content", "layout", "message"),
    [
        (b"Transaction ID,Date,Merchant\r\nT1,01/06/2026,SHOP\r\n", "standard", "these columns are missing: Card Account, Debit, Credit"),
        (b"", "standard", "the file is empty"),
        (b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR", "standard", "these columns are missing"),
        (None, "signed-iso", "these columns are missing: TxnRef"),  # the sample, with the other layout chosen
    ],
    ids=["missing-columns", "empty", "not-a-csv", "wrong-layout"],
)
def test_a_malformed_file_shows_what_is_wrong_never_a_500(money, spool_dir, content, layout, message):
    kim = signed_in(money.app, "kim@brightpath.example")
    response = upload(kim, sample_bytes() if content is None else content, layout=layout, filename="statement.csv")
    assert response.status_code == 200
    page = parsed(response)
    assert page.soup.title.string.startswith("Error: ")
    [summary_message] = error_messages(page)
    assert summary_message.startswith("The file could not be imported: ") and message in summary_message
    assert page.soup.select_one(".govuk-error-message")
    assert ledger_size(money.app) == 0
    assert list(spool_dir.iterdir()) == []
    [event] = audit_actions(money.app, "card_import.uploaded")
    assert event.outcome == "file refused"


def test_the_upload_form_asks_for_a_file_and_a_known_layout(money):
    kim = signed_in(money.app, "kim@brightpath.example")
    page = client_post(kim, "/card-imports/new", {"layout": "standard"}, multipart=True)
    assert page.status == 200 and error_messages(page) == ["Select a card statement file"]
    page = client_post(kim, "/card-imports/new", {"layout": "a-layout-we-do-not-have", "statement": (io.BytesIO(b"x"), "a.csv")}, multipart=True)
    assert page.status == 200 and len(error_messages(page)) == 1
    with money.app.app_context():
        assert db.session.scalar(sa.select(sa.func.count()).select_from(CardImport)) == 0


def client_post(client, url: str, data: dict, multipart: bool = False):
    page = client.get(url)
    response = client.post(
        url, data={"csrf_token": csrf_token(page.text), **data}, content_type="multipart/form-data" if multipart else None
    )
    return parsed(response)


def test_the_upload_has_its_own_size_limit_set_for_this_page_only(money, spool_dir):
    app = money.app
    kim = signed_in(app, "kim@brightpath.example")
    content = sample_bytes()
    # A site-wide limit smaller than the file does not apply to statement uploads...
    app.config["MAX_CONTENT_LENGTH"] = len(content) // 2
    assert upload(kim, content).status_code == 302
    # ...their own limit does, with the file upload's own error message.
    app.config["CARD_IMPORT_MAX_CONTENT_LENGTH"] = len(content) // 2
    response = upload(kim, content)
    assert response.status_code == 413
    page = parsed(response)
    assert error_messages(page) == [f"The selected file must be smaller than {len(content) // 2 // 1024}KB"]
    assert list(spool_dir.iterdir()) == []
    # The CSRF check still applies to this page (it runs in the view, after the limit is set).
    response = kim.post(
        "/card-imports/new", data={"layout": "standard", "statement": (io.BytesIO(b"x"), "a.csv")}, content_type="multipart/form-data"
    )
    assert response.status_code == 400


def test_a_report_for_an_import_that_does_not_exist_is_not_found(money):
    kim = signed_in(money.app, "kim@brightpath.example")
    get_page(kim, "/card-imports/999999", status=404)


def test_rejected_rows_are_listed_with_their_line_numbers_and_reasons(money, spool_dir):
    rachel = signed_in(money.app, "rachel@northfield.example")
    lines = sample_bytes().split(b"\r\n")
    lines[3] = lines[3].replace(b"03/06/2026", b"31/02/2026")  # line 4 of the file
    lines[4] = lines[4].replace(b"560.00", b"five pounds")  # line 5
    response = upload(rachel, b"\r\n".join(lines))
    report = get_page(rachel, response.headers["Location"])
    assert count(summary(report)["Rejected"]) == 2
    rows = [[cell.get_text(" ", strip=True) for cell in tr.select("td")] for tr in report.soup.select("tbody tr")]
    assert rows[0][0] == "4" and "31/02/2026" in rows[0][1] and rows[0][1][0].isupper()
    assert rows[1][0] == "5" and "five pounds" in rows[1][1]
    # Rachel reviews unknown cards: the report sends her there.
    assert report.soup.find("a", href="/card-imports/unmatched")


# Rows kept for review ------------------------------------------------------------------------------------


def test_rachel_adds_the_unknown_row_to_aminas_account_once(money, spool_dir):
    app = money.app
    upload(signed_in(app, "kim@brightpath.example"), sample_bytes())
    row_id = unmatched_row_id(app, "T880028")
    rachel = signed_in(app, "rachel@northfield.example")

    listing = get_page(rachel, "/card-imports/unmatched")
    [cells] = [[td.get_text(" ", strip=True) for td in tr.select("td")] for tr in listing.soup.select("tbody tr")]
    assert cells[:4] == ["16 July 2026", UNKNOWN_CARD, "UNKNOWN MERCHANT", "£10.00 out"]

    search = get_page(rachel, f"/card-imports/unmatched/{row_id}?q=amina")
    [found] = search.soup.select("ul.govuk-list a")
    assert found.get_text(strip=True) == "Patel, Amina"
    # Amina has one prepaid card account, so choosing her goes straight to the check.
    check = get_page(rachel, found["href"])
    assert check.soup.h1.get_text(strip=True) == "Check before adding the transaction"
    facts = summary(check)
    assert facts["Person"] == "Amina Patel" and facts["Account"] == f"Prepaid card {AMINA_CARD}"
    assert facts["Amount"] == "£10.00 out"
    form = check.soup.find("form", action=f"/card-imports/unmatched/{row_id}", method="post")
    fields = {i["name"]: i.get("value", "") for i in form.find_all("input") if i.get("name")}
    assert fields["recipient_id"] == str(money.amina) and fields["account_id"] == str(money.amina_account)

    response = rachel.post(form["action"], data=fields)
    assert response.status_code == 302 and response.headers["Location"] == "/card-imports/unmatched"
    assert entries_for(app, "T880028") == [(money.amina_account, -1000)]
    done = get_page(rachel, "/card-imports/unmatched")
    assert "Transaction T880028 has been added to Amina Patel's account." in done.soup.get_text()
    assert "There are no transactions to check." in done.text
    [event] = audit_actions(app, "card_row.resolved")
    assert (event.record_id, event.acting_for_id) == (str(row_id), money.amina)
    with app.app_context():
        row = db.session.get(UnmatchedCardRow, row_id)
        assert row.resolved_entry_id is not None and row.resolved_at is not None

    # Again, from the same page: refused, and nothing is posted twice.
    again = rachel.post(form["action"], data=fields)
    assert again.status_code == 409
    assert "already been added to an account" in again.text
    assert entries_for(app, "T880028") == [(money.amina_account, -1000)]
    page = get_page(rachel, f"/card-imports/unmatched/{row_id}")
    assert "already been added to an account" in page.text
    assert not page.soup.find("form", action=f"/card-imports/unmatched/{row_id}")


def test_people_outside_the_users_scope_cannot_be_found_or_chosen(money, spool_dir):
    app = money.app
    upload(signed_in(app, "kim@brightpath.example"), sample_bytes())
    row_id = unmatched_row_id(app, "T880028")
    url = f"/card-imports/unmatched/{row_id}"

    # Lee (Brightpath manager) sees Sam Okafor but not Grace Okafor (Harbour's).
    lee = signed_in(app, "lee@brightpath.example")
    names = [a.get_text(strip=True) for a in get_page(lee, f"{url}?q=okafor").soup.select("ul.govuk-list a")]
    assert names == ["Okafor, Sam"]
    get_page(lee, f"{url}?recipient={money.grace}", status=404)
    get_page(lee, f"{url}?recipient={money.grace}&account={money.grace_account}", status=404)
    token = csrf_token(get_page(lee, url).text)
    refused = lee.post(url, data={"csrf_token": token, "recipient_id": money.grace, "account_id": money.grace_account})
    assert refused.status_code == 404
    # Someone in scope with another person's account is refused too.
    refused = lee.post(url, data={"csrf_token": token, "recipient_id": money.amina, "account_id": money.grace_account})
    assert refused.status_code == 404
    assert entries_for(app, "T880028") == []

    # Rachel (Northfield) does not find Ellen Marsh (Eastmoor).
    rachel = signed_in(app, "rachel@northfield.example")
    assert "No one you can see has a name containing" in get_page(rachel, f"{url}?q=ellen").text

    # Omar (a Harbour caseworker) may not attach rows at all: only managers and council officers may.
    omar = signed_in(app, "omar@harbour.example")
    token = csrf_token(get_page(omar, "/account").text)
    assert omar.post(url, data={"csrf_token": token, "recipient_id": money.amina, "account_id": money.amina_account}).status_code == 403
    assert entries_for(app, "T880028") == []
    with app.app_context():
        assert db.session.get(UnmatchedCardRow, row_id).resolved_entry_id is None


def test_choosing_between_several_card_accounts(money, spool_dir):
    app = money.app
    upload(signed_in(app, "kim@brightpath.example"), sample_bytes())
    row_id = unmatched_row_id(app, "T880028")
    with app.app_context():
        second = budgets.open_account(money.amina, PaymentMethod.PREPAID_CARD, date(2026, 7, 1), card_reference="NF-CARD-000199")
        budgets.open_account(money.amina, PaymentMethod.BANK_ACCOUNT, date(2026, 7, 1))
        db.session.commit()
        second_id = second.id
    lee = signed_in(app, "lee@brightpath.example")
    url = f"/card-imports/unmatched/{row_id}?recipient={money.amina}"
    page = get_page(lee, url)
    radios = [i["value"] for i in page.soup.select("input[type=radio][name=account]")]
    assert radios == [str(money.amina_account), str(second_id)], "prepaid card accounts only"
    page = get_page(lee, f"{url}&account=")
    assert page.soup.title.string.startswith("Error: ") and error_messages(page) == ["Select the account to add the transaction to"]
    page = get_page(lee, f"{url}&account={second_id}")
    assert summary(page)["Account"] == "Prepaid card NF-CARD-000199"


@pytest.mark.parametrize(
    ("email", "status"),
    [("lee@brightpath.example", 200), ("rachel@northfield.example", 200), ("kim@brightpath.example", 403),
     ("omar@harbour.example", 403), ("amina@example.org", 403), ("admin@example.org", 403)],
)
def test_who_may_see_rows_kept_for_review(app, email, status):
    client = signed_in(app, email)
    get_page(client, "/card-imports/unmatched", status=status)


@pytest.mark.parametrize(
    ("email", "status"),
    [("kim@brightpath.example", 200), ("lee@brightpath.example", 200), ("omar@harbour.example", 200),
     ("rachel@northfield.example", 200), ("amina@example.org", 403), ("david@example.org", 403),
     ("sophie.pa@example.org", 403), ("admin@example.org", 403)],
)
def test_who_may_upload_statements(app, email, status):
    client = signed_in(app, email)
    get_page(client, "/card-imports/new", status=status)
    get_page(client, "/card-imports", status=status)


def test_anonymous_visitors_are_asked_to_sign_in(app):
    client = app.test_client()
    for url in ("/card-imports/new", "/card-imports", "/card-imports/1", "/card-imports/unmatched", "/card-imports/unmatched/1",
                "/admin/money-settings", "/admin/councils/1/settings", "/admin/councils/1/settings/new", "/admin/rates",
                "/admin/rates/new", "/admin/category-rules", "/admin/category-rules/new"):
        response = client.get(url)
        assert response.status_code == 302 and response.headers["Location"].startswith("/sign-in"), url
    page = client.get("/sign-in")
    for url in ("/card-imports/new", "/card-imports/unmatched/1", "/admin/category-rules/1/delete", "/admin/rates/new"):
        response = client.post(url, data={"csrf_token": csrf_token(page.text)})
        assert response.status_code == 302 and response.headers["Location"].startswith("/sign-in"), url


# Council settings -----------------------------------------------------------------------------------------


def northfield_id(app) -> int:
    with app.app_context():
        return db.session.scalar(sa.select(Organisation.id).where(Organisation.name == "Northfield City Council"))


def settings_on(app, council: int, day: date) -> local_settings.Settings:
    with app.app_context():
        return local_settings.council_settings(council, day)


def settings_form(**overrides) -> dict:
    fields = {
        "effective_from": ["1", "1", "2030"], "cycle_anchor": ["1", "6", "2026"], "excess_weeks": "8",
        "contingency": "50.00", "evidence_threshold": "25", "retention_years": "7",
    }
    fields.update(overrides)
    return fields


def test_admin_adds_council_settings_from_a_date_and_they_apply_from_that_date(money):
    app, council = money.app, money.northfield
    admin = signed_in(app, "admin@example.org")
    overview = get_page(admin, "/admin/money-settings")
    assert overview.soup.find("a", href=f"/admin/councils/{council}/settings")
    assert overview.soup.find("a", href="/admin/rates") and overview.soup.find("a", href="/admin/category-rules")

    before = settings_on(app, council, date(2029, 12, 31))
    assert (before.excess_weeks, before.contingency_pence, before.retention_years) == (4, 0, 6)

    form = get_page(admin, f"/admin/councils/{council}/settings/new")
    assert form.soup.find("input", {"name": "cycle_anchor", "id": "cycle_anchor-day"})["value"] == "01"
    assert form.soup.find("input", {"name": "excess_weeks"})["value"] == "4", "starts from the settings in force"
    response = post_form(admin, f"/admin/councils/{council}/settings/new", settings_form())
    assert response.status_code == 302 and response.headers["Location"] == f"/admin/councils/{council}/settings"

    assert settings_on(app, council, date(2029, 12, 31)) == before
    after = settings_on(app, council, date(2030, 1, 1))
    assert after == local_settings.Settings(date(2026, 6, 1), 8, 5000, 2500, 7)
    with app.app_context():
        row = db.session.scalar(sa.select(CouncilSettings).where(CouncilSettings.effective_from == date(2030, 1, 1)))
        assert isinstance(row.contingency_pence, int) and row.created_by_id is not None
        row_id = row.id
    [event] = audit_actions(app, "council_settings.added")
    assert event.record_id == str(row_id)

    history = get_page(admin, f"/admin/councils/{council}/settings")
    rows = [[td.get_text(" ", strip=True) for td in tr.select("td")] for tr in history.soup.select("tbody tr")]
    assert rows[0][0] == "1 January 2030" and rows[0][3] == "£50.00" and rows[0][-1] == "Starts later"
    assert rows[1][0] == "1 January 2026" and rows[1][-1] == "In force"
    assert "Settings for Northfield City Council from 1 January 2030 have been saved." in history.text


@pytest.mark.parametrize(
    ("overrides", "message"),
    [
        ({"excess_weeks": "27"}, "The excess balance threshold must be between 1 and 26 weeks"),
        ({"excess_weeks": "0"}, "The excess balance threshold must be between 1 and 26 weeks"),
        ({"excess_weeks": "four"}, "The excess balance threshold must be a whole number of weeks, like 4"),
        ({"retention_years": "2"}, "Records must be kept for between 3 and 10 years"),
        ({"retention_years": "11"}, "Records must be kept for between 3 and 10 years"),
        ({"contingency": "fifty"}, "Enter the contingency in pounds and pence, like 50.00"),
        ({"contingency": "50.001"}, "Enter the contingency in pounds and pence, like 50.00"),
        ({"contingency": "-5.00"}, "Enter the contingency in pounds and pence, like 50.00"),
        ({"contingency": ""}, "Enter the contingency, or 0.00 for none"),
        ({"evidence_threshold": "£1,000,000,000"}, "Enter an amount less than 10,000,000"),
        ({"effective_from": ["31", "2", "2030"]}, "The start date must be a real date"),
        ({"effective_from": ["", "", ""]}, "Enter the date these settings start"),
        ({"cycle_anchor": ["1", "June", "2026"]}, "The first day of a payment cycle must be a real date"),
        ({"effective_from": ["1", "1", "2026"]}, "This council already has settings from that date: choose another date"),
    ],
)
def test_bad_council_settings_get_govuk_errors_and_change_nothing(money, overrides, message):
    admin = signed_in(money.app, "admin@example.org")
    url = f"/admin/councils/{money.northfield}/settings/new"
    page = parsed(post_form(admin, url, settings_form(**overrides)))
    assert page.status == 200
    assert page.soup.title.string.startswith("Error: ")
    assert message in error_messages(page)
    with money.app.app_context():
        assert db.session.scalar(sa.select(sa.func.count()).select_from(CouncilSettings)) == 1
    assert audit_actions(money.app, "council_settings.added") == []


def test_amounts_in_pounds_become_whole_pence_without_floats(money):
    admin = signed_in(money.app, "admin@example.org")
    url = f"/admin/councils/{money.northfield}/settings/new"
    post_form(admin, url, settings_form(effective_from=["2", "1", "2030"], contingency="£1,234.5", evidence_threshold="0.07"))
    post_form(admin, url, settings_form(effective_from=["3", "1", "2030"], contingency="0", evidence_threshold="19.99"))
    first, second = (settings_on(money.app, money.northfield, date(2030, 1, day)) for day in (2, 3))
    assert (first.contingency_pence, first.evidence_threshold_pence) == (123450, 7)
    assert (second.contingency_pence, second.evidence_threshold_pence) == (0, 1999)


def test_a_council_with_no_settings_shows_the_defaults_and_other_organisations_are_not_councils(app):
    admin = signed_in(app, "admin@example.org")
    with app.app_context():
        eastmoor = db.session.scalar(sa.select(Organisation.id).where(Organisation.name == "Eastmoor County Council"))
        harbour = db.session.scalar(sa.select(Organisation.id).where(Organisation.name == "Harbour DPSS"))
    page = get_page(admin, f"/admin/councils/{eastmoor}/settings")
    assert "No settings have started yet, so the defaults apply." in page.text
    assert summary(page)["Excess balance threshold"] == "4 weeks of payment"
    get_page(admin, f"/admin/councils/{harbour}/settings", status=404)
    get_page(admin, f"/admin/councils/{harbour}/settings/new", status=404)
    get_page(admin, "/admin/councils/999999/settings", status=404)


# National rates -------------------------------------------------------------------------------------------


def rate_form(**overrides) -> dict:
    fields = {
        "existing_key": MINIMUM_WAGE, "new_key": "", "label": "National Living Wage, age 21 and over",
        "effective_from": ["1", "4", "2027"], "unit": "pence per hour", "value": "13.10",
        "source": "National Minimum Wage rates from 1 April 2027",
    }
    fields.update(overrides)
    return fields


def rate_on(app, key: str, day: date):
    with app.app_context():
        return local_settings.national_rate(key, day)


def test_admin_adds_a_minimum_wage_row_from_1_april_2027(app):
    admin = signed_in(app, "admin@example.org")
    rates = get_page(admin, "/admin/rates")
    assert "£12.71 an hour" in rates.text
    add_link = rates.soup.find("a", href=f"/admin/rates/new?key={MINIMUM_WAGE}")
    assert add_link
    form = get_page(admin, add_link["href"])
    assert form.soup.find("option", {"value": MINIMUM_WAGE, "selected": True})
    assert form.soup.find("input", {"name": "label"})["value"] == "National Living Wage, age 21 and over"

    response = post_form(admin, "/admin/rates/new", rate_form())
    assert response.status_code == 302 and response.headers["Location"] == "/admin/rates"
    assert rate_on(app, MINIMUM_WAGE, date(2027, 4, 1)) == 1310
    assert rate_on(app, MINIMUM_WAGE, date(2027, 3, 31)) == 1271
    assert rate_on(app, MINIMUM_WAGE, date(2026, 4, 1)) == 1271
    [event] = audit_actions(app, "national_rate.added")
    assert event.outcome == MINIMUM_WAGE

    page = get_page(admin, "/admin/rates")
    assert "National Living Wage, age 21 and over from 1 April 2027 has been saved." in page.text
    table = page.soup.find("h2", string="National Living Wage, age 21 and over").find_next("table")
    rows = [[td.get_text(" ", strip=True) for td in tr.select("td")] for tr in table.select("tbody tr")]
    assert [r[:2] for r in rows] == [["1 April 2027", "£13.10 an hour"], ["1 April 2026", "£12.71 an hour"], ["1 April 2025", "£12.21 an hour"]]
    assert rows[0][-1] == "Starts later" and rows[1][-1] == "In force"


def test_a_new_rate_with_its_own_key_and_a_percentage(app):
    admin = signed_in(app, "admin@example.org")
    response = post_form(admin, "/admin/rates/new", rate_form(
        existing_key="", new_key="employer_ni.rate", label="Employer National Insurance", unit="basis points", value="15%",
        effective_from=["6", "4", "2025"], source="HMRC rates and thresholds 2025 to 2026",
    ))
    assert response.status_code == 302
    assert rate_on(app, "employer_ni.rate", date(2026, 4, 6)) == 1500
    assert "15.00%" in get_page(admin, "/admin/rates").text


@pytest.mark.parametrize(
    ("overrides", "message"),
    [
        ({"value": "13.105"}, "Enter the amount as a number with up to 2 decimal places, like 12.71"),
        ({"value": ""}, "Enter the amount"),
        ({"unit": "basis points"}, "This rate is kept in pence per hour: select that unit"),
        ({"unit": "furlongs"}, "Not a valid choice."),
        ({"effective_from": ["1", "4", "2026"]}, "This rate already has a row from that date: choose another date"),
        ({"effective_from": ["1", "13", "2027"]}, "The start date must be a real date"),
        ({"existing_key": "", "new_key": ""}, "Enter a key for the new rate, or select an existing rate"),
        ({"new_key": "another.key"}, "Leave the key empty when you add a row to an existing rate"),
        ({"existing_key": "", "new_key": "Minimum Wage"}, "Enter a key of lower-case letters, numbers and underscores, in parts joined by dots, like minimum_wage.21_and_over"),
        ({"existing_key": "", "new_key": "minimum_wage..x"}, "Enter a key of lower-case letters, numbers and underscores, in parts joined by dots, like minimum_wage.21_and_over"),
        ({"label": ""}, "Enter the rate's name"),
        ({"source": ""}, "Enter where the figure comes from"),
    ],
)
def test_bad_rates_get_govuk_errors_and_change_nothing(app, overrides, message):
    admin = signed_in(app, "admin@example.org")
    with app.app_context():
        before = db.session.scalar(sa.select(sa.func.count()).select_from(NationalRate))
    page = parsed(post_form(admin, "/admin/rates/new", rate_form(**overrides)))
    assert page.status == 200 and page.soup.title.string.startswith("Error: ")
    assert message in error_messages(page)
    with app.app_context():
        assert db.session.scalar(sa.select(sa.func.count()).select_from(NationalRate)) == before
    assert audit_actions(app, "national_rate.added") == []


# Categorisation rules ------------------------------------------------------------------------------------


def test_admin_adds_and_deletes_a_categorisation_rule(app):
    admin = signed_in(app, "admin@example.org")
    page = get_page(admin, "/admin/category-rules")
    before = len(page.soup.select("tbody tr"))
    assert before > 0
    form = get_page(admin, "/admin/category-rules/new")
    assert form.soup.find("input", {"name": "position"})["value"] == "120", "after the last rule"

    response = post_form(admin, "/admin/category-rules/new", {
        "position": "105", "merchant_contains": " Lloyds Pharmacy ", "mcc": "", "category": "aids and adaptations", "flag": "",
    })
    assert response.status_code == 302 and response.headers["Location"] == "/admin/category-rules"
    with app.app_context():
        rule = db.session.scalar(sa.select(CategoryRule).where(CategoryRule.merchant_contains == "Lloyds Pharmacy"))
        assert (rule.position, rule.mcc, rule.category.value, rule.flag) == (105, "", "aids and adaptations", "")
        rule_id = rule.id
    page = get_page(admin, "/admin/category-rules")
    assert len(page.soup.select("tbody tr")) == before + 1
    [event] = audit_actions(app, "category_rule.added")
    assert event.record_id == str(rule_id)

    response = post_form(admin, f"/admin/category-rules/{rule_id}/delete", {}, page_url="/admin/category-rules")
    assert response.status_code == 302
    with app.app_context():
        assert db.session.get(CategoryRule, rule_id) is None
    assert len(get_page(admin, "/admin/category-rules").soup.select("tbody tr")) == before
    [event] = audit_actions(app, "category_rule.deleted")
    assert event.record_id == str(rule_id)
    response = post_form(admin, f"/admin/category-rules/{rule_id}/delete", {}, page_url="/admin/category-rules")
    assert response.status_code == 404


@pytest.mark.parametrize(
    ("data", "message"),
    [
        ({"position": "5", "category": "travel"}, "Enter merchant text or a merchant category code"),
        ({"position": "5", "mcc": "4121"}, "Select a category or a flag"),
        ({"position": "5", "mcc": "41", "category": "travel"}, "Enter the merchant category code as 4 digits, like 5411"),
        ({"position": "", "mcc": "4121", "category": "travel"}, "Enter the order"),
        ({"position": "5.5", "mcc": "4121", "category": "travel"}, "Enter the order as a whole number, like 120"),
        ({"position": "5", "mcc": "4121", "flag": "outside the support plan"}, "Not a valid choice."),
    ],
)
def test_bad_rules_get_govuk_errors(app, data, message):
    admin = signed_in(app, "admin@example.org")
    with app.app_context():
        rules = db.session.scalar(sa.select(sa.func.count()).select_from(CategoryRule))
    page = parsed(post_form(admin, "/admin/category-rules/new", data))
    assert page.status == 200 and page.soup.title.string.startswith("Error: ")
    assert message in error_messages(page)
    with app.app_context():
        assert db.session.scalar(sa.select(sa.func.count()).select_from(CategoryRule)) == rules


# Only the administrator -------------------------------------------------------------------------------------


ADMIN_PAGES = ["/admin/money-settings", "/admin/councils/{northfield}/settings", "/admin/councils/{northfield}/settings/new",
               "/admin/rates", "/admin/rates/new", "/admin/category-rules", "/admin/category-rules/new"]


@pytest.mark.parametrize("email", ["rachel@northfield.example", "lee@brightpath.example", "kim@brightpath.example", "amina@example.org"])
def test_only_the_administrator_may_open_the_money_settings(app, email):
    council = northfield_id(app)
    client = signed_in(app, email)
    for url in ADMIN_PAGES:
        get_page(client, url.format(northfield=council), status=403)
    token = csrf_token(get_page(client, "/account").text)
    with app.app_context():
        rule_id = db.session.scalar(sa.select(CategoryRule.id).order_by(CategoryRule.id).limit(1))
        rates_before = db.session.scalar(sa.select(sa.func.count()).select_from(NationalRate))
    for url in (f"/admin/councils/{council}/settings/new", "/admin/rates/new", "/admin/category-rules/new",
                f"/admin/category-rules/{rule_id}/delete"):
        assert client.post(url, data={"csrf_token": token, **rate_form()}).status_code == 403, url
    with app.app_context():
        assert db.session.get(CategoryRule, rule_id) is not None
        assert db.session.scalar(sa.select(sa.func.count()).select_from(NationalRate)) == rates_before


def test_the_administrator_sees_every_money_settings_page(app):
    council = northfield_id(app)
    admin = signed_in(app, "admin@example.org")
    for url in ADMIN_PAGES:
        get_page(admin, url.format(northfield=council))
