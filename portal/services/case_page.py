"""The case page: everything about one person in one place, for their DPSS staff and their council.

build() gathers the headlines of each area from the services that own them (money, budgets, employing,
timesheets, excess-balance reviews, casework) and a few small queries of its own, each limited to the
most recent few rows: the page links to the full page for the rest. It runs a fixed number of queries
whatever the person's history (no query per ledger entry, timesheet, note or document), so it stays fast
for a person with years of transactions. The caller has loaded the person through access.recipient_or_404.

Audits and reviews, and managed-account payments, are other services' (the template has slots for them);
set-up, closure and moves come from services.case_lifecycle.summary.
"""

from dataclasses import dataclass, field
from datetime import date

import sqlalchemy as sa
from sqlalchemy.orm import selectinload

from portal.extensions import db
from portal.models import (
    BudgetVersion,
    CaseloadEntry,
    DPAccount,
    Employment,
    EntryState,
    Evidence,
    ExcessBalanceReview,
    LedgerEntry,
    Organisation,
    Payee,
    Person,
    Recipient,
    RepresentativeLink,
    ReviewStatus,
    SafeguardingConcern,
    SupportLine,
    SupportPlan,
    Timesheet,
    TimesheetDocument,
    TimesheetStatus,
    User,
)
from portal.services import audits, budgets, case_lifecycle, managed_payments, casework, employments, evidence, excess_reviews, money, timesheet_views
from portal.services.case_lifecycle import Lifecycle
from portal.services.casework import NoteRow
from portal.services.employments import Duty
from portal.services.money import LineSpend, MoneySummary

RECENT_TRANSACTIONS = 10
RECENT_GAPS = 5
RECENT_TIMESHEETS = 5
RECENT_NOTES = 3
RECENT_CONCERNS = 3
RECENT_DOCUMENTS = 6
WAITING = (TimesheetStatus.SUBMITTED, TimesheetStatus.AWAITING_KEYING)


@dataclass
class MoneySection:
    """Budget and balance this cycle (money.summary's figures) and how the money is held."""

    summary: MoneySummary
    version: BudgetVersion | None  # the budget's amounts in force today
    method: str = ""
    held_by: str = ""  # the support service holding a managed account

    @property
    def has_account(self) -> bool:
        return self.summary.account is not None

    @property
    def cycle_planned_pence(self) -> int:
        return sum(line.planned_pence for line in self.summary.period_lines)

    @property
    def cycle_spent_pence(self) -> int:
        return sum(line.spent_pence for line in self.summary.period_lines)


@dataclass(frozen=True)
class PlanLine:
    line: SupportLine | None  # None: spending not in the plan, or not yet assigned to a line
    spend: LineSpend  # this payment period's allocation and spend


@dataclass
class PlanSection:
    plan: SupportPlan | None
    lines: list[PlanLine]


@dataclass(frozen=True)
class RepresentativeRow:
    name: str
    kind: str
    level: str
    since: date
    until: date | None
    council_agreed_on: date | None


@dataclass
class EmployerSection:
    employments: list[Employment]  # current and future PAs, PA loaded
    duties: list[Duty]  # insurance first, then each PA's (services.employments.employer_duties)

    @property
    def attention(self) -> list[Duty]:
        return [duty for duty in self.duties if duty.needs_attention]

    @property
    def insurance(self) -> Duty | None:
        return next((duty for duty in self.duties if duty.kind == "insurance"), None)


@dataclass(frozen=True)
class TransactionRow:
    entry: LedgerEntry
    state: EntryState
    payee: str
    receipts: tuple[Evidence, ...] = ()


@dataclass
class EvidenceSection:
    needs_receipt: int
    needs_explanation: int
    recent: list[TransactionRow]  # the newest entries still needing a receipt or an explanation

    @property
    def total(self) -> int:
        return self.needs_receipt + self.needs_explanation


