"""Control characters in what a browser sends: taken out before any form or query sees them.

PostgreSQL cannot store NUL at all ("text fields cannot contain NUL"), so a NUL typed into any text
field, or put in a search address, used to be a 500 there. Nobody types control characters; tabs and
line breaks are kept.
"""

import io

import sqlalchemy as sa

from portal.extensions import db
from portal.models import EntryState
from tests.conftest import csrf_token, get_page
from tests.helpers import person_id
from tests.test_case_lifecycle import KIM, _client, _names
from tests.test_money_pages import _flagged_cash_withdrawal, _signed_in


def test_form_and_query_values_lose_control_characters_and_keep_tabs_and_line_breaks(app):
    with app.test_request_context("/?q=sm%00ith%07&page=2", method="POST",
                                  data={"text": "a\x00b\x1bc\td\r\ne\x7f", "plain": "nothing odd", "file": (io.BytesIO(b"\x00\x01"), "x.pdf")}):
        from flask import request

        assert request.args.to_dict() == {"q": "smith", "page": "2"}
        assert request.form["text"] == "abc\td\r\ne"
        assert request.form["plain"] == "nothing odd"
        assert request.files["file"].read() == b"\x00\x01", "uploaded files are left as sent (they are checked by content)"


def test_a_repeated_field_keeps_every_value(app):
    with app.test_request_context("/?status=a%00&status=b"):
        from flask import request

        assert request.args.getlist("status") == ["a", "b"]


def test_an_explanation_with_a_nul_is_saved_without_it(money_app):
    amina = person_id(money_app, "Amina", "Patel")
    entry_id = _flagged_cash_withdrawal(money_app, amina)
    client = _signed_in(money_app, "amina@example.org")
    explain = get_page(client, f"/people/{amina}/transactions/{entry_id}/explain")
    response = client.post(f"/people/{amina}/transactions/{entry_id}/explain",
                           data={"csrf_token": csrf_token(explain.text), "explanation": "Swimming\x00 lesson\x08\nand a towel"})
    assert response.status_code == 302
    with money_app.app_context():
        assert db.session.scalar(sa.select(EntryState.explanation).where(EntryState.entry_id == entry_id)) == "Swimming lesson\nand a towel"


def test_a_search_with_a_nul_finds_what_the_search_without_it_finds(app):
    client = _client(app, KIM)
    response = client.get("/caseload?q=hug%00hes")
    assert response.status_code == 200
    assert _names(response.text) == ["Hughes, Tom"]


def test_an_address_with_a_control_character_is_not_found(app):
    client = app.test_client()
    assert client.get("/content/privacy%00").status_code == 404
    assert client.get("/set-password/abc%01def").status_code == 404
