"""Audits and care reviews: when they are due, and an audit from start to sign-off.

Due dates (the rules, pure functions first; the same rules in SQL for queues and the dashboard):

- a person's first care review is due within 6 months of their first payment, then at most 12 months
  after the last completed review;
- an audit is due the council's `audit_months` (a council setting, 12 by default) after the end of the
  period the last signed-off audit covered, or after the first payment when there has been none.

The first payment is the case's set-up record (CaseSetup.first_payment_on) or, where that is empty, the
first council payment in the person's ledger. No first payment yet: nothing is due.
Adding months keeps the day of the month, or the month's last day where it has no such day
(31 August + 6 months is 28 February; 29 February + 12 months is 28 February).

An audit: DPSS staff of the person's provider start one for a period (one in progress per person at a
time), answer the checklist, give a reason for any transaction without its evidence or flagged spend
without an explanation, choose an outcome and sign off. Signing off happens once (a conditional update
on the status: a double click changes nothing the second time) and locks the audit: every later change
is refused. At sign-off the statement's figures and each transaction's evidence, flags and explanation
are kept with the audit, so its report never changes afterwards.
"""

import calendar
from dataclasses import dataclass, field
from datetime import date, timedelta

import sqlalchemy as sa
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.compiler import compiles
from sqlalchemy.sql.expression import FunctionElement

from portal.extensions import db
from portal.models import (
    CaseloadEntry,
    CaseSetup,
    DPAccount,
    EntryKind,
    LedgerEntry,
    Organisation,
    Recipient,
    User,
)
from portal.models.audits import Audit, AuditFinding, AuditOutcome, AuditStatus, CareReview, ChecklistAnswer
from portal.models.settings import CouncilSettings
from portal.services.clock import london_today, utcnow
from portal.services.statements import MAX_YEARS, Statement, StatementEntry, build_statement, too_long

FIRST_REVIEW_MONTHS = 6
REVIEW_GAP_MONTHS = 12
DEFAULT_AUDIT_MONTHS = 12
AUDIT_MONTHS_RANGE = (1, 36)
DUE_SOON_DAYS = 30  # queues show what is due within this many days, and what is overdue

# The checklist: (field prefix, question, the note's column).
CHECKLIST = [
    ("insurance_valid", "Was the employer's liability insurance valid for the whole period?", "insurance_note"),
    ("payslips_match", "Do the payslips match the net pay paid from the account?", "payslips_note"),
    ("hmrc_paid", "Were tax and National Insurance paid to HMRC?", "hmrc_note"),
    ("pension_paid", "Were workplace pension contributions paid?", "pension_note"),
]
OUTCOME_WORDS = {
    AuditOutcome.SATISFACTORY: "Satisfactory",
    AuditOutcome.ACTIONS_NEEDED: "Actions needed",
    AuditOutcome.REFERRED: "Referred to the council",
}
ANSWER_WORDS = {ChecklistAnswer.YES: "Yes", ChecklistAnswer.NO: "No", ChecklistAnswer.NOT_APPLICABLE: "Not applicable"}


# The rules ---------------------------------------------------------------------------------------


def add_months(day: date, months: int) -> date:
    """The same day `months` later, or the last day of that month when it is shorter."""
    index = day.month - 1 + months
    year, month = day.year + index // 12, index % 12 + 1
    return date(year, month, min(day.day, calendar.monthrange(year, month)[1]))


def review_due(first_payment: date | None, last_review: date | None) -> date | None:
    """When the next care review is due: 12 months after the last, else 6 months after the first payment."""
    if last_review is not None:
        return add_months(last_review, REVIEW_GAP_MONTHS)
    if first_payment is not None:
        return add_months(first_payment, FIRST_REVIEW_MONTHS)
    return None


def audit_due(first_payment: date | None, last_audit_end: date | None, months: int = DEFAULT_AUDIT_MONTHS) -> date | None:
    """When the next audit is due: `months` after the end of the last signed-off audit's period, else after the first payment."""
    if last_audit_end is not None:
        return add_months(last_audit_end, months)
    if first_payment is not None:
        return add_months(first_payment, months)
    return None


