"""Forms for employment records: money typed as pounds and pence, dates as GOV.UK date inputs.

The date and money fields are the budgets' (portal.web.budgets.forms): each keeps what the person typed,
so a form shown again with errors shows their own words back. Formats (NI number, tax code) are checked
by the service's own functions, so the page and the rules never disagree.
"""

import re
from decimal import Decimal

from flask_wtf import FlaskForm
from govuk_frontend_wtf.wtforms_widgets import GovSubmitInput, GovTextArea, GovTextInput
from wtforms import EmailField, RadioField, StringField, SubmitField, TextAreaField
from wtforms.validators import DataRequired, Email, InputRequired, Length, Optional, StopValidation, ValidationError

from portal.models import HolidayMethod, LeaveKind, PayPeriod, PensionStatus, Relationship, StarterDeclaration
from portal.models.employing import PostgraduateLoan, StudentLoan
from portal.services import amounts
from portal.services import employments as service
from portal.web.budgets.forms import GovDateField, MoneyField, RadiosWidget

_HOURS = re.compile(r"^\d{1,3}(?:\.\d{1,2})?$")
YES_NO = [("yes", "Yes"), ("no", "No")]


def _sentence(text: str) -> str:
    return text[:1].upper() + text[1:]


class HoursField(StringField):
    """Hours typed as a number (12 or 12.5); the value, as a Decimal, is in .hours after validation."""

    widget = GovTextInput()

    def __init__(self, label, *, noun: str, optional: bool = False, **kwargs):
        super().__init__(label, **kwargs)
        self.noun, self.optional = noun, optional
        self.hours: Decimal | None = None

    def pre_validate(self, form):
        text = (self.data or "").strip()
        self.hours = None
        if not text:
            if self.optional:
                return
            raise StopValidation(f"Enter the {self.noun}")
        if not _HOURS.match(text):
            raise StopValidation(f"Enter the {self.noun} as a number, like 7.5")
        self.hours = Decimal(text)


class CoverField(StringField):
    """Insurance cover in pounds (up to £20 million, more than MoneyField takes); pence in .pence."""

    widget = GovTextInput()

    def __init__(self, label, **kwargs):
        super().__init__(label, **kwargs)
        self.pence: int | None = None

    def pre_validate(self, form):
        text = (self.data or "").strip()
        self.pence = None
        if not text:
            raise StopValidation("Enter how much the policy covers, like 5,000,000")
        pence = amounts.to_hundredths(text)
        if pence is None:
            raise StopValidation("Enter how much the policy covers in pounds, like 5,000,000")
        self.pence = pence


class P45MoneyField(MoneyField):
    """Pounds and pence from a P45: a minus sign is refused with its own message, not a format error."""

    def __init__(self, label, *, negative: str, **kwargs):
        super().__init__(label, **kwargs)
        self.negative = negative

    def pre_validate(self, form):
        if (self.data or "").strip().lstrip("£").strip().startswith("-"):
            self.pence = None
            raise StopValidation(self.negative)
        super().pre_validate(form)


class TermsMixin:
    """The answers shared by recording and changing an employment."""

    def validate_ni_number(self, field):
        try:
            service.normalise_ni_number(field.data)
        except service.EmploymentError as error:
            raise ValidationError(error.message) from None

    def validate_tax_code(self, field):
        try:
            service.parse_tax_code(field.data)
        except service.EmploymentError as error:
            raise ValidationError(error.message) from None

    def validate_student_loan(self, field):
        if field.data not in {"", *(value for value, _ in STUDENT_LOAN_CHOICES)}:
            raise ValidationError("Select which student loan the PA is repaying, or none")

    def validate_postgraduate_loan(self, field):
        if field.data not in {"", *(value for value, _ in POSTGRADUATE_LOAN_CHOICES)}:
            raise ValidationError("Select whether the PA is repaying a Postgraduate Loan")


