"""Receipts and invoices: checking an upload, cleaning it, and attaching it to a transaction.

The rules (and the message for each refusal):
- PDF, JPEG or PNG only, decided by the file's first bytes, never by its name; a file that is also
  something else (a polyglot: web-page markup anywhere in it, or a ZIP archive on its end) is refused,
  whatever its type;
- at most 10MB (MAX_BYTES); nothing empty;
- scanned for viruses (services.virus_scan, ClamAV's clamd by default) before anything else looks
  inside it: a file with a virus is refused (and the refusal audited), and so is every file while
  the scanner cannot answer (fail closed). Every upload field comes through check_and_clean, so this
  is the one place uploads are scanned, always before anything is stored;
- PDFs are refused if their compressed streams would inflate to more than MAX_PDF_INFLATED bytes (a
  decompression bomb), measured before any PDF library parses them; then opened with pikepdf and
  refused if anything in them is JavaScript, an attached (embedded) file, or a Launch action;
  password-protected PDFs are refused;
- images are decoded with a pixel limit (MAX_PIXELS, so a small file claiming a huge picture is
  refused before it is decoded) and re-encoded from their pixels: EXIF (and so GPS location),
  comments, XMP and text chunks are dropped; the EXIF orientation is applied first so the picture
  still looks the right way up;
- the person's file name is kept only to show and to name the download (basename, no control
  characters, at most 120 characters, extension matching the real type); storage names are generated.

Nothing is half-stored: the file is written (atomically) before the database rows, and removed again
if the database write fails.
"""

import hashlib
import io
import logging
import re
import struct
import unicodedata
import zlib
from collections.abc import Callable
from dataclasses import dataclass
from datetime import date

import pikepdf
import sqlalchemy as sa
from flask import current_app, has_app_context, has_request_context
from PIL import Image, ImageOps
from sqlalchemy.orm import Session

from portal.extensions import db
from portal.models import (
    AuditEvent,
    Category,
    DPAccount,
    EntryKind,
    EntrySource,
    EntryState,
    Evidence,
    Flag,
    LedgerEntry,
    PaymentMethod,
    Recipient,
    SupportLine,
)
from portal.services import ledger, virus_scan
from portal.storage import Storage

MAX_BYTES = 10 * 1024 * 1024
MAX_PIXELS = 40_000_000
MAX_PDF_OBJECTS = 250_000
# Everything a PDF's Flate streams inflate to, together: far above a real receipt or scan, far below a bomb.
MAX_PDF_INFLATED = 256 * 1024 * 1024
DISPLAY_NAME_LENGTH = 120
JPEG_QUALITY = 85
# Manual spending: at most this much in one entry (a typing slip of extra zeros is caught here).
MAX_SPEND_PENCE = 100_000 * 100

TYPE_MESSAGE = "The selected file must be a PDF, JPG or PNG"
SIZE_MESSAGE = "The selected file must be smaller than 10MB"
EMPTY_MESSAGE = "The selected file is empty"
UNREADABLE_MESSAGE = "The selected file could not be read"
JAVASCRIPT_MESSAGE = "The PDF contains JavaScript. Save it without scripts and try again"
ATTACHMENTS_MESSAGE = "The PDF contains attached files. Save it without attachments and try again"
LAUNCH_MESSAGE = "The PDF contains an action that opens other files or programs. Save it as a new PDF and try again"
PASSWORD_MESSAGE = "The PDF is protected with a password. Remove the password and try again"
IMAGE_TOO_LARGE_MESSAGE = "The image is too large to read"
PDF_TOO_LARGE_MESSAGE = "The PDF is too large to read. Save it again at a smaller size and try again"
VIRUS_MESSAGE = "The selected file contains a virus"
SCANNER_DOWN_MESSAGE = "We could not check this file for viruses. Try again later."


class UploadRefused(ValueError):
    """An upload that breaks a rule; .message is written for the person who chose the file."""

    def __init__(self, message: str):
        super().__init__(message)
        self.message = message


class AmountError(ValueError):
    def __init__(self, message: str):
        super().__init__(message)
        self.message = message


