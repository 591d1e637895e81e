"""Browser journeys for timesheets (issue 4): Sophie's week with a shift past midnight, from her first entry
through Amina's send-back, approval and a correction, to Kim's payroll export; adding a shift without
JavaScript; and a finish time before the start shown as a GOV.UK error.

Every test here gets its own server on a fresh copy of the "money" demo (the `live_server` below
overrides the session one), because each one changes Sophie's only open timesheet (the current period):
they do not depend on their order, and they leave the shared server's demo as it was for the other files.
"""

import csv
import io
import re
from datetime import date, datetime
from urllib.parse import urlsplit

import pytest
from playwright.sync_api import expect

from portal.services.clock import london_today
from tests.browser.conftest import h1

pytestmark = pytest.mark.browser

SOPHIE, AMINA, KIM = "sophie.pa@example.org", "amina@example.org", "kim@brightpath.example"
MONEY = re.compile(r"£([\d,]+\.\d\d)")


@pytest.fixture
def live_server(fresh_live_server):
    """Each journey here changes the demo's data, so each gets a server and database of its own."""
    return fresh_live_server


# Helpers ------------------------------------------------------------------------------------------


def _pence(text: str) -> int:
    match = MONEY.search(text)
    assert match, f"no amount in {text!r}"
    return int(match.group(1).replace(",", "").replace(".", ""))


def _pounds(pence: int) -> str:
    return f"£{pence // 100:,}.{pence % 100:02d}"


def _status(page):
    return page.locator(".govuk-summary-list .govuk-tag").first


def _gross(page) -> int:
    return _pence(page.locator("[data-gross]").inner_text())


def _shift_rows(page):
    return page.locator("[data-shifts] tbody tr").filter(has=page.locator("td:nth-child(2)", has_text=re.compile(r"\d\d:\d\d")))


def _night_row(page, finish: str):
    return _shift_rows(page).filter(has_text="22:00").filter(has_text=f"{finish} (next day)")


def _shift_form(page):
    return page.locator("form").filter(has=page.get_by_role("button", name="Add shift"))


def _period_days(page) -> list[date]:
    values = _shift_form(page).get_by_role("combobox", name="Day").locator("option").evaluate_all("os => os.map(o => o.value)")
    return [date.fromisoformat(v) for v in values if v]


def _night_shift_day(page) -> date:
    """The latest day of the period before today (the shift has happened); today if the period starts today."""
    days = _period_days(page)
    today = london_today()
    return max((d for d in days if d < today), default=min(days))


def _fill_shift(page, day: date, start: str, finish: str, *, next_day=False, break_minutes="0", kind="Day"):
    form = _shift_form(page)
    form.get_by_role("combobox", name="Day").select_option(day.isoformat())
    form.get_by_label("Start time").fill(start)
    form.get_by_label("Finish time").fill(finish)
    form.get_by_label("The shift finished the next day (after midnight)").set_checked(next_day)
    form.get_by_label("Unpaid break, in minutes").fill(break_minutes)
    form.get_by_role("group", name="Kind of hours").get_by_label(kind, exact=True).check()


def _add_shift_in_place(journey, day: date, start: str, finish: str, **options):
    """Add a shift with JavaScript: htmx replaces the timesheet's body, the page itself is not reloaded."""
    page = journey.page
    _fill_shift(page, day, start, finish, **options)
    url = page.url
    page.evaluate("window.__samePage = true")
    with page.expect_response(lambda r: r.url.endswith("/shifts") and r.request.headers.get("hx-request") == "true") as info:
        page.get_by_role("button", name="Add shift").click()
    assert info.value.status == 200
    expect(page.locator("#timesheet-body [role=alert]")).to_contain_text(f"Shift added: {day:%A} {day.day} {day:%B}, {start} to {finish}.")
    assert page.evaluate("window.__samePage === true"), "the page was reloaded: htmx did not swap the timesheet in place"
    assert page.url == url
    journey.check()


def _open_this_periods_timesheet(journey):
    page = journey.page
    journey.click(page.get_by_role("navigation", name="Menu").get_by_role("link", name="Timesheets"))
    expect(h1(page)).to_have_text("Your timesheets")
    card = page.locator(".govuk-summary-card").filter(has=page.get_by_role("heading", name="Amina Patel"))
    journey.click(card.get_by_role("link", name=re.compile(r"^Open this period's timesheet")))
    expect(h1(page)).to_have_text(re.compile(r"^Timesheet for "))


