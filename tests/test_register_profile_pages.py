"""The PA's own register pages: creating, changing, listing, hiding and deleting a profile, the photo,
and the PA's home page. Jay (listed, NF3 to NF5) and Sophie are the demo PAs; a PA with no profile yet
is made through the DPSS's invitation (tests/test_register_verification_pages.py tests the invitation)."""

import io
import os

import pytest
import sqlalchemy as sa
from PIL import Image, ImageDraw, ImageFont

from portal import access
from portal.extensions import db
from portal.models import Person, User
from portal.models.register import (
    ContactRequest,
    PAProfile,
    ProfileCheck,
    ProfileDistrict,
    VacancyInterest,
    VerificationRequest,
)
from portal.services import contact_details
from portal.services.register_options import LANGUAGES, SUPPORT, keys_of, slot_keys
from portal.storage import Storage
from tests.conftest import csrf_token, get_page, post_form, sign_in

JAY = "jay.pa@example.org"
SOPHIE = "sophie.pa@example.org"
FONT = "/usr/share/fonts/truetype/dejavu/DejaVuSans.ttf"


def profile_of(app, email: str) -> PAProfile | None:
    with app.app_context():
        person_id = db.session.scalar(sa.select(User.person_id).where(User.email == email))
        profile = db.session.scalar(sa.select(PAProfile).where(PAProfile.person_id == person_id))
        if profile is not None:
            profile.district_codes  # load before leaving the context  # noqa: B018
            db.session.expunge(profile)
        return profile


def listed_ids(app) -> set[int]:
    """What anyone searching the register starts from."""
    with app.app_context():
        return set(db.session.scalars(access.listed_profiles().with_only_columns(PAProfile.id)))


def valid_answers(**changes) -> dict:
    answers = {
        "districts": "nf3, NF4 nf5",
        "drives": "yes",
        "availability": ["tue-morning", "thu-morning", "tue-early"],
        "support_offered": ["personal_care", "cooking"],
        "experience": ["dementia"],
        "languages": ["en", "pa"],
        "gender": "man",
        "hours_wanted": "30",
        "rate": "£13.50",
        "about": "I am patient and I drive.",
    }
    answers.update(changes)
    return {key: value for key, value in answers.items() if value is not None}


def png(draw_text: str | None = None) -> bytes:
    picture = Image.new("RGB", (640, 360), (236, 240, 244))
    pen = ImageDraw.Draw(picture)
    if draw_text:
        pen.text((30, 150), draw_text, fill=(0, 0, 0), font=ImageFont.truetype(FONT, 40))
    else:
        pen.ellipse((250, 60, 390, 220), fill=(205, 160, 120))  # a head and shoulders, no words
        pen.rectangle((200, 230, 440, 360), fill=(40, 80, 140))
    out = io.BytesIO()
    picture.save(out, "PNG")
    return out.getvalue()


def stored_files(app) -> set[str]:
    folder = app.config["EVIDENCE_FOLDER"]
    return set(os.listdir(folder)) if os.path.isdir(folder) else set()


@pytest.fixture
def jay(client):
    sign_in(client, JAY)
    return client


# Reading -----------------------------------------------------------------------------------------


