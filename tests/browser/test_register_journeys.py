"""Browser journeys for the PA register (issue 5), with axe-core and a CSP check on every page reached.

(1) The issue's journey: David, acting for Grace, searches NF districts for a PA for Tuesday and
    Thursday mornings with dementia experience, finds Jay with the reasons shown, sends a contact
    request; Jay accepts; only then does David see Jay's full name and phone number. Once more with
    JavaScript off, for the search's GET form.
(2) Jay hides his profile (David's search and the profile's address stop finding him at once) and lists
    it again, and browses vacancies (Grace shown by first name and district only).
(3) David posts a vacancy for Grace with the times grid and sees its best matches.
(4) Omar (Harbour DPSS) verifies Jay's DBS check; Jay's own profile, and what David's search shows of
    it, then say Harbour DPSS verified it.
(5) Rachel (Northfield) reads the council's register counts.

Journeys that change what others would see get a server of their own (`fresh_live_server`); the
read-only ones share the session's.
"""

import re
from datetime import timedelta
from urllib.parse import parse_qs, urlsplit

import pytest
import sqlalchemy as sa
from playwright.sync_api import expect

from portal.extensions import db
from portal.services.clock import london_today
from tests.browser.conftest import h1, menu, success

pytestmark = pytest.mark.browser

DAVID, JAY, OMAR, RACHEL = "david@example.org", "jay.pa@example.org", "omar@harbour.example", "rachel@northfield.example"
JAYS_PHONE, DAVIDS_PHONE = "07700 900827", "07700 900461"
GRACES_VACANCY = "Morning support for my mother in NF4"
# The search as an address (the filters are a GET form, so this is what a bookmark holds).
NF_SEARCH = "/find-a-pa?districts=NF3+NF4+NF5&slots=tue-morning&slots=thu-morning&experience=dementia"


# Helpers ------------------------------------------------------------------------------------------


def _main(page):
    return page.get_by_role("main")


def _long(day) -> str:
    return f"{day.day} {day:%B %Y}"


def _fill_date(page, legend: str, day):
    group = page.get_by_role("group", name=legend, exact=True)
    group.get_by_label("Day").fill(str(day.day))
    group.get_by_label("Month").fill(str(day.month))
    group.get_by_label("Year").fill(str(day.year))


def _jays_profile_id(app) -> int:
    from portal.models import Person, User
    from portal.models.register import PAProfile

    with app.app_context():
        found = db.session.scalar(
            sa.select(PAProfile.id).join(Person, Person.id == PAProfile.person_id)
            .join(User, User.person_id == Person.id).where(User.email == JAY))
        db.session.remove()
    assert found, "the demo gives Jay a profile"
    return found


def _graces_id(journey) -> int:
    """From David's home page ("People you help"), the id in the link to Grace's record."""
    href = _main(journey.page).get_by_role("link", name="Grace Okafor").get_attribute("href")
    match = re.search(r"/people/(\d+)", href or "")
    assert match, href
    return int(match.group(1))


# (1) The journey: David finds Jay for Grace, asks; Jay accepts; David sees Jay's phone ----------


def _search_nf_for_tuesday_and_thursday_mornings_with_dementia(page):
    """Fill the filters: districts NF3 NF4 NF5, Tuesday and Thursday mornings, experience of dementia."""
    filters = page.locator("[data-search-form]")
    filters.get_by_label("Postcode districts").fill("NF3 NF4 NF5")
    grid = filters.get_by_role("group", name="When is support needed?")
    grid.get_by_label("Tuesday morning", exact=True).check()
    grid.get_by_label("Thursday morning", exact=True).check()
    filters.get_by_role("group", name="Experience of").get_by_label("Dementia", exact=True).check()


def _jays_result(page):
    return page.locator("[data-results] > li").filter(has=page.get_by_role("link", name="Jay S.", exact=True))


def _expect_jay_found_with_reasons(page):
    jay = _jays_result(page)
    expect(jay).to_have_count(1)
    reasons = jay.locator("[data-reasons]")
    for reason in ("Covers NF3, NF4 and NF5", "Available Tuesday and Thursday mornings", "Experience: dementia"):
        expect(reasons).to_contain_text(reason)
    expect(reasons).not_to_contain_text("not all the times")
    expect(jay).to_contain_text("Matches all your needs")
    return jay


