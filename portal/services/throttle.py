"""Sign-in throttling. Only failures count, and they are kept in the database so every process agrees."""

from dataclasses import dataclass
from datetime import datetime, timedelta
from math import ceil

import sqlalchemy as sa

from portal.extensions import db
from portal.models import SignInFailure
from portal.services.clock import utcnow


@dataclass(frozen=True)
class ThrottleLimits:
    window: timedelta
    account_failures: int
    address_failures: int


@dataclass(frozen=True)
class Refusal:
    reason: str  # "account" or "address"
    retry_after: timedelta

    @property
    def minutes(self) -> int:
        return max(1, ceil(self.retry_after.total_seconds() / 60))


def _recent(column, value, since: datetime):
    return sa.select(SignInFailure.at).where(
        column == value, SignInFailure.at > since, SignInFailure.cleared_at.is_(None)
    )


def check(email: str, address: str, limits: ThrottleLimits) -> Refusal | None:
    """Whether a new attempt for this email from this address must be refused, and for how long."""
    now = utcnow()
    since = now - limits.window
    for reason, column, value, limit in (
        ("account", SignInFailure.email, email, limits.account_failures),
        ("address", SignInFailure.address, address, limits.address_failures),
    ):
        times = list(db.session.scalars(_recent(column, value, since).order_by(SignInFailure.at.desc()).limit(limit)))
        if len(times) >= limit:
            # Attempts are allowed again when the oldest of the last `limit` failures leaves the window.
            return Refusal(reason, times[-1] + limits.window - now)
    return None


def record_failure(email: str, address: str) -> None:
    db.session.add(SignInFailure(email=email, address=address))


def lift(email: str | None = None, address: str | None = None) -> int:
    """Clear counted failures for an account or an address (an administrator's action)."""
    conditions = [SignInFailure.cleared_at.is_(None)]
    if email:
        conditions.append(SignInFailure.email == email)
    elif address:
        conditions.append(SignInFailure.address == address)
    else:
        raise ValueError("Name an email or an address to lift a throttle")
    result = db.session.execute(sa.update(SignInFailure).where(*conditions).values(cleared_at=utcnow()))
    return result.rowcount or 0


def currently_throttled(limits: ThrottleLimits) -> list[tuple[str, str, int]]:
    """(kind, value, failures) for every account and address over its limit now."""
    since = utcnow() - limits.window
    rows = []
    for kind, column, limit in (
        ("account", SignInFailure.email, limits.account_failures),
        ("address", SignInFailure.address, limits.address_failures),
    ):
        query = (
            sa.select(column, sa.func.count())
            .where(SignInFailure.at > since, SignInFailure.cleared_at.is_(None))
            .group_by(column)
            .having(sa.func.count() >= limit)
            .order_by(column)
        )
        rows += [(kind, value, count) for value, count in db.session.execute(query)]
    return rows
