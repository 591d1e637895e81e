from flask_wtf import FlaskForm
from govuk_frontend_wtf.wtforms_widgets import GovRadioInput, GovSubmitInput, GovTextInput
from wtforms import EmailField, RadioField, SubmitField
from wtforms.validators import DataRequired, Email, Length


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
