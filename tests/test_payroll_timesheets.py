"""DPSS payroll pages: every timesheet due this period, keying in paper timesheets, scans, the payroll CSV.

Who: staff holding the payroll permission (Kim at Brightpath, Omar at Harbour), for every payroll-service
employer of their organisation (and the managed accounts they already see); everyone else 403, and a
timesheet or scan outside the scope 404.
"""

import csv
import io
from datetime import date, time, timedelta
from decimal import Decimal

import pytest
import sqlalchemy as sa
from bs4 import BeautifulSoup

from portal.extensions import db
from portal.models import (
    Notification,
    AuditEvent,
    CaseloadEntry,
    Employment,
    Organisation,
    PayPeriod,
    Person,
    RateType,
    Recipient,
    SupportReason,
    Timesheet,
    TimesheetDocument,
    TimesheetStatus,
    User,
)
from portal.services import timesheets
from portal.services.clock import london_today
from portal.services.timesheets import ShiftInput
from portal.web.payroll.forms import parse_day, parse_hours
from tests.conftest import csrf_token, get_page, sign_in
from tests.helpers import person_id

KIM, LEE, OMAR = "kim@brightpath.example", "lee@brightpath.example", "omar@harbour.example"
SINCE = date(2024, 1, 1)


def _signed_in(app, email):
    client = app.test_client()
    sign_in(client, email)
    return client


def _rows(page) -> dict[str, dict]:
    """PA name -> {employer, status, key_in} from the table."""
    found = {}
    for tr in page.soup.select("[data-timesheets] tbody tr[data-employment]"):
        cells = tr.select("td")
        link = tr.select_one("a[href*='/key-in']")
        found[cells[1].get_text(strip=True)] = {
            "employer": cells[0].get_text(strip=True), "status": tr["data-status"], "key_in": link["href"] if link else None,
        }
    return found


def _add_employer(app, given, family, provider_name, *, payroll=True, managed=False, caseworker_email=None) -> int:
    with app.app_context():
        provider = db.session.scalar(sa.select(Organisation).where(Organisation.name == provider_name))
        council = db.session.scalar(sa.select(Organisation).where(Organisation.name == "Northfield City Council"))
        person = Person(given_name=given, family_name=family)
        db.session.add(person)
        db.session.flush()
        db.session.add(Recipient(person_id=person.id, date_of_birth=date(1970, 1, 1), postcode="NF3 1AA", district_code="NF3",
                                 support_reason=SupportReason.PHYSICAL_DISABILITY, council_id=council.id))
        db.session.flush()
        worker = db.session.scalar(sa.select(User.id).where(User.email == caseworker_email)) if caseworker_email else None
        db.session.add(CaseloadEntry(recipient_id=person.id, provider_id=provider.id, caseworker_id=worker, start_date=SINCE,
                                     payroll=payroll, managed_account=managed))
        db.session.commit()
        return person.id


def _add_pa(app, employer_id, given, family, pay_period=PayPeriod.WEEKLY, start=SINCE) -> int:
    with app.app_context():
        pa = Person(given_name=given, family_name=family)
        db.session.add(pa)
        db.session.flush()
        employment = Employment(pa_id=pa.id, employer_id=employer_id, start_date=start, day_rate_pence=1300,
                                pay_period=pay_period, ni_number="QQ000000A")
        db.session.add(employment)
        db.session.commit()
        return employment.id


def _waiting_paper(app) -> Timesheet:
    with app.app_context():
        ts = db.session.scalar(sa.select(Timesheet).where(Timesheet.status == TimesheetStatus.AWAITING_KEYING))
        db.session.expunge(ts)
        return ts


def _scan_id(app, timesheet_id) -> int:
    with app.app_context():
        return db.session.scalar(sa.select(TimesheetDocument.id).where(TimesheetDocument.timesheet_id == timesheet_id))


# This period ---------------------------------------------------------------------------------------


