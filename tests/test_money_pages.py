"""My money, Transactions and explaining a flagged payment, for recipients, representatives and staff."""

import pytest
import sqlalchemy as sa

from portal.extensions import db
from portal.models import AuditEvent, DPAccount, EntryAnnotation, EntryKind, EntrySource, EntryState, LedgerEntry
from portal.services import ledger
from portal.services.clock import london_today
from tests.conftest import csrf_token, get_page, post_form, sign_in
from tests.helpers import person_id


def _signed_in(app, email):
    client = app.test_client()
    sign_in(client, email)
    return client


def _account_id(app, pid):
    with app.app_context():
        return db.session.scalar(sa.select(DPAccount.id).where(DPAccount.recipient_id == pid))


def _flagged_cash_withdrawal(app, pid) -> int:
    with app.app_context():
        entry = ledger.post(
            account_id=_account_id(app, pid), kind=EntryKind.SPEND, amount_pence=-10000, entry_date=london_today(),
            source=EntrySource.CARD_IMPORT, payee="ATM CASH WITHDRAWAL", description="Cash", flags=["cash withdrawal"],
            external_id="TEST-CASH-1",
        )
        db.session.commit()
        return entry.id


def test_my_money_shows_the_balance_the_ledger_adds_up_to(money_app):
    amina = person_id(money_app, "Amina", "Patel")
    client = _signed_in(money_app, "amina@example.org")
    page = get_page(client, f"/people/{amina}/money")
    with money_app.app_context():
        total = ledger.balance_from_entries(_account_id(money_app, amina))
    balance = page.soup.select_one(".portal-balance").get_text(strip=True)
    pounds, pence = divmod(total, 100)
    assert balance == f"£{pounds:,}.{pence:02d}"
    assert page.soup.h1.get_text(strip=True) == "Your money"
    assert "Next payment" in page.text and "Kim Bell" in page.text and "0114 496 0100" in page.text
    assert "more than four weeks" not in page.text, "Amina's balance is not in excess"


def test_grace_excess_balance_is_explained_in_plain_words_to_david(money_app):
    grace = person_id(money_app, "Grace", "Okafor")
    client = _signed_in(money_app, "david@example.org")
    page = get_page(client, f"/people/{grace}/money")
    assert "You are managing Grace Okafor's direct payment" in page.soup.select_one("[data-capacity]").get_text()
    message = " ".join(page.soup.select_one("[data-excess]").get_text().split())
    assert message.startswith("Grace has £") and "more than four weeks of payments." in message
    assert "Omar Farah at Harbour DPSS will talk to you and Grace about it." in message


def test_spending_table_and_its_bars_use_the_same_figures(money_app):
    amina = person_id(money_app, "Amina", "Patel")
    client = _signed_in(money_app, "amina@example.org")
    page = get_page(client, f"/people/{amina}/money")
    rows = page.soup.select("#spending tbody tr")
    assert rows
    for row in rows:
        planned, spent = (int(c.get_text(strip=True).replace("£", "").replace(",", "").replace(".", "")) for c in row.select("td")[:2])
        bar = row.select_one(".portal-bar__fill")
        width = next(int(c.removeprefix("portal-w-")) for c in bar["class"] if c.startswith("portal-w-"))
        expected = min(100, round(spent * 100 / planned)) if planned else (100 if spent else 0)
        assert width == expected
        assert f"{width}%" in row.get_text()


def test_year_so_far_is_one_click_away_with_and_without_htmx(money_app):
    amina = person_id(money_app, "Amina", "Patel")
    client = _signed_in(money_app, "amina@example.org")
    page = get_page(client, f"/people/{amina}/money?show=year")
    assert "Spending this year" in page.text
    fragment = client.get(f"/people/{amina}/money?show=year", headers={"HX-Request": "true"})
    assert fragment.status_code == 200 and "<html" not in fragment.text and "Spending this year" in fragment.text
    assert "HX-Request" in fragment.headers.get("Vary", "")