PAY_PERIOD_CHOICES = [
    (PayPeriod.WEEKLY.value, "Weekly"),
    (PayPeriod.FORTNIGHTLY.value, "Fortnightly"),
    (PayPeriod.FOUR_WEEKLY.value, "Every 4 weeks"),
    (PayPeriod.MONTHLY.value, "Monthly"),
]
HOLIDAY_CHOICES = [
    (HolidayMethod.ACCRUED.value, "Holiday builds up as they work (12.07% of hours worked), taken as paid time off"),
    (HolidayMethod.ROLLED_UP.value, "Holiday pay is added to each payslip and shown separately (rolled-up)"),
]
PENSION_CHOICES = [(s.value, _sentence(s.value)) for s in PensionStatus]
STARTER_CHOICES = [("", "They have a P45, or I do not know yet")] + [(s.value, s.value) for s in StarterDeclaration]
RELATIONSHIP_CHOICES = [(r.value, _sentence(r.value)) for r in Relationship]
STUDENT_LOAN_CHOICES = [(s.value, _sentence(s.value)) for s in StudentLoan]
POSTGRADUATE_LOAN_CHOICES = [(PostgraduateLoan.YES.value, "Yes"), (PostgraduateLoan.NO.value, "No"),
                             (PostgraduateLoan.NOT_KNOWN.value, "Not known")]


class PAFields(FlaskForm):
    """Who the PA is, asked first when recording a new PA (defined first so errors are listed in page order)."""

    # Offered only when someone worked for this employer before (the view removes it otherwise).
    who = RadioField("Who is the PA?", widget=RadiosWidget(), choices=[], validate_choice=False,
                     validators=[DataRequired("Select who the PA is")])
    given_name = StringField("First name", widget=GovTextInput())
    family_name = StringField("Last name", widget=GovTextInput())
    email = EmailField("Email address (optional)", widget=GovTextInput(),
                       description="To invite them to the portal later, where they can see their timesheets and payslips",
                       validators=[Optional(), Email("Enter an email address in the correct format, like name@example.com",
                                                     check_deliverability=False), Length(max=200)])


