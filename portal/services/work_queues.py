"""Work queues for DPSS staff: "who needs me now?", counted and listed by kind.

A queue covers one scope of an organisation's caseload: a caseworker's own cases, every case of the
organisation (a manager), one caseworker's cases (a manager looking), or the cases nobody holds.
Every query starts from caseload_entries (provider_id, caseworker_id is indexed) and reaches the
kind's table through an index on the recipient or the account, so the work is proportional to the
scope's cases, never to the whole database. A fixed number of queries whatever the scope's size:
one per kind (its count is a window over the rows it sorts, so only the rows shown are fetched), one
for the names, one for the calendar, and two for the insurance candidates' policies and employees.

Kinds come from data the portal holds. Care reviews and audits due (within DUE_SOON_DAYS, or overdue) are
worked out in SQL from the first payment, the last review or signed-off audit and the council's audit
frequency (services/audits.py has the rules, and the same rules in Python).
"""

from collections import defaultdict
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta

import sqlalchemy as sa

from portal.extensions import db
from portal.models import (
    AccountAttention,
    CaseloadEntry,
    DPAccount,
    EmployerInsurance,
    Employment,
    ExcessBalanceReview,
    ExpectedItem,
    ExpectedKind,
    ExpectedStatus,
    PayPeriod,
    PayrollCalendar,
    Person,
    ReviewStatus,
    Role,
    SafeguardingConcern,
    Timesheet,
    TimesheetStatus,
    User,
)
from portal.models.register import (
    CheckKind,
    ContactRequest,
    ContactStatus,
    PAProfile,
    ProfileCheck,
    RegisterConcern,
    VerificationRequest,
)
from portal.services import audits, pay_periods
from portal.services.employments import EXPIRY_WARNING_DAYS, MIN_COVER_PENCE, _covered_until, all_close_relatives
from portal.services.pay_periods import Period

LIST_SIZE = 20  # items per kind on the queue page
PAGE_SIZE = 50  # items per page of one kind ("View all")


@dataclass(frozen=True)
class Kind:
    slug: str
    title: str
    group: str  # the column it adds to on the organisation page
    per_person: bool = False  # one row per person (with a number of items), not per item
    organisation_wide: bool = False  # not about one case: every member of staff sees it


KINDS = [
    Kind("timesheets-missing", "Timesheets missing", "Timesheets"),
    Kind("timesheets-waiting", "Timesheets to approve or key in", "Timesheets"),
    Kind("receipts-missing", "Receipts missing", "Money", per_person=True),
    Kind("explanations-missing", "Flagged payments waiting for an explanation", "Money", per_person=True),
    Kind("contributions-arrears", "Contributions in arrears", "Money", per_person=True),
    Kind("payments-approval", "Payments waiting for approval", "Money"),
    Kind("excess-reviews", "Excess balances to review", "Excess balances"),
    Kind("reclaims-proposed", "Reclaims waiting for the council", "Excess balances"),
    Kind("insurance", "Employer's liability insurance expiring or lapsed", "Insurance"),
    Kind("register-concerns", "Concerns reported by PAs", "PA register"),
    Kind("contact-requests", "Contact requests waiting for a PA", "PA register"),
    Kind("safeguarding", "Safeguarding concerns not yet acknowledged", "Safeguarding"),
    Kind("reviews-due", "Reviews due", "Reviews and audits"),
    Kind("audits-due", "Audits due", "Reviews and audits"),
    Kind("checks-to-verify", "PA checks to verify", "PA register", organisation_wide=True),
]
BY_SLUG = {kind.slug: kind for kind in KINDS}
GROUPS = list(dict.fromkeys(kind.group for kind in KINDS if not kind.organisation_wide))


