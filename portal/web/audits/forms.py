"""Forms for audits and care reviews. The rules (what a sign-off needs, what a review needs) are the
service's; the forms only read what was typed."""

from flask_wtf import FlaskForm
from govuk_frontend_wtf.wtforms_widgets import GovSubmitInput, GovTextArea
from wtforms import HiddenField, RadioField, SubmitField, TextAreaField

from portal.models.audits import AuditOutcome, ChecklistAnswer
from portal.services.audits import CHECKLIST
from portal.web.budgets.forms import GovDateField, RadiosWidget

ANSWER_CHOICES = [(ChecklistAnswer.YES.value, "Yes"), (ChecklistAnswer.NO.value, "No"),
                  (ChecklistAnswer.NOT_APPLICABLE.value, "Not applicable")]
OUTCOME_CHOICES = [
    (AuditOutcome.SATISFACTORY.value, "Satisfactory: the money was spent on the support plan, with evidence"),
    (AuditOutcome.ACTIONS_NEEDED.value, "Actions needed: the person or the support service must put something right"),
    (AuditOutcome.REFERRED.value, "Referred to the council: the council needs to look at this"),
]


class StartForm(FlaskForm):
    period_start = GovDateField("From", noun="start date", description="The first day the audit covers. For example, 10 11 2025")
    period_end = GovDateField("To", noun="end date", description="The last day the audit covers. For example, 9 11 2026")
    submit = SubmitField("Start the audit", widget=GovSubmitInput())


def _answer(label: str) -> RadioField:
    return RadioField(label, widget=RadiosWidget(), choices=ANSWER_CHOICES, validate_choice=False)


def _note(label: str) -> TextAreaField:
    return TextAreaField(label, widget=GovTextArea(), description="What you saw. Needed if the answer is ‘No’")


class ChecklistForm(FlaskForm):
    insurance_valid = _answer(CHECKLIST[0][1])
    insurance_note = _note("Note about the insurance (optional)")
    payslips_match = _answer(CHECKLIST[1][1])
    payslips_note = _note("Note about the payslips (optional)")
    hmrc_paid = _answer(CHECKLIST[2][1])
    hmrc_note = _note("Note about HMRC (optional)")
    pension_paid = _answer(CHECKLIST[3][1])
    pension_note = _note("Note about the pension (optional)")
    save_checklist = SubmitField("Save the checklist", widget=GovSubmitInput())

    def answers(self) -> dict[str, ChecklistAnswer | None]:
        found = {}
        for name, _question, _note_name in CHECKLIST:
            value = self[name].data
            found[name] = ChecklistAnswer(value) if value in ChecklistAnswer._value2member_map_ else None
        return found

    def notes(self) -> dict[str, str]:
        return {note_name: self[note_name].data or "" for _name, _question, note_name in CHECKLIST}


class SignOffForm(FlaskForm):
    version = HiddenField()
    outcome = RadioField("What is the outcome of the audit?", widget=RadiosWidget(), choices=OUTCOME_CHOICES,
                         validate_choice=False)
    actions = TextAreaField("Actions", widget=GovTextArea(),
                            description="What needs to be done, by whom and by when. Needed unless the outcome is satisfactory")
    sign_off = SubmitField("Sign off the audit", widget=GovSubmitInput())

    def outcome_value(self) -> AuditOutcome | None:
        value = self.outcome.data
        return AuditOutcome(value) if value in AuditOutcome._value2member_map_ else None

    def version_number(self) -> int:
        try:
            return int(self.version.data)
        except (TypeError, ValueError):
            return -1


class FindingForm(FlaskForm):
    """One transaction's reason (the page draws one small form per transaction that needs one)."""

    entry_id = HiddenField()
    note = TextAreaField("Reason or explanation")

    def entry(self) -> int | None:
        try:
            return int(self.entry_id.data)
        except (TypeError, ValueError):
            return None


class ReviewForm(FlaskForm):
    reviewed_on = GovDateField("Date of the review", noun="date of the review")
    outcome = TextAreaField("What did the review find, and what happens next?", widget=GovTextArea(),
                            description="For example, the support plan still meets their needs; hours increased from 1 January")
    submit = SubmitField("Record the review", widget=GovSubmitInput())
