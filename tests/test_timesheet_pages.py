"""Timesheet pages through the real views: entering shifts (htmx and without JavaScript), submitting,
sending back, approving, locking and correcting, paper timesheets, marking paid, warnings, the PDF and
the PA's overview.

Every form is posted as a browser would: the CSRF token and the `version` hidden field come from the
page the person is looking at. Refusals are checked by comparing the timesheet and the expected items
before and after.
"""

import io
import os
import re
import shutil
import subprocess
from datetime import date, time, timedelta

import pytest
import sqlalchemy as sa
from bs4 import BeautifulSoup
from PIL import Image

from portal.extensions import db
from portal.models import (
    CaseloadEntry,
    Employment,
    ExpectedItem,
    ExpectedKind,
    ExpectedStatus,
    Notification,
    PayPeriod,
    Person,
    RateType,
    Shift,
    Timesheet,
    TimesheetDocument,
    TimesheetStatus,
    User,
)
from portal.services import ledger, mail, pay_periods, timesheets
from portal.services.clock import london_today
from portal.services.timesheets import LIVE, ShiftInput
from tests.conftest import csrf_token, get_page, sign_in
from tests.helpers import person_id

AMINA, SOPHIE, KIM = "amina@example.org", "sophie.pa@example.org", "kim@brightpath.example"
DAVID, GRACE, OMAR, TOM, JAY = "david@example.org", "grace@example.org", "omar@harbour.example", "tom@example.org", "jay.pa@example.org"


# Helpers ---------------------------------------------------------------------------------------------


def _client(app, email):
    client = app.test_client()
    sign_in(client, email)
    return client


def _form(soup: BeautifulSoup, action_end: str) -> tuple[str, dict]:
    """The action and hidden fields of the POST form whose action ends with `action_end`."""
    for form in soup.find_all("form", method="post"):
        action = form.get("action", "")
        if action.split("?")[0].endswith(action_end):
            return action, {i["name"]: i.get("value", "") for i in form.find_all("input", type="hidden") if i.get("name")}
    raise AssertionError(f"no form posting to …{action_end} on the page")


def _press(client, page_url: str, action_end: str, extra: dict | None = None, **kwargs):
    """Open the page, then submit the form posting to …action_end with its hidden fields (and extra)."""
    page = get_page(client, page_url)
    action, data = _form(page.soup, action_end)
    return client.post(action, data={**data, **(extra or {})}, **kwargs)


def _shift(day: date, start: str, end: str, *, next_day=False, break_minutes="0", rate=RateType.DAY, notes="") -> dict:
    data = {"work_date": day.isoformat(), "start_time": start, "end_time": end, "break_minutes": break_minutes,
            "rate_type": rate.value, "notes": notes}
    if next_day:
        data["ends_next_day"] = "y"
    return data


def _add_shift(client, ts_id: int, data: dict, **kwargs):
    return _press(client, f"/timesheets/{ts_id}", f"/timesheets/{ts_id}/shifts", data, **kwargs)


def _follow(client, response) -> BeautifulSoup:
    assert response.status_code == 302, response.status_code
    return get_page(client, response.headers["Location"]).soup


def _banner_text(soup: BeautifulSoup) -> str:
    return " ".join(b.get_text(" ", strip=True) for b in soup.select(".govuk-notification-banner"))


def _pence(text: str) -> int:
    match = re.search(r"(-?)£([\d,]+)\.(\d\d)", text)
    assert match, text
    return (-1 if match.group(1) else 1) * (int(match.group(2).replace(",", "")) * 100 + int(match.group(3)))


def _gross_shown(soup: BeautifulSoup) -> int:
    return _pence(soup.select_one("[data-gross]").get_text(strip=True))


def _draft_of_sophie(app) -> tuple[int, date, date]:
    amina, sophie = person_id(app, "Amina", "Patel"), person_id(app, "Sophie", "Clarke")
    with app.app_context():
        ts = db.session.scalar(sa.select(Timesheet).where(Timesheet.employer_id == amina, Timesheet.pa_id == sophie,
                                                          Timesheet.status == TimesheetStatus.DRAFT))
        return ts.id, ts.period_start, ts.period_end


def _state(app, ts_id: int) -> dict:
    """Everything a refused action must leave alone: the timesheet, its shifts, every timesheet's expected item."""
    with app.app_context():
        ts = db.session.get(Timesheet, ts_id)
        items = db.session.execute(sa.select(ExpectedItem.key, ExpectedItem.status, ExpectedItem.amount_pence)
                                   .where(ExpectedItem.kind == ExpectedKind.TIMESHEET).order_by(ExpectedItem.key)).all()
        return {"status": ts.status, "version": ts.version, "approved_at": ts.approved_at, "paid_on": ts.paid_on,
                "shifts": sorted((s.work_date, s.start_time, s.end_time) for s in ts.shifts), "items": [tuple(i) for i in items],
                "notifications": db.session.scalar(sa.select(sa.func.count()).select_from(Notification))}


