"""Browser journey for excess-balance reviews (issue 6), with axe-core and a CSP check on every page reached.

Omar (Harbour DPSS) opens Grace's excess-balance review, records "informal support increased" and
proposes a reclaim; Rachel (Northfield) approves it from her notification; David, Grace's authorised
person, sees the reclaim and the explanation, with whom to contact, on Grace's money page. It changes
what other journeys would see, so it has a server and database of its own.
"""

import re

import pytest
from playwright.sync_api import expect

from portal.services.clock import london_today
from tests.browser.conftest import AXE_OPTIONS, FAILING_IMPACTS, _axe, h1, menu, success

pytestmark = pytest.mark.browser

OMAR, RACHEL, DAVID = "omar@harbour.example", "rachel@northfield.example", "david@example.org"


def _main(page):
    return page.get_by_role("main")


def _govuk_conditional_radio(page, target) -> bool:
    """Whether an axe target is a GOV.UK radio whose conditional reveal GOV.UK Frontend gave aria-expanded."""
    return page.locator(", ".join(map(str, target))).evaluate(
        "el => el.matches('input.govuk-radios__input[type=radio][aria-controls][aria-expanded]')"
        " && !!document.getElementById(el.getAttribute('aria-controls'))?.classList.contains('govuk-radios__conditional')"
    )


def _check_page_with_conditional_radios(journey):
    """journey.check() for a page with GOV.UK radios that reveal a question, with ONE narrow allowance
    (as tests/browser/test_employment_journeys.py): GOV.UK Frontend sets aria-expanded on a radio that
    reveals a conditional question, which axe reports as aria-allowed-attr (critical); GOV.UK keeps it on
    purpose (alphagov/govuk-frontend#979). Only that rule on exactly those inputs is let through."""
    page = journey.page
    page.wait_for_load_state("load")
    failures = []
    for violation in _axe.run(page, options=AXE_OPTIONS).response["violations"]:
        if violation.get("impact") not in FAILING_IMPACTS:
            continue
        nodes = violation["nodes"]
        if violation["id"] == "aria-allowed-attr":
            nodes = [n for n in nodes if not _govuk_conditional_radio(page, n["target"])]
        if nodes:
            failures.append(f"{violation['id']} ({violation['impact']}): {violation['help']} -> {[n['target'] for n in nodes]}")
    assert not failures, f"axe-core: serious or critical violations on {page.url}:\n" + "\n".join(failures)
    journey.assert_no_csp_violations(page.url)


def _click_to_a_form(journey, locator):
    """Click through to a page whose form has conditional radios, and check it."""
    with journey.page.expect_navigation():
        locator.click()
    _check_page_with_conditional_radios(journey)


