"""Budgets and support plans through the pages: add, check, confirm; change from a date; stop, restart, end.

DPSS managers (Lee) and council officers (Rachel) change budgets within their scope; caseworkers (Kim)
and representatives read them only; anyone outside the scope gets 404.
"""

import secrets
from datetime import date

import sqlalchemy as sa

from portal.extensions import db
from portal.models import (
    AuditEvent,
    Budget,
    BudgetKind,
    BudgetSuspension,
    BudgetVersion,
    Category,
    Delivery,
    DPAccount,
    PaymentMethod,
    SupportPlan,
    User,
)
from portal.services import budgets
from portal.services.budgets import Amounts
from tests.conftest import csrf_token, get_page, post_form, sign_in
from tests.helpers import person_id

RACHEL = "rachel@northfield.example"
LEE = "lee@brightpath.example"
KIM = "kim@brightpath.example"
OMAR = "omar@harbour.example"


def _date(day: int, month: int, year: int) -> list[str]:
    """A GOV.UK date input sends three values under one name."""
    return [str(day), str(month), str(year)]


NEW_BUDGET = {
    "kind": "ongoing",
    "delivery": "direct payment",
    "gross": "448.00",
    "contribution": "25.50",
    "pays": "net",
    "start_date": _date(6, 4, 2026),
    "end_date": ["", "", ""],
    "agreed_on": _date(16, 3, 2026),
    "first_payment": _date(6, 4, 2026),
    "method": "prepaid card",
    "card_reference": "NF-TOM-0001",
    "managed_by": "",
}


def make_budget(app, recipient_id: int, card: str = "NF-TEST-0001", start: date = date(2026, 4, 6)) -> int:
    with app.app_context():
        account = budgets.open_account(recipient_id, PaymentMethod.PREPAID_CARD, start, card_reference=card)
        budget = budgets.create_budget(
            recipient_id=recipient_id, account=account, kind=BudgetKind.ONGOING, delivery=Delivery.DIRECT_PAYMENT,
            start_date=start, agreed_on=start, first_payment_date=start, amounts=Amounts(44800, 2500),
        )
        db.session.commit()
        return budget.id


def audit_events(app, action: str) -> list[AuditEvent]:
    with app.app_context():
        events = db.session.scalars(sa.select(AuditEvent).where(AuditEvent.action == action).order_by(AuditEvent.id)).all()
        db.session.expunge_all()
        return list(events)


def user_id(app, email: str) -> int:
    with app.app_context():
        return db.session.scalar(sa.select(User.id).where(User.email == email))


def count(app, model) -> int:
    with app.app_context():
        return db.session.scalar(sa.select(sa.func.count()).select_from(model))


def error_summary(page_text: str) -> list[str]:
    from bs4 import BeautifulSoup

    soup = BeautifulSoup(page_text, "html.parser")
    summary = soup.find(class_="govuk-error-summary")
    assert summary is not None, "no error summary"
    links = summary.find_all("a")
    for link in links:  # every link in the summary goes to something on the page
        assert soup.find(id=link["href"].lstrip("#")), f"error summary links to missing {link['href']}"
    return [link.get_text(strip=True) for link in links]


def caption_of(page) -> str:
    return page.soup.find(attrs={"data-capacity": True}).get_text(strip=True)


def title_of(page_text: str) -> str:
    from bs4 import BeautifulSoup

    return BeautifulSoup(page_text, "html.parser").title.string.strip()


# Adding a budget ------------------------------------------------------------------------------------


