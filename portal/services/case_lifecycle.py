"""A case's life at its DPSS: set-up from the council's decision to the first payment, reassigning,
closing, and moving a person to another provider or council.

Nothing about a person is copied when they move: their money, timesheets, notes and documents stay
keyed to them. Access follows the caseload entry (provider, caseworker) and the recipient's council,
so from the move the old provider or council no longer sees the person and the new one does; the move
itself is kept as a CaseMove row for the history. Notes keep their author's organisation.

A closed case stays on its provider's list (their records are theirs to keep) but leaves the work queues.

The views check the role (who may do it); these functions check the rules (whether it may be done).
"""

import statistics
from dataclasses import dataclass, field
from datetime import date, timedelta

import sqlalchemy as sa

from portal.extensions import db
from portal.models import CaseloadEntry, EntryKind, LedgerEntry, Organisation, OrganisationKind, Recipient, Role, User
from portal.models.budgets import DPAccount
from portal.models.case_lifecycle import CaseMove, CaseSetup, ClosureReason
from portal.services import notifications
from portal.services.refusals import Refused

NOTE_LENGTH = 1000

# The set-up steps in the order they happen, with what staff call them.
SETUP_STEPS = (
    ("decided_on", "Council decided on a direct payment"),
    ("agreement_signed_on", "Direct payment agreement signed"),
    ("account_opened_on", "Account or card opened"),
    ("first_payment_on", "First payment made"),
)


class CaseLifecycleError(Refused):
    """A change to a case's set-up, caseworker, closing or move refused."""


def reference(person_id: int) -> str:
    """The case reference staff quote on the phone: DP and six digits."""
    return f"DP{person_id:06d}"


def person_id_from_reference(text: str) -> int | None:
    """The person id in a typed reference ("DP000123", "dp123", "123"), or None if it is not one."""
    text = text.strip().upper().replace(" ", "")
    if text.startswith("DP"):
        text = text[2:]
    return int(text) if text.isdigit() and len(text) <= 9 else None


# What the case page and the lifecycle page show -----------------------------------------------


@dataclass(frozen=True)
class SetupStep:
    key: str
    label: str
    done_on: date | None


@dataclass
class Lifecycle:
    entry: CaseloadEntry | None
    setup: CaseSetup | None
    steps: list[SetupStep] = field(default_factory=list)
    moves: list[CaseMove] = field(default_factory=list)

    @property
    def closed(self) -> bool:
        return self.entry is not None and self.entry.closed_on is not None

    @property
    def setup_complete(self) -> bool:
        return bool(self.steps) and all(step.done_on for step in self.steps)

    @property
    def next_step(self) -> SetupStep | None:
        return next((step for step in self.steps if step.done_on is None), None)


def summary(recipient_id: int) -> Lifecycle:
    """The person's caseload entry, set-up steps and moves (three queries)."""
    entry = db.session.scalar(sa.select(CaseloadEntry).where(CaseloadEntry.recipient_id == recipient_id))
    setup = db.session.get(CaseSetup, recipient_id)
    moves = db.session.scalars(
        sa.select(CaseMove).where(CaseMove.recipient_id == recipient_id).order_by(CaseMove.moved_on.desc(), CaseMove.id.desc())
    ).all()
    steps = [SetupStep(key, label, getattr(setup, key) if setup else None) for key, label in SETUP_STEPS]
    return Lifecycle(entry=entry, setup=setup, steps=steps, moves=list(moves))


# Set-up -----------------------------------------------------------------------------------------


def record_setup(recipient: Recipient, user: User, dates: dict[str, date | None], today: date) -> CaseSetup:
    """Save the set-up dates. The decision date is needed; each later step is on or after the one
    before it and none is in the future. A step left empty is not done yet (a later one cannot be done)."""
    problems: list[tuple[str, str]] = []
    if dates.get("decided_on") is None:
        problems.append(("decided_on", "Enter the date the council decided on a direct payment"))
    previous: tuple[str, date] | None = None
    missing_before: str | None = None
    for key, label in SETUP_STEPS:
        day = dates.get(key)
        if day is None:
            missing_before = missing_before or label
            continue
        if day > today:
            problems.append((key, f"The date for “{label.lower()}” must be today or in the past"))
        elif missing_before and key != "decided_on":
            problems.append((key, f"Enter the date for “{missing_before.lower()}” first"))
        elif previous and day < previous[1]:
            problems.append((key, f"The date for “{label.lower()}” must be on or after the date for “{previous[0].lower()}”"))
        previous = (label, day)
    if problems:
        raise CaseLifecycleError(problems)
    setup = db.session.get(CaseSetup, recipient.person_id)
    if setup is None:
        provider_id = db.session.scalar(sa.select(CaseloadEntry.provider_id).where(CaseloadEntry.recipient_id == recipient.person_id))
        setup = CaseSetup(recipient_id=recipient.person_id, provider_id=provider_id)
        db.session.add(setup)
    for key, _ in SETUP_STEPS:
        setattr(setup, key, dates.get(key))
    setup.updated_by_id = user.id
    db.session.flush()
    _refresh_due_dates([recipient.person_id])
    return setup


