"""Rule-based alerts (portal.services.alert_rules): each rule fires on its edge and not just under it,
raises one queue item per person however often it runs, does nothing else, and lands only in the queue
of the provider holding the person's case.

The scenarios are built on the demo personas without money (the `app` fixture): Amina is Kim's case at
Brightpath, Grace is Omar's at Harbour, both funded by Northfield. Dates are counted from today, with
Northfield's cycle anchor chosen so today is a known day of the cycle.
"""

from datetime import UTC, date, datetime, time, timedelta

import pytest
import sqlalchemy as sa

from portal.extensions import db
from portal.models import (
    BudgetKind,
    CaseloadEntry,
    Category,
    CouncilSettings,
    Delivery,
    Employment,
    EntryKind,
    EntrySource,
    LedgerEntry,
    Notification,
    Organisation,
    PaymentMethod,
    RateType,
    Relationship,
    Timesheet,
    TimesheetStatus,
    User,
)
from portal.models.casework import SafeguardingConcern
from portal.services import alert_rules, budgets, ledger, timesheets
from portal.services import work_queues as queues
from portal.services.clock import LONDON, london_today
from tests.conftest import get_page, sign_in
from tests.helpers import person_id

TODAY = london_today()
KIM, OMAR, LEE = "kim@brightpath.example", "omar@harbour.example", "lee@brightpath.example"


# Set-up helpers (inside an app context) -------------------------------------------------------------


def _user(email: str) -> User:
    return db.session.scalar(sa.select(User).where(User.email == email))


def _northfield(day_of_cycle: int, threshold: int = 0) -> date:
    """Northfield's settings, with today day `day_of_cycle` (1-28) of its cycle. Returns the cycle's first day."""
    start = TODAY - timedelta(days=day_of_cycle - 1)
    council = db.session.scalar(sa.select(Organisation.id).where(Organisation.name == "Northfield City Council"))
    db.session.add(CouncilSettings(council_id=council, effective_from=date(2020, 1, 1), cycle_anchor=start,
                                   evidence_threshold_pence=threshold))
    db.session.commit()
    return start


def _account(pid: int, *, since: date | None = None, end: date | None = None, cash_reason: str = "", card: str = "NF-TEST-1") -> int:
    """A prepaid card account with an ongoing budget and a plan (no money in it yet)."""
    since = since or TODAY - timedelta(days=200)
    account = budgets.open_account(pid, PaymentMethod.PREPAID_CARD, since - timedelta(days=14), card_reference=card)
    budgets.create_budget(recipient_id=pid, account=account, kind=BudgetKind.ONGOING, delivery=Delivery.DIRECT_PAYMENT,
                          start_date=since, end_date=end, agreed_on=since - timedelta(days=20), first_payment_date=since,
                          amounts=budgets.Amounts(25000))
    budgets.create_plan(pid, since, "Live well at home", [budgets.Line(Category.PA_WAGES, "PA", 100000)],
                        cash_allowed_reason=cash_reason)
    db.session.commit()
    return account.id


def _money(account_id: int, pence: int, on: date, *, cash: bool = False, kind: EntryKind | None = None) -> LedgerEntry:
    kind = kind or (EntryKind.COUNCIL_PAYMENT if pence > 0 else EntryKind.SPEND)
    entry = ledger.post(account_id=account_id, kind=kind, amount_pence=pence, entry_date=on, source=EntrySource.MANUAL,
                        payee="ATM CASH" if cash else "SHOP", flags=["cash withdrawal"] if cash else (),
                        category=None if pence > 0 else Category.OTHER)
    db.session.commit()
    return entry


def _alerts(pid: int | None = None, rule: str | None = None) -> list[SafeguardingConcern]:
    query = sa.select(SafeguardingConcern).where(SafeguardingConcern.raised_by_id.is_(None)).order_by(SafeguardingConcern.id)
    if pid is not None:
        query = query.where(SafeguardingConcern.recipient_id == pid)
    if rule is not None:
        query = query.where(SafeguardingConcern.rule == rule)
    return list(db.session.scalars(query))


def _fired(rule: str, day: date = TODAY) -> dict[int, str]:
    return {f.recipient_id: f.reason for f in alert_rules.CHECKS[rule](day)}


# 1. A family member's timesheet without the council's agreement -------------------------------------------


