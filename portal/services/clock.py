"""Time in one place: UTC for storing, Europe/London for what people see and for dates."""

from datetime import UTC, date, datetime
from zoneinfo import ZoneInfo

LONDON = ZoneInfo("Europe/London")


def utcnow() -> datetime:
    return datetime.now(UTC)


def london_today() -> date:
    return datetime.now(LONDON).date()


def to_london(moment: datetime) -> datetime:
    return moment.astimezone(LONDON)