def test_rachel_adds_a_prepaid_card_budget_for_tom_through_the_pages(app, client):
    tom = person_id(app, "Tom", "Hughes")
    sign_in(client, RACHEL)
    form_page = get_page(client, f"/people/{tom}/budgets/new")
    assert caption_of(form_page).startswith("You are viewing Tom Hughes's record")
    assert title_of(form_page.text).startswith("Add a budget")

    response = post_form(client, f"/people/{tom}/budgets/new", NEW_BUDGET)
    assert response.status_code == 302 and response.headers["Location"].endswith(f"/people/{tom}/budgets/new/check")
    assert count(app, Budget) == 0, "nothing is saved before the answers are checked"

    check = get_page(client, f"/people/{tom}/budgets/new/check")
    for shown in ("£448.00", "£25.50", "6 April 2026", "16 March 2026", "NF-TOM-0001", "No end date", "Net"):
        assert shown in check.text, shown
    change_links = [a["href"] for a in check.soup.find_all("a") if a.get_text(strip=True).startswith("Change")]
    assert f"/people/{tom}/budgets/new#gross" in change_links
    assert f"/people/{tom}/budgets/new#method" in change_links

    # "Change" goes back to the form with the answers filled in.
    again = get_page(client, f"/people/{tom}/budgets/new")
    assert again.soup.find("input", {"name": "gross"})["value"] == "448.00"
    assert again.soup.find("input", {"name": "card_reference"})["value"] == "NF-TOM-0001"
    assert [i["value"] for i in again.soup.find_all("input", {"name": "start_date"})] == ["6", "4", "2026"]

    response = post_form(client, f"/people/{tom}/budgets/new/check", {})
    assert response.status_code == 302
    done = get_page(client, response.headers["Location"])
    assert done.soup.find(class_="govuk-panel")
    assert "Budget added" in done.soup.h1.get_text()

    with app.app_context():
        budget = db.session.scalar(sa.select(Budget).where(Budget.recipient_id == tom))
        assert budget.kind == BudgetKind.ONGOING and budget.delivery == Delivery.DIRECT_PAYMENT
        assert (budget.start_date, budget.end_date) == (date(2026, 4, 6), None)
        assert (budget.agreed_on, budget.first_payment_date) == (date(2026, 3, 16), date(2026, 4, 6))
        assert budget.created_by_id == user_id(app, RACHEL)
        assert budget.account.method == PaymentMethod.PREPAID_CARD and budget.account.card_reference == "NF-TOM-0001"
        assert budget.account.recipient_id == tom
        [version] = budget.versions
        assert version.gross_weekly_pence == 44800 and type(version.gross_weekly_pence) is int
        assert version.contribution_weekly_pence == 2550 and type(version.contribution_weekly_pence) is int
        assert version.council_pays_net is True
        assert version.personal_budget_weekly_pence == 44800
        assert version.effective_from == date(2026, 4, 6)
        budget_id = budget.id

    [event] = audit_events(app, "budget.created")
    assert (event.record_id, event.acting_for_id, event.user_id) == (str(budget_id), tom, user_id(app, RACHEL))

    # The answers are used once: the check page now asks to start again, and nothing is added twice.
    assert "start again" in get_page(client, f"/people/{tom}/budgets/new/check").text
    post_form(client, f"/people/{tom}/budgets/new/check", {})
    assert count(app, Budget) == 1

    listing = get_page(client, f"/people/{tom}/budgets")
    for shown in ("£448.00", "£25.50", "NF-TOM-0001", "6 April 2026", "Being paid", "Change amounts", "Stop payments",
                  "End this budget", "Add a budget"):
        assert shown in listing.text, shown


def test_a_mixed_budget_on_a_managed_account_keeps_the_whole_budget_and_the_holder(app, client):
    sam = person_id(app, "Sam", "Okafor")
    sign_in(client, LEE)
    page = get_page(client, f"/people/{sam}/budgets/new")
    brightpath = next(o["value"] for o in page.soup.find("select", {"name": "managed_by"}).find_all("option")
                      if o.get_text(strip=True) == "Brightpath Support")
    data = {**NEW_BUDGET, "delivery": "mixed", "personal_budget": "£1,000", "gross": "600", "contribution": "",
            "pays": "gross", "method": "managed account", "card_reference": "typed then hidden", "managed_by": brightpath}
    assert post_form(client, f"/people/{sam}/budgets/new", data).status_code == 302
    check = get_page(client, f"/people/{sam}/budgets/new/check")
    assert "Managed account held by Brightpath Support" in check.text and "£1,000.00" in check.text
    assert post_form(client, f"/people/{sam}/budgets/new/check", {}).status_code == 302
    with app.app_context():
        budget = db.session.scalar(sa.select(Budget).where(Budget.recipient_id == sam))
        assert budget.delivery == Delivery.MIXED
        assert budget.account.method == PaymentMethod.MANAGED_ACCOUNT and budget.account.card_reference is None
        assert budget.account.managed_by_id == int(brightpath)
        [version] = budget.versions
        assert (version.gross_weekly_pence, version.personal_budget_weekly_pence) == (60000, 100000)
        assert (version.contribution_weekly_pence, version.council_pays_net) == (0, False)


