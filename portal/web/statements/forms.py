"""The statement's period: a GET form of two GOV.UK date inputs (From, To).

The page sends each date as three boxes of one name (?from=1&from=6&from=2026, as
govuk-frontend-wtf's date widget does); the download links send one ISO date (?from=2026-06-01).
Both arrive through the same field, so the page and its PDF and CSV read a period the same way.
"""

from datetime import date

from flask_wtf import FlaskForm
from govuk_frontend_wtf.wtforms_widgets import GovDateInput
from wtforms import DateField

from portal.services.statements import MAX_YEARS, too_long

REAL_DATE = "Enter a real date"
END_BEFORE_START = "The end date must be the same as or after the start date"
TOO_LONG = f"A statement can cover up to {MAX_YEARS} years. Enter a shorter period"


class PeriodDateField(DateField):
    """A date from day, month and year boxes, or from one YYYY-MM-DD value."""

    def __init__(self, label, missing_message: str, **kwargs):
        super().__init__(label, widget=GovDateInput(), **kwargs)
        self.missing_message = missing_message

    def process_formdata(self, valuelist):
        self.data = None
        values = [str(v).strip() for v in valuelist]
        if len(values) == 1:  # from a download link: one ISO date
            text = values[0]
            try:
                parsed = date.fromisoformat(text)
            except ValueError:
                parsed = None
            # The widget shows three boxes: give it three values either way.
            self.raw_data = [str(parsed.day), str(parsed.month), str(parsed.year)] if parsed else ["", "", ""]
            if not text:
                raise ValueError(self.missing_message)
            if parsed is None or parsed.year < 1900:
                raise ValueError(REAL_DATE)
            self.data = parsed
            return
        if len(values) != 3:
            self.raw_data = ["", "", ""]
            raise ValueError(REAL_DATE if any(values) else self.missing_message)
        self.raw_data = values
        if not any(values):
            raise ValueError(self.missing_message)
        day, month, year = values
        if not (day.isdigit() and month.isdigit() and year.isdigit() and len(year) == 4 and int(year) >= 1900):
            raise ValueError(REAL_DATE)
        try:
            self.data = date(int(year), int(month), int(day))
        except ValueError:
            raise ValueError(REAL_DATE) from None


class StatementPeriodForm(FlaskForm):
    class Meta:
        csrf = False  # a GET form that changes nothing

    start = PeriodDateField("From", "Enter the start date", name="from", description="For example, 1 6 2026")
    end = PeriodDateField("To", "Enter the end date", name="to", description="For example, 28 6 2026")

    def validate(self, extra_validators=None) -> bool:
        valid = super().validate(extra_validators)
        if self.start.data and self.end.data:
            if self.end.data < self.start.data:
                self.end.errors.append(END_BEFORE_START)
                valid = False
            elif too_long(self.start.data, self.end.data):
                self.end.errors.append(TOO_LONG)
                valid = False
        return valid
