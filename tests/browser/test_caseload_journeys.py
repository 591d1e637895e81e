"""Browser journeys for the caseload (issue 6), with axe-core and a CSP check on every page reached.

Lee (Brightpath manager) searches his caseload, sorts it (htmx swaps only the results), gives Tom to
another caseworker and finds him under her name; Kim records Tom's set-up dates and closes his case,
and Lee opens it again; Rachel (Northfield) moves Amina to Eastmoor and no longer sees her. Each
changes what other journeys would see, so each has a server and database of its own.
"""

import re
from datetime import date, timedelta

import pytest
import sqlalchemy as sa
from playwright.sync_api import expect

from portal.extensions import db
from portal.models import Organisation, Role, User
from portal.services.clock import london_today
from tests.browser.conftest import h1, menu, success
from tests.helpers import person_id

pytestmark = pytest.mark.browser

LEE, KIM, RACHEL = "lee@brightpath.example", "kim@brightpath.example", "rachel@northfield.example"
NEW_WORKER = "Nia Rowe"


def _main(page):
    return page.get_by_role("main")


def _caption(page):
    return page.locator("#results [data-caseload] caption")


def _rows(page):
    return page.locator("#results [data-caseload] tbody tr[data-person]")


def _add_caseworker(app, display_name: str) -> int:
    """A second Brightpath caseworker (as tests/test_case_lifecycle.py's _add_staff)."""
    with app.app_context():
        kim = db.session.scalar(sa.select(User).where(User.email == KIM))
        brightpath = db.session.scalar(sa.select(Organisation.id).where(Organisation.name.like("Brightpath%")))
        user = User(email="nia@brightpath.example", display_name=display_name, role=Role.DPSS_CASEWORKER,
                    organisation_id=brightpath, password_hash=kim.password_hash, totp_secret=kim.totp_secret)
        db.session.add(user)
        db.session.commit()
        user_id = user.id
        db.session.remove()
        return user_id


def _htmx_update(journey, action, url_pattern):
    """Do something that htmx answers by swapping the results (no navigation): wait for its response,
    for htmx to finish every request and swap, and for the pushed address; then check the page."""
    page = journey.page
    with page.expect_response(lambda r: "/caseload" in r.url and r.request.headers.get("hx-request") == "true"):
        action()
    expect(page.locator(".htmx-request, .htmx-swapping, .htmx-settling")).to_have_count(0)
    expect(page).to_have_url(url_pattern)
    journey.check()


def test_lee_searches_sorts_and_reassigns_tom(fresh_journey):
    journey = fresh_journey
    page = journey.page
    _add_caseworker(journey.server.app, NEW_WORKER)

    journey.sign_in(LEE, staff=True)
    journey.click(menu(page).get_by_role("link", name="Caseload"))
    expect(h1(page)).to_have_text("Caseload")
    expect(_rows(page).filter(has_text="Hughes, Tom")).to_have_count(1)

    # Search: type a name and press Apply; only Sam Okafor is Brightpath's.
    page.get_by_label("Name, reference or postcode district").fill("okafor")
    _htmx_update(journey, page.get_by_role("button", name="Apply").click, re.compile(r"/caseload\?.*q=okafor"))
    expect(_caption(page)).to_contain_text("1 person matching ‘okafor’")
    expect(_rows(page)).to_have_count(1)
    expect(_rows(page).first).to_contain_text("Okafor, Sam")

    # Sorting swaps only the results: a marker set on the heading outside #results survives, the
    # address is pushed, and the results hold no second page.
    journey.click(page.get_by_role("link", name="Clear search and filters"))
    expect(_rows(page).filter(has_text="Hughes, Tom")).to_have_count(1)
    page.evaluate("document.querySelector('h1').dataset.kept = 'yes'; window.portalMarker = 'still here'")
    _htmx_update(journey, lambda: page.get_by_label("Sort by").select_option(label="Area"),
                 re.compile(r"/caseload\?.*sort=area"))
    expect(_caption(page)).to_contain_text("sorted by area")
    expect(h1(page)).to_have_attribute("data-kept", "yes")
    assert page.evaluate("window.portalMarker") == "still here"
    expect(page.locator("h1")).to_have_count(1)
    expect(page.locator("#results form[role=search]")).to_have_count(0)

    # Give Tom to the new caseworker.
    page.get_by_label("Select Tom Hughes").check()
    page.get_by_label("Give the selected cases to").select_option(label=NEW_WORKER)
    journey.click(page.get_by_role("button", name="Reassign selected cases"))
    expect(success(page)).to_contain_text(f"1 case given to {NEW_WORKER}.")
    expect(_rows(page).filter(has_text="Hughes, Tom")).to_contain_text(NEW_WORKER)

    # Filter by caseworker: Tom is the new caseworker's only case.
    _htmx_update(journey, lambda: page.get_by_label("Caseworker", exact=True).select_option(label=NEW_WORKER),
                 re.compile(r"/caseload\?.*caseworker=\d+"))
    expect(_rows(page)).to_have_count(1)
    expect(_rows(page).first).to_contain_text("Hughes, Tom")
    expect(_rows(page).first).to_contain_text(NEW_WORKER)


