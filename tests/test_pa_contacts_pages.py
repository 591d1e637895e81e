"""Contact requests through the real pages: what each side sees before and after the PA accepts,
answering once, messages, blocking, reporting a concern, and who may do what.

The demo has one request waiting: Kim (Brightpath) asked Jay to get in touch about Sam, for whom David
is a view-only representative. David's phone is 07700 900461 and Jay's 07700 900827.
"""

import sqlalchemy as sa
from bs4 import BeautifulSoup

from portal.extensions import db
from portal.models import Organisation, Person, User
from portal.models.register import ContactBlock, ContactMessage, ContactRequest, ContactStatus, PAProfile, RegisterConcern
from portal.services import pa_contacts
from tests.conftest import csrf_token, get_page, sign_in
from tests.helpers import person_id

DAVID, GRACE, AMINA, JAY, SOPHIE = "david@example.org", "grace@example.org", "amina@example.org", "jay.pa@example.org", "sophie.pa@example.org"
KIM, LEE, OMAR, RACHEL, ADMIN = "kim@brightpath.example", "lee@brightpath.example", "omar@harbour.example", "rachel@northfield.example", "admin@example.org"
DAVID_PHONE, JAY_PHONE = "07700 900461", "07700 900827"


def _client(app, email):
    client = app.test_client()
    sign_in(client, email)
    return client


def _jay_profile(app) -> int:
    with app.app_context():
        return db.session.scalar(sa.select(PAProfile.id).join(Person, Person.id == PAProfile.person_id)
                                 .where(Person.given_name == "Jay", Person.family_name == "Singh"))


def _kims_request(app) -> int:
    """Kim's waiting request to Jay about Sam (the demo's)."""
    with app.app_context():
        return db.session.scalar(sa.select(ContactRequest.id).where(ContactRequest.recipient_id == person_id(app, "Sam", "Okafor")))


def _post(client, url: str, data: dict, page_url: str):
    page = client.get(page_url)
    assert page.status_code == 200, (page_url, page.status_code)
    return client.post(url, data={"csrf_token": csrf_token(page.text), **data})


def _status(app, contact_id: int) -> ContactStatus:
    with app.app_context():
        return db.session.get(ContactRequest, contact_id).status


def _david_asks_jay_for_grace(app, david) -> int:
    jay = _jay_profile(app)
    response = _post(david, f"/find-a-pa/{jay}/contact", {"message": "My mother needs help on Tuesday mornings."},
                     f"/find-a-pa/{jay}/contact")
    assert response.status_code == 302
    return int(response.headers["Location"].rsplit("/", 1)[1])


def test_contact_details_appear_only_once_jay_accepts(app):
    david, jay = _client(app, DAVID), _client(app, JAY)
    contact = _david_asks_jay_for_grace(app, david)

    # Before Jay answers: neither side sees the other's name or details.
    before = get_page(david, f"/register/contacts/{contact}")
    assert JAY_PHONE not in before.text and "Singh" not in before.text and "jay.pa@example.org" not in before.text
    assert "Jay has not answered yet" in before.text
    index = get_page(jay, "/register/contacts")
    row = index.soup.find("tr", attrs={"data-contact": str(contact)})
    assert [cell.get_text(" ", strip=True) for cell in row.find_all("td")][:3] == [
        "David", "NF4", "My mother needs help on Tuesday mornings."]
    assert index.soup.find("tbody").find("tr")["data-status"] == "pending"
    for page in (index, get_page(jay, f"/register/contacts/{contact}")):
        for secret in ("Okafor", "Grace", DAVID_PHONE, "david@example.org", "grace@example.org"):
            assert secret not in page.text, secret

    response = _post(jay, f"/register/contacts/{contact}/answer", {"answer": "accept"}, f"/register/contacts/{contact}")
    assert response.status_code == 302 and _status(app, contact) == ContactStatus.ACCEPTED

    # After: David sees Jay's name, phone and email; Jay sees David's (not Grace's).
    after = get_page(david, f"/register/contacts/{contact}")
    details = after.soup.find(attrs={"data-details": True}).get_text(" ", strip=True)
    assert "Jay Singh" in details and JAY_PHONE in details and "jay.pa@example.org" in details
    jay_view = get_page(jay, f"/register/contacts/{contact}")
    assert "You accepted" in jay_view.text
    details = jay_view.soup.find(attrs={"data-details": True}).get_text(" ", strip=True)
    assert "David Okafor" in details and DAVID_PHONE in details and "david@example.org" in details
    assert "Grace" not in jay_view.text and "grace@example.org" not in jay_view.text

    # A second click (another tab) changes nothing and says so.
    again = _post(jay, f"/register/contacts/{contact}/answer", {"answer": "decline"}, f"/register/contacts/{contact}")
    assert again.status_code == 302 and _status(app, contact) == ContactStatus.ACCEPTED
    assert "You have already answered this request" in get_page(jay, f"/register/contacts/{contact}").text