def test_transactions_filter_by_category_and_needs_a_receipt(money_app):
    amina = person_id(money_app, "Amina", "Patel")
    client = _signed_in(money_app, "amina@example.org")
    page = get_page(client, f"/people/{amina}/transactions?period=all&category=travel")
    categories = {row.select("td")[2].get_text(strip=True) for row in page.soup.select("[data-transactions] tbody tr")}
    assert categories == {"Travel"}
    page = get_page(client, f"/people/{amina}/transactions?period=all&needs=receipt")
    receipts = {row.select("td")[5].get_text(" ", strip=True) for row in page.soup.select("[data-transactions] tbody tr")}
    assert receipts and all(r.startswith(("Add receipt", "Missing")) for r in receipts)


def test_transactions_htmx_returns_only_the_results(money_app):
    amina = person_id(money_app, "Amina", "Patel")
    client = _signed_in(money_app, "amina@example.org")
    response = client.get(f"/people/{amina}/transactions?period=4w", headers={"HX-Request": "true"})
    assert response.status_code == 200 and "<html" not in response.text and "data-transactions" in response.text
    assert "HX-Request" in response.headers["Vary"]


def test_keyset_pages_cover_every_transaction_once(money_app):
    amina = person_id(money_app, "Amina", "Patel")
    client = _signed_in(money_app, "amina@example.org")
    url, seen = f"/people/{amina}/transactions?period=all", []
    for _ in range(20):
        page = get_page(client, url)
        seen += [row.select("td")[0].get_text(strip=True) + row.select("td")[1].get_text(strip=True)
                 for row in page.soup.select("[data-transactions] tbody tr")]
        older = page.soup.find("a", string="Older transactions")
        if older is None:
            break
        url = older["href"]
    with money_app.app_context():
        count = db.session.scalar(sa.select(sa.func.count()).where(LedgerEntry.account_id == _account_id(money_app, amina)))
    assert len(seen) == count


def test_a_bad_paging_key_is_a_400_not_a_crash(money_app):
    amina = person_id(money_app, "Amina", "Patel")
    client = _signed_in(money_app, "amina@example.org")
    assert client.get(f"/people/{amina}/transactions?before=not-a-date:x").status_code == 400


def test_explaining_a_flagged_payment_keeps_the_history_and_is_audited(money_app):
    amina = person_id(money_app, "Amina", "Patel")
    entry_id = _flagged_cash_withdrawal(money_app, amina)
    client = _signed_in(money_app, "amina@example.org")
    page = get_page(client, f"/people/{amina}/transactions?period=4w&needs=explanation")
    assert page.soup.find("a", href=f"/people/{amina}/transactions/{entry_id}/explain")
    explain = get_page(client, f"/people/{amina}/transactions/{entry_id}/explain")
    assert "cash withdrawal" in explain.text.lower()
    empty = client.post(f"/people/{amina}/transactions/{entry_id}/explain", data={"csrf_token": csrf_token(explain.text), "explanation": ""})
    assert "Enter what this payment was for" in empty.text
    response = client.post(f"/people/{amina}/transactions/{entry_id}/explain",
                           data={"csrf_token": csrf_token(explain.text), "explanation": "Cash for a swimming lesson"})
    assert response.status_code == 302
    with money_app.app_context():
        state = db.session.get(EntryState, entry_id)
        assert state.explanation == "Cash for a swimming lesson" and not state.needs_explanation
        history = db.session.scalars(sa.select(EntryAnnotation.note).where(EntryAnnotation.entry_id == entry_id).order_by(EntryAnnotation.id)).all()
        assert history == ["as first recorded", "explained"]
        assert db.session.scalar(sa.select(AuditEvent.id).where(AuditEvent.action == "transaction.explained", AuditEvent.record_id == str(entry_id)))
        entry = db.session.get(LedgerEntry, entry_id)
        assert entry.amount_pence == -10000, "the movement itself never changes"


