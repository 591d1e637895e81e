"""Typed amounts to whole hundredths (pounds to pence, percentages to basis points) and back.

The one place text becomes money: no floats on the way. "£1,234.5" is 123450; "7" is 700.
"""

import re

HUNDREDTHS = re.compile(r"^(\d{1,3}(?:,\d{3})+|\d+)(?:\.(\d{1,2}))?$")


def to_hundredths(text: str | None) -> int | None:
    """The amount in hundredths, or None if the text is not an amount (a sign is the caller's business)."""
    cleaned = (text or "").strip().removeprefix("£").removesuffix("%").strip()
    match = HUNDREDTHS.match(cleaned)
    if not match:
        return None
    whole, fraction = match.group(1).replace(",", ""), match.group(2) or ""
    return int(whole) * 100 + int((fraction + "00")[:2])


def pence_as_text(pence: int | None) -> str:
    """Integer pence as a person would type them ("448.00"), to fill a form again."""
    if pence is None:
        return ""
    sign = "-" if pence < 0 else ""
    return f"{sign}{abs(pence) // 100}.{abs(pence) % 100:02d}"
