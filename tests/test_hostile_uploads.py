"""A corpus of hostile uploads against every upload field in the portal (issue 8, "Hostile input").

Every field that takes a file is posted to through its real view, signed in as the person who uses it,
with the CSRF token from the page: receipts, manual spending, paper timesheets, timesheet expense claims,
the register photo, the register check document and managed-account invoices. For each field and each
file, either the file is refused with its message beside the field and in the error summary, and nothing
is stored (no row, no file in the evidence folder, nothing anywhere else), or, for files whose only harm
is removed by cleaning (a GPS-tagged photo, a JPEG that is also JavaScript, a hostile *name* on an honest
file), it is stored cleaned: no location, no script, a generated storage name and a safe display name.

tests/test_evidence.py already sends its HOSTILE list through the receipt page, so the receipt field
here gets only the files that list does not have. The files are built here from bytes.
"""

import functools
import io
import os
import re
import struct
import zipfile
import zlib
from dataclasses import dataclass
from datetime import timedelta
from pathlib import Path
from typing import Callable

import pikepdf
import pytest
import sqlalchemy as sa
from bs4 import BeautifulSoup
from PIL import ExifTags, Image

from portal.extensions import db
from portal.models import (
    Employment,
    Evidence,
    LedgerEntry,
    ManagedPayment,
    Timesheet,
    TimesheetClaim,
    TimesheetDocument,
    TimesheetStatus,
    User,
)
from portal.models.register import PAProfile, ProfileCheck
from portal.services import evidence, timesheets
from portal.services.clock import london_today
from tests.conftest import check_page, csrf_token, sign_in
from tests.helpers import person_id
from tests.test_evidence import (
    HTML,
    STORED_NAME,
    _blank_pdf,
    _pdf_bytes,
    good_pdf,
    html_first_then_pdf,
    jpeg_with_gps,
    pdf_then_html,
    pdf_with_a_launch_action,
    pdf_with_an_embedded_file,
    pdf_with_open_action_javascript,
    png_bomb_header,
    png_bomb_real,
    spending_fields,
)
from tests.test_evidence import folder, money  # noqa: F401 - fixtures: EVIDENCE_FOLDER and Amina's spending
from tests.test_virus_scan import EICAR, clamd_socket, eicar_in_a_pdf  # noqa: F401 - clamd_socket is a fixture

# The files --------------------------------------------------------------------------------------------


def plain_png() -> bytes:
    out = io.BytesIO()
    Image.new("RGB", (64, 48), (236, 240, 244)).save(out, "PNG")
    return out.getvalue()


def plain_jpeg(**options) -> bytes:
    out = io.BytesIO()
    Image.new("RGB", (64, 48), (200, 210, 220)).save(out, "JPEG", **options)
    return out.getvalue()


def a_zip(*members: tuple[str, bytes]) -> bytes:
    out = io.BytesIO()
    with zipfile.ZipFile(out, "w", zipfile.ZIP_DEFLATED) as archive:
        for name, data in members:
            archive.writestr(name, data)
    return out.getvalue()


def pdf_that_is_also_a_zip() -> bytes:
    """A whole PDF, then a ZIP archive: PDF readers read from the front, ZIP readers from the end."""
    data = good_pdf() + a_zip(("payload.js", b"WScript.Echo('hello')"))
    assert zipfile.is_zipfile(io.BytesIO(data)), "the test file must open as a ZIP too"
    return data


def jpeg_that_is_also_a_zip() -> bytes:
    data = plain_jpeg() + a_zip(("payload.html", HTML))
    assert zipfile.is_zipfile(io.BytesIO(data))
    return data


def jpeg_with_a_web_page_in_its_comment() -> bytes:
    return plain_jpeg(comment=HTML)


def png_with_a_script_after_its_end() -> bytes:
    return plain_png() + b"<script>fetch('/account')</script>"


def jpeg_that_is_also_javascript() -> bytes:
    """The classic JPEG/JS polyglot: the APP0 length is the bytes "/*", so to a JavaScript engine the header is
    the start of a comment, closed in a JPEG comment that then runs alert(...)."""
    jpeg = plain_jpeg()
    assert jpeg[2:4] == b"\xff\xe0"
    app0_length = 0x2F2A  # "/*"
    app0 = b"\xff\xe0" + struct.pack(">H", app0_length) + b"JFIF\x00\x01\x01\x00\x00\x01\x00\x01\x00\x00"
    app0 += b"\x00" * (app0_length + 2 - len(app0))
    script = b"*/=alert('polyglot');/*"
    comment = b"\xff\xfe" + struct.pack(">H", len(script) + 2) + script
    rest = jpeg[2 + 2 + struct.unpack(">H", jpeg[4:6])[0]:]  # after the original APP0
    data = b"\xff\xd8" + app0 + comment + rest
    Image.open(io.BytesIO(data)).load()  # still a picture
    return data


