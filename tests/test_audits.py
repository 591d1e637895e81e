"""Audits and care reviews (issue 6): the due-date rules and their edges, the same rules in SQL (queues and the
council's overdue counts), an audit from start to sign-off with its refusals (locked once signed off, signed
off once however often the button is pressed), the PDF report, and who may see and change what.

The demo's reviews and audits (services/demo_audits.py) are loaded on the demo with money in each test.
"""

import shutil
import subprocess
from datetime import date, timedelta

import pytest
import sqlalchemy as sa

from portal.extensions import db
from portal.models import (
    AuditEvent,
    CaseloadEntry,
    CaseSetup,
    CouncilSettings,
    DPAccount,
    EntryKind,
    EntrySource,
    Organisation,
    Person,
    Recipient,
    Role,
    User,
)
from portal.models.audits import Audit, AuditFinding, AuditOutcome, AuditStatus, CareReview, ChecklistAnswer
from portal.services import audits, ledger
from portal.services.audits import Due, add_months, audit_due, review_due
from portal.services.clock import london_today
from portal.services.demo_audits import load_audits
from portal.services.work_queues import Scope, queue
from tests.conftest import csrf_token, get_page, sign_in

KIM, LEE, OMAR, RACHEL = "kim@brightpath.example", "lee@brightpath.example", "omar@harbour.example", "rachel@northfield.example"
ALL_YES = {"insurance_valid": "yes", "payslips_match": "yes", "hmrc_paid": "yes", "pension_paid": "not applicable"}


# The rules ---------------------------------------------------------------------------------------


@pytest.mark.parametrize("day, months, expected", [
    (date(2026, 1, 15), 6, date(2026, 7, 15)),
    (date(2025, 8, 31), 6, date(2026, 2, 28)),  # no 31 February: the month's last day
    (date(2023, 8, 31), 6, date(2024, 2, 29)),  # a leap year's
    (date(2024, 2, 29), 12, date(2025, 2, 28)),  # a leap day a year on
    (date(2024, 2, 29), 48, date(2028, 2, 29)),
    (date(2026, 11, 30), 3, date(2027, 2, 28)),
    (date(2026, 12, 31), 1, date(2027, 1, 31)),
    (date(2026, 3, 31), -1, date(2026, 2, 28)),
])
def test_adding_months_keeps_the_day_or_the_months_last_day(day, months, expected):
    assert add_months(day, months) == expected


def test_the_first_review_is_due_six_months_after_the_first_payment_then_twelve_after_the_last():
    first = date(2026, 1, 10)
    assert review_due(first, None) == date(2026, 7, 10)
    assert review_due(first, date(2026, 6, 1)) == date(2027, 6, 1)  # the last review, not the first payment
    assert review_due(first, date(2026, 9, 1)) == date(2027, 9, 1)  # a late review moves the next one on
    assert review_due(None, None) is None  # no first payment yet: nothing due
    assert review_due(date(2024, 2, 29), None) == date(2024, 8, 29)
    assert review_due(None, date(2024, 2, 29)) == date(2025, 2, 28)


def test_exactly_six_months_is_on_time_and_the_day_after_is_overdue():
    due = review_due(date(2026, 1, 10), None)
    assert Due(due, date(2026, 7, 10)).state == "due"
    assert Due(due, date(2026, 7, 11)).state == "overdue" and Due(due, date(2026, 7, 11)).days == -1
    assert Due(due, date(2026, 6, 10)).state == "due"  # 30 days before: due soon
    assert Due(due, date(2026, 6, 9)).state == "not due"  # 31 days before
    assert Due(None, date(2026, 6, 9)).state == ""


def test_audits_are_due_the_councils_months_after_the_last_audit_or_the_first_payment():
    assert audit_due(date(2025, 11, 10), None, 12) == date(2026, 11, 10)
    assert audit_due(date(2025, 11, 10), date(2026, 5, 9), 12) == date(2027, 5, 9)
    assert audit_due(date(2025, 11, 10), date(2026, 5, 9), 6) == date(2026, 11, 9)
    assert audit_due(None, None, 12) is None


