"""Contact details are kept off the register: text by pattern, photos by OCR (Tesseract) and QR reading (zxing-cpp).

Contact goes through the portal, so a PA's phone number or email is shared only when they accept.
Ordinary writing (prices, times, dates, postcodes, years) must not be mistaken for contact details,
and a photo that cannot be checked is refused rather than waved through.
"""

import io
import os
import sys

import pytest
import segno
import sqlalchemy as sa
from PIL import Image, ImageDraw, ImageFont

from portal.extensions import db
from portal.models.register import PAProfile
from portal.services import contact_details
from portal.services.contact_details import (
    EMAIL_MESSAGE,
    LINK_MESSAGE,
    PHONE_MESSAGE,
    PHOTO_MESSAGE,
    PHOTO_UNCHECKED_MESSAGE,
    photo_problem,
    problems_in_text,
)
from portal.services.evidence import UploadRefused, check_and_clean
from portal.storage import Storage
from tests.helpers import person_id

PHONES = [
    "Call me on 07700 900827",
    "07700900827",
    "077 0090 0827",
    "07700-900-827",
    "07700.900.827",
    "(07700) 900827",
    "0 7 7 0 0 9 0 0 8 2 7",
    "0161 496 0123",
    "(0161) 496 0123",
    "020 7946 0000",
    "office 020-7946-0000.",
    "01632 960001",
    "+44 7700 900827",
    "+447700900827",
    "+44 (0)7700 900827",
    "0044 7700 900 827",
    "tel:07700900827",
    "07700900827 or 07700900828",
    "text +1 555 123 4567",
]

EMAILS = [
    "jay@gmail.com",
    "Email jay.singh+pa@example.co.uk please",
    "jay at gmail dot com",
    "jay(at)gmail.com",
    "jay [at] gmail [dot] com",
    "jay @ gmail . com",
    "JAY AT GMAIL DOT COM",
]

LINKS = [
    "https://example.com",
    "see http://x.io/abc",
    "www.jaycare.co.uk",
    "my site is example.co.uk",
    "jaycare.com/about",
    "facebook.com/jay.singh",
    "bit.ly/abc123",
]

ORDINARY = [
    "£12.50 an hour",
    "Rate £13.50 to £15.00 per hour, sleep-ins £90 a night",
    "I can start at 9.30am and finish at 1pm",
    "Hours 07.00 - 09.00 17.00 - 19.00",
    "Shifts 0800-1200 1300-1700",
    "I live in NF3 4AB and cover NF4 and NF5",
    "I worked at Brightpath. I love cooking and gardening.",
    "I worked as a carer 2015-2025",
    "10 years of experience with older people",
    "Available 24/7 for live-in work",
    "From 01/02/2024 to 31/12/2025",
    "From 01.02.2024 - 31.12.2025",
    "I can start on 1.12.2026",
    "I worked there in 2010, 2015 and 2020",
    "I am at home at weekends. Contact me through the portal.",
    "I met him at church. Dot was there too.",
    "I have an NVQ level 3, e.g. in health and social care.",
    "Mr. Smith was my manager for 3 years",
    "I speak English, Punjabi and Hindi. I drive.",
    "I can do 10, 12, 14 or 16 hours a week",
    "",
    None,
]


@pytest.mark.parametrize("text", PHONES)
def test_phone_numbers_are_found_however_they_are_spaced(text):
    assert PHONE_MESSAGE in problems_in_text(text)


@pytest.mark.parametrize("text", EMAILS)
def test_email_addresses_are_found_even_spelled_out(text):
    assert EMAIL_MESSAGE in problems_in_text(text)


@pytest.mark.parametrize("text", LINKS)
def test_links_are_found_with_or_without_a_scheme(text):
    assert LINK_MESSAGE in problems_in_text(text)


@pytest.mark.parametrize("text", ORDINARY)
def test_ordinary_writing_is_not_taken_for_contact_details(text):
    assert problems_in_text(text) == []


def test_an_email_address_is_one_problem_not_also_a_link():
    assert problems_in_text("jay.singh@example.co.uk") == [EMAIL_MESSAGE]


def test_each_kind_of_detail_is_named_once():
    found = problems_in_text("Ring 07700 900827 or 07700 900828, email jay@gmail.com, or see www.jay.co.uk")
    assert found == [PHONE_MESSAGE, EMAIL_MESSAGE, LINK_MESSAGE]


# Photos ------------------------------------------------------------------------------------------

FONT = "/usr/share/fonts/truetype/dejavu/DejaVuSans.ttf"


def _font(size: int):
    if os.path.exists(FONT):
        return ImageFont.truetype(FONT, size)
    return ImageFont.load_default(size)