def jpeg_claiming_a_huge_picture() -> bytes:
    """A small JPEG whose frame header says 65,000 x 65,000 pixels (4.2 gigapixels)."""
    data = bytearray(plain_jpeg())
    at = data.index(b"\xff\xc0")  # baseline frame header: marker, length, precision, height, width
    struct.pack_into(">HH", data, at + 5, 65_000, 65_000)
    return bytes(data)


@functools.cache
def _gigabyte_of_zeros_deflated() -> bytes:
    squeeze = zlib.compressobj(9)
    zeros = b"\0" * (1 << 20)
    return b"".join([squeeze.compress(zeros) for _ in range(1024)] + [squeeze.flush()])


def _pdf_with_content(stream_bytes: bytes, filters: int) -> bytes:
    pdf = _blank_pdf()
    content = pikepdf.Stream(pdf, stream_bytes)
    content.Filter = pikepdf.Array([pikepdf.Name.FlateDecode] * filters)
    pdf.pages[0].Contents = pdf.make_indirect(content)
    return _pdf_bytes(pdf, compress_streams=False, stream_decode_level=pikepdf.StreamDecodeLevel.none)


@functools.cache
def pdf_with_a_flate_bomb() -> bytes:
    """About 1MB of PDF whose page content inflates to 1GB."""
    data = _pdf_with_content(_gigabyte_of_zeros_deflated(), 1)
    assert len(data) < 1_100_000
    return data


@functools.cache
def pdf_with_a_flate_bomb_in_a_flate_bomb() -> bytes:
    """A couple of KB of PDF: the 1GB bomb compressed again (FlateDecode twice)."""
    data = _pdf_with_content(zlib.compress(_gigabyte_of_zeros_deflated(), 9), 2)
    assert len(data) < 20_000
    return data


@functools.cache
def pdf_with_a_zip_bomb_attached() -> bytes:
    pdf = _blank_pdf()
    pdf.attachments["statement.zip"] = pikepdf.AttachedFileSpec(pdf, a_zip(("zeros.bin", b"\0" * (50 << 20))))
    return _pdf_bytes(pdf, object_stream_mode=pikepdf.ObjectStreamMode.generate)


def pdf_with_javascript_on_opening_a_page() -> bytes:
    """A page's additional action (/AA /O) running /JS, inside a compressed object stream."""
    pdf = _blank_pdf()
    pdf.pages[0].AA = pikepdf.Dictionary(O=pikepdf.Dictionary(S=pikepdf.Name("/JavaScript"), JS=pikepdf.String("app.alert(3)")))
    data = _pdf_bytes(pdf, object_stream_mode=pikepdf.ObjectStreamMode.generate)
    assert b"/JS" not in data, "found by the parsed check, not the raw one"
    return data


def pdf_with_javascript_spelled_in_hex_escapes() -> bytes:
    """/Java#53cript and /J#53 are /JavaScript and /JS to a PDF reader, but not to a search of the bytes."""
    return (b"%PDF-1.4\n"
            b"1 0 obj\n<< /Type /Catalog /Pages 2 0 R /OpenAction 4 0 R >>\nendobj\n"
            b"2 0 obj\n<< /Type /Pages /Kids [3 0 R] /Count 1 >>\nendobj\n"
            b"3 0 obj\n<< /Type /Page /Parent 2 0 R /MediaBox [0 0 595 842] >>\nendobj\n"
            b"4 0 obj\n<< /S /Java#53cript /J#53 (app.alert(4)) >>\nendobj\n"
            b"trailer\n<< /Root 1 0 R /Size 5 >>\n%%EOF\n")


OVER_THE_LIMIT = evidence.MAX_BYTES + 1


def just_over_the_limit() -> bytes:
    return b"%PDF-1.4\n" + b"0" * (OVER_THE_LIMIT - 9)


# What should happen -----------------------------------------------------------------------------------