def _timesheet(app, ts_id: int) -> Timesheet:
    with app.app_context():
        ts = db.session.get(Timesheet, ts_id)
        db.session.expunge(ts)
        return ts


def _shift_count(app, ts_id: int) -> int:
    with app.app_context():
        return db.session.scalar(sa.select(sa.func.count()).select_from(Shift).where(Shift.timesheet_id == ts_id))


def _expected(app, ts_id: int) -> list[ExpectedItem]:
    with app.app_context():
        items = list(db.session.scalars(sa.select(ExpectedItem).where(ExpectedItem.key == f"timesheet:{ts_id}")))
        for item in items:
            db.session.expunge(item)
        return items


def _notification_keys(app, email: str, like: str) -> list[str]:
    with app.app_context():
        return list(db.session.scalars(sa.select(Notification.key).join(User, User.id == Notification.user_id)
                                       .where(User.email == email, Notification.key.like(like))))


def _emails_to(email: str, words: str, ts_id: int) -> list:
    """Emails to this address about this timesheet (the email ends with the timesheet's link)."""
    link = re.compile(rf"/timesheets/{ts_id}\s*$")
    return [m for m in mail.OUTBOX if m["To"] == email and words in m.get_content() and link.search(m.get_content())]


def _png() -> bytes:
    out = io.BytesIO()
    Image.new("RGB", (60, 40), (240, 240, 200)).save(out, "PNG")
    return out.getvalue()


# Entering shifts -------------------------------------------------------------------------------------


def test_sophie_enters_a_night_across_midnight_and_bad_shifts_are_refused_with_nothing_saved(money_app):
    ts_id, start, _ = _draft_of_sophie(money_app)
    sophie = _client(money_app, SOPHIE)
    saturday = start + timedelta(days=5)  # no demo shift on a Saturday
    before = _shift_count(money_app, ts_id)

    response = _add_shift(sophie, ts_id, _shift(saturday, "22:00", "06:00", next_day=True, rate=RateType.NIGHT))
    soup = _follow(sophie, response)
    assert "Shift added" in _banner_text(soup)
    assert _shift_count(money_app, ts_id) == before + 1
    night_rows = [tr for tr in soup.select("[data-shifts] tbody tr") if "06:00 (next day)" in tr.get_text(" ", strip=True)]
    assert len(night_rows) == 1 and "8 hours" in night_rows[0].get_text(" ", strip=True)
    totals = {tr.th.get_text(strip=True): [td.get_text(strip=True) for td in tr.select("td")]
              for tr in soup.select("[data-totals] tbody tr")}
    assert totals["Night hours"] == ["8 hours", "£120.00"]  # 8 hours at Sophie's night rate of £15.00

    refusals = [
        (_shift(saturday, "14:00", "10:00"), "The finish time must be after the start time"),
        (_shift(saturday, "09:00", "25:00"), "Enter the finish time as a time on the 24-hour clock"),
        (_shift(saturday, "nine", "12:00"), "Enter the start time as a time on the 24-hour clock"),
        (_shift(saturday, "09:00", "11:00", break_minutes="150"), "The unpaid break must be shorter than the shift"),
    ]
    state = _state(money_app, ts_id)
    for data, message in refusals:
        response = _add_shift(sophie, ts_id, data)
        assert response.status_code == 200, data
        soup = BeautifulSoup(response.text, "html.parser")
        errors = " ".join(e.get_text(" ", strip=True) for e in soup.select(".govuk-error-message, .govuk-error-summary"))
        assert message in errors, (data, errors)
        assert _state(money_app, ts_id) == state, data


def test_adding_a_shift_with_htmx_returns_only_the_timesheet_body_and_without_it_redirects(money_app):
    ts_id, start, _ = _draft_of_sophie(money_app)
    sophie = _client(money_app, SOPHIE)
    wednesday = start + timedelta(days=2)

    response = _add_shift(sophie, ts_id, _shift(wednesday, "15:00", "17:30", notes="Shopping trip"), headers={"HX-Request": "true"})
    assert response.status_code == 200
    assert "<html" not in response.text.lower() and "<h1" not in response.text
    assert "HX-Request" in response.headers.get("Vary", "")
    part = BeautifulSoup(response.text, "html.parser")
    assert part.select_one("#timesheet-body") is not None
    assert "Shift added" in part.select_one(".govuk-notification-banner").get_text(" ", strip=True)
    assert "Shopping trip" in part.select_one("[data-shifts]").get_text(" ", strip=True)
    # The part replaced carries the new version, so the next change from it is not refused as stale.
    assert part.select_one("input[name=version]")["value"] == str(_timesheet(money_app, ts_id).version)

    response = _add_shift(sophie, ts_id, _shift(wednesday, "18:00", "19:00", notes="Evening call"))
    assert response.status_code == 302 and response.headers["Location"].endswith(f"/timesheets/{ts_id}")
    soup = get_page(sophie, response.headers["Location"]).soup
    assert "Shift added" in _banner_text(soup)
    assert "Evening call" in soup.select_one("[data-shifts]").get_text(" ", strip=True)


