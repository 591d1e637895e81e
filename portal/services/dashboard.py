"""The council's oversight dashboard: the tables councils already report (domain.md, "Reporting"),
computed live from the portal's data for the people one council funds, and nobody else's.

Every figure comes from a fixed number of aggregate queries (GROUP BY in the database, never a query
per person), all starting from the council officer's scope in portal/access.py (visible_recipients),
so another council's people are never counted. The heaviest is the spend query (every spend, refund
and reclaim entry of the financial year, with its category): see the note on `_spend`.

Each table is a `Table` of plain values (pence, counts, percentages); the page formats them and the
CSV writes them, so the page and the download always say the same thing.
"""

import csv
import io
from collections import defaultdict
from dataclasses import dataclass, field
from datetime import date, timedelta
from functools import cached_property

import sqlalchemy as sa

from portal.access import visible_recipients
from portal.extensions import db
from portal.models import (
    AccountAttention,
    Budget,
    BudgetKind,
    BudgetVersion,
    CaseloadEntry,
    Category,
    DPAccount,
    Employment,
    EntryKind,
    EntryState,
    ExcessBalanceReview,
    LedgerEntry,
    Organisation,
    PaymentMethod,
    Recipient,
    ReviewStatus,
    Role,
    SpendSummary,
    SupportReason,
    Timesheet,
    TimesheetStatus,
    User,
)
from portal.services import audits, case_lifecycle, register_counts
from portal.services.clock import london_today
from portal.services.money import financial_year_start
from portal.services.payments import PAID_AS_DIRECT_PAYMENT
from portal.services.statements import decimal_pounds, safe_cell

AGE_BANDS = ("18 to 64", "65 and over")
UNDER_18 = "under 18"
NO_CATEGORY = "not categorised"
NO_PROVIDER = "No support service"
# Reviews not yet decided: the money is still in the account.
UNDECIDED = (ReviewStatus.OPEN, ReviewStatus.PROPOSED)
WAITING = (TimesheetStatus.SUBMITTED, TimesheetStatus.AWAITING_KEYING)
REVIEW_WORDS = {
    ReviewStatus.OPEN: "Being worked by the support service",
    ReviewStatus.PROPOSED: "Reclaim proposed, waiting for the council",
    ReviewStatus.RECLAIMED: "Reclaimed",
    ReviewStatus.KEPT: "Money kept",
    ReviewStatus.CLOSED: "Closed",
}
METHOD_WORDS = {
    PaymentMethod.PREPAID_CARD: "Prepaid card",
    PaymentMethod.BANK_ACCOUNT: "Bank account",
    PaymentMethod.MANAGED_ACCOUNT: "Managed account (a third party holds the money)",
}


class NotACouncilOfficer(Exception):
    """Only a council officer with a council has a dashboard."""


# Tables -----------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Column:
    heading: str
    kind: str = "count"  # text, count, pence, percent

    @property
    def numeric(self) -> bool:
        return self.kind != "text"


@dataclass
class Table:
    slug: str
    title: str
    columns: list[Column]
    rows: list[list] = field(default_factory=list)
    total: list | None = None
    note: str = ""

    def csv_rows(self) -> list[list[str]]:
        """Header, rows and total as CSV cells: money as plain pounds (12.50), percentages as numbers."""
        out = [[column.heading if column.kind != "pence" else f"{column.heading} (£)" for column in self.columns]]
        for row in self.rows + ([self.total] if self.total else []):
            out.append([_csv_cell(column, value) for column, value in zip(self.columns, row, strict=True)])
        return out

    def column(self, index: int) -> list:
        return [row[index] for row in self.rows]


def _csv_cell(column: Column, value) -> str:
    if value is None:
        return ""
    if column.kind == "pence":
        return decimal_pounds(value)
    if column.kind in ("percent", "ratio"):
        return f"{value:.1f}"
    if column.kind == "days":
        return f"{value:g}"
    return safe_cell(str(value))


def percent(part: int, whole: int) -> float | None:
    """Part of whole as a percentage to one decimal place; None when there is nothing to divide by."""
    return None if not whole else round(part * 100 / whole, 1)


@dataclass(frozen=True)
class Bar:
    label: str
    value: int
    text: str  # the value as the table shows it