@dataclass(frozen=True)
class Scope:
    """Whose cases: an organisation's, one caseworker's of it, or those with no caseworker."""

    organisation_id: int
    caseworker_id: int | None = None
    unassigned: bool = False

    def conditions(self) -> list[sa.ColumnElement[bool]]:
        E = CaseloadEntry
        # Closed cases leave the queues (they stay on the caseload list).
        conditions = [E.provider_id == self.organisation_id, E.closed_on.is_(None)]
        if self.unassigned:
            conditions.append(E.caseworker_id.is_(None))
        elif self.caseworker_id is not None:
            conditions.append(E.caseworker_id == self.caseworker_id)
        return conditions


def scope_for(user: User) -> Scope:
    """The user's own queue: a caseworker's cases, a manager's whole organisation (as visible_recipients)."""
    if not user.role.is_dpss or user.organisation_id is None:
        raise PermissionError("Only DPSS staff have a work queue")
    if user.role == Role.DPSS_CASEWORKER:
        return Scope(user.organisation_id, caseworker_id=user.id)
    return Scope(user.organisation_id)


@dataclass
class Item:
    kind: str
    person_id: int | None  # the recipient the item is about (None for a PA's check)
    caseworker_id: int | None
    record_id: int | None  # the timesheet, review, concern, request...; None for per-person rows
    when: date | None = None  # the date that matters: due, since, expires, raised
    amount_pence: int | None = None
    number: int = 1  # items this row stands for (receipts missing, contributions owed)
    status: str = ""
    pa_id: int | None = None
    pa_name: str = ""  # filled in with the names
    person_name: str = ""  # filled in with the names
    extra: dict = field(default_factory=dict)


@dataclass
class Count:
    rows: int = 0
    items: int = 0


# The kinds' queries ------------------------------------------------------------------------------
# Each returns a select whose first two columns are the case's recipient and caseworker, starting from
# caseload_entries within the scope; `order` is what its list is sorted by (most urgent first).

E = CaseloadEntry
NOT_RECEIVED = (TimesheetStatus.DRAFT, TimesheetStatus.SENT_BACK)
# Written as "in" rather than "not in", so an index on (employment_id, period_start, status) can answer it alone.
RECEIVED = tuple(status for status in TimesheetStatus if status not in NOT_RECEIVED)
WAITING = (TimesheetStatus.SUBMITTED, TimesheetStatus.AWAITING_KEYING)


def calendar_of(organisation_id: int) -> PayrollCalendar:
    """The provider's payroll calendar, or the default one (every case here is this provider's)."""
    rows = db.session.scalars(sa.select(PayrollCalendar).where(
        sa.or_(PayrollCalendar.provider_id == organisation_id, PayrollCalendar.provider_id.is_(None)))).all()
    chosen = next((row for row in rows if row.provider_id is not None), None) or next(iter(rows), None)
    if chosen is None:
        raise LookupError("No payroll calendar: the migrations seed a default one")
    return chosen


def due_periods(cal: PayrollCalendar, today: date) -> dict[PayPeriod, Period]:
    """For each kind of pay period, the latest period whose deadline to submit has passed."""
    found = {}
    for kind in PayPeriod:
        period = pay_periods.period_containing(kind, cal, today)
        while period.submit_by >= today:
            period = pay_periods.previous_period(kind, cal, period)
        found[kind] = period
    return found


def _timesheets_missing(scope: Scope, ctx: "_Context"):
    """Employments of managed-account and payroll-service cases with nothing submitted for the period
    whose deadline passed last (a draft or one sent back is still missing; paper waiting to be keyed is not)."""
    M, T = Employment, Timesheet
    periods = ctx.periods
    start = sa.case(*[(M.pay_period == kind, sa.literal(p.start, sa.Date)) for kind, p in periods.items()])
    deadline = sa.case(*[(M.pay_period == kind, sa.literal(p.submit_by, sa.Date)) for kind, p in periods.items()])
    active = sa.or_(*[
        sa.and_(M.pay_period == kind, M.start_date <= p.end, sa.or_(M.end_date.is_(None), M.end_date >= p.start))
        for kind, p in periods.items()
    ])
    received = sa.exists().where(T.employment_id == M.id, T.period_start == start, T.status.in_(RECEIVED))
    query = (
        sa.select(E.recipient_id, E.caseworker_id, M.id.label("record_id"), deadline.label("due"), M.pa_id, M.pay_period)
        .select_from(E).join(M, M.employer_id == E.recipient_id)
        .where(*scope.conditions(), sa.or_(E.managed_account.is_(True), E.payroll.is_(True)), active, ~received)
    )
    return query, ("due", "recipient_id", "record_id")


