"""Retention: anonymise the people whose direct payment ended longer ago than their council keeps records.

A recipient is due when their case is closed (no open caseload entry), every budget has ended, and the
later of the last budget's end and the case's closing is more than the council's retention period ago
(council_settings.retention_years, default 6: rates.md). A person still supported is never touched.

What happens to each table is decided here, table by table, for every table the personal-data register
(portal/services/personal_data.py) marks as personal: the rows about the person are the ones its links
find (subject_access.collect, the same rows a subject access download gives them). A row is deleted,
or its personal columns are blanked or replaced by an anonymous marker, or it is kept as it is (money
and dates with no free text: the ledger, balances, budgets). The person's own record stays as the
anonymous marker the ledger, the audit trail and the council's figures point at, so totals and the
audit trail are unchanged. A test fails on a personal table with no decision here.

Pay records (payslips and their lines, the timesheets payroll paid, employments, leave) are kept at
least 6 years after the end of the tax year they belong to, whatever the council's setting (rates.md).
Chosen: while any of the person's pay records is inside that period, those tables are left exactly as
they are and everything else is anonymised now; a later run anonymises the pay records' free text once
the period has passed (their amounts stay, so pay-run totals hold).

Each person is one transaction (a crash leaves them done or untouched); stored files are deleted after
the commit. A second run finds nothing left to change. Each person done and each run is audited.
"""

from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import date, datetime, timezone

import sqlalchemy as sa

from portal.extensions import db
from portal.services import audit, personal_data
from portal.services.local_settings import council_settings
from portal.services.statements import add_years
from portal.services.subject_access import collect
from portal.storage import Storage

REMOVED = "[removed]"
PAY_RECORD_YEARS = 6  # rates.md: pay records, whatever the council's setting
FAR_PAST = date(1900, 1, 1)  # stands in for a date of birth (the column may not be empty)


@dataclass(frozen=True)
class Keep:
    why: str


@dataclass(frozen=True)
class Delete:
    why: str


@dataclass(frozen=True)
class Blank:
    columns: dict[str, object | Callable[[dict], object]]  # column -> new value (or a function of the row)
    pay_record: bool = False  # only once the person's pay records are past PAY_RECORD_YEARS
    only_link: str = ""  # only rows the register's link of this name found (their own, not others' rows about them)
    only_unshared: bool = False  # payees: only those no one else's ledger entries name


def _removed_email(row: dict) -> str:
    return f"removed-{row['id']}@removed.invalid"


def _disabled(row: dict):
    return row["disabled_at"] or datetime.now(timezone.utc).replace(microsecond=0)


def _dob(row: dict):
    return FAR_PAST


