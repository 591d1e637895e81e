"""The council's oversight dashboard: every figure equals a count made here with SQL of the test's own
(never the code under test), for the demo plus 60 generated people with money; Northfield's officer
never counts Eastmoor's people (Ellen); each CSV holds only the officer's council; council officers
only (everyone else 403), and a fixed number of queries however many people there are."""

import csv
import io
from collections import defaultdict
from datetime import date, timedelta

import pytest
import sqlalchemy as sa

from portal.extensions import db
from portal.models import Category, EntryKind, EntrySource, ExcessBalanceReview, Organisation, ReviewStatus, Role, User
from portal.services import dashboard, demo, ledger
from portal.services.clock import london_today
from tests.conftest import _close_app, _make_app, get_page, sign_in

NORTHFIELD, EASTMOOR = "Northfield City Council", "Eastmoor County Council"
RACHEL = "rachel@northfield.example"
EASTMOOR_OFFICER = "officer@eastmoor.example"
CLIENT_GROUPS = ["physical disability", "mental health", "learning disability", "substance misuse", "vulnerable people",
                 "older people's needs", "carer"]


@pytest.fixture(scope="module")
def scaled_app(databases):
    """The demo with its money, 60 generated people with a year of money and timesheets, and an
    Eastmoor council officer (to compare with): shared by the read-only tests below."""
    app, url = _make_app(databases, "money")
    with app.app_context():
        demo.generate(60, money=True)
        eastmoor = db.session.scalar(sa.select(Organisation.id).where(Organisation.name == EASTMOOR))
        db.session.add(User(email=EASTMOOR_OFFICER, display_name="Eastmoor Officer", role=Role.COUNCIL_OFFICER,
                            organisation_id=eastmoor))
        db.session.commit()
    yield app
    _close_app(databases, app, url)


def officer(email: str) -> User:
    return db.session.scalar(sa.select(User).where(User.email == email))


def council_id(name: str) -> int:
    return db.session.scalar(sa.select(Organisation.id).where(Organisation.name == name))


def rows(sql: str, **params) -> list:
    return db.session.execute(sa.text(sql), params).all()


def as_date(value) -> date | None:
    return None if value is None else date.fromisoformat(str(value)[:10])


def year_start(today: date) -> date:
    return date(today.year if (today.month, today.day) >= (4, 1) else today.year - 1, 4, 1)


def sentence(text: str) -> str:
    return text[:1].upper() + text[1:]


def by_label(table: dashboard.Table, column: int) -> dict:
    return {row[0]: row[column] for row in table.rows}


# The figures, counted independently ------------------------------------------------------------------


def expected_uptake(council: int, today: date) -> dict:
    """(age band, client group) -> [on a personal budget, taking a direct payment], person by person."""
    people = rows("""
        SELECT r.person_id, r.date_of_birth, r.support_reason,
               MAX(CASE WHEN b.delivery IN ('direct payment', 'mixed') THEN 1 ELSE 0 END)
        FROM recipients r JOIN budgets b ON b.recipient_id = r.person_id
        WHERE r.council_id = :council AND b.start_date <= :today AND (b.end_date IS NULL OR b.end_date >= :today)
        GROUP BY r.person_id, r.date_of_birth, r.support_reason""", council=council, today=today)
    found = defaultdict(lambda: [0, 0])
    for _, born, reason, dp in people:
        born = as_date(born)
        age = today.year - born.year - ((today.month, today.day) < (born.month, born.day))
        band = "65 and over" if age >= 65 else ("18 to 64" if age >= 18 else "under 18")
        found[(band, reason)][0] += 1
        found[(band, reason)][1] += int(dp)
    return found


def expected_spend(council: int, start: date, end: date) -> dict:
    """(category, client group) -> pence spent (spend less refunds and corrections)."""
    return {(category, reason): -int(total) for category, reason, total in rows("""
        SELECT es.category, r.support_reason, SUM(le.amount_pence)
        FROM ledger_entries le
        JOIN entry_states es ON es.entry_id = le.id
        JOIN dp_accounts a ON a.id = le.account_id
        JOIN recipients r ON r.person_id = a.recipient_id
        WHERE r.council_id = :council AND le.kind IN ('spend', 'refund') AND le.entry_date >= :start AND le.entry_date <= :end
        GROUP BY es.category, r.support_reason""", council=council, start=start, end=end)}