@dataclass(frozen=True)
class Hostile:
    make: Callable[[], bytes]
    filename: str
    message: str = ""  # refused with this message; empty: stored, cleaned
    check_stored: Callable[[bytes], None] | None = None
    in_test_evidence: bool = False  # already sent through the receipt page by tests/test_evidence.py
    needs_scanner: bool = False
    scanner_may_say: str = ""  # with clamd on (make test), ClamAV's own heuristics may refuse it first


def _no_location(stored: bytes) -> None:
    image = Image.open(io.BytesIO(stored))
    assert image.format == "JPEG"
    assert not image.getexif() and not image.getexif().get_ifd(ExifTags.IFD.GPSInfo)
    assert b"Exif" not in stored and b"PhoneMaker" not in stored and b"Acacia" not in stored


def _no_script(stored: bytes) -> None:
    image = Image.open(io.BytesIO(stored))
    assert image.format == "JPEG" and image.size == (64, 48)
    assert b"alert" not in stored and b"/*" not in stored[:32]


def _just_the_picture(stored: bytes) -> None:
    image = Image.open(io.BytesIO(stored))
    assert image.format == "PNG" and image.size == (64, 48)


T = evidence
CORPUS = {
    # Polyglots
    "polyglot: HTML then a PDF": Hostile(html_first_then_pdf, "receipt.pdf", T.TYPE_MESSAGE, in_test_evidence=True),
    "polyglot: a PDF with HTML in it": Hostile(pdf_then_html, "receipt.pdf", T.TYPE_MESSAGE, in_test_evidence=True),
    "polyglot: a PDF that is also a ZIP": Hostile(pdf_that_is_also_a_zip, "receipt.pdf", T.TYPE_MESSAGE),
    "polyglot: a JPEG that is also a ZIP": Hostile(jpeg_that_is_also_a_zip, "photo.jpg", T.TYPE_MESSAGE),
    "polyglot: a JPEG with a web page in its comment": Hostile(jpeg_with_a_web_page_in_its_comment, "photo.jpg", T.TYPE_MESSAGE),
    "polyglot: a PNG with a script after its end": Hostile(png_with_a_script_after_its_end, "photo.png", T.TYPE_MESSAGE),
    "polyglot: a JPEG that is also JavaScript (stored re-encoded)": Hostile(jpeg_that_is_also_javascript, "photo.jpg",
                                                                            check_stored=_no_script),
    # Decompression bombs
    "image bomb: PNG header of 2.5 gigapixels": Hostile(png_bomb_header, "photo.png", T.IMAGE_TOO_LARGE_MESSAGE, in_test_evidence=True),
    "image bomb: 100 megapixels in 12KB": Hostile(png_bomb_real, "photo.png", T.IMAGE_TOO_LARGE_MESSAGE, in_test_evidence=True),
    "image bomb: JPEG header of 4.2 gigapixels": Hostile(jpeg_claiming_a_huge_picture, "photo.jpg", T.IMAGE_TOO_LARGE_MESSAGE),
    "zip bomb in a PDF: content inflating to 1GB": Hostile(pdf_with_a_flate_bomb, "receipt.pdf", T.PDF_TOO_LARGE_MESSAGE),
    "zip bomb in a PDF: Flate inside Flate": Hostile(pdf_with_a_flate_bomb_in_a_flate_bomb, "receipt.pdf", T.PDF_TOO_LARGE_MESSAGE),
    "zip bomb in a PDF: attached archive": Hostile(pdf_with_a_zip_bomb_attached, "receipt.pdf", T.ATTACHMENTS_MESSAGE),
    # Location
    "GPS-tagged photo (stored without GPS)": Hostile(jpeg_with_gps, "IMG_0001.JPG", check_stored=_no_location),
    # Active PDFs
    "PDF: JavaScript on opening": Hostile(pdf_with_open_action_javascript, "receipt.pdf", T.JAVASCRIPT_MESSAGE, in_test_evidence=True),
    "PDF: JavaScript on opening a page": Hostile(pdf_with_javascript_on_opening_a_page, "receipt.pdf", T.JAVASCRIPT_MESSAGE),
    "PDF: JavaScript in #-escaped names": Hostile(pdf_with_javascript_spelled_in_hex_escapes, "receipt.pdf", T.JAVASCRIPT_MESSAGE,
                                                  scanner_may_say=T.VIRUS_MESSAGE),  # ClamAV: obfuscated PDF names
    "PDF: embedded file": Hostile(pdf_with_an_embedded_file, "receipt.pdf", T.ATTACHMENTS_MESSAGE, in_test_evidence=True),
    "PDF: launch action": Hostile(pdf_with_a_launch_action, "receipt.pdf", T.LAUNCH_MESSAGE, in_test_evidence=True),
    # Viruses (the real clamd; tests/test_virus_scan.py sends these two through the receipt page)
    "EICAR": Hostile(lambda: EICAR, "receipt.pdf", T.VIRUS_MESSAGE, in_test_evidence=True, needs_scanner=True),
    "EICAR inside a good PDF": Hostile(eicar_in_a_pdf, "receipt.pdf", T.VIRUS_MESSAGE, in_test_evidence=True, needs_scanner=True),
    "EICAR named as a photo": Hostile(lambda: EICAR, "photo.jpg", T.VIRUS_MESSAGE, needs_scanner=True),
    # Double extensions: what the content is decides, never the name
    "double extension: a program named receipt.pdf.exe": Hostile(lambda: b"MZ\x90\x00\x03 a program", "receipt.pdf.exe", T.TYPE_MESSAGE),
    "double extension: a web page named photo.jpg.html": Hostile(lambda: HTML, "photo.jpg.html", T.TYPE_MESSAGE),
    "double extension: a real PNG named photo.png.html (stored as .png)": Hostile(plain_png, "photo.png.html",
                                                                                   check_stored=_just_the_picture),
    "double extension: a real PNG named receipt.pdf.exe (stored as .png)": Hostile(plain_png, "receipt.pdf.exe",
                                                                                    check_stored=_just_the_picture),
    # Path tricks in names (an honest picture; the name must not steer where or as what it is stored)
    "path trick: ../../etc/passwd": Hostile(plain_png, "../../etc/passwd", check_stored=_just_the_picture),
    "path trick: an absolute path": Hostile(plain_png, "/etc/cron.d/evil.png", check_stored=_just_the_picture),
    "path trick: Windows path": Hostile(plain_png, "..\\..\\Windows\\System32\\evil.png", check_stored=_just_the_picture),
    "path trick: NUL in the name": Hostile(plain_png, "evil.png\x00.html", check_stored=_just_the_picture),
    # Size
    "0 bytes": Hostile(lambda: b"", "receipt.pdf", T.EMPTY_MESSAGE, in_test_evidence=True),
    "10MB + 1 byte": Hostile(just_over_the_limit, "big.pdf", T.SIZE_MESSAGE, in_test_evidence=True),
}
UNSAFE_IN_A_NAME = re.compile(r"[/\\\x00-\x1f\x7f]|\.\.")