def test_both_sides_write_in_the_thread_once_accepted(app):
    david, jay = _client(app, DAVID), _client(app, JAY)
    contact = _david_asks_jay_for_grace(app, david)
    url = f"/register/contacts/{contact}"
    refused = _post(david, f"{url}/messages", {"body": "Are you free Tuesday?"}, url)
    assert refused.status_code == 200 and "once the PA has accepted" in refused.text
    _post(jay, f"{url}/answer", {"answer": "accept"}, url)

    assert _post(david, f"{url}/messages", {"body": "Are you free <b>Tuesday</b>?"}, url).status_code == 302
    assert _post(jay, f"{url}/messages", {"body": "Yes, from 9am."}, url).status_code == 302
    empty = _post(jay, f"{url}/messages", {"body": "  "}, url)
    assert empty.status_code == 200 and "Enter a message" in empty.text

    thread = get_page(jay, url).soup.find(attrs={"data-thread": True})
    items = [(li.strong.text, li.find(class_="govuk-inset-text").get_text(strip=True)) for li in thread.find_all("li")]
    assert items == [("David Okafor", "Are you free <b>Tuesday</b>?"), ("You", "Yes, from 9am.")]
    assert "<b>" not in str(thread)  # shown as text, never markup
    david_thread = get_page(david, url).soup.find(attrs={"data-thread": True})
    assert [li.strong.text for li in david_thread.find_all("li")] == ["You", "Jay Singh"]
    # Grace, who manages her own direct payment, may write too.
    assert _post(_client(app, GRACE), f"{url}/messages", {"body": "Thank you"}, url).status_code == 302
    assert get_page(jay, url).soup.find(attrs={"data-thread": True}).find_all("li")[2].strong.text == "Grace"
    with app.app_context():
        assert db.session.scalar(sa.select(sa.func.count()).select_from(ContactMessage)) == 3


def test_jay_declines_and_david_is_told(app):
    david, jay = _client(app, DAVID), _client(app, JAY)
    contact = _david_asks_jay_for_grace(app, david)
    url = f"/register/contacts/{contact}"
    nothing = _post(jay, f"{url}/answer", {}, url)
    assert nothing.status_code == 200 and "Choose whether to accept or decline" in nothing.text
    assert _status(app, contact) == ContactStatus.PENDING
    _post(jay, f"{url}/answer", {"answer": "decline"}, url)
    assert _status(app, contact) == ContactStatus.DECLINED
    page = get_page(david, url)
    assert "Jay is not able to take on this work" in page.text and JAY_PHONE not in page.text


def test_a_pa_cannot_see_or_answer_another_pas_request(app):
    contact = _kims_request(app)
    sophie = _client(app, SOPHIE)
    assert sophie.get(f"/register/contacts/{contact}").status_code == 404
    token = csrf_token(sophie.get("/register/contacts").text)
    for action, data in (("answer", {"answer": "accept"}), ("messages", {"body": "Hello"}), ("block", {"confirm": "yes"}),
                         ("concern", {"body": "Worried"})):
        assert sophie.post(f"/register/contacts/{contact}/{action}", data={"csrf_token": token, **data}).status_code == 404
    assert _status(app, contact) == ContactStatus.PENDING
    assert not get_page(sophie, "/register/contacts").soup.find("tr", attrs={"data-contact": str(contact)})


def test_the_recipients_side_reads_but_only_the_pa_answers(app):
    contact = _kims_request(app)
    url = f"/register/contacts/{contact}"
    for email, may_write in ((KIM, True), (LEE, True), (RACHEL, False), (DAVID, False)):
        client = _client(app, email)
        row = get_page(client, "/register/contacts").soup.find("tr", attrs={"data-contact": str(contact)})
        assert row and "Sam Okafor" in row.text and "Jay S." in row.text, email
        page = get_page(client, url)
        assert "For Sam Okafor" in page.text and JAY_PHONE not in page.text
        token = csrf_token(client.get("/account").text)
        assert client.post(f"{url}/answer", data={"csrf_token": token, "answer": "accept"}).status_code == 403
        assert client.post(f"{url}/block", data={"csrf_token": token, "confirm": "yes"}).status_code == 403
        expected = 200 if may_write else (403 if email == RACHEL else 404)
        assert client.post(f"{url}/messages", data={"csrf_token": token, "body": "Hi"}).status_code == expected, email
    assert _status(app, contact) == ContactStatus.PENDING
    for email in (AMINA, GRACE, OMAR):
        client = _client(app, email)
        assert client.get(url).status_code == 404
        assert not get_page(client, "/register/contacts").soup.find("tr", attrs={"data-contact": str(contact)})
    admin = _client(app, ADMIN)
    assert admin.get("/register/contacts").status_code == 403 and admin.get(url).status_code == 403


