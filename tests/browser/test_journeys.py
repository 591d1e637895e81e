"""Real-browser journeys through the portal, with axe-core and a CSP check on every page reached.

The `journey` fixture (see conftest.py) runs axe-core (WCAG 2.2 A/AA and best practice, no rule
switched off) on each page it reaches and fails on a serious or critical violation, or on any
Content-Security-Policy violation in the browser console.
"""

import re
from dataclasses import dataclass
from typing import Callable

import pytest
from playwright.sync_api import expect
from tests.browser.conftest import h1

pytestmark = pytest.mark.browser


def _main(page):
    return page.get_by_role("main")


def _contact_card(page, title: str):
    return _main(page).locator(".govuk-summary-card").filter(has=page.get_by_role("heading", name=title, exact=True))


def _recipient_home(name: str, support_worker: str, council: str):
    def check(page):
        expect(h1(page)).to_have_text("Your direct payment")
        expect(_main(page)).to_contain_text(name)
        expect(_main(page)).to_contain_text(f"Hello {name.split()[0]}.")
        expect(_main(page)).to_contain_text(f"paid by {council}")
        expect(_main(page).get_by_role("heading", name="Who to contact for help")).to_be_visible()
        expect(_contact_card(page, "Your support worker")).to_contain_text(support_worker)
        expect(_contact_card(page, "Your council")).to_contain_text("Direct payments team")
        expect(_contact_card(page, "Your council")).to_contain_text(council)

    return check


def _representative_home(page):
    expect(h1(page)).to_have_text("People you help")
    expect(_main(page).get_by_role("link", name="Grace Okafor")).to_be_visible()
    expect(_main(page).get_by_role("link", name="Sam Okafor")).to_be_visible()


def _pa_home(name: str, employers: list[str]):
    def check(page):
        expect(h1(page)).to_have_text("Your work")
        expect(_main(page)).to_contain_text(name)
        employer_list = _main(page).get_by_role("list", name="Your employers")
        if employers:
            for employer in employers:
                expect(employer_list).to_contain_text(employer)
        else:
            expect(_main(page)).to_contain_text("You are not working for anyone")

    return check


def _staff_home(name: str, organisation: str, count: int, description: str):
    def check(page):
        expect(h1(page)).to_have_text(f"Hello {name}")
        expect(_main(page)).to_contain_text(organisation)
        expect(page.locator("[data-caseload-count]")).to_have_text(str(count))
        expect(_main(page)).to_contain_text(description)

    return check


def _admin_home(page):
    expect(page).to_have_url(re.compile(r"/admin$"))
    expect(h1(page)).to_have_text("Administration")


@dataclass
class Persona:
    email: str
    name: str
    staff: bool
    check_home: Callable

    def __str__(self):
        return self.email.split("@")[0].removesuffix(".pa")


PERSONAS = [
    Persona("amina@example.org", "Amina Patel", False, _recipient_home("Amina Patel", "Kim Bell", "Northfield City Council")),
    Persona("grace@example.org", "Grace Okafor", False, _recipient_home("Grace Okafor", "Omar Farah", "Northfield City Council")),
    Persona("david@example.org", "David Okafor", False, _representative_home),
    Persona("tom@example.org", "Tom Hughes", False, _recipient_home("Tom Hughes", "Kim Bell", "Northfield City Council")),
    Persona("sophie.pa@example.org", "Sophie Clarke", False, _pa_home("Sophie Clarke", ["Amina Patel"])),
    Persona("jay.pa@example.org", "Jay Singh", False, _pa_home("Jay Singh", [])),
    Persona("ellen@example.org", "Ellen Marsh", False, _recipient_home("Ellen Marsh", "Omar Farah", "Eastmoor County Council")),
    # Kim: Amina, Tom and Sam. Lee: all of Brightpath's cases (the same three in the demo).
    Persona("kim@brightpath.example", "Kim Bell", True, _staff_home("Kim Bell", "Brightpath Support", 3, "people on your caseload")),
    Persona("lee@brightpath.example", "Lee Adams", True, _staff_home("Lee Adams", "Brightpath Support", 3, "people on Brightpath Support's caseload")),
    # Omar: Grace and Ellen (Eastmoor's, but on Harbour's caseload).
    Persona("omar@harbour.example", "Omar Farah", True, _staff_home("Omar Farah", "Harbour DPSS", 2, "people on your caseload")),
    # Rachel: everyone Northfield funds, across both providers (Amina, Grace, Sam, Tom), never Ellen.
    Persona("rachel@northfield.example", "Rachel Moss", True, _staff_home("Rachel Moss", "Northfield City Council", 4, "people funded by Northfield City Council")),
    Persona("admin@example.org", "Site Admin", True, _admin_home),
]


