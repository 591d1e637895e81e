"""DPSS work queues: /work (the signed-in member of staff's queue) and /work/organisation (counts per caseworker).

Who: DPSS staff only (council officers, PAs, recipients, representatives and the administrator 403).
What: only their own organisation's cases, a caseworker only their own (as access.visible_recipients),
a manager every case or, with ?caseworker=, one of their own organisation's staff's. Counts equal the
lists, every row names the person and links to where the item is resolved, and the page takes the same
number of queries however much work there is.
"""

from datetime import UTC, date, datetime, timedelta

import pytest
import sqlalchemy as sa
from bs4 import BeautifulSoup
from flask import url_for

from portal.access import visible_recipients
from portal.extensions import db
from portal.models import (
    CaseloadEntry,
    DPAccount,
    EmployerInsurance,
    Employment,
    ExcessBalanceReview,
    ExcessProposal,
    ExpectedItem,
    ExpectedKind,
    ExpectedStatus,
    Organisation,
    Person,
    Recipient,
    ReviewStatus,
    Role,
    SafeguardingConcern,
    SupportReason,
    Timesheet,
    TimesheetStatus,
    User,
)
from portal.models.register import ContactRequest, RegisterConcern, VerificationRequest
from portal.services import employments
from portal.services import work_queues as service
from portal.services.clock import london_today
from portal.web.work_queues import views
from tests.conftest import get_page, sign_in

KIM, LEE, OMAR = "kim@brightpath.example", "lee@brightpath.example", "omar@harbour.example"
BRIGHTPATH_PEOPLE = ("Amina Patel", "Tom Hughes", "Sam Okafor")
HARBOUR_PEOPLE = ("Grace Okafor", "Ellen Marsh")


def _signed_in(app, email):
    client = app.test_client()
    sign_in(client, email)
    return client


def _counts(page) -> dict[str, int]:
    """Kind slug -> the number the summary table shows."""
    return {cell["data-count"]: int(cell.get_text(strip=True).split()[0]) for cell in page.soup.select("[data-counts] td[data-count]")}


def _items(page, slug: str) -> list[dict]:
    """The rows listed for one kind: person (or PA) named, what, and the action's link."""
    rows = []
    for tr in page.soup.select(f"table[data-kind='{slug}'] tr[data-item]"):
        cells = tr.select("td")
        link = tr.select_one("a")
        rows.append({"who": cells[0].get_text(strip=True), "what": cells[1].get_text(" ", strip=True),
                     "person": tr["data-person"], "record": tr["data-record"], "href": link["href"]})
    return rows


def _ids(app):
    with app.app_context():
        people = {f"{g} {f}": pid for pid, g, f in db.session.execute(sa.select(Person.id, Person.given_name, Person.family_name))}
        orgs = {name: oid for oid, name in db.session.execute(sa.select(Organisation.id, Organisation.name))}
        users = {email: uid for uid, email in db.session.execute(sa.select(User.id, User.email))}
        pending = {status: db.session.scalar(sa.select(Timesheet.id).where(Timesheet.status == status)
                                             .order_by(Timesheet.period_start.desc()).limit(1))
                   for status in (TimesheetStatus.SUBMITTED, TimesheetStatus.AWAITING_KEYING)}
        account = {name: db.session.scalar(sa.select(DPAccount.id).where(DPAccount.recipient_id == people[name]))
                   for name in (*BRIGHTPATH_PEOPLE, *HARBOUR_PEOPLE)}
    return people, orgs, users, pending, account


def _add_caseworker(app, given="Priya", family="Shah", email="priya@brightpath.example") -> int:
    """A second Brightpath caseworker (Kim's password and authenticator, so the test can sign in)."""
    with app.app_context():
        kim = db.session.scalar(sa.select(User).where(User.email == KIM))
        user = User(email=email, display_name=f"{given} {family}", role=Role.DPSS_CASEWORKER, organisation_id=kim.organisation_id,
                    password_hash=kim.password_hash, totp_secret=kim.totp_secret)
        db.session.add(user)
        db.session.commit()
        return user.id


def _assign(app, recipient_id: int, caseworker_id: int | None) -> None:
    with app.app_context():
        db.session.execute(sa.update(CaseloadEntry).where(CaseloadEntry.recipient_id == recipient_id).values(caseworker_id=caseworker_id))
        db.session.commit()


def _expected_link(app, endpoints, fallback, **values):
    """The link the queue should give: the page where another part of the portal has built it, else the fallback."""
    with app.test_request_context():
        for endpoint in endpoints:
            if endpoint in app.view_functions:
                return url_for(endpoint, **values)
        return url_for(fallback[0], **fallback[1])