def test_jays_profile_shows_his_answers_checks_activity_and_listing(app, jay):
    page = get_page(jay, "/register/profile")
    summary = page.soup.find(attrs={"data-summary": True}).get_text(" ", strip=True)
    assert "Jay S." in summary and "NF3, NF4, NF5" in summary and "£13.00 an hour" in summary
    assert "Tuesday and Thursday early mornings" in summary and "Dementia" in summary and "Punjabi" in summary
    assert "Singh" not in summary  # others see the initial; the page says so
    assert page.soup.find(attrs={"data-listing": True}).find("strong").get_text() == "Listed"
    assert page.soup.find("button", attrs={"data-listing-button": True}).get_text(strip=True) == "Hide my profile now"
    checks = {row["data-check"]: row.get_text(" ", strip=True) for row in page.soup.select("[data-check]")}
    assert "Waiting for Harbour DPSS to verify it" in checks["dbs"]
    assert "Expiring soon" not in checks["first_aid"] and "Not verified" in checks["first_aid"]  # unverified, expires in 21 days
    assert "No support service has verified your checks yet" in page.soup.find(attrs={"data-verified-by": True}).get_text()
    # The demo's counts for Jay: 10 views and Kim's request over the last fortnight (numbers, never names).
    assert "Viewed 10 times and contacted 1 time in the last 30 days" in page.text
    # The availability grid, read-only: a cell per day and part of the day, Tuesday morning ticked.
    grid = page.soup.find("table", attrs={"data-availability": True})
    tuesday = next(row for row in grid.find_all("tr") if row.th and row.th.get_text() == "Tuesday")
    assert [cell.get_text(strip=True) for cell in tuesday.find_all("td")][:3] == ["Yes", "Yes", "–No"]  # "–" is hidden from screen readers


def test_sophies_profile_names_the_provider_that_verified_her_checks(app, client):
    sign_in(client, SOPHIE)
    page = get_page(client, "/register/profile")
    checks = {row["data-check"]: row.get_text(" ", strip=True) for row in page.soup.select("[data-check]")}
    assert "Verified by Brightpath Support on 3 March 2026" in checks["dbs"]
    assert [li.get_text() for li in page.soup.find(attrs={"data-verified-by": True}).find_all("li")] == ["Brightpath Support"]


def test_activity_is_counts_only(app, jay):
    from portal.services import register

    with app.app_context():
        profile = db.session.scalar(sa.select(PAProfile).join(User, User.person_id == PAProfile.person_id)
                                    .where(User.email == JAY))
        before = register.activity(profile)  # the demo's 10 views and Kim's request
        for email in ("david@example.org", "kim@brightpath.example", "amina@example.org"):
            register.record_view(profile, db.session.scalar(sa.select(User).where(User.email == email)))
        register.record_contact(profile.id)
        db.session.commit()
    page = get_page(jay, "/register/profile")
    assert f"Viewed {before.views + 3} times and contacted {before.contacts + 1} times in the last 30 days" in page.text
    assert "David" not in page.text and "Kim" not in page.text


def test_other_roles_may_not_open_a_pas_profile_pages(app, client):
    sign_in(client, "david@example.org")
    for url in ("/register/profile", "/register/profile/edit", "/register/checks/new", "/register/profile/photo/file"):
        assert client.get(url).status_code == 403, url


# Changing --------------------------------------------------------------------------------------


def test_jay_changes_his_profile(app, jay):
    response = post_form(jay, "/register/profile/edit", valid_answers(districts="nf4 nf6", rate="13.75", hours_wanted="25"))
    assert response.status_code == 302 and response.headers["Location"].endswith("/register/profile")
    profile = profile_of(app, JAY)
    assert profile.district_codes == ["NF4", "NF6"] and profile.rate_pence == 1375 and profile.hours_wanted == 25
    assert slot_keys(profile.availability) == ["tue-early", "tue-morning", "thu-morning"]
    assert keys_of(SUPPORT, profile.support_offered) == ["personal_care", "cooking"]
    assert keys_of(LANGUAGES, profile.languages) == ["en", "pa"]
    assert profile.listed  # changing it does not hide or list it
    assert "Your profile has been saved" in jay.get("/register/profile").text


def test_the_form_shows_jays_answers_to_change(app, jay):
    page = get_page(jay, "/register/profile/edit")
    assert page.soup.find("input", {"name": "districts"})["value"] == "NF3, NF4, NF5"
    assert page.soup.find("input", {"name": "rate"})["value"] == "13.00"
    ticked = {box["value"] for box in page.soup.find_all("input", {"name": "availability", "checked": True})}
    assert ticked == {"tue-early", "tue-morning", "thu-early", "thu-morning", "sat-afternoon", "sun-afternoon", "wed-evening"}
    # Every box in the grid has words of its own for screen readers.
    box = page.soup.find("input", {"id": "availability-tue-morning"})
    assert page.soup.find("label", {"for": box["id"]}).get_text(strip=True) == "Tuesday morning"
    assert len(page.soup.find_all("input", {"name": "availability"})) == 42