def _expect_search_address(page):
    query = parse_qs(urlsplit(page.url).query)
    assert query.get("districts") == ["NF3 NF4 NF5"], page.url
    assert set(query.get("slots", [])) == {"tue-morning", "thu-morning"}, page.url
    assert query.get("experience") == ["dementia"], page.url


def test_david_finds_jay_for_grace_sends_a_request_jay_accepts_and_david_sees_jays_phone(fresh_journey):
    journey = fresh_journey
    page = journey.page
    message = "My mother Grace needs help on Tuesday and Thursday mornings. Could we talk?"

    # David opens Find a PA: it already lists PAs for Grace's district, NF4.
    journey.sign_in(DAVID)
    expect(h1(page)).to_have_text("People you help")
    grace = _graces_id(journey)
    journey.click(menu(page).get_by_role("link", name="Find a PA"))
    expect(h1(page)).to_have_text("Find a personal assistant")
    expect(page.locator("[data-searching-for]")).to_have_text("Searching for Grace Okafor")
    expect(page.get_by_label("Who are you looking for a PA for?")).to_have_value(str(grace))
    expect(page.get_by_label("Postcode districts")).to_have_value("NF4")
    expect(_main(page)).to_contain_text("Who cover NF4, where Grace lives.")
    expect(page.locator("[data-results] > li").first).to_be_visible()

    # He widens the search and ticks the times and experience: htmx updates the results in place and the
    # address follows, so it can be bookmarked.
    page.evaluate("window.__samePage = true")
    _search_nf_for_tuesday_and_thursday_mornings_with_dementia(page)
    with page.expect_response(lambda r: "/find-a-pa?" in r.url and r.request.headers.get("hx-request") == "true"):
        page.locator("[data-search-form]").get_by_role("button", name="Search").click()
    expect(page).to_have_url(re.compile(r"experience=dementia"))
    jay = _expect_jay_found_with_reasons(page)
    _expect_search_address(page)
    assert page.evaluate("window.__samePage === true"), "the page was reloaded: htmx did not update the results in place"
    expect(jay).not_to_contain_text("Singh")
    expect(_main(page)).not_to_contain_text(JAYS_PHONE)
    journey.check()

    # Jay's profile: first name and initial, no phone number or surname.
    journey.click(jay.get_by_role("link", name="Jay S.", exact=True))
    expect(h1(page)).to_have_text("Jay S.")
    expect(page.locator(".govuk-caption-l")).to_have_text("Personal assistant, for Grace Okafor")
    expect(page.locator("[data-summary]")).to_contain_text("NF3, NF4, NF5")
    expect(page.locator("[data-about]")).to_contain_text("I looked after my grandfather, who had dementia")
    expect(page.locator("[data-checks]")).to_contain_text("Not verified yet: a support service has been asked to check it")
    expect(_main(page)).not_to_contain_text("Singh")
    expect(_main(page)).not_to_contain_text(JAYS_PHONE)
    expect(_main(page)).not_to_contain_text("jay.pa@example.org")

    # He sends a contact request for Grace.
    journey.click(_main(page).get_by_role("button", name="Contact Jay", exact=True))
    expect(h1(page)).to_have_text("Contact Jay S.")
    expect(page.locator("[data-contact-for]")).to_have_text("For Grace Okafor")
    expect(_main(page)).to_contain_text("the area, NF4")
    expect(_main(page)).to_contain_text("(yours, not Grace's)")
    page.get_by_label("Your message").fill(message)
    journey.click(page.get_by_role("button", name="Send request"))
    expect(success(page)).to_contain_text(re.compile(
        r"Your request has been sent to Jay S\. You will see their phone number and email address if they accept\."))
    expect(h1(page)).to_have_text("Request to Jay S.")
    contact_path = urlsplit(page.url).path
    assert re.fullmatch(r"/register/contacts/\d+", contact_path), page.url
    expect(page.locator("[data-status]")).to_have_text("Waiting")
    expect(page.locator("[data-message]")).to_have_text(message)
    expect(_main(page)).to_contain_text("Jay has not answered yet.")
    expect(page.locator("[data-details]")).to_have_count(0)
    expect(_main(page)).not_to_contain_text(JAYS_PHONE)
    expect(_main(page)).not_to_contain_text("Singh")
    journey.sign_out()

    # Jay sees the request: David's first name and the area, nothing more, until he accepts.
    journey.sign_in(JAY)
    waiting = page.locator("[data-waiting-contacts]")
    expect(waiting).to_contain_text("Contact requests waiting for you: 2")  # David's, and Kim's for Sam from the demo
    journey.click(waiting.get_by_role("link"))
    expect(h1(page)).to_have_text("Contact requests")
    row = page.locator(f"[data-contacts] tbody tr[data-contact='{contact_path.rsplit('/', 1)[1]}']")
    expect(row).to_contain_text("David")
    expect(row).to_contain_text("NF4")
    expect(row).to_contain_text("Waiting")
    expect(page.locator("[data-contacts]")).not_to_contain_text("Okafor")
    journey.click(row.get_by_role("link", name=re.compile(r"^Open")))
    assert urlsplit(page.url).path == contact_path
    expect(h1(page)).to_have_text("Request from David")
    request = page.locator("[data-request]")
    expect(request).to_contain_text("David")
    expect(request).to_contain_text("NF4")
    expect(page.locator("[data-message]")).to_have_text(message)
    expect(page.locator("[data-details]")).to_have_count(0)
    expect(_main(page)).not_to_contain_text("Okafor")
    expect(_main(page)).not_to_contain_text(DAVIDS_PHONE)
    expect(_main(page)).not_to_contain_text(DAVID)
    journey.click(page.get_by_role("button", name="Accept"))
    expect(success(page)).to_contain_text("You accepted. You can now see David Okafor's phone number and email address, "
                                           "and they can see yours.")
    expect(page.locator("[data-status]")).to_have_text("Accepted")
    details = page.locator("[data-details]")
    expect(details).to_contain_text("David Okafor")  # the asker's, not Grace's
    expect(details).to_contain_text(DAVIDS_PHONE)
    expect(details.get_by_role("link", name=DAVID)).to_have_attribute("href", f"mailto:{DAVID}")
    expect(page.get_by_role("button", name="Accept")).to_have_count(0)
    journey.sign_out()

    # David is told, and now sees Jay's full name and phone number.
    journey.sign_in(DAVID)
    messages = menu(page).get_by_role("link", name=re.compile(r"^Messages"))
    journey.click(messages)
    expect(h1(page)).to_have_text("Notifications")
    news = page.locator("[data-notifications] > li").filter(has_text="Jay S. accepted your contact request.")
    expect(news).to_have_count(1)
    journey.click(news.get_by_role("link", name=re.compile(r"^View")))
    assert urlsplit(page.url).path == contact_path
    expect(h1(page)).to_have_text("Request to Jay S.")
    expect(page.locator("[data-status]")).to_have_text("Accepted")
    details = page.locator("[data-details]")
    expect(details).to_contain_text("Jay Singh")
    expect(details).to_contain_text(JAYS_PHONE)
    expect(details.get_by_role("link", name=JAY)).to_have_attribute("href", f"mailto:{JAY}")