def _family_employment(app, relationship: Relationship, household: bool, agreed_on: date | None = None) -> tuple[int, int]:
    """Jay employed by Amina, related as given. Returns (Amina's id, employment id)."""
    amina, jay = person_id(app, "Amina", "Patel"), person_id(app, "Jay", "Singh")
    with app.app_context():
        employment = Employment(pa_id=jay, employer_id=amina, start_date=TODAY - timedelta(days=100), day_rate_pence=1300,
                                relationship_to_employer=relationship, same_household=household, council_agreed_on=agreed_on,
                                council_agreed_by="Rachel Moss" if agreed_on else "")
        db.session.add(employment)
        db.session.commit()
        return amina, employment.id


def _submitted(employment_id: int, at: datetime, status: TimesheetStatus = TimesheetStatus.SUBMITTED) -> Timesheet:
    employment = db.session.get(Employment, employment_id)
    start = TODAY - timedelta(days=14 + 14 * db.session.scalar(sa.select(sa.func.count()).select_from(Timesheet)))
    ts = Timesheet(employment_id=employment_id, pa_id=employment.pa_id, employer_id=employment.employer_id,
                   period_start=start, period_end=start + timedelta(days=13), status=status,
                   submitted_at=at if status != TimesheetStatus.DRAFT else None)
    db.session.add(ts)
    db.session.commit()
    return ts


def _london(day: date, hour: int = 12, minute: int = 0, second: int = 0) -> datetime:
    return datetime.combine(day, time(hour, minute, second), tzinfo=LONDON).astimezone(UTC)


@pytest.mark.parametrize("relationship, household, agreed, fires", [
    (Relationship.PARENT, True, False, True),
    (Relationship.SIBLING, True, False, True),
    (Relationship.PARTNER, False, False, True),  # a partner wherever they live
    (Relationship.PARENT, False, False, False),  # close family living elsewhere may be paid
    (Relationship.OTHER_RELATIVE, True, False, False),  # not close family
    (Relationship.NONE, True, False, False),
    (Relationship.PARENT, True, True, False),  # the council agreed
    (Relationship.PARTNER, True, True, False),
])
def test_a_timesheet_from_close_family_without_agreement_fires(app, relationship, household, agreed, fires):
    amina, employment = _family_employment(app, relationship, household, TODAY - timedelta(days=50) if agreed else None)
    with app.app_context():
        _submitted(employment, _london(TODAY, 9))
        fired = _fired(alert_rules.FAMILY_TIMESHEET)
        assert (amina in fired) is fires
        if fires:
            assert fired[amina].startswith("Jay Singh submitted a timesheet for ")
            assert f"recorded as the person's {relationship.value}" in fired[amina]
            assert "the council has not recorded that paying them is necessary" in fired[amina]
            assert ("living in the same household" in fired[amina]) is household


def test_the_family_rule_looks_at_timesheets_submitted_on_the_day_and_the_day_before(app):
    amina, employment = _family_employment(app, Relationship.CHILD, True)
    with app.app_context():
        _submitted(employment, _london(TODAY - timedelta(days=2), 23, 59, 59))  # just too early
        _submitted(employment, _london(TODAY + timedelta(days=1), 0, 0, 0))  # tomorrow: not yet
        _submitted(employment, _london(TODAY, 10), status=TimesheetStatus.DRAFT)  # never submitted
        assert _fired(alert_rules.FAMILY_TIMESHEET) == {}
        _submitted(employment, _london(TODAY - timedelta(days=1), 0, 0, 0))  # the first moment of the day before
        assert list(_fired(alert_rules.FAMILY_TIMESHEET)) == [amina]
        assert list(_fired(alert_rules.FAMILY_TIMESHEET, TODAY + timedelta(days=1))) == [amina], "tomorrow's, the day after"
        assert _fired(alert_rules.FAMILY_TIMESHEET, TODAY + timedelta(days=3)) == {}, "each has had its two days"