def _assert_counts_equal_lists(page):
    counts = _counts(page)
    assert counts, "no counts on the page"
    for slug, number in counts.items():
        assert len(_items(page, slug)) == min(number, service.LIST_SIZE), slug


# Kim: her own cases (Amina, Tom, Sam) ------------------------------------------------------------


def test_kims_queue_shows_the_work_on_her_cases_with_links_to_where_it_is_done(money_app):
    people, orgs, users, pending, account = _ids(money_app)
    page = get_page(_signed_in(money_app, KIM), "/work")
    counts = _counts(page)
    _assert_counts_equal_lists(page)

    # Receipts missing: Amina's two newest and Tom's hand-entered spend, one row per person.
    receipts = {row["who"]: row for row in _items(page, "receipts-missing")}
    assert set(receipts) == {"Amina Patel", "Tom Hughes"}
    assert "2 receipts missing" in receipts["Amina Patel"]["what"]
    assert "1 receipt missing" in receipts["Tom Hughes"]["what"]
    assert receipts["Amina Patel"]["href"] == f"/people/{people['Amina Patel']}/transactions?period=all&needs=receipt"
    # Amina's cash withdrawal waits for her explanation.
    explain = _items(page, "explanations-missing")
    assert [row["who"] for row in explain] == ["Amina Patel"]
    assert explain[0]["href"] == f"/people/{people['Amina Patel']}/transactions?period=all&needs=explanation"

    # Tom's pending timesheet (a managed account: Kim approves it) and Joan's paper one for Brightpath to key in.
    waiting = {row["record"]: row for row in _items(page, "timesheets-waiting")}
    assert set(waiting) == {str(pending[TimesheetStatus.SUBMITTED]), str(pending[TimesheetStatus.AWAITING_KEYING])}
    tom_sheet = waiting[str(pending[TimesheetStatus.SUBMITTED])]
    assert tom_sheet["who"] == "Tom Hughes" and "Leon Baptiste" in tom_sheet["what"] and "Waiting for approval" in tom_sheet["what"]
    assert tom_sheet["href"] == f"/timesheets/{pending[TimesheetStatus.SUBMITTED]}"
    joan_sheet = waiting[str(pending[TimesheetStatus.AWAITING_KEYING])]
    assert joan_sheet["who"] == "Amina Patel" and "Joan Price" in joan_sheet["what"]
    assert joan_sheet["href"] == f"/payroll/timesheets/{pending[TimesheetStatus.AWAITING_KEYING]}/key-in"  # Kim holds payroll

    # Tom's employer's liability insurance runs out within the month.
    insurance = _items(page, "insurance")
    assert [row["who"] for row in insurance] == ["Tom Hughes"]
    assert "Expiring" in insurance[0]["what"] and insurance[0]["href"] == f"/people/{people['Tom Hughes']}/employer-insurance"

    # Kim's request to Jay for Sam is still waiting; Jay is named as the register shows him (not yet in touch).
    with money_app.app_context():
        contact = db.session.scalar(sa.select(ContactRequest.id).where(ContactRequest.recipient_id == people["Sam Okafor"]))
    contacts = _items(page, "contact-requests")
    assert contacts == [{"who": "Sam Okafor", "what": contacts[0]["what"], "person": str(people["Sam Okafor"]),
                         "record": str(contact), "href": f"/register/contacts/{contact}"}]
    assert "Jay S." in contacts[0]["what"] and "Singh" not in contacts[0]["what"]

    # Nothing of Harbour's: not Grace's reviews, not Jay's DBS check (he asked Harbour), no Harbour person.
    assert counts["excess-reviews"] == 0 and counts["checks-to-verify"] == 0
    for name in HARBOUR_PEOPLE:
        assert name not in page.text
    # Reviews and audits due (tests/test_audits.py has the rules): Sam's first review and Tom's first audit are overdue.
    reviews_due = {row["who"]: row["href"] for row in _items(page, "reviews-due")}
    assert reviews_due["Sam Okafor"] == f"/people/{people['Sam Okafor']}/reviews"
    audits_due = {row["who"]: row["href"] for row in _items(page, "audits-due")}
    assert audits_due["Tom Hughes"] == f"/people/{people['Tom Hughes']}/audits"