def test_a_card_reference_already_in_use_is_refused_and_nothing_is_saved(app, client):
    tom, amina = person_id(app, "Tom", "Hughes"), person_id(app, "Amina", "Patel")
    make_budget(app, amina, card="NF-TOM-0001")
    accounts_before, budgets_before = count(app, DPAccount), count(app, Budget)
    sign_in(client, RACHEL)

    response = post_form(client, f"/people/{tom}/budgets/new", NEW_BUDGET)
    assert response.status_code == 200
    assert title_of(response.text).startswith("Error: ")
    assert "That card account reference belongs to another account" in error_summary(response.text)
    assert (count(app, DPAccount), count(app, Budget)) == (accounts_before, budgets_before)


def test_a_card_reference_taken_between_checking_and_confirming_is_refused_too(app, client):
    tom, amina = person_id(app, "Tom", "Hughes"), person_id(app, "Amina", "Patel")
    sign_in(client, RACHEL)
    assert post_form(client, f"/people/{tom}/budgets/new", NEW_BUDGET).status_code == 302
    make_budget(app, amina, card="NF-TOM-0001")  # someone else uses the reference meanwhile
    accounts_before = count(app, DPAccount)

    response = post_form(client, f"/people/{tom}/budgets/new/check", {})
    assert response.status_code == 200 and title_of(response.text).startswith("Error: ")
    assert "That card account reference belongs to another account" in error_summary(response.text)
    assert count(app, DPAccount) == accounts_before
    with app.app_context():
        assert db.session.scalar(sa.select(Budget.id).where(Budget.recipient_id == tom)) is None
    assert audit_events(app, "budget.created") == []


def test_bad_answers_get_gov_uk_error_messages(app, client):
    tom = person_id(app, "Tom", "Hughes")
    sign_in(client, RACHEL)
    bad = {**NEW_BUDGET, "kind": "", "gross": "four hundred", "contribution": "-3", "start_date": _date(31, 2, 2026),
           "agreed_on": ["16", "", "2026"], "first_payment": ["", "", ""], "card_reference": ""}
    response = post_form(client, f"/people/{tom}/budgets/new", bad)
    assert response.status_code == 200
    assert title_of(response.text).startswith("Error: Add a budget")
    messages = error_summary(response.text)
    for expected in (
        "Select the kind of budget",
        "Enter the weekly amount in pounds and pence, like 448.00",
        "Enter the weekly contribution in pounds and pence, like 25.00",
        "Start date must be a real date",
        "Date the direct payment was agreed must include a month",
        "Enter the first payment date",
        "Enter the card account reference",
    ):
        assert expected in messages, (expected, messages)
    # What was typed is shown back.
    assert 'value="four hundred"' in response.text

    empty = post_form(client, f"/people/{tom}/budgets/new", {**NEW_BUDGET, "gross": ""})
    assert "Enter the weekly amount, like 448.00" in error_summary(empty.text)

    # A rule of the service shows beside the answer it is about.
    early = post_form(client, f"/people/{tom}/budgets/new", {**NEW_BUDGET, "first_payment": _date(1, 3, 2026)})
    assert error_summary(early.text) == ["The first payment cannot be before the direct payment was agreed"]
    assert early.text.count('href="#first_payment"') == 1
    more = post_form(client, f"/people/{tom}/budgets/new", {**NEW_BUDGET, "contribution": "500"})
    assert error_summary(more.text) == ["The contribution cannot be more than the weekly amount"]
    assert count(app, Budget) == 0 and count(app, DPAccount) == 0


