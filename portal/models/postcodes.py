"""Postcode district centroids, loaded from the ONS Postcode Directory by an administrator.

One row per outward code (NF3, AB10): the average position of its live postcodes. Only the register's
"within N miles" search reads it; without it, districts match exactly.
"""

from datetime import datetime

from sqlalchemy import Float, Integer, String
from sqlalchemy.orm import Mapped, mapped_column

from portal.extensions import db
from portal.models.base import UTCDateTime, utcnow


class DistrictCentroid(db.Model):
    __tablename__ = "district_centroids"

    code: Mapped[str] = mapped_column(String(8), primary_key=True)
    latitude: Mapped[float] = mapped_column(Float)
    longitude: Mapped[float] = mapped_column(Float)
    postcodes: Mapped[int] = mapped_column(Integer)  # live postcodes averaged
    loaded_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)