@dataclass
class TimesheetSection:
    recent: list[Timesheet]  # the newest (corrections replace what they correct), PA loaded
    waiting: int  # waiting for approval, or paper waiting to be keyed in
    late: int  # recent pay periods with nothing submitted (as the timesheets page counts them)
    managed: bool  # the DPSS approves (a managed account)


@dataclass
class ExcessSection:
    open: list[ExcessBalanceReview]  # open or waiting for the council, newest first
    last_decided: ExcessBalanceReview | None
    count: int


@dataclass
class CaseworkSection:
    notes: list[NoteRow]
    note_count: int
    open_concerns: int
    concerns: list[SafeguardingConcern]  # the newest few, open ones first


@dataclass(frozen=True)
class Document:
    """A file on record, with the endpoint (and its arguments) that serves it to people who may see it."""

    kind: str
    name: str
    uploaded_at: object
    about: str
    endpoint: str
    args: dict = field(default_factory=dict, compare=False)


@dataclass
class DocumentsSection:
    recent: list[Document]
    receipts: int  # receipts and invoices on transactions
    timesheet_documents: int  # paper timesheets and expense receipts

    @property
    def total(self) -> int:
        return self.receipts + self.timesheet_documents


@dataclass
class CasePage:
    recipient: Recipient
    entry: CaseloadEntry | None
    caseworker_name: str
    money: MoneySection
    plan: PlanSection
    representatives: list[RepresentativeRow]
    employer: EmployerSection
    transactions: list[TransactionRow]
    evidence: EvidenceSection
    timesheets: TimesheetSection
    excess: ExcessSection
    casework: CaseworkSection
    documents: DocumentsSection
    lifecycle: Lifecycle  # set-up steps, closure and moves (services.case_lifecycle.summary)
    audits: audits.CaseSummary  # review and audit due dates, the latest audits
    managed: managed_payments.CaseSummary | None  # payments out of a managed account (None: not managed)


def build(recipient: Recipient, user: User, today: date) -> CasePage:
    lifecycle = case_lifecycle.summary(recipient.person_id)
    entry = lifecycle.entry
    account_ids = list(db.session.scalars(
        sa.select(DPAccount.id).where(DPAccount.recipient_id == recipient.person_id).order_by(DPAccount.id)))
    money_section = _money(recipient, today)
    return CasePage(
        recipient=recipient,
        entry=entry,
        caseworker_name=entry.caseworker.display_name if entry and entry.caseworker else "",
        money=money_section,
        plan=_plan(recipient, today, money_section.summary),
        representatives=_representatives(recipient, today),
        employer=_employer(recipient, today),
        transactions=_transactions(account_ids),
        evidence=_evidence(account_ids),
        timesheets=_timesheets(recipient, user, today),
        excess=_excess(recipient),
        casework=_casework(recipient, user),
        documents=_documents(recipient, account_ids),
        lifecycle=lifecycle,
        audits=audits.case_summary(recipient.person_id, today),
        managed=managed_payments.case_summary(recipient.person_id),
    )


# Money -------------------------------------------------------------------------------------------


def _money(recipient: Recipient, today: date) -> MoneySection:
    summary = money.summary(recipient, today)
    version = budgets.version_on(summary.budget, today) if summary.budget else None
    section = MoneySection(summary=summary, version=version)
    account = summary.account
    if account is not None:
        section.method = account.method.value
        if account.managed_by_id:
            section.held_by = db.session.scalar(sa.select(Organisation.name).where(Organisation.id == account.managed_by_id)) or ""
    return section


def _plan(recipient: Recipient, today: date, summary: MoneySummary) -> PlanSection:
    # money.summary has loaded the plan and its lines already: this finds them in the session.
    plan = budgets.current_plan(recipient.person_id, today)
    if plan is None:
        return PlanSection(plan=None, lines=[])
    # spend_against_plan gives one LineSpend per plan line, in the plan's order, then any spend outside it.
    lines = list(plan.lines)
    spends = summary.period_lines
    rows = [PlanLine(line, spend) for line, spend in zip(lines, spends)]
    rows += [PlanLine(None, spend) for spend in spends[len(lines):]]
    return PlanSection(plan=plan, lines=rows)