def test_kim_records_set_up_and_closes_toms_case_and_lee_reopens_it(fresh_journey):
    journey = fresh_journey
    page = journey.page
    tom = person_id(journey.server.app, "Tom", "Hughes")
    today = london_today()

    journey.sign_in(KIM, staff=True)
    journey.goto(f"/people/{tom}/case")
    expect(h1(page)).to_have_text("Tom Hughes's case")
    journey.click(page.get_by_role("navigation", name="Tom Hughes's record").get_by_role("link", name="Set-up and history"))
    expect(h1(page)).to_have_text("Set-up and case history")

    # The set-up dates: each on or after the one before, none after the first payment (if made).
    details = page.locator("details", has_text="Change the set-up dates")
    if details.get_attribute("open") is None:
        details.locator("summary").click()
    first = page.get_by_role("group", name="First payment made (if done)", exact=True)
    year = first.get_by_label("Year").input_value()
    last = today
    if year:  # filled in by the payment run
        last = date(int(year), int(first.get_by_label("Month").input_value()), int(first.get_by_label("Day").input_value()))
    steps = {
        "Council decided on a direct payment": last - timedelta(days=40),
        "Direct payment agreement signed (if done)": last - timedelta(days=25),
        "Account or card opened (if done)": last - timedelta(days=10),
    }
    for legend, day in steps.items():
        group = page.get_by_role("group", name=legend, exact=True)
        group.get_by_label("Day").fill(str(day.day))
        group.get_by_label("Month").fill(str(day.month))
        group.get_by_label("Year").fill(str(day.year))
    journey.click(page.get_by_role("button", name="Save set-up dates"))
    expect(success(page)).to_contain_text("Set-up dates saved.")
    decided = steps["Council decided on a direct payment"]
    expect(page.locator("[data-setup-steps]")).to_contain_text(f"{decided.day} {decided:%B %Y}")

    # Close the case.
    journey.click(_main(page).get_by_role("link", name="Close this case"))
    expect(h1(page)).to_have_text("Close Tom Hughes's case")
    page.get_by_role("group", name="Why is the case closing?").get_by_label(
        "Chose to manage without the support service").check()
    journey.click(page.get_by_role("button", name="Close the case"))
    expect(success(page)).to_contain_text("Tom Hughes's case is closed. It stays on your list under ‘Closed cases’.")
    expect(_main(page)).to_contain_text("chose to manage without the support service")

    # On her caseload, under "Closed cases".
    journey.click(menu(page).get_by_role("link", name="Caseload"))
    expect(_rows(page).filter(has_text="Hughes, Tom")).to_have_count(0)
    _htmx_update(journey, page.get_by_role("group", name="Cases").get_by_label("Closed cases").check,
                 re.compile(r"/caseload\?.*status=closed"))
    toms = _rows(page).filter(has_text="Hughes, Tom")
    expect(toms).to_have_count(1)
    expect(toms).to_contain_text(f"Closed {today.day} {today:%B %Y}")
    journey.sign_out()

    # Lee opens it again.
    journey.sign_in(LEE, staff=True)
    journey.goto(f"/people/{tom}/set-up")
    journey.click(page.get_by_role("button", name="Open the case again"))
    expect(success(page)).to_contain_text("Tom Hughes's case is open again.")
    expect(_main(page).get_by_role("link", name="Close this case")).to_be_visible()


def test_rachel_moves_amina_to_eastmoor(fresh_journey):
    journey = fresh_journey
    page = journey.page
    amina = person_id(journey.server.app, "Amina", "Patel")

    journey.sign_in(RACHEL, staff=True)
    journey.goto(f"/people/{amina}/move")
    expect(h1(page)).to_have_text("Move Amina Patel to another support service or council")
    page.get_by_label("Council that will fund them").select_option(label="Eastmoor County Council")
    page.get_by_label("Why are they moving?").fill("Amina has moved to Eastmoor.")
    journey.click(page.get_by_role("button", name="Move this person"))
    expect(h1(page)).to_have_text("People we fund")
    expect(success(page)).to_contain_text(
        "Amina Patel has moved to Eastmoor County Council. Your organisation no longer sees their records.")
    expect(_rows(page).first).to_be_visible()
    expect(_rows(page).filter(has_text="Patel, Amina")).to_have_count(0)