def test_unflagged_payments_have_no_explain_page(money_app):
    amina = person_id(money_app, "Amina", "Patel")
    client = _signed_in(money_app, "amina@example.org")
    with money_app.app_context():
        entry_id = db.session.scalar(sa.select(LedgerEntry.id).where(LedgerEntry.account_id == _account_id(money_app, amina)).limit(1))
    assert client.get(f"/people/{amina}/transactions/{entry_id}/explain").status_code == 404


def test_view_level_representative_can_read_but_not_change(money_app):
    sam = person_id(money_app, "Sam", "Okafor")
    entry_id = _flagged_cash_withdrawal(money_app, sam)
    client = _signed_in(money_app, "david@example.org")
    page = get_page(client, f"/people/{sam}/transactions?period=4w")
    assert "You can view Sam Okafor's direct payment" in page.soup.select_one("[data-capacity]").get_text()
    assert not page.soup.find("a", string=lambda s: s and s.startswith("Explain"))
    assert client.get(f"/people/{sam}/transactions/{entry_id}/explain").status_code == 404
    response = post_form(client, f"/people/{sam}/transactions/{entry_id}/explain", {"explanation": "x"}, page_url=f"/people/{sam}/money")
    assert response.status_code == 404
    with money_app.app_context():
        assert db.session.get(EntryState, entry_id).explanation == ""


def test_a_payment_of_someone_else_is_not_found_through_my_url(money_app):
    amina, tom = person_id(money_app, "Amina", "Patel"), person_id(money_app, "Tom", "Hughes")
    entry_id = _flagged_cash_withdrawal(money_app, tom)
    client = _signed_in(money_app, "amina@example.org")
    assert client.get(f"/people/{amina}/transactions/{entry_id}/explain").status_code == 404


@pytest.mark.parametrize("email, who, status", [
    ("omar@harbour.example", ("Amina", "Patel"), 404),
    ("kim@brightpath.example", ("Grace", "Okafor"), 404),
    ("rachel@northfield.example", ("Amina", "Patel"), 200),
    ("rachel@northfield.example", ("Ellen", "Marsh"), 404),
    ("omar@harbour.example", ("Ellen", "Marsh"), 200),
    ("admin@example.org", ("Amina", "Patel"), 403),
    ("sophie.pa@example.org", ("Amina", "Patel"), 403),
])
def test_money_pages_follow_the_access_rule(money_app, email, who, status):
    pid = person_id(money_app, *who)
    client = _signed_in(money_app, email)
    for page in ("money", "transactions"):
        assert client.get(f"/people/{pid}/{page}").status_code == status


def test_my_money_and_transactions_take_a_fixed_number_of_queries(money_app):
    """No query per row: the count does not grow with the number of transactions."""
    amina = person_id(money_app, "Amina", "Patel")
    client = _signed_in(money_app, "amina@example.org")
    counts = {}
    engine_holder = {}

    def count(*_args, **_kwargs):
        counts["n"] = counts.get("n", 0) + 1

    with money_app.app_context():
        engine_holder["engine"] = db.engine
    sa.event.listen(engine_holder["engine"], "before_cursor_execute", count)
    try:
        measured = {}
        for url in (f"/people/{amina}/money", f"/people/{amina}/transactions?period=4w", f"/people/{amina}/transactions?period=all"):
            counts["n"] = 0
            client.get(url)
            measured[url] = counts["n"]
    finally:
        sa.event.remove(engine_holder["engine"], "before_cursor_execute", count)
    # About 28 today: the page's summary, plan, contacts, managed-account payments and session; a fixed
    # number, whatever the history.
    assert measured[f"/people/{amina}/money"] <= 31
    assert measured[f"/people/{amina}/transactions?period=4w"] == measured[f"/people/{amina}/transactions?period=all"]
