"""Vacancies, both sides: David posts for Grace (and only for the people he manages), PAs browse and
express interest seeing "Grace, NF4" and never the surname or address, interest and best matches
leave hidden profiles out, and closing a vacancy takes it off PAs' pages."""

from datetime import timedelta

import pytest
import sqlalchemy as sa
from bs4 import BeautifulSoup

from portal.extensions import db
from portal.models import AuditEvent, Notification, User
from portal.models.register import PAProfile, Vacancy, VacancyInterest, VacancyStatus
from portal.services.clock import london_today
from portal.services.register import RegisterError
from portal.services.register_options import slots_mask
from portal.services.vacancies import VacancyInput, update_vacancy
from tests.conftest import csrf_token, get_page, post_form, sign_in
from tests.helpers import person_id

DAVID, GRACE_EMAIL, JAY, SOPHIE = "david@example.org", "grace@example.org", "jay.pa@example.org", "sophie.pa@example.org"
RACHEL, OMAR, KIM = "rachel@northfield.example", "omar@harbour.example", "kim@brightpath.example"


def signed_in(app, email: str):
    client = app.test_client()
    sign_in(client, email)
    return client


def date_parts(day) -> list[str]:
    return [str(day.day), str(day.month), str(day.year)]


def answers(**changes) -> dict:
    today = london_today()
    data = {
        "title": "Afternoon company for Grace", "district_code": "NF4", "hours_per_week": "6",
        "slots": ["tue-afternoon", "thu-afternoon"], "times_note": "1pm to 4pm", "support": ["personal_care", "social"],
        "experience": ["dementia"], "gender_preference": "", "driver_needed": "no", "rate": "14.50",
        "start_date": date_parts(today + timedelta(days=21)), "closing_date": date_parts(today + timedelta(days=10)),
        "description": "Grace loves her garden and music. She needs a hand with lunch and some company.",
    }
    data.update(changes)
    return data


def vacancy_count(app) -> int:
    with app.app_context():
        return db.session.scalar(sa.select(sa.func.count()).select_from(Vacancy))


def grace_vacancy(app) -> int:
    """The demo's open vacancy for Grace, with Jay's interest."""
    with app.app_context():
        return db.session.scalar(sa.select(Vacancy.id).where(Vacancy.title == "Morning support for my mother in NF4"))


def post_vacancy(app, client, grace: int, **changes) -> int:
    response = post_form(client, f"/people/{grace}/vacancies/new", answers(**changes))
    assert response.status_code == 302, response.text
    return int(response.headers["Location"].rsplit("/", 1)[1])


def set_listed(app, email: str, listed: bool) -> None:
    with app.app_context():
        person = db.session.scalar(sa.select(User.person_id).where(User.email == email))
        db.session.execute(sa.update(PAProfile).where(PAProfile.person_id == person).values(listed=listed))
        db.session.commit()


def has_link(page, text: str) -> bool:
    return any(a.get_text(strip=True) == text for a in page.soup.find_all("a"))


def text_of(page) -> str:
    return page.soup.find("main").get_text(" ", strip=True)


# Posting -------------------------------------------------------------------------------------------


def test_david_posts_a_vacancy_for_grace_with_her_district_by_default(app):
    grace = person_id(app, "Grace", "Okafor")
    client = signed_in(app, DAVID)
    form = get_page(client, f"/people/{grace}/vacancies/new")
    assert form.soup.find("input", {"name": "district_code"})["value"] == "NF4"
    assert form.soup.find("input", id="slots", attrs={"value": "mon-early"}), "the grid's first box carries the field's id"
    legends = {legend.get_text(strip=True) for legend in form.soup.find_all("legend")}
    assert {"When is the support needed?", "Support needed", "Would you prefer a PA of a particular gender?",
            "Does the PA need to drive?", "Start date", "Closing date"} <= legends
    vacancy_id = post_vacancy(app, client, grace)
    page = get_page(client, f"/people/{grace}/vacancies/{vacancy_id}")
    assert "The vacancy ‘Afternoon company for Grace’ has been posted" in page.text
    details = page.soup.find(attrs={"data-details": True}).get_text(" ", strip=True)
    assert "Tuesday and Thursday afternoons" in details and "£14.50" in details and "Personal care and social and community" in details
    with app.app_context():
        vacancy = db.session.get(Vacancy, vacancy_id)
        david = db.session.scalar(sa.select(User.id).where(User.email == DAVID))
        assert (vacancy.recipient_id, vacancy.posted_by_id, vacancy.district_code) == (grace, david, "NF4")
        assert vacancy.rate_pence == 1450 and vacancy.hours_per_week == 6
        assert vacancy.availability == slots_mask(["tue-afternoon", "thu-afternoon"])
        assert vacancy.status == VacancyStatus.OPEN
    listing = get_page(client, f"/people/{grace}/vacancies")
    rows = listing.soup.find(attrs={"data-vacancies": True}).find_all("tr", attrs={"data-vacancy": True})
    assert {row["data-vacancy"] for row in rows} == {str(vacancy_id), str(grace_vacancy(app))}
    assert has_link(listing, "Post a vacancy")