def _timesheets_waiting(scope: Scope, ctx: "_Context"):
    """Timesheets the DPSS must act on: submitted under a managed account (the DPSS approves them), and
    paper ones waiting to be keyed in for its managed-account and payroll-service cases."""
    T = Timesheet
    query = (
        sa.select(E.recipient_id, E.caseworker_id, T.id.label("record_id"), T.period_start, T.period_end, T.status, T.pa_id)
        .select_from(E).join(T, T.employer_id == E.recipient_id)
        .where(*scope.conditions(), sa.or_(E.managed_account.is_(True), E.payroll.is_(True)),
               T.status.in_(WAITING),  # a seek per employer with an index on (employer_id, status)
               sa.or_(E.managed_account.is_(True), T.status == TimesheetStatus.AWAITING_KEYING))
    )
    return query, ("period_start", "record_id")


def _accounts_waiting(scope: Scope, count_column):
    """People with an account where the count (kept by the ledger in account_attention) is above nought, by
    name: a key lookup per case, where asking the entries themselves read 2.5 million rows at 5,000 cases."""
    query = (
        sa.select(E.recipient_id, E.caseworker_id, Person.family_name, Person.given_name)
        .select_from(E).join(Person, Person.id == E.recipient_id)
        .where(*scope.conditions(), sa.exists().where(
            DPAccount.recipient_id == E.recipient_id, AccountAttention.account_id == DPAccount.id, count_column > 0))
    )
    return query, ("family_name", "given_name", "recipient_id")


def _receipts_missing(scope: Scope, ctx: "_Context"):
    return _accounts_waiting(scope, AccountAttention.receipts_missing)


def _explanations_missing(scope: Scope, ctx: "_Context"):
    return _accounts_waiting(scope, AccountAttention.explanations_missing)


def with_numbers(found: list["Item"]) -> None:
    """How many receipts are missing and payments wait for an explanation, for the people listed: one query."""
    wanted = {i.person_id for i in found if i.kind in ("receipts-missing", "explanations-missing")}
    if not wanted:
        return
    A = AccountAttention
    rows = db.session.execute(
        sa.select(DPAccount.recipient_id, sa.func.sum(A.receipts_missing), sa.func.sum(A.explanations_missing))
        .join(A, A.account_id == DPAccount.id).where(DPAccount.recipient_id.in_(wanted))
        .group_by(DPAccount.recipient_id)
    ).all()
    numbers = {recipient: (int(receipts or 0), int(explanations or 0)) for recipient, receipts, explanations in rows}
    for item in found:
        if item.kind == "receipts-missing":
            item.number = numbers.get(item.person_id, (0, 0))[0]
        elif item.kind == "explanations-missing":
            item.number = numbers.get(item.person_id, (0, 0))[1]


def with_last_done(found: list["Item"]) -> None:
    """The last care review or audit (and any audit in progress) of the people listed as due: two queries at
    most, for the rows shown only."""
    reviewed = {i.person_id for i in found if i.kind == "reviews-due"}
    audited = {i.person_id for i in found if i.kind == "audits-due"}
    last_review = audits.last_reviews(reviewed) if reviewed else {}
    last_audit, in_progress = audits.last_audits(audited) if audited else ({}, {})
    for item in found:
        if item.kind == "reviews-due":
            item.extra["last_done"] = last_review.get(item.person_id)
        elif item.kind == "audits-due":
            item.extra["last_done"] = last_audit.get(item.person_id)
            item.extra["in_progress"] = in_progress.get(item.person_id)


