"""Receipts and invoices: the upload rules, each met by a hostile file made here, and who may see them.

Every refusal is checked for its message and for leaving nothing behind: no Evidence row, no
ledger entry, no file in EVIDENCE_FOLDER (which the `folder` fixture points at a fresh temporary
folder) and nothing anywhere else.
"""

import io
import re
import struct
import zlib
from datetime import date, timedelta
from pathlib import Path
from types import SimpleNamespace

import pikepdf
import pytest
import sqlalchemy as sa
from bs4 import BeautifulSoup
from PIL import ExifTags, Image
from sqlalchemy.exc import OperationalError

from portal.extensions import db
from portal.models import (
    Category,
    EntryKind,
    EntrySource,
    EntryState,
    Evidence,
    Flag,
    LedgerEntry,
    PaymentMethod,
)
from portal.services import budgets, evidence, ledger
from portal.services.clock import london_today
from portal.services.evidence import UploadRefused
from portal.storage import Storage, StorageError
from tests.conftest import check_page, csrf_token, get_page, sign_in
from tests.helpers import person_id

EMAILS = {
    "amina": "amina@example.org",
    "grace": "grace@example.org",
    "david": "david@example.org",
    "tom": "tom@example.org",
    "sophie": "sophie.pa@example.org",
    "jay": "jay.pa@example.org",
    "ellen": "ellen@example.org",
    "kim": "kim@brightpath.example",
    "lee": "lee@brightpath.example",
    "omar": "omar@harbour.example",
    "rachel": "rachel@northfield.example",
    "admin": "admin@example.org",
}
STORED_NAME = re.compile(r"^[0-9a-f]{64}-[0-9a-f]{16}\.(pdf|jpg|png)$")
OPENED = date(2025, 4, 1)


# Files, good and hostile ----------------------------------------------------------------------


def _pdf_bytes(pdf: pikepdf.Pdf, **options) -> bytes:
    out = io.BytesIO()
    pdf.save(out, **options)
    return out.getvalue()


def _blank_pdf() -> pikepdf.Pdf:
    pdf = pikepdf.new()
    pdf.add_blank_page(page_size=(595, 842))
    return pdf


def good_pdf() -> bytes:
    return _pdf_bytes(_blank_pdf())


def pdf_with_open_action_javascript() -> bytes:
    pdf = _blank_pdf()
    pdf.Root.OpenAction = pikepdf.Dictionary(S=pikepdf.Name("/JavaScript"), JS=pikepdf.String("app.alert('hello')"))
    # In a compressed object stream, so the words are not there to find in the raw bytes.
    return _pdf_bytes(pdf, object_stream_mode=pikepdf.ObjectStreamMode.generate)


def pdf_with_javascript_in_the_names_tree() -> bytes:
    pdf = _blank_pdf()
    action = pdf.make_indirect(pikepdf.Dictionary(S=pikepdf.Name("/JavaScript"), JS=pdf.make_stream(b"app.alert(1)")))
    pdf.Root.Names = pikepdf.Dictionary(JavaScript=pikepdf.Dictionary(Names=pikepdf.Array([pikepdf.String("a"), action])))
    return _pdf_bytes(pdf, object_stream_mode=pikepdf.ObjectStreamMode.generate)


def pdf_with_javascript_on_a_link() -> bytes:
    pdf = _blank_pdf()
    link = pikepdf.Dictionary(
        Type=pikepdf.Name.Annot, Subtype=pikepdf.Name.Link, Rect=pikepdf.Array([0, 0, 100, 100]),
        A=pikepdf.Dictionary(S=pikepdf.Name("/JavaScript"), JS=pikepdf.String("app.alert(2)")),
    )
    pdf.pages[0].Annots = pdf.make_indirect(pikepdf.Array([pdf.make_indirect(link)]))
    data = _pdf_bytes(pdf, object_stream_mode=pikepdf.ObjectStreamMode.generate)
    assert b"/JavaScript" not in data, "the test means the parsed check to find it, not the raw one"
    return data


def pdf_with_an_embedded_file() -> bytes:
    pdf = _blank_pdf()
    pdf.attachments["invoice.exe"] = pikepdf.AttachedFileSpec(pdf, b"MZ not really a program", mime_type="application/octet-stream")
    return _pdf_bytes(pdf, object_stream_mode=pikepdf.ObjectStreamMode.generate)


def pdf_with_a_launch_action() -> bytes:
    pdf = _blank_pdf()
    pdf.Root.OpenAction = pikepdf.Dictionary(S=pikepdf.Name("/Launch"), F=pikepdf.String("calc.exe"))
    return _pdf_bytes(pdf, object_stream_mode=pikepdf.ObjectStreamMode.generate)


def pdf_with_a_password() -> bytes:
    out = io.BytesIO()
    _blank_pdf().save(out, encryption=pikepdf.Encryption(owner="owner", user="secret"))
    return out.getvalue()


HTML = b"<!DOCTYPE html><html><body><script>fetch('/account')</script></body></html>\n"


def html_first_then_pdf() -> bytes:
    """A polyglot: a web page, with a whole PDF after it (PDF readers look for %PDF- further in)."""
    return HTML + good_pdf()