def test_jay_sees_only_kims_first_name_and_organisation_before_accepting(app):
    contact = _kims_request(app)
    page = get_page(_client(app, JAY), f"/register/contacts/{contact}")
    assert page.soup.h1.text == "Request from Kim from Brightpath Support"
    assert "Sam Okafor" not in page.text and "Kim Bell" not in page.text
    assert page.soup.find("a", string="Block this sender") and page.soup.find("a", string="Report a concern")


def test_jay_blocks_kim_and_she_cannot_ask_again(app):
    contact = _kims_request(app)
    jay, url = _client(app, JAY), f"/register/contacts/{_kims_request(app)}/block"
    page = get_page(jay, url)
    assert page.soup.h1.text == "Block Kim from Brightpath Support"
    unanswered = _post(jay, url, {}, url)
    assert unanswered.status_code == 200 and "Select yes if you want to block" in unanswered.text
    no = _post(jay, url, {"confirm": "no"}, url)
    assert no.status_code == 302 and _status(app, contact) == ContactStatus.PENDING
    yes = _post(jay, url, {"confirm": "yes"}, url)
    assert yes.status_code == 302 and yes.headers["Location"] == "/register/contacts"
    assert "You have blocked Kim from Brightpath Support" in get_page(jay, "/register/contacts").text
    assert _status(app, contact) == ContactStatus.DECLINED
    detail = get_page(jay, f"/register/contacts/{contact}")
    assert "You have blocked this sender" in detail.text and not detail.soup.find("a", string="Block this sender")

    # Kim tries again for Sam: refused, with the service's words; nothing new is stored.
    kim, jay_profile, sam = _client(app, KIM), _jay_profile(app), person_id(app, "Sam", "Okafor")
    response = _post(kim, f"/find-a-pa/{jay_profile}/contact?for={sam}", {"message": "Please reconsider"},
                     f"/find-a-pa/{jay_profile}/contact?for={sam}")
    assert response.status_code == 200 and pa_contacts.BLOCKED_MESSAGE in response.text
    with app.app_context():
        assert db.session.scalar(sa.select(sa.func.count()).select_from(ContactRequest).where(ContactRequest.recipient_id == sam)) == 1
        assert db.session.scalar(sa.select(sa.func.count()).select_from(ContactBlock)) == 1


def test_jay_reports_a_concern_to_the_service_supporting_the_person(app):
    contact = _kims_request(app)
    jay, url = _client(app, JAY), f"/register/contacts/{contact}/concern"
    empty = _post(jay, url, {"body": ""}, url)
    assert empty.status_code == 200 and "Describe your concern" in empty.text
    response = _post(jay, url, {"body": "The messages asked me to work without pay."}, url)
    assert response.status_code == 302 and response.headers["Location"] == f"/register/contacts/{contact}"
    assert "Your concern has been sent to Brightpath Support" in get_page(jay, response.headers["Location"]).text
    with app.app_context():
        concern = db.session.scalar(sa.select(RegisterConcern))
        brightpath = db.session.scalar(sa.select(Organisation.id).where(Organisation.name == "Brightpath Support"))
        assert concern.organisation_id == brightpath and concern.about_user_id == db.session.scalar(
            sa.select(User.id).where(User.email == KIM))
        assert concern.contact_id == contact and concern.reported_by_id == db.session.scalar(
            sa.select(User.id).where(User.email == JAY))


def test_the_recipient_side_sees_contacts_without_the_pa_accepting_yet(app):
    david = _client(app, DAVID)
    contact = _david_asks_jay_for_grace(app, david)
    page = get_page(david, "/register/contacts")
    rows = page.soup.select("tr[data-contact]")
    assert [row["data-contact"] for row in rows][:1] and str(contact) in [row["data-contact"] for row in rows]
    mine = page.soup.find("tr", attrs={"data-contact": str(contact)}).get_text(" ", strip=True)
    assert "Jay S." in mine and "Grace Okafor" in mine and "You" in mine and "Singh" not in mine
    soup = BeautifulSoup(get_page(_client(app, GRACE), "/register/contacts").text, "html.parser")
    assert soup.find("tr", attrs={"data-contact": str(contact)}).find_all("td")[2].get_text(strip=True) == "David Okafor"
