"""The form for keying in a paper timesheet's totals (hours as 7.5, 7:30 or 7h 30m; sleep-ins as a number)."""

import re
from datetime import date, datetime
from decimal import ROUND_HALF_UP, Decimal, InvalidOperation

from flask_wtf import FlaskForm
from govuk_frontend_wtf.wtforms_widgets import GovSubmitInput, GovTextInput
from wtforms import Field, HiddenField, SubmitField
from wtforms.validators import InputRequired

MAX_HOURS = 24 * 31  # more than a month of round-the-clock hours is a typing mistake
MAX_SLEEP_INS = 31
HOURS_HINT = "Enter hours like 7.5 or 7:30"

_DECIMAL = re.compile(r"^(\d{1,4})(?:\.(\d{1,2}))?$|^\.(\d{1,2})$")
_CLOCK = re.compile(r"^(\d{1,4}):([0-5]\d)$")
_WORDS = re.compile(r"^(?:(\d{1,4})\s*(?:h|hr|hrs|hour|hours))?\s*(?:(\d{1,2})\s*(?:m|min|mins|minute|minutes))?$")


def parse_hours(text: str | None) -> int:
    """Minutes from "7.5", "7:30", "7h 30m" or "7 hours 30 minutes" (blank: 0). ValueError with a message."""
    text = " ".join((text or "").strip().lower().split())
    if not text:
        return 0
    if _DECIMAL.match(text):
        try:
            minutes = int((Decimal(text) * 60).quantize(Decimal(1), rounding=ROUND_HALF_UP))
        except InvalidOperation:  # pragma: no cover - the pattern only lets numbers through
            raise ValueError(HOURS_HINT) from None
    elif match := _CLOCK.match(text):
        minutes = int(match.group(1)) * 60 + int(match.group(2))
    elif (match := _WORDS.match(text)) and (match.group(1) or match.group(2)):
        mins = int(match.group(2) or 0)
        if mins >= 60:
            raise ValueError("Enter minutes from 0 to 59, like 7 hours 30 minutes")
        minutes = int(match.group(1) or 0) * 60 + mins
    else:
        raise ValueError(HOURS_HINT)
    if minutes > MAX_HOURS * 60:
        raise ValueError(f"Enter no more than {MAX_HOURS} hours")
    return minutes


def parse_day(text: str | None) -> date | None:
    """A date typed as 2026-11-01, 1/11/2026 or 1 November 2026 (None when blank; ValueError if not a date)."""
    text = " ".join((text or "").strip().split())
    if not text:
        return None
    for pattern in ("%Y-%m-%d", "%d/%m/%Y", "%d %B %Y", "%d %b %Y"):
        try:
            return datetime.strptime(text, pattern).date()
        except ValueError:
            continue
    raise ValueError(text)


class HoursField(Field):
    """Hours worked, kept as whole minutes."""

    widget = GovTextInput()

    def process_formdata(self, valuelist):
        self.data = 0
        if valuelist:
            self.data = parse_hours(valuelist[0])

    def _value(self):
        if self.raw_data:
            return self.raw_data[0]
        if not self.data:
            return ""
        hours, minutes = divmod(self.data, 60)
        return f"{hours}:{minutes:02d}" if minutes else str(hours)


class SleepInsField(Field):
    widget = GovTextInput()

    def process_formdata(self, valuelist):
        self.data = 0
        text = (valuelist[0] if valuelist else "").strip()
        if not text:
            return
        if not re.fullmatch(r"\d{1,3}", text):
            raise ValueError("Enter the number of sleep-ins as a whole number, like 2")
        if int(text) > MAX_SLEEP_INS:
            raise ValueError(f"Enter no more than {MAX_SLEEP_INS} sleep-ins")
        self.data = int(text)

    def _value(self):
        if self.raw_data:
            return self.raw_data[0]
        return str(self.data) if self.data else ""


class KeyInForm(FlaskForm):
    day_hours = HoursField("Day hours", description="For example, 7.5 or 7:30 for seven and a half hours")
    night_hours = HoursField("Night hours")
    weekend_hours = HoursField("Weekend hours")
    sleep_ins = SleepInsField("Sleep-ins", description="The number of nights")
    version = HiddenField(validators=[InputRequired("Open the timesheet again and key it in")])
    submit = SubmitField("Save the totals", widget=GovSubmitInput())