def expected_budget(council: int, start: date, last: date) -> dict:
    """Client group -> pence of direct payment budget in force over [start, last], walked day by day."""
    budgets = rows("""
        SELECT b.id, b.kind, b.start_date, b.end_date, b.first_payment_date, r.support_reason
        FROM budgets b JOIN recipients r ON r.person_id = b.recipient_id
        WHERE r.council_id = :council AND b.delivery IN ('direct payment', 'mixed')""", council=council)
    versions = defaultdict(list)
    for budget_id, effective_from, weekly in rows("SELECT budget_id, effective_from, gross_weekly_pence FROM budget_versions "
                                                  "ORDER BY budget_id, effective_from"):
        versions[budget_id].append((as_date(effective_from), weekly))
    sevenths = defaultdict(int)
    for budget_id, kind, starts, ends, first_paid, reason in budgets:
        starts, ends, first_paid = as_date(starts), as_date(ends), as_date(first_paid)
        if kind == "one-off":
            if start <= first_paid <= last:
                sevenths[reason] += versions[budget_id][0][1] * 7
            continue
        day = start
        while day <= last:
            in_force = [weekly for since, weekly in versions[budget_id] if since <= day]
            if in_force and starts <= day and (ends is None or day <= ends):
                sevenths[reason] += in_force[-1]
            day += timedelta(days=1)
    return {reason: round(total / 7) for reason, total in sevenths.items()}


def expected_reviews(council: int) -> dict:
    """status -> (reviews, people, excess pence, proposed pence)."""
    return {status: (int(n), int(people), int(excess or 0), int(proposed or 0)) for status, n, people, excess, proposed in rows("""
        SELECT v.status, COUNT(*), COUNT(DISTINCT a.recipient_id), SUM(v.excess_pence), SUM(v.proposed_pence)
        FROM excess_balance_reviews v JOIN dp_accounts a ON a.id = v.account_id JOIN recipients r ON r.person_id = a.recipient_id
        WHERE r.council_id = :council GROUP BY v.status""", council=council)}


def expected_excess_now(council: int) -> tuple[int, int]:
    newest: dict[int, tuple] = {}
    for account, cycle, excess in rows("""
            SELECT v.account_id, v.cycle_start, v.excess_pence
            FROM excess_balance_reviews v JOIN dp_accounts a ON a.id = v.account_id JOIN recipients r ON r.person_id = a.recipient_id
            WHERE r.council_id = :council AND v.status IN ('open', 'proposed')""", council=council):
        if account not in newest or as_date(cycle) > newest[account][0]:
            newest[account] = (as_date(cycle), excess)
    return sum(excess for _, excess in newest.values()), len(newest)


def expected_reclaims(council: int, start: date, end: date) -> tuple[int, int]:
    entries, total = rows("""
        SELECT SUM(CASE WHEN le.reverses_id IS NULL THEN 1 ELSE 0 END), COALESCE(SUM(le.amount_pence), 0)
        FROM ledger_entries le JOIN dp_accounts a ON a.id = le.account_id JOIN recipients r ON r.person_id = a.recipient_id
        WHERE r.council_id = :council AND le.kind = 'reclaim' AND le.entry_date >= :start AND le.entry_date <= :end""",
                          council=council, start=start, end=end)[0]
    return int(entries or 0), -int(total)


def expected_accounts(council: int, today: date) -> dict:
    return {method: int(n) for method, n in rows("""
        SELECT a.method, COUNT(DISTINCT a.id)
        FROM dp_accounts a JOIN budgets b ON b.account_id = a.id JOIN recipients r ON r.person_id = b.recipient_id
        WHERE r.council_id = :council AND b.delivery IN ('direct payment', 'mixed')
          AND b.start_date <= :today AND (b.end_date IS NULL OR b.end_date >= :today)
        GROUP BY a.method""", council=council, today=today)}


