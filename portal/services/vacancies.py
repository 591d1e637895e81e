"""Vacancies: a recipient (or someone managing for them, or their DPSS) looks for a PA.

A vacancy shows PAs the district only, never the address or the recipient's surname. PAs express
interest with a message; the recipient's side then contacts the PA through a contact request.
"""

from dataclasses import dataclass
from datetime import date

import sqlalchemy as sa
from sqlalchemy.exc import IntegrityError

from portal.extensions import db
from portal.models import RepresentativeLevel, RepresentativeLink, Recipient, Role, User
from portal.models.register import Gender, PAProfile, Vacancy, VacancyInterest, VacancyStatus
from portal.services import notifications
from portal.services.clock import london_today, utcnow
from portal.services.contact_details import problems_in_text
from portal.services.register import DISTRICT, RegisterError, touch

TITLE_LENGTH = 120
TEXT_LENGTH = 1500
MESSAGE_LENGTH = 1000


@dataclass
class VacancyInput:
    title: str
    district_code: str
    hours_per_week: int | None
    availability: int
    times_note: str
    support_needed: int
    experience_wanted: int
    languages: int
    gender_preference: Gender | None
    driver_needed: bool
    rate_pence: int | None
    start_date: date | None
    closing_date: date | None
    description: str = ""


def _checked(data: VacancyInput, today: date) -> list[tuple[str, str]]:
    problems = []
    if not data.title.strip():
        problems.append(("title", "Enter a short title, like ‘Morning support in NF4’"))
    elif len(data.title) > TITLE_LENGTH:
        problems.append(("title", f"The title must be {TITLE_LENGTH} characters or fewer"))
    if not DISTRICT.match(data.district_code or ""):
        problems.append(("district_code", "Enter the postcode district, the first part of the postcode, like NF4"))
    if data.hours_per_week is None:
        problems.append(("hours_per_week", "Enter the hours a week, like 10"))
    elif not 1 <= data.hours_per_week <= 60:
        problems.append(("hours_per_week", "Enter hours a week from 1 to 60"))
    if not data.availability:
        problems.append(("slots", "Select at least one time of day when the support is needed"))
    if not data.support_needed:
        problems.append(("support", "Select the support needed"))
    if data.rate_pence is None:
        problems.append(("rate", "Enter the hourly rate, like 13.50"))
    elif not 0 < data.rate_pence <= 100 * 100:
        problems.append(("rate", "Enter an hourly rate between £0.01 and £100"))
    if data.start_date is None:
        problems.append(("start_date", "Enter the date the work would start"))
    if data.closing_date is None:
        problems.append(("closing_date", "Enter the closing date for interest"))
    elif data.closing_date < today:
        problems.append(("closing_date", "The closing date must be today or in the future"))
    elif data.start_date and data.closing_date > data.start_date:
        problems.append(("closing_date", "The closing date must be on or before the start date"))
    for name, text, limit in (("times_note", data.times_note, 300), ("description", data.description, TEXT_LENGTH)):
        if len(text or "") > limit:
            problems.append((name, f"This must be {limit} characters or fewer"))
        problems += [(name, message.replace("People contact you", "PAs contact you").replace("you accept", "you reply"))
                     for message in problems_in_text(text)]
    problems += [("title", m) for m in problems_in_text(data.title)]
    return problems


def check_vacancy(data: VacancyInput, today: date | None = None) -> list[tuple[str, str]]:
    """What stops these answers being posted, as (field, message) pairs (empty: they may be posted).
    A form that could not read some answers uses it to show every other problem at the same time."""
    return _checked(data, today or london_today())


