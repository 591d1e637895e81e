"""Excess-balance reviews and reclaims: the caseworker's reason and proposal, the council's decision, the
reclaim posted exactly once (twice called, two at once, a retry), what the person is told, and who sees what.

The demo gives Grace (Harbour, Omar's case, Northfield-funded) one open review: the payment run opened it
when her balance first went over the line and has brought its figures up to date every cycle since
(£2,200 over the line now; its version has moved on with each update). Reviews for others (Ellen:
Eastmoor-funded, Harbour; Tom: Brightpath) are made here.
The concurrency test runs on SQLite and, under `make test-postgres`, on PostgreSQL with separate connections.
"""

import threading

import pytest
import sqlalchemy as sa
from bs4 import BeautifulSoup

from portal.extensions import db
from portal.models import (
    AuditEvent,
    Budget,
    DPAccount,
    EntryKind,
    ExcessBalanceReview,
    ExcessProposal,
    ExcessReason,
    LedgerEntry,
    Notification,
    Organisation,
    ReviewStatus,
    Role,
    User,
)
from portal.services import excess_reviews as service
from portal.services import ledger
from portal.services.clock import london_today
from portal.sqlite import immediate_transaction
from tests.conftest import csrf_token, get_page, sign_in
from tests.helpers import person_id

OMAR, RACHEL, KIM, LEE = "omar@harbour.example", "rachel@northfield.example", "kim@brightpath.example", "lee@brightpath.example"
DAVID, GRACE = "david@example.org", "grace@example.org"


# Helpers ------------------------------------------------------------------------------------------


def _user(email: str) -> User:
    return db.session.scalar(sa.select(User).where(User.email == email))


def _account(pid: int) -> int:
    return db.session.scalar(sa.select(DPAccount.id).where(DPAccount.recipient_id == pid).order_by(DPAccount.id))


def _reviews(pid: int) -> list[ExcessBalanceReview]:
    """The person's reviews, newest first."""
    return service.reviews_of(pid)


def _newest(app, given: str, family: str) -> tuple[int, int]:
    """(person id, id of the newest review)."""
    pid = person_id(app, given, family)
    with app.app_context():
        return pid, _reviews(pid)[0].id


def _version(app, review_id: int) -> int:
    """The version a page drawn now would carry."""
    with app.app_context():
        return db.session.get(ExcessBalanceReview, review_id).version


def _add_review(app, given: str, family: str, excess_pence: int = 50_000) -> tuple[int, int]:
    """An open review for someone the demo gives none (the payment run's figures, made up)."""
    pid = person_id(app, given, family)
    with app.app_context():
        account = _account(pid)
        budget = db.session.scalar(sa.select(Budget.id).where(Budget.recipient_id == pid).order_by(Budget.id))
        balance = ledger.balance(account)
        review = ExcessBalanceReview(
            account_id=account, budget_id=budget, cycle_start=london_today(), balance_pence=balance, owed_pence=0,
            contingency_pence=0, threshold_pence=max(0, balance - excess_pence), excess_pence=excess_pence,
            reasons="balance over the excess line",
        )
        db.session.add(review)
        db.session.commit()
        return pid, review.id


def _signed_in(app, email: str):
    client = app.test_client()
    sign_in(client, email)
    return client


def _reclaim_entries(review_id: int) -> list[LedgerEntry]:
    return list(db.session.scalars(sa.select(LedgerEntry).where(LedgerEntry.payment_key == f"excess-reclaim:{review_id}")))


def _notes(email: str) -> list[Notification]:
    user = _user(email)
    return list(db.session.scalars(sa.select(Notification).where(
        Notification.user_id == user.id, Notification.key.like("excess-review:%")).order_by(Notification.id)))


def _propose(review_id: int, amount: int | None = None, email: str = OMAR) -> ExcessBalanceReview:
    """Omar proposes a reclaim (all of the excess, or part), committed."""
    review = db.session.get(ExcessBalanceReview, review_id)
    work = service.Work(
        reason=ExcessReason.INFORMAL_SUPPORT, note="Her daughter-in-law now visits every morning",
        proposal=ExcessProposal.RECLAIM_PART if amount else ExcessProposal.RECLAIM_ALL, amount_pence=amount,
    )
    service.record(review, _user(email), work, review.version)
    db.session.commit()
    return review