@dataclass(frozen=True)
class Cleaned:
    """A file that passed every rule, in the form it will be stored."""

    content_type: str
    data: bytes
    extension: str  # pdf, jpg or png: from the content
    display_name: str

    @property
    def sha256(self) -> str:
        return hashlib.sha256(self.data).hexdigest()


@dataclass(frozen=True)
class _Kind:
    content_type: str
    extension: str
    suffixes: tuple[str, ...]  # file name endings that already say this type


PDF = _Kind("application/pdf", "pdf", ("pdf",))
JPEG = _Kind("image/jpeg", "jpg", ("jpg", "jpeg"))
PNG = _Kind("image/png", "png", ("png",))

# Markup a browser would treat as a web page. Anywhere in the file: tags long enough never to turn up
# by chance in compressed data; in the first 1024 bytes (where browsers sniff): the shorter ones too.
_HTML_ANYWHERE = re.compile(rb"<(?:!doctype\s+html|html[\s>]|script|iframe)", re.IGNORECASE)
_HTML_AT_START = re.compile(rb"<(?:head|body|svg|object|embed|meta|style|title|img|div|table|a\s|!--)", re.IGNORECASE)


def check_and_clean(data: bytes, filename: str | None) -> Cleaned:
    """The cleaned file, ready to store, or UploadRefused saying what is wrong with it."""
    if not data:
        raise UploadRefused(EMPTY_MESSAGE)
    if len(data) > MAX_BYTES:
        raise UploadRefused(SIZE_MESSAGE)
    _scan(data, filename)
    kind = _sniff(data)
    if kind is PDF:
        cleaned = _check_pdf(data)
    else:
        cleaned = _reencode_image(data, kind)
    return Cleaned(kind.content_type, cleaned, kind.extension, display_name(filename, kind))


def _scan(data: bytes, filename: str | None) -> None:
    """Refuse a file the virus scanner finds something in, or cannot check (fail closed)."""
    try:
        result = virus_scan.scan(data)
    except Exception as error:  # noqa: BLE001 - whatever stops a scanner answering, the file stays out
        _log().warning("Upload refused: the virus scanner could not check it (%s)", error)
        raise UploadRefused(SCANNER_DOWN_MESSAGE) from None
    if isinstance(result, virus_scan.Infected):
        _log().warning("Upload refused: virus %s found in %r", result.name, (filename or "")[:120])
        _audit_virus(result.name, data)
        raise UploadRefused(VIRUS_MESSAGE)
    if not isinstance(result, virus_scan.Clean):
        _log().warning("Upload refused: the virus scanner answered %r", result)
        raise UploadRefused(SCANNER_DOWN_MESSAGE)


def _log():
    return current_app.logger if has_app_context() else logging.getLogger(__name__)


def _audit_virus(name: str, data: bytes) -> None:
    """An audit event for a refused infected upload, in a transaction of its own (nothing else commits).

    record_id is the start of the file's SHA-256, to find the same file again; outcome is the signature.
    """
    if not has_app_context():
        return
    from flask import g, request
    from flask_login import current_user

    user = current_user if has_request_context() else None
    event = AuditEvent(
        action="upload.virus_found",
        user_id=user.id if user is not None and user.is_authenticated else None,
        role=user.role.value if user is not None and user.is_authenticated else "",
        record_type="upload",
        record_id=hashlib.sha256(data).hexdigest()[:40],
        outcome=name[:40],
        request_id=g.get("request_id", "") if has_request_context() else "",
        address=(request.remote_addr or "")[:64] if has_request_context() else "",
    )
    if db.session().in_transaction() and db.engine.dialect.name == "sqlite":
        # On SQLite a POST holds the write lock from its start (portal/sqlite.py), so a second connection
        # would wait for it and fail. The upload is refused; what the request did before (its reads, the
        # audit of opening the page) is committed as the page would commit it, releasing the lock.
        db.session.commit()
    try:
        with Session(db.engine) as session:
            session.add(event)
            session.commit()
    except Exception:  # noqa: BLE001 - the refusal stands even if the audit row cannot be written
        _log().exception("Could not audit a refused infected upload")