def test_omars_queue_shows_graces_excess_reviews_and_nothing_of_brightpaths_people(money_app):
    people, orgs, users, pending, account = _ids(money_app)
    page = get_page(_signed_in(money_app, OMAR), "/work")
    _assert_counts_equal_lists(page)
    with money_app.app_context():
        reviews = db.session.scalars(sa.select(ExcessBalanceReview.id).where(
            ExcessBalanceReview.account_id == account["Grace Okafor"], ExcessBalanceReview.status == ReviewStatus.OPEN)
            .order_by(ExcessBalanceReview.cycle_start)).all()
        jay_request = db.session.scalar(sa.select(VerificationRequest.id).where(
            VerificationRequest.provider_id == orgs["Harbour DPSS"], VerificationRequest.answered_at.is_(None)))
    assert len(reviews) == 1, "one review, brought up to date by each payment run while the balance stays high"
    listed = _items(page, "excess-reviews")
    assert [row["record"] for row in listed] == [str(r) for r in reviews]
    assert {row["who"] for row in listed} == {"Grace Okafor"}
    grace = people["Grace Okafor"]
    for row, review in zip(listed, reviews, strict=True):
        assert row["href"] == _expected_link(money_app, views.REVIEW_PAGES, ("money.my_money", {"person_id": grace}),
                                             person_id=grace, review_id=review)
    assert "£2,200.00" in listed[-1]["what"]  # the latest run's figures
    # Jay asked Harbour to verify his DBS check: any Harbour staff may answer it.
    checks = _items(page, "checks-to-verify")
    assert [(row["who"], row["href"]) for row in checks] == [("Jay Singh", f"/register/verifications/{jay_request}")]
    for name in BRIGHTPATH_PEOPLE:
        assert name not in page.text
    # Even a reclaim proposed and a concern about a Brightpath person stay with Brightpath.
    with money_app.app_context():
        db.session.add(SafeguardingConcern(recipient_id=people["Amina Patel"], body="Worried about Amina"))
        db.session.add(RegisterConcern(recipient_id=people["Tom Hughes"], organisation_id=orgs["Harbour DPSS"], body="Odd message"))
        db.session.commit()
    page = get_page(_signed_in(money_app, OMAR), "/work")
    assert _counts(page)["safeguarding"] == 0 and _counts(page)["register-concerns"] == 0
    for name in BRIGHTPATH_PEOPLE:
        assert name not in page.text