# One decision for every personal table of the register (tests/test_retention.py checks none is missing).
POLICY: dict[str, Keep | Delete | Blank] = {
    # Names as the card network gives them ("CONTRIBUTION A PATEL"): a payee only this person's accounts used is
    # renamed; one other accounts used too (a shop) stays. The name is unique, so the marker carries the id.
    "payees": Blank({"name": lambda row: f"[removed payee {row['id']}]"}, only_unshared=True),
    "people": Blank({"given_name": REMOVED, "family_name": "", "email": "", "phone": ""}),
    "recipients": Blank({"date_of_birth": _dob, "postcode": ""}),  # district, council, reason: the council's figures
    "users": Blank({"email": _removed_email, "display_name": "", "password_hash": None, "totp_secret": None,
                    "disabled_at": _disabled}),
    "user_sessions": Delete("sign-ins"),
    "one_time_tokens": Delete("sign-in links"),
    "sign_in_failures": Delete("failed sign-ins"),
    "notifications": Delete("messages sent"),
    "audit_events": Blank({"address": ""}, only_link="actor"),  # the trail stays; their internet address goes
    "representative_links": Delete("who acted for them"),
    "content_pages": Keep("staff edits of help pages"),
    "council_settings": Keep("staff changes to council settings"),
    "national_rates": Keep("staff entries of national rates"),
    "caseload_entries": Blank({"closed_note": ""}),
    "case_setups": Keep("set-up dates only, for the provider's figures"),
    "case_moves": Blank({"reason": ""}),
    "case_notes": Blank({"body": REMOVED}),
    "safeguarding_concerns": Blank({"body": REMOVED, "acknowledgement": ""}),
    "care_reviews": Blank({"outcome": ""}),
    "audits": Blank({"insurance_note": "", "payslips_note": "", "hmrc_note": "", "pension_note": "", "actions": ""}),
    "audit_findings": Blank({"note": "", "explanation": ""}),
    "support_plans": Blank({"outcomes": "", "cash_allowed_reason": ""}),
    "support_lines": Blank({"description": ""}),
    "dp_accounts": Blank({"card_reference": None}),
    "budgets": Keep("amounts and dates only"),
    "budget_versions": Blank({"reason": ""}),
    "budget_suspensions": Blank({"reason": "", "resume_reason": ""}),
    "account_attention": Keep("counts of payments waiting for a receipt or an explanation"),
    "account_balances": Keep("balances"),
    "ledger_entries": Keep("amounts and dates: the council's totals"),
    "entry_annotations": Blank({"explanation": "", "note": ""}),
    "entry_states": Blank({"explanation": ""}),
    "evidence": Delete("receipts, with their files"),
    "payment_confirmations": Keep("confirmations of payments"),
    "expected_items": Blank({"description": ""}),
    "spend_summaries": Keep("yearly totals"),
    "excess_balance_reviews": Blank({"reason_note": "", "help_offered": "", "decision_note": ""}),
    "managed_contributions": Blank({"note": ""}),
    "managed_payments": Blank({"description": "", "invoice_storage_name": None, "invoice_display_name": "",
                               "cancel_reason": ""}),
    "card_imports": Keep("staff loads of card statement files"),
    "card_import_rejections": Keep("lines of card statement files, about files, not people"),
    "unmatched_card_rows": Blank({"card_reference": "", "description": ""}),
    "employer_insurances": Blank({"policy_number": ""}),
    # Pay records.
    "employments": Blank({"ni_number": "", "tax_code": "", "pa_date_of_birth": None, "council_agreed_by": "",
                          "end_reason": ""}, pay_record=True),
    "employment_link_requests": Delete("requests to link a PA's account"),
    "leave_records": Blank({"note": ""}, pay_record=True),
    "timesheets": Blank({"sent_back_reason": ""}, pay_record=True),
    "shifts": Blank({"notes": ""}, pay_record=True),
    "timesheet_claims": Blank({"description": "", "document_id": None}, pay_record=True),
    "timesheet_documents": Blank({}, pay_record=True),  # deleted, with the files, once past the period: see _PAY_DELETE
    "managed_payment_timesheets": Keep("which timesheets a payment paid: amounts only"),
    "pay_runs": Keep("staff-built pay runs"),
    "payslips": Blank({"outside_deductions": "", "problems": "", "warnings": "", "breakdown": ""}, pay_record=True),
    "payslip_lines": Blank({"description": ""}, pay_record=True),
    "paid_timesheets": Keep("which timesheets a payslip paid"),
    # The PA register (a recipient who is on the register is not purged here: see other_roles).
    "pa_profiles": Delete("a register profile"),
    "pa_profile_districts": Delete("a profile's areas"),
    "pa_profile_activity": Delete("a profile's counts"),
    "pa_profile_checks": Delete("a profile's checks"),
    "pa_verification_requests": Delete("requests to verify checks"),
    "pa_profile_views": Delete("profiles they viewed"),
    "contact_blocks": Delete("blocks of their account"),
    "vacancies": Delete("vacancies posted for them"),
    "vacancy_interests": Delete("interest in their vacancies"),
    "contact_requests": Delete("contact with PAs"),
    "contact_messages": Delete("messages in that contact"),
    "register_concerns": Delete("concerns about that contact"),
}
_PAY_DELETE = {"timesheet_documents"}  # pay-record tables whose rows go (with their files) once past the period


@dataclass
class PersonResult:
    person_id: int
    rows_deleted: int = 0
    rows_changed: int = 0
    files: list[str] = field(default_factory=list)
    pay_records_kept_until: date | None = None

    @property
    def changed(self) -> bool:
        return bool(self.rows_deleted or self.rows_changed or self.files)