def test_the_sql_rule_adds_months_as_python_does(app):
    days = [date(2026, 1, 15), date(2025, 8, 31), date(2023, 8, 31), date(2024, 2, 29), date(2026, 11, 30),
            date(2026, 12, 31), date(2027, 1, 31), date(2024, 1, 29)]
    with app.app_context():
        for day in days:
            for months in (1, 6, 12, 13, 24):
                got = db.session.scalar(sa.select(audits.add_months_sql(sa.literal(day, sa.Date), sa.literal(months, sa.Integer))))
                assert got == add_months(day, months), (day, months)


# The demo and its queues -------------------------------------------------------------------------


def _ids(app) -> dict[str, int]:
    with app.app_context():
        people = {given.lower(): pid for pid, given in db.session.execute(sa.select(Person.id, Person.given_name))}
        load_audits(people)  # a no-op once demo.load_money calls it
        amina_audit = db.session.scalar(sa.select(Audit.id).where(Audit.recipient_id == people["amina"]))
        ellen_audit = db.session.scalar(sa.select(Audit.id).where(Audit.recipient_id == people["ellen"]))
        users = {email: uid for uid, email in db.session.execute(sa.select(User.id, User.email))}
    return {**people, "amina_audit": amina_audit, "ellen_audit": ellen_audit,
            **{email.split("@")[0]: uid for email, uid in users.items() if email in (KIM, LEE, OMAR, RACHEL)}}


def _client(app, email):
    client = app.test_client()
    sign_in(client, email)
    return client


def _rows(page, kind):
    return [(tr.select("td")[0].get_text(strip=True), tr.select("td")[1].get_text(" ", strip=True), tr.select_one("a")["href"])
            for tr in page.soup.select(f"table[data-kind='{kind}'] tr[data-item]")]


def test_kims_and_omars_queues_show_the_reviews_and_audits_due_with_links_to_where_they_are_done(money_app):
    ids = _ids(money_app)
    page = get_page(_client(money_app, KIM), "/work")
    reviews = _rows(page, "reviews-due")
    assert [(who, href) for who, _what, href in reviews] == [("Sam Okafor", f"/people/{ids['sam']}/reviews")]
    assert "Overdue" in reviews[0][1] and "the first review since the first payment" in reviews[0][1]
    due = _rows(page, "audits-due")
    assert [(who, href) for who, _what, href in due] == [("Tom Hughes", f"/people/{ids['tom']}/audits")]
    assert "Overdue" in due[0][1] and "no audit yet" in due[0][1]
    for name in ("Grace Okafor", "Ellen Marsh"):
        assert name not in page.text

    page = get_page(_client(money_app, OMAR), "/work")
    reviews = _rows(page, "reviews-due")
    assert [(who, href) for who, _what, href in reviews] == [("Grace Okafor", f"/people/{ids['grace']}/reviews")]
    assert "Due by" in reviews[0][1] and "Overdue" not in reviews[0][1]  # due within the month
    due = _rows(page, "audits-due")  # Eastmoor audits every 6 months: Ellen's is overdue, and Omar has started it
    assert [(who, href) for who, _what, href in due] == [("Ellen Marsh", f"/people/{ids['ellen']}/audits/{ids['ellen_audit']}")]
    assert "an audit is in progress" in due[0][1]
    for name in ("Amina Patel", "Tom Hughes", "Sam Okafor"):
        assert name not in page.text


def test_the_queue_agrees_with_the_rules_at_the_thirty_day_edge(money_app):
    """Sam's first payment set so his first review falls exactly 30 days ahead (in the queue), then 31 (not)."""
    ids = _ids(money_app)
    today = london_today()
    with money_app.app_context():
        kim = db.session.scalar(sa.select(User).where(User.email == KIM))
        scope = Scope(kim.organisation_id, caseworker_id=kim.id)
        for days, listed in ((30, True), (31, False), (-1, True)):
            first = today + timedelta(days=days)
            first = add_months(first, -6)
            while review_due(first, None) != today + timedelta(days=days):  # month ends: step to a day that lands exactly
                first -= timedelta(days=1)
            setup = db.session.get(CaseSetup, ids["sam"])
            if setup is None:
                setup = CaseSetup(recipient_id=ids["sam"], decided_on=first - timedelta(days=30))
                db.session.add(setup)
            setup.first_payment_on = first
            audits.refresh_due_dates([ids["sam"]])  # as the set-up page and the payment run do
            db.session.commit()
            found = queue(scope, today, kind="reviews-due").lists.get("reviews-due", [])
            assert (ids["sam"] in {item.person_id for item in found}) is listed, days
            assert audits.case_summary(ids["sam"], today).review.on == today + timedelta(days=days)


