"""Case notes and safeguarding concerns: who reads and writes notes, that notes cannot be changed, who is
told of a concern, who may report one (a PA only about a current employer), who acknowledges it, and
that what people type is shown as text."""

from datetime import timedelta

import pytest
import sqlalchemy as sa

from portal.extensions import db
from portal.models import Employment, Notification, Organisation, Recipient, User
from portal.models.casework import CaseNote, SafeguardingConcern
from portal.services import casework, local_settings, mail
from portal.services.clock import london_today
from portal.services.demo_casework import TOM_CONCERN
from tests.conftest import csrf_token, get_page, post_form, sign_in
from tests.helpers import person_id

SCRIPT = '<script>alert("x")</script><b>bold</b>'
PEOPLE = {"amina": ("Amina", "Patel"), "grace": ("Grace", "Okafor"), "sam": ("Sam", "Okafor"), "tom": ("Tom", "Hughes"),
          "ellen": ("Ellen", "Marsh"), "sophie": ("Sophie", "Clarke"), "jay": ("Jay", "Singh"), "david": ("David", "Okafor"),
          "joan": ("Joan", "Price"), "leon": ("Leon", "Baptiste")}


@pytest.fixture
def ids(app):
    return {key: person_id(app, *name) for key, name in PEOPLE.items()}


@pytest.fixture
def demo(app, ids):
    """The personas with the demo's casework, which every demo database already holds (demo.load_personas
    loads it): notes by Omar on Grace and by Kim on Amina, Kim's open concern about Tom. The tests below
    count what is there before they act, rather than assume a number."""
    return ids


def client_for(app, email: str):
    client = app.test_client()
    sign_in(client, email)
    return client


def _user(email: str) -> User:
    return db.session.scalar(sa.select(User).where(User.email == email))


def note_bodies(page) -> list[str]:
    return [li.get_text(" ", strip=True) for li in page.soup.select("[data-note]")]


def open_concerns(app, person: int) -> int:
    """The person's concerns not yet acknowledged, counted in the database (not through the service)."""
    with app.app_context():
        return db.session.scalar(sa.select(sa.func.count()).select_from(SafeguardingConcern).where(
            SafeguardingConcern.recipient_id == person, SafeguardingConcern.acknowledged_at.is_(None)))


def waiting_message(count: int) -> str:
    if count == 0:
        return "No concerns are waiting to be acknowledged."
    return "1 concern is waiting to be acknowledged." if count == 1 else f"{count} concerns are waiting to be acknowledged."


def notified(app, key: str) -> set[str]:
    with app.app_context():
        return set(db.session.scalars(sa.select(User.email).join(Notification, Notification.user_id == User.id)
                                      .where(Notification.key == key)))


# Case notes ------------------------------------------------------------------------------------------


def test_case_notes_are_append_only_in_the_database(app, demo):
    with app.app_context():
        note_id = db.session.scalar(sa.select(CaseNote.id).where(CaseNote.recipient_id == demo["grace"]).limit(1))
        with pytest.raises(sa.exc.DBAPIError):
            db.session.execute(sa.text("UPDATE case_notes SET body = 'changed' WHERE id = :id"), {"id": note_id})
        db.session.rollback()
        with pytest.raises(sa.exc.DBAPIError):
            db.session.execute(sa.text("DELETE FROM case_notes WHERE id = :id"), {"id": note_id})
        db.session.rollback()
        note = db.session.get(CaseNote, note_id)
        note.body = "changed through the ORM"
        with pytest.raises(sa.exc.DBAPIError):
            db.session.commit()
        db.session.rollback()
        assert db.session.get(CaseNote, note_id).body != "changed through the ORM"