def test_a_closing_date_in_the_past_and_a_phone_number_are_refused_and_nothing_is_saved(app):
    grace = person_id(app, "Grace", "Okafor")
    client = signed_in(app, DAVID)
    before = vacancy_count(app)
    response = post_form(client, f"/people/{grace}/vacancies/new", answers(
        closing_date=date_parts(london_today() - timedelta(days=1)),
        description="Ring me on 07700 900461 to talk about it"))
    assert response.status_code == 200
    assert "<title>Error: Post a vacancy" in response.text
    assert "The closing date must be today or in the future" in response.text
    assert "Remove the phone number" in response.text
    assert vacancy_count(app) == before
    # What the form cannot read (no rate) and what the rules refuse (an email address) are said together.
    response = post_form(client, f"/people/{grace}/vacancies/new", answers(rate="", slots=[], description="Email me at d@example.org"))
    assert response.status_code == 200
    for message in ("Enter the hourly rate, like 13.50", "Select at least one time of day", "Remove the email address"):
        assert message in response.text, message
    assert 'href="#slots"' in response.text and 'href="#rate"' in response.text
    assert vacancy_count(app) == before


def test_free_text_is_shown_as_text(app):
    grace = person_id(app, "Grace", "Okafor")
    client = signed_in(app, DAVID)
    vacancy_id = post_vacancy(app, client, grace, description="<script>alert('x')</script> <b>Kind</b> PA wanted")
    page = client.get(f"/people/{grace}/vacancies/{vacancy_id}").text
    assert "<script>alert" not in page and "&lt;script&gt;alert" in page and "<b>Kind</b>" not in page


def test_david_views_sams_vacancies_but_cannot_post_for_him(app):
    sam = person_id(app, "Sam", "Okafor")
    client = signed_in(app, DAVID)
    page = get_page(client, f"/people/{sam}/vacancies")
    assert not has_link(page, "Post a vacancy") and page.soup.find(attrs={"data-no-vacancies": True})
    assert client.get(f"/people/{sam}/vacancies/new").status_code == 404
    before = vacancy_count(app)
    token = csrf_token(client.get(f"/people/{sam}/vacancies").text)
    assert client.post(f"/people/{sam}/vacancies/new", data={"csrf_token": token, **answers()}).status_code == 404
    assert vacancy_count(app) == before


def test_the_council_officer_reads_but_cannot_post_or_close(app):
    grace, vacancy_id = person_id(app, "Grace", "Okafor"), grace_vacancy(app)
    client = signed_in(app, RACHEL)
    listing = get_page(client, f"/people/{grace}/vacancies")
    assert not has_link(listing, "Post a vacancy")
    page = get_page(client, f"/people/{grace}/vacancies/{vacancy_id}")
    assert "Jay S." in text_of(page) and not page.soup.find(attrs={"data-close": True})
    token = csrf_token(page.text)
    assert client.get(f"/people/{grace}/vacancies/new").status_code == 403
    assert client.post(f"/people/{grace}/vacancies/new", data={"csrf_token": token, **answers()}).status_code == 403
    assert client.post(f"/people/{grace}/vacancies/{vacancy_id}/close",
                       data={"csrf_token": token, "outcome": "filled"}).status_code == 403
    with app.app_context():
        assert db.session.get(Vacancy, vacancy_id).status == VacancyStatus.OPEN