def test_recording_a_review_takes_it_off_the_queue_and_sets_the_next_due_date(money_app):
    ids = _ids(money_app)
    kim = _client(money_app, KIM)
    today = london_today()
    url = f"/people/{ids['sam']}/reviews"
    page = get_page(kim, url)
    assert "Overdue" in page.soup.select_one("[data-review-due]").get_text()
    data = {"reviewed_on": [str(today.day), str(today.month), str(today.year)],
            "outcome": "Sam's plan still meets his needs; travel training continues."}
    response = kim.post(url, data={"csrf_token": csrf_token(page.text), **data})
    assert response.status_code == 302
    page = get_page(kim, url)
    assert "recorded" in page.soup.select_one(".govuk-notification-banner--success").get_text()
    assert add_months(today, 12).strftime("%B %Y") in page.soup.select_one("[data-review-due]").get_text()
    assert "Kim Bell" in page.soup.select_one("[data-reviews]").get_text()
    # The same review again (a double click): refused, one row.
    response = kim.post(url, data={"csrf_token": csrf_token(page.text), **data})
    assert response.status_code == 302
    page = get_page(kim, url)
    assert "already recorded. Nothing was changed" in page.text
    with money_app.app_context():
        assert db.session.scalar(sa.select(sa.func.count()).select_from(CareReview).where(CareReview.recipient_id == ids["sam"])) == 1
    assert not _rows(get_page(kim, "/work"), "reviews-due")


def test_a_review_needs_a_past_date_and_an_outcome(money_app):
    ids = _ids(money_app)
    kim = _client(money_app, KIM)
    url = f"/people/{ids['sam']}/reviews"
    tomorrow = london_today() + timedelta(days=1)
    page = get_page(kim, url)
    response = kim.post(url, data={"csrf_token": csrf_token(page.text), "outcome": "",
                                   "reviewed_on": [str(tomorrow.day), str(tomorrow.month), str(tomorrow.year)]})
    assert response.status_code == 200 and "<title>Error: " in response.text
    assert "The date of the review must be today or in the past" in response.text
    response = kim.post(url, data={"csrf_token": csrf_token(page.text), "outcome": ""})
    assert "Enter the date of the review" in response.text
    with money_app.app_context():
        assert not db.session.scalar(sa.select(sa.func.count()).select_from(CareReview).where(CareReview.recipient_id == ids["sam"]))


def test_the_councils_audit_frequency_sets_the_due_date(money_app):
    ids = _ids(money_app)
    today = london_today()
    with money_app.app_context():
        first = audits.first_payment_on(ids["tom"])
        assert audits.case_summary(ids["tom"], today).audit.on == add_months(first, 12)
        northfield = db.session.scalar(sa.select(Organisation.id).where(Organisation.name == "Northfield City Council"))
        row = db.session.scalar(sa.select(CouncilSettings).where(CouncilSettings.council_id == northfield))
        row.audit_months = 18
        audits.refresh_due_dates(council_id=northfield)  # what the council settings page does when it saves
        db.session.commit()
        assert audits.case_summary(ids["tom"], today).audit.on == add_months(first, 18)
        kim = db.session.scalar(sa.select(User).where(User.email == KIM))
        listed = queue(Scope(kim.organisation_id, caseworker_id=kim.id), today, kind="audits-due").lists.get("audits-due", [])
        assert ids["tom"] not in {item.person_id for item in listed}


