"""The scale generator: money for generated recipients, by bulk insert, consistent with the ledger rules."""

from datetime import date, timedelta

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


# Providers of 2,000 to 5,000 cases, each caseworker with a few hundred ------------------------------


@pytest.mark.parametrize("count", [3995, 5000, 8000, 12345, 20000, 35000, 100000])
def test_provider_sizes_keep_every_provider_between_2000_and_5000_cases(count):
    existing = [3, 2]  # the personas' cases: Brightpath 3, Harbour 2
    sizes = demo.provider_sizes(count, existing)
    totals = [size + held for size, held in zip(sizes, existing + [0] * len(sizes))]
    assert sum(sizes) == count and len(sizes) >= len(existing)
    assert all(2000 <= total <= 5000 for total in totals), totals
    assert totals[0] == min(5000, max(2000, round((count + 5) / 4))), "Brightpath: a quarter, 2,000 to 5,000"


def test_provider_sizes_at_20000_give_brightpath_5000_and_four_new_providers():
    assert demo.provider_sizes(20000, [3, 2]) == [4997, 3599, 3301, 3001, 2701, 2401]


def test_provider_sizes_with_too_few_cases_use_the_existing_providers_only():
    assert demo.provider_sizes(40, [3, 2]) == [8, 32], "a quarter of 45 cases for Brightpath, the rest for Harbour"
    assert demo.provider_sizes(0, [3, 2]) == [0, 0]
    assert demo.provider_sizes(3994, [3, 2]) == [997, 2997]
    assert demo.provider_sizes(200, [3, 2], (20, 50)) == [47, 35, 34, 31, 28, 25]


def _provider_totals() -> dict[str, int]:
    from portal.models import CaseloadEntry, Organisation

    return dict(db.session.execute(
        sa.select(Organisation.name, sa.func.count()).join(CaseloadEntry, CaseloadEntry.provider_id == Organisation.id)
        .group_by(Organisation.name)).all())


def test_20000_generated_cases_spread_over_providers_of_2000_to_5000_with_caseworkers_of_a_few_hundred(app):
    from portal.models import CaseloadEntry, Organisation, OrganisationKind, Role, User

    with app.app_context():
        demo.generate(20000, seed=3)  # people and cases only: the money is tested above
        totals = _provider_totals()
        assert sum(totals.values()) == 20005
        assert totals["Brightpath Support"] == 5000, "a provider with 5,000 cases, for the benchmarks"
        assert all(2000 <= n <= 5000 for n in totals.values()), totals
        assert len(totals) == 6 and "Riverside Direct Payments Support" in totals
        held = dict(db.session.execute(
            sa.select(User.email, sa.func.count()).join(CaseloadEntry, CaseloadEntry.caseworker_id == User.id).group_by(User.email)).all())
        assert all(200 <= n <= 400 for n in held.values()), sorted(held.values())
        assert 200 <= held["kim@brightpath.example"] <= 400 and 200 <= held["omar@harbour.example"] <= 400
        # Every case is held by a caseworker of its own provider; every provider has a manager.
        wrong = db.session.scalar(
            sa.select(sa.func.count()).select_from(CaseloadEntry).join(User, User.id == CaseloadEntry.caseworker_id)
            .where(sa.or_(User.organisation_id != CaseloadEntry.provider_id, User.role != Role.DPSS_CASEWORKER)))
        unheld = db.session.scalar(sa.select(sa.func.count()).select_from(CaseloadEntry).where(CaseloadEntry.caseworker_id.is_(None)))
        assert (wrong, unheld) == (0, 0)
        providers = db.session.scalars(sa.select(Organisation).where(Organisation.kind == OrganisationKind.DPSS)).all()
        for provider in providers:
            managers = db.session.scalar(sa.select(sa.func.count()).select_from(User).where(
                User.organisation_id == provider.id, User.role == Role.DPSS_MANAGER))
            assert managers >= 1 or provider.name == "Harbour DPSS", provider.name  # the demo gives Harbour only Omar
        staff = db.session.scalars(sa.select(User).where(User.email.like("%@riverside.example"))).all()
        assert staff and all(u.password_hash and u.totp_secret == demo.DEMO_TOTP_SECRET for u in staff), "they can sign in"
        assert len({u.display_name for u in staff}) == len(staff)