def _eastmoor_officer() -> User:
    eastmoor = db.session.scalar(sa.select(Organisation.id).where(Organisation.name == "Eastmoor County Council"))
    officer = User(email="officer@eastmoor.example", display_name="Eve Stone", role=Role.COUNCIL_OFFICER,
                   organisation_id=eastmoor)
    db.session.add(officer)
    db.session.commit()
    return officer


def _main_text(html: str) -> str:
    return " ".join(BeautifulSoup(html, "html.parser").select_one("main").get_text(" ").split())


# The caseworker's reason and proposal ---------------------------------------------------------------


def test_omar_records_the_reason_and_proposes_part_and_the_council_is_told(money_app):
    grace, newest = _newest(money_app, "Grace", "Okafor")
    version = _version(money_app, newest)
    with money_app.app_context():
        assert [r.status for r in _reviews(grace)] == [ReviewStatus.OPEN], "one review while the balance stays high"
        review = _propose(newest, amount=50_000)
        assert review.status == ReviewStatus.PROPOSED
        assert review.reason == ExcessReason.INFORMAL_SUPPORT
        assert review.reason_note == "Her daughter-in-law now visits every morning"
        assert review.proposal == ExcessProposal.RECLAIM_PART and review.proposed_pence == 50_000
        assert review.proposed_by_id == _user(OMAR).id and review.proposed_at is not None
        assert review.version == version + 1
        # Rachel (Northfield funds Grace) is asked to decide; nothing is posted yet.
        [note] = _notes(RACHEL)
        assert note.message == (
            "Omar Farah (Harbour DPSS) proposes returning £500.00 of Grace Okafor's direct payment to the council: "
            "informal support increased. Please approve or decline it.")
        assert note.link == f"/people/{grace}/excess-reviews/{newest}"
        assert _reclaim_entries(newest) == []


def test_reclaim_all_proposes_the_whole_excess(money_app):
    _, newest = _newest(money_app, "Grace", "Okafor")
    with money_app.app_context():
        review = _propose(newest)
        assert review.proposal == ExcessProposal.RECLAIM_ALL and review.proposed_pence == review.excess_pence == 220_000


@pytest.mark.parametrize("reason, words", [(ExcessReason.NO_PA, "could not find a PA"),
                                           (ExcessReason.HOSPITAL, "were in hospital")])
def test_keeping_the_money_for_unmet_need_needs_the_help_offered(money_app, reason, words):
    _, newest = _newest(money_app, "Grace", "Okafor")
    with money_app.app_context():
        review = db.session.get(ExcessBalanceReview, newest)
        omar = _user(OMAR)
        with pytest.raises(service.ReviewError) as refused:
            service.record(review, omar, service.Work(reason=reason, proposal=ExcessProposal.KEEP, help_offered="  "), review.version)
        assert refused.value.problems == [("help_offered", f"Say what help has been offered, as they {words}")]
        db.session.rollback()
        assert db.session.get(ExcessBalanceReview, newest).status == ReviewStatus.OPEN

        help_offered = "Referred to Harbour's recruitment support; two PAs to meet next week"
        service.record(review, omar, service.Work(reason=reason, proposal=ExcessProposal.KEEP, help_offered=help_offered), review.version)
        db.session.commit()
        review = db.session.get(ExcessBalanceReview, newest)
        assert review.status == ReviewStatus.KEPT and review.help_offered == help_offered
        assert review.proposed_pence is None
        assert _notes(RACHEL) == [], "keeping the money needs no decision from the council"


def test_keeping_for_other_reasons_needs_no_help_but_other_needs_a_note(money_app):
    _, newest = _newest(money_app, "Grace", "Okafor")
    with money_app.app_context():
        review = db.session.get(ExcessBalanceReview, newest)
        omar = _user(OMAR)
        with pytest.raises(service.ReviewError) as refused:
            service.record(review, omar, service.Work(reason=ExcessReason.OTHER, proposal=ExcessProposal.KEEP), review.version)
        assert refused.value.problems == [("reason_note", "Say why the money built up")]
        db.session.rollback()
        service.record(review, omar, service.Work(reason=ExcessReason.PLANNED_RESPITE, proposal=ExcessProposal.KEEP), review.version)
        db.session.commit()
        assert db.session.get(ExcessBalanceReview, newest).status == ReviewStatus.KEPT