def test_overdue_counts_per_provider_for_the_council_equal_the_rules_case_by_case(money_app):
    _ids(money_app)
    today = london_today()
    with money_app.app_context():
        northfield = db.session.scalar(sa.select(Organisation.id).where(Organisation.name == "Northfield City Council"))
        found = audits.overdue_by_provider(northfield, today)
        expected: dict[int, list[int]] = {}
        for recipient_id, provider_id in db.session.execute(
                sa.select(CaseloadEntry.recipient_id, CaseloadEntry.provider_id).join(Recipient, Recipient.person_id == CaseloadEntry.recipient_id)
                .where(Recipient.council_id == northfield, CaseloadEntry.closed_on.is_(None))):
            summary = audits.case_summary(recipient_id, today)
            counts = expected.setdefault(provider_id, [0, 0])
            counts[0] += summary.review.state == "overdue"
            counts[1] += summary.audit.state == "overdue"
        assert {p: [o.reviews, o.audits] for p, o in found.items()} == {p: c for p, c in expected.items() if any(c)}
        names = {o.provider_name for o in found.values()}
        assert names == {"Brightpath Support"}  # Sam's review and Tom's audit; Grace's is not overdue yet
        # Ellen is Eastmoor's: never in Northfield's counts, even when overdue.
        eastmoor = db.session.scalar(sa.select(Organisation.id).where(Organisation.name == "Eastmoor County Council"))
        assert [o.audits for o in audits.overdue_by_provider(eastmoor, today).values()] == [1]


# An audit from start to sign-off ----------------------------------------------------------------------


def _start(client, person: int, start: date, end: date):
    page = get_page(client, f"/people/{person}/audits")
    return client.post(f"/people/{person}/audits", data={
        "csrf_token": csrf_token(page.text),
        "period_start": [str(start.day), str(start.month), str(start.year)],
        "period_end": [str(end.day), str(end.month), str(end.year)],
    })


def _post(client, url: str, page_url: str, data: dict):
    page = client.get(page_url)
    return client.post(url, data={"csrf_token": csrf_token(page.text), **data})


def _audit_of(app, person: int) -> Audit:
    with app.app_context():
        found = db.session.scalar(sa.select(Audit).where(Audit.recipient_id == person).order_by(Audit.id.desc()).limit(1))
        db.session.expunge(found)
        return found


