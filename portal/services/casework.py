"""Case notes and safeguarding concerns: the rules, kept out of the pages.

Case notes are the staff's record of their work with a person: DPSS staff and council officers who may
see the person read and add them (the page loads the person through access.recipient_or_404 first);
recipients, representatives, PAs and administrators never see them. Notes are append-only: the database
refuses UPDATE and DELETE (migration 0007), so a mistake is put right by a further note. Each note keeps
its author's organisation, and a note written by another organisation of the viewer's kind (a previous
provider or council, after a person moves) stays with that organisation.

Anyone signed in may report a safeguarding concern about a person they can see (a PA: a current employer).
The concern is saved and, in the same transaction, notifies the person's DPSS caseworker and managers and
the council officers of the person's council; after the commit the caller emails the council's
safeguarding contact (email_safeguarding_contact), so a rolled-back report sends nothing. Concerns stay
open (in queues) until a DPSS or council member of staff acknowledges them with a short note.

raise_alert is for rule-based alerts: it opens a concern with the rule's name and no reporter, at most
once per person, rule and day. The rules are in services/alert_rules.py (`flask check-alerts`, daily).
"""

from dataclasses import dataclass
from datetime import datetime, time, timedelta

import sqlalchemy as sa
from sqlalchemy.orm import selectinload

from portal.extensions import db
from portal.models import CaseloadEntry, Organisation, Recipient, Role, User
from portal.models.casework import CaseNote, SafeguardingConcern
from portal.services import local_settings, mail, notifications
from portal.services.clock import LONDON, london_today, to_london, utcnow
from portal.services.refusals import Refused

NOTE_LENGTH = 5000
CONCERN_LENGTH = 5000
ACKNOWLEDGEMENT_LENGTH = 500  # the column's length


class CaseworkError(Refused):
    """A note, concern or acknowledgement refused."""


def _is_case_staff(user: User) -> bool:
    return bool(user and user.is_authenticated and (user.role.is_dpss or user.role == Role.COUNCIL_OFFICER))


def _clean(text: str | None) -> str:
    """Trim the text and use one kind of line ending (browsers send CRLF)."""
    return (text or "").replace("\r\n", "\n").replace("\r", "\n").strip()


# Case notes -------------------------------------------------------------------------------------


@dataclass(frozen=True)
class NoteRow:
    note: CaseNote
    author_name: str
    organisation_name: str


def visible_notes(user: User, recipient_id: int) -> sa.Select:
    """The notes on a person this user may read (the caller has loaded the person through the scope).

    Staff read their own organisation's notes and the other side's (a provider reads the council's, a
    council reads the providers'); a note by another organisation of their own kind (a provider or
    council the person has moved from) is not theirs to read. Nobody else reads notes at all."""
    query = sa.select(CaseNote).where(CaseNote.recipient_id == recipient_id)
    if not _is_case_staff(user) or user.organisation_id is None:
        return query.where(sa.false())
    kind = db.session.scalar(sa.select(Organisation.kind).where(Organisation.id == user.organisation_id))
    others_of_my_kind = sa.select(Organisation.id).where(Organisation.kind == kind, Organisation.id != user.organisation_id)
    return query.where(sa.or_(CaseNote.organisation_id.is_(None), CaseNote.organisation_id.not_in(others_of_my_kind)))


def notes_for(user: User, recipient: Recipient, limit: int | None = None) -> list[NoteRow]:
    """The notes this user may read, newest first, with each author's name and organisation."""
    query = (
        visible_notes(user, recipient.person_id)
        .options(selectinload(CaseNote.author))
        .order_by(CaseNote.created_at.desc(), CaseNote.id.desc())
    )
    if limit is not None:
        query = query.limit(limit)
    notes = list(db.session.scalars(query))
    names = dict(db.session.execute(
        sa.select(Organisation.id, Organisation.name).where(Organisation.id.in_({n.organisation_id for n in notes if n.organisation_id}))
    ).all())
    return [NoteRow(n, n.author.display_name, names.get(n.organisation_id, "")) for n in notes]


def count_notes(user: User, recipient: Recipient) -> int:
    return db.session.scalar(
        sa.select(sa.func.count()).select_from(visible_notes(user, recipient.person_id).subquery())
    ) or 0


