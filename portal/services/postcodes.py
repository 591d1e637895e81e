"""Postcode district centroids (from the ONS Postcode Directory) and distances between districts.

`flask --app portal import-postcodes FILE` reads an ONSPD-style CSV (or the zip ONS publishes) row by
row, keeps live postcodes that have a grid reference, and stores one centroid per outward code: the
average latitude and longitude of its postcodes. Importing again replaces every row.

The register's search uses the centroids for "within N miles": every district whose centroid lies
within that distance of a chosen district. Without centroids (or for a district with none) districts
match exactly, as before. The table holds a few thousand rows, so distances are worked out here in
Python, once per request.
"""

import csv
import io
import math
import re
import zipfile
from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import sqlalchemy as sa
from flask import g, has_app_context

from portal.extensions import db
from portal.models.postcodes import DistrictCentroid
from portal.services.clock import utcnow

EARTH_RADIUS_MILES = 3958.8
NO_LOCATION_LATITUDE = 99.0  # ONS gives 99.999999 for postcodes without a grid reference
BATCH = 1000
OUTWARD = re.compile(r"^[A-Z]{1,2}[0-9][0-9A-Z]?$")
POSTCODE_COLUMNS = ("pcds", "pcd", "pcd7", "pcd8", "pcd2", "postcode")
LATITUDE_COLUMNS = ("lat", "latitude")
LONGITUDE_COLUMNS = ("long", "longitude", "lon", "lng")
TERMINATED_COLUMNS = ("doterm",)
_CACHE_KEY = "_district_centroids"


class PostcodeFileError(ValueError):
    """The file cannot be read as a postcode directory (the message says why, for the administrator)."""


@dataclass
class ImportReport:
    rows: int = 0
    used: int = 0
    terminated: int = 0
    no_location: int = 0
    unreadable: int = 0
    districts: int = 0

    def lines(self) -> list[str]:
        return [
            f"Rows read: {self.rows}",
            f"Postcodes used: {self.used}",
            f"Terminated postcodes skipped: {self.terminated}",
            f"Postcodes without a location skipped: {self.no_location}",
            f"Rows that could not be read: {self.unreadable}",
            f"Districts stored: {self.districts}",
        ]


def outward_code(postcode: str) -> str | None:
    """'NF3 4AB' -> 'NF3'; 'AB100AA' (ONS's 7-character form) -> 'AB10'; None for anything else."""
    text = (postcode or "").strip().upper()
    if len(text) < 5:
        return None
    code = text.split()[0] if " " in text else text[:-3].strip()
    return code if OUTWARD.match(code) else None


def _column(header: list[str], names: tuple[str, ...]) -> int | None:
    lowered = [name.strip().lower() for name in header]
    for name in names:
        if name in lowered:
            return lowered.index(name)
    return None


@contextmanager
def _text_lines(path: Path) -> Iterator[io.TextIOBase]:
    """The CSV as text (in a zip, the biggest .csv, preferring ONS's Data/ folder), with any byte-order mark dropped."""
    if zipfile.is_zipfile(path):
        with zipfile.ZipFile(path) as archive:
            names = [n for n in archive.namelist() if n.lower().endswith(".csv")]
            data = [n for n in names if "/data/" in f"/{n.lower()}"] or names
            if not data:
                raise PostcodeFileError("The zip file holds no CSV file")
            biggest = max(data, key=lambda n: archive.getinfo(n).file_size)
            with archive.open(biggest) as raw:
                yield io.TextIOWrapper(raw, encoding="utf-8-sig", errors="replace", newline="")
                return
    with open(path, encoding="utf-8-sig", errors="replace", newline="") as handle:
        yield handle


def read_centroids(lines: Iterable[str], report: ImportReport) -> dict[str, tuple[float, float, int]]:
    """Average position of each outward code's live, located postcodes: {code: (lat, long, count)}."""
    reader = csv.reader(lines)
    header = next(reader, None)
    if not header:
        raise PostcodeFileError("The file is empty")
    postcode_at = _column(header, POSTCODE_COLUMNS)
    latitude_at = _column(header, LATITUDE_COLUMNS)
    longitude_at = _column(header, LONGITUDE_COLUMNS)
    terminated_at = _column(header, TERMINATED_COLUMNS)
    missing = [label for label, at in (("a postcode (pcd or pcds)", postcode_at), ("lat", latitude_at),
                                       ("long", longitude_at)) if at is None]
    if missing:
        raise PostcodeFileError(
            "The file does not have the columns needed: " + ", ".join(missing)
            + ". Use the ONS Postcode Directory CSV (columns pcd or pcds, lat, long and doterm)")
    needed = max(at for at in (postcode_at, latitude_at, longitude_at, terminated_at) if at is not None)
    sums: dict[str, list[float]] = {}
    for row in reader:
        if not row:
            continue
        report.rows += 1
        if len(row) <= needed:
            report.unreadable += 1
            continue
        if terminated_at is not None and row[terminated_at].strip():
            report.terminated += 1
            continue
        code = outward_code(row[postcode_at])
        try:
            latitude, longitude = float(row[latitude_at]), float(row[longitude_at])
        except ValueError:
            latitude = longitude = None
        if code is None:
            report.unreadable += 1
            continue
        if latitude is None or longitude is None or abs(latitude) >= NO_LOCATION_LATITUDE or abs(longitude) > 180:
            report.no_location += 1
            continue
        total = sums.get(code)
        if total is None:
            sums[code] = [latitude, longitude, 1]
        else:
            total[0] += latitude
            total[1] += longitude
            total[2] += 1
        report.used += 1
    return {code: (lat / count, lon / count, int(count)) for code, (lat, lon, count) in sums.items()}