def test_a_stale_htmx_add_shift_says_why_nothing_was_added(money_app):
    ts_id, start, _ = _draft_of_sophie(money_app)
    sophie = _client(money_app, SOPHIE)
    stale = get_page(sophie, f"/timesheets/{ts_id}")
    assert _add_shift(sophie, ts_id, _shift(start + timedelta(days=2), "09:00", "10:00")).status_code == 302
    action, data = _form(stale.soup, f"/timesheets/{ts_id}/shifts")
    count = _shift_count(money_app, ts_id)
    without_js = sophie.post(action, data={**data, **_shift(start + timedelta(days=2), "11:00", "12:00")})
    assert "changed since you opened it" in without_js.text
    with_htmx = sophie.post(action, data={**data, **_shift(start + timedelta(days=2), "11:00", "12:00")}, headers={"HX-Request": "true"})
    assert _shift_count(money_app, ts_id) == count
    assert "changed since you opened it" in with_htmx.text


# Submitting ------------------------------------------------------------------------------------------


def test_submitting_twice_or_from_a_stale_tab_changes_nothing(money_app):
    ts_id, start, _ = _draft_of_sophie(money_app)
    sophie = _client(money_app, SOPHIE)
    mail.OUTBOX.clear()

    # Two tabs drawn from the same version: tab A adds a shift, tab B then submits what it saw.
    tab_b = get_page(sophie, f"/timesheets/{ts_id}")
    assert _add_shift(sophie, ts_id, _shift(start + timedelta(days=2), "09:00", "12:00")).status_code == 302
    action, data = _form(tab_b.soup, "/submit")
    soup = _follow(sophie, sophie.post(action, data=data))
    assert "changed since you opened it" in _banner_text(soup)
    assert _timesheet(money_app, ts_id).status == TimesheetStatus.DRAFT
    assert _notification_keys(money_app, AMINA, f"timesheet:{ts_id}:submitted:%") == []

    # Submit for real, then the same form again (a double-click, or the form resubmitted).
    page = get_page(sophie, f"/timesheets/{ts_id}")
    action, data = _form(page.soup, "/submit")
    soup = _follow(sophie, sophie.post(action, data=data))
    assert "Timesheet submitted" in _banner_text(soup)
    state = _state(money_app, ts_id)
    assert state["status"] == TimesheetStatus.SUBMITTED
    soup = _follow(sophie, sophie.post(action, data=data))
    assert "already submitted" in _banner_text(soup)
    assert _state(money_app, ts_id) == state
    assert len(_notification_keys(money_app, AMINA, f"timesheet:{ts_id}:submitted:%")) == 1
    assert len(_emails_to(AMINA, "is waiting for approval", ts_id)) == 1


# Send back, resubmit, approve, locked, correction -----------------------------------------------------