def _sniff(data: bytes) -> _Kind:
    if data.startswith(b"%PDF-"):
        kind = PDF
    elif data.startswith(b"\xff\xd8\xff"):
        kind = JPEG
    elif data.startswith(b"\x89PNG\r\n\x1a\n"):
        kind = PNG
    else:
        raise UploadRefused(TYPE_MESSAGE)
    if _HTML_ANYWHERE.search(data) or _HTML_AT_START.search(data, 0, 1024):
        # A file that is also a web page: harmless as a download, but not what a receipt is. (Images are
        # re-encoded anyway; they are refused too, so the person hears the same answer for the same trick.)
        raise UploadRefused(TYPE_MESSAGE)
    if _ends_with_a_zip(data):
        raise UploadRefused(TYPE_MESSAGE)
    return kind


_ZIP_END = b"PK\x05\x06"
_ZIP_END_SIZE = 22


def _ends_with_a_zip(data: bytes) -> bool:
    """True if the file ends with a ZIP archive's end record, as ZIP readers look for it (a PDF/ZIP polyglot).

    The record's comment length must reach exactly to the end of the file, so these four bytes turning up
    by chance in compressed data (and they do, about once in 65,000 files) are not enough.
    """
    start = max(0, len(data) - _ZIP_END_SIZE - 0xFFFF)
    at = data.rfind(_ZIP_END, start)
    while at >= 0:
        if at + _ZIP_END_SIZE <= len(data):
            (comment_length,) = struct.unpack_from("<H", data, at + 20)
            if at + _ZIP_END_SIZE + comment_length == len(data):
                return True
        at = data.rfind(_ZIP_END, start, at)
    return False


# PDFs -----------------------------------------------------------------------------------------

_JS = {"/JS", "/JavaScript"}
_FILES = {"/EmbeddedFiles", "/EF"}


def _check_pdf(data: bytes) -> bytes:
    # Names spelled out in the raw bytes, in case an object escapes the parser's list below.
    if b"/JavaScript" in data:
        raise UploadRefused(JAVASCRIPT_MESSAGE)
    if b"/EmbeddedFile" in data:
        raise UploadRefused(ATTACHMENTS_MESSAGE)
    if b"/Launch" in data:
        raise UploadRefused(LAUNCH_MESSAGE)
    # Before qpdf: opening the file inflates its object streams, and those can be bombs too.
    if _inflated_size(data, MAX_PDF_INFLATED) > MAX_PDF_INFLATED:
        raise UploadRefused(PDF_TOO_LARGE_MESSAGE)
    try:
        with pikepdf.open(io.BytesIO(data)) as pdf:
            objects = pdf.objects
            if len(objects) > MAX_PDF_OBJECTS:
                raise UploadRefused(UNREADABLE_MESSAGE)
            for obj in objects:
                _check_pdf_object(obj)
            if len(pdf.pages) == 0:
                raise UploadRefused(UNREADABLE_MESSAGE)
    except UploadRefused:
        raise
    except pikepdf.PasswordError:
        raise UploadRefused(PASSWORD_MESSAGE) from None
    except Exception:  # noqa: BLE001 - qpdf reports damaged or hostile files in several ways
        raise UploadRefused(UNREADABLE_MESSAGE) from None
    return data


_STREAM_START = re.compile(rb"stream\r?\n")
_INFLATE_CHUNK = 1 << 20  # output per step
_INFLATE_PIECE = 1 << 16  # input per step
_INFLATE_DEPTH = 4  # Flate inside Flate inside Flate...: every layer's output counts


def _inflated_size(data: bytes, limit: int) -> int:
    """What the PDF's zlib (Flate) streams inflate to, together, stopping once past limit.

    Found from the raw bytes (every "stream" keyword followed by zlib data), not from a parser, and
    inflated a chunk at a time, so a bomb costs at most limit bytes of work and a chunk of memory.
    """
    total = 0
    for match in _STREAM_START.finditer(data):
        start = match.end()
        if not _looks_like_zlib(data[start:start + 2]):
            continue
        total += _inflate_count(memoryview(data)[start:], limit - total, _INFLATE_DEPTH)
        if total > limit:
            break
    return total


def _looks_like_zlib(head: bytes) -> bool:
    return len(head) == 2 and head[0] & 0x0F == 8 and (head[0] << 8 | head[1]) % 31 == 0


