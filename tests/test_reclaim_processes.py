"""A proposed reclaim approved by two separate OS processes at the same moment posts to the ledger once.

tests/test_excess_reviews.py races two threads of one process; here each approval runs in its own
process (multiprocessing, 'spawn': a fresh interpreter, as two web-server workers are), with its own
app, engine and connections to the same database, and sends the approval through the real page
(POST with the CSRF token, then the redirect), released together by a barrier. Afterwards: exactly one
RECLAIM entry, the review RECLAIMED once (one decision, one audit event), one set of notifications.

The database is the suite's: a SQLite file by default, PostgreSQL when DATABASE_URL points at one
(`make test-postgres`), so this runs on both.
"""

import multiprocessing
import os
import traceback

import sqlalchemy as sa
from bs4 import BeautifulSoup

from portal.extensions import db
from portal.models import (
    AuditEvent,
    DPAccount,
    EntryKind,
    ExcessBalanceReview,
    ExcessProposal,
    ExcessReason,
    LedgerEntry,
    Notification,
    ReviewStatus,
    Role,
    User,
)
from portal.services import excess_reviews as service
from portal.services import ledger
from tests.conftest import csrf_token, sign_in
from tests.helpers import person_id

OMAR, RACHEL, GRACE, DAVID = "omar@harbour.example", "rachel@northfield.example", "grace@example.org", "david@example.org"
RAJ = "raj@northfield.example"  # a second Northfield officer, made here
APPROVED = "Reclaim approved"
ALREADY = "already been approved"
PROCESS_TIMEOUT = 120


# What each process runs ----------------------------------------------------------------------------


def _approve_in_this_process(config: dict, email: str | None, cookie: tuple[str, str] | None, form: dict | None,
                             review_url: str, barrier, results) -> None:
    """In a fresh interpreter: make an app on the shared database, sign in (or take over a signed-in
    session), wait for the other process, then approve. Puts (what the page said, the status) on results."""
    os.environ["PORTAL_ENV"] = "test"
    from portal import create_app

    app = None
    try:
        app = create_app(config)
        client = app.test_client()
        if cookie is not None:
            client.set_cookie(cookie[0], cookie[1], domain="localhost")
        else:
            sign_in(client, email)
        if form is None:
            page = client.get(review_url)
            version = BeautifulSoup(page.text, "html.parser").select_one("form[data-decision-form] input[name=version]")["value"]
            form = {"csrf_token": csrf_token(page.text), "version": version, "decision": "approve"}
        barrier.wait()  # both processes hold a form for the same version: now both send it
        response = client.post(review_url, data=form)
        location = response.headers.get("Location", "")
        shown = client.get(location) if response.status_code == 302 else response
        banner = BeautifulSoup(shown.text, "html.parser").select_one(".govuk-notification-banner")
        results.put((response.status_code, location, " ".join(banner.get_text(" ").split()) if banner else ""))
    except Exception:  # noqa: BLE001 - reported to the test, which fails with it
        barrier.abort()
        results.put((0, "", traceback.format_exc()))
    finally:
        if app is not None:
            with app.app_context():
                db.session.remove()
                db.engine.dispose()


def _race(app, review_url: str, *, emails=(), cookie=None, form=None) -> list[tuple]:
    """Start two processes (two officers signing in, or one signed-in session twice) and collect what each saw."""
    context = multiprocessing.get_context("spawn")
    barrier = context.Barrier(2, timeout=PROCESS_TIMEOUT / 2)
    results = context.Queue()
    config = {key: app.config[key] for key in ("SQLALCHEMY_DATABASE_URI", "SERVER_NAME", "EVIDENCE_FOLDER")}
    who = list(emails) or [None, None]
    processes = [context.Process(target=_approve_in_this_process,
                                 args=(config, email, cookie, form, review_url, barrier, results), daemon=True)
                 for email in who]
    for process in processes:
        process.start()
    outcomes = [results.get(timeout=PROCESS_TIMEOUT) for _ in processes]
    for process in processes:
        process.join(timeout=30)
        assert process.exitcode == 0, f"a process ended with {process.exitcode}"
    for status, _, text in outcomes:
        assert status, text  # a traceback from the process
    return outcomes


# Setting up -------------------------------------------------------------------------------------------