def _transactions(account_ids: list[int]) -> list[TransactionRow]:
    if not account_ids:
        return []
    rows = db.session.execute(
        sa.select(LedgerEntry, EntryState, Payee.name)
        .join(EntryState, EntryState.entry_id == LedgerEntry.id)
        .outerjoin(Payee, Payee.id == LedgerEntry.payee_id)
        .where(LedgerEntry.account_id.in_(account_ids))
        .order_by(LedgerEntry.entry_date.desc(), LedgerEntry.id.desc())
        .limit(RECENT_TRANSACTIONS)
    ).all()
    receipts = evidence.evidence_for_entries([e.id for e, state, _ in rows if state.evidence_count])
    return [TransactionRow(e, state, payee or "", tuple(receipts.get(e.id, ()))) for e, state, payee in rows]


def _evidence(account_ids: list[int]) -> EvidenceSection:
    if not account_ids:
        return EvidenceSection(0, 0, [])
    needs = sa.or_(EntryState.needs_evidence.is_(True), EntryState.needs_explanation.is_(True))
    counts = db.session.execute(
        sa.select(
            sa.func.coalesce(sa.func.sum(sa.case((EntryState.needs_evidence, 1), else_=0)), 0),
            sa.func.coalesce(sa.func.sum(sa.case((EntryState.needs_explanation, 1), else_=0)), 0),
        ).where(EntryState.account_id.in_(account_ids), needs)
    ).one()
    rows = db.session.execute(
        sa.select(LedgerEntry, EntryState, Payee.name)
        .join(EntryState, EntryState.entry_id == LedgerEntry.id)
        .outerjoin(Payee, Payee.id == LedgerEntry.payee_id)
        .where(EntryState.account_id.in_(account_ids), needs)
        .order_by(LedgerEntry.entry_date.desc(), LedgerEntry.id.desc())
        .limit(RECENT_GAPS)
    ).all()
    return EvidenceSection(int(counts[0]), int(counts[1]), [TransactionRow(e, s, p or "") for e, s, p in rows])


# People ------------------------------------------------------------------------------------------


def _representatives(recipient: Recipient, today: date) -> list[RepresentativeRow]:
    rows = db.session.execute(
        sa.select(RepresentativeLink, Person.given_name, Person.family_name)
        .join(Person, Person.id == RepresentativeLink.representative_id)
        .where(
            RepresentativeLink.recipient_id == recipient.person_id,
            RepresentativeLink.start_date <= today,
            sa.or_(RepresentativeLink.end_date.is_(None), RepresentativeLink.end_date >= today),
        )
        .order_by(RepresentativeLink.start_date, RepresentativeLink.id)
    ).all()
    return [
        RepresentativeRow(f"{given} {family}", link.kind.value, link.level.value, link.start_date, link.end_date,
                          link.council_agreed_on)
        for link, given, family in rows
    ]


def _employer(recipient: Recipient, today: date) -> EmployerSection:
    # The PAs first, with their names, so employer_duties (which reads the same rows) finds them loaded.
    current = list(db.session.scalars(
        sa.select(Employment)
        .where(Employment.employer_id == recipient.person_id,
               sa.or_(Employment.end_date.is_(None), Employment.end_date >= today))
        .options(selectinload(Employment.pa))
        .order_by(Employment.start_date, Employment.id)
    ))
    return EmployerSection(employments=current, duties=employments.employer_duties(recipient.person_id, today))


def _timesheets(recipient: Recipient, user: User, today: date) -> TimesheetSection:
    overview = timesheet_views.employer_overview(user, recipient, today)
    waiting = sum(1 for items in overview.groups.values() for ts in items if ts.status in WAITING)
    recent = list(db.session.scalars(
        sa.select(Timesheet)
        .where(Timesheet.employer_id == recipient.person_id, Timesheet.status != TimesheetStatus.SUPERSEDED)
        .options(selectinload(Timesheet.employment).selectinload(Employment.pa))
        .order_by(Timesheet.period_start.desc(), Timesheet.id.desc())
        .limit(RECENT_TIMESHEETS)
    ))
    return TimesheetSection(recent=recent, waiting=waiting, late=sum(len(job.late) for job in overview.jobs),
                            managed=overview.managed)