def test_every_kind_appears_when_its_data_does_and_leaves_when_it_is_dealt_with(money_app):
    people, orgs, users, pending, account = _ids(money_app)
    today = london_today()
    amina, tom, sam = people["Amina Patel"], people["Tom Hughes"], people["Sam Okafor"]
    with money_app.app_context():
        # Contributions: one overdue and unpaid (arrears), one not yet due, one paid: only the first counts.
        for n, (due, status) in enumerate([(today - timedelta(days=10), ExpectedStatus.OPEN),
                                           (today + timedelta(days=5), ExpectedStatus.OPEN),
                                           (today - timedelta(days=40), ExpectedStatus.SETTLED)]):
            db.session.add(ExpectedItem(account_id=account["Amina Patel"], kind=ExpectedKind.CONTRIBUTION_DUE, amount_pence=2800,
                                        due_date=due, status=status, key=f"test:contribution:{n}"))
        # Sam (a managed account) takes on a PA with no timesheet ever, and his insurance lapsed 10 days ago.
        pa = Person(given_name="Nadia", family_name="Khan")
        db.session.add(pa)
        db.session.flush()
        db.session.add(Employment(pa_id=pa.id, employer_id=sam, start_date=date(2024, 1, 1), day_rate_pence=1300))
        db.session.add(EmployerInsurance(employer_id=sam, insurer="Carewise", policy_number="CW-1", cover_pence=500_000_000,
                                         starts_on=today - timedelta(days=375), expires_on=today - timedelta(days=10)))
        # Safeguarding: one open concern about Amina, one already acknowledged about Tom (and the demo's about Tom).
        raised = SafeguardingConcern(recipient_id=amina, body="Bruises noticed", rule="")
        handled = SafeguardingConcern(recipient_id=tom, body="Handled", acknowledged_at=datetime.now(UTC))
        db.session.add_all([raised, handled])
        # A PA's concern for Brightpath about Amina, unresolved; one resolved.
        db.session.add(RegisterConcern(recipient_id=amina, organisation_id=orgs["Brightpath Support"], body="Asked for cash"))
        db.session.add(RegisterConcern(recipient_id=amina, organisation_id=orgs["Brightpath Support"], body="Old",
                                       resolved_at=datetime.now(UTC)))
        db.session.commit()
        raised_id, handled_id = raised.id, handled.id
        kims = sa.select(CaseloadEntry.recipient_id).where(CaseloadEntry.caseworker_id == users[KIM])
        unacknowledged = {str(i) for i in db.session.scalars(sa.select(SafeguardingConcern.id).where(
            SafeguardingConcern.recipient_id.in_(kims), SafeguardingConcern.acknowledged_at.is_(None)))}
    page = get_page(_signed_in(money_app, KIM), "/work")
    _assert_counts_equal_lists(page)
    counts = _counts(page)

    arrears = _items(page, "contributions-arrears")
    assert [row["who"] for row in arrears] == ["Amina Patel"]
    assert "£28.00 owed" in arrears[0]["what"] and "1 contribution unpaid" in arrears[0]["what"]
    assert arrears[0]["href"] == f"/people/{amina}/money"

    missing = _items(page, "timesheets-missing")
    assert [(row["who"], row["href"]) for row in missing] == [("Sam Okafor", f"/people/{sam}/timesheets")]
    assert "Nadia Khan" in missing[0]["what"]

    insurance = {row["who"]: row for row in _items(page, "insurance")}
    assert set(insurance) == {"Tom Hughes", "Sam Okafor"}
    assert "Lapsed" in insurance["Sam Okafor"]["what"] and "Expiring" in insurance["Tom Hughes"]["what"]

    concerns = {row["record"]: row for row in _items(page, "safeguarding")}
    assert set(concerns) == unacknowledged and str(raised_id) in concerns and str(handled_id) not in concerns
    assert concerns[str(raised_id)]["who"] == "Amina Patel"
    assert concerns[str(raised_id)]["href"] == _expected_link(money_app, ("casework.concerns",), ("recipient.overview", {"person_id": amina}),
                                                 person_id=amina)
    register = _items(page, "register-concerns")
    assert [(row["who"], row["href"]) for row in register] == [("Amina Patel", f"/people/{amina}/case")]  # the case page
    assert counts["reclaims-proposed"] == 0

    # Dealt with: Tom renews his insurance (a policy starting the day after the old one ends), the concern is
    # acknowledged, and Sam's PA's timesheet arrives: each leaves the queue.
    with money_app.app_context():
        old = db.session.scalar(sa.select(EmployerInsurance).where(EmployerInsurance.employer_id == tom))
        db.session.add(EmployerInsurance(employer_id=tom, insurer="Carewise", policy_number="CW-2", cover_pence=500_000_000,
                                         starts_on=old.expires_on + timedelta(days=1), expires_on=old.expires_on + timedelta(days=366)))
        db.session.execute(sa.update(SafeguardingConcern).values(acknowledged_at=datetime.now(UTC)))
        employment = db.session.scalar(sa.select(Employment).where(Employment.employer_id == sam))
        period = service.due_periods(service.calendar_of(orgs["Brightpath Support"]), today)[employment.pay_period]
        db.session.add(Timesheet(employment_id=employment.id, pa_id=employment.pa_id, employer_id=sam, period_start=period.start,
                                 period_end=period.end, status=TimesheetStatus.SUBMITTED))
        db.session.commit()
    page = get_page(_signed_in(money_app, KIM), "/work")
    counts = _counts(page)
    assert counts["timesheets-missing"] == 0 and counts["safeguarding"] == 0
    assert [row["who"] for row in _items(page, "insurance")] == ["Sam Okafor"]
    # Sam's new timesheet now waits for Kim's approval (a managed account).
    assert str(sam) in {row["person"] for row in _items(page, "timesheets-waiting")}


def test_a_reclaim_proposed_moves_from_reviews_to_waiting_for_the_council(money_app):
    people, orgs, users, pending, account = _ids(money_app)
    with money_app.app_context():
        review = db.session.scalar(sa.select(ExcessBalanceReview).where(ExcessBalanceReview.account_id == account["Grace Okafor"])
                                   .order_by(ExcessBalanceReview.cycle_start.desc()).limit(1))
        review.status, review.proposal, review.proposed_pence = ReviewStatus.PROPOSED, ExcessProposal.RECLAIM_PART, 150000
        review.proposed_at, review.proposed_by_id = datetime.now(UTC), users[OMAR]
        review_id = review.id
        db.session.commit()
    page = get_page(_signed_in(money_app, OMAR), "/work")
    counts = _counts(page)
    assert counts["excess-reviews"] == 0 and counts["reclaims-proposed"] == 1
    proposed = _items(page, "reclaims-proposed")
    assert proposed[0]["record"] == str(review_id) and "£1,500.00" in proposed[0]["what"] and "Reclaim part" in proposed[0]["what"]