class TermsForm(FlaskForm, TermsMixin):
    job_title = StringField("Job title", widget=GovTextInput(), default="Personal assistant",
                            validators=[Length(max=100, message="The job title must be 100 characters or fewer")])
    start_date = GovDateField("Start date", noun="start date", description="Their first day of work. For example, 6 4 2026")
    contracted_hours = HoursField("Contracted hours a week (optional)", noun="contracted hours a week", optional=True,
                                  description="Leave blank if the hours vary from week to week")
    working_time_opt_out = RadioField("Has the PA signed an opt-out of the 48-hour working week?", widget=RadiosWidget(),
                                      choices=YES_NO, default="no",
                                      validators=[DataRequired("Select yes if the PA has signed an opt-out")],
                                      description="Without one, a PA may not work more than 48 hours a week on average")
    day_rate = MoneyField("Hourly rate for daytime hours", noun="the hourly rate for daytime hours", example="13.50",
                          description="Before tax. It must be at least the National Minimum Wage for their age")
    night_rate = MoneyField("Hourly rate for night hours (optional)", noun="the hourly rate for night hours",
                            example="14.50", optional=True, description="Leave blank if it is the same as the daytime rate")
    weekend_rate = MoneyField("Hourly rate at weekends (optional)", noun="the hourly rate at weekends", example="14.50",
                              optional=True, description="Leave blank if it is the same as the daytime rate")
    sleep_in = MoneyField("Sleep-in: flat amount per night (optional)", noun="the amount for a sleep-in", example="60.00",
                          optional=True, description="Paid for a night when the PA sleeps at your home and is woken "
                                                     "only if needed. Leave blank if there are no sleep-ins")
    mileage = MoneyField("Mileage: amount per mile", noun="the mileage rate", example="0.45",
                         description="Paid when the PA uses their own car for you. HMRC's approved rate is 0.45 (45p a mile)")
    pay_period = RadioField("How often is the PA paid?", widget=RadiosWidget(), choices=PAY_PERIOD_CHOICES,
                            validators=[DataRequired("Select how often the PA is paid")])
    holiday_method = RadioField("How is holiday paid?", widget=RadiosWidget(), choices=HOLIDAY_CHOICES,
                                validators=[DataRequired("Select how holiday is paid")])
    pa_date_of_birth = GovDateField("PA's date of birth (optional)", noun="PA's date of birth", optional=True,
                                    description="Payroll uses it for the minimum wage and pension. For example, 27 3 1990")
    ni_number = StringField("National Insurance number (optional)", widget=GovTextInput(),
                            description="It's on their payslip, P60 or letters about tax, pensions and benefits. "
                                        "For example, QQ 12 34 56 C")
    tax_code = StringField("Tax code (optional)", widget=GovTextInput(),
                           description="From the P45 from their last job, for example 1257L. "
                                       "Leave blank if they have no P45 and answer the next question")
    starter_declaration = RadioField("If they have no P45, which is true for them?", widget=RadiosWidget(),
                                     choices=STARTER_CHOICES, default="",
                                     description="From HMRC's starter checklist, which a new PA fills in")
    p45_leaving_date = GovDateField("Leaving date on the P45 (optional)", noun="leaving date on the P45", optional=True,
                                    description="The date they left their previous job. For example, 31 5 2026")
    p45_pay_to_date = P45MoneyField("Total pay to date on the P45 (optional)", noun="the total pay to date from the P45",
                                    example="8450.00", optional=True,
                                    negative="The pay to date from the P45 cannot be less than £0",
                                    description="Leave blank if the P45 shows no pay to date (its tax code ends in W1, "
                                                "M1 or X)")
    p45_tax_to_date = P45MoneyField("Total tax to date on the P45 (optional)", noun="the total tax to date from the P45",
                                    example="1120.40", optional=True,
                                    negative="The tax to date from the P45 cannot be less than £0. If the P45 shows "
                                             "a refund, ask the payroll service")
    student_loan = RadioField("Is the PA repaying a student loan?", widget=RadiosWidget(), choices=STUDENT_LOAN_CHOICES,
                              default="", validate_choice=False,
                              description="From their starter checklist, or a start notice from HMRC. The portal does "
                                          "not work out student loan deductions: payroll flags them for the payroll "
                                          "service to make")
    postgraduate_loan = RadioField("Is the PA repaying a Postgraduate Loan?", widget=RadiosWidget(),
                                   choices=POSTGRADUATE_LOAN_CHOICES, default="", validate_choice=False,
                                   description="Repaid as well as any student loan plan")
    attachment_of_earnings = RadioField("Is there an attachment of earnings order for the PA?", widget=RadiosWidget(),
                                        choices=YES_NO, default="no",
                                        validators=[DataRequired("Select yes if there is an attachment of earnings order")],
                                        description="An order from a court or council to take money from their pay. "
                                                    "The portal does not work it out: payroll flags it for the "
                                                    "payroll service to make")
    pension_status = RadioField("Workplace pension", widget=RadiosWidget(), choices=PENSION_CHOICES,
                                validators=[DataRequired("Select the workplace pension status")],
                                description="Every employer must check whether a PA should be put into a workplace "
                                            "pension, from their first day")
    pension_assessed_on = GovDateField("Date the PA was assessed for a pension", noun="date of the pension "
                                       "assessment", optional=True,
                                       description="Needed once they have been assessed (any status but ‘not yet "
                                                   "assessed’). For example, 7 12 2026")
    relationship_to_employer = RadioField("Is the PA related to the person they work for?", widget=RadiosWidget(),
                                          choices=RELATIONSHIP_CHOICES,
                                          validators=[DataRequired("Select how the PA is related, or not related")])
    same_household = RadioField("Does this PA live in the same household as you?", widget=RadiosWidget(),
                                choices=YES_NO, validators=[DataRequired("Select yes if the PA lives in the same household")])
    council_agreed_on = GovDateField("Date the council agreed (optional)", noun="date the council agreed", optional=True,
                                     description="Only for a close relative in the same household, or a partner")
    council_agreed_by = StringField("Who at the council agreed (optional)", widget=GovTextInput(),
                                    validators=[Length(max=120, message="Who agreed must be 120 characters or fewer")])
    contract_issued_on = GovDateField("Date the written contract was given (optional)",
                                      noun="date the written contract was given", optional=True,
                                      description="A PA must have a written contract from their first day")
    right_to_work_seen_on = GovDateField("Date you checked their right to work in the UK (optional)",
                                         noun="date the right-to-work documents were checked", optional=True,
                                         description="Check it before they start, and keep a copy")
    submit = SubmitField("Save", widget=GovSubmitInput())

    def name_the_employer(self, you: bool, name: str) -> None:
        """Questions say 'you' to the employer themselves, and name them to anyone else."""
        who = "you" if you else name
        self.same_household.label.text = f"Does this PA live in the same household as {who}?"
        self.relationship_to_employer.label.text = "Is the PA related to you?" if you else f"Is the PA related to {name}?"
        self.right_to_work_seen_on.label.text = (
            "Date you checked their right to work in the UK (optional)" if you
            else "Date their right to work in the UK was checked (optional)")

    def terms(self) -> service.Terms:
        return service.Terms(
            start_date=self.start_date.data,
            day_rate_pence=self.day_rate.pence,
            job_title=(self.job_title.data or "").strip(),
            night_rate_pence=self.night_rate.pence,
            weekend_rate_pence=self.weekend_rate.pence,
            sleep_in_pence=self.sleep_in.pence,
            mileage_pence_per_mile=self.mileage.pence,
            contracted_hours=self.contracted_hours.hours,
            pay_period=PayPeriod(self.pay_period.data),
            pa_date_of_birth=self.pa_date_of_birth.data,
            ni_number=self.ni_number.data or "",
            tax_code=self.tax_code.data or "",
            starter_declaration=StarterDeclaration(self.starter_declaration.data) if self.starter_declaration.data else None,
            holiday_method=HolidayMethod(self.holiday_method.data),
            pension_status=PensionStatus(self.pension_status.data),
            pension_assessed_on=self.pension_assessed_on.data,
            relationship_to_employer=Relationship(self.relationship_to_employer.data),
            same_household=self.same_household.data == "yes",
            council_agreed_on=self.council_agreed_on.data,
            council_agreed_by=(self.council_agreed_by.data or "").strip(),
            working_time_opt_out=self.working_time_opt_out.data == "yes",
            contract_issued_on=self.contract_issued_on.data,
            right_to_work_seen_on=self.right_to_work_seen_on.data,
            p45_pay_to_date_pence=self.p45_pay_to_date.pence,
            p45_tax_to_date_pence=self.p45_tax_to_date.pence,
            p45_leaving_date=self.p45_leaving_date.data,
            student_loan=StudentLoan(self.student_loan.data) if self.student_loan.data else None,
            postgraduate_loan=PostgraduateLoan(self.postgraduate_loan.data) if self.postgraduate_loan.data else None,
            attachment_of_earnings=self.attachment_of_earnings.data == "yes",
        )