def _contributions_arrears(scope: Scope, ctx: "_Context"):
    X = ExpectedItem
    query = (
        sa.select(E.recipient_id, E.caseworker_id, sa.func.count().label("number"), sa.func.sum(X.amount_pence).label("amount"),
                  sa.func.min(X.due_date).label("since"))
        .select_from(E).join(DPAccount, DPAccount.recipient_id == E.recipient_id).join(X, X.account_id == DPAccount.id)
        .where(*scope.conditions(), X.status == ExpectedStatus.OPEN, X.kind == ExpectedKind.CONTRIBUTION_DUE, X.due_date < ctx.today)
        .group_by(E.recipient_id, E.caseworker_id)
    )
    return query, ("since", "recipient_id")


def _payments_approval(scope: Scope, ctx: "_Context"):
    """Managed-account payments over the organisation's limit, waiting for a second member of staff
    (services.managed_payments). Seeks (account_id, status) in ix_managed_payments_account_status."""
    from portal.models import ManagedPayment, ManagedPaymentStatus

    P = ManagedPayment
    query = (
        sa.select(E.recipient_id, E.caseworker_id, P.id.label("record_id"), P.recorded_at, P.amount_pence, P.payee,
                  P.recorded_by_id)
        .select_from(E).join(DPAccount, DPAccount.recipient_id == E.recipient_id).join(P, P.account_id == DPAccount.id)
        .where(*scope.conditions(), P.status == ManagedPaymentStatus.RECORDED, P.organisation_id == scope.organisation_id)
    )
    return query, ("recorded_at", "record_id")


def _reviews(status: ReviewStatus):
    def build(scope: Scope, ctx: "_Context"):
        R = ExcessBalanceReview
        query = (
            sa.select(E.recipient_id, E.caseworker_id, R.id.label("record_id"), R.cycle_start, R.excess_pence, R.proposal,
                      R.proposed_pence, R.proposed_at)
            .select_from(E).join(DPAccount, DPAccount.recipient_id == E.recipient_id).join(R, R.account_id == DPAccount.id)
            .where(*scope.conditions(), R.status == status)
        )
        order = ("cycle_start", "record_id") if status == ReviewStatus.OPEN else ("proposed_at", "record_id")
        return query, order
    return build


def _insurance_candidates(scope: Scope, ctx: "_Context"):
    """Employers (with a PA now or to come) whose cover has started but no one policy runs past the warning
    window: the few whose cover may be ending or has lapsed. services.employments decides which really are."""
    P = EmployerInsurance
    horizon = ctx.today + timedelta(days=EXPIRY_WARNING_DAYS)
    started = sa.exists().where(P.employer_id == E.recipient_id, P.starts_on <= ctx.today)
    safe = sa.exists().where(P.employer_id == E.recipient_id, P.starts_on <= ctx.today, P.expires_on > horizon)
    staff = sa.exists().where(Employment.employer_id == E.recipient_id,
                              sa.or_(Employment.end_date.is_(None), Employment.end_date >= ctx.today))
    return sa.select(E.recipient_id, E.caseworker_id).where(*scope.conditions(), started, ~safe, staff), ("recipient_id",)


def _register_concerns(scope: Scope, ctx: "_Context"):
    C = RegisterConcern
    query = (
        sa.select(E.recipient_id, E.caseworker_id, C.id.label("record_id"), C.created_at, C.contact_id)
        .select_from(E).join(C, C.recipient_id == E.recipient_id)
        .where(*scope.conditions(), C.organisation_id == scope.organisation_id, C.resolved_at.is_(None))
    )
    return query, ("created_at", "record_id")


