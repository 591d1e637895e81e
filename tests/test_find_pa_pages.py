"""Find a PA through the real pages: the default listing for the person's own district, filters and
ranking, hiding, htmx, escaping, the profile page and its view limit, and contacting a PA (who may,
for whom, and the limits that refuse it).

The demo: Jay covers NF3 to NF5, works Tuesday and Thursday early mornings and mornings, knows
dementia and has no verified check; Sophie covers NF1 and NF2 with DBS and safeguarding verified by
Brightpath; Grace lives in NF4 and David manages her direct payment (and only views Sam's).
"""

import io
from datetime import timedelta

import pytest
import sqlalchemy as sa
from bs4 import BeautifulSoup
from PIL import Image

from portal.extensions import db
from portal.models import Person, User
from portal.models.register import ContactBlock, ContactRequest, ContactStatus, PAProfile, ProfileActivity, ProfileDistrict
from portal.services import pa_contacts, register
from portal.services.clock import utcnow
from portal.services.register_options import EXPERIENCE, mask_of, slots_mask
from portal.storage import Storage
from tests.conftest import csrf_token, get_page, sign_in
from tests.helpers import person_id

DAVID, GRACE, AMINA, JAY, SOPHIE = "david@example.org", "grace@example.org", "amina@example.org", "jay.pa@example.org", "sophie.pa@example.org"
KIM, LEE, OMAR, RACHEL, ADMIN = "kim@brightpath.example", "lee@brightpath.example", "omar@harbour.example", "rachel@northfield.example", "admin@example.org"


def _client(app, email):
    client = app.test_client()
    sign_in(client, email)
    return client


def profile_of(app, given: str, family: str) -> int:
    with app.app_context():
        return db.session.scalar(sa.select(PAProfile.id).join(Person, Person.id == PAProfile.person_id)
                                 .where(Person.given_name == given, Person.family_name == family))


def cards(soup) -> list:
    return soup.select("[data-results] > li[data-profile]")


def card_ids(soup) -> list[int]:
    return [int(card["data-profile"]) for card in cards(soup)]


def card_of(soup, profile_id: int):
    return soup.find("li", attrs={"data-profile": str(profile_id)})


# The default listing and filters -------------------------------------------------------------------


def test_david_sees_pas_for_graces_district_before_choosing_any_filter(app):
    jay, sophie = profile_of(app, "Jay", "Singh"), profile_of(app, "Sophie", "Clarke")
    client = _client(app, DAVID)
    page = get_page(client, "/find-a-pa")

    assert "Searching for Grace Okafor" in page.soup.find(attrs={"data-searching-for": True}).text
    assert page.soup.find("input", id="districts")["value"] == "NF4"
    ids = card_ids(page.soup)
    assert jay in ids and sophie not in ids
    reasons = card_of(page.soup, jay).find(attrs={"data-reasons": True}).get_text()
    assert reasons.startswith("Covers NF4")
    card_text = card_of(page.soup, jay).get_text(" ", strip=True)
    assert "Jay S." in card_text and "£13.00 an hour" in card_text and "30 hours a week" in card_text
    assert "Active today" in card_text
    assert "Singh" not in page.text and "07700 900827" not in page.text
    with app.app_context():
        in_nf4 = set(db.session.scalars(sa.select(ProfileDistrict.profile_id).join(PAProfile).where(
            ProfileDistrict.district_code == "NF4", PAProfile.listed.is_(True))))
    assert set(ids) == in_nf4  # every listed PA covering NF4, and only those (fewer than a page in the demo)
    count = page.soup.find(attrs={"data-count": True})
    assert int(count["data-count"]) == len(in_nf4) and "personal assistants match" in count.text
    legends = [legend.get_text(strip=True) for legend in page.soup.find_all("legend")]
    assert legends == ["When is support needed?", "Support needed", "Experience of", "Checks verified by a support service",
                       "Driving"]


