"""Storage faults (issue 8) on every upload field: the evidence folder full or read-only, or the database
failing after the file was written.

Each field is reached the way tests/test_hostile_uploads.py reaches it (its real view, signed in as the
person who uses it, the CSRF token taken from the page). tests/test_storage_faults.py has the receipt
and manual spending pages in detail; here every field gets the same three checks:

- the folder cannot take the file (a full disk: ENOSPC from the write; a read-only folder: a real chmod
  for an ordinary user, EROFS from the file creation when the tests run as root): the form comes back,
  status 200, with the message beside the file field and in the error summary, the other answers kept,
  no row, no file, no temporary file, nothing anywhere else; and once the fault clears, the same form
  posted again is stored;
- the file was written but the database commit then fails: the file is removed again (no orphan left
  for flask remove-orphan-files to find), and no row.
"""

import errno
import io
import re
from pathlib import Path

import pytest
import sqlalchemy as sa
from bs4 import BeautifulSoup
from sqlalchemy.exc import OperationalError

from portal.extensions import db
from portal.models import TimesheetDocument
from portal.services import notifications
from portal.storage import NAME, Storage
from portal.web.uploads import STORAGE_DOWN_MESSAGE
from tests import test_hostile_uploads
from tests.conftest import check_page, csrf_token
from tests.test_hostile_uploads import FIELDS, Target, _everything_under, _files, _state, plain_png
from tests.test_storage_faults import _full_disk, _read_only

folder, money, target = test_hostile_uploads.folder, test_hostile_uploads.money, test_hostile_uploads.target  # its fixtures

# One of the other answers on each form, which must be shown again as typed (the photo and receipt forms have none).
KEPT = {
    "receipt": None,
    "manual spending": ("payee", "Northfield Community Transport"),
    "paper timesheet": ("day_hours", "28"),
    "timesheet expense claim": ("description", "Bus fares to the shops"),
    "register photo": None,
    "register check document": ("detail", "Level 2, Northfield College"),
    "managed-account invoice": ("invoice_number", "NDC-9"),
}


def _post(t: Target, fields: dict, data: bytes, filename: str = "scan.png"):
    page = t.client.get(t.page_url or t.url)
    assert page.status_code == 200, f"{t.page_url or t.url}: {page.status_code}"
    return t.client.post(t.url, data={"csrf_token": csrf_token(page.text), **fields, t.field: (io.BytesIO(data), filename)},
                         content_type="multipart/form-data")


def _shown_value(soup: BeautifulSoup, name: str) -> str:
    found = soup.find(["input", "textarea"], attrs={"name": name})
    assert found is not None, f"no answer called {name} on the page"
    return found.get_text() if found.name == "textarea" else found.get("value", "")


def _everything(app, t: Target, store: Path, tmp_path: Path) -> tuple:
    return _files(store), _state(app, t), _everything_under(tmp_path)


@pytest.mark.parametrize("fault", ["full disk", "read-only folder"])
@pytest.mark.parametrize("field", list(FIELDS))
def test_a_file_the_folder_cannot_take_is_refused_clearly_nothing_is_stored_and_it_goes_through_later(
        target, tmp_path, monkeypatch, field, fault):
    app, store, t = target
    store.mkdir(parents=True, exist_ok=True)
    fields = t.fields()  # the same answers both times (the invoice's request key too)
    before = _everything(app, t, store, tmp_path)

    if fault == "full disk":
        _full_disk(monkeypatch)
    else:
        _read_only(monkeypatch, store)
    try:
        response = _post(t, fields, plain_png())
    finally:
        store.chmod(0o700)
        monkeypatch.undo()

    assert response.status_code == 200, f"expected the form again, got {response.status_code}"
    assert "Traceback" not in response.text
    soup = BeautifulSoup(response.text, "html.parser")
    check_page(soup, t.url)
    assert soup.title.string.strip().startswith("Error: ")
    assert [a.get_text(strip=True) for a in soup.select(".govuk-error-summary__list a")] == [STORAGE_DOWN_MESSAGE]
    beside = soup.find("input", {"type": "file", "name": t.field}).find_parent(class_="govuk-form-group")
    assert STORAGE_DOWN_MESSAGE in beside.select_one(".govuk-error-message").get_text()
    if KEPT[field]:
        name, typed = KEPT[field]
        assert _shown_value(soup, name) == typed, "the other answers are kept"
    assert _everything(app, t, store, tmp_path) == before, "no row, no file, no temporary file, nothing elsewhere"

    # The fault has cleared: the same form goes through.
    again = _post(t, fields, plain_png())
    assert again.status_code == 302, f"{field}: {again.status_code}"
    added = _files(store) - before[0]
    assert len(added) == 1 and NAME.match(added.pop())
    assert not any(name.startswith(".") for name in _files(store)), "no temporary file left"
    rows, _ = _state(app, t)
    assert rows != before[1][0]