def test_without_javascript_david_searches_with_the_get_form_and_finds_jay(journey_without_js):
    journey = journey_without_js
    page = journey.page
    journey.sign_in(DAVID)
    journey.click(menu(page).get_by_role("link", name="Find a PA"))
    expect(page.get_by_label("Postcode districts")).to_have_value("NF4")
    _search_nf_for_tuesday_and_thursday_mornings_with_dementia(page)
    journey.click(page.locator("[data-search-form]").get_by_role("button", name="Search"))  # a real page load
    _expect_search_address(page)
    expect(page.get_by_label("Postcode districts")).to_have_value("NF3 NF4 NF5")  # the page keeps the answers
    expect(page.get_by_label("Tuesday morning", exact=True)).to_be_checked()
    expect(page.get_by_label("Dementia", exact=True)).to_be_checked()
    jay = _expect_jay_found_with_reasons(page)

    # The address is the search: opened afresh (a bookmark), it gives the same results.
    bookmark = urlsplit(page.url)
    journey.goto(f"{bookmark.path}?{bookmark.query}")
    jay = _expect_jay_found_with_reasons(page)
    journey.click(jay.get_by_role("link", name="Jay S.", exact=True))
    expect(h1(page)).to_have_text("Jay S.")
    expect(_main(page)).not_to_contain_text(JAYS_PHONE)
    journey.click(_main(page).get_by_role("button", name="Contact Jay", exact=True))
    expect(h1(page)).to_have_text("Contact Jay S.")


# (2) Jay's register: hide and list again; vacancies show Grace by first name and district --------------


