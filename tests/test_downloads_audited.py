"""Every export and every download is audited (issue 8, data-protection rights).

The access matrix (tests/test_access_matrix.py) lists every request of the URL map with each
persona's status. This module sends each request that some persona gets a 200 for, as the first
such persona and exactly as the matrix sends it (so nothing changes). An answer that is a file (a
Content-Disposition attachment, or anything but an HTML page: a CSV, a PDF, a zip, a stored receipt,
invoice, timesheet scan or check document) must have written exactly one audit event of a download
(an action ending "downloaded" or "exported") naming who (the user and their role) and what (a record
type, and the record the URL names) for every persona who may fetch it; those who may not write none.

Files shown inline in a page are not exports: NOT_EXPORTS lists them with the reason. Endpoints no
persona reaches with the demo's data are in NOT_WALKED; the ones among them that answer with a file are
set up and fetched by the tests at the end. A new endpoint answering with a file that neither writes
the audit event nor is listed fails here.
"""

import io
import re
from datetime import timedelta

import pytest
import sqlalchemy as sa
from PIL import Image

from portal.extensions import db
from portal.models import AuditEvent, Employment, User
from portal.models.register import PAProfile, ProfileCheck
from portal.services.clock import london_today
from portal.storage import Storage
from tests.conftest import get_page, sign_in
from tests import test_access_matrix as matrix
from tests.test_access_matrix import EMAILS, PERSONAS, ROWS, demo_ids, outcome, send

# The matrix's fixtures, used here by name: its demo ids, and one signed-in client per persona.
ids, browsers = matrix.ids, matrix.browsers

# An audit event that records a download or an export ("evidence.downloaded", "personal_data.exported", ...).
DOWNLOAD_ACTION = re.compile(r"(downloaded|exported)$")
# Answers that are pages, not files.
PAGE_TYPES = {"text/html"}

# Answers other than pages that are not exports, by endpoint, with the reason: not audited, on purpose.
NOT_EXPORTS = {
    "status.healthz": "the health check's answer to the load balancer (JSON): the service's state, nothing about anyone",
    "find_pa.photo": "a PA's photo, shown inline in the register's search results and on their profile",
    "register.own_photo": "the PA's own photo, shown inline on their register profile page",
}

# Endpoints for which no persona has a 200 in the matrix (the demo has no such record, or the page is
# reached only half-way through something), so the walk cannot see whether they answer with a file.
SET_UP_BELOW = "a file the demo has none of: set up and fetched by a test below"
NOT_WALKED = {
    "GET auth.code": "a sign-in step (a page), reached only half-way through signing in",
    "GET auth.set_up_authenticator": "a sign-in step (a page), reached only half-way through signing in",
    "GET auth.set_password": "a page reached from an emailed link; the matrix sends a made-up token",
    "GET employments.link_request": "a PA's answer to an employer (a page); the demo has no request",
    "GET money_admin.import_report": "a card import's report (a page); the demo has no imports",
    "GET money_admin.unmatched_row": "an unmatched card statement row (a page); the demo has none",
    "GET payslips.p45": SET_UP_BELOW,
    "GET register.check_document": SET_UP_BELOW,
    "GET register.verification_document": SET_UP_BELOW,
    "GET find_pa.photo": "shown inline (NOT_EXPORTS); the demo's PAs have no photo: fetched by a test below",
    "GET register.own_photo": "shown inline (NOT_EXPORTS); the demo's PAs have no photo: fetched by a test below",
}
WALKED = [(method, path, cells) for method, path, cells in ROWS if "200" in cells]


def is_file(response) -> bool:
    disposition = response.headers.get("Content-Disposition", "")
    return response.status_code == 200 and ("attachment" in disposition or response.mimetype not in PAGE_TYPES)


def endpoint_of(app, method: str, url: str) -> str:
    return app.url_map.bind("localhost").match(url.split("?")[0], method=method)[0]


def last_event_id(app) -> int:
    with app.app_context():
        return db.session.scalar(sa.select(sa.func.max(AuditEvent.id))) or 0


def download_events(app, after: int) -> list[tuple[str, int | None, str, str, str, str]]:
    """(action, user id, role, record type, record id, outcome) of the download events written since `after`."""
    with app.app_context():
        events = db.session.execute(
            sa.select(AuditEvent.action, AuditEvent.user_id, AuditEvent.role, AuditEvent.record_type,
                      AuditEvent.record_id, AuditEvent.outcome)
            .where(AuditEvent.id > after).order_by(AuditEvent.id)).all()
    return [tuple(event) for event in events if DOWNLOAD_ACTION.search(event.action)]


def user_of(app, email: str) -> tuple[int, str]:
    with app.app_context():
        user = db.session.scalar(sa.select(User).where(User.email == email))
        return user.id, user.role.value