@pytest.mark.parametrize("email", [AMINA, DAVID])
def test_home_links_to_find_a_pa(app, email):
    home = get_page(_client(app, email), "/home")
    assert home.soup.find("a", string="Find a personal assistant")["href"] == "/find-a-pa"


def test_needs_ticked_rank_a_full_match_above_a_verified_partial_match(app):
    jay = profile_of(app, "Jay", "Singh")
    with app.app_context():
        # A rival in NF4 with every check verified and active a minute ago, but only Tuesday mornings.
        rival = db.session.scalar(sa.select(PAProfile).join(ProfileDistrict).where(
            ProfileDistrict.district_code == "NF4", PAProfile.listed.is_(True), PAProfile.id != jay).limit(1))
        rival.availability = slots_mask(["tue-morning"])
        rival.experience = mask_of(EXPERIENCE, ["dementia"])
        rival.verified_kinds = (1 << 7) - 1
        rival.last_active_at = utcnow()
        rival_id = rival.id
        db.session.commit()
    client = _client(app, DAVID)
    page = get_page(client, "/find-a-pa?districts=NF3+NF4&slots=tue-morning&slots=thu-morning&experience=dementia")

    ids = card_ids(page.soup)
    assert ids[0] == jay and rival_id in ids
    jay_card = card_of(page.soup, jay)
    assert jay_card.has_attr("data-full-match") and "Matches all your needs" in jay_card.text
    assert not card_of(page.soup, rival_id).has_attr("data-full-match")
    assert (jay_card.find(attrs={"data-reasons": True}).get_text()
            == "Covers NF3 and NF4 · Available Tuesday and Thursday mornings · Experience: dementia")
    assert "(not all the times you asked for)" in card_of(page.soup, rival_id).find(attrs={"data-reasons": True}).get_text()
    fulls = [card.has_attr("data-full-match") for card in cards(page.soup)]
    assert fulls == sorted(fulls, reverse=True)  # every full match before every partial one
    # The form shows the choices back, so the page is the bookmark.
    assert page.soup.find("input", id="slots-thu-morning").has_attr("checked")
    assert page.soup.find("input", attrs={"name": "experience", "value": "dementia"}).has_attr("checked")


def test_rate_gender_and_verified_filters_narrow_the_list(app):
    sophie = profile_of(app, "Sophie", "Clarke")
    client = _client(app, KIM)  # DPSS staff with no person: the whole register
    page = get_page(client, "/find-a-pa?rate=13&gender=man")
    with app.app_context():
        for profile_id in card_ids(page.soup):
            profile = db.session.get(PAProfile, profile_id)
            assert profile.rate_pence <= 1300 and profile.gender.value == "man"
    page = get_page(client, "/find-a-pa?districts=NF1&verified=dbs&verified=safeguarding")
    ids = card_ids(page.soup)
    assert sophie in ids
    assert "DBS verified by Brightpath Support, March 2026" in card_of(page.soup, sophie).get_text()


def test_a_blank_district_box_searches_everywhere_and_words_search_about_me(app):
    jay = profile_of(app, "Jay", "Singh")
    client = _client(app, DAVID)
    page = get_page(client, "/find-a-pa?districts=&q=grandfather+dementia")
    assert card_ids(page.soup) == [jay]


def test_bad_answers_get_an_error_summary_and_no_results(app):
    client = _client(app, DAVID)
    page = get_page(client, "/find-a-pa?districts=NF3+not-a-district&rate=lots")
    assert page.soup.title.string.startswith("Error: ")
    summary = page.soup.find(class_="govuk-error-summary").get_text()
    assert "is not a postcode district" in summary and "in pounds and pence" in summary
    assert not cards(page.soup) and page.soup.find(attrs={"data-no-results": True})
    page = get_page(client, "/find-a-pa?rate=0&page=notanumber")
    assert "between £0.01 and £100" in page.soup.find(class_="govuk-error-summary").get_text()


