"""Pure tests of the 4-weekly cycles and proration (portal/services/cycles.py): no database.

domain.md, "Proration": a part cycle pays round-half-up(weekly pence x days / 7) for each stretch of
days at one weekly amount. Cycles are 28 days from a council's anchor date, whatever the calendar
does (a leap day is just one more day inside some cycle).
"""

import itertools
from datetime import date, timedelta

import pytest
from hypothesis import assume, given, settings
from hypothesis import strategies as st

from portal.services import cycles
from portal.services.cycles import (
    CYCLE_DAYS,
    Stretch,
    cycle_start_on_or_before,
    cycle_starts,
    prorate,
    round_half_up_div,
    stretches_in_cycle,
)

ANCHOR = date(2026, 4, 6)  # a Monday; the portal's default anchor
C0 = date(2026, 6, 1)  # a cycle start on ANCHOR's grid (ANCHOR + 56 days)
C0_END = C0 + timedelta(days=27)


def d(n: int) -> date:
    """Day n of the cycle starting C0 (0-based)."""
    return C0 + timedelta(days=n)


def pay(stretches) -> int:
    return prorate(stretches)


# Rounding -------------------------------------------------------------------------------------


def test_three_sevenths_of_448_pounds_is_exactly_192_pounds():
    assert round_half_up_div(44800 * 3, 7) == 19200


@pytest.mark.parametrize(
    ("numerator", "denominator", "expected"),
    [
        (5, 2, 3),  # 2.5 rounds up
        (3, 2, 2),  # 1.5 rounds up
        (1, 2, 1),  # 0.5 rounds up
        (7, 2, 4),
        (4, 7, 1),  # 0.571... up
        (3, 7, 0),  # 0.428... down
        (0, 7, 0),
        (14, 7, 2),
        (10001 * 1, 7, 1429),  # 1428.71...
        (10000 * 1, 7, 1429),  # 1428.571...
        (9999 * 1, 7, 1428),  # 1428.428...
    ],
)
def test_round_half_up(numerator, denominator, expected):
    assert round_half_up_div(numerator, denominator) == expected


@pytest.mark.parametrize(
    ("numerator", "denominator", "expected"),
    [
        (-5, 2, -3),  # halves go away from zero, so a reduction mirrors an increase
        (-1, 2, -1),
        (-3, 7, 0),
        (-4, 7, -1),
        (5, -2, -3),
        (-5, -2, 3),
        (-44800 * 3, 7, -19200),
    ],
)
def test_round_half_up_negatives_mirror_positives(numerator, denominator, expected):
    assert round_half_up_div(numerator, denominator) == expected


@given(st.integers(-10**12, 10**12), st.integers(1, 10**6))
def test_rounding_is_symmetric_and_within_half(numerator, denominator):
    result = round_half_up_div(numerator, denominator)
    assert round_half_up_div(-numerator, denominator) == -result
    assert round_half_up_div(numerator, -denominator) == -result
    # |numerator / denominator - result| <= 1/2, in integers.
    assert abs(numerator - result * denominator) * 2 <= denominator
    # Exactly half: the result is the one further from zero.
    if abs(numerator - result * denominator) * 2 == denominator:
        assert abs(result * denominator) > abs(numerator)


# Cycle starts ---------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("day", "expected"),
    [
        (ANCHOR, ANCHOR),
        (ANCHOR + timedelta(days=1), ANCHOR),
        (ANCHOR + timedelta(days=27), ANCHOR),
        (ANCHOR + timedelta(days=28), ANCHOR + timedelta(days=28)),
        (ANCHOR + timedelta(days=55), ANCHOR + timedelta(days=28)),
        (ANCHOR + timedelta(days=56), ANCHOR + timedelta(days=56)),
        # Before the anchor the grid runs backwards: cycles still start every 28 days.
        (ANCHOR - timedelta(days=1), ANCHOR - timedelta(days=28)),
        (ANCHOR - timedelta(days=27), ANCHOR - timedelta(days=28)),
        (ANCHOR - timedelta(days=28), ANCHOR - timedelta(days=28)),
        (ANCHOR - timedelta(days=29), ANCHOR - timedelta(days=56)),
        (date(2020, 1, 1), date(2019, 12, 23)),  # 2,287 days back: 81 whole cycles and 19 days
    ],
)
def test_cycle_start_on_or_before(day, expected):
    assert cycle_start_on_or_before(ANCHOR, day) == expected


