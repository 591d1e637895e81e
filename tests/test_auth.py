"""Signing in and out, sessions, throttling, authenticator codes, resets and invitations."""

from datetime import timedelta

import pyotp
import pytest
import sqlalchemy as sa

from portal.extensions import db
from portal.models import SignInFailure, User, UserSession
from portal.services.clock import utcnow
from tests.conftest import DEMO_PASSWORD, TOTP, csrf_token, get_page, post_form, sign_in
from tests.helpers import last_link_sent_to, person_id, user_by_email

NEW_PASSWORD = "a long new pass phrase"


def _attempt(client, email, password):
    page = client.get("/sign-in")
    return client.post("/sign-in", data={"csrf_token": csrf_token(page.text), "email": email, "password": password})


def _session_cookie(client) -> str:
    cookie = client.get_cookie("session")
    assert cookie is not None
    return cookie.value


def test_sign_in_form_has_the_labels_and_button_people_expect(client):
    page = get_page(client, "/sign-in")
    labels = [label.get_text(strip=True) for label in page.soup.find_all("label")]
    assert "Email address" in labels and "Password" in labels
    form = page.soup.find("form", action="/sign-in")
    assert form["method"] == "post"
    assert form.find(["button", "input"], string=lambda s: s and "Sign in" in s) or form.find("input", value="Sign in")


def test_unknown_email_and_wrong_password_get_the_same_message(client):
    unknown = _attempt(client, "nobody@example.org", DEMO_PASSWORD)
    wrong = _attempt(client, "amina@example.org", "not the right password")
    assert unknown.status_code == wrong.status_code == 200
    message = "Enter a correct email address and password"
    assert message in unknown.text and message in wrong.text
    assert unknown.text.count(message) == wrong.text.count(message)


def test_sign_in_starts_a_new_session_and_sign_out_ends_it_on_the_server(app):
    client = app.test_client()
    client.get("/sign-in")
    before = _session_cookie(client)
    sign_in(client, "amina@example.org")
    after = _session_cookie(client)
    assert before != after
    assert client.get("/home").status_code == 200

    response = post_form(client, "/sign-out", {}, page_url="/home")
    assert response.status_code == 302

    # Replaying the signed-in cookie is refused: the session row has ended.
    replay = app.test_client()
    replay.set_cookie("session", after, domain="localhost")
    response = replay.get("/home")
    assert response.status_code == 302 and "/sign-in" in response.headers["Location"]


def test_password_change_ends_every_other_session_and_old_cookies(app):
    first, second = app.test_client(), app.test_client()
    sign_in(first, "amina@example.org")
    sign_in(second, "amina@example.org")
    old_cookie = _session_cookie(first)

    response = post_form(
        first, "/account/password",
        {"current_password": DEMO_PASSWORD, "password": NEW_PASSWORD, "confirm": NEW_PASSWORD},
    )
    assert response.status_code == 302
    assert first.get("/home").status_code == 200, "the person who changed it stays signed in, afresh"
    assert second.get("/home").status_code == 302, "other sessions end"
    replay = app.test_client()
    replay.set_cookie("session", old_cookie, domain="localhost")
    assert replay.get("/home").status_code == 302, "the pre-change cookie is refused"
    assert "Enter a correct" in _attempt(app.test_client(), "amina@example.org", DEMO_PASSWORD).text
    sign_in(app.test_client(), "amina@example.org", NEW_PASSWORD)


def test_password_change_refuses_wrong_current_password_and_weak_passwords(app):
    client = app.test_client()
    sign_in(client, "amina@example.org")
    wrong = post_form(client, "/account/password", {"current_password": "nope nope nope", "password": NEW_PASSWORD, "confirm": NEW_PASSWORD})
    assert "Your current password is not right" in wrong.text
    short = post_form(client, "/account/password", {"current_password": DEMO_PASSWORD, "password": "elevenchars", "confirm": "elevenchars"})
    assert "12 characters or more" in short.text
    common = post_form(client, "/account/password", {"current_password": DEMO_PASSWORD, "password": "password1234", "confirm": "password1234"})
    assert "too common" in common.text
    assert "<title>Error: " in common.text
    # Nothing changed: the old password still works.
    sign_in(app.test_client(), "amina@example.org")