def test_graces_dpss_caseworker_sees_and_may_post_and_another_dpss_gets_not_found(app):
    grace, vacancy_id = person_id(app, "Grace", "Okafor"), grace_vacancy(app)
    omar = signed_in(app, OMAR)
    assert "Morning support for my mother in NF4" in get_page(omar, f"/people/{grace}/vacancies").text
    assert get_page(omar, f"/people/{grace}/vacancies/{vacancy_id}").soup.find(attrs={"data-close": True})
    get_page(omar, f"/people/{grace}/vacancies/new")
    kim = signed_in(app, KIM)
    for url in (f"/people/{grace}/vacancies", f"/people/{grace}/vacancies/{vacancy_id}", f"/people/{grace}/vacancies/new"):
        assert kim.get(url).status_code == 404, url
    # A vacancy is found only through its own recipient: Grace's vacancy under Amina's address is not found.
    amina = person_id(app, "Amina", "Patel")
    assert signed_in(app, "amina@example.org").get(f"/people/{amina}/vacancies/{vacancy_id}").status_code == 404


def test_pas_cannot_open_the_recipient_side_and_others_cannot_browse(app):
    grace = person_id(app, "Grace", "Okafor")
    jay = signed_in(app, JAY)
    assert jay.get(f"/people/{grace}/vacancies").status_code == 403
    assert jay.get(f"/people/{grace}/vacancies/{grace_vacancy(app)}").status_code == 403
    for email in (DAVID, RACHEL, OMAR):
        client = signed_in(app, email)
        assert client.get("/vacancies").status_code == 403
        assert client.get(f"/vacancies/{grace_vacancy(app)}").status_code == 403


# The PA's side -----------------------------------------------------------------------------------------


def test_jay_sees_graces_vacancy_by_first_name_and_district_only(app):
    client = signed_in(app, JAY)
    page = get_page(client, "/vacancies")
    results = page.soup.find(attrs={"data-results": True})
    item = results.find(attrs={"data-vacancy": str(grace_vacancy(app))})
    assert item.find(attrs={"data-who": True}).get_text(strip=True) == "Grace, NF4"
    text = item.get_text(" ", strip=True)
    assert "8 hours a week" in text and "Tuesday and Thursday mornings" in text and "£14.00 an hour" in text
    assert "In NF4, which you cover" in text and "You expressed interest" in text
    assert page.soup.find("input", {"name": "districts"})["value"] == "NF3 NF4 NF5"
    detail = get_page(client, f"/vacancies/{grace_vacancy(app)}")
    assert "You expressed interest on" in detail.text and not detail.soup.find("textarea", {"name": "message"})
    for shown in (page.text, detail.text):
        assert "Okafor" not in shown
        with app.app_context():
            postcode = db.session.scalar(sa.text("SELECT postcode FROM recipients WHERE person_id = :p"),
                                         {"p": person_id(app, "Grace", "Okafor")})
        assert postcode not in shown


def test_browse_filters_by_district_and_updates_the_results_alone_for_htmx(app):
    client = signed_in(app, JAY)
    assert "Grace, NF4" not in get_page(client, "/vacancies?districts=NF1").text
    assert "Grace, NF4" in get_page(client, "/vacancies?districts=nf4&slots=tue-morning&support=cooking").text
    assert "Grace, NF4" not in get_page(client, "/vacancies?districts=NF4&slots=sat-night").text
    wrong = get_page(client, "/vacancies?districts=not-a-district")
    assert "is not a postcode district" in wrong.text
    partial = client.get("/vacancies?districts=NF4", headers={"HX-Request": "true"})
    assert partial.status_code == 200 and "<html" not in partial.text and "Grace, NF4" in partial.text
    assert "HX-Request" in partial.headers.get("Vary", "")
    wrong_partial = client.get("/vacancies?districts=NF4!", headers={"HX-Request": "true"})
    assert "is not a postcode district" in wrong_partial.text and "<html" not in wrong_partial.text


