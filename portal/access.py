"""Who may see what: the one place that decides.

Every view carries @public or @requires(rule, ...); a test walks the URL map and fails for any view
without one. Every list and loader of people's records starts from a scope here
(visible_recipients and friends), so a record outside a user's scope is simply not found (404).
The rule in words is at the end of shared/personas.md.
"""

from collections.abc import Callable
from dataclasses import dataclass
from functools import wraps

import sqlalchemy as sa
from flask import abort
from flask_login import current_user

from portal.extensions import db, login_manager
from portal.models import (
    CaseloadEntry,
    DPAccount,
    LedgerEntry,
    Employment,
    Recipient,
    RepresentativeLevel,
    RepresentativeLink,
    Role,
    Timesheet,
    User,
)
from portal.models.register import ContactRequest, PAProfile, Vacancy, VacancyStatus, VerificationRequest
from portal.services.clock import london_today


@dataclass(frozen=True)
class Rule:
    """A named test of the signed-in user (not of a record: records go through the scopes)."""

    name: str
    test: Callable[[User], bool]

    def allows(self, user: User) -> bool:
        return bool(user.is_authenticated) and self.test(user)


SIGNED_IN = Rule("any signed-in user", lambda u: True)
RECIPIENT = Rule("recipient", lambda u: u.role == Role.RECIPIENT)
REPRESENTATIVE = Rule("representative", lambda u: u.role == Role.REPRESENTATIVE)
PA = Rule("personal assistant", lambda u: u.role == Role.PA)
DPSS_STAFF = Rule("DPSS staff", lambda u: u.role.is_dpss)
DPSS_MANAGER = Rule("DPSS manager", lambda u: u.role == Role.DPSS_MANAGER)
COUNCIL_OFFICER = Rule("council officer", lambda u: u.role == Role.COUNCIL_OFFICER)
ADMINISTRATOR = Rule("administrator", lambda u: u.role == Role.ADMINISTRATOR)
PAYROLL = Rule("DPSS staff with the payroll permission", lambda u: u.role.is_dpss and u.payroll_permission)
# People who may see recipients' records at all (each only within their scope).
CASE_VIEWERS = (RECIPIENT, REPRESENTATIVE, DPSS_STAFF, COUNCIL_OFFICER)
CASE_STAFF = (DPSS_STAFF, COUNCIL_OFFICER)


def public(view):
    """Mark a view as open to everyone, signed in or not."""
    view.access_rule = "public"
    return view


def requires(*rules: Rule):
    """Allow the view to users that pass any one of the rules; others get 403, anonymous users sign in."""
    if not rules:
        raise TypeError("requires() needs at least one rule")

    def decorate(view):
        @wraps(view)
        def wrapped(*args, **kwargs):
            if not current_user.is_authenticated:
                return login_manager.unauthorized()
            if not any(rule.allows(current_user) for rule in rules):
                abort(403)
            return view(*args, **kwargs)

        wrapped.access_rule = " or ".join(rule.name for rule in rules)
        return wrapped

    return decorate


# Query scopes ---------------------------------------------------------------------------------


def _active_link_filter(today):
    return sa.and_(
        RepresentativeLink.start_date <= today,
        sa.or_(RepresentativeLink.end_date.is_(None), RepresentativeLink.end_date >= today),
    )


def visible_recipients(user: User, level: RepresentativeLevel = RepresentativeLevel.VIEW) -> sa.Select:
    """A select of the recipients this user may see (or, with level=MANAGE, may change)."""
    query = sa.select(Recipient)
    if not user or not user.is_authenticated:
        return query.where(sa.false())
    role = user.role
    if role == Role.RECIPIENT:
        return query.where(Recipient.person_id == user.person_id)
    if role == Role.REPRESENTATIVE:
        links = sa.select(RepresentativeLink.recipient_id).where(
            RepresentativeLink.representative_id == user.person_id, _active_link_filter(london_today())
        )
        if level == RepresentativeLevel.MANAGE:
            links = links.where(RepresentativeLink.level == RepresentativeLevel.MANAGE)
        return query.where(Recipient.person_id.in_(links))
    if role in (Role.DPSS_CASEWORKER, Role.DPSS_MANAGER):
        entries = sa.select(CaseloadEntry.recipient_id).where(CaseloadEntry.provider_id == user.organisation_id)
        if role == Role.DPSS_CASEWORKER:
            entries = entries.where(CaseloadEntry.caseworker_id == user.id)
        return query.where(Recipient.person_id.in_(entries))
    if role == Role.COUNCIL_OFFICER:
        return query.where(Recipient.council_id == user.organisation_id)
    # PAs and administrators see no one's case record.
    return query.where(sa.false())