def _contact_requests(scope: Scope, ctx: "_Context"):
    C = ContactRequest
    staff = sa.select(User.id).where(User.organisation_id == scope.organisation_id)
    query = (
        sa.select(E.recipient_id, E.caseworker_id, C.id.label("record_id"), C.created_at, C.profile_id)
        .select_from(E).join(C, C.recipient_id == E.recipient_id)
        .where(*scope.conditions(), C.status == ContactStatus.PENDING, C.requested_by_id.in_(staff))
    )
    return query, ("created_at", "record_id")


def _safeguarding(scope: Scope, ctx: "_Context"):
    C = SafeguardingConcern
    query = (
        sa.select(E.recipient_id, E.caseworker_id, C.id.label("record_id"), C.created_at, C.rule)
        .select_from(E).join(C, C.recipient_id == E.recipient_id)
        .where(*scope.conditions(), C.acknowledged_at.is_(None))
    )
    return query, ("created_at", "record_id")


def _checks_to_verify(scope: Scope, ctx: "_Context"):
    """Checks PAs asked this organisation to verify (any member of its staff may answer)."""
    V = VerificationRequest
    query = (
        sa.select(sa.cast(sa.null(), sa.Integer).label("recipient_id"), sa.cast(sa.null(), sa.Integer).label("caseworker_id"), V.id.label("record_id"), V.requested_at,
                  ProfileCheck.kind.label("check_kind"), PAProfile.person_id.label("pa_id"))
        .select_from(V).join(ProfileCheck, ProfileCheck.id == V.check_id).join(PAProfile, PAProfile.id == ProfileCheck.profile_id)
        .where(V.provider_id == scope.organisation_id, V.answered_at.is_(None))
    )
    return query, ("requested_at", "record_id")


def _reviews_due(scope: Scope, ctx: "_Context"):
    """Care reviews due within DUE_SOON_DAYS or overdue (services.audits: first within 6 months of the first
    payment, then at most 12 months apart)."""
    query = audits.reviews_due_select(scope.conditions(), ctx.today, ctx.today + timedelta(days=audits.DUE_SOON_DAYS))
    return query, ("due", "recipient_id")


def _audits_due(scope: Scope, ctx: "_Context"):
    """Audits due within DUE_SOON_DAYS or overdue (the council's audit frequency after the last one, or the first payment)."""
    query = audits.audits_due_select(scope.conditions(), ctx.today, ctx.today + timedelta(days=audits.DUE_SOON_DAYS), ctx.audit_months)
    return query, ("due", "recipient_id")


QUERIES = {
    "timesheets-missing": _timesheets_missing,
    "timesheets-waiting": _timesheets_waiting,
    "receipts-missing": _receipts_missing,
    "explanations-missing": _explanations_missing,
    "contributions-arrears": _contributions_arrears,
    "payments-approval": _payments_approval,
    "excess-reviews": _reviews(ReviewStatus.OPEN),
    "reclaims-proposed": _reviews(ReviewStatus.PROPOSED),
    "register-concerns": _register_concerns,
    "contact-requests": _contact_requests,
    "safeguarding": _safeguarding,
    "reviews-due": _reviews_due,
    "audits-due": _audits_due,
    "checks-to-verify": _checks_to_verify,
}
INSURANCE = "insurance"  # decided in Python from the candidates' policies (see _insurance)


@dataclass
class _Context:
    """What one page's queries share: today, the calendar's periods and insurance (each fetched once)."""

    today: date
    organisation_id: int
    _periods: dict[PayPeriod, Period] | None = None
    _insurance: dict[Scope, list] = field(default_factory=dict)
    _audit_months: dict[int, int] | None = None

    @property
    def periods(self) -> dict[PayPeriod, Period]:
        if self._periods is None:
            self._periods = due_periods(calendar_of(self.organisation_id), self.today)
        return self._periods

    @property
    def audit_months(self) -> dict[int, int]:
        """Each council's audit frequency in force today (one query, once a page)."""
        if self._audit_months is None:
            self._audit_months = audits.audit_months_by_council(self.today)
        return self._audit_months


def context(organisation_id: int, today: date) -> _Context:
    return _Context(today, organisation_id)


