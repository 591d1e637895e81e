"""Checks on the register: the PA adds one and asks a DPSS to verify it; only that DPSS sees the request
and the document; a staff member there verifies it, and the profile names their own organisation.
Also DPSS staff inviting a PA with no account to the register.

In the demo Jay's enhanced DBS check waits for Harbour DPSS (Omar); Brightpath (Kim, Lee) was not asked."""

import io

import pytest
import sqlalchemy as sa
from bs4 import BeautifulSoup
from PIL import Image

from portal.extensions import db
from portal.models import Notification, Organisation, Person, Role, User
from portal.models.register import CheckKind, PAProfile, ProfileCheck, VerificationRequest
from portal.services.clock import london_today
from portal.services.register import CheckState, check_state
from tests.conftest import csrf_token, get_page, post_form, sign_in
from tests.helpers import last_link_sent_to

JAY = "jay.pa@example.org"
OMAR = "omar@harbour.example"
KIM = "kim@brightpath.example"


def today_words() -> str:
    today = london_today()
    return f"{today.day} {today:%B %Y}"


def signed_in(app, email: str):
    client = app.test_client()
    sign_in(client, email)
    return client


def jay_check(app, kind: CheckKind) -> ProfileCheck:
    with app.app_context():
        check = db.session.scalar(
            sa.select(ProfileCheck).join(PAProfile, PAProfile.id == ProfileCheck.profile_id)
            .join(User, User.person_id == PAProfile.person_id).where(User.email == JAY, ProfileCheck.kind == kind)
            .order_by(ProfileCheck.id.desc()))
        db.session.expunge(check)
        return check


def request_for(app, check_id: int, organisation: str) -> VerificationRequest:
    with app.app_context():
        found = db.session.scalar(
            sa.select(VerificationRequest).join(Organisation, Organisation.id == VerificationRequest.provider_id)
            .where(VerificationRequest.check_id == check_id, Organisation.name == organisation))
        if found is not None:
            db.session.expunge(found)
        return found


def organisation_id(app, name: str) -> int:
    with app.app_context():
        return db.session.scalar(sa.select(Organisation.id).where(Organisation.name == name))


def png() -> bytes:
    out = io.BytesIO()
    Image.new("RGB", (300, 200), (250, 250, 250)).save(out, "PNG")
    return out.getvalue()


# Verifying ---------------------------------------------------------------------------------------


def test_omar_verifies_jays_dbs_and_the_profile_names_harbour(app):
    dbs = jay_check(app, CheckKind.DBS)
    asked = request_for(app, dbs.id, "Harbour DPSS")
    omar = signed_in(app, OMAR)
    assert "Checks to verify (1)" in get_page(omar, "/home").text
    queue = get_page(omar, "/register/verifications")
    waiting = queue.soup.find(attrs={"data-waiting": True}).get_text(" ", strip=True)
    assert "Jay Singh" in waiting and "DBS check (enhanced)" in waiting

    page = get_page(omar, f"/register/verifications/{asked.id}")
    assert page.soup.h1.get_text(strip=True) == "DBS check (enhanced)"
    assert "No document uploaded" in page.text and "Jay Singh" in page.soup.find(class_="govuk-caption-l").get_text()
    # Without an answer nothing happens.
    response = post_form(omar, f"/register/verifications/{asked.id}", {})
    assert response.status_code == 200 and "Select yes if you have seen the check and it is genuine" in response.text
    # "Cannot verify" needs a reason for the PA.
    response = post_form(omar, f"/register/verifications/{asked.id}", {"decision": "not_verified", "note": ""})
    assert response.status_code == 200 and "Tell the PA why you cannot verify it" in response.text
    assert jay_check(app, CheckKind.DBS).verified_by_id is None

    response = post_form(omar, f"/register/verifications/{asked.id}", {"decision": "verified"})
    assert response.status_code == 302 and response.headers["Location"].endswith("/register/verifications")
    check = jay_check(app, CheckKind.DBS)
    assert check.verified_by_id == organisation_id(app, "Harbour DPSS") and check.verified_on == london_today()
    answered = get_page(omar, "/register/verifications").soup
    assert answered.find(attrs={"data-waiting": True}) is None
    assert "Jay Singh" in answered.find(attrs={"data-answered": True}).get_text()
    with app.app_context():
        audit_actions = db.session.execute(sa.text("select action, record_id from audit_events")).all()
    assert ("register.check_verified", str(dbs.id)) in [tuple(row) for row in audit_actions]

    jay = signed_in(app, JAY)
    profile = get_page(jay, "/register/profile")
    row = profile.soup.find(attrs={"data-check": "dbs"}).get_text(" ", strip=True)
    assert f"Verified by Harbour DPSS on {today_words()}" in row
    assert [li.get_text() for li in profile.soup.find(attrs={"data-verified-by": True}).find_all("li")] == ["Harbour DPSS"]
    with app.app_context():
        told = db.session.scalars(sa.select(Notification.message).join(User, User.id == Notification.user_id)
                                  .where(User.email == JAY)).all()
    assert any(message.startswith("Harbour DPSS verified your") for message in told)


