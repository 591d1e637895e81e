"""The scale generator: money for generated recipients, by bulk insert, consistent with the ledger rules."""

from datetime import date

import pytest
import sqlalchemy as sa

from portal.extensions import db
from portal.models import AccountBalance, DPAccount, LedgerEntry
from portal.services import demo


def test_generated_money_keeps_the_balance_cache_equal_to_the_sums_and_uses_unique_keys(app):
    with app.app_context():
        demo.generate(6, seed=11, money=True)
        accounts = db.session.scalars(sa.select(DPAccount.id).where(DPAccount.card_reference.like("GEN-%"))).all()
        assert len(accounts) == 6
        for account_id in accounts:
            total, count = db.session.execute(
                sa.select(sa.func.sum(LedgerEntry.amount_pence), sa.func.count()).where(LedgerEntry.account_id == account_id)
            ).one()
            cached = db.session.get(AccountBalance, account_id)
            assert (cached.balance_pence, cached.entry_count) == (total, count)
            assert count > 13 * 30, "about 40 card transactions per 4 weeks for a year"
        payments = db.session.scalar(sa.select(sa.func.count()).where(LedgerEntry.payment_key.is_not(None), LedgerEntry.account_id.in_(accounts)))
        assert payments == 6 * 14, "one payment per cycle, 13 cycles back and the current one"


# Employing PAs at scale: PAs, employments and a year of timesheets -------------------------------

SCALE_COUNT = 200


@pytest.fixture(scope="module")
def scale_app(databases):
    """One database with the personas, their money and SCALE_COUNT generated recipients (read-only tests)."""
    from portal.models import Person
    from tests.conftest import _close_app, _make_app

    app, url = _make_app(databases, "money")
    with app.app_context():
        first = db.session.scalar(sa.select(sa.func.max(Person.id))) + 1  # the generator's people come next
        demo.generate(SCALE_COUNT, seed=5, money=True)
        db.session.remove()
    yield app, first, first + SCALE_COUNT - 1
    _close_app(databases, app, url)


def test_generated_timesheets_are_coherent_with_their_periods_and_shifts(scale_app):
    from portal.models import Shift, Timesheet, TimesheetStatus
    from portal.services import timesheets
    from portal.services.clock import utcnow

    app, first, last = scale_app
    with app.app_context():
        generated = sa.select(Timesheet.id).where(Timesheet.employer_id.between(first, last))
        outside = db.session.scalar(
            sa.select(sa.func.count()).select_from(Shift).join(Timesheet, Timesheet.id == Shift.timesheet_id)
            .where(Timesheet.employer_id.between(first, last),
                   sa.or_(Shift.work_date < Timesheet.period_start, Shift.work_date > Timesheet.period_end)))
        assert outside == 0, "every shift's date is inside its timesheet's period"
        rows = db.session.execute(
            sa.select(Shift.work_date, Shift.start_time, Shift.end_time, Shift.ends_next_day, Shift.break_minutes,
                      Shift.starts_at, Shift.ends_at, Shift.minutes, Shift.pa_id, Timesheet.pa_id)
            .join(Timesheet, Timesheet.id == Shift.timesheet_id).where(Timesheet.id.in_(generated))
        ).all()
        assert len(rows) > SCALE_COUNT * 0.6 * 1.9 * 100, "about 3 shifts a week for a year per employment"
        for day, start, end, next_day, break_minutes, starts_at, ends_at, minutes, pa_id, ts_pa_id in rows:
            assert (starts_at, ends_at) == timesheets.shift_instants(day, start, end, next_day)
            assert minutes == (ends_at - starts_at).total_seconds() // 60 - break_minutes
            assert pa_id == ts_pa_id
        assert any(r.ends_next_day for r in rows), "some night shifts cross midnight"

        duplicates = db.session.execute(
            sa.select(Timesheet.employment_id, Timesheet.period_start, Timesheet.revision)
            .where(Timesheet.id.in_(generated))
            .group_by(Timesheet.employment_id, Timesheet.period_start, Timesheet.revision).having(sa.func.count() > 1)
        ).all()
        assert duplicates == []
        live = db.session.execute(
            sa.select(Timesheet.employment_id, Timesheet.period_start)
            .where(Timesheet.id.in_(generated), Timesheet.status != TimesheetStatus.SUPERSEDED)
            .group_by(Timesheet.employment_id, Timesheet.period_start).having(sa.func.count() > 1)
        ).all()
        assert live == [], "one timesheet in force per employment and period"
        statuses = dict(db.session.execute(
            sa.select(Timesheet.status, sa.func.count()).where(Timesheet.id.in_(generated)).group_by(Timesheet.status)).all())
        assert statuses[TimesheetStatus.APPROVED] > statuses[TimesheetStatus.DRAFT] > 0
        latest = db.session.execute(sa.select(sa.func.max(Timesheet.submitted_at), sa.func.max(Timesheet.approved_at),
                                              sa.func.max(Shift.starts_at)).join(Shift, Shift.timesheet_id == Timesheet.id)
                                    .where(Timesheet.id.in_(generated))).one()
        assert all(moment <= utcnow() for moment in latest), "nothing submitted, approved or started in the future"
        assert statuses.get(TimesheetStatus.SUBMITTED, 0) > 0