def count_visible_recipients(user: User) -> int:
    """How many recipients the user may see, counted from the narrowest table (the same scope)."""
    if user.role in (Role.DPSS_CASEWORKER, Role.DPSS_MANAGER):
        query = sa.select(sa.func.count()).select_from(CaseloadEntry).where(CaseloadEntry.provider_id == user.organisation_id)
        if user.role == Role.DPSS_CASEWORKER:
            query = query.where(CaseloadEntry.caseworker_id == user.id)
        return db.session.scalar(query)
    if user.role == Role.COUNCIL_OFFICER:
        return db.session.scalar(sa.select(sa.func.count()).select_from(Recipient).where(Recipient.council_id == user.organisation_id))
    return db.session.scalar(sa.select(sa.func.count()).select_from(visible_recipients(user).subquery()))


def recipient_or_404(person_id: int, level: RepresentativeLevel = RepresentativeLevel.VIEW) -> Recipient:
    """Load a recipient the current user may see, or 404. Staff views are audited here, once."""
    recipient = db.session.scalar(
        visible_recipients(current_user, level).where(Recipient.person_id == person_id)
    )
    if recipient is None:
        abort(404)
    if current_user.is_staff:
        from portal.sqlite import immediate_transaction
        from portal.web.helpers import audit

        # A staff view is recorded whatever the page does next, in a transaction of its own that takes
        # the write lock first: on SQLite, adding a write to the read above fails at once ("database is
        # locked") if another process wrote meanwhile (tests/test_reclaim_processes.py).
        with immediate_transaction():
            audit("recipient.viewed", record_type="recipient", record_id=person_id, acting_for_id=person_id)
    return recipient


def may_manage(user: User, recipient: Recipient) -> bool:
    """Whether the user may change things for this recipient (view-level representatives may not)."""
    return db.session.scalar(
        visible_recipients(user, RepresentativeLevel.MANAGE)
        .where(Recipient.person_id == recipient.person_id)
        .with_only_columns(Recipient.person_id)
    ) is not None


def active_links_for(user: User) -> list[RepresentativeLink]:
    """The representative's current links, for their home page and the capacity caption."""
    if user.role != Role.REPRESENTATIVE:
        return []
    return list(
        db.session.scalars(
            sa.select(RepresentativeLink)
            .where(RepresentativeLink.representative_id == user.person_id, _active_link_filter(london_today()))
            .order_by(RepresentativeLink.id)
        )
    )


def visible_employments(user: User) -> sa.Select:
    """A PA's current employments (employer names only: nothing of an employer's budget)."""
    query = sa.select(Employment)
    if user.role != Role.PA:
        return query.where(sa.false())
    today = london_today()
    return query.where(
        Employment.pa_id == user.person_id,
        Employment.start_date <= today,
        sa.or_(Employment.end_date.is_(None), Employment.end_date >= today),
    )


def visible_timesheets(user: User) -> sa.Select:
    """Timesheets this user may see: a PA their own; the employer's side through the recipient scope;
    DPSS staff with the payroll permission, every payroll-service employer of their organisation's."""
    query = sa.select(Timesheet)
    if not user or not user.is_authenticated:
        return query.where(sa.false())
    if user.role == Role.PA:
        return query.where(Timesheet.pa_id == user.person_id)
    if user.role == Role.ADMINISTRATOR:
        return query.where(sa.false())
    employers = visible_recipients(user).with_only_columns(Recipient.person_id)
    condition = Timesheet.employer_id.in_(employers)
    if user.role.is_dpss and user.payroll_permission:
        condition = sa.or_(condition, Timesheet.employer_id.in_(payroll_employers(user)))
    return query.where(condition)


def payroll_employers(user: User) -> sa.Select:
    """Recipient ids on the user's organisation's payroll service (empty without the permission)."""
    query = sa.select(CaseloadEntry.recipient_id)
    if not (user.role.is_dpss and user.payroll_permission):
        return query.where(sa.false())
    return query.where(CaseloadEntry.provider_id == user.organisation_id, CaseloadEntry.payroll.is_(True))


def payroll_work(user: User) -> sa.Select:
    """Employers whose PAs' pay this user handles: the payroll-service employers of their organisation,
    and the managed accounts they may see (the DPSS pays those PAs too). One scan of the caseload."""
    query = sa.select(CaseloadEntry.recipient_id)
    if not (user.role.is_dpss and user.payroll_permission):
        return query.where(sa.false())
    managed_seen = CaseloadEntry.managed_account.is_(True)
    if user.role == Role.DPSS_CASEWORKER:  # as visible_recipients: a caseworker sees their own cases
        managed_seen = sa.and_(managed_seen, CaseloadEntry.caseworker_id == user.id)
    return query.where(CaseloadEntry.provider_id == user.organisation_id,
                       sa.or_(CaseloadEntry.payroll.is_(True), managed_seen))


def timesheet_or_404(timesheet_id: int) -> Timesheet:
    timesheet = db.session.scalar(visible_timesheets(current_user).where(Timesheet.id == timesheet_id))
    if timesheet is None:
        abort(404)
    return timesheet