def test_submitting_raises_the_alert_at_once_and_the_daily_run_adds_nothing(app):
    amina, employment_id = _family_employment(app, Relationship.PARENT, True)
    with app.app_context():
        employment = db.session.get(Employment, employment_id)
        jay = db.session.scalar(sa.select(User).where(User.email == "jay.pa@example.org"))
        told = db.session.scalar(sa.select(sa.func.count()).select_from(Notification).where(Notification.key.like("safeguarding%")))
        period = timesheets.period_for(employment, TODAY - timedelta(days=14))
        ts = timesheets.start(employment, period, jay)
        timesheets.add_shift(ts, timesheets.ShiftInput(period.start, time(9), time(12), False, 0, RateType.DAY), ts.version)
        assert timesheets.submit(ts, jay, ts.version)
        db.session.commit()
        [alert] = _alerts(amina)
        assert alert.rule == alert_rules.FAMILY_TIMESHEET and alert.raised_by_id is None and alert.acknowledged_at is None
        assert "Jay Singh submitted a timesheet" in alert.body
        # A queue item only: nobody is told by a notification, and the timesheet goes on as usual.
        assert db.session.scalar(sa.select(sa.func.count()).select_from(Notification).where(
            Notification.key.like("safeguarding%"))) == told
        assert ts.status == TimesheetStatus.SUBMITTED
        report = alert_rules.run(TODAY)
        assert report.raised[alert_rules.FAMILY_TIMESHEET] == 0 and report.fired[alert_rules.FAMILY_TIMESHEET] == 0
        assert len(_alerts(amina)) == 1


def test_a_timesheet_from_a_pa_who_is_not_family_raises_nothing_on_submit(app):
    amina, employment_id = _family_employment(app, Relationship.NONE, True)
    with app.app_context():
        employment = db.session.get(Employment, employment_id)
        ts = _submitted(employment_id, _london(TODAY, 9))
        assert alert_rules.on_timesheet_submitted(ts) is False
        assert employment.needs_council_agreement is False and _alerts(amina) == []


# 2. Cash withdrawals beyond the plan -----------------------------------------------------------------------------


def test_cash_over_the_councils_threshold_in_the_cycle_fires_and_exactly_the_threshold_does_not(app):
    amina = person_id(app, "Amina", "Patel")
    with app.app_context():
        start = _northfield(day_of_cycle=10, threshold=2000)
        account = _account(amina)
        _money(account, 100000, start)
        _money(account, -5000, start - timedelta(days=1), cash=True)  # the cycle before: not counted
        _money(account, -1500, start, cash=True)
        _money(account, -500, TODAY, cash=True)
        _money(account, -9000, TODAY)  # not cash
        _money(account, -700, TODAY + timedelta(days=1), cash=True)  # after the day
        assert _fired(alert_rules.CASH_BEYOND_PLAN) == {}, "£20.00 of cash, the threshold exactly"
        reversed_one = _money(account, -1, TODAY - timedelta(days=2), cash=True)
        fired = _fired(alert_rules.CASH_BEYOND_PLAN)
        assert fired[amina] == (
            f"3 cash withdrawals came to £20.01 from {start.day} {start:%B %Y}, the start of this 4-week cycle, to "
            f"{TODAY.day} {TODAY:%B %Y}. The support plan does not say cash may be used and the council asks for "
            "receipts above £20.00.")
        ledger.reverse(reversed_one, user_id=None, reason="bank error", on=TODAY)
        db.session.commit()
        assert _fired(alert_rules.CASH_BEYOND_PLAN) == {}, "a reversed withdrawal is not cash spent"


def test_with_no_threshold_any_cash_counts_but_not_where_the_plan_allows_cash(app):
    amina, grace = person_id(app, "Amina", "Patel"), person_id(app, "Grace", "Okafor")
    with app.app_context():
        _northfield(day_of_cycle=3)
        plain = _account(amina)
        allowed = _account(grace, cash_reason="Pays her cleaner in cash, agreed at review", card="NF-TEST-2")
        _money(plain, -1, TODAY, cash=True)
        _money(allowed, -40000, TODAY, cash=True)
        fired = _fired(alert_rules.CASH_BEYOND_PLAN)
        assert list(fired) == [amina] and fired[amina].startswith("1 cash withdrawal came to £0.01 ")
        # A later plan that no longer allows cash: the plan in force on the day is the one that counts.
        budgets.create_plan(grace, TODAY, "Reviewed", [budgets.Line(Category.PA_WAGES, "PA", 100000)])
        db.session.commit()
        assert set(_fired(alert_rules.CASH_BEYOND_PLAN)) == {amina, grace}
        assert set(_fired(alert_rules.CASH_BEYOND_PLAN, TODAY - timedelta(days=1))) == set(), "before that plan, and before the cash"