def post_vacancy(recipient: Recipient, user: User, data: VacancyInput) -> Vacancy:
    """Post an open vacancy for the recipient. Caller checked the user may manage them; caller commits."""
    problems = _checked(data, london_today())
    if problems:
        raise RegisterError(problems)
    vacancy = Vacancy(
        recipient_id=recipient.person_id, posted_by_id=user.id, title=data.title.strip(), district_code=data.district_code,
        hours_per_week=data.hours_per_week, availability=data.availability, times_note=data.times_note.strip(),
        support_needed=data.support_needed, experience_wanted=data.experience_wanted, languages=data.languages,
        gender_preference=data.gender_preference, driver_needed=data.driver_needed, rate_pence=data.rate_pence,
        start_date=data.start_date, closing_date=data.closing_date, description=data.description.strip(),
    )
    db.session.add(vacancy)
    db.session.flush()
    return vacancy


def _closed_message(vacancy: Vacancy) -> str:
    return f"This vacancy is closed (marked as {vacancy.status.value}), so it can no longer be changed"


def update_vacancy(vacancy: Vacancy, data: VacancyInput) -> None:
    """Change an open vacancy's details, with the same checks as posting it. Interest already expressed
    stays. A closed vacancy (filled or withdrawn, perhaps in another tab) is not changed. Caller commits."""
    if vacancy.status != VacancyStatus.OPEN:
        raise RegisterError([("title", _closed_message(vacancy))])
    problems = _checked(data, london_today())
    if problems:
        raise RegisterError(problems)
    values = {
        "title": data.title.strip(), "district_code": data.district_code, "hours_per_week": data.hours_per_week,
        "availability": data.availability, "times_note": data.times_note.strip(), "support_needed": data.support_needed,
        "experience_wanted": data.experience_wanted, "languages": data.languages,
        "gender_preference": data.gender_preference, "driver_needed": data.driver_needed, "rate_pence": data.rate_pence,
        "start_date": data.start_date, "closing_date": data.closing_date, "description": data.description.strip(),
    }
    # Only while it is still open in the database: closing it in another tab meanwhile wins.
    changed = db.session.execute(
        sa.update(Vacancy).where(Vacancy.id == vacancy.id, Vacancy.status == VacancyStatus.OPEN).values(**values)
    ).rowcount
    db.session.refresh(vacancy)
    if not changed:
        raise RegisterError([("title", _closed_message(vacancy))])


def close_vacancy(vacancy: Vacancy, status: VacancyStatus) -> bool:
    """Mark an open vacancy filled or withdrawn. False when it was already closed (a second click)."""
    if status == VacancyStatus.OPEN:
        raise ValueError("A vacancy is closed as filled or withdrawn")
    values = {"status": status, "filled_on": london_today() if status == VacancyStatus.FILLED else None}
    changed = db.session.execute(
        sa.update(Vacancy).where(Vacancy.id == vacancy.id, Vacancy.status == VacancyStatus.OPEN).values(**values)
    ).rowcount
    db.session.refresh(vacancy)
    return bool(changed)


def recipient_side_users(recipient_id: int) -> list[User]:
    """Who hears about a recipient's recruiting: the person, and representatives who manage for them."""
    today = london_today()
    reps = sa.select(RepresentativeLink.representative_id).where(
        RepresentativeLink.recipient_id == recipient_id, RepresentativeLink.level == RepresentativeLevel.MANAGE,
        RepresentativeLink.start_date <= today,
        sa.or_(RepresentativeLink.end_date.is_(None), RepresentativeLink.end_date >= today))
    return list(db.session.scalars(sa.select(User).where(
        User.disabled_at.is_(None), User.role.in_((Role.RECIPIENT, Role.REPRESENTATIVE)),
        sa.or_(User.person_id == recipient_id, User.person_id.in_(reps)))))