def record_in(url: str) -> str | None:
    """The record a URL names: its last number ("/payslips/year-end/2026/7.pdf" names 7), if any."""
    numbers = re.findall(r"/(\d+)(?=[./]|$)", url.split("?")[0])
    return numbers[-1] if numbers else None


def assert_one_download(events, user: tuple[int, str], record_id: str | None, what: str):
    """One download event, by this user, naming a record: the URL's own if it has one. A document fetched
    through a verification request names the check as its record and the request in its outcome."""
    assert events, (f"{what}: no audit event of the download. Record it in the view (audit(\"<area>.downloaded\", "
                    "record_type=..., record_id=...)), or list the endpoint in NOT_EXPORTS with the reason it is not an export")
    assert len(events) == 1, f"{what}: one download, more than one audit event of it: {events}"
    action, user_id, role, record_type, event_record, event_outcome = events[0]
    assert (user_id, role) == user, f"{what}: {action} names user {user_id} ({role}), not {user}"
    assert record_type, f"{what}: {action} has no record type"
    if record_id is None:
        assert event_record, f"{what}: {action} names no record"
    else:
        assert record_id in (event_record, event_outcome), f"{what}: {action} names record {event_record}, not {record_id}"


# The walk ------------------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def users(module_app):
    return {persona: user_of(module_app, email) for persona, email in EMAILS.items()}


@pytest.mark.parametrize("method, path, cells", WALKED, ids=[f"{method} {path}" for method, path, _ in WALKED])
def test_a_file_is_audited_for_everyone_who_may_fetch_it(method, path, cells, module_app, browsers, ids, users):
    url = path.format(**ids)
    may = [persona for persona, cell in zip(PERSONAS, cells) if cell == "200"]
    client = browsers(may[0])  # signed in before counting: signing in is audited too
    before = last_event_id(module_app)
    response = send(client, may[0], method, url, path)
    assert response.status_code == 200, f"{method} {url} as {may[0]}: the matrix says 200, got {response.status_code}"
    if not is_file(response):
        assert not download_events(module_app, before), f"{method} {url} is a page, but recorded a download"
        return

    endpoint = endpoint_of(module_app, method, url)
    if endpoint in NOT_EXPORTS:
        assert "attachment" not in response.headers.get("Content-Disposition", ""), f"{endpoint} is listed as shown inline"
        return
    for number, persona in enumerate(may):
        client = browsers(persona)
        if number:
            before = last_event_id(module_app)
            response = send(client, persona, method, url, path)
            assert response.status_code == 200 and is_file(response), f"{method} {url} as {persona}"
        assert_one_download(download_events(module_app, before), users[persona], record_in(url),
                            f"{method} {url} ({endpoint}) as {persona}: a file of {response.mimetype}")
    # Those the matrix refuses get no file and write no download event.
    for persona, cell in zip(PERSONAS, cells):
        if cell == "200":
            continue
        client = browsers(persona)
        before = last_event_id(module_app)
        response = send(client, persona, method, url, path)
        assert outcome(response) == cell.format(**ids), f"{method} {url} as {persona}"
        assert not download_events(module_app, before), f"{method} {url} refused to {persona}, but recorded a download"


def test_every_endpoint_is_walked_or_listed(module_app, ids):
    """An endpoint no persona reaches could answer with a file the walk never sees: it must be listed."""
    walked = {f"{method} {endpoint_of(module_app, method, path.format(**ids))}" for method, path, _ in WALKED}
    in_matrix = {f"{method} {endpoint_of(module_app, method, path.format(**ids))}" for method, path, _ in ROWS}
    # A POST that no persona gets a 200 from is an action: the matrix sends it invalid forms or ids that do
    # not exist, and it answers with a redirect, 403 or 404, never a file. A POST that answers with a file
    # (the your-data zips) has a 200 row and is walked.
    actions = {f"POST {endpoint_of(module_app, method, path.format(**ids))}" for method, path, cells in ROWS
               if method == "POST" and "200" not in cells}
    unreached = in_matrix - walked - actions
    assert sorted(unreached - set(NOT_WALKED)) == [], "no persona gets a 200 for these: add each to NOT_WALKED with the reason " \
        "(and if it answers with a file, a test below that sets one up and checks its audit event)"
    assert sorted(set(NOT_WALKED) - unreached) == [], "listed in NOT_WALKED but walked now (or gone): remove them"
    rules = {rule.endpoint for rule in module_app.url_map.iter_rules()}
    assert set(NOT_EXPORTS) <= rules


