"""Virus scanning of uploads with ClamAV (issue 8): the real daemon, EICAR, and failing closed.

These tests always use a real clamd. Under `make test` it is the one the Makefile started
(CLAMD_SOCKET); otherwise each test worker starts its own with .ci/clamd.sh and the project's
signatures. Where clamd is not installed these tests fail (they never skip): scanning is not optional.
"""

import hashlib
import os
import re
import socket
import subprocess
import sys
import threading
from pathlib import Path

import pytest
import sqlalchemy as sa

from portal.extensions import db
from portal.models import AuditEvent
from portal.services import evidence, virus_scan
from portal.services.evidence import UploadRefused
from portal.services.virus_scan import ClamdScanner, Clean, Infected, ScannerUnavailable
from tests.test_evidence import counts, entry_state, error_messages, files_in, good_pdf, receipt_url, signed_in, upload
from tests.test_evidence import folder, money  # noqa: F401 - fixtures: EVIDENCE_FOLDER and Amina's spending

ROOT = Path(__file__).resolve().parent.parent
CLAMD_SH = ROOT / ".ci" / "clamd.sh"
# The EICAR anti-virus test file (68 bytes), put together here so this source file is not itself "infected".
EICAR = b"X5O!P%@AP[4\\PZX54(P^)7CC)7}$" + b"EICAR-STANDARD-ANTIVIRUS-TEST-FILE!" + b"$H+H*"


def eicar_in_a_pdf() -> bytes:
    """A PDF that passes every other upload rule, carrying the EICAR string in a comment."""
    pdf = good_pdf()
    return pdf.replace(b"\n", b"\n%" + EICAR + b"\n", 1)


def start_clamd(where: Path) -> str:
    subprocess.run(["bash", str(CLAMD_SH), "start", str(where)], check=True, capture_output=True, timeout=60)
    return str(where / "clamd.sock")


def stop_clamd(where: Path) -> None:
    subprocess.run(["bash", str(CLAMD_SH), "stop", str(where)], check=True, capture_output=True, timeout=60)


@pytest.fixture(scope="session")
def clamd_socket(tmp_path_factory):
    """The socket of a running clamd: make's, or one started for this worker."""
    if os.environ.get("VIRUS_SCANNER") == "clamd" and os.environ.get("CLAMD_SOCKET"):
        yield os.environ["CLAMD_SOCKET"]
        return
    where = tmp_path_factory.mktemp("clamd")
    try:
        yield start_clamd(where)
    finally:
        stop_clamd(where)


@pytest.fixture
def scanning(app, clamd_socket):
    app.config.update(VIRUS_SCANNER="clamd", CLAMD_SOCKET=clamd_socket)
    return clamd_socket


def virus_audits(app) -> list[AuditEvent]:
    with app.app_context():
        return list(db.session.scalars(sa.select(AuditEvent).where(AuditEvent.action == "upload.virus_found")))


# The scanner on its own -----------------------------------------------------------------------


def test_the_shipped_signatures_name_the_eicar_file():
    """The .hdb line is the EICAR file's MD5 and size, worked out here independently of clamd."""
    signatures = ROOT / "scanning" / "signatures"
    hdb = (signatures / "portal-eicar.hdb").read_text().split(":")
    assert len(EICAR) == 68
    assert hdb[:2] == [hashlib.md5(EICAR).hexdigest(), "68"]  # noqa: S324 - ClamAV's own signature format
    assert EICAR.hex() in (signatures / "portal-eicar.ndb").read_text()


def test_the_real_daemon_finds_eicar_and_passes_a_clean_file(clamd_socket):
    scanner = ClamdScanner(clamd_socket, timeout=10)
    assert scanner.ping()
    found = scanner.scan(EICAR)
    assert isinstance(found, Infected) and "EICAR" in found.name
    assert isinstance(scanner.scan(eicar_in_a_pdf()), Infected)
    assert scanner.scan(good_pdf()) == Clean()
    # Several chunks (64KB each) arrive as one stream: EICAR after 200KB of padding is still found.
    assert isinstance(scanner.scan(b"%PDF-1.4\n" + b"0" * 200_000 + EICAR), Infected)
    assert scanner.scan(b"%PDF-1.4\n" + b"0" * 200_000) == Clean()


