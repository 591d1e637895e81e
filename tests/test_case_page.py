"""The case page (issue 6): /people/<id>/case, everything about one person in one place.

Who: DPSS staff and council officers, each only for the people in their scope (a caseworker their own
cases, a manager their organisation's, a council officer the people their council funds): anyone else's
case is 404. Recipients, representatives, PAs and the administrator get 403.
What: each card shows this person's data (checked against SQL written here, not the code under test),
the newest few rows with a "View all" link to the full page, and the page takes the same number of
queries however many ledger entries the person has.
"""

from datetime import date, timedelta

import pytest
import sqlalchemy as sa

from portal.extensions import db
from portal.models import (
    AuditEvent,
    CaseloadEntry,
    CaseNote,
    CaseSetup,
    DPAccount,
    EntryKind,
    EntrySource,
    EntryState,
    Evidence,
    ExcessBalanceReview,
    LedgerEntry,
    Person,
    ReviewStatus,
    Role,
    SupportLine,
    SupportPlan,
    Timesheet,
    TimesheetDocument,
    TimesheetStatus,
    User,
)
from portal.services import ledger
from portal.services.clock import london_today
from portal.web import format_pounds
from tests.conftest import get_page, sign_in

KIM, LEE, OMAR, RACHEL = "kim@brightpath.example", "lee@brightpath.example", "omar@harbour.example", "rachel@northfield.example"
ADMIN = "admin@example.org"


def _signed_in(app, email):
    client = app.test_client()
    sign_in(client, email)
    return client


def _people(app) -> dict[str, int]:
    with app.app_context():
        return {f"{g} {f}": pid for pid, g, f in db.session.execute(sa.select(Person.id, Person.given_name, Person.family_name))}


def _section(page, name: str):
    section = page.soup.select_one(f"[data-section='{name}']")
    assert section is not None, f"no {name} section"
    return section


def _rows(section) -> dict[str, str]:
    """Summary-list rows of a card: key text -> value text."""
    return {row.select_one("dt").get_text(" ", strip=True): row.select_one("dd").get_text(" ", strip=True)
            for row in section.select(".govuk-summary-list__row")}


def _card_links(section) -> dict[str, str]:
    """The card's own actions: link text (without the hidden card name) -> href."""
    links = {}
    for a in section.select(".govuk-summary-card__title-wrapper a"):
        for hidden in a.select(".govuk-visually-hidden"):
            hidden.extract()
        links[a.get_text(strip=True)] = a["href"]
    return links


def _case(app, email, person_id, status=200):
    return get_page(_signed_in(app, email), f"/people/{person_id}/case", status=status)


def _account_ids(person_id: int) -> list[int]:
    return list(db.session.scalars(sa.select(DPAccount.id).where(DPAccount.recipient_id == person_id)))


# Each section shows this person's data ---------------------------------------------------------------


