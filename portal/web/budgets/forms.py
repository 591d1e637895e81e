"""Forms for budgets and support plans: money typed as pounds and pence, dates as GOV.UK date inputs.

Money is parsed straight from the text into integer pence (never through a float); each field keeps
what the person typed, so a form shown again with errors shows their own words back to them.
"""

import re
from datetime import date
from decimal import Decimal

from flask_wtf import FlaskForm
from govuk_frontend_wtf.gov_form_base import GovFormBase
from govuk_frontend_wtf.wtforms_widgets import (
    GovDateInput,
    GovRadioInput,
    GovSelect,
    GovSubmitInput,
    GovTextArea,
    GovTextInput,
)
from wtforms import (
    Field,
    FieldList,
    Form,
    FormField,
    RadioField,
    SelectChoice,
    SelectField,
    StringField,
    SubmitField,
    TextAreaField,
)
from wtforms.validators import DataRequired, Length, StopValidation, ValidationError

from portal.models import BudgetKind, Category, Delivery, PaymentMethod
from portal.services import amounts

MAX_POUNDS = 9_999_999  # fits an integer column of pence with room to spare
_HOURS = re.compile(r"^\d{1,3}(?:\.\d{1,2})?$")


def parse_pence(text: str) -> int | None:
    """ "1,234.5" or "£448" as integer pence; None if it is not an amount of money."""
    return amounts.to_hundredths(text)


pence_as_text = amounts.pence_as_text


class MoneyField(StringField):
    """Pounds and pence typed as text; the amount, in integer pence, is in .pence after validation."""

    widget = GovTextInput()

    def __init__(self, label, *, noun: str, example: str, optional: bool = False, **kwargs):
        super().__init__(label, **kwargs)
        self.noun, self.example, self.optional = noun, example, optional
        self.pence: int | None = None

    def pre_validate(self, form):
        text = (self.data or "").strip()
        self.pence = None
        if not text:
            if self.optional:
                return
            raise StopValidation(f"Enter {self.noun}, like {self.example}")
        pence = parse_pence(text)
        if pence is None:
            raise StopValidation(f"Enter {self.noun} in pounds and pence, like {self.example}")
        if pence > MAX_POUNDS * 100 + 99:
            raise StopValidation(f"{_capital(self.noun)} must be less than £10,000,000")
        self.pence = pence


class RadiosWidget(GovRadioInput):
    """GOV.UK radios without an empty hint when the field has no description."""

    def map_gov_params(self, field, **kwargs):
        params = super().map_gov_params(field, **kwargs)
        if not (params.get("hint") or {}).get("text"):
            params.pop("hint", None)
        return params


class DateWidget(GovDateInput):
    """The GOV.UK date input, with the day box carrying the field's id so the error summary links to it."""

    def map_gov_params(self, field, **kwargs):
        raw = getattr(field, "raw_data", None)
        if raw:
            day, month, year = (list(raw) + ["", "", ""])[:3]
        elif isinstance(field.data, date):
            day, month, year = str(field.data.day), str(field.data.month), str(field.data.year)
        else:
            day = month = year = ""
        params = GovFormBase.map_gov_params(self, field, **kwargs)
        params["id"] = f"{field.id}-date"
        params.setdefault("fieldset", {}).setdefault("legend", {}).setdefault("text", field.label.text)
        error = " govuk-input--error" if field.errors else ""
        params["items"] = [
            {"label": "Day", "id": field.id, "name": field.name, "classes": "govuk-input--width-2" + error, "value": day},
            {"label": "Month", "id": f"{field.id}-month", "name": field.name, "classes": "govuk-input--width-2" + error,
             "value": month},
            {"label": "Year", "id": f"{field.id}-year", "name": field.name, "classes": "govuk-input--width-4" + error,
             "value": year},
        ]
        return params


class GovDateField(Field):
    """A date typed as day, month and year, with the GOV.UK date input's error messages."""

    widget = DateWidget()

    def __init__(self, label, *, noun: str, optional: bool = False, **kwargs):
        kwargs.setdefault("description", "For example, 7 12 2026")
        super().__init__(label, **kwargs)
        self.noun, self.optional = noun, optional

    def process_formdata(self, valuelist):
        self.raw_data = [str(v).strip() for v in (list(valuelist) + ["", "", ""])[:3]]
        self.data = None

    def _value(self):
        return ""

    def pre_validate(self, form):
        if self.raw_data is None:  # not submitted: a date already set (or nothing)
            return
        day, month, year = self.raw_data
        if not (day or month or year):
            if self.optional:
                self.data = None
                return
            raise StopValidation(f"Enter the {self.noun}")
        missing = [name for name, value in (("day", day), ("month", month), ("year", year)) if not value]
        if missing:
            raise StopValidation(f"{_capital(self.noun)} must include a {' and '.join(missing)}")
        if not (day.isdigit() and month.isdigit() and year.isdigit()):
            raise StopValidation(f"{_capital(self.noun)} must be a real date")
        if len(year) != 4:
            raise StopValidation("Year must include 4 numbers")
        try:
            self.data = date(int(year), int(month), int(day))
        except ValueError:
            raise StopValidation(f"{_capital(self.noun)} must be a real date") from None