def test_send_back_resubmit_approve_lock_and_correct(money_app):
    app = money_app
    ts_id, start, _ = _draft_of_sophie(app)
    amina_id = person_id(app, "Amina", "Patel")
    sophie, amina = _client(app, SOPHIE), _client(app, AMINA)
    wednesday = start + timedelta(days=2)
    assert _add_shift(sophie, ts_id, _shift(wednesday, "09:00", "13:00")).status_code == 302
    assert _press(sophie, f"/timesheets/{ts_id}", "/submit").status_code == 302

    # Amina sees it waiting for her.
    index = get_page(amina, f"/people/{amina_id}/timesheets").soup
    waiting = next(t for t in index.select("table") if t.caption and "Waiting for your approval" in t.caption.get_text())
    assert waiting.select_one(f"a[href='/timesheets/{ts_id}']") is not None

    # Sending back needs a reason.
    state = _state(app, ts_id)
    page = get_page(amina, f"/timesheets/{ts_id}/send-back")
    form = page.soup.find("textarea", {"name": "reason"}).find_parent("form")
    data = {i["name"]: i.get("value", "") for i in form.find_all("input", type="hidden")}
    assert data["version"] == str(state["version"])
    response = amina.post(f"/timesheets/{ts_id}/send-back", data={**data, "reason": ""})
    assert response.status_code == 200
    assert "Say what needs to change" in response.text
    assert _state(app, ts_id) == state
    reason = "Wednesday finished at 12:00, not 13:00"
    soup = _follow(amina, amina.post(f"/timesheets/{ts_id}/send-back", data={**data, "reason": reason}))
    assert "Timesheet sent back" in _banner_text(soup)
    assert _timesheet(app, ts_id).status == TimesheetStatus.SENT_BACK
    assert reason in get_page(sophie, f"/timesheets/{ts_id}").soup.select_one("[data-sent-back]").get_text(" ", strip=True)
    assert len(_notification_keys(app, SOPHIE, f"timesheet:{ts_id}:sent-back:%")) == 1

    # Sophie puts it right and submits again.
    with app.app_context():
        wrong = db.session.scalar(sa.select(Shift.id).where(Shift.timesheet_id == ts_id, Shift.work_date == wednesday,
                                                            Shift.start_time == time(9, 0)))
    assert _press(sophie, f"/timesheets/{ts_id}", f"/shifts/{wrong}/remove").status_code == 302
    assert _add_shift(sophie, ts_id, _shift(wednesday, "09:00", "12:00")).status_code == 302
    assert _press(sophie, f"/timesheets/{ts_id}", "/submit").status_code == 302
    assert _timesheet(app, ts_id).status == TimesheetStatus.SUBMITTED

    # Amina approves: locked, and the gross she saw is expected to leave the account on the pay date.
    page = get_page(amina, f"/timesheets/{ts_id}")
    gross = _gross_shown(page.soup)
    approve_action, approve_data = _form(page.soup, "/approve")
    soup = _follow(amina, amina.post(approve_action, data=approve_data))
    assert "Timesheet approved" in _banner_text(soup)
    ts = _timesheet(app, ts_id)
    assert ts.status == TimesheetStatus.APPROVED and ts.gross_pence == gross
    items = _expected(app, ts_id)
    assert len(items) == 1
    with app.app_context():
        pay_date = timesheets.period_of(db.session.get(Timesheet, ts_id)).pay_date
    assert (items[0].status, items[0].kind, items[0].amount_pence, items[0].due_date) == (
        ExpectedStatus.OPEN, ExpectedKind.TIMESHEET, -gross, pay_date)
    assert _notification_keys(app, SOPHIE, f"timesheet:{ts_id}:approved") == [f"timesheet:{ts_id}:approved"]
    state = _state(app, ts_id)
    soup = _follow(amina, amina.post(approve_action, data=approve_data))  # the approve button again
    assert "already approved" in _banner_text(soup)
    assert _state(app, ts_id) == state

    # Locked: no shift added or removed.
    page = get_page(sophie, f"/timesheets/{ts_id}")
    assert page.soup.select_one(f"form[action='/timesheets/{ts_id}/shifts']") is None
    version = _form(page.soup, "/correct")[1]["version"]
    token = csrf_token(page.text)
    response = sophie.post(f"/timesheets/{ts_id}/shifts", data={"csrf_token": token, "version": version,
                                                                **_shift(wednesday, "19:00", "20:00")})
    assert "can no longer be changed" in _banner_text(_follow(sophie, response))
    with app.app_context():
        some_shift = db.session.scalar(sa.select(Shift.id).where(Shift.timesheet_id == ts_id).limit(1))
    response = sophie.post(f"/timesheets/{ts_id}/shifts/{some_shift}/remove", data={"csrf_token": token, "version": version})
    assert "can no longer be changed" in _banner_text(_follow(sophie, response))
    assert _state(app, ts_id) == state

    # A correction: a new revision with the same shifts; asking twice gives the same one.
    correct_action, correct_data = _form(page.soup, "/correct")
    response = sophie.post(correct_action, data=correct_data)
    assert response.status_code == 302
    location = response.headers["Location"]
    correction_id = int(location.rsplit("/", 1)[1])
    assert correction_id != ts_id
    again = sophie.post(correct_action, data=correct_data)
    assert again.status_code == 302 and again.headers["Location"] == location
    with app.app_context():
        assert db.session.scalar(sa.select(sa.func.count()).select_from(Timesheet).where(Timesheet.corrects_id == ts_id)) == 1
        correction = db.session.get(Timesheet, correction_id)
        assert correction.revision == 2 and correction.status == TimesheetStatus.DRAFT
        assert sorted((s.work_date, s.start_time, s.end_time) for s in correction.shifts) == state["shifts"]
        short = db.session.scalar(sa.select(Shift.id).where(Shift.timesheet_id == correction_id, Shift.work_date == wednesday,
                                                            Shift.start_time == time(9, 0)))
    assert _press(sophie, location, f"/shifts/{short}/remove").status_code == 302
    assert _add_shift(sophie, correction_id, _shift(wednesday, "09:00", "14:00")).status_code == 302
    page = get_page(sophie, location)
    assert "What this correction changes" in page.text
    rows = [[td.get_text(" ", strip=True) for td in tr.select("td")] for tr in page.soup.select("[data-changes] tbody tr")]
    changed = [r for r in rows if r[0] == "Changed"]
    assert len(changed) == 1 and "09:00–12:00" in changed[0][1] and "09:00–14:00" in changed[0][2], rows
    new_gross = _gross_shown(page.soup)
    assert new_gross == gross + 2 * 1400  # two more day hours at £14.00
    assert ["Total", f"£{gross // 100:,}.{gross % 100:02d}", f"£{new_gross // 100:,}.{new_gross % 100:02d}"] in rows
    assert _press(sophie, location, "/submit").status_code == 302

    soup = _follow(amina, _press(amina, location, "/approve"))
    assert "Timesheet approved" in _banner_text(soup)
    assert _timesheet(app, ts_id).status == TimesheetStatus.SUPERSEDED
    assert _timesheet(app, correction_id).status == TimesheetStatus.APPROVED
    assert [i.status for i in _expected(app, ts_id)] == [ExpectedStatus.CANCELLED]
    assert [(i.status, i.amount_pence) for i in _expected(app, correction_id)] == [(ExpectedStatus.OPEN, -new_gross)]