def test_jay_hides_and_lists_his_profile_and_browses_vacancies_without_surnames(journey):
    page = journey.page
    journey.sign_in(JAY)
    expect(h1(page)).to_have_text("Your work")
    expect(page.locator("[data-profile-state]")).to_contain_text("Listed")

    journey.click(menu(page).get_by_role("link", name="Your profile"))
    expect(h1(page)).to_have_text("Your register profile")
    listing = page.locator("[data-listing]")
    expect(listing).to_contain_text("Listed")
    expect(listing).to_contain_text("They see Jay S., never your full name or contact details")
    expect(page.locator("[data-summary]")).to_contain_text("NF3, NF4, NF5")
    expect(page.locator("[data-summary]")).to_contain_text("Jay S.")

    journey.click(listing.get_by_role("button", name="Hide my profile now"))
    expect(success(page)).to_contain_text("Your profile is hidden. Nobody looking for a PA can see it until you list it again.")
    expect(listing).to_contain_text("Hidden")
    expect(listing).to_contain_text("Nobody else can see your profile.")
    expect(listing.get_by_role("button", name="Hide my profile now")).to_have_count(0)
    # The home page says so too.
    journey.click(menu(page).get_by_role("link", name="Home"))
    expect(page.locator("[data-profile-state]")).to_contain_text("Hidden")
    journey.sign_out()

    # From that moment nobody finds him: not in David's search, and his profile's address is not found.
    journey.sign_in(DAVID)
    journey.goto(NF_SEARCH)
    expect(page.locator("[data-count]")).to_be_visible()
    expect(_jays_result(page)).to_have_count(0)
    page.goto(journey.server.url(f"/find-a-pa/{_jays_profile_id(journey.server.app)}"))
    journey.check()
    expect(h1(page)).to_have_text("Page not found")
    journey.sign_out()

    journey.sign_in(JAY)
    journey.click(menu(page).get_by_role("link", name="Your profile"))
    journey.click(listing.get_by_role("button", name="List my profile"))
    expect(success(page)).to_contain_text("Your profile is listed. People looking for a PA can find it now.")
    expect(listing).to_contain_text("Listed")
    expect(listing.get_by_role("button", name="Hide my profile now")).to_be_visible()

    # Vacancies in his districts: Grace's, shown with her first name and district only.
    journey.click(menu(page).get_by_role("link", name="Vacancies"))
    expect(h1(page)).to_have_text("Vacancies")
    expect(page.get_by_label("Postcode districts")).to_have_value("NF3 NF4 NF5")
    item = page.locator("[data-results] > li").filter(has=page.get_by_role("link", name=GRACES_VACANCY))
    expect(item).to_have_count(1)
    expect(item.locator("[data-who]")).to_have_text("Grace, NF4")
    expect(item).to_contain_text("You expressed interest")
    expect(_main(page)).not_to_contain_text("Okafor")

    journey.click(item.get_by_role("link", name=GRACES_VACANCY))
    expect(h1(page)).to_have_text(GRACES_VACANCY)
    expect(page.locator("[data-who]")).to_have_text("Grace, NF4")
    expect(page.locator("[data-interested]")).to_be_visible()  # his interest from the demo
    expect(_main(page)).not_to_contain_text("Okafor")
    expect(_main(page)).not_to_contain_text("David")


# (3) David posts a vacancy for Grace and sees its best matches ------------------------------------


