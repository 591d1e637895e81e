"""Forms for card imports, rows kept for review, and the money settings (GOV.UK widgets and messages)."""

import re
from datetime import date

from flask_wtf import FlaskForm
from flask_wtf.file import FileField, FileRequired
from govuk_frontend_wtf.wtforms_widgets import (
    GovDateInput,
    GovFileInput,
    GovRadioInput,
    GovSelect,
    GovSubmitInput,
    GovTextInput,
)
from wtforms import (
    DateField,
    Field,
    HiddenField,
    IntegerField,
    RadioField,
    SelectField,
    StringField,
    SubmitField,
)
from wtforms.validators import (
    DataRequired,
    Email,
    InputRequired,
    Length,
    NumberRange,
    Optional,
    Regexp,
)

from portal.models import Category, Flag
from portal.services import amounts
from portal.services.audits import AUDIT_MONTHS_RANGE
from portal.services.card_import import LAYOUTS
from portal.services.local_settings import EXCESS_WEEKS_RANGE, RETENTION_YEARS_RANGE

# Plain names for the providers' layouts; a layout added to card_import.LAYOUTS without one shows its code.
LAYOUT_NAMES = {
    "standard": "Standard export (Debit and Credit columns)",
    "signed-iso": "Signed amounts, semicolons, ISO dates",
}
LAYOUT_HINTS = {
    "standard": "Dates like 01/06/2026, money out in a Debit column and money in in a Credit column",
    "signed-iso": "Dates like 2026-06-01, one Amount column with money out as a negative amount",
}

# Flags a rule may give. "Outside the support plan" is worked out from each person's plan, not by a rule.
RULE_FLAGS = [Flag.CASH, Flag.GAMBLING, Flag.ALCOHOL, Flag.TOBACCO]


# Fields ----------------------------------------------------------------------------------------


class GovDateField(DateField):
    """Day, month and year boxes (GOV.UK date input). Always keeps three raw values so the widget renders."""

    def __init__(self, label=None, validators=None, invalid_message="Enter a real date", **kwargs):
        super().__init__(label, validators, format="%d %m %Y", widget=GovDateInput(), **kwargs)
        self.invalid_message = invalid_message

    def process_formdata(self, valuelist):
        parts = [str(v).strip() for v in valuelist[:3]]
        parts += [""] * (3 - len(parts))
        self.raw_data = parts
        self.data = None
        if not any(parts):
            return  # nothing entered: the required validator says so
        day, month, year = parts
        if not (day.isdigit() and month.isdigit() and year.isdigit() and len(year) == 4):
            raise ValueError(self.invalid_message)
        try:
            self.data = date(int(year), int(month), int(day))
        except ValueError:
            raise ValueError(self.invalid_message) from None


class WholeNumberField(IntegerField):
    """A whole number typed in a text box, with a GOV.UK message when it is not one."""

    def __init__(self, label=None, validators=None, invalid_message="Enter a whole number", **kwargs):
        kwargs.setdefault("widget", GovTextInput())
        super().__init__(label, validators, **kwargs)
        self.invalid_message = invalid_message

    def process_formdata(self, valuelist):
        self.data = None
        if not valuelist or not valuelist[0].strip():
            return
        text = valuelist[0].strip()
        if not re.fullmatch(r"-?\d{1,9}", text):
            raise ValueError(self.invalid_message)
        self.data = int(text)


class HundredthsField(Field):
    """A number with up to 2 decimal places, kept as a whole number of hundredths: pounds to pence
    ("50.00" to 5000), or a percentage to basis points ("13.8" to 1380). No floats on the way."""

    widget = GovTextInput()

    def __init__(self, label=None, validators=None, invalid_message="Enter an amount, like 50.00", **kwargs):
        super().__init__(label, validators, **kwargs)
        self.invalid_message = invalid_message

    def process_formdata(self, valuelist):
        self.data = None
        if not valuelist:
            return
        text = valuelist[0].strip()
        if not text.removeprefix("£").removesuffix("%").strip():
            return
        value = amounts.to_hundredths(text)
        if value is None:
            raise ValueError(self.invalid_message)
        if value >= 10_000_000 * 100:
            raise ValueError("Enter an amount less than 10,000,000")
        self.data = value

    def _value(self):
        if self.raw_data:
            return self.raw_data[0]
        return amounts.pence_as_text(self.data)


# Card imports ----------------------------------------------------------------------------------