def test_staff_add_a_note_and_see_it_first_with_author_organisation_and_time(app, demo):
    grace = demo["grace"]
    omar = client_for(app, "omar@harbour.example")
    before = note_bodies(get_page(omar, f"/people/{grace}/notes"))
    assert before, "the demo's notes on Grace, for the new note to come before"
    response = post_form(omar, f"/people/{grace}/notes", {"body": "Visited Grace with David.\r\n\r\nAll well."})
    assert response.status_code == 302 and response.headers["Location"] == f"/people/{grace}/notes"
    page = get_page(omar, f"/people/{grace}/notes")
    assert "Your note has been added." in page.text
    assert note_bodies(page)[1:] == before, "the new note first, the older ones after it as they were"
    first = page.soup.select("[data-note]")[0]
    assert "Omar Farah, Harbour DPSS" in first.get_text(" ", strip=True)
    assert [p.get_text() for p in first.select("p.govuk-body")] == ["Visited Grace with David.", "All well."]
    assert first.find("h3").get_text(strip=True).endswith(("am", "pm"))  # a London time, like 9:30am
    with app.app_context():
        note = db.session.scalar(sa.select(CaseNote).order_by(CaseNote.id.desc()).limit(1))
        harbour = db.session.scalar(sa.select(Organisation.id).where(Organisation.name == "Harbour DPSS"))
        assert (note.recipient_id, note.organisation_id, note.author.email) == (grace, harbour, "omar@harbour.example")

    # The council officer of Grace's council reads it and writes too.
    rachel = client_for(app, "rachel@northfield.example")
    assert "Visited Grace with David." in note_bodies(get_page(rachel, f"/people/{grace}/notes"))[0]
    post_form(rachel, f"/people/{grace}/notes", {"body": "Council review booked for next month."})
    assert "Rachel Moss, Northfield City Council" in note_bodies(get_page(omar, f"/people/{grace}/notes"))[0]


def test_an_empty_or_too_long_note_is_refused_and_nothing_is_saved(app, demo):
    amina = demo["amina"]
    kim = client_for(app, "kim@brightpath.example")
    with app.app_context():
        before = db.session.scalar(sa.select(sa.func.count()).select_from(CaseNote))
    response = post_form(kim, f"/people/{amina}/notes", {"body": "   \r\n "})
    assert response.status_code == 200 and "Error: " in response.text and "Enter the note" in response.text
    response = post_form(kim, f"/people/{amina}/notes", {"body": "x" * 5001})
    assert "The note must be 5,000 characters or fewer" in response.text
    assert post_form(kim, f"/people/{amina}/notes", {"body": "y" * 5000}).status_code == 302
    with app.app_context():
        assert db.session.scalar(sa.select(sa.func.count()).select_from(CaseNote)) == before + 1


@pytest.mark.parametrize("email", ["amina@example.org", "grace@example.org", "david@example.org", "sophie.pa@example.org",
                                   "admin@example.org"])
def test_people_who_are_not_case_staff_never_see_case_notes(app, demo, email):
    client = client_for(app, email)
    for person in ("amina", "grace", "sam"):
        assert client.get(f"/people/{demo[person]}/notes").status_code == 403
        assert client.get(f"/people/{demo[person]}/concerns").status_code == 403
    with app.app_context():
        before = db.session.scalar(sa.select(sa.func.count()).select_from(CaseNote))
    token = csrf_token(client.get("/account").text)
    assert client.post(f"/people/{demo['grace']}/notes", data={"csrf_token": token, "body": "hello"}).status_code == 403
    with app.app_context():
        assert db.session.scalar(sa.select(sa.func.count()).select_from(CaseNote)) == before


def test_staff_see_notes_only_for_people_in_their_scope(app, demo):
    omar = client_for(app, "omar@harbour.example")
    for person in ("amina", "tom", "sam"):  # Brightpath's
        assert omar.get(f"/people/{demo[person]}/notes").status_code == 404
        assert omar.get(f"/people/{demo[person]}/concerns").status_code == 404
    token = csrf_token(omar.get("/account").text)
    assert omar.post(f"/people/{demo['amina']}/notes", data={"csrf_token": token, "body": "x"}).status_code == 404
    assert get_page(omar, f"/people/{demo['ellen']}/notes").status == 200

    rachel = client_for(app, "rachel@northfield.example")
    assert rachel.get(f"/people/{demo['ellen']}/notes").status_code == 404  # Eastmoor's
    assert rachel.get(f"/people/{demo['ellen']}/concerns").status_code == 404
    assert "Kim Bell, Brightpath Support" in note_bodies(get_page(rachel, f"/people/{demo['amina']}/notes"))[0]

    kim = client_for(app, "kim@brightpath.example")
    assert kim.get(f"/people/{demo['grace']}/notes").status_code == 404
    kim_notes = note_bodies(get_page(kim, f"/people/{demo['amina']}/notes"))
    with app.app_context():
        on_amina = db.session.scalars(sa.select(CaseNote).where(CaseNote.recipient_id == demo["amina"])).all()
        assert {n.author.email for n in on_amina} == {"kim@brightpath.example"}, "the demo's notes on Amina are Kim's"
        newest_first = [n.body for n in sorted(on_amina, key=lambda n: n.created_at, reverse=True)]
    assert len(newest_first) >= 2 and len(kim_notes) == len(newest_first)
    assert all(body in text for body, text in zip(newest_first, kim_notes)), "newest first"
    assert "Joan will be away" in kim_notes[0]