@given(st.dates(date(2000, 1, 1), date(2100, 12, 31)), st.dates(date(2000, 1, 1), date(2100, 12, 31)))
def test_cycle_start_is_on_the_grid_and_contains_the_day(anchor, day):
    start = cycle_start_on_or_before(anchor, day)
    assert (start - anchor).days % CYCLE_DAYS == 0
    assert start <= day < start + timedelta(days=CYCLE_DAYS)


def test_cycle_starts_covers_every_overlapping_cycle():
    assert cycle_starts(ANCHOR, d(27), d(28)) == [C0, d(28)]
    assert cycle_starts(ANCHOR, C0, C0) == [C0]
    assert cycle_starts(ANCHOR, d(5), d(100)) == [C0, d(28), d(56), d(84)]


# Stretches at the edges of a cycle ------------------------------------------------------------


def test_full_cycle_one_version_is_four_weeks_exactly():
    stretches = stretches_in_cycle(C0, [(C0, 44800)], C0, None)
    assert stretches == [Stretch(C0, C0_END, 44800)]
    assert stretches[0].days == 28
    assert pay(stretches) == 4 * 44800


@given(st.integers(1, 10**7))
def test_full_cycle_is_four_times_weekly_for_any_amount(weekly):
    assert pay(stretches_in_cycle(C0, [(C0 - timedelta(days=400), weekly)], C0 - timedelta(days=400), None)) == 4 * weekly


def test_budget_starting_on_the_last_day_of_a_cycle_pays_one_day():
    stretches = stretches_in_cycle(C0, [(C0_END, 7000)], C0_END, None)
    assert stretches == [Stretch(C0_END, C0_END, 7000)]
    assert pay(stretches) == 1000
    # The next cycle is a whole one.
    assert pay(stretches_in_cycle(d(28), [(C0_END, 7000)], C0_END, None)) == 28000


def test_budget_ending_on_the_first_day_of_a_cycle_pays_one_day():
    stretches = stretches_in_cycle(C0, [(C0 - timedelta(days=60), 44800)], C0 - timedelta(days=60), C0)
    assert stretches == [Stretch(C0, C0, 44800)]
    assert pay(stretches) == 6400
    # Nothing after it ends.
    assert stretches_in_cycle(d(28), [(C0 - timedelta(days=60), 44800)], C0 - timedelta(days=60), C0) == []


def test_budget_starting_and_ending_inside_one_cycle():
    stretches = stretches_in_cycle(C0, [(d(5), 35600)], d(5), d(10))
    assert stretches == [Stretch(d(5), d(10), 35600)]
    assert pay(stretches) == round_half_up_div(35600 * 6, 7) == 30514  # 30514.28...


def test_budget_outside_the_cycle_pays_nothing():
    assert stretches_in_cycle(C0, [(d(28), 7000)], d(28), None) == []
    assert stretches_in_cycle(C0, [(d(-30), 7000)], d(-30), d(-1)) == []


def test_three_days_at_448_pounds_is_192_pounds():
    stretches = stretches_in_cycle(C0, [(d(25), 44800)], d(25), None)
    assert [s.days for s in stretches] == [3]
    assert pay(stretches) == 19200


def test_a_part_cycle_rounds_each_stretch_half_up():
    # 10000 x 4 / 7 = 5714.28 -> 5714; 10000 x 3 / 7 = 4285.71 -> 4286
    assert pay(stretches_in_cycle(C0, [(d(24), 10000)], d(24), None)) == 5714
    assert pay(stretches_in_cycle(C0, [(d(25), 10000)], d(25), None)) == 4286


# Versions and suspensions ---------------------------------------------------------------------


def test_a_change_mid_cycle_makes_two_stretches_and_pays_their_sum():
    versions = [(d(-100), 35600), (d(10), 44800)]
    stretches = stretches_in_cycle(C0, versions, d(-100), None)
    assert stretches == [Stretch(C0, d(9), 35600), Stretch(d(10), C0_END, 44800)]
    expected = round_half_up_div(35600 * 10, 7) + round_half_up_div(44800 * 18, 7)
    assert pay(stretches) == expected == 50857 + 115200


