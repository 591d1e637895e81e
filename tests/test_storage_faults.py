"""Storage faults (issue 8): a full disk and a read-only evidence folder while someone uploads a receipt.

The upload page answers with a clear message on the file field (never a 500), stores no row, and leaves
nothing in the folder: not the file, not its temporary copy. A full disk is simulated as ENOSPC where the
storage writes (os.fsync of the temporary file, so Storage.save's own clean-up is what is tested); a
read-only folder is a real chmod when the tests run as an ordinary user, and EROFS from the file creation
when they run as root (root writes through any permission bits).
"""

import errno
import os
import stat

import pytest

from portal.storage import Storage
from portal.web.uploads import STORAGE_DOWN_MESSAGE
from tests import test_evidence
from tests.test_evidence import counts, error_messages, files_in, good_pdf, receipt_url, signed_in, spending_fields, upload

folder, money = test_evidence.folder, test_evidence.money  # the receipt tests' fixtures


def _full_disk(monkeypatch):
    def fsync(fd):
        raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC))

    monkeypatch.setattr("portal.storage.os.fsync", fsync)


def _read_only(monkeypatch, folder):
    folder.mkdir(parents=True, exist_ok=True)
    folder.chmod(stat.S_IRUSR | stat.S_IXUSR)
    if os.access(folder, os.W_OK):  # root: the bits do not stop it, so the file system says it instead
        def mkstemp(*args, **kwargs):
            raise OSError(errno.EROFS, os.strerror(errno.EROFS))

        monkeypatch.setattr("portal.storage.tempfile.mkstemp", mkstemp)


@pytest.mark.parametrize("fault", ["full disk", "read-only folder"])
@pytest.mark.parametrize("page", ["receipt", "spending"])
def test_an_upload_the_storage_cannot_take_is_refused_clearly_and_nothing_is_stored(app, money, folder, monkeypatch, fault, page):
    client = signed_in(app, "amina")
    folder.mkdir(parents=True, exist_ok=True)
    before_files = files_in(folder)
    before_rows = counts(app)
    if fault == "full disk":
        _full_disk(monkeypatch)
    else:
        _read_only(monkeypatch, folder)
    try:
        if page == "receipt":
            response = upload(client, receipt_url(money), good_pdf())
        else:
            response = upload(client, f"/people/{money.amina}/spending/new", good_pdf(), **spending_fields(money))
    finally:
        folder.chmod(0o700)
    assert response.status_code == 200
    assert error_messages(response.text) == [STORAGE_DOWN_MESSAGE]
    assert "Traceback" not in response.text
    assert counts(app) == before_rows  # no receipt row, no spending entry
    assert files_in(folder) == before_files  # no file and no .upload-*.tmp left behind


def test_once_the_disk_has_room_again_the_same_upload_goes_through(app, money, folder, monkeypatch):
    client = signed_in(app, "amina")
    evidence_rows, entries = counts(app)
    before_files = files_in(folder)
    _full_disk(monkeypatch)
    assert error_messages(upload(client, receipt_url(money), good_pdf()).text) == [STORAGE_DOWN_MESSAGE]
    monkeypatch.undo()
    response = upload(client, receipt_url(money), good_pdf())
    assert response.status_code == 302
    assert counts(app) == (evidence_rows + 1, entries)
    added = files_in(folder) - before_files
    assert len(added) == 1 and not any(name.startswith(".") for name in files_in(folder))


def test_storage_save_removes_its_temporary_file_when_the_write_fails(tmp_path, monkeypatch):
    storage = Storage(tmp_path / "evidence")
    _full_disk(monkeypatch)
    with pytest.raises(OSError) as raised:
        storage.save(b"%PDF-1.4 receipt", "pdf")
    assert raised.value.errno == errno.ENOSPC
    assert list((tmp_path / "evidence").iterdir()) == []


def test_orphans_are_the_files_no_row_names_and_temporary_files_and_only_old_ones_are_removed(tmp_path):
    storage = Storage(tmp_path / "evidence")
    kept = storage.save(b"%PDF-1.4 named by a row", "pdf")
    orphan = storage.save(b"%PDF-1.4 saved, rows never committed", "pdf")
    temporary = storage.folder / ".upload-abc123.tmp"
    temporary.write_bytes(b"half")
    stranger = storage.folder / "notes.txt"  # not a name the storage makes: never touched
    stranger.write_text("someone else's")
    assert [p.name for p in storage.orphans({kept})] == sorted([orphan, temporary.name])
    # Files newer than older_than may belong to an upload whose rows are being written: left alone.
    assert storage.remove_orphans({kept}, older_than=3600) == 0
    assert storage.remove_orphans({kept}, older_than=0) == 2
    assert sorted(p.name for p in storage.folder.iterdir()) == sorted([kept, "notes.txt"])


def test_the_orphan_file_command_removes_only_old_files_no_row_names(databases, tmp_path):
    """flask remove-orphan-files: what a killed upload leaves (a stored file with no row, a temporary
    file) goes; a file a row names, and anything younger than --older-than, stays."""
    import os
    import time

    from portal.services import backups
    from tests.conftest import _close_app, _make_app

    app, url = _make_app(databases, "money", EVIDENCE_FOLDER=str(tmp_path))
    try:
        with app.app_context():
            named = sorted(backups.named_files())
        assert named, "the money demo names its receipts"
        kept = tmp_path / named[0]
        orphan = tmp_path / ("ab" * 32 + "-0123456789abcdef.pdf")
        temporary = tmp_path / ".upload-x1.tmp"
        young = tmp_path / ("cd" * 32 + "-0123456789abcdef.png")
        for path in (kept, orphan, temporary, young):
            path.write_bytes(b"x")
        old = time.time() - 7200
        for path in (kept, orphan, temporary):
            os.utime(path, (old, old))
        runner = app.test_cli_runner()
        dry = runner.invoke(args=["remove-orphan-files", "--dry-run"])
        assert dry.exit_code == 0 and "2 orphan files (dry run)" in dry.output and orphan.exists()
        done = runner.invoke(args=["remove-orphan-files"])
        assert done.exit_code == 0 and "2 orphan files removed" in done.output, done.output
        assert kept.exists() and young.exists() and not orphan.exists() and not temporary.exists()
    finally:
        _close_app(databases, app, url)
