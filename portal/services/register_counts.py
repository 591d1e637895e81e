"""Counts of the PA workforce for a council, through the postcode districts it owns.

What councils have never had: listed PAs by district, by support offered and by verification;
vacancies open and filled and the time to fill them; PAs wanting more hours. Listed profiles only
(a hidden profile is not counted). Small counts are shown as they are: these are counts of PAs, who
chose to be listed, not of the people they support.
"""

import csv
import io
from dataclasses import dataclass, field
from datetime import date
from statistics import median

import sqlalchemy as sa

from portal.access import listed_profiles
from portal.extensions import db
from portal.models import District, Employment, Organisation
from portal.models.register import PAProfile, ProfileDistrict, Vacancy, VacancyStatus
from portal.services.clock import london_today, to_london
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


def _having(column, bit: int):
    """How many rows have this bit set."""
    return sa.func.coalesce(sa.func.sum(sa.case((column.op("&")(bit) != 0, 1), else_=0)), 0)


def council_counts(council: Organisation, today: date | None = None) -> CouncilCounts:
    today = today or london_today()
    codes = list(db.session.scalars(sa.select(District.code).where(District.council_id == council.id).order_by(District.code)))
    counts = CouncilCounts(council, codes)
    if not codes:
        return counts
    area_ids = sa.select(ProfileDistrict.profile_id).where(ProfileDistrict.district_code.in_(codes))
    in_area = listed_profiles().where(PAProfile.id.in_(area_ids)).subquery()
    by_district = dict(db.session.execute(
        sa.select(ProfileDistrict.district_code, sa.func.count())
        .join(PAProfile, PAProfile.id == ProfileDistrict.profile_id)
        .where(PAProfile.listed.is_(True), ProfileDistrict.district_code.in_(codes))
        .group_by(ProfileDistrict.district_code)).all())
    counts.by_district = {code: by_district.get(code, 0) for code in codes}
    # Every mask count and "wanting more hours" in one pass in the database (a CASE each), so a council
    # with tens of thousands of listed PAs sends back one row, not one per PA.
    support_columns = [_having(in_area.c.support_offered, 1 << index).label(f"s{index}") for index in range(len(SUPPORT))]
    check_columns = [_having(in_area.c.verified_kinds, 1 << index).label(f"c{index}") for index in range(len(CHECK_ORDER))]
    contracted = _contracted_hours(in_area, today)
    wanting = sa.func.coalesce(sa.func.sum(sa.case(
        (sa.and_(in_area.c.hours_wanted > 0, in_area.c.hours_wanted > sa.func.coalesce(contracted.c.hours, 0)), 1), else_=0)), 0)
    row = db.session.execute(sa.select(
        sa.func.count().label("total"),
        sa.func.coalesce(sa.func.sum(sa.case((in_area.c.verified_kinds != 0, 1), else_=0)), 0).label("any_verified"),
        wanting.label("wanting_more_hours"),
        *support_columns, *check_columns,
    ).select_from(in_area).outerjoin(contracted, contracted.c.pa_id == in_area.c.person_id)).one()
    counts.listed_total = int(row.total)
    counts.any_verified = int(row.any_verified)
    counts.none_verified = counts.listed_total - counts.any_verified
    counts.by_support = {label: int(row._mapping[f"s{index}"]) for index, (_, label) in enumerate(SUPPORT)}
    counts.by_verification = {CHECK_LABELS[kind]: int(row._mapping[f"c{index}"]) for index, kind in enumerate(CHECK_ORDER)}
    counts.wanting_more_hours = int(row.wanting_more_hours)
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
                # Both days as London dates (filled_on is one; created_at is stored in UTC).
                days_to_fill.append((filled_on - to_london(created).date()).days)
    counts.median_days_to_fill = median(days_to_fill) if days_to_fill else None
    return counts


def _contracted_hours(in_area, today: date):
    """The area's PAs' hours a week under their current contracts (a subquery, joined to the listed PAs in
    the same pass as the other counts: "wanting more hours" is hours wanted above these). Only the area's
    PAs: adding up every contract in the country cost 68 ms of the dashboard at national scale."""
    return (
        sa.select(Employment.pa_id.label("pa_id"), sa.func.sum(Employment.contracted_hours).label("hours"))
        .where(Employment.pa_id.in_(sa.select(in_area.c.person_id)),
               Employment.start_date <= today, sa.or_(Employment.end_date.is_(None), Employment.end_date >= today))
        .group_by(Employment.pa_id).subquery()
    )


def counts_csv(counts: CouncilCounts) -> str:
    out = io.StringIO()
    writer = csv.writer(out)
    writer.writerow(["council", "measure", "item", "value"])
    for measure, item, value in counts.rows():
        writer.writerow([counts.council.name, measure, item, value])
    return out.getvalue()