# Refusals --------------------------------------------------------------------------------------------


def _sams_submitted_timesheet(app) -> int:
    """A PA without an account working for Sam (David's view-level person), with a timesheet waiting."""
    sam = person_id(app, "Sam", "Okafor")
    with app.app_context():
        pa = Person(given_name="Priya", family_name="Testwood")
        db.session.add(pa)
        db.session.flush()
        employment = Employment(pa_id=pa.id, employer_id=sam, start_date=london_today() - timedelta(days=90),
                                day_rate_pence=1300, pay_period=PayPeriod.WEEKLY)
        db.session.add(employment)
        db.session.flush()
        kim = db.session.scalar(sa.select(User).where(User.email == KIM))
        period = timesheets.period_for(employment, london_today() - timedelta(days=7))
        ts = timesheets.start(employment, period, kim)
        db.session.flush()
        timesheets.add_shift(ts, ShiftInput(period.start, time(10, 0), time(14, 0), False, 0, RateType.DAY), ts.version)
        assert timesheets.submit(ts, kim, ts.version)
        db.session.commit()
        return ts.id


def _try_approve(client, ts_id: int, page_status: int = 200):
    """POST approve with the user's own CSRF token and the timesheet's current version (as a crafted form would)."""
    page = client.get(f"/timesheets/{ts_id}")
    assert page.status_code == page_status
    token = csrf_token(page.text if page.status_code == 200 else client.get("/home").text)
    version = _current_version(client.application, ts_id)
    return client.post(f"/timesheets/{ts_id}/approve", data={"csrf_token": token, "version": str(version)})


def _current_version(app, ts_id: int) -> int:
    with app.app_context():
        return db.session.scalar(sa.select(Timesheet.version).where(Timesheet.id == ts_id))


def test_approval_by_someone_not_allowed_is_refused_and_changes_nothing(money_app):
    app = money_app
    ts_id, start, _ = _draft_of_sophie(app)

    # The employer's side does not enter shifts for a PA who has an account.
    amina = _client(app, AMINA)
    state = _state(app, ts_id)
    page = get_page(amina, f"/timesheets/{ts_id}")
    assert page.soup.select_one(f"form[action='/timesheets/{ts_id}/shifts']") is None
    response = amina.post(f"/timesheets/{ts_id}/shifts", data={"csrf_token": csrf_token(page.text), "version": str(state["version"]),
                                                                **_shift(start + timedelta(days=2), "09:00", "10:00")})
    assert response.status_code == 403
    assert _state(app, ts_id) == state

    sophie = _client(app, SOPHIE)
    assert _add_shift(sophie, ts_id, _shift(start + timedelta(days=2), "09:00", "11:00")).status_code == 302
    assert _press(sophie, f"/timesheets/{ts_id}", "/submit").status_code == 302
    state = _state(app, ts_id)
    assert state["status"] == TimesheetStatus.SUBMITTED

    # The PA herself, another employer, another provider's staff.
    assert _try_approve(sophie, ts_id).status_code == 403
    assert _try_approve(_client(app, GRACE), ts_id, page_status=404).status_code == 404
    assert _try_approve(_client(app, OMAR), ts_id, page_status=404).status_code == 404
    assert _state(app, ts_id) == state

    # A view-level representative (David for Sam) can look but not approve, managed account or not.
    sams = _sams_submitted_timesheet(app)
    david = _client(app, DAVID)
    sam_state = _state(app, sams)
    assert _try_approve(david, sams).status_code == 403
    with app.app_context():
        entry = db.session.scalar(sa.select(CaseloadEntry).where(CaseloadEntry.recipient_id == person_id(app, "Sam", "Okafor")))
        entry.managed_account = False
        db.session.commit()
    assert _try_approve(david, sams).status_code == 403
    assert _state(app, sams) == sam_state

    # Under a managed account the recipient does not approve; the caseworker does.
    tom_id, leon_id = person_id(app, "Tom", "Hughes"), person_id(app, "Leon", "Baptiste")
    with app.app_context():
        leons = db.session.scalar(sa.select(Timesheet.id).where(Timesheet.employer_id == tom_id, Timesheet.pa_id == leon_id,
                                                                Timesheet.status == TimesheetStatus.SUBMITTED))
    leon_state = _state(app, leons)
    assert _try_approve(_client(app, TOM), leons).status_code == 403
    assert _state(app, leons) == leon_state
    kim = _client(app, KIM)
    response = _press(kim, f"/timesheets/{leons}", "/approve")
    assert response.status_code in (200, 302)
    assert _timesheet(app, leons).status == TimesheetStatus.APPROVED
    assert [i.status for i in _expected(app, leons)] == [ExpectedStatus.OPEN]


# The employer enters hours for a PA without an account -----------------------------------------------