def test_a_note_by_another_provider_stays_with_that_provider(app, demo):
    """As after a move: Brightpath's note on Grace is not Harbour's to read; the council reads both."""
    grace = demo["grace"]
    with app.app_context():
        kim = _user("kim@brightpath.example")
        db.session.add(CaseNote(recipient_id=grace, author_id=kim.id, organisation_id=kim.organisation_id,
                                body="Brightpath's note from before the move"))
        db.session.commit()
    omar = client_for(app, "omar@harbour.example")
    assert not any("before the move" in text for text in note_bodies(get_page(omar, f"/people/{grace}/notes")))
    rachel = client_for(app, "rachel@northfield.example")
    assert any("before the move" in text for text in note_bodies(get_page(rachel, f"/people/{grace}/notes")))


def test_notes_and_concerns_show_script_as_text(app, demo):
    tom = demo["tom"]
    kim = client_for(app, "kim@brightpath.example")
    post_form(kim, f"/people/{tom}/notes", {"body": SCRIPT})
    tom_client = client_for(app, "tom@example.org")
    post_form(tom_client, f"/people/{tom}/concern", {"body": SCRIPT})
    for url in (f"/people/{tom}/notes", f"/people/{tom}/concerns", f"/people/{tom}"):
        page = get_page(kim, url)  # get_page fails on any script without the page's nonce
        assert "&lt;script&gt;" in page.text and "<b>bold</b>" not in page.text, url
        assert not page.soup.find("b"), url


# The record page's cards -----------------------------------------------------------------------------


def test_the_record_page_shows_notes_and_concerns_to_staff_and_the_report_link_to_everyone(app, demo):
    tom = demo["tom"]
    with app.app_context():
        tom_notes = db.session.scalar(sa.select(sa.func.count()).select_from(CaseNote).where(CaseNote.recipient_id == tom))
    waiting = open_concerns(app, tom)
    assert waiting >= 1, "the demo's concern about Tom is open"
    kim = get_page(client_for(app, "kim@brightpath.example"), f"/people/{tom}")
    assert f"Case notes ({tom_notes})" in kim.soup.select_one("[data-casework-notes]").get_text(" ", strip=True)
    assert kim.soup.select_one("[data-casework-concerns] .govuk-tag").get_text(strip=True) == f"{waiting} open"
    assert kim.soup.find("a", href=f"/people/{tom}/concerns") and kim.soup.find("a", href=f"/people/{tom}/notes")
    amina_for_kim = get_page(client_for(app, "kim@brightpath.example"), f"/people/{demo['amina']}")
    assert "Joan will be away" in amina_for_kim.soup.select_one("[data-casework-notes]").get_text(" ", strip=True)

    own = get_page(client_for(app, "tom@example.org"), f"/people/{tom}")
    assert not own.soup.select("[data-casework-notes], [data-casework-concerns]")
    assert own.soup.select_one("[data-report-concern]")["href"] == f"/people/{tom}/concern"
    david = get_page(client_for(app, "david@example.org"), f"/people/{demo['sam']}")  # view-level
    assert david.soup.select_one("[data-report-concern]") and not david.soup.select("[data-casework-notes]")


# Reporting a concern ------------------------------------------------------------------------------------