def test_disabling_an_account_ends_its_sessions_and_refuses_sign_in_until_re_enabled(app):
    amina, admin = app.test_client(), app.test_client()
    sign_in(amina, "amina@example.org")
    sign_in(admin, "admin@example.org")
    amina_id = user_by_email(app, "amina@example.org").id

    assert post_form(admin, f"/admin/users/{amina_id}/disable", {}, page_url=f"/admin/users/{amina_id}").status_code == 302
    assert amina.get("/home").status_code == 302
    refused = _attempt(app.test_client(), "amina@example.org", DEMO_PASSWORD)
    assert "disabled" in refused.text

    post_form(admin, f"/admin/users/{amina_id}/enable", {}, page_url=f"/admin/users/{amina_id}")
    sign_in(app.test_client(), "amina@example.org")
    with app.app_context():
        actions = set(db.session.scalars(sa.select(sa.text("action")).select_from(sa.text("audit_events"))))
    assert {"account.disabled", "account.enabled"} <= actions


def test_idle_session_times_out_after_30_minutes_with_a_message(app):
    client = app.test_client()
    sign_in(client, "amina@example.org")
    with app.app_context():
        db.session.execute(sa.update(UserSession).values(last_seen_at=utcnow() - timedelta(minutes=31)))
        db.session.commit()
    response = client.get("/home")
    assert response.status_code == 302
    page = client.get(response.headers["Location"])
    assert "30 minutes" in page.text


def test_signed_in_pages_carry_the_timeout_warning(app):
    client = app.test_client()
    sign_in(client, "amina@example.org")
    page = get_page(client, "/home")
    assert page.soup.find(attrs={"data-timeout-warning": True})
    assert page.soup.find(id="session-timeout")["data-idle-minutes"] == "30"


class TestThrottling:
    def test_five_failures_lock_the_account_only_and_say_how_long(self, app):
        for _ in range(5):
            assert _attempt(app.test_client(), "amina@example.org", "wrong password!").status_code == 200
        refused = _attempt(app.test_client(), "amina@example.org", DEMO_PASSWORD)
        assert refused.status_code == 429
        assert "too many attempts" in refused.text and "Wait 15 minutes" in refused.text
        # Another account from the same address is not affected.
        sign_in(app.test_client(), "tom@example.org")

    def test_successes_do_not_count(self, app):
        for _ in range(6):
            client = app.test_client()
            sign_in(client, "amina@example.org")
        with app.app_context():
            assert db.session.scalar(sa.select(sa.func.count()).select_from(SignInFailure)) == 0

    def test_twenty_failures_from_one_address_lock_that_address(self, app):
        for n in range(20):
            _attempt(app.test_client(), f"person{n}@example.org", "wrong password!")
        refused = _attempt(app.test_client(), "amina@example.org", DEMO_PASSWORD)
        assert refused.status_code == 429

    def test_failures_older_than_15_minutes_no_longer_count(self, app):
        for _ in range(5):
            _attempt(app.test_client(), "amina@example.org", "wrong password!")
        with app.app_context():
            db.session.execute(sa.update(SignInFailure).values(at=utcnow() - timedelta(minutes=16)))
            db.session.commit()
        sign_in(app.test_client(), "amina@example.org")

    def test_an_administrator_can_lift_a_throttle(self, app):
        for _ in range(5):
            _attempt(app.test_client(), "amina@example.org", "wrong password!")
        admin = app.test_client()
        sign_in(admin, "admin@example.org")
        page = get_page(admin, "/admin/throttles")
        assert "amina@example.org" in page.text
        response = admin.post("/admin/throttles/lift", data={"csrf_token": csrf_token(page.text), "kind": "account", "value": "amina@example.org"})
        assert response.status_code == 302
        sign_in(app.test_client(), "amina@example.org")