def note_first_payments(recipient_ids: list[int] | None = None) -> int:
    """Fill "account opened" and "first payment made" from the records for set-ups that do not have them
    yet (the payment run calls this after posting, so the steps are never typed in twice). Returns how
    many first payments were filled."""
    opened = sa.select(sa.func.min(DPAccount.opened_on)).where(DPAccount.recipient_id == CaseSetup.recipient_id).scalar_subquery()
    fill_opened = (
        sa.update(CaseSetup)
        .where(CaseSetup.account_opened_on.is_(None), opened.is_not(None))
        .values(account_opened_on=opened)
        .execution_options(synchronize_session=False)
    )
    if recipient_ids is not None:
        fill_opened = fill_opened.where(CaseSetup.recipient_id.in_(recipient_ids))
    db.session.execute(fill_opened)
    first_payment = (
        sa.select(sa.func.min(LedgerEntry.entry_date))
        .join(DPAccount, DPAccount.id == LedgerEntry.account_id)
        .where(DPAccount.recipient_id == CaseSetup.recipient_id, LedgerEntry.kind == EntryKind.COUNCIL_PAYMENT)
        .scalar_subquery()
    )
    statement = (
        sa.update(CaseSetup)
        .where(CaseSetup.first_payment_on.is_(None), first_payment.is_not(None))
        .values(first_payment_on=first_payment)
        .execution_options(synchronize_session=False)
    )
    if recipient_ids is not None:
        statement = statement.where(CaseSetup.recipient_id.in_(recipient_ids))
    filled = db.session.execute(statement).rowcount or 0
    _refresh_due_dates(recipient_ids)
    return filled


def _refresh_due_dates(recipient_ids: list[int] | None) -> None:
    from portal.services.audits import refresh_due_dates  # audits reads the set-up: imported when used

    refresh_due_dates(recipient_ids)


def backfill_setups() -> int:
    """A set-up row for every case that has none (demo and generated data), from its records: the day
    it joined the caseload stands in for the decision. The same as migration 0010 does."""
    missing = sa.select(CaseloadEntry.recipient_id, CaseloadEntry.provider_id, CaseloadEntry.start_date).where(
        ~sa.exists().where(CaseSetup.recipient_id == CaseloadEntry.recipient_id)
    )
    opened = (
        sa.select(sa.func.min(DPAccount.opened_on)).where(DPAccount.recipient_id == CaseloadEntry.recipient_id).scalar_subquery()
    )
    rows = db.session.execute(missing.add_columns(opened)).all()
    if not rows:
        return 0
    db.session.execute(
        sa.insert(CaseSetup),
        [{"recipient_id": r[0], "provider_id": r[1], "decided_on": r[2], "account_opened_on": r[3]} for r in rows],
    )
    note_first_payments([r[0] for r in rows] if len(rows) < 500 else None)
    return len(rows)


# Reassigning, closing, moving ------------------------------------------------------------------


def caseworkers_of(organisation_id: int) -> list[User]:
    """Staff of a DPSS who can hold cases, by name (managers hold cases too)."""
    return list(
        db.session.scalars(
            sa.select(User)
            .where(
                User.organisation_id == organisation_id,
                User.role.in_([Role.DPSS_CASEWORKER, Role.DPSS_MANAGER]),
                User.disabled_at.is_(None),
            )
            .order_by(User.display_name, User.id)
        )
    )


def reassign(manager: User, recipient_ids: list[int], caseworker_id: int) -> int:
    """Give the manager's cases among recipient_ids to one caseworker of the same organisation.
    Cases of other organisations are left alone (the page only offers the manager's own)."""
    worker = db.session.get(User, caseworker_id)
    if worker is None or worker.organisation_id != manager.organisation_id or worker not in caseworkers_of(manager.organisation_id):
        raise CaseLifecycleError([("caseworker", "Select a caseworker from your organisation")])
    if not recipient_ids:
        raise CaseLifecycleError([("people", "Select at least one person to reassign")])
    changed = db.session.execute(
        sa.update(CaseloadEntry)
        .where(
            CaseloadEntry.recipient_id.in_(recipient_ids),
            CaseloadEntry.provider_id == manager.organisation_id,
            sa.or_(CaseloadEntry.caseworker_id.is_(None), CaseloadEntry.caseworker_id != worker.id),
        )
        .values(caseworker_id=worker.id)
        .execution_options(synchronize_session=False)
    ).rowcount or 0
    if changed:
        notifications.notify(
            [worker], f"cases-assigned:{worker.id}:{min(recipient_ids)}:{len(recipient_ids)}:{changed}",
            f"{manager.display_name} has given you {changed} {'case' if changed == 1 else 'cases'}.", "/caseload",
        )
    return changed


