"""The caseload list: search by name, case reference or postcode district, filters and sorting.

Everything starts from access.visible_recipients, so a search can only narrow what the user may see.
The page shows 50 people at a time with page numbers; the flags shown beside each person (receipts
missing, an excess balance under review, an open concern, set-up not finished) are looked up for those
50 only, in one query each.
"""

from dataclasses import dataclass, field
from datetime import date

import sqlalchemy as sa
from sqlalchemy.orm import aliased

from portal.access import visible_recipients
from portal.extensions import db
from portal.models import AccountAttention, CaseloadEntry, ExcessBalanceReview, Person, Recipient, ReviewStatus, User
from portal.models.budgets import DPAccount
from portal.models.case_lifecycle import CaseSetup
from portal.models.casework import SafeguardingConcern
from portal.services.case_lifecycle import person_id_from_reference

PAGE_SIZE = 50

SERVICES = {
    "managed_account": "Managed account",
    "payroll": "Payroll",
    "recruitment_support": "Recruitment support",
    "setup_support": "Set-up support",
}
FLAGS = {
    "evidence": "Receipts or explanations missing",
    "excess": "Excess balance under review",
    "concern": "Safeguarding concern open",
    "setup": "Set-up not finished",
}
STATUSES = {"open": "Open cases", "closed": "Closed cases", "all": "Open and closed"}
SORTS = {
    "name": "Name (A to Z)",
    "area": "Area",
    "newest": "Newest cases first",
    "caseworker": "Caseworker",
}
UNASSIGNED = "none"


@dataclass
class Filters:
    words: str = ""
    services: list[str] = field(default_factory=list)
    flags: list[str] = field(default_factory=list)
    caseworker: str = ""  # a user id, UNASSIGNED, or "" for everyone the user may see
    status: str = "open"
    sort: str = "name"
    page: int = 1

    @classmethod
    def from_args(cls, args) -> "Filters":
        """Read the GET form, dropping anything not offered (a tampered or stale link is not an error)."""
        status = args.get("status", "open")
        sort = args.get("sort", "name")
        caseworker = args.get("caseworker", "")
        return cls(
            words=args.get("q", "").strip()[:100],
            services=[s for s in args.getlist("service") if s in SERVICES],
            flags=[f for f in args.getlist("flag") if f in FLAGS],
            caseworker=caseworker if caseworker == UNASSIGNED or caseworker.isdigit() else "",
            status=status if status in STATUSES else "open",
            sort=sort if sort in SORTS else "name",
            page=max(1, min(args.get("page", 1, type=int) or 1, 10_000)),
        )

    @property
    def chosen(self) -> bool:
        return bool(self.words or self.services or self.flags or self.caseworker or self.status != "open")


@dataclass
class Row:
    recipient: Recipient
    person: Person
    entry: CaseloadEntry | None
    caseworker_name: str
    flags: list[str] = field(default_factory=list)

    @property
    def services(self) -> list[str]:
        return self.entry.service_levels if self.entry else []


@dataclass
class Page:
    rows: list[Row]
    total: int
    page: int
    pages: int


def _flag_condition(flag: str, today: date):
    if flag == "evidence":
        # From the per-account counts the ledger keeps (account_attention): a key lookup per case.
        return sa.exists().where(
            DPAccount.recipient_id == Recipient.person_id, AccountAttention.account_id == DPAccount.id,
            sa.or_(AccountAttention.receipts_missing > 0, AccountAttention.explanations_missing > 0),
        )
    if flag == "excess":
        return sa.exists().where(
            DPAccount.recipient_id == Recipient.person_id, ExcessBalanceReview.account_id == DPAccount.id,
            ExcessBalanceReview.status.in_([ReviewStatus.OPEN, ReviewStatus.PROPOSED]),
        )
    if flag == "concern":
        return sa.exists().where(SafeguardingConcern.recipient_id == Recipient.person_id, SafeguardingConcern.acknowledged_at.is_(None))
    if flag == "setup":
        return sa.exists().where(CaseSetup.recipient_id == Recipient.person_id, CaseSetup.first_payment_on.is_(None))
    raise ValueError(flag)