def test_kim_audits_tom_answers_the_checklist_explains_the_gap_and_signs_off_once(money_app, tmp_path):
    ids = _ids(money_app)
    kim = _client(money_app, KIM)
    today = london_today()
    tom = ids["tom"]
    start = today - timedelta(days=60)
    response = _start(kim, tom, start, today)
    assert response.status_code == 302
    found = _audit_of(money_app, tom)
    show = f"/people/{tom}/audits/{found.id}"
    assert response.headers["Location"] == show and found.status == AuditStatus.IN_PROGRESS
    page = get_page(kim, show)
    assert "Audit started" in page.text
    # The statement's figures are the statement's, and Tom's hand-entered spend has no receipt: a gap.
    with money_app.app_context():
        statement = audits.build_statement(db.session.get(Recipient, tom), start, today)
    figures = page.soup.select_one("[data-statement]").get_text(" ", strip=True)
    assert f"£{statement.closing_pence / 100:,.2f}" in figures
    assert "1 still needs one" in page.soup.select_one("[data-gaps]").get_text(" ", strip=True)
    gap = page.soup.select_one("[data-needs-reason] li[data-entry]")
    assert "GREENFINGERS GARDEN CENTRE" in gap.get_text() and "No receipt" in gap.get_text()
    entry_id = int(gap["data-entry"])

    # Satisfactory is refused while a transaction has no evidence or reason, and the checklist is unanswered.
    response = _post(kim, f"{show}/sign-off", show, {"outcome": "satisfactory", "actions": "", "version": str(found.version)})
    assert response.status_code == 200 and "<title>Error: " in response.text
    assert "cannot be satisfactory while 1 transaction has no evidence" in response.text
    assert "Answer this question, and save the checklist" in response.text

    # A "No" needs a note; then the checklist is saved.
    response = _post(kim, f"{show}/checklist", show, {**ALL_YES, "insurance_valid": "no"})
    assert response.status_code == 200 and "Say what was wrong" in response.text
    assert _post(kim, f"{show}/checklist", show, ALL_YES).status_code == 302
    assert _post(kim, f"{show}/findings", show, {"entry_id": str(entry_id),
                                                  "note": "Receipt lost; the garden centre confirmed the sale by email."}).status_code == 302
    page = get_page(kim, show)
    assert not page.soup.select("[data-gaps]")
    version = page.soup.select_one("form[data-sign-off-form] input[name=version]")["value"]

    # Actions needed needs the actions.
    response = _post(kim, f"{show}/sign-off", show, {"outcome": "actions needed", "actions": " ", "version": version})
    assert "Say what needs to be done" in response.text

    # Signed off, once: the second click changes nothing and says so.
    data = {"outcome": "satisfactory", "actions": "", "version": version}
    first = _post(kim, f"{show}/sign-off", show, data)
    second = _post(kim, f"{show}/sign-off", show, data)
    assert first.status_code == second.status_code == 302
    page = get_page(kim, show)
    assert "already signed off by Kim Bell" in page.text and "Nothing was changed" in page.text
    signed = page.soup.select_one("[data-signed-off]").get_text(" ", strip=True)
    assert "Satisfactory" in signed and f"Kim Bell, Brightpath Support on {today.day} {today:%B %Y}" in signed
    assert not page.soup.select("form[data-checklist-form], form[data-sign-off-form], form[action$='/findings']")
    with money_app.app_context():
        audit = db.session.get(Audit, found.id)
        assert audit.status == AuditStatus.SIGNED_OFF and audit.open_key is None and audit.signed_off_on == today
        events = db.session.scalar(sa.select(sa.func.count()).select_from(AuditEvent).where(
            AuditEvent.action == "audit.signed_off", AuditEvent.record_id == str(found.id)))
        assert events == 1
        kept = db.session.scalar(sa.select(sa.func.count()).select_from(AuditFinding).where(
            AuditFinding.audit_id == found.id, AuditFinding.kept.is_(True)))
        assert kept == len(statement.entries)

    # The PDF: a real PDF with Tom's name, the outcome and the auditor's reason; not a draft.
    response = kim.get(f"{show}.pdf")
    assert response.status_code == 200 and response.mimetype == "application/pdf" and response.data.startswith(b"%PDF")
    assert response.headers["Content-Disposition"] == f'attachment; filename="audit-{start.isoformat()}-to-{today.isoformat()}.pdf"'
    text = _pdf_text(response.data, tmp_path)
    assert "Tom Hughes" in text and "Satisfactory" in text and "Kim Bell" in text
    assert "garden centre confirmed the sale" in text and "DRAFT" not in text.upper().replace("DRAFTED", "")
    # Tom's audit is no longer due.
    assert not _rows(get_page(kim, "/work"), "audits-due")


def _pdf_text(pdf: bytes, tmp_path) -> str:
    assert shutil.which("pdftotext"), "pdftotext is needed (Debian: poppler-utils)"
    path = tmp_path / "audit.pdf"
    path.write_bytes(pdf)
    text = subprocess.run(["pdftotext", "-layout", str(path), "-"], capture_output=True, text=True, check=True).stdout
    return " ".join(text.split())  # lines wrap where the page does


def test_a_draft_pdf_says_draft(money_app, tmp_path):
    ids = _ids(money_app)
    response = _client(money_app, OMAR).get(f"/people/{ids['ellen']}/audits/{ids['ellen_audit']}.pdf")
    assert response.status_code == 200 and response.data.startswith(b"%PDF")
    assert response.headers["Content-Disposition"].endswith('-draft.pdf"')
    text = _pdf_text(response.data, tmp_path)
    assert "Ellen Marsh" in text and "DRAFT" in text and "not been signed off" in text