def test_htmx_gets_only_the_results_block(app):
    jay = profile_of(app, "Jay", "Singh")
    client = _client(app, DAVID)
    response = client.get("/find-a-pa?districts=NF3&slots=tue-morning", headers={"HX-Request": "true"})
    assert response.status_code == 200 and "HX-Request" in response.headers.get("Vary", "")
    soup = BeautifulSoup(response.text, "html.parser")
    assert soup.find("html") is None and soup.find("h1") is None and soup.find("form") is None
    assert jay in card_ids(soup) and soup.find(attrs={"data-count": True})
    # Errors reach the results block too, since the page around it is not redrawn.
    soup = BeautifulSoup(client.get("/find-a-pa?rate=lots", headers={"HX-Request": "true"}).text, "html.parser")
    assert soup.find(class_="govuk-error-summary") and not cards(soup)
    # The whole page carries the htmx attributes and a real submit button for no JavaScript.
    form = get_page(client, "/find-a-pa").soup.find("form", attrs={"data-search-form": True})
    assert form["method"] == "get" and form["hx-get"] == "/find-a-pa" and form["hx-target"] == "#results"
    assert form["hx-push-url"] == "true" and form.find("button", type="submit") and not form.find(attrs={"name": "submit"})


def test_pages_of_twenty_with_pagination(app):
    client = _client(app, KIM)
    first = get_page(client, "/find-a-pa?districts=")
    total = int(first.soup.find(attrs={"data-count": True})["data-count"])
    assert total > 20 and len(cards(first.soup)) == 20
    nav = first.soup.find("nav", class_="govuk-pagination")
    assert nav.find("a", rel="next")["href"].startswith("/find-a-pa?")
    second = get_page(client, "/find-a-pa?districts=&page=2")
    assert len(cards(second.soup)) == min(20, total - 20)
    assert not set(card_ids(first.soup)) & set(card_ids(second.soup))


# Hiding, escaping, the profile page -------------------------------------------------------------------


def _give_photo(app, profile_id: int) -> None:
    buffer = io.BytesIO()
    Image.new("RGB", (8, 8), (200, 100, 50)).save(buffer, "PNG")
    with app.app_context():
        name = Storage.from_config().save(buffer.getvalue(), "png")
        db.session.get(PAProfile, profile_id).photo_name = name
        db.session.commit()


def test_a_hidden_profile_is_gone_from_search_profile_and_photo_at_once(app):
    jay = profile_of(app, "Jay", "Singh")
    _give_photo(app, jay)
    client = _client(app, DAVID)
    assert jay in card_ids(get_page(client, "/find-a-pa").soup)
    profile_page = get_page(client, f"/find-a-pa/{jay}")
    assert profile_page.soup.find("img", attrs={"data-photo": True})["src"] == f"/find-a-pa/{jay}/photo"
    photo = client.get(f"/find-a-pa/{jay}/photo")
    assert photo.status_code == 200 and photo.mimetype == "image/png" and photo.data.startswith(b"\x89PNG")

    with app.app_context():
        register.set_listed(db.session.get(PAProfile, jay), False)
        db.session.commit()
    assert jay not in card_ids(get_page(client, "/find-a-pa").soup)
    assert jay not in card_ids(get_page(client, "/find-a-pa?districts=&q=grandfather").soup)
    get_page(client, f"/find-a-pa/{jay}", status=404)
    assert client.get(f"/find-a-pa/{jay}/photo").status_code == 404
    assert client.get(f"/find-a-pa/{jay}/contact").status_code == 404


def test_script_in_about_me_and_in_the_search_box_is_shown_as_text(app):
    jay = profile_of(app, "Jay", "Singh")
    with app.app_context():
        db.session.get(PAProfile, jay).about = 'Hello <script>alert("x")</script> <b>bold</b>'
        db.session.commit()
    client = _client(app, DAVID)
    page = get_page(client, f"/find-a-pa/{jay}")
    assert "<script>alert" not in page.text and "<b>bold</b>" not in page.text
    assert "&lt;script&gt;alert(&#34;x&#34;)&lt;/script&gt;" in page.text
    assert 'Hello <script>alert("x")</script> <b>bold</b>' in page.soup.find(attrs={"data-about": True}).get_text()
    page = get_page(client, "/find-a-pa?q=%3Cscript%3Ealert(1)%3C/script%3E")
    assert "<script>alert(1)" not in page.text
    assert page.soup.find("input", id="q")["value"] == "<script>alert(1)</script>"