@dataclass(frozen=True)
class Due:
    on: date | None
    today: date

    @property
    def state(self) -> str:
        """"overdue", "due" (within DUE_SOON_DAYS), "not due", or "" (no first payment yet)."""
        if self.on is None:
            return ""
        if self.on < self.today:
            return "overdue"
        if self.on <= self.today + timedelta(days=DUE_SOON_DAYS):
            return "due"
        return "not due"

    @property
    def days(self) -> int | None:
        """Days until it is due (negative: days overdue)."""
        return None if self.on is None else (self.on - self.today).days


# The same rules in SQL -----------------------------------------------------------------------------


class add_months_sql(FunctionElement):
    """add_months(day, months) in SQL, clamped to the month's end as add_months is (SQLite and PostgreSQL)."""

    type = sa.Date()
    inherit_cache = True
    name = "add_months"


@compiles(add_months_sql, "sqlite")
def _add_months_sqlite(element, compiler, **kw):
    day, months = (compiler.process(arg, **kw) for arg in element.clauses)
    # The day's number of days after the 1st of the target month, or that month's last day: the smaller.
    return (
        f"min(date({day}, 'start of month', '+' || ({months}) || ' months', "
        f"'+' || (CAST(strftime('%d', {day}) AS INTEGER) - 1) || ' days'), "
        f"date({day}, 'start of month', '+' || (({months}) + 1) || ' months', '-1 day'))"
    )


@compiles(add_months_sql, "postgresql")
def _add_months_postgresql(element, compiler, **kw):
    day, months = (compiler.process(arg, **kw) for arg in element.clauses)
    # PostgreSQL's month arithmetic already keeps to the month's last day.
    return f"CAST({day} + make_interval(months => CAST({months} AS INTEGER)) AS DATE)"


def first_payment_sql(recipient_id, setup_first_payment=None):
    """The first payment of the recipient (a column): the set-up record's, else the ledger's first council payment.
    In a statement on case_setups itself, pass its first_payment_on column (a subquery on the same table
    would not be correlated to the row)."""
    from_ledger = (
        sa.select(LedgerEntry.entry_date)
        .join(DPAccount, DPAccount.id == LedgerEntry.account_id)
        .where(DPAccount.recipient_id == recipient_id, LedgerEntry.kind == EntryKind.COUNCIL_PAYMENT,
               LedgerEntry.amount_pence > 0)
        .order_by(LedgerEntry.entry_date).limit(1).scalar_subquery()
    )
    if setup_first_payment is None:
        setup_first_payment = sa.select(CaseSetup.first_payment_on).where(CaseSetup.recipient_id == recipient_id).scalar_subquery()
    return sa.func.coalesce(setup_first_payment, from_ledger)


def audit_months_by_council(today: date) -> dict[int, int]:
    """Each council's audit frequency in force today (councils without settings: the default). One query."""
    rows = db.session.execute(
        sa.select(CouncilSettings.council_id, CouncilSettings.audit_months)
        .where(CouncilSettings.effective_from <= today)
        .order_by(CouncilSettings.council_id, CouncilSettings.effective_from)
    ).all()
    return {council: months for council, months in rows}  # the latest start date wins


def _months_expr(council_id, months_by_council: dict[int, int]):
    differ = {c: m for c, m in months_by_council.items() if m != DEFAULT_AUDIT_MONTHS}
    if not differ:
        return sa.literal(DEFAULT_AUDIT_MONTHS, sa.Integer)
    return sa.case(differ, value=council_id, else_=sa.literal(DEFAULT_AUDIT_MONTHS, sa.Integer))


def due_dates_update(months_by_council: dict[int, int]):
    """An UPDATE of case_setups' stored due dates from the rules (add a WHERE to narrow it): the next
    review 12 months after the last, else 6 months after the first payment; the next audit the council's
    months after the end of the last signed-off audit's period, else after the first payment."""
    S = CaseSetup
    last_review = sa.select(sa.func.max(CareReview.reviewed_on)).where(CareReview.recipient_id == S.recipient_id).scalar_subquery()
    last_audit = (
        sa.select(sa.func.max(Audit.period_end))
        .where(Audit.recipient_id == S.recipient_id, Audit.status == AuditStatus.SIGNED_OFF)
        .scalar_subquery()
    )
    council = sa.select(Recipient.council_id).where(Recipient.person_id == S.recipient_id).scalar_subquery()
    first = first_payment_sql(S.recipient_id, S.first_payment_on)
    return sa.update(S).values(
        review_due_on=sa.func.coalesce(add_months_sql(last_review, REVIEW_GAP_MONTHS), add_months_sql(first, FIRST_REVIEW_MONTHS)),
        audit_due_on=add_months_sql(sa.func.coalesce(last_audit, first), _months_expr(council, months_by_council)),
    ).execution_options(synchronize_session=False)