def test_every_kind_has_a_query_a_link_and_an_action():
    assert set(service.QUERIES) | {service.INSURANCE} == set(service.BY_SLUG) == set(views.ACTIONS)


def test_insurance_in_the_queue_is_what_the_employers_duties_say(money_app):
    """The queue decides from policies loaded for every candidate at once; the employer's duty page decides one
    employer at a time (services.employments.insurance_duty). They agree, employer by employer."""
    people, orgs, users, pending, account = _ids(money_app)
    today = london_today()
    with money_app.app_context():
        sam, amina = people["Sam Okafor"], people["Amina Patel"]
        pa = Person(given_name="Nadia", family_name="Khan")
        db.session.add(pa)
        db.session.flush()
        db.session.add(Employment(pa_id=pa.id, employer_id=sam, start_date=date(2024, 1, 1)))
        db.session.add(EmployerInsurance(employer_id=sam, insurer="A", policy_number="1", cover_pence=500_000_000,
                                         starts_on=today - timedelta(days=400), expires_on=today - timedelta(days=1)))
        # Amina: cover that ends in 10 days but too small now that not every PA is a close relative (a different duty).
        db.session.add(EmployerInsurance(employer_id=amina, insurer="B", policy_number="2", cover_pence=100_000,
                                         starts_on=today - timedelta(days=30), expires_on=today + timedelta(days=10)))
        db.session.commit()
        for org in ("Brightpath Support", "Harbour DPSS"):
            ctx = service.context(orgs[org], today)
            queued = {recipient: cover.state for recipient, _worker, cover in service._insurance(service.Scope(orgs[org]), ctx)}
            cases = db.session.scalars(sa.select(CaseloadEntry.recipient_id).where(CaseloadEntry.provider_id == orgs[org])).all()
            for recipient in cases:
                state = employments.insurance_duty(recipient, today).state
                expected = {employments.DutyState.EXPIRING: "expiring", employments.DutyState.EXPIRED: "lapsed"}.get(state)
                assert queued.get(recipient) == expected, (recipient, state)
        assert service._insurance(service.Scope(orgs["Brightpath Support"]), service.context(orgs["Brightpath Support"], today))


# Caseworkers and managers -----------------------------------------------------------------------


def test_a_caseworker_never_sees_a_colleagues_cases_and_a_manager_sees_every_one(money_app):
    people, orgs, users, pending, account = _ids(money_app)
    priya = _add_caseworker(money_app)
    _assign(money_app, people["Tom Hughes"], priya)

    kim = _signed_in(money_app, KIM)
    kim_page = get_page(kim, "/work")
    assert "Tom Hughes" not in kim_page.text
    assert str(pending[TimesheetStatus.SUBMITTED]) not in {row["record"] for row in _items(kim_page, "timesheets-waiting")}
    assert [row["who"] for row in _items(kim_page, "receipts-missing")] == ["Amina Patel"]
    for slug in service.BY_SLUG:  # nor on any "View all" page
        assert "Tom Hughes" not in get_page(kim, f"/work?kind={slug}").text, slug

    priya_client = _signed_in(money_app, "priya@brightpath.example")
    priya_page = get_page(priya_client, "/work")
    _assert_counts_equal_lists(priya_page)
    assert {row["who"] for kind in service.BY_SLUG for row in _items(priya_page, kind) if not service.BY_SLUG[kind].organisation_wide} == {"Tom Hughes"}
    for name in ("Amina Patel", "Sam Okafor", *HARBOUR_PEOPLE):
        assert name not in priya_page.text
    # A caseworker may not look at a colleague's queue (only at their own).
    assert kim.get(f"/work?caseworker={priya}").status_code == 403
    assert priya_client.get(f"/work?caseworker={users[KIM]}").status_code == 403
    assert kim.get(f"/work?caseworker={users[KIM]}").status_code == 200

    # Lee (manager): every Brightpath case, each row naming its caseworker; or one caseworker's.
    lee = _signed_in(money_app, LEE)
    everything = get_page(lee, "/work")
    assert {row["who"] for row in _items(everything, "receipts-missing")} == {"Amina Patel", "Tom Hughes"}
    assert "Priya Shah" in everything.text and "Kim Bell" in everything.text
    only_priya = get_page(lee, f"/work?caseworker={priya}")
    assert _counts(only_priya) == _counts(priya_page)
    assert "Amina Patel" not in only_priya.text
    only_kim = get_page(lee, f"/work?caseworker={users[KIM]}")
    assert _counts(only_kim) == _counts(get_page(kim, "/work"))
    # Another organisation's member of staff, or no one: not found.
    assert lee.get(f"/work?caseworker={users[OMAR]}").status_code == 404
    assert lee.get(f"/work?caseworker={users['amina@example.org']}").status_code == 404
    assert lee.get("/work?caseworker=999999").status_code == 404
    assert lee.get("/work?caseworker=someone").status_code == 404
    # Cases nobody holds.
    _assign(money_app, people["Sam Okafor"], None)
    nobody = get_page(lee, "/work?caseworker=unassigned")
    assert [row["who"] for row in _items(nobody, "contact-requests")] == ["Sam Okafor"]
    assert "Sam Okafor" not in get_page(kim, "/work").text