def test_a_signed_off_audit_is_locked_and_keeps_what_it_saw(money_app):
    ids = _ids(money_app)
    kim = _client(money_app, KIM)
    amina, audit_id = ids["amina"], ids["amina_audit"]
    show = f"/people/{amina}/audits/{audit_id}"
    before = get_page(kim, show)
    lines = len(before.soup.select("[data-transactions] tr[data-line]"))
    assert lines and not before.soup.select("form[data-checklist-form]")
    with money_app.app_context():
        audit = db.session.get(Audit, audit_id)
        checklist = [audit.insurance_valid, audit.insurance_note, audit.outcome, audit.version]
        # A payment imported late, dated inside the audited period.
        account = db.session.scalar(sa.select(DPAccount.id).where(DPAccount.recipient_id == amina))
        ledger.post(account_id=account, kind=EntryKind.SPEND, amount_pence=-1234, entry_date=audit.period_start + timedelta(days=3),
                    source=EntrySource.MANUAL, payee="LATE IMPORT LTD", description="Late")
        db.session.commit()
        entry = db.session.scalar(sa.select(AuditFinding.entry_id).where(AuditFinding.audit_id == audit_id).limit(1))
    for url, data in ((f"{show}/checklist", {**ALL_YES, "insurance_valid": "no", "insurance_note": "Changed"}),
                      (f"{show}/findings", {"entry_id": str(entry), "note": "Changed"})):
        response = _post(kim, url, show, data)
        assert response.status_code == 302
        page = get_page(kim, show)
        assert "has been signed off, so it cannot be changed. Nothing was changed." in page.text
    after = get_page(kim, show)
    assert len(after.soup.select("[data-transactions] tr[data-line]")) == lines and "LATE IMPORT LTD" not in after.text
    with money_app.app_context():
        audit = db.session.get(Audit, audit_id)
        assert [audit.insurance_valid, audit.insurance_note, audit.outcome, audit.version] == checklist
        assert not db.session.scalar(sa.select(AuditFinding.note).where(AuditFinding.audit_id == audit_id, AuditFinding.note == "Changed"))
        # The service refuses too, whoever calls it.
        user = db.session.scalar(sa.select(User).where(User.email == KIM))
        with pytest.raises(audits.AuditLocked):
            audits.save_checklist(audit, user, {"insurance_valid": ChecklistAnswer.YES}, {})
        with pytest.raises(audits.AlreadySignedOff):
            audits.sign_off(db.session.get(Recipient, amina), audit, user, AuditOutcome.SATISFACTORY, "", audit.version, london_today())


def test_a_stale_page_cannot_sign_off(money_app):
    ids = _ids(money_app)
    omar = _client(money_app, OMAR)
    show = f"/people/{ids['ellen']}/audits/{ids['ellen_audit']}"
    version = get_page(omar, show).soup.select_one("form[data-sign-off-form] input[name=version]")["value"]
    assert _post(omar, f"{show}/checklist", show, ALL_YES).status_code == 302  # the audit moves on
    response = _post(omar, f"{show}/sign-off", show, {"outcome": "satisfactory", "version": version})
    assert response.status_code == 302
    assert "changed by someone else" in get_page(omar, show).text
    with money_app.app_context():
        assert db.session.get(Audit, ids["ellen_audit"]).status == AuditStatus.IN_PROGRESS


def test_starting_an_audit_checks_the_period_and_allows_one_in_progress(money_app):
    ids = _ids(money_app)
    kim = _client(money_app, KIM)
    today = london_today()
    tom = ids["tom"]
    response = _start(kim, tom, today, today - timedelta(days=1))
    assert response.status_code == 200 and "The end date must be the same as or after the start date" in response.text
    response = _start(kim, tom, today - timedelta(days=10), today + timedelta(days=1))
    assert response.status_code == 200 and "The end date must be today or in the past" in response.text
    response = _start(kim, tom, date(2020, 1, 1), today)
    assert "An audit can cover up to 2 years" in response.text
    page = get_page(kim, f"/people/{tom}/audits")  # the form suggests the period from the first payment
    with money_app.app_context():
        first = audits.first_payment_on(tom)
    assert page.soup.select_one("#period_start")["value"] == str(first.day)
    assert _start(kim, tom, first, today).status_code == 302
    page = get_page(kim, f"/people/{tom}/audits")
    assert page.soup.select("[data-in-progress]") and not page.soup.select("form[data-start-form]")
    with money_app.app_context():
        user = db.session.scalar(sa.select(User).where(User.email == KIM))
        with pytest.raises(audits.AuditError, match="already in progress"):
            audits.start_audit(db.session.get(Recipient, tom), user, first, today, today)
        assert db.session.scalar(sa.select(sa.func.count()).select_from(Audit).where(Audit.recipient_id == tom)) == 1


