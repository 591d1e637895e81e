"""Searching the register and matching both ways (PAs for a vacancy, vacancies for a PA).

Hard filters narrow: district, gender, language, rate up to, verified checks, words in "about me".
Needs rank: for availability, support and experience the person ticks, a PA must offer at least one
of each, and the PAs who offer all of them come first. Then come verified checks and how recently the
PA was active. Ranking is one SQL expression (a CASE per ticked bit, so it runs the same on SQLite and
PostgreSQL); the page's 20 rows are then explained in words by reasons().
"""

from dataclasses import dataclass, field
from datetime import date, datetime, timedelta

import sqlalchemy as sa
from sqlalchemy.orm import selectinload

from portal.access import listed_profiles
from portal.extensions import db
from portal.models import Recipient
from portal.models.register import Gender, PAProfile, ProfileDistrict, Vacancy, VacancyStatus
from portal.services import postcodes
from portal.services.clock import london_today, utcnow
from portal.services.register_options import (
    CHECK_ORDER,
    CHECK_SHORT,
    EXPERIENCE,
    LANGUAGES,
    SUPPORT,
    bits,
    count_bits,
    describe_slots,
    join_words,
    labels_of,
)
from portal.services.text_search import about_matches

PAGE_SIZE = 20
MAX_WITHIN_MILES = 50  # further than this is not "near" for care work; a wider net only helps scraping
MAX_PAGE = 50  # 1,000 results is more than anyone reads; deeper pages would only help scraping


@dataclass
class SearchFilters:
    districts: list[str] = field(default_factory=list)
    slots: int = 0
    support: int = 0
    experience: int = 0
    gender: Gender | None = None
    language: int = 0
    max_rate_pence: int | None = None
    verified: int = 0  # check-kind bits that must be verified
    text: str = ""
    drives: bool = False
    # Also cover every district whose centroid is within this many miles of a chosen one (only when
    # postcode centroids are loaded: see services/postcodes.py; ignored otherwise).
    within_miles: int | None = None

    @property
    def chosen(self) -> bool:
        return bool(self.slots or self.support or self.experience or self.gender or self.language
                    or self.max_rate_pence or self.verified or self.text.strip() or self.drives)


@dataclass(frozen=True)
class Match:
    profile: PAProfile
    full: bool
    score: int
    reasons: list[str]


def _bits_met(column, mask: int):
    """How many of the mask's bits the column has (0 when the mask is empty)."""
    if not mask:
        return sa.literal(0)
    return sum((sa.case((column.op("&")(bit) != 0, 1), else_=0) for bit in bits(mask)), sa.literal(0))


def _recency():
    now = utcnow()
    return sa.case(
        (PAProfile.last_active_at >= now - timedelta(days=7), 3),
        (PAProfile.last_active_at >= now - timedelta(days=30), 2),
        (PAProfile.last_active_at >= now - timedelta(days=90), 1),
        else_=0,
    )


def covered_districts(filters: SearchFilters) -> dict[str, float]:
    """The districts the search covers, each with the miles to the nearest chosen one (0 for those chosen).

    Just the chosen districts unless within_miles is set and centroids are loaded for them."""
    if not filters.districts:
        return {}
    if filters.within_miles and filters.within_miles > 0:
        return postcodes.districts_within(filters.districts, min(filters.within_miles, MAX_WITHIN_MILES))
    return {code: 0.0 for code in filters.districts}


def _covering(codes) -> sa.ColumnElement[bool]:
    return PAProfile.id.in_(sa.select(ProfileDistrict.profile_id).where(ProfileDistrict.district_code.in_(list(codes))))


def _conditions(filters: SearchFilters) -> list:
    conditions = []
    if filters.districts:
        conditions.append(_covering(covered_districts(filters)))
    for column, mask in ((PAProfile.availability, filters.slots), (PAProfile.support_offered, filters.support),
                         (PAProfile.experience, filters.experience)):
        if mask:
            conditions.append(column.op("&")(mask) != 0)
    if filters.gender:
        conditions.append(PAProfile.gender == filters.gender)
    if filters.language:
        conditions.append(PAProfile.languages.op("&")(filters.language) != 0)
    if filters.max_rate_pence:
        conditions.append(PAProfile.rate_pence <= filters.max_rate_pence)
    if filters.verified:
        conditions.append(PAProfile.verified_kinds.op("&")(filters.verified) == filters.verified)
    if filters.drives:
        conditions.append(PAProfile.drives.is_(True))
    text = about_matches(filters.text)
    if text is not None:
        conditions.append(text)
    return conditions


