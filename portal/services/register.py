"""The PA's register profile and its checks.

Listing is the PA's choice and takes effect at once: every page that shows profiles to others starts
from access.listed_profiles(), so a hidden profile is gone from search, matches and counts the moment
the row changes. Deleting a profile removes it and everything hanging off it (checks, documents,
photo, activity, contacts), not a flag.

Checks are verified by DPSS staff only, and the verifier recorded is always the staff member's own
organisation, never a value from a form.
"""

import logging
import re
from dataclasses import dataclass, field
from datetime import date, timedelta

import sqlalchemy as sa

from portal.extensions import db
from portal.models import Organisation, OrganisationKind, Person, Role, User
from portal.models.register import (
    CheckKind,
    ContactRequest,
    DBSLevel,
    Gender,
    PAProfile,
    ProfileActivity,
    ProfileCheck,
    ProfileDistrict,
    ProfileView,
    VerificationRequest,
)
from portal.services import notifications
from portal.services.clock import london_today, utcnow
from portal.services.contact_details import photo_problem, problems_in_text
from portal.services.evidence import Cleaned, UploadRefused
from portal.services.register_options import CHECK_LABELS, CHECK_ORDER, check_kind_bit
from portal.storage import Storage

log = logging.getLogger(__name__)

DISTRICT = re.compile(r"^[A-Z]{1,2}[0-9][0-9A-Z]?$")
MAX_DISTRICTS = 30
ABOUT_LENGTH = 1000
MAX_RATE_PENCE = 100 * 100
MAX_HOURS = 60
EXPIRY_REMINDER_DAYS = 30
PROFILE_VIEWS_PER_DAY = 200  # opening more profiles than this in a day looks like scraping


class RegisterError(ValueError):
    """Answers that cannot be saved: (field name, message) pairs for the form."""

    def __init__(self, problems: list[tuple[str, str]]):
        super().__init__("; ".join(message for _, message in problems))
        self.problems = problems


def parse_districts(text: str | None) -> list[str]:
    """'nf1, NF2 nf3' -> ['NF1', 'NF2', 'NF3'] (an outward code each), or RegisterError."""
    codes = []
    for part in re.split(r"[\s,;]+", (text or "").upper()):
        if not part:
            continue
        if not DISTRICT.match(part):
            raise RegisterError([("districts", f"‘{part[:10]}’ is not a postcode district. Enter the first part of a postcode, like NF3")])
        if part not in codes:
            codes.append(part)
    return codes


# Profiles ---------------------------------------------------------------------------------------


@dataclass
class ProfileInput:
    districts: list[str]
    drives: bool
    availability: int
    support_offered: int
    experience: int
    languages: int
    gender: Gender
    hours_wanted: int | None
    rate_pence: int | None
    about: str = ""


def profile_of(person_id: int | None) -> PAProfile | None:
    if person_id is None:
        return None
    return db.session.scalar(sa.select(PAProfile).where(PAProfile.person_id == person_id))


def _checked(data: ProfileInput) -> list[tuple[str, str]]:
    problems = []
    if not data.districts:
        problems.append(("districts", "Enter at least one postcode district you can work in, like NF3"))
    elif len(data.districts) > MAX_DISTRICTS:
        problems.append(("districts", f"Enter {MAX_DISTRICTS} postcode districts or fewer"))
    if data.rate_pence is None:
        problems.append(("rate", "Enter the hourly rate you are looking for, like 13.50"))
    elif not 0 < data.rate_pence <= MAX_RATE_PENCE:
        problems.append(("rate", "Enter an hourly rate between £0.01 and £100"))
    if data.hours_wanted is None:
        problems.append(("hours_wanted", "Enter how many hours a week you would like to work, like 20"))
    elif not 0 <= data.hours_wanted <= MAX_HOURS:
        problems.append(("hours_wanted", f"Enter a number of hours from 0 to {MAX_HOURS}"))
    if len(data.about or "") > ABOUT_LENGTH:
        problems.append(("about", f"‘About me’ must be {ABOUT_LENGTH} characters or fewer"))
    problems += [("about", message) for message in problems_in_text(data.about)]
    return problems


