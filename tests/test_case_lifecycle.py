"""The caseload list (search, filters, sorting, pages, reassigning) and a case's life (set-up steps,
closing, moving to another provider or council), through the real pages, with the rules' edges and
refusals, and who may do what.

Demo: Kim (Brightpath caseworker) holds Amina, Tom and Sam; Lee manages Brightpath; Omar (Harbour)
holds Grace and Ellen (Eastmoor-funded); Rachel is Northfield's officer; Tom has an open concern.
"""

from datetime import date, timedelta

import pytest
import sqlalchemy as sa
from bs4 import BeautifulSoup

from portal.extensions import db
from portal.models import CaseloadEntry, DPAccount, EntryState, Notification, Organisation, Recipient, Role, User
from portal.models.case_lifecycle import CaseMove, CaseSetup, ClosureReason
from portal.services import case_lifecycle, payments
from portal.services.case_lifecycle import SetupTimes, _percentile, person_id_from_reference, reference
from portal.services.clock import london_today
from portal.services.work_queues import Scope
from tests.conftest import csrf_token, get_page, sign_in
from tests.helpers import person_id

KIM, LEE, OMAR, RACHEL = "kim@brightpath.example", "lee@brightpath.example", "omar@harbour.example", "rachel@northfield.example"


def _client(app, email):
    client = app.test_client()
    sign_in(client, email)
    return client


def _names(html: str) -> list[str]:
    soup = BeautifulSoup(html, "html.parser")
    return [row.select_one("a.govuk-link").get_text(strip=True) for row in soup.select("[data-caseload] tbody tr[data-person]")]


def _ids(html: str) -> list[int]:
    return [int(row["data-person"]) for row in BeautifulSoup(html, "html.parser").select("[data-caseload] tbody tr[data-person]")]


def _post(client, url, data, page_url=None):
    page = client.get(page_url or url)
    return client.post(url, data={"csrf_token": csrf_token(page.text), **data})


def _date(prefix: str, day: date) -> dict:
    return {prefix: [str(day.day), str(day.month), str(day.year)]}


def _org(name: str) -> int:
    return db.session.scalar(sa.select(Organisation.id).where(Organisation.name.like(name + "%")))


def _add_staff(app, email, role, organisation):
    from tests.conftest import DEMO_PASSWORD  # noqa: F401 - same password as the personas

    with app.app_context():
        kim = db.session.scalar(sa.select(User).where(User.email == KIM))
        user = User(email=email, display_name=email.split("@")[0].title(), role=role, organisation_id=_org(organisation),
                    password_hash=kim.password_hash, totp_secret=kim.totp_secret)
        db.session.add(user)
        db.session.commit()
        return user.id


# References -----------------------------------------------------------------------------------


@pytest.mark.parametrize("text, expected", [
    ("DP000123", 123), ("dp123", 123), (" 123 ", 123), ("DP 000 005", 5), ("DP", None), ("Okafor", None),
    ("DP1234567890", None), ("-5", None),
])
def test_a_typed_reference_gives_the_person_id_or_nothing(text, expected):
    assert person_id_from_reference(text) == expected


def test_reference_is_dp_and_six_digits():
    assert reference(5) == "DP000005"
    assert person_id_from_reference(reference(98765)) == 98765


# The list --------------------------------------------------------------------------------------


def test_kim_searches_her_caseload_by_name_reference_and_district(app):
    tom = person_id(app, "Tom", "Hughes")
    client = _client(app, KIM)
    assert _names(client.get("/caseload").text) == ["Hughes, Tom", "Okafor, Sam", "Patel, Amina"]
    assert _names(client.get("/caseload?q=hughes").text) == ["Hughes, Tom"]
    assert _names(client.get("/caseload?q=tom+hug").text) == ["Hughes, Tom"]
    assert _names(client.get(f"/caseload?q={reference(tom)}").text) == ["Hughes, Tom"]
    with app.app_context():
        district = db.session.get(Recipient, tom).district_code
    assert "Hughes, Tom" in _names(client.get(f"/caseload?q={district.lower()}").text)
    # Wildcards typed into the box are plain characters.
    assert _names(client.get("/caseload?q=%25").text) == []
    assert _names(client.get("/caseload?q=_").text) == []
    assert _names(client.get("/caseload?q=hu%25es").text) == []
    assert _names(client.get("/caseload?q=h_ghes").text) == []
    # Short words (under three letters: no trigram on PostgreSQL) and a name across given and family.
    assert _names(client.get("/caseload?q=hu").text) == ["Hughes, Tom"]
    assert _names(client.get("/caseload?q=amina+pat").text) == ["Patel, Amina"]
    # The name set is everyone's, the list only Kim's: a name only others' cases have finds nothing.
    assert _names(client.get("/caseload?q=grace").text) == []


