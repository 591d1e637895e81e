"""Postcode district centroids from an ONS Postcode Directory file, and "within N miles" on the register.

`flask --app portal import-postcodes FILE` averages each district's live, located postcodes; importing
again replaces them. Without centroids the register matches districts exactly, as it always has.
tests/data/onspd_sample.csv puts NF1-NF5 two miles apart in a row (NF1 at 0, NF3 at 4 miles), NF6-NF9
three miles north of them, and EM1-EM5 about 20 miles east.
"""

import csv
import zipfile
from pathlib import Path

import pytest
import sqlalchemy as sa

from portal.extensions import db
from portal.models import DistrictCentroid, Person
from portal.models.register import PAProfile, ProfileDistrict
from portal.services import postcodes, register
from portal.services.register import ProfileInput
from portal.services.register_options import mask_of, LANGUAGES
from portal.models.register import Gender
from portal.services.register_search import SearchFilters, search

SAMPLE = Path(__file__).parent / "data" / "onspd_sample.csv"


def _import(app, path) -> "object":
    return app.test_cli_runner().invoke(args=["import-postcodes", str(path)])


def _centroids(app) -> dict[str, DistrictCentroid]:
    with app.app_context():
        rows = db.session.scalars(sa.select(DistrictCentroid)).all()
        for row in rows:
            db.session.expunge(row)
        return {row.code: row for row in rows}


def _sample_rows() -> list[dict]:
    with open(SAMPLE, newline="") as handle:
        return list(csv.DictReader(handle))


def _write(path: Path, header: list[str], rows: list[list[str]], bom: bool = False) -> Path:
    with open(path, "w", newline="", encoding="utf-8-sig" if bom else "utf-8") as handle:
        writer = csv.writer(handle)
        writer.writerow(header)
        writer.writerows(rows)
    return path


@pytest.mark.parametrize("postcode, district", [
    ("NF3 4AB", "NF3"), ("nf3 4ab", "NF3"), ("AB1 0AA", "AB1"), ("AB1  0AA", "AB1"), ("AB100AA", "AB10"),
    ("AB10 1AA", "AB10"), ("EC1A 1BB", "EC1A"), ("EC1A1BB", "EC1A"), ("W1A 0AX", "W1A"), (" M1 1AE ", "M1"),
    ("", None), ("NF3", None), ("GIR 0AA", None), ("12345", None),
])
def test_the_outward_code_of_a_postcode(postcode, district):
    assert postcodes.outward_code(postcode) == district


def test_miles_between_two_places_and_in_words():
    london, manchester = (51.5074, -0.1278), (53.4808, -2.2426)
    assert 160 < postcodes.miles_between(london, manchester) < 166
    assert postcodes.miles_between(london, london) == 0
    assert postcodes.miles_in_words(0.4) == "less than a mile away"
    assert postcodes.miles_in_words(1.2) == "about 1 mile away"
    assert postcodes.miles_in_words(2.0) == "about 2 miles away"
    assert postcodes.miles_in_words(7.6) == "about 8 miles away"


def test_importing_the_sample_stores_one_centroid_per_district_and_importing_again_replaces_them(app):
    with app.app_context():
        assert not postcodes.have_centroids()
    result = _import(app, SAMPLE)
    assert result.exit_code == 0, result.output
    assert "Rows read: 44" in result.output and "Districts stored: 14" in result.output
    assert "Terminated postcodes skipped: 1" in result.output
    assert "Postcodes without a location skipped: 1" in result.output
    stored = _centroids(app)
    assert sorted(stored) == sorted([f"NF{n}" for n in range(1, 10)] + [f"EM{n}" for n in range(1, 6)])

    # NF3's centre is the average of its three live postcodes: the terminated one far away and the one
    # ONS gives no grid reference (lat 99.999999) are left out.
    live = [row for row in _sample_rows() if row["pcds"].startswith("NF3 ") and not row["doterm"] and row["lat"] != "99.999999"]
    assert len(live) == 3 and stored["NF3"].postcodes == 3
    assert stored["NF3"].latitude == pytest.approx(sum(float(r["lat"]) for r in live) / 3)
    assert stored["NF3"].longitude == pytest.approx(sum(float(r["long"]) for r in live) / 3)
    with app.app_context():
        assert postcodes.have_centroids()

    again = _import(app, SAMPLE)
    assert again.exit_code == 0, again.output
    replaced = _centroids(app)
    assert sorted(replaced) == sorted(stored)
    assert replaced["NF3"].latitude == pytest.approx(stored["NF3"].latitude)
    assert replaced["NF3"].loaded_at >= stored["NF3"].loaded_at