def test_the_profile_page_shows_checks_and_never_contact_details(app):
    jay, sophie = profile_of(app, "Jay", "Singh"), profile_of(app, "Sophie", "Clarke")
    views_of_jay = sa.select(sa.func.coalesce(sa.func.sum(ProfileActivity.views), 0)).where(ProfileActivity.profile_id == jay)
    with app.app_context():
        views_before = db.session.scalar(views_of_jay)  # the demo gives Jay a fortnight of views
    client = _client(app, DAVID)
    page = get_page(client, f"/find-a-pa/{jay}")
    text = page.soup.get_text(" ", strip=True)
    assert page.soup.h1.text == "Jay S."
    for secret in ("Singh", "07700 900827", "jay.pa@example.org"):
        assert secret not in page.text
    states = {row.find("td").get_text(" ", strip=True).split(" ")[0]: row["data-check-state"]
              for row in page.soup.select("[data-checks] tbody tr")}
    assert states == {"DBS": "waiting", "First": "not verified"}
    assert "Punjabi" in text and "Dementia" in text and "Drives Yes" in text
    grid = page.soup.find(attrs={"data-availability": True})
    tuesday = [row for row in grid.select("tbody tr") if row.th.text == "Tuesday"][0]
    assert [cell.get_text(strip=True) for cell in tuesday.find_all("td")][:3] == ["✓Available", "✓Available", "Not available"]
    contact = page.soup.find("a", attrs={"data-contact": True})
    assert contact.text == "Contact Jay" and contact["href"] == f"/find-a-pa/{jay}/contact?for={person_id(app, 'Grace', 'Okafor')}"

    sophie_page = get_page(client, f"/find-a-pa/{sophie}")
    assert "Verified by Brightpath Support on 3 March 2026" in sophie_page.text
    with app.app_context():
        views = db.session.scalar(views_of_jay)
    assert views == views_before + 1  # the PA sees the count, never who


def test_too_many_profiles_opened_in_a_day_is_refused_in_plain_english(app, monkeypatch):
    jay = profile_of(app, "Jay", "Singh")
    client = _client(app, DAVID)
    get_page(client, f"/find-a-pa/{jay}")
    monkeypatch.setattr(register, "PROFILE_VIEWS_PER_DAY", 1)
    page = get_page(client, f"/find-a-pa/{jay}", status=429)
    assert "You can open more tomorrow" in page.text and "Jay" not in page.soup.find("main").get_text()


# Who may search, and for whom ------------------------------------------------------------------------


@pytest.mark.parametrize("email", [JAY, SOPHIE, ADMIN])
def test_pas_and_the_administrator_may_not_search(app, email):
    client = _client(app, email)
    jay = profile_of(app, "Jay", "Singh")
    for url in ("/find-a-pa", f"/find-a-pa/{jay}", f"/find-a-pa/{jay}/photo", f"/find-a-pa/{jay}/contact"):
        assert client.get(url).status_code == 403, url


def test_the_council_officer_searches_their_councils_districts(app):
    client = _client(app, RACHEL)
    page = get_page(client, "/find-a-pa")
    assert page.soup.find("input", id="districts")["value"] == " ".join(f"NF{n}" for n in range(1, 10))
    with app.app_context():
        for profile_id in card_ids(page.soup):
            codes = db.session.get(PAProfile, profile_id).district_codes
            assert any(code.startswith("NF") for code in codes)
    # Searching for a person Northfield funds starts from their district; not for one it does not.
    amina = person_id(app, "Amina", "Patel")
    page = get_page(client, f"/find-a-pa?for={amina}")
    assert page.soup.find("input", id="districts")["value"] == "NF2"
    assert client.get(f"/find-a-pa?for={person_id(app, 'Ellen', 'Marsh')}").status_code == 404
    assert not page.soup.find("a", string="Contact Sophie")  # council officers read, they do not recruit