def _ranking(filters: SearchFilters):
    met = (_bits_met(PAProfile.availability, filters.slots), _bits_met(PAProfile.support_offered, filters.support),
           _bits_met(PAProfile.experience, filters.experience))
    wanted = count_bits(filters.slots) + count_bits(filters.support) + count_bits(filters.experience)
    needs_met = met[0] + met[1] + met[2]
    full = sa.case((needs_met == wanted, 1), else_=0)
    score = needs_met * 10 + _bits_met(PAProfile.verified_kinds, (1 << len(CHECK_ORDER)) - 1) * 3 + _recency()
    if filters.districts and len(covered_districts(filters)) > len(set(filters.districts)):
        # Searching nearby districts too: a PA who covers a chosen district comes before one a few miles off.
        score = score + sa.case((_covering(filters.districts), 4), else_=0)
    return full, score


def search(filters: SearchFilters, page: int = 1, page_size: int = PAGE_SIZE, *,
           with_total: bool = True) -> tuple[list[Match], int | None]:
    """One page of listed profiles, best first, and how many there are in all (None with with_total=False,
    for lists that show only the best few: counting thousands of candidates is half the work)."""
    page = max(1, min(page, MAX_PAGE))
    conditions = _conditions(filters)
    full, score = _ranking(filters)
    query = (
        listed_profiles().where(*conditions)
        .add_columns(full.label("full"), score.label("score"))
        .order_by(sa.desc("full"), sa.desc("score"), PAProfile.last_active_at.desc(), PAProfile.id.desc())
        .limit(page_size).offset((page - 1) * page_size)
        .options(selectinload(PAProfile.person), selectinload(PAProfile.districts))
    )
    rows = db.session.execute(query).all()
    total = db.session.scalar(
        sa.select(sa.func.count()).select_from(listed_profiles().where(*conditions).with_only_columns(PAProfile.id).subquery())
    ) if with_total else None
    return [Match(profile, bool(is_full), int(points), reasons(profile, filters)) for profile, is_full, points in rows], total


def reasons(profile: PAProfile, filters: SearchFilters, today: date | None = None) -> list[str]:
    """Why this profile matched, in words: 'Covers NF3', 'Available Tuesday and Thursday mornings'..."""
    said = []
    covered = [code for code in profile.district_codes if code in filters.districts]
    if covered:
        said.append(f"Covers {join_words(covered)}")
    elif filters.districts:
        distances = covered_districts(filters)
        nearby = sorted((distances[code], code) for code in profile.district_codes if code in distances)
        if nearby:
            miles, code = nearby[0]
            said.append(f"Covers {code}, {postcodes.miles_in_words(miles)}")
    if filters.slots:
        slots = profile.availability & filters.slots
        if slots:
            missing = filters.slots & ~profile.availability
            said.append(f"Available {describe_slots(slots)}" + (" (not all the times you asked for)" if missing else ""))
    if filters.support:
        offered = labels_of(SUPPORT, profile.support_offered & filters.support)
        if offered:
            said.append(f"Offers {join_words([label.lower() for label in offered])}")
    if filters.experience:
        known = labels_of(EXPERIENCE, profile.experience & filters.experience)
        if known:
            said.append(f"Experience: {join_words([label.lower() for label in known])}")
    if filters.language and profile.languages & filters.language:
        said.append(f"Speaks {join_words(labels_of(LANGUAGES, profile.languages & filters.language))}")
    if filters.drives and profile.drives:
        said.append("Drives")
    verified = [CHECK_SHORT[kind] for index, kind in enumerate(CHECK_ORDER) if profile.verified_kinds & (1 << index)]
    if verified:
        text = f"{join_words(verified)} verified"
        said.append(text[:1].upper() + text[1:])
    return said


