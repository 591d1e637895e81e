"""Browser journey for managed accounts in payroll (issue 7), with axe-core and a CSP check on every page reached.

Tom is not on Brightpath's payroll service in the demo, so before the journey the test puts him on it,
Kim approves Leon's waiting weekly timesheet and builds the weekly pay run for it, and Lee approves the run
(as tests/test_managed_pay_run_items.py does). Brightpath's limit is lowered to £100.00, under Leon's net
pay, so the payment needs a second person. Then, in the browser: Kim records Leon's net pay from the pay
run on Tom's managed account; Lee approves it from his work queue and it is paid; Tom sees it on his money
page as the net pay to Leon from the pay run. It changes what other journeys would see, so it has a
server and database of its own.
"""

import re

import pytest
import sqlalchemy as sa
from playwright.sync_api import expect

from portal.extensions import db
from portal.services.clock import london_today
from tests.browser.conftest import h1, menu, success

pytestmark = pytest.mark.browser

KIM, LEE, TOM = "kim@brightpath.example", "lee@brightpath.example", "tom@example.org"
LIMIT = 10_000  # £100.00


def _pounds(pence: int) -> str:
    return f"£{pence // 100:,}.{pence % 100:02d}"


def _period_words(first, last) -> str:
    if (first.year, first.month) == (last.year, last.month):
        return f"{first.day} to {last.day} {last.strftime('%B')} {last.year}"
    if first.year == last.year:
        return f"{first.day} {first.strftime('%B')} to {last.day} {last.strftime('%B')} {last.year}"
    return f"{first.day} {first.strftime('%B')} {first.year} to {last.day} {last.strftime('%B')} {last.year}"


def _leons_pay_run(app) -> tuple[str, int]:
    """Tom on Brightpath's payroll, Leon's week approved, paid by a weekly run Kim builds and Lee approves.
    (the run's period in words, Leon's net pay in pence: the item the run put on Tom's account)."""
    from portal.models import CaseloadEntry, ExpectedItem, ExpectedStatus, Organisation, PayPeriod, Person, Timesheet, TimesheetStatus, User
    from portal.services import managed_payments, pay_runs, timesheets
    from portal.sqlite import immediate_transaction

    with app.app_context():
        kim = db.session.scalar(sa.select(User).where(User.email == KIM))
        lee = db.session.scalar(sa.select(User).where(User.email == LEE))
        tom = db.session.scalar(sa.select(Person.id).where(Person.given_name == "Tom", Person.family_name == "Hughes"))
        entry = db.session.scalar(sa.select(CaseloadEntry).where(CaseloadEntry.recipient_id == tom,
                                                                 CaseloadEntry.provider_id == kim.organisation_id))
        entry.payroll = True
        db.session.get(Organisation, kim.organisation_id).payment_approval_limit_pence = LIMIT
        ts = db.session.scalar(sa.select(Timesheet).where(Timesheet.employer_id == tom, Timesheet.status == TimesheetStatus.SUBMITTED))
        timesheets.approve(ts, kim, ts.version)
        db.session.commit()
        run = pay_runs.build_draft(kim.organisation_id, PayPeriod.WEEKLY, ts.period_start, kim, london_today())
        db.session.commit()
        assert len(run.payslips) == 1 and not run.payslips[0].problems
        with immediate_transaction():
            pay_runs.approve(run.id, run.version, lee, london_today())
        item = db.session.scalar(sa.select(ExpectedItem).where(ExpectedItem.key.like(f"payrun:{run.id}:net:%")))
        assert item.status == ExpectedStatus.OPEN and item.account_id == managed_payments.managed_account(tom).id
        words, net = _period_words(run.period_start, run.period_end), -item.amount_pence
        assert net > LIMIT
        db.session.remove()
    return words, net


