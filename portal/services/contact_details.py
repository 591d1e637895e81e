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

# Eleven or more digits, however they are spaced or punctuated, or a +44 number: UK phone numbers.
# Prices (£12.50), times (9.30am), dates and postcodes have far fewer digits in a row.
_PHONE = re.compile(r"(?:\+\s*\d[\d\s().\-]{8,}\d)|(?:\(?0\d[\d\s().\-]{8,}\d)")
_EMAIL = re.compile(r"[\w.+\-]+\s*(?:@|\(at\)|\[at\]|\s+at\s+)\s*[\w\-]+(?:\s*(?:\.|\(dot\)|\[dot\]|\s+dot\s+)\s*[\w\-]+)+", re.I)
_EMAIL_STRICT = re.compile(r"[\w.+\-]+@[\w\-]+(?:\.[\w\-]+)+")
_LINK = re.compile(
    r"(?:https?://|www\.)\S+"
    r"|\b[\w\-]+(?:\.[\w\-]+)*\.(?:com|co\.uk|org|org\.uk|net|uk|io|me|info|biz|ly|gl|app|site|online|page)\b(?:/\S*)?",
    re.I,
)


def _digits(text: str) -> int:
    return sum(ch.isdigit() for ch in text)


def problems_in_text(text: str | None) -> list[str]:
    """A message for each kind of contact detail found in the text (none: the text may be kept)."""
    text = text or ""
    found = []
    if any(_digits(match) >= 10 for match in _PHONE.findall(text)):
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
        # OCR reads best on a greyscale picture of a moderate size.
        grey = picture.convert("L")
        if max(grey.size) > 2000:
            grey.thumbnail((2000, 2000))
        words = pytesseract.image_to_string(grey, timeout=20)
    except Exception:  # noqa: BLE001 - a checker that fails must refuse, never wave the photo through
        return PHOTO_UNCHECKED_MESSAGE
    if problems_in_text(words) or _digits(words.replace(" ", "")) >= 10 and _PHONE.search(words.replace(" ", "")):
        return PHOTO_MESSAGE
    return None
