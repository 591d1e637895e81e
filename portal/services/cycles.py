"""Four-weekly payment cycles and proration (pure functions: dates and integer pence in, pence out).

A part cycle pays round-half-up(weekly pence x days / 7) for each stretch of days at one weekly
amount (domain.md, "Proration").
"""

from dataclasses import dataclass
from datetime import date, timedelta

CYCLE_DAYS = 28


def cycle_start_on_or_before(anchor: date, day: date) -> date:
    return anchor + timedelta(days=((day - anchor).days // CYCLE_DAYS) * CYCLE_DAYS)


def cycle_starts(anchor: date, first: date, last: date) -> list[date]:
    """Starts of every cycle that overlaps [first, last] (none if last is before first)."""
    if last < first:
        return []
    start = cycle_start_on_or_before(anchor, first)
    starts = []
    while start <= last:
        starts.append(start)
        start += timedelta(days=CYCLE_DAYS)
    return starts


def round_half_up_div(numerator: int, denominator: int) -> int:
    """Integer division rounding halves away from zero (for non-negative and negative numerators)."""
    sign = -1 if (numerator < 0) != (denominator < 0) else 1
    q, r = divmod(abs(numerator), abs(denominator))
    return sign * (q + (1 if 2 * r >= abs(denominator) else 0))


@dataclass(frozen=True)
class Stretch:
    """Days [start, end] (inclusive) at one weekly amount."""

    start: date
    end: date
    weekly_pence: int

    @property
    def days(self) -> int:
        return (self.end - self.start).days + 1


def prorate(stretches: list[Stretch]) -> int:
    return sum(round_half_up_div(s.weekly_pence * s.days, 7) for s in stretches)


def stretches_in_cycle(
    cycle_start: date,
    versions: list[tuple[date, int]],
    active_from: date,
    active_to: date | None,
    paused: list[tuple[date, date | None]] = (),
) -> list[Stretch]:
    """The stretches of a cycle that are paid: within the budget's dates, outside suspensions,
    each at the weekly amount of the version in force (versions: (effective_from, weekly pence))."""
    cycle_end = cycle_start + timedelta(days=CYCLE_DAYS - 1)
    first = max(cycle_start, active_from)
    last = min(cycle_end, active_to) if active_to else cycle_end
    if first > last:
        return []
    ordered = sorted(versions)
    stretches: list[Stretch] = []
    day = first
    while day <= last:
        weekly = _amount_on(ordered, day)
        # Run until the amount changes, a suspension starts or ends, or the cycle ends.
        end = last
        for effective_from, _ in ordered:
            if day < effective_from <= end:
                end = effective_from - timedelta(days=1)
        paused_now = _is_paused(paused, day)
        for start, stop in paused:
            if day < start <= end:
                end = start - timedelta(days=1)
            if stop and day < stop <= end:
                end = stop - timedelta(days=1)
        if weekly is not None and not paused_now:
            stretches.append(Stretch(day, end, weekly))
        day = end + timedelta(days=1)
    return stretches


def _amount_on(versions: list[tuple[date, int]], day: date) -> int | None:
    amount = None
    for effective_from, weekly in versions:
        if effective_from <= day:
            amount = weekly
    return amount


def _is_paused(paused, day: date) -> bool:
    return any(start <= day and (stop is None or day < stop) for start, stop in paused)
