"""Forms for case notes and safeguarding concerns (the lengths are the service's, so page and rules agree)."""

from flask_wtf import FlaskForm
from govuk_frontend_wtf.wtforms_widgets import GovSubmitInput, GovTextArea
from wtforms import SubmitField, TextAreaField

from portal.services.casework import ACKNOWLEDGEMENT_LENGTH, CONCERN_LENGTH, NOTE_LENGTH


class NoteForm(FlaskForm):
    body = TextAreaField("Add a note", widget=GovTextArea(),
                         description=f"What happened, what was agreed, what happens next. Up to {NOTE_LENGTH:,} characters. "
                                     "Notes cannot be changed or deleted once added: put a mistake right with a further note.")
    submit = SubmitField("Add note", widget=GovSubmitInput())


class ConcernForm(FlaskForm):
    body = TextAreaField("What is your concern?", widget=GovTextArea(),
                         description="Say what you saw or heard, when, and who was involved. "
                                     f"Up to {CONCERN_LENGTH:,} characters.")
    submit = SubmitField("Send concern", widget=GovSubmitInput())


class AcknowledgeForm(FlaskForm):
    """One per open concern on the concerns page: each answer has its own id, so the page's ids stay unique."""

    note = TextAreaField("What have you done or will you do?", widget=GovTextArea(),
                         description=f"A short note, up to {ACKNOWLEDGEMENT_LENGTH} characters. Others see who acknowledged the concern and when.")
    submit = SubmitField("Acknowledge concern", widget=GovSubmitInput())

    def __init__(self, concern_id: int, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.concern_id = concern_id
        self.note.id = f"note-{concern_id}"
        self.submit.id = f"acknowledge-{concern_id}"
