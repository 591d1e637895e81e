"""Forms for the PA's register profile, their checks, and DPSS staff answering a request to verify one.

The forms only read what was typed (districts, hours, pounds and pence, dates); the rules (at least one
district, a rate, no contact details in "about me", a DBS level for a DBS check...) are the service's
(portal.services.register), whose RegisterError names the field each problem is about.
"""

import re

from flask_wtf import FlaskForm
from flask_wtf.file import FileField, FileRequired
from govuk_frontend_wtf.wtforms_widgets import (
    GovCharacterCount,
    GovCheckboxesInput,
    GovCheckboxInput,
    GovFileInput,
    GovSelect,
    GovSubmitInput,
    GovTextArea,
    GovTextInput,
)
from wtforms import BooleanField, EmailField, HiddenField, RadioField, SelectField, SelectMultipleField, StringField, SubmitField
from wtforms.validators import AnyOf, DataRequired, Length

from portal.models.register import CheckKind, DBSLevel, Gender, PAProfile
from portal.services import amounts
from portal.services.register import CheckInput, ProfileInput, RegisterError, parse_districts
from portal.services.register_options import (
    CHECK_LABELS,
    EXPERIENCE,
    LANGUAGES,
    SUPPORT,
    keys_of,
    mask_of,
    slot_keys,
    slots_mask,
)
from portal.web.budgets.forms import GovDateField, RadiosWidget
from portal.web.register_shared import WEEK, add_error

YES_NO = [("yes", "Yes"), ("no", "No")]
GENDER_CHOICES = [
    (Gender.WOMAN.value, "Woman"),
    (Gender.MAN.value, "Man"),
    (Gender.NON_BINARY.value, "Non-binary"),
    (Gender.NOT_SAID.value, "Prefer not to say"),
]
# Each cell of the availability grid: its form value and the words a screen reader hears for it.
SLOT_CHOICES = [(slot.key, slot.words) for day_slots in WEEK.slots for slot in day_slots]
KIND_CHOICES = [(kind, label) for kind, label in CHECK_LABELS.items()]
DBS_LEVEL_CHOICES = [(level.value, level.value[:1].upper() + level.value[1:]) for level in DBSLevel]
_WHOLE_HOURS = re.compile(r"^\d{1,3}$")
FILE_HINT = "A PDF, JPG or PNG, smaller than 10MB"
ACCEPT = ".pdf,.jpg,.jpeg,.png,application/pdf,image/jpeg,image/png"
PHOTO_ACCEPT = ".jpg,.jpeg,.png,image/jpeg,image/png"


class ProfileForm(FlaskForm):
    districts = StringField(
        "Which postcode districts can you work in?", widget=GovTextInput(),
        description="The first part of a postcode, like NF3. Separate them with commas, like NF3, NF4",
    )
    drives = RadioField("Do you drive, with a car you can use for work?", widget=RadiosWidget(), choices=YES_NO,
                        validators=[DataRequired("Select yes if you drive and have a car you can use for work")])
    # Drawn by the template as a table (days by parts of the day); unknown values are ignored.
    availability = SelectMultipleField("When are you available?", choices=SLOT_CHOICES, validate_choice=False)
    support_offered = SelectMultipleField("What support can you offer?", widget=GovCheckboxesInput(), choices=list(SUPPORT),
                                          validate_choice=False, description="Select all that apply")
    experience = SelectMultipleField("What experience do you have?", widget=GovCheckboxesInput(), choices=list(EXPERIENCE),
                                     validate_choice=False, description="Select all that apply")
    languages = SelectMultipleField("Which languages do you speak?", widget=GovCheckboxesInput(), choices=list(LANGUAGES),
                                    validate_choice=False, description="Select all that you could work in")
    gender = RadioField("Gender", widget=RadiosWidget(), choices=GENDER_CHOICES,
                        validators=[DataRequired("Select your gender, or ‘Prefer not to say’")],
                        description="Some people look for a PA of a particular gender, for example for personal care")
    hours_wanted = StringField("How many hours a week would you like to work?", widget=GovTextInput(),
                               description="Including any hours you already work as a PA, like 20")
    rate = StringField("What hourly rate are you looking for?", widget=GovTextInput(),
                       description="Before tax, in pounds and pence, like 13.50")
    about = StringField(
        "About me (optional)", widget=GovCharacterCount(),
        description="A few sentences about you, your experience and what you enjoy. Do not include a phone number, "
                    "email address or web link: people contact you through the portal",
    )
    submit = SubmitField("Save profile", widget=GovSubmitInput())

    def answers(self) -> tuple[ProfileInput, list[tuple[str, str]]]:
        """What was typed, as the service's input, with the problems found reading it (field, message)."""
        problems = []
        try:
            districts = parse_districts(self.districts.data)
        except RegisterError as error:
            problems += error.problems
            districts = []
        hours_text = (self.hours_wanted.data or "").strip().removesuffix("hours").strip()
        hours = None
        if hours_text:
            if _WHOLE_HOURS.match(hours_text):
                hours = int(hours_text)
            else:
                problems.append(("hours_wanted", "Enter the hours a week as a whole number, like 20"))
        rate_text = (self.rate.data or "").strip()
        rate = None
        if rate_text:
            rate = amounts.to_hundredths(rate_text)
            if rate is None:
                problems.append(("rate", "Enter the hourly rate in pounds and pence, like 13.50"))
        gender = self.gender.data if self.gender.data in {value for value, _ in GENDER_CHOICES} else Gender.NOT_SAID.value
        data = ProfileInput(
            districts=districts,
            drives=self.drives.data == "yes",
            availability=slots_mask(self.availability.data or []),
            support_offered=mask_of(SUPPORT, self.support_offered.data or []),
            experience=mask_of(EXPERIENCE, self.experience.data or []),
            languages=mask_of(LANGUAGES, self.languages.data or []),
            gender=Gender(gender),
            hours_wanted=hours,
            rate_pence=rate,
            about=(self.about.data or "").replace("\r\n", "\n"),
        )
        return data, problems


