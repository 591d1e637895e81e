from flask_wtf import FlaskForm
from govuk_frontend_wtf.wtforms_widgets import GovCharacterCount, GovSubmitInput
from wtforms import SubmitField, TextAreaField
from wtforms.validators import DataRequired, Length


class ExplainForm(FlaskForm):
    explanation = TextAreaField(
        "What was this for?",
        widget=GovCharacterCount(),
        validators=[DataRequired("Enter what this payment was for"), Length(max=500, message="Explanation must be 500 characters or fewer")],
    )
    submit = SubmitField("Save explanation", widget=GovSubmitInput())
