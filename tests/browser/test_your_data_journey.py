"""Browser journey for the data download (issue 8), with axe-core and a CSP check on every page reached.

Amina finds "Download your data" on her account page and downloads the zip; David, who manages Grace's
direct payment, finds the download on Grace's page and downloads hers. Each download is audited, so the
journey has a server and database of its own.
"""

import io
import zipfile

import pytest
from playwright.sync_api import expect

from tests.browser.conftest import h1, journey_on

pytestmark = pytest.mark.browser


@pytest.fixture
def download_journey(browser, fresh_live_server):
    yield from journey_on(browser, fresh_live_server, accept_downloads=True)


def _person_id(journey, given: str, family: str) -> int:
    import sqlalchemy as sa

    from portal.extensions import db
    from portal.models import Person

    with journey.server.app.app_context():
        return db.session.scalar(sa.select(Person.id).where(Person.given_name == given, Person.family_name == family))


def _download(journey, tmp_path, name: str) -> zipfile.ZipFile:
    page = journey.page
    with page.expect_download() as download_info:
        page.get_by_role("button", name="Download the data (zip file)").click()
    saved = tmp_path / name
    download_info.value.save_as(saved)
    return zipfile.ZipFile(io.BytesIO(saved.read_bytes()))


def test_amina_downloads_her_data_and_david_downloads_graces(download_journey, tmp_path):
    journey = download_journey
    page = journey.page
    journey.sign_in("amina@example.org")
    journey.goto("/account")
    journey.click(page.get_by_role("link", name="Download your data"))
    expect(h1(page)).to_have_text("Download your data")
    archive = _download(journey, tmp_path, "amina.zip")
    names = archive.namelist()
    assert "README.txt" in names and any(n.endswith(".json") for n in names) and any(n.endswith(".csv") for n in names)
    assert "Patel" in archive.read(next(n for n in names if n.startswith("people"))).decode()
    journey.goto("/account")  # nothing else changed: the way back works
    expect(h1(page)).to_have_text("Your account")
    journey.sign_out()

    journey.sign_in("david@example.org")
    journey.goto(f"/people/{_person_id(journey, 'Grace', 'Okafor')}")
    journey.click(page.get_by_role("link", name="Download everything held about Grace Okafor"))
    expect(h1(page)).to_have_text("Download Grace Okafor's data")
    archive = _download(journey, tmp_path, "grace.zip")
    people = archive.read(next(n for n in archive.namelist() if n.startswith("people"))).decode()
    assert "Okafor" in people and "Patel" not in people