def active_words(moment: datetime) -> str:
    days = (utcnow() - moment).days
    if days < 1:
        return "Active today"
    if days < 7:
        return "Active this week"
    if days < 31:
        return "Active this month"
    return "Not active recently"


# Matching both ways ----------------------------------------------------------------------------


def filters_for_vacancy(vacancy: Vacancy) -> SearchFilters:
    return SearchFilters(
        districts=[vacancy.district_code], slots=vacancy.availability, support=vacancy.support_needed,
        experience=vacancy.experience_wanted, gender=vacancy.gender_preference, language=vacancy.languages,
        max_rate_pence=vacancy.rate_pence, drives=vacancy.driver_needed,
    )


def best_pas_for_vacancy(vacancy: Vacancy, limit: int = 10) -> list[Match]:
    return search(filters_for_vacancy(vacancy), page_size=limit, with_total=False)[0]


@dataclass(frozen=True)
class VacancyMatch:
    vacancy: Vacancy
    full: bool
    score: int
    reasons: list[str]


def open_vacancies(today: date | None = None) -> sa.Select:
    today = today or london_today()
    return sa.select(Vacancy).where(Vacancy.status == VacancyStatus.OPEN, Vacancy.closing_date >= today)


def vacancies_for_pa(profile: PAProfile | None, *, districts: list[str] | None = None, slots: int = 0, support: int = 0,
                     page: int = 1, page_size: int = PAGE_SIZE) -> tuple[list[VacancyMatch], int]:
    """Open vacancies in the PA's districts (or those chosen), the best matches for their profile first."""
    page = max(1, min(page, MAX_PAGE))
    wanted_districts = districts or (profile.district_codes if profile else [])
    query = open_vacancies()
    if wanted_districts:
        query = query.where(Vacancy.district_code.in_(wanted_districts))
    if slots:
        query = query.where(Vacancy.availability.op("&")(slots) != 0)
    if support:
        query = query.where(Vacancy.support_needed.op("&")(support) != 0)
    availability = profile.availability if profile else 0
    offered = profile.support_offered if profile else 0
    experience = profile.experience if profile else 0
    covered = _bits_met(Vacancy.availability, availability) if availability else sa.literal(0)
    needs = _bits_met(Vacancy.support_needed, offered) if offered else sa.literal(0)
    known = _bits_met(Vacancy.experience_wanted, experience) if experience else sa.literal(0)
    full = sa.case(
        (sa.and_(Vacancy.availability.op("&")(availability) == Vacancy.availability,
                 Vacancy.support_needed.op("&")(offered) == Vacancy.support_needed), 1), else_=0)
    rate_ok = sa.case((Vacancy.rate_pence >= (profile.rate_pence if profile else 0), 5), else_=0)
    score = covered * 10 + needs * 10 + known * 5 + rate_ok
    rows = db.session.execute(
        query.add_columns(full.label("full"), score.label("score"))
        .options(selectinload(Vacancy.recipient).selectinload(Recipient.person))
        .order_by(sa.desc("full"), sa.desc("score"), Vacancy.closing_date, Vacancy.id)
        .limit(page_size).offset((page - 1) * page_size)
    ).all()
    total = db.session.scalar(sa.select(sa.func.count()).select_from(query.with_only_columns(Vacancy.id).subquery()))
    return [VacancyMatch(v, bool(f), int(s), vacancy_reasons(v, profile)) for v, f, s in rows], total


def vacancy_reasons(vacancy: Vacancy, profile: PAProfile | None) -> list[str]:
    if profile is None:
        return []
    said = []
    if vacancy.district_code in profile.district_codes:
        said.append(f"In {vacancy.district_code}, which you cover")
    times = vacancy.availability & profile.availability
    if times:
        said.append(f"You are available {describe_slots(times)}")
    needs = labels_of(SUPPORT, vacancy.support_needed & profile.support_offered)
    if needs:
        said.append(f"Needs {join_words([n.lower() for n in needs])}, which you offer")
    if vacancy.rate_pence >= profile.rate_pence:
        said.append("Pays your rate or more")
    return said