def test_a_second_answer_does_not_change_the_verifier(app):
    asked = request_for(app, jay_check(app, CheckKind.DBS).id, "Harbour DPSS")
    omar = signed_in(app, OMAR)
    page_url = f"/register/verifications/{asked.id}"
    form_page = omar.get(page_url).text  # the form, opened before anyone answered
    post_form(omar, page_url, {"decision": "verified"})
    response = omar.post(page_url, data={"csrf_token": csrf_token(form_page), "decision": "not_verified", "note": "Blurred"})
    assert response.status_code == 302
    followed = omar.get(response.headers["Location"]).text
    assert "already been answered" in followed
    check = jay_check(app, CheckKind.DBS)
    assert check.verified_by_id == organisation_id(app, "Harbour DPSS")
    with app.app_context():
        row = db.session.get(VerificationRequest, asked.id)
        assert row.verified is True and row.answer_note == ""
        assert check_state(db.session.get(ProfileCheck, check.id)) == CheckState.VERIFIED


def test_only_the_dpss_asked_sees_the_request(app):
    asked = request_for(app, jay_check(app, CheckKind.DBS).id, "Harbour DPSS")
    for email in (KIM, "lee@brightpath.example"):
        other = signed_in(app, email)
        assert other.get(f"/register/verifications/{asked.id}").status_code == 404, email
        assert other.get(f"/register/verifications/{asked.id}/document").status_code == 404, email
        assert post_form(other, f"/register/verifications/{asked.id}", {"decision": "verified"},
                         page_url="/register/verifications").status_code == 404
        assert "Jay Singh" not in get_page(other, "/register/verifications").text
    assert jay_check(app, CheckKind.DBS).verified_by_id is None
    for email in (JAY, "david@example.org", "rachel@northfield.example"):
        client = signed_in(app, email)
        assert client.get("/register/verifications").status_code == 403, email
        assert client.get(f"/register/verifications/{asked.id}").status_code == 403, email


def test_jay_adds_a_check_with_a_document_and_asks_brightpath(app):
    jay = signed_in(app, JAY)
    form = get_page(jay, "/register/checks/new")
    # The DBS level and update service are revealed under the DBS choice.
    dbs_choice = form.soup.find("input", {"name": "kind", "value": "dbs"})
    assert dbs_choice.has_attr("data-aria-controls")
    assert form.soup.find(id=dbs_choice["data-aria-controls"]).find("input", {"name": "dbs_level"})

    response = post_form(jay, "/register/checks/new", {"kind": "dbs", "issued_on": ["1", "9", "2025"],
                                                        "expires_on": ["1", "8", "2025"]})
    assert response.status_code == 200
    assert "Select the level of the DBS check" in response.text
    assert "The expiry date must be after the date it was issued" in response.text

    response = post_form(jay, "/register/checks/new", {
        "kind": "moving_and_handling", "detail": "Northfield College, one day course",
        "issued_on": ["3", "2", "2026"], "expires_on": ["3", "2", "2029"],
        "document": (io.BytesIO(png()), "certificate.png")})
    assert response.status_code == 302
    check = jay_check(app, CheckKind.MOVING_AND_HANDLING)
    assert response.headers["Location"].endswith(f"/register/checks/{check.id}")
    assert check.document_name and check.document_display_name == "certificate.png"
    page = get_page(jay, f"/register/checks/{check.id}")
    assert "Not verified" in page.soup.find(attrs={"data-state": True}).get_text()
    assert jay.get(f"/register/checks/{check.id}/document").status_code == 200

    # No choice: a message, nothing asked.
    response = post_form(jay, f"/register/checks/{check.id}/verification", {"provider": ""}, page_url=f"/register/checks/{check.id}")
    assert response.status_code == 200 and "Select the support service you want to check this" in response.text
    brightpath = organisation_id(app, "Brightpath Support")
    response = post_form(jay, f"/register/checks/{check.id}/verification", {"provider": str(brightpath)},
                         page_url=f"/register/checks/{check.id}")
    assert response.status_code == 302
    assert "We have asked Brightpath Support to verify your moving and handling" in jay.get(response.headers["Location"]).text
    asked = request_for(app, check.id, "Brightpath Support")
    assert asked is not None and asked.answered_at is None
    assert "Waiting for Brightpath Support" in get_page(jay, "/register/profile").text

    # Kim (Brightpath) sees it and the document; Omar (Harbour, not asked) does not.
    kim = signed_in(app, KIM)
    assert "Checks to verify (1)" in get_page(kim, "/home").text
    document = kim.get(f"/register/verifications/{asked.id}/document")
    assert document.status_code == 200 and document.mimetype == "image/png"
    omar = signed_in(app, OMAR)
    assert omar.get(f"/register/verifications/{asked.id}").status_code == 404
    assert omar.get(f"/register/verifications/{asked.id}/document").status_code == 404

    # Kim cannot verify it: Jay's profile says why, and the check is still unverified.
    post_form(kim, f"/register/verifications/{asked.id}", {"decision": "not_verified", "note": "The certificate has no date"})
    row = get_page(jay, "/register/profile").soup.find(attrs={"data-check": "moving_and_handling"}).get_text(" ", strip=True)
    assert "Brightpath Support could not verify it: The certificate has no date" in row
    assert jay_check(app, CheckKind.MOVING_AND_HANDLING).verified_by_id is None