@pytest.mark.parametrize("amount, message", [
    (None, "Enter how much to reclaim, like 500.00"),
    (0, "The amount to reclaim must be more than £0"),
    (220_001, "The amount to reclaim must be no more than the excess, £2,200.00"),
])
def test_a_part_reclaim_is_more_than_nothing_and_at_most_the_excess(money_app, amount, message):
    _, newest = _newest(money_app, "Grace", "Okafor")
    with money_app.app_context():
        review = db.session.get(ExcessBalanceReview, newest)
        work = service.Work(reason=ExcessReason.INFORMAL_SUPPORT, proposal=ExcessProposal.RECLAIM_PART, amount_pence=amount)
        with pytest.raises(service.ReviewError) as refused:
            service.record(review, _user(OMAR), work, review.version)
        assert refused.value.problems == [("amount", message)]


def test_only_the_newest_open_review_is_worked_and_older_ones_close_as_superseded(money_app):
    # Runs before the one-review rule opened a review every cycle: an older one may still be open.
    grace, newest = _newest(money_app, "Grace", "Okafor")
    with money_app.app_context():
        current = db.session.get(ExcessBalanceReview, newest)
        older = ExcessBalanceReview(
            account_id=current.account_id, budget_id=current.budget_id, cycle_start=current.cycle_start.replace(year=2025),
            balance_pence=200_000, owed_pence=0, contingency_pence=0, threshold_pence=142_400, excess_pence=57_600,
            reasons="balance over the excess line")
        db.session.add(older)
        db.session.commit()
        older_id = older.id
        work = service.Work(reason=ExcessReason.INFORMAL_SUPPORT, proposal=ExcessProposal.RECLAIM_ALL)
        with pytest.raises(service.ReviewError, match="There is a newer review for this account"):
            service.record(older, _user(OMAR), work, older.version)
        db.session.rollback()
        assert all(r.status == ReviewStatus.OPEN for r in _reviews(grace))
        _propose(newest)
        old = db.session.get(ExcessBalanceReview, older_id)
        assert old.status == ReviewStatus.CLOSED
        assert old.decision_note.startswith("Closed as superseded: the review from ")


def test_a_stale_version_changes_nothing(money_app):
    _, newest = _newest(money_app, "Grace", "Okafor")
    version = _version(money_app, newest)
    with money_app.app_context():
        review = db.session.get(ExcessBalanceReview, newest)
        work = service.Work(reason=ExcessReason.INFORMAL_SUPPORT, proposal=ExcessProposal.RECLAIM_ALL)
        with pytest.raises(service.StaleReview):
            service.record(review, _user(OMAR), work, version=review.version + 1)
        db.session.rollback()
        review = db.session.get(ExcessBalanceReview, newest)
        assert (review.status, review.version, review.reason) == (ReviewStatus.OPEN, version, None)
        # Someone else changed it behind the page's back: the claim on the old version fails too.
        db.session.execute(sa.update(ExcessBalanceReview).where(ExcessBalanceReview.id == newest).values(version=version + 4))
        db.session.commit()
        review = db.session.get(ExcessBalanceReview, newest)
        db.session.expire_all()
        with pytest.raises(service.StaleReview):
            service.record(review, _user(OMAR), work, version=version)
        db.session.rollback()
        assert db.session.get(ExcessBalanceReview, newest).status == ReviewStatus.OPEN


def test_who_records_dpss_staff_who_see_the_person_only(money_app):
    _, newest = _newest(money_app, "Grace", "Okafor")
    with money_app.app_context():
        review = db.session.get(ExcessBalanceReview, newest)
        work = service.Work(reason=ExcessReason.INFORMAL_SUPPORT, proposal=ExcessProposal.RECLAIM_ALL)
        for email in (KIM, LEE, RACHEL, DAVID, GRACE):
            with pytest.raises(service.NotAllowed):
                service.record(review, _user(email), work, review.version)
            db.session.rollback()
        assert db.session.get(ExcessBalanceReview, newest).status == ReviewStatus.OPEN


# The council's decision and the reclaim, exactly once ---------------------------------------------------