def _capital(text: str) -> str:
    return text[:1].upper() + text[1:]


def category_label(category: Category | str) -> str:
    return _capital(str(category))


def _choices(pairs) -> list[SelectChoice]:
    return [SelectChoice(value, label) for value, label in pairs]


KIND_CHOICES = _choices([
    (BudgetKind.ONGOING.value, "Ongoing (paid every 4 weeks in advance)"),
    (BudgetKind.ONE_OFF.value, "One-off (for example, equipment)"),
    (BudgetKind.CARER.value, "Carer (paid to the carer, for their own wellbeing)"),
])
DELIVERY_CHOICES = _choices([
    (Delivery.DIRECT_PAYMENT.value, "Direct payment"),
    (Delivery.COUNCIL_MANAGED.value, "Council-managed"),
    (Delivery.INDIVIDUAL_SERVICE_FUND.value, "Individual service fund"),
    (Delivery.MIXED.value, "Mixed (part direct payment)"),
])
PAYS_CHOICES = _choices([
    ("net", "Net: the council pays the weekly amount less the contribution, "
            "and the person pays their contribution into the account"),
    ("gross", "Gross: the council pays the whole weekly amount and invoices the contribution"),
])
METHOD_CHOICES = _choices([
    (PaymentMethod.PREPAID_CARD.value, "Prepaid card"),
    (PaymentMethod.BANK_ACCOUNT.value, "Bank account"),
    (PaymentMethod.MANAGED_ACCOUNT.value, "Managed account held by a support service"),
])


class AmountsMixin:
    """The amounts that make up a budget version (used by the new budget and the change forms)."""

    def check_personal_budget(self, delivery: str) -> None:
        if delivery == Delivery.MIXED.value and self.personal_budget.pence is None and not self.personal_budget.errors:
            self.personal_budget.errors.append("Enter the whole personal budget a week, like 600.00")


class BudgetForm(FlaskForm, AmountsMixin):
    kind = RadioField("What kind of budget is it?", widget=RadiosWidget(), choices=KIND_CHOICES,
                      validators=[DataRequired("Select the kind of budget")])
    delivery = RadioField("How is the budget delivered?", widget=RadiosWidget(), choices=DELIVERY_CHOICES,
                          validators=[DataRequired("Select how the budget is delivered")])
    personal_budget = MoneyField("Whole personal budget a week", noun="the whole personal budget a week", example="600.00",
                                 optional=True, description="The direct payment share goes in the weekly amount below")
    gross = MoneyField("Weekly amount", noun="the weekly amount", example="448.00",
                       description="The amount a week taken as a direct payment, before any contribution")
    contribution = MoneyField("Assessed weekly contribution (optional)", noun="the weekly contribution", example="25.00",
                              optional=True, description="From the financial assessment. Leave blank if there is none")
    pays = RadioField("How does the council pay?", widget=RadiosWidget(), choices=PAYS_CHOICES,
                      validators=[DataRequired("Select whether the council pays net or gross")])
    start_date = GovDateField("Start date", noun="start date")
    end_date = GovDateField("End date (optional)", noun="end date", optional=True,
                            description="Leave blank for an ongoing budget. For example, 31 3 2027")
    agreed_on = GovDateField("Date the direct payment was agreed", noun="date the direct payment was agreed",
                             description="Used to report how long set-up takes. For example, 1 12 2026")
    first_payment = GovDateField("First payment date", noun="first payment date")
    method = RadioField("How is the money paid?", widget=RadiosWidget(), choices=METHOD_CHOICES,
                        validators=[DataRequired("Select how the money is paid")])
    card_reference = StringField("Card account reference", widget=GovTextInput(), validators=[Length(max=40)])
    managed_by = SelectField("Support service holding the account", widget=GovSelect(), choices=[], validate_choice=False)
    submit = SubmitField("Continue", widget=GovSubmitInput())

    def validate_card_reference(self, field):
        if self.method.data == PaymentMethod.PREPAID_CARD.value and not (field.data or "").strip():
            raise ValidationError("Enter the card account reference")

    def validate_managed_by(self, field):
        holders = {choice.value for choice in field.choices if choice.value}
        if self.method.data == PaymentMethod.MANAGED_ACCOUNT.value and field.data not in holders:
            raise ValidationError("Select the support service that holds the managed account")

    def validate(self, extra_validators=None):
        valid = super().validate(extra_validators)
        self.check_personal_budget(self.delivery.data)
        return valid and not self.personal_budget.errors