def test_problems_are_shown_beside_their_answers_and_nothing_is_saved(app, jay):
    before = profile_of(app, JAY)
    response = post_form(jay, "/register/profile/edit", valid_answers(
        districts="NF3, 12AB", rate="", about="Ring me on 07700 900123 any time", hours_wanted="lots"))
    assert response.status_code == 200
    page = get_page_from(response)
    assert page.title.get_text().startswith("Error: ")
    summary = [a.get_text() for a in page.select(".govuk-error-summary a")]
    assert "‘12AB’ is not a postcode district. Enter the first part of a postcode, like NF3" in summary
    assert "Enter the hourly rate you are looking for, like 13.50" in summary
    assert "Enter the hours a week as a whole number, like 20" in summary
    assert contact_details.PHONE_MESSAGE in summary
    assert "Enter at least one postcode district" not in response.text  # one message per answer
    about_group = page.find("textarea", {"name": "about"}).find_parent(class_="govuk-form-group")
    assert contact_details.PHONE_MESSAGE in about_group.get_text()
    after = profile_of(app, JAY)
    assert (after.district_codes, after.rate_pence, after.about, after.hours_wanted) == (
        before.district_codes, before.rate_pence, before.about, before.hours_wanted)


def test_a_phone_number_alone_in_about_me_refuses_the_whole_form(app, jay):
    before = profile_of(app, JAY)
    response = post_form(jay, "/register/profile/edit", valid_answers(districts="NF9", about="Call 07700 900 123"))
    assert response.status_code == 200 and contact_details.PHONE_MESSAGE in response.text
    after = profile_of(app, JAY)
    assert after.district_codes == before.district_codes == ["NF3", "NF4", "NF5"] and after.about == before.about


def test_about_me_with_html_is_kept_as_text_and_shown_as_text(app, jay):
    post_form(jay, "/register/profile/edit", valid_answers(about="<script>alert(1)</script> I <b>love</b> gardening"))
    assert profile_of(app, JAY).about == "<script>alert(1)</script> I <b>love</b> gardening"
    page = jay.get("/register/profile").text
    assert "<script>alert(1)</script>" not in page and "&lt;script&gt;alert(1)&lt;/script&gt;" in page


def get_page_from(response):
    from bs4 import BeautifulSoup

    return BeautifulSoup(response.text, "html.parser")


# Listing and hiding ------------------------------------------------------------------------------


def test_hiding_takes_jay_off_the_register_at_once_and_listing_brings_him_back(app, jay):
    jay_id = profile_of(app, JAY).id
    assert jay_id in listed_ids(app)
    response = post_form(jay, "/register/profile/listing", {"listed": "no"}, page_url="/register/profile")
    assert response.status_code == 302
    assert jay_id not in listed_ids(app)
    from portal.services import register_search

    with app.app_context():
        found, _ = register_search.search(register_search.SearchFilters(districts=["NF4"]), 1)
        assert jay_id not in {match.profile.id for match in found}
    page = get_page(jay, "/register/profile")
    assert "Your profile is hidden" in page.text
    assert page.soup.find("button", attrs={"data-listing-button": True}).get_text(strip=True) == "List my profile"
    post_form(jay, "/register/profile/listing", {"listed": "yes"}, page_url="/register/profile")
    assert jay_id in listed_ids(app)


def test_a_listing_post_without_an_answer_changes_nothing(app, jay):
    token = csrf_token(jay.get("/register/profile").text)
    response = jay.post("/register/profile/listing", data={"csrf_token": token})
    assert response.status_code == 302 and profile_of(app, JAY).listed


# Photos ----------------------------------------------------------------------------------------------