def test_browse_pages_through_twenty_at_a_time(app):
    grace = person_id(app, "Grace", "Okafor")
    today = london_today()
    with app.app_context():
        david = db.session.scalar(sa.select(User.id).where(User.email == DAVID))
        for n in range(21):
            db.session.add(Vacancy(recipient_id=grace, posted_by_id=david, title=f"Extra vacancy {n}", district_code="NF5",
                                   hours_per_week=4, availability=slots_mask(["sat-afternoon"]), support_needed=1,
                                   rate_pence=1300, start_date=today + timedelta(days=20), closing_date=today + timedelta(days=5)))
        db.session.commit()
    client = signed_in(app, JAY)
    first = get_page(client, "/vacancies")
    assert len(first.soup.find(attrs={"data-results": True}).find_all("li", attrs={"data-vacancy": True})) == 20
    assert first.soup.find(attrs={"data-total": True})["data-total"] == "22"
    next_link = first.soup.find("a", rel="next")["href"]
    assert "districts=NF3" in next_link.replace("+", " ").replace("%20", " ") and "page=2" in next_link
    second = get_page(client, next_link)
    assert len(second.soup.find(attrs={"data-results": True}).find_all("li", attrs={"data-vacancy": True})) == 2


def test_jay_expresses_interest_once_and_david_is_told(app):
    grace = person_id(app, "Grace", "Okafor")
    vacancy_id = post_vacancy(app, signed_in(app, DAVID), grace)
    client = signed_in(app, JAY)
    detail = get_page(client, f"/vacancies/{vacancy_id}")
    assert detail.soup.find("textarea", {"name": "message"})
    refused = post_form(client, f"/vacancies/{vacancy_id}/interest", {"message": "Call me on 07700 900827"}, f"/vacancies/{vacancy_id}")
    assert refused.status_code == 200 and "Remove the phone number" in refused.text and "<title>Error:" in refused.text
    response = post_form(client, f"/vacancies/{vacancy_id}/interest", {"message": "Tuesday afternoons suit me."}, f"/vacancies/{vacancy_id}")
    assert response.status_code == 302 and response.headers["Location"].endswith(f"/vacancies/{vacancy_id}")
    assert "Your interest has been sent" in client.get(response.headers["Location"]).text
    again = post_form(client, f"/vacancies/{vacancy_id}/interest", {"message": "Me again"}, f"/vacancies/{vacancy_id}")
    assert again.status_code == 302
    assert "You already expressed interest" in client.get(again.headers["Location"]).text
    with app.app_context():
        interests = db.session.scalars(sa.select(VacancyInterest).where(VacancyInterest.vacancy_id == vacancy_id)).all()
        assert [i.message for i in interests] == ["Tuesday afternoons suit me."]
        david = db.session.scalar(sa.select(User.id).where(User.email == DAVID))
        notes = db.session.scalars(sa.select(Notification).where(Notification.user_id == david)).all()
        told = [n for n in notes if n.link == f"/people/{grace}/vacancies/{vacancy_id}"]
        assert len(told) == 1 and "Jay S. is interested" in told[0].message
    page = get_page(signed_in(app, DAVID), f"/people/{grace}/vacancies/{vacancy_id}")
    interest = page.soup.find(attrs={"data-interests": True}).get_text(" ", strip=True)
    assert "Jay S." in interest and "Tuesday afternoons suit me." in interest


def test_an_unlisted_profile_is_told_to_list_it_first(app):
    vacancy_id = grace_vacancy(app)
    set_listed(app, SOPHIE, False)
    client = signed_in(app, SOPHIE)
    assert get_page(client, f"/vacancies/{vacancy_id}").soup.find(attrs={"data-unlisted": True})
    response = post_form(client, f"/vacancies/{vacancy_id}/interest", {"message": "Hello"}, f"/vacancies/{vacancy_id}")
    assert response.status_code == 200 and "List your profile first" in response.text
    with app.app_context():
        assert db.session.scalar(sa.select(sa.func.count()).select_from(VacancyInterest)
                                 .where(VacancyInterest.vacancy_id == vacancy_id)) == 1  # Jay's, from the demo