def _photo(text: str | None = None, kind: str = "JPEG") -> bytes:
    """A made-up portrait (a background, a face, shoulders), with text on a label if given."""
    width, height = 640, 480
    image = Image.new("RGB", (width, height))
    draw = ImageDraw.Draw(image)
    for y in range(height):
        draw.line([(0, y), (width, y)], fill=(120 + y // 6, 160 - y // 8, 200 - y // 5))
    draw.ellipse((220, 80, 420, 300), fill=(230, 190, 160))
    draw.rectangle((180, 300, 460, 480), fill=(40, 70, 120))
    if text:
        draw.rectangle((20, 380, 620, 450), fill="white")
        draw.text((30, 390), text, fill="black", font=_font(36))
    out = io.BytesIO()
    image.save(out, kind, quality=90)
    return out.getvalue()


def _photo_with_qr(url: str) -> bytes:
    code = io.BytesIO()
    segno.make(url).save(code, kind="png", scale=8, border=4)
    image = Image.open(io.BytesIO(_photo())).convert("RGB")
    image.paste(Image.open(io.BytesIO(code.getvalue())).convert("RGB"), (20, 20))
    out = io.BytesIO()
    image.save(out, "PNG")
    return out.getvalue()


def _cleaned(data: bytes, name: str = "me.jpg"):
    return check_and_clean(data, name)  # what the upload form does before the photo is checked


# Skipped on a machine without Tesseract, but never in CI, where `make test` installs it.
needs_ocr = pytest.mark.skipif(not contact_details.photo_checker_available() and not os.environ.get("CI"),
                               reason="tesseract is not installed")


@needs_ocr
def test_a_plain_photo_passes():
    assert photo_problem(_cleaned(_photo()).data) is None


@needs_ocr
@pytest.mark.parametrize("text", ["Call 07700 900827", "jay.singh@gmail.com", "www.jaycare.co.uk"])
def test_a_photo_with_contact_details_written_on_it_is_refused(text):
    assert photo_problem(_cleaned(_photo(text)).data) == PHOTO_MESSAGE


@needs_ocr
def test_a_number_in_light_letters_on_a_dark_jumper_is_refused():
    image = Image.open(io.BytesIO(_photo())).convert("RGB")
    ImageDraw.Draw(image).text((200, 380), "07700 900827", fill="white", font=_font(30))
    out = io.BytesIO()
    image.save(out, "JPEG", quality=90)
    assert photo_problem(_cleaned(out.getvalue()).data) == PHOTO_MESSAGE


@needs_ocr
def test_a_photo_carrying_a_qr_code_of_a_link_is_refused():
    assert photo_problem(_cleaned(_photo_with_qr("https://example.com/jay"), "me.png").data) == PHOTO_MESSAGE


@needs_ocr
def test_a_photo_with_ordinary_words_on_it_passes():
    assert photo_problem(_cleaned(_photo("Happy to help")).data) is None


def test_without_tesseract_photos_are_refused(monkeypatch):
    monkeypatch.setattr(contact_details.shutil, "which", lambda name: None)
    assert not contact_details.photo_checker_available()
    assert photo_problem(_photo()) == PHOTO_UNCHECKED_MESSAGE


def test_when_the_checker_is_reported_missing_photos_are_refused(monkeypatch):
    monkeypatch.setattr(contact_details, "photo_checker_available", lambda: False)
    assert photo_problem(_photo()) == PHOTO_UNCHECKED_MESSAGE


def test_without_the_qr_reader_photos_are_refused(monkeypatch):
    monkeypatch.setitem(sys.modules, "zxingcpp", None)  # `import zxingcpp` now raises ImportError
    assert photo_problem(_photo()) == PHOTO_UNCHECKED_MESSAGE


@needs_ocr
def test_when_ocr_fails_the_photo_is_refused(monkeypatch):
    import pytesseract

    def broken(*args, **kwargs):
        raise RuntimeError("tesseract crashed")

    monkeypatch.setattr(pytesseract, "image_to_string", broken)
    assert photo_problem(_photo()) == PHOTO_UNCHECKED_MESSAGE


def test_a_picture_that_is_not_an_image_is_refused():
    assert photo_problem(b"not an image at all") == PHOTO_UNCHECKED_MESSAGE


@needs_ocr
def test_a_refused_photo_is_not_stored_on_the_profile(app):
    from portal.services import register

    with app.app_context():
        profile = db.session.scalar(sa.select(PAProfile).where(PAProfile.person_id == person_id(app, "Jay", "Singh")))
        storage = Storage.from_config()
        before = set(os.listdir(storage.folder)) if storage.folder.exists() else set()
        with pytest.raises(UploadRefused) as refused:
            register.set_photo(profile, _cleaned(_photo("Call 07700 900827")), storage)
        assert refused.value.message == PHOTO_MESSAGE
        db.session.refresh(profile)
        assert profile.photo_name is None
        after = set(os.listdir(storage.folder)) if storage.folder.exists() else set()
        assert after == before

        register.set_photo(profile, _cleaned(_photo()), storage)
        db.session.refresh(profile)
        assert profile.photo_name and (storage.folder / profile.photo_name).exists()