@dataclass
class Report:
    today: date
    dry_run: bool
    done: list[PersonResult] = field(default_factory=list)  # people anonymised by this run
    already_done: int = 0
    pay_records_kept: int = 0  # of those due, people whose pay records are still inside their period
    not_due: int = 0
    skipped: list[str] = field(default_factory=list)
    files_deleted: int = 0

    @property
    def rows_deleted(self) -> int:
        return sum(r.rows_deleted for r in self.done)

    @property
    def rows_changed(self) -> int:
        return sum(r.rows_changed for r in self.done)

    def lines(self) -> list[str]:
        verb = "Would anonymise" if self.dry_run else "Anonymised"
        out = [
            f"Retention on {self.today:%d %B %Y}{' (dry run: nothing changed)' if self.dry_run else ''}: "
            f"{verb} {len(self.done)} people ({self.rows_deleted} rows deleted, {self.rows_changed} rows anonymised, "
            f"{sum(len(r.files) for r in self.done)} files {'to delete' if self.dry_run else 'deleted'}); "
            f"{self.already_done} already anonymised; {self.not_due} not yet due or still supported."
        ]
        if self.pay_records_kept:
            out.append(f"{self.pay_records_kept} of those due keep pay records still inside the {PAY_RECORD_YEARS} years "
                       "after their tax year.")
        for line in self.skipped:
            out.append(f"Skipped {line}")
        return out


# Who is due ------------------------------------------------------------------------------------------


def due_recipients(today: date) -> tuple[list[int], int]:
    """Ids of recipients past their council's retention period (closed case, every budget ended), and how many
    recipients are not."""
    budgets, caseload, recipients = (db.metadata.tables[name] for name in ("budgets", "caseload_entries", "recipients"))
    ended = {
        row.recipient_id: (row.open_budgets, row.last_end)
        for row in db.session.execute(
            sa.select(budgets.c.recipient_id,
                      sa.func.count().filter(budgets.c.end_date.is_(None)).label("open_budgets"),
                      sa.func.max(budgets.c.end_date).label("last_end"))
            .group_by(budgets.c.recipient_id)
        )
    }
    cases = {row.recipient_id: row.closed_on for row in db.session.execute(sa.select(caseload.c.recipient_id, caseload.c.closed_on))}
    years_by_council: dict[int, int] = {}
    due, not_due = [], 0
    for person_id, council_id in db.session.execute(sa.select(recipients.c.person_id, recipients.c.council_id).order_by(recipients.c.person_id)):
        open_budgets, last_end = ended.get(person_id, (0, None))
        has_case = person_id in cases
        closed_on = cases.get(person_id)
        if open_budgets or (has_case and closed_on is None):
            not_due += 1  # still supported
            continue
        ends = [day for day in (last_end, closed_on) if day is not None]
        if not ends:
            not_due += 1  # nothing to count the period from
            continue
        if council_id not in years_by_council:
            years_by_council[council_id] = council_settings(council_id, today).retention_years
        if add_years(max(ends), years_by_council[council_id]) < today:
            due.append(person_id)
        else:
            not_due += 1
    return due, not_due


def other_roles(person_id: int, due: set[int]) -> str:
    """Why the person must stay as they are for someone else (a PA, or acting for someone still supported)."""
    if db.session.scalar(sa.text("SELECT 1 FROM pa_profiles WHERE person_id = :p"), {"p": person_id}):
        return "is on the PA register (their profile is theirs to delete)"
    if db.session.scalar(sa.text("SELECT 1 FROM employments WHERE pa_id = :p"), {"p": person_id}):
        return "is also someone's PA"
    acts_for = set(db.session.scalars(sa.text("SELECT recipient_id FROM representative_links WHERE representative_id = :p"),
                                      {"p": person_id}))
    if acts_for - due - {person_id}:
        return "acts for someone whose records are kept"
    return ""


def pay_records_until(person_id: int) -> date | None:
    """The last day the person's pay records (as an employer) must be kept, or None if they have none."""
    payslips, timesheets = db.metadata.tables["payslips"], db.metadata.tables["timesheets"]
    starts = list(db.session.scalars(sa.select(payslips.c.tax_year_start).where(payslips.c.employer_id == person_id).distinct()))
    paid = list(db.session.scalars(sa.select(timesheets.c.paid_on).where(timesheets.c.employer_id == person_id,
                                                                          timesheets.c.paid_on.is_not(None)).distinct()))
    ends = [date(start.year + 1, 4, 5) for start in starts if start]
    ends += [date(day.year + (1 if day >= date(day.year, 4, 6) else 0), 4, 5) for day in paid if day]
    if not ends:
        return None
    return add_years(max(ends), PAY_RECORD_YEARS)


# Doing it --------------------------------------------------------------------------------------------


