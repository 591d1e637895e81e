from flask_wtf import FlaskForm
from govuk_frontend_wtf.wtforms_widgets import (
    GovCheckboxInput,
    GovRadioInput,
    GovSelect,
    GovSubmitInput,
    GovTextArea,
    GovTextInput,
)
from wtforms import BooleanField, EmailField, RadioField, SelectField, StringField, SubmitField, TextAreaField
from wtforms.validators import DataRequired, Email, Length, Optional

from portal.models import OrganisationKind, Role
from portal.models.accounts import STAFF_ROLES


class StaffInvitationForm(FlaskForm):
    name = StringField("Full name", widget=GovTextInput(), validators=[DataRequired("Enter their full name"), Length(max=200)])
    email = EmailField(
        "Email address",
        widget=GovTextInput(),
        validators=[
            DataRequired("Enter their email address"),
            Email("Enter an email address in the correct format, like name@example.com", check_deliverability=False),
            Length(max=200),
        ],
    )
    role = RadioField(
        "Role",
        widget=GovRadioInput(),
        choices=[(r.value, r.label) for r in Role if r in STAFF_ROLES],
        validators=[DataRequired("Select a role")],
    )
    organisation = SelectField("Organisation", widget=GovSelect(), validators=[Optional()])
    payroll = BooleanField("Can see and run payroll (DPSS staff only)", widget=GovCheckboxInput())
    submit = SubmitField("Send invitation", widget=GovSubmitInput())


class OrganisationForm(FlaskForm):
    name = StringField("Name", widget=GovTextInput(), validators=[DataRequired("Enter the organisation's name"), Length(max=200)])
    kind = RadioField(
        "Kind of organisation",
        widget=GovRadioInput(),
        choices=[(OrganisationKind.COUNCIL.value, "Council"), (OrganisationKind.DPSS.value, "Direct payment support service")],
        validators=[DataRequired("Select the kind of organisation")],
    )
    phone = StringField("Phone number", widget=GovTextInput(), validators=[Optional(), Length(max=40)])
    email = EmailField(
        "Email address",
        widget=GovTextInput(),
        validators=[Optional(), Email("Enter an email address in the correct format, like name@example.com", check_deliverability=False)],
    )
    submit = SubmitField("Save organisation", widget=GovSubmitInput())


class ContentForm(FlaskForm):
    title = StringField("Title", widget=GovTextInput(), validators=[DataRequired("Enter a title"), Length(max=200)])
    summary = StringField("Summary", widget=GovTextInput(), validators=[Optional(), Length(max=400)])
    body = TextAreaField(
        "Page text",
        widget=GovTextArea(),
        description='Leave a blank line between paragraphs. Start a heading with "## " and a bullet with "- ".',
        validators=[DataRequired("Enter the page text")],
    )
    submit = SubmitField("Save page", widget=GovSubmitInput())


class LiftThrottleForm(FlaskForm):
    kind = StringField(validators=[DataRequired()])
    value = StringField(validators=[DataRequired()])


class ActionForm(FlaskForm):
    """A button that changes state: just the CSRF token."""