# The fields -------------------------------------------------------------------------------------------

AMINA, JAY, KIM, SOPHIE = "amina@example.org", "jay.pa@example.org", "kim@brightpath.example", "sophie.pa@example.org"


def _count(model) -> int:
    return db.session.scalar(sa.select(sa.func.count()).select_from(model))


def _names(column) -> list[str]:
    return sorted(db.session.scalars(sa.select(column).where(column.is_not(None))))


@dataclass
class Target:
    """One upload field, ready: where to post, what else the form needs, and how to see what it stored."""

    client: object
    url: str
    field: str
    fields: Callable[[], dict]  # the rest of the form, fresh for each post
    rows: Callable[[], tuple]  # counts of everything a stored upload adds
    display_names: Callable[[], list[str]]
    page_url: str | None = None


def _signed_in(app, email: str):
    client = app.test_client()
    sign_in(client, email)
    return client


def _receipt(app, request) -> Target:
    spent = request.getfixturevalue("money")
    return Target(
        _signed_in(app, AMINA), f"/people/{spent.amina}/transactions/{spent.amina_spend}/receipt", "receipt", dict,
        rows=lambda: (_count(Evidence), _count(LedgerEntry)), display_names=lambda: _names(Evidence.display_name),
    )


def _spending(app, request) -> Target:
    spent = request.getfixturevalue("money")
    return Target(
        _signed_in(app, AMINA), f"/people/{spent.amina}/spending/new", "receipt", lambda: spending_fields(spent),
        rows=lambda: (_count(Evidence), _count(LedgerEntry)), display_names=lambda: _names(Evidence.display_name),
    )


def _paper_timesheet(app, request) -> Target:
    amina, joan = person_id(app, "Amina", "Patel"), person_id(app, "Joan", "Price")
    with app.app_context():
        employment = db.session.scalar(sa.select(Employment).where(Employment.employer_id == amina, Employment.pa_id == joan))
        choice = f"{employment.id}:{timesheets.period_for(employment, london_today()).start.isoformat()}"
        employment_id = employment.id
    return Target(
        _signed_in(app, AMINA), f"/people/{amina}/timesheets/paper", "scan",
        lambda: {"employment": str(employment_id), "period": choice, "day_hours": "28"},
        rows=lambda: (_count(Timesheet), _count(TimesheetDocument)), display_names=lambda: _names(TimesheetDocument.display_name),
    )