def test_a_pa_without_a_profile_sees_vacancies_and_is_asked_to_create_one(app):
    from portal.services.register import delete_profile

    with app.app_context():
        person = db.session.scalar(sa.select(User.person_id).where(User.email == SOPHIE))
        delete_profile(db.session.scalar(sa.select(PAProfile).where(PAProfile.person_id == person)))
        db.session.commit()
    client = signed_in(app, SOPHIE)
    page = get_page(client, "/vacancies")
    assert page.soup.find(attrs={"data-no-profile": True}) and "Grace, NF4" in page.text
    assert "Grace, NF4" not in get_page(client, "/vacancies?districts=NF1").text
    vacancy_id = grace_vacancy(app)
    detail = get_page(client, f"/vacancies/{vacancy_id}")
    assert detail.soup.find(attrs={"data-no-profile": True}) and not detail.soup.find("textarea", {"name": "message"})
    response = post_form(client, f"/vacancies/{vacancy_id}/interest", {"message": "Hello"}, f"/vacancies/{vacancy_id}")
    assert response.status_code == 302
    assert "Create your profile first" in client.get(response.headers["Location"]).text


def test_a_hidden_profiles_interest_is_not_shown_and_it_is_never_a_best_match(app):
    grace, vacancy_id = person_id(app, "Grace", "Okafor"), grace_vacancy(app)
    client = signed_in(app, DAVID)
    page = get_page(client, f"/people/{grace}/vacancies/{vacancy_id}")
    assert "Jay S." in page.soup.find(attrs={"data-interests": True}).get_text()
    match = page.soup.find(attrs={"data-matches": True}).find("li")
    assert "Jay S." in match.get_text() and "Covers NF4" in match.find(attrs={"data-reasons": True}).get_text()
    set_listed(app, JAY, False)
    page = get_page(client, f"/people/{grace}/vacancies/{vacancy_id}")
    assert "Jay S." not in text_of(page)
    assert not page.soup.find(attrs={"data-interests": True})
    listing = get_page(client, f"/people/{grace}/vacancies")
    row = listing.soup.find("tr", attrs={"data-vacancy": str(vacancy_id)})
    assert row.find_all("td")[2].get_text(strip=True) == "0"


# Closing ------------------------------------------------------------------------------------------


def test_closing_twice_says_it_was_already_closed(app):
    grace, vacancy_id = person_id(app, "Grace", "Okafor"), grace_vacancy(app)
    client = signed_in(app, DAVID)
    url = f"/people/{grace}/vacancies/{vacancy_id}"
    nothing = post_form(client, f"{url}/close", {}, url)
    assert nothing.status_code == 200 and "Choose whether the vacancy was filled or withdrawn" in nothing.text
    response = post_form(client, f"{url}/close", {"outcome": "filled"}, url)
    assert response.status_code == 302
    page = get_page(client, response.headers["Location"])
    assert "is marked as filled" in page.text and page.soup.find(attrs={"data-state": "filled"})
    assert not page.soup.find(attrs={"data-close": True}) and not page.soup.find(attrs={"data-matches": True})
    token = csrf_token(page.text)
    again = client.post(f"{url}/close", data={"csrf_token": token, "outcome": "withdrawn"})
    assert "already closed: it is marked as filled" in client.get(again.headers["Location"]).text
    with app.app_context():
        vacancy = db.session.get(Vacancy, vacancy_id)
        assert vacancy.status == VacancyStatus.FILLED and vacancy.filled_on == london_today()


def test_a_filled_vacancy_disappears_from_jays_browse(app):
    grace, vacancy_id = person_id(app, "Grace", "Okafor"), grace_vacancy(app)
    jay = signed_in(app, JAY)
    assert "Grace, NF4" in get_page(jay, "/vacancies").text
    url = f"/people/{grace}/vacancies/{vacancy_id}"
    assert post_form(signed_in(app, DAVID), f"{url}/close", {"outcome": "filled"}, url).status_code == 302
    browse = get_page(jay, "/vacancies")
    assert "Grace, NF4" not in browse.text and browse.soup.find(attrs={"data-no-results": True})
    assert jay.get(f"/vacancies/{vacancy_id}").status_code == 404
    token = csrf_token(browse.text)
    assert jay.post(f"/vacancies/{vacancy_id}/interest", data={"csrf_token": token, "message": "Still?"}).status_code == 404