def test_ons_seven_character_postcodes_a_byte_order_mark_and_no_doterm_column(app, tmp_path):
    path = _write(tmp_path / "onspd.csv", ["PCD", "oseast1m", "LAT", "LONG"], [
        ["AB100AA", "", "57.100000", "-2.100000"],
        ["AB101AB", "", "57.120000", "-2.140000"],
        ["AB1 0AA", "", "57.000000", "-2.300000"],
        ["ZZ99 9ZZ", "", "99.999999", "0.000000"],
        ["not a postcode", "", "57.0", "-2.0"],
        ["AB1 0AB", "", "north", "west"],
    ], bom=True)
    result = _import(app, path)
    assert result.exit_code == 0, result.output
    stored = _centroids(app)
    assert sorted(stored) == ["AB1", "AB10"]
    assert stored["AB10"].postcodes == 2
    assert (stored["AB10"].latitude, stored["AB10"].longitude) == (pytest.approx(57.11), pytest.approx(-2.12))
    assert "Rows that could not be read: 1" in result.output
    assert "Postcodes without a location skipped: 2" in result.output


def test_the_zip_ons_publishes_is_read_from_its_data_folder(app, tmp_path):
    archive = tmp_path / "ONSPD_FEB_2026.zip"
    with zipfile.ZipFile(archive, "w") as zipped:
        zipped.writestr("Documents/ReadMe.csv", "pcds,note\nx,y\n")
        zipped.write(SAMPLE, "Data/ONSPD_FEB_2026_UK.csv")
    result = _import(app, archive)
    assert result.exit_code == 0, result.output
    assert len(_centroids(app)) == 14


def test_a_file_without_the_columns_is_refused_with_a_clear_message_and_changes_nothing(app, tmp_path):
    assert _import(app, SAMPLE).exit_code == 0
    wrong = _write(tmp_path / "wrong.csv", ["pcds", "x", "y"], [["NF3 1AA", "1", "2"]])
    result = _import(app, wrong)
    assert result.exit_code != 0
    assert "does not have the columns needed: lat, long" in result.output
    assert "pcd or pcds" in result.output
    no_postcode = _write(tmp_path / "nopc.csv", ["lat", "long"], [["52.6", "-1.2"]])
    result = _import(app, no_postcode)
    assert result.exit_code != 0 and "a postcode (pcd or pcds)" in result.output
    only_terminated = _write(tmp_path / "old.csv", ["pcds", "doterm", "lat", "long"], [["NF3 1AA", "199901", "52.6", "-1.2"]])
    result = _import(app, only_terminated)
    assert result.exit_code != 0 and "nothing was changed" in result.output
    empty = _write(tmp_path / "empty.csv", [], [])
    assert _import(app, empty).exit_code != 0
    assert len(_centroids(app)) == 14  # the centroids already loaded are kept


def test_a_smaller_file_replaces_every_district(app, tmp_path):
    assert _import(app, SAMPLE).exit_code == 0
    small = _write(tmp_path / "small.csv", ["pcds", "doterm", "lat", "long"], [["NF3 1AA", "", "52.6", "-1.1"]])
    assert _import(app, small).exit_code == 0
    stored = _centroids(app)
    assert list(stored) == ["NF3"] and stored["NF3"].longitude == pytest.approx(-1.1)


def test_districts_within_a_distance(app):
    assert _import(app, SAMPLE).exit_code == 0
    with app.app_context():
        within = postcodes.districts_within(["NF3"], 3)
        assert sorted(within) == ["NF2", "NF3", "NF4"]
        assert within["NF3"] == 0 and within["NF2"] == pytest.approx(2, abs=0.05)
        assert sorted(postcodes.districts_within(["NF3"], 4.5)) == ["NF1", "NF2", "NF3", "NF4", "NF5", "NF7", "NF8"]
        assert sorted(postcodes.districts_within(["NF1", "EM1"], 2.5)) == ["EM1", "EM2", "NF1", "NF2"]
        assert sorted(postcodes.districts_within(["ZZ9"], 50)) == ["ZZ9"]  # no centroid: itself only
        assert sorted(postcodes.districts_within(["NF3", "ZZ9"], 3)) == ["NF2", "NF3", "NF4", "ZZ9"]
        assert sorted(postcodes.districts_within(["NF3"], 0)) == ["NF3"]


def test_the_centroids_are_read_again_after_an_import_in_the_same_request(app):
    with app.app_context():
        assert not postcodes.have_centroids()  # remembered for this context...
        postcodes.import_file(SAMPLE)
        assert postcodes.have_centroids()  # ...and forgotten by the import


# The register's search ----------------------------------------------------------------------------


def _listed_covering(codes: list[str]) -> set[int]:
    return set(db.session.scalars(
        sa.select(PAProfile.id).join(ProfileDistrict, ProfileDistrict.profile_id == PAProfile.id)
        .where(PAProfile.listed.is_(True), ProfileDistrict.district_code.in_(codes))))


def _found(filters: SearchFilters) -> set[int]:
    matches, total = search(filters, page_size=100)
    assert total == len(matches)
    return {match.profile.id for match in matches}


