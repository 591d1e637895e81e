"""The personal-data register: every table, marked as holding personal data or not.

Each table holding personal data says how its rows reach the people they are about (its links), which
columns are only for one of those people (withheld from anyone else's copy), which columns are never
given out (secrets) and which columns name stored files. A test lists every table in the metadata
and fails on one that is not here, so a new table must be marked before it ships.

Links, in the order the tables are created (a parent before its children):

- Person(column): the column holds the person's id (people.id, or recipients.person_id).
- UserOf(column): the column holds one of the person's user accounts (users.id).
- Email(column): the column holds an email address of theirs (their person record's or an account's).
- Parent(column, table, via): the column points at a row of another table that is about the person
  (through that table's link named `via` only, when given: a leave record is the PA's health data
  only through the employment's PA side).
- ReferencedBy(table, column): a row another table's rows about the person point at (a payee's name).

Every other column naming a person (a foreign key to people, recipients, users or PA profiles, and
audit_events.acting_for_id) is a mention: a copy for someone else shows it as withheld, or for staff
acting in their job, as their role and organisation (see portal/services/subject_access.py).
"""

from dataclasses import dataclass, field


@dataclass(frozen=True)
class Link:
    name: str
    column: str = ""
    kind: str = "person"  # person | user | email | parent | referenced_by
    table: str = ""  # the parent (or referring) table
    via: str = ""  # parent links only: the parent's link name that must have matched


def Person(column: str, name: str = "") -> Link:  # noqa: N802 - reads as a declaration
    return Link(name or column, column, "person")


def UserOf(column: str, name: str = "") -> Link:  # noqa: N802
    return Link(name or column, column, "user")


def Email(column: str) -> Link:  # noqa: N802
    return Link(column, column, "email")


def Parent(column: str, table: str, via: str = "", name: str = "") -> Link:  # noqa: N802
    return Link(name or (f"{column}:{via}" if via else column), column, "parent", table, via)


def ReferencedBy(table: str, column: str) -> Link:  # noqa: N802
    return Link(f"{table}.{column}", column, "referenced_by", table)


@dataclass(frozen=True)
class Personal:
    about: str  # what a row is, in plain words (it goes into the README of a download)
    links: tuple[Link, ...]
    only_for: dict[str, tuple[str, ...]] = field(default_factory=dict)  # link name -> columns shown only to that person
    secret: tuple[str, ...] = ()  # never given out, to anyone
    files: tuple[str, ...] = ()  # columns naming stored files (portal/storage.py)

    holds_personal_data = True


@dataclass(frozen=True)
class NoPersonalData:
    why: str

    holds_personal_data = False


# Extra columns that name a person without a foreign key saying so.
UNDECLARED_PERSON_COLUMNS = {("audit_events", "acting_for_id"): "people"}

# A PA's private employment details: never in the employer's (or anyone else's) copy.
_PA_EMPLOYMENT = (
    "pa_date_of_birth", "ni_number", "tax_code", "starter_declaration", "student_loan", "postgraduate_loan",
    "attachment_of_earnings", "p45_pay_to_date_pence", "p45_tax_to_date_pence", "p45_leaving_date",
)
# A PA's own tax, deductions and sickness on a payslip (the employer's copy keeps pay and employer costs).
_PA_PAYSLIP = (
    "tax_code", "week1_month1", "ni_category", "ssp_pence", "tax_pence", "employee_ni_pence",
    "employee_pension_pence", "net_pence", "ytd_gross_pence", "ytd_tax_pence", "ytd_employee_ni_pence",
    "ytd_employee_pension_pence", "ni_earnings_at_lel_pence", "ni_earnings_lel_to_pt_pence",
    "ni_earnings_pt_to_uel_pence", "previous_pay_pence", "previous_tax_pence", "outside_deductions",
    "problems", "warnings", "breakdown",
)

_ACCOUNT = (Parent("account_id", "dp_accounts"),)
_PROFILE = (Parent("profile_id", "pa_profiles"),)