@pytest.mark.parametrize("outcome, tag", [("withdrawn", "Withdrawn")])
def test_a_withdrawn_vacancy_is_listed_after_the_open_ones(app, outcome, tag):
    grace = person_id(app, "Grace", "Okafor")
    client = signed_in(app, DAVID)
    first = post_vacancy(app, client, grace, title="Withdrawn soon")
    url = f"/people/{grace}/vacancies/{first}"
    post_form(client, f"{url}/close", {"outcome": outcome}, url)
    rows = get_page(client, f"/people/{grace}/vacancies").soup.find_all("tr", attrs={"data-vacancy": True})
    assert [row["data-vacancy"] for row in rows] == [str(grace_vacancy(app)), str(first)]
    assert rows[-1].find(attrs={"data-state": True}).get_text(strip=True) == tag


# Changing ------------------------------------------------------------------------------------------


def answers_on(html: str) -> dict:
    """The answers a browser would send from the page's form as it stands (what GET filled in)."""
    form = BeautifulSoup(html, "html.parser").find("form", action=lambda action: (action or "").endswith("/edit"))
    data: dict[str, list[str]] = {}
    for field in form.find_all(["input", "textarea"]):
        name, kind = field.get("name"), field.get("type", "text")
        if not name or name == "csrf_token" or kind == "submit":
            continue
        if kind in ("checkbox", "radio"):
            if field.has_attr("checked"):
                data.setdefault(name, []).append(field["value"])
            continue
        data.setdefault(name, []).append(field.get_text() if field.name == "textarea" else field.get("value", ""))
    return data


def edit_url(grace: int, vacancy_id: int) -> str:
    return f"/people/{grace}/vacancies/{vacancy_id}/edit"


def test_david_changes_the_hours_and_times_of_graces_vacancy_and_jays_interest_stays(app):
    grace, vacancy_id = person_id(app, "Grace", "Okafor"), grace_vacancy(app)
    client = signed_in(app, DAVID)
    show = get_page(client, f"/people/{grace}/vacancies/{vacancy_id}")
    change = show.soup.find("a", attrs={"data-change": True})
    assert change["href"] == edit_url(grace, vacancy_id) and change.get_text(" ", strip=True) == "Change the vacancy"

    page = get_page(client, edit_url(grace, vacancy_id))
    assert page.soup.find("h1").get_text(strip=True) == "Change the vacancy"
    assert page.soup.find("title").get_text().startswith("Change the vacancy")
    assert page.soup.find("form", action=edit_url(grace, vacancy_id)) and not page.soup.find("form", action=lambda a: "/new" in (a or ""))
    assert page.soup.find("button", id="submit").get_text(strip=True) == "Save changes"
    back = page.soup.find("a", class_="govuk-back-link")
    assert back["href"] == f"/people/{grace}/vacancies/{vacancy_id}" and back.get_text(strip=True) == "Back to the vacancy"
    # Every answer is filled in from the vacancy as it is (the demo's: 8 hours, Tuesday and Thursday mornings).
    today = london_today()
    filled = answers_on(page.text)
    assert filled["title"] == ["Morning support for my mother in NF4"] and filled["district_code"] == ["NF4"]
    assert filled["hours_per_week"] == ["8"] and filled["rate"] == ["14.00"]
    assert set(filled["slots"]) == {"tue-morning", "thu-morning"}
    assert filled["times_note"] == ["Tuesday and Thursday, 9am to 1pm"]
    assert set(filled["support"]) == {"personal_care", "cooking"}
    assert set(filled["experience"]) == {"dementia", "older_people"} and "languages" not in filled
    assert filled["gender_preference"] == [""] and filled["driver_needed"] == ["no"]
    assert filled["start_date"] == date_parts(today + timedelta(days=28))
    assert filled["closing_date"] == date_parts(today + timedelta(days=14))
    assert filled["description"][0].startswith("My mother Grace is 81")

    # Change the hours and the times only; everything else is sent back as it was.
    filled.update(hours_per_week=["12"], slots=["tue-morning", "thu-morning", "sat-afternoon"],
                  times_note=["Tuesday and Thursday 9am to 1pm, Saturday 2pm to 4pm"])
    response = post_form(client, edit_url(grace, vacancy_id), filled)
    assert response.status_code == 302 and response.headers["Location"].endswith(f"/people/{grace}/vacancies/{vacancy_id}")
    shown = get_page(client, response.headers["Location"])
    assert "The vacancy ‘Morning support for my mother in NF4’ has been changed." in shown.text
    details = shown.soup.find(attrs={"data-details": True}).get_text(" ", strip=True)
    assert "Tuesday and Thursday mornings and Saturday afternoons" in details
    assert "Saturday 2pm to 4pm" in details and "12" in details and "£14.00" in details
    assert "Jay S." in shown.soup.find(attrs={"data-interests": True}).get_text()
    with app.app_context():
        vacancy = db.session.get(Vacancy, vacancy_id)
        assert vacancy.hours_per_week == 12 and vacancy.rate_pence == 1400 and vacancy.status == VacancyStatus.OPEN
        assert vacancy.availability == slots_mask(["tue-morning", "thu-morning", "sat-afternoon"])
        assert vacancy.closing_date == today + timedelta(days=14) and vacancy.experience_wanted == 0b11
        assert db.session.scalar(sa.select(sa.func.count()).select_from(VacancyInterest)
                                 .where(VacancyInterest.vacancy_id == vacancy_id)) == 1
        event = db.session.scalars(sa.select(AuditEvent).where(AuditEvent.action == "vacancy.changed")).one()
        assert (event.record_id, event.acting_for_id) == (str(vacancy_id), grace)