class CardImportForm(FlaskForm):
    statement = FileField(
        "Card statement file",
        widget=GovFileInput(),
        description="A CSV file exported from the prepaid card provider",
        validators=[FileRequired("Select a card statement file")],
    )
    layout = RadioField(
        "How is the file laid out?",
        widget=GovRadioInput(),
        choices=[(name, LAYOUT_NAMES.get(name, name)) for name in LAYOUTS],
        default="standard",
        validators=[DataRequired("Select how the file is laid out")],
    )
    submit = SubmitField("Upload and import", widget=GovSubmitInput())


class ResolveForm(FlaskForm):
    """The confirmation of attaching a row kept for review: who and which account, restated on the page."""

    recipient_id = HiddenField(validators=[DataRequired()])
    account_id = HiddenField(validators=[DataRequired()])
    submit = SubmitField("Add to this account", widget=GovSubmitInput())


class ActionForm(FlaskForm):
    """A button that changes state: just the CSRF token."""


# Money settings --------------------------------------------------------------------------------


class CouncilSettingsForm(FlaskForm):
    effective_from = GovDateField(
        "Date these settings start",
        description="For example, 1 4 2027. Usually today or later: a date in the past changes the settings used for that past time.",
        invalid_message="The start date must be a real date",
        validators=[InputRequired("Enter the date these settings start")],
    )
    cycle_anchor = GovDateField(
        "First day of a payment cycle",
        description="Direct payments are paid every 4 weeks in advance, in cycles counted from this date. For example, 1 6 2026",
        invalid_message="The first day of a payment cycle must be a real date",
        validators=[InputRequired("Enter the first day of a payment cycle")],
    )
    excess_weeks = WholeNumberField(
        "Excess balance threshold, in weeks of payment",
        description="A balance above this many weeks of the gross payment is reviewed. For example, 4",
        invalid_message="The excess balance threshold must be a whole number of weeks, like 4",
        validators=[
            InputRequired("Enter the excess balance threshold in weeks"),
            NumberRange(*EXCESS_WEEKS_RANGE, message="The excess balance threshold must be between {} and {} weeks".format(*EXCESS_WEEKS_RANGE)),
        ],
    )
    contingency = HundredthsField(
        "Contingency allowed",
        description="Money a person may keep for the unexpected before a balance counts as surplus, in pounds. For example, 50.00",
        invalid_message="Enter the contingency in pounds and pence, like 50.00",
        validators=[InputRequired("Enter the contingency, or 0.00 for none")],
    )
    evidence_threshold = HundredthsField(
        "Spending that needs no receipt: below this amount",
        description="In pounds. Enter 0.00 if every spend needs a receipt",
        invalid_message="Enter the amount in pounds and pence, like 25.00",
        validators=[InputRequired("Enter the amount below which no receipt is needed, or 0.00")],
    )
    retention_years = WholeNumberField(
        "Keep records for, in years",
        description="Between {} and {} years. Pay records are always kept for at least 6 years".format(*RETENTION_YEARS_RANGE),
        invalid_message="Enter the number of years as a whole number, like 6",
        validators=[
            InputRequired("Enter how many years records are kept for"),
            NumberRange(*RETENTION_YEARS_RANGE, message="Records must be kept for between {} and {} years".format(*RETENTION_YEARS_RANGE)),
        ],
    )
    # Issue 6 (audits): how often each person's direct payment is audited.
    audit_months = WholeNumberField(
        "Audit every, in months (optional)",
        description="Each person's direct payment is audited this many months after the last audit, or after the "
                    "first payment. Between {} and {} months. Left empty, it stays as it is".format(*AUDIT_MONTHS_RANGE),
        invalid_message="Enter the number of months as a whole number, like 12",
        validators=[
            Optional(),
            NumberRange(*AUDIT_MONTHS_RANGE, message="Audits must be between {} and {} months apart".format(*AUDIT_MONTHS_RANGE)),
        ],
    )
    # Issue 6 (casework): where safeguarding concerns about the council's people are emailed at once.
    safeguarding_email = StringField(
        "Safeguarding contact email (optional)",
        widget=GovTextInput(),
        description="Concerns reported about the council's people are emailed here at once, as well as going to their support service",
        filters=[lambda value: value.strip() if isinstance(value, str) else value],
        validators=[
            Optional(),
            Email("Enter the safeguarding contact email in the correct format, like safeguarding@council.example", check_deliverability=False),
            Length(max=200, message="The safeguarding contact email must be 200 characters or fewer"),
        ],
    )
    submit = SubmitField("Save settings", widget=GovSubmitInput())