def close_case(recipient: Recipient, user: User, reason: str, note: str, closed_on: date | None, today: date) -> CaseloadEntry:
    """Close the person's case at this provider, with the reason. A closed case cannot be closed again."""
    entry = db.session.scalar(sa.select(CaseloadEntry).where(CaseloadEntry.recipient_id == recipient.person_id))
    problems: list[tuple[str, str]] = []
    if entry is None:
        raise CaseLifecycleError([("reason", "This person is not on a support service's caseload")])
    if entry.closed_on is not None:
        raise CaseLifecycleError([("reason", f"This case was already closed on {entry.closed_on:%-d %B %Y}")])
    reasons = {r.value for r in ClosureReason}
    note = (note or "").replace("\r\n", "\n").strip()
    if reason not in reasons:
        problems.append(("reason", "Select why the case is closing"))
    elif reason == ClosureReason.OTHER and not note:
        problems.append(("note", "Say why the case is closing"))
    if len(note) > NOTE_LENGTH:
        problems.append(("note", f"The note must be {NOTE_LENGTH:,} characters or fewer"))
    if closed_on is None:
        problems.append(("closed_on", "Enter the date the case closed"))
    elif closed_on > today:
        problems.append(("closed_on", "The date the case closed must be today or in the past"))
    elif closed_on < entry.start_date:
        problems.append(("closed_on", f"The date the case closed must be on or after {entry.start_date:%-d %B %Y}, when it started here"))
    if problems:
        raise CaseLifecycleError(problems)
    # A conditional update, so two people closing at once close it once.
    closed = db.session.execute(
        sa.update(CaseloadEntry)
        .where(CaseloadEntry.id == entry.id, CaseloadEntry.closed_on.is_(None))
        .values(closed_on=closed_on, closed_reason=reason, closed_note=note)
        .execution_options(synchronize_session=False)
    ).rowcount
    if not closed:
        raise CaseLifecycleError([("reason", "This case has just been closed by someone else")])
    db.session.refresh(entry)
    return entry


def reopen_case(recipient: Recipient) -> bool:
    """Open a closed case again (a mistake, or the person came back). Returns whether it changed."""
    return bool(
        db.session.execute(
            sa.update(CaseloadEntry)
            .where(CaseloadEntry.recipient_id == recipient.person_id, CaseloadEntry.closed_on.is_not(None))
            .values(closed_on=None, closed_reason="", closed_note="")
            .execution_options(synchronize_session=False)
        ).rowcount
    )


def providers() -> list[Organisation]:
    return list(db.session.scalars(sa.select(Organisation).where(Organisation.kind == OrganisationKind.DPSS).order_by(Organisation.name)))


def councils() -> list[Organisation]:
    return list(db.session.scalars(sa.select(Organisation).where(Organisation.kind == OrganisationKind.COUNCIL).order_by(Organisation.name)))