def pdf_then_html() -> bytes:
    """A polyglot the other way round: a PDF signature first, a web page inside."""
    return good_pdf() + b"\n" + HTML


def _png(width: int, height: int, idat: bytes, depth: int = 1, colour: int = 0) -> bytes:
    def chunk(kind: bytes, body: bytes) -> bytes:
        return struct.pack(">I", len(body)) + kind + body + struct.pack(">I", zlib.crc32(kind + body) & 0xFFFFFFFF)

    header = struct.pack(">IIBBBBB", width, height, depth, colour, 0, 0, 0)
    return b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", header) + chunk(b"IDAT", idat) + chunk(b"IEND", b"")


def png_bomb_header() -> bytes:
    """A few hundred bytes claiming 50,000 x 50,000 pixels (2.5 gigapixels)."""
    return _png(50_000, 50_000, zlib.compress(b"\0" * 1000))


def png_bomb_real() -> bytes:
    """A real one: 10,000 x 10,000 blank pixels (100 megapixels) that zlib squeezes to about 12KB."""
    row = b"\0" + b"\0" * (10_000 // 8)
    return _png(10_000, 10_000, zlib.compress(row * 10_000, 9))


def jpeg_with_gps() -> bytes:
    """A 40 x 20 photo, to be shown turned (EXIF orientation 6), with a location and a comment."""
    image = Image.new("RGB", (40, 20), "red")
    image.paste((0, 0, 255), (0, 0, 10, 20))  # a blue stripe on the left, to see which way up it ends
    exif = Image.Exif()
    exif[ExifTags.Base.Orientation] = 6
    exif[ExifTags.Base.Make] = "PhoneMaker"
    gps = exif.get_ifd(ExifTags.IFD.GPSInfo)
    gps[ExifTags.GPS.GPSLatitudeRef] = "N"
    gps[ExifTags.GPS.GPSLatitude] = (53.0, 22.0, 51.0)
    gps[ExifTags.GPS.GPSLongitudeRef] = "W"
    gps[ExifTags.GPS.GPSLongitude] = (1.0, 28.0, 12.0)
    out = io.BytesIO()
    image.save(out, "JPEG", exif=exif, comment=b"taken at 12 Acacia Avenue")
    data = out.getvalue()
    assert Image.open(io.BytesIO(data)).getexif().get_ifd(ExifTags.IFD.GPSInfo), "the test file must carry GPS data"
    return data


def png_with_text() -> bytes:
    from PIL.PngImagePlugin import PngInfo

    info = PngInfo()
    info.add_text("Comment", "home address: 12 Acacia Avenue")
    out = io.BytesIO()
    Image.new("RGBA", (30, 30), (0, 128, 0, 128)).save(out, "PNG", pnginfo=info)
    return out.getvalue()


# Fixtures -------------------------------------------------------------------------------------


@pytest.fixture
def folder(app, tmp_path) -> Path:
    """EVIDENCE_FOLDER, inside a temporary folder of its own so that 'nothing elsewhere' can be checked."""
    path = tmp_path / "evidence"
    app.config["EVIDENCE_FOLDER"] = str(path)
    return path


@pytest.fixture
def money(app, folder):
    """Accounts and spending for Amina (bank account), Sam (bank account) and Grace (prepaid card).

    Amina's spend and Sam's spend each already have a PDF receipt, for the download tests.
    """
    with app.app_context():
        ids = {name: person_id(app, given, family) for name, given, family in (
            ("amina", "Amina", "Patel"), ("sam", "Sam", "Okafor"), ("grace", "Grace", "Okafor"), ("tom", "Tom", "Hughes"),
        )}
        amina_account = budgets.open_account(ids["amina"], PaymentMethod.BANK_ACCOUNT, OPENED)
        sam_account = budgets.open_account(ids["sam"], PaymentMethod.BANK_ACCOUNT, OPENED)
        grace_account = budgets.open_account(ids["grace"], PaymentMethod.PREPAID_CARD, OPENED, card_reference="TEST-EVIDENCE-GRACE")
        day = london_today() - timedelta(days=10)

        def spend(account, pence, payee):
            return ledger.post(account_id=account.id, kind=EntryKind.SPEND, amount_pence=-pence, entry_date=day,
                               source=EntrySource.MANUAL, payee=payee, description="Test spending")

        payment = ledger.post(account_id=amina_account.id, kind=EntryKind.COUNCIL_PAYMENT, amount_pence=100_000,
                              entry_date=day, source=EntrySource.PAYMENT_RUN, payment_key="TEST-EVIDENCE-PAYMENT")
        amina_spend = spend(amina_account, 2_500, "Northfield Taxis")
        amina_with_receipt = spend(amina_account, 4_000, "Acme Aids Ltd")
        sam_spend = spend(sam_account, 1_800, "Day Centre Cafe")
        grace_spend = spend(grace_account, 1_200, "Chemist")
        db.session.commit()
        amina_receipt = evidence.attach(amina_with_receipt, evidence.check_and_clean(good_pdf(), "taxi receipt.pdf"), None)
        sam_receipt = evidence.attach(sam_spend, evidence.check_and_clean(good_pdf(), "cafe.pdf"), None)
        stored = {amina_receipt.storage_name, sam_receipt.storage_name}
        return SimpleNamespace(
            **ids,
            amina_account=amina_account.id, sam_account=sam_account.id, grace_account=grace_account.id,
            payment=payment.id, amina_spend=amina_spend.id, amina_with_receipt=amina_with_receipt.id,
            sam_spend=sam_spend.id, grace_spend=grace_spend.id,
            amina_receipt=amina_receipt.id, sam_receipt=sam_receipt.id, stored=stored,
        )


def signed_in(app, persona: str):
    client = app.test_client()
    sign_in(client, EMAILS[persona])
    return client


def upload(client, url: str, data: bytes, filename: str = "receipt.pdf", **fields):
    page = client.get(url)
    assert page.status_code == 200, f"{url}: {page.status_code}"
    return client.post(
        url, data={"csrf_token": csrf_token(page.text), "receipt": (io.BytesIO(data), filename), **fields},
        content_type="multipart/form-data",
    )


def receipt_url(money, entry_id=None, person=None) -> str:
    return f"/people/{person or money.amina}/transactions/{entry_id or money.amina_spend}/receipt"


def counts(app) -> tuple[int, int]:
    with app.app_context():
        return (
            db.session.scalar(sa.select(sa.func.count()).select_from(Evidence)),
            db.session.scalar(sa.select(sa.func.count()).select_from(LedgerEntry)),
        )


def files_in(path: Path) -> set[str]:
    return {p.name for p in path.iterdir()} if path.exists() else set()


def error_messages(html: str) -> list[str]:
    soup = BeautifulSoup(html, "html.parser")
    return [a.get_text(strip=True) for a in soup.select(".govuk-error-summary__list a")]


def entry_state(app, entry_id: int) -> tuple[int, bool]:
    with app.app_context():
        state = db.session.get(EntryState, entry_id)
        return state.evidence_count, state.needs_evidence


# Checking and cleaning (the service) ----------------------------------------------------------


HOSTILE = [
    pytest.param(html_first_then_pdf, "receipt.pdf", evidence.TYPE_MESSAGE, id="polyglot: HTML then a PDF"),
    pytest.param(pdf_then_html, "receipt.pdf", evidence.TYPE_MESSAGE, id="polyglot: a PDF with HTML in it"),
    pytest.param(lambda: HTML, "receipt.pdf", evidence.TYPE_MESSAGE, id="HTML renamed .pdf"),
    pytest.param(lambda: b"MZ\x90\x00 a program", "receipt.jpg", evidence.TYPE_MESSAGE, id="a program renamed .jpg"),
    pytest.param(png_bomb_header, "photo.png", evidence.IMAGE_TOO_LARGE_MESSAGE, id="image bomb: header of 2.5 gigapixels"),
    pytest.param(png_bomb_real, "photo.png", evidence.IMAGE_TOO_LARGE_MESSAGE, id="image bomb: 100 megapixels in 12KB"),
    pytest.param(pdf_with_open_action_javascript, "receipt.pdf", evidence.JAVASCRIPT_MESSAGE, id="PDF: JavaScript on opening"),
    pytest.param(pdf_with_javascript_in_the_names_tree, "receipt.pdf", evidence.JAVASCRIPT_MESSAGE, id="PDF: JavaScript names tree"),
    pytest.param(pdf_with_javascript_on_a_link, "receipt.pdf", evidence.JAVASCRIPT_MESSAGE, id="PDF: JavaScript on a link"),
    pytest.param(pdf_with_an_embedded_file, "receipt.pdf", evidence.ATTACHMENTS_MESSAGE, id="PDF: embedded file"),
    pytest.param(pdf_with_a_launch_action, "receipt.pdf", evidence.LAUNCH_MESSAGE, id="PDF: launch action"),
    pytest.param(pdf_with_a_password, "receipt.pdf", evidence.PASSWORD_MESSAGE, id="PDF: password"),
    pytest.param(lambda: b"%PDF-1.7\nnot really a PDF at all", "receipt.pdf", evidence.UNREADABLE_MESSAGE, id="damaged PDF"),
    pytest.param(lambda: jpeg_with_gps()[:200], "photo.jpg", evidence.UNREADABLE_MESSAGE, id="cut-off JPEG"),
    pytest.param(lambda: b"", "receipt.pdf", evidence.EMPTY_MESSAGE, id="empty file"),
    pytest.param(lambda: b"%PDF-1.4\n" + b"0" * (10 * 1024 * 1024 - 8), "big.pdf", evidence.SIZE_MESSAGE, id="10MB + 1 byte"),
]


@pytest.mark.parametrize(("make", "filename", "message"), HOSTILE)
def test_each_hostile_file_is_refused_with_its_message(make, filename, message):
    with pytest.raises(UploadRefused) as refused:
        evidence.check_and_clean(make(), filename)
    assert refused.value.message == message


def test_the_type_comes_from_the_content_not_the_name():
    png = png_with_text()
    cleaned = evidence.check_and_clean(png, "receipt.pdf")
    assert (cleaned.content_type, cleaned.extension, cleaned.display_name) == ("image/png", "png", "receipt.png")
    cleaned = evidence.check_and_clean(good_pdf(), "scan.png")
    assert (cleaned.content_type, cleaned.extension, cleaned.display_name) == ("application/pdf", "pdf", "scan.pdf")


def test_a_jpeg_is_stored_without_its_location_and_the_right_way_up():
    cleaned = evidence.check_and_clean(jpeg_with_gps(), "IMG_0001.JPG")
    assert cleaned.content_type == "image/jpeg" and cleaned.display_name == "IMG_0001.JPG"
    image = Image.open(io.BytesIO(cleaned.data))
    assert image.format == "JPEG"
    assert not image.getexif(), "no EXIF at all, so no GPS"
    assert b"Exif" not in cleaned.data and b"PhoneMaker" not in cleaned.data and b"Acacia" not in cleaned.data
    assert image.size == (20, 40), "the orientation was applied before the EXIF was dropped"
    top_right = image.convert("RGB").getpixel((15, 2))
    assert top_right[2] > 200 and top_right[0] < 80, "the blue stripe is at the top after turning"


def test_a_png_is_reencoded_without_its_text():
    cleaned = evidence.check_and_clean(png_with_text(), "screenshot.png")
    image = Image.open(io.BytesIO(cleaned.data))
    assert image.format == "PNG" and image.mode == "RGBA" and image.size == (30, 30)
    assert b"Acacia" not in cleaned.data and "Comment" not in image.info


def test_a_pdf_without_anything_active_is_kept_as_it_is():
    data = good_pdf()
    cleaned = evidence.check_and_clean(data, "invoice.pdf")
    assert cleaned.data == data and cleaned.content_type == "application/pdf"


@pytest.mark.parametrize(("uploaded", "shown"), [
    ("../../x.pdf", "x.pdf"),
    ("..\\..\\windows\\x.pdf", "x.pdf"),
    ("/etc/passwd", "passwd.pdf"),
    ("..", "receipt.pdf"),
    ("", "receipt.pdf"),
    (None, "receipt.pdf"),
    ("in\x00voice\r\n.pdf", "invoice.pdf"),
    ("receipt\u202efdp.exe", "receiptfdp.pdf"),  # a right-to-left override, used to disguise names
    ('"quoted" <name>.pdf', "_quoted_ _name_.pdf"),
    ("a" * 300 + ".pdf", "a" * 116 + ".pdf"),
    ("Invoice March.PDF", "Invoice March.PDF"),
    ("report.final version", "report.final version.pdf"),
])
def test_display_names_are_cleaned(uploaded, shown):
    assert evidence.display_name(uploaded, evidence.PDF) == shown
    assert len(shown) <= 120


@pytest.mark.parametrize(("typed", "pence"), [
    ("12.50", 1250), ("12.5", 1250), ("7", 700), (" 0.01 ", 1), ("£1,234.56", 123456), ("1,000", 100000), ("99999.99", 9999999),
])
def test_amounts_are_read_as_pence_without_floats(typed, pence):
    assert evidence.parse_amount(typed) == pence


@pytest.mark.parametrize(("typed", "message"), [
    ("", "Enter the amount, like 12.50"),
    ("   ", "Enter the amount, like 12.50"),
    ("twelve", "Enter the amount in pounds and pence, like 12.50"),
    ("12.505", "Enter the amount in pounds and pence, like 12.50"),
    ("-5", "Enter the amount in pounds and pence, like 12.50"),
    ("1e3", "Enter the amount in pounds and pence, like 12.50"),
    ("1,23", "Enter the amount in pounds and pence, like 12.50"),
    ("0.00", "The amount must be more than £0"),
    ("100000.01", "The amount must be £100,000 or less"),
])
def test_amounts_that_are_not_money_get_a_clear_message(typed, message):
    with pytest.raises(evidence.AmountError) as problem:
        evidence.parse_amount(typed)
    assert problem.value.message == message


# Storage --------------------------------------------------------------------------------------


def test_storage_writes_under_a_generated_name_and_leaves_no_temporary_file(tmp_path):
    storage = Storage(tmp_path / "store")
    name = storage.save(b"%PDF-1.4 test", "pdf")
    assert STORED_NAME.match(name)
    assert files_in(tmp_path / "store") == {name}
    assert (tmp_path / "store" / name).stat().st_mode & 0o077 == 0, "readable by the portal only"
    with storage.open(name) as handle:
        assert handle.read() == b"%PDF-1.4 test"
    storage.delete(name)
    assert files_in(tmp_path / "store") == set()


def test_a_failed_write_leaves_nothing(tmp_path, monkeypatch):
    storage = Storage(tmp_path / "store")

    def broken_replace(source, target):
        raise OSError("disk full")

    monkeypatch.setattr("portal.storage.os.replace", broken_replace)
    with pytest.raises(OSError):
        storage.save(b"data", "png")
    assert files_in(tmp_path / "store") == set()


def test_storage_never_opens_a_name_it_did_not_make(tmp_path):
    storage = Storage(tmp_path / "store")
    (tmp_path / "secret.txt").write_text("not evidence")
    for name in ("../secret.txt", "/etc/passwd", "x.pdf", "a" * 64 + "-" + "b" * 16 + ".html"):
        with pytest.raises(FileNotFoundError):
            storage.open(name)
    with pytest.raises(StorageError):
        storage.save(b"<html>", "html")


def test_storage_refuses_a_folder_under_static(app):
    with pytest.raises(StorageError):
        Storage(Path(app.static_folder) / "evidence", static_folder=app.static_folder)
    app.config["EVIDENCE_FOLDER"] = str(Path(app.static_folder) / "uploads")
    with app.app_context(), pytest.raises(StorageError):
        Storage.from_config()


def test_the_default_folder_is_in_instance_not_static(app):
    app.config.pop("EVIDENCE_FOLDER", None)
    with app.app_context():
        storage = Storage.from_config()
    assert storage.folder == (Path(app.root_path).parent / "instance" / "evidence").resolve()
    assert Path(app.static_folder).resolve() not in storage.folder.parents


# Adding a receipt (the page) ------------------------------------------------------------------


def test_the_receipt_page_shows_the_transaction_and_a_file_upload(app, money):
    client = signed_in(app, "amina")
    page = get_page(client, receipt_url(money))
    assert page.soup.title.string.startswith("Add a receipt or invoice")
    assert page.soup.h1.get_text(strip=True) == "Add a receipt or invoice"
    assert page.soup.select_one("[data-capacity]").get_text(strip=True) == "This is your direct payment"
    form = page.soup.find("form", enctype="multipart/form-data")
    assert form is not None and form.has_attr("novalidate")
    assert form.find("label", attrs={"for": "receipt"}).get_text(strip=True) == "Upload a receipt or invoice"
    assert "PDF, JPG or PNG, smaller than 10MB" in form.find(id="receipt-hint").get_text()
    file_input = form.find("input", type="file")
    assert file_input["name"] == "receipt" and "image/png" in file_input["accept"]
    assert "Northfield Taxis" in page.text and "£25.00" in page.text


def test_a_file_named_to_climb_out_is_stored_under_a_generated_name_inside_the_folder(app, money, folder, tmp_path):
    client = signed_in(app, "amina")
    before = files_in(folder)
    data = good_pdf()
    response = upload(client, receipt_url(money), data, filename="../../x.pdf")
    assert response.status_code == 302
    assert response.headers["Location"].endswith((f"/people/{money.amina}/transactions", f"/people/{money.amina}"))
    new = files_in(folder) - before
    assert len(new) == 1
    stored = new.pop()
    assert STORED_NAME.match(stored) and stored.endswith(".pdf")
    with app.app_context():
        row = db.session.scalar(sa.select(Evidence).where(Evidence.entry_id == money.amina_spend))
        assert (row.storage_name, row.display_name, row.content_type) == (stored, "x.pdf", "application/pdf")
        assert row.size_bytes == len(data) and row.sha256 == stored[:64]
        assert row.uploaded_by_id is not None
    assert (folder / stored).read_bytes() == data
    # Nothing was written where the name pointed, nor anywhere else in the temporary area.
    assert not (folder / "../../x.pdf").resolve().exists()
    assert not Path("x.pdf").exists() and not (Path(app.root_path).parent / "x.pdf").exists()
    everything = {p.relative_to(tmp_path).as_posix() for p in tmp_path.rglob("*") if p.is_file()}
    assert everything == {f"evidence/{name}" for name in files_in(folder)}
    assert entry_state(app, money.amina_spend) == (1, False)
    page = client.get(response.headers["Location"])
    assert "Receipt added: x.pdf" in page.text


@pytest.mark.parametrize(("make", "filename", "message"), HOSTILE)
def test_each_hostile_upload_is_refused_on_the_page_and_nothing_is_stored(app, money, folder, make, filename, message):
    client = signed_in(app, "amina")
    before_files, before_rows = files_in(folder), counts(app)
    response = upload(client, receipt_url(money), make(), filename=filename)
    assert response.status_code == 200
    assert error_messages(response.text) == [message]
    soup = BeautifulSoup(response.text, "html.parser")
    check_page(soup, "receipt page")
    assert soup.title.string.startswith("Error: Add a receipt or invoice")
    assert message in soup.select_one("#receipt-error").get_text()
    assert files_in(folder) == before_files, "nothing half-stored"
    assert counts(app) == before_rows
    assert entry_state(app, money.amina_spend) == (0, True)


def test_no_file_chosen_gets_a_message(app, money, folder):
    client = signed_in(app, "amina")
    page = client.get(receipt_url(money))
    response = client.post(receipt_url(money), data={"csrf_token": csrf_token(page.text)}, content_type="multipart/form-data")
    assert response.status_code == 200
    assert error_messages(response.text) == ["Select a receipt or invoice"]
    assert files_in(folder) == money.stored


def test_a_jpeg_uploaded_with_gps_is_stored_without_it(app, money, folder):
    client = signed_in(app, "amina")
    response = upload(client, receipt_url(money), jpeg_with_gps(), filename="photo.jpeg")
    assert response.status_code == 302
    (stored,) = files_in(folder) - money.stored
    assert stored.endswith(".jpg")
    data = (folder / stored).read_bytes()
    image = Image.open(io.BytesIO(data))
    assert not image.getexif() and not image.getexif().get_ifd(ExifTags.IFD.GPSInfo)
    assert b"Exif" not in data and b"Acacia" not in data
    with app.app_context():
        row = db.session.scalar(sa.select(Evidence).where(Evidence.storage_name == stored))
        assert (row.content_type, row.display_name) == ("image/jpeg", "photo.jpeg")


def test_a_file_between_10_and_12_mb_gets_the_form_message_and_over_12_the_error_page(app, money, folder):
    client = signed_in(app, "amina")
    response = upload(client, receipt_url(money), b"%PDF-1.4\n" + b"0" * (11 * 1024 * 1024), filename="big.pdf")
    assert response.status_code == 200
    assert error_messages(response.text) == [evidence.SIZE_MESSAGE]
    page = client.get(receipt_url(money))
    response = client.post(
        receipt_url(money), content_type="multipart/form-data",
        data={"csrf_token": csrf_token(page.text), "receipt": (io.BytesIO(b"0" * (13 * 1024 * 1024)), "huge.pdf")},
    )
    assert response.status_code == 413
    assert files_in(folder) == money.stored


def test_a_database_failure_after_the_file_is_written_leaves_no_file(app, money, folder, monkeypatch):
    client = signed_in(app, "amina")
    page = client.get(receipt_url(money))
    real_commit = db.session.commit

    def failing_commit():
        if any(isinstance(obj, Evidence) for obj in db.session):
            raise OperationalError("INSERT INTO evidence ...", {}, Exception("database is locked"))
        return real_commit()

    monkeypatch.setattr(db.session, "commit", failing_commit)
    app.config["PROPAGATE_EXCEPTIONS"] = False
    response = client.post(
        receipt_url(money), content_type="multipart/form-data",
        data={"csrf_token": csrf_token(page.text), "receipt": (io.BytesIO(good_pdf()), "receipt.pdf")},
    )
    assert response.status_code == 500
    assert files_in(folder) == money.stored, "the stored file was removed again"
    assert entry_state(app, money.amina_spend) == (0, True)
    with app.app_context():
        assert db.session.scalar(sa.select(sa.func.count()).select_from(Evidence)) == 2


def test_the_service_removes_the_file_when_the_commit_fails(app, money, folder, monkeypatch):
    with app.app_context():
        entry = db.session.get(LedgerEntry, money.amina_spend)
        cleaned = evidence.check_and_clean(good_pdf(), "r.pdf")

        def failing_commit():
            raise OperationalError("COMMIT", {}, Exception("disk I/O error"))

        monkeypatch.setattr(db.session, "commit", failing_commit)
        with pytest.raises(OperationalError):
            evidence.attach(entry, cleaned, None)
        monkeypatch.undo()
        assert files_in(folder) == money.stored
        assert db.session.scalar(sa.select(sa.func.count()).select_from(Evidence)) == 2


def test_only_money_spent_takes_a_receipt(app, money):
    client = signed_in(app, "amina")
    get_page(client, receipt_url(money, money.payment), status=404)
    # Someone else's transaction, under Amina's own address: not found either.
    get_page(client, receipt_url(money, money.sam_spend), status=404)
    get_page(client, receipt_url(money, 999_999), status=404)


@pytest.mark.parametrize(("persona", "person", "entry", "status"), [
    ("amina", "amina", "amina_spend", 200),
    ("kim", "amina", "amina_spend", 200),  # her caseworker
    ("lee", "amina", "amina_spend", 200),  # the caseworker's manager
    ("david", "grace", "grace_spend", 200),  # manages Grace's direct payment
    ("david", "sam", "sam_spend", 404),  # may only view Sam's
    ("omar", "amina", "amina_spend", 404),  # another provider's caseworker
    ("grace", "amina", "amina_spend", 404),
    ("rachel", "amina", "amina_spend", 403),  # council officers look, they do not change
    ("sophie", "amina", "amina_spend", 403),
    ("admin", "amina", "amina_spend", 403),
])
def test_who_may_add_a_receipt(app, money, folder, persona, person, entry, status):
    client = signed_in(app, persona)
    url = receipt_url(money, getattr(money, entry), getattr(money, person))
    assert client.get(url).status_code == status
    page = client.get("/account")
    response = client.post(url, data={"csrf_token": csrf_token(page.text), "receipt": (io.BytesIO(good_pdf()), "r.pdf")},
                           content_type="multipart/form-data")
    assert response.status_code == (302 if status == 200 else status)
    assert len(files_in(folder) - money.stored) == (1 if status == 200 else 0)


def test_anonymous_people_are_asked_to_sign_in(app, money):
    client = app.test_client()
    for url in (receipt_url(money), f"/people/{money.amina}/spending/new", f"/people/{money.amina}/evidence/{money.amina_receipt}"):
        response = client.get(url)
        assert response.status_code == 302 and "/sign-in" in response.headers["Location"]


# Downloading ----------------------------------------------------------------------------------


@pytest.mark.parametrize(("persona", "status"), [
    ("amina", 200),
    ("kim", 200),
    ("lee", 200),
    ("rachel", 200),
    ("omar", 404),
    ("grace", 404),
    ("david", 404),
    ("tom", 404),
    ("ellen", 404),
    ("sophie", 403),
    ("jay", 403),
    ("admin", 403),
])
def test_who_may_download_amina_receipt(app, money, persona, status):
    client = signed_in(app, persona)
    response = client.get(f"/people/{money.amina}/evidence/{money.amina_receipt}")
    assert response.status_code == status
    if status == 200:
        assert response.headers["Content-Disposition"].startswith("attachment;")
        assert 'filename="taxi receipt.pdf"' in response.headers["Content-Disposition"]
        assert response.headers["X-Content-Type-Options"] == "nosniff"
        assert response.mimetype == "application/pdf"
        assert response.headers["Cache-Control"] == "no-store"
        assert response.data.startswith(b"%PDF-")
    else:
        assert b"%PDF" not in response.data


def test_a_receipt_is_only_found_under_its_own_recipient(app, money):
    client = signed_in(app, "amina")
    assert client.get(f"/people/{money.amina}/evidence/{money.sam_receipt}").status_code == 404
    assert client.get(f"/people/{money.amina}/evidence/999999").status_code == 404
    staff = signed_in(app, "kim")  # Kim may see both recipients, but each receipt only under its owner
    assert staff.get(f"/people/{money.sam}/evidence/{money.amina_receipt}").status_code == 404
    assert staff.get(f"/people/{money.sam}/evidence/{money.sam_receipt}").status_code == 200


def test_a_view_level_representative_may_download_but_not_upload(app, money, folder):
    client = signed_in(app, "david")
    response = client.get(f"/people/{money.sam}/evidence/{money.sam_receipt}")
    assert response.status_code == 200 and response.headers["Content-Disposition"].startswith("attachment;")
    assert response.headers["X-Content-Type-Options"] == "nosniff"
    assert client.get(receipt_url(money, money.sam_spend, money.sam)).status_code == 404
    assert client.get(f"/people/{money.sam}/spending/new").status_code == 404


def test_downloads_are_recorded_in_the_audit_log(app, money):
    from portal.models import AuditEvent

    client = signed_in(app, "rachel")
    assert client.get(f"/people/{money.amina}/evidence/{money.amina_receipt}").status_code == 200
    with app.app_context():
        event = db.session.scalar(sa.select(AuditEvent).where(AuditEvent.action == "evidence.downloaded"))
        assert event.record_id == str(money.amina_receipt) and event.acting_for_id == money.amina
        assert event.role == "council_officer"


def test_a_receipt_whose_file_is_missing_is_not_found(app, money, folder):
    with app.app_context():
        name = db.session.get(Evidence, money.amina_receipt).storage_name
    (folder / name).unlink()
    client = signed_in(app, "amina")
    assert client.get(f"/people/{money.amina}/evidence/{money.amina_receipt}").status_code == 404


def test_receipts_already_added_are_listed_with_a_download_link(app, money):
    client = signed_in(app, "amina")
    page = get_page(client, receipt_url(money, money.amina_with_receipt))
    link = page.soup.find("a", string="taxi receipt.pdf")
    assert link["href"] == f"/people/{money.amina}/evidence/{money.amina_receipt}"


# Adding spending (bank-account direct payments) -----------------------------------------------


def spending_fields(money, **overrides) -> dict:
    day = london_today() - timedelta(days=3)
    fields = {
        "account": str(money.amina_account),
        "date_paid": [str(day.day), str(day.month), str(day.year)],
        "payee": "Northfield Community Transport",
        "category": Category.TRAVEL.value,
        "description": "Taxi to the day centre",
        "amount": "12.50",
    }
    fields.update(overrides)
    return fields


def test_adding_spending_posts_it_with_its_receipt(app, money, folder):
    client = signed_in(app, "amina")
    url = f"/people/{money.amina}/spending/new"
    page = get_page(client, url)
    assert page.soup.h1.get_text(strip=True) == "Add spending"
    labels = [legend.get_text(strip=True) for legend in page.soup.select("legend")]
    assert "When did you pay?" in labels and "What was it for?" in labels
    assert page.soup.find("form", enctype="multipart/form-data").has_attr("novalidate")
    with app.app_context():
        before = ledger.balance(money.amina_account)
    response = upload(client, url, jpeg_with_gps(), filename="taxi.jpg", **spending_fields(money))
    assert response.status_code == 302, error_messages(response.text)
    with app.app_context():
        entry = db.session.scalar(
            sa.select(LedgerEntry).where(LedgerEntry.account_id == money.amina_account).order_by(LedgerEntry.id.desc()).limit(1)
        )
        assert (entry.kind, entry.source, entry.amount_pence) == (EntryKind.SPEND, EntrySource.MANUAL, -1250)
        assert entry.payee.name == "Northfield Community Transport" and entry.description == "Taxi to the day centre"
        assert entry.entry_date == london_today() - timedelta(days=3)
        assert entry.state.category == Category.TRAVEL
        assert (entry.state.evidence_count, entry.state.needs_evidence) == (1, False)
        row = db.session.scalar(sa.select(Evidence).where(Evidence.entry_id == entry.id))
        assert (row.content_type, row.display_name) == ("image/jpeg", "taxi.jpg")
        assert ledger.balance(money.amina_account) == before - 1250 == ledger.balance_from_entries(money.amina_account)
    assert row.storage_name in files_in(folder)


def test_spending_takes_its_support_line_or_is_flagged_outside_the_plan(app, money):
    with app.app_context():
        budgets.create_plan(money.amina, OPENED, "Get out and about", [
            budgets.Line(Category.TRAVEL, "Taxis", 10_000), budgets.Line(Category.PA_WAGES, "PA", 50_000),
        ])
        db.session.commit()
    client = signed_in(app, "amina")
    url = f"/people/{money.amina}/spending/new"
    assert upload(client, url, good_pdf(), **spending_fields(money)).status_code == 302
    assert upload(client, url, good_pdf(), **spending_fields(money, category=Category.RESPITE.value)).status_code == 302
    with app.app_context():
        travel, respite = db.session.scalars(
            sa.select(EntryState).where(EntryState.account_id == money.amina_account).order_by(EntryState.entry_id.desc()).limit(2)
        ).all()[::-1]
        assert travel.support_line_id is not None and not travel.flag_list
        assert respite.support_line_id is None and respite.flag_list == [Flag.OUTSIDE_PLAN.value] and respite.needs_explanation


def test_every_field_is_checked_and_nothing_is_stored_when_any_is_wrong(app, money, folder):
    client = signed_in(app, "amina")
    url = f"/people/{money.amina}/spending/new"
    before = counts(app)
    page = client.get(url)
    response = client.post(url, data={"csrf_token": csrf_token(page.text), "date_paid": ["", "", ""]},
                           content_type="multipart/form-data")
    assert response.status_code == 200
    assert error_messages(response.text) == [
        "Enter the date you paid", "Enter who you paid", "Select what the spending was for",
        "Enter the amount, like 12.50", "Select the receipt or invoice",
    ]
    assert BeautifulSoup(response.text, "html.parser").title.string.startswith("Error: Add spending")
    assert counts(app) == before and files_in(folder) == money.stored


@pytest.mark.parametrize(("fields", "message"), [
    ({"amount": "12.505"}, "Enter the amount in pounds and pence, like 12.50"),
    ({"amount": "0"}, "The amount must be more than £0"),
    ({"date_paid": ["31", "2", "2026"]}, "The date you paid must be a real date"),
    ({"date_paid": ["1", "", "2026"]}, "The date you paid must include a month"),
    ({"date_paid": ["1", "1", "26"]}, "The date you paid must be a real date"),
    ({"date_paid": ["1", "1", str(london_today().year + 1)]}, "The date you paid must be today or in the past"),
    ({"date_paid": ["31", "3", "2025"]}, "The date you paid must be on or after 1 April 2025, when the account opened"),
    ({"category": "holidays"}, "Select what the spending was for"),
    ({"payee": "x" * 201}, "Who you paid must be 200 characters or fewer"),
])
def test_a_wrong_field_is_explained_and_the_file_is_not_stored(app, money, folder, fields, message):
    client = signed_in(app, "amina")
    before = counts(app)
    response = upload(client, f"/people/{money.amina}/spending/new", good_pdf(), **spending_fields(money, **fields))
    assert response.status_code == 200
    assert error_messages(response.text) == [message]
    assert counts(app) == before and files_in(folder) == money.stored


def test_a_hostile_receipt_stops_the_spending_being_added(app, money, folder):
    client = signed_in(app, "amina")
    before = counts(app)
    response = upload(client, f"/people/{money.amina}/spending/new", pdf_with_open_action_javascript(), **spending_fields(money))
    assert response.status_code == 200
    assert error_messages(response.text) == [evidence.JAVASCRIPT_MESSAGE]
    assert counts(app) == before and files_in(folder) == money.stored


def test_a_database_failure_while_adding_spending_leaves_no_file_and_no_entry(app, money, folder, monkeypatch):
    before_rows = counts(app)
    with app.app_context():
        from portal.models import DPAccount

        account = db.session.get(DPAccount, money.amina_account)
        cleaned = evidence.check_and_clean(good_pdf(), "r.pdf")
        before = ledger.balance(account.id)

        def failing_commit():
            raise OperationalError("COMMIT", {}, Exception("disk I/O error"))

        monkeypatch.setattr(db.session, "commit", failing_commit)
        with pytest.raises(OperationalError):
            evidence.add_manual_spend(account, london_today(), "Shop", Category.OTHER, "", 500, cleaned, None)
        monkeypatch.undo()
        assert ledger.balance(account.id) == before
    assert files_in(folder) == money.stored
    assert counts(app) == before_rows


def test_card_spending_is_not_added_by_hand(app, money, folder):
    client = signed_in(app, "david")
    url = f"/people/{money.grace}/spending/new"
    page = get_page(client, url)
    assert "arrives from the card statement" in page.text
    assert page.soup.find("input", type="file") is None
    before = counts(app)
    response = upload(client, url, good_pdf(), **spending_fields(money, account=str(money.grace_account)))
    assert response.status_code == 200 and counts(app) == before and files_in(folder) == money.stored


@pytest.mark.parametrize(("persona", "person", "status"), [
    ("amina", "amina", 200),
    ("kim", "amina", 200),
    ("david", "grace", 200),
    ("david", "sam", 404),
    ("omar", "amina", 404),
    ("tom", "amina", 404),
    ("rachel", "amina", 403),
    ("jay", "amina", 403),
    ("admin", "amina", 403),
])
def test_who_may_add_spending(app, money, persona, person, status):
    client = signed_in(app, persona)
    assert client.get(f"/people/{getattr(money, person)}/spending/new").status_code == status