def expected_payroll(council: int, today: date) -> dict:
    """Provider name -> (payroll-service users, PAs employed now, current employments)."""
    users = dict(rows("""
        SELECT o.name, COUNT(*) FROM caseload_entries ce JOIN recipients r ON r.person_id = ce.recipient_id
        JOIN organisations o ON o.id = ce.provider_id
        WHERE r.council_id = :council AND ce.payroll = :yes GROUP BY o.name""", council=council, yes=True))
    employed = {name: (int(pas), int(jobs)) for name, pas, jobs in rows("""
        SELECT o.name, COUNT(DISTINCT e.pa_id), COUNT(*)
        FROM employments e JOIN caseload_entries ce ON ce.recipient_id = e.employer_id
        JOIN recipients r ON r.person_id = ce.recipient_id JOIN organisations o ON o.id = ce.provider_id
        WHERE r.council_id = :council AND ce.payroll = :yes AND e.start_date <= :today AND (e.end_date IS NULL OR e.end_date >= :today)
        GROUP BY o.name""", council=council, yes=True, today=today)}
    return {name: (int(n), *employed.get(name, (0, 0))) for name, n in users.items()}


def _months_later(day: date, months: int) -> date:
    import calendar

    index = day.month - 1 + months
    year, month = day.year + index // 12, index % 12 + 1
    return date(year, month, min(day.day, calendar.monthrange(year, month)[1]))


def expected_overdue(council: int, today: date) -> dict:
    """Provider name -> [reviews overdue, audits overdue], from the rules in words: a review 6 months after
    the first payment, then 12 months after the last; an audit the council's months after the first payment
    or the end of the last signed-off audit's period. Overdue: due before today. Open cases only."""
    months = rows("""SELECT audit_months FROM council_settings WHERE council_id = :council AND effective_from <= :today
                     ORDER BY effective_from DESC LIMIT 1""", council=council, today=today)
    months = months[0][0] if months else 12
    found = defaultdict(lambda: [0, 0])
    for name, setup_first, ledger_first, last_review, last_audit in rows("""
            SELECT o.name, s.first_payment_on,
                   (SELECT MIN(e.entry_date) FROM ledger_entries e JOIN dp_accounts a ON a.id = e.account_id
                     WHERE a.recipient_id = ce.recipient_id AND e.kind = 'council payment' AND e.amount_pence > 0),
                   (SELECT MAX(cr.reviewed_on) FROM care_reviews cr WHERE cr.recipient_id = ce.recipient_id),
                   (SELECT MAX(au.period_end) FROM audits au WHERE au.recipient_id = ce.recipient_id AND au.status = 'signed off')
            FROM caseload_entries ce JOIN recipients r ON r.person_id = ce.recipient_id
            JOIN organisations o ON o.id = ce.provider_id LEFT JOIN case_setups s ON s.recipient_id = ce.recipient_id
            WHERE r.council_id = :council AND ce.closed_on IS NULL""", council=council):
        first = as_date(setup_first) or as_date(ledger_first)
        if first is None:
            continue
        review = _months_later(as_date(last_review), 12) if last_review else _months_later(first, 6)
        audit = _months_later(as_date(last_audit) or first, months)
        found[name][0] += review < today
        found[name][1] += audit < today
    return found