def capacity_caption(user: User, recipient: Recipient) -> str:
    """Says whose page this is and in what capacity, on every page about someone."""
    name = recipient.full_name
    if user.role == Role.RECIPIENT:
        return "This is your direct payment"
    if user.role == Role.REPRESENTATIVE:
        for link in active_links_for(user):
            if link.recipient_id == recipient.person_id:
                if link.level == RepresentativeLevel.MANAGE:
                    return f"You are managing {name}'s direct payment as their {link.kind.value}"
                return f"You can view {name}'s direct payment as their {link.kind.value}"
    if user.role.is_dpss:
        return f"You are viewing {name}'s record as {user.organisation.name} staff"
    if user.role == Role.COUNCIL_OFFICER:
        return f"You are viewing {name}'s record for {user.organisation.name}"
    return f"You are viewing {name}'s record"


def accounts_of(recipient: Recipient) -> list[DPAccount]:
    """The recipient's DP accounts (the caller has already loaded the recipient through a scope)."""
    return list(db.session.scalars(sa.select(DPAccount).where(DPAccount.recipient_id == recipient.person_id).order_by(DPAccount.id)))


def entry_or_404(recipient: Recipient, entry_id: int) -> LedgerEntry:
    """A ledger entry on one of this recipient's accounts, or 404 (never someone else's)."""
    entry = db.session.scalar(
        sa.select(LedgerEntry)
        .join(DPAccount, DPAccount.id == LedgerEntry.account_id)
        .where(LedgerEntry.id == entry_id, DPAccount.recipient_id == recipient.person_id)
    )
    if entry is None:
        abort(404)
    return entry


# Who may change a recipient's money records (receipts, explanations, manual spending): the person,
# a manage-level representative (checked by recipient_or_404 with level=MANAGE), or their DPSS staff.
MONEY_EDITORS = (RECIPIENT, REPRESENTATIVE, DPSS_STAFF)
# Who manages budgets and plans.
BUDGET_MANAGERS = (DPSS_MANAGER, COUNCIL_OFFICER)


# The PA register -------------------------------------------------------------------------------

# Who may search the register and see listed profiles (PAs browse vacancies instead).
REGISTER_SEARCHERS = (RECIPIENT, REPRESENTATIVE, DPSS_STAFF, COUNCIL_OFFICER)
# Who may post vacancies and contact PAs for a recipient (each only for recipients they may manage).
RECRUITERS = (RECIPIENT, REPRESENTATIVE, DPSS_STAFF)


def listed_profiles() -> sa.Select:
    """Profiles anyone but their own PA may see: listed ones only. Every search, match and count
    shown to others starts here, so hiding a profile takes it off every page at once."""
    return sa.select(PAProfile).where(PAProfile.listed.is_(True))


def listed_profile_or_404(profile_id: int) -> PAProfile:
    profile = db.session.scalar(listed_profiles().where(PAProfile.id == profile_id))
    if profile is None:
        abort(404)
    return profile


def own_profile(user: User) -> PAProfile | None:
    if user.role != Role.PA or user.person_id is None:
        return None
    return db.session.scalar(sa.select(PAProfile).where(PAProfile.person_id == user.person_id))


def visible_vacancies(user: User) -> sa.Select:
    """PAs: open vacancies still taking interest. Everyone else: vacancies of recipients they may see."""
    query = sa.select(Vacancy)
    if not user or not user.is_authenticated:
        return query.where(sa.false())
    if user.role == Role.PA:
        return query.where(Vacancy.status == VacancyStatus.OPEN, Vacancy.closing_date >= london_today())
    return query.where(Vacancy.recipient_id.in_(visible_recipients(user).with_only_columns(Recipient.person_id)))


def vacancy_or_404(vacancy_id: int) -> Vacancy:
    vacancy = db.session.scalar(visible_vacancies(current_user).where(Vacancy.id == vacancy_id))
    if vacancy is None:
        abort(404)
    return vacancy


def visible_contacts(user: User) -> sa.Select:
    """Contact requests: a PA's own (to their profile); otherwise those for recipients the user may see."""
    query = sa.select(ContactRequest)
    if not user or not user.is_authenticated or user.role == Role.ADMINISTRATOR:
        return query.where(sa.false())
    if user.role == Role.PA:
        return query.join(PAProfile, PAProfile.id == ContactRequest.profile_id).where(PAProfile.person_id == user.person_id)
    return query.where(ContactRequest.recipient_id.in_(visible_recipients(user).with_only_columns(Recipient.person_id)))


def contact_or_404(contact_id: int) -> ContactRequest:
    contact = db.session.scalar(visible_contacts(current_user).where(ContactRequest.id == contact_id))
    if contact is None:
        abort(404)
    return contact


def verification_requests(user: User) -> sa.Select:
    """Requests to verify a PA's check: only the DPSS the PA asked sees them (and the document)."""
    query = sa.select(VerificationRequest)
    if not user or not user.is_authenticated or not user.role.is_dpss:
        return query.where(sa.false())
    return query.where(VerificationRequest.provider_id == user.organisation_id)


def verification_request_or_404(request_id: int) -> VerificationRequest:
    request = db.session.scalar(verification_requests(current_user).where(VerificationRequest.id == request_id))
    if request is None:
        abort(404)
    return request
