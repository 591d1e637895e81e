"""The council's register counts: listed PAs in the council's own districts (hand-counted here from the
rows themselves), never Eastmoor's for Northfield, never a hidden profile; vacancies open and filled;
the page and its CSV for council officers only."""

import csv
import io
from datetime import timedelta

import sqlalchemy as sa

from portal.extensions import db
from portal.models import District, Employment, Organisation, Person, User
from portal.models.register import PAProfile, ProfileDistrict, Vacancy, VacancyStatus
from portal.services.clock import london_today, utcnow
from portal.services.register_counts import council_counts
from portal.services.register_options import SUPPORT
from portal.services.vacancies import close_vacancy
from tests.conftest import get_page, sign_in
from tests.helpers import person_id

NORTHFIELD, EASTMOOR = "Northfield City Council", "Eastmoor County Council"


def council(name: str) -> Organisation:
    return db.session.scalar(sa.select(Organisation).where(Organisation.name == name))


def hand_count(name: str) -> dict:
    """Counted from the rows one by one, without the service's queries."""
    codes = {d.code for d in db.session.scalars(sa.select(District)) if d.council.name == name}
    profiles = {p.id: p for p in db.session.scalars(sa.select(PAProfile))}
    covered: dict[int, set[str]] = {}
    for row in db.session.scalars(sa.select(ProfileDistrict)):
        covered.setdefault(row.profile_id, set()).add(row.district_code)
    in_area = [p for p in profiles.values() if p.listed and covered.get(p.id, set()) & codes]
    by_district = {code: sum(1 for p in in_area if code in covered[p.id]) for code in codes}
    by_support = {label: sum(1 for p in in_area if p.support_offered & (1 << i)) for i, (_, label) in enumerate(SUPPORT)}
    today = london_today()
    hours: dict[int, float] = {}
    for e in db.session.scalars(sa.select(Employment)):
        if e.start_date <= today and (e.end_date is None or e.end_date >= today):
            hours[e.pa_id] = hours.get(e.pa_id, 0) + float(e.contracted_hours or 0)
    wanting = sum(1 for p in in_area if p.hours_wanted and p.hours_wanted > hours.get(p.person_id, 0))
    return {"total": len(in_area), "by_district": by_district, "by_support": by_support, "wanting": wanting,
            "verified": sum(1 for p in in_area if p.verified_kinds)}


def add_profile(codes: list[str], listed: bool = True) -> int:
    person = Person(given_name="Test", family_name="Counted", email="", phone="")
    db.session.add(person)
    db.session.flush()
    profile = PAProfile(person_id=person.id, listed=listed, rate_pence=1300, support_offered=1, hours_wanted=10)
    profile.districts = [ProfileDistrict(district_code=code) for code in codes]
    db.session.add(profile)
    db.session.commit()
    return profile.id


def test_northfield_counts_equal_the_listed_profiles_in_its_districts(app):
    with app.app_context():
        counts, expected = council_counts(council(NORTHFIELD)), hand_count(NORTHFIELD)
        assert counts.listed_total == expected["total"] > 2
        assert counts.by_district == dict(sorted(expected["by_district"].items()))
        assert counts.by_support == expected["by_support"]
        assert counts.wanting_more_hours == expected["wanting"]
        assert counts.any_verified == expected["verified"] and counts.none_verified == expected["total"] - expected["verified"]
        assert counts.districts == [f"NF{n}" for n in range(1, 10)]


def test_eastmoors_profiles_are_not_counted_for_northfield_and_hidden_ones_nowhere(app):
    with app.app_context():
        north, east = council_counts(council(NORTHFIELD)), council_counts(council(EASTMOOR))
        add_profile(["EM2"])
        assert council_counts(council(NORTHFIELD)).listed_total == north.listed_total
        assert council_counts(council(EASTMOOR)).listed_total == east.listed_total + 1
        add_profile(["NF7", "EM2"])
        after = council_counts(council(NORTHFIELD))
        assert after.listed_total == north.listed_total + 1 and after.by_district["NF7"] == north.by_district["NF7"] + 1
        assert council_counts(council(EASTMOOR)).listed_total == east.listed_total + 2
        add_profile(["NF7"], listed=False)
        assert council_counts(council(NORTHFIELD)).listed_total == north.listed_total + 1
        # Sophie (NF1, NF2) hides her profile: gone from the counts at once.
        sophie = db.session.scalar(sa.select(User.person_id).where(User.email == "sophie.pa@example.org"))
        db.session.execute(sa.update(PAProfile).where(PAProfile.person_id == sophie).values(listed=False))
        db.session.commit()
        hidden = council_counts(council(NORTHFIELD))
        assert hidden.listed_total == north.listed_total
        assert hidden.by_district["NF1"] == north.by_district["NF1"] - 1
        assert hidden.listed_total == hand_count(NORTHFIELD)["total"]