def test_the_queue_only_ever_names_people_the_user_may_see(money_app):
    people, orgs, users, pending, account = _ids(money_app)
    priya = _add_caseworker(money_app)
    _assign(money_app, people["Sam Okafor"], priya)
    with money_app.app_context():
        for email in (KIM, LEE, OMAR, "priya@brightpath.example"):
            user = db.session.scalar(sa.select(User).where(User.email == email))
            visible = set(db.session.scalars(visible_recipients(user).with_only_columns(Recipient.person_id)))
            queue = service.queue(service.scope_for(user), london_today())
            named = {item.person_id for rows in queue.lists.values() for item in rows if item.person_id}
            assert named and named <= visible, email


def test_view_all_pages_through_one_kind(money_app, monkeypatch):
    # Grace's review, and three older ones left open by payment runs before one review per account.
    with money_app.app_context():
        current = db.session.scalar(sa.select(ExcessBalanceReview).where(ExcessBalanceReview.status == ReviewStatus.OPEN))
        for years in (1, 2, 3):
            db.session.add(ExcessBalanceReview(
                account_id=current.account_id, budget_id=current.budget_id,
                cycle_start=current.cycle_start.replace(year=current.cycle_start.year - years), balance_pence=200_000,
                owed_pence=0, contingency_pence=0, threshold_pence=142_400, excess_pence=57_600, reasons="balance over the excess line"))
        db.session.commit()
    monkeypatch.setattr(service, "LIST_SIZE", 2)
    monkeypatch.setattr(service, "PAGE_SIZE", 3)
    omar = _signed_in(money_app, OMAR)
    page = get_page(omar, "/work")
    assert _counts(page)["excess-reviews"] == 4
    assert len(_items(page, "excess-reviews")) == 2
    view_all = page.soup.select_one("a[data-view-all='excess-reviews']")
    assert view_all["href"] == "/work?kind=excess-reviews" and "View all 4" in view_all.get_text()
    assert page.soup.select_one("a[data-view-all='receipts-missing']") is None  # 2 rows: all shown
    first = get_page(omar, view_all["href"])
    assert first.soup.title.string.startswith("Excess balances to review")
    assert len(_items(first, "excess-reviews")) == 3
    second = get_page(omar, first.soup.select_one("a[rel='next']")["href"])
    assert len(_items(second, "excess-reviews")) == 1 and second.soup.select_one("a[rel='next']") is None
    records = [row["record"] for row in _items(first, "excess-reviews") + _items(second, "excess-reviews")]
    assert len(set(records)) == 4
    assert omar.get("/work?kind=no-such-kind").status_code == 404
    # A manager's filter is kept when paging.
    lee = _signed_in(money_app, LEE)
    kim_id = _ids(money_app)[2][KIM]
    monkeypatch.setattr(service, "LIST_SIZE", 1)
    page = get_page(lee, f"/work?caseworker={kim_id}")
    assert page.soup.select_one("a[data-view-all='receipts-missing']")["href"] == f"/work?kind=receipts-missing&caseworker={kim_id}"
    receipts = get_page(lee, f"/work?caseworker={kim_id}&kind=receipts-missing")
    assert receipts.soup.select_one(".govuk-back-link")["href"] == f"/work?caseworker={kim_id}"


def test_the_htmx_filter_returns_only_the_results(money_app):
    lee = _signed_in(money_app, LEE)
    kim_id = _ids(money_app)[2][KIM]
    response = lee.get(f"/work?caseworker={kim_id}", headers={"HX-Request": "true"})
    assert response.status_code == 200 and "<h1" not in response.text and "<html" not in response.text
    assert BeautifulSoup(response.text, "html.parser").select_one("[data-subject]").get_text() == "Kim Bell's cases"
    assert "HX-Request" in response.headers.get("Vary", "")


# The organisation page --------------------------------------------------------------------------