def test_versions_given_in_any_order():
    versions = [(d(10), 44800), (d(-100), 35600)]
    assert stretches_in_cycle(C0, versions, d(-100), None) == [Stretch(C0, d(9), 35600), Stretch(d(10), C0_END, 44800)]


def test_a_change_on_the_first_day_of_the_cycle_makes_one_stretch():
    stretches = stretches_in_cycle(C0, [(d(-100), 35600), (C0, 44800)], d(-100), None)
    assert stretches == [Stretch(C0, C0_END, 44800)]


def test_a_change_that_keeps_the_same_amount_still_splits_but_pays_the_same():
    # Two versions with the same gross (e.g. only the contribution changed).
    stretches = stretches_in_cycle(C0, [(d(-100), 44800), (d(10), 44800)], d(-100), None)
    assert len(stretches) == 2
    assert pay(stretches) == 4 * 44800


def test_days_before_the_first_version_are_not_paid():
    stretches = stretches_in_cycle(C0, [(d(7), 7000)], C0, None)
    assert stretches == [Stretch(d(7), C0_END, 7000)]


def test_suspension_mid_cycle_and_resuming():
    # Stopped from day 7; restarted on day 14 (ends_on is the first day paid again).
    stretches = stretches_in_cycle(C0, [(d(-100), 7000)], d(-100), None, [(d(7), d(14))])
    assert stretches == [Stretch(C0, d(6), 7000), Stretch(d(14), C0_END, 7000)]
    assert pay(stretches) == 7000 * 3  # 21 of 28 days


def test_open_ended_suspension_stops_the_rest_of_the_cycle_and_later_cycles():
    paused = [(d(7), None)]
    assert stretches_in_cycle(C0, [(d(-100), 7000)], d(-100), None, paused) == [Stretch(C0, d(6), 7000)]
    assert stretches_in_cycle(C0 + timedelta(days=28), [(d(-100), 7000)], d(-100), None, paused) == []


def test_suspension_from_an_earlier_cycle_resuming_mid_cycle():
    stretches = stretches_in_cycle(C0, [(d(-100), 7000)], d(-100), None, [(d(-20), d(3))])
    assert stretches == [Stretch(d(3), C0_END, 7000)]
    assert pay(stretches) == 25000


def test_suspension_covering_the_whole_cycle_pays_nothing():
    assert stretches_in_cycle(C0, [(d(-100), 7000)], d(-100), None, [(d(-1), d(28))]) == []


def test_suspension_and_change_together():
    versions = [(d(-100), 7000), (d(10), 14000)]
    paused = [(d(5), d(12)), (d(20), d(22))]
    stretches = stretches_in_cycle(C0, versions, d(-100), None, paused)
    assert stretches == [
        Stretch(C0, d(4), 7000),
        Stretch(d(12), d(19), 14000),
        Stretch(d(22), C0_END, 14000),
    ]
    assert pay(stretches) == 5 * 1000 + 8 * 2000 + 6 * 2000


# Leap years -----------------------------------------------------------------------------------


def test_a_cycle_containing_29_february_2028_still_has_28_days():
    start = cycle_start_on_or_before(ANCHOR, date(2028, 2, 29))
    assert start <= date(2028, 2, 29) < start + timedelta(days=28)
    stretches = stretches_in_cycle(start, [(date(2027, 1, 1), 44800)], date(2027, 1, 1), None)
    assert sum(s.days for s in stretches) == 28
    assert pay(stretches) == 4 * 44800
    # Every cycle through 2028 starts 28 days after the one before.
    starts = cycle_starts(ANCHOR, date(2028, 1, 1), date(2028, 12, 31))
    assert all((b - a).days == 28 for a, b in itertools.pairwise(starts))
    assert date(2028, 2, 29) in {s + timedelta(days=i) for s in starts for i in range(28)}


def test_a_stretch_across_29_february_counts_the_leap_day():
    anchor = date(2028, 2, 27)  # a cycle from 27 Feb 2028; the budget ends on 2 Mar
    stretches = stretches_in_cycle(anchor, [(anchor, 7000)], anchor, date(2028, 3, 2))
    assert [s.days for s in stretches] == [5]  # 27, 28, 29 Feb, 1, 2 Mar
    assert pay(stretches) == 5000
    # The same dates in 2027 (no leap day) are four days.
    stretches = stretches_in_cycle(date(2027, 2, 27), [(date(2027, 2, 27), 7000)], date(2027, 2, 27), date(2027, 3, 2))
    assert pay(stretches) == 4000


