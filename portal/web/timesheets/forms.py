"""Forms for timesheets: a shift, a claim, sending back, marking paid, a paper timesheet.

Times are typed as on a clock ("9:30", "21:00"); the day is chosen from the period's days, so a shift
can only be entered inside its period.
"""

import re
from datetime import time
from decimal import Decimal, InvalidOperation

from flask_wtf import FlaskForm
from flask_wtf.file import FileField
from govuk_frontend_wtf.wtforms_widgets import (
    GovCheckboxInput,
    GovFileInput,
    GovSelect,
    GovSubmitInput,
    GovTextArea,
    GovTextInput,
)
from wtforms import BooleanField, HiddenField, IntegerField, RadioField, SelectField, StringField, SubmitField, TextAreaField
from wtforms.validators import InputRequired, Length, NumberRange, Optional, StopValidation

from portal.models import RateType
from portal.web.budgets.forms import GovDateField, MoneyField, RadiosWidget

_CLOCK = re.compile(r"^(\d{1,2})(?:[:.](\d{2}))?\s*(am|pm)?$", re.IGNORECASE)


def parse_clock(text: str) -> time | None:
    """ "9:30", "09.30", "21:00", "9pm", "12am" as a time; None if it is not a time of day."""
    match = _CLOCK.match((text or "").strip())
    if not match:
        return None
    hours, minutes, half = int(match.group(1)), int(match.group(2) or 0), (match.group(3) or "").lower()
    if half:
        if not 1 <= hours <= 12:
            return None
        hours = hours % 12 + (12 if half == "pm" else 0)
    elif match.group(2) is None:
        return None  # "9" alone is ambiguous: ask for 09:00 or 21:00
    if hours > 23 or minutes > 59:
        return None
    return time(hours, minutes)


class ClockField(StringField):
    widget = GovTextInput()

    def __init__(self, label, *, noun: str, **kwargs):
        kwargs.setdefault("description", "Use the 24-hour clock, for example 09:30 or 21:00")
        super().__init__(label, **kwargs)
        self.noun = noun
        self.time: time | None = None

    def pre_validate(self, form):
        text = (self.data or "").strip()
        if not text:
            raise StopValidation(f"Enter the {self.noun}, like 09:30")
        self.time = parse_clock(text)
        if self.time is None:
            raise StopValidation(f"Enter the {self.noun} as a time on the 24-hour clock, like 09:30 or 21:00")


class VersionedForm(FlaskForm):
    """Every change carries the version of the timesheet the page was drawn from."""

    version = HiddenField()

    def version_number(self) -> int:
        try:
            return int(self.version.data)
        except (TypeError, ValueError):
            return -1


class ShiftForm(VersionedForm):
    work_date = SelectField("Day", widget=GovSelect(), validators=[InputRequired(message="Choose the day the shift started")])
    start_time = ClockField("Start time", noun="start time")
    end_time = ClockField("Finish time", noun="finish time")
    ends_next_day = BooleanField("The shift finished the next day (after midnight)", widget=GovCheckboxInput())
    break_minutes = IntegerField(
        "Unpaid break, in minutes", widget=GovTextInput(), default=0,
        validators=[Optional(), NumberRange(min=0, max=1439, message="Enter the break in minutes, like 30, or 0 for none")],
        description="Enter 0 if there was no unpaid break")
    rate_type = RadioField(
        "Kind of hours", widget=RadiosWidget(), default=RateType.DAY.value,
        choices=[(RateType.DAY.value, "Day"), (RateType.NIGHT.value, "Night"), (RateType.WEEKEND.value, "Weekend"),
                 (RateType.SLEEP_IN.value, "Sleep-in (paid as a flat amount)")],
        validators=[InputRequired(message="Choose the kind of hours")])
    notes = StringField("Notes (optional)", widget=GovTextInput(), validators=[Length(max=200, message="Notes must be 200 characters or fewer")])
    add_shift = SubmitField("Add shift", widget=GovSubmitInput())


class MilesField(StringField):
    widget = GovTextInput()

    def pre_validate(self, form):
        self.miles = None
        text = (self.data or "").strip()
        if form.kind.data != "mileage":
            return
        try:
            miles = Decimal(text)
        except InvalidOperation:
            raise StopValidation("Enter the miles as a number, like 12.5") from None
        if not miles.is_finite() or miles <= 0 or miles > 2000 or miles.as_tuple().exponent < -1:
            raise StopValidation("Enter the miles as a number between 0.1 and 2,000, like 12.5")
        self.miles = miles