def test_only_an_officer_of_the_persons_council_approves(money_app):
    grace, newest = _newest(money_app, "Grace", "Okafor")
    with money_app.app_context():
        review = _propose(newest, amount=60_000)
        eve = _eastmoor_officer()
        for user in (_user(OMAR), _user(LEE), eve, _user(DAVID)):
            with pytest.raises(service.NotAllowed):
                service.approve(review, user, review.version)
            db.session.rollback()
        assert _reclaim_entries(newest) == []
        balance = ledger.balance(_account(grace))
        entry = service.approve(review, _user(RACHEL), review.version)
        db.session.commit()
        assert (entry.kind, entry.amount_pence, entry.entry_date) == (EntryKind.RECLAIM, -60_000, london_today())
        review = db.session.get(ExcessBalanceReview, newest)
        assert review.status == ReviewStatus.RECLAIMED and review.reclaim_entry_id == entry.id
        assert review.decided_by_id == _user(RACHEL).id
        assert ledger.balance(_account(grace)) == balance - 60_000 == ledger.balance_from_entries(_account(grace))


def test_approving_twice_reclaims_once(money_app):
    grace, newest = _newest(money_app, "Grace", "Okafor")
    with money_app.app_context():
        review = _propose(newest, amount=70_000)
        version = review.version
        balance = ledger.balance(_account(grace))
        rachel = _user(RACHEL)
        service.approve(review, rachel, version)
        db.session.commit()
        # A double-click sends the same version again; a reloaded page sends the new one: both are told.
        for again in (version, db.session.get(ExcessBalanceReview, newest).version):
            with pytest.raises(service.AlreadyApproved, match="already been approved"):
                service.approve(db.session.get(ExcessBalanceReview, newest), rachel, again)
            db.session.rollback()
        # Even a stale copy of the review, loaded before the first approval, cannot get past the claim.
        stale = db.session.get(ExcessBalanceReview, newest)
        assert stale.account is not None  # loaded before it leaves the session
        db.session.expunge(stale)
        stale.status = ReviewStatus.PROPOSED
        stale.version = version
        with pytest.raises(service.AlreadyApproved):
            service.approve(stale, rachel, version)
        db.session.rollback()
        assert len(_reclaim_entries(newest)) == 1
        assert ledger.balance(_account(grace)) == balance - 70_000


def test_a_retry_after_the_entry_was_posted_reuses_it(money_app):
    """If a reclaim entry under the review's key is already in the ledger (an attempt that posted, then
    lost its status change), approving links that entry instead of posting another."""
    grace, newest = _newest(money_app, "Grace", "Okafor")
    with money_app.app_context():
        review = _propose(newest, amount=40_000)
        from portal.models import EntrySource

        first = ledger.post(account_id=_account(grace), kind=EntryKind.RECLAIM, amount_pence=-40_000,
                            entry_date=london_today(), source=EntrySource.MANUAL, payment_key=f"excess-reclaim:{newest}")
        db.session.commit()
        balance = ledger.balance(_account(grace))
        entry = service.approve(db.session.get(ExcessBalanceReview, newest), _user(RACHEL), review.version)
        db.session.commit()
        assert entry.id == first.id
        assert [e.id for e in _reclaim_entries(newest)] == [first.id]
        assert db.session.get(ExcessBalanceReview, newest).reclaim_entry_id == first.id
        assert ledger.balance(_account(grace)) == balance, "nothing more left the account"


def test_two_officers_approving_at_once_reclaim_once(money_app):
    """Two requests, each with its own session and connection, approve the same version together."""
    grace, newest = _newest(money_app, "Grace", "Okafor")
    with money_app.app_context():
        review = _propose(newest, amount=80_000)
        version = review.version
        balance = ledger.balance(_account(grace))
        second = User(email="rachel2@northfield.example", display_name="Raj Patel", role=Role.COUNCIL_OFFICER,
                      organisation_id=_user(RACHEL).organisation_id)
        db.session.add(second)
        db.session.commit()
    barrier = threading.Barrier(2, timeout=30)
    outcomes: list[str] = []

    def approve(email: str):
        with money_app.app_context():
            try:
                review = db.session.get(ExcessBalanceReview, newest)
                user = _user(email)
                assert review.status == ReviewStatus.PROPOSED
                barrier.wait()
                with immediate_transaction():
                    service.approve(review, user, version)
                outcomes.append("approved")
            except service.AlreadyApproved:
                outcomes.append("already approved")
            except Exception as error:  # noqa: BLE001 - any other outcome fails the test below
                outcomes.append(repr(error))
            finally:
                db.session.remove()

    threads = [threading.Thread(target=approve, args=(email,)) for email in (RACHEL, "rachel2@northfield.example")]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=60)
    assert sorted(outcomes) == ["already approved", "approved"]
    with money_app.app_context():
        assert len(_reclaim_entries(newest)) == 1
        assert ledger.balance(_account(grace)) == balance - 80_000 == ledger.balance_from_entries(_account(grace))
        assert db.session.get(ExcessBalanceReview, newest).status == ReviewStatus.RECLAIMED


