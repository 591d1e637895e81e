"""Forms for vacancies: posting one (times as a grid of days and parts of the day), closing one, and a
PA's interest. The rules live in portal.services.vacancies; these forms only turn typed text into values
(pounds into pence, day/month/year into a date) and say what could not be read."""

import re

from flask_wtf import FlaskForm
from govuk_frontend_wtf.wtforms_widgets import GovCheckboxesInput, GovSubmitInput, GovTextArea, GovTextInput
from wtforms import RadioField, SelectMultipleField, StringField, SubmitField, TextAreaField
from wtforms.validators import StopValidation

from portal.models.register import Gender
from portal.services.register_options import EXPERIENCE, LANGUAGES, SLOT_KEYS, SUPPORT, mask_of, slots_mask
from portal.services.vacancies import MESSAGE_LENGTH, VacancyInput
from portal.web.budgets.forms import GovDateField, MoneyField, RadiosWidget

_WHOLE = re.compile(r"^\d{1,3}$")

GENDER_CHOICES = [("", "No preference"), (Gender.WOMAN.value, "A woman"), (Gender.MAN.value, "A man")]
YES_NO = [("yes", "Yes"), ("no", "No")]
OUTCOME_CHOICES = [("filled", "Filled"), ("withdrawn", "Withdrawn")]


class WholeHoursField(StringField):
    """Hours a week as a whole number; None when blank (the service says what is missing)."""

    widget = GovTextInput()

    def __init__(self, label, **kwargs):
        super().__init__(label, **kwargs)
        self.hours: int | None = None

    def pre_validate(self, form):
        text = (self.data or "").strip()
        self.hours = None
        if not text:
            return
        if not _WHOLE.match(text):
            raise StopValidation("Enter the hours a week as a whole number, like 10")
        self.hours = int(text)


class ChoicesField(SelectMultipleField):
    """Ticked boxes; anything not on the list is ignored (it can only come from a made-up request)."""

    widget = GovCheckboxesInput()

    def __init__(self, label, **kwargs):
        kwargs.setdefault("validate_choice", False)
        super().__init__(label, **kwargs)

    def pre_validate(self, form):
        valid = {value for value, _ in self.choices}
        self.data = [value for value in (self.data or []) if value in valid]


class VacancyForm(FlaskForm):
    title = StringField("Title", widget=GovTextInput(),
                        description="A short line PAs see first, like ‘Morning support in NF4’")
    district_code = StringField("Postcode district", widget=GovTextInput(),
                                description="The first part of the postcode, like NF4. PAs see the district only, "
                                            "never the address")
    hours_per_week = WholeHoursField("Hours a week", description="For example, 10")
    slots = ChoicesField("When is the support needed?", choices=[(key, key) for key in SLOT_KEYS])
    times_note = StringField("Times (optional)", widget=GovTextInput(),
                             description="For example, Tuesday and Thursday, 9am to 1pm")
    support = ChoicesField("Support needed", choices=list(SUPPORT), description="Select all that apply")
    experience = ChoicesField("Experience wanted (optional)", choices=list(EXPERIENCE),
                              description="Select all that apply")
    languages = ChoicesField("Languages (optional)", choices=list(LANGUAGES),
                             description="Languages the PA should speak. Select all that apply")
    gender_preference = RadioField("Would you prefer a PA of a particular gender?", widget=RadiosWidget(),
                                   choices=GENDER_CHOICES, default="", validate_choice=False)
    driver_needed = RadioField("Does the PA need to drive?", widget=RadiosWidget(), choices=YES_NO, default="no",
                               validate_choice=False)
    rate = MoneyField("Hourly rate", noun="the hourly rate", example="13.50",
                      description="In pounds, before tax")
    start_date = GovDateField("Start date", noun="start date")
    closing_date = GovDateField("Closing date", noun="closing date",
                                description="The last day PAs can express interest. For example, 7 12 2026")
    description = TextAreaField("Description (optional)", widget=GovTextArea(),
                                description="What the work involves and what matters to the person. "
                                            "Do not include a phone number, email address or web link: "
                                            "PAs contact you through the portal")
    submit = SubmitField("Post the vacancy", widget=GovSubmitInput())

    def vacancy_input(self) -> VacancyInput:
        """The answers as the service takes them (None where an answer could not be read)."""
        gender = self.gender_preference.data or ""
        return VacancyInput(
            title=(self.title.data or "").strip(),
            district_code=(self.district_code.data or "").strip().upper(),
            hours_per_week=self.hours_per_week.hours,
            availability=slots_mask(self.slots.data or []),
            times_note=(self.times_note.data or "").strip(),
            support_needed=mask_of(SUPPORT, self.support.data or []),
            experience_wanted=mask_of(EXPERIENCE, self.experience.data or []),
            languages=mask_of(LANGUAGES, self.languages.data or []),
            gender_preference=Gender(gender) if gender in (Gender.WOMAN.value, Gender.MAN.value) else None,
            driver_needed=self.driver_needed.data == "yes",
            rate_pence=self.rate.pence,
            start_date=self.start_date.data,
            closing_date=self.closing_date.data,
            description=(self.description.data or "").strip(),
        )

    def validate_gender_preference(self, field):
        if field.data not in {value for value, _ in GENDER_CHOICES}:
            field.data = ""

    def validate_driver_needed(self, field):
        if field.data not in ("yes", "no"):
            field.data = "no"


class CloseForm(FlaskForm):
    outcome = RadioField("Why is the vacancy closing?", widget=RadiosWidget(), choices=OUTCOME_CHOICES,
                         validate_choice=False)

    def validate_outcome(self, field):
        if field.data not in {value for value, _ in OUTCOME_CHOICES}:
            raise StopValidation("Choose whether the vacancy was filled or withdrawn")


class InterestForm(FlaskForm):
    message = TextAreaField("Message (optional)", widget=GovTextArea(),
                            description="Say why you would be good for this work and when you could start. "
                                        "Do not include a phone number or email address: your details are shared "
                                        "only when you both agree")
    submit = SubmitField("Express interest", widget=GovSubmitInput())

    def validate_message(self, field):
        if len(field.data or "") > MESSAGE_LENGTH:
            raise StopValidation(f"Your message must be {MESSAGE_LENGTH} characters or fewer")