# 3. A balance at zero early in the cycle ---------------------------------------------------------------------------


def test_a_balance_reaching_zero_by_day_14_fires_and_a_penny_left_does_not(app):
    amina = person_id(app, "Amina", "Patel")
    with app.app_context():
        start = _northfield(day_of_cycle=14)
        account = _account(amina)
        _money(account, 3000, start - timedelta(days=5))  # left over from the cycle before
        _money(account, 100000, start)
        _money(account, -60000, start + timedelta(days=3))
        _money(account, -42999, TODAY)
        assert _fired(alert_rules.BALANCE_AT_ZERO) == {}, "£0.01 left at the end of day 14"
        _money(account, -1, TODAY)
        fired = _fired(alert_rules.BALANCE_AT_ZERO)
        assert fired[amina] == (f"The balance was £0.00 at the end of {TODAY.day} {TODAY:%B %Y}, day 14 of the 4-week cycle that "
                                f"began on {start.day} {start:%B %Y}: the money ran out in the first half of the cycle.")
        _money(account, 5000, TODAY + timedelta(days=1))  # money later does not undo the day it ran out
        assert amina in _fired(alert_rules.BALANCE_AT_ZERO, TODAY + timedelta(days=1))


def test_a_balance_reaching_zero_on_day_15_does_not_fire(app):
    amina = person_id(app, "Amina", "Patel")
    with app.app_context():
        start = _northfield(day_of_cycle=15)
        account = _account(amina)
        _money(account, 100000, start)
        _money(account, -100000, TODAY)  # day 15: the second half
        _money(account, 100000, start - timedelta(days=28))
        _money(account, -100000, start - timedelta(days=20))  # day 8 of the cycle before: not this cycle
        assert _fired(alert_rules.BALANCE_AT_ZERO) == {}
        # Within the day: overdrawn in the morning, put right by the afternoon, is judged at the end of the day.
        _money(account, -100001, start + timedelta(days=2))
        _money(account, 100001, start + timedelta(days=2), kind=EntryKind.REFUND)
        assert _fired(alert_rules.BALANCE_AT_ZERO) == {}


# 4. Spending stopped -----------------------------------------------------------------------------------------------


def _spend_on(account: int, *days_ago: int) -> None:
    for n in days_ago:
        _money(account, -1000, TODAY - timedelta(days=n))


def test_spending_in_each_of_three_periods_and_none_in_28_days_fires(app):
    amina = person_id(app, "Amina", "Patel")
    with app.app_context():
        account = _account(amina)
        _money(account, 500000, TODAY - timedelta(days=150))
        _spend_on(account, 28, 56, 84, 111)  # the last day of each period, and the first of the oldest
        fired = _fired(alert_rules.SPENDING_STOPPED)
        last = TODAY - timedelta(days=28)
        assert fired[amina].endswith(f"and none has been spent since {last.day} {last:%B %Y} (28 days).")
        _spend_on(account, 27)  # the 28th day counting today: it has not stopped
        assert _fired(alert_rules.SPENDING_STOPPED) == {}


@pytest.mark.parametrize("days_ago", [(28, 56), (28, 84), (56, 84), (29, 57, 112)])
def test_spending_stopped_needs_spend_in_each_of_the_three_periods(app, days_ago):
    amina = person_id(app, "Amina", "Patel")
    with app.app_context():
        account = _account(amina)
        _money(account, 500000, TODAY - timedelta(days=150))
        _spend_on(account, *days_ago)
        _money(account, 2000, TODAY - timedelta(days=60), kind=EntryKind.REFUND)  # money coming in is not spend
        assert _fired(alert_rules.SPENDING_STOPPED) == {}


def test_spending_stopped_only_while_a_budget_is_in_force(app):
    amina = person_id(app, "Amina", "Patel")
    with app.app_context():
        account = _account(amina, end=TODAY - timedelta(days=1))
        _money(account, 500000, TODAY - timedelta(days=150))
        _spend_on(account, 30, 60, 90)
        assert _fired(alert_rules.SPENDING_STOPPED) == {}
        assert amina in _fired(alert_rules.SPENDING_STOPPED, TODAY - timedelta(days=1))


# Running them: once, never an action, and only in the right queue -------------------------------------------------------