def _org_rows(page) -> dict[str, dict]:
    rows = {}
    for tr in page.soup.select("[data-caseworkers] tbody tr"):
        link = tr.select_one("th a")
        rows[tr["data-caseworker"]] = {
            "name": tr.select_one("th").get_text(" ", strip=True), "href": link["href"] if link else None,
            "cases": int(tr.select_one("[data-cases]").get_text()), "total": int(tr.select_one("[data-total]").get_text()),
        }
    return rows


def test_lee_sees_every_caseworker_with_links_to_their_queues(money_app):
    people, orgs, users, pending, account = _ids(money_app)
    priya = _add_caseworker(money_app)
    _assign(money_app, people["Tom Hughes"], priya)
    lee = _signed_in(money_app, LEE)
    page = get_page(lee, "/work/organisation")
    rows = _org_rows(page)
    assert set(rows) == {str(users[KIM]), str(priya), "unassigned"}  # Lee holds no cases: not a row
    assert rows[str(users[KIM])]["cases"] == 2 and rows[str(priya)]["cases"] == 1 and rows["unassigned"]["cases"] == 0
    for key, row in rows.items():
        assert row["href"] == f"/work?caseworker={key}"
        queue = get_page(lee, row["href"])
        case_kinds = [slug for slug, kind in service.BY_SLUG.items() if not kind.organisation_wide]
        assert row["total"] == sum(_counts(queue)[slug] for slug in case_kinds), key
    footer = [cell.get_text(strip=True) for cell in page.soup.select("[data-totals] td")]
    assert int(footer[0]) == sum(row["cases"] for row in rows.values()) == 3
    assert int(footer[-1]) == sum(row["total"] for row in rows.values())
    # Every caseworker's figures add up to the manager's whole queue.
    whole = _counts(get_page(lee, "/work"))
    assert sum(row["total"] for row in rows.values()) == sum(n for slug, n in whole.items() if not service.BY_SLUG[slug].organisation_wide)
    for name in BRIGHTPATH_PEOPLE + HARBOUR_PEOPLE:
        assert name not in page.text  # counts, never people
    assert "Omar Farah" not in page.text


def test_a_caseworker_sees_the_organisations_counts_without_links(money_app):
    people, orgs, users, pending, account = _ids(money_app)
    priya = _add_caseworker(money_app)
    _assign(money_app, people["Tom Hughes"], priya)
    page = get_page(_signed_in(money_app, KIM), "/work/organisation")
    rows = _org_rows(page)
    assert {row["name"].split(" (")[0] for row in rows.values()} >= {"Kim Bell", "Priya Shah"}
    assert all(row["href"] is None for row in rows.values())
    assert rows[str(priya)]["total"] > 0
    assert "Tom Hughes" not in page.text


def test_harbour_sees_the_check_it_was_asked_to_verify_as_organisation_work(money_app):
    page = get_page(_signed_in(money_app, OMAR), "/work/organisation")
    item = page.soup.select_one("[data-organisation-wide] [data-count='checks-to-verify']")
    assert "1" in item.get_text() and item.select_one("a")["href"] == "/register/verifications"


# Access ----------------------------------------------------------------------------------------


@pytest.mark.parametrize("email", ["rachel@northfield.example", "sophie.pa@example.org", "jay.pa@example.org",
                                   "amina@example.org", "tom@example.org", "david@example.org", "admin@example.org"])
def test_only_dpss_staff_have_work_queues(app, email):
    client = _signed_in(app, email)
    for url in ("/work", "/work/organisation", "/work?kind=receipts-missing"):
        assert client.get(url).status_code == 403, url


def test_signed_out_people_are_asked_to_sign_in(app):
    for url in ("/work", "/work/organisation"):
        response = app.test_client().get(url)
        assert response.status_code == 302 and "/sign-in" in response.headers["Location"]


# A fixed number of queries ------------------------------------------------------------------------


def _queries_for(app, client, url) -> int:
    with app.app_context():
        engine = db.engine
    statements = []

    def count(conn, cursor, statement, parameters, context, executemany):
        statements.append(statement)

    sa.event.listen(engine, "before_cursor_execute", count)
    try:
        assert client.get(url).status_code == 200
    finally:
        sa.event.remove(engine, "before_cursor_execute", count)
    return len(statements)


