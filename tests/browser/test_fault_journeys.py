"""Browser journeys for what people see when parts of the service fail (issue 8, "Faults").

David adds a receipt for Grace while the uploads folder is full: the same form again with a clear
message and nothing added, then the same file goes in once there is room. Kim's page while the database
cannot be reached: "Sorry, the service is unavailable", and her work queue again when it is back,
still signed in. axe-core checks every page, as on every journey.
"""

import errno
import re
from datetime import date

import pytest
from playwright.sync_api import expect
from sqlalchemy import event

from portal.extensions import db
from portal.services.demo import receipt_pdf
from portal.storage import Storage
from tests.browser.conftest import h1
from tests.test_database_outage import driver_refusal

pytestmark = pytest.mark.browser

FULL = "The file could not be saved just now, so nothing was added. Try again later."


def test_david_adds_a_receipt_while_the_uploads_folder_is_full_then_again_when_there_is_room(
        fresh_journey, tmp_path, monkeypatch):
    page = fresh_journey.page
    fresh_journey.sign_in("david@example.org")
    fresh_journey.click(page.get_by_role("link", name="Grace Okafor"))
    fresh_journey.click(page.get_by_role("link", name="Money", exact=True))
    fresh_journey.click(page.get_by_role("link", name=re.compile(r"receipts? to add")))
    fresh_journey.click(page.get_by_role("link", name=re.compile(r"^Add receipt")).first)
    receipt = tmp_path / "homecare-invoice.pdf"
    receipt.write_bytes(receipt_pdf("HOMECARE PLUS LTD", date.today(), 52000))

    def disk_full(self, data, extension):
        raise OSError(errno.ENOSPC, "No space left on device")

    monkeypatch.setattr(Storage, "save", disk_full)
    page.get_by_label("Upload a receipt or invoice").set_input_files(str(receipt))
    fresh_journey.click(page.get_by_role("button", name="Add receipt"))
    expect(page).to_have_title(re.compile(r"^Error: "))
    summary = page.get_by_role("alert")
    expect(summary).to_contain_text("There is a problem")
    expect(summary.get_by_role("link", name=FULL)).to_be_visible()
    expect(page.locator(".govuk-error-message")).to_contain_text(FULL)
    expect(page.get_by_text("homecare-invoice.pdf")).to_have_count(0)

    monkeypatch.undo()
    page.get_by_label("Upload a receipt or invoice").set_input_files(str(receipt))
    fresh_journey.click(page.get_by_role("button", name="Add receipt"))
    expect(page.get_by_text("homecare-invoice.pdf").first).to_be_visible()
    expect(page.locator(".govuk-error-summary")).to_have_count(0)


def test_kim_sees_a_clear_page_while_the_database_is_out_of_reach_and_carries_on_after(fresh_journey):
    page = fresh_journey.page
    fresh_journey.sign_in("kim@brightpath.example", staff=True)
    fresh_journey.goto("/work")
    expect(h1(page)).to_contain_text("work")

    app = fresh_journey.server.app

    def refuse(*_args, **_kwargs):
        raise driver_refusal()

    with app.app_context():
        event.listen(db.engine, "do_connect", refuse)
        db.engine.dispose()
    try:
        response = page.goto(fresh_journey.server.url("/work"))
        fresh_journey.check()
        assert response.status == 503
        expect(h1(page)).to_have_text("Sorry, the service is unavailable")
        expect(page.get_by_text("You will be able to use the service later.")).to_be_visible()
        expect(page.get_by_text("Traceback")).to_have_count(0)
    finally:
        with app.app_context():
            event.remove(db.engine, "do_connect", refuse)

    fresh_journey.goto("/work")
    expect(h1(page)).to_contain_text("work")
    expect(page.get_by_role("button", name="Sign out")).to_be_visible()