def save_profile(person: Person, data: ProfileInput) -> PAProfile:
    """Create or update the PA's profile (not listed until they choose). Caller commits."""
    problems = _checked(data)
    if problems:
        raise RegisterError(problems)
    profile = profile_of(person.id)
    if profile is None:
        profile = PAProfile(person_id=person.id, listed=False, rate_pence=data.rate_pence)
        db.session.add(profile)
    for name in ("drives", "availability", "support_offered", "experience", "languages", "gender", "hours_wanted", "rate_pence"):
        setattr(profile, name, getattr(data, name))
    profile.about = (data.about or "").strip()
    wanted = set(data.districts)
    profile.districts = [d for d in profile.districts if d.district_code in wanted] + [
        ProfileDistrict(district_code=code) for code in data.districts if code not in profile.district_codes
    ]
    profile.updated_at = profile.last_active_at = utcnow()
    db.session.flush()
    return profile


def set_listed(profile: PAProfile, listed: bool) -> None:
    """List or hide at once (one UPDATE, so no page can see a half-hidden profile). Caller commits."""
    db.session.execute(sa.update(PAProfile).where(PAProfile.id == profile.id).values(listed=listed, last_active_at=utcnow()))
    db.session.refresh(profile, ["listed", "last_active_at"])


def touch(profile: PAProfile) -> None:
    """The PA was active (for ranking by recency of activity)."""
    profile.last_active_at = utcnow()


def delete_profile(profile: PAProfile, storage: Storage | None = None) -> None:
    """Delete the profile and everything that hangs off it, then its files. Commits."""
    storage = storage or Storage.from_config()
    files = [profile.photo_name] + [check.document_name for check in profile.checks]
    profile_id = profile.id
    # Rows that point at the profile go first, by statement, so both databases agree without relying on
    # ON DELETE (SQLite's batch-made tables and PostgreSQL's behave the same this way).
    from portal.models.register import ContactBlock, ContactMessage, VacancyInterest

    contact_ids = sa.select(ContactRequest.id).where(ContactRequest.profile_id == profile_id)
    db.session.execute(sa.delete(ContactMessage).where(ContactMessage.contact_id.in_(contact_ids)))
    from portal.models.register import RegisterConcern

    db.session.execute(sa.update(RegisterConcern).where(RegisterConcern.contact_id.in_(contact_ids)).values(contact_id=None))
    db.session.execute(sa.delete(ContactRequest).where(ContactRequest.profile_id == profile_id))
    db.session.execute(sa.delete(ContactBlock).where(ContactBlock.profile_id == profile_id))
    db.session.execute(sa.delete(VacancyInterest).where(VacancyInterest.profile_id == profile_id))
    db.session.execute(sa.delete(ProfileActivity).where(ProfileActivity.profile_id == profile_id))
    db.session.execute(sa.delete(ProfileView).where(ProfileView.profile_id == profile_id))
    check_ids = sa.select(ProfileCheck.id).where(ProfileCheck.profile_id == profile_id)
    db.session.execute(sa.delete(VerificationRequest).where(VerificationRequest.check_id.in_(check_ids)))
    db.session.execute(sa.delete(ProfileCheck).where(ProfileCheck.profile_id == profile_id))
    db.session.execute(sa.delete(ProfileDistrict).where(ProfileDistrict.profile_id == profile_id))
    db.session.expunge(profile)
    db.session.execute(sa.delete(PAProfile).where(PAProfile.id == profile_id))
    db.session.commit()
    for name in files:
        if name:
            storage.delete(name)


