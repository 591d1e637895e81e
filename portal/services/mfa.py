"""Authenticator (TOTP) codes: set-up with a QR code, and each code accepted once per account."""

import pyotp
import segno

from portal.models import User
from portal.services.clock import utcnow

ISSUER = "Direct payments portal"


def new_secret() -> str:
    return pyotp.random_base32()


def provisioning_uri(secret: str, email: str) -> str:
    return pyotp.TOTP(secret).provisioning_uri(name=email, issuer_name=ISSUER)


def qr_svg(uri: str) -> str:
    """The QR code as inline SVG markup made by segno from our own URI (no user text in it)."""
    return segno.make(uri, error="m").svg_inline(scale=5, title="QR code for your authenticator app")


def matching_step(secret: str, code: str, last_step: int) -> int | None:
    """The time-step a code belongs to (allowing one step of clock drift), if valid and newer than last_step."""
    code = "".join(code.split())
    if not (code.isdigit() and len(code) == 6):
        return None
    totp = pyotp.TOTP(secret)
    now_step = totp.timecode(utcnow())
    for step in (now_step, now_step - 1, now_step + 1):
        if step > last_step and pyotp.utils.strings_equal(totp.generate_otp(step), code):
            return step
    return None


def accept_code(user: User, code: str, secret: str | None = None) -> bool:
    """Check a code for the user's authenticator (or a secret being set up) and use it up."""
    secret = secret or user.totp_secret
    if not secret:
        return False
    step = matching_step(secret, code, user.totp_last_step or 0)
    if step is None:
        return False
    user.totp_last_step = step
    return True