def test_the_generator_makes_the_same_providers_and_staff_for_the_same_seed(databases):
    from portal.models import CaseloadEntry, User
    from tests.conftest import _close_app, _make_app

    seen = []
    for _ in range(2):
        app, url = _make_app(databases, "demo")
        try:
            with app.app_context():
                demo.generate(200, seed=9, provider_cases=(20, 50), cases_per_caseworker=10)
                cases = db.session.execute(sa.select(CaseloadEntry.recipient_id, CaseloadEntry.provider_id, User.email)
                                           .join(User, User.id == CaseloadEntry.caseworker_id).order_by(CaseloadEntry.recipient_id)).all()
                seen.append((_provider_totals(), [tuple(c) for c in cases],
                             db.session.execute(sa.select(User.email, User.display_name).order_by(User.id)).all()))
                totals = _provider_totals()
                assert all(20 <= n <= 50 for n in totals.values()) and max(totals.values()) == 50, totals
                held = db.session.execute(sa.select(sa.func.count()).select_from(CaseloadEntry)
                                          .group_by(CaseloadEntry.caseworker_id)).scalars().all()
                assert max(held) <= 25, "about 10 cases per caseworker here"
        finally:
            _close_app(databases, app, url)
    assert seen[0] == seen[1]


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


# The national dataset: generated councils, fewer card spends per cycle, bulk loading ----------------


def test_generated_councils_have_their_districts_and_the_default_settings_and_are_made_once(app):
    from portal.models import CouncilSettings, District, Organisation, OrganisationKind

    with app.app_context():
        assert demo.generate_councils(3) == 3
        assert demo.generate_councils(5) == 2, "the first three are there already"
        councils = db.session.scalars(sa.select(Organisation).where(Organisation.name.like("Generated council %"))
                                      .order_by(Organisation.name)).all()
        assert [c.name for c in councils] == [f"Generated council 00{n}" for n in range(1, 6)]
        assert all(c.kind == OrganisationKind.COUNCIL for c in councils)
        districts = {c.name: sorted(db.session.scalars(sa.select(District.code).where(District.council_id == c.id))) for c in councils}
        # 3 districts for an even number, 4 for an odd; 4 numbers set aside per council, 20 councils per area.
        assert districts["Generated council 001"] == ["QA1", "QA2", "QA3", "QA4"]
        assert districts["Generated council 002"] == ["QA5", "QA6", "QA7"]
        assert districts["Generated council 003"] == ["QA10", "QA11", "QA12", "QA9"]
        assert districts["Generated council 005"] == ["QA17", "QA18", "QA19", "QA20"]
        assert demo.generated_council_districts(21) == ["QB1", "QB2", "QB3", "QB4"]
        assert demo.generated_council_districts(150) == ["QH37", "QH38", "QH39"]
        with pytest.raises(ValueError):
            demo.generated_council_districts(20 * 21 + 1)
        for council in councils:
            settings = db.session.scalars(sa.select(CouncilSettings).where(CouncilSettings.council_id == council.id)).all()
            assert len(settings) == 1
            row = settings[0]
            assert (row.effective_from, row.cycle_anchor) == (date(2024, 4, 1), date(2025, 1, 6)), "as Northfield's and Eastmoor's"
            assert (row.excess_weeks, row.evidence_threshold_pence, row.retention_years, row.audit_months) == (4, 0, 6, 12)


def test_council_sizes_keep_the_personas_councils_at_council_scale_and_spread_the_rest():
    sizes = demo.council_sizes(130_000, 2, 150)
    assert sizes[:2] == [10_000, 10_000] and sum(sizes) == 130_000 and len(sizes) == 152
    # 110,000 over 150 councils: 733 on average, from 40% above (733 + 293) to 40% below.
    assert sizes[2] == 1026 and min(sizes[2:]) >= 733 - 293 and max(sizes[2:]) == 1026
    assert demo.council_sizes(600, 2, 150)[:2] == [75, 75], "a quarter between them when 10,000 each is too many"
    assert demo.council_sizes(5, 2, 0) == [3, 2], "without generated councils, turn about as before"


def test_national_providers_number_about_30_of_2000_to_5000_cases():
    bounds = demo.provider_bounds_for(130_000, [3, 2], 30)
    sizes = demo.provider_sizes(130_000, [3, 2], bounds)
    totals = [size + held for size, held in zip(sizes, [3, 2] + [0] * len(sizes))]
    assert len(sizes) == 30 and sum(sizes) == 130_000
    assert all(2000 <= t <= 5000 for t in totals), totals
    assert demo.provider_bounds_for(20_000, [3, 2], 6) == demo.CASES_PER_PROVIDER, "council scale as before"