def _jay_id() -> int:
    return db.session.scalar(sa.select(PAProfile.id).join(Person, Person.id == PAProfile.person_id)
                             .where(Person.given_name == "Jay", Person.family_name == "Singh"))


def test_without_centroids_within_miles_is_ignored_and_districts_match_exactly(app):
    with app.app_context():
        exact = _found(SearchFilters(districts=["NF3"]))
        assert exact == _listed_covering(["NF3"])
        assert _found(SearchFilters(districts=["NF3"], within_miles=10)) == exact
        match = next(m for m in search(SearchFilters(districts=["NF3"], within_miles=10), page_size=100)[0] if m.profile.id == _jay_id())
        assert match.reasons[0] == "Covers NF3"


def test_with_centroids_the_search_covers_nearby_districts_and_says_how_far(app):
    assert _import(app, SAMPLE).exit_code == 0
    with app.app_context():
        person = Person(given_name="Nearby", family_name="Tester")
        db.session.add(person)
        db.session.flush()
        nearby = register.save_profile(person, ProfileInput(
            districts=["NF1", "NF2"], drives=False, availability=0, support_offered=0, experience=0,
            languages=mask_of(LANGUAGES, ["en"]), gender=Gender.WOMAN, hours_wanted=10, rate_pence=1400))
        register.set_listed(nearby, True)
        db.session.commit()

        assert _found(SearchFilters(districts=["NF3"])) == _listed_covering(["NF3"])  # no distance asked: exact
        within_three = _found(SearchFilters(districts=["NF3"], within_miles=3))
        assert within_three == _listed_covering(["NF2", "NF3", "NF4"])
        assert nearby.id in within_three
        assert _found(SearchFilters(districts=["NF3"], within_miles=1)) == _listed_covering(["NF3"])

        matches = {m.profile.id: m for m in search(SearchFilters(districts=["NF3"], within_miles=5), page_size=100)[0]}
        assert matches[_jay_id()].reasons[0] == "Covers NF3"  # an exact match says no distance
        assert matches[nearby.id].reasons[0] == "Covers NF2, about 2 miles away"  # the nearer of NF1 and NF2

        # A district without a centroid is still searched exactly, next to the ones with one.
        assert _found(SearchFilters(districts=["NF3", "ZZ9"], within_miles=3)) == _listed_covering(["NF2", "NF3", "NF4"])
        assert _found(SearchFilters(districts=["ZZ9"], within_miles=50)) == set()


def test_nearby_matches_come_after_exact_ones_when_otherwise_equal(app):
    assert _import(app, SAMPLE).exit_code == 0
    with app.app_context():
        made = {}
        for given, code in (("Exact", "QQ7"), ("Close", "QQ8")):
            person = Person(given_name=given, family_name="Tester")
            db.session.add(person)
            db.session.flush()
            made[given] = register.save_profile(person, ProfileInput(
                districts=[code], drives=False, availability=0, support_offered=0, experience=0, languages=1,
                gender=Gender.MAN, hours_wanted=10, rate_pence=1400))
            register.set_listed(made[given], True)
        db.session.add_all([DistrictCentroid(code="QQ7", latitude=50.0, longitude=-4.0, postcodes=1),
                            DistrictCentroid(code="QQ8", latitude=50.005, longitude=-4.0, postcodes=1)])
        db.session.commit()
        postcodes.forget_cache()
        made["Close"].last_active_at = made["Exact"].last_active_at  # the same in every other way
        db.session.commit()
        matches, total = search(SearchFilters(districts=["QQ7"], within_miles=2))
        assert total == 2
        assert [m.profile.id for m in matches] == [made["Exact"].id, made["Close"].id]
        assert matches[1].reasons == ["Covers QQ8, less than a mile away"]


def test_the_search_page_offers_nearby_districts_only_once_centroids_are_loaded(app, client):
    from tests.conftest import get_page, sign_in

    sign_in(client, "david@example.org")
    page = get_page(client, "/find-a-pa")
    assert page.soup.find("select", attrs={"name": "within"}) is None  # districts match exactly: nothing to offer
    assert _import(app, SAMPLE).exit_code == 0
    page = get_page(client, "/find-a-pa")
    choices = [option.get_text() for option in page.soup.find("select", attrs={"name": "within"}).find_all("option")]
    assert choices[0] == "Only these districts" and "Within 3 miles" in choices
    # Jay covers NF3 to NF5; from NF1 (NF3 is 4 miles away) he is found only when the search reaches that far.
    exact = get_page(client, "/find-a-pa?districts=NF1&q=grandfather").text
    assert "Jay S." not in exact
    near = get_page(client, "/find-a-pa?districts=NF1&within=5&q=grandfather").text
    assert "Jay S." in near and "Covers NF3, about 4 miles away" in near
    # A distance that is not one of the choices is ignored, not trusted.
    assert "Jay S." not in get_page(client, "/find-a-pa?districts=NF1&within=500&q=grandfather").text