def test_check_answers_for_one_person_never_show_on_another_persons_check_page(app, client):
    tom, amina = person_id(app, "Tom", "Hughes"), person_id(app, "Amina", "Patel")
    sign_in(client, RACHEL)
    assert post_form(client, f"/people/{tom}/budgets/new", NEW_BUDGET).status_code == 302

    other = get_page(client, f"/people/{amina}/budgets/new/check")
    assert "NF-TOM-0001" not in other.text and "£448.00" not in other.text
    assert "start again" in other.text
    assert 'value="NF-TOM-0001"' not in get_page(client, f"/people/{amina}/budgets/new").text
    # Confirming on Amina's page saves nothing for either of them.
    post_form(client, f"/people/{amina}/budgets/new/check", {})
    assert count(app, Budget) == 0
    assert "NF-TOM-0001" in get_page(client, f"/people/{tom}/budgets/new/check").text


# Changing a budget ----------------------------------------------------------------------------------


def test_lee_changes_the_amounts_from_a_date_and_the_old_amounts_are_kept(app, client):
    tom = person_id(app, "Tom", "Hughes")
    budget_id = make_budget(app, tom)
    sign_in(client, LEE)
    url = f"/people/{tom}/budgets/{budget_id}/change"
    form_page = get_page(client, url)
    assert form_page.soup.find("input", {"name": "gross"})["value"] == "448.00", "starts from the amounts in force"

    answers = {"effective_from": _date(5, 10, 2026), "gross": "480.25", "contribution": "30", "pays": "net",
               "reason": "Review added 2 PA hours a week"}
    response = post_form(client, url, answers)
    assert response.status_code == 302 and response.headers["Location"].endswith(url + "/check")
    check = get_page(client, url + "/check")
    for shown in ("5 October 2026", "£480.25", "was £448.00", "£30.00", "Review added 2 PA hours a week"):
        assert shown in check.text, shown
    assert post_form(client, url + "/check", {}).status_code == 302

    with app.app_context():
        versions = db.session.scalars(
            sa.select(BudgetVersion).where(BudgetVersion.budget_id == budget_id).order_by(BudgetVersion.effective_from)
        ).all()
        assert [(v.effective_from, v.gross_weekly_pence, v.contribution_weekly_pence) for v in versions] == [
            (date(2026, 4, 6), 44800, 2500),
            (date(2026, 10, 5), 48025, 3000),
        ]
        assert versions[1].reason == "Review added 2 PA hours a week"
        assert versions[1].created_by_id == user_id(app, LEE)
    [event] = audit_events(app, "budget.changed")
    assert (event.record_id, event.acting_for_id) == (str(budget_id), tom)

    listing = get_page(client, f"/people/{tom}/budgets")
    assert "The new amounts start on 5 October 2026." in listing.text
    assert len(listing.soup.find_all(attrs={"data-version": True})) == 2

    # A second change from the same date is refused beside the date.
    again = post_form(client, url, answers)
    assert error_summary(again.text) == ["There is already a change from that date"]
    assert count(app, BudgetVersion) == 2