def test_kim_sees_every_brightpath_payroll_pa_due_this_period(money_app):
    page = get_page(_signed_in(money_app, KIM), "/payroll/timesheets")
    rows = _rows(page)
    assert set(rows) == {"Sophie Clarke", "Joan Price", "Leon Baptiste"}
    assert rows["Sophie Clarke"]["employer"] == rows["Joan Price"]["employer"] == "Amina Patel"
    assert rows["Leon Baptiste"]["employer"] == "Tom Hughes"  # a managed account on Kim's caseload
    assert page.soup.h1.get_text(strip=True) == "Timesheets this period"
    counts = {a["data-count"]: int(a.get_text(" ", strip=True).split()[-1]) for a in page.soup.select("[data-count]")}
    assert counts["all"] == 3 and sum(counts[k] for k in counts if k not in ("all", "missing")) == 3


def test_statuses_waiting_and_paper_in_their_own_periods(money_app):
    client = _signed_in(money_app, KIM)
    paper = _waiting_paper(money_app)
    rows = _rows(get_page(client, f"/payroll/timesheets?on={paper.period_start.isoformat()}"))
    assert rows["Joan Price"]["status"] == "paper"
    assert rows["Joan Price"]["key_in"] == f"/payroll/timesheets/{paper.id}/key-in"
    with money_app.app_context():
        leon = db.session.scalar(sa.select(Timesheet).where(Timesheet.status == TimesheetStatus.SUBMITTED,
                                                            Timesheet.pa_id == person_id(money_app, "Leon", "Baptiste")))
        leon_start = leon.period_start
    rows = _rows(get_page(client, f"/payroll/timesheets?on={leon_start.isoformat()}"))
    assert rows["Leon Baptiste"]["status"] == "waiting" and rows["Leon Baptiste"]["key_in"] is None
    old = london_today() - timedelta(days=120)
    rows = _rows(get_page(client, f"/payroll/timesheets?on={old.isoformat()}"))
    assert rows["Sophie Clarke"]["status"] == "approved" and rows["Joan Price"]["status"] == "approved"


def test_missing_timesheets_are_highlighted_and_counted(money_app):
    amina = person_id(money_app, "Amina", "Patel")
    _add_pa(money_app, amina, "Nia", "Roberts")  # weekly, nothing ever submitted
    client = _signed_in(money_app, KIM)
    on = london_today() - timedelta(days=14)  # that week's deadline has passed
    page = get_page(client, f"/payroll/timesheets?on={on.isoformat()}")
    rows = _rows(page)
    assert rows["Nia Roberts"]["status"] == "missing"
    assert "Missing" in page.soup.select_one("tr[data-status='missing']").get_text()
    assert int(page.soup.select_one("[data-count='missing']").get_text(" ", strip=True).split()[-1]) >= 1
    # Missing ones come first.
    assert next(iter(rows)) == "Nia Roberts"
    only = _rows(get_page(client, f"/payroll/timesheets?on={on.isoformat()}&status=missing"))
    assert "Nia Roberts" in only and all(r["status"] == "missing" for r in only.values())
    # This week's deadline has not passed: not started, not missing.
    future = london_today() + timedelta(days=14)
    assert _rows(get_page(client, f"/payroll/timesheets?on={future.isoformat()}"))["Nia Roberts"]["status"] == "not-started"


def test_filters_work_without_javascript_and_with_htmx(money_app):
    client = _signed_in(money_app, KIM)
    paper = _waiting_paper(money_app)
    on = paper.period_start.isoformat()
    assert set(_rows(get_page(client, f"/payroll/timesheets?on={on}&status=paper"))) == {"Joan Price"}
    assert set(_rows(get_page(client, f"/payroll/timesheets?on={on}&q=leon"))) == {"Leon Baptiste"}
    assert set(_rows(get_page(client, f"/payroll/timesheets?on={on}&q=AMINA"))) == {"Sophie Clarke", "Joan Price"}
    assert _rows(get_page(client, f"/payroll/timesheets?on={on}&q=%25")) == {}  # a wildcard is just a character
    fragment = client.get(f"/payroll/timesheets?on={on}&status=paper", headers={"HX-Request": "true"})
    assert fragment.status_code == 200 and "<html" not in fragment.text and "data-timesheets" in fragment.text
    assert "Joan Price" in fragment.text and "Sophie Clarke" not in fragment.text
    assert "HX-Request" in fragment.headers["Vary"]
    # The week links outside the table come back too (out of band), keeping the filter just chosen.
    week_nav = BeautifulSoup(fragment.text, "html.parser").find(id="week-nav")
    assert week_nav is not None and week_nav["hx-swap-oob"] == "true"
    assert all("status=paper" in link["href"] for link in week_nav.find_all("a"))
    assert 'hx-swap-oob' not in get_page(client, f"/payroll/timesheets?on={on}&status=paper").text
    page = get_page(client, "/payroll/timesheets")
    form = page.soup.select_one("form[hx-get]")
    assert form["method"] == "get" and {i["name"] for i in form.select("[name]")} == {"on", "status", "q"}