def _add_cases_with_work(app, count: int, start: int) -> None:
    """More Brightpath cases for Kim, each with work of several kinds."""
    people, orgs, users, pending, account = _ids(app)
    today = london_today()
    with app.app_context():
        for n in range(start, start + count):
            person = Person(given_name="Case", family_name=f"Number{n}")
            db.session.add(person)
            db.session.flush()
            db.session.add(Recipient(person_id=person.id, date_of_birth=date(1970, 1, 1), postcode="NF1 1AA", district_code="NF1",
                                     support_reason=SupportReason.PHYSICAL_DISABILITY, council_id=orgs["Northfield City Council"]))
            db.session.add(CaseloadEntry(recipient_id=person.id, provider_id=orgs["Brightpath Support"], caseworker_id=users[KIM],
                                         managed_account=True, start_date=date(2024, 1, 1)))
            db.session.flush()
            db.session.add(SafeguardingConcern(recipient_id=person.id, body="Concern"))
            db.session.add(RegisterConcern(recipient_id=person.id, organisation_id=orgs["Brightpath Support"], body="Concern"))
            pa = Person(given_name="PA", family_name=f"Number{n}")
            db.session.add(pa)
            db.session.flush()
            db.session.add(Employment(pa_id=pa.id, employer_id=person.id, start_date=date(2024, 1, 1)))
            db.session.add(EmployerInsurance(employer_id=person.id, insurer="A", policy_number=str(n), cover_pence=500_000_000,
                                             starts_on=today - timedelta(days=300), expires_on=today + timedelta(days=n % 30)))
            account_id = db.session.scalar(sa.select(DPAccount.id).where(DPAccount.recipient_id == people["Tom Hughes"]))
            db.session.add(ExpectedItem(account_id=account_id, kind=ExpectedKind.CONTRIBUTION_DUE, amount_pence=100,
                                        due_date=today - timedelta(days=1 + n), key=f"test:arrears:{n}"))
        db.session.commit()


def test_the_queue_takes_the_same_number_of_queries_however_much_work_there_is(money_app):
    urls = ("/work", "/work/organisation", "/work?kind=receipts-missing", "/work?kind=safeguarding")
    _add_cases_with_work(money_app, 1, 0)  # every kind the demo lacks, once
    lee = _signed_in(money_app, LEE)
    first = _counts(get_page(lee, "/work"))  # (and warms up whatever is loaded once)
    before = {url: _queries_for(money_app, lee, url) for url in urls}
    _add_cases_with_work(money_app, 30, 1)
    after = {url: _queries_for(money_app, lee, url) for url in urls}
    assert after == before
    page = get_page(lee, "/work")
    counts = _counts(page)
    for slug in ("safeguarding", "register-concerns", "timesheets-missing", "insurance"):
        assert counts[slug] == first[slug] + 30, slug
    assert len(_items(page, "safeguarding")) == service.LIST_SIZE


# The rows this page adds to the access matrix, checked here with every persona ----------------------

PERSONA_EMAILS = {
    "amina": "amina@example.org", "grace": "grace@example.org", "david": "david@example.org", "tom": "tom@example.org",
    "sophie": "sophie.pa@example.org", "jay": "jay.pa@example.org", "ellen": "ellen@example.org", "kim": KIM, "lee": LEE,
    "omar": OMAR, "rachel": "rachel@northfield.example", "admin": "admin@example.org",
}
ACCESS = """
/work                              >/sign-in 403 403 403 403 403 403 403 200 200 200 403 403
/work?kind=excess-reviews          >/sign-in 403 403 403 403 403 403 403 200 200 200 403 403
/work?kind=no-such-kind            >/sign-in 403 403 403 403 403 403 403 404 404 404 403 403
/work?caseworker={kim_user}        >/sign-in 403 403 403 403 403 403 403 200 200 403 403 403
/work?caseworker={omar_user}       >/sign-in 403 403 403 403 403 403 403 403 404 200 403 403
/work?caseworker=unassigned        >/sign-in 403 403 403 403 403 403 403 403 200 403 403 403
/work/organisation                 >/sign-in 403 403 403 403 403 403 403 200 200 200 403 403
"""


def test_access_rows(money_app):
    users = _ids(money_app)[2]
    values = {"kim_user": users[KIM], "omar_user": users[OMAR]}
    clients = {"anon": money_app.test_client()}
    for persona, email in PERSONA_EMAILS.items():
        clients[persona] = _signed_in(money_app, email)
    for line in ACCESS.strip().splitlines():
        path, *cells = line.split()
        for persona, expected in zip(["anon", *PERSONA_EMAILS], cells, strict=True):
            response = clients[persona].get(path.format(**values))
            got = ">" + response.headers["Location"].split("?")[0] if response.status_code == 302 else str(response.status_code)
            assert got == expected, f"{path} | {persona}: expected {expected}, got {got}"