def test_stopping_restarting_and_ending_payments_each_need_a_reason_and_are_audited(app, client):
    tom = person_id(app, "Tom", "Hughes")
    budget_id = make_budget(app, tom)
    sign_in(client, LEE)
    base = f"/people/{tom}/budgets/{budget_id}"

    no_reason = post_form(client, base + "/suspend", {"starts_on": _date(1, 6, 2026), "reason": ""})
    assert error_summary(no_reason.text) == ["Enter the reason for stopping payments"]
    assert title_of(no_reason.text).startswith("Error: Stop payments")

    response = post_form(client, base + "/suspend", {"starts_on": _date(1, 6, 2026), "reason": "In hospital"})
    assert response.status_code == 302
    listing = get_page(client, f"/people/{tom}/budgets")
    assert "Payments stopped" in listing.text and "In hospital" in listing.text and "Restart payments" in listing.text

    early = post_form(client, base + "/resume", {"resumes_on": _date(1, 6, 2026), "reason": "Home again"})
    assert error_summary(early.text) == ["Payments must restart after the day they stopped"]
    response = post_form(client, base + "/resume", {"resumes_on": _date(15, 6, 2026), "reason": "Home again"})
    assert response.status_code == 302

    with app.app_context():
        [stop] = db.session.scalars(sa.select(BudgetSuspension).where(BudgetSuspension.budget_id == budget_id)).all()
        assert (stop.starts_on, stop.ends_on) == (date(2026, 6, 1), date(2026, 6, 15))
        assert (stop.reason, stop.resume_reason) == ("In hospital", "Home again")
        assert stop.created_by_id == user_id(app, LEE)

    response = post_form(client, base + "/end", {"last_day": _date(31, 3, 2027)})
    assert response.status_code == 302 and response.headers["Location"].endswith(base + "/end/check")
    with app.app_context():
        assert db.session.get(Budget, budget_id).end_date is None, "nothing changes before the confirmation"
    check = get_page(client, base + "/end/check")
    assert "31 March 2027" in check.text
    assert post_form(client, base + "/end/check", {}).status_code == 302
    with app.app_context():
        assert db.session.get(Budget, budget_id).end_date == date(2027, 3, 31)

    too_early = post_form(client, base + "/end", {"last_day": _date(1, 1, 2026)})
    assert error_summary(too_early.text) == ["The last day cannot be before the budget started"]

    for action in ("budget.suspended", "budget.resumed", "budget.ended"):
        [event] = audit_events(app, action)
        assert (event.record_id, event.acting_for_id, event.user_id) == (str(budget_id), tom, user_id(app, LEE)), action


# The support plan -----------------------------------------------------------------------------------


def test_rachel_writes_a_support_plan_with_two_lines(app, client):
    tom = person_id(app, "Tom", "Hughes")
    sign_in(client, RACHEL)
    url = f"/people/{tom}/plan/new"
    page = get_page(client, url)
    assert len(page.soup.find_all("select", {"name": lambda n: n and n.startswith("lines-")})) == 3

    more = post_form(client, url, {"add_line": "y", "lines-0-description": "Kept when adding a line"})
    assert more.status_code == 200 and not title_of(more.text).startswith("Error")
    assert 'value="Kept when adding a line"' in more.text
    assert 'name="lines-3-category"' in more.text

    plan = {
        "effective_from": _date(6, 4, 2026),
        "outcomes": "Get out to the allotment twice a week\nCook a hot meal every day",
        "cash_allowed_reason": "Pays the allotment society in cash",
        "lines-0-category": "PA wages", "lines-0-description": "Leon, personal care and cooking",
        "lines-0-amount": "560.00", "lines-0-hours": "12.5",
        "lines-1-category": "travel", "lines-1-description": "Taxis to the allotment", "lines-1-amount": "40",
        "lines-1-hours": "",
        "lines-2-category": "", "lines-2-description": "", "lines-2-amount": "", "lines-2-hours": "",
    }
    response = post_form(client, url, plan)
    assert response.status_code == 302 and response.headers["Location"].endswith(url + "/check")
    check = get_page(client, url + "/check")
    for shown in ("6 April 2026", "PA wages", "Taxis to the allotment", "£560.00", "£40.00", "£600.00", "12.5",
                  "Pays the allotment society in cash"):
        assert shown in check.text, shown
    assert post_form(client, url + "/check", {}).status_code == 302

    with app.app_context():
        saved = db.session.scalar(sa.select(SupportPlan).where(SupportPlan.recipient_id == tom))
        assert saved.effective_from == date(2026, 4, 6)
        assert saved.cash_allowed_reason == "Pays the allotment society in cash"
        assert saved.created_by_id == user_id(app, RACHEL)
        lines = [(ln.category, ln.description, ln.amount_per_4_weeks_pence, ln.hours_per_week) for ln in saved.lines]
        assert lines == [
            (Category.PA_WAGES, "Leon, personal care and cooking", 56000, 12.5),
            (Category.TRAVEL, "Taxis to the allotment", 4000, None),
        ]
        assert all(type(line.amount_per_4_weeks_pence) is int for line in saved.lines)
        plan_id = saved.id
    [event] = audit_events(app, "plan.created")
    assert (event.record_type, event.record_id, event.acting_for_id) == ("support_plan", str(plan_id), tom)

    listing = get_page(client, f"/people/{tom}/budgets")
    table = listing.soup.find(attrs={"data-plan-lines": True})
    assert "Leon, personal care and cooking" in table.text and "£600.00" in table.text
    assert "Change the support plan" in listing.text

    # Changing the plan starts from the plan in force, and one plan per day.
    again = get_page(client, url)
    assert again.soup.find("input", {"name": "lines-1-description"})["value"] == "Taxis to the allotment"
    clash = post_form(client, url, plan)
    assert error_summary(clash.text) == ["There is already a support plan from 6 April 2026. Enter a different date"]