@pytest.mark.parametrize(("reply", "result"), [
    ("stream: OK", Clean()),
    ("stream: Win.Test.EICAR_HDB-1 FOUND", Infected("Win.Test.EICAR_HDB-1")),
])
def test_clamd_replies_that_say_something(reply, result):
    assert virus_scan.parse_reply(reply) == result


@pytest.mark.parametrize("reply", [
    "INSTREAM size limit exceeded. ERROR",
    "stream: Can't allocate memory ERROR",
    "stream:  FOUND",
    "",
    "PONG",
])
def test_any_other_reply_means_the_file_was_not_checked(reply):
    with pytest.raises(ScannerUnavailable):
        virus_scan.parse_reply(reply)


def test_no_daemon_on_the_socket_is_unavailable(tmp_path):
    with pytest.raises(ScannerUnavailable):
        ClamdScanner(str(tmp_path / "nothing.sock"), timeout=2).scan(good_pdf())
    assert not ClamdScanner(str(tmp_path / "nothing.sock")).ping()


def test_a_daemon_that_never_answers_times_out_as_unavailable(tmp_path):
    path = str(tmp_path / "silent.sock")
    server = socket.socket(socket.AF_UNIX)
    server.bind(path)
    server.listen(1)
    accepted = []
    thread = threading.Thread(target=lambda: accepted.append(server.accept()), daemon=True)
    thread.start()
    try:
        with pytest.raises(ScannerUnavailable):
            ClamdScanner(path, timeout=0.5).scan(good_pdf())
    finally:
        thread.join(2)
        for conn, _ in accepted:
            conn.close()
        server.close()


def test_the_scanner_is_chosen_by_configuration(tmp_path):
    assert isinstance(virus_scan.scanner_from_config({"VIRUS_SCANNER": "none"}), virus_scan.NoScanner)
    chosen = virus_scan.scanner_from_config({"VIRUS_SCANNER": "clamd", "CLAMD_SOCKET": "/x.sock", "CLAMD_TIMEOUT": 3})
    assert isinstance(chosen, ClamdScanner) and (chosen.socket_path, chosen.timeout) == ("/x.sock", 3.0)
    # Another scanner, named by module and factory, given the configuration.
    other = virus_scan.scanner_from_config({"VIRUS_SCANNER": "tests.test_virus_scan:_always_infected", "NAME": "X"})
    assert other.scan(b"anything") == Infected("X")
    with pytest.raises(RuntimeError):
        virus_scan.scanner_from_config({"VIRUS_SCANNER": "clam"})


class _Fixed:
    def __init__(self, result):
        self.result = result

    def scan(self, data):
        if isinstance(self.result, Exception):
            raise self.result
        return self.result


def _always_infected(config):
    return _Fixed(Infected(config["NAME"]))


def test_production_scans_with_clamd_unless_told_otherwise():
    env = {k: v for k, v in os.environ.items() if k not in ("VIRUS_SCANNER", "CLAMD_SOCKET")}
    code = "from portal.config import CONFIGS as c; print(c['production'].VIRUS_SCANNER, c['development'].VIRUS_SCANNER)"
    shown = subprocess.run([sys.executable, "-c", code], env=env, cwd=ROOT, capture_output=True, text=True, check=True)
    assert shown.stdout.split() == ["clamd", "none"]


@pytest.mark.parametrize(("result", "message"), [
    (ScannerUnavailable("down"), evidence.SCANNER_DOWN_MESSAGE),
    (OSError("a scanner that breaks in its own way"), evidence.SCANNER_DOWN_MESSAGE),
    ("not an answer", evidence.SCANNER_DOWN_MESSAGE),
    (Infected("Some.Virus"), evidence.VIRUS_MESSAGE),
])
def test_the_upload_check_refuses_what_the_scanner_does_not_pass(app, result, message):
    app.config["VIRUS_SCANNER"] = _Fixed(result)
    with app.app_context(), pytest.raises(UploadRefused) as refused:
        evidence.check_and_clean(good_pdf(), "receipt.pdf")
    assert refused.value.message == message