def terms_form_data(terms: service.Terms) -> dict:
    """An employment's terms as the form's answers, to change them."""

    def money(pence):
        return amounts.pence_as_text(pence)

    hours = terms.contracted_hours
    return {
        "job_title": terms.job_title,
        "start_date": terms.start_date,
        "day_rate": money(terms.day_rate_pence),
        "night_rate": money(terms.night_rate_pence),
        "weekend_rate": money(terms.weekend_rate_pence),
        "sleep_in": money(terms.sleep_in_pence),
        "mileage": money(terms.mileage_pence_per_mile),
        "contracted_hours": "" if hours is None else f"{hours:.2f}".rstrip("0").rstrip("."),
        "pay_period": terms.pay_period.value,
        "pa_date_of_birth": terms.pa_date_of_birth,
        "ni_number": terms.ni_number,
        "tax_code": terms.tax_code,
        "starter_declaration": terms.starter_declaration.value if terms.starter_declaration else "",
        "holiday_method": terms.holiday_method.value,
        "pension_status": terms.pension_status.value,
        "pension_assessed_on": terms.pension_assessed_on,
        "relationship_to_employer": terms.relationship_to_employer.value,
        "same_household": "yes" if terms.same_household else "no",
        "council_agreed_on": terms.council_agreed_on,
        "council_agreed_by": terms.council_agreed_by,
        "working_time_opt_out": "yes" if terms.working_time_opt_out else "no",
        "contract_issued_on": terms.contract_issued_on,
        "right_to_work_seen_on": terms.right_to_work_seen_on,
        "p45_pay_to_date": money(terms.p45_pay_to_date_pence),
        "p45_tax_to_date": money(terms.p45_tax_to_date_pence),
        "p45_leaving_date": terms.p45_leaving_date,
        "student_loan": terms.student_loan.value if terms.student_loan else "",
        "postgraduate_loan": terms.postgraduate_loan.value if terms.postgraduate_loan else "",
        "attachment_of_earnings": "yes" if terms.attachment_of_earnings else "no",
    }


NEW_DEFAULTS = {
    "job_title": "Personal assistant",
    "mileage": "0.45",
    "pay_period": PayPeriod.FORTNIGHTLY.value,
    "holiday_method": HolidayMethod.ACCRUED.value,
    "pension_status": PensionStatus.NOT_ASSESSED.value,
    "relationship_to_employer": Relationship.NONE.value,
    "same_household": "no",
    "working_time_opt_out": "no",
    "attachment_of_earnings": "no",
    "who": "new",
}