def test_amina_starts_enters_submits_and_approves_joans_timesheet(money_app):
    app = money_app
    amina_id, joan_id = person_id(app, "Amina", "Patel"), person_id(app, "Joan", "Price")
    with app.app_context():
        employment = db.session.scalar(sa.select(Employment).where(Employment.employer_id == amina_id, Employment.pa_id == joan_id))
        period = timesheets.period_for(employment, london_today())
        employment_id = employment.id
    amina = _client(app, AMINA)
    page = get_page(amina, f"/people/{amina_id}/timesheets")
    starts = [f for f in page.soup.find_all("form", action="/timesheets/start")
              if f.find("input", {"name": "employment", "value": str(employment_id)})]
    assert len(starts) == 1
    data = {i["name"]: i.get("value", "") for i in starts[0].find_all("input", type="hidden")}
    assert data["period_start"] == period.start.isoformat()
    first = amina.post("/timesheets/start", data=data)
    second = amina.post("/timesheets/start", data=data)  # a double-click
    assert first.status_code == second.status_code == 302
    assert first.headers["Location"] == second.headers["Location"]
    ts_id = int(first.headers["Location"].rsplit("/", 1)[1])
    with app.app_context():
        assert db.session.scalar(sa.select(sa.func.count()).select_from(Timesheet).where(
            Timesheet.employment_id == employment_id, Timesheet.period_start == period.start)) == 1

    assert _add_shift(amina, ts_id, _shift(period.start + timedelta(days=1), "10:00", "14:00")).status_code == 302
    assert _shift_count(app, ts_id) == 1
    assert _press(amina, f"/timesheets/{ts_id}", "/submit").status_code == 302
    assert _timesheet(app, ts_id).status == TimesheetStatus.SUBMITTED
    page = get_page(amina, f"/timesheets/{ts_id}")
    gross = _gross_shown(page.soup)
    assert _follow(amina, _press(amina, f"/timesheets/{ts_id}", "/approve")) is not None
    assert _timesheet(app, ts_id).status == TimesheetStatus.APPROVED
    assert [(i.status, i.amount_pence) for i in _expected(app, ts_id)] == [(ExpectedStatus.OPEN, -gross)]


# Paper timesheets ------------------------------------------------------------------------------------


def _paper_post(client, amina_id: int, employment_id: int, period_start: date, scan, **fields):
    page = get_page(client, f"/people/{amina_id}/timesheets/paper")
    choice = f"{employment_id}:{period_start.isoformat()}"
    assert page.soup.find("option", value=choice) is not None, choice
    data = {"csrf_token": csrf_token(page.text), "employment": str(employment_id), "period": choice, **fields}
    if scan is not None:
        data["scan"] = scan
    return client.post(f"/people/{amina_id}/timesheets/paper", data=data, content_type="multipart/form-data")


def test_paper_timesheets_upload_scan_download_and_refusals(money_app):
    app = money_app
    amina_id, joan_id = person_id(app, "Amina", "Patel"), person_id(app, "Joan", "Price")
    folder = app.config["EVIDENCE_FOLDER"]
    with app.app_context():
        joan = db.session.scalar(sa.select(Employment).where(Employment.employer_id == amina_id, Employment.pa_id == joan_id))
        period = timesheets.period_for(joan, london_today())
        joan_id_emp = joan.id

    def count():
        with app.app_context():
            return db.session.scalar(sa.select(sa.func.count()).select_from(Timesheet).where(Timesheet.employment_id == joan_id_emp))

    amina = _client(app, AMINA)
    files, rows = set(os.listdir(folder)), count()

    # No file: an error, nothing saved.
    response = _paper_post(amina, amina_id, joan_id_emp, period.start, None, day_hours="28")
    assert response.status_code == 200 and "Choose the photo or scan to upload" in response.text
    # Hostile files: refused with a message, no row and no file left behind.
    hostile = [
        (b"\x89PNG\r\n\x1a\n" + b"this is not a picture at all" * 20, "scan.png", "could not be read"),
        (b"<!DOCTYPE html><html><body><script>alert(1)</script></body></html>", "scan.pdf", "must be a PDF, JPG or PNG"),
        (b"%PDF-1.4\n<html><script>alert(1)</script></html>\n%%EOF", "polyglot.pdf", "must be a PDF, JPG or PNG"),
    ]
    for data, name, message in hostile:
        response = _paper_post(amina, amina_id, joan_id_emp, period.start, (io.BytesIO(data), name), day_hours="28")
        assert response.status_code == 200, name
        assert message in response.text, name
    assert count() == rows
    assert set(os.listdir(folder)) == files

    # Hours typed in: saved and approved at once.
    response = _paper_post(amina, amina_id, joan_id_emp, period.start, (io.BytesIO(_png()), "joan week.png"), day_hours="28")
    soup = _follow(amina, response)
    assert "saved and approved" in _banner_text(soup)
    ts_id = int(response.headers["Location"].rsplit("/", 1)[1])
    ts = _timesheet(app, ts_id)
    assert ts.status == TimesheetStatus.APPROVED and ts.keyed_day_minutes == 28 * 60
    assert [i.status for i in _expected(app, ts_id)] == [ExpectedStatus.OPEN]
    with app.app_context():
        doc_id = db.session.scalar(sa.select(TimesheetDocument.id).where(TimesheetDocument.timesheet_id == ts_id))
    link = soup.select_one(f"a[href='/timesheets/{ts_id}/documents/{doc_id}']")
    assert link is not None
    for client in (amina, _client(app, KIM)):
        download = client.get(link["href"])
        assert download.status_code == 200
        assert download.mimetype == "image/png" and download.data.startswith(b"\x89PNG\r\n\x1a\n")
        assert download.headers["Content-Disposition"].startswith("attachment")
    assert _client(app, SOPHIE).get(link["href"]).status_code == 404

    # Left for the support service to type in (a new PA without an account, so a period is free).
    with app.app_context():
        pa = Person(given_name="Nell", family_name="Paperwell")
        db.session.add(pa)
        db.session.flush()
        other = Employment(pa_id=pa.id, employer_id=amina_id, start_date=london_today() - timedelta(days=60),
                           day_rate_pence=1300, pay_period=PayPeriod.WEEKLY)
        db.session.add(other)
        db.session.commit()
        other_id, other_period = other.id, timesheets.period_for(other, london_today())
    response = _paper_post(amina, amina_id, other_id, other_period.start, (io.BytesIO(_png()), "nell.png"), leave_for_dpss="y")
    assert "support service will type in the hours" in _banner_text(_follow(amina, response))
    waiting = _timesheet(app, int(response.headers["Location"].rsplit("/", 1)[1]))
    assert waiting.status == TimesheetStatus.AWAITING_KEYING and waiting.employment_id == other_id
    assert _expected(app, waiting.id) == []