def test_counts_survive_a_filter_matching_nothing_and_a_page_past_the_end(money_app):
    client = _signed_in(money_app, KIM)
    for url in ("/payroll/timesheets?q=nobody-by-this-name", "/payroll/timesheets?page=99"):
        page = get_page(client, url)
        assert _rows(page) == {} and "No PAs match." in page.text
        assert page.soup.select_one("[data-count='all']").get_text(" ", strip=True) == "All 3", url
    assert "0 of 3 PAs" in get_page(client, "/payroll/timesheets?q=nobody-by-this-name").text


def test_week_links_and_a_bad_date(money_app):
    client = _signed_in(money_app, KIM)
    page = get_page(client, "/payroll/timesheets?on=2026-11-18")
    assert page.soup.select_one("a[rel=prev]")["href"].endswith("on=2026-11-11")
    assert page.soup.select_one("a[rel=next]")["href"].endswith("on=2026-11-25")
    get_page(client, "/payroll/timesheets?on=not-a-date")  # today instead


def test_kim_sees_brightpath_payroll_employers_outside_her_caseload_and_omar_only_harbour(money_app):
    zara = _add_employer(money_app, "Zara", "Quinn", "Brightpath Support", payroll=True)  # nobody's caseload
    _add_pa(money_app, zara, "Pat", "Lowe")
    plain = _add_employer(money_app, "Ivy", "Stone", "Brightpath Support", payroll=False, caseworker_email=KIM)
    _add_pa(money_app, plain, "Rob", "Ash")  # Kim's caseload, but no payroll service: not payroll work
    yusuf = _add_employer(money_app, "Yusuf", "Ali", "Harbour DPSS", payroll=True)
    _add_pa(money_app, yusuf, "Mo", "Reed")
    kim = _rows(get_page(_signed_in(money_app, KIM), "/payroll/timesheets"))
    assert kim["Pat Lowe"]["employer"] == "Zara Quinn"
    assert "Rob Ash" not in kim and "Mo Reed" not in kim
    omar = get_page(_signed_in(money_app, OMAR), "/payroll/timesheets")
    assert set(_rows(omar)) == {"Mo Reed"}
    assert "Amina Patel" not in omar.text and "Tom Hughes" not in omar.text


@pytest.mark.parametrize("email", [LEE, "rachel@northfield.example", "admin@example.org", "amina@example.org",
                                   "sophie.pa@example.org", "tom@example.org"])
def test_everyone_else_is_refused(money_app, email):
    paper = _waiting_paper(money_app)
    client = _signed_in(money_app, email)
    for url in ("/payroll/timesheets", "/payroll/timesheets.csv", f"/payroll/timesheets/{paper.id}/key-in",
                f"/payroll/documents/{_scan_id(money_app, paper.id)}"):
        assert client.get(url).status_code == 403, url
    token = csrf_token(client.get("/account").text)
    assert client.post(f"/payroll/timesheets/{paper.id}/key-in", data={"csrf_token": token, "day_hours": "28",
                                                                       "version": str(paper.version)}).status_code == 403
    with money_app.app_context():
        assert db.session.get(Timesheet, paper.id).status == TimesheetStatus.AWAITING_KEYING


def test_lee_has_no_payroll_permission_in_the_demo(money_app):
    with money_app.app_context():
        assert db.session.scalar(sa.select(User.payroll_permission).where(User.email == LEE)) is False


def test_anonymous_people_are_sent_to_sign_in(money_app):
    response = money_app.test_client().get("/payroll/timesheets")
    assert response.status_code == 302 and "/sign-in" in response.headers["Location"]