def test_david_posts_a_vacancy_for_grace_with_the_times_grid_and_sees_best_matches(fresh_journey):
    journey = fresh_journey
    page = journey.page
    today = london_today()
    journey.sign_in(DAVID)
    expect(h1(page)).to_have_text("People you help")
    grace = _graces_id(journey)

    journey.click(_main(page).get_by_role("link", name="Grace Okafor"))
    journey.click(page.get_by_role("navigation", name="Grace Okafor's record").get_by_role("link", name="Vacancies"))
    expect(h1(page)).to_have_text("Vacancies")
    assert urlsplit(page.url).path == f"/people/{grace}/vacancies"
    expect(page.locator("[data-vacancies]")).to_contain_text(GRACES_VACANCY)
    journey.click(_main(page).get_by_role("button", name="Post a vacancy"))  # a link styled as a button
    expect(h1(page)).to_have_text("Post a vacancy")
    assert urlsplit(page.url).path == f"/people/{grace}/vacancies/new"
    expect(page.get_by_label("Postcode district")).to_have_value("NF4")  # Grace's own, to begin with

    # Sending it with nothing filled in lists every problem at once, and keeps nothing.
    journey.click(page.get_by_role("button", name="Post the vacancy"))
    expect(page).to_have_title(re.compile(r"^Error: "))
    summary = page.locator(".govuk-error-summary")
    expect(summary).to_be_focused()
    for field, message in (
        ("title", "Enter a short title, like ‘Morning support in NF4’"),
        ("hours_per_week", "Enter the hours a week, like 10"),
        ("slots", "Select at least one time of day when the support is needed"),
        ("support", "Select the support needed"),
        ("rate", "Enter the hourly rate, like 13.50"),
        ("closing_date", "Enter the closing date"),
    ):
        expect(summary.get_by_role("link", name=message)).to_have_attribute("href", f"#{field}")
    expect(page.locator("[data-vacancies]")).to_have_count(0)
    # The grid's error link lands on its first box (Monday early morning).
    summary.get_by_role("link", name="Select at least one time of day when the support is needed").click()
    expect(page.get_by_label("Monday early morning", exact=True)).to_be_focused()

    title = "Evening company and supper for Grace"
    page.get_by_label("Title", exact=True).fill(title)
    page.get_by_label("Hours a week").fill("6")
    grid = page.get_by_role("group", name="When is the support needed?")
    for slot in ("Tuesday morning", "Thursday morning", "Wednesday evening"):
        grid.get_by_label(slot, exact=True).check()
    page.get_by_role("group", name="Support needed").get_by_label("Cooking", exact=True).check()
    page.get_by_role("group", name="Support needed").get_by_label("Shopping", exact=True).check()
    page.get_by_role("group", name="Experience wanted (optional)").get_by_label("Dementia", exact=True).check()
    page.get_by_label("Hourly rate").fill("14.50")
    start, closing = today + timedelta(days=30), today + timedelta(days=14)
    _fill_date(page, "Start date", start)
    _fill_date(page, "Closing date", closing)
    page.get_by_label("Description (optional)").fill("Grace loves music <b>and</b> her garden.")
    journey.click(page.get_by_role("button", name="Post the vacancy"))

    expect(success(page)).to_contain_text(f"The vacancy ‘{title}’ has been posted. PAs who cover NF4 can now see it")
    expect(h1(page)).to_have_text(title)
    assert re.fullmatch(rf"/people/{grace}/vacancies/\d+", urlsplit(page.url).path), page.url
    details = page.locator("[data-details]")
    expect(details).to_contain_text("NF4")
    expect(details).to_contain_text(re.compile(r"Tuesday.*Thursday.*morning", re.S))
    expect(details).to_contain_text("£14.50")
    expect(details).to_contain_text(_long(closing))
    expect(page.locator("[data-description]")).to_have_text("Grace loves music <b>and</b> her garden.")  # as text

    # Best matches: listed PAs covering NF4, Jay among them with the reasons he matched.
    matches = page.locator("[data-matches] > li")
    expect(matches.first).to_be_visible()
    jay = matches.filter(has=page.get_by_role("link", name="Jay S.", exact=True))
    expect(jay).to_have_count(1)
    expect(jay.locator("[data-reasons]")).to_contain_text("NF4")
    expect(jay.locator("[data-reasons]")).to_contain_text(re.compile("dementia", re.I))
    expect(jay.get_by_role("link", name=re.compile(r"^Contact Jay S\."))).to_be_visible()
    expect(_main(page)).not_to_contain_text("Singh")
    expect(_main(page)).not_to_contain_text(JAYS_PHONE)

    # Grace's vacancies list it beside the demo's one.
    journey.click(page.get_by_role("link", name="Back to vacancies"))
    expect(page.locator("[data-vacancies] tbody tr")).to_have_count(2)
    expect(page.locator("[data-vacancies]")).to_contain_text(title)


# (4) Omar verifies Jay's DBS check -----------------------------------------------------------------------