def _words_match(words: str):
    """The case matches the words: the person's "given family" name contains them, or they are the
    person's postcode district ("NF4") or case reference.

    On PostgreSQL the matching people are gathered first, once (names through the trigram index of
    migration 0021), and the cases in scope are looked up from that set: with the conditions written on
    the joined rows the planner checked the name of every one of 109,000 people (PAs and family
    included) before joining the 5,000 cases in scope, 50 ms at council scale, against 3 to 6 ms. SQLite
    joins the cases first and checks their names, which is quick there."""
    like = "%" + words.lower().replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_") + "%"
    district = words.upper().replace(" ", "")
    district = district if len(district) <= 4 and district[:1].isalpha() else None
    person_id = person_id_from_reference(words)
    # Under three letters a trigram index cannot narrow anything down: check the joined rows as SQLite does.
    if db.session.get_bind().dialect.name != "postgresql" or len(words) < 3:
        matches = [sa.func.lower(Person.given_name + " " + Person.family_name).like(like, escape="\\")]
        if district:
            matches.append(Recipient.district_code == district)
        if person_id is not None:
            matches.append(Recipient.person_id == person_id)
        return sa.or_(*matches)
    named = aliased(Person)
    sources = [sa.select(named.id).where(sa.func.lower(named.given_name + " " + named.family_name).like(like, escape="\\"))]
    if district:
        living = aliased(Recipient)
        sources.append(sa.select(living.person_id).where(living.district_code == district))
    if person_id is not None:
        sources.append(sa.select(sa.literal(person_id, sa.Integer)))
    # = ANY(ARRAY(...)): the set is made once (an InitPlan) and looked up by key; an IN here was turned
    # into a join that went back to checking every name.
    return Person.id == sa.any_(sa.func.array(sa.union_all(*sources).scalar_subquery()))


def search(user: User, filters: Filters, today: date) -> Page:
    Caseworker = aliased(User)
    query = (
        visible_recipients(user)
        .join(Person, Person.id == Recipient.person_id)
        .outerjoin(CaseloadEntry, CaseloadEntry.recipient_id == Recipient.person_id)
    )
    if user.role.is_dpss:
        # The scope said again on the joined entry (the same rows): PostgreSQL then starts from the
        # organisation's entries and runs the flag checks for those alone, not for every recipient.
        query = query.where(CaseloadEntry.provider_id == user.organisation_id)
    words = filters.words
    if words:
        query = query.where(_words_match(words))
    for service in filters.services:
        query = query.where(getattr(CaseloadEntry, service).is_(True))
    if filters.caseworker == UNASSIGNED:
        query = query.where(CaseloadEntry.recipient_id.is_not(None), CaseloadEntry.caseworker_id.is_(None))
    elif filters.caseworker:
        query = query.where(CaseloadEntry.caseworker_id == int(filters.caseworker))
    if filters.status == "open":
        query = query.where(CaseloadEntry.closed_on.is_(None))
    elif filters.status == "closed":
        query = query.where(CaseloadEntry.closed_on.is_not(None))
    for flag in filters.flags:
        query = query.where(_flag_condition(flag, today))

    name_order = (Person.family_name, Person.given_name, Person.id)
    order = {
        "name": name_order,
        "area": (Recipient.district_code, *name_order),
        "newest": (CaseloadEntry.start_date.desc(), *name_order),
        "caseworker": (Caseworker.display_name, *name_order),
    }[filters.sort]
    listed = (query.outerjoin(Caseworker, Caseworker.id == CaseloadEntry.caseworker_id)
              .add_columns(Person, CaseloadEntry, Caseworker.display_name).order_by(*order).limit(PAGE_SIZE))

    def counted() -> int:
        return db.session.scalar(query.with_only_columns(sa.func.count(Recipient.person_id)).order_by(None))

    if filters.flags:
        # A flag's checks run for every visible case whichever page is asked for: count them in the same
        # pass (a window) instead of a second query doing it all again. Past the last page: count, then go there.
        rows = db.session.execute(listed.add_columns(sa.func.count().over()).offset((filters.page - 1) * PAGE_SIZE)).all()
        total = int(rows[0][4]) if rows else counted()
        pages = max(1, -(-total // PAGE_SIZE))
        page = min(filters.page, pages)
        if not rows and total:
            rows = db.session.execute(listed.offset((page - 1) * PAGE_SIZE)).all()
    else:
        total = counted()
        pages = max(1, -(-total // PAGE_SIZE))
        page = min(filters.page, pages)
        rows = db.session.execute(listed.offset((page - 1) * PAGE_SIZE)).all()
    result = [Row(recipient=r[0], person=r[1], entry=r[2], caseworker_name=r[3] or "") for r in rows]
    _add_flags(result, today)
    return Page(rows=result, total=total, page=page, pages=pages)


def _add_flags(rows: list[Row], today: date) -> None:
    """The flags of the people on this page: one query per flag over their ids."""
    ids = [row.recipient.person_id for row in rows]
    if not ids:
        return
    by_id = {row.recipient.person_id: row for row in rows}
    for flag in FLAGS:
        found = db.session.scalars(
            sa.select(Recipient.person_id).where(Recipient.person_id.in_(ids), _flag_condition(flag, today))
        ).all()
        for person_id in found:
            by_id[person_id].flags.append(flag)