def test_pages_of_fifty_and_a_fixed_number_of_queries(money_app):
    client = _signed_in(money_app, KIM)
    with money_app.app_context():
        engine = db.engine
    statements = []

    def count(conn, cursor, statement, *args):
        statements.append(statement)

    def queries_for(url):
        statements.clear()
        sa.event.listen(engine, "before_cursor_execute", count)
        try:
            get_page(client, url)
        finally:
            sa.event.remove(engine, "before_cursor_execute", count)
        return len(statements)

    before = queries_for("/payroll/timesheets")
    big = _add_employer(money_app, "Bea", "Large", "Brightpath Support")
    for n in range(60):
        _add_pa(money_app, big, f"Pa{n:02d}", "Many")
    after = queries_for("/payroll/timesheets")
    assert after == before, "a query per row"
    first = get_page(client, "/payroll/timesheets")
    assert len(_rows(first)) == 50
    next_link = first.soup.select_one("nav[aria-label='Pages of PAs'] a[rel=next]")
    second = get_page(client, next_link["href"])
    assert len(_rows(second)) == 13
    assert not set(_rows(first)) & set(_rows(second))


# Keying in a paper timesheet ------------------------------------------------------------------------


def test_kim_keys_in_joans_paper_timesheet(money_app):
    paper = _waiting_paper(money_app)
    client = _signed_in(money_app, KIM)
    url = f"/payroll/timesheets/{paper.id}/key-in"
    page = get_page(client, url)
    assert page.soup.h1.get_text(strip=True) == "Key in a paper timesheet"
    scan = page.soup.select_one("[data-scans] a")
    assert scan["href"] == f"/payroll/documents/{_scan_id(money_app, paper.id)}"
    response = client.post(url, data={"csrf_token": csrf_token(page.text), "day_hours": "27.5", "night_hours": "0:30",
                                      "weekend_hours": "", "version": page.soup.select_one("input[name=version]")["value"]})
    assert response.status_code == 302 and f"on={paper.period_start.isoformat()}" in response.headers["Location"]
    landing = get_page(client, response.headers["Location"])
    banner = " ".join(landing.soup.select_one(".govuk-notification-banner--success").get_text().split())
    assert "Joan Price's timesheet for" in banner and "(28 hours) has been keyed in and approved" in banner
    assert _rows(landing)["Joan Price"]["status"] == "approved"
    assert "Joan Price" not in _rows(get_page(client, f"/payroll/timesheets?on={paper.period_start.isoformat()}&status=paper"))
    with money_app.app_context():
        ts = db.session.get(Timesheet, paper.id)
        assert (ts.keyed_day_minutes, ts.keyed_night_minutes, ts.keyed_weekend_minutes) == (1650, 30, 0)
        assert ts.status == TimesheetStatus.APPROVED and ts.keyed_by_id == db.session.scalar(sa.select(User.id).where(User.email == KIM))
        assert db.session.scalar(sa.select(AuditEvent).where(AuditEvent.action == "timesheet.keyed_in",
                                                             AuditEvent.record_id == str(paper.id))) is not None
        # The employer is told what was typed in against her money, so she can query it.
        amina = db.session.scalar(sa.select(User.id).where(User.email == "amina@example.org"))
        told = db.session.scalar(sa.select(Notification.message).where(
            Notification.user_id == amina, Notification.key == f"timesheet:{paper.id}:keyed"))
        assert told and "typed in from the paper copy: 28 hours" in told
    # Done: the page now sends Kim back to the list.
    again = client.get(url)
    assert again.status_code == 302 and "/payroll/timesheets" in again.headers["Location"]


@pytest.mark.parametrize("fields, message", [
    ({"day_hours": "seven"}, "Enter hours like 7.5 or 7:30"),
    ({"day_hours": ""}, "Enter the hours from the paper timesheet"),
    ({"day_hours": "800"}, "Enter no more than 744 hours"),
    ({"day_hours": "7", "sleep_ins": "2"}, "There is no sleep-in rate"),
])
def test_key_in_errors_change_nothing(money_app, fields, message):
    paper = _waiting_paper(money_app)
    client = _signed_in(money_app, KIM)
    url = f"/payroll/timesheets/{paper.id}/key-in"
    page = client.get(url)
    response = client.post(url, data={"csrf_token": csrf_token(page.text), "version": str(paper.version), **fields})
    assert response.status_code == 200
    soup = BeautifulSoup(response.text, "html.parser")
    assert soup.title.string.startswith("Error: ")
    assert message in soup.select_one(".govuk-error-summary").get_text()
    with money_app.app_context():
        ts = db.session.get(Timesheet, paper.id)
        assert ts.status == TimesheetStatus.AWAITING_KEYING and ts.keyed_day_minutes == 0