def test_staff_search_for_a_person_in_their_scope_only(app):
    sam = person_id(app, "Sam", "Okafor")
    kim = _client(app, KIM)
    page = get_page(kim, f"/find-a-pa?for={sam}")
    assert "Searching for Sam Okafor" in page.text and page.soup.find("input", id="districts")["value"] == "NF4"
    assert page.soup.find("input", attrs={"type": "hidden", "name": "for"})["value"] == str(sam)
    assert _client(app, OMAR).get(f"/find-a-pa?for={sam}").status_code == 404
    assert _client(app, AMINA).get(f"/find-a-pa?for={sam}").status_code == 404
    assert kim.get("/find-a-pa?for=abc").status_code == 404


def test_a_representative_chooses_among_the_people_they_act_for(app):
    grace, sam = person_id(app, "Grace", "Okafor"), person_id(app, "Sam", "Okafor")
    jay = profile_of(app, "Jay", "Singh")
    client = _client(app, DAVID)
    options = get_page(client, "/find-a-pa").soup.select("[data-choose-person] option")
    assert [(o["value"], o.has_attr("selected")) for o in options] == [(str(grace), True), (str(sam), False)]
    page = get_page(client, f"/find-a-pa?for={sam}")
    assert "Searching for Sam Okafor" in page.text
    assert not page.soup.find("a", string="Contact Jay")  # David only views Sam's direct payment
    profile = get_page(client, f"/find-a-pa/{jay}?for={sam}")
    assert not profile.soup.find("a", attrs={"data-contact": True}) and "you cannot contact PAs for them" in profile.text


# Contacting a PA -----------------------------------------------------------------------------------


def _send(client, profile_id: int, data: dict, query: str = ""):
    url = f"/find-a-pa/{profile_id}/contact{query}"
    page = client.get(url)
    assert page.status_code == 200, page.status_code
    return client.post(url, data={"csrf_token": csrf_token(page.text), **data})


def _contacts(app, **where) -> int:
    with app.app_context():
        return db.session.scalar(sa.select(sa.func.count()).select_from(ContactRequest).filter_by(**where))


def test_david_contacts_jay_for_grace_about_her_vacancy(app):
    jay, grace = profile_of(app, "Jay", "Singh"), person_id(app, "Grace", "Okafor")
    client = _client(app, DAVID)
    page = get_page(client, f"/find-a-pa/{jay}/contact")
    assert "For Grace Okafor" in page.soup.find(attrs={"data-contact-for": True}).text
    choices = [option.text for option in page.soup.select("select#vacancy option")]
    assert choices == ["No, not about a vacancy", "Morning support for my mother in NF4"]
    vacancy = page.soup.select("select#vacancy option")[1]["value"]

    response = _send(client, jay, {"vacancy": vacancy, "message": "Could you help my mother on Tuesday mornings?"})
    assert response.status_code == 302 and response.headers["Location"].startswith("/register/contacts/")
    detail = get_page(client, response.headers["Location"])
    assert "Your request has been sent to Jay S." in detail.text
    with app.app_context():
        contact = db.session.scalar(sa.select(ContactRequest).where(ContactRequest.recipient_id == grace))
        assert contact.profile_id == jay and contact.vacancy_id == int(vacancy) and contact.status == ContactStatus.PENDING
        assert contact.requested_by.email == DAVID
    # Asking again while Jay has not answered sends nothing new.
    again = _send(client, jay, {"message": "Hello again"})
    assert again.headers["Location"] == response.headers["Location"]
    assert "already asked Jay" in get_page(client, again.headers["Location"]).text
    assert _contacts(app, recipient_id=grace) == 1


