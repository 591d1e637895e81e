"""Rule-based alerts: four rules that put a person in front of their caseworker, and never act on their own.

Each rule is one set-based query (or one per council, where the council's payment cycle matters) that
returns the people it fires for, each with a plain-English reason; run() raises an alert for each
through casework.raise_alert, which opens a safeguarding concern with the rule's name and no reporter
(shown in the work queues until a member of staff acknowledges it). Nothing else happens: no payment
is stopped, no one is emailed. A person whose case is closed on or before the day is left out.

"The day" is the London date the rules are run for (the `check-alerts` command's --day, today by
default). A cycle is the council's 4-week payment cycle (local_settings.cycle_anchor) containing the day;
its first day is day 1.

1. Family member's timesheet without agreement (FAMILY_TIMESHEET). A timesheet submitted (online, or a
   paper one recorded) from the start of the day before the day to the end of the day (London), for an
   employment caught by the close-family rule and with no date of the council's agreement recorded:
   the same rule as Employment.needs_council_agreement and domain.md: a spouse, civil partner or partner
   wherever they live; a parent, son or daughter (or in-law), stepchild, brother or sister, aunt or
   uncle, grandparent, or the partner of one of them, living in the same household. "Another relative"
   and relatives living elsewhere are not caught. Covering two days means a daily run at any hour misses
   nothing; a timesheet already alerted on (an alert of this rule for the person created at or after its
   submission, e.g. by timesheets.submit, which calls on_timesheet_submitted) does not fire again.
2. Cash withdrawals beyond the plan (CASH_BEYOND_PLAN). Support plans record whether cash is allowed
   (a reason) but no cash amount and no cash line, so: where the plan in force on the day records no
   reason for allowing cash, cash withdrawals (spend entries the card rules flagged "cash withdrawal",
   not reversed) dated from the cycle's first day to the day, added together, of more than the council's
   evidence threshold (the amount below which spend needs no receipt; 0 by default, so any cash counts)
   fire the rule. Exactly the threshold does not. Where the plan allows cash, the rule does not fire
   (there is no allowance to measure against). At most once per person per cycle.
3. Balance at zero early in the cycle (BALANCE_AT_ZERO). The balance of an account at the end of a day
   from day 1 to day 14 of the cycle (and not after the day), on which money moved in or out, is zero
   or less. The balance at the start of the cycle is the cached balance less every entry dated on or
   after day 1; day by day it is that plus the day's entries (a window sum). Day 15 does not count;
   £0.01 does not count. At most once per person per cycle.
4. Spending stopped (SPENDING_STOPPED). An account with an ongoing budget in force on the day had spend
   (spend entries taking money out) in each of the three 28-day periods before the last 28 days (days
   -111 to -84, -83 to -56 and -55 to -28, the day being day 0), and none in the last 28 days (-27 to
   0). A spend on day -27 means it has not stopped; a period with no spend means there was no pattern to
   stop. At most once per person in 28 days.

Running twice on the same day raises nothing new (the once-per-cycle or per-submission checks, and
raise_alert's once per person, rule and day). Alerts for a person land in whichever queue holds their
case: the work queues start from the provider's caseload, so one provider never sees another's.
"""

from collections import defaultdict
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, time, timedelta

import sqlalchemy as sa
from sqlalchemy.orm import aliased

from portal.extensions import db
from portal.models import (
    AccountBalance,
    Budget,
    BudgetKind,
    CaseloadEntry,
    DPAccount,
    Employment,
    EntryKind,
    EntryState,
    Flag,
    LedgerEntry,
    Organisation,
    OrganisationKind,
    Person,
    Recipient,
    Relationship,
    SupportPlan,
    Timesheet,
)
from portal.models.casework import SafeguardingConcern
from portal.services import casework, cycles
from portal.services.clock import LONDON
from portal.services.local_settings import council_settings

FAMILY_TIMESHEET = "family member's timesheet without council agreement"
CASH_BEYOND_PLAN = "cash withdrawals beyond the support plan"
BALANCE_AT_ZERO = "balance at zero early in the cycle"
SPENDING_STOPPED = "sudden stop in spending"
RULES = (FAMILY_TIMESHEET, CASH_BEYOND_PLAN, BALANCE_AT_ZERO, SPENDING_STOPPED)

EARLY_DAYS = 14  # the first half of the 4-week cycle
STOPPED_DAYS = 28  # no spend in this many days, counting the day
PATTERN_PERIODS = 3  # spend in each of this many 28-day periods before that

CLOSE_FAMILY = [r for r in Relationship if r.is_close_family]