def test_declining_needs_a_note_and_keeps_the_money(money_app):
    grace, newest = _newest(money_app, "Grace", "Okafor")
    with money_app.app_context():
        review = _propose(newest)
        balance = ledger.balance(_account(grace))
        with pytest.raises(service.ReviewError) as refused:
            service.decline(review, _user(RACHEL), review.version, " ")
        assert refused.value.problems == [("decision_note", "Say why the money can stay")]
        db.session.rollback()
        service.decline(review, _user(RACHEL), review.version, "Grace's plan is being reviewed next month")
        db.session.commit()
        review = db.session.get(ExcessBalanceReview, newest)
        assert review.status == ReviewStatus.KEPT and review.decision_note == "Grace's plan is being reviewed next month"
        with pytest.raises(service.StaleReview):
            service.approve(review, _user(RACHEL), review.version)
        db.session.rollback()
        assert _reclaim_entries(newest) == [] and ledger.balance(_account(grace)) == balance
        [told] = _notes(OMAR)
        assert told.message == "Rachel Moss declined returning £2,200.00 of Grace Okafor's direct payment: the money stays."


def test_a_reclaim_larger_than_the_balance_now_is_refused(money_app):
    grace, newest = _newest(money_app, "Grace", "Okafor")
    with money_app.app_context():
        review = _propose(newest)
        from portal.models import EntrySource

        ledger.post(account_id=_account(grace), kind=EntryKind.SPEND, amount_pence=-(ledger.balance(_account(grace)) - 1000),
                    entry_date=london_today(), source=EntrySource.MANUAL, description="Respite week")
        db.session.commit()
        with pytest.raises(service.ReviewError, match="The balance is now £10.00, less than the £2,200.00 proposed"):
            service.approve(review, _user(RACHEL), review.version)
        db.session.rollback()
        assert db.session.get(ExcessBalanceReview, newest).status == ReviewStatus.PROPOSED


def test_the_person_and_their_managing_representative_are_told_in_plain_english(money_app):
    grace, newest = _newest(money_app, "Grace", "Okafor")
    with money_app.app_context():
        review = _propose(newest, amount=50_000)
        service.approve(review, _user(RACHEL), review.version)
        db.session.commit()
        day = london_today()
        when = f"{day.day} {day:%B %Y}"
        because = "more of the support came from family or friends, so less of the money was needed"
        [to_grace] = _notes(GRACE)
        assert to_grace.message == (
            f"£500.00 of your direct payment was returned to Northfield City Council on {when} because {because}. "
            "If you disagree, contact Omar Farah at Harbour DPSS or Northfield City Council.")
        assert to_grace.link == f"/people/{grace}/money"
        [to_david] = _notes(DAVID)
        assert to_david.message.startswith(f"£500.00 of Grace Okafor's direct payment was returned to Northfield City Council on {when}")
        [to_omar] = _notes(OMAR)
        assert to_omar.message.startswith("Rachel Moss approved returning £500.00 of Grace Okafor's direct payment")
        # Nobody outside Grace's circle hears of it.
        for email in ("amina@example.org", "tom@example.org", KIM, LEE):
            assert _notes(email) == []


def test_ellens_proposal_goes_to_eastmoor_never_to_rachel(money_app):
    _, review_id = _add_review(money_app, "Ellen", "Marsh")
    with money_app.app_context():
        eve = _eastmoor_officer()
        _propose(review_id, amount=10_000)
        assert _notes(RACHEL) == []
        assert [n.link for n in _notes(eve.email)] == [f"/people/{person_id(money_app, 'Ellen', 'Marsh')}/excess-reviews/{review_id}"]
        review = db.session.get(ExcessBalanceReview, review_id)
        with pytest.raises(service.NotAllowed):
            service.approve(review, _user(RACHEL), review.version)