def set_photo(profile: PAProfile, cleaned: Cleaned, storage: Storage | None = None) -> None:
    """Store a checked photo (images only, no contact details in it) in place of any old one. Commits."""
    if cleaned.extension not in ("jpg", "png"):
        raise UploadRefused("The photo must be a JPG or PNG")
    problem = photo_problem(cleaned.data)
    if problem:
        raise UploadRefused(problem)
    storage = storage or Storage.from_config()
    old = profile.photo_name
    name = storage.save(cleaned.data, cleaned.extension)
    try:
        profile.photo_name = name
        touch(profile)
        db.session.commit()
    except BaseException:
        db.session.rollback()
        storage.delete(name)
        raise
    if old:
        # The new photo is committed: an old file that cannot go now (a read-only folder) is left as an orphan for
        # flask remove-orphan-files, never reported as a failed upload.
        try:
            storage.delete(old)
        except OSError as error:
            log.warning("The old photo %s could not be removed: %s", old, error)


def remove_photo(profile: PAProfile, storage: Storage | None = None) -> None:
    storage = storage or Storage.from_config()
    old = profile.photo_name
    profile.photo_name = None
    db.session.commit()
    if old:
        storage.delete(old)


# Activity: counts for the PA, never names --------------------------------------------------------


def _bump(profile_id: int, column: str) -> None:
    today = london_today()
    updated = db.session.execute(
        sa.update(ProfileActivity).where(ProfileActivity.profile_id == profile_id, ProfileActivity.day == today)
        .values({column: getattr(ProfileActivity, column) + 1})
    ).rowcount
    if not updated:
        row = ProfileActivity(profile_id=profile_id, day=today, views=0, contacts=0)
        setattr(row, column, 1)
        db.session.add(row)
        db.session.flush()


def views_today(user: User) -> int:
    since = utcnow() - timedelta(days=1)
    return db.session.scalar(
        sa.select(sa.func.count()).select_from(ProfileView).where(ProfileView.user_id == user.id, ProfileView.at > since)
    )


def record_view(profile: PAProfile, user: User) -> bool:
    """Count a view of a listed profile by someone else. False when the user has opened too many today."""
    if user.person_id is not None and user.person_id == profile.person_id:
        return True
    if views_today(user) >= PROFILE_VIEWS_PER_DAY:
        return False
    db.session.add(ProfileView(user_id=user.id, profile_id=profile.id))
    _bump(profile.id, "views")
    return True


def record_contact(profile_id: int) -> None:
    _bump(profile_id, "contacts")


@dataclass(frozen=True)
class Activity:
    views: int
    contacts: int
    days: int


def activity(profile: PAProfile, days: int = 30) -> Activity:
    since = london_today() - timedelta(days=days - 1)
    views, contacts = db.session.execute(
        sa.select(sa.func.coalesce(sa.func.sum(ProfileActivity.views), 0), sa.func.coalesce(sa.func.sum(ProfileActivity.contacts), 0))
        .where(ProfileActivity.profile_id == profile.id, ProfileActivity.day >= since)
    ).one()
    return Activity(int(views), int(contacts), days)


def forget_old_views(before_days: int = 2) -> int:
    """The per-user view log is only for rate limits: drop it after a day or two."""
    cutoff = utcnow() - timedelta(days=before_days)
    return db.session.execute(sa.delete(ProfileView).where(ProfileView.at < cutoff)).rowcount or 0


# Checks -----------------------------------------------------------------------------------------


@dataclass
class CheckInput:
    kind: CheckKind
    dbs_level: DBSLevel | None = None
    update_service: bool = False
    detail: str = ""
    issued_on: date | None = None
    expires_on: date | None = None
    problems: list[tuple[str, str]] = field(default_factory=list)


def _checked_check(data: CheckInput, today: date) -> list[tuple[str, str]]:
    problems = list(data.problems)
    if data.kind == CheckKind.DBS and data.dbs_level is None:
        problems.append(("dbs_level", "Select the level of the DBS check"))
    if data.kind == CheckKind.REFERENCE and not data.detail.strip():
        problems.append(("detail", "Enter who the reference is from and how they know you, like ‘Mary Jones, former employer’"))
    if data.issued_on and data.issued_on > today:
        problems.append(("issued_on", "The date it was issued must be today or in the past"))
    if data.issued_on and data.expires_on and data.expires_on <= data.issued_on:
        problems.append(("expires_on", "The expiry date must be after the date it was issued"))
    if len(data.detail) > 200:
        problems.append(("detail", "Details must be 200 characters or fewer"))
    problems += [("detail", message) for message in problems_in_text(data.detail)]
    return problems