def _timesheet_claim(app, request) -> Target:
    amina, sophie = person_id(app, "Amina", "Patel"), person_id(app, "Sophie", "Clarke")
    with app.app_context():
        ts = db.session.scalar(sa.select(Timesheet).where(Timesheet.employer_id == amina, Timesheet.pa_id == sophie,
                                                          Timesheet.status == TimesheetStatus.DRAFT))
        ts_id, day = ts.id, ts.period_start
        version = str(ts.version)
    return Target(
        _signed_in(app, SOPHIE), f"/timesheets/{ts_id}/claims", "receipt",
        lambda: {"kind": "expense", "claim_date": day.isoformat(), "description": "Bus fares to the shops",
                 "amount": "4.50", "version": version, "miles": ""},
        rows=lambda: (_count(TimesheetClaim), _count(TimesheetDocument)), display_names=lambda: _names(TimesheetDocument.display_name),
        page_url=f"/timesheets/{ts_id}",
    )


def _jays_photo() -> tuple:
    return tuple(db.session.scalars(sa.select(PAProfile.photo_name).join(User, User.person_id == PAProfile.person_id)
                                    .where(User.email == JAY)))


def _register_photo(app, request) -> Target:
    return Target(_signed_in(app, JAY), "/register/profile/photo", "photo", dict, rows=_jays_photo, display_names=list)


def _register_check_document(app, request) -> Target:
    return Target(
        _signed_in(app, JAY), "/register/checks/new", "document",
        lambda: {"kind": "safeguarding", "detail": "Level 2, Northfield College"},
        rows=lambda: (_count(ProfileCheck),), display_names=lambda: _names(ProfileCheck.document_display_name),
    )


_invoice_keys = iter(range(1, 1_000_000))


def _managed_invoice(app, request) -> Target:
    tom = person_id(app, "Tom", "Hughes")
    today = [str(london_today().day), str(london_today().month), str(london_today().year)]
    due = london_today() + timedelta(days=14)
    return Target(
        _signed_in(app, KIM), f"/people/{tom}/managed-account/new/invoice", "invoice",
        lambda: {"request_key": f"hostile-{os.getpid()}-{next(_invoice_keys)}", "payee": "Northfield Day Centre",
                 "invoice_number": "NDC-9", "category": "day care", "amount": "50.00",
                 "invoice_due_on": [str(due.day), str(due.month), str(due.year)], "pay_on": today},
        rows=lambda: (_count(ManagedPayment),), display_names=lambda: _names(ManagedPayment.invoice_display_name),
    )


FIELDS = {
    "receipt": ("app", _receipt),
    "manual spending": ("app", _spending),
    "paper timesheet": ("money_app", _paper_timesheet),
    "timesheet expense claim": ("money_app", _timesheet_claim),
    "register photo": ("app", _register_photo),
    "register check document": ("app", _register_check_document),
    "managed-account invoice": ("money_app", _managed_invoice),
}

CASES = [
    pytest.param(field, name, id=f"{field} | {name}")
    for field in FIELDS for name, hostile in CORPUS.items()
    if not (field == "receipt" and hostile.in_test_evidence)
]


@pytest.fixture
def target(request, tmp_path):
    field = request.node.callspec.params["field"]
    app_fixture, prepare = FIELDS[field]
    app = request.getfixturevalue(app_fixture)
    store = tmp_path / "evidence"
    if app_fixture == "app":
        request.getfixturevalue("folder")  # tests/test_evidence.py's: EVIDENCE_FOLDER in tmp_path
    app.config["EVIDENCE_FOLDER"] = str(store)
    prepared = prepare(app, request)
    return app, store, prepared


def _post(t: Target, data: bytes, filename: str):
    page = t.client.get(t.page_url or t.url)
    assert page.status_code == 200, f"{t.page_url or t.url}: {page.status_code}"
    return t.client.post(t.url, data={"csrf_token": csrf_token(page.text), **t.fields(), t.field: (io.BytesIO(data), filename)},
                         content_type="multipart/form-data")


def _files(store: Path) -> set[str]:
    return {p.name for p in store.iterdir()} if store.exists() else set()