def profile_form_data(profile: PAProfile) -> dict:
    return {
        "districts": ", ".join(profile.district_codes),
        "drives": "yes" if profile.drives else "no",
        "availability": slot_keys(profile.availability),
        "support_offered": keys_of(SUPPORT, profile.support_offered),
        "experience": keys_of(EXPERIENCE, profile.experience),
        "languages": keys_of(LANGUAGES, profile.languages),
        "gender": profile.gender.value,
        "hours_wanted": str(profile.hours_wanted) if profile.hours_wanted is not None else "",
        "rate": amounts.pence_as_text(profile.rate_pence),
        "about": profile.about,
    }


NEW_PROFILE_DEFAULTS = {"languages": ["en"], "gender": Gender.NOT_SAID.value}


class ListingForm(FlaskForm):
    listed = HiddenField(validators=[AnyOf(["yes", "no"])])


class ConfirmForm(FlaskForm):
    """A button that says what it does: the hidden answer stops a bare POST from acting."""

    confirm = HiddenField(validators=[AnyOf(["yes"])])


class PhotoForm(FlaskForm):
    photo = FileField(
        "Upload a photo of yourself", widget=GovFileInput(),
        description="A JPG or PNG, smaller than 10MB. A clear photo of your face, with no phone number, email address, "
                    "web link or QR code in it",
        validators=[FileRequired("Select a photo of yourself")],
    )
    submit = SubmitField("Upload photo", widget=GovSubmitInput())


class CheckForm(FlaskForm):
    kind = RadioField("What kind of check or training is it?", widget=RadiosWidget(), choices=KIND_CHOICES,
                      validate_choice=False, validators=[DataRequired("Select the kind of check or training")])
    dbs_level = RadioField("Level of the DBS check", widget=RadiosWidget(), choices=DBS_LEVEL_CHOICES, validate_choice=False)
    update_service = BooleanField("It is on the DBS update service", widget=GovCheckboxInput())
    detail = StringField(
        "Details (optional)", widget=GovTextInput(),
        description="For training, the course and who ran it. For a reference, who it is from and how they know you, "
                    "like ‘Mary Jones, former employer’",
        validators=[Length(max=200, message="Details must be 200 characters or fewer")],
    )
    issued_on = GovDateField("Date it was issued (optional)", noun="date it was issued", optional=True,
                             description="For example, 1 9 2025")
    expires_on = GovDateField("Date it expires (optional)", noun="date it expires", optional=True,
                              description="Leave blank if it does not expire. For example, 1 9 2028")
    document = FileField("Upload the certificate or document (optional)", widget=GovFileInput(),
                         description=FILE_HINT + ". Only the support service you ask to verify it will see it")
    submit = SubmitField("Add check", widget=GovSubmitInput())

    def check_input(self) -> CheckInput | None:
        if self.kind.data not in CHECK_LABELS:
            return None
        level = self.dbs_level.data if self.dbs_level.data in {v for v, _ in DBS_LEVEL_CHOICES} else None
        return CheckInput(
            kind=CheckKind(self.kind.data),
            dbs_level=DBSLevel(level) if level else None,
            update_service=bool(self.update_service.data),
            detail=(self.detail.data or "").strip(),
            issued_on=self.issued_on.data,
            expires_on=self.expires_on.data,
        )


class VerificationRequestForm(FlaskForm):
    provider = SelectField("Which support service should check it?", widget=GovSelect(), choices=[], validate_choice=False,
                           validators=[DataRequired("Select the support service you want to check this")])
    submit = SubmitField("Ask them to verify it", widget=GovSubmitInput())


class AnswerForm(FlaskForm):
    decision = RadioField(
        "Have you seen the check and confirmed it is genuine?", widget=RadiosWidget(),
        choices=[("verified", "Yes, verify it"), ("not_verified", "No, I cannot verify it")],
        validators=[DataRequired("Select yes if you have seen the check and it is genuine")],
    )
    note = StringField("Note for the PA", widget=GovTextArea(),
                       description="Needed if you cannot verify it: say what is wrong or missing, so they can put it right",
                       validators=[Length(max=300, message="The note must be 300 characters or fewer")])
    submit = SubmitField("Send answer", widget=GovSubmitInput())

    def validate(self, extra_validators=None) -> bool:
        valid = super().validate(extra_validators)
        if self.decision.data == "not_verified" and not (self.note.data or "").strip():
            add_error(self, "note", "Tell the PA why you cannot verify it")
            return False
        return valid


class InviteForm(FlaskForm):
    given_name = StringField("First name", widget=GovTextInput())
    family_name = StringField("Last name", widget=GovTextInput())
    email = EmailField("Email address", widget=GovTextInput(),
                       description="We will email them a link to set a password. The link works once")
    submit = SubmitField("Send invitation", widget=GovSubmitInput())