def test_a_plan_needs_a_line_and_each_line_needs_its_parts(app, client):
    tom = person_id(app, "Tom", "Hughes")
    sign_in(client, LEE)
    url = f"/people/{tom}/plan/new"
    none = post_form(client, url, {"effective_from": _date(6, 4, 2026), "outcomes": "Stay at home"})
    assert error_summary(none.text) == ["Add at least one support line"]

    partial = post_form(client, url, {
        "effective_from": _date(6, 4, 2026), "outcomes": "Stay at home",
        "lines-0-category": "homecare", "lines-0-description": "", "lines-0-amount": "12.345", "lines-0-hours": "200",
        "lines-1-category": "", "lines-1-description": "", "lines-1-amount": "", "lines-1-hours": "",
        "lines-2-category": "", "lines-2-description": "Respite weekend", "lines-2-amount": "", "lines-2-hours": "",
    })
    assert title_of(partial.text).startswith("Error: ")
    assert error_summary(partial.text) == [
        "Enter what line 1 is for",
        "Enter the amount for 4 weeks for line 1 in pounds and pence, like 560.00",
        "Hours a week for line 1 must be 168 or fewer",
        "Select the category of line 3",
        "Enter the amount for 4 weeks for line 3, like 560.00",
    ]
    assert count(app, SupportPlan) == 0

    # Answers wait in the session cookie: a plan too long for a browser to keep is refused, not lost.
    long_outcomes = " ".join(secrets.token_hex(8) for _ in range(400))
    too_long = post_form(client, url, {
        "effective_from": _date(6, 4, 2026), "outcomes": long_outcomes,
        "lines-0-category": "homecare", "lines-0-description": "Morning calls", "lines-0-amount": "300",
    })
    assert error_summary(too_long.text) == [
        "The plan is too long to check in one go. Shorten the outcomes or the descriptions of the lines"
    ]
    assert "start again" in get_page(client, url + "/check").text


# Who may do what ------------------------------------------------------------------------------------


def test_kim_reads_budgets_but_gets_403_on_every_change_page(app, client):
    tom = person_id(app, "Tom", "Hughes")
    budget_id = make_budget(app, tom)
    sign_in(client, KIM)
    listing = get_page(client, f"/people/{tom}/budgets")
    assert "£448.00" in listing.text
    for words in ("Add a budget", "Change amounts", "Stop payments", "End this budget", "support plan</a>"):
        assert words not in listing.text, words

    base = f"/people/{tom}/budgets/{budget_id}"
    pages = [f"/people/{tom}/budgets/new", f"/people/{tom}/budgets/new/check", f"/people/{tom}/plan/new",
             f"/people/{tom}/plan/new/check", base + "/added", base + "/change", base + "/change/check",
             base + "/suspend", base + "/resume", base + "/end", base + "/end/check"]
    token = csrf_token(client.get("/account").text)
    for url in pages:
        assert client.get(url).status_code == 403, url
        if not url.endswith("/added"):
            assert client.post(url, data={"csrf_token": token, **NEW_BUDGET}).status_code == 403, url
    assert count(app, Budget) == 1 and count(app, BudgetSuspension) == 0