def _amina_opens_sophies_timesheet(journey):
    page = journey.page
    journey.sign_in(AMINA)
    journey.click(page.get_by_role("main").get_by_role("link", name="Timesheets", exact=True))
    expect(h1(page)).to_have_text("Timesheets")
    table = page.locator("table").filter(has=page.locator("caption", has_text="Waiting for your approval"))
    expect(table.locator("caption")).to_have_text("Waiting for your approval (1)")
    row = table.locator("tbody tr").filter(has_text="Sophie Clarke")
    journey.click(row.get_by_role("link", name=re.compile(r"^Open")))
    expect(page.get_by_role("main")).to_contain_text("Sophie Clarke, working for Amina Patel")


def _submit(journey):
    page = journey.page
    journey.click(page.get_by_role("button", name="Submit timesheet"))
    expect(page.get_by_text("Timesheet submitted.")).to_be_visible()
    expect(_status(page)).to_have_text("Waiting for approval")
    expect(page.get_by_role("button", name="Add shift")).to_have_count(0)


def _approve(journey, pence: int, hours: str):
    page = journey.page
    section = page.locator("#timesheet-body")
    # The totals are restated just above the button, so Amina knows what she is approving.
    expect(section.get_by_role("heading", name="Approve this timesheet")).to_be_visible()
    expect(section).to_contain_text(f"Sophie Clarke worked {hours}: {_pounds(pence)} before tax and deductions.")
    journey.click(page.get_by_role("button", name="Approve timesheet"))
    expect(page.get_by_text("Timesheet approved.")).to_be_visible()
    expect(_status(page)).to_have_text("Approved")
    assert _gross(page) == pence


def _hours_text(page) -> str:
    """The worked time on the totals' last row, as the page words it ("29 hours 30 minutes")."""
    return page.locator("[data-totals] tbody tr").last.locator("td").first.inner_text().strip()


# (1) The journey in the issue ----------------------------------------------------------------------