def add_check(profile: PAProfile, data: CheckInput, document: Cleaned | None = None,
              storage: Storage | None = None) -> ProfileCheck:
    """Add a check (unverified) with its document if given. Commits; a failed write leaves no file."""
    problems = _checked_check(data, london_today())
    if problems:
        raise RegisterError(problems)
    storage = storage or Storage.from_config()
    name = storage.save(document.data, document.extension) if document else None
    try:
        check = ProfileCheck(
            profile_id=profile.id, kind=data.kind, dbs_level=data.dbs_level if data.kind == CheckKind.DBS else None,
            update_service=data.update_service if data.kind == CheckKind.DBS else False, detail=data.detail.strip(),
            issued_on=data.issued_on, expires_on=data.expires_on, document_name=name,
            document_display_name=document.display_name if document else "",
            document_type=document.content_type if document else "",
        )
        db.session.add(check)
        touch(profile)
        db.session.commit()
    except BaseException:
        db.session.rollback()
        if name:
            storage.delete(name)
        raise
    return check


def delete_check(check: ProfileCheck, storage: Storage | None = None) -> None:
    storage = storage or Storage.from_config()
    name = check.document_name
    profile = db.session.get(PAProfile, check.profile_id)
    db.session.delete(check)
    db.session.flush()
    refresh_verified_kinds(profile)
    db.session.commit()
    if name:
        storage.delete(name)


def dpss_providers() -> list[Organisation]:
    return list(db.session.scalars(
        sa.select(Organisation).where(Organisation.kind == OrganisationKind.DPSS).order_by(Organisation.name)
    ))


def request_verification(check: ProfileCheck, provider_id: int) -> VerificationRequest:
    """Ask a DPSS to verify the check (asking twice is the same request). Caller commits."""
    provider = db.session.get(Organisation, provider_id)
    if provider is None or provider.kind != OrganisationKind.DPSS:
        raise RegisterError([("provider", "Select the support service you want to check this")])
    existing = db.session.scalar(sa.select(VerificationRequest).where(
        VerificationRequest.check_id == check.id, VerificationRequest.provider_id == provider.id))
    if existing is not None and existing.answered_at is None:
        return existing
    if existing is not None:  # asked again after an answer: a fresh request
        existing.answered_at = None
        existing.verified = None
        existing.answer_note = ""
        existing.requested_at = utcnow()
        request = existing
    else:
        request = VerificationRequest(check_id=check.id, provider_id=provider.id)
        db.session.add(request)
    db.session.flush()
    staff = db.session.scalars(sa.select(User).where(
        User.organisation_id == provider.id, User.role.in_((Role.DPSS_CASEWORKER, Role.DPSS_MANAGER)),
        User.disabled_at.is_(None))).all()
    notifications.notify(staff, f"register-check:{check.id}:asked:{request.id}:{request.requested_at:%Y%m%d%H%M%S}",
                         f"A PA asked {provider.name} to verify their {in_sentence(CHECK_LABELS[check.kind.value])}.",
                         f"/register/verifications/{request.id}")
    return request