def test_search_never_reaches_beyond_the_users_scope(app):
    grace = person_id(app, "Grace", "Okafor")
    for email in (KIM, LEE):
        client = _client(app, email)
        assert _names(client.get("/caseload?q=okafor").text) == ["Okafor, Sam"]  # Grace's grandson is Kim's
        assert _names(client.get("/caseload?q=grace").text) == []
        assert _names(client.get(f"/caseload?q={reference(grace)}").text) == []
        assert _names(client.get("/caseload?q=grace+okafor&status=all").text) == []
    omar = _client(app, OMAR)
    assert _names(omar.get("/caseload?q=hughes").text) == []
    rachel = _client(app, RACHEL)
    assert _names(rachel.get("/caseload?q=marsh").text) == []  # Ellen is Eastmoor's
    assert _names(rachel.get("/caseload?q=okafor").text) == ["Okafor, Grace", "Okafor, Sam"]


def test_filters_by_service_flag_and_caseworker(app):
    client = _client(app, KIM)
    assert _names(client.get("/caseload?service=managed_account").text) == ["Hughes, Tom", "Okafor, Sam"]
    assert _names(client.get("/caseload?service=managed_account&service=payroll").text) == []
    assert _names(client.get("/caseload?flag=concern").text) == ["Hughes, Tom"]
    # Unknown values in the query are dropped, not errors.
    assert len(_names(client.get("/caseload?service=nonsense&flag=x&sort=y&status=z&page=abc").text)) == 3
    lee = _client(app, LEE)
    with app.app_context():
        kim_id = db.session.scalar(sa.select(User.id).where(User.email == KIM))
    assert len(_names(lee.get(f"/caseload?caseworker={kim_id}").text)) == 3
    assert _names(lee.get("/caseload?caseworker=none").text) == []


def test_the_list_sorts_by_area_and_filters_as_an_htmx_fragment(app):
    client = _client(app, RACHEL)
    page = client.get("/caseload?sort=area")
    soup = BeautifulSoup(page.text, "html.parser")
    areas = [row.select("td")[1].get_text(strip=True) for row in soup.select("[data-caseload] tbody tr[data-person]")]
    assert areas == sorted(areas) and len(areas) >= 3
    fragment = client.get("/caseload?q=okafor", headers={"HX-Request": "true"})
    assert "<html" not in fragment.text and "Okafor, Grace" in fragment.text
    assert "HX-Request" in fragment.headers["Vary"]


def test_the_list_pages_through_many_people_without_repeats(app):
    with app.app_context():
        from portal.services import demo

        demo.generate(130)
    client = _client(app, RACHEL)
    first = client.get("/caseload")
    soup = BeautifulSoup(first.text, "html.parser")
    pagination = soup.select_one("nav.govuk-pagination")
    assert pagination is not None and pagination.select_one("[aria-current=page]").get_text(strip=True) == "1"
    seen = []
    caption = soup.select_one("[data-caseload] caption").get_text()
    pages = int(caption.split(" of ")[-1].rstrip(")"))
    for number in range(1, pages + 1):
        seen += _ids(client.get(f"/caseload?page={number}").text)
    assert len(seen) == len(set(seen)) == int(caption.split()[0])
    # A page past the end shows the last page rather than nothing.
    assert _names(client.get("/caseload?page=999").text) == _names(client.get(f"/caseload?page={pages}").text)


