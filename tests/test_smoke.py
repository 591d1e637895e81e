from tests.conftest import get_page, sign_in


def test_start_page_says_what_the_service_is(client):
    page = get_page(client, "/")
    assert "direct payment" in page.text.lower()
    assert any("Sign in" in a.get_text() for a in page.soup.find_all("a"))


def test_every_persona_can_sign_in_and_reach_home(app):
    for email in ["amina@example.org", "david@example.org", "kim@brightpath.example", "admin@example.org"]:
        client = app.test_client()
        sign_in(client, email)
        assert client.get("/home").status_code in (200, 302)