def refresh_due_dates(recipient_ids: list[int] | None = None, today: date | None = None, *, council_id: int | None = None) -> None:
    """Work out the stored due dates again: for these people, a council's, or everyone (after a payment
    run, a change of a council's audit frequency, generated data). Callers: record_review, sign_off,
    case_lifecycle, the council settings page."""
    statement = due_dates_update(audit_months_by_council(today or london_today()))
    if recipient_ids is not None:
        if not recipient_ids:
            return
        statement = statement.where(CaseSetup.recipient_id.in_(recipient_ids))
    if council_id is not None:
        statement = statement.where(CaseSetup.recipient_id.in_(sa.select(Recipient.person_id).where(Recipient.council_id == council_id)))
    db.session.execute(statement)


def reviews_due_select(conditions, today: date, horizon: date):
    """Cases (caseload entries matching `conditions`, closed ones left out) whose next care review is due on
    or before `horizon`: columns recipient_id, caseworker_id, provider_id, due, overdue (due before today).
    The due date is the stored one (refresh_due_dates), found through its index; last_reviews() gives the
    last review of the rows shown (not worked out for every row counted)."""
    E, S = CaseloadEntry, CaseSetup
    return (
        sa.select(E.recipient_id, E.caseworker_id, E.provider_id, S.review_due_on.label("due"), (S.review_due_on < today).label("overdue"))
        .select_from(E).join(S, S.recipient_id == E.recipient_id)
        .where(*conditions, E.closed_on.is_(None), S.review_due_on <= horizon)
    )


def last_reviews(recipient_ids) -> dict[int, date]:
    """The date of each person's last care review (people with none are left out)."""
    if not recipient_ids:
        return {}
    return dict(db.session.execute(
        sa.select(CareReview.recipient_id, sa.func.max(CareReview.reviewed_on))
        .where(CareReview.recipient_id.in_(list(recipient_ids))).group_by(CareReview.recipient_id)).all())


def last_audits(recipient_ids) -> tuple[dict[int, date], dict[int, int]]:
    """For each person: the end of their last signed-off audit's period, and the audit in progress (its id)."""
    if not recipient_ids:
        return {}, {}
    ids = list(recipient_ids)
    done = dict(db.session.execute(
        sa.select(Audit.recipient_id, sa.func.max(Audit.period_end))
        .where(Audit.recipient_id.in_(ids), Audit.status == AuditStatus.SIGNED_OFF).group_by(Audit.recipient_id)).all())
    open_now = dict(db.session.execute(sa.select(Audit.open_key, Audit.id).where(Audit.open_key.in_(ids))).all())
    return done, open_now


def audits_due_select(conditions, today: date, horizon: date, months_by_council: dict[int, int] | None = None):
    """As reviews_due_select, for audits: columns recipient_id, caseworker_id, provider_id, due, overdue
    (last_audits() gives the last one and any in progress for the rows shown)."""
    E, S = CaseloadEntry, CaseSetup
    return (
        sa.select(E.recipient_id, E.caseworker_id, E.provider_id, S.audit_due_on.label("due"), (S.audit_due_on < today).label("overdue"))
        .select_from(E).join(S, S.recipient_id == E.recipient_id)
        .where(*conditions, E.closed_on.is_(None), S.audit_due_on <= horizon)
    )


@dataclass
class Overdue:
    provider_id: int
    provider_name: str
    reviews: int = 0
    audits: int = 0