def _inflate_count(compressed: bytes, budget: int, depth: int) -> int:
    """Bytes inflated from compressed (and from zlib data inside it, to depth layers); stops past budget."""
    return _Layer(depth).feed(compressed, budget)


class _Layer:
    """One layer of zlib data, inflated as it arrives; zlib data coming out of it goes to a layer inside."""

    def __init__(self, depth: int):
        self.inflater = zlib.decompressobj()
        self.depth = depth
        self.broken = False
        self.inner: _Layer | None = None
        self.started = False

    def feed(self, data, budget: int) -> int:
        """Inflate data (bytes or a memoryview), handed in pieces so no call copies more than a piece."""
        count = 0
        view = memoryview(data)
        for at in range(0, len(view), _INFLATE_PIECE):
            if self.broken or self.inflater.eof or count > budget:
                break
            pending = view[at:at + _INFLATE_PIECE]
            try:
                while pending and count <= budget and not self.inflater.eof:
                    chunk = self.inflater.decompress(pending, _INFLATE_CHUNK)
                    pending = self.inflater.unconsumed_tail
                    count += len(chunk)
                    if not chunk:
                        break  # nothing more comes out of this piece
                    if self.depth > 1:
                        if not self.started and _looks_like_zlib(chunk[:2]):
                            self.inner = _Layer(self.depth - 1)
                        self.started = True
                        if self.inner is not None:
                            count += self.inner.feed(chunk, budget - count)
            except zlib.error:
                self.broken = True  # not (or no longer) zlib data: what came out so far still counts
        return count


def _check_pdf_object(root) -> None:
    """Refuse scripts, attachments and launch actions in one indirect object and everything direct in it.

    Every indirect object is visited by the caller, so references are not followed here (no cycles).
    """
    stack = [root]
    while stack:
        obj = stack.pop()
        if isinstance(obj, pikepdf.Stream):
            obj = obj.stream_dict
        if isinstance(obj, pikepdf.Dictionary):
            for key in obj:
                if key in _JS:
                    raise UploadRefused(JAVASCRIPT_MESSAGE)
                if key in _FILES:
                    raise UploadRefused(ATTACHMENTS_MESSAGE)
                value = obj.get(key)
                named = str(value) if isinstance(value, pikepdf.Name) else ""
                if key == "/S" and named in _JS:
                    raise UploadRefused(JAVASCRIPT_MESSAGE)
                if key == "/S" and named == "/Launch":
                    raise UploadRefused(LAUNCH_MESSAGE)
                if (key, named) in (("/Type", "/EmbeddedFile"), ("/Subtype", "/FileAttachment")):
                    raise UploadRefused(ATTACHMENTS_MESSAGE)
                if isinstance(value, (pikepdf.Dictionary, pikepdf.Array)) and not value.is_indirect:
                    stack.append(value)
        elif isinstance(obj, pikepdf.Array):
            for item in obj:
                if isinstance(item, (pikepdf.Dictionary, pikepdf.Array)) and not item.is_indirect:
                    stack.append(item)


# Images ---------------------------------------------------------------------------------------


def _reencode_image(data: bytes, kind: _Kind) -> bytes:
    pil_format = "JPEG" if kind is JPEG else "PNG"
    try:
        with Image.open(io.BytesIO(data), formats=[pil_format]) as image:
            # The header is read; the pixels are not. Refuse a huge picture before decoding it.
            if image.width * image.height > MAX_PIXELS:
                raise UploadRefused(IMAGE_TOO_LARGE_MESSAGE)
            image.load()
            icc_profile = image.info.get("icc_profile")
            try:
                upright = ImageOps.exif_transpose(image)
            except Exception:  # noqa: BLE001 - damaged EXIF: keep the picture as it is rather than refuse it
                upright = image.copy()
    except UploadRefused:
        raise
    except (Image.DecompressionBombError, MemoryError):
        raise UploadRefused(IMAGE_TOO_LARGE_MESSAGE) from None
    except Exception:  # noqa: BLE001 - Pillow reports damaged files with many exception types
        raise UploadRefused(UNREADABLE_MESSAGE) from None

    # A new image from the pixels alone: EXIF (GPS), XMP, comments and text chunks stay behind.
    clean = upright.copy()
    clean.info = {}
    out = io.BytesIO()
    options = {"icc_profile": icc_profile} if icc_profile else {}
    if kind is JPEG:
        if clean.mode not in ("L", "RGB", "CMYK"):
            clean = clean.convert("RGB")
        clean.save(out, "JPEG", quality=JPEG_QUALITY, optimize=True, **options)
    else:
        if clean.mode == "P" or clean.mode == "PA":
            clean = clean.convert("RGBA" if "transparency" in upright.info or clean.mode == "PA" else "RGB")
        elif clean.mode not in ("1", "L", "LA", "RGB", "RGBA", "I", "I;16"):
            clean = clean.convert("RGBA")
        clean.save(out, "PNG", optimize=False, **options)
    return out.getvalue()