class TestAuthenticator:
    def test_staff_are_asked_for_a_code_in_the_labelled_field(self, app):
        client = app.test_client()
        response = _attempt(client, "kim@brightpath.example", DEMO_PASSWORD)
        assert response.headers["Location"].endswith("/sign-in/code")
        page = get_page(client, "/sign-in/code")
        assert page.soup.find("label", string=lambda s: s and "Code from your authenticator app" in s)
        assert client.get("/home").status_code == 302, "not signed in until the code is given"

    def test_a_code_is_accepted_once_per_account_and_other_accounts_are_unaffected(self, app):
        code = TOTP.now()

        def give_code(email):
            client = app.test_client()
            _attempt(client, email, DEMO_PASSWORD)
            page = client.get("/sign-in/code")
            return client.post("/sign-in/code", data={"csrf_token": csrf_token(page.text), "code": code})

        assert give_code("kim@brightpath.example").status_code == 302
        reused = give_code("kim@brightpath.example")
        assert reused.status_code == 200 and "has been used already" in reused.text
        assert give_code("lee@brightpath.example").status_code == 302

    def test_a_wrong_code_is_refused(self, app):
        client = app.test_client()
        _attempt(client, "omar@harbour.example", DEMO_PASSWORD)
        page = client.get("/sign-in/code")
        response = client.post("/sign-in/code", data={"csrf_token": csrf_token(page.text), "code": "000000" if TOTP.now() != "000000" else "111111"})
        assert "The code is not right" in response.text
        assert client.get("/home").status_code == 302

    def test_reset_authenticator_makes_staff_set_up_a_new_one(self, app):
        kim, admin = app.test_client(), app.test_client()
        sign_in(kim, "kim@brightpath.example")
        sign_in(admin, "admin@example.org")
        kim_id = user_by_email(app, "kim@brightpath.example").id
        post_form(admin, f"/admin/users/{kim_id}/reset-authenticator", {}, page_url=f"/admin/users/{kim_id}")
        assert kim.get("/home").status_code == 302, "resetting ends Kim's sessions"

        client = app.test_client()
        response = _attempt(client, "kim@brightpath.example", DEMO_PASSWORD)
        assert response.headers["Location"].endswith("/sign-in/set-up-authenticator")
        page = get_page(client, "/sign-in/set-up-authenticator")
        assert page.soup.find("svg"), "a QR code is shown"
        secret = page.soup.find("code").get_text(strip=True)
        assert secret != "NORTHFIELDDEMOAUTHENTICATOR23456"
        response = client.post("/sign-in/set-up-authenticator", data={"csrf_token": csrf_token(page.text), "code": pyotp.TOTP(secret).now()})
        assert response.status_code == 302 and response.headers["Location"].endswith("/home")
        assert client.get("/home").status_code == 200

    def test_non_staff_may_set_up_an_authenticator_and_are_then_asked_for_it(self, app):
        client = app.test_client()
        sign_in(client, "amina@example.org")
        page = get_page(client, "/account/authenticator")
        secret = page.soup.find("code").get_text(strip=True)
        client.post("/account/authenticator", data={"csrf_token": csrf_token(page.text), "code": pyotp.TOTP(secret).now()})
        assert user_by_email(app, "amina@example.org").totp_secret == secret
        response = _attempt(app.test_client(), "amina@example.org", DEMO_PASSWORD)
        assert response.headers["Location"].endswith("/sign-in/code")


class TestPasswordReset:
    def test_the_link_works_once(self, app):
        client = app.test_client()
        response = post_form(client, "/forgot-password", {"email": "amina@example.org"})
        assert "Check your email" in response.text
        link = last_link_sent_to("amina@example.org")
        page = get_page(client, link)
        response = client.post(link, data={"csrf_token": csrf_token(page.text), "password": NEW_PASSWORD, "confirm": NEW_PASSWORD})
        assert response.status_code == 302
        sign_in(app.test_client(), "amina@example.org", NEW_PASSWORD)
        assert client.get(link).status_code == 410

    def test_the_link_expires_after_an_hour(self, app):
        client = app.test_client()
        post_form(client, "/forgot-password", {"email": "amina@example.org"})
        link = last_link_sent_to("amina@example.org")
        from portal.models import OneTimeToken

        with app.app_context():
            db.session.execute(sa.update(OneTimeToken).values(expires_at=utcnow() - timedelta(seconds=1)))
            db.session.commit()
        response = client.get(link)
        assert response.status_code == 410 and "expired" in response.text

    def test_unknown_email_gets_the_same_answer_and_no_email(self, app):
        from portal.services import mail

        mail.OUTBOX.clear()
        response = post_form(app.test_client(), "/forgot-password", {"email": "nobody@example.org"})
        assert "Check your email" in response.text
        assert mail.OUTBOX == []

    def test_a_reset_ends_existing_sessions(self, app):
        signed_in = app.test_client()
        sign_in(signed_in, "amina@example.org")
        client = app.test_client()
        post_form(client, "/forgot-password", {"email": "amina@example.org"})
        link = last_link_sent_to("amina@example.org")
        page = client.get(link)
        client.post(link, data={"csrf_token": csrf_token(page.text), "password": NEW_PASSWORD, "confirm": NEW_PASSWORD})
        assert signed_in.get("/home").status_code == 302