def expected_open_work(council: int, today: date) -> dict:
    """Provider name -> [people, timesheets waiting, paper to key in, receipts missing, explanations missing,
    reviews open, care reviews overdue, audits overdue]."""
    found = defaultdict(lambda: [0, 0, 0, 0, 0, 0, 0, 0])
    for name, (reviews, audits) in expected_overdue(council, today).items():
        found[name][6], found[name][7] = reviews, audits
    for name, n in rows("""
            SELECT o.name, COUNT(*) FROM caseload_entries ce JOIN recipients r ON r.person_id = ce.recipient_id
            JOIN organisations o ON o.id = ce.provider_id WHERE r.council_id = :council GROUP BY o.name""", council=council):
        found[name][0] = int(n)
    for name, status, n in rows("""
            SELECT o.name, t.status, COUNT(*) FROM timesheets t JOIN caseload_entries ce ON ce.recipient_id = t.employer_id
            JOIN recipients r ON r.person_id = t.employer_id JOIN organisations o ON o.id = ce.provider_id
            WHERE r.council_id = :council AND t.status IN ('waiting for approval', 'paper, waiting to be keyed in')
            GROUP BY o.name, t.status""", council=council):
        found[name][1 if status == "waiting for approval" else 2] = int(n)
    for name, receipts, explanations in rows("""
            SELECT o.name, SUM(CASE WHEN es.needs_evidence = :yes THEN 1 ELSE 0 END),
                   SUM(CASE WHEN es.needs_explanation = :yes THEN 1 ELSE 0 END)
            FROM entry_states es JOIN dp_accounts a ON a.id = es.account_id JOIN caseload_entries ce ON ce.recipient_id = a.recipient_id
            JOIN recipients r ON r.person_id = a.recipient_id JOIN organisations o ON o.id = ce.provider_id
            WHERE r.council_id = :council GROUP BY o.name""", council=council, yes=True):
        found[name][3], found[name][4] = int(receipts or 0), int(explanations or 0)
    for name, n in rows("""
            SELECT o.name, COUNT(*) FROM excess_balance_reviews v JOIN dp_accounts a ON a.id = v.account_id
            JOIN caseload_entries ce ON ce.recipient_id = a.recipient_id JOIN recipients r ON r.person_id = a.recipient_id
            JOIN organisations o ON o.id = ce.provider_id
            WHERE r.council_id = :council AND v.status IN ('open', 'proposed') GROUP BY o.name""", council=council):
        found[name][5] = int(n)
    return found


def check_figures(board: dashboard.Dashboard, council: int) -> None:
    """Every table of the board against the counts above."""
    today, start = board.today, year_start(board.today)
    assert board.year_start == start
    uptake = expected_uptake(council, today)
    groups = board.tables["uptake-client-group"]
    for reason in CLIENT_GROUPS:
        on_budget = sum(v[0] for (_, r), v in uptake.items() if r == reason)
        dp = sum(v[1] for (_, r), v in uptake.items() if r == reason)
        row = next(row for row in groups.rows if row[0] == sentence(reason))
        assert row[1:] == [on_budget, dp, None if not on_budget else round(dp * 100 / on_budget, 1)], reason
    ages = board.tables["uptake-age"]
    for band in ("18 to 64", "65 and over"):
        on_budget = sum(v[0] for (b, _), v in uptake.items() if b == band)
        dp = sum(v[1] for (b, _), v in uptake.items() if b == band)
        assert by_label(ages, 1)[sentence(band)] == on_budget and by_label(ages, 2)[sentence(band)] == dp, band
    assert board.people_funded == sum(v[0] for v in uptake.values()) == ages.total[1] == groups.total[1]
    assert board.people_with_dp == sum(v[1] for v in uptake.values()) == ages.total[2]

    spend = expected_spend(council, start, today)
    by_category = defaultdict(int)
    by_group = defaultdict(int)
    for (category, reason), pence in spend.items():
        by_category[category] += pence
        by_group[reason] += pence
    table = board.tables["spend-category"]
    for category in Category:
        assert by_label(table, 1)[sentence(category.value)] == by_category.get(category.value, 0), category
    assert by_label(table, 1).get("Not categorised", 0) == by_category.get(None, 0)
    assert board.spend_pence == sum(spend.values()) == table.total[1]

    year = expected_budget(council, start, date(start.year + 1, 3, 31))
    to_date = expected_budget(council, start, today)
    outturn = board.tables["spend-client-group"]
    for reason in CLIENT_GROUPS:
        row = next(row for row in outturn.rows if row[0] == sentence(reason))
        assert row[1:5] == [year.get(reason, 0), to_date.get(reason, 0), by_group.get(reason, 0),
                            to_date.get(reason, 0) - by_group.get(reason, 0)], reason
    assert outturn.total[3] == board.spend_pence

    reviews = expected_reviews(council)
    excess = board.tables["excess-balances"]
    words = {row[0]: row for row in excess.rows}
    for status in ReviewStatus:
        count, people, _, proposed = reviews.get(status.value, (0, 0, 0, 0))
        row = words[f"Reviews: {dashboard.REVIEW_WORDS[status].lower()}"]
        assert row[1:3] == [people, count], status
        assert row[3] == (proposed if status == ReviewStatus.PROPOSED else None), status
    assert board.undecided_reviews == sum(reviews.get(s, (0,))[0] for s in ("open", "proposed"))
    assert (board.excess_pence, board.people_with_undecided) == expected_excess_now(council)
    reclaims = words["Reclaims made this financial year (ledger)"]
    assert (reclaims[2], reclaims[3]) == expected_reclaims(council, start, today)

    accounts = expected_accounts(council, today)
    cards = board.tables["accounts-in-use"]
    assert [row[1] for row in cards.rows] == [accounts.get(m, 0) for m in ("prepaid card", "bank account", "managed account")]

    payroll = expected_payroll(council, today)
    table = board.tables["payroll-service"]
    assert {row[0]: tuple(row[1:4]) for row in table.rows if row[1]} == payroll
    assert table.total[1] == sum(v[0] for v in payroll.values())

    work = expected_open_work(council, today)
    table = board.tables["open-work"]
    assert {row[0]: row[1:] for row in table.rows if row[0] != dashboard.NO_PROVIDER} == dict(work)