def test_kim_records_leons_net_pay_from_the_pay_run_lee_approves_it_and_tom_sees_it(fresh_journey):
    journey = fresh_journey
    page = journey.page
    words, net = _leons_pay_run(journey.server.app)
    summary = f"Net pay to Leon Baptiste (pay run {words})"

    # Kim finds Tom from her caseload, and his managed account from his money page.
    journey.sign_in(KIM, staff=True)
    journey.click(menu(page).get_by_role("link", name="Caseload"))
    journey.click(page.get_by_role("main").get_by_role("link", name=re.compile(r"Hughes, Tom|Tom Hughes")).first)
    journey.click(page.get_by_role("navigation", name="Tom Hughes's record").get_by_role("link", name="Money", exact=True))
    journey.click(page.locator("[data-managed-account-link]").get_by_role("link"))
    expect(h1(page)).to_have_text("Managed account")
    expect(page.locator("[data-owed]")).to_contain_text(f"Net pay to Leon Baptiste, pay run {words}")
    journey.click(page.get_by_role("link", name="Pay from a pay run"))
    expect(h1(page)).to_have_text("Pay from a pay run")

    # The pay run's three payments are offered, each with its amount; nothing is chosen yet.
    choices = page.get_by_role("group", name="Which payment from a pay run?")
    expect(choices.get_by_role("radio")).to_have_count(3)
    journey.click(page.get_by_role("button", name="Record payment"))
    expect(page).to_have_title(re.compile(r"^Error: "))
    expect(page.locator(".govuk-error-summary")).to_contain_text("Select the payment from the pay run")
    choices = page.get_by_role("group", name="Which payment from a pay run?")
    choices.get_by_label(f"Net pay to Leon Baptiste, pay run {words}: {_pounds(net)}").check()
    journey.click(page.get_by_role("button", name="Record payment"))
    expect(success(page)).to_contain_text(
        f"Payment of {_pounds(net)} to Leon Baptiste recorded. It is over the limit of {_pounds(LIMIT)}")
    expect(h1(page)).to_contain_text(summary)
    expect(page.locator("[data-status]")).to_have_text("Waiting for approval")
    expect(page.locator("[data-own-recording]")).to_contain_text("another member of staff must approve it")
    expect(page.locator("form[data-approve-form]")).to_have_count(0)
    journey.sign_out()

    # Lee has it in his work queue and approves it.
    journey.sign_in(LEE, staff=True)
    journey.click(menu(page).get_by_role("link", name="Work"))
    row = page.locator("table[data-kind='payments-approval'] tr[data-item]").filter(has_text="Leon Baptiste")
    expect(row).to_have_count(1)
    journey.click(row.get_by_role("link", name=re.compile("^Check and approve")))
    expect(h1(page)).to_contain_text(summary)
    expect(page.locator("[data-payment-details]")).to_contain_text("From a pay run")
    journey.click(page.get_by_role("button", name="Approve and pay"))
    expect(success(page)).to_contain_text(f"Payment approved: {_pounds(net)} was paid to Leon Baptiste from Tom Hughes's account")
    expect(page.locator("[data-status]")).to_have_text("Paid")
    journey.click(page.get_by_role("link", name="Back to the managed account"))
    expect(page.locator("[data-payments]")).to_contain_text(summary)
    expect(page.locator("[data-owed]")).not_to_contain_text("Net pay to Leon Baptiste")
    journey.sign_out()

    # Tom sees the payment on his money page as the net pay from the pay run, and opens it.
    journey.sign_in(TOM)
    journey.click(page.get_by_role("link", name="Your direct payment details"))
    journey.click(page.get_by_role("navigation", name="Tom Hughes's record").get_by_role("link", name="Money", exact=True))
    payments = page.locator("[data-managed-payments]")
    expect(payments.locator("tr").filter(has_text=summary)).to_contain_text("Paid")
    journey.click(payments.get_by_role("link", name=summary))
    expect(h1(page)).to_contain_text(summary)
    expect(page.locator("[data-payment-details]")).to_contain_text(_pounds(net))
    expect(page.locator("form[data-approve-form], form[data-cancel-form]")).to_have_count(0)
