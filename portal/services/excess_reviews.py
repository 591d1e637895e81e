"""Excess-balance reviews, worked: the caseworker's reason and proposal, the council's decision, the reclaim.

A review is opened by the payment run's check (portal.services.excess). Here:

- DPSS staff who can see the person work the newest OPEN review of an account: why the money built
  up (ExcessReason), a note, and a proposal. Keep closes it (KEPT); when the reason is unmet need
  (no PA found, in hospital) the help offered must be recorded. Reclaim part or all moves it to
  PROPOSED and tells the council officers of the person's council. Older open reviews of the same
  account close as superseded (CLOSED) when the newest is worked.
- A council officer of the person's council approves (RECLAIMED) or declines with a note (KEPT).
- Approving posts one RECLAIM entry to the ledger, exactly once: the status moves from PROPOSED only
  by an atomic claim on the version the page was drawn from (UPDATE ... WHERE id AND version AND
  status), and the entry's payment_key (unique in the database) is the review's, so a double-click,
  two officers at once or a retry never reclaims twice. The person and their manage-level
  representatives are then told in plain English, with the route to challenge.

Every change is made against the version the page was drawn from; a stale page changes nothing.
Functions add to the session and flush; callers commit (the views run each change in one
immediate_transaction, so on SQLite two writers never interleave).
"""

from dataclasses import dataclass
from datetime import date

import sqlalchemy as sa
from sqlalchemy.exc import IntegrityError

from portal.extensions import db
from portal.models import (
    DPAccount,
    EntryKind,
    EntrySource,
    ExcessBalanceReview,
    ExcessProposal,
    ExcessReason,
    LedgerEntry,
    Recipient,
    ReviewStatus,
    Role,
    User,
)
from portal.services import excess, ledger, notifications
from portal.services.clock import london_today, utcnow
from portal.services.refusals import Refused

NOTE_LENGTH = 1000
UNMET_NEED = frozenset({ExcessReason.NO_PA, ExcessReason.HOSPITAL})
RECLAIMS = frozenset({ExcessProposal.RECLAIM_PART, ExcessProposal.RECLAIM_ALL})

# "... was returned to the council on <date> because <words>."
BECAUSE = {
    ExcessReason.INFORMAL_SUPPORT: "more of the support came from family or friends, so less of the money was needed",
    ExcessReason.NO_PA: "no personal assistant could be found, so the money was not spent",
    ExcessReason.HOSPITAL: "a stay in hospital meant the support was not needed",
    ExcessReason.PLANNED_RESPITE: "more was saved than the respite agreed in the support plan needs",
    ExcessReason.OTHER: "of the reason the support service recorded",
}
STATUS_WORDS = {
    ReviewStatus.OPEN: "To review",
    ReviewStatus.PROPOSED: "Waiting for the council",
    ReviewStatus.RECLAIMED: "Money returned",
    ReviewStatus.KEPT: "Money kept",
    ReviewStatus.CLOSED: "Closed",
}


class ReviewError(Refused):
    """A change to a review refused."""


class StaleReview(ReviewError):
    def __init__(self):
        super().__init__("This review changed since you opened it. Nothing was changed: check it below and try again.")


class AlreadyApproved(ReviewError):
    def __init__(self):
        super().__init__("This reclaim has already been approved. The money was returned once; nothing more was changed.")


class NotAllowed(ReviewError):
    def __init__(self, message: str = "You cannot change this review."):
        super().__init__(message)


@dataclass(frozen=True)
class Work:
    """What the caseworker records: why the money built up, and what they propose."""

    reason: ExcessReason
    proposal: ExcessProposal
    note: str = ""
    help_offered: str = ""
    amount_pence: int | None = None  # for reclaiming part


def _pounds(pence: int | None) -> str:
    """Integer pence as £1,234.56 (as the pages show money)."""
    pence = int(pence or 0)
    sign = "-" if pence < 0 else ""
    pounds, pennies = divmod(abs(pence), 100)
    return f"{sign}£{pounds:,}.{pennies:02d}"