@dataclass(frozen=True)
class Chart:
    """A horizontal bar chart drawn as inline SVG; the same figures are in the table beside it."""

    slug: str
    title: str
    description: str
    bars: list[Bar]
    # Drawn at the width of the page's full column (960 pixels), so text is at the body's size.
    bar_height: int = 30
    gap: int = 10
    label_width: int = 250
    bar_width: int = 560
    value_width: int = 150

    @property
    def width(self) -> int:
        return self.label_width + self.bar_width + self.value_width

    @property
    def height(self) -> int:
        return len(self.bars) * (self.bar_height + self.gap) + self.gap

    def drawn(self) -> list[dict]:
        """Each bar's position and length (a bar for zero is not drawn; its value still is)."""
        top = max((bar.value for bar in self.bars), default=0)
        out = []
        for index, bar in enumerate(self.bars):
            length = 0 if top <= 0 or bar.value <= 0 else max(2, round(self.bar_width * bar.value / top))
            y = self.gap + index * (self.bar_height + self.gap)
            out.append({"bar": bar, "y": y, "length": length, "text_y": y + self.bar_height // 2 + 6})
        return out

    @property
    def alternative(self) -> str:
        """The text alternative: every bar's label and value, in order."""
        return f"{self.title}. " + "; ".join(f"{bar.label}: {bar.text}" for bar in self.bars) + "."


@dataclass
class Headline:
    key: str
    value: str
    label: str


@dataclass
class Dashboard:
    council: Organisation
    today: date
    year_start: date
    people_funded: int
    people_with_dp: int
    spend_pence: int
    excess_pence: int
    undecided_reviews: int
    people_with_undecided: int
    tables: dict[str, Table]
    charts: list[Chart]
    register: register_counts.CouncilCounts

    @property
    def year_label(self) -> str:
        return f"{self.year_start.year} to {self.year_start.year + 1}"


# The scope -----------------------------------------------------------------------------------------


def council_of(user: User) -> Organisation:
    if not user.is_authenticated or user.role != Role.COUNCIL_OFFICER or user.organisation is None:
        raise NotACouncilOfficer()
    return user.organisation


def _people(user: User):
    """The officer's people (access.visible_recipients: the council's own), as a subquery to join."""
    return (visible_recipients(user)
            .with_only_columns(Recipient.person_id, Recipient.support_reason, Recipient.date_of_birth)
            .subquery("people"))


def _years_before(day: date, years: int) -> date:
    try:
        return day.replace(year=day.year - years)
    except ValueError:  # 29 February
        return day.replace(year=day.year - years, day=28)


def _in_force(today: date):
    return sa.and_(Budget.start_date <= today, sa.or_(Budget.end_date.is_(None), Budget.end_date >= today))


def _current_employment(today: date):
    return sa.and_(Employment.start_date <= today, sa.or_(Employment.end_date.is_(None), Employment.end_date >= today))


def _value(member) -> str:
    return member.value if hasattr(member, "value") else member


def _sentence(text: str) -> str:
    """First letter up, the rest as it is ("PA wages" stays, "older people's needs" starts with a capital)."""
    return text[:1].upper() + text[1:]


# Building the dashboard ----------------------------------------------------------------------------


class _Figures:
    """The aggregates the tables share, each fetched once and only when a table needs it."""

    def __init__(self, user: User, today: date):
        self.council = council_of(user)
        self.today = today
        self.year_start = financial_year_start(today)
        self.year_end = date(self.year_start.year + 1, 3, 31)
        self.people = _people(user)

    @cached_property
    def uptake(self):
        return _uptake(self.people, self.today)

    @cached_property
    def spend(self):
        return _spend(self.people, self.year_start, self.today)

    @cached_property
    def budget(self):
        return _budget(self.people, self.year_start, self.today, self.year_end)

    @cached_property
    def providers(self):
        return _providers(self.people)

    @cached_property
    def reviews(self):
        return _reviews(self.people)

    @cached_property
    def excess_now(self):
        return _excess_now(self.people)

    @cached_property
    def register(self):
        return register_counts.council_counts(self.council, self.today)


# Every table by its slug (the CSV's name), in the page's order.
TABLES = {
    "uptake-age": lambda f: _uptake_by_age(f.uptake),
    "uptake-client-group": lambda f: _uptake_by_group(f.uptake),
    "spend-category": lambda f: _spend_by_category(f.spend[0]),
    "spend-client-group": lambda f: _spend_by_group(f.spend[0], f.budget),
    "excess-balances": lambda f: _excess_table(f.reviews, f.spend[1], *f.excess_now),
    "accounts-in-use": lambda f: _cards(f.people, f.today),
    "payroll-service": lambda f: _payroll(f.people, f.today, f.providers),
    "open-work": lambda f: _open_work(f.people, f.providers, f.reviews, audits.overdue_by_provider(f.council.id, f.today)),
    "set-up-times": lambda f: _setup_times(f.council.id, f.today),
    "pa-register": lambda f: _register_table(f.register),
}


def build(user: User, today: date | None = None) -> Dashboard:
    """Every figure for the officer's council, as on the day given (London today by default)."""
    figures = _Figures(user, today or london_today())
    tables = {slug: make(figures) for slug, make in TABLES.items()}
    uptake = figures.uptake
    undecided = sum(values[0] for (status, _), values in figures.reviews.items() if status in UNDECIDED)
    excess_pence, excess_people = figures.excess_now
    dashboard = Dashboard(
        council=figures.council, today=figures.today, year_start=figures.year_start,
        people_funded=sum(on_budget for on_budget, _ in uptake.values()), people_with_dp=sum(dp for _, dp in uptake.values()),
        spend_pence=sum(figures.spend[0].values()), excess_pence=excess_pence, undecided_reviews=undecided,
        people_with_undecided=excess_people, tables=tables, charts=[], register=figures.register,
    )
    dashboard.charts = [
        _chart(tables["uptake-client-group"], "uptake-client-group-chart", 2,
               "People taking all or part of their personal budget as a direct payment, by client group"),
        _chart(tables["spend-category"], "spend-category-chart", 1, f"Spend this financial year ({dashboard.year_label}) by category"),
    ]
    return dashboard


def one_table(user: User, slug: str, today: date | None = None) -> tuple[Organisation, date, Table]:
    """One table only (for its CSV): only the queries it needs. KeyError for an unknown slug."""
    make = TABLES[slug]
    figures = _Figures(user, today or london_today())
    return figures.council, figures.today, make(figures)


def _uptake(people, today: date) -> dict[tuple[str, SupportReason], tuple[int, int]]:
    """(age band, client group) -> (people on a personal budget, people taking all or part as a direct
    payment), counting budgets in force today. One query."""
    per_person = (
        sa.select(Budget.recipient_id.label("recipient_id"),
                  sa.func.max(sa.case((Budget.delivery.in_(PAID_AS_DIRECT_PAYMENT), 1), else_=0)).label("dp"))
        .where(_in_force(today)).group_by(Budget.recipient_id).subquery("in_force")
    )
    band = sa.case(
        (people.c.date_of_birth <= _years_before(today, 65), AGE_BANDS[1]),
        (people.c.date_of_birth <= _years_before(today, 18), AGE_BANDS[0]),
        else_=UNDER_18,
    ).label("band")
    rows = db.session.execute(
        sa.select(band, people.c.support_reason, sa.func.count(), sa.func.sum(per_person.c.dp))
        .select_from(people).join(per_person, per_person.c.recipient_id == people.c.person_id)
        .group_by(band, people.c.support_reason)
    ).all()
    return {(row[0], row[1]): (int(row[2]), int(row[3] or 0)) for row in rows}


def _spend(people, start: date, end: date) -> tuple[dict, tuple[int, int]]:
    """Spend in [start, end] by (kind, category, client group) as positive pence (refunds and
    corrections reduce it), and the reclaims made: (entries, pence). start is 1 April.

    Read from spend_summaries (the financial year's spend, refunds and reclaims per account, kind and
    current category, kept in step with the ledger), less any entries dated after end in the same
    year, read from the ledger through the (account_id, entry_date) index (usually none). One query.
    """
    kinds = (EntryKind.SPEND, EntryKind.REFUND, EntryKind.RECLAIM)
    year_end = date(start.year + 1, 3, 31)

    def accounts(*columns):
        return (sa.select(*columns, people.c.support_reason.label("reason"))
                .select_from(people).join(DPAccount, DPAccount.recipient_id == people.c.person_id))

    parts = [
        accounts(SpendSummary.kind.label("kind"), SpendSummary.category.label("category"),
                 SpendSummary.pence.label("pence"), SpendSummary.entries.label("entries"))
        .join(SpendSummary, SpendSummary.account_id == DPAccount.id)
        .where(SpendSummary.year_start == start, SpendSummary.kind.in_(kinds))
    ]
    if end < year_end:
        parts.append(
            accounts(LedgerEntry.kind, sa.func.coalesce(EntryState.category, ""), -LedgerEntry.amount_pence,
                     sa.case((LedgerEntry.reverses_id.is_(None), -1), else_=0))
            .join(LedgerEntry, LedgerEntry.account_id == DPAccount.id)
            .join(EntryState, EntryState.entry_id == LedgerEntry.id)
            .where(LedgerEntry.entry_date > end, LedgerEntry.entry_date <= year_end, LedgerEntry.kind.in_(kinds))
        )
    both = sa.union_all(*parts).subquery("spend") if len(parts) > 1 else parts[0].subquery("spend")
    rows = db.session.execute(
        sa.select(both.c.kind, both.c.category, both.c.reason, sa.func.sum(both.c.pence), sa.func.sum(both.c.entries))
        .group_by(both.c.kind, both.c.category, both.c.reason)
    ).all()
    spend: dict[tuple, int] = defaultdict(int)
    reclaim_entries = reclaim_pence = 0
    for kind, category, reason, total, originals in rows:
        kind, category = EntryKind(kind), (Category(category) if category else None)
        if kind == EntryKind.RECLAIM:
            reclaim_entries += int(originals or 0)
            reclaim_pence += -int(total or 0)
        elif total or originals:
            spend[(kind, category, reason)] += -int(total or 0)
    return spend, (reclaim_entries, reclaim_pence)


def _dialect() -> str:
    return db.session.get_bind().dialect.name


def _greatest(*values):
    return sa.func.max(*values) if _dialect() == "sqlite" else sa.func.greatest(*values)


def _least(*values):
    return sa.func.min(*values) if _dialect() == "sqlite" else sa.func.least(*values)


def _day_after(column):
    return sa.func.date(column, "+1 day") if _dialect() == "sqlite" else column + 1


def _days_between(later, earlier):
    if _dialect() == "sqlite":
        return sa.cast(sa.func.julianday(later) - sa.func.julianday(earlier), sa.Integer)
    return later - earlier


def _budget(people, start: date, today: date, year_end: date) -> dict[SupportReason, tuple[int, int]]:
    """Client group -> (budget for the financial year, budget to date) in pence, from the weekly direct
    payment amounts of every version in force, day by day (a one-off payment counts on its payment
    date). Weekly amounts continue to 31 March unless the budget ends. One query (versions with the
    date the next one takes over, by a window function)."""
    versions = (
        sa.select(
            BudgetVersion.budget_id, BudgetVersion.effective_from, BudgetVersion.gross_weekly_pence,
            sa.func.lead(BudgetVersion.effective_from).over(
                partition_by=BudgetVersion.budget_id, order_by=BudgetVersion.effective_from).label("next_from"),
            sa.func.row_number().over(
                partition_by=BudgetVersion.budget_id, order_by=BudgetVersion.effective_from).label("position"),
        ).subquery("versions")
    )

    def weekly_days(last: date):
        """Days of [start, last] the version is in force, times its weekly amount (pence x days)."""
        after = last + timedelta(days=1)
        begins = _greatest(versions.c.effective_from, Budget.start_date, sa.literal(start, sa.Date))
        ends_before = _least(
            sa.func.coalesce(versions.c.next_from, sa.literal(after, sa.Date)),
            sa.func.coalesce(_day_after(Budget.end_date), sa.literal(after, sa.Date)),
            sa.literal(after, sa.Date),
        )
        days = _days_between(ends_before, begins)
        one_off = sa.and_(Budget.kind == BudgetKind.ONE_OFF, versions.c.position == 1,
                          Budget.first_payment_date >= start, Budget.first_payment_date <= last)
        return sa.func.sum(sa.case(
            (Budget.kind == BudgetKind.ONE_OFF, sa.case((one_off, versions.c.gross_weekly_pence * 7), else_=0)),
            (ends_before > begins, versions.c.gross_weekly_pence * days),
            else_=0,
        ))

    rows = db.session.execute(
        sa.select(people.c.support_reason, weekly_days(year_end), weekly_days(today))
        .select_from(people)
        .join(Budget, Budget.recipient_id == people.c.person_id)
        .join(versions, versions.c.budget_id == Budget.id)
        .where(Budget.delivery.in_(PAID_AS_DIRECT_PAYMENT), Budget.start_date <= year_end,
               sa.or_(Budget.end_date.is_(None), Budget.end_date >= start))
        .group_by(people.c.support_reason)
    ).all()
    # Summed as pence x days; a week is seven days, rounded once to the penny at the end.
    return {reason: (round(int(year or 0) / 7), round(int(to_date or 0) / 7)) for reason, year, to_date in rows}


def _providers(people) -> dict[int | None, dict]:
    """Provider id (None: no support service) -> name, cases, payroll-service users, managed accounts."""
    rows = db.session.execute(
        sa.select(CaseloadEntry.provider_id, sa.func.count(),
                  sa.func.sum(sa.case((CaseloadEntry.payroll.is_(True), 1), else_=0)),
                  sa.func.sum(sa.case((CaseloadEntry.managed_account.is_(True), 1), else_=0)))
        .select_from(people).outerjoin(CaseloadEntry, CaseloadEntry.recipient_id == people.c.person_id)
        .group_by(CaseloadEntry.provider_id)
    ).all()
    names = dict(db.session.execute(
        sa.select(Organisation.id, Organisation.name).where(Organisation.id.in_([row[0] for row in rows if row[0]]))).all())
    found = {row[0]: {"name": names.get(row[0], NO_PROVIDER), "cases": int(row[1]), "payroll": int(row[2] or 0),
                      "managed": int(row[3] or 0)} for row in rows}
    # Providers by name, the people with no support service last.
    return dict(sorted(found.items(), key=lambda item: (item[0] is None, item[1]["name"])))


def _reviews(people) -> dict[tuple[ReviewStatus, int | None], tuple[int, int, int, int]]:
    """(status, provider) -> (reviews, accounts, excess pence, proposed pence). One query."""
    rows = db.session.execute(
        sa.select(ExcessBalanceReview.status, CaseloadEntry.provider_id, sa.func.count(),
                  sa.func.count(sa.distinct(ExcessBalanceReview.account_id)),
                  sa.func.sum(ExcessBalanceReview.excess_pence), sa.func.sum(ExcessBalanceReview.proposed_pence))
        .select_from(people)
        .join(DPAccount, DPAccount.recipient_id == people.c.person_id)
        .join(ExcessBalanceReview, ExcessBalanceReview.account_id == DPAccount.id)
        .outerjoin(CaseloadEntry, CaseloadEntry.recipient_id == people.c.person_id)
        .group_by(ExcessBalanceReview.status, CaseloadEntry.provider_id)
    ).all()
    return {(row[0], row[1]): (int(row[2]), int(row[3]), int(row[4] or 0), int(row[5] or 0)) for row in rows}


def _excess_now(people) -> tuple[int, int]:
    """Money in excess now: for each account with an undecided review, its newest one's excess (older
    reviews of the same account measured the same money earlier, so they are not added). (pence, people)"""
    newest = (
        sa.select(ExcessBalanceReview.account_id, sa.func.max(ExcessBalanceReview.cycle_start).label("cycle_start"))
        .where(ExcessBalanceReview.status.in_(UNDECIDED)).group_by(ExcessBalanceReview.account_id).subquery("newest")
    )
    row = db.session.execute(
        sa.select(sa.func.coalesce(sa.func.sum(ExcessBalanceReview.excess_pence), 0),
                  sa.func.count(sa.distinct(DPAccount.recipient_id)))
        .select_from(people)
        .join(DPAccount, DPAccount.recipient_id == people.c.person_id)
        .join(newest, newest.c.account_id == DPAccount.id)
        .join(ExcessBalanceReview, sa.and_(ExcessBalanceReview.account_id == newest.c.account_id,
                                           ExcessBalanceReview.cycle_start == newest.c.cycle_start))
    ).one()
    return int(row[0]), int(row[1])


# The tables ---------------------------------------------------------------------------------------


UPTAKE_COLUMNS = [Column("On a personal budget"), Column("Taking all or part as a direct payment"),
                  Column("Direct payment as % of personal budgets", "percent")]


def _uptake_rows(groups: dict[str, tuple[int, int]]) -> tuple[list[list], list]:
    rows = [[label, budget, dp, percent(dp, budget)] for label, (budget, dp) in groups.items()]
    budget, dp = sum(r[1] for r in rows), sum(r[2] for r in rows)
    return rows, ["Total", budget, dp, percent(dp, budget)]


def _uptake_by_age(uptake: dict) -> Table:
    groups = {band: [0, 0] for band in AGE_BANDS}
    for (band, _), (budget, dp) in uptake.items():
        counts = groups.setdefault(band, [0, 0])
        counts[0] += budget
        counts[1] += dp
    ordered = {_sentence(label): tuple(groups[label]) for label in [UNDER_18, *AGE_BANDS] if label in groups}
    rows, total = _uptake_rows(ordered)
    return Table("uptake-age", "Uptake by age band", [Column("Age band", "text"), *UPTAKE_COLUMNS], rows, total,
                 "People whose personal budget is in force today; age on today's date.")


def _uptake_by_group(uptake: dict) -> Table:
    groups = {reason: [0, 0] for reason in SupportReason}
    for (_, reason), (budget, dp) in uptake.items():
        groups[reason][0] += budget
        groups[reason][1] += dp
    rows, total = _uptake_rows({_sentence(_value(reason)): tuple(counts) for reason, counts in groups.items()})
    return Table("uptake-client-group", "Uptake by client group", [Column("Client group (primary support reason)", "text"),
                 *UPTAKE_COLUMNS], rows, total, "People whose personal budget is in force today.")


def _spend_by_category(spend: dict) -> Table:
    by_category: dict = {category: 0 for category in Category}
    for (_, category, _), pence in spend.items():
        by_category[category] = by_category.get(category, 0) + pence
    total = sum(by_category.values())
    rows = [[_sentence(_value(category) if category is not None else NO_CATEGORY), pence, percent(pence, total)]
            for category, pence in by_category.items() if category is not None or pence]
    return Table("spend-category", "Spend this financial year by category",
                 [Column("Category", "text"), Column("Spent", "pence"), Column("% of spend", "percent")],
                 rows, ["Total", total, percent(total, total)],
                 "Card, payroll and managed-account spending since 1 April, less refunds and corrections.")


def _spend_by_group(spend: dict, budget: dict) -> Table:
    spent: dict = defaultdict(int)
    for (_, _, reason), pence in spend.items():
        spent[reason] += pence
    rows = []
    for reason in SupportReason:
        year, to_date = budget.get(reason, (0, 0))
        rows.append([_sentence(_value(reason)), year, to_date, spent[reason], to_date - spent[reason],
                     percent(spent[reason], to_date)])
    year, to_date, outturn = (sum(row[i] for row in rows) for i in (1, 2, 3))
    return Table(
        "spend-client-group", "Spend by client group: budget against outturn",
        [Column("Client group", "text"), Column("Budget for the year", "pence"), Column("Budget to date", "pence"),
         Column("Spent to date (outturn)", "pence"), Column("Variance to date", "pence"),
         Column("% of budget to date spent", "percent")],
        rows, ["Total", year, to_date, outturn, to_date - outturn, percent(outturn, to_date)],
        "Budgets are the weekly direct payment amounts in force each day since 1 April (to 31 March for the year); "
        "variance is the budget to date less the spend, so a minus sign is an overspend.",
    )


def _excess_table(reviews: dict, reclaims: tuple[int, int], excess_pence: int, excess_people: int) -> Table:
    by_status: dict = {status: [0, 0, 0, 0] for status in ReviewStatus}
    for (status, _), values in reviews.items():
        for index, value in enumerate(values):
            by_status[status][index] += value
    rows = [["Money in excess balances now (newest open review per person)", excess_people, None, excess_pence]]
    for status in ReviewStatus:
        count, accounts, excess, proposed = by_status[status]
        # Proposed reclaims have an amount of their own; an account's open reviews measured the same
        # money cycle after cycle, so their excesses are not added up (the first row has it).
        amount = proposed if status == ReviewStatus.PROPOSED else None
        rows.append([f"Reviews: {REVIEW_WORDS[status].lower()}", accounts, count, amount])
    entries, pence = reclaims
    rows.append(["Reclaims made this financial year (ledger)", None, entries, pence])
    return Table(
        "excess-balances", "Excess balances and reclaims",
        [Column("Measure", "text"), Column("People"), Column("Reviews or reclaims"), Column("Amount", "pence")], rows, None,
        "A review opens when the balance before a payment is over the council's excess line. Amounts: for money in excess "
        "the excess the newest open review found, for proposed reclaims the amount proposed, for reclaims made the money "
        "returned (less corrections).",
    )


def _cards(people, today: date) -> Table:
    """DP accounts in use (the account of a direct payment budget in force today) by payment method."""
    rows = dict(db.session.execute(
        sa.select(DPAccount.method, sa.func.count(sa.distinct(DPAccount.id)))
        .select_from(people)
        .join(Budget, Budget.recipient_id == people.c.person_id)
        .join(DPAccount, DPAccount.id == Budget.account_id)
        .where(_in_force(today), Budget.delivery.in_(PAID_AS_DIRECT_PAYMENT))
        .group_by(DPAccount.method)
    ).all())
    total = sum(rows.values())
    table_rows = [[METHOD_WORDS[method], rows.get(method, 0), percent(rows.get(method, 0), total)] for method in PaymentMethod]
    return Table("accounts-in-use", "Cards and accounts in use",
                 [Column("How the money is held", "text"), Column("Accounts"), Column("% of accounts", "percent")],
                 table_rows, ["Total", total, percent(total, total)],
                 "The accounts of direct payment budgets in force today.")


def _payroll(people, today: date, providers: dict) -> Table:
    """Payroll-service users and the PAs they employ now, by provider. Two queries."""
    payroll_people = (sa.select(CaseloadEntry.provider_id, CaseloadEntry.recipient_id)
                      .join(people, people.c.person_id == CaseloadEntry.recipient_id)
                      .where(CaseloadEntry.payroll.is_(True)).subquery("payroll_people"))
    employed = {row[0]: (int(row[1]), int(row[2])) for row in db.session.execute(
        sa.select(payroll_people.c.provider_id, sa.func.count(Employment.id), sa.func.count(sa.distinct(Employment.pa_id)))
        .select_from(payroll_people).join(Employment, Employment.employer_id == payroll_people.c.recipient_id)
        .where(_current_employment(today)).group_by(payroll_people.c.provider_id)
    ).all()}
    all_pas = int(db.session.scalar(
        sa.select(sa.func.count(sa.distinct(Employment.pa_id)))
        .select_from(payroll_people).join(Employment, Employment.employer_id == payroll_people.c.recipient_id)
        .where(_current_employment(today))) or 0)
    rows = []
    for provider_id, info in providers.items():
        if provider_id is None:
            continue
        jobs, pas = employed.get(provider_id, (0, 0))
        rows.append([info["name"], info["payroll"], pas, jobs, _ratio(jobs, info["payroll"])])
    users, jobs = sum(r[1] for r in rows), sum(r[3] for r in rows)
    return Table(
        "payroll-service", "Payroll-service users and the PAs they employ",
        [Column("Support service", "text"), Column("Payroll-service users"), Column("PAs employed"), Column("Jobs (employments)"),
         Column("PAs per user", "ratio")],
        rows, ["Total", users, all_pas, jobs, _ratio(jobs, users)],
        "Current employments only. A PA who works for people on two services is counted once in the total.",
    )


def _ratio(part: int, whole: int) -> float | None:
    return None if not whole else round(part / whole, 1)


def _open_work(people, providers: dict, reviews: dict, overdue: dict) -> Table:
    """Per support service: timesheets waiting for approval or to be keyed in, receipts and
    explanations missing, excess reviews open, reviews and audits overdue. Two queries here
    (timesheets; receipts and explanations); `overdue` is services.audits.overdue_by_provider."""
    def count_of(status: TimesheetStatus):
        return sa.func.sum(sa.case((Timesheet.status == status, 1), else_=0))

    # Per person first (no sort, one caseload look-up per person), then per provider.
    per_person = (
        sa.select(people.c.person_id.label("person_id"), count_of(TimesheetStatus.SUBMITTED).label("waiting"),
                  count_of(TimesheetStatus.AWAITING_KEYING).label("paper"))
        .select_from(people).join(Timesheet, Timesheet.employer_id == people.c.person_id)
        .where(Timesheet.status.in_(WAITING)).group_by(people.c.person_id).subquery("per_person")
    )
    timesheets = {row[0]: (int(row[1] or 0), int(row[2] or 0)) for row in db.session.execute(
        sa.select(CaseloadEntry.provider_id, sa.func.sum(per_person.c.waiting), sa.func.sum(per_person.c.paper))
        .select_from(per_person).outerjoin(CaseloadEntry, CaseloadEntry.recipient_id == per_person.c.person_id)
        .group_by(CaseloadEntry.provider_id)
    ).all()}

    # Receipts and explanations missing from the per-account counts the ledger keeps (account_attention),
    # per person first (no sort, one caseload look-up per person), then per provider.
    per_person = (
        sa.select(people.c.person_id.label("person_id"), sa.func.sum(AccountAttention.receipts_missing).label("receipts"),
                  sa.func.sum(AccountAttention.explanations_missing).label("explanations"))
        .select_from(people).join(DPAccount, DPAccount.recipient_id == people.c.person_id)
        .join(AccountAttention, AccountAttention.account_id == DPAccount.id)
        .group_by(people.c.person_id).subquery("per_person")
    )
    attention = {row[0]: (int(row[1] or 0), int(row[2] or 0)) for row in db.session.execute(
        sa.select(CaseloadEntry.provider_id, sa.func.sum(per_person.c.receipts), sa.func.sum(per_person.c.explanations))
        .select_from(per_person).outerjoin(CaseloadEntry, CaseloadEntry.recipient_id == per_person.c.person_id)
        .group_by(CaseloadEntry.provider_id)
    ).all()}
    rows = []
    for provider_id, info in providers.items():
        open_reviews = sum(reviews.get((status, provider_id), (0,))[0] for status in UNDECIDED)
        waiting, paper = timesheets.get(provider_id, (0, 0))
        late = overdue.get(provider_id)
        receipts, explanations = attention.get(provider_id, (0, 0))
        rows.append([info["name"], info["cases"], waiting, paper, receipts, explanations, open_reviews, late.reviews if late else 0, late.audits if late else 0])
    total = ["Total", *(sum(row[i] for row in rows) for i in range(1, 9))]
    return Table(
        "open-work", "Open work by support service",
        [Column("Support service", "text"), Column("People"), Column("Timesheets waiting for approval"),
         Column("Paper timesheets waiting to be keyed in"), Column("Receipts missing"), Column("Explanations missing"),
         Column("Excess reviews open"), Column("Reviews overdue"), Column("Audits overdue")],
        rows, total, "Support services serving the council's people, with their open work today.",
    )


def _setup_times(council_id: int, today: date) -> Table:
    """Days from the council's decision to the first payment, per support service that did the set-up:
    people whose first payment was in the last 12 months, and people still being set up."""
    times = case_lifecycle.setup_times_by_provider(council_id, today)
    rows = [[t.provider, t.completed, t.median_days, t.p90_days, t.waiting, t.waiting_longest_days] for t in times]
    return Table(
        "set-up-times", "Set-up time, from the council's decision to the first payment",
        [Column("Support service", "text"), Column("Set up in the last 12 months"), Column("Median days", "days"),
         Column("90th percentile days", "days"), Column("Still being set up"), Column("Longest wait so far (days)")],
        rows, ["Total", sum(t.completed for t in times), None, None, sum(t.waiting for t in times), None],
        "The median and 90th percentile are of the people whose first payment was in the last 12 months.",
    )


def _register_table(counts: register_counts.CouncilCounts) -> Table:
    rows = [[_sentence(measure), item, value if value != "" else None] for measure, item, value in counts.rows()]
    return Table("pa-register", "The PA register in the council's districts",
                 [Column("Measure", "text"), Column("Item", "text"), Column("Count", "number")], rows, None,
                 "Listed PAs only (a hidden profile is not counted).")


def _chart(table: Table, slug: str, column: int, title: str) -> Chart:
    kind = table.columns[column].kind
    bars = [Bar(row[0], int(row[column] or 0), _text(kind, row[column])) for row in table.rows]
    return Chart(slug, title, f"The same figures are in the table “{table.title}”.", bars)


def _pounds(pence: int) -> str:
    sign = "-" if pence < 0 else ""
    pounds, pennies = divmod(abs(int(pence)), 100)
    return f"{sign}£{pounds:,}.{pennies:02d}"


def _text(kind: str, value) -> str:
    if value is None:
        return ""
    if kind == "pence":
        return _pounds(value)
    if kind == "percent":
        return f"{value:.1f}%"
    if kind == "ratio":
        return f"{value:.1f}"
    if kind == "days":
        return f"{value:g}"
    if isinstance(value, int):
        return f"{value:,}"
    return str(value)


def cell_text(column: Column, value) -> str:
    """A table cell as the page shows it (the same formatting as the charts)."""
    return _text(column.kind, value)


def table_csv(council: Organisation, today: date, table: Table) -> str:
    """One table as CSV, with the council and the day in the first columns of every row."""
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\r\n")
    header, *rows = table.csv_rows()
    writer.writerow(["Council", "As at", *header])
    for row in rows:
        writer.writerow([safe_cell(council.name), today.isoformat(), *row])
    return out.getvalue()