def test_the_walk_tells_a_file_from_a_page():
    class Answer:
        def __init__(self, status_code, mimetype, disposition=""):
            self.status_code, self.mimetype = status_code, mimetype
            self.headers = {"Content-Disposition": disposition} if disposition else {}

    assert is_file(Answer(200, "application/pdf", 'attachment; filename="a.pdf"'))
    assert is_file(Answer(200, "image/jpeg"))  # a stored file, even shown inline
    assert is_file(Answer(200, "text/html", 'attachment; filename="page.html"'))
    assert not is_file(Answer(200, "text/html"))
    assert not is_file(Answer(404, "application/pdf"))
    assert record_in("/payslips/year-end/2026/17.pdf") == "17"
    assert record_in("/people/3/your-data.zip") == "3"
    assert record_in("/timesheets/4/documents/9") == "9"
    assert record_in("/people/3/statement.csv?from=2026-01-01") == "3"
    assert record_in("/oversight/uptake-age.csv") is None


# Files the demo has none of -----------------------------------------------------------------------


def _store_png(app) -> str:
    buffer = io.BytesIO()
    Image.new("RGB", (8, 8), (200, 100, 50)).save(buffer, "PNG")
    with app.app_context():
        return Storage.from_config().save(buffer.getvalue(), "png")


def _signed_in(app, persona: str):
    client = app.test_client()
    sign_in(client, EMAILS[persona])
    return client


def _fetch(app, persona: str, url: str):
    """(response, download events it wrote) for a persona signed in afresh."""
    client = _signed_in(app, persona)
    before = last_event_id(app)
    response = client.get(url)
    return response, download_events(app, before)


def test_a_leavers_p45_figures_download_is_audited(app):
    demo = demo_ids(app)
    with app.app_context():
        employment = db.session.get(Employment, demo["tom_leon"])
        employment.end_date, employment.tax_code = london_today() - timedelta(days=7), "1257L"
        db.session.commit()
    url = f"/payslips/leaver/{demo['tom_leon']}.pdf"
    for persona in ("tom", "kim"):  # the employer, and his DPSS
        response, events = _fetch(app, persona, url)
        assert response.status_code == 200 and response.mimetype == "application/pdf", persona
        assert_one_download(events, user_of(app, EMAILS[persona]), str(demo["tom_leon"]), f"P45 as {persona}")
    response, events = _fetch(app, "amina", url)  # another employer
    assert response.status_code == 404 and events == []


def test_a_check_document_download_is_audited_for_the_pa_and_the_dpss_asked(app):
    demo = demo_ids(app)
    name = _store_png(app)
    with app.app_context():
        check = db.session.get(ProfileCheck, demo["jay_dbs"])
        check.document_name, check.document_type, check.document_display_name = name, "image/png", "dbs.png"
        db.session.commit()
    check_id = str(demo["jay_dbs"])
    response, events = _fetch(app, "jay", f"/register/checks/{check_id}/document")
    assert response.status_code == 200 and "attachment" in response.headers["Content-Disposition"]
    assert_one_download(events, user_of(app, EMAILS["jay"]), check_id, "Jay's own check document")
    # Harbour was asked to verify it (Omar): the event names the check, and the request in its outcome.
    response, events = _fetch(app, "omar", f"/register/verifications/{demo['jay_dbs_request']}/document")
    assert response.status_code == 200 and "attachment" in response.headers["Content-Disposition"]
    assert_one_download(events, user_of(app, EMAILS["omar"]), check_id, "Jay's check document, for Harbour")
    assert (events[0][4], events[0][5]) == (check_id, str(demo["jay_dbs_request"]))
    # Another PA, and a DPSS that was not asked: not found, and nothing recorded.
    for persona, url in (("sophie", f"/register/checks/{check_id}/document"),
                         ("kim", f"/register/verifications/{demo['jay_dbs_request']}/document")):
        response, events = _fetch(app, persona, url)
        assert response.status_code == 404 and events == [], persona


def test_photos_are_shown_inline_not_exported(app):
    """The exclusions hold: each photo is an image in a page, not an attachment, and writes no download event."""
    demo = demo_ids(app)
    name = _store_png(app)
    with app.app_context():
        db.session.get(PAProfile, demo["jay_profile"]).photo_name = name
        db.session.commit()
    searcher = _signed_in(app, "amina")
    page = get_page(searcher, f"/find-a-pa/{demo['jay_profile']}")
    assert page.soup.find("img", src=f"/find-a-pa/{demo['jay_profile']}/photo")
    jay = _signed_in(app, "jay")
    assert get_page(jay, "/register/profile").soup.find("img", src="/register/profile/photo/file")
    for client, url, endpoint in ((searcher, f"/find-a-pa/{demo['jay_profile']}/photo", "find_pa.photo"),
                                  (jay, "/register/profile/photo/file", "register.own_photo")):
        assert endpoint_of(app, "GET", url) == endpoint and endpoint in NOT_EXPORTS
        before = last_event_id(app)
        response = client.get(url)
        assert response.status_code == 200 and response.mimetype == "image/png", url
        assert "attachment" not in response.headers.get("Content-Disposition", ""), url
        assert download_events(app, before) == [], url