# The tests --------------------------------------------------------------------------------------------


def test_figures_equal_independent_counts_for_both_councils(scaled_app):
    with scaled_app.app_context():
        north, east = council_id(NORTHFIELD), council_id(EASTMOOR)
        rachel, ellen_officer = dashboard.build(officer(RACHEL)), dashboard.build(officer(EASTMOOR_OFFICER))
        check_figures(rachel, north)
        check_figures(ellen_officer, east)
        # The generated people give every table something to count, in both councils.
        assert rachel.people_with_dp > 25 and ellen_officer.people_with_dp > 25
        assert rachel.spend_pence > 0 and ellen_officer.spend_pence > 0
        assert rachel.tables["payroll-service"].total[2] > 0
        # The two councils together are everyone: nobody counted twice, nobody lost.
        everyone = db.session.scalar(sa.text("SELECT COUNT(DISTINCT recipient_id) FROM budgets WHERE start_date <= :t "
                                             "AND (end_date IS NULL OR end_date >= :t)"), {"t": rachel.today})
        assert rachel.people_funded + ellen_officer.people_funded == everyone
        all_spend = -db.session.scalar(sa.text(
            "SELECT SUM(amount_pence) FROM ledger_entries WHERE kind IN ('spend', 'refund') AND entry_date >= :s AND entry_date <= :t"),
            {"s": rachel.year_start, "t": rachel.today})
        assert rachel.spend_pence + ellen_officer.spend_pence == all_spend


def test_the_demo_figures_rachel_knows(scaled_app):
    """Grace's one open review (the payment run brings it up to date each cycle rather than opening
    another): one open review for her, and the money in excess is its figure."""
    with scaled_app.app_context():
        board = dashboard.build(officer(RACHEL))
        grace = rows("""SELECT v.excess_pence, v.cycle_start FROM excess_balance_reviews v JOIN dp_accounts a ON a.id = v.account_id
                        JOIN people p ON p.id = a.recipient_id WHERE p.given_name = 'Grace' AND p.family_name = 'Okafor'
                        AND v.status = 'open' ORDER BY v.cycle_start""")
        assert len(grace) == 1 and grace[0][0] == 220_000
        others = rows("""SELECT COUNT(*) FROM excess_balance_reviews v JOIN dp_accounts a ON a.id = v.account_id
                         JOIN recipients r ON r.person_id = a.recipient_id JOIN people p ON p.id = r.person_id
                         WHERE r.council_id = :c AND v.status IN ('open', 'proposed') AND p.given_name != 'Grace'""",
                      c=council_id(NORTHFIELD))[0][0]
        assert board.undecided_reviews == 1 + others
        if not others:
            assert board.excess_pence == grace[0][0]
        # Both Northfield providers are there, with their people; Ellen's Harbour case is not counted.
        work = {row[0]: row[1] for row in board.tables["open-work"].rows}
        assert set(work) >= {"Brightpath Support", "Harbour DPSS"}
        harbour = rows("""SELECT COUNT(*) FROM caseload_entries ce JOIN recipients r ON r.person_id = ce.recipient_id
                          JOIN organisations o ON o.id = ce.provider_id WHERE o.name = 'Harbour DPSS' AND r.council_id = :c""",
                       c=council_id(NORTHFIELD))[0][0]
        assert work["Harbour DPSS"] == harbour