def test_sophies_night_shift_is_sent_back_corrected_approved_and_reaches_payroll(journey, tmp_path):
    page = journey.page

    # Sophie opens this period's timesheet (the demo has her day shifts so far) and adds a night
    # shift from 22:00 to 06:00 the next morning.
    journey.sign_in(SOPHIE)
    _open_this_periods_timesheet(journey)
    timesheet_url = page.url
    expect(_status(page)).to_have_text("Not submitted")
    before = _gross(page)
    shifts_before = _shift_rows(page).count()
    night = _night_shift_day(page)
    _add_shift_in_place(journey, night, "22:00", "06:00", next_day=True, kind="Night")
    row = _night_row(page, "06:00")
    expect(row).to_have_count(1)
    expect(row).to_contain_text(f"{night:%A} {night.day} {night:%B}")
    expect(row).to_contain_text("Night")
    expect(row).to_contain_text("8 hours")
    expect(_shift_rows(page)).to_have_count(shifts_before + 1)
    # Eight night hours at Sophie's night rate of £15.00.
    assert _gross(page) == before + 8 * 1500
    expect(page.locator("[data-totals]")).to_contain_text("Night")
    _submit(journey)
    journey.sign_out()

    # Amina finds it waiting for her approval and sends it back.
    _amina_opens_sophies_timesheet(journey)
    assert page.url == timesheet_url
    expect(page.get_by_role("button", name="Add shift")).to_have_count(0)
    journey.click(page.get_by_role("link", name="Send it back to change"))
    expect(h1(page)).to_have_text("Send the timesheet back")
    reason = f"The night shift on {night:%A} {night.day} {night:%B} finished at 07:00, not 06:00."
    page.get_by_label("What needs to change?").fill(reason)
    journey.click(page.get_by_role("button", name="Send back"))
    expect(page.get_by_text("Timesheet sent back.")).to_be_visible()
    expect(_status(page)).to_have_text("Sent back")
    journey.sign_out()

    # Sophie reads why, puts the shift right (remove it, add it again finishing at 07:00) and resubmits.
    journey.sign_in(SOPHIE)
    _open_this_periods_timesheet(journey)
    expect(page.locator("[data-sent-back]")).to_contain_text("Sent back by Amina Patel")
    expect(page.locator("[data-sent-back]")).to_contain_text(reason)
    journey.click(_night_row(page, "06:00").get_by_role("button", name=re.compile(r"^Remove")))
    expect(page.get_by_text("Shift removed.")).to_be_visible()
    expect(_night_row(page, "06:00")).to_have_count(0)
    assert _gross(page) == before
    _add_shift_in_place(journey, night, "22:00", "07:00", next_day=True, kind="Night")
    expect(_night_row(page, "07:00")).to_contain_text("9 hours")
    sent_back_fixed = before + 9 * 1500
    assert _gross(page) == sent_back_fixed
    _submit(journey)
    journey.sign_out()

    # Amina approves it, with the totals restated above the button.
    _amina_opens_sophies_timesheet(journey)
    expect(page.locator("[data-sent-back]")).to_have_count(0)
    _approve(journey, sent_back_fixed, _hours_text(page))
    expect(page.get_by_role("link", name="Send it back to change")).to_have_count(0)
    journey.sign_out()

    # Sophie corrects the approved timesheet: the night shift had a 30-minute unpaid break.
    journey.sign_in(SOPHIE)
    _open_this_periods_timesheet(journey)
    expect(_status(page)).to_have_text("Approved")
    expect(page.get_by_role("button", name="Add shift")).to_have_count(0)
    journey.click(page.get_by_role("button", name="Correct this timesheet"))
    expect(h1(page)).to_have_text(re.compile(r"\(correction\)$"))
    expect(page.get_by_text("This is a correction of the approved timesheet.")).to_be_visible()
    assert page.url != timesheet_url
    journey.click(_night_row(page, "07:00").get_by_role("button", name=re.compile(r"^Remove")))
    _add_shift_in_place(journey, night, "22:00", "07:00", next_day=True, break_minutes="30", kind="Night")
    expect(_night_row(page, "07:00")).to_contain_text("30 min")
    expect(_night_row(page, "07:00")).to_contain_text("8 hours 30 minutes")
    corrected = before + 17 * 750  # 8.5 hours at £15.00
    assert _gross(page) == corrected
    _submit(journey)
    journey.sign_out()

    # Amina approves the correction, seeing what it changes.
    _amina_opens_sophies_timesheet(journey)
    expect(h1(page)).to_have_text(re.compile(r"\(correction\)$"))
    changes = page.locator("[data-changes]")
    expect(changes).to_be_visible()
    expect(changes).to_contain_text("22:00")
    expect(changes).to_contain_text("30 min")
    _approve(journey, corrected, _hours_text(page))
    journey.sign_out()

    # Kim (Brightpath payroll) sees it on this period's page and in the CSV export.
    journey.sign_in(KIM, staff=True)
    probe = page.request.get(journey.server.url("/payroll/timesheets"))
    if probe.status == 404:
        pytest.skip("the DPSS payroll page /payroll/timesheets (payroll.this_period) is not in this build yet")
    journey.click(page.get_by_role("navigation", name="Menu").get_by_role("link", name="Payroll"))
    expect(h1(page)).to_have_text("Timesheets this period")
    row = page.locator("[data-timesheets] tbody tr").filter(has_text="Sophie Clarke").filter(has_text="Amina Patel")
    expect(row).to_have_count(1)
    expect(row).to_have_attribute("data-status", "approved")
    expect(row).to_contain_text("A correction")
    period = re.search(r"(\d{1,2} \w+ \d{4}) to (\d{1,2} \w+ \d{4})", row.locator("td").nth(2).inner_text())
    assert period, row.inner_text()
    first, last = (datetime.strptime(text, "%d %B %Y").date() for text in period.groups())
    assert first <= night <= last

    # The export lists approved timesheets whose period ends between two dates: this period's end.
    page.get_by_label("Periods ending from").fill(f"{first.day}/{first.month}/{first.year}")
    page.get_by_label("to", exact=True).fill(f"{last.day}/{last.month}/{last.year}")
    with page.expect_download() as download_info:
        page.get_by_role("button", name="Download CSV").click()
    saved = tmp_path / "approved-timesheets.csv"
    download_info.value.save_as(saved)
    rows = list(csv.DictReader(io.StringIO(saved.read_text(encoding="utf-8-sig"))))
    sophies = [r for r in rows if r["PA"] == "Sophie Clarke" and r["Employer"] == "Amina Patel"]
    assert len(sophies) == 1, rows
    line = sophies[0]
    assert (line["Period start"], line["Period end"]) == (first.isoformat(), last.isoformat())
    assert line["Gross pay"] == f"{corrected / 100:.2f}", line
    assert line["Night hours"] == "8.50", line
    assert line["Approved by"] == "Amina Patel", line
    journey.sign_out()


# (2) Adding a shift without JavaScript --------------------------------------------------------------