def test_generated_recipients_go_to_the_councils_by_size_and_live_in_their_districts(app):
    from portal.models import District, Organisation, Recipient

    from portal.models import Person

    with app.app_context():
        demo.generate_councils(4)
        first = db.session.scalar(sa.select(sa.func.max(Person.id))) + 1  # the generator's people come next
        demo.generate(40, seed=4)
        per_council = dict(db.session.execute(
            sa.select(Organisation.name, sa.func.count()).join(Recipient, Recipient.council_id == Organisation.id)
            .where(Recipient.person_id >= first).group_by(Organisation.name)).all())
        # 40 // 4 // 2 = 5 each for Northfield and Eastmoor; 30 over 4 councils: 7 each, spread by round(7 * 0.4) = 3
        # from +3 to -3 (10, 8, 6, 4), the 2 over to the smallest.
        assert per_council == {"Northfield City Council": 5, "Eastmoor County Council": 5, "Generated council 001": 10,
                               "Generated council 002": 8, "Generated council 003": 6, "Generated council 004": 6}
        wrong = db.session.scalar(
            sa.select(sa.func.count()).select_from(Recipient).join(District, District.code == Recipient.district_code)
            .where(District.council_id != Recipient.council_id))
        unknown = db.session.scalar(sa.select(sa.func.count()).select_from(Recipient).where(
            ~sa.exists().where(District.code == Recipient.district_code)))
        assert (wrong, unknown) == (0, 0)