# Marking paid ----------------------------------------------------------------------------------------


def _owed_on_money_page(client, amina_id: int) -> int:
    soup = get_page(client, f"/people/{amina_id}/money").soup
    for row in soup.select(".govuk-summary-list__row"):
        if row.dt and row.dt.get_text(strip=True) == "Bills waiting to be paid":
            return _pence(row.dd.get_text(strip=True))
    return 0


def test_marking_an_approved_timesheet_paid(money_app):
    app = money_app
    amina_id = person_id(app, "Amina", "Patel")
    with app.app_context():
        # Sophie's latest approved timesheet. The demo leaves it owed unless its pay date is long past
        # (it depends on the day of the fortnight the tests run): make it owed again if need be.
        ts = db.session.scalar(sa.select(Timesheet).where(
            Timesheet.employer_id == amina_id, Timesheet.pa_id == person_id(app, "Sophie", "Clarke"),
            Timesheet.status == TimesheetStatus.APPROVED).order_by(Timesheet.period_start.desc()).limit(1))
        item = timesheets.expected_item(ts)
        ts.paid_on, item.status = None, ExpectedStatus.OPEN
        db.session.commit()
        ts_id, account_id, amount = ts.id, item.account_id, -item.amount_pence
        owed_before = ledger.money_owed(account_id)
    amina = _client(app, AMINA)
    shown_before = _owed_on_money_page(amina, amina_id)
    assert shown_before == owed_before and amount > 0

    page = get_page(amina, f"/timesheets/{ts_id}")
    assert page.soup.find("a", href=f"/timesheets/{ts_id}/paid") is not None
    state = _state(app, ts_id)
    tomorrow = london_today() + timedelta(days=1)
    paid_page = get_page(amina, f"/timesheets/{ts_id}/paid")
    token = csrf_token(paid_page.text)
    response = amina.post(f"/timesheets/{ts_id}/paid", data={"csrf_token": token,
                                                             "paid_on": [str(tomorrow.day), str(tomorrow.month), str(tomorrow.year)]})
    assert response.status_code == 200 and "cannot be in the future" in response.text
    assert _state(app, ts_id) == state

    today = london_today()
    response = amina.post(f"/timesheets/{ts_id}/paid", data={"csrf_token": token, "paid_on": [str(today.day), str(today.month), str(today.year)]})
    assert "Marked as paid" in _banner_text(_follow(amina, response))
    assert _timesheet(app, ts_id).paid_on == today
    assert [i.status for i in _expected(app, ts_id)] == [ExpectedStatus.SETTLED]
    with app.app_context():
        assert ledger.money_owed(account_id) == owed_before - amount
    assert _owed_on_money_page(amina, amina_id) == shown_before - amount


# Warnings --------------------------------------------------------------------------------------------