def overdue_by_provider(council_id: int, today: date) -> dict[int, Overdue]:
    """For a council's dashboard: how many of the people it funds have a care review or an audit overdue
    (due before today), per provider. Three queries."""
    conditions = [_in_council(council_id)]
    yesterday = today - timedelta(days=1)
    reviews = reviews_due_select(conditions, today, yesterday).subquery()
    audits = audits_due_select(conditions, today, yesterday, audit_months_by_council(today)).subquery()
    rows = db.session.execute(sa.union_all(
        sa.select(sa.literal("reviews").label("kind"), reviews.c.provider_id, sa.func.count().label("n"))
        .group_by(reviews.c.provider_id),
        sa.select(sa.literal("audits").label("kind"), audits.c.provider_id, sa.func.count().label("n"))
        .group_by(audits.c.provider_id),
    )).all()
    found: dict[int, Overdue] = {}
    if rows:
        names = dict(db.session.execute(sa.select(Organisation.id, Organisation.name)
                                        .where(Organisation.id.in_({r.provider_id for r in rows}))).all())
        for kind, provider_id, number in rows:
            entry = found.setdefault(provider_id, Overdue(provider_id, names.get(provider_id, "")))
            setattr(entry, kind, int(number))
    return found


def _in_council(council_id: int):
    return CaseloadEntry.recipient_id.in_(sa.select(Recipient.person_id).where(Recipient.council_id == council_id))


# One person ---------------------------------------------------------------------------------------


def first_payment_on(recipient_id: int) -> date | None:
    return db.session.scalar(sa.select(first_payment_sql(sa.literal(recipient_id, sa.Integer))))


def audit_months_for(council_id: int, today: date) -> int:
    months = db.session.scalar(
        sa.select(CouncilSettings.audit_months)
        .where(CouncilSettings.council_id == council_id, CouncilSettings.effective_from <= today)
        .order_by(CouncilSettings.effective_from.desc()).limit(1)
    )
    return months or DEFAULT_AUDIT_MONTHS


def reviews_of(recipient_id: int) -> list[CareReview]:
    return list(db.session.scalars(
        sa.select(CareReview).where(CareReview.recipient_id == recipient_id)
        .order_by(CareReview.reviewed_on.desc(), CareReview.id.desc())
    ))


def audits_of(recipient_id: int) -> list[Audit]:
    return list(db.session.scalars(
        sa.select(Audit).where(Audit.recipient_id == recipient_id)
        .order_by(Audit.period_end.desc(), Audit.id.desc())
    ))


def audit_of(recipient_id: int, audit_id: int) -> Audit | None:
    """An audit of this person (never another's: the caller loaded the person through a scope)."""
    return db.session.scalar(sa.select(Audit).where(Audit.id == audit_id, Audit.recipient_id == recipient_id))


def last_signed_off(recipient_id: int) -> Audit | None:
    return db.session.scalar(
        sa.select(Audit).where(Audit.recipient_id == recipient_id, Audit.status == AuditStatus.SIGNED_OFF)
        .order_by(Audit.period_end.desc(), Audit.id.desc()).limit(1)
    )


@dataclass
class CaseSummary:
    """What the case page shows of reviews and audits."""

    first_payment: date | None
    review: Due
    last_review: CareReview | None
    audit: Due
    audit_months: int
    last_audit: Audit | None
    in_progress: Audit | None
    audits: list[Audit] = field(default_factory=list)  # the latest few, newest first


def case_summary(recipient_id: int, today: date, latest: int = 3) -> CaseSummary:
    recipient = db.session.get(Recipient, recipient_id)
    first = first_payment_on(recipient_id)
    reviews = db.session.scalars(
        sa.select(CareReview).where(CareReview.recipient_id == recipient_id)
        .order_by(CareReview.reviewed_on.desc(), CareReview.id.desc()).limit(1)
    ).all()
    last_review = reviews[0] if reviews else None
    months = audit_months_for(recipient.council_id, today) if recipient else DEFAULT_AUDIT_MONTHS
    audits = list(db.session.scalars(
        sa.select(Audit).where(Audit.recipient_id == recipient_id)
        .order_by(Audit.period_end.desc(), Audit.id.desc()).limit(latest)
    ))
    last = last_signed_off(recipient_id)
    in_progress = db.session.scalar(sa.select(Audit).where(Audit.open_key == recipient_id))
    return CaseSummary(
        first_payment=first,
        review=Due(review_due(first, last_review.reviewed_on if last_review else None), today),
        last_review=last_review,
        audit=Due(audit_due(first, last.period_end if last else None, months), today),
        audit_months=months,
        last_audit=last,
        in_progress=in_progress,
        audits=audits,
    )