def test_a_concern_goes_to_the_caseworker_managers_and_council_and_the_safeguarding_contact(app, demo):
    sam = demo["sam"]
    with app.app_context():
        northfield = db.session.scalar(sa.select(Organisation.id).where(Organisation.name == "Northfield City Council"))
    admin = client_for(app, "admin@example.org")
    today = london_today()
    response = post_form(admin, f"/admin/councils/{northfield}/settings/new", {
        "effective_from": [str(today.day), str(today.month), str(today.year)], "cycle_anchor": ["6", "4", "2026"],
        "excess_weeks": "4", "contingency": "0", "evidence_threshold": "0", "retention_years": "6",
        "safeguarding_email": " safeguarding@northfield.example ",
    })
    assert response.status_code == 302
    assert "safeguarding@northfield.example" in get_page(admin, f"/admin/councils/{northfield}/settings").text

    mail.OUTBOX.clear()
    david = client_for(app, "david@example.org")  # a view-level representative may report
    page = get_page(david, f"/people/{sam}/concern")
    assert "If someone is in immediate danger, call 999" in page.text
    response = post_form(david, f"/people/{sam}/concern", {"body": "Sam told me someone at the day centre shouted at him."})
    assert response.status_code == 302
    with app.app_context():
        concern = db.session.scalar(sa.select(SafeguardingConcern).where(SafeguardingConcern.recipient_id == sam))
        assert concern.raised_by.email == "david@example.org" and concern.acknowledged_at is None and concern.rule == ""
    assert response.headers["Location"] == f"/people/{sam}/concern/{concern.id}/sent"
    sent = get_page(david, response.headers["Location"])
    assert "Concern sent" in sent.text and "call 999" in sent.text
    assert "Brightpath Support" in sent.soup.select_one("[data-sent-to]").text
    assert "Northfield City Council" in sent.soup.select_one("[data-sent-to]").text
    # The confirmation is the reporter's own.
    assert client_for(app, "kim@brightpath.example").get(response.headers["Location"]).status_code == 404

    assert notified(app, f"safeguarding-concern:{concern.id}") == {
        "kim@brightpath.example", "lee@brightpath.example", "rachel@northfield.example"}
    to = {m["To"]: m for m in mail.OUTBOX if "Sam Okafor" in m.get_content()}
    assert sorted(m["To"] for m in mail.OUTBOX if "Sam Okafor" in m.get_content()) == sorted(to)
    assert set(to) == {"kim@brightpath.example", "lee@brightpath.example", "rachel@northfield.example",
                       "safeguarding@northfield.example"}, "told at once, by email too"
    contact = to["safeguarding@northfield.example"].get_content()
    assert "Sam Okafor" in contact and "shouted at him" in contact and "David Okafor" in contact
    assert "shouted" not in to["kim@brightpath.example"].get_content(), "the concern itself stays in the portal"


def test_a_concern_about_ellen_reaches_no_one_at_northfield_or_brightpath(app, demo):
    ellen = demo["ellen"]
    mail.OUTBOX.clear()
    omar = client_for(app, "omar@harbour.example")
    assert post_form(omar, f"/people/{ellen}/concern", {"body": "Ellen seemed very low today."}).status_code == 302
    with app.app_context():
        concern_id = db.session.scalar(sa.select(SafeguardingConcern.id).where(SafeguardingConcern.recipient_id == ellen))
    assert notified(app, f"safeguarding-concern:{concern_id}") == set(), "the reporter is not told of their own concern"
    assert mail.OUTBOX == [], "nor is anyone else: Eastmoor has no officers or safeguarding contact in the demo"
    rachel = client_for(app, "rachel@northfield.example")
    assert rachel.get(f"/people/{ellen}/concern").status_code == 404


def test_the_demo_concern_about_tom_told_lee_and_rachel_not_kim(app, demo):
    with app.app_context():
        concern = db.session.scalar(sa.select(SafeguardingConcern).where(SafeguardingConcern.recipient_id == demo["tom"]))
        assert concern.raised_by.email == "kim@brightpath.example"
    assert notified(app, f"safeguarding-concern:{concern.id}") == {"lee@brightpath.example", "rachel@northfield.example"}
    with app.app_context():
        told = db.session.scalars(sa.select(Notification).where(Notification.key == f"safeguarding-concern:{concern.id}")).all()
        assert all(n.emailed and n.read_at is None for n in told), "unread in the portal; demo addresses get no email"


def test_an_empty_concern_is_refused(app, demo):
    amina = demo["amina"]
    client = client_for(app, "amina@example.org")
    response = post_form(client, f"/people/{amina}/concern", {"body": "  "})
    assert response.status_code == 200 and "Describe your concern" in response.text and "Error: " in response.text
    response = post_form(client, f"/people/{amina}/concern", {"body": "z" * 5001})
    assert "5,000 characters or fewer" in response.text
    with app.app_context():
        assert db.session.scalar(sa.select(sa.func.count()).select_from(SafeguardingConcern)
                                 .where(SafeguardingConcern.recipient_id == amina)) == 0


def test_people_report_only_about_people_they_can_see(app, demo):
    amina = client_for(app, "amina@example.org")
    assert amina.get(f"/people/{demo['tom']}/concern").status_code == 404
    assert get_page(amina, f"/people/{demo['amina']}/concern").status == 200
    assert client_for(app, "admin@example.org").get(f"/people/{demo['amina']}/concern").status_code == 403
    omar = client_for(app, "omar@harbour.example")
    assert omar.get(f"/people/{demo['tom']}/concern").status_code == 404
    assert client_for(app, "david@example.org").get(f"/people/{demo['amina']}/concern").status_code == 404