@pytest.mark.parametrize("field", list(FIELDS))
def test_a_file_saved_when_the_database_then_fails_is_removed_again(target, tmp_path, monkeypatch, field):
    app, store, t = target
    store.mkdir(parents=True, exist_ok=True)
    before = _everything(app, t, store, tmp_path)
    saved: list[str] = []
    real_save, real_commit = Storage.save, sa.orm.Session.commit

    def save(self, data, extension):
        name = real_save(self, data, extension)
        saved.append(name)
        return name

    def commit(self):
        if saved:  # the file is in the folder: now the database goes away
            raise OperationalError("COMMIT", {}, Exception("disk I/O error"))
        return real_commit(self)

    monkeypatch.setattr(Storage, "save", save)
    monkeypatch.setattr(sa.orm.Session, "commit", commit)
    try:
        response = _post(t, t.fields(), plain_png())
    except OperationalError:
        pass  # what the test client passes on; a running portal shows its error page
    else:
        assert response.status_code >= 500, response.status_code
    finally:
        monkeypatch.undo()
    assert len(saved) == 1, "the file was written before the commit failed"
    assert not (store / saved[0]).exists(), "and removed again when it failed"
    assert _everything(app, t, store, tmp_path) == before, "no row, no file"


def test_every_view_that_stores_an_upload_catches_the_folder_failing():
    """A new upload view that calls the storage without the shared handling would give the 500 page."""
    root = Path(__file__).resolve().parent.parent / "portal" / "web"
    readers = sorted(p for p in root.rglob("views.py") if re.search(r"\.stream\.read\(", p.read_text()))
    assert readers, "the upload views are found"
    for path in readers:
        source = path.read_text()
        assert "except OSError" in source and "storage_failed(" in source, path


def test_the_storage_failure_is_logged_with_its_reason_and_said_once(app, monkeypatch):
    from portal.web.evidence.forms import ReceiptForm
    from portal.web.uploads import storage_failed

    logged: list[str] = []
    monkeypatch.setattr(app.logger, "error", lambda message, *args: logged.append(message % args))
    with app.test_request_context(method="POST"):
        form = ReceiptForm()
        form.validate()
        storage_failed(form.receipt, OSError(errno.ENOSPC, "No space left on device"))
        assert form.receipt.errors[-1] == STORAGE_DOWN_MESSAGE
        storage_failed(form.receipt, OSError(errno.EROFS, "Read-only file system"))
        assert form.receipt.errors.count(STORAGE_DOWN_MESSAGE) == 1, "said once"
    assert len(logged) == 2
    assert "ENOSPC" in logged[0] and "No space left on device" in logged[0]
    assert "EROFS" in logged[1] and "Read-only file system" in logged[1]


@pytest.mark.parametrize("field", ["paper timesheet"])
def test_a_mail_failure_after_the_paper_timesheet_is_committed_keeps_its_scan(target, monkeypatch, field):
    """The emails go after the commit: a mail server that is down must not delete the file a saved row names."""
    app, store, t = target

    def mail_down(config, limit=500):
        raise ConnectionRefusedError(errno.ECONNREFUSED, "Connection refused")

    monkeypatch.setattr(notifications, "deliver_pending", mail_down)
    with pytest.raises(ConnectionRefusedError):
        _post(t, t.fields(), plain_png())
    with app.app_context():
        named = set(db.session.scalars(sa.select(TimesheetDocument.storage_name)))
    stored = _files(store)
    assert stored and stored <= named, "the scan is kept and named by its row"


@pytest.mark.parametrize("field", ["register photo"])
def test_an_old_photo_that_cannot_be_removed_after_the_new_one_is_saved_is_left_as_an_orphan(target, monkeypatch, field):
    """The new photo is committed first; if the old file cannot be deleted then, the upload still succeeded
    (no storage message) and the old file is an orphan that flask remove-orphan-files finds."""
    app, store, t = target
    assert _post(t, t.fields(), plain_png()).status_code == 302
    with app.app_context():
        (first,) = t.rows()

    def cannot_delete(self, name):
        raise PermissionError(errno.EACCES, "Permission denied")

    monkeypatch.setattr(Storage, "delete", cannot_delete)
    assert _post(t, t.fields(), plain_png()).status_code == 302
    monkeypatch.undo()
    with app.app_context():
        (second,) = t.rows()
        named = set(db.session.scalars(sa.select(test_hostile_uploads.PAProfile.photo_name)
                                       .where(test_hostile_uploads.PAProfile.photo_name.is_not(None))))
    assert second != first and (store / second).exists()
    assert [p.name for p in Storage(store).orphans(named)] == [first]