def test_kim_sees_toms_case_headlines_from_his_own_records(money_app):
    tom = _people(money_app)["Tom Hughes"]
    client = _signed_in(money_app, KIM)
    page = get_page(client, f"/people/{tom}/case")
    assert page.soup.h1.get_text(strip=True) == "Tom Hughes's case"
    assert page.soup.title.string.strip().startswith("Tom Hughes's case")
    back = page.soup.select_one(".govuk-back-link")
    assert back["href"] == "/caseload"
    nav = page.soup.select_one("nav[aria-label=\"Tom Hughes's record\"]")
    first = nav.select_one("a")
    assert first.get_text(strip=True) == "Case" and first["aria-current"] == "page"

    case = _rows(_section(page, "case"))
    assert case["Caseworker"] == "Kim Bell"
    assert case["Support service"] == "Brightpath Support"
    assert case["Funded by"] == "Northfield City Council"

    with money_app.app_context():
        accounts = _account_ids(tom)
        balance = db.session.scalar(sa.select(sa.func.sum(LedgerEntry.amount_pence)).where(LedgerEntry.account_id.in_(accounts)))
        newest = list(db.session.scalars(
            sa.select(LedgerEntry.id).where(LedgerEntry.account_id.in_(accounts))
            .order_by(LedgerEntry.entry_date.desc(), LedgerEntry.id.desc()).limit(10)))
        receipts = db.session.scalar(sa.select(sa.func.count()).select_from(EntryState).where(
            EntryState.account_id.in_(accounts), EntryState.needs_evidence.is_(True)))
        explanations = db.session.scalar(sa.select(sa.func.count()).select_from(EntryState).where(
            EntryState.account_id.in_(accounts), EntryState.needs_explanation.is_(True)))
        plan = db.session.scalar(sa.select(SupportPlan).where(SupportPlan.recipient_id == tom, SupportPlan.effective_from <= london_today())
                                 .order_by(SupportPlan.effective_from.desc()).limit(1))
        lines = list(db.session.scalars(sa.select(SupportLine.description).where(SupportLine.plan_id == plan.id)))
        waiting = db.session.scalar(sa.select(sa.func.count()).select_from(Timesheet).where(
            Timesheet.employer_id == tom, Timesheet.status.in_([TimesheetStatus.SUBMITTED, TimesheetStatus.AWAITING_KEYING])))
        sheets = list(db.session.scalars(
            sa.select(Timesheet.id).where(Timesheet.employer_id == tom, Timesheet.status != TimesheetStatus.SUPERSEDED)
            .order_by(Timesheet.period_start.desc(), Timesheet.id.desc()).limit(5)))

    money = _section(page, "money")
    assert _rows(money)["Balance"] == format_pounds(balance)
    assert "Brightpath Support" in _rows(money)["How the money is held"]
    assert _card_links(money)["View all"] == f"/people/{tom}/money"

    plan_rows = _rows(_section(page, "plan"))
    assert lines and all(line in plan_rows for line in lines)

    assert "No one acts for Tom Hughes" in _section(page, "representatives").get_text()
    employer = _section(page, "employer")
    assert "Leon Baptiste" in _rows(employer)
    assert "Employer's liability insurance" in _rows(employer)
    assert _card_links(employer)["View all"] == f"/people/{tom}/pas"

    transactions = _section(page, "transactions")
    assert [int(tr["data-entry"]) for tr in transactions.select("tr[data-entry]")] == newest
    assert _card_links(transactions)["View all"] == f"/people/{tom}/transactions?period=all"

    gaps = _section(page, "evidence")
    assert receipts >= 1  # the demo's spend line missing its receipt
    assert gaps.select_one("[data-count='receipts']").get_text(strip=True) == str(receipts)
    assert gaps.select_one("[data-count='explanations']").get_text(strip=True) == str(explanations)
    assert len(gaps.select("tr[data-entry]")) == min(5, receipts + explanations)
    assert "Receipt missing" in gaps.get_text()

    timesheets = _section(page, "timesheets")
    assert waiting == 1
    assert timesheets.select_one("[data-count='waiting']").get_text(" ", strip=True).startswith("1")
    assert [int(tr["data-timesheet"]) for tr in timesheets.select("tr[data-timesheet]")] == sheets
    assert _card_links(timesheets)["View all"] == f"/people/{tom}/timesheets"
    assert "Waiting for approval" in timesheets.get_text()

    # Every "View all" leads to a page Kim may open.
    for name in ("money", "plan", "employer", "transactions", "timesheets", "excess", "notes", "concerns"):
        for text, href in _card_links(_section(page, name)).items():
            assert client.get(href).status_code == 200, f"{name}: {text} -> {href}"


def test_omar_sees_graces_representative_and_her_open_excess_reviews(money_app):
    grace = _people(money_app)["Grace Okafor"]
    page = _case(money_app, OMAR, grace)
    reps = _rows(_section(page, "representatives"))
    assert reps["David Okafor"].startswith("Authorised person, can manage, since")
    with money_app.app_context():
        reviews = db.session.execute(
            sa.select(ExcessBalanceReview.id, ExcessBalanceReview.status)
            .join(DPAccount, DPAccount.id == ExcessBalanceReview.account_id).where(DPAccount.recipient_id == grace)).all()
    still_open = {rid for rid, status in reviews if status in (ReviewStatus.OPEN, ReviewStatus.PROPOSED)}
    assert still_open  # the demo's review waiting for Omar
    excess = _section(page, "excess")
    rows = _rows(excess)
    opened = [key for key in rows if key.startswith("From ")]
    assert len(opened) == len(still_open)
    assert all("To review" in rows[key] for key in opened)
    assert {int(a["href"].rsplit("/", 1)[1]) for a in excess.select(".govuk-summary-list__actions a")} == still_open
    assert _card_links(excess)[f"View all {len(reviews)}"] == f"/people/{grace}/excess-reviews"
    for a in excess.select(".govuk-summary-list__actions a"):
        assert a["href"].startswith(f"/people/{grace}/excess-reviews/")