def suggested_period(recipient_id: int, council_id: int, today: date) -> tuple[date, date]:
    """The period a new audit would cover: from the day after the last audit's period (or the first payment,
    or a year ago) for the council's audit frequency, up to today at the latest."""
    last = last_signed_off(recipient_id)
    if last is not None:
        start = last.period_end + timedelta(days=1)
    else:
        start = first_payment_on(recipient_id) or add_months(today, -12) + timedelta(days=1)
    start = min(start, today)
    end = min(add_months(start, audit_months_for(council_id, today)) - timedelta(days=1), today)
    return start, end


# Errors -------------------------------------------------------------------------------------------


class AuditError(Exception):
    """A change the rules refuse: message for a banner; problems as (field, message) for the form."""

    message = "Nothing was changed."

    def __init__(self, message: str | None = None, problems: list[tuple[str | None, str]] | None = None):
        if message:
            self.message = message
        self.problems = problems or [(None, self.message)]
        super().__init__(self.message)


class AuditLocked(AuditError):
    message = "This audit has been signed off, so it cannot be changed. Nothing was changed."


class AlreadySignedOff(AuditError):
    def __init__(self, audit: Audit):
        who = audit.signed_off_by.display_name if audit.signed_off_by else "someone"
        when = f"{audit.signed_off_on.day} {audit.signed_off_on:%B %Y}" if audit.signed_off_on else ""
        super().__init__(f"This audit was already signed off by {who} on {when}. Nothing was changed.")


class StaleAudit(AuditError):
    message = ("The audit was changed by someone else while you had it open. Check it again, then sign off. "
               "Nothing was changed.")


# Starting an audit --------------------------------------------------------------------------------


def check_period(start: date, end: date, today: date) -> list[tuple[str, str]]:
    problems = []
    if end < start:
        problems.append(("period_end", "The end date must be the same as or after the start date"))
    elif too_long(start, end):
        problems.append(("period_end", f"An audit can cover up to {MAX_YEARS} years. Enter a shorter period"))
    if end > today:
        problems.append(("period_end", "The end date must be today or in the past"))
    return problems


def start_audit(recipient: Recipient, user: User, start: date, end: date, today: date) -> Audit:
    """A new audit of [start, end] in progress (refused while another of the person's is in progress)."""
    problems = check_period(start, end, today)
    if problems:
        raise AuditError(problems[0][1], problems)
    current = db.session.scalar(sa.select(Audit).where(Audit.open_key == recipient.person_id))
    if current is not None:
        raise AuditError("An audit of this person is already in progress: finish and sign it off first. "
                         "Nothing was changed.")
    audit = Audit(
        recipient_id=recipient.person_id, provider_id=user.organisation_id, period_start=start, period_end=end,
        status=AuditStatus.IN_PROGRESS, open_key=recipient.person_id, started_by_id=user.id, updated_by_id=user.id,
    )
    db.session.add(audit)
    try:
        db.session.flush()
    except IntegrityError:  # another started one at the same moment
        db.session.rollback()
        raise AuditError("An audit of this person is already in progress: finish and sign it off first. "
                         "Nothing was changed.") from None
    return audit


# Changing an audit in progress: every change is a conditional update on the status --------------------


def _update(audit: Audit, user: User, **values) -> None:
    """Change an audit still in progress, or refuse (AuditLocked) if it was signed off meanwhile."""
    result = db.session.execute(
        sa.update(Audit)
        .where(Audit.id == audit.id, Audit.status == AuditStatus.IN_PROGRESS)
        .values(**values, updated_by_id=user.id, updated_at=utcnow(), version=Audit.version + 1)
        .execution_options(synchronize_session=False)
    )
    if result.rowcount != 1:
        db.session.rollback()
        raise AuditLocked()
    db.session.refresh(audit)


def save_checklist(audit: Audit, user: User, answers: dict[str, ChecklistAnswer | None], notes: dict[str, str]) -> None:
    """Answer the checklist (each question yes, no or not applicable, with a note; a note is needed for "no")."""
    if audit.locked:
        raise AuditLocked()
    problems = []
    values = {}
    for name, question, note_name in CHECKLIST:
        answer = answers.get(name)
        note = (notes.get(note_name) or "").strip()
        if answer == ChecklistAnswer.NO and not note:
            problems.append((note_name, "Say what was wrong, and what is being done about it"))
        if len(note) > 1000:
            problems.append((note_name, "The note must be 1,000 characters or fewer"))
        values[name] = answer
        values[note_name] = note
    if problems:
        raise AuditError(problems[0][1], problems)
    _update(audit, user, **values)