def _cash_for_amina_and_grace(app) -> tuple[int, int]:
    amina, grace = person_id(app, "Amina", "Patel"), person_id(app, "Grace", "Okafor")
    with app.app_context():
        _northfield(day_of_cycle=5)
        for pid, card in ((amina, "NF-TEST-1"), (grace, "NF-TEST-2")):
            account = _account(pid, card=card)
            _money(account, 100000, TODAY - timedelta(days=4))
            _money(account, -2500, TODAY, cash=True)
    return amina, grace


def test_running_twice_in_a_day_raises_one_alert_and_changes_nothing_else(app):
    amina, grace = _cash_for_amina_and_grace(app)
    with app.app_context():
        balances = [ledger.balance(a) for a in db.session.scalars(sa.select(LedgerEntry.account_id).distinct())]
        told = db.session.scalar(sa.select(sa.func.count()).select_from(Notification))
        first = alert_rules.run(TODAY)
        assert first.raised[alert_rules.CASH_BEYOND_PLAN] == first.fired[alert_rules.CASH_BEYOND_PLAN] == 2
        second = alert_rules.run(TODAY)
        assert sum(second.raised.values()) == 0
        assert [(a.recipient_id, a.rule) for a in _alerts()] == [(amina, alert_rules.CASH_BEYOND_PLAN), (grace, alert_rules.CASH_BEYOND_PLAN)]
        # raise_alert itself: once per person, rule and day.
        again, created = alert_rules.casework.raise_alert(amina, alert_rules.CASH_BEYOND_PLAN, "Again")
        assert not created and again.id == _alerts(amina)[0].id
        # Never an action: no money moved, nobody notified, the case as it was.
        assert [ledger.balance(a) for a in db.session.scalars(sa.select(LedgerEntry.account_id).distinct())] == balances
        assert db.session.scalar(sa.select(sa.func.count()).select_from(Notification)) == told
        assert db.session.scalar(sa.select(CaseloadEntry.closed_on).where(CaseloadEntry.recipient_id == amina)) is None
        # Later in the same cycle, still once; an acknowledged alert is not raised again either.
        _alerts(amina)[0].acknowledged_at = datetime.now(UTC)
        db.session.commit()
        assert sum(alert_rules.run(TODAY + timedelta(days=2)).raised.values()) == 0


def test_omars_queue_never_gets_brightpaths_alerts(app):
    amina, grace = _cash_for_amina_and_grace(app)
    with app.app_context():
        alert_rules.run(TODAY)
        kim_queue = queues.queue(queues.scope_for(_user(KIM)), TODAY)
        omar_queue = queues.queue(queues.scope_for(_user(OMAR)), TODAY)
        lee_queue = queues.queue(queues.scope_for(_user(LEE)), TODAY)

        def alerted(queue):
            return [i.person_id for i in queue.lists["safeguarding"] if i.extra.get("rule")]

        assert alerted(kim_queue) == alerted(lee_queue) == [amina]
        assert alerted(omar_queue) == [grace]
    omar = app.test_client()
    sign_in(omar, OMAR)
    page = get_page(omar, "/work")
    assert "Grace Okafor" in page.text and "Amina Patel" not in page.text
    assert f"by the rule “{alert_rules.CASH_BEYOND_PLAN}”" in page.text


def test_a_closed_case_raises_no_alerts(app):
    amina, grace = _cash_for_amina_and_grace(app)
    with app.app_context():
        db.session.execute(sa.update(CaseloadEntry).where(CaseloadEntry.recipient_id == amina).values(closed_on=TODAY))
        db.session.commit()
        alert_rules.run(TODAY)
        assert [a.recipient_id for a in _alerts()] == [grace]


def test_the_command_runs_the_rules_for_a_day(app):
    _cash_for_amina_and_grace(app)
    runner = app.test_cli_runner()
    result = runner.invoke(args=["check-alerts", "--day", TODAY.isoformat()])
    assert result.exit_code == 0, result.output
    assert f"  {alert_rules.CASH_BEYOND_PLAN}: 2 people, 2 new alerts" in result.output
    assert "2 new alerts in all" in result.output
    again = runner.invoke(args=["check-alerts"])
    assert again.exit_code == 0 and "0 new alerts in all" in again.output
    assert runner.invoke(args=["check-alerts", "--day", "22/11/2026"]).exit_code != 0
