"""Forms for contact requests: answering, writing a message, blocking a sender, reporting a concern."""

from flask_wtf import FlaskForm
from govuk_frontend_wtf.wtforms_widgets import GovRadioInput, GovSubmitInput, GovTextArea
from wtforms import RadioField, StringField, SubmitField, TextAreaField
from wtforms.validators import AnyOf, InputRequired

from portal.services.pa_contacts import MESSAGE_LENGTH


class AnswerForm(FlaskForm):
    """Two buttons, each sending answer=accept or answer=decline."""

    answer = StringField("Your answer", validators=[
        InputRequired(message="Choose whether to accept or decline the request"),
        AnyOf(["accept", "decline"], message="Choose whether to accept or decline the request"),
    ])


class MessageForm(FlaskForm):
    body = TextAreaField("Write a message", widget=GovTextArea(),
                         description=f"Up to {MESSAGE_LENGTH:,} characters. The other side gets a notification.")
    submit = SubmitField("Send message", widget=GovSubmitInput())


class BlockForm(FlaskForm):
    confirm = RadioField("Do you want to block this sender?", choices=[("yes", "Yes, block them"), ("no", "No, go back")],
                         widget=GovRadioInput(), invalid_choice_message="Select yes if you want to block this sender",
                         validators=[InputRequired(message="Select yes if you want to block this sender")])
    submit = SubmitField("Continue", widget=GovSubmitInput())


class ConcernForm(FlaskForm):
    body = TextAreaField("What is your concern?", widget=GovTextArea(),
                         description="Say what happened. Up to 3,000 characters.")
    submit = SubmitField("Send concern", widget=GovSubmitInput())
