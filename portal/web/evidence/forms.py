"""Forms for receipts and manual spending. The file itself is checked by services.evidence, not here."""

from datetime import date

from flask_wtf import FlaskForm
from flask_wtf.file import FileField, FileRequired
from govuk_frontend_wtf.wtforms_widgets import GovDateInput, GovFileInput, GovRadioInput, GovSubmitInput, GovTextInput
from wtforms import Field, RadioField, StringField, SubmitField
from wtforms.validators import DataRequired, Length, StopValidation, ValidationError

from portal.models import Category
from portal.services.clock import london_today

FILE_HINT = "A PDF, JPG or PNG, smaller than 10MB. A clear photo of a paper receipt is fine."
# What the browser's file chooser offers first (the server decides by content, whatever this says).
ACCEPT = ".pdf,.jpg,.jpeg,.png,application/pdf,image/jpeg,image/png"


class ReceiptForm(FlaskForm):
    receipt = FileField(
        "Upload a receipt or invoice",
        widget=GovFileInput(),
        description=FILE_HINT,
        validators=[FileRequired("Select a receipt or invoice")],
    )
    submit = SubmitField("Add receipt", widget=GovSubmitInput())


class PaymentDateField(Field):
    """Day, month and year boxes, with the GOV.UK messages for each way a date can be wrong."""

    widget = GovDateInput()

    def __init__(self, label=None, validators=None, *, what: str, **kwargs):
        super().__init__(label, validators, **kwargs)
        self.what = what
        self.problem = None

    def process_formdata(self, valuelist):
        parts = [str(value).strip() for value in valuelist[:3]]
        parts += [""] * (3 - len(parts))
        self.raw_data = parts  # the widget shows these back, always three of them
        self.data, self.problem = None, None
        day, month, year = parts
        if not any(parts):
            self.problem = f"Enter {self.what}"
            return
        missing = [name for name, value in zip(("day", "month", "year"), parts) if not value]
        if missing:
            self.problem = f"{self.what.capitalize()} must include a {' and a '.join(missing)}"
            return
        if not all(value.isdigit() for value in parts) or len(year) != 4:
            self.problem = f"{self.what.capitalize()} must be a real date"
            return
        try:
            self.data = date(int(year), int(month), int(day))
        except ValueError:
            self.problem = f"{self.what.capitalize()} must be a real date"

    def pre_validate(self, form):
        if self.problem:
            raise StopValidation(self.problem)
        if self.data is None:
            raise StopValidation(f"Enter {self.what}")

    def _value(self):
        return self.data.strftime("%d %m %Y") if self.data else ""


def _category_label(category: Category) -> str:
    return category.value[:1].upper() + category.value[1:]


class SpendingForm(FlaskForm):
    # Shown only when the recipient has more than one bank account (the view removes it otherwise).
    account = RadioField("Which bank account did the money come from?", widget=GovRadioInput(), validate_choice=False,
                         validators=[DataRequired("Select the bank account the money came from")])
    date_paid = PaymentDateField("When did you pay?", what="the date you paid", description="For example, 27 3 2026")
    payee = StringField(
        "Who did you pay?",
        widget=GovTextInput(),
        description="The name on the receipt, for example a shop, a taxi firm or a care agency",
        validators=[DataRequired("Enter who you paid"), Length(max=200, message="Who you paid must be 200 characters or fewer")],
    )
    category = RadioField(
        "What was it for?",
        widget=GovRadioInput(),
        choices=[(c.value, _category_label(c)) for c in Category],
        validate_choice=False,
        validators=[DataRequired("Select what the spending was for")],
    )
    description = StringField(
        "What did you buy? (optional)",
        widget=GovTextInput(),
        description="For example, taxi to the day centre. Do not include anyone's health or personal details.",
        validators=[Length(max=200, message="What you bought must be 200 characters or fewer")],
    )
    # Parsed to pence by services.evidence.parse_amount (never through a float).
    amount = StringField("How much did you pay?", widget=GovTextInput(), description="For example, 12.50")
    receipt = FileField(
        "Upload the receipt or invoice",
        widget=GovFileInput(),
        description=FILE_HINT,
        validators=[FileRequired("Select the receipt or invoice")],
    )
    submit = SubmitField("Add spending", widget=GovSubmitInput())

    def validate_date_paid(self, field):
        if field.data and field.data > london_today():
            raise ValidationError("The date you paid must be today or in the past")

    def validate_account(self, field):
        if field.data not in {value for value, _ in field.choices}:
            raise ValidationError("Select the bank account the money came from")

    def validate_category(self, field):
        if field.data not in {c.value for c in Category}:
            raise ValidationError("Select what the spending was for")