def _long_date(day: date) -> str:
    return f"{day.day} {day:%B %Y}"


# Reading ------------------------------------------------------------------------------------------


def reviews_of(recipient_id: int) -> list[ExcessBalanceReview]:
    """A person's reviews, newest first (the caller has loaded the person through a scope)."""
    return list(db.session.scalars(
        sa.select(ExcessBalanceReview).join(DPAccount, DPAccount.id == ExcessBalanceReview.account_id)
        .where(DPAccount.recipient_id == recipient_id)
        .order_by(ExcessBalanceReview.cycle_start.desc(), ExcessBalanceReview.id.desc())
    ))


def review_of(recipient_id: int, review_id: int) -> ExcessBalanceReview | None:
    """One of this person's reviews, or None (never someone else's, whatever the id)."""
    return db.session.scalar(
        sa.select(ExcessBalanceReview).join(DPAccount, DPAccount.id == ExcessBalanceReview.account_id)
        .where(ExcessBalanceReview.id == review_id, DPAccount.recipient_id == recipient_id)
    )


def recipient_of(review: ExcessBalanceReview) -> Recipient:
    return db.session.get(Recipient, review.account.recipient_id)


def newest_open(account_id: int) -> ExcessBalanceReview | None:
    return excess.open_review(account_id)


def is_workable(review: ExcessBalanceReview) -> bool:
    """Open, and the newest open review of its account (older ones close when that one is worked)."""
    if review.status != ReviewStatus.OPEN:
        return False
    newest = newest_open(review.account_id)
    return newest is not None and newest.id == review.id


def may_work(user: User, review: ExcessBalanceReview) -> bool:
    """DPSS staff who can see the person (a caseworker their own cases, a manager their organisation's)."""
    from portal.access import visible_recipients

    if not (user and user.is_authenticated and user.role.is_dpss):
        return False
    recipient_id = review.account.recipient_id
    return db.session.scalar(
        visible_recipients(user).where(Recipient.person_id == recipient_id).with_only_columns(Recipient.person_id)
    ) is not None


def may_decide(user: User, review: ExcessBalanceReview) -> bool:
    """A council officer of the council that funds the person."""
    if not (user and user.is_authenticated and user.role == Role.COUNCIL_OFFICER):
        return False
    return user.organisation_id is not None and user.organisation_id == recipient_of(review).council_id


def reclaim_entry(review: ExcessBalanceReview) -> LedgerEntry | None:
    return db.session.get(LedgerEntry, review.reclaim_entry_id) if review.reclaim_entry_id else None


def because(review: ExcessBalanceReview, *, short: bool = False) -> str:
    """Why the money was returned, in words for the person ("because ..."); short leaves out a long note."""
    if review.reason is None:
        return "the balance was more than the council allows"
    if review.reason == ExcessReason.OTHER and review.reason_note.strip() and not (short and len(review.reason_note) > 100):
        return "of this: " + review.reason_note.strip().rstrip(".")
    return BECAUSE[review.reason]


@dataclass(frozen=True)
class Reclaim:
    """A reclaim made, as the person's money page tells it."""

    review: ExcessBalanceReview
    amount_pence: int
    returned_on: date
    council_name: str
    because: str


def reclaims_for(recipient_id: int, since_days: int = 366) -> list[Reclaim]:
    """Reclaims made from the person's accounts in the last year, newest first."""
    since = london_today().toordinal() - since_days
    rows = db.session.execute(
        sa.select(ExcessBalanceReview, LedgerEntry)
        .join(DPAccount, DPAccount.id == ExcessBalanceReview.account_id)
        .join(LedgerEntry, LedgerEntry.id == ExcessBalanceReview.reclaim_entry_id)
        .where(DPAccount.recipient_id == recipient_id, ExcessBalanceReview.status == ReviewStatus.RECLAIMED)
        .order_by(LedgerEntry.entry_date.desc(), LedgerEntry.id.desc())
    ).all()
    recipient = db.session.get(Recipient, recipient_id)
    council = recipient.council.name if recipient else "the council"
    return [
        Reclaim(review, -entry.amount_pence, entry.entry_date, council, because(review))
        for review, entry in rows if entry.entry_date.toordinal() >= since
    ]