@pytest.mark.skipif(not contact_details.photo_checker_available() and not os.environ.get("CI"), reason="needs Tesseract")
def test_a_photo_with_a_phone_number_is_refused_and_a_plain_one_is_kept(app, jay):
    before = stored_files(app)
    response = post_form(jay, "/register/profile/photo", {"photo": (io.BytesIO(png("Call 07700 900123")), "me.png")})
    assert response.status_code == 200
    group = get_page_from(response).find("input", {"name": "photo"}).find_parent(class_="govuk-form-group")
    assert contact_details.PHOTO_MESSAGE in group.get_text()
    assert profile_of(app, JAY).photo_name is None and stored_files(app) == before

    response = post_form(jay, "/register/profile/photo", {"photo": (io.BytesIO(png()), "me.png")})
    assert response.status_code == 302
    name = profile_of(app, JAY).photo_name
    assert name and name in stored_files(app)
    served = jay.get("/register/profile/photo/file")
    assert served.status_code == 200 and served.mimetype == "image/png"
    assert "no-store" in served.headers["Cache-Control"] and served.headers["X-Content-Type-Options"] == "nosniff"
    assert Image.open(io.BytesIO(served.data)).size == (640, 360)
    assert 'alt="Your photo"' in jay.get("/register/profile").text

    # Sophie's own-photo address serves only her own (she has none).
    other = app.test_client()
    sign_in(other, SOPHIE)
    assert other.get("/register/profile/photo/file").status_code == 404

    response = post_form(jay, "/register/profile/photo/remove", {"confirm": "yes"}, page_url="/register/profile")
    assert response.status_code == 302 and profile_of(app, JAY).photo_name is None and name not in stored_files(app)


def test_a_photo_must_be_an_image(app, jay):
    response = post_form(jay, "/register/profile/photo", {"photo": (io.BytesIO(b"%PDF-1.4 not really"), "me.pdf")})
    assert response.status_code == 200 and "govuk-error-summary" in response.text
    assert profile_of(app, JAY).photo_name is None


# Deleting -----------------------------------------------------------------------------------------


@pytest.mark.skipif(not contact_details.photo_checker_available() and not os.environ.get("CI"), reason="needs Tesseract")
def test_deleting_the_profile_removes_every_row_and_file(app, jay):
    post_form(jay, "/register/profile/photo", {"photo": (io.BytesIO(png()), "me.png")})
    response = post_form(jay, "/register/checks/new", {
        "kind": "safeguarding", "detail": "Level 2, Northfield College",
        "document": (io.BytesIO(png()), "certificate.png")})
    assert response.status_code == 302
    profile = profile_of(app, JAY)
    with app.app_context():
        files = [profile.photo_name] + list(db.session.scalars(
            sa.select(ProfileCheck.document_name).where(ProfileCheck.profile_id == profile.id, ProfileCheck.document_name.is_not(None))))
    assert len(files) == 2 and set(files) <= stored_files(app)

    page = get_page(jay, "/register/profile/delete")
    assert "You cannot undo this" in page.text
    # A POST without the page's answer deletes nothing.
    jay.post("/register/profile/delete", data={"csrf_token": csrf_token(page.text)})
    assert profile_of(app, JAY) is not None

    response = post_form(jay, "/register/profile/delete", {"confirm": "yes"})
    assert response.status_code == 302 and response.headers["Location"].endswith("/register/profile")
    start = get_page(jay, "/register/profile")
    assert "Your profile has been deleted" in start.text and "Create your profile" in start.text
    assert profile_of(app, JAY) is None and profile.id not in listed_ids(app)
    with app.app_context():
        for model, column in ((ProfileCheck, ProfileCheck.profile_id), (ProfileDistrict, ProfileDistrict.profile_id),
                              (ContactRequest, ContactRequest.profile_id), (VacancyInterest, VacancyInterest.profile_id)):
            assert db.session.scalar(sa.select(sa.func.count()).select_from(model).where(column == profile.id)) == 0, model
        assert db.session.scalar(sa.select(sa.func.count()).select_from(VerificationRequest).join(
            ProfileCheck, ProfileCheck.id == VerificationRequest.check_id, isouter=True).where(ProfileCheck.id.is_(None))) == 0
        assert db.session.scalar(sa.select(Person.id).where(Person.id == profile.person_id))  # the person and account stay
    assert not set(files) & stored_files(app)
    for name in files:
        assert not os.path.exists(Storage(app.config["EVIDENCE_FOLDER"]).path(name))