RATE_UNITS = [
    ("pence per hour", "Pounds per hour, like 12.71"),
    ("pence", "Pounds, like 12570.00"),
    ("basis points", "A percentage, like 13.8"),
]


class NationalRateForm(FlaskForm):
    existing_key = SelectField("Rate", widget=GovSelect(), validators=[Optional()])
    new_key = StringField(
        "Key for a new rate",
        widget=GovTextInput(),
        description="Only for a new rate: lower-case words joined by dots and underscores, like minimum_wage.21_and_over",
        validators=[Optional(), Length(max=60, message="The key must be 60 characters or fewer")],
    )
    label = StringField(
        "Name", widget=GovTextInput(), description="As people will read it, like National Living Wage, age 21 and over",
        validators=[DataRequired("Enter the rate's name"), Length(max=200, message="The name must be 200 characters or fewer")],
    )
    effective_from = GovDateField(
        "Date this rate starts",
        description="For example, 1 4 2027",
        invalid_message="The start date must be a real date",
        validators=[InputRequired("Enter the date this rate starts")],
    )
    unit = RadioField(
        "Unit", widget=GovRadioInput(), choices=RATE_UNITS, validators=[DataRequired("Select the unit")],
    )
    value = HundredthsField(
        "Amount",
        description="Up to 2 decimal places, in the unit chosen above",
        invalid_message="Enter the amount as a number with up to 2 decimal places, like 12.71",
        validators=[InputRequired("Enter the amount")],
    )
    source = StringField(
        "Source", widget=GovTextInput(), description="Where the figure comes from, like the GOV.UK page that announced it",
        validators=[DataRequired("Enter where the figure comes from"), Length(max=200, message="The source must be 200 characters or fewer")],
    )
    submit = SubmitField("Save rate", widget=GovSubmitInput())

    def validate(self, extra_validators=None) -> bool:
        valid = super().validate(extra_validators)
        existing, new = self.existing_key.data or "", (self.new_key.data or "").strip()
        if existing and new:
            self.new_key.errors.append("Leave the key empty when you add a row to an existing rate")
            return False
        if not existing and not new:
            self.new_key.errors.append("Enter a key for the new rate, or select an existing rate")
            return False
        return valid

    @property
    def key(self) -> str:
        return self.existing_key.data or (self.new_key.data or "").strip()


class CategoryRuleForm(FlaskForm):
    position = WholeNumberField(
        "Order",
        description="Rules are tried from the lowest number up: the first matching rule with a category gives the category, and every matching rule adds its flag",
        invalid_message="Enter the order as a whole number, like 120",
        validators=[InputRequired("Enter the order"), NumberRange(0, 100_000, message="The order must be between 0 and 100000")],
    )
    merchant_contains = StringField(
        "Merchant name contains", widget=GovTextInput(), description="Matched in capitals or small letters alike, like TESCO",
        validators=[Optional(), Length(max=100, message="The merchant text must be 100 characters or fewer")],
    )
    mcc = StringField(
        "Merchant category code (MCC)", widget=GovTextInput(), description="4 digits, like 5411",
        validators=[Optional(), Regexp(r"^\d{4}$", message="Enter the merchant category code as 4 digits, like 5411")],
    )
    category = SelectField(
        "Category", widget=GovSelect(),
        choices=[("", "No category")] + [(c.value, c.value[:1].upper() + c.value[1:]) for c in Category],
        validators=[Optional()],
    )
    flag = SelectField(
        "Flag for an explanation", widget=GovSelect(),
        choices=[("", "No flag")] + [(f.value, f.value[:1].upper() + f.value[1:]) for f in RULE_FLAGS],
        validators=[Optional()],
    )
    submit = SubmitField("Save rule", widget=GovSubmitInput())

    def validate(self, extra_validators=None) -> bool:
        valid = super().validate(extra_validators)
        if not (self.merchant_contains.data or "").strip() and not (self.mcc.data or "").strip():
            self.merchant_contains.errors.append("Enter merchant text or a merchant category code")
            valid = False
        if not self.category.data and not self.flag.data:
            self.category.errors.append("Select a category or a flag")
            valid = False
        return valid