def test_the_scan_comes_before_the_other_checks(app, scanning):
    """EICAR is not a PDF, JPG or PNG either: the scanner still sees it, and its message is the one shown."""
    with app.app_context(), pytest.raises(UploadRefused) as refused:
        evidence.check_and_clean(EICAR, "receipt.pdf")
    assert refused.value.message == "The selected file contains a virus"


# Through the real upload page ----------------------------------------------------------------


@pytest.mark.parametrize("make", [lambda: EICAR, eicar_in_a_pdf], ids=["the EICAR file", "EICAR inside a good PDF"])
def test_eicar_through_the_real_daemon_is_refused_nothing_stored_and_audited(app, money, folder, scanning, make):  # noqa: F811 - fixtures
    client = signed_in(app, "amina")
    before_files, before_rows = files_in(folder), counts(app)
    data = make()
    response = upload(client, receipt_url(money), data, filename="receipt.pdf")
    assert response.status_code == 200
    assert error_messages(response.text) == ["The selected file contains a virus"]
    assert files_in(folder) == before_files, "nothing stored"
    assert counts(app) == before_rows
    assert entry_state(app, money.amina_spend) == (0, True)
    [event] = virus_audits(app)
    with app.app_context():
        amina = db.session.scalar(sa.text("SELECT id FROM users WHERE email = 'amina@example.org'"))
    assert event.user_id == amina
    assert "EICAR" in event.outcome
    assert event.record_id == hashlib.sha256(data).hexdigest()[:40]


def test_a_clean_receipt_still_goes_through_the_real_daemon(app, money, folder, scanning):  # noqa: F811 - fixtures
    client = signed_in(app, "amina")
    response = upload(client, receipt_url(money), good_pdf(), filename="receipt.pdf")
    assert response.status_code == 302
    assert len(files_in(folder) - money.stored) == 1
    assert entry_state(app, money.amina_spend) == (1, False)
    assert virus_audits(app) == []


def test_uploads_are_refused_when_the_daemon_stops(app, money, folder, tmp_path_factory):  # noqa: F811 - fixtures
    """A clamd of this test's own: a receipt goes in while it runs; once it is stopped, nothing does."""
    clamd_folder = tmp_path_factory.mktemp("clamd-stopped")
    app.config.update(VIRUS_SCANNER="clamd", CLAMD_SOCKET=start_clamd(clamd_folder), CLAMD_TIMEOUT=5)
    try:
        client = signed_in(app, "amina")
        assert upload(client, receipt_url(money), good_pdf()).status_code == 302
        assert entry_state(app, money.amina_spend) == (1, False)
    finally:
        stop_clamd(clamd_folder)
    before_files, before_rows = files_in(folder), counts(app)
    response = upload(client, receipt_url(money, money.amina_with_receipt), good_pdf())
    assert response.status_code == 200
    assert error_messages(response.text) == ["We could not check this file for viruses. Try again later."]
    assert files_in(folder) == before_files, "nothing stored"
    assert counts(app) == before_rows
    assert virus_audits(app) == [], "a scanner that is down finds no virus"


# Every upload field goes through the one check ------------------------------------------------


def test_every_view_that_reads_an_uploaded_file_checks_it_through_check_and_clean():
    """Upload views read the file's stream; each of them (but the card statement import, which is parsed
    and never stored) hands the bytes to evidence.check_and_clean, where the scan is."""
    readers = set()
    for path in (ROOT / "portal" / "web").rglob("*.py"):
        text = path.read_text()
        if re.search(r"\.stream\.read\(|\.save\(spool", text):
            readers.add(path.relative_to(ROOT).as_posix())
            if "money_admin" not in path.parts:
                assert "evidence.check_and_clean(" in text, f"{path}: reads an upload without the upload check"
    assert {"portal/web/evidence/views.py", "portal/web/timesheets/views.py", "portal/web/register/views.py",
            "portal/web/managed_payments/views.py"} <= readers