def _where_pk(table: sa.Table, keys: list[tuple]):
    columns = list(table.primary_key.columns)
    if len(columns) == 1:
        return columns[0].in_([key[0] for key in keys])
    return sa.or_(*(sa.and_(*(column == value for column, value in zip(columns, key, strict=True))) for key in keys))


def _chunks(values: list, size: int = 500):
    for start in range(0, len(values), size):
        yield values[start:start + size]


def _shared_payees(found: dict, keys: list[tuple]) -> set[tuple]:
    """Payees (by key) that entries of accounts other than the person's name too."""
    entries = db.metadata.tables["ledger_entries"]
    own_accounts = [row["id"] for row in found["dp_accounts"].rows.values()]
    shared = set()
    for chunk in _chunks([key[0] for key in keys]):
        query = sa.select(entries.c.payee_id).where(entries.c.payee_id.in_(chunk)).distinct()
        if own_accounts:
            query = query.where(entries.c.account_id.not_in(own_accounts))
        shared |= {(payee_id,) for payee_id in db.session.scalars(query)}
    return shared


def anonymise(person_id: int, today: date) -> PersonResult:
    """Anonymise one person in the session's transaction (the caller commits or rolls back)."""
    result = PersonResult(person_id)
    kept_until = pay_records_until(person_id)
    keep_pay = kept_until is not None and today <= kept_until
    result.pay_records_kept_until = kept_until if keep_pay else None
    found = collect(person_id)
    # Children before parents, so deleting a row never leaves another pointing at it.
    for table in reversed(db.metadata.sorted_tables):
        bucket = found.get(table.name)
        if bucket is None or not bucket.rows:
            continue
        policy = POLICY[table.name]
        register = personal_data.entry(table.name)
        if isinstance(policy, Keep):
            continue
        if isinstance(policy, Blank) and policy.pay_record and keep_pay:
            continue
        if isinstance(policy, Delete) or table.name in _PAY_DELETE:
            keys = list(bucket.rows)
            for chunk in _chunks(keys):
                result.rows_deleted += db.session.execute(sa.delete(table).where(_where_pk(table, chunk))).rowcount or 0
            for key in keys:
                result.files += [bucket.rows[key][c] for c in register.files if bucket.rows[key].get(c)]
            continue
        shared = _shared_payees(found, list(bucket.rows)) if policy.only_unshared else set()
        for key, row in bucket.rows.items():
            if key in shared:
                continue
            if policy.only_link and policy.only_link not in bucket.matched[key]:
                continue
            values = {column: (value(row) if callable(value) else value) for column, value in policy.columns.items()}
            changes = {column: value for column, value in values.items() if row[column] != value}
            if not changes:
                continue
            db.session.execute(sa.update(table).where(_where_pk(table, [key])).values(**changes))
            result.rows_changed += 1
            result.files += [row[c] for c in register.files if c in changes and row[c]]
    return result


def run(today: date, *, dry_run: bool = False, storage: Storage | None = None) -> Report:
    """Anonymise everyone due on `today`, one person to a transaction, then delete their files."""
    storage = storage or (None if dry_run else Storage.from_config())
    report = Report(today, dry_run)
    due, report.not_due = due_recipients(today)
    db.session.rollback()  # start each person's transaction clean
    due_set = set(due)
    for person_id in due:
        why = other_roles(person_id, due_set)
        if why:
            report.skipped.append(f"person {person_id}: {why}")
            db.session.rollback()
            continue
        try:
            result = anonymise(person_id, today)
            if result.pay_records_kept_until:
                report.pay_records_kept += 1
            if not result.changed:
                report.already_done += 1
                db.session.rollback()
                continue
            if dry_run:
                db.session.rollback()
            else:
                audit.record("retention.anonymised", record_type="person", record_id=person_id, acting_for_id=person_id,
                             outcome=f"{result.rows_deleted} deleted, {result.rows_changed} anonymised")
                db.session.commit()
        except Exception:
            db.session.rollback()
            raise
        report.done.append(result)
        if not dry_run:
            for name in result.files:
                try:
                    storage.delete(name)
                    report.files_deleted += 1
                except (FileNotFoundError, OSError):
                    report.skipped.append(f"file {name} of person {person_id}: could not be deleted")
    if not dry_run:
        audit.record("retention.run", record_type="retention", record_id=today.isoformat(),
                     outcome=f"{len(report.done)} people, {report.rows_deleted + report.rows_changed} rows, "
                             f"{report.files_deleted} files")
        db.session.commit()
    return report