def test_a_message_needs_words_and_no_contact_details(app):
    jay = profile_of(app, "Jay", "Singh")
    client = _client(app, GRACE)
    response = _send(client, jay, {"message": ""})
    assert response.status_code == 200 and "Enter a message, or choose the vacancy" in response.text
    response = _send(client, jay, {"message": "Ring me on 07700 900123 please"})
    assert response.status_code == 200 and "Error: " in response.text
    assert _contacts(app, recipient_id=person_id(app, "Grace", "Okafor")) == 0


def test_a_view_level_representative_cannot_contact_for_that_person(app):
    jay, sam = profile_of(app, "Jay", "Singh"), person_id(app, "Sam", "Okafor")
    client = _client(app, DAVID)
    assert client.get(f"/find-a-pa/{jay}/contact?for={sam}").status_code == 404
    token = csrf_token(client.get(f"/find-a-pa/{jay}/contact").text)
    response = client.post(f"/find-a-pa/{jay}/contact?for={sam}", data={"csrf_token": token, "message": "For Sam"})
    assert response.status_code == 404
    assert _contacts(app, recipient_id=sam, requested_by_id=_user_id(app, DAVID)) == 0


def _user_id(app, email: str) -> int:
    with app.app_context():
        return db.session.scalar(sa.select(User.id).where(User.email == email))


def test_twenty_requests_a_day_for_one_person_then_the_page_refuses(app):
    jay, grace = profile_of(app, "Jay", "Singh"), person_id(app, "Grace", "Okafor")
    david = _user_id(app, DAVID)
    with app.app_context():
        others = db.session.scalars(sa.select(PAProfile.id).where(PAProfile.id != jay, PAProfile.listed.is_(True)).limit(20)).all()
        for profile_id in others:
            db.session.add(ContactRequest(profile_id=profile_id, recipient_id=grace, requested_by_id=david, message="Hello",
                                          created_at=utcnow() - timedelta(hours=2)))
        db.session.commit()
    client = _client(app, DAVID)
    response = _send(client, jay, {"message": "Could you help?"})
    assert response.status_code == 200
    assert pa_contacts.LIMIT_MESSAGE.format(limit=20) in BeautifulSoup(response.text, "html.parser").get_text()
    assert _contacts(app, recipient_id=grace) == 20 and _contacts(app, profile_id=jay, recipient_id=grace) == 0


def test_a_blocked_sender_is_refused(app):
    jay = profile_of(app, "Jay", "Singh")
    with app.app_context():
        db.session.add(ContactBlock(profile_id=jay, blocked_user_id=_user_id(app, DAVID)))
        db.session.commit()
    response = _send(_client(app, DAVID), jay, {"message": "Could you help?"})
    assert response.status_code == 200 and pa_contacts.BLOCKED_MESSAGE in response.text
    assert _contacts(app, profile_id=jay, requested_by_id=_user_id(app, DAVID)) == 0


def test_who_may_contact(app):
    jay, sam = profile_of(app, "Jay", "Singh"), person_id(app, "Sam", "Okafor")
    rachel = _client(app, RACHEL)
    assert rachel.get(f"/find-a-pa/{jay}/contact").status_code == 403
    token = csrf_token(rachel.get("/account").text)
    assert rachel.post(f"/find-a-pa/{jay}/contact", data={"csrf_token": token, "message": "Hi"}).status_code == 403
    # DPSS staff contact for someone in their scope, named in the link; without one they are told how.
    kim = _client(app, KIM)
    assert "Choose the person first" in get_page(kim, f"/find-a-pa/{jay}/contact").text
    assert "For Sam Okafor" in get_page(kim, f"/find-a-pa/{jay}/contact?for={sam}").text
    assert _client(app, OMAR).get(f"/find-a-pa/{jay}/contact?for={sam}").status_code == 404
    # A recipient contacts for themselves only.
    amina = _client(app, AMINA)
    assert "For you" in get_page(amina, f"/find-a-pa/{jay}/contact").text
    assert amina.get(f"/find-a-pa/{jay}/contact?for={sam}").status_code == 404