@dataclass(frozen=True)
class Fired:
    recipient_id: int
    rule: str
    reason: str


@dataclass
class Report:
    day: date
    fired: dict[str, int] = field(default_factory=lambda: {rule: 0 for rule in RULES})
    raised: dict[str, int] = field(default_factory=lambda: {rule: 0 for rule in RULES})

    def lines(self) -> list[str]:
        out = [f"Alerts for {_long_date(self.day)}:"]
        for rule in RULES:
            people = "1 person" if self.fired[rule] == 1 else f"{self.fired[rule]} people"
            out.append(f"  {rule}: {people}, {self.raised[rule]} new alert{'' if self.raised[rule] == 1 else 's'}")
        total = sum(self.raised.values())
        out.append(f"{total} new alert{'' if total == 1 else 's'} in all (nothing else is done: they wait in the work queues).")
        return out


def _long_date(day: date) -> str:
    return f"{day.day} {day:%B %Y}"


def _pounds(pence: int) -> str:
    sign = "-" if pence < 0 else ""
    pounds, pennies = divmod(abs(int(pence)), 100)
    return f"{sign}£{pounds:,}.{pennies:02d}"


def _london_midnight(day: date) -> datetime:
    """The start of a London day, as a UTC instant (the database stores UTC)."""
    return datetime.combine(day, time(0), tzinfo=LONDON).astimezone(UTC)


def _case_open(recipient_id, day: date):
    """The person's case is not closed on or before the day (no caseload entry at all counts as open)."""
    return ~sa.exists().where(
        CaseloadEntry.recipient_id == recipient_id, CaseloadEntry.closed_on.is_not(None), CaseloadEntry.closed_on <= day)


def _alerted_since(recipient_id, rule: str, since):
    """An alert of this rule for the person created at or after `since` (an instant, or a column)."""
    return sa.exists().where(
        SafeguardingConcern.recipient_id == recipient_id, SafeguardingConcern.rule == rule,
        SafeguardingConcern.raised_by_id.is_(None), SafeguardingConcern.created_at >= since)


def _councils() -> list[int]:
    return list(db.session.scalars(
        sa.select(Organisation.id).where(Organisation.kind == OrganisationKind.COUNCIL).order_by(Organisation.id)))


def _cycle_start(council_id: int, day: date) -> date:
    return cycles.cycle_start_on_or_before(council_settings(council_id, day).cycle_anchor, day)


# 1. A family member's timesheet without the council's agreement --------------------------------------


def caught_by_family_rule():
    """Employments that need the council's agreement and have none (Employment.needs_council_agreement, in SQL)."""
    rel = Employment.relationship_to_employer
    return sa.and_(
        sa.or_(rel == Relationship.PARTNER, sa.and_(rel.in_(CLOSE_FAMILY), Employment.same_household.is_(True))),
        Employment.council_agreed_on.is_(None),
    )


def _family_reason(pa_name: str, relationship: Relationship, same_household: bool, start: date, end: date) -> str:
    living = " living in the same household" if same_household else ""
    return (f"{pa_name} submitted a timesheet for {_long_date(start)} to {_long_date(end)}. They are recorded as the "
            f"person's {relationship.value}{living}, and the council has not recorded that paying them is necessary.")


def family_timesheets(day: date) -> list[Fired]:
    since, until = _london_midnight(day - timedelta(days=1)), _london_midnight(day + timedelta(days=1))
    rows = db.session.execute(
        sa.select(Timesheet.employer_id, Person.given_name, Person.family_name, Employment.relationship_to_employer,
                  Employment.same_household, Timesheet.period_start, Timesheet.period_end)
        .select_from(Employment)
        .join(Timesheet, Timesheet.employment_id == Employment.id)
        .join(Person, Person.id == Employment.pa_id)
        .where(caught_by_family_rule(), Timesheet.submitted_at >= since, Timesheet.submitted_at < until,
               _case_open(Timesheet.employer_id, day),
               ~_alerted_since(Timesheet.employer_id, FAMILY_TIMESHEET, Timesheet.submitted_at))
        .order_by(Timesheet.employer_id, Timesheet.period_start, Timesheet.id)
    ).all()
    reasons: dict[int, list[str]] = defaultdict(list)
    for employer, given, family, relationship, household, start, end in rows:
        reasons[employer].append(_family_reason(f"{given} {family}", relationship, household, start, end))
    return [Fired(employer, FAMILY_TIMESHEET, " ".join(texts)) for employer, texts in reasons.items()]