def test_a_pa_reports_about_a_current_employer_only(app, demo):
    amina = demo["amina"]
    sophie = client_for(app, "sophie.pa@example.org")
    page = get_page(sophie, f"/people/{amina}/concern")
    assert "You work for Amina Patel" in page.text
    assert not page.soup.find("a", href=f"/people/{amina}/money"), "nothing else of the employer is shown"
    for other in ("tom", "grace", "ellen"):
        assert sophie.get(f"/people/{demo[other]}/concern").status_code == 404
    assert sophie.get(f"/people/{amina}").status_code == 403
    assert sophie.get(f"/people/{amina}/concerns").status_code == 403

    response = post_form(sophie, f"/people/{amina}/concern", {"body": "Amina had a bruise on her arm and would not say why."})
    assert response.status_code == 302
    sent = get_page(sophie, response.headers["Location"])
    assert sent.soup.find("a", href="/home")
    with app.app_context():
        concern = db.session.scalar(sa.select(SafeguardingConcern).where(SafeguardingConcern.recipient_id == amina))
    assert notified(app, f"safeguarding-concern:{concern.id}") == {
        "kim@brightpath.example", "lee@brightpath.example", "rachel@northfield.example"}

    # Jay works for no one; once Sophie's employment has ended, Amina is no longer hers to report about.
    assert client_for(app, "jay.pa@example.org").get(f"/people/{amina}/concern").status_code == 404
    with app.app_context():
        job = db.session.scalar(sa.select(Employment).where(Employment.pa_id == demo["sophie"], Employment.employer_id == amina))
        job.end_date = london_today() - timedelta(days=1)
        db.session.commit()
    assert sophie.get(f"/people/{amina}/concern").status_code == 404
    assert sophie.get(response.headers["Location"]).status_code == 404


# The concerns list and acknowledging ----------------------------------------------------------------------


def _tom_concern(app, tom: int) -> int:
    """The demo's concern about Tom (Kim's), found by its text."""
    with app.app_context():
        return db.session.scalar(sa.select(SafeguardingConcern.id).where(
            SafeguardingConcern.recipient_id == tom, SafeguardingConcern.body == TOM_CONCERN))


def _state(app, concern_id: int):
    with app.app_context():
        concern = db.session.get(SafeguardingConcern, concern_id)
        by = concern.acknowledged_by.email if concern.acknowledged_by else None
        return by, concern.acknowledged_at, concern.acknowledgement


def test_acknowledging_is_for_staff_in_scope_and_twice_is_harmless(app, demo):
    tom = demo["tom"]
    concern_id = _tom_concern(app, tom)
    waiting = open_concerns(app, tom)
    url = f"/people/{tom}/concerns/{concern_id}/acknowledge"
    for email, status in (("omar@harbour.example", 404), ("tom@example.org", 403), ("david@example.org", 403),
                          ("sophie.pa@example.org", 403), ("admin@example.org", 403)):
        client = client_for(app, email)
        token = csrf_token(client.get("/account").text)
        assert client.post(url, data={"csrf_token": token, "note": "Seen"}).status_code == status, email
    # The concern must be about the person in the address.
    kim = client_for(app, "kim@brightpath.example")
    token = csrf_token(kim.get("/account").text)
    assert kim.post(f"/people/{demo['amina']}/concerns/{concern_id}/acknowledge",
                    data={"csrf_token": token, "note": "Seen"}).status_code == 404
    assert _state(app, concern_id) == (None, None, "")

    # An empty note is refused, beside the concern's own box.
    response = post_form(kim, url, {"note": " "}, page_url=f"/people/{tom}/concerns")
    assert response.status_code == 200 and "Enter what you have done or will do" in response.text
    assert 'href="#note-%d"' % concern_id in response.text
    assert _state(app, concern_id) == (None, None, "")

    page = get_page(kim, f"/people/{tom}/concerns")
    assert page.soup.select_one(f"[data-concern='{concern_id}']")["data-state"] == "open"
    response = post_form(kim, url, {"note": "Called Tom; safeguarding referral made to the council."}, page_url=f"/people/{tom}/concerns")
    assert response.status_code == 302
    first = _state(app, concern_id)
    assert first[0] == "kim@brightpath.example" and first[1] is not None and first[2].startswith("Called Tom")

    rachel = client_for(app, "rachel@northfield.example")
    response = post_form(rachel, url, {"note": "Also seen"}, page_url=f"/people/{tom}/concerns")
    assert response.status_code == 302 and _state(app, concern_id) == first
    page = get_page(rachel, f"/people/{tom}/concerns")
    assert "already been acknowledged by Kim Bell" in page.text
    card = page.soup.select_one(f"[data-concern='{concern_id}']")
    assert card["data-state"] == "acknowledged" and "Called Tom" in card.text and not card.find("form")
    assert waiting_message(waiting - 1) in page.text and open_concerns(app, tom) == waiting - 1