def entry_in_audit(audit: Audit, entry_id: int) -> LedgerEntry | None:
    """A ledger entry of the audited person's accounts within the audit's period, or None."""
    return db.session.scalar(
        sa.select(LedgerEntry).join(DPAccount, DPAccount.id == LedgerEntry.account_id)
        .where(LedgerEntry.id == entry_id, DPAccount.recipient_id == audit.recipient_id,
               LedgerEntry.entry_date >= audit.period_start, LedgerEntry.entry_date <= audit.period_end)
    )


def save_finding(audit: Audit, user: User, entry_id: int, note: str) -> None:
    """The auditor's reason or explanation for one transaction (an empty note removes it)."""
    if audit.locked:
        raise AuditLocked()
    note = (note or "").strip()
    if len(note) > 1000:
        raise AuditError("The reason must be 1,000 characters or fewer", [("note", "The reason must be 1,000 characters or fewer")])
    if entry_in_audit(audit, entry_id) is None:
        raise AuditError("That transaction is not in this audit's period. Nothing was changed.")
    _update(audit, user)  # refuses if signed off meanwhile, and moves the version on
    finding = db.session.scalar(sa.select(AuditFinding).where(AuditFinding.audit_id == audit.id, AuditFinding.entry_id == entry_id))
    if finding is None:
        finding = AuditFinding(audit_id=audit.id, entry_id=entry_id)
        db.session.add(finding)
    finding.note, finding.noted_by_id, finding.noted_at = note, user.id, utcnow()
    db.session.flush()


# The audit's report: statement, transactions with their evidence or reasons, checklist ---------------------


@dataclass(frozen=True)
class Line:
    """One transaction of the period, as the audit sees it."""

    entry_id: int
    entry_date: date
    payee: str
    description: str
    category: str
    money_in_pence: int | None
    money_out_pence: int | None
    evidence_count: int
    needs_evidence: bool
    flags: tuple[str, ...]
    explanation: str
    note: str

    @property
    def missing_evidence(self) -> bool:
        return self.needs_evidence and not self.evidence_count

    @property
    def flagged(self) -> bool:
        return bool(self.flags)

    @property
    def gap(self) -> bool:
        """Evidence missing with no reason given, or flagged spend with no explanation."""
        reason = bool(self.note or self.explanation)
        return (self.missing_evidence or self.flagged) and not reason

    @property
    def evidence(self) -> str:
        if self.evidence_count == 1:
            return "Receipt on file"
        if self.evidence_count:
            return f"{self.evidence_count} receipts on file"
        if self.money_in_pence is not None:
            return "Not needed: money in, recorded by the portal"
        if self.needs_evidence:
            return "No receipt: reason given" if (self.note or self.explanation) else "No receipt"
        return "Not needed"


@dataclass
class ChecklistRow:
    name: str
    question: str
    note_name: str
    answer: ChecklistAnswer | None
    note: str

    @property
    def answer_words(self) -> str:
        return ANSWER_WORDS.get(self.answer, "Not answered") if self.answer else "Not answered"


@dataclass
class Report:
    audit: Audit
    person_name: str
    council_name: str
    provider_name: str
    start: date
    end: date
    made_on: date
    opening_pence: int
    money_in_pence: int
    money_out_pence: int
    closing_pence: int
    lines: list[Line]
    checklist: list[ChecklistRow]
    statement: Statement | None = None  # the live statement while in progress (its breakdowns)

    @property
    def draft(self) -> bool:
        return not self.audit.locked

    @property
    def flagged(self) -> list[Line]:
        return [line for line in self.lines if line.flagged]

    @property
    def missing_evidence(self) -> list[Line]:
        return [line for line in self.lines if line.missing_evidence]

    @property
    def gaps(self) -> list[Line]:
        return [line for line in self.lines if line.gap]

    @property
    def filename_stem(self) -> str:
        """For downloads: dates only, never a person's name."""
        return f"audit-{self.start.isoformat()}-to-{self.end.isoformat()}"