def on_timesheet_submitted(ts: Timesheet) -> bool:
    """Called as a timesheet is submitted or recorded: raise the alert at once if the rule catches it.
    Returns whether a new alert was raised. The caller commits (with the submission)."""
    employment = ts.employment
    if not employment.needs_council_agreement:
        return False
    closed = db.session.scalar(sa.select(CaseloadEntry.closed_on).where(CaseloadEntry.recipient_id == ts.employer_id))
    if closed is not None:
        return False
    reason = _family_reason(employment.pa.full_name, employment.relationship_to_employer, employment.same_household,
                            ts.period_start, ts.period_end)
    _, created = casework.raise_alert(ts.employer_id, FAMILY_TIMESHEET, reason)
    return created


# 2. Cash withdrawals beyond the plan -----------------------------------------------------------------------


def _plan_allows_cash(recipient_id, day: date):
    """The support plan in force on the day (the latest from on or before it) records why cash is allowed."""
    other = aliased(SupportPlan)
    latest = (
        sa.select(sa.func.max(other.effective_from))
        .where(other.recipient_id == recipient_id, other.effective_from <= day)
        .scalar_subquery()
    )
    return sa.exists().where(SupportPlan.recipient_id == recipient_id, SupportPlan.effective_from == latest,
                             SupportPlan.cash_allowed_reason != "")


def cash_beyond_plan(day: date) -> list[Fired]:
    fired = []
    reversals = aliased(LedgerEntry)
    for council_id in _councils():
        settings = council_settings(council_id, day)
        start = cycles.cycle_start_on_or_before(settings.cycle_anchor, day)
        threshold = settings.evidence_threshold_pence
        cash = sa.func.sum(-LedgerEntry.amount_pence)
        rows = db.session.execute(
            sa.select(DPAccount.recipient_id, cash, sa.func.count())
            .select_from(Recipient)
            .join(DPAccount, DPAccount.recipient_id == Recipient.person_id)
            .join(LedgerEntry, LedgerEntry.account_id == DPAccount.id)
            .join(EntryState, EntryState.entry_id == LedgerEntry.id)
            .where(Recipient.council_id == council_id, LedgerEntry.kind == EntryKind.SPEND,
                   LedgerEntry.entry_date >= start, LedgerEntry.entry_date <= day,
                   EntryState.flags.contains(Flag.CASH.value),
                   ~sa.exists().where(reversals.reverses_id == LedgerEntry.id),
                   ~_plan_allows_cash(DPAccount.recipient_id, day), _case_open(DPAccount.recipient_id, day),
                   ~_alerted_since(DPAccount.recipient_id, CASH_BEYOND_PLAN, _london_midnight(start)))
            .group_by(DPAccount.recipient_id)
            .having(cash > threshold)
            .order_by(DPAccount.recipient_id)
        ).all()
        for recipient_id, pence, count in rows:
            what = "1 cash withdrawal" if count == 1 else f"{count} cash withdrawals"
            limit = (f" and the council asks for receipts above {_pounds(threshold)}" if threshold else "")
            fired.append(Fired(recipient_id, CASH_BEYOND_PLAN, (
                f"{what} came to {_pounds(pence)} from {_long_date(start)}, the start of this 4-week cycle, to "
                f"{_long_date(day)}. The support plan does not say cash may be used{limit}.")))
    return fired


# 3. A balance at zero early in the cycle --------------------------------------------------------------------