def test_toms_review_is_kims_to_work_and_never_omars(money_app):
    _, review_id = _add_review(money_app, "Tom", "Hughes")
    with money_app.app_context():
        review = db.session.get(ExcessBalanceReview, review_id)
        work = service.Work(reason=ExcessReason.INFORMAL_SUPPORT, proposal=ExcessProposal.RECLAIM_ALL)
        with pytest.raises(service.NotAllowed):
            service.record(review, _user(OMAR), work, 1)
        db.session.rollback()
        _propose(review_id, email=KIM)
        assert [n.message.split(" proposes")[0] for n in _notes(RACHEL)] == ["Kim Bell (Brightpath Support)"]
        assert _notes(OMAR) == []


# Pages ----------------------------------------------------------------------------------------------


def test_the_journey_through_the_pages(money_app):
    grace, newest = _newest(money_app, "Grace", "Okafor")
    review_url = f"/people/{grace}/excess-reviews/{newest}"
    version = str(_version(money_app, newest))
    proposed = str(int(version) + 1)
    omar = _signed_in(money_app, OMAR)

    # Omar finds the reviews from Grace's money page.
    money = get_page(omar, f"/people/{grace}/money")
    link = money.soup.select_one("[data-excess-reviews-link]")
    assert " ".join(link.get_text().split()) == "Excess-balance reviews (1 to review)"
    listing = get_page(omar, f"/people/{grace}/excess-reviews")
    rows = listing.soup.select("[data-reviews] tbody tr")
    assert [r["data-review"] for r in rows] == [str(newest)], "one review while the balance stays high"
    assert "To be worked by the support service" in rows[0].get_text()

    page = get_page(omar, review_url)
    figures = " ".join(page.soup.select_one("[data-figures]").get_text(" ").split())
    assert "Excess £2,200.00" in figures and "Balance before the payment £3,624.00" in figures
    form = page.soup.select_one("form[data-work-form]")
    assert form.select_one("input[name=version]")["value"] == version
    assert page.soup.select_one("form[data-decision-form]") is None

    # Nothing chosen: the error summary, and the title says Error.
    response = omar.post(review_url, data={"csrf_token": csrf_token(page.text), "version": version})
    assert response.status_code == 200
    errors = BeautifulSoup(response.text, "html.parser")
    assert errors.title.get_text().startswith("Error: ")
    summary = errors.select_one(".govuk-error-summary").get_text()
    assert "Select why the money built up" in summary and "Select what you propose" in summary

    # Reclaiming part without an amount is refused beside the amount; a hidden amount under "keep" is not read.
    response = omar.post(review_url, data={"csrf_token": csrf_token(page.text), "version": version,
                                           "reason": "informal support increased", "proposal": "reclaim part", "amount": ""})
    assert response.status_code == 200 and "Enter how much to reclaim, like 500.00" in response.text

    response = omar.post(review_url, data={"csrf_token": csrf_token(page.text), "version": version,
                                           "reason": "informal support increased", "reason_note": "Family visit daily now",
                                           "proposal": "reclaim part", "amount": "1,500.00"})
    assert response.status_code == 302 and response.headers["Location"].endswith(review_url)
    page = get_page(omar, review_url)
    assert "Reclaim of £1,500.00 proposed. Northfield City Council has been told" in page.text
    assert page.soup.select_one("form[data-work-form]") is None
    assert "Waiting for Northfield City Council to approve or decline the reclaim." in page.text

    # The same form again (a double-click, or a second tab): refused, nothing changed.
    response = omar.post(review_url, data={"csrf_token": csrf_token(page.text), "version": version,
                                           "reason": "other", "reason_note": "x", "proposal": "keep"})
    assert response.status_code == 302
    assert "This review is not open to change. Nothing was changed." in get_page(omar, review_url).text

    # Omar cannot decide his own proposal: his POST is read as his own form, and refused.
    response = omar.post(review_url, data={"csrf_token": csrf_token(page.text), "version": proposed, "decision": "approve"})
    assert response.status_code == 302

    rachel = _signed_in(money_app, RACHEL)
    page = get_page(rachel, review_url)
    assert page.soup.select_one("form[data-work-form]") is None
    decision = page.soup.select_one("form[data-decision-form]")
    assert decision.select_one("input[name=version]")["value"] == proposed
    assert "Yes, approve: £1,500.00 is taken from the account and returned to Northfield City Council" in decision.get_text()
    token = csrf_token(page.text)
    response = rachel.post(review_url, data={"csrf_token": token, "version": proposed, "decision": "decline"})
    assert response.status_code == 200 and "Say why the money can stay" in response.text
    with money_app.app_context():
        balance = ledger.balance(_account(grace))
    # Approve, then the same request again (a retry): the second is told it was already approved.
    for _ in range(2):
        response = rachel.post(review_url, data={"csrf_token": token, "version": proposed, "decision": "approve"})
        assert response.status_code == 302
    page = get_page(rachel, review_url)
    assert "Reclaim approved: £1,500.00 was taken from Grace Okafor's account" in _main_text(page.text)
    assert "This reclaim has already been approved." in page.text
    with money_app.app_context():
        assert len(_reclaim_entries(newest)) == 1
        assert ledger.balance(_account(grace)) == balance - 150_000
        actions = db.session.scalars(sa.select(AuditEvent.action).where(AuditEvent.record_type == "excess_review")).all()
        assert sorted(actions) == ["excess_review.approved", "excess_review.recorded"]

    # David sees the reclaim and why on Grace's money page, with whom to contact.
    david = _signed_in(money_app, DAVID)
    money = get_page(david, f"/people/{grace}/money")
    [reclaim] = money.soup.select("[data-reclaim]")
    text = " ".join(reclaim.get_text(" ").split())
    day = london_today()
    assert (f"£1,500.00 was returned to Northfield City Council on {day.day} {day:%B %Y} because more of the support "
            "came from family or friends, so less of the money was needed.") in text
    assert "If you disagree, contact Omar Farah at Harbour DPSS on" in text and "at Northfield City Council on" in text
    assert money.soup.select_one("[data-excess-reviews-link]") is None, "the staff link is for staff"
    assert money.soup.select_one("[data-excess]") is None, "no open review is left to talk about"
    # The review itself says the same, and David may read but not change it.
    review_page = get_page(david, review_url)
    assert "was returned to Northfield City Council" in review_page.soup.select_one("[data-explanation]").get_text()
    assert review_page.soup.select_one("form[data-work-form], form[data-decision-form]") is None
    assert david.post(review_url, data={"csrf_token": csrf_token(review_page.text)}).status_code == 403


