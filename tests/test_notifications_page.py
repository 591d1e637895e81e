"""The notifications page: each person's own messages, newest first, with links, and "Mark all as read"."""

from datetime import timedelta

import sqlalchemy as sa

from portal.extensions import db
from portal.models import AuditEvent, Notification, User
from portal.services import notifications
from portal.services.clock import utcnow
from tests.conftest import csrf_token, get_page, sign_in


def _user(app, email) -> User:
    return db.session.scalar(sa.select(User).where(User.email == email))


def _notify(app, email, key, message, link="", minutes_ago=0):
    with app.app_context():
        notifications.notify([_user(app, email)], key, message, link)
        if minutes_ago:
            note = db.session.scalar(sa.select(Notification).where(Notification.key == key))
            note.created_at = utcnow() - timedelta(minutes=minutes_ago)
        db.session.commit()


def _signed_in(app, email):
    client = app.test_client()
    sign_in(client, email)
    return client


def _messages(page) -> list[str]:
    return [li.select("p")[1].get_text(strip=True) for li in page.soup.select("[data-notifications] li")]


def test_people_see_only_their_own_notifications_newest_first(app):
    _notify(app, "amina@example.org", "test:1", "Older message for Amina", "/home", minutes_ago=60)
    _notify(app, "amina@example.org", "test:2", "Newer message for Amina", "/people/1/money")
    _notify(app, "sophie.pa@example.org", "test:3", "A message for Sophie")
    page = get_page(_signed_in(app, "amina@example.org"), "/notifications")
    assert page.soup.h1.get_text(strip=True) == "Notifications"
    assert _messages(page) == ["Newer message for Amina", "Older message for Amina"]
    links = [a["href"] for a in page.soup.select("[data-notifications] a")]
    assert links == ["/people/1/money", "/home"]
    assert "You have 2 unread notifications." in page.text
    assert "A message for Sophie" not in page.text
    sophie = get_page(_signed_in(app, "sophie.pa@example.org"), "/notifications")
    assert _messages(sophie) == ["A message for Sophie"]


def test_mark_all_as_read_marks_only_your_own(app):
    _notify(app, "amina@example.org", "test:1", "For Amina")
    _notify(app, "sophie.pa@example.org", "test:2", "For Sophie")
    client = _signed_in(app, "amina@example.org")
    page = get_page(client, "/notifications")
    assert page.soup.select_one("[data-notifications] .govuk-tag").get_text(strip=True) == "New"
    response = client.post("/notifications/read", data={"csrf_token": csrf_token(page.text)})
    assert response.status_code == 302 and response.headers["Location"].endswith("/notifications")
    after = get_page(client, "/notifications")
    assert "You have no unread notifications." in after.text and not after.soup.select("[data-notifications] .govuk-tag")
    assert "All your notifications are marked as read." in after.text
    with app.app_context():
        assert notifications.unread_count(_user(app, "amina@example.org")) == 0
        assert notifications.unread_count(_user(app, "sophie.pa@example.org")) == 1
        assert db.session.scalar(sa.select(AuditEvent.id).where(AuditEvent.action == "notifications.read")) is not None


def test_marking_read_needs_the_csrf_token(app):
    _notify(app, "amina@example.org", "test:1", "For Amina")
    client = _signed_in(app, "amina@example.org")
    assert client.post("/notifications/read", data={}).status_code == 400
    with app.app_context():
        assert notifications.unread_count(_user(app, "amina@example.org")) == 1


def test_anonymous_people_are_sent_to_sign_in(app):
    client = app.test_client()
    assert client.get("/notifications").headers["Location"].startswith("/sign-in")
    assert client.post("/notifications/read").status_code in (302, 400)


def test_staff_and_the_administrator_have_a_page_too(app):
    _notify(app, "kim@brightpath.example", "test:1", "For Kim", "/payroll/timesheets")
    assert _messages(get_page(_signed_in(app, "kim@brightpath.example"), "/notifications")) == ["For Kim"]
    page = get_page(_signed_in(app, "admin@example.org"), "/notifications")
    assert "Nothing yet." in page.text


def test_only_links_within_the_portal_are_followed(app):
    _notify(app, "amina@example.org", "test:1", "Bad link", "https://evil.example/steal")
    _notify(app, "amina@example.org", "test:2", "Another bad link", "//evil.example")
    page = get_page(_signed_in(app, "amina@example.org"), "/notifications")
    assert not page.soup.select("[data-notifications] a")


def test_older_notifications_a_page_at_a_time(app):
    for n in range(55):
        _notify(app, "amina@example.org", f"test:{n}", f"Message {n:02d}", minutes_ago=100 - n)
    client = _signed_in(app, "amina@example.org")
    first = get_page(client, "/notifications")
    assert len(_messages(first)) == 50 and _messages(first)[0] == "Message 54"
    older = first.soup.find("a", string="Older notifications")["href"]
    second = get_page(client, older)
    assert _messages(second) == [f"Message {n:02d}" for n in range(4, -1, -1)]
    assert client.get("/notifications?before=nonsense").status_code == 400