class NewEmploymentForm(PAFields, TermsForm):
    submit = SubmitField("Record this PA", widget=GovSubmitInput())

    def is_new_person(self) -> bool:
        return "who" not in self._fields or self.who.data == "new"

    def validate_who(self, field):
        if field.data not in {value for value, _ in field.choices}:
            raise ValidationError("Select who the PA is")

    def validate_given_name(self, field):
        if self.is_new_person():
            if not (field.data or "").strip():
                raise ValidationError("Enter the PA's first name")
            if len(field.data.strip()) > 100:
                raise ValidationError("First name must be 100 characters or fewer")

    def validate_family_name(self, field):
        if self.is_new_person():
            if not (field.data or "").strip():
                raise ValidationError("Enter the PA's last name")
            if len(field.data.strip()) > 100:
                raise ValidationError("Last name must be 100 characters or fewer")


class EndForm(FlaskForm):
    last_day = GovDateField("PA's last day of work", noun="PA's last day", description="For example, 31 3 2027")
    reason = TextAreaField("Why did the employment end?", widget=GovTextArea(),
                           description="For example, resigned to take another job",
                           validators=[DataRequired("Enter why the employment ended"),
                                       Length(max=200, message="The reason must be 200 characters or fewer")])
    submit = SubmitField("Record the end of this employment", widget=GovSubmitInput())


LEAVE_CHOICES = [(LeaveKind.HOLIDAY.value, "Holiday"), (LeaveKind.SICKNESS.value, "Sickness")]


class LeaveForm(FlaskForm):
    kind = RadioField("Is this holiday or sickness?", widget=RadiosWidget(), choices=LEAVE_CHOICES,
                      validators=[DataRequired("Select holiday or sickness")])
    hours = HoursField("Hours of holiday taken", noun="hours of holiday taken", optional=True,
                       description="The hours they would have worked on those days. For example, 15")
    first_day = GovDateField("First day", noun="first day")
    last_day = GovDateField("Last day", noun="last day", description="The same as the first day for one day. "
                                                                     "For example, 7 12 2026")
    note = StringField("Note (optional)", widget=GovTextInput(),
                       description="Do not include medical details",
                       validators=[Length(max=200, message="The note must be 200 characters or fewer")])
    submit = SubmitField("Save", widget=GovSubmitInput())

    def validate_hours(self, field):
        if self.kind.data == LeaveKind.HOLIDAY.value and field.hours is None and not field.errors:
            raise ValidationError("Enter the hours of holiday taken")

    def validate(self, extra_validators=None):
        super().validate(extra_validators)
        if self.kind.data == LeaveKind.SICKNESS.value:
            self.hours.errors = []  # hidden with the holiday answer: sickness is counted in days
        return not self.errors


class InsuranceForm(FlaskForm):
    insurer = StringField("Insurer", widget=GovTextInput(), description="The company on the certificate",
                          validators=[DataRequired("Enter the name of the insurer"),
                                      Length(max=120, message="The insurer's name must be 120 characters or fewer")])
    policy_number = StringField("Policy number", widget=GovTextInput(),
                                validators=[DataRequired("Enter the policy number"),
                                            Length(max=60, message="The policy number must be 60 characters or fewer")])
    cover = CoverField("Employer's liability cover", description="In pounds, from the certificate. It must be at least "
                                                                "5,000,000 unless every PA is a close relative")
    starts_on = GovDateField("Date the policy starts", noun="date the policy starts")
    expires_on = GovDateField("Date the policy ends", noun="date the policy ends",
                              description="The last day of cover on the certificate. For example, 31 3 2027")
    submit = SubmitField("Save the policy", widget=GovSubmitInput())


class InviteForm(FlaskForm):
    email = EmailField("The PA's email address", widget=GovTextInput(),
                       validators=[DataRequired("Enter the PA's email address"),
                                   Email("Enter an email address in the correct format, like name@example.com",
                                         check_deliverability=False),
                                   Length(max=200, message="The email address must be 200 characters or fewer")])
    submit = SubmitField("Send the invitation", widget=GovSubmitInput())


class LinkAnswerForm(FlaskForm):
    answer = RadioField("Do you work for them as a personal assistant?", widget=RadiosWidget(),
                        choices=[("yes", "Yes, I work for them"), ("no", "No, I do not work for them")],
                        validators=[InputRequired(message="Say whether you work for them")])
    submit = SubmitField("Send answer", widget=GovSubmitInput())