def test_a_stale_page_changes_nothing(money_app):
    grace, newest = _newest(money_app, "Grace", "Okafor")
    review_url = f"/people/{grace}/excess-reviews/{newest}"
    version = _version(money_app, newest)
    omar = _signed_in(money_app, OMAR)
    page = get_page(omar, review_url)
    with money_app.app_context():  # changed since the page was drawn (another tab, say)
        db.session.execute(sa.update(ExcessBalanceReview).where(ExcessBalanceReview.id == newest).values(version=version + 1))
        db.session.commit()
    response = omar.post(review_url, data={"csrf_token": csrf_token(page.text), "version": str(version),
                                           "reason": "in hospital", "proposal": "reclaim all"})
    assert response.status_code == 302
    assert "This review changed since you opened it. Nothing was changed" in get_page(omar, review_url).text
    with money_app.app_context():
        review = db.session.get(ExcessBalanceReview, newest)
        assert (review.status, review.reason, review.version) == (ReviewStatus.OPEN, None, version + 1)
        assert all(r.status == ReviewStatus.OPEN for r in _reviews(grace))


def test_keeping_with_unmet_need_on_the_page_asks_for_the_help_offered(money_app):
    grace, newest = _newest(money_app, "Grace", "Okafor")
    review_url = f"/people/{grace}/excess-reviews/{newest}"
    omar = _signed_in(money_app, OMAR)
    page = get_page(omar, review_url)
    version = page.soup.select_one("form[data-work-form] input[name=version]")["value"]
    data = {"csrf_token": csrf_token(page.text), "version": version, "reason": "could not find a PA", "proposal": "keep",
            "amount": "not money"}
    response = omar.post(review_url, data=data)
    assert response.status_code == 200
    soup = BeautifulSoup(response.text, "html.parser")
    assert [a.get_text() for a in soup.select(".govuk-error-summary a")] == ["Say what help has been offered, as they could not find a PA"]
    response = omar.post(review_url, data={**data, "help_offered": "Put in touch with the PA register; Jay Singh nearby"})
    assert response.status_code == 302
    page = get_page(omar, review_url)
    assert "Review saved: the money stays in Grace Okafor's account." in _main_text(page.text)
    assert "Put in touch with the PA register" in page.soup.select_one("[data-proposal]").get_text()