def test_a_reason_only_for_a_transaction_of_the_audit(money_app):
    ids = _ids(money_app)
    omar = _client(money_app, OMAR)
    show = f"/people/{ids['ellen']}/audits/{ids['ellen_audit']}"
    with money_app.app_context():
        audit = db.session.get(Audit, ids["ellen_audit"])
        others = db.session.scalar(sa.select(sa.func.min(AuditFinding.entry_id)))  # Amina's (another person's)
        account = db.session.scalar(sa.select(DPAccount.id).where(DPAccount.recipient_id == ids["ellen"]))
        from portal.models import LedgerEntry

        later = db.session.scalar(sa.select(LedgerEntry.id).where(LedgerEntry.account_id == account,
                                                                  LedgerEntry.entry_date > audit.period_end).limit(1))
    for entry in (others, later, 999999):
        response = _post(omar, f"{show}/findings", show, {"entry_id": str(entry), "note": "A reason"})
        assert response.status_code == 302
        assert "not in this audit's period" in get_page(omar, show).soup.get_text(), entry
    with money_app.app_context():
        assert not db.session.scalar(sa.select(AuditFinding.id).where(AuditFinding.audit_id == ids["ellen_audit"]))


# Who sees what -----------------------------------------------------------------------------------------


def test_omar_never_sees_brightpaths_audits_reviews_or_pdfs(money_app):
    ids = _ids(money_app)
    omar = _client(money_app, OMAR)
    amina, audit_id = ids["amina"], ids["amina_audit"]
    for url in (f"/people/{amina}/audits", f"/people/{amina}/audits/{audit_id}", f"/people/{amina}/audits/{audit_id}.pdf",
                f"/people/{amina}/reviews", f"/people/{ids['ellen']}/audits/{audit_id}",
                f"/people/{ids['ellen']}/audits/{audit_id}.pdf"):
        assert omar.get(url).status_code == 404, url
    token = csrf_token(omar.get("/account").text)
    for url in (f"/people/{amina}/audits/{audit_id}/sign-off", f"/people/{amina}/audits", f"/people/{amina}/reviews"):
        assert omar.post(url, data={"csrf_token": token}).status_code == 404, url


def test_rachel_reads_northfields_audits_and_nothing_of_ellens(money_app):
    ids = _ids(money_app)
    rachel = _client(money_app, RACHEL)
    page = get_page(rachel, f"/people/{ids['amina']}/audits/{ids['amina_audit']}")
    assert "Actions needed" in page.soup.select_one("[data-signed-off]").get_text()
    assert not page.soup.select("form[method=post]:not([action*='sign-out']):not([action*='extend'])")
    assert get_page(rachel, f"/people/{ids['tom']}/reviews").soup.select_one("[data-review-due]")
    assert not get_page(rachel, f"/people/{ids['tom']}/audits").soup.select("form[data-start-form]")
    assert rachel.get(f"/people/{ids['amina']}/audits/{ids['amina_audit']}.pdf").status_code == 200
    for url in (f"/people/{ids['ellen']}/audits", f"/people/{ids['ellen']}/audits/{ids['ellen_audit']}",
                f"/people/{ids['ellen']}/audits/{ids['ellen_audit']}.pdf", f"/people/{ids['ellen']}/reviews"):
        assert rachel.get(url).status_code == 404, url
    # Reading only: her POSTs are refused before anything is looked at.
    token = csrf_token(rachel.get("/account").text)
    assert rachel.post(f"/people/{ids['tom']}/audits", data={"csrf_token": token}).status_code == 403
    assert rachel.post(f"/people/{ids['tom']}/reviews", data={"csrf_token": token}).status_code == 403


def test_a_caseworker_never_sees_a_colleagues_audits_but_their_manager_does(money_app):
    ids = _ids(money_app)
    with money_app.app_context():
        kim = db.session.scalar(sa.select(User).where(User.email == KIM))
        db.session.add(User(email="priya@brightpath.example", display_name="Priya Shah", role=Role.DPSS_CASEWORKER,
                            organisation_id=kim.organisation_id, password_hash=kim.password_hash, totp_secret=kim.totp_secret))
        db.session.commit()
    priya = _client(money_app, "priya@brightpath.example")
    show = f"/people/{ids['amina']}/audits/{ids['amina_audit']}"
    for url in (f"/people/{ids['amina']}/audits", show, f"{show}.pdf", f"/people/{ids['amina']}/reviews"):
        assert priya.get(url).status_code == 404, url
    assert not _rows(get_page(priya, "/work"), "audits-due")
    lee = _client(money_app, LEE)
    assert get_page(lee, show).soup.select_one("[data-signed-off]")
    assert _start(lee, ids["tom"], london_today() - timedelta(days=30), london_today()).status_code == 302  # a manager may audit