def _proposed_reclaim(app, amount: int) -> tuple[int, int, str]:
    """Omar proposes reclaiming part of Grace's newest excess; a second Northfield officer (Raj) is added
    with Rachel's password and authenticator. (Grace's person id, the review id, the review's page.)"""
    grace = person_id(app, "Grace", "Okafor")
    with app.app_context():
        review = service.reviews_of(grace)[0]
        omar = db.session.scalar(sa.select(User).where(User.email == OMAR))
        work = service.Work(reason=ExcessReason.INFORMAL_SUPPORT, note="Her daughter-in-law now visits every morning",
                            proposal=ExcessProposal.RECLAIM_PART, amount_pence=amount)
        service.record(review, omar, work, review.version)
        rachel = db.session.scalar(sa.select(User).where(User.email == RACHEL))
        db.session.add(User(email=RAJ, display_name="Raj Patel", role=Role.COUNCIL_OFFICER, organisation_id=rachel.organisation_id,
                            password_hash=rachel.password_hash, totp_secret=rachel.totp_secret))
        db.session.commit()
        assert review.status == ReviewStatus.PROPOSED
        review_id = review.id
        db.session.remove()
    return grace, review_id, f"/people/{grace}/excess-reviews/{review_id}"


def _balance(app, grace: int) -> int:
    with app.app_context():
        account = db.session.scalar(sa.select(DPAccount.id).where(DPAccount.recipient_id == grace).order_by(DPAccount.id))
        return ledger.balance(account)


def _check_reclaimed_once(app, grace: int, review_id: int, amount: int, balance_before: int, outcomes: list[tuple],
                          deciders: set[str]) -> None:
    # One process was told it approved the reclaim, the other that it had already been approved.
    said = sorted(APPROVED if APPROVED in text else ALREADY if ALREADY in text else text for _, _, text in outcomes)
    assert said == [APPROVED, ALREADY], outcomes
    assert all(status == 302 and location.endswith(f"/excess-reviews/{review_id}") for status, location, _ in outcomes), outcomes
    with app.app_context():
        entries = db.session.scalars(sa.select(LedgerEntry).where(LedgerEntry.payment_key == f"excess-reclaim:{review_id}")).all()
        assert len(entries) == 1
        [entry] = entries
        assert entry.kind == EntryKind.RECLAIM and entry.amount_pence == -amount
        account = entry.account_id
        # Nothing else left the account: one reclaim's worth, and the stored balance agrees with the entries.
        reclaims = db.session.scalar(sa.select(sa.func.count()).select_from(LedgerEntry).where(
            LedgerEntry.account_id == account, LedgerEntry.kind == EntryKind.RECLAIM))
        assert reclaims == 1
        assert ledger.balance(account) == balance_before - amount == ledger.balance_from_entries(account)

        review = db.session.get(ExcessBalanceReview, review_id)
        assert review.status == ReviewStatus.RECLAIMED and review.reclaim_entry_id == entry.id
        decider = db.session.get(User, review.decided_by_id)
        assert decider.email in deciders
        approvals = db.session.scalars(sa.select(AuditEvent).where(
            AuditEvent.action == "excess_review.approved", AuditEvent.record_id == str(review_id))).all()
        assert len(approvals) == 1

        # One set of notifications: Grace and David (her representative) are told once each, Omar once.
        notes = db.session.execute(
            sa.select(User.email, Notification.key).join(User, User.id == Notification.user_id)
            .where(Notification.key.in_([f"excess-review:{review_id}:{what}" for what in ("reclaimed", "approved", "declined")]))
        ).all()
        assert sorted(tuple(note) for note in notes) == sorted([
            (GRACE, f"excess-review:{review_id}:reclaimed"),
            (DAVID, f"excess-review:{review_id}:reclaimed"),
            (OMAR, f"excess-review:{review_id}:approved"),
        ])


# The tests ----------------------------------------------------------------------------------------------


def test_two_officers_in_two_processes_approve_at_once_and_it_reclaims_once(money_app):
    grace, review_id, url = _proposed_reclaim(money_app, 60_000)
    balance = _balance(money_app, grace)
    outcomes = _race(money_app, url, emails=(RACHEL, RAJ))
    _check_reclaimed_once(money_app, grace, review_id, 60_000, balance, outcomes, {RACHEL, RAJ})


def test_one_officers_double_click_reaching_two_processes_reclaims_once(money_app):
    """The same signed-in session and the same form sent twice, each copy to a different worker process."""
    grace, review_id, url = _proposed_reclaim(money_app, 45_000)
    balance = _balance(money_app, grace)
    client = money_app.test_client()
    sign_in(client, RACHEL)
    page = client.get(url)
    version = BeautifulSoup(page.text, "html.parser").select_one("form[data-decision-form] input[name=version]")["value"]
    form = {"csrf_token": csrf_token(page.text), "version": version, "decision": "approve"}
    name = money_app.config["SESSION_COOKIE_NAME"]
    cookie = client.get_cookie(name, domain="localhost")
    assert cookie is not None
    outcomes = _race(money_app, url, cookie=(name, cookie.value), form=form)
    _check_reclaimed_once(money_app, grace, review_id, 45_000, balance, outcomes, {RACHEL})
