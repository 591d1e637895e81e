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


# Changing the rows (the administrator's pages). Rows are history: a change adds a row from a date,
# never edits one, so what the portal worked out on any past day can be worked out again. Callers
# commit (a second row for the same date, added at the same moment, fails on the unique constraint).

EXCESS_WEEKS_RANGE = (1, 26)
RETENTION_YEARS_RANGE = (3, 10)
MAX_PENCE = 999_999_999  # £9,999,999.99: well inside a 32-bit integer column
RATE_KEY_CHARACTERS = frozenset("abcdefghijklmnopqrstuvwxyz0123456789_")
RATE_UNITS = ("pence per hour", "pence", "basis points")


class SettingsError(ValueError):
    """A change the rules refuse, with a message for the person making it and the field it is about."""

    def __init__(self, message: str, field: str | None = None):
        super().__init__(message)
        self.field = field


def council_settings_history(council_id: int) -> list[CouncilSettings]:
    """Every settings row of a council, the latest start date first."""
    return list(
        db.session.scalars(
            sa.select(CouncilSettings).where(CouncilSettings.council_id == council_id)
            .order_by(CouncilSettings.effective_from.desc())
        )
    )


def council_settings_row(council_id: int, on: date) -> CouncilSettings | None:
    """The row in force on a day (None: the defaults apply)."""
    return db.session.scalar(
        sa.select(CouncilSettings)
        .where(CouncilSettings.council_id == council_id, CouncilSettings.effective_from <= on)
        .order_by(CouncilSettings.effective_from.desc())
        .limit(1)
    )


def council_settings_in_force(on: date) -> dict[int, CouncilSettings]:
    """The row in force on a day for every council that has one, in one query."""
    rows = db.session.scalars(
        sa.select(CouncilSettings).where(CouncilSettings.effective_from <= on)
        .order_by(CouncilSettings.council_id, CouncilSettings.effective_from)
    )
    return {row.council_id: row for row in rows}  # the latest start date wins


def _whole(value, name: str) -> None:
    if not isinstance(value, int) or isinstance(value, bool):
        raise TypeError(f"{name} must be an integer")


def add_council_settings(
    *, council_id: int, effective_from: date, cycle_anchor: date, excess_weeks: int, contingency_pence: int,
    evidence_threshold_pence: int, retention_years: int, user_id: int | None = None,
) -> CouncilSettings:
    for value, name in ((excess_weeks, "excess_weeks"), (contingency_pence, "contingency_pence"),
                        (evidence_threshold_pence, "evidence_threshold_pence"), (retention_years, "retention_years")):
        _whole(value, name)
    low, high = EXCESS_WEEKS_RANGE
    if not low <= excess_weeks <= high:
        raise SettingsError(f"The excess balance threshold must be between {low} and {high} weeks", "excess_weeks")
    if not 0 <= contingency_pence <= MAX_PENCE:
        raise SettingsError("The contingency must be between £0 and £9,999,999.99", "contingency")
    if not 0 <= evidence_threshold_pence <= MAX_PENCE:
        raise SettingsError("The receipt threshold must be between £0 and £9,999,999.99", "evidence_threshold")
    low, high = RETENTION_YEARS_RANGE
    if not low <= retention_years <= high:
        raise SettingsError(f"Records must be kept for between {low} and {high} years", "retention_years")
    if db.session.scalar(
        sa.select(CouncilSettings.id).where(CouncilSettings.council_id == council_id, CouncilSettings.effective_from == effective_from)
    ):
        raise SettingsError("This council already has settings from that date: choose another date", "effective_from")
    row = CouncilSettings(
        council_id=council_id, effective_from=effective_from, cycle_anchor=cycle_anchor, excess_weeks=excess_weeks,
        contingency_pence=contingency_pence, evidence_threshold_pence=evidence_threshold_pence,
        retention_years=retention_years, created_by_id=user_id,
    )
    db.session.add(row)
    db.session.flush()
    return row


def rate_history() -> dict[str, list[NationalRate]]:
    """Every national rate row, by key (keys in order), the latest start date first within a key."""
    history: dict[str, list[NationalRate]] = {}
    for row in db.session.scalars(sa.select(NationalRate).order_by(NationalRate.key, NationalRate.effective_from.desc())):
        history.setdefault(row.key, []).append(row)
    return history


def latest_rate_row(key: str) -> NationalRate | None:
    """The row with the latest start date for a key (whether or not it is in force yet)."""
    return db.session.scalar(
        sa.select(NationalRate).where(NationalRate.key == key).order_by(NationalRate.effective_from.desc()).limit(1)
    )


def valid_rate_key(key: str) -> bool:
    """Lower-case letters, numbers and underscores, in parts joined by dots: minimum_wage.21_and_over."""
    return 0 < len(key) <= 60 and all(part and set(part) <= RATE_KEY_CHARACTERS for part in key.split("."))


def add_national_rate(
    *, key: str, label: str, effective_from: date, value: int, unit: str, source: str = "", user_id: int | None = None,
) -> NationalRate:
    _whole(value, "value")
    key, label, source = key.strip(), label.strip(), source.strip()
    if not valid_rate_key(key):
        raise SettingsError(
            "Enter a key of lower-case letters, numbers and underscores, in parts joined by dots, like minimum_wage.21_and_over",
            "new_key",
        )
    if not label:
        raise SettingsError("Enter the rate's name", "label")
    if unit not in RATE_UNITS:
        raise SettingsError("Select the unit", "unit")
    if not 0 <= value <= MAX_PENCE:
        raise SettingsError("Enter an amount between 0 and 9,999,999.99", "value")
    latest = latest_rate_row(key)
    if latest is not None and latest.unit != unit:
        # Everything that reads a rate reads it in one unit: a key keeps the unit it started with.
        raise SettingsError(f"This rate is kept in {latest.unit}: select that unit", "unit")
    if db.session.scalar(sa.select(NationalRate.id).where(NationalRate.key == key, NationalRate.effective_from == effective_from)):
        raise SettingsError("This rate already has a row from that date: choose another date", "effective_from")
    row = NationalRate(
        key=key, label=label[:200], effective_from=effective_from, value=value, unit=unit, source=source[:200],
        created_by_id=user_id,
    )
    db.session.add(row)
    db.session.flush()
    return row