def test_a_flagged_list_pages_counts_and_shows_the_last_page_past_the_end(money_app):
    """With a flag the list is counted in the same query as the page (a window): the same figures as
    counting apart, for a manager (whose scope is said twice) and for the council."""
    app = money_app
    with app.app_context():
        from portal.services import demo

        demo.generate(250, money=True)
    for email in (RACHEL, LEE):
        client = _client(app, email)
        first = BeautifulSoup(client.get("/caseload?flag=evidence").text, "html.parser")
        caption = first.select_one("[data-caseload] caption").get_text()
        total = int(caption.split()[0])
        pages = -(-total // 50)
        assert pages >= (2 if email == RACHEL else 1), caption
        seen = []
        for number in range(1, pages + 1):
            seen += _ids(client.get(f"/caseload?flag=evidence&page={number}").text)
        assert len(seen) == len(set(seen)) == total
        everyone = []
        for number in range(1, 99):
            ids = _ids(client.get(f"/caseload?page={number}").text)
            everyone += ids
            if len(ids) < 50:
                break
        with app.app_context():
            missing = set(db.session.scalars(
                sa.select(DPAccount.recipient_id).join(EntryState, EntryState.account_id == DPAccount.id)
                .where(sa.or_(EntryState.needs_evidence.is_(True), EntryState.needs_explanation.is_(True)))))
        assert set(seen) == set(everyone) & missing
        last = _names(client.get(f"/caseload?flag=evidence&page={pages}").text)
        assert _names(client.get("/caseload?flag=evidence&page=999").text) == last and last


# Reassigning ------------------------------------------------------------------------------------


def test_a_manager_reassigns_cases_and_access_follows(app):
    tom, grace = person_id(app, "Tom", "Hughes"), person_id(app, "Grace", "Okafor")
    nia = _add_staff(app, "nia@brightpath.example", Role.DPSS_CASEWORKER, "Brightpath")
    lee = _client(app, LEE)
    response = _post(lee, "/caseload/reassign", {"people": [str(tom), str(grace)], "caseworker": str(nia),
                                                   "return_to": "/caseload?q=h"}, page_url="/caseload")
    assert response.status_code == 302 and response.headers["Location"].endswith("/caseload?q=h")
    with app.app_context():
        assert db.session.scalar(sa.select(CaseloadEntry.caseworker_id).where(CaseloadEntry.recipient_id == tom)) == nia
        # Grace is Harbour's: untouched.
        omar_id = db.session.scalar(sa.select(User.id).where(User.email == OMAR))
        assert db.session.scalar(sa.select(CaseloadEntry.caseworker_id).where(CaseloadEntry.recipient_id == grace)) == omar_id
        assert db.session.scalar(sa.select(sa.func.count()).select_from(Notification).where(Notification.user_id == nia)) == 1
    kim = _client(app, KIM)
    assert kim.get(f"/people/{tom}").status_code == 404
    assert "Hughes, Tom" not in _names(kim.get("/caseload").text)
    assert "Hughes, Tom" in _names(_client(app, "nia@brightpath.example").get("/caseload").text)


def test_reassigning_refuses_a_caseworker_of_another_organisation_and_caseworkers_cannot_reassign(app):
    tom = person_id(app, "Tom", "Hughes")
    with app.app_context():
        omar_id = db.session.scalar(sa.select(User.id).where(User.email == OMAR))
        kim_id = db.session.scalar(sa.select(User.id).where(User.email == KIM))
    lee = _client(app, LEE)
    response = _post(lee, "/caseload/reassign", {"people": [str(tom)], "caseworker": str(omar_id)}, page_url="/caseload")
    assert response.status_code == 302
    assert "Select a caseworker from your organisation" in lee.get(response.headers["Location"]).text
    response = _post(lee, "/caseload/reassign", {"caseworker": str(kim_id)}, page_url="/caseload")
    assert "Select at least one person" in lee.get(response.headers["Location"]).text
    with app.app_context():
        assert db.session.scalar(sa.select(CaseloadEntry.caseworker_id).where(CaseloadEntry.recipient_id == tom)) == kim_id
    kim = _client(app, KIM)
    assert _post(kim, "/caseload/reassign", {"people": [str(tom)], "caseworker": str(kim_id)}, page_url="/caseload").status_code == 403


# Set-up -----------------------------------------------------------------------------------------


def test_set_up_steps_are_recorded_in_order_and_refused_out_of_order(app):
    tom = person_id(app, "Tom", "Hughes")
    today = london_today()
    kim = _client(app, KIM)
    url = f"/people/{tom}/set-up"
    good = {**_date("decided_on", today - timedelta(days=40)), **_date("agreement_signed_on", today - timedelta(days=30)),
            **_date("account_opened_on", today - timedelta(days=20)), "first_payment_on": ["", "", ""]}
    assert _post(kim, url, good).status_code == 302
    page = get_page(kim, url)
    assert "Set-up started" in page.text and "account or card opened" not in page.soup.select_one("[data-setup-days]").text.lower()
    with app.app_context():
        setup = db.session.get(CaseSetup, tom)
        assert (setup.decided_on, setup.account_opened_on, setup.first_payment_on) == (today - timedelta(days=40), today - timedelta(days=20), None)

    refusals = [
        ({**good, **_date("agreement_signed_on", today - timedelta(days=50))}, "must be on or after the date for “council decided"),
        ({**good, **_date("account_opened_on", today + timedelta(days=1))}, "must be today or in the past"),
        ({**good, "agreement_signed_on": ["", "", ""]}, "Enter the date for “direct payment agreement signed” first"),
        ({**good, "decided_on": ["", "", ""]}, "Enter the date the council decided"),
        ({**good, "decided_on": ["31", "2", "2026"]}, "must be a real date"),
    ]
    for data, message in refusals:
        response = _post(kim, url, data)
        assert response.status_code == 400 and message in response.text, message
        assert "Error: " in response.text
    with app.app_context():
        assert db.session.get(CaseSetup, tom).account_opened_on == today - timedelta(days=20)  # nothing half-saved


def test_the_payment_run_fills_the_first_payment_and_the_council_sees_set_up_times(money_app):
    app = money_app
    tom = person_id(app, "Tom", "Hughes")
    with app.app_context():
        setup = db.session.get(CaseSetup, tom)
        assert setup.first_payment_on is not None and setup.account_opened_on is not None
        setup.first_payment_on = None
        db.session.commit()
        payments.run(london_today())
        db.session.commit()
        first = db.session.get(CaseSetup, tom).first_payment_on
        assert first is not None
        times = {t.provider: t for t in case_lifecycle.setup_times_by_provider(_org("Northfield"), london_today(), months=1200)}
        assert "Brightpath Support" in times and times["Brightpath Support"].completed >= 3
        assert all("Eastmoor" not in name for name in times)
    # Rachel reads it but may not change it.
    rachel = _client(app, RACHEL)
    assert "First payment made" in get_page(rachel, f"/people/{tom}/set-up").text
    assert rachel.post(f"/people/{tom}/set-up", data={}).status_code in (400, 403)


def test_percentile_and_median_of_set_up_times():
    assert _percentile([], 0.9) is None
    assert _percentile([10], 0.9) == 10
    assert _percentile(list(range(1, 11)), 0.9) == 9
    assert _percentile(list(range(1, 12)), 0.9) == 10
    assert SetupTimes("x", 0, None, None, 2, 30).waiting == 2


# Closing ----------------------------------------------------------------------------------------


def test_closing_a_case_keeps_it_on_the_list_takes_it_out_of_the_queues_and_a_manager_reopens_it(app):
    tom = person_id(app, "Tom", "Hughes")
    today = london_today()
    kim = _client(app, KIM)
    url = f"/people/{tom}/close"
    response = _post(kim, url, {"reason": ClosureReason.OTHER.value, "note": "", **_date("closed_on", today)})
    assert response.status_code == 400 and "Say why the case is closing" in response.text
    response = _post(kim, url, {"reason": ClosureReason.SELF_MANAGED.value, "note": "", **_date("closed_on", today + timedelta(days=1))})
    assert response.status_code == 400 and "today or in the past" in response.text
    response = _post(kim, url, {"reason": ClosureReason.SELF_MANAGED.value, "note": "", **_date("closed_on", date(2000, 1, 1))})
    assert response.status_code == 400 and "when it started here" in response.text
    response = _post(kim, url, {"reason": "made up", "note": "", **_date("closed_on", today)})
    assert response.status_code == 400
    with app.app_context():
        assert db.session.scalar(sa.select(CaseloadEntry.closed_on).where(CaseloadEntry.recipient_id == tom)) is None

    response = _post(kim, url, {"reason": ClosureReason.SELF_MANAGED.value, "note": "Tom will run it himself", **_date("closed_on", today)})
    assert response.status_code == 302
    assert "Hughes, Tom" not in _names(kim.get("/caseload").text)
    assert _names(kim.get("/caseload?status=closed").text) == ["Hughes, Tom"]
    assert "Closed" in kim.get("/caseload?status=closed").text
    with app.app_context():
        kim_id = db.session.scalar(sa.select(User.id).where(User.email == KIM))
        org = _org("Brightpath")
        assert tom not in {c[0] for c in db.session.execute(
            sa.select(CaseloadEntry.recipient_id).where(*Scope(org, caseworker_id=kim_id).conditions())
        )}
    # A second close is refused with the date it closed.
    page = kim.get(url)
    assert "This case was closed on" in page.text
    with app.app_context():
        recipient = db.session.get(Recipient, tom)
        with pytest.raises(case_lifecycle.CaseLifecycleError, match="already closed"):
            case_lifecycle.close_case(recipient, None, ClosureReason.DIED.value, "", today, today)
    assert _post(kim, f"/people/{tom}/reopen", {}, page_url=f"/people/{tom}/set-up").status_code == 403
    lee = _client(app, LEE)
    assert _post(lee, f"/people/{tom}/reopen", {}, page_url=f"/people/{tom}/set-up").status_code == 302
    assert "Hughes, Tom" in _names(kim.get("/caseload").text)


# Moving -----------------------------------------------------------------------------------------


def test_a_manager_moves_a_person_to_another_provider_and_access_follows(app):
    tom = person_id(app, "Tom", "Hughes")
    today = london_today()
    harbour_manager = _add_staff(app, "hana@harbour.example", Role.DPSS_MANAGER, "Harbour")
    with app.app_context():
        harbour, brightpath, northfield = _org("Harbour"), _org("Brightpath"), _org("Northfield")
    lee = _client(app, LEE)
    url = f"/people/{tom}/move"
    page = get_page(lee, url)
    assert page.soup.select_one("#to_council") is None  # only the council moves people between councils
    response = _post(lee, url, {"to_provider": "", "reason": "x", **_date("moved_on", today)})
    assert response.status_code == 400 and "Select a different support service" in response.text
    response = _post(lee, url, {"to_provider": str(harbour), "reason": "", **_date("moved_on", today)})
    assert response.status_code == 400 and "Say why" in response.text
    response = _post(lee, url, {"to_provider": str(harbour), "reason": "x", **_date("moved_on", today + timedelta(days=3))})
    assert response.status_code == 400 and "today or in the past" in response.text
    response = _post(lee, url, {"to_provider": str(northfield), "reason": "x", **_date("moved_on", today)})
    assert response.status_code == 400

    response = _post(lee, url, {"to_provider": str(harbour), "reason": "Moved nearer his sister", **_date("moved_on", today)})
    assert response.status_code == 302 and response.headers["Location"].endswith("/caseload")
    assert lee.get(f"/people/{tom}").status_code == 404
    assert _client(app, KIM).get(f"/people/{tom}").status_code == 404
    hana = _client(app, "hana@harbour.example")
    history = get_page(hana, f"/people/{tom}/set-up")
    assert "Moved nearer his sister" in history.text and "Brightpath Support" in history.text
    assert "No caseworker yet" in history.text
    # Omar (Harbour caseworker) sees him only once the manager gives him the case.
    assert _client(app, OMAR).get(f"/people/{tom}").status_code == 404
    with app.app_context():
        move = db.session.scalar(sa.select(CaseMove).where(CaseMove.recipient_id == tom))
        assert (move.from_provider_id, move.to_provider_id, move.moved_on) == (brightpath, harbour, today)
        assert db.session.scalar(sa.select(sa.func.count()).select_from(Notification).where(Notification.user_id == harbour_manager)) == 1
        from portal.models.budgets import DPAccount

        managed = db.session.scalars(sa.select(DPAccount.managed_by_id).where(DPAccount.recipient_id == tom)).all()
        assert brightpath not in managed
    # His history stays his: Rachel (his council) still sees all of it.
    assert _client(app, RACHEL).get(f"/people/{tom}").status_code == 200


def test_the_council_moves_a_person_to_another_council_and_loses_sight_of_them(app):
    amina = person_id(app, "Amina", "Patel")
    today = london_today()
    rachel = _client(app, RACHEL)
    with app.app_context():
        eastmoor = _org("Eastmoor")
    url = f"/people/{amina}/move"
    response = _post(rachel, url, {"to_provider": "", "to_council": str(eastmoor), "reason": "Moved to Eastmoor", **_date("moved_on", today)})
    assert response.status_code == 302 and response.headers["Location"].endswith("/caseload")
    assert rachel.get(f"/people/{amina}").status_code == 404
    # Her support service stays with her, and sees her still.
    assert _client(app, KIM).get(f"/people/{amina}").status_code == 200
    with app.app_context():
        assert db.session.get(Recipient, amina).council_id == eastmoor


def test_who_may_close_and_move(app):
    tom, grace = person_id(app, "Tom", "Hughes"), person_id(app, "Grace", "Okafor")
    kim, omar, rachel = _client(app, KIM), _client(app, OMAR), _client(app, RACHEL)
    assert kim.get(f"/people/{tom}/move").status_code == 403  # caseworkers do not move people
    assert rachel.get(f"/people/{tom}/close").status_code == 403  # the council does not close a DPSS's case
    assert omar.get(f"/people/{tom}/close").status_code == 404
    assert omar.get(f"/people/{tom}/set-up").status_code == 404
    assert kim.get(f"/people/{grace}/set-up").status_code == 404
    for email in ("amina@example.org", "david@example.org", "sophie.pa@example.org"):
        client = _client(app, email)
        assert client.get(f"/people/{tom}/set-up").status_code == 403
        assert client.get("/caseload").status_code == 403


def test_the_dashboards_set_up_times_equal_independent_sql(money_app):
    """Median, 90th percentile and counts per provider, recomputed here from the raw table."""
    import statistics

    from portal.services import dashboard

    app = money_app
    today = london_today()
    with app.app_context():
        # Spread the personas' set-ups so the figures are not all the same.
        for offset, setup in enumerate(db.session.scalars(sa.select(CaseSetup).order_by(CaseSetup.recipient_id))):
            setup.decided_on = today - timedelta(days=60 + 9 * offset)
            setup.agreement_signed_on = setup.account_opened_on = None
            setup.first_payment_on = today - timedelta(days=30) if offset % 3 else None
        db.session.commit()
        rachel = db.session.scalar(sa.select(User).where(User.email == RACHEL))
        table = dashboard.build(rachel, today).tables["set-up-times"]
        rows = db.session.execute(sa.text(
            "SELECT o.name, s.decided_on, s.first_payment_on FROM case_setups s "
            "JOIN recipients r ON r.person_id = s.recipient_id JOIN organisations o ON o.id = s.provider_id "
            "JOIN organisations c ON c.id = r.council_id WHERE c.name = 'Northfield City Council'"
        )).all()
    expected = {}
    for name, decided, first in rows:
        decided = decided if isinstance(decided, date) else date.fromisoformat(decided)
        first = first if first is None or isinstance(first, date) else date.fromisoformat(first)
        done, waiting = expected.setdefault(name, ([], []))
        (waiting.append((today - decided).days) if first is None else done.append((first - decided).days))
    assert {row[0] for row in table.rows} == set(expected) and len(expected) == 2  # Brightpath and Harbour
    for name, completed, median, _p90, still, longest in table.rows:
        done, waiting = expected[name]
        assert completed == len(done) and still == len(waiting)
        assert median == (statistics.median(done) if done else None)
        assert longest == (max(waiting) if waiting else None)
    assert table.total[1] == sum(len(d) for d, _ in expected.values())
    assert all("Eastmoor" not in str(cell) for row in table.rows for cell in row)