def express_interest(vacancy: Vacancy, profile: PAProfile, message: str) -> VacancyInterest:
    """A PA with a listed profile says they are interested (once per vacancy). Caller commits."""
    problems = []
    if not profile.listed:
        problems.append(("message", "List your profile first, so the person can see it when you express interest"))
    if vacancy.status != VacancyStatus.OPEN or vacancy.closing_date < london_today():
        problems.append(("message", "This vacancy has closed"))
    if len(message or "") > MESSAGE_LENGTH:
        problems.append(("message", f"Your message must be {MESSAGE_LENGTH} characters or fewer"))
    problems += [("message", m) for m in problems_in_text(message)]
    if problems:
        raise RegisterError(problems)
    existing = db.session.scalar(sa.select(VacancyInterest).where(
        VacancyInterest.vacancy_id == vacancy.id, VacancyInterest.profile_id == profile.id))
    if existing is not None:
        return existing
    interest = VacancyInterest(vacancy_id=vacancy.id, profile_id=profile.id, message=(message or "").strip())
    try:
        with db.session.begin_nested():
            db.session.add(interest)
    except IntegrityError:  # the same PA at the same moment in another tab
        return db.session.scalar(sa.select(VacancyInterest).where(
            VacancyInterest.vacancy_id == vacancy.id, VacancyInterest.profile_id == profile.id))
    touch(profile)
    notifications.notify(recipient_side_users(vacancy.recipient_id), f"vacancy:{vacancy.id}:interest:{profile.id}",
                         f"{profile.display_name} is interested in your vacancy ‘{vacancy.title}’.",
                         f"/people/{vacancy.recipient_id}/vacancies/{vacancy.id}")
    return interest


def interest_of(vacancy: Vacancy, profile: PAProfile | None) -> VacancyInterest | None:
    if profile is None:
        return None
    return db.session.scalar(sa.select(VacancyInterest).where(
        VacancyInterest.vacancy_id == vacancy.id, VacancyInterest.profile_id == profile.id))


def listed_interests(vacancy: Vacancy) -> list[VacancyInterest]:
    """Interest from PAs whose profiles are still listed (a hidden profile's interest is not shown)."""
    return list(db.session.scalars(
        sa.select(VacancyInterest).join(PAProfile, PAProfile.id == VacancyInterest.profile_id)
        .where(VacancyInterest.vacancy_id == vacancy.id, PAProfile.listed.is_(True)).order_by(VacancyInterest.id)))


def interest_counts(vacancy_ids: list[int]) -> dict[int, int]:
    """How many PAs with listed profiles are interested in each vacancy (hidden profiles not counted)."""
    if not vacancy_ids:
        return {}
    return dict(db.session.execute(
        sa.select(VacancyInterest.vacancy_id, sa.func.count())
        .join(PAProfile, PAProfile.id == VacancyInterest.profile_id)
        .where(VacancyInterest.vacancy_id.in_(vacancy_ids), PAProfile.listed.is_(True))
        .group_by(VacancyInterest.vacancy_id)).all())


def interests_of(profile: PAProfile | None, vacancy_ids: list[int]) -> dict[int, VacancyInterest]:
    """The PA's own interest in each of these vacancies (for a page of vacancies at once)."""
    if profile is None or not vacancy_ids:
        return {}
    return {i.vacancy_id: i for i in db.session.scalars(sa.select(VacancyInterest).where(
        VacancyInterest.profile_id == profile.id, VacancyInterest.vacancy_id.in_(vacancy_ids)))}


def recipient_vacancies(recipient: Recipient) -> list[Vacancy]:
    return list(db.session.scalars(sa.select(Vacancy).where(Vacancy.recipient_id == recipient.person_id)
                                   .order_by(Vacancy.status != VacancyStatus.OPEN, Vacancy.created_at.desc())))


def first_name_and_area(vacancy: Vacancy) -> str:
    """How a vacancy's person is shown to PAs: 'Grace, NF4'."""
    return f"{vacancy.recipient.person.given_name}, {vacancy.district_code}"


__all__ = ["VacancyInput", "check_vacancy", "close_vacancy", "express_interest", "first_name_and_area", "interest_counts",
           "interest_of", "interests_of", "listed_interests", "post_vacancy", "recipient_side_users", "recipient_vacancies",
           "update_vacancy", "utcnow"]