def test_a_closing_date_in_the_past_is_refused_and_nothing_is_changed(app):
    grace, vacancy_id = person_id(app, "Grace", "Okafor"), grace_vacancy(app)
    client = signed_in(app, DAVID)
    filled = answers_on(get_page(client, edit_url(grace, vacancy_id)).text)
    filled.update(hours_per_week=["20"], closing_date=date_parts(london_today() - timedelta(days=1)))
    response = post_form(client, edit_url(grace, vacancy_id), filled)
    assert response.status_code == 200
    assert "<title>Error: Change the vacancy" in response.text
    assert "The closing date must be today or in the future" in response.text
    assert 'href="#closing_date"' in response.text
    # The page keeps what was typed, so it can be put right.
    assert answers_on(response.text)["hours_per_week"] == ["20"]
    # An empty form (what the access matrix sends) changes nothing either.
    assert post_form(client, edit_url(grace, vacancy_id), {}).status_code == 200
    with app.app_context():
        vacancy = db.session.get(Vacancy, vacancy_id)
        assert vacancy.hours_per_week == 8 and vacancy.closing_date == london_today() + timedelta(days=14)
        assert vacancy.title == "Morning support for my mother in NF4"
        assert db.session.scalar(sa.select(sa.func.count()).select_from(AuditEvent)
                                 .where(AuditEvent.action == "vacancy.changed")) == 0


def test_only_those_who_manage_grace_may_change_her_vacancy(app):
    grace, sam, vacancy_id = person_id(app, "Grace", "Okafor"), person_id(app, "Sam", "Okafor"), grace_vacancy(app)
    changed = answers(hours_per_week="30")
    # Rachel, the council officer, reads the vacancy but does not recruit: no link, and 403.
    rachel = signed_in(app, RACHEL)
    page = get_page(rachel, f"/people/{grace}/vacancies/{vacancy_id}")
    assert not page.soup.find(attrs={"data-change": True})
    token = csrf_token(page.text)
    assert rachel.get(edit_url(grace, vacancy_id)).status_code == 403
    assert rachel.post(edit_url(grace, vacancy_id), data={"csrf_token": token, **changed}).status_code == 403
    # David may only view Sam's record: his manage pages are not found, whatever the vacancy.
    david = signed_in(app, DAVID)
    token = csrf_token(david.get(f"/people/{sam}/vacancies").text)
    assert david.get(edit_url(sam, vacancy_id)).status_code == 404
    assert david.post(edit_url(sam, vacancy_id), data={"csrf_token": token, **changed}).status_code == 404
    # Kim (Brightpath) does not support Grace: not found.
    kim = signed_in(app, KIM)
    token = csrf_token(kim.get("/account").text)
    assert kim.get(edit_url(grace, vacancy_id)).status_code == 404
    assert kim.post(edit_url(grace, vacancy_id), data={"csrf_token": token, **changed}).status_code == 404
    # Grace's vacancy under Amina's address is not found, even for Amina.
    amina = signed_in(app, "amina@example.org")
    assert amina.get(edit_url(person_id(app, "Amina", "Patel"), vacancy_id)).status_code == 404
    with app.app_context():
        assert db.session.get(Vacancy, vacancy_id).hours_per_week == 8