def test_omar_verifies_jays_dbs_and_jays_profile_shows_harbour(fresh_journey):
    journey = fresh_journey
    page = journey.page
    today = london_today()

    journey.sign_in(JAY)
    journey.click(menu(page).get_by_role("link", name="Your profile"))
    dbs = page.locator("[data-checks] tr[data-check=dbs]")
    expect(dbs).to_contain_text("Waiting for Harbour DPSS to verify it")
    expect(page.locator("[data-verified-by]")).to_have_text("No support service has verified your checks yet.")
    journey.sign_out()

    journey.sign_in(OMAR, staff=True)
    expect(h1(page)).to_have_text("Hello Omar Farah")
    journey.click(_main(page).get_by_role("link", name=re.compile(r"^Checks to verify \(\d+\)$")))
    expect(h1(page)).to_have_text("Checks to verify")
    waiting = page.locator("[data-waiting] tbody tr").filter(has=page.get_by_role("link", name="Jay Singh"))
    expect(waiting).to_have_count(1)
    expect(waiting).to_contain_text("DBS")
    journey.click(waiting.get_by_role("link", name="Jay Singh"))
    expect(page.locator(".govuk-caption-l")).to_contain_text("Check to verify for Jay Singh")
    expect(_main(page)).to_contain_text("When you verify it, Jay's profile shows “verified by Harbour DPSS”")

    # No answer chosen: the error summary says so.
    journey.click(page.get_by_role("button", name="Send answer"))
    expect(page).to_have_title(re.compile(r"^Error: "))
    expect(page.locator(".govuk-error-summary")).to_contain_text("Select yes if you have seen the check and it is genuine")

    page.get_by_role("group", name="Have you seen the check and confirmed it is genuine?").get_by_label(
        "Yes, verify it").check()
    journey.click(page.get_by_role("button", name="Send answer"))
    expect(success(page)).to_contain_text("Jay Singh's DBS check (enhanced) is verified by Harbour DPSS.")
    expect(h1(page)).to_have_text("Checks to verify")
    expect(page.locator("[data-waiting] tbody tr").filter(has_text="Jay Singh")).to_have_count(0)
    answered = page.locator("[data-answered] tbody tr").filter(has=page.get_by_role("link", name="Jay Singh"))
    expect(answered.first).to_contain_text("Verified")
    journey.sign_out()

    journey.sign_in(JAY)
    journey.click(menu(page).get_by_role("link", name="Your profile"))
    expect(dbs).to_contain_text("Verified")
    expect(dbs.locator("[data-check-words]")).to_contain_text(f"Verified by Harbour DPSS on {_long(today)}")
    expect(page.locator("[data-verified-by]")).to_have_text("Harbour DPSS")
    journey.sign_out()

    # Those searching see it too: on his profile, and as a reason in the results.
    journey.sign_in(DAVID)
    journey.goto(NF_SEARCH)
    jay = _jays_result(page)
    expect(jay.locator("[data-reasons]")).to_contain_text("DBS verified")
    expect(jay.locator("[data-verified]")).to_contain_text(f"DBS verified by Harbour DPSS, {today:%B %Y}")
    journey.click(jay.get_by_role("link", name="Jay S.", exact=True))
    dbs = page.locator("[data-checks] tbody tr").filter(has_text="DBS")
    expect(dbs).to_contain_text("Verified")
    expect(dbs).to_contain_text(f"Verified by Harbour DPSS on {_long(today)}")
    expect(page.locator("[data-checks]")).not_to_contain_text("Brightpath")


# (5) Rachel reads the council's counts -------------------------------------------------------------------


def test_rachel_reads_northfields_register_counts(journey):
    page = journey.page
    journey.sign_in(RACHEL, staff=True)
    expect(h1(page)).to_have_text("Hello Rachel Moss")
    journey.click(_main(page).get_by_role("link", name="PAs on the register and vacancies in your districts"))
    assert urlsplit(page.url).path == "/register/council"
    expect(h1(page)).to_have_text("PAs on the register")
    expect(page.locator(".govuk-caption-l")).to_have_text("Northfield City Council")
    listed = int(page.locator("[data-figure=listed]").inner_text().replace(",", ""))
    assert listed >= 2, listed  # Sophie and Jay at least, with the generated PAs in NF districts
    expect(page.locator("[data-figure=open]")).not_to_have_text("0")  # David's vacancy for Grace
    by_district = page.locator("[data-by-district] tbody")
    for code in ("NF1", "NF2", "NF3", "NF4", "NF5"):
        expect(by_district.get_by_role("rowheader", name=code, exact=True)).to_be_visible()
    expect(by_district).not_to_contain_text("EM")  # Eastmoor's districts are not Northfield's
    expect(page.get_by_role("link", name="Download CSV of these counts")).to_have_attribute("href", "/register/council.csv")