def _cycle_start(today: date) -> date:
    anchor = date(2025, 1, 6)  # the councils' cycle anchor
    return anchor + timedelta(days=28 * ((today - anchor).days // 28))


def test_ledger_rows_per_person_follow_the_transactions_per_cycle(app):
    from portal.models import CaseloadEntry, EntryState
    from portal.services.clock import london_today

    with app.app_context():
        first = db.session.scalar(sa.select(sa.func.max(CaseloadEntry.recipient_id))) + 1
        demo.generate(4, seed=8, money=True, transactions_per_cycle=3)
        today = london_today()
        current = _cycle_start(today)
        accounts = db.session.scalars(sa.select(DPAccount.id).where(DPAccount.recipient_id >= first)).all()
        assert len(accounts) == 4
        for account_id in accounts:
            rows = db.session.execute(sa.select(LedgerEntry.kind, LedgerEntry.entry_date).where(LedgerEntry.account_id == account_id)).all()
            payments = [d for k, d in rows if k == "council payment"]
            spends = [d for k, d in rows if k == "spend"]
            assert len(payments) == 14, "13 cycles back and the current one"
            assert len(rows) == len(payments) + len(spends)
            for c in range(13, 0, -1):  # every finished cycle has exactly 3 spends
                start = current - timedelta(days=28 * c)
                assert sum(1 for d in spends if start <= d < start + timedelta(days=28)) == 3
            assert 0 <= sum(1 for d in spends if d >= current) <= 3 and all(d <= today for d in spends)
            assert 14 + 13 * 3 <= len(rows) <= 14 * 4
        states = db.session.scalar(sa.select(sa.func.count()).select_from(EntryState).where(EntryState.account_id.in_(accounts)))
        assert states == db.session.scalar(sa.select(sa.func.count()).select_from(LedgerEntry).where(LedgerEntry.account_id.in_(accounts)))


def test_demo_data_command_takes_the_national_options(empty_app):
    from portal.models import Organisation, OrganisationKind, Recipient
    from portal.models.register import PAProfile

    result = empty_app.test_cli_runner().invoke(args=["demo-data", "--scale", "6", "--councils", "2", "--transactions-per-cycle", "2",
                                                      "--profiles", "7", "--providers", "2"])
    assert result.exit_code == 0, result.output
    assert "Generated councils: 2 added" in result.output
    with empty_app.app_context():
        councils = db.session.scalar(sa.select(sa.func.count()).select_from(Organisation).where(Organisation.kind == OrganisationKind.COUNCIL))
        assert councils == 4, "Northfield, Eastmoor and two generated"
        generated = db.session.scalars(sa.select(DPAccount.id).where(DPAccount.card_reference.like("GEN-%"))).all()
        assert len(generated) == 6
        spends = db.session.scalar(sa.select(sa.func.count()).select_from(LedgerEntry)
                                   .where(LedgerEntry.account_id.in_(generated), LedgerEntry.kind == "spend"))
        assert 6 * 13 * 2 <= spends <= 6 * 14 * 2, "2 card spends every 4 weeks"
        assert db.session.scalar(sa.select(sa.func.count()).select_from(PAProfile)) == 7 + 40 + 3, "the personas' 43 and 7 more"
        assert db.session.scalar(sa.select(sa.func.count()).select_from(Recipient)) == 5 + 6
    refused = empty_app.test_cli_runner().invoke(args=["demo-data", "--transactions-per-cycle", "0"])
    assert refused.exit_code != 0


# The tables the generator fills, with the column that points at each parent (all must find one).
PARENTS = [
    ("recipients", "person_id", "people"), ("caseload_entries", "recipient_id", "recipients", "person_id"),
    ("dp_accounts", "recipient_id", "recipients", "person_id"), ("budgets", "account_id", "dp_accounts"),
    ("budget_versions", "budget_id", "budgets"), ("support_lines", "plan_id", "support_plans"),
    ("ledger_entries", "account_id", "dp_accounts"), ("ledger_entries", "payee_id", "payees"),
    ("entry_states", "entry_id", "ledger_entries"), ("entry_states", "account_id", "dp_accounts"),
    ("employments", "pa_id", "people"), ("employments", "employer_id", "recipients", "person_id"),
    ("timesheets", "employment_id", "employments"), ("shifts", "timesheet_id", "timesheets"), ("shifts", "pa_id", "people"),
    ("expected_items", "account_id", "dp_accounts"), ("pa_profile_districts", "profile_id", "pa_profiles"),
    ("pa_profile_districts", "district_code", "districts", "code"), ("pa_profile_checks", "profile_id", "pa_profiles"),
    ("pa_profiles", "person_id", "people"),
]
SERIAL_TABLES = ["people", "caseload_entries", "dp_accounts", "budgets", "budget_versions", "support_plans", "support_lines",
                 "ledger_entries", "employments", "timesheets", "shifts", "expected_items", "pa_profiles", "pa_profile_checks"]


def test_bulk_loaded_rows_all_point_at_a_parent_and_new_rows_get_fresh_ids(app):
    """On PostgreSQL the generator loads by COPY without the per-row foreign-key checks: nothing may point
    nowhere, and every id sequence must be past the ids the generator chose, so the portal's own inserts work."""
    from portal.models import Person
    from portal.models.register import PAProfile
    from portal.services import ledger
    from portal.services.demo_register import generate_profiles

    with app.app_context():
        demo.generate_councils(2)
        demo.generate(30, seed=6, money=True, transactions_per_cycle=2)
        generate_profiles(25, seed=6)
        for child, column, parent, *key in PARENTS:
            orphans = db.session.scalar(sa.text(
                f"SELECT count(*) FROM {child} c WHERE c.{column} IS NOT NULL AND NOT EXISTS "
                f"(SELECT 1 FROM {parent} p WHERE p.{key[0] if key else 'id'} = c.{column})"))
            assert orphans == 0, f"{child}.{column} -> {parent}"
        highest = {t: db.session.scalar(sa.text(f"SELECT max(id) FROM {t}")) for t in SERIAL_TABLES}
        assert all(highest.values()), highest
        # The portal's own inserts after the load: new ids past the generated ones.
        person = Person(given_name="New", family_name="Person", email="", phone="")
        db.session.add(person)
        db.session.flush()
        account = db.session.scalar(sa.select(DPAccount).where(DPAccount.card_reference.like("GEN-%")).order_by(DPAccount.id.desc()).limit(1))
        entry = ledger.post(account_id=account.id, kind="spend", amount_pence=-100, entry_date=date(2026, 1, 5), source="manual",
                            payee="A SHOP", description="After the load")
        profile = PAProfile(person_id=person.id, listed=True, about="", rate_pence=1300)
        db.session.add(profile)
        db.session.flush()
        assert person.id > highest["people"] and entry.id > highest["ledger_entries"] and profile.id > highest["pa_profiles"]
        if db.engine.dialect.name == "postgresql":
            for table in SERIAL_TABLES:
                following = db.session.scalar(sa.text(f"SELECT nextval(pg_get_serial_sequence('{table}', 'id'))"))
                assert following > highest[table], table
        db.session.rollback()
