"""Forms for excess-balance reviews: the caseworker's reason and proposal, the council officer's decision.

Both carry the version of the review the page was drawn from (a stale page changes nothing). The rules
(help offered for unmet need, the amount up to the excess) are the service's, so the page and the
rules never disagree; the form only reads what was typed.
"""

from flask_wtf import FlaskForm
from govuk_frontend_wtf.wtforms_widgets import GovSubmitInput, GovTextArea
from wtforms import HiddenField, RadioField, SubmitField, TextAreaField
from wtforms.validators import DataRequired

from portal.models import ExcessProposal, ExcessReason
from portal.services import excess_reviews as service
from portal.web.budgets.forms import MoneyField, RadiosWidget

REASON_CHOICES = [(reason.value, reason.value[:1].upper() + reason.value[1:]) for reason in ExcessReason]
APPROVE, DECLINE = "approve", "decline"


class VersionedForm(FlaskForm):
    """Every change carries the version of the review the page was drawn from."""

    version = HiddenField()

    def version_number(self) -> int:
        try:
            return int(self.version.data)
        except (TypeError, ValueError):
            return -1


class WorkForm(VersionedForm):
    reason = RadioField("Why has the money built up?", widget=RadiosWidget(), choices=REASON_CHOICES,
                        validators=[DataRequired("Select why the money built up")])
    reason_note = TextAreaField("Note (optional)", widget=GovTextArea(),
                                description="What you found out. Needed if you chose ‘Other’. "
                                            "The person and their representatives can read it.")
    proposal = RadioField("What do you propose?", widget=RadiosWidget(), choices=[],
                          validators=[DataRequired("Select what you propose")])
    help_offered = TextAreaField("What help has been offered?", widget=GovTextArea(),
                                 description="Needed when they could not find a PA or were in hospital: for example, "
                                             "help to recruit a PA, or a plan for coming home")
    amount = MoneyField("Amount to reclaim", noun="how much to reclaim", example="500.00", optional=True,
                        description="Up to the excess")
    submit = SubmitField("Save", widget=GovSubmitInput())

    def offer(self, excess_words: str) -> None:
        """The proposals, the whole excess named in words."""
        self.proposal.choices = [
            (ExcessProposal.KEEP.value, "Keep: the money stays in the account"),
            (ExcessProposal.RECLAIM_PART.value, "Reclaim part of the excess"),
            (ExcessProposal.RECLAIM_ALL.value, f"Reclaim all of the excess ({excess_words})"),
        ]

    def validate(self, extra_validators=None) -> bool:
        valid = super().validate(extra_validators)
        if self.proposal.data != ExcessProposal.RECLAIM_PART.value and self.amount.errors:
            # A hidden amount (under a proposal not chosen) is not read, so it cannot be wrong.
            self.amount.errors = []
            valid = not any(self.errors.values())
        return valid

    def work(self) -> service.Work:
        proposal = ExcessProposal(self.proposal.data)
        return service.Work(
            reason=ExcessReason(self.reason.data), proposal=proposal, note=self.reason_note.data or "",
            help_offered=self.help_offered.data or "",
            amount_pence=self.amount.pence if proposal == ExcessProposal.RECLAIM_PART else None,
        )


class DecisionForm(VersionedForm):
    decision = RadioField("Do you approve the reclaim?", widget=RadiosWidget(), choices=[],
                          validators=[DataRequired("Select whether you approve the reclaim")])
    decision_note = TextAreaField("Why can the money stay?", widget=GovTextArea(),
                                  description="The support service and the person can read it")
    submit = SubmitField("Send decision", widget=GovSubmitInput())

    def offer(self, amount_words: str, council: str) -> None:
        self.decision.choices = [
            (APPROVE, f"Yes, approve: {amount_words} is taken from the account and returned to {council}"),
            (DECLINE, "No, decline: the money stays in the account"),
        ]