def test_out_of_scope_records_are_not_found(app):
    amina, tom, ellen = person_id(app, "Amina", "Patel"), person_id(app, "Tom", "Hughes"), person_id(app, "Ellen", "Marsh")
    tom_budget = make_budget(app, tom)
    omar = app.test_client()
    sign_in(omar, OMAR)
    get_page(omar, f"/people/{amina}/budgets", status=404)
    assert omar.get(f"/people/{tom}/budgets/{tom_budget}/change").status_code == 403  # a caseworker

    rachel = app.test_client()
    sign_in(rachel, RACHEL)
    get_page(rachel, f"/people/{ellen}/budgets", status=404)  # Eastmoor's, not Northfield's
    get_page(rachel, f"/people/{ellen}/budgets/new", status=404)

    lee = app.test_client()
    sign_in(lee, LEE)
    # A budget is only found through the person it belongs to.
    get_page(lee, f"/people/{amina}/budgets/{tom_budget}/change", status=404)
    get_page(lee, f"/people/{amina}/budgets/{tom_budget}/suspend", status=404)
    get_page(lee, f"/people/{tom}/budgets/999999/end", status=404)
    token = csrf_token(lee.get("/account").text)
    response = lee.post(f"/people/{amina}/budgets/{tom_budget}/suspend",
                        data={"csrf_token": token, "starts_on": _date(1, 6, 2026), "reason": "Wrong person"})
    assert response.status_code == 404
    assert count(app, BudgetSuspension) == 0


def test_a_view_level_representative_reads_budgets_but_cannot_change_them(app, client):
    sam = person_id(app, "Sam", "Okafor")
    budget_id = make_budget(app, sam)
    sign_in(client, "david@example.org")
    listing = get_page(client, f"/people/{sam}/budgets")
    assert caption_of(listing).startswith("You can view Sam Okafor's direct payment")
    assert "£448.00" in listing.text and "Change amounts" not in listing.text and "Add a budget" not in listing.text

    token = csrf_token(listing.text)
    assert client.get(f"/people/{sam}/budgets/new").status_code == 403
    assert client.post(f"/people/{sam}/budgets/new", data={"csrf_token": token, **NEW_BUDGET}).status_code == 403
    assert client.post(f"/people/{sam}/budgets/{budget_id}/suspend",
                       data={"csrf_token": token, "starts_on": _date(1, 6, 2026), "reason": "x"}).status_code == 403
    assert count(app, Budget) == 1 and count(app, BudgetSuspension) == 0


def test_the_recipient_reads_their_own_budgets(app, client):
    tom = person_id(app, "Tom", "Hughes")
    make_budget(app, tom)
    sign_in(client, "tom@example.org")
    listing = get_page(client, f"/people/{tom}/budgets")
    assert caption_of(listing) == "This is your direct payment"
    assert "NF-TEST-0001" in listing.text
    assert "Change amounts" not in listing.text
    get_page(client, f"/people/{person_id(app, 'Amina', 'Patel')}/budgets", status=404)


def test_the_demo_budgets_and_plans_read_well_and_a_plan_change_starts_from_the_plan_in_force(money_app):
    amina, tom = person_id(money_app, "Amina", "Patel"), person_id(money_app, "Tom", "Hughes")
    lee = money_app.test_client()
    sign_in(lee, LEE)
    listing = get_page(lee, f"/people/{amina}/budgets")
    assert "Prepaid card, account reference NF-CARD-000101" in listing.text
    table = listing.soup.find(attrs={"data-plan-lines": True})
    assert "Personal assistants (Sophie and Joan)" in table.text and "£1,616.00" in table.text
    assert "Managed account held by Brightpath Support" in get_page(lee, f"/people/{tom}/budgets").text

    plan_form = get_page(lee, f"/people/{amina}/plan/new")
    assert plan_form.soup.find("input", {"name": "lines-0-description"})["value"] == "Personal assistants (Sophie and Joan)"
    assert plan_form.soup.find("input", {"name": "lines-0-amount"})["value"] == "1616.00"
    assert plan_form.soup.find("input", {"name": "lines-0-hours"})["value"] == "30"
    assert plan_form.soup.find("input", {"name": "lines-6-description"})["value"] == "", "one blank line to add to"


def test_changes_need_a_csrf_token(app, client):
    tom = person_id(app, "Tom", "Hughes")
    sign_in(client, RACHEL)
    response = client.post(f"/people/{tom}/budgets/new", data=NEW_BUDGET)
    assert response.status_code == 400
    assert count(app, Budget) == 0
