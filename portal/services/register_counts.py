"""Counts of the PA workforce for a council, through the postcode districts it owns.

What councils have never had: listed PAs by district, by support offered and by verification;
vacancies open and filled and the time to fill them; PAs wanting more hours. Listed profiles only
(a hidden profile is not counted). Small counts are shown as they are: these are counts of PAs, who
chose to be listed, not of the people they support.
"""

import csv
import io
from collections import Counter
from dataclasses import dataclass, field
from datetime import date
from statistics import median

import sqlalchemy as sa

from portal.access import listed_profiles
from portal.extensions import db
from portal.models import District, Employment, Organisation
from portal.models.register import PAProfile, ProfileDistrict, Vacancy, VacancyStatus
from portal.services.clock import london_today
from portal.services.register_options import CHECK_LABELS, CHECK_ORDER, SUPPORT


@dataclass
class CouncilCounts:
    council: Organisation
    districts: list[str]
    listed_total: int = 0
    by_district: dict[str, int] = field(default_factory=dict)
    by_support: dict[str, int] = field(default_factory=dict)
    by_verification: dict[str, int] = field(default_factory=dict)
    any_verified: int = 0
    none_verified: int = 0
    vacancies_open: int = 0
    vacancies_filled: int = 0
    median_days_to_fill: float | None = None
    wanting_more_hours: int = 0

    def rows(self) -> list[tuple[str, str, int | float | str]]:
        """(measure, item, value) rows: what the CSV holds, in the page's order."""
        rows = [("listed PAs", "all districts", self.listed_total)]
        rows += [("listed PAs by district", code, count) for code, count in self.by_district.items()]
        rows += [("listed PAs by support offered", label, count) for label, count in self.by_support.items()]
        rows += [("listed PAs by verified check", label, count) for label, count in self.by_verification.items()]
        rows += [("listed PAs by verification", "at least one check verified", self.any_verified),
                 ("listed PAs by verification", "no check verified", self.none_verified),
                 ("vacancies", "open", self.vacancies_open), ("vacancies", "filled", self.vacancies_filled),
                 ("vacancies", "median days to fill",
                  "" if self.median_days_to_fill is None else self.median_days_to_fill),
                 ("listed PAs wanting more hours", "all districts", self.wanting_more_hours)]
        return rows


def council_counts(council: Organisation, today: date | None = None) -> CouncilCounts:
    today = today or london_today()
    codes = list(db.session.scalars(sa.select(District.code).where(District.council_id == council.id).order_by(District.code)))
    counts = CouncilCounts(council, codes)
    if not codes:
        return counts
    in_area = listed_profiles().where(PAProfile.id.in_(
        sa.select(ProfileDistrict.profile_id).where(ProfileDistrict.district_code.in_(codes))))
    by_district = dict(db.session.execute(
        sa.select(ProfileDistrict.district_code, sa.func.count())
        .join(PAProfile, PAProfile.id == ProfileDistrict.profile_id)
        .where(PAProfile.listed.is_(True), ProfileDistrict.district_code.in_(codes))
        .group_by(ProfileDistrict.district_code)).all())
    counts.by_district = {code: by_district.get(code, 0) for code in codes}
    # One pass over the area's listed profiles (thousands at most for a council) for the mask counts.
    rows = db.session.execute(in_area.with_only_columns(
        PAProfile.id, PAProfile.person_id, PAProfile.support_offered, PAProfile.verified_kinds, PAProfile.hours_wanted)).all()
    counts.listed_total = len(rows)
    support, verified = Counter(), Counter()
    for row in rows:
        for index, (key, _) in enumerate(SUPPORT):
            if row.support_offered & (1 << index):
                support[key] += 1
        for index, kind in enumerate(CHECK_ORDER):
            if row.verified_kinds & (1 << index):
                verified[kind] += 1
        if row.verified_kinds:
            counts.any_verified += 1
    counts.none_verified = counts.listed_total - counts.any_verified
    counts.by_support = {label: support[key] for key, label in SUPPORT}
    counts.by_verification = {CHECK_LABELS[kind]: verified[kind] for kind in CHECK_ORDER}
    counts.wanting_more_hours = _wanting_more_hours(rows, today)
    vacancies = db.session.execute(
        sa.select(Vacancy.status, Vacancy.created_at, Vacancy.filled_on, Vacancy.closing_date)
        .where(Vacancy.district_code.in_(codes))).all()
    days_to_fill = []
    for status, created, filled_on, closing in vacancies:
        if status == VacancyStatus.OPEN and closing >= today:
            counts.vacancies_open += 1
        elif status == VacancyStatus.FILLED:
            counts.vacancies_filled += 1
            if filled_on:
                days_to_fill.append((filled_on - created.date()).days)
    counts.median_days_to_fill = median(days_to_fill) if days_to_fill else None
    return counts


def _wanting_more_hours(rows, today: date) -> int:
    """Listed PAs who want more hours a week than their current contracts give them."""
    wanting = {row.person_id: row.hours_wanted for row in rows if row.hours_wanted}
    if not wanting:
        return 0
    contracted = dict(db.session.execute(
        sa.select(Employment.pa_id, sa.func.coalesce(sa.func.sum(Employment.contracted_hours), 0))
        .where(Employment.pa_id.in_(list(wanting)), Employment.start_date <= today,
               sa.or_(Employment.end_date.is_(None), Employment.end_date >= today))
        .group_by(Employment.pa_id)).all())
    return sum(1 for person_id, hours in wanting.items() if hours > float(contracted.get(person_id, 0) or 0))


def counts_csv(counts: CouncilCounts) -> str:
    out = io.StringIO()
    writer = csv.writer(out)
    writer.writerow(["council", "measure", "item", "value"])
    for measure, item, value in counts.rows():
        writer.writerow([counts.council.name, measure, item, value])
    return out.getvalue()