def import_file(path: str | Path) -> ImportReport:
    """Replace the district centroids with those of this file, in one transaction. Commits."""
    path = Path(path)
    report = ImportReport()
    with _text_lines(path) as lines:
        found = read_centroids(lines, report)
    if not found:
        raise PostcodeFileError("The file has no live postcodes with a location, so nothing was changed")
    now = utcnow()
    rows = [{"code": code, "latitude": lat, "longitude": lon, "postcodes": count, "loaded_at": now}
            for code, (lat, lon, count) in sorted(found.items())]
    try:
        db.session.execute(sa.delete(DistrictCentroid))
        for start in range(0, len(rows), BATCH):
            db.session.execute(sa.insert(DistrictCentroid), rows[start:start + BATCH])
        db.session.commit()
    except BaseException:
        db.session.rollback()
        raise
    forget_cache()
    report.districts = len(rows)
    return report


# Distances -------------------------------------------------------------------------------------


def miles_between(a: tuple[float, float], b: tuple[float, float]) -> float:
    """Great-circle distance in miles between two (latitude, longitude) points (haversine)."""
    lat1, lon1, lat2, lon2 = map(math.radians, (a[0], a[1], b[0], b[1]))
    h = math.sin((lat2 - lat1) / 2) ** 2 + math.cos(lat1) * math.cos(lat2) * math.sin((lon2 - lon1) / 2) ** 2
    return 2 * EARTH_RADIUS_MILES * math.asin(min(1.0, math.sqrt(h)))


def _cache() -> dict:
    """Centroids and distances remembered for this request (or app context); nothing outside one."""
    return g.setdefault(_CACHE_KEY, {}) if has_app_context() else {}


def forget_cache() -> None:
    if has_app_context():
        g.pop(_CACHE_KEY, None)


def centroids() -> dict[str, tuple[float, float]]:
    """Every district's centroid: {code: (latitude, longitude)}, read once per request."""
    cache = _cache()
    if "all" not in cache:
        cache["all"] = {code: (lat, lon) for code, lat, lon in db.session.execute(
            sa.select(DistrictCentroid.code, DistrictCentroid.latitude, DistrictCentroid.longitude))}
    return cache["all"]


def have_centroids() -> bool:
    """True when an administrator has loaded centroids (so search may offer "within N miles")."""
    return bool(centroids())


def distances_from(codes: Iterable[str]) -> dict[str, float]:
    """Miles from the nearest of the codes to every district with a centroid ({} when none of the codes has one)."""
    chosen = tuple(sorted(set(codes)))
    cache = _cache().setdefault("from", {})
    if chosen not in cache:
        known = centroids()
        points = [known[code] for code in chosen if code in known]
        cache[chosen] = {code: min(miles_between(point, origin) for origin in points)
                         for code, point in known.items()} if points else {}
    return cache[chosen]


def districts_within(codes: Iterable[str], miles: float | None) -> dict[str, float]:
    """Each district within `miles` of any of the codes, with its distance to the nearest one.

    The codes themselves are always in (at 0 miles), with or without a centroid of their own."""
    chosen = list(dict.fromkeys(codes))
    if miles is None or miles <= 0:
        return {code: 0.0 for code in chosen}
    cache = _cache().setdefault("within", {})
    key = (tuple(chosen), miles)
    if key not in cache:
        found = {code: 0.0 for code in chosen}
        for code, distance in distances_from(chosen).items():
            if code not in found and distance <= miles:
                found[code] = distance
        cache[key] = found
    return dict(cache[key])


def miles_in_words(miles: float) -> str:
    """'less than a mile away', 'about 1 mile away', 'about 4 miles away'."""
    rounded = round(miles)
    if rounded < 1:
        return "less than a mile away"
    return f"about {rounded} mile{'s' if rounded != 1 else ''} away"