def test_the_council_and_managers_acknowledge_too(app, demo):
    tom = demo["tom"]
    concern_id = _tom_concern(app, tom)
    lee = client_for(app, "lee@brightpath.example")
    assert post_form(lee, f"/people/{tom}/concerns/{concern_id}/acknowledge", {"note": "Lee has it"},
                     page_url=f"/people/{tom}/concerns").status_code == 302
    assert _state(app, concern_id)[0] == "lee@brightpath.example"


def test_open_concerns_come_first_and_alerts_are_raised_once_a_day(app, demo):
    tom = demo["tom"]
    kim_concern = _tom_concern(app, tom)
    assert _state(app, kim_concern) == (None, None, ""), "the demo's concern is open"
    waiting = open_concerns(app, tom)
    with app.app_context():
        total = db.session.scalar(sa.select(sa.func.count()).select_from(SafeguardingConcern)
                                  .where(SafeguardingConcern.recipient_id == tom))
        first, created = casework.raise_alert(tom, "cash-beyond-plan", "Cash withdrawals beyond the plan this cycle.")
        again, created_again = casework.raise_alert(tom, "cash-beyond-plan", "Cash withdrawals beyond the plan this cycle.")
        other, created_other = casework.raise_alert(tom, "balance-zero-early", "The balance fell to zero early in the cycle.")
        db.session.commit()
        assert created and not created_again and again.id == first.id and created_other and other.id != first.id
        assert first.raised_by_id is None and first.rule == "cash-beyond-plan"
        assert casework.count_open_concerns(tom) == waiting + 2
        first_id, other_id = first.id, other.id
    assert open_concerns(app, tom) == waiting + 2
    kim = client_for(app, "kim@brightpath.example")
    post_form(kim, f"/people/{tom}/concerns/{kim_concern}/acknowledge", {"note": "Done"}, page_url=f"/people/{tom}/concerns")
    page = get_page(kim, f"/people/{tom}/concerns")
    order = [(int(d["data-concern"]), d["data-state"]) for d in page.soup.select("[data-concern]")]
    still_open = waiting + 1  # the two alerts are open; Kim's concern is now acknowledged
    assert [state for _, state in order] == ["open"] * still_open + ["acknowledged"] * (total + 2 - still_open)
    assert {first_id, other_id} <= {i for i, _ in order[:still_open]} and kim_concern in {i for i, _ in order[still_open:]}
    assert "rule: cash-beyond-plan" in page.soup.select_one(f"[data-concern='{first_id}']").text
    assert waiting_message(still_open) in page.text


def test_the_safeguarding_email_in_force_is_the_one_used(app, ids):
    with app.app_context():
        recipient = db.session.get(Recipient, ids["amina"])
        assert casework.safeguarding_email(recipient) == ""
        row = local_settings.add_council_settings(
            council_id=recipient.council_id, effective_from=london_today() + timedelta(days=1), cycle_anchor=london_today(),
            excess_weeks=4, contingency_pence=0, evidence_threshold_pence=0, retention_years=6)
        row.safeguarding_email = "later@northfield.example"
        db.session.commit()
        assert casework.safeguarding_email(recipient) == "", "a contact from tomorrow is not in force today"


def test_admin_is_told_when_the_safeguarding_email_is_not_an_email(app, ids):
    with app.app_context():
        northfield = db.session.scalar(sa.select(Organisation.id).where(Organisation.name == "Northfield City Council"))
    admin = client_for(app, "admin@example.org")
    response = post_form(admin, f"/admin/councils/{northfield}/settings/new", {
        "effective_from": ["1", "1", "2031"], "cycle_anchor": ["6", "4", "2026"], "excess_weeks": "4", "contingency": "0",
        "evidence_threshold": "0", "retention_years": "6", "safeguarding_email": "not an email",
    })
    assert response.status_code == 200 and "Enter the safeguarding contact email in the correct format" in response.text