# Working a review ---------------------------------------------------------------------------------


def problems_in(work: Work, review: ExcessBalanceReview) -> list[tuple[str | None, str]]:
    problems: list[tuple[str | None, str]] = []
    note, help_offered = (work.note or "").strip(), (work.help_offered or "").strip()
    if work.reason == ExcessReason.OTHER and not note:
        problems.append(("reason_note", "Say why the money built up"))
    if len(note) > NOTE_LENGTH:
        problems.append(("reason_note", f"The note must be {NOTE_LENGTH} characters or fewer"))
    if work.proposal == ExcessProposal.KEEP and work.reason in UNMET_NEED and not help_offered:
        why = "could not find a PA" if work.reason == ExcessReason.NO_PA else "were in hospital"
        problems.append(("help_offered", f"Say what help has been offered, as they {why}"))
    if len(help_offered) > NOTE_LENGTH:
        problems.append(("help_offered", f"What help has been offered must be {NOTE_LENGTH} characters or fewer"))
    if work.proposal == ExcessProposal.RECLAIM_PART:
        if work.amount_pence is None:
            problems.append(("amount", "Enter how much to reclaim, like 500.00"))
        elif work.amount_pence <= 0:
            problems.append(("amount", "The amount to reclaim must be more than £0"))
        elif work.amount_pence > review.excess_pence:
            problems.append(("amount", f"The amount to reclaim must be no more than the excess, {_pounds(review.excess_pence)}"))
    return problems


def _claim(review: ExcessBalanceReview, version: int, from_status: ReviewStatus, **values) -> bool:
    """Move the review on only if it is still at this version and status (atomic: one of two wins)."""
    result = db.session.execute(
        sa.update(ExcessBalanceReview)
        .where(ExcessBalanceReview.id == review.id, ExcessBalanceReview.version == version,
               ExcessBalanceReview.status == from_status)
        .values(version=ExcessBalanceReview.version + 1, **values)
        .execution_options(synchronize_session=False)
    )
    return result.rowcount == 1


def _refused_claim(review: ExcessBalanceReview):
    """Another request moved the review first: say whether it was an approval (the usual case) or not."""
    status = db.session.scalar(sa.select(ExcessBalanceReview.status).where(ExcessBalanceReview.id == review.id))
    if review in db.session:
        db.session.refresh(review)
    if status == ReviewStatus.RECLAIMED:
        raise AlreadyApproved()
    raise StaleReview()


def record(review: ExcessBalanceReview, user: User, work: Work, version: int) -> ExcessBalanceReview:
    """The caseworker's reason and proposal. Keep closes it; a reclaim goes to the council."""
    if not may_work(user, review):
        raise NotAllowed("Only the person's support service records why the money built up.")
    problems = problems_in(work, review)
    if problems:
        raise ReviewError(problems)
    if version != review.version or review.status != ReviewStatus.OPEN:
        raise StaleReview()
    if not is_workable(review):
        raise ReviewError("There is a newer review for this account. Work that one: this one closes when it is.")
    if work.proposal == ExcessProposal.KEEP:
        status, amount = ReviewStatus.KEPT, None
    elif work.proposal == ExcessProposal.RECLAIM_ALL:
        status, amount = ReviewStatus.PROPOSED, review.excess_pence
    else:
        status, amount = ReviewStatus.PROPOSED, work.amount_pence
    now = utcnow()
    claimed = _claim(
        review, version, ReviewStatus.OPEN, status=status, reason=work.reason, reason_note=(work.note or "").strip(),
        help_offered=(work.help_offered or "").strip(), proposal=work.proposal, proposed_pence=amount,
        proposed_by_id=user.id, proposed_at=now,
    )
    if not claimed:
        db.session.refresh(review)
        raise StaleReview()
    _supersede_older(review, user, now)
    db.session.refresh(review)
    if status == ReviewStatus.PROPOSED:
        _tell_the_council(review, user)
    return review