def move_case(
    recipient: Recipient, user: User, *, to_provider_id: int | None, to_council_id: int | None,
    moved_on: date | None, reason: str, today: date,
) -> CaseMove:
    """Move the person to another provider and/or council from today or a past date.

    DPSS managers move a person to another provider; council officers also to another council. From
    the move, the old organisation's staff no longer see the person and the new one's do: the new
    provider's managers are told so they can give the case to a caseworker. A managed account moves
    with the person to the new provider.
    """
    entry = db.session.scalar(sa.select(CaseloadEntry).where(CaseloadEntry.recipient_id == recipient.person_id))
    reason = (reason or "").replace("\r\n", "\n").strip()
    problems: list[tuple[str, str]] = []
    from_provider = entry.provider_id if entry else None
    new_provider = to_provider_id or from_provider
    new_council = to_council_id or recipient.council_id
    if to_provider_id is not None:
        target = db.session.get(Organisation, to_provider_id)
        if target is None or target.kind != OrganisationKind.DPSS:
            problems.append(("to_provider", "Select a support service from the list"))
    if to_council_id is not None:
        if user.role != Role.COUNCIL_OFFICER:
            problems.append(("to_council", "Only the council can move a person to another council"))
        else:
            target = db.session.get(Organisation, to_council_id)
            if target is None or target.kind != OrganisationKind.COUNCIL:
                problems.append(("to_council", "Select a council from the list"))
    if not problems and new_provider == from_provider and new_council == recipient.council_id:
        problems.append(("to_provider", "Select a different support service or council"))
    if entry is None and to_provider_id is None and not problems:
        problems.append(("to_provider", "Select the support service the person is moving to"))
    if entry is not None and entry.closed_on is not None:
        problems.append(("to_provider", "This case is closed: open it again before moving it"))
    if moved_on is None:
        problems.append(("moved_on", "Enter the date of the move"))
    elif moved_on > today:
        problems.append(("moved_on", "The date of the move must be today or in the past: record the move on the day it happens"))
    elif entry is not None and moved_on < entry.start_date:
        problems.append(("moved_on", f"The date of the move must be on or after {entry.start_date:%-d %B %Y}, when the case started here"))
    if not reason:
        problems.append(("reason", "Say why the person is moving"))
    elif len(reason) > NOTE_LENGTH:
        problems.append(("reason", f"The reason must be {NOTE_LENGTH:,} characters or fewer"))
    if problems:
        raise CaseLifecycleError(problems)

    move = CaseMove(
        recipient_id=recipient.person_id, moved_on=moved_on, from_provider_id=from_provider, to_provider_id=new_provider,
        from_council_id=recipient.council_id, to_council_id=new_council, reason=reason, moved_by_id=user.id,
    )
    db.session.add(move)
    if new_provider != from_provider:
        if entry is None:
            entry = CaseloadEntry(recipient_id=recipient.person_id, provider_id=new_provider, start_date=moved_on)
            db.session.add(entry)
        else:
            entry.provider_id = new_provider
            entry.caseworker_id = None  # the new provider's manager gives the case to one of theirs
            entry.start_date = moved_on
        db.session.execute(
            sa.update(DPAccount)
            .where(DPAccount.recipient_id == recipient.person_id, DPAccount.managed_by_id == from_provider)
            .values(managed_by_id=new_provider)
            .execution_options(synchronize_session=False)
        )
        managers = db.session.scalars(
            sa.select(User).where(User.organisation_id == new_provider, User.role == Role.DPSS_MANAGER, User.disabled_at.is_(None))
        ).all()
        notifications.notify(
            managers, f"case-moved-in:{recipient.person_id}:{moved_on.isoformat()}",
            f"{recipient.full_name} has moved to your service. Give the case to a caseworker.",
            f"/people/{recipient.person_id}/case",
        )
    recipient.council_id = new_council
    db.session.flush()
    _refresh_due_dates([recipient.person_id])  # another council may audit more or less often
    return move


# Set-up times for the council ------------------------------------------------------------------


@dataclass(frozen=True)
class SetupTimes:
    provider: str
    completed: int
    median_days: float | None
    p90_days: float | None
    waiting: int
    waiting_longest_days: int | None


def _percentile(values: list[int], fraction: float) -> float | None:
    """The nearest-rank percentile (the value at or below which `fraction` of them fall)."""
    if not values:
        return None
    ordered = sorted(values)
    rank = max(1, -(-len(ordered) * fraction // 1))  # ceil without floats drifting
    return float(ordered[int(rank) - 1])


def setup_times_by_provider(council_id: int, today: date, months: int = 12) -> list[SetupTimes]:
    """For the council's people set up by each provider: how many had their first payment in the last
    `months` months, the median and 90th percentile days from decision to first payment, and how many
    are still waiting (decided, no first payment) with the longest wait so far."""
    since = today - timedelta(days=round(months * 365.25 / 12))
    rows = db.session.execute(
        sa.select(Organisation.name, CaseSetup.decided_on, CaseSetup.first_payment_on)
        .join(Recipient, Recipient.person_id == CaseSetup.recipient_id)
        .join(Organisation, Organisation.id == CaseSetup.provider_id)
        .where(Recipient.council_id == council_id)
        .where(sa.or_(CaseSetup.first_payment_on.is_(None), CaseSetup.first_payment_on >= since))
    ).all()
    by_provider: dict[str, tuple[list[int], list[int]]] = {}
    for name, decided, first in rows:
        done, waiting = by_provider.setdefault(name, ([], []))
        if first is None:
            waiting.append((today - decided).days)
        else:
            done.append((first - decided).days)
    return [
        SetupTimes(
            provider=name, completed=len(done),
            median_days=float(statistics.median(done)) if done else None,
            p90_days=_percentile(done, 0.9), waiting=len(waiting),
            waiting_longest_days=max(waiting) if waiting else None,
        )
        for name, (done, waiting) in sorted(by_provider.items())
    ]