def test_omar_proposes_a_reclaim_rachel_approves_and_david_sees_why(fresh_journey):
    journey = fresh_journey
    page = journey.page
    today = london_today()

    # Omar finds Grace from his caseload, and her reviews from her money page.
    journey.sign_in(OMAR, staff=True)
    journey.click(menu(page).get_by_role("link", name="Caseload"))
    journey.click(_main(page).get_by_role("link", name=re.compile(r"Okafor, Grace|Grace Okafor")).first)
    journey.click(page.get_by_role("navigation", name="Grace Okafor's record").get_by_role("link", name="Money", exact=True))
    expect(page.locator("[data-excess]")).to_contain_text("Grace has £")
    journey.click(_main(page).get_by_role("link", name="Excess-balance reviews"))
    expect(h1(page)).to_have_text("Excess-balance reviews")
    rows = page.locator("[data-reviews] tbody tr")
    expect(rows).to_have_count(1)  # one review, brought up to date by each payment run while the balance stays high
    expect(rows.first).to_contain_text("To be worked by the support service")
    _click_to_a_form(journey, rows.first.get_by_role("link"))
    expect(h1(page)).to_have_text(re.compile(r"^Excess-balance review from "))
    expect(page.locator("[data-figures]")).to_contain_text("£2,200.00")

    # Nothing chosen: the error summary says what is missing.
    _click_to_a_form(journey, page.get_by_role("button", name="Save"))
    expect(page).to_have_title(re.compile(r"^Error: "))
    expect(page.locator(".govuk-error-summary")).to_contain_text("Select why the money built up")

    page.get_by_role("group", name="Why has the money built up?").get_by_label("Informal support increased").check()
    page.get_by_label("Note (optional)").fill("Grace's daughter-in-law now visits every morning.")
    proposals = page.get_by_role("group", name="What do you propose?")
    proposals.get_by_label("Reclaim part of the excess").check()
    amount = page.get_by_label("Amount to reclaim")
    expect(amount).to_be_visible()  # revealed by the choice
    amount.fill("1,500.00")
    journey.click(page.get_by_role("button", name="Save"))
    expect(success(page)).to_contain_text("Reclaim of £1,500.00 proposed. Northfield City Council has been told")
    expect(page.locator("[data-status]")).to_have_text("Waiting for the council")
    expect(page.locator("[data-proposal]")).to_contain_text("Informal support increased")
    journey.sign_out()

    # Rachel is told, and decides from the notification.
    journey.sign_in(RACHEL, staff=True)
    journey.click(menu(page).get_by_role("link", name=re.compile(r"^Messages")))
    note = page.locator("[data-notifications] li").filter(has_text="proposes returning £1,500.00 of Grace Okafor's")
    expect(note).to_have_count(1)
    _click_to_a_form(journey, note.get_by_role("link", name=re.compile("^View")))
    expect(page.locator("[data-proposal]")).to_contain_text("Omar Farah, Harbour DPSS")
    decision = page.get_by_role("group", name="Do you approve the reclaim?")
    decision.get_by_label("Yes, approve").check()
    journey.click(page.get_by_role("button", name="Send decision"))
    expect(success(page)).to_contain_text("Reclaim approved: £1,500.00 was taken from Grace Okafor's account")
    expect(page.locator("[data-status]")).to_have_text("Money returned")
    expect(page.locator("[data-decision]")).to_contain_text("Rachel Moss")
    journey.sign_out()

    # David is told, and Grace's money page explains it, with whom to contact to challenge it.
    journey.sign_in(DAVID)
    journey.click(menu(page).get_by_role("link", name=re.compile(r"^Messages")))
    note = page.locator("[data-notifications] li").filter(has_text="of Grace Okafor's direct payment was returned")
    expect(note).to_have_count(1)
    journey.click(note.get_by_role("link", name=re.compile("^View")))
    expect(h1(page)).to_have_text("Grace Okafor's money")
    reclaim = page.locator("[data-reclaim]")
    expect(reclaim).to_contain_text(
        f"£1,500.00 was returned to Northfield City Council on {today.day} {today:%B %Y} because more of the support "
        "came from family or friends, so less of the money was needed.")
    expect(reclaim).to_contain_text("If you disagree, contact Omar Farah at Harbour DPSS on")
    journey.click(reclaim.get_by_role("link", name=re.compile("^Read the review")))
    expect(page.locator("[data-explanation]")).to_contain_text("was returned to Northfield City Council")
    expect(page.locator("form[data-work-form], form[data-decision-form]")).to_have_count(0)


def test_without_javascript_omar_sees_every_question_of_the_review_form(journey_without_js):
    """Read-only (the session's shared server): with no JavaScript the revealed questions are all shown."""
    journey = journey_without_js
    page = journey.page
    journey.sign_in(OMAR, staff=True)
    journey.click(menu(page).get_by_role("link", name="Caseload"))
    journey.click(_main(page).get_by_role("link", name=re.compile(r"Okafor, Grace|Grace Okafor")).first)
    journey.click(page.get_by_role("navigation", name="Grace Okafor's record").get_by_role("link", name="Money", exact=True))
    journey.click(_main(page).get_by_role("link", name="Excess-balance reviews"))
    journey.click(page.locator("[data-reviews] tbody tr").first.get_by_role("link"))
    expect(page.get_by_label("Amount to reclaim")).to_be_visible()
    expect(page.get_by_label("What help has been offered?")).to_be_visible()
    expect(page.get_by_role("button", name="Save")).to_be_visible()
