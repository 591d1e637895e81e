"""Council settings and national rates in force on a day (rows with history; defaults when none)."""

from dataclasses import dataclass
from datetime import date

import sqlalchemy as sa

from portal.extensions import db
from portal.models import CouncilSettings, NationalRate

# Used when a council has no settings row yet: the defaults of rates.md.
DEFAULT_CYCLE_ANCHOR = date(2026, 4, 6)


@dataclass(frozen=True)
class Settings:
    cycle_anchor: date
    excess_weeks: int
    contingency_pence: int
    evidence_threshold_pence: int
    retention_years: int


DEFAULTS = Settings(DEFAULT_CYCLE_ANCHOR, 4, 0, 0, 6)


def council_settings(council_id: int, on: date) -> Settings:
    row = db.session.scalar(
        sa.select(CouncilSettings)
        .where(CouncilSettings.council_id == council_id, CouncilSettings.effective_from <= on)
        .order_by(CouncilSettings.effective_from.desc())
        .limit(1)
    )
    if row is None:
        return DEFAULTS
    return Settings(row.cycle_anchor, row.excess_weeks, row.contingency_pence, row.evidence_threshold_pence, row.retention_years)


def national_rate(key: str, on: date) -> int | None:
    return db.session.scalar(
        sa.select(NationalRate.value)
        .where(NationalRate.key == key, NationalRate.effective_from <= on)
        .order_by(NationalRate.effective_from.desc())
        .limit(1)
    )