def balance_at_zero_early(day: date) -> list[Fired]:
    fired = []
    for council_id in _councils():
        start = _cycle_start(council_id, day)
        last = min(day, start + timedelta(days=EARLY_DAYS - 1))
        accounts = (
            sa.select(DPAccount.id).join(Recipient, Recipient.person_id == DPAccount.recipient_id)
            .where(Recipient.council_id == council_id)
        )
        # Everything dated from day 1 on (the future too): the cached balance less this is the balance before day 1.
        since_start = (
            sa.select(LedgerEntry.account_id, sa.func.sum(LedgerEntry.amount_pence).label("pence"))
            .where(LedgerEntry.account_id.in_(accounts), LedgerEntry.entry_date >= start)
            .group_by(LedgerEntry.account_id)
            .subquery()
        )
        daily = (
            sa.select(LedgerEntry.account_id, LedgerEntry.entry_date, sa.func.sum(LedgerEntry.amount_pence).label("pence"))
            .where(LedgerEntry.account_id.in_(accounts), LedgerEntry.entry_date >= start, LedgerEntry.entry_date <= last)
            .group_by(LedgerEntry.account_id, LedgerEntry.entry_date)
            .subquery()
        )
        running = (
            sa.select(daily.c.account_id, daily.c.entry_date,
                      sa.func.sum(daily.c.pence).over(partition_by=daily.c.account_id, order_by=daily.c.entry_date).label("moved"))
            .subquery()
        )
        end_of_day = AccountBalance.balance_pence - sa.func.coalesce(since_start.c.pence, 0) + running.c.moved
        rows = db.session.execute(
            sa.select(DPAccount.recipient_id, running.c.account_id, running.c.entry_date, end_of_day)
            .select_from(running)
            .join(DPAccount, DPAccount.id == running.c.account_id)
            .join(AccountBalance, AccountBalance.account_id == running.c.account_id)
            .outerjoin(since_start, since_start.c.account_id == running.c.account_id)
            .where(end_of_day <= 0, _case_open(DPAccount.recipient_id, day),
                   ~_alerted_since(DPAccount.recipient_id, BALANCE_AT_ZERO, _london_midnight(start)))
            .order_by(DPAccount.recipient_id, running.c.entry_date, running.c.account_id)
        ).all()
        first: dict[int, tuple] = {}
        for recipient_id, _account, when, balance in rows:
            first.setdefault(recipient_id, (when, balance))
        for recipient_id, (when, balance) in first.items():
            fired.append(Fired(recipient_id, BALANCE_AT_ZERO, (
                f"The balance was {_pounds(balance)} at the end of {_long_date(when)}, day {(when - start).days + 1} of the "
                f"4-week cycle that began on {_long_date(start)}: the money ran out in the first half of the cycle.")))
    return fired


# 4. Spending stopped -------------------------------------------------------------------------------------------


def spending_stopped(day: date) -> list[Fired]:
    recent_from = day - timedelta(days=STOPPED_DAYS - 1)  # day -27
    periods = [(recent_from - timedelta(days=28 * (n + 1)), recent_from - timedelta(days=28 * n + 1))
               for n in range(PATTERN_PERIODS)]  # [(-55, -28), (-83, -56), (-111, -84)]
    earliest = periods[-1][0]
    spend = sa.and_(LedgerEntry.kind == EntryKind.SPEND, LedgerEntry.amount_pence < 0)

    def count_between(low: date, high: date):
        return sa.func.sum(sa.case((LedgerEntry.entry_date.between(low, high), 1), else_=0))

    in_force = sa.exists().where(
        Budget.account_id == DPAccount.id, Budget.kind == BudgetKind.ONGOING, Budget.start_date <= day,
        sa.or_(Budget.end_date.is_(None), Budget.end_date >= day))
    rows = db.session.execute(
        sa.select(DPAccount.recipient_id, DPAccount.id, sa.func.max(LedgerEntry.entry_date))
        .select_from(DPAccount)
        .join(LedgerEntry, LedgerEntry.account_id == DPAccount.id)
        .where(spend, LedgerEntry.entry_date >= earliest, LedgerEntry.entry_date <= day, in_force,
               _case_open(DPAccount.recipient_id, day),
               ~_alerted_since(DPAccount.recipient_id, SPENDING_STOPPED, _london_midnight(recent_from)))
        .group_by(DPAccount.recipient_id, DPAccount.id)
        .having(sa.and_(count_between(recent_from, day) == 0,
                        *[count_between(low, high) > 0 for low, high in periods]))
        .order_by(DPAccount.recipient_id, DPAccount.id)
    ).all()
    reasons: dict[int, list[str]] = defaultdict(list)
    for recipient_id, _account, last_spend in rows:
        reasons[recipient_id].append(
            f"Money was spent from the account in each of the three 4-week periods from {_long_date(earliest)} to "
            f"{_long_date(periods[0][1])}, and none has been spent since {_long_date(last_spend)} "
            f"({(day - last_spend).days} days).")
    return [Fired(recipient_id, SPENDING_STOPPED, " ".join(texts)) for recipient_id, texts in reasons.items()]


# Running them ------------------------------------------------------------------------------------------------

CHECKS = {
    FAMILY_TIMESHEET: family_timesheets,
    CASH_BEYOND_PLAN: cash_beyond_plan,
    BALANCE_AT_ZERO: balance_at_zero_early,
    SPENDING_STOPPED: spending_stopped,
}


def fired_on(day: date) -> list[Fired]:
    """Who each rule fires for on the day (nothing is raised)."""
    return [fired for rule in RULES for fired in CHECKS[rule](day)]


def run(day: date) -> Report:
    """Run every rule for the day and raise an alert for each person it fires for. Commits."""
    report = Report(day)
    for fired in fired_on(day):
        report.fired[fired.rule] += 1
        _, created = casework.raise_alert(fired.recipient_id, fired.rule, fired.reason)
        report.raised[fired.rule] += created
    db.session.commit()
    return report