def test_overlap_warning_for_both_and_support_plan_warning_only_for_the_employer(money_app):
    app = money_app
    ts_id, start, end = _draft_of_sophie(app)
    amina_id = person_id(app, "Amina", "Patel")
    sophie, amina = _client(app, SOPHIE), _client(app, AMINA)

    def warnings(client):
        return {li["data-warning"] for li in get_page(client, f"/timesheets/{ts_id}").soup.select("[data-warning]")}

    assert "overlap" not in warnings(sophie) and "plan_hours" not in warnings(amina)
    # Two shifts on the same Sunday morning (the demo has no Sunday shifts).
    assert _add_shift(sophie, ts_id, _shift(end, "08:00", "12:00")).status_code == 302
    assert _add_shift(sophie, ts_id, _shift(end, "10:00", "13:00")).status_code == 302
    assert "overlap" in warnings(sophie)
    assert "overlap" in warnings(amina)

    # Well past the support plan's 30 hours a week (60 for the fortnight): four 16-hour days more.
    for offset in (2, 5, 6, 9):
        assert _add_shift(sophie, ts_id, _shift(start + timedelta(days=offset), "07:00", "23:00")).status_code == 302
    assert "plan_hours" in warnings(amina)
    sophie_page = get_page(sophie, f"/timesheets/{ts_id}")
    assert "plan_hours" not in {li["data-warning"] for li in sophie_page.soup.select("[data-warning]")}
    assert "support plan" not in sophie_page.text.lower()
    assert "overlap" in warnings(sophie)
    # The employer's overview shows the plan's hours; that is not something the PA's pages have.
    assert "Hours against the support plan" in get_page(amina, f"/people/{amina_id}/timesheets").text
    assert "support plan" not in get_page(sophie, "/timesheets").text.lower()


# The PDF ---------------------------------------------------------------------------------------------


def test_printable_pdf_of_a_timesheet(money_app):
    app = money_app
    with app.app_context():
        ts = db.session.scalar(sa.select(Timesheet).where(
            Timesheet.pa_id == person_id(app, "Sophie", "Clarke"), Timesheet.status == TimesheetStatus.APPROVED)
            .order_by(Timesheet.period_start.desc()).limit(1))
        ts_id, gross = ts.id, timesheets.totals(ts).gross_pence
    sophie = _client(app, SOPHIE)
    page = get_page(sophie, f"/timesheets/{ts_id}")
    assert page.soup.find("a", href=f"/timesheets/{ts_id}.pdf") is not None
    response = sophie.get(f"/timesheets/{ts_id}.pdf")
    assert response.status_code == 200
    assert response.mimetype == "application/pdf" and response.data.startswith(b"%PDF-")
    assert response.headers["Content-Disposition"].startswith("attachment")
    pdftotext = shutil.which("pdftotext") or "/usr/bin/pdftotext"
    if not os.path.exists(pdftotext):
        pytest.skip("pdftotext is not installed")
    text = subprocess.run([pdftotext, "-", "-"], input=response.data, capture_output=True, check=True).stdout.decode()
    assert "Sophie Clarke" in text
    assert f"£{gross // 100:,}.{gross % 100:02d}" in text
    assert _client(app, GRACE).get(f"/timesheets/{ts_id}.pdf").status_code == 404


# The PA's page ---------------------------------------------------------------------------------------


def test_pa_page_shows_the_deadline_and_this_weeks_hours_and_jay_has_none(money_app):
    app = money_app
    today = london_today()
    amina_id, sophie_id = person_id(app, "Amina", "Patel"), person_id(app, "Sophie", "Clarke")
    monday = today - timedelta(days=today.weekday())
    with app.app_context():
        employment = db.session.scalar(sa.select(Employment).where(Employment.employer_id == amina_id, Employment.pa_id == sophie_id))
        period = pay_periods.period_containing(employment.pay_period, pay_periods.calendar_for(amina_id), today)
        week_minutes = db.session.scalar(
            sa.select(sa.func.coalesce(sa.func.sum(Shift.minutes), 0)).join(Timesheet, Timesheet.id == Shift.timesheet_id)
            .where(Shift.pa_id == sophie_id, Shift.work_date.between(monday, monday + timedelta(days=6)), Timesheet.status.in_(LIVE)))
    submit_by, pay_date = period.submit_by, period.pay_date
    deadline = (f"Submit by {submit_by:%A} {submit_by.day} {submit_by:%B} "
                f"to be paid on {pay_date:%A} {pay_date.day} {pay_date:%B}")

    page = get_page(_client(app, SOPHIE), "/timesheets")
    cards = {c.select_one(".govuk-summary-card__title").get_text(strip=True): c for c in page.soup.select(".govuk-summary-card")}
    assert set(cards) == {"Amina Patel"}
    facts = {row.dt.get_text(strip=True): row.dd.get_text(" ", strip=True) for row in cards["Amina Patel"].select(".govuk-summary-list__row")}
    assert facts["Deadline"] == deadline
    week = page.soup.find("h2", string="Hours this week").find_next("p")
    assert week.strong.get_text(strip=True) == timesheets.hours_text(week_minutes)
    assert f"{monday.day} {monday:%B}" in week.get_text(" ", strip=True)

    jay = get_page(_client(app, JAY), "/timesheets")
    assert "You are not working for anyone through this service at the moment." in jay.text
    assert jay.soup.select(".govuk-summary-card") == []