def add_note(user: User, recipient: Recipient, body: str | None) -> CaseNote:
    """Add a note by this member of staff (the caller has checked they may see the person). Caller commits."""
    if not _is_case_staff(user):
        raise PermissionError("Only DPSS staff and council officers write case notes")
    text = _clean(body)
    if not text:
        raise CaseworkError([("body", "Enter the note")])
    if len(text) > NOTE_LENGTH:
        raise CaseworkError([("body", f"The note must be {NOTE_LENGTH:,} characters or fewer")])
    note = CaseNote(recipient_id=recipient.person_id, author_id=user.id, organisation_id=user.organisation_id, body=text)
    db.session.add(note)
    db.session.flush()
    return note


# Safeguarding concerns ----------------------------------------------------------------------------


def concern_staff(recipient: Recipient) -> list[User]:
    """Who is told of a concern at once: the person's DPSS caseworker and the provider's managers, and the
    council officers of the person's council (active accounts only)."""
    entry = db.session.scalar(sa.select(CaseloadEntry).where(CaseloadEntry.recipient_id == recipient.person_id))
    wanted = sa.and_(User.role == Role.COUNCIL_OFFICER, User.organisation_id == recipient.council_id)
    if entry is not None:
        provider = sa.and_(User.organisation_id == entry.provider_id, User.role.in_([Role.DPSS_MANAGER, Role.DPSS_CASEWORKER]))
        caseworker = User.id == entry.caseworker_id if entry.caseworker_id is not None else sa.false()
        wanted = sa.or_(wanted, sa.and_(provider, sa.or_(User.role == Role.DPSS_MANAGER, caseworker)))
    return list(db.session.scalars(sa.select(User).where(wanted, User.disabled_at.is_(None)).order_by(User.id)))


def safeguarding_email(recipient: Recipient) -> str:
    """The council's safeguarding contact in force today ('' when the council has not set one)."""
    row = local_settings.council_settings_row(recipient.council_id, london_today())
    return (row.safeguarding_email or "").strip() if row is not None else ""


def report_concern(user: User, recipient: Recipient, body: str | None) -> SafeguardingConcern:
    """Save a concern and notify the staff responsible for the person (not the reporter). The caller
    has checked the user may report about this person; it commits, then calls email_safeguarding_contact."""
    text = _clean(body)
    if not text:
        raise CaseworkError([("body", "Describe your concern")])
    if len(text) > CONCERN_LENGTH:
        raise CaseworkError([("body", f"Your concern must be {CONCERN_LENGTH:,} characters or fewer")])
    concern = SafeguardingConcern(recipient_id=recipient.person_id, raised_by_id=user.id, rule="", body=text)
    db.session.add(concern)
    db.session.flush()
    staff = [u for u in concern_staff(recipient) if u.id != user.id]
    notifications.notify(
        staff, f"safeguarding-concern:{concern.id}",
        f"A safeguarding concern about {recipient.full_name} has been reported. Read it and acknowledge it.",
        f"/people/{recipient.person_id}/concerns",
    )
    return concern


def email_safeguarding_contact(config: dict, concern: SafeguardingConcern) -> bool:
    """Email the concern to the council's safeguarding contact, if it has one (after the commit)."""
    recipient = db.session.get(Recipient, concern.recipient_id)
    address = safeguarding_email(recipient)
    if not address:
        return False
    entry = recipient.caseload_entry
    reporter = concern.raised_by
    by = f"{reporter.display_name} ({reporter.role.label}{', ' + reporter.organisation.name if reporter.organisation else ''}), {reporter.email}" \
        if reporter else f"The portal's rule: {concern.rule}"
    link = f"{config.get('PUBLIC_URL', '').rstrip('/')}/people/{recipient.person_id}/concerns"
    body = (
        f"A safeguarding concern has been reported through the direct payments portal.\n\n"
        f"About: {recipient.full_name}, born {recipient.date_of_birth.day} {recipient.date_of_birth:%B %Y}, "
        f"postcode district {recipient.district_code}\n"
        f"Support service: {entry.provider.name if entry else 'none'}"
        f"{' (caseworker ' + entry.caseworker.display_name + ')' if entry and entry.caseworker else ''}\n"
        f"Reported by: {by}\n"
        f"Reported at: {_moment(concern.created_at)}\n\n"
        f"The concern:\n\n{concern.body}\n\n"
        f"Acknowledge it in the portal: {link}\n"
    )
    mail.send(config, address, f"Safeguarding concern: {recipient.full_name}", body)
    return True