# Insurance: candidates from SQL, then the employer's duty rule on their policies (2 more queries) ---------


@dataclass
class _Cover:
    employer_id: int
    state: str  # "expiring" or "lapsed"
    on: date  # the last day of cover (to come, or past)


def _insurance(scope: Scope, ctx: _Context) -> list[tuple[int, int | None, _Cover]]:
    """(recipient, caseworker, cover) for every employer in scope whose insurance needs attention.

    The same decision as services.employments.insurance_duty (EXPIRING, or EXPIRED), made for every
    candidate from policies and employees loaded in one query each.
    """
    if scope in ctx._insurance:
        return ctx._insurance[scope]
    query, _ = _insurance_candidates(scope, ctx)
    candidates = db.session.execute(query).all()
    if not candidates:
        ctx._insurance[scope] = []
        return []
    ids = query.with_only_columns(E.recipient_id).scalar_subquery()
    policies: dict[int, list[EmployerInsurance]] = defaultdict(list)
    employees: dict[int, list[Employment]] = defaultdict(list)
    for policy in db.session.scalars(sa.select(EmployerInsurance).where(EmployerInsurance.employer_id.in_(ids))):
        policies[policy.employer_id].append(policy)
    for employment in db.session.scalars(sa.select(Employment).where(
            Employment.employer_id.in_(ids), sa.or_(Employment.end_date.is_(None), Employment.end_date >= ctx.today))):
        employees[employment.employer_id].append(employment)
    found = []
    for row in candidates:
        cover = insurance_state(policies[row.recipient_id], employees[row.recipient_id], ctx.today)
        if cover is not None:
            found.append((row.recipient_id, row.caseworker_id, _Cover(row.recipient_id, *cover)))
    found.sort(key=lambda item: (item[2].on, item[0]))
    ctx._insurance[scope] = found
    return found


def insurance_state(policies: list[EmployerInsurance], employees: list[Employment], today: date) -> tuple[str, date] | None:
    """("expiring", last day) or ("lapsed", day it ended), as insurance_duty says EXPIRING or EXPIRED; else None."""
    if not employees:
        return None
    exempt = all_close_relatives(employees)
    covered = _covered_until(policies, today)
    if covered is not None:
        until, policy = covered
        if policy.cover_pence < MIN_COVER_PENCE and not exempt:
            return None  # too little cover: a different duty (not done), not an expiry
        return ("expiring", until) if (until - today).days <= EXPIRY_WARNING_DAYS else None
    if exempt:
        return None
    past = [p.expires_on for p in policies if p.expires_on < today]
    return ("lapsed", max(past)) if past else None


# Counting and listing ----------------------------------------------------------------------------


def counts_by_caseworker(organisation_id: int, today: date) -> tuple[dict[int | None, dict[str, int]], dict[str, int]]:
    """For the organisation page: rows of every case-based kind per caseworker (None: no caseworker),
    and the organisation-wide kinds' rows. One query, plus insurance's."""
    scope = Scope(organisation_id)
    ctx = _Context(today, organisation_id)
    per_worker: dict[int | None, dict[str, int]] = defaultdict(lambda: defaultdict(int))
    whole: dict[str, int] = {}
    parts = []
    for slug, build in QUERIES.items():
        query, _ = build(scope, ctx)
        sub = query.subquery()
        parts.append(sa.select(sa.literal(slug).label("slug"), sub.c.caseworker_id, sa.func.count().label("rows"))
                     .select_from(sub).group_by(sub.c.caseworker_id))
    for slug, worker, rows in db.session.execute(sa.union_all(*parts)).all():
        if BY_SLUG[slug].organisation_wide:
            whole[slug] = whole.get(slug, 0) + int(rows)
        else:
            per_worker[worker][slug] += int(rows)
    for _recipient, worker, _cover in _insurance(scope, ctx):
        per_worker[worker][INSURANCE] += 1
    return per_worker, whole