def test_older_open_reviews_of_an_account_are_counted_but_its_excess_is_the_newest_reviews(money_app):
    """Runs before one review per account opened one every cycle: an account may still have older open
    reviews. Each is counted as undecided, but the money in excess is the newest one's, not all added together."""
    with money_app.app_context():
        current = db.session.scalar(sa.select(ExcessBalanceReview).where(ExcessBalanceReview.status == ReviewStatus.OPEN))
        before = dashboard.build(officer(RACHEL))
        db.session.add(ExcessBalanceReview(
            account_id=current.account_id, budget_id=current.budget_id, cycle_start=current.cycle_start.replace(year=2025),
            balance_pence=300_000, owed_pence=0, contingency_pence=0, threshold_pence=142_400, excess_pence=157_600,
            reasons="balance over the excess line"))
        db.session.commit()
        after = dashboard.build(officer(RACHEL))
        assert after.undecided_reviews == before.undecided_reviews + 1
        assert after.excess_pence == before.excess_pence == current.excess_pence


def test_ellen_is_never_counted_for_rachel(money_app):
    """Ellen (Eastmoor, on Harbour's caseload): new spending, a reclaim and a review on her account move
    Eastmoor's figures and never Northfield's."""
    with money_app.app_context():
        eastmoor_id = council_id(EASTMOOR)
        db.session.add(User(email=EASTMOOR_OFFICER, display_name="Eastmoor Officer", role=Role.COUNCIL_OFFICER,
                            organisation_id=eastmoor_id))
        db.session.commit()
        before_north, before_east = dashboard.build(officer(RACHEL)), dashboard.build(officer(EASTMOOR_OFFICER))
        # Ellen is in Eastmoor's figures already, and none of Northfield's.
        assert before_east.people_with_dp == 1 and before_east.spend_pence > 0
        ellen_spend = -rows("""SELECT SUM(le.amount_pence) FROM ledger_entries le JOIN dp_accounts a ON a.id = le.account_id
                               JOIN people p ON p.id = a.recipient_id WHERE p.given_name = 'Ellen' AND le.kind IN ('spend', 'refund')
                               AND le.entry_date >= :s AND le.entry_date <= :t""", s=before_east.year_start, t=before_east.today)[0][0]
        assert before_east.spend_pence == ellen_spend
        mental_health = next(row for row in before_north.tables["uptake-client-group"].rows if row[0] == "Mental health")
        assert mental_health[1] == 0  # Ellen is the demo's only person with mental health as the reason

        account = rows("SELECT a.id FROM dp_accounts a JOIN people p ON p.id = a.recipient_id WHERE p.given_name = 'Ellen'")[0][0]
        budget = rows("SELECT id FROM budgets WHERE account_id = :a", a=account)[0][0]
        today = london_today()
        ledger.post(account_id=account, kind=EntryKind.SPEND, amount_pence=-123_45, entry_date=today, source=EntrySource.MANUAL,
                    payee="EASTMOOR RESPITE", category=Category.RESPITE)
        ledger.post(account_id=account, kind=EntryKind.RECLAIM, amount_pence=-500_00, entry_date=today, source=EntrySource.MANUAL,
                    payment_key="test-reclaim-ellen")
        db.session.add(ExcessBalanceReview(account_id=account, budget_id=budget, cycle_start=date(2020, 1, 6), balance_pence=900_00,
                                           owed_pence=0, contingency_pence=0, threshold_pence=100_00, excess_pence=800_00,
                                           reasons="test", status=ReviewStatus.PROPOSED, proposed_pence=800_00))
        db.session.commit()
        after_north, after_east = dashboard.build(officer(RACHEL)), dashboard.build(officer(EASTMOOR_OFFICER))
        for slug, table in before_north.tables.items():
            assert after_north.tables[slug] == table, slug
        assert (after_north.spend_pence, after_north.excess_pence, after_north.undecided_reviews) == (
            before_north.spend_pence, before_north.excess_pence, before_north.undecided_reviews)
        assert after_east.spend_pence == before_east.spend_pence + 123_45
        assert by_label(after_east.tables["spend-category"], 1)["Respite"] == 123_45
        reclaims = next(row for row in after_east.tables["excess-balances"].rows if row[0].startswith("Reclaims made"))
        assert reclaims[2:] == [1, 500_00]
        assert after_east.undecided_reviews == before_east.undecided_reviews + 1
        proposed = next(row for row in after_east.tables["excess-balances"].rows if "proposed" in row[0])
        assert proposed[1:] == [1, 1, 800_00]