# Names ----------------------------------------------------------------------------------------

_UNSAFE = re.compile(r'[<>:"|?*]')
_SUFFIX = re.compile(r"^[A-Za-z0-9]{1,5}$")


def display_name(filename: str | None, kind: _Kind) -> str:
    """The uploaded name, cleaned, to show and to name the download; never used for storage.

    Only the last path part is kept (``../../x.pdf`` is ``x.pdf``), control and formatting characters
    (including right-to-left overrides) go, and the extension is made to say what the file really is.
    """
    name = unicodedata.normalize("NFC", filename or "")
    name = name.replace("\\", "/").rsplit("/", 1)[-1]
    name = "".join(ch for ch in name if not unicodedata.category(ch).startswith("C"))
    name = _UNSAFE.sub("_", " ".join(name.split())).strip(" .")
    stem, dot, suffix = name.rpartition(".")
    if not dot:
        stem, suffix = name, ""
    if suffix.lower() in kind.suffixes:
        ending = suffix
    else:
        ending = kind.extension
        if suffix and not _SUFFIX.match(suffix):
            stem = name  # "report.final version" keeps its whole name
    stem = stem.strip(" .") or "receipt"
    stem = stem[: DISPLAY_NAME_LENGTH - len(ending) - 1].rstrip(" .") or "receipt"
    return f"{stem}.{ending}"


# Money ----------------------------------------------------------------------------------------

def parse_amount(text: str | None) -> int:
    """'12.50', '£1,234.5' or '7' to integer pence (no floats), or AmountError with the message to show."""
    from portal.services.amounts import to_hundredths

    if not (text or "").strip():
        raise AmountError("Enter the amount, like 12.50")
    pence = to_hundredths(text)
    if pence is None:
        raise AmountError("Enter the amount in pounds and pence, like 12.50")
    if pence == 0:
        raise AmountError("The amount must be more than £0")
    if pence > MAX_SPEND_PENCE:
        raise AmountError(f"The amount must be £{MAX_SPEND_PENCE // 100:,} or less")
    return pence


# Recording ------------------------------------------------------------------------------------


def takes_receipt(entry: LedgerEntry) -> bool:
    """Receipts and invoices are for money spent (a spend entry taking money out of the account)."""
    return entry.kind == EntryKind.SPEND and entry.amount_pence < 0


def bank_accounts(recipient: Recipient) -> list[DPAccount]:
    """The recipient's bank-account direct payments: the only ones where spending is added by hand."""
    return list(
        db.session.scalars(
            sa.select(DPAccount)
            .where(DPAccount.recipient_id == recipient.person_id, DPAccount.method == PaymentMethod.BANK_ACCOUNT)
            .order_by(DPAccount.opened_on.desc(), DPAccount.id.desc())
        )
    )


def evidence_of(recipient: Recipient, evidence_id: int) -> Evidence | None:
    """A receipt on one of this recipient's transactions (never someone else's)."""
    return db.session.scalar(
        sa.select(Evidence)
        .join(LedgerEntry, LedgerEntry.id == Evidence.entry_id)
        .join(DPAccount, DPAccount.id == LedgerEntry.account_id)
        .where(Evidence.id == evidence_id, DPAccount.recipient_id == recipient.person_id)
    )


def evidence_for_entries(entry_ids: list[int]) -> dict[int, list[Evidence]]:
    """Receipts by entry, for a list of transactions (one query)."""
    found: dict[int, list[Evidence]] = {entry_id: [] for entry_id in entry_ids}
    if entry_ids:
        for item in db.session.scalars(sa.select(Evidence).where(Evidence.entry_id.in_(entry_ids)).order_by(Evidence.id)):
            found[item.entry_id].append(item)
    return found


