"""The employer's duties show where the people who can act on them look: the record page, for the
employer and their DPSS alike (Tom's insurance runs out in 20 days; Leon's right-to-work check is
not recorded in the demo)."""

from tests.conftest import get_page, sign_in
from tests.helpers import person_id


def duties_text(client, tom: int) -> str:
    found = get_page(client, f"/people/{tom}").soup.find(attrs={"data-duties": True})
    return found.get_text(" ", strip=True) if found else ""


def test_the_dpss_and_the_employer_see_the_duties_needing_attention(money_app):
    tom = person_id(money_app, "Tom", "Hughes")
    for email in ("kim@brightpath.example", "tom@example.org", "rachel@northfield.example"):
        client = money_app.test_client()
        sign_in(client, email)
        text = duties_text(client, tom)
        assert "Expiring soon" in text and "insurance" in text.lower(), (email, text)
        assert "Leon Baptiste" in text and "right to work" in text.lower(), (email, text)


def test_an_employer_with_every_duty_done_sees_no_list(money_app):
    amina = person_id(money_app, "Amina", "Patel")
    client = money_app.test_client()
    sign_in(client, "amina@example.org")
    assert duties_text(client, amina) == ""