def _supersede_older(review: ExcessBalanceReview, user: User, now) -> int:
    """Close the account's older open reviews: the newest one, now worked, speaks for them."""
    return db.session.execute(
        sa.update(ExcessBalanceReview)
        .where(ExcessBalanceReview.account_id == review.account_id, ExcessBalanceReview.status == ReviewStatus.OPEN,
               ExcessBalanceReview.id != review.id, ExcessBalanceReview.cycle_start < review.cycle_start)
        .values(status=ReviewStatus.CLOSED, decided_by_id=user.id, decided_at=now,
                decision_note=f"Closed as superseded: the review from {review.cycle_start.day} "
                              f"{review.cycle_start:%B %Y} was worked instead.",
                version=ExcessBalanceReview.version + 1)
        .execution_options(synchronize_session=False)
    ).rowcount


def council_officers(council_id: int) -> list[User]:
    return list(db.session.scalars(sa.select(User).where(
        User.role == Role.COUNCIL_OFFICER, User.organisation_id == council_id, User.disabled_at.is_(None))))


def review_path(review: ExcessBalanceReview) -> str:
    return f"/people/{review.account.recipient_id}/excess-reviews/{review.id}"


def _tell_the_council(review: ExcessBalanceReview, user: User) -> None:
    recipient = recipient_of(review)
    who = user.display_name + (f" ({user.organisation.name})" if user.organisation else "")
    notifications.notify(
        council_officers(recipient.council_id), f"excess-review:{review.id}:proposed",
        f"{who} proposes returning {_pounds(review.proposed_pence)} of {recipient.person.full_name}'s "
        f"direct payment to the council: {review.reason.value}. Please approve or decline it.",
        review_path(review),
    )


# The council's decision ---------------------------------------------------------------------------


def approve(review: ExcessBalanceReview, user: User, version: int, note: str = "") -> LedgerEntry:
    """Approve the proposed reclaim: the review moves to RECLAIMED and one RECLAIM entry is posted.

    The claim (UPDATE ... WHERE version AND status = proposed) lets exactly one caller through; the
    others get AlreadyApproved (or StaleReview if the review moved some other way). The entry's
    payment_key is the review's, so even a retry that somehow got past the claim cannot post twice.
    """
    if not may_decide(user, review):
        raise NotAllowed("Only an officer of the council that funds the person decides a reclaim.")
    note = (note or "").strip()
    if len(note) > NOTE_LENGTH:
        raise ReviewError([("decision_note", f"The note must be {NOTE_LENGTH} characters or fewer")])
    if review.status == ReviewStatus.RECLAIMED:
        raise AlreadyApproved()
    if version != review.version or review.status != ReviewStatus.PROPOSED:
        raise StaleReview()
    amount = review.proposed_pence or 0
    balance = ledger.balance(review.account_id)
    if amount > balance:
        raise ReviewError(
            f"The balance is now {_pounds(balance)}, less than the {_pounds(amount)} proposed. "
            "Decline this reclaim and ask the support service to propose again.")
    now = utcnow()
    if not _claim(review, version, ReviewStatus.PROPOSED, status=ReviewStatus.RECLAIMED, decided_by_id=user.id,
                  decided_at=now, decision_note=note):
        _refused_claim(review)
    entry = _post_reclaim(review, user, amount)
    db.session.execute(
        sa.update(ExcessBalanceReview).where(ExcessBalanceReview.id == review.id)
        .values(reclaim_entry_id=entry.id).execution_options(synchronize_session=False)
    )
    db.session.refresh(review)
    _tell_the_person(review, entry)
    _tell_the_proposer(review, user, approved=True)
    return entry


def reclaim_key(review: ExcessBalanceReview) -> str:
    return f"excess-reclaim:{review.id}"


def _entry_with_key(key: str) -> LedgerEntry | None:
    return db.session.scalar(sa.select(LedgerEntry).where(LedgerEntry.payment_key == key))


