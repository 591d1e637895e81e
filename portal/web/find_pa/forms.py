"""The search form (a GET form: bookmarkable, no CSRF token, nothing changes) and the contact form.

The search form turns the person's answers into register_search.SearchFilters. Unknown checkbox
values (an old bookmark, a hand-made URL) are ignored rather than refused; what a person types
(districts, a rate) is checked and explained beside the answer.
"""

from flask_wtf import FlaskForm
from govuk_frontend_wtf.wtforms_widgets import GovCheckboxesInput, GovSelect, GovSubmitInput, GovTextArea, GovTextInput
from wtforms import SelectField, SelectMultipleField, StringField, SubmitField, TextAreaField
from wtforms.validators import Length, StopValidation

from portal.models.register import Gender
from portal.services import amounts
from portal.services.pa_contacts import MESSAGE_LENGTH
from portal.services.register import MAX_DISTRICTS, MAX_RATE_PENCE, RegisterError, parse_districts
from portal.services.register_options import (
    CHECK_LABELS,
    CHECK_ORDER,
    EXPERIENCE,
    LANGUAGES,
    SLOT_KEYS,
    SUPPORT,
    check_kind_bit,
    mask_of,
    slots_mask,
)
from portal.services.register_search import SearchFilters

TEXT_LENGTH = 100
GENDER_CHOICES = [("", "No preference")] + [(g.value, g.value[:1].upper() + g.value[1:]) for g in Gender if g != Gender.NOT_SAID]
LANGUAGE_CHOICES = [("", "Any language")] + list(LANGUAGES)
VERIFIED_CHOICES = [(kind, CHECK_LABELS[kind] + ("s (two)" if kind == "reference" else "")) for kind in CHECK_ORDER]


class DistrictsField(StringField):
    """Postcode districts typed as 'NF3 NF4'; the codes are in .codes after validation."""

    widget = GovTextInput()

    def __init__(self, label, **kwargs):
        super().__init__(label, **kwargs)
        self.codes: list[str] = []

    def pre_validate(self, form):
        self.codes = []
        try:
            codes = parse_districts(self.data)
        except RegisterError as error:
            raise StopValidation(error.problems[0][1]) from None
        if len(codes) > MAX_DISTRICTS:
            raise StopValidation(f"Enter {MAX_DISTRICTS} postcode districts or fewer")
        self.codes = codes


class RateField(StringField):
    """An hourly rate typed in pounds ('14.50', '£14'); pence in .pence after validation."""

    widget = GovTextInput()

    def __init__(self, label, **kwargs):
        super().__init__(label, **kwargs)
        self.pence: int | None = None

    def pre_validate(self, form):
        text = (self.data or "").strip()
        self.pence = None
        if not text:
            return
        pence = amounts.to_hundredths(text)
        if pence is None:
            raise StopValidation("Enter the most you can pay an hour in pounds and pence, like 14.50")
        if not 0 < pence <= MAX_RATE_PENCE:
            raise StopValidation("Enter an hourly rate between £0.01 and £100")
        self.pence = pence


class CheckboxesWidget(GovCheckboxesInput):
    """GOV.UK checkboxes whose legend is the field's label even when the page styles the legend, and
    without an empty hint when the field has no description."""

    def map_gov_params(self, field, **kwargs):
        params = super().map_gov_params(field, **kwargs)
        legend = params.setdefault("fieldset", {}).setdefault("legend", {})
        legend.setdefault("text", field.label.text)
        if not (params.get("hint") or {}).get("text"):
            params.pop("hint", None)
        return params


def _multi(label: str, choices, **kwargs) -> SelectMultipleField:
    return SelectMultipleField(label, choices=choices, widget=CheckboxesWidget(), validate_choice=False, **kwargs)


WITHIN_MILES = (1, 3, 5, 10, 20)
WITHIN_CHOICES = [("", "Only these districts")] + [(str(m), f"Within {m} mile{'s' if m != 1 else ''}") for m in WITHIN_MILES]


class SearchForm(FlaskForm):
    class Meta:
        csrf = False  # a GET form that changes nothing

    districts = DistrictsField("Postcode districts", description="The first part of a postcode, like NF3. Separate districts with spaces.")
    slots = SelectMultipleField("When is support needed?", choices=[(key, key) for key in SLOT_KEYS], validate_choice=False)
    support = _multi("Support needed", SUPPORT)
    experience = _multi("Experience of", EXPERIENCE)
    gender = SelectField("Gender of PA", choices=GENDER_CHOICES, widget=GovSelect(), validate_choice=False)
    language = SelectField("Speaks", choices=LANGUAGE_CHOICES, widget=GovSelect(), validate_choice=False)
    rate = RateField("Hourly rate up to", description="In pounds, like 14.50")
    # Offered only when postcode centroids are loaded (services/postcodes.py): otherwise districts match exactly.
    within = SelectField("Also nearby districts", choices=WITHIN_CHOICES, widget=GovSelect(), validate_choice=False)
    verified = _multi("Checks verified by a support service", VERIFIED_CHOICES)
    drives = _multi("Driving", [("yes", "Drives")])
    q = StringField("Words in ‘about me’", widget=GovTextInput(),
                    validators=[Length(max=TEXT_LENGTH, message=f"Enter {TEXT_LENGTH} characters or fewer")])
    def filters(self, default_districts: list[str] | None = None) -> SearchFilters:
        """The filters the answers ask for (call after validate). default_districts (when given) stand in
        for districts the request did not mention at all; a district box left empty means anywhere."""
        gender = next((g for g in Gender if g.value == self.gender.data), None)
        language = mask_of(LANGUAGES, [self.language.data or ""])
        return SearchFilters(
            districts=list(default_districts) if default_districts is not None else self.districts.codes,
            slots=slots_mask(self.slots.data or []),
            support=mask_of(SUPPORT, self.support.data or []),
            experience=mask_of(EXPERIENCE, self.experience.data or []),
            gender=gender if gender != Gender.NOT_SAID else None,
            language=language,
            max_rate_pence=self.rate.pence,
            verified=sum(check_kind_bit(kind) for kind in set(self.verified.data or []) if kind in CHECK_ORDER),
            text=(self.q.data or "").strip(),
            drives="yes" in (self.drives.data or []),
            within_miles=int(self.within.data) if (self.within.data or "").isdigit() and int(self.within.data) in WITHIN_MILES else None,
        )


class ContactForm(FlaskForm):
    vacancy = SelectField("Is this about one of your vacancies?", widget=GovSelect(), choices=[("", "No, not about a vacancy")],
                          validate_choice=False)
    message = TextAreaField(
        "Your message", widget=GovTextArea(),
        description="Say what support is needed, where and when. Do not include a phone number, email address or "
                    "link: the PA sees your contact details when they accept.",
        validators=[Length(max=MESSAGE_LENGTH, message=f"Your message must be {MESSAGE_LENGTH} characters or fewer")],
    )
    submit = SubmitField("Send request", widget=GovSubmitInput())

    def validate_vacancy(self, field):
        if field.data and field.data not in {value for value, _ in field.choices}:
            raise StopValidation("Select one of this person’s open vacancies, or ‘No, not about a vacancy’")

    def validate_message(self, field):
        if not (field.data or "").strip() and not self.vacancy.data:
            raise StopValidation("Enter a message, or choose the vacancy this is about")