def _record(entry_id: int, storage_name: str, cleaned: Cleaned, user_id: int | None) -> Evidence:
    item = Evidence(
        entry_id=entry_id,
        storage_name=storage_name,
        sha256=cleaned.sha256,
        content_type=cleaned.content_type,
        size_bytes=len(cleaned.data),
        display_name=cleaned.display_name,
        uploaded_by_id=user_id,
    )
    db.session.add(item)
    db.session.flush()
    # Only the upload that turns needs_evidence off moves the account's count (a second receipt, or a
    # second upload racing this one, finds it off already: the row lock makes the second wait and re-check).
    answered = db.session.execute(
        sa.update(EntryState)
        .where(EntryState.entry_id == entry_id, EntryState.needs_evidence.is_(True))
        .values(needs_evidence=False)
        .returning(EntryState.account_id)
    ).scalar()
    db.session.execute(
        sa.update(EntryState).where(EntryState.entry_id == entry_id).values(evidence_count=EntryState.evidence_count + 1)
    )
    if answered is not None:
        ledger.move_attention({answered: (-1, 0)})
    return item


def _stored_then_committed(cleaned: Cleaned, storage: Storage | None, write: Callable[[str], Evidence],
                           before_commit: Callable[[Evidence], object] | None) -> Evidence:
    """Write the file, then the rows; if the rows do not land, the file goes too (nothing half-stored)."""
    storage = storage or Storage.from_config()
    name = storage.save(cleaned.data, cleaned.extension)
    try:
        item = write(name)
        if before_commit is not None:
            before_commit(item)
        db.session.commit()
    except BaseException:
        db.session.rollback()
        storage.delete(name)
        raise
    return item


def attach(entry: LedgerEntry, cleaned: Cleaned, user_id: int | None, *, storage: Storage | None = None,
           before_commit: Callable[[Evidence], object] | None = None) -> Evidence:
    """Store a receipt for a transaction and commit. before_commit (an audit record, say) joins the transaction."""
    if not takes_receipt(entry):
        raise ValueError("Only money spent takes a receipt or invoice")
    entry_id = entry.id
    return _stored_then_committed(cleaned, storage, lambda name: _record(entry_id, name, cleaned, user_id), before_commit)


def add_manual_spend(account: DPAccount, entry_date: date, payee: str, category: Category, description: str,
                     amount_pence: int, cleaned: Cleaned, user_id: int | None, *, storage: Storage | None = None,
                     before_commit: Callable[[Evidence], object] | None = None) -> LedgerEntry:
    """Record money already spent from a bank account, with its receipt, in one transaction.

    amount_pence is what was paid (positive); the entry takes it out of the account.
    """
    from portal.services import budgets, ledger

    if account.method != PaymentMethod.BANK_ACCOUNT:
        raise ValueError("Spending is added by hand only for bank-account direct payments")
    if not isinstance(amount_pence, int) or amount_pence <= 0:
        raise ValueError("The amount paid must be a positive number of pence")
    account_id = account.id
    plan = budgets.current_plan(account.recipient_id, entry_date)
    support_line_id, flags = None, []
    if plan is not None:
        lines = db.session.scalars(
            sa.select(SupportLine.id).where(SupportLine.plan_id == plan.id, SupportLine.category == category)
        ).all()
        if len(lines) == 1:
            support_line_id = lines[0]  # two lines of one category: left unassigned for someone to pick
        elif not lines:
            flags.append(Flag.OUTSIDE_PLAN.value)

    posted: list[LedgerEntry] = []

    def write(name: str) -> Evidence:
        entry = ledger.post(
            account_id=account_id, kind=EntryKind.SPEND, amount_pence=-amount_pence, entry_date=entry_date,
            source=EntrySource.MANUAL, payee=payee, description=description.strip(), category=category,
            support_line_id=support_line_id, flags=flags, user_id=user_id,
        )
        ledger.settle_matching_expected(entry)
        posted.append(entry)
        return _record(entry.id, name, cleaned, user_id)

    _stored_then_committed(cleaned, storage, write, before_commit)
    return posted[0]