def test_a_stale_form_changes_nothing(money_app):
    paper = _waiting_paper(money_app)
    client = _signed_in(money_app, KIM)
    url = f"/payroll/timesheets/{paper.id}/key-in"
    token = csrf_token(client.get(url).text)
    response = client.post(url, data={"csrf_token": token, "day_hours": "28", "version": str(paper.version - 1)})
    assert response.status_code == 302 and response.headers["Location"].endswith(url)
    assert "changed since you opened it" in client.get(url).text
    with money_app.app_context():
        assert db.session.get(Timesheet, paper.id).status == TimesheetStatus.AWAITING_KEYING


def test_another_providers_timesheet_and_scan_are_not_found(money_app):
    paper = _waiting_paper(money_app)
    client = _signed_in(money_app, OMAR)
    assert client.get(f"/payroll/timesheets/{paper.id}/key-in").status_code == 404
    assert client.get(f"/payroll/documents/{_scan_id(money_app, paper.id)}").status_code == 404
    assert client.get("/payroll/timesheets/999999/key-in").status_code == 404
    assert client.get("/payroll/documents/999999").status_code == 404
    token = csrf_token(client.get("/account").text)
    response = client.post(f"/payroll/timesheets/{paper.id}/key-in", data={"csrf_token": token, "day_hours": "28",
                                                                           "version": str(paper.version)})
    assert response.status_code == 404
    with money_app.app_context():
        assert db.session.get(Timesheet, paper.id).status == TimesheetStatus.AWAITING_KEYING


def test_a_timesheet_not_waiting_is_not_keyed_in(money_app):
    with money_app.app_context():
        leon = db.session.scalar(sa.select(Timesheet.id).where(Timesheet.status == TimesheetStatus.SUBMITTED))
    response = _signed_in(money_app, KIM).get(f"/payroll/timesheets/{leon}/key-in")
    assert response.status_code == 302


def test_the_scan_downloads_as_an_attachment(money_app):
    paper = _waiting_paper(money_app)
    response = _signed_in(money_app, KIM).get(f"/payroll/documents/{_scan_id(money_app, paper.id)}")
    assert response.status_code == 200
    assert response.mimetype == "application/pdf" and response.data.startswith(b"%PDF")
    assert response.headers["Content-Disposition"].startswith("attachment")
    assert response.headers["X-Content-Type-Options"] == "nosniff"


def test_hours_are_read_the_ways_people_write_them():
    assert parse_hours("7.5") == parse_hours("7:30") == parse_hours("7h 30m") == parse_hours("7 hours 30 minutes") == 450
    assert parse_hours("") == 0 and parse_hours("0.25") == 15 and parse_hours(".5") == 30 and parse_hours("40") == 2400
    for bad in ("seven", "7:75", "-3", "7.555", "7 hours 90 minutes"):
        with pytest.raises(ValueError):
            parse_hours(bad)
    assert parse_day("1/11/2026") == parse_day("2026-11-01") == parse_day("1 November 2026") == date(2026, 11, 1)


# The payroll export ----------------------------------------------------------------------------------


def _csv(response) -> list[dict]:
    assert response.status_code == 200 and response.mimetype == "text/csv"
    return list(csv.DictReader(io.StringIO(response.data.decode("utf-8-sig"))))


def test_export_has_the_approved_timesheets_whose_period_ends_in_the_range(money_app):
    today = london_today()
    first, last = today - timedelta(days=90), today
    response = _signed_in(money_app, KIM).get(f"/payroll/timesheets.csv?from={first.isoformat()}&to={last.isoformat()}")
    assert response.headers["Content-Disposition"].startswith("attachment")
    rows = _csv(response)
    with money_app.app_context():
        expected = {t.id: t for t in db.session.scalars(sa.select(Timesheet).where(
            Timesheet.status == TimesheetStatus.APPROVED, Timesheet.period_end.between(first, last)))}
        assert {int(r["Timesheet reference"]) for r in rows} == set(expected)
        by_ref = {int(r["Timesheet reference"]): r for r in rows}
        for ts_id, ts in expected.items():
            row = by_ref[ts_id]
            figures = timesheets.totals(ts)
            assert row["Gross pay"] == f"{ts.gross_pence // 100}.{ts.gross_pence % 100:02d}"
            assert Decimal(row["Day hours"]) * 60 == figures.minutes.get(RateType.DAY, 0)
            assert row["Period end"] == ts.period_end.isoformat() and row["Approved by"]
    sophie = [r for r in rows if r["PA"] == "Sophie Clarke"]
    assert sophie and all(r["Employer"] == "Amina Patel" and r["NI number"] == "JT123456C" and r["Source"] == "online" for r in sophie)
    assert {r["Source"] for r in rows if r["PA"] == "Joan Price"} == {"paper"}
    assert {r["PA"] for r in rows} <= {"Sophie Clarke", "Joan Price", "Leon Baptiste"}


