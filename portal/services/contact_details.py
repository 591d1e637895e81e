"""Finding phone numbers, email addresses and links in what people put on the register.

Contact goes through the portal so a PA's details are shared only when the PA accepts, and so nobody
is drawn off the portal before checks are seen. Profile text, vacancy text and photos are refused when
they carry contact details: text by pattern; photos by reading their words (Tesseract OCR) and any
QR code or barcode (zxing-cpp). A photo that cannot be checked is refused (fail closed).
"""

import io
import re
import shutil

from PIL import Image

PHONE_MESSAGE = "Remove the phone number. People contact you through the portal, and you share your number when you accept"
EMAIL_MESSAGE = "Remove the email address. People contact you through the portal, and you share your email when you accept"
LINK_MESSAGE = "Remove the web link. People contact you through the portal"
PHOTO_MESSAGE = "The photo shows contact details (a phone number, email address, web link or QR code). Choose a photo without them"
PHOTO_UNCHECKED_MESSAGE = "Photos cannot be checked at the moment, so they cannot be added. Try again later"
OCR_MAX_SIDE = 2000

# UK phone numbers: a run of digit groups (spaced or punctuated however) that starts with 0 and reaches
# exactly 10 or 11 digits at the end of a group, or a +44 / 0044 number; any other number written with
# + and nine or more digits. Dates and times are set aside first, so "01.02.2024 - 31.12.2025",
# "07.00 - 09.00", prices (£12.50), years (2015-2025) and postcodes are not phone numbers.
_DIGIT_RUN = re.compile(r"(?<![\w+])\+?\(?\d(?:[\s().\-]{0,3}\d)*")
_UK_PREFIX = re.compile(r"(?:\+\s*|\b00\s*)44\s*(?:\(\s*0\s*\)\s*)?")
_DATE = re.compile(r"\b[0-3]?\d[./][01]?\d[./](?:\d{4}|\d{2})\b")
_TIME = re.compile(r"\b[0-2]?\d(?::[0-5]\d|\.(?:00|15|30|45)|\.[0-5]\d\s*[ap]\.?m)\b", re.I)
_EMAIL = re.compile(r"[\w.+\-]+\s*(?:@|\(at\)|\[at\]|\s+at\s+)\s*[\w\-]+(?:\s*(?:\.|\(dot\)|\[dot\]|\s+dot\s+)\s*[\w\-]+)+", re.I)
_EMAIL_STRICT = re.compile(r"[\w.+\-]+@[\w\-]+(?:\.[\w\-]+)+")
_LINK = re.compile(
    r"(?:https?://|www\.)\S+"
    r"|\b[\w\-]+(?:\.[\w\-]+)*\.(?:com|co\.uk|org|org\.uk|net|uk|io|me|info|biz|ly|gl|app|site|online|page)\b(?:/\S*)?",
    re.I,
)


def _digits(text: str) -> int:
    return sum(ch.isdigit() for ch in text)


def _is_phone(run: str) -> bool:
    if run.startswith("+"):
        return _digits(run) >= 9
    groups = re.findall(r"\d+", run)
    for start, group in enumerate(groups):
        if not group.startswith("0"):
            continue
        total = 0
        for later in groups[start:]:
            total += len(later)
            if total in (10, 11):
                return True
            if total > 11:
                break
    return False


def has_phone_number(text: str) -> bool:
    text = _TIME.sub(" ", _DATE.sub(" ", _UK_PREFIX.sub("0", text)))
    return any(_is_phone(run) for run in _DIGIT_RUN.findall(text))


def problems_in_text(text: str | None) -> list[str]:
    """A message for each kind of contact detail found in the text (none: the text may be kept)."""
    text = text or ""
    found = []
    if has_phone_number(text):
        found.append(PHONE_MESSAGE)
    email_like = _EMAIL_STRICT.search(text) or any(
        " at " not in m.lower() or " dot " in m.lower() for m in _EMAIL.findall(text)
    )
    if email_like:
        found.append(EMAIL_MESSAGE)
    if _LINK.search(_EMAIL_STRICT.sub(" ", text)):
        found.append(LINK_MESSAGE)
    return found


def photo_checker_available() -> bool:
    return shutil.which("tesseract") is not None


def photo_problem(image_bytes: bytes) -> str | None:
    """A message if the (already cleaned) photo carries contact details or cannot be checked."""
    try:
        import pytesseract
        import zxingcpp
    except ImportError:
        return PHOTO_UNCHECKED_MESSAGE
    if not photo_checker_available():
        return PHOTO_UNCHECKED_MESSAGE
    try:
        with Image.open(io.BytesIO(image_bytes)) as image:
            picture = image.convert("RGB")
        if zxingcpp.read_barcodes(picture):
            return PHOTO_MESSAGE
        # OCR reads best on a greyscale picture of a moderate size. Tesseract's page layout sometimes
        # skips a line of text in a small picture (a web address on a label, say), so a picture that
        # passes is read again at twice the size.
        grey = picture.convert("L")
        if max(grey.size) > OCR_MAX_SIDE:
            grey.thumbnail((OCR_MAX_SIDE, OCR_MAX_SIDE))
        passes = [grey]
        if max(grey.size) * 2 <= OCR_MAX_SIDE:
            passes.append(grey.resize((grey.width * 2, grey.height * 2), Image.Resampling.LANCZOS))
        for version in passes:
            words = pytesseract.image_to_string(version, timeout=20)
            if problems_in_text(words) or has_phone_number(words.replace(" ", "")):
                return PHOTO_MESSAGE
    except Exception:  # noqa: BLE001 - a checker that fails must refuse, never wave the photo through
        return PHOTO_UNCHECKED_MESSAGE
    return None