def test_a_filled_vacancy_cannot_be_changed_and_its_edit_page_says_why(app):
    grace, vacancy_id = person_id(app, "Grace", "Okafor"), grace_vacancy(app)
    client = signed_in(app, DAVID)
    url = f"/people/{grace}/vacancies/{vacancy_id}"
    filled = answers_on(get_page(client, edit_url(grace, vacancy_id)).text)  # the form open in another tab
    assert post_form(client, f"{url}/close", {"outcome": "filled"}, url).status_code == 302
    page = get_page(client, url)
    assert not page.soup.find(attrs={"data-change": True})
    response = client.get(edit_url(grace, vacancy_id))
    assert response.status_code == 302 and response.headers["Location"].endswith(url)
    assert "is marked as filled, so it can no longer be changed" in client.get(response.headers["Location"]).text
    # Saving the form from the other tab changes nothing either.
    filled.update(hours_per_week=["30"])
    response = client.post(edit_url(grace, vacancy_id), data={"csrf_token": csrf_token(page.text), **filled})
    assert response.status_code == 302 and response.headers["Location"].endswith(url)
    with app.app_context():
        vacancy = db.session.get(Vacancy, vacancy_id)
        assert vacancy.status == VacancyStatus.FILLED and vacancy.hours_per_week == 8


def test_the_service_changes_only_an_open_vacancy_even_if_it_closed_meanwhile(app):
    vacancy_id = grace_vacancy(app)
    today = london_today()
    with app.app_context():
        vacancy = db.session.get(Vacancy, vacancy_id)
        # Withdrawn in another tab after this one loaded it (this session still thinks it is open).
        db.session.execute(sa.update(Vacancy).where(Vacancy.id == vacancy_id).values(status=VacancyStatus.WITHDRAWN)
                           .execution_options(synchronize_session=False))
        assert vacancy.status == VacancyStatus.OPEN
        data = VacancyInput(
            title="New title", district_code="NF4", hours_per_week=10, availability=slots_mask(["mon-morning"]),
            times_note="", support_needed=1, experience_wanted=0, languages=0, gender_preference=None,
            driver_needed=False, rate_pence=1500, start_date=today + timedelta(days=20),
            closing_date=today + timedelta(days=10))
        with pytest.raises(RegisterError) as refused:
            update_vacancy(vacancy, data)
        assert "(marked as withdrawn), so it can no longer be changed" in refused.value.problems[0][1]
        assert vacancy.title == "Morning support for my mother in NF4" and vacancy.hours_per_week == 8
        with pytest.raises(RegisterError, match="marked as withdrawn"):
            update_vacancy(vacancy, data)  # and, seen as closed, it is refused before anything is tried


def test_jay_sees_the_changed_hours(app):
    grace, vacancy_id = person_id(app, "Grace", "Okafor"), grace_vacancy(app)
    jay = signed_in(app, JAY)
    assert "8 hours a week" in get_page(jay, "/vacancies").text
    david = signed_in(app, DAVID)
    filled = answers_on(get_page(david, edit_url(grace, vacancy_id)).text)
    filled.update(hours_per_week=["15"])
    assert post_form(david, edit_url(grace, vacancy_id), filled).status_code == 302
    detail = get_page(jay, f"/vacancies/{vacancy_id}")
    rows = detail.soup.find(attrs={"data-details": True}).get_text(" ", strip=True)
    assert "Hours a week 15" in rows
    assert "You expressed interest on" in detail.text
    assert "15 hours a week" in get_page(jay, "/vacancies").text