def _post_reclaim(review: ExcessBalanceReview, user: User, amount: int) -> LedgerEntry:
    """The RECLAIM entry for this review: the one already posted under its key, or a new one."""
    key = reclaim_key(review)
    existing = _entry_with_key(key)
    if existing is not None:
        return existing
    council = recipient_of(review).council.name
    try:
        with db.session.begin_nested():
            return ledger.post(
                account_id=review.account_id, kind=EntryKind.RECLAIM, amount_pence=-amount, entry_date=london_today(),
                source=EntrySource.MANUAL, payee=council, payment_key=key, user_id=user.id,
                description=f"Excess balance returned to {council}",
            )
    except IntegrityError:  # posted under this key by another transaction meanwhile
        existing = _entry_with_key(key)
        if existing is None:
            raise
        return existing


def decline(review: ExcessBalanceReview, user: User, version: int, note: str) -> ExcessBalanceReview:
    """Decline the proposed reclaim with a note: the money stays (KEPT)."""
    if not may_decide(user, review):
        raise NotAllowed("Only an officer of the council that funds the person decides a reclaim.")
    note = (note or "").strip()
    if not note:
        raise ReviewError([("decision_note", "Say why the money can stay")])
    if len(note) > NOTE_LENGTH:
        raise ReviewError([("decision_note", f"The note must be {NOTE_LENGTH} characters or fewer")])
    if review.status == ReviewStatus.RECLAIMED:
        raise AlreadyApproved()
    if version != review.version or review.status != ReviewStatus.PROPOSED:
        raise StaleReview()
    if not _claim(review, version, ReviewStatus.PROPOSED, status=ReviewStatus.KEPT, decided_by_id=user.id,
                  decided_at=utcnow(), decision_note=note):
        _refused_claim(review)
    db.session.refresh(review)
    _tell_the_proposer(review, user, approved=False)
    return review


def reclaim_message(review: ExcessBalanceReview, entry: LedgerEntry, *, own: bool) -> str:
    """The plain-English notice: how much, when, why, and how to challenge it."""
    from portal.services.contacts import contacts_for

    recipient = recipient_of(review)
    whose = "your" if own else f"{recipient.person.full_name}'s"
    contacts = contacts_for(recipient)
    worker = next((c for c in contacts if c.role == "Your support worker"), None)
    who = f"{worker.name} at {worker.organisation} or " if worker else ""
    return (
        f"{_pounds(-entry.amount_pence)} of {whose} direct payment was returned to {recipient.council.name} "
        f"on {_long_date(entry.entry_date)} because {because(review, short=True)}. If you disagree, contact "
        f"{who}{recipient.council.name}."
    )


def _tell_the_person(review: ExcessBalanceReview, entry: LedgerEntry) -> None:
    from portal.services.vacancies import recipient_side_users

    recipient_id = review.account.recipient_id
    users = recipient_side_users(recipient_id)
    link = f"/people/{recipient_id}/money"
    key = f"excess-review:{review.id}:reclaimed"
    own = [u for u in users if u.person_id == recipient_id]
    others = [u for u in users if u.person_id != recipient_id]
    if own:
        notifications.notify(own, key, reclaim_message(review, entry, own=True), link)
    if others:
        notifications.notify(others, key, reclaim_message(review, entry, own=False), link)


def _tell_the_proposer(review: ExcessBalanceReview, user: User, *, approved: bool) -> None:
    proposer = db.session.get(User, review.proposed_by_id) if review.proposed_by_id else None
    if proposer is None or proposer.id == user.id:
        return
    name = recipient_of(review).person.full_name
    words = (f"{user.display_name} approved returning {_pounds(review.proposed_pence)} of {name}'s direct payment "
             "to the council. It has been taken from the account." if approved else
             f"{user.display_name} declined returning {_pounds(review.proposed_pence)} of {name}'s direct payment: "
             "the money stays.")
    notifications.notify([proposer], f"excess-review:{review.id}:{'approved' if approved else 'declined'}", words,
                         review_path(review))