class ChangeAmountsForm(FlaskForm, AmountsMixin):
    effective_from = GovDateField("Date the new amounts start", noun="date the new amounts start")
    gross = MoneyField("Weekly amount", noun="the weekly amount", example="448.00",
                       description="The amount a week taken as a direct payment, before any contribution")
    contribution = MoneyField("Assessed weekly contribution (optional)", noun="the weekly contribution", example="25.00",
                              optional=True, description="Leave blank if there is none")
    personal_budget = MoneyField("Whole personal budget a week", noun="the whole personal budget a week", example="600.00",
                                 optional=True, description="The direct payment share goes in the weekly amount")
    pays = RadioField("How does the council pay?", widget=RadiosWidget(), choices=PAYS_CHOICES,
                      validators=[DataRequired("Select whether the council pays net or gross")])
    reason = TextAreaField("Reason for the change", widget=GovTextArea(),
                           description="For example, a review increased PA hours",
                           validators=[DataRequired("Enter the reason for the change"),
                                       Length(max=300, message="The reason must be 300 characters or fewer")])
    submit = SubmitField("Continue", widget=GovSubmitInput())
    delivery_value = ""  # the budget's delivery, set by the view: a mixed budget needs the whole personal budget

    def validate(self, extra_validators=None):
        valid = super().validate(extra_validators)
        self.check_personal_budget(self.delivery_value)
        return valid and not self.personal_budget.errors


class SuspendForm(FlaskForm):
    starts_on = GovDateField("Date payments stop", noun="date payments stop")
    reason = TextAreaField("Why are payments stopping?", widget=GovTextArea(),
                           description="For example, in hospital from 3 December",
                           validators=[DataRequired("Enter the reason for stopping payments"),
                                       Length(max=300, message="The reason must be 300 characters or fewer")])
    submit = SubmitField("Stop payments", widget=GovSubmitInput())


class ResumeForm(FlaskForm):
    resumes_on = GovDateField("Date payments restart", noun="date payments restart")
    reason = TextAreaField("Why are payments restarting?", widget=GovTextArea(),
                           validators=[DataRequired("Enter the reason for restarting payments"),
                                       Length(max=300, message="The reason must be 300 characters or fewer")])
    submit = SubmitField("Restart payments", widget=GovSubmitInput())


class EndForm(FlaskForm):
    last_day = GovDateField("Last day of the budget", noun="last day of the budget",
                            description="Nothing is paid for days after this. For example, 31 3 2027")
    submit = SubmitField("Continue", widget=GovSubmitInput())


class ConfirmForm(FlaskForm):
    """The button on a check page: just the CSRF token."""

    submit = SubmitField("Confirm", widget=GovSubmitInput())


CATEGORY_CHOICES = _choices([("", "Choose a category")] + [(c.value, category_label(c)) for c in Category])


class LineForm(Form):
    """One support line. A row left wholly blank is ignored."""

    category = SelectField("Category", widget=GovSelect(), choices=CATEGORY_CHOICES, validate_choice=False)
    description = StringField("What it is for", widget=GovTextInput())
    amount = MoneyField("Amount for 4 weeks", noun="the amount", example="560.00", optional=True)
    hours = StringField("Hours a week (PA and care lines)", widget=GovTextInput())

    @property
    def number(self) -> int:
        match = re.search(r"-(\d+)-$", self._prefix)
        return int(match.group(1)) + 1 if match else 1

    def is_blank(self) -> bool:
        return not any((f.data or "").strip() for f in (self.category, self.description, self.amount, self.hours))

    def validate(self, extra_validators=None):
        if self.is_blank():
            return True
        super().validate(extra_validators)
        n = self.number
        if self.category.data not in {c.value for c in Category}:
            self.category.errors.append(f"Select the category of line {n}")
        description = (self.description.data or "").strip()
        if not description:
            self.description.errors.append(f"Enter what line {n} is for")
        elif len(description) > 300:
            self.description.errors.append(f"What line {n} is for must be 300 characters or fewer")
        if not self.amount.errors and self.amount.pence is None:
            self.amount.errors.append(f"Enter the amount for 4 weeks for line {n}, like 560.00")
        elif self.amount.errors:
            self.amount.errors[:] = [f"Enter the amount for 4 weeks for line {n} in pounds and pence, like 560.00"]
        hours = (self.hours.data or "").strip()
        if hours:
            if not _HOURS.match(hours):
                self.hours.errors.append(f"Enter the hours a week for line {n} as a number, like 12.5")
            elif Decimal(hours) > 168:
                self.hours.errors.append(f"Hours a week for line {n} must be 168 or fewer")
        return not self.errors


class PlanForm(FlaskForm):
    effective_from = GovDateField("Date the plan starts", noun="date the plan starts")
    outcomes = TextAreaField("Outcomes", widget=GovTextArea(),
                             description="What the support is for, in the person's words. Put each outcome on a new line",
                             validators=[DataRequired("Enter the outcomes the support is for")])
    cash_allowed_reason = StringField(
        "Why cash withdrawals are allowed (optional)", widget=GovTextInput(),
        description="Leave blank unless the plan allows cash. Without a reason each withdrawal needs an explanation",
        validators=[Length(max=300, message="The reason must be 300 characters or fewer")],
    )
    lines = FieldList(FormField(LineForm), min_entries=3, max_entries=30)
    add_line = SubmitField("Add another line", widget=GovSubmitInput())
    submit = SubmitField("Continue", widget=GovSubmitInput())

    def validate_lines(self, field):
        if not any(not entry.form.is_blank() for entry in field.entries):
            raise ValidationError("Add at least one support line")