def test_kim_sees_aminas_notes_documents_and_duties(money_app):
    amina = _people(money_app)["Amina Patel"]
    client = _signed_in(money_app, KIM)
    page = get_page(client, f"/people/{amina}/case")
    with money_app.app_context():
        accounts = _account_ids(amina)
        notes = db.session.scalar(sa.select(sa.func.count()).select_from(CaseNote).where(CaseNote.recipient_id == amina))
        receipts = db.session.scalar(sa.select(sa.func.count()).select_from(Evidence)
                                     .join(LedgerEntry, LedgerEntry.id == Evidence.entry_id).where(LedgerEntry.account_id.in_(accounts)))
        sheet_docs = db.session.scalar(sa.select(sa.func.count()).select_from(TimesheetDocument)
                                       .join(Timesheet, Timesheet.id == TimesheetDocument.timesheet_id).where(Timesheet.employer_id == amina))
    notes_card = _section(page, "notes")
    assert notes_card.select_one(".govuk-summary-card__title").get_text(strip=True) == f"Case notes ({notes})"
    assert len(notes_card.select(".govuk-summary-list__row")) == min(3, notes)
    assert _card_links(notes_card)["View all and add a note"] == f"/people/{amina}/notes"

    documents = _section(page, "documents")
    assert receipts and sheet_docs
    assert documents.select_one(".govuk-summary-card__title").get_text(strip=True) == f"Documents on file ({receipts + sheet_docs})"
    rows = documents.select("tr[data-document]")
    assert 0 < len(rows) <= 6
    for row in rows:  # each link serves the file to Kim
        href = row.select_one("a")["href"]
        assert href.startswith((f"/people/{amina}/evidence/", "/timesheets/")), href
        response = client.get(href)
        assert response.status_code == 200, href
        assert response.headers["Content-Disposition"].startswith("attachment")

    employer = _rows(_section(page, "employer"))
    assert "Sophie Clarke" in employer and "Joan Price" in employer


def test_a_closed_case_says_so(money_app):
    tom = _people(money_app)["Tom Hughes"]
    with money_app.app_context():
        db.session.execute(sa.update(CaseloadEntry).where(CaseloadEntry.recipient_id == tom)
                           .values(closed_on=date(2026, 11, 1), closed_reason="moved out of the area"))
        db.session.commit()
    page = _case(money_app, LEE, tom)
    assert "This case was closed on 1 November 2026: moved out of the area" in page.soup.select_one("[data-closed]").get_text(" ", strip=True)
    assert _rows(_section(page, "lifecycle"))["Closed"] == "1 November 2026: moved out of the area"


def test_the_set_up_steps_show_their_dates_and_the_set_up_time(money_app):
    sam = _people(money_app)["Sam Okafor"]
    with money_app.app_context():
        db.session.execute(sa.delete(CaseSetup).where(CaseSetup.recipient_id == sam))
        db.session.add(CaseSetup(recipient_id=sam, decided_on=date(2026, 9, 1), agreement_signed_on=date(2026, 9, 10),
                                 account_opened_on=None, first_payment_on=date(2026, 10, 1)))
        db.session.commit()
    section = _section(_case(money_app, KIM, sam), "lifecycle")
    rows = _rows(section)
    assert rows["Council decided on a direct payment"] == "1 September 2026"
    assert rows["Direct payment agreement signed"] == "10 September 2026"
    assert rows["Account or card opened"] == "Not done yet"
    assert rows["Set-up time"] == "30 days from the decision to the first payment"
    assert _card_links(section)["View all"] == f"/people/{sam}/set-up"
    assert "Close the case" in _card_links(section) and "Move" not in _card_links(section)  # Kim is not a manager


def test_a_staff_view_of_the_case_page_is_audited(money_app):
    tom = _people(money_app)["Tom Hughes"]
    _case(money_app, RACHEL, tom)
    with money_app.app_context():
        rachel = db.session.scalar(sa.select(User.id).where(User.email == RACHEL))
        assert db.session.scalar(sa.select(sa.func.count()).select_from(AuditEvent).where(
            AuditEvent.action == "recipient.viewed", AuditEvent.user_id == rachel, AuditEvent.record_id == str(tom))) >= 1