def cases_by_caseworker(organisation_id: int) -> dict[int | None, int]:
    rows = db.session.execute(
        sa.select(E.caseworker_id, sa.func.count()).where(E.provider_id == organisation_id).group_by(E.caseworker_id)).all()
    return {worker: int(number) for worker, number in rows}


def items(scope: Scope, ctx: _Context, slug: str, limit: int, offset: int = 0) -> tuple[Count, list[Item]]:
    """How many rows one kind has in this scope (and the items they stand for), and `limit` of them from
    `offset`, most urgent first (names not yet filled in: see with_names).

    One query: the count is a window over every row, computed in the same pass that sorts them, so only
    the rows shown leave the database (a second query only for a page past the end).
    """
    if slug == INSURANCE:
        insured = _insurance(scope, ctx)
        found = [Item(INSURANCE, recipient, worker, None, when=cover.on, status=cover.state)
                 for recipient, worker, cover in insured[offset:offset + limit]]
        return Count(len(insured), len(insured)), found
    query, order = QUERIES[slug](scope, ctx)
    # Materialised first on PostgreSQL: every row is needed (to count them), so the planner must not walk an
    # index in the list's order for the LIMIT (it scanned every timesheet by period, or every person by name,
    # instead of starting from the scope's caseload entries). SQLite plans it from the caseload as it is.
    sub = query.cte(f"kind_{slug.replace('-', '_')}").prefix_with("MATERIALIZED", dialect="postgresql")
    number = sub.c.number if "number" in sub.c else sa.literal(1)
    columns = [sa.desc(sub.c[key[1:]]) if key.startswith("-") else sub.c[key] for key in order]
    rows = db.session.execute(
        sa.select(sub, sa.func.count().over().label("_rows"), sa.func.sum(number).over().label("_items"))
        .order_by(*columns).limit(limit).offset(offset)
    ).all()
    if rows:
        count = Count(int(rows[0]._rows), int(rows[0]._items or 0))
    elif offset:
        found = db.session.execute(sa.select(sa.func.count(), sa.func.coalesce(sa.func.sum(number), 0)).select_from(sub)).one()
        count = Count(int(found[0]), int(found[1]))
    else:
        count = Count()
    return count, [_item(slug, row._mapping) for row in rows]


def _item(slug: str, row) -> Item:
    base = dict(kind=slug, person_id=row["recipient_id"], caseworker_id=row["caseworker_id"], record_id=row.get("record_id"))
    if slug == "timesheets-missing":
        return Item(**base, when=row["due"], pa_id=row["pa_id"], extra={"pay_period": row["pay_period"]})
    if slug == "timesheets-waiting":
        return Item(**base, when=row["period_start"], pa_id=row["pa_id"], status=row["status"],
                    extra={"period_end": row["period_end"]})
    if slug in ("receipts-missing", "explanations-missing"):
        return Item(**base, number=0, person_name=f"{row['given_name']} {row['family_name']}")
    if slug == "contributions-arrears":
        return Item(**base, number=int(row["number"]), amount_pence=int(row["amount"] or 0), when=row["since"])
    if slug == "payments-approval":
        return Item(**base, when=_day(row["recorded_at"]), amount_pence=row["amount_pence"],
                    extra={"payee": row["payee"], "recorded_by_id": row["recorded_by_id"]})
    if slug == "excess-reviews":
        return Item(**base, when=row["cycle_start"], amount_pence=row["excess_pence"])
    if slug == "reclaims-proposed":
        return Item(**base, when=_day(row["proposed_at"]) or row["cycle_start"], amount_pence=row["proposed_pence"],
                    status=row["proposal"] or "")
    if slug == "register-concerns":
        return Item(**base, when=_day(row["created_at"]), extra={"contact_id": row["contact_id"]})
    if slug == "contact-requests":
        return Item(**base, when=_day(row["created_at"]), extra={"profile_id": row["profile_id"]})
    if slug == "safeguarding":
        return Item(**base, when=_day(row["created_at"]), extra={"rule": row["rule"]})
    if slug in ("reviews-due", "audits-due"):
        return Item(**base, when=row["due"], status="overdue" if row["overdue"] else "due", extra={"last_done": None, "in_progress": None})
    if slug == "checks-to-verify":
        return Item(**base, when=_day(row["requested_at"]), pa_id=row["pa_id"],
                    extra={"check_kind": CheckKind(row["check_kind"])})
    raise KeyError(slug)