def _moment(value: datetime) -> str:
    moment = to_london(value)
    hour = moment.hour % 12 or 12
    return f"{moment.day} {moment:%B %Y} at {hour}:{moment:%M}{'am' if moment.hour < 12 else 'pm'}"


def concerns_for(recipient: Recipient) -> list[SafeguardingConcern]:
    """Every concern about the person: open ones first, then newest first."""
    return list(db.session.scalars(
        sa.select(SafeguardingConcern)
        .where(SafeguardingConcern.recipient_id == recipient.person_id)
        .options(selectinload(SafeguardingConcern.raised_by).selectinload(User.organisation),
                 selectinload(SafeguardingConcern.acknowledged_by).selectinload(User.organisation))
        .order_by(SafeguardingConcern.acknowledged_at.is_not(None), SafeguardingConcern.created_at.desc(),
                  SafeguardingConcern.id.desc())
    ))


def count_open_concerns(recipient_id: int) -> int:
    return db.session.scalar(
        sa.select(sa.func.count()).select_from(SafeguardingConcern)
        .where(SafeguardingConcern.recipient_id == recipient_id, SafeguardingConcern.acknowledged_at.is_(None))
    ) or 0


def concern_of(recipient: Recipient, concern_id: int) -> SafeguardingConcern | None:
    """A concern about this person (None for anyone else's, whatever the id)."""
    return db.session.scalar(sa.select(SafeguardingConcern).where(
        SafeguardingConcern.id == concern_id, SafeguardingConcern.recipient_id == recipient.person_id))


def acknowledge(user: User, concern: SafeguardingConcern, note: str | None) -> bool:
    """Acknowledge an open concern with a short note. False (and nothing changes) when it was already
    acknowledged: a double click or two people at once acknowledge it once. Caller commits."""
    if not _is_case_staff(user):
        raise PermissionError("Only DPSS staff and council officers acknowledge concerns")
    text = _clean(note)
    if not text:
        raise CaseworkError([("note", "Enter what you have done or will do")])
    if len(text) > ACKNOWLEDGEMENT_LENGTH:
        raise CaseworkError([("note", f"The note must be {ACKNOWLEDGEMENT_LENGTH} characters or fewer")])
    changed = db.session.execute(
        sa.update(SafeguardingConcern)
        .where(SafeguardingConcern.id == concern.id, SafeguardingConcern.acknowledged_at.is_(None))
        .values(acknowledged_at=utcnow(), acknowledged_by_id=user.id, acknowledgement=text)
        .execution_options(synchronize_session=False)
    ).rowcount
    db.session.refresh(concern)
    return changed == 1


# Rule-based alerts ------------------------------------------------------------------------------------


def _london_day_bounds(now: datetime) -> tuple[datetime, datetime]:
    day = to_london(now).date()
    start = datetime.combine(day, time(0), tzinfo=LONDON)
    end = datetime.combine(day + timedelta(days=1), time(0), tzinfo=LONDON)
    return start.astimezone(now.tzinfo), end.astimezone(now.tzinfo)


def raise_alert(recipient_id: int, rule: str, body: str) -> tuple[SafeguardingConcern, bool]:
    """Open a concern for a rule-based alert (no reporter), once per person, rule and London day.
    Returns (concern, created). It only creates a queue item: no one is notified and nothing is done
    automatically. Caller commits. (Two processes at the same moment could both create one: no unique
    index backs the day rule.)"""
    rule = (rule or "").strip()
    if not rule or len(rule) > 60:
        raise ValueError("A rule name of 1 to 60 characters is needed")
    text = _clean(body)
    if not text:
        raise ValueError("An alert needs a body")
    now = utcnow()
    start, end = _london_day_bounds(now)
    existing = db.session.scalar(
        sa.select(SafeguardingConcern).where(
            SafeguardingConcern.recipient_id == recipient_id, SafeguardingConcern.rule == rule,
            SafeguardingConcern.created_at >= start, SafeguardingConcern.created_at < end,
        ).order_by(SafeguardingConcern.id).limit(1)
    )
    if existing is not None:
        return existing, False
    concern = SafeguardingConcern(recipient_id=recipient_id, raised_by_id=None, rule=rule, body=text[:CONCERN_LENGTH], created_at=now)
    db.session.add(concern)
    db.session.flush()
    return concern, True