# Creating (a PA the DPSS invited) ----------------------------------------------------------------------


def invited_pa(app, email="priya.pa@example.org") -> "object":
    """A PA account with no profile: Kim invites Priya, who sets a password and signs in."""
    from tests.helpers import last_link_sent_to

    kim = app.test_client()
    sign_in(kim, "kim@brightpath.example")
    response = post_form(kim, "/register/invite", {"given_name": "Priya", "family_name": "Shah", "email": email})
    assert response.status_code == 302, response.text
    link = last_link_sent_to(email)
    priya = app.test_client()
    post_form(priya, link, {"password": "a long new password 7", "confirm": "a long new password 7"})
    sign_in(priya, email, "a long new password 7")
    return priya


def test_a_new_pa_creates_a_profile_that_is_not_listed_until_they_list_it(app):
    priya = invited_pa(app)
    start = get_page(priya, "/register/profile")
    assert "Create your profile" in start.text and "first name and the first letter of your surname" in start.text
    home = get_page(priya, "/home")
    assert "Not created" in home.soup.find(attrs={"data-profile-state": True}).get_text()

    form = get_page(priya, "/register/profile/edit")
    assert form.soup.find("input", {"name": "languages", "value": "en"}).has_attr("checked")  # a sensible default
    response = post_form(priya, "/register/profile/edit", valid_answers(districts="NF7", rate="14"))
    assert response.status_code == 302
    profile = profile_of(app, "priya.pa@example.org")
    assert profile.district_codes == ["NF7"] and profile.rate_pence == 1400 and not profile.listed
    assert profile.id not in listed_ids(app)
    page = get_page(priya, "/register/profile")
    assert "Your profile has been created. It is not listed yet" in page.text
    assert page.soup.find("button", attrs={"data-listing-button": True}).get_text(strip=True) == "List my profile"
    post_form(priya, "/register/profile/listing", {"listed": "yes"}, page_url="/register/profile")
    assert profile.id in listed_ids(app)
    assert "Listed" in get_page(priya, "/home").soup.find(attrs={"data-profile-state": True}).get_text()


def test_a_pa_without_a_profile_is_sent_to_the_start_page(app):
    priya = invited_pa(app)
    for url in ("/register/profile/photo", "/register/checks/new", "/register/profile/delete"):
        response = priya.get(url)
        assert response.status_code == 302 and response.headers["Location"].endswith("/register/profile"), url


# The PA's home page ----------------------------------------------------------------------------------


def test_jays_home_shows_his_profile_contact_requests_and_matching_vacancies(app, jay):
    page = get_page(jay, "/home")
    assert "Listed" in page.soup.find(attrs={"data-profile-state": True}).get_text()
    assert "Contact requests waiting for you: 1" in page.soup.find(attrs={"data-waiting-contacts": True}).get_text(" ", strip=True)
    matches = page.soup.find(attrs={"data-vacancy-matches": True}).get_text(" ", strip=True)
    assert "Morning support for my mother in NF4" in matches and "In NF4, which you cover" in matches
    assert "Okafor" not in page.text and "Sam" not in page.text  # nobody's name before contact is accepted


def test_sophies_home_has_no_vacancies_outside_her_districts(app, client):
    sign_in(client, SOPHIE)
    page = get_page(client, "/home")
    assert "Morning support for my mother" not in page.text
    assert "Contact requests waiting for you: 0" in page.text