def test_generated_pas_employments_and_rates(scale_app):
    from portal.models import CaseloadEntry, Employment, Role, Timesheet, User
    from portal.services import timesheets
    from portal.services.demo_employing_scale import SHARED_PA_EMAIL

    app, first, last = scale_app
    with app.app_context():
        employments = db.session.scalars(sa.select(Employment).where(Employment.employer_id.between(first, last))).all()
        employers = {e.employer_id for e in employments}
        assert 0.45 <= len(employers) / SCALE_COUNT <= 0.75, "about 60% of recipients employ PAs"
        assert 1.6 <= len(employments) / len(employers) <= 2.2, "about 1.9 PAs per employing recipient"
        per_employer = {}
        for e in employments:
            per_employer[e.employer_id] = per_employer.get(e.employer_id, 0) + 1
        assert set(per_employer.values()) <= {1, 2, 3, 4}
        per_pa = {}
        for e in employments:
            per_pa.setdefault(e.pa_id, set()).add(e.employer_id)
        assert max(len(v) for v in per_pa.values()) == 5, "some PA works for 5 employers"
        shared = sum(1 for v in per_pa.values() if len(v) > 1) / len(per_pa)
        assert 0.03 <= shared <= 0.2, "about 10% of PAs work for more than one employer"
        assert all(e.pa_id not in employers and e.pa_id > last for e in employments), "each PA is a new person"
        assert {e.pay_period.value for e in employments} == {"weekly", "fortnightly", "4-weekly", "monthly"}
        for e in employments:
            assert 1271 <= e.day_rate_pence <= 1600
            assert all(r is None or r >= e.day_rate_pence for r in (e.night_rate_pence, e.weekend_rate_pence))
            assert e.pa_date_of_birth <= date(2005, 1, 1), "adults, so the adult minimum wage applies"

        five = db.session.scalar(sa.select(User).where(User.email == SHARED_PA_EMAIL))
        assert five is not None and five.role == Role.PA and len(per_pa[five.person_id]) == 5
        # Their timesheets carry no minimum-wage warning, and the overlap check sees all 5 employers.
        ts = db.session.scalar(sa.select(Timesheet).where(Timesheet.pa_id == five.person_id, Timesheet.shifts.any())
                               .order_by(Timesheet.period_start.desc()).limit(1))
        assert not [w for w in timesheets.check(ts) if w.code == "minimum_wage"]
        payroll = db.session.scalar(sa.select(sa.func.count()).select_from(CaseloadEntry).where(
            CaseloadEntry.recipient_id.in_(employers), CaseloadEntry.payroll.is_(True)))
        assert payroll > len(employers) / 2, "payroll-service cases nearly all employ PAs"


def test_generated_expected_items_only_for_approved_unpaid_timesheets_and_gross_matches_totals(scale_app):
    from portal.models import ExpectedItem, ExpectedKind, ExpectedStatus, Timesheet, TimesheetSource, TimesheetStatus
    from portal.services import timesheets

    app, first, last = scale_app
    with app.app_context():
        approved = db.session.scalars(sa.select(Timesheet).where(
            Timesheet.employer_id.between(first, last), Timesheet.status == TimesheetStatus.APPROVED)).all()
        unpaid = {f"timesheet:{ts.id}": ts for ts in approved if ts.paid_on is None}
        assert unpaid and len(unpaid) < len(approved) / 5, "most approved timesheets are paid; the recent ones are not"
        every_id = db.session.scalars(sa.select(Timesheet.id).where(Timesheet.employer_id.between(first, last))).all()
        items = db.session.scalars(sa.select(ExpectedItem).where(ExpectedItem.key.like("timesheet:%"))).all()
        every_id = set(every_id)
        generated_items = {i.key: i for i in items if int(i.key.split(":")[1]) in every_id}
        assert set(generated_items) == set(unpaid)
        for key, item in generated_items.items():
            ts = unpaid[key]
            assert item.kind == ExpectedKind.TIMESHEET and item.status == ExpectedStatus.OPEN
            assert item.amount_pence == -ts.gross_pence
            assert item.account_id == timesheets.employer_account_id(ts.employer_id)
            assert item.due_date == timesheets.period_of(ts).pay_date
        # The gross fixed at approval is what the timesheet comes to (online and paper, rolled-up holiday too).
        sample = approved[::max(1, len(approved) // 150)] + [ts for ts in approved if ts.source == TimesheetSource.PAPER][:20]
        for ts in sample:
            assert ts.gross_pence == timesheets.totals(ts).gross_pence, ts.id
        corrections = db.session.scalars(sa.select(Timesheet).where(
            Timesheet.employer_id.between(first, last), Timesheet.corrects_id.is_not(None))).all()
        for ts in corrections:
            assert ts.revision == 2 and ts.corrects.status == TimesheetStatus.SUPERSEDED