def test_a_pa_sees_and_deletes_only_their_own_checks(app):
    sophie = signed_in(app, "sophie.pa@example.org")
    jays = jay_check(app, CheckKind.DBS)
    assert sophie.get(f"/register/checks/{jays.id}").status_code == 404
    assert sophie.get(f"/register/checks/{jays.id}/document").status_code == 404
    token = csrf_token(sophie.get("/register/profile").text)
    assert sophie.post(f"/register/checks/{jays.id}/delete", data={"csrf_token": token, "confirm": "yes"}).status_code == 404
    assert sophie.post(f"/register/checks/{jays.id}/verification", data={"csrf_token": token, "provider": "1"}).status_code == 404

    jay = signed_in(app, JAY)
    # A bare POST (no confirmation) deletes nothing.
    token = csrf_token(jay.get(f"/register/checks/{jays.id}").text)
    jay.post(f"/register/checks/{jays.id}/delete", data={"csrf_token": token})
    assert jay_check(app, CheckKind.DBS).id == jays.id
    response = post_form(jay, f"/register/checks/{jays.id}/delete", {"confirm": "yes"}, page_url=f"/register/checks/{jays.id}")
    assert response.status_code == 302
    with app.app_context():
        assert db.session.get(ProfileCheck, jays.id) is None
        assert db.session.scalar(sa.select(VerificationRequest).where(VerificationRequest.check_id == jays.id)) is None
    omar = signed_in(app, OMAR)
    assert "Jay Singh" not in get_page(omar, "/register/verifications").text


# Inviting a PA to the register -------------------------------------------------------------------


def test_kim_invites_a_pa_who_then_sets_a_password(app):
    kim = signed_in(app, KIM)
    page = get_page(kim, "/home")
    assert page.soup.find("a", href="/register/invite")
    response = post_form(kim, "/register/invite", {"given_name": "", "family_name": "Shah", "email": "not-an-email"})
    assert response.status_code == 200
    summary = BeautifulSoup(response.text, "html.parser").find(class_="govuk-error-summary").get_text(" ", strip=True)
    assert "Enter the PA's first name" in summary and "Enter an email address in the correct format" in summary
    response = post_form(kim, "/register/invite", {"given_name": "Jay", "family_name": "Singh", "email": "Jay.PA@example.org"})
    assert response.status_code == 200 and "There is already an account with that email address" in response.text
    with app.app_context():
        assert db.session.scalar(sa.select(sa.func.count()).select_from(Person).where(Person.given_name == "Jay")) == 1

    response = post_form(kim, "/register/invite", {"given_name": " Priya ", "family_name": "Shah", "email": "Priya@Example.org"})
    assert response.status_code == 302
    assert "We have sent an invitation to priya@example.org" in kim.get(response.headers["Location"]).text
    with app.app_context():
        user = db.session.scalar(sa.select(User).where(User.email == "priya@example.org"))
        assert user.role == Role.PA and user.password_hash in (None, "") and user.organisation_id is None
        assert (user.person.given_name, user.person.family_name) == ("Priya", "Shah")
        assert db.session.scalar(sa.select(PAProfile).where(PAProfile.person_id == user.person_id)) is None
    link = last_link_sent_to("priya@example.org")
    priya = app.test_client()
    post_form(priya, link, {"password": "a long new password 7", "confirm": "a long new password 7"})
    sign_in(priya, "priya@example.org", "a long new password 7")
    assert "Create your profile" in get_page(priya, "/register/profile").text


@pytest.mark.parametrize("email", [JAY, "david@example.org", "rachel@northfield.example"])
def test_only_dpss_staff_invite_pas_to_the_register(app, email):
    client = signed_in(app, email)
    assert client.get("/register/invite").status_code == 403