# Scope -----------------------------------------------------------------------------------------------


def test_omar_never_sees_brightpaths_cases_and_kim_never_harbours(money_app):
    people = _people(money_app)
    omar = _signed_in(money_app, OMAR)
    for name in ("Amina Patel", "Tom Hughes", "Sam Okafor"):
        response = omar.get(f"/people/{people[name]}/case")
        assert response.status_code == 404, name
        assert name not in response.text
    for name in ("Grace Okafor", "Ellen Marsh"):
        assert omar.get(f"/people/{people[name]}/case").status_code == 200
    kim = _signed_in(money_app, KIM)
    for name in ("Grace Okafor", "Ellen Marsh"):
        assert kim.get(f"/people/{people[name]}/case").status_code == 404


def test_rachel_sees_northfields_people_across_providers_and_never_ellen(money_app):
    people = _people(money_app)
    rachel = _signed_in(money_app, RACHEL)
    response = rachel.get(f"/people/{people['Ellen Marsh']}/case")
    assert response.status_code == 404 and "Ellen" not in response.text
    for name in ("Amina Patel", "Tom Hughes", "Grace Okafor"):
        assert rachel.get(f"/people/{people[name]}/case").status_code == 200, name


def test_a_caseworker_sees_only_their_own_cases_and_the_manager_all(money_app):
    sam = _people(money_app)["Sam Okafor"]
    tom = _people(money_app)["Tom Hughes"]
    with money_app.app_context():
        kim = db.session.scalar(sa.select(User).where(User.email == KIM))
        colleague = User(email="priya@brightpath.example", display_name="Priya Shah", role=Role.DPSS_CASEWORKER,
                         organisation_id=kim.organisation_id, password_hash=kim.password_hash, totp_secret=kim.totp_secret)
        db.session.add(colleague)
        db.session.flush()
        db.session.execute(sa.update(CaseloadEntry).where(CaseloadEntry.recipient_id == sam).values(caseworker_id=colleague.id))
        db.session.commit()
    assert _signed_in(money_app, KIM).get(f"/people/{sam}/case").status_code == 404
    priya = _signed_in(money_app, "priya@brightpath.example")
    page = get_page(priya, f"/people/{sam}/case")
    assert _rows(_section(page, "case"))["Caseworker"] == "Priya Shah"
    assert priya.get(f"/people/{tom}/case").status_code == 404
    assert _signed_in(money_app, LEE).get(f"/people/{sam}/case").status_code == 200


@pytest.mark.parametrize("email", ["amina@example.org", "grace@example.org", "david@example.org", "tom@example.org",
                                   "sophie.pa@example.org", "jay.pa@example.org", "ellen@example.org", ADMIN])
def test_recipients_representatives_pas_and_the_administrator_are_refused(money_app, email):
    people = _people(money_app)
    client = _signed_in(money_app, email)
    for name in ("Amina Patel", "Grace Okafor", "Sam Okafor", "Tom Hughes"):
        assert client.get(f"/people/{people[name]}/case").status_code == 403, name


def test_signed_out_visitors_are_asked_to_sign_in(money_app):
    tom = _people(money_app)["Tom Hughes"]
    response = money_app.test_client().get(f"/people/{tom}/case")
    assert response.status_code == 302 and "/sign-in" in response.headers["Location"]


def test_the_case_link_is_in_the_person_nav_for_staff_only(money_app):
    amina = _people(money_app)["Amina Patel"]
    staff = get_page(_signed_in(money_app, KIM), f"/people/{amina}")
    assert staff.soup.select_one("nav[aria-label=\"Amina Patel's record\"] a")["href"] == f"/people/{amina}/case"
    own = get_page(_signed_in(money_app, "amina@example.org"), f"/people/{amina}")
    assert not own.soup.select(f"a[href='/people/{amina}/case']")


# A fixed number of queries ---------------------------------------------------------------------------


def _queries_for(app, client, url) -> int:
    with app.app_context():
        engine = db.engine
    statements = []

    def count(conn, cursor, statement, parameters, context, executemany):
        statements.append(statement)

    sa.event.listen(engine, "before_cursor_execute", count)
    try:
        response = client.get(url)
        assert response.status_code == 200
    finally:
        sa.event.remove(engine, "before_cursor_execute", count)
    return len(statements)