def test_a_fixed_number_of_queries_however_many_people(money_app):
    def queries() -> int:
        statements = []

        def count(*_args):
            statements.append(1)

        engine = db.engine
        sa.event.listen(engine, "before_cursor_execute", count)
        try:
            dashboard.build(officer(RACHEL))
        finally:
            sa.event.remove(engine, "before_cursor_execute", count)
        return len(statements)

    with money_app.app_context():
        small = queries()
        demo.generate(30, money=True)
        db.session.expire_all()
        assert queries() == small <= 25


def test_rachel_sees_the_dashboard_with_tables_charts_and_csv_links(scaled_app):
    with scaled_app.app_context():
        board = dashboard.build(officer(RACHEL))
    client = scaled_app.test_client()
    sign_in(client, RACHEL)
    page = get_page(client, "/oversight")
    soup = page.soup
    assert soup.h1.get_text(strip=True) == "Dashboard" and "Northfield City Council" in soup.select_one(".govuk-caption-l").text
    figures = {tag["data-figure"]: tag.get_text(strip=True) for tag in soup.select("[data-figure]")}
    assert figures["people-with-dp"] == f"{board.people_with_dp:,}"
    assert figures["spend"] == f"£{board.spend_pence // 100:,}.{board.spend_pence % 100:02d}"
    assert figures["open-reviews"] == str(board.undecided_reviews)
    # Headline figures come before the first table.
    html = page.text
    assert html.index('data-figure="people-with-dp"') < html.index("data-table=")
    assert soup.select_one('table[data-table="set-up-times"]') is not None
    assert "Not tracked yet" not in html
    # Every table is there with its own CSV link.
    for slug, table in board.tables.items():
        rendered = soup.select_one(f'table[data-table="{slug}"]')
        assert rendered is not None, slug
        assert len(rendered.select("tbody tr")) == len(table.rows) + (1 if table.total else 0)
        assert soup.select_one(f'a[href="/oversight/{slug}.csv"]').get_text(" ", strip=True).startswith("Download CSV")
    # The client group table on the page holds the service's figures, and no Eastmoor place or person.
    groups = soup.select_one('table[data-table="uptake-client-group"]')
    cells = {tr.th.get_text(strip=True): [td.get_text(strip=True) for td in tr.select("td")] for tr in groups.select("tbody tr")}
    for row in board.tables["uptake-client-group"].rows:
        assert cells[row[0]][:2] == [f"{row[1]:,}", f"{row[2]:,}"]
    assert "Ellen" not in html and "Eastmoor" not in html
    # Two accessible SVG charts: role img, a title and a description naming every bar with its value.
    charts = soup.select("figure[data-chart] svg")
    assert len(charts) == 2
    for svg in charts:
        assert svg["role"] == "img"
        ids = svg["aria-labelledby"].split()
        title, desc = soup.find(id=ids[0]), soup.find(id=ids[1])
        assert title.name == "title" and desc.name == "desc"
    spend_chart = soup.select_one('figure[data-chart="spend-category-chart"]')
    desc = spend_chart.find("desc").get_text()
    for row in board.tables["spend-category"].rows:
        assert f"{row[0]}: £{row[1] // 100:,}.{row[1] % 100:02d}" in desc
    bars = spend_chart.select("rect")
    assert len(bars) == sum(1 for row in board.tables["spend-category"].rows if row[1] > 0)
    assert not soup.select("main script")  # no JavaScript needed