@pytest.mark.parametrize("email", ["tom@example.org", "amina@example.org", "david@example.org", "sophie.pa@example.org",
                                   "admin@example.org"])
def test_people_who_are_not_staff_of_the_case_are_refused(money_app, email):
    ids = _ids(money_app)
    client = _client(money_app, email)
    for url in (f"/people/{ids['amina']}/audits", f"/people/{ids['amina']}/audits/{ids['amina_audit']}",
                f"/people/{ids['amina']}/audits/{ids['amina_audit']}.pdf", f"/people/{ids['amina']}/reviews"):
        assert client.get(url).status_code == 403, url


def test_signed_out_people_are_asked_to_sign_in(money_app):
    ids = _ids(money_app)
    response = money_app.test_client().get(f"/people/{ids['amina']}/audits/{ids['amina_audit']}.pdf")
    assert response.status_code == 302 and "/sign-in" in response.headers["Location"]


def test_the_administrator_sets_how_often_the_council_audits(money_app):
    _ids(money_app)
    client = _client(money_app, "admin@example.org")
    with money_app.app_context():
        eastmoor = db.session.scalar(sa.select(Organisation.id).where(Organisation.name == "Eastmoor County Council"))
    url = f"/admin/councils/{eastmoor}/settings/new"
    page = get_page(client, url)
    form = {i["name"]: i.get("value", "") for i in page.soup.select("form input[name]") if i.get("type") != "radio"}
    assert form["audit_months"] == "6"  # the demo's, in force today
    tomorrow = london_today() + timedelta(days=1)
    data = {k: v for k, v in form.items() if not k.startswith(("effective_from", "cycle_anchor"))}
    anchor = page.soup.select("input[name=cycle_anchor]")
    data.update({"effective_from": [str(tomorrow.day), str(tomorrow.month), str(tomorrow.year)],
                 "cycle_anchor": [a.get("value", "") for a in anchor], "audit_months": "40"})
    response = client.post(url, data=data)
    assert response.status_code == 200 and "Audits must be between 1 and 36 months apart" in response.text
    data["audit_months"] = "9"
    response = client.post(url, data=data)
    assert response.status_code == 302, response.text[:2000]
    with money_app.app_context():
        assert audits.audit_months_for(eastmoor, tomorrow) == 9 and audits.audit_months_for(eastmoor, london_today()) == 6


def test_the_stored_due_dates_equal_the_rules_after_each_change(money_app):
    """The work queues read due dates stored on the set-up record; they must equal the rules worked out
    case by case (case_summary) after the demo, a review, a sign-off and a change of the council's frequency."""
    ids = _ids(money_app)
    today = london_today()

    def check():
        for setup in db.session.scalars(sa.select(CaseSetup)):
            summary = audits.case_summary(setup.recipient_id, today)
            assert (setup.review_due_on, setup.audit_due_on) == (summary.review.on, summary.audit.on), setup.recipient_id

    with money_app.app_context():
        check()
        kim = db.session.scalar(sa.select(User).where(User.email == KIM))
        audits.record_review(db.session.get(Recipient, ids["sam"]), kim, today - timedelta(days=3), "Reviewed at home", today)
        db.session.commit()
        check()
    with money_app.app_context():
        eastmoor = db.session.scalar(sa.select(Organisation.id).where(Organisation.name == "Eastmoor County Council"))
        for row in db.session.scalars(sa.select(CouncilSettings).where(CouncilSettings.council_id == eastmoor)):
            row.audit_months = 3
        audits.refresh_due_dates(council_id=eastmoor)  # what the council settings page does when it saves
        db.session.commit()
        check()
        ellen = db.session.scalar(sa.select(CaseSetup).where(CaseSetup.recipient_id == ids["ellen"]))
        assert audits.case_summary(ids["ellen"], today).last_audit is None  # her audit is still in progress
        assert ellen.audit_due_on == add_months(audits.first_payment_on(ids["ellen"]), 3)