def test_a_version_change_on_29_february():
    start = date(2028, 2, 14)
    stretches = stretches_in_cycle(start, [(start, 7000), (date(2028, 2, 29), 14000)], start, None)
    assert stretches == [Stretch(start, date(2028, 2, 28), 7000), Stretch(date(2028, 2, 29), date(2028, 3, 12), 14000)]
    assert pay(stretches) == 15 * 1000 + 13 * 2000


# Properties -----------------------------------------------------------------------------------


@st.composite
def splits(draw):
    """A weekly amount and a split of a 28-day cycle into consecutive stretches at that amount."""
    weekly = draw(st.integers(0, 5_000_000))
    cuts = sorted(draw(st.sets(st.integers(1, 27), max_size=27)))
    bounds = [0, *cuts, 28]
    stretches = [Stretch(d(a), d(b - 1), weekly) for a, b in itertools.pairwise(bounds)]
    return weekly, stretches


@given(splits())
def test_any_split_of_a_cycle_pays_four_weeks_within_rounding(case):
    weekly, stretches = case
    assert sum(s.days for s in stretches) == 28
    total = prorate(stretches)
    assert abs(total - 4 * weekly) <= len(stretches)
    if len(stretches) == 1:
        assert total == 4 * weekly


@given(splits())
def test_the_same_split_through_version_changes_pays_the_same(case):
    # Splitting a cycle by "changes" that keep the amount: stretches_in_cycle cuts at each change.
    weekly, expected = case
    versions = [(s.start, weekly) for s in expected]
    got = stretches_in_cycle(C0, versions, C0, None)
    assert got == expected
    assert abs(prorate(got) - 4 * weekly) <= len(got)


def _reference_days(cycle_start, versions, active_from, active_to, paused):
    """Day by day: the weekly amount paid on each day of the cycle (None: not paid)."""
    out = {}
    for i in range(CYCLE_DAYS):
        day = cycle_start + timedelta(days=i)
        amount = None
        for effective_from, weekly in sorted(versions):
            if effective_from <= day:
                amount = weekly
        inside = active_from <= day and (active_to is None or day <= active_to)
        stopped = any(start <= day and (stop is None or day < stop) for start, stop in paused)
        out[day] = amount if inside and not stopped else None
    return out


offsets = st.integers(-40, 60)


@st.composite
def budgets(draw):
    first = draw(offsets)
    versions = {d(first): draw(st.integers(1, 100_000))}
    for _ in range(draw(st.integers(0, 3))):
        versions[d(draw(st.integers(first, 60)))] = draw(st.integers(1, 100_000))
    active_from = d(draw(st.integers(-45, 60)))
    active_to = draw(st.none() | offsets.map(d))
    paused = []
    for _ in range(draw(st.integers(0, 3))):
        start = draw(offsets)
        stop = draw(st.none() | st.integers(start + 1, 70))
        paused.append((d(start), d(stop) if stop is not None else None))
    return sorted(versions.items()), active_from, active_to, paused


@settings(max_examples=300)
@given(budgets())
def test_stretches_pay_exactly_the_days_due_at_the_amount_in_force(case):
    versions, active_from, active_to, paused = case
    assume(active_to is None or active_to >= active_from)
    stretches = stretches_in_cycle(C0, versions, active_from, active_to, paused)
    expected = _reference_days(C0, versions, active_from, active_to, paused)
    got: dict[date, int] = {}
    for s in stretches:
        assert C0 <= s.start <= s.end <= C0_END
        for i in range(s.days):
            day = s.start + timedelta(days=i)
            assert day not in got, "a day paid twice"
            got[day] = s.weekly_pence
    assert got == {day: amount for day, amount in expected.items() if amount is not None}
    # Stretches come in date order, and never cross a change of amount.
    assert [s.start for s in stretches] == sorted(s.start for s in stretches)
    total = prorate(stretches)
    # Never more than a pence per stretch away from the exact fraction.
    exact_sevenths = sum(got.values())  # sum over days of weekly: 7 x the exact amount
    assert 2 * abs(7 * total - exact_sevenths) <= 7 * len(stretches)


def test_cycles_module_has_28_day_cycles():
    assert cycles.CYCLE_DAYS == 28