def test_each_csv_holds_the_table_for_rachels_council_only(scaled_app):
    with scaled_app.app_context():
        board = dashboard.build(officer(RACHEL))
    client = scaled_app.test_client()
    sign_in(client, RACHEL)
    for slug, table in board.tables.items():
        response = client.get(f"/oversight/{slug}.csv")
        assert response.status_code == 200 and response.mimetype == "text/csv", slug
        assert response.headers["Content-Disposition"].startswith(f'attachment; filename="{slug}-northfield-city-council-')
        lines = list(csv.reader(io.StringIO(response.text)))
        assert lines[0][:2] == ["Council", "As at"]
        assert {line[0] for line in lines[1:]} == {NORTHFIELD}, slug
        assert len(lines) - 1 == len(table.rows) + (1 if table.total else 0), slug
        assert "EM1" not in response.text and "Ellen" not in response.text
    spend = list(csv.reader(io.StringIO(client.get("/oversight/spend-category.csv").text)))
    assert spend[0] == ["Council", "As at", "Category", "Spent (£)", "% of spend"]
    total = next(line for line in spend if line[2] == "Total")
    assert total[3] == f"{board.spend_pence // 100}.{board.spend_pence % 100:02d}"
    with scaled_app.app_context():
        exported = db.session.scalar(sa.text("SELECT COUNT(*) FROM audit_events WHERE action = 'oversight.table_exported'"))
    assert exported == len(board.tables) + 1  # spend-category twice
    assert client.get("/oversight/nonsense.csv").status_code == 404
    assert client.get("/oversight/uptake-age.txt").status_code == 404


@pytest.mark.parametrize("email", ["amina@example.org", "grace@example.org", "david@example.org", "tom@example.org",
                                   "sophie.pa@example.org", "jay.pa@example.org", "ellen@example.org", "kim@brightpath.example",
                                   "lee@brightpath.example", "omar@harbour.example", "admin@example.org"])
def test_only_council_officers_see_the_dashboard(app, email):
    client = app.test_client()
    sign_in(client, email, expect_home=email != "admin@example.org")
    for url in ("/oversight", "/oversight/spend-category.csv", "/oversight/nonsense.csv"):
        response = client.get(url)
        assert response.status_code == 403, (email, url)
        assert "data-figure" not in response.text and "Download CSV" not in response.text


def test_signed_out_people_are_asked_to_sign_in(app):
    client = app.test_client()
    for url in ("/oversight", "/oversight/uptake-age.csv"):
        assert client.get(url).headers["Location"].startswith("/sign-in")


def test_a_dashboard_with_no_money_yet_shows_zeros_not_errors(app):
    """The plain demo (people, no budgets): every table is there with zeros and no percentages."""
    client = app.test_client()
    sign_in(client, RACHEL)
    page = get_page(client, "/oversight")
    assert page.soup.select_one('[data-figure="spend"]').get_text(strip=True) == "£0.00"
    assert page.soup.select_one('table[data-table="uptake-age"] tr[data-total]').get_text(" ", strip=True) == "Total 0 0 –"
    with app.app_context():
        board = dashboard.build(officer(RACHEL))
    assert board.charts[1].bars and all(bar.value == 0 for bar in board.charts[1].bars)
    assert not page.soup.select('figure[data-chart="spend-category-chart"] rect')  # no bars drawn for nothing
