from flask_wtf import FlaskForm
from govuk_frontend_wtf.wtforms_widgets import GovRadioInput, GovSelect, GovSubmitInput, GovTextArea, GovTextInput
from wtforms import EmailField, RadioField, SelectField, SubmitField, TextAreaField
from wtforms.validators import DataRequired, Email, Length

from portal.models.case_lifecycle import ClosureReason
from portal.web.budgets.forms import GovDateField


class InvitationForm(FlaskForm):
    person = RadioField("Who are you inviting?", widget=GovRadioInput(), validators=[DataRequired("Select who you are inviting")])
    email = EmailField(
        "Their email address",
        widget=GovTextInput(),
        validators=[
            DataRequired("Enter their email address"),
            Email("Enter an email address in the correct format, like name@example.com", check_deliverability=False),
            Length(max=200),
        ],
    )
    submit = SubmitField("Send invitation", widget=GovSubmitInput())


class SetupForm(FlaskForm):
    decided_on = GovDateField("Council decided on a direct payment", noun="date the council decided")
    agreement_signed_on = GovDateField("Direct payment agreement signed (if done)", noun="date the agreement was signed", optional=True)
    account_opened_on = GovDateField("Account or card opened (if done)", noun="date the account was opened", optional=True)
    first_payment_on = GovDateField("First payment made (if done)", noun="date of the first payment", optional=True,
                                    description="Filled in from the payment run when the council pays. For example, 7 12 2026")
    submit = SubmitField("Save set-up dates", widget=GovSubmitInput())


class CloseCaseForm(FlaskForm):
    reason = RadioField("Why is the case closing?", widget=GovRadioInput(),
                        choices=[(r.value, r.value[:1].upper() + r.value[1:]) for r in ClosureReason],
                        validators=[DataRequired("Select why the case is closing")])
    note = TextAreaField("Notes (needed if you chose ‘Other’)", widget=GovTextArea(), validators=[Length(max=1000)])
    closed_on = GovDateField("Date the case closed", noun="date the case closed")
    submit = SubmitField("Close the case", widget=GovSubmitInput())


class MoveCaseForm(FlaskForm):
    to_provider = SelectField("Support service they are moving to", widget=GovSelect(), coerce=str)
    to_council = SelectField("Council that will fund them", widget=GovSelect(), coerce=str)
    moved_on = GovDateField("Date of the move", noun="date of the move")
    reason = TextAreaField("Why are they moving?", widget=GovTextArea(), validators=[Length(max=1000)])
    submit = SubmitField("Move this person", widget=GovSubmitInput())