def checklist_rows(audit: Audit) -> list[ChecklistRow]:
    return [ChecklistRow(name, question, note_name, getattr(audit, name), getattr(audit, note_name) or "")
            for name, question, note_name in CHECKLIST]


def _notes(audit: Audit) -> dict[int, AuditFinding]:
    return {f.entry_id: f for f in db.session.scalars(sa.select(AuditFinding).where(AuditFinding.audit_id == audit.id))}


def _line(entry: StatementEntry, finding: AuditFinding | None) -> Line:
    return Line(
        entry_id=entry.id, entry_date=entry.entry_date, payee=entry.payee, description=entry.description,
        category=entry.category, money_in_pence=entry.money_in_pence, money_out_pence=entry.money_out_pence,
        evidence_count=entry.evidence_count, needs_evidence=entry.needs_evidence, flags=entry.flags,
        explanation=entry.explanation, note=finding.note if finding else "",
    )


def build_report(recipient: Recipient, audit: Audit, today: date) -> Report:
    """The audit's report: live from the ledger while in progress; as kept at sign-off once signed off."""
    provider = audit.provider.name if audit.provider else ""
    base = dict(audit=audit, person_name=recipient.full_name, council_name=recipient.council.name,
                provider_name=provider, start=audit.period_start, end=audit.period_end, checklist=checklist_rows(audit))
    findings = _notes(audit)
    if audit.locked:
        return Report(**base, made_on=audit.signed_off_on or today, opening_pence=audit.opening_pence or 0,
                      money_in_pence=audit.money_in_pence or 0, money_out_pence=audit.money_out_pence or 0,
                      closing_pence=audit.closing_pence or 0, lines=_kept_lines(audit, findings))
    statement = build_statement(recipient, audit.period_start, audit.period_end, today)
    return Report(**base, made_on=today, opening_pence=statement.opening_pence, money_in_pence=statement.money_in_pence,
                  money_out_pence=statement.money_out_pence, closing_pence=statement.closing_pence,
                  lines=[_line(e, findings.get(e.id)) for e in statement.entries], statement=statement)


def _kept_lines(audit: Audit, findings: dict[int, AuditFinding]) -> list[Line]:
    """The transactions kept at sign-off, with the evidence, flags and explanations they had then."""
    from portal.models import EntryState, Payee

    rows = db.session.execute(
        sa.select(LedgerEntry.id, LedgerEntry.entry_date, LedgerEntry.amount_pence, LedgerEntry.description,
                  Payee.name, EntryState.category)
        .join(AuditFinding, AuditFinding.entry_id == LedgerEntry.id)
        .outerjoin(Payee, Payee.id == LedgerEntry.payee_id)
        .outerjoin(EntryState, EntryState.entry_id == LedgerEntry.id)
        .where(AuditFinding.audit_id == audit.id, AuditFinding.kept.is_(True))
        .order_by(LedgerEntry.entry_date, LedgerEntry.id)
    ).all()
    lines = []
    for entry_id, entry_date, amount, description, payee, category in rows:
        finding = findings[entry_id]
        lines.append(Line(
            entry_id=entry_id, entry_date=entry_date, payee=payee or "", description=description or "",
            category=(category.value[:1].upper() + category.value[1:]) if category else "",
            money_in_pence=amount if amount >= 0 else None, money_out_pence=-amount if amount < 0 else None,
            evidence_count=finding.evidence_count or 0, needs_evidence=bool(finding.needs_evidence),
            flags=tuple(f for f in finding.flags.split(",") if f), explanation=finding.explanation, note=finding.note,
        ))
    return lines


# Signing off ---------------------------------------------------------------------------------------


def sign_off_problems(audit: Audit, report: Report, outcome: AuditOutcome | None, actions: str) -> list[tuple[str | None, str]]:
    """What stops this audit being signed off with this outcome (empty: it may be)."""
    problems: list[tuple[str | None, str]] = []
    unanswered = [row for row in report.checklist if row.answer is None]
    if unanswered:
        problems.append((None, f"Answer every question of the checklist ({len(unanswered)} not answered yet), and save it"))
    if outcome is None:
        problems.append(("outcome", "Select the outcome of the audit"))
    elif outcome == AuditOutcome.SATISFACTORY:
        if report.gaps:
            problems.append(("outcome", f"The audit cannot be satisfactory while {len(report.gaps)} "
                                        f"{'transaction has' if len(report.gaps) == 1 else 'transactions have'} no evidence, "
                                        "reason or explanation: give a reason for each, or choose another outcome"))
        if any(row.answer == ChecklistAnswer.NO for row in report.checklist):
            problems.append(("outcome", "The audit cannot be satisfactory when a checklist answer is ‘No’: choose another outcome"))
    elif not actions.strip():
        problems.append(("actions", "Say what needs to be done, by whom and by when"))
    if len(actions) > 2000:
        problems.append(("actions", "The actions must be 2,000 characters or fewer"))
    return problems