REGISTER: dict[str, Personal | NoPersonalData] = {
    # Reference data and organisations.
    "category_rules": NoPersonalData("rules that sort card spending into categories"),
    "district_centroids": NoPersonalData("postcode district map points"),
    "districts": NoPersonalData("postcode districts and their councils"),
    "organisations": NoPersonalData("councils and support services, with their office contact details"),
    "payroll_calendars": NoPersonalData("a support service's pay calendar"),
    # People and accounts.
    "people": Personal("your name and contact details", (Person("id"),)),
    "recipients": Personal("your direct payment record: date of birth, postcode, council and the reason for support",
                           (Person("person_id"),)),
    "users": Personal("your sign-in accounts (password and authenticator secrets are never given out)",
                      (Person("person_id"),), secret=("password_hash", "totp_secret", "totp_last_step")),
    "user_sessions": Personal("when you were signed in", (UserOf("user_id"),)),
    "one_time_tokens": Personal("sign-in and password-reset links sent to you (the links themselves are never given out)",
                                (UserOf("user_id"),), secret=("token_hash",)),
    "sign_in_failures": Personal("failed attempts to sign in with your email address", (Email("email"),)),
    "notifications": Personal("messages the portal sent you", (UserOf("user_id"),)),
    "audit_events": Personal("the record of what was done by you, or for you or about you, and by whom",
                             (UserOf("user_id", "actor"), Person("acting_for_id")), only_for={"actor": ("address",)}),
    "representative_links": Personal("who may act for you, or for whom you act",
                                     (Person("representative_id"), Person("recipient_id"))),
    "content_pages": Personal("help pages a member of staff edited", (UserOf("updated_by_id"),)),
    "council_settings": Personal("council settings a member of staff changed", (UserOf("created_by_id"),)),
    "national_rates": Personal("national pay and tax rates a member of staff entered", (UserOf("created_by_id"),)),
    # Cases.
    "caseload_entries": Personal("which support service looks after your direct payment", (Person("recipient_id"),)),
    "case_setups": Personal("how your direct payment was set up", (Person("recipient_id"),)),
    "case_moves": Personal("moves of your case between councils or support services", (Person("recipient_id"),)),
    "case_notes": Personal("notes staff wrote on your case", (Person("recipient_id"),)),
    "safeguarding_concerns": Personal("concerns raised about your safety", (Person("recipient_id"),)),
    "care_reviews": Personal("reviews of your care and support", (Person("recipient_id"),)),
    "audits": Personal("checks of how your direct payment was spent", (Person("recipient_id"),)),
    "audit_findings": Personal("what those checks found", (Parent("audit_id", "audits"), Parent("entry_id", "ledger_entries"))),
    # Budgets and plans.
    "support_plans": Personal("your support plan", (Person("recipient_id"),)),
    "support_lines": Personal("the lines of your support plan", (Parent("plan_id", "support_plans"),)),
    "dp_accounts": Personal("your direct payment accounts", (Person("recipient_id"),)),
    "budgets": Personal("your budgets", (Person("recipient_id"),)),
    "budget_versions": Personal("changes to your budget amounts", (Parent("budget_id", "budgets"),)),
    "budget_suspensions": Personal("times your payments were paused", (Parent("budget_id", "budgets"),)),
    # Money.
    "account_attention": Personal("how many of your payments wait for a receipt or an explanation", _ACCOUNT),
    "account_balances": Personal("your account balances", _ACCOUNT),
    "ledger_entries": Personal("money in and out of your account", _ACCOUNT),
    "payees": Personal("the names of those your account paid", (ReferencedBy("ledger_entries", "payee_id"),)),
    "entry_annotations": Personal("categories, notes and explanations added to your spending",
                                  (Parent("entry_id", "ledger_entries"),)),
    "entry_states": Personal("the current category and checks of each item of spending", (Parent("entry_id", "ledger_entries"),)),
    "evidence": Personal("receipts you or others uploaded (the files are in the files folder)",
                         (Parent("entry_id", "ledger_entries"),), files=("storage_name",)),
    "payment_confirmations": Personal("confirmations that payments reached your account", (Parent("entry_id", "ledger_entries"),)),
    "expected_items": Personal("payments due into or out of your account", _ACCOUNT),
    "spend_summaries": Personal("yearly totals of your spending by category", _ACCOUNT),
    "excess_balance_reviews": Personal("reviews of money building up in your account", _ACCOUNT),
    "managed_contributions": Personal("your contributions paid into a managed account", _ACCOUNT),
    "managed_payments": Personal("payments made for you from a managed account (invoices are in the files folder)",
                                 _ACCOUNT, files=("invoice_storage_name",)),
    "card_imports": Personal("card statement files a member of staff loaded", (UserOf("created_by_id"),)),
    "card_import_rejections": Personal("lines of a card statement file that could not be loaded", (Parent("import_id", "card_imports"),)),
    "unmatched_card_rows": Personal("card statement lines that were matched to your account by hand",
                                    (Parent("import_id", "card_imports"), Parent("resolved_entry_id", "ledger_entries"))),
    # Employing PAs.
    "employer_insurances": Personal("your employer's insurance", (Person("employer_id"),)),
    "employments": Personal("employments, as employer or as PA (a PA's tax and private details only in the PA's own copy)",
                            (Person("pa_id", "pa"), Person("employer_id", "employer")), only_for={"pa": _PA_EMPLOYMENT}),
    "employment_link_requests": Personal("requests to link a PA's account to an employment",
                                         (Parent("employment_id", "employments"), UserOf("pa_user_id"))),
    "leave_records": Personal("holiday and other leave (the kind of leave and its note only in the PA's own copy)",
                              (Parent("employment_id", "employments", via="employer", name="employer"),
                               Parent("employment_id", "employments", via="pa", name="pa")),
                              only_for={"pa": ("kind", "note")}),
    "timesheets": Personal("timesheets", (Person("pa_id", "pa"), Person("employer_id", "employer"))),
    "shifts": Personal("the shifts on those timesheets", (Parent("timesheet_id", "timesheets"), Person("pa_id"))),
    "timesheet_claims": Personal("mileage and expenses claimed on timesheets", (Parent("timesheet_id", "timesheets"),)),
    "timesheet_documents": Personal("documents attached to timesheets (the files are in the files folder)",
                                    (Parent("timesheet_id", "timesheets"),), files=("storage_name",)),
    "managed_payment_timesheets": Personal("timesheets paid from a managed account",
                                           (Parent("payment_id", "managed_payments"), Parent("timesheet_id", "timesheets"))),
    "pay_runs": Personal("pay runs a member of staff built or approved",
                         (UserOf("created_by_id"), UserOf("built_by_id"), UserOf("approved_by_id"))),
    "payslips": Personal("payslips, as employer or as PA (a PA's tax and deductions only in the PA's own copy)",
                         (Person("pa_id", "pa"), Person("employer_id", "employer")), only_for={"pa": _PA_PAYSLIP}),
    "payslip_lines": Personal("the lines of those payslips (only in the PA's own copy in full)",
                              (Parent("payslip_id", "payslips", via="employer", name="employer"),
                               Parent("payslip_id", "payslips", via="pa", name="pa")),
                              only_for={"pa": ("kind", "description", "quantity", "rate_pence", "amount_pence", "taxable")}),
    "paid_timesheets": Personal("which timesheets each payslip paid", (Parent("timesheet_id", "timesheets"), Parent("payslip_id", "payslips"))),
    # The PA register.
    "pa_profiles": Personal("your PA register profile", (Person("person_id"),), files=("photo_name",)),
    "pa_profile_districts": Personal("the areas your profile covers", _PROFILE),
    "pa_profile_activity": Personal("daily counts of views of and contacts to your profile", _PROFILE),
    "pa_profile_checks": Personal("your DBS and other checks (documents are in the files folder)", _PROFILE, files=("document_name",)),
    "pa_verification_requests": Personal("requests for a support service to verify your checks", (Parent("check_id", "pa_profile_checks"),)),
    "pa_profile_views": Personal("views of register profiles (by you, or of your profile)",
                                 (UserOf("user_id", "viewer"), Parent("profile_id", "pa_profiles", name="profile"))),
    "contact_blocks": Personal("people a PA has blocked from contacting them", (Parent("profile_id", "pa_profiles"), UserOf("blocked_user_id"))),
    "vacancies": Personal("vacancies posted for you", (Person("recipient_id"),)),
    "vacancy_interests": Personal("interest PAs expressed in vacancies (a PA's message only in their own copy)",
                                  (Parent("vacancy_id", "vacancies", name="vacancy"), Parent("profile_id", "pa_profiles", name="pa")),
                                  only_for={"pa": ("message",)}),
    "contact_requests": Personal("contact between people employing PAs and PAs on the register (the first message only in the sender's copy)",
                                 (Parent("profile_id", "pa_profiles", name="pa"), Person("recipient_id", "recipient")),
                                 only_for={"recipient": ("message",)}),
    "contact_messages": Personal("messages in those conversations (each message only in its writer's copy)",
                                 (Parent("contact_id", "contact_requests"), UserOf("author_id", "author")),
                                 only_for={"author": ("body",)}),
    "register_concerns": Personal("concerns reported about contact through the register (what was said only in the reporter's copy)",
                                  (Person("recipient_id"), Parent("contact_id", "contact_requests"), UserOf("reported_by_id", "reporter"),
                                   UserOf("about_user_id")),
                                  only_for={"reporter": ("body",)}),
}


def entry(table: str) -> Personal | NoPersonalData:
    """The register's entry for a table (KeyError for a table nobody has marked)."""
    return REGISTER[table]


def personal_tables() -> list[str]:
    return [name for name, item in REGISTER.items() if item.holds_personal_data]