class ClaimForm(VersionedForm):
    kind = RadioField("What are you claiming?", widget=RadiosWidget(), default="mileage",
                      choices=[("mileage", "Mileage"), ("expense", "An expense, with its receipt")],
                      validators=[InputRequired(message="Choose mileage or an expense")])
    claim_date = SelectField("Day", widget=GovSelect(), validators=[InputRequired(message="Choose the day")])
    description = StringField("What was it for?", widget=GovTextInput(),
                              validators=[InputRequired(message="Say what the claim was for"), Length(max=200)])
    miles = MilesField("Miles driven (for mileage)", description="For example, 12.5")
    amount = MoneyField("Amount spent (for an expense)", noun="the amount spent", example="£4.50", optional=True)
    receipt = FileField("Receipt (for an expense)", widget=GovFileInput(),
                        description="A photo or scan: JPEG, PNG or PDF, up to 10MB")
    add_claim = SubmitField("Add claim", widget=GovSubmitInput())


class ActionForm(VersionedForm):
    """Submit, approve, correct, remove: a button and the version."""


class SendBackForm(VersionedForm):
    reason = TextAreaField("What needs to change?", widget=GovTextArea(),
                           description="The PA sees this. For example, ‘Tuesday finished at 14:00, not 15:00’.",
                           validators=[InputRequired(message="Say what needs to change, so the PA can put it right"),
                                       Length(max=500, message="Keep it to 500 characters or fewer")])
    submit = SubmitField("Send back", widget=GovSubmitInput())


class PaidForm(FlaskForm):
    paid_on = GovDateField("Date you paid", noun="date you paid")
    submit = SubmitField("Mark as paid", widget=GovSubmitInput())


def _hours(text: str, noun: str) -> int:
    """Hours typed as "7.5" or "7:30", in minutes."""
    text = (text or "").strip()
    if not text:
        return 0
    clock = re.match(r"^(\d{1,3}):(\d{2})$", text)
    if clock and int(clock.group(2)) < 60:
        return int(clock.group(1)) * 60 + int(clock.group(2))
    try:
        value = Decimal(text)
    except InvalidOperation:
        raise StopValidation(f"Enter {noun} as a number, like 7.5") from None
    if not value.is_finite() or value < 0 or value > 750:
        raise StopValidation(f"Enter {noun} between 0 and 750")
    minutes = value * 60
    if minutes != minutes.to_integral_value():
        raise StopValidation(f"Enter {noun} to the nearest minute, like 7.5 or 7:30")
    return int(minutes)


class HoursField(StringField):
    widget = GovTextInput()

    def __init__(self, label, *, noun: str, **kwargs):
        kwargs.setdefault("description", "For example, 7.5 or 7:30. Leave empty for none.")
        super().__init__(label, **kwargs)
        self.noun = noun
        self.minutes = 0

    def pre_validate(self, form):
        self.minutes = _hours(self.data, self.noun)


class KeyedTotalsMixin:
    day_hours = HoursField("Day hours", noun="day hours")
    night_hours = HoursField("Night hours", noun="night hours")
    weekend_hours = HoursField("Weekend hours", noun="weekend hours")
    sleep_ins = IntegerField("Sleep-ins (nights)", widget=GovTextInput(), validators=[
        Optional(), NumberRange(min=0, max=31, message="Enter the number of sleep-ins, from 0 to 31")])


class PaperForm(KeyedTotalsMixin, FlaskForm):
    employment = SelectField("Personal assistant", widget=GovSelect(), validators=[InputRequired(message="Choose the PA")])
    period = SelectField("Pay period", widget=GovSelect(), validators=[InputRequired(message="Choose the pay period")])
    scan = FileField("Photo or scan of the signed timesheet", widget=GovFileInput(),
                     description="JPEG, PNG or PDF, up to 10MB")
    leave_for_dpss = BooleanField("Leave the totals for the support service to type in", widget=GovCheckboxInput())
    submit = SubmitField("Upload timesheet", widget=GovSubmitInput())


class StartForm(FlaskForm):
    employment = HiddenField()
    period_start = HiddenField()