def test_export_defaults_to_the_last_four_weeks_and_refuses_bad_dates(money_app):
    client = _signed_in(money_app, KIM)
    rows = _csv(client.get("/payroll/timesheets.csv"))
    earliest = london_today() - timedelta(days=27)
    assert all(date.fromisoformat(r["Period end"]) >= earliest for r in rows)
    for query, message in (("from=31/02/2026", "Enter the dates like 1/11/2026"),
                           ("from=2026-11-10&to=2026-11-01", "The start date must be on or before the end date"),
                           ("from=2024-01-01&to=2026-01-01", "Choose dates no more than a year apart")):
        response = client.get(f"/payroll/timesheets.csv?{query}")
        assert response.status_code == 302, query
        assert message in get_page(client, response.headers["Location"]).text


def test_omar_exports_none_of_brightpaths(money_app):
    rows = _csv(_signed_in(money_app, OMAR).get("/payroll/timesheets.csv?from=2020-01-01&to=2020-12-31"))
    assert rows == []
    rows = _csv(_signed_in(money_app, OMAR).get(f"/payroll/timesheets.csv?to={london_today().isoformat()}"))
    assert not {r["Employer"] for r in rows} & {"Amina Patel", "Tom Hughes"}


def test_export_cells_cannot_start_a_formula(money_app):
    employer = _add_employer(money_app, "=HYPERLINK(\"http://evil.example\")", "+Smith", "Brightpath Support")
    employment_id = _add_pa(money_app, employer, "@Sam", "-Jones")
    with money_app.app_context():
        employment = db.session.get(Employment, employment_id)
        amina_user = db.session.scalar(sa.select(User).where(User.email == "amina@example.org"))
        period = timesheets.period_for(employment, london_today() - timedelta(days=10))
        ts = timesheets.start(employment, period, amina_user)
        db.session.flush()
        timesheets.add_shift(ts, ShiftInput(period.start, time(9), time(12), False, 0, RateType.DAY), ts.version)
        timesheets.submit(ts, amina_user, ts.version)
        timesheets.approve(ts, amina_user, ts.version)
        db.session.commit()
        end = period.end
    text = _signed_in(money_app, KIM).get(f"/payroll/timesheets.csv?from={end.isoformat()}&to={end.isoformat()}").data.decode("utf-8-sig")
    row = next(r for r in csv.reader(io.StringIO(text)) if "Jones" in ",".join(r))
    assert row[1].startswith("'=HYPERLINK") and row[2] == "'@Sam -Jones"
    assert not any(cell.startswith(("=", "+", "-", "@")) for cell in row)
    assert row[6] == "3.00" and row[13] == "39.00"


def test_export_makes_no_query_per_row(money_app):
    client = _signed_in(money_app, KIM)
    with money_app.app_context():
        engine = db.engine
    statements = []

    def count(conn, cursor, statement, *args):
        if "national_rates" not in statement:  # rolled-up holiday's rate look-up: see the report
            statements.append(statement)

    def queries_for(days):
        statements.clear()
        sa.event.listen(engine, "before_cursor_execute", count)
        try:
            rows = _csv(client.get(f"/payroll/timesheets.csv?from={(london_today() - timedelta(days=days)).isoformat()}"))
        finally:
            sa.event.remove(engine, "before_cursor_execute", count)
        return len(rows), len(statements)

    few_rows, few = queries_for(20)
    many_rows, many = queries_for(300)
    assert many_rows > few_rows + 10 and many == few