@pytest.mark.parametrize("persona", PERSONAS, ids=str)
def test_each_persona_signs_in_sees_their_home_and_signs_out(journey, persona):
    journey.sign_in(persona.email, staff=persona.staff)
    page = journey.page
    persona.check_home(page)
    expect(page.get_by_text(f"Signed in as {persona.name}")).to_be_visible()
    journey.sign_out()


def test_david_sees_the_level_he_was_granted_for_each_person(journey):
    page = journey.page
    journey.sign_in("david@example.org")
    journey.click(_main(page).get_by_role("link", name="Grace Okafor"))
    expect(h1(page)).to_have_text("Grace Okafor's direct payment")
    expect(page.locator("[data-capacity]")).to_contain_text("You are managing Grace Okafor's direct payment")
    expect(page.get_by_text("You can look at this direct payment but not change anything")).to_have_count(0)

    journey.click(page.get_by_role("link", name="Back"))
    expect(h1(page)).to_have_text("People you help")
    journey.click(_main(page).get_by_role("link", name="Sam Okafor"))
    expect(h1(page)).to_have_text("Sam Okafor's direct payment")
    expect(page.locator("[data-capacity]")).to_contain_text("You can view Sam Okafor's direct payment")
    expect(page.get_by_text("You can look at this direct payment but not change anything")).to_be_visible()
    journey.sign_out()


def test_signing_in_and_out_works_without_javascript(journey_without_js):
    journey = journey_without_js
    journey.sign_in("amina@example.org")
    PERSONAS[0].check_home(journey.page)
    journey.sign_out()


def test_a_wrong_password_shows_the_error_summary(journey):
    page = journey.page
    journey.sign_in("amina@example.org", password="not-the-password")
    expect(page).to_have_title(re.compile(r"^Error: "))
    summary = page.locator(".govuk-error-summary")
    expect(summary).to_be_visible()
    expect(summary).to_be_focused()  # GOV.UK Frontend moves focus to the summary
    expect(summary.get_by_role("heading", name="There is a problem")).to_be_visible()
    expect(summary).to_contain_text("Enter a correct email address and password")
    # Each message links to its field.
    expect(summary.get_by_role("link", name="Enter a correct email address and password").first).to_have_attribute(
        "href", re.compile(r"^#")
    )
    expect(h1(page)).to_have_text("Sign in")
    expect(page.get_by_label("Email address")).to_have_value("amina@example.org")


ADMIN_PAGES = ["Accounts", "Organisations", "Sign-in limits", "Audit log", "Information pages"]


def test_admin_reaches_every_administration_page(journey):
    page = journey.page
    journey.sign_in("admin@example.org", staff=True)
    expect(h1(page)).to_have_text("Administration")
    for name in ADMIN_PAGES:
        journey.click(_main(page).get_by_role("link", name=name, exact=True))
        assert "/admin/" in page.url, page.url
        expect(h1(page)).to_be_visible()
        journey.goto("/admin")
    journey.sign_out()


def test_anyone_can_read_the_information_pages(journey):
    page = journey.page
    journey.goto("/")
    journey.click(page.get_by_role("navigation", name="Menu").get_by_role("link", name="Information and advice"))
    expect(h1(page)).to_have_text("Information and advice")
    guide_links = _main(page).get_by_role("heading", level=2).get_by_role("link")
    guides = [(link.inner_text(), link.get_attribute("href")) for link in guide_links.all()]
    assert guides, "no guide pages listed on /information"
    for title, href in guides:
        journey.goto(href)
        expect(h1(page)).to_have_text(title)
        expect(page.get_by_role("link", name="Back")).to_have_attribute("href", "/information")
    journey.click(page.locator("footer").get_by_role("link", name="Accessibility statement"))
    assert page.url.endswith("/accessibility"), page.url
    journey.click(page.locator("footer").get_by_role("link", name="Privacy notice"))
    assert page.url.endswith("/privacy"), page.url
