"""Forms for managed accounts: a payment (PA wages, an invoice, one from a pay run, another payment), a contribution received,
approving or cancelling a payment, and the organisation's approval limit.

The forms only read what was typed (money as integer pence, dates from the GOV.UK date input); the rules are
the service's (portal.services.managed_payments), so the page and the rules never disagree. Each record form
carries a one-time key made when the page was drawn: sent twice, it records once.
"""

import secrets

from flask_wtf import FlaskForm
from flask_wtf.file import FileField
from govuk_frontend_wtf.wtforms_widgets import GovCheckboxesInput, GovFileInput, GovSubmitInput, GovTextArea, GovTextInput
from wtforms import HiddenField, RadioField, SelectMultipleField, StringField, SubmitField, TextAreaField
from wtforms.fields.choices import Choice

from portal.models import Category, ContributionMethod
from portal.web.budgets.forms import GovDateField, MoneyField, RadiosWidget, category_label

FILE_HINT = "A PDF, JPG or PNG, smaller than 10MB. A clear photo of a paper invoice is fine."
# What the browser's file chooser offers first (the server decides by content, whatever this says).
ACCEPT = ".pdf,.jpg,.jpeg,.png,application/pdf,image/jpeg,image/png"
CATEGORY_CHOICES = [(c.value, category_label(c)) for c in Category if c != Category.PA_WAGES] + [
    (Category.PA_WAGES.value, "PA wages (paid through an agency)")]
METHOD_CHOICES = [(m.value, m.value[:1].upper() + m.value[1:]) for m in ContributionMethod]


def new_request_key() -> str:
    return secrets.token_hex(16)


class TimesheetsField(SelectMultipleField):
    """Ticked timesheets by id. Ids not offered are kept (as numbers), so the service can say why they
    cannot be paid; anything that is not a number is dropped."""

    widget = GovCheckboxesInput()

    def __init__(self, label, **kwargs):
        kwargs.setdefault("validate_choice", False)
        super().__init__(label, **kwargs)

    def process_formdata(self, valuelist):
        self.data = [int(v) for v in valuelist if str(v).isdigit()]

    def pre_validate(self, form):
        pass

    def iter_choices(self):
        chosen = {str(v) for v in (self.data or [])}
        for value, label in self.choices:
            yield Choice(str(value), label, str(value) in chosen, {})


class RecordForm(FlaskForm):
    request_key = HiddenField()

    def key(self) -> str:
        return (self.request_key.data or "")[:40]


class WagesForm(RecordForm):
    timesheets = TimesheetsField("Which approved timesheets do these wages pay?",
                                 description="Select all that apply. Pay one PA at a time.")
    amount = MoneyField("Amount paid to the PA", noun="the amount", example="250.00",
                        description="No more than the timesheets' approved pay")
    pay_on = GovDateField("Date of the payment", noun="date of the payment")
    description = StringField("Note (optional)", widget=GovTextInput(),
                              description="The person and their representatives can read it")
    submit = SubmitField("Record payment", widget=GovSubmitInput())


class InvoiceForm(RecordForm):
    payee = StringField("Who sent the invoice?", widget=GovTextInput(),
                        description="For example, a care agency or a day centre")
    invoice_number = StringField("Invoice number", widget=GovTextInput())
    category = RadioField("What is it for?", widget=RadiosWidget(), choices=CATEGORY_CHOICES, validate_choice=False)
    description = StringField("What was provided? (optional)", widget=GovTextInput(),
                              description="For example, day centre sessions in November. "
                                          "Do not include anyone's health or personal details.")
    amount = MoneyField("Amount to pay", noun="the amount", example="120.00")
    invoice_due_on = GovDateField("When is the invoice due?", noun="date the invoice is due")
    pay_on = GovDateField("Date of the payment", noun="date of the payment",
                          description="Today, or the day it was paid. For example, 7 12 2026")
    invoice = FileField("Upload the invoice", widget=GovFileInput(), description=FILE_HINT)
    submit = SubmitField("Record invoice", widget=GovSubmitInput())


class PayRunForm(RecordForm):
    """A payment of one of a pay run's items: paid in full, so the amount is the pay run's and not asked."""

    item = RadioField("Which payment from a pay run?", widget=RadiosWidget(), choices=[], validate_choice=False,
                      description="It is paid in full: the amount is the one the pay run worked out.")
    pay_on = GovDateField("Date of the payment", noun="date of the payment")
    submit = SubmitField("Record payment", widget=GovSubmitInput())

    def item_id(self) -> int | None:
        value = str(self.item.data or "")
        return int(value) if value.isdigit() else None


class OtherForm(RecordForm):
    payee = StringField("Who is paid?", widget=GovTextInput())
    category = RadioField("What is it for?", widget=RadiosWidget(), choices=CATEGORY_CHOICES, validate_choice=False)
    description = StringField("What is the payment for?", widget=GovTextInput(),
                              description="Do not include anyone's health or personal details")
    amount = MoneyField("Amount to pay", noun="the amount", example="45.00")
    pay_on = GovDateField("Date of the payment", noun="date of the payment")
    submit = SubmitField("Record payment", widget=GovSubmitInput())


class ContributionForm(RecordForm):
    amount = MoneyField("Amount received", noun="the amount", example="28.00")
    received_on = GovDateField("Date it was received", noun="date it was received")
    method = RadioField("How was it paid?", widget=RadiosWidget(), choices=METHOD_CHOICES, validate_choice=False)
    note = StringField("Note (optional)", widget=GovTextInput(), description="For example, the payer's reference")
    submit = SubmitField("Record contribution", widget=GovSubmitInput())


class VersionedForm(FlaskForm):
    version = HiddenField()

    def version_number(self) -> int:
        try:
            return int(self.version.data)
        except (TypeError, ValueError):
            return -1


class ApproveForm(VersionedForm):
    submit = SubmitField("Approve and pay", widget=GovSubmitInput())


class CancelForm(VersionedForm):
    reason = TextAreaField("Why is it cancelled?", widget=GovTextArea(),
                           description="The person who recorded it, and the person and their representatives, can read it")
    submit = SubmitField("Cancel payment", widget=GovSubmitInput())


class LimitForm(FlaskForm):
    limit = MoneyField("Approval limit", noun="the limit", example="1,000.00",
                       description="A payment above this needs a second member of staff to approve it. "
                                   "A payment of exactly this amount does not.")
    submit = SubmitField("Save limit", widget=GovSubmitInput())