def _day(moment: datetime | None) -> date | None:
    if moment is None:
        return None
    from portal.services.clock import to_london

    return to_london(moment).date() if moment.tzinfo else moment.date()


def with_names(found: list[Item]) -> list[Item]:
    """Fill in the recipients' and PAs' names: one query for every item given."""
    ids = {i.person_id for i in found if i.person_id} | {i.pa_id for i in found if i.pa_id}
    names = {}
    if ids:
        names = {pid: (given, family) for pid, given, family in db.session.execute(
            sa.select(Person.id, Person.given_name, Person.family_name).where(Person.id.in_(ids)))}
    for item in found:
        if item.person_id in names:
            item.person_name = " ".join(names[item.person_id])
        if item.pa_id in names:
            given, family = names[item.pa_id]
            # A PA asked to get in touch has not said yes: first name and initial only, as the register shows.
            item.pa_name = f"{given} {family[:1].upper()}." if item.kind == "contact-requests" and family else f"{given} {family}"
    return found


def contact_pa_ids(found: list[Item]) -> None:
    """Contact requests name the PA through their profile: one query for all of them."""
    wanted = {i.extra["profile_id"] for i in found if i.kind == "contact-requests"}
    if not wanted:
        return
    people = dict(db.session.execute(sa.select(PAProfile.id, PAProfile.person_id).where(PAProfile.id.in_(wanted))).all())
    for item in found:
        if item.kind == "contact-requests":
            item.pa_id = people.get(item.extra["profile_id"])


@dataclass
class Queue:
    scope: Scope
    today: date
    counts: dict[str, Count]
    lists: dict[str, list[Item]]  # the kinds shown, each up to LIST_SIZE (or a page of one kind)
    kind: Kind | None = None
    page: int = 1
    more: bool = False

    @property
    def total(self) -> int:
        return sum(count.rows for count in self.counts.values())


def queue(scope: Scope, today: date, kind: str = "", page: int = 1) -> Queue:
    """Counts for every kind and the first LIST_SIZE rows of each (one query a kind); or one kind's page."""
    ctx = context(scope.organisation_id, today)
    counts: dict[str, Count] = {}
    lists: dict[str, list[Item]] = {}
    chosen = BY_SLUG.get(kind)
    more = False
    if chosen is not None:
        page = max(1, page)
        counts[chosen.slug], rows = items(scope, ctx, chosen.slug, PAGE_SIZE + 1, (page - 1) * PAGE_SIZE)
        more = len(rows) > PAGE_SIZE
        lists[chosen.slug] = rows[:PAGE_SIZE]
    else:
        page = 1
        for each in KINDS:
            counts[each.slug], rows = items(scope, ctx, each.slug, LIST_SIZE)
            if rows:
                lists[each.slug] = rows
    every = [item for rows in lists.values() for item in rows]
    with_numbers(every)
    with_last_done(every)
    contact_pa_ids(every)
    with_names(every)
    return Queue(scope=scope, today=today, counts=counts, lists=lists, kind=chosen, page=page, more=more)


def organisation_staff(organisation_id: int) -> list[User]:
    """The organisation's DPSS staff, caseworkers first, by name (the choices for a manager's filter)."""
    return list(db.session.scalars(
        sa.select(User).where(User.organisation_id == organisation_id,
                              User.role.in_([Role.DPSS_CASEWORKER, Role.DPSS_MANAGER]))
        .order_by(sa.case((User.role == Role.DPSS_CASEWORKER, 0), else_=1), User.display_name, User.id)))