def answer_verification(request: VerificationRequest, user: User, verified: bool, note: str = "") -> bool:
    """A DPSS staff member verifies (or cannot verify) a check their organisation was asked about.

    Returns False when the request was already answered (a second click or a colleague first)."""
    if not user.role.is_dpss or user.organisation_id != request.provider_id:
        raise PermissionError("Only staff of the support service that was asked may answer")
    now = utcnow()
    claimed = db.session.execute(
        sa.update(VerificationRequest).where(VerificationRequest.id == request.id, VerificationRequest.answered_at.is_(None))
        .values(answered_at=now, verified=verified, answer_note=(note or "")[:300])
    ).rowcount
    if not claimed:
        return False
    db.session.refresh(request)
    check = request.check
    if verified:
        check.verified_by_id = user.organisation_id  # the staff member's own organisation, always
        check.verified_by_user_id = user.id
        check.verified_on = london_today()
    profile = db.session.get(PAProfile, check.profile_id)
    refresh_verified_kinds(profile)
    pa_user = db.session.scalar(sa.select(User).where(User.person_id == profile.person_id))
    label = CHECK_LABELS[check.kind.value]
    message = (f"{request.provider.name} verified your {in_sentence(label)}." if verified
               else f"{request.provider.name} could not verify your {in_sentence(label)}" + (f": {note}" if note else "."))
    notifications.notify([pa_user], f"register-check:{check.id}:answered:{request.id}:{int(now.timestamp())}", message,
                         "/register/profile")
    return True


def in_sentence(label: str) -> str:
    """'First aid' -> 'first aid' inside a sentence; 'DBS check' keeps its capitals."""
    return label if label[:2].isupper() else label[:1].lower() + label[1:]


class CheckState:
    VERIFIED = "verified"
    EXPIRING = "expiring"
    EXPIRED = "expired"
    WAITING = "waiting"
    NOT_VERIFIED = "not verified"


def check_state(check: ProfileCheck, today: date | None = None) -> str:
    today = today or london_today()
    if check.expires_on is not None and check.expires_on < today:
        return CheckState.EXPIRED
    if check.verified_by_id is not None:
        if check.expires_on is not None and check.expires_on <= today + timedelta(days=EXPIRY_REMINDER_DAYS):
            return CheckState.EXPIRING
        return CheckState.VERIFIED
    if any(r.answered_at is None for r in check.requests):
        return CheckState.WAITING
    return CheckState.NOT_VERIFIED


def is_current_and_verified(check: ProfileCheck, today: date) -> bool:
    return check.verified_by_id is not None and (check.expires_on is None or check.expires_on >= today)


def refresh_verified_kinds(profile: PAProfile, today: date | None = None) -> None:
    """Recompute the profile's verified-kinds bits from its checks (references count when both are verified)."""
    today = today or london_today()
    checks = db.session.scalars(sa.select(ProfileCheck).where(ProfileCheck.profile_id == profile.id)).all()
    mask = 0
    references = 0
    for check in checks:
        if not is_current_and_verified(check, today):
            continue
        if check.kind == CheckKind.REFERENCE:
            references += 1
        else:
            mask |= check_kind_bit(check.kind.value)
    if references >= 2:
        mask |= check_kind_bit(CheckKind.REFERENCE.value)
    profile.verified_kinds = mask


def verifiers(profile: PAProfile, today: date | None = None) -> list[tuple[str, str, date]]:
    """(check label, organisation, date) for each current verified check: what the profile shows."""
    today = today or london_today()
    return [
        (CHECK_LABELS[c.kind.value], c.verified_by.name, c.verified_on)
        for c in profile.checks if is_current_and_verified(c, today)
    ]