def sign_off(recipient: Recipient, audit: Audit, user: User, outcome: AuditOutcome | None, actions: str,
             version: int, today: date) -> Audit:
    """Sign the audit off with its outcome, once: the conditional update finds it in progress at the version the
    page showed, or nothing changes (AlreadySignedOff for a second click, StaleAudit for a page out of date)."""
    if audit.locked:
        raise AlreadySignedOff(audit)
    if version != audit.version:
        raise StaleAudit()
    actions = (actions or "").strip()
    report = build_report(recipient, audit, today)
    problems = sign_off_problems(audit, report, outcome, actions)
    if problems:
        raise AuditError(problems[0][1], problems)
    result = db.session.execute(
        sa.update(Audit)
        .where(Audit.id == audit.id, Audit.status == AuditStatus.IN_PROGRESS, Audit.version == version)
        .values(status=AuditStatus.SIGNED_OFF, open_key=None, outcome=outcome, actions=actions,
                signed_off_by_id=user.id, signed_off_at=utcnow(), signed_off_on=today,
                opening_pence=report.opening_pence, money_in_pence=report.money_in_pence,
                money_out_pence=report.money_out_pence, closing_pence=report.closing_pence,
                updated_by_id=user.id, updated_at=utcnow(), version=Audit.version + 1)
        .execution_options(synchronize_session=False)
    )
    if result.rowcount != 1:
        db.session.rollback()
        db.session.refresh(audit)
        if audit.locked:
            raise AlreadySignedOff(audit)
        raise StaleAudit()
    findings = _notes(audit)
    for line in report.lines:
        finding = findings.get(line.entry_id)
        if finding is None:
            finding = AuditFinding(audit_id=audit.id, entry_id=line.entry_id)
            db.session.add(finding)
        finding.kept = True
        finding.evidence_count, finding.needs_evidence = line.evidence_count, line.needs_evidence
        finding.flags, finding.explanation = ",".join(line.flags), line.explanation[:500]
    db.session.flush()
    refresh_due_dates([recipient.person_id])
    db.session.refresh(audit)
    return audit


# Care reviews --------------------------------------------------------------------------------------


class ReviewError(AuditError):
    pass


def record_review(recipient: Recipient, user: User, reviewed_on: date, outcome: str, today: date) -> CareReview:
    """A care review done on a day (one a day per person: the same day twice is refused)."""
    outcome = (outcome or "").strip()
    problems = []
    if reviewed_on > today:
        problems.append(("reviewed_on", "The date of the review must be today or in the past"))
    if not outcome:
        problems.append(("outcome", "Enter what the review found and what happens next"))
    elif len(outcome) > 2000:
        problems.append(("outcome", "The outcome must be 2,000 characters or fewer"))
    if problems:
        raise ReviewError(problems[0][1], problems)
    existing = db.session.scalar(sa.select(CareReview).where(CareReview.recipient_id == recipient.person_id,
                                                             CareReview.reviewed_on == reviewed_on))
    if existing is not None:
        raise ReviewError(f"A review on {reviewed_on.day} {reviewed_on:%B %Y} is already recorded. Nothing was changed.")
    review = CareReview(recipient_id=recipient.person_id, reviewed_on=reviewed_on, outcome=outcome,
                        provider_id=user.organisation_id, recorded_by_id=user.id)
    db.session.add(review)
    try:
        db.session.flush()
    except IntegrityError:  # recorded at the same moment by another request (a double click)
        db.session.rollback()
        raise ReviewError(f"A review on {reviewed_on.day} {reviewed_on:%B %Y} is already recorded. Nothing was changed.") from None
    refresh_due_dates([recipient.person_id], today)
    return review