def _everything_under(path: Path) -> set[str]:
    return {p.relative_to(path).as_posix() for p in path.rglob("*") if p.is_file()}


def _state(app, t: Target) -> tuple:
    with app.app_context():
        return t.rows(), t.display_names()


@pytest.mark.parametrize(("field", "name"), CASES)
def test_a_hostile_upload_is_refused_or_stored_cleaned(request, target, tmp_path, field, name):
    app, store, t = target
    hostile = CORPUS[name]
    if hostile.needs_scanner:
        socket_path = request.getfixturevalue("clamd_socket")
        app.config.update(VIRUS_SCANNER="clamd", CLAMD_SOCKET=socket_path)
    before_files, (before_rows, before_names) = _files(store), _state(app, t)
    before_everywhere = _everything_under(tmp_path)

    response = _post(t, hostile.make(), hostile.filename)

    if hostile.message:
        assert response.status_code == 200, f"expected the form again, got {response.status_code}"
        soup = BeautifulSoup(response.text, "html.parser")
        check_page(soup, t.url)
        assert soup.title.string.strip().startswith("Error: ")
        summary = [a.get_text(strip=True) for a in soup.select(".govuk-error-summary__list a")]
        message = hostile.message
        if hostile.scanner_may_say and app.config.get("VIRUS_SCANNER") == "clamd" and hostile.scanner_may_say in summary:
            message = hostile.scanner_may_say
        assert message in summary, summary
        beside = soup.find("input", {"type": "file", "name": t.field}).find_parent(class_="govuk-form-group")
        assert message in beside.select_one(".govuk-error-message").get_text(), "the message is beside the file field"
        assert _files(store) == before_files, "nothing stored in the evidence folder"
        assert _state(app, t) == (before_rows, before_names), "no row"
        assert _everything_under(tmp_path) == before_everywhere, "nothing stored anywhere else"
        return

    assert response.status_code == 302, f"{name}: {response.status_code}"
    new = _files(store) - before_files
    assert len(new) == 1, new
    stored = new.pop()
    assert STORED_NAME.match(stored), "a generated storage name, whatever the upload was called"
    assert _everything_under(tmp_path) - before_everywhere == {f"evidence/{stored}"}, "nothing written anywhere else"
    hostile.check_stored((store / stored).read_bytes())
    rows, names = _state(app, t)
    assert rows != before_rows
    added = [n for n in names if n not in before_names or names.count(n) > before_names.count(n)]
    for shown in added:  # the name kept to show and to name the download (the photo keeps none)
        assert not UNSAFE_IN_A_NAME.search(shown), shown
        assert shown.lower().endswith("." + stored.rsplit(".", 1)[1]) or (stored.endswith(".jpg") and shown.lower().endswith(".jpeg"))


@pytest.mark.parametrize("field", list(FIELDS))
def test_a_file_over_the_request_limit_gets_the_error_page_and_nothing_is_stored(target, tmp_path, field):
    app, store, t = target
    before_files, before = _files(store), _state(app, t)
    page = t.client.get(t.page_url or t.url)
    response = t.client.post(t.url, data={"csrf_token": csrf_token(page.text), **t.fields(),
                                          t.field: (io.BytesIO(b"%PDF-1.4\n" + b"0" * (13 * 1024 * 1024)), "huge.pdf")},
                             content_type="multipart/form-data")
    assert response.status_code == 413
    assert "The file is too large" in response.text and "10MB or smaller" in response.text
    assert _files(store) == before_files and _state(app, t) == before


def test_the_corpus_covers_every_kind_the_issue_names():
    kinds = " ".join(CORPUS).lower()
    for kind in ("polyglot", "image bomb", "zip bomb", "gps", "javascript", "embedded file", "eicar", "double extension",
                 "path trick", "0 bytes", "10mb + 1 byte"):
        assert kind in kinds, kind


def test_every_upload_view_is_in_the_corpus_fields():
    """The views tests/test_virus_scan.py finds reading uploads, each met by at least one field here."""
    views = {"evidence": ("receipt", "manual spending"), "timesheets": ("paper timesheet", "timesheet expense claim"),
             "register": ("register photo", "register check document"), "managed_payments": ("managed-account invoice",)}
    root = Path(__file__).resolve().parent.parent / "portal" / "web"
    readers = {p.parent.name for p in root.rglob("views.py") if re.search(r"\.stream\.read\(", p.read_text())}
    assert readers == set(views), readers
    assert {f for fs in views.values() for f in fs} == set(FIELDS)