def lapse_and_remind(today: date) -> tuple[int, int]:
    """Daily: drop lapsed checks from profiles' verified bits, and remind PAs of checks expiring soon.

    Returns (profiles refreshed, reminders added). Each reminder is sent once per check and expiry date."""
    # Profiles still counting a kind of check that has a lapsed verified check (however long ago the job
    # last ran): each is recomputed from its checks, which keeps the bit only if another check is current.
    still_counted = sa.or_(*(sa.and_(ProfileCheck.kind == kind, PAProfile.verified_kinds.op("&")(check_kind_bit(kind.value)) != 0)
                             for kind in CheckKind))
    lapsed_profiles = db.session.scalars(
        sa.select(PAProfile).where(PAProfile.verified_kinds != 0, sa.exists().where(
            ProfileCheck.profile_id == PAProfile.id, ProfileCheck.verified_by_id.is_not(None),
            ProfileCheck.expires_on < today, still_counted))
    ).all()
    for profile in lapsed_profiles:
        refresh_verified_kinds(profile, today)
    soon = db.session.execute(
        sa.select(ProfileCheck, User).join(PAProfile, PAProfile.id == ProfileCheck.profile_id)
        .join(User, User.person_id == PAProfile.person_id)
        .where(ProfileCheck.expires_on.between(today, today + timedelta(days=EXPIRY_REMINDER_DAYS)))
    ).all()
    added = 0
    for check, user in soon:
        label = CHECK_LABELS[check.kind.value]
        expires = f"{check.expires_on.day} {check.expires_on:%B %Y}"
        added += notifications.notify(
            [user], f"register-check:{check.id}:expires:{check.expires_on.isoformat()}",
            f"Your {in_sentence(label)} expires on {expires}. Add the new one to your profile so it stays verified.",
            "/register/profile")
    return len(lapsed_profiles), added


# Inviting a PA who has no account yet ----------------------------------------------------------------

EMAIL = re.compile(r"^[^@\s]+@[^@\s]+\.[^@\s]+$")


def invite_pa_to_register(given_name: str, family_name: str, email: str, days: int) -> tuple[User, str]:
    """A DPSS asks a PA with no account to join the register: a Person, a PA account with no password yet,
    and a single-use link to set one (the caller sends it). The profile itself is the PA's to create.
    Caller commits."""
    from portal.services import accounts

    given, family, email = (given_name or "").strip(), (family_name or "").strip(), (email or "").strip().lower()
    problems = []
    if not given:
        problems.append(("given_name", "Enter the PA's first name"))
    elif len(given) > 100:
        problems.append(("given_name", "The first name must be 100 characters or fewer"))
    if not family:
        problems.append(("family_name", "Enter the PA's last name"))
    elif len(family) > 100:
        problems.append(("family_name", "The last name must be 100 characters or fewer"))
    if not email:
        problems.append(("email", "Enter the PA's email address"))
    elif len(email) > 200 or not EMAIL.match(email):
        problems.append(("email", "Enter an email address in the correct format, like name@example.com"))
    elif accounts.email_in_use(email):
        problems.append(("email", "There is already an account with that email address. If it is the PA's own, "
                                  "they can sign in and create their profile from ‘Your profile’"))
    if problems:
        raise RegisterError(problems)
    person = Person(given_name=given, family_name=family, email=email)
    db.session.add(person)
    db.session.flush()
    return accounts.invite_person(accounts.Candidate(person, Role.PA, "personal assistant"), email, days)


def send_register_invitation(config: dict, user: User, link: str, days: int, organisation: str) -> None:
    from portal.services import mail

    mail.send(
        config, user.email, "Join the register of personal assistants",
        f"Hello {user.display_name},\n\n{organisation} has invited you to the direct payments service, where "
        "personal assistants can put a profile on the register so that people looking for a PA can find them. "
        "Your profile is only shown to others when you choose to list it, and your full name and contact details "
        "only when you accept a request to get in touch.\n\n"
        f"Use this link to set your password. It works once, for {days} days:\n\n{link}\n",
    )


def check_label(check: ProfileCheck) -> str:
    label = CHECK_LABELS[check.kind.value]
    if check.kind == CheckKind.DBS and check.dbs_level:
        label = f"{label} ({check.dbs_level.value})"
    return label


__all__ = [
    "CHECK_ORDER", "Activity", "CheckInput", "CheckState", "ProfileInput", "RegisterError", "activity", "add_check",
    "answer_verification", "check_label", "check_state", "delete_check", "delete_profile", "dpss_providers",
    "invite_pa_to_register", "lapse_and_remind", "parse_districts", "profile_of", "record_contact", "record_view",
    "refresh_verified_kinds", "remove_photo", "request_verification", "save_profile", "send_register_invitation",
    "set_listed", "set_photo", "touch", "verifiers", "views_today",
]