def test_vacancies_open_and_filled_and_the_days_to_fill(app):
    grace, ellen = person_id(app, "Grace", "Okafor"), person_id(app, "Ellen", "Marsh")
    with app.app_context():
        north = council_counts(council(NORTHFIELD))
        assert (north.vacancies_open, north.vacancies_filled, north.median_days_to_fill) == (1, 0, None)
        today = london_today()
        david = db.session.scalar(sa.select(User.id).where(User.email == "david@example.org"))
        # Ellen's vacancy is in Eastmoor: not Northfield's.
        db.session.add(Vacancy(recipient_id=ellen, posted_by_id=david, title="Eastmoor work", district_code="EM3", hours_per_week=5,
                               availability=1, support_needed=1, rate_pence=1300, start_date=today + timedelta(days=9),
                               closing_date=today + timedelta(days=3)))
        # A vacancy whose closing date has passed is neither open nor filled.
        db.session.add(Vacancy(recipient_id=grace, posted_by_id=david, title="Old", district_code="NF4", hours_per_week=5,
                               availability=1, support_needed=1, rate_pence=1300, start_date=today - timedelta(days=1),
                               closing_date=today - timedelta(days=2), created_at=utcnow() - timedelta(days=30)))
        db.session.commit()
        assert council_counts(council(NORTHFIELD)).vacancies_open == 1
        assert council_counts(council(EASTMOOR)).vacancies_open == 1
        vacancy = db.session.scalar(sa.select(Vacancy).where(Vacancy.title == "Morning support for my mother in NF4"))
        assert close_vacancy(vacancy, VacancyStatus.FILLED)
        db.session.commit()
        filled = council_counts(council(NORTHFIELD))
        assert (filled.vacancies_open, filled.vacancies_filled) == (0, 1)
        assert filled.median_days_to_fill == (vacancy.filled_on - vacancy.created_at.date()).days


def test_rachel_sees_her_councils_figures_and_downloads_them(app):
    with app.app_context():
        expected = hand_count(NORTHFIELD)
    client = app.test_client()
    sign_in(client, "rachel@northfield.example")
    page = get_page(client, "/register/council")
    assert page.soup.find(attrs={"data-figure": "listed"}).get_text(strip=True) == str(expected["total"])
    districts = page.soup.find(attrs={"data-by-district": True}).get_text(" ", strip=True)
    assert "NF4" in districts and "EM" not in districts
    link = page.soup.find("a", href="/register/council.csv")
    assert link is not None
    response = client.get("/register/council.csv")
    assert response.status_code == 200 and response.mimetype == "text/csv"
    disposition = response.headers["Content-Disposition"]
    assert disposition.startswith("attachment;") and 'filename="pa-register-northfield-city-council-' in disposition
    rows = list(csv.reader(io.StringIO(response.text)))
    assert rows[0] == ["council", "measure", "item", "value"]
    assert ["Northfield City Council", "listed PAs", "all districts", str(expected["total"])] in rows
    by_district = {row[2]: int(row[3]) for row in rows if row[1] == "listed PAs by district"}
    assert by_district == expected["by_district"]
    assert {row[0] for row in rows[1:]} == {"Northfield City Council"}
    assert not any(row[2].startswith("EM") for row in rows)


def test_only_council_officers_see_the_counts(app):
    for email in ("kim@brightpath.example", "omar@harbour.example", "david@example.org", "jay.pa@example.org", "admin@example.org"):
        client = app.test_client()
        sign_in(client, email, expect_home=email != "admin@example.org")
        assert client.get("/register/council").status_code == 403, email
        assert client.get("/register/council.csv").status_code == 403, email
    anon = app.test_client()
    assert anon.get("/register/council").headers["Location"].startswith("/sign-in")