# Reviews, notes and concerns ---------------------------------------------------------------------


OPEN_REVIEWS = (ReviewStatus.OPEN, ReviewStatus.PROPOSED)


def _excess(recipient: Recipient) -> ExcessSection:
    # At most one review per payment cycle, so a person's reviews are few (13 a year at most).
    reviews = excess_reviews.reviews_of(recipient.person_id)
    decided = [r for r in reviews if r.status not in OPEN_REVIEWS]
    last = max(decided, key=lambda r: (r.decided_at or r.proposed_at or r.opened_at, r.id), default=None)
    return ExcessSection(open=[r for r in reviews if r.status in OPEN_REVIEWS], last_decided=last, count=len(reviews))


def _casework(recipient: Recipient, user: User) -> CaseworkSection:
    concerns = list(db.session.scalars(
        sa.select(SafeguardingConcern)
        .where(SafeguardingConcern.recipient_id == recipient.person_id)
        .order_by(SafeguardingConcern.acknowledged_at.is_not(None), SafeguardingConcern.created_at.desc(),
                  SafeguardingConcern.id.desc())
        .limit(RECENT_CONCERNS)
    ))
    return CaseworkSection(
        notes=casework.notes_for(user, recipient, limit=RECENT_NOTES),
        note_count=casework.count_notes(user, recipient),
        open_concerns=casework.count_open_concerns(recipient.person_id),
        concerns=concerns,
    )


# Documents on file -------------------------------------------------------------------------------


def _documents(recipient: Recipient, account_ids: list[int]) -> DocumentsSection:
    """Receipts and invoices on transactions, and timesheet documents: the newest few, and how many."""
    found: list[Document] = []
    receipts = 0
    if account_ids:
        on_entries = (
            sa.select(Evidence, LedgerEntry.entry_date, Payee.name)
            .join(LedgerEntry, LedgerEntry.id == Evidence.entry_id)
            .outerjoin(Payee, Payee.id == LedgerEntry.payee_id)
            .where(LedgerEntry.account_id.in_(account_ids))
        )
        receipts = db.session.scalar(sa.select(sa.func.count()).select_from(on_entries.subquery())) or 0
        for item, day, payee in db.session.execute(
            on_entries.order_by(Evidence.uploaded_at.desc(), Evidence.id.desc()).limit(RECENT_DOCUMENTS)
        ):
            about = f"Payment{' to ' + payee if payee else ''} on {day.day} {day:%B %Y}"
            found.append(Document("Receipt or invoice", item.display_name, item.uploaded_at, about, "evidence.download",
                                  {"person_id": recipient.person_id, "evidence_id": item.id}))
    on_timesheets = (
        sa.select(TimesheetDocument, Timesheet.period_start, Person.given_name, Person.family_name)
        .join(Timesheet, Timesheet.id == TimesheetDocument.timesheet_id)
        .join(Person, Person.id == Timesheet.pa_id)
        .where(Timesheet.employer_id == recipient.person_id)
    )
    sheets = db.session.scalar(sa.select(sa.func.count()).select_from(on_timesheets.subquery())) or 0
    for doc, start, given, family in db.session.execute(
        on_timesheets.order_by(TimesheetDocument.uploaded_at.desc(), TimesheetDocument.id.desc()).limit(RECENT_DOCUMENTS)
    ):
        about = f"{given} {family}'s timesheet from {start.day} {start:%B %Y}"
        found.append(Document("Timesheet document", doc.display_name, doc.uploaded_at, about, "timesheets.document",
                              {"timesheet_id": doc.timesheet_id, "document_id": doc.id}))
    found.sort(key=lambda d: d.uploaded_at, reverse=True)
    return DocumentsSection(recent=found[:RECENT_DOCUMENTS], receipts=receipts, timesheet_documents=sheets)