def test_who_sees_which_reviews(money_app):
    grace, grace_review = _newest(money_app, "Grace", "Okafor")
    ellen, ellen_review = _add_review(money_app, "Ellen", "Marsh")
    tom, tom_review = _add_review(money_app, "Tom", "Hughes")
    sam, sam_review = _add_review(money_app, "Sam", "Okafor")

    def status(client, url):
        return client.get(url).status_code

    rachel = _signed_in(money_app, RACHEL)
    assert status(rachel, f"/people/{grace}/excess-reviews") == 200
    assert status(rachel, f"/people/{grace}/excess-reviews/{grace_review}") == 200
    assert status(rachel, f"/people/{tom}/excess-reviews/{tom_review}") == 200
    assert status(rachel, f"/people/{ellen}/excess-reviews") == 404, "Eastmoor's people are invisible to Rachel"
    assert status(rachel, f"/people/{ellen}/excess-reviews/{ellen_review}") == 404
    # A review is only found through its own person: Ellen's under Grace's address is not there.
    assert status(rachel, f"/people/{grace}/excess-reviews/{ellen_review}") == 404

    omar = _signed_in(money_app, OMAR)
    assert status(omar, f"/people/{ellen}/excess-reviews/{ellen_review}") == 200
    for pid, review_id in ((tom, tom_review), (sam, sam_review)):
        assert status(omar, f"/people/{pid}/excess-reviews") == 404
        assert status(omar, f"/people/{pid}/excess-reviews/{review_id}") == 404
        assert status(omar, f"/people/{grace}/excess-reviews/{review_id}") == 404
    listing = omar.get(f"/people/{grace}/excess-reviews").text
    assert "Tom Hughes" not in listing and "Sam Okafor" not in listing

    kim = _signed_in(money_app, KIM)
    assert status(kim, f"/people/{tom}/excess-reviews/{tom_review}") == 200
    assert status(kim, f"/people/{grace}/excess-reviews") == 404
    assert status(kim, f"/people/{grace}/excess-reviews/{grace_review}") == 404
    assert status(kim, f"/people/{tom}/excess-reviews/{grace_review}") == 404
    page = kim.get(f"/people/{grace}/excess-reviews/{grace_review}")
    assert kim.post(f"/people/{grace}/excess-reviews/{grace_review}",
                    data={"csrf_token": csrf_token(kim.get("/account").text), "version": "1", "reason": "other",
                          "reason_note": "x", "proposal": "keep"}).status_code == 404
    assert page.status_code == 404

    david = _signed_in(money_app, DAVID)
    assert status(david, f"/people/{grace}/excess-reviews/{grace_review}") == 200
    assert status(david, f"/people/{sam}/excess-reviews/{sam_review}") == 200, "view-level: reads only"
    assert status(david, f"/people/{tom}/excess-reviews/{tom_review}") == 404

    grace_client = _signed_in(money_app, GRACE)
    assert status(grace_client, f"/people/{grace}/excess-reviews") == 200
    token = csrf_token(grace_client.get("/account").text)
    assert grace_client.post(f"/people/{grace}/excess-reviews/{grace_review}", data={"csrf_token": token}).status_code == 403

    with money_app.app_context():
        assert all(r.status == ReviewStatus.OPEN for r in _reviews(grace)), "no refused request changed anything"


def test_rachel_posting_to_an_open_review_changes_nothing(money_app):
    grace, newest = _newest(money_app, "Grace", "Okafor")
    review_url = f"/people/{grace}/excess-reviews/{newest}"
    rachel = _signed_in(money_app, RACHEL)
    page = get_page(rachel, review_url)
    assert page.soup.select_one("form") is None or not page.soup.select("form[data-work-form], form[data-decision-form]")
    response = rachel.post(review_url, data={"csrf_token": csrf_token(page.text), "version": str(_version(money_app, newest)),
                                             "decision": "approve"})
    assert response.status_code == 302
    assert "This review is not waiting for a decision. Nothing was changed." in get_page(rachel, review_url).text
    with money_app.app_context():
        assert db.session.get(ExcessBalanceReview, newest).status == ReviewStatus.OPEN
        assert _reclaim_entries(newest) == []