def _add_entries(app, person_id: int, count: int, start: int) -> None:
    """More of every kind of entry on the person's account: spend needing receipts, flagged spend, spend with
    a receipt on file, payments in, and case notes."""
    today = london_today()
    with app.app_context():
        account = _account_ids(person_id)[0]
        author = db.session.scalar(sa.select(User).where(User.email == KIM))
        for n in range(start, start + count):
            day = today - timedelta(days=n % 20)
            spend = ledger.post(account_id=account, kind=EntryKind.SPEND, amount_pence=-(500 + n), entry_date=day,
                                source=EntrySource.CARD_IMPORT, payee=f"Shop {n}", external_id=f"case-page-{n}",
                                flags=["cash withdrawal"] if n % 3 == 0 else ())
            if n % 4 == 0:
                db.session.add(Evidence(entry_id=spend.id, storage_name=f"case-page-{n}", sha256="0" * 64,
                                        content_type="application/pdf", size_bytes=10, display_name=f"receipt-{n}.pdf"))
                db.session.get(EntryState, spend.id).evidence_count = 1
                db.session.get(EntryState, spend.id).needs_evidence = False
            ledger.post(account_id=account, kind=EntryKind.CONTRIBUTION, amount_pence=100, entry_date=day,
                        source=EntrySource.MANUAL, payee=f"Payer {n}")
            db.session.add(CaseNote(recipient_id=person_id, author_id=author.id, organisation_id=author.organisation_id,
                                    body=f"Note {n}"))
        db.session.commit()


def test_the_case_page_takes_the_same_number_of_queries_however_many_entries(money_app):
    tom = _people(money_app)["Tom Hughes"]
    url = f"/people/{tom}/case"
    kim = _signed_in(money_app, KIM)
    _add_entries(money_app, tom, 3, 0)  # one of each kind, so every section has rows
    get_page(kim, url)  # warm up whatever is loaded once
    few = _queries_for(money_app, kim, url)
    _add_entries(money_app, tom, 120, 3)
    many = _queries_for(money_app, kim, url)
    assert many == few
    page = get_page(kim, url)
    assert len(_section(page, "transactions").select("tr[data-entry]")) == 10
    assert len(_section(page, "evidence").select("tr[data-entry]")) == 5
    assert len(_section(page, "notes").select(".govuk-summary-list__row")) == 3
    assert len(_section(page, "documents").select("tr[data-document]")) == 6
    with money_app.app_context():
        newest = list(db.session.scalars(
            sa.select(LedgerEntry.id).where(LedgerEntry.account_id.in_(_account_ids(tom)))
            .order_by(LedgerEntry.entry_date.desc(), LedgerEntry.id.desc()).limit(10)))
        receipts = db.session.scalar(sa.select(sa.func.count()).select_from(EntryState).where(
            EntryState.account_id.in_(_account_ids(tom)), EntryState.needs_evidence.is_(True)))
    assert [int(tr["data-entry"]) for tr in _section(page, "transactions").select("tr[data-entry]")] == newest
    assert _section(page, "evidence").select_one("[data-count='receipts']").get_text(strip=True) == str(receipts)


def test_a_person_with_no_money_and_no_support_service_yet(app):
    """The council's view of someone not yet on a caseload, before any budget or account: every card says so."""
    tom = _people(app)["Tom Hughes"]
    with app.app_context():
        db.session.execute(sa.delete(CaseloadEntry).where(CaseloadEntry.recipient_id == tom))
        db.session.commit()
        assert not _account_ids(tom)
    page = _case(app, RACHEL, tom)
    case = _rows(_section(page, "case"))
    assert case["Support service"] == "None" and case["Caseworker"] == "Not assigned"
    assert _rows(_section(page, "money")) == {"Direct payment": "No account or budget recorded yet"}
    assert "No transactions yet" in _section(page, "transactions").get_text()
    assert _section(page, "evidence").select_one("[data-count='receipts']").get_text(strip=True) == "0"
    assert "Documents on file (0)" in _section(page, "documents").get_text()
    # Without a caseload entry no DPSS sees Tom at all.
    assert _signed_in(app, KIM).get(f"/people/{tom}/case").status_code == 404