def test_adding_a_shift_works_without_javascript(journey_without_js):
    journey = journey_without_js
    page = journey.page
    journey.sign_in(SOPHIE)
    _open_this_periods_timesheet(journey)
    timesheet_url = page.url
    before, shifts_before = _gross(page), _shift_rows(page).count()
    day = _night_shift_day(page)

    _fill_shift(page, day, "22:00", "06:00", next_day=True, kind="Night")
    with page.expect_response(lambda r: r.url.endswith("/shifts") and r.request.method == "POST") as info:
        journey.click(page.get_by_role("button", name="Add shift"))
    # Post, redirect, get: the form posts the whole page and is sent back to the timesheet.
    assert info.value.status in (302, 303), info.value.status
    assert page.url == timesheet_url
    expect(page.get_by_role("alert", name="Success")).to_contain_text(f"Shift added: {day:%A} {day.day} {day:%B}, 22:00 to 06:00.")
    expect(_night_row(page, "06:00")).to_have_count(1)
    expect(_shift_rows(page)).to_have_count(shifts_before + 1)
    assert _gross(page) == before + 8 * 1500

    # Reloading the page does not add the shift again.
    page.reload()
    expect(_shift_rows(page)).to_have_count(shifts_before + 1)
    journey.click(page.get_by_role("button", name="Submit timesheet"))
    expect(page.get_by_text("Timesheet submitted.")).to_be_visible()


# (3) A finish time before the start ---------------------------------------------------------------

FINISH_BEFORE_START = "The finish time must be after the start time"


def _try_a_finish_before_the_start(journey) -> tuple[str, int, int]:
    """Sophie enters 22:00 to 06:00 without ticking the next-day box; returns the timesheet's path and
    its shift rows and gross before."""
    page = journey.page
    journey.sign_in(SOPHIE)
    _open_this_periods_timesheet(journey)
    before = urlsplit(page.url).path, _shift_rows(page).count(), _gross(page)
    _fill_shift(page, _night_shift_day(page), "22:00", "06:00", next_day=False, kind="Night")
    return before


def _expect_the_field_error_and_nothing_added(page, rows_before: int, gross_before: int):
    end_time = _shift_form(page).get_by_label("Finish time")
    expect(end_time).to_have_value("06:00")  # what was typed is kept
    expect(end_time).to_have_class(re.compile(r"govuk-input--error"))
    expect(page.locator("#end_time-error")).to_contain_text(FINISH_BEFORE_START)
    expect(end_time).to_have_attribute("aria-describedby", re.compile(r"end_time-error"))
    expect(_shift_rows(page)).to_have_count(rows_before)
    assert _gross(page) == gross_before


def _expect_the_error_summary(page):
    expect(page).to_have_title(re.compile(r"^Error: "))
    summary = page.locator(".govuk-error-summary")
    expect(summary).to_be_visible()
    expect(summary.get_by_role("heading", name="There is a problem")).to_be_visible()
    expect(summary.get_by_role("link", name=re.compile(FINISH_BEFORE_START))).to_have_attribute("href", "#end_time")
    return summary


def test_a_finish_before_the_start_without_javascript_shows_the_error_summary_and_adds_nothing(journey_without_js):
    journey = journey_without_js
    page = journey.page
    path, rows_before, gross_before = _try_a_finish_before_the_start(journey)
    journey.click(page.get_by_role("button", name="Add shift"))
    _expect_the_error_summary(page)
    _expect_the_field_error_and_nothing_added(page, rows_before, gross_before)
    # Nothing was saved: a fresh look at the page has the same shifts.
    journey.goto(path)
    expect(_shift_rows(page)).to_have_count(rows_before)
    assert _gross(page) == gross_before


def test_a_finish_before_the_start_with_javascript_shows_the_field_error_in_place_and_adds_nothing(journey):
    page = journey.page
    path, rows_before, gross_before = _try_a_finish_before_the_start(journey)
    with page.expect_response(lambda r: r.url.endswith("/shifts") and r.request.headers.get("hx-request") == "true"):
        page.get_by_role("button", name="Add shift").click()
    expect(page.locator("#end_time-error")).to_be_visible()
    journey.check()
    _expect_the_field_error_and_nothing_added(page, rows_before, gross_before)
    journey.goto(path)
    expect(_shift_rows(page)).to_have_count(rows_before)
    assert _gross(page) == gross_before


def test_a_finish_before_the_start_with_javascript_also_shows_the_error_summary(journey):
    page = journey.page
    _try_a_finish_before_the_start(journey)
    with page.expect_response(lambda r: r.url.endswith("/shifts") and r.request.headers.get("hx-request") == "true"):
        page.get_by_role("button", name="Add shift").click()
    expect(page.locator("#end_time-error")).to_be_visible()
    summary = _expect_the_error_summary(page)
    expect(summary).to_be_focused()  # GOV.UK Frontend moves focus to the summary
    summary.get_by_role("link", name=re.compile(FINISH_BEFORE_START)).click()
    expect(_shift_form(page).get_by_label("Finish time")).to_be_focused()