class TestInvitations:
    def test_staff_invite_a_pa_who_sets_a_password_once_and_signs_in(self, app):
        kim = app.test_client()
        sign_in(kim, "kim@brightpath.example")
        amina = person_id(app, "Amina", "Patel")
        joan = person_id(app, "Joan", "Price")
        page = get_page(kim, f"/people/{amina}/invite")
        assert "Joan Price" in page.text
        response = kim.post(f"/people/{amina}/invite", data={"csrf_token": csrf_token(page.text), "person": str(joan), "email": "joan@example.org"})
        assert response.status_code == 302

        link = last_link_sent_to("joan@example.org")
        client = app.test_client()
        page = get_page(client, link)
        assert "Create your password" in page.text
        client.post(link, data={"csrf_token": csrf_token(page.text), "password": NEW_PASSWORD, "confirm": NEW_PASSWORD})
        joan_client = app.test_client()
        sign_in(joan_client, "joan@example.org", NEW_PASSWORD)
        assert "Amina Patel" in joan_client.get("/home").text
        assert app.test_client().get(link).status_code == 410, "the invitation works once"

    def test_staff_cannot_invite_for_someone_outside_their_caseload(self, app):
        omar = app.test_client()
        sign_in(omar, "omar@harbour.example")
        amina = person_id(app, "Amina", "Patel")
        assert omar.get(f"/people/{amina}/invite").status_code == 404

    def test_an_email_already_in_use_is_refused(self, app):
        kim = app.test_client()
        sign_in(kim, "kim@brightpath.example")
        amina, joan = person_id(app, "Amina", "Patel"), person_id(app, "Joan", "Price")
        response = post_form(kim, f"/people/{amina}/invite", {"person": str(joan), "email": "tom@example.org"})
        assert "already an account" in response.text

    def test_admin_invites_staff_who_must_set_up_an_authenticator(self, app):
        admin = app.test_client()
        sign_in(admin, "admin@example.org")
        with app.app_context():
            harbour = db.session.scalar(sa.text("SELECT id FROM organisations WHERE name = 'Harbour DPSS'"))
        response = post_form(admin, "/admin/users/new", {
            "name": "Nia Shaw", "email": "nia@harbour.example", "role": "dpss_caseworker", "organisation": str(harbour),
        })
        assert response.status_code == 302
        link = last_link_sent_to("nia@harbour.example")
        client = app.test_client()
        page = client.get(link)
        client.post(link, data={"csrf_token": csrf_token(page.text), "password": NEW_PASSWORD, "confirm": NEW_PASSWORD})
        response = _attempt(client, "nia@harbour.example", NEW_PASSWORD)
        assert response.headers["Location"].endswith("/sign-in/set-up-authenticator")

    def test_admin_staff_invitation_checks_the_organisation_matches_the_role(self, app):
        admin = app.test_client()
        sign_in(admin, "admin@example.org")
        with app.app_context():
            northfield = db.session.scalar(sa.text("SELECT id FROM organisations WHERE name = 'Northfield City Council'"))
        response = post_form(admin, "/admin/users/new", {
            "name": "Wrong Place", "email": "wrong@example.org", "role": "dpss_manager", "organisation": str(northfield),
        })
        assert "Select the DPSS provider" in response.text
        with app.app_context():
            assert db.session.scalar(sa.select(User.id).where(User.email == "wrong@example.org")) is None


def test_ending_a_representative_link_ends_access_at_once(app):
    from portal.models import RepresentativeLink

    david = app.test_client()
    sign_in(david, "david@example.org")
    grace = person_id(app, "Grace", "Okafor")
    assert david.get(f"/people/{grace}").status_code == 200
    with app.app_context():
        from portal.services.clock import london_today

        db.session.execute(
            sa.update(RepresentativeLink).where(RepresentativeLink.recipient_id == grace)
            .values(end_date=london_today() - timedelta(days=1))
        )
        db.session.commit()
    assert david.get(f"/people/{grace}").status_code == 404
    assert "Grace Okafor" not in david.get("/home").text


@pytest.mark.parametrize("email", ["amina@example.org", "kim@brightpath.example"])
def test_sign_in_follows_next_only_to_this_site(app, email):
    client = app.test_client()
    client.get("/sign-in?next=https://evil.example/")
    sign_in(client, email)
